"""The training options that reproduce the papers' set-ups (issue 28): initialisation, schedules, batch
normalisation as Rieck et al.'s TF1 code computes it, and training until zero error as Naitzat et al.'s
code does; each checked against the formula or a by-hand recomputation."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import config, data, store
from nntopo.network.model import FixedBatchNorm, build, initialise
from nntopo.network.stage import train_and_record
from nntopo.network.train import layers, learning_rate_factor, record, train

QUIET = {"log": lambda _: None}


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def slice_of(model="mlp16-none-s0", regularization=None, **training):
    c = config.validate({"training": {"epochs": 3, "batch_size": 64, "lr": 0.005, **training},
                         **({"regularization": regularization} if regularization else {})})
    return config.training_slice(c, model)


# --- initialisation ---------------------------------------------------------------------------------------

def test_glorot_uniform_draws_weights_in_their_bound_and_zero_biases():
    torch.manual_seed(0)
    net = build(784, 10, (650, 650), {"name": "none"})
    initialise(net, "glorot_uniform")
    for layer in net.layers.values():
        n_out, n_in = layer.weight.shape
        bound = math.sqrt(6 / (n_in + n_out))
        w = layer.weight.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound  # uniform up to the bound
        assert np.var(w) == pytest.approx(bound ** 2 / 3, rel=0.03)  # a uniform's variance
        assert not layer.bias.detach().numpy().any()


def test_glorot_uniform_with_bias_draws_the_padded_matrix():
    """Rieck et al.: the bias is the last row of one (n_in + 1) x n_out Glorot-uniform matrix, so the
    weights and the bias share the bound sqrt(6 / (n_in + 1 + n_out))."""
    torch.manual_seed(0)
    net = build(784, 10, (650, 650), {"name": "none"})
    initialise(net, "glorot_uniform_with_bias")
    for layer in net.layers.values():
        n_out, n_in = layer.weight.shape
        bound = math.sqrt(6 / (n_in + 1 + n_out))
        padded = np.vstack([layer.weight.detach().numpy().T, layer.bias.detach().numpy()])  # theirs: (n_in + 1, n_out)
        assert np.abs(padded).max() <= bound and np.abs(padded).max() > 0.99 * bound
        assert np.var(padded) == pytest.approx(bound ** 2 / 3, rel=0.03)
        assert np.abs(layer.bias.detach().numpy()).max() > 0.8 * bound  # the bias spread as widely as a weight


def test_an_initialisation_is_the_seed_s_and_torch_s_own_is_left_alone():
    def drawn(scheme, seed):
        torch.manual_seed(seed)
        net = build(20, 3, (8,), {"name": "none"})
        initialise(net, scheme)
        return net.layers["hidden_1"].weight.detach().clone()

    assert torch.equal(drawn("glorot_uniform", 1), drawn("glorot_uniform", 1))
    assert not torch.equal(drawn("glorot_uniform", 1), drawn("glorot_uniform", 2))
    assert torch.equal(drawn("torch", 3), drawn(None, 3))


# --- schedules ---------------------------------------------------------------------------------------------

def test_the_schedules_factors_by_their_formulas():
    halving = learning_rate_factor({"schedule": "halving", "half_life": 2500}, steps=10_000)
    # TF1's exponential_decay(lr, step, 2500, 0.5), not staircase: lr * 0.5 ** (step / 2500)
    assert [halving(s) for s in (0, 1250, 2500, 5000)] == pytest.approx([1, 2 ** -0.5, 0.5, 0.25])
    assert learning_rate_factor({"schedule": "constant"}, steps=100)(77) == 1
    cosine = learning_rate_factor({}, steps=100)
    assert [cosine(s) for s in (0, 50, 100)] == pytest.approx([1, 0.5, 0])


def test_a_constant_schedule_trains_at_lr_throughout(digits):
    """The training a constant schedule gives equals Adam at a fixed rate, step for step."""
    s = slice_of(schedule="constant", epochs=2)
    ours = train(digits, s["widths"], s["regularization"], s["training"], 0, "cpu", **QUIET).model
    torch.manual_seed(0)
    theirs = build(digits.n_features, 10, s["widths"], s["regularization"])
    optimiser = torch.optim.Adam(theirs.parameters(), lr=0.005)
    shuffle = torch.Generator().manual_seed(0)
    x, y = torch.from_numpy(digits.x_train), torch.from_numpy(digits.y_train)
    for _ in range(2):
        for batch in torch.randperm(len(x), generator=shuffle).split(64):
            loss = torch.nn.functional.cross_entropy(theirs(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


# --- batch normalisation as Rieck et al.'s code computes it ------------------------------------------------

RIECK_BN = {"batchnorm": {"position": "after_activation", "statistics": "fixed", "epsilon": 0.001}}


def test_fixed_statistics_never_move_and_normalise_as_tf1_with_training_false():
    norm = FixedBatchNorm(5, eps=0.001)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, -1.0, 0.5, 3.0]))
        norm.bias.copy_(torch.tensor([0.0, 1.0, 0.5, -2.0, 0.1]))
    x = torch.randn(32, 5) * 4 + 7
    norm.train()
    out = norm(x)
    # TF1's batch_normalization(training=False): gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta,
    # with the moving averages at their initial 0 and 1, and no update op.
    assert torch.allclose(out, norm.weight * x / math.sqrt(1.001) + norm.bias)
    assert torch.equal(norm.running_mean, torch.zeros(5)) and torch.equal(norm.running_var, torch.ones(5))


def test_after_the_activation_the_record_is_the_activation_and_the_next_layer_reads_it_normalised(tmp_path, digits):
    s = slice_of("mlp16x12-batchnorm-s0", regularization=RIECK_BN, epochs=2)
    net = train(digits, s["widths"], s["regularization"], s["training"], 0, "cpu", **QUIET).model.eval()
    x = digits.x_test[:50]
    hidden, logits = record(net, x)
    # by hand from the torch parameters: map, relu, then gamma * h / sqrt(1 + eps) + beta
    h, t = [], torch.from_numpy(x)
    for name in ("hidden_1", "hidden_2"):
        a = torch.relu(net.layers[name](t))
        h.append(a.detach().numpy())
        norm = net.norms[name]
        t = norm.weight * a / math.sqrt(1.001) + norm.bias
    assert np.allclose(hidden[0], h[0], atol=1e-5) and np.allclose(hidden[1], h[1], atol=1e-5)
    assert np.allclose(logits, net.layers["output"](t).detach().numpy(), atol=1e-5)
    assert any(float(net.norms[n].weight.detach().std()) > 0 for n in net.norms), "gamma was trained"

    # weights.h5 keeps each normalisation with the layer that reads it, and the replay the ablation uses
    # (Layer.affine from a recorded activation) gives the logits back.
    path = tmp_path / "weights.h5"
    store.write_weights(path, layers(net), {})
    read = store.read_weights(path)
    assert read["hidden_1"].input_scale is None and read["hidden_1"].scale is None
    assert read["hidden_2"].input_scale is not None and read["output"].input_shift is not None
    w2, b2 = read["hidden_2"].affine()
    w3, b3 = read["output"].affine()
    replayed = np.maximum(hidden[0] @ w2.T + b2, 0) @ w3.T + b3
    assert np.allclose(replayed, logits, atol=1e-4)


def test_the_default_batch_normalisation_is_unchanged(digits):
    """No options: torch's BatchNorm1d between the map and the activation, as before."""
    s = slice_of("mlp16-batchnorm-s0")
    net = build(digits.n_features, 10, s["widths"], s["regularization"])
    assert type(net.norms["hidden_1"]) is torch.nn.BatchNorm1d and not net.norm_after
    assert net.norms["hidden_1"].eps == 1e-5


def test_after_the_activation_is_refused_for_a_cnn():
    with pytest.raises(ValueError, match="fully connected"):
        build(64, 10, (8,), {"name": "batchnorm", "position": "after_activation"},
              convolution={"channels": [4], "kernel": 3, "pool": 2}, input_shape=(8, 8))


# --- training until zero error -----------------------------------------------------------------------------

def blobs(n=200, gap=6.0):
    """Two far-apart Gaussian blobs: any network separates them in a few steps."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], n // 2)
    x = (rng.normal(size=(n, 2)) + gap * y[:, None]).astype(np.float32)
    return SimpleNamespace(x_train=x, y_train=y, x_test=x, y_test=y, n_features=2, n_outputs=2, input_shape=None,
                           task="classification", levels=None, targets_of=None)


def test_zero_error_ends_training_at_the_first_check_with_every_point_right():
    s = slice_of("mlp8-none-s0", epochs=500, batch_size=200, lr=0.05, zero_error={"every": 10})
    trained = train(blobs(), s["widths"], s["regularization"], s["training"], 0, "cpu", **QUIET)
    assert trained.stopped_by == "zero_error" and trained.train_error == 0
    checks = [entry["epoch"] for entry in trained.history]
    assert checks[0] == 1 and all(epoch % 10 == 0 for epoch in checks[1:]) and trained.epochs == checks[-1]
    assert [entry["train_error"] for entry in trained.history][-1] == 0
    assert all(entry["train_error"] > 0 for entry in trained.history[:-1])  # it stopped at the first zero
    predictions = trained.model.eval()(torch.from_numpy(blobs().x_train)).argmax(1).numpy()
    assert (predictions == blobs().y_train).all()


def test_give_up_ends_a_trial_whose_best_accuracy_did_not_rise():
    """A learning rate too small to move anything: the accuracy at the second check is the first's."""
    s = slice_of("mlp8-none-s0", epochs=500, batch_size=200, lr=1e-12, schedule="constant",
                 zero_error={"every": 5, "give_up": True})
    data_ = blobs(gap=0.5)  # overlapping: not separable at the start
    trained = train(data_, s["widths"], s["regularization"], s["training"], 0, "cpu", **QUIET)
    assert trained.stopped_by == "no_progress" and trained.epochs == 5 and trained.train_error > 0
    assert [entry["epoch"] for entry in trained.history] == [1, 5]


def test_metrics_say_whether_a_network_reached_zero_error(tmp_path, digits):
    s = slice_of(epochs=2)
    files = SimpleNamespace(**{k: tmp_path / f for k, f in [("state", "model.pt"), ("weights", "weights.h5"),
                                                             ("activations", "activations.h5"), ("metrics", "m.json")]})
    metrics = train_and_record("digits", "mlp16-none-s0", s, files, data_dir=tmp_path, device="cpu", **QUIET)
    net = build(digits.n_features, 10, s["widths"], s["regularization"])
    net.load_state_dict(torch.load(files.state))
    right = (net.eval()(torch.from_numpy(digits.x_train)).argmax(1).numpy() == digits.y_train).mean()
    assert metrics["train_error"] == pytest.approx(1 - right, abs=1e-12)
    assert metrics["zero_training_error"] is bool(right == 1)
    assert metrics["epochs_trained"] == 2 and metrics["stopped_by"] is None


def test_weights_h5_records_the_epochs_of_the_checks(tmp_path):
    s = slice_of("mlp8-none-s0", epochs=500, batch_size=200, lr=0.05, zero_error={"every": 10})
    trained = train(blobs(), s["widths"], s["regularization"], s["training"], 0, "cpu", **QUIET)
    from nntopo.topology.persistence import record_epochs, records

    store.write_weights(tmp_path / "w.h5", layers(trained.model), {},
                        extra=store.neural_persistence_writer(records(trained.initial, trained.history), {"p": 2},
                                                              record_epochs(trained.history)))
    history = store.read_neural_persistence(tmp_path / "w.h5")
    assert list(history.epochs) == [0] + [entry["epoch"] for entry in trained.history]
    assert list(history.epochs[:3]) == [0, 1, 10]


@pytest.mark.parametrize("settings, says", [
    ({"training": {"zero_error": {"every": 5}, "validation_split": 0.1,
                   "early_stopping": {"criterion": "validation_loss"}}}, "both end training"),
    ({"training": {"schedule": "halving"}}, "needs training.half_life"),
    ({"training": {"half_life": 100}}, "read by the halving schedule alone"),
    ({"regularizations": ["batchnorm"], "regularization": {"batchnorm": {"position": "after_activation"}},
      "cnns": [{"channels": [8], "dense": []}]}, "for fully connected networks"),
])
def test_settings_that_cannot_work_together_are_refused_in_one_line(settings, says):
    with pytest.raises(config.ConfigError, match=says) as error:
        config.validate(settings)
    assert "\n" not in str(error.value)


def test_the_homology_tables_read_the_training_accuracy_on_every_point():
    """Zero training error is a fact of every training point after training, not of the running
    accuracy of the last epoch's batches (read from files made before train_error was recorded)."""
    from nntopo.topology import stage

    assert stage._scores({"test_accuracy": 0.9, "train_error": 0.0, "epochs": [{"train_accuracy": 0.9997}]}) == \
        {"train_accuracy": 1.0, "test_accuracy": 0.9}
    assert stage._scores({"test_accuracy": 0.9, "epochs": [{"train_accuracy": 0.9997}]})["train_accuracy"] == 0.9997
