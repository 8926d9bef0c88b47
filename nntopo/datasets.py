"""The datasets nntopo knows, one record each: the one owner of what a dataset is (how its points are
had, its input's shape, its test set's size, its classes).

Light (no numpy, no torch): the config, which the Snakefile imports, checks a study against these
records, and nntopo.data loads by them. Today the records are a fixed table; a dataset the user
describes in the config (issue 26) becomes one more record of the same fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# How a dataset's points are had:
# - idx: MNIST-family IDX files under the data directory, in torchvision's layout <data_dir>/<folder>/raw/;
# - embedded: shipped with a library (scikit-learn's digits);
# - shape: a point cloud of known topology, generated from the config's `shapes` (nntopo.data.shapes)
#   into results/{dataset}/data.h5. Its test points are the config's `shapes.test_points`.
KINDS = ("idx", "embedded", "shape")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # one of KINDS
    input_shape: tuple[int, ...]  # one input: (height, width) of a grey image, (dimensions,) of a point
    classes: tuple[str, ...]  # the classes' names, in label order
    test_points: int | None = None  # every one is clustered; None: the config's shapes.test_points
    smallest_class: int | None = None  # the fewest test points of one class; None: see smallest_test_class
    folder: str | None = None  # idx: the folder under the data directory

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """(height, width) of a dataset of images; None for points (no figure draws their pixels)."""
        return self.input_shape if len(self.input_shape) == 2 else None

    @property
    def n_features(self) -> int:
        """Values in one input, flattened."""
        return math.prod(self.input_shape)

    def n_test_points(self, shape_test_points: int) -> int:
        """Test points, given the config's ``shapes.test_points`` (what a shape's count is)."""
        return shape_test_points if self.test_points is None else self.test_points

    def smallest_test_class(self, shape_test_points: int) -> int:
        """The fewest test points of one class; a shape's class a has half its points, rounded down."""
        return shape_test_points // 2 if self.smallest_class is None else self.smallest_class


_DIGITS = tuple(str(digit) for digit in range(10))  # the labels' numbers, as the figures name them

DATASETS = {info.name: info for info in (
    # MNIST's smallest test class is digit 5 (892 images); Fashion-MNIST has 1,000 of each class.
    DatasetInfo("mnist", "idx", (28, 28), _DIGITS, test_points=10_000, smallest_class=892, folder="MNIST"),
    DatasetInfo("fashion_mnist", "idx", (28, 28), _DIGITS, test_points=10_000, smallest_class=1000,
                folder="FashionMNIST"),
    # scikit-learn's 1,797 8x8 digits, 30% held out (stratified): 540 test images, at least 52 a class.
    DatasetInfo("digits", "embedded", (8, 8), _DIGITS, test_points=540, smallest_class=52),
    # Naitzat, Zhitnikov and Lim's D-I (in the plane) and D-II (in space), classes a and b.
    DatasetInfo("disks", "shape", (2,), ("a", "b")),
    DatasetInfo("tori", "shape", (3,), ("a", "b")),
)}


def get(name: str) -> DatasetInfo:
    """The record of dataset ``name``; an unknown name raises ValueError naming the known ones."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None


def names(kind: str | None = None) -> tuple[str, ...]:
    """The datasets' names (of ``kind`` only, when given), in the table's order."""
    return tuple(name for name, info in DATASETS.items() if kind is None or info.kind == kind)
