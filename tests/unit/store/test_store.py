"""The HDF5 readers check names, shapes and dtypes, and say what is wrong with a foreign file."""

import json

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
    ("activations", changed(good_activations(), labels=np.arange(N)), "'labels' holds classes 0..5, but there are 3 classes"),
    ("activations", changed(good_activations(), hidden_1=np.full((N, 4), np.inf, np.float32)),
     "'hidden_1' holds 24 NaN or infinite values"),
    ("activations", changed(good_activations(), point_index=np.arange(N - 1)), "disagree on the number of points"),
    ("activations", changed(good_activations(), point_index=np.array([0, 2, 1, 3, 4, 5])),
     "'point_index' is not ascending indices into the 6 test points"),
    ("activations", changed(good_activations(), point_index=np.zeros(N, np.float32)),
     "'point_index' is float32 .*expected a 1-D integer array"),
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


# --- every file kind reads back what was written

def same(a, b):
    """Equal values, arrays by dtype kind, shape and content (NaN equal to NaN)."""
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b


def graph(n_points, **extra):
    """Three nodes over ``n_points`` points, two edges, and a kind's own per-node arrays."""
    return {"node_ptr": np.array([0, 2, 4, 5]), "node_points": np.array([0, 1, 1, 2, n_points - 1]),
            "edges": np.array([[0, 1], [1, 2]]), **extra}


def test_weights_and_their_neural_persistence_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    layers = {"hidden_1": store.Layer(rng.random((4, 5), np.float32), rng.random(4, np.float32),
                                      rng.random(4, np.float32), rng.random(4, np.float32)),
              "output": store.Layer(rng.random((3, 4), np.float32), rng.random(3, np.float32))}
    records = [{m: {"hidden_1": float(e + i), "output": float(e - i)} for i, m in enumerate(store.NEURAL_PERSISTENCE_MEASURES)}
               for e in range(3)]
    store.write_weights(tmp_path / "w.h5", layers, {"model": "m"}, extra=store.neural_persistence_writer(records, {"p": 2.0}))
    read = store.read_weights(tmp_path / "w.h5")
    assert list(read) == ["hidden_1", "output"]
    for name, layer in layers.items():
        assert all(same(getattr(layer, key), getattr(read[name], key)) for key in ("weight", "bias", "scale", "shift"))
    history = store.read_neural_persistence(tmp_path / "w.h5")
    assert history.epochs.tolist() == [0, 1, 2] and history.layers == ["hidden_1", "output"] and history.attrs == {"p": 2.0}
    assert history.measures["normalized"][:, 0].tolist() == [1.0, 2.0, 3.0]
    assert store.read_attrs(tmp_path / "w.h5") == {"model": "m"}


def test_activations_round_trip(tmp_path):
    a = good_activations()
    store.write_activations(tmp_path / "a.h5", [a["hidden_1"]], a["output"], a["labels"], a["predictions"], {"seed": 1})
    read = store.read_activations(tmp_path / "a.h5")
    assert same(read.layer("hidden_1"), a["hidden_1"]) and same(read.layer("output"), a["output"])
    assert same(read.labels, a["labels"]) and same(read.predictions, a["predictions"]) and read.attrs == {"seed": 1}


def test_activations_say_which_points_they_hold(tmp_path):
    """The analysed points' index and description round trip; a file from before they were recorded
    holds every test point in order."""
    a = good_activations()
    points = {"split": "train", "of": 60000, "n": N, "seed": 3, "subsample": True}
    index = np.array([5, 17, 900, 4000, 59998, 59999])
    store.write_activations(tmp_path / "a.h5", [a["hidden_1"]], a["output"], a["labels"], a["predictions"],
                            {"points": json.dumps(points)}, index)
    read = store.read_activations(tmp_path / "a.h5")
    assert same(read.point_index, index) and read.point_index.dtype == np.int64 and read.points == points
    older = store.read_activations(write(tmp_path / "old.h5", good_activations()))
    assert same(older.point_index, np.arange(N))
    assert older.points == {"split": "test", "of": N, "n": N, "seed": 0, "subsample": False}
    for attrs, message in ((dict(points, n=5), "attribute 'points' says 5 points, but the datasets hold 6"),
                           (dict(points, of=59999), "not ascending indices into the 59999 train points"),
                           (dict(points, split="validation"), "'points' is not the JSON of the analysed points")):
        store.write_activations(tmp_path / "b.h5", [a["hidden_1"]], a["output"], a["labels"], a["predictions"],
                                {"points": json.dumps(attrs)}, index)
        with pytest.raises(StoreError, match=message):
            store.read_activations(tmp_path / "b.h5")


def test_clusters_with_a_mapper_graph_round_trip(tmp_path):
    positions = np.arange(6, dtype=float).reshape(3, 2)
    written = graph(N, node_cluster=np.array([0, 0, 1]), positions=positions)
    store.write_clusters(tmp_path / "c.h5", np.array([0, 0, 1, 1, -1, 0]), np.zeros((N, 2)), written, {"method": "mapper"})
    read = store.read_clusters(tmp_path / "c.h5")
    assert same(read.graph, written) and read.n_clusters == 2 and read.attrs == {"method": "mapper"}
    store.write_clusters(tmp_path / "k.h5", np.array([0, 1, 1, 0, 0, 1]))  # k-means: no embedding, no graph
    read = store.read_clusters(tmp_path / "k.h5")
    assert read.embedding is None and read.graph is None


def test_shape_data_round_trip(tmp_path):
    arrays = {"x_train": np.ones((4, 3)), "y_train": np.arange(4), "x_test": np.zeros((2, 3)), "y_test": np.arange(2)}
    store.write_shape_data(tmp_path / "d.h5", arrays, {"known_betti": "{}"})
    read, attrs = store.read_shape_data(tmp_path / "d.h5")
    assert same(read, arrays) and attrs == {"known_betti": "{}"}


def test_homology_round_trip(tmp_path):
    def measured(first):
        return store.ClassHomology(np.ones((3, 2), np.int64), [np.array([[0.0, 1.0]]), np.zeros((0, 2))], 5, 1.5,
                                   None if first else np.array([0.1, 0.2]), None if first else np.array([0.3, 0.4]))
    written = store.Homology({0: np.arange(4)}, {0: np.arange(2)},
                             {store.INPUT_LAYER: {0: measured(True)}, "hidden_1": {0: measured(False)}}, {"maxdim": 1})
    store.write_homology(tmp_path / "h.h5", written)
    read = store.read_homology(tmp_path / "h.h5")
    assert list(read.layers) == [store.INPUT_LAYER, "hidden_1"] and read.classes == [0]
    for layer, per_class in written.layers.items():
        assert all(same(getattr(per_class[0], f), getattr(read.layers[layer][0], f))
                   for f in ("betti", "diagrams", "distinct", "diameter", "bottleneck", "wasserstein"))


def test_rankings_read(tmp_path):
    row = dict(dataset="mnist", model="m", space="hidden_1", method="kmeans", layer="hidden_1", cluster=0, neuron=3,
               count=5, fraction=0.5, rank=1)
    (tmp_path / "r.csv").write_text(",".join(row) + "\n" + ",".join(map(str, row.values())) + "\n")
    assert store.read_rankings(tmp_path / "r.csv").to_dict("records") == [row]


@pytest.mark.parametrize("ranked", [True, False])
def test_neuron_space_round_trip(tmp_path, ranked):
    rng = np.random.default_rng(1)
    colours = {"node_alive": rng.random(3), "node_label": np.array([1, 0, 1]), "node_label_share": rng.random(3),
               **({"node_top_k": rng.random(3)} if ranked else {})}
    written = store.NeuronSpace(np.array([0, 2, 3, 5]), rng.random((4, 7)), rng.random(6), rng.random(6) > 0.3,
                                rng.integers(0, 3, 6), rng.random((3, 6)), rng.integers(0, 3, (1, 6)) if ranked else None,
                                ["kmeans/hidden_1"] if ranked else [],
                                graph(4, node_component=np.zeros(3, np.int64), positions=rng.random((3, 2)), **colours),
                                [rng.random((4, 2)), rng.random((1, 2))], {"layer": "hidden_1"})
    store.write_neuron_space(tmp_path / "s.h5", written)
    read = store.read_neuron_space(tmp_path / "s.h5")
    assert all(same(getattr(written, f), getattr(read, f)) for f in written.__dataclass_fields__)


def test_filter_space_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    written = store.FilterSpace(rng.random((8, 3, 3)), rng.integers(0, 2, 8), rng.random(8), np.array([0, 1, 2, 4, 5]),
                                rng.random(5), np.array([0, 1, 2, 4]), rng.random((4, 9)), rng.random((4, 2)),
                                graph(4, node_component=np.zeros(3, np.int64), positions=rng.random((3, 2)),
                                      node_kernels=rng.random((3, 3, 3))),
                                [rng.random((4, 2))], {"architecture": "cnn4-none", "models": '["a", "b"]'})
    store.write_filter_space(tmp_path / "f.h5", written)
    read = store.read_filter_space(tmp_path / "f.h5")
    assert all(same(getattr(written, f), getattr(read, f)) for f in written.__dataclass_fields__)
    assert read.models == ["a", "b"] and read.kernel_shape == (3, 3)


def test_metrics_round_trip_and_refusals(tmp_path):
    store.write_metrics(tmp_path / "metrics.json", {"model": "m", "test_accuracy": 0.9})
    assert (tmp_path / "metrics.json").read_text() == '{\n  "model": "m",\n  "test_accuracy": 0.9\n}\n'
    assert store.read_metrics(tmp_path / "metrics.json") == {"model": "m", "test_accuracy": 0.9}
    with pytest.raises(StoreError, match="metrics.json: no neural persistence"):
        store.read_metrics(tmp_path / "metrics.json", neural_persistence=True)
    with pytest.raises(StoreError, match="gone.json: file does not exist"):
        store.read_metrics(tmp_path / "gone.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StoreError, match="bad.json: not a readable JSON file"):
        store.read_metrics(tmp_path / "bad.json")


@pytest.mark.parametrize("edit, message", [
    ({"node_ptr": np.array([0, 2, 4, 4])}, "node_ptr and node_points disagree"),
    ({"edges": np.array([[0, 1, 2]])}, "edges must be pairs"),
    ({"node_points": np.array([0, 1, 1, 2, 9])}, "node_points outside the 4 points"),
    ({"node_component": np.zeros(2, np.int64)}, "node_component has 2 entries for 3 nodes"),
    ({"positions": np.zeros((3, 3))}, r"positions have shape \(3, 3\), expected \(3, 2\)"),
])
def test_a_graph_whose_arrays_disagree_is_refused(edit, message):
    from nntopo.store.graph import check_graph

    whole = graph(4, node_component=np.zeros(3, np.int64), positions=np.zeros((3, 2)))
    check_graph(whole, "g.h5", n_points=4)
    with pytest.raises(StoreError, match=f"g.h5: mapper {message}"):
        check_graph({**whole, **edit}, "g.h5", n_points=4)


def test_hidden_widths_read_from_shapes(tmp_path):
    a = good_activations()
    wide = np.ones((N, 7), np.float32)
    store.write_activations(tmp_path / "a.h5", [a["hidden_1"], wide], a["output"], a["labels"], a["predictions"], {})
    assert store.hidden_widths(tmp_path / "a.h5") == [4, 7]
    with pytest.raises(StoreError, match="no 2-D dataset 'hidden_1'"):
        store.hidden_widths(write(tmp_path / "b.h5", changed(a, hidden_1=np.ones(N, np.float32))))
