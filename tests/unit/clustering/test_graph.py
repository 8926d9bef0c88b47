"""A Mapper graph's node statistics: the majority label every figure, page and space of neurons uses."""

from __future__ import annotations

import numpy as np

from nntopo.clustering.graph import MapperGraph, majority_label, node_labels


def test_majority_label_and_its_share():
    node_ptr = np.array([0, 3, 5, 5])  # the last node is empty: label 0, share 0
    node_points = np.array([0, 1, 2, 2, 3])
    labels = np.array([4, 4, 1, 1])
    majority, share = majority_label(node_ptr, node_points, labels)
    assert majority.dtype == np.int64 and majority.tolist() == [4, 1, 0]
    np.testing.assert_allclose(share, [2 / 3, 1.0, 0.0])


def test_majority_label_ties_go_to_the_lowest():
    node_ptr, node_points = np.array([0, 3, 5]), np.array([0, 1, 2, 2, 3])
    label, share = majority_label(node_ptr, node_points, [2, 1, 1, 0], n_classes=3)
    assert label.tolist() == [1, 0] and share.tolist() == [2 / 3, 0.5]


def test_node_labels_add_accuracy():
    node_ptr, node_points = np.array([0, 2, 4]), np.array([0, 1, 2, 3])
    majority, share, accuracy = node_labels(node_ptr, node_points, [3, 3, 0, 1], [3, 0, 0, 1], n_classes=4)
    assert majority.tolist() == [3, 0] and share.tolist() == [1.0, 0.5] and accuracy.tolist() == [0.5, 1.0]


def test_mapper_graph_nodes():
    graph = MapperGraph(np.array([0, 2, 5]), np.array([0, 3, 1, 2, 3]), np.array([[0, 1]]), np.array([0, 0]))
    assert graph.n_nodes == 2 and graph.points(1).tolist() == [1, 2, 3]
