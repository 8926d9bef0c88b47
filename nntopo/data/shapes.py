"""Point clouds whose topology is known: the datasets D-I, D-II and D-III of Naitzat, Zhitnikov and
Lim, "Topology of deep neural networks" (JMLR 21(184), 2020), generated from a seed.

- ``disks`` (D-I), in the plane: class a is 9 disjoint disks; class b is the unit disk with 9 round
  holes, each class-a disk sitting in a hole with a margin, every hole closed (none touches the rim).
- ``tori`` (D-II), in space: 9 pairs of linked solid tori, in each pair a torus of class a in the
  xy-plane linked with a torus of class b in the xz-plane through its hole.
- ``spheres`` (D-III, ``spheres_9`` in the authors' code), in space: 9 nests of concentric spheres,
  built as the authors build them (topnn/topnn_framework, transformers/raw_spheres_generation.py):
  class a a thin shell (spheres of radius 1 and 1.05), class b a small sphere inside it (radius 0.5)
  and a thin shell around it (2 and 2.05).

Disks and tori: points uniform in each piece's area (volume), with the same number in every piece,
so the pieces are equally dense. Spheres: points on each sphere's surface, on the authors' Fibonacci
lattice. The training and test points are independent draws from one seed.
"""

from __future__ import annotations

import numpy as np

# Betti numbers (b0, b1, b2) of each class: 9 disks; a disk with 9 holes; 9 solid tori; 9 shells
# (each a 2-sphere up to homotopy); 9 shells and the 9 small spheres inside them.
KNOWN_BETTI = {
    "disks": {0: (9, 0, 0), 1: (1, 9, 0)},
    "tori": {0: (9, 9, 0), 1: (9, 9, 0)},
    "spheres": {0: (9, 0, 9), 1: (18, 0, 18)},
}
PIECES = 9
_GRID = np.array([(i, j) for j in (-1, 0, 1) for i in (-1, 0, 1)], dtype=float)  # 3 x 3 piece centres

# disks: hole centres 0.5 apart in the unit disk. The corner holes' far edge is at 0.887, leaving a rim
# of 0.11; neighbouring holes are 0.14 apart; each class-a disk has a gap of 0.07 to its hole's edge.
# With 1,300 points a class, the hop-distance complex at epsilon = 2 gives the known Betti numbers for
# k from 22 to 28 in each of 40 seeds (holes 0.16 wide failed one seed in 40 at k = 22 and 25).
DISK_SPACING, HOLE_RADIUS, DISK_RADIUS = 0.5, 0.18, 0.11
# tori: core circles of radius 1, tubes of radius 0.25; the two cores of a pair come no closer than
# 1.0, so the tubes are 0.5 apart; pairs 5 apart, 1.5 between neighbouring pairs. The whole cloud is
# then scaled by TORI_SCALE into about [-1.14, 1.32] x [-1.14, 1.14] x [-0.23, 0.23] (inputs of order
# 1, as the disks' are: tanh networks fed coordinates up to 7 saturate and some seeds never train).
TORUS_RADIUS, TUBE_RADIUS, PAIR_SPACING = 1.0, 0.25, 5.0
TORI_SCALE = 1 / 5.5
# spheres, as raw_spheres_generation.py has them: the nests centred at the origin and at the 8 corners
# (+-3, +-3, +-3) of a cube (lines 83-93); in each nest, (radius, class, points) of its 5 spheres
# (gen_2spheres, lines 50-69: radii r1 .. r5, classes 0, 0, 1, 1, 1). The points are in the proportions
# of the authors' data file data/spheres_9/spheres_9.tfrecords (37,800 points: 200, 1,000, 1,000,
# 1,000 and 1,000 a nest; line 65 of the script as published gives the small sphere as many as the
# others). The closest spheres of two nests (2.05 from centres 5.2 apart) are 1.1 apart. Their
# MaxAbsScaler (line 122) divides each coordinate by its largest absolute value, 3 + 2.05 up to the
# lattice's rounding: SPHERES_SCALE.
SPHERE_CENTRES = 3.0 * np.array([(0, 0, 0)] + [(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)])
SPHERES = ((0.5, 1, 200), (1.0, 0, 1000), (1.05, 0, 1000), (2.0, 1, 1000), (2.05, 1, 1000))
SPHERES_SCALE = 1 / 5.05


def _split(n: int, parts: int) -> list[int]:
    """``n`` points over ``parts`` pieces, as equal as integers allow."""
    return [n // parts + (i < n % parts) for i in range(parts)]


def _apportion(n: int, weights) -> list[int]:
    """``n`` points in proportion to ``weights``: the floors, then one more to the largest remainders."""
    exact = n * np.asarray(weights, dtype=float) / np.sum(weights)
    counts = np.floor(exact).astype(int)
    counts[np.argsort(counts - exact, kind="stable")[: n - counts.sum()]] += 1
    return counts.tolist()


def _sphere_counts(n: int) -> list[int]:
    """``n`` points over the 5 spheres of SPHERES (all 9 nests together), in the authors' proportions."""
    return _apportion(n, [share for *_, share in SPHERES])


def class_sizes(name: str, n: int) -> tuple[int, int]:
    """Points of class a and of class b among ``n`` points of shape ``name``."""
    if name == "spheres":
        a = sum(m for m, (_, label, _) in zip(_sphere_counts(n), SPHERES) if label == 0)
        return a, n - a
    return n // 2, n - n // 2


def _uniform_disk(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    r = radius * np.sqrt(rng.uniform(0, 1, n))
    t = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def _rejection(rng: np.random.Generator, n: int, low, high, inside) -> np.ndarray:
    """``n`` points uniform in the region ``inside`` of the box [low, high]."""
    found, have = [], 0
    while have < n:
        points = rng.uniform(low, high, (max(4 * n, 64), len(low)))
        points = points[inside(points)]
        found.append(points)
        have += len(points)
    return np.concatenate(found)[:n]


def _disks(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    n_a = n // 2
    centres = _GRID * DISK_SPACING
    a = np.concatenate([c + _uniform_disk(rng, m, DISK_RADIUS) for c, m in zip(centres, _split(n_a, PIECES))])

    def holed(points):
        to_hole = np.linalg.norm(points[:, None, :] - centres[None], axis=2).min(axis=1)
        return (np.linalg.norm(points, axis=1) <= 1.0) & (to_hole >= HOLE_RADIUS)

    b = _rejection(rng, n - n_a, [-1.0, -1.0], [1.0, 1.0], holed)
    return np.concatenate([a, b]), np.repeat([0, 1], [n_a, n - n_a])


def _solid_torus(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` points uniform in the solid torus around the unit circle of the xy-plane."""
    reach = TORUS_RADIUS + TUBE_RADIUS

    def inside(p):
        return (np.hypot(p[:, 0], p[:, 1]) - TORUS_RADIUS) ** 2 + p[:, 2] ** 2 <= TUBE_RADIUS**2

    return _rejection(rng, n, [-reach, -reach, -TUBE_RADIUS], [reach, reach, TUBE_RADIUS], inside)


def _tori(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    n_a = n // 2
    centres = np.column_stack([_GRID * PAIR_SPACING, np.zeros(PIECES)])
    a = [c + _solid_torus(rng, m) for c, m in zip(centres, _split(n_a, PIECES))]
    # Class b's torus stands in the xz-plane, centred on a point of a's core circle: linked with it.
    b = [c + [TORUS_RADIUS, 0, 0] + _solid_torus(rng, m)[:, [0, 2, 1]]
         for c, m in zip(centres, _split(n - n_a, PIECES))]
    return TORI_SCALE * np.concatenate(a + b), np.repeat([0, 1], [n_a, n - n_a])


def _fibonacci_sphere(rng: np.random.Generator, n: int, radius: float) -> np.ndarray:
    """``n`` points of the authors' golden-angle lattice on a sphere (fibonacci_sphere, lines 27-48):
    evenly spaced heights, each turned by the golden angle from the last, the turns started at a random
    offset. They draw the offset for one sphere of a nest only, from a fixed seed; here every sphere
    draws its own from ``rng``, so the training and test lattices differ."""
    if n == 0:
        return np.zeros((0, 3))
    step = 2.0 / n
    height = np.arange(n) * step - 1 + step / 2
    ring = np.sqrt(1 - height**2)
    turn = ((np.arange(n) + rng.uniform(0, n)) % n) * np.pi * (3 - np.sqrt(5))
    return radius * np.column_stack([np.cos(turn) * ring, height, np.sin(turn) * ring])


def _spheres(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    points, labels = [], []
    for (radius, label, _), total in zip(SPHERES, _sphere_counts(n)):
        for centre, m in zip(SPHERE_CENTRES, _split(total, PIECES)):
            points.append(centre + _fibonacci_sphere(rng, m, radius))
            labels.append(np.full(m, label))
    return SPHERES_SCALE * np.concatenate(points), np.concatenate(labels)


_MAKERS = {"disks": _disks, "tori": _tori, "spheres": _spheres}
NAMES = tuple(_MAKERS)  # the datasets of kind "shape" (nntopo.datasets); their classes are a and b


def generate(name: str, train_points: int, test_points: int, seed: int):
    """``(x_train, y_train, x_test, y_test)`` of shape ``name``: float32 points, int64 classes (0 = a)."""
    if name not in _MAKERS:
        raise ValueError(f"unknown shape {name!r}; choose one of: {', '.join(NAMES)}")
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    splits = []
    for rng, n in ((train_rng, train_points), (test_rng, test_points)):
        x, y = _MAKERS[name](rng, n)
        order = rng.permutation(n)  # classes interleaved, as a shuffled dataset would be
        splits += [x[order].astype(np.float32), y[order].astype(np.int64)]
    return tuple(splits)


def known_betti(name: str, maxdim: int) -> dict[int, tuple[int, ...]]:
    """Each class's Betti numbers b0 .. b_maxdim."""
    return {label: betti[: maxdim + 1] for label, betti in KNOWN_BETTI[name].items()}
