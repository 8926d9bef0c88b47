"""The points a study analyses: one split of the dataset (the config's ``analysis.split``), all of it or
one seeded subsample (``analysis.points``, ``analysis.points_seed``), the same for every layer and method.

``analysed`` draws them from the config's settings (``nnconfig.points_slice``); the activations file
records which they were (its ``point_index`` and ``points`` attribute), and ``recorded`` gives the same
points back to every later stage that needs their inputs or labels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from nntopo.data import DataError
from nntopo.datasets import SPLITS


@dataclass(frozen=True)
class Points:
    split: str  # "test" or "train"
    index: np.ndarray  # int64 indices into the split, ascending
    of: int  # the split's size
    seed: int | None  # the subsample's seed; None when not known (recorded points)
    x: np.ndarray  # (n, features) float32: the points' inputs
    y: np.ndarray  # (n,) int64: their labels; a regression's level sets of their targets
    targets: np.ndarray | None = None  # (n, d) float64: a regression's targets; None for a classification

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def subsample(self) -> bool:
        """Whether these are fewer than the whole split."""
        return self.n < self.of

    def describe(self) -> str:
        """E.g. "all 10,000 test points" or "10,000 of 60,000 train points, seed 0"."""
        if not self.subsample:
            return f"all {self.of:,} {self.split} points"
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{self.n:,} of {self.of:,} {self.split} points{seed}"

    def attrs(self) -> dict:
        """The provenance attribute: ``points``, JSON of split, of, n, seed and subsample."""
        return {"points": json.dumps({"split": self.split, "of": self.of, "n": self.n, "seed": self.seed,
                                      "subsample": self.subsample})}


def _split(dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    x, y = (dataset.x_train, dataset.y_train) if split == "train" else (dataset.x_test, dataset.y_test)
    if split == "train" and len(y) == 0:
        raise ValueError(f"dataset {dataset.name}: its training split was not loaded; load it with train=True")
    return x, y


def _targets(dataset, split: str, index: np.ndarray) -> np.ndarray | None:
    """A regression's targets of the points at ``index`` of ``split``; None for a classification."""
    targets = dataset.targets_of(split)
    return None if targets is None else _rows(targets, index)


def _rows(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``x[index]``; the array itself (no copy of a 600 MB split) when ``index`` is every row in order."""
    whole = len(index) == len(x) and (len(index) == 0 or (index[0] == 0 and (np.diff(index) == 1).all()))
    return x if whole else x[index]


def subsample(of: int, points: int | None, seed: int) -> np.ndarray:
    """Indices of ``points`` of ``of`` drawn without replacement with ``seed``, ascending; all of them
    (0 .. of-1) when ``points`` is None or not fewer than ``of``."""
    if points is None or points >= of:
        return np.arange(of, dtype=np.int64)
    if points < 1:
        raise ValueError(f"points must be at least 1 (or null for all), not {points}")
    return np.sort(np.random.default_rng(seed).choice(of, points, replace=False)).astype(np.int64)


def analysed(dataset, settings: dict) -> Points:
    """The points the study analyses in ``dataset`` (a nntopo.data.Dataset), as ``settings``
    ({"split", "points", "seed"}: nnconfig.points_slice) say."""
    split = settings["split"]
    x, y = _split(dataset, split)
    index = subsample(len(y), settings["points"], settings["seed"])
    return Points(split, index, len(y), settings["seed"], _rows(x, index), _rows(y, index),
                  _targets(dataset, split, index))


def recorded(dataset, split: str, index) -> Points:
    """The points of ``split`` at ``index`` (an activations file's ``point_index``), in that order."""
    x, y = _split(dataset, split)
    index = np.asarray(index)
    if index.ndim != 1 or (len(index) and index.dtype.kind not in "iu"):
        raise DataError(f"dataset {dataset.name}: recorded point indices of shape {index.shape} and dtype "
                        f"{index.dtype}; expected a 1-D integer array (the activations' point_index)")
    index = index.astype(np.int64)
    if len(index) and (index.min() < 0 or index.max() >= len(y)):
        raise DataError(f"dataset {dataset.name}: the recorded points reach index {index.max()} but its {split} "
                        f"split has {len(y):,} points; the activations were recorded on other data: record them "
                        "again")
    return Points(split, index, len(y), None, _rows(x, index), _rows(y, index), _targets(dataset, split, index))


# analysis.split, .points and .points_seed's defaults: every test point, in order.
ALL_TEST_POINTS = {"split": "test", "points": None, "seed": 0}


def of_files(attrs, point_index, *, data_dir, download: bool = False, data_file=None, where: str = ""):
    """(the dataset, its ``Points``) that a model's files were recorded on: their root attributes name the
    dataset and the ``points`` (files from before those were recorded hold every test point);
    ``point_index`` is activations.h5's (None: every point of the split, refused for a subsample);
    ``data_file`` a prepared dataset's data.h5. The training split is read only when it is theirs."""
    from nntopo import data

    points = json.loads(attrs["points"]) if "points" in attrs else {"split": "test", "subsample": False}
    if point_index is None and points["subsample"]:
        raise DataError(f"{where}: its activations are of a subsample ({points['n']} of {points['of']} "
                        f"{points['split']} points); give their point_index")
    split = points["split"]
    dataset = data.load(attrs["dataset"], data_dir, download, train=split == "train", data_file=data_file)
    if point_index is None:
        point_index = np.arange(len(_split(dataset, split)[1]))
    return dataset, recorded(dataset, split, point_index)
