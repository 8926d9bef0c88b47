"""A regression dataset (an arrays file with task: regression): its real targets prepared into data.h5 and
dataset.json with the level sets that stand in for its classes (worked by hand here), read back by
data.load and the analysed points, peeked at before preparing with the same facts, and every bad input
one line naming the file and the fix, leaving nothing written."""

import json

import numpy as np
import pytest

from nntopo import data, datasets
from nntopo.data import DataError, sources
from nntopo.data.points import analysed, recorded
from nntopo.data.prepare import prepare

REGRESSION_KEYS = ["entry", "input_shape", "classes", "points", "smallest_class", "task", "targets", "target_names",
                   "level_sets", "scaling", "sources", "versions"]


def write(tmp_path, y_train, y_test, n_features=2, **more):
    rng = np.random.default_rng(0)
    path = tmp_path / "reg.npz"
    np.savez(path, x_train=rng.normal(size=(len(y_train), n_features)), y_train=y_train,
             x_test=rng.normal(size=(len(y_test), n_features)), y_test=y_test, **more)
    return path


def entry_of(path, level_sets=4, **more):
    return {"name": "reg", "kind": "arrays", "path": str(path), "task": "regression", "level_sets": level_sets,
            "scaling": "unit", **more}


def run(entry, tmp_path):
    out = tmp_path / "results" / "reg"
    info = prepare(entry, ".", False, out / "data.h5", out / "dataset.json", log=lambda line: None)
    return info, json.loads((out / "dataset.json").read_text()), out / "data.h5"


def test_targets_prepared_with_level_sets_worked_by_hand(tmp_path):
    # Eight training targets 0..7 in four level sets: the inner quantiles of 0..7 are 1.75, 3.5 and
    # 5.25, so two targets fall in each set; test targets 0.5, 3.5 (on an edge: the upper set) and 9.
    path = write(tmp_path, np.arange(8.0), np.array([0.5, 3.5, 9.0]), target_names=np.array(["height"]))
    info, record, h5 = run(entry_of(path), tmp_path)
    assert list(record) == REGRESSION_KEYS
    assert record["task"] == "regression" and record["targets"] == 1 and record["target_names"] == ["height"]
    assert record["level_sets"]["edges"] == [1.75, 3.5, 5.25] and record["level_sets"]["n"] == 4
    assert record["classes"] == ["< 1.75", "1.75 to 3.5", "3.5 to 5.25", ">= 5.25"]
    assert record["smallest_class"] == {"train": 2, "test": 0}  # the test split has no point in 1.75 to 3.5
    assert info.task == "regression" and info.n_outputs == 1 and info.levels == record["level_sets"]
    assert info.classes == tuple(record["classes"]) and info.target_names == ("height",)
    loaded = data.load("reg", data_file=h5)
    assert loaded.task == "regression" and loaded.n_outputs == 1 and loaded.n_classes == 4
    assert np.array_equal(loaded.targets_train, np.arange(8.0)[:, None])
    assert np.array_equal(loaded.targets_test, [[0.5], [3.5], [9.0]])
    assert loaded.y_train.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and loaded.y_test.tolist() == [0, 2, 3]
    assert data.load("reg", data_file=h5, train=False).targets_train.shape == (0, 1)


def test_several_targets_follow_the_points(tmp_path):
    # d = 2 targets along one direction: their first principal component orders them as t does.
    t = np.linspace(-1, 1, 40)
    y_train, y_test = np.stack([t, 2 * t], axis=1), np.stack([t[::4], 2 * t[::4]], axis=1)
    info, record, h5 = run(entry_of(write(tmp_path, y_train, y_test), level_sets=5), tmp_path)
    assert record["targets"] == 2 and record["target_names"] is None and info.n_outputs == 2
    assert record["smallest_class"]["train"] == 8  # 40 targets in 5 balanced level sets
    loaded = data.load("reg", data_file=h5)
    assert loaded.y_train.tolist() == np.repeat(np.arange(5), 8).tolist()
    chosen = analysed(loaded, {"split": "train", "points": 10, "seed": 3})
    assert np.array_equal(chosen.targets, y_train[chosen.index]) and np.array_equal(chosen.y, loaded.y_train[chosen.index])
    again = recorded(loaded, "test", [1, 4])
    assert np.array_equal(again.targets, y_test[[1, 4]])
    assert analysed(loaded, {"split": "test", "points": None, "seed": 0}).targets is loaded.targets_test


def test_integer_targets_are_a_regressions_too(tmp_path):
    _, record, h5 = run(entry_of(write(tmp_path, np.arange(12), np.arange(6)), level_sets=3), tmp_path)
    assert record["level_sets"]["edges"] == [11 / 3, 22 / 3]
    assert data.load("reg", data_file=h5).targets_test.dtype == np.float64


def test_peek_tells_the_records_facts(tmp_path):
    path = write(tmp_path, np.sin(np.arange(30.0)), np.cos(np.arange(10.0)))
    peeked = sources.peek(entry_of(path), tmp_path)
    _, record, _ = run(entry_of(path), tmp_path)
    assert peeked == {key: record[key] for key in peeked}
    assert datasets.from_record(entry_of(path), {**peeked, "entry": entry_of(path)}).n_outputs == 1


def test_a_classifications_labels_keep_their_record(tmp_path):
    path = write(tmp_path, np.arange(8) % 2, np.arange(4) % 2)
    _, record, h5 = run({**entry_of(path), "task": "classification"}, tmp_path)
    assert "task" not in record and record["classes"] == ["0", "1"]
    loaded = data.load("reg", data_file=h5)
    assert loaded.task == "classification" and loaded.targets_train is None and loaded.n_outputs == 2
    assert analysed(loaded, {"split": "test", "points": None, "seed": 0}).targets is None


@pytest.mark.parametrize(("y_train", "y_test", "task", "message"), [
    (np.arange(8.0), np.array([0.0, np.nan, 1.0, np.inf]), "regression",
     "y_test holds 2 targets with NaN or infinite values (the first at point 1); remove those points or give finite"),
    (np.ones((8, 2)), np.ones((4, 3)), "regression", "y_test has 3 targets a point but y_train 2"),
    (np.ones((8, 2, 2)), np.ones((4, 2, 2)), "regression", "y_train has shape (8, 2, 2); give a regression's targets"),
    (np.arange(3.0), np.arange(4.0), "regression", "3 training points cannot make 4 level sets"),
    (np.arange(8) / 2, np.arange(4) / 2, "classification",
     ("y_train is float64, not integers; labels are class numbers 0..C-1 stored as integers (y.astype(int)), or, for "
      "real-valued targets, set task: regression in the dataset's entry")),
])
def test_bad_targets_are_one_line_and_leave_nothing(tmp_path, y_train, y_test, task, message):
    path = write(tmp_path, y_train, y_test)
    entry = {**entry_of(path), "task": task}
    for look in (lambda: sources.peek(entry, tmp_path), lambda: run(entry, tmp_path)):
        with pytest.raises(DataError) as error:
            look()
        assert str(error.value).startswith(f"{path}: {message}")
        assert "\n" not in str(error.value)
    assert not any((tmp_path / "results" / "reg").glob("*.h5")) and not (tmp_path / "results/reg/dataset.json").exists()


def test_target_names_must_name_each_target(tmp_path):
    path = write(tmp_path, np.ones((8, 2)), np.ones((4, 2)), target_names=np.array(["u"]))
    with pytest.raises(DataError, match="target_names names 1 targets but y_train has 2 a point; give one name a target"):
        run(entry_of(path), tmp_path)
