# make report : set up, make the default data, run both experiments (side by side), build report/report.pdf
# make test   : set up and run the test suite
# make bench  : the speed and accuracy figures quoted in the README and docs/experiments.md
# make bench-test : how long make test takes (the median of 3 runs)
# Every target sets itself up: .venv is created from requirements.txt on first use.

PYTHON := .venv/bin/python
SETUP := .venv/.installed
DATA_FILES := data/trs.pkl data/tes.pkl data/tr7.pkl data/te7.pkl

CORES := $(shell nproc 2>/dev/null || echo 1)

.PHONY: setup data test bench bench-test clean

setup: $(SETUP)

$(SETUP): requirements.txt
	python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: $(DATA_FILES)

$(DATA_FILES) &: | $(SETUP)
	$(PYTHON) make_data.py

# Lint first (seconds): lines over 100 columns, unused imports and names, in every Python file. Then the
# tests on every core, each test file on one worker (--dist loadfile), so that a file's shared fixtures
# (its tiny trained runs) are made once.
test: $(SETUP)
	$(PYTHON) -m ruff check --quiet .
	$(PYTHON) -m pytest -q -n $(CORES) --dist loadfile

# STFT speed (seconds), the speaker benchmark (12 runs, about 7 minutes) and the Problem 2 effect benchmark (86 runs of
# 2-3 minutes each: 24 effects x 3 seeds, 3 null runs, the default data; two at a time, about 2 hours on 2 cores).
bench: $(SETUP) $(DATA_FILES)
	$(PYTHON) -m bench.stft_speed
	$(PYTHON) -m bench.experiments
	$(PYTHON) -m bench.effect_benchmark --jobs 2

bench-test: $(SETUP)
	$(PYTHON) -m bench.test_time

clean:
	rm -rf results results-quick report/generated report/report.pdf
	rm -f $(addprefix report/report.,aux log out fls fdb_latexmk toc) report/latexmk.out

# ---------------------------------------------------------------- report (issue 5)
# make report          default runs into results/, then report/report.pdf
# make report QUICK=1  tiny runs (--quick) into results-quick/, the same report.tex built from them (CI)
# Chain: report.pdf <- generated/results.tex + figures <- metrics.json <- script + its folder + common.py +
# safety/ + data.
# Each script writes its run folder whole (renamed into place when complete), so a metrics.json
# stands for the figures beside it.
QUICK_RUN := $(filter 1 yes true,$(QUICK))
RESULTS := $(if $(QUICK_RUN),results-quick,results)
# The runs go side by side (see report:), so no progress bars and one torch thread each (a VAE run
# alone takes two by default): each prints one line when it is done.
RUN_FLAGS := $(strip $(if $(QUICK_RUN),--quick) --quiet --threads 1)
SPEAKER_RESULTS := $(RESULTS)/speaker_verification
VAE_RESULTS := $(RESULTS)/vae_sevens_k3
PLAIN_VAE_RESULTS := $(RESULTS)/vae_sevens_k3_plain
RESULTS_TEX := report/generated/results.tex
# results.tex and report.pdf are shared by both modes; this file names the folder they were made from.
RESULTS_SOURCE := report/generated/source

RUN_METRICS := $(SPEAKER_RESULTS)/metrics.json $(VAE_RESULTS)/metrics.json $(PLAIN_VAE_RESULTS)/metrics.json

.PHONY: report report-force report-tex rerun-quick-runs

# TeX is checked (or installed) first, so a machine without it fails before minutes of training.
# The three runs are independent and each uses one torch thread: make runs them side by side, one
# per core. --output-sync=line prints what a recipe line wrote, whole, when that line ends: each run
# says its command when it starts (see run below) and its one summary line when it is done.
report: report-tex
	@$(MAKE) --no-print-directory -j$(CORES) --output-sync=line report/report.pdf

report-tex:
	@sh report/ensure_tex.sh

# Never the full report from a quick run: a run folder in results/ whose metrics.json records
# "quick": true (a --quick run written there by hand) is out of date, whatever its age.
QUICK_RUNS_IN_RESULTS := $(if $(QUICK_RUN),,$(shell grep -lsE '"quick": *true' $(RUN_METRICS)))
ifneq ($(QUICK_RUNS_IN_RESULTS),)
$(QUICK_RUNS_IN_RESULTS): rerun-quick-runs
endif
rerun-quick-runs:
	@echo "report: re-running --quick runs found in $(RESULTS)/: $(QUICK_RUNS_IN_RESULTS)"

# $(call run,COMMAND): print COMMAND as it starts, then run it (two recipe lines, for --output-sync=line).
define run
@echo '$(1)'
@$(1)
endef

SHARED_CODE := common.py $(wildcard safety/*.py)
SPEAKER_CODE := speaker_verification.py $(wildcard speaker/*.py) $(SHARED_CODE)
VAE_CODE := vae_sevens.py $(wildcard sevens/*.py) $(SHARED_CODE)

$(SPEAKER_RESULTS)/metrics.json: $(SPEAKER_CODE) data/trs.pkl data/tes.pkl | $(SETUP)
	$(call run,$(PYTHON) speaker_verification.py $(RUN_FLAGS) --out $(SPEAKER_RESULTS))

$(VAE_RESULTS)/metrics.json: $(VAE_CODE) data/tr7.pkl data/te7.pkl | $(SETUP)
	$(call run,$(PYTHON) vae_sevens.py --k 3 $(RUN_FLAGS) --out $(VAE_RESULTS))

# The homework's plain VAE, reported beside the default model.
$(PLAIN_VAE_RESULTS)/metrics.json: $(VAE_CODE) data/tr7.pkl data/te7.pkl | $(SETUP)
	$(call run,$(PYTHON) vae_sevens.py --k 3 --plain $(RUN_FLAGS) --out $(PLAIN_VAE_RESULTS))

# Rewritten only when QUICK switches folders, so switching rebuilds the PDF and repeating does not.
$(RESULTS_SOURCE): report-force
	@mkdir -p $(@D); echo '$(RESULTS)' | cmp -s - $@ || echo '$(RESULTS)' > $@

# make_results_tex.py reads only the runs' metrics.json.
$(RESULTS_TEX): $(wildcard report/*.py) $(SPEAKER_RESULTS)/metrics.json $(VAE_RESULTS)/metrics.json \
		$(PLAIN_VAE_RESULTS)/metrics.json $(RESULTS_SOURCE) | $(SETUP)
	$(PYTHON) -m report.make_results_tex --speaker $(SPEAKER_RESULTS) --vae $(VAE_RESULTS) \
		--plain-vae $(PLAIN_VAE_RESULTS) --out $@ $(if $(QUICK_RUN),--quick)

# -g: make has already decided the PDF is out of date; latexmk must not second-guess it. On failure make
# shows TeX's first error from this build's report.log (removed first, so never an old one), else the end of
# latexmk's own output (a failure before pdflatex ran), which stays in report/latexmk.out.
report/report.pdf: report/report.tex $(RESULTS_TEX) | report-tex
	cd report && rm -f report.log && latexmk -pdf -g -quiet -interaction=nonstopmode -halt-on-error \
		-file-line-error report.tex >latexmk.out 2>&1 || { echo "report: pdflatex failed; its first error:"; \
		grep -m1 -A4 -e '^!' -e '^\./.*:[0-9]*:' report.log 2>/dev/null || tail -15 latexmk.out; \
		echo "(all of it in report/report.log and report/latexmk.out)"; rm -f report.pdf; exit 1; }
	@echo "wrote report/report.pdf (from $(RESULTS)/)"
