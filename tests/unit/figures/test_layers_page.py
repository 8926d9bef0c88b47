"""The Mapper graph of several layers: the shared stable layout, the cross-layer page (drawn in
offline Chromium), the selection shading, the GraphML file and the side-by-side figure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest

from nntopo.clustering.graph import graph_layout, selected_share, unit_positions
from nntopo.figures.page import WARNING_ID, page_const, write_layers_page
from nntopo.clustering.stage import write_graph_file
from tests.unit.figures.test_mapper_page import (  # noqa: F401  (chromium, real_js_dir: fixtures)
    ROOT,
    assert_in_view,
    chromium,
    drawn_nodes,
    random_graph,
    real_js_dir,
    render_dom,
)

N_POINTS = 400


def make_layers(n_layers: int = 3) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """Random Mapper-like graphs of the same points, one per layer, of different sizes."""
    layers = []
    for k in range(n_layers):
        _, node_ptr, node_points, edges, labels, predictions, node_cluster = random_graph(
            seed=0 if k == 0 else 10 + k, n_nodes=20 + 7 * k, n_points=N_POINTS)
        layers.append({"name": f"hidden_{k + 1}", "node_ptr": node_ptr, "node_points": node_points,
                       "edges": edges, "node_cluster": node_cluster})
    output = np.random.default_rng(5).integers(-1, 6, N_POINTS)
    return layers, labels, predictions, output  # any labels of the N_POINTS points will do


def components_graph() -> tuple[int, np.ndarray]:
    """Three components of 12, 6 and 3 nodes (a cycle with chords, a path, a triangle) and 4 single nodes."""
    edges = [(i, (i + 1) % 12) for i in range(12)] + [(0, 6), (3, 9)]
    edges += [(12 + i, 13 + i) for i in range(5)] + [(18, 19), (19, 20), (18, 20)]
    return 25, np.array(edges)


# --- the stable layout -------------------------------------------------------------------------


def test_layout_is_deterministic_even_across_processes():
    n, edges = components_graph()
    pos = graph_layout(n, edges)
    assert np.array_equal(pos, graph_layout(n, edges))
    assert np.array_equal(pos, graph_layout(n, edges[::-1]))  # edge order does not matter
    code = ("import json, numpy as np; from nntopo.clustering.graph import graph_layout; "
            f"print(json.dumps(graph_layout({n}, np.array({edges.tolist()})).tolist()))")
    env = {**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert np.array_equal(np.array(json.loads(done.stdout)), pos)


def test_layout_packs_components_without_overlap():
    n, edges = components_graph()
    pos = graph_layout(n, edges)
    assert pos.shape == (n, 2) and np.isfinite(pos).all()
    graph = nx.Graph(list(map(tuple, edges.tolist())))
    graph.add_nodes_from(range(n))
    boxes = [(pos[sorted(c)].min(axis=0), pos[sorted(c)].max(axis=0)) for c in nx.connected_components(graph)]
    assert len(boxes) == 7
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            (lo1, hi1), (lo2, hi2) = boxes[a], boxes[b]
            apart = (hi1 < lo2 - 0.5) | (hi2 < lo1 - 0.5)  # at least half a unit between them
            assert apart.any(), f"components {a} and {b} overlap"
    lengths = np.linalg.norm(pos[edges[:, 0]] - pos[edges[:, 1]], axis=1)
    assert np.median(lengths) == pytest.approx(1, rel=0.35)
    assert np.ptp(pos[:, 0]) > np.ptp(pos[:, 1])  # packed wide, for screens and figures
    assert graph_layout(0, np.zeros((0, 2))).shape == (0, 2)
    assert graph_layout(1, np.zeros((0, 2))).shape == (1, 2)


def test_figure_and_pages_share_the_layout(tmp_path):
    from nntopo.clustering import plots

    layers, labels, predictions, _ = make_layers(1)
    g = layers[0]
    n_nodes = len(g["node_ptr"]) - 1
    pos = graph_layout(n_nodes, g["edges"])
    fig = plots.mapper_graph(g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"], labels)
    scatter = fig.axes[0].collections[1]
    order = np.argsort(-np.diff(g["node_ptr"]), kind="stable")
    assert np.asarray(scatter.get_offsets()) == pytest.approx(pos[order])
    write_layers_page(tmp_path / "p.html", layers, labels, predictions, js_dir=tmp_path)
    layer = page_const((tmp_path / "p.html").read_text())["layers"][0]
    assert np.column_stack([layer["x"], layer["y"]]) == pytest.approx(unit_positions(pos) * (1, -1), abs=1e-3)


# --- selection ------------------------------------------------------------------------------------


def test_selected_share_counts_selected_points_per_node():
    node_ptr = np.array([0, 3, 5, 9])
    node_points = np.array([0, 1, 2, 2, 3, 4, 5, 6, 7])
    selected = np.zeros(8, dtype=bool)
    selected[[1, 2, 6]] = True
    assert selected_share(node_ptr, node_points, selected) == pytest.approx([2 / 3, 1 / 2, 1 / 4])
    assert selected_share(node_ptr, node_points, np.zeros(8, bool)) == pytest.approx([0, 0, 0])


# --- the page's data ------------------------------------------------------------------------------


def test_layers_page_data(tmp_path):
    layers, labels, predictions, output = make_layers()
    path = tmp_path / "layers.html"
    assert write_layers_page(path, layers, labels, predictions, output_clusters=output, title="t <b>",
                             js_dir=tmp_path) == ["d3-6.1.1.min.js"]
    page = path.read_text()
    assert WARNING_ID in page and "<title>t &lt;b&gt;</title>" in page
    data = page_const(page)
    assert [c["key"] for c in data["colourings"]] == ["label", "output", "accuracy", "cluster", "selection"]
    assert data["output"] == output.tolist()
    assert [layer["name"] for layer in data["layers"]] == ["hidden_1", "hidden_2", "hidden_3"]
    for given, layer in zip(layers, data["layers"]):
        node_ptr, node_points = given["node_ptr"], given["node_points"]
        assert layer["ptr"] == node_ptr.tolist() and layer["points"] == node_points.tolist()
        assert len(layer["x"]) == len(layer["r"]) == len(node_ptr) - 1
        for i in range(len(node_ptr) - 1):
            m = node_points[node_ptr[i]:node_ptr[i + 1]]
            counts = np.bincount(output[m] + 1, minlength=8)
            assert layer["values"]["output"][i] == np.argmax(counts) - 1
            assert layer["values"]["label"][i] == np.argmax(np.bincount(labels[m], minlength=10))
    with pytest.raises(ValueError, match="output_clusters"):
        write_layers_page(tmp_path / "x.html", layers, labels, predictions, output_clusters=output[:-1])
    with pytest.raises(ValueError, match="positions"):
        write_layers_page(tmp_path / "x.html", [{**layers[0], "positions": np.zeros((2, 2))}], labels, predictions)
    assert not (tmp_path / "x.html").exists()


# --- in a real browser, offline ---------------------------------------------------------------------


def test_browser_draws_every_layer_in_view(tmp_path, chromium, real_js_dir):
    layers, labels, predictions, output = make_layers()
    empty = {"name": "empty", "node_ptr": [0], "node_points": [], "edges": np.zeros((0, 2), int)}
    path = tmp_path / "layers.html"
    assert write_layers_page(path, layers + [empty], labels, predictions, output_clusters=output,
                             js_dir=real_js_dir) == []
    for k, layer in enumerate(layers):
        dom = render_dom(chromium, path, tmp_path, fragment=f"layer={k}")
        for other in layers:  # every layer's graph is in the page, whole
            assert len(drawn_nodes(dom, other["name"])) == len(other["node_ptr"]) - 1
            assert len(set(n["data-node"] for n in drawn_nodes(dom, other["name"]))) == len(other["node_ptr"]) - 1
        assert_in_view(dom, layer["name"])  # and the shown one fits the window
        shown = [g for g in re.findall(r'<g class="layer"[^>]*>', dom) if "display" not in g]
        assert shown == [f'<g class="layer" data-layer="{layer["name"]}">']
    assert re.search(r'<button[^>]*class="active"[^>]*>hidden_3<', dom)
    dom = render_dom(chromium, path, tmp_path, fragment="layer=3")
    assert drawn_nodes(dom, "empty") == [] and "has no nodes" in dom


def test_browser_highlights_a_selection_in_every_layer(tmp_path, chromium, real_js_dir):
    layers, labels, predictions, output = make_layers()
    path = tmp_path / "layers.html"
    write_layers_page(path, layers, labels, predictions, output_clusters=output, js_dir=real_js_dir)
    picked = [2, 5]  # nodes of hidden_1, shown while hidden_3 is on screen
    dom = render_dom(chromium, path, tmp_path, fragment=f"layer=2&select=0:{','.join(map(str, picked))}")
    first = layers[0]
    selected = np.zeros(N_POINTS, dtype=bool)
    for i in picked:
        selected[first["node_points"][first["node_ptr"][i]:first["node_ptr"][i + 1]]] = True
    assert f'<span id="selected-count">{selected.sum()}</span>' in dom
    for layer in layers:
        share = selected_share(layer["node_ptr"], layer["node_points"], selected)
        nodes = drawn_nodes(dom, layer["name"])
        got = {int(n["data-node"]): float(n["data-share"]) for n in nodes}
        assert got == {i: pytest.approx(s, abs=1e-4) for i, s in enumerate(share)}
        assert 0 < (share > 0).sum() < len(share) or layer is first
        fills = {n["fill"] for n in nodes if float(n["data-share"]) == 0}
        assert fills <= {"#e4e4e4"}  # nodes without selected points are grey
        assert re.search(rf'<button[^>]*>{layer["name"]} \u00b7 {(share > 0).sum()}</button>', dom)
    assert {int(n["data-node"]) for n in drawn_nodes(dom, "hidden_1") if "picked" in n["class"]} == set(picked)
    assert "Colour: share of its points selected" in dom
    assert_in_view(dom, "hidden_3")


# --- GraphML ---------------------------------------------------------------------------------------


def test_graphml_round_trip(tmp_path):
    members, node_ptr, node_points, edges, labels, predictions, node_cluster = random_graph(seed=4)
    path = tmp_path / "out" / "graph.graphml"
    attrs = {"dataset": "digits", "model": "mlp16-none-s0", "layer": "hidden_1"}
    write_graph_file(path, node_ptr, node_points, edges, labels, predictions, node_cluster=node_cluster, attrs=attrs)
    assert sorted(p.name for p in path.parent.iterdir()) == ["graph.graphml"]  # no temporary left
    graph = nx.read_graphml(path, node_type=int)
    n_nodes = len(members)
    assert sorted(graph.nodes) == list(range(n_nodes))
    assert {tuple(sorted(e)) for e in graph.edges} == {tuple(e) for e in edges.tolist()}
    assert {k: graph.graph[k] for k in attrs} == attrs
    pos = graph_layout(n_nodes, edges)
    for i, m in enumerate(members):
        node = graph.nodes[i]
        counts = np.bincount(labels[m], minlength=10)
        assert [int(p) for p in node["points"].split()] == m.tolist()
        assert node["size"] == len(m) and node["cluster"] == node_cluster[i]
        assert node["majority_label"] == np.argmax(counts)
        assert node["majority_share"] == pytest.approx(counts.max() / len(m))
        assert node["accuracy"] == pytest.approx(np.mean(labels[m] == predictions[m]))
        assert (node["x"], node["y"]) == pytest.approx(tuple(pos[i]))
    a, b = edges[0]
    assert graph.edges[a, b]["shared_points"] == len(np.intersect1d(members[a], members[b]))
    with pytest.raises(ValueError, match="edges"):
        write_graph_file(tmp_path / "bad.graphml", [0, 1], [0], [[0, 2]], [0], [0])
    assert not (tmp_path / "bad.graphml").exists()


# --- the side-by-side figure -----------------------------------------------------------------------


def test_graphs_by_layer_figure(tmp_path):
    from nntopo import plotting
    from nntopo.clustering import plots

    layers, labels, _, _ = make_layers()
    graphs = [(g["name"], g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"]) for g in layers]
    graphs.append(("empty", np.zeros(1, int), np.zeros(0, int), np.zeros((0, 2), int), np.zeros(0, int)))
    fig = plots.mapper_graphs_by_layer(graphs, labels, title="test")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [
        f"{g['name']}: {len(g['node_ptr']) - 1} nodes, {len(g['edges'])} edges" for g in layers
    ] + ["empty: 0 nodes, 0 edges"]
    for ax, g in zip(panels, layers):  # each panel draws its own graph: one dot per node
        assert len(ax.collections[1].get_offsets()) == len(g["node_ptr"]) - 1
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == 10  # one shared legend
    plotting.save(fig, tmp_path / "by_layer.png")
    assert (tmp_path / "by_layer.png").stat().st_size > 10_000
