"""The points a study analyses (nntopo.data.points): all of a split in order, or one seeded subsample drawn
without replacement and sorted; the same points back from their recorded indices."""

import json

import numpy as np
import pytest

from nntopo.data import DataError, Dataset
from nntopo.data.points import analysed, recorded, subsample


def dataset(n_train=30, n_test=20, train=True):
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(n_train, 4)).astype(np.float32), rng.normal(size=(n_test, 4)).astype(np.float32)
    y_train, y_test = np.arange(n_train) % 3, np.arange(n_test) % 3
    if not train:
        x_train, y_train = np.zeros((0, 4), np.float32), np.zeros(0, np.int64)
    return Dataset("own", x_train, y_train, x_test, y_test, (4,))


def test_all_points_in_order_without_a_copy():
    ds = dataset()
    points = analysed(ds, {"split": "test", "points": None, "seed": 0})
    assert np.array_equal(points.index, np.arange(20)) and points.index.dtype == np.int64
    assert points.x is ds.x_test and points.y is ds.y_test and points.of == 20 and not points.subsample
    assert points.describe() == "all 20 test points"
    assert json.loads(points.attrs()["points"]) == {"split": "test", "of": 20, "n": 20, "seed": 0, "subsample": False}
    assert analysed(ds, {"split": "test", "points": 25, "seed": 0}).x is ds.x_test  # more than there are: all


def test_a_seeded_subsample():
    ds = dataset(n_train=60_000 // 100)
    points = analysed(ds, {"split": "train", "points": 100, "seed": 7})
    expected = np.sort(np.random.default_rng(7).choice(600, 100, replace=False))
    assert np.array_equal(points.index, expected) and len(np.unique(points.index)) == 100
    assert (np.diff(points.index) > 0).all() and points.index.dtype == np.int64
    assert np.array_equal(points.x, ds.x_train[expected]) and np.array_equal(points.y, ds.y_train[expected])
    assert points.describe() == "100 of 600 train points, seed 7" and points.subsample
    assert json.loads(points.attrs()["points"]) == {"split": "train", "of": 600, "n": 100, "seed": 7, "subsample": True}
    again = analysed(ds, {"split": "train", "points": 100, "seed": 7})
    other = analysed(ds, {"split": "train", "points": 100, "seed": 8})
    assert np.array_equal(again.index, points.index) and not np.array_equal(other.index, points.index)
    assert analysed(dataset(n_test=12_345), {"split": "test", "points": 10_000, "seed": 0}).describe() == \
        "10,000 of 12,345 test points, seed 0"


def test_recorded_gives_the_same_points_back():
    ds = dataset()
    drawn = analysed(ds, {"split": "test", "points": 7, "seed": 3})
    back = recorded(ds, "test", drawn.index)
    assert np.array_equal(back.x, drawn.x) and np.array_equal(back.y, drawn.y) and back.of == 20
    assert back.describe() == "7 of 20 test points" and back.seed is None
    assert recorded(ds, "test", np.arange(20)).x is ds.x_test
    with pytest.raises(DataError, match="the recorded points reach index 20 but its test split has 20 points"):
        recorded(ds, "test", [3, 20])
    with pytest.raises(DataError, match="expected a 1-D integer array"):
        recorded(ds, "test", np.array([0.5]))


def test_the_training_split_must_be_loaded():
    with pytest.raises(ValueError, match="its training split was not loaded; load it with train=True"):
        analysed(dataset(train=False), {"split": "train", "points": None, "seed": 0})
    with pytest.raises(ValueError, match="split 'val' is not one of train, test"):
        analysed(dataset(), {"split": "val", "points": None, "seed": 0})


def test_subsample_bounds():
    assert np.array_equal(subsample(5, None, 0), np.arange(5)) and np.array_equal(subsample(5, 5, 1), np.arange(5))
    with pytest.raises(ValueError, match="points must be at least 1"):
        subsample(5, 0, 0)
