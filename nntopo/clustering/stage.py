"""The clustering stage: cluster one layer's analysed points with one method and write the clusters file
(which says which points: the activations' ``points``); write a Mapper graph as GraphML."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from nntopo import store


def cluster_activations(activations_path, clusters_path, layer: str, settings: dict, log=print) -> None:
    """Cluster one model's analysed points (the rows of its activations) in ``layer``'s activation
    space with one method (``settings``: config.clustering_slice)."""
    from nntopo.clustering.methods import cluster_points, coincide, make_method

    acts = store.read_activations(activations_path)
    space, points = layer, acts.layer(layer)
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
        graph = {name: getattr(result.graph, name) for name in (*store.MAPPER_ARRAYS, store.MAPPER_POSITIONS)}
        log(f"mapper graph: {result.graph.n_nodes} nodes, {len(result.graph.edges)} edges")
    attrs = store.provenance(acts.attrs["dataset"], acts.attrs["model"], seed, settings,
                              method=settings["method"], space=space,
                              **{**store.carried(acts.attrs), "points": json.dumps(acts.points)},
                              parameters=json.dumps(settings["params"], sort_keys=True), seconds=seconds)
    store.write_clusters(clusters_path, result.labels, result.embedding, graph, attrs)


def write_graph_file(path: str | os.PathLike, node_ptr, node_points, edges, labels_true, labels_pred, *,
                     node_cluster=None, positions=None, attrs=None) -> None:
    """Write a Mapper graph as GraphML (``graph.as_networkx`` says what its nodes and edges carry; read
    it back with ``networkx.read_graphml(path, node_type=int)``), atomically."""
    import networkx as nx

    from nntopo.clustering.graph import as_networkx

    graph = as_networkx(node_ptr, node_points, edges, labels_true, labels_pred, node_cluster=node_cluster,
                        positions=positions, attrs=attrs)
    with store.atomic(path) as tmp:
        nx.write_graphml(graph, tmp)
