"""Figures of neural persistence: the network's mean normalised NP through training beside its controls.

The rows in are nntopo.weights.stage's table's rows of the network's mean over its layers: one per
model and epoch (0: initialisation). A Figure out; the stage saves it.
"""

from __future__ import annotations

import matplotlib.ticker
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from nntopo.plotting import natural_sort_key, new_figure, no_data, series_colors


def _band(ax, table: pd.DataFrame, column: str, color, style: str, marker: str = "", shade: bool = True) -> None:
    """The seeds' mean against epochs, their range shaded."""
    stats = table.groupby("epoch")[column].agg(["mean", "min", "max"])
    ax.plot(stats.index, stats["mean"], style, color=color, marker=marker, markersize=3, linewidth=1.4)
    if shade and table["seed"].nunique() > 1:
        ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.15, linewidth=0)


def through_training(means: pd.DataFrame, dataset: str) -> Figure:
    """``means``: the rows of the network's mean over its layers, per model and epoch. A column per
    regularization. Top: mean normalised NP against epochs, one colour per network (widths and
    activation); solid the trained weights, dotted the same weights shuffled within each layer, a dashed
    level at the initial weights' NP. Bottom: the mean weight variance of the layers."""
    regularizations = sorted(means["regularization"].unique(), key=natural_sort_key) if len(means) else []
    fig = new_figure(1.0 + 3.6 * max(len(regularizations), 1), 6.4)
    axes = fig.subplots(2, max(len(regularizations), 1), sharex=True, sharey="row", squeeze=False)
    fig.suptitle(f"{dataset}: neural persistence through training, with its controls (mean over seeds, range shaded)",
                 fontsize=11)
    if not regularizations:
        for ax in axes.flat:
            no_data(ax)
        return fig
    architectures = sorted(means["network"].unique(), key=natural_sort_key)
    colors = dict(zip(architectures, series_colors(len(architectures))))
    for col, regularization in enumerate(regularizations):
        top, bottom = axes[0, col], axes[1, col]
        for architecture in architectures:
            rows = means[(means["regularization"] == regularization) & (means["network"] == architecture)]
            if not len(rows):
                continue
            color = colors[architecture]
            _band(top, rows, "normalized", color, "-", "o")
            _band(top, rows, "shuffled_normalized", color, ":", shade=False)
            top.axhline(rows[rows["epoch"] == 0]["normalized"].mean(), color=color, linestyle="--", linewidth=0.9,
                        alpha=0.8)
            _band(bottom, rows, "variance", color, "-", "o")
        top.set_title(regularization, fontsize=10)
        bottom.set_xlabel("epoch (0: initialisation)")
        bottom.set_yscale("log")
        bottom.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("mean normalised NP")
    axes[1, 0].set_ylabel("mean weight variance\nof the layers")
    handles = [Line2D([], [], color=colors[a], marker="o", markersize=3, label=a) for a in architectures] + [
        Line2D([], [], color="black", linestyle="-", label="trained weights"),
        Line2D([], [], color="black", linestyle=":", label="shuffled within each layer"),
        Line2D([], [], color="black", linestyle="--", label="at initialisation"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), fontsize=8.5)
    return fig
