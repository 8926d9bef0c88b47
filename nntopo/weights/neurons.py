"""The space of neurons: every hidden neuron of a layer as a point, its input weight vector scaled to
unit length, and the shape of that cloud.

A neuron's input weights (its row of the layer's weight matrix, batch normalisation folded in) say
which direction of the previous layer's space it responds to; scaled to unit length, two neurons are
close when they look for the same pattern, whatever their gain. Per hidden layer this module builds

- the Mapper graph of the cloud (nntopo.weights.cloud.mapper_graph, ``config.neurons.mapper``, set for
  a few dozen to a thousand points);
- what each neuron does in the study, per neuron and per node of the graph (mean over its neurons):
  how many clusters rank it in their top-k (``top_k_counts``, from the rankings of every clustering
  method), which class its linear path to the output supports most (``support_labels``) and whether
  it is alive (``alive_neurons``);
- the Euclidean Vietoris-Rips persistence diagram (H0, H1; nntopo.weights.cloud) of the cloud.

A neuron whose weights are all zero (norm at most ``min_norm``) has no direction: it is left out of
the cloud and counted in the log, while its per-neuron values are still stored. Arrays in, arrays
out: nntopo.weights.stage reads the files, builds the space, writes it and draws its figures.
"""

from __future__ import annotations

import numpy as np

from nntopo import store


# --- the cloud ------------------------------------------------------------------------------------

def neuron_cloud(weight: np.ndarray, min_norm: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unit input weight vectors of the neurons (rows of ``weight``, out x in) whose norm is above
    ``min_norm``: (points (n, in), their neuron indices (n,), every neuron's norm (out,))."""
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"expected a weight matrix (out x in), got shape {weight.shape}")
    norms = np.linalg.norm(weight, axis=1)
    kept = np.flatnonzero(norms > min_norm)
    return weight[kept] / norms[kept, None], kept.astype(np.int64), norms


def linear_path(layers: dict, layer: str) -> np.ndarray:
    """(classes, width) the product of the weight matrices after ``layer``, W_out @ W_L @ ... @ W_{l+1}
    (batch normalisation folded in, biases left out): column j is how much each logit moves per unit of
    neuron j's activation along the linear path, as if every later neuron passed its input on unchanged.
    With ReLU a later neuron that is off cuts its paths, which this ignores: it is the neuron's vote
    through the weights, not its effect on a given image."""
    names = list(layers)
    if layer not in names[:-1]:
        raise KeyError(f"no hidden layer {layer!r}; hidden layers are {', '.join(names[:-1])}")
    product = None
    for name in reversed(names[names.index(layer) + 1:]):
        weight = np.asarray(layers[name].affine()[0], dtype=np.float64)
        # A CNN's layers as maps of channels, each as if its feature map were uniform: a kernel adds up
        # (its response to a constant map), and a dense layer reading flattened maps sums each map's block.
        weight = weight.sum(axis=(2, 3)) if weight.ndim == 4 else weight
        before = len(layers[names[names.index(name) - 1]].weight)
        if weight.shape[1] != before:
            weight = weight.reshape(len(weight), before, -1).sum(axis=2)
        product = weight if product is None else product @ weight
    return product


def support_labels(path: np.ndarray) -> np.ndarray:
    """The class each neuron's linear path supports most: argmax over classes of each column (ties:
    the lowest class)."""
    return np.asarray(path).argmax(axis=0).astype(np.int64)


def alive_neurons(activations: np.ndarray) -> np.ndarray:
    """(width,) bool: active (> 0, as the rankings count activity) on at least one test image."""
    return (np.asarray(activations) > 0).any(axis=0)


def top_k_counts(rankings: dict[str, object], layer: str, width: int, top_k: int) -> np.ndarray:
    """(sources, width): per rankings table (``rankings``: source name -> DataFrame of
    ``store.RANKING_COLUMNS``), how many of its clusters rank each neuron of ``layer`` among their
    top ``top_k`` (nntopo.analysis.ranking.top_rows)."""
    from nntopo.analysis.ranking import top_rows

    counts = np.zeros((len(rankings), width), dtype=np.int64)
    for row, (source, table) in enumerate(rankings.items()):
        neurons = top_rows(table[table["layer"] == layer], top_k)["neuron"].to_numpy(dtype=np.int64)
        if len(neurons) and (neurons.min() < 0 or neurons.max() >= width):
            raise store.StoreError(f"rankings {source}: neurons {neurons.min()}..{neurons.max()} of {layer}, "
                                   f"which has {width}; rerun its ranking")
        counts[row] = np.bincount(neurons, minlength=width)
    return counts
