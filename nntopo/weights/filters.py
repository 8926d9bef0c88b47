"""The space of first-layer filters: the kernels of a CNN architecture's first convolutional layer, over
every trained seed, as a point cloud, and its shape.

Gabrielsson and Carlsson ("Exposition and interpretation of the topology of neural networks", 2019)
found that the 3x3 first-layer kernels of many CNNs trained on MNIST, mean-centred, normalised and
kept only where contrast and density are high, lie around a circle: edges at every orientation, the
"primary circle" Carlsson et al. found in patches of natural images ("On the local behavior of spaces
of natural images", 2008). Per dataset and CNN architecture this module

- takes every first-layer kernel of every seed (batch normalisation's per-channel scale folded in; a
  kernel per output channel, (kh, kw) for a grey image, (C, kh, kw) of C * kh * kw values across the
  C channels of a colour one; nntopo.weights.stage.gather_kernels reads them), of whatever kernel shape;
- mean-centres them and measures their contrast (``centre``, ``contrast``), keeps the highest-contrast
  share (``contrast_filter``), scales those to unit length (``unit_vectors``) and keeps the densest
  share, by the distance to the k-th nearest neighbour (``knn_distance``, ``density_filter``); ``select``
  runs these steps in turn;
- reads the shape of the kept points as the space of neurons does (nntopo.weights.cloud: the Euclidean
  Vietoris-Rips persistence diagram, whose long H1 bars, ``loop_lifetimes``, are the loops, and the
  Mapper graph), each Mapper node's mean kernel (``node_kernels``), and the points' angle in their
  first two principal components (``principal_plane``), the place on the circle, should there be one.

Plain numpy in, plain numpy out; reading the weights, writing ``store.FilterSpace`` and drawing its
figures happen in nntopo.weights.stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONTRAST_NORMS = ("euclidean", "d_norm")
FLAT = 1e-9  # a centred kernel whose contrast is at most this share of the largest is flat: no direction


# --- preprocessing, as Carlsson et al. prepare image patches ------------------------------------------

def centre(kernels: np.ndarray) -> np.ndarray:
    """(N, kh * kw) (or (N, C * kh * kw)) each kernel flattened minus its own mean. A kernel's mean is the
    part of its response that a uniform patch would give too (brightness, not pattern); taking it away
    leaves the pattern, so two kernels that differ by a constant are one filter. Over every channel
    at once: a colour kernel keeps its balance of channels (its colour), a uniform grey patch's
    response alone goes."""
    flat = np.asarray(kernels, dtype=np.float64).reshape(len(kernels), -1)
    return flat - flat.mean(axis=1, keepdims=True)


def d_norm(centred: np.ndarray, kernel_shape: tuple[int, ...]) -> np.ndarray:
    """(N,) the D-norm of each centred kernel, Lee, Pedersen and Mumford's contrast of an image patch:
    the square root of the sum, over every two pixels side by side (horizontally or vertically), of
    their squared difference; of a kernel of several channels (``kernel_shape`` (C, kh, kw)), over
    every channel. It weighs the kernel's gradients, where the Euclidean norm weighs its values."""
    grids = np.asarray(centred, dtype=np.float64).reshape(-1, *kernel_shape)
    every = tuple(range(1, grids.ndim))
    across = np.diff(grids, axis=-1) ** 2
    down = np.diff(grids, axis=-2) ** 2
    return np.sqrt(across.sum(axis=every) + down.sum(axis=every))


def contrast(centred: np.ndarray, norm: str = "euclidean", kernel_shape: tuple[int, int] | None = None) -> np.ndarray:
    """(N,) each centred kernel's contrast: its Euclidean norm (the default), or its ``d_norm`` (which
    needs ``kernel_shape``). A kernel of low contrast is nearly flat: its direction, what the normalised
    point is, is mostly noise, so the cloud is read among the high-contrast ones."""
    if norm == "euclidean":
        return np.linalg.norm(centred, axis=1)
    if norm == "d_norm":
        if kernel_shape is None:
            raise ValueError("the D-norm needs the kernel shape")
        return d_norm(centred, kernel_shape)
    raise ValueError(f"contrast norm {norm!r}: choose one of {', '.join(CONTRAST_NORMS)}")


def contrast_filter(contrasts: np.ndarray, share: float) -> np.ndarray:
    """Indices (ascending) of the ``share`` of kernels of highest contrast (ceil(share * N) of them;
    ties: the lower index), never a flat one (contrast at most ``FLAT`` of the largest), which has no
    direction to normalise."""
    contrasts = np.asarray(contrasts, dtype=np.float64)
    if not 0 < share <= 1:
        raise ValueError(f"contrast share {share}: choose a share in (0, 1]")
    wanted = math.ceil(share * len(contrasts))
    top = np.argsort(-contrasts, kind="stable")[:wanted]
    peak = contrasts.max(initial=0.0)
    return np.sort(top[contrasts[top] > FLAT * peak]).astype(np.int64)


def unit_vectors(centred: np.ndarray) -> np.ndarray:
    """Each centred kernel scaled to Euclidean length 1 (none may be flat): a point of the unit sphere
    of the kernel space's mean-zero hyperplane, so kernels are compared by pattern, not by gain."""
    centred = np.asarray(centred, dtype=np.float64)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def knn_distance(points: np.ndarray, k: int) -> np.ndarray:
    """(n,) each point's Euclidean distance to its k-th nearest other point: small where the cloud is
    dense (Carlsson et al.'s density estimate, the inverse of it). With no more than k other points,
    the furthest of them."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    if k < 1:
        raise ValueError(f"density k = {k}: choose k >= 1")
    if len(points) < 2:
        return np.zeros(len(points))
    k = min(k, len(points) - 1)
    distances, _ = cKDTree(points).query(points, k=k + 1)  # the first neighbour is the point itself
    return distances[:, k]


def density_filter(distances: np.ndarray, share: float) -> np.ndarray:
    """Indices (ascending) of the ``share`` of points (ceil(share * n)) with the smallest distance to
    their k-th neighbour, the densest (ties: the lower index). Sparse points, far from the rest, are the
    outliers that would fill any loop in the Rips complex early or make short-lived ones."""
    distances = np.asarray(distances, dtype=np.float64)
    if not 0 < share <= 1:
        raise ValueError(f"density share {share}: choose a share in (0, 1]")
    wanted = math.ceil(share * len(distances))
    return np.sort(np.argsort(distances, kind="stable")[:wanted]).astype(np.int64)


@dataclass(frozen=True)
class Selection:
    contrast: np.ndarray  # (N,) every kernel's contrast
    contrasted: np.ndarray  # (M,) the kernels the contrast filter keeps, ascending
    density: np.ndarray  # (M,) their distance (as unit vectors) to their density_k-th nearest neighbour
    kept: np.ndarray  # (n,) the kernels the density filter keeps too, ascending
    points: np.ndarray  # (n, kh * kw) or (n, C * kh * kw) their centred unit vectors


def select(kernels: np.ndarray, settings: dict) -> Selection:
    """Every step in turn on (N, kh, kw) or (N, C, kh, kw) ``kernels`` (``settings``:
    config.filters_slice): centre, measure the contrast, keep the ``contrast_share`` of highest contrast,
    scale those to unit length, keep the ``density_share`` of them densest by the distance to the
    ``density_k``-th neighbour."""
    centred = centre(kernels)
    contrasts = contrast(centred, settings["contrast_norm"], tuple(np.shape(kernels)[1:]))
    contrasted = contrast_filter(contrasts, settings["contrast_share"])
    unit = unit_vectors(centred[contrasted])
    distances = knn_distance(unit, settings["density_k"])
    dense = density_filter(distances, settings["density_share"])
    return Selection(contrasts, contrasted, distances, contrasted[dense], unit[dense])


# --- the shape -------------------------------------------------------------------------------------

def loop_lifetimes(diagram: np.ndarray) -> np.ndarray:
    """The lifetimes (death - birth) of a diagram's finite bars, longest first."""
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    bars = diagram[np.isfinite(diagram[:, 1])]
    return np.sort(bars[:, 1] - bars[:, 0])[::-1]


def loop_ratio(lifetimes: np.ndarray) -> float:
    """The longest lifetime over the second longest: how far the first loop stands out (inf with one
    bar, NaN with none)."""
    if len(lifetimes) == 0:
        return float("nan")
    if len(lifetimes) == 1 or lifetimes[1] == 0:
        return float("inf")
    return float(lifetimes[0] / lifetimes[1])


def principal_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """(n, 2) the points' coordinates along their first two principal components (about their mean;
    each component's sign set so that its largest entry is positive, as scikit-learn does) and the
    share of the variance those two hold. Around a circle of filters, the angle in this plane is the
    orientation of the edge."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2 or points.shape[1] < 2:
        return np.zeros((len(points), 2)), float("nan")
    centred = points - points.mean(axis=0)
    _, values, axes = np.linalg.svd(centred, full_matrices=False)
    axes = axes[:2] * np.sign(axes[:2][np.arange(2), np.abs(axes[:2]).argmax(axis=1)])[:, None]
    total = float((values ** 2).sum())
    return centred @ axes.T, float((values[:2] ** 2).sum() / total) if total > 0 else float("nan")


def node_kernels(node_ptr, node_points, points: np.ndarray, kernel_shape: tuple[int, ...]) -> np.ndarray:
    """(n_nodes, *kernel_shape) the mean of each Mapper node's points (centred unit kernels), as a kernel."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    means = [points[node_points[node_ptr[i]:node_ptr[i + 1]]].mean(axis=0) for i in range(len(node_ptr) - 1)]
    return np.asarray(means, dtype=np.float64).reshape(-1, *kernel_shape)
