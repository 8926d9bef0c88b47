"""The regression task's measures (nntopo.task) on hand-worked cases."""

import json

import numpy as np
import pytest

from nntopo import task


def test_explained_variance_of_a_hand_worked_partition():
    # Targets 1, 2, 3 | 7, 8, 9: the grand mean is 5; total SS = 16+9+4+4+9+16 = 58; the clusters' means
    # 2 and 8 give between SS = 3*9 + 3*9 = 54, so eta^2 = 54/58.
    labels = np.array([0, 0, 0, 1, 1, 1])
    targets = np.array([1.0, 2, 3, 7, 8, 9])
    assert task.explained_variance(labels, targets) == pytest.approx(54 / 58)
    # Points in no cluster are left out: the same partition with an outlier unassigned.
    assert task.explained_variance([*labels, -1], [*targets, 100.0]) == pytest.approx(54 / 58)
    # One cluster explains nothing; a cluster per point everything; constant targets are NaN.
    assert task.explained_variance(np.zeros(6, int), targets) == pytest.approx(0.0)
    assert task.explained_variance(np.arange(6), targets) == pytest.approx(1.0)
    assert np.isnan(task.explained_variance(labels, np.ones(6)))


def test_explained_variance_sums_over_the_targets_dimensions():
    labels = np.array([0, 0, 1, 1])
    targets = np.array([[0.0, 1], [2, 1], [4, 3], [6, 7]])
    # Column 1: total 20, between 16; column 2: total 24, between 16 (means 1 and 5 around 3).
    assert task.explained_variance(labels, targets) == pytest.approx(32 / 44)


def test_errors_mse_and_relative_l2_by_hand():
    targets = np.array([[1.0, 0.0], [0.0, 2.0]])
    outputs = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert task.point_errors(outputs, targets).tolist() == [1.0, 4.0]
    assert task.mse(outputs, targets) == pytest.approx(5 / 4)  # torch's MSELoss: over every value
    assert task.relative_l2(outputs, targets) == pytest.approx(np.sqrt(5) / np.sqrt(5))
    assert task.relative_l2(targets, targets) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        task.point_errors(outputs[:, :1], targets)


def test_level_sets_of_one_target_are_its_quantile_bins():
    values = np.arange(100, dtype=float)
    levels = task.levels_of(values, 4)
    assert levels["edges"] == pytest.approx([24.75, 49.5, 74.25])
    bins = task.level_sets(values, levels)
    assert np.bincount(bins).tolist() == [25, 25, 25, 25] and (np.diff(bins) >= 0).all()
    assert task.level_sets(np.array([49.5]), levels).tolist() == [2]  # on an edge: the upper set
    assert task.level_set_names(levels)[0] == "< 24.8" and task.level_set_names(levels)[-1] == ">= 74.2"
    assert json.loads(json.dumps(levels)) == levels  # stored as JSON in dataset.json and the files


def test_targets_of_several_dimensions_are_cut_along_their_first_principal_component():
    rng = np.random.default_rng(0)
    along = rng.normal(size=500)
    targets = np.column_stack([3 * along, -3 * along]) + rng.normal(scale=0.01, size=(500, 2)) + [5, 1]
    levels = task.levels_of(targets, 5)
    direction = np.asarray(levels["projection"]["direction"])
    assert abs(direction @ np.array([1, -1]) / np.sqrt(2)) == pytest.approx(1, abs=1e-3)
    assert direction.sum() >= 0  # signed to grow with the targets' sum
    assert np.bincount(task.level_sets(targets, levels)).tolist() == [100] * 5
    with pytest.raises(ValueError, match="at least 2 level sets"):
        task.levels_of(targets, 1)


def test_a_file_without_a_task_classifies():
    assert task.of_attrs({}) == task.CLASSIFICATION
    assert task.of_attrs({"task": "regression"}) == task.REGRESSION
    assert task.levels_from_attrs({}) is None
