"""Barnes-Hut t-SNE: scikit-learn's, with its gradient from a kernel ~3x faster (t-SNE 2.6x).

scikit-learn's TSNE does everything (neighbours, perplexities, PCA init, learning rate, early
exaggeration, the optimizer and its stopping rules) except the gradient, which comes from
``kl_divergence_bh`` here. That is the same Barnes-Hut approximation as sklearn's Cython
(``sklearn.manifold._barnes_hut_tsne``): the same quadtree (bounds, cells split at their centre,
points within 1e-6 of each other share a leaf), the same rule for summarizing a cell (its squared
width over the squared distance to its centre of mass below angle^2), no self-interaction, and
the same attractive term and KL divergence. Its forces match sklearn's to rounding
(benchmarks/tsne_forces.py). It is faster because it visits the points in Z-order (Morton code):
consecutive points walk nearly the same cells, which stay in cache. Its sums are float64 where
sklearn's are partly float32, so the two embeddings agree to rounding, which t-SNE's iterations
amplify: compare the clusterings, not the coordinates (tests/unit/clustering/test_tsne.py).

One thread, so the result cannot depend on the machine's core count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DUPLICATE = 1e-6  # sklearn's EPSILON: points this close in both coordinates are one leaf
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # sklearn's floor inside the KL divergence's log


@njit(cache=True)
def _morton_order(Y):
    """The points sorted along a Z-order curve over their bounding box (16 bits per axis)."""
    lo0, lo1 = Y[:, 0].min(), Y[:, 1].min()
    scale0 = 65535.0 / max(Y[:, 0].max() - lo0, 1e-300)
    scale1 = 65535.0 / max(Y[:, 1].max() - lo1, 1e-300)
    codes = np.empty(len(Y), np.uint64)
    for i in range(len(Y)):
        code = np.uint64(0)
        a = np.uint64((Y[i, 0] - lo0) * scale0)
        b = np.uint64((Y[i, 1] - lo1) * scale1)
        for bit in range(16):
            code |= ((a >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit)
            code |= ((b >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit + 1)
        codes[i] = code
    return np.argsort(codes, kind="mergesort")


@njit(cache=True)
def _quadrant(node, x, y, lo, hi):
    c0 = 0.5 * (lo[node, 0] + hi[node, 0])
    c1 = 0.5 * (lo[node, 1] + hi[node, 1])
    return (1 if x >= c0 else 0) + (2 if y >= c1 else 0), c0, c1


@njit(cache=True)
def _new_child(node, k, c0, c1, n_nodes, child, lo, hi):
    """Cell ``n_nodes``, quadrant ``k`` of ``node``; the arrays must have room for it."""
    child[node, k] = n_nodes
    lo[n_nodes, 0] = c0 if k & 1 else lo[node, 0]
    hi[n_nodes, 0] = hi[node, 0] if k & 1 else c0
    lo[n_nodes, 1] = c1 if k & 2 else lo[node, 1]
    hi[n_nodes, 1] = hi[node, 1] if k & 2 else c1
    return n_nodes


@njit(cache=True)
def _build_tree(Y, order, capacity):
    """The quadtree of sklearn's Barnes-Hut t-SNE, as arrays, in at most ``capacity`` cells.

    Returns each cell's children (-1: none) and (centre of mass x, y, squared width or -1 for a
    leaf, number of points), and the tree's depth (-1: ``capacity`` was too small). A leaf holds
    one point and its duplicates.
    """
    child = -np.ones((capacity, 4), np.int32)
    count = np.zeros(capacity, np.int64)
    mass = np.zeros((capacity, 2))  # coordinate sums, divided by count at the end
    lo = np.zeros((capacity, 2))
    hi = np.zeros((capacity, 2))
    point = -np.ones(capacity, np.int64)  # a leaf's first point; -1 for inner cells
    for d in range(2):
        top = Y[:, d].max()
        lo[0, d] = Y[:, d].min()
        hi[0, d] = max(top * (1.0 + 1e-3 * np.sign(top)), top + 1e-3)  # sklearn's margin
    n_nodes, depth = 1, 0
    for p in order:
        x, y = Y[p, 0], Y[p, 1]
        node, level = 0, 0
        while True:
            if n_nodes + 2 > capacity:  # a step adds at most two cells
                return child, mass, -1
            if count[node] == 0:  # an empty cell: the root, or a child just made for this point
                point[node] = p
                break
            q = point[node]
            if q >= 0:  # a leaf: the same point again, or split it
                if abs(Y[q, 0] - x) <= DUPLICATE and abs(Y[q, 1] - y) <= DUPLICATE:
                    break
                k, c0, c1 = _quadrant(node, Y[q, 0], Y[q, 1], lo, hi)
                moved = _new_child(node, k, c0, c1, n_nodes, child, lo, hi)
                n_nodes += 1
                point[moved], count[moved] = q, count[node]
                mass[moved, 0], mass[moved, 1] = mass[node, 0], mass[node, 1]
                point[node] = -1
            count[node] += 1
            mass[node, 0] += x
            mass[node, 1] += y
            k, c0, c1 = _quadrant(node, x, y, lo, hi)
            if child[node, k] < 0:
                _new_child(node, k, c0, c1, n_nodes, child, lo, hi)
                n_nodes += 1
            node = child[node, k]
            level += 1
            depth = max(depth, level)
        count[node] += 1
        mass[node, 0] += x
        mass[node, 1] += y
    cells = np.empty((n_nodes, 4))  # one row a cell, read together: centre of mass, width^2, count
    for i in range(n_nodes):
        cells[i, 0] = mass[i, 0] / count[i]
        cells[i, 1] = mass[i, 1] / count[i]
        cells[i, 2] = -1.0 if point[i] >= 0 else max((hi[i, 0] - lo[i, 0]) ** 2, (hi[i, 1] - lo[i, 1]) ** 2)
        cells[i, 3] = count[i]
    return child[:n_nodes], cells, depth


@njit(cache=True)
def _gradient(p_values, p_columns, p_rows, Y, theta, compute_error):
    """sklearn's Barnes-Hut gradient of KL(P || Q) (before its factor 4), and the divergence."""
    n = len(Y)
    order = _morton_order(Y)
    capacity, depth = 2 * n + 16, -1
    while depth < 0:  # (growing the arrays inside the build made it five times slower)
        child, cells, depth = _build_tree(Y, order, capacity)
        capacity *= 2
    theta2 = theta * theta
    repulsion = np.zeros((n, 2))
    stack = np.empty(3 * depth + 4, np.int64)
    z = 0.0  # sum over pairs of the Student-t kernel, which normalizes Q
    for i in order:
        x, y = Y[i, 0], Y[i, 1]
        fx = fy = 0.0
        stack[0], top = 0, 1
        while top:
            top -= 1
            node = stack[top]
            dx, dy, width2 = x - cells[node, 0], y - cells[node, 1], cells[node, 2]
            leaf = width2 < 0
            if leaf and abs(dx) <= DUPLICATE and abs(dy) <= DUPLICATE:
                continue  # the point itself (and its duplicates)
            d2 = dx * dx + dy * dy
            if leaf or width2 < theta2 * d2:
                q = 1.0 / (1.0 + d2)
                z += cells[node, 3] * q
                w = cells[node, 3] * q * q
                fx += w * dx
                fy += w * dy
            else:
                for k in range(4):
                    if child[node, k] >= 0:
                        stack[top] = child[node, k]
                        top += 1
        repulsion[i, 0], repulsion[i, 1] = fx, fy
    grad = np.empty((n, 2))
    error = 0.0
    for i in range(n):
        ax = ay = 0.0
        for e in range(p_rows[i], p_rows[i + 1]):
            j, pij = p_columns[e], p_values[e]
            dx, dy = Y[i, 0] - Y[j, 0], Y[i, 1] - Y[j, 1]
            q = 1.0 / (1.0 + dx * dx + dy * dy)
            ax += pij * q * dx
            ay += pij * q * dy
            if compute_error:
                error += pij * np.log(max(pij, FLOAT32_TINY) / max(q / z, FLOAT32_TINY))
        grad[i, 0] = ax - repulsion[i, 0] / z
        grad[i, 1] = ay - repulsion[i, 1] / z
    return error, grad


def kl_divergence_bh(params, P, degrees_of_freedom, n_samples, n_components, angle=0.5, skip_num_points=0,
                     verbose=False, compute_error=True, num_threads=1):
    """sklearn's ``_kl_divergence_bh`` (same signature and results to rounding) for 2-D embeddings."""
    if n_components != 2 or degrees_of_freedom != 1 or skip_num_points:
        raise ValueError("nntopo's t-SNE kernel embeds in 2-D from scratch (degrees of freedom 1)")
    Y = params.reshape(n_samples, 2).astype(np.float64)
    if not np.isfinite(Y).all():  # the tree cannot place such a point
        raise FloatingPointError("t-SNE diverged: its embedding has non-finite coordinates")
    # P as it is (float32, int32 indices): converting its million entries cost 2.7 ms a call.
    error, grad = _gradient(P.data, P.indices, P.indptr, Y, float(angle), bool(compute_error))
    # As sklearn: a float32 gradient keeps the optimizer's float32 embedding in float32.
    return (error if compute_error else np.nan), (4.0 * grad).astype(np.float32).ravel()


def embed(X: np.ndarray, *, perplexity: float, max_iter: int, seed: int) -> np.ndarray:
    """sklearn's ``TSNE(perplexity, max_iter, init="pca", random_state=seed).fit_transform(X)``, faster."""
    from unittest import mock

    from sklearn.manifold import TSNE, _t_sne

    init = "pca"
    if X.shape[1] == 1:  # a layer of one unit (a regressor's output): PCA has no second component to start from
        values = np.asarray(X, dtype=np.float64)[:, 0] - np.mean(X)
        spread = np.std(values) or 1.0
        # As scikit-learn scales a PCA init (standard deviation 1e-4), the second coordinate a tiny seeded jitter.
        init = np.column_stack([values / spread * 1e-4, np.random.default_rng(seed).normal(scale=1e-6, size=len(X))])
    tsne = TSNE(perplexity=perplexity, max_iter=max_iter, init=init, random_state=seed)
    # TSNE looks its objective up in its module when it fits; this is the one piece replaced.
    with mock.patch.object(_t_sne, "_kl_divergence_bh", kl_divergence_bh):
        return tsne.fit_transform(X)
