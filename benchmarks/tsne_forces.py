"""How accurate and how fast each approximation of t-SNE's repulsive forces is, on a real embedding.

    .venv/bin/python benchmarks/tsne_forces.py results/mnist/mlp100-none-s0/output/clusters/tsne.h5 [...]

t-SNE is the study's largest cost (the four t-SNE jobs are ~40% of its job-seconds), and nearly all
of a t-SNE iteration is the repulsive force on every point. This script takes a finished t-SNE
embedding (a clusters file the workflow wrote), computes the exact forces (all N^2 pairs), and times
each approximation on one thread and measures its error against them: scikit-learn's Barnes-Hut
(what the reference runs) at several `angle`s, the same approximation from nntopo.clustering.tsne (what the
workflow runs), and openTSNE's FFT interpolation (FIt-SNE) at several grids. The error of a point
is |F_approx - F_exact| / |F_exact|; the median and the 99th percentile over all points are printed.

What it showed on the default study (docs/reference/benchmark.md): nntopo.clustering.tsne has sklearn's error at a
third of its time; at that accuracy the FFT method is slower still on these embeddings (they spread
over ~130 units, and its grid grows with the spread); its faster grids, and larger angles, buy
speed with several times the error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ANGLES = (0.5, 0.6, 0.7, 0.8)
GRIDS = ((3, 1), (5, 2), (3, 2), (3, 3))  # openTSNE (n_interpolation_points, ints_in_interval); (3, 1) is its default


def exact_forces(Y: np.ndarray, chunk: int = 500) -> np.ndarray:
    """The normalized repulsive forces sum_j q_ij^2 Z (y_i - y_j) / Z of the Student-t kernel, all pairs."""
    forces, Z = np.zeros_like(Y), 0.0
    for start in range(0, len(Y), chunk):
        d = Y[start:start + chunk, None, :] - Y[None, :, :]
        w = 1.0 / (1.0 + (d ** 2).sum(-1))
        w[np.arange(len(w)), np.arange(start, start + len(w))] = 0.0
        Z += w.sum()
        forces[start:start + chunk] = ((w ** 2)[..., None] * d).sum(1)
    return forces / Z


def barnes_hut(Y: np.ndarray, angle: float) -> np.ndarray:
    """scikit-learn's Barnes-Hut forces alone (no attractive term: an empty P), one thread."""
    from sklearn.manifold import _barnes_hut_tsne

    Yf = Y.astype(np.float32)
    forces = np.zeros_like(Yf)
    _barnes_hut_tsne.gradient(np.zeros(0, np.float32), Yf, np.zeros(0, np.int64), np.zeros(len(Y) + 1, np.int64),
                              forces, angle, 2, 0, dof=1, compute_error=0, num_threads=1)
    return -forces.astype(np.float64)  # a gradient: the force's opposite (the factor 4 is applied later, in Python)


def nntopo_barnes_hut(Y: np.ndarray, angle: float) -> np.ndarray:
    """The same forces from nntopo.clustering.tsne's kernel (what the workflow runs), one thread."""
    import scipy.sparse as sp

    from nntopo.clustering import tsne

    empty = sp.csr_matrix((len(Y), len(Y)), dtype=np.float32)
    _, grad = tsne.kl_divergence_bh(Y.astype(np.float32).ravel(), empty, 1, len(Y), 2, angle=angle)
    return -grad.reshape(-1, 2).astype(np.float64) / 4  # the gradient's factor 4, as above


def fft(Y: np.ndarray, points: int, interval: float) -> np.ndarray:
    """openTSNE's FFT-interpolated forces (as FIt-SNE), one thread."""
    from openTSNE import _tsne

    forces = np.zeros_like(Y)
    _tsne.estimate_negative_gradient_fft_2d(Y, forces, n_interpolation_points=points, min_num_intervals=50,
                                            ints_in_interval=interval, dof=1)
    return -forces


def measure(approximate, exact: np.ndarray, repeats: int = 5) -> tuple[float, float, float]:
    """Median and 99th-percentile relative error per point, and the median milliseconds per call."""
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        forces = approximate()
        seconds.append(time.perf_counter() - began)
    error = np.linalg.norm(forces - exact, axis=1) / np.linalg.norm(exact, axis=1)
    return float(np.median(error)), float(np.quantile(error, 0.99)), 1000 * float(np.median(seconds))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clusters", nargs="+", type=Path, help="clusters files of t-SNE (results/.../clusters/tsne.h5)")
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from nntopo import store

    with threadpool_limits(1):
        for path in args.clusters:
            embedding = store.read_clusters(path).embedding
            if embedding is None:
                sys.exit(f"{path}: no embedding in this clusters file; give a t-SNE one")
            Y = np.ascontiguousarray(embedding, dtype=np.float64)
            exact = exact_forces(Y)
            print(f"{path}: {len(Y)} points spread over {np.ptp(Y[:, 0]):.0f} x {np.ptp(Y[:, 1]):.0f}")
            print(f"  {'approximation':<44} {'median error':>12} {'p99 error':>10} {'ms per call':>12}")
            rows = [(f"Barnes-Hut, angle {a}" + (" (default)" if a == 0.5 else ""), lambda a=a: barnes_hut(Y, a))
                    for a in ANGLES]
            rows.insert(1, ("the same in nntopo.clustering.tsne (the workflow's)", lambda: nntopo_barnes_hut(Y, 0.5)))
            rows += [(f"FFT, {p} points per cell of side {i}" + (" (default)" if (p, i) == GRIDS[0] else ""),
                      lambda p=p, i=i: fft(Y, p, i)) for p, i in GRIDS]
            for name, approximate in rows:
                median, p99, ms = measure(approximate, exact)
                print(f"  {name:<44} {median:>12.1%} {p99:>10.1%} {ms:>12.0f}")


if __name__ == "__main__":
    main()
