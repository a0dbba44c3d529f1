"""Write report/generated/results.tex: the runs' metrics.json values as LaTeX macros.

    python report/make_results_tex.py                      # results/ -> report/generated/results.tex
    python report/make_results_tex.py --speaker results-quick/speaker_verification \\
        --vae results-quick/vae_sevens_k3 --plain-vae results-quick/vae_sevens_k3_plain --quick

It reads, it does not compute or word: each run has one table below, macro name -> (metrics key, format).
A dict or list value gives one macro per item (\\VaeExplainedRotation, \\VaeAxisScoreZero, ...). A missing
key, metrics file or figure stops the build with one line naming the file.

Formats: fractions as percentages with one decimal (0.9344 -> "93.4\\,\\%", which .ci/run relies on), AUC and
correlations with three decimals, nats with one, whole seconds; null prints as "--" (or "none", an axis).
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

from common import run_cli  # noqa: E402  (common and safety import no torch at module level)
from safety import DataError, atomic_path  # noqa: E402

# The first line of every file this script writes; --out may replace only a file that starts with it.
GENERATED_MARKER = "% Written by report/make_results_tex.py"
SPEAKER_FIGURES = ("curves.png", "score_histogram.png", "roc.png", "embeddings_pca.png")
VAE_FIGURES = ("traversal.png", "effect.png", "reconstructions.png", "curves.png")
HASH_DIGITS = 12  # of a sha256, enough to tell two data files apart in print
INDEX_NAMES = ("Zero", "One", "Two", "Three", "Four")  # list items: macro names are letters only
MISSING = "--"

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                  "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}  # OT1 fonts misprint < > |
UNSAFE_IN_PATHS = set("\\{}$&#%^~ ")  # \includegraphics takes a path nearly verbatim


# ---------------------------------------------------------------- formats: value -> LaTeX


def text(value) -> str:  # any text -> LaTeX that prints it literally
    return "".join(LATEX_SPECIALS.get(character, character) for character in str(value))


def signed(digits: str) -> str:  # a typographic minus instead of a hyphen
    return "$-$" + digits[1:] if digits.startswith("-") else digits


def places(count: int):
    return lambda value: signed(f"{value:.{count}f}")  # noqa: E731


def percent(fraction) -> str:
    """0.9344 -> 93.4\\,\\%  (one decimal: the format .ci/run searches the PDF for)."""
    return signed(f"{100.0 * fraction:.1f}") + r"\,\%"


def integer(value) -> str:
    """12345 -> 12\\,345 (thin-space thousands, as in print); 4.6 s -> 5."""
    return signed(f"{round(value):,}".replace(",", r"\,"))


def number(value) -> str:
    """A setting as given (1.0 -> 1, 0.001 -> 0.001)."""
    return signed(f"{value:g}")


def digest(value) -> str:
    return text(str(value)[:HASH_DIGITS])


def count(items) -> str:  # a list's length: the number of validation speakers
    return integer(len(items))


def listed(items) -> str:  # a list as one macro: dilations 1, 2
    return ", ".join(map(number, items))


def dimension(value) -> str:
    """An axis: 1 -> $z_{1}$; null (no effect) -> none."""
    return "none" if value is None else f"$z_{{{int(value)}}}$"


def macro(name: str, body: str) -> str:
    if not name.isalpha():
        raise ValueError(f"LaTeX macro names are letters only, got {name!r}")
    return f"\\newcommand{{\\{name}}}{{{body}}}"


def switch(name: str, value: bool) -> str:  # report.tex writes \ifName ... \else ... \fi
    return f"\\newif\\if{name}\\{name}{'true' if value else 'false'}"


# ---------------------------------------------------------------- one table per run: macro -> (key, format)
# A key is a path into metrics.json: "test_auc" or ("data", "train", "sha256").
TRAIN, TEST = ("data", "train"), ("data", "test")

SPEAKER = {
    "SpeakerTestAccuracy": ("test_accuracy", percent),
    "SpeakerTestAUC": ("test_auc", places(3)),
    "SpeakerTestEER": ("test_eer", percent),
    "SpeakerAllPairsEER": ("test_all_pairs_eer", percent),
    "SpeakerBaselineAccuracy": ("baseline_test_accuracy", percent),
    "SpeakerBaselineBestThresholdAccuracy": ("baseline_test_best_threshold_accuracy", percent),
    "SpeakerBaselineAUC": ("baseline_test_auc", places(3)),
    "SpeakerBaselineEER": ("baseline_test_eer", percent),
    "SpeakerBaselineAllPairsEER": ("baseline_all_pairs_eer", percent),
    "SpeakerTrainAccuracy": ("train_accuracy", percent), "SpeakerValidationAccuracy": ("validation_accuracy", percent),
    "SpeakerThreshold": ("decision_threshold", number),
    "SpeakerChosenEpoch": ("chosen_epoch", integer), "SpeakerEpochs": ("epochs", integer),
    "SpeakerParameters": ("parameters", integer),
    "SpeakerSeed": ("seed", integer), "SpeakerPairsPerSpeaker": ("pairs_per_speaker", integer),
    "SpeakerFitSpeakers": ("training_speakers", integer),
    "SpeakerValidationSpeakers": ("validation_speakers", count),
    "SpeakerTestSpeakers": ("test_speakers", integer),
    "SpeakerTestPairs": ("test_pairs", integer), "SpeakerTestAllPairs": ("test_all_pairs", integer),
    "SpeakerTrainSeconds": ("train_seconds", integer), "SpeakerSeconds": ("seconds", integer),
    "SpeakerDevice": ("device", text), "SpeakerThreads": ("threads", integer),
    "SpeakerFeature": ("feature", text),
    "SpeakerNFFT": ("n_fft", integer), "SpeakerHop": ("hop", integer), "SpeakerBins": ("bins", integer),
    "SpeakerTrainFrames": (("frames", "train"), integer), "SpeakerTestFrames": (("frames", "test"), integer),
    "SpeakerUtterancesPerSpeaker": ("utterances_per_speaker", integer), "SpeakerChannels": ("channels", integer),
    "SpeakerDilations": ("dilations", listed), "SpeakerEmbeddingDim": ("embedding_dim", integer),
    "SpeakerInitialScale": ("initial_scale", number), "SpeakerInitialBias": ("initial_bias", number),
    "SpeakerLearningRate": ("lr", number), "SpeakerWeightDecay": ("weight_decay", number),
    "SpeakerCalibrationFactor": ("calibration_lr_factor", number), "SpeakerShortestCrop": ("shortest_crop", percent),
    "SpeakerModel": ("model", text),
    "SpeakerTrainUtterances": (TRAIN + ("shape", 0), integer), "SpeakerTrainSamples": (TRAIN + ("shape", 1), integer),
    "SpeakerTrainHash": (TRAIN + ("sha256",), digest),
    "SpeakerTestUtterances": (TEST + ("shape", 0), integer), "SpeakerTestSamples": (TEST + ("shape", 1), integer),
    "SpeakerTestHash": (TEST + ("sha256",), digest),
}

# Both vae_sevens.py runs write the same keys; the plain VAE's table is the default model's, renamed.
VAE = {
    "VaeModel": ("model", text),
    "VaeK": ("k", integer), "VaeSeed": ("seed", integer),
    "VaeEpochs": ("epochs", integer), "VaeBatchSize": ("batch_size", integer),
    "VaeLearningRate": ("lr", number),
    "VaeDevice": ("device", text), "VaeThreads": ("threads", integer),
    "VaeBeta": (("objective", "beta"), number), "VaeTCWeight": (("objective", "tc_weight"), number),
    "VaeGreyLevelWeight": (("objective", "grey_level_weight"), number),
    "VaeTraversalLimit": ("traversal_limit", number), "VaeFigureRows": ("figure_rows", integer),
    "VaeFitQuantile": ("fit_quantiles", percent),
    "VaeSeconds": ("seconds", integer),
    "VaeTrainImages": (TRAIN + ("shape", 0), integer), "VaeTrainHash": (TRAIN + ("sha256",), digest),
    "VaeFitImages": (TRAIN + ("train_rows",), integer), "VaeValidationImages": (TRAIN + ("validation_rows",), integer),
    "VaeTestImages": (TEST + ("shape", 0), integer), "VaeTestHash": (TEST + ("sha256",), digest),
    "VaeNegElbo": ("test_neg_elbo", places(1)), "VaeReconstruction": ("test_reconstruction", places(1)),
    "VaeKL": ("test_kl", places(2)),
    "VaeKLPerLatent": ("kl_per_latent", places(2)),
    "VaeAxisScore": ("axis_scores", places(2)),
    "VaeSpreadMargin": ("spread_margin", number),
    "VaeEffectDimension": ("effect_dimension", dimension),
    "VaeEffectKind": ("effect_kind", text), "VaeEffectSentence": ("effect_sentence", text),
    "VaeExplained": ("explained_fraction", percent),
    "VaeImageSpread": ("image_spread", places(2)),
    "VaeTruthFile": ("truth_file", text),
    "VaeSpearman": ("spearman_with_truth", places(3)),
    "VaeEffectAbsSpearman": ("effect_dimension_abs_spearman", places(3)),
    "VaeBestAbsSpearman": ("best_abs_spearman", places(3)),
    "VaeBestSpearmanDimension": ("best_spearman_dimension", dimension),
}
PLAIN_VAE = {"Plain" + name: entry for name, entry in VAE.items()}

# \if switches: name -> (key, test of its value).
VAE_SWITCHES = {
    "VaeHasEffect": ("effect_dimension", lambda value: value is not None),
    "VaeHasTruth": ("truth_file", lambda value: value is not None),
    "VaeHasReference": ("axes", lambda value: value == "reference"),
    "VaeImagesAgree": ("images_agree", lambda value: value is True),
}
PLAIN_VAE_SWITCHES = {"Plain" + name: entry for name, entry in VAE_SWITCHES.items()}


# ---------------------------------------------------------------- reading a run


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
    if missing := [name for name in figures if not (Path(folder) / name).is_file()]:
        raise DataError(f"{folder}: expected the figures {', '.join(missing)} beside metrics.json, not found")
    return {"_path": str(path), **metrics}


def lookup(metrics: dict, key):
    """metrics at the path `key` (a name, or a tuple of names and indices)."""
    value = metrics
    for step in (key,) if isinstance(key, str) else key:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            shown = key if isinstance(key, str) else ".".join(map(str, key))
            raise DataError(f"{metrics['_path']}: expected the key '{shown}', not found") from None
    return value


def entry_macros(name: str, key, form, metrics: dict) -> list[str]:
    """One macro, or one per item of a dict (name + CamelCase key) or list (name + Zero, One, ...)."""
    value = lookup(metrics, key)
    if isinstance(value, dict):
        items = {"".join(part.capitalize() for part in str(item).split("-")): v for item, v in value.items()}
    elif isinstance(value, list) and form not in (count, listed):
        items = dict(zip(INDEX_NAMES, value))
    else:
        items = {"": value}
    lines = []
    for suffix, item in items.items():
        if item is None and form is not dimension:
            body = MISSING
        elif isinstance(item, float) and not math.isfinite(item):
            raise DataError(f"{metrics['_path']}: expected '{key}' to be a finite number, found {item!r}")
        else:
            try:
                body = form(item)
            except (TypeError, ValueError):
                raise DataError(f"{metrics['_path']}: '{key}' has a value of the wrong kind: {item!r}") from None
        lines.append(macro(name + suffix, body))
    return lines


def run_macros(metrics: dict, table: dict, switches: dict = {}) -> list[str]:
    lines = [line for name, (key, form) in table.items() for line in entry_macros(name, key, form, metrics)]
    return lines + [switch(name, test(lookup(metrics, key))) for name, (key, test) in switches.items()]


def tex_path(folder: Path, tex_dir: Path) -> str:
    """The folder as \\includegraphics sees it from tex_dir (where pdflatex runs), with / separators."""
    relative = Path(os.path.relpath(Path(folder).resolve(), Path(tex_dir).resolve())).as_posix()
    if unsafe := sorted(set(relative) & UNSAFE_IN_PATHS):
        raise DataError(f"{folder}: results folder path {relative!r} contains {unsafe}, which LaTeX cannot include; "
                        "use a folder without them")
    return relative


# ---------------------------------------------------------------- main


def check_out(path: Path) -> None:
    """--out must be new, or a file whose first line is GENERATED_MARKER (`--out data/trs.pkl` must not overwrite)."""
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise DataError(f"{path}: exists and is not a file; refusing to replace it (--out names the .tex file)")
    with open(path, "rb") as stream:
        if stream.read(len(GENERATED_MARKER)) != GENERATED_MARKER.encode():
            raise DataError(f"{path}: exists and was not written by report/make_results_tex.py (no "
                            f"'{GENERATED_MARKER}' first line); refusing to overwrite it")


def results_tex(speaker: dict, vae: dict, plain_vae: dict, folders: dict, quick: bool = False) -> str:
    lines = [f"{GENERATED_MARKER} from the runs' metrics.json; do not edit."]
    for name, folder in folders.items():  # \SpeakerDir for \includegraphics, \SpeakerDirText to print
        lines += [macro(name, folder), macro(name + "Text", text(folder))]
    lines += run_macros(speaker, SPEAKER)
    lines += run_macros(vae, VAE, VAE_SWITCHES)
    lines += run_macros(plain_vae, PLAIN_VAE, PLAIN_VAE_SWITCHES)
    lines.append(switch("QuickRun", quick or any(run.get("quick") is True for run in (speaker, vae, plain_vae))))
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    results = REPO / "results"
    parser.add_argument("--speaker", type=Path, default=results / "speaker_verification", help="speaker run folder")
    parser.add_argument("--vae", type=Path, default=results / "vae_sevens_k3", help="vae_sevens.py --k 3 run folder")
    parser.add_argument("--plain-vae", type=Path, default=results / "vae_sevens_k3_plain", help="--plain run folder")
    parser.add_argument("--out", type=Path, default=REPORT_DIR / "generated" / "results.tex",
                        help="file to write; an existing file is replaced only if this script wrote it")
    parser.add_argument("--tex-dir", type=Path, default=REPORT_DIR, help="where pdflatex runs (figure paths)")
    parser.add_argument("--quick", action="store_true", help="--quick runs: the PDF says so on its first page")
    args = parser.parse_args(argv)
    check_out(args.out)

    runs = [read_metrics(folder, figures) for folder, figures in
            ((args.speaker, SPEAKER_FIGURES), (args.vae, VAE_FIGURES), (args.plain_vae, VAE_FIGURES))]
    folders = {name: tex_path(folder, args.tex_dir) for name, folder in
               (("SpeakerDir", args.speaker), ("VaeDir", args.vae), ("PlainVaeDir", args.plain_vae))}
    with atomic_path(args.out) as temporary:
        temporary.write_text(results_tex(*runs, folders, args.quick))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
