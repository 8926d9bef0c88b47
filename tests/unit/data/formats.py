"""Small datasets written in each source's own on-disk format, by the tests' own code (nothing of nntopo's),
for the real readers to read: torchvision's layouts (IDX files, CIFAR's pickled batches, SVHN's .mat,
STL10's column-major binaries), an image folder tree, and arrays files.

torchvision checks the MD5 of CIFAR's, SVHN's and STL10's files against the real datasets'; ``md5s``
gives the MD5s of the files written here, which a test sets as the class's expected checksums
(monkeypatching its class attributes), leaving torchvision's reading code as it is.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np

RNG_SEED = 0


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def images(n: int, shape, seed: int = RNG_SEED) -> np.ndarray:
    """``n`` random uint8 images of ``shape``."""
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def labels(n: int, classes: int, seed: int = RNG_SEED) -> np.ndarray:
    """``n`` labels with every one of ``classes`` present (first each class once, then at random)."""
    rest = np.random.default_rng(seed + 1).integers(0, classes, max(0, n - classes))
    return np.concatenate([np.arange(min(n, classes)), rest]).astype(np.int64)


# --- IDX (MNIST, Fashion-MNIST, KMNIST, EMNIST): torchvision reads the unzipped files in <Class>/raw/

def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1").tobytes()


def write_idx_dataset(root: Path, folder: str, files: dict[str, np.ndarray], gzipped: bool = False) -> Path:
    """IDX files named as ``files`` says in root/<folder>/raw/ (unzipped; also gzipped ``name.gz`` when asked)."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in files.items():
        payload = idx_bytes(array)
        (raw / name).write_bytes(payload)
        if gzipped:
            (raw / f"{name}.gz").write_bytes(gzip.compress(payload))
    return raw


def mnist_files(n_train: int, n_test: int, shape=(28, 28), classes: int = 10, prefix: str = "") -> dict:
    """The four MNIST-layout arrays: train-images-idx3-ubyte, ... (``prefix`` for EMNIST's names)."""
    names = {"train": f"{prefix}-train", "test": f"{prefix}-test"} if prefix else {"train": "train", "test": "t10k"}
    files = {}
    for seed, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        files[f"{names[split]}-images-idx3-ubyte"] = images(n, shape, seed)
        files[f"{names[split]}-labels-idx1-ubyte"] = labels(n, classes, seed).astype(np.uint8)
    return files


# --- CIFAR-10 and CIFAR-100: pickled dicts of (n, 3072) uint8 rows (channel, row, column) and labels

def write_cifar(root: Path, hundred: bool = False, per_batch: int = 6, test: int = 12) -> dict:
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} (or cifar-100-python/{train,
    test, meta}); returns the images (N, 3, 32, 32) and labels per split and the file MD5s by name."""
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    classes = 100 if hundred else 10
    key = "fine_labels" if hundred else "labels"
    if hundred:
        batches = {"train": [("train", 40)], "test": [("test", 100)]}
    else:
        batches = {"train": [(f"data_batch_{i}", per_batch) for i in range(1, 6)], "test": [("test_batch", test)]}
    written = {"md5": {}}
    for seed, (split, files) in enumerate(batches.items()):
        n = sum(size for _, size in files)
        x, y = images(n, (3, 32, 32), seed), labels(n, classes, seed)
        written[split] = (x, y)
        start = 0
        for name, size in files:
            rows = x[start:start + size].reshape(size, -1)
            entry = {"data": rows, key: y[start:start + size].tolist()}
            if hundred:
                entry["coarse_labels"] = (y[start:start + size] // 5).tolist()
            (folder / name).write_bytes(pickle.dumps(entry))
            written["md5"][name] = md5(folder / name)
            start += size
    names = [f"class {c}" for c in range(classes)]
    meta = "meta" if hundred else "batches.meta"
    (folder / meta).write_bytes(pickle.dumps({"fine_label_names" if hundred else "label_names": names}))
    written["md5"][meta] = md5(folder / meta)
    written["classes"] = names
    return written


# --- SVHN: root/{train,test}_32x32.mat, X as H x W x C x N, y as N x 1 with 10 for the digit 0

def write_svhn(root: Path, n_train: int = 15, n_test: int = 12) -> dict:
    from scipy.io import savemat

    root.mkdir(parents=True, exist_ok=True)
    written = {"md5": {}}
    for seed, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        x, y = images(n, (3, 32, 32), seed), labels(n, 10, seed)
        stored = np.where(y == 0, 10, y).astype(np.uint8)[:, None]  # SVHN's own labels: 1..10
        savemat(root / f"{split}_32x32.mat", {"X": x.transpose(2, 3, 1, 0), "y": stored})
        written[split] = (x, y)
        written["md5"][split] = md5(root / f"{split}_32x32.mat")
    return written


# --- STL10: root/stl10_binary/*.bin, uint8 images stored column-major (channel, column, row), labels 1..10

def write_stl10(root: Path, n_train: int = 12, n_test: int = 10) -> dict:
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    written = {"md5": {}}
    for seed, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        x, y = images(n, (3, 96, 96), seed), labels(n, 10, seed)
        (folder / f"{split}_X.bin").write_bytes(x.transpose(0, 1, 3, 2).tobytes())
        (folder / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())
        written[split] = (x, y)
    (folder / "unlabeled_X.bin").write_bytes(images(2, (3, 96, 96), 9).transpose(0, 1, 3, 2).tobytes())
    written["classes"] = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / "class_names.txt").write_text("\n".join(written["classes"]) + "\n")
    for file in folder.glob("*.bin"):
        written["md5"][file.name] = md5(file)
    return written


# --- an image folder tree: root/{train,test}/<class>/<image>

def write_folder(root: Path, split_images: dict, class_names, suffix: str = ".png", quality: int = 95) -> Path:
    """``split_images``: split -> (uint8 images N x H x W or N x H x W x 3, labels); one file per image
    named by its place in the split."""
    from PIL import Image

    for split, (x, y) in split_images.items():
        for name in class_names:
            (root / split / name).mkdir(parents=True, exist_ok=True)
        for i, (image, label) in enumerate(zip(x, y)):
            path = root / split / class_names[label] / f"{i:05d}{suffix}"
            options = {"quality": quality} if suffix in (".jpg", ".jpeg") else {}
            Image.fromarray(image).save(path, **options)
    return root


# --- arrays files

def write_npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def write_h5(path: Path, **arrays) -> Path:
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        for name, array in arrays.items():
            if name == "class_names":
                h5.create_dataset(name, data=[str(n).encode() for n in array])
            else:
                h5.create_dataset(name, data=array)
    return path
