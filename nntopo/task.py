"""What a network is asked to do with its dataset, and how well it does it: classify (one score per
class, a class per point) or regress (a real target per point, N x d outputs).

Every stage keeps one meaning per task (docs/guides/regression.md):

- a point's **level set** stands in for its class where a regression has none (homology per class,
  compositions, colours by class): the quantile bin of its target's **projection** (the target itself
  when d = 1, else its coordinate along the first principal component of the training targets, signed
  so that it grows with the targets' sum). The edges are the training split's quantiles, fixed once per
  dataset (its dataset.json), so every model and stage bins the same way;
- a point's **error** is its squared error summed over the d outputs; a set's is their mean (``mse``)
  or the relative L2 error ``||output - target|| / ||target||`` over the set (``relative_l2``);
- the share of the target's variance a partition explains (``explained_variance``) is a
  classification's purity's counterpart.

Light (numpy only): the config, the store and every stage import it.
"""

from __future__ import annotations

import json

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
LEVEL_SETS = 10  # a regression dataset's level sets unless its entry says `level_sets`


def of_attrs(attrs) -> str:
    """The task of a file's network from its root attributes (``task``; files without it classify)."""
    return str(attrs.get("task", CLASSIFICATION))


def targets_2d(targets) -> np.ndarray:
    """Targets as float64 N x d (a vector of N is N x 1)."""
    targets = np.asarray(targets, dtype=np.float64)
    return targets.reshape(len(targets), -1)


def projection_of(train_targets) -> dict:
    """How a target becomes one number: {"mean": [d], "direction": [d]}: the identity for d = 1, else
    the first principal component of ``train_targets`` (signed to grow with the targets' sum)."""
    targets = targets_2d(train_targets)
    d = targets.shape[1]
    if d == 1:
        return {"mean": [0.0], "direction": [1.0]}
    mean = targets.mean(axis=0)
    _, _, vt = np.linalg.svd(targets - mean, full_matrices=False)
    direction = vt[0] if vt[0].sum() >= 0 else -vt[0]
    return {"mean": mean.tolist(), "direction": direction.tolist()}


def project(targets, projection: dict) -> np.ndarray:
    """(N,) float64: each target (or output) as the one number its level set is cut on."""
    targets = targets_2d(targets)
    return (targets - np.asarray(projection["mean"])) @ np.asarray(projection["direction"])


def level_set_edges(train_targets, n_levels: int, projection: dict) -> list[float]:
    """The n_levels - 1 inner edges: quantiles 1/n .. (n-1)/n of the projected training targets."""
    if n_levels < 2:
        raise ValueError(f"need at least 2 level sets, got {n_levels}")
    values = project(train_targets, projection)
    return np.quantile(values, np.arange(1, n_levels) / n_levels).tolist()


def level_sets(values, levels: dict) -> np.ndarray:
    """(N,) int64 level set of each target or output, 0 .. n_levels - 1, by ``levels`` (``levels_of``'s:
    its projection and edges); a value on an edge goes to the upper set."""
    return np.searchsorted(np.asarray(levels["edges"]), project(values, levels["projection"]),
                           side="right").astype(np.int64)


def level_set_names(levels: dict, digits: int = 3) -> tuple[str, ...]:
    """A name per level set, its range of projected values: "< 0.12", "0.12-0.57", ..., ">= 0.91"."""
    edges = [f"{edge:.{digits}g}" for edge in levels["edges"]]
    if not edges:
        return ("all",)
    return (f"< {edges[0]}", *(f"{a} to {b}" for a, b in zip(edges, edges[1:])), f">= {edges[-1]}")


def levels_of(train_targets, n_levels: int = LEVEL_SETS) -> dict:
    """A regression dataset's level sets: {"n": n_levels, "projection": ..., "edges": [...]} (JSON-ready;
    dataset.json's and the activations' ``level_sets``)."""
    projection = projection_of(train_targets)
    return {"n": int(n_levels), "projection": projection,
            "edges": level_set_edges(train_targets, n_levels, projection)}


def levels_from_attrs(attrs) -> dict | None:
    """A file's level sets (its JSON attribute ``level_sets``); None for a classifier's."""
    return json.loads(attrs["level_sets"]) if "level_sets" in attrs else None


def predicted(outputs, levels: dict | None) -> np.ndarray:
    """What the outputs say per point: a classifier's class (argmax), a regressor's level set (``levels``)."""
    outputs = np.asarray(outputs)
    return outputs.argmax(1) if levels is None else level_sets(outputs, levels)


def attrs_of(levels: dict | None) -> dict:
    """A file's root attributes that say its task: a regressor's ``task`` and ``level_sets``; none for a classifier."""
    return {} if levels is None else {"task": REGRESSION, "level_sets": json.dumps(levels)}


def point_errors(outputs, targets) -> np.ndarray:
    """(N,) float64 squared error of each point, summed over its d outputs."""
    outputs, targets = targets_2d(outputs), targets_2d(targets)
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {outputs.shape} and targets {targets.shape} differ in shape")
    return np.sum((outputs - targets) ** 2, axis=1)


def mse(outputs, targets) -> float:
    """Mean squared error per output value: the mean of ``point_errors`` / d (torch's MSELoss)."""
    targets = targets_2d(targets)
    return float(np.mean(point_errors(outputs, targets)) / targets.shape[1]) if len(targets) else float("nan")


def relative_l2(outputs, targets) -> float:
    """||outputs - targets|| / ||targets|| over the set (Frobenius norms); NaN for targets all zero."""
    targets = targets_2d(targets)
    norm = float(np.sqrt(np.sum(targets ** 2)))
    return float(np.sqrt(np.sum(point_errors(outputs, targets))) / norm) if norm > 0 else float("nan")


def explained_variance(labels, targets) -> float:
    """The share of the targets' variance (summed over d) that a partition explains, on the points it
    assigns (label >= 0): between-cluster sum of squares / total sum of squares (eta squared), 0 .. 1;
    NaN when those targets do not vary."""
    labels = np.asarray(labels, dtype=np.int64)
    targets = targets_2d(targets)[labels >= 0]
    labels = labels[labels >= 0]
    total = float(np.sum((targets - targets.mean(axis=0)) ** 2)) if len(targets) else 0.0
    if total <= 0:
        return float("nan")
    _, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((len(counts), targets.shape[1]))
    np.add.at(sums, index, targets)
    between = float(np.sum(sums ** 2 / counts[:, None]) - len(targets) * np.sum(targets.mean(axis=0) ** 2))
    return min(max(between / total, 0.0), 1.0)
