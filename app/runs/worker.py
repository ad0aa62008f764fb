"""One training run in its own process: ``python -m app.runs.worker RUNS_DIR RUN_ID``. It trains
with ``cnnvis train``'s code (model/train.py) and writes progress, snapshots and the final state
into the runs database; it dies with the server that spawned it."""

from __future__ import annotations

import base64
import ctypes
import os
import queue
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

import numpy as np

from model.data import DatasetError
from model.runtime import keep_freed_memory
from model.train import TrainConfig, train
from model.weights import WeightsError, load_checked

from .store import Store, model_name

AUGMENT_SHIFT = 2  # pixels: ``"augment": true`` is ``cnnvis train --shift 2``
PR_SET_PDEATHSIG = 1


def train_config(config: dict[str, Any], threads: int) -> TrainConfig:
    """The TrainConfig a run's API config means (no lr schedule, weights written by the run)."""
    return TrainConfig(arch=config["arch"], epochs=config["epochs"],
                       batch_size=config["batch_size"], optimizer=config["optimizer"],
                       lr=config["lr"], train_size=config["train_size"],
                       shift=AUGMENT_SHIFT if config["augment"] else 0, seed=config["seed"],
                       threads=threads)


def command_line(config: TrainConfig, name: str) -> str:
    """The ``cnnvis train`` command that trains exactly these weights."""
    defaults = TrainConfig()
    parts = ["cnnvis", "train"]
    for key in ("arch", "epochs", "batch_size", "optimizer", "lr", "train_size", "shift", "seed",
                "threads"):
        value = getattr(config, key)
        if key in ("arch", "threads") or value != getattr(defaults, key):
            parts += ["--" + key.replace("_", "-"), str(value)]
    return " ".join(shlex.quote(p) for p in [*parts, "--name", name])


def f16(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f2").tobytes()).decode()


class Reporter:
    """The trainer's hook: progress events at most ``progress_seconds`` apart, a snapshot (first
    conv layer, accuracy on a fixed validation subset, weights kept as float16) at most
    ``snapshot_seconds`` apart, and each epoch's row; at most ``snapshots`` weight files kept,
    thinned evenly."""

    def __init__(self, store: Store, run_id: str, run_dir: Path, plan: dict[str, Any],
                 batch_size: int):
        self.store, self.run_id, self.plan = store, run_id, plan
        self.snap_dir = run_dir / "snapshots"
        self.snap_dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.kept: list[int] = []
        self.history: list[dict[str, Any]] = []
        self.window = [0.0, 0, 0]  # loss sum, correct, seen since the last progress event
        self.cancelled = False
        self.spent = 0.0  # seconds inside the hook: what streaming costs the training
        self.outbox: queue.Queue = queue.Queue()
        self.writer: threading.Thread | None = None

    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        if self.cancelled:
            raise Cancelled
        t0 = time.perf_counter()
        getattr(self, "on_" + event)(**fields)
        self.spent += time.perf_counter() - t0

    def on_start(self, net, steps_total: int, x_val: np.ndarray, y_val: np.ndarray) -> None:
        self.steps_total = steps_total
        n = min(self.plan["val_subset"], len(x_val))
        self.x_sub, self.y_sub = x_val[:n], y_val[:n]
        self.layer = next((name for name, layer in net.layers if layer.kind == "conv"),
                          net.layers[0][0])
        self.started = self.last_progress = time.perf_counter()
        self.last_snapshot = -1.0
        self.snapshot_cost = 0.0
        self.step = 0
        self.snapshot(net, 0, 0)

    def on_step(self, net, epoch: int, step: int, loss: float, correct: int, seen: int) -> None:
        self.step = step
        self.window[0] += loss * seen
        self.window[1] += correct
        self.window[2] += seen
        now = time.perf_counter()
        if now - self.last_progress >= self.plan["progress_seconds"] or step == self.steps_total:
            self.progress(epoch, step, now)
        # Snapshots cost a forward pass over the subset: on slow networks (or a busy machine)
        # they are spaced so that they take at most ~2.5 % of the time.
        gap = max(self.plan["snapshot_seconds"], self.snapshot_cost * 40)
        if now - self.last_snapshot >= gap or step == self.steps_total:
            self.snapshot(net, epoch, step)

    def on_epoch(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.send("epoch", row, history=self.history)

    def progress(self, epoch: int, step: int, now: float) -> None:
        loss_sum, correct, seen = self.window
        elapsed = now - self.started
        rate = step * self.batch_size / elapsed if elapsed > 0 else 0.0
        data = {"step": step, "steps_total": self.steps_total, "epoch": epoch,
                "loss": round(loss_sum / max(seen, 1), 6),
                "batch_accuracy": round(correct / max(seen, 1), 6),
                "images_per_second": round(rate, 1),
                "eta_seconds": round(elapsed * (self.steps_total - step) / step, 1),
                "time": round(time.time(), 3)}
        self.window = [0.0, 0, 0]
        self.last_progress = now
        self.send("progress", data, progress={"step": step, "steps_total": self.steps_total,
                                              "epoch": epoch, "epochs": self.plan["epochs"]})

    def snapshot(self, net, epoch: int, step: int) -> None:
        t0 = time.perf_counter()
        probs = net.logits(self.x_sub, threads=self.plan["threads"]) if len(self.x_sub) else None
        accuracy = float(np.mean(probs.argmax(axis=1) == self.y_sub)) if probs is not None else 0.0
        path = self.snap_dir / f"{step}.npz"
        write_atomic(path, {k: v.astype(np.float16) for k, v in net.params.items()})
        self.kept.append(step)
        if len(self.kept) > self.plan["snapshots"]:
            # drop every second one (never the first or the newest): the rest stay evenly spread
            drop = set(self.kept[1:-1:2])
            for old in drop:
                (self.snap_dir / f"{old}.npz").unlink(missing_ok=True)
            self.kept = [s for s in self.kept if s not in drop]
        weights = net.params[f"{self.layer}.weight"]
        data = {"step": step, "epoch": epoch, "layer": self.layer, "shape": list(weights.shape),
                "min": float(weights.min()), "max": float(weights.max()), "encoding": "float16",
                "data": f16(weights), "val_accuracy": round(accuracy, 6),
                "val_size": int(len(self.x_sub))}
        self.send("snapshot", data, snapshots=self.kept)
        self.last_snapshot = time.perf_counter()
        self.snapshot_cost = self.last_snapshot - t0

    def send(self, name: str, data: dict[str, Any], **columns: Any) -> None:
        """Hand an event to the writer thread: the training never waits for the database."""
        if self.cancelled:
            raise Cancelled
        if self.writer is None:
            self.writer = threading.Thread(target=self._write, daemon=True, name="run-events")
            self.writer.start()
        self.outbox.put((name, data, columns))

    def _write(self) -> None:
        """Write what is queued, a batch per transaction, until ``close``; a run that is no
        longer running (cancelled) sets ``cancelled`` and the training stops at its next step."""
        while True:
            items = [self.outbox.get()]
            while not self.outbox.empty():
                items.append(self.outbox.get_nowait())
            done = items[-1] is None
            batch = [item for item in items if item is not None]
            if batch and self.store.emit_many(self.run_id, batch) is None:
                self.cancelled = True
            if done:
                return

    def close(self) -> None:
        """Every event handed over is written (before the run's final state)."""
        if self.writer is not None:
            self.outbox.put(None)
            self.writer.join()
            self.writer = None


class Cancelled(Exception):
    """The run is no longer running in the database (cancelled): stop training."""


def write_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An npz written beside its final name, then renamed: never half-written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
                        config.batch_size)
    staging = Path(tempfile.mkdtemp(dir=run_dir, prefix=".model-"))
    try:
        config = replace(config, out_dir=str(staging))
        try:
            _, info = train(config, command=command_line(config, name), progress=False,
                            hook=reporter)
        finally:
            reporter.close()
        if reporter.cancelled:
            raise Cancelled
        load_checked(staging / f"{name}.json")  # exactly as shipped weights are checked
        os.replace(staging, run_dir / "model")
    except Cancelled:
        shutil.rmtree(staging, ignore_errors=True)
        return 0
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        store.finish(run_id, "failed", error=f"could not write the run's files: "
                                             f"{exc.strerror or exc}")
        return 0
    except (WeightsError, DatasetError, ValueError, MemoryError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        store.finish(run_id, "failed", error=f"training failed: {exc}")
        return 0
    except Exception as exc:  # any other fault is this run's failure, stated, not a traceback
        shutil.rmtree(staging, ignore_errors=True)
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
