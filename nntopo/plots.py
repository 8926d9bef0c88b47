"""Figures of the study: plain arrays and tables in, a matplotlib Figure out; ``save`` writes it.

Every function builds its figure with the object API (``matplotlib.figure.Figure``), never through
pyplot's global state, so figures can be drawn in parallel worker processes with the Agg renderer.
The functions read no files: stages read the HDF5 and CSV outputs and pass the arrays in.

Conventions shared by all figures:

- a cluster has one colour everywhere, ``cluster_colors(n)[c]``; points and nodes in no cluster
  (label -1) are drawn in ``NOISE_COLOR`` (light grey), and the figure says so;
- true classes (digits) use ``class_colors``, a palette chosen not to be confused with the clusters';
- figures with a panel or a row per cluster show at most ``MAX_CLUSTERS`` clusters, the largest,
  and say so in their title;
- weight images are ``weight.reshape(image_shape)`` (row-major, as the images were flattened),
  drawn with a diverging colour map centred at 0 (red positive, blue negative).

Inputs named here:

- ranking: DataFrame ``cluster, neuron, count, fraction, rank``, one row per (cluster, neuron) with a
  nonzero count: how many of the cluster's points have the neuron among their top-k activated
  hidden neurons; fraction = count / cluster size; rank 1 = the most frequent.
- summary: DataFrame, one row per cluster, ``cluster, size, accuracy, majority_label,
  majority_share, count_0 .. count_{C-1}`` (points of each true class).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

DPI = 120
MAX_CLUSTERS = 20  # per-cluster grids show at most this many clusters (the largest)
NEAR_ZERO = 1e-3  # |w| below this is a near-zero weight, as in nntopo.train.NEAR_ZERO
NOISE_COLOR = (0.72, 0.72, 0.72, 1.0)  # points or nodes in no cluster (label -1)
BACKGROUND_COLOR = (0.86, 0.86, 0.86, 1.0)  # the other points behind a highlighted cluster
WEIGHT_CMAP = "RdBu_r"  # diverging, centred at 0: red excites, blue inhibits
INPUT_CMAP = "gray_r"  # MNIST-style: ink dark on white

# tab20 without its two greys (greys mean "no cluster"): the 9 strong colours (tab10's) first, then
# their 9 light partners, so clusters 0..8 look the same whether a model has 10 clusters or 18.
_TAB20_ORDER = [0, 2, 4, 6, 8, 10, 12, 16, 18, 1, 3, 5, 7, 9, 11, 13, 17, 19]
_GOLDEN = (math.sqrt(5) - 1) / 2


# --- colours ---------------------------------------------------------------------------------------

def cluster_colors(n_clusters: int) -> np.ndarray:
    """RGBA colour of clusters 0..n_clusters-1, shape (n, 4); the same n always gives the same colours.

    Up to 18 clusters: tab20 without its greys (tab10's colours first). Beyond: the turbo colour map,
    sampled in golden-ratio steps so that clusters with neighbouring numbers get distant hues.
    """
    n = int(n_clusters)
    if n <= 0:
        return np.zeros((0, 4))
    if n <= len(_TAB20_ORDER):
        tab20 = colormaps["tab20"].colors
        return np.array([to_rgba(tab20[i]) for i in _TAB20_ORDER[:n]])
    positions = 0.04 + 0.92 * ((np.arange(n) * _GOLDEN) % 1.0)
    return colormaps["turbo"](positions)


def class_colors(n_classes: int) -> np.ndarray:
    """RGBA colour of true classes 0..n_classes-1 (pastel Set3, so never mistaken for a cluster colour)."""
    n = int(n_classes)
    if n <= 0:
        return np.zeros((0, 4))
    if n <= 12:
        return np.array([to_rgba(c) for c in colormaps["Set3"].colors[:n]])
    return colormaps["twilight"](np.arange(n) / n)


def _label_colors(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-point RGBA from cluster labels, NOISE_COLOR for -1 (vectorised)."""
    palette = np.vstack([cluster_colors(n_clusters), np.asarray(NOISE_COLOR)[None]])
    return palette[np.where(labels >= 0, labels, n_clusters)]


# --- saving ----------------------------------------------------------------------------------------

def save(fig: Figure, path, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically (temporary sibling, then os.replace)."""
    from nntopo.layout import atomic

    path = Path(path)
    # Not registered with pyplot, the figure is freed with its last reference; clearing it first
    # cost more time than drawing some figures.
    with atomic(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, facecolor="white")
    return path


def _figure(width: float, height: float, constrained: bool = True) -> Figure:
    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def _no_data(ax, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


# --- cluster bookkeeping ---------------------------------------------------------------------------

def cluster_sizes(ranking: pd.DataFrame) -> pd.Series:
    """Size of each cluster in a ranking table (count / fraction of its rows), indexed by cluster."""
    if len(ranking) == 0:
        return pd.Series(dtype=np.int64)
    first = ranking.groupby("cluster", sort=True)[["count", "fraction"]].first()
    return (first["count"] / first["fraction"]).round().astype(np.int64)


def largest_clusters(sizes: pd.Series, limit: int = MAX_CLUSTERS) -> tuple[list[int], str]:
    """The ``limit`` largest clusters (sorted by number) and a note for the title when some are left out."""
    sizes = sizes[sizes.index >= 0]
    if len(sizes) <= limit:
        return sorted(int(c) for c in sizes.index), ""
    kept = sizes.sort_values(ascending=False, kind="stable").index[:limit]
    return sorted(int(c) for c in kept), f" ({limit} largest of {len(sizes)} clusters shown)"


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


def _check_image_shape(n_features: int, image_shape) -> tuple[int, int]:
    h, w = (int(s) for s in image_shape)
    if h * w != n_features:
        raise ValueError(f"image_shape {h}x{w} has {h * w} pixels but the weights have {n_features} inputs")
    return h, w


# --- 1. activations ---------------------------------------------------------------------------------

def activation_distributions(hidden: np.ndarray, output: np.ndarray, title: str = "", bins: int = 60) -> Figure:
    """Histograms of one hidden layer's activations (after ReLU) and of the output logits.

    Panels: positive hidden activations (exact zeros, the silent ReLUs, are counted in the panel's
    note, not in the bars); each neuron's activity rate (share of test points where it is > 0);
    the logits, the predicted class's apart from the others. Counts on a log scale.
    """
    hidden = np.asarray(hidden)
    output = np.asarray(output)
    fig = _figure(14, 4.2)
    ax_h, ax_rate, ax_out = fig.subplots(1, 3)
    n_points, width = hidden.shape

    positive = hidden[hidden > 0]
    zero_share = 1.0 - positive.size / max(hidden.size, 1)
    if positive.size:
        counts, edges = np.histogram(positive, bins=bins)
        ax_h.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.8)
        ax_h.set_yscale("log")
    else:
        _no_data(ax_h, "no positive activation")
    active = hidden > 0
    rate = active.mean(axis=0) if n_points else np.zeros(width)
    never = int(np.sum(~active.any(axis=0))) if n_points else width
    always = int(np.sum(active.all(axis=0))) if n_points else 0
    ax_h.text(0.97, 0.95,
              f"exact zeros (silent ReLUs): {zero_share:.1%}\nof {n_points:,} points x {width:,} neurons\n"
              f"(not in the bars)",
              transform=ax_h.transAxes, ha="right", va="top", fontsize=9,
              bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))
    ax_h.set(title="hidden activations > 0", xlabel="activation (after ReLU)", ylabel="count (log)")

    ax_rate.hist(rate, bins=np.linspace(0, 1, 41), color="tab:green", alpha=0.85)
    ax_rate.set(title="neuron activity rate", xlabel="share of test points on which the neuron is > 0",
                ylabel="neurons")
    ax_rate.text(0.97, 0.95, f"never active: {never} of {width}\nalways active: {always}",
                 transform=ax_rate.transAxes, ha="right", va="top", fontsize=9,
                 bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))

    if output.size:
        predicted = output.max(axis=1)
        others_mask = np.ones(output.shape, dtype=bool)
        others_mask[np.arange(len(output)), output.argmax(axis=1)] = False
        edges = np.histogram_bin_edges(output, bins=bins)
        ax_out.stairs(np.histogram(output[others_mask], edges)[0], edges, fill=True, color="0.55", alpha=0.7,
                      label="other classes")
        ax_out.stairs(np.histogram(predicted, edges)[0], edges, fill=True, color="tab:orange", alpha=0.7,
                      label="predicted class (max)")
        ax_out.set_yscale("log")
        ax_out.set_ylim(0.5, ax_out.get_ylim()[1] * 30)  # room for the legend above the bars
        ax_out.legend(fontsize=9, loc="upper left")
    else:
        _no_data(ax_out)
    ax_out.set(title=f"output logits ({output.shape[1] if output.ndim == 2 else 0} classes)", xlabel="logit",
               ylabel="count (log)")
    fig.suptitle(title or "activations on the test set", fontsize=13)
    return fig


# --- 2. weights ------------------------------------------------------------------------------------

def weight_distributions(layers: dict, title: str = "", near_zero: float = NEAR_ZERO, bins: int = 100) -> Figure:
    """One histogram per layer of its weights (log counts), with its size, L2 norm and near-zero share.

    ``layers`` maps a layer name to its weight matrix (or to anything with a ``.weight``, such as
    ``nntopo.layout.Layer``).
    """
    names = list(layers)
    fig = _figure(max(4.5 * len(names), 6), 4.2)
    axes = np.atleast_1d(fig.subplots(1, max(len(names), 1)))
    if not names:
        _no_data(axes[0], "no layers")
    for ax, name in zip(axes, names):
        w = np.asarray(getattr(layers[name], "weight", layers[name]), dtype=np.float64).ravel()
        if w.size == 0:
            _no_data(ax)
            continue
        limit = float(np.abs(w).max()) or 1.0
        counts, edges = np.histogram(w, bins=bins, range=(-limit, limit))
        ax.stairs(counts, edges, fill=True, color="tab:purple", alpha=0.8)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yscale("log")
        shape = "x".join(str(s) for s in np.shape(getattr(layers[name], "weight", layers[name])))
        ax.set(title=f"{name} ({shape})", xlabel="weight", ylabel="count (log)")
        ax.text(0.97, 0.95,
                f"{w.size:,} weights\nL2 norm {np.linalg.norm(w):.2f}\n"
                f"|w| < {near_zero:g}: {np.mean(np.abs(w) < near_zero):.1%}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9,
                bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))
    fig.suptitle(title or "weight distributions", fontsize=13)
    return fig


# --- 3. across models ------------------------------------------------------------------------------

_METRICS = (
    ("test_accuracy", "test accuracy", "{:.2%}"),
    ("weight_l2_norm", "weight L2 norm (all layers)", "{:.1f}"),
    ("near_zero_fraction", f"near-zero weights (|w| < {NEAR_ZERO:g})", "{:.1%}"),
)


def _model_groups(models: list[str]) -> tuple[list[str], list[str]]:
    """(architecture-and-seed group, regularization) of each model id; the id itself when not parseable."""
    from nntopo.paths import ModelId

    groups, regs = [], []
    for model in models:
        try:
            mid = ModelId.parse(str(model))
        except ValueError:
            groups.append(str(model))
            regs.append("")
            continue
        groups.append(f"mlp{'x'.join(map(str, mid.widths))}  s{mid.seed}")
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
    group_names = list(dict.fromkeys(sorted(groups, key=_natural_sort_key)))
    reg_names = sorted(set(regs), key=lambda r: (r != "none", r))
    reg_palette = {r: c for r, c in zip(reg_names, _regularization_colors(reg_names))}

    width = max(4.2 * n_panels, 8) + 0.15 * len(group_names) * len(reg_names)
    fig = _figure(width, 4.8)
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
        if column not in table or len(table) == 0:
            _no_data(ax, f"no {column}")
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
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
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
            tick.set_color(_darker(reg_palette[regs[i]]))
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


def _darker(color, factor: float = 0.75):
    r, g, b, a = to_rgba(color)
    return (r * factor, g * factor, b * factor, a)


def _natural_sort_key(text: str):
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


# --- 4. ranking heatmap ----------------------------------------------------------------------------

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
    fig = _figure(float(np.clip(3.4 + 0.24 * n_cols, 8, 26)), float(np.clip(2.0 + 0.34 * n_rows, 3.4, 12)))
    ax = fig.subplots()
    fig.suptitle(f"{title + chr(10) if title else ''}share of each cluster's points that have the neuron among "
                 f"their top-k active{note}", fontsize=11)
    if not n_rows or not n_cols:
        _no_data(ax, "no ranked neurons")
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


# --- 5. cluster composition ------------------------------------------------------------------------

def cluster_composition(summary: pd.DataFrame, title: str = "", max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Per cluster: its size (top, cluster colours), the true-label make-up of its points as a 100%
    stacked bar (bottom, one colour per class, digits written in segments of >= 6%), and the model's
    accuracy on its points (black diamond, same 0..1 axis). A row with cluster -1 is drawn last, in grey.
    """
    summary = summary.sort_values("cluster", key=lambda c: np.where(c < 0, np.iinfo(np.int64).max, c)).reset_index(drop=True)
    class_cols = sorted((c for c in summary.columns if str(c).startswith("count_")),
                        key=lambda c: int(str(c).split("_")[1]))
    inside = summary[summary["cluster"] >= 0]
    n_clusters = int(inside["cluster"].max()) + 1 if len(inside) else 0
    shown, note = largest_clusters(inside.set_index("cluster")["size"], max_clusters)
    rows = summary[summary["cluster"].isin(shown) | (summary["cluster"] < 0)].reset_index(drop=True)
    n = len(rows)
    fig = _figure(float(np.clip(3.5 + 0.55 * n, 7, 20)), 6.8)
    ax_size, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 2.6])
    fig.suptitle(f"{title + ': ' if title else ''}cluster sizes and true-label composition{note}", fontsize=12)
    if n == 0:
        _no_data(ax)
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
    colors = class_colors(len(class_cols))
    bottom = np.zeros(n)
    for k, col in enumerate(class_cols):
        ax.bar(x, shares[:, k], 0.8, bottom=bottom, color=colors[k], edgecolor="white", linewidth=0.4,
               label=str(col).split("_")[1])
        bottom += shares[:, k]
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
    ax.set_xlabel("cluster" + (" (none: points in no cluster)" if (clusters < 0).any() else ""))
    handles = [Patch(facecolor=colors[k], edgecolor="0.6", label=str(c).split("_")[1]) for k, c in enumerate(class_cols)]
    handles.append(Line2D([], [], marker="D", color="black", linestyle="none", label="model accuracy\non the cluster"))
    ax.legend(handles=handles, title="true label", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              title_fontsize=9, frameon=False)
    ax.set_xlim(-0.6, n - 0.4)
    return fig


# --- 6. manifold -----------------------------------------------------------------------------------

def _grid(n_panels: int, max_cols: int) -> tuple[int, int]:
    cols = min(n_panels, max_cols)
    return math.ceil(n_panels / cols), cols


def cluster_manifold(embedding: np.ndarray, labels: np.ndarray, title: str = "",
                     max_clusters: int = MAX_CLUSTERS, max_cols: int = 6) -> Figure:
    """The 2-D embedding: a first panel with every cluster in its colour (no cluster: grey), then one
    panel per cluster (the largest ``max_clusters``) with it highlighted over the other points in grey.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_points = len(labels)
    n_clusters = int(labels.max(initial=-1)) + 1
    sizes = pd.Series(np.bincount(labels[labels >= 0], minlength=n_clusters))
    shown, note = largest_clusters(sizes[sizes > 0], max_clusters)
    n_rows, n_cols = _grid(len(shown) + 1, max_cols)
    fig = _figure(2.6 * n_cols + 0.3, 2.6 * n_rows + 0.6)
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, sharex=True, sharey=True)).ravel()
    point_size = float(np.clip(6000 / max(n_points, 1), 0.5, 12))
    colors = _label_colors(labels, n_clusters)
    order = np.random.default_rng(0).permutation(n_points)  # no cluster always drawn over another
    noise = labels < 0
    order = np.concatenate([order[noise[order]], order[~noise[order]]])
    x, y = embedding[:, 0], embedding[:, 1]
    ax = axes[0]
    ax.scatter(x[order], y[order], s=point_size, c=colors[order], linewidths=0, rasterized=True)
    n_noise = int(noise.sum())
    ax.set_title(f"all {n_clusters} cluster{'s' if n_clusters != 1 else ''}" + (f"\n(grey: {n_noise:,} in no cluster)" if n_noise else ""),
                 fontsize=9)
    palette = cluster_colors(n_clusters)
    for ax, c in zip(axes[1:], shown):
        member = labels == c
        ax.scatter(x[~member], y[~member], s=point_size * 0.6, c=[BACKGROUND_COLOR], linewidths=0, rasterized=True)
        ax.scatter(x[member], y[member], s=point_size * 1.3, c=[palette[c]], linewidths=0, rasterized=True)
        ax.set_title(f"cluster {c} (n={int(member.sum()):,})", fontsize=9)
        for spine in ax.spines.values():
            spine.set_edgecolor(palette[c])
            spine.set_linewidth(2)
    for ax in axes[len(shown) + 1:]:
        ax.set_axis_off()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="box")
    fig.suptitle(f"{title + ': ' if title else ''}clusters in the 2-D embedding{note}", fontsize=12)
    return fig


# --- image tiles: many small images in one Axes per row (an Axes per image is too slow) ------------

class _TileRows:
    """A figure of rows of image tiles, laid out in inches: each row is one Axes whose data units are
    image pixels (x to the right, y down), so tiles are placed by ``extent`` and stay square-pixelled.
    """

    def __init__(self, n_rows: int, row_width_px: float, image_shape: tuple[int, int], tile_in: float,
                 left_in: float, right_in: float, head_in: float, title_in: float, bottom_in: float = 0.15):
        self.h, self.w = image_shape
        self.scale = tile_in / self.w  # inches per pixel
        self.left_in, self.title_in = left_in, title_in
        self.row_in = self.h * self.scale + title_in
        self.width = left_in + row_width_px * self.scale + right_in
        self.height = head_in + n_rows * self.row_in + bottom_in
        self.head_in, self.row_width_px = head_in, row_width_px
        self.fig = _figure(self.width, self.height, constrained=False)

    def row(self, r: int):
        """The Axes of row r, spanning the row's tiles (titles sit above it, outside)."""
        bottom = self.height - self.head_in - (r + 1) * self.row_in
        ax = self.fig.add_axes((self.left_in / self.width, bottom / self.height,
                                self.row_width_px * self.scale / self.width, self.h * self.scale / self.height))
        ax.set_xlim(0, self.row_width_px)
        ax.set_ylim(self.h, 0)
        ax.set_axis_off()
        return ax

    def colorbar(self, ax, mappable, x_px: float, width_px: float):
        """A colour bar at data x ``x_px`` of row ``ax``, as tall as the tiles."""
        box = ax.get_position()
        cax = self.fig.add_axes((box.x0 + x_px * self.scale / self.width, box.y0,
                                 width_px * self.scale / self.width, box.height))
        bar = self.fig.colorbar(mappable, cax=cax)
        bar.ax.tick_params(labelsize=7, length=2, pad=1)
        bar.locator = matplotlib.ticker.MaxNLocator(3, symmetric=True)
        bar.update_ticks()
        return bar

    def tile(self, ax, image, x_px: float, cmap, vmin, vmax, title: str = "", frame=None, fontsize: float = 7.5,
             frame_width: float = 0.6):
        im = ax.imshow(image.reshape(self.h, self.w), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                       extent=(x_px, x_px + self.w, self.h, 0), aspect="auto")
        ax.add_patch(Rectangle((x_px, 0), self.w, self.h, fill=False, edgecolor=frame if frame is not None else "0.35",
                               linewidth=frame_width, clip_on=False))
        if title:
            ax.text(x_px + self.w / 2, -0.03 * self.h, title, ha="center", va="bottom", fontsize=fontsize,
                    clip_on=False)
        return im

    def row_label(self, ax, cluster: int, size, colors: np.ndarray) -> None:
        """The cluster's name, size and colour at the left of its row."""
        text = f"cluster {cluster}" + (f"\nn={int(size):,}" if size is not None and np.isfinite(size) else "")
        ax.text(-0.12 * self.w, self.h / 2, text, ha="right", va="center", fontsize=8.5, clip_on=False,
                bbox=dict(boxstyle="round,pad=0.3", facecolor=colors[cluster], alpha=0.45, edgecolor="none"))


def _symmetric_scale(*arrays) -> float:
    peak = max((float(np.abs(a).max()) for a in arrays if np.size(a)), default=0.0)
    return peak if peak > 0 else 1.0


# --- 7. neuron weight images -----------------------------------------------------------------------

def neuron_weight_images(ranking: pd.DataFrame, hidden_weights: np.ndarray, image_shape, top: int = 5,
                         title: str = "", max_clusters: int = MAX_CLUSTERS) -> Figure:
    """For each cluster (a row): the input weights of its ``top`` best-ranked hidden neurons as images
    (rank 1 left; one symmetric colour scale per row, its colour bar after them), then their
    combination ``combined_weights``: the neurons' weight images summed, each weighted by its
    fraction (own symmetric scale and colour bar, framed in the cluster's colour).

    Image titles: neuron index and the fraction of the cluster's points with it in their top-k.
    """
    hidden_weights = np.asarray(hidden_weights, dtype=np.float64)
    h, w = _check_image_shape(hidden_weights.shape[1], image_shape)
    sizes = cluster_sizes(ranking)
    shown, note = largest_clusters(sizes, max_clusters)
    n_clusters = int(ranking["cluster"].max()) + 1 if len(ranking) else 0
    colors = cluster_colors(n_clusters)
    gap, bar_w = 0.12 * w, 0.1 * w
    x_tiles = np.arange(top) * (w + gap)
    x_bar1 = top * (w + gap) - gap + 0.1 * w
    x_combo = x_bar1 + bar_w + 0.75 * w
    x_bar2 = x_combo + w + 0.1 * w
    layout = _TileRows(max(len(shown), 1), x_bar2 + bar_w, (h, w), tile_in=1.15, left_in=1.25, right_in=0.5,
                       head_in=0.75, title_in=0.32)
    fig = layout.fig
    fig.suptitle(f"{title + ': ' if title else ''}input weights of each cluster's top {top} neurons{note}\n"
                 f"title: neuron (share of the cluster's points with it in their top-k); red excites, blue inhibits; "
                 f"right: Σ fraction × weight", fontsize=9.5, y=1 - 0.06 / layout.height, va="top")
    if not shown:
        _no_data(fig.add_subplot(), "no ranked neurons")
        return fig
    for r, c in enumerate(shown):
        ax = layout.row(r)
        neurons, fractions = top_neurons(ranking, c, top)
        images = hidden_weights[neurons]
        scale = _symmetric_scale(images)
        im = None
        for k, (n, f) in enumerate(zip(neurons, fractions)):
            im = layout.tile(ax, images[k], x_tiles[k], WEIGHT_CMAP, -scale, scale, f"#{n} ({f:.0%})")
        if im is not None:
            layout.colorbar(ax, im, x_bar1, bar_w)
        combo = weighted_sum(hidden_weights, neurons, fractions)
        combo_scale = _symmetric_scale(combo)
        im = layout.tile(ax, combo, x_combo, WEIGHT_CMAP, -combo_scale, combo_scale, "Σ fraction × weight",
                         frame=colors[c], frame_width=2)
        layout.colorbar(ax, im, x_bar2, bar_w)
        layout.row_label(ax, c, sizes.get(c), colors)
    return fig


# --- 8. inputs seen through weights ---------------------------------------------------------------

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
    h, w = _check_image_shape(n_features, image_shape)
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
    layout = _TileRows(max(len(shown), 1), x_bar + bar_w, (h, w), tile_in=0.95, left_in=1.25, right_in=0.5,
                       head_in=0.85, title_in=0.42)
    fig = layout.fig
    fig.suptitle(f"{title + ': ' if title else ''}sample inputs x seen through neuron weights W (x ⊙ W, "
                 f"elementwise){note}\nown: the cluster's top-{top} neurons' weights summed with their fractions; "
                 f"next: the next cluster's; random: {top} random neurons, same fractions; Σ: sum of the image",
                 fontsize=9.5, y=1 - 0.06 / layout.height, va="top")
    if not shown:
        _no_data(fig.add_subplot(), "no clusters")
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
        scale = _symmetric_scale(*[v for row in seen for v in row])
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


# --- 9. Mapper graph -------------------------------------------------------------------------------

def graph_layout(n_nodes: int, edges: np.ndarray, seed: int = 0) -> np.ndarray:
    """Node positions (n_nodes, 2) from networkx's spring layout, seeded (same graph, same picture)."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    graph.add_edges_from(edges.tolist())
    if n_nodes == 0:
        return np.zeros((0, 2))
    pos = nx.spring_layout(graph, seed=seed, k=1.5 / math.sqrt(n_nodes), iterations=60)
    return np.array([pos[i] for i in range(n_nodes)], dtype=np.float64)


def node_majority(node_ptr: np.ndarray, node_points: np.ndarray, labels_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's most common true label (ties: lowest) and its share of the node's points."""
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    n_nodes = len(node_ptr) - 1
    labels_true = np.asarray(labels_true, dtype=np.int64)
    n_classes = int(labels_true.max(initial=0)) + 1
    node_of = np.repeat(np.arange(n_nodes), np.diff(node_ptr))
    counts = np.bincount(node_of * n_classes + labels_true[np.asarray(node_points, dtype=np.int64)],
                         minlength=n_nodes * n_classes).reshape(n_nodes, n_classes)
    totals = np.maximum(counts.sum(axis=1), 1)
    return counts.argmax(axis=1), counts.max(axis=1) / totals


def mapper_graph(node_ptr: np.ndarray, node_points: np.ndarray, edges: np.ndarray, node_cluster: np.ndarray,
                 labels_true: np.ndarray | None = None, title: str = "", seed: int = 0) -> Figure:
    """The Mapper graph, spring layout (seeded): node area proportional to its number of points,
    edges between nodes sharing points. Left: nodes coloured by cluster (grey: in no cluster); right
    (when ``labels_true`` is given): by the majority true label of their points.
    """
    node_ptr = np.asarray(node_ptr, dtype=np.int64)
    node_cluster = np.asarray(node_cluster, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    n_nodes = len(node_ptr) - 1
    counts = np.diff(node_ptr)
    n_clusters = int(node_cluster.max(initial=-1)) + 1
    two = labels_true is not None
    fig = _figure(13 if two else 7.5, 6.4)
    axes = np.atleast_1d(fig.subplots(1, 2 if two else 1))
    fig.suptitle(f"{title + ': ' if title else ''}Mapper graph, {n_nodes} nodes, {len(edges)} edges "
                 f"(node area ∝ points in the node)", fontsize=12)
    if n_nodes == 0:
        for ax in axes:
            _no_data(ax, "empty graph")
        return fig
    pos = graph_layout(n_nodes, edges, seed)
    s_max = float(np.clip(20000 / n_nodes, 60, 600))
    areas = 6 + s_max * counts / max(counts.max(), 1)
    order = np.argsort(-counts, kind="stable")  # big nodes below small ones
    segments = pos[edges] if len(edges) else np.zeros((0, 2, 2))

    def draw(ax, colors):
        ax.add_collection(LineCollection(segments, colors="0.55", linewidths=0.6, alpha=0.7, zorder=1))
        ax.scatter(pos[order, 0], pos[order, 1], s=areas[order], c=colors[order], edgecolors="0.25",
                   linewidths=0.4, zorder=2)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
        ax.margins(0.05)

    node_colors = _label_colors(node_cluster, n_clusters)
    draw(axes[0], node_colors)
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
        majority, purity = node_majority(node_ptr, node_points, labels_true)
        n_classes = int(np.max(labels_true)) + 1
        palette = class_colors(n_classes)
        draw(axes[1], palette[majority])
        handles = [Line2D([], [], marker="o", linestyle="none", markerfacecolor=palette[k], markeredgecolor="0.25",
                          label=str(k)) for k in range(n_classes)]
        fig.legend(handles=handles, title="true label", fontsize=8, title_fontsize=9, loc="outside right upper",
                   frameon=False)
        axes[1].set_title(f"coloured by majority true label (median node purity {np.median(purity):.0%})",
                          fontsize=10)
    return fig


# --- ablation and agreement -------------------------------------------------------------------------

def ablation_effects(table: pd.DataFrame, title: str = "", alpha: float = 0.05,
                     max_clusters: int = MAX_CLUSTERS) -> Figure:
    """Per cluster: its accuracy with all neurons, without its top-k neurons, and without k random ones
    (mean and standard deviation over the draws); the accuracy on all other points under the same
    silencing; stars mark p < alpha (the top-k hurt more than any but a share alpha of random draws).

    ``table``: nntopo.ablation's columns (cluster, size, acc_cluster_before, acc_cluster_after,
    acc_other_before, acc_other_after, random_mean, random_std, p_value).
    """
    table = table.sort_values("size", ascending=False).head(max_clusters).sort_values("cluster")
    fig = _figure(max(7.0, 0.75 * len(table) + 3), 6.4)
    own, other = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    if table.empty:
        _no_data(own, "no clusters")
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
    own.set_title(f"{title}\n{hurt} of {len(table)} clusters hurt more by their top-k than by random neurons "
                  f"(* p < {alpha})", fontsize=10)
    other.plot(x, table["acc_other_before"], "o-", color="0.6", label="all neurons")
    other.plot(x, table["acc_other_after"], "s-", color="black", label="cluster's top-k silenced")
    other.set_ylabel("accuracy,\nother points")
    other.set_xticks(x, [f"c{c}\nn={n}" for c, n in zip(table["cluster"], table["size"])], fontsize=8)
    other.set_xlabel("cluster")
    other.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def agreement_heatmap(matrix: pd.DataFrame, purity: pd.Series, title: str = "", metric: str = "ARI") -> Figure:
    """Methods x methods agreement (e.g. ARI on the points both assign), and each method's purity."""
    fig = _figure(9.5, 4.4)
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
