"""The torchvision kind reads each dataset through torchvision's own class, from small files the tests
write in that dataset's on-disk format (tests/unit/data/formats.py): CIFAR-10 and CIFAR-100's pickled
batches, SVHN's .mat files, STL10's column-major binaries, and the IDX files of MNIST, Fashion-MNIST,
KMNIST and EMNIST.

torchvision checks the MD5s of CIFAR's, SVHN's and STL10's files against the real datasets'; the tests set
the class's expected checksum lists (monkeypatching CIFAR10.train_list/test_list/meta, SVHN.split_list,
STL10.train_list/test_list) to the MD5s of their own files, and leave torchvision's reading code real.

The arrays come back channels first (N, C, H, W) uint8 with int64 labels, the same through the
dataset's own arrays (the fast path) as item by item through __getitem__ (what a DataLoader sees).
"""

import gzip
import shutil

import numpy as np
import pytest
import torchvision

from nntopo import data
from nntopo.data import DataError, sources
from nntopo.data.prepare import prepare
from tests.unit.data import formats


def entry(cls: str, **more) -> dict:
    return {"name": cls.lower(), "kind": "torchvision", "class": cls, "options": {}, "scaling": "unit", **more}


def patch_cifar(monkeypatch, cls, written):
    def listed(files):
        return [[name, written["md5"][name]] for name, _ in files]

    monkeypatch.setattr(cls, "train_list", listed(cls.train_list))
    monkeypatch.setattr(cls, "test_list", listed(cls.test_list))
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": written["md5"][cls.meta["filename"]]})


def both_paths(dataset_entry, root, split):
    """The split through the fast path and item by item, from one torchvision dataset object."""
    cls = sources._torchvision_class(dataset_entry)
    dataset = cls(str(root), download=False, **sources._switch(cls, split), **dataset_entry["options"])
    return sources._torchvision_fast(dataset, "here"), sources._torchvision_generic(dataset, "here")


def assert_read(dataset_entry, root, written, classes=None):
    for split in ("train", "test"):
        read = sources.read(dataset_entry, root, False, split)
        x, y = written[split]
        assert read.x.dtype == np.uint8 and read.x.shape == x.shape and np.array_equal(read.x, x)
        assert read.y.dtype == np.int64 and np.array_equal(read.y, y)
        assert read.classes == (tuple(classes) if classes is not None else None)
        fast, generic = both_paths(dataset_entry, root, split)
        assert fast is not None, "the fast path should apply to this class"
        assert np.array_equal(fast[0], generic[0]) and np.array_equal(fast[1], generic[1])
        assert fast[0].shape == generic[0].shape and fast[1].dtype == generic[1].dtype == np.int64


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar(tmp_path, monkeypatch, hundred):
    written = formats.write_cifar(tmp_path, hundred=hundred)
    cls = torchvision.datasets.CIFAR100 if hundred else torchvision.datasets.CIFAR10
    patch_cifar(monkeypatch, cls, written)
    assert_read(entry(cls.__name__), tmp_path, written, written["classes"])
    read = sources.read(entry(cls.__name__), tmp_path, False, "test")
    folder = tmp_path / cls.base_folder
    assert set(read.sources) >= {str(folder / name) for name, _ in cls.test_list}  # the files it opened


def test_svhn_labels_ten_as_zero(tmp_path, monkeypatch):
    written = formats.write_svhn(tmp_path)
    split_list = {split: [url, name, written["md5"].get(split, md5)]
                  for split, (url, name, md5) in torchvision.datasets.SVHN.split_list.items()}
    monkeypatch.setattr(torchvision.datasets.SVHN, "split_list", split_list)
    assert_read(entry("SVHN"), tmp_path, written)  # no .classes: "0".."9" by number
    assert 0 in sources.read(entry("SVHN"), tmp_path, False, "test").y


def test_stl10_column_major(tmp_path, monkeypatch):
    written = formats.write_stl10(tmp_path)
    cls = torchvision.datasets.STL10
    monkeypatch.setattr(cls, "train_list", [[name, written["md5"][name]] for name, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[name, written["md5"][name]] for name, _ in cls.test_list])
    assert_read(entry("STL10"), tmp_path, written, written["classes"])


@pytest.mark.parametrize("cls", ["MNIST", "FashionMNIST", "KMNIST"])
def test_mnist_family(tmp_path, cls):
    files = formats.mnist_files(25, 15)
    formats.write_idx_dataset(tmp_path, cls, files)
    written = {split: (files[f"{stem}-images-idx3-ubyte"][:, None], files[f"{stem}-labels-idx1-ubyte"].astype(np.int64))
               for split, stem in (("train", "train"), ("test", "t10k"))}
    assert_read(entry(cls), tmp_path, written, getattr(torchvision.datasets, cls).classes)


def test_emnist_with_its_split_option(tmp_path):
    files = formats.mnist_files(60, 50, classes=47, prefix="emnist-balanced")
    formats.write_idx_dataset(tmp_path, "EMNIST", files)
    stem = "emnist-balanced-{}-{}-idx{}-ubyte".format
    written = {split: (files[stem(split, "images", 3)][:, None], files[stem(split, "labels", 1)].astype(np.int64))
               for split in ("train", "test")}
    balanced = entry("EMNIST", options={"split": "balanced"})
    assert_read(balanced, tmp_path, written, torchvision.datasets.EMNIST.classes_split_dict["balanced"])


def test_the_split_switch_is_train_or_split():
    assert sources._switch(torchvision.datasets.CIFAR10, "test") == {"train": False}
    assert sources._switch(torchvision.datasets.EMNIST, "train") == {"train": True}  # through MNIST's **kwargs
    assert sources._switch(torchvision.datasets.SVHN, "test") == {"split": "test"}
    assert sources._switch(torchvision.datasets.STL10, "train") == {"split": "train"}


def test_a_missing_download_names_the_folder_and_the_command(tmp_path):
    with pytest.raises(DataError) as error:
        sources.read(entry("CIFAR10"), tmp_path, False, "train")
    message = str(error.value)
    assert "\n" not in message and f"{tmp_path / 'cifar-10-batches-py'}" in message
    assert (f"python -c \"import torchvision as tv; [tv.datasets.CIFAR10('{tmp_path}', train=s, download=True) "
            "for s in (True, False)]\"") in message and "download: true" in message
    with pytest.raises(DataError, match=r"EMNIST/raw.*split='letters', download=True\) for s in \(True, False\)"):
        sources.read(entry("EMNIST", options={"split": "letters"}), tmp_path, False, "test")
    with pytest.raises(DataError, match=r"tv.datasets.SVHN\('.*', split=s, download=True\) for s in \('train', 'tes"):
        sources.read(entry("SVHN"), tmp_path, False, "test")


def test_an_unknown_class_and_options_of_nntopo_are_refused(tmp_path):
    with pytest.raises(DataError, match="torchvision.datasets has no dataset class 'CIFAR11'"):
        sources.read(entry("CIFAR11"), tmp_path, False, "train")
    with pytest.raises(DataError, match="options train are nntopo's to set"):
        sources.read(entry("MNIST", options={"train": False}), tmp_path, False, "train")


def test_mnist_through_torchvision_is_the_built_in_loader_bit_for_bit(tmp_path):
    """(a) Both readers on the same IDX files: the built-in reads raw/*.gz, torchvision the unzipped files."""
    files = formats.mnist_files(40, 30)
    formats.write_idx_dataset(tmp_path, "MNIST", files, gzipped=True)
    built_in = data.load("mnist", tmp_path, download=False)
    mine = prepared("MNIST", tmp_path, tmp_path / "out")
    assert_same_dataset(mine, built_in)


def prepared(cls: str, data_dir, out, name: str = "mnist_tv"):
    item = {**entry(cls), "name": name}
    prepare(item, data_dir, False, out / "data.h5", out / "dataset.json", log=lambda _: None)
    return data.load(name, data_file=out / "data.h5")


def assert_same_dataset(mine, built_in):
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(mine, key), getattr(built_in, key)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), key
    assert mine.x_train.dtype == np.float32 and mine.y_train.dtype == np.int64
    assert mine.input_shape == built_in.input_shape == (1, 28, 28)
    assert mine.scaling == built_in.scaling == {"kind": "unit", "low": 0, "high": 255}


@pytest.mark.realdata
@pytest.mark.parametrize("name, cls", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_real_mnist_through_torchvision_is_the_built_in_loader(real_data_dir, tmp_path, name, cls):
    """(b) The real MNIST and Fashion-MNIST: torchvision's layout (the unzipped IDX files in <Class>/raw/,
    unzipped here from NNTOPO_DATA_DIR's .gz files) read by torchvision give the built-in loader's arrays."""
    raw = tmp_path / "data" / cls / "raw"
    raw.mkdir(parents=True)
    for packed in (real_data_dir / cls / "raw").glob("*.gz"):
        with gzip.open(packed) as source, open(raw / packed.name.removesuffix(".gz"), "wb") as target:
            shutil.copyfileobj(source, target)
    mine = prepared(cls, tmp_path / "data", tmp_path / "out", name=f"{name}_tv")
    built_in = data.load(name, real_data_dir, download=False)
    assert_same_dataset(mine, built_in)
    assert mine.classes == tuple(getattr(torchvision.datasets, cls).classes)
