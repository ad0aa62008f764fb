"""What a training run may ask for (issue 15), defined once: the request's defaults and bounds
(``RunRequest`` enforces them), the server's own limits (settings), the optimizers and every
registered architecture with its size and layers, as ``GET /api/runs/options`` lists them."""

from __future__ import annotations

from functools import cache
from typing import Any

from model.networks import ARCH_INFO, build
from model.optim import OPTIMIZERS
from model.train import TrainConfig

from ..config import Settings

TRAIN_SPLIT = 55_000  # the 60,000 training images less the validation split (TrainConfig)
AUGMENT_SHIFT = 2  # pixels: ``"augment": true`` is ``cnnvis train --shift 2``
VAL_SUBSET = 100  # validation images scored at each snapshot (a fixed subset)

# The request's bounds; the server's settings may narrow epochs and the network's size.
EPOCHS = (1, 1000)
BATCH_SIZE = (1, 1000)
LR_MAX = 1.0  # and more than 0
TRAIN_SIZE = (1, TRAIN_SPLIT)
SEED = (0, 2**32 - 1)

_CLI = TrainConfig()
DEFAULTS: dict[str, Any] = {
    "epochs": 1, "batch_size": _CLI.batch_size, "optimizer": _CLI.optimizer, "lr": _CLI.lr,
    "train_size": TRAIN_SPLIT, "augment": False, "seed": _CLI.seed}


@cache
def geometry(arch: str) -> dict[str, Any]:
    """``input_shape``, ``layers`` (as ``/api/models`` has them) and ``param_count`` of an
    architecture built with its default arguments, as runs build it; empty for an unknown one."""
    if arch not in ARCH_INFO:
        return {"input_shape": [], "layers": [], "param_count": 0}
    net = build(arch)
    return {"input_shape": list(net.input_shape), "layers": net.describe(),
            "param_count": net.param_count()}


def options(settings: Settings) -> dict[str, Any]:
    """Everything the Train form offers, and what the server allows."""
    largest = settings.max_run_params
    architectures = []
    for arch, description in ARCH_INFO.items():
        shape = geometry(arch)
        too_big = shape["param_count"] > largest
        architectures.append({
            "arch": arch, "description": description, "param_count": shape["param_count"],
            "trainable": not too_big,
            "reason": (f"{shape['param_count']:,} parameters, more than this server trains "
                       f"(CNNVIS_MAX_RUN_PARAMS={largest:,})") if too_big else None,
            "input_shape": shape["input_shape"], "layers": shape["layers"]})
    return {
        "training": settings.max_runs > 0,
        "defaults": DEFAULTS,
        "limits": {
            "epochs": {"min": EPOCHS[0], "max": min(EPOCHS[1], settings.max_run_epochs)},
            "batch_size": {"min": BATCH_SIZE[0], "max": BATCH_SIZE[1]},
            "lr": {"above": 0.0, "max": LR_MAX},
            "train_size": {"min": TRAIN_SIZE[0], "max": TRAIN_SIZE[1]},
            "seed": {"min": SEED[0], "max": SEED[1]},
            "param_count": {"max": largest},
        },
        "optimizers": [{"name": name, "label": cls.__name__,
                        "rule": " ".join((cls.__doc__ or "").split())}
                       for name, cls in OPTIMIZERS.items()],
        "augment": {"shift": AUGMENT_SHIFT,
                    "description": f"each batch shifted at random by up to ±{AUGMENT_SHIFT} "
                                   f"pixels (cnnvis train --shift {AUGMENT_SHIFT})"},
        "events": {"progress_seconds": settings.run_progress_seconds,
                   "snapshot_seconds": settings.run_snapshot_seconds,
                   "val_subset": VAL_SUBSET, "snapshots_kept": settings.run_snapshots},
        "architectures": architectures,
    }
