"""Mapper's graph from its cover's clusters: node order, shared points, partition, each point's group."""

from __future__ import annotations

import numpy as np

from nntopo.clustering.mapper import node_lists, partition, point_groups, shared_points


def test_nodes_in_the_order_of_their_ids_numbers():
    nodes = {"cube10_cluster0": [5, 4], "cube2_cluster1": [3, 3, 1], "cube2_cluster0": [0, 1]}
    node_ptr, node_points = node_lists(nodes)
    assert node_ptr.tolist() == [0, 2, 4, 6] and node_points.tolist() == [0, 1, 1, 3, 4, 5]
    empty_ptr, empty_points = node_lists({})
    assert empty_ptr.tolist() == [0] and empty_points.dtype == np.int64 and len(empty_points) == 0


def test_edges_join_nodes_sharing_points_with_their_count():
    node_ptr, node_points = np.array([0, 3, 5, 7]), np.array([0, 1, 2, 1, 2, 6, 7])
    edges, weights = shared_points(node_ptr, node_points, 8)
    assert edges.tolist() == [[0, 1]] and weights.tolist() == [2]


def test_partition_by_components_and_the_giant_rule():
    node_ptr, node_points = np.array([0, 2, 4, 6]), np.array([0, 1, 1, 2, 5, 6])
    edges, weights = shared_points(node_ptr, node_points, 7)
    kwargs = dict(giant=0.5, resolution=1.0, seed=0)
    assert partition(node_ptr, node_points, edges, weights, 7, rule="components", **kwargs).tolist() == [0, 0, 1]
    # The largest component holds 3 of the 5 covered points: not over 0.9 of them, so components stay.
    assert partition(node_ptr, node_points, edges, weights, 7, rule="auto", **{**kwargs, "giant": 0.9}).tolist() == [0, 0, 1]


def test_a_point_takes_the_group_most_of_its_nodes_carry():
    node_ptr = np.array([0, 2, 4, 6])
    node_points = np.array([0, 1, 0, 1, 1, 2])  # point 0 in nodes 0, 1; point 1 in all three; 3 in none
    assert point_groups(node_ptr, node_points, np.array([4, 2, 2]), 4).tolist() == [2, 2, 2, -1]  # 0: a tie
    assert point_groups(np.array([0]), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 2).tolist() == [-1, -1]


def test_a_layer_of_one_unit_is_its_own_lens():
    """A regressor's output has one unit: the PCA lens is the unit itself (a 1-D cover), and two groups
    far apart on it are two components; the embedding is drawn at height 0."""
    from nntopo.clustering.methods import MapperMethod

    x = np.concatenate([np.linspace(0, 1, 300), np.linspace(5, 6, 300)])[:, None]  # evenly: DBSCAN chains each
    result = MapperMethod(0, n_cubes=10, min_samples=5, partition="components").fit(x)
    assert result.embedding.shape == (600, 2) and not result.embedding[:, 1].any()
    assert np.allclose(np.abs(result.embedding[:, 0] - result.embedding[:, 0].mean()), np.abs(x[:, 0] - x.mean()))
    first, second = result.labels[:300], result.labels[300:]
    assert len(set(first[first >= 0])) == 1 and len(set(second[second >= 0])) == 1
    assert set(first[first >= 0]).isdisjoint(second[second >= 0])
