import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from nntopo.clustering.methods import METHODS, Clustering, canonical_labels, make_method

# Small settings that keep each fit well under a second (UMAP's first call compiles numba code).
PARAMS = {
    "kmeans": {"n_clusters": 5},
    "hdbscan": {"min_cluster_size": 20},
    "tsne": {"max_iter": 250, "clusterer": {"name": "kmeans", "n_clusters": 5}},
    "umap": {"n_neighbors": 10, "clusterer": {"name": "hdbscan", "min_cluster_size": 20}},
    "mapper": {"n_cubes": 5, "perc_overlap": 0.3, "eps": 5.0, "min_samples": 5},
}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=600, n_features=10, centers=5, random_state=0)


@pytest.fixture(scope="module")
def fits(blobs):
    """Each method fitted twice with the same seed."""
    X, _ = blobs
    return {name: [make_method(name, 0, params).fit(X) for _ in range(2)] for name, params in PARAMS.items()}


def test_every_registered_method_is_tested():
    assert set(PARAMS) == set(METHODS)


@pytest.mark.parametrize("name", PARAMS)
def test_recovers_separated_blobs(name, blobs, fits):
    _, y = blobs
    result = fits[name][0]
    assert isinstance(result, Clustering)
    assert result.labels.dtype == np.int64 and result.labels.shape == y.shape
    assert adjusted_rand_score(y, result.labels) > 0.9


@pytest.mark.parametrize("name", PARAMS)
def test_same_seed_same_result(name, fits):
    first, second = fits[name]
    assert np.array_equal(first.labels, second.labels)
    if first.embedding is not None:
        assert first.embedding.dtype == np.float32 and first.embedding.shape == (len(first.labels), 2)
        assert np.array_equal(first.embedding, second.embedding)


@pytest.mark.parametrize("name", PARAMS)
def test_labels_are_canonical(name, fits):
    labels = fits[name][0].labels
    assert np.array_equal(labels, canonical_labels(labels))
    sizes = np.bincount(labels[labels >= 0])
    assert sizes.min() > 0 and np.all(np.diff(sizes) <= 0)


@pytest.mark.parametrize("name", ["kmeans", "tsne"])
def test_one_thread_gives_the_same_labels(name, blobs, fits):
    with threadpool_limits(1):
        single = make_method(name, 0, PARAMS[name]).fit(blobs[0])
    assert np.array_equal(single.labels, fits[name][0].labels)


def test_canonical_labels_order_by_size_then_first_point():
    assert canonical_labels([5, 5, 2, -1, 2, 2, 7]).tolist() == [1, 1, 0, -1, 0, 0, 2]
    assert canonical_labels([3, 3, 1, 1]).tolist() == [0, 0, 1, 1]


def test_unknown_method_names_it_and_the_known_ones():
    with pytest.raises(ValueError, match=r"'spectral'.*kmeans.*mapper.*tsne.*umap"):
        make_method("spectral", 0, {})


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match=r"'n_clusterz'.*n_clusters"):
        make_method("kmeans", 0, {"n_clusterz": 3})
    with pytest.raises(ValueError, match="'seed'"):
        make_method("kmeans", 0, {"seed": 3})


@pytest.mark.parametrize(
    "name, params, named",
    [
        ("tsne", {"clusterer": {"name": "optics"}}, "'optics'"),
        ("umap", {"clusterer": {"n_clusters": 3}}, "no 'name'"),
        ("umap", {"clusterer": {"name": "kmeans", "k": 3}}, "'k'"),
        ("mapper", {"lens": "magic"}, "'magic'"),
        ("mapper", {"partition": "best"}, "'best'"),
    ],
)
def test_bad_nested_settings_are_named(name, params, named):
    with pytest.raises(ValueError, match=named):
        make_method(name, 0, params)


def check_graph(result):
    """The CSR membership, edges and node clusters agree with each other and with the labels."""
    graph, labels = result.graph, result.labels
    assert graph.node_ptr[0] == 0 and graph.node_ptr[-1] == len(graph.node_points)
    assert np.all(np.diff(graph.node_ptr) > 0)
    members = [set(graph.points(i).tolist()) for i in range(graph.n_nodes)]
    covered = set().union(*members)
    assert covered == set(np.flatnonzero(labels >= 0).tolist())  # labelled <=> in some node
    # An edge exactly where two nodes share points, listed once as i < j, sorted.
    sharing = [[i, j] for i in range(graph.n_nodes) for j in range(i + 1, graph.n_nodes) if members[i] & members[j]]
    assert graph.edges.tolist() == sharing
    # Each point's label is the cluster of most of its nodes.
    for point in covered:
        votes = np.bincount([graph.node_cluster[i] for i in range(graph.n_nodes) if point in members[i]])
        assert votes[labels[point]] == votes.max()


def test_mapper_components_of_two_far_blobs():
    X, y = make_blobs(n_samples=300, n_features=10, centers=[[-10] * 10, [10] * 10], random_state=1)
    params = {"n_cubes": 5, "perc_overlap": 0.3, "eps": 5.0, "min_samples": 5, "partition": "components"}
    result = make_method("mapper", 0, params).fit(X)
    assert result.n_clusters == 2
    labelled = result.labels >= 0
    assert labelled.mean() > 0.95  # the rest is DBSCAN noise
    assert adjusted_rand_score(y[labelled], result.labels[labelled]) == 1.0
    check_graph(result)
    # The layout every figure and page draws is computed once, with the graph.
    from nntopo.clustering.graph import graph_layout

    graph = result.graph
    assert np.array_equal(graph.positions, graph_layout(graph.n_nodes, graph.edges, seed=0))


@pytest.fixture(scope="module")
def bridged():
    """Two blobs joined by a thin line of points: one connected Mapper graph."""
    rng = np.random.default_rng(0)
    left, right = rng.normal((-10, 0), 1, (300, 2)), rng.normal((10, 0), 1, (300, 2))
    bridge = np.column_stack([np.linspace(-10, 10, 200), rng.normal(0, 0.2, 200)])
    return np.vstack([left, right, bridge])


def test_mapper_communities_split_a_connected_graph(bridged):
    params = {"n_cubes": 5, "perc_overlap": 0.3, "eps": 1.0, "min_samples": 5, "resolution": 1.0}
    whole = make_method("mapper", 0, {**params, "partition": "components"}).fit(bridged)
    assert whole.n_clusters == 1
    auto = make_method("mapper", 0, params).fit(bridged)  # one giant component -> communities
    chosen = make_method("mapper", 0, {**params, "partition": "communities"}).fit(bridged)
    assert np.array_equal(auto.labels, chosen.labels)
    assert auto.n_clusters >= 2
    blob_side = np.repeat([0, 1], 300)
    assert adjusted_rand_score(blob_side, auto.labels[:600]) > 0.9
    check_graph(auto)
