"""What a page embeds: the layers' graphs, the points' labels and the colourings, as JSON-able values.

Arrays in (graphs in CSR form, labels, predictions, a ranking table), a dict out (``page_data``);
``page_const`` reads it back from a written page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from nntopo import task as tasks
from nntopo.analysis.ranking import top_rows
from nntopo.clustering.graph import check_graph, check_labels, graph_layout, node_counts, node_labels, unit_positions
from nntopo.clustering.graph import node_means
from nntopo.plotting import (ERROR_CMAP, NOISE_COLOR, TARGET_CMAP, class_colors, cluster_colors, level_colors,
                             target_name, value_norm)


def _neurons_by_cluster(top_neurons, top_k: int) -> dict[int, list[str]]:
    """{cluster: ["neuron (share)", ...]}, each cluster's ``top_k`` neurons, from a
    ``ranking.rank_neurons`` table of one layer, or from a mapping cluster -> neurons (any labels)
    in rank order."""
    if top_neurons is None:
        return {}
    if isinstance(top_neurons, Mapping):
        return {int(c): [str(n) for n in list(ns)[:top_k]] for c, ns in top_neurons.items()}
    out: dict[int, list[str]] = {}
    for row in top_rows(top_neurons, top_k).itertuples(index=False):
        out.setdefault(int(row.cluster), []).append(f"{int(row.neuron)} ({row.fraction:.0%})")
    return out


def _check_labels(labels_true, labels_pred, class_names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels_true, labels_pred, n_classes = check_labels(labels_true, labels_pred)
    if class_names is None:
        return labels_true, labels_pred, [str(c) for c in range(n_classes)]
    if len(class_names) < n_classes:
        raise ValueError(f"{len(class_names)} class names for classes 0..{n_classes - 1}")
    return labels_true, labels_pred, [str(c) for c in class_names]


def _hex(colors) -> list[str]:
    return [to_hex(c) for c in colors]


def _category(key: str, name: str, labels: list[str], colors, none: bool) -> dict:
    """A colouring by category: node value v is item v, -1 the "none" item (grey)."""
    out = {"key": key, "name": name, "kind": "category",
           "items": [{"label": label, "colour": c} for label, c in zip(labels, _hex(colors))]}
    if none:
        out["none"] = {"label": "none", "colour": _hex([NOISE_COLOR])[0]}
    return out


def _ramp(key: str, name: str, cmap: str, low: float, high: float, ends: tuple[str, str], **extra) -> dict:
    """A colouring by a value in 0..1, through ``cmap`` from ``low`` to ``high``."""
    stops = _hex(colormaps[cmap](np.linspace(low, high, 9)))
    return {"key": key, "name": name, "kind": "ramp", "stops": stops, "min": ends[0], "max": ends[1], **extra}


def _values_ramp(key: str, name: str, cmap: str, norm) -> dict:
    """A colouring by a value of its own units (a target, an error): ``cmap`` over ``norm``'s range, which
    the page maps a node's value through (``domain``) and the key's ends name."""
    return _ramp(key, name, cmap, 0.0, 1.0, (f"{norm.vmin:.3g}", f"{norm.vmax:.3g}"),
                 domain=[float(norm.vmin), float(norm.vmax)])


def _layer_data(layer: Mapping, labels_true, labels_pred, n_classes: int, output_clusters, top_k: int,
                regression: dict | None = None) -> dict:
    """One layer's graph as the page draws it: unit positions (y down), radii, points, node values."""
    name = str(layer.get("name", ""))
    node_ptr, node_points, edges = check_graph(layer["node_ptr"], layer["node_points"], layer["edges"],
                                               len(labels_true))
    n_nodes = len(node_ptr) - 1
    node_cluster = layer.get("node_cluster")
    if node_cluster is not None:
        node_cluster = np.asarray(node_cluster, dtype=np.int64).ravel()
        if len(node_cluster) != n_nodes:
            raise ValueError(f"{name}: {len(node_cluster)} node clusters for {n_nodes} nodes")
    positions = layer.get("positions")
    if positions is None:
        positions = graph_layout(n_nodes, edges)
    positions = np.asarray(positions, dtype=np.float64)
    if positions.shape != (n_nodes, 2):
        raise ValueError(f"{name}: positions must be ({n_nodes}, 2), got {positions.shape}")
    pos = unit_positions(positions) * (1, -1)  # the figures' y grows upwards, the page's downwards
    sizes = np.diff(node_ptr)
    radius = 0.12 + 0.33 * np.sqrt(sizes / max(sizes.max(initial=1), 1))  # nearest node ~1 unit away
    majority, _, accuracy = node_labels(node_ptr, node_points, labels_true, labels_pred, n_classes)
    if regression is None:
        values = {"label": majority.tolist(), "accuracy": np.round(accuracy, 4).tolist()}
    else:  # the level sets stand in for classes; the mean target and error for the accuracy
        values = {"label": majority.tolist(),
                  "target": _rounded(node_means(node_ptr, node_points, regression["values"])),
                  "error": _rounded(node_means(node_ptr, node_points, regression["errors"]))}
    if node_cluster is not None:
        values["cluster"] = node_cluster.tolist()
    if output_clusters is not None:  # the majority among the node's points, -1 (none) included
        counts = node_counts(node_ptr, node_points, output_clusters + 1, int(output_clusters.max(initial=-1)) + 2)
        values["output"] = (counts.argmax(axis=1) - 1).tolist()
    neurons = _neurons_by_cluster(layer.get("top_neurons"), top_k)
    return {
        "name": name,
        "x": np.round(pos[:, 0], 3).tolist(),
        "y": np.round(pos[:, 1], 3).tolist(),
        "r": np.round(radius, 3).tolist(),
        "ptr": node_ptr.tolist(),
        "points": node_points.tolist(),
        "edges": edges.tolist(),
        "cluster": None if node_cluster is None else node_cluster.tolist(),
        "neurons": {str(c): ns for c, ns in neurons.items()},
        "values": values,
    }


def _rounded(values) -> list:
    """Four significant digits: what a page shows of a value, at a fraction of the JSON."""
    return [float(f"{v:.4g}") for v in np.asarray(values, dtype=np.float64)]


def _regression(targets, outputs, levels, n_points: int) -> dict:
    """A regressor's points as a page shows them: each target as one number (``task.project``), the
    output the same way, and the squared error per output value (``task.point_errors`` / d)."""
    targets, outputs = tasks.targets_2d(targets), tasks.targets_2d(outputs)
    if targets.shape != outputs.shape or len(targets) != n_points:
        raise ValueError(f"targets {targets.shape} and outputs {outputs.shape} must both be ({n_points}, d)")
    return {"values": tasks.project(targets, levels["projection"]),
            "outputs": tasks.project(outputs, levels["projection"]),
            "errors": tasks.point_errors(outputs, targets) / targets.shape[1],
            "mse": tasks.mse(outputs, targets), "relative_l2": tasks.relative_l2(outputs, targets)}


def page_data(layers: Sequence[Mapping], labels_true, labels_pred, *, output_clusters=None,
              class_names: Sequence[str] | None = None, top_k: int = 5, targets=None, outputs=None,
              levels: dict | None = None) -> dict:
    """What a page embeds (as JSON): the layers' graphs, the points' labels, the colourings.

    ``layers``: dicts with name, node_ptr, node_points, edges and optionally node_cluster,
    positions (n_nodes, 2), top_neurons (as ``write_mapper_page`` takes them).

    A regressor's page (``targets`` and ``outputs`` (N x d), ``levels`` their level sets, whose
    ``labels_true`` and ``labels_pred`` are the level sets of the targets and of the outputs): the
    classes are the level sets, named by their ranges and coloured as the target; the nodes are
    coloured by the mean target of their points and by the model's mean squared error on them (each
    a continuous key with the values at its ends) in place of the accuracy; ``task``, ``target`` (what
    the target's numbers are), ``targets`` and ``outputs`` (each point's, as one number) and
    ``errors`` go into the data for the node details.
    """
    if targets is not None and class_names is None:
        class_names = tasks.level_set_names(levels)
    labels_true, labels_pred, names = _check_labels(labels_true, labels_pred, class_names)
    n_points = len(labels_true)
    if output_clusters is not None:
        output_clusters = np.asarray(output_clusters, dtype=np.int64).ravel()
        if len(output_clusters) != n_points or (output_clusters < -1).any():
            raise ValueError(f"output_clusters must hold one cluster (or -1) for each of the {n_points} points")
    regression = None if targets is None else _regression(targets, outputs, levels, n_points)
    data_layers = [_layer_data(layer, labels_true, labels_pred, len(names), output_clusters, top_k, regression)
                   for layer in layers]

    if regression is not None:
        return _regression_data(data_layers, labels_true, labels_pred, names, output_clusters, regression,
                                target_name(levels))
    colourings = [_category("label", "majority true label", names, class_colors(len(names)), none=False),
                  *_output_colouring(output_clusters),
                  # Pale where all is right, dark red where most is wrong: the mistakes stand out.
                  _ramp("accuracy", "accuracy (share predicted right)", "YlOrRd", 0.95, 0.08, ("0%", "100%")),
                  *_cluster_and_selection(data_layers)]
    correct = labels_true == labels_pred
    return {
        "classes": names,
        "labels": labels_true.tolist(),
        "preds": labels_pred.tolist(),
        "output": None if output_clusters is None else output_clusters.tolist(),
        "layers": data_layers,
        "colourings": colourings,
        "points_summary": f"{n_points} points, {int(correct.sum())} predicted right ({correct.mean():.2%})"
        if n_points else "no points",
    }


def _output_colouring(output_clusters) -> list[dict]:
    """By the majority output-layer cluster of a node's points, when the output layer was clustered."""
    if output_clusters is None:
        return []
    n = int(output_clusters.max(initial=-1)) + 1
    return [_category("output", "majority output-layer cluster", [str(c) for c in range(n)], cluster_colors(n),
                      none=True)]


def _cluster_and_selection(data_layers: list) -> list[dict]:
    """By each layer's own clusters (when clustered), and by the share of a node's points selected (filled
    in by the page from the points picked)."""
    colourings = []
    with_clusters = [layer["cluster"] for layer in data_layers if layer["cluster"] is not None]
    if with_clusters:
        n = max(max(c, default=-1) for c in with_clusters) + 1
        colourings.append(_category("cluster", "cluster (this layer's clustering)", [str(c) for c in range(n)],
                                    cluster_colors(n), none=True))
    colourings.append(_ramp("selection", "share of its points selected", "OrRd", 0.25, 1.0, (">0%", "100%"),
                            kind="selection", zero="#e4e4e4"))
    return colourings


def _regression_data(data_layers: list, labels_true, labels_pred, names: list[str], output_clusters,
                     regression: dict, target: str) -> dict:
    """``page_data`` of a regressor: the colourings by mean target, error and level set (cluster and
    output cluster as a classifier's), and each point's target, output and error for the details."""
    colourings = [_values_ramp("target", f"mean {target}", TARGET_CMAP, value_norm(regression["values"])),
                  _values_ramp("error", "error (mean squared, per output value)", ERROR_CMAP,
                               value_norm([v for layer in data_layers for v in layer["values"]["error"]], low=0.0)),
                  _category("label", f"majority level set of the {target}", names, level_colors(len(names)),
                            none=False),
                  *_output_colouring(output_clusters), *_cluster_and_selection(data_layers)]
    n_points = len(labels_true)
    return {
        "task": tasks.REGRESSION,
        "target": target,
        "classes": names,
        "labels": labels_true.tolist(),
        "preds": labels_pred.tolist(),
        "targets": _rounded(regression["values"]),
        "outputs": _rounded(regression["outputs"]),
        "errors": _rounded(regression["errors"]),
        "output": None if output_clusters is None else output_clusters.tolist(),
        "layers": data_layers,
        "colourings": colourings,
        "points_summary": f"{n_points} points, mean squared error {regression['mse']:.4g}, relative L2 error "
                          f"{regression['relative_l2']:.2%}" if n_points else "no points",
    }
