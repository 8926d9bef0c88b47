"""Numerical trouble: each case ends in a clear error or in a handled, documented result.

- A NaN or infinite loss stops training (and the workflow) with one line saying what to lower.
- A NaN in recorded activations is refused by the reader, naming the dataset.
- Dead neurons: a point with no active neuron in the ranked layer contributes to no ranking; with
  the whole layer dead the rankings are empty, and every figure still draws.
- A single cluster, a cluster of one point, no cluster at all (every point noise): ranked,
  described and drawn like any other partition.
- Points that all coincide (a network dead for every input has constant logits): every method
  returns one cluster holding every point instead of crashing (t-SNE would kill its process).

The stages run here exactly as in the workflow's jobs (the stage modules, nntopo.figures), on a small
network trained on the embedded digits whose recorded activations each case then edits.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nntopo import config, store
from nntopo.analysis import stage as analysis
from nntopo.clustering import stage as clustering
from nntopo.network import stage as network
from nntopo import figures
from nntopo.figures.draw import draw_figure
from nntopo.clustering.methods import METHODS, cluster_points, coincide, make_method
from nntopo.analysis.ranking import rank_neurons
from tests.workflow import reliability
from tests.conftest import ROOT

MODEL = "mlp16-none-s0"
SETTINGS = config.validate({"datasets": ["digits"], "widths": [16], "regularizations": ["none"]})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    settings = config.training_slice(config.validate({"training": {"epochs": 3, "batch_size": 64}}), MODEL)
    outputs = SimpleNamespace(**{name: folder / file for name, file in [
        ("state", "model.pt"), ("weights", "weights.h5"), ("activations", "activations.h5"), ("metrics", "metrics.json")]})
    network.train_and_record("digits", MODEL, settings, outputs, data_dir=folder, device="cpu", log=lambda _: None)
    return folder


def write_case(folder, trained, labels, hidden=None, embedding="pca", graph=None):
    """The trained model's activations and a clusters file. A ``hidden`` layer given replaces the
    recorded one, and the logits are recomputed from it, as if the network had computed it."""
    acts = store.read_activations(trained / "activations.h5")
    if hidden is not None:
        out = store.read_weights(trained / "weights.h5")["output"]
        logits = (hidden @ out.weight.T + out.bias).astype(np.float32)
        store.write_activations(folder / "activations.h5", [hidden], logits, acts.labels, logits.argmax(1), acts.attrs)
    else:
        store.write_activations(folder / "activations.h5", acts.hidden, acts.output, acts.labels, acts.predictions,
                                 acts.attrs)
    acts = store.read_activations(folder / "activations.h5")
    if isinstance(embedding, str):
        centred = acts.output - acts.output.mean(0)
        embedding = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    attrs = store.provenance("digits", MODEL, 0, {}, method="mapper" if graph else "kmeans", space="output",
                              parameters="{}")
    store.write_clusters(folder / "clusters.h5", labels, embedding, graph, attrs)
    return acts


def run_stages(folder, trained, graph=False):
    """Rank, ablate, then draw every figure of a (model, method) and the Mapper page when there is a graph."""
    paths = {"activations": folder / "activations.h5", "weights": trained / "weights.h5",
             "metrics": trained / "metrics.json", "clusters": folder / "clusters.h5",
             "embedding": folder / "clusters.h5", "ranking": folder / "ranking.csv", "table": folder / "table.csv",
             "ablation": folder / "ablation.csv"}
    analysis.rank_clusters(paths["activations"], paths["clusters"], paths["ranking"], paths["table"],
                           config.ranking_slice(SETTINGS, MODEL, "output"), log=lambda _: None)
    analysis.ablate(paths["activations"], paths["clusters"], paths["ranking"], paths["ablation"],
                    config.ablation_slice(SETTINGS, MODEL, "output"), analysis.ablators(paths["weights"]),
                    log=lambda _: None)
    drawn = {**figures.METHOD_FIGURES, **figures.IMAGE_FIGURES, **figures.MODEL_FIGURES}
    written = {"mapper_page": "mapper.html", "graph_file": "mapper.graphml", "mapper_graph": "mapper_graph.png"}
    for name, spec in {**drawn, **(figures.GRAPH_FIGURES if graph else {})}.items():
        draw_figure(name, {need: str(paths[need]) for need in spec.needs}, folder / written.get(name, f"{name}.png"),
                    figures.settings_of(name, SETTINGS, MODEL, "output"), "digits", MODEL, "output", "kmeans",
                    data_dir=folder)
    if graph:
        assert (folder / "mapper.html").read_text().rstrip().endswith("</html>")
    for name in [*drawn, "activations"]:
        with Image.open(folder / f"{name}.png") as image:
            image.load()
    return pd.read_csv(paths["ranking"]), pd.read_csv(paths["table"])


# --- NaN and infinity ------------------------------------------------------------------------------

def test_nan_in_recorded_activations_is_refused_naming_the_dataset(tmp_path, trained):
    acts = store.read_activations(trained / "activations.h5")
    output = acts.output.copy()
    output[3, 2] = np.nan
    output[7, 0] = np.inf
    store.write_activations(tmp_path / "a.h5", acts.hidden, output, acts.labels, acts.predictions, acts.attrs)
    with pytest.raises(store.StoreError, match=r"a\.h5: dataset 'output' holds 2 NaN or infinite values"):
        store.read_activations(tmp_path / "a.h5")


# --- dead neurons ----------------------------------------------------------------------------------

def test_points_with_no_active_neuron_contribute_nothing(tmp_path, trained):
    acts = store.read_activations(trained / "activations.h5")
    hidden = acts.hidden[0].copy()
    dead = np.arange(len(hidden)) % 3 == 0
    hidden[dead] = 0.0  # a third of the points: no active neuron
    hidden[:, 5] = 0.0  # and one neuron silent for every point
    labels = acts.labels.copy()
    write_case(tmp_path, trained, labels, hidden)
    ranking, table = run_stages(tmp_path, trained)
    # The counts are those of the live points alone; the fractions are over the whole clusters.
    alive_only = rank_neurons(hidden, np.where(dead, -1, labels), 5)
    assert ranking[["cluster", "neuron", "count"]].equals(alive_only[["cluster", "neuron", "count"]])
    sizes = table.set_index("cluster")["size"]
    np.testing.assert_allclose(ranking["fraction"], ranking["count"] / sizes[ranking["cluster"]].to_numpy())
    assert 5 not in set(ranking["neuron"])


def test_a_dead_layer_gives_empty_rankings_and_figures_still_draw(tmp_path, trained):
    acts = store.read_activations(trained / "activations.h5")
    write_case(tmp_path, trained, acts.labels, np.zeros_like(acts.hidden[0]))
    ranking, table = run_stages(tmp_path, trained)
    assert len(ranking) == 0 and list(ranking.columns) == ["dataset", "model", "space", "method", "layer", "points",
                                                           "cluster", "neuron", "count", "fraction", "rank"]
    assert table["size"].sum() == len(acts.labels)


# --- one cluster, a cluster of one, none -----------------------------------------------------------

def test_a_single_cluster(tmp_path, trained):
    acts = write_case(tmp_path, trained, np.zeros(540, dtype=np.int64))
    ranking, table = run_stages(tmp_path, trained)
    assert table["cluster"].tolist() == [0] and table["size"].tolist() == [len(acts.labels)]
    assert set(ranking["cluster"]) == {0} and ranking["rank"].tolist() == list(range(1, len(ranking) + 1))


def test_a_cluster_of_one_point(tmp_path, trained):
    acts = store.read_activations(trained / "activations.h5")
    labels = acts.labels.copy()
    alive = np.flatnonzero(acts.hidden[0].max(1) > 0)[0]
    labels[alive] = 10  # a cluster of its own; the smallest, so numbered last
    write_case(tmp_path, trained, labels)
    ranking, table = run_stages(tmp_path, trained)
    single = ranking[ranking.cluster == 10]
    assert table.set_index("cluster").loc[10, "size"] == 1
    assert len(single) == min(5, int((acts.hidden[0][alive] > 0).sum())) and (single["fraction"] == 1.0).all()


def test_no_cluster_at_all(tmp_path, trained):
    """A method that calls every point noise (HDBSCAN can): one row for the unassigned, no ranking."""
    write_case(tmp_path, trained, np.full(540, -1, dtype=np.int64))
    ranking, table = run_stages(tmp_path, trained)
    assert len(ranking) == 0 and table["cluster"].tolist() == [-1]


def test_an_empty_mapper_graph(tmp_path, trained):
    graph = {"node_ptr": np.zeros(1, dtype=np.int64), "node_points": np.zeros(0, dtype=np.int64),
             "edges": np.zeros((0, 2), dtype=np.int64), "node_cluster": np.zeros(0, dtype=np.int64)}
    write_case(tmp_path, trained, np.full(540, -1, dtype=np.int64), graph=graph)
    ranking, _ = run_stages(tmp_path, trained, graph=True)
    assert len(ranking) == 0


# --- points that all coincide ---------------------------------------------------------------------

PARAMS = {**reliability.STUDY["clustering"], "hdbscan": {"min_cluster_size": 15}}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_coinciding_points_are_one_cluster(method):
    points = np.tile(np.linspace(-1, 1, 10), (540, 1))  # a dead network: the same logits for every input
    assert coincide(points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cluster_points(make_method(method, 0, PARAMS[method]), points)
    assert result.labels.tolist() == [0] * 540 and result.n_clusters == 1
    if METHODS[method].embeds:
        assert result.embedding.shape == (540, 2) and not result.embedding.any()
    if METHODS[method].makes_graph:
        assert result.graph.n_nodes == 1 and len(result.graph.points(0)) == 540


def test_mapper_finds_nodes_among_duplicated_points():
    """Most points with min_samples exact copies: the radius quantile is 0, which DBSCAN refuses;
    the smallest nonzero distance is taken instead."""
    points = np.repeat(np.random.default_rng(0).normal(size=(54, 10)), 10, axis=0)
    result = make_method("mapper", 0, PARAMS["mapper"]).fit(points)
    assert result.n_clusters >= 1 and (result.labels >= 0).all()


def test_a_whole_dead_network_runs_through_the_stages(tmp_path, trained):
    """Constant logits, silent hidden layer: clustered (one cluster), ranked (nothing), drawn."""
    acts = write_case(tmp_path, trained, np.zeros(540, dtype=np.int64), hidden=np.zeros((540, 16), np.float32))
    assert coincide(acts.output)
    for method in ("tsne", "mapper"):
        clustering.cluster_activations(tmp_path / "activations.h5", tmp_path / "clusters.h5", "output",
                                       config.clustering_slice(config.validate({"clustering": PARAMS}), method),
                                       log=lambda _: None)
        assert store.read_clusters(tmp_path / "clusters.h5").n_clusters == 1
        ranking, table = run_stages(tmp_path, trained, graph=method == "mapper")
        assert len(ranking) == 0 and table["size"].tolist() == [len(acts.labels)]


def test_tsne_on_coinciding_points_does_not_kill_its_process():
    """scikit-learn's t-SNE ends its process with a segfault on such points; it is not asked."""
    code = ("import numpy as np; from nntopo.clustering.methods import cluster_points, make_method; "
            "r = cluster_points(make_method('tsne', 0, {'perplexity': 5, 'max_iter': 250}), np.ones((50, 4))); "
            "print(r.n_clusters)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "1", run.stderr[-2000:]
