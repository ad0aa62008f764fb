"""Service settings from ``CNNVIS_*`` environment variables, with defaults and clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from model.data import REPO_ROOT

DEFAULT_MODEL = "simple_convnet"


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise SettingsError(f"{name}={raw!r} must be positive")
    return value


def _fraction(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name}={raw!r} must be between 0 and 1")
    return value


@dataclass(frozen=True)
class Settings:
    """``default_model`` None means ``simple_convnet`` if loaded, else the first loaded model;
    a name given explicitly must exist. ``min_self_test_accuracy`` is the share of the shipped
    sample digits each model must classify correctly at startup."""

    weights_dir: Path = field(default_factory=lambda: REPO_ROOT / "weights")
    default_model: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024
    max_image_pixels: int = 4_000_000
    max_image_side: int = 4096
    min_self_test_accuracy: float = 0.9

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        weights = env.get("CNNVIS_WEIGHTS_DIR", "").strip()
        return cls(
            weights_dir=Path(weights).expanduser() if weights else REPO_ROOT / "weights",
            default_model=env.get("CNNVIS_DEFAULT_MODEL", "").strip() or None,
            max_body_bytes=_positive_int(env, "CNNVIS_MAX_BODY_BYTES", 2 * 1024 * 1024),
            max_image_pixels=_positive_int(env, "CNNVIS_MAX_IMAGE_PIXELS", 4_000_000),
            max_image_side=_positive_int(env, "CNNVIS_MAX_IMAGE_SIDE", 4096),
            min_self_test_accuracy=_fraction(env, "CNNVIS_MIN_SELF_TEST_ACCURACY", 0.9),
        )
