"""Silence a cluster's top-ranked hidden neurons and measure what it costs, against random neurons.

The ablated logits follow from the recorded activations ``h`` of the ranked layer (N x H, after
the activation function) and the layers after it; the test inputs are not needed. For the last hidden layer only the
output layer (``weight`` C x H, ``bias`` C) follows:

    logits_S = (h * mask_S) @ weight.T + bias = logits - h[:, S] @ weight[:, S].T

where ``mask_S`` is 1 everywhere but 0 on the columns S. The right-hand side touches only the |S|
silenced columns, which is what makes many random draws cheap. For an earlier hidden layer the
hidden layers in between (``downstream``: their (weight, bias), each followed by the network's
activation function, ``nntopo.network.activation``, as in ``model.Network``) are recomputed from ``h * mask_S`` for every neuron set: exact, and slower.
All arithmetic is in float64.

Definitions (one row per cluster c >= 0 of ``cluster_labels``; points labelled -1 are in no cluster):

- accuracy: the share of points whose argmax of the (ablated) logits equals the true label
  (``np.argmax``: ties go to the lower class). "before" uses the recomputed, non-ablated logits.
- own points: the points with label c; other points: every other test point, those in no
  cluster (-1) included.
- neurons: the cluster's top-k neurons, the ranking's rows for c with rank <= k, in rank order
  (fewer than k when fewer neurons were ever in the cluster's points' top-k; ``n_silenced`` says
  how many).
- drop = acc_cluster_before - acc_cluster_after; other_drop = acc_other_before - acc_other_after;
  specificity = drop - other_drop.
- random baseline: ``n_random`` draws of m = n_silenced neurons, each drawn uniformly without
  replacement from all H hidden neurons: ``rng = np.random.default_rng(seed)`` then, for each draw
  in turn, ``rng.choice(H, size=m, replace=False)`` (see ``random_draws``). Clusters with the same m
  share the same draws (a fresh generator from ``seed`` per distinct m). random_mean and random_std
  are the mean and population standard deviation (ddof=0) over the draws of the cluster's accuracy
  after silencing the drawn neurons; random_drop_mean = acc_cluster_before - random_mean;
  random_other_mean is the mean accuracy on the other points.
- p_value = (1 + #{draws whose cluster accuracy after silencing <= acc_cluster_after}) / (1 + n_random):
  a one-sided empirical p-value (the +1 counts the top-k set itself as one draw), so that
  1 / (1 + n_random) <= p_value <= 1. Small means the top-k neurons hurt their own cluster more
  than almost every random set of the same size. Accuracies are compared as counts of correct
  points, so equal accuracies are equal exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nntopo.analysis.silencing import Remembered, unit_indices
from nntopo.network.activation import apply

RELU = {"name": "relu"}

COLUMNS = [
    "cluster", "size", "n_silenced", "neurons",
    "acc_cluster_before", "acc_cluster_after", "drop",
    "acc_other_before", "acc_other_after", "other_drop", "specificity",
    "random_mean", "random_std", "random_drop_mean", "random_other_mean", "p_value",
]


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


def random_draws(n_neurons: int, size: int, n_random: int, seed: int) -> np.ndarray:
    """(n_random, size) neuron indices: ``rng.choice(n_neurons, size, replace=False)`` per draw,
    from ``rng = np.random.default_rng(seed)``, one draw after the other."""
    if not 0 <= size <= n_neurons:
        raise ValueError(f"cannot draw {size} of {n_neurons} neurons")
    rng = np.random.default_rng(seed)
    draws = np.empty((n_random, size), dtype=np.int64)
    for i in range(n_random):
        draws[i] = rng.choice(n_neurons, size=size, replace=False)
    return draws


def top_neurons(ranking: pd.DataFrame, k: int) -> dict[int, np.ndarray]:
    """Per cluster, its neurons with rank <= k in rank order (from ``ranking.rank_neurons``' table)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    top = ranking[ranking["rank"] <= k].sort_values(["cluster", "rank"])
    return {int(c): group["neuron"].to_numpy(dtype=np.int64) for c, group in top.groupby("cluster", sort=True)}


class Ablator(Remembered):
    """The ranked layer's neurons silenced in its recorded activations, the layers after it replayed
    from their weights (float64).

    Silencing S changes the first layer after the ranked one by a rank-|S| term: its pre-activations
    are ``z - h[:, S] @ W[:, S].T``, with z computed once; only the layers after that one are
    recomputed per set (none when the ranked layer is the last hidden one)."""

    def __init__(self, hidden, weight, bias, y_true, downstream=(), activation: dict | None = None):
        hidden, self.layers = _check(hidden, weight, bias, downstream)
        self.activation = activation
        self.hidden_t = np.ascontiguousarray(hidden.T)  # (H, N): a neuron's activations are one row
        first_weight, first_bias = self.layers[0]
        self.first = hidden @ first_weight.T + first_bias  # pre-activations of the next layer
        self.logits = self._logits_from_first(self.first)
        self.y_true = np.asarray(y_true, dtype=np.int64)
        if self.y_true.shape != (len(hidden),):
            raise ValueError(f"{self.y_true.shape[0] if self.y_true.ndim else 'no'} true labels for {len(hidden)} points")

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


def ablate_clusters(hidden, weight, bias, y_true, cluster_labels, ranking: pd.DataFrame, k: int,
                    n_random: int = 100, seed: int = 0, downstream=(), activation: dict | None = None,
                    ablator: Ablator | None = None) -> pd.DataFrame:
    """One row per cluster (>= 0, ascending) with the columns ``COLUMNS`` (see the module docstring).

    ``hidden``: (N, H) activations of the ranked hidden layer; ``weight`` (C, H'), ``bias`` (C,): the
    output layer; ``downstream``: (weight, bias) of the hidden layers between them (none when the
    ranked layer is the last); ``y_true``: (N,) true classes; ``cluster_labels``: (N,) cluster per
    point, -1 = none; ``ranking``: the table of ``ranking.rank_neurons`` for these clusters; ``k``:
    neurons silenced; ``activation``: the hidden layers' activation function (default relu);
    ``ablator``: one built already for these arguments, to share its remembered sets.
    """
    if n_random < 1:
        raise ValueError(f"n_random must be at least 1, got {n_random}")
    ablator = ablator or Ablator(hidden, weight, bias, y_true, downstream, activation)
    n_neurons = ablator.n_neurons
    labels = np.asarray(cluster_labels, dtype=np.int64)
    if labels.shape != ablator.y_true.shape:
        raise ValueError(f"{labels.shape[0] if labels.ndim else 'no'} cluster labels for {len(ablator.y_true)} points")
    clusters = np.unique(labels[labels >= 0])
    neurons = top_neurons(ranking, k)
    unknown = sorted(set(neurons) - set(clusters.tolist()))
    if unknown:
        raise ValueError(f"the ranking has clusters {unknown} that no point is in")
    if any(n.size and n.max() >= n_neurons for n in neurons.values()):
        raise ValueError(f"the ranking names neurons beyond the {n_neurons} of this layer")

    # Cluster index per point (C = the number of clusters for those in none), for bincount.
    index = np.full(len(labels), len(clusters), dtype=np.int64)
    index[labels >= 0] = np.searchsorted(clusters, labels[labels >= 0])
    sizes = np.bincount(index, minlength=len(clusters) + 1)[: len(clusters)]
    n_other = len(labels) - sizes

    def per_cluster(correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        own = np.bincount(index, weights=correct, minlength=len(clusters) + 1)[: len(clusters)]
        return own, correct.sum() - own  # correct counts: own cluster, all other points

    own_before, other_before = per_cluster(ablator.correct())
    chosen = [neurons.get(int(c), np.empty(0, dtype=np.int64)) for c in clusters]
    own_after = np.empty(len(clusters))
    other_after = np.empty(len(clusters))
    for i, silenced in enumerate(chosen):
        own, other = per_cluster(ablator.correct(silenced))
        own_after[i], other_after[i] = own[i], other[i]

    # Random baseline: the same draws for every cluster that silences the same number of neurons.
    random_own = np.empty((n_random, len(clusters)))
    random_other = np.empty((n_random, len(clusters)))
    counts = np.array([len(s) for s in chosen], dtype=np.int64)
    for m in np.unique(counts):
        which = counts == m
        for d, silenced in enumerate(random_draws(n_neurons, int(m), n_random, seed)):
            own, other = per_cluster(ablator.correct(silenced))
            random_own[d, which], random_other[d, which] = own[which], other[which]

    with np.errstate(invalid="ignore", divide="ignore"):
        before = own_before / sizes
        after = own_after / sizes
        other_b = other_before / n_other
        other_a = other_after / n_other
        random_acc = random_own / sizes
        random_other_acc = random_other / n_other
    p_value = (1 + np.sum(random_own <= own_after, axis=0)) / (1 + n_random)
    random_mean = random_acc.mean(axis=0)
    return pd.DataFrame(
        {
            "cluster": clusters.astype(np.int64),
            "size": sizes.astype(np.int64),
            "n_silenced": counts,
            "neurons": [" ".join(map(str, s.tolist())) for s in chosen],
            "acc_cluster_before": before,
            "acc_cluster_after": after,
            "drop": before - after,
            "acc_other_before": other_b,
            "acc_other_after": other_a,
            "other_drop": other_b - other_a,
            "specificity": (before - after) - (other_b - other_a),
            "random_mean": random_mean,
            "random_std": random_acc.std(axis=0),
            "random_drop_mean": before - random_mean,
            "random_other_mean": random_other_acc.mean(axis=0),
            "p_value": p_value,
        },
        columns=COLUMNS,
    )


def recorded_ablator(activations, weights: dict, layer: str, rtol: float = 1e-4, network=None):
    """The ``Ablator`` of a model's recorded files, read already (``layout.Activations`` and
    ``layout.read_weights``' dict), for the ranked hidden layer ``layer``: the layers after it come
    from ``weights``, the activation function from the files' training settings. A convolutional
    layer's channels are silenced in their full maps instead (``ChannelAblator``), from the network and
    test images that ``network()`` returns. Checks first that the recomputed logits (and a channel's
    reduced maps) match the stored float32 ones within ``rtol`` of the largest value (relative: deep
    and wide layers sum more rounding than a fixed tolerance allows)."""
    import json

    from nntopo.store import OUTPUT_LAYER, layer_names
    from nntopo.network.activation import of_settings

    hidden = activations.layer(layer)  # KeyError naming the layers for a layer the model lacks
    if weights[layer].is_convolution:
        from nntopo.analysis.channel_ablation import ChannelAblator

        model, images = network()
        ablator = ChannelAblator(model, images, layer, activations.labels)
        check_close(ablator.maps_reduced[activations.attrs.get("spatial_reduction", "max")], hidden, rtol,
                     f"the channels of {layer} recomputed from the network")
    else:
        activation = of_settings(json.loads(activations.attrs.get("config", "{}")))
        names = layer_names(len(activations.hidden))
        downstream = [weights[name].affine() for name in names[names.index(layer) + 1:-1]]
        output = weights[OUTPUT_LAYER]
        ablator = Ablator(hidden, output.weight, output.bias, activations.labels, downstream, activation)
    check_close(ablator.logits, activations.output, rtol, f"the logits recomputed from {layer} and the layers after it")
    return ablator


def check_close(recomputed, stored, rtol: float, what: str) -> None:
    error = float(np.max(np.abs(recomputed - stored), initial=0.0))
    tolerance = rtol * max(1.0, float(np.abs(stored).max(initial=0.0)))
    if not error <= tolerance:
        raise ValueError(f"{what} differ from the stored ones by up to {error:.3g} (> {tolerance:.3g}): "
                         f"files of different models?")


def ablate_recorded(activations, weights: dict, cluster_labels, ranking: pd.DataFrame, k: int, layer: str,
                    n_random: int = 100, seed: int = 0, rtol: float = 1e-4, ablator: Ablator | None = None,
                    network=None) -> pd.DataFrame:
    """``ablate_clusters`` on a model's recorded files (see ``recorded_ablator``, or pass its result
    as ``ablator`` to share it between clusterings of the same layer)."""
    ablator = ablator or recorded_ablator(activations, weights, layer, rtol, network)
    return ablate_clusters(None, None, None, activations.labels, cluster_labels, ranking, k,
                           n_random=n_random, seed=seed, ablator=ablator)


def summarize_ablation(table: pd.DataFrame, alpha: float = 0.05) -> dict:
    """One line for a model and method: how many clusters' top-k neurons hurt them more than random.

    ``hurt_more_than_random`` counts clusters with p_value < alpha and drop > random_drop_mean
    (note that p_value >= 1 / (1 + n_random), so alpha = 0.05 needs n_random >= 20);
    ``hurt_more_than_random_bh`` the same with Benjamini-Hochberg adjusted p-values, which keep the
    expected share of false discoveries at alpha however many clusters are tested. Means are over
    the clusters, unweighted.
    """
    from scipy.stats import false_discovery_control

    larger = table["drop"] > table["random_drop_mean"]
    hurt = (table["p_value"] < alpha) & larger
    adjusted = false_discovery_control(table["p_value"].to_numpy()) if len(table) else np.empty(0)
    n = len(table)
    return {
        "clusters": n,
        "hurt_more_than_random": int(hurt.sum()),
        "hurt_more_than_random_bh": int(((adjusted < alpha) & larger).sum()),
        "share_hurt_more_than_random": float(hurt.mean()) if n else float("nan"),
        "mean_drop": float(table["drop"].mean()),
        "mean_random_drop": float(table["random_drop_mean"].mean()),
        "mean_other_drop": float(table["other_drop"].mean()),
        "mean_specificity": float(table["specificity"].mean()),
        "median_p_value": float(table["p_value"].median()),
    }
