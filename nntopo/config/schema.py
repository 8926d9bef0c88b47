"""The config's schema (schemas/config.schema.yaml): read a config file, fill in the schema's
defaults, and say what is wrong in one line that names the key (ConfigError); where the data
directory is, and whether it can be right.

What the schema cannot say is checked by the grid's, the CNNs' and the external networks' own
modules (nntopo.config.grid, .cnn, .external); nntopo.config.validate runs every check.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import jsonschema
import yaml

from nntopo import datasets
from nntopo.datasets import DATA_DIR_ENV, data_dir

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is allowed."""


def _with_defaults(validator_class):
    """A validator that fills in each property's default before checking it (jsonschema's recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    schema = error.schema
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {}))) or "none"
        where = "" if key == "(top level)" else f" in {key}"
        return f"unknown key {', '.join(map(repr, unknown))}{where}; allowed keys: {allowed}"
    if error.validator == "enum":
        allowed = ", ".join("null" if value is None else str(value) for value in error.validator_value)
        return f"{key}: {error.instance!r} is not allowed; choose one of: {allowed}{_HINTS.get(_hint_key(error), '')}"
    if error.validator == "oneOf":
        return f"{key}: {error.instance!r} is not allowed; expected {_expected(schema)}"
    return f"{key}: {error.message}"


# What else an item may be, where the enum of names is not all it may be.
_HINTS = {("datasets", int): "; or describe your own dataset as a mapping with a name and a kind (torchvision, "
                             "folder or arrays; docs/guides/own-data.md)"}


def _hint_key(error: jsonschema.ValidationError) -> tuple:
    return tuple(part if isinstance(part, str) else int for part in error.absolute_path)


def _expected(schema: dict) -> str:
    """What a oneOf allows: its description when that is short, else each option in a few words."""
    description = " ".join(schema.get("description", "").split())
    if description and len(description) <= 80:
        return description
    return " or ".join(_option(option) for option in schema["oneOf"])


def _option(option: dict) -> str:
    if "enum" in option:
        return ", ".join("null" if value is None else str(value) for value in option["enum"])
    kind = option.get("type")
    if kind == "null":
        return "null"
    if kind in ("integer", "number"):
        word = "an integer" if kind == "integer" else "a number"
        return f"{word} of at least {option['minimum']}" if "minimum" in option else word
    if kind == "object":
        return "a mapping with " + ", ".join(option.get("required") or option.get("properties", {}))
    if kind == "array":
        items = option.get("items", {})
        if items.get("type") in ("integer", "number"):
            return f"a list of {items['type']}s" + (f" of at least {items['minimum']}" if "minimum" in items else "")
        return "a list"
    return str(kind)


# A typo in a key fails both additionalProperties and (when the key was required) required at the same
# place: the unknown key, named with the allowed ones, is the line that shows the fix.
_relevance = jsonschema.exceptions.by_relevance(strong={"additionalProperties"})


def apply(config: dict | None) -> dict:
    """A copy of ``config`` with every default filled in, checked against the schema; or ConfigError."""
    config = copy.deepcopy(config or {})
    if not isinstance(config, dict):
        raise ConfigError(f"the config must be a mapping of keys to values, not {type(config).__name__}")
    _check_finite(config)
    validator = _Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors, key=_relevance)
        raise ConfigError(_describe(best))
    return config


def _check_finite(value, key: str = "") -> None:
    """No NaN or infinity anywhere (YAML's .nan and .inf pass every schema bound)."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, f"{key}.{i}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: {value} is not allowed; give a finite number")


def read(path: str | os.PathLike):
    """The YAML of the config file at ``path``, unchecked."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None


def check_data_dir(config: dict) -> None:
    """Refuse a data directory that cannot be right, when an MNIST-family or torchvision dataset needs one.

    A missing directory is refused when NNTOPO_DATA_DIR names it (a pointer to nothing is a typo)
    or when download is false (nothing would fill it); with download on, the download creates it.
    Missing or broken files inside an existing directory are the reading job's to report.
    """
    needing = datasets.names(config, ("idx", "torchvision"))
    if not needing:
        return
    path = data_dir(config)
    key = f"{DATA_DIR_ENV} (environment)" if os.environ.get(DATA_DIR_ENV) else "data_dir"
    wanted = []
    if datasets.names(config, "idx"):
        wanted.append("a folder holding MNIST/raw/*.gz (or FashionMNIST/raw/*.gz), in torchvision's layout")
    classes = sorted({entry["class"] for entry in config["datasets"] if datasets.entry_kind(entry) == "torchvision"})
    if classes:
        wanted.append(f"the root folder of torchvision's {', '.join(classes)} (the layout torchvision reads and downloads)")
    wanted = ", and ".join(wanted)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{key}: {str(path)!r} is a file, not a directory; give {wanted}")
    if path.exists():
        return
    if key != "data_dir":
        raise ConfigError(f"{key}: {str(path)!r} does not exist; give {wanted}, or unset it to use data_dir")
    if not config["download"]:
        raise ConfigError(f"data_dir: {str(path)!r} does not exist and download is false, so nothing would fill it "
                          f"(datasets: {', '.join(needing)}); give {wanted}, or set download: true")
