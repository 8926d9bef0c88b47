"""A user's colour images of an odd size (an `arrays` file, 3 x 13 x 11, prepared as the workflow does)
through the network stage: a grid CNN and MLP trained and recorded on them, and a colour CNN brought
from outside that reads them as 3 x 13 x 11 without an input_shape, recorded on a subsample; each
recorded layer is checked against an independent forward pass."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from nntopo import config, data, store
from nntopo.data.prepare import prepare
from nntopo.network import external
from nntopo.network.stage import recorded_network, train_and_record
from tests.unit.network.test_cnn import colour_images, numpy_forward
from tests.unit.network.test_external import Outputs

SHAPE = (3, 13, 11)


@pytest.fixture(scope="module")
def colour(tmp_path_factory):
    """colour.npz (N x C x H x W floats in [0, 1]), prepared into data.h5 as rule dataset_data does."""
    folder = tmp_path_factory.mktemp("colour")
    (x_train, y_train), (x_test, y_test) = colour_images(240, 0), colour_images(120, 1)
    np.savez(folder / "colour.npz", x_train=x_train.reshape(-1, *SHAPE), y_train=y_train,
             x_test=x_test.reshape(-1, *SHAPE), y_test=y_test)
    entry = {"name": "colour", "kind": "arrays", "path": str(folder / "colour.npz"), "scaling": "none"}
    study = {"datasets": [entry], "regularizations": ["none"], "training": {"epochs": 10, "batch_size": 32, "lr": 0.02},
             "clustering": {"top_k": 2}}
    prepared = config.validate({**study, "widths": [[7]]})
    record = folder / "dataset.json"
    prepare(config.dataset_slice(prepared, "colour"), folder, False, folder / "data.h5", record, log=lambda _: None)
    return SimpleNamespace(folder=folder, data_file=folder / "data.h5", study=study,
                           dataset=data.load("colour", data_file=folder / "data.h5"))


def files(folder):
    return SimpleNamespace(**{k: folder / f for k, f in [("state", "model.pt"), ("weights", "weights.h5"),
                                                         ("activations", "activations.h5"), ("metrics", "metrics.json")]})


def test_the_prepared_dataset_is_the_arrays_file(colour):
    x_test, _ = colour_images(120, 1)
    assert colour.dataset.input_shape == SHAPE and colour.dataset.n_features == 429
    np.testing.assert_array_equal(colour.dataset.x_test, x_test)


def test_a_grid_cnn_and_mlp_train_and_record_on_colour_images(colour, tmp_path):
    c = config.validate({**colour.study, "widths": [[7]], "cnns": [{"channels": [4, 5], "dense": [6]}]})
    for model in map(str, config.model_ids(c)):
        out = files(tmp_path / model)
        metrics = train_and_record("colour", model, config.training_slice(c, model), out, data_dir=colour.folder,
                                   device="cpu", log=lambda _: None, data_file=colour.data_file)
        acts, weights = store.read_activations(out.activations), store.read_weights(out.weights)
        assert acts.attrs["input_shape"] == list(SHAPE) and acts.attrs["image_shape"] == [13, 11]
        assert metrics["test_accuracy"] > 0.9  # the class is the brighter channel
        x = colour.dataset.x_test
        if model.startswith("cnn"):
            assert weights["hidden_1"].weight.shape == (4, 3, 3, 3)
            expected = numpy_forward(weights, x.reshape(-1, *SHAPE).astype(np.float64), pool=2)
            for got, want in zip(acts.hidden, expected):
                np.testing.assert_allclose(got, want.max(axis=(2, 3)) if want.ndim == 4 else want, rtol=1e-4, atol=1e-5)
            # The network rebuilt from its files, on the inputs it was recorded on.
            network, inputs = recorded_network(out.state, acts.attrs, 3, data_dir=colour.folder,
                                               data_file=colour.data_file, point_index=acts.point_index)
            np.testing.assert_array_equal(inputs, x)
            with torch.no_grad():
                np.testing.assert_allclose(network(torch.from_numpy(inputs)).numpy(), acts.output, rtol=1e-5, atol=1e-5)
        else:
            assert weights["hidden_1"].weight.shape == (7, 429)
            np.testing.assert_allclose(acts.hidden[0], np.maximum(x @ weights["hidden_1"].weight.T
                                                                  + weights["hidden_1"].bias, 0), rtol=1e-5, atol=1e-5)


class ColourNet(nn.Module):
    """A CNN written for 3 x 13 x 11 images, trained outside nntopo."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
        self.head = nn.Linear(4 * 11 * 9, 3)

    def forward(self, x):
        return self.head(self.conv(x).flatten(1))


def test_an_external_colour_cnn_reads_the_images_without_an_input_shape(colour, tmp_path):
    torch.manual_seed(0)
    network = ColourNet()
    torch.save(network.state_dict(), tmp_path / "colour_net.pt")
    given = {"name": "theirs", "dataset": "colour", "module": "tests.unit.network.test_colour:ColourNet",
             "state_dict": str(tmp_path / "colour_net.pt"), "layers": ["conv"]}
    c = config.validate({**colour.study, "widths": [], "external": [given], "analysis": {"points": 60, "points_seed": 4}})
    outputs = Outputs(activations=tmp_path / "a.h5", metrics=tmp_path / "m.json")
    metrics = external.record_network(config.external_slice(c, "theirs"), outputs, data_dir=colour.folder,
                                      data_file=colour.data_file, log=lambda _: None, points=config.points_slice(c))
    acts = store.read_activations(outputs.activations)
    assert metrics["network_input_shape"] == list(SHAPE) and metrics["layer_shapes"] == {"conv": [4, 11, 9]}
    index = acts.point_index
    assert len(index) == 60 and acts.points == {"split": "test", "of": 120, "n": 60, "seed": 4, "subsample": True}
    np.testing.assert_array_equal(acts.labels, colour.dataset.y_test[index])
    with torch.no_grad():
        images = torch.from_numpy(colour.dataset.x_test[index]).reshape(-1, *SHAPE)
        np.testing.assert_allclose(acts.hidden[0], network.conv(images).amax(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(acts.output, network(images).numpy(), rtol=1e-5, atol=1e-5)
