"""Where a user's dataset comes from: an entry of the config's `datasets` with a `kind` of
nntopo.datasets.USER_KINDS, read split by split into raw arrays (before any scaling: nntopo.data.scaling),
and what can be told about it cheaply before it is read (``peek``).

- ``torchvision``: ``class`` names a class of torchvision.datasets (CIFAR10, SVHN, EMNIST, ...), made
  with ``root`` = the data directory (torchvision's own layout under it), ``download`` from the config,
  ``options`` as extra keyword arguments, and the split as ``train=True/False`` or, for a class that
  takes no ``train`` (SVHN, STL10), ``split="train"/"test"``.
- ``folder``: ``path`` holds ``train/`` and ``test/``, one subfolder per class (the classes are their
  names, sorted), PNG or JPEG images in them; ``size`` [height, width] to resize to (else every image
  must have one size); ``colour`` true (RGB) or false (grey).
- ``arrays``: ``path`` is a .npz or .h5/.hdf5 file with ``x_train``, ``y_train``, ``x_test``, ``y_test``
  (N x d points, N x H x W grey images or N x C x H x W images; ``channels_last`` for N x H x W x C)
  and integer labels 0..C-1, optionally ``class_names``; with ``task: regression``, real targets N or
  N x d instead of labels (``regression_facts``), optionally ``target_names`` (d strings).

Paths in an entry are the user's: absolute, or relative to the folder the workflow runs in. Images come
back as (N, C, H, W), points as (N, d), in the source's dtype. Every failure is a DataError of one line
naming the file or folder and the fix.

Imported by the config (``peek``) when the Snakefile loads, so light: numpy, PIL, h5py and
torchvision are imported inside the functions that need them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nntopo.data import DataError

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npz", ".h5", ".hdf5")
FOLDER_LAYOUT = "<path>/train/<class>/<image>.png and <path>/test/<class>/<image>.png (PNG or JPEG)"
ARRAYS_LAYOUT = "a .npz or .h5/.hdf5 file holding x_train, y_train, x_test, y_test (optionally class_names)"


@dataclass
class Split:
    """One split of a dataset as its source holds it."""

    x: object  # numpy array: (N, C, H, W) images or (N, d) points, in the source's dtype
    y: object  # numpy array (N,): the labels as stored (checked by check_labels)
    where: str  # what a message about these points names: a file, or a folder
    classes: tuple[str, ...] | None = None  # the classes' names in label order, when the source has them
    sources: dict[str, str] = field(default_factory=dict)  # the files read -> SHA-256
    target_names: tuple[str, ...] | None = None  # a regression's targets' names, when the source has them


def read(entry: dict, data_dir, download: bool, split: str) -> Split:
    """Split ``split`` ("train" or "test") of the dataset ``entry`` describes."""
    if entry.get("kind") not in _READERS:
        raise DataError(f"dataset {entry.get('name')}: kind {entry.get('kind')!r} is not one of {', '.join(_READERS)}")
    return _READERS[entry["kind"]](entry, Path(data_dir), download, split)


def peek(entry: dict, data_dir) -> dict | None:
    """What is known of ``entry``'s data without reading it whole: the record's ``input_shape``,
    ``classes``, ``points`` and ``smallest_class``; None for a torchvision dataset (known once prepared).
    Raises DataError for what is already wrong."""
    if entry["kind"] == "arrays":
        return _peek_arrays(entry)
    if entry["kind"] == "folder":
        return _peek_folder(entry)
    return None


def entry_path(entry: dict) -> Path:
    return Path(entry["path"]).expanduser()


# ---------------------------------------------------------------------------------------------------------
# Labels, the same checks for every kind (and for peek)

def check_label_values(y, where: str, split: str):
    """``y`` as int64, after refusing labels that are not a 1-D array of integers from 0."""
    import numpy as np

    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: y_{split} has shape {y.shape}; give one label a point, a 1-D array")
    if y.dtype.kind not in "iu":
        raise DataError(f"{where}: y_{split} is {y.dtype}, not integers; labels are class numbers 0..C-1 stored "
                        "as integers (y.astype(int))")
    if len(y) and y.min() < 0:
        raise DataError(f"{where}: y_{split} holds the label {y.min()}; labels are class numbers 0..C-1 (renumber "
                        "them from 0)")
    return y.astype(np.int64)


def check_labels(labels: dict, where: dict, names: tuple[str, ...] | None = None) -> tuple[tuple[str, ...], dict]:
    """The classes' names and each split's smallest class, from ``labels`` (split -> labels as stored)
    and the source's ``names`` (None: "0".."C-1" for C = the largest label + 1). Raises DataError, naming
    ``where[split]``, for labels that are not integers 0..C-1 or a class without a test point."""
    import numpy as np

    labels = {split: check_label_values(y, where[split], split) for split, y in labels.items()}
    top = max((int(y.max()) for y in labels.values() if len(y)), default=-1)
    if names is not None and top >= len(names):
        split = next(s for s, y in labels.items() if len(y) and y.max() == top)
        raise DataError(f"{where[split]}: y_{split} holds the label {top} but there are {len(names)} class names; "
                        f"labels are 0..{len(names) - 1}, one a class name")
    classes = tuple(names) if names is not None else tuple(str(c) for c in range(top + 1))
    if not classes:
        raise DataError(f"{where['test']}: no labelled points")
    counts = {split: np.bincount(y, minlength=len(classes)) for split, y in labels.items()}
    missing = [f"{c}" if names is None else f"{c} ({classes[c]!r})" for c in np.flatnonzero(counts["test"] == 0)]
    if missing:
        raise DataError(f"{where['test']}: class {', '.join(missing[:5])} has no test point; every class needs test "
                        "points (drop the class, or renumber the labels 0..C-1 without gaps)")
    return classes, {split: int(count.min()) for split, count in counts.items()}


def is_regression(entry: dict) -> bool:
    """Whether the dataset ``entry`` describes has real targets (an arrays dataset's ``task``)."""
    from nntopo import task

    return task.of_attrs(entry) == task.REGRESSION


def n_level_sets(entry: dict) -> int:
    """How many level sets stand in for a regression dataset's classes (its entry's ``level_sets``)."""
    from nntopo import task

    return int(entry.get("level_sets", task.LEVEL_SETS))


def check_targets(y, where: str, split: str):
    """A regression's targets ``y`` (N or N x d numbers) as float64 N x d, after refusing any other shape,
    non-numbers, NaN and infinity (naming the first bad point)."""
    import numpy as np

    from nntopo import task

    y = np.asarray(y)
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
        raise DataError(f"{where}: y_{split} has shape {y.shape}; give a regression's targets as N values or N x d")
    if y.dtype.kind not in "uif":
        raise DataError(f"{where}: y_{split} is {y.dtype}; give a regression's targets as numbers")
    y = task.targets_2d(y)
    bad = ~np.isfinite(y).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: y_{split} holds {int(bad.sum()):,} targets with NaN or infinite values (the first "
                        f"at point {int(np.argmax(bad)):,}); remove those points or give finite targets")
    return y


def refuse_real_labels(y, where: str, split: str) -> None:
    """A classification's labels that are real numbers are most likely a regression's targets: say so."""
    import numpy as np

    y = np.asarray(y)
    if y.dtype.kind == "f":
        raise DataError(f"{where}: y_{split} is {y.dtype}, not integers; labels are class numbers 0..C-1 stored as "
                        "integers (y.astype(int)), or, for real-valued targets, set task: regression in the dataset's entry")


def check_target_widths(targets: dict, where: dict) -> None:
    """Both splits' targets have the same d (``targets``: split -> N x d; the test split once read)."""
    d = {split: y.shape[1] for split, y in targets.items()}
    if "test" in d and d["test"] != d["train"]:
        raise DataError(f"{where['test']}: y_test has {d['test']} targets a point but y_train {d['train']}; give both "
                        "splits the same targets")


def regression_facts(targets: dict, where: dict, n_levels: int, names=None, levels: dict | None = None) -> dict:
    """A regression dataset's record facts from its ``targets`` (split -> checked N x d float64):
    ``task``, ``targets`` (d), ``target_names``, ``level_sets`` (nntopo.task.levels_of the training
    targets), and, as a classification's, ``classes`` (the level sets' names) and ``smallest_class``
    (each split's smallest level set). Refuses splits of different d, names not one a target, and
    fewer training points than level sets. ``levels``: those already cut from the training targets."""
    import numpy as np

    from nntopo import task

    check_target_widths(targets, where)
    d = {split: y.shape[1] for split, y in targets.items()}
    if names is not None and len(names) != d["train"]:
        raise DataError(f"{where['train']}: target_names names {len(names)} targets but y_train has {d['train']} a "
                        f"point; give one name a target")
    if len(targets["train"]) < n_levels:
        raise DataError(f"{where['train']}: {len(targets['train'])} training points cannot make {n_levels} level sets; "
                        "give more points or fewer level_sets")
    levels = levels or task.levels_of(targets["train"], n_levels)
    counts = {split: np.bincount(task.level_sets(y, levels), minlength=n_levels) for split, y in targets.items()}
    return {"classes": list(task.level_set_names(levels)),
            "smallest_class": {split: int(count.min()) for split, count in counts.items()},
            "task": task.REGRESSION, "targets": d["train"], "target_names": None if names is None else list(names),
            "level_sets": levels}


def check_lengths(x_shape, y_shape, where: str, split: str) -> None:
    if x_shape[0] != y_shape[0]:
        raise DataError(f"{where}: x_{split} has {x_shape[0]} points but y_{split} {y_shape[0]} labels; give "
                        "one label a point")


def shape_of(x_shape: tuple[int, ...], where: str, split: str, channels_last: bool = False) -> tuple[int, ...]:
    """One input's shape, (C, H, W) or (d,), from an array's shape (N, ...) as an arrays file holds it."""
    if channels_last and len(x_shape) != 4:
        raise DataError(f"{where}: x_{split} has shape {x_shape}; channels_last is for N x H x W x C images "
                        "(remove it from the entry)")
    if len(x_shape) == 2:
        return tuple(x_shape[1:])
    if len(x_shape) == 3:
        return (1, *x_shape[1:])
    if len(x_shape) == 4:
        rest = x_shape[1:]
        return (rest[2], rest[0], rest[1]) if channels_last else tuple(rest)
    raise DataError(f"{where}: x_{split} has shape {x_shape}; give N x d points, N x H x W grey images or "
                    "N x C x H x W images (N x H x W x C with channels_last: true)")


# ---------------------------------------------------------------------------------------------------------
# arrays: one .npz or HDF5 file

def _arrays_file(entry: dict) -> Path:
    path = entry_path(entry)
    if path.suffix.lower() not in ARRAY_SUFFIXES:
        raise DataError(f"dataset {entry['name']}: path {path} is not .npz, .h5 or .hdf5; give {ARRAYS_LAYOUT}")
    if not path.is_file():
        raise DataError(f"dataset {entry['name']}: {path} does not exist; give {ARRAYS_LAYOUT}")
    return path


@contextlib.contextmanager
def _opened_arrays(path: Path):
    """The file's arrays by name: a mapping whose values are read on access (npz members, h5 datasets)."""
    import zipfile

    import numpy as np

    npz = path.suffix.lower() == ".npz"
    if npz and not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz file (numpy.savez writes one); give {ARRAYS_LAYOUT}")
    try:
        if npz:
            with np.load(path, allow_pickle=False) as arrays:
                yield arrays
        else:
            import h5py

            with h5py.File(path, "r") as arrays:
                yield arrays
    except DataError:
        raise
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable {path.suffix} file ({' '.join(str(exc).split())}); give "
                        f"{ARRAYS_LAYOUT}") from None
    except ValueError as exc:  # numpy refusing pickled objects, h5py an unreadable dtype
        raise DataError(f"{path}: {' '.join(str(exc).split())}; store plain numeric arrays (no Python objects)") \
            from None


def _member(arrays, path: Path, name: str):
    if name not in arrays:
        raise DataError(f"{path}: no array {name} (has: {', '.join(sorted(arrays)) or 'nothing'}); give "
                        f"{ARRAYS_LAYOUT}")
    return arrays[name]


def _names(arrays, path: Path, key: str) -> tuple[str, ...] | None:
    """The optional 1-D array of strings ``key`` (class_names, target_names) of an arrays file."""
    import numpy as np

    if key not in arrays:
        return None
    names = np.asarray(arrays[key][()])
    if names.ndim != 1 or names.dtype.kind not in "USO":
        raise DataError(f"{path}: {key} is {names.dtype} with shape {names.shape}; give a 1-D array of strings")
    return tuple(name.decode() if isinstance(name, bytes) else str(name) for name in names.tolist())


def _numeric(x, path: Path, split: str):
    if x.dtype.kind not in "uif":
        raise DataError(f"{path}: x_{split} is {x.dtype}; give numbers (integers or floats)")
    return x


def _read_arrays(entry: dict, data_dir: Path, download: bool, split: str) -> Split:
    import numpy as np

    path = _arrays_file(entry)
    channels_last = bool(entry.get("channels_last", False))
    with _opened_arrays(path) as arrays:
        x = _numeric(np.asarray(_member(arrays, path, f"x_{split}")[()]), path, split)
        y = np.asarray(_member(arrays, path, f"y_{split}")[()])
        names = _names(arrays, path, "class_names")
        target_names = _names(arrays, path, "target_names")
    check_lengths(x.shape, y.shape, path, split)
    shape = shape_of(x.shape, path, split, channels_last)
    if x.ndim == 3:
        x = x[:, None]
    elif channels_last:
        x = x.transpose(0, 3, 1, 2)  # a view: prepare copies it in batches as it scales
    assert x.shape[1:] == shape
    from nntopo.files import checksum

    return Split(x, y, str(path), names, {str(path): checksum(path)}, target_names)


def _npz_shape(npz_zip, path: Path, name: str) -> tuple[int, ...]:
    """An array's shape from its .npy header inside the .npz, without reading the array."""
    import numpy as np

    member = f"{name}.npy"
    if member not in npz_zip.namelist():
        have = sorted(n.removesuffix(".npy") for n in npz_zip.namelist())
        raise DataError(f"{path}: no array {name} (has: {', '.join(have) or 'nothing'}); give {ARRAYS_LAYOUT}")
    with npz_zip.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:  # a header version numpy's public API cannot read alone: read the array itself
            with np.load(path, allow_pickle=False) as npz:
                array = npz[name]
            shape, dtype = array.shape, array.dtype
    if np.dtype(dtype).kind not in "uif" and name.startswith("x_"):
        raise DataError(f"{path}: {name} is {dtype}; give numbers (integers or floats)")
    return tuple(shape)


def _peek_arrays(entry: dict) -> dict:
    import numpy as np

    path = _arrays_file(entry)
    if path.suffix.lower() == ".npz":
        import zipfile

        try:
            with zipfile.ZipFile(path) as npz_zip:
                shapes = {f"x_{s}": _npz_shape(npz_zip, path, f"x_{s}") for s in SPLITS}
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{path}: not a readable .npz file ({exc}); give {ARRAYS_LAYOUT}") from None
    else:
        with _opened_arrays(path) as h5:
            shapes = {f"x_{s}": tuple(_member(h5, path, f"x_{s}").shape) for s in SPLITS}
            for s in SPLITS:
                _numeric(_member(h5, path, f"x_{s}"), path, s)
    with _opened_arrays(path) as arrays:  # labels and names are small: read them
        labels = {s: np.asarray(_member(arrays, path, f"y_{s}")[()]) for s in SPLITS}
        names = _names(arrays, path, "class_names")
        target_names = _names(arrays, path, "target_names")
    channels_last = bool(entry.get("channels_last", False))
    shape = {s: shape_of(shapes[f"x_{s}"], path, s, channels_last) for s in SPLITS}
    for s in SPLITS:
        check_lengths(shapes[f"x_{s}"], labels[s].shape, path, s)
    if shape["train"] != shape["test"]:
        raise DataError(f"{path}: one input of x_train has shape {shape['train']} but of x_test {shape['test']}; "
                        "give both splits the same input shape")
    points = {s: len(labels[s]) for s in SPLITS}
    if is_regression(entry):
        targets = {s: check_targets(labels[s], str(path), s) for s in SPLITS}
        facts = regression_facts(targets, {s: str(path) for s in SPLITS}, n_level_sets(entry), target_names)
        return {"input_shape": list(shape["train"]), "points": points, **facts}
    for s in SPLITS:
        refuse_real_labels(labels[s], path, s)
    classes, smallest = check_labels(labels, {s: str(path) for s in SPLITS}, names)
    return {"input_shape": list(shape["train"]), "classes": list(classes), "points": points, "smallest_class": smallest}


# ---------------------------------------------------------------------------------------------------------
# folder: train/<class>/<image>, test/<class>/<image>

def _folder_listing(entry: dict) -> dict[str, dict[str, list[Path]]]:
    """split -> class -> its image files, sorted by name; classes sorted, the same in both splits."""
    root = entry_path(entry)
    listing = {}
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"dataset {entry['name']}: {folder} is not a folder; a folder dataset is {FOLDER_LAYOUT}")
        classes = {}
        for child in sorted(folder.iterdir()):
            if child.name.startswith("."):
                continue
            if not child.is_dir():
                raise DataError(f"{child}: images go in one subfolder per class, {FOLDER_LAYOUT}; move or remove it")
            files = sorted(f for f in child.iterdir() if not f.name.startswith("."))
            for file in files:
                if file.suffix.lower() not in IMAGE_SUFFIXES or not file.is_file():
                    raise DataError(f"{file}: not a PNG or JPEG image (.png, .jpg, .jpeg); convert or remove it")
            classes[child.name] = files
        listing[split] = classes
    if list(listing["train"]) != list(listing["test"]):
        only = {s: sorted(set(listing[s]) - set(listing[o])) for s, o in (("train", "test"), ("test", "train"))}
        said = "; ".join(f"only in {s}/: {', '.join(only[s])}" for s in SPLITS if only[s])
        raise DataError(f"{root}: train/ and test/ have different class folders ({said}); give both the same classes")
    if not listing["train"]:
        raise DataError(f"{root / 'train'}: no class folders; a folder dataset is {FOLDER_LAYOUT}")
    return listing


def _size(entry: dict) -> tuple[int, int] | None:
    size = entry.get("size")
    if size is None:
        return None
    if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
        raise DataError(f"dataset {entry['name']}: size {size} is not [height, width] in pixels")
    return int(size[0]), int(size[1])


def _open_image(file: Path):
    from PIL import Image

    try:
        image = Image.open(file)
        image.load()
        return image
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"{file}: not a readable PNG or JPEG image ({' '.join(str(exc).split())}); replace or "
                        "remove it") from None


def _folder_image(file: Path, colour: bool, size: tuple[int, int] | None):
    """One image as (C, H, W) uint8: RGB or grey, resized (bilinear) to ``size`` when given."""
    import numpy as np
    from PIL import Image

    with _open_image(file) as image:
        image = image.convert("RGB" if colour else "L")
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(image)
    return pixels.transpose(2, 0, 1) if colour else pixels[None]


def _tree_digest(files: list[Path], root: Path) -> str:
    """One SHA-256 for a split's images: of each file's path below ``root`` and its own SHA-256, in order."""
    import hashlib

    from nntopo.files import checksum

    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(root).as_posix()}\0{checksum(file)}\n".encode())
    return digest.hexdigest()


def _read_folder(entry: dict, data_dir: Path, download: bool, split: str) -> Split:
    import numpy as np

    listing = _folder_listing(entry)[split]
    colour, size = bool(entry.get("colour", True)), _size(entry)
    files = [file for images in listing.values() for file in images]
    labels = np.repeat(np.arange(len(listing), dtype=np.int64), [len(images) for images in listing.values()])
    where = entry_path(entry) / split
    x, first = None, None
    for i, file in enumerate(files):
        image = _folder_image(file, colour, size)
        if x is None:
            x, first = np.empty((len(files), *image.shape), np.uint8), file
        elif image.shape != x.shape[1:]:
            raise DataError(f"{file} is {image.shape[2]}x{image.shape[1]} pixels but {first} is {x.shape[3]}x"
                            f"{x.shape[2]}; give the entry a size: [height, width] to resize every image to")
        x[i] = image
    if x is None:
        x = np.empty((0, 3 if colour else 1, *(size or (0, 0))), np.uint8)
    root = entry_path(entry)
    return Split(x, labels, str(where), tuple(listing), {f"{where}/": _tree_digest(files, root)})


def _peek_folder(entry: dict) -> dict:
    listing = _folder_listing(entry)
    colour, size = bool(entry.get("colour", True)), _size(entry)
    if size is None:
        first = next((f for split in SPLITS for images in listing[split].values() for f in images), None)
        if first is None:
            raise DataError(f"{entry_path(entry)}: no images; a folder dataset is {FOLDER_LAYOUT}")
        with _open_image_header(first) as image:
            size = (image.size[1], image.size[0])
    counts = {split: [len(images) for images in listing[split].values()] for split in SPLITS}
    empty = [f"{c} ({name!r})" for c, (name, n) in enumerate(zip(listing["test"], counts["test"])) if n == 0]
    if empty:
        raise DataError(f"{entry_path(entry) / 'test'}: class {', '.join(empty[:5])} has no test point (an empty "
                        "folder); every class needs test images")
    return {"input_shape": [3 if colour else 1, *size], "classes": list(listing["train"]),
            "points": {split: sum(counts[split]) for split in SPLITS},
            "smallest_class": {split: min(counts[split]) for split in SPLITS}}


@contextlib.contextmanager
def _open_image_header(file: Path):
    """The image opened lazily: PIL reads the header (its size), not the pixels."""
    from PIL import Image

    try:
        image = Image.open(file)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{file}: not a readable PNG or JPEG image ({' '.join(str(exc).split())}); replace or "
                        "remove it") from None
    with image:
        yield image


# ---------------------------------------------------------------------------------------------------------
# torchvision: a class of torchvision.datasets in the data directory

def _takes(cls, name: str) -> bool:
    """Whether ``cls(...)`` accepts the keyword ``name``, following ``**kwargs`` up to the base classes
    (EMNIST takes ``train`` through MNIST's)."""
    import inspect

    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = inspect.signature(init).parameters
        if name in parameters:
            return True
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return False
    return False


def _torchvision_class(entry: dict):
    import torchvision

    name = entry["class"]
    cls = getattr(torchvision.datasets, name, None)
    if not isinstance(cls, type) or not _takes(cls, "root"):
        raise DataError(f"dataset {entry['name']}: torchvision.datasets has no dataset class {name!r} taking a root "
                        "folder; give one such as CIFAR10, CIFAR100, SVHN, STL10, MNIST, FashionMNIST, KMNIST, EMNIST")
    return cls


def _switch(cls, split: str) -> dict:
    """The keyword that picks the split: train=True/False, else split="train"/"test"."""
    if _takes(cls, "train"):
        return {"train": split == "train"}
    if _takes(cls, "split"):
        return {"split": split}
    raise DataError(f"torchvision.datasets.{cls.__name__} takes neither train nor split; nntopo cannot tell its "
                    "training split from its test split: save it as an arrays file instead")


def _expected_folder(cls, root: Path) -> Path:
    """Where ``cls`` looks for its files under ``root``."""
    import torchvision

    if issubclass(cls, torchvision.datasets.MNIST):
        return root / cls.__name__ / "raw"
    base = getattr(cls, "base_folder", None)
    return root / base if isinstance(base, str) else root


def fetch_command(entry: dict, root) -> str:
    """The command that downloads ``entry``'s torchvision dataset into ``root``, both splits."""
    cls = _torchvision_class(entry)
    switch = "train=s" if _takes(cls, "train") else "split=s"
    values = "(True, False)" if _takes(cls, "train") else "('train', 'test')"
    options = "".join(f", {key}={value!r}" for key, value in (entry.get("options") or {}).items())
    return (f"python -c \"import torchvision as tv; [tv.datasets.{cls.__name__}('{root}', {switch}{options}, "
            f"download=True) for s in {values}]\"")


_OPENED: list[set] = []  # while reading a torchvision dataset: the paths it opens (see _opened_files)


def _audit(event: str, args) -> None:
    if event == "open" and _OPENED and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED[-1].add(os.fsdecode(args[0]))


@contextlib.contextmanager
def _opened_files():
    """The files opened inside the block: which of a torchvision folder's files a class read is its
    own business, so the provenance records what it opened (Python's audit hook sees every open)."""
    if not getattr(_audit, "installed", False):
        sys.addaudithook(_audit)  # once per process: hooks cannot be removed
        _audit.installed = True
    opened: set = set()
    _OPENED.append(opened)
    try:
        yield opened
    finally:
        _OPENED.pop()


def _item_array(image):
    """One item's image as (C, H, W): a PIL image or an (H, W[, C]) array, or a (C, H, W) tensor."""
    import numpy as np

    if hasattr(image, "numpy") and hasattr(image, "dim"):  # a torch tensor is channels first already
        pixels = image.numpy()
        return pixels[None] if pixels.ndim == 2 else pixels
    pixels = np.asarray(image)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _label(target, where: str) -> int:
    try:
        return int(target)
    except (TypeError, ValueError):
        raise DataError(f"{where}: a target is {type(target).__name__} {target!r}, not a class number; nntopo "
                        "reads classification datasets") from None


def _torchvision_generic(dataset, where: str):
    """Every item through the dataset's own __getitem__ (what a DataLoader would see)."""
    import numpy as np

    x = y = None
    for i in range(len(dataset)):
        image, target = dataset[i]
        pixels = _item_array(image)
        if x is None:
            x, y = np.empty((len(dataset), *pixels.shape), pixels.dtype), np.empty(len(dataset), np.int64)
        elif pixels.shape != x.shape[1:]:
            raise DataError(f"{where}: item {i} has shape {pixels.shape} but item 0 {x.shape[1:]}; nntopo needs one "
                            "input shape (save the dataset resized as a folder or arrays dataset)")
        x[i], y[i] = pixels, _label(target, where)
    return x, y


def _torchvision_fast(dataset, where: str):
    """The dataset's own arrays (``.data`` and ``.targets`` or ``.labels``) in (N, C, H, W), when they are
    exactly what __getitem__ gives: checked on the first, middle and last items; else None."""
    import numpy as np

    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", getattr(dataset, "labels", None))
    if data is None or targets is None or len(dataset) == 0:
        return None
    as_array = (lambda a: a.numpy() if hasattr(a, "numpy") and hasattr(a, "dim") else np.asarray(a))
    x, y = as_array(data), as_array(targets)
    items = {i: dataset[i] for i in sorted({0, len(dataset) // 2, len(dataset) - 1})}
    first = _item_array(items[0][0])
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[1:] != first.shape:
        x = x.transpose(0, 3, 1, 2)  # channels last, as CIFAR keeps them
    if x.shape != (len(dataset), *first.shape) or y.shape != (len(dataset),) or y.dtype.kind not in "iu":
        return None
    for i, (image, target) in items.items():
        pixels = _item_array(image)
        if pixels.dtype != x.dtype or not np.array_equal(pixels, x[i]) or _label(target, where) != y[i]:
            return None
    return x, y.astype(np.int64)


def _read_torchvision(entry: dict, data_dir: Path, download: bool, split: str) -> Split:
    cls = _torchvision_class(entry)
    options = dict(entry.get("options") or {})
    switch = _switch(cls, split)
    clash = sorted(set(options) & {*switch, "root", "download", "transform", "target_transform"})
    if clash:
        raise DataError(f"dataset {entry['name']}: options {', '.join(clash)} are nntopo's to set (the data "
                        "directory, download, the split); remove them from options")
    folder = _expected_folder(cls, data_dir)
    where = f"torchvision.datasets.{cls.__name__} in {folder}"
    with _opened_files() as opened:
        try:
            dataset = cls(str(data_dir), download=download, **switch, **options)
        except (TypeError, ValueError) as exc:  # options the class does not take
            raise DataError(f"dataset {entry['name']}: torchvision.datasets.{cls.__name__} refused options {options}: "
                            f"{' '.join(str(exc).split())}") from None
        except Exception as exc:  # files missing, corrupt, or a failed download: torchvision's words vary
            reason = " ".join(str(exc).split())
            how = "could not download into" if download else "found no files in"
            off = " and download is off" if not download else ""
            raise DataError(f"dataset {entry['name']}: torchvision.datasets.{cls.__name__} {how} {folder}{off} "
                            f"({reason}); fetch them with {fetch_command(entry, data_dir)} where there is internet "
                            f"and copy {folder} here{', or set download: true' if not download else ''}") from None
        fast = _torchvision_fast(dataset, where)
        x, y = fast if fast is not None else _torchvision_generic(dataset, where)
    if x is None:
        raise DataError(f"{where}: the {split} split is empty")
    names = getattr(dataset, "classes", None)
    names = tuple(str(n) for n in names) if names is not None and len(names) > int(y.max()) else None
    from nntopo.files import checksum

    files = sorted(p for p in opened if Path(p).is_file() and Path(p).resolve().is_relative_to(data_dir.resolve()))
    return Split(x, y, where, names, {p: checksum(p) for p in files})


_READERS = {"torchvision": _read_torchvision, "folder": _read_folder, "arrays": _read_arrays}
