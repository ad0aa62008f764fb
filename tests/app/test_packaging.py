"""The package as a user gets it: the wheel built from this checkout, installed into a fresh
virtual environment, serves the page, its scripts, the docs and correct predictions from another
directory, and ``cnnvis predict`` works there; /docs and /redoc need nothing from the internet."""

import base64
import json
import os
import re
import site
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import httpx
import numpy as np
import pytest
from drawings import SAMPLE, drawing
from liveserver import stop, wait_ready

from app.security import PAGE_POLICY
from model.data import REPO_ROOT

READY_TIMEOUT_S = 120  # a loaded 2-core machine; about 6 s when idle
# Attributes through which the docs pages load something.
URL_ATTRIBUTE = re.compile(r'\b(?:src|href|spec-url)="([^"]+)"')


def check_docs(get) -> None:
    """/docs and /redoc answer HTML naming no external URL, and every URL they name loads."""
    for page in ("/docs", "/redoc"):
        r = get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"(https?:)?//", r.text), f"{page} names an external URL"
        urls = URL_ATTRIBUTE.findall(r.text)
        assert "/openapi.json" in r.text and len(urls) >= 2
        for url in urls:
            asset = get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 100, url


def test_docs_are_served_offline(client):
    check_docs(client.get)
    swagger = client.get("/docs")
    scripts = re.findall(r'<script src="([^"]+)"', swagger.text)
    assert scripts == ["/docs/assets/swagger-ui-bundle.js", "/docs/swagger-init.js"]
    assert client.get(scripts[1]).headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in client.get(scripts[0]).text
    assert "<script>" not in swagger.text  # started from a file: the page's policy holds
    assert swagger.headers["content-security-policy"] == PAGE_POLICY
    redoc = client.get("/redoc")
    assert re.findall(r'<script src="([^"]+)"', redoc.text) == ["/docs/assets/redoc.standalone.js"]
    csp = redoc.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "https:" not in csp


def test_swagger_is_configured_from_the_page(client):
    config = re.search(r'data-config="([^"]+)"', client.get("/docs").text).group(1)
    config = json.loads(config.replace("&quot;", '"'))
    assert config["url"] == "/openapi.json" and config["validatorUrl"] is None
    assert config["dom_id"] == "#swagger-ui"


# ----- the installed wheel ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                          check=True, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtual environment holding only the wheel; its dependencies are the running
    interpreter's (a .pth line), so nothing is downloaded and nothing comes from the checkout."""
    tmp = tmp_path_factory.mktemp("packaging")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CNNVIS_", "PYTHON")) and k != "VIRTUAL_ENV"}
    env |= {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONNOUSERSITE": "1"}
    pip = [sys.executable, "-m", "pip"]
    run(*pip, "wheel", REPO_ROOT, "--no-build-isolation", "--no-deps", "--no-index", "-q",
        "-w", tmp / "dist", env=env)
    (wheel,) = (tmp / "dist").glob("cnnvis-*.whl")
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, env=env)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--no-index", "--no-deps", "--no-compile", "-q",
        wheel, env=env)
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                       cwd=tmp, env=env).stdout.strip())
    (purelib / "cnnvis_test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    assert sysconfig.get_path("purelib") != str(purelib)
    return venv, tmp, env


def test_the_wheel_imports_from_the_venv(installed):
    venv, tmp, env = installed
    code = ("import app, model.resources as r; print(app.__file__); "
            "print(*(r.shipped_dir(n) for n in ('weights', 'static', 'templates')), sep='\\n')")
    paths = run(venv / "bin" / "python", "-c", code, cwd=tmp, env=env).stdout.split()
    assert len(paths) == 4
    for path in paths:
        assert Path(path).resolve().is_relative_to(venv.resolve()), path
        assert Path(path).exists()


def test_cnnvis_predict_from_the_venv(installed):
    venv, tmp, env = installed
    image = tmp / "digit4.png"
    image.write_bytes(drawing(4))
    out = run(venv / "bin" / "cnnvis", "predict", "--json", image.name, cwd=tmp, env=env).stdout
    answer = json.loads(out)
    assert answer["label"] == int(SAMPLE["labels"][4])
    assert abs(sum(answer["probabilities"]) - 1) < 1e-3


@pytest.fixture(scope="module")
def served(installed):
    """``cnnvis serve`` of the installed wheel, started in a directory that holds no code."""
    venv, tmp, env = installed
    port = free_port()
    log = tmp / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([venv / "bin" / "cnnvis", "serve", "--port", str(port)],
                                cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, READY_TIMEOUT_S, log.read_text)
        with httpx.Client(base_url=url, timeout=30) as http:
            yield http
    finally:
        stop(proc)


def test_the_installed_server_serves_the_page_and_its_scripts(served):
    page = served.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    scripts = re.findall(r'<script[^>]* src="(/static/[^"]+\.js)"', page.text)
    assert scripts, "the page names no script under /static"
    for script in scripts:
        r = served.get(script)
        assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    assert served.get("/readyz").status_code == 200


def test_the_installed_server_predicts_a_shipped_digit(served):
    sample = served.get("/api/samples").json()["samples"][0]
    pixels = np.frombuffer(base64.b64decode(sample["data"]), np.uint8).reshape(28, 28) / 255
    r = served.post("/api/predict", json={"pixels": pixels.tolist()})
    assert r.status_code == 200, r.text
    assert r.json()["label"] == sample["label"]


def test_the_installed_server_serves_the_docs(served):
    check_docs(served.get)
