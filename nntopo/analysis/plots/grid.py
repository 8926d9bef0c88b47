"""The models of a study compared: test accuracy, weight norm, near-zero weights and clusters found."""

from __future__ import annotations

from collections import Counter

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from nntopo.plotting import darker, natural_sort_key, NEAR_ZERO, new_figure, no_data

_METRICS = (
    ("test_accuracy", "test accuracy", "{:.2%}"),
    ("weight_l2_norm", "weight L2 norm (all layers)", "{:.1f}"),
    ("near_zero_fraction", f"near-zero weights (|w| < {NEAR_ZERO:g})", "{:.1%}"),
)
_ERROR = ("test_mse", "test error (mean squared)", "{:.3g}")  # a regressor's, in place of the accuracy


def _metrics(table: pd.DataFrame) -> tuple:
    """The panels of the models' numbers: a classifier's accuracy, or a regressor's error where the table
    holds no accuracy (a regression dataset's models)."""
    accuracy = "test_accuracy" in table and table["test_accuracy"].notna().any()
    if accuracy or "test_mse" not in table:
        return _METRICS
    return (_ERROR, *_METRICS[1:])


def _model_groups(models: list[str]) -> tuple[list[str], list[str]]:
    """(architecture-and-seed group, regularization) of each model id; an external network's name alone.
    A group names its architecture and seed on two lines: model ids are long, and side by side under
    the bars one line each would touch."""
    from nntopo.models import ModelId, is_grid_model

    groups, regs = [], []
    for model in models:
        if not is_grid_model(model):
            groups.append(str(model))
            regs.append("")
            continue
        mid = ModelId.parse(str(model))
        groups.append(f"{mid.architecture_name}\ns{mid.seed}")
        regs.append(mid.regularization)
    return groups, regs


def grid_summary(table: pd.DataFrame, title: str = "") -> Figure:
    """Compare models: test accuracy, weight L2 norm and near-zero weight share as grouped bars.

    ``table`` has one row per model: ``model`` (a model id such as mlp100-l2-s0), ``test_accuracy``,
    ``weight_l2_norm``, ``near_zero_fraction`` (a regression dataset's models: ``test_mse`` in place of
    the accuracy, drawn from 0), and optionally ``n_clusters_<method>`` columns, drawn
    as one more panel (a models x methods table of cluster counts). Bars are grouped by architecture
    and seed, one colour per regularization, so regularized and plain models stand side by side.
    """
    table = table.reset_index(drop=True)
    cluster_cols = [c for c in table.columns if str(c).startswith("n_clusters_")]
    metrics = _metrics(table)
    n_panels = len(metrics) + (1 if cluster_cols else 0)
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
    for ax, (column, label, fmt) in zip(axes, metrics):
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
        ax.set_xticks(x, group_names, fontsize=9)
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
    _turn_crowded_labels(fig, axes[:len(metrics)])
    return fig


def _turn_crowded_labels(fig: Figure, axes) -> None:
    """Where an axis' x tick labels (two lines each) would come closer than a few characters, set
    them on one line each, turned by 30 degrees."""
    fig.draw_without_rendering()  # lays the figure out: the labels get their sizes and places
    gap = 0.15 * fig.dpi  # display pixels
    for ax in axes:
        labels = ax.get_xticklabels()
        boxes = [label.get_window_extent() for label in labels]
        if any(left.x1 + gap > right.x0 for left, right in zip(boxes, boxes[1:])):
            ax.set_xticks(ax.get_xticks(), [label.get_text().replace("\n", " ") for label in labels], fontsize=9,
                          rotation=30, ha="right", rotation_mode="anchor")


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
