"""How much clusterings agree: between methods, with the true labels, and across training seeds.

Labelings are (N,) integer arrays over the same test points in the same order; -1 means "in no
cluster". Definitions:

- pairwise agreement of two labelings: on the points both assign (both labels >= 0; their number
  is ``n_common``), the adjusted Rand index (``sklearn.metrics.adjusted_rand_score``: 1 for the
  same partition whatever the cluster ids, about 0 for independent ones, can be negative) and the
  normalized mutual information (``sklearn.metrics.normalized_mutual_info_score`` with the
  arithmetic mean of the two entropies as normaliser: 1 for the same partition, 0 for independent
  ones). Both are NaN when no point is assigned by both.
- purity: the share of assigned points that belong to their cluster's majority true class,
  sum over clusters of max_class count / number of assigned points (NaN when none is assigned);
  ``assigned`` is the share of all points assigned to a cluster.
- explained variance (a regressor's purity): the share of the targets' variance that the partition
  explains on the points it assigns, between-cluster over total sum of squares (eta squared,
  ``nntopo.task.explained_variance``): 1 when every cluster's targets are equal, 0 when every cluster
  has the same mean target. Its classes (compositions below) are the targets' level sets.
- seed stability: the pairwise agreement above between the labelings one method gives on the
  models of different seeds (the test points are the same; neurons are never compared).
- composition stability: each cluster is described by its label composition, the distribution of
  true classes among its points (a vector summing to 1). For two seeds, clusters are matched one to
  one by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) minimising the summed
  total-variation distance TV(p, q) = 0.5 * sum_i |p_i - q_i| (0: same composition, 1: disjoint
  classes); with unequal counts, min(C_a, C_b) pairs are matched and the rest left unmatched.
  Reported: the mean and max TV over matched pairs, the size-weighted mean (weights: the two
  clusters' sizes added), and the share of matched pairs with the same majority class.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from nntopo import task as tasks


def _labels(labels, n: int | None = None, what: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{what} must be a 1-D integer array, got {labels.dtype} with shape {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < -1:
        raise ValueError(f"{what} below -1")
    if n is not None and len(labels) != n:
        raise ValueError(f"{what} has {len(labels)} points, expected {n}")
    return labels


def agreement(labels_a, labels_b) -> dict:
    """ARI, NMI and n_common of two labelings on the points both assign (see the module docstring)."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    a = _labels(labels_a, what="labels_a")
    b = _labels(labels_b, len(a), "labels_b")
    both = (a >= 0) & (b >= 0)
    n_common = int(both.sum())
    if n_common == 0:
        return {"ari": float("nan"), "nmi": float("nan"), "n_common": 0}
    return {
        "ari": float(adjusted_rand_score(a[both], b[both])),
        "nmi": float(normalized_mutual_info_score(a[both], b[both], average_method="arithmetic")),
        "n_common": n_common,
    }


def pairwise_agreement(labelings: dict, names: tuple[str, str] = ("method_a", "method_b")) -> pd.DataFrame:
    """One row per unordered pair of labelings (in the dict's order): a, b, ari, nmi, n_common.

    The first two columns are called ``names`` (method_a, method_b by default).
    """
    rows = [{names[0]: a, names[1]: b, **agreement(labelings[a], labelings[b])} for a, b in combinations(labelings, 2)]
    return pd.DataFrame(rows, columns=[*names, "ari", "nmi", "n_common"])


def agreement_matrix(table: pd.DataFrame, metric: str = "ari", names: tuple[str, str] = ("method_a", "method_b"),
                     order=None) -> pd.DataFrame:
    """Square symmetric matrix of ``metric`` from a ``pairwise_agreement`` table, 1 on the diagonal
    (for a heatmap). ``order``: the row/column order; by default as the names first appear."""
    if order is None:
        order = list(dict.fromkeys([*table[names[0]], *table[names[1]]]))
    matrix = pd.DataFrame(np.eye(len(order)), index=order, columns=order)
    for a, b, value in table[[names[0], names[1], metric]].itertuples(index=False):
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def _assigned(labels) -> dict:
    """How many points a labeling assigns: assigned (their share), n_assigned and n_clusters."""
    assigned = labels >= 0
    n_assigned = int(assigned.sum())
    return {"assigned": n_assigned / len(labels) if len(labels) else float("nan"), "n_assigned": n_assigned,
            "n_clusters": len(np.unique(labels[assigned]))}


def purity(labels, y_true) -> dict:
    """purity (share of assigned points in their cluster's majority class), assigned (share of
    points in a cluster), n_assigned and n_clusters."""
    labels = _labels(labels)
    y_true = _labels(y_true, len(labels), "y_true")
    if y_true.size and y_true.min() < 0:
        raise ValueError("true labels must be >= 0")
    assigned = labels >= 0
    n_assigned = int(assigned.sum())
    clusters, index = np.unique(labels[assigned], return_inverse=True)
    if n_assigned:
        n_classes = int(y_true.max()) + 1
        counts = np.zeros((len(clusters), n_classes), dtype=np.int64)
        np.add.at(counts, (index, y_true[assigned]), 1)
        value = counts.max(axis=1).sum() / n_assigned
    else:
        value = float("nan")
    return {"purity": float(value), **_assigned(labels)}


def explained(labels, targets) -> dict:
    """A regressor's ``purity``: explained_variance (the share of the targets' variance the clusters
    explain on the points they assign, ``task.explained_variance``), assigned, n_assigned and n_clusters."""
    labels = _labels(labels)
    targets = tasks.targets_2d(targets)
    if len(targets) != len(labels):
        raise ValueError(f"targets has {len(targets)} points, expected {len(labels)}")
    return {"explained_variance": tasks.explained_variance(labels, targets), **_assigned(labels)}


def purity_of(labels, y_true, targets=None) -> dict:
    """``purity`` of a classifier's clusters, ``explained`` for a regressor's ``targets`` (N x d)."""
    return purity(labels, y_true) if targets is None else explained(labels, targets)


def purity_key(targets=None) -> str:
    """The column ``purity_of`` fills: purity, or a regressor's explained_variance."""
    return "purity" if targets is None else "explained_variance"


def purity_table(labelings: dict, y_true, targets=None) -> pd.DataFrame:
    """One row per method: method, purity, assigned, n_assigned, n_clusters; with a regressor's
    ``targets`` (N x d), explained_variance (``explained``) in place of purity."""
    rows = [{"method": name, **purity_of(labels, y_true, targets)} for name, labels in labelings.items()]
    return pd.DataFrame(rows, columns=["method", purity_key(targets), "assigned", "n_assigned", "n_clusters"])


def seed_stability(labelings_by_seed: dict) -> pd.DataFrame:
    """For one method: seed_a, seed_b, ari, nmi, n_common for every pair of seeds."""
    return pairwise_agreement(labelings_by_seed, names=("seed_a", "seed_b"))


def compositions(labels, y_true, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clusters, sizes, composition): the clusters >= 0, their sizes, and (C, n_classes) rows of
    the share of each true class among the cluster's points."""
    labels = _labels(labels)
    y_true = _labels(y_true, len(labels), "y_true")
    if n_classes is None:
        n_classes = int(y_true.max()) + 1 if y_true.size else 0
    if y_true.size and not (0 <= y_true.min() and y_true.max() < n_classes):
        raise ValueError(f"true labels must lie in 0..{n_classes - 1}")
    assigned = labels >= 0
    clusters, index = np.unique(labels[assigned], return_inverse=True)
    counts = np.zeros((len(clusters), n_classes))
    np.add.at(counts, (index, y_true[assigned]), 1)
    sizes = counts.sum(axis=1)
    return clusters, sizes.astype(np.int64), counts / np.maximum(sizes, 1)[:, None]


def match_compositions(labels_a, labels_b, y_true, n_classes: int | None = None) -> pd.DataFrame:
    """Clusters of two labelings matched one to one by label composition (Hungarian, minimum total
    TV). One row per matched pair: cluster_a, cluster_b, size_a, size_b, majority_a, majority_b, tv;
    sorted by cluster_a."""
    from scipy.optimize import linear_sum_assignment

    y_true = _labels(y_true, what="y_true")
    if n_classes is None:
        n_classes = int(y_true.max()) + 1 if y_true.size else 0
    clusters_a, sizes_a, comp_a = compositions(labels_a, y_true, n_classes)
    clusters_b, sizes_b, comp_b = compositions(labels_b, y_true, n_classes)
    tv = 0.5 * np.abs(comp_a[:, None, :] - comp_b[None, :, :]).sum(axis=2)
    rows, cols = linear_sum_assignment(tv) if tv.size else (np.empty(0, int), np.empty(0, int))
    return pd.DataFrame(
        {
            "cluster_a": clusters_a[rows],
            "cluster_b": clusters_b[cols],
            "size_a": sizes_a[rows],
            "size_b": sizes_b[cols],
            "majority_a": comp_a[rows].argmax(axis=1) if len(rows) else np.empty(0, np.int64),
            "majority_b": comp_b[cols].argmax(axis=1) if len(cols) else np.empty(0, np.int64),
            "tv": tv[rows, cols],
        }
    )


def _n_clusters(labels) -> int:
    labels = _labels(labels)
    return len(np.unique(labels[labels >= 0]))


def composition_stability(labelings_by_seed: dict, y_true, n_classes: int | None = None) -> pd.DataFrame:
    """For one method, every pair of seeds: seed_a, seed_b, clusters_a, clusters_b, matched,
    mean_tv, weighted_tv, max_tv, same_majority (see the module docstring)."""
    rows = []
    for a, b in combinations(labelings_by_seed, 2):
        matched = match_compositions(labelings_by_seed[a], labelings_by_seed[b], y_true, n_classes)
        weights = matched["size_a"] + matched["size_b"]
        empty = matched.empty
        rows.append({
            "seed_a": a,
            "seed_b": b,
            "clusters_a": _n_clusters(labelings_by_seed[a]),
            "clusters_b": _n_clusters(labelings_by_seed[b]),
            "matched": len(matched),
            "mean_tv": float("nan") if empty else float(matched["tv"].mean()),
            "weighted_tv": float("nan") if empty else float(np.average(matched["tv"], weights=weights)),
            "max_tv": float("nan") if empty else float(matched["tv"].max()),
            "same_majority": float("nan") if empty else float((matched["majority_a"] == matched["majority_b"]).mean()),
        })
    columns = ["seed_a", "seed_b", "clusters_a", "clusters_b", "matched", "mean_tv", "weighted_tv", "max_tv", "same_majority"]
    return pd.DataFrame(rows, columns=columns)
