"""What a convolutional layer's channels respond to: receptive fields, feature maps, and the test
images that activate a channel most.

A CNN's convolutions (``nntopo.network.model.Network``) have a square kernel ``k``, stride 1 and no
padding, and each is followed by max pooling of size = stride ``p`` (1: none). Position ``i`` of a
map of convolutional layer l sees input rows ``i * j_l .. i * j_l + r_l - 1`` (columns likewise):

- layer 1 reads the image: ``r_1 = k``, ``j_1 = 1``;
- pooling layer l's maps, one pooled position covers p positions ``j_l`` apart:
  ``r_l + (p - 1) j_l`` pixels, pooled positions ``p j_l`` apart;
- layer l + 1's kernel covers k pooled positions:
  ``r_{l+1} = r_l + (p - 1) j_l + (k - 1) p j_l``, ``j_{l+1} = p j_l``.

Nothing is offset (no padding), and the remainder pooling drops never feeds a later position, so
every map position's window lies inside the image.

A channel's activation is recorded per image reduced over space (activations.h5's attribute
``spatial_reduction``: the maximum, by default, or the mean); the full maps are recomputed here
from the trained network (``nntopo.network.model.load``) and the analysed images, in chunks, and checked
against the recorded values. Arrays and the network in, arrays out: no file is read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# How many of the analysed images that activate a channel most make its mean patch and mean image.
TOP_IMAGES = 100
# Recomputed reductions must match the recorded ones within this share of the layer's largest value:
# the same model gives differences of float32 rounding (or, recorded on a GPU whose convolutions use
# TF32, of about 1e-3), another model's differences of order 1.
RTOL = 1e-2
CHUNK = 1000  # images per forward pass (a layer's maps of 1,000 MNIST images: ~40 MB for 16 channels)


class MapMismatch(ValueError):
    """Recomputed feature maps that do not reduce to the recorded channel values."""


@dataclass(frozen=True)
class ReceptiveField:
    """The input square one position of a convolutional layer's map sees."""

    size: int  # its side, in input pixels
    jump: int  # input pixels between neighbouring positions of the map

    def window(self, row, col):
        """The input pixel at the top left of what map position (row, col) sees (arrays work too)."""
        return np.asarray(row) * self.jump, np.asarray(col) * self.jump

    def describe(self) -> str:
        return f"{self.size}×{self.size} px" + (f", positions {self.jump} px apart" if self.jump > 1 else "")


def receptive_fields(convolution: dict) -> list[ReceptiveField]:
    """The receptive field of every convolutional layer, from the training settings' ``convolution``
    ({channels, kernel, pool}), in depth order."""
    kernel, pool = int(convolution["kernel"]), int(convolution["pool"])
    if kernel < 1 or pool < 1:
        raise ValueError(f"kernel {kernel} and pool {pool} must be at least 1")
    fields, size, jump = [], kernel, 1
    for _ in convolution["channels"]:
        fields.append(ReceptiveField(size, jump))
        size, jump = size + (pool - 1) * jump + (kernel - 1) * pool * jump, pool * jump
    return fields


def layer_number(layer: str) -> int:
    """hidden_3 -> 3."""
    match = re.fullmatch(r"hidden_([1-9][0-9]*)", layer)
    if match is None:
        raise ValueError(f"{layer!r} is not a hidden layer (hidden_1, hidden_2, ...)")
    return int(match[1])


def receptive_field(convolution: dict, layer: str) -> ReceptiveField:
    """The receptive field of convolutional layer ``layer`` (hidden_1 is the first)."""
    fields = receptive_fields(convolution)
    number = layer_number(layer)
    if number > len(fields):
        raise ValueError(f"{layer} is not convolutional: the network has {len(fields)} convolutional layer(s)")
    return fields[number - 1]


def feature_maps(model, images, layer: str, channels=None, chunk: int = CHUNK) -> np.ndarray:
    """The maps of convolutional layer ``layer`` for flattened images (N, C_in*H*W): (N, C, h, w), after
    the activation function and before pooling, as the network computes them in eval mode; only the
    channels ``channels`` (indices, in that order) when given."""
    import torch

    if not model.is_convolution(layer):
        raise ValueError(f"{layer} is not a convolutional layer of the network")
    index = [name for name in model.layers].index(layer)  # hidden_1 .. hidden_L come first, in order
    dtype = next(model.parameters()).dtype
    images = np.asarray(images)
    x = torch.from_numpy(np.ascontiguousarray(images.reshape(len(images), int(np.prod(images.shape[1:]))))).to(dtype)
    wanted = None if channels is None else torch.as_tensor(np.asarray(channels, dtype=np.int64))
    parts = []
    model.eval()
    with torch.no_grad():
        for part in (x.split(chunk) if len(x) else [x.new_zeros((1, x.shape[1]))]):
            maps = model.forward_all(part)[0][index]
            parts.append((maps if wanted is None else maps[:, wanted]).cpu().numpy())
    maps = np.concatenate(parts)
    return maps if len(x) else maps[:0]


def reduce(maps: np.ndarray, reduction: str) -> np.ndarray:
    """(N, C, h, w) maps reduced over space as the training stage records them: (N, C)."""
    import torch

    from nntopo.network.train import reduce_maps

    return reduce_maps(torch.from_numpy(np.ascontiguousarray(maps)), reduction).numpy()


def check_recorded(maps: np.ndarray, recorded: np.ndarray, reduction: str, rtol: float = RTOL) -> None:
    """Refuse maps whose spatial ``reduction`` is not the recorded channel values (N, C) of the same
    images: the network and the activations are not of the same model."""
    values = reduce(maps, reduction)
    recorded = np.asarray(recorded)
    if values.shape != recorded.shape:
        raise MapMismatch(f"the recomputed maps give values of shape {values.shape}, the recorded ones "
                          f"{recorded.shape}")
    error = float(np.max(np.abs(values.astype(np.float64) - recorded), initial=0.0))
    tolerance = rtol * max(1.0, float(np.max(np.abs(recorded), initial=0.0)))
    if not error <= tolerance:
        raise MapMismatch(f"the spatial {reduction} of the recomputed feature maps differs from the recorded channel "
                          f"values by up to {error:.3g} (> {tolerance:.3g}): files of different models?")


def top_images(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest values, largest first (ties: the lower index first)."""
    return np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[:n]


def peak_positions(maps: np.ndarray) -> np.ndarray:
    """(N, 2) row and column of each (h, w) map's largest value (ties: the first in row-major order)."""
    maps = np.asarray(maps)
    flat = maps.reshape(len(maps), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, maps.shape[1:]), axis=1).astype(np.int64)


def crop(image: np.ndarray, top: int, left: int, size: int, fill: float = 0.0) -> np.ndarray:
    """The ``size`` x ``size`` square of an image (H, W) or (C, H, W), every channel, whose top left
    pixel is (top, left): (size, size) or (C, size, size); pixels outside the image are ``fill`` (0:
    the blank background of images in [0, 1]). With no padding every receptive field lies inside the
    image, so nothing is filled there."""
    image = np.asarray(image)
    out = np.full((*image.shape[:-2], size, size), fill, dtype=np.float64)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size, image.shape[-2]), min(left + size, image.shape[-1])
    if r0 < r1 and c0 < c1:
        out[..., r0 - top:r1 - top, c0 - left:c1 - left] = image[..., r0:r1, c0:c1]
    return out


@dataclass(frozen=True)
class ChannelTop:
    """The analysed images that activate one channel most, and what its maps' maxima see in them."""

    channel: int
    field: ReceptiveField
    images: np.ndarray  # (n,) indices of the analysed images, the most active first
    values: np.ndarray  # (n,) their recorded values of the channel
    positions: np.ndarray  # (n, 2) row, column of the largest value of each image's map
    # The means, every input channel (C_in: 1 for grey images), as the network reads the inputs:
    mean_patch: np.ndarray  # (C_in, size, size): the mean input square those positions see
    mean_context: np.ndarray  # (C_in, size + 2 margin, size + 2 margin): the same with ``margin`` pixels around
    margin: int
    mean_image: np.ndarray  # (C_in, H, W): the mean of the whole images
    peak: float  # the largest |value| in these images' maps of the channel (0: the channel never responds)


def context_margin(field: ReceptiveField) -> int:
    """Pixels of context shown around a receptive field: half its side, at least 2."""
    return max(2, field.size // 2)


def top_activating(model, images: np.ndarray, image_shape, recorded: np.ndarray, layer: str, channels,
                   field: ReceptiveField, n: int = TOP_IMAGES, reduction: str = "max", rtol: float = RTOL,
                   margin: int | None = None) -> dict[int, ChannelTop]:
    """For each of ``channels`` of convolutional layer ``layer``: the ``n`` analysed images whose
    recorded value of the channel (``recorded``, (N, C), one row per image of ``images``, (N, C_in*H*W)
    of ``image_shape`` (C_in, H, W), or (H, W) of grey ones) is largest, the position of the largest
    value of the channel's recomputed map in each, the mean of the receptive-field squares at those
    positions (and of the squares ``margin`` pixels larger on every side, ``context_margin`` by
    default, padded with 0 beyond the image's border) and the mean of the images, every input channel.
    Raises ``MapMismatch`` when the recomputed maps do not reduce to the recorded values."""
    from nntopo.plotting import as_input_shape

    margin = context_margin(field) if margin is None else int(margin)
    c, h, w = as_input_shape(image_shape)
    images = np.asarray(images)
    recorded = np.asarray(recorded)
    if len(images) != len(recorded):
        raise MapMismatch(f"{len(images)} analysed images but {len(recorded)} recorded rows of {layer}")
    pictures = images.reshape(len(images), c, h, w)
    tops = {}
    for channel in (int(c) for c in channels):
        chosen = top_images(recorded[:, channel], n)
        maps = feature_maps(model, images[chosen], layer, [channel])
        check_recorded(maps, recorded[chosen][:, [channel]], reduction, rtol)
        positions = peak_positions(maps[:, 0])
        rows, cols = field.window(positions[:, 0], positions[:, 1])
        patches = [crop(pictures[i], r, c, field.size) for i, r, c in zip(chosen, rows, cols)]
        side = field.size + 2 * margin
        contexts = [crop(pictures[i], r - margin, c - margin, side) for i, r, c in zip(chosen, rows, cols)]
        tops[channel] = ChannelTop(
            channel, field, chosen, recorded[chosen, channel], positions,
            np.mean(patches, axis=0) if patches else np.zeros((c, field.size, field.size)),
            np.mean(contexts, axis=0) if contexts else np.zeros((c, side, side)), margin,
            pictures[chosen].mean(axis=0, dtype=np.float64) if len(chosen) else np.zeros((c, h, w)),
            float(np.max(np.abs(maps), initial=0.0)))
    return tops


@dataclass(frozen=True)
class ClusterChannels:
    """What the channels figure draws for a layer's clusters: per shown cluster (the largest), its
    top channels with their fractions and its sample points; each sample's maps of the layer; each
    shown channel's top images."""

    clusters: list[int]
    note: str  # for the title, when clusters are left out
    sizes: dict[int, int]
    channels: dict[int, tuple[np.ndarray, np.ndarray]]  # cluster -> (channels, fractions), rank 1 first
    samples: dict[int, np.ndarray]  # cluster -> indices of the analysed images
    maps: dict[int, np.ndarray]  # analysed image index -> (C, h, w) maps of the layer
    tops: dict[int, ChannelTop]
    field: ReceptiveField
    reduction: str


def cluster_channels(model, images: np.ndarray, image_shape, recorded: np.ndarray, labels: np.ndarray, ranking,
                     layer: str, field: ReceptiveField, *, top_k: int = 5, per_cluster: int = 3, seed: int = 0,
                     max_clusters: int = 20, n: int = TOP_IMAGES, reduction: str = "max",
                     rtol: float = RTOL) -> ClusterChannels:
    """Everything the channels figure of ``layer``'s ranking (rows of that layer alone) needs: the
    clusters and samples are those of the other per-cluster figures (``plotting.largest_clusters``,
    ``ranking.top_neurons_with_fractions``, ``ranking.sample_points`` with ``seed``)."""
    from nntopo.analysis.ranking import cluster_sizes, sample_points, top_neurons_with_fractions
    from nntopo.plotting import largest_clusters

    sizes = cluster_sizes(ranking)
    shown, note = largest_clusters(sizes, max_clusters)
    tops = top_neurons_with_fractions(ranking, top_k)
    ranked = {c: tops[c] for c in shown}
    samples = sample_points(labels, shown, per_cluster, seed)
    wanted = sorted({int(ch) for chans, _ in ranked.values() for ch in chans})
    tops = top_activating(model, images, image_shape, recorded, layer, wanted, field, n, reduction, rtol)
    points = np.unique(np.concatenate([np.zeros(0, np.int64), *samples.values()])).astype(np.int64)
    maps = feature_maps(model, np.asarray(images)[points], layer)
    check_recorded(maps, np.asarray(recorded)[points], reduction, rtol)
    return ClusterChannels(shown, note, {int(c): int(s) for c, s in sizes.items()}, ranked, samples,
                           dict(zip(points.tolist(), maps)), tops, field, reduction)
