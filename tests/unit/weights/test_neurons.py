"""The space of neurons (nntopo/weights/neurons.py and cloud.py; its stage, nntopo/weights/stage.py): the
cloud, its Mapper graph and diagram, what each neuron does, the file, the figures, and the rule's place
in the workflow."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nntopo import config as nnconfig
from nntopo import paths, store
from nntopo.clustering.graph import majority_label
from nntopo.store import Layer, StoreError
from nntopo.weights import cloud, neurons, stage

SETTINGS = nnconfig.neurons_slice(nnconfig.validate({}))  # the schema's defaults


def two_families(n_each: int = 40, dim: int = 20, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """Rows of a weight matrix: n_each neurons around direction e0, n_each around e1, at random gains."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((2 * n_each, dim))
    rows[:n_each, 0] = 1.0
    rows[n_each:, 1] = 1.0
    rows += noise * rng.standard_normal(rows.shape)
    return rows * rng.uniform(0.2, 5.0, size=(2 * n_each, 1))


def components_of(graph) -> dict[int, set[int]]:
    """Per component of the graph, the points of its nodes."""
    ptr, members = graph["node_ptr"], graph["node_points"]
    found = {}
    for node, component in enumerate(graph["node_component"].tolist()):
        found.setdefault(component, set()).update(members[ptr[node]:ptr[node + 1]].tolist())
    return found


def test_two_families_of_neurons_make_two_components():
    """Two directions, each neuron at its own gain: normalised, they are two tight groups, and the
    default Mapper of the neurons gives exactly two components, each holding neurons of one family
    alone; DBSCAN leaves the few neurons furthest out (beyond the 0.8 quantile's radius) in no node."""
    points, kept, norms = neurons.neuron_cloud(two_families())
    assert np.allclose(np.linalg.norm(points, axis=1), 1) and len(kept) == 80
    graph, eps = cloud.mapper_graph(points, SETTINGS["mapper"], seed=0)
    assert eps is not None and len(graph["node_ptr"]) > 2
    parts = sorted(map(sorted, components_of(graph).values()))
    assert len(parts) == 2 and max(parts[0]) < 40 <= min(parts[1])
    assert len(parts[0]) >= 35 and len(parts[1]) >= 35
    assert graph["positions"].shape == (len(graph["node_ptr"]) - 1, 2)


def test_zero_rows_stay_out_of_the_cloud():
    weight = two_families(n_each=5)
    weight[[2, 7]] = 0.0
    weight[4] = 1e-30  # what weight decay leaves of a dead neuron's row
    points, kept, norms = neurons.neuron_cloud(weight, min_norm=1e-6)
    assert kept.tolist() == [0, 1, 3, 5, 6, 8, 9] and len(points) == 7 and norms[2] == 0


def test_a_circle_of_neurons_has_one_long_loop():
    """40 neurons whose weights point around a circle (a plane of a 10-D input space): one H1 bar,
    born when neighbours join (the chord 2 sin(pi/40)) and dying when the first triangle around the
    centre fills it in, the one of steps 13, 13 and 14 neurons, whose longest side is 2 sin(14 pi/40);
    every other H1 bar is short, and H0 is one component."""
    angles = 2 * np.pi * np.arange(40) / 40
    weight = np.zeros((40, 10))
    weight[:, 3], weight[:, 7] = np.cos(angles), np.sin(angles)
    points, _, _ = neurons.neuron_cloud(weight * 3.0)
    h0, h1 = cloud.persistence_diagrams(points, maxdim=1)
    lengths = h1[:, 1] - h1[:, 0]
    assert (lengths > 1.0).sum() == 1 and np.sort(lengths)[-2:-1].max(initial=0) < 0.1
    birth, death = h1[np.argmax(lengths)]
    assert birth == pytest.approx(2 * np.sin(np.pi / 40), abs=1e-6)
    assert death == pytest.approx(2 * np.sin(14 * np.pi / 40), abs=1e-5)
    assert np.isinf(h0[:, 1]).sum() == 1


def small_network(tmp_path, model="mlp3x2-none-s0"):
    """A network of 2 inputs, hidden layers of 3 and 2 neurons and 2 classes, worked by hand (below),
    and its activations on 3 test images."""
    layers = {
        "hidden_1": Layer(np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]), np.zeros(3)),
        "hidden_2": Layer(np.array([[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]]), np.zeros(2)),
        "output": Layer(np.array([[1.0, -1.0], [2.0, -3.0]]), np.zeros(2)),
    }
    attrs = store.provenance("toy", model, 0, {}, image_shape=[1, 2])
    store.write_weights(tmp_path / "weights.h5", layers, attrs)
    hidden_1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, -1.0]])  # neuron 0 never > 0, 2 only < 0
    hidden_2 = np.array([[0.5, 0.0], [0.0, 0.0], [1.0, 0.0]])
    output = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    store.write_activations(tmp_path / "activations.h5", [hidden_1, hidden_2], output, [0, 1, 0], [0, 1, 0], attrs)
    return tmp_path / "weights.h5", tmp_path / "activations.h5"


def test_label_support_and_dead_or_alive_on_a_hand_worked_network(tmp_path):
    """W_out @ W_2 = [[1, -1], [2, -3]] @ [[1, 0, -1], [0, 2, 1]] = [[1, -2, -2], [2, -6, -5]]: hidden_1's
    neurons support classes 1, 0, 0; hidden_2's (W_out's columns [1, 2], [-1, -3]) classes 1, 0."""
    weights_path, activations_path = small_network(tmp_path)
    weights = store.read_weights(weights_path)
    assert np.array_equal(neurons.linear_path(weights, "hidden_1"), [[1, -2, -2], [2, -6, -5]])
    assert neurons.support_labels(neurons.linear_path(weights, "hidden_1")).tolist() == [1, 0, 0]
    assert neurons.support_labels(neurons.linear_path(weights, "hidden_2")).tolist() == [1, 0]
    assert neurons.support_labels(np.array([[1.0], [1.0]])).tolist() == [0]  # a tie goes to the lowest class

    logged = []
    space = stage.neuron_space(weights_path, activations_path, [], "hidden_1", SETTINGS, log=logged.append)
    assert space.alive.tolist() == [False, True, False]
    assert space.label.tolist() == [1, 0, 0]
    assert space.neurons.tolist() == [0, 1]  # neuron 2's weights are all zero
    assert any("1 of 3 neurons have all-zero input weights" in line and "neurons 2)" in line for line in logged)
    assert space.top_k is None and "node_top_k" not in space.graph  # no rankings: no top-k colouring
    assert any("no Mapper graph" in line for line in logged)  # 2 neurons, no more than min_samples
    assert space.n_nodes == 0


def rankings_table(space: str, rows, layer: str) -> pd.DataFrame:
    """A rankings table of clusters of ``space`` ranking ``layer``: rows of (cluster, neuron, rank)."""
    frame = pd.DataFrame(rows, columns=["cluster", "neuron", "rank"])
    frame = frame.assign(dataset="toy", model="m", space=space, method="kmeans", layer=layer, count=1, fraction=0.5)
    return frame[list(store.RANKING_COLUMNS)]


def test_top_k_counts_count_clusters_per_source():
    output = rankings_table("output", [(0, 3, 1), (0, 1, 2), (0, 0, 3), (1, 3, 1), (1, 2, 2)], "hidden_1")
    output = pd.concat([output, rankings_table("output", [(0, 4, 1)], "hidden_2")])  # another layer: not counted
    own = rankings_table("hidden_1", [(0, 1, 1), (0, 3, 2), (1, 1, 1), (2, 1, 3)], "hidden_1")
    counts = neurons.top_k_counts({"kmeans/output": output, "kmeans/hidden_1": own}, "hidden_1", 5, top_k=2)
    assert counts.tolist() == [[0, 1, 1, 2, 0], [0, 2, 0, 1, 0]]  # rank 3 is not in the top 2


def test_node_colourings_are_means_and_majorities():
    node_ptr, node_points = np.array([0, 3, 5]), np.array([0, 1, 2, 2, 3])
    assert cloud.node_means(node_ptr, node_points, [1.0, 0.0, 1.0, 4.0]).tolist() == [2 / 3, 2.5]
    label, share = majority_label(node_ptr, node_points, [2, 1, 1, 0], n_classes=3)  # as the stage colours nodes
    assert label.tolist() == [1, 0] and share.tolist() == [2 / 3, 0.5]  # the tie of node 1 to the lowest


def wide_network(tmp_path, model="mlp80x3-none-s0"):
    """hidden_1: the 80 neurons of two_families on 20 inputs (image 4 x 5); hidden_2: 3 neurons; 4 classes."""
    rng = np.random.default_rng(1)
    layers = {"hidden_1": Layer(two_families(), np.zeros(80)), "hidden_2": Layer(rng.normal(size=(3, 80)), np.zeros(3)),
              "output": Layer(rng.normal(size=(4, 3)), np.zeros(4))}
    attrs = store.provenance("toy", model, 0, {}, image_shape=[4, 5])
    store.write_weights(tmp_path / "weights.h5", layers, attrs)
    acts = rng.normal(size=(30, 80))
    acts[:, :5] = -1.0  # neurons 0-4 dead
    store.write_activations(tmp_path / "activations.h5", [acts, rng.normal(size=(30, 3))], rng.normal(size=(30, 4)),
                             rng.integers(0, 4, 30), rng.integers(0, 4, 30), attrs)
    ranking = tmp_path / "ranking.csv"
    rankings_table("output", [(0, 45, 1), (1, 45, 1), (1, 2, 2)], "hidden_1").to_csv(ranking, index=False)
    return tmp_path / "weights.h5", tmp_path / "activations.h5", ranking


def test_the_file_round_trip_and_the_figures(tmp_path):
    weights_path, activations_path, ranking = wide_network(tmp_path)
    outputs = SimpleNamespace(space=tmp_path / "space.h5", neuron_graph=tmp_path / "graph.png",
                              neuron_diagram=tmp_path / "diagram.png")
    made = stage.layer_neuron_space(weights_path, activations_path, [ranking], "hidden_1", SETTINGS, outputs,
                                      log=lambda _: None)
    back = store.read_neuron_space(outputs.space)
    for name in ("neurons", "points", "norms", "alive", "label", "linear_path", "top_k"):
        assert np.array_equal(getattr(back, name), getattr(made, name)), name
    assert set(back.graph) == set(made.graph) and all(np.array_equal(back.graph[k], made.graph[k]) for k in made.graph)
    assert all(np.array_equal(a, b) for a, b in zip(back.diagrams, made.diagrams)) and len(back.diagrams) == 2
    assert back.top_k_sources == ["kmeans/output"] and back.top_k_count[[2, 45]].tolist() == [1, 2]
    assert back.alive[:5].sum() == 0 and back.alive[5:].all()
    assert back.attrs["layer"] == "hidden_1" and back.attrs["model"] == "mlp80x3-none-s0"
    assert json.loads(back.attrs["mapper"]) == SETTINGS["mapper"] and back.attrs["maxdim"] == 1
    assert json.loads(back.attrs["config"]) == SETTINGS and back.attrs["eps"] > 0
    # Node colourings are the means over each node's neurons of the per-neuron values.
    ptr = back.graph["node_ptr"]
    first = back.neurons[back.graph["node_points"][ptr[0]:ptr[1]]]
    assert back.graph["node_alive"][0] == pytest.approx(back.alive[first].mean())
    assert back.graph["node_top_k"][0] == pytest.approx(back.top_k_count[first].mean())
    stage.draw_neuron_filters(outputs.space, tmp_path / "filters.png")
    for figure in (outputs.neuron_graph, outputs.neuron_diagram, tmp_path / "filters.png"):
        assert figure.stat().st_size > 10_000


def colour_network(tmp_path, first: Layer, input_shape, model: str):
    """A network of colour inputs whose first hidden layer is ``first`` (8 units), then 4 classes; its
    files written as training writes them (input_shape beside image_shape)."""
    rng = np.random.default_rng(2)
    layers = {"hidden_1": first, "output": Layer(rng.normal(size=(4, 8 if first.weight.ndim == 2 else 8 * 4)),
                                                  np.zeros(4))}
    attrs = store.provenance("colours", model, 0, {}, input_shape=list(input_shape),
                             image_shape=list(input_shape[1:]))
    store.write_weights(tmp_path / "weights.h5", layers, attrs)
    store.write_activations(tmp_path / "activations.h5", [np.abs(rng.normal(size=(30, 8)))], rng.normal(size=(30, 4)),
                             rng.integers(0, 4, 30), rng.integers(0, 4, 30), attrs)
    return tmp_path / "weights.h5", tmp_path / "activations.h5"


@pytest.mark.parametrize("kind", ["dense", "convolution"])
def test_colour_neurons_are_drawn_as_rgb_in_their_shape(tmp_path, kind):
    """An MLP's first layer on 3 x 13 x 11 images (tiles 13 high, 11 wide, as RGB), and a CNN's on
    3 x 9 x 9 (its 3 x 3 x 3 kernels as RGB): the space file names the input's shape."""
    from nntopo.weights import neuron_plots

    rng = np.random.default_rng(3)
    if kind == "dense":
        shape, tile = (3, 13, 11), (3, 13, 11)  # the input's, and a unit's weights drawn as an image
        first = Layer(rng.normal(size=(8, 3 * 13 * 11)), np.zeros(8))
    else:
        shape, tile = (3, 9, 9), (3, 3, 3)
        first = Layer(rng.normal(size=(8, 3, 3, 3)), np.zeros(8))
    drawn = (tile[1], tile[2], 3)  # RGB
    weights_path, activations_path = colour_network(tmp_path, first, shape, f"{kind}-s0")
    settings = {**SETTINGS, "mapper": {**SETTINGS["mapper"], "min_samples": 2}}
    outputs = SimpleNamespace(space=tmp_path / "space.h5", neuron_graph=tmp_path / "graph.png",
                              neuron_diagram=tmp_path / "diagram.png")
    stage.layer_neuron_space(weights_path, activations_path, [], "hidden_1", settings, outputs, log=lambda _: None)
    space = store.read_neuron_space(outputs.space)
    assert space.attrs["input_shape"] == list(shape)
    stage.draw_neuron_filters(outputs.space, tmp_path / "filters.png")
    assert (tmp_path / "filters.png").stat().st_size > 10_000
    fig = neuron_plots.neuron_filters(space, tile)
    tiles = [im for ax in fig.axes for im in ax.images]
    assert space.n_nodes > 0 and len(tiles) == space.n_nodes
    assert {im.get_array().shape for im in tiles} == {drawn}
    left, right, bottom, top = tiles[0].get_extent()
    assert (right - left) / (top - bottom) == pytest.approx(drawn[1] / drawn[0])  # not squashed into a square
    assert "RGB" in fig.get_suptitle()


def test_a_clustering_with_no_cluster_ranks_no_neuron(tmp_path):
    """A rankings table without rows (every point in no cluster) counts zero for every neuron."""
    weights_path, activations_path, ranking = wide_network(tmp_path)
    empty = tmp_path / "hidden_1" / "rankings" / "umap.csv"
    empty.parent.mkdir(parents=True)
    empty.write_text(",".join(store.RANKING_COLUMNS) + "\n")
    space = stage.neuron_space(weights_path, activations_path, [ranking, empty], "hidden_1", SETTINGS,
                                 log=lambda _: None)
    assert space.top_k_sources == ["kmeans/output", "umap/hidden_1"]
    assert space.top_k[1].sum() == 0 and space.top_k[0].sum() == 3


def test_bad_files_stop_with_one_line(tmp_path):
    weights_path, activations_path, ranking = wide_network(tmp_path)
    with pytest.raises(StoreError, match="missing.csv: file does not exist"):
        stage.neuron_space(weights_path, activations_path, [tmp_path / "missing.csv"], "hidden_1", SETTINGS)
    (tmp_path / "foreign.csv").write_text("a,b\n1,2\n")
    with pytest.raises(StoreError, match="not a rankings table, no column dataset"):
        stage.neuron_space(weights_path, activations_path, [tmp_path / "foreign.csv"], "hidden_1", SETTINGS)
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    with pytest.raises(StoreError, match="broken.h5: not a readable HDF5 file"):
        stage.neuron_space(tmp_path / "broken.h5", activations_path, [ranking], "hidden_1", SETTINGS)
    with pytest.raises(StoreError, match="no hidden layer output"):
        stage.neuron_space(weights_path, activations_path, [ranking], "output", SETTINGS)
    out_of_range = tmp_path / "wide.csv"
    rankings_table("output", [(0, 99, 1)], "hidden_1").to_csv(out_of_range, index=False)
    with pytest.raises(StoreError, match="neurons 99..99 of hidden_1, which has 80"):
        stage.neuron_space(weights_path, activations_path, [out_of_range], "hidden_1", SETTINGS)
    with pytest.raises(StoreError, match="not a neuron space file"):
        store.read_neuron_space(weights_path)


def test_config_block_defaults_and_slice():
    c = nnconfig.validate({})
    assert c["neurons"] == {"mapper": {"n_cubes": 6, "perc_overlap": 0.5, "min_samples": 3, "eps_quantile": 0.8},
                            "maxdim": 1, "min_norm": 1e-6}
    assert nnconfig.neurons_slice(c) == {**c["neurons"], "top_k": c["clustering"]["top_k"]}
    for bad, key in (({"mapper": {"n_cubes": 0}}, "neurons.mapper.n_cubes"), ({"maxdim": 3}, "neurons.maxdim"),
                     ({"mapper": {"perc_overlap": 1}}, "neurons.mapper.perc_overlap"), ({"lens": "pca"}, "unknown key")):
        with pytest.raises(nnconfig.ConfigError, match=key):
            nnconfig.validate({"neurons": bad})


# --- the workflow: one small model on the embedded digits, k-means alone ---------------------------

STUDY = {
    "datasets": ["digits"],
    "widths": [[16, 12]],
    "regularizations": ["none"],
    "training": {"epochs": 2, "batch_size": 64, "lr": 0.01},
    "device": "cpu",
    "clustering": {"methods": ["kmeans"], "kmeans": {"n_clusters": 5, "n_init": 1}},
    "ablation": {"n_random": 5},
    "figures": {"embedding": "umap"},  # needed only by figures this test does not ask for
}
MODEL = "mlp16x12-none-s0"


def at(pattern, **more):
    return paths.fill(pattern, dataset="digits", model=MODEL, **more)
