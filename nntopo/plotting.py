"""The house style of every figure: colours, saving, empty panels, grids and image tiles.

Each stage draws its own figures (``network/plots.py``, ``clustering/plots.py``, ``analysis/plots/``):
plain arrays and tables in, a matplotlib Figure out; ``save`` writes it.

Every function builds its figure with the object API (``matplotlib.figure.Figure``), never through
pyplot's global state, so figures can be drawn in parallel worker processes with the Agg renderer.
The functions read no files: stages read the HDF5 and CSV outputs and pass the arrays in.

Conventions shared by all figures:

- a cluster has one colour everywhere, ``cluster_colors(n)[c]``; points and nodes in no cluster
  (label -1) are drawn in ``NOISE_COLOR`` (light grey), and the figure says so;
- true classes (digits) use ``class_colors``, a palette chosen not to be confused with the clusters';
- a regressor's target (a point's, or the mean over a cluster's or node's points) runs through
  ``TARGET_CMAP`` and its squared error through ``ERROR_CMAP``, each with a colour bar
  (``value_norm``, ``value_colors``, ``value_key``); its level sets stand in for classes, coloured by
  where they sit on the target's colour map (``level_colors``), so level sets and targets read alike;
- figures with a panel or a row per cluster show at most ``MAX_CLUSTERS`` clusters, the largest,
  and say so in their title;
- an input is flattened channel, then row, then column (C x H x W); an image tile draws one such
  array (``picture``, ``TileRows``): grey (C = 1) in a colour map, colour (C = 3) as RGB, any other number of
  channels as a row of C grey images;
- input images are drawn as the user sees them, the dataset's scaling undone (``display_images``),
  grey ones ink dark on white;
- weight images (and inputs seen through weights) are signed: grey ones in a diverging colour map
  centred at 0 (red positive, blue negative); colour ones as RGB with each channel at
  0.5 + w / (2 max|w|), so 0 is mid grey (``signed_colours``).

Inputs named here:

- ranking: DataFrame ``cluster, neuron, count, fraction, rank``, one row per (cluster, neuron) with a
  nonzero count: how many of the cluster's points have the neuron among their top-k activated
  hidden neurons; fraction = count / cluster size; rank 1 = the most frequent.
- summary: DataFrame, one row per cluster, ``cluster, size, accuracy, majority_label,
  majority_share, count_0 .. count_{C-1}`` (points of each true class); a regressor's has ``mse,
  relative_l2, target_mean, target_std`` in place of ``accuracy`` and counts points per level set.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# matplotlib loads when a colour or a figure is asked for, not on import: the training and clustering
# jobs read this module's constants and sort key and draw nothing (importing matplotlib costs ~0.5 s).
if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


DPI = 120


MAX_CLUSTERS = 20  # per-cluster grids show at most this many clusters (the largest)


NEAR_ZERO = 1e-3  # |w| below this is a near-zero weight: the training's sparsity metric and its figures


NOISE_COLOR = (0.72, 0.72, 0.72, 1.0)  # points or nodes in no cluster (label -1)


BACKGROUND_COLOR = (0.86, 0.86, 0.86, 1.0)  # the other points behind a highlighted cluster


WEIGHT_CMAP = "RdBu_r"  # diverging, centred at 0: red excites, blue inhibits


INPUT_CMAP = "gray_r"  # MNIST-style: ink dark on white


TARGET_CMAP = "viridis"  # a regressor's target: perceptually even, dark low, yellow high


ERROR_CMAP = "magma_r"  # a regressor's squared error: pale where small, dark where large


GAP_COLOR = (0.45, 0.45, 0.45, 1.0)  # between the channels of an image drawn as a row of greys


_TAB20_ORDER = [0, 2, 4, 6, 8, 10, 12, 16, 18, 1, 3, 5, 7, 9, 11, 13, 17, 19]


_GOLDEN = (math.sqrt(5) - 1) / 2


def cluster_colors(n_clusters: int) -> np.ndarray:
    """RGBA colour of clusters 0..n_clusters-1, shape (n, 4); the same n always gives the same colours.

    Up to 18 clusters: tab20 without its greys (tab10's colours first). Beyond: the turbo colour map,
    sampled in golden-ratio steps so that clusters with neighbouring numbers get distant hues.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

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
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    n = int(n_classes)
    if n <= 0:
        return np.zeros((0, 4))
    if n <= 12:
        return np.array([to_rgba(c) for c in colormaps["Set3"].colors[:n]])
    return colormaps["twilight"](np.arange(n) / n)


def series_colors(n: int) -> list:
    """Colours of n lines (models, architectures): tab10, then the cluster palette beyond 10."""
    from matplotlib import colormaps
    from matplotlib.colors import to_rgba

    if n <= 10:
        return [to_rgba(c) for c in colormaps["tab10"].colors[:n]]
    return list(cluster_colors(n))


def level_colors(n_levels: int) -> np.ndarray:
    """RGBA colour of level sets 0..n_levels-1 (ordered by value): ``TARGET_CMAP`` at each set's centre
    (k + 1/2) / n, so a level set looks like the targets it holds."""
    from matplotlib import colormaps

    return colormaps[TARGET_CMAP]((np.arange(int(n_levels)) + 0.5) / max(int(n_levels), 1))


def value_norm(values, low: float | None = None):
    """The colour scale of continuous ``values`` (a target, an error): their finite minimum (or ``low``)
    to maximum; a constant value gets a unit-wide scale around it."""
    from matplotlib.colors import Normalize

    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        return Normalize(0.0, 1.0)
    vmin = float(values.min()) if low is None else float(low)
    vmax = float(values.max())
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    return Normalize(vmin, vmax)


def value_colors(values, norm, cmap: str) -> np.ndarray:
    """RGBA of each value through ``cmap`` on ``norm`` (``value_norm``); NOISE_COLOR where not finite."""
    from matplotlib import colormaps

    values = np.asarray(values, dtype=np.float64)
    colors = colormaps[cmap](norm(values))
    colors[~np.isfinite(values)] = NOISE_COLOR
    return np.asarray(colors)


def value_key(fig: Figure, ax, norm, cmap: str, label: str, **where):
    """The colour bar of continuous values beside ``ax`` (or axes), labelled with what they are."""
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm, cmap), ax=ax, **{"shrink": 0.8, "pad": 0.02, **where})
    bar.set_label(label, fontsize=9)
    bar.ax.tick_params(labelsize=8)
    return bar


def target_name(levels: dict | None) -> str:
    """What a regressor's colours of the target show: the target itself (d = 1), else its projection
    on the training targets' first principal component (``task.project``, as its level sets)."""
    if levels is None or len(levels["projection"]["direction"]) == 1:
        return "target"
    return "target (projection on its first principal component)"


def label_colors(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-point RGBA from cluster labels, NOISE_COLOR for -1 (vectorised)."""
    palette = np.vstack([cluster_colors(n_clusters), np.asarray(NOISE_COLOR)[None]])
    return palette[np.where(labels >= 0, labels, n_clusters)]


def save(fig: Figure, path, dpi: int = DPI) -> Path:
    """Write ``fig`` as a PNG to ``path`` atomically (temporary sibling, then os.replace)."""
    from nntopo.store import atomic

    path = Path(path)
    # Not registered with pyplot, the figure is freed with its last reference; clearing it first
    # cost more time than drawing some figures.
    # zlib level 1 instead of 6: half the time of saving an image-heavy figure (0.6 s instead of
    # 1.3 s for the transformed inputs), for files ~4% larger.
    with atomic(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    return path


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def finish_diagram(ax, handles: list, top: float, headroom: float, birth: str, title: str) -> None:
    """A persistence diagram's legend, limits and labels: births from 0 to ``top`` (``birth`` says what
    they measure), deaths up to ``top * headroom``."""
    ax.legend(handles=handles, loc="lower right", fontsize=8.5)
    ax.set_xlim(-0.02 * top, top)
    ax.set_ylim(0, top * headroom)
    ax.set_xlabel(f"birth ({birth})", fontsize=9)
    ax.set_ylabel("death", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)


def no_data(ax, message: str = "no data") -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def largest_clusters(sizes: pd.Series, limit: int = MAX_CLUSTERS) -> tuple[list[int], str]:
    """The ``limit`` largest clusters (sorted by number) and a note for the title when some are left out."""
    sizes = sizes[sizes.index >= 0]
    if len(sizes) <= limit:
        return sorted(int(c) for c in sizes.index), ""
    kept = sizes.sort_values(ascending=False, kind="stable").index[:limit]
    return sorted(int(c) for c in kept), f" ({limit} largest of {len(sizes)} clusters shown)"


def wrapped(text: str, width_in: float, fontsize: float) -> str:
    """``text`` with each line wrapped to fit ``width_in`` inches of ``fontsize``-point text (a
    figure narrower than its title would cut it off)."""
    chars = max(20, int(width_in * 72 / (0.56 * fontsize)))
    lines = [textwrap.wrap(line, chars, break_on_hyphens=False) or [""] for line in text.split("\n")]
    return "\n".join(part for parts in lines for part in parts)


def darker(color, factor: float = 0.75):
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(color)
    return (r * factor, g * factor, b * factor, a)


def natural_sort_key(text: str) -> list:
    """Sort names with numbers by their numbers' values: "mlp100" < "mlp1024", "cube2" < "cube12"."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def panel_grid(n_panels: int, max_cols: int) -> tuple[int, int]:
    cols = min(n_panels, max_cols)
    return math.ceil(n_panels / cols), cols


def symmetric_scale(*arrays) -> float:
    peak = max((float(np.abs(a).max()) for a in arrays if np.size(a)), default=0.0)
    return peak if peak > 0 else 1.0


# --- images: inputs and first-layer weights of any shape -------------------------------------------

def as_input_shape(shape) -> tuple[int, int, int]:
    """One image input's (channels, height, width); a (height, width) is one grey channel."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"an image is (channels, height, width) or (height, width), not {list(shape)}")
    return shape


def input_shape(attrs: dict) -> tuple[int, int, int] | None:
    """One input's (channels, height, width) as a file's root attributes record it: ``input_shape``, or
    in files written before it the ``image_shape`` (height, width) of grey images; None for points."""
    from nntopo.datasets import recorded_input_shape

    shape = recorded_input_shape(attrs)
    return as_input_shape(shape) if len(shape) == 3 else None


def scaling(attrs: dict) -> dict:
    """How the inputs were scaled (a file's attribute ``scaling``, JSON); files written before it was
    recorded hold inputs in [0, 1]."""
    value = attrs.get("scaling")
    if value is None or (isinstance(value, str) and not value.strip()):
        return {"kind": "unit"}
    return json.loads(value) if isinstance(value, str) else dict(value)


def check_input_shape(n_features: int, shape) -> tuple[int, int, int]:
    """``shape`` as (channels, height, width), refused when it does not hold ``n_features`` values."""
    c, h, w = as_input_shape(shape)
    if c * h * w != n_features:
        raise ValueError(f"input shape {c}x{h}x{w} holds {c * h * w} values but the weights have {n_features} inputs")
    return c, h, w


def _per_channel(values, channels: int, name: str) -> np.ndarray:
    values = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if len(values) == 1:
        return np.repeat(values, channels)
    if len(values) != channels:
        raise ValueError(f"scaling {name} has {len(values)} values for images of {channels} channels")
    return values


def display_images(x, shape, scaling: dict | None = None) -> np.ndarray:
    """Inputs (n, C*H*W, flattened channel, then row, then column) as the user sees them, (n, H, W, C):
    the dataset's scaling undone. ``unit`` (and ``none``): the values as they are (unit inputs are
    already in [0, 1]); ``standardize`` and ``given``: x * std + mean per channel, clipped to [0, 1]."""
    c, h, w = as_input_shape(shape)
    x = np.asarray(x)
    x = x.reshape(-1, c, h, w)
    kind = (scaling or {}).get("kind", "unit")
    if kind in ("standardize", "given"):
        mean = _per_channel(scaling["mean"], c, "mean")[:, None, None]
        std = _per_channel(scaling["std"], c, "std")[:, None, None]
        x = np.clip(x.astype(np.float64) * std + mean, 0.0, 1.0)
    elif kind not in ("unit", "none"):
        raise ValueError(f"input scaling {kind!r}: expected unit, standardize, given or none")
    return x.transpose(0, 2, 3, 1)


def channels_last(values, shape) -> np.ndarray:
    """Input-shaped values (..., C*H*W) in the network's order as images (..., H, W, C)."""
    c, h, w = as_input_shape(shape)
    values = np.asarray(values)
    return np.moveaxis(values.reshape(*values.shape[:-1], c, h, w), -3, -1)


def signed_colours(image, scale: float) -> np.ndarray:
    """A signed colour image (H, W, 3) as RGB: each channel 0.5 + value / (2 scale), clipped, so 0 is mid
    grey, +scale full and -scale none of that channel."""
    return np.clip(0.5 + np.asarray(image, dtype=np.float64) / (2 * scale), 0.0, 1.0)


def channel_gap(width: int) -> int:
    """Pixels between the channels of an image drawn as a row of greys."""
    return max(1, width // 4)


def tile_size(shape) -> tuple[int, int]:
    """(height, width) in pixels of one image's tile: the image's own, or for channel counts other than
    1 and 3 its C channels side by side, ``channel_gap`` apart."""
    c, h, w = as_input_shape(shape)
    return h, w if c in (1, 3) else c * w + (c - 1) * channel_gap(w)


def picture(image, cmap, vmin: float, vmax: float, fade: float = 1.0) -> tuple[np.ndarray, dict]:
    """What imshow draws of one (H, W, C) image, and the keywords it draws it with.

    Grey (C = 1): the image in ``cmap`` from ``vmin`` to ``vmax``. Colour (C = 3): RGB; signed values
    (vmin < 0) with ``signed_colours`` at scale vmax, others from vmin (black) to vmax (full).
    Other C: the channels side by side in ``cmap``, blank between them (``tile_size``).
    ``fade`` > 1 pales the image towards white, as a background under a map: a grey image's vmax
    grows by it, a colour image's distance from white shrinks by it.
    """
    image = np.asarray(image)
    c = image.shape[-1]
    if c == 3:
        rgb = (signed_colours(image, vmax) if vmin < 0
               else np.clip((image.astype(np.float64) - vmin) / (vmax - vmin), 0.0, 1.0))
        return (1 - (1 - rgb) / fade if fade != 1 else rgb), {}
    if c == 1:
        array = image[..., 0]
    else:
        from matplotlib import colormaps

        h, w = image.shape[:2]
        gap = channel_gap(w)
        array = np.full((h, c * w + (c - 1) * gap), np.nan)
        for k in range(c):
            array[:, k * (w + gap):k * (w + gap) + w] = image[..., k]
        cmap = colormaps[cmap].with_extremes(bad=GAP_COLOR)  # the gaps, never mistaken for a value
    return array, {"cmap": cmap, "vmin": vmin, "vmax": vmax * fade if fade != 1 else vmax}


def colour_key(vmin: float, vmax: float):
    """What a colour bar beside colour tiles shows: one channel's intensity from vmin (none) to vmax (full)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    return ScalarMappable(Normalize(vmin, vmax), "gray")


def fit_halves(half: float, shape) -> tuple[float, float]:
    """Half the width and half the height of a tile of ``shape`` (``tile_size``) that fits a square of side
    2 ``half``: its longer side fills the square, so a wide or tall image keeps its proportions."""
    h, w = tile_size(shape)
    return half * w / max(h, w), half * h / max(h, w)


class TileRows:
    """A figure of rows of image tiles, laid out in inches: each row is one Axes whose data units are
    image pixels (x to the right, y down), so tiles are placed by ``extent`` and stay square-pixelled.
    ``shape`` is one image's (channels, height, width) or (height, width); ``self.h``, ``self.w`` its
    tile's size in pixels (``tile_size``); ``tile_in`` the inches one image's width takes.
    """

    def __init__(self, n_rows: int, row_width_px: float, shape, tile_in: float,
                 left_in: float, right_in: float, head_in: float, title_in: float, bottom_in: float = 0.15):
        self.shape = as_input_shape(shape)
        self.h, self.w = tile_size(self.shape)
        self.scale = tile_in / self.shape[2]  # inches per pixel
        self.left_in, self.title_in = left_in, title_in
        self.row_in = self.h * self.scale + title_in
        self.width = left_in + row_width_px * self.scale + right_in
        self.height = head_in + n_rows * self.row_in + bottom_in
        self.head_in, self.row_width_px = head_in, row_width_px
        self.fig = new_figure(self.width, self.height, constrained=False)

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
        from matplotlib.ticker import MaxNLocator

        bar.locator = MaxNLocator(3, symmetric=True)
        bar.update_ticks()
        return bar

    def image(self, values) -> np.ndarray:
        """One image as (H, W, C): a grey one from any array of H*W values; others must come as (H, W, C)
        already (``channels_last``, ``display_images``), so channels are never mistaken for rows."""
        c, h, w = self.shape
        values = np.asarray(values)
        if c == 1:
            return values.reshape(h, w, 1)
        if values.shape != (h, w, c):
            raise ValueError(f"expected an image of shape {(h, w, c)} (height, width, channels), got {values.shape}")
        return values

    def tile(self, ax, image, x_px: float, cmap, vmin, vmax, title: str = "", frame=None, fontsize: float = 7.5,
             frame_width: float = 0.6, fade: float = 1.0):
        """Draw one image (``image``, ``picture``) at data x ``x_px``; returns what a colour bar of it shows."""
        from matplotlib.patches import Rectangle

        array, style = picture(self.image(image), cmap, vmin, vmax, fade)
        im = ax.imshow(array, interpolation="nearest", extent=(x_px, x_px + self.w, self.h, 0), aspect="auto",
                       **style)
        ax.add_patch(Rectangle((x_px, 0), self.w, self.h, fill=False, edgecolor=frame if frame is not None else "0.35",
                               linewidth=frame_width, clip_on=False))
        if title:
            ax.text(x_px + self.w / 2, -0.03 * self.h, title, ha="center", va="bottom", fontsize=fontsize,
                    clip_on=False)
        return colour_key(vmin, vmax) if self.shape[0] == 3 else im

    def row_label(self, ax, cluster: int, size, colors: np.ndarray) -> None:
        """The cluster's name, size and colour at the left of its row."""
        text = f"cluster {cluster}" + (f"\nn={int(size):,}" if size is not None and np.isfinite(size) else "")
        ax.text(-0.12 * self.shape[2], self.h / 2, text, ha="right", va="center", fontsize=8.5, clip_on=False,
                bbox=dict(boxstyle="round,pad=0.3", facecolor=colors[cluster], alpha=0.45, edgecolor="none"))
