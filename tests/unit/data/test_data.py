import gzip
import struct

import numpy as np
import pytest

from nntopo import data
from nntopo.data import DataError, IDX_FILES, read_idx


def write_idx(path, array, type_code=0x08, raw=None, compress=True):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = raw if raw is not None else header + array.astype(">u1").tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def fake_mnist(root, n_train=20, n_test=10, image_shape=(28, 28), n_test_labels=None):
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(folder / IDX_FILES["train_images"], rng.integers(0, 256, (n_train, *image_shape)))
    write_idx(folder / IDX_FILES["train_labels"], rng.integers(0, 10, n_train))
    write_idx(folder / IDX_FILES["test_images"], rng.integers(0, 256, (n_test, *image_shape)))
    write_idx(folder / IDX_FILES["test_labels"], rng.integers(0, 10, n_test_labels or n_test))
    return folder


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "x.gz", images)), images)


def test_truncated_gzip_is_an_error(tmp_path):
    good = write_idx(tmp_path / "x.gz", np.zeros((100, 28, 28)))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good.read_bytes()[:-50])
    with pytest.raises(DataError, match="cut.gz.*truncated"):
        read_idx(cut)


def test_short_payload_is_an_error_not_short_data(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">3I", 10, 28, 28)
    path = write_idx(tmp_path / "short.gz", np.zeros(1), raw=header + bytes(9 * 28 * 28))
    with pytest.raises(DataError, match=r"short.gz: header promises shape \(10, 28, 28\)"):
        read_idx(path)


def test_wrong_magic_and_not_gzip(tmp_path):
    path = write_idx(tmp_path / "magic.gz", np.zeros(1), raw=b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(DataError, match="magic.gz: wrong magic number"):
        read_idx(path)
    plain = write_idx(tmp_path / "plain.gz", np.zeros((2, 2)), compress=False)
    with pytest.raises(DataError, match="plain.gz: corrupt"):
        read_idx(plain)


def test_load_mnist_layout(tmp_path):
    fake_mnist(tmp_path)
    ds = data.load("mnist", tmp_path, download=False)
    assert ds.x_train.shape == (20, 784) and ds.x_test.shape == (10, 784)
    assert ds.x_train.dtype == np.float32 and 0 <= ds.x_train.min() and ds.x_train.max() <= 1
    assert ds.image_shape == (28, 28)


def test_label_count_mismatch_names_the_file(tmp_path):
    fake_mnist(tmp_path, n_test_labels=9)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: 9 labels for 10 images"):
        data.load("mnist", tmp_path, download=False)


def test_wrong_image_size_names_the_file(tmp_path):
    fake_mnist(tmp_path, image_shape=(27, 28))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz: images have shape"):
        data.load("mnist", tmp_path, download=False)


def test_missing_files_name_all_four_and_where(tmp_path):
    with pytest.raises(DataError) as error:
        data.load("fashion_mnist", tmp_path, download=False)
    message = str(error.value)
    assert all(name in message for name in IDX_FILES.values())
    assert str(tmp_path / "FashionMNIST" / "raw") in message


def test_digits_is_embedded_and_8x8():
    ds = data.load("digits")
    assert ds.image_shape == (8, 8) and ds.n_features == 64 and ds.n_classes == 10
    assert len(ds.x_train) + len(ds.x_test) == 1797


@pytest.mark.realdata
def test_real_mnist_matches_published_counts(real_data_dir):
    ds = data.load("mnist", real_data_dir, download=False)
    assert ds.x_train.shape == (60000, 784) and ds.y_train[0] == 5
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.realdata
def test_real_fashion_mnist_loads(real_data_dir):
    ds = data.load("fashion_mnist", real_data_dir, download=False)
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
