"""A training run's events (issue 15), made inside its child process: progress from a timer
thread (so every gap is bounded, also through evaluation and saving) that also writes every event
(files and database off the training thread), first-layer snapshots from the trainer's hook."""

from __future__ import annotations

import base64
import os
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# Snapshots are spaced so that computing them takes at most this share of the training time
# (the validation subset's forward pass and a copy of the weights, on the training thread).
SNAPSHOT_SHARE = 0.04


def f16(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f2").tobytes()).decode()


class Cancelled(Exception):
    """The run is no longer running in the database (cancelled): stop training."""


class Reporter:
    """The trainer's hook and the run's event source.

    - ``progress`` every ``progress_seconds`` from a timer thread, whatever the trainer is doing
      (``phase``: loading, training, evaluating, saving); loss and batch accuracy are the means
      over the steps since the previous event.
    - ``snapshot`` (first conv layer, accuracy on a fixed validation subset) at most
      ``snapshot_seconds`` apart, further apart if they would cost more than ``SNAPSHOT_SHARE``
      of the training; step 0 and the last step always have one. Its weights are kept as float16
      files, at most ``snapshots`` of them, thinned evenly.
    - ``epoch``: each epoch's history row.

    The training thread only measures, copies and queues; one events thread wakes every
    ``progress_seconds``, makes the progress event and writes everything queued: the snapshots'
    files, then one database transaction (one thread, so the training gives up the GIL as
    rarely as it can). A write that fails (a full disk) stops the training at its next hook call
    with that error; a run cancelled in the database, likewise with ``Cancelled``.
    """

    def __init__(self, store: Any, run_id: str, run_dir: Path, plan: dict[str, Any],
                 batch_size: int, steps_total: int = 0):
        self.store, self.run_id, self.plan = store, run_id, plan
        self.snap_dir = run_dir / "snapshots"
        self.snap_dir.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.steps_total = steps_total
        self.kept: list[int] = []  # the events thread's
        self.history: list[dict[str, Any]] = []
        self.cancelled = False
        self.error: BaseException | None = None
        self.spent = 0.0  # seconds inside the hook: what streaming costs the training
        # what the timer reports, guarded by ``lock``
        self.lock = threading.Lock()
        self.step = self.epoch = 0
        self.phase = "loading"
        self.window = [0.0, 0, 0]  # loss sum, correct, seen since the last progress event
        self.last_mean: tuple[float, float] | None = None
        self.started = time.perf_counter()
        self.step_time = time.time()
        self.train_started: float | None = None
        self.outbox: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.timer: threading.Thread | None = None

    # ----- the trainer's hook ----------------------------------------------------------------
    def __call__(self, event: str, fields: dict[str, Any]) -> None:
        self.check()
        t0 = time.perf_counter()
        getattr(self, "on_" + event)(**fields)
        self.spent += time.perf_counter() - t0

    def check(self) -> None:
        """Raise what stops the run: a failed write, or its cancellation."""
        if self.error is not None:
            raise self.error
        if self.cancelled:
            raise Cancelled

    def on_start(self, net, steps_total: int, x_val: np.ndarray, y_val: np.ndarray) -> None:
        n = min(self.plan["val_subset"], len(x_val))
        self.x_sub, self.y_sub = np.ascontiguousarray(x_val[:n]), y_val[:n]
        self.layer = next((name for name, layer in net.layers if layer.kind == "conv"),
                          net.layers[0][0])
        self.snapshot_cost = 0.0
        self.snapshot(net, 0, 0)
        with self.lock:
            self.steps_total = steps_total
            self.phase = "training"
            self.train_started = time.perf_counter()

    def on_step(self, net, epoch: int, step: int, loss: float, correct: int, seen: int) -> None:
        with self.lock:
            self.step, self.epoch, self.phase = step, epoch, "training"
            self.step_time = time.time()
            self.window[0] += loss * seen
            self.window[1] += correct
            self.window[2] += seen
        last = step == self.steps_total
        if last:
            self.progress()  # the end of training at once, not at the next tick
        gap = max(self.plan["snapshot_seconds"], self.snapshot_cost / SNAPSHOT_SHARE)
        if last or time.perf_counter() - self.last_snapshot >= gap:
            self.snapshot(net, epoch, step)

    def on_evaluate(self) -> None:
        with self.lock:
            self.phase = "evaluating"

    def on_epoch(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        self.send("epoch", row, history=self.history)

    def saving(self) -> None:
        """Training is over; the run's files are being written and checked."""
        with self.lock:
            self.phase = "saving"

    # ----- events ------------------------------------------------------------------------------
    def start_timer(self) -> None:
        """Progress (and every queued event written) each ``progress_seconds`` until ``close``."""
        self.timer = threading.Thread(target=self._tick, daemon=True, name="run-events")
        self.timer.start()

    def _tick(self) -> None:
        while not self.stopping.wait(self.plan["progress_seconds"]):
            if self.cancelled or self.error is not None:
                return
            self.progress()
            self.flush()

    def progress(self) -> None:
        """A progress event for the latest step (from the timer, or the training at its end)."""
        with self.lock:
            loss_sum, correct, seen = self.window
            self.window = [0.0, 0, 0]
            step, epoch, phase, step_time = self.step, self.epoch, self.phase, self.step_time
            steps_total = self.steps_total
            train_started = self.train_started
        if seen:
            self.last_mean = (round(loss_sum / seen, 6), round(correct / seen, 6))
        loss, accuracy = self.last_mean or (None, None)
        elapsed = time.perf_counter() - train_started if train_started else 0.0
        rate = step * self.batch_size / elapsed if step and elapsed > 0 else 0.0
        eta = round(elapsed * (steps_total - step) / step, 1) if step else None
        data = {"step": step, "steps_total": steps_total, "epoch": epoch, "phase": phase,
                "loss": loss, "batch_accuracy": accuracy, "images_per_second": round(rate, 1),
                "eta_seconds": eta, "time": round(step_time, 3), "sent": round(time.time(), 3)}
        self.send("progress", data, progress={"step": step, "steps_total": steps_total,
                                              "epoch": epoch, "epochs": self.plan["epochs"]})

    def snapshot(self, net, epoch: int, step: int) -> None:
        """Score the subset and copy the weights; the events thread does the rest."""
        t0 = time.perf_counter()
        accuracy = 0.0
        if len(self.x_sub):  # one chunk, the fused inference pass
            logits = net.logits(self.x_sub, batch_size=len(self.x_sub))
            accuracy = float(np.mean(logits.argmax(axis=1) == self.y_sub))
        params = {k: v.copy() for k, v in net.params.items()}
        weights = params[f"{self.layer}.weight"]
        data = {"step": step, "epoch": epoch, "layer": self.layer, "shape": list(weights.shape),
                "min": float(weights.min()), "max": float(weights.max()), "encoding": "float16",
                "data": f16(weights), "val_accuracy": round(accuracy, 6),
                "val_size": int(len(self.x_sub))}
        self.send("snapshot", data, weights=(step, params))
        self.last_snapshot = time.perf_counter()
        self.snapshot_cost = self.last_snapshot - t0

    def send(self, name: str, data: dict[str, Any], **columns: Any) -> None:
        """Queue an event for the events thread: the training never waits for the disk."""
        self.check()
        self.outbox.put((name, data, columns))

    # ----- writing -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what is queued: snapshot files, then one transaction (the events thread's, or
        the caller's once that thread has stopped)."""
        batch = []
        try:
            while not self.outbox.empty():
                name, data, columns = self.outbox.get_nowait()
                if "weights" in columns:
                    columns = {"snapshots": self._keep(*columns["weights"])}
                batch.append((name, data, columns))
            if batch and self.store.emit_many(self.run_id, batch) is None:
                self.cancelled = True
        except BaseException as exc:  # the training stops with it at its next step
            self.error = exc

    def _keep(self, step: int, params: dict[str, np.ndarray]) -> list[int]:
        """Write the snapshot's weights (float16); thin the kept ones to ``snapshots``."""
        write_atomic(self.snap_dir / f"{step}.npz",
                     {k: v.astype(np.float16) for k, v in params.items()})
        if not self.kept or self.kept[-1] != step:
            self.kept.append(step)
        if len(self.kept) > self.plan["snapshots"]:
            # drop every second one (never the first or the newest): the rest stay evenly spread
            drop = set(self.kept[1:-1:2])
            for old in drop:
                (self.snap_dir / f"{old}.npz").unlink(missing_ok=True)
            self.kept = [s for s in self.kept if s not in drop]
        return list(self.kept)

    def close(self) -> None:
        """Stop the events thread; every event queued is written (before the run's final
        state), unless writing has failed or the run was cancelled."""
        self.stopping.set()
        if self.timer is not None:
            self.timer.join()
            self.timer = None
        self.stopping.clear()
        if self.error is None and not self.cancelled:
            self.flush()


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
