"""End to end: the homology stage on a shape of known topology (disks) and on the digits study.

The disks study clusters with Mapper alone, so that the figures of clusters run on a dataset with no
pixels: every figure of images must be left out, none drawn wrong.
"""

import json

import numpy as np
import pandas as pd
import pytest

from nntopo import paths, store
from nntopo.data import shapes
from nntopo.topology import homology
from tests.workflow.test_workflow import planned_jobs, snakemake

pytestmark = pytest.mark.workflow

DISKS = {
    "datasets": ["disks"],
    "widths": [[8, 8]],
    "activations": ["relu", "tanh"],
    "regularizations": ["none"],
    "training": {"epochs": 3, "batch_size": 128, "lr": 0.01},
    "device": "cpu",
    "clustering": {"methods": ["mapper"], "mapper": {"n_cubes": 5, "min_samples": 5}},
    "figures": {"embedding": "mapper"},
    "homology": {"diagram_points": 60},  # k, epsilon, the shape's sizes: the defaults
}
MODELS = ["mlp8x8-none-s0", "mlp8x8-tanh-none-s0"]
LAYERS = ["input", "hidden_1", "hidden_2", "output"]


def at(pattern, model=None, **more):
    return pattern.format(dataset="disks", **({"model": model} if model else {}), **more)


@pytest.fixture(scope="module")
def disks(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("disks")
    snakemake(workdir, DISKS)
    return workdir


def test_the_input_layer_has_the_known_betti_numbers(disks):
    """At the default k and epsilon the input layer of disks shows a = (9, 0), b = (1, 9), in the
    dataset's file and in every model's, recomputed here from the generated points."""
    data, attrs = store.read_shape_data(disks / at(paths.DATA_FILE))
    assert {int(c): b[:2] for c, b in json.loads(attrs["known_betti"]).items()} == {0: [9, 0], 1: [1, 9]}
    first = store.read_homology(disks / at(paths.INPUT_HOMOLOGY))
    k, epsilon = first.attrs["k"], first.attrs["epsilon"]
    for c in (0, 1):
        assert np.array_equal(first.points[c], np.flatnonzero(data["y_test"] == c))  # every test point
        recomputed = homology.rips_betti(data["x_test"][first.points[c]], k, epsilon).at_epsilon
        assert recomputed.tolist() == list(shapes.KNOWN_BETTI["disks"][c][:2])
        assert first.layers["input"][c].betti[-1].tolist() == recomputed.tolist()
    for model in MODELS:
        table = pd.read_csv(disks / at(paths.HOMOLOGY_TABLE, model))
        inputs = table[table["layer"] == "input"].set_index("class")
        assert inputs.loc[0, ["b0", "b1"]].tolist() == [9, 0] and inputs.loc[1, ["b0", "b1"]].tolist() == [1, 9]


def test_every_layer_is_measured_on_the_same_images(disks):
    """Each model's file holds every layer in depth order; one hidden layer's Betti numbers and its
    diagrams' distance to the previous layer are recomputed from activations.h5 and the stored indices."""
    for model in MODELS:
        result = store.read_homology(disks / at(paths.HOMOLOGY, model))
        first = store.read_homology(disks / at(paths.INPUT_HOMOLOGY))
        assert list(result.layers) == LAYERS
        for c in (0, 1):
            assert np.array_equal(result.points[c], first.points[c])
            assert np.array_equal(result.subsample[c], first.subsample[c])
            assert len(result.subsample[c]) == 60
        acts = store.read_activations(disks / at(paths.ACTIVATIONS, model))
        for c in (0, 1):
            points, sub = acts.layer("hidden_2")[result.points[c]], acts.layer("hidden_2")[result.subsample[c]]
            betti = homology.rips_betti(points, result.attrs["k"], result.attrs["epsilon"])
            assert np.array_equal(result.layers["hidden_2"][c].betti, betti.numbers)
            before = acts.layer("hidden_1")[result.subsample[c]]
            previous, _ = homology.diagrams(before)
            now, diameter = homology.diagrams(sub)
            assert diameter == pytest.approx(result.layers["hidden_2"][c].diameter)
            import persim

            finite = [d[np.isfinite(d[:, 1])] for d in (previous[1], now[1])]
            assert result.layers["hidden_2"][c].bottleneck[1] == pytest.approx(persim.bottleneck(*finite))
        table = pd.read_csv(disks / at(paths.HOMOLOGY_TABLE, model))
        assert table["omega"].tolist() == (table["b0"] + table["b1"]).tolist()
        assert table["layer"].drop_duplicates().tolist() == LAYERS


def test_no_figure_of_images_for_a_point_cloud(disks):
    """disks has no pixels: no weight image, no transformed input, and nothing left to do."""
    assert not list((disks / "results").rglob("neurons.png"))
    assert not list((disks / "results").rglob("transformed.png"))
    assert (disks / at(paths.METHOD_FIGURE, MODELS[0], layer="hidden_1", method="mapper", figure="mapper_graph")).is_file()
    assert "Nothing to be done" in snakemake(disks, DISKS, "-n")


def test_homology_figures_and_summary(disks):
    for model in MODELS:
        for figure in ("persistence_diagrams", "diagram_distances"):
            assert (disks / at(paths.HOMOLOGY_FIGURE, model, figure=figure)).stat().st_size > 10_000
    summary = pd.read_csv(disks / at(paths.SUMMARY_HOMOLOGY))
    assert sorted(summary["model"].unique()) == sorted(MODELS)
    assert len(summary) == len(MODELS) * len(LAYERS) * 2
    for model in MODELS:  # each model's accuracy beside its rows: the paper reads only perfect classifiers
        metrics = json.loads((disks / at(paths.METRICS, model)).read_text())
        rows = summary[summary["model"] == model]
        assert (rows["train_accuracy"] == 1 - metrics["train_error"]).all()  # every training point, after training
        assert (rows["test_accuracy"] == metrics["test_accuracy"]).all()
    assert (disks / at(paths.SUMMARY_BETTI_FIGURE)).stat().st_size > 10_000


def test_changing_k_reruns_only_the_homology(disks):
    jobs = planned_jobs(snakemake(disks, {**DISKS, "homology": {**DISKS["homology"], "k": 20}}, "-n"))
    assert {rule for rule, *_ in jobs} == {"input_homology", "homology", "homology_figures", "homology_summary"}


def test_the_accuracy_floor_of_the_figure_redraws_the_summary_alone(disks):
    jobs = planned_jobs(snakemake(disks, {**DISKS, "figures": {**DISKS["figures"], "min_train_accuracy": 0.99}}, "-n"))
    assert {rule for rule, *_ in jobs} == {"homology_summary"}


def test_changing_the_shape_seed_regenerates_and_retrains(disks):
    jobs = planned_jobs(snakemake(disks, {**DISKS, "shapes": {"seed": 1}}, "-n"))
    assert {"shape_data", "train", "input_homology", "homology", "cluster"} <= {rule for rule, *_ in jobs}


def test_a_study_without_clustering_trains_and_measures_homology_and_neural_persistence_only(tmp_path):
    jobs = planned_jobs(snakemake(tmp_path, {**DISKS, "clustering": {"methods": []}}, "-n"))
    assert {rule for rule, *_ in jobs} == {"shape_data", "train", "input_homology", "homology", "homology_figures",
                                           "homology_summary", "neural_persistence_summary"}
