"""Networks brought to the study, end to end: a grid MLP, a network as a class and as a program, and
activations recorded elsewhere through every stage after training; a changed model file reruns that
network alone."""

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import paths, store
from tests.unit.network.test_cnn import TRAINING
from tests.unit.network.test_external import Tiny, digits, entry, files, record, settings_of  # noqa: F401  (digits, files: fixtures)
from tests.workflow.test_cnn_study import STUDY as CNN_STUDY

STUDY = {**{key: value for key, value in CNN_STUDY.items() if key != "cnns"}, "training": {**TRAINING, "epochs": 3}}
GRID = "mlp16-none-s0"


@pytest.fixture(scope="module")
def study(tmp_path_factory, files):
    """A grid MLP, the Tiny as a class and as a program (weights given for the first), and the Tiny's
    activations as if recorded elsewhere, studied together."""
    from tests.workflow.test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("external_study")
    shutil.copy(files.state, workdir / "tiny.pt")
    shutil.copy(files.program, workdir / "tiny.pt2")
    recorded = record(workdir / "elsewhere", settings_of(entry(files, layers=["conv", "act"])), weights=False)[0]
    externals = [
        {**entry(files, layers=["conv", "act"], weight_modules=["conv.0", "dense", "head"]), "state_dict": "tiny.pt"},
        {**entry(files, "program", layers=["conv", "act"]), "name": "tiny_program", "program": "tiny.pt2"},
        {"name": "theirs", "dataset": "digits", "activations": str(recorded.activations.relative_to(workdir))},
    ]
    snakemake(workdir, {**STUDY, "external": externals})
    return SimpleNamespace(dir=workdir, config={**STUDY, "external": externals})


def here(model, layer=None, method=None):
    return {"dataset": "digits", "model": model, **({"layer": layer} if layer else {}), **({"method": method} if method else {})}


@pytest.mark.workflow
@pytest.mark.parametrize("model", ["tiny", "tiny_program", "theirs"])
def test_every_stage_after_training_runs_on_an_external_network(study, model):
    import pandas as pd

    from tests.workflow.test_workflow import recount

    acts = store.read_activations(study.dir / paths.ACTIVATIONS.format(**here(model)))
    source = json.loads(acts.attrs["external"])
    for layer in ("hidden_1", "hidden_2", "output"):
        for method in STUDY["clustering"]["methods"]:
            clusters = store.read_clusters(study.dir / paths.CLUSTERS.format(**here(model, layer, method)))
            assert json.loads(clusters.attrs["external"]) == source  # provenance carried on
            ranking = pd.read_csv(study.dir / paths.RANKING.format(**here(model, layer, method)))
            for name in (["hidden_1", "hidden_2"] if layer == "output" else [layer]):
                rows = ranking[ranking["layer"] == name]
                assert {(r.cluster, r.neuron): r.count for r in rows.itertuples()} == recount(acts.layer(name),
                                                                                              clusters.labels, k=3)
            ablation = pd.read_csv(study.dir / paths.ABLATION.format(**here(model, layer, method)))
            assert ablation.empty == (model == "theirs")  # recorded activations: no network to silence units in
            assert (study.dir / paths.METHOD_FIGURE.format(**here(model, layer, method), figure="ablation")).is_file()
    homology = store.read_homology(study.dir / paths.HOMOLOGY.format(**here(model)))
    assert list(homology.layers) == ["input", "hidden_1", "hidden_2", "output"]
    assert json.loads(homology.attrs["external"]) == source
    assert (study.dir / paths.MODEL_FIGURE.format(**here(model), figure="weights")).is_file()
    summary = pd.read_csv(study.dir / paths.SUMMARY_TABLE.format(dataset="digits")).set_index("model")
    assert {GRID, "tiny", "tiny_program", "theirs"} == set(summary.index)
    has_weights = model == "tiny"
    assert (study.dir / paths.NEURON_SPACE.format(**here(model, "hidden_2"))).is_file() == has_weights
    assert np.isfinite(summary.loc[model, "mean_normalized_np"]) == has_weights


@pytest.mark.workflow
def test_the_log_says_why_recorded_activations_are_not_ablated(study):
    log = (study.dir / paths.LAYER_LOG.format(rule="analyse_layer", **here("theirs", "hidden_1"))).read_text()
    assert "ablation skipped" in log and "no network was given" in log


@pytest.mark.workflow
def test_a_changed_model_file_reruns_that_network_alone(study, files):
    import re

    from tests.workflow.test_workflow import snakemake

    assert "Nothing to be done" in snakemake(study.dir, study.config, "-n")
    torch.save(Tiny().state_dict(), study.dir / "tiny.pt")  # other weights
    plan = snakemake(study.dir, study.config, "-n")
    assert set(re.findall(r"model=(\w+)", plan)) == {"tiny"}
    assert {"external_tiny", "cluster", "analyse_layer", "summary", "homology_summary"} <= set(
        re.findall(r"^rule (\w+):", plan, flags=re.M))
    torch.save(files.model.state_dict(), study.dir / "tiny.pt")  # back as it was: the same checksum
