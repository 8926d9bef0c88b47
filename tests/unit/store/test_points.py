"""data.h5 (nntopo.store.points): a prepared dataset's splits, written split by split in batches and
moved into place only when whole; read back strictly, the training split only when asked."""

import h5py
import numpy as np
import pytest

from nntopo.store import StoreError
from nntopo.store.points import data_writer, read_data


def write(path, x_train, x_test, attrs=None, batch=3):
    with data_writer(path) as writer:
        for split, x in (("train", x_train), ("test", x_test)):
            writer.write_split(split, x.shape, (x[i:i + batch] for i in range(0, len(x), batch)), np.arange(len(x)) % 2)
        writer.set_attrs(attrs or {"dataset": "own"})


def test_batches_written_and_read_back(tmp_path):
    x_train, x_test = np.arange(40, dtype=np.float32).reshape(10, 4), np.ones((4, 4), np.float32)
    write(tmp_path / "data.h5", x_train, x_test, {"dataset": "own", "input_shape": "[4]"})
    arrays, attrs = read_data(tmp_path / "data.h5")
    assert np.array_equal(arrays["x_train"], x_train) and arrays["x_train"].dtype == np.float32
    assert np.array_equal(arrays["y_test"], [0, 1, 0, 1]) and arrays["y_test"].dtype == np.int64
    assert attrs == {"dataset": "own", "input_shape": "[4]"}
    assert list(arrays) == ["x_train", "y_train", "x_test", "y_test"]
    test_only = read_data(tmp_path / "data.h5", train=False)[0]
    assert test_only["x_train"].shape == (0, 4) and len(test_only["y_train"]) == 0
    assert np.array_equal(test_only["x_test"], x_test)


def test_a_failure_while_writing_leaves_no_file(tmp_path):
    def failing():
        yield np.zeros((2, 3), np.float32)
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError), data_writer(tmp_path / "data.h5") as writer:
        writer.write_split("train", (5, 3), failing(), np.zeros(5))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="x_train: 2 points written, 5 announced"), data_writer(tmp_path / "d.h5") as w:
        w.write_split("train", (5, 3), [np.zeros((2, 3), np.float32)], np.zeros(5))
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_file_is_refused(tmp_path):
    write(tmp_path / "nan.h5", np.full((3, 2), np.nan, np.float32), np.zeros((2, 2), np.float32))
    with pytest.raises(StoreError, match="nan.h5: x_train holds NaN or infinity; delete the file"):
        read_data(tmp_path / "nan.h5")
    with h5py.File(tmp_path / "short.h5", "w") as h5:
        for name, value in (("x_train", np.zeros((3, 2))), ("y_train", np.zeros(2, int)),
                            ("x_test", np.zeros((1, 2))), ("y_test", np.zeros(1, int))):
            h5[name] = value
    with pytest.raises(StoreError, match="short.h5: x_train has 3 points but y_train 2 labels"):
        read_data(tmp_path / "short.h5")
    h5py.File(tmp_path / "empty.h5", "w").close()
    with pytest.raises(StoreError, match="empty.h5: missing dataset 'x_train'"):
        read_data(tmp_path / "empty.h5")


def test_a_regressions_targets_are_written_and_read_beside_its_points(tmp_path):
    """A regression's data.h5 holds targets_train and targets_test (N x d float64) beside its level sets; the
    training split's are left empty with train=False; a regression's file without them is refused."""
    from nntopo.store.points import data_writer

    targets = {"train": np.arange(6.0).reshape(3, 2), "test": np.array([[0.5, -1.0]])}
    with data_writer(tmp_path / "data.h5") as writer:
        for split, n in (("train", 3), ("test", 1)):
            writer.write_split(split, (n, 2), [np.zeros((n, 2), np.float32)], np.zeros(n, int), targets[split])
        writer.set_attrs({"task": "regression", "level_sets": "{}"})
    arrays, attrs = read_data(tmp_path / "data.h5")
    assert attrs["task"] == "regression"
    assert arrays["targets_train"].dtype == np.float64 and np.array_equal(arrays["targets_train"], targets["train"])
    assert np.array_equal(arrays["targets_test"], targets["test"])
    arrays, _ = read_data(tmp_path / "data.h5", train=False)
    assert arrays["targets_train"].shape == (0, 2) and np.array_equal(arrays["targets_test"], targets["test"])
    with h5py.File(tmp_path / "data.h5", "a") as h5:
        del h5["targets_test"]
    with pytest.raises(StoreError, match="missing dataset 'targets_test'"):
        read_data(tmp_path / "data.h5")
