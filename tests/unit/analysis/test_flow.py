"""Across layers: contingency tables, the per-layer flow table, the linear probe and their figures."""

import warnings

import numpy as np
import pandas as pd
import pytest

from nntopo.analysis import flow
from nntopo.analysis.agreement import agreement
from nntopo.analysis.flow import contingency, layer_flow, linear_probe, probe_halves
from nntopo.analysis.plots import depth_profile, layer_sankey


# --- contingency -------------------------------------------------------------------------------------

def test_contingency_by_hand():
    a = np.array([0, 0, 1, 1, -1, 1])
    b = np.array([0, 1, 1, 1, 0, -1])
    y = np.array([3, 3, 2, 5, 0, 1])
    table = contingency(a, b, y)
    # Pairs (a, b): (0,0) (0,1) (1,1) (1,1) (-1,0) (1,-1); sorted, -1 first.
    expected = pd.DataFrame({"cluster_a": [-1, 0, 0, 1, 1], "cluster_b": [0, 0, 1, -1, 1], "count": [1, 1, 1, 1, 2],
                             "majority_label": [0, 3, 3, 1, 2]})  # (1,1) holds classes 2 and 5: the smaller wins
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert list(contingency(a, b).columns) == ["cluster_a", "cluster_b", "count"]
    assert contingency(a, b)["count"].sum() == len(a)


# --- layer flow --------------------------------------------------------------------------------------

Y = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
LAYERS = {
    "hidden_1": np.array([0, 0, 1, 1, 1, 1, 2, 2, -1]),
    "hidden_2": np.array([2, 2, 2, 0, 0, 0, 1, 1, 1]),  # the output's partition, other cluster ids
    "output": np.array([0, 0, 0, 1, 1, 1, 2, 2, 2]),
}


def test_layer_flow_by_hand():
    table = layer_flow(LAYERS, Y)
    assert list(table.columns) == ["layer", "depth", "n_clusters", "unassigned_share", "purity", "ari_next", "nmi_next",
                                   "ari_output", "nmi_output"]
    assert table["layer"].tolist() == list(LAYERS) and table["depth"].tolist() == [1, 2, 3]
    assert table["n_clusters"].tolist() == [3, 3, 3]
    assert table["unassigned_share"].tolist() == pytest.approx([1 / 9, 0, 0])
    # hidden_1's clusters: {0, 0} -> 2 in the majority, {0, 1, 1, 1} -> 3, {2, 2} -> 2; of 8 assigned points.
    assert table["purity"].tolist() == pytest.approx([7 / 8, 1, 1])
    h1, h2, out = (table.iloc[i] for i in range(3))
    assert h2["ari_next"] == pytest.approx(1) and h2["nmi_next"] == pytest.approx(1)  # a permuted copy
    assert h2["ari_output"] == pytest.approx(1) and out["ari_output"] == 1 and out["nmi_output"] == 1
    assert np.isnan(out["ari_next"]) and np.isnan(out["nmi_next"])
    # hidden_1's -1 point is left out, as agreement.py does.
    assert h1["ari_next"] == pytest.approx(agreement(LAYERS["hidden_1"][:8], LAYERS["hidden_2"][:8])["ari"])
    assert h1["ari_output"] == h1["ari_next"] < 1


# --- linear probe ------------------------------------------------------------------------------------

def test_probe_halves_fixed_and_half():
    mask = probe_halves(1001, seed=3)
    assert mask.dtype == bool and mask.shape == (1001,) and mask.sum() == 500
    assert np.array_equal(mask, probe_halves(1001, seed=3))
    assert not np.array_equal(mask, probe_halves(1001, seed=4))


def separable(n=400, seed=0):
    """Three classes, each a tight blob around its own corner, plus noise dimensions and a dead unit."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = np.hstack([5 * np.eye(3)[y] + rng.normal(scale=0.3, size=(n, 3)), rng.normal(size=(n, 5)), np.zeros((n, 1))])
    return X, y


def test_probe_separates_separable_classes_and_not_random_labels():
    X, y = separable()
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(2000, 20))
    random_y = rng.integers(0, 5, 2000)
    easy = linear_probe({"hidden_1": X, "output": X[:, :3]}, y, probe_halves(len(y)))
    assert list(easy.columns) == ["layer", "depth", "probe_train_accuracy", "probe_accuracy", "probe_converged"]
    assert easy["depth"].tolist() == [1, 2]
    assert easy["probe_accuracy"].tolist() == [1.0, 1.0] and easy["probe_converged"].all()
    chance = linear_probe({"hidden_1": noise}, random_y, probe_halves(2000)).iloc[0]
    assert abs(chance["probe_accuracy"] - 0.2) < 0.06  # 1,000 held-out points: sd of the accuracy ~0.013


def test_probe_is_deterministic():
    X, y = separable(seed=2)
    y = np.where(np.random.default_rng(0).random(len(y)) < 0.2, (y + 1) % 3, y)  # some noise, so not all 1.0
    first = linear_probe({"a": X, "b": X[:, 3:]}, y, probe_halves(len(y), seed=5))
    pd.testing.assert_frame_equal(first, linear_probe({"a": X, "b": X[:, 3:]}, y, probe_halves(len(y), seed=5)))


def test_probe_records_non_convergence_instead_of_warning(monkeypatch):
    X, y = separable()
    monkeypatch.setattr(flow, "PROBE_MAX_ITER", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the ConvergenceWarning must not escape
        table = linear_probe({"hidden_1": X}, y, probe_halves(len(y)))
    assert not table["probe_converged"].iloc[0]


def test_probe_rejects_a_bad_mask():
    X, y = separable()
    with pytest.raises(ValueError, match="both sides"):
        linear_probe({"hidden_1": X}, y, np.ones(len(y), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        linear_probe({"hidden_1": X}, y, np.arange(len(y)) % 2)


# --- figures -----------------------------------------------------------------------------------------

def random_layers(n=300, sizes=(6, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    labelings = {}
    for depth, k in enumerate(sizes, start=1):
        labels = rng.integers(0, k, n)
        labels[rng.random(n) < 0.05] = -1
        labelings[f"hidden_{depth}" if depth < len(sizes) else "output"] = labels
    return labelings, y


def patches(fig, gid):
    return [p for ax in fig.axes for p in ax.patches if p.get_gid() == gid]


def test_sankey_draws_a_band_per_pair_and_a_box_per_cluster():
    labelings, y = random_layers()
    fig = layer_sankey(labelings, y, title="test")
    layers = list(labelings.values())
    expected = pd.concat([contingency(a, b) for a, b in zip(layers, layers[1:])])
    bands = patches(fig, "band")
    assert len(bands) == len(expected)
    # A band's vertical width (its right edge, vertices 3 -> 4) is its number of points.
    widths = sorted(round(p.get_path().vertices[4, 1] - p.get_path().vertices[3, 1]) for p in bands)
    assert widths == sorted(expected["count"])
    assert len(patches(fig, "box")) == sum(len(np.unique(labels)) for labels in layers)  # -1 is a box too
    fig.canvas.draw()


def test_sankey_merges_small_clusters_into_other():
    labelings, y = random_layers(sizes=(30, 4, 3))
    fig = layer_sankey(labelings, y, max_clusters=5)
    # First column: 5 clusters, "other" and the points in none; the next two: 4 + 1 and 3 + 1.
    assert len(patches(fig, "box")) == 7 + 5 + 4
    assert "'other'" in fig.get_suptitle()
    fig.canvas.draw()


def test_depth_profile_draws_a_line_per_model():
    rows = []
    for model, n_layers in (("mlp64-s0", 2), ("mlp64x32-s0", 3), ("mlp32x32x32-s1", 4)):
        for depth in range(1, n_layers + 1):
            rows.append({"model": model, "layer": "output" if depth == n_layers else f"hidden_{depth}", "depth": depth,
                         "purity": 0.8 + 0.02 * depth, "probe_accuracy": 0.9 + 0.01 * depth,
                         "ari_output": 1.0 if depth == n_layers else 0.5})
    fig = depth_profile(pd.DataFrame(rows), title="test")
    assert len(fig.axes) == 3
    for ax in fig.axes:
        assert len(ax.lines) == 3
        assert sorted(line.get_xdata()[-1] for line in ax.lines) == [2, 3, 4]  # each ends at its output
        assert len(ax.collections) == 3  # the output stars
    fig.canvas.draw()
