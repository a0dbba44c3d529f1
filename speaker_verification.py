"""Problem 1: a Siamese speaker verifier. Do two utterances come from the same speaker?

Reads the homework's speech pickles (default data/trs.pkl, data/tes.pkl: rows = speakers x 10
utterances, ordered by speaker, one row per utterance of any length) and, top to bottom:

1. Features: the hand-written STFT of common.py (n_fft 1024, hop 512, periodic Hann, centred frames
   with reflect padding: the librosa convention), then log(1 + |X|), a 513 x T log-magnitude
   spectrogram per utterance, normalised per frequency bin with the mean and standard deviation
   of the fitting speakers' frames. Computed once per run.
2. Split: a fraction --validation-fraction of the training speakers (10 of the homework's 50; at
   least 2; drawn with --seed) is held out as validation speakers; the others ("fitting
   speakers") train the network. The test speakers never choose anything.
3. Pairs, as the homework builds them (common.speaker_pairs): per speaker L positive pairs out of
   the C(10, 2) = 45 pairs of its utterances and L negative pairs (its utterances against random
   utterances of random other speakers), one balanced minibatch of 2L pairs per speaker,
   negatives re-drawn every epoch. Validation and test pairs are drawn once, with fixed seeds.
4. Model: one shared encoder f maps a 513 x T spectrogram (any T) to a unit-length embedding:
   statistics pooling (mean and standard deviation over time) of the normalised spectrogram and
   of a small dilated 1-D convolution stack over it, a linear layer, then division by the norm.
   The pair probability is p(same | a, b) = sigmoid(w <f(a), f(b)> + c): the inner product of the
   two unit embeddings (a cosine) with a learned scalar scale w and bias c.
   Within a minibatch the encoder runs once per distinct utterance; the 2L scores index the
   embeddings.
5. Loss: binary cross-entropy, -mean(y log p + (1 - y) log(1 - p)), from the logits.
6. Training: Adam for --epochs epochs, its step size annealed to 0 along a cosine; each minibatch
   sees one random window (50-100%) of the spectrograms. After every epoch the model scores the
   validation pairs (whole utterances);
   the reported model is the epoch with the highest validation pair accuracy at threshold 0.5
   (ties: lower validation loss). Test numbers are those of that model; the per-epoch test
   accuracy is recorded for the curves only.
7. Evaluation: test pair accuracy at the homework's threshold 0.5, ROC AUC and equal error rate
   (EER) on the test pairs, EER over all C(n, 2) pairs of test utterances. Baseline without
   training (common.cosine_baseline_scores): its accuracy uses the threshold that maximises
   accuracy on the validation speakers' pairs; its accuracy at the best test threshold (optimistic:
   that threshold sees the test labels) is reported beside it.

Writes to --out: metrics.json, model.pt (state dict + settings; `--eval-only` re-scores from it
without training), curves.png, score_histogram.png, roc.png, embeddings_pca.png.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from common import (
    DEFAULT_DATA_DIR,
    DEFAULT_TORCH_THREADS,
    EPS,
    UTTERANCES_PER_SPEAKER,
    DataError,
    load_speech,
    new_figure,
    pick_device,
    run_cli,
    save_figure,
    save_torch,
    set_torch_threads,
    sha256_file,
    stft,
    write_json,
)

N_FFT = 1024  # the homework's STFT: 513 frequency bins
HOP = 512
DECISION_THRESHOLD = 0.5  # the homework's: "same speaker" when p >= 0.5
# Random streams: the test pairs are fixed whatever --seed is; the others are mixed with --seed.
TEST_PAIRS_SEED = 3
SPLIT_STREAM = 0  # which training speakers are held out for validation
VALIDATION_PAIRS_STREAM = 1  # the fixed validation pairs
TRAIN_PAIRS_STREAM = 2  # the fixed training pairs on which train_accuracy is measured
MINIBATCH_STREAM = 4  # the training minibatches, re-drawn every epoch
MIN_SPEAKERS = 2  # negative pairs need another speaker, in the fitting and in the validation set
NORM_FLOOR = 1e-12  # keeps x / |x| finite for an all-zero vector
FEATURE_DESCRIPTION = (
    f"log(1 + |STFT|), n_fft {N_FFT}, hop {HOP}, periodic Hann, librosa convention (centred frames, reflect padding); "
    "normalised per frequency bin with the mean and std of the fitting (training minus validation) speakers' frames"
)
EPOCH_CHOICE = "highest validation pair accuracy at p = 0.5 (ties: lower validation loss); test data chooses nothing"
STD_FLOOR = 1e-5  # keeps sqrt(var) differentiable and finite for a constant (silent) input

DEFAULTS = dict(
    epochs=30,
    pairs=45,
    validation_fraction=0.2,  # 10 of the homework's 50 training speakers
    channels=32,
    embedding_dim=64,
    learning_rate=1e-3,
    weight_decay=1e-4,
    initial_scale=10.0,  # GE2E's starting (w, c) = (10, -5) (Wan et al., 2018): p = 1/2 at cosine 1/2
    initial_bias=-5.0,
    shortest_crop=0.5,  # training windows of 50-100% of the training utterances' frames
    threads=DEFAULT_TORCH_THREADS,  # why one thread: see common.py
)
CALIBRATION_LR_FACTOR = 10  # the scalar scale w and bias c learn this much faster than the encoder
QUICK = dict(epochs=2, pairs=10)  # seconds, for CI and the slow CLI test; not the report's numbers


# ---------------------------------------------------------------- speaker pairs and metrics


def speaker_pairs(rng: np.random.Generator, n_speakers: int, utterances_per_speaker: int, pairs_per_speaker: int):
    """The homework's balanced pairs: for each speaker s, L positive and L negative pairs.

    Positives: L of the C(u, 2) pairs of s's utterances, without replacement while L <= C(u, 2)
    (beyond that, whole shuffled rounds of all pairs, then a partial one).
    Negatives: s's utterances in shuffled order (cycled once L > u), each with a random utterance
    of a random other speaker.
    Returns (left, right, same) of shape (n_speakers, 2L): global row indices and 1/0 labels;
    row s is speaker s's minibatch.
    """
    u, L = utterances_per_speaker, pairs_per_speaker
    within = np.array([(i, j) for i in range(u) for j in range(i + 1, u)])  # (C(u,2), 2)
    left = np.empty((n_speakers, 2 * L), dtype=np.int64)
    right = np.empty_like(left)
    for speaker in range(n_speakers):
        first_row = speaker * u
        rounds = [rng.permutation(len(within)) for _ in range(-(-L // len(within)))]
        chosen = within[np.concatenate(rounds)[:L]]
        left[speaker, :L] = first_row + chosen[:, 0]
        right[speaker, :L] = first_row + chosen[:, 1]

        own = np.concatenate([rng.permutation(u) for _ in range(-(-L // u))])[:L]
        others = rng.integers(0, n_speakers - 1, size=L)
        others += others >= speaker  # skip s itself: uniform over the other speakers
        left[speaker, L:] = first_row + own
        right[speaker, L:] = others * u + rng.integers(0, u, size=L)
    same = np.zeros((n_speakers, 2 * L), dtype=np.float32)
    same[:, :L] = 1.0
    return left, right, same


def mean_log_spectra(signals: np.ndarray, n_fft: int = 1024, hop: int = 512) -> np.ndarray:
    """Mean over time of log(1 + |STFT|): one (n_fft//2 + 1,) long-term spectrum per utterance."""
    return log_magnitude(stft(signals, n_fft, hop)).mean(axis=-1)


def cosine_baseline_scores(signals: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """No-training baseline: cosine similarity of mean-centred long-term log spectra.

    Centring removes what all utterances share (the average speech spectrum), so the cosine
    compares how each utterance departs from it.
    """
    spectra = mean_log_spectra(signals)
    centred = spectra - spectra.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), EPS)
    return np.sum(unit[left] * unit[right], axis=-1)


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """False- and true-positive rates for every threshold (score >= threshold means "same").

    Returns (fpr, tpr, thresholds), starting at (0, 0) and ending at (1, 1); tied scores move
    together.
    """
    scores, labels = np.ravel(scores), np.ravel(labels).astype(bool)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    true_positives = np.cumsum(labels)[last_of_tie]
    false_positives = (last_of_tie + 1) - true_positives
    tpr = np.r_[0.0, true_positives / max(labels.sum(), 1)]
    fpr = np.r_[0.0, false_positives / max((~labels).sum(), 1)]
    thresholds = np.r_[np.inf, scores[last_of_tie]]
    return fpr, tpr, thresholds


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids; equals P(score_pos > score_neg) + 1/2 P(tie))."""
    fpr, tpr, _ = roc_curve(scores, labels)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def equal_error_rate(scores: np.ndarray, labels: np.ndarray):
    """EER: the error rate where false acceptance (fpr) equals false rejection (1 - tpr).

    Linear interpolation between the two ROC points that bracket fpr = 1 - tpr.
    Returns (eer, threshold at the bracketing point).
    """
    fpr, tpr, thresholds = roc_curve(scores, labels)
    miss = 1.0 - tpr
    gap = fpr - miss  # rises from -1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0:
        return float(fpr[0]), float(thresholds[0])
    weight = gap[k] / (gap[k] - gap[k - 1]) if gap[k] != gap[k - 1] else 0.0
    eer = fpr[k] - weight * (fpr[k] - fpr[k - 1])
    return float(eer), float(thresholds[k])


def _accuracy_at_each_threshold(scores: np.ndarray, labels: np.ndarray):
    """(accuracy, threshold) for every ROC threshold: correct = tpr * positives + (1 - fpr) * negatives."""
    fpr, tpr, thresholds = roc_curve(scores, labels)
    labels = np.ravel(labels).astype(bool)
    correct = tpr * labels.sum() + (1 - fpr) * (~labels).sum()
    return correct / labels.size, thresholds


def best_threshold_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy at the best threshold (an optimistic figure: the threshold sees the labels)."""
    accuracy, _ = _accuracy_at_each_threshold(scores, labels)
    return float(np.max(accuracy))


def accuracy_maximising_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold t (predict "same" when score >= t) with the highest accuracy on these pairs.

    Among the ROC's thresholds (the distinct scores), midway to the next lower score so that a
    new set of scores is not decided by exact ties.
    """
    accuracy, thresholds = _accuracy_at_each_threshold(scores, labels)
    k = int(np.argmax(accuracy))
    if k == 0:  # nothing accepted: any threshold above the top score
        return float(thresholds[1]) + 1.0
    lower = thresholds[k + 1] if k + 1 < len(thresholds) else thresholds[k] - 1.0
    return float((thresholds[k] + lower) / 2)


def log_magnitude(spectrum: np.ndarray) -> np.ndarray:
    """log(1 + |X|): compresses the dynamic range of speech; finite for silence (log 1 = 0)."""
    return np.log1p(np.abs(spectrum))


# ---------------------------------------------------------------- command line


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)

    def option(name: str, kind, text: str) -> None:
        default = DEFAULTS[name.replace("-", "_")]
        parser.add_argument(f"--{name}", type=kind, default=default, help=f"{text} (default {default})")

    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with trs.pkl and tes.pkl (default data/)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results/speaker_verification"),
        help="output folder (default results/speaker_verification/)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for initialisation, split and pairs (default 0)")
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA when present (default auto)"
    )
    option("epochs", int, "training epochs; the reported model is the best one on validation")
    option("pairs", int, "L: positive (and as many negative) pairs per speaker and minibatch")
    option(
        "validation-fraction",
        float,
        "fraction of the training speakers held out (at least 2) to choose the epoch and the baseline's threshold",
    )
    option("channels", int, "channels of the convolution branch (0: statistics of the spectrogram only)")
    option("embedding-dim", int, "embedding size")
    option("learning-rate", float, "Adam's initial step size, annealed to 0 along a cosine")
    option("weight-decay", float, "L2 weight decay of the encoder")
    option(
        "shortest-crop",
        float,
        "each training minibatch sees one random window of at least this fraction of the frames (1: no crop)",
    )
    option("threads", int, "CPU threads for torch (0: torch's default, all cores)")
    parser.add_argument(
        "--quick", action="store_true", help=f"tiny run for CI and tests: {QUICK} (overrides those options)"
    )
    parser.add_argument(
        "--eval-only", action="store_true", help="no training: load --out/model.pt and re-score the data"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    for name in ("channels", "threads"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or more")
    for name in ("epochs", "pairs", "embedding_dim"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 < args.shortest_crop <= 1:
        parser.error("--shortest-crop must be in (0, 1]")
    if not 0 < args.validation_fraction < 1:
        parser.error("--validation-fraction must be between 0 and 1")
    return args


# ---------------------------------------------------------------- data and features


def load_corpus(data_dir: Path):
    """The two speech matrices, and for metrics.json their shapes and hashes."""
    corpus, description = {}, {}
    for name in ("trs", "tes"):
        path = Path(data_dir) / f"{name}.pkl"
        signals = load_speech(path)
        if signals.shape[1] <= N_FFT // 2:
            raise DataError(
                f"{path}: expected utterances longer than {N_FFT // 2} samples (n_fft/2), found {signals.shape[1]}"
            )
        corpus[name] = signals
        description[path.name] = {"shape": list(signals.shape), "sha256": sha256_file(path)}
    return corpus["trs"], corpus["tes"], description


def spectrograms(signals: np.ndarray) -> np.ndarray:
    """(B, N) signals -> (B, 513, T) log(1 + |STFT|), float32."""
    return log_magnitude(stft(signals, N_FFT, HOP)).astype(np.float32)


def normalisation_statistics(features: np.ndarray):
    """Per-bin mean and standard deviation over all frames of all given utterances: (513,) each."""
    mean = features.mean(axis=(0, 2))
    std = features.std(axis=(0, 2))
    return mean, np.maximum(std, STD_FLOOR)


def speaker_rows(speakers: np.ndarray, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Row indices of the given speakers' utterances, speaker by speaker: (len(speakers) * u,)."""
    return (np.asarray(speakers)[:, None] * utterances_per_speaker + np.arange(utterances_per_speaker)).ravel()


def split_speakers(n_speakers: int, validation_fraction: float, seed: int, source: str = "trs.pkl"):
    """Hold out round(fraction * n) training speakers (at least 2: a negative pair needs two), drawn
    with the seed; returns (fitting speakers, validation speakers), both sorted."""
    n_validation = max(MIN_SPEAKERS, round(validation_fraction * n_speakers))
    if n_speakers - n_validation < MIN_SPEAKERS:
        raise DataError(
            f"{source}: expected at least {n_validation + MIN_SPEAKERS} training speakers ({n_validation} held out "
            f"for validation, {MIN_SPEAKERS} to train), found {n_speakers}"
        )
    permutation = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n_speakers)
    return np.sort(permutation[n_validation:]), np.sort(permutation[:n_validation])


def pairs_within(rows: np.ndarray, rng: np.random.Generator, pairs_per_speaker: int):
    """The homework's pairs among a subset of speakers, as global row indices: (S, 2L) each."""
    n_speakers = len(rows) // UTTERANCES_PER_SPEAKER
    left, right, same = speaker_pairs(rng, n_speakers, UTTERANCES_PER_SPEAKER, pairs_per_speaker)
    return rows[left], rows[right], same


def all_pairs(n_utterances: int):
    """Every unordered pair of utterances (C(n, 2) of them) and whether they share a speaker."""
    left, right = np.triu_indices(n_utterances, k=1)
    same = (left // UTTERANCES_PER_SPEAKER == right // UTTERANCES_PER_SPEAKER).astype(np.float32)
    return left, right, same


# ---------------------------------------------------------------- model


def statistics_pooling(frames: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, 2C): the mean and standard deviation over time, whatever T is."""
    mean = frames.mean(dim=-1)
    std = torch.sqrt(frames.var(dim=-1, unbiased=False) + STD_FLOOR**2)
    return torch.cat([mean, std], dim=-1)


class SiameseVerifier(nn.Module):
    """Shared encoder f: (B, 513, T) -> (B, E) unit vectors; p(same) = sigmoid(w <f(a), f(b)> + c).

    f pools statistics over time from two views of the normalised frames, then projects them:
      [mean_t x_t, std_t x_t]   the long-term spectrum and its variability (what a linear probe
                                 such as LDA uses: pitch harmonics, formants, tilt),
      [mean_t h_t, std_t h_t]   h = a small dilated convolution stack over time (local
                                 spectro-temporal patterns: transitions, pitch movement),
      f = W [...] / ||W [...]||.
    In our trials the first view carried most of the accuracy and kept 40 training speakers from
    being over-fitted (frame-level stacks alone over-fitted); --channels 0 drops the second view.
    """

    KERNEL = 3
    DILATIONS = (1, 2)  # receptive field 1 + 2 * (1 + 2) = 7 frames, about 0.2 s at hop 512

    def __init__(self, n_bins: int, channels: int, embedding_dim: int):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_bins))
        self.register_buffer("feature_std", torch.ones(n_bins))
        layers, width = [], n_bins
        for dilation in self.DILATIONS if channels else ():
            layers += [
                nn.Conv1d(width, channels, self.KERNEL, dilation=dilation, padding=dilation),  # "same" length
                nn.BatchNorm1d(channels),
                nn.ReLU(),
            ]
            width = channels
        self.frames = nn.Sequential(*layers) if layers else None
        # No bias: a shared offset would point every embedding the same way (all cosines near 1).
        self.project = nn.Linear(2 * n_bins + 2 * channels, embedding_dim, bias=False)
        self.scale = nn.Parameter(torch.tensor(DEFAULTS["initial_scale"]))
        self.bias = nn.Parameter(torch.tensor(DEFAULTS["initial_bias"]))

    def set_normalisation(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.feature_mean.copy_(torch.as_tensor(mean))
        self.feature_std.copy_(torch.as_tensor(std))

    def embed(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """(B, 513, T) log-magnitudes -> (B, E) unit embeddings; any T >= 1."""
        normalised = (spectrogram - self.feature_mean[:, None]) / self.feature_std[:, None]
        pooled = statistics_pooling(normalised)  # (B, 2 * 513)
        if self.frames is not None:
            pooled = torch.cat([pooled, statistics_pooling(self.frames(normalised))], dim=-1)  # (B, 2 * 513 + 2C)
        embedding = self.project(pooled)
        return embedding / embedding.norm(dim=-1, keepdim=True).clamp_min(NORM_FLOOR)

    def pair_logits(self, embeddings: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """logit = w <e_left, e_right> + c, by indexing rows of (U, E) embeddings."""
        return self.scale * torch.sum(embeddings[left] * embeddings[right], dim=-1) + self.bias


def minibatch_logits(model: SiameseVerifier, features: torch.Tensor, left: np.ndarray, right: np.ndarray):
    """Logits of the pairs (left[k], right[k]) (rows of `features`), encoding each distinct row once."""
    distinct, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    embeddings = model.embed(features[torch.as_tensor(distinct, device=features.device)])  # (U, E), U <= 4L
    inverse = torch.as_tensor(inverse, device=features.device)
    return model.pair_logits(embeddings, inverse[: len(left)], inverse[len(left) :])


def logistic_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy -mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), stable in z."""
    return F.binary_cross_entropy_with_logits(logits, same)


# ---------------------------------------------------------------- training and scoring


@torch.no_grad()
def embed_all(model: SiameseVerifier, features: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    batches = [features[start : start + batch_size] for start in range(0, len(features), batch_size)]
    return torch.cat([model.embed(batch) for batch in batches])


@torch.no_grad()
def pair_probabilities(model: SiameseVerifier, embeddings: torch.Tensor, left: np.ndarray, right: np.ndarray):
    """p(same) of the pairs (left[k], right[k]), rows of (U, E) embeddings: (K,) NumPy."""
    device = embeddings.device
    logits = model.pair_logits(embeddings, torch.as_tensor(left, device=device), torch.as_tensor(right, device=device))
    return torch.sigmoid(logits).cpu().numpy()


def pair_report(probabilities: np.ndarray, same: np.ndarray) -> dict:
    """Accuracy at the homework's threshold, mean log loss, ROC AUC and EER of one set of pairs."""
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return {
        "accuracy": float(np.mean((probabilities >= DECISION_THRESHOLD) == (same > 0.5))),
        "loss": float(-np.mean(same * np.log(clipped) + (1 - same) * np.log(1 - clipped))),
        "auc": roc_auc(probabilities, same),
        "eer": equal_error_rate(probabilities, same)[0],
    }


def random_crop(features: torch.Tensor, rng: np.random.Generator, shortest_fraction: float) -> torch.Tensor:
    """The same random window of every spectrogram (a view), between shortest_fraction * T and T frames.

    Augmentation: the encoder sees the speaker, not where in the utterance the words fall.
    """
    frames = features.shape[-1]
    length = int(rng.integers(max(1, round(shortest_fraction * frames)), frames + 1))
    start = int(rng.integers(0, frames - length + 1))
    return features[..., start : start + length]


def train_one_epoch(model, optimiser, scheduler, features, fitting_rows, rng, args, progress):
    """One minibatch of 2L pairs per fitting speaker, in random order; returns mean loss and accuracy."""
    model.train()
    left, right, same = pairs_within(fitting_rows, rng, args.pairs)
    losses, accuracies = [], []
    for speaker in rng.permutation(len(left)):
        labels = torch.as_tensor(same[speaker], device=features.device)
        cropped = random_crop(features, rng, args.shortest_crop)
        logits = minibatch_logits(model, cropped, left[speaker], right[speaker])
        loss = logistic_loss(logits, labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        scheduler.step()
        losses.append(loss.item())
        accuracies.append(((logits >= 0).float() == labels).float().mean().item())  # p >= 0.5 <=> z >= 0
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(losses):.3f}", acc=f"{np.mean(accuracies):.3f}")
    return float(np.mean(losses)), float(np.mean(accuracies))


def train(args, model, train_features, fitting_rows, validation_pairs, test_features, test_pairs):
    """Train for args.epochs; keep the state of the epoch with the best validation accuracy."""
    calibration = [model.scale, model.bias]
    encoder = [parameter for parameter in model.parameters() if all(parameter is not c for c in calibration)]
    optimiser = torch.optim.Adam(
        [
            {"params": encoder, "weight_decay": args.weight_decay},
            # Adam moves each parameter by about lr per step: at 1e-3 the bias would need thousands of
            # steps to travel a few units, and the accuracy at p = 0.5 depends on exactly that.
            {"params": calibration, "lr": CALIBRATION_LR_FACTOR * args.learning_rate, "weight_decay": 0.0},
        ],
        lr=args.learning_rate,
    )
    rng = np.random.default_rng([args.seed, MINIBATCH_STREAM])
    curves = "train_loss train_accuracy validation_loss validation_accuracy validation_auc test_accuracy".split()
    history = {name: [] for name in curves}
    best_key, best_state, chosen_epoch = None, None, 0
    n_batches = len(fitting_rows) // UTTERANCES_PER_SPEAKER
    # Cosine annealing of the step size to 0 over the whole run: large steps first, then the
    # epoch-to-epoch jitter of the accuracy at p = 0.5 dies down (Loshchilov & Hutter, 2017).
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=args.epochs * n_batches)
    epochs = tqdm(range(1, args.epochs + 1), desc="epochs", unit="epoch", disable=args.quiet)
    for epoch in epochs:
        with tqdm(total=n_batches, desc=f"epoch {epoch}", unit="batch", leave=False, disable=args.quiet) as progress:
            train_loss, train_accuracy = train_one_epoch(
                model, optimiser, scheduler, train_features, fitting_rows, rng, args, progress
            )
        train_embeddings, test_embeddings = embed_all(model, train_features), embed_all(model, test_features)
        validation_probabilities = pair_probabilities(model, train_embeddings, *validation_pairs[:2])
        validation = pair_report(validation_probabilities, validation_pairs[2])
        test_probabilities = pair_probabilities(model, test_embeddings, *test_pairs[:2])
        test_accuracy = pair_report(test_probabilities, test_pairs[2])["accuracy"]
        for name, value in (
            ("train_loss", train_loss),
            ("train_accuracy", train_accuracy),
            ("validation_loss", validation["loss"]),
            ("validation_accuracy", validation["accuracy"]),
            ("validation_auc", validation["auc"]),
            ("test_accuracy", test_accuracy),  # for the curves only: never used to choose
        ):
            history[name].append(value)
        epochs.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_accuracy:.3f}", val=f"{validation['accuracy']:.3f}")
        key = (validation["accuracy"], -validation["loss"])
        if best_key is None or key > best_key:
            best_key, best_state, chosen_epoch = key, copy.deepcopy(model.state_dict()), epoch
    model.load_state_dict(best_state)
    return history, chosen_epoch


# ---------------------------------------------------------------- baseline


def baseline_report(train_signals, validation_rows, pairs: dict, test_signals) -> dict:
    """The no-training cosine baseline; its threshold comes from the validation speakers."""
    validation_left, validation_right, validation_same = pairs["validation"]
    local_left, local_right = local_pairs(validation_rows, validation_left, validation_right)
    validation_scores = cosine_baseline_scores(train_signals[validation_rows], local_left, local_right)
    threshold = accuracy_maximising_threshold(validation_scores, validation_same)
    test_left, test_right, test_same = pairs["test"]
    all_left, all_right, _ = pairs["test_all"]
    # One call for both pair sets: the test spectra are computed once.
    scores = cosine_baseline_scores(test_signals, np.concatenate([test_left, all_left]),
                                    np.concatenate([test_right, all_right]))
    test_scores, all_scores = scores[: len(test_left)], scores[len(test_left) :]
    return {
        "baseline_test_accuracy": float(np.mean((test_scores >= threshold) == (test_same > 0.5))),
        "baseline_threshold": threshold,
        "baseline_threshold_choice": "the cosine threshold with the best accuracy on the validation speakers' pairs",
        "baseline_test_best_threshold_accuracy": best_threshold_accuracy(test_scores, test_same),
        "baseline_test_auc": roc_auc(test_scores, test_same),
        "baseline_test_eer": equal_error_rate(test_scores, test_same)[0],
        "baseline_all_pairs_eer": equal_error_rate(all_scores, pairs["test_all"][2])[0],
        "baseline_validation_accuracy": best_threshold_accuracy(validation_scores, validation_same),
        "_test_scores": test_scores,
    }


def local_pairs(rows: np.ndarray, left: np.ndarray, right: np.ndarray):
    """Global row indices of pairs -> positions within `rows`."""
    position = np.full(rows.max() + 1, -1)
    position[rows] = np.arange(len(rows))
    return position[left], position[right]


# ---------------------------------------------------------------- figures


def plot_curves(history: dict, chosen_epoch: int, path: Path) -> None:
    figure, (loss_axes, accuracy_axes) = new_figure(1, 2, figsize=(10, 3.8))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    loss_axes.plot(epochs, history["train_loss"], label="train (running)")
    loss_axes.plot(epochs, history["validation_loss"], label="validation")
    loss_axes.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    labels = {"train_accuracy": "train (running)", "validation_accuracy": "validation", "test_accuracy": "test"}
    for name, label in labels.items():
        accuracy_axes.plot(epochs, history[name], label=label)
    accuracy_axes.set(xlabel="epoch", ylabel="pair accuracy at p = 0.5", title="accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.axvline(chosen_epoch, color="grey", linestyle=":", label=f"chosen (epoch {chosen_epoch})")
        axes.legend()
        axes.grid(alpha=0.3)
    save_figure(figure, path)


def plot_score_histogram(probabilities: np.ndarray, same: np.ndarray, path: Path) -> None:
    """Outlined histograms on a log axis: filled bars drawn over each other hide the few errors."""
    figure, axes = new_figure(figsize=(6, 3.8))
    bins = np.linspace(0, 1, 41)
    positives, negatives = probabilities[same > 0.5], probabilities[same < 0.5]
    missed = int(np.sum(positives < DECISION_THRESHOLD))
    accepted = int(np.sum(negatives >= DECISION_THRESHOLD))
    axes.hist(positives, bins=bins, histtype="step", linewidth=1.5,
              label=f"same speaker ({missed} of {len(positives)} below the threshold)")
    axes.hist(negatives, bins=bins, histtype="step", linewidth=1.5,
              label=f"different speakers ({accepted} of {len(negatives)} at or above)")
    axes.axvline(DECISION_THRESHOLD, color="black", linestyle="--", label=f"threshold {DECISION_THRESHOLD}")
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
    axes.set(xlabel="false acceptance rate", ylabel="true acceptance rate", title="ROC, test pairs")
    axes.set(xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="lower right", fontsize=8)
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
    axes.set(xlabel="PC 1", ylabel="PC 2", title=f"test embeddings, {speakers.max() + 1} speakers (colour)")
    save_figure(figure, path)


# ---------------------------------------------------------------- main


def fixed_pairs(args, fitting_rows, validation_rows, n_test_speakers: int) -> dict:
    """The pairs drawn once per run: (left, right, same), flat, as global rows of trs or tes."""

    def flat(triple):
        return tuple(part.ravel() for part in triple)

    train_rng = np.random.default_rng([args.seed, TRAIN_PAIRS_STREAM])
    validation_rng = np.random.default_rng([args.seed, VALIDATION_PAIRS_STREAM])
    test_rng = np.random.default_rng(TEST_PAIRS_SEED)
    return {
        "train": flat(pairs_within(fitting_rows, train_rng, args.pairs)),
        "validation": flat(pairs_within(validation_rows, validation_rng, args.pairs)),
        "test": flat(speaker_pairs(test_rng, n_test_speakers, UTTERANCES_PER_SPEAKER, args.pairs)),
        "test_all": all_pairs(n_test_speakers * UTTERANCES_PER_SPEAKER),
    }


def main(argv=None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    device = pick_device(args.device)
    set_torch_threads(args.threads)
    model_path = args.out / "model.pt"
    if args.eval_only:  # the saved run's seed, L and split rebuild its validation speakers and pairs
        model, training = load_model(model_path, device)
        args.seed, args.pairs = training["seed"], training["pairs_per_speaker"]
        args.validation_fraction = training["validation_fraction"]
    torch.manual_seed(args.seed)

    # Data, split and features.
    train_signals, test_signals, data_description = load_corpus(args.data_dir)
    n_train_speakers = len(train_signals) // UTTERANCES_PER_SPEAKER
    n_test_speakers = len(test_signals) // UTTERANCES_PER_SPEAKER
    fitting_speakers, validation_speakers = split_speakers(
        n_train_speakers, args.validation_fraction, args.seed, source=str(args.data_dir / "trs.pkl")
    )
    fitting_rows, validation_rows = speaker_rows(fitting_speakers), speaker_rows(validation_speakers)
    pairs = fixed_pairs(args, fitting_rows, validation_rows, n_test_speakers)
    train_spectrograms = spectrograms(train_signals)  # (500, 513, 32) for the homework's data
    train_features = torch.as_tensor(train_spectrograms, device=device)
    test_features = torch.as_tensor(spectrograms(test_signals), device=device)  # (200, 513, 45)

    # Model and training.
    if not args.eval_only:
        n_bins = int(train_spectrograms.shape[1])
        settings = {"channels": args.channels, "embedding_dim": args.embedding_dim, "n_bins": n_bins}
        model = SiameseVerifier(settings["n_bins"], args.channels, args.embedding_dim).to(device)
        model.set_normalisation(*normalisation_statistics(train_spectrograms[fitting_rows]))
        train_started = time.perf_counter()
        history, chosen_epoch = train(
            args, model, train_features, fitting_rows, pairs["validation"], test_features, pairs["test"]
        )
        training = {
            "history": history,
            "chosen_epoch": chosen_epoch,
            "epochs": args.epochs,
            "train_seconds": time.perf_counter() - train_started,
            "seed": args.seed,
            "pairs_per_speaker": args.pairs,
            "validation_fraction": args.validation_fraction,
            "validation_speakers": validation_speakers.tolist(),
            "settings": settings,
        }
        save_torch(model_path, {"state_dict": model.state_dict(), "training": training})

    # Evaluation of the chosen model, and the baseline.
    embeddings = {"train": embed_all(model, train_features), "test": embed_all(model, test_features)}
    probabilities = {
        name: pair_probabilities(model, embeddings["test" if name.startswith("test") else "train"], left, right)
        for name, (left, right, _) in pairs.items()
    }
    reports = {name: pair_report(probabilities[name], pairs[name][2]) for name in ("train", "validation", "test")}
    all_pairs_eer = equal_error_rate(probabilities["test_all"], pairs["test_all"][2])[0]
    baseline = baseline_report(train_signals, validation_rows, pairs, test_signals)

    if not args.eval_only:
        plot_curves(training["history"], training["chosen_epoch"], args.out / "curves.png")
    test_same = pairs["test"][2]
    plot_score_histogram(probabilities["test"], test_same, args.out / "score_histogram.png")
    roc_inputs = {"Siamese": (probabilities["test"], test_same), "baseline": (baseline.pop("_test_scores"), test_same)}
    plot_roc(roc_inputs, args.out / "roc.png")
    plot_embeddings(embeddings["test"].cpu().numpy(), args.out / "embeddings_pca.png")

    metrics = {
        "test_accuracy": reports["test"]["accuracy"],
        "test_auc": reports["test"]["auc"],
        "test_eer": reports["test"]["eer"],
        "test_all_pairs_eer": all_pairs_eer,
        "test_loss": reports["test"]["loss"],
        "decision_threshold": DECISION_THRESHOLD,
        **baseline,
        "train_accuracy": reports["train"]["accuracy"],
        "validation_accuracy": reports["validation"]["accuracy"],
        "validation_auc": reports["validation"]["auc"],
        "validation_eer": reports["validation"]["eer"],
        "chosen_epoch": training["chosen_epoch"],
        "epoch_choice": EPOCH_CHOICE,
        "epochs": training["epochs"],
        "train_seconds": training["train_seconds"],
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "seed": training["seed"],
        "pairs_per_speaker": training["pairs_per_speaker"],
        "test_pairs": len(test_same),
        "test_all_pairs": len(pairs["test_all"][2]),
        "training_speakers": len(fitting_speakers),
        "validation_speakers": training["validation_speakers"],
        "test_speakers": n_test_speakers,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "feature": FEATURE_DESCRIPTION,
        "model": describe_model(training["settings"]),
        "data": data_description,
        "eval_only": bool(args.eval_only),
        "history": training["history"],
    }
    metrics["total_seconds"] = time.perf_counter() - started
    write_json(args.out / "metrics.json", metrics)
    print(
        f"test pair accuracy {metrics['test_accuracy']:.1%} at p = 0.5 (AUC {metrics['test_auc']:.3f}, "
        f"EER {metrics['test_eer']:.1%}; baseline {metrics['baseline_test_accuracy']:.1%}), "
        f"epoch {metrics['chosen_epoch']}/{metrics['epochs']} chosen on validation, {metrics['total_seconds']:.0f} s; "
        f"outputs in {args.out}/"
    )


def describe_model(settings: dict) -> str:
    channels = settings["channels"]
    convolutions = (
        f" and of a {len(SiameseVerifier.DILATIONS)}-layer dilated Conv1d stack ({channels} channels, BatchNorm, ReLU)"
        if channels
        else ""
    )
    return (
        f"Siamese: mean/std over time of the normalised log-spectrogram{convolutions}; Linear to "
        f"{settings['embedding_dim']}, unit length; p = sigmoid(w <e_a, e_b> + c), learned scalars w, c"
    )


def load_model(path: Path, device):
    """The saved model and its training summary (weights_only: a tensor/number/list dict, no code)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected a model saved by a training run; run without --eval-only)")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
        settings = checkpoint["training"]["settings"]
        model = SiameseVerifier(settings["n_bins"], settings["channels"], settings["embedding_dim"]).to(device)
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, OSError) as error:
        raise DataError(f"{path}: not a model saved by this script: {str(error).splitlines()[0]}") from None
    return model, checkpoint["training"]


if __name__ == "__main__":
    run_cli(main)
