"""The workflow on a SLURM cluster: profiles/slurm plans one job per model's analysis, asks for a GPU
when the config says `device: cuda`, and, on a real SLURM (where `sinfo` answers), gives exactly the
outputs of a local run of the same config.

The real-SLURM test is marked `slurm`; it skips where `sinfo` does not answer, and fails there when CI
is set (.ci/run starts a single-node SLURM with ../shared/tools/local-slurm/start.sh first).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.workflow import reliability
from tests.conftest import ROOT

PROFILE = ROOT / "profiles" / "slurm"

# Two models (so two group jobs), the two cheap methods (no numba compilation, no t-SNE), and
# Mapper's lens as the embedding k-means is drawn on (else UMAP would run for it).
SMALL = {
    "datasets": ["digits"],
    "widths": [16],
    "regularizations": ["none", "l2"],
    "training": {"epochs": 5, "batch_size": 64, "lr": 0.005},
    "device": "cpu",
    "clustering": {
        "methods": ["kmeans", "mapper"],
        "kmeans": {"n_clusters": 10},
        "mapper": {"n_cubes": 5, "min_samples": 5},
    },
    "figures": {"embedding": "mapper"},
}
MODELS = ["mlp16-none-s0", "mlp16-l2-s0"]
# The real SLURM run and its local twin: one of those models (the dry runs plan both). Its group job is
# the same as each of the two's; the second only doubled both runs (~100 s of CI).
REAL = {**SMALL, "regularizations": ["none"]}
# Rules that stay separate SLURM jobs; every other job belongs to its model's group.
ALONE = {"train", "summary", "seed_stability", "all", "input_homology", "homology_summary", "shape_data",
         "neural_persistence_summary"}
SLURM_TIME_LIMIT = 600  # seconds; the run takes about a minute on two cores, beside the local run


def snakemake_command(workdir: Path, config: dict, *args: str) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), *args]


def snakemake(workdir: Path, config: dict, *args: str) -> subprocess.CompletedProcess:
    """Run Snakemake on ``config`` in ``workdir``; stdout holds stdout and stderr."""
    return subprocess.run(snakemake_command(workdir, config, *args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def planned(output: str) -> tuple[dict[str, list[str]], list[str]]:
    """From a dry run: the rules of each group job, and the rules of the jobs in no group."""
    groups, alone, current = {}, [], None
    for line in output.splitlines():
        if match := re.search(r"Group job (\S+) ", line):
            current = groups.setdefault(match.group(1), [])
        elif match := re.match(r"(?:\[[^]]*\] )?(    )?(?:local)?rule (\w+):", line):
            (current if match.group(1) else alone).append(match.group(2))
    return groups, alone


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_profile_plans_one_job_per_models_analysis_and_a_gpu_for_cuda(tmp_path, device):
    run = snakemake(tmp_path, {**SMALL, "device": device}, "--profile", str(PROFILE), "-n")
    assert run.returncode == 0, run.stdout[-3000:]
    groups, alone = planned(run.stdout)
    assert sorted(groups) == sorted(f"model-digits-{model}" for model in MODELS)
    assert sorted(alone) == ["all", "homology_summary", "input_homology", "neural_persistence_summary", "summary",
                             "train", "train"]
    for rules in groups.values():
        assert {"cluster", "analyse_layer", "layer_figures", "model_figures", "flow", "probe", "homology",
                "homology_figures", "neurons", "neuron_filters"} <= set(rules)
        assert not set(rules) & ALONE
    mine = yaml.safe_load((PROFILE / "config.yaml").read_text())["default-resources"]
    for key in ("slurm_partition", "slurm_account"):  # the user's, from the one place they are set
        assert f"{key}={mine[key]}" in run.stdout

    train = re.findall(r"^(?:\[[^]]*\] )?rule train:.*?\n\s+resources: ([^\n]*)", run.stdout, flags=re.S | re.M)
    assert len(train) == len(MODELS)
    for resources in train:  # the plugin turns gpu=1 into sbatch --gpus=1
        assert ("gpu=1" if device == "cuda" else "gpu=0") in resources
        assert ("mem_mb=4000" if device == "cuda" else "mem_mb=2000") in resources


def test_caches_are_private_to_the_user_and_the_machine(tmp_path):
    import socket
    import stat

    from nntopo.workflow.jobs import cache_environment

    env = cache_environment({"NNTOPO_CACHE_DIR": str(tmp_path)})
    assert set(env) == {"NUMBA_CACHE_DIR", "MPLCONFIGDIR", "TORCH_HOME", "CUDA_CACHE_PATH"}
    mine = tmp_path / f"nntopo-caches-{os.getuid()}"
    for path in map(Path, env.values()):
        assert path.is_dir() and path.parent == mine / socket.gethostname()
    assert stat.S_IMODE(mine.stat().st_mode) & 0o077 == 0
    assert cache_environment({"NNTOPO_CACHE_DIR": str(tmp_path)}) == env  # the same on every call

    # A folder of that name that others can enter (made by someone else, say) is not used.
    shared = tmp_path / "shared" / f"nntopo-caches-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    env = cache_environment({"NNTOPO_CACHE_DIR": str(shared.parent)})
    assert not any(path.startswith(str(shared)) for path in env.values())
    assert all(Path(path).is_dir() for path in env.values())
    shutil.rmtree(Path(env["NUMBA_CACHE_DIR"]).parent)  # a fresh private folder, made for this call


# ---- On a real SLURM ------------------------------------------------------------------------------


def sinfo_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="module")
def slurm():
    if not sinfo_answers():
        if os.environ.get("CI"):
            pytest.fail("CI is set but `sinfo` does not answer: no SLURM here (.ci/run starts one with "
                        "../shared/tools/local-slurm/start.sh)")
        pytest.skip("no SLURM here (`sinfo` does not answer)")


@pytest.fixture(scope="module")
def both_runs(slurm, tmp_path_factory):
    """The same config run through profiles/slurm and locally (side by side: the SLURM run mostly
    waits); returns both results folders and the SLURM run's output."""
    cluster, local = tmp_path_factory.mktemp("slurm"), tmp_path_factory.mktemp("local")
    log = cluster / "snakemake.out"  # a file, not a pipe: nobody reads the pipe while the local run goes
    with log.open("w") as sink:
        submitting = subprocess.Popen(snakemake_command(cluster, REAL, "--profile", str(PROFILE)),
                                      stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        run = snakemake(local, REAL, "--cores", "2")
        assert run.returncode == 0, run.stdout[-3000:]
        submitting.wait(timeout=SLURM_TIME_LIMIT)
    except subprocess.TimeoutExpired:
        # SIGKILL: a SIGTERM'd Snakemake waits for its jobs. Then cancel its jobs, named after the run.
        submitting.kill()
        submitting.wait()
        output = log.read_text()
        if found := re.search(r"SLURM run ID: (\S+)", output):
            subprocess.run(["scancel", "--name", found.group(1)], check=False)
        pytest.fail(f"the SLURM run took over {SLURM_TIME_LIMIT} s:\n{output[-3000:]}")
    finally:
        if submitting.poll() is None:
            submitting.kill()
            submitting.wait()
    output = log.read_text()
    assert submitting.returncode == 0, output[-5000:]
    return local / "results", cluster / "results", output


def outputs(results: Path) -> list[str]:
    """Every file the workflow made, but its logs and benchmark records."""
    return sorted(
        str(path.relative_to(results)) for path in results.rglob("*")
        if path.is_file() and path.relative_to(results).parts[0] not in ("logs", "benchmarks")
    )


def assert_same_hdf5(first: Path, second: Path):
    import h5py

    with h5py.File(first, "r") as a, h5py.File(second, "r") as b:
        names = []
        a.visit(names.append)
        other = []
        b.visit(other.append)
        assert names == other, first
        for name in [""] + names:
            node_a, node_b = (a[name], b[name]) if name else (a, b)
            attrs = {key for key in node_a.attrs if not reliability.is_timing(key)}
            assert attrs == {key for key in node_b.attrs if not reliability.is_timing(key)}, (first, name)
            for key in attrs:
                assert np.array_equal(node_a.attrs[key], node_b.attrs[key]), (first, name, key)
            if isinstance(node_a, h5py.Dataset):
                assert np.array_equal(node_a[()], node_b[()]), (first, name)


def assert_same_output(first: Path, second: Path):
    if first.suffix == ".h5":
        assert_same_hdf5(first, second)
    elif first.suffix == ".json":
        assert reliability.without_timings(json.loads(first.read_text())) == reliability.without_timings(json.loads(second.read_text())), first
    elif first.suffix == ".csv":
        import pandas as pd

        a, b = pd.read_csv(first), pd.read_csv(second)
        keep = [column for column in a.columns if not reliability.is_timing(column)]
        pd.testing.assert_frame_equal(a[keep], b[keep], check_exact=True, obj=str(first))
    else:  # model.pt, figures, Mapper pages: byte for byte
        assert first.read_bytes() == second.read_bytes(), first


@pytest.mark.slurm
@pytest.mark.workflow
def test_slurm_run_gives_the_local_outputs(both_runs):
    local, cluster, _ = both_runs
    assert outputs(local) == outputs(cluster)
    assert len(outputs(local)) > 50
    for name in outputs(local):
        assert_same_output(local / name, cluster / name)


@pytest.mark.slurm
@pytest.mark.workflow
def test_slurm_run_submits_one_job_per_model_analysis(both_runs):
    _, _, output = both_runs
    logs = re.findall(r"has been submitted with SLURM jobid \d+ \(log: (\S+)\)", output)
    # The training, the input's homology, 3 summaries, and the model's one group job (~25 jobs:
    # clusterings, rankings, homology, the space of neurons, figures...).
    assert len(logs) == 6, logs
    assert sum("/rule_train/" in log for log in logs) == 1 and sum("/rule_summary/" in log for log in logs) == 1
    assert sum("/rule_input_homology/" in log for log in logs) == 1
    assert sum("/rule_homology_summary/" in log for log in logs) == 1
    assert sum("/rule_neural_persistence_summary/" in log for log in logs) == 1
    assert sum(f"/group_model-digits-{MODELS[0]}_" in log for log in logs) == 1, logs
    assert "Finished jobid" in output and "(100%) done" in output
