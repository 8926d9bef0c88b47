"""Interactive, self-contained KeplerMapper pages of a Mapper graph of the test activations.

``write_mapper_page`` turns a Mapper graph in CSR form (``node_ptr``, ``node_points``, ``edges``, as
in ``nntopo.clustering.methods.MapperGraph``) into KeplerMapper's HTML page. Nodes are coloured, through the
page's "Color Function" menu, by their majority true label or by their accuracy (share of their
points predicted right); hovering a node lists its size, label composition, accuracy, its
cluster's top neurons and its points (test index:true label, wrong ones in red as
index:true->predicted).

KeplerMapper's template loads D3 and FileSaver from CDNs, so the page it writes draws nothing
offline. ``embed_js`` inlines them instead, from the files ``tools/fetch_js.sh`` fetches from the
npm registry at set-up (``make`` puts them in ``.venv/share/nntopo/js``). When a file is missing
the page keeps the CDN tag as a fallback and shows a red banner saying the graph cannot be drawn
offline and how to fix it. The template's other external resources (a Google Fonts stylesheet,
which would hold up the page's scripts while it times out, and a favicon) are dropped.
"""

from __future__ import annotations

import html as _html
import json
import os
import re
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

JS_DIR_ENV = "NNTOPO_JS_DIR"
FETCH_COMMAND = "bash tools/fetch_js.sh .venv/share/nntopo/js"
WARNING_ID = "nntopo-js-warning"

_ROOT = Path(__file__).resolve().parents[2]

# External scripts of KeplerMapper's template -> (npm package, version, file name in the JS dir).
# tools/fetch_js.sh fetches exactly these names (D3 as the release's minified build).
_LIBRARIES = (
    (re.compile(r"/d3/(\d+\.\d+\.\d+)/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
    (re.compile(r"/npm/d3@(\d+\.\d+\.\d+)/dist/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
    (
        re.compile(r"/file-saver@(\d+\.\d+\.\d+)/dist/FileSaver(?:\.min)?\.js$"),
        "file-saver",
        "file-saver-{version}.min.js",
    ),
)
_SCRIPT_SRC = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["'](https?://[^"']+)["'][^>]*>\s*</script\s*>""", re.I)
_EXTERNAL_LINK = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*["'](https?://[^"']+)["'][^>]*>""", re.I)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)

_LABEL_COLOR = "majority true label"
_ACCURACY_COLOR = "accuracy (share predicted right)"


# --- the JavaScript libraries ---------------------------------------------------------------


def library_for(url: str) -> tuple[str, str, str] | None:
    """(npm package, version, file name) for a CDN script URL of the template; None if unknown."""
    for pattern, package, filename in _LIBRARIES:
        found = pattern.search(url)
        if found:
            version = found.group(1)
            return package, version, filename.format(version=version)
    return None


def required_js() -> list[tuple[str, str, str, str]]:
    """(npm package, version, file name, CDN URL) for each external script of kmapper's template."""
    import kmapper

    template = Path(kmapper.__file__).resolve().parent / "templates" / "base.html"
    out = []
    for url in _SCRIPT_SRC.findall(template.read_text(encoding="utf-8")):
        library = library_for(url)
        if library is None:
            raise RuntimeError(f"{template}: unknown external script {url}; teach nntopo/clustering/mapper_page.py about it")
        out.append((*library, url))
    return out


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


# --- the page ---------------------------------------------------------------------------------


def _check_graph(node_ptr, node_points, edges, n_points: int):
    node_ptr = np.asarray(node_ptr, dtype=np.int64).ravel()
    node_points = np.asarray(node_points, dtype=np.int64).ravel()
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(node_ptr) < 1 or node_ptr[0] != 0 or node_ptr[-1] != len(node_points):
        raise ValueError(
            f"node_ptr must start at 0 and end at len(node_points) = {len(node_points)}; "
            f"got {node_ptr[:1].tolist()} ... {node_ptr[-1:].tolist()}"
        )
    sizes = np.diff(node_ptr)
    if (sizes <= 0).any():
        raise ValueError(f"node {int(np.argmax(sizes <= 0))} has no points (node_ptr must increase strictly)")
    if len(node_points) and (node_points.min() < 0 or node_points.max() >= n_points):
        raise ValueError(f"node_points must be point indices in 0..{n_points - 1}")
    n_nodes = len(node_ptr) - 1
    if len(edges) and (edges.min() < 0 or edges.max() >= n_nodes):
        raise ValueError(f"edges must hold node indices in 0..{n_nodes - 1}")
    edges = np.sort(edges, axis=1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 1]], axis=0)
    return node_ptr, node_points, edges


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


def _edit_const(page: str, name: str, edit) -> str:
    """Apply ``edit`` to the JSON value of ``const NAME = ...;`` in the template's data script."""
    pattern = re.compile(rf"(const {re.escape(name)} = )(.*?);\n")
    found = pattern.search(page)
    if found is None:
        raise RuntimeError(f"kmapper page has no 'const {name} = ...;' line; kmapper template changed?")
    value = edit(json.loads(found.group(2)))
    return page[: found.start(2)] + _json_for_script(value) + page[found.end(2) :]


def _write_atomic(path: Path, text: str) -> None:
    from nntopo.layout import atomic

    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _empty_page(title: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>"
        f"{_html.escape(title)}</title></head><body>\n"
        f'<h1>{_html.escape(title)}</h1>\n<p id="nntopo-empty-graph" style="color:#b00020;font:bold 16px '
        'sans-serif">The Mapper graph has no nodes: there is nothing to draw.</p>\n</body></html>\n'
    )


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
) -> list[str]:
    """Write the interactive KeplerMapper page of a Mapper graph to ``path`` (atomically).

    node_ptr, node_points: node i holds points ``node_points[node_ptr[i]:node_ptr[i+1]]`` (indices
        into labels_true / labels_pred, e.g. test images).
    edges: (E, 2) node index pairs (order and duplicates do not matter).
    labels_true, labels_pred: (N,) int true and predicted class of every point.
    node_cluster: (n_nodes,) cluster of each node (-1: none), shown in the node details.
    top_neurons: the characteristic neurons of each cluster: a ``ranking.rank_neurons`` table of
        one layer (columns cluster, neuron, fraction, rank), a mapping cluster -> neurons (ints or
        any labels), or a sequence / (clusters, k) array indexed by cluster (-1 entries skipped);
        the first ``n_top`` are shown for the node's cluster.
    class_names: names of the classes 0..C-1 (default: the numbers).
    custom_meta: extra (name, value) rows for the page's "Mapper Summary" pane.
    js_dir: folder with the fetched JS files (default: see ``js_dirs``).

    Returns the JS file names that could not be embedded (empty when the page is self-contained;
    otherwise the page carries a visible warning).
    """
    import kmapper
    from kmapper.visuals import _build_histogram, colorscale_default

    path = Path(path)
    labels_true = np.asarray(labels_true, dtype=np.int64).ravel()
    labels_pred = np.asarray(labels_pred, dtype=np.int64).ravel()
    if labels_true.shape != labels_pred.shape:
        raise ValueError(f"{len(labels_true)} true labels but {len(labels_pred)} predictions")
    n_points = len(labels_true)
    node_ptr, node_points, edges = _check_graph(node_ptr, node_points, edges, n_points)
    n_nodes = len(node_ptr) - 1
    if n_nodes == 0:
        _write_atomic(path, _empty_page(title))
        return []
    if node_cluster is not None:
        node_cluster = np.asarray(node_cluster, dtype=np.int64).ravel()
        if len(node_cluster) != n_nodes:
            raise ValueError(f"{len(node_cluster)} node clusters for {n_nodes} nodes")
    if (labels_true < 0).any() or (labels_pred < 0).any():
        raise ValueError("labels and predictions must be class numbers >= 0")
    n_classes = int(max(labels_true.max(), labels_pred.max())) + 1
    if class_names is not None:
        if len(class_names) < n_classes:
            raise ValueError(f"{len(class_names)} class names for classes 0..{n_classes - 1}")
        n_classes = len(class_names)
    names = [str(c) for c in class_names] if class_names is not None else [str(c) for c in range(n_classes)]
    neurons = _neurons_by_cluster(top_neurons, n_top)

    members = [node_points[node_ptr[i] : node_ptr[i + 1]] for i in range(n_nodes)]
    node_ids = [str(i) for i in range(n_nodes)]
    links: dict[str, list[str]] = {}
    for a, b in edges.tolist():
        links.setdefault(node_ids[a], []).append(node_ids[b])
    graph = {
        "nodes": {node_id: m.tolist() for node_id, m in zip(node_ids, members)},
        "links": links,
        "simplices": [[n] for n in node_ids] + [[node_ids[a], node_ids[b]] for a, b in edges.tolist()],
        "meta_data": {},
        "meta_nodes": {},
    }

    # Point colour values: true label and correctness. kmapper min-max scales each column over
    # all rows; two anchor rows that no node holds pin the scales to 0..C-1 and 0..1, so every
    # page (and every node's member histogram: one bar per class) uses the same colours.
    correct = labels_true == labels_pred
    color_values = np.column_stack([labels_true, correct]).astype(np.float64)
    color_values = np.vstack([color_values, [[0.0, 0.0], [max(n_classes - 1, 1), 1.0]]])
    point_tips = np.array(
        [
            f"{i}:{_html.escape(names[t])}"
            if t == p
            else f"<b style='color:#e0282e'>{i}:{_html.escape(names[t])}&rarr;{_html.escape(names[p])}</b>"
            for i, (t, p) in enumerate(zip(labels_true.tolist(), labels_pred.tolist()))
        ],
        dtype=object,
    )

    # Node values: majority true label (ties: lowest class) and accuracy, and the details header.
    majority = np.empty(n_nodes, dtype=np.int64)
    headers = []
    for i, m in enumerate(members):
        counts = np.bincount(labels_true[m], minlength=n_classes)
        majority[i] = int(np.argmax(counts))
        n_right = int(correct[m].sum())
        composition = ", ".join(
            f"{_html.escape(names[c])}: {counts[c]} ({counts[c] / len(m):.0%})"
            for c in np.argsort(-counts, kind="stable")
            if counts[c] > 0
        )
        wrong = m[~correct[m]]
        mistakes = ""
        if len(wrong):
            pairs, pair_counts = np.unique(
                np.column_stack([labels_true[wrong], labels_pred[wrong]]), axis=0, return_counts=True
            )
            top = np.argsort(-pair_counts, kind="stable")[:3]
            mistakes = "<br>most common mistakes: " + ", ".join(
                f"{_html.escape(names[pairs[k, 0]])}&rarr;{_html.escape(names[pairs[k, 1]])} "
                f"&times;{pair_counts[k]}"
                for k in top
            )
        if node_cluster is None:
            cluster_line = ""
        elif node_cluster[i] < 0:
            cluster_line = "<br>cluster: none"
        else:
            c = int(node_cluster[i])
            top_list = neurons.get(c)
            cluster_line = f"<br>cluster {c} top neurons: " + (
                _html.escape(", ".join(top_list)) if top_list else "(none ranked)"
            )
        headers.append(
            "<div class='nntopo-node' style='display:block;margin:0 0 8px;padding:6px 0;"
            "border-bottom:1px solid rgba(128,128,128,.5);white-space:normal'>"
            f"<b>node {i}</b>: {len(m)} points, majority label {_html.escape(names[majority[i]])}, "
            f"accuracy {n_right / len(m):.1%} ({len(m) - n_right} wrong)"
            f"<br>true labels: {composition}{mistakes}{cluster_line}"
            "<br><small>members: test index:true label; wrong ones in red as "
            "index:true&rarr;predicted</small></div>"
        )

    meta = {
        "Node colours": f"{_LABEL_COLOR} (class 0 dark .. {n_classes - 1} yellow) or {_ACCURACY_COLOR} "
        "(0 dark .. 1 yellow): choose with Color Function",
        "Points": f"{n_points} ({int(correct.sum())} predicted right, {correct.mean():.2%})",
        **(dict(custom_meta) if custom_meta else {}),
    }
    meta = {_html.escape(str(k)): _html.escape(str(v)) for k, v in meta.items()}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = kmapper.KeplerMapper(verbose=0).visualize(
            graph,
            color_values=color_values,
            color_function_name=[_LABEL_COLOR, _ACCURACY_COLOR],
            node_color_function=["mean"],
            custom_tooltips=point_tips,
            custom_meta=meta,
            path_html=str(path),
            title=_html.escape(title),
            save_file=False,
        )

    # kmapper colours nodes by a numpy function of their points' values ("mean"): right for
    # accuracy, but the label colour must be the majority label, not the mean label.
    scale = max(n_classes - 1, 1)
    majority_scaled = majority / scale

    def fix_graph(data):
        for node, header in zip(data["nodes"], headers):
            i = int(node["name"])
            node["color"][0][0] = float(majority_scaled[i])
            node["tooltip"]["custom_tooltips"] = [header] + node["tooltip"]["custom_tooltips"]
        return data

    def fix_summary(histogram):
        histogram[0][0] = _build_histogram(majority_scaled, colorscale=colorscale_default)
        return json.loads(json.dumps(histogram, default=lambda o: o.item()))

    page = _edit_const(page, "graph", fix_graph)
    page = _edit_const(page, "summary_histogram", fix_summary)
    page, missing = embed_js(page, js_dir)
    _write_atomic(path, page)
    return missing
