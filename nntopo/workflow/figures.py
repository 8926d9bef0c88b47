"""The figures stage: which figures exist, which recorded files each one reads, and how each is drawn.

Each stage's ``plots`` module draws from arrays; this module reads the workflow's files, calls the
right plot and saves it. A figure is a ``Spec``: the files it reads (``needs``, named as the rules'
inputs), the config keys it reads (its rerun trigger) and the function that draws it. Figures come
in tables by level: a model's, a layer's, a (layer, method)'s, and a method's across layers. The
Snakemake rules draw one table's figures per job and take their inputs from the Specs' ``needs``,
so `snakemake <figure path>` builds only the files that figure's batch reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Callable

from nntopo import models, paths

# The Snakefile imports the tables below, so the drawing libraries are imported inside the functions.


@dataclass(frozen=True)
class Spec:
    needs: tuple[str, ...]  # the files it reads, named as the rules' inputs
    settings: tuple[str, ...] = ()  # the keys of config.figures_slice it reads (its rerun trigger)
    write: Callable | None = field(default=None, compare=False)  # write(job, output) -> scripts not inlined


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


# --- what each figure shows ----------------------------------------------------------------------

def _activations(job: Job):
    from nntopo import store
    from nntopo.network import plots

    acts = store.read_activations(job.inputs.activations)
    last = store.hidden_name(len(acts.hidden))
    return plots.activation_distributions(acts.layer(last), acts.output, title=f"{job.title}: {last} and output activations")


def _weights(job: Job):
    from nntopo import store
    from nntopo.network import plots

    if job.inputs.weights is None:  # an external network given without its weights
        from nntopo import plotting

        fig = plotting.new_figure(7, 2.2)
        plotting.no_data(fig.subplots(), "No weights were given for this network (its entry's weight_modules,\nor "
                                         "weights beside recorded activations), so none are drawn.")
        fig.suptitle(f"{job.title}: weights")
        return fig
    layers = store.read_weights(job.inputs.weights)
    metrics = store.read_metrics(job.inputs.metrics)
    return plots.weight_distributions({n: l.weight for n, l in layers.items()}, title=f"{job.title}: weights",
                                      near_zero=metrics["near_zero_threshold"])


def _agreement(job: Job):
    import pandas as pd

    from nntopo.analysis import plots
    from nntopo.analysis.agreement import agreement_matrix

    table = pd.read_csv(job.inputs.agreement)
    pairs, purity = table[table.method_a != table.method_b], table[table.method_a == table.method_b]
    return plots.agreement_heatmap(agreement_matrix(pairs, order=list(purity.method_a)),
                                   purity.set_index("method_a")["purity"],
                                   title=f"{job.title}, {job.layer}: agreement between clusterings")


def _ranking(job: Job):
    """The ranking rows of the layer the figure shows (its ``shown`` setting), and that layer's name."""
    import pandas as pd

    ranking = pd.read_csv(job.inputs.ranking)
    shown = job.settings["shown"]
    return ranking[ranking["layer"] == shown], shown


def _where(job: Job, shown: str | None = None) -> str:
    """A figure's title: model, clustered layer and method (and the ranked layer when it differs:
    its neurons, or a convolutional layer's channels)."""
    units = "channels" if shown and _convolutional(job, shown) else "neurons"
    ranked = f", {shown} {units}" if shown and shown != job.layer else ""
    return f"{job.title}, {job.layer}, {job.method}{ranked}"


def _convolutional(job: Job, layer: str) -> bool:
    """Whether ``layer`` of the job's model (its title's "dataset model") is a convolution (none is of a
    title that names no grid model)."""
    from nntopo.config import convolutional_layers

    return layer in convolutional_layers(job.title.split(" ")[-1])


def _heatmap(job: Job):
    from nntopo import store
    from nntopo.analysis import plots

    ranking, shown = _ranking(job)
    clusters = store.read_clusters(job.inputs.clusters)
    return plots.ranking_heatmap(ranking, clusters.n_clusters, top=job.settings["top"], title=_where(job, shown),
                                 max_clusters=job.settings["max_clusters"])


def _barplot(job: Job):
    import pandas as pd

    from nntopo.clustering import plots

    summary = pd.read_csv(job.inputs.table)
    n = int((summary.cluster >= 0).sum())
    return plots.cluster_composition(summary, title=f"{_where(job)}: {n} clusters, label composition and accuracy",
                                     max_clusters=job.settings["max_clusters"])


def _manifold(job: Job):
    from nntopo import store
    from nntopo.clustering import plots

    shown = store.read_clusters(job.inputs.embedding)
    if shown.embedding is None:
        raise store.StoreError(f"{job.inputs.embedding}: no embedding to draw the points with")
    return plots.cluster_manifold(shown.embedding, store.read_clusters(job.inputs.clusters).labels,
                                  max_clusters=job.settings["max_clusters"],
                                  title=f"{_where(job)} clusters on the {shown.attrs['method']} embedding")


def _ablation(job: Job):
    import pandas as pd

    from nntopo.analysis import plots

    import textwrap

    from nntopo import store

    table = pd.read_csv(job.inputs.ablation)
    shown = job.settings["shown"]
    skipped = store.read_attrs(job.inputs.activations).get("no_network")  # recorded activations alone
    return plots.ablation_effects(table[table["layer"] == shown], title=f"{_where(job, shown)}: silencing each "
                                  "cluster's top neurons", alpha=job.settings["alpha"],
                                  max_clusters=job.settings["max_clusters"],
                                  empty=textwrap.fill(f"Ablation skipped: {skipped}.", 60) if skipped else "no clusters")


def _pixel_weights(job: Job, shown: str):
    """The input weights of the shown layer's neurons as images: only the first hidden layer's
    inputs are the image's pixels (the figures that need them are drawn for it alone)."""
    from nntopo import store

    weights = store.read_weights(job.inputs.weights)
    attrs = store.read_attrs(job.inputs.weights)
    image_shape = tuple(attrs["image_shape"])
    weight = weights[shown].affine()[0]  # batch normalisation's per-neuron scale folded in
    if weight.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(f"{shown}'s inputs are not image pixels: its weights cannot be drawn as images")
    return weight, image_shape, attrs


def _neurons(job: Job):
    from nntopo import store
    from nntopo.analysis import channel_plots, plots

    ranking, shown = _ranking(job)
    layer = store.read_weights(job.inputs.weights)[shown]
    if layer.is_convolution:  # a CNN's first layer: its channels' kernels, in the kernel shape of the file
        if layer.weight.shape[1] != 1:
            raise ValueError(f"{shown} reads {layer.weight.shape[1]} channels, not the image's pixels: its kernels "
                             "cannot be drawn as images")
        return channel_plots.kernel_images(ranking, layer.unit_weights(), layer.kernel_shape, top=job.settings["top"],
                                           title=_where(job, shown), max_clusters=job.settings["max_clusters"])
    weight, image_shape, _ = _pixel_weights(job, shown)
    return plots.neuron_weight_images(ranking, weight, image_shape, top=job.settings["top"], title=_where(job, shown),
                                      max_clusters=job.settings["max_clusters"])


def _transformed(job: Job):
    from nntopo import data, store
    from nntopo.analysis import plots

    ranking, shown = _ranking(job)
    weight, image_shape, attrs = _pixel_weights(job, shown)
    images = data.load(attrs["dataset"], job.data_dir, job.download, train=False).x_test
    return plots.transformed_inputs(images, store.read_clusters(job.inputs.clusters).labels, ranking, weight,
                                    image_shape, seed=int(attrs["seed"]), top=job.settings["top"],
                                    per_cluster=job.settings["per_cluster"], title=_where(job, shown),
                                    max_clusters=job.settings["max_clusters"])


def _network(job: Job):
    """The trained network of the job's model (model.pt, rebuilt from the training settings the
    weights file records), its test images (N, H*W), their shape, the settings and the attributes;
    read once per batch job, whose methods' figures all use them."""
    return _recorded_network(str(job.inputs.state), str(job.inputs.weights), job.data_dir, job.download)


@lru_cache(maxsize=1)
def _recorded_network(state, weights, data_dir, download: bool):
    from nntopo import store
    from nntopo.network.stage import recorded_network

    attrs = store.read_attrs(weights)
    n_classes = len(store.read_weights(weights)[store.OUTPUT_LAYER].bias)
    model, images = recorded_network(state, attrs, n_classes, data_dir=data_dir, download=download)
    return model, images, tuple(int(s) for s in attrs["image_shape"]), json.loads(attrs["config"]), attrs


def _filters(job: Job):
    from nntopo import store
    from nntopo.analysis import channel_plots

    first = store.read_weights(job.inputs.weights)[store.hidden_name(1)]
    if not first.is_convolution:
        raise store.StoreError(f"{job.inputs.weights}: hidden_1 is not a convolution, so it has no filters to draw")
    return channel_plots.filters(first.affine()[0], title=job.title)


def _channels(job: Job):
    from nntopo import store
    from nntopo.analysis import channel_plots, channels

    ranking, shown = _ranking(job)
    model, images, image_shape, settings, attrs = _network(job)
    acts = store.read_activations(job.inputs.activations)
    labels = store.read_clusters(job.inputs.clusters).labels
    field = channels.receptive_field(settings["convolution"], shown)
    try:
        found = channels.cluster_channels(
            model, images, image_shape, acts.layer(shown), labels, ranking, shown, field, top=job.settings["top"],
            per_cluster=job.settings["per_cluster"], seed=int(attrs["seed"]),
            max_clusters=job.settings["max_clusters"], reduction=acts.attrs.get("spatial_reduction", "max"))
    except channels.MapMismatch as error:
        raise store.StoreError(f"{job.inputs.activations} and {job.inputs.state}: {shown}: {error}") from None
    return channel_plots.channel_responses(images, image_shape, found, top=job.settings["top"],
                                           title=_where(job, shown))


def _graph_of(path):
    from nntopo import store

    clusters = store.read_clusters(path)
    if clusters.graph is None:
        raise store.StoreError(f"{path}: {clusters.attrs.get('method')} stored no Mapper graph")
    return clusters


def _mapper_graph(job: Job):
    from nntopo import store
    from nntopo.clustering import plots

    clusters = _graph_of(job.inputs.clusters)
    g = clusters.graph
    return plots.mapper_graph(g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"],
                              labels_true=store.read_activations(job.inputs.activations).labels, title=_where(job),
                              seed=int(clusters.attrs["seed"]), positions=g.get("positions"))


def _layer_labelings(job: Job) -> dict:
    """Layer name -> cluster labels of the method, for every analysed layer in depth order."""
    from nntopo import store

    labelings = {}
    for path in job.inputs.layer_clusters:
        clusters = store.read_clusters(path)
        labelings[clusters.attrs["space"]] = clusters.labels
    return labelings


def _sankey(job: Job):
    from nntopo import store
    from nntopo.analysis import plots

    return plots.layer_sankey(_layer_labelings(job), store.read_activations(job.inputs.activations).labels,
                              title=f"{job.title}, {job.method}",
                              max_clusters=job.settings["max_clusters"])


def _mapper_layers(job: Job):
    from nntopo import store
    from nntopo.clustering import plots

    graphs = []
    for path in job.inputs.layer_clusters:
        clusters = _graph_of(path)
        g = clusters.graph
        graphs.append((clusters.attrs["space"], g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"],
                       g.get("positions")))
    return plots.mapper_graphs_by_layer(graphs, store.read_activations(job.inputs.activations).labels,
                                        title=f"{job.title}, {job.method}", seed=int(clusters.attrs["seed"]),
                                        max_cols=5)


# --- pages and graph files ------------------------------------------------------------------------

def _mapper_page(job: Job, output) -> list[str]:
    """The interactive page of one layer's Mapper graph; returns the scripts it could not inline."""
    import pandas as pd

    from nntopo import store
    from nntopo.clustering.mapper_page import write_mapper_page

    clusters = _graph_of(job.inputs.clusters)
    acts = store.read_activations(job.inputs.activations)
    g = clusters.graph
    ranking, _ = _ranking(job)
    return write_mapper_page(output, g["node_ptr"], g["node_points"], g["edges"], acts.labels, acts.predictions,
                             node_cluster=g["node_cluster"], top_neurons=ranking, positions=g.get("positions"),
                             title=f"{_where(job)}: Mapper graph", n_top=job.settings["top"])


def _graph_file(job: Job, output) -> list[str]:
    """One layer's Mapper graph as GraphML, for networkx, Gephi or Cytoscape."""
    from nntopo import store
    from nntopo.clustering.graph import write_graph_file

    clusters = _graph_of(job.inputs.clusters)
    acts = store.read_activations(job.inputs.activations)
    g = clusters.graph
    write_graph_file(output, g["node_ptr"], g["node_points"], g["edges"], acts.labels, acts.predictions,
                     node_cluster=g["node_cluster"], positions=g.get("positions"),
                     # Provenance without the clustering's duration, so that the same run writes the same file.
                     attrs={key: str(value) for key, value in clusters.attrs.items() if key != "seconds"})
    return []


def _layers_page(job: Job, output) -> list[str]:
    """A model's Mapper graphs of every analysed layer in one page, with a layer picker."""
    from nntopo import store
    from nntopo.clustering.mapper_page import write_layers_page

    acts = store.read_activations(job.inputs.activations)
    layers = []
    for path in job.inputs.layer_clusters:
        clusters = _graph_of(path)
        layers.append({"name": clusters.attrs["space"], **clusters.graph})
    output_clusters = store.read_clusters(job.inputs.layer_clusters[-1]).labels
    return write_layers_page(output, layers, acts.labels, acts.predictions, output_clusters=output_clusters,
                             title=f"{job.title}, {job.method}: the Mapper graph of every layer")


def _saved(draw):
    """A figure's writer: draw it, save it as a PNG."""
    def write(job: Job, output) -> list[str]:
        from nntopo import plotting

        plotting.save(draw(job), output)
        return []

    return write


# --- the tables: what each job of a level writes -------------------------------------------------
# A Spec's ``write(job, output)`` writes one file and returns the scripts a page could not inline.

def _spec(needs, settings=(), draw=None, write=None) -> "Spec":
    return Spec(tuple(needs), tuple(settings), write or _saved(draw))


# Per model: its own figures, then per method (or graph method) the figures across its layers.
MODEL_FIGURES = {
    "activations": _spec(["activations"], draw=_activations),
    "weights": _spec(["weights", "metrics"], draw=_weights),
}
FLOW_FIGURES = {"sankey": _spec(["layer_clusters", "activations"], ["max_clusters"], _sankey)}
FLOW_GRAPH_FIGURES = {
    "mapper_layers": _spec(["layer_clusters", "activations"], draw=_mapper_layers),
    "layers_page": _spec(["layer_clusters", "activations"], write=_layers_page),
}
# Per layer: its agreement figure, then per method (or graph method) its clusters' figures.
LAYER_FIGURES = {"agreement": _spec(["agreement"], draw=_agreement)}
METHOD_FIGURES = {
    "heatmap": _spec(["ranking", "clusters"], ["top", "max_clusters", "shown"], _heatmap),
    "barplot": _spec(["table"], ["max_clusters"], _barplot),
    "manifold": _spec(["clusters", "embedding"], ["max_clusters"], _manifold),
    "ablation": _spec(["ablation", "activations"], ["max_clusters", "alpha", "shown"], _ablation),
}
GRAPH_FIGURES = {
    "mapper_graph": _spec(["clusters", "activations"], draw=_mapper_graph),
    "mapper_page": _spec(["clusters", "activations", "ranking"], ["top", "shown"], write=_mapper_page),
    "graph_file": _spec(["clusters", "activations"], write=_graph_file),
}
# Weight images: where the ranked layer is the first hidden layer, whose inputs are the pixels (an
# MLP's; a CNN's are below).
IMAGE_FIGURES = {
    "neurons": _spec(["ranking", "weights"], ["top", "max_clusters", "shown"], _neurons),
    "transformed": _spec(["ranking", "weights", "clusters"], ["top", "per_cluster", "max_clusters", "shown"],
                         _transformed),
}
# A CNN's: its first layer's filters (per model); where the ranked layer is its first, the top
# channels' kernels, drawn by the same Spec as an MLP's weight images (the input-times-weights view
# has no counterpart for a convolution); and where the ranked layer is convolutional, what the top
# channels respond to.
FILTER_FIGURES = {"filters": _spec(["weights"], draw=_filters)}
KERNEL_FIGURES = {"neurons": IMAGE_FIGURES["neurons"]}
CHANNEL_FIGURES = {
    "channels": _spec(["ranking", "clusters", "activations", "weights", "state"],
                      ["top", "per_cluster", "max_clusters", "shown"], _channels),
}
# The batches the figure rules write, one job each: a model's, a layer's, a layer's weight images;
# a CNN's filters, its first layer's kernel images, a convolutional layer's channels.
MODEL_BATCH = [MODEL_FIGURES, FLOW_FIGURES, FLOW_GRAPH_FIGURES]
LAYER_BATCH = [LAYER_FIGURES, METHOD_FIGURES, GRAPH_FIGURES]
IMAGE_BATCH = [IMAGE_FIGURES]
FILTER_BATCH = [FILTER_FIGURES]
KERNEL_BATCH = [KERNEL_FIGURES]
CHANNEL_BATCH = [CHANNEL_FIGURES]
SPECS = {**MODEL_FIGURES, **FLOW_FIGURES, **FLOW_GRAPH_FIGURES, **LAYER_FIGURES, **METHOD_FIGURES, **GRAPH_FIGURES,
         **IMAGE_FIGURES, **FILTER_FIGURES, **CHANNEL_FIGURES}
PER_METHOD = {**FLOW_FIGURES, **FLOW_GRAPH_FIGURES, **METHOD_FIGURES, **GRAPH_FIGURES, **IMAGE_FIGURES,
              **CHANNEL_FIGURES}
# The model ids of each kind, for the rules whose outputs are drawn for one kind alone.
MLP_ID_REGEX = "(?=mlp)" + models.MODEL_ID_REGEX
CNN_ID_REGEX = "(?=cnn)" + models.MODEL_ID_REGEX

# Where each output of a table lies (the patterns' {figure} is the Spec's name).
FILE_PATTERNS = {"mapper_page": paths.MAPPER_PAGE, "graph_file": paths.MAPPER_GRAPH_FILE,
                 "layers_page": paths.LAYERS_PAGE}
LEVEL_PATTERNS = {"model": paths.MODEL_FIGURE, "flow": paths.FLOW_FIGURE, "layer": paths.LAYER_FIGURE,
                  "method": paths.METHOD_FIGURE}
TABLE_LEVELS = [(MODEL_FIGURES, "model"), (FLOW_FIGURES, "flow"), (FLOW_GRAPH_FIGURES, "flow"),
                (LAYER_FIGURES, "layer"), (METHOD_FIGURES, "method"), (GRAPH_FIGURES, "method"),
                (IMAGE_FIGURES, "method"), (FILTER_FIGURES, "model"), (CHANNEL_FIGURES, "method")]


def output_pattern(name: str) -> str:
    """The path pattern of the output a Spec named ``name`` writes."""
    if name in FILE_PATTERNS:
        return FILE_PATTERNS[name]
    level = next(level for table, level in TABLE_LEVELS if name in table)
    return paths.fill(LEVEL_PATTERNS[level], figure=name)


# The files a Spec can read, by the names its ``needs`` use; "embedding" is the clusters file of the
# method whose 2-D embedding shows the points (embedding_method); "layer_clusters" the method's
# clusters of every analysed layer, in depth order.
INPUT_PATTERNS = {
    "activations": paths.ACTIVATIONS,
    "weights": paths.WEIGHTS,
    "metrics": paths.METRICS,
    "agreement": paths.AGREEMENT,
    "clusters": paths.CLUSTERS,
    "ranking": paths.RANKING,
    "table": paths.CLUSTER_TABLE,
    "ablation": paths.ABLATION,
    "embedding": paths.CLUSTERS,
    "layer_clusters": paths.CLUSTERS,
    "state": paths.MODEL_STATE,
}
METHOD_NEEDS = {"clusters", "ranking", "table", "ablation", "embedding", "layer_clusters"}
SEPARATOR = "__"  # a batch's output and input names: figure__method, need__method


def makes_graph(method: str) -> bool:
    from nntopo.clustering.methods import METHODS

    return method in METHODS and METHODS[method].makes_graph


def shows_pixels(config: dict, dataset: str, model: str, layer: str) -> bool:
    """Whether a (layer, method) figure's ranked layer is the first hidden layer (see IMAGE_FIGURES)
    of a dataset of images (point clouds such as disks have no pixels to draw), in a model of the grid
    (an external network's first layer is not known to read the pixels)."""
    from nntopo.config import SHAPES, ranked_layers
    from nntopo.store import hidden_name

    return (models.is_grid_model(model) and dataset not in SHAPES
            and ranked_layers(config, model, layer)[-1] == hidden_name(1))


def image_batches(config: dict, dataset: str, model: str, layer: str) -> list[list[dict]]:
    """The image batches drawn for the clusters of ``layer``: an MLP's weight images where it
    ``shows_pixels``; a CNN's kernel images there, and its channels wherever the ranked layer is
    convolutional."""
    from nntopo.config import convolutional_layers, ranked_layers

    if not models.is_grid_model(model):  # no weight images, kernels or channel maps of an external network
        return []
    if not models.ModelId.parse(model).conv:
        return [IMAGE_BATCH] if shows_pixels(config, dataset, model, layer) else []
    convolutional = ranked_layers(config, model, layer)[-1] in convolutional_layers(model)
    return ([KERNEL_BATCH] if shows_pixels(config, dataset, model, layer) else []) + (
        [CHANNEL_BATCH] if convolutional and _has_images(dataset) else [])


def image_outputs(config: dict, dataset: str, model: str, layer: str) -> list[str]:
    """The image figures of ``layer``'s clusters (every method), as path patterns (``image_batches``)."""
    return [path for tables in image_batches(config, dataset, model, layer)
            for path in batch_outputs(tables, config).values()]


def model_image_outputs(config: dict, dataset: str, model: str) -> list[str]:
    """A model's own image figures: a CNN's first-layer filters; none of an MLP's."""
    if not models.is_grid_model(model) or not models.ModelId.parse(model).conv or not _has_images(dataset):
        return []
    return list(batch_outputs(FILTER_BATCH, config).values())


def _has_images(dataset: str) -> bool:
    from nntopo.config import SHAPES

    return dataset not in SHAPES


def embedding_method(config: dict, method: str) -> str:
    """Whose 2-D embedding shows a method's clusters: its own, else figures.embedding's."""
    from nntopo.clustering.methods import METHODS

    return method if METHODS[method].embeds else config["figures"]["embedding"]


def batch(tables: list[dict], config: dict) -> list[str]:
    """The outputs of a job that writes ``tables``: a table's names, per method where it is per method
    (graph methods alone for the graph tables)."""
    methods = config["clustering"]["methods"]
    names = []
    for table in tables:
        for name in table:
            if name not in PER_METHOD:
                names.append(name)
                continue
            graph_only = name in {**FLOW_GRAPH_FIGURES, **GRAPH_FIGURES}
            names += [f"{name}{SEPARATOR}{m}" for m in methods if makes_graph(m) or not graph_only]
    return names


def batch_outputs(tables: list[dict], config: dict) -> dict[str, str]:
    """A batch's outputs, name -> path pattern (with the method filled in)."""
    outputs = {}
    for name in batch(tables, config):
        spec, _, method = name.partition(SEPARATOR)
        outputs[name] = paths.fill(output_pattern(spec), **({"method": method} if method else {}))
    return outputs


def batch_inputs(tables: list[dict], config: dict, dataset: str, model: str, layer: str | None = None) -> dict:
    """The files a batch reads, by its Specs' needs (``need__method`` for the files of one method)."""
    from nntopo.config import has_weights, layers_of

    where = {"dataset": dataset, "model": model, **({"layer": layer} if layer else {})}
    inputs = {}
    for name in batch(tables, config):
        spec, _, method = name.partition(SEPARATOR)
        for need in SPECS[spec].needs:
            if need == "weights" and not has_weights(config, model):
                continue  # an external network given without weights: its figure says so
            if need not in METHOD_NEEDS:
                inputs[need] = paths.fill(INPUT_PATTERNS[need], **where)
            elif need == "layer_clusters":
                inputs[need + SEPARATOR + method] = [paths.fill(INPUT_PATTERNS[need], **where, layer=name_, method=method)
                                                     for name_ in layers_of(config, model)]
            else:
                shown = embedding_method(config, method) if need == "embedding" else method
                inputs[need + SEPARATOR + method] = paths.fill(INPUT_PATTERNS[need], **where, method=shown)
    return inputs


def settings_of(spec: str, config: dict, model: str | None = None, layer: str | None = None) -> dict:
    """The config slice a Spec reads (its rerun trigger). ``shown``: the ranked layer whose neurons a
    (layer, method) figure shows: the clustered layer's own, or for the output's clusters the deepest
    analysed hidden layer."""
    from nntopo.config import figures_slice, ranked_layers

    keys = SPECS[spec].settings
    settings = figures_slice(config, [key for key in keys if key != "shown"])
    if "shown" in keys:
        settings["shown"] = ranked_layers(config, model, layer)[-1]
    return settings


def batch_settings(tables: list[dict], config: dict, model: str | None = None, layer: str | None = None) -> dict:
    """Each output's config slice, by its name in the batch."""
    return {name: settings_of(name.partition(SEPARATOR)[0], config, model, layer) for name in batch(tables, config)}


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
        job = Job(SimpleNamespace(**own), settings[name], f"{dataset} {model}", layer, method or None, data_dir,
                  download)
        missing += SPECS[spec].write(job, output)
    return sorted(set(missing))


def draw_figure(name: str, inputs: dict, output, settings: dict, dataset: str, model: str, layer: str | None = None,
                method: str | None = None, **kwargs) -> list[str]:
    """One output, its inputs given as a plain dict of paths by need (for tests and the benchmark's reference)."""
    job = Job(SimpleNamespace(**inputs), settings, f"{dataset} {model}", layer, method, kwargs.get("data_dir"),
              kwargs.get("download", False))
    return SPECS[name].write(job, output)


def summarize(inputs, outputs, settings: dict) -> None:
    """The grid at a glance, one row per model (``outputs.table`` and ``outputs.figure``): accuracy,
    weight norm and sparsity, mean normalised neural persistence (trained, initial, shuffled), the share of silent activations in its last hidden layer, and per method
    (on the output's clusters) the cluster count, the points in no cluster, the ranking's sharpness
    (the mean share of a cluster's points having each of its top-k neurons) and the share of clusters
    hurt more by their top-k neurons than by random ones. ``outputs.ablation`` and
    ``outputs.agreement`` gather the per-model tables; ``outputs.layers`` the flow and the linear
    probe of every model, layer and method, drawn against depth in ``outputs.depth`` (one per method).
    """
    import pandas as pd

    from nntopo import plotting, store
    from nntopo.analysis import plots as analysis_plots
    from nntopo.analysis.ablation import summarize_ablation

    rows = {}
    for path in inputs.metrics:
        metrics = store.read_metrics(path, neural_persistence=True)
        # An external network has no training (nor initial weights), and NP only when its weights are given.
        persistence = metrics["neural_persistence"] or {}
        nan = {"mean_normalized": float("nan"), "shuffled_mean_normalized": float("nan")}
        rows[metrics["model"]] = {
            **{key: metrics.get(key, float("nan")) for key in ("model", "test_accuracy", "weight_l2_norm",
                                                               "near_zero_fraction", "train_seconds")},
            "mean_normalized_np": persistence.get("final", nan)["mean_normalized"],
            "mean_normalized_np_initial": persistence.get("initial", nan)["mean_normalized"],
            "mean_normalized_np_shuffled": persistence.get("final", nan)["shuffled_mean_normalized"],
        }
    for path in inputs.activations:
        acts = store.read_activations(path)
        rows[acts.attrs["model"]]["silent_activations"] = float((acts.hidden[-1] <= 0).mean())
    ablations = []
    for clusters_path, ranking_path, ablation_path in zip(inputs.clusters, inputs.rankings, inputs.ablations):
        clusters = store.read_clusters(clusters_path)
        model, method = clusters.attrs["model"], clusters.attrs["method"]
        ranking = pd.read_csv(ranking_path)
        for layer, table in pd.read_csv(ablation_path).groupby("layer", sort=False):
            ablations.append({"model": model, "method": method, "space": clusters.attrs["space"], "layer": layer,
                              **summarize_ablation(table, alpha=settings["alpha"])})
        if clusters.attrs["space"] != store.OUTPUT_LAYER:
            continue
        shown = ranking[ranking["layer"] == ranking["layer"].iloc[-1]] if len(ranking) else ranking
        rows[model].update({
            f"n_clusters_{method}": clusters.n_clusters,
            f"unassigned_{method}": int((clusters.labels < 0).sum()),
            f"sharpness_{method}": float(shown[shown["rank"] <= settings["top_k"]]["fraction"].mean()),
            f"ablation_hurt_share_{method}": ablations[-1]["share_hurt_more_than_random"],
        })
    agreements = pd.concat([pd.read_csv(path) for path in inputs.agreements], ignore_index=True)
    probes = pd.concat([pd.read_csv(path) for path in inputs.probes], ignore_index=True)
    flows = pd.concat([pd.read_csv(path) for path in inputs.flows], ignore_index=True)
    layers = flows.merge(probes[["model", "layer", "probe_accuracy", "probe_train_accuracy"]], on=["model", "layer"],
                         how="left")
    table = pd.DataFrame(list(rows.values()))
    for path, frame in ((outputs.table, table), (outputs.ablation, pd.DataFrame(ablations)),
                        (outputs.agreement, agreements), (outputs.layers, layers)):
        with store.atomic(path) as tmp:
            frame.to_csv(tmp, index=False)
    shown = ["model", "test_accuracy", "weight_l2_norm", "near_zero_fraction"] + [
        c for c in table.columns if c.startswith("n_clusters_")]
    plotting.save(analysis_plots.grid_summary(table[shown], title=f"{settings['dataset']}: the models"),
                  outputs.figure)
    for method, path in zip(settings["methods"], outputs.depth):
        plotting.save(analysis_plots.depth_profile(layers[layers["method"] == method],
                                                   title=f"{settings['dataset']}, {method}: from layer to layer"), path)
