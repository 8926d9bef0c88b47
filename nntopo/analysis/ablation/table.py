"""Silence a cluster's top-ranked units and measure what it costs, against random units: the table
of ``ablate_clusters``, the same for every ablator (``recorded.Ablator``, ``channels.ChannelAblator``,
``network.NetworkAblator``: anything with ``n_neurons``, ``y_true``, ``correct(silenced)`` and
``remember(sets)``, as ``silencing.Remembered``).

Definitions (one row per cluster c >= 0 of ``cluster_labels``; points labelled -1 are in no cluster):

- accuracy: the share of points whose argmax of the (ablated) logits equals the true label
  (``np.argmax``: ties go to the lower class). "before" uses the recomputed, non-ablated logits.
- own points: the points with label c; other points: every other test point, those in no
  cluster (-1) included.
- neurons: the cluster's top-k neurons, ``ranking.top_neurons(ranking, top_k)``: its rows with
  rank <= top_k, in rank order (fewer than top_k when fewer neurons were ever in the cluster's
  points' top-k; ``n_silenced`` says how many).
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

from nntopo.analysis.ablation.recorded import Ablator
from nntopo.analysis.ranking import top_neurons

COLUMNS = [
    "cluster", "size", "n_silenced", "neurons",
    "acc_cluster_before", "acc_cluster_after", "drop",
    "acc_other_before", "acc_other_after", "other_drop", "specificity",
    "random_mean", "random_std", "random_drop_mean", "random_other_mean", "p_value",
]


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


def ablate_clusters(hidden, weight, bias, y_true, cluster_labels, ranking: pd.DataFrame, top_k: int,
                    n_random: int = 100, seed: int = 0, downstream=(), activation: dict | None = None,
                    ablator: Ablator | None = None) -> pd.DataFrame:
    """One row per cluster (>= 0, ascending) with the columns ``COLUMNS`` (see the module docstring).

    ``hidden``: (N, H) activations of the ranked hidden layer; ``weight`` (C, H'), ``bias`` (C,): the
    output layer; ``downstream``: (weight, bias) of the hidden layers between them (none when the
    ranked layer is the last); ``y_true``: (N,) true classes; ``cluster_labels``: (N,) cluster per
    point, -1 = none; ``ranking``: the table of ``ranking.rank_neurons`` for these clusters; ``top_k``:
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
    neurons = top_neurons(ranking, top_k)
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
    counts = np.array([len(s) for s in chosen], dtype=np.int64)
    draws = {int(m): random_draws(n_neurons, int(m), n_random, seed) for m in np.unique(counts)}
    ablator.remember([*chosen, *(d for drawn in draws.values() for d in drawn)])  # at once: a CNN's maps once
    own_after = np.empty(len(clusters))
    other_after = np.empty(len(clusters))
    for i, silenced in enumerate(chosen):
        own, other = per_cluster(ablator.correct(silenced))
        own_after[i], other_after[i] = own[i], other[i]

    # Random baseline: the same draws for every cluster that silences the same number of neurons.
    random_own = np.empty((n_random, len(clusters)))
    random_other = np.empty((n_random, len(clusters)))
    for m, drawn in draws.items():
        which = counts == m
        for d, silenced in enumerate(drawn):
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
