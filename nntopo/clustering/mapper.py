"""Mapper's graph from the clusters of its cover, and a partition of that graph into clusters of points.

Arrays in, arrays out: ``MapperMethod`` (nntopo.clustering.methods) runs the lens, the cover and
DBSCAN through KeplerMapper, then hands its nodes here.

- ``node_lists``: KeplerMapper's nodes (``{"cube12_cluster0": [point, ...]}``) in CSR form, in the
  order of their ids' numbers;
- ``shared_points``: the edges, node pairs i < j sharing points, and how many points each shares;
- ``partition``: a group number for each node (connected components or Louvain communities);
- ``point_groups``: each point's group, the one most of its nodes carry.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from nntopo.plotting import natural_sort_key


def node_lists(nodes: dict) -> tuple[np.ndarray, np.ndarray]:
    """(node_ptr, node_points) of KeplerMapper's ``nodes``: each node's points sorted and unique,
    the nodes sorted by the numbers in their ids (cube, then cluster)."""
    members = [np.unique(np.asarray(nodes[n], dtype=np.int64)) for n in sorted(nodes, key=natural_sort_key)]
    node_ptr = np.zeros(len(members) + 1, dtype=np.int64)
    node_ptr[1:] = np.cumsum([len(m) for m in members])
    node_points = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
    return node_ptr, node_points


def shared_points(node_ptr: np.ndarray, node_points: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The edges, (E, 2) int64 node pairs i < j holding a point in common, sorted, and the number of
    points each pair shares."""
    n_nodes = len(node_ptr) - 1
    node_of_entry = np.repeat(np.arange(n_nodes), np.diff(node_ptr))
    incidence = sp.csr_matrix((np.ones(len(node_points)), (node_of_entry, node_points)), shape=(n_nodes, n_points))
    shared = sp.triu(incidence @ incidence.T, k=1).tocoo()  # shared point counts, i < j
    order = np.lexsort((shared.col, shared.row))
    edges = np.column_stack([shared.row[order], shared.col[order]]).astype(np.int64)
    return edges, shared.data[order]


def partition(node_ptr, node_points, edges, weights, n_points: int, *, rule: str, giant: float,
              resolution: float, seed: int) -> np.ndarray:
    """A group number for each node, by ``rule`` (as ``MapperMethod``'s ``partition`` says):
    ``components``, ``communities`` (Louvain, seeded, edges weighted by ``weights``, numbered by
    their lowest node), or ``auto``: components unless the largest covers more than ``giant`` of
    the covered points."""
    n_nodes = len(node_ptr) - 1
    node_of_entry = np.repeat(np.arange(n_nodes), np.diff(node_ptr))
    adjacency = sp.coo_matrix((weights, (edges[:, 0], edges[:, 1])), shape=(n_nodes, n_nodes))
    _, component = connected_components(adjacency, directed=False)
    use_communities = rule == "communities"
    if rule == "auto" and n_nodes:
        point_component = np.full(n_points, -1)
        point_component[node_points] = component[node_of_entry]
        covered = point_component[point_component >= 0]
        use_communities = np.bincount(covered).max() > giant * len(covered)
    if not use_communities:
        return component.astype(np.int64)
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_weighted_edges_from(zip(edges[:, 0].tolist(), edges[:, 1].tolist(), weights.tolist()))
    communities = nx.community.louvain_communities(graph, resolution=resolution, seed=seed)
    group = np.empty(n_nodes, dtype=np.int64)
    for number, community in enumerate(sorted(communities, key=min)):
        group[list(community)] = number
    return group


def point_groups(node_ptr: np.ndarray, node_points: np.ndarray, node_group: np.ndarray, n_points: int) -> np.ndarray:
    """For each point, the group most of its nodes carry (ties: lowest group); -1 if it is in no node."""
    out = np.full(n_points, -1, dtype=np.int64)
    if len(node_points) == 0:
        return out
    groups = np.asarray(node_group)[np.repeat(np.arange(len(node_ptr) - 1), np.diff(node_ptr))]
    pairs, counts = np.unique(np.column_stack([node_points, groups]), axis=0, return_counts=True)
    best = np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))  # by point, then most votes, then lowest group
    first = np.ones(len(best), dtype=bool)
    first[1:] = pairs[best[1:], 0] != pairs[best[:-1], 0]
    out[pairs[best[first], 0]] = pairs[best[first], 1]
    return out
