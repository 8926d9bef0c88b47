"""End to end: Snakemake runs the grid on the embedded digits, then reruns only what a change touches."""

import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nntopo import layout, paths
from tests.conftest import ROOT

pytestmark = pytest.mark.workflow

TINY = {
    "datasets": ["digits"],
    "widths": [16, 32],
    "regularizations": ["none", "l2"],
    "training": {"epochs": 5, "batch_size": 64, "lr": 0.005},
    "device": "cpu",
}


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


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("study")
    snakemake(workdir, TINY)
    return workdir


def test_the_grid_is_trained_and_recorded(finished):
    models = ["mlp16-none-s0", "mlp16-l2-s0", "mlp32-none-s0", "mlp32-l2-s0"]
    for model in models:
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
    assert planned_models(snakemake(finished, changed, "-n")) == {
        "mlp16-none-s0", "mlp16-l2-s0", "mlp32-none-s0", "mlp32-l2-s0"}


def test_rerun_gives_identical_activations(finished, tmp_path):
    snakemake(tmp_path, {**TINY, "widths": [16], "regularizations": ["l2"]})
    where = {"dataset": "digits", "model": "mlp16-l2-s0"}
    first = layout.read_activations(finished / paths.ACTIVATIONS.format(**where))
    second = layout.read_activations(tmp_path / paths.ACTIVATIONS.format(**where))
    assert np.array_equal(first.hidden[0], second.hidden[0]) and np.array_equal(first.output, second.output)
