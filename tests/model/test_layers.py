"""Every layer's backward against centred numerical gradients, in float64."""

import numpy as np
import pytest
from gradcheck import assert_close_grad, numerical_grad

from model.layers import (
    Affine,
    AveragePooling,
    Convolution,
    Dropout,
    Flatten,
    MaxPooling,
    ReLU,
    Sigmoid,
    SoftmaxWithLoss,
    Tanh,
)

LAYERS = [
    ("conv", lambda: Convolution(3, 3, 1, 0), (2, 2, 6, 6)),
    ("conv_stride_pad", lambda: Convolution(2, 3, 2, 1), (2, 3, 7, 7)),
    ("conv_5x5", lambda: Convolution(2, 5, 1, 2), (1, 1, 6, 6)),
    ("maxpool", lambda: MaxPooling(2, 2), (2, 2, 6, 6)),
    ("maxpool_overlap", lambda: MaxPooling(3, 2, 1), (2, 2, 7, 7)),
    ("maxpool_gaps", lambda: MaxPooling(2, 3), (2, 2, 8, 8)),
    ("maxpool_odd_size", lambda: MaxPooling(2, 2), (1, 2, 7, 7)),
    ("avgpool", lambda: AveragePooling(2, 2), (2, 2, 6, 6)),
    ("avgpool_overlap", lambda: AveragePooling(3, 2, 1), (2, 2, 7, 7)),
    ("avgpool_ragged", lambda: AveragePooling(2, 2), (2, 2, 7, 9)),  # a last row/column unpooled
    ("affine_4d", lambda: Affine(5), (3, 2, 3, 3)),
    ("affine_2d", lambda: Affine(4), (3, 7)),
    ("relu", lambda: ReLU(), (3, 2, 4, 4)),
    ("tanh_lecun", lambda: Tanh(1.7159, 2 / 3), (3, 8)),
    ("sigmoid", lambda: Sigmoid(), (3, 8)),
    ("flatten", lambda: Flatten(), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[row[0] for row in LAYERS])
def test_layer_backward_matches_numerical_gradient(name, make, shape):
    rng = np.random.default_rng(0)
    layer = make()
    x = rng.standard_normal(shape)
    if name == "relu":  # keep away from the kink at 0, where the derivative is undefined
        x[np.abs(x) < 0.05] = 0.5
    params = {k: v.astype(np.float64) for k, v in layer.init_params(shape[1:], rng).items()}
    for v in params.values():
        v += rng.standard_normal(v.shape) * 0.1
    out, _ = layer.forward(params, x, train=True)
    weights = rng.standard_normal(out.shape)  # loss = <out, weights>, so dout = weights

    def loss():
        return float(np.sum(layer.forward(params, x, train=True)[0] * weights))

    _, cache = layer.forward(params, x, train=True)
    dx, grads = layer.backward(params, cache, weights)
    assert dx.shape == x.shape
    assert_close_grad(dx, numerical_grad(loss, x))
    assert set(grads) == set(params)
    for key, value in params.items():
        assert_close_grad(grads[key], numerical_grad(loss, value))


def test_dropout_backward_uses_the_same_mask():
    rng = np.random.default_rng(0)
    layer = Dropout(0.5)
    x = rng.standard_normal((4, 50))
    out, mask = layer.forward({}, x, train=True, rng=np.random.default_rng(3))
    dout = rng.standard_normal(out.shape)
    dx, _ = layer.backward({}, mask, dout)
    np.testing.assert_array_equal(dx, dout * mask)
    dropped = out == 0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(out[~dropped], 2 * x[~dropped])
    # inference is the identity
    np.testing.assert_array_equal(layer.forward({}, x, train=False)[0], x)


def test_softmax_with_loss_gradient():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 10))
    labels = np.array([1, 0, 9, 3])
    layer = SoftmaxWithLoss()
    loss, cache = layer.forward(logits, labels)
    numeric = numerical_grad(lambda: layer.forward(logits, labels)[0], logits)
    assert_close_grad(layer.backward(cache), numeric)
    expected = -np.mean(np.log(np.exp(logits[np.arange(4), labels]) / np.exp(logits).sum(axis=1)))
    assert np.isclose(loss, expected)


def test_maxpool_backward_routes_to_one_winner():
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    layer = MaxPooling(2, 2)
    out, cache = layer.forward({}, x, train=True)
    dx, _ = layer.backward({}, cache, np.ones_like(out))
    np.testing.assert_array_equal(dx, [[[[0, 1], [0, 0]]]])


def test_layers_keep_no_state_on_self():
    rng = np.random.default_rng(0)
    for _, make, shape in LAYERS:
        layer = make()
        before = dict(vars(layer))
        params = layer.init_params(shape[1:], rng)
        layer.forward(params, rng.standard_normal(shape), train=True)
        assert vars(layer) == before
