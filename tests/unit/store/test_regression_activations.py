"""A regressor's activations.h5 (nntopo.store.activations): written with its targets, task and level sets and
read back as they were; a file that contradicts itself (targets without the task, or the reverse; targets
of another width than the output; NaN targets; no level sets; level sets out of range) refused in one
line naming the file."""

import json

import h5py
import numpy as np
import pytest

from nntopo import store
from nntopo import task as tasks
from nntopo.store import StoreError

TARGETS = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
LEVELS = tasks.levels_of(TARGETS, 3)  # edges 5/3 and 10/3: two targets a level set


def write(path, output=None, targets=TARGETS, attrs=None):
    output = TARGETS + 0.1 if output is None else output
    attrs = {"task": "regression", "level_sets": json.dumps(LEVELS)} if attrs is None else attrs
    store.write_activations(path, [np.ones((6, 4), np.float32)], output, tasks.level_sets(TARGETS, LEVELS),
                            tasks.level_sets(output, LEVELS), attrs, targets=targets)
    return path


def test_a_regressors_file_reads_back(tmp_path):
    acts = store.read_activations(write(tmp_path / "a.h5"))
    assert acts.task == "regression" and acts.levels == LEVELS
    assert np.array_equal(acts.targets, TARGETS) and acts.targets.dtype == np.float64
    assert acts.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert tasks.mse(acts.output, acts.targets) == pytest.approx(0.01, rel=1e-5)  # output stored as float32


def test_a_classifiers_file_has_no_targets(tmp_path):
    path = tmp_path / "c.h5"
    store.write_activations(path, [np.ones((6, 4), np.float32)], np.zeros((6, 3)), np.arange(6) % 3, np.zeros(6), {})
    acts = store.read_activations(path)
    assert acts.task == "classification" and acts.targets is None and acts.levels is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"attrs": {}}, "a classification file with a 'targets' dataset; record it again"),
    ({"attrs": {"task": "regression"}}, "a regression file without the attribute 'level_sets'"),
    ({"output": np.zeros((6, 2))}, "'output' has 2 values per point, but 'targets' has 1"),
    ({"targets": np.where(np.arange(6)[:, None] == 4, np.nan, TARGETS)}, "'targets' holds NaN or infinite values"),
])
def test_a_file_that_contradicts_itself_is_refused(tmp_path, kwargs, message):
    path = tmp_path / "bad.h5"
    if "output" in kwargs:  # the level sets of a 2-wide output cannot be cut on a 1-D target's projection
        store.write_activations(path, [np.ones((6, 4), np.float32)], kwargs["output"], np.zeros(6), np.zeros(6),
                                {"task": "regression", "level_sets": json.dumps(LEVELS)}, targets=TARGETS)
    else:
        write(path, **kwargs)
    with pytest.raises(StoreError, match=message) as error:
        store.read_activations(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_level_sets_beyond_the_files_are_refused(tmp_path):
    path = write(tmp_path / "a.h5")
    with h5py.File(path, "a") as h5:
        h5["labels"][0] = 3
    with pytest.raises(StoreError, match="'labels' holds level sets 0..3, but there are 3 level sets"):
        store.read_activations(path)
    with h5py.File(path, "a") as h5:
        del h5["targets"]
    with pytest.raises(StoreError, match="a regression file without a 'targets' dataset"):
        store.read_activations(path)
