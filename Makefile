# The README's two commands: `make run` (the study) and `make test` (the tests).
# Both install the pinned requirements and the package (`pip install -e .`) into .venv once; later
# calls reuse it.
PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed
CORES ?= all

.PHONY: run test test-fast docs js

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# D3 from the npm registry, inlined into the Mapper pages so they work offline.
# Checked by hash; costs ~10 ms once present, so it is retried on every call until it succeeds.
js: $(INSTALLED)
	@bash tools/fetch_js.sh $(VENV)/share/nntopo/js

run: js
	$(VENV)/bin/snakemake --cores $(CORES)

test: js
	$(VENV)/bin/python -m pytest

# The unit tests alone (tests/unit: no Snakemake run, no SLURM), in under 3 minutes here.
test-fast: js
	$(VENV)/bin/python -m pytest tests/unit

# The documentation site (docs/, mkdocs.yml) into site/; `mkdocs serve` to browse it while editing.
# (The variable silences Material's notice of its end of life in May 2027, printed at every build.)
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/python -m mkdocs build --strict

# The benchmark (docs/reference/benchmark.md), after its own tests (marker bench: the scale phase on a
# 400/800 ladder, 2.5 min): the default study from empty on a scratch copy, a no-op run,
# one figure, one changed parameter, and the straightforward reference, timed in the same run (about
# 45 min on 2 cores), then the scale phase: one layer at 10,000 to 60,000 points (about 13 min more;
# `BENCH_ARGS=--no-scale` leaves it out, `--scale` runs it alone). `make bench BENCH_ARGS=--quick` runs a
# small study on the embedded digits instead.
.PHONY: bench
bench: js
	$(VENV)/bin/python -m pytest -q -m bench
	$(VENV)/bin/python -m benchmarks.bench $(BENCH_ARGS)
