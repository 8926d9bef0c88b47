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


class StoreError(ValueError):
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


# --- weights.h5: one group per layer (hidden_1 .. hidden_L, output), each `weight` (out x in, or a
# convolution's out x in x kernel height x kernel width) and `bias`, and for a batch-normalised hidden
# layer its eval-mode normalisation `scale` and `shift` (out,).

@dataclass(frozen=True)
class Layer:
    weight: np.ndarray  # (out, in) or a convolution's (out, in, kh, kw), as in torch: the map alone
    bias: np.ndarray  # (out,)
    scale: np.ndarray | None = None  # batch normalisation, scale * (W x + b) + shift; None without it
    shift: np.ndarray | None = None

    @property
    def is_convolution(self) -> bool:
        return self.weight.ndim == 4

    @property
    def kernel_shape(self) -> tuple[int, int] | None:
        """A convolution's kernel (height, width); None for a dense layer."""
        return tuple(self.weight.shape[2:]) if self.is_convolution else None

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """The layer's map before its activation, batch normalisation folded in: (weight, bias)."""
        if self.scale is None:
            return self.weight, self.bias
        scale = self.scale.reshape(-1, *[1] * (self.weight.ndim - 1))
        return scale * self.weight, self.scale * self.bias + self.shift

    def unit_weights(self) -> np.ndarray:
        """(out, everything a unit reads): a neuron's input weights, a channel's kernels flattened."""
        return self.affine()[0].reshape(len(self.weight), -1)


NORMALISATION = ("scale", "shift")


def write_weights(path, layers: dict[str, Layer], attrs: dict, extra=None) -> None:
    """``extra(h5)``, when given, writes more groups into the file before it is moved into place."""
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, attrs)
        for name, layer in layers.items():
            group = h5.create_group(name)
            for key in ("weight", "bias", *NORMALISATION):
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
            normalisation = [_dataset(h5, f"{name}/{key}", "f", 1) if key in h5[name] else None for key in NORMALISATION]
            if (normalisation[0] is None) != (normalisation[1] is None):
                raise StoreError(f"{path}: {name} has one of {' and '.join(NORMALISATION)} without the other")
            for key, values in zip(("bias", *NORMALISATION), (bias, *normalisation)):
                if values is not None and values.shape[0] != weight.shape[0]:
                    raise StoreError(f"{path}: {name}/{key} has {values.shape[0]} entries for {weight.shape[0]} units")
            layers[name] = Layer(weight, bias, *normalisation)
    check_chain(layers, path)
    return layers


def check_chain(layers: dict[str, Layer], where) -> None:
    """Each layer reads what the one before it gives (``where``: what the message names)."""
    shapes = [layer.weight.shape for layer in layers.values()]
    for previous, following in zip(shapes, shapes[1:]):
        # A dense layer after a convolution reads its flattened pooled maps: a multiple of its channels.
        fits = following[1] % previous[0] == 0 if len(previous) == 4 and len(following) == 2 else \
            previous[0] == following[1] and not (len(previous) == 2 and len(following) == 4)
        if not fits:
            raise StoreError(f"{where}: layer shapes {[list(shape) for shape in shapes]} do not chain")


# --- weights.h5's `neural_persistence` group: the weights' neural persistence before training (row 0)
# and after every epoch, one column per layer; its attributes name the layers and hold p and the seed.

NEURAL_PERSISTENCE_GROUP = "neural_persistence"
NEURAL_PERSISTENCE_MEASURES = ("layers", "normalized", "shuffled_normalized", "variance")  # the record's keys


@dataclass(frozen=True)
class PersistenceHistory:
    epochs: np.ndarray  # (E + 1,): 0 (initialisation), 1 .. E
    layers: list[str]
    measures: dict[str, np.ndarray]  # NEURAL_PERSISTENCE_MEASURES -> (E + 1, n_layers)
    attrs: dict


def neural_persistence_writer(records: list[dict], attrs: dict):
    """A ``write_weights`` extra that stores the per-epoch records (``nntopo.network.train``'s)."""
    names = list(records[0]["layers"])

    def write(h5: h5py.File) -> None:
        group = h5.create_group(NEURAL_PERSISTENCE_GROUP)
        _write_attrs(group, {**attrs, "layer_names": names})
        group.create_dataset("epoch", data=np.arange(len(records)))
        for measure in NEURAL_PERSISTENCE_MEASURES:
            group.create_dataset(measure, data=np.array([[r[measure][n] for n in names] for r in records], dtype=np.float64))
    return write


def read_neural_persistence(path) -> PersistenceHistory:
    with _open(path) as h5:
        if NEURAL_PERSISTENCE_GROUP not in h5:
            raise StoreError(f"{path}: no '{NEURAL_PERSISTENCE_GROUP}' group; the model was trained before neural "
                              f"persistence was recorded: delete the model's folder and rerun")
        group = h5[NEURAL_PERSISTENCE_GROUP]
        attrs = {key: _plain(value) for key, value in group.attrs.items()}
        epochs = _dataset(h5, f"{NEURAL_PERSISTENCE_GROUP}/epoch", "i", 1)
        measures = {m: _dataset(h5, f"{NEURAL_PERSISTENCE_GROUP}/{m}", "f", 2) for m in NEURAL_PERSISTENCE_MEASURES}
    return PersistenceHistory(epochs, list(attrs.pop("layer_names")), measures, attrs)


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
        raise StoreError(f"{path}: embedding has shape {embedding.shape}, expected ({len(labels)}, 2)")
    if labels.size and labels.min() < -1:
        raise StoreError(f"{path}: labels below -1")
    if graph is not None:
        n_nodes = len(graph["node_ptr"]) - 1
        if graph["node_ptr"][-1] != len(graph["node_points"]) or len(graph["node_cluster"]) != n_nodes:
            raise StoreError(f"{path}: mapper node_ptr, node_points and node_cluster disagree on the nodes")
        if graph["edges"].size and graph["edges"].shape[1] != 2:
            raise StoreError(f"{path}: mapper edges must be pairs of nodes")
        if graph[MAPPER_POSITIONS] is not None and graph[MAPPER_POSITIONS].shape != (n_nodes, 2):
            raise StoreError(f"{path}: mapper positions have shape {graph[MAPPER_POSITIONS].shape}, "
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
            raise StoreError(f"{path}: x_{split} and y_{split} disagree in length or hold NaN; delete the file "
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
            raise StoreError(f"{path}: no 'layers' attribute; not a homology file")
        classes = _dataset(h5, "classes", "i", 1).tolist()
        points = {c: _dataset(h5, f"points/{c}", "i", 1) for c in classes}
        subsample = {c: _dataset(h5, f"subsample/{c}", "i", 1) for c in classes}
        layers = {}
        for layer in json.loads(attrs["layers"]):
            layers[layer] = {}
            for c in classes:
                name = f"{layer}/{c}"
                if name not in h5:
                    raise StoreError(f"{path}: missing group '{name}'")
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


# --- rankings/{method}.csv (written by nntopo.analysis.stage.rank_clusters): one row per cluster of
# the clustered layer (`space`) and neuron of a ranked `layer` with a nonzero count.

RANKING_COLUMNS = ("dataset", "model", "space", "method", "layer", "cluster", "neuron", "count", "fraction", "rank")


def read_rankings(path):
    """A rankings table as a DataFrame; StoreError for a missing, unreadable or foreign file."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: file does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not a readable CSV table ({str(exc).strip() or type(exc).__name__})") from None
    missing = [c for c in RANKING_COLUMNS if c not in table.columns]
    if missing:
        raise StoreError(f"{path}: not a rankings table, no column {', '.join(missing)}")
    for column in ("cluster", "neuron", "count", "rank"):
        if len(table) and table[column].dtype.kind not in "iu":  # (no rows: every point in no cluster)
            raise StoreError(f"{path}: column '{column}' holds {table[column].dtype}, expected integers")
    return table


# --- {layer}/neurons/space.h5: the space of neurons of one hidden layer (nntopo/weights/neurons.py).
# Per neuron of the layer (all `width` of them): `norms` (the L2 norm of its input weights, batch
# normalisation folded in), `alive` (1: active, > 0, on at least one test image), `label` (the class its
# linear path to the output supports most) and `linear_path` (classes x width). The cloud: `neurons`
# (n,) the neurons in it (norm above min_norm), `points` (n x inputs) their unit weight vectors. When
# rankings cover the layer, `top_k` (sources x width): how many of each source's clusters rank the
# neuron in their top-k; attribute `top_k_sources` (JSON, "method/space" each). Group `mapper`: the graph
# (`node_ptr`, `node_points`: CSR, indices of cloud points; `edges`; `node_component`; `positions`) and
# per node its colourings (`node_top_k`, mean over its neurons, only with rankings; `node_alive`, share
# alive; `node_label`, majority label, ties lowest; `node_label_share`). Group `diagram`: `h0`, `h1`
# (`h2`), Vietoris-Rips on the unit vectors, Euclidean, not rescaled. Root attributes: provenance,
# `layer`, the parameters (`mapper` as JSON, `maxdim`, `min_norm`, `top_k`) and the DBSCAN radius `eps`.

NEURON_ARRAYS = {"neurons": ("i", 1), "points": ("f", 2), "norms": ("f", 1), "alive": ("i", 1), "label": ("i", 1),
                 "linear_path": ("f", 2)}
NEURON_TOP_K = "top_k"
NEURON_GRAPH_GROUP = "mapper"
NEURON_GRAPH_ARRAYS = {"node_ptr": ("i", 1), "node_points": ("i", 1), "edges": ("i", 2), "node_component": ("i", 1),
                       "positions": ("f", 2)}
NEURON_NODE_VALUES = {"node_top_k": ("f", 1), "node_alive": ("f", 1), "node_label": ("i", 1),
                      "node_label_share": ("f", 1)}
NEURON_DIAGRAM_GROUP = "diagram"


@dataclass
class NeuronSpace:
    neurons: np.ndarray  # (n,) the layer's neurons in the cloud, ascending
    points: np.ndarray  # (n, inputs) their unit input weight vectors
    norms: np.ndarray  # (width,) every neuron's weight norm
    alive: np.ndarray  # (width,) bool
    label: np.ndarray  # (width,) the class each neuron's linear path supports most
    linear_path: np.ndarray  # (classes, width)
    top_k: np.ndarray | None  # (sources, width) clusters ranking each neuron in their top-k; None: no rankings
    top_k_sources: list[str]  # "method/space" of each row of top_k
    graph: dict[str, np.ndarray]  # NEURON_GRAPH_ARRAYS and NEURON_NODE_VALUES by name (node_top_k only with top_k)
    diagrams: list[np.ndarray]  # H0 .. H_maxdim, (bars, 2)
    attrs: dict

    @property
    def width(self) -> int:
        return len(self.norms)

    @property
    def n_nodes(self) -> int:
        return len(self.graph["node_ptr"]) - 1

    @property
    def top_k_count(self) -> np.ndarray | None:
        """(width,) clusters of every source that rank each neuron in their top-k; None: no rankings."""
        return None if self.top_k is None else self.top_k.sum(axis=0)


def write_neuron_space(path, space: NeuronSpace) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, {**space.attrs, "top_k_sources": json.dumps(space.top_k_sources)})
        for name, (kind, _) in NEURON_ARRAYS.items():
            h5.create_dataset(name, data=np.asarray(getattr(space, name), dtype=np.float64 if kind == "f" else np.int64))
        if space.top_k is not None:
            h5.create_dataset(NEURON_TOP_K, data=np.asarray(space.top_k, dtype=np.int64).reshape(-1, space.width))
        group = h5.create_group(NEURON_GRAPH_GROUP)
        for name, (kind, ndim) in {**NEURON_GRAPH_ARRAYS, **NEURON_NODE_VALUES}.items():
            if name in space.graph:
                values = np.asarray(space.graph[name], dtype=np.float64 if kind == "f" else np.int64)
                group.create_dataset(name, data=values.reshape(-1, 2) if ndim == 2 else values)
        for dim, diagram in enumerate(space.diagrams):
            h5.create_dataset(f"{NEURON_DIAGRAM_GROUP}/h{dim}", data=np.asarray(diagram, dtype=np.float64).reshape(-1, 2))


def read_neuron_space(path) -> NeuronSpace:
    with _open(path) as h5:
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
        if "layer" not in attrs or NEURON_GRAPH_GROUP not in h5:
            raise StoreError(f"{path}: no 'layer' attribute or '{NEURON_GRAPH_GROUP}' group; not a neuron space file")
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in NEURON_ARRAYS.items()}
        top_k = _dataset(h5, NEURON_TOP_K, "i", 2) if NEURON_TOP_K in h5 else None
        graph = {name: _dataset(h5, f"{NEURON_GRAPH_GROUP}/{name}", kind, ndim)
                 for name, (kind, ndim) in NEURON_GRAPH_ARRAYS.items()}
        graph.update({name: _dataset(h5, f"{NEURON_GRAPH_GROUP}/{name}", kind, ndim)
                      for name, (kind, ndim) in NEURON_NODE_VALUES.items() if name in h5[NEURON_GRAPH_GROUP]})
        stored = h5[NEURON_DIAGRAM_GROUP] if NEURON_DIAGRAM_GROUP in h5 else {}
        dims = sorted(int(key[1:]) for key in stored if key[:1] == "h" and key[1:].isdigit())
        diagrams = [_dataset(h5, f"{NEURON_DIAGRAM_GROUP}/h{d}", "f", 2) for d in dims]
    sources = json.loads(attrs.pop("top_k_sources", "[]"))
    width, n = len(arrays["norms"]), len(arrays["neurons"])
    n_nodes = len(graph["node_ptr"]) - 1
    problems = [
        (arrays["points"].shape[0] != n, f"points has {arrays['points'].shape[0]} rows for {n} neurons"),
        (any(len(arrays[k]) != width for k in ("alive", "label")), f"alive and label need {width} entries"),
        (arrays["linear_path"].shape[1] != width, f"linear_path has {arrays['linear_path'].shape[1]} columns for {width} neurons"),
        (n and not (0 <= arrays["neurons"].min() and arrays["neurons"].max() < width), "neurons outside the layer"),
        (top_k is not None and top_k.shape != (len(sources), width), f"top_k is not ({len(sources)}, {width})"),
        (graph["node_ptr"][-1] != len(graph["node_points"]), "mapper node_ptr and node_points disagree"),
        (len(graph["node_points"]) and graph["node_points"].max() >= n, "mapper node_points outside the cloud"),
        (graph["positions"].shape != (n_nodes, 2) or len(graph["node_component"]) != n_nodes,
         f"mapper positions or node_component do not have one entry per node ({n_nodes})"),
        (any(len(graph[k]) != n_nodes for k in NEURON_NODE_VALUES if k in graph), "node colourings not one per node"),
        (not diagrams, "no persistence diagram"),
    ]
    for wrong, what in problems:
        if wrong:
            raise StoreError(f"{path}: {what}")
    return NeuronSpace(arrays["neurons"], arrays["points"], arrays["norms"], arrays["alive"].astype(bool),
                       arrays["label"], arrays["linear_path"], top_k, sources, graph, diagrams, attrs)


# --- filters space.h5: {dataset}/filters/{architecture}/space.h5, the space of first-layer filters of
# one CNN architecture, the kernels of every seed together (nntopo/weights/filters.py). Every kernel
# gathered: `kernels` (N x kh x kw, as read, batch normalisation folded in; one per pair of output and
# input channel), `source` (N,) the model it came from (an index into the attribute `models`) and
# `contrast` (N,) its contrast after mean-centring (the norm named by the attribute `contrast_norm`).
# The selection: `contrasted` (M,) the kernels the contrast filter keeps (indices of kernels, ascending)
# and `density` (M,) each one's distance, as a centred unit vector, to its density_k-th nearest
# neighbour among them; `kept` (n,) those the density filter keeps too (indices of kernels, ascending),
# `points` (n x kh*kw) their centred unit vectors and `plane` (n x 2) their coordinates along the
# points' first two principal components (about the points' mean; a circle of filters goes round in
# it; the attribute `plane_variance` is the share of variance it holds). Group `mapper`: the graph
# (`node_ptr`, `node_points`: CSR, indices of points; `edges`; `node_component`; `positions`) and
# `node_kernels` (n_nodes x kh x kw), the mean of each node's points. Group `diagram`: `h0`, `h1`
# (`h2`), Euclidean Vietoris-Rips on the points, not rescaled. Root attributes: `dataset`,
# `architecture`, `models` and `weight_files` (JSON lists, in the order `source` counts), the settings
# (`config` as JSON and each parameter alone), `kernel_shape`, the DBSCAN radius `eps` (NaN: no graph)
# and `versions`.

FILTER_ARRAYS = {"kernels": ("f", 3), "source": ("i", 1), "contrast": ("f", 1), "contrasted": ("i", 1),
                 "density": ("f", 1), "kept": ("i", 1), "points": ("f", 2), "plane": ("f", 2)}
FILTER_GRAPH_GROUP = "mapper"
FILTER_GRAPH_ARRAYS = {"node_ptr": ("i", 1), "node_points": ("i", 1), "edges": ("i", 2), "node_component": ("i", 1),
                       "positions": ("f", 2), "node_kernels": ("f", 3)}
FILTER_DIAGRAM_GROUP = "diagram"


@dataclass
class FilterSpace:
    kernels: np.ndarray  # (N, kh, kw) every first-layer kernel gathered
    source: np.ndarray  # (N,) index into models of the model each came from
    contrast: np.ndarray  # (N,) norm after mean-centring
    contrasted: np.ndarray  # (M,) kernels kept by the contrast filter, ascending
    density: np.ndarray  # (M,) distance to the density_k-th nearest neighbour among the contrasted
    kept: np.ndarray  # (n,) kernels kept by both filters, ascending
    points: np.ndarray  # (n, kh * kw) their centred unit vectors
    plane: np.ndarray  # (n, 2) coordinates along the points' first two principal components
    graph: dict[str, np.ndarray]  # FILTER_GRAPH_ARRAYS by name
    diagrams: list[np.ndarray]  # H0 .. H_maxdim, (bars, 2)
    attrs: dict

    @property
    def kernel_shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.kernels.shape[1:])

    @property
    def angle(self) -> np.ndarray:
        """(n,) each point's angle in the plane of the first two principal components, in [-pi, pi]."""
        return np.arctan2(self.plane[:, 1], self.plane[:, 0])

    @property
    def models(self) -> list[str]:
        return json.loads(self.attrs["models"])

    @property
    def counts(self) -> dict[str, int]:
        """How many kernels each step keeps: gathered, by the contrast filter, by the density filter too."""
        return {"kernels": len(self.kernels), "contrast": len(self.contrasted), "density": len(self.kept)}

    @property
    def n_nodes(self) -> int:
        return len(self.graph["node_ptr"]) - 1


def write_filter_space(path, space: FilterSpace) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, space.attrs)
        for name, (kind, _) in FILTER_ARRAYS.items():
            dtype = np.float64 if kind == "f" else np.int64
            h5.create_dataset(name, data=np.asarray(getattr(space, name), dtype=dtype))
        group = h5.create_group(FILTER_GRAPH_GROUP)
        for name, (kind, ndim) in FILTER_GRAPH_ARRAYS.items():
            values = np.asarray(space.graph[name], dtype=np.float64 if kind == "f" else np.int64)
            shape = {2: (-1, 2), 3: (-1, *space.kernel_shape)}.get(ndim)
            group.create_dataset(name, data=values.reshape(shape) if shape else values)
        for dim, diagram in enumerate(space.diagrams):
            h5.create_dataset(f"{FILTER_DIAGRAM_GROUP}/h{dim}",
                              data=np.asarray(diagram, dtype=np.float64).reshape(-1, 2))


def read_filter_space(path) -> FilterSpace:
    with _open(path) as h5:
        attrs = {key: _plain(value) for key, value in h5.attrs.items()}
        if "architecture" not in attrs or "models" not in attrs or FILTER_GRAPH_GROUP not in h5:
            raise StoreError(f"{path}: no 'architecture' or 'models' attribute or '{FILTER_GRAPH_GROUP}' group; "
                              f"not a filter space file")
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in FILTER_ARRAYS.items()}
        graph = {name: _dataset(h5, f"{FILTER_GRAPH_GROUP}/{name}", kind, ndim)
                 for name, (kind, ndim) in FILTER_GRAPH_ARRAYS.items()}
        stored = h5[FILTER_DIAGRAM_GROUP] if FILTER_DIAGRAM_GROUP in h5 else {}
        dims = sorted(int(key[1:]) for key in stored if key[:1] == "h" and key[1:].isdigit())
        diagrams = [_dataset(h5, f"{FILTER_DIAGRAM_GROUP}/h{d}", "f", 2) for d in dims]
    kernels, kept, contrasted = arrays["kernels"], arrays["kept"], arrays["contrasted"]
    n_kernels, n = len(kernels), len(kept)
    n_models = len(json.loads(attrs["models"]))
    n_nodes = len(graph["node_ptr"]) - 1
    problems = [
        (any(len(arrays[k]) != n_kernels for k in ("source", "contrast")),
         f"source and contrast need {n_kernels} entries"),
        (len(arrays["source"]) and not (0 <= arrays["source"].min() and arrays["source"].max() < n_models),
         f"source names models outside the {n_models} of attribute 'models'"),
        (len(arrays["density"]) != len(contrasted),
         f"density has {len(arrays['density'])} entries for {len(contrasted)} contrasted kernels"),
        (len(contrasted) and not (0 <= contrasted.min() and contrasted.max() < n_kernels),
         "contrasted outside the kernels"),
        (not np.isin(kept, contrasted).all(), "kept holds kernels the contrast filter dropped"),
        (arrays["points"].shape != (n, int(np.prod(kernels.shape[1:]))), f"points is not ({n}, kernel pixels)"),
        (arrays["plane"].shape != (n, 2), f"plane is not ({n}, 2)"),
        (graph["node_ptr"][-1] != len(graph["node_points"]), "mapper node_ptr and node_points disagree"),
        (len(graph["node_points"]) and graph["node_points"].max() >= n, "mapper node_points outside the points"),
        (graph["positions"].shape != (n_nodes, 2) or len(graph["node_component"]) != n_nodes,
         f"mapper positions or node_component do not have one entry per node ({n_nodes})"),
        (graph["node_kernels"].shape != (n_nodes, *kernels.shape[1:]), "mapper node_kernels not one kernel per node"),
        (not diagrams, "no persistence diagram"),
    ]
    for wrong, what in problems:
        if wrong:
            raise StoreError(f"{path}: {what}")
    return FilterSpace(kernels, arrays["source"], arrays["contrast"], contrasted, arrays["density"], kept,
                       arrays["points"], arrays["plane"], graph, diagrams, attrs)
# --- end of filters space.h5
