"""The dense replay: a ranked layer's neurons silenced in its recorded activations ``h`` (N x H,
after the activation function), the layers after it recomputed from their weights; the test inputs
are not needed. For the last hidden layer only the output layer (``weight`` C x H, ``bias`` C) follows:

    logits_S = (h * mask_S) @ weight.T + bias = logits - h[:, S] @ weight[:, S].T

where ``mask_S`` is 1 everywhere but 0 on the columns S. The right-hand side touches only the |S|
silenced columns, which is what makes many random draws cheap. For an earlier hidden layer the
hidden layers in between (``downstream``: their (weight, bias), each followed by the network's
activation function, ``nntopo.network.activation``, as in ``model.Network``) are recomputed from
``h * mask_S`` for every neuron set: exact, and slower. All arithmetic is in float64.

``recorded_ablator`` picks the ablator of a model's recorded files: this replay for a dense layer,
``channels.ChannelAblator`` for a convolutional one.
"""

from __future__ import annotations

import numpy as np

from nntopo.analysis.ablation.silencing import Remembered, checked_targets, unit_indices
from nntopo.network.activation import apply

RELU = {"name": "relu"}


def _check(hidden, weight, bias, downstream=()) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """``hidden`` and the layers after it, (weight, bias) each ending with the output layer's, in
    float64; they must chain."""
    hidden = np.asarray(hidden, dtype=np.float64)
    layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
              for w, b in [*downstream, (weight, bias)]]
    if hidden.ndim != 2:
        raise ValueError(f"expected hidden activations (N, H); got shape {hidden.shape}")
    width = hidden.shape[1]
    for i, (w, b) in enumerate(layers):
        name = "the output layer" if i == len(layers) - 1 else f"later hidden layer {i + 1}"
        if w.ndim != 2 or b.ndim != 1 or w.shape[1] != width or w.shape[0] != b.shape[0]:
            raise ValueError(f"{name} (weight {w.shape}, bias {b.shape}) does not take {width} neurons; "
                             f"the layers after the ranked one must chain")
        width = w.shape[0]
    return hidden, layers


def _logits(hidden: np.ndarray, layers, activation: dict | None = None) -> np.ndarray:
    for weight, bias in layers[:-1]:
        hidden = apply(activation or RELU, hidden @ weight.T + bias)
    weight, bias = layers[-1]
    return hidden @ weight.T + bias


def output_logits(hidden, weight, bias, downstream=(), activation: dict | None = None) -> np.ndarray:
    """(N, C) float64 logits from ``hidden`` through ``downstream`` and the output layer, nothing silenced."""
    return _logits(*_check(hidden, weight, bias, downstream), activation)


def logits_without(hidden, weight, bias, silenced, downstream=(), activation: dict | None = None) -> np.ndarray:
    """(N, C) float64 logits with the hidden neurons ``silenced`` (indices) set to zero."""
    hidden, layers = _check(hidden, weight, bias, downstream)
    silenced = unit_indices(silenced, hidden.shape[1])
    mask = np.ones(hidden.shape[1])
    mask[silenced] = 0.0
    return _logits(hidden * mask, layers, activation)


def logit_error(hidden, weight, bias, stored, downstream=(), activation: dict | None = None) -> float:
    """Largest absolute difference between the recomputed and the ``stored`` logits."""
    recomputed = output_logits(hidden, weight, bias, downstream, activation)
    return float(np.max(np.abs(recomputed - np.asarray(stored, dtype=np.float64)), initial=0.0))


class Ablator(Remembered):
    """The ranked layer's neurons silenced in its recorded activations, the layers after it replayed
    from their weights (float64); a regressor's points scored against its ``targets`` (N x d).

    Silencing S changes the first layer after the ranked one by a rank-|S| term: its pre-activations
    are ``z - h[:, S] @ W[:, S].T``, with z computed once; only the layers after that one are
    recomputed per set (none when the ranked layer is the last hidden one)."""

    def __init__(self, hidden, weight, bias, y_true, downstream=(), activation: dict | None = None, targets=None):
        hidden, self.layers = _check(hidden, weight, bias, downstream)
        self.activation = activation
        self.hidden_t = np.ascontiguousarray(hidden.T)  # (H, N): a neuron's activations are one row
        first_weight, first_bias = self.layers[0]
        self.first = hidden @ first_weight.T + first_bias  # pre-activations of the next layer
        self.logits = self._logits_from_first(self.first)
        self.y_true = np.asarray(y_true, dtype=np.int64)
        if self.y_true.shape != (len(hidden),):
            raise ValueError(f"{self.y_true.shape[0] if self.y_true.ndim else 'no'} true labels for {len(hidden)} points")
        self.targets = checked_targets(targets, self.logits)

    @property
    def n_neurons(self) -> int:
        return len(self.hidden_t)

    def _logits_from_first(self, first: np.ndarray) -> np.ndarray:
        if len(self.layers) == 1:
            return first
        return _logits(apply(self.activation or RELU, first), self.layers[1:], self.activation)

    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        weight = self.layers[0][0]
        return self._logits_from_first(self.first - self.hidden_t[silenced].T @ weight[:, silenced].T)


def recorded_ablator(activations, weights: dict, layer: str, rtol: float = 1e-4, network=None):
    """The ``Ablator`` of a model's recorded files, read already (``store.Activations`` and
    ``store.read_weights``' dict), for the ranked hidden layer ``layer``: the layers after it come
    from ``weights``, the activation function from the files' training settings, a regressor's targets
    from the activations. A convolutional
    layer's channels are silenced in their full maps instead (``ChannelAblator``), from the network and
    the analysed points' inputs that ``network()`` returns. Checks first that the recomputed logits (and
    a channel's reduced maps) match the stored float32 ones within ``rtol`` of the largest value
    (relative: deep and wide layers sum more rounding than a fixed tolerance allows)."""
    import json

    from nntopo.network.activation import of_settings
    from nntopo.store import OUTPUT_LAYER, layer_names

    hidden = activations.layer(layer)  # KeyError naming the layers for a layer the model lacks
    if weights[layer].is_convolution:
        from nntopo.analysis.ablation.channels import ChannelAblator

        model, images = network()
        ablator = ChannelAblator(model, images, layer, activations.labels, activations.targets)
        check_close(ablator.maps_reduced[activations.attrs.get("spatial_reduction", "max")], hidden, rtol,
                     f"the channels of {layer} recomputed from the network")
    else:
        activation = of_settings(json.loads(activations.attrs.get("config", "{}")))
        names = layer_names(len(activations.hidden))
        downstream = [weights[name].affine() for name in names[names.index(layer) + 1:-1]]
        output = weights[OUTPUT_LAYER]
        ablator = Ablator(hidden, *output.affine(), activations.labels, downstream, activation,
                          activations.targets)
    check_close(ablator.logits, activations.output, rtol, f"the logits recomputed from {layer} and the layers after it")
    return ablator


def check_close(recomputed, stored, rtol: float, what: str) -> None:
    """ValueError when ``recomputed`` differs from ``stored`` by more than ``rtol`` of the stored
    values' largest magnitude (at least 1)."""
    error = float(np.max(np.abs(recomputed - stored), initial=0.0))
    tolerance = rtol * max(1.0, float(np.abs(stored).max(initial=0.0)))
    if not error <= tolerance:
        raise ValueError(f"{what} differ from the stored ones by up to {error:.3g} (> {tolerance:.3g}): "
                         f"files of different models?")
