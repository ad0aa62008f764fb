"""Finished runs as models: each loaded on first use (validated, frozen and self-tested like the
shipped weights) into a bounded LRU, and dropped as soon as its run is deleted; and a run's
weights at a snapshot step, for the activations replay."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from model.dataset_registry import get_dataset
from model.networks import build
from model.weights import WeightsError, read_npz

from ..registry import LoadedModel, NotFoundError, Samples, StartupError, load_model
from .store import Store, model_name

PREFIX = "run-"


class RunModels:
    """The models of finished runs, read-only to callers; the cache is the only state, guarded
    by a lock, and is checked against the database on every lookup."""

    def __init__(self, store: Store, runs_dir: Path, samples: Samples,
                 capacity: int):
        self.store, self.runs_dir, self.samples = store, Path(runs_dir), samples
        self.capacity = max(capacity, 1)
        self.cache: OrderedDict[tuple[str, Any], LoadedModel] = OrderedDict()
        self.lock = threading.Lock()

    def names(self) -> list[str]:
        """The finished runs' model names, newest first."""
        return [str(run["model"]) for run in self.store.done() if run["model"]]

    def get(self, name: str) -> LoadedModel | None:
        """The model of a finished run, or None if there is no such (finished) run."""
        if not name.startswith(PREFIX):
            return None
        run = self.store.get(name[len(PREFIX):])
        if run is None or run["status"] != "done":
            return None
        key = (name, run["finished"])
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
        path = self.runs_dir / run["id"] / "model" / f"{name}.json"
        try:
            loaded = load_model(path, self.samples, min_accuracy=0.0)
        except StartupError:
            return None  # files gone or damaged since: not a model any more
        tag = {"id": run["id"], "config": run["config"], "history": run["history"],
               "result": run["result"]}
        loaded = LoadedModel(**{**loaded.__dict__, "run": tag})
        with self.lock:
            self.cache[key] = loaded
            while len(self.cache) > self.capacity:
                self.cache.popitem(last=False)
        return loaded


class Snapshots:
    """A run's weights at a kept snapshot step as a frozen network (float16 → float32), in a
    small LRU: the page asks for the same step many times while a user draws."""

    def __init__(self, runs_dir: Path, capacity: int = 8):
        self.runs_dir = Path(runs_dir)
        self.capacity = capacity
        self.cache: OrderedDict[tuple[str, int], LoadedModel] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, run: dict[str, Any], step: int) -> tuple[int, LoadedModel]:
        """``(kept step, model)`` for the latest kept snapshot at or before ``step``;
        NotFoundError when there is none."""
        kept = [s for s in run["snapshots"] if s <= step]
        if not kept:
            raise NotFoundError(f"run {run['id']!r} has no snapshot at or before step {step}; "
                              f"kept steps: {run['snapshots'] or '(none yet)'}")
        chosen = max(kept)
        key = (run["id"], chosen)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return chosen, self.cache[key]
        path = self.runs_dir / run["id"] / "snapshots" / f"{chosen}.npz"
        try:
            arrays = read_npz(path)
        except WeightsError:
            raise NotFoundError(f"run {run['id']!r}: the snapshot at step {chosen} is gone "
                              f"(thinned out or deleted); ask for the run's current "
                              f"snapshots") from None
        net = build(run["config"]["arch"])
        if set(arrays) != set(net.params):
            raise NotFoundError(f"{path}: does not hold {run['config']['arch']}'s parameters")
        net.params = {k: arrays[k].astype(np.float32) for k in net.params}
        net.freeze()
        model = LoadedModel(name=model_name(run["id"]), net=net, manifest={"arch": net.arch},
                            initial={}, path=path,
                            dataset=get_dataset(run["config"].get("dataset")))
        with self.lock:
            self.cache[key] = model
            while len(self.cache) > self.capacity:
                self.cache.popitem(last=False)
        return chosen, model
