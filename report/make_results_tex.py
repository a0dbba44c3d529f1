"""Write report/generated/results.tex: every number the report quotes, as a LaTeX macro, from the runs.

    python report/make_results_tex.py                      # results/ -> report/generated/results.tex
    python report/make_results_tex.py --speaker results-quick/speaker_verification \\
        --vae results-quick/vae_sevens_k3                  # what `make report QUICK=1` runs

report.tex never types a number: it uses \\SpeakerTestAccuracy, \\VaeNegElbo, ... defined here from
each experiment's metrics.json, and includes the figures from the folder the macros \\SpeakerDir and
\\VaeDir point at (relative to report/, where pdflatex runs). A missing metric or figure stops the
build with one line naming the file, rather than a PDF with a hole in it.

Formats (fixed here, and relied on by .ci/run): accuracies and error rates as percentages with one
decimal (0.9344 -> "93.4\\,\\%"), AUC and correlations with three decimals, nats with one decimal,
seconds as whole seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parent
REPO = REPORT_DIR.parent
sys.path.insert(0, str(REPO))

from common import UTTERANCES_PER_SPEAKER, DataError, atomic_path, run_cli, stft_frame_count  # noqa: E402

SPEAKER_FIGURES = ("curves.png", "score_histogram.png", "roc.png", "embeddings_pca.png")
VAE_FIGURES = ("traversal.png", "traversal_rows.png", "traversal_stats.png", "samples.png", "reconstructions.png",
               "curves.png")
HASH_DIGITS = 12  # of a sha256, enough to tell two data files apart in print

# LaTeX's special characters in running text, and what prints them.
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",  # OT1 fonts print < > | as other glyphs
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
# \includegraphics takes a path nearly verbatim (underscores are fine, as in speaker_verification/); refuse these.
UNSAFE_IN_PATHS = set("\\{}$&#%^~ ")


# ---------------------------------------------------------------- formatting


def latex_escape(text) -> str:
    """Any text -> LaTeX that prints it literally."""
    return "".join(LATEX_SPECIALS.get(character, character) for character in str(text))


def signed(text: str) -> str:
    """A typographic minus instead of a hyphen in running text."""
    return "$-$" + text[1:] if text.startswith("-") else text


def percent(fraction: float) -> str:
    """0.9344 -> 93.4\\,\\%  (one decimal: the format .ci/run searches the PDF for)."""
    return signed(f"{100.0 * fraction:.1f}") + r"\,\%"


def decimal(value: float, places: int) -> str:
    return signed(f"{value:.{places}f}")


def integer(value) -> str:
    """12345 -> 12\\,345 (thin-space thousands, as in print)."""
    return signed(f"{int(value):,}".replace(",", r"\,"))


def seconds(value: float) -> str:
    return integer(round(value))


def number(value) -> str:
    """A setting as given (1.0 -> 1, 0.001 -> 0.001)."""
    return signed(f"{value:g}")


def threads(count) -> str:
    """2 -> '2 threads', 1 -> '1 thread'."""
    return f"{integer(count)} thread{'s' if int(count) != 1 else ''}"


def macro(name: str, body: str) -> str:
    if not name.isalpha():
        raise ValueError(f"LaTeX macro names are letters only, got {name!r}")
    return f"\\newcommand{{\\{name}}}{{{body}}}"


def boolean(name: str, value: bool) -> str:
    """A \\newif switch: report.tex writes \\ifName ... \\else ... \\fi."""
    return f"\\newif\\if{name}\\{name}{'true' if value else 'false'}"


def tex_path(folder: Path, tex_dir: Path) -> str:
    """The folder as \\includegraphics sees it from tex_dir (where pdflatex runs), with / separators."""
    relative = Path(os.path.relpath(Path(folder).resolve(), Path(tex_dir).resolve())).as_posix()
    unsafe = sorted(set(relative) & UNSAFE_IN_PATHS)
    if unsafe:
        raise DataError(f"{folder}: results folder path {relative!r} contains {unsafe}, which LaTeX cannot include; "
                        "use a folder without them")
    return relative


# ---------------------------------------------------------------- reading the runs


def read_metrics(folder: Path, figures) -> dict:
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected the run's metrics; run the experiment first)")
    try:
        metrics = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: expected JSON metrics, could not parse it: {error}") from None
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: expected a JSON object of metrics, found {type(metrics).__name__}")
    missing = [name for name in figures if not (Path(folder) / name).is_file()]
    if missing:
        raise DataError(f"{folder}: expected the figures {', '.join(missing)} beside metrics.json, not found")
    metrics["_path"] = str(path)
    return metrics


def require(metrics: dict, key: str, kind=(int, float)):
    """metrics[key], which must exist and be of `kind` (a finite number by default)."""
    if key not in metrics:
        raise DataError(f"{metrics['_path']}: expected the key '{key}', not found")
    value = metrics[key]
    if kind == (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"{metrics['_path']}: expected '{key}' to be a finite number, found {value!r}")
    elif not isinstance(value, kind):
        raise DataError(f"{metrics['_path']}: expected '{key}' to be {getattr(kind, '__name__', kind)}, found {value!r}")
    return value


def data_file(metrics: dict, split: str) -> dict:
    """metrics['data'][split]: {'shape': [...], 'sha256': ..., ...} as the scripts record their inputs."""
    data = require(metrics, "data", dict)
    entry = data.get(split)
    if not isinstance(entry, dict) or not isinstance(entry.get("shape"), list) or "sha256" not in entry:
        raise DataError(f"{metrics['_path']}: expected data.{split} with its shape and sha256, found {entry!r}")
    return entry


# ---------------------------------------------------------------- problem 1


SPEAKER_RATES = {  # macro -> metrics key; all shown as percentages
    "SpeakerTestAccuracy": "test_accuracy",
    "SpeakerTestEER": "test_eer",
    "SpeakerAllPairsEER": "test_all_pairs_eer",
    "SpeakerBaselineAccuracy": "baseline_test_accuracy",
    "SpeakerBaselineEER": "baseline_test_eer",
    "SpeakerBaselineAllPairsEER": "baseline_all_pairs_eer",
    "SpeakerTrainAccuracy": "train_accuracy",
    "SpeakerValidationAccuracy": "validation_accuracy",
}
SPEAKER_RATES["SpeakerBaselineBestThresholdAccuracy"] = "baseline_test_best_threshold_accuracy"
SPEAKER_AUCS = {"SpeakerTestAUC": "test_auc", "SpeakerBaselineAUC": "baseline_test_auc",
                "SpeakerValidationAUC": "validation_auc"}
SPEAKER_COUNTS = {
    "SpeakerChosenEpoch": "chosen_epoch",
    "SpeakerEpochs": "epochs",
    "SpeakerParameters": "parameters",
    "SpeakerSeed": "seed",
    "SpeakerPairsPerSpeaker": "pairs_per_speaker",
    "SpeakerFitSpeakers": "training_speakers",
    "SpeakerTestPairs": "test_pairs",
    "SpeakerTestAllPairs": "test_all_pairs",
}
SPEAKER_SECONDS = {"SpeakerTrainSeconds": "train_seconds", "SpeakerTotalSeconds": "total_seconds"}


def speaker_macros(metrics: dict, folder: str) -> list[str]:
    metrics.setdefault("total_seconds", metrics.get("seconds"))  # the shared schema's names (issue 16)
    for split, name in (("train", "trs.pkl"), ("test", "tes.pkl")):
        metrics.get("data", {}).setdefault(name, metrics.get("data", {}).get(split))
    lines = [macro("SpeakerDir", folder), macro("SpeakerDirText", latex_escape(folder))]
    lines += [macro(name, percent(require(metrics, key))) for name, key in SPEAKER_RATES.items()]
    lines += [macro(name, decimal(require(metrics, key), 3)) for name, key in SPEAKER_AUCS.items()]
    lines += [macro(name, integer(require(metrics, key))) for name, key in SPEAKER_COUNTS.items()]
    lines += [macro(name, seconds(require(metrics, key))) for name, key in SPEAKER_SECONDS.items()]
    gain = 100.0 * (metrics["test_accuracy"] - metrics["baseline_test_accuracy"])  # percentage points
    lines += [
        macro("SpeakerAccuracyGain", decimal(abs(gain), 1)),
        macro("SpeakerAccuracyGainDirection", "above" if gain >= 0 else "below"),
        macro("SpeakerDevice", latex_escape(require(metrics, "device", str))),
        macro("SpeakerThreads", threads(require(metrics, "threads"))),
        macro("SpeakerFeature", latex_escape(require(metrics, "feature", str))),
        macro("SpeakerModel", latex_escape(require(metrics, "model", str))),
        macro("SpeakerValidationSpeakers", integer(len(require(metrics, "validation_speakers", list)))),
    ]
    for split, name in (("trs.pkl", "Train"), ("tes.pkl", "Test")):
        entry = data_file(metrics, split)
        rows, samples = entry["shape"][:2]
        lines += [
            macro(f"Speaker{name}Utterances", integer(rows)),
            macro(f"Speaker{name}Speakers", integer(rows // UTTERANCES_PER_SPEAKER)),
            macro(f"Speaker{name}Samples", integer(samples)),
            macro(f"Speaker{name}Hash", latex_escape(str(entry["sha256"])[:HASH_DIGITS])),
        ]
    return lines


# ---------------------------------------------------------------- problem 2


DECODER_NAMES = {
    "warped-broadcast": "warped spatial broadcast",
    "broadcast": "spatial broadcast",
    "deconvolution": "transposed-convolution",
}


def objective_name(metrics: dict) -> str:
    """How the report names the model: plain VAE, beta-VAE or beta-TC-VAE with its weight."""
    objective, beta = require(metrics, "objective", str), require(metrics, "beta")
    if metrics.get("plain_vae"):
        return "plain VAE"
    if objective == "vae":
        return rf"$\beta$-VAE ($\beta={number(beta)}$)"
    if objective == "tc-vae":
        return rf"$\beta$-TC-VAE ($\beta={number(beta)}$, $\gamma={number(require(metrics, 'tc_weight'))}$)"
    return latex_escape(objective)


def pixel_path_lengths(metrics: dict) -> list:
    """Per latent, the mean pixel-space path length of its evidence traversals (what names the effect)."""
    lengths = require(metrics, "traversal_evidence", dict).get("pixel_movement")
    if not isinstance(lengths, list) or len(lengths) != require(metrics, "k"):
        raise DataError(f"{metrics['_path']}: expected traversal_evidence.pixel_movement, one number per latent")
    return lengths


def statistic_name(name: str) -> str:
    return r"\texttt{" + latex_escape(name) + "}"


def dimension_rows(metrics: dict) -> str:
    """One row per latent z_k: test KL, pixel path length, the statistic it moves best and its score, r."""
    k = require(metrics, "k")
    kl = require(metrics, "kl_per_axis", list)  # on the model's own latents, its KL per dimension
    scores = require(metrics, "traversal_evidence", dict).get("scores")
    if not isinstance(scores, dict) or not scores or len(kl) != k:
        raise DataError(f"{metrics['_path']}: expected kl_per_axis of length k={k} and traversal_evidence.scores")
    truth = metrics.get("spearman_with_truth")
    effect = require(metrics, "effect_dimension")
    lengths = pixel_path_lengths(metrics)
    rows = []
    for dimension in range(k):
        statistic = max(scores, key=lambda name: scores[name][dimension])
        cells = [f"$z_{{{dimension}}}$", decimal(kl[dimension], 2), decimal(lengths[dimension], 1),
                 statistic_name(statistic), decimal(scores[statistic][dimension], 3)]
        if truth is not None:
            cells.append(decimal(truth[dimension], 3))
        if dimension == effect:  # the dimension the traversals name, in bold
            cells = [rf"$\boldsymbol{{z_{{{dimension}}}}}$"] + [r"\textbf{" + cell + "}" for cell in cells[1:]]
        rows.append(" & ".join(cells) + r" \\")
    return "\n".join(rows)


def evidence_table(metrics: dict) -> tuple[str, str, str]:
    """(column spec, header, rows) of the evidence: statistics x latents (the winner in bold), then path lengths."""
    evidence = require(metrics, "traversal_evidence", dict)
    scores, k = evidence["scores"], require(metrics, "k")
    effect, effect_statistic = require(metrics, "effect_dimension"), require(metrics, "effect_statistic", str)
    header = " & " + " & ".join(f"$z_{{{dimension}}}$" for dimension in range(k)) + r" \\"
    lengths = [decimal(length, 1) for length in pixel_path_lengths(metrics)]
    rows = [r"\multicolumn{" + str(k + 1) + r"}{@{}l}{\emph{score of each statistic}} \\"]
    for name, values in scores.items():
        cells = [decimal(value, 3) for value in values]
        if name == effect_statistic:
            cells[effect] = r"\textbf{" + cells[effect] + "}"
        rows.append(statistic_name(name) + " & " + " & ".join(cells) + r" \\")
    rows += [r"\midrule", "pixel path length & " + " & ".join(lengths) + r" \\"]
    return "l" + "r" * k, header, "\n".join(rows)


def vae_macros(metrics: dict, prefix: str) -> list[str]:
    """Macros \\<prefix>NegElbo, ... for one trained model (the default objective, or the plain VAE)."""
    columns, header, rows = evidence_table(metrics)
    truth = metrics.get("spearman_with_truth")
    grey_level_weight = require(metrics, "grey_level_weight")
    lines = [
        macro(f"{prefix}Name", objective_name(metrics)),
        macro(f"{prefix}Decoder", DECODER_NAMES.get(require(metrics, "decoder", str), latex_escape(metrics["decoder"]))),
        macro(f"{prefix}NegElbo", decimal(require(metrics, "test_neg_elbo"), 1)),
        macro(f"{prefix}Reconstruction", decimal(require(metrics, "test_reconstruction"), 1)),
        macro(f"{prefix}KL", decimal(sum(require(metrics, "kl_per_dimension", list)), 2)),
        macro(f"{prefix}EffectDimension", integer(require(metrics, "effect_dimension"))),
        macro(f"{prefix}EffectStatistic", statistic_name(require(metrics, "effect_statistic", str))),
        macro(f"{prefix}EffectScore", decimal(require(metrics, "traversal_evidence", dict)["effect_score"], 3)),
        macro(f"{prefix}Beta", number(require(metrics, "beta"))),
        # Without a total-correlation term the objective is gamma = 1.
        macro(f"{prefix}TcWeight", number(metrics["tc_weight"] if metrics.get("tc_weight") is not None else 1)),
        macro(f"{prefix}Seconds", seconds(require(metrics, "seconds"))),
        macro(f"{prefix}DimensionColumns", "lrrlr" + ("r" if truth is not None else "")),
        macro(f"{prefix}DimensionColumnCount", integer(5 + (truth is not None))),
        macro(f"{prefix}DimensionHeader",
              " & KL & path & statistic & score" + (" & $r$" if truth is not None else "") + r" \\"),
        macro(f"{prefix}DimensionRows", dimension_rows(metrics)),
        macro(f"{prefix}EvidenceColumns", columns),
        macro(f"{prefix}EvidenceHeader", header),
        macro(f"{prefix}EvidenceRows", rows),
        boolean(f"{prefix}HasTruth", truth is not None),
        boolean(f"{prefix}IndependentAxes", require(metrics, "axes", str) == "independent"),
        macro(f"{prefix}GreyLevelWeight", number(grey_level_weight)),
        boolean(f"{prefix}GreyLevels", grey_level_weight > 0),
    ]
    if truth is not None:
        effect = require(metrics, "effect_dimension")
        best = max(range(len(truth)), key=lambda dimension: abs(truth[dimension]))
        lines += [
            macro(f"{prefix}BestAbsSpearman", decimal(require(metrics, "best_abs_spearman"), 3)),
            macro(f"{prefix}BestSpearmanDimension", integer(best)),
            macro(f"{prefix}EffectAbsSpearman", decimal(abs(truth[effect]), 3)),
            macro(f"{prefix}TruthFile", latex_escape(metrics.get("truth_file") or "ground truth")),
        ]
    return lines


def evidence_setting(metrics: dict, key: str, index: int | None = None):
    """traversal_evidence[key] (or its item `index`), which must be there."""
    value = require(metrics, "traversal_evidence", dict).get(key)
    try:
        if value is None:
            raise TypeError
        return value if index is None else value[index]
    except (TypeError, IndexError, KeyError):
        raise DataError(f"{metrics['_path']}: expected traversal_evidence.{key} with an item {index}, found {value!r}") from None


def truth_summary_rows(vae: dict, plain_vae: dict) -> str:
    """Rows of the summary table comparing both models with the ground truth; empty without one."""
    if vae.get("spearman_with_truth") is None or plain_vae.get("spearman_with_truth") is None:
        return ""
    cells = []
    for metrics in (vae, plain_vae):
        truth = metrics["spearman_with_truth"]
        best = max(range(len(truth)), key=lambda dimension: abs(truth[dimension]))
        effect = require(metrics, "effect_dimension")
        cells.append((decimal(abs(truth[effect]), 3), f"{decimal(abs(truth[best]), 3)} ($z_{{{best}}}$)"))
    return "\n".join([
        r"$|$Spearman $r|$ of the effect dimension with the truth & " + " & ".join(c[0] for c in cells) + r" \\",
        r"best $|$Spearman $r|$ of any dimension & " + " & ".join(c[1] for c in cells) + r" \\",
    ])


def vae_run_macros(metrics: dict, folder: str) -> list[str]:
    """The settings shared by both models of one vae_sevens.py run, and where its figures are."""
    train, test = data_file(metrics, "train"), data_file(metrics, "test")
    return [
        macro("VaeDir", folder),
        macro("VaeDirText", latex_escape(folder)),
        macro("VaeK", integer(require(metrics, "k"))),
        macro("VaeLikelihood", latex_escape(require(metrics, "likelihood", str))),
        macro("VaeEpochs", integer(require(metrics, "epochs"))),
        macro("VaeSeed", integer(require(metrics, "seed"))),
        macro("VaeBatchSize", integer(require(metrics, "batch_size"))),
        macro("VaeLearningRate", number(require(metrics, "lr"))),
        macro("VaeDevice", latex_escape(require(metrics, "device", str))),
        macro("VaeThreads", threads(require(metrics, "torch_threads"))),
        macro("VaeTrainImages", integer(train["shape"][0])),
        macro("VaeFitImages", integer(train.get("train_rows", train["shape"][0]))),
        macro("VaeValidationImages", integer(train.get("validation_rows", 0))),
        macro("VaeTestImages", integer(test["shape"][0])),
        macro("VaeTrainHash", latex_escape(str(train["sha256"])[:HASH_DIGITS])),
        macro("VaeTestHash", latex_escape(str(test["sha256"])[:HASH_DIGITS])),
        macro("VaeEvidenceRowsPerDimension", integer(evidence_setting(metrics, "rows_per_dimension"))),
        macro("VaeEvidenceLowPercent", integer(round(100 * evidence_setting(metrics, "quantiles", 0)))),
        macro("VaeEvidenceHighPercent", integer(round(100 * evidence_setting(metrics, "quantiles", 1)))),
        macro("VaeEvidenceSteps", integer(len(evidence_setting(metrics, "positions", 0)))),
    ]


# ---------------------------------------------------------------- settings fixed in the scripts


def script_constant(module, name: str):
    """A constant of one of the scripts (a dotted name reaches into a class)."""
    value = module
    for part in name.split("."):
        if not hasattr(value, part):
            raise DataError(f"{module.__file__}: expected the constant {name} the report describes, not found")
        value = getattr(value, part)
    return value


def script_macros(speaker_metrics: dict) -> list[str]:
    """Sizes fixed in the scripts (architectures, the default data), read from them so the text cannot drift."""
    import make_data
    import speaker_verification
    import vae_sevens

    defaults = script_constant(speaker_verification, "DEFAULTS")
    n_fft, hop = script_constant(speaker_verification, "N_FFT"), script_constant(speaker_verification, "HOP")
    dilations = script_constant(speaker_verification, "SiameseVerifier.DILATIONS")
    frames = {split: stft_frame_count(data_file(speaker_metrics, split)["shape"][1], n_fft, hop)
              for split in ("trs.pkl", "tes.pkl")}
    first, second = script_constant(vae_sevens, "CONV_CHANNELS")
    limit, step = script_constant(vae_sevens, "TRAVERSAL_LIMIT"), script_constant(vae_sevens, "TRAVERSAL_STEP")
    angle_low, angle_high = script_constant(make_data, "SEVENS_EFFECTS")["rotation"]
    snr_low, snr_high = script_constant(make_data, "SNR_DB")
    return [
        macro("DataSampleRateKHz", number(script_constant(make_data, "SAMPLE_RATE") / 1000)),
        macro("DataSNRLow", number(snr_low)),
        macro("DataSNRHigh", number(snr_high)),
        macro("SevensAngleLow", number(angle_low)),
        macro("SevensAngleHigh", number(angle_high)),
        macro("SpeakerUtterancesPerSpeaker", integer(UTTERANCES_PER_SPEAKER)),
        macro("SpeakerWithinPairs", integer(math.comb(UTTERANCES_PER_SPEAKER, 2))),
        macro("SpeakerNFFT", integer(n_fft)),
        macro("SpeakerHop", integer(hop)),
        macro("SpeakerBins", integer(n_fft // 2 + 1)),
        macro("SpeakerTrainFrames", integer(frames["trs.pkl"])),
        macro("SpeakerTestFrames", integer(frames["tes.pkl"])),
        macro("SpeakerThreshold", number(script_constant(speaker_verification, "DECISION_THRESHOLD"))),
        macro("SpeakerChannels", integer(defaults["channels"])),
        macro("SpeakerEmbeddingDim", integer(defaults["embedding_dim"])),
        macro("SpeakerLearningRate", number(defaults["lr"])),
        macro("SpeakerWeightDecay", number(defaults["weight_decay"])),
        macro("SpeakerInitialScale", number(script_constant(speaker_verification, "INITIAL_SCALE"))),
        macro("SpeakerInitialBias", number(script_constant(speaker_verification, "INITIAL_BIAS"))),
        macro("SpeakerPooledSize", integer(2 * (n_fft // 2 + 1 + defaults["channels"]))),
        macro("SpeakerShortestCropPercent", integer(round(100 * defaults["shortest_crop"]))),
        macro("SpeakerCalibrationFactor", number(script_constant(speaker_verification, "CALIBRATION_LR_FACTOR"))),
        macro("SpeakerDilations", ", ".join(integer(dilation) for dilation in dilations)),
        macro("VaeConvFirst", integer(first)),
        macro("VaeConvSecond", integer(second)),
        macro("VaeHidden", integer(script_constant(vae_sevens, "HIDDEN_UNITS"))),
        macro("VaeFeatureSide", integer(script_constant(vae_sevens, "FEATURE_SIDE"))),
        macro("VaeBroadcastUnits", integer(script_constant(vae_sevens, "BROADCAST_UNITS"))),
        macro("VaeBroadcastSide", integer(script_constant(vae_sevens, "BROADCAST_SIDE"))),
        macro("VaeTraversalLimit", number(limit)),
        macro("VaeTraversalStep", number(step)),
        macro("VaeTraversalCodes", integer(round(2 * limit / step) + 1)),
        macro("VaeFigureRows", integer(script_constant(vae_sevens, "FIGURE_ROWS"))),
        macro("VaeValidationPercent", integer(round(100 * script_constant(vae_sevens, "VALIDATION_FRACTION")))),
    ]


# ---------------------------------------------------------------- main


def results_tex(speaker: dict, speaker_folder: str, vae: dict, vae_folder: str, plain_vae: dict, plain_folder: str,
                quick: bool = False) -> str:
    lines = ["% Written by report/make_results_tex.py from the runs' metrics.json; do not edit.",
             f"% speaker: {speaker['_path']}", f"% vae: {vae['_path']}"]
    lines += speaker_macros(speaker, speaker_folder)
    lines += vae_run_macros(vae, vae_folder)
    lines += vae_macros(vae, "Vae")
    lines += vae_macros(plain_vae, "PlainVae")
    lines.append(macro("PlainVaeDir", plain_folder))
    lines.append(macro("PlainVaeDirText", latex_escape(plain_folder)))
    lines.append(macro("VaeTruthSummaryRows", truth_summary_rows(vae, plain_vae)))
    lines.append(boolean("QuickRun", quick or bool(vae.get("quick")) or bool(plain_vae.get("quick"))))
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speaker", type=Path, default=REPO / "results" / "speaker_verification",
                        help="speaker_verification.py's output folder (default results/speaker_verification)")
    parser.add_argument("--vae", type=Path, default=REPO / "results" / "vae_sevens_k3",
                        help="vae_sevens.py's output folder (default results/vae_sevens_k3)")
    parser.add_argument("--plain-vae", type=Path, default=REPO / "results" / "vae_sevens_k3_plain",
                        help="vae_sevens.py --plain's output folder (default results/vae_sevens_k3_plain)")
    parser.add_argument("--out", type=Path, default=REPORT_DIR / "generated" / "results.tex",
                        help="file to write (default report/generated/results.tex)")
    parser.add_argument("--tex-dir", type=Path, default=REPORT_DIR,
                        help="folder pdflatex runs in; figure paths are relative to it (default report/)")
    parser.add_argument("--quick", action="store_true",
                        help="the runs are --quick smoke tests: the PDF says so on its first page")
    args = parser.parse_args(argv)

    speaker = read_metrics(args.speaker, SPEAKER_FIGURES)
    vae = read_metrics(args.vae, VAE_FIGURES)
    plain_vae = read_metrics(args.plain_vae, VAE_FIGURES)
    text = results_tex(speaker, tex_path(args.speaker, args.tex_dir), vae, tex_path(args.vae, args.tex_dir),
                       plain_vae, tex_path(args.plain_vae, args.tex_dir), args.quick)
    text += "\n".join(script_macros(speaker)) + "\n"
    with atomic_path(args.out) as temporary:
        temporary.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
