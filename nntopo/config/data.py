"""The study's datasets in the config (docs/guides/own-data.md): each entry's checks when the workflow
loads (names, files, torchvision classes, scaling), and the checks that need a dataset's facts
(``check_known``: its input shape and counts), which run at load time for every dataset whose facts
are known, and in the preparing job (rule dataset_data) with the facts it has just found.
"""

from __future__ import annotations

import difflib
import inspect
import os

from nntopo import datasets
from nntopo.config.cnn import check_maps
from nntopo.config.external import check_inputs
from nntopo.config.grid import architectures, check_points
from nntopo.config.schema import ConfigError

# Names a dataset of the user's cannot take: results/ holds results/{dataset}/ beside these folders,
# and a dataset's results/{dataset}/summary/ sits beside its models' folders.
RESERVED_NAMES = ("logs", "benchmarks", "summary")
FOLDER_LAYOUT = "a folder holding train/ and test/, each with one subfolder of PNG or JPEG images per class"
ARRAYS_LAYOUT = "a .npz, .h5 or .hdf5 file holding x_train, y_train, x_test and y_test (labels 0..C-1)"
ARRAYS_SUFFIXES = (".npz", ".h5", ".hdf5")
# A torchvision class's arguments that nntopo sets itself (the data folder, which split, the download).
TORCHVISION_OWN = ("root", "train", "download")


def has_images(config: dict, dataset: str) -> bool:
    """Whether ``dataset``'s inputs are images (the figures that draw inputs and first-layer weights need
    them), known when the workflow loads: a torchvision or folder dataset always has images; an arrays
    dataset has them when its x arrays are N x H x W or N x C x H x W (peeked at in the file)."""
    info = datasets.get(dataset, config)
    if info.known:
        return info.has_images
    # Unknown facts: a torchvision dataset not yet prepared (its classes all read images), a folder's or an
    # arrays file's with no reader of the user's kinds installed.
    return info.kind in ("torchvision", "folder")


# --- each entry, when the workflow loads -----------------------------------------------------------------


def check_datasets(config: dict) -> None:
    """Each dataset once, a user's with a name of its own, a file or folder that exists, a torchvision
    class that torchvision has, and a scaling of as many means as standard deviations."""
    seen = {}
    for i, entry in enumerate(config["datasets"]):
        name = datasets.entry_name(entry)
        if name in seen:
            raise ConfigError(f"datasets.{i}: {name!r} is given twice (datasets.{seen[name]} and datasets.{i}); give each "
                              f"dataset once, and each of your own a name of its own")
        seen[name] = i
        if isinstance(entry, str):
            continue
        if name in datasets.DATASETS:
            raise ConfigError(f"datasets.{i}.name: {name!r} is a built-in dataset's name; give your own dataset another "
                              f"name (e.g. my_{name})")
        if name in RESERVED_NAMES:
            raise ConfigError(f"datasets.{i}.name: {name!r} is the name of a results folder ({', '.join(RESERVED_NAMES)}); "
                              f"choose another name")
        where = f"datasets.{i} ({name})"
        scaling = entry["scaling"]
        if isinstance(scaling, dict) and len(scaling["mean"]) != len(scaling["std"]):
            raise ConfigError(f"{where}: scaling gives {len(scaling['mean'])} means but {len(scaling['std'])} standard "
                              f"deviations; give one of each per channel")
        {"torchvision": _check_torchvision, "folder": _check_folder, "arrays": _check_arrays}[entry["kind"]](where, entry)


def _check_folder(where: str, entry: dict) -> None:
    path = os.path.expanduser(entry["path"])
    if os.path.isfile(path):
        raise ConfigError(f"{where}: {path} is a file, not a folder; give {FOLDER_LAYOUT}")
    if not os.path.isdir(path):
        raise ConfigError(f"{where}: folder {path} does not exist (paths are relative to the folder snakemake runs in, "
                          f"{os.getcwd()}); give {FOLDER_LAYOUT}")


def _check_arrays(where: str, entry: dict) -> None:
    path = os.path.expanduser(entry["path"])
    if not path.lower().endswith(ARRAYS_SUFFIXES):
        raise ConfigError(f"{where}: {path} is not a .npz, .h5 or .hdf5 file; give {ARRAYS_LAYOUT} (numpy.savez or h5py "
                          f"writes one)")
    if not os.path.isfile(path):
        raise ConfigError(f"{where}: {path} does not exist (paths are relative to the folder snakemake runs in, "
                          f"{os.getcwd()}); give {ARRAYS_LAYOUT}")


def _check_torchvision(where: str, entry: dict) -> None:
    """The class exists in torchvision.datasets, takes a train/test switch, and the options it is given
    (torchvision is imported here alone: only a study with such a dataset pays for it)."""
    try:
        import torch.utils.data
        import torchvision.datasets
    except ImportError:
        raise ConfigError(f"{where}: kind torchvision needs the torchvision package; pip install torchvision") from None
    name = entry["class"]
    known = {key: value for key, value in vars(torchvision.datasets).items()
             if isinstance(value, type) and issubclass(value, torch.utils.data.Dataset) and not key.startswith("_")}
    if name not in known:
        lower = {key.lower(): key for key in known}
        close = [lower[match] for match in difflib.get_close_matches(name.lower(), lower, n=3, cutoff=0.7)]
        hint = f"did you mean {', '.join(close)}?" if close else "see torchvision.datasets for its classes"
        raise ConfigError(f"{where}: torchvision.datasets has no dataset class {name!r}; {hint}")
    parameters = inspect.signature(known[name]).parameters
    if "train" not in parameters and "split" not in parameters:
        raise ConfigError(f"{where}: torchvision.datasets.{name} takes no train/test switch (train= or split=), so its "
                          f"two splits cannot be read; give its files as kind folder or arrays")
    own = [key for key in entry["options"] if key in TORCHVISION_OWN]
    if own:
        raise ConfigError(f"{where}: options sets {', '.join(own)}, which nntopo sets itself (data_dir, each split in "
                          f"turn, download); remove it")
    if not any(parameter.kind is parameter.VAR_KEYWORD for parameter in parameters.values()):
        unknown = [key for key in entry["options"] if key not in parameters]
        if unknown:
            raise ConfigError(f"{where}: options {', '.join(map(repr, unknown))} is not an argument of "
                              f"torchvision.datasets.{name}; its arguments: {', '.join(parameters)}")


# --- what needs a dataset's facts ------------------------------------------------------------------------


def check_known(config: dict, info: datasets.DatasetInfo) -> None:
    """The checks that need dataset ``info``'s facts (input shape, counts), read from ``info`` alone:
    its scaling has a number per channel, the grid's CNNs fit its images, the clustering methods and
    the homology fit its analysed points, and the external networks on it fit its inputs and points.
    Nothing while the facts are unknown."""
    if not info.known:
        return
    _check_scaling(config, info)
    for architecture in architectures(config):
        if architecture.conv:
            check_maps(architecture, info)
    check_points(config, info)
    check_inputs(config, info)


def _check_scaling(config: dict, info: datasets.DatasetInfo) -> None:
    scaling = info.entry.get("scaling")
    if not isinstance(scaling, dict):
        return
    channels = info.input_shape[0]  # an image's channels, a point's coordinates
    if len(scaling["mean"]) != channels:
        index = datasets.names(config).index(info.name) if info.name in datasets.names(config) else "?"
        what = f"images have {channels} channel{'s' * (channels != 1)}" if info.has_images else \
            f"points have {channels} coordinate{'s' * (channels != 1)}"
        raise ConfigError(f"datasets.{index} ({info.name}): scaling gives {len(scaling['mean'])} means and standard "
                          f"deviations, but its {what}; give one of each per {'channel' if info.has_images else 'coordinate'}")
