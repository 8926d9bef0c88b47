"""Figures of a CNN's channels: its first layer's filters, the kernels of a cluster's top channels, and
what a cluster's top channels respond to (``nntopo.analysis.channels`` computes it).

Arrays in, a matplotlib Figure out, in the house style of ``nntopo.plotting``: kernels in the
diverging weight colour map centred at 0 (red excites, blue inhibits), inputs ink dark on white.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nntopo.analysis.plots.clusters import neuron_weight_images
from nntopo.analysis.ranking import cluster_sizes
from nntopo.plotting import (
    cluster_colors,
    INPUT_CMAP,
    largest_clusters,
    MAX_CLUSTERS,
    new_figure,
    no_data,
    panel_grid,
    symmetric_scale,
    TileRows,
    WEIGHT_CMAP,
)

MAX_COLS = 8  # filters per row of the filters figure
TITLE_SIZE = 9.5


def wrapped(text: str, width_in: float, fontsize: float) -> str:
    """``text`` with each line wrapped to fit ``width_in`` inches of ``fontsize``-point text (a
    figure narrower than its title would cut it off)."""
    import textwrap

    chars = max(20, int(width_in * 72 / (0.56 * fontsize)))
    lines = [textwrap.wrap(line, chars, break_on_hyphens=False) or [""] for line in text.split("\n")]
    return "\n".join(part for parts in lines for part in parts)


def filters(kernels: np.ndarray, title: str = "", max_cols: int = MAX_COLS) -> Figure:
    """Every first-layer kernel, (C, 1, kh, kw) or (C, kh, kw), as a kh x kw image titled with its
    channel number, on one symmetric colour scale (so weak filters look weak)."""
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim == 4:
        if kernels.shape[1] != 1:
            raise ValueError(f"the first layer reads {kernels.shape[1]} input channels; only the kernels of "
                             "grayscale images (1 channel) are drawn")
        kernels = kernels[:, 0]
    if kernels.ndim != 3:
        raise ValueError(f"expected kernels of shape (C, 1, kh, kw) or (C, kh, kw), got {kernels.shape}")
    n, kh, kw = kernels.shape
    rows, cols = panel_grid(max(n, 1), max_cols)
    tile = 0.95  # inches per kernel, whatever its size
    width = max(cols * tile * max(kw / kh, 1.0) + 1.3, 5.5)
    heading = wrapped(f"{title + ': ' if title else ''}the {n} first-layer filters, {kh}×{kw} kernels\n"
                      "red excites, blue inhibits; one colour scale for all (batch normalisation, if any, folded in)",
                      width, 10)
    fig = new_figure(width, rows * (tile + 0.2) + 0.5 + 0.17 * (heading.count("\n") + 1))
    fig.suptitle(heading, fontsize=10)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    if n == 0:
        no_data(axes[0], "no filters")
        return fig
    scale = symmetric_scale(kernels)
    image = None
    for channel, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if channel >= n:
            ax.set_visible(False)
            continue
        image = ax.imshow(kernels[channel], cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale, interpolation="nearest")
        ax.set_title(f"ch {channel}", fontsize=9, pad=2)
    bar = fig.colorbar(image, ax=list(axes[:n]), shrink=0.8, pad=0.02, aspect=25 * max(rows, 1) ** 0.5)
    bar.set_label("weight", fontsize=9)
    return fig


def kernel_images(ranking: pd.DataFrame, kernels: np.ndarray, kernel_shape, top_k: int = 5, title: str = "",
                  max_clusters: int = MAX_CLUSTERS) -> Figure:
    """``neuron_weight_images`` for a CNN's first layer: each cluster's top channels'
    kernels (C, kh*kw, or C x 1 x kh x kw) drawn in the kernel's shape, and their combination."""
    kh, kw = (int(s) for s in kernel_shape)
    kernels = np.asarray(kernels, dtype=np.float64).reshape(len(kernels), -1)
    fig = neuron_weight_images(ranking, kernels, (kh, kw), top_k=top_k, title=title, max_clusters=max_clusters)
    _, note = largest_clusters(cluster_sizes(ranking), max_clusters)
    fig.suptitle(f"{title + ': ' if title else ''}{kh}×{kw} kernels of each cluster's top {top_k} channels{note}\n"
                 "title: channel (share of the cluster's points with it in their top-k); red excites, blue inhibits; "
                 "right: Σ fraction × kernel", fontsize=9.5, y=1 - 0.06 / fig.get_size_inches()[1], va="top")
    return fig


def _overlay(values: np.ndarray, scale: float) -> np.ndarray:
    """RGBA of a feature map over its input: red where it is positive (blue negative), as opaque as
    |value| / scale (at most 0.85, so the input shows through)."""
    share = np.clip(np.asarray(values, dtype=np.float64) / scale, -1, 1)
    rgba = colormaps[WEIGHT_CMAP](Normalize(-1, 1)(np.sign(share) * 0.85))
    rgba[..., 3] = 0.85 * np.abs(share)
    return rgba


def channel_responses(images: np.ndarray, image_shape, found, top_k: int = 5, title: str = "") -> Figure:
    """What each cluster's top channels respond to (a row per cluster, ``found`` a
    ``channels.ClusterChannels``): per channel, rank 1 left, its feature map over the cluster's
    sample inputs (the input faded, the map over it in red, as opaque as the value over the channel's
    peak; a box on the receptive field of the map's largest value; titled with the image's test index
    and its recorded value), then the mean input around the map's largest value in the test images
    that activate the channel most, its receptive field boxed (``ChannelTop.mean_context``).
    ``images``: the test images, (N, H*W) or (N, H, W), of which the samples are drawn."""
    h, w = (int(s) for s in image_shape)
    images = np.asarray(images).reshape(len(images), h, w)  # a view: only the samples are read
    field, shown = found.field, found.clusters
    per_cluster = max((len(s) for s in found.samples.values()), default=1) or 1
    n_images = max((len(t.images) for t in found.tops.values()), default=0)
    margin = max((t.margin for t in found.tops.values()), default=0)
    gap, slot_gap, group_gap = 0.06 * w, 0.22 * w, 0.42 * w
    group_w = (per_cluster + 1) * w + (per_cluster - 1) * gap + slot_gap
    n_groups = max(min(top_k, max((len(ch) for ch, _ in found.channels.values()), default=1)), 1)
    row_px = n_groups * group_w + (n_groups - 1) * group_gap
    tile_in, left_in, right_in = 0.8, 1.2, 0.2
    reduction = found.reduction
    heading = wrapped(
        f"{title + ': ' if title else ''}what each cluster's top {top_k} channels respond to{found.note}\n"
        f"per channel: {per_cluster} sample inputs of the cluster with the channel's feature map over them (red, "
        f"opaque at the channel's peak; box: the receptive field of its largest value; title: test image and the "
        f"recorded spatial {reduction})\nthen the mean input under the map's largest value in the {n_images} test "
        f"images that activate the channel most: its receptive field ({field.describe()}) boxed, with {margin} px "
        "around it",
        left_in + row_px * tile_in / w + right_in, TITLE_SIZE)
    tiles = TileRows(max(len(shown), 1), row_px, (h, w), tile_in=tile_in, left_in=left_in, right_in=right_in,
                     head_in=0.2 + 0.17 * (heading.count("\n") + 1), title_in=0.62)
    fig = tiles.fig
    fig.suptitle(heading, fontsize=TITLE_SIZE, y=1 - 0.06 / tiles.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no clusters")
        return fig
    colors = cluster_colors(max(found.sizes, default=-1) + 1)
    sampled = np.concatenate([np.zeros(0, np.int64), *found.samples.values()])
    ink = max(1.0, float(images[sampled].max(initial=0)))
    line_px = 0.14 / tiles.scale  # one line of 7.5-point text, in pixels of the tiles
    for r, c in enumerate(shown):
        ax = tiles.row(r)
        channels, fractions = found.channels[c]
        points = found.samples[c]
        for g, (channel, fraction) in enumerate(zip(channels[:n_groups], fractions)):
            x0 = g * (group_w + group_gap)
            best = found.tops[int(channel)]
            scale = max(best.peak, max((float(np.abs(found.maps[int(p)][channel]).max()) for p in points), default=0))
            y_head = -0.03 * h - 2.15 * line_px
            ax.text(x0 + group_w / 2, y_head, f"channel {channel} ({fraction:.0%} of the cluster)", ha="center",
                    va="bottom", fontsize=8.5, fontweight="bold", clip_on=False)
            ax.plot([x0, x0 + group_w], [y_head + 0.1 * line_px] * 2, color="0.45", lw=0.8, clip_on=False)
            for s, p in enumerate(points):
                x = x0 + s * (w + gap)
                tiles.tile(ax, images[p], x, INPUT_CMAP, 0, 2.2 * ink)  # faded: the map shows over the ink
                values = found.maps[int(p)][channel]
                mh, mw = values.shape
                offset = (field.size - field.jump) / 2
                ax.imshow(_overlay(values, scale if scale > 0 else 1.0), interpolation="nearest", aspect="auto",
                          extent=(x + offset, x + offset + mw * field.jump, offset + mh * field.jump, offset))
                row, col = np.unravel_index(int(np.argmax(values)), values.shape)
                top_px, left_px = field.window(row, col)
                if values.max() > 0:
                    ax.add_patch(Rectangle((x + left_px, top_px), field.size, field.size, fill=False,
                                           edgecolor="#00b050", linewidth=1.3))
                value = float(values.max() if reduction == "max" else values.mean())
                ax.text(x + w / 2, -0.03 * h, f"#{p}\n{reduction} {value:.2f}", ha="center", va="bottom",
                        fontsize=7, clip_on=False)
            x = x0 + per_cluster * (w + gap) - gap + slot_gap
            if best.peak > 0:  # the mean patch with its context, the receptive field boxed at its centre
                context = best.mean_context
                ax.imshow(context, cmap=INPUT_CMAP, vmin=0, vmax=max(ink, float(context.max())),
                          interpolation="nearest", aspect="auto", extent=(x, x + w, h, 0))
                side = len(context)
                ax.add_patch(Rectangle((x + best.margin * w / side, best.margin * h / side), field.size * w / side,
                                       field.size * h / side, fill=False, edgecolor="#00b050", linewidth=1.3))
                caption = f"mean of top {len(best.images)}\nbox: {field.size}×{field.size} field"
            else:
                caption = "never active\non the test set"
            ax.add_patch(Rectangle((x, 0), w, h, fill=False, edgecolor="0.35", linewidth=0.6, clip_on=False))
            ax.text(x + w / 2, -0.03 * h, caption, ha="center", va="bottom", fontsize=7, clip_on=False)
        tiles.row_label(ax, c, found.sizes.get(c), colors)
    return fig
