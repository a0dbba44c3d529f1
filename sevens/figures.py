"""Problem 2's figures: mosaics of decoded sevens, the codes and descriptors of the effect, training
curves."""

from __future__ import annotations

import numpy as np

from common import EPS, IMAGE_SHAPE, new_figure, save_figure

IMAGE_SIDE = IMAGE_SHAPE[0]


def image_grid(images: np.ndarray) -> np.ndarray:
    """(R, C, 28, 28) -> one (R * 29 - 1, C * 29 - 1) mosaic with one-pixel white separators."""
    n_rows, n_columns = images.shape[:2]
    padded = np.pad(images, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=1.0)  # (R, C, 29, 29)
    return padded.transpose(0, 2, 1, 3).reshape(n_rows * (IMAGE_SIDE + 1), -1)[:-1, :-1]


def plot_mosaic(images, path, title, row_labels=(), column_labels=()):
    n_rows, n_columns = images.shape[:2]
    figure, axis = new_figure(figsize=(0.45 * n_columns + 1.2, 0.45 * n_rows + 0.8))
    axis.imshow(1.0 - image_grid(images), cmap="gray", vmin=0, vmax=1)
    cell = IMAGE_SIDE + 1
    column_ticks = [c * cell + IMAGE_SIDE / 2 for c in range(len(column_labels))]
    row_ticks = [r * cell + IMAGE_SIDE / 2 for r in range(len(row_labels))]
    axis.set_xticks(column_ticks, column_labels, fontsize=6)
    axis.set_yticks(row_ticks, row_labels, fontsize=7)
    axis.set_title(title, fontsize=9)
    save_figure(figure, path)


def plot_code_histograms(panels, axes_codes: dict, metrics: dict) -> None:
    """One panel per axis: the poor and the clean codes along it, with its spread ratio."""
    for k, panel in enumerate(panels):
        for name, colour in (("poor", "C3"), ("clean", "C0")):
            panel.hist(axes_codes[name][:, k], bins=50, density=True, alpha=0.5, color=colour,
                       label=name)
        marked = " <- effect" if k == metrics["effect_dimension"] else ""
        panel.set_title(f"z{k}: spread ratio {metrics['axis_scores'][k]:.2f}{marked}", fontsize=9)
    panels[0].legend(fontsize=7)


def plot_explained(bars, metrics: dict) -> None:
    """What each family explains along the effect axis, beside what it explains of its null."""
    explained = metrics["explained_fraction"]
    if not explained:
        bars.set_axis_off()
        return
    families = list(explained)
    positions = np.arange(len(families))
    bars.barh(positions + 0.2, [explained[f] for f in families], height=0.4, color="C2",
              label="effect axis")
    bars.barh(positions - 0.2, [metrics["explained_null"][f] for f in families], height=0.4,
              color="0.6", label="null: unrelated pairs")
    bars.set_yticks(positions, families, fontsize=7)
    bars.set_xlim(0.0, 1.0)
    bars.legend(fontsize=6)
    bars.set_title(f"explained: {metrics['effect_family']} ({metrics['effect_kind']})",
                   fontsize=9)


def plot_effect(axes_codes: dict, metrics: dict, mean_difference, path):
    """The poor and clean codes along every axis; what each family explains along the effect axis
    beside its null; the mean difference image poor - clean (red: ink added, blue: erased)."""
    latent_dims = axes_codes["poor"].shape[1]
    figure, panels = new_figure(1, latent_dims + 2, figsize=(3.0 * (latent_dims + 2), 2.8))
    plot_code_histograms(panels[:latent_dims], axes_codes, metrics)
    plot_explained(panels[latent_dims], metrics)
    pictures = panels[latent_dims + 1]
    limit = max(float(np.abs(mean_difference).max()), EPS)
    pictures.imshow(mean_difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
    pictures.set_title(f"mean poor - clean (peak {limit:.2f})", fontsize=9)
    pictures.set_xticks([])
    pictures.set_yticks([])
    save_figure(figure, path)


def plot_replay(replay: dict, metrics: dict, path):
    """Poor sevens at evenly spaced strengths above clean sevens replayed at the same strengths, and
    the mean differences poor - clean and replayed - clean on one colour scale."""
    figure, panels = new_figure(1, 3, figsize=(11.0, 2.8), width_ratios=(3.2, 1, 1))
    pair = np.stack([replay["poor"], replay["replayed"]])
    panels[0].imshow(1.0 - image_grid(pair), cmap="gray", vmin=0, vmax=1)
    cell = IMAGE_SIDE + 1
    panels[0].set_yticks([IMAGE_SIDE / 2, cell + IMAGE_SIDE / 2], ["poor", "replayed"], fontsize=7)
    panels[0].set_xticks([c * cell + IMAGE_SIDE / 2 for c in range(pair.shape[1])],
                         [f"{v:.2g}" for v in replay["strengths"]], fontsize=6)
    panels[0].set_title(f"{metrics['effect_family']} ({metrics['effect_kind']}): "
                        f"{metrics['effect_confidence']}, completeness "
                        f"{metrics['completeness']:.2f}", fontsize=9)
    limit = max(float(np.abs(replay["poor_difference"]).max()), EPS)
    for panel, key, title in ((panels[1], "poor_difference", "mean poor - clean"),
                              (panels[2], "replayed_difference", "mean replayed - clean")):
        panel.imshow(replay[key], cmap="RdBu_r", vmin=-limit, vmax=limit)
        panel.set_title(title, fontsize=9)
        panel.set_xticks([])
        panel.set_yticks([])
    save_figure(figure, path)


def plot_curves(history, path):
    figure, panels = new_figure(1, 3, figsize=(12, 3.2))
    epochs = [entry["epoch"] for entry in history]
    for panel, term in zip(panels, ("neg_elbo", "reconstruction", "kl")):
        for split in ("train", "validation", "test"):
            panel.plot(epochs, [entry[split][term] for entry in history], label=split, marker=".")
        panel.set_title(f"{term} (nats per image)")
        panel.set_xlabel("epoch")
    panels[0].legend()
    save_figure(figure, path)


def write_figures(folder, traversals, grid, reconstructions, codes, metrics, mean_difference):
    """traversal.png, effect.png, reconstructions.png and curves.png of one run (its metrics.json's
    entries: the effect, the model and the history); traversals (K, rows, 21, 28, 28) over the
    values `grid`, reconstructions (2, n, 28, 28): test sevens and their reconstructions."""
    latent_dims, rows = traversals.shape[:2]
    label = f"{'plain VAE' if metrics['plain'] else 'beta-TC-VAE'}, K={metrics['k']}"
    names = [f"z{k}{' (effect)' if k == metrics['effect_dimension'] else ''}"
             for k in range(latent_dims)]
    row_labels = [f"{name} #{r}" for name in names for r in range(rows)]
    plot_mosaic(traversals.reshape(-1, *traversals.shape[2:]), folder / "traversal.png",
                f"latent traversals, the other latents drawn from N(0, 1) ({label})",
                row_labels, [f"{v:g}" for v in grid])
    plot_effect(codes, metrics, mean_difference, folder / "effect.png")
    plot_mosaic(reconstructions, folder / "reconstructions.png",
                f"test sevens and reconstructions from mu ({label})",
                ["original", "reconstruction"])
    plot_curves(metrics["history"], folder / "curves.png")
    if codes.get("replay") is not None:  # the named change replayed (none: nothing to replay)
        plot_replay(codes["replay"], metrics, folder / "replay.png")
