# Config validation, wildcard constraints and the functions that compute targets and inputs.
import os
import sys

# The package `nntopo` is installed (pip install -e ., as `make` does), so jobs import it as any package.

from nntopo import config as nnconfig
from nntopo import models as nnmodels  # not `models`: a function below bears that name
from nntopo import paths
from nntopo.clustering.methods import METHODS
from nntopo.workflow import figures

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
    # The grid's ids, and the names of the external networks (exactly those: a results folder such as
    # summary/ is never read as a model's).
    model="|".join([nnmodels.MODEL_ID_REGEX, *(entry["name"] for entry in config["external"])]),
    layer=nnmodels.LAYER_REGEX,
    # Any registered method: k-means' figures read figures.embedding's clusters, listed or not.
    method="|".join(METHODS),


def models(dataset, grid=False):
    """The models studied on ``dataset``: the grid's, then its external networks (none with ``grid``)."""
    return nnconfig.model_ids(config) if grid else nnconfig.models_of(config, dataset)


def model_outputs(*patterns, dataset=None, grid=False, weights=False):
    """Each pattern filled for every model (of the grid alone with ``grid``; with a weights.h5 alone
    with ``weights``), in every dataset (or in ``dataset``)."""
    return [
        paths.fill(pattern, dataset=name, model=model)
        for pattern in patterns
        for name in ([dataset] if dataset else config["datasets"])
        for model in models(name, grid)
        if not weights or nnconfig.has_weights(config, model)
    ]


def layer_outputs(*patterns, dataset=None, layers=None, grid=False):
    """Each pattern filled for every model and every one of its analysed layers (or ``layers(model)``)."""
    return [
        paths.fill(pattern, dataset=name, model=model, layer=layer)
        for pattern in patterns
        for name in ([dataset] if dataset else config["datasets"])
        for model in models(name, grid)
        for layer in (layers or analysed_layers)(model)
    ]


def method_outputs(patterns, outputs, methods=None):
    """Each of ``outputs`` (filled patterns) for every clustering method (or those in ``methods``)."""
    return [paths.fill(path, method=method) for path in outputs(*patterns) for method in (methods or config["clustering"]["methods"])]


def analysed_layers(model):
    return nnconfig.layers_of(config, model)


def output_layer(model):
    return [analysed_layers(model)[-1]]


def graph_methods():
    return [m for m in config["clustering"]["methods"] if figures.makes_graph(m)]


def dataset_inputs(wildcards):
    """A shape's generated data file (MNIST-family datasets are read from data_dir instead)."""
    return shape_data(wildcards.dataset)


def shape_data(dataset):
    return {"data": paths.fill(paths.SHAPE_DATA, dataset=dataset)} if dataset in nnconfig.SHAPES else {}


def network_inputs(wildcards):
    """What the ablation replays a model from: a grid model's weights and model.pt; an external
    network's own files (and weights.h5 when it has one); nothing for recorded activations."""
    where = dict(dataset=wildcards.dataset, model=wildcards.model)
    entry = nnconfig.external_entry(config, wildcards.model)
    if entry is None:
        return {"weights": paths.fill(paths.WEIGHTS, **where), "state": paths.fill(paths.MODEL_STATE, **where)}
    files = {} if nnconfig.external_kind(entry) == "activations" else {"files": nnconfig.external_files(entry)}
    weights = {"weights": paths.fill(paths.WEIGHTS, **where)} if nnconfig.has_weights(config, entry["name"]) else {}
    return {**files, **weights, **shape_data(wildcards.dataset)}


def runs_network(model):
    """Whether the ablation of ``model`` runs a network on the test images: a CNN's or an external one."""
    entry = nnconfig.external_entry(config, model)
    return nnmodels.ModelId.parse(model).conv > 0 if entry is None else nnconfig.external_kind(entry) != "activations"


def external_settings(wildcards):
    """An external network's config slice (its files' checksums included), None for a grid model."""
    if nnconfig.external_entry(config, wildcards.model) is None:
        return None
    return nnconfig.external_slice(config, wildcards.model)


def homology_targets():
    return model_outputs(paths.HOMOLOGY, paths.HOMOLOGY_TABLE, *HOMOLOGY_FIGURES) + [
        paths.fill(p, dataset=d) for d in config["datasets"] for p in (paths.SUMMARY_HOMOLOGY, paths.SUMMARY_BETTI_FIGURE)]


HOMOLOGY_FIGURES = [paths.fill(paths.HOMOLOGY_FIGURE, figure=name) for name in paths.HOMOLOGY_FIGURES]


def persistence_targets():
    """Neural persistence through training gathered per dataset (training measures it; none without a
    grid: an external network's is measured once, in its metrics.json and the summary)."""
    if not nnconfig.model_ids(config):
        return []
    return [paths.fill(p, dataset=d) for d in config["datasets"]
            for p in (paths.SUMMARY_NEURAL_PERSISTENCE, paths.SUMMARY_EARLY_STOPPING, paths.SUMMARY_NEURAL_PERSISTENCE_FIGURE)]


def neuron_targets():
    """The space of neurons of every hidden layer of every model with weights (analysed or not), and for
    the first hidden layer of an image dataset its nodes as weight images."""
    from nntopo.store import hidden_name  # here, not at the top: h5py need not load for every dry run

    outputs = [paths.NEURON_SPACE, *(paths.fill(paths.NEURON_FIGURE, figure=f) for f in paths.NEURON_FIGURES)]
    images = [paths.fill(paths.NEURON_FIGURE, figure=f) for f in paths.NEURON_IMAGE_FIGURES]
    return [
        paths.fill(path, dataset=dataset, model=model, layer=layer)
        for dataset in config["datasets"]
        for model in models(dataset)
        if nnconfig.has_weights(config, model)
        for layer in (hidden_name(i) for i in range(1, nnconfig.n_hidden(config, model) + 1))
        for path in outputs + (images if figures.shows_pixels(config, dataset, str(model), layer) else [])
    ]


def neuron_rankings(wildcards):
    """The rankings of every method whose clusters rank this hidden layer's neurons, in depth order:
    the layer's own and the output's (they rank every analysed hidden layer), when the layer is
    analysed; none otherwise."""
    return [
        paths.fill(paths.RANKING, dataset=wildcards.dataset, model=wildcards.model, layer=space, method=method)
        for space in analysed_layers(wildcards.model)
        if wildcards.layer in nnconfig.ranked_layers(config, wildcards.model, space)
        for method in config["clustering"]["methods"]
    ]


def filter_targets():
    """The space of first-layer filters and its figures for every dataset and every CNN architecture of
    the grid (an MLP has no kernels; none without CNNs)."""
    architectures = sorted({m.architecture for m in nnconfig.model_ids(config) if m.conv > 0})
    outputs = [paths.FILTER_SPACE, *(paths.fill(paths.FILTER_FIGURE, figure=f) for f in paths.FILTER_FIGURES)]
    return [paths.fill(path, dataset=dataset, architecture=architecture)
            for dataset in config["datasets"] for architecture in architectures for path in outputs]


def filter_weights(wildcards):
    """weights.h5 of every model of the grid of architecture ``wildcards.architecture``: its seeds."""
    models = [m for m in nnconfig.model_ids(config) if m.conv > 0 and m.architecture == wildcards.architecture]
    if not models:
        raise ValueError(f"no CNN of architecture {wildcards.architecture} in the config's grid")
    return [paths.fill(paths.WEIGHTS, dataset=wildcards.dataset, model=str(m)) for m in models]


def filter_points(wildcards):
    """How many kernels filter_space keeps (the size of the cloud whose persistence it computes): every
    seed's first-layer kernels (channels x 1 input channel: the datasets are grayscale), times the two
    shares kept."""
    import math

    settings = nnconfig.filters_slice(config)
    channels = nnmodels.ModelId.parse(f"{wildcards.architecture}-s0").channels[0]
    kernels = len(filter_weights(wildcards)) * channels
    return math.ceil(math.ceil(kernels * settings["contrast_share"]) * settings["density_share"])


def all_targets():
    """Everything the study makes; with no clustering method, the models, their homology and the neural
    persistence summary alone."""
    recorded = model_outputs(paths.ACTIVATIONS, paths.METRICS) + model_outputs(paths.WEIGHTS, weights=True)
    if not config["clustering"]["methods"]:
        return recorded + homology_targets() + persistence_targets() + filter_targets()
    per_model = [paths.PROBE, *figures.batch_outputs(figures.MODEL_BATCH, config).values()]
    per_model += method_outputs([paths.FLOW, paths.CONTINGENCY], lambda *p: list(p))
    per_layer = [paths.AGREEMENT, *method_outputs([paths.CLUSTERS, paths.RANKING, paths.CLUSTER_TABLE, paths.ABLATION],
                                                  lambda *p: list(p))]
    per_layer += figures.batch_outputs(figures.LAYER_BATCH, config).values()
    # Image figures (figures.image_batches): an MLP's weight images where the ranked layer sees the
    # pixels; a CNN's kernel images there and its channels where the ranked layer is convolutional.
    images = [
        paths.fill(path, dataset=dataset, model=model, layer=layer)
        for dataset in config["datasets"]
        for model in models(dataset)
        for layer in analysed_layers(model)
        for path in figures.image_outputs(config, dataset, str(model), layer)
    ]
    channels = [  # a CNN's first-layer filters
        paths.fill(path, dataset=dataset, model=model)
        for dataset in config["datasets"]
        for model in models(dataset)
        for path in figures.model_image_outputs(config, dataset, str(model))
    ]
    return (
        recorded
        + homology_targets()
        + persistence_targets()
        # The space of neurons is part of the study with clustering, whose rankings colour it; a study
        # without clustering stays what it says (training and homology), though its files can be named.
        + neuron_targets()
        + filter_targets()  # a CNN architecture's first-layer filters, over its seeds
        + model_outputs(*per_model)
        + layer_outputs(*per_layer)
        + images
        + channels
        + [paths.fill(p, dataset=d) for d in config["datasets"] for p in summary_outputs()]
    )


def summary_outputs():
    """The cross-model summaries; seed stability only when the grid has several seeds."""
    outputs = [paths.SUMMARY_TABLE, paths.SUMMARY_FIGURE, paths.SUMMARY_ABLATION, paths.SUMMARY_AGREEMENT,
               paths.SUMMARY_LAYERS, *depth_figures()]
    return outputs + ([paths.SEED_STABILITY] if len(config["seeds"]) > 1 and nnconfig.model_ids(config) else [])


def depth_figures():
    return [paths.fill(paths.SUMMARY_DEPTH_FIGURE, method=method) for method in config["clustering"]["methods"]]


def figure_outputs(table, pattern, category, subcategory):
    """The figures named in ``table`` as a rule's named outputs, each in the report with its own caption."""
    return {
        name: report(paths.fill(pattern, figure=name), caption=f"../report/figures/{name}.rst",
                     category=category, subcategory=subcategory)
        for name in table
    }


def per_method(pattern):
    """A rule's named outputs or inputs: ``pattern`` for every clustering method, as name__method."""
    return {f"{name}__{method}": paths.fill(path, method=method) for name, path in pattern.items()
            for method in config["clustering"]["methods"]}


def batch_rule_outputs(tables, subcategory, alone):
    """A batch's outputs as a rule's named outputs, each in the report with its caption, under the
    model's category; per-method outputs in ``subcategory`` (method filled in), the others in ``alone``."""
    return {
        name: report(path, caption=f"../report/figures/{name.split('__')[0]}.rst", category="{dataset} {model}",
                     subcategory=subcategory.format(method=name.partition("__")[2]) if "__" in name else alone)
        if path.endswith((".png", ".html")) else path
        for name, path in figures.batch_outputs(tables, config).items()
    }


def batch_rule_inputs(tables):
    return lambda wildcards: figures.batch_inputs(tables, config, wildcards.dataset, wildcards.model,
                                                  getattr(wildcards, "layer", None))


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
