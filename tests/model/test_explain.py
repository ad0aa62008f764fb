"""Attributions from our own backward pass against finite differences and known cases; the
im2col and pooling matrices against the layers' actual outputs."""

import numpy as np
import pytest
from gradcheck import assert_close_grad, numerical_grad

from model import build
from model.explain import (
    conv_matrices,
    gradcam,
    occlusion,
    pool_matrices,
    probe_robustness,
    saliency,
    thicken,
    transform,
)
from model.inputs import round_input
from model.layers import Affine, Convolution, ReLU
from model.networks import Sequential


@pytest.fixture(scope="module")
def net():
    return build("simple_convnet", {"filter_num": 4, "hidden_size": 12},
                 rng=np.random.default_rng(3))


@pytest.fixture(scope="module")
def digit():
    x = np.zeros((1, 1, 28, 28), np.float32)
    x[0, 0, 6:22, 12:16] = 1.0  # a thick vertical bar, roughly a "1"
    return x


def test_saliency_equals_numerical_gradient_of_the_class_score(net, digit):
    net64 = net.astype(np.float64)
    x = digit.astype(np.float64) + np.random.default_rng(0).random(digit.shape) * 0.1
    result = saliency(net64, x, target=3)
    assert result["target"] == 3
    numeric = numerical_grad(lambda: float(net64.forward(x)[0][0, 3]), x)
    assert_close_grad(result["gradient"], numeric[0], tol=1e-5)
    assert result["map"].shape == (28, 28) and result["map"].max() == pytest.approx(1.0)


def test_saliency_defaults_to_the_predicted_class(net, digit):
    assert saliency(net, digit)["target"] == int(net.predict(digit)[0].argmax())
    with pytest.raises(ValueError, match="target class must be in 0..9"):
        saliency(net, digit, target=10)


def test_gradcam_on_a_known_synthetic_case():
    """One conv channel that detects ink, a class score that sums that channel's top-left
    quadrant: the CAM must light up exactly where ink meets the top-left quadrant."""
    layers = [("conv1", Convolution(2, 1)), ("relu1", ReLU()), ("fc1", Affine(2))]
    net = Sequential(layers, (1, 8, 8), rng=np.random.default_rng(0), dtype=np.float64)
    net.params["conv1.weight"][:] = np.array([1.0, -1.0]).reshape(2, 1, 1, 1)
    net.params["conv1.bias"][:] = 0
    w = np.zeros((2, 8, 8, 2))
    w[0, :4, :4, 0] = 1.0          # class 0 reads channel 0, top-left quadrant
    w[1, 4:, 4:, 1] = 1.0          # class 1 reads channel 1 (always 0 after ReLU here)
    net.params["fc1.weight"][:] = w.reshape(128, 2)
    x = np.zeros((1, 1, 8, 8))
    x[0, 0, 1:3, 1:3] = 1.0
    x[0, 0, 5:7, 5:7] = 1.0
    result = gradcam(net, x, target=0, layer="relu1")
    np.testing.assert_allclose(result["weights"], [16 / 64, 0.0])
    expected = np.zeros((8, 8))
    expected[1:3, 1:3] = 1.0
    expected[5:7, 5:7] = 1.0       # Grad-CAM weights whole maps: ink in channel 0 anywhere
    np.testing.assert_allclose(result["coarse"], expected)
    assert result["map"].shape == (8, 8)


def test_gradcam_default_layer_and_errors(net, digit):
    result = gradcam(net, digit)
    assert result["layer"] == "relu1" and result["map"].shape == (28, 28)
    assert 0 <= result["map"].min() and result["map"].max() <= 1
    with pytest.raises(ValueError, match="feature maps"):
        gradcam(net, digit, layer="fc1")


def test_occlusion_is_one_batch_with_the_right_shapes(net, digit):
    calls = []
    original = net.predict

    def counting(x, batch_size=1000):
        calls.append(len(x))
        return original(x, batch_size)

    net.predict = counting
    try:
        result = occlusion(net, digit, target=1, patch=6, stride=2)
    finally:
        del net.predict
    assert calls == [1, 144]  # the original, then all 12×12 positions in one batch
    assert result["grid"].shape == (12, 12) and result["map"].shape == (28, 28)
    # a patch over empty background changes nothing
    assert result["grid"][0, 0] == pytest.approx(0.0, abs=1e-6)


def test_conv_matrices_multiply_to_the_layer_output(net, digit):
    m = conv_matrices(net, digit, "conv1")
    assert m["cols"].shape == (24 * 24, 25) and m["weight"].shape == (4, 25)
    np.testing.assert_allclose(m["product"].T.reshape(4, 24, 24), m["output"], rtol=1e-5,
                               atol=1e-5)
    with pytest.raises(ValueError, match="not a convolution"):
        conv_matrices(net, digit, "pool1")


def test_pool_matrices_rows_and_winners(net, digit):
    m = pool_matrices(net, digit, "pool1")
    assert m["windows"].shape == (4 * 12 * 12, 4)
    np.testing.assert_allclose(m["windows"].max(axis=1).reshape(4, 12, 12), m["output"])
    assert m["winners"].sum() == 4 * 12 * 12
    # 2×2/2 windows tile the map: each window has one winner holding the window's maximum
    np.testing.assert_allclose((m["input"] * m["winners"]).sum(axis=(1, 2)),
                               m["output"].sum(axis=(1, 2)), rtol=1e-5)
    tiles = m["winners"].reshape(4, 12, 2, 12, 2).sum(axis=(2, 4))
    assert np.all(tiles == 1)


def test_transform_identity_and_thickness(digit):
    np.testing.assert_allclose(transform(digit), digit, atol=1e-6)
    thick = transform(digit, thickness=1)
    assert thick.sum() > digit.sum() and np.all(thick >= digit)
    assert thicken(digit, -1).sum() < digit.sum()
    moved = transform(digit, dx=3)
    np.testing.assert_allclose(moved[0, 0, :, 15:19], digit[0, 0, :, 12:16], atol=1e-6)


def test_transform_takes_one_shift_per_image(digit):
    batch = np.repeat(digit, 3, axis=0)
    moved = transform(batch, np.array([0.0, 2.5, -3.0]), np.array([1.0, 0.0, -0.5]), 10, 0.9, 1)
    for i, (dx, dy) in enumerate([(0.0, 1.0), (2.5, 0.0), (-3.0, -0.5)]):
        assert np.array_equal(moved[i], transform(digit, dx, dy, 10, 0.9, 1)[0])


@pytest.mark.parametrize("asked", [{}, {"dx": 3, "dy": -2.5, "angle": 20, "scale": 0.8,
                                        "thickness": 1}])
def test_robustness_probe_is_each_variant_classified(net, digit, asked):
    result = probe_robustness(net, digit[0, 0], max_shift=4, **asked)
    assert list(result["shifts"]) == list(range(-4, 5))
    dx, dy = asked.get("dx", 0.0), asked.get("dy", 0.0)
    rest = {k: v for k, v in asked.items() if k not in ("dx", "dy")}
    seen = round_input(transform(digit, dx, dy, **rest)[0, 0])
    assert np.array_equal(result["input"], seen)
    p = net.predict(seen[None, None])[0]
    np.testing.assert_allclose(result["probabilities"], p, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result["original"], net.predict(digit)[0], rtol=1e-5, atol=1e-7)
    assert result["target"] == int(result["original"].argmax())
    cls = result["target"]
    for i, shift in enumerate(result["shifts"]):
        for key, (sx, sy) in (("horizontal", (shift, dy)), ("vertical", (dx, shift))):
            moved = round_input(transform(digit, sx, sy, **rest))
            p = net.predict(moved)[0]
            assert result[key][i] == pytest.approx(p[cls], rel=1e-5, abs=1e-7)
            assert result["labels_" + key][i] == p.argmax()


def test_robustness_probe_tracks_the_target_asked(net, digit):
    result = probe_robustness(net, digit[0, 0], target=7, max_shift=2)
    assert result["target"] == 7 and result["horizontal"].shape == (5,)
    with pytest.raises(ValueError, match="target class must be in 0..9"):
        probe_robustness(net, digit[0, 0], target=10)
