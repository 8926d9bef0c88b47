"""Write a page: its template (page.html, page.css, page.js, shipped beside this module) filled in
with a title, the "Graph" pane's rows and the data of ``data.page_data``, then the libraries inlined
(``embed.embed_js``), written atomically."""

from __future__ import annotations

import html as _html
import json
import os
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from nntopo.figures.page.data import page_data
from nntopo.figures.page.embed import PAGE_SCRIPTS, embed_js
from nntopo.store import atomic


def _text(name: str) -> str:
    """One of the page's files (page.html, page.css, page.js), as shipped with the package."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json_for_script(obj) -> str:
    """JSON that is safe inside an inline <script> (as Jinja's tojson writes it)."""
    text = json.dumps(obj, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return text


def page_const(page: str) -> dict:
    """The data a written page embeds (``page_data``'s value)."""
    found = re.search(r'<script type="application/json" id="nntopo-data">(.*?)</script>', page, re.S)
    if found is None:
        raise ValueError("not an nntopo graph page: no embedded data")
    return json.loads(found.group(1))


def _write_atomic(path: Path, text: str) -> None:
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _empty_page(title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{_html.escape(title)}</title></head><body>\n"
        f'<h1>{_html.escape(title)}</h1>\n<p id="nntopo-empty-graph" style="color:#b00020;font:bold 16px '
        'sans-serif">The Mapper graph has no nodes: there is nothing to draw.</p>\n</body></html>\n'
    )


def _write_page(path, title: str, data: dict, about: Mapping[str, object], js_dir) -> list[str]:
    rows = "".join(f"<tr><td>{_html.escape(str(k))}</td><td>{_html.escape(str(v))}</td></tr>" for k, v in about.items())
    values = {
        "CSS": _text("page.css"),
        "TITLE": _html.escape(title),
        "ABOUT": f"<table>{rows}</table>" if rows else "",
        "SCRIPTS": "\n".join(f'<script src="{url}"></script>' for url in PAGE_SCRIPTS),
        "APP": _text("page.js"),
        "DATA": _json_for_script(data),
    }
    page = re.sub(r"__([A-Z]+)__", lambda m: values[m.group(1)], _text("page.html"))  # one pass: no value is re-read
    page, missing = embed_js(page, js_dir)
    _write_atomic(Path(path), page)
    return missing


def write_mapper_page(
    path: str | os.PathLike,
    node_ptr,
    node_points,
    edges,
    labels_true,
    labels_pred,
    *,
    node_cluster=None,
    top_neurons=None,
    title: str = "Mapper graph",
    class_names: Sequence[str] | None = None,
    custom_meta: Mapping[str, object] | None = None,
    top_k: int = 5,
    js_dir: str | os.PathLike | None = None,
    positions=None,
    targets=None,
    outputs=None,
    levels: Mapping | None = None,
) -> list[str]:
    """Write the interactive page of one Mapper graph to ``path`` (atomically).

    node_ptr, node_points: node i holds points ``node_points[node_ptr[i]:node_ptr[i+1]]`` (indices
        into labels_true / labels_pred, e.g. test images).
    edges: (E, 2) node index pairs (order and duplicates do not matter).
    labels_true, labels_pred: (N,) int true and predicted class of every point.
    node_cluster: (n_nodes,) cluster of each node (-1: none): a colouring, and the node details.
    top_neurons: the characteristic neurons of each cluster: a ``ranking.rank_neurons`` table of
        one layer (columns cluster, neuron, fraction, rank; its ``ranking.top_rows``) or a mapping
        cluster -> neurons (ints or any labels) in rank order; the first ``top_k`` are shown for
        the node's cluster.
    class_names: names of the classes 0..C-1 (default: the numbers).
    custom_meta: extra (name, value) rows for the page's "Graph" pane.
    js_dir: folder with the fetched JS files (default: see ``embed.js_dirs``).
    positions: (n_nodes, 2) node positions (default: ``graph.graph_layout``, as the static figure).
    targets, outputs, levels: a regressor's targets and outputs (N x d) and their level sets
        (``task.levels_of``), whose labels_true and labels_pred are the level sets: nodes are coloured
        by their mean target and their error (``data.page_data``).

    Returns the JS file names that could not be embedded (empty when the page is self-contained;
    otherwise the page carries a visible warning).
    """
    layer = {"name": "graph", "node_ptr": node_ptr, "node_points": node_points, "edges": edges,
             "node_cluster": node_cluster, "positions": positions, "top_neurons": top_neurons}
    data = page_data([layer], labels_true, labels_pred, class_names=class_names, top_k=top_k, targets=targets,
                     outputs=outputs, levels=levels)
    if not data["layers"][0]["x"]:
        _write_atomic(Path(path), _empty_page(title))
        return []
    return _write_page(path, title, data, {"Points": data["points_summary"], **(custom_meta or {})}, js_dir)


def write_layers_page(
    path: str | os.PathLike,
    layers: Sequence[Mapping],
    labels_true,
    labels_pred,
    *,
    output_clusters=None,
    title: str = "",
    class_names: Sequence[str] | None = None,
    js_dir: str | os.PathLike | None = None,
    targets=None,
    outputs=None,
    levels: Mapping | None = None,
) -> list[str]:
    """Write one interactive page of the Mapper graphs of several layers to ``path`` (atomically).

    layers: one dict per layer, in depth order: ``name``, ``node_ptr``, ``node_points``, ``edges``
        (as ``write_mapper_page`` takes them) and optionally ``node_cluster``, ``positions``
        (n_nodes, 2; default ``graph.graph_layout``) and ``top_neurons``.
    output_clusters: (N,) cluster (-1: none) of every point in the output layer's clustering: nodes
        can be coloured by the majority output cluster of their points.
    targets, outputs, levels: a regressor's (see ``write_mapper_page``).

    A layer picker shows one graph at a time, fitted to the window. Selecting nodes in one layer
    selects their points, and every node of every layer is shaded by the share of its points that
    are selected. Returns the JS file names that could not be embedded (see ``write_mapper_page``).
    """
    data = page_data(layers, labels_true, labels_pred, output_clusters=output_clusters, class_names=class_names,
                     targets=targets, outputs=outputs, levels=levels)
    about = {"Points": data["points_summary"],
             "Layers": ", ".join(f"{layer['name']} ({len(layer['x'])})" for layer in data["layers"]) + " nodes"}
    return _write_page(path, title or "Mapper graphs by layer", data, about, js_dir)
