"""Data augmentation: shapes, labels, determinism, identity, exact geometry, trainer wiring."""

import numpy as np
import pytest

from model import load
from model.augment import (
    affine_warp,
    elastic_field,
    gaussian_smooth,
    random_distort,
    random_erase,
    random_flip,
    random_shift,
)
from model.data import load_sample, to_float
from model.train import TrainConfig, add_weight_decay, augment_batch


def batch(n=6, c=1, h=28, w=28, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_identity_parameters_give_the_identity():
    x = batch(c=2)
    n = len(x)
    out = affine_warp(x, np.zeros(n), np.ones(n), np.zeros((n, 2)))
    np.testing.assert_array_equal(out, x)
    out = affine_warp(x, np.zeros(n), np.ones(n), np.zeros((n, 2)), np.zeros((n, 2, 28, 28)))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(random_distort(x, np.random.default_rng(0)), x)


def test_integer_shift_moves_pixels_and_fills_zeros():
    x = batch(n=2)
    out = affine_warp(x, np.zeros(2), np.ones(2), np.array([[2.0, -3.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(out[0, :, 2:, :-3], x[0, :, :-2, 3:])
    assert not out[0, :, :2].any() and not out[0, :, :, -3:].any()
    np.testing.assert_array_equal(out[1, :, :, 1:], x[1, :, :, :-1])


def test_quarter_turn_is_rot90_and_scaling_magnifies_about_the_centre():
    x = batch(n=3, h=9, w=9)
    turned = affine_warp(x, np.full(3, 90.0), np.ones(3), np.zeros((3, 2)))
    np.testing.assert_allclose(turned, np.rot90(x, 1, axes=(2, 3)), atol=1e-6)
    dot = np.zeros((1, 1, 9, 9), np.float32)
    dot[0, 0, 4, 6] = 1.0  # two pixels right of the centre
    doubled = affine_warp(dot, np.zeros(1), np.full(1, 2.0), np.zeros((1, 2)))
    assert doubled[0, 0, 4, 8] == 1.0
    assert doubled[0, 0, 4, 7] == pytest.approx(0.5)


def test_half_pixel_shift_interpolates_bilinearly():
    x = batch(n=1, h=5, w=5)
    out = affine_warp(x, np.zeros(1), np.ones(1), np.array([[0.0, 0.5]]))
    np.testing.assert_allclose(out[0, 0, :, 1:], 0.5 * (x[0, 0, :, :-1] + x[0, 0, :, 1:]),
                               rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, :, 0], 0.5 * x[0, 0, :, 0], rtol=1e-6)


def test_random_distort_keeps_shape_dtype_range_and_input():
    x = batch(n=8)
    before = x.copy()
    out = random_distort(x, np.random.default_rng(1), shift=2, rotation=15, scale=0.15,
                         elastic_alpha=2.0, elastic_sigma=3.0)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(x, before)


def test_deterministic_for_a_seed_and_different_per_image():
    x = np.repeat(batch(n=1), 5, axis=0)
    args = dict(shift=2, rotation=10, scale=0.1, elastic_alpha=1.5)
    a = random_distort(x, np.random.default_rng(7), **args)
    b = random_distort(x, np.random.default_rng(7), **args)
    c = random_distort(x, np.random.default_rng(8), **args)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])
    np.testing.assert_array_equal(random_shift(x, 2, np.random.default_rng(3)),
                                  random_shift(x, 2, np.random.default_rng(3)))


def test_elastic_field_is_smooth_bounded_and_seeded():
    rng = np.random.default_rng(0)
    field = elastic_field(4, 28, 28, alpha=3.0, sigma=4.0, rng=rng)
    assert field.shape == (4, 2, 28, 28)
    assert np.abs(field).max() <= 3.0
    rough = np.abs(np.diff(field, axis=-1)).mean()
    assert rough < 0.2 * np.abs(field).mean()
    np.testing.assert_array_equal(field,
                                  elastic_field(4, 28, 28, 3.0, 4.0, np.random.default_rng(0)))


def test_gaussian_smooth_preserves_constant_interior():
    out = gaussian_smooth(np.ones((1, 20, 20)), 2.0)
    np.testing.assert_allclose(out[0, 5:15, 5:15], 1.0)
    assert out[0, 0, 0] < 1.0  # zero padding outside


@pytest.mark.parametrize("kwargs", [dict(shift=-1), dict(rotation=-1), dict(scale=1.0),
                                    dict(elastic_sigma=0)])
def test_bad_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        random_distort(batch(n=1), np.random.default_rng(0), **kwargs)


def test_augmented_digits_keep_their_labels():
    """Mild distortions leave a trained network's answers on the shipped sample intact."""
    sample = load_sample()
    x = to_float(sample["images"])
    net = load("lenet5")
    clean = net.predict(x).argmax(axis=1)
    warped = random_distort(x, np.random.default_rng(0), shift=1.5, rotation=10, scale=0.1,
                            elastic_alpha=1.0)
    agree = np.mean(net.predict(warped).argmax(axis=1) == clean)
    assert agree >= 0.95
    assert np.mean(net.predict(warped).argmax(axis=1) == sample["labels"]) >= 0.95


def test_trainer_augmentation_and_weight_decay_wiring():
    x = batch(n=4)
    plain = TrainConfig(shift=2)
    np.testing.assert_array_equal(augment_batch(plain, x, np.random.default_rng(0)),
                                  random_shift(x, 2, np.random.default_rng(0)))
    warped = TrainConfig(shift=2, rotation=10, scale=0.1)
    np.testing.assert_array_equal(augment_batch(warped, x, np.random.default_rng(0)),
                                  random_distort(x, np.random.default_rng(0), 2, 10, 0.1))
    params = {"fc1.weight": np.full((2, 2), 2.0), "fc1.bias": np.full(2, 2.0)}
    grads = {"fc1.weight": np.ones((2, 2)), "fc1.bias": np.ones(2)}
    add_weight_decay(params, grads, 0.1)
    np.testing.assert_allclose(grads["fc1.weight"], 1.2)
    np.testing.assert_array_equal(grads["fc1.bias"], 1.0)


def test_random_flip_mirrors_about_the_share_asked_for():
    x = np.random.default_rng(1).random((400, 1, 5, 7), dtype=np.float32)
    y = random_flip(x, 0.5, np.random.default_rng(0))
    mirrored = np.array([np.array_equal(a, b[:, :, ::-1]) for a, b in zip(y, x, strict=True)])
    kept = np.array([np.array_equal(a, b) for a, b in zip(y, x, strict=True)])
    assert np.all(mirrored ^ kept)  # each image either mirrored or untouched
    assert 150 < mirrored.sum() < 250
    np.testing.assert_array_equal(random_flip(x, 0.0, np.random.default_rng(0)), x)
    np.testing.assert_array_equal(random_flip(x, 1.0, np.random.default_rng(0)), x[..., ::-1])
    with pytest.raises(ValueError, match="flip probability"):
        random_flip(x, 1.5, np.random.default_rng(0))


def test_random_erase_fills_one_rectangle_of_the_asked_area_with_noise():
    x = np.zeros((300, 1, 28, 28), np.float32)
    y = random_erase(x, 1.0, np.random.default_rng(0), area=(0.1, 0.2))
    assert y.shape == x.shape and y.dtype == x.dtype and 0 <= y.min() and y.max() <= 1
    for img in y[:, 0]:
        rows, cols = np.nonzero(img)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert len(rows) == box  # one solid rectangle (noise is almost surely non-zero)
        assert 0.1 * 784 * 0.7 <= box <= 0.2 * 784 * 1.4  # rounding the sides to whole pixels
    np.testing.assert_array_equal(random_erase(x, 0.0, np.random.default_rng(0)), x)
    half = random_erase(x, 0.5, np.random.default_rng(0))
    assert 100 < np.sum(half.reshape(300, -1).max(axis=1) > 0) < 200


def test_trainer_flips_and_erases_only_when_asked():
    x = batch(n=6)
    rng = np.random.default_rng(0)
    expected = random_erase(random_flip(x, 0.5, rng), 0.3, rng)
    np.testing.assert_array_equal(
        augment_batch(TrainConfig(flip=0.5, erase=0.3), x, np.random.default_rng(0)), expected)
    untouched = np.random.default_rng(0)
    augment_batch(TrainConfig(), x, untouched)
    assert untouched.random() == np.random.default_rng(0).random()  # no draw when off
