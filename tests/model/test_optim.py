"""Optimizers against hand-computed updates."""

import numpy as np
import pytest

from model.optim import SGD, Adam, Momentum, make_optimizer


def test_sgd_step():
    p = {"w": np.array([1.0, -2.0])}
    SGD(lr=0.1).step(p, {"w": np.array([0.5, 1.0])})
    np.testing.assert_allclose(p["w"], [0.95, -2.1])


def test_momentum_two_steps():
    p = {"w": np.array([1.0])}
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.step(p, {"w": np.array([1.0])})   # v = -0.1, w = 0.9
    opt.step(p, {"w": np.array([1.0])})   # v = -0.09 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(p["w"], [0.71])


def test_adam_matches_hand_computed_bias_corrected_update():
    p = {"w": np.array([0.5, -1.0])}
    g1, g2 = np.array([0.2, -0.4]), np.array([-0.1, 0.3])
    opt = Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8)
    opt.step(p, {"w": g1})
    # step 1: m̂ = g, v̂ = g², update = lr * g / (|g| + eps) = lr * sign(g)
    after1 = np.array([0.5, -1.0]) - 0.01 * g1 / (np.abs(g1) + 1e-8)
    np.testing.assert_allclose(p["w"], after1, rtol=1e-12)
    np.testing.assert_allclose(after1, [0.49, -0.99], rtol=1e-7)
    opt.step(p, {"w": g2})
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    expected = after1 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(p["w"], expected, rtol=1e-10)


def test_optimizer_errors():
    with pytest.raises(ValueError, match="no gradient for"):
        SGD(0.1).step({"a": np.zeros(1), "b": np.zeros(1)}, {"a": np.zeros(1)})
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(ValueError, match="learning rate"):
        Adam(lr=0)
