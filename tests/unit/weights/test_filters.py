"""The space of first-layer filters (nntopo/weights/filters.py; its stage, nntopo/weights/stage.py): the
preprocessing by hand, a circle of edge kernels against a cloud of random ones, the file, the figures,
and the rule in the workflow."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from nntopo import config as nnconfig
from nntopo import models, paths, store
from nntopo.store import Layer, StoreError
from nntopo.weights import cloud, filter_plots, filters, stage

SETTINGS = nnconfig.filters_slice(nnconfig.validate({}))  # the schema's defaults


def edge_kernels(n: int, noise: float = 0.05, seed: int = 0, shape=(3, 3)) -> np.ndarray:
    """(n, kh, kw) linear edges cos(theta) x + sin(theta) y over the kernel's grid (x to the right, y
    down, centred), theta evenly around the circle with a little jitter, at random gains and offsets,
    plus a little noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    xs, ys = xs - xs.mean(), ys - ys.mean()
    theta = 2 * np.pi * (np.arange(n) + rng.uniform(-0.3, 0.3, n)) / n
    kernels = np.cos(theta)[:, None, None] * xs + np.sin(theta)[:, None, None] * ys
    kernels = kernels + noise * rng.standard_normal(kernels.shape)
    return kernels * rng.uniform(0.5, 2.0, (n, 1, 1)) + rng.normal(size=(n, 1, 1))


def junk_kernels(n: int, scale: float = 0.02, seed: int = 1, shape=(3, 3)) -> np.ndarray:
    """Low-contrast kernels: an offset and a little noise."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 1, 1)) + scale * rng.standard_normal((n, *shape))


def write_cnn(path, kernels: np.ndarray, model: str) -> str:
    """A weights.h5 of a one-convolution network whose first layer holds ``kernels`` (out, kh, kw)."""
    out = len(kernels)
    weight = np.asarray(kernels, dtype=np.float32)[:, None]
    layers = {"hidden_1": Layer(weight, np.zeros(out, np.float32)),
              "output": Layer(np.zeros((10, out * 4), np.float32), np.zeros(10, np.float32))}
    store.write_weights(path, layers, {"dataset": "digits", "model": model, "seed": 0})
    return str(path)


# --- the preprocessing, by hand ------------------------------------------------------------------------

def test_centring_contrast_and_normalisation_by_hand():
    """A lone bright pixel: mean 1, centred -1 everywhere and 8 in the middle; Euclidean contrast
    sqrt(8 + 64); D-norm 18 (four neighbour pairs differing by 9); the unit vector divides by sqrt(72)."""
    kernel = np.zeros((1, 3, 3))
    kernel[0, 1, 1] = 9.0
    centred = filters.centre(kernel)
    expected = np.full(9, -1.0)
    expected[4] = 8.0
    assert centred.shape == (1, 9) and np.allclose(centred[0], expected)
    assert filters.contrast(centred)[0] == pytest.approx(np.sqrt(72))
    assert filters.contrast(centred, "d_norm", (3, 3))[0] == pytest.approx(18.0)
    assert np.allclose(filters.unit_vectors(centred)[0], expected / np.sqrt(72))
    # A constant added to a kernel changes nothing: centring removes it.
    assert np.allclose(filters.centre(kernel + 5.0), centred)
    # A horizontal ramp 0, 1, 2 in each row: D-norm counts 6 horizontal steps of 1 and no vertical one.
    ramp = np.tile(np.arange(3.0), (3, 1))[None]
    assert filters.contrast(filters.centre(ramp), "d_norm", (3, 3))[0] == pytest.approx(np.sqrt(6))
    with pytest.raises(ValueError, match="choose one of euclidean, d_norm"):
        filters.contrast(centred, "l1")


def test_a_kernel_of_several_channels_is_one_point_by_hand():
    """Two input channels, the lone bright pixel in the first, the second dark: one point of 18 values,
    centred on their common mean 0.5 (so the channels' balance, the colour, stays); its D-norm sums
    both channels' gradients (18 and 0); a ramp in the second channel alone adds its sqrt(6)."""
    kernel = np.zeros((1, 2, 3, 3))
    kernel[0, 0, 1, 1] = 9.0
    centred = filters.centre(kernel)
    expected = np.full(18, -0.5)
    expected[4] = 8.5
    assert centred.shape == (1, 18) and np.allclose(centred[0], expected)
    assert filters.contrast(centred, "d_norm", (2, 3, 3))[0] == pytest.approx(18.0)
    kernel[0, 1] = np.tile(np.arange(3.0), (3, 1))
    assert filters.contrast(filters.centre(kernel), "d_norm", (2, 3, 3))[0] == pytest.approx(np.sqrt(18 ** 2 + 6))


def test_the_contrast_filter_drops_flat_kernels():
    """Three flat kernels (constant: no pattern at all) and two of low contrast among five edges: half
    the kernels keeps the five edges; every kernel (share 1) still never keeps a flat one."""
    kernels = np.concatenate([edge_kernels(5), np.full((3, 3, 3), 2.5), junk_kernels(2)])
    contrasts = filters.contrast(filters.centre(kernels))
    assert np.allclose(contrasts[5:8], 0, atol=1e-12)
    assert filters.contrast_filter(contrasts, 0.5).tolist() == [0, 1, 2, 3, 4]
    assert filters.contrast_filter(contrasts, 1.0).tolist() == [0, 1, 2, 3, 4, 8, 9]
    assert filters.contrast_filter(contrasts, 0.1).tolist() == [int(np.argmax(contrasts))]


def test_the_density_filter_keeps_the_points_with_the_nearest_kth_neighbour():
    """Points on a line at 0, 1, 2, 3 and 10: the distance to the 2nd neighbour is 2, 1, 1, 2 and 8;
    60% of them (3) are the middle two and, tied at 2, the first."""
    points = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    distances = filters.knn_distance(points, 2)
    assert distances.tolist() == [2.0, 1.0, 1.0, 2.0, 8.0]
    assert filters.density_filter(distances, 0.6).tolist() == [0, 1, 2]
    assert filters.knn_distance(points[:2], 5).tolist() == [1.0, 1.0]  # k beyond the others: the furthest


# --- the shape: a circle of edges against random kernels ------------------------------------------------

def test_edge_kernels_around_a_circle_make_one_long_loop(tmp_path):
    """Edges at every orientation over the 3x3 grid, with noise, across two models, among low-contrast
    junk: the contrast filter drops the junk, and the persistence diagram has exactly one long H1 bar,
    many times longer than the next; in the first two principal components the edges go round in
    order of their orientation."""
    first = write_cnn(tmp_path / "a.h5", np.concatenate([edge_kernels(60, seed=0), junk_kernels(60, seed=1)]),
                      "cnn120-none-s0")
    second = write_cnn(tmp_path / "b.h5", np.concatenate([edge_kernels(60, seed=2), junk_kernels(60, seed=3)]),
                       "cnn120-none-s1")
    space = stage.filter_space([first, second], "digits", "cnn120-none", SETTINGS, log=lambda _: None)
    assert space.counts == {"kernels": 240, "contrast": 120, "density": 60}
    assert set(space.contrasted.tolist()) == set(range(60)) | set(range(120, 180))  # the edges, not the junk
    lifetimes = filters.loop_lifetimes(space.diagrams[1])
    assert lifetimes[0] > 0.8 and filters.loop_ratio(lifetimes) > 5
    assert (lifetimes > 0.2).sum() == 1
    assert space.attrs["plane_variance"] > 0.9
    # Going round the plane is going round the orientations: consecutive kernels in angle are similar.
    order = np.argsort(space.angle)
    steps = np.linalg.norm(np.diff(space.points[np.append(order, order[0])], axis=0), axis=1)
    assert steps.max() < 0.8


def test_random_kernels_make_no_long_loop():
    """Kernels of independent Gaussian pixels, as many as the circle's and filtered alike: their unit
    vectors fill a 7-sphere, whose Rips complex has only short-lived loops, none standing out."""
    chosen = filters.select(np.random.default_rng(0).standard_normal((240, 3, 3)), SETTINGS)
    assert (len(chosen.contrasted), len(chosen.kept)) == (120, 60)
    lifetimes = filters.loop_lifetimes(cloud.persistence_diagrams(chosen.points, 1)[1])
    assert lifetimes[0] < 0.4 and filters.loop_ratio(lifetimes) < 1.5  # measured: 0.23-0.27 and 1.04-1.16 over 5 seeds


def test_loop_lifetimes_and_their_ratio():
    diagram = np.array([[0.1, 0.3], [0.2, 1.2], [0.5, np.inf], [0.4, 0.9]])
    assert filters.loop_lifetimes(diagram).tolist() == pytest.approx([1.0, 0.5, 0.2])
    assert filters.loop_ratio(np.array([1.0, 0.5])) == 2.0
    assert filters.loop_ratio(np.array([0.4])) == np.inf and np.isnan(filters.loop_ratio(np.zeros(0)))


# --- files ---------------------------------------------------------------------------------------------

def test_the_file_round_trip_and_the_figures(tmp_path):
    """Other kernel shapes than 3x3 (5x5 here), batch normalisation's scale folded in, several input
    channels as one filter of them all (a point of 2 x 5 x 5 values, kept with its channels stacked
    along the rows); what is written is what is read, with its provenance."""
    rng = np.random.default_rng(0)
    kernels = np.concatenate([edge_kernels(40, shape=(5, 5)), junk_kernels(40, shape=(5, 5))])
    weight = np.stack([kernels[:40], kernels[40:]], axis=1).astype(np.float32)  # (40, 2, 5, 5): 2 input channels
    scale = rng.uniform(0.5, 2, 40).astype(np.float32)
    layers = {"hidden_1": Layer(weight, np.zeros(40, np.float32), scale, np.zeros(40, np.float32)),
              "output": Layer(np.zeros((10, 40 * 4), np.float32), np.zeros(10, np.float32))}
    weights = tmp_path / "cnn40-k5-batchnorm-s3" / "weights.h5"
    store.write_weights(weights, layers, {"dataset": "digits", "model": "cnn40-k5-batchnorm-s3", "seed": 3})
    outputs = SimpleNamespace(space=tmp_path / "space.h5", filter_diagram=tmp_path / "diagram.png",
                              filter_graph=tmp_path / "graph.png")
    made = stage.architecture_filter_space([weights], "digits", "cnn40-k5-batchnorm", SETTINGS, outputs,
                                             log=lambda _: None)
    assert made.kernels.shape == (40, 10, 5) and made.attrs["kernel_shape"] == [2, 5, 5]
    assert made.points.shape[1] == 50
    assert np.allclose(made.kernels[0], (scale[0] * weight[0]).reshape(10, 5))  # output channel 0, both inputs
    back = store.read_filter_space(outputs.space)
    for name in store.FILTER_ARRAYS:
        assert np.array_equal(getattr(back, name), getattr(made, name)), name
    assert set(back.graph) == set(made.graph) and all(np.array_equal(back.graph[k], made.graph[k]) for k in made.graph)
    assert all(np.array_equal(a, b) for a, b in zip(back.diagrams, made.diagrams)) and len(back.diagrams) == 2
    assert back.models == ["cnn40-k5-batchnorm-s3"] and json.loads(back.attrs["weight_files"]) == [str(weights)]
    assert json.loads(back.attrs["config"]) == SETTINGS and back.attrs["architecture"] == "cnn40-k5-batchnorm"
    assert "numpy" in json.loads(back.attrs["versions"]) and back.n_nodes > 0 and back.attrs["eps"] > 0
    # A node's kernel is the mean of its points.
    ptr = back.graph["node_ptr"]
    first = back.points[back.graph["node_points"][ptr[0]:ptr[1]]]
    assert np.allclose(back.graph["node_kernels"][0].ravel(), first.mean(axis=0))
    for figure in (outputs.filter_diagram, outputs.filter_graph):
        assert figure.stat().st_size > 10_000
    with pytest.raises(StoreError, match="not a filter space file"):
        store.read_filter_space(weights)


def test_colour_edges_make_one_long_loop_and_colour_figures(tmp_path):
    """Edges at every orientation, each drawn in one colour across the three input channels (red up,
    blue down: weights 1, 0.5 and -0.6 of the edge), among low-contrast grey junk (the same in every
    channel): the points are 27-D and still go round one circle; the figures draw the kernels as RGB,
    the file names their shape."""
    colour = np.array([1.0, 0.5, -0.6])[None, :, None, None]
    noise = np.random.default_rng(5).normal(scale=0.05, size=(60, 3, 3, 3))
    edges = edge_kernels(60, seed=0)[:, None] * colour + noise
    junk = np.repeat(junk_kernels(60, seed=1)[:, None], 3, axis=1)
    weight = np.concatenate([edges, junk]).astype(np.float32)
    layers = {"hidden_1": Layer(weight, np.zeros(120, np.float32)),
              "output": Layer(np.zeros((10, 120 * 4), np.float32), np.zeros(10, np.float32))}
    weights = tmp_path / "weights.h5"
    store.write_weights(weights, layers, {"dataset": "colours", "model": "cnn120-none-s0", "seed": 0})
    outputs = SimpleNamespace(space=tmp_path / "space.h5", filter_diagram=tmp_path / "diagram.png",
                              filter_graph=tmp_path / "graph.png")
    lines = []
    space = stage.architecture_filter_space([weights], "colours", "cnn120-none", SETTINGS, outputs, log=lines.append)
    assert "120 first-layer kernels of 3x3x3" in lines[0]
    assert space.counts == {"kernels": 120, "contrast": 60, "density": 30} and space.points.shape == (30, 27)
    assert set(space.contrasted.tolist()) == set(range(60))  # the edges, not the junk
    lifetimes = filters.loop_lifetimes(space.diagrams[1])
    assert lifetimes[0] > 0.5 and filters.loop_ratio(lifetimes) > 3
    back = store.read_filter_space(outputs.space)
    assert back.attrs["kernel_shape"] == [3, 3, 3] and filter_plots.kernel_shape(back) == (3, 3, 3)
    assert np.allclose(back.kernels.reshape(120, 3, 3, 3), weight)
    for draw in (filter_plots.filter_graph, filter_plots.filter_diagram):
        fig = draw(back)
        shapes = {im.get_array().shape for ax in fig.axes for im in ax.images if im.get_array().ndim == 3}
        assert shapes == {(3, 3, 3)}, draw  # every kernel tile is RGB
        assert "RGB, each channel 0.5 + w / (2 max|w|)" in fig.get_suptitle() + " ".join(
            ax.get_title() for ax in fig.axes)
    for figure in (outputs.filter_diagram, outputs.filter_graph):
        assert figure.stat().st_size > 10_000


def test_too_few_kernels_still_make_a_file_and_figures(tmp_path):
    """Two kernels: no Mapper graph, a diagram of two points; the figures say so instead of failing."""
    weights = write_cnn(tmp_path / "w.h5", edge_kernels(4), "cnn4-none-s0")
    outputs = SimpleNamespace(space=tmp_path / "space.h5", filter_diagram=tmp_path / "diagram.png",
                              filter_graph=tmp_path / "graph.png")
    lines = []
    space = stage.architecture_filter_space([weights], "digits", "cnn4-none", SETTINGS, outputs, log=lines.append)
    assert len(space.kept) == 1 and space.n_nodes == 0 and any("no Mapper graph" in line for line in lines)
    assert store.read_filter_space(outputs.space).n_nodes == 0 and outputs.filter_graph.stat().st_size > 5_000


def test_a_dense_first_layer_or_mixed_kernels_are_refused_in_one_line(tmp_path):
    dense = tmp_path / "mlp" / "weights.h5"
    store.write_weights(dense, {"hidden_1": Layer(np.zeros((4, 9), np.float32), np.zeros(4, np.float32)),
                                 "output": Layer(np.zeros((10, 4), np.float32), np.zeros(10, np.float32))},
                         {"model": "mlp4-none-s0"})
    refused = r"mlp/weights.h5: hidden_1 is not a convolution \(weight of shape \[4, 9\]\)"
    with pytest.raises(ValueError, match=refused) as error:
        stage.gather_kernels([dense])
    assert "\n" not in str(error.value)
    three = write_cnn(tmp_path / "three.h5", edge_kernels(4), "cnn4-none-s0")
    five = write_cnn(tmp_path / "five.h5", edge_kernels(4, shape=(5, 5)), "cnn4-k5-none-s1")
    with pytest.raises(StoreError, match="five.h5: 5x5 kernels, but .*three.h5 has 3x3"):
        stage.gather_kernels([three, five])
    with pytest.raises(StoreError, match="model cnn4-k5-none-s1 is not of architecture cnn4-none"):
        stage.filter_space([three, five], "digits", "cnn4-none", SETTINGS)


def test_config_block_defaults_and_slice():
    c = nnconfig.validate({})
    assert nnconfig.filters_slice(c) == c["filters"] and c["filters"]["contrast_norm"] == "euclidean"
    assert c["filters"]["mapper"] == {"n_cubes": 6, "perc_overlap": 0.5, "min_samples": 3, "eps_quantile": 0.8}
    for bad, key in (({"contrast_share": 0}, "filters.contrast_share"), ({"density_k": 0}, "filters.density_k"),
                     ({"contrast_norm": "l1"}, "filters.contrast_norm"),
                     ({"mapper": {"n_cubes": 0}}, "filters.mapper")):
        with pytest.raises(nnconfig.ConfigError, match=key):
            nnconfig.validate({"filters": bad})


def test_architecture_paths():
    import re

    assert re.fullmatch(models.ARCHITECTURE_REGEX, models.ModelId.parse("cnn16x32-k5-d128-tanh-l2-s1").architecture)
    assert not re.fullmatch(models.ARCHITECTURE_REGEX, "cnn16x32-none-s0")
    assert not re.fullmatch(models.ARCHITECTURE_REGEX, "mlp100-none")
    assert paths.FILTER_SPACE.format(dataset="mnist", architecture="cnn16x32-none") == \
        "results/mnist/filters/cnn16x32-none/space.h5"


# --- the workflow: two seeds of a small CNN on the embedded digits ----------------------------------------

STUDY = {
    "datasets": ["digits"],
    "widths": [],
    "cnns": [{"channels": [6, 8], "pool": 1, "dense": []}],
    "seeds": [0, 1],
    "regularizations": ["none"],
    "training": {"epochs": 1, "batch_size": 64, "lr": 0.01},
    "device": "cpu",
    "clustering": {"methods": []},
}
