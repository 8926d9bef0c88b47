"""The layers real networks have, brought as external networks (nntopo/network/external.py): a
ResNet-style CNN whose convolutions have no bias, an LSTM and a MultiheadAttention whose modules return
tuples, a network that returns a dict, a regressor; each recorded layer checked against the network's
own modules called by hand, and every bad input refused in one line, misspelt names with the nearest."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from examples.own_network.train import fit
from nntopo import config, data, store
from nntopo import task as tasks
from nntopo.config import external as config_external
from nntopo.data.prepare import prepare
from nntopo.network import external
from tests.unit.network.test_external import Outputs


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def images(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x).reshape(-1, 1, 8, 8)


class Block(nn.Module):
    """A residual block: two bias-free convolutions, each before batch normalisation, added to its input."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    def __init__(self, channels: int = 6):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.block = Block(channels)
        self.head = nn.Linear(channels, 10)

    def forward(self, x):
        return self.head(self.block(self.stem(x)).mean(dim=(2, 3)))


class Recurrent(nn.Module):
    """An LSTM classifier: a digit's 8 x 8 image read as 8 steps of 8 values, its last step's output classified."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(-1, 8, 8))
        return self.head(out[:, -1])


class Attention(nn.Module):
    """Self-attention over the image's 8 rows; MultiheadAttention returns (output, weights)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        rows = x.reshape(-1, 8, 8)
        out, _ = self.attn(rows, rows, rows)
        return self.head(out.mean(dim=1))


class Parts(nn.Module):
    """A module that returns a dict."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(64, 16)

    def forward(self, x):
        h = self.linear(x.flatten(1))
        return {"features": torch.relu(h), "raw": h}


class DictNet(nn.Module):
    """A network that returns a dict: its scores and an embedding."""

    def __init__(self):
        super().__init__()
        self.parts = Parts()
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        features = self.parts(x)["features"]
        return {"embedding": features, "logits": self.head(features)}


class Regressor(nn.Module):
    def __init__(self, targets: int = 2):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(64, 16), nn.Tanh())
        self.out = nn.Linear(16, targets)

    def forward(self, x):
        return self.out(self.hidden(x.flatten(1)))


class NotANumber(Recurrent):
    def forward(self, x):
        return super().forward(x) * float("nan")


def trained(model: nn.Module, digits, epochs: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return fit(model, images(digits.x_train), torch.from_numpy(digits.y_train), epochs=epochs)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("layers")


def saved(folder, model: nn.Module, name: str) -> str:
    path = folder / f"{name}.pt"
    torch.save(model.state_dict(), path)
    return str(path)


def exported(folder, model: nn.Module, name: str, example: torch.Tensor) -> str:
    path = folder / f"{name}.pt2"
    program = torch.export.export(model, (example[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    return str(path)


def settings_of(given: dict, datasets=("digits",), **config_keys) -> dict:
    checked = config.validate({"datasets": list(datasets), "widths": [], "external": [given], **config_keys})
    return config.external_slice(checked, given["name"])


def module_entry(path: str, cls: str, layers, **more) -> dict:
    return {"name": "net", "dataset": "digits", "module": f"tests.unit.network.test_layers:{cls}", "state_dict": path,
            "layers": layers, **more}


def record(folder, settings, weights=False, data_file=None, points=None):
    names = ["activations", "metrics"] + (["weights"] if weights else [])
    outputs = Outputs(**{name: folder / f"{name}.{'json' if name == 'metrics' else 'h5'}" for name in names})
    folder.mkdir(parents=True, exist_ok=True)
    metrics = external.record_network(settings, outputs, data_dir=folder, log=lambda _: None, data_file=data_file,
                                      neural_persistence_settings={"p": 2, "seed": 0}, points=points)
    return outputs, metrics


def one_line(error) -> str:
    assert "\n" not in str(error.value)
    return str(error.value)


# --- a residual network with bias-free convolutions --------------------------------------------------

@pytest.fixture(scope="module")
def resnet(folder, digits):
    model = trained(ResNet(), digits)
    return SimpleNamespace(model=model, state=saved(folder, model, "resnet"),
                           program=exported(folder, model, "resnet", images(digits.x_test)))


RESNET_WEIGHTS = ["stem.0", "block.conv2", "head"]


@pytest.mark.parametrize("kind", ["module", "program"])
def test_a_resnet_records_its_blocks_and_gives_its_bias_free_weights(tmp_path, resnet, digits, kind):
    """The stem's and the residual block's outputs (after the addition) are its layers, as calling its
    modules by hand gives them; its weights are the stem's convolution and the block's last one, each
    with a zero bias, and the head's."""
    given = (module_entry(resnet.state, "ResNet", ["stem", "block"]) if kind == "module" else
             {"name": "net", "dataset": "digits", "program": resnet.program, "layers": ["stem", "block"]})
    outputs, metrics = record(tmp_path, settings_of({**given, "weight_modules": RESNET_WEIGHTS}), weights=True)
    acts, weights = store.read_activations(outputs.activations), store.read_weights(outputs.weights)
    with torch.no_grad():
        stem = resnet.model.stem(images(digits.x_test))
        block = resnet.model.block(stem)
        logits = resnet.model.head(block.mean(dim=(2, 3)))
    np.testing.assert_allclose(acts.hidden[0], stem.amax(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.hidden[1], block.amax(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(acts.output, logits.numpy(), rtol=1e-5, atol=1e-5)
    for layer, module in zip(("hidden_1", "hidden_2"), (resnet.model.stem[0], resnet.model.block.conv2)):
        np.testing.assert_array_equal(weights[layer].weight, module.weight.detach().numpy())
        np.testing.assert_array_equal(weights[layer].bias, np.zeros(6, np.float32))
    np.testing.assert_array_equal(weights["output"].bias, resnet.model.head.bias.detach().numpy())
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(logits.argmax(1).numpy() == digits.y_test)))


def test_a_weight_module_without_a_weight_is_refused_before_the_data_is_read(tmp_path, resnet, monkeypatch):
    """A batch normalisation named as weights (its weight is 1-D) and a misspelt weight module: one line
    each, as soon as the network loads, before any data is read or any forward pass runs."""

    def no_data(*args, **kwargs):
        raise AssertionError("the data was read")

    monkeypatch.setattr(data, "load", no_data)
    given = module_entry(resnet.state, "ResNet", ["stem", "block"])
    with pytest.raises(external.ExternalError) as error:
        record(tmp_path, settings_of({**given, "weight_modules": ["stem.1", "block.conv2", "head"]}), weights=True)
    assert "weight module 'stem.1' (BatchNorm2d) has no 2-D or 4-D weight" in one_line(error)
    with pytest.raises(external.ExternalError) as error:
        record(tmp_path, settings_of({**given, "weight_modules": ["stem.0", "block.conv3", "head"]}), weights=True)
    message = one_line(error)
    assert "weight_modules names no module 'block.conv3' (nearest: block.conv" in message
    assert "block.conv1" in message.split("(nearest:")[1].split(")")[0]
    assert "fix the name in its weight_modules" in str(error.value)


# --- modules that return a tuple or a dict --------------------------------------------------------------

@pytest.fixture(scope="module")
def recurrent(folder, digits):
    model = trained(Recurrent(), digits, epochs=8)
    return SimpleNamespace(model=model, state=saved(folder, model, "lstm"))


LSTM_OUTPUT = {"module": "lstm", "output": 0}


def test_an_lstm_classifier_records_its_outputs_element(tmp_path, recurrent, digits):
    """{module: lstm, output: 0} records the LSTM's output sequence (N x 8 steps x 12 units, its units
    on the last axis), each unit's largest value over the steps, as calling the LSTM by hand gives it;
    the head beside it."""
    settings = settings_of(module_entry(recurrent.state, "Recurrent", [LSTM_OUTPUT, "head"], unit_axis=-1))
    outputs, metrics = record(tmp_path, settings)
    acts = store.read_activations(outputs.activations)
    with torch.no_grad():
        sequence, _ = recurrent.model.lstm(torch.from_numpy(digits.x_test).reshape(-1, 8, 8))
        logits = recurrent.model.head(sequence[:, -1])
    np.testing.assert_allclose(acts.hidden[0], sequence.amax(dim=1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.output, logits.numpy(), rtol=1e-5, atol=1e-5)
    assert metrics["layer_shapes"] == {"lstm[0]": [8, 12], "head": [10]}
    assert metrics["test_accuracy"] > 0.5  # it learnt: ten classes, one in ten by chance
    assert json.loads(acts.attrs["layer_modules"]) == [LSTM_OUTPUT, "head"]


def test_silencing_an_lstms_units_runs_the_network_on_without_them(recurrent, digits):
    """Units silenced through the hook on the LSTM's output element give the head's scores on the output
    sequence with those units zeroed by hand."""
    settings = settings_of(module_entry(recurrent.state, "Recurrent", [LSTM_OUTPUT], unit_axis=-1))
    network = external.load_network(settings)
    x = external.model_inputs(digits.x_test, settings, [64])
    units = np.array([0, 3, 7])
    _, scores, _ = external.run(network, external.recorded_modules(network, settings), x, 10, settings, (0, units))
    with torch.no_grad():
        sequence, _ = recurrent.model.lstm(x.reshape(-1, 8, 8))
        sequence[:, :, units] = 0
        wanted = recurrent.model.head(sequence[:, -1])
    np.testing.assert_allclose(scores, wanted.numpy(), rtol=1e-5, atol=1e-5)


def test_a_multihead_attentions_output_element(tmp_path, folder, digits):
    """{module: attn, output: 0}: the attended rows (N x 8 rows x 8 features), averaged over the rows."""
    model = trained(Attention(), digits)
    given = module_entry(saved(folder, model, "attention"), "Attention", [{"module": "attn", "output": 0}],
                         unit_axis=-1)
    outputs, _ = record(tmp_path, settings_of(given, spatial_reduction="mean"))
    with torch.no_grad():
        rows = torch.from_numpy(digits.x_test).reshape(-1, 8, 8)
        attended, _ = model.attn(rows, rows, rows)
    np.testing.assert_allclose(store.read_activations(outputs.activations).hidden[0], attended.mean(dim=1).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_a_dict_module_and_a_dict_network(tmp_path, folder, digits):
    """A module's dict element by key, and the network's output layer picked from the dict it returns."""
    torch.manual_seed(0)
    model = DictNet().eval()
    given = module_entry(saved(folder, model, "dict"), "DictNet", [{"module": "parts", "output": "raw"}],
                         output="logits")
    outputs, _ = record(tmp_path, settings_of(given))
    acts = store.read_activations(outputs.activations)
    with torch.no_grad():
        wanted = model(torch.from_numpy(digits.x_test))
        raw = model.parts.linear(torch.from_numpy(digits.x_test))
    np.testing.assert_allclose(acts.hidden[0], raw.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.output, wanted["logits"].numpy(), rtol=1e-5, atol=1e-6)


# --- bad input, one line --------------------------------------------------------------------------------

def job_error(folder, given: dict, **config_keys) -> str:
    with pytest.raises(external.ExternalError) as error:
        record(folder, settings_of(given, **config_keys))
    return one_line(error)


def test_elements_refused_in_one_line(tmp_path, recurrent, folder):
    lstm = module_entry(recurrent.state, "Recurrent", ["lstm"], unit_axis=-1)
    assert ("module 'lstm' returns a tuple (0: Tensor, 1: tuple), not a tensor; pick one in layers as "
            "{module: lstm, output: <index or key>}") in job_error(tmp_path, lstm)
    assert "module 'lstm' has no tensor 1 in its output (0: Tensor, 1: tuple)" in job_error(
        tmp_path, {**lstm, "layers": [{"module": "lstm", "output": 1}]})
    assert "has no tensor 5" in job_error(tmp_path, {**lstm, "layers": [{"module": "lstm", "output": 5}]})
    assert "module 'head' returns one tensor here, not a tuple or dict" in job_error(
        tmp_path, {**lstm, "layers": [{"module": "head", "output": 0}]})
    dicts = module_entry(saved(folder, DictNet(), "dict_bad"), "DictNet", ["parts.linear"])
    assert ("the network returns a dict (embedding, logits), not a tensor; give the entry output: <index or key>"
            in job_error(tmp_path, dicts))
    assert "the network has no tensor 'scores' in its output (embedding, logits)" in job_error(
        tmp_path, {**dicts, "output": "scores"})
    assert "the output holds NaN or infinite values" in job_error(
        tmp_path, {**lstm, "module": "tests.unit.network.test_layers:NotANumber", "layers": [LSTM_OUTPUT]})


def test_a_misspelt_module_gives_the_nearest_names(tmp_path, recurrent, resnet):
    """In the job (a module class), as soon as the network loads; at config time for a program, whose
    module names are read from its archive."""
    assert "layers names no module 'lstn' (nearest: lstm)" in job_error(
        tmp_path, module_entry(recurrent.state, "Recurrent", ["lstn"]))
    assert "layers names no module 'lstn' (nearest: lstm)" in job_error(
        tmp_path, module_entry(recurrent.state, "Recurrent", [{"module": "lstn", "output": 0}]))
    assert config_external.program_modules(resnet.program)[:3] == ["", "stem", "stem.0"]
    with pytest.raises(config.ConfigError) as error:
        settings_of({"name": "net", "dataset": "digits", "program": resnet.program, "layers": ["stem", "blok"],
                     "weight_modules": ["stem.0", "block.conv2", "head"]})
    message = one_line(error)
    assert "layers names no module 'blok' (nearest: block" in message and resnet.program in message
    assert "its modules are: stem, stem.0, stem.1, stem.2, block" in message
    with pytest.raises(config.ConfigError, match=r"weight_modules names no module 'haed' \(nearest: head\)"):
        settings_of({"name": "net", "dataset": "digits", "program": resnet.program, "layers": ["stem", "block"],
                     "weight_modules": ["stem.0", "block.conv2", "haed"]})


def test_a_program_whose_archive_has_no_module_list_waits_for_the_job(tmp_path):
    """An archive without the serialized program's module call graph: nothing known at config time."""
    import zipfile

    odd = tmp_path / "odd.pt2"
    with zipfile.ZipFile(odd, "w") as archive:
        archive.writestr("odd/version", "1")
    assert config_external.program_modules(str(odd)) is None


# --- a regressor ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def regression(folder, digits):
    """digits with two real targets per image (the mean ink of its left and right halves), prepared as
    rule dataset_data does, and a small regressor fitted to them, saved as a program."""
    def targets(x):
        halves = x.reshape(-1, 8, 8)
        return np.stack([halves[:, :, :4].mean(axis=(1, 2)), halves[:, :, 4:].mean(axis=(1, 2))], axis=1)

    np.savez(folder / "ink.npz", x_train=digits.x_train, y_train=targets(digits.x_train), x_test=digits.x_test,
             y_test=targets(digits.x_test))
    entry = {"name": "ink", "kind": "arrays", "path": str(folder / "ink.npz"), "scaling": "none", "task": "regression",
             "level_sets": 4}
    checked = config.validate({"datasets": [entry], "widths": [[8]]})
    prepare(config.dataset_slice(checked, "ink"), folder, False, folder / "ink.h5", folder / "ink.json",
            log=lambda _: None)
    dataset = data.load("ink", data_file=folder / "ink.h5")
    torch.manual_seed(0)
    model = fit(Regressor(), torch.from_numpy(dataset.x_train), torch.from_numpy(dataset.targets_train).float(),
                epochs=20, loss=nn.functional.mse_loss)
    return SimpleNamespace(entry=entry, dataset=dataset, data_file=folder / "ink.h5", model=model,
                           program=exported(folder, model, "regressor", torch.from_numpy(dataset.x_test)),
                           classifier=saved(folder, trained(Recurrent(), digits, epochs=1), "classifier"))


def regression_entry(regression, **more) -> dict:
    return {"name": "net", "dataset": "ink", "program": regression.program, "layers": ["hidden"],
            "weight_modules": ["hidden.0", "out"], **more}


def test_a_regression_program_is_recorded_with_its_targets(tmp_path, regression):
    """Its outputs are the N x 2 predictions; the file holds the targets, the level sets of targets and
    outputs as labels and predictions, and the metrics the errors (recomputed here), not accuracies."""
    settings = settings_of(regression_entry(regression), datasets=[regression.entry])
    points = {"split": "test", "points": 200, "seed": 0}
    outputs, metrics = record(tmp_path, settings, weights=True, data_file=regression.data_file, points=points)
    acts, dataset = store.read_activations(outputs.activations), regression.dataset
    index = acts.point_index
    with torch.no_grad():
        hidden = regression.model.hidden(torch.from_numpy(dataset.x_test))
        test = regression.model.out(hidden).numpy()
        train = regression.model(torch.from_numpy(dataset.x_train)).numpy()
    assert acts.task == "regression" and acts.levels == dataset.levels and len(index) == 200
    np.testing.assert_array_equal(acts.targets, dataset.targets_test[index])
    np.testing.assert_allclose(acts.output, test[index], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.hidden[0], hidden.numpy()[index], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(acts.labels, tasks.level_sets(dataset.targets_test[index], dataset.levels))
    np.testing.assert_array_equal(acts.predictions, tasks.level_sets(acts.output, dataset.levels))
    errors = ((test - dataset.targets_test) ** 2).mean()
    assert metrics["task"] == "regression"
    assert metrics["test_mse"] == pytest.approx(errors, rel=1e-5)
    assert metrics["test_relative_l2"] == pytest.approx(
        np.linalg.norm(test - dataset.targets_test) / np.linalg.norm(dataset.targets_test), rel=1e-5)
    assert metrics["train_mse"] == pytest.approx(((train - dataset.targets_train) ** 2).mean(), rel=1e-5)
    assert not [key for key in metrics if "accuracy" in key]
    assert metrics["test_mse"] < 0.1 * dataset.targets_test.var(axis=0).sum()  # it learnt the ink
    assert set(store.read_weights(outputs.weights)) == {"hidden_1", "output"}


def test_a_regression_file_is_imported_and_a_classifiers_refused(tmp_path, regression, digits):
    settings = settings_of(regression_entry(regression), datasets=[regression.entry])
    source, _ = record(tmp_path / "elsewhere", settings, weights=True, data_file=regression.data_file)
    given = {"name": "theirs", "dataset": "ink", "activations": str(source.activations)}
    outputs = Outputs(activations=tmp_path / "a.h5", metrics=tmp_path / "m.json")

    def imported(given):
        external.import_recorded(settings_of(given, datasets=[regression.entry], clustering={"top_k": 3}), outputs,
                                 data_dir=tmp_path, log=lambda _: None, data_file=regression.data_file)

    imported(given)
    acts = store.read_activations(outputs.activations)
    np.testing.assert_array_equal(acts.targets, regression.dataset.targets_test)
    assert json.loads(outputs.metrics.read_text())["test_mse"] == pytest.approx(
        tasks.mse(acts.output, acts.targets))
    original = store.read_activations(source.activations)
    classifier = tmp_path / "classifier.h5"
    store.write_activations(classifier, original.hidden, np.zeros((len(original.labels), 4)), original.labels,
                            original.labels, {})
    with pytest.raises(external.ExternalError) as error:
        imported({**given, "activations": str(classifier)})
    assert "is a classification file, but ink is a regression dataset" in one_line(error)


def test_a_classifier_on_a_regression_dataset_and_the_reverse(tmp_path, regression, digits):
    given = module_entry(regression.classifier, "Recurrent", [LSTM_OUTPUT], dataset="ink", unit_axis=-1)
    with pytest.raises(external.ExternalError) as error:
        record(tmp_path, settings_of(given, datasets=[regression.entry]), data_file=regression.data_file)
    message = one_line(error)
    assert "it outputs 10 values per point, but ink has 2 targets: a classifier on a regression dataset?" in message
    torch.manual_seed(0)
    one = module_entry(saved(tmp_path, Regressor(targets=1), "one"), "Regressor", ["hidden"], kwargs={"targets": 1})
    assert "it outputs 1 value per point, but digits has 10 classes: a regressor on a classification dataset?" in (
        job_error(tmp_path, one))
