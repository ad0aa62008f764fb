"""The fused conv → ReLU → max-pool block against the layer-by-layer reference (itself checked
against naive loops) and against numerical gradients, in float64, over many geometries."""

import numpy as np
import pytest
from gradcheck import assert_close_grad, numerical_grad

from model import build
from model.functional import unfold
from model.fused import (
    ConvReluPool,
    fusable,
    pooled_columns,
    pooled_geometry,
    scatter_pooled_columns,
)
from model.layers import Affine, AveragePooling, Convolution, MaxPooling, ReLU, Tanh
from model.networks import FOLDED, Sequential

# (filters, kernel, stride, pad, pool, input H, W): even and odd conv outputs (floor pooling
# drops the last row/column), strided and padded convs, 3×3 pools, non-square inputs.
GEOMETRIES = [(4, 5, 1, 0, 2, 12, 12), (3, 3, 1, 1, 2, 9, 9), (2, 3, 2, 1, 2, 11, 13),
              (3, 2, 1, 0, 3, 10, 12), (2, 1, 1, 0, 2, 6, 7), (2, 3, 1, 2, 4, 9, 9)]


def setup(geometry, channels=2, n=3, seed=0):
    f, k, s, pad, pool, h, w = geometry
    rng = np.random.default_rng(seed)
    conv, relu, maxpool = Convolution(f, k, s, pad), ReLU(), MaxPooling(pool)
    params = {"weight": rng.standard_normal((f, channels, k, k)),
              "bias": rng.standard_normal(f) * 0.3}
    x = rng.standard_normal((n, channels, h, w))
    return conv, relu, maxpool, params, x


def layered(conv, relu, pool, params, x):
    a, ca = conv.forward(params, x, train=True)
    b, cb = relu.forward({}, a, train=True)
    out, cc = pool.forward({}, b, train=True)

    def backward(dout, need_dx=True):
        d, _ = pool.backward({}, cc, dout)
        d, _ = relu.backward({}, cb, d)
        return conv.backward(params, ca, d, need_dx=need_dx)
    return out, backward


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_pooled_columns_are_im2col_columns_regrouped(geometry):
    _, k, s, pad, pool, h, w = geometry
    x = np.random.default_rng(1).standard_normal((3, 2, h, w))
    cols = pooled_columns(x, k, k, s, pad, pool)
    ph, pw = pooled_geometry(x.shape, k, k, s, pad, pool)
    reference = unfold(x, k, k, s, pad)  # (N, C*K*K, OH*OW)
    oh = (h + 2 * pad - k) // s + 1
    ow = (w + 2 * pad - k) // s + 1
    reference = reference.reshape(3, -1, oh, ow)
    for n in range(3):
        for dy in range(pool):
            for dx in range(pool):
                block = (n * pool + dy) * pool + dx
                got = cols[:, block * ph * pw:(block + 1) * ph * pw].reshape(-1, ph, pw)
                want = reference[n, :, dy:dy + pool * ph:pool, dx:dx + pool * pw:pool]
                assert np.array_equal(got, want)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_scatter_is_the_adjoint_of_pooled_columns(geometry):
    _, k, s, pad, pool, h, w = geometry
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, h, w))
    cols = pooled_columns(x, k, k, s, pad, pool)
    y = rng.standard_normal(cols.shape)
    back = scatter_pooled_columns(y, x.shape, k, k, s, pad, pool)
    assert back.shape == x.shape
    assert np.isclose(np.sum(cols * y), np.sum(x * back), rtol=1e-12)
    with pytest.raises(ValueError, match="expected"):
        scatter_pooled_columns(y[:, 1:], x.shape, k, k, s, pad, pool)


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_fused_block_equals_the_layers_forward_and_backward(geometry):
    conv, relu, pool, params, x = setup(geometry)
    block = ConvReluPool(conv, pool)
    ref, ref_backward = layered(conv, relu, pool, params, x)
    out, cache = block.forward(params, x, train=True)
    assert out.shape == ref.shape and out.flags.c_contiguous
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    inference, none = block.forward(params, x)
    assert none is None and np.array_equal(inference, out)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    dx, grads = block.backward(params, cache, dout)
    ref_dx, ref_grads = ref_backward(dout)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-12)
    for key in ("weight", "bias"):
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-12, atol=1e-12)
    assert block.backward(params, cache, dout, need_dx=False)[0] is None


def test_ties_send_the_gradient_to_the_first_maximum_like_max_pooling():
    """Blank regions make exact ties (every window gives the bias): both paths pick the first."""
    conv, relu, pool, params, _ = setup((3, 3, 1, 1, 2, 10, 10))
    x = np.zeros((2, 2, 10, 10))
    x[:, :, 3:6, 4:8] = np.random.default_rng(4).standard_normal((2, 2, 3, 4))
    params["bias"] = np.abs(params["bias"]) + 0.1  # tied maxima above zero: gradient flows
    block = ConvReluPool(conv, pool)
    _, ref_backward = layered(conv, relu, pool, params, x)
    out, cache = block.forward(params, x, train=True)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    dx, grads = block.backward(params, cache, dout)
    ref_dx, ref_grads = ref_backward(dout)
    np.testing.assert_allclose(dx, ref_dx, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], ref_grads["weight"], atol=1e-12)


@pytest.mark.parametrize("geometry", GEOMETRIES[:3])
def test_fused_block_gradients_against_centred_differences(geometry):
    conv, _, pool, params, x = setup(geometry, n=2)
    block = ConvReluPool(conv, pool)
    dout = np.random.default_rng(6).standard_normal(block.forward(params, x)[0].shape)

    def loss():
        return float(np.sum(block.forward(params, x)[0] * dout))

    _, cache = block.forward(params, x, train=True)
    dx, grads = block.backward(params, cache, dout)
    for key in ("weight", "bias"):
        assert_close_grad(grads[key], numerical_grad(loss, params[key]))
    assert_close_grad(dx, numerical_grad(loss, x))


def test_only_relu_and_tiling_max_pools_fuse():
    conv = Convolution(2, 3)
    assert fusable(conv, ReLU(), MaxPooling(2))
    assert fusable(conv, ReLU(), MaxPooling(3, 3))
    assert not fusable(conv, ReLU(), MaxPooling(3, 2))  # overlapping windows
    assert not fusable(conv, ReLU(), MaxPooling(2, 2, pad=1))
    assert not fusable(conv, Tanh(), MaxPooling(2))
    assert not fusable(conv, ReLU(), AveragePooling(2))
    assert not fusable(ReLU(), ReLU(), MaxPooling(2))
    assert not fusable(conv, ReLU(), MaxPooling(2), in_channels=16)  # plain unfold is cheaper


def two_blocks() -> Sequential:
    """Both blocks fusable (one-channel inputs), so the second one must pass its input gradient."""
    return Sequential([("conv1", Convolution(1, 3, pad=1)), ("relu1", ReLU()),
                       ("pool1", MaxPooling(2)), ("conv2", Convolution(3, 3)), ("relu2", ReLU()),
                       ("pool2", MaxPooling(2)), ("fc", Affine(10))], (1, 14, 14),
                      rng=np.random.default_rng(7))


@pytest.mark.parametrize("arch", ["simple_convnet", "two_blocks"])
def test_networks_give_the_same_answers_fused_and_layer_by_layer(arch):
    net = two_blocks() if arch == "two_blocks" else build(arch, rng=np.random.default_rng(7))
    net = net.astype(np.float64)
    assert sorted(net._fused) == ([0, 3] if arch == "two_blocks" else [0])
    rng = np.random.default_rng(8)
    for key in net.params:
        if key.endswith(".bias"):
            net.params[key] = rng.standard_normal(net.params[key].shape) * 0.1
    x = rng.random((3, *net.input_shape))
    labels = np.array([1, 5, 9])
    fused_logits, _ = net.forward(x)
    layer_logits, _ = net.forward(x, keep=True)
    np.testing.assert_allclose(fused_logits, layer_logits, rtol=1e-10, atol=1e-12)
    _, fused_grads, _ = net.loss_and_grads(x, labels)
    logits, caches = net.forward_train(x)
    _, lcache = net.loss_layer.forward(logits, labels)
    grads, _ = net.backward(caches, net.loss_layer.backward(lcache))
    for key in net.params:
        np.testing.assert_allclose(fused_grads[key], grads[key], rtol=1e-9, atol=1e-12)
    _, caches = net.forward_train(x, fuse=True)
    assert any(cache is FOLDED for cache in caches)
    with pytest.raises(ValueError, match="fuse=False"):
        net.backward(caches, net.loss_layer.backward(lcache), output_grads={})
