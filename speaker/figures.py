"""Problem 1's figures: what do the training curves, the test scores (histogram, ROC, DET curves)
and the test embeddings look like?"""

from pathlib import Path

import numpy as np
from scipy.special import expit, ndtri  # ndtri = Phi^-1, scipy.stats.norm.ppf without its import

from common import UTTERANCES_PER_SPEAKER, new_figure, save_figure
from speaker.measures import det_curve, equal_error_rate, roc_auc, roc_curve

HISTOGRAM_BINS = 40  # bars 0.025 wide in p: where the errors sit around p = 0.5 shows
# One DET panel per test pair set: the homework's pairs, and all pairs as the field counts them.
DET_PANELS = {"test": "the homework's test pairs", "test_all": "all test utterance pairs"}
# The rates marked (in %) on the normal-deviate axes, 0.1% to 80%.
DET_TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)


def plot_curves(history: dict, chosen_epoch: int, path: Path) -> None:
    figure, (loss_axes, accuracy_axes) = new_figure(1, 2, figsize=(10, 3.8))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    loss_axes.plot(epochs, history["train_loss"], label="train (running)")
    loss_axes.plot(epochs, history["validation_loss"], label="validation")
    loss_axes.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    labels = {"train_accuracy": "train (running)", "validation_accuracy": "validation",
              "test_accuracy": "test"}
    for name, label in labels.items():
        accuracy_axes.plot(epochs, history[name], label=label)
    accuracy_axes.set(xlabel="epoch", ylabel="pair accuracy at p = 0.5", title="accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.axvline(chosen_epoch, color="grey", linestyle=":",
                     label=f"chosen (epoch {chosen_epoch})")
        axes.legend()
        axes.grid(alpha=0.3)
    save_figure(figure, path)


def plot_score_histogram(probabilities: np.ndarray, same: np.ndarray, threshold: float,
                         path: Path) -> None:
    """Outlined histograms on a log axis: filled bars drawn over each other hide the few errors."""
    figure, axes = new_figure(figsize=(6, 3.8))
    bins = np.linspace(0, 1, HISTOGRAM_BINS + 1)
    positives, negatives = probabilities[same > 0.5], probabilities[same < 0.5]
    missed = int(np.sum(positives < threshold))
    accepted = int(np.sum(negatives >= threshold))
    labels = (f"same speaker ({missed} of {len(positives)} below the threshold)",
              f"different speakers ({accepted} of {len(negatives)} at or above)")
    for scores, label in zip((positives, negatives), labels):
        axes.hist(scores, bins=bins, histtype="step", linewidth=1.5, label=label)
    axes.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold}")
    axes.set_yscale("log")
    axes.set(xlabel="p(same)", ylabel="test pairs (log scale)", title="test pair scores")
    axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_roc(curves: dict, path: Path) -> None:
    """curves: name -> (scores, labels)."""
    figure, axes = new_figure(figsize=(4.6, 4.6))
    for name, (scores, labels) in curves.items():
        fpr, tpr, _ = roc_curve(scores, labels)
        eer = equal_error_rate(scores, labels)[0]
        line = axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(scores, labels):.3f})")[0]
        axes.plot([eer], [1 - eer], "o", color=line.get_color(), label=f"{name} EER {eer:.3f}")
    axes.plot([0, 1], [1, 0], color="grey", linestyle=":", linewidth=0.8)  # where fpr = 1 - tpr
    axes.set(xlabel="false acceptance rate", ylabel="true acceptance rate", title="ROC, test pairs",
             xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="lower right", fontsize=8)
    save_figure(figure, path)


def plot_det(panels: dict, path: Path) -> None:
    """DET curves (Martin et al., 1997): miss against false-alarm rate, each axis at Phi^-1(rate),
    so that Gaussian scores draw straight lines; panels: title -> {name: (scores, labels)}."""
    figure, axes_row = new_figure(1, len(panels), figsize=(4.6 * len(panels), 4.6))
    ticks = ndtri(DET_TICKS)
    labels = [f"{100 * rate:g}" for rate in DET_TICKS]
    limits = (ticks[0], ticks[-1])
    for axes, (title, curves) in zip(np.atleast_1d(axes_row), panels.items()):
        for name, (scores, same) in curves.items():
            # Clipped inside the axes: Phi^-1(0) = -inf.
            rates = np.clip(det_curve(scores, same), DET_TICKS[0] / 2, 1 - DET_TICKS[0] / 2)
            eer = equal_error_rate(scores, same)[0]
            # (false-alarm, miss) rates, on the deviate axes
            line = axes.plot(*ndtri(rates), label=name)[0]
            axes.plot([ndtri(eer)], [ndtri(eer)], "o", color=line.get_color(),
                      label=f"{name} EER {eer:.3f}")
        axes.plot(limits, limits, color="grey", linestyle=":", linewidth=0.8)  # miss = false alarm
        axes.set(xticks=ticks, xticklabels=labels, yticks=ticks, yticklabels=labels, xlim=limits,
                 ylim=limits, xlabel="false-alarm rate (%)", ylabel="miss rate (%)",
                 title=f"DET, {title}")
        axes.legend(loc="lower left", fontsize=8)
        axes.grid(alpha=0.3)
    save_figure(figure, path)


def principal_components(points: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Coordinates of the centred points along their top principal directions (SVD)."""
    centred = points - points.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:n_components].T


def plot_embeddings(embeddings: np.ndarray, path: Path) -> None:
    coordinates = principal_components(embeddings)
    speakers = np.arange(len(embeddings)) // UTTERANCES_PER_SPEAKER
    figure, axes = new_figure(figsize=(5.5, 5))
    axes.scatter(coordinates[:, 0], coordinates[:, 1], c=speakers, cmap="tab20", s=14)
    title = f"test embeddings, {speakers.max() + 1} speakers (colour)"
    axes.set(xlabel="PC 1", ylabel="PC 2", title=title)
    save_figure(figure, path)


def write_figures(folder: Path, history: dict, chosen_epoch: int, pairs: dict, scores: dict,
                  test_embeddings: np.ndarray, threshold: float) -> None:
    """scores: method ("Siamese", "Siamese, AS-norm", "baseline") -> pair set -> the scores of its
    pairs."""
    test_same = pairs["test"].same
    plot_curves(history, chosen_epoch, folder / "curves.png")
    probabilities = expit(scores["Siamese"]["test"])  # p = sigmoid(z)
    plot_score_histogram(probabilities, test_same, threshold, folder / "score_histogram.png")
    roc_curves = {method: (scores[method]["test"], test_same) for method in ("Siamese", "baseline")}
    plot_roc(roc_curves, folder / "roc.png")
    det_panels = {title: {method: (scores[method][name], pairs[name].same) for method in scores}
                  for name, title in DET_PANELS.items()}
    plot_det(det_panels, folder / "det.png")
    plot_embeddings(test_embeddings, folder / "embeddings_pca.png")
