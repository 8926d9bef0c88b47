"""A regressor's figures and pages: coloured by the mean target and by the error, with continuous keys.

The case is a 2-D regression with a known target: points on a 16 x 15 grid of [0, 1]^2, target
t = x + 2y, the network's output t plus an error that is largest in one quadrant. The clusters are the
four quadrants, the Mapper graph's nodes the cells of a 4 x 4 grid (edges between neighbours), so every
mean target and error of a cluster, node or band is worked out here from the points directly.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib import colormaps
from matplotlib.colors import Normalize, to_rgba
from PIL import Image

from nntopo import figures, plotting, store
from nntopo import task as tasks
from nntopo.analysis import plots as analysis_plots
from nntopo.analysis.ablation.table import REGRESSION_COLUMNS
from nntopo.analysis.ranking import error_summary, rank_neurons
from nntopo.clustering import plots as cluster_plots
from nntopo.figures.draw import draw_figure
from nntopo.figures.page import page_const, page_data, write_mapper_page
from tests.unit.figures.test_mapper_page import chromium, drawn_nodes, real_js_dir, render_dom  # noqa: F401 (fixtures)

MODEL = "mlp8-none-s0"
ERROR_OF_QUADRANT = np.array([0.01, 0.02, 0.04, 0.3])  # the output's offset in quadrants 0..3


def regression_case() -> SimpleNamespace:
    """Points, target, outputs, hidden activations, quadrant clusters and a 4 x 4 grid graph."""
    gx, gy = np.meshgrid(np.linspace(0, 1, 16), np.linspace(0, 1, 15))
    x = np.stack([gx.ravel(), gy.ravel()], axis=1)
    target = x[:, 0] + 2 * x[:, 1]
    quadrant = (x[:, 0] >= 0.5).astype(np.int64) + 2 * (x[:, 1] >= 0.5)
    output = target + ERROR_OF_QUADRANT[quadrant]
    hidden = np.maximum(np.concatenate([x, 1 - x, x - 0.5, 0.5 - x], axis=1), 0).astype(np.float32)
    cell = np.minimum((x * 4).astype(np.int64), 3)
    node = cell[:, 0] + 4 * cell[:, 1]
    order = np.argsort(node, kind="stable")
    node_ptr = np.concatenate([[0], np.cumsum(np.bincount(node, minlength=16))])
    edges = [(i + 4 * j, i + 1 + 4 * j) for j in range(4) for i in range(3)]
    edges += [(i + 4 * j, i + 4 * (j + 1)) for j in range(3) for i in range(4)]
    node_cluster = (np.arange(16) % 4 >= 2).astype(np.int64) + 2 * (np.arange(16) // 4 >= 2)
    positions = np.stack([np.arange(16) % 4, np.arange(16) // 4], axis=1).astype(np.float64)
    levels = tasks.levels_of(target, 4)
    return SimpleNamespace(x=x, target=target, output=output, errors=(output - target) ** 2, hidden=hidden,
                           labels=quadrant, levels=levels, node=node,
                           graph={"node_ptr": node_ptr, "node_points": order, "edges": np.array(edges),
                                  "node_cluster": node_cluster, "positions": positions})


@pytest.fixture(scope="module")
def case():
    return regression_case()


@pytest.fixture(scope="module")
def files(case, tmp_path_factory):
    """The files a regressor's figures read: activations, clusters (with the graph), ranking, summary,
    ablation and agreement tables."""
    folder = tmp_path_factory.mktemp("regression")
    attrs = store.provenance("plane", MODEL, 0, {}, task=tasks.REGRESSION, level_sets=json.dumps(case.levels))
    store.write_activations(folder / "activations.h5", [case.hidden], case.output[:, None],
                            tasks.level_sets(case.target, case.levels), tasks.level_sets(case.output, case.levels),
                            attrs, targets=case.target)
    store.write_clusters(folder / "clusters.h5", case.labels, case.x, case.graph,
                         store.provenance("plane", MODEL, 0, {}, method="mapper", space="hidden_1", parameters="{}"))
    ranking = rank_neurons(case.hidden, case.labels, 3).assign(layer="hidden_1")
    ranking.to_csv(folder / "ranking.csv", index=False)
    error_summary(case.labels, case.output, case.target, case.levels).to_csv(folder / "table.csv", index=False)
    ablation_table(case).to_csv(folder / "ablation.csv", index=False)
    pd.DataFrame({"method_a": ["kmeans", "mapper", "kmeans"], "method_b": ["kmeans", "mapper", "mapper"],
                  "ari": [np.nan, np.nan, 0.5], "explained_variance": [0.8, 0.6, np.nan]}).to_csv(
        folder / "agreement.csv", index=False)
    return {name: str(folder / f"{name}.{ext}") for name, ext in [
        ("activations", "h5"), ("clusters", "h5"), ("ranking", "csv"), ("table", "csv"), ("ablation", "csv"),
        ("agreement", "csv")]} | {"embedding": str(folder / "clusters.h5"), "folder": folder}


def ablation_table(case) -> pd.DataFrame:
    """An ablation table of the regression columns: cluster 3's error rises far more than random units'."""
    rows = []
    for c in range(4):
        before = float(np.mean(case.errors[case.labels == c]))
        after = before * (40 if c == 3 else 1.5)
        rows.append({"cluster": c, "size": int((case.labels == c).sum()), "n_silenced": 3, "neurons": "0 1 2",
                     "mse_cluster_before": before, "mse_cluster_after": after, "rise": after - before,
                     "rel_l2_cluster_before": 0.01, "rel_l2_cluster_after": 0.02, "mse_other_before": 0.02,
                     "mse_other_after": 0.03, "other_rise": 0.01, "specificity": after - before - 0.01,
                     "random_mean": before * 2, "random_std": before * 0.2, "random_rise_mean": before,
                     "random_other_mean": 0.025, "p_value": 0.01 if c == 3 else 0.6})
    return pd.DataFrame(rows, columns=REGRESSION_COLUMNS).assign(layer="hidden_1")


def node_means(case, values) -> np.ndarray:
    return np.array([values[case.node == i].mean() for i in range(16)])


def colour_of(value, low, high, cmap) -> np.ndarray:
    return np.asarray(colormaps[cmap](Normalize(low, high)(value)))


def drawn_colours(ax) -> np.ndarray:
    """The face colours of the nodes ``draw_graph`` drew on ``ax``, in node order (it draws the biggest first)."""
    scatter = ax.collections[1]
    return np.asarray(scatter.get_facecolors()), np.asarray(scatter.get_offsets())


def node_order(offsets, positions) -> np.ndarray:
    """Which node each drawn point is, by its position."""
    return np.array([int(np.argmin(np.abs(positions - p).sum(axis=1))) for p in offsets])


def colour_bars(fig) -> dict:
    """{label: (vmin, vmax)} of every colour bar of ``fig``."""
    bars = {}
    for ax in fig.axes:
        bar = getattr(ax, "_colorbar", None)
        if bar is not None:
            bars[bar.ax.get_ylabel() or bar.ax.get_xlabel()] = (bar.norm.vmin, bar.norm.vmax)
    return bars


# --- the Mapper graph, static and on a page --------------------------------------------------------

def test_mapper_graph_nodes_take_the_colour_of_their_mean_target_and_error(case):
    fig = cluster_plots.mapper_graph(case.graph["node_ptr"], case.graph["node_points"], case.graph["edges"],
                                     case.graph["node_cluster"], labels_true=np.zeros(len(case.x), np.int64),
                                     positions=case.graph["positions"], targets=case.target, errors=case.errors)
    graphs = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    assert len(graphs) == 3  # clusters, mean target, error: no panel of classes
    means, errors = node_means(case, case.target), node_means(case, case.errors)
    for ax, values, cmap, low in ((graphs[1], means, plotting.TARGET_CMAP, means.min()),
                                  (graphs[2], errors, plotting.ERROR_CMAP, 0.0)):
        colours, offsets = drawn_colours(ax)
        drawn = node_order(offsets, case.graph["positions"])
        assert sorted(drawn) == list(range(16))
        np.testing.assert_allclose(colours, colour_of(values, low, values.max(), cmap)[drawn], atol=1e-6)
    bars = colour_bars(fig)
    assert bars["mean target"] == pytest.approx((means.min(), means.max()))
    assert bars["mean squared error"] == pytest.approx((0.0, errors.max()))


def test_mapper_page_colours_nodes_by_mean_target_and_error(case, tmp_path):
    g = case.graph
    labels, preds = tasks.level_sets(case.target, case.levels), tasks.level_sets(case.output, case.levels)
    write_mapper_page(tmp_path / "page.html", g["node_ptr"], g["node_points"], g["edges"], labels, preds,
                      node_cluster=g["node_cluster"], positions=g["positions"], targets=case.target,
                      outputs=case.output, levels=case.levels)
    data = page_const((tmp_path / "page.html").read_text())
    assert data["task"] == "regression" and data["target"] == "target"
    assert data["classes"] == list(tasks.level_set_names(case.levels))
    values = data["layers"][0]["values"]
    np.testing.assert_allclose(values["target"], node_means(case, case.target), rtol=1e-3)
    np.testing.assert_allclose(values["error"], node_means(case, case.errors), rtol=1e-3)
    assert "accuracy" not in values
    by_key = {c["key"]: c for c in data["colourings"]}
    assert data["colourings"][0]["key"] == "target"  # what the page opens with
    target = by_key["target"]
    assert target["kind"] == "ramp"
    assert target["domain"] == pytest.approx([case.target.min(), case.target.max()], rel=1e-6)
    assert target["stops"][0] == "#440154" and target["stops"][-1] == "#fde725"  # viridis from end to end
    assert by_key["error"]["domain"] == pytest.approx([0.0, node_means(case, case.errors).max()], rel=1e-3)
    np.testing.assert_allclose(data["errors"], case.errors, rtol=1e-3, atol=1e-9)
    assert "mean squared error" in data["points_summary"]


def test_a_classifiers_page_data_is_as_before(case):
    """Without targets the page holds what it always held: label, accuracy and no regression keys."""
    g = case.graph
    labels = case.labels
    data = page_data([{"name": "graph", **g}], labels, labels[::-1].copy())
    assert set(data) == {"classes", "labels", "preds", "output", "layers", "colourings", "points_summary"}
    assert [c["key"] for c in data["colourings"]] == ["label", "accuracy", "cluster", "selection"]
    assert set(data["layers"][0]["values"]) == {"label", "accuracy", "cluster"}


# --- the figures a layer's batch draws, from the files -----------------------------------------------

def draw(name, files, tmp_path):
    spec = figures.SPECS[name]
    output = tmp_path / f"{name}.{'html' if spec.write else 'png'}"
    settings = {"max_clusters": 20, "top": 3, "alpha": 0.05, "shown": "hidden_1", "per_cluster": 2}
    given = {**files, "layer_clusters": [files["clusters"], files["clusters"]]}  # two layers, the same clusters
    draw_figure(name, {need: given[need] for need in spec.needs}, output, settings, "plane", MODEL, "hidden_1",
                "mapper")
    return output


@pytest.mark.parametrize("name", ["barplot", "manifold", "ablation", "mapper_graph", "mapper_page", "agreement",
                                  "heatmap", "sankey", "mapper_layers", "layers_page", "activations"])
def test_a_regressors_layer_figures_are_drawn_from_its_files(name, files, tmp_path):
    output = draw(name, files, tmp_path)
    if output.suffix == ".png":
        with Image.open(output) as image:
            assert image.size[0] > 500 and image.size[1] > 300
    else:
        assert page_const(output.read_text())["task"] == "regression"


def test_cluster_composition_colours_mean_target_and_error(case):
    summary = error_summary(case.labels, case.output, case.target, case.levels)
    names = tasks.level_set_names(case.levels)
    fig = cluster_plots.cluster_composition(summary, level_names=names)
    _, composition, target_ax, error_ax = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")][:4]
    means = np.array([case.target[case.labels == c].mean() for c in range(4)])
    stds = np.array([case.target[case.labels == c].std() for c in range(4)])
    mse = np.array([case.errors[case.labels == c].mean() for c in range(4)])
    markers = target_ax.collections[-1]
    np.testing.assert_allclose(markers.get_offsets()[:, 1], means)
    low, high = (means - stds).min(), (means + stds).max()
    np.testing.assert_allclose(markers.get_facecolors(), colour_of(means, low, high, plotting.TARGET_CMAP), atol=1e-6)
    bars = error_ax.patches
    np.testing.assert_allclose([b.get_height() for b in bars], mse)
    np.testing.assert_allclose([b.get_facecolor() for b in bars], colour_of(mse, 0, mse.max(), plotting.ERROR_CMAP),
                               atol=1e-6)
    keys = colour_bars(fig)
    assert keys["target"] == pytest.approx((low, high)) and keys["mean squared error"] == pytest.approx((0, mse.max()))
    legend = [t.get_text() for t in composition.get_legend().get_texts()]
    assert legend == list(names)[::-1]  # highest level set on top, as the bars stack
    # The level sets' colours run along the target's colour map, lowest first.
    segments = [p.get_facecolor() for p in composition.patches[::4]]  # the first cluster's bar of each level set
    np.testing.assert_allclose(segments, plotting.level_colors(4), atol=1e-6)


def test_manifold_panels_colour_points_by_target_and_error(case):
    fig = cluster_plots.cluster_manifold(case.x, case.labels, targets=case.target, errors=case.errors)
    panels = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    assert panels[1].get_title() == "the points' target" and "error" in panels[2].get_title()
    points = panels[1].collections[0]
    order = np.argsort(case.target, kind="stable")
    np.testing.assert_allclose(points.get_offsets(), case.x[order])
    np.testing.assert_allclose(points.get_facecolors(), colour_of(case.target[order], case.target.min(),
                                                                   case.target.max(), plotting.TARGET_CMAP), atol=1e-6)
    assert colour_bars(fig)["target"] == pytest.approx((case.target.min(), case.target.max()))


def test_sankey_bands_take_the_mean_target_of_their_points(case):
    first = case.labels
    second = (case.x[:, 0] >= 0.5).astype(np.int64)  # two halves: each band holds one quadrant
    fig = analysis_plots.layer_sankey({"a": first, "b": second}, tasks.level_sets(case.target, case.levels),
                                      targets=case.target)
    ax = fig.axes[0]
    bands = [p for p in ax.patches if p.get_gid() == "band"]
    assert len(bands) == 4
    means = np.sort([case.target[first == c].mean() for c in range(4)])
    expected = colour_of(means, case.target.min(), case.target.max(), plotting.TARGET_CMAP)
    drawn = np.array(sorted((tuple(b.get_facecolor()) for b in bands), key=lambda c: c[0]))
    np.testing.assert_allclose(sorted(map(tuple, expected[:, :3]), key=lambda c: c[0]),
                               np.array(drawn)[:, :3], atol=1e-6)
    assert "band colour: the mean target of its points" in colour_bars(fig)


def test_ablation_figure_shows_the_error_and_stars_the_hurt_cluster(case):
    table = ablation_table(case)
    fig = analysis_plots.ablation_effects(table, title="t")
    own = fig.axes[0]
    assert own.get_ylabel() == "mean squared error on the cluster's points"
    assert own.get_yscale() == "log"  # cluster 3's error rises 40-fold above the others'
    assert "1 of 4 clusters whose error rises more without their top-k" in own.get_title()
    stars = [t for t in own.texts if t.get_text() == "*"]
    assert len(stars) == 1 and stars[0].xy[1] == pytest.approx(table["mse_cluster_after"].iloc[3])


def test_summary_figures_show_the_error_and_r2():
    grid = pd.DataFrame({"model": ["mlp8-none-s0", "mlp8-l2-s0"], "test_mse": [0.01, 0.02],
                         "test_accuracy": [np.nan, np.nan], "weight_l2_norm": [3.0, 2.0],
                         "near_zero_fraction": [0.1, 0.2]})
    fig = analysis_plots.grid_summary(grid)
    assert fig.axes[0].get_title() == "test error (mean squared)"
    assert fig.axes[0].get_ylim()[0] == 0
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.01", "0.02"]  # the bars' values
    layers = pd.DataFrame({"model": ["m", "m"], "layer": ["hidden_1", "output"], "depth": [1, 2],
                           "explained_variance": [0.5, 0.9], "probe_r2": [0.7, 0.95], "ari_output": [0.4, 1.0]})
    fig = analysis_plots.depth_profile(layers)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:2] == ["share of the target's variance the clusters explain", "ridge probe: R² on the held-out half"]


def test_level_colours_follow_the_target_colour_map():
    np.testing.assert_allclose(plotting.level_colors(2), colormaps["viridis"]([0.25, 0.75]))
    norm = plotting.value_norm([3.0, 3.0])
    assert (norm.vmin, norm.vmax) == (2.5, 3.5)  # a constant value still gets a scale
    colours = plotting.value_colors([np.nan, 1.0], plotting.value_norm([0.0, 1.0]), "viridis")
    assert tuple(colours[0]) == plotting.NOISE_COLOR and tuple(colours[1]) == to_rgba(colormaps["viridis"](1.0))


# --- the page in a real browser, offline -------------------------------------------------------------

def css_rgb(text: str) -> tuple[float, ...]:
    """A fill D3 wrote, "rgb(r, g, b)", as matplotlib's 0..1 values."""
    return tuple(int(v) / 255 for v in re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", text).groups())


def test_browser_colours_a_regressors_nodes_and_details(case, tmp_path, chromium, real_js_dir):
    g = case.graph
    path = tmp_path / "page.html"
    assert write_mapper_page(path, g["node_ptr"], g["node_points"], g["edges"],
                             tasks.level_sets(case.target, case.levels), tasks.level_sets(case.output, case.levels),
                             node_cluster=g["node_cluster"], positions=g["positions"], targets=case.target,
                             outputs=case.output, levels=case.levels, js_dir=real_js_dir) == []
    errors = node_means(case, case.errors)
    worst = int(np.argmax(errors))
    dom = render_dom(chromium, path, tmp_path, fragment=f"colour=error&tip={worst}")
    stops = next(c for c in page_const(path.read_text())["colourings"] if c["key"] == "error")["stops"]
    fills = {int(n["data-node"]): n["fill"] for n in drawn_nodes(dom)}
    assert len(fills) == 16
    # The largest error is the key's top end; the error-free quadrants sit at its bottom end.
    assert css_rgb(fills[worst]) == pytest.approx(to_rgba(stops[-1])[:3], abs=1 / 255)
    assert css_rgb(fills[0]) == pytest.approx(to_rgba(stops[0])[:3], abs=2 / 255)
    legend = re.search(r'<div id="legend">.*?</div>\s*<h2>', dom, re.S).group(0)
    assert "Colour: error (mean squared, per output value)" in legend and f"{errors.max():.3g}" in legend
    tip = re.search(r'<div id="tip"[^>]*>(.*?)</div>\s*<script', dom, re.S).group(1)
    found = re.search(r"(\d+) points, mean target ([\d.]+), mean squared error ([\d.e-]+)", tip)
    members = case.node == worst
    assert found and int(found[1]) == members.sum()
    assert float(found[2]) == pytest.approx(case.target[members].mean(), rel=5e-3)
    assert float(found[3]) == pytest.approx(errors[worst], rel=5e-3)


# --- the space of neurons of a network of one output ---------------------------------------------------

def test_one_outputs_neurons_are_coloured_by_their_path_to_it():
    """Six neurons with paths -2, -1, 0, 1, 2, 4 to the one output, in three nodes of two: the nodes'
    mean paths are -1.5, 0.5 and 3, drawn on the weights' map over -3 .. 3."""
    from nntopo.store import NeuronSpace
    from nntopo.weights import neuron_plots

    path = np.array([[-2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 9.0]])  # neuron 6 is out of the cloud (zero weights)
    points = np.eye(6, 4, dtype=np.float64)
    graph = {"node_ptr": np.array([0, 2, 4, 6]), "node_points": np.arange(6), "edges": np.array([[0, 1], [1, 2]]),
             "node_component": np.zeros(3, np.int64), "positions": np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]),
             "node_alive": np.ones(3), "node_label": np.zeros(3, np.int64), "node_label_share": np.ones(3)}
    space = NeuronSpace(np.arange(6), points, np.ones(7), np.ones(7, bool), np.zeros(7, np.int64), path, None, [],
                        graph, [np.zeros((0, 2))], {})
    fig = neuron_plots.neuron_graph(space)
    panel = fig.axes[0]
    assert "the one output" in panel.get_title()
    drawn = panel.collections[1]
    order = node_order(drawn.get_offsets(), graph["positions"])
    expected = colour_of(np.array([-1.5, 0.5, 3.0]), -3.0, 3.0, plotting.WEIGHT_CMAP)
    np.testing.assert_allclose(drawn.get_facecolors(), expected[order], atol=1e-6)
    assert colour_bars(fig)[neuron_plots.VOTE] == pytest.approx((-3.0, 3.0))
    fig = neuron_plots.neuron_filters(space, (2, 2))
    frames = [p.get_edgecolor() for p in fig.axes[0].patches]
    np.testing.assert_allclose(sorted(map(tuple, frames)), sorted(map(tuple, expected)), atol=1e-6)
