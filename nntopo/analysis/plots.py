"""Figures of the analysis: neuron rankings, what the top neurons see, ablation, agreement, the grid."""

from __future__ import annotations

import textwrap
from collections import Counter

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from nntopo.plotting import (
    check_image_shape,
    cluster_colors,
    darker,
    INPUT_CMAP,
    largest_clusters,
    MAX_CLUSTERS,
    natural_sort_key,
    NEAR_ZERO,
    new_figure,
    no_data,
    series_colors,
    symmetric_scale,
    TileRows,
    WEIGHT_CMAP,
)


def cluster_sizes(ranking: pd.DataFrame) -> pd.Series:
    """Size of each cluster in a ranking table (count / fraction of its rows), indexed by cluster."""
    if len(ranking) == 0:
        return pd.Series(dtype=np.int64)
    first = ranking.groupby("cluster", sort=True)[["count", "fraction"]].first()
    return (first["count"] / first["fraction"]).round().astype(np.int64)


def top_neurons(ranking: pd.DataFrame, cluster: int, top: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Neuron indices and fractions of a cluster's ``top`` best-ranked neurons, rank 1 first."""
    rows = ranking[ranking["cluster"] == cluster]
    rows = rows.sort_values(["rank", "neuron"]).head(top)
    return rows["neuron"].to_numpy(np.int64), rows["fraction"].to_numpy(np.float64)


def combined_weights(ranking_for_cluster: pd.DataFrame, hidden_weights: np.ndarray, top: int = 5) -> np.ndarray:
    """The cluster's combined weight image, flattened: sum over its ``top`` best-ranked neurons n of
    fraction(n) * hidden_weights[n] (fraction: share of the cluster's points with n in their top-k).

    ``ranking_for_cluster`` holds the ranking rows of one cluster. Shape (D,) for weights (H, D).
    """
    rows = ranking_for_cluster.sort_values(["rank", "neuron"]).head(top)
    neurons = rows["neuron"].to_numpy(np.int64)
    fractions = rows["fraction"].to_numpy(np.float64)
    return weighted_sum(hidden_weights, neurons, fractions)


def weighted_sum(hidden_weights: np.ndarray, neurons, coefficients) -> np.ndarray:
    """sum_i coefficients[i] * hidden_weights[neurons[i]], shape (D,); zeros when no neuron is given."""
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    neurons = np.asarray(neurons, dtype=np.int64)
    coefficients = np.asarray(coefficients, dtype=np.float64)
    if len(neurons) == 0:
        return np.zeros(hidden_weights.shape[1])
    return coefficients @ hidden_weights[neurons]


def through(image: np.ndarray, weight_image: np.ndarray) -> np.ndarray:
    """An input seen through a weight image: their elementwise product (same shape, flat or 2-D).

    Its sum is the weight image's dot product with the input, so for a combined weight image it is
    the fraction-weighted sum of the neurons' pre-activations, biases left out.
    """
    image = np.asarray(image, dtype=np.float64)
    weight_image = np.asarray(weight_image, dtype=np.float64)
    if image.size != weight_image.size:
        raise ValueError(f"image has {image.size} pixels but the weight image has {weight_image.size}")
    return image * weight_image.reshape(image.shape)


_METRICS = (
    ("test_accuracy", "test accuracy", "{:.2%}"),
    ("weight_l2_norm", "weight L2 norm (all layers)", "{:.1f}"),
    ("near_zero_fraction", f"near-zero weights (|w| < {NEAR_ZERO:g})", "{:.1%}"),
)


def _model_groups(models: list[str]) -> tuple[list[str], list[str]]:
    """(architecture-and-seed group, regularization) of each model id; an external network's name alone."""
    from nntopo.models import ModelId, is_grid_model

    groups, regs = [], []
    for model in models:
        if not is_grid_model(model):
            groups.append(str(model))
            regs.append("")
            continue
        mid = ModelId.parse(str(model))
        groups.append(f"{mid.architecture_name}  s{mid.seed}")
        regs.append(mid.regularization)
    return groups, regs


def grid_summary(table: pd.DataFrame, title: str = "") -> Figure:
    """Compare models: test accuracy, weight L2 norm and near-zero weight share as grouped bars.

    ``table`` has one row per model: ``model`` (a model id such as mlp100-l2-s0), ``test_accuracy``,
    ``weight_l2_norm``, ``near_zero_fraction``, and optionally ``n_clusters_<method>`` columns, drawn
    as one more panel (a models x methods table of cluster counts). Bars are grouped by architecture
    and seed, one colour per regularization, so regularized and plain models stand side by side.
    """
    table = table.reset_index(drop=True)
    cluster_cols = [c for c in table.columns if str(c).startswith("n_clusters_")]
    n_panels = len(_METRICS) + (1 if cluster_cols else 0)
    groups, regs = _model_groups(table["model"].tolist())
    group_names = list(dict.fromkeys(sorted(groups, key=natural_sort_key)))
    reg_names = sorted(set(regs), key=lambda r: (r != "none", r))
    reg_palette = {r: c for r, c in zip(reg_names, _regularization_colors(reg_names))}

    width = max(4.2 * n_panels, 8) + 0.15 * len(group_names) * len(reg_names)
    fig = new_figure(width, 4.8)
    axes = np.atleast_1d(fig.subplots(1, n_panels))
    x = np.arange(len(group_names))
    group_index = {g: i for i, g in enumerate(group_names)}
    # Within a group, its models side by side in regularization order, centred on the group's tick.
    slots = max(Counter(groups).values(), default=1)
    bar_w = 0.8 / slots
    xs = np.zeros(len(table))
    for g in group_names:
        members = sorted((i for i in range(len(table)) if groups[i] == g), key=lambda i: (reg_names.index(regs[i]), i))
        for j, i in enumerate(members):
            xs[i] = group_index[g] + (j - (len(members) - 1) / 2) * bar_w
    for ax, (column, label, fmt) in zip(axes, _METRICS):
        if column not in table or len(table) == 0 or table[column].isna().all():
            # An external network given without its weights has no weight statistics.
            no_data(ax, f"no {column}" if column not in table or len(table) == 0 else "no weights given")
            ax.set_title(label)
            continue
        values = table[column].to_numpy(np.float64)
        for reg in reg_names:
            rows = [i for i, r in enumerate(regs) if r == reg]
            bars = ax.bar(xs[rows], values[rows], bar_w * 0.95, color=reg_palette[reg], label=reg or "other",
                          edgecolor="white", linewidth=0.5)
            ax.bar_label(bars, labels=[fmt.format(v) for v in values[rows]], fontsize=7, rotation=90,
                         padding=2)
        finite = values[np.isfinite(values)]
        if column == "test_accuracy" and finite.size:
            spread = max(float(np.ptp(finite)), 0.01)
            low = max(0.0, float(finite.min()) - 0.3 * spread)
            high = float(finite.max()) + 0.25 * (float(finite.max()) - low)  # room for the value labels
            ax.set_ylim(low, high)
            ax.set_yticks([t for t in ax.get_yticks() if low <= t <= 1.0])
            label += " (axis starts above 0)" if low > 0 else ""
        elif finite.size:
            ax.set_ylim(0, float(finite.max()) * 1.25 or 1)
        if column in ("test_accuracy", "near_zero_fraction"):
            # Ticks a tenth of a point apart or closer (one model's axis) need two decimals to differ.
            step = np.diff(ax.get_yticks()).min(initial=1.0)
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1 if step >= 0.001 else 2))
        ax.set_title(label, fontsize=11)
        ax.set_xticks(x, group_names, rotation=30 if len(group_names) > 3 else 0, ha="right" if len(group_names) > 3 else "center",
                      fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    handles = [Patch(color=reg_palette[r], label=r or "other") for r in reg_names]
    if any(reg_names):
        fig.legend(handles=handles, title="regularization", loc="outside right upper", fontsize=9)

    if cluster_cols:
        ax = axes[-1]
        order = sorted(range(len(table)), key=lambda i: (group_index[groups[i]], reg_names.index(regs[i])))
        counts = table.loc[order, cluster_cols].to_numpy(np.float64)
        methods = [str(c)[len("n_clusters_"):] for c in cluster_cols]
        ax.imshow(np.zeros_like(counts), cmap="Greys", vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(counts):
            ax.text(j, i, "-" if not np.isfinite(v) else f"{int(v)}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=9)
        ax.set_yticks(range(len(order)), [str(table.loc[i, "model"]) for i in order], fontsize=8)
        for tick, i in zip(ax.get_yticklabels(), order):
            tick.set_color(darker(reg_palette[regs[i]]))
        ax.set_xticks(np.arange(len(methods) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(order) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="0.8")
        ax.tick_params(which="minor", length=0)
        ax.set_title("clusters found per method", fontsize=11)
    fig.suptitle(title or "models compared", fontsize=13)
    return fig


def _regularization_colors(names: list[str]) -> list:
    strong = colormaps["Dark2"].colors
    out, k = [], 0
    for name in names:
        if name == "none":
            out.append((0.55, 0.55, 0.55, 1.0))
        else:
            out.append(to_rgba(strong[k % len(strong)]))
            k += 1
    return out


def ranking_heatmap(ranking: pd.DataFrame, n_clusters: int, top: int = 5, title: str = "",
                    max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Clusters (rows) x hidden neurons (columns): the share of each cluster's points that have the
    neuron among their top-k most activated neurons.

    Columns are the neurons in any shown cluster's top-``top`` list, ordered by the first cluster
    listing them, then rank; a dot marks a cell in its row's top-``top`` list. Colours on a fixed
    0..1 scale, so models compare; a strip at the left gives each cluster's colour.
    """
    sizes = cluster_sizes(ranking).reindex(range(int(n_clusters)))
    shown, note = largest_clusters(sizes.fillna(0), max_clusters)
    best = ranking[(ranking["rank"] <= top) & ranking["cluster"].isin(shown)]
    best = best.sort_values(["cluster", "rank", "neuron"])
    columns = list(dict.fromkeys(best["neuron"].astype(int).tolist()))
    n_rows, n_cols = len(shown), len(columns)
    fig = new_figure(float(np.clip(3.4 + 0.24 * n_cols, 8, 26)), float(np.clip(2.0 + 0.34 * n_rows, 3.4, 12)))
    ax = fig.subplots()
    fig.suptitle(f"{title + chr(10) if title else ''}share of each cluster's points that have the neuron among "
                 f"their top-k active{note}", fontsize=11)
    if not n_rows or not n_cols:
        no_data(ax, "no ranked neurons")
        return fig
    row_of = {c: i for i, c in enumerate(shown)}
    col_of = {n: j for j, n in enumerate(columns)}
    cells = ranking[ranking["cluster"].isin(shown) & ranking["neuron"].isin(columns)]
    matrix = np.full((n_rows, n_cols), np.nan)
    matrix[cells["cluster"].map(row_of).to_numpy(), cells["neuron"].map(col_of).to_numpy()] = cells["fraction"]
    image = ax.imshow(matrix, cmap="magma_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest",
                      extent=(-0.5, n_cols - 0.5, n_rows - 0.5, -0.5))
    ax.set_facecolor("white")
    marks_r = best["cluster"].map(row_of).to_numpy()
    marks_c = best["neuron"].map(col_of).to_numpy()
    ax.scatter(marks_c, marks_r, s=10, c="white", edgecolors="black", linewidths=0.5, zorder=3)
    colors = cluster_colors(int(n_clusters))
    strip = colors[shown][:, None, :]
    ax.imshow(strip, extent=(-1.6, -0.7, n_rows - 0.5, -0.5), aspect="auto", interpolation="nearest")
    ax.set_xlim(-1.7, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_xticks(range(n_cols), [str(n) for n in columns], rotation=90 if n_cols > 12 else 0,
                  fontsize=8 if n_cols <= 60 else 6)
    ax.set_yticks(range(n_rows), [f"{c} (n={int(sizes[c]):,})" if np.isfinite(sizes[c]) else str(c) for c in shown],
                  fontsize=9)
    ax.set_xlabel(f"hidden neuron (those in some cluster's top {top}; dot: in this cluster's top {top})")
    ax.set_ylabel("cluster (size)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.01, fraction=0.04)
    bar.set_label("fraction of the cluster's points\n(white: none)")
    return fig


def neuron_weight_images(ranking: pd.DataFrame, hidden_weights: np.ndarray, image_shape, top: int = 5,
                         title: str = "", max_clusters: int = MAX_CLUSTERS) -> Figure:
    """For each cluster (a row): the input weights of its ``top`` best-ranked hidden neurons as images
    (rank 1 left; one symmetric colour scale per row, its colour bar after them), then their
    combination ``combined_weights``: the neurons' weight images summed, each weighted by its
    fraction (own symmetric scale and colour bar, framed in the cluster's colour).

    Image titles: neuron index and the fraction of the cluster's points with it in their top-k.
    """
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    h, w = check_image_shape(hidden_weights.shape[1], image_shape)
    sizes = cluster_sizes(ranking)
    shown, note = largest_clusters(sizes, max_clusters)
    n_clusters = int(ranking["cluster"].max()) + 1 if len(ranking) else 0
    colors = cluster_colors(n_clusters)
    gap, bar_w = 0.12 * w, 0.1 * w
    x_tiles = np.arange(top) * (w + gap)
    x_bar1 = top * (w + gap) - gap + 0.1 * w
    x_combo = x_bar1 + bar_w + 0.75 * w
    x_bar2 = x_combo + w + 0.1 * w
    layout = TileRows(max(len(shown), 1), x_bar2 + bar_w, (h, w), tile_in=1.15, left_in=1.25, right_in=0.5,
                       head_in=0.75, title_in=0.32)
    fig = layout.fig
    fig.suptitle(f"{title + ': ' if title else ''}input weights of each cluster's top {top} neurons{note}\n"
                 f"title: neuron (share of the cluster's points with it in their top-k); red excites, blue inhibits; "
                 f"right: Σ fraction × weight", fontsize=9.5, y=1 - 0.06 / layout.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no ranked neurons")
        return fig
    for r, c in enumerate(shown):
        ax = layout.row(r)
        neurons, fractions = top_neurons(ranking, c, top)
        images = hidden_weights[neurons]
        scale = symmetric_scale(images)
        im = None
        for k, (n, f) in enumerate(zip(neurons, fractions)):
            im = layout.tile(ax, images[k], x_tiles[k], WEIGHT_CMAP, -scale, scale, f"#{n} ({f:.0%})")
        if im is not None:
            layout.colorbar(ax, im, x_bar1, bar_w)
        combo = weighted_sum(hidden_weights, neurons, fractions)
        combo_scale = symmetric_scale(combo)
        im = layout.tile(ax, combo, x_combo, WEIGHT_CMAP, -combo_scale, combo_scale, "Σ fraction × weight",
                         frame=colors[c], frame_width=2)
        layout.colorbar(ax, im, x_bar2, bar_w)
        layout.row_label(ax, c, sizes.get(c), colors)
    return fig


def sample_points(labels: np.ndarray, clusters, per_cluster: int, seed: int) -> dict[int, np.ndarray]:
    """Up to ``per_cluster`` point indices of each cluster, drawn without replacement from
    ``np.random.default_rng(seed)`` in cluster order, sorted: the same seed gives the same points."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    out = {}
    for c in clusters:
        members = np.flatnonzero(labels == c)
        out[int(c)] = np.sort(rng.choice(members, min(per_cluster, len(members)), replace=False))
    return out


def transformed_inputs(images: np.ndarray, labels: np.ndarray, ranking: pd.DataFrame, hidden_weights: np.ndarray,
                       image_shape, seed: int, top: int = 5, per_cluster: int = 3, title: str = "",
                       max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Sample inputs of each cluster seen through weight images.

    For each shown cluster c (a row), ``per_cluster`` of its points (``sample_points`` with ``seed``),
    each as four images side by side:

    1. the input x;
    2. ``through(x, W_c)``, the elementwise product of x with the cluster's own combined weights
       ``W_c = combined_weights(...)`` (sum over its ``top`` neurons of fraction × weight image);
    3. ``through(x, W_c')`` with the next cluster's combined weights (c' = the next cluster in the
       ranking, cyclically; c itself when there is only one);
    4. ``through(x, W_rand)``: ``top`` neurons drawn at random (seeded, per cluster) weighted by
       cluster c's top fractions in rank order (same total weight as W_c, random neurons).

    Red: ink on excitatory weights, blue: ink on inhibitory ones; one symmetric scale per row (colour
    bar at its end). Titles give each image's sum: the combined neurons' weighted pre-activation,
    biases left out.
    """
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    n_hidden, n_features = hidden_weights.shape
    h, w = check_image_shape(n_features, image_shape)
    images = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    labels = np.asarray(labels, dtype=np.int64)
    if images.shape != (len(labels), n_features):
        raise ValueError(f"images have shape {images.shape}; expected ({len(labels)}, {n_features})")
    sizes = cluster_sizes(ranking)
    ranked = sorted(int(c) for c in sizes.index if c >= 0)
    shown, note = largest_clusters(sizes, max_clusters)
    colors = cluster_colors(max(ranked, default=-1) + 1)
    samples = sample_points(labels, shown, per_cluster, seed)
    neuron_rng = np.random.default_rng([int(seed), 1])
    combos = {c: combined_weights(ranking[ranking["cluster"] == c], hidden_weights, top) for c in ranked}

    views, gap, sample_gap, bar_w = 4, 0.1 * w, 0.55 * w, 0.1 * w
    sample_w = views * w + (views - 1) * gap
    x_sample = np.arange(per_cluster) * (sample_w + sample_gap)
    x_bar = per_cluster * (sample_w + sample_gap) - sample_gap + 0.12 * w
    layout = TileRows(max(len(shown), 1), x_bar + bar_w, (h, w), tile_in=0.95, left_in=1.25, right_in=0.5,
                       head_in=0.85, title_in=0.42)
    fig = layout.fig
    fig.suptitle(f"{title + ': ' if title else ''}sample inputs x seen through neuron weights W (x ⊙ W, "
                 f"elementwise){note}\nown: the cluster's top-{top} neurons' weights summed with their fractions; "
                 f"next: the next cluster's; random: {top} random neurons, same fractions; Σ: sum of the image",
                 fontsize=9.5, y=1 - 0.06 / layout.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no clusters")
        return fig
    for r, c in enumerate(shown):
        ax = layout.row(r)
        other = ranked[(ranked.index(c) + 1) % len(ranked)]
        own_neurons, own_fractions = top_neurons(ranking, c, top)
        k = min(len(own_neurons), n_hidden)
        random_neurons = np.sort(neuron_rng.choice(n_hidden, k, replace=False))
        random_combo = weighted_sum(hidden_weights, random_neurons, own_fractions[:k])
        weights = [(f"× own (c{c})", combos[c]),
                   (f"× next (c{other})" if other != c else "× own (only cluster)", combos[other]),
                   (f"× {k} random", random_combo)]
        points = samples[c]
        seen = [[through(images[p], W) for _, W in weights] for p in points]
        scale = symmetric_scale(*[v for row in seen for v in row])
        ink = max(1.0, max((float(images[p].max()) for p in points), default=1.0))
        im = None
        for s, p in enumerate(points):
            x0 = x_sample[s]
            layout.tile(ax, images[p], x0, INPUT_CMAP, 0, ink, f"input #{p}", fontsize=7.5)
            for v, ((name, _), value) in enumerate(zip(weights, seen[s]), start=1):
                im = layout.tile(ax, value, x0 + v * (w + gap), WEIGHT_CMAP, -scale, scale,
                                 f"{name}\nΣ={value.sum():+.2f}", fontsize=7)
        if im is not None:
            layout.colorbar(ax, im, x_bar, bar_w)
        layout.row_label(ax, c, sizes.get(c), colors)
    return fig


def ablation_effects(table: pd.DataFrame, title: str = "", alpha: float = 0.05,
                     max_clusters: int = MAX_CLUSTERS, empty: str = "no clusters") -> Figure:
    """Per cluster: its accuracy with all neurons, without its top-k neurons, and without k random ones
    (mean and standard deviation over the draws); the accuracy on all other points under the same
    silencing; stars mark p < alpha (the top-k hurt more than any but a share alpha of random draws).

    ``table``: nntopo.analysis.ablation's columns (cluster, size, acc_cluster_before, acc_cluster_after,
    acc_other_before, acc_other_after, random_mean, random_std, p_value).
    ``empty``: what an empty table means (no clusters; or why the ablation was skipped).
    """
    table = table.sort_values("size", ascending=False).head(max_clusters).sort_values("cluster")
    fig = new_figure(max(7.0, 0.75 * len(table) + 3), 6.4)
    own, other = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    if table.empty:
        no_data(own, empty)
        own.set_title(title, fontsize=10)
        other.set_visible(False)
        return fig
    x = np.arange(len(table))
    colors = cluster_colors(int(table["cluster"].max()) + 1)[table["cluster"].to_numpy()]
    # Points, not bars: the axis zooms to the accuracies, so drops of a tenth of a point (wide models)
    # show, which bars drawn from zero would hide.
    own.errorbar(x + 0.2, table["random_mean"], yerr=table["random_std"], fmt="none", ecolor="0.3", capsize=3,
                 zorder=2)
    own.scatter(x + 0.2, table["random_mean"], marker="D", s=30, facecolor="white", edgecolor="0.3", zorder=3,
                label="k random silenced (mean ± sd)")
    own.scatter(x - 0.2, table["acc_cluster_before"], marker="o", s=40, color="0.6", zorder=3, label="all neurons")
    own.scatter(x, table["acc_cluster_after"], marker="s", s=55, color=colors, edgecolor="black", linewidth=0.6,
                zorder=4, label="top-k silenced")
    for xi, before, after in zip(x, table["acc_cluster_before"], table["acc_cluster_after"]):
        own.plot([xi - 0.2, xi], [before, after], color="0.5", linewidth=0.8, zorder=1)
    values = pd.concat([table["acc_cluster_before"], table["acc_cluster_after"],
                        table["random_mean"] - table["random_std"], table["random_mean"] + table["random_std"]])
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = max(0.1 * (high - low), 0.002)
    own.set_ylim(max(low - pad, 0.0), min(high + 2 * pad, 1.0 + 2 * pad))
    for xi, (after, p) in enumerate(zip(table["acc_cluster_after"], table["p_value"])):
        if p < alpha:
            own.annotate("*", (xi, after), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=13)
    own.set_ylabel("accuracy on the cluster's points")
    # Legends beside the panels: inside they would cover points at either end of the zoomed axis.
    own.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    hurt = int(((table["p_value"] < alpha) & (table["acc_cluster_after"] < table["random_mean"])).sum())
    own.set_title(f"{textwrap.fill(title, 70)}\n{hurt} of {len(table)} clusters hurt more by their top-k than by "
                  f"random neurons (* p < {alpha})", fontsize=10)
    other.plot(x, table["acc_other_before"], "o-", color="0.6", label="all neurons")
    other.plot(x, table["acc_other_after"], "s-", color="black", label="cluster's top-k silenced")
    other.set_ylabel("accuracy,\nother points")
    other.set_xticks(x, [f"c{c}\nn={n}" for c, n in zip(table["cluster"], table["size"])], fontsize=8)
    other.set_xlabel("cluster")
    other.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def agreement_heatmap(matrix: pd.DataFrame, purity: pd.Series, title: str = "", metric: str = "ARI") -> Figure:
    """Methods x methods agreement (e.g. ARI on the points both assign), and each method's purity."""
    fig = new_figure(9.5, 4.4)
    heat, bars = fig.subplots(1, 2, width_ratios=[1.3, 1])
    names = list(matrix.index)
    image = heat.imshow(matrix.to_numpy(dtype=float), vmin=0, vmax=1, cmap="viridis")
    for i in range(len(names)):
        for j in range(len(names)):
            value = matrix.iloc[i, j]
            heat.text(j, i, "–" if pd.isna(value) else f"{value:.2f}", ha="center", va="center",
                      color="white" if (pd.isna(value) or value < 0.6) else "black", fontsize=9)
    heat.set_xticks(range(len(names)), names, rotation=30)
    heat.set_yticks(range(len(names)), names)
    heat.set_title(f"{metric} between methods (points both assign)", fontsize=10)
    fig.colorbar(image, ax=heat, shrink=0.8, label=metric)
    bars.barh(range(len(purity)), purity.to_numpy(), color="0.45")
    bars.set_yticks(range(len(purity)), list(purity.index))
    bars.invert_yaxis()
    bars.set_xlim(0, 1)
    bars.set_xlabel("purity: share of assigned points\nin their cluster's majority class")
    for i, value in enumerate(purity.to_numpy()):
        bars.text(value - 0.02, i, f"{value:.2f}", ha="right", va="center", color="white", fontsize=9)
    fig.suptitle(title)
    return fig


# --- Across layers: how the clusters flow from layer to layer, and what changes with depth -------------

_BOX_COLOR = (0.3, 0.3, 0.3, 1.0)  # a cluster's box in the alluvial diagram (clusters are not matched across layers)
_OTHER_COLOR = (0.55, 0.55, 0.55, 1.0)  # the box of the merged small clusters


def _merge_beyond(labels: np.ndarray, max_clusters: int) -> tuple[np.ndarray, int | None]:
    """``labels`` with the clusters beyond the ``max_clusters`` largest relabelled as one cluster, and
    that cluster's id (a new id, above all others; None when nothing was merged). -1 stays -1."""
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    if len(ids) <= max_clusters:
        return labels, None
    kept = ids[np.lexsort((ids, -counts))[:max_clusters]]
    other = int(ids.max()) + 1
    return np.where((labels >= 0) & ~np.isin(labels, kept), other, labels), other


def _band_path(x0: float, x1: float, top0: float, top1: float, width: float):
    """A band of constant vertical ``width`` from (x0, top0) to (x1, top1): two cubic Béziers with
    horizontal tangents at both ends, joined by the two vertical edges."""
    from matplotlib.path import Path

    xm = (x0 + x1) / 2
    bottom0, bottom1 = top0 + width, top1 + width
    verts = [(x0, top0), (xm, top0), (xm, top1), (x1, top1),
             (x1, bottom1), (xm, bottom1), (xm, bottom0), (x0, bottom0), (x0, top0)]
    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4,
             Path.LINETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
    return Path(verts, codes)


def layer_sankey(labelings: dict, y_true, title: str = "", max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Alluvial diagram of the clusters from the first layer to the last (the output).

    ``labelings``: layer name -> (N,) cluster labels (-1: in no cluster), in depth order. One column
    per layer, one box per cluster, its height the cluster's number of points; the points in no
    cluster are a light grey box, and beyond the ``max_clusters`` largest clusters of a layer the rest
    are merged into one mid-grey "other" box. Between consecutive layers, a band per (cluster a,
    cluster b) pair with points in both, as wide as their number, coloured by the majority true label
    of those points (``class_colors``); its hairline edge keeps bands of a few points visible.

    Order within a column, to reduce crossings: the first layer's clusters by majority true label
    (then size), each next layer's by the barycentre of their points' boxes in the previous column;
    "no cluster" and "other" at the bottom. Within a box, bands leave and arrive in the order of the
    boxes at their other end. Boxes of at least 2 % of the points are named (c<id>, none, other).
    """
    from matplotlib.patches import PathPatch, Rectangle
    from nntopo.analysis.agreement import compositions
    from nntopo.analysis.flow import contingency
    from nntopo.plotting import class_colors, NOISE_COLOR

    layers = list(labelings)
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(y_true)
    n_classes = int(y_true.max()) + 1 if n else 0
    palette = class_colors(n_classes)
    merged, others = zip(*(_merge_beyond(np.asarray(labelings[layer], dtype=np.int64), max_clusters)
                           for layer in layers)) if layers else ((), ())
    note = (f"\n(beyond the {max_clusters} largest clusters of a layer, the rest are merged into 'other')"
            if any(o is not None for o in others) else "")
    fig = new_figure(max(9.0, 1.5 + 1.75 * len(layers)), 7.5)
    ax = fig.subplots()
    fig.suptitle(f"{title + chr(10) if title else ''}clusters from layer to layer: a box is a cluster, as tall as "
                 f"its number of points;\na band: the points going from a cluster into one of the next layer's, "
                 f"coloured by their majority true label{note}", fontsize=10)
    if not layers or n == 0:
        no_data(ax, "no clusters")
        return fig

    flows = [contingency(a, b, y_true) for a, b in zip(merged[:-1], merged[1:])]
    gap = 0.02 * n
    box_w = 0.12
    # Each column: its boxes top to bottom as {cluster: (top, size)}.
    columns: list[dict[int, tuple[float, int]]] = []
    for j, labels in enumerate(merged):
        ids, sizes = np.unique(labels, return_counts=True)
        size_of = dict(zip(ids.tolist(), sizes.tolist()))
        special = [c for c in (others[j], -1) if c is not None and c in size_of]
        if j == 0:
            clusters, _, composition = compositions(labels, y_true, n_classes)
            key = {int(c): (int(m), -size_of[c]) for c, m in zip(clusters, composition.argmax(axis=1))}
        else:
            # Barycentre: the mean centre of the previous column's boxes, over the cluster's points.
            into = flows[j - 1]
            centre = into["cluster_a"].map(lambda c: columns[-1][c][0] + columns[-1][c][1] / 2) * into["count"]
            key = (centre.groupby(into["cluster_b"]).sum() / into.groupby("cluster_b")["count"].sum()).to_dict()
        order = sorted((int(c) for c in ids if c not in special), key=lambda c: key[c]) + special
        tops = np.cumsum([0] + [size_of[c] + gap for c in order[:-1]])
        columns.append({c: (float(t), size_of[c]) for c, t in zip(order, tops)})
    height = max(n + gap * (len(col) - 1) for col in columns)
    for col in columns:  # centred vertically
        shift = (height - n - gap * (len(col) - 1)) / 2
        for c, (top, size) in col.items():
            col[c] = (top + shift, size)

    for j, flow in enumerate(flows):
        left, right = columns[j], columns[j + 1]
        src_top = flow["cluster_a"].map(lambda c: left[c][0]).to_numpy()
        dst_top = flow["cluster_b"].map(lambda c: right[c][0]).to_numpy()
        counts = flow["count"].to_numpy()
        # Stack each box's bands in the order of the boxes at their other end (fewer crossings at the box).
        out_offset = np.zeros(len(flow))
        in_offset = np.zeros(len(flow))
        for offsets, own, other in ((out_offset, src_top, dst_top), (in_offset, dst_top, src_top)):
            for box in np.unique(own):
                rows = np.flatnonzero(own == box)
                rows = rows[np.argsort(other[rows], kind="stable")]
                offsets[rows] = np.concatenate([[0], np.cumsum(counts[rows])[:-1]])
        for k, label in enumerate(flow["majority_label"]):
            color = palette[label]
            ax.add_patch(PathPatch(_band_path(j + box_w / 2, j + 1 - box_w / 2, src_top[k] + out_offset[k],
                                              dst_top[k] + in_offset[k], counts[k]),
                                   facecolor=color, alpha=0.85, edgecolor=darker(color, 0.7), linewidth=0.3,
                                   gid="band"))

    for j, col in enumerate(columns):
        for c, (top, size) in col.items():
            color = NOISE_COLOR if c == -1 else _OTHER_COLOR if c == others[j] else _BOX_COLOR
            ax.add_patch(Rectangle((j - box_w / 2, top), box_w, size, facecolor=color, edgecolor="black",
                                   linewidth=0.5, gid="box"))
            if size >= 0.02 * n:
                name = "none" if c == -1 else "other" if c == others[j] else f"c{c}"
                ax.text(j, top + size / 2, name, ha="center", va="center", fontsize=7,
                        rotation=90 if size < (0.1 if len(name) > 3 else 0.05) * n else 0,  # the box is narrow
                        color="black" if c == -1 else "white")

    def column_label(j: int) -> str:
        labels = np.asarray(labelings[layers[j]])
        k = len(np.unique(labels[labels >= 0]))
        none = float(np.mean(labels < 0))
        return f"{layers[j]}\n{k} clusters" + (f"\n{none:.0%} in none" if none else "")

    ax.set_xticks(range(len(layers)), [column_label(j) for j in range(len(layers))], fontsize=9)
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(layers) - 0.5)
    ax.set_ylim(height + 0.01 * n, -0.01 * n)
    for spine in ax.spines.values():
        spine.set_visible(False)
    present = sorted(set().union(*(flow["majority_label"] for flow in flows)))
    handles = [Patch(facecolor=palette[label], edgecolor=darker(palette[label], 0.7), label=str(label))
               for label in present]
    handles += [Patch(facecolor=_BOX_COLOR, edgecolor="black", label="box: cluster"),
                Patch(facecolor=NOISE_COLOR, edgecolor="black", label="in no cluster")]
    if any(o is not None for o in others):
        handles.append(Patch(facecolor=_OTHER_COLOR, edgecolor="black", label="other (merged)"))
    # Below the columns, in rows: beside them it would collide with the long title.
    fig.legend(handles=handles, title="band colour: the majority true label of its points", loc="outside lower center",
               ncols=min(len(handles), 13), fontsize=8.5, title_fontsize=9, handlelength=1.5, columnspacing=1.2)
    return fig


def depth_profile(table: pd.DataFrame, title: str = "") -> Figure:
    """What changes with depth, per model: three panels against layer depth, one line per model.

    ``table``: one row per model and layer, columns ``model, layer, depth, purity, probe_accuracy,
    ari_output`` (``nntopo.analysis.flow``'s layer_flow and linear_probe columns); a model's last
    depth is its output layer. Panels: the purity of the layer's clusters, the linear probe's
    held-out accuracy, and the ARI between the layer's clusters and the output layer's.

    x is the depth itself (1 = hidden_1), not a depth relative to the model's size: hidden layer k
    then sits at the same x in every model, and a star marks each model's output layer (its last
    point), where the ARI to the output is 1 by definition. The y axes zoom to the data.
    """
    from matplotlib.lines import Line2D

    panels = (("purity", "purity of the layer's clusters"),
              ("probe_accuracy", "linear probe: accuracy on the held-out half"),
              ("ari_output", "ARI with the output layer's clusters"))
    models = sorted(dict.fromkeys(table["model"]), key=lambda m: natural_sort_key(str(m)))
    fig = new_figure(13.0, 4.4)
    axes = fig.subplots(1, len(panels), sharex=True)
    fig.suptitle(title or "clusters and linear separability by depth", fontsize=12)
    if table.empty:
        for ax in axes:
            no_data(ax)
        return fig
    colors = series_colors(len(models))
    for ax, (column, label) in zip(axes, panels):
        for model, color in zip(models, colors):
            rows = table[table["model"] == model].sort_values("depth")
            depth, value = rows["depth"].to_numpy(), rows[column].to_numpy(dtype=float)
            ax.plot(depth, value, "o-", color=color, markersize=4, linewidth=1.5, label=str(model))
            ax.scatter(depth[-1:], value[-1:], marker="*", s=150, color=color, edgecolor="black", linewidth=0.5,
                       zorder=3)
        ax.set_title(label, fontsize=10)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        low, high = ax.get_ylim()
        ax.set_ylim(low, min(high, 1.02))
    fig.supxlabel("layer depth (1 = hidden_1, 2 = hidden_2, ...; ★ = the model's output layer)", fontsize=10)
    handles = [Line2D([], [], color=c, marker="o", markersize=4, label=str(m)) for m, c in zip(models, colors)]
    handles.append(Line2D([], [], color="0.3", marker="*", markersize=11, markeredgecolor="black",
                          linestyle="none", label="output layer"))
    fig.legend(handles=handles, title="model", loc="outside right upper", fontsize=8.5)
    return fig
