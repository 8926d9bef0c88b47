"""The Mapper graph group (``mapper``) that clusters/{method}.h5, a layer's neuron space and a filter
space each hold: one writer, one reader and one check for all three.

Every graph stores its nodes' members in CSR form, ``node_ptr`` (n_nodes + 1) and ``node_points``
(indices of the file's points), and its ``edges`` (E x 2 node pairs): ``NODE_ARRAYS``. Each file kind
adds its own per-node arrays, e.g. ``positions`` (n_nodes x 2, where figures and pages draw the node),
``node_cluster`` or ``node_component``: a kind's ``arrays`` (name -> (dtype kind, rank)) are
``NODE_ARRAYS`` and its own, in the order they are written.
"""

from __future__ import annotations

import h5py
import numpy as np

from nntopo.store.hdf5 import StoreError, _dataset, _dtype

GRAPH_GROUP = "mapper"
NODE_ARRAYS = {"node_ptr": ("i", 1), "node_points": ("i", 1), "edges": ("i", 2)}
Spec = dict[str, tuple[str, int]]  # array name -> (dtype kind 'f' or 'i', rank)


def write_graph(h5: h5py.File, graph: dict, arrays: Spec, optional=(), shapes: dict | None = None) -> None:
    """Write ``graph`` (arrays by name) into the group: ``NODE_ARRAYS`` then the kind's ``arrays``, in order,
    float64 or int64; rank-2 arrays as (-1, 2) unless ``shapes`` names another shape. Arrays named in
    ``optional`` are left out when ``graph`` lacks them (or holds None)."""
    group = h5.create_group(GRAPH_GROUP)
    for name, (kind, ndim) in {**NODE_ARRAYS, **arrays}.items():
        if name in optional and graph.get(name) is None:
            continue
        values = np.asarray(graph[name], dtype=_dtype(kind))
        shape = (shapes or {}).get(name, (-1, 2) if ndim == 2 else None)
        group.create_dataset(name, data=values.reshape(shape) if shape else values)


def read_graph(h5: h5py.File, arrays: Spec, optional=()) -> dict[str, np.ndarray]:
    """The group's arrays by name, checked for dtype and rank; those in ``optional`` only when stored."""
    graph = {}
    for name, (kind, ndim) in {**NODE_ARRAYS, **arrays}.items():
        stored = f"{GRAPH_GROUP}/{name}"
        if name in optional and stored not in h5:
            continue
        graph[name] = _dataset(h5, stored, kind, ndim)
    return graph


def n_nodes(graph: dict) -> int:
    return len(graph["node_ptr"]) - 1


def check_graph(graph: dict, path, n_points: int | None = None) -> None:
    """Refuse (StoreError) a graph whose arrays disagree: CSR membership, edge pairs, node points within
    the ``n_points`` of the file (when given), and one entry per node in every other array present."""
    nodes = n_nodes(graph)
    if graph["node_ptr"][-1] != len(graph["node_points"]):
        raise StoreError(f"{path}: mapper node_ptr and node_points disagree on the nodes")
    if graph["edges"].size and graph["edges"].shape[1] != 2:
        raise StoreError(f"{path}: mapper edges must be pairs of nodes")
    if n_points is not None and len(graph["node_points"]) and graph["node_points"].max() >= n_points:
        raise StoreError(f"{path}: mapper node_points outside the {n_points} points")
    for name, values in graph.items():
        if name in NODE_ARRAYS or values is None:
            continue
        if name == "positions" and values.shape != (nodes, 2):
            raise StoreError(f"{path}: mapper positions have shape {values.shape}, expected ({nodes}, 2)")
        if len(values) != nodes:
            raise StoreError(f"{path}: mapper {name} has {len(values)} entries for {nodes} nodes")
