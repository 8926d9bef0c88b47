"""The figures on a 2-D input domain (nntopo/figures/domain.py), from a regressor worked out by hand: a grid
of the unit square whose four quadrants are the four clusters, one hidden neuron on in each quadrant, an
output that sums the neurons with weights 1..4. The rendered pixels are read back: each quadrant is drawn
in its cluster's colour, each neuron's panel is bright in its quadrant alone, and silencing a cluster's
neuron raises the squared error by (q + 1)^2 in its quadrant and nowhere else."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize

from nntopo import plotting, store
from nntopo import task as tasks
from nntopo.analysis.ablation import Ablator
from nntopo.analysis.ranking import rank_neurons
from nntopo.figures import domain

SIDE = 20  # points per side of the grid: 400 points
CENTRES = {0: (0.25, 0.25), 1: (0.75, 0.25), 2: (0.25, 0.75), 3: (0.75, 0.75)}  # quadrant q's centre
WEIGHT = np.arange(1.0, 5.0)  # the output is neuron q's activation times q + 1


def quadrants():
    """(xy, labels, hidden, output): the grid, each point's quadrant, the one-hot hidden layer, the output."""
    side = (np.arange(SIDE) + 0.5) / SIDE
    xx, yy = np.meshgrid(side, side)
    xy = np.column_stack([xx.ravel(), yy.ravel()])
    labels = (xy[:, 0] > 0.5).astype(np.int64) + 2 * (xy[:, 1] > 0.5)
    hidden = np.eye(4)[labels]
    return xy, labels, hidden, hidden @ WEIGHT[:, None]


def rendered(fig) -> np.ndarray:
    """The figure's pixels, RGBA, rows from the top (it is drawn once: the axes' transforms are then set)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def pixel(image, ax, point) -> np.ndarray:
    """The RGB (0..1) rendered at data ``point`` of ``ax`` in ``image`` (``rendered``)."""
    x, y = ax.transData.transform(point)
    return image[image.shape[0] - round(y), round(x), :3] / 255.0


def assert_colour(seen, expected, tolerance=0.03):
    assert np.abs(np.asarray(seen) - np.asarray(expected)[:3]).max() <= tolerance, (seen, expected)


def test_each_quadrant_is_drawn_in_its_clusters_colour_and_by_its_clusters_mean_target():
    xy, labels, _, output = quadrants()
    fig = domain.plot_regions(xy, labels, output[:, 0], np.zeros(len(xy)), "quadrants")
    image = rendered(fig)
    regions, means = fig.axes[0], fig.axes[1]
    colours = plotting.cluster_colors(4)
    cmap = colormaps[domain.SEQUENTIAL_CMAP]  # mean targets 1..4, never negative: a sequential key from 0
    for cluster, centre in CENTRES.items():
        assert_colour(pixel(image, regions, centre), colours[cluster])
        assert_colour(pixel(image, means, centre), cmap((cluster + 1) / 4))


def test_a_neurons_panel_is_bright_in_its_quadrant_alone():
    xy, labels, hidden, _ = quadrants()
    top = {q: np.array([q]) for q in range(4)}
    fig = domain.plot_neurons(xy, hidden, labels, top, "neurons")
    image = rendered(fig)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("neuron")]
    assert [ax.get_title() for ax in panels] == [f"neuron {q}" for q in range(4)]
    cmap = colormaps[domain.SEQUENTIAL_CMAP]  # activations 0 and 1: the key runs 0..1
    for q, ax in enumerate(panels):
        for other, centre in CENTRES.items():
            assert_colour(pixel(image, ax, centre), cmap(1.0 if other == q else 0.0))


def test_silencing_a_clusters_neuron_raises_the_error_in_its_quadrant_alone(tmp_path):
    """The files as the workflow writes them: a regressor's activations (targets = its outputs, so no error
    before), the quadrants as clusters, their ranking; the real dense ablator."""
    xy, labels, hidden, output = quadrants()
    levels = tasks.levels_of(output, 2)
    acts_path, clusters_path, ranking_path = tmp_path / "activations.h5", tmp_path / "kmeans.h5", tmp_path / "r.csv"
    store.write_activations(acts_path, [hidden], output, tasks.level_sets(output, levels),
                            tasks.level_sets(output, levels),
                            {"dataset": "square", "model": "quads", "seed": 0, "task": tasks.REGRESSION,
                             "level_sets": json.dumps(levels)}, targets=output)
    store.write_clusters(clusters_path, labels, attrs={"dataset": "square", "model": "quads", "space": "hidden_1",
                                                  "method": "kmeans"})
    rank_neurons(hidden, labels, 1).assign(layer="hidden_1").to_csv(ranking_path, index=False)
    acts = store.read_activations(acts_path)
    ablator = Ablator(hidden, WEIGHT[None, :], np.zeros(1), acts.labels, targets=acts.targets)
    outputs = {name: tmp_path / f"{name}.png" for name in domain.LAYER_FIGURES}
    settings = {"shown": "hidden_1", "top": 1, "top_k": 1, "max_clusters": 20}
    domain.write_layer_figures(acts, xy, clusters_path, ranking_path, outputs, settings, "square quads",
                               lambda a, layer: ablator)
    for path in outputs.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # By hand: silencing neuron q sets quadrant q's output to 0, a squared error of (q + 1)^2 there alone.
    rises = {q: ablator.scores([q]) - ablator.scores() for q in range(4)}
    for q in range(4):
        assert rises[q] == pytest.approx(np.where(labels == q, (q + 1.0) ** 2, 0.0))
    fig = domain.plot_ablation(xy, rises, labels, {q: [q] for q in range(4)}, "ablation")
    image = rendered(fig)
    cmap, norm = colormaps[plotting.WEIGHT_CMAP], Normalize(-16, 16)
    for q, ax in enumerate(fig.axes[:4]):
        assert ax.get_title().startswith(f"cluster {q} (n=100)\nneurons {q} silenced\nmean rise {(q + 1) ** 2:.3g} inside, 0")
        for other, centre in CENTRES.items():
            assert_colour(pixel(image, ax, centre), cmap(norm((q + 1.0) ** 2 if other == q else 0.0)))


def test_the_networks_error_is_drawn_where_it_errs():
    """Output equal to the target but in quadrant 3, where it is 1 too high: the error panel is the key's
    top there and its middle (0) elsewhere; the title gives mse 100 / 400 and relative L2 10 / sqrt(3000)."""
    xy, labels, _, target = quadrants()
    output = target + (labels == 3)[:, None]
    fig = domain.plot_error(xy, target, output, "square quads")
    image = rendered(fig)
    assert fig._suptitle.get_text() == (f"square quads: mse {0.25:.3g}, relative L2 {10 / np.sqrt(3000):.3g}")
    error_ax = fig.axes[2]
    cmap = colormaps[plotting.WEIGHT_CMAP]  # a signed error: the diverging key from -1 to 1, 0 in its middle
    for quadrant, centre in CENTRES.items():
        assert_colour(pixel(image, error_ax, centre), cmap(1.0 if quadrant == 3 else 0.5))


def test_a_classifier_or_points_not_in_the_plane_are_refused_in_one_line():
    xy = quadrants()[0]
    classifier = type("Acts", (), {"targets": None, "attrs": {"model": "mlp4-none-s0"}})()
    with pytest.raises(ValueError, match="mlp4-none-s0: the domain figures are a regressor's"):
        domain.write_model_figures(classifier, xy, {}, "t")
    info = type("Info", (), {"task": tasks.REGRESSION, "input_shape": (3,)})()
    assert not domain.draws_domain(info)
    assert domain.draws_domain(type("Info", (), {"task": tasks.REGRESSION, "input_shape": (2,)})())
    assert not domain.draws_domain(type("Info", (), {"task": tasks.CLASSIFICATION, "input_shape": (2,)})())


def test_cluster_means_by_hand():
    assert domain.cluster_means(np.array([0, 0, 1, -1]), np.array([1.0, 3, 5, 7])).tolist()[:3] == [2, 2, 5]
    assert np.isnan(domain.cluster_means(np.array([0, -1]), np.array([1.0, 2]))[1])
    assert domain.colour_scale(np.array([-1.0, 2]), np.array([0.5])) == (plotting.WEIGHT_CMAP, -2.0, 2.0)
    assert domain.colour_scale(np.array([0.0, 3])) == (domain.SEQUENTIAL_CMAP, 0.0, 3.0)
