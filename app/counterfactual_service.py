"""The smallest change that flips the answer, without web types: model/counterfactual.py's
targeted PGD on a drawing, its size (L2, L∞, ink added and removed) and the new probabilities."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from model.counterfactual import MAX_STEPS, counterfactual
from model.functional import softmax
from model.inputs import Prepared, elapsed_ms, fit_input

from .encoding import encode_array, float32_list, float32_value
from .registry import LoadedModel


def flip(model: LoadedModel, prepared: Prepared, target: int, epsilon: float, add_only: bool,
         seed: int, started: float) -> dict[str, Any]:
    """The nearest drawing (within ``epsilon`` per pixel) the model reads as ``target``."""
    begun = time.perf_counter()
    before = softmax(model.net.forward(fit_input(prepared.image[None],
                                                 model.net.input_shape))[0])[0]
    found = counterfactual(model.net, prepared.image, target, epsilon, MAX_STEPS, add_only, seed)
    inference = elapsed_ms(begun)
    change = found.image.astype(np.float64) - prepared.image
    return {"model": model.name, "target": target, "reached": found.reached,
            "label": int(np.argmax(found.probabilities)),
            "probabilities": float32_list(found.probabilities),
            "original_label": int(np.argmax(before)),
            "original_probabilities": float32_list(before),
            "pixels": encode_array(found.image), "difference": encode_array(change),
            "steps": found.steps, "max_steps": MAX_STEPS,
            "epsilon": epsilon, "add_only": add_only,
            "l2": float32_value(np.linalg.norm(change)),
            "linf": float32_value(np.abs(change).max()),
            "ink_added": float32_value(change[change > 0].sum()),
            "ink_removed": float32_value(-change[change < 0].sum()),
            "timing_ms": {"preprocess": prepared.preprocess_ms, "inference": inference,
                          "total": elapsed_ms(started)}}
