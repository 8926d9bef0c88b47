"""Neural persistence (Rieck et al. 2019): hand-worked layers, independent code, the controls, the record
training keeps of it, early stopping and batch normalisation."""

import json
import math
from types import SimpleNamespace

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import torch

from nntopo import config, data, store
from nntopo.network.model import build
from nntopo.network.stage import train_and_record
from nntopo.network.stopping import CRITERIA, stopping_epoch
from nntopo.network.train import persistence_record
from nntopo.topology import persistence
from nntopo.weights.stage import stopping_rows


def independent_np(weights: dict, p: float = 2.0, biases: dict | None = None, essential: bool = False) -> dict:
    """NP per layer with networkx's maximum spanning tree on the bipartite graph, written apart from
    nntopo's: the vertices are born at 1, each tree edge kills one at its normalised weight. With
    ``biases``, each layer has one more input vertex "bias" joined to every output by its bias, and the
    biases count in the largest |w|; with ``essential``, the component never killed adds persistence 1."""
    largest = max(max(float(np.abs(w).max()) for w in weights.values()),
                  max((float(np.abs(b).max()) for b in (biases or {}).values()), default=0.0))
    result = {}
    for name, w in weights.items():
        graph = nx.Graph()
        n_out, n_in = w.shape
        graph.add_weighted_edges_from((("in", i), ("out", o), abs(float(w[o, i])) / largest)
                                      for o in range(n_out) for i in range(n_in))
        if biases is not None:
            graph.add_weighted_edges_from((("bias",), ("out", o), abs(float(biases[name][o])) / largest)
                                          for o in range(n_out))
        tree = nx.maximum_spanning_tree(graph)
        total = sum((1 - d["weight"]) ** p for *_, d in tree.edges(data=True)) + (1 if essential else 0)
        result[name] = total ** (1 / p)
    return result


def test_a_2x2_layer_by_hand():
    # Edges in: 1 (in0-out0), 0.8 (in1-out1), 0.5 (in1-out0) joins them; 0.2 closes a cycle.
    # Persistences 1 - w: 0, 0.2, 0.5. Signs do not matter: the absolute weights are used.
    result = persistence.neural_persistence({"layer": np.array([[1.0, -0.5], [0.2, -0.8]])})
    assert result.layers["layer"] == pytest.approx(math.sqrt(0.2 ** 2 + 0.5 ** 2))
    assert result.normalized["layer"] == pytest.approx(math.sqrt(0.29) / math.sqrt(3))
    assert persistence.diagram(np.array([[1.0, 0.5], [0.2, 0.8]])).tolist() == [[1, 1], [1, 0.8], [1, 0.5]]


def test_a_3x2_layer_by_hand_normalised_by_the_network():
    # 3 inputs, 2 outputs; the network's largest |w| (0.9) is in this layer, the other layer is smaller.
    # Normalised: out0 = (1, 1/9, 4/9), out1 = (1/3, 2/3, 2/9). Tree: 1, 2/3, 4/9, then 1/3 joins the
    # two parts. Persistences 0, 1/3, 5/9, 2/3: NP = sqrt(70) / 9, normalised by sqrt(3 + 2 - 1) = 2.
    w = np.array([[0.9, 0.1, 0.4], [0.3, 0.6, 0.2]])
    result = persistence.neural_persistence({"hidden_1": w, "output": np.array([[0.45, -0.45]])})
    assert result.layers["hidden_1"] == pytest.approx(math.sqrt(70) / 9)
    assert result.normalized["hidden_1"] == pytest.approx(math.sqrt(70) / 18)
    # The output layer: 1 x 2, both edges 0.5 -> persistences 0.5 and 0.5
    assert result.layers["output"] == pytest.approx(math.sqrt(0.5))
    assert result.mean_normalized == pytest.approx((math.sqrt(70) / 18 + math.sqrt(0.5) / math.sqrt(2)) / 2)
    # p = 1: the sum of persistences
    assert persistence.neural_persistence({"hidden_1": w}, p=1).layers["hidden_1"] == pytest.approx(1 / 3 + 5 / 9 + 2 / 3)


# The authors' options (src/tda.py): the 2x2 layer above with the bias (0.3, -2) of its outputs. The
# bias holds the largest |w|, 2, so normalised: weights (0.5, 0.25; 0.1, 0.4), bias (0.15, 1). Kruskal on
# inputs i0, i1, the bias vertex and outputs o0, o1: bias-o1 1, i0-o0 0.5, i1-o1 0.4, then i1-o0 0.25
# joins the two parts. Persistences 0, 0.5, 0.6, 0.75: squares 1.1725, over 2 + 1 + 2 - 1 = 4 edges.
BIASED = {"layer": np.array([[1.0, -0.5], [0.2, -0.8]])}, {"layer": np.array([0.3, -2.0])}


@pytest.mark.parametrize("bias_vertex, essential, squares, edges", [
    (False, False, 0.29, 3),  # today's: 0.2^2 + 0.5^2 over 3 tree edges
    (False, True, 1.29, 3),  # the component never killed adds 1^2; the bound stays (src/tda.py:46)
    (True, False, 1.1725, 4),
    (True, True, 2.1725, 4),
])
def test_the_2x2_layer_with_a_bias_by_hand_under_each_option(bias_vertex, essential, squares, edges):
    weights, biases = BIASED
    graphs = persistence.with_bias_vertex(weights, biases) if bias_vertex else weights
    result = persistence.neural_persistence(graphs, 2.0, essential)
    assert result.layers["layer"] == pytest.approx(math.sqrt(squares))
    assert result.normalized["layer"] == pytest.approx(math.sqrt(squares / edges))
    assert result.layers == pytest.approx(independent_np(weights, 2.0, biases if bias_vertex else None, essential))


def test_with_the_bias_vertex_a_bias_rescales_every_layer_of_the_network():
    # A bias of 4 in the output layer becomes the network's largest |w|: the first layer's weights
    # (largest 1) are halved against it and their NP rises, as src/tda.py:25-27 normalise.
    weights = {"hidden_1": np.array([[1.0, -0.5], [0.2, -0.8]]), "output": np.array([[0.5, 1.0]])}
    biases = {"hidden_1": np.zeros(2), "output": np.array([4.0])}
    plain = persistence.neural_persistence(weights)
    biased = persistence.neural_persistence(persistence.with_bias_vertex(weights, biases))
    # hidden_1: weights (0.25, 0.125; 0.05, 0.2), zero biases: tree 0.25, 0.2, 0.125, then the bias
    # vertex at 0: persistences 0.75, 0.8, 0.875, 1
    assert biased.layers["hidden_1"] == pytest.approx(math.sqrt(0.75 ** 2 + 0.8 ** 2 + 0.875 ** 2 + 1))
    assert biased.layers["hidden_1"] > plain.layers["hidden_1"]
    assert persistence.with_bias_vertex(weights, biases)["output"].tolist() == [[0.5, 1.0, 4.0]]


def test_the_options_agree_with_networkx_on_random_layers_with_biases():
    rng = np.random.default_rng(3)
    for trial in range(30):
        n_in, n_mid, n_out = rng.integers(1, 25, 3)
        weights = {"a": rng.normal(size=(n_mid, n_in)), "b": rng.normal(size=(n_out, n_mid))}
        biases = {"a": rng.normal(size=n_mid) * (3 if trial % 2 else 0.1), "b": rng.normal(size=n_out)}
        if trial % 3 == 0:
            weights["a"], biases["a"] = np.round(weights["a"], 1), np.round(biases["a"], 1)  # ties and zeros
        essential = bool(trial % 4 < 2)
        ours = persistence.neural_persistence(persistence.with_bias_vertex(weights, biases), 2.0, essential)
        assert ours.layers == pytest.approx(independent_np(weights, 2.0, biases, essential), abs=1e-9), trial
        assert ours.normalized["a"] == pytest.approx(ours.layers["a"] / math.sqrt(n_in + 1 + n_mid - 1))
        p1 = persistence.neural_persistence(persistence.with_bias_vertex(weights, biases), 1.0, essential)
        assert p1.layers == pytest.approx(independent_np(weights, 1.0, biases, essential), abs=1e-9), trial


def test_the_control_shuffles_the_bias_with_its_layers_weights_and_the_defaults_are_todays():
    rng = np.random.default_rng(4)
    weights, biases = {"a": rng.normal(size=(6, 5))}, {"a": rng.normal(size=6)}
    graphs = persistence.with_bias_vertex(weights, biases)
    record = persistence.with_controls(graphs, 2.0, np.random.default_rng(0), essential=True)
    control = persistence.shuffled(graphs, np.random.default_rng(0))["a"]
    assert control.shape == (6, 6)
    assert np.array_equal(np.sort(control.ravel()), np.sort(np.concatenate([weights["a"].ravel(), biases["a"]])))
    assert record["shuffled_normalized"] == persistence.neural_persistence({"a": control}, 2.0, True).normalized
    assert record["variance"]["a"] == pytest.approx(np.var(np.concatenate([weights["a"].ravel(), biases["a"]])))
    # Off, a model's record is the one before the options, to the last digit
    model = build(4, 3, [5], {"name": "none"})
    today = persistence_record(model, 2.0, np.random.default_rng(0), print)
    assert persistence_record(model, 2.0, np.random.default_rng(0), print, bias_vertex=False, essential=False) == today
    weights = {name: layer.weight.detach().numpy() for name, layer in model.dense_layers().items()}
    assert today == persistence.with_controls(weights, 2.0, np.random.default_rng(0))
    assert today["layers"] == pytest.approx(independent_np(weights), abs=1e-12)


def test_agrees_with_networkx_on_random_layers_with_ties_zeros_and_weak_vertices():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n_out, n_in = rng.integers(1, 40, 2)
        w = rng.normal(size=(n_out, n_in))
        if trial % 3 == 0:
            w = np.round(w, 1)  # ties and exact zeros
        if trial % 4 == 0:
            w[:, : n_in // 2] *= 1e-3  # inputs that join last, as MNIST's border pixels do
        if trial % 5 == 0:
            w[: n_out // 2] *= 1e-3
        weights = {"a": w, "b": rng.normal(size=(3, n_out))}
        ours = persistence.neural_persistence(weights).layers
        theirs = independent_np(weights)
        assert ours == pytest.approx(theirs, abs=1e-9), trial


def test_the_tree_has_one_edge_fewer_than_the_vertices_and_the_bound_holds():
    rng = np.random.default_rng(1)
    w = rng.random((30, 50))
    tree = persistence.spanning_tree_weights(persistence.normalize({"w": w})["w"])
    assert len(tree) == 30 + 50 - 1
    result = persistence.neural_persistence({"w": w})
    assert 0 < result.normalized["w"] <= 1


def test_a_layer_of_zeros_has_np_zero_and_the_log_says_so():
    model = build(4, 3, [5], {"name": "none"})
    with torch.no_grad():
        model.layers["hidden_1"].weight.zero_()
    lines = []
    record_ = persistence_record(model, 2.0, np.random.default_rng(0), lines.append)
    assert record_["layers"]["hidden_1"] == 0 and record_["layers"]["output"] > 0
    assert any("hidden_1" in line and "zero" in line for line in lines)


def test_p_must_be_positive():
    with pytest.raises(ValueError, match="p must be positive"):
        persistence.neural_persistence({"a": np.ones((2, 2))}, p=0)


def test_controls_shuffle_within_layers_and_measure_variance():
    rng = np.random.default_rng(2)
    weights = {"a": rng.normal(size=(20, 30)), "b": rng.normal(size=(5, 20)) * 3}
    shuffled = persistence.shuffled(weights, np.random.default_rng(0))
    for name in weights:
        assert np.array_equal(np.sort(shuffled[name].ravel()), np.sort(weights[name].ravel()))
        assert not np.array_equal(shuffled[name], weights[name])
    assert persistence.variances(weights) == pytest.approx({n: np.var(w) for n, w in weights.items()})
    # Structure that shuffling destroys: nine strong weights in one 3 x 3 block are redundant, the tree
    # takes 5 of them (6 vertices) and the other 14 vertices join at 0.1. Shuffled, the strong weights
    # scatter into a forest whose every edge is in the tree, so fewer vertices join weakly: NP falls.
    block = np.full((10, 10), 0.1)
    block[:3, :3] = 1.0
    structured = persistence.neural_persistence({"a": block}).normalized["a"]
    control = persistence.neural_persistence(persistence.shuffled({"a": block}, np.random.default_rng(0))).normalized["a"]
    assert structured == pytest.approx(math.sqrt(14 * 0.9 ** 2) / math.sqrt(19))
    assert control < structured


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def settings(reg="none", widths=(16, 8), **training):
    c = config.validate({"training": {"epochs": 4, "batch_size": 64, "lr": 0.005, **training}})
    return config.training_slice(c, f"mlp{'x'.join(map(str, widths))}-{reg}-s0")


def run(folder, s):
    outputs = SimpleNamespace(**{k: folder / f for k, f in [("state", "model.pt"), ("weights", "weights.h5"),
                                                           ("activations", "activations.h5"), ("metrics", "metrics.json")]})
    model = f"mlp{'x'.join(map(str, s['widths']))}-{s['regularization']['name']}-s{s['seed']}"
    return train_and_record("digits", model, s, outputs, data_dir=folder, device="cpu", log=lambda _: None)


def test_training_records_np_every_epoch_as_recomputed_from_weights_h5(tmp_path):
    metrics = run(tmp_path, settings())
    history = store.read_neural_persistence(tmp_path / "weights.h5")
    assert history.layers == ["hidden_1", "hidden_2", "output"] and history.epochs.tolist() == [0, 1, 2, 3, 4]
    assert [e["neural_persistence"]["mean_normalized"] for e in metrics["epochs"]] == pytest.approx(
        history.measures["normalized"][1:].mean(1).tolist())
    weights = {name: layer.weight for name, layer in store.read_weights(tmp_path / "weights.h5").items()}
    recomputed = independent_np(weights)
    final = metrics["neural_persistence"]["final"]
    assert final["layers"] == pytest.approx(recomputed, abs=1e-6)
    assert history.measures["layers"][-1] == pytest.approx([recomputed[n] for n in history.layers], abs=1e-6)
    assert final["variance"] == pytest.approx({n: float(np.var(w.astype(np.float64))) for n, w in weights.items()})
    assert metrics["neural_persistence"]["p"] == 2 and 0 < metrics["neural_persistence"]["share_of_training_seconds"]


def test_training_and_external_networks_measure_with_the_authors_options(tmp_path):
    from nntopo.network.external import neural_persistence as external_np

    c = config.validate({"training": {"epochs": 2, "batch_size": 64, "lr": 0.005},
                         "neural_persistence": {"bias_vertex": True, "essential": True}})
    s = config.training_slice(c, "mlp16x8-none-s0")
    assert s["neural_persistence"] == {"p": 2, "seed": 0, "bias_vertex": True, "essential": True}
    metrics = run(tmp_path, s)
    recorded = store.read_weights(tmp_path / "weights.h5")
    weights, biases = ({n: getattr(layer, part) for n, layer in recorded.items()} for part in ("weight", "bias"))
    final = metrics["neural_persistence"]["final"]
    assert final["layers"] == pytest.approx(independent_np(weights, 2.0, biases, essential=True), abs=1e-6)
    assert metrics["neural_persistence"]["bias_vertex"] is True and metrics["neural_persistence"]["essential"] is True
    assert final["normalized"]["hidden_1"] == pytest.approx(final["layers"]["hidden_1"] / math.sqrt(64 + 1 + 16 - 1))
    # The same weights imported as an external network are measured the same way
    external = external_np(recorded, s["neural_persistence"])
    assert external["final"]["layers"] == pytest.approx(final["layers"], abs=1e-9)
    assert external["bias_vertex"] is True and external["essential"] is True


def test_the_initial_control_is_the_untrained_network_of_the_seed(tmp_path):
    metrics = run(tmp_path, settings())
    torch.manual_seed(0)
    fresh = build(64, 10, [16, 8], {"name": "none"})
    weights = {name: layer.weight.detach().numpy() for name, layer in fresh.layers.items()}
    assert metrics["neural_persistence"]["initial"]["layers"] == pytest.approx(independent_np(weights), abs=1e-9)
    assert metrics["neural_persistence"]["initial"]["layers"] != pytest.approx(metrics["neural_persistence"]["final"]["layers"])


def entries(values, key):
    return [{"epoch": i + 1, **({"validation_loss": v} if key == "validation_loss" else
                                {"neural_persistence": {"mean_normalized": v}})} for i, v in enumerate(values)]


@pytest.mark.parametrize("values, criterion, patience, min_delta, expected", [
    ([1.0, 0.8, 0.85, 0.9, 0.95], "validation_loss", 3, 0, 5),  # best at 2, three epochs without better
    ([1.0, 0.8, 0.85, 0.7, 0.75, 0.76], "validation_loss", 3, 0, None),  # 0.7 resets the wait
    ([1.0, 0.8, 0.79, 0.78, 0.77], "validation_loss", 2, 0.05, 4),  # better, but by less than min_delta
    ([0.3, 0.35, 0.34, 0.36], "neural_persistence", 2, 0, None),  # higher is better: 0.36 resets
    ([0.3, 0.35, 0.34, 0.33], "neural_persistence", 2, 0, 4),
    ([0.3, 0.29], "neural_persistence", 1, 0, 2),
])
def test_stopping_epoch_by_hand(values, criterion, patience, min_delta, expected):
    assert stopping_epoch(entries(values, criterion), criterion, patience, min_delta) == expected


def test_early_stopping_stops_training_where_the_summary_reads_it_from_a_full_history(tmp_path):
    full = run(tmp_path / "full", settings(epochs=6, validation_split=0.2))
    # min_delta 1: nothing after the first epoch is better by that much, so both stop at 1 + patience
    for criterion in CRITERIA:
        s = settings(epochs=6, validation_split=0.2, early_stopping={"criterion": criterion, "patience": 2, "min_delta": 1})
        stopped = run(tmp_path / criterion, s)
        assert stopped["stopped_early_at"] == 3 and stopped["epochs_trained"] == 3
        assert [e["validation_loss"] for e in stopped["epochs"]] == [e["validation_loss"] for e in full["epochs"][:3]]
        rows = {r["criterion"]: r for r in stopping_rows(full, patience=2, min_delta=1)}
        assert rows[criterion]["epoch"] == 3 and rows[criterion]["stopped"]
        assert rows[criterion]["test_accuracy"] == full["epochs"][2]["test_accuracy"]
    assert full["stopped_early_at"] is None and full["epochs_trained"] == 6


def test_the_validation_images_are_held_out_of_training(digits):
    from nntopo.network.train import validation_split

    x_train, _, x_valid, _ = validation_split(digits, 0.2)
    assert len(x_valid) == round(0.2 * len(digits.x_train)) and len(x_train) + len(x_valid) == len(digits.x_train)
    seen = {row.tobytes() for row in x_train}
    assert not any(row.tobytes() in seen for row in x_valid if (digits.x_train == row).all(1).sum() == 1)
    assert validation_split(digits, None)[2].shape[0] == 0


def test_batchnorm_folds_into_the_recorded_layers(tmp_path, digits):
    metrics = run(tmp_path, settings(reg="batchnorm"))
    weights = store.read_weights(tmp_path / "weights.h5")
    assert weights["hidden_1"].scale is not None and weights["output"].scale is None
    state = torch.load(tmp_path / "model.pt")
    assert "norms.hidden_1.running_mean" in state
    # The numpy replay with the normalisation folded in gives the recorded activations and logits.
    acts = store.read_activations(tmp_path / "activations.h5")
    x = digits.x_test.astype(np.float64)
    for name, recorded in zip(["hidden_1", "hidden_2"], acts.hidden):
        w, b = weights[name].affine()
        x = np.maximum(x @ w.T + b, 0)
        np.testing.assert_allclose(x, recorded, atol=1e-4)
    np.testing.assert_allclose(x @ weights["output"].weight.T + weights["output"].bias, acts.output, atol=1e-3)
    # NP is measured on the Linear maps alone
    assert metrics["neural_persistence"]["final"]["layers"] == pytest.approx(
        independent_np({n: layer.weight for n, layer in weights.items()}), abs=1e-6)


def test_the_summary_tables(tmp_path):
    from nntopo.weights.stage import summarize_persistence

    paths = []
    for reg in ("none", "batchnorm"):
        run(tmp_path / reg, settings(reg=reg, validation_split=0.2))
        paths.append(tmp_path / reg / "metrics.json")
    outputs = SimpleNamespace(table=tmp_path / "np.csv", stopping=tmp_path / "stop.csv", figure=tmp_path / "np.png")
    summarize_persistence(paths, outputs, {"dataset": "digits", "patience": 2, "min_delta": 0})
    table = pd.read_csv(outputs.table)
    assert len(table) == 2 * 5 * 4  # models x epochs 0..4 x (3 layers + the mean)
    means = table[table["layer"] == "mean"].set_index(["model", "epoch"])["normalized"]
    metrics = json.loads(paths[0].read_text())
    assert means[("mlp16x8-none-s0", 4)] == pytest.approx(metrics["neural_persistence"]["final"]["mean_normalized"])
    stopping = pd.read_csv(outputs.stopping)
    assert sorted(stopping["criterion"].unique()) == ["neural_persistence", "validation_loss"] and len(stopping) == 4
    assert outputs.figure.stat().st_size > 0


def test_batchnorm_trains_when_the_last_batch_would_hold_one_image(tmp_path, digits):
    # 1,257 training images in batches of 1,256: the last batch would hold one image, which batch
    # statistics cannot normalise; it joins the batch before it.
    assert len(digits.x_train) % 1256 == 1
    metrics = run(tmp_path, settings(reg="batchnorm", epochs=1, batch_size=1256))
    assert metrics["epochs_trained"] == 1 and np.isfinite(metrics["epochs"][0]["loss"])


def test_the_summary_of_models_trained_until_zero_error_reads_their_checks(tmp_path):
    """A history of checks alone (training.zero_error): the table's epochs are the checks', and no
    early-stopping rows (patience counts epochs), the table's header alone."""
    from nntopo.weights.stage import STOPPING_COLUMNS, summarize_persistence

    run(tmp_path, settings(epochs=9, zero_error={"every": 4}))
    outputs = SimpleNamespace(table=tmp_path / "np.csv", stopping=tmp_path / "stop.csv", figure=tmp_path / "np.png")
    summarize_persistence([tmp_path / "metrics.json"], outputs, {"dataset": "digits", "patience": 2, "min_delta": 0})
    table = pd.read_csv(outputs.table)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    checks = [0] + [entry["epoch"] for entry in metrics["epochs"]]
    assert sorted(table["epoch"].unique()) == checks and checks[:3] == [0, 1, 4]
    stopping = pd.read_csv(outputs.stopping)
    assert stopping.empty and list(stopping.columns) == STOPPING_COLUMNS
