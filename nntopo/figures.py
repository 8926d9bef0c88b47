"""The figures stage: which figures exist, which recorded files each one reads, and how each is drawn.

``plots`` draws from arrays; this module reads the workflow's files, calls the right plot and saves
it. The Snakemake rules take each figure's inputs from ``NEEDS``, so a figure asks for exactly the
files it reads and `snakemake <figure path>` builds only those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# The Snakefile imports the tables below, so the drawing libraries are imported inside the functions.


@dataclass(frozen=True)
class Spec:
    needs: tuple[str, ...]  # the files it reads, named as the rules' inputs
    settings: tuple[str, ...] = ()  # the keys of config.figures_slice it reads (its rerun trigger)


MODEL_FIGURES = {
    "activations": Spec(("activations",), ("layer",)),
    "weights": Spec(("weights", "metrics")),
}
METHOD_FIGURES = {
    "heatmap": Spec(("ranking", "clusters"), ("top", "max_clusters")),
    "barplot": Spec(("table",), ("max_clusters",)),
    "manifold": Spec(("clusters", "embedding"), ("max_clusters",)),
    "neurons": Spec(("ranking", "weights"), ("top", "max_clusters", "layer")),
    "transformed": Spec(("ranking", "weights", "clusters"), ("top", "per_cluster", "max_clusters", "layer")),
}
GRAPH_FIGURES = {"mapper_graph": Spec(("clusters", "activations"))}  # for methods that make a graph
MAPPER_PAGE = Spec(("clusters", "activations", "ranking"), ("top",))


def _title(attrs: dict, method: str | None = None) -> str:
    return f"{attrs['dataset']} {attrs['model']}" + (f", {method}" if method else "")


def draw_model_figure(name: str, inputs, output, settings: dict) -> None:
    """A per-model figure: ``activations`` (distributions) or ``weights`` (distributions)."""
    from nntopo import layout, plots

    if name == "activations":
        acts = layout.read_activations(inputs.activations)
        layer = layout.ranked_layer(settings["layer"], len(acts.hidden))
        fig = plots.activation_distributions(acts.layer(layer), acts.output,
                                             title=f"{_title(acts.attrs)}: {layer} and output activations")
    elif name == "weights":
        layers = layout.read_weights(inputs.weights)
        metrics = json.loads(open(inputs.metrics).read())
        fig = plots.weight_distributions({n: l.weight for n, l in layers.items()},
                                         title=f"{_title(layout.read_attrs(inputs.weights))}: weights",
                                         near_zero=metrics["near_zero_threshold"])
    else:
        raise ValueError(f"unknown model figure {name!r}; figures: {', '.join(MODEL_FIGURES)}")
    plots.save(fig, output)


def draw_method_figure(name: str, method: str, inputs, output, settings: dict, *, data_dir=None,
                       download: bool = False) -> None:
    """A per-(model, method) figure; ``transformed`` reads the test images from ``data_dir``."""
    import pandas as pd

    from nntopo import layout, plots

    top, most = settings.get("top"), settings.get("max_clusters")
    if name == "barplot":
        summary = pd.read_csv(inputs.table)
        n = int((summary.cluster >= 0).sum())
        fig = plots.cluster_composition(summary, title=f"{method}: {n} clusters, label composition and accuracy",
                                        max_clusters=most)
        return plots.save(fig, output)
    # Every figure but the barplot reads an HDF5 file whose attributes name the dataset and model.
    title = _title(layout.read_attrs(inputs.weights if name == "neurons" else inputs.clusters), method)
    clusters = layout.read_clusters(inputs.clusters) if name != "neurons" else None
    if name == "heatmap":
        ranking = pd.read_csv(inputs.ranking)
        fig = plots.ranking_heatmap(ranking, clusters.n_clusters, top=top, title=title, max_clusters=most)
    elif name == "manifold":
        shown = layout.read_clusters(inputs.embedding)
        embedding = shown.embedding
        source = shown.attrs["method"]
        if embedding is None:
            raise layout.LayoutError(f"{inputs.embedding}: no embedding to draw the points with")
        fig = plots.cluster_manifold(embedding, clusters.labels, max_clusters=most,
                                     title=f"{title} clusters on the {source} embedding")
    elif name in ("neurons", "transformed"):
        ranking = pd.read_csv(inputs.ranking)
        weights = layout.read_weights(inputs.weights)
        hidden = weights[layout.ranked_layer(settings["layer"], len(weights) - 1)].weight
        image_shape = tuple(layout.read_attrs(inputs.weights)["image_shape"])
        if hidden.shape[1] != image_shape[0] * image_shape[1]:
            raise ValueError(f"{name}: the ranked layer's inputs are not image pixels; use clustering.layer 1")
        if name == "neurons":
            fig = plots.neuron_weight_images(ranking, hidden, image_shape, top=top, title=title, max_clusters=most)
        else:
            from nntopo import data

            images = data.load(clusters.attrs["dataset"], data_dir, download, train=False).x_test
            fig = plots.transformed_inputs(images, clusters.labels, ranking, hidden, image_shape,
                                           seed=int(clusters.attrs["seed"]), top=top,
                                           per_cluster=settings["per_cluster"], title=title, max_clusters=most)
    elif name == "mapper_graph":
        if clusters.graph is None:
            raise layout.LayoutError(f"{inputs.clusters}: {method} stored no Mapper graph")
        acts = layout.read_activations(inputs.activations)
        g = clusters.graph
        fig = plots.mapper_graph(g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"],
                                 labels_true=acts.labels, title=title, seed=int(clusters.attrs["seed"]))
    else:
        raise ValueError(f"unknown figure {name!r}; figures: {', '.join({**METHOD_FIGURES, **GRAPH_FIGURES})}")
    plots.save(fig, output)


def write_mapper_page(method: str, inputs, output, settings: dict) -> list[str]:
    """The interactive KeplerMapper page; returns the scripts it could not inline (see mapper_page)."""
    import pandas as pd

    from nntopo import layout
    from nntopo.mapper_page import write_mapper_page as write_page

    clusters = layout.read_clusters(inputs.clusters)
    if clusters.graph is None:
        raise layout.LayoutError(f"{inputs.clusters}: {method} stored no Mapper graph")
    acts = layout.read_activations(inputs.activations)
    g = clusters.graph
    return write_page(output, g["node_ptr"], g["node_points"], g["edges"], acts.labels, acts.predictions,
                      node_cluster=g["node_cluster"], top_neurons=pd.read_csv(inputs.ranking),
                      title=f"{_title(clusters.attrs, method)}: Mapper graph", n_top=settings["top"])


def summarize(metrics_paths: list[str], cluster_paths: list[str], table_path, figure_path) -> pd.DataFrame:
    """One row per model: accuracy, weight norm and sparsity, and the cluster count of each method."""
    import numpy as np
    import pandas as pd

    from nntopo import layout, plots

    rows = {}
    for path in metrics_paths:
        metrics = json.loads(open(path).read())
        rows[metrics["model"]] = {
            "model": metrics["model"],
            "test_accuracy": metrics["test_accuracy"],
            "weight_l2_norm": metrics["weight_l2_norm"],
            "near_zero_fraction": metrics["near_zero_fraction"],
            "train_seconds": metrics["train_seconds"],
        }
    for path in cluster_paths:
        clusters = layout.read_clusters(path)
        row = rows[clusters.attrs["model"]]
        row[f"n_clusters_{clusters.attrs['method']}"] = clusters.n_clusters
        row[f"unassigned_{clusters.attrs['method']}"] = int(np.sum(clusters.labels < 0))
    table = pd.DataFrame(list(rows.values()))
    with layout.atomic(table_path) as tmp:
        table.to_csv(tmp, index=False)
    dataset = layout.read_attrs(cluster_paths[0])["dataset"] if cluster_paths else ""
    plots.save(plots.grid_summary(table[[c for c in table.columns if not c.startswith("unassigned_")]],
                                  title=f"{dataset}: the grid of models"), figure_path)
    return table
