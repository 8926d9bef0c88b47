"""data.h5 of a shape of known topology (disks, tori; nntopo/data/shapes.py): `x_train`, `y_train`,
`x_test`, `y_test`; the attributes hold the generator's settings and `known_betti` (JSON: class ->
[b0, b1, b2])."""

from __future__ import annotations

import h5py
import numpy as np

from nntopo.store.hdf5 import StoreError, _attrs, _dataset, _open, _write_attrs, atomic

SHAPE_ARRAYS = {"x_train": ("f", 2), "y_train": ("i", 1), "x_test": ("f", 2), "y_test": ("i", 1)}


def write_shape_data(path, arrays: dict[str, np.ndarray], attrs: dict) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name in SHAPE_ARRAYS:
            h5.create_dataset(name, data=arrays[name])


def read_shape_data(path) -> tuple[dict[str, np.ndarray], dict]:
    with _open(path) as h5:
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in SHAPE_ARRAYS.items()}
        attrs = _attrs(h5)
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y) or not np.isfinite(x).all():
            raise StoreError(f"{path}: x_{split} and y_{split} disagree in length or hold NaN; delete the file "
                             "to generate it again")
    return arrays, attrs
