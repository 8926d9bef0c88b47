"""Figures render on small synthetic data, and the arithmetic behind the transformed inputs is right."""

import struct

import numpy as np
import pandas as pd
import pytest

from nntopo.analysis import plots as analysis_plots
from nntopo.analysis.ranking import cluster_sizes, sample_points
from nntopo.clustering import plots as clustering_plots
from nntopo.network import plots as network_plots
from nntopo import plotting
from nntopo.store import Layer


# --- synthetic inputs --------------------------------------------------------------------------------

def ranking_table(hidden: np.ndarray, labels: np.ndarray, k: int = 5) -> pd.DataFrame:
    """The ranking the workflow computes: per cluster, how often each neuron is in a point's top-k."""
    top = np.argsort(-hidden, axis=1, kind="stable")[:, :k]
    rows = []
    for c in np.unique(labels[labels >= 0]):
        members = labels == c
        counts = np.bincount(top[members].ravel(), minlength=hidden.shape[1])
        neurons = np.flatnonzero(counts)
        neurons = neurons[np.lexsort((neurons, -counts[neurons]))]
        for rank, n in enumerate(neurons, start=1):
            rows.append((int(c), int(n), int(counts[n]), counts[n] / members.sum(), rank))
    return pd.DataFrame(rows, columns=["cluster", "neuron", "count", "fraction", "rank"])


def summary_table(labels, y, predictions, n_classes=10, with_noise=False) -> pd.DataFrame:
    rows = []
    ids = sorted(set(labels[labels >= 0].tolist())) + ([-1] if with_noise and (labels < 0).any() else [])
    for c in ids:
        members = labels == c
        counts = np.bincount(y[members], minlength=n_classes)
        rows.append({"cluster": c, "size": int(members.sum()), "accuracy": float(np.mean(y[members] == predictions[members])),
                     "majority_label": int(counts.argmax()), "majority_share": counts.max() / members.sum(),
                     **{f"count_{i}": int(counts[i]) for i in range(n_classes)}})
    return pd.DataFrame(rows)


def make_case(n=300, hidden=24, shape=(8, 8), n_clusters=4, seed=0, scaling=None):
    """Points with cluster labels (some -1, one cluster of a single point), activations, weights, images
    of ``shape`` ((height, width) grey, or (channels, height, width))."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_clusters, n)
    labels[:20] = -1
    if n_clusters > 1:
        labels[labels == n_clusters - 1] = 0
        labels[25] = n_clusters - 1  # a cluster of size one
    acts = np.maximum(rng.normal(size=(n, hidden)) + (labels[:, None] == np.arange(hidden) % n_clusters), 0)
    d = int(np.prod(shape))
    return {
        "labels": labels,
        "hidden": acts.astype(np.float32),
        "output": rng.normal(size=(n, 10)).astype(np.float32),
        "y": rng.integers(0, 10, n),
        "pred": rng.integers(0, 10, n),
        "weights": rng.normal(scale=0.1, size=(hidden, d)),
        "images": rng.random((n, d)).astype(np.float32),
        "embedding": rng.normal(size=(n, 2)) + labels[:, None],
        "shape": shape,
        "n_clusters": n_clusters,
        "scaling": scaling,
    }


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def saved(fig, tmp_path, name):
    width_in, height_in = fig.get_size_inches()
    path = plotting.save(fig, tmp_path / "figs" / f"{name}.png")
    assert path.exists() and path.stat().st_size > 1000
    width, height = png_size(path)
    assert abs(width - width_in * plotting.DPI) <= 2 and abs(height - height_in * plotting.DPI) <= 2
    assert 300 <= width <= 8000 and 200 <= height <= 8000, (width, height)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temporary file left behind"
    return path


CASES = {
    "mnist_shape": dict(shape=(28, 28), n_clusters=4),
    "digits_8x8": dict(shape=(8, 8), n_clusters=5),
    "single_cluster": dict(shape=(8, 8), n_clusters=1),
    # colour, an odd size, standardised inputs; and a channel count drawn as a row of greys
    "colour_13x11": dict(shape=(3, 13, 11), n_clusters=4,
                         scaling={"kind": "standardize", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}),
    "two_channels_9x7": dict(shape=(2, 9, 7), n_clusters=3),
}
MANY = dict(shape=(4, 6), n_clusters=26, n=600)


@pytest.fixture(params=list(CASES))
def case(request):
    return request.param, make_case(**CASES[request.param])


# --- colours -------------------------------------------------------------------------------------------

def test_cluster_colors_deterministic_and_distinct():
    for n in range(1, 11):
        colors = plotting.cluster_colors(n)
        assert colors.shape == (n, 4)
        assert np.array_equal(colors, plotting.cluster_colors(n))
        assert len({tuple(np.round(c, 4)) for c in colors}) == n
    # the same cluster keeps its colour when a model has more clusters (up to the qualitative palette's end)
    assert np.array_equal(plotting.cluster_colors(18)[:10], plotting.cluster_colors(10))
    many = plotting.cluster_colors(40)
    assert many.shape == (40, 4) and len({tuple(np.round(c, 4)) for c in many}) == 40
    assert plotting.cluster_colors(0).shape == (0, 4)
    # no cluster looks like "no cluster"
    grey = np.asarray(plotting.NOISE_COLOR)
    assert np.min(np.abs(plotting.cluster_colors(18) - grey).sum(axis=1)) > 0.1


# --- arithmetic ----------------------------------------------------------------------------------------

def test_combined_weights_and_through_on_hand_made_numbers():
    weights = np.array([[1.0, 0.0, 0.0, 2.0],
                        [0.0, 1.0, 0.0, 0.0],
                        [0.0, 0.0, 1.0, -1.0]])
    rows = pd.DataFrame({"cluster": [3, 3, 3], "neuron": [2, 0, 1], "count": [8, 6, 2],
                         "fraction": [0.8, 0.6, 0.2], "rank": [1, 2, 3]})
    # top 2: neuron 2 (0.8) and neuron 0 (0.6)
    np.testing.assert_allclose(analysis_plots.combined_weights(rows, weights, top_k=2)[3], [0.6, 0.0, 0.8, 0.4])
    np.testing.assert_allclose(analysis_plots.combined_weights(rows, weights, top_k=5)[3], [0.6, 0.2, 0.8, 0.4])
    # rows in any order: rank decides
    np.testing.assert_allclose(analysis_plots.combined_weights(rows.iloc[::-1], weights, top_k=1)[3], [0.0, 0.0, 0.8, -0.8])
    assert analysis_plots.combined_weights(rows.iloc[:0], weights, top_k=5) == {}
    np.testing.assert_allclose(analysis_plots.weighted_sum(weights, [], []), np.zeros(4))

    image = np.array([[0.5, 1.0], [0.0, 2.0]])
    combined = analysis_plots.combined_weights(rows, weights, top_k=2)[3]
    seen = analysis_plots.through(image, combined)
    assert seen.shape == (2, 2)
    np.testing.assert_allclose(seen, [[0.3, 0.0], [0.0, 0.8]])
    # its sum is the fraction-weighted sum of the neurons' pre-activations (no bias)
    assert seen.sum() == pytest.approx(0.8 * weights[2] @ image.ravel() + 0.6 * weights[0] @ image.ravel())
    np.testing.assert_allclose(analysis_plots.through(image.ravel(), combined.reshape(2, 2)), seen.ravel())
    with pytest.raises(ValueError, match="pixels"):
        analysis_plots.through(image, np.ones(3))


def test_the_largest_clusters_are_shown():
    ranking = pd.DataFrame({"cluster": [0, 0, 1, 1, 2], "neuron": [4, 7, 7, 1, 3], "count": [3, 1, 5, 5, 1],
                            "fraction": [0.75, 0.25, 1.0, 1.0, 1.0], "rank": [1, 2, 1, 2, 1]})
    shown, note = plotting.largest_clusters(cluster_sizes(ranking), limit=2)
    assert shown == [0, 1] and "2 largest of 3" in note
    assert plotting.largest_clusters(cluster_sizes(ranking), limit=3) == ([0, 1, 2], "")


# --- figures --------------------------------------------------------------------------------------------

def test_distributions(tmp_path):
    data = make_case()
    data["hidden"][:, 3] = 0  # a neuron that never fires
    saved(network_plots.activation_distributions(data["hidden"], data["output"], "test model"), tmp_path, "activations")
    layers = {"hidden_1": Layer(data["weights"], np.zeros(24)), "output": np.zeros((10, 24))}
    saved(network_plots.weight_distributions(layers, "test model"), tmp_path, "weights")


def test_grid_summary(tmp_path):
    table = pd.DataFrame({
        "model": ["mlp100-none-s0", "mlp100-l2-s0", "mlp1024-none-s0", "mlp1024-l2-s0", "odd-name"],
        "test_accuracy": [0.979, 0.98, 0.984, 0.9839, 0.5],
        "weight_l2_norm": [42.8, 19.3, 77.3, 20.6, 1.0],
        "near_zero_fraction": [0.009, 0.27, 0.013, 0.45, 0.0],
    })
    saved(analysis_plots.grid_summary(table, "mnist"), tmp_path, "grid")
    table["n_clusters_kmeans"] = 10
    table["n_clusters_hdbscan"] = [3, 40, np.nan, 7, 1]
    saved(analysis_plots.grid_summary(table.iloc[:4]), tmp_path, "grid_clusters")


def test_cluster_figures(case, tmp_path):
    name, data = case
    labels, n_clusters = data["labels"], data["n_clusters"]
    ranking = ranking_table(data["hidden"], labels)
    summary = summary_table(labels, data["y"], data["pred"], with_noise=name == "digits_8x8")
    saved(analysis_plots.ranking_heatmap(ranking, n_clusters, top_k=5, title=name), tmp_path, f"heatmap_{name}")
    saved(clustering_plots.cluster_composition(summary, name), tmp_path, f"composition_{name}")
    saved(clustering_plots.cluster_manifold(data["embedding"], labels, name), tmp_path, f"manifold_{name}")
    saved(analysis_plots.neuron_weight_images(ranking, data["weights"], data["shape"], top_k=5, title=name), tmp_path,
          f"neurons_{name}")
    saved(analysis_plots.transformed_inputs(data["images"], labels, ranking, data["weights"], data["shape"], seed=0, top_k=5,
                                            per_cluster=3, title=name, scaling=data["scaling"]), tmp_path,
          f"transformed_{name}")


def test_many_clusters_are_capped():
    data = make_case(**MANY)
    labels = data["labels"]
    ranking = ranking_table(data["hidden"], labels)
    figures = [
        analysis_plots.ranking_heatmap(ranking, 26),
        clustering_plots.cluster_composition(summary_table(labels, data["y"], data["pred"])),
        analysis_plots.neuron_weight_images(ranking, data["weights"], data["shape"], top_k=5),
        analysis_plots.transformed_inputs(data["images"], labels, ranking, data["weights"], data["shape"], seed=0),
    ]
    for fig in figures:
        assert "20 largest of 26" in fig.get_suptitle()
    fig = clustering_plots.cluster_manifold(data["embedding"], data["labels"])
    assert "20 largest of 26" in fig.get_suptitle()
    assert sum(ax.get_visible() and ax.axison for ax in fig.axes) == 21  # all clusters + 20 highlighted


def test_transformed_inputs_show_the_computed_sums():
    data = make_case(shape=(8, 8), n_clusters=3)
    labels = data["labels"]
    ranking = ranking_table(data["hidden"], labels)
    fig = analysis_plots.transformed_inputs(data["images"], labels, ranking, data["weights"], (8, 8), seed=3, top_k=5,
                                            per_cluster=2)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    samples = sample_points(labels, [0, 1, 2], 2, seed=3)
    combined = analysis_plots.combined_weights(ranking, data["weights"], 5)
    for c, points in samples.items():
        own, nxt = combined[c], combined[(c + 1) % 3]
        for p in points:
            assert f"input #{p}" in texts
            assert f"× own (c{c})\nΣ={analysis_plots.through(data['images'][p], own).sum():+.2f}" in texts
            assert f"× next (c{(c + 1) % 3})\nΣ={analysis_plots.through(data['images'][p], nxt).sum():+.2f}" in texts


def test_wrong_image_shape_is_refused():
    data = make_case(shape=(8, 8))
    ranking = ranking_table(data["hidden"], data["labels"])
    with pytest.raises(ValueError, match="1x28x28 holds 784 values but the weights have 64 inputs"):
        analysis_plots.neuron_weight_images(ranking, data["weights"], (28, 28))
    with pytest.raises(ValueError, match="3x8x8 holds 192"):
        analysis_plots.transformed_inputs(data["images"], data["labels"], ranking, data["weights"], (3, 8, 8), seed=0)


def test_mapper_graph(tmp_path):
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 30, 25)
    node_ptr = np.concatenate([[0], np.cumsum(sizes)])
    node_points = rng.integers(0, 200, node_ptr[-1])
    edges = np.array([(i, i + 1) for i in range(23)] + [(0, 5), (3, 9)])
    node_cluster = np.repeat([0, 1, 2, -1, 3], 5)
    labels_true = rng.integers(0, 10, 200)
    saved(clustering_plots.mapper_graph(node_ptr, node_points, edges, node_cluster, labels_true, "test"), tmp_path, "mapper")
    saved(clustering_plots.mapper_graph(node_ptr, node_points, np.zeros((0, 2), int), np.zeros(25, int), None), tmp_path,
          "mapper_single")
    saved(clustering_plots.mapper_graph(np.zeros(1, int), np.zeros(0, int), np.zeros((0, 2), int), np.zeros(0, int),
                             labels_true), tmp_path, "mapper_empty")


# --- images of any shape: inputs as the user sees them, colour weights, tiles -------------------------------

def test_the_scaling_is_undone_by_hand():
    # Two channels of 1 x 2 pixels, standardised with mean (0.5, 0.2) and std (0.25, 0.1).
    x = np.array([[0.0, 2.0, -4.0, 1.0],
                  [3.0, -3.0, 8.0, 0.0]], dtype=np.float32)
    scaling = {"kind": "standardize", "mean": [0.5, 0.2], "std": [0.25, 0.1]}
    shown = plotting.display_images(x, (2, 1, 2), scaling)
    assert shown.shape == (2, 1, 2, 2)  # (n, H, W, C)
    # channel 0: 0 * 0.25 + 0.5, 2 * 0.25 + 0.5; channel 1: -4 * 0.1 + 0.2 = -0.2 -> 0, 1 * 0.1 + 0.2
    np.testing.assert_allclose(shown[0, 0], [[0.5, 0.0], [1.0, 0.3]])
    # 3 * 0.25 + 0.5 = 1.25 -> 1, -3 * 0.25 + 0.5 = -0.25 -> 0; 8 * 0.1 + 0.2 = 1.0, 0.2
    np.testing.assert_allclose(shown[1, 0], [[1.0, 1.0], [0.0, 0.2]])
    # given numbers are undone the same way; one number stands for every channel
    np.testing.assert_allclose(plotting.display_images(x, (2, 1, 2), {**scaling, "kind": "given"}), shown)
    np.testing.assert_allclose(plotting.display_images(x[:, :2], (1, 1, 2), {"kind": "standardize", "mean": [0.5],
                                                                              "std": [0.25]})[:, 0, :, 0],
                               [[0.5, 1.0], [1.0, 0.0]])
    # unit and none: as they are (a grey image of 1 x 4, not clipped), the dtype kept
    for kind in ("unit", "none"):
        same = plotting.display_images(x, (1, 1, 4), {"kind": kind, "low": 0, "high": 255})
        assert same.dtype == np.float32 and np.array_equal(same[..., 0], x.reshape(2, 1, 4))
    assert np.array_equal(plotting.display_images(x, (1, 1, 4), None)[..., 0], x.reshape(2, 1, 4))
    with pytest.raises(ValueError, match="scaling mean has 3 values for images of 2 channels"):
        plotting.display_images(x, (2, 1, 2), {"kind": "standardize", "mean": [0, 0, 0], "std": [1, 1]})
    with pytest.raises(ValueError, match="'log'"):
        plotting.display_images(x, (2, 1, 2), {"kind": "log"})


def test_the_input_shape_and_scaling_from_a_files_attributes():
    assert plotting.input_shape({"input_shape": [3, 13, 11], "image_shape": [13, 11]}) == (3, 13, 11)
    assert plotting.input_shape({"image_shape": np.array([28, 28])}) == (1, 28, 28)  # a file from before
    assert plotting.input_shape({"input_shape": [2], "image_shape": []}) is None  # points
    assert plotting.input_shape({}) is None
    assert plotting.scaling({}) == {"kind": "unit"}
    assert plotting.scaling({"scaling": '{"kind": "standardize", "mean": [0.1], "std": [2]}'})["std"] == [2]
    assert plotting.channels_last(np.arange(12), (3, 2, 2))[1, 0].tolist() == [2, 6, 10]  # pixel (1, 0), each channel


def test_colour_weights_put_zero_at_mid_grey():
    weights = np.array([[[0.0, 0.2, -0.2], [0.1, -0.4, 0.8]]])  # (H=1, W=2, C=3)
    np.testing.assert_allclose(plotting.signed_colours(weights, 0.4),
                               [[[0.5, 0.75, 0.25], [0.625, 0.0, 1.0]]])  # 0.5 + w / 0.8, clipped
    rgb, style = plotting.picture(weights, plotting.WEIGHT_CMAP, -0.4, 0.4)
    assert style == {} and np.array_equal(rgb, plotting.signed_colours(weights, 0.4))
    grey, style = plotting.picture(weights[..., :1], plotting.WEIGHT_CMAP, -0.4, 0.4)
    assert grey.shape == (1, 2) and style == {"cmap": plotting.WEIGHT_CMAP, "vmin": -0.4, "vmax": 0.4}
    # inputs: from vmin to vmax; faded towards white as a background
    rgb, _ = plotting.picture(np.array([[[1.0, 0.0, 0.5]]]), plotting.INPUT_CMAP, 0, 1, fade=2)
    np.testing.assert_allclose(rgb, [[[1.0, 0.5, 0.75]]])
    _, style = plotting.picture(np.ones((1, 1, 1)), plotting.INPUT_CMAP, 0, 1.5, fade=2)
    assert style["vmax"] == 3.0
    # another channel count: the channels side by side, blank between them
    row, style = plotting.picture(np.arange(8.0).reshape(2, 2, 2), "gray", 0, 7)
    gap = plotting.channel_gap(2)
    assert row.shape == (2, 4 + gap) and np.isnan(row[:, 2:2 + gap]).all()  # drawn in GAP_COLOR
    assert style["cmap"].get_bad().tolist() == list(plotting.GAP_COLOR)
    assert row[:, :2].tolist() == [[0, 2], [4, 6]] and row[:, 2 + gap:].tolist() == [[1, 3], [5, 7]]


def test_tiles_of_3x13x11_keep_their_shape(tmp_path):
    assert plotting.tile_size((3, 13, 11)) == (13, 11)
    assert plotting.tile_size((13, 11)) == (13, 11)
    assert plotting.tile_size((2, 13, 11)) == (13, 2 * 11 + plotting.channel_gap(11))
    tiles = plotting.TileRows(2, 40, (3, 13, 11), tile_in=1.0, left_in=1, right_in=0.5, head_in=0.5, title_in=0.3)
    ax = tiles.row(1)
    image = np.random.default_rng(0).random((13, 11, 3))
    tiles.tile(ax, image, 15, plotting.INPUT_CMAP, 0, 1)
    drawn = ax.images[-1]
    assert drawn.get_extent() == [15, 26, 13, 0] and drawn.get_array().shape == (13, 11, 3)
    # square pixels: as many inches per pixel across as down, one image's width taking tile_in
    box = ax.get_position()
    per_x = box.width * tiles.width / 40
    per_y = box.height * tiles.height / 13
    assert per_x == pytest.approx(per_y) and per_x * 11 == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"\(13, 11, 3\)"):  # channels first would be mistaken for rows
        tiles.tile(ax, image.transpose(2, 0, 1), 0, plotting.INPUT_CMAP, 0, 1)
    # a wide or tall tile in a graph fills its square along its longer side
    assert plotting.fit_halves(0.4, (3, 13, 11)) == pytest.approx((0.4 * 11 / 13, 0.4))
    assert plotting.fit_halves(0.4, (1, 28, 28)) == (0.4, 0.4)


def rendered(fig) -> np.ndarray:
    """The figure's pixels, (height, width, RGB) in [0, 1], as plotting.save draws them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0


def colour_at(fig, pixels, ax, x, y) -> np.ndarray:
    """The rendered colour at data point (x, y) of ``ax``."""
    col, row = ax.transData.transform((x, y))
    return pixels[int(pixels.shape[0] - row), int(col)]


def red_and_green(shape=(3, 13, 11)) -> np.ndarray:
    """One input, flat in the network's order (C, H, W): a red square at the top left, a green one at the
    bottom right, black elsewhere."""
    c, h, w = shape
    image = np.zeros(shape)
    image[0, :4, :4] = 1.0
    image[1, -4:, -4:] = 1.0
    return image.ravel()


def test_colour_channels_are_drawn_in_their_order():
    """Red stays red and at the top left, green green and at the bottom right: in the input tile (as it is),
    and in a weight tile (0 mid grey: the red square 0.5 + 1 / 2 in red alone)."""
    shape = (3, 13, 11)
    n = 40
    labels = np.arange(n) % 2
    images = np.repeat(red_and_green(shape)[None], n, axis=0)
    hidden = np.zeros((n, 4))
    hidden[labels == 0, 0] = hidden[labels == 1, 1] = 1.0
    ranking = ranking_table(hidden, labels, k=1)
    weights = np.zeros((4, 3 * 13 * 11))
    weights[:2] = red_and_green(shape)  # neurons 0 and 1, each cluster's top one
    fig = analysis_plots.transformed_inputs(images, labels, ranking, weights, shape, seed=0, top_k=1, per_cluster=1)
    pixels = rendered(fig)
    ax = next(ax for ax in fig.axes if ax.images)
    first = ax.images[0]  # the first sample's input
    x0 = first.get_extent()[0]
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 1.5, 1.5), [1, 0, 0], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 9.5, 11.5), [0, 1, 0], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 9.5, 1.5), [0, 0, 0], atol=0.02)

    fig = analysis_plots.neuron_weight_images(ranking, weights, shape, top_k=1)
    pixels = rendered(fig)
    ax = next(ax for ax in fig.axes if ax.images)
    x0 = ax.images[0].get_extent()[0]
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 1.5, 1.5), [1, 0.5, 0.5], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 9.5, 11.5), [0.5, 1, 0.5], atol=0.02)
    np.testing.assert_allclose(colour_at(fig, pixels, ax, x0 + 9.5, 1.5), [0.5, 0.5, 0.5], atol=0.02)
    assert "0.5 + w / (2 max|w|)" in fig.get_suptitle()


def test_grey_figures_say_what_they_did_before():
    """A grey dataset's titles are the ones its figures always had (MNIST's figures stay byte for byte)."""
    data = make_case(shape=(28, 28))
    ranking = ranking_table(data["hidden"], data["labels"])
    fig = analysis_plots.neuron_weight_images(ranking, data["weights"], (28, 28), top_k=5, title="t")
    assert fig.get_suptitle().endswith("title: neuron (share of the cluster's points with it in their top-k); red "
                                       "excites, blue inhibits; right: Σ fraction × weight")
    fig = analysis_plots.transformed_inputs(data["images"], data["labels"], ranking, data["weights"], (1, 28, 28),
                                            seed=0)
    assert fig.get_suptitle().endswith("same fractions; Σ: sum of the image")
