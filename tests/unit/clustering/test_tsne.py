"""nntopo.clustering.tsne computes scikit-learn's Barnes-Hut t-SNE gradient, and so its t-SNE."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, _t_sne
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from benchmarks.tsne_forces import exact_forces, nntopo_barnes_hut
from nntopo.clustering import tsne
from nntopo.clustering.methods import make_method


def embedding(n=1500, seed=0):
    """Tight groups far apart, as t-SNE draws the study's clusters, and a few exact duplicates."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-60, 60, size=(10, 2))
    Y = centres[rng.integers(0, 10, n)] + rng.normal(scale=2.0, size=(n, 2))
    Y[-20:] = Y[:20]
    return Y.astype(np.float32)


def affinities(n, seed=0):
    """A symmetric sparse P summing to 1, 30 neighbours a point, as t-SNE's."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(n), 30)
    P = sp.csr_matrix((rng.random(len(rows)), (rows, rng.integers(0, n, len(rows)))), shape=(n, n))
    P = P + P.T
    P.setdiag(0)
    P.eliminate_zeros()
    return (P / P.sum()).tocsr().astype(np.float32)


@pytest.mark.parametrize("angle", [0.5, 0.8])
def test_gradient_and_divergence_are_sklearns(angle):
    Y = embedding()
    P = affinities(len(Y))
    args = (Y.ravel(), P, 1, len(Y), 2)
    ours_error, ours = tsne.kl_divergence_bh(*args, angle=angle)
    theirs_error, theirs = _t_sne._kl_divergence_bh(*args, angle=angle, num_threads=1)
    assert ours.dtype == theirs.dtype == np.float32
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()
    assert ours_error == pytest.approx(theirs_error, rel=1e-5)
    _, no_error = tsne.kl_divergence_bh(*args, angle=angle, compute_error=False)
    assert np.array_equal(no_error, ours)


def test_with_angle_zero_the_forces_are_exact():
    """No cell summarized: the repulsion is the exact all-pairs sum (duplicates and self excluded)."""
    Y = embedding(600)
    Y[-20:] += 1e-3  # no duplicates: exact_forces counts them, Barnes-Hut does not
    Y = Y.astype(np.float64)
    exact = exact_forces(Y)
    assert np.allclose(nntopo_barnes_hut(Y, 0.0), exact, rtol=1e-4, atol=1e-6 * np.abs(exact).max())


def test_a_point_far_from_the_rest_and_a_deep_tree():
    """Pairs of points 2e-6 apart force ~30 levels of cells beside a far point: the tree outgrows
    its first arrays (two cells a point) and is built again in larger ones."""
    pairs = [[0.3 * a + dx, 0.3 * b] for a in range(10) for b in range(10) for dx in (0.0, 2e-6)]
    Y = np.concatenate([embedding(100), pairs, [[1e4, 1e4]]]).astype(np.float32)
    order = tsne._morton_order(Y.astype(np.float64))
    assert tsne._build_tree(Y.astype(np.float64), order, 2 * len(Y) + 16)[-1] == -1
    P = affinities(len(Y))
    ours_error, ours = tsne.kl_divergence_bh(Y.ravel(), P, 1, len(Y), 2)
    theirs_error, theirs = _t_sne._kl_divergence_bh(Y.ravel(), P, 1, len(Y), 2, num_threads=1)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()


def test_a_diverged_embedding_is_named():
    Y = embedding(100)
    Y[3, 0] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite"):
        tsne.kl_divergence_bh(Y.ravel(), affinities(100), 1, 100, 2)


@pytest.fixture(scope="module")
def digits_runs():
    """sklearn's t-SNE and ours of the 1,797 digits, one thread; ours twice, and counting its calls."""
    X = load_digits().data
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("compute_error"))
        return kernel(*args, **kwargs)

    kernel = tsne.kl_divergence_bh
    with threadpool_limits(1):
        theirs = TSNE(perplexity=30, max_iter=500, init="pca", random_state=0).fit_transform(X)
        tsne.kl_divergence_bh = counted
        try:
            ours = tsne.embed(X, perplexity=30, max_iter=500, seed=0)
        finally:
            tsne.kl_divergence_bh = kernel
        again = tsne.embed(X, perplexity=30, max_iter=500, seed=0)
    return load_digits().target, theirs, ours, again, calls


def test_embed_runs_sklearns_tsne_on_this_gradient(digits_runs):
    _, _, _, _, calls = digits_runs
    assert len(calls) == 500  # every iteration's gradient came from here


def test_embed_is_reproducible(digits_runs):
    _, _, ours, again, _ = digits_runs
    assert np.array_equal(ours, again)


def test_embed_clusters_as_sklearn_does(digits_runs):
    """The embeddings differ by amplified rounding only: the same clusters, as well separated."""
    digits, theirs, ours, _, _ = digits_runs
    kmeans = make_method("kmeans", 0, {"n_clusters": 10})
    ours_labels, theirs_labels = kmeans.fit(ours.astype(np.float64)).labels, kmeans.fit(theirs.astype(np.float64)).labels
    assert adjusted_rand_score(ours_labels, theirs_labels) > 0.95
    assert adjusted_rand_score(digits, ours_labels) == pytest.approx(adjusted_rand_score(digits, theirs_labels), abs=0.03)
    assert np.ptp(ours, axis=0) == pytest.approx(np.ptp(theirs, axis=0), rel=0.1)


def test_a_layer_of_one_unit_is_embedded_from_its_own_values():
    """A regressor's output has one unit, which PCA cannot start a 2-D embedding from: t-SNE starts from
    the unit itself, and two groups far apart on it stay two clusters."""
    from nntopo.clustering.methods import METHODS

    x = np.concatenate([np.linspace(0, 1, 300), np.linspace(5, 6, 300)])[:, None]
    result = METHODS["tsne"](0, max_iter=250).fit(x)
    assert result.embedding.shape == (600, 2) and np.isfinite(result.embedding).all()
    first, second = result.labels[:300], result.labels[300:]
    assert len(set(first[first >= 0])) == 1 and len(set(second[second >= 0])) == 1
    assert set(first[first >= 0]).isdisjoint(second[second >= 0])
