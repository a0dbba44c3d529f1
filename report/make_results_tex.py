"""Write report/generated/results.tex: the runs' metrics.json values as LaTeX macros.

    python report/make_results_tex.py                      # results/ -> report/generated/results.tex
    python report/make_results_tex.py --speaker results-quick/speaker_verification \\
        --vae results-quick/vae_sevens_k3 --plain-vae results-quick/vae_sevens_k3_plain --quick

It reads, it does not compute or word: each run has one table below, macro name -> (metrics key, format).
A dict or list value gives one macro per item (\\VaeExplainedRotation, \\VaeAxisScoreZero, ...). A missing
key, metrics file or figure, a value of the wrong kind or size, and a path LaTeX cannot take stop the build
with one line naming the file, before pdflatex sees anything.

Formats: fractions as percentages with one decimal (0.9344 -> "93.4\\,\\%", which .ci/run relies on), AUC and
correlations with three decimals, nats with one, whole seconds; null prints as "--" (or "none", an axis).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parent
REPO = REPORT_DIR.parent
sys.path.insert(0, str(REPO))

from common import run_cli  # noqa: E402  (common and safety import no torch at module level)
from safety import DataError, atomic_path, printable  # noqa: E402

# The first line of every file this script writes; --out may replace only a file that starts with it.
GENERATED_MARKER = "% Written by report/make_results_tex.py"
SPEAKER_FIGURES = ("curves.png", "score_histogram.png", "roc.png", "det.png", "embeddings_pca.png")
VAE_FIGURES = ("traversal.png", "effect.png", "reconstructions.png", "curves.png")
HASH_DIGITS = 12  # of a sha256, enough to tell two data files apart in print
INDEX_NAMES = ("Zero", "One", "Two", "Three", "Four")  # list items: macro names are letters only
MISSING = "--"

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                  "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
                  "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}  # OT1 fonts misprint < > |
SAFE_PATH = re.compile(r"[A-Za-z0-9/._+=,@-]+")  # \includegraphics takes a path nearly verbatim: these only
ITEM_KEY = re.compile(r"[a-z]+(-[a-z]+)*")  # a dict key becomes part of a macro name (stroke-width -> StrokeWidth)
NOT_FINITE = re.compile(r"(?<![A-Za-z])[-+]?(nan|inf)(?![a-wyz])")  # a number formatted from NaN or Infinity
MAX_METRICS_BYTES = 16 << 20  # a run's metrics.json holds a few kB to a few hundred kB
MAX_TEXT = 2000  # characters of one text value: a model description or a sentence
MAX_NUMBER = 1e15  # beyond any count or measure a run reports; larger ones print as pages of digits
MAX_ITEMS = 1000  # of a list read whole (the validation speakers)


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


def listed(items) -> str:  # a list as one macro: P_target 0.01, 0.05
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
    **{f"Speaker{pairs}{name}{cost}": (f"{prefix}{key}_{p}", places(3))
       for pairs, prefix in (("Test", "test_"), ("AllPairs", "test_all_pairs_"), ("BaselineTest", "baseline_test_"),
                             ("BaselineAllPairs", "baseline_all_pairs_"), ("SnormTest", "snorm_test_"),
                             ("SnormAllPairs", "snorm_test_all_pairs_"))
       for name, key in (("MinDCF", "min_dcf"), ("ActDCF", "act_dcf")) for cost, p in (("One", "p01"), ("Five", "p05"))
       if key == "min_dcf" or not prefix.startswith(("baseline", "snorm"))},
    "SpeakerTestCllr": ("test_cllr", places(3)), "SpeakerAllPairsCllr": ("test_all_pairs_cllr", places(3)),
    "SpeakerSnormTestEER": ("snorm_test_eer", percent), "SpeakerSnormAllPairsEER": ("snorm_test_all_pairs_eer", percent),
    "SpeakerSnormValidationEER": ("snorm_validation_eer", percent),
    "SpeakerValidationEER": ("validation_eer", percent),
    "SpeakerCohortTop": ("cohort_top", integer), "SpeakerCohortUtterances": ("cohort_utterances", integer),
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
    "SpeakerUtterancesPerSpeaker": ("utterances_per_speaker", integer), "SpeakerWarp": ("warp", number),
    "SpeakerPTargets": ("p_targets", listed), "SpeakerEmbeddingDim": ("embedding_dim", integer),
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
    "VaeEffectFamily": ("effect_family", text), "VaeEffectKind": ("effect_kind", text),
    "VaeEffectSentence": ("effect_sentence", text),
    "VaeExplained": ("explained_fraction", percent), "VaeExplainedNull": ("explained_null", percent),
    "VaeCriticAccuracy": ("critic_accuracy", percent), "VaeCriticZ": ("critic_z", places(1)),
    "VaeShareChanged": ("share_changed", percent), "VaeRoughness": ("roughness_ratio", places(2)),
    "VaeRoughnessNull": ("roughness_null", places(2)),
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
    "VaeImagesDiffer": ("images_differ", lambda value: value is True),
}
PLAIN_VAE_SWITCHES = {"Plain" + name: entry for name, entry in VAE_SWITCHES.items()}

# Keys whose value has one macro per item: their container. Every other key holds one value (or a whole list,
# for count and listed).
PER_ITEM = {"kl_per_latent": list, "axis_scores": list, "spearman_with_truth": list, "fit_quantiles": list,
            "explained_fraction": dict, "explained_null": dict}


# ---------------------------------------------------------------- reading a run


class Run(dict):
    """A run's metrics and the file they came from, which every error line names."""

    def __init__(self, path: Path, metrics: dict):
        super().__init__(metrics)
        self.path = path


def read_metrics(folder: Path, figures) -> Run:
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected the run's metrics; run the experiment first)")
    if path.stat().st_size > MAX_METRICS_BYTES:
        raise DataError(f"{path}: {path.stat().st_size:,} bytes, above the {MAX_METRICS_BYTES:,} a run writes")
    try:
        metrics = json.loads(path.read_text(), parse_constant=not_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise DataError(f"{path}: expected JSON metrics, could not parse it: {str(error)[:200]}") from None
    if not isinstance(metrics, dict):
        raise DataError(f"{path}: expected a JSON object of metrics, found {type(metrics).__name__}")
    if missing := [name for name in figures if not (Path(folder) / name).is_file()]:
        raise DataError(f"{folder}: expected the figures {', '.join(missing)} beside metrics.json, not found")
    return Run(path, metrics)


def not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number (a run writes null for a number it cannot compute)")


def lookup(metrics: Run, key):
    """metrics at the path `key` (a name, or a tuple of names and indices)."""
    value = metrics
    for step in (key,) if isinstance(key, str) else key:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            raise DataError(f"{metrics.path}: expected the key '{shown(key)}', not found") from None
    return value


def shown(key) -> str:
    return key if isinstance(key, str) else ".".join(map(str, key))


def entry_macros(name: str, key, form, metrics: Run) -> list[str]:
    """One macro, or one per item of a dict (name + CamelCase key) or list (name + Zero, One, ...)."""
    value = lookup(metrics, key)
    items = per_item(value, key, metrics) if key in PER_ITEM and value is not None else {"": value}
    lines = []
    for suffix, item in items.items():
        if item is None:
            lines.append(macro(name + suffix, dimension(None) if form is dimension else MISSING))
        else:
            lines.append(macro(name + suffix, form(checked(item, form, key, metrics))))
    return lines


def per_item(value, key: str, metrics: Run) -> dict:
    """{macro suffix: item} of a PER_ITEM key: a list's items Zero, One, ...; a dict's stroke-width -> StrokeWidth."""
    container, where = PER_ITEM[key], f"{metrics.path}: '{key}'"
    limit = len(INDEX_NAMES) if container is list else 64
    if not isinstance(value, container):
        raise DataError(f"{where}: expected a {container.__name__}, found {kind(value)}")
    if len(value) > limit:
        raise DataError(f"{where}: expected at most {limit} items, found {len(value):,}")
    if container is list:
        return dict(zip(INDEX_NAMES, value))
    if bad := [item for item in value if not ITEM_KEY.fullmatch(item)]:
        raise DataError(f"{where}: has the key {bad[0][:40]!r}; expected lower-case words joined by '-' "
                        "(they become macro names)")
    return {"".join(part.capitalize() for part in item.split("-")): item_value for item, item_value in value.items()}


def kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(type(value), "a number")


def checked(value, form, key, metrics: Run):
    """`value` if it has the kind and size `form` prints, else DataError naming the file and the key."""
    where = f"{metrics.path}: '{shown(key)}'"
    if form in (count, listed):
        numbers = not isinstance(value, list) or form is count or all(
            type(item) in (int, float) and abs(item) <= MAX_NUMBER for item in value)
        if not (isinstance(value, list) and len(value) <= MAX_ITEMS and numbers):
            raise DataError(f"{where}: expected a list of at most {MAX_ITEMS} numbers, found {str(value)[:80]}")
        return value
    if form in (text, digest):
        if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
            found = f"{len(value):,} characters" if isinstance(value, str) and len(value) > MAX_TEXT else (
                "a tab, newline or other control character" if isinstance(value, str) else kind(value))
            raise DataError(f"{where}: expected a printable text of at most {MAX_TEXT} characters, found {found}")
        if match := NOT_FINITE.search(value):
            raise DataError(f"{where}: holds {match.group()!r}, a number the run could not compute")
        return value
    if form is dimension:
        if type(value) is not int or not 0 <= value < len(INDEX_NAMES):
            raise DataError(f"{where}: expected an axis 0..{len(INDEX_NAMES) - 1} or null, found {str(value)[:40]}")
        return value
    if type(value) not in (int, float):
        raise DataError(f"{where}: expected a number, found {kind(value)}")
    if not (math.isfinite(value) and abs(value) <= MAX_NUMBER):
        raise DataError(f"{where}: expected a finite number of at most {MAX_NUMBER:g}, found {value!r}")
    return value


def run_macros(metrics: dict, table: dict, switches: dict = {}) -> list[str]:
    lines = [line for name, (key, form) in table.items() for line in entry_macros(name, key, form, metrics)]
    return lines + [switch(name, test(lookup(metrics, key))) for name, (key, test) in switches.items()]


def tex_path(folder: Path, tex_dir: Path) -> str:
    """The folder as \\includegraphics sees it from tex_dir (where pdflatex runs), with / separators."""
    relative = Path(os.path.relpath(Path(folder).resolve(), Path(tex_dir).resolve())).as_posix()
    if not SAFE_PATH.fullmatch(relative):
        unsafe = sorted({character for character in relative if not SAFE_PATH.fullmatch(character)})
        raise DataError(f"{printable(str(folder))}: results folder path {printable(relative)!r} contains {unsafe}, "
                        "which LaTeX cannot include; use a folder of letters, digits and /._+=,@-")
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
