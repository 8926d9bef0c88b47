"""Networks the user brings (config `external`, nntopo/network/external.py): recorded activations checked
against a direct forward pass, the hook ablation against the network run with units zeroed by hand,
every bad input refused in one line, and a study of the three kinds beside a grid model."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from nntopo import config, data, store
from examples.own_network.train import fit
from nntopo.analysis.ablation.network import NetworkAblator
from nntopo.network import external



class Tiny(nn.Module):
    """A network of none of nntopo's kinds: a convolution, a dense layer on its flattened maps, and a
    token-like layer (N x 4 positions x 6 features) whose units are its last axis."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, channels, 3), nn.ReLU())
        self.dense = nn.Linear(channels * 36, 24)
        self.act = nn.Tanh()
        self.tokens = nn.LayerNorm(6)
        self.head = nn.Linear(24, 10)

    def forward(self, x):
        h = self.act(self.dense(self.conv(x).flatten(1)))
        return self.head(self.tokens(h.reshape(-1, 4, 6)).flatten(1))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    """A Tiny trained for a moment on digits, saved as a state dict and as a torch.export program."""
    folder = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    x, y = torch.from_numpy(digits.x_train).reshape(-1, 1, 8, 8), torch.from_numpy(digits.y_train)
    model = fit(Tiny(), x, y, epochs=5)  # the worked example's training loop
    torch.save(model.state_dict(), folder / "tiny.pt")
    program = torch.export.export(model, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, folder / "tiny.pt2")
    return SimpleNamespace(folder=folder, model=model, state=folder / "tiny.pt", program=folder / "tiny.pt2")


LAYERS = ["conv", "act", "tokens"]


def entry(files, kind="module", **more):
    given = {"program": {"program": str(files.program)},
             "module": {"module": "tests.unit.network.test_external:Tiny", "state_dict": str(files.state)}}[kind]
    return {"name": "tiny", "dataset": "digits", **given, "layers": LAYERS, "input_shape": [1, 8, 8], **more}


def settings_of(given: dict, **config_keys) -> dict:
    checked = config.validate({"datasets": ["digits"], "widths": [], "external": [given], **config_keys})
    return config.external_slice(checked, given["name"])


class Outputs(SimpleNamespace):
    """What a rule's outputs look like to its job: named paths that iterate."""

    def __iter__(self):
        return iter(vars(self).values())


def record(folder, settings, weights=True, points=None):
    """Record ``settings``' network into ``folder`` as the rule does; (its outputs, its metrics)."""
    names = ["activations", "metrics"] + (["weights"] if weights else [])
    outputs = Outputs(**{name: Path(folder) / f"{name}.{'json' if name == 'metrics' else 'h5'}" for name in names})
    metrics = external.record_network(settings, outputs, data_dir=folder, log=lambda _: None,
                                      neural_persistence_settings={"p": 2, "seed": 0}, points=points)
    return outputs, metrics


def direct(model: Tiny, x: np.ndarray, reduction: str):
    """The recorded layers, computed by calling the network's own modules in order (no hooks)."""
    with torch.no_grad():
        images = torch.from_numpy(x).reshape(-1, 1, 8, 8)
        maps = model.conv(images)
        h = model.act(model.dense(maps.flatten(1)))
        tokens = model.tokens(h.reshape(-1, 4, 6))
        reduce = (lambda t, dims: t.amax(dim=dims)) if reduction == "max" else (lambda t, dims: t.mean(dim=dims))
        return [reduce(maps, (2, 3)).numpy(), h.numpy(), reduce(tokens, (1,)).numpy()], model.head(tokens.flatten(1)).numpy()


# --- recording --------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["module", "program"])
@pytest.mark.parametrize("reduction", ["max", "mean"])
def test_recorded_activations_are_the_direct_forward_pass(tmp_path, files, digits, kind, reduction):
    """Every recorded layer (a conv layer's channels reduced over space; a token layer's features, its
    last axis, reduced over positions) equals the network's modules called one after the other."""
    settings = settings_of(entry(files, kind, unit_axis=1), spatial_reduction=reduction)
    # The token layer's units are its last axis: record it in a network of its own settings.
    outputs, metrics = record(tmp_path, settings, weights=False)
    acts = store.read_activations(outputs.activations)
    expected, logits = direct(files.model, digits.x_test, reduction)
    for recorded, wanted in zip(acts.hidden[:2], expected[:2]):
        np.testing.assert_allclose(recorded, wanted, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.output, logits, rtol=1e-5, atol=1e-5)
    assert acts.hidden[2].shape == (len(digits.x_test), 4)  # unit axis 1 of N x 4 x 6: the positions
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(logits.argmax(1) == digits.y_test)))
    assert metrics["layer_shapes"] == {"conv": [3, 6, 6], "act": [24], "tokens": [4, 6]}
    tokens = record(tmp_path, settings_of(entry(files, kind, unit_axis=-1), spatial_reduction=reduction),
                    weights=False)[0]
    np.testing.assert_allclose(store.read_activations(tokens.activations).hidden[2], expected[2], rtol=1e-5, atol=1e-6)


def test_without_input_shape_a_network_reads_the_datasets_input_shape(tmp_path, files, digits):
    """No input_shape in the entry: the Tiny CNN reads digits as 1 x 8 x 8 images, as the dataset's
    input_shape says, and its recorded layers are its direct forward pass."""
    settings = settings_of({**entry(files, layers=["conv", "act"]), "input_shape": None})
    outputs, metrics = record(tmp_path, settings, weights=False)
    acts = store.read_activations(outputs.activations)
    expected, logits = direct(files.model, digits.x_test, "max")
    for recorded, wanted in zip(acts.hidden, expected):
        np.testing.assert_allclose(recorded, wanted, rtol=1e-5, atol=1e-6)
    assert metrics["network_input_shape"] == acts.attrs["network_input_shape"] == [1, 8, 8]
    assert acts.attrs["input_shape"] == [1, 8, 8]


class ColourCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4 * 11 * 9, 5)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


def test_the_input_shape_is_the_datasets_if_the_network_takes_it_else_flat():
    """A CNN for colour images of an odd size (3 x 13 x 11) gets them as such without an input_shape;
    a network of Linear layers, which cannot take them, gets the flat 429 values; an input_shape given
    is used as it is."""
    x = np.random.default_rng(0).random((4, 429), dtype=np.float32)
    settings = {"name": "n", "files": ["n.pt"], "dataset": "colour"}
    assert external.input_shape_of(ColourCNN().eval(), x, settings, (3, 13, 11)) == [3, 13, 11]
    assert external.input_shape_of(nn.Linear(429, 5).eval(), x, settings, (3, 13, 11)) == [429]
    assert external.input_shape_of(nn.Linear(429, 5), x, {**settings, "input_shape": [429]}, (3, 13, 11)) == [429]
    hidden, logits, shapes = external.run(ColourCNN().eval(), [], external.model_inputs(x, settings, [3, 13, 11]), 5,
                                          {**settings, "layers": []})
    assert logits.shape == (4, 5) and hidden == []


SUBSAMPLE = {"split": "test", "points": 100, "seed": 0}


def test_a_network_is_recorded_on_a_subsample(tmp_path, files, digits):
    """analysis.points 100: the network runs on those test images, and the file holds their labels and
    their indices; the test accuracy is still the whole test set's."""
    from nntopo.data.points import analysed

    outputs, metrics = record(tmp_path, settings_of(entry(files, layers=["conv", "act"])), weights=False,
                              points=SUBSAMPLE)
    acts = store.read_activations(outputs.activations)
    index = analysed(digits, SUBSAMPLE).index
    assert len(index) == 100 and (np.diff(index) > 0).all()
    np.testing.assert_array_equal(acts.point_index, index)
    np.testing.assert_array_equal(acts.labels, digits.y_test[index])
    assert acts.points == {"split": "test", "of": 540, "n": 100, "seed": 0, "subsample": True}
    expected, logits = direct(files.model, digits.x_test, "max")
    for recorded, wanted in zip(acts.hidden, expected):
        np.testing.assert_allclose(recorded, wanted[index], rtol=1e-5, atol=1e-6)
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(logits.argmax(1) == digits.y_test)))
    assert metrics["analysed_points"] == "100 of 540 test points, seed 0"


def test_recorded_activations_are_checked_against_the_analysed_points(tmp_path, files, digits):
    """Activations recorded on the analysed subsample are taken, with its index; recorded on another
    subsample of as many points, they are refused in one line that says which points were expected
    (the config refuses another number of points before any job)."""
    settings = settings_of(entry(files, layers=["conv", "act"]))
    on_subsample = record(tmp_path / "sub", settings, weights=False, points=SUBSAMPLE)[0]
    on_another = record(tmp_path / "other", settings, weights=False, points={**SUBSAMPLE, "seed": 1})[0]
    outputs = Outputs(activations=tmp_path / "a.h5", metrics=tmp_path / "m.json")

    def imported(source):
        given = {"name": "theirs", "dataset": "digits", "activations": str(source.activations)}
        checked = config.validate({"datasets": ["digits"], "widths": [], "external": [given], "clustering": {"top_k": 3},
                                   "analysis": {"points": 100}})
        assert config.points_slice(checked) == SUBSAMPLE
        return external.import_recorded(config.external_slice(checked, "theirs"), outputs, data_dir=tmp_path,
                                        log=lambda _: None, points=SUBSAMPLE)

    metrics = imported(on_subsample)
    acts = store.read_activations(outputs.activations)
    np.testing.assert_array_equal(acts.point_index, store.read_activations(on_subsample.activations).point_index)
    np.testing.assert_array_equal(acts.labels, digits.y_test[acts.point_index])
    assert acts.points["n"] == 100 and metrics["analysed_points"] == "100 of 540 test points, seed 0"
    assert metrics["test_accuracy"] == pytest.approx(np.mean(acts.predictions == acts.labels))  # of those points
    with pytest.raises(external.ExternalError) as error:
        imported(on_another)
    assert "its labels are not those of 100 of 540 test points, seed 0 of digits in nntopo's order" in str(error.value)
    assert "\n" not in str(error.value)


def test_files_carry_the_external_file_and_its_checksum(tmp_path, files):
    import hashlib

    settings = settings_of(entry(files, weight_modules=["conv.0", "dense", "head"], layers=["conv", "act"]))
    outputs, metrics = record(tmp_path, settings)
    digest = hashlib.sha256(files.state.read_bytes()).hexdigest()
    for path in (outputs.activations, outputs.weights):
        assert json.loads(store.read_attrs(path)["external"]) == {"kind": "module", "files": {str(files.state): digest}}
    assert metrics["external"]["files"] == {str(files.state): digest}
    weights = store.read_weights(outputs.weights)
    np.testing.assert_array_equal(weights["hidden_2"].weight, files.model.dense.weight.detach().numpy())
    assert weights["hidden_1"].is_convolution
    # Neural persistence of the dense layers, as training measures it.
    from nntopo.topology.persistence import neural_persistence

    wanted = neural_persistence({n: weights[n].weight for n in ("hidden_2", "output")}, 2)
    assert metrics["neural_persistence"]["final"]["normalized"] == pytest.approx(wanted.normalized)


def test_hook_ablation_is_the_network_with_units_zeroed_by_hand(files, digits):
    """Silencing units of a recorded module through its hook gives the predictions of the network
    computed by hand with those units set to zero."""
    settings = settings_of(entry(files, layers=["conv", "act"]))
    network = external.load_network(settings)
    for index, silenced in ((0, [1]), (1, [0, 5, 7]), (1, []), (0, [0, 1, 2])):
        ablator = NetworkAblator(network, settings, digits.x_test, index, digits.y_test)
        with torch.no_grad():
            images = torch.from_numpy(digits.x_test).reshape(-1, 1, 8, 8)
            maps = files.model.conv(images)
            if index == 0:
                maps[:, silenced] = 0
            h = files.model.act(files.model.dense(maps.flatten(1)))
            if index == 1:
                h[:, silenced] = 0
            logits = files.model.head(files.model.tokens(h.reshape(-1, 4, 6)).flatten(1))
            wanted = logits.argmax(1).numpy() == digits.y_test
        np.testing.assert_array_equal(ablator.correct(silenced), wanted)
        assert ablator.n_neurons == (3 if index == 0 else 24)


# --- bad input, one line ----------------------------------------------------------------------------

def refused(given, **config_keys) -> str:
    with pytest.raises(config.ConfigError) as error:
        config.validate({"datasets": ["digits"], "widths": [], "external": given, **config_keys})
    assert "\n" not in str(error.value)
    return str(error.value)


def test_load_time_refusals(tmp_path, files):
    base = entry(files)
    assert "does not exist" in refused([{**base, "state_dict": "missing.pt"}])
    text = tmp_path / "notes.pt"
    text.write_text("not a model")
    assert "not a file torch.save or torch.export.save wrote" in refused([{**base, "state_dict": str(text)}])
    script = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), script)
    assert "TorchScript" in refused([{**entry(files, "program"), "program": str(script)}])
    assert "exactly one of" in refused([{**base, "program": str(files.program)}])
    assert "needs layers" in refused([{k: v for k, v in base.items() if k != "layers"}])
    assert "given twice" in refused([base, base])
    assert "name of a results folder" in refused([{**base, "name": "summary"}])
    assert "not in datasets" in refused([{**base, "dataset": "mnist"}])
    assert "holds 28 values" in refused([{**base, "input_shape": [1, 4, 7]}])
    assert "give 3" in refused([{**base, "layers": ["conv", "act"], "weight_modules": ["dense", "head"]}])
    assert "deeper than the 3 recorded" in refused([base], analysis={"layers": [4]})
    assert "name" in refused([{**base, "name": "my-net"}])  # a hyphen would read as a grid id
    assert "there is no model" in refused([])


def test_job_time_refusals_name_the_file(tmp_path, files):
    def job_error(given) -> str:
        with pytest.raises(external.ExternalError) as error:
            record(tmp_path, settings_of(given), weights="weight_modules" in given)
        assert "\n" not in str(error.value)
        return str(error.value)

    message = job_error(entry(files, layers=["conv", "fc9"]))
    assert "no module 'fc9'" in message and "conv.0, conv.1, dense, act, tokens, head" in message
    assert str(files.state) in message
    assert "do not fit the network" in job_error({**entry(files), "input_shape": [64]})
    neither = job_error({**entry(files, kwargs={}), "module": "tests.unit.network.test_external:Colour",
                         "state_dict": str(colour_state(tmp_path)), "input_shape": None})
    assert "takes digits inputs neither as [1, 8, 8] (RuntimeError" in neither and "nor as [64] (" in neither
    assert "set its input_shape" in neither
    assert "one score per class" in job_error(entry(files, kwargs={}) | {"module": "tests.unit.network.test_external:Features"})
    assert "cannot build" in job_error(entry(files) | {"module": "tests.unit.network.test_external:Missing"})
    assert "does not load into" in job_error(entry(files, kwargs={"channels": 5}))
    assert "has 24 outputs, but hidden_1 has 3 units" in job_error(
        entry(files, layers=["conv", "act"], weight_modules=["dense", "dense", "head"]))


class Colour(Tiny):
    """A Tiny that reads colour images (3 x 8 x 8): digits' grey images fit neither as 1 x 8 x 8 nor flat."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 3, 3), nn.ReLU())


def colour_state(folder) -> Path:
    torch.manual_seed(0)
    torch.save(Colour().state_dict(), folder / "colour.pt")
    return folder / "colour.pt"


class Features(Tiny):
    """A Tiny whose output is its features, not one score per class."""

    def forward(self, x):
        return self.act(self.dense(self.conv(x).flatten(1)))


def test_recorded_activations_are_checked_at_load_time(tmp_path, digits):
    bad = tmp_path / "activations.h5"
    store.write_activations(bad, [np.ones((10, 3))], np.ones((10, 10)), np.zeros(10), np.zeros(10), {})
    assert "holds 10 points, but the digits test set has 540" in refused([{"name": "theirs", "dataset": "digits",
                                                                         "activations": str(bad)}],
                                                                       clustering={"top_k": 3})
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    assert "not a readable HDF5 file" in refused([{"name": "theirs", "dataset": "digits", "activations": str(broken)}])
    assert "describe a network" in refused([{"name": "theirs", "dataset": "digits", "activations": str(bad),
                                             "layers": ["x"]}])


def test_recorded_activations_are_imported_with_their_provenance(tmp_path, files, digits):
    """Activations recorded elsewhere land where a trained model's do, with this study's provenance and
    the ablation marked as skipped; labels in another order are refused."""
    source, _ = record(tmp_path / "elsewhere", settings_of(entry(files, layers=["conv", "act"])), weights=False)
    given = {"name": "theirs", "dataset": "digits", "activations": str(source.activations)}
    settings = settings_of(given, clustering={"top_k": 3})  # the conv layer has 3 channels
    outputs = Outputs(activations=tmp_path / "a.h5", metrics=tmp_path / "m.json")
    external.import_recorded(settings, outputs, data_dir=tmp_path, log=lambda _: None)
    acts, original = store.read_activations(outputs.activations), store.read_activations(source.activations)
    np.testing.assert_array_equal(acts.hidden[1], original.hidden[1])
    assert acts.attrs["model"] == "theirs" and "no network was given" in acts.attrs["no_network"]
    assert json.loads(acts.attrs["external"])["kind"] == "activations"
    shuffled = tmp_path / "shuffled.h5"
    order = np.random.default_rng(0).permutation(len(original.labels))
    store.write_activations(shuffled, [h[order] for h in original.hidden], original.output[order],
                             original.labels[order], original.predictions[order], {})
    with pytest.raises(external.ExternalError, match="not those of all 540 test points of digits in nntopo's order"):
        external.import_recorded(settings_of({**given, "activations": str(shuffled)}, clustering={"top_k": 3}), outputs,
                                 data_dir=tmp_path,
                                 log=lambda _: None)


# --- the workflow -----------------------------------------------------------------------------------

# The CNN study's small settings on digits, with a grid of one MLP.
