"""End to end: training with restarts (config `trials`) on a small XOR of 2-D points, where a 4-unit
network reaches zero training error within 40 epochs for some seeds and not others (deterministic on
CPU: seeds 0 and 2 succeed, 1 and 3 fail). Only the kept networks go on to homology; seeds past the
needed ones never train; a wider wave trains more seeds and keeps the same ones."""

import json

import numpy as np
import pandas as pd
import pytest

from nntopo import paths
from nntopo.workflow import trials
from tests.workflow.test_workflow import snakemake

pytestmark = pytest.mark.workflow

XOR = {
    "datasets": [{"name": "xor", "kind": "arrays", "path": "own/xor.npz", "scaling": "none"}],
    "widths": [4],
    "regularizations": ["none"],
    "training": {"epochs": 40, "batch_size": 32, "lr": 0.05, "zero_error": {"every": 5}},
    "device": "cpu",
    "clustering": {"methods": [], "top_k": 2},
    "trials": {"successes": 2, "limit": 4, "wave": 1},
}


def xor_points(n, seed):
    """XOR of the signs of x and y, points within 0.15 of an axis left out (a margin to classify)."""
    x = np.random.default_rng(seed).uniform(-1, 1, (4 * n, 2))
    x = x[(np.abs(x) > 0.15).all(axis=1)][:n].astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int64)


def at(pattern, seed=None):
    return pattern.format(dataset="xor", **({} if seed is None else {"model": f"mlp4-none-s{seed}"}))


def tried(workdir):
    return pd.read_csv(workdir / at(paths.SUMMARY_TRIALS))


def test_only_the_kept_trials_are_measured_and_the_wave_keeps_the_same(tmp_path):
    (tmp_path / "own").mkdir()
    (x_train, y_train), (x_test, y_test) = xor_points(200, 0), xor_points(200, 1)
    np.savez(tmp_path / "own/xor.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    snakemake(tmp_path, XOR)

    # One seed at a time: a wave of 2 (both successes missing), 0 kept and 1 failed, then seed 2.
    table = tried(tmp_path)
    assert table["seed"].tolist() == [0, 1, 2] and table["kept"].tolist() == [True, False, True]
    for row in table.itertuples():
        metrics = json.loads((tmp_path / at(paths.METRICS, row.seed)).read_text())
        assert row.model == metrics["model"] and row.zero_training_error == metrics["zero_training_error"]
        assert row.train_error == metrics["train_error"] and row.epochs_trained == metrics["epochs_trained"]
        assert row.zero_training_error == (metrics["train_error"] == 0)
    assert set(table["stopped_by"].fillna("none")) == {"zero_error", "none"}  # seed 1 ran out of epochs
    log = (tmp_path / paths.fill(paths.DATASET_LOG, rule="trials_summary", dataset="xor")).read_text()
    assert "mlp4-none: 2 kept of 3 tried; failed: seed 1 (epochs ran out at epoch 40, training error" in log

    def measured(seed):
        return (tmp_path / at(paths.HOMOLOGY, seed)).exists()

    assert [measured(seed) for seed in range(4)] == [True, False, True, False]
    failed = tmp_path / at(paths.MODEL_DIR, 1)  # its training job's files and its outcome, nothing more
    assert sorted(path.name for path in failed.iterdir()) == ["activations.h5", "metrics.json", "model.pt",
                                                               "trial.json", "weights.h5"]
    assert not (tmp_path / at(paths.MODEL_DIR, 3)).exists()  # never needed, never trained
    models = pd.read_csv(tmp_path / at(paths.SUMMARY_HOMOLOGY))["model"]
    assert set(models) == {"mlp4-none-s0", "mlp4-none-s2"}

    # A wave of 4: seed 3 trains too (and fails); the kept seeds are the same, nothing more measured.
    snakemake(tmp_path, {**XOR, "trials": {**XOR["trials"], "wave": 4}})
    table = tried(tmp_path)
    assert table["seed"].tolist() == [0, 1, 2, 3] and table["kept"].tolist() == [True, False, True, False]
    assert not table["zero_training_error"][3] and [measured(seed) for seed in range(4)] == [True, False, True, False]
    outcomes = dict(zip(table["seed"], table["zero_training_error"]))
    assert trials.plan(outcomes, successes=2, limit=4, wave=1).kept == (0, 2)  # as one at a time
