"""The training queue of one server process: a light thread that starts queued runs as child
processes (at most ``max_runs`` across all workers, agreed through the database), reaps them,
stops cancelled ones, deletes the oldest finished runs, and at start fails runs that were running
under a server that is gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..config import Settings
from .store import Store, process_tag, tag_alive

TICK_SECONDS = 0.2
STOP_GRACE_SECONDS = 1.0
LOST = "the server stopped while the run was running"


class RunManager:
    """Spawns and watches the children this process owns; any worker may own any run."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.runs_dir = Path(settings.runs_dir)
        self.store = Store(self.runs_dir / "runs.db")
        self.tag = process_tag()
        self.children: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    # ----- life ------------------------------------------------------------------------------
    def start(self) -> None:
        """Fail the runs of servers that are gone, then start the queue thread (which also
        spawns the children: Linux ties their death signal to the thread that forked them)."""
        self.store.fail_lost(tag_alive, LOST)
        self.evict()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="cnnvis-runs")
        self.thread.start()

    def stop(self) -> None:
        """Stop every child of this process and mark its run failed (the server is stopping)."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        with self.lock:
            children = dict(self.children)
            self.children.clear()
        for run_id, child in children.items():
            self.store.finish(run_id, "failed", error=LOST)
            terminate(child)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.tick()
            self.wake.wait(TICK_SECONDS)
            self.wake.clear()

    def tick(self) -> None:
        """Reap finished children, stop cancelled ones, start queued runs if slots are free."""
        if self.stopping.is_set():
            return
        ended = False
        with self.lock:
            for run_id, child in list(self.children.items()):
                code = child.poll()
                if code is None:
                    row = self.store.get(run_id)
                    if row is None or row["status"] != "running":
                        terminate(child)  # cancelled (from any worker) or deleted
                        code = child.returncode
                if code is not None:
                    del self.children[run_id]
                    ended = True
                    self.store.finish(run_id, "failed", error=exit_reason(
                        code, self.runs_dir / run_id / "worker.log"))
            while self.settings.max_runs > 0:
                run = self.store.claim(self.tag, self.settings.max_runs)
                if run is None:
                    break
                self.children[run["id"]] = self.spawn(run["id"])
        if ended:
            self.evict()

    def spawn(self, run_id: str) -> subprocess.Popen:
        run_dir = self.runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        # BLAS threads match the run's batch threads, recorded in the manifest like the CLI's
        env = {**os.environ, "OPENBLAS_NUM_THREADS": str(self.settings.run_threads),
               "OMP_NUM_THREADS": str(self.settings.run_threads)}
        with open(run_dir / "worker.log", "ab") as log:
            child = subprocess.Popen([sys.executable, "-m", "app.runs.worker",
                                      str(self.runs_dir), run_id],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                     close_fds=True)
        self.store.set_pid(run_id, child.pid)
        return child

    # ----- requests --------------------------------------------------------------------------
    def nudge(self) -> None:
        """A run was queued: look at the queue now rather than at the next tick."""
        self.wake.set()

    def cancel(self, run_id: str) -> dict | None:
        """Cancel a queued or running run (its child stops within a tick); None if it had
        already ended."""
        run = self.store.finish(run_id, "cancelled", allowed=("queued", "running"))
        if run is not None:
            with self.lock:
                child = self.children.pop(run_id, None)
            if child is not None:
                terminate(child)
            self.wake.set()
        return run

    def delete(self, run_id: str) -> dict | None:
        """Delete a finished run with its files and model; None if it is not finished."""
        run = self.store.delete(run_id)
        if run is not None:
            shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)
        return run

    def evict(self) -> None:
        for run_id in self.store.evictable(self.settings.max_kept_runs):
            self.delete(run_id)


def terminate(child: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after a second; always reaped."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def exit_reason(code: int, log: Path) -> str:
    """Why a child ended without a final state, in words (with its last logged line)."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the training process was killed ({name})"
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    last = f": {lines[-1][:300]}" if lines else ""
    return f"the training process exited with code {code} before finishing{last}"
