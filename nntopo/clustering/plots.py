"""Figures of a clustering: the clusters on an embedding, their composition, the Mapper graph."""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from nntopo.clustering.graph import graph_layout, majority_label, node_means
from nntopo.plotting import (
    BACKGROUND_COLOR,
    class_colors,
    cluster_colors,
    ERROR_CMAP,
    label_colors,
    largest_clusters,
    level_colors,
    MAX_CLUSTERS,
    new_figure,
    no_data,
    NOISE_COLOR,
    panel_grid,
    TARGET_CMAP,
    value_colors,
    value_key,
    value_norm,
    wrapped,
)


def cluster_composition(summary: pd.DataFrame, title: str = "", max_clusters: int = MAX_CLUSTERS,
                        level_names=None, target: str = "target") -> Figure:
    """Per cluster: its size (top, cluster colours), the true-label make-up of its points as a 100%
    stacked bar (bottom, one colour per class, digits written in segments of >= 6%), and the model's
    accuracy on its points (black diamond, same 0..1 axis). A row with cluster -1 is drawn last, in grey.

    A regressor's summary (``mse`` in place of ``accuracy``, counts per level set): the make-up over the
    target's level sets (``level_names``, ordered by value, coloured where they sit on the target's
    colour map), then the mean ``target`` of each cluster's points ± its standard deviation, and the
    model's mean squared error on them, each on its continuous colour scale with its key.
    """
    regression = "mse" in summary.columns
    summary = summary.sort_values("cluster", key=lambda c: np.where(c < 0, np.iinfo(np.int64).max, c)).reset_index(drop=True)
    class_cols = sorted((c for c in summary.columns if str(c).startswith("count_")),
                        key=lambda c: int(str(c).split("_")[1]))
    inside = summary[summary["cluster"] >= 0]
    n_clusters = int(inside["cluster"].max()) + 1 if len(inside) else 0
    shown, note = largest_clusters(inside.set_index("cluster")["size"], max_clusters)
    rows = summary[summary["cluster"].isin(shown) | (summary["cluster"] < 0)].reset_index(drop=True)
    n = len(rows)
    if regression:
        width = float(np.clip(4.5 + 0.55 * n, 8, 21))
        fig = new_figure(width, 10.4)
        ax_size, ax, ax_target, ax_error = fig.subplots(4, 1, sharex=True, height_ratios=[1, 2.6, 1.4, 1.4])
        fig.suptitle(wrapped(f"{title + ': ' if title else ''}cluster sizes, level sets of the {target}, its mean "
                             f"and the model's error{note}", width, 12), fontsize=12)
    else:
        fig = new_figure(float(np.clip(3.5 + 0.55 * n, 7, 20)), 6.8)
        ax_size, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.6])
        fig.suptitle(f"{title + ': ' if title else ''}cluster sizes and true-label composition{note}", fontsize=12)
    if n == 0:
        no_data(ax)
        return fig
    x = np.arange(n)
    clusters = rows["cluster"].to_numpy(np.int64)
    palette = np.vstack([cluster_colors(n_clusters), np.asarray(NOISE_COLOR)[None]])
    bar_colors = palette[np.where(clusters >= 0, clusters, n_clusters)]
    sizes = rows["size"].to_numpy(np.float64)
    bars = ax_size.bar(x, sizes, color=bar_colors, edgecolor="0.3", linewidth=0.4)
    ax_size.bar_label(bars, labels=[f"{int(s):,}" for s in sizes], fontsize=8, padding=1)
    if sizes.max() > 30 * max(sizes.min(), 1):
        ax_size.set_yscale("log")
        ax_size.set_ylim(0.7, sizes.max() * 4)
        ax_size.set_ylabel("points (log)")
    else:
        ax_size.set_ylim(0, sizes.max() * 1.25)
        ax_size.set_ylabel("points")
    ax_size.set_title("cluster size", fontsize=10, loc="left")

    counts = rows[class_cols].to_numpy(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    colors = level_colors(len(class_cols)) if regression else class_colors(len(class_cols))
    names = ([str(name) for name in level_names] if level_names is not None and len(level_names) == len(class_cols)
             else [str(c).split("_")[1] for c in class_cols])
    bottom = np.zeros(n)
    for k, col in enumerate(class_cols):
        ax.bar(x, shares[:, k], 0.8, bottom=bottom, color=colors[k], edgecolor="white", linewidth=0.4,
               label=names[k])
        bottom += shares[:, k]
    if not regression:  # a level set's name is a range of values: too long for a segment; the key names them
        big = np.argwhere(shares >= 0.06)
        centres = np.cumsum(shares, axis=1) - shares / 2
        for i, k in big:
            ax.text(i, centres[i, k], str(class_cols[k]).split("_")[1], ha="center", va="center", fontsize=9,
                    color="0.15")
        ax.scatter(x, rows["accuracy"].to_numpy(np.float64), marker="D", s=28, c="black", zorder=4,
                   label="accuracy")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_ylabel("share of the cluster's points")
    ax.set_xticks(x, [str(c) if c >= 0 else "none\n(-1)" for c in clusters], fontsize=9)
    (ax_error if regression else ax).set_xlabel("cluster" + (" (none: points in no cluster)" if (clusters < 0).any() else ""))
    handles = [Patch(facecolor=colors[k], edgecolor="0.6", label=names[k]) for k in range(len(class_cols))]
    if regression:
        ax.legend(handles=handles[::-1], title=f"level set of the {target}\n(highest on top)", loc="upper left",
                  bbox_to_anchor=(1.01, 1), fontsize=8, title_fontsize=9, frameon=False)
        _target_and_error(fig, ax_target, ax_error, rows, x, target)
    else:
        handles.append(Line2D([], [], marker="D", color="black", linestyle="none", label="model accuracy\non the cluster"))
        ax.legend(handles=handles, title="true label", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
                  title_fontsize=9, frameon=False)
    ax.set_xlim(-0.6, n - 0.4)
    return fig


def _target_and_error(fig: Figure, ax_target, ax_error, rows: pd.DataFrame, x: np.ndarray, target: str) -> None:
    """A regressor's clusters: their points' mean target ± standard deviation (markers in the target's
    colours) and the model's mean squared error on them (bars in the error's), each with its key."""
    mean = rows["target_mean"].to_numpy(np.float64)
    std = rows["target_std"].to_numpy(np.float64)
    norm = value_norm(np.concatenate([mean - std, mean + std]))
    ax_target.errorbar(x, mean, yerr=std, fmt="none", ecolor="0.35", capsize=3, zorder=2)
    ax_target.scatter(x, mean, s=60, c=value_colors(mean, norm, TARGET_CMAP), edgecolors="0.2", linewidths=0.6,
                      zorder=3)
    ax_target.set_ylabel(f"mean {target}\n± sd")
    ax_target.set_title(f"the {target} on the cluster's points", fontsize=10, loc="left")
    ax_target.grid(axis="y", alpha=0.3)
    value_key(fig, ax_target, norm, TARGET_CMAP, target, aspect=12)
    mse = rows["mse"].to_numpy(np.float64)
    error_norm = value_norm(mse, low=0.0)
    bars = ax_error.bar(x, np.nan_to_num(mse), 0.6, color=value_colors(mse, error_norm, ERROR_CMAP), edgecolor="0.3",
                        linewidth=0.4)
    relative = rows["relative_l2"].to_numpy(np.float64) if "relative_l2" in rows else np.full(len(rows), np.nan)
    ax_error.bar_label(bars, labels=[f"{m:.3g}" + (f"\n{r:.1%}" if np.isfinite(r) else "") for m, r in zip(mse, relative)],
                       fontsize=7, padding=1)
    ax_error.set_ylim(0, error_norm.vmax * 1.35)
    ax_error.set_ylabel("mean squared\nerror")
    ax_error.set_title("the model's error on the cluster's points (label: mean squared error, relative L2)",
                       fontsize=10, loc="left")
    value_key(fig, ax_error, error_norm, ERROR_CMAP, "mean squared error", aspect=12)


def cluster_manifold(embedding: np.ndarray, labels: np.ndarray, title: str = "",
                     max_clusters: int = MAX_CLUSTERS, max_cols: int = 6, targets=None, errors=None,
                     target: str = "target") -> Figure:
    """The 2-D embedding: a first panel with every cluster in its colour (no cluster: grey), then one
    panel per cluster (the largest ``max_clusters``) with it highlighted over the other points in grey.

    A regressor's points (``targets``: (N,) each point's ``target``, ``errors``: (N,) its squared
    error) get two panels after the first: the points coloured by their target, and by the model's
    error on them (the largest drawn on top), each with its colour key.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_points = len(labels)
    n_clusters = int(labels.max(initial=-1)) + 1
    sizes = pd.Series(np.bincount(labels[labels >= 0], minlength=n_clusters))
    shown, note = largest_clusters(sizes[sizes > 0], max_clusters)
    values = [(f"the points' {target}", np.asarray(targets, dtype=np.float64), TARGET_CMAP, target, None)
              ] if targets is not None else []
    if errors is not None:
        values.append(("the model's squared error", np.asarray(errors, dtype=np.float64), ERROR_CMAP,
                       "squared error", 0.0))
    n_rows, n_cols = panel_grid(len(shown) + 1 + len(values), max_cols)
    fig = new_figure(2.6 * n_cols + 0.3, 2.6 * n_rows + 0.6)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, sharex=True, sharey=True)).ravel()
    point_size = float(np.clip(6000 / max(n_points, 1), 0.5, 12))
    colors = label_colors(labels, n_clusters)
    order = np.random.default_rng(0).permutation(n_points)  # no cluster always drawn over another
    noise = labels < 0
    order = np.concatenate([order[noise[order]], order[~noise[order]]])
    x, y = embedding[:, 0], embedding[:, 1]
    ax = axes[0]
    ax.scatter(x[order], y[order], s=point_size, c=colors[order], linewidths=0, rasterized=True)
    n_noise = int(noise.sum())
    ax.set_title(f"all {n_clusters} cluster{'s' if n_clusters != 1 else ''}" + (f"\n(grey: {n_noise:,} in no cluster)" if n_noise else ""),
                 fontsize=9)
    for ax, (name, value, cmap, key, low) in zip(axes[1:], values):
        norm = value_norm(value, low)
        drawn = np.argsort(value, kind="stable")  # the largest on top: high targets, the worst errors
        ax.scatter(x[drawn], y[drawn], s=point_size, c=value_colors(value[drawn], norm, cmap), linewidths=0,
                   rasterized=True)
        ax.set_title(name, fontsize=9)
        value_key(fig, ax, norm, cmap, key, location="bottom", shrink=0.9, pad=0.02, aspect=25)
    palette = cluster_colors(n_clusters)
    for ax, c in zip(axes[1 + len(values):], shown):
        member = labels == c
        ax.scatter(x[~member], y[~member], s=point_size * 0.6, c=[BACKGROUND_COLOR], linewidths=0, rasterized=True)
        ax.scatter(x[member], y[member], s=point_size * 1.3, c=[palette[c]], linewidths=0, rasterized=True)
        ax.set_title(f"cluster {c} (n={int(member.sum()):,})", fontsize=9)
        for spine in ax.spines.values():
            spine.set_edgecolor(palette[c])
            spine.set_linewidth(2)
    for ax in axes[len(shown) + 1 + len(values):]:
        ax.set_axis_off()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="box")
    fig.suptitle(f"{title + ': ' if title else ''}clusters in the 2-D embedding{note}", fontsize=12)
    return fig


def draw_graph(ax, pos: np.ndarray, edges: np.ndarray, counts: np.ndarray, colors: np.ndarray,
                s_max: float, biggest: int = 0) -> None:
    """One Mapper graph on ``ax``: grey edges, nodes of area ∝ points (big ones below small ones); a
    node of ``biggest`` points (default: this graph's largest) gets area ``s_max``."""
    order = np.argsort(-counts, kind="stable")
    areas = 6 + s_max * counts / max(biggest or counts.max(), 1)
    segments = pos[edges] if len(edges) else np.zeros((0, 2, 2))
    ax.add_collection(LineCollection(segments, colors="0.55", linewidths=0.6, alpha=0.7, zorder=1))
    ax.scatter(pos[order, 0], pos[order, 1], s=areas[order], c=colors[order], edgecolors="0.25",
               linewidths=0.4, zorder=2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.05)


def _label_legend(fig: Figure, n_classes: int) -> np.ndarray:
    """The true-label palette, with its one legend at the figure's right."""
    palette = class_colors(n_classes)
    handles = [Line2D([], [], marker="o", linestyle="none", markerfacecolor=palette[k], markeredgecolor="0.25",
                      label=str(k)) for k in range(n_classes)]
    fig.legend(handles=handles, title="majority\ntrue label", fontsize=8, title_fontsize=9,
               loc="outside right upper", frameon=False)
    return palette


def mapper_graph(node_ptr: np.ndarray, node_points: np.ndarray, edges: np.ndarray, node_cluster: np.ndarray,
                 labels_true: np.ndarray | None = None, title: str = "", seed: int = 0,
                 positions: np.ndarray | None = None, targets=None, errors=None, target: str = "target") -> Figure:
    """The Mapper graph in its ``graph.graph_layout`` (as the pages draw it; or ``positions``): node area
    proportional to its number of points, edges between nodes sharing points. Left: nodes coloured
    by cluster (grey: in no cluster); right (when ``labels_true`` is given): by the majority true
    label of their points.

    A regressor's (``targets``: (N,) each point's ``target``; ``errors``: (N,) its squared error): in
    place of the labels, a panel with each node coloured by the mean target of its points and one by
    the model's mean squared error on them, each with its colour key.
    """
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    node_cluster = np.asarray(node_cluster, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    n_nodes = len(node_ptr) - 1
    counts = np.diff(node_ptr)
    n_clusters = int(node_cluster.max(initial=-1)) + 1
    values = [] if targets is None else [(f"coloured by the mean {target} of the node's points", targets, TARGET_CMAP,
                                          f"mean {target}", None)]
    if errors is not None:
        values.append(("coloured by the model's mean squared error on the node's points", errors, ERROR_CMAP,
                       "mean squared error", 0.0))
    two = labels_true is not None and not values
    fig = new_figure(13 if two else 7.5 + 5.6 * len(values), 6.4)
    axes = np.atleast_1d(fig.subplots(1, 2 if two else 1 + len(values)))
    fig.suptitle(f"{title + ': ' if title else ''}Mapper graph, {n_nodes} nodes, {len(edges)} edges "
                 f"(node area ∝ points in the node)", fontsize=12)
    if n_nodes == 0:
        for ax in axes:
            no_data(ax, "empty graph")
        return fig
    pos = graph_layout(n_nodes, edges, seed) if positions is None else np.asarray(positions, dtype=np.float64)
    s_max = float(np.clip(20000 / n_nodes, 60, 600))
    draw_graph(axes[0], pos, edges, counts, label_colors(node_cluster, n_clusters), s_max)
    present = sorted(set(node_cluster.tolist()))
    handles = [Line2D([], [], marker="o", linestyle="none", markerfacecolor=cluster_colors(n_clusters)[c],
                      markeredgecolor="0.25", label=str(c)) for c in present if c >= 0][:MAX_CLUSTERS]
    if -1 in present:
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor=NOISE_COLOR,
                              markeredgecolor="0.25", label="none"))
    more = len([c for c in present if c >= 0]) - MAX_CLUSTERS
    axes[0].legend(handles=handles, title="cluster" + (f" (+{more} more)" if more > 0 else ""), fontsize=8,
                   title_fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False,
                   ncols=2 if len(handles) > 12 else 1)
    axes[0].set_title(f"coloured by cluster ({n_clusters} clusters)", fontsize=10)
    if two:
        majority, purity = majority_label(node_ptr, node_points, labels_true)
        palette = _label_legend(fig, int(np.max(labels_true)) + 1)
        draw_graph(axes[1], pos, edges, counts, palette[majority], s_max)
        axes[1].set_title(f"coloured by majority true label (median node purity {np.median(purity):.0%})",
                          fontsize=10)
    for ax, (name, value, cmap, key, low) in zip(axes[1:], values):
        means = node_means(node_ptr, node_points, value)
        norm = value_norm(means, low)
        draw_graph(ax, pos, edges, counts, value_colors(means, norm, cmap), s_max)
        value_key(fig, ax, norm, cmap, key, location="bottom", shrink=0.7)
        ax.set_title(name, fontsize=10)
    return fig


def mapper_graphs_by_layer(graphs, labels_true: np.ndarray, title: str = "", seed: int = 0,
                           max_cols: int = 4, targets=None, target: str = "target") -> Figure:
    """The Mapper graphs of several layers side by side, one panel per layer in the given order
    (``graphs``: (layer name, node_ptr, node_points, edges, node_cluster[, positions]) each), in their
    ``graph.graph_layout`` (or the positions given): nodes coloured by the majority true label of their points (one legend
    for all), node area ∝ points (the same scale in every panel, so sizes compare across layers).
    A regressor's (``targets``: (N,) each point's ``target``): nodes coloured by the mean target of
    their points, on one colour scale (the points' range) with one key for all.
    """
    labels_true = np.asarray(labels_true, dtype=np.int64)
    n_rows, n_cols = panel_grid(max(len(graphs), 1), max_cols)
    fig = new_figure(4.6 * n_cols + 1.2, 3.1 * n_rows + 0.6)  # the layouts are packed 1.6:1
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols)).ravel()
    colouring = "majority true label" if targets is None else f"the mean {target} of their points"
    fig.suptitle(f"{title + ': ' if title else ''}Mapper graph of each layer, nodes coloured by {colouring} "
                 "(node area ∝ points in the node)", fontsize=12)
    if targets is None:
        palette = _label_legend(fig, int(labels_true.max(initial=0)) + 1)
    else:
        norm = value_norm(targets)
        value_key(fig, list(axes), norm, TARGET_CMAP, f"mean {target} of the node's points", shrink=0.6)
    ptrs = [np.asarray(g[1], dtype=np.int64) for g in graphs]
    biggest = max([int(np.diff(p).max(initial=0)) for p in ptrs], default=1)
    most_nodes = max([len(p) - 1 for p in ptrs], default=1)
    s_max = float(np.clip(10000 / max(most_nodes, 1), 20, 300))
    for ax, (name, node_ptr, node_points, edges, _, *positions), node_ptr in zip(axes, graphs, ptrs):
        n_nodes = len(node_ptr) - 1
        edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        ax.set_title(f"{name}: {n_nodes} nodes, {len(edges)} edges", fontsize=10)
        if n_nodes == 0:
            no_data(ax, "empty graph")
            continue
        counts = np.diff(node_ptr)
        if targets is None:
            colors = palette[majority_label(node_ptr, node_points, labels_true)[0]]
        else:
            colors = value_colors(node_means(node_ptr, node_points, targets), norm, TARGET_CMAP)
        pos = graph_layout(n_nodes, edges, seed) if not positions or positions[0] is None else positions[0]
        draw_graph(ax, np.asarray(pos, dtype=np.float64), edges, counts, colors, s_max, biggest)
    for ax in axes[len(graphs):]:
        ax.set_axis_off()
    return fig
