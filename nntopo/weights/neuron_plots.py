"""Figures of the space of neurons (nntopo/weights/neurons.py): the Mapper graph of a layer's unit
weight vectors coloured by what its neurons do, the cloud's persistence diagram, and for the first
hidden layer of an image dataset the graph with every node drawn as the mean weight image of its neurons.

Arrays in (a ``store.NeuronSpace``), a matplotlib Figure out, in the house style (nntopo/plotting.py);
the graph is drawn as the clustering stage draws its Mapper graphs (node area ∝ neurons in the node).
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from nntopo.clustering.graph import unit_positions
from nntopo.clustering.graph import node_means
from nntopo.clustering.plots import draw_graph
from nntopo.store import NeuronSpace
from nntopo.plotting import (WEIGHT_CMAP, as_input_shape, channels_last, class_colors, finish_diagram, fit_halves,
                             new_figure, no_data, picture, symmetric_scale)

TOP_K_CMAP = "viridis"
ALIVE_CMAP = "RdYlBu"  # 0 (every neuron of the node dead) red, 1 (all alive) blue
DIM_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # H0, H1, H2, as the homology figures


def _summary(space: NeuronSpace) -> str:
    n = len(space.neurons)
    covered = len(np.unique(space.graph["node_points"]))
    zero = space.width - n
    parts = [f"{n} of {space.width} neurons" if zero else f"{n} neurons",
             f"{space.n_nodes} nodes, {len(space.graph['edges'])} edges"]
    if space.n_nodes and covered < n:
        parts.append(f"{n - covered} neurons in no node")
    if zero:
        parts.append(f"{zero} with all-zero weights left out")
    return "; ".join(parts)


def _votes(space: NeuronSpace):
    """A network of one output (a regressor of one target): each node's mean linear path to it (how much
    the output moves per unit of its neurons' activation) and its symmetric colour scale; None for
    several outputs, whose nodes are coloured by the output (class) their paths support most."""
    if space.linear_path.shape[0] != 1:
        return None
    path = space.linear_path[0][space.neurons]  # the cloud's neurons, which the nodes' points index
    votes = node_means(space.graph["node_ptr"], space.graph["node_points"], path)
    peak = symmetric_scale(votes)  # a node is never empty, so its mean is finite
    return votes, Normalize(-peak, peak)


VOTE = "the output's change per unit of activation\nalong the linear path (node mean)"


def neuron_graph(space: NeuronSpace, title: str = "") -> Figure:
    """The Mapper graph of the layer's unit weight vectors, once per colouring, each node coloured by
    its neurons: how many clusters rank them in their top-k (mean; left out without rankings), the
    class their linear path to the output supports most (majority), and the share alive. A network of
    one output (``_votes``): its neurons' mean linear path to that output, red raising it, blue
    lowering it, in place of the class."""
    graph = space.graph
    node_ptr = np.asarray(graph["node_ptr"], dtype=np.int64)
    counts = np.diff(node_ptr)
    panels = (["top_k"] if "node_top_k" in graph else []) + ["label", "alive"]
    fig = new_figure(0.6 + 5.0 * len(panels), 5.4)
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    fig.suptitle(f"{title + ': ' if title else ''}space of neurons, Mapper graph of the unit input weight vectors\n"
                 f"({_summary(space)}; node area ∝ neurons in the node)", fontsize=11)
    if space.n_nodes == 0:
        for ax in axes:
            no_data(ax, "no graph: too few neurons (see the log)")
        return fig
    pos = np.asarray(graph["positions"], dtype=np.float64)
    edges = np.asarray(graph["edges"], dtype=np.int64).reshape(-1, 2)
    s_max = float(np.clip(9000 / space.n_nodes, 40, 500))
    one_output = _votes(space)  # a regressor's one output: its nodes' mean linear path; None for classes
    for ax, panel in zip(axes, panels):
        if panel == "top_k":
            values = np.asarray(graph["node_top_k"])
            # Square-root scale: most neurons of a wide layer are in no cluster's top-k, a few in many.
            norm = PowerNorm(0.5, 0, max(float(values.max()), 1.0))
            draw_graph(ax, pos, edges, counts, colormaps[TOP_K_CMAP](norm(values)), s_max)
            bar = fig.colorbar(ScalarMappable(norm, TOP_K_CMAP), ax=ax, shrink=0.7, location="bottom", pad=0.02)
            # Ticks evenly spaced on the square-root scale, so they never crowd at 0.
            bar.set_ticks(sorted({round(float(t) ** 2, 1) for t in np.linspace(0, norm.vmax ** 0.5, 5)}))
            bar.ax.tick_params(labelsize=8)
            bar.set_label(f"clusters with the neuron in their top-{space.attrs.get('top_k', 'k')} (node mean, "
                          f"square-root scale)", fontsize=8.5)
            clusters = _clusters(space)
            ax.set_title(f"ranked in the top-{space.attrs.get('top_k', 'k')} of how many clusters\n"
                         f"({sum(clusters.values())} clusters of {len(clusters)} clusterings)", fontsize=10)
        elif panel == "label" and one_output is not None:
            votes, norm = one_output
            draw_graph(ax, pos, edges, counts, colormaps[WEIGHT_CMAP](norm(votes)), s_max)
            bar = fig.colorbar(ScalarMappable(norm, WEIGHT_CMAP), ax=ax, shrink=0.7, location="bottom", pad=0.02)
            bar.set_label(VOTE, fontsize=8.5)
            ax.set_title("what the neurons do to the one output along the linear path\n(node mean; red raises it, "
                         "blue lowers it)", fontsize=10)
        elif panel == "label":
            n_classes = space.linear_path.shape[0]
            palette = class_colors(n_classes)
            draw_graph(ax, pos, edges, counts, palette[np.asarray(graph["node_label"])], s_max)
            handles = [Line2D([], [], marker="o", linestyle="none", markerfacecolor=palette[k], markeredgecolor="0.25",
                              label=str(k)) for k in range(n_classes)]
            ax.legend(handles=handles, title="class", fontsize=8, title_fontsize=8.5, loc="upper center",
                      bbox_to_anchor=(0.5, -0.01), ncols=min(n_classes, 10), frameon=False, handletextpad=0.1,
                      columnspacing=0.8)
            share = np.median(np.asarray(graph["node_label_share"]))
            ax.set_title(f"class most supported along the linear path to the output\n(majority of the node; "
                         f"median share {share:.0%})", fontsize=10)
        else:
            values = np.asarray(graph["node_alive"])
            norm = Normalize(0, 1)
            draw_graph(ax, pos, edges, counts, colormaps[ALIVE_CMAP](norm(values)), s_max)
            bar = fig.colorbar(ScalarMappable(norm, ALIVE_CMAP), ax=ax, shrink=0.7, location="bottom", pad=0.02)
            bar.set_label("share of the node's neurons alive", fontsize=8.5)
            dead = int((~space.alive).sum())
            ax.set_title(f"alive: active on at least one test image\n({dead} of {space.width} neurons dead)",
                         fontsize=10)
    return fig


def _clusters(space: NeuronSpace) -> dict:
    import json

    stored = space.attrs.get("top_k_clusters", "{}")
    return json.loads(stored) if isinstance(stored, str) else dict(stored)


def neuron_diagram(space: NeuronSpace, title: str = "") -> Figure:
    """Left: the Vietoris-Rips persistence diagram of the unit weight vectors (Euclidean, not
    rescaled; the H0 bar that never dies on the top edge). Right: the distances between every two of
    them, for scale: sqrt(2) is two orthogonal neurons, 0 the same direction, 2 opposite ones."""
    from scipy.spatial.distance import pdist

    fig = new_figure(11.5, 5.0)
    ax, hist = fig.subplots(1, 2, width_ratios=[1.15, 1])
    fig.suptitle(f"{title + ': ' if title else ''}persistence diagram of the space of neurons "
                 f"({len(space.neurons)} unit input weight vectors)", fontsize=11)
    distances = pdist(space.points) if len(space.points) > 1 else np.zeros(0)
    if not len(distances):
        no_data(ax, "fewer than two neurons")
        no_data(hist, "fewer than two neurons")
        return fig
    top = max(float(distances.max()), max((float(d[np.isfinite(d[:, 1]), 1].max(initial=0)) for d in space.diagrams)))
    top = 1.08 * top
    ax.plot([0, top], [0, top], color="0.6", linewidth=0.8)
    ax.axhline(np.sqrt(2), color="0.75", linestyle=":", linewidth=0.9)
    ax.text(0.01 * top, np.sqrt(2), "√2 (orthogonal)", fontsize=7.5, color="0.45", va="bottom")
    handles = []
    for dim, diagram in enumerate(space.diagrams):
        bars = diagram[np.isfinite(diagram[:, 1])]
        never = diagram[~np.isfinite(diagram[:, 1])]
        color = DIM_COLORS[dim % len(DIM_COLORS)]
        ax.scatter(bars[:, 0], bars[:, 1], s=12, color=color, alpha=0.75, linewidth=0)
        if len(never):
            ax.scatter(never[:, 0], np.full(len(never), top), s=40, marker="^", color=color, clip_on=False)
        longest = float(np.ptp(bars, axis=1).max(initial=0))
        handles.append(Line2D([], [], color=color, marker="o", linestyle="none",
                              label=f"H{dim}: {len(diagram)} bars, longest finite bar {longest:.3f}"))
    handles.append(Line2D([], [], color=DIM_COLORS[0], marker="^", linestyle="none", label="H0 bar that never dies"))
    finish_diagram(ax, handles, top, 1.02, "distance between unit weight vectors",
                   "H0: neurons merging into one cloud; H1: loops")
    hist.hist(distances, bins=60, range=(0, 2), color="0.45")
    hist.axvline(np.sqrt(2), color="0.2", linestyle=":", linewidth=1)
    hist.set_xlim(0, 2)
    hist.set_xlabel("distance between two neurons' unit weight vectors", fontsize=9)
    hist.set_ylabel("pairs of neurons", fontsize=9)
    hist.set_title(f"all {len(distances):,} pairs (median {np.median(distances):.2f}; √2 dotted)", fontsize=10)
    hist.tick_params(labelsize=8)
    return fig


def neuron_filters(space: NeuronSpace, image_shape, title: str = "") -> Figure:
    """The Mapper graph of the first hidden layer's neurons with every node drawn as the mean of its
    neurons' unit weight vectors as an image of ``image_shape`` (channels, height, width), or (height,
    width) of one channel: grey in red (excites) and blue (inhibits), colour as RGB with 0 mid grey,
    other channel counts as a row of greys; each tile's colours span its own 99th percentile of
    |weight|, since a mean over many neurons is fainter than over few, and the never-lit border pixels
    keep their initial noise. Its area grows with the node's neurons (a wide or tall image fits the
    same square), it is framed in the colour of the class its neurons' linear paths support most (a
    network of one output: in the colour of their mean linear path to it, ``_votes``), at the node's
    place in the graph layout (the neuron_graph figure's)."""
    shape = as_input_shape(image_shape)
    graph = space.graph
    n_nodes = space.n_nodes
    node_ptr = np.asarray(graph["node_ptr"], dtype=np.int64)
    if n_nodes == 0:
        fig = new_figure(7, 5)
        no_data(fig.subplots(), "no graph: too few neurons (see the log)")
        return fig
    images = np.stack([space.points[graph["node_points"][node_ptr[i]:node_ptr[i + 1]]].mean(axis=0)
                       for i in range(n_nodes)])
    pos = unit_positions(graph["positions"])
    span = np.ptp(pos, axis=0) + 1.2
    scale = min(1.0, 20.0 / span[0], 14.0 / span[1])  # inches per unit (the median distance between nearby nodes)
    fig = new_figure(max(span[0] * scale, 10.0), span[1] * scale + 2.1)
    ax = fig.subplots()
    key = ": red excites, blue inhibits" + ("" if shape[0] == 1 else f";\nthe {shape[0]} input channels side by side")
    if shape[0] == 3:
        key = " (p99)\nRGB: each channel 0.5 + w / (2 p99), mid grey 0"
    fig.suptitle(f"{title + ': ' if title else ''}families of filters\neach Mapper node drawn as the mean unit "
                 f"weight image of its neurons\n({_summary(space)})\ntile area ∝ neurons in the node; each tile's "
                 f"colours span its own 99th percentile of |weight|{key}", fontsize=10)
    edges = np.asarray(graph["edges"], dtype=np.int64).reshape(-1, 2)
    if len(edges):
        ax.add_collection(LineCollection(pos[edges], colors="0.55", linewidths=0.8, alpha=0.8, zorder=1))
    palette = class_colors(space.linear_path.shape[0])
    votes = _votes(space)
    frames = (palette[np.asarray(graph["node_label"])] if votes is None
              else colormaps[WEIGHT_CMAP](votes[1](votes[0])))
    sizes = np.diff(node_ptr)
    halves = 0.22 + 0.26 * np.sqrt(sizes / sizes.max())  # tile area grows with the node's neurons, as node areas do
    for rank, i in enumerate(np.argsort(-sizes, kind="stable")):  # big tiles below, so small ones stay visible
        x, y = pos[i]
        (half_w, half_h), z = fit_halves(halves[i], shape), 2 + rank / n_nodes
        vmax = float(np.quantile(np.abs(images[i]), 0.99)) or 1.0  # not the border pixels' noise
        array, style = picture(channels_last(images[i], shape), WEIGHT_CMAP, -vmax, vmax)
        ax.imshow(array, interpolation="nearest", extent=(x - half_w, x + half_w, y - half_h, y + half_h), zorder=z,
                  **style)
        ax.add_patch(Rectangle((x - half_w, y - half_h), 2 * half_w, 2 * half_h, fill=False, zorder=z,
                               linewidth=2.0, edgecolor=frames[i]))
        ax.text(x + half_w, y - half_h, str(int(sizes[i])), ha="right", va="bottom", fontsize=6, color="0.15",
                zorder=z, bbox=dict(boxstyle="square,pad=0.1", facecolor="white", alpha=0.7,
                                                   edgecolor="none"))
    ax.set_xlim(pos[:, 0].min() - 0.6, pos[:, 0].max() + 0.6)
    ax.set_ylim(pos[:, 1].min() - 0.7, pos[:, 1].max() + 0.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if votes is not None:
        bar = fig.colorbar(ScalarMappable(votes[1], WEIGHT_CMAP), ax=ax, shrink=0.5, location="bottom", pad=0.02)
        bar.set_label(f"frame: {VOTE.replace(chr(10), ' ')} (corner: neurons in the node)", fontsize=8.5)
        return fig
    handles = [Line2D([], [], marker="s", linestyle="none", markerfacecolor="none", markeredgewidth=2,
                      markeredgecolor=palette[k], label=str(k)) for k in range(len(palette))]
    fig.legend(handles=handles, title="frame: class the node's neurons support most (corner: neurons in the node)", fontsize=8,
               title_fontsize=8.5, loc="outside lower center", ncols=len(palette), frameon=False)
    return fig
