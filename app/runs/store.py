"""The run registry in SQLite (standard library, write-ahead log): every server worker and every
training child opens the same ``runs.db``, so any worker can list, follow or cancel any run.
Writes that decide something (queue admission, claiming, final states) are one transaction."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .options import geometry

ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
PRIVATE = ("plan", "owner", "pid")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    plan TEXT NOT NULL,
    client TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    snapshots TEXT NOT NULL DEFAULT '[]',
    result TEXT,
    model TEXT,
    error TEXT,
    owner TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status, seq);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""


class QueueFull(RuntimeError):
    """No room for another run: ``retry_after`` seconds is a guess at when there will be."""

    def __init__(self, message: str, retry_after: int, per_client: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.per_client = per_client


def iso(seconds: float | None) -> str | None:
    """Unix seconds → ISO 8601 UTC with milliseconds and ``Z``."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def public(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it, without the server's bookkeeping (plan, owner, pid), with its
    network's ``input_shape`` and ``layers`` as ``/api/models`` has them (to draw it)."""
    shape = geometry(run["config"]["arch"])
    return {**{k: v for k, v in run.items() if k not in PRIVATE},
            "input_shape": shape["input_shape"], "layers": shape["layers"]}


def model_name(run_id: str) -> str:
    return f"run-{run_id}"


class Store:
    """One ``runs.db``; a short-lived connection per call, so it is safe from any thread."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA synchronous=NORMAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken at once (``BEGIN IMMEDIATE``): its reads decide its writes."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ----- reading -----------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            return self._run(db, run_id)

    def list(self) -> list[dict[str, Any]]:
        """Every run, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs ORDER BY seq DESC").fetchall()
            queued = [r["seq"] for r in rows if r["status"] == "queued"]
            return [self._decode(r, queued) for r in rows]

    def done(self) -> list[dict[str, Any]]:
        """The finished runs that are models, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs WHERE status = 'done' ORDER BY seq DESC")
            return [self._decode(r, []) for r in rows.fetchall()]

    def events(self, run_id: str, after: int, limit: int = 500) -> list[tuple[int, str, str]]:
        """``(id, name, data)`` of the run's events after id ``after``, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT seq, name, data FROM events WHERE run_id = ? AND seq > ? "
                              "ORDER BY seq LIMIT ?", (run_id, after, limit)).fetchall()
            return [(r[0], r[1], r[2]) for r in rows]

    def owned(self, owner: str) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM runs WHERE owner = ? AND status = 'running'",
                              (owner,)).fetchall()
            return [self._decode(r, []) for r in rows]

    # ----- the queue ---------------------------------------------------------------------------
    def create(self, run_id: str, config: dict[str, Any], plan: dict[str, Any], client: str,
               steps_total: int, limits: dict[str, int]) -> dict[str, Any]:
        """Queue a run, or raise QueueFull: ``limits`` has ``max_runs``, ``max_queued`` (runs
        waiting beyond the free slots) and ``per_client`` (queued or running per client)."""
        with self._write() as db:
            count = {status: n for status, n in db.execute(
                "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running') "
                "GROUP BY status")}
            running, queued = count.get("running", 0), count.get("queued", 0)
            eta = self._eta(db)
            mine = db.execute("SELECT COUNT(*) FROM runs WHERE client = ? AND status IN "
                              "('queued', 'running')", (client,)).fetchone()[0]
            if mine >= limits["per_client"]:
                raise QueueFull(f"you already have {mine} run(s) queued or running, the most "
                                f"one client may have (CNNVIS_MAX_RUNS_PER_CLIENT="
                                f"{limits['per_client']}); wait for one to end or cancel it",
                                eta, per_client=True)
            waiting = queued - max(limits["max_runs"] - running, 0)
            if waiting >= limits["max_queued"]:
                raise QueueFull(f"the training queue is full: {running} run(s) running and "
                                f"{queued} waiting (CNNVIS_MAX_QUEUED_RUNS="
                                f"{limits['max_queued']}); try again later", eta)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM runs").fetchone()[0]
            progress = {"step": 0, "steps_total": steps_total, "epoch": 0,
                        "epochs": config["epochs"]}
            db.execute("INSERT INTO runs (id, seq, status, config, plan, client, created, "
                       "progress) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                       (run_id, seq, json.dumps(config), json.dumps(plan), client, time.time(),
                        json.dumps(progress)))
            return self._run(db, run_id)

    @staticmethod
    def _eta(db: sqlite3.Connection) -> int:
        """Seconds until the running run that ends first is done (a Retry-After), 5 to 3600."""
        best = None
        for row in db.execute("SELECT progress, started FROM runs WHERE status = 'running'"):
            progress = json.loads(row["progress"])
            step, total = progress["step"], progress["steps_total"]
            if row["started"] and step:
                left = (time.time() - row["started"]) * (total - step) / step
                best = left if best is None else min(best, left)
        return int(min(max(best if best is not None else 30, 5), 3600))

    def claim(self, owner: str, max_runs: int) -> dict[str, Any] | None:
        """Mark the oldest queued run as running under ``owner`` if a slot is free."""
        with self._write() as db:
            running = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()
            if running[0] >= max_runs:
                return None
            row = db.execute("SELECT id FROM runs WHERE status = 'queued' ORDER BY seq "
                             "LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE runs SET status = 'running', started = ?, owner = ? WHERE id = ?",
                       (time.time(), owner, row["id"]))
            return self._run(db, row["id"])

    def set_pid(self, run_id: str, pid: int) -> None:
        with self._write() as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))

    # ----- while running (the child) -----------------------------------------------------------
    def emit(self, run_id: str, name: str, data: dict[str, Any],
             **columns: Any) -> int | None:
        """Append an event and update ``columns`` (JSON-encoded) while the run is still running;
        None once it is not (cancelled meanwhile): the child then stops."""
        return self.emit_many(run_id, [(name, data, columns)])

    def emit_many(self, run_id: str,
                  items: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> int | None:
        """Several ``(name, data, columns)`` in one transaction, as :meth:`emit`: the last
        event's id, or None once the run is not running."""
        with self._write() as db:
            status = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if status is None or status[0] != "running":
                return None
            seq = 0
            for name, data, columns in items:
                for key, value in columns.items():
                    db.execute(f"UPDATE runs SET {_column(key)} = ? WHERE id = ?",
                               (json.dumps(value), run_id))
                seq = self._append(db, run_id, name, data)
            return seq

    def finish(self, run_id: str, status: str, allowed: tuple[str, ...] = ("running",),
               **columns: Any) -> dict[str, Any] | None:
        """Move a run from one of ``allowed`` to the final ``status``, with ``columns`` set and
        the final event (the run object) appended; None if it was not in ``allowed``."""
        with self._write() as db:
            row = db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row[0] not in allowed:
                return None
            db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?",
                       (status, time.time(), run_id))
            for key, value in columns.items():
                encoded = value if key in ("model", "error") else json.dumps(value)
                db.execute(f"UPDATE runs SET {_column(key)} = ? WHERE id = ?",
                           (encoded, run_id))
            run = self._run(db, run_id)
            self._append(db, run_id, status, public(run))
            return run

    def fail_lost(self, alive: Callable[[str], bool], reason: str) -> list[str]:
        """Mark running runs whose owner process is gone as failed with ``reason``."""
        lost = []
        with self._connect() as db:
            rows = db.execute("SELECT id, owner FROM runs WHERE status = 'running'").fetchall()
        for row in rows:
            if not alive(row["owner"] or "") and self.finish(row["id"], "failed",
                                                              error=reason) is not None:
                lost.append(row["id"])
        return lost

    def delete(self, run_id: str) -> dict[str, Any] | None:
        """Remove a finished run and its events; None if it is not finished (or unknown)."""
        with self._write() as db:
            run = self._run(db, run_id)
            if run is None or run["status"] not in FINAL:
                return None
            db.execute("DELETE FROM events WHERE run_id = ?", (run_id,))
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            return run

    def evictable(self, keep: int) -> list[str]:
        """Finished runs beyond the newest ``keep``, oldest last."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM runs WHERE status IN ('done', 'failed', "
                              "'cancelled') ORDER BY seq DESC LIMIT -1 OFFSET ?", (keep,))
            return [r[0] for r in rows.fetchall()]

    # ----- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _append(db: sqlite3.Connection, run_id: str, name: str, data: dict[str, Any]) -> int:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE run_id = ?",
                         (run_id,)).fetchone()[0]
        db.execute("INSERT INTO events (run_id, seq, name, data) VALUES (?, ?, ?, ?)",
                   (run_id, seq, name, json.dumps(data, separators=(",", ":"))))
        return int(seq)

    def _run(self, db: sqlite3.Connection, run_id: str) -> dict[str, Any] | None:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        queued = []
        if row["status"] == "queued":
            queued = [r[0] for r in db.execute("SELECT seq FROM runs WHERE status = 'queued'")]
        return self._decode(row, queued)

    @staticmethod
    def _decode(row: sqlite3.Row, queued_seqs: list[int]) -> dict[str, Any]:
        """A row as the API's run object (plus ``plan``, ``owner`` and ``pid`` for the server)."""
        status = row["status"]
        return {
            "id": row["id"], "status": status,
            "position": (sum(1 for s in queued_seqs if s < row["seq"])
                         if status == "queued" else None),
            "config": json.loads(row["config"]),
            "created": iso(row["created"]), "started": iso(row["started"]),
            "finished": iso(row["finished"]),
            "progress": json.loads(row["progress"]), "history": json.loads(row["history"]),
            "result": json.loads(row["result"]) if row["result"] else None,
            "model": row["model"], "error": row["error"],
            "snapshots": json.loads(row["snapshots"]),
            "plan": json.loads(row["plan"]), "owner": row["owner"], "pid": row["pid"],
        }


_COLUMNS = ("progress", "history", "snapshots", "result", "model", "error")


def _column(name: str) -> str:
    if name not in _COLUMNS:
        raise ValueError(f"no run column {name!r}")
    return name


def process_tag(pid: int | None = None) -> str:
    """``pid:start time`` of a process (this one by default), or ``""`` if it is gone: unlike a
    bare pid, never the same for a later process that reuses the number."""
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except (OSError, ValueError):
            return ""
        return f"{pid}:"
    return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"


def tag_alive(tag: str) -> bool:
    """Whether the process a ``process_tag`` names still runs."""
    pid = tag.split(":", 1)[0]
    return pid.isdigit() and process_tag(int(pid)) == tag
