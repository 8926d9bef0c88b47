"""The CNN study end to end: a small CNN beside an MLP on digits through every stage, its channel
rankings recounted from the files, and its settings rerunning the CNN alone."""


import pytest

from nntopo import store
from tests.unit.network.test_cnn import SMALL, TRAINING

STUDY = {
    "datasets": ["digits"],
    "widths": [16],
    "cnns": [SMALL],
    "regularizations": ["none"],
    "training": {**TRAINING, "epochs": 5},
    "device": "cpu",
    "clustering": {"methods": ["kmeans", "mapper"], "top_k": 3, "kmeans": {"n_clusters": 8},
                   "mapper": {"n_cubes": 5, "min_samples": 5}},
    "figures": {"embedding": "mapper"},
    "ablation": {"n_random": 20},
    "homology": {"points_per_class": None, "diagram_points": 30, "k": 10},
}
CNN, MLP = "cnn4x6-p1-d12-none-s0", "mlp16-none-s0"
CNN_LAYERS = ["hidden_1", "hidden_2", "hidden_3", "output"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from tests.workflow.test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("cnn_study")
    snakemake(workdir, STUDY)
    return workdir


def here(model, layer=None, method=None):
    return {"dataset": "digits", "model": model, **({"layer": layer} if layer else {}),
            **({"method": method} if method else {})}


@pytest.mark.workflow
@pytest.mark.parametrize("layer", CNN_LAYERS)
@pytest.mark.parametrize("method", STUDY["clustering"]["methods"])
def test_channel_rankings_recount_and_every_channel_layer_is_ablated(study, layer, method):
    """Every ranking of the CNN, channels included, recounted from the HDF5 files; the ablation
    silences each ranked layer's top channels or neurons."""
    import pandas as pd

    from nntopo import paths
    from tests.workflow.test_workflow import recount

    acts = store.read_activations(study / paths.ACTIVATIONS.format(**here(CNN)))
    labels = store.read_clusters(study / paths.CLUSTERS.format(**here(CNN, layer, method))).labels
    ranking = pd.read_csv(study / paths.RANKING.format(**here(CNN, layer, method)))
    ranked = CNN_LAYERS[:-1] if layer == "output" else [layer]
    assert list(dict.fromkeys(ranking["layer"])) == ranked
    for name in ranked:
        rows = ranking[ranking["layer"] == name]
        assert {(r.cluster, r.neuron): r.count for r in rows.itertuples()} == recount(acts.layer(name), labels, k=3)
    ablation = pd.read_csv(study / paths.ABLATION.format(**here(CNN, layer, method)))
    assert list(dict.fromkeys(ablation["layer"])) == ranked
    assert set(ablation["cluster"]) == set(labels[labels >= 0]) and (ablation["n_silenced"] <= 3).all()


@pytest.mark.workflow
def test_the_study_has_every_stage_for_the_cnn(study):
    from nntopo import paths

    for layer in CNN_LAYERS[:-1]:  # the space of neurons (channels) of every hidden layer
        assert (study / paths.NEURON_SPACE.format(**here(CNN, layer))).is_file()
    assert (study / paths.NEURON_FIGURE.format(**here(CNN, "hidden_1"), figure="neuron_filters")).is_file()
    # The CNN's own figures: its filters, its top channels' kernels and what its channels respond to.
    assert (study / paths.MODEL_FIGURE.format(**here(CNN), figure="filters")).is_file()
    for method in STUDY["clustering"]["methods"]:
        figure = lambda layer, name: study / paths.METHOD_FIGURE.format(**here(CNN, layer, method), figure=name)
        assert figure("hidden_1", "neurons").is_file() and not figure("hidden_1", "transformed").exists()
        assert figure("hidden_1", "channels").is_file() and figure("hidden_2", "channels").is_file()
        assert not figure("hidden_3", "channels").exists()  # a dense layer's neurons are no channels
    homology = store.read_homology(study / paths.HOMOLOGY.format(**here(CNN)))
    assert {"hidden_1", "hidden_2", "hidden_3", "output"} <= set(homology.layers)
    summary = (study / paths.SUMMARY_TABLE.format(dataset="digits")).read_text()
    assert CNN in summary and MLP in summary


@pytest.mark.workflow
def test_cnn_settings_rerun_only_the_cnn(study):
    from tests.workflow.test_workflow import planned_jobs, snakemake

    for change in ({"spatial_reduction": "mean"}, {"cnns": [{**SMALL, "kernel": 3}, {**SMALL, "channels": [5]}]}):
        jobs = planned_jobs(snakemake(study, {**STUDY, **change}, "-n"))
        trained = {model for rule, model, _, _ in jobs if rule == "train"}
        assert trained and MLP not in trained and all(model.startswith("cnn") for model in trained)
