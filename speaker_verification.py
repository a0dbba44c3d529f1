"""Problem 1: a Siamese speaker verifier: do two utterances come from the same speaker?

Trains on the speakers of data/trs.pkl; reports pair accuracy at p = 0.5, ROC AUC and EER on the
speakers of data/tes.pkl beside a baseline without training; writes a run folder (--out).

Data: (speakers x 10 utterances, samples), rows by speaker. Some training speakers (--validation-fraction)
choose the number of epochs and the baseline's threshold while the others train; the model kept then trains
that many epochs on all training speakers. The test speakers choose nothing.
Features: X = log(1 + |STFT| / r) (common.stft, n_fft 1024, hop 512, centred frames), 513 x T per utterance,
r the RMS magnitude of the training utterances (so no result depends on the recordings' gain convention),
normalised per bin with the mean and standard deviation of the training speakers' frames.
Pairs (the homework's): per speaker, L of its C(10, 2) = 45 positive pairs and L negative pairs against
other speakers: one minibatch of 2L pairs per speaker; negatives re-drawn every epoch.
Model: f(X) = W [mean_t X, std_t X] / ||...||, a unit vector (statistics of the frames, one linear map);
p(same | a, b) = sigmoid(w <f(a), f(b)> + c), w and c learned. Loss: -mean(y log p + (1 - y) log(1 - p)),
Adam with a cosine-annealed step, one random window of the spectrograms per minibatch, each of its speakers
a new voice by a random frequency warp (--warp).
Baseline: cosine of mean-centred long-term log spectra, thresholded where the validation pairs say.
Measures: accuracy at p = 0.5, ROC AUC, EER, NIST's minDCF (P_target 0.01, 0.05) and actDCF at p = 0.5,
Cllr of the logits, DET curves; beside them the cosines after AS-norm against the fitting speakers.
"""

from safety import interrupts  # noqa: F401  first: Ctrl-C during the imports is one line too
import argparse
import copy
import functools
import math
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from common import (DEFAULT_DATA_DIR, DEFAULT_TORCH_THREADS, EPS, SEED_BOUND, THREADS_BOUND, UTTERANCES_PER_SPEAKER,
                    Option, data_entry, load_speech, parse_options, pick_device, run_cli, stft, stop_if_diverged,
                    stream_rng, torch_generator)
from safety.errors import DataError
from safety.json_files import write_json
from safety.output_folders import check_output_folder
from safety.run_folders import run_folder
from speaker.figures import write_figures
from speaker.measures import (DETECTION_COST, P_TARGETS, accuracy_maximising_threshold,
                                  actual_detection_cost, adaptive_s_norm, best_threshold_accuracy, cost_name,
                                  log_likelihood_ratio_cost, ranking_report)

SPLIT_FILES = {"train": "trs.pkl", "test": "tes.pkl"}
N_FFT = 1024  # the homework's STFT: 513 frequency bins
HOP = 512
DECISION_THRESHOLD = 0.5  # the homework's: "same speaker" when p >= 0.5
MIN_SPEAKERS = 2  # negative pairs need another speaker, among the fitting and among the validation speakers
INITIAL_SCALE, INITIAL_BIAS = 10.0, -5.0  # GE2E's starting (w, c) (Wan et al., 2018): p = 1/2 at cosine 1/2
CALIBRATION_LR_FACTOR = 10  # the scalar scale w and bias c learn this much faster than the encoder
COHORT_TOP = 100  # AS-norm: the cohort cosines kept per utterance (of the training speakers' 500 utterances)
EMBED_BATCH = 256  # utterances per forward pass when embedding a whole set
# Random streams, each drawn as stream_rng(--seed, stream); the test pairs are the same for every --seed.
SPLIT_STREAM = 0  # which training speakers are held out for validation
VALIDATION_PAIRS_STREAM = 1  # the fixed validation pairs
TRAIN_PAIRS_STREAM = 2  # the fixed training pairs on which train_accuracy is measured
TEST_PAIRS_STREAM, TEST_PAIRS_SEED = 3, 0  # the fixed test pairs
MINIBATCH_STREAM = 4  # the training minibatches and crops, re-drawn every epoch
INIT_STREAM = 5  # the initial weights
FEATURE_DESCRIPTION = (f"log(1 + |STFT| / r), r the RMS of |STFT| over the training utterances; n_fft {N_FFT}, "
                       f"hop {HOP}, periodic Hann, librosa convention (centred frames, reflect padding); normalised "
                       "per frequency bin with the mean and std of the frames of the speakers the model trains on")
EPOCH_CHOICE = ("highest validation pair accuracy at p = 0.5 (ties: lower validation loss) of a model trained on "
                "the other training speakers; test data chooses nothing")

OPTIONS = (  # every option of the script, once: name, type, default, help, bound; `quick`: its --quick value
    Option("data_dir", Path, DEFAULT_DATA_DIR, "folder with trs.pkl and tes.pkl"),
    Option("out", Path, Path("results/speaker_verification"), "run folder, replaced whole when the run succeeds"),
    Option("seed", int, 0, "seed of the split, the pairs, the minibatches and the initial weights", SEED_BOUND),
    Option("device", str, "auto", "auto, cpu or cuda (auto: CUDA when present)"),
    Option("threads", int, DEFAULT_TORCH_THREADS, "CPU threads for torch (0: all cores)", THREADS_BOUND),
    Option("epochs", int, 30, "most training epochs; validation chooses how many the kept model trains", ">= 1",
           quick=2),
    Option("lr", float, 1e-3, "Adam's initial step size, annealed to 0 along a cosine", "in (0, 1]"),
    # At most 1000: 2000 pairs of spectrograms per minibatch.
    Option("pairs", int, 45, "L: positive (and as many negative) pairs per speaker and minibatch", "in [1, 1000]",
           quick=10),
    Option("validation_fraction", float, 0.2, "share of the training speakers held out", "in (0, 1)"),
    Option("embedding_dim", int, 64, "embedding size", "in [1, 4096]"),
    Option("weight_decay", float, 1e-4, "L2 weight decay of the encoder", ">= 0"),
    Option("shortest_crop", float, 0.5, "shortest training window, as a share of the frames", "in (0, 1]"),
    # Below 1: the smallest factor 1 - a must stay positive.
    Option("warp", float, 0.12, "training speakers' frequency warp: log-uniform in [1 - a, 1 + a] (0: none)",
           "in [0, 1)"),
    Option("quiet", bool, False, "no progress bars"),
)
EMBEDDING_DIM = next(option.default for option in OPTIONS if option.name == "embedding_dim")


# ---------------------------------------------------------------- command line
def parse_args(argv=None) -> argparse.Namespace:
    """The options, each checked before any work (the run folder too); DataError otherwise."""
    args = parse_options(OPTIONS, argv, "\n\n".join(__doc__.split("\n\n")[:2]))
    args.out = check_output_folder(args.out, data_dir=args.data_dir)
    args.device = pick_device(args.device)
    return args


# ---------------------------------------------------------------- data and features
def load_data(data_dir: Path):
    """The speech matrices {"train": (500, N), "test": (200, N')} and their metrics.json entries."""
    signals, entries = {}, {}
    for split, name in SPLIT_FILES.items():
        path = Path(data_dir) / name
        signals[split] = load_speech(path)
        if signals[split].shape[1] <= N_FFT // 2:
            raise DataError(f"{path}: expected utterances longer than {N_FFT // 2} samples (n_fft/2), "
                            f"found {signals[split].shape[1]}")
        entries[split] = data_entry(path, signals[split])
    return signals, entries


def speaker_rows(speakers: np.ndarray, utterances_per_speaker: int = UTTERANCES_PER_SPEAKER) -> np.ndarray:
    """Row indices of the given speakers' utterances, speaker by speaker: (len(speakers) * u,)."""
    return (np.asarray(speakers)[:, None] * utterances_per_speaker + np.arange(utterances_per_speaker)).ravel()


def split_speakers(n_speakers: int, validation_fraction: float, seed: int, source: str = "trs.pkl"):
    """(fitting speakers, validation speakers), both sorted: round(fraction * n) held out, at least 2."""
    n_validation = max(MIN_SPEAKERS, round(validation_fraction * n_speakers))
    if n_speakers - n_validation < MIN_SPEAKERS:
        raise DataError(f"{source}: expected at least {n_validation + MIN_SPEAKERS} training speakers ({n_validation} "
                        f"held out for validation, {MIN_SPEAKERS} to train), found {n_speakers}")
    permutation = stream_rng(seed, SPLIT_STREAM).permutation(n_speakers)
    return np.sort(permutation[n_validation:]), np.sort(permutation[:n_validation])


def magnitude_reference(signals: np.ndarray) -> float:
    """r = sqrt(mean |STFT|^2) over every bin and frame of the (training) signals: the features' unit of magnitude.
    Scaling a corpus by a scales r by a, so log(1 + |X| / r) is the same whatever gain the recordings were saved at
    (floats in [-1, 1] or int16's range alike)."""
    return max(float(np.sqrt(np.mean(np.abs(stft(signals, N_FFT, HOP)) ** 2))), EPS)


def spectrograms(signals: np.ndarray, reference: float) -> np.ndarray:
    """(B, N) signals -> (B, 513, T) log(1 + |STFT| / r), float32: nearly linear below the reference magnitude r,
    logarithmic above it (the peaks of speech), 0 (finite) for silence."""
    return np.log1p(np.abs(stft(signals, N_FFT, HOP)) / reference).astype(np.float32)


def normalisation_statistics(features: np.ndarray):
    """Per-bin mean and standard deviation over all frames of all given utterances: (513,) each."""
    return features.mean(axis=(0, 2)), np.maximum(features.std(axis=(0, 2)), EPS)


# ---------------------------------------------------------------- pairs
class Pairs(NamedTuple):
    """Pairs of utterances (rows of a speech matrix) and whether they share a speaker (1.0) or not (0.0)."""
    left: np.ndarray
    right: np.ndarray
    same: np.ndarray


def speaker_pairs(rng: np.random.Generator, n_speakers: int, utterances_per_speaker: int, pairs_per_speaker: int):
    """The homework's balanced pairs: for each speaker s, L positive and L negative pairs.

    Positives: L of the C(u, 2) pairs of s's utterances, without replacement while L <= C(u, 2) (beyond
    that, whole shuffled rounds of all pairs, then a partial one). Negatives: s's utterances in shuffled
    order (cycled once L > u), each with a random utterance of a random other speaker.
    Returns Pairs of shape (n_speakers, 2L): global row indices and labels; row s is speaker s's minibatch."""
    u, L = utterances_per_speaker, pairs_per_speaker
    within = np.array([(i, j) for i in range(u) for j in range(i + 1, u)])  # (C(u,2), 2)
    left = np.empty((n_speakers, 2 * L), dtype=np.int64)
    right = np.empty_like(left)
    for speaker in range(n_speakers):
        first_row = speaker * u
        rounds = [rng.permutation(len(within)) for _ in range(math.ceil(L / len(within)))]
        chosen = within[np.concatenate(rounds)[:L]]
        left[speaker, :L] = first_row + chosen[:, 0]
        right[speaker, :L] = first_row + chosen[:, 1]
        own = np.concatenate([rng.permutation(u) for _ in range(math.ceil(L / u))])[:L]
        others = rng.integers(0, n_speakers - 1, size=L)
        others += others >= speaker  # skip s itself: uniform over the other speakers
        left[speaker, L:] = first_row + own
        right[speaker, L:] = others * u + rng.integers(0, u, size=L)
    same = np.zeros((n_speakers, 2 * L), dtype=np.float32)
    same[:, :L] = 1.0
    return Pairs(left, right, same)


def pairs_within(rows: np.ndarray, rng: np.random.Generator, pairs_per_speaker: int) -> Pairs:
    """The homework's pairs among a subset of speakers, as global row indices: (S, 2L) each."""
    left, right, same = speaker_pairs(rng, len(rows) // UTTERANCES_PER_SPEAKER, UTTERANCES_PER_SPEAKER,
                                      pairs_per_speaker)
    return Pairs(rows[left], rows[right], same)


def all_pairs(n_utterances: int) -> Pairs:
    """Every unordered pair of utterances (C(n, 2) of them) and whether they share a speaker."""
    left, right = np.triu_indices(n_utterances, k=1)
    return Pairs(left, right, (left // UTTERANCES_PER_SPEAKER == right // UTTERANCES_PER_SPEAKER).astype(np.float32))


# The pair sets drawn once per run: the speech matrix whose rows each indexes, and its prefix in metrics.json.
PAIRS_MATRIX = {"train": "train", "validation": "train", "test": "test", "test_all": "test"}
REPORTED_PAIRS = {"train": "train", "validation": "validation", "test": "test", "test_all": "test_all_pairs"}


def fixed_pairs(args, fitting_rows, validation_rows, n_test_speakers: int) -> dict:
    """The pairs drawn once per run, flat: rows of trs ("train", "validation") or tes ("test", "test_all")."""
    test_rng = stream_rng(TEST_PAIRS_SEED, TEST_PAIRS_STREAM)
    pairs = {
        "train": pairs_within(fitting_rows, stream_rng(args.seed, TRAIN_PAIRS_STREAM), args.pairs),
        "validation": pairs_within(validation_rows, stream_rng(args.seed, VALIDATION_PAIRS_STREAM), args.pairs),
        "test": speaker_pairs(test_rng, n_test_speakers, UTTERANCES_PER_SPEAKER, args.pairs),
        "test_all": all_pairs(n_test_speakers * UTTERANCES_PER_SPEAKER),
    }
    return {name: Pairs(*(part.ravel() for part in pairs)) for name, pairs in pairs.items()}


# ---------------------------------------------------------------- model, loss and the homework's measure
def statistics_pooling(frames: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, 2C): the mean and standard deviation over time, whatever T is."""
    return torch.cat([frames.mean(dim=-1), torch.sqrt(frames.var(dim=-1, unbiased=False) + EPS)], dim=-1)


class SiameseVerifier(nn.Module):
    """Shared encoder f: (B, 513, T) -> (B, E) unit vectors; p(same) = sigmoid(w <f(a), f(b)> + c).

    f pools statistics over time of the normalised frames x_t and projects them linearly:
      f = W [mean_t x_t, std_t x_t] / ||W [...]||,
    the long-term spectrum and its variability (formants, pitch harmonics, tilt); a convolution stack over
    the frames beside them added nothing measurable (docs/experiments.md), so there is none."""

    def __init__(self, n_bins: int, embedding_dim: int):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_bins))
        self.register_buffer("feature_std", torch.ones(n_bins))
        # No bias: a shared offset would point every embedding the same way (all cosines near 1).
        self.project = nn.Linear(2 * n_bins, embedding_dim, bias=False)
        self.scale = nn.Parameter(torch.tensor(INITIAL_SCALE))
        self.bias = nn.Parameter(torch.tensor(INITIAL_BIAS))

    def set_normalisation(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.feature_mean.copy_(torch.as_tensor(mean))
        self.feature_std.copy_(torch.as_tensor(std))

    def embed(self, spectrogram: torch.Tensor) -> torch.Tensor:
        """(B, 513, T) log-magnitudes -> (B, E) unit embeddings; any T >= 1."""
        normalised = (spectrogram - self.feature_mean[:, None]) / self.feature_std[:, None]
        pooled = statistics_pooling(normalised)  # (B, 2 * 513)
        embedding = self.project(pooled)
        return embedding / embedding.norm(dim=-1, keepdim=True).clamp_min(EPS)

    def pair_logits(self, embeddings: torch.Tensor, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """logit = w <e_left, e_right> + c, by indexing rows of (U, E) embeddings."""
        return self.scale * torch.sum(embeddings[left] * embeddings[right], dim=-1) + self.bias


def minibatch_logits(model: SiameseVerifier, features: torch.Tensor, left: np.ndarray, right: np.ndarray,
                     augment=None):
    """Logits of the pairs (left[k], right[k]) (rows of `features`), encoding each distinct row once;
    augment(rows, spectrograms) -> spectrograms, if given, changes the distinct rows first."""
    distinct, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    spectrograms = features[torch.as_tensor(distinct, device=features.device)]  # (U, 513, T), U <= 4L
    if augment is not None:
        spectrograms = augment(distinct, spectrograms)
    embeddings = model.embed(spectrograms)  # (U, E)
    inverse = torch.as_tensor(inverse, device=features.device)
    return model.pair_logits(embeddings, inverse[: len(left)], inverse[len(left) :])


def logistic_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy -mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), stable in z."""
    return F.binary_cross_entropy_with_logits(logits, same)


def pair_report(logits: np.ndarray, same: np.ndarray) -> dict:
    """One set of pairs scored by logit z = w <e_a, e_b> + c (p = sigmoid(z)): accuracy at the homework's
    p >= 0.5 (z >= 0), mean log loss, ROC AUC, EER, minDCF and actDCF at each P_target, and Cllr."""
    logits, labels = np.ravel(logits).astype(np.float64), np.ravel(same) > 0.5
    accepted = logits >= 0  # p >= DECISION_THRESHOLD = 0.5
    return {
        "accuracy": float(np.mean(accepted == labels)),
        "loss": float(np.mean(np.where(labels, np.logaddexp(0.0, -logits), np.logaddexp(0.0, logits)))),
        **ranking_report(logits, labels),
        "cllr": log_likelihood_ratio_cost(logits, labels),
        **{f"act_dcf_{cost_name(p)}": actual_detection_cost(accepted, labels, p) for p in P_TARGETS},
    }


# ---------------------------------------------------------------- training
@torch.no_grad()
def embed_all(model: SiameseVerifier, features: torch.Tensor) -> torch.Tensor:
    model.eval()
    starts = range(0, len(features), EMBED_BATCH)
    return torch.cat([model.embed(features[start : start + EMBED_BATCH]) for start in starts])


@torch.no_grad()
def pair_scores(model: SiameseVerifier, embeddings: torch.Tensor, pairs: Pairs) -> np.ndarray:
    """Logits z = logit p(same) of the pairs, rows of (U, E) embeddings: (K,) float64 (p saturates, z does not)."""
    left, right = (torch.as_tensor(part, device=embeddings.device) for part in pairs[:2])
    return model.pair_logits(embeddings, left, right).cpu().numpy().astype(np.float64)


def fixed_pair_logits(model: SiameseVerifier, features: dict, pairs: dict, names) -> tuple[dict, dict]:
    """The embeddings of both speech matrices, (U, E) each, and the logits of the named pair sets."""
    embeddings = {split: embed_all(model, features[split]) for split in ("train", "test")}
    logits = {name: pair_scores(model, embeddings[PAIRS_MATRIX[name]], pairs[name]) for name in names}
    return embeddings, logits


def frequency_warp(spectrograms: torch.Tensor, factors: np.ndarray) -> torch.Tensor:
    """(B, F, T) -> (B, F, T): bin f of row b takes bin f / factors[b] (linear interpolation, edges held).

    A factor a scales every frequency by a, formants and harmonics alike: the voice of a shorter (a > 1)
    or longer vocal tract, a new speaker (vocal-tract length perturbation; Jaitly & Hinton, 2013)."""
    n_bins = spectrograms.shape[1]
    source = np.clip(np.arange(n_bins)[None, :] / np.asarray(factors)[:, None], 0, n_bins - 1)  # (B, F)
    below = np.floor(source).astype(np.int64)
    above = np.minimum(below + 1, n_bins - 1)
    weight = torch.as_tensor(source - below, dtype=spectrograms.dtype, device=spectrograms.device)[:, :, None]
    rows = np.arange(len(spectrograms))[:, None]  # (B, 1) row index, broadcast with the (B, F) bins: (B, F, T)
    return (1 - weight) * spectrograms[rows, below] + weight * spectrograms[rows, above]


def speaker_warp(rows: np.ndarray, spectrograms: torch.Tensor, rng: np.random.Generator, largest: float):
    """One frequency warp per speaker among the rows, shared by its utterances: positives stay one
    (new) voice, negatives two. Factors log-uniform in [1 - largest, 1 + largest]."""
    speakers, speaker_of_row = np.unique(rows // UTTERANCES_PER_SPEAKER, return_inverse=True)
    factors = np.exp(rng.uniform(np.log(1 - largest), np.log(1 + largest), size=len(speakers)))
    return frequency_warp(spectrograms, factors[speaker_of_row])


def random_crop(features: torch.Tensor, rng: np.random.Generator, shortest_fraction: float) -> torch.Tensor:
    """One random window of shortest_fraction * T to T frames of every spectrogram: the speaker, not the words."""
    frames = features.shape[-1]
    length = int(rng.integers(max(1, round(shortest_fraction * frames)), frames + 1))
    start = int(rng.integers(0, frames - length + 1))
    return features[..., start : start + length]


def train_epoch(model, optimiser, scheduler, features, fitting_rows, rng, args, progress):
    """One minibatch of 2L pairs per fitting speaker, in random order; returns mean loss and accuracy."""
    model.train()
    left, right, same = pairs_within(fitting_rows, rng, args.pairs)
    losses, accuracies = [], []
    for speaker in rng.permutation(len(left)):
        labels = torch.as_tensor(same[speaker], device=features.device)
        augment = functools.partial(speaker_warp, rng=rng, largest=args.warp) if args.warp else None
        crops = random_crop(features, rng, args.shortest_crop)
        logits = minibatch_logits(model, crops, left[speaker], right[speaker], augment)
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


def train(args, model, features: dict, rows, epochs: int, pairs: dict | None = None):
    """Train for `epochs` on the speakers of `rows`; (history, chosen epoch). Given pairs, each epoch is
    scored on them and the one with the best validation accuracy is kept; without, the last one."""
    calibration = [model.scale, model.bias]
    encoder = [parameter for parameter in model.parameters() if all(parameter is not c for c in calibration)]
    # Adam moves each parameter by about lr per step: at 1e-3 the bias would need thousands of steps to
    # travel a few units, and the accuracy at p = 0.5 depends on exactly that.
    optimiser = torch.optim.Adam([{"params": encoder, "weight_decay": args.weight_decay},
                                  {"params": calibration, "lr": CALIBRATION_LR_FACTOR * args.lr, "weight_decay": 0.0}],
                                 lr=args.lr)
    n_batches = len(rows) // UTTERANCES_PER_SPEAKER
    # Cosine annealing of the step size to 0 (Loshchilov & Hutter, 2017): large steps first, then the
    # epoch-to-epoch jitter of the accuracy at p = 0.5 dies down.
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs * n_batches)
    rng = stream_rng(args.seed, MINIBATCH_STREAM)
    history = {name: [] for name in ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
                                     "validation_auc", "test_accuracy")}
    best_key, best_state, chosen_epoch = None, None, 0
    description = "epochs" if pairs is not None else "epochs, all training speakers"
    progress_bar = tqdm(range(1, epochs + 1), desc=description, unit="epoch", disable=args.quiet)
    for epoch in progress_bar:
        with tqdm(total=n_batches, desc=f"epoch {epoch}", unit="batch", leave=False, disable=args.quiet) as progress:
            train_loss, train_accuracy = train_epoch(model, optimiser, scheduler, features["train"], rows, rng,
                                                     args, progress)
        stop_if_diverged(epoch, args.lr, train_loss)
        if pairs is None:
            continue
        _, logits = fixed_pair_logits(model, features, pairs, ("validation", "test"))
        validation, test = (pair_report(logits[name], pairs[name].same) for name in ("validation", "test"))
        values = (train_loss, train_accuracy, validation["loss"], validation["accuracy"], validation["auc"],
                  test["accuracy"])  # the test accuracy is drawn in the curves only: it never chooses
        for name, value in zip(history, values):
            history[name].append(value)
        progress_bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_accuracy:.3f}",
                                 val=f"{validation['accuracy']:.3f}")
        key = (validation["accuracy"], -validation["loss"])
        if best_key is None or key > best_key:
            best_key, best_state, chosen_epoch = key, copy.deepcopy(model.state_dict()), epoch
    if pairs is None:
        return history, epochs
    model.load_state_dict(best_state)
    return history, chosen_epoch


# ---------------------------------------------------------------- evaluation
def cosine_baseline_scores(spectra: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Baseline: the cosine of long-term log spectra minus their mean (what all speech shares), per pair;
    spectra: (B, 513, T) features of the utterances (spectrograms)."""
    spectra = spectra.mean(axis=-1)  # (B, 513): the long-term log spectra
    centred = spectra - spectra.mean(axis=0)
    unit = centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), EPS)
    return np.sum(unit[left] * unit[right], axis=-1)


def baseline_report(spectra: dict, validation_rows: np.ndarray, pairs: dict) -> dict:
    """The no-training cosine baseline; its threshold comes from the validation speakers' pairs."""
    position = np.full(validation_rows.max() + 1, -1)  # global rows of trs -> positions within validation_rows
    position[validation_rows] = np.arange(len(validation_rows))
    validation = pairs["validation"]
    validation_scores = cosine_baseline_scores(spectra["train"][validation_rows], position[validation.left],
                                               position[validation.right])
    threshold = accuracy_maximising_threshold(validation_scores, validation.same)
    test, test_all = pairs["test"], pairs["test_all"]
    scores = cosine_baseline_scores(spectra["test"], np.concatenate([test.left, test_all.left]),
                                    np.concatenate([test.right, test_all.right]))  # one call: the means once
    test_scores, all_scores = scores[: len(test.left)], scores[len(test.left) :]
    return {
        "baseline_test_accuracy": float(np.mean((test_scores >= threshold) == (test.same > 0.5))),
        "baseline_threshold": threshold,
        "baseline_threshold_choice": "the cosine threshold with the best accuracy on the validation speakers' pairs",
        "baseline_test_best_threshold_accuracy": best_threshold_accuracy(test_scores, test.same),
        **ranking_report(test_scores, test.same, "baseline_test_"),
        **ranking_report(all_scores, test_all.same, "baseline_all_pairs_"),
        "baseline_validation_accuracy": best_threshold_accuracy(validation_scores, validation.same),
    }, {"test": test_scores, "test_all": all_scores}


def model_report(model, features: dict, pairs: dict, names, cohort_rows: np.ndarray):
    """The model's measures on the named pair sets, raw and after AS-norm against the cohort (rows of trs);
    the logits and the AS-norm scores per set; the test embeddings (U, E)."""
    embeddings, logits = fixed_pair_logits(model, features, pairs, names)
    metrics = {f"{REPORTED_PAIRS[name]}_{key}": value for name in names
               for key, value in pair_report(logits[name], pairs[name].same).items()}
    vectors = {split: embeddings[split].cpu().numpy() for split in embeddings}
    normalised = {name: adaptive_s_norm(vectors[PAIRS_MATRIX[name]], vectors["train"][cohort_rows], pairs[name],
                                        COHORT_TOP) for name in names if name != "train"}  # it decides nothing
    for name in normalised:
        metrics.update(ranking_report(normalised[name], pairs[name].same, f"snorm_{REPORTED_PAIRS[name]}_"))
    return metrics, logits, normalised, vectors["test"]


# ---------------------------------------------------------------- main
def new_model(args, training_spectra: np.ndarray) -> SiameseVerifier:
    """Initial weights from the run's seed; frames normalised with the statistics of the training spectra."""
    torch.manual_seed(torch_generator(args.seed, INIT_STREAM).initial_seed())  # nn.Module draws the initial weights
    model = SiameseVerifier(N_FFT // 2 + 1, args.embedding_dim).to(args.device)
    model.set_normalisation(*normalisation_statistics(training_spectra))
    return model


def run_description(args, spectra: dict, fitting, validation, pairs: dict) -> dict:
    """What metrics.json says about the run beside its results: settings, sizes and counts the report quotes."""
    options = ("epochs", "lr", "weight_decay", "embedding_dim", "shortest_crop", "warp", "validation_fraction")
    return {
        "script": "speaker_verification.py", "seed": args.seed, "quick": args.quick, "seconds": None,
        "threads": torch.get_num_threads(), "device": args.device.type,
        "model": f"Siamese: mean/std over time of the normalised log-spectrogram; Linear to "
                 f"{args.embedding_dim}, unit length; p = sigmoid(w <e_a, e_b> + c), learned scalars w, c",
        "feature": FEATURE_DESCRIPTION, "n_fft": N_FFT, "hop": HOP, "bins": N_FFT // 2 + 1,
        "frames": {split: spectra[split].shape[-1] for split in spectra},
        "initial_scale": INITIAL_SCALE, "initial_bias": INITIAL_BIAS, "calibration_lr_factor": CALIBRATION_LR_FACTOR,
        "decision_threshold": DECISION_THRESHOLD, "p_targets": list(P_TARGETS), "detection_cost": DETECTION_COST,
        "cohort_top": COHORT_TOP, "cohort_utterances": len(spectra["train"]),
        "epoch_choice": EPOCH_CHOICE, "pairs_per_speaker": args.pairs,
        "utterances_per_speaker": UTTERANCES_PER_SPEAKER, "training_speakers": len(fitting),
        "final_training_speakers": len(spectra["train"]) // UTTERANCES_PER_SPEAKER,
        "validation_speakers": validation.tolist(), "test_speakers": len(spectra["test"]) // UTTERANCES_PER_SPEAKER,
        "test_pairs": len(pairs["test"].same), "test_all_pairs": len(pairs["test_all"].same),
        **{name: vars(args)[name] for name in options},
    }


def main(argv=None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    if args.threads:  # 0: torch's default, all cores
        torch.set_num_threads(args.threads)
    signals, data = load_data(args.data_dir)
    fitting, validation_speakers = split_speakers(len(signals["train"]) // UTTERANCES_PER_SPEAKER,
                                                  args.validation_fraction, args.seed,
                                                  source=str(args.data_dir / SPLIT_FILES["train"]))
    fitting_rows, validation_rows = speaker_rows(fitting), speaker_rows(validation_speakers)
    pairs = fixed_pairs(args, fitting_rows, validation_rows, len(signals["test"]) // UTTERANCES_PER_SPEAKER)
    reference = magnitude_reference(signals["train"])
    spectra = {split: spectrograms(signals[split], reference) for split in signals}  # (500, 513, 32), (200, 513, 45)
    features = {split: torch.as_tensor(spectra[split], device=args.device) for split in spectra}
    model = new_model(args, spectra["train"][fitting_rows])
    train_started = time.perf_counter()
    history, chosen_epoch = train(args, model, features, fitting_rows, args.epochs, pairs)
    validation, _, _, _ = model_report(model, features, pairs, ("validation",), fitting_rows)
    # Validation chose the number of epochs; the model kept learns that long from every training speaker,
    # the validation speakers too: 25% more voices to generalise from (docs/experiments.md).
    all_rows = np.arange(len(signals["train"]))
    model = new_model(args, spectra["train"])
    train(args, model, features, all_rows, chosen_epoch)
    train_seconds = time.perf_counter() - train_started
    results, logits, normalised, test_embeddings = model_report(model, features, pairs, ("train", "test", "test_all"),
                                                                all_rows)
    baseline, baseline_scores = baseline_report(spectra, validation_rows, pairs)
    scores = {"Siamese": logits, "Siamese, AS-norm": normalised, "baseline": baseline_scores}
    metrics = {**run_description(args, spectra, fitting, validation_speakers, pairs), "data": data,
               "magnitude_reference": reference, **results,
               **validation, **baseline,
               "chosen_epoch": chosen_epoch, "train_seconds": train_seconds, "history": history,
               "parameters": sum(parameter.numel() for parameter in model.parameters())}
    with run_folder(args.out) as folder:
        settings = {"n_bins": N_FFT // 2 + 1, "embedding_dim": args.embedding_dim, "magnitude_reference": reference}
        torch.save({"state_dict": model.state_dict(), "settings": settings}, folder / "model.pt")
        write_figures(folder, history, chosen_epoch, pairs, scores, test_embeddings, DECISION_THRESHOLD)
        metrics["seconds"] = time.perf_counter() - started
        write_json(folder / "metrics.json", metrics)
    print(f"test pair accuracy {metrics['test_accuracy']:.1%} at p = 0.5 (AUC {metrics['test_auc']:.3f}, EER "
          f"{metrics['test_eer']:.1%}, minDCF(0.01) {metrics['test_min_dcf_p01']:.3f}; AS-norm EER "
          f"{metrics['snorm_test_eer']:.1%}; baseline {metrics['baseline_test_accuracy']:.1%}), epoch {chosen_epoch}/"
          f"{args.epochs} chosen on validation, {metrics['seconds']:.0f} s; outputs in {args.out}/")


if __name__ == "__main__":
    run_cli(main)
