"""Problem 1: a Siamese speaker verifier: do two utterances come from the same speaker?

Trains on the speakers of data/trs.pkl; reports pair accuracy at p = 0.5, ROC AUC and EER on the
speakers of data/tes.pkl beside a baseline without training; writes a run folder (--out).

Data: (speakers x 10 utterances, samples), rows by speaker. Some training speakers
(--validation-fraction) choose the number of epochs and the baseline's threshold while the others
train; the model kept then trains that many epochs on all training speakers. The test speakers
choose nothing.
Features: X = log(1 + |STFT| / r) (common.stft, n_fft 1024, hop 512, centred frames), 513 x T per
utterance, r the RMS magnitude of the training utterances (so no result depends on the recordings'
gain convention), normalised per bin with the mean and std of the training speakers' frames.
Pairs (the homework's): per speaker, L of its C(10, 2) = 45 positive pairs and L negative pairs
against other speakers: one minibatch of 2L pairs per speaker; negatives re-drawn every epoch.
Model: f(X) = W [mean_t X, std_t X] / ||...||, a unit vector (statistics of the frames, one linear
map); p(same | a, b) = sigmoid(w <f(a), f(b)> + c), w and c learned.
Loss: -mean(y log p + (1 - y) log(1 - p)), Adam with a cosine-annealed step; per minibatch one
random window of the spectrograms, each speaker a new voice by a frequency warp (speaker/augment).
Evaluation (speaker/evaluation, speaker/measures): accuracy at p = 0.5, ROC AUC, EER, NIST's minDCF
(P_target 0.01, 0.05) and actDCF, Cllr, DET curves, the cosines after AS-norm; beside them the
cosine of mean-centred long-term log spectra, a baseline without training (speaker/baseline).
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

from common import (DEFAULT_DATA_DIR, DEFAULT_TORCH_THREADS, EPS, SEED_BOUND, THREADS_BOUND,
                    UTTERANCES_PER_SPEAKER, Option, parse_options, pick_device, run_cli, stft,
                    stop_if_diverged, stream_rng, torch_generator, use_threads)
from safety.json_files import write_json
from safety.output_folders import check_output_folder
from safety.run_folders import run_folder
from speaker.augment import random_crop, speaker_warp
from speaker.baseline import baseline_report
from speaker.data import SPLIT_FILES, load_data, speaker_rows, split_speakers
from speaker.evaluation import all_pairs, fixed_pair_logits, model_report, pair_report
from speaker.figures import write_figures
from speaker.run_description import run_description, summary_line

N_FFT = 1024  # the homework's STFT: 513 frequency bins
HOP = 512  # the homework's: half a window, so every sample is in two frames
N_BINS = N_FFT // 2 + 1  # 513: the frequencies 0 .. Nyquist of a real signal
DECISION_THRESHOLD = 0.5  # the homework's: "same speaker" when p >= 0.5
INITIAL_SCALE = 10.0  # GE2E's starting w (Wan et al., 2018): with c, p = 1/2 at cosine 1/2
INITIAL_BIAS = -5.0  # GE2E's starting c
CALIBRATION_LR_FACTOR = 10  # the scalars w and c learn this much faster than the encoder
# Random streams, each drawn as stream_rng(--seed, stream), so that changing how one is used moves
# no other; the test pairs are the same for every --seed.
SPLIT_STREAM = 0  # which training speakers are held out for validation
VALIDATION_PAIRS_STREAM = 1  # the fixed validation pairs
TRAIN_PAIRS_STREAM = 2  # the fixed training pairs on which train_accuracy is measured
TEST_PAIRS_STREAM, TEST_PAIRS_SEED = 3, 0  # the fixed test pairs
MINIBATCH_STREAM = 4  # the training minibatches and crops, re-drawn every epoch
INIT_STREAM = 5  # the initial weights
# What train() records per epoch; the test accuracy is drawn in the curves, it never chooses.
HISTORY = ("train_loss", "train_accuracy", "validation_loss", "validation_accuracy",
           "validation_auc", "test_accuracy")
RECORDED_CONSTANTS = {  # what metrics.json records of the constants above, for the report
    "n_fft": N_FFT, "hop": HOP, "bins": N_BINS, "initial_scale": INITIAL_SCALE,
    "initial_bias": INITIAL_BIAS, "calibration_lr_factor": CALIBRATION_LR_FACTOR,
    "decision_threshold": DECISION_THRESHOLD}

OPTIONS = (  # every option, once: name, type, default, help, bound; `quick`: its --quick value
    Option("data_dir", Path, DEFAULT_DATA_DIR, "folder with trs.pkl and tes.pkl"),
    Option("out", Path, Path("results/speaker_verification"),
           "run folder, replaced whole when the run succeeds"),
    Option("seed", int, 0, "seed of the split, the pairs, the minibatches and the initial weights",
           SEED_BOUND),
    Option("device", str, "auto", "auto, cpu or cuda (auto: CUDA when present)"),
    Option("threads", int, DEFAULT_TORCH_THREADS, "CPU threads for torch (0: all cores)",
           THREADS_BOUND),
    Option("epochs", int, 30, "most training epochs; validation chooses how many the kept model "
           "trains", ">= 1", quick=2),
    Option("lr", float, 1e-3, "Adam's initial step size, annealed to 0 along a cosine",
           "in (0, 1]"),
    # At most 1000: 2000 pairs of spectrograms per minibatch.
    Option("pairs", int, 45, "L: positive (and as many negative) pairs per speaker and minibatch",
           "in [1, 1000]", quick=10),
    Option("validation_fraction", float, 0.2, "share of the training speakers held out",
           "in (0, 1)"),
    Option("embedding_dim", int, 64, "embedding size", "in [1, 4096]"),
    Option("weight_decay", float, 1e-4, "L2 weight decay of the encoder", ">= 0"),
    Option("shortest_crop", float, 0.5, "shortest training window, as a share of the frames",
           "in (0, 1]"),
    # Below 1: the smallest factor 1 - a must stay positive.
    Option("warp", float, 0.12, "training speakers' frequency warp: log-uniform in [1 - a, 1 + a] "
           "(0: none)", "in [0, 1)"),
    Option("quiet", bool, False, "no progress bars"),
)
# The default embedding size, for the readers of a saved model (tests, bench/).
EMBEDDING_DIM = next(option.default for option in OPTIONS if option.name == "embedding_dim")


# ---------------------------------------------------------------- command line
def parse_args(argv=None) -> argparse.Namespace:
    """The options, each checked before any work (the run folder too); DataError otherwise."""
    args = parse_options(OPTIONS, argv, "\n\n".join(__doc__.split("\n\n")[:2]))
    args.out = check_output_folder(args.out, data_dir=args.data_dir)
    args.device = pick_device(args.device)
    return args


# ---------------------------------------------------------------- features
def magnitude_reference(signals: np.ndarray) -> float:
    """r = sqrt(mean |STFT|^2) over every bin and frame of the (training) signals: the features'
    unit of magnitude. Scaling a corpus by a scales r by a, so log(1 + |X| / r) is the same whatever
    gain the recordings were saved at (floats in [-1, 1] or int16's range alike)."""
    return max(float(np.sqrt(np.mean(np.abs(stft(signals, N_FFT, HOP)) ** 2))), EPS)


def spectrograms(signals: np.ndarray, reference: float) -> np.ndarray:
    """(B, N) signals -> (B, 513, T) log(1 + |STFT| / r), float32: nearly linear below the reference
    magnitude r, logarithmic above it (the peaks of speech), 0 (finite) for silence."""
    return np.log1p(np.abs(stft(signals, N_FFT, HOP)) / reference).astype(np.float32)


def normalisation_statistics(features: np.ndarray):
    """Per-bin mean and standard deviation over all frames of all given utterances: (513,) each."""
    return features.mean(axis=(0, 2)), np.maximum(features.std(axis=(0, 2)), EPS)


# ---------------------------------------------------------------- pairs
class Pairs(NamedTuple):
    """Pairs of utterances (rows of a speech matrix); whether they share a speaker (1.0) or not."""
    left: np.ndarray
    right: np.ndarray
    same: np.ndarray


def speaker_pairs(rng: np.random.Generator, n_speakers: int, utterances_per_speaker: int,
                  pairs_per_speaker: int) -> Pairs:
    """The homework's balanced pairs: for each speaker s, L positive and L negative pairs.

    Positives: L of the C(u, 2) pairs of s's utterances, without replacement while L <= C(u, 2)
    (beyond that, whole shuffled rounds of all pairs, then a partial one). Negatives: s's utterances
    in shuffled order (cycled once L > u), each with a random utterance of a random other speaker.
    Returns Pairs of shape (n_speakers, 2L): global row indices and labels; row s is speaker s's
    minibatch."""
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
    n_speakers = len(rows) // UTTERANCES_PER_SPEAKER
    left, right, same = speaker_pairs(rng, n_speakers, UTTERANCES_PER_SPEAKER, pairs_per_speaker)
    return Pairs(rows[left], rows[right], same)


def fixed_pairs(args, fitting_rows, validation_rows, n_test_speakers: int) -> dict:
    """The pairs drawn once per run, flat: rows of trs (train, validation) or tes (test, all)."""
    test_rng = stream_rng(TEST_PAIRS_SEED, TEST_PAIRS_STREAM)
    validation_rng = stream_rng(args.seed, VALIDATION_PAIRS_STREAM)
    pairs = {
        "train": pairs_within(fitting_rows, stream_rng(args.seed, TRAIN_PAIRS_STREAM), args.pairs),
        "validation": pairs_within(validation_rows, validation_rng, args.pairs),
        "test": speaker_pairs(test_rng, n_test_speakers, UTTERANCES_PER_SPEAKER, args.pairs),
        "test_all": all_pairs(n_test_speakers * UTTERANCES_PER_SPEAKER),
    }
    return {name: Pairs(*(part.ravel() for part in pairs)) for name, pairs in pairs.items()}


# ---------------------------------------------------------------- model
def statistics_pooling(frames: torch.Tensor) -> torch.Tensor:
    """(B, C, T) -> (B, 2C): the mean and standard deviation over time, whatever T is."""
    std = torch.sqrt(frames.var(dim=-1, unbiased=False) + EPS)
    return torch.cat([frames.mean(dim=-1), std], dim=-1)


class SiameseVerifier(nn.Module):
    """Shared encoder f: (B, 513, T) -> (B, E) unit vectors; p(same) = sigmoid(w <f(a), f(b)> + c).

    f pools statistics over time of the normalised frames x_t and projects them linearly:
      f = W [mean_t x_t, std_t x_t] / ||W [...]||,
    the long-term spectrum and its variability (formants, pitch harmonics, tilt); a convolution
    stack over the frames beside them added nothing measurable (docs/experiments.md)."""

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

    def pair_logits(self, embeddings: torch.Tensor, left: torch.Tensor, right: torch.Tensor):
        """logit = w <e_left, e_right> + c, by indexing rows of (U, E) embeddings."""
        return self.scale * torch.sum(embeddings[left] * embeddings[right], dim=-1) + self.bias


def new_model(args, training_spectra: np.ndarray) -> SiameseVerifier:
    """Initial weights from the run's seed; frames normalised by the training spectra's moments."""
    # nn.Module draws the initial weights from torch's global generator.
    torch.manual_seed(torch_generator(args.seed, INIT_STREAM).initial_seed())
    model = SiameseVerifier(N_BINS, args.embedding_dim).to(args.device)
    model.set_normalisation(*normalisation_statistics(training_spectra))
    return model


def minibatch_logits(model: SiameseVerifier, features: torch.Tensor, left: np.ndarray,
                     right: np.ndarray, augment=None) -> torch.Tensor:
    """Logits of the pairs (left[k], right[k]) (rows of `features`), encoding each distinct row
    once; augment(rows, spectrograms) -> spectrograms, if given, changes the distinct rows first."""
    distinct, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    spectrograms = features[torch.as_tensor(distinct, device=features.device)]  # (U, 513, T)
    if augment is not None:
        spectrograms = augment(distinct, spectrograms)
    embeddings = model.embed(spectrograms)  # (U, E)
    inverse = torch.as_tensor(inverse, device=features.device)
    return model.pair_logits(embeddings, inverse[: len(left)], inverse[len(left) :])


# ---------------------------------------------------------------- loss
def logistic_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy -mean(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), stable in z."""
    return F.binary_cross_entropy_with_logits(logits, same)


# ---------------------------------------------------------------- training
def new_optimiser(args, model: SiameseVerifier, steps: int):
    """Adam, its step size annealed along a cosine to 0 over `steps` minibatches (Loshchilov &
    Hutter, 2017): large steps first, then the epoch-to-epoch jitter of the accuracy dies down."""
    calibration = [model.scale, model.bias]
    encoder = [weight for weight in model.parameters() if all(weight is not c for c in calibration)]
    # Adam moves each parameter by about lr per step: at 1e-3 the bias would need thousands of
    # steps to travel a few units, and the accuracy at p = 0.5 depends on exactly that.
    groups = [{"params": encoder, "weight_decay": args.weight_decay},
              {"params": calibration, "lr": CALIBRATION_LR_FACTOR * args.lr, "weight_decay": 0.0}]
    optimiser = torch.optim.Adam(groups, lr=args.lr)
    return optimiser, torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)


def train_epoch(model, optimiser, scheduler, features, fitting_rows, rng, args, progress):
    """One minibatch of 2L pairs per fitting speaker, in random order: (mean loss, accuracy)."""
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
        accuracies.append(((logits >= 0).float() == labels).float().mean().item())  # p >= 0.5
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(losses):.3f}", acc=f"{np.mean(accuracies):.3f}")
    return float(np.mean(losses)), float(np.mean(accuracies))


def train(args, model, features: dict, rows, epochs: int, pairs: dict | None = None):
    """Train `epochs` on the speakers of `rows`: (history, chosen epoch). Given pairs, each epoch is
    scored on them and the one with the best validation accuracy is kept; without, the last."""
    n_batches = len(rows) // UTTERANCES_PER_SPEAKER
    optimiser, scheduler = new_optimiser(args, model, epochs * n_batches)
    rng = stream_rng(args.seed, MINIBATCH_STREAM)
    history = {name: [] for name in HISTORY}
    best_key, best_state, chosen_epoch = None, None, epochs
    description = "epochs" if pairs is not None else "epochs, all training speakers"
    epoch_bar = tqdm(range(1, epochs + 1), desc=description, unit="epoch", disable=args.quiet)
    for epoch in epoch_bar:
        with tqdm(total=n_batches, desc=f"epoch {epoch}", unit="batch", leave=False,
                  disable=args.quiet) as progress:
            train_loss, train_accuracy = train_epoch(model, optimiser, scheduler,
                                                     features["train"], rows, rng, args, progress)
        stop_if_diverged(epoch, args.lr, train_loss)
        if pairs is None:
            continue
        _, logits = fixed_pair_logits(model, features, pairs, ("validation", "test"))
        validation, test = (pair_report(logits[name], pairs[name].same) for name in logits)
        values = (train_loss, train_accuracy, validation["loss"], validation["accuracy"],
                  validation["auc"], test["accuracy"])
        for name, value in zip(history, values):
            history[name].append(value)
        epoch_bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_accuracy:.3f}",
                              val=f"{validation['accuracy']:.3f}")
        key = (validation["accuracy"], -validation["loss"])
        if best_key is None or key > best_key:
            best_key, best_state, chosen_epoch = key, copy.deepcopy(model.state_dict()), epoch
    if pairs is not None:
        model.load_state_dict(best_state)
    return history, chosen_epoch


def choose_epochs_then_train(args, spectra: dict, features: dict, fitting_rows, pairs: dict):
    """Validation chooses the number of epochs; the model kept learns that long from every training
    speaker, the validation speakers too: 25% more voices to generalise from (docs/experiments.md).
    Returns (model kept, history, chosen epoch, the chosen model's validation report)."""
    model = new_model(args, spectra["train"][fitting_rows])
    history, chosen_epoch = train(args, model, features, fitting_rows, args.epochs, pairs)
    validation, _, _, _ = model_report(model, features, pairs, ("validation",), fitting_rows)
    model = new_model(args, spectra["train"])
    train(args, model, features, np.arange(len(spectra["train"])), chosen_epoch)
    return model, history, chosen_epoch, validation


# ---------------------------------------------------------------- evaluation
def evaluate(model, spectra: dict, features: dict, pairs: dict, validation_rows):
    """The kept model's and the baseline's measures, their scores per pair set, test embeddings."""
    all_rows = np.arange(len(spectra["train"]))  # AS-norm's cohort: every training utterance
    results, logits, normalised, test_embeddings = model_report(
        model, features, pairs, ("train", "test", "test_all"), all_rows)
    baseline, baseline_scores = baseline_report(spectra, validation_rows, pairs)
    scores = {"Siamese": logits, "Siamese, AS-norm": normalised, "baseline": baseline_scores}
    return results, baseline, scores, test_embeddings


# ---------------------------------------------------------------- figures and metrics.json
def write_run(args, model, reference: float, metrics: dict, figures: tuple, started: float):
    """The run folder, swapped in whole: model.pt, the figures and metrics.json."""
    with run_folder(args.out) as folder:
        settings = {"n_bins": N_BINS, "embedding_dim": args.embedding_dim,
                    "magnitude_reference": reference}
        torch.save({"state_dict": model.state_dict(), "settings": settings}, folder / "model.pt")
        write_figures(folder, *figures, DECISION_THRESHOLD)
        metrics["seconds"] = time.perf_counter() - started
        write_json(folder / "metrics.json", metrics)


# ---------------------------------------------------------------- main
def main(argv=None) -> None:
    started = time.perf_counter()
    args = parse_args(argv)
    use_threads(args.threads)
    signals, data = load_data(args.data_dir, shortest=N_FFT // 2)  # reflect padding needs more
    fitting, validation_speakers = split_speakers(
        len(signals["train"]) // UTTERANCES_PER_SPEAKER, args.validation_fraction,
        stream_rng(args.seed, SPLIT_STREAM), source=str(args.data_dir / SPLIT_FILES["train"]))
    fitting_rows, validation_rows = speaker_rows(fitting), speaker_rows(validation_speakers)
    n_test_speakers = len(signals["test"]) // UTTERANCES_PER_SPEAKER
    pairs = fixed_pairs(args, fitting_rows, validation_rows, n_test_speakers)
    reference = magnitude_reference(signals["train"])
    # (500, 513, 32) and (200, 513, 45) on the default data
    spectra = {split: spectrograms(signals[split], reference) for split in signals}
    features = {split: torch.as_tensor(spectra[split], device=args.device) for split in spectra}
    train_started = time.perf_counter()
    model, history, chosen_epoch, validation = choose_epochs_then_train(args, spectra, features,
                                                                        fitting_rows, pairs)
    train_seconds = time.perf_counter() - train_started
    results, baseline, scores, test_embeddings = evaluate(model, spectra, features, pairs,
                                                          validation_rows)
    description = run_description(args, RECORDED_CONSTANTS, spectra, fitting,
                                  validation_speakers, pairs)
    metrics = {**description, "data": data, "magnitude_reference": reference, **results,
               **validation, **baseline, "chosen_epoch": chosen_epoch,
               "train_seconds": train_seconds, "history": history,
               "parameters": sum(parameter.numel() for parameter in model.parameters())}
    figures = (history, chosen_epoch, pairs, scores, test_embeddings)
    write_run(args, model, reference, metrics, figures, started)
    print(summary_line(metrics, args))


if __name__ == "__main__":
    run_cli(main)
