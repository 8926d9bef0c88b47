"""The benchmark's own arithmetic: its stage table, its plans, and the t-SNE force measurement it rests on."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from benchmarks import reference
from benchmarks.commands import job_key
from benchmarks.plan import MLP_FIGURE_RULES, expected_after_change
from benchmarks.records import stage_seconds
from benchmarks.scale import Scale, growth_exponent, scale_config, stage_name
from benchmarks.tsne_forces import barnes_hut, exact_forces, fft, measure
from tests.conftest import ROOT

# One model of one hidden layer and one of two: the output's clusters rank hidden_1 in the first
# (weight images), hidden_2 in the second (none).
SMALL = {"datasets": ["digits"], "widths": [16, [16, 16]], "regularizations": ["none"], "device": "cpu"}


def write_record(results, job: str, seconds: float) -> None:
    path = results / "benchmarks" / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100.0\n")


def test_stages_name_the_same_work_alike_in_the_workflow_and_the_reference(tmp_path):
    workflow, reference_ = tmp_path / "workflow", tmp_path / "reference"
    model = "mlp128x128x128x128-none-s0"
    for job, seconds in [(f"train/mnist/{model}", 5.0), (f"cluster/mnist/{model}/hidden_3/tsne", 30.0),
                         (f"cluster/mnist/{model}/output/tsne", 20.0), (f"cluster/mnist/{model}/hidden_1/umap", 6.0),
                         (f"layer_figures/mnist/{model}/hidden_2", 3.0), (f"image_figures/mnist/{model}/hidden_1", 1.0),
                         (f"model_figures/mnist/{model}", 2.0), (f"analyse_layer/mnist/{model}/output", 0.5),
                         (f"flow/mnist/{model}", 1.0), (f"probe/mnist/{model}", 1.5), ("summary/mnist", 2.0)]:
        write_record(workflow, job, seconds)
    # Its Snakemake-run jobs leave records too.
    write_record(reference_, f"analyse_layer/mnist/{model}/hidden_4", 0.5)
    write_record(reference_, f"flow/mnist/{model}", 1.0)
    own_jobs = {"jobs": {f"train-mnist-{model}": 7.0, f"cluster-mnist-{model}-hidden_2-tsne": 40.0,
                         f"cluster-mnist-{model}-output-mapper": 4.0,
                         f"figure-mnist-{model}-hidden_1-heatmap__tsne": 1.5,
                         f"figure-mnist-{model}-hidden_1-neurons__umap": 1.0,
                         f"figure-mnist-{model}---weights": 1.0,
                         f"figure-mnist-{model}---layers_page__mapper": 2.5}}

    assert stage_seconds(workflow) == {"train": 5.0, "cluster tsne": 50.0, "cluster umap": 6.0, "figures": 6.0,
                                       "after clustering": 5.0}
    assert stage_seconds(reference_, own_jobs) == {"train": 7.0, "cluster tsne": 40.0, "cluster mapper": 4.0,
                                                   "figures": 6.0, "after clustering": 1.5}


def dry_run(workdir, config: dict, *args) -> str:
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                          "--configfile", str(configfile), "--cores", "2", "-n", *args], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


def test_the_reference_draws_every_output_of_the_figure_rules_one_process_each(tmp_path):
    from nntopo import config as nnconfig

    cfg = nnconfig.validate(SMALL)
    plan = dry_run(tmp_path, SMALL)
    planned = set()
    for rule, outputs in re.findall(r"^rule (\w+):\n(?:    input: .*\n)?    output: (.*)$", plan, flags=re.M):
        if rule in MLP_FIGURE_RULES:
            planned |= set(outputs.split(", "))
    jobs = reference.figure_jobs(cfg)
    drawn = [reference.figure_output(cfg, *job) for job in jobs]
    assert len(drawn) == len(set(drawn))  # one process per output
    assert set(drawn) == planned
    assert ("digits", "mlp16-none-s0", "output", "neurons__umap") in jobs  # the output ranks hidden_1
    assert not any(layer == "output" and name.startswith("neurons") for _, model, layer, name in jobs
                   if model == "mlp16x16-none-s0")


def test_a_clustering_parameter_change_expects_its_clusters_and_every_batch_reading_them():
    from nntopo import config as nnconfig

    cfg = nnconfig.validate(SMALL)
    expected = expected_after_change(cfg, "umap")
    where = {"dataset": "digits", "model": "mlp16x16-none-s0"}
    assert {job_key("cluster", **where, layer=layer, method="umap") for layer in ("hidden_1", "hidden_2", "output")} \
        <= expected
    assert job_key("image_figures", **where, layer="hidden_1") in expected
    assert job_key("image_figures", **where, layer="hidden_2") not in expected
    assert job_key("image_figures", dataset="digits", model="mlp16-none-s0", layer="output") in expected
    rules = {}
    for rule, _ in expected:
        rules[rule] = rules.get(rule, 0) + 1
    # 5 layers in all; per model flow and model_figures; image weights for 3 of the 5 layers; the space of
    # neurons of the 3 hidden layers (their rankings change), its weight images for the 2 first ones.
    assert rules == {"cluster": 5, "analyse_layer": 5, "layer_figures": 5, "image_figures": 3, "flow": 2,
                     "model_figures": 2, "summary": 1, "neurons": 3, "neuron_filters": 2}
    assert not any(rule == "cluster" and ("method", "umap") not in wildcards for rule, wildcards in expected)


@pytest.fixture(scope="module")
def embedding():
    """Five tight, well-separated groups, as a finished t-SNE of the study looks."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(-40, 40, size=(5, 2))
    return np.ascontiguousarray(np.concatenate([c + rng.normal(size=(200, 2)) for c in centres]))


def test_exact_forces_are_minus_a_quarter_of_the_gradient_of_log_z(embedding):
    # The repulsive part of t-SNE's gradient is (1/4) d log Z / dy_i with Z = sum_{i != j} 1 / (1 + |y_i - y_j|^2).
    def log_z(Y):
        d2 = ((Y[:, None] - Y[None]) ** 2).sum(-1)
        return np.log((1 / (1 + d2)).sum() - len(Y))

    Y, step = embedding[:60].copy(), 1e-6
    numeric = np.zeros_like(Y)
    for i in range(len(Y)):
        for axis in range(2):
            up, down = Y.copy(), Y.copy()
            up[i, axis] += step
            down[i, axis] -= step
            numeric[i, axis] = (log_z(up) - log_z(down)) / (2 * step)
    np.testing.assert_allclose(exact_forces(Y, chunk=7), -numeric / 4, rtol=1e-5, atol=1e-12)


def test_the_approximations_match_the_exact_forces_at_their_most_accurate(embedding):
    exact = exact_forces(embedding)
    exact_bh, _, _ = measure(lambda: barnes_hut(embedding, 0.0), exact, repeats=1)  # angle 0: no approximation
    fine_fft, _, _ = measure(lambda: fft(embedding, 3, 1), exact, repeats=1)
    coarse_bh, _, _ = measure(lambda: barnes_hut(embedding, 0.8), exact, repeats=1)
    assert exact_bh < 1e-4  # float32 arithmetic
    assert fine_fft < 0.05
    assert coarse_bh > exact_bh


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_reference_homology_is_the_workflows_computed_densely(seed):
    """The reference's dense k-NN hop complex gives the workflow's Betti numbers at every scale, on
    clustered points with duplicates (a dead layer's) and on a shape."""
    from nntopo.data import shapes
    from nntopo.topology import homology

    rng = np.random.default_rng(seed)
    blobs = np.concatenate([rng.normal(c, 0.3, (120, 5)) for c in (0, 3, 6)])
    clouds = [np.concatenate([blobs, blobs[:40], np.zeros((30, 5))]),
              shapes.generate("disks", 100, 800, seed)[2]]
    for points in clouds:
        for k, epsilon in ((5, 1), (10, 3)):
            ours = homology.rips_betti(points, k, epsilon)
            theirs = reference.dense_rips_betti(points, k, epsilon)
            assert np.array_equal(ours.numbers, theirs.numbers) and ours.distinct == theirs.distinct


def test_the_growth_exponent_of_a_power_law_is_its_power():
    sizes = [10_000, 20_000, 40_000, 60_000]
    assert growth_exponent(sizes, [3.0 * n**1.5 for n in sizes]) == pytest.approx(1.5, abs=1e-12)
    assert growth_exponent(sizes, [7.0] * 4) == pytest.approx(0.0, abs=1e-12)
    # Least squares through noise: 2 n^2 times 1.1, 0.9, 1.1, 0.9 has the slope of the points' own fit.
    noisy = [2.0 * n**2 * f for n, f in zip(sizes, (1.1, 0.9, 1.1, 0.9))]
    x, y = np.log(sizes), np.log(noisy)
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert growth_exponent(sizes, noisy) == pytest.approx(slope, rel=1e-12)
    assert np.isnan(growth_exponent([1000], [5.0]))  # one size: no slope
    assert np.isnan(growth_exponent([1000, 2000], [5.0, float("nan")]))


def test_the_scale_table_keeps_the_scaled_layers_jobs_and_the_models(tmp_path):
    model = "mlp100-none-s0"
    for n, factor in ((1000, 1.0), (2000, 2.0)):
        results = tmp_path / str(n)
        jobs = [(f"cluster/mnist/{model}/hidden_1/tsne", 10.0), (f"cluster/mnist/{model}/output/tsne", 9.0),
                (f"analyse_layer/mnist/{model}/hidden_1", 2.0), (f"flow/mnist/{model}", 1.0),
                ("input_homology/mnist", 3.0), (f"train/mnist/{model}", 4.0)]
        for job, seconds in jobs:
            write_record(results, job, seconds * factor)
    scale = Scale((1000, 2000))
    scale.read(1000, tmp_path / "1000")
    scale.read(2000, tmp_path / "2000")
    assert set(scale.seconds) == {"cluster tsne", "analyse_layer", "flow", "input_homology", "train"}
    assert scale.seconds["cluster tsne"] == {1000: 10.0, 2000: 20.0}  # hidden_1's, not the output's
    assert scale.exponents("cluster tsne") == pytest.approx((1.0, 0.0))  # linear time, the same 100 MiB
    assert scale.largest[2000][1] == 100.0
    record = scale.record()
    assert record["stages"]["flow"]["seconds"] == {"1000": 1.0, "2000": 2.0}
    assert stage_name(Path("summary/mnist")) == "summary"


def test_the_scale_config_is_the_studys_with_one_model_on_the_training_split():
    from nntopo import config as nnconfig

    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = scale_config(raw, 20_000)
    assert config["analysis"]["split"] == "train" and config["analysis"]["points"] == 20_000
    assert config["clustering"] == raw["clustering"]  # the methods as users run them
    cfg = nnconfig.validate(config)
    assert [str(m) for m in nnconfig.model_ids(cfg)] == ["mlp100-none-s0"]


@pytest.mark.bench  # two whole studies (2.5 min): `make bench` runs it before the benchmark, not `make test`
@pytest.mark.workflow
def test_the_scale_phase_runs_the_workflow_at_each_size_of_a_small_ladder(tmp_path, real_data_dir, monkeypatch,
                                                                          capsys):
    """The scale phase as `make bench` runs it, on a ladder of 400 and 800 of MNIST's training points
    (--quick's settings): every stage's seconds and memory at both sizes, their exponents, and runs
    that analysed exactly those points."""
    import json

    from benchmarks import bench, plan, report, scale
    from nntopo import paths, store

    monkeypatch.setenv("NNTOPO_DATA_DIR", str(real_data_dir))
    args = bench.parse_args(["--scale", "--quick", "--ladder", "400,800", "--scratch", str(tmp_path / "scratch")])
    study = plan.prepare(args)
    measured = scale.scale_phase(study, args.ladder)
    stages = {"train", "cluster kmeans", "cluster tsne", "cluster umap", "cluster mapper", "analyse_layer", "flow",
              "probe", "input_homology", "homology", "layer_figures", "image_figures", "model_figures", "summary"}
    assert stages <= set(measured.seconds)
    for stage in stages:
        assert set(measured.seconds[stage]) == {400, 800} and all(s > 0 for s in measured.seconds[stage].values())
        assert all(0 < mib < 4096 for mib in measured.rss_mib[stage].values())
        assert all(np.isfinite(b) for b in measured.exponents(stage))
    for n in (400, 800):
        results = study.scratch / "scale" / str(n)
        where = {"dataset": "mnist", "model": "mlp100-none-s0", "layer": "hidden_1"}
        acts = store.read_activations(results / paths.fill(paths.ACTIVATIONS, **where))
        assert acts.points == {"split": "train", "of": 60_000, "n": n, "seed": 0, "subsample": True}
        clusters = store.read_clusters(results / paths.fill(paths.CLUSTERS, **where, method="tsne"))
        assert json.loads(clusters.attrs["points"]) == acts.points and len(clusters.labels) == n
    report.say_scale(measured)
    printed = capsys.readouterr().out
    assert "cluster tsne" in printed and "within the 4 GiB" in printed
    assert json.loads(json.dumps(measured.record()))["ladder"] == [400, 800]
