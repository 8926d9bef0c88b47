# Config validation, wildcard constraints and the functions that compute targets and inputs.
import os
import sys

# The package holds the code; make it importable here and in every job's script.
sys.path.insert(0, workflow.basedir)
os.environ.update(PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")])))

from nntopo import config as nnconfig
from nntopo import paths
from nntopo.workflow import figures
from nntopo.clustering.methods import METHODS

try:
    config.update(nnconfig.validate(config))
    nnconfig.check_data_dir(config)
except nnconfig.ConfigError as error:
    sys.exit(f"Config error: {error}. Fix config.yaml (or the --config given); schemas/config.schema.yaml lists every key.")

# A run killed with SIGKILL leaves Snakemake's lock behind; clear it when no other run is alive here,
# so that the plain command resumes (nntopo/workflow/recovery.py). Remote jobs re-read this file: not them.
if getattr(workflow, "is_main_process", True):
    from nntopo.workflow.recovery import clear_stale_locks

    if clear_stale_locks():
        print("nntopo: removed the lock a killed run left in .snakemake/locks; resuming", file=sys.stderr)


wildcard_constraints:
    dataset="[a-z_]+",
    model=paths.MODEL_ID_REGEX,
    method="[a-z][a-z0-9_]*",


def model_outputs(*patterns, dataset=None):
    """Each pattern filled for every model of the grid, in every dataset (or in ``dataset``)."""
    return [
        paths.fill(pattern, dataset=name, model=model)
        for pattern in patterns
        for name in ([dataset] if dataset else config["datasets"])
        for model in nnconfig.model_ids(config)
    ]


def method_outputs(*patterns, dataset=None, methods=None):
    """Each pattern filled for every model and clustering method (or those in ``methods``)."""
    return [
        paths.fill(path, method=method)
        for path in model_outputs(*patterns, dataset=dataset)
        for method in (methods or config["clustering"]["methods"])
    ]


def graph_methods():
    return [m for m in config["clustering"]["methods"] if METHODS[m].makes_graph]


def all_targets():
    model_figures = [paths.fill(paths.MODEL_FIGURE, figure=f) for f in figures.MODEL_FIGURES]
    method_figure_paths = [
        paths.fill(path, figure=figure)
        for method in config["clustering"]["methods"]
        for path in method_outputs(paths.METHOD_FIGURE, methods=[method])
        for figure in figures.figures_of(method)
    ]
    return (
        model_outputs(paths.WEIGHTS, paths.ACTIVATIONS, paths.METRICS, *model_figures)
        + method_outputs(paths.CLUSTERS, paths.RANKING, paths.CLUSTER_TABLE)
        + method_figure_paths
        + method_outputs(paths.MAPPER_PAGE, methods=graph_methods())
        + [paths.fill(p, dataset=d) for d in config["datasets"] for p in summary_outputs()]
    )


def summary_outputs():
    """The cross-model summaries; seed stability only when the grid has several seeds."""
    outputs = [paths.SUMMARY_TABLE, paths.SUMMARY_FIGURE, paths.SUMMARY_ABLATION, paths.SUMMARY_AGREEMENT]
    return outputs + ([paths.SEED_STABILITY] if len(config["seeds"]) > 1 else [])


def figure_inputs(table, wildcards):
    return figures.figure_inputs(table, config, wildcards.dataset, wildcards.model, getattr(wildcards, "method", None))


def figure_settings(table):
    """Each figure's config slice: a change reruns the job that draws it."""
    return {name: nnconfig.figures_slice(config, spec.settings) for name, spec in table.items()}


def figure_outputs(table, pattern, subcategory):
    """The figures of ``table`` as a rule's named outputs, each in the report with its own caption."""
    return {
        name: report(paths.fill(pattern, figure=name), caption=f"../report/figures/{name}.rst",
                     category="{dataset} {model}", subcategory=subcategory)
        for name in table
    }


def training_settings(wildcards):
    try:
        return nnconfig.training_slice(config, wildcards.model)
    except nnconfig.ConfigError as error:
        sys.exit(f"Config error: {error}")


# ---- Caches, safe with many jobs at once (README "Running on a cluster") ----
# Each user's jobs on each machine keep their numba, matplotlib and torch caches in a folder of
# their own, never in the shared .venv or home (nntopo/workflow/jobs.py, cache_environment). Jobs inherit
# these variables; this file is read again inside every SLURM job, so the folder is that of the
# machine the job runs on.
from nntopo.workflow.jobs import cache_environment

os.environ.update(cache_environment())
