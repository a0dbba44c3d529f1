"""`make report` runs what it needs in order, and report/ensure_tex.sh finds or installs TeX."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ENSURE_TEX = REPO / "report" / "ensure_tex.sh"
TEX_TOOLS = ("pdflatex", "latexmk", "pdftotext", "pdffonts")
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")  # of the make running the tests, if one is


def make_environment() -> dict:
    """os.environ without the variables of a make that runs pytest (`make test`)."""
    return {key: value for key, value in os.environ.items() if key not in MAKE_VARIABLES}


# ---------------------------------------------------------------- make report


def dry_run_report(tmp_path: Path, speaker_metrics_text: str) -> str:
    """`make -n report` in a stand-in checkout, every input present and older than the results."""
    inputs = ["requirements.txt", ".venv/.installed", "common.py", "safety/__init__.py",
              "speaker_verification.py", "speaker/figures.py", "speaker/measures.py",
              "vae_sevens.py", "sevens/critic.py", "sevens/figures.py",
              "make_data.py", "report/make_results_tex.py", "report/report.tex",
              "report/ensure_tex.sh",
              "data/trs.pkl", "data/tes.pkl", "data/tr7.pkl", "data/te7.pkl"]
    runs = {"speaker_verification": speaker_metrics_text, "vae_sevens_k3": "{}",
            "vae_sevens_k3_plain": "{}"}
    for age, name in enumerate(reversed(inputs)):  # .venv/.installed newer than requirements.txt
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
        os.utime(tmp_path / name, (1e9 - age, 1e9 - age))
    for folder, text in runs.items():
        (tmp_path / "results" / folder).mkdir(parents=True)
        (tmp_path / "results" / folder / "metrics.json").write_text(text)
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    result = subprocess.run(["make", "-n", "report"], cwd=tmp_path, capture_output=True, text=True,
                            env=make_environment())
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_report_reruns_a_quick_run_found_in_results(tmp_path):
    command = "speaker_verification.py --quiet --threads 1 --out results/speaker_verification"
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
    return subprocess.run(["/bin/sh", str(ENSURE_TEX)], capture_output=True, text=True,
                          env=environment)


def test_ensure_tex_says_exactly_what_to_install_when_not_root(tmp_path):
    tools = fake_bin(tmp_path / "bin",
                     {"id": "echo 1000", "apt-get": "echo apt-get must not run >&2; exit 99"})
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
    kpsewhich = f'printf "#!/bin/sh\\necho /x.sty\\n" > {bin_dir}/kpsewhich'
    install = "\n".join(
        [f'echo "$*" >> {log}']
        + [f'printf "#!/bin/sh\\n" > {bin_dir}/{tool}; {chmod} +x {bin_dir}/{tool}'
           for tool in TEX_TOOLS]
        + [f"{kpsewhich}; {chmod} +x {bin_dir}/kpsewhich"])
    tools = fake_bin(bin_dir, {"id": "echo 0", "apt-get": install})
    result = run_ensure_tex([tools])
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq"
    assert calls[1].startswith("install -y -qq --no-install-recommends texlive-latex-base")


def test_ensure_tex_as_root_installs_a_missing_latex_package_when_the_tools_are_there(tmp_path):
    log = tmp_path / "apt.log"
    present = {tool: "exit 0" for tool in TEX_TOOLS}
    # kpsewhich finds lmodern.sty only once apt-get has run (a TeX installed before the report
    # needed it).
    kpsewhich = f'[ "$1" = lmodern.sty ] && [ ! -s {log} ] && exit 0; echo /x/"$1"'
    tools = fake_bin(tmp_path / "bin", {**present, "kpsewhich": kpsewhich, "id": "echo 0",
                                        "apt-get": f'echo "$*" >> {log}'})
    result = run_ensure_tex([tools])
    assert result.returncode == 0, result.stderr
    assert "missing: lmodern.sty" in result.stderr
    install = log.read_text().splitlines()[1]
    assert install.startswith("install -y -qq --no-install-recommends texlive-latex-base")


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
    report = (REPO / "report" / "report.tex").read_text()
    for match in re.finditer(r"\\usepackage(?:\[[^\]]*\])?\{([^}]*)\}", report):
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
    broken = "\\newcommand{\\Broken}{\\nosuchmacro}\\Broken\n"
    (tmp_path / "report" / "generated" / "results.tex").write_text(broken)
    (tmp_path / "report" / "report.log").write_text("! an error of an earlier build\n")
    result = subprocess.run(["make", "-o", "report/generated/results.tex", "report/report.pdf"],
                            cwd=tmp_path, capture_output=True, text=True, env=make_environment(),
                            timeout=120)
    assert result.returncode != 0 and "pdflatex failed; its first error:" in result.stdout
    assert "Undefined control sequence" in result.stdout and "earlier build" not in result.stdout
    assert not (tmp_path / "report" / "report.pdf").exists()
