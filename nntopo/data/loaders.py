"""Datasets by name, loaded as nntopo.datasets' record says: MNIST and Fashion-MNIST from IDX files,
scikit-learn's embedded digits, and every prepared dataset (the point clouds of known topology,
nntopo.data.shapes, and a user's dataset, nntopo.data.prepare) from the data.h5 the workflow prepares it
into, which says what its points are (input shape, classes, scaling).

Images come back flattened to float32 in [0, 1], with their shape kept as a property of the
dataset so that later stages (weight images) never assume 28x28. Point clouds have no image shape:
every figure that draws pixels is left out for them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nntopo import datasets
from nntopo import task as tasks
from nntopo.data import DataError

# torchvision's layout: <data_dir>/<folder>/raw/<file>, the folder named by the dataset's record.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

# IDX type codes (third byte of the magic number) and the dtypes they stand for.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True)
class Dataset(datasets.InputShaped):
    name: str
    x_train: np.ndarray  # (N, features) float32, scaled; an image flattened channel, then row, then column
    y_train: np.ndarray  # (N,) int64
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]  # one input: (channels, height, width) of an image, (dimensions,) of a point
    classes: tuple[str, ...] = ()  # the classes' names in label order; () for "0", "1", ...
    # How x was scaled from the stored values, as the provenance records it: {"kind": "unit", "low": 0,
    # "high": 255} maps [low, high] to [0, 1]; {"kind": "standardize", "mean": [...], "std": [...]}
    # per channel, after the unit scaling; {"kind": "none"}.
    scaling: dict = field(default_factory=lambda: {"kind": "none"})
    # A regression's (nntopo.task): its real targets, (N, d) float64 per split, and its level sets
    # (nntopo.task.levels_of), which y_train and y_test then hold in place of classes.
    task: str = tasks.CLASSIFICATION
    targets_train: np.ndarray | None = None
    targets_test: np.ndarray | None = None
    levels: dict | None = None

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        """Classes, or a regression's level sets."""
        if self.levels is not None:
            return int(self.levels["n"])
        return int(max(self.y_train.max(initial=0), self.y_test.max())) + 1

    @property
    def n_outputs(self) -> int:
        """What a network on it outputs per point: a score per class, or a regression's d values."""
        return self.targets_test.shape[1] if self.task == tasks.REGRESSION else self.n_classes

    def targets_of(self, split: str) -> np.ndarray | None:
        """A regression's targets of ``split`` ("train" or "test"); None for a classification."""
        return self.targets_train if split == "train" else self.targets_test


def read_idx(path: str | Path) -> np.ndarray:
    """Read a gzipped IDX file; truncated, corrupt or mis-sized files raise DataError naming the file."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file does not exist") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip file ({exc}); replace it with a good copy") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: wrong magic number {raw[:4].hex() or '(empty)'}; not an IDX file")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header is cut short")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header promises shape {shape} ({expected} bytes) but the file holds "
            f"{len(raw) - header} bytes; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def raw_dir(name: str, data_dir: str | Path) -> Path:
    return Path(data_dir) / datasets.get(name).folder / "raw"


def _missing_message(name: str, folder: Path, missing: list[str], why: str) -> str:
    return (
        f"dataset {name}: {why}. Put the four files {', '.join(IDX_FILES.values())} in {folder}/ "
        f"(missing: {', '.join(missing)}), or point NNTOPO_DATA_DIR / data_dir at a folder that has "
        f"{datasets.get(name).folder}/raw/ with them."
    )


def _download(name: str, data_dir: Path) -> None:
    """Fetch the IDX files with torchvision into <data_dir>/<folder>/raw (its class of the folder's name,
    MNIST or FashionMNIST, writes there)."""
    import torchvision

    cls = getattr(torchvision.datasets, datasets.get(name).folder)
    for train in (True, False):
        cls(str(data_dir), train=train, download=True)


def _load_idx(name: str, data_dir: str | Path, download: bool, train: bool) -> Dataset:
    folder = raw_dir(name, data_dir)
    info = datasets.get(name)
    image_shape, n_classes = info.image_shape, len(info.classes)
    missing = [f for f in IDX_FILES.values() if not (folder / f).exists()]
    if missing:
        if not download:
            raise DataError(_missing_message(name, folder, missing, "files are missing and download is off"))
        try:
            _download(name, Path(data_dir))
        except Exception as exc:  # any network or disk failure ends the same way
            reason = " ".join(str(exc).split())  # one line, whatever torchvision printed
            raise DataError(_missing_message(name, folder, missing, f"download failed: {reason}")) from None
    splits = ("train", "test") if train else ("test",)
    arrays = {key: read_idx(folder / fname) for key, fname in IDX_FILES.items() if key.split("_")[0] in splits}
    for split in splits:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        image_file = folder / IDX_FILES[f"{split}_images"]
        if images.ndim != 3 or images.shape[1:] != image_shape:
            raise DataError(f"{image_file}: images have shape {images.shape[1:]}, expected {image_shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"{folder / IDX_FILES[f'{split}_labels']}: {len(labels)} labels for {len(images)} images "
                f"in {image_file.name}"
            )
        if labels.min() < 0 or labels.max() >= n_classes:
            raise DataError(f"{folder / IDX_FILES[f'{split}_labels']}: labels outside 0..{n_classes - 1}")

    def images(key):
        if key not in arrays:  # a split that was not asked for
            return np.zeros((0, image_shape[0] * image_shape[1]), dtype=np.float32)
        return (arrays[key].reshape(len(arrays[key]), -1) / np.float32(255)).astype(np.float32, copy=False)

    return Dataset(
        name,
        images("train_images"),
        arrays.get("train_labels", np.zeros(0)).astype(np.int64),
        images("test_images"),
        arrays["test_labels"].astype(np.int64),
        info.input_shape,
        info.classes,
        {"kind": "unit", "low": 0, "high": 255},
    )


def _load_digits() -> Dataset:
    """scikit-learn's embedded 8x8 digits (1,797 images), split 70/30 stratified with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    info = datasets.get("digits")
    return Dataset("digits", x_train, y_train, x_test, y_test, info.input_shape, info.classes,
                   {"kind": "unit", "low": 0, "high": 16})


def _load_prepared(name: str, path: str | Path | None, train: bool) -> Dataset:
    """A prepared dataset from its data.h5: its kind, input shape, classes and scaling from the file's
    attributes (a shape's file written before it carried them: from the built-in record)."""
    from nntopo.store import StoreError
    from nntopo.store.points import read_data

    if path is None:
        raise DataError(f"dataset {name}: its points are prepared into results/{name}/data.h5 by the workflow; "
                        "give that file (data_file)")
    arrays, attrs = read_data(path, train)
    if attrs.get("dataset") != name:
        raise DataError(f"{path}: holds dataset {attrs.get('dataset')!r}, not {name!r}; delete it to prepare it again")
    built_in = datasets.DATASETS.get(name)
    if "input_shape" not in attrs and built_in is None:
        raise StoreError(f"{path}: no input_shape attribute, not a prepared dataset's file; delete it to prepare it "
                         "again")
    input_shape = tuple(json.loads(attrs["input_shape"])) if "input_shape" in attrs else built_in.input_shape
    classes = tuple(json.loads(attrs["classes"])) if "classes" in attrs else built_in.classes
    scaling = json.loads(attrs.get("scaling", '{"kind": "none"}'))
    if int(np.prod(input_shape)) != arrays["x_test"].shape[1]:
        raise StoreError(f"{path}: input_shape {input_shape} does not hold the {arrays['x_test'].shape[1]} values of "
                         "a point; delete the file to prepare it again")
    regression = {}
    if tasks.of_attrs(attrs) == tasks.REGRESSION:
        regression = {"task": tasks.REGRESSION, "targets_train": arrays["targets_train"],
                      "targets_test": arrays["targets_test"], "levels": tasks.levels_from_attrs(attrs)}
    return Dataset(name, arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], input_shape,
                   classes, scaling, **regression)


def load(name: str, data_dir: str | Path = "data", download: bool = True, train: bool = True,
         data_file: str | Path | None = None) -> Dataset:
    """The dataset ``name``; ``train=False`` skips reading the training split (left empty). A prepared
    dataset (a shape: disks, tori; or a user's dataset of the config, whatever its name) is read from
    ``data_file``, the data.h5 its preparing job wrote (rules shape_data and dataset_data)."""
    info = datasets.DATASETS.get(name)
    if info is None and data_file is None:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(datasets.names())}, or describe it "
                        "in the config's datasets and give its prepared data.h5 (data_file)")
    if info is None or info.kind in datasets.PREPARED_KINDS:
        return _load_prepared(name, data_file, train)
    if info.kind == "embedded":
        return _load_digits()
    return _load_idx(name, data_dir, download, train)
