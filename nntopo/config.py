"""Load and check the workflow configuration; compute the model grid and each job's config slice.

Imported by the Snakefile, so it stays light: no torch, no numpy.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import os
from pathlib import Path

import jsonschema
import yaml

from nntopo.models import ModelId

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DATA_DIR_ENV = "NNTOPO_DATA_DIR"
# Test points of each dataset: every one is clustered (nntopo/data.py; digits keeps 30% of 1,797).
TEST_POINTS = {"mnist": 10_000, "fashion_mnist": 10_000, "digits": 540}
# The fewest test points in one class: MNIST's digit 5, Fashion-MNIST's every class, digits' smallest.
SMALLEST_TEST_CLASS = {"mnist": 892, "fashion_mnist": 1000, "digits": 52}
SHAPES = ("disks", "tori")  # nntopo.shapes.NAMES: point clouds generated from the config's `shapes`
IDX_DATASETS = ("mnist", "fashion_mnist")  # read from files under the data directory
# The image side lengths of the datasets of images (nntopo/data.py); the shapes' points are 3-D.
IMAGE_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "digits": (8, 8)}
SHAPE_DIMENSIONS = 3


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is allowed."""


def _with_defaults(validator_class):
    """A validator that fills in each property's default before checking it (jsonschema's recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    schema = error.schema
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {}))) or "none"
        where = "" if key == "(top level)" else f" in {key}"
        return f"unknown key {', '.join(map(repr, unknown))}{where}; allowed keys: {allowed}"
    if error.validator == "enum":
        allowed = ", ".join("null" if value is None else str(value) for value in error.validator_value)
        return f"{key}: {error.instance!r} is not allowed; choose one of: {allowed}"
    if error.validator == "oneOf":
        return f"{key}: {error.instance!r} is not allowed; expected {schema.get('description', 'another value')}"
    return f"{key}: {error.message}"


def validate(config: dict | None) -> dict:
    """Return a checked copy of ``config`` with every default filled in, or raise ConfigError."""
    config = copy.deepcopy(config or {})
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping of keys to values, not {type(config).__name__}")
    _check_finite(config)
    validator = _Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best))
    _check_grid(config)
    _check_external(config)
    _check_training(config)
    _check_methods(config)
    _check_homology(config)
    return config


def n_test_points(config: dict, dataset: str) -> int:
    return config["shapes"]["test_points"] if dataset in SHAPES else TEST_POINTS[dataset]


def smallest_class(config: dict, dataset: str) -> int:
    """The fewest test points of one class of ``dataset`` (a shape's class a has half, rounded down)."""
    return config["shapes"]["test_points"] // 2 if dataset in SHAPES else SMALLEST_TEST_CLASS[dataset]


def _check_homology(config: dict) -> None:
    """The homology's points must fit in every class of every dataset (the diagrams' subsample is
    ``diagram_points`` or, in a smaller class, every measured point)."""
    settings = config["homology"]
    for dataset in config["datasets"]:
        smallest = smallest_class(config, dataset)
        wanted = settings["points_per_class"]
        if wanted is not None and wanted > smallest:
            raise ConfigError(f"homology.points_per_class: {wanted} is more than the {smallest} test points of the "
                              f"smallest {dataset} class; use at most {smallest}, or null for every point")


def _check_training(config: dict) -> None:
    training = config["training"]
    if "batchnorm" in config["regularizations"] and training["batch_size"] < 2:
        raise ConfigError("training.batch_size: batchnorm needs batches of at least 2 images (its batch statistics); "
                          "raise batch_size or drop batchnorm from regularizations")
    criterion = training["early_stopping"]["criterion"]
    if criterion and not training["validation_split"]:
        raise ConfigError(f"training.early_stopping.criterion: {criterion} needs images held out of the training set; "
                          f"set training.validation_split (e.g. 0.1), or criterion: null")


def _check_finite(value, key: str = "") -> None:
    """No NaN or infinity anywhere (YAML's .nan and .inf pass every schema bound)."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, f"{key}.{i}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: {value} is not allowed; give a finite number")


def _check_grid(config: dict) -> None:
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
            for dataset in config["datasets"]:
                _check_maps(architecture, dataset)


def describe_architecture(architecture: ModelId) -> str:
    if not architecture.conv:
        return f"widths {list(architecture.widths)}"
    return (f"the CNN of channels {list(architecture.channels)}, kernel {architecture.kernel}, pool {architecture.pool}"
            f" and dense {list(architecture.dense)}")


def feature_map_sizes(architecture: ModelId, image_shape: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per convolutional layer, the side lengths of its feature maps and of the pooled maps after it
    (convolution without padding, stride 1; pooling of size = stride, the remainder dropped). Sizes
    below 1 are returned as they are: the caller says which layer fails."""
    sizes, (height, width) = [], image_shape
    for _ in architecture.channels:
        height, width = height - architecture.kernel + 1, width - architecture.kernel + 1
        pooled = (height // architecture.pool, width // architecture.pool)
        sizes.append(((height, width), pooled))
        height, width = pooled
    return sizes


def _check_maps(architecture: ModelId, dataset: str) -> None:
    if dataset not in IMAGE_SHAPES:
        raise ConfigError(f"cnns: {dataset} has no images (its points are {SHAPE_DIMENSIONS}-D), so "
                          f"{describe_architecture(architecture)} cannot read it; study it with widths alone")
    height, width = IMAGE_SHAPES[dataset]
    for number, (maps, pooled) in enumerate(feature_map_sizes(architecture, IMAGE_SHAPES[dataset]), start=1):
        if min(maps) < 1:
            raise ConfigError(f"cnns: the {architecture.kernel}x{architecture.kernel} kernel of convolutional layer "
                              f"{number} is larger than its {height}x{width} input ({dataset}); use a smaller kernel "
                              f"or fewer convolutional layers")
        if min(pooled) < 1:
            raise ConfigError(f"cnns: pooling of {architecture.pool} after convolutional layer {number} shrinks its "
                              f"{maps[0]}x{maps[1]} maps below 1x1 ({dataset}); use a smaller pool (1 for none) or "
                              f"fewer convolutional layers")
        height, width = pooled


def _check_methods(config: dict) -> None:
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
        for dataset in config["datasets"]:  # e.g. more k-means clusters than test points
            try:
                configured.check_points(n_test_points(config, dataset))
            except ValueError as error:
                raise ConfigError(f"clustering.{method}: {error} (the {dataset} test set)") from None
    embedding = config["figures"]["embedding"]
    if embedding not in METHODS or not METHODS[embedding].embeds:
        embedders = [name for name, cls in METHODS.items() if cls.embeds]
        raise ConfigError(f"figures.embedding: {embedding!r} makes no 2-D embedding; choose from: {', '.join(embedders)}")


def load(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    return validate(raw)


def data_dir(config: dict) -> Path:
    """The data directory: NNTOPO_DATA_DIR when set, else the config's ``data_dir``."""
    return Path(os.environ.get(DATA_DIR_ENV) or config["data_dir"])


def check_data_dir(config: dict) -> None:
    """Refuse a data directory that cannot be right, when an MNIST-family dataset needs one.

    A missing directory is refused when NNTOPO_DATA_DIR names it (a pointer to nothing is a typo)
    or when download is false (nothing would fill it); with download on, the download creates it.
    Missing or broken files inside an existing directory are the training job's to report.
    """
    needing = [name for name in config["datasets"] if name in IDX_DATASETS]
    if not needing:
        return
    path = data_dir(config)
    key = f"{DATA_DIR_ENV} (environment)" if os.environ.get(DATA_DIR_ENV) else "data_dir"
    wanted = "a folder holding MNIST/raw/*.gz (or FashionMNIST/raw/*.gz), in torchvision's layout"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{key}: {str(path)!r} is a file, not a directory; give {wanted}")
    if path.exists():
        return
    if key != "data_dir":
        raise ConfigError(f"{key}: {str(path)!r} does not exist; give {wanted}, or unset it to use data_dir")
    if not config["download"]:
        raise ConfigError(f"data_dir: {str(path)!r} does not exist and download is false, so nothing would fill it "
                          f"(datasets: {', '.join(needing)}); give {wanted}, or set download: true")


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


def models_of(config: dict, dataset: str) -> list:
    """Every model studied on ``dataset``: the grid's (ModelId), then the external networks given for it
    (their names)."""
    return [*model_ids(config), *(entry["name"] for entry in config["external"] if entry["dataset"] == dataset)]


def hidden_layers(widths, chosen) -> list[int]:
    """The numbers (from 1) of the hidden layers ``analysis.layers`` chooses in an architecture."""
    if chosen == "all":
        return list(range(1, len(widths) + 1))
    if chosen == "last":
        return [len(widths)]
    return sorted(chosen)


def layers_of(config: dict, model: str | ModelId) -> list[str]:
    """The analysed layers of ``model``, in depth order: the chosen hidden layers, then the output."""
    from nntopo.store import OUTPUT_LAYER, hidden_name

    return [hidden_name(i) for i in hidden_layers(range(n_hidden(config, model)), config["analysis"]["layers"])] + [OUTPUT_LAYER]


def n_hidden(config: dict, model: str | ModelId) -> int:
    """How many hidden layers ``model`` has: a grid model's from its id, an external one's from its
    ``layers`` (or its recorded file)."""
    entry = external_entry(config, str(model))
    if entry is not None:
        return len(external_widths(entry))
    return len((ModelId.parse(model) if isinstance(model, str) else model).widths)


def ranked_layers(config: dict, model: str | ModelId, layer: str) -> list[str]:
    """Whose neurons are ranked for the clusters of ``layer``: its own for a hidden layer; for the
    output (the study's clustering), every analysed hidden layer's."""
    from nntopo.store import OUTPUT_LAYER

    return layers_of(config, model)[:-1] if layer == OUTPUT_LAYER else [layer]


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


def ranking_slice(config: dict, model: str, layer: str) -> dict:
    """What ranking neurons reads: the layers whose neurons are ranked and k."""
    return {"layers": ranked_layers(config, model, layer), "top_k": config["clustering"]["top_k"]}


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


def ablation_slice(config: dict, model: str, layer: str) -> dict:
    """What the ablation reads: the layers whose top neurons are silenced, k, and the random baseline."""
    return {"layers": ranked_layers(config, model, layer), "top_k": config["clustering"]["top_k"], **config["ablation"]}


def convolutional_layers(model: str | ModelId) -> list[str]:
    """The hidden layers of ``model`` that are convolutions (a CNN's first ones; none of an MLP's, nor
    of an external network's: its layers are whatever modules it records)."""
    from nntopo.store import hidden_name
    from nntopo.models import is_grid_model

    if not is_grid_model(model):
        return []
    model = ModelId.parse(model) if isinstance(model, str) else model
    return [hidden_name(i) for i in range(1, model.conv + 1)]


def filters_slice(config: dict) -> dict:
    """What the space of first-layer filters reads: the ``filters`` block."""
    return copy.deepcopy(config["filters"])


# --- networks the user brings (README "Analyse your own network") ----------------------------------------
# The kinds of external network, by the key that gives its file; `layers` name the recorded modules.
EXTERNAL_KINDS = {"program": "a torch.export program", "module": "an importable nn.Module and its state dict",
                  "activations": "activations recorded elsewhere"}
# Names an external network cannot take: the folders a dataset's results hold beside its models'.
RESERVED_NAMES = ("summary", "homology", "filters")
_TORCH_ONLY = ("layers", "weight_modules", "input_shape", "kwargs", "state_dict", "module", "program")


def external_entry(config: dict, name: str) -> dict | None:
    """The ``external`` entry named ``name``; None for a grid model."""
    return next((entry for entry in config.get("external", []) if entry["name"] == name), None)


def has_weights(config: dict, model) -> bool:
    """Whether ``model`` has a weights.h5: every grid model; an external one when its weights are given."""
    entry = external_entry(config, str(model))
    return entry is None or "weights" in entry or bool(entry.get("weight_modules"))


def external_kind(entry: dict) -> str:
    return next(kind for kind in EXTERNAL_KINDS if kind in entry)


def external_files(entry: dict) -> list[str]:
    """The files an external network is read from (its rule's inputs and its provenance)."""
    keys = {"program": ("program",), "module": ("state_dict",), "activations": ("activations", "weights")}
    return [entry[key] for key in keys[external_kind(entry)] if key in entry]


def external_widths(entry: dict) -> list[int | None]:
    """Units per hidden layer of an external network: read from its recorded activations, unknown (None)
    for a network, whose layers' units show only when it runs."""
    if external_kind(entry) != "activations":
        return [None] * len(entry["layers"])
    return _recorded_widths(entry["activations"], os.stat(entry["activations"]).st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _recorded_widths(path: str, mtime_ns: int) -> list[int]:  # read once per file and version, not per target
    import h5py

    with h5py.File(path, "r") as h5:
        hidden = sorted((k for k in h5 if k.startswith("hidden_")), key=lambda k: int(k.split("_")[1]))
        return [int(h5[k].shape[1]) for k in hidden]


def checksum(path: str | os.PathLike) -> str:
    """The file's SHA-256, read once per version of the file (every job's params name it)."""
    stat = os.stat(path)
    return _checksum(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _checksum(path: str, mtime_ns: int, size: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def external_slice(config: dict, name: str) -> dict:
    """What recording (or importing) an external network reads: its entry, each file's SHA-256 (so that
    a changed file reruns it and what depends on it) and the spatial reduction."""
    entry = external_entry(config, name)
    return {**copy.deepcopy(entry), "kind": external_kind(entry),
            "files": {path: checksum(path) for path in external_files(entry)},
            "spatial_reduction": config["spatial_reduction"]}


def _check_external(config: dict) -> None:
    """Each external network names one kind, existing readable files, a dataset of the study whose
    inputs fit its input_shape, and layers that fit analysis.layers and top_k (known here for recorded
    activations; a network's units show when it runs)."""
    names = [str(model) for model in model_ids(config)]
    for i, entry in enumerate(config["external"]):
        where = f"external.{i} ({entry['name']})"
        if entry["name"] in names:
            raise ConfigError(f"{where}: the name is given twice; give each external network its own name")
        if entry["name"] in RESERVED_NAMES:
            raise ConfigError(f"{where}: {entry['name']!r} is the name of a results folder ({', '.join(RESERVED_NAMES)}); "
                              f"choose another name")
        names.append(entry["name"])
        if entry["dataset"] not in config["datasets"]:
            raise ConfigError(f"{where}: dataset {entry['dataset']} is not in datasets ({', '.join(config['datasets'])}); "
                              f"add it there")
        kinds = [kind for kind in EXTERNAL_KINDS if kind in entry]
        if len(kinds) != 1:
            raise ConfigError(f"{where}: give exactly one of program ({EXTERNAL_KINDS['program']}), module (with "
                              f"state_dict) or activations (with optional weights); found {', '.join(kinds) or 'none'}")
        kind = kinds[0]
        if kind == "activations":
            extra = [key for key in _TORCH_ONLY if entry.get(key) not in (None, {})]
            if extra:
                raise ConfigError(f"{where}: {', '.join(extra)} describe a network, but this entry gives recorded "
                                  f"activations; remove them")
        else:
            missing = [key for key in ("layers", *(("state_dict",) if kind == "module" else ())) if key not in entry]
            if missing:
                raise ConfigError(f"{where}: {kind} needs {' and '.join(missing)}")
            if "weights" in entry:
                raise ConfigError(f"{where}: weights is a recorded weights.h5, for an entry with activations; a "
                                  f"network's weights are named by weight_modules")
            if "weight_modules" in entry and len(entry["weight_modules"]) != len(entry["layers"]) + 1:
                raise ConfigError(f"{where}: weight_modules names {len(entry['weight_modules'])} modules for "
                                  f"{len(entry['layers'])} layers and the output; give {len(entry['layers']) + 1}")
        for path in external_files(entry):
            _check_readable(where, path)
        if kind != "activations" and entry["input_shape"] is not None:
            features = math.prod(IMAGE_SHAPES.get(entry["dataset"], (SHAPE_DIMENSIONS,)))
            if math.prod(entry["input_shape"]) != features:
                raise ConfigError(f"{where}: input_shape {entry['input_shape']} holds {math.prod(entry['input_shape'])} "
                                  f"values, but a {entry['dataset']} input has {features}; give a shape of {features} values")
        if kind == "activations":
            _check_recorded(config, where, entry)
        chosen = config["analysis"]["layers"]
        depth = len(external_widths(entry))
        if isinstance(chosen, list) and max(chosen) > depth:
            raise ConfigError(f"analysis.layers: hidden layer {max(chosen)} is deeper than the {depth} recorded "
                              f"layer(s) of {where}; use all, last, or numbers up to {depth}")


def _check_readable(where: str, path: str) -> None:
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: {path} does not exist (paths are relative to the folder snakemake runs in, "
                          f"{os.getcwd()}); give the file's path")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{where}: {path} cannot be read (permissions); make it readable")
    if path.endswith((".h5", ".hdf5")):
        return
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{where}: {path} is not a file torch.save or torch.export.save wrote (not a zip archive); "
                          f"save it again")
    with zipfile.ZipFile(path) as archive:
        if any(name.endswith("/constants.pkl") or name.startswith("constants.pkl") for name in archive.namelist()):
            raise ConfigError(f"{where}: {path} is TorchScript (torch.jit.save), whose modules take no forward hooks; "
                              f"save the model with torch.export.save(torch.export.export(...)) and give it as program")


def _check_recorded(config: dict, where: str, entry: dict) -> None:
    """Recorded activations (and weights): the store's own readers, on the dataset's test points."""
    from nntopo import store

    try:
        acts = store.read_activations(entry["activations"])
        if "weights" in entry:
            weights = store.read_weights(entry["weights"])
            widths = [layer.weight.shape[0] for layer in weights.values()]
            recorded = [values.shape[1] for values in (*acts.hidden, acts.output)]
            if widths != recorded:
                raise store.StoreError(f"{entry['weights']}: its layers have {widths} units, but the activations "
                                         f"of {entry['activations']} have {recorded}")
    except store.StoreError as error:
        raise ConfigError(f"{where}: {error}") from None
    points = n_test_points(config, entry["dataset"])
    if len(acts.labels) != points:
        raise ConfigError(f"{where}: {entry['activations']} holds {len(acts.labels)} points, but the {entry['dataset']} "
                          f"test set has {points}; record the whole test set, in nntopo's order")
    top_k = config["clustering"]["top_k"]
    for number in hidden_layers(range(len(acts.hidden)), config["analysis"]["layers"]):
        if top_k > acts.hidden[number - 1].shape[1]:
            raise ConfigError(f"clustering.top_k: {top_k} is more than the {acts.hidden[number - 1].shape[1]} units "
                              f"of hidden layer {number} of {where}; use at most {acts.hidden[number - 1].shape[1]}")
