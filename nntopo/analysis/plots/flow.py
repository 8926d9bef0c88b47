"""How clusterings relate: methods on one layer (agreement), one method's clusters from layer to layer
(the alluvial diagram), and what changes with depth. ``nntopo.analysis.agreement`` and
``nntopo.analysis.flow`` compute the tables drawn here.
"""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from nntopo.plotting import darker, MAX_CLUSTERS, natural_sort_key, new_figure, no_data, series_colors

PURITY = "purity: share of assigned points\nin their cluster's majority class"
EXPLAINED = "explained variance: share of the target's\nvariance the clusters explain"  # a regressor's purity


def explains_variance(table: pd.DataFrame) -> bool:
    """Whether a flow or agreement table is a regressor's: explained_variance where a classifier's has
    purity (or only it holding values)."""
    return "explained_variance" in table and ("purity" not in table or table["purity"].isna().all())


def agreement_heatmap(matrix: pd.DataFrame, purity: pd.Series, title: str = "", metric: str = "ARI") -> Figure:
    """Methods x methods agreement (e.g. ARI on the points both assign), and each method's purity (a
    regressor's, a series named explained_variance: the explained variance of its target)."""
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
    bars.set_xlabel(EXPLAINED if purity.name == "explained_variance" else PURITY)
    for i, value in enumerate(purity.to_numpy()):
        bars.text(value - 0.02, i, f"{value:.2f}", ha="right", va="center", color="white", fontsize=9)
    fig.suptitle(title)
    return fig


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


def layer_sankey(labelings: dict, y_true, title: str = "", max_clusters: int = MAX_CLUSTERS, targets=None,
                 target: str = "target") -> Figure:
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

    A regressor's (``targets``: (N,) each point's ``target``): a band is coloured by the mean target of
    its points on a continuous scale with its key, and the first layer's clusters are ordered by their
    mean target.
    """
    from matplotlib.patches import PathPatch, Rectangle
    from nntopo.analysis.agreement import compositions
    from nntopo.analysis.flow import contingency
    from nntopo.plotting import class_colors, NOISE_COLOR, TARGET_CMAP, value_colors, value_key, value_norm

    layers = list(labelings)
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(y_true)
    n_classes = int(y_true.max()) + 1 if n else 0
    palette = class_colors(n_classes)
    targets = None if targets is None else np.asarray(targets, dtype=np.float64)
    merged, others = zip(*(_merge_beyond(np.asarray(labelings[layer], dtype=np.int64), max_clusters)
                           for layer in layers)) if layers else ((), ())
    note = (f"\n(beyond the {max_clusters} largest clusters of a layer, the rest are merged into 'other')"
            if any(o is not None for o in others) else "")
    fig = new_figure(max(9.0, 1.5 + 1.75 * len(layers)), 7.5)
    ax = fig.subplots()
    fig.suptitle(f"{title + chr(10) if title else ''}clusters from layer to layer: a box is a cluster, as tall as "
                 f"its number of points;\na band: the points going from a cluster into one of the next layer's, "
                 f"coloured by {'their majority true label' if targets is None else f'the mean {target} of its points'}"
                 f"{note}", fontsize=10)
    if not layers or n == 0:
        no_data(ax, "no clusters")
        return fig

    flows = [contingency(a, b, y_true) for a, b in zip(merged[:-1], merged[1:])]
    if targets is not None:
        norm = value_norm(targets)
        for flow, a, b in zip(flows, merged[:-1], merged[1:]):  # contingency's order: by cluster_a, cluster_b
            means = pd.Series(targets).groupby([a, b]).mean()
            flow["colour"] = list(value_colors(means.loc[list(zip(flow["cluster_a"], flow["cluster_b"]))].to_numpy(),
                                               norm, TARGET_CMAP))
    gap = 0.02 * n
    box_w = 0.12
    # Each column: its boxes top to bottom as {cluster: (top, size)}.
    columns: list[dict[int, tuple[float, int]]] = []
    for j, labels in enumerate(merged):
        ids, sizes = np.unique(labels, return_counts=True)
        size_of = dict(zip(ids.tolist(), sizes.tolist()))
        special = [c for c in (others[j], -1) if c is not None and c in size_of]
        if j == 0 and targets is not None:
            mean_of = pd.Series(targets).groupby(labels).mean()
            key = {int(c): (float(mean_of[c]), -size_of[c]) for c in ids}
        elif j == 0:
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
            color = palette[label] if targets is None else tuple(flow["colour"].iloc[k])
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
        n_clusters = len(np.unique(labels[labels >= 0]))
        none = float(np.mean(labels < 0))
        return f"{layers[j]}\n{n_clusters} clusters" + (f"\n{none:.0%} in none" if none else "")

    ax.set_xticks(range(len(layers)), [column_label(j) for j in range(len(layers))], fontsize=9)
    ax.tick_params(axis="x", length=0)
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(layers) - 0.5)
    ax.set_ylim(height + 0.01 * n, -0.01 * n)
    for spine in ax.spines.values():
        spine.set_visible(False)
    present = sorted(set().union(*(flow["majority_label"] for flow in flows))) if targets is None else []
    handles = [Patch(facecolor=palette[label], edgecolor=darker(palette[label], 0.7), label=str(label))
               for label in present]
    if targets is not None:
        value_key(fig, ax, norm, TARGET_CMAP, f"band colour: the mean {target} of its points", shrink=0.7,
                  aspect=30)
    handles += [Patch(facecolor=_BOX_COLOR, edgecolor="black", label="box: cluster"),
                Patch(facecolor=NOISE_COLOR, edgecolor="black", label="in no cluster")]
    if any(o is not None for o in others):
        handles.append(Patch(facecolor=_OTHER_COLOR, edgecolor="black", label="other (merged)"))
    # Below the columns, in rows: beside them it would collide with the long title.
    fig.legend(handles=handles, title="band colour: the majority true label of its points" if targets is None else None,
               loc="outside lower center",
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

    A regression dataset's table (``explained_variance`` and ``probe_r2`` in place of ``purity`` and
    ``probe_accuracy``, or only those holding values): the share of the target's variance the clusters
    explain, and the ridge probe's held-out R².
    """
    from matplotlib.lines import Line2D

    regression = explains_variance(table)
    panels = ((("explained_variance", "share of the target's variance the clusters explain"),
               ("probe_r2", "ridge probe: R² on the held-out half")) if regression else
              (("purity", "purity of the layer's clusters"),
               ("probe_accuracy", "linear probe: accuracy on the held-out half"))) + (
        ("ari_output", "ARI with the output layer's clusters"),)
    models = sorted(dict.fromkeys(table["model"]), key=lambda m: natural_sort_key(str(m)))
    fig = new_figure(13.0, 4.4)
    axes = fig.subplots(1, len(panels), sharex=True)
    fig.suptitle(title or ("clusters and the target's linear predictability by depth" if regression else
                           "clusters and linear separability by depth"), fontsize=12)
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
