"""Figures of the space of first-layer filters (nntopo/weights/filters.py): the persistence diagram of
the kept kernels beside their first two principal components and a strip of them ordered by their
angle there (what a circle of rotating edges looks like), and the Mapper graph with every node drawn
as its mean kernel.

Arrays in (a ``store.FilterSpace``), a matplotlib Figure out, in the house style (nntopo/plotting.py).
Kernels are drawn in grey, symmetric around 0: white is a positive weight, black a negative one, the
mid grey 0 (a kernel's sign is what it looks for; red and blue stay the neurons' weight images'). A
colour image's kernels (3 input channels) are drawn the same way per channel, as RGB: each channel
0.5 + w / (2 max|w|); other channel counts as a row of greys.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from nntopo.clustering.graph import unit_positions
from nntopo.store import FilterSpace
from nntopo.plotting import (as_input_shape, channels_last, finish_diagram, fit_halves, new_figure, no_data, picture,
                             tile_size)
from nntopo.weights.filters import loop_lifetimes, loop_ratio

KERNEL_CMAP = "gray"  # diverging in grey: black negative, mid grey 0, white positive
ANGLE_CMAP = "hsv"  # cyclic: the angle around the circle, -180 and 180 degrees the same colour (twilight's
# white end vanished on the white background)
DIM_COLORS = ("#1f77b4", "#d62728", "#2ca02c")  # H0, H1, H2, as the other diagrams
STRIP = 12  # kept kernels shown in the strip, one per equal arc of the angle


def _summary(space: FilterSpace) -> str:
    n_models = len(space.models)
    return (f"{len(space.kernels)} kernels of {n_models} model{'s' if n_models != 1 else ''}; "
            f"{len(space.contrasted)} kept by contrast (top {space.attrs['contrast_share']:g}, "
            f"{space.attrs['contrast_norm'].replace('_', '-')}), {len(space.kept)} by density "
            f"(top {space.attrs['density_share']:g}, k = {space.attrs['density_k']})")


def kernel_shape(space: FilterSpace) -> tuple[int, int, int]:
    """(input channels, kh, kw) of the space's kernels (the file keeps a colour image's kernels with
    their channels stacked along the rows; its attribute ``kernel_shape`` names them)."""
    return as_input_shape(space.attrs.get("kernel_shape") or space.kernel_shape)


def _kernel(ax, kernel: np.ndarray, extent, vmax: float | None = None, zorder: float = 2, frame="0.3",
            frame_width: float = 0.8) -> None:
    """One kernel (kh, kw, input channels) as an image at ``extent`` (x0, x1, y0, y1), symmetric around 0:
    grey, or RGB for three channels (``plotting.picture``)."""
    vmax = vmax or float(np.abs(kernel).max()) or 1.0
    array, style = picture(kernel, KERNEL_CMAP, -vmax, vmax)
    ax.imshow(array, interpolation="nearest", extent=extent, zorder=zorder, **style)
    x0, x1, y0, y1 = extent
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=frame, linewidth=frame_width,
                           zorder=zorder))


def strip_choice(angle: np.ndarray, n: int = STRIP) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` points, one per equal arc of the angle (the one nearest the arc's centre; empty arcs
    give none): (their indices, the arcs' centres in radians), in order of angle."""
    if not len(angle):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    centres = -np.pi + (np.arange(n) + 0.5) * 2 * np.pi / n
    arc = np.minimum(((angle + np.pi) / (2 * np.pi) * n).astype(int), n - 1)
    chosen, where = [], []
    for k in range(n):
        members = np.flatnonzero(arc == k)
        if len(members):
            chosen.append(int(members[np.argmin(np.abs(angle[members] - centres[k]))]))
            where.append(centres[k])
    return np.asarray(chosen, dtype=np.int64), np.asarray(where)


def filter_diagram(space: FilterSpace, title: str = "") -> Figure:
    """Top left: the Vietoris-Rips persistence diagram of the kept unit kernels (Euclidean, not
    rescaled), the longest H1 bar annotated with its lifetime. Top right: the kept kernels in their
    first two principal components, coloured by their angle there. Bottom: one kept kernel per arc of
    that angle, in order: around a circle of rotating edges, the edge turns along the strip."""
    fig = new_figure(12.0, 8.6)
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.2, 1.25])
    ax, plane_ax = top.subplots(1, 2, width_ratios=[1.1, 1])
    fig.suptitle(f"{title + ': ' if title else ''}space of first-layer filters, mean-centred unit kernels\n"
                 f"({_summary(space)})", fontsize=11)
    if len(space.points) < 2:
        for each in (ax, plane_ax, bottom.subplots()):
            no_data(each, "fewer than two kernels kept (see the log)")
        return fig
    _diagram(ax, space)
    _plane(top, plane_ax, space)
    _strip(bottom, space)
    return fig


def _diagram(ax, space: FilterSpace) -> None:
    finite = [d[np.isfinite(d[:, 1])] for d in space.diagrams]
    top = 1.08 * max(max((float(d[:, 1].max(initial=0)) for d in finite)), 0.1)
    ax.plot([0, top], [0, top], color="0.6", linewidth=0.8)
    handles = []
    for dim, (diagram, bars) in enumerate(zip(space.diagrams, finite)):
        color = DIM_COLORS[dim % len(DIM_COLORS)]
        never = diagram[~np.isfinite(diagram[:, 1])]
        ax.scatter(bars[:, 0], bars[:, 1], s=14, color=color, alpha=0.75, linewidth=0, zorder=3)
        if len(never):
            ax.scatter(never[:, 0], np.full(len(never), top), s=40, marker="^", color=color, clip_on=False, zorder=3)
        lifetimes = loop_lifetimes(diagram)
        label = f"H{dim}: {len(diagram)} bars"
        if dim >= 1 and len(lifetimes):
            label += f", longest {lifetimes[0]:.3f}" + (f", next {lifetimes[1]:.3f}" if len(lifetimes) > 1 else "")
        handles.append(Line2D([], [], color=color, marker="o", linestyle="none", label=label))
    handles.append(Line2D([], [], color=DIM_COLORS[0], marker="^", linestyle="none", label="H0 bar that never dies"))
    if len(space.diagrams) > 1 and len(finite[1]):
        h1 = finite[1]
        birth, death = h1[np.argmax(h1[:, 1] - h1[:, 0])]
        lifetimes = loop_lifetimes(h1)
        ratio = loop_ratio(lifetimes)
        ax.vlines(birth, birth, death, color=DIM_COLORS[1], linewidth=1.2, linestyle="--", zorder=2)
        ax.annotate(f"longest loop: lifetime {death - birth:.3f}\n"
                    + (f"{ratio:.1f}x the second longest" if np.isfinite(ratio) else "the only loop"),
                    xy=(birth, death), fontsize=9, color=DIM_COLORS[1], va="bottom", zorder=4,
                    # to the left of a point in the right half, so the text stays inside the axes
                    **(dict(xytext=(birth - 0.06 * top, death + 0.04 * top), ha="right") if birth > 0.5 * top
                       else dict(xytext=(birth + 0.06 * top, death + 0.04 * top), ha="left")),
                    arrowprops=dict(arrowstyle="-", color=DIM_COLORS[1], linewidth=0.8))
    finish_diagram(ax, handles, top, 1.12, "distance between unit kernels",
                   "persistence diagram (Vietoris-Rips, Euclidean): H0 components, H1 loops")


def _plane(fig, ax, space: FilterSpace) -> None:
    norm = Normalize(-180, 180)
    degrees = np.degrees(space.angle)
    ax.scatter(space.plane[:, 0], space.plane[:, 1], s=16, c=colormaps[ANGLE_CMAP](norm(degrees)),
               edgecolors="0.3", linewidths=0.3)
    chosen, _ = strip_choice(space.angle)
    for number, i in enumerate(chosen, start=1):
        ax.annotate(str(number), space.plane[i], xytext=(4, 4), textcoords="offset points", fontsize=8,
                    color="0.1", bbox=dict(boxstyle="round,pad=0.1", facecolor="white", alpha=0.75, edgecolor="none"))
        ax.scatter(*space.plane[i], s=40, facecolors="none", edgecolors="black", linewidths=0.9)
    ax.axhline(0, color="0.85", linewidth=0.6, zorder=0)
    ax.axvline(0, color="0.85", linewidth=0.6, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("first principal component", fontsize=9)
    ax.set_ylabel("second principal component", fontsize=9)
    share = space.attrs.get("plane_variance", float("nan"))
    ax.set_title(f"the kept kernels in their first two principal components\n({share:.0%} of their variance; "
                 f"numbers: the strip below)", fontsize=10)
    ax.tick_params(labelsize=8)
    bar = fig.colorbar(ScalarMappable(norm, ANGLE_CMAP), ax=ax, shrink=0.8, pad=0.02)
    bar.set_ticks([-180, -90, 0, 90, 180])
    bar.set_label("angle in this plane (degrees)", fontsize=8.5)
    bar.ax.tick_params(labelsize=8)


def _strip(fig, space: FilterSpace) -> None:
    chosen, centres = strip_choice(space.angle)
    ax = fig.subplots()
    shape = kernel_shape(space)
    kh, kw = tile_size(shape)
    gap = 0.35 * shape[2]
    for number, (i, centre) in enumerate(zip(chosen, centres), start=1):
        x = (number - 1) * (kw + gap)
        _kernel(ax, channels_last(space.points[i], shape), (x, x + kw, kh, 0))
        ax.text(x + kw / 2, -0.08 * kh, f"{number}: {np.degrees(centre):+.0f}°", ha="center", va="bottom",
                fontsize=8.5)
    width = len(chosen) * (kw + gap) - gap
    ax.set_xlim(-0.1, max(width, kw) + 0.1)
    ax.set_ylim(kh + 0.1, -0.45 * kh)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"one kept kernel per {360 // STRIP}° arc of the angle, in order (each its own scale: "
                 f"{_key(shape)}, mid grey 0)", fontsize=10)


def _key(shape) -> str:
    """How the kernels' values are drawn, for a title."""
    if shape[0] == 3:
        return "RGB, each channel 0.5 + w / (2 max|w|)"
    return "white positive, black negative" + ("" if shape[0] == 1 else f", the {shape[0]} input channels side by side")


def filter_graph(space: FilterSpace, title: str = "") -> Figure:
    """The Mapper graph of the kept unit kernels (PCA lens, DBSCAN in each cube), every node drawn as
    the mean of its kernels (grey, each tile its own scale), its area growing with the node's kernels,
    framed in the colour of their mean angle in the first two principal components (the other
    figure's colours), edges as lines."""
    n_nodes = space.n_nodes
    if n_nodes == 0:
        fig = new_figure(8, 5)
        fig.suptitle(f"{title + ': ' if title else ''}Mapper graph of the first-layer filters\n({_summary(space)})",
                     fontsize=10)
        no_data(fig.subplots(), "no graph: too few kernels kept, or DBSCAN put none in a node (see the log)")
        return fig
    graph = space.graph
    shape = kernel_shape(space)
    node_ptr = np.asarray(graph["node_ptr"], dtype=np.int64)
    members = [graph["node_points"][node_ptr[i]:node_ptr[i + 1]] for i in range(n_nodes)]
    sizes = np.diff(node_ptr)
    angles = np.array([np.angle(np.exp(1j * space.angle[m]).mean()) for m in members])  # circular means
    pos = unit_positions(graph["positions"])
    span = np.ptp(pos, axis=0) + 1.4
    scale = min(1.0, 16.0 / span[0], 11.0 / span[1])  # inches per unit (the median distance between nearby nodes)
    fig = new_figure(max(span[0] * scale, 9.0) + 1.2, max(span[1] * scale, 4.0) + 1.8)
    ax = fig.subplots()
    covered = len(np.unique(graph["node_points"]))
    fig.suptitle(f"{title + ': ' if title else ''}Mapper graph of the first-layer filters, each node drawn as its "
                 f"mean kernel\n({_summary(space)}; {n_nodes} nodes, {len(graph['edges'])} edges, "
                 f"{len(space.kept) - covered} kernels in no node)\ntile area ∝ kernels in the node (number in the "
                 f"corner); each tile its own {'scale' if shape[0] == 3 else 'grey scale'}: {_key(shape)}",
                 fontsize=10)
    edges = np.asarray(graph["edges"], dtype=np.int64).reshape(-1, 2)
    if len(edges):
        ax.add_collection(LineCollection(pos[edges], colors="0.45", linewidths=1.0, alpha=0.8, zorder=1))
    norm = Normalize(-180, 180)
    halves = 0.2 + 0.2 * np.sqrt(sizes / sizes.max())  # at most 0.4: neighbours at the median distance do not touch
    kernels = channels_last(np.asarray(graph["node_kernels"]).reshape(n_nodes, -1), shape)
    for rank, i in enumerate(np.argsort(-sizes, kind="stable")):  # big tiles below, so small ones stay visible
        x, y = pos[i]
        (half_w, half_h), z = fit_halves(halves[i], shape), 2 + rank / n_nodes
        _kernel(ax, kernels[i], (x - half_w, x + half_w, y - half_h, y + half_h), zorder=z,
                frame=colormaps[ANGLE_CMAP](norm(np.degrees(angles[i]))), frame_width=2.5)
        ax.text(x + half_w, y - half_h, str(int(sizes[i])), ha="right", va="bottom", fontsize=6.5, color="0.1",
                zorder=z, bbox=dict(boxstyle="square,pad=0.1", facecolor="white", alpha=0.7, edgecolor="none"))
    ax.set_xlim(pos[:, 0].min() - 0.7, pos[:, 0].max() + 0.7)
    ax.set_ylim(pos[:, 1].min() - 0.7, pos[:, 1].max() + 0.7)
    ax.set_aspect("equal")
    ax.set_axis_off()
    bar = fig.colorbar(ScalarMappable(norm, ANGLE_CMAP), ax=ax, shrink=0.6, pad=0.01)
    bar.set_ticks([-180, -90, 0, 90, 180])
    bar.set_label("frame: the node's mean angle in the first two\nprincipal components (degrees; filter_diagram)",
                  fontsize=8.5)
    bar.ax.tick_params(labelsize=8)
    return fig
