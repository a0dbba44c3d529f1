# make report : set up, make the default data, run both experiments, build report/report.pdf
# make test   : set up and run the test suite
# make bench  : the speed and accuracy figures quoted in the README
# Every target sets itself up: .venv is created from requirements.txt on first use.

PYTHON := .venv/bin/python
SETUP := .venv/.installed
DATA_FILES := data/trs.pkl data/tes.pkl data/tr7.pkl data/te7.pkl

.PHONY: setup data test bench clean

setup: $(SETUP)

$(SETUP): requirements.txt
	python3 -m venv .venv
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

data: $(DATA_FILES)

$(DATA_FILES) &: | $(SETUP)
	$(PYTHON) make_data.py

test: $(SETUP)
	$(PYTHON) -m pytest -q

bench: $(SETUP)
	$(PYTHON) bench/stft_speed.py

clean:
	rm -rf results results-quick report/generated report/report.pdf
