"""data.h5: a prepared dataset's points, written by its preparing job (a shape of known topology:
nntopo/data/shapes.py; a user's dataset: nntopo/data/prepare.py) and read by every job that needs them.

Datasets: `x_train`, `x_test` ((points, features) float32, an image flattened channel, then row, then
column) and `y_train`, `y_test` ((points,) int64). Root attributes (JSON strings where not plain): `dataset`,
`kind`, `input_shape`, `classes`, `scaling` (how x was scaled from the source), `config` (the entry or
settings it was made from), `versions`; a user's dataset also `sources` (file -> SHA-256), `points` and
`smallest_class`; a shape also `seed` and `known_betti` (class -> [b0, b1, b2]). A regression's file
(attributes `task` = "regression" and `level_sets`, nntopo.task) also holds `targets_train`, `targets_test`
((points, d) float64), and its `y_*` are the targets' level sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

import h5py
import numpy as np

from nntopo import task as tasks
from nntopo.store.hdf5 import StoreError, _attrs, _dataset, _open, _write_attrs, atomic

SHAPE_ARRAYS = {"x_train": ("f", 2), "y_train": ("i", 1), "x_test": ("f", 2), "y_test": ("i", 1)}
DATA_ARRAYS = SHAPE_ARRAYS  # every prepared dataset's file has these
TARGET_ARRAYS = {"targets_train": ("f", 2), "targets_test": ("f", 2)}  # and a regression's these
_ROWS = 1 << 22  # values checked at a time: NaN-checking 600 MB of points costs no 150 MB mask


def write_shape_data(path, arrays: dict[str, np.ndarray], attrs: dict) -> None:
    """A prepared dataset held whole in memory (the shapes'); ``data_writer`` streams a large one."""
    with data_writer(path) as writer:
        for split in ("train", "test"):
            x = np.asarray(arrays[f"x_{split}"], dtype=np.float32)
            writer.write_split(split, x.shape, [x], arrays[f"y_{split}"])
        writer.set_attrs(attrs)


class DataWriter:
    """An open data.h5 being written: one split at a time, its points in batches (see data_writer)."""

    def __init__(self, h5: h5py.File):
        self._h5 = h5

    def write_split(self, split: str, shape: tuple[int, int], batches: Iterable[np.ndarray], y, targets=None) -> None:
        """``x_{split}`` of ``shape`` (points, features) from consecutive row ``batches``, ``y_{split}``, and a
        regression's ``targets_{split}`` (N x d)."""
        x = self._h5.create_dataset(f"x_{split}", shape, np.float32)
        start = 0
        for batch in batches:
            x[start:start + len(batch)] = batch
            start += len(batch)
        if start != shape[0]:
            raise ValueError(f"x_{split}: {start} points written, {shape[0]} announced")
        self._h5.create_dataset(f"y_{split}", data=np.asarray(y, dtype=np.int64))
        if targets is not None:
            self._h5.create_dataset(f"targets_{split}", data=tasks.targets_2d(targets))

    def set_attrs(self, attrs: dict) -> None:
        _write_attrs(self._h5, attrs)


@contextmanager
def data_writer(path):
    """Yield a DataWriter on a temporary file beside ``path``, moved into place only when the block
    succeeds: a failed check or a killed job leaves no data.h5."""
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        yield DataWriter(h5)


def _check_finite(path, name: str, x: np.ndarray) -> None:
    rows = max(1, _ROWS // max(1, x.shape[1]))
    for start in range(0, len(x), rows):
        if not np.isfinite(x[start:start + rows]).all():
            raise StoreError(f"{path}: {name} holds NaN or infinity; delete the file to prepare it again")


def read_data(path, train: bool = True) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and root attributes of a data.h5; ``train=False`` leaves the training split empty
    (its points' count of features kept) without reading it. A regression's also ``targets_train`` and
    ``targets_test``."""
    with _open(path) as h5:
        attrs = _attrs(h5)
        regression = tasks.of_attrs(attrs) == tasks.REGRESSION
        wanted = {**DATA_ARRAYS, **(TARGET_ARRAYS if regression else {})}
        read = wanted if train else {name: of for name, of in wanted.items() if "_train" not in name}
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in read.items()}
        if not train:
            features = arrays["x_test"].shape[1]
            arrays.update(x_train=np.zeros((0, features), np.float32), y_train=np.zeros(0, np.int64))
            if regression:
                arrays["targets_train"] = np.zeros((0, arrays["targets_test"].shape[1]))
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise StoreError(f"{path}: x_{split} has {len(x)} points but y_{split} {len(y)} labels; delete the "
                             "file to prepare it again")
        if regression and len(arrays[f"targets_{split}"]) != len(x):
            raise StoreError(f"{path}: x_{split} has {len(x)} points but targets_{split} "
                             f"{len(arrays[f'targets_{split}'])}; delete the file to prepare it again")
        _check_finite(path, f"x_{split}", x)
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        raise StoreError(f"{path}: x_train and x_test differ in features; delete the file to prepare it again")
    arrays = {name: arrays[name].astype(np.float64) if name in TARGET_ARRAYS else arrays[name] for name in wanted}
    return arrays, attrs


def read_shape_data(path) -> tuple[dict[str, np.ndarray], dict]:
    return read_data(path)
