"""End to end: Snakemake runs the grid on the embedded digits, then reruns only what a change touches."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nntopo import layout, paths
from tests import reliability
from tests.conftest import ROOT
from tests.test_mapper_page import chromium  # noqa: F401  (a fixture)

pytestmark = pytest.mark.workflow

# The reliability study on two widths and both regularizations; UMAP's clusterer is k-means here, so
# that the workflow runs both clusterers of embeddings (the reliability study's is HDBSCAN).
TINY = {
    **reliability.STUDY,
    "widths": [16, 32],
    "regularizations": ["none", "l2"],
    "clustering": {
        **reliability.STUDY["clustering"],
        "umap": {"n_neighbors": 10, "clusterer": {"name": "kmeans", "n_clusters": 10}},
    },
}
MODELS = ["mlp16-none-s0", "mlp16-l2-s0", "mlp32-none-s0", "mlp32-l2-s0"]


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
    """(rule, model, method, figure) of every job a dry run lists ("" where a rule has no such wildcard)."""
    jobs = re.findall(r"^rule (\w+):.*?wildcards: ([^\n]*)", output, flags=re.S | re.M)
    found = set()
    for rule, wildcards in jobs:
        values = dict(pair.split("=") for pair in wildcards.split(", "))
        found.add((rule, *(values.get(key, "") for key in ("model", "method", "figure"))))
    return found


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    snakemake(workdir, TINY)
    return workdir


def test_the_grid_is_trained_and_recorded(finished):
    for model in MODELS:
        where = {"dataset": "digits", "model": model}
        acts = layout.read_activations(finished / paths.ACTIVATIONS.format(**where))
        assert acts.hidden[0].shape[1] == int(model[3:5]) and acts.output.shape[1] == 10
        assert layout.read_attrs(finished / paths.WEIGHTS.format(**where))["model"] == model
        for pattern in (paths.MODEL_STATE, paths.METRICS):
            assert (finished / pattern.format(**where)).is_file()
        assert (finished / paths.for_rule(paths.LOG, "train").format(**where)).read_text().count("epoch ") >= 5
        assert (finished / paths.for_rule(paths.BENCHMARK, "train").format(**where)).is_file()


def test_nothing_to_do_after_a_complete_run(finished):
    assert "Nothing to be done" in snakemake(finished, TINY, "-n")


def test_changing_l2_strength_reruns_only_l2_models(finished):
    changed = {**TINY, "regularization": {"l2": {"strength": 0.01}}}
    assert planned_models(snakemake(finished, changed, "-n")) == {"mlp16-l2-s0", "mlp32-l2-s0"}


def test_changing_epochs_reruns_every_model(finished):
    changed = {**TINY, "training": {**TINY["training"], "epochs": 6}}
    assert planned_models(snakemake(finished, changed, "-n")) == set(MODELS)


def test_changing_a_umap_parameter_reruns_only_umap_jobs(finished):
    changed = {**TINY, "clustering": {**TINY["clustering"], "umap": {**TINY["clustering"]["umap"], "min_dist": 0.3}}}
    jobs = planned_jobs(snakemake(finished, changed, "-n"))
    for model in MODELS:
        assert {("cluster", model, "umap", ""), ("rank", model, "umap", "")} <= jobs
    # Besides UMAP's own jobs and figures, only what reads every method's clusters reruns: k-means'
    # figures (its manifold is drawn on the UMAP embedding), each model's agreement table and figures,
    # and the summary.
    others = {job for job in jobs if job[2] != "umap"}
    assert others == {("summary", "", "", "")} | {
        job for m in MODELS for job in (("method_figures", m, "kmeans", ""), ("agreement", m, "", ""),
                                        ("model_figures", m, "", ""))}


def test_changing_top_k_reruns_only_rankings(finished):
    changed = {**TINY, "clustering": {**TINY["clustering"], "top_k": 3}}
    jobs = planned_jobs(snakemake(finished, changed, "-n"))
    methods = TINY["clustering"]["methods"]
    assert {job for job in jobs if job[0] not in ("method_figures", "summary")} == {
        (rule, model, method, "") for rule in ("rank", "ablation") for model in MODELS for method in methods
    } | {("mapper_page", model, "mapper", "") for model in MODELS}
    assert not {job[0] for job in jobs} & {"train", "cluster", "agreement"}


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


@pytest.mark.parametrize("method", TINY["clustering"]["methods"])
def test_clusters_partition_the_points_and_rankings_recount(finished, method):
    import pandas as pd

    where = {"dataset": "digits", "model": "mlp16-l2-s0", "method": method}
    acts = layout.read_activations(finished / paths.ACTIVATIONS.format(**where))
    clusters = layout.read_clusters(finished / paths.CLUSTERS.format(**where))
    labels = clusters.labels
    assert len(labels) == len(acts.labels) and labels.min() >= -1
    assert set(labels[labels >= 0]) == set(range(clusters.n_clusters)) and clusters.n_clusters >= 2
    assert clusters.attrs["method"] == method and clusters.attrs["space"] == "output"
    assert json.loads(clusters.attrs["parameters"]) == TINY["clustering"][method]

    ranking = pd.read_csv(finished / paths.RANKING.format(**where))
    expected = recount(acts.hidden[0], labels, k=5)
    assert {(r.cluster, r.neuron): r.count for r in ranking.itertuples()} == expected
    sizes = np.bincount(labels[labels >= 0])
    np.testing.assert_allclose(ranking["fraction"], ranking["count"] / sizes[ranking["cluster"]])

    table = pd.read_csv(finished / paths.CLUSTER_TABLE.format(**where))
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
    first = layout.read_activations(finished / paths.ACTIVATIONS.format(**where))
    second = layout.read_activations(tmp_path / paths.ACTIVATIONS.format(**where))
    assert np.array_equal(first.hidden[0], second.hidden[0]) and np.array_equal(first.output, second.output)


def test_every_figure_exists_and_one_figure_is_one_job(finished):
    where = {"dataset": "digits", "model": "mlp32-none-s0"}
    for figure in ("activations", "weights"):
        assert (finished / paths.MODEL_FIGURE.format(figure=figure, **where)).stat().st_size > 10_000
    for method in TINY["clustering"]["methods"]:
        figures_ = ["heatmap", "barplot", "manifold", "neurons", "transformed"] + (["mapper_graph"] if method == "mapper" else [])
        for figure in figures_:
            assert (finished / paths.METHOD_FIGURE.format(method=method, figure=figure, **where)).stat().st_size > 10_000
    assert (finished / paths.SUMMARY_FIGURE.format(dataset="digits")).is_file()

    target = finished / paths.METHOD_FIGURE.format(method="tsne", figure="neurons", **where)
    target.unlink()
    jobs = planned_jobs(snakemake(finished, TINY, "-n", str(target.relative_to(finished))))
    assert jobs == {("method_figures", "mlp32-none-s0", "tsne", "")}
    snakemake(finished, TINY, str(target.relative_to(finished)))
    assert target.is_file()


def test_report_builds_with_every_figure(finished):
    snakemake(finished, TINY, "--report", "results/report.html")
    page = (finished / "results" / "report.html").read_text()
    assert "mapper_graph.png" in page and "transformed.png" in page and "summary.png" in page


def test_mapper_page_draws_every_stored_node_offline(finished, chromium, tmp_path):
    from tests.test_mapper_page import drawn, render_dom

    where = {"dataset": "digits", "model": "mlp16-none-s0", "method": "mapper"}
    graph = layout.read_clusters(finished / paths.CLUSTERS.format(**where)).graph
    dom = render_dom(chromium, finished / paths.MAPPER_PAGE.format(**where), tmp_path)
    nodes, links = drawn(dom)
    assert nodes == len(graph["node_ptr"]) - 1 and links == len(graph["edges"])


def test_ablation_number_recomputed_from_weights_and_ranking(finished):
    import pandas as pd

    where = {"dataset": "digits", "model": "mlp32-none-s0", "method": "kmeans"}
    table = pd.read_csv(finished / paths.ABLATION.format(**where))
    assert {"cluster", "neurons", "acc_cluster_before", "acc_cluster_after", "acc_other_before",
            "acc_other_after", "random_mean", "random_std", "p_value"} <= set(table.columns)
    weights = layout.read_weights(finished / paths.WEIGHTS.format(**where))
    acts = layout.read_activations(finished / paths.ACTIVATIONS.format(**where))
    labels = layout.read_clusters(finished / paths.CLUSTERS.format(**where)).labels
    ranking = pd.read_csv(finished / paths.RANKING.format(**where))
    from nntopo.data import load

    x = load("digits").x_test  # recompute from the inputs, not from the stored activations
    hidden = np.maximum(x @ weights["hidden_1"].weight.T + weights["hidden_1"].bias, 0)
    for row in table.itertuples():
        top = ranking[(ranking.cluster == row.cluster) & (ranking["rank"] <= 5)].neuron.to_numpy()
        assert row.neurons.split() == [str(n) for n in top]
        silenced = hidden.copy()
        silenced[:, top] = 0
        logits = silenced @ weights["output"].weight.T + weights["output"].bias
        own = labels == row.cluster
        assert np.mean(logits[own].argmax(1) == acts.labels[own]) == pytest.approx(row.acc_cluster_after)
        assert np.mean(logits[~own].argmax(1) == acts.labels[~own]) == pytest.approx(row.acc_other_after)
        assert 0 < row.p_value <= 1


def test_agreement_table_and_summaries(finished):
    import pandas as pd

    where = {"dataset": "digits", "model": "mlp16-l2-s0"}
    table = pd.read_csv(finished / paths.AGREEMENT.format(**where))
    methods = TINY["clustering"]["methods"]
    pairs = table[table.method_a != table.method_b]
    assert len(pairs) == len(methods) * (len(methods) - 1) // 2 and pairs.ari.between(-1, 1).all()
    purity = table[table.method_a == table.method_b].set_index("method_a")["purity"]
    assert sorted(purity.index) == sorted(methods) and (purity > 0.3).all()
    summary = pd.read_csv(finished / paths.SUMMARY_TABLE.format(dataset="digits"))
    assert sorted(summary.model) == sorted(MODELS)
    for method in methods:
        assert summary[f"sharpness_{method}"].between(0, 1).all()
        assert summary[f"ablation_hurt_share_{method}"].between(0, 1).all()
    assert len(pd.read_csv(finished / paths.SUMMARY_ABLATION.format(dataset="digits"))) == len(MODELS) * len(methods)


def test_several_seeds_give_seed_stability(tmp_path):
    import pandas as pd

    config = {**TINY, "widths": [16], "regularizations": ["none"], "seeds": [0, 1],
              "clustering": {**TINY["clustering"], "methods": ["kmeans"]}}
    plan = planned_jobs(snakemake(tmp_path, config, "-n"))
    assert {("train", "mlp16-none-s0", "", ""), ("train", "mlp16-none-s1", "", ""),
            ("seed_stability", "", "", "")} <= plan
    snakemake(tmp_path, config, str(paths.SEED_STABILITY.format(dataset="digits")))
    table = pd.read_csv(tmp_path / paths.SEED_STABILITY.format(dataset="digits"))
    assert len(table) == 1 and table.method[0] == "kmeans" and 0 < table.ari[0] <= 1
    assert not any("neuron" in column for column in table.columns), "neurons are not aligned across seeds"
