"""The page's JavaScript libraries, inlined so that a page draws offline.

The page loads D3 from a CDN tag that ``embed_js`` replaces with the file ``tools/fetch_js.sh``
fetches from the npm registry at set-up (``make`` puts it in ``.venv/share/nntopo/js``). When the
file is missing the page keeps the CDN tag as a fallback and shows a red banner saying the graph
cannot be drawn offline and how to fix it.
"""

from __future__ import annotations

import html as _html
import os
import re
import sys
from pathlib import Path

JS_DIR_ENV = "NNTOPO_JS_DIR"
FETCH_COMMAND = "bash tools/fetch_js.sh .venv/share/nntopo/js"
WARNING_ID = "nntopo-js-warning"

_ROOT = Path(__file__).resolve().parents[3]  # the repository of an editable install

# The page's external scripts; embed_js inlines them.
PAGE_SCRIPTS = ("https://cdnjs.cloudflare.com/ajax/libs/d3/6.1.1/d3.js",)

# CDN script URL -> (npm package, version, file name in the JS dir). tools/fetch_js.sh fetches
# these names (D3 as the release's minified build).
_LIBRARIES = (
    (re.compile(r"/d3/(\d+\.\d+\.\d+)/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
    (re.compile(r"/npm/d3@(\d+\.\d+\.\d+)/dist/d3(?:\.min)?\.js$"), "d3", "d3-{version}.min.js"),
)
_SCRIPT_SRC = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["'](https?://[^"']+)["'][^>]*>\s*</script\s*>""", re.I)
_EXTERNAL_LINK = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*["'](https?://[^"']+)["'][^>]*>""", re.I)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.I)


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
    return [(*library_for(url), url) for url in PAGE_SCRIPTS]


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

