"""The point clouds of known topology (nntopo.data.shapes) have the geometry and homology they claim.

The geometry is checked from the points themselves (distances to the stated disks, holes, core
circles and spheres, margins between the classes, the Gauss linking number of circles fitted to each
torus, the spheres' lattice against the authors' construction), the homology with the study's own measure at the schema's defaults; the config rejects homology
settings that cannot run, in one line that names the key.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from nntopo import config, datasets, store
from nntopo.data import prepare, shapes
from nntopo.config import ConfigError
from nntopo.topology import stage
from nntopo.topology.homology import rips_betti

ROOT = Path(__file__).resolve().parents[3]

# Small clouds where only the generator is exercised (every piece still gets dozens of points).
TRAIN, TEST = 901, 451


def defaults():
    c = config.validate({"datasets": ["disks", "tori"]})
    return c["shapes"], c["homology"]


# --- what generate returns

@pytest.mark.parametrize("name", shapes.NAMES)
def test_generate_is_seeded(name):
    first = shapes.generate(name, TRAIN, TEST, seed=3)
    again = shapes.generate(name, TRAIN, TEST, seed=3)
    other = shapes.generate(name, TRAIN, TEST, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[2], other[2])


# Spheres: 901 points over the 5 spheres of a nest in the proportions 200 : 1000 : 1000 : 1000 : 1000
# are 42.90, 214.52 (four times): floors 42 and 214 (898 in all), the 3 left over to the largest
# remainders, the small sphere's and the first two (class a's): 43 + 215 + 215 | 214 + 214, so a = 430.
# 451 points: 21.48 and 107.38, floors 21 and 107 (449), 2 left over: 22 + 108 + 107 | 107 + 107, a = 215.
@pytest.mark.parametrize("name, dim, train_a, test_a", [
    ("disks", 2, TRAIN // 2, TEST // 2), ("tori", 3, TRAIN // 2, TEST // 2), ("spheres", 3, 430, 215)])
def test_generate_shapes_dtypes_and_balance(name, dim, train_a, test_a):
    """float32 points, int64 labels 0 (a) and 1 (b); class a holds half the points, rounded down (of
    spheres, its share of the authors' points); the training and test points are different draws."""
    x_train, y_train, x_test, y_test = shapes.generate(name, TRAIN, TEST, seed=0)
    assert x_train.shape == (TRAIN, dim) and x_test.shape == (TEST, dim)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert np.bincount(y_train).tolist() == [train_a, TRAIN - train_a] == list(shapes.class_sizes(name, TRAIN))
    assert np.bincount(y_test).tolist() == [test_a, TEST - test_a] == list(shapes.class_sizes(name, TEST))
    assert not set(map(tuple, x_train.tolist())) & set(map(tuple, x_test.tolist()))
    assert len(np.unique(x_train, axis=0)) == TRAIN
    assert 0 < np.mean(y_train[: TRAIN // 2]) < 1  # shuffled: the classes are interleaved, not in two blocks


def test_generate_rejects_an_unknown_shape():
    with pytest.raises(ValueError, match="unknown shape 'cubes'; choose one of: disks, tori, spheres"):
        shapes.generate("cubes", 100, 100, 0)


def test_known_betti_is_the_topology_of_the_pieces():
    """9 disjoint disks: (9, 0, 0); a disk with 9 holes: (1, 9, 0); 9 solid tori (each a circle up to
    homotopy): (9, 9, 0); 9 thin spherical shells (each a 2-sphere up to homotopy): (9, 0, 9); those
    and 9 spheres: (18, 0, 18)."""
    assert shapes.KNOWN_BETTI == {"disks": {0: (9, 0, 0), 1: (1, 9, 0)}, "tori": {0: (9, 9, 0), 1: (9, 9, 0)},
                                  "spheres": {0: (9, 0, 9), 1: (18, 0, 18)}}
    assert shapes.known_betti("disks", 1) == {0: (9, 0), 1: (1, 9)}
    assert shapes.known_betti("tori", 0) == {0: (9,), 1: (9,)}


# --- disks: geometry

def disk_centres():
    """The 3 x 3 grid of hole (and class-a disk) centres, DISK_SPACING apart, around the origin."""
    return np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float) * shapes.DISK_SPACING


def test_disks_layout_is_closed():
    """The holes are disjoint, every class-a disk sits inside its hole with a gap, and no hole touches
    the rim of the unit disk (the corner holes' far edge stays 0.1 inside it)."""
    centres = disk_centres()
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)[~np.eye(9, dtype=bool)]
    assert gaps.min() - 2 * shapes.HOLE_RADIUS > 0.1
    assert shapes.HOLE_RADIUS - shapes.DISK_RADIUS > 0.05
    assert np.linalg.norm(centres, axis=1).max() + shapes.HOLE_RADIUS < 0.9


@pytest.mark.parametrize("seed", [0, 11])
def test_disks_points_lie_where_they_should(seed):
    """Class a: within DISK_RADIUS of one of the 9 centres, the same number (up to one) in each disk.
    Class b: in the unit disk and at least HOLE_RADIUS from every centre. So the classes are at least
    HOLE_RADIUS - DISK_RADIUS apart, which the points' nearest pair confirms; and class b surrounds
    every hole: it has points beyond each hole on the far side from the origin and between neighbours."""
    x, y = shapes.generate("disks", 2000, 1000, seed)[:2]
    x = x.astype(np.float64)
    a, b = x[y == 0], x[y == 1]
    centres = disk_centres()
    to_centre_a = np.linalg.norm(a[:, None] - centres[None], axis=2)
    assert np.all(to_centre_a.min(axis=1) <= shapes.DISK_RADIUS + 1e-6)
    counts = np.bincount(to_centre_a.argmin(axis=1), minlength=9)
    assert counts.max() - counts.min() <= 1 and counts.sum() == len(a)
    assert np.all(np.linalg.norm(b, axis=1) <= 1 + 1e-6)
    assert np.all(np.linalg.norm(b[:, None] - centres[None], axis=2).min(axis=1) >= shapes.HOLE_RADIUS - 1e-6)
    margin = cKDTree(a).query(b)[0].min()
    assert margin >= shapes.HOLE_RADIUS - shapes.DISK_RADIUS - 1e-6
    assert margin > 0.05
    for centre in centres[np.linalg.norm(centres, axis=1) > 0]:  # the ring of b closes outside each outer hole
        outward = centre / np.linalg.norm(centre)
        beyond = b @ outward - centre @ outward > shapes.HOLE_RADIUS
        near_axis = np.abs(b @ np.array([-outward[1], outward[0]]) - centre @ np.array([-outward[1], outward[0]])) < 0.05
        assert np.any(beyond & near_axis)


# --- tori: geometry

def torus_cores():
    """The stated core circles, (centre, unit normal, radius), in the order of the generator's pieces:
    class a in the xy-plane around each pair centre, class b in the xz-plane around a point of a's core."""
    scale = getattr(shapes, "TORI_SCALE", 1.0)  # the cloud as a whole may be scaled
    grid = np.array([(i, j, 0) for j in (-1, 0, 1) for i in (-1, 0, 1)], dtype=float) * shapes.PAIR_SPACING
    radius = shapes.TORUS_RADIUS * scale
    a = [(c * scale, np.array([0.0, 0.0, 1.0]), radius) for c in grid]
    b = [((c + [shapes.TORUS_RADIUS, 0, 0]) * scale, np.array([0.0, 1.0, 0.0]), radius) for c in grid]
    return a, b, scale


def distance_to_circle(points, centre, normal, radius):
    """Euclidean distance from each point to a circle: sqrt((rho - R)^2 + h^2) with h the height above
    the circle's plane and rho the distance from its axis."""
    v = points - centre
    h = v @ normal
    rho = np.linalg.norm(v - np.outer(h, normal), axis=1)
    return np.hypot(rho - radius, h)


def circle_points(centre, normal, radius, n=400):
    u = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    w = np.cross(normal, u)
    t = 2 * np.pi * np.arange(n) / n
    return centre + radius * (np.outer(np.cos(t), u) + np.outer(np.sin(t), w))


def gauss_linking_number(first, second):
    """(1 / 4 pi) sum over segment pairs of (r1 - r2) . (dr1 x dr2) / |r1 - r2|^3, for closed polygons
    (midpoint rule)."""
    d1, d2 = np.roll(first, -1, axis=0) - first, np.roll(second, -1, axis=0) - second
    m1, m2 = first + d1 / 2, second + d2 / 2
    r = m1[:, None] - m2[None]
    cross = np.cross(d1[:, None], d2[None])
    return float(np.sum(np.einsum("ijk,ijk->ij", r, cross) / np.linalg.norm(r, axis=2) ** 3) / (4 * np.pi))


def fitted_circle(points):
    """Centre (centroid), normal (the direction of least spread) and radius (mean distance from the
    axis) of a sampled solid torus; nothing of the generator is used."""
    centre = points.mean(axis=0)
    normal = np.linalg.eigh(np.cov((points - centre).T))[1][:, 0]
    v = points - centre
    rho = np.linalg.norm(v - np.outer(v @ normal, normal), axis=1)
    return centre, normal, rho.mean()


def components(points, radius):
    tree = cKDTree(points)
    return connected_components(tree.sparse_distance_matrix(tree, radius), directed=False)


def test_gauss_linking_number_is_right_on_known_circles():
    """The discretised integral itself: the Hopf link gives +-1, two far-apart circles 0."""
    ring = circle_points(np.zeros(3), np.array([0.0, 0.0, 1.0]), 1.0)
    through = circle_points(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), 1.0)
    apart = circle_points(np.array([5.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), 1.0)
    assert abs(gauss_linking_number(ring, through)) == pytest.approx(1, abs=1e-3)
    assert gauss_linking_number(ring, apart) == pytest.approx(0, abs=1e-3)


@pytest.mark.parametrize("seed", [0, 5])
def test_tori_points_lie_in_their_tubes(seed):
    """Every class-a (b) point is within the tube radius of a class-a (b) core circle, the 9 tori of a
    class hold the same number of points (up to one), and the two classes are at least
    TORUS_RADIUS - 2 TUBE_RADIUS apart: the two cores of a pair keep the distance TORUS_RADIUS
    everywhere ((1 + cos s - 1)^2 + sin^2 s = 1), and other pairs are further."""
    x, y = shapes.generate("tori", 2000, 1000, seed)[:2]
    x = x.astype(np.float64)
    cores_a, cores_b, scale = torus_cores()
    tube = shapes.TUBE_RADIUS * scale
    for points, cores in ((x[y == 0], cores_a), (x[y == 1], cores_b)):
        to_core = np.column_stack([distance_to_circle(points, *core) for core in cores])
        assert np.all(to_core.min(axis=1) <= tube * (1 + 1e-5))
        counts = np.bincount(to_core.argmin(axis=1), minlength=9)
        assert counts.max() - counts.min() <= 1
    stated = max(distance_to_circle(circle_points(*b_core), *a_core).max() for a_core, b_core in zip(cores_a, cores_b))
    assert stated == pytest.approx(shapes.TORUS_RADIUS * scale)
    margin = cKDTree(x[y == 0]).query(x[y == 1])[0].min()
    assert margin >= (shapes.TORUS_RADIUS - 2 * shapes.TUBE_RADIUS) * scale * (1 - 1e-5)


def test_tori_pairs_are_linked():
    """Circles fitted to each sampled torus (no generator code): 9 pieces per class (connected at a
    radius of one tube), each class-a circle linked once with exactly one class-b circle (Gauss linking
    number +-1) and unlinked (0) with the other eight."""
    x, y = shapes.generate("tori", 7800, 2600, 0)[2:]
    x = x.astype(np.float64)
    scale = getattr(shapes, "TORI_SCALE", 1.0)
    fitted = {}
    for label in (0, 1):
        points = x[y == label]
        count, piece = components(points, shapes.TUBE_RADIUS * scale * 2)
        assert count == 9
        fitted[label] = [fitted_circle(points[piece == p]) for p in range(count)]
    for _, _, radius in fitted[0] + fitted[1]:
        assert radius == pytest.approx(shapes.TORUS_RADIUS * scale, rel=0.05)
    linking = np.array([[gauss_linking_number(circle_points(*a), circle_points(*b)) for b in fitted[1]]
                        for a in fitted[0]])
    rounded = np.round(np.abs(linking))
    assert np.allclose(np.abs(linking), rounded, atol=0.05) and set(rounded.ravel().tolist()) == {0.0, 1.0}
    assert rounded.sum(axis=0).tolist() == rounded.sum(axis=1).tolist() == [1] * 9  # a perfect pairing
    for i, j in zip(*np.nonzero(rounded)):  # linked with the b torus that stands on its core circle, the nearest
        apart = [np.linalg.norm(fitted[0][i][0] - b[0]) for b in fitted[1]]
        assert j == np.argmin(apart) and apart[j] < 1.5 * shapes.TORUS_RADIUS * scale


# --- spheres: geometry

# The authors' nests (transformers/raw_spheres_generation.py): centres at the origin and the cube's
# corners (+-3, +-3, +-3), lines 83-93; radii 0.5 (b), 1 and 1.05 (a), 2 and 2.05 (b), lines 50-69;
# points a nest 200, 1000, 1000, 1000, 1000 (their data file spheres_9.tfrecords holds 37,800 points:
# 18,000 of class 0 and 19,800 of class 1).
NESTS = 3.0 * np.array([(0, 0, 0), (-1, -1, -1), (1, 1, 1), (-1, 1, 1), (-1, 1, -1), (-1, -1, 1),
                        (1, -1, -1), (1, -1, 1), (1, 1, -1)])
RADII = {0: (1.0, 1.05), 1: (0.5, 2.0, 2.05)}


def test_spheres_counts_are_the_authors():
    """The authors' 37,800 points split into their classes as their data file has them."""
    assert shapes.class_sizes("spheres", 37_800) == (18_000, 19_800)
    assert shapes.class_sizes("spheres", 7_560) == (3_600, 3_960)  # their 4 : 1 split's test part


@pytest.mark.parametrize("seed", [0, 4])
def test_spheres_points_lie_on_their_spheres(seed):
    """Every point, unscaled, is at one of its class's radii from the nearest nest centre; each sphere
    of each nest holds its share (the same, up to one, in the 9 nests; the small sphere a fifth of the
    others); the nests are the 9 stated ones, their nearest spheres of two nests 1.1 apart; the
    coordinates stay within [-1, 1], as the authors' MaxAbsScaler leaves them."""
    x, y = shapes.generate("spheres", 8400, 100, seed)[:2]
    assert np.abs(x).max() <= 1
    x = x.astype(np.float64) / shapes.SPHERES_SCALE
    to_centre = np.linalg.norm(x[:, None] - NESTS[None], axis=2)
    nest, radius = to_centre.argmin(axis=1), to_centre.min(axis=1)
    for label, radii in RADII.items():
        on = np.abs(radius[y == label][:, None] - np.array(radii)[None])
        assert np.all(on.min(axis=1) < 1e-5 * 5.05)
        counts = np.array([[np.sum((nest[y == label] == n) & (on.argmin(axis=1) == r)) for r in range(len(radii))]
                           for n in range(9)])
        assert np.all(counts.max(axis=0) - counts.min(axis=0) <= 1)
        assert counts.sum() == np.count_nonzero(y == label)
        if label == 1:
            assert counts[:, 0].sum() * 5 == pytest.approx(counts[:, 1].sum(), abs=5)  # 200 : 1000
    gaps = [cKDTree(x[nest == i]).query(x[nest == j])[0].min() for i in range(9) for j in range(i)]
    assert min(gaps) > np.linalg.norm(NESTS[1]) - 2 * 2.05 - 0.05


def test_spheres_follow_the_authors_lattice():
    """Each sphere of m points is the authors' golden-angle lattice (fibonacci_sphere, lines 27-48):
    its heights along y are (2i + 1) / m - 1 for i < m, times its radius, and the i-th point is turned
    about the y axis by ((i + offset) mod m) golden angles pi (3 - sqrt 5): going up, each turns one
    golden angle from the last, except once, where the count wraps and it turns 1 - m of them. The
    training and test lattices of one seed start their turns at different offsets."""
    x_train, y_train, x_test, y_test = shapes.generate("spheres", 4200, 4200, 0)
    golden = np.pi * (3 - np.sqrt(5))
    turns = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        x = x.astype(np.float64) / shapes.SPHERES_SCALE
        centred = x - NESTS[np.linalg.norm(x[:, None] - NESTS[None], axis=2).argmin(axis=1)]
        radius = np.linalg.norm(centred, axis=1)
        inner = (np.abs(radius - 0.5) < 1e-3) & (np.linalg.norm(x, axis=1) < 1)  # the first nest's small sphere
        outer = (np.abs(radius - 2.05) < 1e-3) & (np.linalg.norm(x, axis=1) < 3)  # its outermost sphere
        assert np.all(y[inner] == 1) and inner.sum() == 200 // 9 + 1 and outer.sum() == 1000 // 9 + 1
        for on, r in ((inner, 0.5), (outer, 2.05)):
            p = centred[on][np.argsort(centred[on][:, 1])]
            m = len(p)
            assert np.allclose(p[:, 1] / r, (2 * np.arange(m) + 1) / m - 1, atol=1e-5)
            azimuth = np.arctan2(p[:, 2], p[:, 0])
            step = np.exp(1j * np.diff(azimuth))
            wrap = ~np.isclose(step, np.exp(1j * golden), atol=1e-4)
            assert wrap.sum() <= 1 and np.allclose(step[wrap], np.exp(1j * (1 - m) * golden), atol=1e-4)
        turns.append(np.arctan2(p[0, 2], p[0, 0]))
    assert abs(turns[0] - turns[1]) > 1e-3


# --- homology at the defaults

@pytest.mark.parametrize("name", ["disks", "tori"])
def test_input_betti_numbers_at_the_defaults_are_the_known_ones(name):
    """The schema's default shapes and homology settings measure, on every test point of each class,
    the known Betti numbers, for the default seed and two more. (Not spheres: at 2,600 test points a
    small sphere has 13 or 14 points, fewer than k, and joins its shell; see the next test.)"""
    shape_settings, settings = defaults()
    known = shapes.known_betti(name, settings["maxdim"])
    for seed in sorted({shape_settings["seed"], 1, 2}):
        _, _, x, y = shapes.generate(name, shape_settings["train_points"], shape_settings["test_points"], seed)
        for c, idx in stage.homology_points(y, settings).items():
            got = rips_betti(x[idx], settings["k"], settings["epsilon"], settings["maxdim"])
            assert tuple(got.at_epsilon.tolist()) == known[c], (name, seed, c)
            assert got.distinct == len(idx) == shape_settings["test_points"] // 2 + c * (shape_settings["test_points"] % 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_spheres_input_betti_numbers_are_the_known_ones(seed):
    """configs/topology_spheres.yaml's settings (the authors' test split, 7,560 points: 40 a small
    sphere, 200 a large one; k = 8, epsilon = 2, maxdim 2), on every test point: 9 shells (9, 0, 9) in
    class a; 9 shells and 9 small spheres (18, 0, 18) in class b. With k a quarter or more of a small
    sphere's points (k = 15 here) its void fills at 2 hops and class b reads (18, 0, 9): a ball inside a
    shell."""
    preset = config.validate(yaml.safe_load((ROOT / "configs" / "topology_spheres.yaml").read_text()))
    settings = preset["homology"]
    assert preset["shapes"]["test_points"] == 7560 and settings["points_per_class"] is None
    _, _, x, y = shapes.generate("spheres", 100, preset["shapes"]["test_points"], seed)
    for c, known in shapes.known_betti("spheres", settings["maxdim"]).items():
        got = rips_betti(x[y == c], settings["k"], settings["epsilon"], settings["maxdim"])
        assert tuple(got.at_epsilon.tolist()) == known == shapes.KNOWN_BETTI["spheres"][c], (seed, c)
    assert tuple(rips_betti(x[y == 1], 15, 2, 2).at_epsilon.tolist()) == (18, 0, 9)


# --- the data file

def test_the_generated_shapes_are_the_registry_s():
    assert shapes.NAMES == tuple(datasets.names(kind="shape"))


@pytest.mark.parametrize("name", shapes.NAMES)
def test_write_then_read_shape_data(tmp_path, name):
    settings = {"train_points": 300, "test_points": 200, "seed": 9}
    logged = []
    prepare.write_shape(name, settings, tmp_path / "data.h5", log=logged.append)
    arrays, attrs = store.read_shape_data(tmp_path / "data.h5")
    for key, expected in zip(("x_train", "y_train", "x_test", "y_test"), shapes.generate(name, 300, 200, 9)):
        assert np.array_equal(arrays[key], expected) and arrays[key].dtype == expected.dtype
    assert {int(c): tuple(b) for c, b in json.loads(attrs["known_betti"]).items()} == shapes.KNOWN_BETTI[name]
    assert json.loads(attrs["class_names"]) == ["a", "b"]
    assert json.loads(attrs["config"]) == settings and attrs["dataset"] == name and attrs["seed"] == 9
    assert len(logged) == 1 and "300 training and 200 test points" in logged[0]


# --- the config

@pytest.mark.parametrize("bad, named", [
    ({"homology": {"k": 0}}, "homology.k"),
    ({"homology": {"epsilon": 0}}, "homology.epsilon"),
    ({"homology": {"maxdim": 3}}, "homology.maxdim"),
    ({"homology": {"points_per_class": 1}}, "homology.points_per_class"),
    ({"homology": {"diagram_points": 1}}, "homology.diagram_points"),
    ({"homology": {"points_per_class": 893}}, "homology.points_per_class: 893 is more than the 892"),
    ({"datasets": ["disks"], "homology": {"points_per_class": 1301}}, "homology.points_per_class: 1301 is more than the 1300"),
])
def test_bad_homology_config_names_the_key(bad, named):
    with pytest.raises(ConfigError) as error:
        config.validate(bad)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(named)


def test_largest_points_per_class_that_fits():
    """892 test images in MNIST's smallest class (digit 5); half of shapes.test_points for a shape."""
    assert config.validate({"homology": {"points_per_class": 892}})["homology"]["points_per_class"] == 892
    assert config.validate({"datasets": ["disks", "tori"], "homology": {"points_per_class": 1300}})


@pytest.mark.parametrize("name", ["disks", "spheres"])
def test_config_smallest_shape_class_is_the_generated_one(name):
    """With an odd number of test points, the config's limit is the smaller generated class (a; of
    spheres, 192 of 401)."""
    _, _, _, y = shapes.generate(name, 100, 401, 0)
    smallest = int(np.bincount(y).min())
    assert smallest == np.count_nonzero(y == 0)
    assert config.validate({"datasets": [name], "shapes": {"test_points": 401},
                            "homology": {"points_per_class": smallest, "diagram_points": 50}})
    with pytest.raises(ConfigError, match=f"^homology.points_per_class: {smallest + 1} is more than the {smallest}"):
        config.validate({"datasets": [name], "shapes": {"test_points": 401},
                         "homology": {"points_per_class": smallest + 1, "diagram_points": 50}})


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "digits", "disks", "tori", "spheres"])
def test_default_homology_settings_fit_every_dataset(dataset):
    """A config that names only the dataset is valid: the homology stage runs for every dataset."""
    assert config.validate({"datasets": [dataset]})["homology"]["points_per_class"] is None


def test_a_class_smaller_than_the_diagram_subsample_gives_every_point(tmp_path):
    """digits has 52-55 test images a class, fewer than the default 200 diagram points: the input's
    subsample is then every measured point of the class, chosen in furthest-point order."""
    from nntopo import data

    settings = config.validate({"datasets": ["digits"]})["homology"]
    result = stage.input_homology("digits", settings, tmp_path / "input.h5", data_dir=tmp_path, log=lambda *a: None)
    labels = data.load("digits").y_test
    for c in range(10):
        assert len(result.points[c]) == np.count_nonzero(labels == c) < settings["diagram_points"]
        assert sorted(result.subsample[c]) == sorted(result.points[c])