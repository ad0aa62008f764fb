"""What the runs routes answer, without web types: a run request checked against the limits and
queued, runs as the API shows them, the event history, and a drawing's activations under a
snapshot's weights."""

from __future__ import annotations

import secrets
from typing import Any

from model.dataset_registry import Dataset, get_dataset
from model.inputs import Prepared
from model.networks import ARCH_INFO

from .. import service
from ..config import Settings
from ..registry import NotFoundError, name_list
from .manager import RunManager
from .models import Snapshots
from .options import VAL_SUBSET, geometry, options
from .store import public


class TrainingOff(RuntimeError):
    """CNNVIS_MAX_RUNS=0: this server trains nothing."""


def check_config(config: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The run config if the server's limits allow it, else a ValueError saying which limit."""
    if config["arch"] not in ARCH_INFO:
        raise ValueError(f"arch: unknown architecture {config['arch']!r}; registered: "
                         f"{name_list(ARCH_INFO)}")
    if config["epochs"] > settings.max_run_epochs:
        raise ValueError(f"epochs: {config['epochs']} is more than this server allows "
                         f"(CNNVIS_MAX_RUN_EPOCHS={settings.max_run_epochs})")
    params = geometry(config["arch"])["param_count"]
    if params > settings.max_run_params:
        raise ValueError(f"arch: {config['arch']} has {params:,} parameters, more than this "
                         f"server trains (CNNVIS_MAX_RUN_PARAMS={settings.max_run_params:,})")
    if config["batch_size"] > config["train_size"]:
        raise ValueError(f"batch_size: {config['batch_size']} is more than train_size "
                         f"({config['train_size']})")
    return config


class Runs:
    """The runs of one server process: its manager (queue and children) and snapshot cache."""

    def __init__(self, manager: RunManager, settings: Settings):
        self.manager, self.settings = manager, settings
        self.store = manager.store
        self.snapshots = Snapshots(manager.runs_dir)

    def create(self, config: dict[str, Any], client: str) -> dict[str, Any]:
        """Queue a run (QueueFull when there is no room, TrainingOff when training is off)."""
        s = self.settings
        if s.max_runs == 0:
            raise TrainingOff("training is turned off on this server (CNNVIS_MAX_RUNS=0)")
        config = check_config(config, s)
        plan = {"threads": s.run_threads, "snapshots": s.run_snapshots,
                "snapshot_seconds": s.run_snapshot_seconds,
                "progress_seconds": s.run_progress_seconds, "val_subset": VAL_SUBSET,
                "units": s.run_units, "neighbors": s.run_neighbors}
        steps = max(config["train_size"] // config["batch_size"], 1) * config["epochs"]
        run = self.store.create(secrets.token_hex(6), config, plan, client, steps,
                                {"max_runs": s.max_runs, "max_queued": s.max_queued_runs,
                                 "per_client": s.max_runs_per_client})
        self.manager.nudge()
        return public(run)

    def options(self) -> dict[str, Any]:
        return options(self.settings)

    def list(self) -> list[dict[str, Any]]:
        return [public(run) for run in self.store.list()]

    def get(self, run_id: str) -> dict[str, Any]:
        return public(self._row(run_id))

    def _row(self, run_id: str) -> dict[str, Any]:
        run = self.store.get(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id[:40]!r} (never created, or deleted)")
        return run

    def remove(self, run_id: str) -> dict[str, Any]:
        """Cancel a queued or running run, or delete a finished one with its model."""
        self._row(run_id)
        run = self.manager.cancel(run_id) or self.manager.delete(run_id)
        if run is None:  # it ended between the two: delete it now
            run = self.manager.delete(run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id[:40]!r} (deleted meanwhile)")
        return public(run)

    def param(self, run_id: str, step: int, key: str) -> dict[str, Any]:
        """One parameter as the snapshot at (or before) ``step`` kept it."""
        kept, model = self.snapshots.get(self._row(run_id), step)
        return {**service.param(model, key), "step": kept}

    def dataset(self, run_id: str) -> Dataset:
        """What the run trains on (runs created before datasets: MNIST)."""
        return get_dataset(self._row(run_id)["config"].get("dataset"))

    def activations(self, run_id: str, step: int, prepared: Prepared,
                    started: float) -> dict[str, Any]:
        kept, model = self.snapshots.get(self._row(run_id), step)
        return {**service.activations(model, prepared, started), "step": kept}

