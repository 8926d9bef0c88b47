"""A regressor's analysis tables (issue 27): the cluster summary's error and target, the share of the target's
variance the clusters explain (flow, agreement), and the ridge probe's R^2, each against a hand-worked example
or an independent recomputation; then the stages on a regressor's files, and a classifier's tables as before."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nntopo import store
from nntopo import task as tasks
from nntopo.analysis import flow
from nntopo.analysis import stage as analysis
from nntopo.analysis.agreement import purity_table
from nntopo.analysis.ranking import error_summary

IDENTITY = {"mean": [0.0], "direction": [1.0]}  # a target of one number is its own projection


# --- the cluster summary -----------------------------------------------------------------------------

def test_error_summary_by_hand():
    """Six points, one target each, level sets cut at 5: cluster 0 is fitted exactly, cluster 1 misses two
    of its three points by 2, the last point is in no cluster."""
    labels = np.array([0, 0, 1, 1, 1, -1])
    targets = np.array([1.0, 2, 3, 7, 8, 9])
    outputs = np.array([1.0, 2, 5, 7, 10, 9])
    table = error_summary(labels, outputs, targets, {"n": 2, "projection": IDENTITY, "edges": [5.0]})
    expected = pd.DataFrame({
        "cluster": [0, 1, -1], "size": [2, 3, 1],
        "mse": [0.0, 8 / 3, 0.0],  # squared errors 0, 0 | 4, 0, 4 | 0
        "relative_l2": [0.0, np.sqrt(8 / (9 + 49 + 64)), 0.0],
        "target_mean": [1.5, 6.0, 9.0], "target_std": [0.5, np.sqrt((9 + 1 + 4) / 3), 0.0],
        "majority_label": [0, 1, 1], "majority_share": [1.0, 2 / 3, 1.0],  # level sets 0 0 | 0 1 1 | 1
        "count_0": [2, 1, 0], "count_1": [0, 2, 1],
    })
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)


def test_error_summary_of_two_targets_reads_their_projection():
    """Targets on the diagonal of the plane: their first principal component is (1, 1)/sqrt(2), so a point
    (t, t) projects to (t - 1.5) sqrt(2); an error of 1 in one of two outputs is an MSE of 1/2."""
    targets = np.array([[0.0, 0], [1, 1], [2, 2], [3, 3]])
    outputs = targets + np.array([[1.0, 0], [0, 1], [1, 0], [0, 1]])
    levels = tasks.levels_of(targets, 2)
    assert np.allclose(levels["projection"]["direction"], [2 ** -0.5, 2 ** -0.5])
    table = error_summary(np.array([0, 0, 1, 1]), outputs, targets, levels)
    assert table["mse"].tolist() == [0.5, 0.5]
    assert table["relative_l2"].tolist() == pytest.approx([np.sqrt(2 / 2), np.sqrt(2 / (8 + 18))])
    assert table["target_mean"].tolist() == pytest.approx([-np.sqrt(2), np.sqrt(2)])
    assert table["target_std"].tolist() == pytest.approx([0.5 * np.sqrt(2)] * 2)
    assert table[["count_0", "count_1"]].to_numpy().tolist() == [[2, 0], [0, 2]]


def test_error_summary_refuses_points_of_other_lengths():
    with pytest.raises(ValueError, match="lengths differ"):
        error_summary(np.zeros(3, int), np.zeros(3), np.zeros(4), {"n": 2, "projection": IDENTITY, "edges": [0.0]})


# --- explained variance in place of purity -----------------------------------------------------------

TARGETS = np.array([1.0, 2, 3, 7, 8, 9])


def test_purity_table_gives_a_regressors_explained_variance_by_hand():
    """Two clusters of three: means 2 and 8 about 5, so the between sum of squares is 3 * 9 + 3 * 9 = 54 of a
    total 16 + 9 + 4 + 4 + 9 + 16 = 58; a partition that splits neither group explains nothing of it, and a
    point in no cluster is left out (targets 1, 2, 3, 7, 8 about 4.2: 36.3 of 38.8)."""
    labelings = {"apart": np.array([0, 0, 0, 1, 1, 1]), "mixed": np.array([0, 1, 0, 1, 0, 1]),
                 "one_out": np.array([0, 0, 0, 1, 1, -1])}
    table = purity_table(labelings, np.zeros(6, int), TARGETS)
    assert list(table.columns) == ["method", "explained_variance", "assigned", "n_assigned", "n_clusters"]
    # "mixed": means (1 + 3 + 8) / 3 = 4 and (2 + 7 + 9) / 3 = 6, between 3 + 3 = 6 of 58.
    assert table["explained_variance"].tolist() == pytest.approx([54 / 58, 6 / 58, 36.3 / 38.8])
    assert table["assigned"].tolist() == pytest.approx([1, 1, 5 / 6])
    assert table["n_clusters"].tolist() == [2, 2, 2]


def test_layer_flow_of_a_regressor_has_explained_variance_and_the_same_agreement():
    labelings = {"hidden_1": np.array([0, 0, 0, 1, 1, -1]), "output": np.array([0, 0, 0, 1, 1, 1])}
    classes = np.array([0, 0, 0, 1, 1, 1])
    regression, classification = flow.layer_flow(labelings, classes, TARGETS), flow.layer_flow(labelings, classes)
    assert "purity" not in regression and regression["explained_variance"].tolist() == pytest.approx(
        [36.3 / 38.8, 54 / 58])
    shared = [c for c in classification.columns if c != "purity"]
    assert list(regression.columns) == [c if c != "purity" else "explained_variance" for c in classification.columns]
    pd.testing.assert_frame_equal(regression[shared], classification[shared])


# --- the ridge probe ---------------------------------------------------------------------------------

def ridge_r2_by_hand(X, targets, fit_mask, alpha):
    """R^2 on the fitting and held-out halves of a ridge regression with an unpenalised intercept, solved as
    least squares (numpy's lstsq) of the centred targets on the standardised features stacked over
    sqrt(alpha) times the identity."""
    mean, std = X[fit_mask].mean(axis=0), X[fit_mask].std(axis=0)
    std[std == 0] = 1
    Z = (X - mean) / std  # centred on the fitting half already
    offset = targets[fit_mask].mean(axis=0)
    A = np.vstack([Z[fit_mask], np.sqrt(alpha) * np.eye(Z.shape[1])])
    b = np.vstack([targets[fit_mask] - offset, np.zeros((Z.shape[1], targets.shape[1]))])
    predicted = Z @ np.linalg.lstsq(A, b, rcond=None)[0] + offset

    def r2(half):
        residual = ((targets[half] - predicted[half]) ** 2).sum(axis=0)
        total = ((targets[half] - targets[half].mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1 - residual / total))

    return r2(fit_mask), r2(~fit_mask)


def test_ridge_probe_is_the_least_squares_of_the_augmented_system():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5)) * [1, 2, 3, 0.5, 1] + 4
    X[:, 3] = 2.0  # a dead unit: only centred
    targets = np.column_stack([X[:, 0] - 0.5 * X[:, 2], X[:, 1] ** 2]) + rng.normal(0, 0.3, (60, 2))
    fit_mask = flow.probe_halves(60, 3)
    table = flow.linear_probe({"hidden_1": X, "output": X[:, :2]}, np.zeros(60, int), fit_mask, targets=targets)
    assert list(table.columns) == ["layer", "depth", "probe_train_r2", "probe_r2"]
    for row, features in zip(table.itertuples(), (X, X[:, :2])):
        train, held_out = ridge_r2_by_hand(features, targets, fit_mask, flow.PROBE_ALPHA)
        assert row.probe_train_r2 == pytest.approx(train, abs=1e-10)
        assert row.probe_r2 == pytest.approx(held_out, abs=1e-10)


def test_ridge_probe_reads_a_linear_target_and_not_noise():
    """A target linear in the features is read almost perfectly on the held-out half; one independent of
    them scores about 0 (below it, held out)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8))
    fit_mask = flow.probe_halves(400, 0)
    linear = flow.linear_probe({"layer": X}, np.zeros(400, int), fit_mask, targets=X @ rng.normal(size=8))
    noise = flow.linear_probe({"layer": X}, np.zeros(400, int), fit_mask, targets=rng.normal(size=400))
    assert linear["probe_r2"].item() > 0.999
    assert -0.1 < noise["probe_r2"].item() < 0.02 and noise["probe_train_r2"].item() < 0.1


# --- the stages on a regressor's files ---------------------------------------------------------------

N = 120


@pytest.fixture(scope="module")
def regressor(tmp_path_factory):
    """A small ReLU network's activations on points of the square with target sin(pi x) + y (level sets of
    four), and a clustering of its hidden layer by quadrant: the files of a regressor as recording writes them."""
    folder = tmp_path_factory.mktemp("regressor")
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (N, 2))
    targets = (np.sin(np.pi * x[:, 0]) + x[:, 1])[:, None]
    hidden = np.maximum(x @ rng.normal(size=(2, 6)) + rng.normal(size=6), 0)
    output = hidden @ rng.normal(size=(6, 1)) * 0.3
    levels = tasks.levels_of(targets, 4)
    points = {"split": "test", "of": N, "n": N, "seed": 0, "subsample": False}
    attrs = store.provenance("waves", "mlp6-none-s0", 0, {}, points=json.dumps(points), task=tasks.REGRESSION,
                             level_sets=json.dumps(levels))
    activations = folder / "activations.h5"
    store.write_activations(activations, [hidden], output, tasks.level_sets(targets, levels),
                            tasks.level_sets(output, levels), attrs, targets=targets)
    paths = {}
    for method, labels in (("quadrant", 2 * (x[:, 0] > 0) + (x[:, 1] > 0)), ("halves", (x[:, 0] > 0).astype(int))):
        paths[method] = folder / f"{method}.h5"
        store.write_clusters(paths[method], labels, attrs=store.provenance(
            "waves", "mlp6-none-s0", 0, {}, space="hidden_1", method=method, points=json.dumps(points)))
    return activations, paths, x, targets


def test_the_stages_describe_a_regressors_clusters_by_its_error_and_target(regressor, tmp_path):
    activations, paths, _, targets = regressor
    acts = store.read_activations(activations)
    labels = store.read_clusters(paths["quadrant"]).labels
    out = {name: tmp_path / f"{name}.csv" for name in ("ranking", "table", "agreement", "flow", "contingency",
                                                        "probe")}
    analysis.rank_clusters(activations, paths["quadrant"], out["ranking"], out["table"],
                           {"layers": ["hidden_1"], "top_k": 2}, log=lambda _: None)
    analysis.agree(activations, [paths["quadrant"], paths["halves"]], out["agreement"], log=lambda _: None)
    analysis.layer_flow(activations, [paths["quadrant"]], out["flow"], out["contingency"], log=lambda _: None)
    analysis.probe_layers(activations, out["probe"], ["hidden_1", "output"], seed=0, log=lambda _: None)
    tables = {name: pd.read_csv(path) for name, path in out.items()}

    table = tables["table"]
    assert list(table.columns[table.columns.get_loc("cluster"):]) == [
        "cluster", "size", "mse", "relative_l2", "target_mean", "target_std", "majority_label", "majority_share",
        "count_0", "count_1", "count_2", "count_3"]
    for row in table.itertuples():  # each cluster's numbers straight from the arrays
        members = labels == row.cluster
        error = acts.output[members, 0].astype(np.float64) - targets[members, 0]
        assert row.size == members.sum()
        assert row.mse == pytest.approx(np.mean(error ** 2), rel=1e-12)
        assert row.relative_l2 == pytest.approx(np.linalg.norm(error) / np.linalg.norm(targets[members]), rel=1e-12)
        assert row.target_mean == pytest.approx(targets[members].mean(), rel=1e-12)
        assert row.target_std == pytest.approx(targets[members].std(), rel=1e-12)
        assert [getattr(row, f"count_{i}") for i in range(4)] == np.bincount(acts.labels[members], minlength=4).tolist()

    def eta_squared(partition):
        groups = [targets[partition == c, 0] for c in np.unique(partition)]
        between = sum(len(g) * (g.mean() - targets.mean()) ** 2 for g in groups)
        return between / ((targets - targets.mean()) ** 2).sum()

    quadrant = tables["agreement"].query("method_a == 'quadrant' and method_b == 'quadrant'")
    assert quadrant["explained_variance"].item() == pytest.approx(eta_squared(labels), rel=1e-12)
    assert tables["flow"]["explained_variance"].item() == pytest.approx(eta_squared(labels), rel=1e-12)
    assert "purity" not in tables["agreement"] and "purity" not in tables["flow"]

    fit_mask = flow.probe_halves(N, 0)
    for row, features in zip(tables["probe"].itertuples(), (acts.hidden[0], acts.output)):
        train, held_out = ridge_r2_by_hand(features.astype(np.float64), targets, fit_mask, flow.PROBE_ALPHA)
        assert (row.probe_train_r2, row.probe_r2) == pytest.approx((train, held_out), abs=1e-10)
    assert tables["probe"]["probe_r2"].iloc[-1] < 1  # the output is not fitted: a random network


def test_seed_stability_of_a_regressor_composes_over_its_level_sets(regressor, tmp_path):
    """Two seeds' clusterings: their compositions are over the four level sets; the same partition with other
    cluster ids matches with no distance."""
    activations, paths, _, _ = regressor
    clusters = store.read_clusters(paths["quadrant"])
    seeds = []
    for seed, labels in ((0, clusters.labels), (1, 3 - clusters.labels)):
        seeds.append(tmp_path / f"s{seed}.h5")
        store.write_clusters(seeds[-1], labels, attrs={**clusters.attrs, "model": f"mlp6-none-s{seed}"})
    analysis.seed_stability(seeds, activations, tmp_path / "seeds.csv", log=lambda _: None)
    row = pd.read_csv(tmp_path / "seeds.csv").iloc[0]
    assert (row["ari"], row["mean_tv"], row["same_majority"]) == (1.0, 0.0, 1.0)


# --- the study's summary -----------------------------------------------------------------------------

def test_the_model_table_reports_a_regressors_error_where_a_classifiers_accuracy_is():
    from nntopo.analysis.summary import model_table

    classifier = {"model": "mlp4-none-s0", "test_accuracy": 0.9, "weight_l2_norm": 2.0}
    regressor = {"model": "mlp8-none-s0", "test_mse": 0.01, "test_relative_l2": 0.1, "weight_l2_norm": 3.0}
    assert list(model_table([classifier])) == ["model", "test_accuracy", "weight_l2_norm"]  # as before
    assert list(model_table([regressor])) == ["model", "test_mse", "test_relative_l2", "weight_l2_norm"]
    both = model_table([regressor, classifier])
    assert list(both) == ["model", "test_accuracy", "test_mse", "test_relative_l2", "weight_l2_norm"]
    assert np.isnan(both["test_accuracy"][0]) and both["test_mse"].isna().tolist() == [False, True]
