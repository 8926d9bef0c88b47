# The README's two commands: `make run` (the study) and `make test` (the tests).
# Both install the pinned requirements into .venv once; later calls reuse it.
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed
CORES ?= all

.PHONY: run test

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: $(INSTALLED)
	$(VENV)/bin/snakemake --cores $(CORES)

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest
