"""The Mapper pages: self-contained (D3 inlined), visibly warning without the JS, drawn offline.

The JS files come from `tools/fetch_js.sh .venv/share/nntopo/js` (run by `make`). The browser tests
run headless Chromium on a file:// URL with every network request made to fail, and read the graph
the page's script draws (`<circle class="node">` and `<line class="link">` in `<svg id="svg">`,
each node with its place on screen in data-sx/data-sy/data-sr).

Without the JS files or without Chromium these tests skip, unless CI is set, where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nntopo.figures.page import (
    FETCH_COMMAND,
    JS_DIR_ENV,
    WARNING_ID,
    embed_js,
    js_dirs,
    page_const,
    required_js,
    write_mapper_page,
)

from tests.conftest import ROOT  # noqa: E402
IN_CI = bool(os.environ.get("CI"))


def _skip_or_fail(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def real_js_dir(monkeypatch) -> Path:
    """The folder holding the fetched D3 (default search, as the pages use it)."""
    monkeypatch.delenv(JS_DIR_ENV, raising=False)
    names = [filename for _, _, filename, _ in required_js()]
    for folder in js_dirs():
        if all((folder / name).is_file() for name in names):
            return folder
    _skip_or_fail(
        f"D3 not fetched ({', '.join(names)} not in {' or '.join(map(str, js_dirs()))}); "
        f"run `{FETCH_COMMAND}`"
    )


@pytest.fixture
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _skip_or_fail("chromium is not installed (apt-get install chromium)")
    return found


def random_graph(seed: int = 0, n_nodes: int = 30, n_points: int = 400):
    """A random Mapper-like graph in CSR form, with labels and ~15% wrong predictions."""
    rng = np.random.default_rng(seed)
    members = [np.sort(rng.choice(n_points, size=rng.integers(3, 40), replace=False)) for _ in range(n_nodes)]
    node_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    node_ptr[1:] = np.cumsum([len(m) for m in members])
    node_points = np.concatenate(members).astype(np.int64)
    pairs = [(i, j) for i in range(n_nodes) for j in range(i + 1, n_nodes)]
    shared = [(i, j) for i, j in pairs if len(np.intersect1d(members[i], members[j])) > 2]
    edges = np.array(shared, dtype=np.int64).reshape(-1, 2)
    labels = rng.integers(0, 10, n_points)
    predictions = np.where(rng.random(n_points) < 0.15, rng.integers(0, 10, n_points), labels)
    node_cluster = rng.integers(-1, 4, n_nodes)
    return members, node_ptr, node_points, edges, labels, predictions, node_cluster


def write_random_page(path, js_dir=None, **kwargs):
    _, node_ptr, node_points, edges, labels, predictions, node_cluster = random_graph(**kwargs)
    top = {0: [5, 9, 1], 1: ["h3", "h7"], 2: [], 3: [11]}
    return write_mapper_page(
        path, node_ptr, node_points, edges, labels, predictions,
        node_cluster=node_cluster, top_neurons=top, title="random <graph>", js_dir=js_dir,
    )


# --- the page's content ------------------------------------------------------------------------


def test_page_is_self_contained_when_js_present(tmp_path, real_js_dir):
    path = tmp_path / "graph.html"
    assert write_random_page(path, js_dir=real_js_dir) == []
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I), "a script is still loaded by URL"
    assert not re.search(r"""<link[^>]*href=["']https?:""", page, re.I), "an external stylesheet/icon is left"
    assert "https://d3js.org v6.1.1" in page  # D3's own header: the code is inlined
    assert WARNING_ID not in page
    # Nothing inside an inline script can close it early.
    for body in re.findall(r"<script>(.*?)</script>", page, re.S):
        assert "<!--" not in body and "<script" not in body.lower()


def test_page_warns_visibly_without_js(tmp_path):
    empty = tmp_path / "js"
    empty.mkdir()
    path = tmp_path / "graph.html"
    missing = write_random_page(path, js_dir=empty)
    assert missing == ["d3-6.1.1.min.js"]
    page = path.read_text(encoding="utf-8")
    body_start = re.search(r"<body[^>]*>\s*", page).end()
    assert page[body_start:].startswith(f'<div id="{WARNING_ID}"'), "the warning is the first thing in the body"
    warning = re.search(rf'<div id="{WARNING_ID}".*?</div>', page, re.S).group(0)
    assert "could not embed d3 6.1.1" in warning and "cannot be drawn" in warning
    assert FETCH_COMMAND in warning
    assert "color:#b00020" in warning  # red, visible without any script
    # The CDN tags stay as a fallback for online viewers.
    assert '<script src="https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js"></script>' in page


def test_env_var_chooses_js_dir(tmp_path, monkeypatch, real_js_dir):
    page = "<html><body><script src=\"https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js\"></script></body></html>"
    monkeypatch.setenv(JS_DIR_ENV, str(tmp_path))
    assert embed_js(page)[1] == ["d3-6.1.1.min.js"]
    monkeypatch.setenv(JS_DIR_ENV, str(real_js_dir))
    out, missing = embed_js(page)
    assert missing == [] and "https://d3js.org v6.1.1" in out
    assert embed_js(page, js_dir=tmp_path)[1] == ["d3-6.1.1.min.js"]  # the argument wins over the env


def test_inlined_code_cannot_close_its_script(tmp_path):
    (tmp_path / "d3-6.1.1.min.js").write_text('var a="</script><!-- <SCRIPT>";\n//# sourceMappingURL=d3.min.js.map\n')
    page = "<html><body><script src=\"https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js\"></script></body></html>"
    out, missing = embed_js(page, js_dir=tmp_path)
    assert missing == []
    body = re.search(r"<script>(.*?)</script>", out, re.S).group(1)
    assert 'var a="<\\/script><\\!-- <SCRIPT>";' in body
    assert "sourceMappingURL" not in body


RANKING = {  # as ranking.rank_neurons writes it
    "cluster": [1, 1, 1, 0],
    "neuron": [7, 3, 9, 4],
    "count": [9, 5, 2, 1],
    "fraction": [0.9, 0.5, 0.2, 0.1],
    "rank": [1, 2, 3, 1],
}


def test_node_colours_and_details(tmp_path):
    import pandas as pd

    from nntopo.plotting import class_colors

    members, node_ptr, node_points, edges, labels, predictions, node_cluster = random_graph()
    path = tmp_path / "graph.html"
    write_mapper_page(
        path, node_ptr, node_points, edges, labels, predictions,
        node_cluster=node_cluster, top_neurons=pd.DataFrame(RANKING), top_k=2, js_dir=tmp_path,
    )
    data = page_const(path.read_text(encoding="utf-8"))
    (layer,) = data["layers"]
    assert layer["ptr"] == node_ptr.tolist() and layer["points"] == node_points.tolist()
    assert sorted(map(tuple, layer["edges"])) == sorted(map(tuple, edges.tolist()))
    assert data["labels"] == labels.tolist() and data["preds"] == predictions.tolist()
    for i, m in enumerate(members):
        assert layer["values"]["label"][i] == np.argmax(np.bincount(labels[m], minlength=10))
        assert layer["values"]["accuracy"][i] == pytest.approx(np.mean(labels[m] == predictions[m]), abs=1e-4)
    assert layer["values"]["cluster"] == node_cluster.tolist()
    assert layer["neurons"] == {"0": ["4 (10%)"], "1": ["7 (90%)", "3 (50%)"]}
    keys = [c["key"] for c in data["colourings"]]
    assert keys == ["label", "accuracy", "cluster", "selection"]
    label_colours = [item["colour"] for item in data["colourings"][0]["items"]]
    from matplotlib.colors import to_hex

    assert label_colours == [to_hex(c) for c in class_colors(10)]  # the static figures' palette
    assert data["colourings"][2]["none"]["label"] == "none"


def test_page_uses_the_stable_layout(tmp_path):
    from nntopo.clustering.graph import graph_layout, unit_positions

    _, node_ptr, node_points, edges, labels, predictions, _ = random_graph(seed=3)
    first, second = tmp_path / "a.html", tmp_path / "b.html"
    for path in (first, second):
        write_mapper_page(path, node_ptr, node_points, edges, labels, predictions, js_dir=tmp_path)
    assert first.read_bytes() == second.read_bytes()  # same inputs, same page
    layer = page_const(first.read_text())["layers"][0]
    expected = unit_positions(graph_layout(len(node_ptr) - 1, edges)) * (1, -1)
    assert np.column_stack([layer["x"], layer["y"]]) == pytest.approx(expected, abs=1e-3)
    # Positions given: used as they are (up to scale), y flipped for the screen.
    given = np.random.default_rng(0).normal(size=(len(node_ptr) - 1, 2)) * 50
    write_mapper_page(first, node_ptr, node_points, edges, labels, predictions, js_dir=tmp_path, positions=given)
    layer = page_const(first.read_text())["layers"][0]
    drawn_at = np.column_stack([layer["x"], layer["y"]]) * (1, -1)
    scale = np.ptp(drawn_at, axis=0) / np.ptp(given, axis=0)
    assert scale == pytest.approx(scale[0] * np.ones(2), rel=1e-3)
    assert (drawn_at - drawn_at.mean(0)) / scale[0] == pytest.approx(given - given.mean(0), abs=0.05)


def test_atomic_write_and_inputs(tmp_path):
    path = tmp_path / "sub" / "graph.html"
    write_random_page(path, js_dir=tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["graph.html"]
    empty = tmp_path / "empty.html"
    write_mapper_page(empty, [0], [], np.zeros((0, 2)), [1, 2], [1, 2])
    assert "no nodes" in empty.read_text()
    with pytest.raises(ValueError, match="node_ptr"):
        write_mapper_page(tmp_path / "x.html", [0, 2], [0], [], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="point indices"):
        write_mapper_page(tmp_path / "x.html", [0, 1], [5], [], [0, 1], [0, 1])
    with pytest.raises(ValueError, match="edges"):
        write_mapper_page(tmp_path / "x.html", [0, 1], [0], [[0, 3]], [0, 1], [0, 1])
    assert not (tmp_path / "x.html").exists()


def test_fetch_script_pins_what_the_pages_load():
    """tools/fetch_js.sh fetches the package@version and file name each script of the pages maps to."""
    script = (ROOT / "tools" / "fetch_js.sh").read_text()
    pins = re.findall(r'^\s*"(\S+) (\S+) (\S+) (\S+) (sha512-\S+) ([0-9a-f]{64})"$', script, re.M)
    needed = {(pkg, ver, name) for pkg, ver, name, _ in required_js()}
    assert needed and needed <= {(p[0], p[1], p[3]) for p in pins}


# --- in a real browser, offline ------------------------------------------------------------------


def render_dom(chromium: str, page: Path, tmp_path: Path, fragment: str = "", size=(1200, 900)) -> str:
    """The DOM after the page's script ran (``fragment``: the URL's #state), every network request
    made to fail."""
    profile = tmp_path / "chromium-profile"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic", f"--user-data-dir={profile}",
        # No network at all: names do not resolve and every request goes to a dead proxy.
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
        f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=5000", "--dump-dom",
        page.resolve().as_uri() + (f"#{fragment}" if fragment else ""),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _svg(dom: str) -> str:
    svg = re.search(r'<svg id="svg".*?</svg>', dom, re.S)
    assert svg, "no <svg id='svg'> in the page"
    return svg.group(0)


def drawn_nodes(dom: str, layer: str | None = None) -> list[dict[str, str]]:
    """The attributes of each node drawn in <svg id="svg"> (of one layer, by name, if given)."""
    tags = re.findall(r'<circle class="node[ "][^>]*>', _svg(dom))
    nodes = [dict(re.findall(r'([\w-]+)="([^"]*)"', tag)) for tag in tags]
    return [n for n in nodes if layer is None or n["data-layer"] == layer]


def drawn(dom: str) -> tuple[int, int]:
    """(graph nodes, links) drawn in the page's <svg id="svg">: <circle class="node"> and <line class="link">."""
    return len(drawn_nodes(dom)), len(re.findall(r'<line class="link"', _svg(dom)))


def assert_in_view(dom: str, layer: str | None = None) -> None:
    """Every node of the shown layer lies, whole, inside the graph's box on screen."""
    left, top, width, height = map(float, re.search(r'<svg id="svg"[^>]*data-box="([^"]+)"', dom).group(1).split())
    assert width > 300 and height > 300, "the graph's box is too small to read"
    nodes = drawn_nodes(dom, layer)
    assert nodes
    for node in nodes:
        x, y, r = float(node["data-sx"]), float(node["data-sy"]), float(node["data-sr"])
        assert r >= 2, f"node {node['data-node']} is drawn {r} px wide"
        assert left - 0.5 <= x - r and x + r <= left + width + 0.5, f"node {node['data-node']} is off screen"
        assert top - 0.5 <= y - r and y + r <= top + height + 0.5, f"node {node['data-node']} is off screen"


def test_browser_draws_every_node_offline_in_view(tmp_path, chromium, real_js_dir):
    from matplotlib.colors import to_hex

    from nntopo.plotting import class_colors

    members, _, _, edges, labels, _, _ = random_graph(seed=1, n_nodes=30)
    path = tmp_path / "graph.html"
    assert write_random_page(path, js_dir=real_js_dir, seed=1, n_nodes=30) == []
    for size in [(1200, 900), (700, 1000)]:  # wide and tall windows: the layout is fitted to both
        dom = render_dom(chromium, path, tmp_path, size=size)
        assert drawn(dom) == (len(members), len(edges))
        assert_in_view(dom)
    assert 'id="colour"' in dom and "majority true label" in dom
    palette = [to_hex(c) for c in class_colors(10)]
    fills = {int(n["data-node"]): n["fill"] for n in drawn_nodes(dom)}
    assert fills == {i: palette[np.argmax(np.bincount(labels[m], minlength=10))] for i, m in enumerate(members)}
    legend = re.search(r'<div id="legend">.*?</div>', dom, re.S).group(0)
    assert "Colour: majority true label" in legend
    assert len(re.findall(r'class="swatch"', legend)) == len(set(fills.values()))


def test_browser_node_details(tmp_path, chromium, real_js_dir):
    import pandas as pd

    members, node_ptr, node_points, edges, labels, predictions, node_cluster = random_graph(seed=2)
    path = tmp_path / "graph.html"
    names = [f"<c{k}>" for k in range(10)]  # markup in names stays text
    write_mapper_page(path, node_ptr, node_points, edges, labels, predictions, node_cluster=node_cluster,
                      top_neurons=pd.DataFrame(RANKING), top_k=2, class_names=names, js_dir=real_js_dir)
    node = next(i for i, c in enumerate(node_cluster) if c == 1)
    m = members[node]
    dom = render_dom(chromium, path, tmp_path, fragment=f"tip={node}&colour=accuracy")
    tip = re.search(r'<div id="tip"[^>]*>(.*?)</div>\s*<script', dom, re.S).group(1)
    assert "display: block" in re.search(r'<div id="tip"[^>]*>', dom).group(0)
    wrong = [p for p in m if labels[p] != predictions[p]]
    majority = np.argmax(np.bincount(labels[m], minlength=10))
    found = re.search(r"(\d+) points, majority label &lt;c(\d)&gt;, accuracy ([\d.]+)% \((\d+) wrong\)", tip)
    assert found, tip[:500]
    assert (int(found[1]), int(found[2]), int(found[4])) == (len(m), majority, len(wrong))
    assert float(found[3]) == pytest.approx(100 * (1 - len(wrong) / len(m)), abs=0.051)
    assert "cluster 1 top neurons: 7 (90%), 3 (50%)" in tip
    assert "true labels: " in tip
    marked = re.findall(r'<span class="p wrong">(\d+):', tip)
    assert [int(p) for p in marked] == wrong  # wrong ones first, all marked
    shown = re.findall(r'<span class="p(?: wrong)?">(\d+):', tip)
    assert sorted(int(p) for p in shown) == sorted(m.tolist())
    assert "Colour: accuracy" in dom
def test_browser_shows_warning_without_js(tmp_path, chromium):
    """The negative control: without the JS the page draws nothing offline, and says so."""
    empty = tmp_path / "js"
    empty.mkdir()
    path = tmp_path / "graph.html"
    write_random_page(path, js_dir=empty)
    dom = render_dom(chromium, path, tmp_path)
    assert drawn(dom) == (0, 0), "nodes drawn without D3: the browser reached the network"
    assert f'id="{WARNING_ID}"' in dom and "D3 did not load: no graph." in dom
