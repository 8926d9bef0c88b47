"""Which figures exist, which recorded files each one reads, and where each lands.

A figure is a ``Spec``: the files it reads (``needs``, named as the rules' inputs), the config keys
it reads (its rerun trigger) and the name of the function in ``nntopo.figures.draw`` that makes it.
Figures come in tables by level: a model's, a layer's, a (layer, method)'s, and a method's across
layers. The Snakemake rules draw one batch of tables per job and take their inputs from the Specs'
``needs``, so `snakemake <figure path>` builds only the files that figure's batch reads.

The Snakefile imports this module to plan every run, so it stays light: it names its drawing
functions instead of importing them (no numpy, matplotlib or torch at import).
"""

from __future__ import annotations

from dataclasses import dataclass

from nntopo import config as nnconfig
from nntopo import models, paths


@dataclass(frozen=True)
class Spec:
    needs: tuple[str, ...]  # the files it reads, named as the rules' inputs
    settings: tuple[str, ...] = ()  # the keys of config.figures_slice it reads (its rerun trigger)
    # The function of nntopo.figures.draw that makes it: draw(job) returns a figure saved as PNG;
    # write(job, output) writes a page or a graph file itself and returns the scripts it could not inline.
    draw: str | None = None
    write: str | None = None
    # Whether it draws the dataset's inputs (at the analysed points its "activations" record): it reads a
    # prepared dataset's data.h5 too, the input "data" (a built-in dataset is loaded by name).
    inputs: bool = False


def _spec(needs, settings=(), draw=None, write=None, inputs=False) -> Spec:
    return Spec(tuple(needs), tuple(settings), draw, write, inputs)


# Per model: its own figures, then per method (or graph method) the figures across its layers.
MODEL_FIGURES = {
    "activations": _spec(["activations"], draw="activations"),
    "weights": _spec(["weights", "metrics"], draw="weights"),
}
FLOW_FIGURES = {"sankey": _spec(["layer_clusters", "activations"], ["max_clusters"], "sankey")}
FLOW_GRAPH_FIGURES = {
    "mapper_layers": _spec(["layer_clusters", "activations"], draw="mapper_layers"),
    "layers_page": _spec(["layer_clusters", "activations"], write="layers_page"),
}
# Per layer: its agreement figure, then per method (or graph method) its clusters' figures.
LAYER_FIGURES = {"agreement": _spec(["agreement"], draw="agreement")}
METHOD_FIGURES = {
    "heatmap": _spec(["ranking", "clusters"], ["top", "max_clusters", "shown"], "heatmap"),
    # activations: a regressor's level sets, targets and errors (a classifier's file is read no further)
    "barplot": _spec(["table", "activations"], ["max_clusters"], "barplot"),
    "manifold": _spec(["clusters", "embedding", "activations"], ["max_clusters"], "manifold"),
    "ablation": _spec(["ablation", "activations"], ["max_clusters", "alpha", "shown"], "ablation"),
}
GRAPH_FIGURES = {
    "mapper_graph": _spec(["clusters", "activations"], draw="mapper_graph"),
    "mapper_page": _spec(["clusters", "activations", "ranking"], ["top", "shown"], write="mapper_page"),
    "graph_file": _spec(["clusters", "activations"], write="graph_file"),
}
# Weight images: where the ranked layer is the first hidden layer, whose inputs are the pixels (an
# MLP's; a CNN's are below). The figures that draw inputs read them at the analysed points the
# activations file records.
IMAGE_FIGURES = {
    "neurons": _spec(["ranking", "weights"], ["top", "max_clusters", "shown"], "neurons"),
    "transformed": _spec(["ranking", "weights", "clusters", "activations"],
                         ["top", "per_cluster", "max_clusters", "shown"], "transformed", inputs=True),
}
# A CNN's: its first layer's filters (per model); where the ranked layer is its first, the top
# channels' kernels, drawn by the same Spec as an MLP's weight images (the input-times-weights view
# has no counterpart for a convolution); and where the ranked layer is convolutional, what the top
# channels respond to.
FILTER_FIGURES = {"filters": _spec(["weights"], draw="filters")}
KERNEL_FIGURES = {"neurons": IMAGE_FIGURES["neurons"]}
CHANNEL_FIGURES = {
    "channels": _spec(["ranking", "clusters", "activations", "weights", "state"],
                      ["top", "per_cluster", "max_clusters", "shown"], "channels", inputs=True),
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
DATA = "data"  # the input that is a prepared dataset's data.h5 (paths.DATA_FILE), for the Specs that draw inputs
METHOD_NEEDS = {"clusters", "ranking", "table", "ablation", "embedding", "layer_clusters"}
SEPARATOR = "__"  # a batch's output and input names: figure__method, need__method


def makes_graph(method: str) -> bool:
    from nntopo.clustering.methods import METHODS  # here: the methods' module loads numpy and scipy

    return method in METHODS and METHODS[method].makes_graph


def shows_pixels(config: dict, dataset: str, model: str, layer: str) -> bool:
    """Whether a (layer, method) figure's ranked layer is the first hidden layer (see IMAGE_FIGURES)
    of a dataset of images (point clouds such as disks have no pixels to draw), in a model of the grid
    (an external network's first layer is not known to read the pixels)."""
    from nntopo.store import hidden_name  # here: the store loads h5py

    return (models.is_grid_model(model) and nnconfig.has_images(config, dataset)
            and nnconfig.ranked_layers(config, model, layer)[-1] == hidden_name(1))


def image_batches(config: dict, dataset: str, model: str, layer: str) -> list[list[dict]]:
    """The image batches drawn for the clusters of ``layer``: an MLP's weight images where it
    ``shows_pixels``; a CNN's kernel images there, and its channels wherever the ranked layer is
    convolutional."""
    if not models.is_grid_model(model):  # no weight images, kernels or channel maps of an external network
        return []
    if not models.ModelId.parse(model).conv:
        return [IMAGE_BATCH] if shows_pixels(config, dataset, model, layer) else []
    convolutional = nnconfig.ranked_layers(config, model, layer)[-1] in nnconfig.convolutional_layers(model)
    return ([KERNEL_BATCH] if shows_pixels(config, dataset, model, layer) else []) + (
        [CHANNEL_BATCH] if convolutional and nnconfig.has_images(config, dataset) else [])


def image_outputs(config: dict, dataset: str, model: str, layer: str) -> list[str]:
    """The image figures of ``layer``'s clusters (every method), as path patterns (``image_batches``)."""
    return [path for tables in image_batches(config, dataset, model, layer)
            for path in batch_outputs(tables, config).values()]


def model_image_outputs(config: dict, dataset: str, model: str) -> list[str]:
    """A model's own image figures: a CNN's first-layer filters; none of an MLP's."""
    if (not models.is_grid_model(model) or not models.ModelId.parse(model).conv
            or not nnconfig.has_images(config, dataset)):
        return []
    return list(batch_outputs(FILTER_BATCH, config).values())


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
    where = {"dataset": dataset, "model": model, **({"layer": layer} if layer else {})}
    inputs = {}
    for name in batch(tables, config):
        spec, _, method = name.partition(SEPARATOR)
        if SPECS[spec].inputs and nnconfig.is_prepared(config, dataset):  # a built-in one is loaded by name
            inputs[DATA] = paths.fill(paths.DATA_FILE, dataset=dataset)
        for need in SPECS[spec].needs:
            if need == "weights" and not nnconfig.has_weights(config, model):
                continue  # an external network given without weights: its figure says so
            if need not in METHOD_NEEDS:
                inputs[need] = paths.fill(INPUT_PATTERNS[need], **where)
            elif need == "layer_clusters":
                inputs[need + SEPARATOR + method] = [
                    paths.fill(INPUT_PATTERNS[need], **where, layer=each, method=method)
                    for each in nnconfig.layers_of(config, model)]
            else:
                shown = embedding_method(config, method) if need == "embedding" else method
                inputs[need + SEPARATOR + method] = paths.fill(INPUT_PATTERNS[need], **where, method=shown)
    return inputs


def settings_of(spec: str, config: dict, model: str | None = None, layer: str | None = None) -> dict:
    """The config slice a Spec reads (its rerun trigger). ``shown``: the ranked layer whose neurons a
    (layer, method) figure shows: the clustered layer's own, or for the output's clusters the deepest
    analysed hidden layer."""
    keys = SPECS[spec].settings
    settings = nnconfig.figures_slice(config, [key for key in keys if key != "shown"])
    if "shown" in keys:
        settings["shown"] = nnconfig.ranked_layers(config, model, layer)[-1]
    return settings


def batch_settings(tables: list[dict], config: dict, model: str | None = None, layer: str | None = None) -> dict:
    """Each output's config slice, by its name in the batch."""
    return {name: settings_of(name.partition(SEPARATOR)[0], config, model, layer) for name in batch(tables, config)}
