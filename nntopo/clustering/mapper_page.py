"""Interactive, self-contained pages of Mapper graphs of the test activations.

``write_mapper_page`` draws one model's Mapper graph; ``write_layers_page`` the graphs of several
layers, one at a time behind a layer picker. Both are the same D3 page: graphs in CSR form
(``node_ptr``, ``node_points``, ``edges``, as in ``nntopo.clustering.methods.MapperGraph``) drawn at
the fixed positions of ``graph.graph_layout`` (the static figures use the same), fitted to the
window when shown, with zoom and pan. A menu colours the nodes (majority true label, accuracy,
cluster, the output layer's clusters); a legend beside the graph keys the colours. Hovering a node
lists its size, label composition, accuracy, its cluster's top neurons and its points (test
index:true label, wrong ones in red as index:true->predicted). Clicking a node selects its points
(shift-click adds or removes a node); every node of every layer is then shaded by the share of its
points that are selected, so switching layers shows where those images went.

The URL fragment can open a state: ``#layer=1&colour=accuracy&select=0:3,5&tip=7`` (layer index;
colouring key; layer index:nodes to select; node of the shown layer whose details to show).
Each drawn node is ``<circle class="node" data-layer=NAME data-node=I>`` with ``data-sx``,
``data-sy``, ``data-sr``: its centre and radius on screen (CSS pixels) in the shown layer, and
``data-share`` once points are selected; ``<svg id="svg" data-box="left top width height">``.

The page loads D3 from a CDN tag that ``embed_js`` replaces with the file ``tools/fetch_js.sh``
fetches from the npm registry at set-up (``make`` puts it in ``.venv/share/nntopo/js``), so the
page draws offline. When the file is missing the page keeps the CDN tag as a fallback and shows a
red banner saying the graph cannot be drawn offline and how to fix it.
"""

from __future__ import annotations

import html as _html
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nntopo.clustering.graph import check_graph, graph_layout, node_counts, node_labels, unit_positions

JS_DIR_ENV = "NNTOPO_JS_DIR"
FETCH_COMMAND = "bash tools/fetch_js.sh .venv/share/nntopo/js"
WARNING_ID = "nntopo-js-warning"

_ROOT = Path(__file__).resolve().parents[2]

# The page's external scripts; embed_js inlines them.
_PAGE_SCRIPTS = ("https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js",)

# CDN script URL -> (npm package, version, file name in the JS dir). tools/fetch_js.sh fetches
# these names (D3 as the release's minified build).
_LIBRARIES = (
    (re.compile(r"/d3/(\d+\.\d+\.\d+)/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
    (re.compile(r"/npm/d3@(\d+\.\d+\.\d+)/dist/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
)
_SCRIPT_SRC = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["'](https?://[^"']+)["'][^>]*>\s*</script\s*>""", re.I)
_EXTERNAL_LINK = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*["'](https?://[^"']+)["'][^>]*>""", re.I)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)

# --- the JavaScript libraries ---------------------------------------------------------------


def library_for(url: str) -> tuple[str, str, str] | None:
    """(npm package, version, file name) for a CDN script URL of a page; None if unknown."""
    for pattern, package, filename in _LIBRARIES:
        found = pattern.search(url)
        if found:
            version = found.group(1)
            return package, version, filename.format(version=version)
    return None


def required_js() -> list[tuple[str, str, str, str]]:
    """(npm package, version, file name, CDN URL) for each external script of the pages."""
    return [(*library_for(url), url) for url in _PAGE_SCRIPTS]


def js_dirs(js_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where to look for the JS files: ``js_dir`` if given, else $NNTOPO_JS_DIR if set, else the
    project's ``.venv/share/nntopo/js`` and then ``share/nntopo/js`` of the running environment."""
    if js_dir is not None:
        return [Path(js_dir)]
    if os.environ.get(JS_DIR_ENV):
        return [Path(os.environ[JS_DIR_ENV])]
    candidates = [_ROOT / ".venv" / "share" / "nntopo" / "js", Path(sys.prefix) / "share" / "nntopo" / "js"]
    out: list[Path] = []
    for candidate in candidates:
        if candidate.resolve() not in [c.resolve() for c in out]:
            out.append(candidate)
    return out


def _find_js(filename: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:
        path = folder / filename
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


def _inline_js(code: str) -> str:
    """Script text safe inside an inline <script>: nothing in it can end or confuse the element."""
    code = re.sub(r"^\s*//[#@] sourceMappingURL=.*$", "", code, flags=re.M)  # no .map beside the page
    code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.I)
    return code.replace("<!--", "<\\!--")


def _banner(missing: list[tuple[str, str, str, str]], dirs: list[Path]) -> str:
    names = ", ".join(f"{package} {version}" for package, version, _, _ in missing)
    files = ", ".join(filename for _, _, filename, _ in missing)
    hosts = ", ".join(sorted({re.sub(r"^https?://([^/]+)/.*$", r"\1", url) for *_, url in missing}))
    where = " or ".join(str(d) for d in dirs)
    text = (
        f"This page could not embed {_html.escape(names)} ({_html.escape(files)} not found in "
        f"{_html.escape(where)}). It loads them from the internet ({_html.escape(hosts)}) instead, "
        f"so offline the graph cannot be drawn. Run <code>{FETCH_COMMAND}</code> (part of "
        "<code>make</code>) with access to the npm registry, then rebuild this page."
    )
    return (
        f'<div id="{WARNING_ID}" role="alert" style="position:relative;z-index:1000;margin:0;'
        "padding:12px 16px;background:#fff0f0;color:#b00020;border:3px solid #b00020;"
        f'font:bold 16px/1.4 sans-serif">{text} <span id="{WARNING_ID}-status"></span></div>'
    )


# Runs after the CDN fallback tags: says whether D3 arrived after all.
_STATUS_SCRIPT = (
    "<script>(function(){var s=document.getElementById('" + WARNING_ID + "-status');"
    "if(s){s.textContent=(typeof d3==='undefined')?'D3 did not load: no graph.'"
    ":'(D3 was loaded from the internet this time.)';}})();</script>"
)


def embed_js(page: str, js_dir: str | os.PathLike | None = None) -> tuple[str, list[str]]:
    """Inline the page's CDN scripts from the JS dir and drop other external resources.

    Returns the new page and the file names that were missing (their CDN tags stay, and a visible
    warning is put at the top of the body).
    """
    dirs = js_dirs(js_dir)
    missing: list[tuple[str, str, str, str]] = []

    def replace_script(match: re.Match) -> str:
        url = match.group(1)
        library = library_for(url)
        path = _find_js(library[2], dirs) if library else None
        if path is None:
            missing.append((*library, url) if library else (url, "", url.rsplit("/", 1)[-1], url))
            return match.group(0)
        code = _inline_js(path.read_text(encoding="utf-8"))
        return f"<script>/* {library[0]} {library[1]}, inlined from {library[2]} (was {url}) */\n{code}\n</script>"

    def drop_link(match: re.Match) -> str:
        return f"<!-- external resource dropped so the page needs no network: {match.group(1)} -->"

    page = _EXTERNAL_LINK.sub(drop_link, page)  # first: the inlined code is not to be touched
    page = _SCRIPT_SRC.sub(replace_script, page)
    if missing:
        body = _BODY_OPEN.search(page)
        at = body.end() if body else 0
        page = page[:at] + "\n" + _banner(missing, dirs) + "\n" + page[at:]
        last = max(page.find(url) for *_, url in missing)
        end = page.find("</script>", last) + len("</script>")
        page = page[:end] + "\n" + _STATUS_SCRIPT + page[end:]
    return page, [filename for _, _, filename, _ in missing]


# --- the page's data ----------------------------------------------------------------------------


def _neurons_by_cluster(top_neurons, n_top: int) -> dict[int, list[str]]:
    """{cluster: ["neuron (share)", ...]} from a mapping or a ``ranking.rank_neurons`` table."""
    if top_neurons is None:
        return {}
    if hasattr(top_neurons, "columns"):  # pandas DataFrame: cluster, neuron[, fraction][, rank]
        table = top_neurons
        if "rank" in table.columns:
            table = table.sort_values(["cluster", "rank"], kind="stable")
        out: dict[int, list[str]] = {}
        for row in table.itertuples(index=False):
            entries = out.setdefault(int(row.cluster), [])
            if len(entries) < n_top:
                share = f" ({row.fraction:.0%})" if hasattr(row, "fraction") else ""
                entries.append(f"{int(row.neuron)}{share}")
        return out
    def names(neurons) -> list[str]:  # -1 pads a (clusters, k) array of neuron indices
        kept = [n for n in list(neurons) if not (isinstance(n, (int, np.integer)) and n < 0)]
        return [str(n) for n in kept[:n_top]]

    if isinstance(top_neurons, Mapping):
        return {int(c): names(ns) for c, ns in top_neurons.items()}
    return {c: names(ns) for c, ns in enumerate(top_neurons)}


def _json_for_script(obj) -> str:
    """JSON that is safe inside an inline <script> (as Jinja's tojson writes it)."""
    text = json.dumps(obj, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escaped)
    return text


def _write_atomic(path: Path, text: str) -> None:
    from nntopo.store import atomic

    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _empty_page(title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{_html.escape(title)}</title></head><body>\n"
        f'<h1>{_html.escape(title)}</h1>\n<p id="nntopo-empty-graph" style="color:#b00020;font:bold 16px '
        'sans-serif">The Mapper graph has no nodes: there is nothing to draw.</p>\n</body></html>\n'
    )


def _check_labels(labels_true, labels_pred, class_names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels_true = np.asarray(labels_true, dtype=np.int64).ravel()
    labels_pred = np.asarray(labels_pred, dtype=np.int64).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    if (labels_true < 0).any() or (labels_pred < 0).any():
        raise ValueError("labels and predictions must be class numbers >= 0")
    n_classes = int(max(labels_true.max(initial=0), labels_pred.max(initial=0))) + 1
    if class_names is None:
        return labels_true, labels_pred, [str(c) for c in range(n_classes)]
    if len(class_names) < n_classes:
        raise ValueError(f"{len(class_names)} class names for classes 0..{n_classes - 1}")
    return labels_true, labels_pred, [str(c) for c in class_names]


def _hex(colors) -> list[str]:
    from matplotlib.colors import to_hex

    return [to_hex(c) for c in colors]


def _category(key: str, name: str, labels: list[str], colors, none: bool) -> dict:
    """A colouring by category: node value v is item v, -1 the "none" item (grey)."""
    from nntopo.plotting import NOISE_COLOR

    out = {"key": key, "name": name, "kind": "category",
           "items": [{"label": label, "colour": c} for label, c in zip(labels, _hex(colors))]}
    if none:
        out["none"] = {"label": "none", "colour": _hex([NOISE_COLOR])[0]}
    return out


def _ramp(key: str, name: str, cmap: str, low: float, high: float, ends: tuple[str, str], **extra) -> dict:
    """A colouring by a value in 0..1, through ``cmap`` from ``low`` to ``high``."""
    from matplotlib import colormaps

    stops = _hex(colormaps[cmap](np.linspace(low, high, 9)))
    return {"key": key, "name": name, "kind": "ramp", "stops": stops, "min": ends[0], "max": ends[1], **extra}


def _layer_data(layer: Mapping, labels_true, labels_pred, n_classes: int, output_clusters, n_top: int) -> dict:
    """One layer's graph as the page draws it: unit positions (y down), radii, points, node values."""
    name = str(layer.get("name", ""))
    node_ptr, node_points, edges = check_graph(layer["node_ptr"], layer["node_points"], layer["edges"],
                                               len(labels_true))
    n_nodes = len(node_ptr) - 1
    node_cluster = layer.get("node_cluster")
    if node_cluster is not None:
        node_cluster = np.asarray(node_cluster, dtype=np.int64).ravel()
        if len(node_cluster) != n_nodes:
            raise ValueError(f"{name}: {len(node_cluster)} node clusters for {n_nodes} nodes")
    positions = layer.get("positions")
    if positions is None:
        positions = graph_layout(n_nodes, edges)
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (n_nodes, 2):
        raise ValueError(f"{name}: positions must be ({n_nodes}, 2), got {positions.shape}")
    pos = unit_positions(positions) * (1, -1)  # the figures' y grows upwards, the page's downwards
    sizes = np.diff(node_ptr)
    radius = 0.12 + 0.33 * np.sqrt(sizes / max(sizes.max(initial=1), 1))  # nearest node ~1 unit away
    majority, _, accuracy = node_labels(node_ptr, node_points, labels_true, labels_pred, n_classes)
    values = {"label": majority.tolist(), "accuracy": np.round(accuracy, 4).tolist()}
    if node_cluster is not None:
        values["cluster"] = node_cluster.tolist()
    if output_clusters is not None:  # the majority among the node's points, -1 (none) included
        counts = node_counts(node_ptr, node_points, output_clusters + 1, int(output_clusters.max(initial=-1)) + 2)
        values["output"] = (counts.argmax(axis=1) - 1).tolist()
    neurons = _neurons_by_cluster(layer.get("top_neurons"), n_top)
    return {
        "name": name,
        "x": np.round(pos[:, 0], 3).tolist(),
        "y": np.round(pos[:, 1], 3).tolist(),
        "r": np.round(radius, 3).tolist(),
        "ptr": node_ptr.tolist(),
        "points": node_points.tolist(),
        "edges": edges.tolist(),
        "cluster": None if node_cluster is None else node_cluster.tolist(),
        "neurons": {str(c): ns for c, ns in neurons.items()},
        "values": values,
    }


def page_data(layers: Sequence[Mapping], labels_true, labels_pred, *, output_clusters=None,
              class_names: Sequence[str] | None = None, n_top: int = 5) -> dict:
    """What a page embeds (as JSON): the layers' graphs, the points' labels, the colourings.

    ``layers``: dicts with name, node_ptr, node_points, edges and optionally node_cluster,
    positions (n_nodes, 2), top_neurons (as ``write_mapper_page`` takes them).
    """
    from nntopo.plotting import class_colors, cluster_colors

    labels_true, labels_pred, names = _check_labels(labels_true, labels_pred, class_names)
    n_points = len(labels_true)
    if output_clusters is not None:
        output_clusters = np.asarray(output_clusters, dtype=np.int64).ravel()
        if len(output_clusters) != n_points or (output_clusters < -1).any():
            raise ValueError(f"output_clusters must hold one cluster (or -1) for each of the {n_points} points")
    data_layers = [_layer_data(layer, labels_true, labels_pred, len(names), output_clusters, n_top)
                   for layer in layers]

    colourings = [_category("label", "majority true label", names, class_colors(len(names)), none=False)]
    if output_clusters is not None:
        n = int(output_clusters.max(initial=-1)) + 1
        colourings.append(_category("output", "majority output-layer cluster", [str(c) for c in range(n)],
                                    cluster_colors(n), none=True))
    # Pale where all is right, dark red where most is wrong: the mistakes stand out.
    colourings.append(_ramp("accuracy", "accuracy (share predicted right)", "YlOrRd", 0.95, 0.08, ("0%", "100%")))
    with_clusters = [layer["cluster"] for layer in data_layers if layer["cluster"] is not None]
    if with_clusters:
        n = max(max(c, default=-1) for c in with_clusters) + 1
        colourings.append(_category("cluster", "cluster (this layer's clustering)", [str(c) for c in range(n)],
                                    cluster_colors(n), none=True))
    # Filled in by the page from the points picked: share of each node's points that are selected.
    colourings.append(_ramp("selection", "share of its points selected", "OrRd", 0.25, 1.0, (">0%", "100%"),
                            kind="selection", zero="#e4e4e4"))
    correct = labels_true == labels_pred
    return {
        "classes": names,
        "labels": labels_true.tolist(),
        "preds": labels_pred.tolist(),
        "output": None if output_clusters is None else output_clusters.tolist(),
        "layers": data_layers,
        "colourings": colourings,
        "points_summary": f"{n_points} points, {int(correct.sum())} predicted right ({correct.mean():.2%})"
        if n_points else "no points",
    }


def page_const(page: str) -> dict:
    """The data a written page embeds (``page_data``'s value)."""
    found = re.search(r'<script type="application/json" id="nntopo-data">(.*?)</script>', page, re.S)
    if found is None:
        raise ValueError("not an nntopo graph page: no embedded data")
    return json.loads(found.group(1))


# --- the page ---------------------------------------------------------------------------------

_CSS = """
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; font: 14px/1.4 system-ui, sans-serif; color: #222; background: #fff; }
header { flex: none; display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; padding: 8px 12px;
  border-bottom: 1px solid #ccc; background: #f7f7f7; }
header h1 { font-size: 17px; margin: 0 10px 0 0; }
#layers { display: flex; flex-wrap: wrap; gap: 4px; }
#layers button { border: 1px solid #999; background: #fff; border-radius: 4px; padding: 3px 8px; cursor: pointer; font: inherit; }
#layers button.active { background: #2b5d9b; border-color: #2b5d9b; color: #fff; }
#main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1; position: relative; min-width: 0; }
#svg { display: block; width: 100%; height: 100%; cursor: grab; }
#svg .link { stroke: #999; stroke-opacity: .7; stroke-width: 1; vector-effect: non-scaling-stroke; }
#svg .node { stroke: #444; stroke-width: .8; vector-effect: non-scaling-stroke; cursor: pointer; }
#svg .node.picked { stroke: #000; stroke-width: 3; }
#svg .node:hover { stroke: #000; stroke-width: 2; }
#empty { position: absolute; top: 40%; width: 100%; text-align: center; color: #b00020; font-weight: bold; }
aside { flex: none; width: 250px; overflow-y: auto; padding: 8px 12px; border-left: 1px solid #ccc; background: #fafafa; font-size: 13px; }
aside h2 { font-size: 14px; margin: 10px 0 4px; }
.swatches { list-style: none; margin: 0; padding: 0; }
.swatches li { margin: 1px 0; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #444; border-radius: 50%; margin-right: 6px; vertical-align: -2px; }
.ramp { height: 12px; border: 1px solid #444; }
.ramp-ends { display: flex; justify-content: space-between; }
.note, #help { color: #555; }
#about table { border-collapse: collapse; } #about td { padding: 1px 6px 1px 0; vertical-align: top; }
#tip { position: fixed; display: none; z-index: 10; max-width: 440px; max-height: 70vh; overflow: hidden; pointer-events: none;
  background: rgba(255,255,255,.97); border: 1px solid #888; border-radius: 4px; padding: 6px 8px; font-size: 12px;
  box-shadow: 0 2px 8px rgba(0,0,0,.25); }
#tip div { margin: 2px 0; }
#tip .points { margin-top: 4px; line-height: 1.5; }
#tip .p { display: inline-block; margin-right: 6px; }
#tip .wrong { color: #e0282e; font-weight: bold; }
"""

_APP_JS = r"""
(function () {
  "use strict";
  if (typeof d3 === "undefined") return;  // the red banner at the top says why
  var D = JSON.parse(document.getElementById("nntopo-data").textContent);
  var L = D.layers, N = D.labels.length, names = D.classes, TIP_POINTS = 150;
  var byKey = {};
  D.colourings.forEach(function (c) { byKey[c.key] = c; });
  var svg = d3.select("#svg"), view = svg.select("#viewport"), tip = d3.select("#tip");
  var cur = 0, colour = D.colourings[0].key, before = colour;
  var picked = [], selected = new Uint8Array(N), nSelected = 0;
  var share = L.map(function (l) { return new Float64Array(l.x.length); });

  function size(l, i) { return l.ptr[i + 1] - l.ptr[i]; }
  function members(l, i) { return Array.prototype.slice.call(l.points, l.ptr[i], l.ptr[i + 1]); }
  function pct(x, digits) { return (100 * x).toFixed(digits) + "%"; }
  function item(c, v) { return v < 0 ? c.none : c.items[v]; }
  function ramp(c) { return c.interp || (c.interp = d3.interpolateRgbBasis(c.stops)); }
  function fill(d) {
    var c = byKey[colour];
    if (c.kind === "selection") return share[d.l][d.i] > 0 ? ramp(c)(share[d.l][d.i]) : c.zero;
    var v = L[d.l].values[c.key][d.i];
    return c.kind === "ramp" ? ramp(c)(v) : item(c, v).colour;
  }
  // "a: 3 (75%), b: 1 (25%)": the commonest values first (ties: in value order).
  function tally(values, label, limit, withShare) {
    var counts = new Map();
    values.forEach(function (v) { counts.set(v, (counts.get(v) || 0) + 1); });
    var keys = Array.from(counts.keys()).sort(function (a, b) {
      return counts.get(b) - counts.get(a) || (a < b ? -1 : a > b ? 1 : 0);
    });
    return keys.slice(0, limit || keys.length).map(function (k) {
      var n = counts.get(k);
      return label(k) + (withShare ? ": " + n + " (" + pct(n / values.length, 0) + ")" : " \u00d7" + n);
    }).join(", ");
  }

  // --- drawing: every layer's graph, all but the shown one hidden --------------------------------
  var groups = view.selectAll("g.layer").data(L).join("g").attr("class", "layer")
    .attr("data-layer", function (l) { return l.name; });
  groups.each(function (l, li) {
    var g = d3.select(this);
    g.append("g").selectAll("line").data(l.edges).join("line").attr("class", "link")
      .attr("data-layer", l.name)
      .attr("x1", function (e) { return l.x[e[0]]; }).attr("y1", function (e) { return l.y[e[0]]; })
      .attr("x2", function (e) { return l.x[e[1]]; }).attr("y2", function (e) { return l.y[e[1]]; });
    var order = d3.range(l.x.length).sort(function (a, b) { return l.r[b] - l.r[a] || a - b; });  // big below small
    g.append("g").selectAll("circle").data(order.map(function (i) { return {l: li, i: i}; })).join("circle")
      .attr("class", "node").attr("data-layer", l.name).attr("data-node", function (d) { return d.i; })
      .attr("cx", function (d) { return l.x[d.i]; }).attr("cy", function (d) { return l.y[d.i]; })
      .attr("r", function (d) { return l.r[d.i]; })
      .on("mouseenter", function (ev, d) { showTip(d, ev.clientX, ev.clientY); })
      .on("mousemove", function (ev) { place(ev.clientX, ev.clientY); })
      .on("mouseleave", hideTip)
      .on("click", function (ev, d) { ev.stopPropagation(); pick(d, ev.shiftKey); });
  });
  var nodes = view.selectAll("circle.node");

  // --- zoom and pan; fitting the shown layer to the window --------------------------------------
  var zoom = d3.zoom()
    .on("zoom", function (ev) { view.attr("transform", ev.transform); if (ev.sourceEvent) hideTip(); })
    .on("end", markScreen);
  svg.call(zoom).on("dblclick.zoom", null);

  function fit() {
    var l = L[cur], box = svg.node().getBoundingClientRect(), pad = 14, k = 1, t = d3.zoomIdentity;
    if (l.x.length) {
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (var i = 0; i < l.x.length; i++) {
        x0 = Math.min(x0, l.x[i] - l.r[i]); x1 = Math.max(x1, l.x[i] + l.r[i]);
        y0 = Math.min(y0, l.y[i] - l.r[i]); y1 = Math.max(y1, l.y[i] + l.r[i]);
      }
      // At most 120 px between neighbours: a small graph is not blown up to fill the window.
      k = Math.max(1e-3, Math.min((box.width - 2 * pad) / (x1 - x0), (box.height - 2 * pad) / (y1 - y0), 120));
      t = d3.zoomIdentity.translate(box.width / 2 - k * (x0 + x1) / 2, box.height / 2 - k * (y0 + y1) / 2).scale(k);
    }
    zoom.scaleExtent([k / 4, k * 40]);
    svg.call(zoom.transform, t);
  }

  // Where each node of the shown layer is on screen, for tests and the tip= fragment.
  function markScreen() {
    var t = d3.zoomTransform(svg.node()), box = svg.node().getBoundingClientRect();
    svg.attr("data-box", [box.left, box.top, box.width, box.height].map(function (v) { return v.toFixed(1); }).join(" "));
    groups.filter(function (l, li) { return li === cur; }).selectAll("circle.node")
      .attr("data-sx", function (d) { return (box.left + t.applyX(L[cur].x[d.i])).toFixed(1); })
      .attr("data-sy", function (d) { return (box.top + t.applyY(L[cur].y[d.i])).toFixed(1); })
      .attr("data-sr", function (d) { return (t.k * L[cur].r[d.i]).toFixed(1); });
  }

  // --- layers, colours, legend ---------------------------------------------------------------------
  var buttons = d3.select("#layers").selectAll("button").data(L).join("button").attr("type", "button")
    .on("click", function (ev, l) { show(L.indexOf(l)); });
  if (L.length < 2) d3.select("#layers").style("display", "none");

  var menu = d3.select("#colour").on("change", function () { colour = this.value; paint(); });
  menu.selectAll("option").data(D.colourings).join("option")
    .attr("value", function (c) { return c.key; }).text(function (c) { return c.name; });

  function show(li) {
    cur = li;
    groups.attr("display", function (l, j) { return j === li ? null : "none"; });
    buttons.classed("active", function (l, j) { return j === li; })
      .attr("aria-pressed", function (l, j) { return j === li; });
    var l = L[li];
    d3.select("#empty").style("display", l.x.length ? "none" : null);
    d3.select("#shown").text((L.length > 1 ? l.name + ": " : "") + l.x.length + " nodes, " + l.edges.length + " edges");
    hideTip();
    fit();
    paint();
  }

  function legend() {
    var c = byKey[colour], l = L[cur], box = d3.select("#legend");
    box.selectAll("*").remove();
    box.append("h2").text("Colour: " + c.name);
    if (c.kind === "category") {
      var counts = new Map();
      l.values[c.key].forEach(function (v) { counts.set(v, (counts.get(v) || 0) + 1); });
      var shown = Array.from(counts.keys()).sort(function (a, b) { return (a < 0) - (b < 0) || a - b; });
      var rows = box.append("ul").attr("class", "swatches").selectAll("li").data(shown.slice(0, 40)).join("li");
      rows.append("span").attr("class", "swatch").style("background", function (v) { return item(c, v).colour; });
      rows.append("span").text(function (v) {
        var n = counts.get(v);
        return item(c, v).label + "  (" + n + " node" + (n === 1 ? "" : "s") + ")";
      });
      if (shown.length > 40) box.append("p").attr("class", "note").text("+ " + (shown.length - 40) + " more");
      if (!shown.length) box.append("p").attr("class", "note").text("no nodes in this layer");
    } else {
      box.append("div").attr("class", "ramp").style("background", "linear-gradient(to right," + c.stops.join(",") + ")");
      var ends = box.append("div").attr("class", "ramp-ends");
      ends.append("span").text(c.min);
      ends.append("span").text(c.max);
      if (c.kind === "selection") {
        var zero = box.append("p");
        zero.append("span").attr("class", "swatch").style("background", c.zero);
        zero.append("span").text("no selected point");
      }
    }
  }

  function paint() {
    menu.property("value", colour);
    menu.selectAll("option").property("disabled", function (c) { return c.kind === "selection" && !nSelected; });
    nodes.attr("fill", fill)
      .attr("data-share", function (d) { return nSelected ? share[d.l][d.i].toFixed(4) : null; })
      .classed("picked", function (d) { return picked.some(function (p) { return p.l === d.l && p.i === d.i; }); });
    buttons.each(function (l, li) {  // short labels: many layers still fit on one row
      var hit = 0;
      share[li].forEach(function (s) { hit += s > 0; });
      d3.select(this).text(l.name + (nSelected ? " \u00b7 " + hit : ""))
        .attr("title", l.x.length + " nodes" + (nSelected ? ", " + hit + " holding selected points" : ""));
    });
    d3.select("#selected-count").text(nSelected);
    d3.select("#selection").text(nSelected
      ? " of " + N + " points selected, from " + picked.map(function (p) {
          return (L.length > 1 ? L[p.l].name + " " : "") + "node " + p.i; }).join(", ")
        + ". Nodes are shaded by the share of their points that are selected" + (L.length > 1 ? "; pick another layer to see where these points sit there." : ".")
      : " points selected. Click a node to select its points; shift-click adds or removes a node."
        + (L.length > 1 ? " The layer buttons then count the nodes holding selected points." : ""));
    d3.select("#clear").property("disabled", !nSelected);
    legend();
  }

  // --- selection -----------------------------------------------------------------------------------
  function setPicked(list) {
    picked = list;
    selected.fill(0);
    picked.forEach(function (p) { members(L[p.l], p.i).forEach(function (q) { selected[q] = 1; }); });
    nSelected = 0;
    selected.forEach(function (s) { nSelected += s; });
    L.forEach(function (l, li) {
      for (var i = 0; i < l.x.length; i++) {
        var s = 0;
        for (var k = l.ptr[i]; k < l.ptr[i + 1]; k++) s += selected[l.points[k]];
        share[li][i] = s / size(l, i);
      }
    });
    if (nSelected && colour !== "selection") { before = colour; colour = "selection"; }
    if (!nSelected && colour === "selection") colour = before;
    paint();
  }
  function pick(d, add) {
    var at = picked.findIndex(function (p) { return p.l === d.l && p.i === d.i; });
    if (!add) setPicked(at >= 0 && picked.length === 1 ? [] : [{l: d.l, i: d.i}]);
    else if (at >= 0) setPicked(picked.slice(0, at).concat(picked.slice(at + 1)));
    else setPicked(picked.concat([{l: d.l, i: d.i}]));
  }
  d3.select("#clear").on("click", function () { setPicked([]); });
  d3.select("#fit").on("click", fit);
  d3.select(window).on("keydown", function (ev) { if (ev.key === "Escape") setPicked([]); });
  new ResizeObserver(fit).observe(svg.node());  // window resized, header wrapped: show every node again

  // --- node details --------------------------------------------------------------------------------
  function showTip(d, x, y) {
    var l = L[d.l], i = d.i, pts = members(l, i), n = pts.length;
    var right = function (p) { return D.labels[p] === D.preds[p]; };
    var wrong = pts.filter(function (p) { return !right(p); });
    tip.selectAll("*").remove();
    tip.append("b").text("node " + i + (L.length > 1 ? " of " + l.name : ""));
    tip.append("div").text(n + " points, majority label " + names[l.values.label[i]] + ", accuracy "
      + pct(l.values.accuracy[i], 1) + " (" + wrong.length + " wrong)");
    tip.append("div").text("true labels: " + tally(pts.map(function (p) { return D.labels[p]; }),
      function (v) { return names[v]; }, 0, true));
    if (wrong.length) {
      tip.append("div").text("most common mistakes: " + tally(wrong.map(function (p) {
        return names[D.labels[p]] + "\u2192" + names[D.preds[p]]; }), String, 3, false));
    }
    if (l.cluster) {
      var c = l.cluster[i], top = l.neurons[c], ranked = Object.keys(l.neurons).length > 0;
      tip.append("div").text(c < 0 ? "cluster: none" : "cluster " + c + (!ranked ? ""
        : " top neurons: " + (top && top.length ? top.join(", ") : "(none ranked)")));
    }
    if (D.output) {
      tip.append("div").text("output-layer clusters: " + tally(pts.map(function (p) { return D.output[p]; }),
        function (v) { return v < 0 ? "none" : String(v); }, 3, true));
    }
    if (nSelected) tip.append("div").text("selected: " + Math.round(share[d.l][i] * n) + " of " + n + " points ("
      + pct(share[d.l][i], 0) + ")");
    var list = tip.append("div").attr("class", "points");
    list.append("small").text("points, test index:true label (wrong ones first, in red, as index:true\u2192predicted): ");
    list.append("br");
    list.selectAll("span.p").data(wrong.concat(pts.filter(right)).slice(0, TIP_POINTS)).join("span")
      .attr("class", function (p) { return right(p) ? "p" : "p wrong"; })
      .text(function (p) { return p + ":" + names[D.labels[p]] + (right(p) ? "" : "\u2192" + names[D.preds[p]]); });
    if (n > TIP_POINTS) list.append("span").text("\u2026 and " + (n - TIP_POINTS) + " more");
    tip.style("display", "block");
    place(x, y);
  }
  function place(x, y) {
    var box = tip.node().getBoundingClientRect(), gap = 14;
    var left = x + gap + box.width > window.innerWidth ? Math.max(0, x - gap - box.width) : x + gap;
    var top = y + gap + box.height > window.innerHeight ? Math.max(0, window.innerHeight - box.height) : y + gap;
    tip.style("left", left + "px").style("top", top + "px");
  }
  function hideTip() { tip.style("display", "none"); }

  // --- the state the URL fragment asks for: #layer=1&colour=accuracy&select=0:3,5&tip=7 -----------
  var ask = new URLSearchParams(location.hash.slice(1));
  var layer = parseInt(ask.get("layer"), 10);
  if (layer >= 0 && layer < L.length) cur = layer;
  if (byKey[ask.get("colour")] && byKey[ask.get("colour")].kind !== "selection") colour = before = ask.get("colour");
  show(cur);
  if (ask.get("select")) {
    var list = [];
    ask.get("select").split(";").forEach(function (part) {
      var bits = part.split(":"), li = parseInt(bits[0], 10);
      if (!(li >= 0 && li < L.length) || bits.length < 2) return;
      bits[1].split(",").forEach(function (s) {
        var i = parseInt(s, 10);
        if (i >= 0 && i < L[li].x.length) list.push({l: li, i: i});
      });
    });
    setPicked(list);
  }
  var asked = parseInt(ask.get("tip"), 10);
  if (asked >= 0 && asked < L[cur].x.length) {
    var at = groups.filter(function (l, li) { return li === cur; }).select('circle.node[data-node="' + asked + '"]');
    showTip({l: cur, i: asked}, +at.attr("data-sx"), +at.attr("data-sy"));
  }
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<header>
  <h1>__TITLE__</h1>
  <div id="layers" role="group" aria-label="layer"></div>
  <label>Colour nodes by <select id="colour"></select></label>
  <button type="button" id="fit" title="show every node of the graph">Fit to window</button>
  <button type="button" id="clear" disabled>Clear selection</button>
</header>
<div id="main">
  <div id="graph">
    <svg id="svg" role="img" aria-label="Mapper graph"><g id="viewport"></g></svg>
    <p id="empty" style="display:none">This layer's Mapper graph has no nodes: there is nothing to draw.</p>
  </div>
  <aside>
    <div id="legend"></div>
    <h2>Selection</h2>
    <p><span id="selected-count">0</span><span id="selection"> points selected.</span></p>
    <h2>Graph</h2>
    <p id="shown"></p>
    <div id="about">__ABOUT__</div>
    <p id="help">Node area grows with its number of points; an edge joins nodes sharing points.
    Scroll to zoom, drag to pan; <i>Fit to window</i> shows the whole graph again. Hover a node for
    its details; click it to select its points, shift-click to add or remove a node, Esc to clear.</p>
  </aside>
</div>
<div id="tip" role="tooltip"></div>
__SCRIPTS__
<script type="application/json" id="nntopo-data">__DATA__</script>
<script>__APP__</script>
</body>
</html>
"""


def _write_page(path, title: str, data: dict, about: Mapping[str, object], js_dir) -> list[str]:
    rows = "".join(f"<tr><td>{_html.escape(str(k))}</td><td>{_html.escape(str(v))}</td></tr>" for k, v in about.items())
    values = {
        "CSS": _CSS,
        "TITLE": _html.escape(title),
        "ABOUT": f"<table>{rows}</table>" if rows else "",
        "SCRIPTS": "\n".join(f'<script src="{url}"></script>' for url in _PAGE_SCRIPTS),
        "APP": _APP_JS,
        "DATA": _json_for_script(data),
    }
    page = re.sub(r"__([A-Z]+)__", lambda m: values[m.group(1)], _PAGE)  # one pass: no value is re-read
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
    n_top: int = 5,
    js_dir: str | os.PathLike | None = None,
    positions=None,
) -> list[str]:
    """Write the interactive page of one Mapper graph to ``path`` (atomically).

    node_ptr, node_points: node i holds points ``node_points[node_ptr[i]:node_ptr[i+1]]`` (indices
        into labels_true / labels_pred, e.g. test images).
    edges: (E, 2) node index pairs (order and duplicates do not matter).
    labels_true, labels_pred: (N,) int true and predicted class of every point.
    node_cluster: (n_nodes,) cluster of each node (-1: none): a colouring, and the node details.
    top_neurons: the characteristic neurons of each cluster: a ``ranking.rank_neurons`` table of
        one layer (columns cluster, neuron, fraction, rank), a mapping cluster -> neurons (ints or
        any labels), or a sequence / (clusters, k) array indexed by cluster (-1 entries skipped);
        the first ``n_top`` are shown for the node's cluster.
    class_names: names of the classes 0..C-1 (default: the numbers).
    custom_meta: extra (name, value) rows for the page's "Graph" pane.
    js_dir: folder with the fetched JS files (default: see ``js_dirs``).
    positions: (n_nodes, 2) node positions (default: ``graph.graph_layout``, as the static figure).

    Returns the JS file names that could not be embedded (empty when the page is self-contained;
    otherwise the page carries a visible warning).
    """
    layer = {"name": "graph", "node_ptr": node_ptr, "node_points": node_points, "edges": edges,
             "node_cluster": node_cluster, "positions": positions, "top_neurons": top_neurons}
    data = page_data([layer], labels_true, labels_pred, class_names=class_names, n_top=n_top)
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
) -> list[str]:
    """Write one interactive page of the Mapper graphs of several layers to ``path`` (atomically).

    layers: one dict per layer, in depth order: ``name``, ``node_ptr``, ``node_points``, ``edges``
        (as ``write_mapper_page`` takes them) and optionally ``node_cluster``, ``positions``
        (n_nodes, 2; default ``graph.graph_layout``) and ``top_neurons``.
    output_clusters: (N,) cluster (-1: none) of every point in the output layer's clustering: nodes
        can be coloured by the majority output cluster of their points.

    A layer picker shows one graph at a time, fitted to the window. Selecting nodes in one layer
    selects their points, and every node of every layer is shaded by the share of its points that
    are selected. Returns the JS file names that could not be embedded (see ``write_mapper_page``).
    """
    data = page_data(layers, labels_true, labels_pred, output_clusters=output_clusters, class_names=class_names)
    about = {"Points": data["points_summary"],
             "Layers": ", ".join(f"{layer['name']} ({len(layer['x'])})" for layer in data["layers"]) + " nodes"}
    return _write_page(path, title or "Mapper graphs by layer", data, about, js_dir)
