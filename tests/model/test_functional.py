"""im2col/unfold, fold (their adjoint) and the convolution/pooling built on them, against naive
loops."""

import numpy as np
import pytest

from model.functional import conv_output_size, fold, im2col, softmax, unfold
from model.layers import AveragePooling, Convolution, MaxPooling


def naive_conv(x, w, b, stride, pad):
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - kh) // stride + 1
    ow = (width + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, oh, ow))
    for i in range(n):
        for o in range(f):
            for y in range(oh):
                for z in range(ow):
                    patch = xp[i, :, y * stride:y * stride + kh, z * stride:z * stride + kw]
                    out[i, o, y, z] = np.sum(patch * w[o]) + b[o]
    return out


def naive_pool(x, k, stride, pad, reduce):
    n, c, h, w = x.shape
    fill = -np.inf if reduce is np.max else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for y in range(oh):
        for z in range(ow):
            window = xp[:, :, y * stride:y * stride + k, z * stride:z * stride + k]
            out[:, :, y, z] = reduce(window, axis=(2, 3))
    return out


@pytest.mark.parametrize("size,kernel,stride,pad,expected",
                         [(28, 5, 1, 0, 24), (28, 5, 1, 2, 28), (24, 2, 2, 0, 12),
                          (28, 3, 2, 1, 14), (7, 3, 2, 0, 3), (5, 5, 1, 0, 1)])
def test_conv_output_size(size, kernel, stride, pad, expected):
    assert conv_output_size(size, kernel, stride, pad) == expected
    assert isinstance(conv_output_size(size, kernel, stride, pad), int)


@pytest.mark.parametrize("args", [(4, 5, 1, 0), (28, 0, 1, 0), (28, 3, 0, 0), (28, 3, 1, -1),
                                  (28.5, 3, 1, 0)])
def test_conv_output_size_rejects(args):
    with pytest.raises(ValueError):
        conv_output_size(*args)


SHAPES = [  # (N, C, H, W, K, stride, pad)
    (2, 1, 7, 7, 3, 1, 0),
    (3, 2, 8, 6, 3, 2, 1),
    (1, 3, 9, 9, 5, 1, 2),
    (2, 2, 10, 10, 4, 3, 1),
    (2, 1, 5, 5, 5, 1, 0),
]


@pytest.mark.parametrize("n,c,h,w,k,s,p", SHAPES)
def test_fold_is_adjoint_of_unfold(n, c, h, w, k, s, p):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    cols = unfold(x, k, k, s, p)
    y = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * y)
    rhs = np.sum(x * fold(y, x.shape, k, k, s, p))
    assert np.isclose(lhs, rhs, rtol=1e-12, atol=1e-10)


def test_im2col_row_layout():
    x = np.arange(2 * 2 * 4 * 4, dtype=np.float64).reshape(2, 2, 4, 4)
    col = im2col(x, 3, 3, 1, 0)
    assert col.shape == (2 * 2 * 2, 2 * 3 * 3)
    # row (n=1, i=1, j=0) is the window at output (1, 0) of image 1, channels then rows then cols
    np.testing.assert_array_equal(col[1 * 4 + 1 * 2 + 0], x[1, :, 1:4, 0:3].ravel())


def test_fold_rejects_wrong_shape():
    with pytest.raises(ValueError, match="cols has shape"):
        fold(np.zeros((1, 5, 9)), (1, 1, 4, 4), 3, 3)


@pytest.mark.parametrize("n,c,h,w,k,s,p", SHAPES)
def test_convolution_matches_naive_loops(n, c, h, w, k, s, p):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w))
    layer = Convolution(4, k, s, p)
    params = {"weight": rng.standard_normal((4, c, k, k)), "bias": rng.standard_normal(4)}
    out, _ = layer.forward(params, x)
    np.testing.assert_allclose(out, naive_conv(x, params["weight"], params["bias"], s, p),
                               rtol=1e-10, atol=1e-10)
    assert out.shape[1:] == layer.output_shape(x.shape[1:])


POOLS = [  # (K, stride, pad, H) — overlapping windows included
    (2, 2, 0, 8), (2, 3, 0, 8), (2, 2, 0, 7), (3, 2, 0, 9), (3, 2, 1, 8), (3, 1, 1, 6),
    (2, 1, 0, 5), (4, 4, 2, 10)]


@pytest.mark.parametrize("k,s,p,h", POOLS)
@pytest.mark.parametrize("layer_cls,reduce", [(MaxPooling, np.max), (AveragePooling, np.mean)])
def test_pooling_matches_naive_loops(layer_cls, reduce, k, s, p, h):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, h, h + 1))
    layer = layer_cls(k, s, p)
    for train in (False, True):
        out, _ = layer.forward({}, x, train=train)
        np.testing.assert_allclose(out, naive_pool(x, k, s, p, reduce), rtol=1e-12)
        assert out.shape[1:] == layer.output_shape(x.shape[1:])


def test_pooling_rejects_padding_wider_than_half_window():
    with pytest.raises(ValueError, match="pad"):
        MaxPooling(2, 2, 2)


def test_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]])
    p = softmax(z)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0], atol=1e-12)
