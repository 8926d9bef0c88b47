"""The workflow's stages as functions: read a stage's inputs, run its algorithm, write its outputs.

Scripts under scripts/ only unpack ``snakemake`` and call one of these; the algorithms they call
(training, clustering, ranking) do no file I/O. Heavy libraries are imported inside each stage so
that a job pays only for its own (a clustering job never imports torch).
"""

from __future__ import annotations

import json
import time

import numpy as np

from nntopo import layout


def train_and_record(dataset: str, model_id: str, settings: dict, outputs, *, data_dir, download: bool = True,
                     device: str = "auto", threads: int = 1, log=print) -> dict:
    """Train the model ``settings`` (its config slice) describe, then write its files.

    ``outputs`` has the paths ``state``, ``weights``, ``activations`` and ``metrics``.
    Returns the metrics written.
    """
    import torch

    from nntopo import data, train

    torch.set_num_threads(threads)
    dataset_ = data.load(dataset, data_dir, download)
    log(f"{model_id} on {dataset}: {len(dataset_.x_train)} training, {len(dataset_.x_test)} test images "
        f"of {dataset_.image_shape[0]}x{dataset_.image_shape[1]}")
    trained = train.train(dataset_, settings["widths"], settings["regularization"], settings["training"],
                          settings["seed"], device, log)
    hidden, logits = train.record(trained.model, dataset_.x_test)
    if not all(np.isfinite(values).all() for values in (*hidden, logits)):  # a last step that diverged
        raise train.TrainingDiverged(f"the trained network's test activations hold NaN or infinite values; lower "
                                     f"training.lr (now {settings['training']['lr']})")
    predictions = logits.argmax(1)
    attrs = layout.provenance(dataset, model_id, settings["seed"], settings, image_shape=list(dataset_.image_shape))

    samples = len(dataset_.x_train) * settings["training"]["epochs"]
    metrics = {
        **{key: attrs[key] for key in ("dataset", "model", "seed")},
        "settings": settings,
        "device": trained.device,
        "epochs": trained.history,
        "test_accuracy": float(np.mean(predictions == dataset_.y_test)),
        **train.weight_stats(trained.model),
        "train_seconds": trained.seconds,
        "samples_per_second": samples / trained.seconds,
        "gflops_per_second": train.flops_per_sample(trained.model) * samples / trained.seconds / 1e9,
        "threads": threads,
        "versions": layout.versions(),
    }
    log(f"test accuracy {metrics['test_accuracy']:.4f}, weight L2 norm {metrics['weight_l2_norm']:.2f}, "
        f"near-zero weights {metrics['near_zero_fraction']:.1%}, {metrics['gflops_per_second']:.0f} GFLOP/s")

    with layout.atomic(outputs.state) as tmp:
        torch.save(trained.model.state_dict(), tmp)
    layout.write_weights(outputs.weights, train.layers(trained.model), attrs)
    layout.write_activations(outputs.activations, hidden, logits, dataset_.y_test, predictions, attrs)
    with layout.atomic(outputs.metrics) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def cluster_activations(activations_path, clusters_path, settings: dict, log=print) -> None:
    """Cluster one model's test points with one method (``settings``: config.clustering_slice)."""
    from nntopo.cluster import cluster_points, coincide, make_method

    acts = layout.read_activations(activations_path)
    if settings["space"] == "output":
        space, points = layout.OUTPUT_LAYER, acts.output
    else:
        space = layout.ranked_layer(settings["layer"], len(acts.hidden))
        points = acts.layer(space)
    seed = int(acts.attrs["seed"])
    method = make_method(settings["method"], seed, settings["params"])
    start = time.perf_counter()
    if coincide(points):
        log(f"WARNING: all {len(points)} points are the same in {space} (a dead network?): one cluster")
    result = cluster_points(method, points)
    seconds = time.perf_counter() - start
    unassigned = int(np.sum(result.labels < 0))
    log(f"{settings['method']} on {space} ({points.shape[0]} x {points.shape[1]}): {result.n_clusters} clusters, "
        f"{unassigned} points in none, {seconds:.1f} s")
    graph = None
    if result.graph is not None:
        graph = {name: getattr(result.graph, name) for name in layout.MAPPER_ARRAYS}
        log(f"mapper graph: {result.graph.n_nodes} nodes, {len(result.graph.edges)} edges")
    attrs = layout.provenance(acts.attrs["dataset"], acts.attrs["model"], seed, settings,
                              method=settings["method"], space=space,
                              parameters=json.dumps(settings["params"], sort_keys=True), seconds=seconds)
    layout.write_clusters(clusters_path, result.labels, result.embedding, graph, attrs)


def rank_clusters(activations_path, clusters_path, ranking_path, table_path, settings: dict, log=print) -> None:
    """Rank each cluster's most activated hidden neurons, and describe each cluster's labels."""
    from nntopo.ranking import cluster_summary, rank_neurons

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

    from nntopo.ablation import ablate_recorded, summarize_ablation

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

    from nntopo.agreement import pairwise_agreement, purity_table

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

    from nntopo.agreement import composition_stability
    from nntopo.agreement import seed_stability as pairwise_seeds
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
