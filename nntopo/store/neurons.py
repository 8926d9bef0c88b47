"""{layer}/neurons/space.h5: the space of neurons of one hidden layer (nntopo/weights/neurons.py).

Per neuron of the layer (all `width` of them): `norms` (the L2 norm of its input weights, batch
normalisation folded in), `alive` (1: active, > 0, on at least one test image), `label` (the class its
linear path to the output supports most) and `linear_path` (classes x width). The cloud: `neurons`
(n,) the neurons in it (norm above min_norm), `points` (n x inputs) their unit weight vectors. When
rankings cover the layer, `top_k` (sources x width): how many of each source's clusters rank the
neuron in their top-k; attribute `top_k_sources` (JSON, "method/space" each). Group `mapper`
(nntopo/store/graph.py): the graph (`node_ptr`, `node_points`: CSR, indices of cloud points; `edges`;
`node_component`; `positions`) and per node its colourings (`node_top_k`, mean over its neurons, only
with rankings; `node_alive`, share alive; `node_label`, majority label, ties lowest;
`node_label_share`). Group `diagram`: `h0`, `h1` (`h2`), Vietoris-Rips on the unit vectors,
Euclidean, not rescaled. Root attributes: provenance, `layer`, the parameters (`mapper` as JSON,
`maxdim`, `min_norm`, `top_k`) and the DBSCAN radius `eps`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.graph import GRAPH_GROUP, NODE_ARRAYS, check_graph, read_graph, write_graph
from nntopo.store.hdf5 import (StoreError, _attrs, _dataset, _dtype, _open, _write_attrs, atomic, read_diagrams,
                               write_diagrams)

NEURON_ARRAYS = {"neurons": ("i", 1), "points": ("f", 2), "norms": ("f", 1), "alive": ("i", 1), "label": ("i", 1),
                 "linear_path": ("f", 2)}
NEURON_TOP_K = "top_k"
NEURON_GRAPH_GROUP = GRAPH_GROUP
NEURON_GRAPH_ARRAYS = {**NODE_ARRAYS, "node_component": ("i", 1), "positions": ("f", 2)}
NEURON_NODE_VALUES = {"node_top_k": ("f", 1), "node_alive": ("f", 1), "node_label": ("i", 1),
                      "node_label_share": ("f", 1)}  # the nodes' colourings; node_top_k only with rankings
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
            h5.create_dataset(name, data=np.asarray(getattr(space, name), dtype=_dtype(kind)))
        if space.top_k is not None:
            h5.create_dataset(NEURON_TOP_K, data=np.asarray(space.top_k, dtype=np.int64).reshape(-1, space.width))
        write_graph(h5, space.graph, {**NEURON_GRAPH_ARRAYS, **NEURON_NODE_VALUES}, optional=NEURON_NODE_VALUES)
        write_diagrams(h5, space.diagrams, NEURON_DIAGRAM_GROUP)


def read_neuron_space(path) -> NeuronSpace:
    with _open(path) as h5:
        attrs = _attrs(h5)
        if "layer" not in attrs or NEURON_GRAPH_GROUP not in h5:
            raise StoreError(f"{path}: no 'layer' attribute or '{NEURON_GRAPH_GROUP}' group; not a neuron space file")
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in NEURON_ARRAYS.items()}
        top_k = _dataset(h5, NEURON_TOP_K, "i", 2) if NEURON_TOP_K in h5 else None
        graph = read_graph(h5, {**NEURON_GRAPH_ARRAYS, **NEURON_NODE_VALUES}, optional=NEURON_NODE_VALUES)
        diagrams = read_diagrams(h5, NEURON_DIAGRAM_GROUP)
    sources = json.loads(attrs.pop("top_k_sources", "[]"))
    width, n = len(arrays["norms"]), len(arrays["neurons"])
    problems = [
        (arrays["points"].shape[0] != n, f"points has {arrays['points'].shape[0]} rows for {n} neurons"),
        (any(len(arrays[k]) != width for k in ("alive", "label")), f"alive and label need {width} entries"),
        (arrays["linear_path"].shape[1] != width, f"linear_path has {arrays['linear_path'].shape[1]} columns for {width} neurons"),
        (n and not (0 <= arrays["neurons"].min() and arrays["neurons"].max() < width), "neurons outside the layer"),
        (top_k is not None and top_k.shape != (len(sources), width), f"top_k is not ({len(sources)}, {width})"),
    ]
    for wrong, what in problems:
        if wrong:
            raise StoreError(f"{path}: {what}")
    check_graph(graph, path, n_points=n)
    if not diagrams:
        raise StoreError(f"{path}: no persistence diagram")
    return NeuronSpace(arrays["neurons"], arrays["points"], arrays["norms"], arrays["alive"].astype(bool),
                       arrays["label"], arrays["linear_path"], top_k, sources, graph, diagrams, attrs)
