"""The datasets tests/workflow/test_own_data.py brings to the study, written by the test's own code from
scikit-learn's digits (nothing of nntopo's): the built-in digits' split as an `arrays` file and a
`folder` tree, and a colour dataset of an odd size nobody here has seen, as both."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COLOUR_SHAPE = (11, 13)  # height, width: neither square nor a size any built-in dataset has


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def parts(self):
        return {"train": (self.x_train, self.y_train), "test": (self.x_test, self.y_test)}


def digits() -> Split:
    """scikit-learn's 1,797 digits as the built-in `digits` are: /16 in float32, 70/30 stratified with
    random_state 0; images N x 8 x 8."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    found = load_digits()
    x = (found.data / 16.0).astype(np.float32).reshape(-1, 8, 8)
    y = found.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    return Split(x_train, y_train, x_test, y_test)


def hue(label: int) -> tuple[float, float, float]:
    """Each class its own colour, around the colour wheel."""
    return colorsys.hsv_to_rgb(label / 10, 0.85, 1.0)


def coloured(split: Split, shape: tuple[int, int] = COLOUR_SHAPE, seed: int = 0) -> Split:
    """The digits enlarged to ``shape`` (bilinear), drawn in their class's hue on a dim noisy
    background: uint8 images N x H x W x 3 (channels last, as image libraries keep them)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    height, width = shape

    def draw(x, y):
        grey = np.stack([np.asarray(Image.fromarray(np.uint8(np.round(image * 255))).resize(
            (width, height), Image.BILINEAR), dtype=np.float32) / 255 for image in x])
        colours = np.array([hue(label) for label in y], dtype=np.float32)
        rgb = grey[..., None] * colours[:, None, None, :] + rng.normal(0.08, 0.03, (*grey.shape, 3))
        return np.uint8(np.round(np.clip(rgb, 0, 1) * 255))

    return Split(draw(split.x_train, split.y_train), split.y_train, draw(split.x_test, split.y_test), split.y_test)


def write_arrays(path: Path, split: Split, **more) -> Path:
    """One .npz with x_train, y_train, x_test, y_test (and ``more``, e.g. class_names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x_train=split.x_train, y_train=split.y_train, x_test=split.x_test, y_test=split.y_test, **more)
    return path


def write_folder(root: Path, images: Split, class_names, suffix: str = ".png") -> Path:
    """root/train/ and root/test/, one subfolder per class named ``class_names[label]``, one image file
    per point named by its place in the split (so that sorted names keep the split's order in a class).
    ``images`` are uint8, N x H x W (grey) or N x H x W x 3 (colour)."""
    from PIL import Image

    for part, (x, y) in images.parts().items():
        for folder in {root / part / class_names[label] for label in y}:
            folder.mkdir(parents=True, exist_ok=True)
        for index, (image, label) in enumerate(zip(x, y)):
            Image.fromarray(image).save(root / part / class_names[label] / f"{index:04d}{suffix}", quality=95)
    return root


def folder_order(y: np.ndarray, class_names) -> tuple[np.ndarray, np.ndarray]:
    """How a folder tree lists a split: its classes are the subfolders' names sorted (so the labels are
    their places in that order, as torchvision's ImageFolder has them), and inside a class the files'
    names sorted. (The order of the points, their labels in the tree.)"""
    names = sorted(set(class_names))
    labels = np.array([names.index(class_names[label]) for label in y], dtype=np.int64)
    order = np.lexsort((np.arange(len(y)), labels))
    return order, labels[order]
