"""A CNN's channels: receptive fields against brute force, the test images that activate a channel most
on hand-set weights, the figures, and their place in the workflow (an MLP's figures unchanged)."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from nntopo import config as nnconfig
from nntopo import models, paths, plotting, store
from nntopo.analysis import channels, plots
from nntopo.analysis.ranking import rank_neurons
from nntopo.store import StoreError
from nntopo.network.model import build
from nntopo import figures
from nntopo.figures.draw import draw_figure
from tests.conftest import ROOT
from tests.unit.analysis.test_plots import png_size, saved


def network(convolution: dict, image_shape, widths=(), n_classes: int = 2, activation=None):
    """An untrained CNN of images of ``image_shape``: (height, width) grey, or (channels, height, width)."""
    return build(int(np.prod(image_shape)), n_classes, list(widths), {"name": "none"},
                 activation or {"name": "relu"}, convolution, image_shape).eval()


# --- receptive fields -------------------------------------------------------------------------------

def test_the_default_cnn_on_28x28():
    fields = channels.receptive_fields({"channels": [16, 32], "kernel": 3, "pool": 2})
    assert fields == [channels.ReceptiveField(3, 1), channels.ReceptiveField(8, 2)]
    assert channels.receptive_field({"channels": [16, 32], "kernel": 3, "pool": 2}, "hidden_2").size == 8
    with pytest.raises(ValueError, match="not convolutional"):
        channels.receptive_field({"channels": [16, 32], "kernel": 3, "pool": 2}, "hidden_3")


@pytest.mark.parametrize("convolution, image_shape", [
    ({"channels": [2, 2], "kernel": 3, "pool": 2}, (28, 28)),  # the default CNN
    ({"channels": [2, 2, 2], "kernel": 3, "pool": 1}, (10, 10)),  # no pooling
    ({"channels": [2, 2, 2], "kernel": 3, "pool": 2}, (22, 23)),  # three layers, an odd side dropped by pooling
    ({"channels": [2, 2], "kernel": 5, "pool": 2}, (20, 20)),
    ({"channels": [2, 2], "kernel": 2, "pool": 3}, (17, 17)),  # pooling wider than the kernel
    ({"channels": [2, 2], "kernel": 1, "pool": 2}, (7, 6)),
    ({"channels": [2], "kernel": 4, "pool": 1}, (9, 9)),
])
def test_receptive_field_is_what_a_pixel_reaches(convolution, image_shape):
    """Positive weights, no bias, positive inputs: every value is a positive sum, so adding a huge
    amount to one pixel raises exactly the map positions that read it (max pooling passes the raised
    value on, as it becomes its window's largest)."""
    h, w = image_shape
    torch.manual_seed(0)
    net = network(convolution, image_shape).double()
    conv_layers = nnconfig.convolutional_layers(models.ModelId((*convolution["channels"],), "none", 0,
                                                              conv=len(convolution["channels"]),
                                                              kernel=convolution["kernel"], pool=convolution["pool"]))
    with torch.no_grad():
        for name in conv_layers:
            net.layers[name].weight.uniform_(0.5, 1.5)
            net.layers[name].bias.zero_()
    base = np.random.default_rng(0).uniform(0.1, 1.0, h * w)
    x = np.repeat(base[None], h * w + 1, axis=0)
    x[1 + np.arange(h * w), np.arange(h * w)] += 1e6
    with torch.no_grad():
        hidden = net.forward_all(torch.from_numpy(x))[0]
    fields = channels.receptive_fields(convolution)
    for name, maps, field in zip(conv_layers, hidden, fields):
        maps = maps.numpy()
        reached = (np.abs(maps[1:] - maps[:1]) > 1.0).any(axis=1).reshape(h, w, *maps.shape[2:])  # pixel, position
        mh, mw = maps.shape[2:]
        rows, cols = field.window(np.arange(mh), np.arange(mw))
        seen_rows = (np.arange(h)[:, None] >= rows) & (np.arange(h)[:, None] < rows + field.size)  # (h, mh)
        seen_cols = (np.arange(w)[:, None] >= cols) & (np.arange(w)[:, None] < cols + field.size)  # (w, mw)
        expected = seen_rows[:, None, :, None] & seen_cols[None, :, None, :]
        assert np.array_equal(reached, expected), (name, field)
        # No padding: every position's window lies inside the image.
        assert (mh - 1) * field.jump + field.size <= h and (mw - 1) * field.jump + field.size <= w


# --- the images that activate a channel most, on hand-set weights -------------------------------------

def hand_made():
    """A 4x4 image network of one 2x2 convolution: channel 0 copies the window's top-left pixel,
    channel 1 averages the window; four images of one or two lit pixels."""
    net = network({"channels": [2], "kernel": 2, "pool": 1}, (4, 4))
    with torch.no_grad():
        net.layers["hidden_1"].weight.zero_()
        net.layers["hidden_1"].weight[0, 0, 0, 0] = 1.0
        net.layers["hidden_1"].weight[1] = 0.25
        net.layers["hidden_1"].bias.zero_()
    images = np.zeros((4, 4, 4), np.float32)
    images[0, 1, 2] = 0.5
    images[1, 0, 0] = 0.9
    images[2, 3, 3] = 1.0  # beyond channel 0's reach: its top-left pixel is never at row or column 3
    images[3, 2, 1], images[3, 1, 1] = 0.7, 0.2
    # Spatial maxima by hand: channel 0, the brightest pixel within rows and columns 0-2; channel 1,
    # the brightest 2x2 sum / 4 (image 3: 0.9 / 4 at (1, 0) and at (1, 1), a tie).
    recorded = np.array([[0.5, 0.125], [0.9, 0.225], [0.0, 0.25], [0.7, 0.225]], np.float32)
    return net, images.reshape(4, 16), recorded


def test_feature_maps_and_their_reduction():
    net, images, recorded = hand_made()
    maps = channels.feature_maps(net, images, "hidden_1")
    assert maps.shape == (4, 2, 3, 3)
    np.testing.assert_allclose(maps[:, 0], images.reshape(4, 4, 4)[:, :3, :3])
    np.testing.assert_allclose(channels.reduce(maps, "max"), recorded, rtol=1e-6)
    np.testing.assert_allclose(channels.reduce(maps, "mean")[3, 0], 0.9 / 9, rtol=1e-6)
    np.testing.assert_array_equal(channels.feature_maps(net, images, "hidden_1", [1], chunk=3), maps[:, [1]])
    assert channels.feature_maps(net, images[:0], "hidden_1").shape == (0, 2, 3, 3)
    channels.check_recorded(maps, recorded, "max")


def test_top_images_positions_and_patches_by_hand():
    net, images, recorded = hand_made()
    field = channels.receptive_field({"channels": [2], "kernel": 2, "pool": 1}, "hidden_1")
    assert field == channels.ReceptiveField(2, 1)
    tops = channels.top_activating(net, images, (4, 4), recorded, "hidden_1", [0, 1], field, n=3, margin=1)
    pictures = images.reshape(4, 4, 4)

    first = tops[0]
    assert first.images.tolist() == [1, 3, 0]
    np.testing.assert_allclose(first.values, [0.9, 0.7, 0.5])
    assert first.positions.tolist() == [[0, 0], [2, 1], [1, 2]]
    # Means of every input channel: one here, grey images.
    np.testing.assert_allclose(first.mean_patch, [[[0.7, 0], [0, 0]]], atol=1e-7)  # the lit pixel at the top left
    # One pixel of context around each patch, 0 beyond the border (image 1's window starts at the corner).
    context = np.zeros((4, 4))
    context[1, 1], context[0, 1] = (0.9 + 0.7 + 0.5) / 3, 0.2 / 3
    np.testing.assert_allclose(first.mean_context, context[None], atol=1e-7)
    np.testing.assert_allclose(first.mean_image, pictures[[1, 3, 0]].mean(axis=0)[None], atol=1e-7)
    assert first.peak == pytest.approx(0.9)

    second = tops[1]
    assert second.images.tolist() == [2, 1, 3]  # 0.25, then the tie of 0.225 in index order
    assert second.positions.tolist() == [[2, 2], [0, 0], [1, 0]]  # image 3's tie: the first in row-major order
    np.testing.assert_allclose(second.mean_patch, [[[0.3, 0.2 / 3], [0, 1.7 / 3]]], atol=1e-7)


def test_crop_pads_beyond_the_border():
    image = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(channels.crop(image, 1, 1, 2), [[5, 6], [9, 10]])
    np.testing.assert_array_equal(channels.crop(image, -1, 3, 2, fill=-1), [[-1, -1], [3, -1]])
    assert channels.crop(image, 5, 5, 2).tolist() == [[0, 0], [0, 0]]
    colour = np.stack([image, image + 100, image + 200])  # (C, H, W): every channel cropped alike
    np.testing.assert_array_equal(channels.crop(colour, 1, 1, 2), [[[5, 6], [9, 10]], [[105, 106], [109, 110]],
                                                                   [[205, 206], [209, 210]]])


def test_the_patches_of_colour_images_keep_every_channel():
    """A 2x2 convolution of 3-channel 4x4 images whose one channel copies the blue channel's top-left
    pixel: the images that activate it most are those with blue there, and their mean patch holds the
    red they also have, in the red channel."""
    net = network({"channels": [1], "kernel": 2, "pool": 1}, (3, 4, 4))
    with torch.no_grad():
        net.layers["hidden_1"].weight.zero_()
        net.layers["hidden_1"].weight[0, 2, 0, 0] = 1.0
        net.layers["hidden_1"].bias.zero_()
    images = np.zeros((3, 3, 4, 4), np.float32)
    images[0, 2, 1, 2], images[0, 0, 1, 2] = 0.5, 0.3  # blue and some red at (1, 2)
    images[1, 2, 0, 0] = 0.9
    images[2, 0, 0, 0] = 1.0  # red alone: the channel does not see it
    recorded = np.array([[0.5], [0.9], [0.0]], np.float32)
    field = channels.ReceptiveField(2, 1)
    top = channels.top_activating(net, images.reshape(3, -1), (3, 4, 4), recorded, "hidden_1", [0], field, n=2,
                                  margin=1)[0]
    assert top.images.tolist() == [1, 0] and top.positions.tolist() == [[0, 0], [1, 2]]
    expected = np.zeros((3, 2, 2))
    expected[2, 0, 0], expected[0, 0, 0] = (0.9 + 0.5) / 2, 0.3 / 2
    np.testing.assert_allclose(top.mean_patch, expected, atol=1e-7)
    assert top.mean_context.shape == (3, 4, 4) and top.mean_image.shape == (3, 4, 4)
    np.testing.assert_allclose(top.mean_image, images[[1, 0]].mean(axis=0), atol=1e-7)


def test_recorded_values_of_another_model_are_refused():
    net, images, recorded = hand_made()
    field = channels.ReceptiveField(2, 1)
    wrong = recorded.copy()
    wrong[2, 1] = 0.5
    with pytest.raises(channels.MapMismatch, match="differs from the recorded channel values by up to 0.25"):
        channels.top_activating(net, images, (4, 4), wrong, "hidden_1", [1], field, n=2)
    with pytest.raises(channels.MapMismatch, match="3 analysed images but 4 recorded rows"):
        channels.top_activating(net, images[:3], (4, 4), recorded, "hidden_1", [1], field)


# --- the figures, drawn from arrays -----------------------------------------------------------------

def test_filters_of_any_kernel_shape(tmp_path):
    rng = np.random.default_rng(0)
    saved(plots.filters(rng.normal(size=(16, 1, 3, 3)), "mnist cnn16x32-none-s0"), tmp_path, "filters")
    fig = plots.filters(rng.normal(size=(5, 1, 3, 5)), "a model with a long name " * 4)
    assert "the 5 first-layer filters, 3×5 kernels" in fig.get_suptitle().replace("\n", " ")
    assert {ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()} == {f"ch {c}" for c in range(5)}
    saved(fig, tmp_path, "filters_wide")
    fig = plots.filters(rng.normal(size=(6, 3, 5, 3)), "a colour model")  # an odd, not square kernel
    assert "3×5×3 (3 input channels) kernels" in fig.get_suptitle().replace("\n", " ")
    assert "0.5 + w / (2 max|w|)" in fig.get_suptitle()
    assert {ax.images[0].get_array().shape for ax in fig.axes if ax.images} == {(5, 3, 3)}  # RGB
    saved(fig, tmp_path, "filters_colour")
    fig = plots.filters(rng.normal(size=(4, 2, 3, 3)))  # two input channels: side by side
    assert {ax.images[0].get_array().shape for ax in fig.axes if ax.images} == {(3, 6 + plotting.channel_gap(3))}
    saved(fig, tmp_path, "filters_two_channels")
    with pytest.raises(ValueError, match="C_in, kh, kw"):
        plots.filters(rng.normal(size=(4, 3)))


def test_colour_filters_keep_their_channels_in_order():
    """Channel 0 of the kernel positive at the top left: red there (0.5 + 1/2 in red alone), channel 1 at
    the bottom right: green; a negated kernel shows neither."""
    from tests.unit.analysis.test_plots import colour_at, red_and_green, rendered

    kernels = np.stack([red_and_green((3, 5, 3)).reshape(3, 5, 3)] * 2)
    kernels[1] *= -1
    fig = plots.filters(kernels)
    pixels = rendered(fig)
    first, second = (ax for ax in fig.axes if ax.images)
    np.testing.assert_allclose(colour_at(fig, pixels, first, 0, 0), [1, 0.5, 0.5], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, first, 2, 4), [0.5, 1, 0.5], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, second, 0, 0), [0, 0.5, 0.5], atol=0.02)


def random_ranking(n_points=200, n_channels=8, n_clusters=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_clusters, n_points)
    labels[:5] = -1
    preferred = labels[:, None] == np.arange(n_channels) % n_clusters
    hidden = np.maximum(rng.normal(size=(n_points, n_channels)) + preferred, 0)
    return labels, rank_neurons(hidden, labels, 3)


def test_kernel_images_in_the_kernel_shape(tmp_path):
    labels, ranking = random_ranking(n_clusters=26, n_points=600)
    fig = plots.kernel_images(ranking, np.random.default_rng(1).normal(size=(8, 1, 3, 2)), (3, 2), top_k=3,
                                      title="test")
    assert "3×2 kernels of each cluster's top 3 channels (20 largest of 26 clusters shown)" in fig.get_suptitle()
    assert "title: channel (share of the cluster's points with it in their top-k); red excites, blue inhibits; " \
           "right: Σ fraction × kernel" in fig.get_suptitle()
    saved(fig, tmp_path, "kernels")
    fig = plots.kernel_images(ranking, np.random.default_rng(1).normal(size=(8, 3, 3, 3)), (3, 3, 3), top_k=3,
                              title="colour")
    assert "3×3×3 kernels of each cluster's top 3 channels" in fig.get_suptitle()
    assert {im.get_array().shape for ax in fig.axes for im in ax.images} == {(3, 3, 3)}
    saved(fig, tmp_path, "kernels_colour")


def channel_case(convolution, image_shape, layer, n_points=120, n_clusters=3, seed=0, activation=None,
                 reduction="max"):
    torch.manual_seed(seed)
    net = network(convolution, image_shape, activation=activation)
    images = np.random.default_rng(seed).random((n_points, int(np.prod(image_shape))), dtype=np.float32)
    recorded = channels.reduce(channels.feature_maps(net, images, layer), reduction)
    labels = np.arange(n_points) % n_clusters
    return net, images, recorded, labels, rank_neurons(recorded, labels, 3)


@pytest.mark.parametrize("convolution, image_shape, layer, top_k, per_cluster, activation, reduction", [
    ({"channels": [4, 6], "kernel": 3, "pool": 2}, (28, 28), "hidden_2", 3, 3, "relu", "max"),
    ({"channels": [4], "kernel": 3, "pool": 1}, (8, 8), "hidden_1", 1, 1, "relu", "max"),  # narrow: the title wraps
    ({"channels": [4, 4], "kernel": 2, "pool": 3}, (16, 14), "hidden_2", 2, 2, "tanh", "mean"),  # negative values
    ({"channels": [4, 4], "kernel": 3, "pool": 2}, (3, 13, 11), "hidden_2", 2, 2, "relu", "max"),  # colour, odd size
    ({"channels": [3], "kernel": 2, "pool": 1}, (2, 9, 7), "hidden_1", 2, 1, "relu", "max"),  # two channels
])
def test_channel_responses(tmp_path, convolution, image_shape, layer, top_k, per_cluster, activation, reduction):
    net, images, recorded, labels, ranking = channel_case(convolution, image_shape, layer, reduction=reduction,
                                                          activation={"name": activation})
    field = channels.receptive_field(convolution, layer)
    found = channels.cluster_channels(net, images, image_shape, recorded, labels, ranking, layer, field, top_k=top_k,
                                      per_cluster=per_cluster, seed=0, n=10, reduction=reduction)
    assert found.clusters == [0, 1, 2] and all(len(s) == per_cluster for s in found.samples.values())
    assert set(found.tops) == {int(c) for chans, _ in found.channels.values() for c in chans}
    fig = plots.channel_responses(images, image_shape, found, top_k=top_k, title=f"test model, {layer}, kmeans")
    heading = fig.get_suptitle()
    assert f"receptive field ({field.describe()})" in heading.replace("\n", " ")
    width_px = fig.get_size_inches()[0] * 120
    assert all(len(line) * 9.5 * 0.56 / 72 * 120 <= width_px for line in heading.split("\n")), heading
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    for c, points in found.samples.items():
        for p in points:
            assert f"#{p}\n{reduction} {recorded[p, found.channels[c][0][0]]:.2f}" in texts
    saved(fig, tmp_path, f"channels_{layer}_{activation}")


def test_a_channel_that_never_responds(tmp_path):
    net, images, _, labels, _ = channel_case({"channels": [3], "kernel": 3, "pool": 1}, (8, 8), "hidden_1")
    with torch.no_grad():
        net.layers["hidden_1"].bias[:] = torch.tensor([-100.0, 0.0, 0.0])  # channel 0 is dead
    recorded = channels.reduce(channels.feature_maps(net, images, "hidden_1"), "max")
    ranking = pd.DataFrame({"cluster": [0, 0], "neuron": [0, 1], "count": [40, 40], "fraction": [1.0, 1.0],
                            "rank": [1, 2]})
    found = channels.cluster_channels(net, images, (8, 8), recorded, labels, ranking, "hidden_1",
                                      channels.ReceptiveField(3, 1), top_k=2, per_cluster=2, n=5)
    assert found.tops[0].peak == 0
    fig = plots.channel_responses(images, (8, 8), found, top_k=2)
    assert "never active\non the test set" in [t.get_text() for ax in fig.axes for t in ax.texts]
    saved(fig, tmp_path, "dead_channel")


def test_no_clusters(tmp_path):
    net, images, recorded, _, _ = channel_case({"channels": [3], "kernel": 3, "pool": 1}, (8, 8), "hidden_1")
    ranking = pd.DataFrame(columns=["cluster", "neuron", "count", "fraction", "rank"])
    found = channels.cluster_channels(net, images, (8, 8), recorded, np.full(len(images), -1), ranking, "hidden_1",
                                      channels.ReceptiveField(3, 1))
    assert found.clusters == [] and found.tops == {} and found.maps == {}
    saved(plots.channel_responses(images, (8, 8), found, title="nothing clustered"), tmp_path, "no_clusters")


# --- the figures from a model's files, through the figure Specs ----------------------------------------

CNN_GRID = {"datasets": ["digits"], "widths": [16, [32, 16]],
            "cnns": [{"channels": [6, 8], "kernel": 2, "dense": [16]}, {"channels": [6, 8], "kernel": 2, "dense": []}]}


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory):
    """A CNN of the grid on the embedded digits, untrained (seeded) but recorded as training records it:
    model.pt, weights.h5, activations.h5, and per analysed layer clusters (the true classes) and rankings."""
    from nntopo import data
    from nntopo.network import train

    folder = tmp_path_factory.mktemp("cnn")
    config = nnconfig.validate(CNN_GRID)
    model = "cnn6x8-k2-none-s0"
    settings = nnconfig.training_slice(config, model)
    digits = data.load("digits")
    files = {"state": folder / "model.pt", "weights": folder / "weights.h5", "activations": folder / "activations.h5"}

    def record(seed, where):
        torch.manual_seed(seed)
        net = build(64, 10, settings["widths"], settings["regularization"], settings["activation"],
                    settings["convolution"], digits.image_shape).eval()
        hidden, logits = train.record(net, digits.x_test, "max")
        attrs = store.provenance("digits", model, 0, settings, image_shape=list(digits.image_shape),
                                  convolutions=nnconfig.convolutional_layers(model), spatial_reduction="max")
        torch.save(net.state_dict(), where["state"])
        store.write_weights(where["weights"], train.layers(net), attrs)
        store.write_activations(where["activations"], hidden, logits, digits.y_test, logits.argmax(1), attrs)

    record(0, files)
    other = {name: folder / f"other_{path.name}" for name, path in files.items()}
    record(1, other)
    acts = store.read_activations(files["activations"])
    labels = digits.y_test.copy()
    labels[:10] = -1
    for layer in nnconfig.layers_of(config, model):
        files[f"clusters_{layer}"] = folder / f"clusters_{layer}.h5"
        store.write_clusters(files[f"clusters_{layer}"], labels, attrs={"method": "kmeans", "space": layer, "seed": 0})
        files[f"ranking_{layer}"] = folder / f"ranking_{layer}.csv"
        pd.concat([rank_neurons(acts.layer(ranked), labels, 5).assign(layer=ranked)
                   for ranked in nnconfig.ranked_layers(config, model, layer)]).to_csv(files[f"ranking_{layer}"],
                                                                                       index=False)
    return config, model, files, other


def drawn(path) -> None:
    width, height = png_size(path)
    assert path.stat().st_size > 5000 and 300 <= width <= 8000 and 200 <= height <= 8000, (width, height)


def test_cnn_figures_from_the_files(cnn_files, tmp_path):
    config, model, files, _ = cnn_files
    draw_figure("filters", {"weights": files["weights"]}, tmp_path / "filters.png",
                figures.settings_of("filters", config), "digits", model)
    drawn(tmp_path / "filters.png")
    for layer in ("hidden_1", "hidden_2", "output"):  # the output's clusters show hidden_2, the deepest
        inputs = {"ranking": files[f"ranking_{layer}"], "clusters": files[f"clusters_{layer}"],
                  "activations": files["activations"], "weights": files["weights"], "state": files["state"]}
        output = tmp_path / f"channels_{layer}.png"
        draw_figure("channels", inputs, output, figures.settings_of("channels", config, model, layer),
                    "digits", model, layer, "kmeans")
        drawn(output)
    settings = figures.settings_of("neurons", config, model, "hidden_1")
    draw_figure("neurons", {"ranking": files["ranking_hidden_1"], "weights": files["weights"]},
                tmp_path / "neurons.png", settings, "digits", model, "hidden_1", "kmeans")
    drawn(tmp_path / "neurons.png")


def test_the_channels_figure_refuses_another_models_activations(cnn_files, tmp_path):
    config, model, files, other = cnn_files
    inputs = {"ranking": files["ranking_hidden_2"], "clusters": files["clusters_hidden_2"],
              "activations": other["activations"], "weights": files["weights"], "state": files["state"]}
    with pytest.raises(StoreError) as error:
        draw_figure("channels", inputs, tmp_path / "channels.png",
                    figures.settings_of("channels", config, model, "hidden_2"), "digits", model, "hidden_2",
                    "kmeans")
    message = str(error.value)
    assert "\n" not in message and str(other["activations"]) in message and str(files["state"]) in message
    assert "files of different models?" in message
    assert not (tmp_path / "channels.png").exists()


# --- the Specs and rules: which models get which figures ----------------------------------------------

# An MLP's batches as they were before CNNs: the same names, so the same outputs and jobs.
MLP_BATCHES = {
    "MODEL_BATCH": ["activations", "weights", "sankey__kmeans", "sankey__tsne", "sankey__umap", "sankey__mapper",
                    "mapper_layers__mapper", "layers_page__mapper"],
    "LAYER_BATCH": ["agreement", *(f"{f}__{m}" for f in ("heatmap", "barplot", "manifold", "ablation")
                                   for m in ("kmeans", "tsne", "umap", "mapper")),
                    "mapper_graph__mapper", "mapper_page__mapper", "graph_file__mapper"],
    "IMAGE_BATCH": [f"{f}__{m}" for f in ("neurons", "transformed") for m in ("kmeans", "tsne", "umap", "mapper")],
}


def test_mlp_batches_are_unchanged():
    config = nnconfig.validate({})
    for name, expected in MLP_BATCHES.items():
        assert figures.batch(getattr(figures, name), config) == expected
    assert figures.batch_settings(figures.IMAGE_BATCH, config, "mlp100-none-s0", "hidden_1")["transformed__umap"] == \
        {"top": 5, "per_cluster": 3, "max_clusters": 20, "shown": "hidden_1"}
    # The transformed inputs read the activations file for the analysed points; MNIST has no data.h5.
    assert set(figures.batch_inputs(figures.IMAGE_BATCH, config, "mnist", "mlp100-none-s0", "hidden_1")) == \
        {f"{need}__{m}" for need in ("ranking", "clusters") for m in ("kmeans", "tsne", "umap", "mapper")} | \
        {"weights", "activations"}


def test_which_image_figures_each_model_gets():
    mlps = nnconfig.validate({**CNN_GRID, "cnns": [], "datasets": ["digits", "disks"], "analysis": {"layers": [1]}})
    for model in ("mlp16-none-s0", "mlp32x16-none-s0"):
        for dataset in ("digits", "disks"):
            assert figures.model_image_outputs(mlps, dataset, model) == []
            for layer in nnconfig.layers_of(mlps, model):  # hidden_1 and output: both rank hidden_1
                before = list(figures.batch_outputs(figures.IMAGE_BATCH, mlps).values()) \
                    if figures.shows_pixels(mlps, dataset, model, layer) else []
                assert figures.image_outputs(mlps, dataset, model, layer) == before
                assert bool(before) == (dataset == "digits")
    config = nnconfig.validate(CNN_GRID)
    methods = config["clustering"]["methods"]

    def per_method(*names):
        return [paths.fill(paths.METHOD_FIGURE, figure=n, method=m) for n in names for m in methods]

    assert figures.image_outputs(config, "digits", "mlp16-none-s0", "output") == per_method("neurons", "transformed")
    assert figures.image_outputs(config, "digits", "mlp32x16-none-s0", "output") == []

    dense, plain = "cnn6x8-k2-d16-none-s0", "cnn6x8-k2-none-s0"
    expected = {
        (dense, "hidden_1"): per_method("neurons", "channels"),
        (dense, "hidden_2"): per_method("channels"),
        (dense, "hidden_3"): [],
        (dense, "output"): [],  # ranks hidden_3, a dense layer
        (plain, "hidden_1"): per_method("neurons", "channels"),
        (plain, "hidden_2"): per_method("channels"),
        (plain, "output"): per_method("channels"),  # ranks hidden_2
    }
    for (model, layer), outputs in expected.items():
        assert layer in nnconfig.layers_of(config, model)
        assert figures.image_outputs(config, "digits", model, layer) == outputs, (model, layer)
        assert figures.model_image_outputs(config, "digits", model) == [paths.fill(paths.MODEL_FIGURE,
                                                                                   figure="filters")]
    assert figures.batch_inputs(figures.CHANNEL_BATCH, config, "digits", plain, "output")["state"] == \
        paths.MODEL_STATE.format(dataset="digits", model=plain)
    settings = figures.batch_settings(figures.CHANNEL_BATCH, config, plain, "output")
    assert settings["channels__kmeans"]["shown"] == "hidden_2"
    assert re.fullmatch(figures.MLP_ID_REGEX, "mlp16-none-s0") and not re.fullmatch(figures.MLP_ID_REGEX, plain)
    assert re.fullmatch(figures.CNN_ID_REGEX, dense) and not re.fullmatch(figures.CNN_ID_REGEX, "mlp16-none-s0")


def test_the_rules_plan_one_job_per_image_batch(tmp_path):
    """A dry run of a grid of MLPs and CNNs: each kind's image rules, never both for one file."""
    config = {**CNN_GRID, "regularizations": ["none"], "device": "cpu",
              "clustering": {"methods": ["kmeans", "mapper"]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory",
                          str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), "--cores", "1", "-n"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = set()
    for rule, wildcards in re.findall(r"^rule (\w+):.*?wildcards: ([^\n]*)", run.stdout, flags=re.S | re.M):
        values = dict(pair.split("=") for pair in wildcards.split(", "))
        if rule in {"image_figures", "kernel_figures", "channel_figures", "filter_figures"}:
            jobs.add((rule, values["model"], values.get("layer", "")))
    dense, plain = "cnn6x8-k2-d16-none-s0", "cnn6x8-k2-none-s0"
    assert jobs == {
        ("image_figures", "mlp16-none-s0", "hidden_1"), ("image_figures", "mlp16-none-s0", "output"),
        ("image_figures", "mlp32x16-none-s0", "hidden_1"),
        ("filter_figures", dense, ""), ("filter_figures", plain, ""),
        ("kernel_figures", dense, "hidden_1"), ("kernel_figures", plain, "hidden_1"),
        ("channel_figures", dense, "hidden_1"), ("channel_figures", dense, "hidden_2"),
        ("channel_figures", plain, "hidden_1"), ("channel_figures", plain, "hidden_2"),
        ("channel_figures", plain, "output"),
    }
