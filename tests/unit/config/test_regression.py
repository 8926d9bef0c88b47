"""The config of a regression dataset (an arrays file with task: regression): task and level_sets for that
kind alone, its facts (peeked at when the workflow loads) with its level sets where a check needs classes,
and the one-line messages that say "level set" for it."""

import numpy as np
import pytest

from nntopo import config, datasets
from nntopo.config import ConfigError
from tests.unit.config.test_own_data import small


def regression_file(tmp_path, n_train=60, n_test=30, d=1):
    rng = np.random.default_rng(0)
    x_train, x_test = rng.uniform(-1, 1, (n_train, 2)), rng.uniform(-1, 1, (n_test, 2))
    y_train = np.repeat(x_train.sum(axis=1, keepdims=True), d, axis=1)
    y_test = np.repeat(x_test.sum(axis=1, keepdims=True), d, axis=1)
    path = tmp_path / "reg.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def test_a_regression_entry_and_its_peeked_facts(tmp_path):
    entry = {"name": "reg", "kind": "arrays", "path": regression_file(tmp_path, d=2), "task": "regression",
             "level_sets": 6}
    c = config.validate(small([entry]))
    assert c["datasets"][0] == {**entry, "channels_last": False, "scaling": "unit"}
    info = datasets.get("reg", c)
    assert info.task == "regression" and info.targets == 2 and info.n_outputs == 2 and len(info.classes) == 6
    assert info.smallest_class["train"] == 10  # 60 training targets in 6 quantile bins
    assert config.smallest_class(c, "reg") == info.smallest_class["test"]
    assert datasets.get("mnist").task == "classification" and datasets.get("mnist").n_outputs == 10


@pytest.mark.parametrize(("extra", "message"), [
    ({"kind": "folder", "path": ".", "task": "regression"}, "unknown key 'task' in datasets.0"),
    ({"kind": "arrays", "task": "regresion"}, "datasets.0.task"),
    ({"kind": "arrays", "task": "regression", "level_sets": 1}, "datasets.0.level_sets"),
])
def test_task_and_level_sets_are_an_arrays_datasets(tmp_path, extra, message):
    entry = {"name": "reg", "path": regression_file(tmp_path), **extra}
    with pytest.raises(ConfigError, match=message) as error:
        config.validate(small([entry]))
    assert "\n" not in str(error.value)


def test_too_many_points_per_level_set_is_one_line_saying_level_set(tmp_path):
    entry = {"name": "reg", "kind": "arrays", "path": regression_file(tmp_path, n_test=40), "task": "regression",
             "level_sets": 4}
    with pytest.raises(ConfigError) as error:
        config.validate(small([entry], homology={"points_per_class": 50}))
    smallest = datasets.get("reg", config.validate(small([entry]))).smallest_class["test"]
    assert str(error.value) == (f"homology.points_per_class (per level set: a regression's level sets stand in for its "
                                f"classes): 50 is more than the {smallest} test points of the smallest reg level set; "
                                f"use at most {smallest}, or null for every point")


def test_a_float_label_of_a_classification_suggests_regression(tmp_path):
    entry = {"name": "reg", "kind": "arrays", "path": regression_file(tmp_path)}
    with pytest.raises(ConfigError, match=r"^datasets\.0 \(reg\): .*reg\.npz: y_train is float64, not integers; .* set task: "
                                          r"regression in the dataset's entry$"):
        config.validate(small([entry]))
