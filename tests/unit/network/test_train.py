import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import config, data, store
from nntopo.store import StoreError
from nntopo.network.stage import train_and_record
from nntopo.network.train import TrainingDiverged, train, weight_stats

TINY = {"epochs": 3, "batch_size": 64, "lr": 0.005}


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def settings(reg="none", widths=(16,), seed=0, **training):
    c = config.validate({"training": {**TINY, **training}})
    return config.training_slice(c, f"mlp{'x'.join(map(str, widths))}-{reg}-s{seed}")


def outputs(folder):
    return SimpleNamespace(**{k: folder / f for k, f in
                              [("state", "model.pt"), ("weights", "weights.h5"),
                               ("activations", "activations.h5"), ("metrics", "metrics.json")]})


def run(folder, s, dataset="digits"):
    return train_and_record(dataset, f"mlp{'x'.join(map(str, s['widths']))}-{s['regularization']['name']}-s{s['seed']}",
                            s, outputs(folder), data_dir=folder, device="cpu", log=lambda _: None)


def test_same_seed_same_weights_other_seed_differs(tmp_path, digits):
    s = settings()
    runs = [train(digits, s["widths"], s["regularization"], s["training"], seed, "cpu", log=lambda _: None)
            for seed in (0, 0, 1)]
    states = [r.model.state_dict() for r in runs]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]["layers.hidden_1.weight"], states[2]["layers.hidden_1.weight"])


def test_outputs_have_the_layout_and_provenance(tmp_path, digits):
    s = settings(widths=(12, 8), epochs=15)
    metrics = run(tmp_path, s)
    weights = store.read_weights(tmp_path / "weights.h5")
    assert list(weights) == ["hidden_1", "hidden_2", "output"]
    assert weights["hidden_1"].weight.shape == (12, 64) and weights["hidden_2"].weight.shape == (8, 12)
    assert weights["output"].weight.shape == (10, 8) and weights["output"].bias.shape == (10,)

    acts = store.read_activations(tmp_path / "activations.h5")
    n = len(digits.x_test)
    assert [h.shape for h in acts.hidden] == [(n, 12), (n, 8)] and acts.output.shape == (n, 10)
    assert (acts.hidden[0] >= 0).all(), "hidden activations are taken after ReLU"
    assert np.array_equal(acts.labels, digits.y_test)
    assert np.array_equal(acts.predictions, acts.output.argmax(1))
    assert np.mean(acts.predictions == acts.labels) == pytest.approx(metrics["test_accuracy"])

    # The recorded activations are the network's: recompute them from the stored weights.
    h1 = np.maximum(digits.x_test @ weights["hidden_1"].weight.T + weights["hidden_1"].bias, 0)
    np.testing.assert_allclose(acts.hidden[0], h1, rtol=1e-5, atol=1e-5)

    for path in ("weights.h5", "activations.h5"):
        attrs = store.read_attrs(tmp_path / path)
        assert attrs["dataset"] == "digits" and attrs["model"] == "mlp12x8-none-s0" and attrs["seed"] == 0
        assert json.loads(attrs["config"]) == s and "torch" in json.loads(attrs["versions"])
        assert attrs["image_shape"] == [8, 8]

    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert len(saved["epochs"]) == 15 and {"loss", "train_accuracy", "test_accuracy"} <= set(saved["epochs"][0])
    assert saved["test_accuracy"] > 0.8
    assert {"weight_l2_norm", "near_zero_fraction", "train_seconds"} <= set(saved)
    state = torch.load(tmp_path / "model.pt")
    assert torch.equal(state["layers.hidden_1.weight"], torch.from_numpy(weights["hidden_1"].weight))


def test_regularization_shrinks_or_sparsifies_weights(digits):
    stats = {}
    for reg, params in [("none", {}), ("l2", {"strength": 1e-2}), ("l1", {"strength": 1e-4})]:
        trained = train(digits, [32], {"name": reg, **params}, {**TINY, "epochs": 10}, 0, "cpu", log=lambda _: None)
        stats[reg] = weight_stats(trained.model)
    assert stats["l2"]["weight_l2_norm"] < 0.8 * stats["none"]["weight_l2_norm"]
    assert stats["l1"]["near_zero_fraction"] > stats["none"]["near_zero_fraction"] + 0.1


@pytest.mark.parametrize("name", ["l2", "l1"])
def test_the_penalty_gradient_is_that_of_the_penalty_in_the_loss(name):
    from nntopo.network.model import MLP, add_penalty_gradient

    torch.manual_seed(0)
    net, x, y = MLP(8, (6, 5), 3), torch.randn(20, 8), torch.randint(0, 3, (20,))
    strength, weights = 0.1, net.weight_matrices()
    term = sum(w.pow(2).sum() if name == "l2" else w.abs().sum() for w in weights)
    (torch.nn.functional.cross_entropy(net(x), y) + strength * term).backward()
    in_loss = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    add_penalty_gradient(net, {"name": name, "strength": strength})
    for expected, p in zip(in_loss, net.parameters()):
        torch.testing.assert_close(p.grad, expected)
    biases = [layer.bias.grad for layer in net.layers.values()]
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    assert all(torch.equal(b, layer.bias.grad) for b, layer in zip(biases, net.layers.values())), "biases are free"


def test_nan_loss_stops_with_a_clear_error(digits):
    with pytest.raises(TrainingDiverged, match="loss is (nan|inf).*lower training.lr"):
        train(digits, [16], {"name": "none"}, {**TINY, "lr": 1e30}, 0, "cpu", log=lambda _: None)


def test_readers_say_what_is_wrong_with_a_foreign_file(tmp_path):
    import h5py

    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as h5:
        h5["hidden_1"] = np.zeros((5, 3), dtype=np.float32)
        h5["output"] = np.zeros((5, 10), dtype=np.float32)
        h5["labels"] = np.zeros(5, dtype=np.float32)
        h5["predictions"] = np.zeros(5, dtype=np.int64)
    with pytest.raises(StoreError, match="'labels' is float32.*expected a 1-D integer"):
        store.read_activations(path)
    with pytest.raises(StoreError, match="expected groups output; found groups: none"):
        store.read_weights(path)
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(StoreError, match="not a readable HDF5 file"):
        store.read_activations(tmp_path / "junk.h5")


@pytest.mark.realdata
def test_one_epoch_on_real_mnist_learns(real_data_dir):
    mnist = data.load("mnist", real_data_dir, download=False)
    trained = train(mnist, [100], {"name": "none"}, {"epochs": 1, "batch_size": 512, "lr": 0.005}, 0, "cpu",
                    log=lambda _: None)
    assert trained.history[-1]["test_accuracy"] > 0.9


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_recorded_activations_are_the_chosen_function_of_the_recorded_weights(tmp_path, digits, activation):
    """A tanh or leaky-ReLU model learns, and its recorded layers are f(W h + b) of the layer before,
    with the function it was built with (negative values included)."""
    c = config.validate({"widths": [[12, 8]], "activations": [activation], "training": {**TINY, "epochs": 10}})
    model = f"mlp12x8-{activation}-none-s0"
    s = config.training_slice(c, model)
    metrics = train_and_record("digits", model, s, outputs(tmp_path), data_dir=tmp_path, device="cpu",
                               log=lambda _: None)
    assert metrics["test_accuracy"] > 0.8
    weights = store.read_weights(tmp_path / "weights.h5")
    acts = store.read_activations(tmp_path / "activations.h5")
    z = acts.hidden[0] @ weights["hidden_2"].weight.T + weights["hidden_2"].bias
    expected = np.tanh(z) if activation == "tanh" else np.where(z > 0, z, 0.2 * z)
    np.testing.assert_allclose(acts.hidden[1], expected, rtol=1e-4, atol=1e-5)
    assert (acts.hidden[1] < 0).any()
    assert json.loads(acts.attrs["config"])["activation"]["name"] == activation


# --- the analysed points ----------------------------------------------------------------------------

def test_every_test_point_is_recorded_in_order_by_default(tmp_path, digits):
    metrics = run(tmp_path, settings())
    acts = store.read_activations(tmp_path / "activations.h5")
    np.testing.assert_array_equal(acts.point_index, np.arange(len(digits.y_test)))
    assert acts.points == {"split": "test", "of": 540, "n": 540, "seed": 0, "subsample": False}
    assert metrics["analysed_points"] == "all 540 test points" and "analysed_accuracy" not in metrics
    for path in ("weights.h5", "activations.h5"):
        attrs = store.read_attrs(tmp_path / path)
        assert attrs["input_shape"] == [1, 8, 8] and attrs["image_shape"] == [8, 8]
        assert json.loads(attrs["scaling"]) == {"kind": "unit", "low": 0, "high": 16} == digits.scaling


def test_a_seeded_subsample_of_the_training_points_is_recorded(tmp_path, digits):
    """analysis.split train with 200 points: the recorded layers are the network's on those training
    images, labelled and indexed as they are; the test accuracy is still the whole test split's."""
    from nntopo.network.stage import recorded_network

    s = settings(widths=(12,), epochs=5)
    points = {"split": "train", "points": 200, "seed": 1}
    metrics = train_and_record("digits", "mlp12-none-s0", s, outputs(tmp_path), data_dir=tmp_path, device="cpu",
                               log=lambda _: None, points=points)
    acts = store.read_activations(tmp_path / "activations.h5")
    index = acts.point_index
    assert len(index) == 200 and (np.diff(index) > 0).all() and 0 <= index[0] and index[-1] < len(digits.y_train)
    assert acts.points == {"split": "train", "of": 1257, "n": 200, "seed": 1, "subsample": True}
    np.testing.assert_array_equal(acts.labels, digits.y_train[index])
    weights = store.read_weights(tmp_path / "weights.h5")
    h1 = np.maximum(digits.x_train[index] @ weights["hidden_1"].weight.T + weights["hidden_1"].bias, 0)
    np.testing.assert_allclose(acts.hidden[0], h1, rtol=1e-5, atol=1e-5)
    assert metrics["analysed_points"] == "200 of 1,257 train points, seed 1"
    assert metrics["analysed_accuracy"] == pytest.approx(np.mean(acts.predictions == acts.labels))
    # The test accuracy, recomputed from the stored weights on every test image.
    test_h1 = np.maximum(digits.x_test @ weights["hidden_1"].weight.T + weights["hidden_1"].bias, 0)
    test_logits = test_h1 @ weights["output"].weight.T + weights["output"].bias
    assert metrics["test_accuracy"] == pytest.approx(np.mean(test_logits.argmax(1) == digits.y_test))
    # Another seed draws other points; the same seed the same ones.
    other = tmp_path / "other"
    train_and_record("digits", "mlp12-none-s0", s, outputs(other), data_dir=tmp_path, device="cpu",
                     log=lambda _: None, points={**points, "seed": 2})
    assert not np.array_equal(store.read_activations(other / "activations.h5").point_index, index)

    # The network replayed on the points it was recorded on (what a CNN's ablation and figures need).
    attrs = store.read_attrs(tmp_path / "activations.h5")
    model, x = recorded_network(tmp_path / "model.pt", attrs, 10, data_dir=tmp_path, point_index=index)
    np.testing.assert_array_equal(x, digits.x_train[index])
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(x)).numpy(), acts.output, rtol=1e-5, atol=1e-5)
    with pytest.raises(StoreError, match=r"a subsample \(200 of 1257 train points\); give their point_index"):
        recorded_network(tmp_path / "model.pt", attrs, 10, data_dir=tmp_path)


@pytest.mark.parametrize("attrs, shape", [({"input_shape": [3, 13, 11], "image_shape": [13, 11]}, (3, 13, 11)),
                                          ({"image_shape": [28, 28]}, (1, 28, 28)),  # a file from before colour
                                          ({"input_shape": [2], "image_shape": []}, (2,)),
                                          ({"image_shape": []}, ())])
def test_the_recorded_input_shape_of_new_and_older_files(attrs, shape):
    from nntopo.datasets import recorded_input_shape

    assert recorded_input_shape(attrs) == shape
