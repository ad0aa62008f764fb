"""``cnnvis serve`` and ``cnnvis predict`` (local, and through a served API on 127.0.0.1)."""

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from drawings import SAMPLE, drawing

from app.cli import main
from model.data import REPO_ROOT

WEIGHTS = str(REPO_ROOT / "weights")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    directory = tmp_path_factory.mktemp("images")
    paths = []
    for i, fmt in ((4, "PNG"), (27, "JPEG"), (93, "PNG")):
        path = directory / f"digit{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        path.write_bytes(drawing(i, fmt=fmt, dark_on_light=i != 93))
        paths.append((str(path), int(SAMPLE["labels"][i])))
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``cnnvis serve`` in a subprocess on a free loopback port, stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             "--weights-dir", WEIGHTS],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read().decode()[-2000:]}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_locally_as_json(capsys, images):
    code, out, _ = run(capsys, "predict", *[p for p, _ in images], "--weights-dir", WEIGHTS,
                       "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["file"], r["label"]) for r in rows] == images
    assert all(r["model"] == "simple_convnet" and len(r["probabilities"]) == 10 for r in rows)
    assert all(abs(sum(r["probabilities"]) - 1) < 1e-4 for r in rows)


def test_predict_locally_as_text(capsys, images):
    path, label = images[0]
    code, out, _ = run(capsys, "predict", path, "--weights-dir", WEIGHTS)
    assert code == 0
    first, second = out.splitlines()
    assert first.startswith(f"{path}: {label}  (p=") and "model simple_convnet" in first
    assert second.strip().startswith("0:") and " 9:" in second


def test_predict_reports_bad_files_and_continues(capsys, images, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    code, out, err = run(capsys, "predict", str(text), str(tmp_path / "missing.png"),
                         images[0][0], "--weights-dir", WEIGHTS)
    assert code == 1
    assert f"{text}: error: the data is not an image" in err
    assert "missing.png: error:" in err and "No such file" in err
    assert out.startswith(f"{images[0][0]}: {images[0][1]}")


def test_predict_with_unknown_local_model(capsys, images):
    code, _, err = run(capsys, "predict", images[0][0], "--model", "nope", "--weights-dir",
                       WEIGHTS)
    assert code == 2 and "nope.json: manifest not found" in err


def test_predict_through_the_server_matches_local(capsys, images, server):
    paths = [p for p, _ in images]
    code, local, _ = run(capsys, "predict", *paths, "--weights-dir", WEIGHTS, "--json")
    assert code == 0
    code, remote, _ = run(capsys, "predict", *paths, "--url", server, "--json")
    assert code == 0
    for a, b in zip(local.splitlines(), remote.splitlines(), strict=True):
        a, b = json.loads(a), json.loads(b)
        assert (a["file"], a["label"], a["model"]) == (b["file"], b["label"], b["model"])
        assert max(abs(x - y)
                   for x, y in zip(a["probabilities"], b["probabilities"], strict=True)) < 1e-4


def test_server_errors_reach_the_command_line(capsys, images, server):
    code, _, err = run(capsys, "predict", images[0][0], "--url", server, "--model", "vgg")
    assert code == 1 and "HTTP 404: unknown model 'vgg'" in err


def test_served_app_answers_health_and_models(server):
    assert httpx.get(server + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server + "/api/models").json()["default"] == "simple_convnet"


def test_unreachable_server(capsys, images):
    code, _, err = run(capsys, "predict", images[0][0], "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 2 and "cannot reach" in err


def test_serve_refuses_to_start_without_weights(capsys, tmp_path, monkeypatch):
    # serve exports --weights-dir for its workers; setenv makes monkeypatch restore it after
    monkeypatch.setenv("CNNVIS_WEIGHTS_DIR", str(tmp_path))
    code, _, err = run(capsys, "serve", "--weights-dir", str(tmp_path), "--port", "1")
    assert code == 2
    assert err.strip() == f"cnnvis: {tmp_path}: no weights found (expected <name>.json " \
                          f"manifests with their .npz; train with `cnnvis train`)"


def test_a_bad_setting_is_one_clean_line(capsys, monkeypatch, images):
    monkeypatch.setenv("CNNVIS_MAX_QUEUE", "many")
    for args in (("serve", "--port", "1"), ("predict", images[0][0])):
        code, _, err = run(capsys, *args)
        assert code == 2
        assert err.strip() == "cnnvis: CNNVIS_MAX_QUEUE='many' is not an integer"


def test_local_predict_uses_the_configured_default_model(capsys, monkeypatch, images):
    monkeypatch.setenv("CNNVIS_DEFAULT_MODEL", "lenet5")
    code, out, _ = run(capsys, "predict", images[0][0], "--weights-dir", WEIGHTS, "--json")
    assert code == 0 and json.loads(out)["model"] == "lenet5"
