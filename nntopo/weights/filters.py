"""The space of first-layer filters: the kernels of a CNN architecture's first convolutional layer, over
every trained seed, as a point cloud, and its shape.

Gabrielsson and Carlsson ("Exposition and interpretation of the topology of neural networks", 2019)
found that the 3x3 first-layer kernels of many CNNs trained on MNIST, mean-centred, normalised and
kept only where contrast and density are high, lie around a circle: edges at every orientation, the
"primary circle" Carlsson et al. found in patches of natural images ("On the local behavior of spaces
of natural images", 2008). Per dataset and CNN architecture this module

- gathers every first-layer kernel of every seed's ``weights.h5`` (batch normalisation's per-channel
  scale folded in; a kernel per pair of output and input channel), of whatever kernel shape the file
  holds (``gather_kernels``);
- mean-centres them and measures their contrast (``centre``, ``contrast``), keeps the highest-contrast
  share (``contrast_filter``), scales those to unit length (``unit_vectors``) and keeps the densest
  share, by the distance to the k-th nearest neighbour (``knn_distance``, ``density_filter``); ``select``
  runs these steps in turn;
- computes the Euclidean Vietoris-Rips persistence diagram of the kept points (``persistence_diagrams``,
  ripser), whose long H1 bars (``loop_lifetimes``) are the loops, and the Mapper graph of the points
  with the space of neurons' Mapper (``nntopo.weights.neurons.mapper_graph``), each node's mean kernel
  beside it, and the points' angle in their first two principal components (``principal_plane``), the
  place on the circle, should there be one.

Plain numpy in, plain numpy out; reading the files and writing ``store.FilterSpace`` happen in
``filter_space`` and ``architecture_filter_space`` alone.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np

from nntopo import store
from nntopo.store import FilterSpace

CONTRAST_NORMS = ("euclidean", "d_norm")
FLAT = 1e-9  # a centred kernel whose contrast is at most this share of the largest is flat: no direction


# --- the kernels -----------------------------------------------------------------------------------

def first_layer_kernels(path) -> np.ndarray:
    """(out * in, kh, kw) the kernels of the first hidden layer of ``weights.h5`` at ``path``, batch
    normalisation's per-channel scale folded in, in the order (output channel, input channel). A file
    whose first hidden layer is not a convolution is refused (StoreError, one line)."""
    first = store.read_weights(path)[store.hidden_name(1)]
    if not first.is_convolution:
        raise store.StoreError(f"{path}: hidden_1 is not a convolution (weight of shape "
                                 f"{list(first.weight.shape)}); the space of filters needs a CNN's weights")
    weight = np.asarray(first.affine()[0], dtype=np.float64)
    return weight.reshape(-1, *first.kernel_shape)


def gather_kernels(paths) -> tuple[np.ndarray, np.ndarray]:
    """Every first-layer kernel of the models at ``paths``: (kernels (N, kh, kw), source (N,), the index
    in ``paths`` of the file each came from). The files must agree on the kernel shape."""
    kernels, source = [], []
    for index, path in enumerate(paths):
        found = first_layer_kernels(path)
        if kernels and found.shape[1:] != kernels[0].shape[1:]:
            raise store.StoreError(f"{path}: {found.shape[1]}x{found.shape[2]} kernels, but {paths[0]} has "
                                     f"{kernels[0].shape[1]}x{kernels[0].shape[2]}; gather one architecture's models")
        kernels.append(found)
        source.append(np.full(len(found), index, dtype=np.int64))
    if not kernels:
        raise ValueError("no weights files to gather kernels from")
    return np.concatenate(kernels), np.concatenate(source)


# --- preprocessing, as Carlsson et al. prepare image patches ------------------------------------------

def centre(kernels: np.ndarray) -> np.ndarray:
    """(N, kh * kw) each kernel flattened minus its own mean. A kernel's mean is the part of its response
    that a uniform patch would give too (brightness, not pattern); taking it away leaves the pattern, so
    two kernels that differ by a constant are one filter."""
    flat = np.asarray(kernels, dtype=np.float64).reshape(len(kernels), -1)
    return flat - flat.mean(axis=1, keepdims=True)


def d_norm(centred: np.ndarray, kernel_shape: tuple[int, int]) -> np.ndarray:
    """(N,) the D-norm of each centred kernel, Lee, Pedersen and Mumford's contrast of an image patch:
    the square root of the sum, over every two pixels side by side (horizontally or vertically), of
    their squared difference. It weighs the kernel's gradients, where the Euclidean norm weighs its
    values."""
    grids = np.asarray(centred, dtype=np.float64).reshape(-1, *kernel_shape)
    across = np.diff(grids, axis=2) ** 2
    down = np.diff(grids, axis=1) ** 2
    return np.sqrt(across.sum(axis=(1, 2)) + down.sum(axis=(1, 2)))


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
    points: np.ndarray  # (n, kh * kw) their centred unit vectors


def select(kernels: np.ndarray, settings: dict) -> Selection:
    """Every step in turn on (N, kh, kw) ``kernels`` (``settings``: config.filters_slice): centre,
    measure the contrast, keep the ``contrast_share`` of highest contrast, scale those to unit length,
    keep the ``density_share`` of them densest by the distance to the ``density_k``-th neighbour."""
    centred = centre(kernels)
    contrasts = contrast(centred, settings["contrast_norm"], tuple(np.shape(kernels)[1:]))
    contrasted = contrast_filter(contrasts, settings["contrast_share"])
    unit = unit_vectors(centred[contrasted])
    distances = knn_distance(unit, settings["density_k"])
    dense = density_filter(distances, settings["density_share"])
    return Selection(contrasts, contrasted, distances, contrasted[dense], unit[dense])


# --- the shape -------------------------------------------------------------------------------------

def persistence_diagrams(points: np.ndarray, maxdim: int = 1) -> list[np.ndarray]:
    """The Euclidean Vietoris-Rips persistence diagrams H0 .. H_maxdim of the unit vectors
    (nntopo.topology.homology.diagrams), not rescaled: 0 to 2 apart, sqrt(2) when orthogonal."""
    from nntopo.weights.neurons import persistence_diagrams as diagrams

    return diagrams(points, maxdim)


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


def node_kernels(node_ptr, node_points, points: np.ndarray, kernel_shape: tuple[int, int]) -> np.ndarray:
    """(n_nodes, kh, kw) the mean of each Mapper node's points (centred unit kernels), as a kernel."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    means = [points[node_points[node_ptr[i]:node_ptr[i + 1]]].mean(axis=0) for i in range(len(node_ptr) - 1)]
    return np.asarray(means, dtype=np.float64).reshape(-1, *kernel_shape)


# --- the stage ---------------------------------------------------------------------------------------

def model_of(path) -> str:
    """The model id ``weights.h5`` at ``path`` records (its folder's name if it records none)."""
    from pathlib import Path

    return str(store.read_attrs(path).get("model") or Path(path).parent.name)


def filter_space(weight_paths, dataset: str, architecture: str, settings: dict, log=print) -> FilterSpace:
    """The space of first-layer filters of the models at ``weight_paths`` (every seed of one CNN
    architecture; ``settings``: config.filters_slice)."""
    from nntopo.models import ModelId
    from nntopo.weights.neurons import mapper_graph

    start = time.perf_counter()
    weight_paths = [str(p) for p in weight_paths]
    models = [model_of(path) for path in weight_paths]
    for path, model in zip(weight_paths, models):
        try:
            found = ModelId.parse(model).architecture
        except ValueError:
            found = None  # a file from elsewhere: its kernels are read, its name is not checked
        if found is not None and found != architecture:
            raise store.StoreError(f"{path}: model {model} is not of architecture {architecture}")
    kernels, source = gather_kernels(weight_paths)
    shape = tuple(int(s) for s in kernels.shape[1:])
    where = f"{dataset} {architecture}"
    named = ", ".join(models[:3]) + (f" ... {models[-1]}" if len(models) > 3 else "")
    log(f"{where}: {len(kernels)} first-layer kernels of {shape[0]}x{shape[1]} from {len(weight_paths)} models "
        f"({named})")

    chosen = select(kernels, settings)
    contrasts, contrasted, kept, points = chosen.contrast, chosen.contrasted, chosen.kept, chosen.points
    flat = int((contrasts <= FLAT * contrasts.max(initial=0.0)).sum())
    log(f"{where}: contrast ({settings['contrast_norm']}) filter keeps {len(contrasted)} of {len(kernels)} kernels "
        f"(share {settings['contrast_share']:g}" + (f"; {flat} flat kernels never kept" if flat else "") + ")"
        + (f", contrast {contrasts[contrasted].min():.3g} and above (largest {contrasts.max():.3g})"
           if len(contrasted) else ""))
    if len(contrasted) and settings["density_k"] > len(contrasted) - 1:
        log(f"{where}: only {len(contrasted)} kernels for density_k = {settings['density_k']}: the density is the "
            f"distance to the furthest of the others")
    log(f"{where}: density filter (distance to the {settings['density_k']}-th neighbour) keeps {len(kept)} of "
        f"{len(contrasted)} (share {settings['density_share']:g})")
    plane, plane_variance = principal_plane(points)

    graph, eps = mapper_graph(points, settings["mapper"], 0)
    graph["node_kernels"] = node_kernels(graph["node_ptr"], graph["node_points"], points, shape)
    if eps is None:
        log(f"{where}: {len(points)} points, no more than min_samples = {settings['mapper']['min_samples']}: "
            f"no Mapper graph")
    else:
        covered = len(np.unique(graph["node_points"]))
        log(f"{where}: Mapper graph of {len(graph['node_ptr']) - 1} nodes, {len(graph['edges'])} edges, "
            f"{len(np.unique(graph['node_component']))} components, {covered} of {len(points)} points in a node "
            f"(DBSCAN radius {eps:.3f})")

    diagrams = persistence_diagrams(points, settings["maxdim"])
    if settings["maxdim"] >= 1:
        lifetimes = loop_lifetimes(diagrams[1])
        loops = (f"lifetimes {', '.join(f'{x:.3f}' for x in lifetimes[:5])}" + (" ..." if len(lifetimes) > 5 else "")
                 + f"; longest / second {loop_ratio(lifetimes):.2f}") if len(lifetimes) else "no loop"
        log(f"{where}: {len(lifetimes)} H1 features, {loops}; the first two principal components hold "
            f"{plane_variance:.0%} of the variance ({time.perf_counter() - start:.1f} s in all)")

    attrs = {
        "dataset": dataset,
        "architecture": architecture,
        "models": json.dumps(models),
        "weight_files": json.dumps(weight_paths),
        "config": json.dumps(settings, sort_keys=True),
        "versions": json.dumps(store.versions(), sort_keys=True),
        "kernel_shape": list(shape),
        "contrast_norm": settings["contrast_norm"],
        "contrast_share": settings["contrast_share"],
        "density_k": settings["density_k"],
        "density_share": settings["density_share"],
        "maxdim": settings["maxdim"],
        "mapper": json.dumps(settings["mapper"], sort_keys=True),
        "eps": float("nan") if eps is None else eps,
        "plane_variance": plane_variance,
    }
    return FilterSpace(kernels, source, contrasts, contrasted, chosen.density, kept, points, plane, graph, diagrams,
                       attrs)


def architecture_filter_space(weight_paths, dataset: str, architecture: str, settings: dict, outputs,
                              log=print) -> FilterSpace:
    """Rule filter_space: the space of first-layer filters into ``outputs.space`` and its figures
    (paths.FILTER_FIGURES, named outputs)."""
    space = filter_space(weight_paths, dataset, architecture, settings, log)
    store.write_filter_space(outputs.space, space)
    draw_figures(space, outputs)
    return space


def draw_figures(space: FilterSpace, outputs) -> None:
    from nntopo import plotting
    from nntopo.weights import filter_plots

    title = f"{space.attrs['dataset']} {space.attrs['architecture']}"
    plotting.save(filter_plots.filter_diagram(space, title=title), outputs.filter_diagram)
    plotting.save(filter_plots.filter_graph(space, title=title), outputs.filter_graph)
