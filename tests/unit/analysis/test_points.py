"""The stages after recording work on the analysed points (``analysis.split``, ``analysis.points``) and
say which they used.

A network on the embedded digits is recorded twice: on its whole training split, and on a seeded
subsample of it, as rule train records it. Every stage run on the subsample's files must give the
numbers the algorithms give on those rows of the whole split directly; every table and file must name
the points; a clustering of other points is refused. A CNN's ablation replays its network on the
analysed points' inputs: it recomputes their maps, and checks them against the recorded ones.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nntopo import config, store
from nntopo.analysis import flow
from nntopo.analysis import stage as analysis
from nntopo.analysis.agreement import pairwise_agreement, purity_table
from nntopo.analysis.ranking import cluster_summary, rank_neurons
from nntopo.clustering import stage as clustering
from nntopo.clustering.methods import cluster_points, make_method
from nntopo.network import stage as network

MLP, CNN = "mlp16-none-s0", "cnn6x8-k2-none-s0"
GRID = config.validate({"datasets": ["digits"], "widths": [16], "regularizations": ["none"],
                        "cnns": [{"channels": [6, 8], "kernel": 2, "dense": []}],
                        "training": {"epochs": 2, "batch_size": 64}})
SUBSAMPLE = {"split": "train", "points": 300, "seed": 1}
WHOLE = {"split": "train", "points": None, "seed": 0}


def record(folder, model: str, points: dict):
    """Train ``model`` on the digits and record it on ``points``, as rule train does; its file paths."""
    files = {"state": "model.pt", "weights": "weights.h5", "activations": "activations.h5", "metrics": "metrics.json"}
    outputs = SimpleNamespace(**{name: folder / file for name, file in files.items()})
    folder.mkdir(parents=True, exist_ok=True)
    network.train_and_record("digits", model, config.training_slice(GRID, model), outputs, data_dir=folder,
                             device="cpu", log=lambda _: None, points=points)
    return outputs


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    """The MLP recorded on the subsample, and the same network's activations on the whole training split."""
    folder = tmp_path_factory.mktemp("points")
    sub = record(folder / "sub", MLP, SUBSAMPLE)
    whole = record(folder / "whole", MLP, WHOLE)  # the same seed: the same network
    clusters = folder / "sub" / "clusters.h5"
    for method, path in (("kmeans", clusters), ("mapper", folder / "sub" / "mapper.h5")):
        clustering.cluster_activations(sub.activations, path, "hidden_1", config.clustering_slice(GRID, method),
                                       log=lambda _: None)
    return sub, whole, clusters


def test_the_subsample_is_rows_of_the_whole_split(mlp):
    sub, whole, _ = mlp
    acts, every = store.read_activations(sub.activations), store.read_activations(whole.activations)
    assert acts.points == {"split": "train", "of": len(every.labels), "n": 300, "seed": 1, "subsample": True}
    assert np.array_equal(every.point_index, np.arange(len(every.labels)))
    assert np.array_equal(acts.hidden[0], every.hidden[0][acts.point_index])
    assert np.array_equal(acts.labels, every.labels[acts.point_index])


def test_the_stages_on_a_subsample_give_the_numbers_of_those_rows(mlp, tmp_path):
    sub, whole, clusters_path = mlp
    acts, every = store.read_activations(sub.activations), store.read_activations(whole.activations)
    rows = acts.point_index
    hidden, labels_true = every.hidden[0][rows], every.labels[rows]
    # The clustering: k-means of those rows.
    labels, mapper = (cluster_points(make_method(method, 0, config.clustering_slice(GRID, method)["params"]),
                                     hidden).labels for method in ("kmeans", "mapper"))
    assert np.array_equal(store.read_clusters(clusters_path).labels, labels)
    assert np.array_equal(store.read_clusters(clusters_path.with_name("mapper.h5")).labels, mapper)

    out = {name: tmp_path / f"{name}.csv" for name in ("ranking", "table", "ablation", "agreement", "flow",
                                                        "contingency", "probe")}
    ranking_settings = config.ranking_slice(GRID, MLP, "hidden_1")
    analysis.rank_clusters(sub.activations, clusters_path, out["ranking"], out["table"], ranking_settings,
                           log=lambda _: None)
    ablation = config.ablation_slice(GRID, MLP, "hidden_1")
    analysis.ablate(sub.activations, clusters_path, out["ranking"], out["ablation"], ablation,
                    analysis.ablators(sub.weights), log=lambda _: None)
    analysis.agree(sub.activations, [clusters_path, clusters_path.with_name("mapper.h5")], out["agreement"],
                   log=lambda _: None)
    analysis.layer_flow(sub.activations, [clusters_path], out["flow"], out["contingency"], log=lambda _: None)
    analysis.probe_layers(sub.activations, out["probe"], ["hidden_1", "output"], seed=0, log=lambda _: None)
    tables = {name: pd.read_csv(path) for name, path in out.items()}

    ranking = rank_neurons(hidden, labels, ranking_settings["top_k"])
    pd.testing.assert_frame_equal(tables["ranking"][list(ranking.columns)], ranking)
    summary = cluster_summary(labels, labels_true, every.predictions[rows], n_classes=10)
    pd.testing.assert_frame_equal(tables["table"][list(summary.columns)], summary)
    # The ablation replays the rows' recorded activations through the same weights.
    from nntopo.analysis.ablation import ablate_clusters

    out_layer = store.read_weights(whole.weights)["output"]
    direct = ablate_clusters(hidden, out_layer.weight, out_layer.bias, labels_true, labels, ranking,
                             top_k=ablation["top_k"], n_random=ablation["n_random"], seed=0)
    pd.testing.assert_frame_equal(tables["ablation"][list(direct.columns)], direct)
    labelings = {"kmeans": labels, "mapper": mapper}
    agreement = pd.concat([pairwise_agreement(labelings), purity_table(labelings, labels_true)
                           .rename(columns={"method": "method_a"}).assign(method_b=lambda t: t["method_a"])],
                          ignore_index=True)
    pd.testing.assert_frame_equal(tables["agreement"][list(agreement.columns)], agreement)
    assert tables["flow"]["purity"].iloc[0] == agreement["purity"].iloc[1]
    probe = flow.linear_probe({"hidden_1": hidden, "output": every.output[rows]}, labels_true,
                              flow.probe_halves(len(rows), 0), seed=0)
    pd.testing.assert_frame_equal(tables["probe"][list(probe.columns)], probe)

    # Each table names the points, as the activations do.
    for name, table in tables.items():
        if name != "contingency" or len(table):
            assert (table["points"].map(json.loads) == [acts.points] * len(table)).all(), name


def test_the_clusters_file_names_its_points_and_other_points_are_refused(mlp, tmp_path):
    sub, whole, clusters_path = mlp
    clusters = store.read_clusters(clusters_path)
    assert json.loads(clusters.attrs["points"]) == store.read_activations(sub.activations).points
    # The same number of points, but others: a clustering left from another config.
    other = {**json.loads(clusters.attrs["points"]), "seed": 2}
    store.write_clusters(tmp_path / "other.h5", clusters.labels, clusters.embedding, None,
                         {**clusters.attrs, "points": json.dumps(other)})
    with pytest.raises(store.StoreError) as error:
        analysis.rank_clusters(sub.activations, tmp_path / "other.h5", tmp_path / "r.csv", tmp_path / "t.csv",
                               config.ranking_slice(GRID, MLP, "hidden_1"))
    message = str(error.value)
    assert "\n" not in message and message.endswith("rerun its clustering") and '"seed": 2' in message


def test_a_cnn_is_ablated_on_the_analysed_points_inputs(tmp_path):
    """The channels' maps are recomputed from the network run on the analysed points' inputs and
    checked against the recorded ones (within 1e-4), so the ablation runs only on the right images;
    its table is the one a ChannelAblator of those training images gives."""
    from nntopo import data
    from nntopo.analysis.ablation import ablate_clusters
    from nntopo.analysis.ablation.channels import ChannelAblator
    from nntopo.data.points import analysed

    files = record(tmp_path / "cnn", CNN, SUBSAMPLE)
    acts = store.read_activations(files.activations)
    inputs = analysed(data.load("digits"), SUBSAMPLE)
    assert np.array_equal(inputs.index, acts.point_index)
    layer, methods = "hidden_1", ["kmeans"]
    clusters = tmp_path / "clusters.h5"
    clustering.cluster_activations(files.activations, clusters, layer, config.clustering_slice(GRID, "kmeans"),
                                   log=lambda _: None)
    outputs = {"agreement": tmp_path / "agreement.csv", "ranking__kmeans": tmp_path / "ranking.csv",
               "table__kmeans": tmp_path / "table.csv", "ablation__kmeans": tmp_path / "ablation.csv"}
    inputs_ = {"activations": files.activations, "weights": files.weights, "state": files.state,
               "clusters__kmeans": clusters}
    analysis.analyse_layer(Named(inputs_), Named(outputs), methods, config.ranking_slice(GRID, CNN, layer),
                           config.ablation_slice(GRID, CNN, layer), log=lambda _: None, data_dir=tmp_path)
    table = pd.read_csv(outputs["ablation__kmeans"])
    model, _ = network.recorded_network(files.state, acts.attrs, 10, data_dir=tmp_path,
                                        point_index=acts.point_index)
    ablator = ChannelAblator(model, inputs.x, layer, acts.labels)
    settings = config.ablation_slice(GRID, CNN, layer)
    direct = ablate_clusters(None, None, None, acts.labels, store.read_clusters(clusters).labels,
                             pd.read_csv(outputs["ranking__kmeans"]).query("layer == @layer"),
                             top_k=settings["top_k"], n_random=settings["n_random"], seed=0, ablator=ablator)
    pd.testing.assert_frame_equal(table[list(direct.columns)], direct)

    # The test images in the same number (what the replay read before the points were recorded) are
    # not the points the maps were recorded on: the check refuses them.
    with pytest.raises(ValueError, match="differ from the stored ones"):
        from nntopo.analysis.ablation import check_close

        wrong = ChannelAblator(model, data.load("digits").x_test[:len(acts.labels)], layer, acts.labels)
        check_close(wrong.maps_reduced["max"], acts.layer(layer), 1e-4, "the channels")


class Named(dict):
    """Snakemake's named inputs and outputs: keys as attributes too."""

    __getattr__ = dict.__getitem__
