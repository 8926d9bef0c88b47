"""The datasets of a study, one record each: the one owner of what a dataset is (how its points are
had, its input's shape, its splits' sizes, its classes).

Light (no numpy, no torch): the config, which the Snakefile imports, checks a study against these
records, and nntopo.data loads by them. A dataset is either built in (the table DATASETS, named by a
string in the config's `datasets`) or described by the user (a mapping in `datasets` with its own
`name` and a `kind` of USER_KINDS). A user's dataset is prepared by the workflow into
results/{dataset}/data.h5, and what was found in it (input shape, classes, counts) is written beside it
to results/{dataset}/dataset.json. Until then its facts are what nntopo.data.sources.peek tells from its
files' headers and listings (an arrays file's, an image folder's), or unknown (None: a torchvision
dataset's), and the checks that need them wait for the preparing job, which runs them itself.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from nntopo import paths

# How a dataset's points are had:
# - idx: MNIST-family IDX files under the data directory, in torchvision's layout <data_dir>/<folder>/raw/;
# - embedded: shipped with a library (scikit-learn's digits);
# - shape: a point cloud of known topology, generated from the config's `shapes` (nntopo.data.shapes)
#   into results/{dataset}/data.h5. Its splits' sizes are the config's `shapes.train_points/test_points`;
# - torchvision, folder, arrays: described by the user in the config, read from their files
#   (nntopo.data.sources) into results/{dataset}/data.h5.
USER_KINDS = ("torchvision", "folder", "arrays")
KINDS = ("idx", "embedded", "shape", *USER_KINDS)
PREPARED_KINDS = ("shape", *USER_KINDS)  # read by the jobs from results/{dataset}/data.h5
SPLITS = ("train", "test")
DATA_DIR_ENV = "NNTOPO_DATA_DIR"


class DatasetError(ValueError):
    """A dataset of the user's whose files are wrong, as a cheap look at them tells (nntopo.data.sources.peek);
    the message names the config's entry. nntopo.config.validate reports it as a config error."""


def data_dir(config: dict) -> Path:
    """The data directory: NNTOPO_DATA_DIR when set, else the config's ``data_dir``."""
    return Path(os.environ.get(DATA_DIR_ENV) or config["data_dir"])


class InputShaped:
    """What an input's shape says (``input_shape``: (channels, height, width) of an image, (dimensions,) of
    a point), for a dataset's record and for its loaded arrays (nntopo.data.Dataset) alike."""

    input_shape: tuple[int, ...] | None

    @property
    def has_images(self) -> bool:
        return self.input_shape is not None and len(self.input_shape) == 3

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """(height, width) of a dataset of images; None for points (no figure draws their pixels)."""
        return tuple(self.input_shape[1:]) if self.has_images else None

    @property
    def channels(self) -> int | None:
        """An image's channels (1 grey, 3 colour); None for points."""
        return self.input_shape[0] if self.has_images else None


def recorded_input_shape(attrs) -> tuple[int, ...]:
    """One input's shape as a file's root attributes record it: ``input_shape``, or (1, *image_shape) in
    files written before it was (grey images); () when neither says."""
    if attrs.get("input_shape") is not None and len(attrs["input_shape"]):
        return tuple(int(s) for s in attrs["input_shape"])
    image_shape = tuple(int(s) for s in attrs.get("image_shape", ()))  # HDF5 gives an array
    return (1, *image_shape) if image_shape else ()


@dataclass(frozen=True)
class DatasetInfo(InputShaped):
    name: str
    kind: str  # one of KINDS
    # One input: (channels, height, width) of an image, (dimensions,) of a point; None until prepared.
    input_shape: tuple[int, ...] | None
    classes: tuple[str, ...] | None  # the classes' names, in label order; None until prepared
    # Points per split ("train", "test") and the fewest of one class; None: a shape's (from the
    # config's `shapes`), or a user's dataset not yet prepared.
    points: dict[str, int] | None = None
    smallest_class: dict[str, int] | None = None
    folder: str | None = None  # idx: the folder under the data directory
    entry: dict = field(default_factory=dict)  # a user's dataset: its config entry, defaults filled in
    # What its networks do (nntopo.task): "classification", or "regression" (an arrays dataset's, whose
    # ``classes`` and ``smallest_class`` are then its level sets': they stand in for classes).
    task: str = "classification"
    targets: int | None = None  # a regression's targets per point (d)
    target_names: tuple[str, ...] | None = None  # a regression's targets' names, when its file gives them
    levels: dict | None = None  # a regression's level sets (nntopo.task.levels_of)

    @property
    def known(self) -> bool:
        """Whether the facts that need the data (shape, classes, counts) are known."""
        return self.input_shape is not None

    @property
    def n_outputs(self) -> int | None:
        """What a network on it outputs per point: a score per class, or a regression's d values."""
        if self.task == "regression":
            return self.targets
        return None if self.classes is None else len(self.classes)

    @property
    def n_features(self) -> int | None:
        """Values in one input, flattened (channel, then row, then column)."""
        return None if self.input_shape is None else math.prod(self.input_shape)

    def n_points(self, split: str, shapes: dict) -> int | None:
        """Points of ``split``, given the config's ``shapes`` (what a shape's counts are)."""
        if self.kind == "shape":
            return shapes[f"{split}_points"]
        return None if self.points is None else self.points[split]

    def smallest(self, split: str, shapes: dict) -> int | None:
        """The fewest points of one class in ``split``; a shape's is its class a (nntopo.data.shapes)."""
        if self.kind == "shape":
            from nntopo.data import shapes as generated  # imports this module

            return generated.class_sizes(self.name, shapes[f"{split}_points"])[0]
        return None if self.smallest_class is None else self.smallest_class[split]


_DIGITS = tuple(str(digit) for digit in range(10))  # the labels' numbers, as the figures name them

DATASETS = {info.name: info for info in (
    # MNIST's smallest classes are digit 5 (5,421 training and 892 test images); Fashion-MNIST has 6,000
    # and 1,000 of each class.
    DatasetInfo("mnist", "idx", (1, 28, 28), _DIGITS, {"train": 60_000, "test": 10_000},
                {"train": 5421, "test": 892}, folder="MNIST"),
    DatasetInfo("fashion_mnist", "idx", (1, 28, 28), _DIGITS, {"train": 60_000, "test": 10_000},
                {"train": 6000, "test": 1000}, folder="FashionMNIST"),
    # scikit-learn's 1,797 8x8 digits, 30% held out (stratified): 1,257 training images (at least 122
    # a class) and 540 test images (at least 52).
    DatasetInfo("digits", "embedded", (1, 8, 8), _DIGITS, {"train": 1257, "test": 540}, {"train": 122, "test": 52}),
    # Naitzat, Zhitnikov and Lim's D-I (in the plane), D-II and D-III (in space), classes a and b.
    DatasetInfo("disks", "shape", (2,), ("a", "b")),
    DatasetInfo("tori", "shape", (3,), ("a", "b")),
    DatasetInfo("spheres", "shape", (3,), ("a", "b")),
)}


def entry_name(entry) -> str:
    """The name of one item of the config's ``datasets``: a built-in's string or a mapping's ``name``."""
    return entry if isinstance(entry, str) else entry["name"]


def entry_kind(entry) -> str:
    """The kind of one item of the config's ``datasets`` (known without its data)."""
    return DATASETS[entry].kind if isinstance(entry, str) else entry["kind"]


def names(config: dict | None = None, kind: str | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The datasets' names: the study's (in its order) when ``config`` is given, else the built-ins';
    of ``kind`` (one or several) only, when given. Reads no data: a name and a kind are the config's."""
    kinds = (kind,) if isinstance(kind, str) else kind
    entries = config["datasets"] if config is not None else DATASETS
    return tuple(entry_name(entry) for entry in entries if kinds is None or entry_kind(entry) in kinds)


def of(config: dict) -> dict[str, DatasetInfo]:
    """The records of the study's datasets, by name, in the config's order. A user's dataset's facts
    come from its prepared record when that is fresh, else from what nntopo.data.sources.peek can tell
    cheaply from its files, else they are unknown (None) until the preparing job finds them. A problem
    peek finds in the files is a DatasetError naming the entry (validate makes it a config error, which the
    Snakefile prints before any job)."""
    return {entry_name(entry): _record(entry, config, i) for i, entry in enumerate(config["datasets"])}


def get(name: str, config: dict | None = None) -> DatasetInfo:
    """The record of dataset ``name`` (a user's needs the ``config`` that describes it); an unknown name
    raises ValueError naming the known ones."""
    if config is None:
        known = DATASETS
    else:
        entries = {entry_name(entry): (i, entry) for i, entry in enumerate(config["datasets"])}
        if name in entries:
            return _record(entries[name][1], config, entries[name][0])
        known = entries
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(known)}") from None


def record_path(name: str) -> Path:
    return Path(paths.fill(paths.DATASET_RECORD, dataset=name))


def _record(entry, config: dict, index: int) -> DatasetInfo:
    if isinstance(entry, str):
        return DATASETS[entry]
    # Read once per version of the entry, its record and its source (a study asks for a record per job
    # and target): a changed file has a new modification time.
    source = entry.get("path")  # an arrays file or an image folder (a torchvision dataset's are torchvision's)
    record = os.path.abspath(record_path(entry["name"]))
    return _user_record(json.dumps(entry, sort_keys=True), index, str(data_dir(config)), record, _mtime(record),
                        _mtime(os.path.expanduser(source)) if source else None)


def _mtime(path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=256)
def _user_record(entry_json: str, index: int, data_dir: str, record: str, record_mtime: int | None,
                 source_mtime: int | None) -> DatasetInfo:
    entry = json.loads(entry_json)
    # Fresh: prepared from this very entry, and not before its source file (or folder) last changed, as
    # Snakemake reruns the preparing job then.
    if record_mtime is not None and (source_mtime is None or record_mtime >= source_mtime):
        info = from_record(entry, _read_json(record))
        if info.known:
            return info
    return from_record(entry, _peek(entry, index, data_dir))


def _peek(entry: dict, index: int, data_dir: str) -> dict | None:
    """What nntopo.data.sources.peek tells of the entry's files without reading them whole, as a record
    of this entry; None when it cannot tell (a torchvision dataset's, before it is prepared)."""
    from nntopo.data import sources  # here: numpy and friends load only for a study with a dataset of its own

    try:
        facts = sources.peek(entry, Path(data_dir))
    except ValueError as error:  # nntopo.data.DataError, one line naming the file and the fix
        message = str(error).removeprefix(f"dataset {entry['name']}: ")  # named once, as the entry
        raise DatasetError(f"datasets.{index} ({entry['name']}): {message}") from None
    return None if facts is None else {**facts, "entry": entry}


def read_record(name: str) -> dict | None:
    """The prepared dataset's record (results/{name}/dataset.json), or None when there is none or it
    cannot be read (the preparing job writes it again)."""
    return _read_json(record_path(name))


def _read_json(path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def from_record(entry: dict, record: dict | None) -> DatasetInfo:
    """A user's dataset: its facts from ``record`` when it was prepared from this very ``entry``, else
    unknown (a changed entry prepares the data again)."""
    if record is None or record.get("entry") != entry or record.get("input_shape") is None:
        return DatasetInfo(entry["name"], entry["kind"], None, None, entry=entry)
    counts = {key: record.get(key) for key in ("points", "smallest_class")}
    names = record.get("target_names")
    return DatasetInfo(entry["name"], entry["kind"], tuple(record["input_shape"]),
                       None if record.get("classes") is None else tuple(record["classes"]),
                       *({split: int(value[split]) for split in SPLITS} if value else None for value in counts.values()),
                       entry=entry, task=record.get("task", "classification"), targets=record.get("targets"),
                       target_names=None if names is None else tuple(names), levels=record.get("level_sets"))
