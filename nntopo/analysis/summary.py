"""The summary stage: the grid at a glance, from every model's metrics and analysis tables.

One row per model (accuracy, weights, neural persistence, silent activations, and per method the
clusters of the output, the ranking's sharpness and the ablation), the per-model ablation,
agreement, flow and probe tables gathered, and their figures. A regressor's row has its test error
(``test_mse``, ``test_relative_l2``) where a classifier's has ``test_accuracy``; a study of both has every
column, NaN where it does not apply, and its layers table both the probes' accuracies and R^2.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from nntopo import paths, plotting, store
from nntopo import task as tasks
from nntopo.analysis.ablation import summarize_ablation
from nntopo.analysis.plots import depth_profile, grid_summary
from nntopo.analysis.ranking import top_rows

# What a model's row reports of how well it does its task (metrics.json's keys), by task.
SCORES = {tasks.CLASSIFICATION: ("test_accuracy",), tasks.REGRESSION: ("test_mse", "test_relative_l2")}
PROBE_SCORES = ("probe_accuracy", "probe_train_accuracy", "probe_r2", "probe_train_r2")  # flow.linear_probe's


def summarize(inputs, outputs, settings: dict) -> None:
    """The grid at a glance, one row per model (``outputs.table`` and ``outputs.figure``): accuracy (a
    regressor's test error, ``SCORES``),
    weight norm and sparsity, mean normalised neural persistence (trained, initial, shuffled), the
    share of silent activations in its last hidden layer, the analysed points, and per method (on the output's clusters)
    the cluster count, the points in no cluster, the ranking's sharpness (the mean share of a
    cluster's points having each of its top-k neurons) and the share of clusters hurt more by their
    top-k neurons than by random ones. ``outputs.ablation`` and ``outputs.agreement`` gather the
    per-model tables; ``outputs.layers`` the flow and the linear probe of every model, layer and
    method, drawn against depth in ``outputs.depth`` (one per method).

    A clusters file is paired with its ranking and ablation by the model, layer and method their
    paths name, not by their places in the lists.
    """
    rows = {}
    for path in inputs.metrics:
        metrics = store.read_metrics(path, neural_persistence=True)
        # An external network has no training (nor initial weights), and NP only when its weights are given.
        persistence = metrics["neural_persistence"] or {}
        nan = {"mean_normalized": float("nan"), "shuffled_mean_normalized": float("nan")}
        task = tasks.of_attrs(metrics)
        rows[metrics["model"]] = {
            **{key: metrics.get(key, float("nan")) for key in ("model", *SCORES[task], "weight_l2_norm",
                                                               "near_zero_fraction", "train_seconds")},
            "mean_normalized_np": persistence.get("final", nan)["mean_normalized"],
            "mean_normalized_np_initial": persistence.get("initial", nan)["mean_normalized"],
            "mean_normalized_np_shuffled": persistence.get("final", nan)["shuffled_mean_normalized"],
        }
    for path in inputs.activations:
        acts = store.read_activations(path)
        rows[acts.attrs["model"]]["silent_activations"] = float((acts.hidden[-1] <= 0).mean())
        rows[acts.attrs["model"]]["points"] = json.dumps(acts.points)  # which points every table describes
    rankings, ablation_tables = _by_place(inputs.rankings, paths.RANKING), _by_place(inputs.ablations, paths.ABLATION)
    ablations = []
    for clusters_path in inputs.clusters:
        clusters = store.read_clusters(clusters_path)
        model, method, space = clusters.attrs["model"], clusters.attrs["method"], clusters.attrs["space"]
        ranking = pd.read_csv(_one(rankings, (model, space, method), clusters_path))
        deepest = None  # the summary of the deepest ranked layer's ablation; none where it was skipped
        for layer, table in pd.read_csv(_one(ablation_tables, (model, space, method), clusters_path)).groupby(
                "layer", sort=False):
            deepest = summarize_ablation(table, alpha=settings["alpha"])
            ablations.append({"model": model, "method": method, "space": space, "layer": layer, **deepest})
        if space != store.OUTPUT_LAYER:
            continue
        shown = ranking[ranking["layer"] == ranking["layer"].iloc[-1]] if len(ranking) else ranking
        rows[model].update({
            f"n_clusters_{method}": clusters.n_clusters,
            f"unassigned_{method}": int((clusters.labels < 0).sum()),
            f"sharpness_{method}": float(top_rows(shown, settings["top_k"])["fraction"].mean()),
            f"ablation_hurt_share_{method}": deepest["share_hurt_more_than_random"] if deepest else float("nan"),
        })
    agreements = pd.concat([pd.read_csv(path) for path in inputs.agreements], ignore_index=True)
    probes = pd.concat([pd.read_csv(path) for path in inputs.probes], ignore_index=True)
    flows = pd.concat([pd.read_csv(path) for path in inputs.flows], ignore_index=True)
    layers = flows.merge(probes[["model", "layer", *(c for c in PROBE_SCORES if c in probes)]], on=["model", "layer"],
                         how="left")
    table = model_table(list(rows.values()))
    scores = _scores_in(table)
    for path, frame in ((outputs.table, table), (outputs.ablation, pd.DataFrame(ablations)),
                        (outputs.agreement, agreements), (outputs.layers, layers)):
        with store.atomic(path) as tmp:
            frame.to_csv(tmp, index=False)
    shown = ["model", *scores, "weight_l2_norm", "near_zero_fraction"] + [
        c for c in table.columns if c.startswith("n_clusters_")]
    plotting.save(grid_summary(table[shown], title=f"{settings['dataset']}: the models"), outputs.figure)
    for method, path in zip(settings["methods"], outputs.depth):
        plotting.save(depth_profile(layers[layers["method"] == method],
                                    title=f"{settings['dataset']}, {method}: from layer to layer"), path)


def model_table(rows: list[dict]) -> pd.DataFrame:
    """The models' rows as one table, the scores of every task among them (``SCORES``) right after the
    model, in ``SCORES``' order: a study of both tasks has both, NaN where one does not apply."""
    table = pd.DataFrame(rows)
    scores = _scores_in(table)
    return table[["model", *scores, *(c for c in table.columns if c not in ("model", *scores))]]


def _scores_in(table: pd.DataFrame) -> list[str]:
    return [key for keys in SCORES.values() for key in keys if key in table]


def _by_place(files, pattern: str) -> dict[tuple[str, str, str], str]:
    """Each file by the (model, layer, method) its path names, read with ``pattern`` (a paths pattern)."""
    named = re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$")
    places = {}
    for path in map(str, files):
        found = named.search(path)
        if found is None:
            raise ValueError(f"{path}: not a path of the form {pattern}")
        places[found["model"], found["layer"], found["method"]] = path
    return places


def _one(places: dict, place: tuple[str, str, str], clusters_path) -> str:
    if place not in places:
        raise ValueError(f"{clusters_path}: no {'/'.join(place)} file among the summary's inputs")
    return places[place]
