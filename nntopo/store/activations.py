"""activations.h5: a network's test-set activations, at the root: `hidden_1` .. `hidden_L` (N x width,
after ReLU), `output` (N x classes, logits), `labels` (N, true classes), `predictions` (N, argmax of
output)."""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.hdf5 import OUTPUT_LAYER, StoreError, _attrs, _dataset, _open, _write_attrs, atomic, layer_names


@dataclass(frozen=True)
class Activations:
    hidden: list[np.ndarray]  # per hidden layer, (N, width), after ReLU
    output: np.ndarray  # (N, classes), logits
    labels: np.ndarray  # (N,), true classes
    predictions: np.ndarray  # (N,), argmax of output
    attrs: dict

    def layer(self, name: str) -> np.ndarray:
        """Activations of a layer by name: hidden_1 .. hidden_L or output."""
        if name == OUTPUT_LAYER:
            return self.output
        names = layer_names(len(self.hidden))[:-1]
        if name not in names:
            raise KeyError(f"no layer {name!r}; layers are {', '.join(names + [OUTPUT_LAYER])}")
        return self.hidden[names.index(name)]


def write_activations(path, hidden: list[np.ndarray], output, labels, predictions, attrs: dict) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name, values in zip(layer_names(len(hidden)), hidden):
            h5.create_dataset(name, data=np.asarray(values, dtype=np.float32))
        h5.create_dataset(OUTPUT_LAYER, data=np.asarray(output, dtype=np.float32))
        h5.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        h5.create_dataset("predictions", data=np.asarray(predictions, dtype=np.int64))


def read_activations(path) -> Activations:
    with _open(path) as h5:
        n_hidden = sum(1 for k in h5 if k.startswith("hidden_"))
        hidden = [_dataset(h5, name, "f", 2) for name in layer_names(n_hidden)[:-1]]
        output = _dataset(h5, OUTPUT_LAYER, "f", 2)
        labels = _dataset(h5, "labels", "i", 1)
        predictions = _dataset(h5, "predictions", "i", 1)
        attrs = _attrs(h5)
    if not hidden:
        raise StoreError(f"{path}: no hidden layer datasets (hidden_1, ...)")
    for name, values in zip(layer_names(n_hidden), (*hidden, output)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise StoreError(f"{path}: dataset '{name}' holds {bad} NaN or infinite values; the network diverged "
                             "(retrain it with a lower training.lr)")
    sizes = {a.shape[0] for a in (*hidden, output, labels, predictions)}
    if len(sizes) != 1:
        raise StoreError(f"{path}: datasets disagree on the number of points ({sorted(sizes)})")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and not (0 <= values.min() and values.max() < output.shape[1]):
            raise StoreError(f"{path}: dataset '{name}' holds classes {values.min()}..{values.max()}, "
                             f"but 'output' has {output.shape[1]} classes")
    return Activations(hidden, output, labels, predictions, attrs)


def hidden_widths(path) -> list[int]:
    """Units per hidden layer, from the datasets' shapes alone: the activations themselves are not read
    (the workflow asks this of a network's recorded activations when it loads)."""
    with _open(path) as h5:
        n_hidden = sum(1 for k in h5 if k.startswith("hidden_"))
        for name in layer_names(n_hidden)[:-1]:
            if name not in h5 or len(h5[name].shape) != 2:
                raise StoreError(f"{path}: no 2-D dataset '{name}'")
        return [int(h5[name].shape[1]) for name in layer_names(n_hidden)[:-1]]
