"""Training runs through the API in process (issue 15), each a real child process training on
the shipped MNIST with tiny sizes (200 images, one epoch): the run object, the event stream and
its resume, finished runs as models, limits and faults, and no process outliving its run."""

import base64
import errno
import json
import os
import signal
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.routers import runs as runs_router
from app.runs import reporter as events_module
from app.runs import worker
from app.runs.manager import LOST, exit_reason
from app.runs.options import VAL_SUBSET
from app.runs.store import Store, model_name
from model.networks import ARCH_INFO, build
from model.optim import OPTIMIZERS
from model.weights import load_checked

TINY_RUN = {"arch": "simple_convnet", "train_size": 200, "epochs": 1}
FINAL = ("done", "failed", "cancelled")
PIXELS = [[1.0 if 4 <= r <= 23 and 13 <= c <= 15 else 0.0 for c in range(28)]
          for r in range(28)]


def settings_for(tiny_dir, runs_dir, **overrides):
    values = {"weights_dir": tiny_dir, "default_model": "tiny", "min_self_test_accuracy": 0.0,
              "runs_dir": runs_dir, "max_runs": 1, "max_queued_runs": 4,
              "max_runs_per_client": 10, "run_units": False, **overrides}
    return Settings(**values)


@pytest.fixture
def runs_client(tiny_dir, tmp_path):
    # units on: the one finished run here is also checked for its units file
    settings = settings_for(tiny_dir, tmp_path / "runs", run_units=True)
    with TestClient(create_app(settings)) as client:
        yield client


def read_stream(client, run_id, last_id=None):
    """The (id, name, data) events of one connection to a run's stream, until it ends."""
    headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
    found, current = [], {}
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as stream:
        assert stream.status_code == 200
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
    return found


def events(client, run_id, last_id=None):
    """Every event of a run's stream until its final one, reconnecting with Last-Event-ID
    whenever the server ends a connection first (as EventSource does)."""
    found, deadline = [], time.monotonic() + 300  # a busy machine: training, then the units
    while not found or found[-1][1] not in FINAL:
        assert time.monotonic() < deadline, f"run {run_id} did not end: {found[-1:]}"
        found += read_stream(client, run_id, found[-1][0] if found else last_id)
    return found


def start(client, **config):
    answer = client.post("/api/runs", json={**TINY_RUN, **config})
    assert answer.status_code == 202, answer.text
    return answer.json()


def wait_for(client, run_id, check, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if check(run):
            return run
        time.sleep(0.05)
    pytest.fail(f"run {run_id} never got there: {run}")


def pid_of(runs_dir, run_id):
    return Store(runs_dir / "runs.db").get(run_id)["pid"]


def gone(pid, seconds=3.0):
    """Whether process ``pid`` has ended (and been reaped) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def test_a_run_trains_streams_and_becomes_a_model(runs_client, tiny_dir, tmp_path,
                                                   monkeypatch):
    client = runs_client
    monkeypatch.setattr(runs_router, "STREAM_SECONDS", 0.3)  # many reconnections, no loss
    created = start(client, seed=3)
    assert created["status"] in ("queued", "running") and created["config"] == {
        **TINY_RUN, "batch_size": 100, "optimizer": "adam", "lr": 0.001, "augment": False,
        "seed": 3, "dataset": "mnist"}
    assert created["progress"] == {"step": 0, "steps_total": 2, "epoch": 0, "epochs": 1}
    # drawn like a shipped model: the run carries its network's input and layers
    shipped = client.get("/api/models/tiny").json()
    built = build("simple_convnet")
    assert created["input_shape"] == list(built.input_shape) == shipped["input_shape"]
    assert created["layers"] == built.describe()
    assert [layer["name"] for layer in created["layers"]][:2] == ["conv1", "relu1"]
    stream = events(client, created["id"])
    ids = [seq for seq, _, _ in stream]
    names = [name for _, name, _ in stream]
    assert ids == list(range(1, len(ids) + 1))
    assert names[-1] == "done" and sum(n in FINAL for n in names) == 1
    assert {"progress", "snapshot", "epoch"} <= set(names)
    first_snapshot = next(data for _, name, data in stream if name == "snapshot")
    assert first_snapshot["step"] == 0 and first_snapshot["shape"] == [30, 1, 5, 5]
    assert first_snapshot["encoding"] == "float16" and first_snapshot["val_size"] == VAL_SUBSET
    progress = [data for _, name, data in stream if name == "progress"]
    assert progress[-1]["step"] == 2 and progress[-1]["eta_seconds"] == 0
    last_step = next(p for p in progress if p["step"] == 2)
    assert last_step["phase"] == "training"
    assert set(progress[-1]) == {"step", "steps_total", "epoch", "phase", "loss",
                                 "batch_accuracy", "images_per_second", "eta_seconds", "time",
                                 "sent"}
    assert [p["phase"] for p in progress][-1] in ("evaluating", "saving")

    run = client.get(f"/api/runs/{created['id']}").json()
    assert stream[-1][2] == run and run["status"] == "done" and run["error"] is None
    assert run["model"] == model_name(run["id"]) and run["position"] is None
    assert run["history"][0]["epoch"] == 1 and set(run["result"]) == {
        "val_accuracy", "test_accuracy", "selected_epoch"}
    assert run["snapshots"][0] == 0 and run["snapshots"][-1] == 2
    assert client.get("/api/runs").json()["runs"][0] == run

    # a late subscriber gets the same history; Last-Event-ID resumes after that event
    assert events(client, run["id"]) == stream
    assert events(client, run["id"], last_id=2) == stream[2:]

    # the run is a model: listed (marked), and usable everywhere a model is named
    listed = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert listed[run["model"]]["run"] == {"id": run["id"], "config": run["config"],
                                           "history": run["history"], "result": run["result"]}
    assert listed["tiny"]["run"] is None
    manifest = tmp_path / "runs" / run["id"] / "model" / f"{run['model']}.json"
    net, saved, initial = load_checked(manifest)  # validated like shipped weights
    assert saved["training"]["train_size"] == 200 and "conv1.weight" in initial
    answer = client.post("/api/predict", json={"pixels": PIXELS, "model": run["model"]}).json()
    probs = net.predict(np.array(PIXELS, np.float32)[None, None])[0]
    assert np.allclose(answer["probabilities"], probs, atol=1e-5)
    for path, body in (("/api/activations", {}), ("/api/explain", {"method": "saliency"})):
        assert client.post(path, json={"pixels": PIXELS, "model": run["model"],
                                       **body}).status_code == 200
    compared = client.post("/api/compare", json={"pixels": PIXELS}).json()["results"]
    assert run["model"] in [r["model"] for r in compared]
    filters = client.get(f"/api/models/{run['model']}/filters?state=initial").json()
    assert filters["state"] == "initial" and filters["shape"] == [30, 1, 5, 5]
    assert client.get(f"/api/models/{run['model']}").json()["history"] == run["history"]
    # what its units mean, made by the run's child as `cnnvis units` makes it (issue 16)
    assert listed[run["model"]]["has_units"] is True and saved["units"]["file"].endswith(
        ".units.npz")
    top = client.get(f"/api/models/{run['model']}/units/conv1/0").json()["top"]
    assert len(top) == 9 and top[0]["score"] >= top[-1]["score"]
    # its nearest training digits and data map, made by the child as `cnnvis neighbors` (issue 17)
    assert saved["neighbors"]["file"].endswith(".neighbors.npz")
    near = client.post("/api/neighbors", json={"pixels": PIXELS, "model": run["model"]}).json()
    assert len(near["neighbors"]) == 9 and near["threshold"] > 0
    assert client.get(f"/api/models/{run['model']}/map").json()["count"] == 10_000

    # activations under a snapshot: the latest kept at or before the step asked (snapshots are
    # kept by time as well as by step, so a slow machine may also keep step 1)
    kept_by_1 = max(step for step in run["snapshots"] if step <= 1)
    at_start = client.post(f"/api/runs/{run['id']}/activations",
                           json={"pixels": PIXELS, "step": 0}).json()
    at_1 = client.post(f"/api/runs/{run['id']}/activations",
                       json={"pixels": PIXELS, "step": 1}).json()
    at_end = client.post(f"/api/runs/{run['id']}/activations",
                         json={"pixels": PIXELS, "step": 2}).json()
    assert (at_start["step"], at_1["step"], at_end["step"]) == (0, kept_by_1, 2)
    assert at_start["probabilities"] != at_end["probabilities"]
    assert [layer["name"] for layer in at_end["layers"]][:2] == ["input", "conv1"]
    # one parameter under a snapshot's weights (the Train view's connections and unit panel)
    param = client.get(f"/api/runs/{run['id']}/params/conv1.weight?step=1").json()
    assert param["step"] == kept_by_1 and param["shape"] == [30, 1, 5, 5]
    values = np.frombuffer(base64.b64decode(param["data"]), "<f2").reshape(30, 1, 5, 5)
    with np.load(tmp_path / "runs" / run["id"] / "snapshots" / f"{kept_by_1}.npz") as kept:
        assert np.array_equal(values, kept["conv1.weight"])
    assert client.get(f"/api/runs/{run['id']}/params/conv9.weight?step=2").status_code == 404

    # the child has ended; the run and its model outlive the server (another one, or a
    # restarted one, on the same runs directory sees them)
    assert gone(pid_of(tmp_path / "runs", run["id"]))
    with TestClient(create_app(settings_for(tiny_dir, tmp_path / "runs"))) as again:
        assert again.get(f"/api/runs/{run['id']}").json() == run
        later = again.post("/api/predict", json={"pixels": PIXELS, "model": run["model"]})
        assert later.json()["probabilities"] == answer["probabilities"]
        check_deleted(again, tmp_path, run)


def check_deleted(client, tmp_path, run):
    """Deleting a finished run deletes its files and model: 404 everywhere after."""
    assert client.delete(f"/api/runs/{run['id']}").json()["status"] == "done"
    assert not (tmp_path / "runs" / run["id"]).exists()
    for method, path, body in (("GET", f"/api/runs/{run['id']}", None),
                               ("GET", f"/api/runs/{run['id']}/events", None),
                               ("DELETE", f"/api/runs/{run['id']}", None),
                               ("GET", f"/api/models/{run['model']}", None),
                               ("POST", "/api/predict", {"pixels": PIXELS,
                                                         "model": run["model"]})):
        answer = client.request(method, path, json=body)
        assert answer.status_code == 404, (path, answer.text)
    assert "exists only while its run is kept" in answer.json()["detail"]


def test_the_options_list_every_architecture_and_the_limits(tiny_dir, tmp_path):
    """GET /api/runs/options: the registry, the request's defaults and this server's limits;
    one step beyond each limit is refused."""
    with TestClient(create_app(settings_for(tiny_dir, tmp_path, max_runs=0,
                                            max_run_epochs=7, max_run_params=400_000))) as c:
        options = c.get("/api/runs/options").json()
        assert options["training"] is False
        archs = {a["arch"]: a for a in options["architectures"]}
        assert list(archs) == list(ARCH_INFO)
        for name, entry in archs.items():
            net = build(name)
            assert entry["param_count"] == net.param_count()
            assert entry["layers"] == net.describe()
            assert entry["input_shape"] == list(net.input_shape)
            assert entry["trainable"] == (net.param_count() <= 400_000)
            assert (entry["reason"] is None) == entry["trainable"]
        assert not archs["simple_convnet"]["trainable"]  # 433,890 parameters
        assert "CNNVIS_MAX_RUN_PARAMS=400,000" in archs["simple_convnet"]["reason"]
        assert [o["name"] for o in options["optimizers"]] == list(OPTIMIZERS)
        assert options["limits"]["epochs"] == {"min": 1, "max": 7}
        assert isinstance(options["limits"]["epochs"]["max"], int)
        assert options["limits"]["train_size"]["max"] == 55_000
        assert options["defaults"] == {"epochs": 1, "batch_size": 100, "optimizer": "adam",
                                       "lr": 0.001, "train_size": 55_000, "augment": False,
                                       "seed": 0}
    with TestClient(create_app(settings_for(tiny_dir, tmp_path, max_run_epochs=7))) as c:
        limits = c.get("/api/runs/options").json()["limits"]
        for field, bound in (("epochs", "max"), ("train_size", "max"), ("batch_size", "max"),
                             ("seed", "max"), ("epochs", "min")):
            beyond = limits[field][bound] + (1 if bound == "max" else -1)
            answer = c.post("/api/runs", json={**TINY_RUN, field: beyond, "train_size": 55_000,
                                               **({"train_size": beyond}
                                                  if field == "train_size" else {})})
            assert answer.status_code == 422, (field, beyond, answer.text)
        assert c.post("/api/runs", json={"arch": "lenet5",
                                         "lr": limits["lr"]["max"] * 2}).status_code == 422


@pytest.mark.parametrize("body, words", [
    ({"arch": "resnet"}, "unknown architecture 'resnet'; registered: "),
    ({**TINY_RUN, "epochs": 21}, "CNNVIS_MAX_RUN_EPOCHS=20"),
    ({**TINY_RUN, "epochs": 0}, "epochs"),
    ({**TINY_RUN, "train_size": 55001}, "train_size"),
    ({**TINY_RUN, "lr": 0}, "lr"),
    ({**TINY_RUN, "optimizer": "rmsprop"}, "optimizer"),
    ({**TINY_RUN, "batch_size": 300}, "more than train_size (200)"),
    ({**TINY_RUN, "colour": "red"}, "unexpected field 'colour'"),
    ({"epochs": 1}, "'arch' is required"),
])
def test_bad_run_requests_are_422(runs_client, body, words):
    answer = runs_client.post("/api/runs", json=body)
    assert answer.status_code == 422 and words in answer.json()["detail"], answer.text


def test_the_largest_network_is_a_setting(tiny_dir, tmp_path):
    settings = settings_for(tiny_dir, tmp_path, max_run_params=100_000)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/runs", json={"arch": "simple_convnet"})
        assert answer.status_code == 422
        assert "433,890 parameters" in answer.json()["detail"]


def test_unknown_runs_are_404(runs_client):
    for method, path, body in (("GET", "/api/runs/nope", None),
                               ("GET", "/api/runs/nope/events", None),
                               ("DELETE", "/api/runs/nope", None),
                               ("POST", "/api/runs/nope/activations",
                                {"pixels": PIXELS, "step": 0})):
        answer = runs_client.request(method, path, json=body)
        assert answer.status_code == 404 and "no run 'nope'" in answer.json()["detail"]


def test_queue_limits_cancel_and_no_leftover_process(tiny_dir, tmp_path):
    settings = settings_for(tiny_dir, tmp_path, max_queued_runs=1, max_runs_per_client=2)
    with TestClient(create_app(settings)) as client:
        running = start(client, train_size=55000)
        queued = start(client)
        assert queued["status"] == "queued" and queued["position"] == 0
        per_client = client.post("/api/runs", json=TINY_RUN)
        assert per_client.status_code == 429 and int(per_client.headers["Retry-After"]) >= 1
        assert "CNNVIS_MAX_RUNS_PER_CLIENT=2" in per_client.json()["detail"]
        run = wait_for(client, running["id"], lambda r: r["progress"]["step"] > 0)
        pid = pid_of(tmp_path, run["id"])

        # the queue is full for everyone once the per-client cap is not what stops them
        with TestClient(create_app(settings_for(tiny_dir, tmp_path, max_queued_runs=1))) as other:
            full = other.post("/api/runs", json=TINY_RUN)
            assert full.status_code == 503 and int(full.headers["Retry-After"]) >= 1
            assert "queue is full" in full.json()["detail"]

        # cancelling a queued run ends its stream; cancelling a running one stops its process
        assert client.delete(f"/api/runs/{queued['id']}").json()["status"] == "cancelled"
        assert [name for _, name, _ in events(client, queued["id"])] == ["cancelled"]
        t0 = time.monotonic()
        assert client.delete(f"/api/runs/{run['id']}").json()["status"] == "cancelled"
        # SIGTERM, then SIGKILL after a second; the slack is for a loaded test machine
        assert gone(pid, 3.0), "the cancelled run's process still runs"
        assert time.monotonic() - t0 < 3.0
        names = [name for _, name, _ in events(client, run["id"])]
        assert names[-1] == "cancelled" and names.count("cancelled") == 1
        assert not list((tmp_path / run["id"]).glob("model*"))


def test_a_killed_child_fails_its_run_and_the_server_keeps_serving(runs_client, tmp_path):
    run = start(runs_client, train_size=55000)
    run = wait_for(runs_client, run["id"], lambda r: r["progress"]["step"] > 0)
    os.kill(pid_of(tmp_path / "runs", run["id"]), signal.SIGKILL)
    final = events(runs_client, run["id"])[-1]
    assert final[1] == "failed" and final[2]["error"] == "the training process was killed (SIGKILL)"
    assert runs_client.get("/healthz").status_code == 200
    assert runs_client.post("/api/predict", json={"pixels": PIXELS}).status_code == 200


CONFIG = {**TINY_RUN, "batch_size": 100, "optimizer": "adam", "lr": 0.001, "augment": False,
          "seed": 0, "dataset": "mnist"}
ROOM = {"max_runs": 5, "max_queued": 5, "per_client": 5}


def test_lost_runs_fail_at_the_next_start_and_old_runs_are_evicted(tiny_dir, tmp_path):
    store = Store(tmp_path / "runs.db")
    for i in range(3):  # three finished runs, oldest first (no training needed for these)
        store.create(f"{i:012x}", CONFIG, {}, "x", 2, ROOM)
        store.claim("gone:1", max_runs=5)
        store.finish(f"{i:012x}", "cancelled")
        (tmp_path / f"{i:012x}").mkdir()
    # a run left "running" by a server that died without stopping it, and one still queued
    lost = store.create("0123456789ab", CONFIG, {}, "x", 2, ROOM)
    store.claim("999999999:1", max_runs=5)
    waiting = store.create("ba9876543210", CONFIG, {}, "x", 2, ROOM)
    settings = settings_for(tiny_dir, tmp_path, max_kept_runs=2, max_runs=0)
    with TestClient(create_app(settings)) as client:
        again = client.get(f"/api/runs/{lost['id']}").json()
        assert again["status"] == "failed" and again["error"] == LOST
        assert events(client, lost["id"])[-1][1:] == ("failed", again)
        runs = [r["id"] for r in client.get("/api/runs").json()["runs"]]
        assert runs == [waiting["id"], lost["id"], f"{2:012x}"]  # newest first, two finished
        assert not (tmp_path / f"{0:012x}").exists() and (tmp_path / f"{2:012x}").exists()
        assert client.get(f"/api/runs/{waiting['id']}").json()["position"] == 0


def test_a_full_disk_while_saving_fails_the_run_and_leaves_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path / "runs.db")
    plan = {"threads": 1, "snapshots": 10, "snapshot_seconds": 0.5, "progress_seconds": 0.2,
            "val_subset": 50}
    run = store.create("feedfacecafe", CONFIG, plan, "x", 2,
                       {"max_runs": 1, "max_queued": 1, "per_client": 1})
    store.claim("test", max_runs=1)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("model.weights.np.savez", no_space)
    assert worker.run(tmp_path, run["id"]) == 0
    failed = store.get(run["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == "could not write the run's files: No space left on device"
    assert [p.name for p in (tmp_path / run["id"]).iterdir()] == ["snapshots"]
    assert not list((tmp_path / run["id"] / "snapshots").glob(".tmp-*"))


def test_training_can_be_turned_off(tiny_dir, tmp_path):
    with TestClient(create_app(settings_for(tiny_dir, tmp_path, max_runs=0))) as client:
        answer = client.post("/api/runs", json=TINY_RUN)
    assert answer.status_code == 403 and "CNNVIS_MAX_RUNS=0" in answer.json()["detail"]


def test_a_done_run_whose_files_are_gone_is_no_model(tiny_dir, tmp_path):
    store = Store(tmp_path / "runs.db")
    store.create("00000000beef", CONFIG, {}, "x", 2, ROOM)
    store.claim("gone:1", max_runs=5)
    store.finish("00000000beef", "done", model=model_name("00000000beef"))
    with TestClient(create_app(settings_for(tiny_dir, tmp_path, max_runs=0))) as client:
        listed = client.get("/api/models")
        assert listed.status_code == 200
        assert "run-00000000beef" not in [m["name"] for m in listed.json()["models"]]
        answer = client.post("/api/predict", json={"pixels": PIXELS, "model": "run-00000000beef"})
        assert answer.status_code == 404


def test_a_crashed_child_is_described_by_its_last_words(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("Traceback (most recent call last):\n  ...\nMemoryError: out of memory\n")
    assert exit_reason(1, log) == ("the training process exited with code 1 before finishing: "
                                   "MemoryError: out of memory")
    assert exit_reason(-9, log) == "the training process was killed (SIGKILL)"
    assert exit_reason(2, tmp_path / "none.log").endswith("with code 2 before finishing")


class _Recorder:
    """A store that records what a run would send."""

    def __init__(self):
        self.sent = []

    def emit_many(self, run_id, items):
        self.sent += items
        return len(self.sent)


def test_snapshots_are_bounded_and_evenly_thinned(tmp_path):
    from model import build

    store = _Recorder()
    plan = {"threads": 1, "snapshots": 4, "snapshot_seconds": 0.0, "progress_seconds": 60.0,
            "val_subset": 5, "epochs": 1}
    reporter = events_module.Reporter(store, "r", tmp_path, plan, batch_size=10)
    net = build("simple_convnet", {"filter_num": 2, "hidden_size": 4},
                rng=np.random.default_rng(0))
    x = np.zeros((8, 1, 28, 28), np.float32)
    reporter("start", {"net": net, "steps_total": 12, "x_val": x, "y_val": np.zeros(8, int)})
    for step in range(1, 13):
        reporter("step", {"net": net, "epoch": 1, "step": step, "loss": 1.0, "correct": 3,
                          "seen": 10})
    reporter.close()  # every event written
    names = [name for name, _, _ in store.sent]
    assert names[0] == "snapshot"  # the random start
    assert names.count("progress") == 1  # the last step's at once; the rest come from the timer
    assert names[-1] == "snapshot"  # the last step always has one
    for step in range(13, 40):  # more snapshots than may be kept
        reporter.snapshot(net, 1, step)
    reporter.close()
    kept = store.sent[-1][2]["snapshots"]
    assert len(kept) <= 4 and kept[0] == 0 and kept[-1] == 39 and kept == sorted(kept)
    assert sorted(int(p.stem) for p in (tmp_path / "snapshots").glob("*.npz")) == kept
    assert not list((tmp_path / "snapshots").glob(".tmp-*"))
    with np.load(tmp_path / "snapshots" / "39.npz") as saved:
        assert saved["conv1.weight"].dtype == np.float16
        assert np.array_equal(saved["conv1.weight"], net.params["conv1.weight"].astype("f2"))


def test_progress_comes_from_a_timer_whatever_the_training_does(tmp_path):
    """Progress events keep their pace while the trainer is busy between hook calls (a long
    evaluation): each reports the latest step, the phase and the means since the last one."""
    store = _Recorder()
    plan = {"threads": 1, "snapshots": 4, "snapshot_seconds": 60.0, "progress_seconds": 0.02,
            "val_subset": 0, "epochs": 1}
    reporter = events_module.Reporter(store, "r", tmp_path, plan, batch_size=10, steps_total=9)
    reporter.start_timer()
    time.sleep(0.1)  # loading: step 0, nothing measured yet
    from model import build

    net = build("simple_convnet", {"filter_num": 2, "hidden_size": 4},
                rng=np.random.default_rng(0))
    reporter("start", {"net": net, "steps_total": 8, "x_val": np.zeros((0, 1, 28, 28), "f4"),
                       "y_val": np.zeros(0, int)})
    reporter("step", {"net": net, "epoch": 1, "step": 1, "loss": 2.0, "correct": 5, "seen": 10})
    reporter("step", {"net": net, "epoch": 1, "step": 2, "loss": 1.0, "correct": 7, "seen": 10})
    time.sleep(0.1)
    reporter("evaluate", {})
    time.sleep(0.1)  # a long evaluation: the timer goes on
    reporter.close()
    progress = [data for name, data, _ in store.sent if name == "progress"]
    phases = [p["phase"] for p in progress]
    assert phases[0] == "loading" and "training" in phases and phases[-1] == "evaluating"
    loading = progress[0]
    assert loading["step"] == 0 and loading["loss"] is None and loading["eta_seconds"] is None
    measured = next(p for p in progress if p["step"] == 2)
    assert measured["loss"] == 1.5 and measured["batch_accuracy"] == 0.6
    assert progress[-1]["step"] == 2 and progress[-1]["loss"] == 1.5  # kept while evaluating
    assert progress[-1]["steps_total"] == 8 and progress[-1]["sent"] >= progress[-1]["time"]
    sent = [p["sent"] for p in progress]
    assert len(progress) >= 8 and max(np.diff(sent)) < 0.5


def test_a_wrong_method_names_every_allowed_one(runs_client):
    for method, path, allowed in (("OPTIONS", "/api/runs", "GET, POST"),
                                  ("PUT", "/api/runs/abc", "GET, DELETE"),
                                  ("DELETE", "/api/runs/abc/events", "GET")):
        answer = runs_client.request(method, path)
        assert answer.status_code == 405 and answer.headers["Allow"] == allowed
        assert answer.json()["detail"].endswith(f"allowed: {allowed}")


def test_a_run_trains_on_the_dataset_asked_for(runs_client):
    created = start(runs_client, dataset="fashion-mnist")
    assert created["config"]["dataset"] == "fashion-mnist"
    run = wait_for(runs_client, created["id"], lambda r: r["status"] in FINAL, seconds=120)
    assert run["status"] == "done", run
    models = {m["name"]: m for m in runs_client.get("/api/models").json()["models"]}
    model = models[run["model"]]
    assert model["dataset"] == "fashion-mnist" and model["classes"][9] == "Ankle boot"
    answer = runs_client.post("/api/predict", json={"pixels": PIXELS, "model": run["model"]})
    assert answer.json()["class"] == model["classes"][answer.json()["label"]]
    replay = runs_client.post(f"/api/runs/{run['id']}/activations",
                              json={"pixels": PIXELS, "step": 1}).json()
    assert replay["class"] == model["classes"][replay["label"]]
    listed = runs_client.get("/api/datasets").json()["datasets"]
    assert run["model"] in next(d for d in listed if d["name"] == "fashion-mnist")["models"]
    bad = runs_client.post("/api/runs", json={**TINY_RUN, "dataset": "cifar"})
    assert bad.status_code == 422
