"""The analysis stages: rank neurons per cluster, ablate them, and compare clusterings (methods, seeds)."""

from __future__ import annotations

import itertools
import json

from nntopo import store
from nntopo import task as tasks


def _points(acts) -> str:
    """Which points a table describes, as the activations' ``points`` (JSON: split, of, n, seed,
    subsample): every table written here carries it in a column ``points``."""
    return json.dumps(acts.points)


def _clusters_of(activations_path, clusters_path):
    """The activations and the clusters of one model, checked to describe the same analysed points."""
    acts = store.read_activations(activations_path)
    clusters = store.read_clusters(clusters_path)
    if len(clusters.labels) != len(acts.labels):
        raise store.StoreError(f"{clusters_path}: {len(clusters.labels)} labels for {len(acts.labels)} points in "
                                 f"{activations_path}; rerun its clustering")
    if "points" in clusters.attrs and json.loads(clusters.attrs["points"]) != acts.points:  # (older files: none)
        raise store.StoreError(f"{clusters_path}: clusters the points {clusters.attrs['points']}, but "
                                 f"{activations_path} holds {_points(acts)}; rerun its clustering")
    return acts, clusters


def _described(table, acts, clusters, layer: str | None):
    """``table`` with the columns that say what it describes first: dataset, model, the clustered
    layer (``space``), the method, the layer whose neurons it is about (none for ``layer=None``) and
    the points."""
    where = {"dataset": clusters.attrs["dataset"], "model": clusters.attrs["model"], "space": clusters.attrs["space"],
             "method": clusters.attrs["method"], **({} if layer is None else {"layer": layer}), "points": _points(acts)}
    return table.assign(**where)[[*where, *table.columns]]


def rank_clusters(activations_path, clusters_path, ranking_path, table_path, settings: dict, log=print) -> None:
    """Rank each cluster's most active neurons in each of ``settings["layers"]``, and describe each cluster
    (a classifier's accuracy and classes, a regressor's error, target and level sets: ranking.error_summary)."""
    import pandas as pd

    from nntopo.analysis.ranking import cluster_summary, error_summary, rank_neurons

    acts, clusters = _clusters_of(activations_path, clusters_path)
    rankings = []
    for layer in settings["layers"]:
        units = acts.layer(layer).shape[1]
        if settings["top_k"] > units:  # known only now for an external network (its layers' units show when it runs)
            from nntopo.config import ConfigError

            raise ConfigError(f"clustering.top_k: {settings['top_k']} is more than the {units} units of {layer} of "
                              f"{acts.attrs['model']}; use at most {units}")
        ranking = rank_neurons(acts.layer(layer), clusters.labels, settings["top_k"])
        log(f"ranked {layer} neurons (top {settings['top_k']}) for {clusters.n_clusters} clusters of "
            f"{clusters.attrs['space']}: {len(ranking)} (cluster, neuron) rows")
        rankings.append(_described(ranking, acts, clusters, layer))
    if acts.task == tasks.REGRESSION:
        summary = error_summary(clusters.labels, acts.output, acts.targets, acts.levels)
    else:
        summary = cluster_summary(clusters.labels, acts.labels, acts.predictions, n_classes=acts.output.shape[1])
    summary = _described(summary, acts, clusters, None)
    for path, table in ((ranking_path, pd.concat(rankings, ignore_index=True)), (table_path, summary)):
        with store.atomic(path) as tmp:
            table.to_csv(tmp, index=False)


def ablate(activations_path, clusters_path, ranking_path, output_path, settings: dict, ablator_of, log=print) -> None:
    """Silence each cluster's top-k neurons in each ranked layer and compare with random neurons of
    that layer (``settings``: config.ablation_slice). ``ablator_of(acts, layer)`` gives the layer's
    ablator (``analysis.ablation.Ablator`` or one with its interface), or None when the model has no
    network to silence neurons in: then the table is written empty, and the log says why."""
    import pandas as pd

    from nntopo.analysis.ablation import ablate_clusters, columns_of, summarize_ablation

    acts, clusters = _clusters_of(activations_path, clusters_path)
    rankings = pd.read_csv(ranking_path)
    tables = []
    for layer in settings["layers"]:
        ablator = ablator_of(acts, layer)
        if ablator is None:
            log(f"{layer}: ablation skipped: {acts.attrs['model']}: {acts.attrs['no_network']}")
            tables.append(_described(pd.DataFrame(columns=columns_of(acts.task)), acts, clusters, layer))
            continue
        table = ablate_clusters(None, None, None, acts.labels, clusters.labels, rankings[rankings["layer"] == layer],
                                top_k=settings["top_k"], n_random=settings["n_random"],
                                seed=int(acts.attrs["seed"]), ablator=ablator)
        summary = summarize_ablation(table, alpha=settings["alpha"])
        hurt = "lose more accuracy" if acts.task == tasks.CLASSIFICATION else "raise their error more"
        log(f"{layer}: {summary['hurt_more_than_random']} of {summary['clusters']} clusters {hurt} "
            f"without their top {settings['top_k']} neurons than without random ones (p < {settings['alpha']}; "
            f"{summary['hurt_more_than_random_bh']} after Benjamini-Hochberg)")
        tables.append(_described(table, acts, clusters, layer))
    with store.atomic(output_path) as tmp:
        pd.concat(tables, ignore_index=True).to_csv(tmp, index=False)


def ablators(weights_path=None, network=None, external: dict | None = None, threads: int = 1):
    """``ablate``'s ``ablator_of``, built once per layer and shared by the methods clustering it (the
    same random draws for all). A grid model's layers are replayed from ``weights_path`` (a CNN's
    channels in the network ``network()`` returns, see ``recorded_ablator``); an external network's
    units are silenced in the network itself (``external``: its config slice, ``network()`` its network
    and the analysed points' inputs, run on ``threads``); recorded activations have no network (None). A
    regressor's ablators score each point by its squared error against ``acts.targets``."""
    from nntopo.analysis.ablation import check_close, recorded_ablator

    built = {}

    def ablator_of(acts, layer: str):
        if layer not in built:
            if "no_network" in acts.attrs:
                built[layer] = None
            elif external is not None:
                from nntopo.analysis.ablation.network import NetworkAblator

                model, images = network()
                ablator = NetworkAblator(model, external, images, store.layer_names(len(acts.hidden)).index(layer),
                                         acts.labels, acts.attrs.get("network_input_shape"), targets=acts.targets,
                                         threads=threads)
                check_close(ablator.hidden, acts.layer(layer), 1e-4, f"{layer} recomputed from the network")
                check_close(ablator.logits, acts.output, 1e-4, "the output recomputed from the network")
                built[layer] = ablator
            else:
                built[layer] = recorded_ablator(acts, store.read_weights(weights_path), layer, network=network)
        return built[layer]

    return ablator_of


def analyse_layer(inputs, outputs, methods: list, ranking: dict, ablation: dict, log=print, *, data_dir=None,
                  download: bool = False, threads: int = 1, external: dict | None = None) -> None:
    """Every analysis of one layer's clusters, method by method (``inputs.clusters__{method}``, outputs
    ``ranking__``, ``table__`` and ``ablation__{method}``), then the agreement between the methods.
    A CNN's channels are ablated in the network of ``inputs.state`` run on the analysed points' inputs
    (read from ``data_dir``); an external network's units in that network (``external``: its config slice)."""
    import functools

    from nntopo.network.stage import recorded_network

    @functools.cache  # once per job, however many of its ranked layers run the network
    def network():
        acts = store.read_activations(inputs.activations)
        if external is not None:
            import torch

            from nntopo.data.points import of_files
            from nntopo.network.external import load_network

            torch.set_num_threads(threads)
            _, points = of_files(acts.attrs, acts.point_index, data_dir=data_dir, download=download,
                                 data_file=inputs.get("data"))
            return load_network(external), points.x
        return recorded_network(inputs.state, acts.attrs, acts.output.shape[1], data_dir=data_dir, download=download,
                                threads=threads, data_file=inputs.get("data"), point_index=acts.point_index)

    ablator_of = ablators(inputs.get("weights"), network, external, threads)
    for method in methods:
        clusters = inputs[f"clusters__{method}"]
        rank_clusters(inputs.activations, clusters, outputs[f"ranking__{method}"], outputs[f"table__{method}"],
                      ranking, log=log)
        ablate(inputs.activations, clusters, outputs[f"ranking__{method}"], outputs[f"ablation__{method}"], ablation,
               ablator_of, log=log)
    agree(inputs.activations, [inputs[f"clusters__{method}"] for method in methods], outputs.agreement, log=log)


def agree(activations_path, cluster_paths: list, output_path, log=print) -> None:
    """Agreement of every pair of methods (ARI, NMI on the points both assign) and each one's purity (a
    regressor's: the share of its targets' variance the clusters explain)."""
    import pandas as pd

    from nntopo.analysis.agreement import pairwise_agreement, purity_table

    acts = store.read_activations(activations_path)
    labelings = {}
    for path in cluster_paths:
        clusters = store.read_clusters(path)
        labelings[clusters.attrs["method"]] = clusters.labels
    pairs = pairwise_agreement(labelings)
    purity = purity_table(labelings, acts.labels, acts.targets)
    # One tidy table: a row per pair of methods, then a row per method (method_a == method_b) with its purity.
    purity = purity.rename(columns={"method": "method_a"}).assign(method_b=lambda t: t["method_a"])
    table = pd.concat([pairs, purity], ignore_index=True)
    table = table.assign(dataset=acts.attrs["dataset"], model=acts.attrs["model"], space=clusters.attrs["space"],
                         points=_points(acts))
    table = table[["dataset", "model", "space", "points", *pairs.columns.union(purity.columns, sort=False)]]
    log(pairs.to_string(index=False))
    with store.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)


def seed_stability(cluster_paths: list, activations_path, output_path, log=print) -> None:
    """For each architecture, regularization and method: agreement of the clusterings across seeds.

    Only labels and label compositions are compared: neurons are not aligned across seeds, so
    neuron indices are never compared. A regressor's compositions are over its targets' level sets.
    """
    import pandas as pd

    from nntopo.analysis.agreement import composition_stability
    from nntopo.analysis.agreement import seed_stability as pairwise_seeds
    from nntopo.models import ModelId

    groups: dict[tuple, dict[int, object]] = {}
    for path in cluster_paths:
        clusters = store.read_clusters(path)
        model = ModelId.parse(clusters.attrs["model"])
        key = (clusters.attrs["dataset"], model.architecture, clusters.attrs["space"], clusters.attrs["method"])
        groups.setdefault(key, {})[model.seed] = clusters.labels
    acts = store.read_activations(activations_path)  # the analysed points' labels, the same for every model
    y_true = acts.labels
    n_classes = None if acts.levels is None else int(acts.levels["n"])  # every level set, held or not
    rows = []
    for (dataset, architecture, space, method), by_seed in groups.items():
        if len(by_seed) < 2:
            continue
        pairs = pairwise_seeds(by_seed).merge(composition_stability(by_seed, y_true, n_classes), on=["seed_a", "seed_b"])
        rows.append(pairs.assign(dataset=dataset, architecture=architecture, space=space, method=method,
                                 points=_points(acts)))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["dataset", "architecture", "space", "method", "points", "seed_a", "seed_b", "ari", "nmi"])
    log(f"seed stability: {len(table)} pairs of seeds compared")
    with store.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)


def layer_flow(activations_path, cluster_paths: list, flow_path, contingency_path, log=print) -> None:
    """How one method's partitions relate from layer to layer (``cluster_paths`` in depth order,
    the output's last): each layer's purity (a regressor's explained variance) and agreement with the next
    layer and with the output
    (``flow_path``), and the cluster-to-cluster counts between consecutive layers (``contingency_path``)."""
    import pandas as pd

    from nntopo.analysis import flow

    acts = store.read_activations(activations_path)
    labelings = {}
    for path in cluster_paths:
        clusters = store.read_clusters(path)
        labelings[clusters.attrs["space"]] = clusters.labels
    where = {"dataset": acts.attrs["dataset"], "model": acts.attrs["model"], "method": clusters.attrs["method"],
             "points": _points(acts)}
    table = flow.layer_flow(labelings, acts.labels, acts.targets)
    names = list(labelings)
    counts = pd.concat([flow.contingency(labelings[a], labelings[b]).assign(layer_a=a, layer_b=b)
                        for a, b in itertools.pairwise(names)], ignore_index=True) if len(names) > 1 else pd.DataFrame(
        columns=["layer_a", "layer_b", "cluster_a", "cluster_b", "count"])
    log(table.to_string(index=False))
    for path, frame in ((flow_path, table), (contingency_path, counts)):
        frame = frame.assign(**where)
        with store.atomic(path) as tmp:
            frame[[*where, *(c for c in frame.columns if c not in where)]].to_csv(tmp, index=False)


def probe_layers(activations_path, output_path, layers: list, seed: int, log=print) -> None:
    """A linear probe of each of ``layers``: a logistic regression (a regressor's: a ridge regression, R^2)
    fitted on a fixed half of the analysed points' activations and scored on the other half (the same
    halves for every layer and model)."""
    from nntopo.analysis import flow

    acts = store.read_activations(activations_path)
    fit_mask = flow.probe_halves(len(acts.labels), seed)
    table = flow.linear_probe({layer: acts.layer(layer) for layer in layers}, acts.labels, fit_mask, seed=seed,
                              targets=acts.targets)
    table = table.assign(dataset=acts.attrs["dataset"], model=acts.attrs["model"], probe_seed=seed,
                         points=_points(acts))
    log(table.to_string(index=False))
    with store.atomic(output_path) as tmp:
        table.to_csv(tmp, index=False)
