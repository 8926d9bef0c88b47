# The small functions the rules share: a pattern filled for every model or layer of the study, and
# what a job's inputs, params and resources are, from its wildcards and the config.
import json
import math
from pathlib import Path

from snakemake.exceptions import IncompleteCheckpointException

from nntopo import config as nnconfig
from nntopo import datasets as nndatasets
from nntopo import figures
from nntopo import models as nnmodels
from nntopo import paths
from nntopo.workflow import trials as nntrials


# ---- A pattern filled for every model, layer or method of the study (targets and gathering inputs)


def models(dataset, grid=False):
    """The models studied on ``dataset``: the grid's (with trials, the kept ones), then its external
    networks (none with ``grid``)."""
    if not config.get("trials"):
        return nnconfig.model_ids(config) if grid else nnconfig.models_of(config, dataset)
    external = [] if grid else nnconfig.models_of(config, dataset)[len(nnconfig.model_ids(config)):]
    return [model for plan_ in trial_plans(dataset).values() for model in plan_["kept"]] + external


# ---- Training with restarts (config `trials`): only in input functions, never at parse time


def trial_plans(*datasets):
    """Every group's trials on each of ``datasets`` (all when none): {(dataset, group): {"kept": model
    ids, "tried": model ids}} once every group is settled. Until then it asks Snakemake for every
    group's next wave at once, by raising IncompleteCheckpointException with all their outcome files
    (checkpoint trial); Snakemake trains them and calls the input function again."""
    settings, waiting, plans = config["trials"], [], {}
    by_group = {}
    for model in nnconfig.model_ids(config):
        by_group.setdefault(model.architecture, {})[model.seed] = model
    for dataset in datasets or nnconfig.dataset_names(config):
        for group, seeds in by_group.items():
            outcomes, asked = {}, []
            while not asked and not (plan_ := nntrials.plan(outcomes, **settings)).done:
                for seed in plan_.run:
                    try:
                        outcome = checkpoints.trial.get(dataset=dataset, model=str(seeds[seed])).output[0]
                        outcomes[seed] = json.loads(Path(outcome).read_text())["zero_training_error"]
                    except IncompleteCheckpointException as incomplete:
                        asked.append(incomplete.targetfile)
            waiting += asked
            plans[dataset, group] = {"kept": [seeds[seed] for seed in plan_.kept],
                                     "tried": [seeds[seed] for seed in plan_.tried]}
    if waiting:
        raise IncompleteCheckpointException(checkpoints.trial.rule, waiting)
    return plans


def trial_records(dataset):
    """The outcome file of every seed tried on ``dataset``, group after group."""
    return [paths.fill(paths.TRIAL, dataset=dataset, model=model)
            for plan_ in trial_plans(dataset).values() for model in plan_["tried"]]


def model_outputs(*patterns, dataset=None, grid=False, weights=False):
    """Each pattern filled for every model (of the grid alone with ``grid``; with a weights.h5 alone
    with ``weights``), in every dataset (or in ``dataset``)."""
    return [
        paths.fill(pattern, dataset=name, model=model)
        for pattern in patterns
        for name in ([dataset] if dataset else nnconfig.dataset_names(config))
        for model in models(name, grid)
        if not weights or nnconfig.has_weights(config, model)
    ]


def dataset_outputs(*patterns):
    """Each pattern filled for every dataset (the summaries across a dataset's models); with trials, for
    every dataset where a network was kept (trials.csv lists a dataset's failures either way)."""
    return [paths.fill(pattern, dataset=name) for name in nnconfig.dataset_names(config)
            if not config.get("trials") or models(name) for pattern in patterns]


def layer_outputs(*patterns, dataset=None, layers=None, grid=False):
    """Each pattern filled for every model and every one of its analysed layers (or ``layers(model)``)."""
    return [
        paths.fill(pattern, dataset=name, model=model, layer=layer)
        for pattern in patterns
        for name in ([dataset] if dataset else nnconfig.dataset_names(config))
        for model in models(name, grid)
        for layer in (layers or analysed_layers)(model)
    ]


def method_outputs(patterns, outputs, methods=None):
    """Each of ``outputs`` (filled patterns) for every clustering method (or those in ``methods``)."""
    return [paths.fill(path, method=method) for path in outputs(*patterns) for method in (methods or config["clustering"]["methods"])]


def analysed_layers(model):
    return nnconfig.layers_of(config, model)


# ---- A job's inputs, from its wildcards


def dataset_inputs(wildcards):
    """A prepared dataset's data file: a shape's, or one the user describes (built-in MNIST-family
    datasets and the embedded digits are read by the jobs themselves)."""
    return dataset_file(wildcards.dataset)


def dataset_file(dataset):
    return {"data": paths.fill(paths.DATA_FILE, dataset=dataset)} if nnconfig.is_prepared(config, dataset) else {}


def dataset_sources(wildcards):
    """The files a user's dataset is read from, when they are its own (an arrays file, an image folder):
    a newer one prepares it again. A torchvision dataset's files are torchvision's to find."""
    entry = nnconfig.dataset_slice(config, wildcards.dataset)
    return {"source": entry["path"]} if "path" in entry else {}


def reads_data_dir(dataset):
    """Whether preparing ``dataset`` reads the data directory: a torchvision dataset's files are there."""
    return dataset in nndatasets.names(config, "torchvision")


def network_inputs(wildcards):
    """What the ablation replays a model from: a grid model's weights and model.pt; an external
    network's own files (and weights.h5 when it has one); nothing for recorded activations. A CNN or
    an external network runs again on its inputs: a prepared dataset's data.h5 beside them."""
    where = dict(dataset=wildcards.dataset, model=wildcards.model)
    entry = nnconfig.external_entry(config, wildcards.model)
    if entry is None:
        return {"weights": paths.fill(paths.WEIGHTS, **where), "state": paths.fill(paths.MODEL_STATE, **where),
                **dataset_file(wildcards.dataset)}
    files = {} if nnconfig.external_kind(entry) == "activations" else {"files": nnconfig.external_files(entry)}
    weights = {"weights": paths.fill(paths.WEIGHTS, **where)} if nnconfig.has_weights(config, entry["name"]) else {}
    return {**files, **weights, **dataset_file(wildcards.dataset)}


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


def filter_weights(wildcards):
    """weights.h5 of every model of the grid of architecture ``wildcards.architecture``: its seeds (kept ones)."""
    seeds = [m for m in models(wildcards.dataset, grid=True) if m.conv > 0 and m.architecture == wildcards.architecture]
    if not seeds:
        raise ValueError(f"no CNN of architecture {wildcards.architecture} in the config's grid")
    return [paths.fill(paths.WEIGHTS, dataset=wildcards.dataset, model=str(m)) for m in seeds]


# ---- A job's params and resources


def training_settings(wildcards):
    try:
        return nnconfig.training_slice(config, wildcards.model)
    except nnconfig.ConfigError as error:
        config_error(error)


def domain_settings(wildcards):
    """What a layer's domain figures read: the ranked layer drawn, the neurons shown and silenced per cluster."""
    return {"shown": nnconfig.ranked_layers(config, wildcards.model, wildcards.layer)[-1],
            "top": config["figures"]["top"], "top_k": config["clustering"]["top_k"],
            "max_clusters": config["figures"]["max_clusters"]}


def external_settings(wildcards):
    """An external network's config slice (its files' checksums included), None for a grid model."""
    if nnconfig.external_entry(config, wildcards.model) is None:
        return None
    return nnconfig.external_slice(config, wildcards.model)


def runs_network(model):
    """Whether the ablation of ``model`` runs a network on the test images: a CNN's or an external one."""
    entry = nnconfig.external_entry(config, model)
    return nnmodels.ModelId.parse(model).conv > 0 if entry is None else nnconfig.external_kind(entry) != "activations"


def filter_points(wildcards):
    """How many kernels filter_space keeps (the size of the cloud whose persistence it computes): every
    seed's first-layer kernels (one per output and input channel: 3 input channels of a colour image),
    times the two shares kept."""
    settings = nnconfig.filters_slice(config)
    channels = nnmodels.ModelId.parse(f"{wildcards.architecture}-s0").channels[0]
    inputs = nndatasets.get(wildcards.dataset, config).channels or 3  # unknown yet: as many as colour's
    kernels = len(filter_weights(wildcards)) * channels * inputs
    return math.ceil(math.ceil(kernels * settings["contrast_share"]) * settings["density_share"])


# ---- Asks that grow with the analysed points (analysis.split, analysis.points) and the data


# The asks were measured on the default study's 10,000 MNIST test points; every job must fit 4 GiB at
# 60,000 (MNIST's training split). Between and beyond, an ask grows linearly with the analysed points.
# The asks at 60,000 are estimates (what a job holds per point: its activations, a method's neighbour
# graph) until the scale benchmark (`make bench`, its scale phase) measures them.
MEASURED_POINTS = 10_000
BUDGET_POINTS = 60_000


def analysed_points(dataset):
    """The points analysed on ``dataset``; while a user's dataset's counts are unknown (a torchvision
    dataset not yet prepared), the 60,000 the asks are sized for."""
    return nnconfig.n_points(config, dataset) or BUDGET_POINTS


def training_minutes(wildcards, attempt):
    """A training job's runtime (nnconfig.training_minutes), doubled per retry."""
    return nnconfig.training_minutes(config, wildcards.dataset, wildcards.model, BUDGET_POINTS) * attempt


def points_mb(measured, at_budget, dataset=None):
    """A rule's mem_mb: ``measured`` MB up to 10,000 analysed points on ``dataset`` (the wildcard's when
    None), then linearly on to ``at_budget`` MB at 60,000 and beyond; doubled per retry."""

    def mem_mb(wildcards, attempt):
        extra = max(0, analysed_points(dataset or wildcards.dataset) - MEASURED_POINTS)
        return (measured + extra * (at_budget - measured) // (BUDGET_POINTS - MEASURED_POINTS)) * attempt

    return mem_mb


def points_minutes(measured, dataset=None):
    """A rule's runtime: ``measured`` minutes up to 10,000 analysed points, then in proportion to them;
    doubled per retry."""

    def runtime(wildcards, attempt):
        points = analysed_points(dataset or wildcards.dataset)
        return -(-measured * max(points, MEASURED_POINTS) // MEASURED_POINTS) * attempt

    return runtime


def prepare_mb(dataset):
    """What preparing a user's dataset asks: 1000 MB and the float32 size of its larger split (the
    splits are read and written one at a time, in batches); for a torchvision dataset not yet known,
    60,000 inputs of 3 x 32 x 32 (CIFAR-10's 50,000 and then some). Measured (/usr/bin/time, an arrays
    file of 60,000 + 10,000 images of 3 x 32 x 32): 295 MB RSS and 6 s from uint8 (377 MB, 11 s
    standardized), 868 MB and 9 s from float32 (917 MB, 15 s standardized); asked 1703 MB."""
    info = nndatasets.get(dataset, config)
    values = max(info.points.values()) * info.n_features if info.known and info.points else 60_000 * 3 * 32 * 32
    return 1000 + 4 * values // 2**20


# ---- A rule's named outputs (figures in the report, with their captions) and the figure batches' inputs


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
