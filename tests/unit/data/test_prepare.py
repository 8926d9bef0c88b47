"""The preparing job (nntopo.data.prepare) writes data.h5 and the record dataset.json from each kind's
files; data.load reads the prepared dataset back with its input shape, classes and scaling; peek tells the
record's facts in advance; bad input is one line naming the file and the fix, and leaves nothing written."""

import hashlib
import json

import numpy as np
import pytest
import torchvision

from nntopo import data, datasets
from nntopo.config import ConfigError
from nntopo.data import DataError, sources
from nntopo.data.prepare import prepare
from nntopo.store.points import read_data
from tests.unit.data import formats
from tests.unit.data.test_torchvision import patch_cifar

RECORD_KEYS = ["entry", "input_shape", "classes", "points", "smallest_class", "scaling", "sources", "versions"]
FACTS = ("input_shape", "classes", "points", "smallest_class")


def run(entry, tmp_path, data_dir=".", config=None):
    out = tmp_path / "results" / entry["name"]
    logged = []
    info = prepare(entry, data_dir, False, out / "data.h5", out / "dataset.json", config=config, log=logged.append)
    return info, json.loads((out / "dataset.json").read_text()), out / "data.h5", logged


def colour_arrays(tmp_path, n_train=14, n_test=10, **more):
    x_train, x_test = formats.images(n_train, (5, 6, 3), 0), formats.images(n_test, (5, 6, 3), 1)
    y_train, y_test = formats.labels(n_train, 4, 0), formats.labels(n_test, 4, 1)
    return formats.write_npz(tmp_path / "colour.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                             **more)


def test_arrays_prepared_and_loaded(tmp_path):
    path = colour_arrays(tmp_path, class_names=["w", "x", "y", "z"])
    entry = {"name": "own", "kind": "arrays", "path": str(path), "channels_last": True, "scaling": "unit"}
    info, record, h5, logged = run(entry, tmp_path)
    assert list(record) == RECORD_KEYS and record["entry"] == entry
    assert record["input_shape"] == [3, 5, 6] and record["classes"] == ["w", "x", "y", "z"]
    assert record["points"] == {"train": 14, "test": 10}
    assert record["scaling"] == {"kind": "unit", "low": 0, "high": 255}
    assert record["sources"] == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    assert {"numpy", "h5py", "python"} <= set(record["versions"])
    assert info == datasets.from_record(entry, record) and info.known and info.input_shape == (3, 5, 6)
    loaded = data.load("own", data_file=h5)
    with np.load(path) as stored:
        for split in ("train", "test"):
            x = stored[f"x_{split}"].transpose(0, 3, 1, 2).reshape(len(stored[f"x_{split}"]), -1)
            assert np.array_equal(getattr(loaded, f"x_{split}"), x / np.float32(255))
            assert np.array_equal(getattr(loaded, f"y_{split}"), stored[f"y_{split}"])
    assert loaded.input_shape == (3, 5, 6) and loaded.channels == 3 and loaded.image_shape == (5, 6)
    assert loaded.classes == ("w", "x", "y", "z") and loaded.scaling == record["scaling"]
    attrs = read_data(h5)[1]
    assert attrs["dataset"] == "own" and attrs["kind"] == "arrays" and json.loads(attrs["config"]) == entry
    assert json.loads(attrs["sources"]) == record["sources"] and json.loads(attrs["scaling"]) == record["scaling"]
    assert len(logged) == 3 and "14 points of shape (3, 5, 6)" in logged[0]
    assert {key: record[key] for key in FACTS} == sources.peek(entry, ".")  # peek told the same beforehand


def test_train_split_only_when_asked(tmp_path):
    entry = {"name": "own", "kind": "arrays", "path": str(colour_arrays(tmp_path)), "channels_last": True}
    h5 = run(entry, tmp_path)[2]
    loaded = data.load("own", data_file=h5, train=False)
    assert loaded.x_train.shape == (0, 90) and len(loaded.y_train) == 0 and loaded.x_test.shape == (10, 90)


def test_points_standardized(tmp_path):
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(3, 2, (40, 4)), rng.normal(3, 2, (20, 4))
    path = formats.write_h5(tmp_path / "points.h5", x_train=x_train, y_train=formats.labels(40, 2),
                            x_test=x_test, y_test=formats.labels(20, 2))
    entry = {"name": "cloud", "kind": "arrays", "path": str(path), "scaling": "standardize"}
    record, h5 = run(entry, tmp_path)[1:3]
    loaded = data.load("cloud", data_file=h5)
    assert loaded.input_shape == (4,) and not loaded.has_images and loaded.classes == ("0", "1")
    assert np.allclose(loaded.x_train.mean(axis=0), 0, atol=1e-6) and np.allclose(loaded.x_train.std(axis=0), 1)
    unit = (x_test - x_train.min()) / (x_train.max() - x_train.min())
    assert np.allclose(loaded.x_test, (unit - record["scaling"]["mean"]) / record["scaling"]["std"], atol=1e-6)
    assert loaded.scaling == record["scaling"] and record["scaling"]["computed_on"] == "train"


@pytest.mark.parametrize("colour, suffix", [(False, ".png"), (True, ".jpg")])
def test_folder_prepared_as_peeked(tmp_path, colour, suffix):
    shape = (6, 5, 3) if colour else (6, 5)
    split = {s: (formats.images(n, shape, seed), formats.labels(n, 3, seed))
             for seed, (s, n) in enumerate((("train", 12), ("test", 7)))}
    formats.write_folder(tmp_path / "tree", split, ("a", "b", "c"), suffix=suffix)
    entry = {"name": "tree", "kind": "folder", "path": str(tmp_path / "tree"), "colour": colour, "size": [4, 4]}
    peeked = sources.peek(entry, ".")
    record, h5 = run(entry, tmp_path)[1:3]
    assert {key: record[key] for key in FACTS} == peeked and record["input_shape"] == [3 if colour else 1, 4, 4]
    assert list(record["sources"]) == [f"{tmp_path / 'tree' / s}/" for s in ("train", "test")]
    assert "pillow" in record["versions"]
    loaded = data.load("tree", data_file=h5)
    assert np.array_equal(loaded.y_test, np.sort(split["test"][1]))  # class by class


def test_torchvision_prepared(tmp_path, monkeypatch):
    written = formats.write_cifar(tmp_path / "data")
    patch_cifar(monkeypatch, torchvision.datasets.CIFAR10, written)
    entry = {"name": "cifar", "kind": "torchvision", "class": "CIFAR10", "options": {}, "scaling": "unit"}
    assert sources.peek(entry, tmp_path / "data") is None
    record, h5 = run(entry, tmp_path, data_dir=tmp_path / "data")[1:3]
    assert record["input_shape"] == [3, 32, 32] and record["classes"] == written["classes"]
    assert record["points"] == {"train": 30, "test": 12} and "torchvision" in record["versions"]
    folder = tmp_path / "data" / "cifar-10-batches-py"
    assert set(record["sources"]) == {str(folder / name) for name in written["md5"]}  # what torchvision opened
    loaded = data.load("cifar", data_file=h5)
    assert np.array_equal(loaded.x_test, written["test"][0].reshape(12, -1) / np.float32(255))


def test_same_entry_same_numbers(tmp_path):
    entry = {"name": "own", "kind": "arrays", "path": str(colour_arrays(tmp_path)), "channels_last": True,
             "scaling": "standardize"}
    first = read_data(run(entry, tmp_path / "a")[2])
    again = read_data(run(entry, tmp_path / "b")[2])
    assert all(np.array_equal(first[0][k], again[0][k]) for k in first[0])
    assert first[1]["scaling"] == again[1]["scaling"]


def nothing_written(tmp_path, name="own"):
    folder = tmp_path / "results" / name
    return not folder.exists() or not any(folder.iterdir())


def test_nan_and_infinity_named_with_count_and_place(tmp_path):
    x_train = np.zeros((8, 2, 3, 3), np.float32)
    x_train[5, 1, 2, 0] = np.nan
    x_train[6, 0, 0, 0] = np.inf
    x_train[7, 0, 0, 1] = np.nan
    path = formats.write_npz(tmp_path / "nan.npz", x_train=x_train, y_train=formats.labels(8, 2),
                             x_test=np.zeros((2, 2, 3, 3)), y_test=np.array([0, 1]))
    entry = {"name": "own", "kind": "arrays", "path": str(path)}
    with pytest.raises(DataError) as error:
        run(entry, tmp_path)
    assert str(error.value) == (f"{path}: x_train holds 2 NaN and 1 infinite values (the first in point 5 at "
                                "(1, 2, 0) of its (2, 3, 3)); remove those points or replace the values, then "
                                "prepare again")
    assert nothing_written(tmp_path)
    points = formats.write_npz(tmp_path / "p.npz", x_train=np.ones((2, 3)), y_train=np.array([0, 1]),
                               x_test=np.array([[1.0, 2, -np.inf], [0, 0, 0]]), y_test=np.array([0, 1]))
    with pytest.raises(DataError, match=r"x_test holds 0 NaN and 1 infinite values \(the first in point 0, "
                                        r"coordinate 2\)"):
        run({**entry, "path": str(points), "scaling": "none"}, tmp_path)


@pytest.mark.parametrize("changed, message", [
    ({"y_test": np.array([0, 0, 1])}, "class 2 ('c') has no test point"),
    ({"y_test": np.array([0, 1, 2.5])}, "y_test is float64, not integers"),
    ({"y_train": np.array([0, 1, 2, 3, 1, 2])}, "y_train holds the label 3 but there are 3 class names"),
    ({"y_train": np.array([0, 1])}, "x_train has 6 points but y_train 2 labels"),
    ({"x_test": np.ones((3, 4))}, "one input of the test split has shape (4,) but of the training split (2,)"),
])
def test_bad_labels_and_shapes_leave_nothing(tmp_path, changed, message):
    arrays = {"x_train": np.arange(12.0).reshape(6, 2), "y_train": np.array([0, 1, 2, 0, 1, 2]),
              "x_test": np.ones((3, 2)), "y_test": np.array([0, 1, 2]), "class_names": ["a", "b", "c"], **changed}
    path = formats.write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as error:
        run({"name": "own", "kind": "arrays", "path": str(path)}, tmp_path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert nothing_written(tmp_path)


def test_the_configs_checks_of_the_facts_run_before_the_record(tmp_path, monkeypatch):
    """With the config, its checks that need the dataset's facts see them; a failure leaves no data.h5 and
    no record (nntopo.config.check_known is the config's; replaced here by one that records or refuses)."""
    from nntopo import config as nnconfig

    entry = {"name": "own", "kind": "arrays", "path": str(colour_arrays(tmp_path)), "channels_last": True}
    seen = []
    monkeypatch.setattr(nnconfig, "check_known", lambda config, info: seen.append((config, info)), raising=False)
    info = run(entry, tmp_path, config={"datasets": [entry]})[0]
    assert seen == [({"datasets": [entry]}, info)] and info.input_shape == (3, 5, 6)

    def refuse(config, info):
        raise ConfigError(f"datasets.0 ({info.name}): inputs {info.input_shape} do not fit model mlp16")

    monkeypatch.setattr(nnconfig, "check_known", refuse)
    with pytest.raises(ConfigError, match=r"inputs \(3, 5, 6\) do not fit"):
        run(entry, tmp_path / "again", config={"datasets": [entry]})
    assert nothing_written(tmp_path / "again")


def test_a_users_dataset_needs_its_data_file():
    with pytest.raises(DataError, match="unknown dataset 'own'; choose one of: mnist, .* give its prepared data.h5"):
        data.load("own")


def test_a_data_file_of_another_dataset_is_refused(tmp_path):
    entry = {"name": "own", "kind": "arrays", "path": str(colour_arrays(tmp_path)), "channels_last": True}
    h5 = run(entry, tmp_path)[2]
    with pytest.raises(DataError, match=f"{h5}: holds dataset 'own', not 'other'; delete it to prepare it again"):
        data.load("other", data_file=h5)
