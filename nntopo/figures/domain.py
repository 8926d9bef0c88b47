"""Figures drawn on the input domain of a regressor whose inputs are 2-D points (a field u(x, y), as a
physics-informed network's; docs/guides/pina.md): every analysed point at its input coordinates.

Per model, layer and clustering method (``LAYER_FIGURES``, paths.METHOD_FIGURE):

- ``domain_clusters``: each cluster's region, the points coloured by cluster; beside it the same regions
  coloured by their cluster's mean target and by their cluster's mean squared error (continuous keys);
- ``domain_neurons``: each top neuron's activation over the domain, a panel per (cluster, neuron): the
  cluster's ``figures.top`` top-ranked neurons of the ranked layer shown (the clustered layer's own;
  the deepest analysed hidden layer for the output's clusters), the cluster's region outlined;
- ``domain_ablation``: where silencing a cluster's top ``clustering.top_k`` neurons (the set the
  ablation table silences) raises the error: per point, its squared error after minus before, a
  panel per cluster, one diverging colour key centred at 0 for all.

Per model (``MODEL_FIGURES``, paths.MODEL_FIGURE): ``domain_error``, the target, the network's output
and its error (output - target; the squared error when there are several targets) over the domain.

The ``plot_*`` functions take arrays and return a matplotlib Figure; ``write_layer_figures`` and
``write_model_figures`` read the workflow's files (scripts/domain_figures.py, rules/domain.smk).
"""

from __future__ import annotations

import math

import numpy as np

from nntopo import paths, plotting, task

LAYER_FIGURES = ("domain_clusters", "domain_neurons", "domain_ablation")
MODEL_FIGURES = ("domain_error",)
SEQUENTIAL_CMAP = plotting.TARGET_CMAP  # a value that is never negative (a target of one sign, an error)
OUTLINE_COLOR = "black"


def layer_outputs() -> dict[str, str]:
    """The per (layer, method) figures, name -> path pattern."""
    return {name: paths.fill(paths.METHOD_FIGURE, figure=name) for name in LAYER_FIGURES}


def model_outputs() -> dict[str, str]:
    """The per model figures, name -> path pattern."""
    return {name: paths.fill(paths.MODEL_FIGURE, figure=name) for name in MODEL_FIGURES}


def draws_domain(info) -> bool:
    """Whether the domain figures are drawn for a dataset (``datasets.DatasetInfo``): a regression whose
    inputs are 2-D points."""
    return info.task == task.REGRESSION and info.input_shape is not None and tuple(info.input_shape) == (2,)


# --- drawing: arrays in, a Figure out -------------------------------------------------------------

def colour_scale(*arrays, signed: bool = False) -> tuple[str, float, float]:
    """(colour map, vmin, vmax) of values shown on one key: a diverging map centred at 0 when any is
    negative or the values are ``signed`` by nature (a difference), else a sequential one from 0."""
    values = [np.asarray(a, dtype=np.float64) for a in arrays if np.size(a)]
    low = min((float(np.nanmin(v)) for v in values), default=0.0)
    if low < 0 or signed:
        peak = plotting.symmetric_scale(*values)
        return plotting.WEIGHT_CMAP, -peak, peak
    high = max((float(np.nanmax(v)) for v in values), default=0.0)
    return SEQUENTIAL_CMAP, 0.0, high if high > 0 else 1.0


def _marker_size(ax_inches: float, xy: np.ndarray) -> float:
    """A square marker's area (points^2) that tiles a panel ``ax_inches`` wide with points about as dense
    as a regular grid of as many points would be."""
    side = ax_inches * 72 / math.sqrt(max(len(xy), 1))
    return max(side * 1.15, 0.5) ** 2


def _domain_axes(ax, xy: np.ndarray, title: str = "", fontsize: float = 8) -> None:
    pad = 0.02 * max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-12)
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=6, length=2, pad=1)
    if title:
        ax.set_title(title, fontsize=fontsize)


def _field(ax, xy, values, cmap, vmin, vmax, size):
    """``values`` at the points ``xy``, as square markers; returns what a colour bar shows."""
    return ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap=cmap, vmin=vmin, vmax=vmax, s=size, marker="s",
                      linewidths=0, rasterized=True)


def _outline(ax, xy: np.ndarray, inside: np.ndarray, triangulation) -> None:
    """The boundary of the points ``inside`` (a region), as the 0.5 contour of its indicator: black on
    white, seen on a dark colour and a light one alike."""
    if inside.any() and not inside.all():
        for colour, width in (("white", 1.8), (OUTLINE_COLOR, 0.8)):
            ax.tricontour(triangulation, inside.astype(np.float64), levels=[0.5], colors=colour, linewidths=width)


def _triangulation(xy: np.ndarray):
    from matplotlib.tri import Triangulation

    return Triangulation(xy[:, 0], xy[:, 1])


def _colour_key(fig, mappable, axes, label: str) -> None:
    bar = fig.colorbar(mappable, ax=axes, shrink=0.85, aspect=30, pad=0.02)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


def plot_regions(xy, labels, targets, errors, title: str, max_clusters: int = plotting.MAX_CLUSTERS):
    """Each cluster's region: the points at their coordinates ``xy`` (N x 2) coloured by cluster
    (``labels``, -1 none), then by their cluster's mean target (``targets``, N: the projected target)
    and by their cluster's mean squared error (``errors``, N: each point's squared error)."""
    import pandas as pd
    from matplotlib.lines import Line2D

    xy, labels = np.asarray(xy, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    targets, errors = np.asarray(targets, dtype=np.float64), np.asarray(errors, dtype=np.float64)
    sizes = pd.Series(labels).value_counts()
    shown, note = plotting.largest_clusters(sizes, max_clusters)
    n_clusters = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    colours = plotting.label_colors(np.where(np.isin(labels, shown), labels, -1), n_clusters)
    fig = plotting.new_figure(13, 4.6)
    axes = fig.subplots(1, 3)
    size = _marker_size(3.4, xy)
    axes[0].scatter(xy[:, 0], xy[:, 1], c=colours, s=size, marker="s", linewidths=0, rasterized=True)
    _domain_axes(axes[0], xy, "clusters" + note)
    palette = plotting.cluster_colors(n_clusters)
    handles = [Line2D([], [], marker="s", linestyle="", color=palette[c], label=f"{c} (n={int(sizes[c]):,})")
               for c in shown]
    if (labels < 0).any():
        handles.append(Line2D([], [], marker="s", linestyle="", color=plotting.NOISE_COLOR,
                              label=f"none (n={int((labels < 0).sum()):,})"))
    axes[0].legend(handles=handles, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                   title="cluster", title_fontsize=7, handletextpad=0.2, borderaxespad=0.2)
    for ax, values, what in ((axes[1], targets, "mean target"), (axes[2], errors, "mean squared error")):
        means = cluster_means(labels, values)
        cmap, vmin, vmax = colour_scale(means[labels >= 0])
        mappable = _field(ax, xy, np.where(labels >= 0, means, np.nan), cmap, vmin, vmax, size)
        _domain_axes(ax, xy, f"each cluster's {what}")
        _colour_key(fig, mappable, ax, what)
    fig.suptitle(plotting.wrapped(title, 13, 10), fontsize=10)
    return fig


def cluster_means(labels, values) -> np.ndarray:
    """(N,) each point's cluster's mean of ``values`` (NaN for points in no cluster)."""
    labels, values = np.asarray(labels, dtype=np.int64), np.asarray(values, dtype=np.float64)
    means = np.full(len(labels), np.nan)
    inside = labels >= 0
    if inside.any():
        _, index = np.unique(labels[inside], return_inverse=True)
        sums, counts = np.bincount(index, weights=values[inside]), np.bincount(index)
        means[inside] = (sums / counts)[index]
    return means


def plot_neurons(xy, hidden, labels, top: dict, title: str, max_clusters: int = plotting.MAX_CLUSTERS):
    """Each top neuron's activation over the domain: a row per cluster (the largest ``max_clusters``), a
    panel per neuron of ``top`` (cluster -> its neurons in rank order), one colour key for all, the
    cluster's region outlined. ``hidden``: (N, H) the ranked layer's activations."""
    import pandas as pd

    xy, hidden = np.asarray(xy, dtype=np.float64), np.asarray(hidden, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    shown, note = plotting.largest_clusters(pd.Series(labels).value_counts(), max_clusters)
    shown = [c for c in shown if len(top.get(c, ()))]
    n_cols = max((len(top[c]) for c in shown), default=1)
    fig = plotting.new_figure(1.55 * n_cols + 1.3, 1.55 * max(len(shown), 1) + 0.7)
    if not shown:
        plotting.no_data(fig.subplots(), "no cluster has ranked neurons")
        fig.suptitle(title, fontsize=10)
        return fig
    axes = np.atleast_2d(fig.subplots(len(shown), n_cols, squeeze=False))
    used = sorted({int(n) for c in shown for n in top[c]})
    cmap, vmin, vmax = colour_scale(hidden[:, used])
    triangulation = _triangulation(xy)
    size = _marker_size(1.3, xy)
    colours = plotting.cluster_colors(int(labels.max()) + 1)
    mappable = None
    for row, cluster in enumerate(shown):
        inside = labels == cluster
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= len(top[cluster]):
                ax.set_axis_off()
                continue
            neuron = int(top[cluster][col])
            mappable = _field(ax, xy, hidden[:, neuron], cmap, vmin, vmax, size)
            _outline(ax, xy, inside, triangulation)
            _domain_axes(ax, xy, f"neuron {neuron}", fontsize=7)
            if col:
                ax.set_yticklabels([])
            if row < len(shown) - 1:
                ax.set_xticklabels([])
        axes[row, 0].set_ylabel(f"cluster {cluster}\nn={int(inside.sum()):,}", fontsize=7.5,
                                backgroundcolor=(*colours[cluster][:3], 0.45))
    _colour_key(fig, mappable, axes, "activation")
    fig.suptitle(plotting.wrapped(title + note, 1.55 * n_cols + 1.3, 9), fontsize=9)
    return fig


def plot_ablation(xy, rises: dict, labels, neurons: dict, title: str, max_clusters: int = plotting.MAX_CLUSTERS):
    """Where silencing each cluster's top neurons raises the error: a panel per cluster (the largest
    ``max_clusters`` of ``rises``: cluster -> (N,) each point's squared error after minus before), its
    region outlined, with the mean rise on its points and on the others; ``neurons``: cluster -> the
    silenced neurons."""
    import pandas as pd

    xy, labels = np.asarray(xy, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    shown, note = plotting.largest_clusters(pd.Series(labels).value_counts(), max_clusters)
    shown = [c for c in shown if c in rises]
    rows, cols = plotting.panel_grid(max(len(shown), 1), 5)
    fig = plotting.new_figure(2.3 * cols + 1.0, 2.7 * rows + 0.6)  # three lines of title a panel
    if not shown:
        plotting.no_data(fig.subplots(), "no cluster was ablated")
        fig.suptitle(title, fontsize=10)
        return fig
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    peak = plotting.symmetric_scale(*(rises[c] for c in shown))
    triangulation = _triangulation(xy)
    size = _marker_size(2.0, xy)
    mappable = None
    for ax, cluster in zip(axes, shown):
        inside = labels == cluster
        rise = np.asarray(rises[cluster], dtype=np.float64)
        mappable = _field(ax, xy, rise, plotting.WEIGHT_CMAP, -peak, peak, size)
        _outline(ax, xy, inside, triangulation)
        silenced = ", ".join(str(int(n)) for n in neurons.get(cluster, ()))
        outside = float(rise[~inside].mean()) if (~inside).any() else float("nan")
        _domain_axes(ax, xy, f"cluster {cluster} (n={int(inside.sum()):,})\nneurons {silenced} silenced\nmean rise "
                             f"{rise[inside].mean():.3g} inside, {outside:.3g} outside", fontsize=7)
    for ax in axes[len(shown):]:
        ax.set_axis_off()
    _colour_key(fig, mappable, axes, "squared error after - before")
    fig.suptitle(plotting.wrapped(title + note, 2.3 * cols + 1.0, 10), fontsize=10)
    return fig


def plot_error(xy, targets, outputs, title: str):
    """The network's target, output and error over the domain (``targets``, ``outputs``: N x d). One
    target: its value, the output on the same key and the error output - target, centred at 0; several:
    their projection on the first principal component (``task.projection_of`` of the targets) and each
    point's squared error."""
    xy = np.asarray(xy, dtype=np.float64)
    targets, outputs = task.targets_2d(targets), task.targets_2d(outputs)
    if targets.shape[1] == 1:
        shown_targets, shown_outputs = targets[:, 0], outputs[:, 0]
        error, error_label = outputs[:, 0] - targets[:, 0], "output - target"
    else:
        projection = task.projection_of(targets)
        shown_targets, shown_outputs = task.project(targets, projection), task.project(outputs, projection)
        error, error_label = task.point_errors(outputs, targets), "squared error"
    fig = plotting.new_figure(13, 4.4)
    axes = fig.subplots(1, 3)
    size = _marker_size(3.4, xy)
    cmap, vmin, vmax = colour_scale(shown_targets, shown_outputs)
    for ax, values, name in ((axes[0], shown_targets, "target"), (axes[1], shown_outputs, "output")):
        mappable = _field(ax, xy, values, cmap, vmin, vmax, size)
        _domain_axes(ax, xy, name)
    _colour_key(fig, mappable, axes[:2], "value" if targets.shape[1] == 1 else "projected value")
    cmap, vmin, vmax = colour_scale(error, signed=targets.shape[1] == 1)
    mappable = _field(axes[2], xy, error, cmap, vmin, vmax, size)
    _domain_axes(axes[2], xy, error_label)
    _colour_key(fig, mappable, axes[2], error_label)
    fig.suptitle(f"{title}: mse {task.mse(outputs, targets):.3g}, relative L2 {task.relative_l2(outputs, targets):.3g}",
                 fontsize=10)
    return fig


# --- the workflow's files -------------------------------------------------------------------------

def analysed_coordinates(acts, *, data_dir=None, download: bool = False, data_file=None,
                         where: str = "") -> np.ndarray:
    """(N, 2) float64: the input coordinates of the analysed points of ``acts`` (store.Activations), as
    the network reads them; one line when they are not 2-D points."""
    from nntopo.data.points import of_files

    _, points = of_files(acts.attrs, acts.point_index, data_dir=data_dir, download=download, data_file=data_file,
                         where=where)
    x = np.asarray(points.x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{where}: the domain figures draw points of a 2-D input domain, but dataset "
                         f"{acts.attrs['dataset']}'s inputs have {math.prod(x.shape[1:])} values each; leave them out")
    return x


def _regressor(acts, where: str):
    if acts.targets is None:
        raise ValueError(f"{where}: the domain figures are a regressor's (task regression), and this network "
                         f"classifies; leave them out")
    return acts


def write_model_figures(acts, xy, outputs: dict, title: str) -> None:
    """``domain_error`` of a model: ``acts`` its activations (store.Activations), ``xy`` their points'
    coordinates (``analysed_coordinates``)."""
    _regressor(acts, acts.attrs.get("model", "the network"))
    plotting.save(plot_error(xy, acts.targets, acts.output, f"{title}: the network over its domain"),
                  outputs["domain_error"])


def write_layer_figures(acts, xy, clusters_path, ranking_path, outputs: dict, settings: dict, title: str,
                        ablator_of) -> None:
    """The ``LAYER_FIGURES`` of one layer and method: ``acts`` the model's activations (store.Activations),
    ``xy`` their points' coordinates (``analysed_coordinates``), the method's clusters and ranking files;
    ``settings``: ``shown`` (the ranked layer drawn), ``top`` (neurons drawn per
    cluster), ``top_k`` (neurons silenced, the ablation's), ``max_clusters``; ``ablator_of(acts, layer)``
    as ``analysis.stage.ablators`` gives it (None: the model has no network to silence units in)."""
    import pandas as pd

    from nntopo import store
    from nntopo.analysis.ranking import top_neurons

    _regressor(acts, acts.attrs.get("model", "the network"))
    clusters = store.read_clusters(clusters_path)
    if len(clusters.labels) != len(acts.labels) or len(xy) != len(acts.labels):
        raise store.StoreError(f"{clusters_path}: {len(clusters.labels)} labels and {len(xy)} points for the "
                               f"{len(acts.labels)} points of the activations; rerun its clustering")
    labels, shown, limit = clusters.labels, settings["shown"], settings["max_clusters"]
    ranking = pd.read_csv(ranking_path)
    ranking = ranking[ranking["layer"] == shown] if "layer" in ranking else ranking
    heading = f"{title}, {clusters.attrs['space']} {clusters.attrs['method']}"

    projected = task.project(acts.targets, acts.levels["projection"])  # a regression file always has its levels
    # Per output value, as the cluster table's mse: a cluster's mean is its mse there.
    errors = task.point_errors(acts.output, acts.targets) / acts.targets.shape[1]
    plotting.save(plot_regions(xy, labels, projected, errors, f"{heading}: each cluster's region", limit),
                  outputs["domain_clusters"])
    plotting.save(plot_neurons(xy, acts.layer(shown), labels, top_neurons(ranking, settings["top"]),
                               f"{heading}: the top {settings['top']} neurons of {shown} per cluster", limit),
                  outputs["domain_neurons"])

    silenced = top_neurons(ranking, settings["top_k"])
    ablator = ablator_of(acts, shown)
    if ablator is None:
        fig = plotting.new_figure(7, 2.2)
        plotting.no_data(fig.subplots(), f"{acts.attrs['model']} has no network to silence neurons in "
                                         f"({acts.attrs.get('no_network', 'recorded activations')})")
        fig.suptitle(f"{heading}: ablation on the domain", fontsize=10)
    else:
        before = ablator.scores()
        ablator.remember(list(silenced.values()))
        rises = {c: ablator.scores(units) - before for c, units in silenced.items() if len(units)}
        fig = plot_ablation(xy, rises, labels, silenced, f"{heading}: the rise of each point's squared error when "
                                                         f"a cluster's top {settings['top_k']} neurons of {shown} are "
                                                         "silenced", limit)
    plotting.save(fig, outputs["domain_ablation"])
