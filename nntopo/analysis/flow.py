"""How the clustering of the test points changes from layer to layer, and how linearly separable the
classes are at each depth.

Inputs: labelings are (N,) integer arrays over the same test points in the same order, -1 = in no
cluster; ``labelings`` and ``features`` are dicts keyed by layer name in depth order
(``hidden_1 .. hidden_L``, then ``output``, the last); depth counts from 1 (``hidden_1``), so the
output layer has depth L + 1.

- contingency: how many points go from each cluster of one layer to each cluster of another, the
  points in no cluster (-1) counted as one more cluster.
- layer flow: per layer, its number of clusters, the share of points in none, purity, and the
  agreement (ARI, NMI) with the next layer's partition and with the output layer's, all as in
  ``nntopo.analysis.agreement``: agreement is measured on the points both labelings assign (a point
  that is -1 in either is left out), purity on the points the layer assigns.
- linear probe: a multinomial logistic regression fitted on one half of the test points (the
  fitting half, ``probe_halves``), from a layer's activations to the true class, and scored on the
  other half: the held-out accuracy says how linearly separable the classes are at that depth.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from nntopo.analysis.agreement import _labels, agreement, purity

# The probe. C = 0.1 (L2, on standardised features): with 5,000 fitting points in up to 1,024
# dimensions a weakly regularised fit reaches 100 % on the fitting half; on a trained MLP's MNIST
# activations C = 0.1 scored a little better held out than C = 1 (0.979 against 0.978). lbfgs stops
# at PROBE_TOL (scikit-learn's default); by PROBE_MAX_ITER it had converged on MNIST's pixels, hidden
# layers and outputs (48-112 iterations).
PROBE_C = 0.1
PROBE_MAX_ITER = 200
PROBE_TOL = 1e-4
# Measured on one thread (sklearn 1.9, MNIST's 10,000 test points, 5,000 fitting, on a shared 2-core
# machine): a 1,024-unit hidden layer 1.0-1.1 s (48 iterations), the 784 pixels 1.5-2.4 s (112), a
# 128-unit layer 0.1 s, the 10 outputs 0.02 s; Gaussian noise with random labels 0.45 s at 1,024
# features, 0.03-0.06 s at 128. An iteration costs about 15-20 ms at 1,024 features, so the worst
# case, PROBE_MAX_ITER iterations, is about 4 s.


def contingency(labels_a, labels_b, y_true=None) -> pd.DataFrame:
    """How many points are in cluster a of ``labels_a`` and cluster b of ``labels_b``.

    Long form, one row per pair with a nonzero count: ``cluster_a, cluster_b, count``, sorted by
    cluster_a then cluster_b; -1 (in no cluster) is a cluster of its own, so the counts sum to N.
    With ``y_true`` (the true classes, >= 0), a column ``majority_label`` too: the most common true
    class among the pair's points (the smallest class on a tie).
    """
    a = _labels(labels_a, what="labels_a")
    b = _labels(labels_b, len(a), "labels_b")
    pairs, inverse, counts = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True, return_counts=True)
    table = pd.DataFrame({"cluster_a": pairs[:, 0], "cluster_b": pairs[:, 1], "count": counts.astype(np.int64)})
    if y_true is not None:
        y = _labels(y_true, len(a), "y_true")
        if y.size and y.min() < 0:
            raise ValueError("true labels must be >= 0")
        per_class = np.zeros((len(pairs), int(y.max(initial=0)) + 1), dtype=np.int64)
        np.add.at(per_class, (inverse.ravel(), y), 1)
        table["majority_label"] = per_class.argmax(axis=1)
    return table


def layer_flow(labelings: dict[str, np.ndarray], y_true) -> pd.DataFrame:
    """One row per layer, in the dict's (depth) order, the last being the output layer.

    Columns: ``layer``; ``depth`` (1, 2, ...); ``n_clusters`` (clusters >= 0); ``unassigned_share`` (share
    of the points in no cluster); ``purity`` (share of the assigned points in their cluster's
    majority true class, ``agreement.purity``); ``ari_next``, ``nmi_next``: agreement with the next
    layer's labels (NaN for the last layer); ``ari_output``, ``nmi_output``: agreement with the last
    (output) layer's labels, so 1.0 for the output itself. Agreement is ``agreement.agreement``: the
    adjusted Rand index and the arithmetic-mean normalised mutual information on the points both
    labelings assign (points at -1 in either are left out; NaN when no point is left).
    """
    layers = list(labelings)
    if not layers:
        raise ValueError("no layers")
    output = labelings[layers[-1]]
    rows = []
    for depth, layer in enumerate(layers, start=1):
        labels = labelings[layer]
        p = purity(labels, y_true)
        after = agreement(labels, labelings[layers[depth]]) if depth < len(layers) else {"ari": np.nan, "nmi": np.nan}
        final = agreement(labels, output)
        rows.append({
            "layer": layer,
            "depth": depth,
            "n_clusters": p["n_clusters"],
            "unassigned_share": 1.0 - p["assigned"],
            "purity": p["purity"],
            "ari_next": after["ari"],
            "nmi_next": after["nmi"],
            "ari_output": final["ari"],
            "nmi_output": final["nmi"],
        })
    return pd.DataFrame(rows)


def probe_halves(n_points: int, seed: int = 0) -> np.ndarray:
    """Boolean mask (n_points,) of the probe's fitting half: the first n_points // 2 points of a
    permutation drawn by ``np.random.default_rng(seed)``; the rest is the held-out half.

    It depends only on n_points and seed, so every layer and every model (scored on the same test
    points) is probed on the same split. Not stratified: with thousands of test points each half holds
    close to the classes' shares.
    """
    n_points = int(n_points)
    if n_points < 2:
        raise ValueError(f"need at least 2 points to split, got {n_points}")
    mask = np.zeros(n_points, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n_points)[: n_points // 2]] = True
    return mask


def _probe(X: np.ndarray, y: np.ndarray, fit_mask: np.ndarray, seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    mean = X[fit_mask].mean(axis=0)
    std = X[fit_mask].std(axis=0)
    std[std == 0] = 1.0  # a unit constant on the fitting half (a dead ReLU) stays 0 after centring
    Z = (X - mean) / std
    model = LogisticRegression(C=PROBE_C, max_iter=PROBE_MAX_ITER, tol=PROBE_TOL, random_state=seed)
    # One thread: BLAS reductions then cannot depend on the machine, so the probe is reproducible.
    # A ConvergenceWarning (lbfgs hit PROBE_MAX_ITER or its line search failed) is recorded in
    # probe_converged instead of being printed once per layer; other warnings pass through.
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(Z[fit_mask], y[fit_mask])
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {
        "probe_train_accuracy": float(model.score(Z[fit_mask], y[fit_mask])),
        "probe_accuracy": float(model.score(Z[~fit_mask], y[~fit_mask])),
        "probe_converged": converged,
    }


def linear_probe(features: dict[str, np.ndarray], y, fit_mask, seed: int = 0) -> pd.DataFrame:
    """How linearly separable the true classes are in each layer's activations.

    For each layer (dict order; ``features[layer]`` is (N, units), more dimensions are flattened): the
    features are standardised with the fitting half's mean and standard deviation (a unit constant
    there is only centred), a multinomial logistic regression (scikit-learn ``LogisticRegression``,
    lbfgs, L2 with C = PROBE_C, at most PROBE_MAX_ITER iterations, tol PROBE_TOL, on one thread) is
    fitted on the points where ``fit_mask`` is True and scored on the others. ``seed`` is passed as
    ``random_state`` (lbfgs draws nothing, so the result is the same for any seed).

    One row per layer: ``layer, depth`` (1, 2, ...), ``probe_train_accuracy`` (on the fitting half),
    ``probe_accuracy`` (on the held-out half), ``probe_converged`` (False when lbfgs raised a
    ConvergenceWarning: the accuracies are then those of the last iterate).
    """
    y = _labels(y, what="y")
    fit_mask = np.asarray(fit_mask)
    if fit_mask.dtype != bool or fit_mask.shape != y.shape:
        raise ValueError(f"fit_mask must be a boolean array of shape {y.shape}, got {fit_mask.dtype} {fit_mask.shape}")
    if fit_mask.all() or not fit_mask.any():
        raise ValueError("fit_mask must leave points on both sides (fitting and held out)")
    rows = []
    for depth, (layer, X) in enumerate(features.items(), start=1):
        if len(X) != len(y):
            raise ValueError(f"{layer}: {len(X)} points for {len(y)} labels")
        rows.append({"layer": layer, "depth": depth, **_probe(X, y, fit_mask, seed)})
    return pd.DataFrame(rows, columns=["layer", "depth", "probe_train_accuracy", "probe_accuracy", "probe_converged"])
