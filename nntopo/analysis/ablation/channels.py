"""Silence a convolutional layer's channels: each one's whole feature map set to zero, the network run
from there on the analysed points' inputs. The counterpart of ``recorded.Ablator`` (same interface, so
``table.ablate_clusters`` uses either): a channel's recorded activation is its map reduced over
space, from which the later layers cannot be replayed, so its maps are recomputed from ``model.pt``
and the analysed points' inputs.

Max pooling of a map of zeros is zero, so silencing channels S of the ranked layer l zeroes the same
channels of its pooled maps P, and the next layer's pre-activation loses exactly their term:

    z_S = z - W[:, S] * P[:, S]      (a convolution, or the Linear map of the flattened maps)

with z computed once; only the |S| silenced channels' term and the layers after the next one are
recomputed per set. All arithmetic is in float64, as the dense layers' replay.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from nntopo.analysis.ablation.silencing import Remembered, checked_targets
from nntopo.network.train import reduce_maps

# Images per float64 pass: a chunk's transient maps and convolution buffers are ~0.4 GB at 1,000
# images of MNIST (measured), ~0.1 GB at 250, at the same speed.
CHUNK = 250


class ChannelAblator(Remembered):
    """Ablated predictions' scores (correct, or a regressor's squared error against ``targets``) for any
    channel set of convolutional layer ``layer``, remembered per set (as ``recorded.Ablator``).

    Only the pooled maps are kept for every point; the next layer's pre-activations z are computed
    again from them chunk by chunk (the same convolution of the same chunk: the same numbers), once a
    chunk for all the sets ``remember`` is given. Keeping z too took the job past 4 GiB at 60,000 points
    (cnn16x32-d64's first layer: 2.05 GB at 20,000)."""

    @torch.no_grad()
    def __init__(self, model, x: np.ndarray, layer: str, y_true, targets=None):
        self.model = model.double().eval()
        names = list(model.layers)
        self.layer, self.next = layer, names[names.index(layer) + 1]
        # Filled chunk by chunk (a concatenation would hold every array twice: 1.9 GB at its peak for
        # MNIST's first layer); the full maps are kept pooled alone.
        arrays, logits = {}, []
        for start in range(0, len(x), CHUNK):  # (in float64 a chunk at a time: 0.4 GB for 60,000 MNIST images)
            images = torch.from_numpy(np.asarray(x[start:start + CHUNK], dtype=np.float64))
            hidden = self.model.forward_all(images)[0][names.index(layer)]
            pooled = self.model.onward(layer, hidden)
            logits.append(self.model.logits_from(self.next, self.model.pre_activation(self.next, pooled)))
            parts = {"pooled": pooled, **{reduction: reduce_maps(hidden, reduction) for reduction in ("max", "mean")}}
            for name, part in parts.items():
                if name not in arrays:
                    arrays[name] = part.new_empty((len(x), *part.shape[1:]))
                arrays[name][start:start + len(part)] = part
        self.pooled = arrays["pooled"]
        self.maps_reduced = {reduction: arrays[reduction].numpy() for reduction in ("max", "mean")}  # the check's
        self.logits = torch.cat(logits).numpy()
        self.y_true = np.asarray(y_true, dtype=np.int64)
        self.targets = checked_targets(targets, self.logits)
        self.n_neurons = self.pooled.shape[1]

    def _term(self, pooled: torch.Tensor, silenced: torch.Tensor) -> torch.Tensor:
        """The silenced channels' share of the next layer's pre-activation (no bias)."""
        following = self.model.layers[self.next]
        if isinstance(following, nn.Conv2d):
            return functional.conv2d(pooled[:, silenced], following.weight[:, silenced])
        # A Linear map reads the maps flattened channel by channel: channel c's columns are one block.
        weight = following.weight.view(len(following.weight), self.n_neurons, -1)[:, silenced]
        return pooled[:, silenced].flatten(1) @ weight.flatten(1).T

    @torch.no_grad()
    def _scores_each(self, sets: list[np.ndarray]) -> list[np.ndarray]:
        """Every set's scores, a chunk of points at a time: the chunk's outputs are scored and dropped,
        so only the scores (N per set) are held, never every set's outputs."""
        which = [torch.from_numpy(silenced) for silenced in sets]
        parts = [[] for _ in sets]
        for start, pooled in zip(range(0, len(self.pooled), CHUNK), self.pooled.split(CHUNK)):
            first = self.model.pre_activation(self.next, pooled)
            points = slice(start, start + len(pooled))
            for part, silenced in zip(parts, which):
                outputs = self.model.logits_from(self.next, first - self._term(pooled, silenced)).numpy()
                part.append(self.scores_of(outputs, points))
        return [np.concatenate(part) for part in parts]

    @torch.no_grad()
    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        which = torch.from_numpy(silenced)
        return np.concatenate([self.model.logits_from(self.next, self.model.pre_activation(self.next, pooled)
                                                      - self._term(pooled, which)).numpy()
                               for pooled in self.pooled.split(CHUNK)])
