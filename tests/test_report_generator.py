"""report/make_results_tex.py writes the runs' numbers as LaTeX macros, or stops with one line."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from report import make_results_tex
from safety.errors import DataError

REPO = Path(__file__).resolve().parent.parent
GENERATOR = [sys.executable, "-m", "report.make_results_tex"]


# ---------------------------------------------------------------- sample runs (hand-written)

FAMILIES = ("symmetry", "geometry", "tone", "content", "filter")


def speaker_metrics(**changes) -> dict:
    metrics = {
        "script": "speaker_verification.py", "model": "Siamese: <e_a, e_b>", "seed": 0,
        "quick": False, "seconds": 150.6, "threads": 1, "device": "cpu",
        "data": {"train": {"shape": [500, 16180], "sha256": "ab" * 32},
                 "test": {"shape": [200, 22631], "sha256": "cd" * 32}},
        "test_accuracy": 0.93444, "test_auc": 0.98123, "test_eer": 0.0712,
        "test_all_pairs_eer": 0.0801, "baseline_test_accuracy": 0.7411,
        "baseline_test_auc": 0.8123, "baseline_test_eer": 0.2601,
        "baseline_all_pairs_eer": 0.2702, "baseline_test_best_threshold_accuracy": 0.7623,
        "train_accuracy": 0.99, "validation_accuracy": 0.95, "decision_threshold": 0.5,
        "chosen_epoch": 17, "epochs": 30, "train_seconds": 123.4, "parameters": 312898,
        "pairs_per_speaker": 45, "training_speakers": 40, "final_training_speakers": 50,
        "validation_speakers": list(range(10)), "test_speakers": 20,
        "test_pairs": 1800, "test_all_pairs": 19900, "feature": "log(1 + |STFT|), n_fft 1024",
        "n_fft": 1024, "hop": 512, "magnitude_reference": 1.0157, "bins": 513,
        "frames": {"train": 32, "test": 45}, "utterances_per_speaker": 10,
        "warp": 0.12, "p_targets": [0.01, 0.05], "embedding_dim": 64, "initial_scale": 10.0,
        "initial_bias": -5.0, "lr": 0.001, "weight_decay": 0.0001, "calibration_lr_factor": 10,
        "shortest_crop": 0.5, "validation_eer": 0.081, "cohort_top": 100,
        "cohort_utterances": 500, "test_cllr": 0.301, "test_all_pairs_cllr": 0.299,
        "snorm_validation_eer": 0.071, "snorm_test_eer": 0.0612,
        "snorm_test_all_pairs_eer": 0.0633,
    }
    for prefix in ("test_", "test_all_pairs_", "baseline_test_", "baseline_all_pairs_",
                   "snorm_test_", "snorm_test_all_pairs_"):
        metrics.update({f"{prefix}min_dcf_p01": 0.512, f"{prefix}min_dcf_p05": 0.311})
        if not prefix.startswith(("baseline", "snorm")):
            metrics.update({f"{prefix}act_dcf_p01": 4.87, f"{prefix}act_dcf_p05": 1.23})
    metrics.update(changes)
    return metrics


def vae_metrics(plain=False, effect=1, **changes) -> dict:
    found = effect is not None
    metrics = {
        "script": "vae_sevens.py",
        "model": "the homework's plain VAE" if plain else "beta-TC-VAE (beta 2)",
        "plain": plain, "k": 3, "seed": 0, "quick": False, "device": "cpu", "threads": 1,
        "seconds": 80.2,
        "data": {"train": {"shape": [6265, 28, 28], "sha256": "ef" * 32, "train_rows": 5638,
                           "validation_rows": 627},
                 "test": {"shape": [1028, 28, 28], "sha256": "01" * 32},
                 "reference": {"shape": [6265, 28, 28]}},
        "epochs": 30, "batch_size": 128, "lr": 0.001,
        "objective": {"beta": 1.0, "tc_weight": 1.0, "grey_level_weight": 0.0} if plain else
                     {"beta": 2.0, "tc_weight": 6.0, "grey_level_weight": 1.0},
        "traversal_limit": 5.0, "figure_rows": 3, "fit_quantiles": [0.1, 0.5, 0.9],
        "test_neg_elbo": 101.25, "test_reconstruction": 90.0, "test_kl": 11.25,
        "kl_per_latent": [3.0, 5.0, 3.25], "axis_scores": [8.9, 1.2, 0.7], "spread_margin": 2.0,
        "effect_dimension": effect, "effect_kind": "rotation" if found else "none",
        "effect_family": "geometry" if found else "none",
        "effect_sentence": "geometry (rotation): 25 degrees counter-clockwise per unit of z0; "
                           "explains 80% of the change along it (null 40%)",
        "explained_fraction":
            {family: 0.1 for family in FAMILIES} | {"geometry": 0.8} if found else None,
        "explained_null": {family: 0.1 for family in FAMILIES} | {"geometry": 0.4},
        "critic_accuracy": 0.88, "critic_z": 60.5, "images_differ": True, "share_changed": 0.7,
        "roughness_ratio": 0.77, "roughness_null": 1.02, "change_place": "rows 6-25, columns 6-20",
        "truth_file": "te7_truth_rotation.npy", "spearman_with_truth": [0.1, -0.93, 0.2],
        "effect_dimension_abs_spearman": 0.93 if found else None,
        "best_abs_spearman": 0.93, "best_spearman_dimension": 1, "history": [],
        "guided_latent": None, "guide_epochs": 10, "guide_weight": 20.0,
        "critic_reproduced": 0.62 if found else None, "reproduced_floor": 0.25,
        "effect_confidence": "complete", "completeness": 0.93 if found else None,
        "replay_critic_accuracy": 0.512 if found else None,
        "replay_critic_z": 1.1 if found else None,
        "descriptor_family": "geometry" if found else "none",
        "descriptor_kind": "rotation" if found else "none",
    }
    metrics.update(changes)
    return metrics


def macros_of(text: str) -> dict:
    """{name: body} of the \\newcommand lines (one-line bodies)."""
    return dict(re.findall(r"^\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}$", text, flags=re.M))


def write_run(folder: Path, metrics: dict, figures) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in figures:
        (folder / name).write_bytes(b"\x89PNG sample")
    return folder


def sample_runs(root: Path, speaker=None, vae=None, plain=None) -> list:
    """The three runs written under root/results; the generator's options that name them."""
    runs = [("speaker_verification", speaker or speaker_metrics(),
             make_results_tex.SPEAKER_FIGURES),
            ("vae_sevens_k3", vae or vae_metrics(), make_results_tex.VAE_FIGURES),
            ("vae_sevens_k3_plain", plain or vae_metrics(plain=True, effect=None),
             make_results_tex.VAE_FIGURES)]
    runs = [(name, metrics, figures + (("replay.png",) if metrics.get("completeness") else ()))
            for name, metrics, figures in runs]  # a replayed answer's figure
    folders = [write_run(root / "results" / name, metrics, figures)
               for name, metrics, figures in runs]
    return ["--speaker", str(folders[0]), "--vae", str(folders[1]), "--plain-vae", str(folders[2])]


def generate(tmp_path: Path, *extra, **runs) -> str:
    out = tmp_path / "report" / "generated" / "results.tex"
    make_results_tex.main(sample_runs(tmp_path, **runs)
                          + ["--out", str(out), "--tex-dir", str(tmp_path / "report"), *extra])
    return out.read_text()


def run_generator(arguments: list) -> subprocess.CompletedProcess:
    """The generator as `make report` runs it: a process, from the checkout's root."""
    return subprocess.run(GENERATOR + arguments, cwd=REPO, capture_output=True, text=True)


# ---------------------------------------------------------------- the formats and the macros


def test_percent_uses_pythons_one_decimal_rounding_that_ci_searches_for():
    for fraction in np.random.default_rng(0).uniform(0, 1, 200):
        assert make_results_tex.percent(fraction) == f"{100 * fraction:.1f}" + r"\,\%"


def test_significant_keeps_three_digits_at_any_scale_in_latex_notation():
    assert make_results_tex.significant(1.0157) == "1.02"
    assert make_results_tex.significant(0.015749) == "0.0157"
    assert make_results_tex.significant(31234.5) == r"3.12$\times 10^{4}$"
    assert make_results_tex.significant(3.1e-05) == r"3.1$\times 10^{-5}$"


def test_each_macro_comes_from_its_metrics_key(tmp_path):
    macros = macros_of(generate(tmp_path))
    assert macros["SpeakerTestAccuracy"] == r"93.4\,\%"  # test_accuracy
    assert macros["SpeakerTestAUC"] == "0.981"
    assert macros["SpeakerSeconds"] == "151"
    assert macros["SpeakerValidationSpeakers"] == "10"  # the length of validation_speakers
    assert macros["SpeakerTestSamples"] == r"22\,631"  # data.test.shape[1]
    assert macros["SpeakerTrainHash"] == "ab" * 6
    assert macros["SpeakerModel"] == r"Siamese: \textless{}e\_a, e\_b\textgreater{}"  # escaped
    assert macros["SpeakerFeature"] == r"log(1 + \textbar{}STFT\textbar{}), n\_fft 1024"
    # a path for \includegraphics: not escaped
    assert macros["SpeakerDir"] == "../results/speaker_verification"
    # a list as one macro
    assert macros["SpeakerPTargets"] == "0.01, 0.05" and macros["SpeakerTrainFrames"] == "32"
    assert macros["SpeakerShortestCrop"] == r"50.0\,\%"
    assert macros["SpeakerLearningRate"] == "0.001"
    assert macros["VaeBeta"] == "2" and macros["VaeFitQuantileZero"] == r"10.0\,\%"
    assert macros["VaeNegElbo"] == "101.2"  # 101.25 rounds half to even, as Python's format does
    assert macros["VaeFitImages"] == r"5\,638"
    assert macros["VaeEffectDimension"] == "$z_{1}$" and macros["VaeEffectKind"] == "rotation"
    assert macros["VaeEffectSentence"].endswith(r"change along it (null 40\%)")
    assert macros["VaeAxisScoreZero"] == "8.90" and macros["VaeSpearmanOne"] == "$-$0.930"
    assert macros["VaeExplainedGeometry"] == r"80.0\,\%"
    assert macros["VaeExplainedNullGeometry"] == r"40.0\,\%"
    assert macros["VaeCriticReproduced"] == r"62.0\,\%"
    assert macros["VaeReproducedFloor"] == r"25.0\,\%"
    assert macros["PlainVaeModel"] == "the homework's plain VAE"
    assert macros["PlainVaeEffectDimension"] == "none"
    assert macros["PlainVaeEffectAbsSpearman"] == "--"
    assert "PlainVaeExplainedGeometry" not in macros  # null: report.tex prints -- through \orna


def test_switches_and_the_quick_mark(tmp_path):
    text = generate(tmp_path)
    assert r"\newif\ifVaeHasEffect\VaeHasEffecttrue" in text
    assert r"\newif\ifPlainVaeHasEffect\PlainVaeHasEffectfalse" in text
    assert r"\newif\ifVaeImagesDiffer\VaeImagesDiffertrue" in text
    assert r"\newif\ifQuickRun\QuickRunfalse" in text
    assert r"\newif\ifQuickRun\QuickRuntrue" in generate(tmp_path / "quick", "--quick")


def test_every_macro_report_tex_uses_is_written_once(tmp_path):
    text = generate(tmp_path, plain=vae_metrics(plain=True))
    names = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", text)
    names += re.findall(r"\\newif\\if([A-Za-z]+)", text)
    assert len(names) == len(set(names))
    report = (REPO / "report" / "report.tex").read_text()
    used = set(re.findall(r"\\(?:if)?((?:Speaker|Vae|PlainVae)[A-Za-z]*)", report))
    used |= set(re.findall(r"\\orna\{(\w+)\}", report))  # per-item macros, "--" when absent
    assert used <= set(names), sorted(used - set(names))


def test_the_generator_imports_no_torch_and_no_script():
    generator = str(REPO / "report" / "make_results_tex.py")
    scripts = "{'torch', 'speaker_verification', 'vae_sevens', 'make_data'}"
    code = (f"import runpy, sys; runpy.run_path({generator!r}); "
            f"print(sorted({scripts} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- bad input: one line, no output


def test_a_missing_key_figure_or_metrics_file_is_one_line_exit_2_and_no_output(tmp_path):
    vae = vae_metrics()
    del vae["effect_kind"]
    out = tmp_path / "results.tex"
    result = run_generator(sample_runs(tmp_path, vae=vae) + ["--out", str(out)])
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "vae_sevens_k3/metrics.json: expected the key 'effect_kind', not found" in result.stderr
    assert not out.exists()
    runs = sample_runs(tmp_path / "figure")
    (tmp_path / "figure" / "results" / "vae_sevens_k3_plain" / "effect.png").unlink()
    result = run_generator(runs + ["--out", str(out)])
    assert result.returncode == 2
    assert "vae_sevens_k3_plain: expected the figures effect.png" in result.stderr
    (tmp_path / "figure" / "results" / "vae_sevens_k3" / "replay.png").unlink()
    (tmp_path / "figure" / "results" / "vae_sevens_k3_plain" / "effect.png").write_bytes(b"PNG")
    result = run_generator(runs + ["--out", str(out)])
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "vae_sevens_k3: expected the figures replay.png beside metrics.json" in result.stderr
    (tmp_path / "figure" / "results" / "speaker_verification" / "metrics.json").unlink()
    result = run_generator(runs + ["--out", str(out)])
    assert result.returncode == 2
    assert "speaker_verification/metrics.json: file not found" in result.stderr
    with pytest.raises(DataError, match=r"could not parse it: NaN is not a JSON number"):
        generate(tmp_path / "nan", speaker=speaker_metrics(test_eer=float("nan")))


@pytest.mark.parametrize("changes, message", [
    ({"explained_fraction": {"rotation x": 0.8}},
     "'explained_fraction': has the key 'rotation x'"),
    ({"k": [1, 2]}, "'k': expected a number, found a list"),
    ({"kl_per_latent": 3.0}, "'kl_per_latent': expected a list, found a number"),
    ({"kl_per_latent": list(range(6))}, "'kl_per_latent': expected at most 5 items"),
    ({"fit_quantiles": ["0.5"]}, "'fit_quantiles': expected a number, found a string"),
    ({"test_neg_elbo": True}, "'test_neg_elbo': expected a number, found true/false"),
    ({"test_neg_elbo": 1e300}, "expected a finite number of at most 1e+15"),
    ({"model": "x" * 3_000_000}, "found 3,000,000 characters"),
    ({"model": "beta\tTC"}, "a tab, newline or other control character"),
    ({"effect_sentence": "contrast, ink nanx darker or fainter"},
     "holds 'nan', a number the run could not compute"),
    ({"effect_dimension": "z1"}, "expected an axis 0..4 or null"),
    ({"_path": "/etc/passwd", "k": "three"}, "vae_sevens_k3/metrics.json: 'k': expected a number"),
])
def test_a_value_of_the_wrong_kind_or_size_is_one_line_naming_the_real_file(tmp_path, changes,
                                                                           message):
    out = tmp_path / "results.tex"
    result = run_generator(sample_runs(tmp_path, vae=vae_metrics(**changes)) + ["--out", str(out)])
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and message in result.stderr
    assert str(tmp_path / "results" / "vae_sevens_k3" / "metrics.json") in result.stderr
    assert not out.exists()


def test_metrics_nested_too_deep_to_parse_is_one_line(tmp_path):
    runs = sample_runs(tmp_path)
    deep = '{"k": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / "results" / "vae_sevens_k3" / "metrics.json").write_text(deep)
    result = run_generator(runs + ["--out", str(tmp_path / "results.tex")])
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "could not parse it" in result.stderr


@pytest.mark.parametrize("name",
                         ['say"cheese', "tab\there", "new\nline", "caf\u00e9", "my results", "a%b"])
def test_a_results_folder_name_latex_cannot_take_is_refused_by_the_generator(tmp_path, name):
    with pytest.raises(DataError, match="which LaTeX cannot include") as error:
        make_results_tex.tex_path(tmp_path / name, tmp_path)
    assert "\n" not in str(error.value) and "\t" not in str(error.value)


def test_out_not_written_by_the_generator_is_refused_and_left_as_it_was(tmp_path):
    command = sample_runs(tmp_path) + ["--out"]
    speech = tmp_path / "trs.pkl"
    speech.write_bytes(b"\x80\x04 speech, not TeX")
    result = run_generator(command + [str(speech)])
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "not written by report/make_results_tex.py" in result.stderr
    assert speech.read_bytes() == b"\x80\x04 speech, not TeX"
    result = run_generator(command + [str(tmp_path)])
    assert result.returncode == 2 and "is not a file" in result.stderr
    generated = tmp_path / "results.tex"  # one it wrote itself is replaced
    generated.write_text(make_results_tex.GENERATED_MARKER + " from an earlier run\n")
    assert run_generator(command + [str(generated)]).returncode == 0
    assert r"\SpeakerTestAccuracy" in generated.read_text()


def test_a_results_path_latex_cannot_include_is_refused(tmp_path):
    with pytest.raises(DataError, match="contains"):
        make_results_tex.tex_path(tmp_path / "my results", tmp_path)
    folder = tmp_path / "results-quick" / "vae_k3.v2"
    assert make_results_tex.tex_path(folder, tmp_path) == "results-quick/vae_k3.v2"
