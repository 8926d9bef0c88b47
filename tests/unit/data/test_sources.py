"""The folder and arrays kinds read what the files hold (written here: tests/unit/data/formats.py), in a
fixed order, as (N, C, H, W) images or (N, d) points; bad input is one line naming the file and the fix;
``peek`` tells the record's facts without reading the data whole, and stays light to import."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nntopo.data import DataError, sources
from tests.unit.data import formats

NAMES = ("cat", "dog", "owl")


def folder_entry(path, **more) -> dict:
    return {"name": "own", "kind": "folder", "path": str(path), "colour": True, "scaling": "unit", **more}


def arrays_entry(path, **more) -> dict:
    return {"name": "own", "kind": "arrays", "path": str(path), "scaling": "unit", **more}


def small_split(shape, n_train=9, n_test=6, classes=3):
    return {split: (formats.images(n, shape, seed), formats.labels(n, classes, seed))
            for seed, (split, n) in enumerate((("train", n_train), ("test", n_test)))}


def in_folder_order(x, y):
    """The images in the order the folder kind reads them: by class, then by file name (the split's order)."""
    order = np.argsort(y, kind="stable")
    return x[order], y[order]


def named(writer, stem: str):
    return f"{stem}.npz" if writer is formats.write_npz else f"{stem}.h5"


# --- folder

@pytest.mark.parametrize("colour", [True, False])
def test_folder_png_is_read_exactly_by_class_then_name(tmp_path, colour):
    split = small_split((5, 7, 3) if colour else (5, 7))
    formats.write_folder(tmp_path, split, NAMES)
    for part, (x, y) in split.items():
        read = sources.read(folder_entry(tmp_path, colour=colour), ".", False, part)
        x, y = in_folder_order(x, y)
        expected = x.transpose(0, 3, 1, 2) if colour else x[:, None]
        assert read.x.dtype == np.uint8 and np.array_equal(read.x, expected) and np.array_equal(read.y, y)
        assert read.classes == NAMES and read.where == str(tmp_path / part)


def test_folder_jpeg_colour_is_close_to_what_was_saved(tmp_path):
    smooth = np.broadcast_to(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (16, 16, 3)).copy()
    split = {part: (np.stack([smooth, 255 - smooth, smooth // 2]), np.arange(3)) for part in ("train", "test")}
    formats.write_folder(tmp_path, split, NAMES, suffix=".jpg")
    read = sources.read(folder_entry(tmp_path), ".", False, "test")
    assert read.x.shape == (3, 3, 16, 16)
    assert np.abs(read.x.astype(int) - split["test"][0].transpose(0, 3, 1, 2)).mean() < 3  # JPEG is lossy


def test_folder_resized_and_grey_from_colour(tmp_path):
    """Plain-coloured images stay that colour when resized; grey is ITU-R 601-2 luma (red 255 -> 76)."""
    red, blue = np.zeros((6, 4, 3), np.uint8), np.zeros((9, 9, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    split = {part: (np.array([red, red]), np.array([0, 1])) for part in ("train", "test")}
    formats.write_folder(tmp_path / "a", split, ("red", "red2"))
    read = sources.read(folder_entry(tmp_path / "a", size=[5, 7]), ".", False, "train")
    assert read.x.shape == (2, 3, 5, 7) and (read.x[:, 0] == 255).all() and (read.x[:, 1:] == 0).all()
    grey = sources.read(folder_entry(tmp_path / "a", size=[5, 7], colour=False), ".", False, "train")
    assert grey.x.shape == (2, 1, 5, 7) and (grey.x == 76).all()
    # images of two sizes are fine with a size
    (tmp_path / "a" / "train" / "red" / "blue.png").write_bytes(b"")
    Image.fromarray(blue).save(tmp_path / "a" / "train" / "red" / "blue.png")
    assert sources.read(folder_entry(tmp_path / "a", size=[5, 7]), ".", False, "train").x.shape == (3, 3, 5, 7)


def test_folder_two_sizes_without_size_names_both_files(tmp_path):
    split = small_split((5, 7))
    formats.write_folder(tmp_path, split, NAMES)
    odd = tmp_path / "train" / "dog" / "zzz.png"
    Image.fromarray(np.zeros((6, 7), np.uint8)).save(odd)
    with pytest.raises(DataError) as error:
        sources.read(folder_entry(tmp_path, colour=False), ".", False, "train")
    message = str(error.value)
    assert str(odd) in message and "7x6" in message and "7x5" in message and "size: [height, width]" in message
    assert str(tmp_path / "train" / "cat") in message


def test_folder_an_unreadable_image_is_named(tmp_path):
    formats.write_folder(tmp_path, small_split((5, 7)), NAMES)
    broken = tmp_path / "test" / "owl" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match=f"{broken}: not a readable PNG or JPEG image .*replace or remove it"):
        sources.read(folder_entry(tmp_path, colour=False), ".", False, "test")
    broken.unlink()
    (tmp_path / "test" / "owl" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match=r"notes.txt: not a PNG or JPEG image \(.png, .jpg, .jpeg\)"):
        sources.read(folder_entry(tmp_path, colour=False), ".", False, "test")


def test_folder_layout_problems(tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'train'} is not a folder; a folder dataset is <path>/train/"):
        sources.peek(folder_entry(tmp_path), ".")
    formats.write_folder(tmp_path, small_split((4, 4)), NAMES)
    (tmp_path / "test" / "emu").mkdir()
    with pytest.raises(DataError, match=r"different class folders \(only in test/: emu\)"):
        sources.peek(folder_entry(tmp_path), ".")
    (tmp_path / "train" / "emu").mkdir()
    with pytest.raises(DataError, match=r"test: class 2 \('emu'\) has no test point \(an empty folder\)"):
        sources.peek(folder_entry(tmp_path), ".")


# --- arrays

@pytest.mark.parametrize("writer", [formats.write_npz, formats.write_h5])
@pytest.mark.parametrize("stored, shape", [
    ((12, 5), (5,)),  # points
    ((12, 6, 4), (1, 6, 4)),  # grey images
    ((12, 3, 6, 4), (3, 6, 4)),  # images channels first
])
def test_arrays_shapes(tmp_path, writer, stored, shape):
    rng = np.random.default_rng(0)
    x = {s: rng.normal(size=(n, *stored[1:])).astype(np.float32) for s, n in (("train", 12), ("test", 9))}
    y = {s: formats.labels(len(x[s]), 3) for s in x}
    path = writer(tmp_path / named(writer, "a"),
                  x_train=x["train"], y_train=y["train"], x_test=x["test"], y_test=y["test"], class_names=NAMES)
    for split, stored_x in x.items():
        read = sources.read(arrays_entry(path), ".", False, split)
        assert read.x.shape[1:] == shape and np.array_equal(read.x.reshape(stored_x.shape), stored_x)
        assert np.array_equal(read.y, y[split]) and read.classes == NAMES and str(path) in read.sources


@pytest.mark.parametrize("writer", [formats.write_npz, formats.write_h5])
def test_arrays_channels_last(tmp_path, writer):
    x = formats.images(10, (6, 4, 3))
    y = formats.labels(10, 2)
    path = writer(tmp_path / ("a.npz" if writer is formats.write_npz else "a.hdf5"), x_train=x, y_train=y,
                  x_test=x, y_test=y)
    read = sources.read(arrays_entry(path, channels_last=True), ".", False, "test")
    assert read.x.shape == (10, 3, 6, 4) and np.array_equal(read.x, x.transpose(0, 3, 1, 2))
    assert read.x[2, 1, 5, 3] == x[2, 5, 3, 1]
    with pytest.raises(DataError, match="channels_last is for N x H x W x C images"):
        sources.read(arrays_entry(writer(tmp_path / named(writer, "b"), x_train=x[..., 0], y_train=y, x_test=x[..., 0],
                                         y_test=y), channels_last=True), ".", False, "train")


def good_arrays(**changed):
    arrays = {"x_train": np.zeros((6, 2), np.float32), "y_train": np.array([0, 1, 2, 0, 1, 2]),
              "x_test": np.ones((3, 2), np.float32), "y_test": np.array([0, 1, 2])}
    return {**arrays, **changed}


@pytest.mark.parametrize("changed, message", [
    ({"y_train": np.array([0, 1, 2, 0, 1])}, "x_train has 6 points but y_train 5 labels; give one label a point"),
    ({"y_test": np.array([0.0, 1.0, 2.0])}, "y_test is float64, not integers; labels are class numbers 0..C-1"),
    ({"y_test": np.array([-1, 1, 2])}, "y_test holds the label -1; labels are class numbers 0..C-1"),
    ({"y_test": np.array([0, 2, 2])}, "class 1 has no test point; every class needs test points"),
    ({"x_test": np.ones((3,), np.float32)}, "x_test has shape (3,); give N x d points"),
    ({"x_test": np.ones((3, 3), np.float32)}, "one input of x_train has shape (2,) but of x_test (3,)"),
    ({"class_names": np.array(["a", "b"])}, "y_train holds the label 2 but there are 2 class names; labels are 0..1"),
])
def test_bad_arrays_are_one_line_naming_the_file(tmp_path, changed, message):
    path = formats.write_npz(tmp_path / "bad.npz", **good_arrays(**changed))
    with pytest.raises(DataError) as error:
        sources.peek(arrays_entry(path), ".")
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value) and "\n" not in str(error.value)


def test_missing_arrays_file_and_array(tmp_path):
    with pytest.raises(DataError, match=f"dataset own: {tmp_path / 'no.npz'} does not exist; give a .npz or .h5"):
        sources.peek(arrays_entry(tmp_path / "no.npz"), ".")
    with pytest.raises(DataError, match=r"is not .npz, .h5 or .hdf5"):
        sources.peek(arrays_entry(tmp_path / "x.csv"), ".")
    arrays = good_arrays()
    del arrays["y_test"]
    path = formats.write_npz(tmp_path / "three.npz", **arrays)
    with pytest.raises(DataError, match=r"three.npz: no array y_test \(has: x_test, x_train, y_train\)"):
        sources.peek(arrays_entry(path), ".")
    h5 = formats.write_h5(tmp_path / "three.h5", **arrays)
    with pytest.raises(DataError, match=r"three.h5: no array y_test \(has: x_test, x_train, y_train\)"):
        sources.read(arrays_entry(h5), ".", False, "test")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataError, match="junk.npz: not a .npz file"):
        sources.read(arrays_entry(tmp_path / "junk.npz"), ".", False, "test")
    objects = formats.write_npz(tmp_path / "objects.npz", **good_arrays(x_test=np.array([[1, "a"]], dtype=object)))
    with pytest.raises(DataError, match="objects.npz: .*store plain numeric arrays"):
        sources.read(arrays_entry(objects), ".", False, "test")


# --- peek

@pytest.mark.parametrize("writer", [formats.write_npz, formats.write_h5])
def test_peek_arrays_reads_shapes_from_headers(tmp_path, writer):
    x = formats.images(20, (3, 5, 4))
    path = writer(tmp_path / named(writer, "p"), x_train=x, y_train=formats.labels(20, 4),
                  x_test=x[:8], y_test=np.array([0, 1, 2, 3, 3, 3, 1, 2]), class_names=["a", "b", "c", "d"])
    assert sources.peek(arrays_entry(path), ".") == {
        "input_shape": [3, 5, 4], "classes": ["a", "b", "c", "d"], "points": {"train": 20, "test": 8},
        "smallest_class": {"train": int(np.bincount(formats.labels(20, 4)).min()), "test": 1}}


def test_peek_folder_from_the_listing(tmp_path):
    split = small_split((5, 7))
    formats.write_folder(tmp_path, split, NAMES)
    peeked = sources.peek(folder_entry(tmp_path, colour=False), ".")
    assert peeked["input_shape"] == [1, 5, 7] and peeked["classes"] == list(NAMES)
    assert peeked["points"] == {"train": 9, "test": 6}
    assert peeked["smallest_class"] == {part: int(np.bincount(y).min()) for part, (_, y) in split.items()}
    assert sources.peek(folder_entry(tmp_path, size=[3, 4]), ".")["input_shape"] == [3, 3, 4]


def test_peek_of_torchvision_is_unknown_and_the_module_is_light():
    assert sources.peek({"name": "c", "kind": "torchvision", "class": "CIFAR10"}, ".") is None
    code = ("import sys, nntopo.data.sources; "
            "print(sorted(m for m in ('numpy', 'PIL', 'h5py', 'torch', 'torchvision') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
