"""A grid MLP on a regression dataset: d outputs trained with mean squared error, learning a linear target
to a small error; its files (activations.h5 with targets, task and level sets; metrics.json with the
test and training MSE and relative L2 error) recomputed from its stored weights in numpy; the same seed
the same numbers; early stopping on the validation MSE; a diverging regressor stopped in one line."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import config, data, store
from nntopo import task as tasks
from nntopo.data.prepare import prepare
from nntopo.network.stage import train_and_record
from nntopo.network.train import TrainingDiverged, train

# A linear target of 3 inputs, 2 values a point: what an MLP of ReLUs fits closely in a few epochs.
W = np.array([[1.0, -0.5], [0.5, 2.0], [-1.0, 0.25]])
B = np.array([0.3, -0.2])


@pytest.fixture(scope="module")
def linear(tmp_path_factory):
    """The linear dataset prepared into data.h5: 600 training and 200 test points in [-1, 1]^3."""
    folder = tmp_path_factory.mktemp("linear")
    rng = np.random.default_rng(0)
    x_train, x_test = rng.uniform(-1, 1, (600, 3)), rng.uniform(-1, 1, (200, 3))
    np.savez(folder / "linear.npz", x_train=x_train, y_train=x_train @ W + B, x_test=x_test, y_test=x_test @ W + B)
    entry = {"name": "linear", "kind": "arrays", "path": str(folder / "linear.npz"), "task": "regression",
             "level_sets": 5, "scaling": "none"}
    prepare(entry, ".", False, folder / "data.h5", folder / "dataset.json", log=lambda _: None)
    return folder / "data.h5"


def settings(epochs=40, widths=(32,), **training):
    c = config.validate({"training": {"epochs": epochs, "batch_size": 32, "lr": 0.01, **training}})
    return config.training_slice(c, f"mlp{'x'.join(map(str, widths))}-none-s0")


def run(folder, data_file, s, points=None):
    outputs = SimpleNamespace(**{key: folder / name for key, name in [
        ("state", "model.pt"), ("weights", "weights.h5"), ("activations", "activations.h5"),
        ("metrics", "metrics.json")]})
    return train_and_record("linear", "mlp32-none-s0", s, outputs, data_dir=folder, device="cpu", log=lambda _: None,
                            data_file=data_file, points=points)


def network_outputs(weights, x):
    """The MLP's outputs recomputed in numpy from its stored weights (one hidden layer of ReLUs)."""
    hidden = np.maximum(x @ weights["hidden_1"].weight.T.astype(np.float64) + weights["hidden_1"].bias, 0)
    return hidden @ weights["output"].weight.T.astype(np.float64) + weights["output"].bias


def test_a_linear_target_is_learnt_and_its_files_say_so(tmp_path, linear):
    metrics = run(tmp_path, linear, settings())
    dataset = data.load("linear", data_file=linear)
    weights = store.read_weights(tmp_path / "weights.h5")
    assert weights["output"].weight.shape == (2, 32)
    # Scores: a regressor's, no accuracy; the test MSE far below the targets' variance (about 1.2).
    assert {"task", "test_mse", "test_relative_l2", "train_mse"} <= set(metrics)
    assert not any("accuracy" in key for key in metrics)
    assert metrics["task"] == "regression" and metrics["test_mse"] < 0.01 and metrics["test_relative_l2"] < 0.1
    # ... and each recomputed from the stored weights, by its formula.
    test = network_outputs(weights, dataset.x_test)
    assert metrics["test_mse"] == pytest.approx(np.mean((test - dataset.targets_test) ** 2), rel=1e-4)
    assert metrics["test_relative_l2"] == pytest.approx(
        np.linalg.norm(test - dataset.targets_test) / np.linalg.norm(dataset.targets_test), rel=1e-4)
    train_outputs = network_outputs(weights, dataset.x_train)
    assert metrics["train_mse"] == pytest.approx(np.mean((train_outputs - dataset.targets_train) ** 2), rel=1e-4)
    assert metrics["epochs"][-1]["test_mse"] == pytest.approx(metrics["test_mse"], rel=1e-5)
    assert metrics["epochs"][-1]["loss"] == metrics["epochs"][-1]["train_mse"]
    # activations.h5: the outputs, the targets, the task and the level sets (nntopo.store's contract).
    acts = store.read_activations(tmp_path / "activations.h5")
    assert acts.task == "regression" and acts.levels == dataset.levels
    assert acts.output.shape == (200, 2) and np.array_equal(acts.targets, dataset.targets_test)
    assert metrics["test_mse"] == tasks.mse(acts.output, acts.targets)  # every test point analysed
    np.testing.assert_allclose(acts.output, test, rtol=1e-5, atol=1e-5)
    assert np.array_equal(acts.labels, dataset.y_test)
    assert np.array_equal(acts.predictions, tasks.level_sets(acts.output, dataset.levels))
    assert np.mean(acts.predictions == acts.labels) > 0.8  # a close fit lands in its target's level set


def test_same_seed_same_numbers(tmp_path, linear):
    s = settings(epochs=3)
    first, second = run(tmp_path / "a", linear, s), run(tmp_path / "b", linear, s)
    assert first["test_mse"] == second["test_mse"] and first["epochs"][-1]["loss"] == second["epochs"][-1]["loss"]
    a, b = (torch.load(folder / "model.pt") for folder in (tmp_path / "a", tmp_path / "b"))
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_analysed_training_points_get_their_own_error(tmp_path, linear):
    points = {"split": "train", "points": 100, "seed": 2}
    metrics = run(tmp_path, linear, settings(epochs=3), points)
    acts = store.read_activations(tmp_path / "activations.h5")
    dataset = data.load("linear", data_file=linear)
    assert np.array_equal(acts.targets, dataset.targets_train[acts.point_index])
    assert metrics["analysed_mse"] == tasks.mse(acts.output, acts.targets)
    assert metrics["analysed_relative_l2"] == tasks.relative_l2(acts.output, acts.targets)
    assert metrics["analysed_points"] == "100 of 600 train points, seed 2"
    assert json.loads(store.read_activations(tmp_path / "activations.h5").attrs["level_sets"]) == dataset.levels


def test_early_stopping_on_the_validation_mse(linear):
    dataset = data.load("linear", data_file=linear)
    s = settings(epochs=10, validation_split=0.2,
                 early_stopping={"criterion": "validation_loss", "patience": 1, "min_delta": 100.0})
    trained = train(dataset, s["widths"], s["regularization"], s["training"], 0, "cpu", log=lambda _: None)
    # No epoch betters the first by 100: the second is the first without improvement, and the last.
    assert trained.stopped == 2 and len(trained.history) == 2
    assert all(entry["validation_loss"] >= 0 and "validation_accuracy" not in entry for entry in trained.history)


def test_a_diverging_regressor_stops_in_one_line(linear):
    dataset = data.load("linear", data_file=linear)
    with pytest.raises(TrainingDiverged, match="loss is (nan|inf).*lower training.lr") as error:
        train(dataset, [16], {"name": "none"}, {"epochs": 3, "batch_size": 32, "lr": 1e30}, 0, "cpu",
              log=lambda _: None)
    assert "\n" not in str(error.value)
