"""The model grid and each job's config slice: the grid's architectures and model ids, the hidden
layers ``analysis.layers`` chooses, the points analysed on each dataset (``analysis.split`` and
``analysis.points``), and exactly the part of the config that each stage reads (its rerun trigger);
with the checks of the grid, training, the clustering methods and homology that the schema cannot
express.

Imported by the Snakefile, so it stays light: no torch, no numpy.
"""

from __future__ import annotations

import copy
import dataclasses
import math

from nntopo import datasets
from nntopo.config.cnn import describe_architecture
from nntopo.config.schema import ConfigError
from nntopo.models import ModelId, hidden_name, is_grid_model


def widths_of(entry) -> tuple[int, ...]:
    return (entry,) if isinstance(entry, int) else tuple(entry)


def architectures(config: dict) -> list[ModelId]:
    """The grid's architectures, the MLPs' widths then the CNNs (as model ids of seed 0, relu, no
    regularization: only their layers count)."""
    mlps = [ModelId(widths_of(widths), "none", 0) for widths in config["widths"]]
    cnns = [ModelId((*cnn["channels"], *cnn["dense"]), "none", 0, conv=len(cnn["channels"]), kernel=cnn["kernel"],
                    pool=cnn["pool"]) for cnn in config["cnns"]]
    return mlps + cnns


def model_ids(config: dict) -> list[ModelId]:
    """Every model of the grid: architectures x activations x regularizations x seeds, in config order
    (trained on every dataset; the external networks are ``models_of``'s)."""
    return [
        dataclasses.replace(architecture, regularization=reg, seed=seed, activation=activation)
        for architecture in architectures(config)
        for activation in config["activations"]
        for reg in config["regularizations"]
        for seed in seeds(config)
    ]


def seeds(config: dict) -> list[int]:
    """The grid's seeds: ``seeds``, or with ``trials`` every seed that may be tried (0 to limit - 1;
    which of them are trained and kept is decided as the trials end)."""
    trials = config.get("trials")
    return list(range(trials["limit"])) if trials else list(config["seeds"])


def hidden_layers(widths, chosen) -> list[int]:
    """The numbers (from 1) of the hidden layers ``analysis.layers`` chooses in an architecture."""
    if chosen == "all":
        return list(range(1, len(widths) + 1))
    if chosen == "last":
        return [len(widths)]
    return sorted(chosen)


def convolutional_layers(model: str | ModelId) -> list[str]:
    """The hidden layers of ``model`` that are convolutions (a CNN's first ones; none of an MLP's, nor
    of an external network's: its layers are whatever modules it records)."""
    if not is_grid_model(model):
        return []
    model = ModelId.parse(model) if isinstance(model, str) else model
    return [hidden_name(i) for i in range(1, model.conv + 1)]


# --- the study's datasets and the points analysed on them ---------------------------------------------------

def dataset_names(config: dict) -> tuple[str, ...]:
    """The study's datasets, built in or the user's, in the config's order."""
    return datasets.names(config)


def dataset_slice(config: dict, name: str) -> dict:
    """What preparing the user's dataset ``name`` reads: its entry, defaults filled in (the preparing
    rule's params, so a changed entry prepares it again; its record keeps the entry it was made from)."""
    for entry in config["datasets"]:
        if not isinstance(entry, str) and entry["name"] == name:
            return copy.deepcopy(entry)
    raise ConfigError(f"datasets: no dataset of your own is named {name!r}; yours: "
                      f"{', '.join(datasets.names(config, datasets.USER_KINDS)) or 'none'}")


def points_slice(config: dict) -> dict:
    """Which points every stage analyses (nntopo.data.points): the split, how many (None: all) and the
    subsample's seed. The params of every job that records or reads inputs."""
    analysis = config["analysis"]
    return {"split": analysis["split"], "points": analysis["points"], "seed": analysis["points_seed"]}


def analysed_points(config: dict, info: datasets.DatasetInfo) -> int | None:
    """How many points of dataset ``info`` are analysed: the chosen split's, or the subsample's when it
    is smaller; None while a user's dataset's counts are unknown."""
    total = info.n_points(config["analysis"]["split"], config["shapes"])
    chosen = config["analysis"]["points"]
    return total if total is None or chosen is None else min(chosen, total)


def smallest_analysed(config: dict, info: datasets.DatasetInfo) -> int | None:
    """The fewest analysed points of one class of ``info``: the split's smallest class; for a subsample,
    that class scaled by the subsample's share of the split, rounded down. That is the number expected,
    not a bound (the subsample is not stratified; its classes are known only when it is drawn): the
    config's check refuses what cannot fit on average, and input_homology checks the drawn points exactly."""
    split, shapes = config["analysis"]["split"], config["shapes"]
    smallest, total, analysed = info.smallest(split, shapes), info.n_points(split, shapes), analysed_points(config, info)
    if smallest is None or analysed is None:
        return None
    return smallest if analysed == total else smallest * analysed // total


def n_points(config: dict, dataset: str) -> int | None:
    """The analysed points of ``dataset`` (every method clusters all of them); None while unknown."""
    return analysed_points(config, datasets.get(dataset, config))


n_test_points = n_points  # its name when the analysed points were always the whole test set


def smallest_class(config: dict, dataset: str) -> int | None:
    """The fewest analysed points of one class of ``dataset`` (``smallest_analysed``)."""
    return smallest_analysed(config, datasets.get(dataset, config))


def describe_points(config: dict, info: datasets.DatasetInfo) -> str:
    """The analysed points in words, for messages: "the digits test set", or "the 5,000 analysed points
    of the mnist train set"."""
    split = config["analysis"]["split"]
    analysed = analysed_points(config, info)
    if analysed is not None and analysed < info.n_points(split, config["shapes"]):
        return f"the {analysed:,} analysed points of the {info.name} {split} set"
    return f"the {info.name} {split} set"


# --- what the schema cannot say ----------------------------------------------------------------------------

def check_grid(config: dict) -> None:
    """What the schema cannot say: the grid is not empty, and the analysed layers and top_k fit every
    architecture (whether the CNNs fit a dataset's images is ``check_known``'s)."""
    chosen = config["analysis"]["layers"]
    top_k = config["clustering"]["top_k"]
    if not config["widths"] and not config["cnns"] and not config["external"]:
        raise ConfigError("widths, cnns and external are all empty, so there is no model to study; give at least one "
                          "architecture or external network")
    names = [architecture.architecture_name for architecture in architectures(config)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"cnns: {', '.join(twice)} is the same network twice (defaults filled in); remove one entry")
    for architecture in architectures(config):
        name = describe_architecture(architecture)
        widths = architecture.widths
        if isinstance(chosen, list) and max(chosen) > len(widths):
            raise ConfigError(f"analysis.layers: hidden layer {max(chosen)} is deeper than the {len(widths)} hidden "
                              f"layer(s) of {name}; use all, last, or numbers up to {len(widths)}")
        for number in hidden_layers(widths, chosen):
            units = "channels" if number <= architecture.conv else "neurons"
            if top_k > widths[number - 1]:
                raise ConfigError(f"clustering.top_k: {top_k} is more than the {widths[number - 1]} {units} of "
                                  f"hidden layer {number} of {name}; use at most {widths[number - 1]}")


def check_training(config: dict) -> None:
    training = config["training"]
    if "batchnorm" in config["regularizations"] and training["batch_size"] < 2:
        raise ConfigError("training.batch_size: batchnorm needs batches of at least 2 images (its batch statistics); "
                          "raise batch_size or drop batchnorm from regularizations")
    criterion = training["early_stopping"]["criterion"]
    if criterion and not training["validation_split"]:
        raise ConfigError(f"training.early_stopping.criterion: {criterion} needs images held out of the training set; "
                          f"set training.validation_split (e.g. 0.1), or criterion: null")
    if criterion and training.get("zero_error"):
        raise ConfigError(f"training.zero_error and training.early_stopping.criterion: {criterion} both end training; "
                          f"keep one (criterion: null to train until zero error)")
    if training.get("schedule") == "halving" and "half_life" not in training:
        raise ConfigError("training.schedule: halving needs training.half_life (the steps over which the learning rate "
                          "halves, e.g. 2500)")
    if "half_life" in training and training.get("schedule") != "halving":
        raise ConfigError("training.half_life is read by the halving schedule alone; set training.schedule: halving "
                          "or drop half_life")
    batchnorm = config["regularization"].get("batchnorm", {})
    if (batchnorm.get("position") == "after_activation" and "batchnorm" in config["regularizations"]
            and config["cnns"]):
        raise ConfigError("regularization.batchnorm.position: after_activation is for fully connected networks; "
                          "drop the cnns or use before_activation")


def check_methods(config: dict) -> None:
    """Every listed method exists and takes its parameter block (a typo stops the dry run, not a job);
    whether they fit a dataset's points is ``check_points``'."""
    from nntopo.clustering.methods import METHODS

    for method in config["clustering"]["methods"]:
        if method not in METHODS:
            raise ConfigError(f"clustering.methods: unknown method {method!r}; choose from: {', '.join(METHODS)}")
        _configured(config, method)
    embedding = config["figures"]["embedding"]
    if embedding not in METHODS or not METHODS[embedding].embeds:
        embedders = [name for name, cls in METHODS.items() if cls.embeds]
        raise ConfigError(f"figures.embedding: {embedding!r} makes no 2-D embedding; choose from: {', '.join(embedders)}")


def _configured(config: dict, method: str):
    from nntopo.clustering.methods import make_method

    try:
        return make_method(method, 0, config["clustering"].get(method, {}))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"clustering.{method}: {error}") from None


def check_points(config: dict, info: datasets.DatasetInfo) -> None:
    """The clustering methods and the homology fit the analysed points of ``info`` (e.g. no more k-means
    clusters than points; ``homology.points_per_class`` within the smallest class), once they are known."""
    points = analysed_points(config, info)
    if points is None:  # a user's dataset not yet prepared: its preparing job runs this check
        return
    for method in config["clustering"]["methods"]:
        try:
            _configured(config, method).check_points(points)
        except ValueError as error:
            raise ConfigError(f"clustering.{method}: {error} ({describe_points(config, info)})") from None
    smallest, wanted = smallest_analysed(config, info), config["homology"]["points_per_class"]
    if wanted is not None and smallest is not None and wanted > smallest:
        group = class_word(info)
        where = (f"the {smallest} {config['analysis']['split']} points of the smallest {info.name} {group}"
                 if points == info.n_points(config["analysis"]["split"], config["shapes"]) else
                 f"the {smallest} points expected of the smallest {info.name} {group} in {describe_points(config, info)}")
        per = "" if group == "class" else f" (per {group}: a regression's level sets stand in for its classes)"
        raise ConfigError(f"homology.points_per_class{per}: {wanted} is more than {where}; use at most {smallest}, or "
                          f"null for every point")


def class_word(info: datasets.DatasetInfo) -> str:
    """What stands for a class of ``info`` in messages: "class", or a regression's "level set"."""
    return "level set" if info.task == "regression" else "class"


# --- each job's slice of the config ------------------------------------------------------------------------

def training_slice(config: dict, model: str | ModelId) -> dict:
    """Exactly the part of the config that training one model reads (its rerun trigger)."""
    model = ModelId.parse(model) if isinstance(model, str) else model
    if model.regularization not in config["regularization"]:
        presets = ", ".join(config["regularization"])
        raise ConfigError(f"model {model}: no regularization preset {model.regularization!r}; presets: {presets}")
    convolution = {}
    if model.conv:  # an MLP's slice has no such keys, so adding CNNs to a study retrains no MLP
        convolution = {"convolution": {"channels": list(model.channels), "kernel": model.kernel, "pool": model.pool},
                       "spatial_reduction": config["spatial_reduction"]}
    return {
        "widths": list(model.dense),  # the fully connected hidden layers
        **convolution,
        "activation": {"name": model.activation, **config["activation"].get(model.activation, {})},
        "regularization": {"name": model.regularization, **config["regularization"][model.regularization]},
        "seed": model.seed,
        # Patience and min_delta change nothing while early stopping is off (the summary reads them)
        "training": {key: value for key, value in config["training"].items()
                     if key != "early_stopping" or value["criterion"]},
        "neural_persistence": config["neural_persistence"],  # measured during training
    }


def training_minutes(config: dict, dataset: str, model: str | ModelId, unknown_points: int) -> int:
    """The minutes a training job asks a cluster for: 10, or what its training may take at 3 ms per
    layer per optimiser step and 10 GFLOP/s of its dense layers' work (``unknown_points`` training
    points while a user's dataset's counts are unknown), so a long protocol is not cut at 10 minutes.
    Measured here: Rieck et al.'s 650 x 650 at batch 32 for 40 epochs, 9-13 min a model with two jobs on
    two cores (asked: 31); Naitzat et al.'s full-batch steps of ten narrow layers, 27 ms each."""
    training = config["training"]
    model = ModelId.parse(model) if isinstance(model, str) else model
    info = datasets.get(dataset, config)
    points = round((info.n_points("train", config["shapes"]) or unknown_points) * (1 - (training["validation_split"] or 0)))
    steps = training["epochs"] * -(-points // training["batch_size"])
    sizes = [info.n_features or 784, *model.dense, info.n_outputs or 10]  # a CNN's convolutions not counted
    multiply_adds = sum(a * b for a, b in zip(sizes, sizes[1:]))
    seconds = steps * (len(sizes) - 1) * 0.003 + 6 * multiply_adds * points * training["epochs"] / 1e10
    return max(10, math.ceil(seconds / 60))


def clustering_slice(config: dict, method: str) -> dict:
    """What clustering with ``method`` reads: its parameter block."""
    clustering = config["clustering"]
    if method not in clustering:
        raise ConfigError(f"clustering method {method!r} has no parameter block clustering.{method}")
    return {"method": method, "params": clustering[method]}


def shapes_slice(config: dict, dataset: str) -> dict:
    """What generating a shape reads."""
    return {"dataset": dataset, **config["shapes"]}


def homology_slice(config: dict) -> dict:
    """What measuring homology reads: the whole ``homology`` block."""
    return dict(config["homology"])


def neurons_slice(config: dict) -> dict:
    """What the space of neurons reads: the ``neurons`` block, and ``clustering.top_k`` (which rank
    counts as a cluster's top-k; changing it reruns the rankings, its inputs, anyway)."""
    return {**copy.deepcopy(config["neurons"]), "top_k": config["clustering"]["top_k"]}


def figures_slice(config: dict, keys) -> dict:
    """The settings ``keys`` a figure reads: from ``figures``, and ``alpha`` (ablation)."""
    available = {**config["figures"], "alpha": config["ablation"]["alpha"]}
    return {key: available[key] for key in keys}


def filters_slice(config: dict) -> dict:
    """What the space of first-layer filters reads: the ``filters`` block."""
    return copy.deepcopy(config["filters"])
