"""The analysis stages: rank neurons per cluster, ablate them, and compare clusterings (methods, seeds)."""

from __future__ import annotations



from nntopo import layout


def rank_clusters(activations_path, clusters_path, ranking_path, table_path, settings: dict, log=print) -> None:
    """Rank each cluster's most activated hidden neurons, and describe each cluster's labels."""
    from nntopo.analysis.ranking import cluster_summary, rank_neurons

    acts = layout.read_activations(activations_path)
    clusters = layout.read_clusters(clusters_path)
    if len(clusters.labels) != len(acts.labels):
        raise layout.LayoutError(f"{clusters_path}: {len(clusters.labels)} labels for {len(acts.labels)} test points "
                                 f"in {activations_path}; rerun its clustering")
    layer = layout.ranked_layer(settings["layer"], len(acts.hidden))
    ranking = rank_neurons(acts.layer(layer), clusters.labels, settings["top_k"])
    summary = cluster_summary(clusters.labels, acts.labels, acts.predictions, n_classes=acts.output.shape[1])
    log(f"ranked {layer} neurons (top {settings['top_k']}) for {clusters.n_clusters} clusters: "
        f"{len(ranking)} (cluster, neuron) rows")
    for path, table in ((ranking_path, ranking), (table_path, summary)):
        with layout.atomic(path) as tmp:
            table.to_csv(tmp, index=False)


def ablate(activations_path, weights_path, clusters_path, ranking_path, output_path, settings: dict, log=print) -> None:
    """Silence each cluster's top-k neurons and compare with random neurons (``settings``: config.ablation_slice)."""
    import pandas as pd

    from nntopo.analysis.ablation import ablate_recorded, summarize_ablation

    acts = layout.read_activations(activations_path)
    clusters = layout.read_clusters(clusters_path)
    table = ablate_recorded(acts, layout.read_weights(weights_path), clusters.labels, pd.read_csv(ranking_path),
                            k=settings["top_k"], layer=layout.ranked_layer(settings["layer"], len(acts.hidden)),
                            n_random=settings["n_random"], seed=int(acts.attrs["seed"]))
    summary = summarize_ablation(table, alpha=settings["alpha"])
    log(f"{summary['hurt_more_than_random']} of {summary['clusters']} clusters lose more accuracy without their "
        f"top {settings['top_k']} neurons than without random ones (p < {settings['alpha']})")
    with layout.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)


def agree(activations_path, cluster_paths: list, output_path, log=print) -> None:
    """Agreement of every pair of methods (ARI, NMI on the points both assign) and each one's purity."""
    import pandas as pd

    from nntopo.analysis.agreement import pairwise_agreement, purity_table

    acts = layout.read_activations(activations_path)
    labelings = {}
    for path in cluster_paths:
        clusters = layout.read_clusters(path)
        labelings[clusters.attrs["method"]] = clusters.labels
    pairs = pairwise_agreement(labelings)
    purity = purity_table(labelings, acts.labels)
    # One tidy table: a row per pair of methods, then a row per method (method_a == method_b) with its purity.
    purity = purity.rename(columns={"method": "method_a"}).assign(method_b=lambda t: t["method_a"])
    table = pd.concat([pairs, purity], ignore_index=True)
    log(pairs.to_string(index=False))
    with layout.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)


def seed_stability(cluster_paths: list, activations_path, output_path, log=print) -> None:
    """For each architecture, regularization and method: agreement of the clusterings across seeds.

    Only labels and label compositions are compared: neurons are not aligned across seeds, so
    neuron indices are never compared.
    """
    import pandas as pd

    from nntopo.analysis.agreement import composition_stability
    from nntopo.analysis.agreement import seed_stability as pairwise_seeds
    from nntopo.paths import ModelId

    groups: dict[tuple, dict[int, object]] = {}
    for path in cluster_paths:
        clusters = layout.read_clusters(path)
        model = ModelId.parse(clusters.attrs["model"])
        key = (clusters.attrs["dataset"], "x".join(map(str, model.widths)), model.regularization, clusters.attrs["method"])
        groups.setdefault(key, {})[model.seed] = clusters.labels
    y_true = layout.read_activations(activations_path).labels  # the test set's labels, the same for every model
    rows = []
    for (dataset, widths, reg, method), by_seed in groups.items():
        if len(by_seed) < 2:
            continue
        pairs = pairwise_seeds(by_seed).merge(composition_stability(by_seed, y_true), on=["seed_a", "seed_b"])
        rows.append(pairs.assign(dataset=dataset, widths=widths, regularization=reg, method=method))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["dataset", "widths", "regularization", "method", "seed_a", "seed_b", "ari", "nmi"])
    log(f"seed stability: {len(table)} pairs of seeds compared")
    with layout.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)
