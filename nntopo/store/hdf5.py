"""What every file of the store shares: layer names, provenance, atomic writes, and the strict readers.

Writers go through ``atomic`` so that a crash never leaves a file that looks complete; readers open
files with ``_open`` and read datasets with ``_dataset``, which check names, dtypes and ranks and say
in one line (a ``StoreError``) what is wrong with a foreign file. A persistence diagram is stored as
ripser returns it: one ``(bars, 2)`` float dataset ``h<dim>`` per dimension (``write_diagrams``,
``read_diagrams``).
"""

from __future__ import annotations

import glob
import json
import os
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

from nntopo.models import INPUT_LAYER, OUTPUT_LAYER, hidden_name, layer_names  # noqa: F401  (the files' group names)

PACKAGES = ("numpy", "torch", "h5py", "scikit-learn", "umap-learn", "kmapper", "openTSNE")


class StoreError(ValueError):
    """A file that does not have the layout the store writes."""


def versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers, read without importing them."""
    import platform

    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def provenance(dataset: str, model: str, seed: int, config: dict, **extra) -> dict:
    """Root attributes shared by every file: what was computed, from which settings, with what."""
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "config": json.dumps(config, sort_keys=True),
        "versions": json.dumps(versions(), sort_keys=True),
        **extra,
    }


def carried(attrs: dict) -> dict:
    """The attributes every file made from a model's files carries on: where an external network came
    from (its files' paths and SHA-256), when it is one."""
    return {key: attrs[key] for key in ("external",) if key in attrs}


@contextmanager
def atomic(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Temporary files of ``path`` that a killed writer left behind are removed first (Snakemake runs
    one job per output at a time, so no live writer owns them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_attrs(node: h5py.File | h5py.Group, attrs: dict) -> None:
    for key, value in attrs.items():
        node.attrs[key] = value


def _attrs(node: h5py.File | h5py.Group) -> dict:
    """A file's or group's attributes as plain Python values (arrays as lists)."""
    return {key: _plain(value) for key, value in node.attrs.items()}


def read_attrs(path) -> dict:
    with _open(path) as h5:
        return _attrs(h5)


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _open(path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise StoreError(f"{path}: file does not exist") from None
    except OSError as exc:
        raise StoreError(f"{path}: not a readable HDF5 file ({exc})") from None


def _dataset(h5: h5py.File, name: str, kind: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Read dataset ``name`` and check its dtype kind ('f' float, 'i' integer) and rank (or one of ranks)."""
    ranks = ndim if isinstance(ndim, tuple) else (ndim,)
    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise StoreError(f"{h5.filename}: missing dataset '{name}' (has: {', '.join(sorted(h5)) or 'nothing'})")
    data = h5[name][()]
    if data.dtype.kind not in (kind, "u" if kind == "i" else kind) or data.ndim not in ranks:
        wanted = {"f": "float", "i": "integer"}[kind]
        raise StoreError(
            f"{h5.filename}: dataset '{name}' is {data.dtype} with shape {data.shape}; "
            f"expected a {' or '.join(map(str, ranks))}-D {wanted} array"
        )
    return data


def _dtype(kind: str) -> type:
    """The dtype the store writes for a kind: 'f' float64, 'i' int64."""
    return np.float64 if kind == "f" else np.int64


def write_diagrams(node: h5py.File | h5py.Group, diagrams: list[np.ndarray], group: str = "") -> None:
    """Persistence diagrams H0, H1, ... as datasets ``h0``, ``h1``, ... of ``node`` (in ``group``, a path
    below it, when given): (bars, 2) float64 each."""
    for dim, diagram in enumerate(diagrams):
        name = f"{group}/h{dim}" if group else f"h{dim}"
        node.create_dataset(name, data=np.asarray(diagram, dtype=np.float64).reshape(-1, 2))


def read_diagrams(h5: h5py.File, group: str) -> list[np.ndarray]:
    """The diagrams ``h0``, ``h1``, ... stored in ``group`` (a path in ``h5``), in order of dimension;
    none when the group is absent."""
    stored = h5[group] if group in h5 else {}
    dims = sorted(int(key[1:]) for key in stored if key[:1] == "h" and key[1:].isdigit())
    return [_dataset(h5, f"{group}/h{d}", "f", 2) for d in dims]
