"""Training runs against a live ``cnnvis serve`` (issue 15): a run streamed over real HTTP gives
bit-identical weights and history to ``cnnvis train`` with the same config, seed and threads;
no child outlives the server, stopped or killed, and the next start fails the lost run."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
from liveserver import wait_ready

from app.runs.manager import LOST
from app.runs.store import Store
from model.data import REPO_ROOT
from model.weights import read_npz

READY_WITHIN_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(weights_dir, runs_dir):
    """``cnnvis serve`` on tiny weights, training allowed: ``(url, process)`` once ready."""
    port = free_port()
    env = {**os.environ, "CNNVIS_WEIGHTS_DIR": str(weights_dir), "CNNVIS_RUNS_DIR": str(runs_dir),
           "CNNVIS_MAX_RUNS": "1", "CNNVIS_DEFAULT_MODEL": "tiny",
           "CNNVIS_MIN_SELF_TEST_ACCURACY": "0"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, READY_WITHIN_S, proc.stderr.read)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            proc.stderr.close()


def follow(url, run_id):
    """Every (id, event, data) of a run's stream over HTTP until its final event, reconnecting
    with Last-Event-ID when the server ends a connection first."""
    found, current = [], {}
    while not found or found[-1][1] not in ("done", "failed", "cancelled"):
        headers = {"Last-Event-ID": str(found[-1][0])} if found else {}
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", headers=headers,
                          timeout=120) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if not line:
                    if "event" in current:
                        found.append((int(current["id"]), current["event"],
                                      json.loads(current["data"])))
                    current = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    current[key] = value
    assert [seq for seq, _, _ in found] == list(range(1, len(found) + 1))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has ended too (its parent, the test's server, may not have reaped it yet)
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def running_child(url, runs_dir):
    """Start a long run and wait until its child trains: its pid."""
    run = httpx.post(f"{url}/api/runs", json={"arch": "simple_convnet", "epochs": 1}).json()
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/api/runs/{run['id']}").json()["progress"]["step"] == 0:
        assert time.monotonic() < deadline, "the run never started training"
        time.sleep(0.1)
    return run["id"], Store(runs_dir / "runs.db").get(run["id"])["pid"]


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_run_is_bit_identical_to_cnnvis_train(tiny_dir, tmp_path):
    runs_dir = tmp_path / "runs"
    config = {"arch": "lenet5", "epochs": 2, "train_size": 200, "batch_size": 50,
              "augment": True, "seed": 7, "lr": 0.002}
    with serving(tiny_dir, runs_dir) as (url, _):
        answer = httpx.post(f"{url}/api/runs", json=config)
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["id"]
        # a client that leaves the stream early does not disturb the run or the server
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", timeout=60) as stream:
            next(stream.iter_lines())
        stream = follow(url, run_id)
        assert stream[-1][1] == "done", stream[-1]
        run = stream[-1][2]
        assert [row["epoch"] for row in run["history"]] == [1, 2]
        assert httpx.get(f"{url}/healthz").status_code == 200
    folder = runs_dir / run_id / "model"
    manifest = json.loads((folder / f"{run['model']}.json").read_text())
    command = manifest["training"]["command"]
    assert command.startswith("cnnvis train --arch lenet5 --epochs 2 --batch-size 50")
    out = tmp_path / "cli"
    env = {**os.environ, **manifest["training"]["environment"]}
    subprocess.run([sys.executable, "-m", "app.cli", *shlex.split(command)[1:], "--quiet",
                    "--out-dir", str(out)], cwd=REPO_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    served = read_npz(folder / f"{run['model']}.npz")
    trained = read_npz(out / f"{run['model']}.npz")
    assert sorted(served) == sorted(trained)
    for key in served:
        assert np.array_equal(served[key], trained[key]), key
    cli = json.loads((out / f"{run['model']}.json").read_text())
    for row in (*manifest["history"], *cli["history"]):
        row.pop("seconds")
    assert manifest["history"] == cli["history"] == [
        {k: v for k, v in row.items() if k != "seconds"} for row in run["history"]]
    assert manifest["metrics"] == cli["metrics"]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_no_child_outlives_the_server_and_the_lost_run_fails(tiny_dir, tmp_path, stop):
    runs_dir = tmp_path / "runs"
    with serving(tiny_dir, runs_dir) as (url, server):
        run_id, pid = running_child(url, runs_dir)
        assert alive(pid)
        server.send_signal(stop)
        server.wait(timeout=20)
        assert gone_within(pid, 3.0), f"the training child {pid} outlived the server"
    with serving(tiny_dir, runs_dir) as (url, _):
        run = httpx.get(f"{url}/api/runs/{run_id}").json()
        assert run["status"] == "failed" and run["error"] == LOST
        assert follow(url, run_id)[-1][1] == "failed"
