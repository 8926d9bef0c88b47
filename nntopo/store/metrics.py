"""metrics.json: a model's numbers as JSON (written by nntopo.network.stage and nntopo.network.external):
its test accuracy, weight statistics, training time, the per-epoch records (`epochs`) and its neural
persistence (`neural_persistence`)."""

from __future__ import annotations

import json
from pathlib import Path

from nntopo.store.hdf5 import StoreError, atomic


def write_metrics(path, metrics: dict) -> None:
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")


def read_metrics(path, neural_persistence: bool = False) -> dict:
    """A model's metrics.json; with ``neural_persistence``, refused in one line when the model was
    trained before neural persistence was recorded."""
    try:
        metrics = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise StoreError(f"{path}: file does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not a readable JSON file ({exc})") from None
    if neural_persistence and "neural_persistence" not in metrics:
        raise StoreError(f"{path}: no neural persistence; the model was trained before it was recorded: delete the "
                         f"model's folder and rerun")
    return metrics
