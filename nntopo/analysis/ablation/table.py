"""Silence a cluster's top-ranked units and measure what it costs, against random units: the table
of ``ablate_clusters``, the same for every ablator (``recorded.Ablator``, ``channels.ChannelAblator``,
``network.NetworkAblator``: anything with ``n_neurons``, ``y_true``, ``targets``, ``scores(silenced)``
and ``remember(sets)``, as ``silencing.Remembered``). A classifier's table has ``COLUMNS``, a
regressor's (its ablator's ``targets`` are not None) ``REGRESSION_COLUMNS``.

Definitions for a classifier (one row per cluster c >= 0 of ``cluster_labels``; points labelled -1
are in no cluster):

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

Definitions for a regressor (outputs and targets N x d; own points, other points, neurons and the
random draws as above):

- a point's error e_i = sum over the d outputs of (output - target)^2 (``task.point_errors``);
  mse of a set of n points = sum e_i / (n d) (``task.mse``); relative L2 = sqrt(sum e_i) /
  sqrt(sum ||target_i||^2) over the set (``task.relative_l2``). "before" uses the recomputed outputs.
- mse_cluster_before/after and rel_l2_cluster_before/after on the cluster's points; mse_other_before
  and mse_other_after on every other point.
- rise = mse_cluster_after - mse_cluster_before; other_rise = mse_other_after - mse_other_before;
  specificity = rise - other_rise (the signs turned, so that harm is positive as a drop is).
- random_mean and random_std: of the cluster's mse after silencing each draw; random_rise_mean =
  random_mean - mse_cluster_before; random_other_mean: the mean mse on the other points.
- p_value = (1 + #{draws whose cluster mse after silencing >= mse_cluster_after}) / (1 + n_random):
  larger error is worse. Errors are compared as sums of the same float64 errors, so the same set
  silenced (every neuron, say) gives the same sum exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nntopo import task
from nntopo.analysis.ablation.recorded import Ablator
from nntopo.analysis.ranking import top_neurons

COLUMNS = [
    "cluster", "size", "n_silenced", "neurons",
    "acc_cluster_before", "acc_cluster_after", "drop",
    "acc_other_before", "acc_other_after", "other_drop", "specificity",
    "random_mean", "random_std", "random_drop_mean", "random_other_mean", "p_value",
]
REGRESSION_COLUMNS = [
    "cluster", "size", "n_silenced", "neurons",
    "mse_cluster_before", "mse_cluster_after", "rise", "rel_l2_cluster_before", "rel_l2_cluster_after",
    "mse_other_before", "mse_other_after", "other_rise", "specificity",
    "random_mean", "random_std", "random_rise_mean", "random_other_mean", "p_value",
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


def columns_of(task_name: str) -> list[str]:
    """The ablation table's columns for a network of ``task_name`` (``nntopo.task``'s)."""
    return REGRESSION_COLUMNS if task_name == task.REGRESSION else COLUMNS


def ablate_clusters(hidden, weight, bias, y_true, cluster_labels, ranking: pd.DataFrame, top_k: int,
                    n_random: int = 100, seed: int = 0, downstream=(), activation: dict | None = None,
                    ablator: Ablator | None = None, targets=None) -> pd.DataFrame:
    """One row per cluster (>= 0, ascending) with the columns ``COLUMNS`` for a classifier, or
    ``REGRESSION_COLUMNS`` for a regressor (an ablator whose ``targets`` are not None); see the module
    docstring.

    ``hidden``: (N, H) activations of the ranked hidden layer; ``weight`` (C, H'), ``bias`` (C,): the
    output layer; ``downstream``: (weight, bias) of the hidden layers between them (none when the
    ranked layer is the last); ``y_true``: (N,) true classes (a regressor's level sets);
    ``cluster_labels``: (N,) cluster per point, -1 = none; ``ranking``: the table of
    ``ranking.rank_neurons`` for these clusters; ``top_k``: neurons silenced; ``activation``: the
    hidden layers' activation function (default relu); ``targets``: a regressor's (N x d), when no
    ``ablator`` is given; ``ablator``: one built already for these arguments, to share its remembered
    sets (it carries the task and the targets).
    """
    if n_random < 1:
        raise ValueError(f"n_random must be at least 1, got {n_random}")
    ablator = ablator or Ablator(hidden, weight, bias, y_true, downstream, activation, targets)
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

    def per_cluster(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        own = np.bincount(index, weights=scores, minlength=len(clusters) + 1)[: len(clusters)]
        return own, scores.sum() - own  # summed scores: own cluster, all other points

    before = per_cluster(ablator.scores())
    chosen = [neurons.get(int(c), np.empty(0, dtype=np.int64)) for c in clusters]
    counts = np.array([len(s) for s in chosen], dtype=np.int64)
    draws = {int(m): random_draws(n_neurons, int(m), n_random, seed) for m in np.unique(counts)}
    ablator.remember([*chosen, *(d for drawn in draws.values() for d in drawn)])  # at once: a CNN's maps once
    after = np.empty((2, len(clusters)))  # own, other
    for i, silenced in enumerate(chosen):
        own, other = per_cluster(ablator.scores(silenced))
        after[:, i] = own[i], other[i]

    # Random baseline: the same draws for every cluster that silences the same number of neurons.
    random = np.empty((2, n_random, len(clusters)))  # own, other
    for m, drawn in draws.items():
        which = counts == m
        for d, silenced in enumerate(drawn):
            own, other = per_cluster(ablator.scores(silenced))
            random[0, d, which], random[1, d, which] = own[which], other[which]

    rows = {"cluster": clusters.astype(np.int64), "size": sizes.astype(np.int64), "n_silenced": counts,
            "neurons": [" ".join(map(str, s.tolist())) for s in chosen]}
    sums = (np.asarray(before), after, random)
    if ablator.targets is None:
        rows |= _accuracy_rows(*sums, sizes, len(labels) - sizes)
        return pd.DataFrame(rows, columns=COLUMNS)
    rows |= _error_rows(*sums, index, ablator.targets)
    return pd.DataFrame(rows, columns=REGRESSION_COLUMNS)


def _accuracy_rows(before, after, random, sizes, n_other) -> dict:
    """A classifier's columns from the correct counts (own cluster, other points) before, after
    silencing the top-k set, and per random draw."""
    n_random = random.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_before, acc_after = before[0] / sizes, after[0] / sizes
        other_before, other_after = before[1] / n_other, after[1] / n_other
        random_acc, random_other_acc = random[0] / sizes, random[1] / n_other
    random_mean = random_acc.mean(axis=0)
    return {
        "acc_cluster_before": acc_before,
        "acc_cluster_after": acc_after,
        "drop": acc_before - acc_after,
        "acc_other_before": other_before,
        "acc_other_after": other_after,
        "other_drop": other_before - other_after,
        "specificity": (acc_before - acc_after) - (other_before - other_after),
        "random_mean": random_mean,
        "random_std": random_acc.std(axis=0),
        "random_drop_mean": acc_before - random_mean,
        "random_other_mean": random_other_acc.mean(axis=0),
        "p_value": (1 + np.sum(random[0] <= after[0], axis=0)) / (1 + n_random),
    }


def _error_rows(before, after, random, index, targets) -> dict:
    """A regressor's columns from the summed squared errors (own cluster, other points) before, after
    silencing the top-k set, and per random draw; ``index``: each point's cluster (the last for none)."""
    n_clusters, n_random = before.shape[1], random.shape[1]
    n_points, d = targets.shape
    sizes = np.bincount(index, minlength=n_clusters + 1)[:n_clusters]
    norm_own = np.bincount(index, weights=np.sum(targets ** 2, axis=1), minlength=n_clusters + 1)[:n_clusters]
    with np.errstate(invalid="ignore", divide="ignore"):
        values_own, values_other = sizes * d, (n_points - sizes) * d  # output values averaged over
        mse_before, mse_after = before[0] / values_own, after[0] / values_own
        other_before, other_after = before[1] / values_other, after[1] / values_other
        random_mse, random_other_mse = random[0] / values_own, random[1] / values_other
        rel_before, rel_after = np.sqrt(before[0]) / np.sqrt(norm_own), np.sqrt(after[0]) / np.sqrt(norm_own)
    random_mean = random_mse.mean(axis=0)
    return {
        "mse_cluster_before": mse_before,
        "mse_cluster_after": mse_after,
        "rise": mse_after - mse_before,
        "rel_l2_cluster_before": rel_before,
        "rel_l2_cluster_after": rel_after,
        "mse_other_before": other_before,
        "mse_other_after": other_after,
        "other_rise": other_after - other_before,
        "specificity": (mse_after - mse_before) - (other_after - other_before),
        "random_mean": random_mean,
        "random_std": random_mse.std(axis=0),
        "random_rise_mean": random_mean - mse_before,
        "random_other_mean": random_other_mse.mean(axis=0),
        "p_value": (1 + np.sum(random[0] >= after[0], axis=0)) / (1 + n_random),
    }


def summarize_ablation(table: pd.DataFrame, alpha: float = 0.05) -> dict:
    """One line for a model and method: how many clusters' top-k neurons hurt them more than random.

    ``hurt_more_than_random`` counts clusters with p_value < alpha and a harm larger than the random
    draws' mean: drop > random_drop_mean for a classifier, rise > random_rise_mean for a regressor (a
    table with a ``rise`` column); note that p_value >= 1 / (1 + n_random), so alpha = 0.05 needs
    n_random >= 20. ``hurt_more_than_random_bh`` the same with Benjamini-Hochberg adjusted p-values,
    which keep the expected share of false discoveries at alpha however many clusters are tested.
    Means are over the clusters, unweighted: of the accuracy drops (``mean_drop``, ``mean_random_drop``,
    ``mean_other_drop``) for a classifier, of the mse rises (``mean_rise``, ``mean_random_rise``,
    ``mean_other_rise``) for a regressor.
    """
    from scipy.stats import false_discovery_control

    harm = "rise" if "rise" in table.columns else "drop"
    larger = table[harm] > table[f"random_{harm}_mean"]
    hurt = (table["p_value"] < alpha) & larger
    adjusted = false_discovery_control(table["p_value"].to_numpy()) if len(table) else np.empty(0)
    n = len(table)
    return {
        "clusters": n,
        "hurt_more_than_random": int(hurt.sum()),
        "hurt_more_than_random_bh": int(((adjusted < alpha) & larger).sum()),
        "share_hurt_more_than_random": float(hurt.mean()) if n else float("nan"),
        f"mean_{harm}": float(table[harm].mean()),
        f"mean_random_{harm}": float(table[f"random_{harm}_mean"].mean()),
        f"mean_other_{harm}": float(table[f"other_{harm}"].mean()),
        "mean_specificity": float(table["specificity"].mean()),
        "median_p_value": float(table["p_value"].median()),
    }
