"""Service settings, each defined once (type, default, bounds, description) and read from
``CNNVIS_*`` environment variables by pydantic-settings; a bad value is one clear error."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le
from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode

from model.resources import runs_dir, weights_dir
from model.runtime import available_cores
from model.weights import DEFAULT_MODEL

ENV_PREFIX = "CNNVIS_"

__all__ = ["DEFAULT_MODEL", "ENV_PREFIX", "Settings", "SettingsError", "available_cores"]


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


def _origins(value: Any) -> tuple[str, ...]:
    """Comma-separated origins such as ``https://example.org``; ``*`` alone allows any."""
    parts = value.split(",") if isinstance(value, str) else value
    origins = tuple(o.strip().rstrip("/") for o in parts if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"{origin!r} is not an origin such as https://example.org")
    return origins


def _addresses(value: Any) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (``10.0.0.0/8``); ``*`` alone trusts any."""
    parts = value.split(",") if isinstance(value, str) else value
    addresses = tuple(a.strip() for a in parts if a.strip())
    for address in addresses:
        if address != "*":
            try:
                ipaddress.ip_network(address, strict=False)
            except ValueError:
                raise ValueError(f"{address!r} is not an IP address or network") from None
    return addresses


# NoDecode: the variable is a plain comma-separated list, not JSON.
Origins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)]
Addresses = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_addresses)]


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Settings:
    """Admission control is per worker process: parallelism comes from concurrent requests, each
    with ``blas_threads`` BLAS threads, since multi-threaded BLAS on single images spins more
    than it computes. A prediction from pixels on a model whose single-image forward (measured at
    startup) takes less than ``inline_ms`` runs on the event loop, because a worker-thread round
    trip costs more than that work.
    """

    weights_dir: Path = Field(
        default_factory=weights_dir,
        description="Directory of <name>.json/.npz weights (default: the shipped weights).")
    default_model: str | None = Field(
        None, description=f"Model answering requests that name none (default: {DEFAULT_MODEL} "
                          "if loaded, else the first loaded model); a name given must exist.")
    max_body_bytes: int = Field(2 * 1024 * 1024, gt=0, description="Largest request body.")
    body_timeout_seconds: float = Field(
        30.0, ge=0.01, le=3600.0, description="Time for a whole request body to arrive.")
    max_image_pixels: int = Field(4_000_000, gt=0, description="Most pixels in an uploaded image.")
    max_image_side: int = Field(4096, gt=0, description="Longest side of an uploaded image.")
    min_self_test_accuracy: float = Field(
        0.9, ge=0.0, le=1.0,
        description="Share of its dataset's shipped sample each model must classify correctly "
                    "at startup (at most the dataset's own floor: 0.8 for Fashion-MNIST).")
    max_inflight: int = Field(
        default_factory=available_cores, gt=0,
        description="Inferences running at once (default: the available cores).")
    max_queue: int = Field(64, gt=0, description="Inferences waiting for a slot; more get 503.")
    max_preview_bytes: int = Field(
        16 * 1024 * 1024, gt=0,
        description="Body bytes of live previews (Cnnvis-Preview: 1) waiting for a slot; more "
                    "get 503. Previews wait behind every other request and do not count toward "
                    "max_queue.")
    max_wait_seconds: float = Field(
        1.0, ge=0.001, le=60.0, description="Longest wait for a slot before 503.")
    blas_threads: int = Field(
        1, ge=0, le=256, description="BLAS threads per inference (0: leave BLAS as configured).")
    inline_ms: float = Field(
        0.25, ge=0.0, le=10.0,
        description="Single-image forward time below which /api/predict runs on the event loop "
                    "(0: always the thread pool).")
    max_json_items: int = Field(10_000, gt=0, description="Values in a JSON body.")
    max_form_files: int = Field(1, gt=0, description="Files in a multipart body.")
    max_form_fields: int = Field(4, gt=0, description="Other fields in a multipart body.")
    max_form_field_bytes: int = Field(1024, gt=0, description="Size of one multipart field.")
    max_response_bytes: int = Field(16 * 1024 * 1024, gt=0, description="Largest answer.")
    gzip_level: int = Field(
        4, ge=0, le=9,
        description="gzip level of answers for clients that accept it (0: never compress); "
                    "above 4 the CPU cost grows faster than the bytes shrink "
                    "(benchmarks/results/classroom.md).")
    cors_origins: Origins = Field(
        (), description="Comma-separated origins allowed by CORS (none: no CORS headers).")
    header_timeout_seconds: float = Field(
        5.0, ge=0.1, le=60.0,
        description="Time for a request head (request line and headers) to arrive, counted from "
                    "the connection's start or the end of its previous answer; then the "
                    "connection is closed (with 408 if a request had begun).")
    keepalive_seconds: float = Field(
        5.0, ge=0.1, le=300.0, description="Idle time after an answer before the connection is "
                                           "closed.")
    worker_healthcheck_seconds: int = Field(
        30, gt=0, le=3600,
        description="--workers: a worker that does not answer the supervisor's health check "
                    "within this is restarted (uvicorn's 5 s kills workers still starting on a "
                    "busy machine).")
    max_head_bytes: int = Field(
        32 * 1024, ge=1024, le=1024 * 1024,
        description="Request line and headers together; beyond: 431 and close.")
    max_url_bytes: int = Field(
        8 * 1024, ge=256, le=1024 * 1024, description="Request target; longer: 414 and close.")
    address_share: float = Field(
        0.5, gt=0.0, le=1.0,
        description="Share of the connection limit one client address may hold; beyond: 503 "
                    "and close.")
    body_budget_bytes: int = Field(
        64 * 1024 * 1024, gt=0,
        description="Request body bytes the process holds at once; beyond: 503 + Retry-After "
                    "before reading on.")
    trim_idle_seconds: float = Field(
        5.0, ge=0.0, le=3600.0,
        description="Quiet time after which freed heap memory is returned to the system "
                    "(0: never).")
    forwarded_allow_ips: Addresses = Field(
        (), description="Comma-separated addresses of proxies whose X-Forwarded-For and "
                        "X-Forwarded-Proto are trusted (none: those headers are ignored).")

    runs_dir: Path = Field(
        default_factory=runs_dir,
        description="Where training runs, their snapshots and models and the runs database "
                    "(runs.db) live (default: the per-user data directory's cnnvis/runs).")
    max_runs: int = Field(
        1, ge=0, le=64, description="Training runs at once across all workers (0: training off).")
    max_queued_runs: int = Field(
        4, ge=0, le=1000, description="Runs waiting for a free slot; more get 503.")
    max_runs_per_client: int = Field(
        1, gt=0, le=1000,
        description="Runs one client address may have queued or running; more get 429.")
    max_kept_runs: int = Field(
        20, gt=0, le=10_000,
        description="Finished runs kept with their models; the oldest beyond are deleted.")
    max_run_epochs: int = Field(20, gt=0, le=1000, description="Most epochs of one run.")
    max_run_params: int = Field(
        1_000_000, gt=0, description="Most trainable parameters of a run's network.")
    run_threads: int = Field(
        1, gt=0, le=256,
        description="Threads each run's batches are split over (and its BLAS threads).")
    run_units: bool = Field(
        True, description="Make each finished run's units file (as `cnnvis units` does) in its "
                          "child process, so its units can be inspected like a shipped model's.")
    run_neighbors: bool = Field(
        True, description="Make each finished run's reference set (as `cnnvis neighbors` does, "
                          "calibrated on 1,000 validation digits and 200 redrawn) in its child "
                          "process, so its nearest digits, data map and atypical flag work like "
                          "a shipped model's.")
    run_snapshots: int = Field(
        50, ge=2, le=1000,
        description="Weight snapshots (float16) kept per run for /api/runs/{id}/activations.")
    run_snapshot_seconds: float = Field(
        0.4, ge=0.05, le=60.0,
        description="Least time between a run's snapshot events (more on slow networks, so "
                    "that they cost at most 4 % of the training).")
    run_progress_seconds: float = Field(
        0.1, ge=0.02, le=60.0, description="Time between a run's progress events.")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``CNNVIS_<FIELD>`` variables in ``env`` (default: the process
        environment); unset or blank variables keep their defaults."""
        env = os.environ if env is None else env
        values = _EnvMapping(env)()
        # model.resources resolves the weights folder for the offline loader too.
        values["weights_dir"] = weights_dir(env)
        try:
            return cls(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc.errors()[0])) from None


# pydantic-settings reads variables for a BaseSettings class: this one has Settings' fields.
_Variables = create_model(
    "_Variables", __base__=BaseSettings,
    **{name: (info.annotation, info) for name, info in Settings.__pydantic_fields__.items()})


class _EnvMapping(EnvSettingsSource):
    """The ``CNNVIS_*`` variables of a given mapping, stripped; blank ones count as unset."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env
        super().__init__(_Variables, env_prefix=ENV_PREFIX, env_ignore_empty=True)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Names in lower case, as the source looks them up (not case-sensitive).
        return {k.lower(): v.strip() for k, v in self._env.items()
                if k.upper().startswith(ENV_PREFIX) and v.strip()}


def _describe(error: dict[str, Any]) -> str:
    """``CNNVIS_NAME='value' <problem>`` from a pydantic validation error."""
    field = str(error["loc"][0])
    name = ENV_PREFIX + field.upper()
    raw = error["input"]
    kind = error["type"]
    if kind.startswith("int_"):
        return f"{name}={raw!r} is not an integer"
    if kind.startswith("float_"):
        return f"{name}={raw!r} is not a number"
    if kind == "value_error":
        return f"{name}={raw!r}: {error['ctx']['error']}"
    return f"{name}={raw!r} {_range(Settings.__pydantic_fields__[field].metadata)}"


def _range(bounds: list[Any]) -> str:
    """A field's bounds in words: ``must be positive``, ``must be between 0 and 1``."""
    def number(value: float) -> str:
        return str(value) if isinstance(value, int) else f"{value:g}"

    gt = next((b.gt for b in bounds if isinstance(b, Gt)), None)
    ge = next((b.ge for b in bounds if isinstance(b, Ge)), None)
    le = next((b.le for b in bounds if isinstance(b, Le)), None)
    if gt is not None:
        low = "must be positive" if gt == 0 else f"must be above {number(gt)}"
        return low if le is None else f"{low} and at most {number(le)}"
    if ge is not None and le is not None:
        return f"must be between {number(ge)} and {number(le)}"
    if ge is not None:
        return f"must be at least {number(ge)}"
    return f"must be at most {number(le)}"
