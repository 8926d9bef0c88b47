"""Neural persistence (Rieck et al., ICLR 2019): the 0-dimensional persistence of each layer's weights.

A layer is the complete bipartite graph between its inputs and outputs. Its edge weights are the
absolute weights divided by the largest absolute weight of the whole network, so they lie in [0, 1].
The filtration adds every vertex at 1 and then the edges from the largest weight down; an edge that
joins two components kills one of them, born at 1, at its weight w. The edges that do so are those of
a maximum spanning tree, so the diagram is {(1, w_e)} over its n_in + n_out - 1 edges, and the layer's
neural persistence is the p-norm of the persistences 1 - w_e. It is at most (n_in + n_out - 1)^(1/p),
which normalises it; the network's mean normalised NP averages its layers.

The authors' code (BorgwardtLab/Neural-Persistence, src/tda.py with Aleph) differs in two ways, each
an option here (config ``neural_persistence.bias_vertex`` and ``.essential``, both off by default):
- its layers carry the bias as one more input vertex: the weight matrix of each layer is
  (n_in + 1) x n_out, its last row the bias (src/model_definitions.py:52-58, read by src/utils.py:22-23),
  so the bias is inside the network's largest |w| (src/tda.py:25-27) and the bound counts its vertex
  (src/tda.py:43, 46): ``with_bias_vertex``;
- it also counts the one component never killed: Aleph gives it death ``unpairedData = 0.0``
  (src/tda.py:37-41), a point (1, 0) of persistence 1, so its NP is (NP^p + 1)^(1/p); it still divides
  by (n - 1)^(1/2) (src/tda.py:46), so a normalised NP may exceed 1 (by at most (n / (n - 1))^(1/p)):
  ``neural_persistence(..., essential=True)``.
Both codes normalise by the largest |w| of all layers and average the layers' normalised NP
(src/tda.py:52); Aleph's p-norm is the p = 2 of ``neural_persistence.p``'s default (aleph.norms.pNorm).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree


@dataclass(frozen=True)
class NeuralPersistence:
    layers: dict[str, float]  # NP of each layer
    normalized: dict[str, float]  # NP / (n_in + n_out - 1)^(1/p)
    p: float

    @property
    def mean_normalized(self) -> float:
        return float(np.mean(list(self.normalized.values())))


def normalize(weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """|W| / the largest |w| of all layers, in float64; all zeros when every weight is zero."""
    absolute = {name: np.abs(np.asarray(w, dtype=np.float64)) for name, w in weights.items()}
    largest = max((float(w.max()) for w in absolute.values() if w.size), default=0.0)
    return {name: w / largest if largest > 0 else w for name, w in absolute.items()}


# Kruskal adds edges from the largest down and is done once they connect the graph, so the tree of the
# edges above a threshold is the whole graph's tree whenever it spans. Every vertex must join, so the
# threshold is at most the weakest vertex's largest edge (in trained layers often the tree's smallest
# edge: MNIST's border pixels join last), and at most the PRUNED_SHARE-th largest edge (shuffled layers
# span with that). mlp1024's first layer: 56% of the edges when trained, 5% shuffled (10x faster).
PRUNED_SHARE = 0.05


def _tree(flat: np.ndarray, edges: np.ndarray, n_in: int, n: int):
    graph = csr_matrix((2.0 - flat[edges], (edges % n_in, n_in + edges // n_in)), shape=(n, n))
    return minimum_spanning_tree(graph)


def spanning_tree_weights(weight: np.ndarray) -> np.ndarray:
    """The normalised weights of the maximum spanning tree's edges of one layer (out x in, in [0, 1]).

    scipy finds minimum spanning trees and reads a zero entry as no edge, so it is given 2 - w (in
    [1, 2], and in the same order reversed): the tree is the same and no edge disappears.
    """
    n_out, n_in = weight.shape
    n = n_in + n_out
    flat = weight.ravel()  # edge (output o, input i) at o * n_in + i; vertices: inputs, then outputs
    kept = max(round(PRUNED_SHARE * flat.size), 1)
    threshold = min(np.partition(flat, flat.size - kept)[flat.size - kept], weight.max(0).min(), weight.max(1).min())
    tree = _tree(flat, np.flatnonzero(flat >= threshold), n_in, n)
    if tree.nnz < n - 1:  # the edges above the threshold did not connect the graph: take them all
        tree = _tree(flat, np.arange(flat.size), n_in, n)
    return 2.0 - tree.data


def diagram(weight: np.ndarray) -> np.ndarray:
    """The layer's 0-dimensional diagram: (birth 1, death w) per spanning-tree edge, largest w first."""
    deaths = np.sort(spanning_tree_weights(weight))[::-1]
    return np.column_stack([np.ones_like(deaths), deaths])


def with_bias_vertex(weights: Mapping[str, np.ndarray], biases: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each layer's weights (out x in) with its bias as the column of one more input, a vertex whose
    value is always 1: out x (in + 1), the graph of the authors' code (src/model_definitions.py:52-58)."""
    return {name: np.column_stack([np.asarray(w), np.asarray(biases[name]).reshape(-1, 1)])
            for name, w in weights.items()}


def neural_persistence(weights: Mapping[str, np.ndarray], p: float = 2.0, essential: bool = False) -> NeuralPersistence:
    """NP of every layer of a network, from its weight matrices (out x in, as torch stores them); with
    ``essential``, the component never killed counts as a point of persistence 1 (the authors' code)."""
    if p <= 0:
        raise ValueError(f"p must be positive, not {p}")
    layers, normalized = {}, {}
    for name, weight in normalize(weights).items():
        persistence = 1.0 - spanning_tree_weights(weight)
        # A layer of zeros: all its edges enter at 0 with the vertices born at 1, and in [Rieck] its NP
        # would be the bound; the weights say nothing, so it is 0 (the caller logs it).
        total = np.sum(persistence ** p) + (1.0 if essential else 0.0)
        value = 0.0 if not weight.any() else float(total ** (1 / p))
        layers[name] = value
        # The bound of the tree's points; the authors' code keeps it with the essential point (src/tda.py:46)
        normalized[name] = value / (sum(weight.shape) - 1) ** (1 / p)
    return NeuralPersistence(layers, normalized, p)


def of_layers(weights: Mapping[str, np.ndarray], biases: Mapping[str, np.ndarray], p: float,
              rng: np.random.Generator, bias_vertex: bool = False, essential: bool = False, log=None) -> dict:
    """``with_controls`` of a network's dense layers (``weights`` out x in, ``biases``), their biases as
    a vertex with ``bias_vertex``, as config ``neural_persistence`` asks; ``log`` is told of a layer whose
    every weight is zero (its NP is 0)."""
    graphs = with_bias_vertex(weights, biases) if bias_vertex else dict(weights)
    for name, w in graphs.items():
        if log is not None and not np.asarray(w).any():
            log(f"{name}: every weight is zero, so its neural persistence is 0")
    return with_controls(graphs, p, rng, essential)


def with_controls(weights: Mapping[str, np.ndarray], p: float, rng: np.random.Generator,
                  essential: bool = False) -> dict:
    """A network's neural-persistence record, as metrics.json and weights.h5 keep it: NP per layer and
    its mean, beside two controls, the same weights shuffled within each layer (by ``rng``) and each
    layer's weight variance. With a bias vertex (``with_bias_vertex``) the bias is one more edge of
    the layer's graph, shuffled and counted in the variance with the weights."""
    measured = neural_persistence(weights, p, essential)
    control = neural_persistence(shuffled(weights, rng), p, essential)
    return {"layers": measured.layers, "normalized": measured.normalized, "mean_normalized": measured.mean_normalized,
            "shuffled_normalized": control.normalized, "shuffled_mean_normalized": control.mean_normalized,
            "variance": variances(weights)}


def records(initial: dict, history: list[dict]) -> list[dict]:
    """A training run's neural-persistence records in epoch order: before training (epoch 0), then
    each epoch's (``history``: the per-epoch entries of nntopo.network.train and metrics.json)."""
    return [initial] + [entry["neural_persistence"] for entry in history]


def record_epochs(history: list[dict]) -> list[int]:
    """The epoch of each of ``records``: 0, then each entry's (every epoch, or training.zero_error's checks)."""
    return [0] + [entry["epoch"] for entry in history]


def shuffled(weights: Mapping[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each layer's weights permuted within the layer: the same values, the structure gone."""
    return {name: rng.permutation(np.asarray(w).ravel()).reshape(np.shape(w)) for name, w in weights.items()}


def variances(weights: Mapping[str, np.ndarray]) -> dict[str, float]:
    return {name: float(np.var(np.asarray(w, dtype=np.float64))) for name, w in weights.items()}
