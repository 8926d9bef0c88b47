"""The weights stage's rules end to end: the space of neurons reads the rankings, not the training
logs; the space of filters gathers every seed of an architecture."""

import json
import os
import time

import pytest

from nntopo import paths, store
from tests.unit.weights.test_filters import STUDY as FILTER_STUDY
from tests.unit.weights.test_neurons import STUDY, at


@pytest.mark.workflow
def test_the_rule_reads_the_rankings_not_the_training_logs(tmp_path):
    from tests.workflow.test_workflow import planned_jobs, snakemake

    config = STUDY
    targets = [at(paths.NEURON_SPACE, layer=layer) for layer in ("hidden_1", "hidden_2")]
    targets.append(at(paths.NEURON_FIGURE, layer="hidden_1", figure="neuron_filters"))
    snakemake(tmp_path, config, *targets)
    first = store.read_neuron_space(tmp_path / targets[0])
    second = store.read_neuron_space(tmp_path / targets[1])
    # hidden_1 is ranked by its own clusters and the output's; hidden_2 likewise.
    assert first.top_k_sources == ["kmeans/hidden_1", "kmeans/output"]
    assert second.top_k_sources == ["kmeans/hidden_2", "kmeans/output"] and second.width == 12
    for layer in ("hidden_1", "hidden_2"):
        for figure in paths.NEURON_FIGURES:
            assert (tmp_path / at(paths.NEURON_FIGURE, layer=layer, figure=figure)).stat().st_size > 10_000
    assert (tmp_path / targets[2]).stat().st_size > 10_000

    later = time.time() + 5  # new training logs: metrics.json rewritten, newer than everything
    metrics = tmp_path / at(paths.METRICS)
    metrics.write_text(json.dumps({**json.loads(metrics.read_text()), "note": "rewritten"}))
    os.utime(metrics, (later, later))
    assert "Nothing to be done" in snakemake(tmp_path, config, *targets, "-n")
    # Only the last hidden layer analysed: hidden_1's neurons are ranked by no clustering, so its job
    # reads no rankings (the set of inputs changed: it reruns) and leaves the top-k colouring out.
    last = {**config, "analysis": {"layers": "last"}}
    plan = snakemake(tmp_path, last, targets[0], "-n")
    job = plan.split("rule neurons:")[1].split("reason:")[0]
    assert "weights.h5" in job and "rankings/" not in job
    assert "Set of input files has changed" in plan
    snakemake(tmp_path, last, targets[0])
    assert store.read_neuron_space(tmp_path / targets[0]).top_k is None

    import h5py

    with h5py.File(tmp_path / at(paths.WEIGHTS), "a") as h5:  # new weights do rerun it (Snakemake compares
        h5.attrs["note"] = "rewritten"  # the content of a newer input with the one it last read)
    assert "neurons" in {rule for rule, *_ in planned_jobs(snakemake(tmp_path, last, targets[0], "-n"))}


@pytest.mark.workflow
def test_the_rule_gathers_every_seed_of_an_architecture(tmp_path):
    from tests.workflow.test_workflow import snakemake

    architecture = "cnn6x8-p1-none"
    targets = [paths.fill(paths.FILTER_SPACE, dataset="digits", architecture=architecture),
               *(paths.fill(paths.FILTER_FIGURE, dataset="digits", architecture=architecture, figure=f)
                 for f in paths.FILTER_FIGURES)]
    assert paths.FILTER_SPACE.format(dataset="digits", architecture=architecture) in snakemake(tmp_path, FILTER_STUDY, "-n")
    snakemake(tmp_path, FILTER_STUDY, *targets)
    space = store.read_filter_space(tmp_path / targets[0])
    assert space.models == ["cnn6x8-p1-none-s0", "cnn6x8-p1-none-s1"] and space.kernels.shape == (12, 3, 3)
    assert json.loads(space.attrs["weight_files"]) == [
        paths.fill(paths.WEIGHTS, dataset="digits", model=f"cnn6x8-p1-none-s{seed}") for seed in (0, 1)]
    assert all((tmp_path / target).stat().st_size > 5_000 for target in targets[1:])
    assert "Nothing to be done" in snakemake(tmp_path, FILTER_STUDY, *targets, "-n")
