"""The from-scratch layers and Adam against PyTorch as a reference implementation, in float64:
conv2d (stride, padding), max and average pooling (overlapping windows, padding), LRN, and
several Adam steps. Optional: skipped unless torch is installed (the ``bench`` extra)."""

import numpy as np
import pytest

from model.layers import AveragePooling, Convolution, LocalResponseNorm, MaxPooling
from model.optim import Adam

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = {"rtol": 1e-10, "atol": 1e-12}


def forward_backward(layer, params, x, dout):
    """Our layer's output, input gradient and parameter gradients for upstream gradient dout."""
    out, cache = layer.forward(params, x, train=True)
    dx, grads = layer.backward(params, cache, dout)
    return out, dx, grads


def torch_reference(fn, x, dout, *params):
    """PyTorch's output and the gradients of <out, dout> w.r.t. x and each parameter."""
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, *params)]
    out = fn(*leaves)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


@pytest.mark.parametrize("n, c, h, w, f, k, stride, pad", [
    (2, 1, 8, 8, 3, 3, 1, 0),
    (2, 3, 9, 7, 4, 3, 2, 1),
    (1, 2, 10, 10, 5, 5, 1, 2),
    (3, 2, 11, 9, 2, 4, 3, 1),
])
def test_conv2d_matches_torch(n, c, h, w, f, k, stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    params = {"weight": rng.standard_normal((f, c, k, k)), "bias": rng.standard_normal(f)}
    layer = Convolution(f, k, stride, pad)
    dout = rng.standard_normal((n, *layer.output_shape((c, h, w))))
    out, dx, grads = forward_backward(layer, params, x, dout)
    ref, (rdx, rdw, rdb) = torch_reference(
        lambda xt, wt, bt: F.conv2d(xt, wt, bt, stride=stride, padding=pad),
        x, dout, params["weight"], params["bias"])
    np.testing.assert_allclose(out, ref, **TOL)
    np.testing.assert_allclose(dx, rdx, **TOL)
    np.testing.assert_allclose(grads["weight"], rdw, **TOL)
    np.testing.assert_allclose(grads["bias"], rdb, **TOL)


POOLS = [  # (kernel, stride, pad, H, W): tiling, overlapping 3×3/2 with pad 1, odd sizes
    (2, 2, 0, 8, 8),
    (2, 2, 0, 7, 9),
    (3, 2, 1, 28, 28),
    (3, 2, 1, 7, 9),
    (3, 3, 1, 10, 10),
    (2, 1, 0, 5, 6),
]


@pytest.mark.parametrize("k, stride, pad, h, w", POOLS)
def test_max_pooling_matches_torch(k, stride, pad, h, w):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, h, w))
    layer = MaxPooling(k, stride, pad)
    dout = rng.standard_normal((2, *layer.output_shape((3, h, w))))
    out, dx, _ = forward_backward(layer, {}, x, dout)
    ref, (rdx,) = torch_reference(lambda xt: F.max_pool2d(xt, k, stride, pad), x, dout)
    np.testing.assert_allclose(out, ref, **TOL)
    np.testing.assert_allclose(dx, rdx, **TOL)


@pytest.mark.parametrize("k, stride, pad, h, w", POOLS)
def test_average_pooling_matches_torch(k, stride, pad, h, w):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, h, w))
    layer = AveragePooling(k, stride, pad)
    dout = rng.standard_normal((2, *layer.output_shape((3, h, w))))
    out, dx, _ = forward_backward(layer, {}, x, dout)
    # Zero padding counts in the mean, as in our layer.
    ref, (rdx,) = torch_reference(
        lambda xt: F.avg_pool2d(xt, k, stride, pad, count_include_pad=True), x, dout)
    np.testing.assert_allclose(out, ref, **TOL)
    np.testing.assert_allclose(dx, rdx, **TOL)


@pytest.mark.parametrize("size, alpha, beta, k, channels", [
    (5, 1e-4, 0.75, 2.0, 8),
    (3, 0.1, 0.5, 1.0, 6),
    (5, 0.5, 0.9, 1.5, 3),  # window wider than the channels on both sides
    (1, 0.2, 0.75, 2.0, 4),
])
def test_lrn_matches_torch(size, alpha, beta, k, channels):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, channels, 5, 4)) * 3
    dout = rng.standard_normal(x.shape)
    out, dx, _ = forward_backward(LocalResponseNorm(size, alpha, beta, k), {}, x, dout)
    # PyTorch divides alpha by the window size; the paper (and our layer) does not.
    ref, (rdx,) = torch_reference(
        lambda xt: F.local_response_norm(xt, size, alpha * size, beta, k), x, dout)
    np.testing.assert_allclose(out, ref, **TOL)
    np.testing.assert_allclose(dx, rdx, **TOL)


@pytest.mark.parametrize("lr, betas, eps", [(0.001, (0.9, 0.999), 1e-8),
                                             (0.05, (0.8, 0.99), 1e-6)])
def test_adam_steps_match_torch(lr, betas, eps):
    rng = np.random.default_rng(4)
    params = {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    reference = {key: torch.tensor(value.copy(), dtype=torch.float64, requires_grad=True)
                 for key, value in params.items()}
    ours = Adam(lr, betas[0], betas[1], eps)
    theirs = torch.optim.Adam(list(reference.values()), lr=lr, betas=betas, eps=eps)
    for _ in range(12):
        grads = {key: rng.standard_normal(value.shape) for key, value in params.items()}
        ours.step(params, grads)
        for key, tensor in reference.items():
            tensor.grad = torch.tensor(grads[key])
        theirs.step()
        for key, tensor in reference.items():
            np.testing.assert_allclose(params[key], tensor.detach().numpy(), rtol=1e-12,
                                       atol=1e-14)
