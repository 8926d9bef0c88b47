"""A training run that diverges stops the workflow with one clear line and leaves no file that looks
complete."""

import pytest

from tests.workflow import reliability

MODEL = "mlp16-none-s0"


@pytest.mark.workflow
def test_a_diverging_run_stops_the_workflow_with_one_clear_line(tmp_path):
    study = {**reliability.STUDY, "training": {"epochs": 2, "batch_size": 64, "lr": 1e30}}
    workdir = reliability.prepare(tmp_path, study)
    target = f"results/digits/{MODEL.replace('none', 'l2')}/activations.h5"
    run = reliability.run(workdir, target, cores=1, check=False)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "ERROR: epoch 1: the training loss is" in output and "lower training.lr" in output
    assert "Traceback" not in output
    assert not (workdir / target).exists() and not list((workdir / "results").rglob("*.h5"))
