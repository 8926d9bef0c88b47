"""How each figure of ``nntopo.figures.specs`` is drawn: read the workflow's files, call the right
stage's plot, save it.

Each stage's ``plots`` module draws from arrays; the functions here are the adapters between them
and the files. A Spec names its function here: ``draw(job)`` returns a figure, saved as a PNG;
``write(job, output)`` writes a page or a graph file itself and returns the scripts it could not
inline. ``write_batch`` writes every output of a rule's job, ``draw_figure`` a single one.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import pandas as pd

from nntopo import config as nnconfig
from nntopo import plotting, store
from nntopo import task as tasks
from nntopo.analysis import plots as analysis_plots
from nntopo.analysis.agreement import agreement_matrix
from nntopo.analysis.channels import MapMismatch, cluster_channels, receptive_field
from nntopo.analysis.plots import flow as flow_plots
from nntopo.clustering import plots as cluster_plots
from nntopo.clustering.graph import MapperGraph
from nntopo.figures.page import write_layers_page, write_mapper_page
from nntopo.clustering.stage import write_graph_file
from nntopo.figures.specs import DATA, METHOD_NEEDS, SEPARATOR, SPECS, Spec
from nntopo.network import plots as network_plots


@dataclass
class Job:
    """What a figure's drawing function is given: its inputs, settings and where it stands."""

    inputs: object
    settings: dict
    title: str  # "dataset model"
    layer: str | None = None
    method: str | None = None
    data_dir: object = None
    download: bool = False


def write_batch(outputs: dict, inputs, settings: dict, dataset: str, model: str, layer: str | None = None, *,
                data_dir=None, download: bool = False) -> list[str]:
    """Write each output of a batch (name -> path) with its own settings; returns the scripts the
    pages could not inline."""
    given = dict(inputs.items()) if hasattr(inputs, "items") else dict(vars(inputs))
    missing = []
    for name, output in outputs.items():
        spec, _, method = name.partition(SEPARATOR)
        own = {need: given[need + SEPARATOR + method] if need in METHOD_NEEDS else given.get(need)
               for need in SPECS[spec].needs}
        if SPECS[spec].inputs:
            own[DATA] = given.get(DATA)  # a prepared dataset's data.h5; None for a built-in one
        job = Job(SimpleNamespace(**own), settings[name], f"{dataset} {model}", layer, method or None, data_dir,
                  download)
        missing += _write(SPECS[spec], job, output)
    return sorted(set(missing))


def draw_figure(name: str, inputs: dict, output, settings: dict, dataset: str, model: str, layer: str | None = None,
                method: str | None = None, *, data_dir=None, download: bool = False) -> list[str]:
    """One output, its inputs given as a plain dict of paths by need (for tests and the benchmark's reference;
    a prepared dataset's data.h5 as "data" for the figures that draw its inputs)."""
    job = Job(SimpleNamespace(**inputs), settings, f"{dataset} {model}", layer, method, data_dir, download)
    return _write(SPECS[name], job, output)


def _write(spec: Spec, job: Job, output) -> list[str]:
    """Make one Spec's output with the function of this module it names."""
    if spec.write:
        return globals()[spec.write](job, output)
    plotting.save(globals()[spec.draw](job), output)
    return []


# --- a model's figures ---------------------------------------------------------------------------

def activations(job: Job):
    acts = store.read_activations(job.inputs.activations)
    last = store.hidden_name(len(acts.hidden))
    return network_plots.activation_distributions(acts.layer(last), acts.output,
                                                  title=f"{job.title}: {last} and output activations")


def weights(job: Job):
    if job.inputs.weights is None:  # an external network given without its weights
        fig = plotting.new_figure(7, 2.2)
        plotting.no_data(fig.subplots(), "No weights were given for this network (its entry's weight_modules,\nor "
                                         "weights beside recorded activations), so none are drawn.")
        fig.suptitle(f"{job.title}: weights")
        return fig
    layers = store.read_weights(job.inputs.weights)
    metrics = store.read_metrics(job.inputs.metrics)
    return network_plots.weight_distributions({n: l.weight for n, l in layers.items()}, title=f"{job.title}: weights",
                                              near_zero=metrics["near_zero_threshold"])


def filters(job: Job):
    first = store.read_weights(job.inputs.weights)[store.hidden_name(1)]
    if not first.is_convolution:
        raise store.StoreError(f"{job.inputs.weights}: hidden_1 is not a convolution, so it has no filters to draw")
    return analysis_plots.filters(first.affine()[0], title=job.title)  # (channels, input channels, kh, kw)


# --- a method's figures across a model's layers --------------------------------------------------

def sankey(job: Job):
    labelings = {}  # layer name -> the method's cluster labels, in depth order
    for path in job.inputs.layer_clusters:
        clusters = store.read_clusters(path)
        labelings[clusters.attrs["space"]] = clusters.labels
    regression = _regression(job.inputs.activations)
    return analysis_plots.layer_sankey(labelings, store.read_activations(job.inputs.activations).labels,
                                       title=f"{job.title}, {job.method}", max_clusters=job.settings["max_clusters"],
                                       **({} if regression is None else regression.targets()))


def mapper_layers(job: Job):
    graphs = []
    for path in job.inputs.layer_clusters:
        graph, attrs = _mapper_graph(path)
        graphs.append((attrs["space"], graph.node_ptr, graph.node_points, graph.edges, graph.node_cluster,
                       graph.positions))
    regression = _regression(job.inputs.activations)
    return cluster_plots.mapper_graphs_by_layer(graphs, store.read_activations(job.inputs.activations).labels,
                                                title=f"{job.title}, {job.method}", seed=int(attrs["seed"]), max_cols=5,
                                                **({} if regression is None else regression.targets()))


def layers_page(job: Job, output) -> list[str]:
    """A model's Mapper graphs of every analysed layer in one page, with a layer picker."""
    acts = store.read_activations(job.inputs.activations)
    layers = []
    for path in job.inputs.layer_clusters:
        graph, attrs = _mapper_graph(path)
        layers.append({"name": attrs["space"], **vars(graph)})
    output_clusters = store.read_clusters(job.inputs.layer_clusters[-1]).labels
    return write_layers_page(output, layers, acts.labels, acts.predictions, output_clusters=output_clusters,
                             title=f"{job.title}, {job.method}: the Mapper graph of every layer",
                             **_page_regression(acts))


# --- a layer's figures, and a (layer, method)'s --------------------------------------------------

def agreement(job: Job):
    table = pd.read_csv(job.inputs.agreement)
    pairs, purity = table[table.method_a != table.method_b], table[table.method_a == table.method_b]
    # A regressor's purity: the explained variance of its target.
    column = "explained_variance" if flow_plots.explains_variance(table) else "purity"
    return analysis_plots.agreement_heatmap(agreement_matrix(pairs, order=list(purity.method_a)),
                                            purity.set_index("method_a")[column],
                                            title=f"{job.title}, {job.layer}: agreement between clusterings")


def heatmap(job: Job):
    ranking, shown = _ranking(job)
    clusters = store.read_clusters(job.inputs.clusters)
    return analysis_plots.ranking_heatmap(ranking, clusters.n_clusters, top_k=job.settings["top"],
                                          title=_where(job, shown), max_clusters=job.settings["max_clusters"])


def barplot(job: Job):
    summary = pd.read_csv(job.inputs.table)
    n = int((summary.cluster >= 0).sum())
    levels = tasks.levels_from_attrs(store.read_attrs(job.inputs.activations))
    if levels is None:
        return cluster_plots.cluster_composition(summary, title=f"{_where(job)}: {n} clusters, label composition and "
                                                 "accuracy", max_clusters=job.settings["max_clusters"])
    return cluster_plots.cluster_composition(summary, title=f"{_where(job)}: {n} clusters",
                                             max_clusters=job.settings["max_clusters"],
                                             level_names=tasks.level_set_names(levels),
                                             target=plotting.target_name(levels))


def manifold(job: Job):
    shown = store.read_clusters(job.inputs.embedding)
    if shown.embedding is None:
        raise store.StoreError(f"{job.inputs.embedding}: no embedding to draw the points with")
    regression = _regression(job.inputs.activations)
    return cluster_plots.cluster_manifold(shown.embedding, store.read_clusters(job.inputs.clusters).labels,
                                          max_clusters=job.settings["max_clusters"],
                                          title=f"{_where(job)} clusters on the {shown.attrs['method']} embedding",
                                          **({} if regression is None else regression.points()))


def ablation(job: Job):
    table = pd.read_csv(job.inputs.ablation)
    shown = job.settings["shown"]
    skipped = store.read_attrs(job.inputs.activations).get("no_network")  # recorded activations alone
    return analysis_plots.ablation_effects(
        table[table["layer"] == shown], title=f"{_where(job, shown)}: silencing each cluster's top neurons",
        alpha=job.settings["alpha"], max_clusters=job.settings["max_clusters"],
        empty=textwrap.fill(f"Ablation skipped: {skipped}.", 60) if skipped else "no clusters")


def mapper_graph(job: Job):
    graph, attrs = _mapper_graph(job.inputs.clusters)
    regression = _regression(job.inputs.activations)
    return cluster_plots.mapper_graph(graph.node_ptr, graph.node_points, graph.edges, graph.node_cluster,
                                      labels_true=store.read_activations(job.inputs.activations).labels,
                                      title=_where(job), seed=int(attrs["seed"]), positions=graph.positions,
                                      **({} if regression is None else regression.points()))


def mapper_page(job: Job, output) -> list[str]:
    """The interactive page of one layer's Mapper graph; returns the scripts it could not inline."""
    graph, _ = _mapper_graph(job.inputs.clusters)
    acts = store.read_activations(job.inputs.activations)
    ranking, _ = _ranking(job)
    return write_mapper_page(output, graph.node_ptr, graph.node_points, graph.edges, acts.labels, acts.predictions,
                             node_cluster=graph.node_cluster, top_neurons=ranking, positions=graph.positions,
                             title=f"{_where(job)}: Mapper graph", top_k=job.settings["top"],
                             **_page_regression(acts))


def graph_file(job: Job, output) -> list[str]:
    """One layer's Mapper graph as GraphML, for networkx, Gephi or Cytoscape."""
    graph, attrs = _mapper_graph(job.inputs.clusters)
    acts = store.read_activations(job.inputs.activations)
    write_graph_file(output, graph.node_ptr, graph.node_points, graph.edges, acts.labels, acts.predictions,
                     node_cluster=graph.node_cluster, positions=graph.positions,
                     # Provenance without the clustering's duration, so that the same run writes the same file.
                     attrs={key: str(value) for key, value in attrs.items() if key != "seconds"})
    return []


# --- images: weights, kernels and channels of the ranked layer -----------------------------------

def neurons(job: Job):
    ranking, shown = _ranking(job)
    layer = store.read_weights(job.inputs.weights)[shown]
    if layer.is_convolution:  # a CNN's first layer: its channels' kernels (input channels, kh, kw)
        return analysis_plots.kernel_images(ranking, layer.unit_weights(), layer.weight.shape[1:],
                                            top_k=job.settings["top"], title=_where(job, shown),
                                            max_clusters=job.settings["max_clusters"])
    weight, shape, _ = _pixel_weights(job, shown)
    return analysis_plots.neuron_weight_images(ranking, weight, shape, top_k=job.settings["top"],
                                               title=_where(job, shown), max_clusters=job.settings["max_clusters"])


def transformed(job: Job):
    ranking, shown = _ranking(job)
    weight, shape, attrs = _pixel_weights(job, shown)
    inputs = _analysed_inputs(job)
    return analysis_plots.transformed_inputs(inputs.x, store.read_clusters(job.inputs.clusters).labels, ranking, weight,
                                             shape, seed=int(attrs["seed"]), top_k=job.settings["top"],
                                             per_cluster=job.settings["per_cluster"], title=_where(job, shown),
                                             max_clusters=job.settings["max_clusters"], scaling=inputs.scaling,
                                             index=inputs.index)


def channels(job: Job):
    ranking, shown = _ranking(job)
    model, settings, attrs = _recorded_network(str(job.inputs.state), str(job.inputs.weights))
    inputs = _analysed_inputs(job)
    acts = store.read_activations(job.inputs.activations)
    labels = store.read_clusters(job.inputs.clusters).labels
    field = receptive_field(settings["convolution"], shown)
    try:
        found = cluster_channels(
            model, inputs.x, inputs.shape, acts.layer(shown), labels, ranking, shown, field,
            top_k=job.settings["top"], per_cluster=job.settings["per_cluster"], seed=int(attrs["seed"]),
            max_clusters=job.settings["max_clusters"], reduction=acts.attrs.get("spatial_reduction", "max"))
    except MapMismatch as error:
        raise store.StoreError(f"{job.inputs.activations} and {job.inputs.state}: {shown}: {error}") from None
    return analysis_plots.channel_responses(inputs.x, inputs.shape, found, top_k=job.settings["top"],
                                            title=_where(job, shown), scaling=inputs.scaling, index=inputs.index,
                                            split=inputs.split)


# --- what the adapters share ---------------------------------------------------------------------

@dataclass(frozen=True)
class Regression:
    """What a regressor's figures colour its analysed points by, in their order."""

    values: np.ndarray  # (N,) each point's target as one number (task.project: the target itself when d = 1)
    errors: np.ndarray  # (N,) the model's squared error on it, per output value (task.point_errors / d)
    name: str  # what ``values`` are (plotting.target_name)

    def targets(self) -> dict:
        """The keywords of a figure coloured by the target alone."""
        return {"targets": self.values, "target": self.name}

    def points(self) -> dict:
        """The keywords of a figure coloured by the target and by the error."""
        return {**self.targets(), "errors": self.errors}


@lru_cache(maxsize=1)
def _regression(activations) -> Regression | None:
    """The targets and errors of a regressor's activations file; None for a classifier's (whose file is
    not read beyond its attributes). Read once per batch job."""
    if tasks.of_attrs(store.read_attrs(activations)) != tasks.REGRESSION:
        return None
    acts = store.read_activations(activations)
    d = acts.targets.shape[1]
    return Regression(tasks.project(acts.targets, acts.levels["projection"]),
                      tasks.point_errors(acts.output, acts.targets) / d, plotting.target_name(acts.levels))


def _page_regression(acts) -> dict:
    """A page's keywords for a regressor's activations (its targets, outputs and level sets); none for a
    classifier's."""
    return {} if acts.targets is None else {"targets": acts.targets, "outputs": acts.output, "levels": acts.levels}


def _ranking(job: Job):
    """The ranking rows of the layer the figure shows (its ``shown`` setting), and that layer's name."""
    ranking = pd.read_csv(job.inputs.ranking)
    shown = job.settings["shown"]
    return ranking[ranking["layer"] == shown], shown


def _where(job: Job, shown: str | None = None) -> str:
    """A figure's title: model, clustered layer and method (and the ranked layer when it differs:
    its neurons, or a convolutional layer's channels)."""
    # A title that names no grid model (an external network) has no convolution.
    units = "channels" if shown and shown in nnconfig.convolutional_layers(job.title.split(" ")[-1]) else "neurons"
    ranked = f", {shown} {units}" if shown and shown != job.layer else ""
    return f"{job.title}, {job.layer}, {job.method}{ranked}"


def _mapper_graph(path) -> tuple[MapperGraph, dict]:
    """The Mapper graph a method stored in its clusters file, and the file's attributes."""
    clusters = store.read_clusters(path)
    if clusters.graph is None:
        raise store.StoreError(f"{path}: {clusters.attrs.get('method')} stored no Mapper graph")
    return MapperGraph(**clusters.graph), clusters.attrs


def _pixel_weights(job: Job, shown: str):
    """The input weights of the shown layer's neurons as images, with one input's (channels, height,
    width): only the first hidden layer's inputs are the image's pixels (the figures that need them
    are drawn for it alone)."""
    weights = store.read_weights(job.inputs.weights)
    attrs = store.read_attrs(job.inputs.weights)
    shape = plotting.input_shape(attrs)
    if shape is None:
        raise store.StoreError(f"{job.inputs.weights}: names no image input shape (input_shape or image_shape), "
                               "so its weights cannot be drawn as images")
    weight = weights[shown].affine()[0]  # batch normalisation's per-neuron scale folded in
    if weight.shape[1] != math.prod(shape):
        raise ValueError(f"{shown}'s inputs are not image pixels: its weights cannot be drawn as images")
    return weight, shape, attrs


@dataclass(frozen=True)
class Inputs:
    """The inputs of the points a model's activations were recorded on, in their order."""

    x: np.ndarray  # (N, C*H*W) as the network reads them
    shape: tuple[int, int, int]  # one input's (channels, height, width)
    scaling: dict  # how x was scaled (plotting.display_images undoes it)
    split: str  # "test" or "train"
    index: np.ndarray  # (N,) each point's index in its split


@lru_cache(maxsize=1)
def _inputs(activations, data_dir, download: bool, data_file) -> Inputs:
    """``Inputs`` of the activations file at ``activations`` (its dataset, split and point_index; files
    from before those were recorded hold every test point); read once per batch job."""
    from nntopo.data.points import of_files

    acts = store.read_activations(activations)
    shape = plotting.input_shape(acts.attrs)
    if shape is None:
        raise store.StoreError(f"{activations}: names no image input shape (input_shape or image_shape): no "
                               "inputs to draw")
    dataset, chosen = of_files(acts.attrs, acts.point_index, data_dir=data_dir, download=download,
                               data_file=data_file)
    if chosen.x.shape[1:] != (math.prod(shape),):
        raise store.StoreError(f"{activations}: input shape {list(shape)} does not fit the {chosen.x.shape[1]} "
                               f"values of dataset {dataset.name}'s inputs")
    return Inputs(chosen.x, shape, dataset.scaling, chosen.split, np.asarray(chosen.index))


def _analysed_inputs(job: Job) -> Inputs:
    data_file = getattr(job.inputs, DATA, None)
    return _inputs(str(job.inputs.activations), job.data_dir, job.download,
                   None if data_file is None else str(data_file))


@lru_cache(maxsize=1)
def _recorded_network(state, weights):
    """The trained network of the job's model (model.pt, rebuilt from the training settings and the
    input shape the weights file records), the settings and the attributes; read once per batch job,
    whose methods' figures all use it."""
    from nntopo.network.model import load

    attrs = store.read_attrs(weights)
    n_classes = len(store.read_weights(weights)[store.OUTPUT_LAYER].bias)
    shape = plotting.input_shape(attrs)
    if shape is None:
        raise store.StoreError(f"{weights}: names no image input shape, so its network cannot be rebuilt")
    settings = json.loads(attrs["config"])
    return load(state, settings, math.prod(shape), n_classes, shape), settings, attrs
