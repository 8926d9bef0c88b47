"""The entry's scaling (nntopo.data.scaling) against numbers worked by hand, fitted on the training split
only; unit scaling of uint8 images is the built-in MNIST loader's x / 255 in float32, bit for bit."""

import numpy as np
import pytest

from nntopo.data import DataError, scaling


def fitted(x, spec="unit"):
    return scaling.fit(np.asarray(x), scaling.parse(spec, "here"), "here")


def test_unit_uint8_is_the_built_in_loaders_division_bit_for_bit():
    x = np.random.default_rng(0).integers(0, 256, (50, 1, 28, 28), dtype=np.uint8)
    scaled = fitted(x).apply(x)
    built_in = (x.reshape(50, -1) / np.float32(255)).astype(np.float32, copy=False)  # nntopo.data.loaders' MNIST
    assert scaled.dtype == np.float32 and scaled.shape == (50, 784) and np.array_equal(scaled, built_in)
    assert np.array_equal(fitted(np.array([[0, 255, 51]], np.uint8)).apply(np.array([[0, 255, 51]], np.uint8)),
                          np.array([[0, 1, 0.2]], np.float32))
    assert fitted(x).provenance == {"kind": "unit", "low": 0, "high": 255}


def test_unit_integers_by_dtype_and_range():
    assert fitted(np.array([[0, 60000]], np.uint16)).provenance["high"] == 65535
    assert fitted(np.array([[0, 3]], np.uint16)).provenance["high"] == 65535  # the dtype's, not the values'
    assert fitted(np.array([[0, 200]], np.int64)).provenance["high"] == 255  # wider integers: what holds them
    assert fitted(np.array([[0, 1000]], np.int64)).provenance["high"] == 65535
    with pytest.raises(DataError, match="here: x_train holds negative integers"):
        fitted(np.array([[-1, 3]], np.int16))
    with pytest.raises(DataError, match="holds integers up to 70000, beyond 16 bits"):
        fitted(np.array([[0, 70000]], np.int32))


def test_unit_floats_use_the_training_splits_range():
    scale = fitted(np.array([[1.0, 3.0], [5.0, 2.0]]))
    assert scale.provenance == {"kind": "unit", "low": 1, "high": 5}
    assert np.array_equal(scale.apply(np.array([[1.0, 3.0], [5.0, 2.0]])), np.float32([[0, 0.5], [1, 0.25]]))
    assert np.array_equal(scale.apply(np.array([[6.0, 0.0]])), np.float32([[1.25, -0.25]]))  # test beyond train
    with pytest.raises(DataError, match="every value of x_train is 2.0"):
        fitted(np.full((3, 2), 2.0))


def test_standardize_points_per_coordinate():
    # unit: [0, 30] -> [0, 1]: [[0, 1/3], [1/15, 1]]; means [1/30, 2/3], stds [1/30, 1/3] -> all +-1
    x = np.array([[0.0, 10.0], [2.0, 30.0]])
    scale = fitted(x, "standardize")
    assert np.allclose(scale.mean, [1 / 30, 2 / 3]) and np.allclose(scale.std, [1 / 30, 1 / 3])
    assert np.allclose(scale.apply(x), [[-1, -1], [1, 1]], atol=1e-6)
    assert scale.provenance["kind"] == "standardize" and scale.provenance["computed_on"] == "train"
    assert scale.provenance["low"] == 0 and scale.provenance["high"] == 30


def test_standardize_images_per_channel():
    # channel 0: [0, 255, 255, 255] / 255 -> mean 0.75, std sqrt(0.1875); channel 1: [.2 .2 .4 .4] -> 0.3, 0.1
    x = np.array([[[[0, 255]], [[51, 51]]], [[[255, 255]], [[102, 102]]]], np.uint8)  # (2, 2, 1, 2)
    scale = fitted(x, "standardize")
    assert np.allclose(scale.mean, [0.75, 0.3]) and np.allclose(scale.std, [np.sqrt(0.1875), 0.1])
    out = scale.apply(x).reshape(2, 2, 1, 2)
    assert np.allclose(out[:, 0].ravel(), (np.array([0, 1, 1, 1]) - 0.75) / np.sqrt(0.1875), atol=1e-6)
    assert np.allclose(out[:, 1].ravel(), [-1, -1, 1, 1], atol=1e-5)
    with pytest.raises(DataError, match=r"channel \(coordinate\) 1 of x_train is constant"):
        fitted(np.array([[[[0]], [[7]]], [[[9]], [[7]]]], np.uint8), "standardize")


def test_given_mean_and_std_after_unit_scaling():
    x = np.array([[[[0, 255]]]], np.uint8)  # one grey image of 1 x 2
    scale = fitted(x, {"mean": [0.5], "std": [0.25]})
    assert np.array_equal(scale.apply(x), np.float32([[-2, 2]]))
    assert scale.provenance == {"kind": "standardize", "low": 0, "high": 255, "mean": [0.5], "std": [0.25],
                                "given": True}
    with pytest.raises(DataError, match="here: scaling gives 3 means and stds but the inputs have 1 channels"):
        fitted(x, {"mean": [0.5] * 3, "std": [0.25] * 3})


def test_none_keeps_the_values():
    x = np.array([[1.5, -2.0]], np.float64)
    scale = fitted(x, "none")
    assert np.array_equal(scale.apply(x), np.float32([[1.5, -2.0]])) and scale.provenance == {"kind": "none"}


@pytest.mark.parametrize("spec, message", [
    ("zscore", "scaling 'zscore' is not one of unit, standardize, none"),
    ({"mean": [0.5]}, "is not one of unit"),
    ({"mean": [0.5], "std": [0.0]}, "std [0.0] must be positive"),
    ({"mean": [0.5, 1], "std": [0.2]}, "mean and std must be lists of numbers of one length"),
])
def test_bad_scaling_is_named(spec, message):
    with pytest.raises(DataError) as error:
        scaling.parse(spec, "dataset own")
    assert str(error.value).startswith("dataset own: ") and message in str(error.value)


def test_batches_give_the_same_numbers_as_one_pass(monkeypatch):
    x = np.random.default_rng(1).integers(0, 256, (37, 3, 4, 5), dtype=np.uint8)
    whole = fitted(x, "standardize")
    monkeypatch.setattr(scaling, "BATCH_VALUES", 60 * 5)  # 5 images a batch
    batched = fitted(x, "standardize")
    assert np.allclose(batched.mean, whole.mean, rtol=1e-12) and np.allclose(batched.std, whole.std, rtol=1e-12)
    assert np.array_equal(np.concatenate(list(batched.batches(x))), whole.apply(x))
