#!/usr/bin/env bash
# Run by Snakemake once, right after it creates the conda environment of envs/nntopo.yaml
# (--sdm conda): installs the package nntopo into it, as `make` does into .venv. Snakemake runs this
# from the workflow's working directory, which is the repository for `snakemake --sdm conda`.
set -euo pipefail
if [ ! -f pyproject.toml ] || [ ! -d nntopo ]; then
  echo "nntopo: cannot install the package into the conda environment from $PWD (no pyproject.toml); run snakemake from the repository, or pip install -e <repository> into $CONDA_PREFIX" >&2
  exit 1
fi
python -m pip install --no-deps --quiet -e .
