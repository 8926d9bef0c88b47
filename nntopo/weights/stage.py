"""The weights stage's files and figures: every file the spaces of neurons and filters and the
neural-persistence summary read or write, and every figure they save, is read, written or saved here.
The algorithms (nntopo.weights.neurons, .filters, .cloud, nntopo.topology.persistence) take and return
arrays; the figures (nntopo.weights.neuron_plots, .filter_plots, .persistence_plots) return matplotlib
Figures.

- Neural persistence through training (rule neural_persistence_summary): training measures NP
  (nntopo.network.train, with nntopo.topology.persistence) and writes it to metrics.json and
  weights.h5; this stage only reads those, gathers every model's NP per dataset, and says when each
  early-stopping criterion would have ended training.
- The space of neurons (rules neurons, neuron_filters): one hidden layer's unit input weight vectors,
  from weights.h5, activations.h5 and the rankings.
- The space of first-layer filters (rule filter_space): every seed's first-layer kernels of one CNN
  architecture.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nntopo import store
from nntopo.clustering.graph import majority_label
from nntopo.models import ModelId
from nntopo.plotting import input_shape, save
from nntopo.store import NEURAL_PERSISTENCE_MEASURES, FilterSpace, NeuronSpace
from nntopo.topology.persistence import record_epochs, records
from nntopo.weights import cloud, filters, neurons


# --- neural persistence through training (rule neural_persistence_summary) ------------------------------

# The table's columns and the record keys they come from (a record's NP per layer is its "layers").
MEASURES = dict(zip(("neural_persistence", "normalized", "shuffled_normalized", "variance"), NEURAL_PERSISTENCE_MEASURES))
MEAN_LAYER = "mean"  # the rows of the network's mean over its layers


def _model_columns(metrics: dict) -> dict:
    model = ModelId.parse(metrics["model"])
    return {"dataset": metrics["dataset"], "model": metrics["model"], "architecture": model.architecture,
            "network": model.architecture.removesuffix(f"-{model.regularization}"),  # widths and activation
            "regularization": model.regularization, "seed": metrics["seed"]}


def persistence_rows(metrics: dict) -> list[dict]:
    """One row per epoch (0: initialisation) and layer, and one per epoch for the mean over layers."""
    model = _model_columns(metrics)
    rows = []
    history = metrics["epochs"]
    for epoch, record in zip(record_epochs(history), records(metrics["neural_persistence"]["initial"], history)):
        for layer in record["layers"]:
            rows.append({**model, "epoch": epoch, "layer": layer,
                         **{column: record[key][layer] for column, key in MEASURES.items()}})
        rows.append({**model, "epoch": epoch, "layer": MEAN_LAYER,
                     **{column: sum(record[key].values()) / len(record[key]) for column, key in MEASURES.items()}})
    return rows


STOPPING_COLUMNS = ["dataset", "model", "architecture", "network", "regularization", "seed", "criterion", "patience",
                    "min_delta", "stopped", "epoch", "epochs_trained", "mean_normalized_np"]


def stopping_rows(metrics: dict, patience: int, min_delta: float) -> list[dict]:
    """Per criterion, the epoch early stopping would end training at and the test accuracy (a
    regressor's mean squared error) there, read
    from the whole history (training before a stop does not depend on the criterion). A criterion that
    never fires stops at the last epoch trained (``stopped`` false); validation_loss needs validation.
    When training itself stopped early, a criterion that had not fired by then is left out: when it
    would have fired is unknown. A model trained until zero error has no rows: its history holds the
    checks alone (training.zero_error), and patience counts epochs."""
    from nntopo.network.stopping import CRITERIA, stopping_epoch

    history = metrics["epochs"]
    rows = []
    if metrics["settings"]["training"].get("zero_error"):
        return rows
    for criterion in CRITERIA:
        if criterion == "validation_loss" and "validation_loss" not in history[0]:
            continue
        epoch = stopping_epoch(history, criterion, patience, min_delta)
        if epoch is None and metrics.get("stopped_early_at"):
            continue
        at = history[(epoch or len(history)) - 1]
        rows.append({**_model_columns(metrics), "criterion": criterion, "patience": patience, "min_delta": min_delta,
                     "stopped": epoch is not None, "epoch": at["epoch"], "epochs_trained": len(history),
                     **{key: at[key] for key in ("test_accuracy", "test_mse") if key in at},  # a regressor's: mse
                     "mean_normalized_np": at["neural_persistence"]["mean_normalized"]})
    return rows


def summarize_persistence(metrics_paths, outputs, settings: dict) -> None:
    """``outputs.table``: NP, its controls and the variance per model, epoch and layer;
    ``outputs.stopping``: the early-stopping table; ``outputs.figure``: NP through training."""
    from nntopo.weights.persistence_plots import through_training

    everything = [store.read_metrics(path, neural_persistence=True) for path in metrics_paths]
    table = pd.DataFrame([row for metrics in everything for row in persistence_rows(metrics)])
    rows = [row for metrics in everything for row in stopping_rows(metrics, settings["patience"], settings["min_delta"])]
    stopping = pd.DataFrame(rows) if rows else pd.DataFrame(columns=STOPPING_COLUMNS)  # no model has rows: the header
    with store.atomic(outputs.table) as tmp:
        table.to_csv(tmp, index=False)
    with store.atomic(outputs.stopping) as tmp:
        stopping.to_csv(tmp, index=False)
    save(through_training(table[table["layer"] == MEAN_LAYER], settings["dataset"]), outputs.figure)


# --- the space of neurons (rules neurons, neuron_filters) ----------------------------------------------

def read_rankings_by_source(paths) -> dict[str, object]:
    """Rankings tables by source, "method/space" (the clustered layer), in the order given. A table
    without rows (its clustering put every point in no cluster) ranks no neuron; its source is named
    from its path, {space}/rankings/{method}.csv."""
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

    points, kept, norms = neurons.neuron_cloud(weight, settings["min_norm"])
    if len(kept) < width:
        log(f"{where}: {width - len(kept)} of {width} neurons have all-zero input weights (norm <= "
            f"{settings['min_norm']:g}): left out of the cloud (neurons {_listed(np.setdiff1d(np.arange(width), kept))})")
    alive = neurons.alive_neurons(hidden)
    path = neurons.linear_path(weights, layer)
    labels = neurons.support_labels(path)
    # "Active" as the rankings count it (> 0): for tanh a unit negative on every point is never active.
    favoured = (f"linear paths favour classes {np.bincount(labels, minlength=path.shape[0]).tolist()}"
                if path.shape[0] > 1 else "one output: coloured by each neuron's linear path to it")
    log(f"{where}: {len(kept)} neurons in the cloud, {int((~alive).sum())} of {width} never active (> 0) on an "
        f"analysed point; {favoured}")

    rankings = read_rankings_by_source(ranking_paths)
    top_k = neurons.top_k_counts(rankings, layer, width, settings["top_k"]) if rankings else None
    if top_k is None:
        log(f"{where}: no clustering ranks this layer's neurons: no top-k colouring")
    clusters = {source: int(table.loc[table["layer"] == layer, "cluster"].nunique()) for source, table in rankings.items()}

    graph, eps = cloud.mapper_graph(points, settings["mapper"], int(attrs.get("seed", 0)))
    if eps is None:
        log(f"{where}: {len(points)} neurons in the cloud, no more than min_samples = "
            f"{settings['mapper']['min_samples']} (or fewer than 2 inputs): no Mapper graph")
    node_ptr, node_points = graph["node_ptr"], graph["node_points"]
    n_classes = path.shape[0]
    graph["node_alive"] = cloud.node_means(node_ptr, node_points, alive[kept])
    graph["node_label"], graph["node_label_share"] = majority_label(node_ptr, node_points, labels[kept], n_classes)
    if top_k is not None:
        graph["node_top_k"] = cloud.node_means(node_ptr, node_points, top_k.sum(axis=0)[kept])
    covered = len(np.unique(node_points))
    log(f"{where}: Mapper graph of {len(node_ptr) - 1} nodes, {len(graph['edges'])} edges, "
        f"{len(np.unique(graph['node_component']))} components, {covered} of {len(points)} neurons in a node"
        + (f" (DBSCAN radius {eps:.3f})" if eps is not None else ""))

    diagrams = cloud.persistence_diagrams(points, settings["maxdim"])
    longest = [float(np.ptp(d[np.isfinite(d[:, 1])], axis=1).max(initial=0)) for d in diagrams]
    log(f"{where}: persistence diagram, bars per dimension {[len(d) for d in diagrams]}, longest finite "
        f"{[round(x, 3) for x in longest]} ({time.perf_counter() - start:.1f} s in all)")

    provenance = store.provenance(
        attrs.get("dataset", ""), attrs.get("model", ""), int(attrs.get("seed", 0)), settings,
        image_shape=list(attrs.get("image_shape", [])), kernel_shape=list(weights[layer].kernel_shape or ()),
        input_shape=list(input_shape(attrs) or ()),
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
    draw_neuron_space(space, outputs)
    return space


def draw_neuron_space(space: NeuronSpace, outputs) -> None:
    """The graph, coloured by what the neurons do, and the persistence diagram (paths.NEURON_FIGURES)."""
    from nntopo.weights import neuron_plots

    title = _neuron_title(space)
    save(neuron_plots.neuron_graph(space, title=title), outputs.neuron_graph)
    save(neuron_plots.neuron_diagram(space, title=title), outputs.neuron_diagram)


def draw_neuron_filters(space_path, output) -> None:
    """Rule neuron_filters: the first hidden layer's graph with each node drawn as the mean weight
    image of its neurons (a convolution's: its mean kernel, every input channel)."""
    from nntopo.weights import neuron_plots

    space = store.read_neuron_space(space_path)
    image = input_shape(space.attrs)  # the network's input (channels, height, width)
    kernel = tuple(int(s) for s in space.attrs.get("kernel_shape") or ())
    shape = (image[0] if image else 1, *kernel) if kernel else image
    if shape is None or math.prod(shape) != space.points.shape[1]:
        raise store.StoreError(f"{space_path}: the {space.points.shape[1]} inputs of {space.attrs['layer']} are not "
                               f"the pixels of an image (input_shape {list(image or ())}, kernel_shape "
                               f"{list(kernel)}); no weight images to draw")
    save(neuron_plots.neuron_filters(space, shape, title=_neuron_title(space)), output)


def _neuron_title(space: NeuronSpace) -> str:
    return f"{space.attrs.get('dataset', '')} {space.attrs.get('model', '')}, {space.attrs['layer']}"


# --- the space of first-layer filters (rule filter_space) -----------------------------------------------

def first_layer_kernels(path) -> np.ndarray:
    """The kernels of the first hidden layer of ``weights.h5`` at ``path``, one per output channel, batch
    normalisation's per-channel scale folded in: (out, kh, kw) of a grey image's network, (out, C, kh, kw)
    of one reading C input channels (a colour image's: each kernel one point of C * kh * kw values). A
    file whose first hidden layer is not a convolution is refused (StoreError, one line)."""
    first = store.read_weights(path)[store.hidden_name(1)]
    if not first.is_convolution:
        raise store.StoreError(f"{path}: hidden_1 is not a convolution (weight of shape "
                               f"{list(first.weight.shape)}); the space of filters needs a CNN's weights")
    weight = np.asarray(first.affine()[0], dtype=np.float64)
    return weight[:, 0] if weight.shape[1] == 1 else weight


def gather_kernels(paths) -> tuple[np.ndarray, np.ndarray]:
    """Every first-layer kernel of the models at ``paths``: (kernels (N, kh, kw) or (N, C, kh, kw),
    source (N,), the index in ``paths`` of the file each came from). The files must agree on the kernel
    shape."""
    kernels, source = [], []
    for index, path in enumerate(paths):
        found = first_layer_kernels(path)
        if kernels and found.shape[1:] != kernels[0].shape[1:]:
            raise store.StoreError(f"{path}: {'x'.join(map(str, found.shape[1:]))} kernels, but {paths[0]} has "
                                   f"{'x'.join(map(str, kernels[0].shape[1:]))}; gather one architecture's models")
        kernels.append(found)
        source.append(np.full(len(found), index, dtype=np.int64))
    if not kernels:
        raise ValueError("no weights files to gather kernels from")
    return np.concatenate(kernels), np.concatenate(source)


def model_of(path) -> str:
    """The model id ``weights.h5`` at ``path`` records (its folder's name if it records none)."""
    return str(store.read_attrs(path).get("model") or Path(path).parent.name)


def filter_space(weight_paths, dataset: str, architecture: str, settings: dict, log=print) -> FilterSpace:
    """The space of first-layer filters of the models at ``weight_paths`` (every seed of one CNN
    architecture; ``settings``: config.filters_slice)."""
    start = time.perf_counter()
    weight_paths = [str(p) for p in weight_paths]
    models = [model_of(path) for path in weight_paths]
    for path, model in zip(weight_paths, models):
        try:
            found = ModelId.parse(model).architecture
        except ValueError:
            found = None  # a file from elsewhere: its kernels are read, its name is not checked
        if found is not None and found != architecture:
            raise store.StoreError(f"{path}: model {model} is not of architecture {architecture}")
    kernels, source = gather_kernels(weight_paths)
    shape = tuple(int(s) for s in kernels.shape[1:])  # (kh, kw), or (C, kh, kw) across C input channels
    where = f"{dataset} {architecture}"
    named = ", ".join(models[:3]) + (f" ... {models[-1]}" if len(models) > 3 else "")
    log(f"{where}: {len(kernels)} first-layer kernels of {'x'.join(map(str, shape))} from {len(weight_paths)} "
        f"models ({named})")

    chosen = filters.select(kernels, settings)
    contrasts, contrasted, kept, points = chosen.contrast, chosen.contrasted, chosen.kept, chosen.points
    flat = int((contrasts <= filters.FLAT * contrasts.max(initial=0.0)).sum())
    log(f"{where}: contrast ({settings['contrast_norm']}) filter keeps {len(contrasted)} of {len(kernels)} kernels "
        f"(share {settings['contrast_share']:g}" + (f"; {flat} flat kernels never kept" if flat else "") + ")"
        + (f", contrast {contrasts[contrasted].min():.3g} and above (largest {contrasts.max():.3g})"
           if len(contrasted) else ""))
    if len(contrasted) and settings["density_k"] > len(contrasted) - 1:
        log(f"{where}: only {len(contrasted)} kernels for density_k = {settings['density_k']}: the density is the "
            f"distance to the furthest of the others")
    log(f"{where}: density filter (distance to the {settings['density_k']}-th neighbour) keeps {len(kept)} of "
        f"{len(contrasted)} (share {settings['density_share']:g})")
    plane, plane_variance = filters.principal_plane(points)

    graph, eps = cloud.mapper_graph(points, settings["mapper"], 0)
    # The file keeps kernels (N, kh, kw): a kernel of C channels with them stacked along its rows, its
    # attribute kernel_shape naming (C, kh, kw).
    stored = (math.prod(shape[:-1]), shape[-1])
    graph["node_kernels"] = filters.node_kernels(graph["node_ptr"], graph["node_points"], points, stored)
    if eps is None:
        log(f"{where}: {len(points)} points, no more than min_samples = {settings['mapper']['min_samples']}: "
            f"no Mapper graph")
    else:
        covered = len(np.unique(graph["node_points"]))
        log(f"{where}: Mapper graph of {len(graph['node_ptr']) - 1} nodes, {len(graph['edges'])} edges, "
            f"{len(np.unique(graph['node_component']))} components, {covered} of {len(points)} points in a node "
            f"(DBSCAN radius {eps:.3f})")

    diagrams = cloud.persistence_diagrams(points, settings["maxdim"])
    if settings["maxdim"] >= 1:
        lifetimes = filters.loop_lifetimes(diagrams[1])
        loops = (f"lifetimes {', '.join(f'{x:.3f}' for x in lifetimes[:5])}" + (" ..." if len(lifetimes) > 5 else "")
                 + f"; longest / second {filters.loop_ratio(lifetimes):.2f}") if len(lifetimes) else "no loop"
        log(f"{where}: {len(lifetimes)} H1 features, {loops}; the first two principal components hold "
            f"{plane_variance:.0%} of the variance ({time.perf_counter() - start:.1f} s in all)")

    attrs = {
        "dataset": dataset,
        "architecture": architecture,
        "models": json.dumps(models),
        "weight_files": json.dumps(weight_paths),
        "config": json.dumps(settings, sort_keys=True),
        "versions": json.dumps(store.versions(), sort_keys=True),
        "kernel_shape": list(shape),
        "contrast_norm": settings["contrast_norm"],
        "contrast_share": settings["contrast_share"],
        "density_k": settings["density_k"],
        "density_share": settings["density_share"],
        "maxdim": settings["maxdim"],
        "mapper": json.dumps(settings["mapper"], sort_keys=True),
        "eps": float("nan") if eps is None else eps,
        "plane_variance": plane_variance,
    }
    return FilterSpace(kernels.reshape(len(kernels), *stored), source, contrasts, contrasted, chosen.density, kept,
                       points, plane, graph, diagrams, attrs)


def architecture_filter_space(weight_paths, dataset: str, architecture: str, settings: dict, outputs,
                              log=print) -> FilterSpace:
    """Rule filter_space: the space of first-layer filters into ``outputs.space`` and its figures
    (paths.FILTER_FIGURES, named outputs)."""
    space = filter_space(weight_paths, dataset, architecture, settings, log)
    store.write_filter_space(outputs.space, space)
    draw_filter_space(space, outputs)
    return space


def draw_filter_space(space: FilterSpace, outputs) -> None:
    """The persistence diagram beside the principal plane, and the Mapper graph of mean kernels
    (paths.FILTER_FIGURES)."""
    from nntopo.weights import filter_plots

    title = f"{space.attrs['dataset']} {space.attrs['architecture']}"
    save(filter_plots.filter_diagram(space, title=title), outputs.filter_diagram)
    save(filter_plots.filter_graph(space, title=title), outputs.filter_graph)
