"""Figures of a layer's clusters, one row per cluster: its neuron ranking, what its top-k neurons
see (their weight images, and sample inputs seen through them), and what silencing them costs.

Every figure takes a cluster's top-k from ``nntopo.analysis.ranking`` and shows the same clusters
(the largest, ``plotting.largest_clusters``) and samples (``ranking.sample_points``).
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nntopo.analysis.ranking import cluster_sizes, sample_points, top_neurons_with_fractions, top_rows
from nntopo.plotting import (
    channels_last,
    check_input_shape,
    cluster_colors,
    display_images,
    INPUT_CMAP,
    largest_clusters,
    MAX_CLUSTERS,
    new_figure,
    no_data,
    symmetric_scale,
    tile_size,
    TileRows,
    WEIGHT_CMAP,
    wrapped,
)


def signed_key(shape, per: str) -> str:
    """How a figure's signed tiles (weights, inputs times weights) are coloured, for its title."""
    if shape[0] == 3:
        return f"RGB: each channel 0.5 + w / (2 max|w|), max|w| {per} (0: mid grey; bar: a channel's intensity)"
    return "red excites, blue inhibits" + ("" if shape[0] == 1 else f"; the {shape[0]} input channels side by side")


def heading(first: str, second: str, key: str, shape, width_in: float) -> str:
    """A figure's title of two lines with the colour key of its tiles: a grey image's in the second line
    (as it always was), another's on its own lines, every line wrapped to the figure's width."""
    if shape[0] == 1:
        return f"{first}\n{second}; {key}"
    return wrapped(f"{first}\n{second}\n{key}", width_in, 9.5)


def combined_weights(ranking: pd.DataFrame, hidden_weights: np.ndarray, top_k: int = 5) -> dict[int, np.ndarray]:
    """Each cluster's combined weight image, flattened: the sum over its top_k neurons n of
    fraction(n) * hidden_weights[n] (fraction: share of the cluster's points with n in their top-k).
    Shape (D,) for weights (H, D); clusters without ranked neurons are absent."""
    return {c: weighted_sum(hidden_weights, neurons, fractions)
            for c, (neurons, fractions) in top_neurons_with_fractions(ranking, top_k).items()}


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


def ranking_heatmap(ranking: pd.DataFrame, n_clusters: int, top_k: int = 5, title: str = "",
                    max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Clusters (rows) x hidden neurons (columns): the share of each cluster's points that have the
    neuron among their top-k most activated neurons.

    Columns are the neurons in any shown cluster's top-``top_k`` list, ordered by the first cluster
    listing them, then rank; a dot marks a cell in its row's top-``top_k`` list. Colours on a fixed
    0..1 scale, so models compare; a strip at the left gives each cluster's colour.
    """
    sizes = cluster_sizes(ranking).reindex(range(int(n_clusters)))
    shown, note = largest_clusters(sizes.fillna(0), max_clusters)
    best = top_rows(ranking, top_k)
    best = best[best["cluster"].isin(shown)]
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
    ax.set_xlabel(f"hidden neuron (those in some cluster's top {top_k}; dot: in this cluster's top {top_k})")
    ax.set_ylabel("cluster (size)")
    for spine in ax.spines.values():
        spine.set_visible(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.9, pad=0.01, fraction=0.04)
    bar.set_label("fraction of the cluster's points\n(white: none)")
    return fig


def neuron_weight_images(ranking: pd.DataFrame, hidden_weights: np.ndarray, image_shape, top_k: int = 5,
                         title: str = "", max_clusters: int = MAX_CLUSTERS,
                         units: tuple[str, str, str] = ("input weights", "neuron", "weight")) -> Figure:
    """For each cluster (a row): the input weights of its ``top_k`` best-ranked hidden neurons as images
    (rank 1 left; one symmetric colour scale per row, its colour bar after them), then their
    combination (``combined_weights``): the neurons' weight images summed, each weighted by its
    fraction (own symmetric scale and colour bar, framed in the cluster's colour).

    ``image_shape``: one input's (channels, height, width), or (height, width) of a grey one; grey
    weights in the diverging colour map, colour ones as RGB (``plotting.signed_colours``), other
    channel counts as a row of greys. Image titles: neuron index and the fraction of the cluster's
    points with it in their top-k. ``units`` names in the title what is drawn, the units and one
    image: (input weights, neuron, weight), or a CNN's (kernels, channel, kernel).
    """
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    shape = check_input_shape(hidden_weights.shape[1], image_shape)
    _, w = tile_size(shape)
    iw = shape[2]  # one channel's width: gaps and bars scale with it
    sizes = cluster_sizes(ranking)
    shown, note = largest_clusters(sizes, max_clusters)
    n_clusters = int(ranking["cluster"].max()) + 1 if len(ranking) else 0
    colors = cluster_colors(n_clusters)
    gap, bar_w = 0.12 * iw, 0.1 * iw
    x_tiles = np.arange(top_k) * (w + gap)
    x_bar1 = top_k * (w + gap) - gap + 0.1 * iw
    x_combo = x_bar1 + bar_w + 0.75 * iw
    x_bar2 = x_combo + w + 0.1 * iw
    what, unit, one = units
    text = heading(f"{title + ': ' if title else ''}{what} of each cluster's top {top_k} {unit}s{note}",
                   f"title: {unit} (share of the cluster's points with it in their top-k)",
                   f"{signed_key(shape, 'per row and for each Σ')}; right: Σ fraction × {one}", shape,
                   1.25 + (x_bar2 + bar_w) * 1.15 / iw + 0.5)
    tiles = TileRows(max(len(shown), 1), x_bar2 + bar_w, shape, tile_in=1.15, left_in=1.25, right_in=0.5,
                      head_in=0.75 + 0.17 * (text.count("\n") - 1), title_in=0.32)
    fig = tiles.fig
    fig.suptitle(text, fontsize=9.5, y=1 - 0.06 / tiles.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no ranked neurons")
        return fig
    tops = top_neurons_with_fractions(ranking, top_k)
    for r, c in enumerate(shown):
        ax = tiles.row(r)
        neurons, fractions = tops[c]
        images = hidden_weights[neurons]
        scale = symmetric_scale(images)
        im = None
        for i, (n, f) in enumerate(zip(neurons, fractions)):
            im = tiles.tile(ax, channels_last(images[i], shape), x_tiles[i], WEIGHT_CMAP, -scale, scale,
                            f"#{n} ({f:.0%})")
        if im is not None:
            tiles.colorbar(ax, im, x_bar1, bar_w)
        combo = weighted_sum(hidden_weights, neurons, fractions)
        combo_scale = symmetric_scale(combo)
        im = tiles.tile(ax, channels_last(combo, shape), x_combo, WEIGHT_CMAP, -combo_scale, combo_scale,
                        "Σ fraction × weight", frame=colors[c], frame_width=2)
        tiles.colorbar(ax, im, x_bar2, bar_w)
        tiles.row_label(ax, c, sizes.get(c), colors)
    return fig


def transformed_inputs(images: np.ndarray, labels: np.ndarray, ranking: pd.DataFrame, hidden_weights: np.ndarray,
                       image_shape, seed: int, top_k: int = 5, per_cluster: int = 3, title: str = "",
                       max_clusters: int = MAX_CLUSTERS, scaling: dict | None = None, index=None) -> Figure:
    """Sample inputs of each cluster seen through weight images.

    ``images``: the clustered points' inputs as the network reads them, (N, C*H*W), one row per label;
    ``image_shape`` one input's (channels, height, width) (or (height, width) of a grey one);
    ``scaling`` the dataset's (the input is drawn with it undone, ``plotting.display_images``);
    ``index`` each row's index in its split, which the titles name (0..N-1 by default).

    For each shown cluster c (a row), ``per_cluster`` of its points (``ranking.sample_points`` with ``seed``),
    each as four images side by side:

    1. the input x;
    2. ``through(x, W_c)``, the elementwise product of x with the cluster's own combined weights
       ``W_c = combined_weights(...)[c]`` (sum over its ``top_k`` neurons of fraction × weight image);
    3. ``through(x, W_c')`` with the next cluster's combined weights (c' = the next cluster in the
       ranking, cyclically; c itself when there is only one);
    4. ``through(x, W_rand)``: ``top_k`` neurons drawn at random (seeded, per cluster) weighted by
       cluster c's top fractions in rank order (same total weight as W_c, random neurons).

    Red: ink on excitatory weights, blue: ink on inhibitory ones (colour: RGB, mid grey 0); one
    symmetric scale per row (colour bar at its end). Titles give each image's sum: the combined
    neurons' weighted pre-activation, biases left out.
    """
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    n_hidden, n_features = hidden_weights.shape
    shape = check_input_shape(n_features, image_shape)
    _, w = tile_size(shape)
    iw = shape[2]  # one channel's width: gaps and bars scale with it
    images = np.asarray(images).reshape(len(images), -1)  # as given: only the drawn rows become float64
    labels = np.asarray(labels, dtype=np.int64)
    if images.shape != (len(labels), n_features):
        raise ValueError(f"images have shape {images.shape}; expected ({len(labels)}, {n_features})")
    index = np.arange(len(images)) if index is None else np.asarray(index)
    sizes = cluster_sizes(ranking)
    ranked = sorted(int(c) for c in sizes.index if c >= 0)
    shown, note = largest_clusters(sizes, max_clusters)
    colors = cluster_colors(max(ranked, default=-1) + 1)
    samples = sample_points(labels, shown, per_cluster, seed)
    neuron_rng = np.random.default_rng([int(seed), 1])
    tops = top_neurons_with_fractions(ranking, top_k)
    combos = combined_weights(ranking, hidden_weights, top_k)

    views, gap, sample_gap, bar_w = 4, 0.1 * iw, 0.55 * iw, 0.1 * iw
    sample_w = views * w + (views - 1) * gap
    x_sample = np.arange(per_cluster) * (sample_w + sample_gap)
    x_bar = per_cluster * (sample_w + sample_gap) - sample_gap + 0.12 * iw
    text = (f"{title + ': ' if title else ''}sample inputs x seen through neuron weights W (x ⊙ W, "
            f"elementwise){note}\nown: the cluster's top-{top_k} neurons' weights summed with their fractions; "
            f"next: the next cluster's; random: {top_k} random neurons, same fractions; Σ: sum of the image")
    if shape[0] != 1:  # a grey image's title stays as it was
        text = wrapped(f"{text}\n{signed_key(shape, 'per row')}", 1.25 + (x_bar + bar_w) * 0.95 / iw + 0.5, 9.5)
    tiles = TileRows(max(len(shown), 1), x_bar + bar_w, shape, tile_in=0.95, left_in=1.25, right_in=0.5,
                      head_in=0.85 + 0.17 * (text.count("\n") - 1), title_in=0.42)
    fig = tiles.fig
    fig.suptitle(text, fontsize=9.5, y=1 - 0.06 / tiles.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no clusters")
        return fig
    for r, c in enumerate(shown):
        ax = tiles.row(r)
        other = ranked[(ranked.index(c) + 1) % len(ranked)]
        own_neurons, own_fractions = tops[c]
        n_drawn = min(len(own_neurons), n_hidden)
        random_neurons = np.sort(neuron_rng.choice(n_hidden, n_drawn, replace=False))
        random_combo = weighted_sum(hidden_weights, random_neurons, own_fractions[:n_drawn])
        weights = [(f"× own (c{c})", combos[c]),
                   (f"× next (c{other})" if other != c else "× own (only cluster)", combos[other]),
                   (f"× {n_drawn} random", random_combo)]
        points = samples[c]
        seen = [[through(images[p], W) for _, W in weights] for p in points]
        scale = symmetric_scale(*[v for row in seen for v in row])
        shown_inputs = display_images(images[points].astype(np.float64), shape, scaling)
        ink = max(1.0, max((float(image.max()) for image in shown_inputs), default=1.0))
        im = None
        for s, p in enumerate(points):
            x0 = x_sample[s]
            tiles.tile(ax, shown_inputs[s], x0, INPUT_CMAP, 0, ink, f"input #{index[p]}", fontsize=7.5)
            for v, ((name, _), value) in enumerate(zip(weights, seen[s]), start=1):
                im = tiles.tile(ax, channels_last(value, shape), x0 + v * (w + gap), WEIGHT_CMAP, -scale, scale,
                                f"{name}\nΣ={value.sum():+.2f}", fontsize=7)
        if im is not None:
            tiles.colorbar(ax, im, x_bar, bar_w)
        tiles.row_label(ax, c, sizes.get(c), colors)
    return fig


def ablation_effects(table: pd.DataFrame, title: str = "", alpha: float = 0.05,
                     max_clusters: int = MAX_CLUSTERS, empty: str = "no clusters") -> Figure:
    """Per cluster: its accuracy with all neurons, without its top-k neurons, and without k random ones
    (mean and standard deviation over the draws); the accuracy on all other points under the same
    silencing; stars mark p < alpha (the top-k hurt more than any but a share alpha of random draws).

    ``table``: ``nntopo.analysis.ablation.COLUMNS`` (cluster, size, acc_cluster_before, acc_cluster_after,
    acc_other_before, acc_other_after, random_mean, random_std, p_value); a regressor's gives the mean
    squared error in their place (mse_cluster_before, mse_cluster_after, mse_other_before,
    mse_other_after; random_mean, random_std of the cluster's error), drawn the same way: a cluster is
    hurt when its error rises, and the axis turns logarithmic when the errors span more than 30-fold.
    ``empty``: what an empty table means (no clusters; or why the ablation was skipped).
    """
    regression = "mse_cluster_before" in table.columns
    score = "mse" if regression else "acc"
    before, after = f"{score}_cluster_before", f"{score}_cluster_after"
    what = "mean squared error" if regression else "accuracy"
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
    own.scatter(x - 0.2, table[before], marker="o", s=40, color="0.6", zorder=3, label="all neurons")
    own.scatter(x, table[after], marker="s", s=55, color=colors, edgecolor="black", linewidth=0.6,
                zorder=4, label="top-k silenced")
    for xi, was, now in zip(x, table[before], table[after]):
        own.plot([xi - 0.2, xi], [was, now], color="0.5", linewidth=0.8, zorder=1)
    values = pd.concat([table[before], table[after],
                        table["random_mean"] - table["random_std"], table["random_mean"] + table["random_std"]])
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = max(0.1 * (high - low), 0.002)
    if not regression:
        own.set_ylim(max(low - pad, 0.0), min(high + 2 * pad, 1.0 + 2 * pad))
    else:
        positive = values[values > 0]
        if len(positive) and high > 30 * float(positive.min()):  # a rise of decades: each shows on a log axis
            own.set_yscale("log")
            own.set_ylim(float(positive.min()) / 1.5, high * 2.5)
        else:
            own.set_ylim(max(low - pad, 0.0), high + 2 * pad)
    for xi, (now, p) in enumerate(zip(table[after], table["p_value"])):
        if p < alpha:
            own.annotate("*", (xi, now), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=13)
    own.set_ylabel(f"{what} on the cluster's points")
    # Legends beside the panels: inside they would cover points at either end of the zoomed axis.
    own.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    worse = table[after] > table["random_mean"] if regression else table[after] < table["random_mean"]
    hurt = int(((table["p_value"] < alpha) & worse).sum())
    verdict = (f"{hurt} of {len(table)} clusters whose error rises more without their top-k\nthan without random "
               f"neurons (* p < {alpha})" if regression else
               f"{hurt} of {len(table)} clusters hurt more by their top-k than by random neurons (* p < {alpha})")
    own.set_title(f"{textwrap.fill(title, 70)}\n{verdict}", fontsize=10)
    other.plot(x, table[f"{score}_other_before"], "o-", color="0.6", label="all neurons")
    other.plot(x, table[f"{score}_other_after"], "s-", color="black", label="cluster's top-k silenced")
    other.set_ylabel("mean squared error,\nother points" if regression else "accuracy,\nother points")
    other.set_xticks(x, [f"c{c}\nn={n}" for c, n in zip(table["cluster"], table["size"])], fontsize=8)
    other.set_xlabel("cluster")
    other.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
