"""A Mapper graph in CSR form (``MapperGraph``), shared by its figures, its pages and its GraphML file
(``as_networkx``).

Node i holds the points ``node_points[node_ptr[i]:node_ptr[i+1]]``; ``edges`` is an (E, 2) array of
node pairs.

``graph_layout`` is the one layout of a graph: the static figures (``plots.mapper_graph``,
``plots.mapper_graphs_by_layer``), the pages (``figures.page``) and the GraphML file place a node
at the same spot, so a reader can go from one to the other. ``majority_label`` is the one answer to
"which label do most of a node's points carry".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KAMADA_KAWAI_MAX = 500  # larger components get a (seeded) spring layout: Kamada-Kawai is O(n^2)
_ASPECT = 1.6  # width / height the components are packed into (screens and figures are wide)


@dataclass(frozen=True, eq=False)
class MapperGraph:
    """A Mapper graph in CSR form: node i holds points ``node_points[node_ptr[i]:node_ptr[i+1]]``."""

    node_ptr: np.ndarray  # (n_nodes + 1,) int64 offsets into node_points
    node_points: np.ndarray  # int64 point indices, sorted within each node
    edges: np.ndarray  # (E, 2) int64 node pairs i < j that share points, sorted
    node_cluster: np.ndarray  # (n_nodes,) int64 cluster of each node (-1: its group won no point)
    # (n_nodes, 2) where every figure and page draws the nodes: computed once, with the graph, since a
    # layout costs seconds and the figure, the pages and the GraphML file all need it.
    positions: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.node_ptr) - 1

    def points(self, node: int) -> np.ndarray:
        return self.node_points[self.node_ptr[node] : self.node_ptr[node + 1]]


def check_graph(node_ptr, node_points, edges, n_points: int):
    """(node_ptr, node_points, edges) as int64 arrays, edges sorted, unique and without loops;
    ValueError on a malformed graph."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64).ravel()
    node_points = np.asarray(node_points, dtype=np.int64).ravel()
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(node_ptr) < 1 or node_ptr[0] != 0 or node_ptr[-1] != len(node_points):
        raise ValueError(
            f"node_ptr must start at 0 and end at len(node_points) = {len(node_points)}; "
            f"got {node_ptr[:1].tolist()} ... {node_ptr[-1:].tolist()}"
        )
    sizes = np.diff(node_ptr)
    if (sizes <= 0).any():
        raise ValueError(f"node {int(np.argmax(sizes <= 0))} has no points (node_ptr must increase strictly)")
    if len(node_points) and (node_points.min() < 0 or node_points.max() >= n_points):
        raise ValueError(f"node_points must be point indices in 0..{n_points - 1}")
    n_nodes = len(node_ptr) - 1
    if len(edges) and (edges.min() < 0 or edges.max() >= n_nodes):
        raise ValueError(f"edges must hold node indices in 0..{n_nodes - 1}")
    edges = np.sort(edges, axis=1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 1]], axis=0)
    return node_ptr, node_points, edges


def check_labels(labels_true, labels_pred) -> tuple[np.ndarray, np.ndarray, int]:
    """(labels_true, labels_pred) as int64 arrays and the number of classes they span; ValueError
    when their lengths differ or a class is negative."""
    labels_true = np.asarray(labels_true, dtype=np.int64).ravel()
    labels_pred = np.asarray(labels_pred, dtype=np.int64).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    if (labels_true < 0).any() or (labels_pred < 0).any():
        raise ValueError("labels and predictions must be class numbers >= 0")
    return labels_true, labels_pred, int(max(labels_true.max(initial=0), labels_pred.max(initial=0))) + 1


# --- layout ------------------------------------------------------------------------------------


def _component_layout(n: int, edges: list[tuple[int, int]], seed: int) -> np.ndarray:
    """Positions (n, 2) of one connected component (nodes 0..n-1), median edge length 1, its long
    axis along x."""
    import networkx as nx

    if n == 1:
        return np.zeros((1, 2))
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    if n <= KAMADA_KAWAI_MAX:  # deterministic (starts from a circle): needs no seed
        pos = nx.kamada_kawai_layout(graph)
    else:
        pos = nx.spring_layout(graph, seed=seed, iterations=100)
    pos = np.array([pos[i] for i in range(n)], dtype=np.float64)
    pos -= pos.mean(axis=0)
    _, _, axes = np.linalg.svd(pos, full_matrices=False)
    pos = pos @ axes.T
    pos *= np.where(pos[0] > 0, -1.0, 1.0)  # an axis's sign is the linear algebra library's choice: fix it
    lengths = np.linalg.norm(pos[[a for a, _ in edges]] - pos[[b for _, b in edges]], axis=1)
    return pos / max(float(np.median(lengths)), 1e-9)


def _shelves(sizes: np.ndarray, width: float) -> tuple[np.ndarray, float]:
    """Corners of boxes of ``sizes`` put left to right in rows at most ``width`` wide (a box wider
    starts a row alone), and the scale-down a window of _ASPECT needs to show them all."""
    corners = np.zeros_like(sizes)
    x = y = row_height = right = 0.0
    for k, (w, h) in enumerate(sizes):
        if x > 0 and x + w > width + 1e-9:
            x, y, row_height = 0.0, y + row_height, 0.0
        corners[k] = x, y
        x += w
        right, row_height = max(right, x), max(row_height, h)
    return corners, max(right, (y + row_height) * _ASPECT)


def graph_layout(n_nodes: int, edges, seed: int = 0) -> np.ndarray:
    """Node positions (n_nodes, 2), deterministic: the same graph always gets the same positions.

    Each connected component is laid out on its own (Kamada-Kawai, which needs no seed; components
    over ``KAMADA_KAWAI_MAX`` nodes: networkx's spring layout seeded with ``seed``), scaled to a
    median edge length of 1 and turned to lie along x; then the components are packed in rows,
    largest first from the top left, one unit apart, so none overlaps another. Single nodes end up
    in a grid at the bottom. y grows upwards (matplotlib's way; pages flip it).
    """
    import networkx as nx

    if n_nodes == 0:
        return np.zeros((0, 2))
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_edges_from(edges.tolist())
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c[0]))
    shapes = []
    for nodes in components:
        local = {node: k for k, node in enumerate(nodes)}
        inner = sorted((local[a], local[b]) for a, b in graph.subgraph(nodes).edges())
        pos = _component_layout(len(nodes), inner, seed)
        shapes.append(pos - pos.min(axis=0))

    # Rows of components; of the row widths tried, the one whose drawing is largest in a window of
    # _ASPECT (its bounding box needs the least scaling down to fit).
    gap = 1.0
    sizes = np.array([s.max(axis=0) for s in shapes]) + gap
    widths = np.unique(np.concatenate([np.cumsum(sizes[:, 0]), sizes[:, 0].max(keepdims=True)]))
    widths = widths[widths >= sizes[:, 0].max()]
    corners, _ = min((_shelves(sizes, w) for w in widths), key=lambda packed: packed[1])
    out = np.zeros((n_nodes, 2))
    for nodes, shape, corner in zip(components, shapes, corners):
        out[nodes] = shape + corner
    out[:, 1] = -out[:, 1]  # first row on top
    return out


def unit_positions(positions) -> np.ndarray:
    """Positions rescaled so that the median distance of a node to its nearest one is 1 (node sizes
    are drawn in that unit, whatever the scale of positions given by a caller)."""
    from scipy.spatial import cKDTree

    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
    if len(pos) < 2:
        return pos - pos.mean(axis=0) if len(pos) else pos
    distance = cKDTree(pos).query(pos, k=2)[0][:, 1]
    unit = float(np.median(distance))
    if unit <= 0:
        unit = float(np.ptp(pos, axis=0).max()) / np.sqrt(len(pos)) or 1.0
    return (pos - pos.min(axis=0)) / unit


# --- node statistics -----------------------------------------------------------------------------


def node_means(node_ptr, node_points, values) -> np.ndarray:
    """(n_nodes,) the mean of ``values`` (one per point) over each node's points; NaN for an empty node."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    sizes = np.diff(node_ptr)
    picked = np.asarray(values, dtype=np.float64)[np.asarray(node_points, dtype=np.int64)]
    node_of = np.repeat(np.arange(len(sizes)), sizes)
    sums = np.bincount(node_of, weights=picked, minlength=len(sizes))
    return np.divide(sums, sizes, out=np.full(len(sizes), np.nan), where=sizes > 0)


def node_counts(node_ptr, node_points, values, n_values: int) -> np.ndarray:
    """(n_nodes, n_values) int: how many points of each node have each value 0..n_values-1."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    n_nodes = len(node_ptr) - 1
    node_of = np.repeat(np.arange(n_nodes), np.diff(node_ptr))
    picked = np.asarray(values, dtype=np.int64)[np.asarray(node_points, dtype=np.int64)]
    return np.bincount(node_of * n_values + picked, minlength=n_nodes * n_values).reshape(n_nodes, n_values)


def majority_label(node_ptr, node_points, labels, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each node's most frequent label among its points (ties: the lowest), as int64, and that
    label's share of the node's points. ``labels``: one class 0..n_classes-1 per point (default
    n_classes: the largest label + 1)."""
    labels = np.asarray(labels, dtype=np.int64)
    if n_classes is None:
        n_classes = int(labels.max(initial=0)) + 1
    counts = node_counts(node_ptr, node_points, labels, n_classes)
    sizes = np.maximum(np.diff(np.asarray(node_ptr)), 1)
    return counts.argmax(axis=1).astype(np.int64), counts.max(axis=1, initial=0) / sizes


def node_labels(node_ptr, node_points, labels_true, labels_pred, n_classes: int):
    """Each node's majority true label (ties: lowest), its share of the node's points, and the node's
    accuracy (share of its points predicted right)."""
    majority, share = majority_label(node_ptr, node_points, labels_true, n_classes)
    right = node_counts(node_ptr, node_points, np.asarray(labels_true) == np.asarray(labels_pred), 2)[:, 1]
    return majority, share, right / np.maximum(np.diff(np.asarray(node_ptr)), 1)


def selected_share(node_ptr, node_points, selected) -> np.ndarray:
    """(n_nodes,) share of each node's points that are selected (``selected``: an (N,) bool mask):
    how the pages shade a layer's nodes after points were picked in another layer."""
    counts = node_counts(node_ptr, node_points, np.asarray(selected, dtype=bool), 2)[:, 1]
    return counts / np.maximum(np.diff(np.asarray(node_ptr)), 1)


# --- as a networkx graph (the GraphML file) ----------------------------------------------------------


def as_networkx(
    node_ptr,
    node_points,
    edges,
    labels_true,
    labels_pred,
    *,
    node_cluster=None,
    positions=None,
    attrs=None,
):
    """The graph as a networkx Graph, as its GraphML file holds it (``stage.write_graph_file``).

    Nodes 0..n-1 carry size, majority_label, majority_share, accuracy, cluster (-1: none), x, y
    (``positions``, default ``graph_layout``) and points (the member point indices, space-separated);
    edges carry shared_points (how many points both ends hold). ``attrs`` (provenance) become
    graph-level attributes, as strings.
    """
    import networkx as nx

    labels_true, labels_pred, n_classes = check_labels(labels_true, labels_pred)
    node_ptr, node_points, edges = check_graph(node_ptr, node_points, edges, len(labels_true))
    n_nodes = len(node_ptr) - 1
    cluster = np.full(n_nodes, -1) if node_cluster is None else np.asarray(node_cluster, dtype=np.int64).ravel()
    pos = graph_layout(n_nodes, edges) if positions is None else np.asarray(positions, dtype=np.float64)
    if len(cluster) != n_nodes or pos.shape != (n_nodes, 2):
        raise ValueError(f"node_cluster and positions must have one entry per node ({n_nodes})")
    majority, share, accuracy = node_labels(node_ptr, node_points, labels_true, labels_pred, n_classes)
    members = [node_points[node_ptr[i] : node_ptr[i + 1]] for i in range(n_nodes)]

    graph = nx.Graph(**{str(k): str(v) for k, v in (attrs or {}).items()})
    for i, m in enumerate(members):
        graph.add_node(
            i, size=len(m), majority_label=int(majority[i]), majority_share=float(share[i]),
            accuracy=float(accuracy[i]), cluster=int(cluster[i]), x=float(pos[i, 0]), y=float(pos[i, 1]),
            points=" ".join(map(str, m.tolist())),
        )
    for a, b in edges.tolist():
        graph.add_edge(a, b, shared_points=len(np.intersect1d(members[a], members[b])))
    return graph
