"""Networks the user brings (config ``external``; docs "Analyse your own network"): their entries, the
files each is read from and their SHA-256, the units of their recorded layers, and the checks that
each names one kind, readable files, a dataset of the study its inputs fit, layers that fit
``analysis.layers`` and ``top_k``, and (for a torch.export program, read from its archive without
torch) modules that it has, with the nearest names for one it has not.
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
import os
import zipfile

from nntopo import datasets
from nntopo.files import checksum
from nntopo.config.grid import analysed_points, hidden_layers, model_ids
from nntopo.config.schema import ConfigError

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
    from nntopo import store  # here: the store loads h5py

    return store.hidden_widths(path)


def external_slice(config: dict, name: str) -> dict:
    """What recording (or importing) an external network reads: its entry, each file's SHA-256 (so that
    a changed file reruns it and what depends on it) and the spatial reduction."""
    entry = external_entry(config, name)
    return {**copy.deepcopy(entry), "kind": external_kind(entry),
            "files": {path: checksum(path) for path in external_files(entry)},
            "spatial_reduction": config["spatial_reduction"]}


def module_names(entry: dict, key: str) -> list[str]:
    """The module names an entry's ``layers`` or ``weight_modules`` give (a layer's ``module`` when it
    picks an element of the module's output)."""
    return [item if isinstance(item, str) else item["module"] for item in entry.get(key) or []]


def unknown_modules(names: list[str], known: list[str]) -> str | None:
    """None when every name is a module of ``known``; else what is wrong, with the nearest names:
    "no module 'stem.O' (nearest: stem.0, stem.1)"."""
    missing = [name for name in dict.fromkeys(names) if name not in known]
    if not missing:
        return None
    parts = []
    for name in missing:
        nearest = difflib.get_close_matches(name, [k for k in known if k], n=3, cutoff=0.5)
        parts.append(f"{name!r}" + (f" (nearest: {', '.join(nearest)})" if nearest else ""))
    return f"no module {', '.join(parts)}"


def program_modules(path: str) -> list[str] | None:
    """The module names of a torch.export program (a .pt2 of torch.export.save), as torch.export.unflatten
    gives them back, read from the archive's serialized program (JSON, its module call graph) without
    torch; None when the archive does not hold them there (another layout or torch version), so that the
    job checks them once the network loads."""
    return _program_modules(path, checksum(path))


@functools.lru_cache(maxsize=None)
def _program_modules(path: str, sha256: str) -> list[str] | None:  # read once per file's content
    try:
        with zipfile.ZipFile(path) as archive:
            model = next((name for name in archive.namelist() if name.endswith("/models/model.json")), None)
            if model is None:
                return None
            calls = json.loads(archive.read(model))["graph_module"]["module_call_graph"]
        return [call["fqn"] for call in calls]
    except (OSError, zipfile.BadZipFile, ValueError, KeyError, TypeError):
        return None


def _check_program_modules(where: str, entry: dict) -> None:
    """A program's layers and weight_modules name modules it has (config time; the job checks the rest)."""
    known = program_modules(entry["program"])
    if known is None:
        return
    for key in ("layers", "weight_modules"):
        problem = unknown_modules(module_names(entry, key), known)
        if problem:
            modules = [name for name in known if name]
            raise ConfigError(f"{where}: {key} names {problem} of {entry['program']}; its modules are: "
                              f"{', '.join(modules[:40])}{' ...' if len(modules) > 40 else ''}; fix the name "
                              f"in its {key}")


def check_external(config: dict) -> None:
    """Each external network names one kind, existing readable files, a dataset of the study, and layers
    that fit analysis.layers and top_k (known here for recorded activations; a network's units show when
    it runs). Whether its inputs fit the dataset's is ``check_inputs``', once the dataset is known."""
    names = [str(model) for model in model_ids(config)]
    for i, entry in enumerate(config["external"]):
        where = f"external.{i} ({entry['name']})"
        if entry["name"] in names:
            raise ConfigError(f"{where}: the name is given twice; give each external network its own name")
        if entry["name"] in RESERVED_NAMES:
            raise ConfigError(f"{where}: {entry['name']!r} is the name of a results folder ({', '.join(RESERVED_NAMES)}); "
                              f"choose another name")
        names.append(entry["name"])
        if entry["dataset"] not in datasets.names(config):
            raise ConfigError(f"{where}: dataset {entry['dataset']} is not in datasets ({', '.join(datasets.names(config))}); "
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
        if kind == "activations":
            _check_recorded_layers(config, where, entry)
        if kind == "program":
            _check_program_modules(where, entry)
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


def _recorded(where: str, entry: dict) -> tuple[int, list[int]]:
    """(points, units of each hidden layer) of an entry's recorded activations."""
    from nntopo import store

    files = [entry["activations"], *([entry["weights"]] if "weights" in entry else [])]
    try:
        return _read_recorded(*files, stamps=tuple(os.stat(path).st_mtime_ns for path in files))
    except store.StoreError as error:
        raise ConfigError(f"{where}: {error}") from None


@functools.lru_cache(maxsize=None)
def _read_recorded(activations: str, weights: str | None = None, *, stamps: tuple) -> tuple[int, list[int]]:
    """Read once per version of the files (the config's checks ask twice), by the store's own readers;
    the weights' layers must have the activations' units."""
    from nntopo import store

    acts = store.read_activations(activations)
    recorded = [values.shape[1] for values in (*acts.hidden, acts.output)]
    if weights is not None:
        widths = [layer.weight.shape[0] for layer in store.read_weights(weights).values()]
        if widths != recorded:
            raise store.StoreError(f"{weights}: its layers have {widths} units, but the activations of {activations} "
                                   f"have {recorded}")
    return len(acts.labels), recorded[:-1]


def _check_recorded_layers(config: dict, where: str, entry: dict) -> None:
    """Recorded activations (and weights) the store reads, whose analysed layers have top_k units."""
    _, widths = _recorded(where, entry)
    top_k = config["clustering"]["top_k"]
    for number in hidden_layers(range(len(widths)), config["analysis"]["layers"]):
        if top_k > widths[number - 1]:
            raise ConfigError(f"clustering.top_k: {top_k} is more than the {widths[number - 1]} units "
                              f"of hidden layer {number} of {where}; use at most {widths[number - 1]}")


def check_inputs(config: dict, info: datasets.DatasetInfo) -> None:
    """The external networks on dataset ``info`` fit its facts: a network's input_shape holds one
    input's values; recorded activations hold the analysed points."""
    for i, entry in enumerate(config["external"]):
        if entry["dataset"] != info.name:
            continue
        where = f"external.{i} ({entry['name']})"
        if external_kind(entry) != "activations":
            features = info.n_features
            if entry["input_shape"] is not None and features is not None and math.prod(entry["input_shape"]) != features:
                raise ConfigError(f"{where}: input_shape {entry['input_shape']} holds {math.prod(entry['input_shape'])} "
                                  f"values, but a {info.name} input has {features}; give a shape of {features} values, "
                                  f"or leave it out to use the dataset's {list(info.input_shape)}")
            continue
        recorded, _ = _recorded(where, entry)
        points = analysed_points(config, info)
        if points is not None and recorded != points:
            split = config["analysis"]["split"]
            if points == info.n_points(split, config["shapes"]):
                wanted = f"the {info.name} {split} set has {points}; record the whole {split} set"
            else:
                wanted = (f"{points} points of the {info.name} {split} set are analysed; record those "
                          f"(nntopo.data.points.analysed draws them)")
            raise ConfigError(f"{where}: {entry['activations']} holds {recorded} points, but {wanted}, in nntopo's order")
