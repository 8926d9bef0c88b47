"""MkDocs hook: the configuration reference, generated from schemas/config.schema.yaml at build time.

docs/reference/configuration.md holds the marker ``<!-- config-reference -->``; this hook replaces it
with one section per top-level key of the schema, each with a table of that key and every key under it
(path, type, default, allowed values or range, description). The clustering methods' own parameter
blocks are not spelled out in the schema (each method checks its block against its constructor), so
they are read from the registered classes of nntopo/clustering/methods.py.

Nothing here is written by hand, so the page cannot drift from what the workflow validates: a key added
to the schema appears in the next `make docs`, and a marker missing from the page fails the build.
"""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import yaml

MARKER = "<!-- config-reference -->"
PAGE = "reference/configuration.md"
ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "config.schema.yaml"


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"{PAGE} lost its marker {MARKER}: the generated reference has nowhere to go")
    schema = yaml.safe_load(SCHEMA.read_text())
    return markdown.replace(MARKER, render_schema(schema) + "\n\n" + render_methods())


# --- the schema -------------------------------------------------------------------------------------


def render_schema(schema: dict) -> str:
    sections = []
    for name, sub in schema["properties"].items():
        rows = list(walk(name, sub))
        text = [f"### `{name}`", ""]
        if sub.get("description"):
            text += [clean(sub["description"]), ""]
        text += ["| key | type | default | allowed | description |", "| --- | --- | --- | --- | --- |"]
        for path, node, required in rows:
            description = clean(node.get("description", "")) if path != name else ""
            if required:
                description = ("**Required.** " + description).strip()
            text.append(
                f"| `{path}` | {cell(type_of(node))} | {cell(default_of(node))} | {cell(allowed_of(node))} "
                f"| {cell(description)} |"
            )
        sections.append("\n".join(text))
    return "\n\n".join(sections)


def walk(path: str, node: dict, required: bool = False):
    """(path, schema node, required) for the node and everything under it, depth first."""
    yield path, node, required
    for name, sub in node.get("properties", {}).items():
        yield from walk(f"{path}.{name}", sub, name in node.get("required", ()))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{path}.<name>", extra, False
    items = node.get("items")
    if isinstance(items, dict):
        properties, required = entry_keys(items)
        for name, sub in properties.items():
            yield from walk(f"{path}[].{name}", sub, name in required)


def entry_keys(items: dict) -> tuple[dict, tuple]:
    """The keys of a list's entries and those required: its items' properties; for items that are a
    name or a mapping (if/then/else, as `datasets`), the mapping's, every kind's (allOf's if/then) in
    turn, each key once (a key of one kind says so in its description)."""
    mapping = items.get("else", {}) if "if" in items else items
    properties = dict(mapping.get("properties", {}))
    for option in mapping.get("allOf", []):
        for name, sub in option.get("then", {}).get("properties", {}).items():
            properties.setdefault(name, sub)
    return properties, tuple(mapping.get("required", ()))


def type_of(node: dict) -> str:
    if "oneOf" in node:
        return " or ".join(type_of(option) for option in node["oneOf"])
    if "if" in node and "then" in node:  # a name or a mapping (a `datasets` entry)
        return " or ".join(type_of(node[branch]) for branch in ("then", "else") if branch in node)
    if "enum" in node and "type" not in node:
        kinds = sorted({_json_type(value) for value in node["enum"]})
        return " or ".join(kinds)
    kinds = node.get("type")
    if kinds is None:
        return "any"
    kinds = kinds if isinstance(kinds, list) else [kinds]
    out = []
    for kind in kinds:
        if kind == "array" and isinstance(node.get("items"), dict):
            items = node["items"]
            inner = "entry" if items.get("properties") and "if" not in items else type_of(items)
            out.append(f"list of ({inner})" if " or " in inner else f"list of {inner}")
        elif kind == "object" and "properties" in node:
            out.append("mapping")
        else:
            out.append({"object": "mapping", "number": "number", "null": "null"}.get(kind, kind))
    return " or ".join(out)


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def default_of(node: dict) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if isinstance(value, dict) and value == {} and "properties" in node:
        return "(the defaults below)"
    return code(yaml_inline(value))


def yaml_inline(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def allowed_of(node: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append("one of " + ", ".join(code(yaml_inline(v)) for v in node["enum"]))
    if "oneOf" in node:
        parts += [part for option in node["oneOf"] if (part := allowed_of(option))]
    parts.append(_range(node))
    items = node.get("items")
    if isinstance(items, dict) and not items.get("properties"):
        inner = clean(items["description"]) if "description" in items else allowed_of(items)
        if inner:
            parts.append(f"each {inner}")
    if node.get("minItems"):
        parts.append(f"at least {node['minItems']} entr{'y' if node['minItems'] == 1 else 'ies'}")
    if node.get("uniqueItems"):
        parts.append("no repeats")
    if "pattern" in node:
        parts.append(f"matches {code(node['pattern'])}")
    if "minLength" in node:
        parts.append("not empty")
    return "; ".join(part for part in parts if part)


def _range(node: dict) -> str:
    low = ("[", node["minimum"]) if "minimum" in node else ("(", node["exclusiveMinimum"]) if "exclusiveMinimum" in node else None
    high = ("]", node["maximum"]) if "maximum" in node else (")", node["exclusiveMaximum"]) if "exclusiveMaximum" in node else None
    if low and high:
        return f"in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f"≥ {low[1]}" if low[0] == "[" else f"> {low[1]}"
    if high:
        return f"≤ {high[1]}" if high[0] == "]" else f"< {high[1]}"
    return ""


# --- the clustering methods' parameter blocks -------------------------------------------------------


def render_methods() -> str:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from nntopo.clustering.methods import METHODS

    text = [
        "### Clustering methods' parameters",
        "",
        "`clustering.<method>` is the parameter block of a registered clustering method: its keys are the "
        "keyword arguments of the method's class in `nntopo/clustering/methods.py`, checked when the "
        "workflow loads (an unknown key or a value of the wrong type stops it with one line). `tsne` and "
        "`umap` take a `clusterer`, itself a method's entry with a `name` (`{name: hdbscan, "
        "min_cluster_size: 50}` when left out). Listed from the classes themselves:",
    ]
    for name, cls in sorted(METHODS.items()):
        text += ["", f"#### `{name}`", ""]
        if name == "hdbscan":
            text += ["Mostly the `clusterer` of `tsne` and `umap` (`{name: hdbscan, min_cluster_size: 50}`).", ""]
        doc = inspect.getdoc(cls) or ""
        if doc:
            text += [clean(doc.split("\n\n")[0]), ""]
        text += ["| key | type | default |", "| --- | --- | --- |"]
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.name in ("self", "seed"):
                continue
            kind = python_type(parameter.annotation) if parameter.annotation is not parameter.empty else "any"
            default = "" if parameter.default is parameter.empty else code(yaml_inline(parameter.default))
            text.append(f"| `clustering.{name}.{parameter.name}` | {cell(kind)} | {cell(default)} |")
    return "\n".join(text)


PYTHON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean", "dict": "mapping",
                "None": "null"}


def python_type(annotation) -> str:
    """A constructor's annotation ("int | None") in the schema's words ("integer or null")."""
    parts = str(annotation).strip("'").split("|")
    return " or ".join(PYTHON_TYPES.get(part.strip(), part.strip()) for part in parts)


# --- text -------------------------------------------------------------------------------------------


def clean(text: str) -> str:
    """One line of Markdown: folded whitespace, reStructuredText's double backticks as single ones, and
    outside code spans < > and * escaped (`<data_dir>/MNIST/raw/*.gz` is text, not a tag or emphasis)."""
    parts = re.sub(r"\s+", " ", text.replace("``", "`")).strip().split("`")
    return "`".join(part if i % 2 else _escape(part) for i, part in enumerate(parts))


def _escape(text: str) -> str:
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")


def code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def cell(text: str) -> str:
    return text.replace("|", "\\|")
