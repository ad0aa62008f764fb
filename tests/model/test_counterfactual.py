"""Targeted PGD (model/counterfactual.py) on tiny untrained networks: it reaches the target within
epsilon, adds ink only when asked, is the same for a seed, and walks the true input gradient."""

import numpy as np
import pytest

from model import build
from model.counterfactual import counterfactual
from model.data import load_sample, to_float
from model.functional import softmax
from model.inputs import fit_input

DIGIT = to_float(load_sample()["images"][:1])[0, 0]


@pytest.fixture(scope="module")
def net():
    built = build("simple_convnet", {"filter_num": 4, "hidden_size": 16},
                  rng=np.random.default_rng(3))
    built.freeze()
    return built


def read(net, image):
    return int(np.argmax(net.predict(fit_input(image[None], net.input_shape))[0]))


@pytest.mark.parametrize("add_only", [False, True])
def test_pgd_reaches_every_other_digit_within_epsilon(net, add_only):
    start = read(net, DIGIT)
    for target in range(10):
        found = counterfactual(net, DIGIT, target, epsilon=0.5, add_only=add_only)
        assert found.reached, (target, found.steps)
        assert read(net, found.image) == target == int(np.argmax(found.probabilities))
        change = found.image - DIGIT
        assert np.abs(change).max() <= 0.5 + 1e-6
        assert found.image.min() >= 0.0 and found.image.max() <= 1.0
        if add_only:
            assert change.min() >= 0.0
        if target == start:
            assert found.steps == 0 and np.array_equal(found.image, DIGIT)


def test_pgd_stops_at_the_step_bound_and_is_the_same_for_a_seed(net):
    target = (read(net, DIGIT) + 1) % 10
    bounded = counterfactual(net, DIGIT, target, epsilon=0.001, max_steps=3)
    assert bounded.steps == 3 and not bounded.reached
    again = counterfactual(net, DIGIT, target, epsilon=0.001, max_steps=3)
    assert np.array_equal(bounded.image, again.image)
    other = counterfactual(net, DIGIT, target, epsilon=0.001, max_steps=3, seed=1)
    assert not np.array_equal(bounded.image, other.image)


def test_one_step_follows_the_numerical_gradient_of_the_target_loss(net):
    """One step moves every pixel by α against the sign of d(−log p_target)/dx taken at the
    seeded start, checked with centred differences in float64 (a gray image: no clipping)."""
    net64 = net.astype(np.float64)
    gray = (0.25 + 0.5 * DIGIT).astype(np.float32)
    target = (read(net, gray) + 3) % 10
    start = counterfactual(net, gray, target, epsilon=0.2, max_steps=0).image
    step = counterfactual(net, gray, target, epsilon=0.2, max_steps=1)
    assert step.steps == 1
    x = start.astype(np.float64)

    def loss(image):
        logits = net64.forward(fit_input(image[None], net.input_shape).astype(np.float64))[0]
        return -np.log(softmax(logits)[0, target])

    rng = np.random.default_rng(0)
    checked = 0
    for r, c in rng.integers(0, 28, size=(40, 2)):
        bump = np.zeros_like(x)
        bump[r, c] = 1e-5
        slope = (loss(x + bump) - loss(x - bump)) / 2e-5
        if abs(slope) > 1e-4:
            assert np.isclose(step.image[r, c] - start[r, c], -0.01 * np.sign(slope), atol=1e-6)
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"target": 10, "epsilon": 0.3}, "target"), ({"target": 1, "epsilon": 0.0}, "epsilon")])
def test_bad_arguments_are_refused(net, kwargs, message):
    with pytest.raises(ValueError, match=message):
        counterfactual(net, DIGIT, **kwargs)
