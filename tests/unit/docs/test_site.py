"""The documentation: the site builds with --strict (every link and anchor resolves), its configuration
page is generated from the schema (every key, with its default), and the README's links point at files
that exist."""

import os
import re
import subprocess
import sys
from html import unescape

import pytest
import yaml

from tests.conftest import ROOT

SCHEMA = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
# Written by runs, not in a fresh clone (.gitignore): the example's trained network, the bench's printout.
RUN_OUTPUTS = ("examples/own_network/out", "examples/pina_poisson/out", "benchmarks/out")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built by `python -m mkdocs build --strict` with the test's Python (the venv's under make);
    not --quiet, which hides the warnings that --strict counts."""
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return site_dir


def rows(html: str) -> list[list[str]]:
    """Every table row of a page, as the text of its cells."""
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)
        found.append([unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells])
    return found


def nested_leaves(node: dict, path: str):
    """(path, default) of every key under a top-level key whose default is a plain number or string."""
    for name, sub in node.get("properties", {}).items():
        child = f"{path}.{name}"
        default = sub.get("default")
        if isinstance(default, (int, str)) and not isinstance(default, bool):
            yield child, default
        yield from nested_leaves(sub, child)


def test_site_builds_and_its_configuration_page_is_generated_from_the_schema(site):
    page = site / "reference" / "configuration" / "index.html"
    assert page.is_file(), "the configuration page is missing from the site"
    table = {row[0]: row for row in rows(page.read_text()) if row}
    missing = [key for key in SCHEMA["properties"] if key not in table]
    assert not missing, f"top-level keys of the schema missing from the configuration page: {missing}"
    leaves = [leaf for key, node in SCHEMA["properties"].items() for leaf in nested_leaves(node, key)]
    assert len(leaves) > 20, "the schema should have many nested keys with defaults"
    wrong = [(path, default) for path, default in leaves
             if path not in table or table[path][2] != str(default)]
    assert not wrong, f"nested keys missing or with another default on the configuration page: {wrong}"
    # The clustering methods' parameters come from the registered classes, not from the schema.
    assert table["clustering.kmeans.n_clusters"][2] == "10"


def test_every_page_of_the_nav_is_built(site):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(nav):
        for item in nav:
            if isinstance(item, str):
                yield item
            else:
                for value in item.values():
                    yield from (pages(value) if isinstance(value, list) else [value])

    for source in pages(config["nav"]):
        built = site / ("index.html" if source == "index.md" else source.removesuffix(".md") + "/index.html")
        assert built.is_file(), f"{source} was not built"


def test_readme_links_point_to_existing_files():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets, "the README links into the docs"
    local = [target.split("#")[0] for target in targets
             if not re.match(r"[a-z]+:", target) and not target.startswith("#")]
    broken = [target for target in local if target and not (ROOT / target).exists()]
    assert not broken, f"README links to files that do not exist: {broken}"


def test_docs_pages_named_in_the_schema_and_report_exist():
    """The schema's descriptions (shown in config errors and the generated reference) and the report's
    captions send readers to docs pages by path; those pages must exist."""
    texts = [ROOT / "schemas" / "config.schema.yaml", *sorted((ROOT / "report").rglob("*.rst"))]
    named = {match for path in texts for match in re.findall(r"docs/[\w/.-]+?\.md", path.read_text())}
    missing = sorted(page for page in named if not (ROOT / page).is_file())
    assert not missing, f"docs pages named but missing: {missing}"


def test_repository_paths_named_in_the_docs_exist():
    """A file or folder of the repository named in code in the README or a page (`nntopo/store/`,
    `tests/unit/...py`, `configs/cnn.yaml`) exists: a module moved or renamed shows up here, not in a
    reader's checkout. Patterns ({dataset}, *) and what runs write (git-ignored: RUN_OUTPUTS) aside."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    prefixes = "nntopo|tests|rules|configs|scripts|benchmarks|examples|schemas|report|profiles|docs"
    named = {match for page in pages
             for match in re.findall(rf"`((?:{prefixes})/[^`\s{{}}*<>]*)`", page.read_text())}
    missing = sorted(path for path in named if not path.startswith(RUN_OUTPUTS) and not (ROOT / path).exists())
    assert not missing, f"paths named in the docs that do not exist: {missing}"
