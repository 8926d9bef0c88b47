"""clusters/{method}.h5: one clustering of a layer's test points.

`labels` (N, -1 = in no cluster), `embedding` (N x 2, when the method has one; Mapper's lens), and for
Mapper the graph group `mapper` (nntopo/store/graph.py): node membership (`node_ptr`, `node_points`: indices of
test points), `edges`, `node_cluster` (the cluster each node was given) and `positions` (n_nodes x 2,
where every figure and page draws the node; files without it read None).
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.graph import GRAPH_GROUP, NODE_ARRAYS, check_graph, read_graph, write_graph
from nntopo.store.hdf5 import StoreError, _attrs, _dataset, _open, _write_attrs, atomic

MAPPER_GROUP = GRAPH_GROUP
MAPPER_POSITIONS = "positions"  # (n_nodes, 2) float: where figures and pages draw each node
MAPPER_GRAPH_ARRAYS = {**NODE_ARRAYS, "node_cluster": ("i", 1), MAPPER_POSITIONS: ("f", 2)}
MAPPER_ARRAYS = (*NODE_ARRAYS, "node_cluster")  # what every stored clustering graph has; positions may be missing


@dataclass(frozen=True)
class Clusters:
    labels: np.ndarray
    embedding: np.ndarray | None
    graph: dict[str, np.ndarray] | None  # MAPPER_ARRAYS and MAPPER_POSITIONS (None when not stored) by name
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
            write_graph(h5, graph, MAPPER_GRAPH_ARRAYS, optional=(MAPPER_POSITIONS,))


def read_clusters(path) -> Clusters:
    with _open(path) as h5:
        labels = _dataset(h5, "labels", "i", 1)
        embedding = _dataset(h5, "embedding", "f", 2) if "embedding" in h5 else None
        graph = None
        if MAPPER_GROUP in h5:
            graph = read_graph(h5, MAPPER_GRAPH_ARRAYS, optional=(MAPPER_POSITIONS,))
            graph.setdefault(MAPPER_POSITIONS, None)  # a file written before positions were stored
        attrs = _attrs(h5)
    if embedding is not None and embedding.shape != (len(labels), 2):
        raise StoreError(f"{path}: embedding has shape {embedding.shape}, expected ({len(labels)}, 2)")
    if labels.size and labels.min() < -1:
        raise StoreError(f"{path}: labels below -1")
    if graph is not None:
        check_graph(graph, path)
    return Clusters(labels, embedding, graph, attrs)
