"""The figures that draw inputs and first-layer weights, from a model's files, on a dataset of colour
images of an odd size (3 x 13 x 11, standardised) prepared into its data.h5, with activations recorded
on a subsample of its test split: the inputs drawn are the analysed points, as the user sees them
(the scaling undone), titled with their index in the split; and which datasets get image figures."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import config as nnconfig
from nntopo import figures, plotting, store
from nntopo.analysis.ranking import rank_neurons, sample_points
from nntopo.figures import draw
from nntopo.network import train
from nntopo.network.model import build
from nntopo.store.points import write_shape_data

SHAPE = (3, 13, 11)
SCALING = {"kind": "standardize", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
SETTINGS = {"top": 3, "per_cluster": 2, "max_clusters": 20}
MLP = ("mlp12-none-s0", {"widths": [12], "regularization": {"name": "none"}, "activation": {"name": "relu"}})
CNN = ("cnn4-d8-none-s0", {"widths": [8], "regularization": {"name": "none"}, "activation": {"name": "relu"},
                           "convolution": {"channels": [4], "kernel": 3, "pool": 2}})


def colour_images(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """n standardised images of two classes: class 0 a red square at the top left, class 1 a green one at
    the bottom right, over a little noise; flat in the network's order (C, H, W)."""
    y = np.arange(n) % 2
    seen = 0.1 * rng.random((n, *SHAPE))
    seen[y == 0, 0, :4, :4] = 1.0
    seen[y == 1, 1, -4:, -4:] = 1.0
    mean, std = (np.asarray(SCALING[k])[:, None, None] for k in ("mean", "std"))
    return ((seen - mean) / std).reshape(n, -1).astype(np.float32), y


@pytest.fixture(scope="module")
def colour_files(tmp_path_factory):
    """data.h5 of the dataset "colours"; per model (untrained, seeded) its files as training writes them,
    activations on 60 of the 100 test points; clusters (the true classes) and rankings per layer."""
    folder = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(0)
    (x_train, y_train), (x_test, y_test) = colour_images(40, rng), colour_images(100, rng)
    data_file = folder / "data.h5"
    write_shape_data(data_file, {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test},
                     {"dataset": "colours", "kind": "arrays", "input_shape": json.dumps(list(SHAPE)),
                      "classes": json.dumps(["red", "green"]), "scaling": json.dumps(SCALING)})
    index = np.sort(rng.choice(100, 60, replace=False))
    points = {"split": "test", "of": 100, "n": 60, "seed": 0, "subsample": True}
    made = {"data": data_file, "index": index, "x": x_test}
    for model, settings in (MLP, CNN):
        where = folder / model
        where.mkdir()
        torch.manual_seed(0)
        net = build(int(np.prod(SHAPE)), 2, settings["widths"], settings["regularization"], settings["activation"],
                    settings.get("convolution"), SHAPE).eval()
        hidden, logits = train.record(net, x_test[index], "max")
        attrs = store.provenance("colours", model, 0, settings, input_shape=list(SHAPE), image_shape=list(SHAPE[1:]),
                                 scaling=json.dumps(SCALING), points=json.dumps(points),
                                 **({"convolutions": ["hidden_1"], "spatial_reduction": "max"}
                                    if "convolution" in settings else {}))
        files = {"state": where / "model.pt", "weights": where / "weights.h5", "activations": where / "activations.h5"}
        torch.save(net.state_dict(), files["state"])
        store.write_weights(files["weights"], train.layers(net), attrs)
        store.write_activations(files["activations"], hidden, logits, y_test[index], logits.argmax(1), attrs, index)
        labels = y_test[index]
        files["clusters"] = where / "clusters.h5"
        store.write_clusters(files["clusters"], labels, attrs={"method": "kmeans", "space": "hidden_1", "seed": 0})
        files["ranking"] = where / "ranking.csv"
        rank_neurons(hidden[0], labels, 3).assign(layer="hidden_1").to_csv(files["ranking"], index=False)
        made[model] = files
    return made


def job(files: dict, model: str, data_file) -> draw.Job:
    return draw.Job(SimpleNamespace(**files, data=data_file), {**SETTINGS, "shown": "hidden_1"}, f"colours {model}",
                    "hidden_1", "kmeans")


def input_tiles(fig) -> dict[str, np.ndarray]:
    """The drawn images titled "input #i" (the transformed inputs), by title."""
    found = {}
    for ax in fig.axes:
        titles = {round(t.get_position()[0], 6): t.get_text() for t in ax.texts if t.get_text().startswith("input #")}
        for image in ax.images:
            left, right = image.get_extent()[:2]
            title = titles.get(round((left + right) / 2, 6))
            if title:
                found[title] = np.asarray(image.get_array())
    return found


def test_the_transformed_inputs_are_the_analysed_points_as_the_user_sees_them(colour_files, tmp_path):
    model, _ = MLP
    files = colour_files[model]
    fig = draw.transformed(job(files, model, colour_files["data"]))
    index, x = colour_files["index"], colour_files["x"]
    labels = store.read_clusters(files["clusters"]).labels
    drawn = input_tiles(fig)
    samples = sample_points(labels, [0, 1], SETTINGS["per_cluster"], 0)
    for c, points in samples.items():
        for p in points:
            tile = drawn[f"input #{index[p]}"]  # its index in the test split, not among the 60
            seen = plotting.display_images(x[index[p]][None], SHAPE, SCALING)[0]
            assert tile.shape == (13, 11, 3) and np.allclose(tile, seen)
            # class 0 is red at the top left, class 1 green at the bottom right, as drawn
            corner = tile[1, 1] if c == 0 else tile[-2, -2]
            assert corner[c] > 0.99 and corner[1 - c] < 0.11
    assert len(drawn) == 2 * SETTINGS["per_cluster"]
    assert "RGB" in fig.get_suptitle()
    plotting.save(fig, tmp_path / "transformed.png")
    neurons = draw.neurons(job(files, model, colour_files["data"]))
    assert {im.get_array().shape for ax in neurons.axes for im in ax.images} == {(13, 11, 3)}


def test_a_cnns_colour_figures(colour_files, tmp_path):
    model, _ = CNN
    files = colour_files[model]
    each = job(files, model, colour_files["data"])
    fig = draw.channels(each)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    labels = store.read_clusters(files["clusters"]).labels
    for points in sample_points(labels, [0, 1], SETTINGS["per_cluster"], 0).values():
        for p in points:
            assert any(text.startswith(f"#{colour_files['index'][p]}\n") for text in texts)
    plotting.save(fig, tmp_path / "channels.png")
    kernels = draw.neurons(each)
    assert "3×3×3 kernels" in kernels.get_suptitle()
    assert {im.get_array().shape for ax in kernels.axes for im in ax.images} == {(3, 3, 3)}
    assert {ax.images[0].get_array().shape for ax in draw.filters(each).axes if ax.images} == {(3, 3, 3)}


def test_activations_of_other_data_are_refused_in_one_line(colour_files, tmp_path):
    """A data.h5 whose test split is shorter than the one the points were recorded on: one line that
    names the dataset and the fix, no figure."""
    model, _ = MLP
    x = colour_files["x"]
    shorter = tmp_path / "data.h5"
    write_shape_data(shorter, {"x_train": x[:10], "y_train": np.arange(10) % 2, "x_test": x[:80],
                               "y_test": np.arange(80) % 2},
                     {"dataset": "colours", "kind": "arrays", "input_shape": json.dumps(list(SHAPE)),
                      "classes": json.dumps(["red", "green"]), "scaling": json.dumps(SCALING)})
    with pytest.raises(ValueError, match=r"colours: the recorded points reach index 9\d but its test split has 80") \
            as error:
        draw.transformed(job(colour_files[model], model, shorter))
    assert "\n" not in str(error.value)


def test_which_datasets_get_image_figures_and_which_read_a_data_file():
    """Image figures for a dataset of images alone (nnconfig.has_images: its record); the figures that
    draw inputs read a prepared dataset's data.h5 beside the activations, a built-in one's nothing more."""
    config = nnconfig.validate({"datasets": ["digits", "disks"], "widths": [16]})
    assert figures.image_outputs(config, "digits", "mlp16-none-s0", "hidden_1")
    assert figures.image_outputs(config, "disks", "mlp16-none-s0", "hidden_1") == []
    inputs = figures.batch_inputs(figures.IMAGE_BATCH, config, "disks", "mlp16-none-s0", "hidden_1")
    assert inputs["data"] == "results/disks/data.h5" and inputs["activations"].endswith("activations.h5")
    assert "data" not in figures.batch_inputs(figures.IMAGE_BATCH, config, "digits", "mlp16-none-s0", "hidden_1")
    assert figures.SPECS["channels"].inputs and figures.SPECS["transformed"].inputs
    assert not figures.SPECS["neurons"].inputs
