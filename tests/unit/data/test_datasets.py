"""The dataset records (nntopo.datasets) say what the loaders and generators give, and the config's
schema knows the same datasets."""

import numpy as np
import pytest

from nntopo import config, data, datasets
from nntopo.data import shapes


def test_the_schema_lists_the_known_datasets():
    items = config.load_schema()["properties"]["datasets"]["items"]
    assert items["then"]["enum"] == list(datasets.names())  # a name: a built-in's
    assert items["else"]["properties"]["kind"]["enum"] == list(datasets.USER_KINDS)  # a mapping: the user's
    assert [branch["if"]["properties"]["kind"]["const"] for branch in items["else"]["allOf"]] == list(datasets.USER_KINDS)
    assert set(datasets.names(kind="shape")) == set(shapes.NAMES) == set(config.SHAPES)
    assert {info.kind for info in datasets.DATASETS.values()} <= set(datasets.KINDS)


def test_an_unknown_dataset_names_the_known_ones():
    with pytest.raises(ValueError, match="choose one of: mnist, fashion_mnist, digits, disks, tori"):
        datasets.get("mnistt")
    with pytest.raises(data.DataError, match="unknown dataset 'mnistt'"):
        data.load("mnistt")


def test_digits_is_what_its_record_says():
    info, loaded = datasets.get("digits"), data.load("digits")
    assert loaded.image_shape == info.image_shape == (8, 8) and loaded.n_features == info.n_features == 64
    c = config.validate({"datasets": ["digits"]})
    for split, y in (("train", loaded.y_train), ("test", loaded.y_test)):
        assert len(y) == info.n_points(split, c["shapes"]) and np.bincount(y).min() == info.smallest(split, c["shapes"])
    assert len(loaded.y_test) == config.n_test_points(c, "digits")
    assert loaded.n_classes == len(info.classes)


@pytest.mark.parametrize("name", datasets.names(kind="shape"))
def test_a_shape_is_what_its_record_says(name):
    info = datasets.get(name)
    x_train, y_train, x_test, y_test = shapes.generate(name, 40, 301, 0)
    assert info.image_shape is None and x_test.shape[1] == info.n_features
    assert int(y_test.max()) + 1 == len(info.classes) == 2
    c = config.validate({"datasets": [name], "shapes": {"test_points": 301}})
    assert config.n_test_points(c, name) == 301 and config.smallest_class(c, name) == shapes.class_sizes(name, 301)[0] == (y_test == 0).sum()


def test_the_mnist_family_reads_from_its_folder(tmp_path):
    for name in datasets.names(kind="idx"):
        info = datasets.get(name)
        assert info.image_shape == (28, 28) and info.n_points("test", {}) == 10_000
        assert data.raw_dir(name, tmp_path) == tmp_path / info.folder / "raw"
