"""Figures of a CNN's channels: its first layer's filters, the kernels of a cluster's top channels, and
what a cluster's top channels respond to (``nntopo.analysis.channels`` computes it).

Arrays in, a matplotlib Figure out, in the house style of ``nntopo.plotting``: grey kernels in the
diverging weight colour map centred at 0 (red excites, blue inhibits), colour ones as RGB with 0 mid
grey, other channel counts as a row of greys; grey inputs ink dark on white, colour ones as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nntopo.analysis.plots.clusters import neuron_weight_images, signed_key
from nntopo.plotting import (
    as_input_shape,
    channel_gap,
    channels_last,
    cluster_colors,
    colour_key,
    display_images,
    INPUT_CMAP,
    MAX_CLUSTERS,
    new_figure,
    no_data,
    panel_grid,
    picture,
    symmetric_scale,
    tile_size,
    TileRows,
    WEIGHT_CMAP,
    wrapped,
)

MAX_COLS = 8  # filters per row of the filters figure
TITLE_SIZE = 9.5


def filters(kernels: np.ndarray, title: str = "", max_cols: int = MAX_COLS) -> Figure:
    """Every first-layer kernel, (C, C_in, kh, kw) or (C, kh, kw) of one input channel, as an image
    titled with its channel number, on one symmetric colour scale (so weak filters look weak): grey in
    the diverging colour map, colour (C_in = 3) as RGB, other C_in as a row of greys."""
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim == 3:
        kernels = kernels[:, None]
    if kernels.ndim != 4:
        raise ValueError(f"expected kernels of shape (C, C_in, kh, kw) or (C, kh, kw), got {kernels.shape}")
    n, c_in, kh, kw = kernels.shape
    shape = (c_in, kh, kw)
    rows, cols = panel_grid(max(n, 1), max_cols)
    tile = 0.95  # inches per kernel, whatever its size
    tile_h, tile_w = tile_size(shape)
    width = max(cols * tile * max(tile_w / tile_h, 1.0) + 1.3, 5.5)
    size = f"{kh}×{kw}" if c_in == 1 else f"{c_in}×{kh}×{kw} ({c_in} input channels)"
    key = signed_key(shape, "for all") if c_in == 3 else f"{signed_key(shape, '')}; one colour scale for all"
    heading = wrapped(f"{title + ': ' if title else ''}the {n} first-layer filters, {size} kernels\n"
                      f"{key} (batch normalisation, if any, folded in)", width, 10)
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
        array, style = picture(channels_last(kernels[channel].ravel(), shape), WEIGHT_CMAP, -scale, scale)
        image = ax.imshow(array, interpolation="nearest", **style)
        ax.set_title(f"ch {channel}", fontsize=9, pad=2)
    key = colour_key(-scale, scale) if c_in == 3 else image
    bar = fig.colorbar(key, ax=list(axes[:n]), shrink=0.8, pad=0.02, aspect=25 * max(rows, 1) ** 0.5)
    bar.set_label("weight" if c_in != 3 else "weight (per channel)", fontsize=9)
    return fig


def kernel_images(ranking: pd.DataFrame, kernels: np.ndarray, kernel_shape, top_k: int = 5, title: str = "",
                  max_clusters: int = MAX_CLUSTERS) -> Figure:
    """``neuron_weight_images`` for a CNN's first layer: each cluster's top channels'
    kernels (C, C_in*kh*kw, or C x C_in x kh x kw) drawn in the kernel's shape ``kernel_shape``,
    (C_in, kh, kw) or (kh, kw) of one input channel, and their combination."""
    shape = as_input_shape(kernel_shape)
    c_in, kh, kw = shape
    kernels = np.asarray(kernels, dtype=np.float64).reshape(len(kernels), -1)
    size = f"{kh}×{kw}" if c_in == 1 else f"{c_in}×{kh}×{kw}"
    return neuron_weight_images(ranking, kernels, shape, top_k=top_k, title=title, max_clusters=max_clusters,
                                units=(f"{size} kernels", "channel", "kernel"))


def _overlay(values: np.ndarray, scale: float) -> np.ndarray:
    """RGBA of a feature map over its input: red where it is positive (blue negative), as opaque as
    |value| / scale (at most 0.85, so the input shows through)."""
    share = np.clip(np.asarray(values, dtype=np.float64) / scale, -1, 1)
    rgba = colormaps[WEIGHT_CMAP](Normalize(-1, 1)(np.sign(share) * 0.85))
    rgba[..., 3] = 0.85 * np.abs(share)
    return rgba


def channel_responses(images: np.ndarray, image_shape, found, top_k: int = 5, title: str = "",
                      scaling: dict | None = None, index=None, split: str = "test") -> Figure:
    """What each cluster's top channels respond to (a row per cluster, ``found`` a
    ``channels.ClusterChannels``): per channel, rank 1 left, its feature map over the cluster's
    sample inputs (the input faded, the map over it in red, as opaque as the value over the channel's
    peak; a box on the receptive field of the map's largest value; titled with the image's index and
    its recorded value), then the mean input around the map's largest value in the analysed images
    that activate the channel most, its receptive field boxed (``ChannelTop.mean_context``).
    ``images``: the analysed images as the network reads them, (N, C*H*W), of which the samples are
    drawn; ``image_shape`` one image's (channels, height, width) or (height, width); ``scaling`` the
    dataset's (undone to draw them, ``plotting.display_images``); ``index`` each image's index in its
    ``split``, which the titles name (0..N-1 by default). Colour images are drawn as RGB; other channel
    counts as a row of greys, the map over each."""
    shape = as_input_shape(image_shape)
    n_in, ih, iw = shape
    h, w = tile_size(shape)
    images = np.asarray(images).reshape(len(images), -1)  # a view: only the samples are read
    index = np.arange(len(images)) if index is None else np.asarray(index)
    field, shown = found.field, found.clusters
    per_cluster = max((len(s) for s in found.samples.values()), default=1) or 1
    n_images = max((len(t.images) for t in found.tops.values()), default=0)
    margin = max((t.margin for t in found.tops.values()), default=0)
    gap, slot_gap, group_gap = 0.06 * iw, 0.22 * iw, 0.42 * iw
    group_w = (per_cluster + 1) * w + (per_cluster - 1) * gap + slot_gap
    n_groups = max(min(top_k, max((len(ch) for ch, _ in found.channels.values()), default=1)), 1)
    row_px = n_groups * group_w + (n_groups - 1) * group_gap
    tile_in, left_in, right_in = 0.8, 1.2, 0.2
    reduction = found.reduction
    # One panel per channel drawn as a grey image side by side; one for a grey or colour image.
    panels = [0] if n_in in (1, 3) else [k * (iw + channel_gap(iw)) for k in range(n_in)]
    heading = wrapped(
        f"{title + ': ' if title else ''}what each cluster's top {top_k} channels respond to{found.note}\n"
        f"per channel: {per_cluster} sample inputs of the cluster with the channel's feature map over them (red, "
        f"opaque at the channel's peak; box: the receptive field of its largest value; title: {split} image and the "
        f"recorded spatial {reduction})\nthen the mean input under the map's largest value in the {n_images} {split} "
        f"images that activate the channel most: its receptive field ({field.describe()}) boxed, with {margin} px "
        "around it",
        left_in + row_px * tile_in / iw + right_in, TITLE_SIZE)
    tiles = TileRows(max(len(shown), 1), row_px, shape, tile_in=tile_in, left_in=left_in, right_in=right_in,
                     head_in=0.2 + 0.17 * (heading.count("\n") + 1), title_in=0.62)
    fig = tiles.fig
    fig.suptitle(heading, fontsize=TITLE_SIZE, y=1 - 0.06 / tiles.height, va="top")
    if not shown:
        no_data(fig.add_subplot(), "no clusters")
        return fig
    colors = cluster_colors(max(found.sizes, default=-1) + 1)
    sampled = np.concatenate([np.zeros(0, np.int64), *found.samples.values()])
    inputs = display_images(images[sampled], shape, scaling)
    seen = dict(zip(sampled.tolist(), inputs))
    ink = max(1.0, float(inputs.max(initial=0)))
    line_px = 0.14 / tiles.scale  # one line of 7.5-point text, in pixels of the tiles
    side_px = min(ih, iw)  # the mean context is square: centred in its slot, not stretched
    dx, dy = (iw - side_px) / 2, (ih - side_px) / 2  # 0 for square images
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
                # faded: the map shows over the ink
                tiles.tile(ax, seen[int(p)], x, INPUT_CMAP, 0, ink, fade=2.2)
                values = found.maps[int(p)][channel]
                mh, mw = values.shape
                offset = (field.size - field.jump) / 2
                row, col = np.unravel_index(int(np.argmax(values)), values.shape)
                top_px, left_px = field.window(row, col)
                for panel in panels:
                    xp = x + panel
                    ax.imshow(_overlay(values, scale if scale > 0 else 1.0), interpolation="nearest", aspect="auto",
                              extent=(xp + offset, xp + offset + mw * field.jump, offset + mh * field.jump, offset))
                    if values.max() > 0:
                        ax.add_patch(Rectangle((xp + left_px, top_px), field.size, field.size, fill=False,
                                               edgecolor="#00b050", linewidth=1.3))
                value = float(values.max() if reduction == "max" else values.mean())
                ax.text(x + w / 2, -0.03 * h, f"#{index[p]}\n{reduction} {value:.2f}", ha="center", va="bottom",
                        fontsize=7, clip_on=False)
            x = x0 + per_cluster * (w + gap) - gap + slot_gap
            if best.peak > 0:  # the mean patch with its context, the receptive field boxed at its centre
                side = best.mean_context.shape[-1]
                context = display_images(best.mean_context.reshape(1, -1), (n_in, side, side), scaling)[0]
                vmax = max(ink, float(context.max()))
                for k, panel in enumerate(panels):
                    array, style = picture(context if len(panels) == 1 else context[..., k:k + 1], INPUT_CMAP, 0, vmax)
                    ax.imshow(array, interpolation="nearest", aspect="auto",
                              extent=(x + panel + dx, x + panel + dx + side_px, dy + side_px, dy), **style)
                    ax.add_patch(Rectangle((x + panel + dx + best.margin * side_px / side,
                                            dy + best.margin * side_px / side),
                                           field.size * side_px / side, field.size * side_px / side, fill=False,
                                           edgecolor="#00b050", linewidth=1.3))
                    if dx or dy:  # frame the square patch, not the wider (or taller) slot it sits in
                        ax.add_patch(Rectangle((x + panel + dx, dy), side_px, side_px, fill=False, edgecolor="0.35",
                                               linewidth=0.6, clip_on=False))
                caption = f"mean of top {len(best.images)}\nbox: {field.size}×{field.size} field"
            else:
                caption = f"never active\non the {split} set"
            if not (dx or dy) or best.peak <= 0:
                ax.add_patch(Rectangle((x, 0), w, h, fill=False, edgecolor="0.35", linewidth=0.6, clip_on=False))
            ax.text(x + w / 2, -0.03 * h, caption, ha="center", va="bottom", fontsize=7, clip_on=False)
        tiles.row_label(ax, c, found.sizes.get(c), colors)
    return fig
