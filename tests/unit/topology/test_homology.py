"""Persistent homology (nntopo.topology.homology and the homology stage) against what is known by hand.

Betti numbers of the k-NN hop-distance Vietoris-Rips complex are checked on clouds whose homology
is known (circles, a figure eight, a sphere, a disk, blobs) and recomputed on small random clouds by
independent code (own k-NN graph, own clique complex, own rank over GF(2)); barcodes, bottleneck and
Wasserstein distances are checked on hand-worked diagrams.
"""

import itertools
import json
import math

import h5py
import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from nntopo import store
from nntopo.config import ConfigError
from nntopo.store import ClassHomology, Homology, StoreError
from nntopo.topology import homology, stage
from nntopo.topology.homology import betti_at, diagrams, distances, furthest_point_sample, hop_distances, rips_betti

NOISE = 1e-3  # far below every neighbour spacing below, so it only breaks ties between equal distances


def circle(n, radius=1.0, centre=(0.0, 0.0), phase=0.0):
    """``n`` evenly spaced points on a circle."""
    t = phase + 2 * np.pi * np.arange(n) / n
    return np.column_stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)])


def noisy(points, seed=0, scale=NOISE):
    return points + np.random.default_rng(seed).normal(0, scale, points.shape)


def fibonacci_sphere(n):
    """``n`` nearly evenly spread points on the unit sphere (the golden-angle spiral)."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    return np.column_stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)])


def grid_disk(radius=1.0, spacing=0.1, centre=(0.0, 0.0)):
    """The points of a square grid that lie in a disk."""
    axis = np.arange(-radius, radius + spacing / 2, spacing)
    xy = np.array([(x, y) for x in axis for y in axis if x * x + y * y <= radius * radius + 1e-9])
    return xy + np.asarray(centre)


def all_scales(points, k, epsilon, maxdim=1):
    """The Betti numbers at every scale 1 .. epsilon, as a list of rows."""
    return rips_betti(points, k, epsilon, maxdim).numbers.tolist()


# --- known homology. A cloud of evenly spaced points with a tiny noise: k is a few neighbour spacings,
# so the k-NN graph follows the shape and never jumps a gap that is many spacings wide; the Betti
# numbers must be the shape's at every hop scale 1 .. epsilon = 2.

def test_circle_has_one_component_and_one_loop():
    """100 points on a circle, k = 4: the graph is the cycle with chords to the second neighbour
    (spacing 0.063, the third neighbour is 0.19 away), whose Rips complexes at 1 and 2 hops are
    circles (Adamaszek and Adams: VR(C_n, r) is a circle while r / n < 1/3)."""
    assert all_scales(noisy(circle(100)), k=4, epsilon=2) == [[1, 1], [1, 1]]


def test_two_disjoint_circles():
    """Two unit circles whose centres are 3 apart (a gap of 1, sixteen neighbour spacings)."""
    points = noisy(np.vstack([circle(100), circle(100, centre=(3.0, 0.0))]))
    assert all_scales(points, k=4, epsilon=2) == [[2, 2], [2, 2]]


def test_figure_eight_has_two_loops():
    """Two unit circles touching at the origin (a wedge of two circles: b0 = 1, b1 = 2). Near the
    point of contact the circles run side by side, so k = 6 lets the graph fill the thin wedges
    between them rather than leave spurious small loops there. Both circles hold the origin itself:
    the duplicate is merged."""
    points = np.vstack([circle(100, centre=(-1.0, 0.0)), circle(100, centre=(1.0, 0.0), phase=np.pi)])
    assert np.sum(np.all(np.abs(points) < 1e-12, axis=1)) == 2  # the touching point, twice
    assert all_scales(points, k=6, epsilon=2) == [[1, 2], [1, 2]]
    assert all_scales(noisy(points), k=6, epsilon=2) == [[1, 2], [1, 2]]


def test_sphere_has_a_void():
    """500 points of a Fibonacci sphere, k = 10, maxdim 2: b = (1, 0, 1) at 1 and 2 hops."""
    assert all_scales(noisy(fibonacci_sphere(500)), k=10, epsilon=2, maxdim=2) == [[1, 0, 1], [1, 0, 1]]


def test_disk_is_contractible():
    """A square grid in the unit disk, k = 8 (the 4 side and 4 diagonal neighbours): every grid square
    is a 4-clique, so the complex is a filled disk."""
    assert all_scales(noisy(grid_disk()), k=8, epsilon=2) == [[1, 0], [1, 0]]


def test_three_separate_blobs():
    """Three grid disks of radius 0.5 with centres 5 apart: three contractible components."""
    points = np.vstack([grid_disk(0.5, centre=c) for c in [(0, 0), (5, 0), (0, 5)]])
    assert all_scales(noisy(points), k=8, epsilon=2) == [[3, 0], [3, 0]]


# --- the hop distance on a hand-drawn graph

# On a line at 0, 1, 3, 7, 12, 20 (gaps 1, 2, 4, 5, 8; no two distances from one point are equal), each
# point's 2 nearest are: 0 -> 1, 3; 1 -> 0, 3; 3 -> 1, 0; 7 -> 3, 12; 12 -> 7, 20; 20 -> 12, 7. The
# symmetric graph is the triangle {0, 1, 3}, the edge 3-7 and the triangle {7, 12, 20}; its edge
# 7-20 is there only because 20 counts 7 among its nearest (7 does not count 20).
LINE = np.array([[0.0], [1.0], [3.0], [7.0], [12.0], [20.0]])
LINE_HOPS = np.array([
    [0, 1, 1, 2, 3, 3],
    [1, 0, 1, 2, 3, 3],
    [1, 1, 0, 1, 2, 2],
    [2, 2, 1, 0, 1, 1],
    [3, 3, 2, 1, 0, 1],
    [3, 3, 2, 1, 1, 0],
])


def test_hop_distances_on_a_hand_drawn_graph():
    """k = 2: the exact hop distances; with max_hops 3 every pair is present, with 2 the pairs 3 hops
    apart are missing (no entry, which ripser reads as infinitely far)."""
    full = hop_distances(LINE, k=2, max_hops=3)
    assert np.array_equal(full.toarray(), LINE_HOPS)
    assert full.nnz == 30  # every pair off the diagonal is stored
    near = hop_distances(LINE, k=2, max_hops=2)
    assert np.array_equal(near.toarray(), np.where(LINE_HOPS <= 2, LINE_HOPS, 0))
    assert near.nnz == np.count_nonzero((LINE_HOPS >= 1) & (LINE_HOPS <= 2))


def test_hop_distances_symmetrise_the_nearest_neighbour_relation():
    """k = 1 on the same line: 0 and 1 are each other's nearest, 3 -> 1, 7 -> 3, 12 -> 7, 20 -> 12,
    so the graph is the path 0-1-3-7-12-20 although 1's nearest is 0, 3's is 1, and so on: an edge
    wherever either point is among the other's nearest. Hop distance on a path: |i - j|."""
    hops = hop_distances(LINE, k=1, max_hops=5).toarray()
    i, j = np.indices(hops.shape)
    assert np.array_equal(hops, np.abs(i - j))
    assert np.array_equal(hops, hops.T)
    within_two = hop_distances(LINE, k=1, max_hops=2).toarray()
    assert np.array_equal(within_two, np.where(np.abs(i - j) <= 2, np.abs(i - j), 0))


def test_hop_distances_searched_in_blocks_are_the_whole_search(monkeypatch):
    """Sources searched a few at a time (never an n x n array) give the matrix one search of all gives,
    entry for entry, and so the same Betti numbers."""
    from nntopo.topology import homology

    rng = np.random.default_rng(0)
    points = np.concatenate([noisy(circle(120)), rng.normal(3.0, 0.2, (80, 2))])
    assert homology.HOP_BLOCK >= len(points) ** 2  # one block of every source, as before blocks
    whole, betti = hop_distances(points, k=5, max_hops=3), rips_betti(points, 5, 3).numbers
    monkeypatch.setattr(homology, "HOP_BLOCK", 7 * len(points))  # 7 sources a block: 29 blocks
    blocks = hop_distances(points, k=5, max_hops=3)
    assert np.array_equal(blocks.indptr, whole.indptr) and np.array_equal(blocks.indices, whole.indices)
    assert np.array_equal(blocks.data, whole.data)
    assert np.array_equal(rips_betti(points, 5, 3).numbers, betti)


# --- barcodes read at a scale

def test_betti_at_counts_bars_alive_at_each_scale():
    """A bar [birth, death) counts at scale s when birth <= s < death: one born exactly at s counts,
    one dying exactly at s does not (the complex at s holds every simplex of filtration value <= s)."""
    h0 = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, np.inf]])
    h1 = np.array([[1.0, 3.0], [2.0, 2.5], [0.5, 1.0]])
    h2 = np.empty((0, 2))
    got = betti_at([h0, h1, h2], [0, 0.5, 1, 2, 3])
    # s = 0: all H0, no H1; 0.5: (0.5, 1) born; 1: (0, 1) and (0.5, 1) die, (1, 3) born;
    # 2: (0, 2) dies, (2, 2.5) born; 3: (1, 3) dies, only the infinite H0 bar is left.
    assert got.tolist() == [[3, 0, 0], [3, 1, 0], [2, 1, 0], [1, 2, 0], [1, 0, 0]]
    assert got.dtype == np.int64


# --- independent recomputation on small random clouds

def knn_graph(points, k):
    """Adjacency (bool) of the symmetric k-NN graph, by brute force."""
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(d, np.inf)
    adjacency = np.zeros(d.shape, dtype=bool)
    for i, row in enumerate(d):
        adjacency[i, np.argsort(row)[:k]] = True
    return adjacency | adjacency.T


def within_hops(adjacency, hops):
    """Pairs joined by a path of at most ``hops`` edges: (I + A)^hops > 0."""
    step = adjacency.astype(np.int64) + np.eye(len(adjacency), dtype=np.int64)
    reach = np.eye(len(adjacency), dtype=np.int64)
    for _ in range(hops):
        reach = np.minimum(reach @ step, 1)
    return (reach > 0) & ~np.eye(len(adjacency), dtype=bool)


def cliques(adjacency, size):
    n = len(adjacency)
    return [c for c in itertools.combinations(range(n), size)
            if all(adjacency[a, b] for a, b in itertools.combinations(c, 2))]


def rank_gf2(columns):
    """Rank over GF(2) of vectors given as Python ints (bit i = row i)."""
    pivots = {}  # highest bit -> reduced vector
    for v in columns:
        while v:
            top = v.bit_length() - 1
            if top not in pivots:
                pivots[top] = v
                break
            v ^= pivots[top]
    return len(pivots)


def clique_complex_betti(adjacency, maxdim):
    """Betti numbers over GF(2) of the clique (flag) complex: b_d = dim C_d - rank d_d - rank d_{d+1}."""
    simplices = [cliques(adjacency, d + 1) for d in range(maxdim + 2)]
    index = [{s: i for i, s in enumerate(level)} for level in simplices]
    ranks = [0]  # rank of the boundary C_0 -> 0
    for d in range(1, maxdim + 2):
        columns = [sum(1 << index[d - 1][face] for face in itertools.combinations(s, d)) for s in simplices[d]]
        ranks.append(rank_gf2(columns))
    ranks.append(0)
    return [len(simplices[d]) - ranks[d] - ranks[d + 1] for d in range(maxdim + 1)]


# (seed, points, dimension, k): between them these have several components, loops and a void.
CLOUDS = [(0, 14, 2, 2), (1, 16, 2, 3), (2, 18, 3, 3), (3, 20, 2, 4), (4, 16, 3, 2), (5, 20, 3, 4)]


def random_cloud(seed, n, dim):
    return np.random.default_rng(seed).uniform(0, 1, (n, dim))


@pytest.mark.parametrize("seed, n, dim, k", CLOUDS)
def test_rips_betti_matches_an_independent_clique_complex(seed, n, dim, k):
    """At hop scale s the complex is the clique complex of the graph joining points at most s hops
    apart; its Betti numbers (own k-NN graph, own cliques, own rank over GF(2), b0 also from scipy's
    connected components) equal rips_betti's at scales 1 and 2, b0 .. b2."""
    points = random_cloud(seed, n, dim)
    adjacency = knn_graph(points, k)
    expected = [clique_complex_betti(within_hops(adjacency, s), maxdim=2) for s in (1, 2)]
    assert expected[0][0] == connected_components(adjacency, directed=False)[0]
    got = rips_betti(points, k, epsilon=2, maxdim=2)
    assert got.numbers.tolist() == expected
    assert got.distinct == n


def test_independent_check_is_not_trivial():
    """The clouds above cover b0 > 1, b1 > 0 and b2 > 0 between them (at scale 1 or 2), so the
    comparison checks every dimension, not only a contractible complex."""
    found = np.array([[clique_complex_betti(within_hops(knn_graph(random_cloud(seed, n, dim), k), s), maxdim=2)
                       for s in (1, 2)] for seed, n, dim, k in CLOUDS])
    assert found[..., 0].max() > 1 and found[..., 1].max() > 0 and found[..., 2].max() > 0


# --- coincident points

def test_all_points_coincide():
    """A cloud of one point repeated (a dead layer): one component at every scale, nothing else."""
    got = rips_betti(np.full((50, 4), 0.3), k=5, epsilon=3, maxdim=2)
    assert got.distinct == 1
    assert got.numbers.tolist() == [[1, 0, 0]] * 3


def test_duplicates_change_nothing():
    """Repeating points 1 to 5 times each and shuffling gives the Betti numbers of the distinct points."""
    rng = np.random.default_rng(7)
    base = noisy(np.vstack([circle(60), circle(60, centre=(3.0, 0.0))]))
    repeated = np.repeat(base, rng.integers(1, 6, len(base)), axis=0)
    rng.shuffle(repeated)
    got = rips_betti(repeated, k=4, epsilon=2)
    assert got.distinct == len(base)
    assert got.numbers.tolist() == rips_betti(base, k=4, epsilon=2).numbers.tolist() == [[2, 2], [2, 2]]


def test_fewer_distinct_points_than_k():
    """5 distinct points (each 40 times) with k = 25: every point is every other's neighbour, the
    complex is a full simplex: b = (1, 0, 0)."""
    points = np.repeat(np.random.default_rng(3).normal(size=(5, 3)), 40, axis=0)
    got = rips_betti(points, k=25, epsilon=2, maxdim=2)
    assert got.distinct == 5 and got.numbers.tolist() == [[1, 0, 0], [1, 0, 0]]


# --- furthest-point sampling

def brute_force_furthest(points, n, start):
    chosen = [start]
    while len(chosen) < n:
        gaps = [min(np.linalg.norm(p - points[c]) for c in chosen) for p in points]
        chosen.append(int(np.argmax(gaps)))
    return chosen


def test_furthest_point_sample_is_the_greedy_choice():
    """Starts at ``start``, never repeats a point, and each point is the furthest from those before,
    as a brute-force loop finds it."""
    points = np.random.default_rng(0).normal(size=(60, 3))
    for start in (0, 17):
        got = furthest_point_sample(points, 20, start=start)
        assert got[0] == start
        assert len(set(got.tolist())) == 20
        assert got.tolist() == brute_force_furthest(points, 20, start)
        for i in range(1, 20):  # the property itself, free of tie-breaking
            before = points[got[:i]]
            gap = np.linalg.norm(points[:, None] - before[None], axis=2).min(axis=1)
            assert gap[got[i]] == pytest.approx(gap.max())


def test_furthest_point_sample_of_every_point_is_a_permutation():
    points = np.random.default_rng(1).uniform(size=(25, 2))
    assert sorted(furthest_point_sample(points, 25, start=4).tolist()) == list(range(25))


def test_furthest_point_sample_never_repeats_a_point_among_duplicates():
    """Asked for every point of a cloud with duplicates (a small class, a dead layer), each index once."""
    points = np.repeat(np.random.default_rng(2).uniform(size=(6, 2)), 3, axis=0)
    assert sorted(furthest_point_sample(points, len(points)).tolist()) == list(range(len(points)))


@pytest.mark.parametrize("n", [0, -1, 11])
def test_furthest_point_sample_rejects_bad_n(n):
    with pytest.raises(ValueError, match="cannot choose"):
        furthest_point_sample(np.zeros((10, 2)), n)


# --- Euclidean diagrams

def test_diagrams_are_scale_invariant():
    """The cloud times 37 has the same diagrams (the diameter is divided out) and 37 times the diameter."""
    points = noisy(circle(40), seed=2, scale=0.05)
    first, diameter = diagrams(points, maxdim=1)
    second, diameter_37 = diagrams(37 * points, maxdim=1)
    brute = max(np.linalg.norm(a - b) for a in points for b in points)
    assert diameter == pytest.approx(brute)
    assert diameter_37 == pytest.approx(37 * brute)
    for a, b in zip(first, second):
        assert a.shape == b.shape
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9)  # inf == inf where the bar never dies


def test_circle_diagram_has_one_long_loop():
    """60 evenly spaced points on a circle (diameter 1 after scaling, radius 1/2): the one loop is born
    at the neighbour chord sin(pi / 60) and dies at the chord of a third of the circle, sqrt(3) / 2,
    where the Rips complex of the 60-gon turns into a wedge of 2-spheres (Adamaszek and Adams). Every
    other H1 bar is tiny."""
    dgms, diameter = diagrams(circle(60), maxdim=1)
    assert diameter == pytest.approx(2.0)
    h1 = dgms[1]
    lengths = np.sort(h1[:, 1] - h1[:, 0])[::-1]
    longest = h1[np.argmax(h1[:, 1] - h1[:, 0])]
    assert longest[0] == pytest.approx(math.sin(math.pi / 60), rel=1e-6)
    assert longest[1] == pytest.approx(math.sqrt(3) / 2, rel=1e-6)
    assert len(lengths) == 1 or lengths[1] < 0.05 * lengths[0]
    assert np.isinf(dgms[0][:, 1]).sum() == 1  # one component


@pytest.mark.filterwarnings("ignore:The input point cloud has more columns than rows")
def test_diagrams_of_one_point():
    """One point: one infinite H0 bar, no H1 bar, diameter 0."""
    dgms, diameter = diagrams(np.zeros((1, 3)), maxdim=1)
    assert diameter == 0.0
    assert dgms[0].tolist() == [[0.0, np.inf]]
    assert len(dgms[1]) == 0


def test_total_persistence_sums_the_finite_bars():
    assert homology.total_persistence(np.array([[0.0, 1.0], [0.5, 2.0], [0.0, np.inf]])) == pytest.approx(2.5)
    assert homology.total_persistence(np.empty((0, 2))) == 0.0


# --- distances between diagrams (GUDHI: bottleneck with the L-infinity ground metric, where a bar's
# distance to the diagonal is (death - birth) / 2; 1-Wasserstein with the Euclidean one, where it is
# (death - birth) / sqrt(2); persim: 1-Wasserstein)

EMPTY = np.empty((0, 2))


def test_identical_diagrams_are_zero_apart():
    dgm = np.array([[0.0, 0.3], [0.1, 0.9], [0.2, 0.25]])
    assert distances(dgm, dgm.copy()) == (0.0, 0.0)
    assert distances(EMPTY, EMPTY) == (0.0, 0.0)


def test_one_bar_against_nothing():
    """{(0, 1)} against the empty diagram: the bar goes to the diagonal."""
    bottleneck, wasserstein = distances(np.array([[0.0, 1.0]]), EMPTY)
    assert bottleneck == pytest.approx(0.5)
    assert wasserstein == pytest.approx(1 / math.sqrt(2))


def test_hand_worked_matching():
    """{(0, 1), (0, 4)} against {(0, 4.5)}: (0, 4) goes to (0, 4.5) (0.5 either way) and (0, 1) to the
    diagonal (0.5 in L-infinity, 1 / sqrt(2) in Euclidean): bottleneck 0.5, Wasserstein 0.5 + 1 / sqrt(2).
    Every other matching costs more."""
    bottleneck, wasserstein = distances(np.array([[0.0, 1.0], [0.0, 4.0]]), np.array([[0.0, 4.5]]))
    assert bottleneck == pytest.approx(0.5)
    assert wasserstein == pytest.approx(0.5 + 1 / math.sqrt(2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_is_persims_to_the_last_bit_on_h0_diagrams(seed):
    """Bars all born at 0, as in H0, the case where persim's own bottleneck is slow (minutes at 199
    bars): GUDHI's exact distance is persim's, bit for bit, on diagrams small enough for persim."""
    import persim

    rng = np.random.default_rng(seed)
    first = np.column_stack([np.zeros(40), rng.uniform(0, 1, 40)])
    second = np.column_stack([np.zeros(35), np.round(rng.uniform(0, 1, 35), 2)])
    assert distances(first, second)[0] == persim.bottleneck(first, second)


def test_infinite_bars_are_ignored():
    finite = np.array([[0.0, 1.0], [0.0, 2.0]])
    with_infinite = np.vstack([finite, [[0.0, np.inf]]])
    assert distances(with_infinite, finite) == (0.0, 0.0)
    assert distances(np.array([[0.0, np.inf]]), EMPTY) == (0.0, 0.0)


# --- bad input

@pytest.mark.parametrize("k, epsilon, maxdim, named", [(0, 2, 1, "k = 0"), (-3, 2, 1, "k = -3"),
                                                        (5, 0, 1, "epsilon = 0"), (5, 2, 3, "maxdim = 3"),
                                                        (5, 2, -1, "maxdim = -1")])
def test_rips_betti_rejects_bad_parameters(k, epsilon, maxdim, named):
    with pytest.raises(ValueError, match=named):
        rips_betti(circle(20), k, epsilon, maxdim)


def test_diagrams_reject_maxdim_3():
    with pytest.raises(ValueError, match="maxdim = 3"):
        diagrams(circle(20), maxdim=3)


# --- homology.h5

def small_homology():
    rng = np.random.default_rng(0)

    def measured(previous):
        return ClassHomology(
            betti=rng.integers(0, 5, (2, 2)),
            diagrams=[np.vstack([rng.uniform(0, 1, (3, 2)), [[0.0, np.inf]]]), rng.uniform(0, 1, (2, 2))],
            distinct=int(rng.integers(5, 10)), diameter=float(rng.uniform(1, 3)),
            bottleneck=rng.uniform(0, 1, 2) if previous else None,
            wasserstein=rng.uniform(0, 1, 2) if previous else None,
        )

    points = {0: np.array([1, 4, 6, 9]), 2: np.array([0, 2, 3])}
    subsample = {0: np.array([4, 9]), 2: np.array([0, 3])}
    layers = {"input": {0: measured(False), 2: measured(False)},
              "hidden_1": {0: measured(True), 2: measured(True)},
              "output": {0: measured(True), 2: measured(True)}}
    attrs = {"dataset": "digits", "model": "mlp8-none-s0", "class_names": json.dumps(["a", "b", "c"]), "k": 3}
    return Homology(points, subsample, layers, attrs)


def test_homology_file_round_trip(tmp_path):
    """Every array, attribute and the layers' order come back as written."""
    written = small_homology()
    store.write_homology(tmp_path / "homology.h5", written)
    read = store.read_homology(tmp_path / "homology.h5")
    assert read.classes == [0, 2]
    assert list(read.layers) == ["input", "hidden_1", "output"]
    assert read.attrs == {**written.attrs, "layers": json.dumps(["input", "hidden_1", "output"])}
    for c in written.classes:
        assert np.array_equal(read.points[c], written.points[c])
        assert np.array_equal(read.subsample[c], written.subsample[c])
    for layer, per_class in written.layers.items():
        assert list(read.layers[layer]) == list(per_class)
        for c, expected in per_class.items():
            got = read.layers[layer][c]
            assert np.array_equal(got.betti, expected.betti)
            assert len(got.diagrams) == len(expected.diagrams)
            for a, b in zip(got.diagrams, expected.diagrams):
                assert np.array_equal(a, b)
            assert got.distinct == expected.distinct and got.diameter == expected.diameter
            for key in ("bottleneck", "wasserstein"):
                if getattr(expected, key) is None:
                    assert getattr(got, key) is None
                else:
                    assert np.array_equal(getattr(got, key), getattr(expected, key))


def test_homology_file_missing_a_group(tmp_path):
    path = tmp_path / "homology.h5"
    store.write_homology(path, small_homology())
    with h5py.File(path, "a") as h5:
        del h5["hidden_1/2"]
    with pytest.raises(StoreError, match="missing group 'hidden_1/2'"):
        store.read_homology(path)


def test_homology_file_without_layers_is_foreign(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["classes"] = np.arange(2)
    with pytest.raises(StoreError, match="not a homology file"):
        store.read_homology(path)


# --- the stage

LABELS = np.random.default_rng(5).integers(0, 3, 300)
SETTINGS = {"points_per_class": 40, "diagram_points": 10, "seed": 3}


def test_homology_points_are_a_seeded_sorted_subsample_of_each_class():
    chosen = stage.homology_points(LABELS, SETTINGS)
    assert sorted(chosen) == [0, 1, 2]
    assert all(np.array_equal(a, b) for a, b in zip(chosen.values(), stage.homology_points(LABELS, SETTINGS).values()))
    other = stage.homology_points(LABELS, {**SETTINGS, "seed": 4})
    assert any(not np.array_equal(chosen[c], other[c]) for c in chosen)
    for c, idx in chosen.items():
        assert len(idx) == 40 and len(np.unique(idx)) == 40
        assert np.all(np.diff(idx) > 0)
        assert np.all(LABELS[idx] == c)


def test_homology_points_none_gives_every_point():
    chosen = stage.homology_points(LABELS, {**SETTINGS, "points_per_class": None})
    for c, idx in chosen.items():
        assert np.array_equal(idx, np.flatnonzero(LABELS == c))


def test_homology_points_too_many():
    smallest = np.bincount(LABELS).min()
    assert stage.homology_points(LABELS, {**SETTINGS, "points_per_class": int(smallest)})  # the most allowed
    with pytest.raises(ConfigError) as error:
        stage.homology_points(LABELS, {**SETTINGS, "points_per_class": int(smallest) + 1})
    message = str(error.value)
    assert "\n" not in message and message.startswith("homology.points_per_class")
    assert str(smallest) in message


def test_measure_compares_with_the_previous_layer():
    """The same circle scaled by 5 has the same (scaled) diagrams: both distances are 0 in every
    dimension, and the diameter is 5 times larger; the Betti numbers are the circle's."""
    settings = {"k": 4, "epsilon": 2, "maxdim": 1}
    points = noisy(circle(80))
    subsample = furthest_point_sample(points, 30)
    logged = []
    first = stage.measure(points, subsample, settings, "input", logged.append)
    second = stage.measure(5 * points, subsample, settings, "hidden_1", logged.append, previous=first)
    assert first.bottleneck is None and first.wasserstein is None
    assert second.betti.tolist() == [[1, 1], [1, 1]]
    assert second.diameter == pytest.approx(5 * first.diameter)
    assert second.bottleneck.shape == second.wasserstein.shape == (2,)
    assert np.allclose(second.bottleneck, 0, atol=1e-9) and np.allclose(second.wasserstein, 0, atol=1e-9)
    assert len(logged) == 2 and "betti [1, 1]" in logged[1]


def test_measure_says_when_all_points_coincide():
    logged = []
    result = stage.measure(np.ones((30, 5)), np.arange(10), {"k": 4, "epsilon": 2, "maxdim": 1}, "hidden_2",
                           logged.append)
    assert result.distinct == 1 and result.betti.tolist() == [[1, 0], [1, 0]]
    assert any("coincide" in line for line in logged)


def test_homology_table_rows():
    """One row per layer and class; b0 .. at epsilon (the last row of betti), omega their sum, the total
    persistence of each diagram and no distance at the input."""
    result = small_homology()
    table = stage.homology_table(result)
    assert len(table) == 6
    assert table["layer"].tolist() == ["input"] * 2 + ["hidden_1"] * 2 + ["output"] * 2
    assert table["depth"].tolist() == [0, 0, 1, 1, 2, 2]
    assert table["class_name"].tolist() == ["a", "c"] * 3
    for row in table.to_dict("records"):
        measured = result.layers[row["layer"]][row["class"]]
        last = measured.betti[-1]
        assert (row["b0"], row["b1"]) == tuple(last) and row["omega"] == last.sum()
        assert row["points"] == len(result.points[row["class"]]) and row["distinct"] == measured.distinct
        for d, dgm in enumerate(measured.diagrams):
            expected = sum(death - birth for birth, death in dgm if np.isfinite(death))
            assert row[f"total_persistence_h{d}"] == pytest.approx(expected)
        if row["layer"] == "input":
            assert all(np.isnan(row[f"{key}_h{d}"]) for key in ("bottleneck", "wasserstein") for d in (0, 1))
        else:
            assert [row["bottleneck_h0"], row["bottleneck_h1"]] == measured.bottleneck.tolist()
            assert [row["wasserstein_h0"], row["wasserstein_h1"]] == measured.wasserstein.tolist()


def test_a_stale_input_file_is_refused(tmp_path):
    """A model's layers are measured with the input file's settings only: an input file measured with
    another k stops the job with one line naming the file to delete."""
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 40)
    acts_path = tmp_path / "activations.h5"
    store.write_activations(acts_path, [rng.normal(size=(80, 4))], rng.normal(size=(80, 2)), labels, labels,
                             store.provenance("digits", "mlp4-none-s0", 0, {}))
    settings = {"k": 5, "epsilon": 1, "maxdim": 1, "points_per_class": None, "diagram_points": 10, "seed": 0}
    points = {c: np.flatnonzero(labels == c) for c in (0, 1)}
    first = Homology(points, {c: idx[:10] for c, idx in points.items()},
                     {"input": {c: stage.measure(rng.normal(size=(40, 3)), np.arange(10), settings, "input")
                                for c in (0, 1)}},
                     store.provenance("digits", "", 0, settings, class_names=json.dumps(["0", "1"]), known_betti="{}",
                                       k=5, epsilon=1, maxdim=1, diagram_points=10))
    store.write_homology(tmp_path / "input.h5", first)
    outputs = SimpleNamespace(data=tmp_path / "homology.h5", table=tmp_path / "homology.csv")
    stage.model_homology(acts_path, tmp_path / "input.h5", settings, outputs, log=lambda *a: None)
    assert list(store.read_homology(outputs.data).layers) == ["input", "hidden_1", "output"]
    with pytest.raises(StoreError, match="other homology settings.*delete .*input.h5") as error:
        stage.model_homology(acts_path, tmp_path / "input.h5", {**settings, "k": 6}, outputs, log=lambda *a: None)
    assert "\n" not in str(error.value)


def test_the_homology_measures_the_analysed_points_and_says_which(tmp_path):
    """With analysis.split train and 400 points, the input file chooses each class's points among those
    400 (indices into them, as into every model's activations), measures their inputs, and names the
    points; a model's activations of other points are refused, naming both."""
    from types import SimpleNamespace

    from nntopo import data
    from nntopo.data.points import analysed

    points = {"split": "train", "points": 400, "seed": 1}
    settings = {"k": 5, "epsilon": 2, "maxdim": 1, "points_per_class": 30, "diagram_points": 10, "seed": 0}
    result = stage.input_homology("digits", settings, tmp_path / "input.h5", data_dir=tmp_path, points=points,
                                  log=lambda *a: None)
    chosen = analysed(data.load("digits"), points)
    assert json.loads(result.attrs["points"]) == {"split": "train", "of": len(data.load("digits").y_train), "n": 400,
                                                  "seed": 1, "subsample": True}
    for c, idx in result.points.items():
        assert len(idx) == 30 and idx.max() < 400 and np.all(chosen.y[idx] == c)
        expected = rips_betti(chosen.x[idx], settings["k"], settings["epsilon"], settings["maxdim"])
        assert np.array_equal(result.layers["input"][c].betti, expected.numbers)

    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(400, 10)).astype(np.float32)
    outputs = SimpleNamespace(data=tmp_path / "homology.h5", table=tmp_path / "homology.csv")
    for seed, fine in ((1, True), (2, False)):
        attrs = store.provenance("digits", "mlp10-none-s0", 0, {},
                                 points=json.dumps({**json.loads(result.attrs["points"]), "seed": seed}))
        store.write_activations(tmp_path / "activations.h5", [hidden], hidden, chosen.y, chosen.y, attrs,
                                point_index=chosen.index)
        if fine:
            measured = stage.model_homology(tmp_path / "activations.h5", tmp_path / "input.h5", settings, outputs,
                                            log=lambda *a: None)
            assert json.loads(measured.attrs["points"]) == json.loads(result.attrs["points"])
            continue
        with pytest.raises(StoreError, match="measured the points .* holds .*delete .*input.h5") as error:
            stage.model_homology(tmp_path / "activations.h5", tmp_path / "input.h5", settings, outputs,
                                 log=lambda *a: None)
        assert "\n" not in str(error.value)
