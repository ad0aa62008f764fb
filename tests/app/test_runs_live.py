"""Training runs against a live ``cnnvis serve`` (issue 15): two workers share one view of the
runs (a run created through one is listed, streamed and deleted through either); a run streamed
over real HTTP gives bit-identical weights and history to ``cnnvis train`` with the same config,
seed and threads; no child outlives the server, stopped or killed, and the next start fails the
lost run."""

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

READY_WITHIN_S = 120  # two workers on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(weights_dir, runs_dir, *args):
    """``cnnvis serve ARGS`` on tiny weights, training allowed: ``(url, process)`` once ready.
    Its output goes to a file beside the runs (a pipe nobody reads could fill and stall it)."""
    port = free_port()
    env = {**os.environ, "CNNVIS_WEIGHTS_DIR": str(weights_dir), "CNNVIS_RUNS_DIR": str(runs_dir),
           "CNNVIS_MAX_RUNS": "1", "CNNVIS_DEFAULT_MODEL": "tiny",
           "CNNVIS_MIN_SELF_TEST_ACCURACY": "0",
           "CNNVIS_RUN_UNITS": "0"}  # a run's units file is tested in test_runs.py
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = runs_dir.parent / f"serve-{port}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                                 *args], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, READY_WITHIN_S, log.read_text)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=20)


def worker_pids(server_pid: int, count: int) -> set[int]:
    """The ``count`` worker processes of a ``cnnvis serve --workers`` (its children that
    multiprocessing spawned to run uvicorn, not its resource tracker)."""
    deadline = time.monotonic() + 30
    while True:
        with open(f"/proc/{server_pid}/task/{server_pid}/children") as f:
            children = [int(p) for p in f.read().split()]
        pids = set()
        for pid in children:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    pids.add(pid)
        if len(pids) >= count:
            assert len(pids) == count, pids
            return pids
        assert time.monotonic() < deadline, f"workers: {pids}"
        time.sleep(0.1)


def served_by(response: httpx.Response, pids: set[int]) -> int:
    """Which of ``pids`` holds the server end of the response's connection (Linux /proc)."""
    port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if int(cols[2].rsplit(":", 1)[1], 16) == port:  # its remote end is our socket
                    inodes.add(f"socket:[{cols[9]}]")
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue  # that worker is gone (the failure below says so)
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {port}")


@contextmanager
def on_worker(method, url, pid, pids, **kwargs):
    """A request answered by worker ``pid``: fresh connections until that one takes it (kept
    alive, so the worker still holds its end when it is looked for)."""
    headers = kwargs.pop("headers", {})
    for _ in range(200):
        with httpx.stream(method, url, headers=headers, timeout=120, **kwargs) as response:
            if served_by(response, pids) == pid:
                yield response
                return
    raise AssertionError(f"worker {pid} never took a connection")


def follow(url, run_id, worker=None):
    """Every (id, event, data) of a run's stream over HTTP until its final event, reconnecting
    with Last-Event-ID when the server ends a connection first; ``worker``: ``(pid, pids)`` to
    have every connection served by that worker."""
    found, current = [], {}
    while not found or found[-1][1] not in ("done", "failed", "cancelled"):
        headers = {"Last-Event-ID": str(found[-1][0])} if found else {}
        path = f"{url}/api/runs/{run_id}/events"
        opened = (on_worker("GET", path, *worker, headers=headers) if worker
                  else httpx.stream("GET", path, headers=headers, timeout=120))
        with opened as stream:
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


def test_two_workers_share_the_runs_and_a_run_is_bit_identical_to_cnnvis_train(tiny_dir,
                                                                                tmp_path):
    runs_dir = tmp_path / "runs"
    config = {"arch": "lenet5", "epochs": 2, "train_size": 200, "batch_size": 50,
              "augment": True, "seed": 7, "lr": 0.002}
    with serving(tiny_dir, runs_dir, "--workers", "2") as (url, server):
        pids = worker_pids(server.pid, 2)
        with httpx.stream("POST", f"{url}/api/runs", json=config, timeout=60) as answer:
            creator = served_by(answer, pids)
            answer.read()
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["id"]
        (other,) = pids - {creator}
        for pid in pids:  # either worker lists it
            with on_worker("GET", f"{url}/api/runs", pid, pids) as listed:
                assert [r["id"] for r in json.loads(listed.read())["runs"]] == [run_id]
        # a client that leaves the stream early does not disturb the run or the server
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", timeout=60) as stream:
            next(stream.iter_lines())
        # each worker streams the whole run, whichever one's child trains it
        stream = follow(url, run_id, (other, pids))
        assert follow(url, run_id, (creator, pids)) == stream
        assert stream[-1][1] == "done", stream[-1]
        run = stream[-1][2]
        assert [row["epoch"] for row in run["history"]] == [1, 2]
        assert httpx.get(f"{url}/healthz").status_code == 200
        for pid in pids:  # the finished run is a model in either worker
            with on_worker("GET", f"{url}/api/models/{run['model']}", pid, pids) as model:
                model.read()
                assert model.status_code == 200 and model.json()["run"]["id"] == run_id
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
