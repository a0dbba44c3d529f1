"""Can the answer be done again? Each candidate change replayed on clean sevens, judged by a fresh
critic.

1. Strengths (read_strengths). A reader r(x) says where a seven lies: the effect axis' code z0 when
   an axis spreads, the first critic's logit (how changed a seven looks), and the path's own reader
   (path_reader: a ridge regression of v on the pixels and the histograms of greys and of edges,
   fitted on other clean sevens changed at random strengths). On clean sevens
   changed at every strength v of the path's grid it gives the curve R(v) = median r(C(clean, v));
   each poor seven's strength is the v whose R(v) is nearest its own reading (the smallest |v| of
   ties). The strengths are spread as the poor sevens' are, with their sign where the axis has one.
2. Replay (replay). Each held-out clean seven gets the strength of a poor seven drawn at random.
3. Prescreen (moment_distance). Cheap moments (the mean image, the mean grey histogram) of the
   replayed sevens against the poor ones', over the clean sevens' distance: the most promising
   candidates go to the judge.
4. Judge (judge). A fresh two-sample critic (critic.two_sample_test) tells the replayed sevens from
   the poor ones on held-out halves, beside the same critic on the clean sevens unchanged, with the
   same draws:

       completeness = 1 - separation(poor, replayed) / separation(poor, clean),

   separation = 2 AUC - 1 of the held-out scores. complete: the critic is near chance (z <
   DIFFER_Z, as for "the images differ", or completeness >= COMPLETE_SHARE); partial: >=
   PARTIAL_SHARE; else unknown. The simplest complete candidate is named (fewest parameters),
   else the most complete.
"""

from __future__ import annotations

import numpy as np
import scipy.special
import torch

from common import EPS
from sevens.critic import DIFFER_Z, GREY_BINS, grey_histogram, two_sample_test

# Set in advance; checked on bench/effect_benchmark.py.
COMPLETE_SHARE = 0.85  # the replay removes this share of the separation: a critic is near chance
PARTIAL_SHARE = 0.5  # it removes at least half of it: a partial answer, named with its share
JUDGE_SEVENS = 4096  # at most this many poor and replayed clean sevens for the judge (half to fit)
CALIBRATION_SEVENS = 128  # clean sevens changed at every strength of a grid to read R(v)
REGRESSION_SEVENS = 1024  # other clean sevens changed at random strengths to fit a path's reader
RIDGE = 10.0  # the ridge penalty of a path's reader, on standardised features of 1,024 sevens
JUDGED = 4  # candidates judged, the nearest by moments (and the descriptors' own answer)
HISTOGRAM_WEIGHT = 10.0  # a grey histogram bin weighs as much as 10 pixels of the mean image
LEVELS = 255  # the judge sees 8-bit greys
READING_BINS = 256  # the poor sevens' readings binned for EM: a 1/256 of their range apart
EM_STEPS = 200  # EM's steps for the spread of strengths: its weights settle within 1e-3
BANDWIDTH_FLOOR = 0.02  # a kernel at least this share of the readings' spread wide
EXAMPLES = 8  # poor sevens in replay.png, at evenly spaced quantiles of their strengths


# ---------------------------------------------------------------- strengths and replay


def read_strengths(path, read, clean: np.ndarray, poor_readings: np.ndarray) -> dict:
    """How the poor sevens' strengths are spread, from their readings (N,) and the readings of clean
    sevens (m, 28, 28) changed at every value v_g of the path's grid.

    The readings of C(clean, v_g) have a density p_g (a Gaussian kernel density over the m clean
    sevens); the poor readings are a mixture sum_g w_g p_g(r), and EM finds the weights w (the
    nonparametric maximum likelihood of the mixing distribution, Laird 1978):

        w_g <- mean_i w_g p_g(r_i) / sum_h w_h p_h(r_i).

    A reading that varies between clean sevens thus spreads no strength of its own. Returns the
    weights (G,) and each poor seven's most likely strength (N,)."""
    grid = path.grid
    changed = path(np.repeat(clean[None], len(grid), 0).reshape(-1, *clean.shape[1:]),
                   np.repeat(grid, len(clean)))
    readings = read(changed).reshape(len(grid), len(clean))  # (G, m)
    # The poor readings in READING_BINS bins of their range: EM on the bins' counts.
    edges = np.linspace(poor_readings.min(), poor_readings.max() + EPS, READING_BINS + 1)
    counts, _ = np.histogram(poor_readings, edges)
    centres = (edges[:-1] + edges[1:]) / 2
    log_likelihood = log_kernel_densities(readings, centres)  # (bins, G)
    weights = np.full(len(grid), 1.0 / len(grid))
    for _ in range(EM_STEPS):
        log_joint = log_likelihood + np.log(np.maximum(weights, 1e-300))
        posterior = np.exp(log_joint - scipy.special.logsumexp(log_joint, axis=1, keepdims=True))
        weights = counts @ posterior / counts.sum()
    weights = weights / weights.sum()
    # Of equally likely strengths, the smallest |v|: argmax takes the first, so order by |v|.
    by_size = np.argsort(np.abs(grid), kind="stable")
    bin_modes = grid[by_size[log_joint[:, by_size].argmax(1)]]
    modes = bin_modes[np.clip(np.searchsorted(edges, poor_readings, "right") - 1, 0,
                              READING_BINS - 1)]
    return {"grid": grid, "weights": weights, "modes": modes}


def path_reader(path, sevens: np.ndarray, rng: np.random.Generator):
    """The path's own reader: r(x) = (phi(x) - mean) / std . beta, beta the ridge regression (RIDGE)
    of v on the standardised features phi (strength_features) of sevens (n, 28, 28) changed at
    strengths drawn evenly over the path's grid."""
    grid = path.grid
    drawn = (rng.uniform(grid.min(), grid.max(), len(sevens)) if path.continuous
             else rng.choice(grid, len(sevens)))
    features = strength_features(path(sevens, drawn))
    mean, std = features.mean(0), np.maximum(features.std(0), EPS)
    standard = (features - mean) / std
    beta = np.linalg.solve(standard.T @ standard + RIDGE * np.eye(standard.shape[1]),
                           standard.T @ (drawn - drawn.mean()))
    return lambda images: ((strength_features(images) - mean) / std) @ beta


def strength_features(images: np.ndarray) -> np.ndarray:
    """(n, 784 + 3 GREY_BINS): the pixels, the histogram of greys and those of the horizontal and
    the vertical steps between neighbours (how sharp the edges are)."""
    x = torch.as_tensor(images, dtype=torch.float32)
    steps = [(x[:, :, 1:] - x[:, :, :-1]).abs(), (x[:, 1:] - x[:, :-1]).abs()]
    return torch.cat([x.flatten(1), grey_histogram(x)]
                     + [grey_histogram(step) for step in steps], 1).double().numpy()


def log_kernel_densities(readings: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, G): the log density of each row of readings (G, m), a Gaussian kernel of Silverman's
    width (at least BANDWIDTH_FLOOR of all readings' spread), at each point (N,); in logs, so
    that a point far from every row still has a nearest one."""
    spread = readings.std(1)
    floor = BANDWIDTH_FLOOR * max(float(readings.std()), EPS)
    widths = np.maximum(1.06 * spread * readings.shape[1] ** -0.2, floor)  # (G,)
    densities = np.empty((len(points), len(readings)))
    for g, (row, width) in enumerate(zip(readings, widths)):
        z = (points[:, None] - row[None, :]) / width
        densities[:, g] = (scipy.special.logsumexp(-0.5 * z**2, axis=1) - np.log(len(row))
                           - np.log(width * np.sqrt(2 * np.pi)))
    return densities


def replay(path, strengths: dict, clean: np.ndarray, rng: np.random.Generator):
    """Clean sevens (n, 28, 28), each changed by a strength drawn as the poor sevens' are spread;
    and the strengths drawn (n,)."""
    drawn = draw_strengths(strengths, len(clean), rng, path.continuous)
    return path(clean, drawn), drawn


def draw_strengths(strengths: dict, n: int, rng: np.random.Generator,
                   continuous: bool) -> np.ndarray:
    """n strengths drawn from the spread's weights over its grid (uniform within the grid value's
    cell for a continuous path: a turn of any angle, not only steps)."""
    grid = strengths["grid"]
    cells = rng.choice(len(grid), size=n, p=strengths["weights"])
    if not continuous:
        return grid[cells]
    middles = (grid[1:] + grid[:-1]) / 2
    lower, upper = np.append(grid[0], middles), np.append(middles, grid[-1])
    return rng.uniform(lower[cells], upper[cells])


def percentiles(strengths: dict, shares) -> np.ndarray:
    """The strengths at the given percentiles of their spread."""
    cumulative = np.cumsum(strengths["weights"])
    return np.array([strengths["grid"][min(np.searchsorted(cumulative, share / 100.0),
                                           len(cumulative) - 1)] for share in shares])


def moments(images: np.ndarray) -> np.ndarray:
    """The mean image (784) and the mean grey histogram (GREY_BINS), weighted: what a replay must
    match first."""
    histogram = grey_histogram(torch.as_tensor(images)).mean(0).numpy()
    return np.concatenate([images.mean(0).ravel(), HISTOGRAM_WEIGHT * histogram / GREY_BINS])


def moment_distance(replayed: np.ndarray, poor: np.ndarray, clean: np.ndarray) -> float:
    """||m(replayed) - m(poor)||^2 / ||m(clean) - m(poor)||^2: 0 a perfect match, 1 no better
    than leaving the clean sevens as they are."""
    target = moments(poor)
    return float(np.sum((moments(replayed) - target) ** 2)
                 / max(np.sum((moments(clean) - target) ** 2), EPS))


# ---------------------------------------------------------------- the judge


def visible(images: np.ndarray) -> np.ndarray:
    """Greys rounded to 8 bits: the judge does not see what no screen shows (a filter's tails of
    1e-8 grey, which its histogram of (0, 1] would count as ink)."""
    return (np.round(images * LEVELS) / LEVELS).astype(np.float32)


def judge(poor: np.ndarray, replayed: np.ndarray, baseline: dict, seed: int) -> dict:
    """The fresh critic on poor vs replayed sevens, drawn as the baseline (poor vs the same clean
    sevens unchanged, `baseline_test`) was: accuracy, z, separation and completeness."""
    test = two_sample_test(visible(poor), visible(replayed), np.random.default_rng(seed))
    completeness = 1.0 - test["critic_separation"] / max(baseline["critic_separation"], EPS)
    return {"replay_critic_accuracy": test["critic_accuracy"], "replay_critic_z": test["critic_z"],
            "replay_separation": test["critic_separation"], "completeness": float(completeness)}


def baseline_test(poor: np.ndarray, clean: np.ndarray, seed: int) -> dict:
    """The judge's critic on poor vs the clean sevens left as they are."""
    return two_sample_test(visible(poor), visible(clean), np.random.default_rng(seed))


def confidence(entry: dict) -> str:
    """complete: the fresh critic is near chance (the replay removes COMPLETE_SHARE of the
    separation, or the critic's z falls below DIFFER_Z while it removes PARTIAL_SHARE: a weak
    change whose separation is small and noisy); partial: it removes PARTIAL_SHARE; else
    unknown."""
    if entry["completeness"] >= COMPLETE_SHARE or (entry["replay_critic_z"] < DIFFER_Z
                                                   and entry["completeness"] >= PARTIAL_SHARE):
        return "complete"
    return "partial" if entry["completeness"] >= PARTIAL_SHARE else "unknown"


def simplest_complete(judged: list[dict]) -> dict:
    """Of the judged candidates, the complete one with the fewest parameters (the most complete of
    equals); else the most complete."""
    complete = [entry for entry in judged if confidence(entry) == "complete"]
    if complete:
        return min(complete, key=lambda entry: (entry["path"].parameters, -entry["completeness"]))
    return max(judged, key=lambda entry: entry["completeness"])


# ---------------------------------------------------------------- every candidate, one answer


def best_replay(paths: list, readers: dict, sets: dict, seed: int, rng: np.random.Generator,
                heard: list = (), judged: int = JUDGED,
                per_family: int = 0) -> tuple[dict, list[dict]]:
    """Every path read by every reader and replayed on the judge's clean sevens, ranked by
    moment_distance; the `judged` nearest judged, and the descriptors' own answers whatever their
    distance (moments hardly see a turn either way): heard[0] by every reader, the rest each read by
    its nearest reader (candidates.own_answers); with per_family, the nearest per_family paths of
    each family only (a mark built from the mean difference matches the moments whatever the
    change, and would take every place). sets: poor (the judge's poor sevens), clean (its clean
    sevens), baseline (baseline_test of the two), calibration (clean sevens for R(v)), regression
    (clean sevens for each path's own reader, path_reader). readers: name -> (read(images) ->
    (n,), the poor sevens' readings (N,)); each path's own reader is added as "path". Returns the
    named entry and every entry (path, reader, strengths, distance[, judge])."""
    entries = []
    for path in paths:
        path_readers = dict(readers)
        own = path_reader(path, sets["regression"], rng)
        path_readers["path"] = (own, own(sets["poor"]))
        for reader, (read, poor_readings) in path_readers.items():
            strengths = read_strengths(path, read, sets["calibration"], poor_readings)
            replayed, drawn = replay(path, strengths, sets["clean"], rng)
            entries.append({"path": path, "reader": reader, "strengths": strengths,
                            "replayed": replayed, "drawn": drawn,
                            "distance": moment_distance(replayed, sets["poor"], sets["clean"])})
    # A replay that leaves every seven as it was (all strengths at the identity) is no answer.
    answers = [entry for entry in entries
               if not np.array_equal(entry["replayed"], sets["clean"])] or entries
    ranked = sorted(answers, key=lambda entry: entry["distance"])
    chosen = unique_paths(ranked, per_family)[:judged]
    for rank, path in enumerate(heard):  # the descriptors' own answers: moments miss a turn
        read = [entry for entry in ranked if entry["path"] is path]
        chosen += [entry for entry in read[: len(read) if rank == 0 else 1]
                   if all(entry is not other for other in chosen)]
    for entry in chosen:
        entry.update(judge(sets["poor"], entry["replayed"], sets["baseline"], seed))
    named = simplest_complete(chosen)
    named["baseline_accuracy"] = sets["baseline"]["critic_accuracy"]
    return named, entries


def unique_paths(ranked: list[dict], per_family: int = 0) -> list[dict]:
    """The best-read entry of each path, in the order of their distance; with per_family, at most
    that many paths of each family, the families in the order of their nearest path."""
    seen, unique = set(), []
    for entry in ranked:
        if id(entry["path"]) not in seen:
            seen.add(id(entry["path"]))
            unique.append(entry)
    if not per_family:
        return unique
    families = list(dict.fromkeys(entry["path"].family for entry in unique))
    return [entry for family in families
            for entry in [entry for entry in unique if entry["path"].family == family][:per_family]]


def figure_examples(entry: dict, poor: np.ndarray, poor_strengths: np.ndarray,
                    clean: np.ndarray) -> dict:
    """replay.png's images: EXAMPLES poor sevens at evenly spaced quantiles of their strengths,
    beside clean sevens replayed at the same strengths, and the two mean differences."""
    order = np.argsort(poor_strengths, kind="stable")
    picks = order[np.linspace(0, len(order) - 1, EXAMPLES).round().astype(int)]
    matched = entry["path"](clean[:EXAMPLES], poor_strengths[picks])  # the most likely
    return {"poor": poor[picks], "replayed": matched, "strengths": poor_strengths[picks],
            "poor_difference": poor.mean(0) - clean.mean(0),
            "replayed_difference": entry["replayed"].mean(0) - clean.mean(0)}
