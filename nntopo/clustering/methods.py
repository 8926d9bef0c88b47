"""Cluster points (the rows of X) by a method chosen by name.

Every method is configured in ``__init__(seed, **params)`` and has one verb, ``fit(X) -> Clustering``.
``make_method(name, seed, params)`` builds one from a config entry; a new method is one class
decorated with ``@register("name")``.

Labels are canonical: clusters are numbered 0..C-1 by decreasing size, ties by lowest first point,
and -1 means "in no cluster". Two runs that find the same partition therefore give equal labels.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from nntopo.clustering.graph import MapperGraph, graph_layout
from nntopo.clustering.mapper import node_lists, partition, point_groups, shared_points


@dataclass(frozen=True, eq=False)
class Clustering:
    labels: np.ndarray  # (N,) int64, clusters 0..C-1, -1 for points in no cluster
    embedding: np.ndarray | None = None  # (N, 2) float32 where the method draws the points
    graph: MapperGraph | None = None

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max(initial=-1)) + 1


class Method:
    """A clustering method: configured in ``__init__``, run by ``fit``."""

    name: ClassVar[str] = ""
    embeds: ClassVar[bool] = False  # its Clustering has an embedding (the figures draw points with it)
    makes_graph: ClassVar[bool] = False  # its Clustering has a Mapper graph

    def __init__(self, seed: int):
        self.seed = int(seed)

    def fit(self, X) -> Clustering:
        raise NotImplementedError

    def check_points(self, n_points: int) -> None:
        """Raise ValueError, naming the parameter, when ``n_points`` points are too few for this setting."""


def _at_most(name: str, value, n_points: int, strict: bool = False) -> None:
    if value > n_points - strict:
        limit = f"less than {n_points}" if strict else f"at most {n_points}"
        raise ValueError(f"{name} is {value}, but there are only {n_points} points to cluster; use {limit}")


METHODS: dict[str, type[Method]] = {}


def register(name: str):
    """Class decorator: make a Method available to ``make_method`` under ``name``."""

    def add(cls: type[Method]) -> type[Method]:
        cls.name = name
        METHODS[name] = cls
        return cls

    return add


def make_method(name: str, seed: int, params: dict | None = None) -> Method:
    """The method ``name`` configured with ``params``; ValueError names an unknown method or parameter."""
    if name not in METHODS:
        raise ValueError(f"unknown clustering method {name!r}; known methods: {', '.join(sorted(METHODS))}")
    cls = METHODS[name]
    params = dict(params or {})
    signature = inspect.signature(cls.__init__)
    allowed = [p for p in signature.parameters if p not in ("self", "seed")]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"clustering method {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(allowed) or 'none'}"
        )
    for key, value in params.items():
        expected = signature.parameters[key].annotation
        if not _fits(value, expected):
            raise ValueError(f"{name}.{key}: {value!r} is not {expected}")
    return cls(seed, **params)


# The annotations the methods' parameters use, as the types a config value may have.
_ANNOTATION_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,),
                     "None": (type(None),)}


def _fits(value, annotation) -> bool:
    """Whether a config value fits a parameter annotated like "int" or "float | None"."""
    if not isinstance(annotation, str):
        return True
    allowed = [t for part in annotation.split("|") for t in _ANNOTATION_TYPES.get(part.strip(), (object,))]
    if isinstance(value, bool) and bool not in allowed:  # True is an int to Python, not to a config
        return False
    return isinstance(value, tuple(allowed))


def _at_least(name: str, value, minimum) -> None:
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


def _above(name: str, value, bound) -> None:
    if not value > bound:
        raise ValueError(f"{name} must be more than {bound}, got {value}")


def canonical_labels(labels) -> np.ndarray:
    """Renumber clusters 0..C-1 by decreasing size, ties by lowest first point; -1 stays -1."""
    labels = np.asarray(labels, dtype=np.int64)
    inside = labels >= 0
    ids, first, counts = np.unique(labels[inside], return_index=True, return_counts=True)
    new_id = np.empty(len(ids), dtype=np.int64)
    new_id[np.lexsort((first, -counts))] = np.arange(len(ids))
    out = np.full_like(labels, -1)
    out[inside] = new_id[np.searchsorted(ids, labels[inside])]
    return out


def _as_points(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"expected a non-empty 2-D array of points, got shape {X.shape}")
    return X


def coincide(X) -> bool:
    """Whether all points are one and the same (e.g. the constant logits of a network whose hidden
    layer is dead for every input)."""
    X = _as_points(X)
    return bool((X == X[0]).all())


def cluster_points(method: Method, X) -> Clustering:
    """``method.fit(X)``; but when all points coincide there is nothing to separate, and no method is
    asked (t-SNE crashes the process on such input, DBSCAN refuses a zero radius): one cluster holds
    every point, the embedding is all zeros, and a graph is one node."""
    if not coincide(X):
        return method.fit(X)
    n = len(X)
    embedding = np.zeros((n, 2), dtype=np.float32) if method.embeds else None
    graph = None
    if method.makes_graph:
        graph = MapperGraph(np.array([0, n], dtype=np.int64), np.arange(n, dtype=np.int64),
                            np.zeros((0, 2), dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros((1, 2)))
    return Clustering(np.zeros(n, dtype=np.int64), embedding, graph)


@register("kmeans")
class KMeansMethod(Method):
    """k-means (Lloyd, k-means++ seeding) on the rows of X."""

    def __init__(self, seed: int, *, n_clusters: int = 10, n_init: int = 10):
        super().__init__(seed)
        _at_least("kmeans n_clusters", n_clusters, 1)
        _at_least("kmeans n_init", n_init, 1)
        self.n_clusters = n_clusters
        self.n_init = n_init

    def fit(self, X) -> Clustering:
        from sklearn.cluster import KMeans

        km = KMeans(self.n_clusters, n_init=self.n_init, random_state=self.seed)
        # One thread: the reductions' order then cannot depend on the machine, and at these
        # sizes OpenMP costs more than it saves.
        with threadpool_limits(1):
            labels = km.fit_predict(_as_points(X))
        return Clustering(canonical_labels(labels))

    def check_points(self, n_points: int) -> None:
        _at_most("n_clusters", self.n_clusters, n_points)


@register("hdbscan")
class HDBSCANMethod(Method):
    """HDBSCAN (sklearn); points it calls noise get -1. Deterministic, so the seed is unused.

    Mostly a clusterer for the 2-D embeddings of tsne and umap, where density is meaningful.
    """

    def __init__(self, seed: int, *, min_cluster_size: int = 50, min_samples: int | None = None):
        super().__init__(seed)
        _at_least("hdbscan min_cluster_size", min_cluster_size, 2)
        if min_samples is not None:
            _at_least("hdbscan min_samples", min_samples, 1)
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples

    def fit(self, X) -> Clustering:
        from sklearn.cluster import HDBSCAN

        # copy=True: leave X alone, and silence sklearn's warning that this default changes.
        hdb = HDBSCAN(min_cluster_size=self.min_cluster_size, min_samples=self.min_samples, copy=True)
        return Clustering(canonical_labels(hdb.fit_predict(_as_points(X))))

    def check_points(self, n_points: int) -> None:
        _at_most("min_cluster_size", self.min_cluster_size, n_points)
        if self.min_samples is not None:
            _at_most("min_samples", self.min_samples, n_points)


class EmbedThenCluster(Method):
    """Embed X in 2-D, then cluster the embedding with a registered method.

    ``clusterer`` is that method's config entry, by default ``{"name": "hdbscan", "min_cluster_size": 50}``
    (finds the number of clusters itself; -1 for noise), or e.g. ``{"name": "kmeans", "n_clusters": 10}``.
    """

    embeds = True

    def __init__(self, seed: int, clusterer: dict | None):
        super().__init__(seed)
        spec = dict(clusterer or {"name": "hdbscan", "min_cluster_size": 50})
        if "name" not in spec:
            raise ValueError(f"clusterer {spec} has no 'name'; known methods: {', '.join(sorted(METHODS))}")
        self.clusterer = make_method(spec.pop("name"), seed, spec)

    def embed(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, X) -> Clustering:
        embedding = np.asarray(self.embed(_as_points(X)), dtype=np.float64)
        labels = self.clusterer.fit(embedding).labels
        return Clustering(labels, embedding=embedding.astype(np.float32))

    def check_points(self, n_points: int) -> None:
        try:
            self.clusterer.check_points(n_points)
        except ValueError as error:
            raise ValueError(f"clusterer {self.clusterer.name}: {error}") from None


@register("tsne")
class TSNEMethod(EmbedThenCluster):
    """Barnes-Hut t-SNE to 2-D (PCA init), then ``clusterer``.

    scikit-learn's TSNE with its gradient computed by nntopo.clustering.tsne: the same approximation, 3x
    faster on one thread. Not openTSNE: on the study's embeddings (10 tight groups ~130 units
    apart) its FFT forces are as accurate as Barnes-Hut's only at twice the cost per iteration
    (benchmarks/tsne_forces.py). ``max_iter`` drives the run time.
    """

    def __init__(
        self,
        seed: int,
        *,
        perplexity: float = 30.0,
        max_iter: int = 750,
        clusterer: dict | None = None,
    ):
        super().__init__(seed, clusterer)
        _above("tsne perplexity", perplexity, 0)
        _at_least("tsne max_iter", max_iter, 250)  # scikit-learn's floor
        self.perplexity = perplexity
        self.max_iter = max_iter

    def embed(self, X: np.ndarray) -> np.ndarray:
        from nntopo.clustering import tsne

        return tsne.embed(X, perplexity=self.perplexity, max_iter=self.max_iter, seed=self.seed)

    def check_points(self, n_points: int) -> None:
        _at_most("perplexity", self.perplexity, n_points, strict=True)
        super().check_points(n_points)


@register("umap")
class UMAPMethod(EmbedThenCluster):
    """UMAP to 2-D on an exact k-nearest-neighbour graph, then ``clusterer``.

    The neighbour graph comes from sklearn and is handed to UMAP: UMAP's own search (pynndescent)
    spends ~20 s compiling numba code in every fresh process. With a seed UMAP runs single-threaded.
    ``n_epochs: null`` lets UMAP choose: 500 up to 10,000 points, 200 above (twice the time at N=10k).
    """

    # Metrics that both scikit-learn's neighbour search and UMAP take without further parameters.
    METRICS = ("euclidean", "manhattan", "chebyshev", "cosine", "correlation", "canberra", "braycurtis")

    def __init__(
        self,
        seed: int,
        *,
        n_neighbors: int = 15,
        min_dist: float = 0.1,
        metric: str = "euclidean",
        n_epochs: int | None = 200,
        clusterer: dict | None = None,
    ):
        super().__init__(seed, clusterer)
        _at_least("umap n_neighbors", n_neighbors, 2)
        if not 0 <= min_dist <= 1:  # UMAP's spread is 1
            raise ValueError(f"umap min_dist must lie in [0, 1], got {min_dist}")
        if n_epochs is not None:
            _at_least("umap n_epochs", n_epochs, 1)
        if metric not in self.METRICS:
            raise ValueError(f"unknown umap metric {metric!r}; choose one of: {', '.join(self.METRICS)}")
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs

    def embed(self, X: np.ndarray) -> np.ndarray:
        from sklearn.neighbors import NearestNeighbors
        import umap
        from umap import layouts, umap_

        # UMAP leaves these numba functions uncached, so every fresh process compiled them again
        # (5 s of a 9 s job). Cached in NUMBA_CACHE_DIR (nntopo/workflow/jobs.py) like the rest of its code.
        for function in (umap_.smooth_knn_dist, umap_.compute_membership_strengths,
                         layouts._nb_optimize_layout_euclidean_single_epoch):
            function.enable_caching()
        k = self.n_neighbors
        # Querying with X itself makes each point its own first neighbour, as UMAP expects.
        dists, indices = NearestNeighbors(n_neighbors=k, metric=self.metric).fit(X).kneighbors(X)
        reducer = umap.UMAP(
            n_neighbors=k,
            min_dist=self.min_dist,
            metric=self.metric,
            n_epochs=self.n_epochs,
            random_state=self.seed,
            precomputed_knn=(indices, dists, None),
        )
        with warnings.catch_warnings():
            # Expected here: n_jobs forced to 1 by the seed, and no search index kept for transform.
            warnings.filterwarnings("ignore", message="n_jobs value .* overridden")
            warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
            return reducer.fit_transform(X)

    def check_points(self, n_points: int) -> None:
        _at_most("n_neighbors", self.n_neighbors, n_points)
        super().check_points(n_points)


def _pca_lens(X: np.ndarray) -> np.ndarray:
    """The first two principal components of X; a layer of one unit (a regressor's output) is its own lens."""
    from sklearn.decomposition import PCA

    return PCA(n_components=min(2, X.shape[1]), svd_solver="full").fit_transform(X)


def _norm_max_lens(X: np.ndarray) -> np.ndarray:
    return np.column_stack([np.linalg.norm(X, axis=1), X.max(axis=1)])


@register("mapper")
class MapperMethod(Method):
    """Mapper (KeplerMapper): a 2-D lens, a cover of ``n_cubes`` x ``n_cubes`` overlapping cubes,
    DBSCAN on X within each cube. Nodes are the DBSCAN clusters; an edge joins two nodes sharing points.

    Lenses: ``pca`` (first two principal components of X; X itself, a 1-D cover, for one column), ``norm_max`` (L2 norm and largest
    coordinate of each row: for logits, size and confidence). The lens is the embedding.
    ``eps: null`` takes DBSCAN's radius from the data: the ``eps_quantile`` quantile of the distance
    of a point to its ``min_samples``-th nearest neighbour, so the default follows the scale of X.
    (On MNIST logits the median leaves the confident points, sparse far out along the lens, in no
    node: a third of them, though what is covered splits into nearly pure components. The 0.8
    quantile with a finer, more overlapping cover keeps ~90% in one component, which the
    communities split into 10 clusters of purity 0.74-0.95 on the default models: coverage traded
    for purity.)

    Nodes overlap, so a point gets one label by partitioning the graph (``partition``):

    - ``components``: connected components. All nodes of a point lie in one component.
    - ``communities``: Louvain communities (seeded; edges weighted by the number of shared points),
      numbered by their lowest node. A point takes the community holding most of its nodes,
      ties to the lowest community number. A community that wins no point has node_cluster -1.
    - ``auto`` (default): components, unless the largest component covers more than ``giant`` of
      the covered points; one giant component separates nothing, so then communities.

    Points in no node (DBSCAN noise in every cube containing them) get -1.
    """

    embeds = True
    makes_graph = True
    LENSES = {"pca": _pca_lens, "norm_max": _norm_max_lens}
    PARTITIONS = ("auto", "components", "communities")

    def __init__(
        self,
        seed: int,
        *,
        lens: str = "pca",
        n_cubes: int = 20,
        perc_overlap: float = 0.5,
        eps: float | None = None,
        eps_quantile: float = 0.8,
        min_samples: int = 10,
        partition: str = "auto",
        giant: float = 0.5,
        resolution: float = 2.0,
    ):
        super().__init__(seed)
        if lens not in self.LENSES:
            raise ValueError(f"unknown mapper lens {lens!r}; known lenses: {', '.join(self.LENSES)}")
        if partition not in self.PARTITIONS:
            raise ValueError(f"unknown mapper partition {partition!r}; choose one of: {', '.join(self.PARTITIONS)}")
        _at_least("mapper n_cubes", n_cubes, 1)
        _at_least("mapper min_samples", min_samples, 1)
        if eps is not None:
            _above("mapper eps", eps, 0)
        _above("mapper resolution", resolution, 0)
        if not 0 < giant <= 1:
            raise ValueError(f"mapper giant must lie in (0, 1], got {giant}")
        if not 0 <= perc_overlap < 1 or not 0 < eps_quantile <= 1:
            raise ValueError("mapper perc_overlap must lie in [0, 1) and eps_quantile in (0, 1]")
        self.lens = lens
        self.n_cubes = n_cubes
        self.perc_overlap = perc_overlap
        self.eps = eps
        self.eps_quantile = eps_quantile
        self.min_samples = min_samples
        self.partition = partition
        self.giant = giant
        self.resolution = resolution

    def fit(self, X) -> Clustering:
        import kmapper
        from sklearn.cluster import DBSCAN

        X = _as_points(X)
        lens = self.LENSES[self.lens](X)
        dbscan = DBSCAN(eps=self.radius(X), min_samples=self.min_samples)
        cover = kmapper.Cover(n_cubes=self.n_cubes, perc_overlap=self.perc_overlap)
        mapper = kmapper.KeplerMapper(verbose=0)
        nodes = mapper.map(lens, X, clusterer=dbscan, cover=cover, remove_duplicate_nodes=True)["nodes"]
        node_ptr, node_points = node_lists(nodes)
        edges, weights = shared_points(node_ptr, node_points, len(X))
        node_group = partition(node_ptr, node_points, edges, weights, len(X), rule=self.partition,
                               giant=self.giant, resolution=self.resolution, seed=self.seed)
        point_group = point_groups(node_ptr, node_points, node_group, len(X))
        labels = canonical_labels(point_group)
        group_label = np.full(node_group.max(initial=-1) + 1, -1, dtype=np.int64)
        group_label[point_group[labels >= 0]] = labels[labels >= 0]
        graph = MapperGraph(node_ptr, node_points, edges, group_label[node_group],
                            graph_layout(len(node_ptr) - 1, edges, self.seed))
        # A one-column lens (a layer of one unit) is drawn at height 0: the figures' embeddings are 2-D.
        embedding = np.column_stack([lens, np.zeros((len(lens), 2 - lens.shape[1]))])
        return Clustering(labels, embedding=embedding.astype(np.float32), graph=graph)

    def check_points(self, n_points: int) -> None:
        if self.eps is None:  # the radius comes from each point's min_samples-th other point
            _at_most("min_samples", self.min_samples, n_points, strict=True)

    def radius(self, X: np.ndarray) -> float:
        """DBSCAN's radius on X: eps when set, else the eps_quantile of the min_samples-th neighbour distances."""
        if self.eps is not None:
            return float(self.eps)
        from sklearn.neighbors import NearestNeighbors

        dists, _ = NearestNeighbors(n_neighbors=self.min_samples).fit(X).kneighbors()
        eps = float(np.quantile(dists[:, -1], self.eps_quantile))
        if eps == 0:  # most points have min_samples exact duplicates: the smallest distance there is
            eps = float(dists[dists > 0].min()) if (dists > 0).any() else 1.0
        return eps
