"""Write report/generated/results.tex: the runs' metrics.json values as LaTeX macros.

    python -m report.make_results_tex              # results/ -> report/generated/results.tex
    python -m report.make_results_tex --speaker results-quick/speaker_verification \\
        --vae results-quick/vae_sevens_k3 --plain-vae results-quick/vae_sevens_k3_plain --quick

It reads, it does not compute or word: each run has a table, macro -> (metrics key, format). A
missing key, metrics file or figure, a value of the wrong kind or size (report/checked_metrics.py)
and a path LaTeX cannot take stop the build with one line naming the file, before pdflatex runs.
"""

import argparse
import os
import re
from pathlib import Path

from common import run_cli
from report.checked_metrics import checked_items, lookup, read_metrics, unprintable
from safety.errors import DataError, printable
from safety.run_folders import atomic_path

REPORT_DIR = Path(__file__).resolve().parent
RESULTS = REPORT_DIR.parent / "results"
# The first line of every file this script writes; --out replaces only a file that starts with it.
GENERATED_MARKER = "% Written by report/make_results_tex.py"
SPEAKER_FIGURES = ("curves.png", "score_histogram.png", "roc.png", "det.png", "embeddings_pca.png")
VAE_FIGURES = ("traversal.png", "effect.png", "reconstructions.png", "curves.png")
FIGURES_IF = dict.fromkeys(("Vae", "PlainVae"), {"replay.png": "completeness"})  # when replayed
HASH_DIGITS = 12  # of a sha256, enough to tell two data files apart in print
INDEX_NAMES = ("Zero", "One", "Two", "Three", "Four")  # list items, one per axis (macros: letters)
MISSING = "--"

LATEX_SPECIALS = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                  "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\textasciicircum{}",
                  "~": r"\textasciitilde{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "|": r"\textbar{}"}  # OT1 fonts misprint < > |
SAFE_PATH = re.compile(r"[A-Za-z0-9/._+=,@-]+")  # \includegraphics takes a path nearly verbatim


# ---------------------------------------------------------------- formats: value -> LaTeX
# Fractions as percentages with one decimal, AUC and correlations with three decimals, nats with
# one, whole seconds; null prints as MISSING (an axis: none).
def text(value) -> str:  # any text -> LaTeX that prints it literally
    return "".join(LATEX_SPECIALS.get(character, character) for character in str(value))


def signed(digits: str) -> str:  # a typographic minus instead of a hyphen
    return "$-$" + digits[1:] if digits.startswith("-") else digits


def places(count: int):  # places(3): 0.98123 -> 0.981
    return lambda value: signed(f"{value:.{count}f}")


def percent(fraction) -> str:  # 0.9344 -> 93.4\,\% (one decimal: the format .ci/run searches for)
    return signed(f"{100.0 * fraction:.1f}") + r"\,\%"


def integer(value) -> str:  # 12345 -> 12\,345 (thin-space thousands, as in print); 4.6 s -> 5
    return signed(f"{round(value):,}".replace(",", r"\,"))


def number(value) -> str:  # a setting as given: 1.0 -> 1, 0.001 -> 0.001
    return signed(f"{value:g}")


def significant(value) -> str:  # three significant digits: 1.0157 -> 1.02, 3.1e-05 -> 3.1 x 10^-5
    mantissa, _, exponent = f"{value:.3g}".partition("e")
    return signed(mantissa) + (f"$\\times 10^{{{int(exponent)}}}$" if exponent else "")


def digest(value) -> str:
    return text(str(value)[:HASH_DIGITS])


def count(items) -> str:  # a list's length: the number of validation speakers
    return integer(len(items))


def listed(items) -> str:  # a list as one macro: P_target 0.01, 0.05
    return ", ".join(map(number, items))


def dimension(value) -> str:  # an axis: 1 -> $z_{1}$; null (no effect) -> none
    return "none" if value is None else f"$z_{{{int(value)}}}$"


def macro(name: str, body: str) -> str:
    if not name.isalpha():
        raise ValueError(f"LaTeX macro names are letters only, got {name!r}")
    return f"\\newcommand{{\\{name}}}{{{body}}}"


def switch(name: str, value: bool) -> str:  # report.tex writes \ifName ... \else ... \fi
    return f"\\newif\\if{name}\\{name}{'true' if value else 'false'}"


# ---------------------------------------------------------------- one table per run
# A macro is the run's prefix and a name below (\SpeakerTestAUC, \VaeK); a key is a path into
# metrics.json, its steps joined by dots: "test_auc", "data.train.sha256", "data.train.shape.0".
DCF_SCORES = (("Test", "test_"), ("AllPairs", "test_all_pairs_"),
              ("BaselineTest", "baseline_test_"), ("BaselineAllPairs", "baseline_all_pairs_"),
              ("SnormTest", "snorm_test_"), ("SnormAllPairs", "snorm_test_all_pairs_"))

SPEAKER = {
    "TestAccuracy": ("test_accuracy", percent), "TestAUC": ("test_auc", places(3)),
    "TestEER": ("test_eer", percent), "AllPairsEER": ("test_all_pairs_eer", percent),
    "BaselineAccuracy": ("baseline_test_accuracy", percent),
    "BaselineBestThresholdAccuracy": ("baseline_test_best_threshold_accuracy", percent),
    "BaselineAUC": ("baseline_test_auc", places(3)), "BaselineEER": ("baseline_test_eer", percent),
    "BaselineAllPairsEER": ("baseline_all_pairs_eer", percent),
    # min DCF at P_target 0.01 (One) and 0.05 (Five) of every score; act DCF of the model's own
    **{f"{scores}{name}{cost}": (f"{prefix}{key}_{p}", places(3)) for scores, prefix in DCF_SCORES
       for name, key in (("MinDCF", "min_dcf"), ("ActDCF", "act_dcf"))
       for cost, p in (("One", "p01"), ("Five", "p05"))
       if key == "min_dcf" or not prefix.startswith(("baseline", "snorm"))},
    "TestCllr": ("test_cllr", places(3)), "AllPairsCllr": ("test_all_pairs_cllr", places(3)),
    "SnormTestEER": ("snorm_test_eer", percent),
    "SnormAllPairsEER": ("snorm_test_all_pairs_eer", percent),
    "SnormValidationEER": ("snorm_validation_eer", percent),
    "ValidationEER": ("validation_eer", percent), "CohortTop": ("cohort_top", integer),
    "CohortUtterances": ("cohort_utterances", integer),
    "TrainAccuracy": ("train_accuracy", percent),
    "ValidationAccuracy": ("validation_accuracy", percent),
    "Threshold": ("decision_threshold", number), "ChosenEpoch": ("chosen_epoch", integer),
    "Epochs": ("epochs", integer), "Parameters": ("parameters", integer), "Seed": ("seed", integer),
    "PairsPerSpeaker": ("pairs_per_speaker", integer),
    "FitSpeakers": ("training_speakers", integer),
    "FinalSpeakers": ("final_training_speakers", integer),
    "ValidationSpeakers": ("validation_speakers", count),
    "TestSpeakers": ("test_speakers", integer), "TestPairs": ("test_pairs", integer),
    "TestAllPairs": ("test_all_pairs", integer), "TrainSeconds": ("train_seconds", integer),
    "Seconds": ("seconds", integer), "Device": ("device", text), "Threads": ("threads", integer),
    "Feature": ("feature", text), "MagnitudeReference": ("magnitude_reference", significant),
    "NFFT": ("n_fft", integer), "Hop": ("hop", integer), "Bins": ("bins", integer),
    "TrainFrames": ("frames.train", integer), "TestFrames": ("frames.test", integer),
    "UtterancesPerSpeaker": ("utterances_per_speaker", integer), "Warp": ("warp", number),
    "PTargets": ("p_targets", listed), "EmbeddingDim": ("embedding_dim", integer),
    "InitialScale": ("initial_scale", number), "InitialBias": ("initial_bias", number),
    "LearningRate": ("lr", number), "WeightDecay": ("weight_decay", number),
    "CalibrationFactor": ("calibration_lr_factor", number),
    "ShortestCrop": ("shortest_crop", percent), "Model": ("model", text),
    "TrainUtterances": ("data.train.shape.0", integer),
    "TrainSamples": ("data.train.shape.1", integer), "TrainHash": ("data.train.sha256", digest),
    "TestUtterances": ("data.test.shape.0", integer), "TestSamples": ("data.test.shape.1", integer),
    "TestHash": ("data.test.sha256", digest),
}

# Both vae_sevens.py runs write the same keys: one table, read as Vae and again as PlainVae.
VAE = {
    "Model": ("model", text), "K": ("k", integer), "Seed": ("seed", integer),
    "Epochs": ("epochs", integer), "BatchSize": ("batch_size", integer),
    "LearningRate": ("lr", number), "Device": ("device", text), "Threads": ("threads", integer),
    "Beta": ("objective.beta", number), "TCWeight": ("objective.tc_weight", number),
    "GreyLevelWeight": ("objective.grey_level_weight", number),
    "TraversalLimit": ("traversal_limit", number), "FigureRows": ("figure_rows", integer),
    "FitQuantile": ("fit_quantiles", percent), "Seconds": ("seconds", integer),
    "TrainImages": ("data.train.shape.0", integer), "TrainHash": ("data.train.sha256", digest),
    "FitImages": ("data.train.train_rows", integer),
    "ValidationImages": ("data.train.validation_rows", integer),
    "TestImages": ("data.test.shape.0", integer), "TestHash": ("data.test.sha256", digest),
    "NegElbo": ("test_neg_elbo", places(1)), "Reconstruction": ("test_reconstruction", places(1)),
    "KL": ("test_kl", places(2)), "KLPerLatent": ("kl_per_latent", places(2)),
    "AxisScore": ("axis_scores", places(2)), "SpreadMargin": ("spread_margin", number),
    "EffectDimension": ("effect_dimension", dimension), "EffectFamily": ("effect_family", text),
    "EffectKind": ("effect_kind", text), "EffectSentence": ("effect_sentence", text),
    "Explained": ("explained_fraction", percent), "ExplainedNull": ("explained_null", percent),
    "CriticAccuracy": ("critic_accuracy", percent), "CriticZ": ("critic_z", places(1)),
    "ShareChanged": ("share_changed", percent), "CriticReproduced": ("critic_reproduced", percent),
    "ReproducedFloor": ("reproduced_floor", percent), "Roughness": ("roughness_ratio", places(2)),
    "RoughnessNull": ("roughness_null", places(2)), "TruthFile": ("truth_file", text),
    "Spearman": ("spearman_with_truth", places(3)),
    "EffectAbsSpearman": ("effect_dimension_abs_spearman", places(3)),
    "BestAbsSpearman": ("best_abs_spearman", places(3)),
    "BestSpearmanDimension": ("best_spearman_dimension", dimension),
    "GuidedLatent": ("guided_latent", integer), "GuideEpochs": ("guide_epochs", integer),
    "GuideWeight": ("guide_weight", number), "EffectConfidence": ("effect_confidence", text),
    "Completeness": ("completeness", places(2)), "ReplayCriticZ": ("replay_critic_z", places(1)),
    "ReplayCriticAccuracy": ("replay_critic_accuracy", percent),
    "DescriptorFamily": ("descriptor_family", text), "DescriptorKind": ("descriptor_kind", text),
}

# \if switches: name -> (key, test of its value).
VAE_SWITCHES = {
    "HasEffect": ("effect_dimension", lambda value: value is not None),
    "HasTruth": ("truth_file", lambda value: value is not None),
    "ImagesDiffer": ("images_differ", lambda value: value is True),
    "Guided": ("guided_latent", lambda value: value is not None),
    "CrossChecked": ("critic_reproduced", lambda value: value is not None),
    "Replayed": ("completeness", lambda value: value is not None),
}

# Keys with one macro per item of their value, and its container (count, listed: the list whole).
PER_ITEM = {"kl_per_latent": list, "axis_scores": list, "spearman_with_truth": list,
            "fit_quantiles": list, "explained_fraction": dict, "explained_null": dict}

# What each format takes (checked_metrics.unprintable); every other format takes a number.
TAKES = {text: "text", digest: "text", dimension: "axis", count: "list", listed: "numbers"}

# The runs the report quotes: macro prefix -> (the figures beside its metrics.json, table, switches)
RUNS = {"Speaker": (SPEAKER_FIGURES, SPEAKER, {}), "Vae": (VAE_FIGURES, VAE, VAE_SWITCHES),
        "PlainVae": (VAE_FIGURES, VAE, VAE_SWITCHES)}


# ---------------------------------------------------------------- macros of a run
def run_macros(prefix: str, path: Path, metrics: dict) -> list[str]:
    """The run's macros, one per table entry or per item of a PER_ITEM key, then its switches."""
    _, table, switches = RUNS[prefix]
    lines = []
    for name, (key, form) in table.items():
        value, where = lookup(path, metrics, key), f"{path}: '{key}'"
        items = {"": value} if key not in PER_ITEM or value is None else per_item(value, key, where)
        lines += [macro(prefix + name + suffix, printed(item, form, where))
                  for suffix, item in items.items()]
    return lines + [switch(prefix + name, test(lookup(path, metrics, key)))
                    for name, (key, test) in switches.items()]


def per_item(value, key: str, where: str) -> dict:
    """{macro suffix: item}: a list's items Zero, One, ...; a dict's stroke-width -> StrokeWidth."""
    value = checked_items(value, PER_ITEM[key], where)
    if isinstance(value, list):
        return dict(zip(INDEX_NAMES, value))
    return {"".join(map(str.capitalize, name.split("-"))): item for name, item in value.items()}


def printed(value, form, where: str) -> str:
    """form(value), or MISSING for null (an axis: none); a value of another kind or size than
    `form` prints is a DataError naming the file and the key (`where`)."""
    if value is None:
        return dimension(None) if form is dimension else MISSING
    if problem := unprintable(value, TAKES.get(form, "number")):
        raise DataError(f"{where}: {problem}")
    return form(value)


def tex_path(folder: Path, tex_dir: Path) -> str:
    """The folder as \\includegraphics sees it from tex_dir (where pdflatex runs), / separated."""
    relative = Path(os.path.relpath(Path(folder).resolve(), Path(tex_dir).resolve())).as_posix()
    if not SAFE_PATH.fullmatch(relative):
        unsafe = sorted({character for character in relative if not SAFE_PATH.fullmatch(character)})
        raise DataError(f"{printable(str(folder))}: results folder path {printable(relative)!r} "
                        f"contains {unsafe}, which LaTeX cannot include; "
                        "use a folder of letters, digits and /._+=,@-")
    return relative


# ---------------------------------------------------------------- main
def check_out(path: Path) -> None:
    """--out must be new, or a file starting with GENERATED_MARKER (not `--out data/trs.pkl`)."""
    if not os.path.lexists(path):
        return
    if not path.is_file():
        raise DataError(f"{path}: exists and is not a file; refusing to replace it "
                        "(--out names the .tex file)")
    with open(path, "rb") as stream:
        if stream.read(len(GENERATED_MARKER)) != GENERATED_MARKER.encode():
            raise DataError(f"{path}: exists and was not written by report/make_results_tex.py "
                            f"(no '{GENERATED_MARKER}' first line); refusing to overwrite it")


def results_tex(runs: dict, folders: dict, quick: bool = False) -> str:
    """runs: prefix -> (metrics.json, metrics); folders: prefix -> folder as LaTeX includes it."""
    lines = [f"{GENERATED_MARKER} from the runs' metrics.json; do not edit."]
    for prefix, folder in folders.items():  # \SpeakerDir to include, \SpeakerDirText to print
        lines += [macro(prefix + "Dir", folder), macro(prefix + "DirText", text(folder))]
    for prefix, (path, metrics) in runs.items():
        lines += run_macros(prefix, path, metrics)
    quick = quick or any(metrics.get("quick") is True for _, metrics in runs.values())
    return "\n".join(lines + [switch("QuickRun", quick)]) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for option, folder, what in (("--speaker", "speaker_verification", "speaker run folder"),
                                 ("--vae", "vae_sevens_k3", "vae_sevens.py --k 3 run folder"),
                                 ("--plain-vae", "vae_sevens_k3_plain", "--plain run folder")):
        parser.add_argument(option, type=Path, default=RESULTS / folder, help=what)
    parser.add_argument("--out", type=Path, default=REPORT_DIR / "generated" / "results.tex",
                        help="file to write; it replaces only a file this script wrote")
    parser.add_argument("--tex-dir", type=Path, default=REPORT_DIR, help="where pdflatex runs")
    parser.add_argument("--quick", action="store_true", help="--quick runs: the PDF says so")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    check_out(args.out)
    folders = {"Speaker": args.speaker, "Vae": args.vae, "PlainVae": args.plain_vae}
    runs = {prefix: read_metrics(folder, RUNS[prefix][0], FIGURES_IF.get(prefix))
            for prefix, folder in folders.items()}
    tex_folders = {prefix: tex_path(folder, args.tex_dir) for prefix, folder in folders.items()}
    with atomic_path(args.out) as temporary:
        temporary.write_text(results_tex(runs, tex_folders, args.quick))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run_cli(main)
