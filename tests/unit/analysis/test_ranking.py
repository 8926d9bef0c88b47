import numpy as np
import pandas as pd
import pytest

from nntopo.analysis.ranking import (
    cluster_sizes,
    cluster_summary,
    rank_neurons,
    sample_points,
    top_k_neurons,
    top_neurons,
    top_neurons_with_fractions,
    top_rows,
)

# Six points, four neurons. With k = 2 the top-k, worked out by hand:
HIDDEN = np.array(
    [
        [3.0, 1.0, 3.0, 0.0],  # tie 3 = 3: lower neuron first -> 0, 2
        [0.0, 2.0, 0.0, 5.0],  # -> 3, 1
        [0.0, 0.0, 1.0, 0.0],  # one active neuron -> 2, -1
        [0.0, 0.0, 0.0, 0.0],  # silent -> -1, -1
        [-1.0, 2.0, 2.0, 2.0],  # negative is inactive; three-way tie -> 1, 2
        [4.0, 0.0, 0.0, 1.0],  # -> 0, 3 (its label is -1)
    ]
)
TOP2 = [[0, 2], [3, 1], [2, -1], [-1, -1], [1, 2], [0, 3]]
LABELS = np.array([0, 0, 1, 1, 0, -1])


def test_top_k_by_hand():
    top = top_k_neurons(HIDDEN, 2)
    assert top.dtype == np.int64
    assert top.tolist() == TOP2


def test_top_k_pads_when_k_exceeds_the_neurons():
    assert top_k_neurons(HIDDEN[:1], 6).tolist() == [[0, 2, 1, -1, -1, -1]]


def test_top_k_matches_a_stable_sort_with_many_ties():
    rng = np.random.default_rng(0)
    hidden = rng.integers(-2, 4, size=(200, 30)).astype(np.float32)
    for k in (1, 3, 10, 40):
        order = np.argsort(-hidden, axis=1, kind="stable")[:, :k]
        expected = np.where(np.take_along_axis(hidden, order, axis=1) > 0, order, -1)
        expected = np.pad(expected, ((0, 0), (0, k - expected.shape[1])), constant_values=-1)
        assert np.array_equal(top_k_neurons(hidden, k), expected)


def test_top_k_rejects_k_below_one():
    with pytest.raises(ValueError, match="k must be"):
        top_k_neurons(HIDDEN, 0)


def test_rank_neurons_by_hand():
    table = rank_neurons(HIDDEN, LABELS, 2)
    assert list(table.columns) == ["cluster", "neuron", "count", "fraction", "rank"]
    # Cluster 0 = points 0, 1, 4: neuron 1 in points 1, 4; neuron 2 in 0, 4; neuron 0 in 0; neuron 3 in 1.
    # Equal counts rank the lower neuron first. Cluster 1 = points 2, 3: only neuron 2, once.
    assert table[["cluster", "neuron", "count", "rank"]].values.tolist() == [
        [0, 1, 2, 1],
        [0, 2, 2, 2],
        [0, 0, 1, 3],
        [0, 3, 1, 4],
        [1, 2, 1, 1],
    ]
    assert table["fraction"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 2])


# A ranking table out of order, as a caller may hold it; equal counts were already ranked apart
# (ties to the lower neuron), so ranks are unique within a cluster.
SHUFFLED = pd.DataFrame(
    {
        "cluster": [1, 0, 0, 2, 0, 1, 0],
        "neuron": [4, 3, 1, 0, 2, 5, 0],
        "count": [2, 1, 3, 1, 3, 1, 2],
        "fraction": [1.0, 0.25, 0.75, 1.0, 0.75, 0.5, 0.5],
        "rank": [1, 4, 1, 1, 2, 2, 3],
    },
    index=[10, 11, 12, 13, 14, 15, 16],
)


def test_top_rows_keeps_rank_up_to_top_k_sorted():
    rows = top_rows(SHUFFLED, 2)
    assert rows[["cluster", "neuron", "rank"]].values.tolist() == [[0, 1, 1], [0, 2, 2], [1, 4, 1], [1, 5, 2], [2, 0, 1]]
    assert rows.index.tolist() == list(range(5))
    assert list(rows.columns) == list(SHUFFLED.columns)


def test_top_rows_is_each_clusters_head_in_rank_order():
    table = rank_neurons(HIDDEN, LABELS, 2)
    for top_k in (1, 2, 3, 10):
        head = table.sort_values(["cluster", "rank", "neuron"]).groupby("cluster").head(top_k)
        assert top_rows(table, top_k).equals(head.reset_index(drop=True))


def test_top_neurons_per_cluster_in_rank_order():
    neurons = top_neurons(SHUFFLED, 3)
    assert list(neurons) == [0, 1, 2]
    assert [a.tolist() for a in neurons.values()] == [[1, 2, 0], [4, 5], [0]]
    assert all(a.dtype == np.int64 for a in neurons.values())
    assert top_neurons(SHUFFLED.iloc[:0], 3) == {}


def test_top_neurons_with_fractions_and_cluster_sizes():
    neurons, fractions = top_neurons_with_fractions(SHUFFLED, 5)[0]
    assert neurons.tolist() == [1, 2, 0, 3] and fractions.tolist() == [0.75, 0.75, 0.5, 0.25]
    assert {c: n.tolist() for c, (n, _) in top_neurons_with_fractions(SHUFFLED, 1).items()} == {0: [1], 1: [4], 2: [0]}
    # size = count / fraction of any of the cluster's rows
    assert cluster_sizes(SHUFFLED).to_dict() == {0: 4, 1: 2, 2: 1}
    assert cluster_sizes(SHUFFLED.iloc[:0]).empty


def test_sample_points_reproducible_and_within_clusters():
    labels = np.array([0, 1, 0, 0, -1, 1, 0, 2])
    a = sample_points(labels, [0, 1, 2], per_cluster=2, seed=7)
    b = sample_points(labels, [0, 1, 2], per_cluster=2, seed=7)
    assert {c: v.tolist() for c, v in a.items()} == {c: v.tolist() for c, v in b.items()}
    for c, points in a.items():
        assert len(points) == min(2, np.sum(labels == c)) and np.all(labels[points] == c)


def test_top_k_below_one_is_refused():
    with pytest.raises(ValueError, match="top_k must be"):
        top_rows(SHUFFLED, 0)
    with pytest.raises(ValueError, match="top_k must be"):
        top_neurons(SHUFFLED, 0)


def test_cluster_summary_by_hand():
    y_true = np.array([2, 2, 0, 1, 1, 0])
    y_pred = np.array([2, 1, 0, 1, 1, 2])
    table = cluster_summary(LABELS, y_true, y_pred, n_classes=3)
    assert list(table.columns) == [
        "cluster", "size", "accuracy", "majority_label", "majority_share", "count_0", "count_1", "count_2",
    ]
    assert table["cluster"].tolist() == [0, 1, -1]  # the points in no cluster come last
    assert table["size"].tolist() == [3, 2, 1]
    assert table["accuracy"].tolist() == pytest.approx([2 / 3, 1.0, 0.0])
    assert table["majority_label"].tolist() == [2, 0, 0]  # cluster 1 ties 0 and 1: the lower wins
    assert table["majority_share"].tolist() == pytest.approx([2 / 3, 1 / 2, 1.0])
    assert table[["count_0", "count_1", "count_2"]].values.tolist() == [[0, 1, 2], [1, 1, 0], [1, 0, 0]]


def test_cluster_summary_has_no_unassigned_row_when_all_are_assigned():
    table = cluster_summary([1, 0, 0], [0, 1, 1], [0, 1, 0], n_classes=2)
    assert table["cluster"].tolist() == [0, 1]
    assert table["accuracy"].tolist() == pytest.approx([0.5, 1.0])


def test_cluster_summary_rejects_labels_beyond_n_classes():
    with pytest.raises(ValueError, match="0..1"):
        cluster_summary([0, 0], [0, 2], [0, 0], n_classes=2)
