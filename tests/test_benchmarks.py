"""The benchmark's own arithmetic: its stage table, and the t-SNE force measurement it rests on."""

import numpy as np
import pytest

from benchmarks.bench import stage_seconds
from benchmarks.tsne_forces import barnes_hut, exact_forces, fft, measure


def write_record(results, job: str, seconds: float) -> None:
    path = results / "benchmarks" / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t100.0\n")


def test_stages_name_the_same_work_alike_in_the_workflow_and_the_reference(tmp_path):
    workflow, reference = tmp_path / "workflow", tmp_path / "reference"
    for job, seconds in [("train/mnist/mlp100-none-s0", 5.0), ("cluster/mnist/mlp100-none-s0/tsne", 30.0),
                         ("cluster/mnist/mlp100-none-s0/umap", 6.0), ("method_figures/mnist/mlp100-none-s0/tsne", 3.0),
                         ("model_figures/mnist/mlp100-none-s0", 2.0), ("rank/mnist/mlp100-none-s0/tsne", 0.5),
                         ("mapper_page/mnist/mlp100-none-s0/mapper", 2.0)]:
        write_record(workflow, job, seconds)
    write_record(reference, "rank/mnist/mlp100-none-s0/tsne", 0.5)  # its Snakemake-run jobs leave records too
    own_jobs = {"jobs": {"train-mnist-mlp100-none-s0": 7.0, "cluster-mnist-mlp100-none-s0-tsne": 40.0,
                         "figure-mnist-mlp100-none-s0-tsne-heatmap": 1.5, "figure-mnist-mlp100-none-s0---weights": 1.0}}

    assert stage_seconds(workflow) == {"train": 5.0, "cluster tsne": 30.0, "cluster umap": 6.0, "figures": 5.0,
                                       "after clustering": 2.5}
    assert stage_seconds(reference, own_jobs) == {"train": 7.0, "cluster tsne": 40.0, "figures": 2.5,
                                                  "after clustering": 0.5}


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
