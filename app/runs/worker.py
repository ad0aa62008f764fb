"""One training run in its own process: ``python -m app.runs.worker RUNS_DIR RUN_ID``. It trains
with ``cnnvis train``'s code (model/train.py) and writes progress, snapshots and the final state
into the runs database; it dies with the server that spawned it."""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from model.data import DatasetError
from model.dataset_registry import DEFAULT_DATASET
from model.reference_build import build_file as build_reference_file
from model.runtime import keep_freed_memory
from model.train import TrainConfig, train
from model.units import build_units_file
from model.weights import WeightsError, load_checked

from .options import AUGMENT_SHIFT
from .reporter import Cancelled, Reporter
from .store import Store, model_name

PR_SET_PDEATHSIG = 1
# Validation digits (as stored, and redrawn on the pad) that calibrate a run's atypical
# threshold: fewer than `cnnvis neighbors` uses (all 5,000 and 1,000), to keep a run's finish
# within seconds.
RUN_MEMBERS = 1000
RUN_REDRAWN = 200


def train_config(config: dict[str, Any], threads: int) -> TrainConfig:
    """The TrainConfig a run's API config means (no lr schedule, weights written by the run)."""
    return TrainConfig(arch=config["arch"], epochs=config["epochs"],
                       batch_size=config["batch_size"], optimizer=config["optimizer"],
                       lr=config["lr"], train_size=config["train_size"],
                       shift=AUGMENT_SHIFT if config["augment"] else 0, seed=config["seed"],
                       threads=threads, dataset=config.get("dataset", DEFAULT_DATASET))


def command_line(config: TrainConfig, name: str) -> str:
    """The ``cnnvis train`` command that trains exactly these weights."""
    defaults = TrainConfig()
    parts = ["cnnvis", "train"]
    for key in ("arch", "dataset", "epochs", "batch_size", "optimizer", "lr", "train_size",
                "shift", "seed", "threads"):
        value = getattr(config, key)
        if key in ("arch", "threads") or value != getattr(defaults, key):
            parts += ["--" + key.replace("_", "-"), str(value)]
    return " ".join(shlex.quote(p) for p in [*parts, "--name", name])


def die_with_parent() -> None:
    """Linux: be killed when the spawning server goes away (prctl), and in any case notice it
    within a quarter of a second (the parent changes)."""
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.25)
        os._exit(3)

    if os.getppid() != parent:
        os._exit(3)
    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def run(runs_dir: Path, run_id: str) -> int:
    """Train one run to its final state; the exit code is 0 unless the database is unusable."""
    store = Store(runs_dir / "runs.db")
    row = store.get(run_id)
    if row is None or row["status"] != "running":
        return 0
    run_dir = runs_dir / run_id
    plan = row["plan"]
    name = model_name(run_id)
    config = replace(train_config(row["config"], plan["threads"]), name=name)
    reporter = Reporter(store, run_id, run_dir, {**plan, "epochs": config.epochs},
                        config.batch_size, row["progress"]["steps_total"])
    reporter.start_timer()  # progress from now on, through loading, evaluating and saving
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=".model-"))

    def discard() -> None:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(run_dir / "model", ignore_errors=True)

    try:
        config = replace(config, out_dir=str(staging))
        try:
            _, info = train(config, command=command_line(config, name), progress=False,
                            hook=reporter)
            reporter.saving()
            load_checked(staging / f"{name}.json")  # exactly as shipped weights are checked
            if plan.get("units", True):  # what its units mean, as `cnnvis units` makes it
                build_units_file(staging / f"{name}.json", threads=plan["threads"])
            if plan.get("neighbors", True):  # nearest digits and map, as `cnnvis neighbors`
                build_reference_file(staging / f"{name}.json", threads=plan["threads"],
                                     redrawn=RUN_REDRAWN, members=RUN_MEMBERS)
            os.replace(staging, run_dir / "model")
        finally:
            reporter.close()
        reporter.check()  # a write that failed or a cancellation after the last step
    except Cancelled:
        discard()
        return 0
    except OSError as exc:
        discard()
        store.finish(run_id, "failed", error=f"could not write the run's files: "
                                             f"{exc.strerror or exc}")
        return 0
    except (WeightsError, DatasetError, ValueError, MemoryError) as exc:
        discard()
        store.finish(run_id, "failed", error=f"training failed: {exc}")
        return 0
    except Exception as exc:  # any other fault is this run's failure, stated, not a traceback
        discard()
        store.finish(run_id, "failed", error=f"training failed: {type(exc).__name__}: {exc}")
        return 0
    # the worker's log (runs/<id>/worker.log) keeps what streaming cost (benchmarks/runs.py)
    print(f"streaming: {reporter.spent:.3f} s in the progress hook; training "
          f"{sum(row['seconds'] for row in info['history']):.3f} s", file=sys.stderr)
    metrics = info["metrics"]
    result = {"val_accuracy": round(metrics["val_accuracy"], 6),
              "test_accuracy": round(metrics["test_accuracy"], 6),
              "selected_epoch": info["training"]["selected_epoch"]}
    if store.finish(run_id, "done", model=name, result=result,
                    history=info["history"]) is None:
        shutil.rmtree(run_dir / "model", ignore_errors=True)  # cancelled at the last moment
    return 0


def main(argv: list[str]) -> int:
    die_with_parent()
    keep_freed_memory()  # as cnnvis train does: steps reuse the heap instead of fresh pages
    if len(argv) != 2:
        print("usage: python -m app.runs.worker RUNS_DIR RUN_ID", file=sys.stderr)
        return 2
    return run(Path(argv[0]), argv[1])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
