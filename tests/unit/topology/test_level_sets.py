"""A regression's homology (issue 27): its level sets are measured where a classifier's classes are.

A circle whose target is its height y: three level sets (the terciles of y) are the bottom arc (one
component), the two side arcs at middle heights (two components) and the top arc (one), none with a loop,
while the whole circle has one component and one loop: it is measured after the level sets, as one more
"class" named all. The model stage carries the level sets' names and
refuses an input file of other level sets; the summary gives each model's error where it gives accuracy.
The circle goes through the real preparation of a user's arrays dataset (task: regression).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nntopo import store
from nntopo import task as tasks
from nntopo.config import ConfigError
from nntopo.store import StoreError
from nntopo.topology import stage

SETTINGS = {"k": 4, "epsilon": 2, "maxdim": 1, "points_per_class": None, "diagram_points": 12, "seed": 0}
N = 120


def circle_with_height():
    t = 2 * np.pi * (np.arange(N) + 0.5) / N  # no point at the terciles' edges
    points = np.column_stack([np.cos(t), np.sin(t)]) + np.random.default_rng(0).normal(0, 1e-3, (N, 2))
    return points, points[:, 1:]  # the target: the height


def test_each_level_set_of_the_height_on_a_circle_has_its_arcs():
    points, height = circle_with_height()
    levels = tasks.levels_of(height, 3)
    labels = tasks.level_sets(height, levels)
    assert np.bincount(labels).tolist() == [40, 40, 40]
    whole = stage.measure(points, np.arange(0, N, 10), SETTINGS, "whole", log=lambda _: None)
    assert whole.betti[-1].tolist() == [1, 1]
    chosen = stage.homology_points(labels, SETTINGS, "level set")
    betti = {c: stage.measure(points[idx], np.arange(10), SETTINGS, f"level set {c}", log=lambda _: None).betti[-1]
             for c, idx in chosen.items()}
    assert {c: b.tolist() for c, b in betti.items()} == {0: [1, 0], 1: [2, 0], 2: [1, 0]}


def test_too_many_points_of_a_level_set_says_level_set():
    with pytest.raises(ConfigError, match=r"^homology.points_per_class: 5 is more than the 3 analysed points of "
                                        r"level set 1;"):
        stage.homology_points(np.array([0, 0, 0, 0, 0, 1, 1, 1]), {**SETTINGS, "points_per_class": 5}, "level set")


def prepared_ring(folder):
    """The circle as a user's arrays dataset with task regression and three level sets (both splits the
    circle), prepared as the workflow does; its data.h5."""
    from nntopo.data.prepare import prepare

    points, height = circle_with_height()
    np.savez(folder / "ring.npz", x_train=points, y_train=height[:, 0], x_test=points, y_test=height[:, 0])
    entry = {"name": "ring", "kind": "arrays", "path": str(folder / "ring.npz"), "task": "regression",
             "level_sets": 3, "scaling": "none"}
    prepare(entry, ".", False, folder / "data.h5", folder / "dataset.json", log=lambda _: None)
    return folder / "data.h5"


def test_the_input_of_a_regression_dataset_is_measured_per_level_set(tmp_path):
    logged = []
    result = stage.input_homology("ring", {**SETTINGS, "diagram_points": 10}, tmp_path / "input.h5", data_dir=".",
                                  data_file=prepared_ring(tmp_path), log=logged.append)
    _, height = circle_with_height()
    levels = tasks.levels_of(height, 3)
    assert (result.attrs["task"], json.loads(result.attrs["level_sets"])) == (tasks.REGRESSION, levels)
    assert json.loads(result.attrs["class_names"]) == [*tasks.level_set_names(levels), "all"]
    assert [measured.betti[-1].tolist() for measured in result.layers["input"].values()] == [
        [1, 0], [2, 0], [1, 0], [1, 1]]
    assert np.array_equal(result.points[3], np.arange(N))  # the whole: every level set's points
    assert sum(line.startswith("input, level set ") for line in logged) == 3
    assert sum(line.startswith("input, all points: betti [1, 1]") for line in logged) == 1


def regression_files(folder, levels_of_activations=None):
    """The ring's input homology, and a regressor's activations on it (hidden: the points doubled, output:
    the height), their level sets those of ``levels_of_activations`` (the dataset's by default)."""
    settings = {**SETTINGS, "diagram_points": 10}
    first = stage.input_homology("ring", settings, folder / "input.h5", data_dir=".", data_file=prepared_ring(folder),
                                 log=lambda _: None)
    levels = levels_of_activations or json.loads(first.attrs["level_sets"])
    points, height = circle_with_height()
    labels = tasks.level_sets(height, levels)
    every = json.loads(first.attrs["points"])  # the points the input measured: every test point
    store.write_activations(folder / "activations.h5", [2 * points], height, labels, labels,
                            store.provenance("ring", "mlp2-none-s0", 0, {}, points=json.dumps(every),
                                             task=tasks.REGRESSION, level_sets=json.dumps(levels)), targets=height)
    return settings, SimpleNamespace(data=folder / "homology.h5", table=folder / "homology.csv")


def test_a_regressors_layers_are_measured_per_level_set(tmp_path):
    settings, outputs = regression_files(tmp_path)
    logged = []
    result = stage.model_homology(tmp_path / "activations.h5", tmp_path / "input.h5", settings, outputs,
                                  log=logged.append)
    _, height = circle_with_height()
    levels = tasks.levels_of(height, 3)
    assert (result.attrs["task"], json.loads(result.attrs["level_sets"])) == (tasks.REGRESSION, levels)
    assert any(line.startswith("hidden_1, level set ") for line in logged)
    table = pd.read_csv(outputs.table)
    hidden = table[table["layer"] == "hidden_1"]
    assert hidden["class_name"].tolist() == [*tasks.level_set_names(levels), "all"]
    assert hidden["b0"].tolist() == [1, 2, 1, 1] and hidden["b1"].tolist() == [0, 0, 0, 1]  # twice the circle
    assert (table[table["layer"] == "output"]["b1"] == 0).all()  # the height alone: intervals, no loop


def test_an_input_file_of_other_level_sets_is_refused(tmp_path):
    _, height = circle_with_height()
    other = {**tasks.levels_of(height, 3), "edges": [-0.4, 0.4]}
    settings, outputs = regression_files(tmp_path, other)
    with pytest.raises(StoreError, match="not of the same task and level sets; delete .*input.h5") as error:
        stage.model_homology(tmp_path / "activations.h5", tmp_path / "input.h5", settings, outputs)
    assert "\n" not in str(error.value)


def test_the_summary_gives_a_regressors_errors_where_a_classifiers_accuracy_is(tmp_path):
    tables = []
    for model in ("mlp2-none-s0", "mlp3-none-s0"):
        tables.append(tmp_path / f"{model}.csv")
        pd.DataFrame({"dataset": ["ring"], "model": [model], "layer": ["input"], "depth": [0], "class": [0],
                      "class_name": ["< 0"], "b0": [1]}).to_csv(tables[-1], index=False)
    scores = {"mlp2-none-s0": stage._scores({"task": "regression", "train_mse": 0.5, "test_mse": 0.25,
                                             "test_relative_l2": 0.1}),
              "mlp3-none-s0": stage._scores({"test_accuracy": 0.9, "epochs": [{"train_accuracy": 0.95}]})}
    summary = stage.tables_with_scores(tables, scores)
    assert list(summary.columns) == ["dataset", "model", "layer", "depth", "class", "class_name", "train_mse",
                                     "test_mse", "test_relative_l2", "train_accuracy", "test_accuracy", "b0"]
    assert summary.iloc[0][["train_mse", "test_mse", "test_relative_l2"]].tolist() == [0.5, 0.25, 0.1]
    assert summary.iloc[1][["train_accuracy", "test_accuracy"]].tolist() == [0.95, 0.9]
    assert summary.iloc[0][["train_accuracy", "test_accuracy"]].isna().all()
    assert summary.iloc[1][["train_mse", "test_mse", "test_relative_l2"]].isna().all()
