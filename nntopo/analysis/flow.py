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

from nntopo import task as tasks
from nntopo.analysis.agreement import _labels, agreement, purity_key, purity_of

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
# A regressor's probe: ridge with alpha = 1 (scikit-learn's default) on the same standardised features.
# Against a fitting half of thousands of points it shrinks little, so R^2 is close to least squares', and
# it keeps a dead or duplicated unit from making the fit singular. Solved in closed form (no iterations).
# Measured: an MLP 256x256 fitted to sin(pi x) sin(pi y) on 10,000 points of the square (MSE 1.4e-4),
# 5,000 fitting: held-out R^2 of the input -0.001 (the target is not linear in it), of hidden_1 0.9998,
# 0.9995 and 0.9961 at alpha 0.001, 1 and 100, of hidden_2 and the output 1.000 at alpha 1; the four layers
# in 0.26 s on one thread.
PROBE_ALPHA = 1.0


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


def layer_flow(labelings: dict[str, np.ndarray], y_true, targets=None) -> pd.DataFrame:
    """One row per layer, in the dict's (depth) order, the last being the output layer.

    Columns: ``layer``; ``depth`` (1, 2, ...); ``n_clusters`` (clusters >= 0); ``unassigned_share`` (share
    of the points in no cluster); ``purity`` (share of the assigned points in their cluster's
    majority true class, ``agreement.purity``); ``ari_next``, ``nmi_next``: agreement with the next
    layer's labels (NaN for the last layer); ``ari_output``, ``nmi_output``: agreement with the last
    (output) layer's labels, so 1.0 for the output itself. Agreement is ``agreement.agreement``: the
    adjusted Rand index and the arithmetic-mean normalised mutual information on the points both
    labelings assign (points at -1 in either are left out; NaN when no point is left).

    With a regressor's ``targets`` (N x d), ``explained_variance`` (``agreement.explained``) in place of
    ``purity``.
    """
    layers = list(labelings)
    if not layers:
        raise ValueError("no layers")
    output = labelings[layers[-1]]
    rows = []
    key = purity_key(targets)
    for depth, layer in enumerate(layers, start=1):
        labels = labelings[layer]
        p = purity_of(labels, y_true, targets)
        after = agreement(labels, labelings[layers[depth]]) if depth < len(layers) else {"ari": np.nan, "nmi": np.nan}
        final = agreement(labels, output)
        rows.append({
            "layer": layer,
            "depth": depth,
            "n_clusters": p["n_clusters"],
            "unassigned_share": 1.0 - p["assigned"],
            key: p[key],
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


def _standardised(X, fit_mask: np.ndarray) -> np.ndarray:
    """X (flattened to N x features) standardised with the fitting half's mean and standard deviation;
    a unit constant there (a dead ReLU) is only centred, so it stays 0."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    mean = X[fit_mask].mean(axis=0)
    std = X[fit_mask].std(axis=0)
    std[std == 0] = 1.0
    return (X - mean) / std


def _probe(X: np.ndarray, y: np.ndarray, fit_mask: np.ndarray, seed: int) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    Z = _standardised(X, fit_mask)
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


def _ridge_probe(X: np.ndarray, targets: np.ndarray, fit_mask: np.ndarray) -> dict:
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from threadpoolctl import threadpool_limits

    Z = _standardised(X, fit_mask)
    with threadpool_limits(1):  # one thread, as the classifier's probe: the same numbers on any machine
        model = Ridge(alpha=PROBE_ALPHA).fit(Z[fit_mask], targets[fit_mask])
        fitted, held_out = model.predict(Z[fit_mask]), model.predict(Z[~fit_mask])
    return {"probe_train_r2": float(r2_score(targets[fit_mask], fitted, multioutput="uniform_average")),
            "probe_r2": float(r2_score(targets[~fit_mask], held_out, multioutput="uniform_average"))}


def linear_probe(features: dict[str, np.ndarray], y, fit_mask, seed: int = 0, targets=None) -> pd.DataFrame:
    """How linearly separable the true classes are in each layer's activations (a regressor's: how
    much of its target a linear read-out recovers).

    For each layer (dict order; ``features[layer]`` is (N, units), more dimensions are flattened): the
    features are standardised with the fitting half's mean and standard deviation (a unit constant
    there is only centred), a multinomial logistic regression (scikit-learn ``LogisticRegression``,
    lbfgs, L2 with C = PROBE_C, at most PROBE_MAX_ITER iterations, tol PROBE_TOL, on one thread) is
    fitted on the points where ``fit_mask`` is True and scored on the others. ``seed`` is passed as
    ``random_state`` (lbfgs draws nothing, so the result is the same for any seed).

    One row per layer: ``layer, depth`` (1, 2, ...), ``probe_train_accuracy`` (on the fitting half),
    ``probe_accuracy`` (on the held-out half), ``probe_converged`` (False when lbfgs raised a
    ConvergenceWarning: the accuracies are then those of the last iterate).

    With a regressor's ``targets`` (N x d): a ridge regression (scikit-learn ``Ridge``, alpha =
    PROBE_ALPHA, with an unpenalised intercept, solved in closed form on one thread) from the same
    standardised features to the targets, fitted on the same half; ``probe_train_r2`` and ``probe_r2``
    are the coefficients of determination (scikit-learn ``r2_score``, the mean over the d targets) on
    the fitting and the held-out half, in place of the accuracies and ``probe_converged``. R^2 is 1 for a
    perfect read-out, 0 for one no better than the held-out half's mean target, and can be negative.
    """
    y = _labels(y, what="y")
    fit_mask = np.asarray(fit_mask)
    if fit_mask.dtype != bool or fit_mask.shape != y.shape:
        raise ValueError(f"fit_mask must be a boolean array of shape {y.shape}, got {fit_mask.dtype} {fit_mask.shape}")
    if fit_mask.all() or not fit_mask.any():
        raise ValueError("fit_mask must leave points on both sides (fitting and held out)")
    if targets is not None:
        targets = tasks.targets_2d(targets)
        if len(targets) != len(y):
            raise ValueError(f"{len(targets)} targets for {len(y)} labels")
    rows = []
    for depth, (layer, X) in enumerate(features.items(), start=1):
        if len(X) != len(y):
            raise ValueError(f"{layer}: {len(X)} points for {len(y)} labels")
        probe = _probe(X, y, fit_mask, seed) if targets is None else _ridge_probe(X, targets, fit_mask)
        rows.append({"layer": layer, "depth": depth, **probe})
    scores = (["probe_train_accuracy", "probe_accuracy", "probe_converged"] if targets is None
              else ["probe_train_r2", "probe_r2"])
    return pd.DataFrame(rows, columns=["layer", "depth", *scores])
