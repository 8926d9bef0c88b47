"""The space of neurons: every hidden neuron of a layer as a point, its input weight vector scaled to
unit length, and the shape of that cloud.

A neuron's input weights (its row of the layer's weight matrix, batch normalisation folded in) say
which direction of the previous layer's space it responds to; scaled to unit length, two neurons are
close when they look for the same pattern, whatever their gain. Per hidden layer this module builds

- the Mapper graph of the cloud, with the clustering stage's own Mapper (``MapperMethod``: PCA lens,
  a cover of ``n_cubes`` x ``n_cubes`` cubes, DBSCAN in each with its radius from a quantile of the
  distances to the ``min_samples``-th neighbour; ``config.neurons.mapper``, set for a few dozen to a
  thousand points), its nodes laid out by ``clustering.graph.graph_layout``;
- what each neuron does in the study, per neuron and per node of the graph (mean over its neurons):
  how many clusters rank it in their top-k (``top_k_counts``, from the rankings of every clustering
  method), which class its linear path to the output supports most (``support_labels``) and whether
  it is alive (``alive_neurons``);
- the Euclidean Vietoris-Rips persistence diagram (H0, H1; ripser) of the cloud.

A neuron whose weights are all zero (norm at most ``min_norm``) has no direction: it is left out of
the cloud and counted in the log, while its per-neuron values are still stored.
"""

from __future__ import annotations

import json
import time

import numpy as np

from nntopo import store
from nntopo.store import NeuronSpace


# --- the cloud ------------------------------------------------------------------------------------

def neuron_cloud(weight: np.ndarray, min_norm: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unit input weight vectors of the neurons (rows of ``weight``, out x in) whose norm is above
    ``min_norm``: (points (n, in), their neuron indices (n,), every neuron's norm (out,))."""
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"expected a weight matrix (out x in), got shape {weight.shape}")
    norms = np.linalg.norm(weight, axis=1)
    kept = np.flatnonzero(norms > min_norm)
    return weight[kept] / norms[kept, None], kept.astype(np.int64), norms


def linear_path(layers: dict, layer: str) -> np.ndarray:
    """(classes, width) the product of the weight matrices after ``layer``, W_out @ W_L @ ... @ W_{l+1}
    (batch normalisation folded in, biases left out): column j is how much each logit moves per unit of
    neuron j's activation along the linear path, as if every later neuron passed its input on unchanged.
    With ReLU a later neuron that is off cuts its paths, which this ignores: it is the neuron's vote
    through the weights, not its effect on a given image."""
    names = list(layers)
    if layer not in names[:-1]:
        raise KeyError(f"no hidden layer {layer!r}; hidden layers are {', '.join(names[:-1])}")
    product = None
    for name in reversed(names[names.index(layer) + 1:]):
        weight = np.asarray(layers[name].affine()[0], dtype=np.float64)
        # A CNN's layers as maps of channels, each as if its feature map were uniform: a kernel adds up
        # (its response to a constant map), and a dense layer reading flattened maps sums each map's block.
        weight = weight.sum(axis=(2, 3)) if weight.ndim == 4 else weight
        before = len(layers[names[names.index(name) - 1]].weight)
        if weight.shape[1] != before:
            weight = weight.reshape(len(weight), before, -1).sum(axis=2)
        product = weight if product is None else product @ weight
    return product


def support_labels(path: np.ndarray) -> np.ndarray:
    """The class each neuron's linear path supports most: argmax over classes of each column (ties:
    the lowest class)."""
    return np.asarray(path).argmax(axis=0).astype(np.int64)


def alive_neurons(activations: np.ndarray) -> np.ndarray:
    """(width,) bool: active (> 0, as the rankings count activity) on at least one test image."""
    return (np.asarray(activations) > 0).any(axis=0)


def top_k_counts(rankings: dict[str, object], layer: str, width: int, top_k: int) -> np.ndarray:
    """(sources, width): per rankings table (``rankings``: source name -> DataFrame of
    ``store.RANKING_COLUMNS``), how many of its clusters rank each neuron of ``layer`` among their
    top ``top_k`` (rank <= top_k)."""
    counts = np.zeros((len(rankings), width), dtype=np.int64)
    for row, (source, table) in enumerate(rankings.items()):
        top = table[(table["layer"] == layer) & (table["rank"] <= top_k)]
        neurons = top["neuron"].to_numpy(dtype=np.int64)
        if len(neurons) and (neurons.min() < 0 or neurons.max() >= width):
            raise store.StoreError(f"rankings {source}: neurons {neurons.min()}..{neurons.max()} of {layer}, "
                                     f"which has {width}; rerun its ranking")
        counts[row] = np.bincount(neurons, minlength=width)
    return counts


# --- the graph and the diagram -----------------------------------------------------------------------

EMPTY_GRAPH = {"node_ptr": np.zeros(1, dtype=np.int64), "node_points": np.zeros(0, dtype=np.int64),
               "edges": np.zeros((0, 2), dtype=np.int64), "node_component": np.zeros(0, dtype=np.int64),
               "positions": np.zeros((0, 2))}


def mapper_graph(points: np.ndarray, mapper: dict, seed: int = 0) -> tuple[dict[str, np.ndarray], float | None]:
    """The Mapper graph of ``points`` (store.NEURON_GRAPH_ARRAYS by name; nodes hold indices of
    points) with the clustering stage's MapperMethod, PCA lens, nodes grouped by connected component,
    and the DBSCAN radius it used. A cloud of no more than ``min_samples`` points (no radius to take
    from the neighbours) or of fewer than two input dimensions (no 2-D lens) gets the empty graph
    and radius None."""
    from nntopo.clustering.methods import cluster_points, coincide, make_method

    points = np.asarray(points, dtype=np.float64)
    if len(points) <= mapper["min_samples"] or points.shape[1] < 2:
        return {k: v.copy() for k, v in EMPTY_GRAPH.items()}, None
    method = make_method("mapper", seed, {**mapper, "lens": "pca", "partition": "components"})
    clustering = cluster_points(method, points)
    graph = clustering.graph
    eps = None if coincide(points) else method.radius(points)  # the radius fit() used, for the record
    return {"node_ptr": graph.node_ptr, "node_points": graph.node_points, "edges": graph.edges,
            "node_component": graph.node_cluster, "positions": graph.positions}, eps


def persistence_diagrams(points: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """The Euclidean Vietoris-Rips persistence diagrams H0 .. H_maxdim of ``points``
    (nntopo.topology.homology.diagrams), not rescaled: unit vectors are 0 to 2 apart, sqrt(2) when
    orthogonal. H0 keeps its bar that never dies (death inf); no points, no bars."""
    from nntopo.topology.homology import diagrams

    if not len(points):
        return [np.zeros((0, 2))] * (maxdim + 1)
    return diagrams(points, maxdim, scaled=False)[0]


def node_means(node_ptr, node_points, values) -> np.ndarray:
    """(n_nodes,) the mean of ``values`` (one per point) over each node's points."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    sizes = np.diff(node_ptr)
    node_of = np.repeat(np.arange(len(sizes)), sizes)
    sums = np.bincount(node_of, weights=np.asarray(values, dtype=np.float64)[node_points], minlength=len(sizes))
    return sums / np.maximum(sizes, 1)


def node_majority(node_ptr, node_points, labels, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Each node's most frequent label among its points (ties: the lowest) and its share."""
    from nntopo.clustering.graph import node_counts

    counts = node_counts(node_ptr, node_points, labels, n_classes)
    sizes = np.maximum(np.diff(np.asarray(node_ptr)), 1)
    return counts.argmax(axis=1).astype(np.int64), counts.max(axis=1, initial=0) / sizes


# --- the stage ---------------------------------------------------------------------------------------

def _rankings(paths) -> dict[str, object]:
    """Rankings tables by source, "method/space" (the clustered layer), in the order given. A table
    without rows (its clustering put every point in no cluster) ranks no neuron; its source is named
    from its path, {space}/rankings/{method}.csv."""
    from pathlib import Path

    tables = {}
    for path in paths:
        table = store.read_rankings(path)
        where = Path(path)
        source = (f"{table['method'].iloc[0]}/{table['space'].iloc[0]}" if len(table)
                  else f"{where.stem}/{where.parent.parent.name}")
        tables[source] = table
    return tables


def neuron_space(weights_path, activations_path, ranking_paths, layer: str, settings: dict, log=print) -> NeuronSpace:
    """The space of the neurons of hidden layer ``layer`` (``settings``: config.neurons_slice), from the
    model's weights, its test activations and the rankings of the clusters that rank this layer
    (none: no top-k colouring)."""
    start = time.perf_counter()
    weights = store.read_weights(weights_path)
    attrs = store.read_attrs(weights_path)
    if layer not in list(weights)[:-1]:
        raise store.StoreError(f"{weights_path}: no hidden layer {layer}; it has {', '.join(list(weights)[:-1])}")
    acts = store.read_activations(activations_path)
    weight = np.asarray(weights[layer].unit_weights(), dtype=np.float64)  # a channel's kernels, flattened
    width = weight.shape[0]
    hidden = acts.layer(layer)
    if hidden.shape[1] != width or acts.attrs.get("model") != attrs.get("model"):
        raise store.StoreError(f"{activations_path} ({acts.attrs.get('model')}, {hidden.shape[1]} neurons in "
                                 f"{layer}) does not describe the model of {weights_path} ({attrs.get('model')}, "
                                 f"{width}); rerun its recording")
    where = f"{attrs.get('model')} {layer}"

    points, kept, norms = neuron_cloud(weight, settings["min_norm"])
    if len(kept) < width:
        log(f"{where}: {width - len(kept)} of {width} neurons have all-zero input weights (norm <= "
            f"{settings['min_norm']:g}): left out of the cloud (neurons {_listed(np.setdiff1d(np.arange(width), kept))})")
    alive = alive_neurons(hidden)
    path = linear_path(weights, layer)
    labels = support_labels(path)
    log(f"{where}: {len(kept)} neurons in the cloud, {int((~alive).sum())} of {width} dead on every test image; "
        f"linear paths favour classes {np.bincount(labels, minlength=path.shape[0]).tolist()}")

    rankings = _rankings(ranking_paths)
    top_k = top_k_counts(rankings, layer, width, settings["top_k"]) if rankings else None
    if top_k is None:
        log(f"{where}: no clustering ranks this layer's neurons: no top-k colouring")
    clusters = {source: int(table.loc[table["layer"] == layer, "cluster"].nunique()) for source, table in rankings.items()}

    graph, eps = mapper_graph(points, settings["mapper"], int(attrs.get("seed", 0)))
    if eps is None:
        log(f"{where}: {len(points)} neurons in the cloud, no more than min_samples = "
            f"{settings['mapper']['min_samples']} (or fewer than 2 inputs): no Mapper graph")
    node_ptr, node_points = graph["node_ptr"], graph["node_points"]
    n_classes = path.shape[0]
    graph["node_alive"] = node_means(node_ptr, node_points, alive[kept])
    graph["node_label"], graph["node_label_share"] = node_majority(node_ptr, node_points, labels[kept], n_classes)
    if top_k is not None:
        graph["node_top_k"] = node_means(node_ptr, node_points, top_k.sum(axis=0)[kept])
    covered = len(np.unique(node_points))
    log(f"{where}: Mapper graph of {len(node_ptr) - 1} nodes, {len(graph['edges'])} edges, "
        f"{len(np.unique(graph['node_component']))} components, {covered} of {len(points)} neurons in a node"
        + (f" (DBSCAN radius {eps:.3f})" if eps is not None else ""))

    diagrams = persistence_diagrams(points, settings["maxdim"])
    longest = [float(np.ptp(d[np.isfinite(d[:, 1])], axis=1).max(initial=0)) for d in diagrams]
    log(f"{where}: persistence diagram, bars per dimension {[len(d) for d in diagrams]}, longest finite "
        f"{[round(x, 3) for x in longest]} ({time.perf_counter() - start:.1f} s in all)")

    provenance = store.provenance(
        attrs.get("dataset", ""), attrs.get("model", ""), int(attrs.get("seed", 0)), settings,
        image_shape=list(attrs.get("image_shape", [])), kernel_shape=list(weights[layer].kernel_shape or ()),
        layer=layer, mapper=json.dumps(settings["mapper"], sort_keys=True), **store.carried(attrs),
        maxdim=settings["maxdim"], min_norm=settings["min_norm"], top_k=settings["top_k"],
        eps=float("nan") if eps is None else eps, top_k_clusters=json.dumps(clusters),
    )
    return NeuronSpace(kept, points, norms, alive, labels, path, top_k, list(rankings), graph, diagrams, provenance)


def _listed(values, limit: int = 12) -> str:
    values = [int(v) for v in values]
    return ", ".join(map(str, values[:limit])) + (f" and {len(values) - limit} more" if len(values) > limit else "")


def layer_neuron_space(weights_path, activations_path, ranking_paths, layer: str, settings: dict, outputs,
                       log=print) -> NeuronSpace:
    """Rule neurons: measure one hidden layer's space of neurons into ``outputs.space`` and draw its
    figures (paths.NEURON_FIGURES, named outputs)."""
    space = neuron_space(weights_path, activations_path, ranking_paths, layer, settings, log)
    store.write_neuron_space(outputs.space, space)
    draw_figures(space, outputs)
    return space


def draw_figures(space: NeuronSpace, outputs) -> None:
    """The graph, coloured by what the neurons do, and the persistence diagram (paths.NEURON_FIGURES)."""
    from nntopo import plotting
    from nntopo.weights import neuron_plots

    title = _title(space)
    plotting.save(neuron_plots.neuron_graph(space, title=title), outputs.neuron_graph)
    plotting.save(neuron_plots.neuron_diagram(space, title=title), outputs.neuron_diagram)


def draw_filters(space_path, output) -> None:
    """Rule neuron_filters: the first hidden layer's graph with each node drawn as the mean weight
    image of its neurons (a convolution's: its mean kernel)."""
    from nntopo import plotting
    from nntopo.weights import neuron_plots

    space = store.read_neuron_space(space_path)
    shape = tuple(int(s) for s in space.attrs.get("kernel_shape") or space.attrs.get("image_shape") or ())
    if len(shape) != 2 or shape[0] * shape[1] != space.points.shape[1]:
        raise store.StoreError(f"{space_path}: the {space.points.shape[1]} inputs of {space.attrs['layer']} are not "
                                 f"the pixels of an image (image_shape {list(shape)}); no weight images to draw")
    plotting.save(neuron_plots.neuron_filters(space, shape, title=_title(space)), output)


def _title(space: NeuronSpace) -> str:
    return f"{space.attrs.get('dataset', '')} {space.attrs.get('model', '')}, {space.attrs['layer']}"
