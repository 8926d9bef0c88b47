"""A regression study end to end (issue 27; docs/guides/regression.md): an arrays dataset of 600 training and
400 test points of the square [-1, 1]^2 with the target sin(pi x) sin(pi y), one grid MLP [32], k-means.
Every regression file and table is made, with its regression columns, and their numbers are recomputed
from activations.h5 (the outputs, the targets) and the clusters: the test MSE, each cluster's error and
mean target, the error before silencing, the explained variance of the flow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nntopo import paths, store
from nntopo import task as tasks
from tests.workflow import reliability

pytestmark = pytest.mark.workflow

LEVEL_SETS = 5
WAVE = {"name": "wave", "kind": "arrays", "path": "wave.npz", "task": "regression", "level_sets": LEVEL_SETS,
        "scaling": "none"}
MODEL = "mlp32-none-s0"
STUDY = {
    "datasets": [WAVE],
    "widths": [32],
    "regularizations": ["none"],
    "training": {"epochs": 3, "batch_size": 32, "lr": 0.01},
    "device": "cpu",
    "clustering": {"methods": ["kmeans"], "top_k": 4, "kmeans": {"n_clusters": 5}},
    "ablation": {"n_random": 20},
}


def wave(x: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])


def where(workdir: Path, pattern: str, **more) -> Path:
    return workdir / paths.fill(pattern, dataset="wave", model=MODEL, **more)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    workdir = reliability.prepare(tmp_path_factory.mktemp("regression"), STUDY)
    rng = np.random.default_rng(0)
    x_train, x_test = rng.uniform(-1, 1, (600, 2)), rng.uniform(-1, 1, (400, 2))
    np.savez(workdir / "wave.npz", x_train=x_train, y_train=wave(x_train), x_test=x_test, y_test=wave(x_test))
    # Every job that can run does (--keep-going): each test below checks its own stage's files.
    done = reliability.run(workdir, "--keep-going", check=False)
    return workdir, done


def test_the_whole_study_runs(study):
    _, done = study
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


@pytest.fixture(scope="module")
def acts(study):
    return store.read_activations(where(study[0], paths.ACTIVATIONS))


def test_the_dataset_and_the_networks_files_are_a_regressions(study, acts):
    study = study[0]
    record = json.loads((study / paths.DATASET_RECORD.format(dataset="wave")).read_text())
    assert record["task"] == "regression" and record["targets"] == 1 and record["level_sets"]["n"] == LEVEL_SETS
    with np.load(study / "wave.npz") as stored:
        assert np.array_equal(acts.targets[:, 0], wave(stored["x_test"]))
    assert acts.task == "regression" and acts.output.shape == (400, 1)
    assert np.array_equal(acts.labels, tasks.level_sets(acts.targets, acts.levels))
    assert np.array_equal(acts.predictions, tasks.level_sets(acts.output, acts.levels))
    metrics = json.loads(where(study, paths.METRICS).read_text())
    assert not any("accuracy" in key for key in metrics)
    # Every test point is analysed: the recorded outputs give the test scores.
    assert metrics["task"] == "regression" and metrics["test_mse"] == tasks.mse(acts.output, acts.targets)
    assert metrics["test_relative_l2"] == tasks.relative_l2(acts.output, acts.targets)


def test_the_cluster_summary_reports_the_error_and_the_target(study, acts):
    study = study[0]
    clusters = store.read_clusters(where(study, paths.CLUSTERS, layer="hidden_1", method="kmeans"))
    table = pd.read_csv(where(study, paths.CLUSTER_TABLE, layer="hidden_1", method="kmeans"))
    assert {"mse", "relative_l2", "target_mean", "target_std", *(f"count_{i}" for i in range(LEVEL_SETS))} \
        <= set(table.columns)
    assert "accuracy" not in table.columns
    for row in table.itertuples():
        members = clusters.labels == row.cluster
        assert row.size == members.sum()
        assert row.mse == pytest.approx(tasks.mse(acts.output[members], acts.targets[members]))
        assert row.target_mean == pytest.approx(acts.targets[members, 0].mean())
        counts = np.bincount(acts.labels[members], minlength=LEVEL_SETS)
        assert [getattr(row, f"count_{i}") for i in range(LEVEL_SETS)] == counts.tolist()


def test_the_ablation_reports_the_rise_of_the_error(study, acts):
    study = study[0]
    clusters = store.read_clusters(where(study, paths.CLUSTERS, layer="hidden_1", method="kmeans"))
    table = pd.read_csv(where(study, paths.ABLATION, layer="hidden_1", method="kmeans"))
    assert {"mse_cluster_before", "mse_cluster_after", "rise", "other_rise", "specificity", "random_mean",
            "random_rise_mean", "p_value"} <= set(table.columns)
    for row in table.itertuples():
        members = clusters.labels == row.cluster
        assert row.mse_cluster_before == pytest.approx(tasks.mse(acts.output[members], acts.targets[members]), rel=1e-5)
        assert row.rise == pytest.approx(row.mse_cluster_after - row.mse_cluster_before)
        assert 1 / 21 <= row.p_value <= 1


def test_flow_and_probe_use_the_targets_variance(study, acts):
    study = study[0]
    clusters = store.read_clusters(where(study, paths.CLUSTERS, layer="hidden_1", method="kmeans"))
    flow = pd.read_csv(where(study, paths.FLOW, method="kmeans"))
    assert "explained_variance" in flow.columns and "purity" not in flow.columns
    hidden = flow[flow.layer == "hidden_1"] if "layer" in flow.columns else flow.iloc[:1]
    assert hidden.explained_variance.iloc[0] == pytest.approx(tasks.explained_variance(clusters.labels, acts.targets))
    probe = pd.read_csv(where(study, paths.PROBE))
    assert {"probe_train_r2", "probe_r2"} <= set(probe.columns)
    summary = pd.read_csv(study / paths.SUMMARY_TABLE.format(dataset="wave"))
    assert summary.test_mse.iloc[0] == pytest.approx(tasks.mse(acts.output, acts.targets))
