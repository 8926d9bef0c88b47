"""The neural-persistence stage's files: every model's NP through training gathered per dataset, and
when each early-stopping criterion would have ended training.

Training measures NP (nntopo.network.train, with nntopo.weights.persistence) and writes it to
metrics.json and weights.h5; this module only reads those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nntopo.store import NEURAL_PERSISTENCE_MEASURES, StoreError
from nntopo.models import ModelId
from nntopo.weights.persistence import records

# The table's columns and the record keys they come from (a record's NP per layer is its "layers").
MEASURES = dict(zip(("neural_persistence", "normalized", "shuffled_normalized", "variance"), NEURAL_PERSISTENCE_MEASURES))
MEAN_LAYER = "mean"  # the rows of the network's mean over its layers


def _model_columns(metrics: dict) -> dict:
    model = ModelId.parse(metrics["model"])
    return {"dataset": metrics["dataset"], "model": metrics["model"], "architecture": model.architecture,
            "network": model.architecture.removesuffix(f"-{model.regularization}"),  # widths and activation
            "regularization": model.regularization, "seed": metrics["seed"]}


def read_metrics(path) -> dict:
    """A model's metrics.json, refused in one line when it predates neural persistence."""
    metrics = json.loads(Path(path).read_text())
    if "neural_persistence" not in metrics:
        raise StoreError(f"{path}: no neural persistence; the model was trained before it was recorded: delete the "
                          f"model's folder and rerun")
    return metrics


def persistence_rows(metrics: dict) -> list[dict]:
    """One row per epoch (0: initialisation) and layer, and one per epoch for the mean over layers."""
    model = _model_columns(metrics)
    rows = []
    for epoch, record in enumerate(records(metrics["neural_persistence"]["initial"], metrics["epochs"])):
        for layer in record["layers"]:
            rows.append({**model, "epoch": epoch, "layer": layer,
                         **{column: record[key][layer] for column, key in MEASURES.items()}})
        rows.append({**model, "epoch": epoch, "layer": MEAN_LAYER,
                     **{column: sum(record[key].values()) / len(record[key]) for column, key in MEASURES.items()}})
    return rows


def stopping_rows(metrics: dict, patience: int, min_delta: float) -> list[dict]:
    """Per criterion, the epoch early stopping would end training at and the test accuracy there, read
    from the whole history (training before a stop does not depend on the criterion). A criterion that
    never fires stops at the last epoch trained (``stopped`` false); validation_loss needs validation.
    When training itself stopped early, a criterion that had not fired by then is left out: when it
    would have fired is unknown."""
    from nntopo.network.stopping import CRITERIA, stopping_epoch

    history = metrics["epochs"]
    rows = []
    for criterion in CRITERIA:
        if criterion == "validation_loss" and "validation_loss" not in history[0]:
            continue
        epoch = stopping_epoch(history, criterion, patience, min_delta)
        if epoch is None and metrics.get("stopped_early_at"):
            continue
        at = history[(epoch or len(history)) - 1]
        rows.append({**_model_columns(metrics), "criterion": criterion, "patience": patience, "min_delta": min_delta,
                     "stopped": epoch is not None, "epoch": at["epoch"], "epochs_trained": len(history),
                     "test_accuracy": at["test_accuracy"],
                     "mean_normalized_np": at["neural_persistence"]["mean_normalized"]})
    return rows


def summarize_persistence(metrics_paths, outputs, settings: dict) -> None:
    """``outputs.table``: NP, its controls and the variance per model, epoch and layer;
    ``outputs.stopping``: the early-stopping table; ``outputs.figure``: NP through training."""
    from nntopo import store
    from nntopo.weights.plots import persistence_through_training

    everything = [read_metrics(path) for path in metrics_paths]
    table = pd.DataFrame([row for metrics in everything for row in persistence_rows(metrics)])
    stopping = pd.DataFrame([row for metrics in everything
                             for row in stopping_rows(metrics, settings["patience"], settings["min_delta"])])
    with store.atomic(outputs.table) as tmp:
        table.to_csv(tmp, index=False)
    with store.atomic(outputs.stopping) as tmp:
        stopping.to_csv(tmp, index=False)
    persistence_through_training(table, outputs.figure, settings["dataset"])
