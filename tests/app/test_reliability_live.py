"""Schemathesis against a live server: ``cnnvis serve`` in a subprocess on a loopback port, every
operation of the app's OpenAPI schema exercised over real HTTP (positive and negative data),
with the same content-reason allowance as the in-process conformance test. The schema is the
app's own (built in process; the served /openapi.json is checked to be the same)."""

import os
import re
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from liveserver import stop, wait_ready
from schemathesis.checks import positive_data_acceptance
from test_api_schemathesis import DRAWING_OPERATIONS, rejected_only_for_content

from app.config import Settings, available_cores
from app.main import create_app
from model.data import REPO_ROOT

READY_WITHIN_S = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(*options: str):
    """``cnnvis serve`` with ``options`` on a free loopback port: its URL once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                             *options], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, READY_WITHIN_S, proc.stderr.read)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def live_url():
    with serving() as url:
        yield url


OPENAPI = create_app(Settings(weights_dir=REPO_ROOT / "weights")).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_served_schema_is_the_one_tested(live_url):
    assert httpx.get(live_url + "/openapi.json", timeout=10).json() == OPENAPI


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_over_http(case, live_url):
    kwargs = {"base_url": live_url, "timeout": 30}
    if case.path in DRAWING_OPERATIONS:
        case.call_and_validate(excluded_checks=[positive_data_acceptance],
                               additional_checks=[rejected_only_for_content], **kwargs)
    else:
        case.call_and_validate(**kwargs)


def test_the_live_server_kept_count(live_url):
    """Every answer was counted, none was a 5xx, and no slot or waiter was leaked."""
    # Sixty answers of its own, so the count does not depend on how many requests the tests
    # above made (fewer under pytest-xdist, not understood yet: see the stop 12 note).
    with httpx.Client(base_url=live_url, timeout=10) as http:
        for _ in range(60):
            assert http.get("/healthz").status_code == 200
    # /metrics is rendered at most once a second and shared: a scrape may show the counts of up
    # to a second ago, so ask again (a few times) until it is a fresh one.
    for _ in range(4):
        text = httpx.get(live_url + "/metrics", timeout=10).text
        counts = [line for line in text.splitlines()
                  if line.startswith("cnnvis_http_requests_total")]
        total = sum(float(line.rsplit(" ", 1)[1]) for line in counts)
        if total > 50:
            break
        time.sleep(1.1)
    assert total > 50
    assert not [line for line in counts if 'status="5' in line]
    assert "cnnvis_inference_in_flight 0.0" in text and "cnnvis_inference_waiting 0.0" in text


def test_two_workers_share_the_cores_and_add_up_their_metrics():
    """``cnnvis serve --workers 2``: each worker admits half the cores' inferences, and /metrics
    sums both workers' counts whichever worker answers the scrape."""
    with serving("--workers", "2") as url:
        with httpx.Client(base_url=url, timeout=10) as http:  # new connections spread the calls
            for _ in range(20):
                assert http.get("/healthz", headers={"Connection": "close"}).status_code == 200
            texts = [http.get("/metrics", headers={"Connection": "close"}).text
                     for _ in range(4)]
    for text in texts:
        served = re.search(r'cnnvis_http_requests_total\{method="GET",route="/healthz",'
                           r'status="200"\} (\S+)', text)
        assert served and float(served.group(1)) == 20.0
        capacity = re.search(r"^cnnvis_inference_capacity (\S+)$", text, re.M)
        assert capacity and float(capacity.group(1)) == 2 * max(1, available_cores() // 2)
