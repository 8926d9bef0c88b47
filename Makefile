# The README's two commands: `make run` (the study) and `make test` (the tests).
# Both install the pinned requirements into .venv once; later calls reuse it.
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed
CORES ?= all

.PHONY: run test js

$(INSTALLED): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# D3 and FileSaver from the npm registry, inlined into the Mapper pages so they work offline.
# Checked by hash; costs ~10 ms once present, so it is retried on every call until it succeeds.
js: $(INSTALLED)
	@bash tools/fetch_js.sh $(VENV)/share/nntopo/js

run: js
	$(VENV)/bin/snakemake --cores $(CORES)

test: js
	$(VENV)/bin/python -m pytest
