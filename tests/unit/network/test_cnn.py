"""Convolutional networks: ids, config checks, the model, recording channels, and silencing them.

Recorded channels are recomputed with independent code (scipy's correlation, numpy's pooling), and
channel ablation is checked against the network run with the channels' maps zeroed by a hook.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from nntopo import config, data, store
from nntopo.analysis.ablation import Ablator, ablate_clusters, recorded_ablator
from nntopo.analysis.ablation.channels import ChannelAblator
from nntopo.network.model import build
from nntopo.network.stage import recorded_network, train_and_record
from nntopo.network.train import flops_per_sample, record, train
from nntopo.models import MODEL_ID_REGEX, ModelId
from nntopo.weights.neurons import linear_path

# digits' images are 8x8: two 3x3 convolutions without pooling leave 4x4 maps.
SMALL = {"channels": [4, 6], "pool": 1, "dense": [12]}
TRAINING = {"epochs": 4, "batch_size": 64, "lr": 0.01}


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def cnn_config(**overrides):
    return config.validate({"datasets": ["digits"], "widths": [], "cnns": [SMALL], "training": TRAINING,
                            "clustering": {"top_k": 3}, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits):
    folder = tmp_path_factory.mktemp("cnn")
    c = cnn_config()
    model = str(config.model_ids(c)[0])
    files = SimpleNamespace(**{k: folder / f for k, f in [("state", "model.pt"), ("weights", "weights.h5"),
                                                           ("activations", "activations.h5"), ("metrics", "metrics.json")]})
    metrics = train_and_record("digits", model, config.training_slice(c, model), files, data_dir=folder, device="cpu",
                               log=lambda _: None)
    return SimpleNamespace(folder=folder, files=files, metrics=metrics, model=model, config=c)


# --- ids and the config ----------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["cnn16x32-none-s0", "cnn16x32-d64-none-s0", "cnn8-k5-p1-d32x16-tanh-l2-s3",
                                  "mlp100-l2-s0"])
def test_model_ids_read_back_and_match_the_wildcard(text):
    import re

    model = ModelId.parse(text)
    assert str(model) == text and re.fullmatch(MODEL_ID_REGEX, text)
    assert ModelId.parse("cnn16x32-k5-d64-l2-s1") == ModelId((16, 32, 64), "l2", 1, conv=2, kernel=5)


def test_grid_has_the_cnns_and_their_slice_leaves_the_mlps_alone():
    c = config.validate({"widths": [100], "cnns": [{}], "regularizations": ["none"]})
    assert [str(m) for m in config.model_ids(c)] == ["mlp100-none-s0", "cnn16x32-d64-none-s0"]
    mlp = config.training_slice(c, "mlp100-none-s0")
    assert "convolution" not in mlp and "spatial_reduction" not in mlp  # adding CNNs retrains no MLP
    cnn = config.training_slice(c, "cnn16x32-d64-none-s0")
    assert cnn["convolution"] == {"channels": [16, 32], "kernel": 3, "pool": 2} and cnn["widths"] == [64]
    assert cnn["spatial_reduction"] == "max"
    assert config.convolutional_layers("cnn16x32-d64-none-s0") == ["hidden_1", "hidden_2"]
    assert config.layers_of(c, "cnn16x32-d64-none-s0") == ["hidden_1", "hidden_2", "hidden_3", "output"]


@pytest.mark.parametrize("cnn, extra, message", [
    ({"kernel": 30}, {}, r"3?0x30 kernel of convolutional layer 1 is larger than its 28x28 input"),
    ({"channels": [8, 8], "pool": 6}, {}, r"pooling of 6 after convolutional layer 2 shrinks its 2x2 maps below 1x1"),
    ({"channels": [0, 4]}, {}, r"cnns\.0\.channels\.0: 0 is less than the minimum of 1"),
    ({"channels": []}, {}, r"cnns\.0\.channels"),
    ({"channels": [4, 8]}, {"clustering": {"top_k": 5}}, r"top_k: 5 is more than the 4 channels of hidden layer 1"),
    ({}, {"analysis": {"layers": [4]}}, r"hidden layer 4 is deeper than the 3 hidden layer\(s\) of the CNN"),
    ({}, {"datasets": ["disks"]}, r"disks has no images"),
    ({}, {"spatial_reduction": "median"}, r"spatial_reduction: 'median' is not allowed; choose one of: max, mean"),
])
def test_a_cnn_that_cannot_run_is_refused_in_one_line(cnn, extra, message):
    with pytest.raises(config.ConfigError, match=message) as error:
        config.validate({"widths": [], "cnns": [cnn], **extra})
    assert "\n" not in str(error.value)


def test_an_empty_grid_and_twin_cnns_are_refused():
    with pytest.raises(config.ConfigError, match="widths, cnns and external are all empty"):
        config.validate({"widths": []})
    with pytest.raises(config.ConfigError, match="the same network twice"):
        config.validate({"widths": [], "cnns": [{}, {"channels": [16, 32]}]})


# --- the model -------------------------------------------------------------------------------------

def test_default_cnn_shapes_and_multiply_adds():
    model = build(784, 10, [64], {"name": "none"}, None, {"channels": [16, 32], "kernel": 3, "pool": 2}, (28, 28))
    hidden, logits = model.forward_all(torch.zeros(2, 784))
    assert [tuple(h.shape) for h in hidden] == [(2, 16, 26, 26), (2, 32, 11, 11), (2, 64)] and logits.shape == (2, 10)
    # By hand: 26*26 positions x 16x1x3x3, 11*11 x 32x16x3x3, then 32*5*5 -> 64 -> 10.
    by_hand = 26 * 26 * 16 * 9 + 11 * 11 * 32 * 16 * 9 + 800 * 64 + 64 * 10
    assert model.multiply_adds() == by_hand and flops_per_sample(model) == 6 * by_hand


def numpy_forward(weights: dict, images: np.ndarray, pool: int) -> list[np.ndarray]:
    """The CNN's hidden activations by independent code: scipy's 2-D correlation (a torch Conv2d),
    ReLU, max pooling by reshaping, numpy matrix products; per layer (N, C, h, w) or (N, units).
    ``images`` are (N, H, W) grey or (N, C, H, W)."""
    x = images[:, None] if images.ndim == 3 else images
    hidden = []
    for name, layer in weights.items():
        if name == "output":
            break
        if layer.is_convolution:
            maps = np.stack([[sum(correlate2d(image[i], layer.weight[c, i], mode="valid") for i in range(len(image)))
                              + layer.bias[c] for c in range(len(layer.weight))] for image in x])
            h = np.maximum(maps, 0)
            hidden.append(h)
            n, c, height, width = h.shape
            side_h, side_w = height // pool, width // pool
            x = h[:, :, :side_h * pool, :side_w * pool].reshape(n, c, side_h, pool, side_w, pool).max(axis=(3, 5))
        else:
            h = np.maximum(x.reshape(len(x), -1) @ layer.weight.T + layer.bias, 0)
            hidden.append(h)
            x = h
    return hidden


@pytest.mark.parametrize("pool", [1, 2])
def test_recorded_channels_are_the_maps_reduced_by_independent_code(pool):
    torch.manual_seed(pool)
    convolution = {"channels": [3, 5], "kernel": 3, "pool": pool}
    model = build(144, 4, [7], {"name": "none"}, None, convolution, (12, 12))
    images = np.random.default_rng(0).random((6, 144), dtype=np.float32)
    from nntopo.network.train import layers

    expected = numpy_forward(layers(model), images.reshape(6, 12, 12).astype(np.float64), pool)
    for reduction, reduce in (("max", lambda h: h.max(axis=(2, 3))), ("mean", lambda h: h.mean(axis=(2, 3)))):
        hidden, _ = record(model, images, reduction)
        for got, want in zip(hidden, expected):
            np.testing.assert_allclose(got, reduce(want) if want.ndim == 4 else want, rtol=1e-5, atol=1e-5)


def colour_images(n: int, seed: int, shape=(3, 13, 11)) -> tuple[np.ndarray, np.ndarray]:
    """Flat colour images of an odd size whose class (0, 1, 2) is their brighter channel, on noise;
    flattened channel, then row, then column (nntopo's order)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    images = rng.random((n, *shape), dtype=np.float32) * 0.5
    images[np.arange(n), labels] += 0.5
    return images.reshape(n, -1), labels.astype(np.int64)


@pytest.fixture(scope="module")
def colour():
    x_train, y_train = colour_images(300, 0)
    x_test, y_test = colour_images(90, 1)
    return data.Dataset("colour", x_train, y_train, x_test, y_test, (3, 13, 11), ("r", "g", "b"),
                        {"kind": "unit", "low": 0, "high": 255})


def test_a_cnn_reads_colour_images_of_an_odd_size_and_an_mlp_their_flat_values(colour):
    """3 x 13 x 11 images: the first convolution has 3 input channels, the recorded channels are the
    maps computed by independent code on C x H x W, and the MLP's first layer reads 429 inputs."""
    convolution = {"channels": [4, 5], "kernel": 3, "pool": 2}
    cnn = train(colour, [6], {"name": "none"}, {**TRAINING, "epochs": 6, "lr": 0.05}, 0, "cpu", log=lambda _: None,
                convolution=convolution)
    assert cnn.history[-1]["test_accuracy"] > 0.9  # the class is the colour: it has to tell the channels apart
    from nntopo.network.train import layers

    weights = layers(cnn.model)
    # 13 x 11 -> 11 x 9 maps, pooled 5 x 4 -> 3 x 2 maps, pooled 1 x 1: 5 values into the dense layer.
    assert [w.weight.shape for w in weights.values()] == [(4, 3, 3, 3), (5, 4, 3, 3), (6, 5), (3, 6)]
    hidden, logits = record(cnn.model, colour.x_test)
    assert [h.shape for h in hidden] == [(90, 4), (90, 5), (90, 6)] and logits.shape == (90, 3)
    expected = numpy_forward(weights, colour.x_test.reshape(-1, 3, 13, 11).astype(np.float64), pool=2)
    for got, want in zip(hidden, expected):
        np.testing.assert_allclose(got, want.max(axis=(2, 3)) if want.ndim == 4 else want, rtol=1e-4, atol=1e-5)

    mlp = train(colour, [7], {"name": "none"}, {**TRAINING, "epochs": 2}, 0, "cpu", log=lambda _: None)
    first = layers(mlp.model)["hidden_1"]
    assert first.weight.shape == (7, 429)
    np.testing.assert_allclose(record(mlp.model, colour.x_test)[0][0],
                               np.maximum(colour.x_test @ first.weight.T + first.bias, 0), rtol=1e-5, atol=1e-5)


def test_an_input_shape_a_cnn_cannot_read_is_refused():
    convolution = {"channels": [4], "kernel": 3, "pool": 1}
    with pytest.raises(ValueError, match=r"input shape \[3, 13, 11\] holds 429 values, but the network reads 143"):
        build(143, 3, [], {"name": "none"}, None, convolution, (3, 13, 11))
    with pytest.raises(ValueError, match=r"reads images \(channels, height, width\), not inputs shaped \[2\]"):
        build(2, 3, [], {"name": "none"}, None, convolution, (2,))


def test_mnist_shaped_cnns_are_built_and_run_as_before(digits):
    """What keeps the default study's numbers: a grey 28 x 28 CNN, given (1, 28, 28) or the (28, 28)
    of before, draws the same weights from the seed as torch's layers made in the old order (a 1-channel
    convolution first), and runs its flat inputs as 1 x 28 x 28 maps through them, bit for bit."""
    from torch import nn

    convolution = {"channels": [4, 8], "kernel": 3, "pool": 2}
    torch.manual_seed(5)
    model = build(784, 10, [16], {"name": "batchnorm"}, None, convolution, (1, 28, 28)).eval()
    torch.manual_seed(5)
    before = build(784, 10, [16], {"name": "batchnorm"}, None, convolution, (28, 28)).eval()
    torch.manual_seed(5)
    old = [nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3), nn.Linear(8 * 5 * 5, 16), nn.Linear(16, 10)]
    state = model.state_dict()
    assert list(state) == list(before.state_dict())
    assert all(torch.equal(value, before.state_dict()[key]) for key, value in state.items())
    for name, layer in zip(("hidden_1", "hidden_2", "hidden_3", "output"), old):
        assert torch.equal(state[f"layers.{name}.weight"], layer.weight)
        assert torch.equal(state[f"layers.{name}.bias"], layer.bias)
    x = torch.rand(5, 784, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        h = x.reshape(5, 1, 28, 28)
        for conv, norm in zip(old[:2], (model.norms["hidden_1"], model.norms["hidden_2"])):
            h = nn.functional.max_pool2d(torch.relu(norm(conv(h))), 2)
        logits = old[3](torch.relu(model.norms["hidden_3"](old[2](h.flatten(1)))))
        assert torch.equal(model(x), logits)


def test_training_a_cnn_is_deterministic_on_cpu(digits):
    runs = [train(digits, [8], {"name": "l2", "strength": 1e-4}, {**TRAINING, "epochs": 2}, 3, "cpu",
                  log=lambda _: None, convolution={**SMALL, "kernel": 3}) for _ in range(2)]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values()):
        assert torch.equal(a, b)


def test_neural_persistence_covers_the_dense_layers(trained):
    persistence = trained.metrics["neural_persistence"]["final"]
    assert list(persistence["layers"]) == ["hidden_3", "output"]  # Rieck et al.'s fully connected layers


# --- the recorded files ----------------------------------------------------------------------------

def test_files_hold_kernels_and_reduced_channels(trained, digits):
    weights = store.read_weights(trained.files.weights)
    assert [w.weight.shape for w in weights.values()] == [(4, 1, 3, 3), (6, 4, 3, 3), (12, 96), (10, 12)]
    assert weights["hidden_1"].kernel_shape == (3, 3) and not weights["hidden_3"].is_convolution
    acts = store.read_activations(trained.files.activations)
    assert [h.shape for h in acts.hidden] == [(540, 4), (540, 6), (540, 12)]
    assert acts.attrs["convolutions"] == ["hidden_1", "hidden_2"] and acts.attrs["spatial_reduction"] == "max"
    # The test accuracy, recomputed from the recorded logits and the dataset's own labels.
    assert np.mean(acts.output.argmax(1) == digits.y_test) == pytest.approx(trained.metrics["test_accuracy"])
    assert trained.metrics["test_accuracy"] > 0.5
    # The channels, recomputed by independent code from model.pt's weights.
    state = torch.load(trained.files.state, weights_only=True)
    independent = {name: store.Layer(state[f"layers.{name}.weight"].double().numpy(), state[f"layers.{name}.bias"].double().numpy())
                   for name in ("hidden_1", "hidden_2", "hidden_3", "output")}
    expected = numpy_forward(independent, digits.x_test.reshape(-1, 8, 8).astype(np.float64), pool=1)
    for got, want in zip(acts.hidden, expected):
        np.testing.assert_allclose(got, want.max(axis=(2, 3)) if want.ndim == 4 else want, rtol=1e-4, atol=1e-5)


def test_affine_folds_a_channels_batch_normalisation():
    layer = store.Layer(np.ones((2, 1, 3, 3)), np.array([1.0, 2.0]), np.array([2.0, 3.0]), np.array([0.5, -1.0]))
    weight, bias = layer.affine()
    np.testing.assert_array_equal(weight[:, 0, 0, 0], [2.0, 3.0])
    np.testing.assert_array_equal(bias, [2.5, 5.0])
    assert layer.unit_weights().shape == (2, 9)


def test_weights_that_do_not_chain_are_refused(tmp_path):
    layers = {"hidden_1": store.Layer(np.zeros((4, 1, 3, 3)), np.zeros(4)),
              "hidden_2": store.Layer(np.zeros((6, 5, 3, 3)), np.zeros(6)),
              "output": store.Layer(np.zeros((10, 24)), np.zeros(10))}
    store.write_weights(tmp_path / "w.h5", layers, {})
    with pytest.raises(store.StoreError, match="do not chain"):
        store.read_weights(tmp_path / "w.h5")


def test_linear_path_of_a_channel_adds_up_its_kernels():
    """A channel's vote through a convolution and a dense layer reading 2 positions per channel."""
    layers = {"hidden_1": store.Layer(np.zeros((2, 1, 1, 1)), np.zeros(2)),
              "hidden_2": store.Layer(np.arange(8.0).reshape(1, 2, 2, 2), np.zeros(1)),  # 1 channel
              "output": store.Layer(np.array([[1.0, 2.0], [3.0, -1.0]]), np.zeros(2))}  # 2 positions of 1 channel
    # hidden_2's kernel sums: channel 0 -> 0+1+2+3 = 6, channel 1 -> 4+5+6+7 = 22; the output's blocks: 3 and 2.
    np.testing.assert_allclose(linear_path(layers, "hidden_1"), [[3 * 6, 3 * 22], [2 * 6, 2 * 22]])


# --- silencing channels ----------------------------------------------------------------------------

def hooked_correct(model, images, labels, layer, silenced):
    """The network run with ``layer``'s silenced channels' maps zeroed by a forward hook (float64)."""
    model = model.double().eval()

    def zero(module, inputs, output):
        output = output.clone()
        output[:, list(silenced)] = 0
        return output

    # The hook sits on the activation's output of that layer: the network's own forward pass otherwise.
    names = list(model.layers)
    calls = {"n": 0}
    original = model._activate

    def activate(name, z):
        h = original(name, z)
        if name == layer:
            calls["n"] += 1
            return zero(None, None, h)
        return h

    model._activate = activate
    with torch.no_grad():
        logits = model(torch.from_numpy(images.astype(np.float64)))
    model._activate = original
    assert calls["n"] == 1 and layer in names
    return logits.argmax(1).numpy() == labels


@pytest.mark.parametrize("layer", ["hidden_1", "hidden_2"])  # before a convolution, before a dense layer
def test_channel_ablation_matches_the_network_with_maps_zeroed(trained, digits, layer):
    acts = store.read_activations(trained.files.activations)
    weights = store.read_weights(trained.files.weights)
    attrs = store.read_attrs(trained.files.activations)

    def network():
        return recorded_network(trained.files.state, attrs, 10, data_dir=trained.folder)

    ablator = recorded_ablator(acts, weights, layer, network=network)
    assert isinstance(ablator, ChannelAblator) and ablator.n_neurons == weights[layer].weight.shape[0]
    model, images = network()
    for silenced in ([], [0], [1, 3], list(range(ablator.n_neurons))):
        np.testing.assert_array_equal(ablator.correct(silenced),
                                      hooked_correct(model, images, digits.y_test, layer, silenced))
    # The dense layer after the convolutions is replayed from the recorded activations, as an MLP's.
    assert isinstance(recorded_ablator(acts, weights, "hidden_3", network=network), Ablator)


def test_channels_of_another_model_are_refused(trained, tmp_path):
    acts = store.read_activations(trained.files.activations)
    weights = store.read_weights(trained.files.weights)
    attrs = store.read_attrs(trained.files.activations)
    other = build(64, 10, [12], {"name": "none"}, None, {**SMALL, "kernel": 3}, (8, 8))
    torch.save(other.state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="channels of hidden_1 recomputed from the network differ"):
        recorded_ablator(acts, weights, "hidden_1",
                         network=lambda: recorded_network(tmp_path / "model.pt", attrs, 10, data_dir=tmp_path))
    (tmp_path / "broken.pt").write_text("not a state dict")
    with pytest.raises(store.StoreError, match="broken.pt: not the state dict"):
        recorded_network(tmp_path / "broken.pt", attrs, 10, data_dir=tmp_path)


def test_ablating_clusters_of_channels_runs_the_random_baseline(trained, digits):
    """The cluster table for channels: the top channels of each cluster against random channels."""
    import pandas as pd

    acts = store.read_activations(trained.files.activations)
    weights = store.read_weights(trained.files.weights)
    attrs = store.read_attrs(trained.files.activations)
    ablator = recorded_ablator(acts, weights, "hidden_2", network=lambda: recorded_network(
        trained.files.state, attrs, 10, data_dir=trained.folder))
    labels = digits.y_test  # the true classes as clusters
    ranking = pd.DataFrame([{"cluster": c, "neuron": n, "rank": r + 1} for c in range(10)
                            for r, n in enumerate(np.argsort(-acts.hidden[1][labels == c].mean(0))[:2])])
    table = ablate_clusters(None, None, None, labels, labels, ranking, top_k=2, n_random=10, ablator=ablator)
    assert len(table) == 10 and (table["n_silenced"] == 2).all()
    assert ((table["p_value"] >= 1 / 11) & (table["p_value"] <= 1)).all()
    own = table.loc[0, "acc_cluster_after"]
    silenced = [int(n) for n in table.loc[0, "neurons"].split()]
    assert own == pytest.approx(ablator.correct(silenced)[labels == 0].mean())


@pytest.mark.realdata
def test_default_cnn_learns_mnist_in_one_epoch(real_data_dir):
    mnist = data.load("mnist", real_data_dir, download=False)
    c = config.validate({"widths": [], "cnns": [{}], "regularizations": ["none"], "training": {"epochs": 1}})
    s = config.training_slice(c, "cnn16x32-d64-none-s0")
    result = train(mnist, s["widths"], s["regularization"], s["training"], 0, "cpu", log=lambda _: None,
                   convolution=s["convolution"])
    assert result.history[-1]["test_accuracy"] > 0.95
    assert json.dumps(s)  # the slice is what the files store
