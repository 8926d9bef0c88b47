# The workflow's setup, before any rule: the config checked (schemas/config.schema.yaml fills in its
# defaults), the shapes of the wildcards, a killed run's lock cleared, and private caches for the jobs.
# The package `nntopo` is installed (pip install -e ., as `make` does), so this imports it as any package.
import os
import sys
from pathlib import Path

from nntopo import config as nnconfig
from nntopo import models as nnmodels  # not `models`: rules/common.smk has a function of that name
from nntopo.clustering.methods import METHODS
from nntopo.workflow.jobs import cache_environment
from nntopo.workflow.recovery import clear_stale_locks


def config_sources():
    """Where this run's config comes from, the one that wins first: --config, then each --configfile
    (the last given first), then the Snakefile's config.yaml (unless --replace-workflow-config drops it)."""
    given = [Path(path) for path in workflow.overwrite_configfiles]  # absolute
    own = [] if workflow.config_settings.replace_workflow_config else [
        Path(path).absolute() for path in workflow.configfiles if Path(path).absolute() not in given]

    def shown(path):
        return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)

    sources = [f"{shown(path)} (--configfile)" for path in reversed(given)] + [shown(path) for path in own]
    if workflow.config_settings.config:
        sources.insert(0, "--config " + " ".join(workflow.config_settings.config))
    return sources


def config_error(error):
    """End the run with one line: what is wrong, and the config it comes from."""
    sources = config_sources()
    where = sources[0] if len(sources) == 1 else "it where it is set: " + ", else ".join(sources)
    sys.exit(f"Config error: {error}. Fix {where}; schemas/config.schema.yaml lists every key.")


try:
    config.update(nnconfig.validate(config))
except nnconfig.ConfigError as error:
    config_error(error)
try:
    nnconfig.check_data_dir(config)
except nnconfig.ConfigError as error:
    if os.environ.get(nnconfig.DATA_DIR_ENV):  # NNTOPO_DATA_DIR names no folder: fixed there, as its message says
        sys.exit(f"Config error: {error}.")
    config_error(error)

# A run killed with SIGKILL leaves Snakemake's lock behind; clear it when no other run is alive here,
# so that the plain command resumes (nntopo/workflow/recovery.py). Remote jobs re-read this file: not them.
if getattr(workflow, "is_main_process", True):
    if clear_stale_locks():
        print("nntopo: removed the lock a killed run left in .snakemake/locks; resuming", file=sys.stderr)


wildcard_constraints:
    dataset="[a-z][a-z0-9_]*",  # a built-in's name or a user's (nntopo.config.data)
    # The grid's ids, and the names of the external networks (exactly those: a results folder such as
    # summary/ is never read as a model's).
    model="|".join([nnmodels.MODEL_ID_REGEX, *(entry["name"] for entry in config["external"])]),
    layer=nnmodels.LAYER_REGEX,
    # Any registered method: k-means' figures read figures.embedding's clusters, listed or not.
    method="|".join(METHODS),


# Caches, safe with many jobs at once (docs/guides/cluster.md).
# Each user's jobs on each machine keep their numba, matplotlib and torch caches in a folder of
# their own, never in the shared .venv or home (nntopo/workflow/jobs.py, cache_environment). Jobs inherit
# these variables; this file is read again inside every SLURM job, so the folder is that of the
# machine the job runs on.
os.environ.update(cache_environment())
