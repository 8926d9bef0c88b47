"""The HDF5 layout of every file the workflow writes, and the only code that reads or writes them.

Files describe themselves: datasets are named for what they hold, and root attributes carry the
provenance (dataset, model id, seed, the config slice as JSON, package versions). Writers go through
``atomic`` so that a crash never leaves a file that looks complete; readers check names, shapes
and dtypes and say what is wrong with a foreign file.
"""

from __future__ import annotations

import glob
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import h5py
import numpy as np

OUTPUT_LAYER = "output"
PACKAGES = ("numpy", "torch", "h5py", "scikit-learn", "umap-learn", "kmapper", "openTSNE")


class LayoutError(ValueError):
    """An HDF5 file that does not have the layout this module writes."""


def hidden_name(i: int) -> str:
    """Name of the i-th hidden layer, counted from 1."""
    return f"hidden_{i}"


def layer_names(n_hidden: int) -> list[str]:
    return [hidden_name(i) for i in range(1, n_hidden + 1)] + [OUTPUT_LAYER]


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


def _write_attrs(h5: h5py.File, attrs: dict) -> None:
    for key, value in attrs.items():
        h5.attrs[key] = value


def read_attrs(path) -> dict:
    with _open(path) as h5:
        return {key: _plain(value) for key, value in h5.attrs.items()}


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _open(path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise LayoutError(f"{path}: file does not exist") from None
    except OSError as exc:
        raise LayoutError(f"{path}: not a readable HDF5 file ({exc})") from None


def _dataset(h5: h5py.File, name: str, kind: str, ndim: int) -> np.ndarray:
    """Read dataset ``name`` and check its dtype kind ('f' float, 'i' integer) and rank."""
    if name not in h5 or not isinstance(h5[name], h5py.Dataset):
        raise LayoutError(f"{h5.filename}: missing dataset '{name}' (has: {', '.join(sorted(h5)) or 'nothing'})")
    data = h5[name][()]
    if data.dtype.kind not in (kind, "u" if kind == "i" else kind) or data.ndim != ndim:
        wanted = {"f": "float", "i": "integer"}[kind]
        raise LayoutError(
            f"{h5.filename}: dataset '{name}' is {data.dtype} with shape {data.shape}; "
            f"expected a {ndim}-D {wanted} array"
        )
    return data


# --- weights.h5: one group per layer (hidden_1 .. hidden_L, output), each `weight` (out x in) and `bias`.

@dataclass(frozen=True)
class Layer:
    weight: np.ndarray  # (out, in), as in torch
    bias: np.ndarray  # (out,)


def write_weights(path, layers: dict[str, Layer], attrs: dict) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name, layer in layers.items():
            group = h5.create_group(name)
            group.create_dataset("weight", data=np.asarray(layer.weight, dtype=np.float32))
            group.create_dataset("bias", data=np.asarray(layer.bias, dtype=np.float32))


def read_weights(path) -> dict[str, Layer]:
    """Layers in order hidden_1 .. hidden_L, output; checks that their shapes chain."""
    with _open(path) as h5:
        groups = [k for k in h5 if isinstance(h5[k], h5py.Group)]
        hidden = sorted((k for k in groups if k.startswith("hidden_")), key=lambda k: k.split("_")[1].zfill(9))
        names = layer_names(len(hidden))
        if hidden != names[:-1] or OUTPUT_LAYER not in groups:
            raise LayoutError(f"{path}: expected groups {', '.join(names)}; found groups: {', '.join(groups) or 'none'}")
        layers = {}
        for name in names:
            weight = _dataset(h5, f"{name}/weight", "f", 2)
            bias = _dataset(h5, f"{name}/bias", "f", 1)
            if bias.shape[0] != weight.shape[0]:
                raise LayoutError(f"{path}: {name}/bias has {bias.shape[0]} entries for {weight.shape[0]} units")
            layers[name] = Layer(weight, bias)
    widths = [layer.weight.shape for layer in layers.values()]
    for (out_prev, _), (_, in_next) in zip(widths, widths[1:]):
        if out_prev != in_next:
            raise LayoutError(f"{path}: layer shapes {widths} do not chain")
    return layers


# --- activations.h5: test-set activations at the root.

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
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
    if not hidden:
        raise LayoutError(f"{path}: no hidden layer datasets (hidden_1, ...)")
    for name, values in zip(layer_names(n_hidden), (*hidden, output)):
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            raise LayoutError(f"{path}: dataset '{name}' holds {bad} NaN or infinite values; the network diverged "
                              "(retrain it with a lower training.lr)")
    sizes = {a.shape[0] for a in (*hidden, output, labels, predictions)}
    if len(sizes) != 1:
        raise LayoutError(f"{path}: datasets disagree on the number of points ({sorted(sizes)})")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values.size and not (0 <= values.min() and values.max() < output.shape[1]):
            raise LayoutError(f"{path}: dataset '{name}' holds classes {values.min()}..{values.max()}, "
                              f"but 'output' has {output.shape[1]} classes")
    return Activations(hidden, output, labels, predictions, attrs)


# --- clusters/{method}.h5: `labels` (N, -1 = in no cluster), `embedding` (N x 2, when the method has
# one; Mapper's lens), and for Mapper a `mapper` group: node membership in CSR form (`node_ptr`,
# `node_points`), `edges` (E x 2 node pairs), `node_cluster` (the cluster each node was given) and
# `positions` (n_nodes x 2, the layout every figure and page draws; files without it get None).

MAPPER_GROUP = "mapper"
MAPPER_ARRAYS = ("node_ptr", "node_points", "edges", "node_cluster")
MAPPER_POSITIONS = "positions"  # (n_nodes, 2) float: the graph's layout, where figures and pages draw it


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray
    embedding: np.ndarray | None
    graph: dict[str, np.ndarray] | None  # MAPPER_ARRAYS by name
    attrs: dict

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def write_clusters(path, labels, embedding=None, graph: dict | None = None, attrs: dict | None = None) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs or {})
        h5.create_dataset("labels", data=np.asarray(labels, dtype=np.int64))
        if embedding is not None:
            h5.create_dataset("embedding", data=np.asarray(embedding, dtype=np.float32))
        if graph is not None:
            group = h5.create_group(MAPPER_GROUP)
            for name in MAPPER_ARRAYS:
                values = np.asarray(graph[name], dtype=np.int64)
                group.create_dataset(name, data=values.reshape(-1, 2) if name == "edges" else values)
            if graph.get(MAPPER_POSITIONS) is not None:
                group.create_dataset(MAPPER_POSITIONS, data=np.asarray(graph[MAPPER_POSITIONS], dtype=np.float64))


def read_clusters(path) -> Clusters:
    with _open(path) as h5:
        labels = _dataset(h5, "labels", "i", 1)
        embedding = _dataset(h5, "embedding", "f", 2) if "embedding" in h5 else None
        graph = None
        if MAPPER_GROUP in h5:
            graph = {name: _dataset(h5, f"{MAPPER_GROUP}/{name}", "i", 2 if name == "edges" else 1)
                     for name in MAPPER_ARRAYS}
            stored = f"{MAPPER_GROUP}/{MAPPER_POSITIONS}"
            graph[MAPPER_POSITIONS] = _dataset(h5, stored, "f", 2) if stored in h5 else None
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
    if embedding is not None and embedding.shape != (len(labels), 2):
        raise LayoutError(f"{path}: embedding has shape {embedding.shape}, expected ({len(labels)}, 2)")
    if labels.size and labels.min() < -1:
        raise LayoutError(f"{path}: labels below -1")
    if graph is not None:
        n_nodes = len(graph["node_ptr"]) - 1
        if graph["node_ptr"][-1] != len(graph["node_points"]) or len(graph["node_cluster"]) != n_nodes:
            raise LayoutError(f"{path}: mapper node_ptr, node_points and node_cluster disagree on the nodes")
        if graph["edges"].size and graph["edges"].shape[1] != 2:
            raise LayoutError(f"{path}: mapper edges must be pairs of nodes")
        if graph[MAPPER_POSITIONS] is not None and graph[MAPPER_POSITIONS].shape != (n_nodes, 2):
            raise LayoutError(f"{path}: mapper positions have shape {graph[MAPPER_POSITIONS].shape}, "
                              f"expected ({n_nodes}, 2)")
    return Clusters(labels, embedding, graph, attrs)


# --- data.h5 of a shape (disks, tori): `x_train`, `y_train`, `x_test`, `y_test`; the attributes hold
# the generator's settings and `known_betti` (JSON: class -> [b0, b1, b2]).

SHAPE_ARRAYS = {"x_train": ("f", 2), "y_train": ("i", 1), "x_test": ("f", 2), "y_test": ("i", 1)}


def write_shape_data(path, arrays: dict[str, np.ndarray], attrs: dict) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name in SHAPE_ARRAYS:
            h5.create_dataset(name, data=arrays[name])


def read_shape_data(path) -> tuple[dict[str, np.ndarray], dict]:
    with _open(path) as h5:
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in SHAPE_ARRAYS.items()}
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y) or not np.isfinite(x).all():
            raise LayoutError(f"{path}: x_{split} and y_{split} disagree in length or hold NaN; delete the file "
                              "to generate it again")
    return arrays, attrs


# --- homology.h5: persistent homology per layer and class (nntopo/topology).
# Root: `classes`; per class `points/<c>` (the test points measured) and `subsample/<c>` (the
# furthest-point subsample, indices into the test set, the same images in every layer). Per layer
# (`input`, `hidden_1` .., `output`) and class, group `<layer>/<c>`: `betti` (scales x maxdim+1: the
# Betti numbers at hop scales 1 .. epsilon), `h0`, `h1` (`h2`) (persistence diagrams of the subsample,
# its diameter scaled to 1), and after the input `bottleneck`, `wasserstein` (per dimension, to the
# previous layer's diagrams). The root's attributes hold the parameters and `layers` (JSON, in depth
# order); a class group's hold `distinct` (points left once coincident ones merge) and `diameter`.

INPUT_LAYER = "input"


@dataclass
class ClassHomology:
    betti: np.ndarray
    diagrams: list[np.ndarray]
    distinct: int
    diameter: float
    bottleneck: np.ndarray | None = None  # per dimension, to the previous layer; None at the input
    wasserstein: np.ndarray | None = None


@dataclass
class Homology:
    points: dict[int, np.ndarray]
    subsample: dict[int, np.ndarray]
    layers: dict[str, dict[int, ClassHomology]]  # depth order
    attrs: dict

    @property
    def classes(self) -> list[int]:
        return sorted(self.points)


def write_homology(path, homology: Homology) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, {**homology.attrs, "layers": json.dumps(list(homology.layers))})
        h5.create_dataset("classes", data=np.asarray(homology.classes, dtype=np.int64))
        for c in homology.classes:
            h5.create_dataset(f"points/{c}", data=np.asarray(homology.points[c], dtype=np.int64))
            h5.create_dataset(f"subsample/{c}", data=np.asarray(homology.subsample[c], dtype=np.int64))
        for layer, per_class in homology.layers.items():
            for c, result in per_class.items():
                group = h5.create_group(f"{layer}/{c}")
                group.attrs.update(distinct=result.distinct, diameter=result.diameter)
                group.create_dataset("betti", data=np.asarray(result.betti, dtype=np.int64))
                for dim, diagram in enumerate(result.diagrams):
                    group.create_dataset(f"h{dim}", data=np.asarray(diagram, dtype=np.float64).reshape(-1, 2))
                for name in ("bottleneck", "wasserstein"):
                    if getattr(result, name) is not None:
                        group.create_dataset(name, data=np.asarray(getattr(result, name), dtype=np.float64))


def read_homology(path) -> Homology:
    with _open(path) as h5:
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
        if "layers" not in attrs:
            raise LayoutError(f"{path}: no 'layers' attribute; not a homology file")
        classes = _dataset(h5, "classes", "i", 1).tolist()
        points = {c: _dataset(h5, f"points/{c}", "i", 1) for c in classes}
        subsample = {c: _dataset(h5, f"subsample/{c}", "i", 1) for c in classes}
        layers = {}
        for layer in json.loads(attrs["layers"]):
            layers[layer] = {}
            for c in classes:
                name = f"{layer}/{c}"
                if name not in h5:
                    raise LayoutError(f"{path}: missing group '{name}'")
                group = h5[name]
                dims = sorted(int(key[1:]) for key in group if key[:1] == "h" and key[1:].isdigit())
                layers[layer][c] = ClassHomology(
                    _dataset(h5, f"{name}/betti", "i", 2),
                    [_dataset(h5, f"{name}/h{d}", "f", 2) for d in dims],
                    int(group.attrs["distinct"]),
                    float(group.attrs["diameter"]),
                    *(_dataset(h5, f"{name}/{key}", "f", 1) if key in group else None
                      for key in ("bottleneck", "wasserstein")),
                )
    return Homology(points, subsample, layers, attrs)
