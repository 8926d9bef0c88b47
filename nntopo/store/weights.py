"""weights.h5: a network's layers, and its neural persistence through training.

One group per layer (hidden_1 .. hidden_L, output), each `weight` (out x in, or a convolution's out x
in x kernel height x kernel width) and `bias`, and for a batch-normalised hidden layer its eval-mode
normalisation `scale` and `shift` (out,). A layer that reads a normalised activation (batch
normalisation after the previous layer's activation) holds that normalisation as `input_scale` and
`input_shift` (in,): it reads input_scale * h + input_shift of the recorded activation h.

Group `neural_persistence`: the weights' neural persistence before training (row 0) and after every
epoch, one column per layer; its attributes name the layers and hold p and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.hdf5 import OUTPUT_LAYER, StoreError, _attrs, _dataset, _open, _write_attrs, atomic, layer_names


@dataclass(frozen=True)
class Layer:
    weight: np.ndarray  # (out, in) or a convolution's (out, in, kh, kw), as in torch: the map alone
    bias: np.ndarray  # (out,)
    scale: np.ndarray | None = None  # batch normalisation, scale * (W x + b) + shift; None without it
    shift: np.ndarray | None = None
    input_scale: np.ndarray | None = None  # what it reads is normalised: W (input_scale * h + input_shift) + b
    input_shift: np.ndarray | None = None

    @property
    def is_convolution(self) -> bool:
        return self.weight.ndim == 4

    @property
    def kernel_shape(self) -> tuple[int, int] | None:
        """A convolution's kernel (height, width); None for a dense layer."""
        return tuple(self.weight.shape[2:]) if self.is_convolution else None

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's map of the previous layer's recorded activation (or of the input) to its
        pre-activation, batch normalisation folded in, its own and that of what it reads: (weight, bias)."""
        weight, bias = self.weight, self.bias
        if self.input_scale is not None:  # dense layers alone (after_activation is refused for CNNs)
            weight, bias = weight * self.input_scale, bias + weight @ self.input_shift
        if self.scale is None:
            return weight, bias
        scale = self.scale.reshape(-1, *[1] * (weight.ndim - 1))
        return scale * weight, self.scale * bias + self.shift

    def unit_weights(self) -> np.ndarray:
        """(out, everything a unit reads): a neuron's input weights, a channel's kernels flattened."""
        return self.affine()[0].reshape(len(self.weight), -1)


NORMALISATION = ("scale", "shift")
READS_NORMALISED = ("input_scale", "input_shift")


def write_weights(path, layers: dict[str, Layer], attrs: dict, extra=None) -> None:
    """``extra(h5)``, when given, writes more groups into the file before it is moved into place."""
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name, layer in layers.items():
            group = h5.create_group(name)
            for key in ("weight", "bias", *NORMALISATION, *READS_NORMALISED):
                if getattr(layer, key) is not None:
                    group.create_dataset(key, data=np.asarray(getattr(layer, key), dtype=np.float32))
        if extra is not None:
            extra(h5)


def read_weights(path) -> dict[str, Layer]:
    """Layers in order hidden_1 .. hidden_L, output; checks that their shapes chain."""
    with _open(path) as h5:
        groups = [k for k in h5 if isinstance(h5[k], h5py.Group)]
        hidden = sorted((k for k in groups if k.startswith("hidden_")), key=lambda k: k.split("_")[1].zfill(9))
        names = layer_names(len(hidden))
        if hidden != names[:-1] or OUTPUT_LAYER not in groups:
            raise StoreError(f"{path}: expected groups {', '.join(names)}; found groups: {', '.join(groups) or 'none'}")
        layers = {}
        for name in names:
            weight = _dataset(h5, f"{name}/weight", "f", (2, 4))  # dense or convolution
            bias = _dataset(h5, f"{name}/bias", "f", 1)
            if len(bias) != len(weight):
                raise StoreError(f"{path}: {name}/bias has {len(bias)} entries for {len(weight)} units")
            normalisation = _pair(h5, path, name, NORMALISATION, len(weight), "units")
            # what a layer reads is normalised per input of a dense layer (a convolution's would be per channel)
            reads = _pair(h5, path, name, READS_NORMALISED, weight.shape[1] if weight.ndim == 2 else None, "inputs")
            layers[name] = Layer(weight, bias, *normalisation, *reads)
    check_chain(layers, path)
    return layers


def _pair(h5, path, name: str, keys: tuple[str, str], size: int | None, what: str) -> tuple:
    """Layer ``name``'s optional (scale, shift) pair ``keys``: both or neither, each of ``size`` entries
    (None: the layer cannot hold it); (None, None) when absent."""
    pair = tuple(_dataset(h5, f"{name}/{key}", "f", 1) if key in h5[name] else None for key in keys)
    if (pair[0] is None) != (pair[1] is None):
        raise StoreError(f"{path}: {name} has one of {' and '.join(keys)} without the other")
    for key, values in zip(keys, pair):
        if values is not None and len(values) != size:
            raise StoreError(f"{path}: {name}/{key} has {len(values)} entries for {size or 'no'} {what}")
    return pair


def check_chain(layers: dict[str, Layer], where) -> None:
    """Each layer reads what the one before it gives (``where``: what the message names)."""
    shapes = [layer.weight.shape for layer in layers.values()]
    for previous, following in zip(shapes, shapes[1:]):
        # A dense layer after a convolution reads its flattened pooled maps: a multiple of its channels.
        fits = following[1] % previous[0] == 0 if len(previous) == 4 and len(following) == 2 else \
            previous[0] == following[1] and not (len(previous) == 2 and len(following) == 4)
        if not fits:
            raise StoreError(f"{where}: layer shapes {[list(shape) for shape in shapes]} do not chain")


# --- the `neural_persistence` group

NEURAL_PERSISTENCE_GROUP = "neural_persistence"
NEURAL_PERSISTENCE_MEASURES = ("layers", "normalized", "shuffled_normalized", "variance")  # the record's keys


@dataclass(frozen=True)
class PersistenceHistory:
    epochs: np.ndarray  # (E + 1,): 0 (initialisation), 1 .. E
    layers: list[str]
    measures: dict[str, np.ndarray]  # NEURAL_PERSISTENCE_MEASURES -> (E + 1, n_layers)
    attrs: dict


def neural_persistence_writer(records: list[dict], attrs: dict, epochs: list[int] | None = None):
    """A ``write_weights`` extra that stores the per-epoch records (``nntopo.network.train``'s) with
    their ``epochs`` (0, 1, 2, ... when not given)."""
    names = list(records[0]["layers"])

    def write(h5: h5py.File) -> None:
        group = h5.create_group(NEURAL_PERSISTENCE_GROUP)
        _write_attrs(group, {**attrs, "layer_names": names})
        group.create_dataset("epoch", data=np.arange(len(records)) if epochs is None else np.asarray(epochs))
        for measure in NEURAL_PERSISTENCE_MEASURES:
            group.create_dataset(measure, data=np.array([[r[measure][n] for n in names] for r in records], dtype=np.float64))
    return write


def read_neural_persistence(path) -> PersistenceHistory:
    with _open(path) as h5:
        if NEURAL_PERSISTENCE_GROUP not in h5:
            raise StoreError(f"{path}: no '{NEURAL_PERSISTENCE_GROUP}' group; the model was trained before neural "
                             f"persistence was recorded: delete the model's folder and rerun")
        attrs = _attrs(h5[NEURAL_PERSISTENCE_GROUP])
        epochs = _dataset(h5, f"{NEURAL_PERSISTENCE_GROUP}/epoch", "i", 1)
        measures = {m: _dataset(h5, f"{NEURAL_PERSISTENCE_GROUP}/{m}", "f", 2) for m in NEURAL_PERSISTENCE_MEASURES}
    return PersistenceHistory(epochs, list(attrs.pop("layer_names")), measures, attrs)
