import numpy as np
import pytest

from nntopo.analysis.agreement import (
    agreement,
    agreement_matrix,
    composition_stability,
    compositions,
    match_compositions,
    pairwise_agreement,
    purity,
    purity_table,
    seed_stability,
)

RNG = np.random.default_rng(0)
BASE = RNG.integers(0, 5, size=2000)


def test_identical_and_relabelled_partitions_agree_fully():
    permuted = np.array([3, 0, 4, 1, 2])[BASE]  # same partition, other cluster ids
    for other in (BASE, permuted):
        result = agreement(BASE, other)
        assert result["ari"] == pytest.approx(1.0)
        assert result["nmi"] == pytest.approx(1.0)
        assert result["n_common"] == 2000


def test_independent_partitions_agree_about_zero():
    result = agreement(BASE, RNG.integers(0, 5, size=2000))
    assert abs(result["ari"]) < 0.01
    assert 0 <= result["nmi"] < 0.01


def test_known_partitions_by_hand():
    # {0,1}{2,3} against {0,1,2,3}... a coarsening: pair counts a = 2 of C(4,2) = 6; ARI = 0.
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 0, 0, 0])
    assert agreement(a, b)["ari"] == pytest.approx(0.0)
    assert agreement(a, b)["nmi"] == pytest.approx(0.0)
    # Split one pair: {0,1}{2,3} vs {0,1}{2}{3}. H(a) = ln 2, H(b) = 1.5 ln 2, MI = ln 2: NMI = 1 / 1.25.
    assert agreement(a, np.array([0, 0, 1, 2]))["nmi"] == pytest.approx(0.8)


def test_unassigned_points_are_left_out():
    a = np.array([0, 0, 1, 1, -1, 2, 2])
    b = np.array([5, 5, 7, 7, 1, -1, 3])
    # Both assign points 0-3 and 6: a = 0 0 1 1 2, b = 5 5 7 7 3, the same partition.
    result = agreement(a, b)
    assert result == {"ari": pytest.approx(1.0), "nmi": pytest.approx(1.0), "n_common": 5}
    nothing = agreement(np.array([-1, 0]), np.array([1, -1]))
    assert nothing["n_common"] == 0 and np.isnan(nothing["ari"]) and np.isnan(nothing["nmi"])


def test_pairwise_table_and_matrix():
    labelings = {"kmeans": BASE, "umap": np.array([3, 0, 4, 1, 2])[BASE], "noise": RNG.integers(-1, 3, size=2000)}
    table = pairwise_agreement(labelings)
    assert list(table.columns) == ["method_a", "method_b", "ari", "nmi", "n_common"]
    assert table[["method_a", "method_b"]].values.tolist() == [["kmeans", "umap"], ["kmeans", "noise"], ["umap", "noise"]]
    assert table["ari"].iloc[0] == pytest.approx(1.0)
    assert table["n_common"].iloc[1] == np.sum(labelings["noise"] >= 0)
    matrix = agreement_matrix(table, "nmi")
    assert list(matrix.index) == list(matrix.columns) == ["kmeans", "umap", "noise"]
    assert np.allclose(matrix.values, matrix.values.T) and np.allclose(np.diag(matrix.values), 1)
    assert matrix.loc["noise", "umap"] == table["nmi"].iloc[2]


def test_purity_by_hand():
    labels = np.array([0, 0, 0, 1, 1, -1, -1, 2])
    y_true = np.array([4, 4, 2, 1, 3, 0, 0, 2])
    # Cluster 0: majority 4, 2 of 3; cluster 1: a tie, 1 of 2; cluster 2: 1 of 1. 4 of 6 assigned points.
    result = purity(labels, y_true)
    assert result["purity"] == pytest.approx(4 / 6)
    assert result["assigned"] == pytest.approx(6 / 8)
    assert result["n_assigned"] == 6 and result["n_clusters"] == 3
    assert purity(y_true, y_true)["purity"] == 1.0
    assert np.isnan(purity(np.full(3, -1), np.zeros(3, dtype=int))["purity"])
    table = purity_table({"a": labels, "b": y_true}, y_true)
    assert table["method"].tolist() == ["a", "b"] and table["purity"].tolist() == pytest.approx([4 / 6, 1])


def test_seed_stability_on_permuted_labelings():
    by_seed = {0: BASE, 1: np.array([1, 2, 3, 4, 0])[BASE], 2: np.array([4, 3, 2, 1, 0])[BASE]}
    table = seed_stability(by_seed)
    assert list(table.columns) == ["seed_a", "seed_b", "ari", "nmi", "n_common"]
    assert table[["seed_a", "seed_b"]].values.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert table["ari"].tolist() == pytest.approx([1, 1, 1])


def test_compositions_by_hand():
    labels = np.array([1, 1, 0, 0, 0, -1])
    y_true = np.array([2, 0, 1, 1, 0, 2])
    clusters, sizes, comp = compositions(labels, y_true, 3)
    assert clusters.tolist() == [0, 1] and sizes.tolist() == [3, 2]
    assert np.allclose(comp, [[1 / 3, 2 / 3, 0], [1 / 2, 0, 1 / 2]])


def test_composition_matching_and_stability():
    y_true = np.repeat([0, 1, 2], 10)
    a = np.repeat([0, 1, 2], 10)  # one cluster per class
    b = np.repeat([2, 0, 1], 10)  # the same clusters, other ids
    b_mixed = b.copy()
    b_mixed[:5] = 0  # five points of class 0 moved to the class-1 cluster
    matched = match_compositions(a, b, y_true)
    assert matched[["cluster_a", "cluster_b"]].values.tolist() == [[0, 2], [1, 0], [2, 1]]
    assert matched["tv"].tolist() == [0, 0, 0]
    table = composition_stability({0: a, 1: b, 2: b_mixed}, y_true)
    assert table[["seed_a", "seed_b"]].values.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert table["mean_tv"].iloc[0] == 0 and table["same_majority"].iloc[0] == 1
    # Seed 2's class-1 cluster is now 5 of class 0, 10 of class 1: TV to a pure class-1 cluster is 1/3;
    # its class-0 cluster (5 points) is still pure. Sizes: (10 + 15) for the mixed pair, 10 + 5, 10 + 10.
    row = table.iloc[1]
    assert row["mean_tv"] == pytest.approx(1 / 9)
    assert row["max_tv"] == pytest.approx(1 / 3)
    assert row["weighted_tv"] == pytest.approx((25 / 3) / 60)
    assert row["same_majority"] == 1 and row["matched"] == 3


def test_composition_stability_with_unequal_cluster_counts():
    y_true = np.repeat([0, 1, 2], 10)
    a = np.repeat([0, 1, 2], 10)
    b = np.where(y_true == 2, -1, np.repeat([0, 1, 2], 10))  # class 2 in no cluster: two clusters
    table = composition_stability({"s0": a, "s1": b}, y_true)
    assert table[["clusters_a", "clusters_b", "matched"]].values.tolist() == [[3, 2, 2]]
    assert table["mean_tv"].iloc[0] == 0


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="points"):
        agreement(np.zeros(3, dtype=int), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="below -1"):
        agreement(np.array([-2, 0]), np.array([0, 0]))
    with pytest.raises(ValueError, match="integer"):
        purity(np.array([0.5, 1.0]), np.array([0, 1]))
