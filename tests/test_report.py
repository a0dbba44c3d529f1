"""report/make_results_tex.py writes the report's numbers as LaTeX macros; report/ensure_tex.sh finds or installs TeX."""

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

from common import DataError

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_results_tex", REPO / "report" / "make_results_tex.py")
make_results_tex = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_results_tex)

ENSURE_TEX = REPO / "report" / "ensure_tex.sh"
TEX_TOOLS = ("pdflatex", "latexmk", "pdftotext", "pdffonts")


# ---------------------------------------------------------------- sample runs (hand-written, not results)


def speaker_metrics(**changes) -> dict:
    metrics = {
        "test_accuracy": 0.93444, "test_auc": 0.98123, "test_eer": 0.0712, "test_all_pairs_eer": 0.0801,
        "baseline_test_accuracy": 0.7411, "baseline_test_auc": 0.8123, "baseline_test_eer": 0.2601,
        "baseline_all_pairs_eer": 0.2702, "baseline_test_best_threshold_accuracy": 0.7623,
        "train_accuracy": 0.99, "validation_accuracy": 0.95, "validation_auc": 0.99,
        "chosen_epoch": 17, "epochs": 30, "train_seconds": 123.4, "total_seconds": 150.6, "parameters": 312898,
        "seed": 0, "pairs_per_speaker": 45, "training_speakers": 40, "validation_speakers": list(range(10)),
        "test_pairs": 1800, "test_all_pairs": 19900, "device": "cpu", "threads": 1,
        "feature": "log(1 + |STFT|), n_fft 1024", "model": "Siamese: <e_a, e_b>",
        "data": {"trs.pkl": {"shape": [500, 16180], "sha256": "ab" * 32},
                 "tes.pkl": {"shape": [200, 22631], "sha256": "cd" * 32}},
    }
    metrics.update(changes)
    return metrics


def vae_metrics(objective="tc-vae", truth=(0.1, -0.93, 0.2), **changes) -> dict:
    scores = {"orientation": [0.1, 0.9, 0.05], "centre_x": [0.3, 0.1, 0.02], "ink_mass": [0.01, 0.02, 0.4]}
    plain = objective == "vae"
    metrics = {
        "objective": objective, "beta": 1.0 if plain else 2.0, "tc_weight": None if plain else 6.0, "plain_vae": plain,
        "decoder": "deconvolution" if plain else "warped-broadcast", "axes": "model" if plain else "independent",
        "grey_level_weight": 0.0 if plain else 1.0,
        "likelihood": "bernoulli", "k": 3, "test_neg_elbo": 101.25, "test_reconstruction": 90.0,
        "test_kl": 11.25, "kl_per_dimension": [3.0, 5.0, 3.25], "kl_per_axis": [2.0, 5.0, 4.25], "effect_dimension": 1,
        "effect_statistic": "orientation",
        "traversal_evidence": {"scores": scores, "effect_score": 0.9, "rows_per_dimension": 16,
                               "pixel_movement": [20.04, 35.5, 12.0], "quantiles": [0.05, 0.95],
                               "positions": [list(np.linspace(-1, 1, 11))] * 3},
        "spearman_with_truth": list(truth) if truth is not None else None,
        "best_abs_spearman": max(abs(value) for value in truth) if truth is not None else None,
        "truth_file": "te7_angles.npy" if truth is not None else None,
        "seed": 0, "epochs": 30, "batch_size": 128, "lr": 0.001, "seconds": 80.2,
        "device": "cpu", "torch_threads": 2, "quick": False,
        "data": {"train": {"shape": [6265, 28, 28], "sha256": "ef" * 32, "train_rows": 5638, "validation_rows": 627},
                 "test": {"shape": [1028, 28, 28], "sha256": "01" * 32}},
    }
    metrics.update(changes)
    return metrics


def tagged(metrics: dict, path="run/metrics.json") -> dict:
    return {**metrics, "_path": path}


def macros_of(lines) -> dict:
    """{name: body} of the \\newcommand lines (one-line bodies)."""
    found = {}
    for line in lines:
        match = re.fullmatch(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}", line, flags=re.S)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def write_run(folder: Path, metrics: dict, figures) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in figures:
        (folder / name).write_bytes(b"\x89PNG sample")
    return folder


# ---------------------------------------------------------------- formatting


def test_latex_escape_prints_every_special_character_literally():
    text = r"50% of a_b & c#d $e {f} ~g ^h \i <j> |k"
    expected = (r"50\% of a\_b \& c\#d \$e \{f\} \textasciitilde{}g \textasciicircum{}h \textbackslash{}i "
                r"\textless{}j\textgreater{} \textbar{}k")
    assert make_results_tex.latex_escape(text) == expected


def test_percent_uses_pythons_one_decimal_rounding_that_ci_searches_for():
    for fraction in np.random.default_rng(0).uniform(0, 1, 200):
        assert make_results_tex.percent(fraction) == f"{100 * fraction:.1f}" + r"\,\%"
    assert make_results_tex.percent(0.93444) == r"93.4\,\%"


def test_numbers_get_a_real_minus_sign_and_thin_space_thousands():
    assert make_results_tex.decimal(-0.0501, 3) == "$-$0.050"
    assert make_results_tex.integer(312898) == r"312\,898"
    assert make_results_tex.integer(-1200) == r"$-$1\,200"
    assert make_results_tex.number(0.001) == "0.001"
    assert make_results_tex.number(1.0) == "1"


def test_macro_names_must_be_letters_only():
    with pytest.raises(ValueError):
        make_results_tex.macro("Vae2", "x")


# ---------------------------------------------------------------- macros from metrics


def test_speaker_macros_are_written_from_the_metrics():
    macros = macros_of(make_results_tex.speaker_macros(tagged(speaker_metrics()), "../results/speaker_verification"))
    assert macros["SpeakerTestAccuracy"] == r"93.4\,\%"
    assert macros["SpeakerBaselineAccuracy"] == r"74.1\,\%"
    assert macros["SpeakerTestAUC"] == "0.981"
    assert macros["SpeakerTestEER"] == r"7.1\,\%"
    assert macros["SpeakerAccuracyGain"] == "19.3"
    assert macros["SpeakerAccuracyGainDirection"] == "above"
    assert macros["SpeakerParameters"] == r"312\,898"
    assert macros["SpeakerTrainSpeakers"] == "50"
    assert macros["SpeakerTestSamples"] == r"22\,631"
    assert macros["SpeakerValidationSpeakers"] == "10"
    assert macros["SpeakerThreads"] == "1 thread"
    assert macros["SpeakerModel"] == r"Siamese: \textless{}e\_a, e\_b\textgreater{}"
    assert macros["SpeakerDir"] == "../results/speaker_verification"  # a path for \includegraphics: not escaped
    assert macros["SpeakerDirText"] == r"../results/speaker\_verification"


def test_a_baseline_that_wins_is_reported_as_below_not_as_a_negative_gain():
    macros = macros_of(make_results_tex.speaker_macros(tagged(speaker_metrics(test_accuracy=0.70)), "r"))
    assert macros["SpeakerAccuracyGain"] == "4.1"
    assert macros["SpeakerAccuracyGainDirection"] == "below"


def test_missing_or_non_finite_metric_is_one_error_naming_file_and_key():
    metrics = speaker_metrics()
    del metrics["test_auc"]
    with pytest.raises(DataError, match=r"run/metrics.json: expected the key 'test_auc'"):
        make_results_tex.speaker_macros(tagged(metrics), "r")
    with pytest.raises(DataError, match=r"'test_eer' to be a finite number, found nan"):
        make_results_tex.speaker_macros(tagged(speaker_metrics(test_eer=float("nan"))), "r")


def test_vae_dimension_rows_bold_the_effect_dimension_and_show_the_truth_when_known():
    rows = make_results_tex.dimension_rows(tagged(vae_metrics())).split("\n")
    assert len(rows) == 3
    assert rows[1].startswith(r"$\boldsymbol{z_{1}}$ & \textbf{5.00} & \textbf{35.5} & \textbf{\texttt{orientation}}")
    assert rows[1].endswith(r"\textbf{$-$0.930} \\")
    assert not rows[0].startswith(r"$\boldsymbol")
    assert rows[0].split(" & ")[1] == "2.00"  # the KL on the axis (kl_per_axis), not the model unit's 3.00
    assert rows[0].split(" & ")[2] == "20.0"  # pixel path length, one decimal
    assert rows[2].split(" & ")[3] == r"\texttt{ink\_mass}"  # the statistic with z2's highest score
    without_truth = make_results_tex.dimension_rows(tagged(vae_metrics(truth=None))).split("\n")
    assert all(row.count("&") == 4 for row in without_truth)


def test_vae_macros_name_the_objective_and_sum_the_kl():
    default_lines = make_results_tex.vae_macros(tagged(vae_metrics()), "Vae")
    macros = macros_of(default_lines)
    assert macros["VaeName"] == r"$\beta$-TC-VAE ($\beta=2$, $\gamma=6$)"
    assert macros["VaeBeta"] == "2" and macros["VaeTcWeight"] == "6"
    assert macros["VaeDecoder"] == "warped spatial broadcast"
    assert macros["VaeNegElbo"] == "101.2"  # 101.25 rounds half to even, as Python's format does
    assert macros["VaeKL"] == "11.25"
    assert macros["VaeEffectDimension"] == "1"
    assert macros["VaeEffectAbsSpearman"] == "0.930"
    assert macros["VaeBestSpearmanDimension"] == "1"
    assert r"\newif\ifVaeIndependentAxes\VaeIndependentAxestrue" in default_lines
    assert macros["VaeGreyLevelWeight"] == "1"
    assert r"\newif\ifVaeGreyLevels\VaeGreyLevelstrue" in default_lines
    plain_lines = make_results_tex.vae_macros(tagged(vae_metrics("vae")), "PlainVae")
    plain = macros_of(plain_lines)
    assert plain["PlainVaeName"] == "plain VAE"
    assert plain["PlainVaeDecoder"] == "transposed-convolution"
    assert plain["PlainVaeBeta"] == "1" and plain["PlainVaeTcWeight"] == "1"  # no TC term: gamma = 1
    assert r"\newif\ifPlainVaeIndependentAxes\PlainVaeIndependentAxesfalse" in plain_lines
    assert r"\newif\ifPlainVaeGreyLevels\PlainVaeGreyLevelsfalse" in plain_lines
    beta_vae = macros_of(make_results_tex.vae_macros(tagged(vae_metrics("vae", beta=4.0, plain_vae=False)), "B"))
    assert beta_vae["BName"] == r"$\beta$-VAE ($\beta=4$)"


def test_evidence_table_has_one_column_per_latent_and_bolds_the_winning_pair():
    columns, header, rows = make_results_tex.evidence_table(tagged(vae_metrics()))
    assert columns == "lrrr"
    assert header.count("&") == 3
    lines = rows.split("\n")
    assert r"\texttt{orientation} & 0.100 & \textbf{0.900} & 0.050 \\" in lines
    assert sum(r"\textbf" in line for line in lines) == 1
    assert lines[-1] == r"pixel path length & 20.0 & 35.5 & 12.0 \\"


# ---------------------------------------------------------------- the whole file


SPEAKER_FIGURES = make_results_tex.SPEAKER_FIGURES
VAE_FIGURES = make_results_tex.VAE_FIGURES


def sample_runs(root: Path):
    speaker = write_run(root / "results" / "speaker_verification", speaker_metrics(), SPEAKER_FIGURES)
    vae = write_run(root / "results" / "vae_sevens_k3", vae_metrics(), VAE_FIGURES)
    plain = write_run(root / "results" / "vae_sevens_k3_plain", vae_metrics("vae", truth=(0.5, 0.6, -0.1)), VAE_FIGURES)
    return ["--speaker", str(speaker), "--vae", str(vae), "--plain-vae", str(plain)]


def test_main_writes_each_macro_once_with_figure_paths_relative_to_the_tex_folder(tmp_path):
    runs = sample_runs(tmp_path)
    tex_dir, out = tmp_path / "report", tmp_path / "report" / "generated" / "results.tex"
    make_results_tex.main(runs + ["--out", str(out), "--tex-dir", str(tex_dir)])
    text = out.read_text()
    names = re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", text)
    assert len(names) == len(set(names))
    assert r"\newcommand{\SpeakerTestAccuracy}{93.4\,\%}" in text
    assert r"\newcommand{\SpeakerDir}{../results/speaker_verification}" in text
    assert r"\newcommand{\PlainVaeDir}{../results/vae_sevens_k3_plain}" in text
    assert r"\newcommand{\PlainVaeName}{plain VAE}" in text
    assert r"\newif\ifQuickRun\QuickRunfalse" in text
    assert r"\newcommand{\SpeakerTrainFrames}{32}" in text  # 1 + 16180 // 512, the librosa frame count
    assert "nan" not in text.lower()


def test_main_marks_a_quick_build(tmp_path):
    out = tmp_path / "results.tex"
    make_results_tex.main(sample_runs(tmp_path) + ["--out", str(out), "--quick"])
    assert r"\newif\ifQuickRun\QuickRuntrue" in out.read_text()


def test_missing_figure_or_metrics_is_one_line_exit_2_and_no_output(tmp_path):
    runs = sample_runs(tmp_path)
    (tmp_path / "results" / "vae_sevens_k3_plain" / "traversal.png").unlink()
    out = tmp_path / "results.tex"
    command = [sys.executable, str(REPO / "report" / "make_results_tex.py"), *runs, "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "vae_sevens_k3_plain: expected the figures traversal.png" in result.stderr
    assert not out.exists()
    (tmp_path / "results" / "speaker_verification" / "metrics.json").unlink()
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2 and "speaker_verification/metrics.json: file not found" in result.stderr


def test_out_not_written_by_the_generator_is_refused_and_left_as_it_was(tmp_path):
    runs = sample_runs(tmp_path)
    speech = tmp_path / "trs.pkl"
    speech.write_bytes(b"\x80\x04 speech, not TeX")
    command = [sys.executable, str(REPO / "report" / "make_results_tex.py"), *runs, "--out"]
    result = subprocess.run(command + [str(speech)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "not written by report/make_results_tex.py" in result.stderr
    assert speech.read_bytes() == b"\x80\x04 speech, not TeX"
    result = subprocess.run(command + [str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "is not a file" in result.stderr
    generated = tmp_path / "results.tex"  # one it wrote itself is replaced
    generated.write_text(make_results_tex.GENERATED_MARKER + " from an earlier run\n")
    assert subprocess.run(command + [str(generated)], capture_output=True).returncode == 0
    assert r"\SpeakerTestAccuracy" in generated.read_text()


def test_a_results_path_latex_cannot_include_is_refused(tmp_path):
    with pytest.raises(DataError, match="contains"):
        make_results_tex.tex_path(tmp_path / "my results", tmp_path)


# ---------------------------------------------------------------- make report


def dry_run_report(tmp_path: Path, speaker_metrics_text: str) -> str:
    """`make -n report` in a stand-in checkout: every input present and older than the runs' results."""
    inputs = ["requirements.txt", ".venv/.installed", "common.py", "speaker_verification.py", "vae_sevens.py",
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
