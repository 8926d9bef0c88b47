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

# D3 from the npm registry, inlined into the Mapper pages so they work offline.
# Checked by hash; costs ~10 ms once present, so it is retried on every call until it succeeds.
js: $(INSTALLED)
	@bash tools/fetch_js.sh $(VENV)/share/nntopo/js

run: js
	$(VENV)/bin/snakemake --cores $(CORES)

test: js
	$(VENV)/bin/python -m pytest

# The benchmark (benchmarks/README.md): the default study from empty on a scratch copy, a no-op run,
# one figure, one changed parameter, and the straightforward reference, timed in the same run (~10 min).
# `make bench BENCH_ARGS=--quick` runs a small study on the embedded digits instead.
.PHONY: bench
bench: js
	$(VENV)/bin/python benchmarks/bench.py $(BENCH_ARGS)
