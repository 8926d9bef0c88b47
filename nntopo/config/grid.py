"""The model grid and each job's config slice: the grid's architectures and model ids, the hidden
layers ``analysis.layers`` chooses, each dataset's test points, and exactly the part of the config
that each stage reads (its rerun trigger); with the checks of the grid, training, the clustering
methods and homology that the schema cannot express.

Imported by the Snakefile, so it stays light: no torch, no numpy.
"""

from __future__ import annotations

import copy
import dataclasses

from nntopo import datasets
from nntopo.config.cnn import check_maps, describe_architecture
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
        for seed in config["seeds"]
    ]


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


def n_test_points(config: dict, dataset: str) -> int:
    """The test points of ``dataset``: every one is clustered (a shape's: the config's shapes.test_points)."""
    return datasets.get(dataset, config).n_points("test", config["shapes"])


def smallest_class(config: dict, dataset: str) -> int:
    """The fewest test points of one class of ``dataset`` (a shape's class a has half, rounded down)."""
    return datasets.get(dataset, config).smallest("test", config["shapes"])


# --- what the schema cannot say ----------------------------------------------------------------------------

def check_grid(config: dict) -> None:
    """What the schema cannot say: the grid is not empty, CNNs fit their images, and the analysed layers
    and top_k fit every architecture."""
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
        if architecture.conv:
            for dataset in datasets.names(config):
                check_maps(architecture, dataset, config)


def check_training(config: dict) -> None:
    training = config["training"]
    if "batchnorm" in config["regularizations"] and training["batch_size"] < 2:
        raise ConfigError("training.batch_size: batchnorm needs batches of at least 2 images (its batch statistics); "
                          "raise batch_size or drop batchnorm from regularizations")
    criterion = training["early_stopping"]["criterion"]
    if criterion and not training["validation_split"]:
        raise ConfigError(f"training.early_stopping.criterion: {criterion} needs images held out of the training set; "
                          f"set training.validation_split (e.g. 0.1), or criterion: null")


def check_methods(config: dict) -> None:
    """Every listed method exists and takes its parameter block (a typo stops the dry run, not a job)."""
    from nntopo.clustering.methods import METHODS, make_method

    clustering = config["clustering"]
    for method in clustering["methods"]:
        if method not in METHODS:
            raise ConfigError(f"clustering.methods: unknown method {method!r}; choose from: {', '.join(METHODS)}")
        try:
            configured = make_method(method, 0, clustering.get(method, {}))
        except (ValueError, TypeError) as error:
            raise ConfigError(f"clustering.{method}: {error}") from None
        for dataset in datasets.names(config):  # e.g. more k-means clusters than test points
            points = n_test_points(config, dataset)
            if points is None:  # a user's dataset not yet prepared: its preparing job runs this check
                continue
            try:
                configured.check_points(points)
            except ValueError as error:
                raise ConfigError(f"clustering.{method}: {error} (the {dataset} test set)") from None
    embedding = config["figures"]["embedding"]
    if embedding not in METHODS or not METHODS[embedding].embeds:
        embedders = [name for name, cls in METHODS.items() if cls.embeds]
        raise ConfigError(f"figures.embedding: {embedding!r} makes no 2-D embedding; choose from: {', '.join(embedders)}")


def check_homology(config: dict) -> None:
    """The homology's points must fit in every class of every dataset (the diagrams' subsample is
    ``diagram_points`` or, in a smaller class, every measured point)."""
    settings = config["homology"]
    for dataset in datasets.names(config):
        smallest = smallest_class(config, dataset)
        wanted = settings["points_per_class"]
        if wanted is not None and smallest is not None and wanted > smallest:
            raise ConfigError(f"homology.points_per_class: {wanted} is more than the {smallest} test points of the "
                              f"smallest {dataset} class; use at most {smallest}, or null for every point")


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
