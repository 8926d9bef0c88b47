"""activations.h5: a network's activations on the analysed points, at the root: `hidden_1` .. `hidden_L`
(N x width, after the activation function), `output` (N x classes, logits), `labels` (N, true classes),
`predictions` (N, argmax of output), `point_index` (N, the points' indices into their split, ascending).
The root attribute `points` (JSON: split, of, n, seed, subsample) says which points they are; files
written before it was recorded hold every test point in order.

A regressor's file (root attribute `task` = "regression", nntopo.task) holds `targets` (N x d, float64)
and `output` (N x d, its predictions of them); `labels` and `predictions` are then the level sets of the
targets and of the outputs (attribute `level_sets`, JSON of nntopo.task.levels_of), which stand in for
classes wherever a stage needs them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import h5py
import numpy as np

from nntopo import task as tasks
from nntopo.store.hdf5 import OUTPUT_LAYER, StoreError, _attrs, _dataset, _open, _write_attrs, atomic, layer_names


@dataclass(frozen=True)
class Activations:
    hidden: list[np.ndarray]  # per hidden layer, (N, width), after ReLU
    output: np.ndarray  # (N, classes), logits; a regressor's (N, d) outputs
    labels: np.ndarray  # (N,), true classes; a regressor's targets' level sets
    predictions: np.ndarray  # (N,), argmax of output; a regressor's outputs' level sets
    attrs: dict
    point_index: np.ndarray | None = field(default=None)  # (N,), into the split; None: arange(N)
    targets: np.ndarray | None = field(default=None)  # (N, d) float64, a regressor's; None for a classifier

    def __post_init__(self):
        if self.point_index is None:
            object.__setattr__(self, "point_index", np.arange(len(self.labels), dtype=np.int64))

    @property
    def points(self) -> dict:
        """Which points were recorded: {"split", "of", "n", "seed", "subsample"} (nntopo.data.points);
        every test point in order for a file that does not say."""
        if "points" in self.attrs:
            return json.loads(self.attrs["points"])
        n = len(self.labels)
        return {"split": "test", "of": n, "n": n, "seed": 0, "subsample": False}

    @property
    def task(self) -> str:
        """classification or regression (nntopo.task), from the attribute ``task``."""
        return tasks.of_attrs(self.attrs)

    @property
    def levels(self) -> dict | None:
        """A regressor's level sets (nntopo.task.levels_of's dict); None for a classifier."""
        return tasks.levels_from_attrs(self.attrs)

    def layer(self, name: str) -> np.ndarray:
        """Activations of a layer by name: hidden_1 .. hidden_L or output."""
        if name == OUTPUT_LAYER:
            return self.output
        names = layer_names(len(self.hidden))[:-1]
        if name not in names:
            raise KeyError(f"no layer {name!r}; layers are {', '.join(names + [OUTPUT_LAYER])}")
        return self.hidden[names.index(name)]


def write_activations(path, hidden: list[np.ndarray], output, labels, predictions, attrs: dict,
                      point_index=None, targets=None) -> None:
    """``point_index``: the points' indices into their split (``attrs["points"]`` names it); every
    point in order when None. ``targets``: a regressor's (N x d), with ``attrs`` giving ``task`` and
    ``level_sets``."""
    point_index = np.arange(len(labels)) if point_index is None else point_index
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name, values in zip(layer_names(len(hidden)), hidden):
            h5.create_dataset(name, data=np.asarray(values, dtype=np.float32))
        h5.create_dataset(OUTPUT_LAYER, data=np.asarray(output, dtype=np.float32))
        h5.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        h5.create_dataset("predictions", data=np.asarray(predictions, dtype=np.int64))
        h5.create_dataset("point_index", data=np.asarray(point_index, dtype=np.int64))
        if targets is not None:
            h5.create_dataset("targets", data=tasks.targets_2d(targets))


def read_activations(path) -> Activations:
    with _open(path) as h5:
        n_hidden = sum(1 for k in h5 if k.startswith("hidden_"))
        hidden = [_dataset(h5, name, "f", 2) for name in layer_names(n_hidden)[:-1]]
        output = _dataset(h5, OUTPUT_LAYER, "f", 2)
        labels = _dataset(h5, "labels", "i", 1)
        predictions = _dataset(h5, "predictions", "i", 1)
        point_index = _dataset(h5, "point_index", "i", 1).astype(np.int64) if "point_index" in h5 else None
        targets = _dataset(h5, "targets", "f", 2).astype(np.float64) if "targets" in h5 else None
        attrs = _attrs(h5)
    if not hidden:
        raise StoreError(f"{path}: no hidden layer datasets (hidden_1, ...)")
    for name, values in zip(layer_names(n_hidden), (*hidden, output)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise StoreError(f"{path}: dataset '{name}' holds {bad} NaN or infinite values; the network diverged "
                             "(retrain it with a lower training.lr)")
    optional = tuple(a for a in (point_index, targets) if a is not None)
    sizes = {a.shape[0] for a in (*hidden, output, labels, predictions, *optional)}
    if len(sizes) != 1:
        raise StoreError(f"{path}: datasets disagree on the number of points ({sorted(sizes)})")
    task = tasks.of_attrs(attrs)
    if (task == tasks.REGRESSION) != (targets is not None):
        raise StoreError(f"{path}: a {task} file {'without' if targets is None else 'with'} a 'targets' dataset; "
                         f"record it again")
    if targets is not None:
        if targets.shape[1] != output.shape[1]:
            raise StoreError(f"{path}: 'output' has {output.shape[1]} values per point, but 'targets' has "
                             f"{targets.shape[1]}; record it again")
        if not np.isfinite(targets).all():
            raise StoreError(f"{path}: dataset 'targets' holds NaN or infinite values; give finite targets")
        if "level_sets" not in attrs:
            raise StoreError(f"{path}: a regression file without the attribute 'level_sets'; record it again")
    n_labels = output.shape[1] if targets is None else tasks.levels_from_attrs(attrs)["n"]
    what = "classes" if targets is None else "level sets"
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and not (0 <= values.min() and values.max() < n_labels):
            raise StoreError(f"{path}: dataset '{name}' holds {what} {values.min()}..{values.max()}, "
                             f"but there are {n_labels} {what}")
    acts = Activations(hidden, output, labels, predictions, attrs, point_index, targets)
    _check_points(path, acts)
    return acts


def _check_points(path, acts: Activations) -> None:
    """The recorded points' index against the ``points`` attribute that says which they are."""
    try:
        points = acts.points
        n, of = int(points["n"]), int(points["of"])
        if points["split"] not in ("train", "test"):
            raise ValueError(f"split {points['split']!r} is not train or test")
    except (ValueError, KeyError, TypeError) as error:
        raise StoreError(f"{path}: attribute 'points' is not the JSON of the analysed points ({error})") from None
    index = acts.point_index
    if n != len(index):
        raise StoreError(f"{path}: attribute 'points' says {n} points, but the datasets hold {len(index)}")
    if len(index) and (index[0] < 0 or index[-1] >= of or (np.diff(index) <= 0).any()):
        raise StoreError(f"{path}: dataset 'point_index' is not ascending indices into the {of} "
                         f"{points['split']} points")


def hidden_widths(path) -> list[int]:
    """Units per hidden layer, from the datasets' shapes alone: the activations themselves are not read
    (the workflow asks this of a network's recorded activations when it loads)."""
    with _open(path) as h5:
        n_hidden = sum(1 for k in h5 if k.startswith("hidden_"))
        for name in layer_names(n_hidden)[:-1]:
            if name not in h5 or len(h5[name].shape) != 2:
                raise StoreError(f"{path}: no 2-D dataset '{name}'")
        return [int(h5[name].shape[1]) for name in layer_names(n_hidden)[:-1]]
