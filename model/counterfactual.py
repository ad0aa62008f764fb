"""The smallest change that makes a network read a drawing as another digit: targeted projected
gradient descent (Madry et al. 2018) on the target's cross-entropy, through the network's own
backward pass, inside an L∞ ball of radius epsilon, pixels kept in [0, 1]; optionally adding ink
only (no pixel gets lighter), the kind of change a person could draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .functional import softmax
from .inputs import drawing_window, fit_input
from .networks import Sequential

MAX_STEPS = 200
STEP_FRACTION = 0.05  # each step moves a pixel by at most this share of epsilon
START_FRACTION = 0.1  # the seeded random start lies within this share of epsilon


@dataclass(frozen=True)
class Counterfactual:
    """``image`` (28, 28) float32 in [0, 1]; ``probabilities`` (10,) for it; ``steps`` taken;
    ``reached``: the network reads it as the target."""

    image: np.ndarray
    probabilities: np.ndarray
    steps: int
    reached: bool


def counterfactual(net: Sequential, image: np.ndarray, target: int, epsilon: float,
                   max_steps: int = MAX_STEPS, add_only: bool = False,
                   seed: int = 0) -> Counterfactual:
    """Targeted L∞ PGD from a drawing (28, 28) towards ``target``, stopping at the first step
    whose image the network reads as ``target``: the least change this walk finds (none when
    the drawing is read so already).

    Each step: x ← clip(x − α·sign(∇ₓ CE(f(x), target)), ball, [0, 1]) with α = ε·STEP_FRACTION;
    with ``add_only`` the ball is [x₀, x₀ + ε]. Only the 28×28 drawing changes, not the zero
    padding of a larger input. Deterministic for a given ``seed``.
    """
    if not 0 <= target < net.output_size:
        raise ValueError(f"target must be a class 0-{net.output_size - 1}, got {target}")
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(f"epsilon must be within (0, 1], got {epsilon}")
    x0 = np.asarray(image, dtype=np.float32)
    probs = net.predict(fit_input(x0[None], net.input_shape))[0]
    if int(np.argmax(probs)) == target:  # nothing to change
        return Counterfactual(x0.copy(), probs, 0, True)
    low = x0 if add_only else np.clip(x0 - epsilon, 0.0, 1.0)
    high = np.clip(x0 + epsilon, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    start = rng.uniform(-START_FRACTION * epsilon, START_FRACTION * epsilon, x0.shape)
    x = np.clip(x0 + start.astype(np.float32), low, high)
    alpha = np.float32(epsilon * STEP_FRACTION)
    onehot = np.zeros((1, net.output_size), dtype=np.float32)
    onehot[0, target] = 1.0
    for step in range(max_steps + 1):
        logits, caches = net.forward_train(fit_input(x[None], net.input_shape))
        probs = softmax(logits)
        if int(np.argmax(probs[0])) == target or step == max_steps:
            return Counterfactual(x, probs[0], step, int(np.argmax(probs[0])) == target)
        # d CE / d logits = softmax − onehot (ch. 5.6), then the network's own backward pass
        _, dx = net.backward(caches, probs - onehot, input_grad=True)
        grad = drawing_window(dx[0, 0])
        x = np.clip(x - alpha * np.sign(grad), low, high).astype(np.float32)
    raise AssertionError("unreachable")
