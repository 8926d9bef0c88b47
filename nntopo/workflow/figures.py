"""The figures stage: which figures exist, which recorded files each one reads, and how each is drawn.

``plots`` draws from arrays; this module reads the workflow's files, calls the right plot and saves
it. The Snakemake rules draw one table's figures per job and take their inputs from the Specs' ``needs``,
so `snakemake <figure path>` builds only the files that figure's batch reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nntopo import paths

# The Snakefile imports the tables below, so the drawing libraries are imported inside the functions.


@dataclass(frozen=True)
class Spec:
    needs: tuple[str, ...]  # the files it reads, named as the rules' inputs
    settings: tuple[str, ...] = ()  # the keys of config.figures_slice it reads (its rerun trigger)


MODEL_FIGURES = {
    "activations": Spec(("activations",), ("layer",)),
    "weights": Spec(("weights", "metrics")),
    "agreement": Spec(("agreement",)),
}
METHOD_FIGURES = {
    "heatmap": Spec(("ranking", "clusters"), ("top", "max_clusters")),
    "barplot": Spec(("table",), ("max_clusters",)),
    "manifold": Spec(("clusters", "embedding"), ("max_clusters",)),
    "neurons": Spec(("ranking", "weights"), ("top", "max_clusters", "layer")),
    "transformed": Spec(("ranking", "weights", "clusters"), ("top", "per_cluster", "max_clusters", "layer")),
    "ablation": Spec(("ablation",), ("max_clusters", "alpha")),
}
GRAPH_FIGURES = {"mapper_graph": Spec(("clusters", "activations"))}  # for methods that make a graph
MAPPER_PAGE = Spec(("clusters", "activations", "ranking"), ("top",))

# The files a figure can read, by the names its Spec uses; "embedding" is the clusters file of the
# method whose 2-D embedding shows the points (embedding_method).
INPUT_PATTERNS = {
    "activations": paths.ACTIVATIONS,
    "weights": paths.WEIGHTS,
    "metrics": paths.METRICS,
    "clusters": paths.CLUSTERS,
    "ranking": paths.RANKING,
    "table": paths.CLUSTER_TABLE,
    "ablation": paths.ABLATION,
    "agreement": paths.AGREEMENT,
    "embedding": paths.CLUSTERS,
}


def figures_of(method: str) -> dict[str, Spec]:
    """The figures drawn for a clustering method: the common ones, and the graph's if it makes one."""
    from nntopo.clustering.methods import METHODS

    graph = METHODS[method].makes_graph if method in METHODS else False
    return {**METHOD_FIGURES, **(GRAPH_FIGURES if graph else {})}


def embedding_method(config: dict, method: str) -> str:
    """Whose 2-D embedding shows a method's clusters: its own, else figures.embedding's."""
    from nntopo.clustering.methods import METHODS

    return method if METHODS[method].embeds else config["figures"]["embedding"]


def figure_inputs(table: dict[str, Spec], config: dict, dataset: str, model: str, method: str | None = None) -> dict:
    """The files the figures of ``table`` read, for one model (and method), by their Spec names."""
    where = {"dataset": dataset, "model": model, **({"method": method} if method else {})}
    inputs = {}
    for need in sorted({need for spec in table.values() for need in spec.needs}):
        shown = {"method": embedding_method(config, method)} if need == "embedding" else {}
        inputs[need] = paths.fill(INPUT_PATTERNS[need], **{**where, **shown})
    return inputs


def draw_model_figure(name: str, model: str, inputs, output, settings: dict) -> None:
    """A per-model figure; ``model`` ("dataset model id") titles it."""
    import pandas as pd

    from nntopo import layout
    from nntopo.analysis import plots as analysis_plots
    from nntopo.clustering import plots as clustering_plots
    from nntopo.network import plots as network_plots
    from nntopo import plotting

    if name == "activations":
        acts = layout.read_activations(inputs.activations)
        layer = layout.ranked_layer(settings["layer"], len(acts.hidden))
        fig = network_plots.activation_distributions(acts.layer(layer), acts.output,
                                             title=f"{model}: {layer} and output activations")
    elif name == "weights":
        layers = layout.read_weights(inputs.weights)
        metrics = json.loads(open(inputs.metrics).read())
        fig = network_plots.weight_distributions({n: l.weight for n, l in layers.items()}, title=f"{model}: weights",
                                         near_zero=metrics["near_zero_threshold"])
    elif name == "agreement":
        from nntopo.analysis.agreement import agreement_matrix

        table = pd.read_csv(inputs.agreement)
        pairs, purity = table[table.method_a != table.method_b], table[table.method_a == table.method_b]
        fig = analysis_plots.agreement_heatmap(agreement_matrix(pairs, order=list(purity.method_a)),
                                      purity.set_index("method_a")["purity"],
                                      title=f"{model}: agreement between clusterings")
    else:
        raise ValueError(f"unknown model figure {name!r}; figures: {', '.join(MODEL_FIGURES)}")
    plotting.save(fig, output)


def draw_method_figure(name: str, model: str, method: str, inputs, output, settings: dict, *, data_dir=None,
                       download: bool = False) -> None:
    """A per-(model, method) figure; ``transformed`` reads the test images from ``data_dir``."""
    import pandas as pd

    from nntopo import layout
    from nntopo.analysis import plots as analysis_plots
    from nntopo.clustering import plots as clustering_plots
    from nntopo.network import plots as network_plots
    from nntopo import plotting

    top, most = settings.get("top"), settings.get("max_clusters")
    title = f"{model}, {method}"
    if name == "ablation":
        fig = analysis_plots.ablation_effects(pd.read_csv(inputs.ablation), title=f"{title}: silencing each cluster's top "
                                     "neurons", alpha=settings["alpha"], max_clusters=most)
    elif name == "barplot":
        summary = pd.read_csv(inputs.table)
        n = int((summary.cluster >= 0).sum())
        fig = clustering_plots.cluster_composition(summary, title=f"{title}: {n} clusters, label composition and accuracy",
                                        max_clusters=most)
    elif name == "heatmap":
        fig = analysis_plots.ranking_heatmap(pd.read_csv(inputs.ranking), layout.read_clusters(inputs.clusters).n_clusters,
                                    top=top, title=title, max_clusters=most)
    elif name == "manifold":
        shown = layout.read_clusters(inputs.embedding)
        if shown.embedding is None:
            raise layout.LayoutError(f"{inputs.embedding}: no embedding to draw the points with")
        fig = clustering_plots.cluster_manifold(shown.embedding, layout.read_clusters(inputs.clusters).labels, max_clusters=most,
                                     title=f"{title} clusters on the {shown.attrs['method']} embedding")
    elif name in ("neurons", "transformed"):
        ranking = pd.read_csv(inputs.ranking)
        weights = layout.read_weights(inputs.weights)
        hidden = weights[layout.ranked_layer(settings["layer"], len(weights) - 1)].weight
        attrs = layout.read_attrs(inputs.weights)
        image_shape = tuple(attrs["image_shape"])
        if hidden.shape[1] != image_shape[0] * image_shape[1]:
            raise ValueError(f"{name}: the ranked layer's inputs are not image pixels; use clustering.layer 1")
        if name == "neurons":
            fig = analysis_plots.neuron_weight_images(ranking, hidden, image_shape, top=top, title=title, max_clusters=most)
        else:
            from nntopo import data

            images = data.load(attrs["dataset"], data_dir, download, train=False).x_test
            fig = analysis_plots.transformed_inputs(images, layout.read_clusters(inputs.clusters).labels, ranking, hidden,
                                           image_shape, seed=int(attrs["seed"]), top=top,
                                           per_cluster=settings["per_cluster"], title=title, max_clusters=most)
    elif name == "mapper_graph":
        clusters = layout.read_clusters(inputs.clusters)
        if clusters.graph is None:
            raise layout.LayoutError(f"{inputs.clusters}: {method} stored no Mapper graph")
        g = clusters.graph
        fig = clustering_plots.mapper_graph(g["node_ptr"], g["node_points"], g["edges"], g["node_cluster"],
                                 labels_true=layout.read_activations(inputs.activations).labels, title=title,
                                 seed=int(clusters.attrs["seed"]))
    else:
        raise ValueError(f"unknown figure {name!r}; figures: {', '.join({**METHOD_FIGURES, **GRAPH_FIGURES})}")
    plotting.save(fig, output)


def draw_figures(outputs: dict, inputs, settings: dict, dataset: str, model: str, method: str | None = None, *,
                 data_dir=None, download: bool = False) -> None:
    """Draw each figure of ``outputs`` (name -> path) with its own ``settings[name]``: a model's figures,
    or with ``method`` a (model, method) pair's."""
    title = f"{dataset} {model}"
    for name, output in outputs.items():
        if method is None:
            draw_model_figure(name, title, inputs, output, settings[name])
        else:
            draw_method_figure(name, title, method, inputs, output, settings[name], data_dir=data_dir,
                               download=download)


def write_mapper_page(method: str, inputs, output, settings: dict) -> list[str]:
    """The interactive KeplerMapper page; returns the scripts it could not inline (see mapper_page)."""
    import pandas as pd

    from nntopo import layout
    from nntopo.clustering.mapper_page import write_mapper_page as write_page

    clusters = layout.read_clusters(inputs.clusters)
    if clusters.graph is None:
        raise layout.LayoutError(f"{inputs.clusters}: {method} stored no Mapper graph")
    acts = layout.read_activations(inputs.activations)
    g = clusters.graph
    return write_page(output, g["node_ptr"], g["node_points"], g["edges"], acts.labels, acts.predictions,
                      node_cluster=g["node_cluster"], top_neurons=pd.read_csv(inputs.ranking),
                      title=f"{clusters.attrs['dataset']} {clusters.attrs['model']}, {method}: Mapper graph",
                      n_top=settings["top"])


def summarize(inputs, outputs, settings: dict) -> None:
    """The grid at a glance, one row per model (``outputs.table`` and ``outputs.figure``): accuracy,
    weight norm and sparsity, the share of silent hidden activations, and per method the cluster
    count, the points in no cluster, the ranking's sharpness (the mean share of a cluster's points
    having each of its top-k neurons) and the share of clusters hurt more by their top-k neurons than
    by random ones. ``outputs.ablation`` and ``outputs.agreement`` gather the per-model tables.
    """
    import pandas as pd

    from nntopo import layout
    from nntopo.analysis import plots as analysis_plots
    from nntopo.clustering import plots as clustering_plots
    from nntopo.network import plots as network_plots
    from nntopo import plotting
    from nntopo.analysis.ablation import summarize_ablation

    rows = {}
    for path in inputs.metrics:
        metrics = json.loads(open(path).read())
        rows[metrics["model"]] = {key: metrics[key] for key in
                                  ("model", "test_accuracy", "weight_l2_norm", "near_zero_fraction", "train_seconds")}
    for path in inputs.activations:
        acts = layout.read_activations(path)
        hidden = acts.layer(layout.ranked_layer(settings["layer"], len(acts.hidden)))
        rows[acts.attrs["model"]]["silent_activations"] = float((hidden <= 0).mean())
    ablations, agreements = [], []
    for clusters_path, ranking_path, ablation_path in zip(inputs.clusters, inputs.rankings, inputs.ablations):
        clusters = layout.read_clusters(clusters_path)
        model, method = clusters.attrs["model"], clusters.attrs["method"]
        ranking = pd.read_csv(ranking_path)
        ablation = summarize_ablation(pd.read_csv(ablation_path), alpha=settings["alpha"])
        rows[model].update({
            f"n_clusters_{method}": clusters.n_clusters,
            f"unassigned_{method}": int((clusters.labels < 0).sum()),
            f"sharpness_{method}": float(ranking[ranking["rank"] <= settings["top_k"]]["fraction"].mean()),
            f"ablation_hurt_share_{method}": ablation["share_hurt_more_than_random"],
        })
        ablations.append({"model": model, "method": method, **ablation})
    for path in inputs.agreements:
        agreements.append(pd.read_csv(path).assign(model=Path(path).parent.name))
    table = pd.DataFrame(list(rows.values()))
    for path, frame in ((outputs.table, table), (outputs.ablation, pd.DataFrame(ablations)),
                        (outputs.agreement, pd.concat(agreements, ignore_index=True))):
        with layout.atomic(path) as tmp:
            frame.to_csv(tmp, index=False)
    shown = ["model", "test_accuracy", "weight_l2_norm", "near_zero_fraction"] + [
        c for c in table.columns if c.startswith("n_clusters_")]
    plotting.save(analysis_plots.grid_summary(table[shown], title=f"{settings['dataset']}: the grid of models"), outputs.figure)
