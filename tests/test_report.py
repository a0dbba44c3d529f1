"""make_results_tex.py writes the report's numbers as LaTeX macros; report/ensure_tex.sh finds or installs TeX."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from safety.errors import DataError

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_results_tex", REPO / "report" / "make_results_tex.py")
make_results_tex = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_results_tex)

ENSURE_TEX = REPO / "report" / "ensure_tex.sh"
TEX_TOOLS = ("pdflatex", "latexmk", "pdftotext", "pdffonts")


# ---------------------------------------------------------------- sample runs (hand-written, not results)

FAMILIES = ("symmetry", "geometry", "tone", "content", "filter")


def speaker_metrics(**changes) -> dict:
    metrics = {
        "script": "speaker_verification.py", "model": "Siamese: <e_a, e_b>", "seed": 0, "quick": False,
        "seconds": 150.6, "threads": 1, "device": "cpu",
        "data": {"train": {"shape": [500, 16180], "sha256": "ab" * 32},
                 "test": {"shape": [200, 22631], "sha256": "cd" * 32}},
        "test_accuracy": 0.93444, "test_auc": 0.98123, "test_eer": 0.0712, "test_all_pairs_eer": 0.0801,
        "baseline_test_accuracy": 0.7411, "baseline_test_auc": 0.8123, "baseline_test_eer": 0.2601,
        "baseline_all_pairs_eer": 0.2702, "baseline_test_best_threshold_accuracy": 0.7623,
        "train_accuracy": 0.99, "validation_accuracy": 0.95, "decision_threshold": 0.5,
        "chosen_epoch": 17, "epochs": 30, "train_seconds": 123.4, "parameters": 312898,
        "pairs_per_speaker": 45, "training_speakers": 40, "final_training_speakers": 50,
        "validation_speakers": list(range(10)), "test_speakers": 20,
        "test_pairs": 1800, "test_all_pairs": 19900, "feature": "log(1 + |STFT|), n_fft 1024",
        "n_fft": 1024, "hop": 512, "magnitude_reference": 1.0157, "bins": 513, "frames": {"train": 32, "test": 45}, "utterances_per_speaker": 10,
        "warp": 0.12, "p_targets": [0.01, 0.05], "embedding_dim": 64, "initial_scale": 10.0, "initial_bias": -5.0,
        "lr": 0.001, "weight_decay": 0.0001, "calibration_lr_factor": 10, "shortest_crop": 0.5,
        "validation_eer": 0.081, "cohort_top": 100, "cohort_utterances": 500,
        "test_cllr": 0.301, "test_all_pairs_cllr": 0.299,
        "snorm_validation_eer": 0.071, "snorm_test_eer": 0.0612, "snorm_test_all_pairs_eer": 0.0633,
    }
    for prefix in ("test_", "test_all_pairs_", "baseline_test_", "baseline_all_pairs_", "snorm_test_",
                   "snorm_test_all_pairs_"):
        metrics.update({f"{prefix}min_dcf_p01": 0.512, f"{prefix}min_dcf_p05": 0.311})
        if not prefix.startswith(("baseline", "snorm")):
            metrics.update({f"{prefix}act_dcf_p01": 4.87, f"{prefix}act_dcf_p05": 1.23})
    metrics.update(changes)
    return metrics


def vae_metrics(plain=False, effect=1, **changes) -> dict:
    metrics = {
        "script": "vae_sevens.py", "model": "the homework's plain VAE" if plain else "beta-TC-VAE (beta 2)",
        "plain": plain, "k": 3, "seed": 0, "quick": False, "device": "cpu", "threads": 1, "seconds": 80.2,
        "data": {"train": {"shape": [6265, 28, 28], "sha256": "ef" * 32, "train_rows": 5638, "validation_rows": 627},
                 "test": {"shape": [1028, 28, 28], "sha256": "01" * 32}, "reference": {"shape": [6265, 28, 28]}},
        "epochs": 30, "batch_size": 128, "lr": 0.001,
        "objective": {"beta": 1.0, "tc_weight": 1.0, "grey_level_weight": 0.0} if plain else
                     {"beta": 2.0, "tc_weight": 6.0, "grey_level_weight": 1.0},
        "traversal_limit": 5.0, "figure_rows": 3, "fit_quantiles": [0.1, 0.5, 0.9],
        "test_neg_elbo": 101.25, "test_reconstruction": 90.0, "test_kl": 11.25, "kl_per_latent": [3.0, 5.0, 3.25],
        "axis_scores": [8.9, 1.2, 0.7], "spread_margin": 2.0,
        "effect_dimension": effect, "effect_kind": "rotation" if effect is not None else "none",
        "effect_family": "geometry" if effect is not None else "none",
        "effect_sentence": "geometry (rotation): 25 degrees counter-clockwise per unit of z0; explains 80% of the "
                           "change along it (null 40%)",
        "explained_fraction": {family: 0.1 for family in FAMILIES} | {"geometry": 0.8} if effect is not None else None,
        "explained_null": {family: 0.1 for family in FAMILIES} | {"geometry": 0.4},
        "critic_accuracy": 0.88, "critic_z": 60.5, "images_differ": True, "share_changed": 0.7,
        "roughness_ratio": 0.77, "roughness_null": 1.02, "change_place": "rows 6-25, columns 6-20",
        "truth_file": "te7_truth_rotation.npy",
        "spearman_with_truth": [0.1, -0.93, 0.2], "effect_dimension_abs_spearman": 0.93 if effect is not None else None,
        "best_abs_spearman": 0.93, "best_spearman_dimension": 1, "history": [],
        "guided_latent": None, "guide_epochs": 10, "guide_weight": 20.0,
        "critic_reproduced": 0.62 if effect is not None else None, "reproduced_floor": 0.25,
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
    runs = [("speaker_verification", speaker or speaker_metrics(), make_results_tex.SPEAKER_FIGURES),
            ("vae_sevens_k3", vae or vae_metrics(), make_results_tex.VAE_FIGURES),
            ("vae_sevens_k3_plain", plain or vae_metrics(plain=True, effect=None), make_results_tex.VAE_FIGURES)]
    folders = [write_run(root / "results" / name, metrics, figures) for name, metrics, figures in runs]
    return ["--speaker", str(folders[0]), "--vae", str(folders[1]), "--plain-vae", str(folders[2])]


def generate(tmp_path: Path, *extra, **runs) -> str:
    out = tmp_path / "report" / "generated" / "results.tex"
    make_results_tex.main(sample_runs(tmp_path, **runs) + ["--out", str(out), "--tex-dir", str(tmp_path / "report"),
                                                           *extra])
    return out.read_text()


GENERATOR = [sys.executable, "-m", "report.make_results_tex"]


# ---------------------------------------------------------------- the generator


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
    assert macros["SpeakerDir"] == "../results/speaker_verification"  # a path for \includegraphics: not escaped
    assert macros["SpeakerPTargets"] == "0.01, 0.05" and macros["SpeakerTrainFrames"] == "32"  # a list as one macro
    assert macros["SpeakerShortestCrop"] == r"50.0\,\%" and macros["SpeakerLearningRate"] == "0.001"
    assert macros["VaeBeta"] == "2" and macros["VaeFitQuantileZero"] == r"10.0\,\%"
    assert macros["VaeNegElbo"] == "101.2"  # 101.25 rounds half to even, as Python's format does
    assert macros["VaeFitImages"] == r"5\,638"
    assert macros["VaeEffectDimension"] == "$z_{1}$" and macros["VaeEffectKind"] == "rotation"
    assert macros["VaeEffectSentence"].endswith(r"change along it (null 40\%)")
    assert macros["VaeAxisScoreZero"] == "8.90" and macros["VaeSpearmanOne"] == "$-$0.930"
    assert macros["VaeExplainedGeometry"] == r"80.0\,\%" and macros["VaeExplainedNullGeometry"] == r"40.0\,\%"
    assert macros["VaeCriticReproduced"] == r"62.0\,\%" and macros["VaeReproducedFloor"] == r"25.0\,\%"
    assert macros["PlainVaeModel"] == "the homework's plain VAE"
    assert macros["PlainVaeEffectDimension"] == "none" and macros["PlainVaeEffectAbsSpearman"] == "--"
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
    names = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", text) + re.findall(r"\\newif\\if([A-Za-z]+)", text)
    assert len(names) == len(set(names))
    report = (REPO / "report" / "report.tex").read_text()
    used = set(re.findall(r"\\(?:if)?((?:Speaker|Vae|PlainVae)[A-Za-z]*)", report))
    used |= set(re.findall(r"\\orna\{(\w+)\}", report))  # per-item macros, "--" when absent
    assert used <= set(names), sorted(used - set(names))


def test_the_generator_imports_no_torch_and_no_script():
    code = f"import runpy, sys; runpy.run_path({str(REPO / 'report' / 'make_results_tex.py')!r}); " \
           "print(sorted({'torch', 'speaker_verification', 'vae_sevens', 'make_data'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_a_missing_key_figure_or_metrics_file_is_one_line_exit_2_and_no_output(tmp_path):
    vae = vae_metrics()
    del vae["effect_kind"]
    out = tmp_path / "results.tex"
    result = subprocess.run(GENERATOR + sample_runs(tmp_path, vae=vae) + ["--out", str(out)], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "vae_sevens_k3/metrics.json: expected the key 'effect_kind', not found" in result.stderr
    assert not out.exists()
    runs = sample_runs(tmp_path / "figure")
    (tmp_path / "figure" / "results" / "vae_sevens_k3_plain" / "effect.png").unlink()
    result = subprocess.run(GENERATOR + runs + ["--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "vae_sevens_k3_plain: expected the figures effect.png" in result.stderr
    (tmp_path / "figure" / "results" / "speaker_verification" / "metrics.json").unlink()
    result = subprocess.run(GENERATOR + runs + ["--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "speaker_verification/metrics.json: file not found" in result.stderr
    with pytest.raises(DataError, match=r"could not parse it: NaN is not a JSON number"):
        generate(tmp_path / "nan", speaker=speaker_metrics(test_eer=float("nan")))


@pytest.mark.parametrize("changes, message", [
    ({"explained_fraction": {"rotation x": 0.8}}, "'explained_fraction': has the key 'rotation x'"),
    ({"k": [1, 2]}, "'k': expected a number, found a list"),
    ({"kl_per_latent": 3.0}, "'kl_per_latent': expected a list, found a number"),
    ({"kl_per_latent": list(range(6))}, "'kl_per_latent': expected at most 5 items"),
    ({"fit_quantiles": ["0.5"]}, "'fit_quantiles': expected a number, found a string"),
    ({"test_neg_elbo": True}, "'test_neg_elbo': expected a number, found true/false"),
    ({"test_neg_elbo": 1e300}, "expected a finite number of at most 1e+15"),
    ({"model": "x" * 3_000_000}, "found 3,000,000 characters"),
    ({"model": "beta\tTC"}, "a tab, newline or other control character"),
    ({"effect_sentence": "contrast, ink nanx darker or fainter"}, "holds 'nan', a number the run could not compute"),
    ({"effect_dimension": "z1"}, "expected an axis 0..4 or null"),
    ({"_path": "/etc/passwd", "k": "three"}, "vae_sevens_k3/metrics.json: 'k': expected a number"),
])
def test_a_value_of_the_wrong_kind_or_size_is_one_line_naming_the_real_file(tmp_path, changes, message):
    out = tmp_path / "results.tex"
    runs = sample_runs(tmp_path, vae=vae_metrics(**changes))
    result = subprocess.run(GENERATOR + runs + ["--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message in result.stderr and str(tmp_path / "results" / "vae_sevens_k3" / "metrics.json") in result.stderr
    assert not out.exists()


def test_metrics_nested_too_deep_to_parse_is_one_line(tmp_path):
    runs = sample_runs(tmp_path)
    deep = '{"k": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / "results" / "vae_sevens_k3" / "metrics.json").write_text(deep)
    result = subprocess.run(GENERATOR + runs + ["--out", str(tmp_path / "results.tex")], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "could not parse it" in result.stderr


@pytest.mark.parametrize("name", ['say"cheese', "tab\there", "new\nline", "caf\u00e9", "my results", "a%b"])
def test_a_results_folder_name_latex_cannot_take_is_refused_by_the_generator(tmp_path, name):
    with pytest.raises(DataError, match="which LaTeX cannot include") as error:
        make_results_tex.tex_path(tmp_path / name, tmp_path)
    assert "\n" not in str(error.value) and "\t" not in str(error.value)


def test_out_not_written_by_the_generator_is_refused_and_left_as_it_was(tmp_path):
    command = GENERATOR + sample_runs(tmp_path) + ["--out"]
    speech = tmp_path / "trs.pkl"
    speech.write_bytes(b"\x80\x04 speech, not TeX")
    result = subprocess.run(command + [str(speech)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "not written by report/make_results_tex.py" in result.stderr
    assert speech.read_bytes() == b"\x80\x04 speech, not TeX"
    result = subprocess.run(command + [str(tmp_path)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "is not a file" in result.stderr
    generated = tmp_path / "results.tex"  # one it wrote itself is replaced
    generated.write_text(make_results_tex.GENERATED_MARKER + " from an earlier run\n")
    assert subprocess.run(command + [str(generated)], cwd=REPO, capture_output=True).returncode == 0
    assert r"\SpeakerTestAccuracy" in generated.read_text()


def test_a_results_path_latex_cannot_include_is_refused(tmp_path):
    with pytest.raises(DataError, match="contains"):
        make_results_tex.tex_path(tmp_path / "my results", tmp_path)
    assert make_results_tex.tex_path(tmp_path / "results-quick" / "vae_k3.v2", tmp_path) == "results-quick/vae_k3.v2"


# ---------------------------------------------------------------- make report


def dry_run_report(tmp_path: Path, speaker_metrics_text: str) -> str:
    """`make -n report` in a stand-in checkout: every input present and older than the runs' results."""
    inputs = ["requirements.txt", ".venv/.installed", "common.py", "safety/__init__.py", "speaker_verification.py",
              "speaker/figures.py", "speaker/measures.py", "vae_sevens.py", "sevens/image_change.py",
              "sevens/figures.py",
              "make_data.py", "report/make_results_tex.py", "report/report.tex", "report/ensure_tex.sh",
              "data/trs.pkl", "data/tes.pkl", "data/tr7.pkl", "data/te7.pkl"]
    runs = {"speaker_verification": speaker_metrics_text, "vae_sevens_k3": "{}", "vae_sevens_k3_plain": "{}"}
    for age, name in enumerate(reversed(inputs)):  # .venv/.installed newer than requirements.txt
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1e9 - age, 1e9 - age))
    for folder, text in runs.items():
        (tmp_path / "results" / folder).mkdir(parents=True)
        (tmp_path / "results" / folder / "metrics.json").write_text(text)
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "-n", "report"], cwd=tmp_path, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_report_reruns_a_quick_run_found_in_results(tmp_path):
    command = "speaker_verification.py --quiet --out results/speaker_verification"
    assert command in dry_run_report(tmp_path / "quick", '{\n  "quick": true,\n  "seed": 0\n}\n')
    assert command not in dry_run_report(tmp_path / "full", '{"quick": false}')
    assert command not in dry_run_report(tmp_path / "unsaid", '{"seed": 0}')  # no key: not quick


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_report_runs_the_experiments_on_every_core(tmp_path):
    output = dry_run_report(tmp_path, '{"quick": true}')
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert f"-j{cores} --output-sync=line report/report.pdf" in output
    assert output.index("ensure_tex.sh") < output.index("speaker_verification.py")  # TeX first


# ---------------------------------------------------------------- ensure_tex.sh


def fake_bin(folder: Path, tools: dict) -> Path:
    """A folder of tiny shell scripts standing in for real programs: {name: body}."""
    folder.mkdir()
    for name, body in tools.items():
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return folder


def run_ensure_tex(path_dirs) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": os.pathsep.join(str(folder) for folder in path_dirs)}
    return subprocess.run(["/bin/sh", str(ENSURE_TEX)], capture_output=True, text=True, env=environment)


def test_ensure_tex_says_exactly_what_to_install_when_not_root(tmp_path):
    tools = fake_bin(tmp_path / "bin", {"id": "echo 1000", "apt-get": "echo apt-get must not run >&2; exit 99"})
    result = run_ensure_tex([tools])
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "missing pdflatex latexmk pdftotext pdffonts" in result.stderr
    assert ("apt-get install --no-install-recommends texlive-latex-base texlive-latex-recommended "
            "texlive-fonts-recommended lmodern latexmk poppler-utils") in result.stderr
    assert "must not run" not in result.stderr


def test_ensure_tex_as_root_without_apt_get_says_what_to_install(tmp_path):
    tools = fake_bin(tmp_path / "bin", {"id": "echo 0"})
    result = run_ensure_tex([tools])
    assert result.returncode == 1 and "install them (as root): apt-get install" in result.stderr


def test_ensure_tex_as_root_with_apt_get_installs_the_packages(tmp_path):
    log = tmp_path / "apt.log"
    bin_dir = tmp_path / "bin"
    chmod = shutil.which("chmod")  # PATH holds only the fake tools
    # apt-get "installs" by creating the missing tools, as the real packages would.
    install = "\n".join([f'echo "$*" >> {log}'] + [
        f'printf "#!/bin/sh\\n" > {bin_dir}/{tool}; {chmod} +x {bin_dir}/{tool}' for tool in TEX_TOOLS
    ] + [f'printf "#!/bin/sh\\necho /x.sty\\n" > {bin_dir}/kpsewhich; {chmod} +x {bin_dir}/kpsewhich'])
    tools = fake_bin(bin_dir, {"id": "echo 0", "apt-get": install})
    result = run_ensure_tex([tools])
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].startswith("install -y -qq --no-install-recommends texlive-latex-base")


def test_ensure_tex_as_root_installs_a_missing_latex_package_when_the_tools_are_there(tmp_path):
    log = tmp_path / "apt.log"
    present = {tool: "exit 0" for tool in TEX_TOOLS}
    # kpsewhich finds lmodern.sty only once apt-get has run (a TeX installed before the report needed it).
    kpsewhich = f'[ "$1" = lmodern.sty ] && [ ! -s {log} ] && exit 0; echo /x/"$1"'
    tools = fake_bin(tmp_path / "bin", {**present, "kpsewhich": kpsewhich, "id": "echo 0",
                                        "apt-get": f'echo "$*" >> {log}'})
    result = run_ensure_tex([tools])
    assert result.returncode == 0, result.stderr
    assert "missing: lmodern.sty" in result.stderr
    assert log.read_text().splitlines()[1].startswith("install -y -qq --no-install-recommends texlive-latex-base")


def test_ensure_tex_is_silent_when_everything_is_there(tmp_path):
    present = {tool: "exit 0" for tool in TEX_TOOLS}
    tools = fake_bin(tmp_path / "bin", {**present, "kpsewhich": "echo /x.sty", "id": "echo 1000"})
    result = run_ensure_tex([tools])
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_ensure_tex_names_a_missing_latex_package(tmp_path):
    present = {tool: "exit 0" for tool in TEX_TOOLS}
    kpsewhich = 'case "$1" in microtype.sty) ;; *) echo /x/"$1" ;; esac'
    tools = fake_bin(tmp_path / "bin", {**present, "kpsewhich": kpsewhich, "id": "echo 1000"})
    result = run_ensure_tex([tools])
    assert result.returncode == 1 and "LaTeX cannot find microtype.sty" in result.stderr


def test_report_tex_loads_only_the_packages_ensure_tex_checks():
    used = set()
    for match in re.finditer(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", (REPO / "report" / "report.tex").read_text()):
        used.update(name.strip() for name in match.group(1).split(","))
    checked = re.search(r'^STYLES="([^"]*)"', ENSURE_TEX.read_text(), flags=re.M).group(1).split()
    assert used <= set(checked), used - set(checked)


def test_ensure_tex_is_valid_posix_shell():
    assert subprocess.run(["sh", "-n", str(ENSURE_TEX)]).returncode == 0


@pytest.mark.skipif(not all(map(shutil.which, TEX_TOOLS)), reason="needs TeX")
def test_a_pdflatex_failure_shows_its_first_error(tmp_path):
    for name in ("Makefile", "report/report.tex", "report/ensure_tex.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "report" / "generated").mkdir()
    (tmp_path / "report" / "generated" / "results.tex").write_text("\\newcommand{\\Broken}{\\nosuchmacro}\\Broken\n")
    (tmp_path / "report" / "report.log").write_text("! an error of an earlier build\n")
    environment = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "-o", "report/generated/results.tex", "report/report.pdf"], cwd=tmp_path,
                            capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode != 0 and "pdflatex failed; its first error:" in result.stdout
    assert "Undefined control sequence" in result.stdout and "earlier build" not in result.stdout
    assert not (tmp_path / "report" / "report.pdf").exists()
