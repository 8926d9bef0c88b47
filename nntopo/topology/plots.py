"""Figures of the homology stage: Betti numbers against depth across models, one model's persistence
diagrams per layer and class, and how far each layer's diagrams move from the previous layer's.

Tables in are nntopo.topology.stage's: one row per (model,) layer and class with ``depth`` (0 = the
input, then hidden_1 .. and the output) and the columns of the measures (nntopo.topology.measures),
which say what each figure draws. Figures out; the stage saves them. A regression's classes are the
level sets of its target: each figure's ``unit`` ("class" by default, "level set") names them.
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nntopo.store import Homology
from nntopo.models import architecture_of
from nntopo.plotting import natural_sort_key, new_figure, no_data, series_colors
from nntopo.topology.measures import MEASURES

DIM_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # H0, H1, H2


def depth_rows(table: pd.DataFrame, known: dict | None = None) -> tuple[list[tuple], list[str]]:
    """The by-depth figure's rows, (measure, column, label) for each column of a measure drawn
    ``by_depth`` (measures.MEASURES), and notes on the rows left out. A row is left out when it holds one
    value in every layer, class and model (and any known Betti number agrees), and a sum of Betti
    numbers (omega) when at most one of them varies: it would repeat that one, shifted. On MNIST at
    k = 25, epsilon = 2 every class is one component in every layer and has a loop once (b0 = 1, so ω =
    1 + b1): four rows of flat lines said less than a line of text. When no row varies, all are drawn."""
    rows, constant, varying = [], [], {}
    for measure in MEASURES:
        if not measure.by_depth:
            continue
        for column in measure.columns(table):
            d = measure.dimension(column)
            values = table[column].dropna().unique()
            knowns = {b[d] for b in (known or {}).values()} if measure.known and d is not None else set()
            if len(values) == 1 and knowns <= {values[0]}:
                value = values[0]
                constant.append((measure, column, int(value) if measure.counts else float(f"{value:.3g}")))
            else:
                varying.setdefault(measure.name, []).append(column)
                rows.append((measure, column, measure.label.format(d=d)))
    notes = [f"{', '.join(f'{_symbol(m, c)} = {v:g}' for m, c, v in constant)} in every layer, class and model"
             ] if constant else []
    for measure in MEASURES:
        summed = next((m for m in MEASURES if m.name == measure.sums), None)
        if summed is None or measure.name not in varying or len(varying.get(summed.name, [])) != 1:
            continue
        (column,) = varying[summed.name]
        shift = sum(v for m, _, v in constant if m is summed)
        rows = [row for row in rows if row[0] is not measure]
        notes.append(f"{_symbol(measure, measure.column)} = {f'{shift:g} + ' if shift else ''}{_symbol(summed, column)}")
    if not rows:  # nothing varies: draw it all rather than nothing
        return [(m, column, m.label.format(d=m.dimension(column))) for m in MEASURES if m.by_depth
                for column in m.columns(table)], []
    return rows, notes


def _symbol(measure, column: str) -> str:
    return (measure.symbol or measure.label).format(d=measure.dimension(column))


def betti_depth(table: pd.DataFrame, class_names: list[str], known: dict | None = None, title: str = "",
                unit: str = "class") -> Figure:
    """Rows: the measures drawn by depth (measures.MEASURES: b0 .. b_maxdim, omega, the total
    persistence of each dimension), less those that hold one value everywhere or repeat another
    (``depth_rows``, named in the title);
    a column per class; a line per architecture (its seeds' mean, their range shaded); x = depth, a
    star at each model's output. ``known``: class -> known Betti numbers of the input, drawn as crosses
    at depth 0."""
    rows, notes = depth_rows(table, known) if len(table) else ([], [])
    if notes:
        title = (title or f"homology of each {unit}'s points, layer by layer") + f"\nnot drawn: {'; '.join(notes)}"
    classes = sorted(table["class"].unique()) if len(table) else []
    fig = new_figure(1.2 + 2.3 * max(len(classes), 1), 0.8 + 1.9 * max(len(rows), 1) + 0.25 * bool(notes))
    axes = np.atleast_2d(fig.subplots(max(len(rows), 1), max(len(classes), 1), sharex=True, squeeze=False))
    fig.suptitle(title or f"homology of each {unit}'s points, layer by layer", fontsize=12)
    if not classes:
        for ax in axes.flat:
            no_data(ax)
        return fig
    table = table.assign(architecture=table["model"].map(architecture_of))
    architectures = sorted(table["architecture"].unique(), key=natural_sort_key)
    colors = dict(zip(architectures, series_colors(len(architectures))))
    for col, c in enumerate(classes):
        for row, (measure, column, label) in enumerate(rows):
            ax = axes[row, col]
            for arch in architectures:
                rows_ = table[(table["class"] == c) & (table["architecture"] == arch)]
                stats = rows_.groupby("depth")[column].agg(["mean", "min", "max"])
                ax.plot(stats.index, stats["mean"], "o-", color=colors[arch], markersize=3, linewidth=1.3)
                if rows_["model"].nunique() > 1:
                    ax.fill_between(stats.index, stats["min"], stats["max"], color=colors[arch], alpha=0.15,
                                    linewidth=0)
                ax.scatter(stats.index[-1:], stats["mean"].iloc[-1:], marker="*", s=90, color=colors[arch],
                           edgecolor="black", linewidth=0.5, zorder=3)
            if known and measure.known and c in known:
                ax.scatter([0], [known[c][measure.dimension(column)]], marker="x", s=60, color="black", zorder=4)
            if row == 0:
                ax.set_title(f"{unit} {class_names[c]}", fontsize=10)
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            if measure.counts:  # whole numbers from 0
                ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
                ax.set_ylim(-0.3, max(ax.get_ylim()[1], 1.3))
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            if row == len(rows) - 1:
                ax.set_xlabel("depth (0 = input; ★ = output)", fontsize=9)
    seeds = table.groupby("architecture")["model"].nunique()
    handles = [Line2D([], [], color=colors[a], marker="o", markersize=4,
                      label=a + (f" ({seeds[a]} seeds: mean, range)" if seeds[a] > 1 else "")) for a in architectures]
    if known and any(m.known for m, _, _ in rows):
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label="known (input)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=1 if len(classes) < 4 else 3, fontsize=8.5)
    return fig


def persistence_diagrams(result: Homology, class_names: list[str], title: str = "", unit: str = "class") -> Figure:
    """A panel per layer and class: the Euclidean persistence diagrams of the class's subsample, its
    diameter scaled to 1 (so the axes are shared); H0 bars that never die are left out. Layers run
    down the rows when there are more layers than classes (a deep net on two classes), else across."""
    layers, classes = list(result.layers), result.classes
    by_row = len(layers) > len(classes)
    n_rows, n_cols = (len(layers), len(classes)) if by_row else (len(classes), len(layers))
    fig = new_figure(max(1.0 + 1.9 * n_cols, 5.5), 1.3 + 1.8 * n_rows)
    axes = fig.subplots(n_rows, n_cols, sharex=True, sharey=True, squeeze=False)
    fig.suptitle(title or f"persistence diagrams of each {unit}'s subsample, by layer (diameter scaled to 1)",
                 fontsize=10)
    top = max((float(d[np.isfinite(d[:, 1]), 1].max(initial=0)) for per in result.layers.values()
               for m in per.values() for d in m.diagrams), default=1.0) * 1.05 or 1.0
    for i, layer in enumerate(layers):
        for j, c in enumerate(classes):
            row, col = (i, j) if by_row else (j, i)
            ax = axes[row, col]
            ax.plot([0, top], [0, top], color="0.6", linewidth=0.8)
            for dim, diagram in enumerate(result.layers[layer][c].diagrams):
                bars = diagram[np.isfinite(diagram[:, 1])]
                ax.scatter(bars[:, 0], bars[:, 1], s=6, color=DIM_COLORS[dim], alpha=0.7, linewidth=0)
            ax.set_xlim(-0.03 * top, top)  # H0's births are all 0: keep them off the axis line
            ax.set_ylim(0, top)
            ax.tick_params(labelsize=7)
            name = f"{unit} {class_names[c]}"
            row_label, col_label = (layer, name) if by_row else (name, layer)
            if row == 0:
                ax.set_title(col_label, fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{row_label}\ndeath", fontsize=9)
    fig.supxlabel("birth", fontsize=10)
    dims = len(next(iter(next(iter(result.layers.values())).values())).diagrams)
    handles = [Line2D([], [], color=DIM_COLORS[d], marker="o", linestyle="none", label=f"H{d}") for d in range(dims)]
    fig.legend(handles=handles, loc="outside lower center", ncols=dims, fontsize=9)
    return fig


def diagram_distances(table: pd.DataFrame, class_names: list[str], title: str = "", unit: str = "class") -> Figure:
    """How far each layer's diagrams are from the previous layer's: the measures ``between_layers``
    (measures.MEASURES: bottleneck and 1-Wasserstein; rows) in each homology dimension (columns), a
    line per class (``unit``), x = the layer arrived at."""
    distances = [m for m in MEASURES if m.between_layers]
    dims = sorted({m.dimension(column) for m in distances for column in m.columns(table)})
    fig = new_figure(1.5 + 3.6 * max(len(dims), 1), 0.4 + 3.2 * len(distances))
    axes = fig.subplots(len(distances), max(len(dims), 1), sharex=True, squeeze=False)
    fig.suptitle(title or "change of the persistence diagrams from one layer to the next", fontsize=11)
    moved = table[table["depth"] > 0]
    if moved.empty:
        for ax in axes.flat:
            no_data(ax, "one layer: nothing to compare")
        return fig
    layers = moved.drop_duplicates("depth").sort_values("depth")
    classes = sorted(moved["class"].unique())
    colors = series_colors(len(classes))
    for col, dim in enumerate(dims):
        for row, measure in enumerate(distances):
            ax = axes[row, col]
            for c, color in zip(classes, colors):
                rows_ = moved[moved["class"] == c].sort_values("depth")
                ax.plot(rows_["depth"], rows_[measure.column.format(d=dim)], "o-", color=color, markersize=3,
                        linewidth=1.2)
            ax.set_title(f"{measure.label}, H{dim}", fontsize=10)
            ax.set_xticks(layers["depth"], [f"→{name}" for name in layers["layer"]], rotation=45, ha="right",
                          fontsize=8)
            ax.grid(alpha=0.3)
            ax.set_ylim(bottom=0)
    fig.supylabel("distance (diagrams of unit-diameter clouds)", fontsize=10)
    handles = [Line2D([], [], color=color, marker="o", markersize=4, label=f"{unit} {class_names[c]}")
               for c, color in zip(classes, colors)]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize=8.5)
    return fig
