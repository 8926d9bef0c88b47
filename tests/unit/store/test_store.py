"""The HDF5 readers check names, shapes and dtypes, and say what is wrong with a foreign file."""

import h5py
import numpy as np
import pytest

from nntopo import store
from nntopo.store import StoreError

N = 6


def good_activations():
    return {"hidden_1": np.ones((N, 4), np.float32), "output": np.zeros((N, 3), np.float32),
            "labels": np.arange(N) % 3, "predictions": np.zeros(N, np.int64)}


def good_weights():
    return {"hidden_1/weight": np.ones((4, 5), np.float32), "hidden_1/bias": np.zeros(4, np.float32),
            "output/weight": np.ones((3, 4), np.float32), "output/bias": np.zeros(3, np.float32)}


def good_clusters():
    return {"labels": np.array([0, 0, 1, 1, -1, 0]), "embedding": np.zeros((N, 2), np.float32),
            "mapper/node_ptr": np.array([0, 2, 5]), "mapper/node_points": np.array([0, 1, 2, 3, 5]),
            "mapper/edges": np.array([[0, 1]]), "mapper/node_cluster": np.array([0, 1])}


def write(path, datasets):
    with h5py.File(path, "w") as h5:
        for name, data in datasets.items():
            h5[name] = data
    return path


def changed(base, **edits):
    out = dict(base)
    for name, value in edits.items():
        name = name.replace("__", "/")
        if value is None:
            out.pop(name)
        else:
            out[name] = value
    return out


READ = {"activations": store.read_activations, "weights": store.read_weights, "clusters": store.read_clusters}
CASES = [
    ("activations", changed(good_activations(), output=None), r"missing dataset 'output' \(has: hidden_1, labels"),
    ("activations", changed(good_activations(), hidden_1=None, hidden_2=np.ones((N, 4), np.float32)),
     "missing dataset 'hidden_1'"),
    ("activations", changed(good_activations(), labels=np.zeros(N, np.float32)),
     "'labels' is float32 with shape .*expected a 1-D integer array"),
    ("activations", changed(good_activations(), hidden_1=np.ones(N, np.float32)),
     "'hidden_1' is float32 with shape \\(6,\\); expected a 2-D float array"),
    ("activations", changed(good_activations(), output=np.array([b"a"] * N)), "'output' is \\|S1"),
    ("activations", changed(good_activations(), predictions=np.zeros(N - 1, np.int64)),
     "disagree on the number of points"),
    ("activations", changed(good_activations(), labels=np.arange(N)), "'labels' holds classes 0..5, but 'output' has 3"),
    ("activations", changed(good_activations(), hidden_1=np.full((N, 4), np.inf, np.float32)),
     "'hidden_1' holds 24 NaN or infinite values"),
    ("weights", changed(good_weights(), **{"output__weight": None, "output__bias": None}),
     "expected groups hidden_1, output; found groups: hidden_1"),
    ("weights", changed(good_weights(), hidden_1__bias=np.zeros(3, np.float32)), "hidden_1/bias has 3 entries for 4 units"),
    ("weights", changed(good_weights(), output__weight=np.ones((3, 7), np.float32)), "do not chain"),
    ("weights", changed(good_weights(), hidden_1__weight=np.ones((4, 5), np.int32)),
     "'hidden_1/weight' is int32 .*expected a 2 or 4-D float array"),
    ("clusters", changed(good_clusters(), labels=np.zeros(N, np.float64)), "'labels' is float64"),
    ("clusters", changed(good_clusters(), embedding=np.zeros((N, 3), np.float32)), r"embedding has shape \(6, 3\), expected \(6, 2\)"),
    ("clusters", changed(good_clusters(), labels=np.full(N, -2)), "labels below -1"),
    ("clusters", changed(good_clusters(), mapper__edges=None), "missing dataset 'mapper/edges'"),
    ("clusters", changed(good_clusters(), **{"mapper/node_ptr": np.array([0, 2, 4])}), "disagree on the nodes"),
    ("clusters", changed(good_clusters(), **{"mapper/edges": np.array([[0, 1, 1]])}), "edges must be pairs"),
    ("clusters", changed(good_clusters(), **{"mapper/positions": np.zeros((3, 2))}),
     r"positions have shape \(3, 2\), expected \(2, 2\)"),
]


def test_the_good_files_read(tmp_path):
    store.read_activations(write(tmp_path / "a.h5", good_activations()))
    store.read_weights(write(tmp_path / "w.h5", good_weights()))
    clusters = store.read_clusters(write(tmp_path / "c.h5", good_clusters()))
    assert clusters.n_clusters == 2 and clusters.graph["node_ptr"].tolist() == [0, 2, 5]
    assert clusters.graph["positions"] is None  # a file written before layouts were stored
    placed = changed(good_clusters(), **{"mapper/positions": np.array([[0.0, 1.0], [2.0, 3.0]])})
    assert store.read_clusters(write(tmp_path / "p.h5", placed)).graph["positions"].tolist() == [[0, 1], [2, 3]]


@pytest.mark.parametrize("kind, datasets, message", CASES)
def test_a_foreign_file_is_refused_saying_what_is_wrong(tmp_path, kind, datasets, message):
    path = write(tmp_path / f"{kind}.h5", datasets)
    with pytest.raises(StoreError, match=message) as error:
        READ[kind](path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("kind", sorted(READ))
def test_not_hdf5_or_missing(tmp_path, kind):
    (tmp_path / "text.h5").write_text("not HDF5")
    with pytest.raises(StoreError, match="text.h5: not a readable HDF5 file"):
        READ[kind](tmp_path / "text.h5")
    with pytest.raises(StoreError, match="gone.h5: file does not exist"):
        READ[kind](tmp_path / "gone.h5")
