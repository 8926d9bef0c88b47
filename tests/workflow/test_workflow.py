"""End to end: Snakemake runs the grid on the embedded digits, then reruns only what a change touches."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nntopo import models, paths, store
from tests.workflow import reliability
from tests.conftest import ROOT
from tests.unit.figures.test_mapper_page import chromium  # noqa: F401  (a fixture)

pytestmark = pytest.mark.workflow

# The reliability study on two widths and both regularizations; UMAP's clusterer is k-means here, so
# that the workflow runs both clusterers of embeddings (the reliability study's is HDBSCAN).
TINY = {
    **reliability.STUDY,
    "widths": [16, [32, 16]],
    "regularizations": ["none", "l2"],
    "clustering": {
        **reliability.STUDY["clustering"],
        "umap": {"n_neighbors": 10, "clusterer": {"name": "kmeans", "n_clusters": 10}},
    },
}
MODELS = ["mlp16-none-s0", "mlp16-l2-s0", "mlp32x16-none-s0", "mlp32x16-l2-s0"]
DEEP = "mlp32x16-none-s0"
LAYERS = {model: ["hidden_1", "output"] if model.startswith("mlp16-") else ["hidden_1", "hidden_2", "output"]
          for model in MODELS}
METHODS = TINY["clustering"]["methods"]


def snakemake(workdir, config, *args):
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(configfile), "--cores", "2", *args],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def planned_models(output: str) -> set[str]:
    return set(re.findall(r"model=(mlp[^\s,]+)", output))


def planned_jobs(output: str) -> set[tuple[str, str, str, str]]:
    """(rule, model, layer, method) of every job a dry run lists ("" where a rule has no such wildcard)."""
    jobs = re.findall(r"^rule (\w+):.*?wildcards: ([^\n]*)", output, flags=re.S | re.M)
    found = set()
    for rule, wildcards in jobs:
        values = dict(pair.split("=") for pair in wildcards.split(", "))
        found.add((rule, *(values.get(key, "") for key in ("model", "layer", "method"))))
    return found


def where(model, layer=None, method=None, **more):
    return {"dataset": "digits", "model": model, **({"layer": layer} if layer else {}),
            **({"method": method} if method else {}), **more}


def every_layer(*methods):
    """(model, layer, method) for every model of TINY, every analysed layer and each of ``methods``."""
    return [(model, layer, method) for model in MODELS for layer in LAYERS[model] for method in methods]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    snakemake(workdir, TINY)
    return workdir


def test_the_grid_is_trained_and_recorded(finished):
    for model in MODELS:
        where = {"dataset": "digits", "model": model}
        acts = store.read_activations(finished / paths.ACTIVATIONS.format(**where))
        widths = models.ModelId.parse(model).widths
        assert [h.shape[1] for h in acts.hidden] == list(widths) and acts.output.shape[1] == 10
        assert store.read_attrs(finished / paths.WEIGHTS.format(**where))["model"] == model
        for pattern in (paths.MODEL_STATE, paths.METRICS):
            assert (finished / pattern.format(**where)).is_file()
        assert (finished / paths.for_rule(paths.LOG, "train").format(**where)).read_text().count("epoch ") >= 5
        assert (finished / paths.for_rule(paths.BENCHMARK, "train").format(**where)).is_file()


def test_nothing_to_do_after_a_complete_run(finished):
    assert "Nothing to be done" in snakemake(finished, TINY, "-n")


def test_changing_l2_strength_reruns_only_l2_models(finished):
    changed = {**TINY, "regularization": {"l2": {"strength": 0.01}}}
    assert planned_models(snakemake(finished, changed, "-n")) == {"mlp16-l2-s0", "mlp32x16-l2-s0"}


def test_changing_epochs_reruns_every_model(finished):
    changed = {**TINY, "training": {**TINY["training"], "epochs": 6}}
    assert planned_models(snakemake(finished, changed, "-n")) == set(MODELS)


def test_changing_a_umap_parameter_reruns_only_umap_jobs(finished):
    changed = {**TINY, "clustering": {**TINY["clustering"], "umap": {**TINY["clustering"]["umap"], "min_dist": 0.3}}}
    jobs = planned_jobs(snakemake(finished, changed, "-n"))
    # UMAP's clusterings of every layer, then what reads them: each layer's analysis and figures (all
    # methods' at once; k-means' manifold is drawn on the UMAP embedding), the weight images where the
    # ranked layer is the first, each model's flow and figures across layers, and the summary.
    expected = {("cluster", m, layer, "umap") for m, layer, _ in every_layer("umap")}
    expected |= {(rule, m, layer, "") for m, layer, _ in every_layer("") for rule in ("analyse_layer", "layer_figures")}
    expected |= {("image_figures", m, layer, "") for m, layer, _ in every_layer("")
                 if layer == "hidden_1" or (layer == "output" and m.startswith("mlp16-"))}
    expected |= {(rule, m, "", "") for m in MODELS for rule in ("flow", "model_figures")} | {("summary", "", "", "")}
    # The space of every hidden layer's neurons reads the rankings; the first layer's weight images with it.
    expected |= {("neurons", m, layer, "") for m, layer, _ in every_layer("") if layer != "output"}
    expected |= {("neuron_filters", m, "hidden_1", "") for m in MODELS}
    assert jobs == expected


def test_changing_top_k_reruns_only_rankings(finished):
    changed = {**TINY, "clustering": {**TINY["clustering"], "top_k": 3}}
    rules = {job[0] for job in planned_jobs(snakemake(finished, changed, "-n"))}
    assert rules == {"analyse_layer", "layer_figures", "image_figures", "summary", "neurons", "neuron_filters"}


def test_choosing_the_last_layer_drops_the_others(finished):
    changed = {**TINY, "analysis": {"layers": "last"}}
    jobs = planned_jobs(snakemake(finished, changed, "-n", "--forceall"))
    assert {layer for rule, model, layer, _ in jobs if rule == "cluster" and model == DEEP} == {"hidden_2", "output"}


def recount(hidden, labels, k):
    """The ranking counted the slow, obvious way: per point, sort its active neurons."""
    counts = {}
    for point, label in enumerate(labels):
        if label < 0:
            continue
        active = [(-value, neuron) for neuron, value in enumerate(hidden[point]) if value > 0]
        for _, neuron in sorted(active)[:k]:
            counts[(label, neuron)] = counts.get((label, neuron), 0) + 1
    return counts


@pytest.mark.parametrize("model, layer, method", every_layer(*METHODS))
def test_clusters_partition_the_points_and_rankings_recount(finished, model, layer, method):
    """Every ranking of every model, layer and method, recounted from the HDF5 files."""
    import pandas as pd

    here = where(model, layer, method)
    acts = store.read_activations(finished / paths.ACTIVATIONS.format(**here))
    clusters = store.read_clusters(finished / paths.CLUSTERS.format(**here))
    labels = clusters.labels
    assert len(labels) == len(acts.labels) and labels.min() >= -1
    assert set(labels[labels >= 0]) == set(range(clusters.n_clusters)) and clusters.n_clusters >= 2
    assert clusters.attrs["method"] == method and clusters.attrs["space"] == layer
    assert json.loads(clusters.attrs["parameters"]) == TINY["clustering"][method]

    ranking = pd.read_csv(finished / paths.RANKING.format(**here))
    ranked = LAYERS[model][:-1] if layer == "output" else [layer]
    assert list(dict.fromkeys(ranking["layer"])) == ranked
    assert (ranking["space"] == layer).all() and (ranking["method"] == method).all() and (ranking["model"] == model).all()
    sizes = np.bincount(labels[labels >= 0])
    for name in ranked:
        rows = ranking[ranking["layer"] == name]
        expected = recount(acts.layer(name), labels, k=5)
        assert {(r.cluster, r.neuron): r.count for r in rows.itertuples()} == expected
        np.testing.assert_allclose(rows["fraction"], rows["count"] / sizes[rows["cluster"]])

    table = pd.read_csv(finished / paths.CLUSTER_TABLE.format(**here))
    assert table.loc[table.cluster >= 0, "size"].tolist() == sizes.tolist()
    if method in ("tsne", "umap", "mapper"):
        assert clusters.embedding.shape == (len(labels), 2)
    if method == "mapper":
        graph = clusters.graph
        members = np.zeros(len(labels), dtype=bool)
        members[graph["node_points"]] = True
        assert np.array_equal(members, labels >= 0), "a point is labelled exactly when it is in some node"


def test_rerun_gives_identical_activations(finished, tmp_path):
    snakemake(tmp_path, {**TINY, "widths": [16], "regularizations": ["l2"]})
    where = {"dataset": "digits", "model": "mlp16-l2-s0"}
    first = store.read_activations(finished / paths.ACTIVATIONS.format(**where))
    second = store.read_activations(tmp_path / paths.ACTIVATIONS.format(**where))
    assert np.array_equal(first.hidden[0], second.hidden[0]) and np.array_equal(first.output, second.output)


def test_every_figure_exists_and_one_figure_is_one_job(finished):
    from nntopo import figures

    png = lambda path: (finished / path).stat().st_size > 10_000  # noqa: E731
    for model in MODELS:
        for figure in ("activations", "weights"):
            assert png(paths.MODEL_FIGURE.format(figure=figure, **where(model)))
        for method in METHODS:
            assert png(paths.FLOW_FIGURE.format(figure="sankey", **where(model, method=method)))
        assert png(paths.FLOW_FIGURE.format(figure="mapper_layers", **where(model, method="mapper")))
        for layer in LAYERS[model]:
            assert png(paths.LAYER_FIGURE.format(figure="agreement", **where(model, layer)))
            for method in METHODS:
                drawn = [*figures.METHOD_FIGURES, *(["mapper_graph"] if method == "mapper" else [])]
                # Weight images only where the ranked layer's inputs are the pixels: never a deeper layer's.
                pixels = layer == "hidden_1" or (layer == "output" and len(LAYERS[model]) == 2)
                for figure in drawn + ["neurons", "transformed"]:
                    path = finished / paths.METHOD_FIGURE.format(figure=figure, **where(model, layer, method))
                    assert path.is_file() == (figure in drawn or pixels), path
    for method in METHODS:
        assert (finished / paths.SUMMARY_DEPTH_FIGURE.format(dataset="digits", method=method)).is_file()
    assert (finished / paths.SUMMARY_FIGURE.format(dataset="digits")).is_file()

    target = finished / paths.METHOD_FIGURE.format(figure="neurons", **where(DEEP, "hidden_1", "tsne"))
    target.unlink()
    jobs = planned_jobs(snakemake(finished, TINY, "-n", str(target.relative_to(finished))))
    assert jobs == {("image_figures", DEEP, "hidden_1", "")}
    snakemake(finished, TINY, str(target.relative_to(finished)))
    assert target.is_file()


def test_report_builds_with_every_figure(finished):
    snakemake(finished, TINY, "--report", "results/report.html")
    page = (finished / "results" / "report.html").read_text()
    for name in ("mapper_graph.png", "transformed.png", "summary.png", "sankey.png", "mapper_layers.png",
                 "depth_umap.png", "layers.html"):
        assert name in page, name


def test_mapper_pages_draw_every_stored_node_offline(finished, chromium, tmp_path):
    from tests.unit.figures.test_mapper_page import drawn, render_dom

    for layer in LAYERS[DEEP]:
        here = where(DEEP, layer, "mapper")
        graph = store.read_clusters(finished / paths.CLUSTERS.format(**here)).graph
        dom = render_dom(chromium, finished / paths.MAPPER_PAGE.format(**here), tmp_path)
        nodes, links = drawn(dom)
        assert nodes == len(graph["node_ptr"]) - 1 and links == len(graph["edges"])


def test_graph_files_open_in_networkx(finished):
    import networkx as nx

    for layer in LAYERS[DEEP]:
        here = where(DEEP, layer, "mapper")
        graph = store.read_clusters(finished / paths.CLUSTERS.format(**here)).graph
        read = nx.read_graphml(finished / paths.MAPPER_GRAPH_FILE.format(**here))
        assert read.number_of_nodes() == len(graph["node_ptr"]) - 1
        assert read.number_of_edges() == len(graph["edges"])


def layer_forward(weights, x, silenced_layer=None, silenced=()):
    """Every layer's activations from the inputs, the plain way, ReLU between the layers, with the
    neurons ``silenced`` of ``silenced_layer`` set to zero; returns the logits."""
    names = list(weights)
    for name in names[:-1]:
        x = np.maximum(x @ weights[name].weight.T + weights[name].bias, 0)
        if name == silenced_layer:
            x = x.copy()
            x[:, list(silenced)] = 0
    return x @ weights[names[-1]].weight.T + weights[names[-1]].bias


@pytest.mark.parametrize("model, layer", [("mlp32x16-none-s0", "hidden_1"), ("mlp32x16-none-s0", "output"),
                                          ("mlp16-none-s0", "output")])
def test_ablation_numbers_recomputed_from_the_inputs(finished, model, layer):
    import pandas as pd

    from nntopo.data import load

    here = where(model, layer, "kmeans")
    table = pd.read_csv(finished / paths.ABLATION.format(**here))
    assert {"cluster", "neurons", "acc_cluster_before", "acc_cluster_after", "acc_other_before",
            "acc_other_after", "random_mean", "random_std", "p_value"} <= set(table.columns)
    weights = store.read_weights(finished / paths.WEIGHTS.format(**here))
    acts = store.read_activations(finished / paths.ACTIVATIONS.format(**here))
    labels = store.read_clusters(finished / paths.CLUSTERS.format(**here)).labels
    ranking = pd.read_csv(finished / paths.RANKING.format(**here))
    assert list(dict.fromkeys(table["layer"])) == list(dict.fromkeys(ranking["layer"]))
    x = load("digits").x_test  # recompute from the inputs, not from the stored activations
    for row in table.itertuples():
        top = ranking[(ranking.layer == row.layer) & (ranking.cluster == row.cluster) & (ranking["rank"] <= 5)]
        assert row.neurons.split() == [str(n) for n in top.neuron]
        logits = layer_forward(weights, x, row.layer, top.neuron.to_numpy())
        own = labels == row.cluster
        assert np.mean(logits[own].argmax(1) == acts.labels[own]) == pytest.approx(row.acc_cluster_after)
        assert np.mean(logits[~own].argmax(1) == acts.labels[~own]) == pytest.approx(row.acc_other_after)
        assert 0 < row.p_value <= 1


def test_probe_recomputed_independently_for_one_layer(finished):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from nntopo.analysis.flow import PROBE_C, PROBE_MAX_ITER, PROBE_TOL

    table = pd.read_csv(finished / paths.PROBE.format(**where(DEEP))).set_index("layer")
    assert list(table.index) == LAYERS[DEEP]
    acts = store.read_activations(finished / paths.ACTIVATIONS.format(**where(DEEP)))
    fit = np.zeros(len(acts.labels), dtype=bool)
    fit[np.random.default_rng(TINY.get("analysis", {}).get("probe_seed", 0)).permutation(len(fit))[:len(fit) // 2]] = True
    x = acts.layer("hidden_2")
    scaler = StandardScaler().fit(x[fit])
    scaler.scale_[scaler.scale_ == 0] = 1.0
    probe = LogisticRegression(C=PROBE_C, max_iter=PROBE_MAX_ITER, tol=PROBE_TOL).fit(scaler.transform(x[fit]),
                                                                                     acts.labels[fit])
    accuracy = np.mean(probe.predict(scaler.transform(x[~fit])) == acts.labels[~fit])
    assert table.loc["hidden_2", "probe_accuracy"] == pytest.approx(accuracy, abs=1e-9)


def test_flow_between_layers(finished):
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    flow = pd.read_csv(finished / paths.FLOW.format(**where(DEEP, method="kmeans")))
    assert list(flow["layer"]) == LAYERS[DEEP] and flow.set_index("layer").loc["output", "ari_output"] == 1.0
    labels = {layer: store.read_clusters(finished / paths.CLUSTERS.format(**where(DEEP, layer, "kmeans"))).labels
              for layer in LAYERS[DEEP]}
    # k-means assigns every point, so the ARI is scikit-learn's on all of them.
    assert flow.set_index("layer").loc["hidden_1", "ari_next"] == pytest.approx(
        adjusted_rand_score(labels["hidden_1"], labels["hidden_2"]))
    counts = pd.read_csv(finished / paths.CONTINGENCY.format(**where(DEEP, method="kmeans")))
    first = counts[counts.layer_a == "hidden_1"]
    assert first["count"].sum() == len(labels["hidden_1"])
    assert first.groupby("cluster_a")["count"].sum().tolist() == np.bincount(labels["hidden_1"]).tolist()
    layers = pd.read_csv(finished / paths.SUMMARY_LAYERS.format(dataset="digits"))
    assert len(layers) == sum(len(LAYERS[m]) for m in MODELS) * len(METHODS)
    assert layers["probe_accuracy"].notna().all()


def test_agreement_table_and_summaries(finished):
    import pandas as pd

    for layer in LAYERS[DEEP]:
        table = pd.read_csv(finished / paths.AGREEMENT.format(**where(DEEP, layer)))
        assert (table["space"] == layer).all()
        pairs = table[table.method_a != table.method_b]
        assert len(pairs) == len(METHODS) * (len(METHODS) - 1) // 2 and pairs.ari.between(-1, 1).all()
        purity = table[table.method_a == table.method_b].set_index("method_a")["purity"]
        assert sorted(purity.index) == sorted(METHODS) and (purity > 0.3).all()
    summary = pd.read_csv(finished / paths.SUMMARY_TABLE.format(dataset="digits"))
    assert sorted(summary.model) == sorted(MODELS)
    for method in METHODS:
        assert summary[f"sharpness_{method}"].between(0, 1).all()
        assert summary[f"ablation_hurt_share_{method}"].between(0, 1).all()
    ablation = pd.read_csv(finished / paths.SUMMARY_ABLATION.format(dataset="digits"))
    # One row per model, clustered layer, method and ranked layer: hidden layers rank their own
    # neurons, the output every hidden layer's.
    assert len(ablation) == sum(2 * (len(LAYERS[m]) - 1) for m in MODELS) * len(METHODS)
    assert (ablation["hurt_more_than_random_bh"] <= ablation["hurt_more_than_random"]).all()


def test_several_seeds_give_seed_stability(tmp_path):
    import pandas as pd

    config = {**TINY, "widths": [16], "regularizations": ["none"], "seeds": [0, 1],
              "clustering": {**TINY["clustering"], "methods": ["kmeans"]}}
    plan = planned_jobs(snakemake(tmp_path, config, "-n"))
    assert {("train", "mlp16-none-s0", "", ""), ("train", "mlp16-none-s1", "", ""),
            ("seed_stability", "", "", "")} <= plan
    snakemake(tmp_path, config, str(paths.SEED_STABILITY.format(dataset="digits")))
    table = pd.read_csv(tmp_path / paths.SEED_STABILITY.format(dataset="digits"))
    assert sorted(table.space) == ["hidden_1", "output"] and (table.method == "kmeans").all()
    assert table.ari.between(0, 1, inclusive="right").all()
    assert not any("neuron" in column for column in table.columns), "neurons are not aligned across seeds"
