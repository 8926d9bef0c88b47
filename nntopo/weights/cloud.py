"""The two shapes the spaces of neurons and of filters both measure of their point cloud: its Mapper
graph and its Euclidean Vietoris-Rips persistence diagrams.

Arrays in, arrays out. The Mapper is the clustering stage's own (``MapperMethod``: PCA lens, a cover
of ``n_cubes`` x ``n_cubes`` cubes, DBSCAN in each with its radius from a quantile of the distances to
the ``min_samples``-th neighbour), its nodes grouped by connected component and laid out by
``clustering.graph.graph_layout``; the diagrams are nntopo.topology.homology's, not rescaled.
"""

from __future__ import annotations

import numpy as np

from nntopo import store
from nntopo.clustering.graph import node_means  # noqa: F401 (the nodes' means, as the stage reads them here)

EMPTY_GRAPH = {"node_ptr": np.zeros(1, dtype=np.int64), "node_points": np.zeros(0, dtype=np.int64),
               "edges": np.zeros((0, 2), dtype=np.int64), "node_component": np.zeros(0, dtype=np.int64),
               "positions": np.zeros((0, 2))}


def mapper_graph(points: np.ndarray, mapper: dict, seed: int = 0) -> tuple[dict[str, np.ndarray], float | None]:
    """The Mapper graph of ``points`` (store.NEURON_GRAPH_ARRAYS by name, what the spaces' files keep; nodes hold indices of
    points) with the clustering stage's MapperMethod, PCA lens, nodes grouped by connected component,
    and the DBSCAN radius it used. A cloud of no more than ``min_samples`` points (no radius to take
    from the neighbours) or of fewer than two input dimensions (no 2-D lens) gets the empty graph
    and radius None."""
    from nntopo.clustering.methods import cluster_points, coincide, make_method

    points = np.asarray(points, dtype=np.float64)
    if len(points) <= mapper["min_samples"] or points.shape[1] < 2:
        return {k: v.copy() for k, v in EMPTY_GRAPH.items()}, None
    method = make_method("mapper", seed, {**mapper, "lens": "pca", "partition": "components"})
    clustering = cluster_points(method, points)
    graph = clustering.graph
    eps = None if coincide(points) else method.radius(points)  # the radius fit() used, for the record
    # The store's node arrays by name; with partition "components" a node's cluster is its connected
    # component, which the spaces' files call so.
    arrays = {name: getattr(graph, name) for name in store.NODE_ARRAYS}
    return {**arrays, "node_component": graph.node_cluster, "positions": graph.positions}, eps


def persistence_diagrams(points: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """The Euclidean Vietoris-Rips persistence diagrams H0 .. H_maxdim of ``points``
    (nntopo.topology.homology.diagrams), not rescaled: unit vectors are 0 to 2 apart, sqrt(2) when
    orthogonal. H0 keeps its bar that never dies (death inf); no points, no bars."""
    from nntopo.topology.homology import diagrams

    if not len(points):
        return [np.zeros((0, 2))] * (maxdim + 1)
    return diagrams(points, maxdim, scaled=False)[0]


