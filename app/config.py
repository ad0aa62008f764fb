"""Service settings from ``CNNVIS_*`` environment variables, with defaults and clear errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from model.resources import weights_dir
from model.runtime import available_cores

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


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name}={raw!r} must be between {lo:g} and {hi:g}")
    return value


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins such as ``https://example.org``; ``*`` alone allows any."""
    raw = env.get(name, "")
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise SettingsError(f"{name}={raw!r}: {origin!r} is not an origin such as "
                                f"https://example.org")
    return origins


@dataclass(frozen=True)
class Settings:
    """``default_model`` None means ``simple_convnet`` if loaded, else the first loaded model;
    a name given explicitly must exist. ``min_self_test_accuracy`` is the share of the shipped
    sample digits each model must classify correctly at startup.

    Admission control (per worker process): at most ``max_inflight`` inference requests run at
    once (default: the available cores), at most ``max_queue`` more wait, none longer than
    ``max_wait_seconds``; the rest are answered 503 with ``Retry-After``. Each inference uses
    ``blas_threads`` BLAS threads (0: leave BLAS as configured): parallelism comes from
    concurrent requests, and multi-threaded BLAS on single images spins more than it computes.
    A prediction from pixels on a model whose single-image forward (measured at startup) takes
    less than ``inline_ms`` runs on the event loop: a worker-thread round trip costs more
    (≈0.2 ms measured on 2 cores). 0 sends every inference to the thread pool.
    """

    weights_dir: Path = field(default_factory=weights_dir)
    default_model: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024
    body_timeout_seconds: float = 30.0
    max_image_pixels: int = 4_000_000
    max_image_side: int = 4096
    min_self_test_accuracy: float = 0.9
    max_inflight: int = field(default_factory=available_cores)
    max_queue: int = 64
    max_wait_seconds: float = 1.0
    blas_threads: int = 1
    inline_ms: float = 0.25
    max_json_items: int = 10_000
    max_form_files: int = 1
    max_form_fields: int = 4
    max_form_field_bytes: int = 1024
    max_response_bytes: int = 16 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            weights_dir=weights_dir(env),
            default_model=env.get("CNNVIS_DEFAULT_MODEL", "").strip() or None,
            max_body_bytes=_positive_int(env, "CNNVIS_MAX_BODY_BYTES", 2 * 1024 * 1024),
            body_timeout_seconds=_number(env, "CNNVIS_BODY_TIMEOUT_SECONDS", 30.0, 0.01, 3600.0),
            max_image_pixels=_positive_int(env, "CNNVIS_MAX_IMAGE_PIXELS", 4_000_000),
            max_image_side=_positive_int(env, "CNNVIS_MAX_IMAGE_SIDE", 4096),
            min_self_test_accuracy=_number(env, "CNNVIS_MIN_SELF_TEST_ACCURACY", 0.9, 0.0, 1.0),
            max_inflight=_positive_int(env, "CNNVIS_MAX_INFLIGHT", available_cores()),
            max_queue=_positive_int(env, "CNNVIS_MAX_QUEUE", 64),
            max_wait_seconds=_number(env, "CNNVIS_MAX_WAIT_SECONDS", 1.0, 0.001, 60.0),
            blas_threads=int(_number(env, "CNNVIS_BLAS_THREADS", 1, 0, 256)),
            inline_ms=_number(env, "CNNVIS_INLINE_MS", 0.25, 0.0, 10.0),
            max_json_items=_positive_int(env, "CNNVIS_MAX_JSON_ITEMS", 10_000),
            max_form_files=_positive_int(env, "CNNVIS_MAX_FORM_FILES", 1),
            max_form_fields=_positive_int(env, "CNNVIS_MAX_FORM_FIELDS", 4),
            max_form_field_bytes=_positive_int(env, "CNNVIS_MAX_FORM_FIELD_BYTES", 1024),
            max_response_bytes=_positive_int(env, "CNNVIS_MAX_RESPONSE_BYTES", 16 * 1024 * 1024),
            cors_origins=_origins(env, "CNNVIS_CORS_ORIGINS"),
        )
