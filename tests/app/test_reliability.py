"""Admission control, limits, security headers, CORS and metrics, in process: a bounded number of
inferences run, a bounded number wait, the rest get a fast 503 with Retry-After; every limit is a
clear 4xx; every answer carries the security headers; /metrics counts it all."""

import asyncio
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from drawings import pixels
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_info

from app import service
from app.admission import AdmissionControl, Busy, Limiter, retry_after
from app.config import Settings, SettingsError, available_cores
from app.main import create_app
from app.metrics import Metrics
from app.middleware import BodySizeLimit, JsonItemLimit, read_body
from app.security import API_POLICY

PIXELS = {"pixels": pixels(0)}


# ----- the limiter -----------------------------------------------------------------------------
def run(coro):
    """The scenario on a fresh event loop in its own thread: an xdist worker that has driven the
    browser tests keeps Playwright's loop running in its main thread, where asyncio.run refuses
    to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_limiter_admits_up_to_capacity_then_queues_in_order():
    async def scenario():
        limiter = Limiter(capacity=2, max_waiting=2, max_wait=5.0)
        await limiter.acquire()
        await limiter.acquire()
        order = []

        async def waiter(name):
            await limiter.acquire()
            order.append(name)

        tasks = [asyncio.ensure_future(waiter(n)) for n in ("first", "second")]
        await asyncio.sleep(0)
        assert (limiter.in_flight, limiter.waiting) == (2, 2)
        with pytest.raises(Busy) as refused:
            await limiter.acquire()
        assert refused.value.reason == "queue_full"
        limiter.release()
        await asyncio.sleep(0)
        assert order == ["first"] and limiter.in_flight == 2  # the slot was handed over
        limiter.release()
        await asyncio.gather(*tasks)
        assert order == ["first", "second"] and limiter.waiting == 0
        limiter.release()
        limiter.release()
        assert limiter.in_flight == 0

    run(scenario())


def test_previews_wait_behind_every_other_request_in_a_queue_of_their_own():
    async def scenario():
        limiter = Limiter(capacity=1, max_waiting=1, max_wait=5.0, max_preview_bytes=10_000)
        await limiter.acquire()
        order = []

        async def waiter(name, preview, size=0):
            await limiter.acquire(preview=preview, size=size)
            order.append(name)

        tasks = [asyncio.ensure_future(waiter(n, True, 4_000)) for n in ("preview 1", "preview 2")]
        tasks.append(asyncio.ensure_future(waiter("final", False)))
        await asyncio.sleep(0)
        assert limiter.waiting == 3 and limiter.preview_bytes == 8_000
        # Each class has its bound: previews by their bytes, the others by their count.
        with pytest.raises(Busy) as refused:
            await limiter.acquire(preview=True, size=2_001)
        assert refused.value.reason == "queue_full"
        with pytest.raises(Busy):
            await limiter.acquire()
        for _ in range(3):
            limiter.release()
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        assert order == ["final", "preview 1", "preview 2"]
        assert limiter.in_flight == 1 and limiter.waiting == 0 and limiter.preview_bytes == 0
        # A preview that gives up or times out takes its bytes with it.
        quitter = asyncio.ensure_future(limiter.acquire(preview=True, size=5_000))
        await asyncio.sleep(0)
        assert limiter.preview_bytes == 5_000
        quitter.cancel()
        await asyncio.wait({quitter})
        assert limiter.preview_bytes == 0 and limiter.waiting == 0
        # A free slot with nobody waiting is a preview's as much as anyone's.
        limiter.release()
        assert limiter.try_acquire(preview=True, size=99_999) and limiter.in_flight == 1

    run(scenario())


def test_a_preview_header_puts_a_request_behind_the_others():
    async def scenario():
        limiter = Limiter(capacity=1, max_waiting=4, max_wait=5.0)
        served = []

        async def app(scope, receive, send):
            served.append(scope["path"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        middleware = AdmissionControl(app, limiter, Metrics())
        await limiter.acquire()  # every slot busy

        def call(path, headers):
            messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

            async def receive():
                if messages:
                    return messages.pop(0)
                await asyncio.Event().wait()  # never leaves

            async def send(message):
                pass

            scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
            return asyncio.ensure_future(middleware(scope, receive, send))

        calls = [call("/api/preview", [(b"cnnvis-preview", b"1")]),
                 call("/api/final", [(b"cnnvis-preview", b"0")]),
                 call("/api/compare", [])]
        await asyncio.sleep(0.01)
        assert limiter.waiting == 3
        limiter.release()
        await asyncio.gather(*calls)
        assert served == ["/api/final", "/api/compare", "/api/preview"]

    run(scenario())


def test_limiter_times_out_a_waiter_and_forgets_it():
    async def scenario():
        limiter = Limiter(capacity=1, max_waiting=4, max_wait=0.05)
        await limiter.acquire()
        with pytest.raises(Busy) as refused:
            await limiter.acquire()
        assert refused.value.reason == "timeout" and "0.05 s" in refused.value.detail
        assert limiter.waiting == 0 and limiter.in_flight == 1

    run(scenario())


def test_retry_after_is_the_time_to_drain_the_queue():
    async def scenario():
        limiter = Limiter(capacity=2, max_waiting=100, max_wait=1.0)
        await limiter.acquire()
        await limiter.acquire()
        loop = asyncio.get_running_loop()
        assert limiter.drain_rate() is None and retry_after(limiter) == 1  # nothing measured
        # The queue has been draining at 4 per second (handoffs 0.25 s apart).
        now = time.monotonic()
        limiter._handoffs.extend(now - 0.25 * i for i in range(7, -1, -1))
        assert limiter.drain_rate() == pytest.approx(4.0)
        for _ in range(9):
            limiter._waiters.append(loop.create_future())
        assert limiter.try_acquire() is False  # a long wait ahead is no reason to refuse
        assert limiter.expected_wait(10) == pytest.approx(2.5)
        assert retry_after(limiter) == 3  # the tenth in line: ceil(10 / 4)
        limiter._handoffs.clear()
        limiter._handoffs.extend(now - 10 - i for i in range(8))  # stale: not a measure
        assert limiter.drain_rate() is None and retry_after(limiter) == 1

    run(scenario())


def test_cancelled_waiters_leave_no_trace():
    async def scenario():
        limiter = Limiter(capacity=1, max_waiting=4, max_wait=5.0)
        await limiter.acquire()
        waiting = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.wait({waiting})
        assert limiter.waiting == 0 and limiter.in_flight == 1
        # Cancelled just as the slot was handed over: the slot must come back.
        handed = asyncio.ensure_future(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()
        handed.cancel()
        await asyncio.wait({handed})
        assert limiter.in_flight == 0 and limiter.waiting == 0

    run(scenario())


def test_a_client_that_leaves_while_waiting_leaves_the_queue():
    async def scenario():
        limiter = Limiter(capacity=1, max_waiting=4, max_wait=5.0)
        metrics = Metrics()
        called = []

        async def app(scope, receive, send):
            called.append(scope["path"])

        middleware = AdmissionControl(app, limiter, metrics)
        await limiter.acquire()  # every slot busy
        messages = [{"type": "http.request", "body": b"{}", "more_body": False}]
        gone = asyncio.Event()

        async def receive():
            if messages:
                return messages.pop(0)
            await gone.wait()
            return {"type": "http.disconnect"}

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/predict", "headers": []}
        request = asyncio.ensure_future(middleware(scope, receive, send))
        await asyncio.sleep(0.01)
        assert limiter.waiting == 1
        gone.set()
        await request
        assert limiter.waiting == 0 and limiter.in_flight == 1 and not sent and not called
        text = metrics.render()[0].decode()
        assert 'cnnvis_inference_rejected_total{reason="client_left"} 1.0' in text

    run(scenario())


# ----- admission through the app --------------------------------------------------------------
@pytest.fixture
def gated(tiny_settings, monkeypatch):
    """An app with one inference slot and one queue place, whose predictions wait for a gate."""
    gate, entered = threading.Event(), threading.Semaphore(0)
    predict = service.predict

    def held_predict(*args, **kwargs):
        entered.release()
        assert gate.wait(10)
        return predict(*args, **kwargs)

    monkeypatch.setattr(service, "predict", held_predict)
    # inline_ms=0: a held prediction stands for a slow model, which runs in the thread pool
    settings = replace(tiny_settings, max_inflight=1, max_queue=1, max_wait_seconds=5.0,
                       inline_ms=0.0)
    with TestClient(create_app(settings)) as client:
        yield client, gate, entered
        gate.set()


def test_overload_is_refused_at_once_with_retry_after(gated):
    client, gate, entered = gated
    with ThreadPoolExecutor(4) as pool:
        running = pool.submit(client.post, "/api/predict", json=PIXELS)
        assert entered.acquire(timeout=10)  # the one slot is taken
        queued = pool.submit(client.post, "/api/predict", json=PIXELS)
        limiter = client.app.state.limiter
        for _ in range(500):
            if limiter.waiting == 1:
                break
            threading.Event().wait(0.01)
        assert limiter.waiting == 1
        refused = client.post("/api/activations", json=PIXELS)  # the queue is full
        assert refused.status_code == 503
        assert "the server is busy" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-security-policy"] == API_POLICY
        # Health, readiness and metadata never wait for an inference slot.
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/models").status_code == 200
        gate.set()
        assert running.result(10).status_code == 200
        assert queued.result(10).status_code == 200
    assert (limiter.in_flight, limiter.waiting) == (0, 0)
    text = client.get("/metrics").text
    assert 'cnnvis_inference_rejected_total{reason="queue_full"} 1.0' in text
    assert ('cnnvis_http_requests_total{method="POST",route="/api/activations",status="503"} 1.0'
            in text)


def test_a_waiter_gives_up_after_the_wait_limit(tiny_settings, monkeypatch):
    gate = threading.Event()
    predict = service.predict
    monkeypatch.setattr(service, "predict", lambda *a, **k: (gate.wait(10), predict(*a, **k))[1])
    settings = replace(tiny_settings, max_inflight=1, max_queue=4, max_wait_seconds=0.2,
                       inline_ms=0.0)  # a held prediction stands for a slow model
    with TestClient(create_app(settings)) as client, ThreadPoolExecutor(2) as pool:
        running = pool.submit(client.post, "/api/predict", json=PIXELS)
        limiter = client.app.state.limiter
        for _ in range(500):
            if limiter.in_flight == 1:
                break
            threading.Event().wait(0.01)
        waited = client.post("/api/predict", json=PIXELS)
        assert waited.status_code == 503 and "within 0.2 s" in waited.json()["detail"]
        gate.set()
        assert running.result(10).status_code == 200


def test_only_posts_under_api_are_admitted(client):
    limiter = client.app.state.limiter
    other_loop = asyncio.new_event_loop()
    limiter.in_flight += limiter.capacity  # pretend every slot is busy and the queue full
    limiter._waiters.extend(other_loop.create_future() for _ in range(limiter.max_waiting))
    try:
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/samples").status_code == 200
        assert client.post("/api/predict", json=PIXELS).status_code == 503
    finally:
        limiter.in_flight -= limiter.capacity
        limiter._waiters.clear()
        other_loop.close()
    assert client.post("/api/predict", json=PIXELS).status_code == 200


def test_not_loaded_yet_says_when_to_retry(tiny_settings):
    c = TestClient(create_app(tiny_settings))  # no `with`: the lifespan has not run
    r = c.post("/api/predict", json=PIXELS)
    assert r.status_code == 503 and r.headers["retry-after"] == "1"


# ----- limits ----------------------------------------------------------------------------------
def test_a_json_body_with_too_many_values_is_refused_before_parsing(client):
    body = b'{"pixels": [' + b"0," * 20000 + b"0]}"
    r = client.post("/api/predict", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"] == ("the JSON body holds about 20002 values; at most 10000 are "
                                  "accepted (28×28 pixels are 812)")
    deep = b"[" * 50_000 + b"]" * 50_000
    r = client.post("/api/compare", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 422


def test_a_body_that_trickles_in_is_cut_off():
    async def scenario():
        reached = []

        async def app(scope, receive, send):
            reached.append(await read_body(receive))

        middleware = BodySizeLimit(JsonItemLimit(app, 100), max_bytes=1000, timeout=0.05)
        messages = [{"type": "http.request", "body": b'{"pix', "more_body": True}]

        async def receive():
            if messages:
                return messages.pop(0)
            await asyncio.sleep(10)  # the rest never comes

        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/predict",
                 "headers": [(b"content-type", b"application/json")]}
        await asyncio.wait_for(middleware(scope, receive, send), 5)
        assert sent[0]["status"] == 408 and not reached
        assert json.loads(sent[1]["body"]) == {
            "detail": "the request body did not arrive within 0.05 s"}

    run(scenario())


def test_multipart_parts_and_fields_are_limited(client):
    png = ("digit.png", b"\x89PNG\r\n\x1a\n", "image/png")
    r = client.post("/api/predict/file", files=[("file", png), ("file", png)])
    assert r.status_code == 400 and r.json()["detail"] == ("Too many files. Maximum number of "
                                                           "files is 1.")
    r = client.post("/api/predict/file", files={"file": png},
                    data={f"field{i}": "x" for i in range(5)})
    assert r.status_code == 400 and "Maximum number of fields is 4" in r.json()["detail"]
    r = client.post("/api/predict/file", files={"file": png}, data={"model": "m" * 2000})
    assert r.status_code == 400 and "Part exceeded maximum size of 1KB" in r.json()["detail"]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["Body_predict_file_api_predict_file_post"]["maxProperties"] == 5


def test_an_answer_over_the_response_limit_is_refused(tiny_settings):
    with TestClient(create_app(replace(tiny_settings, max_response_bytes=2000))) as c:
        r = c.get("/api/samples")
        assert r.status_code == 422
        assert re.fullmatch(r"the answer would be \d+ bytes, more than the response limit of "
                            r"2000 bytes", r.json()["detail"])
        assert c.get("/healthz").status_code == 200


# ----- headers and CORS ------------------------------------------------------------------------
@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/static/css/style.css"),
                                          ("GET", "/static/js/padworker.js"), ("GET", "/docs")])
def test_every_document_and_asset_carries_the_page_headers(client, method, path):
    r = client.request(method, path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cross-origin-opener-policy"] == "same-origin"


@pytest.mark.parametrize("method, path", [("GET", "/healthz"), ("GET", "/nowhere"),
                                          ("POST", "/api/predict"), ("GET", "/api/models"),
                                          ("GET", "/openapi.json")])
def test_every_json_answer_carries_the_short_api_headers(client, method, path):
    """A JSON answer (errors too) may load nothing, be framed nowhere and never be sniffed; the
    document-only policies are left off it."""
    r = client.request(method, path, content=b"{" if method == "POST" else None,
                       headers={"Content-Type": "application/json"})
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-security-policy"] == API_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "referrer-policy" not in r.headers and "permissions-policy" not in r.headers


def test_the_docs_pages_load_nothing_from_other_sites(client):
    for path in ("/docs", "/redoc"):
        csp = client.get(path).headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "http" not in csp, csp


def test_no_cors_unless_configured(client, tiny_settings):
    origin = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/api/models", headers=origin).headers
    preflight = {**origin, "Access-Control-Request-Method": "POST"}
    assert client.options("/api/predict", headers=preflight).status_code == 405
    settings = replace(tiny_settings, cors_origins=("https://allowed.example",))
    with TestClient(create_app(settings)) as c:
        allowed = {"Origin": "https://allowed.example"}
        r = c.get("/api/models", headers=allowed)
        assert r.headers["access-control-allow-origin"] == "https://allowed.example"
        r = c.options("/api/predict", headers={**allowed, "Access-Control-Request-Method":
                                               "POST", "Access-Control-Request-Headers":
                                               "content-type"})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in c.get("/api/models", headers=origin).headers


# ----- metrics ---------------------------------------------------------------------------------
def test_a_flood_of_scrapes_costs_one_rendering_per_interval(monkeypatch):
    from app import metrics as metrics_module

    monkeypatch.setattr(metrics_module, "RENDER_MAX_AGE", 0.3)
    m = metrics_module.Metrics()
    first = m.render()[0]
    m.rejected.labels(reason="timeout").inc()
    with ThreadPoolExecutor(8) as pool:  # concurrent scrapes inside the interval share it
        assert set(pool.map(lambda _: m.render()[0], range(64))) == {first}
    time.sleep(0.35)
    fresh = m.render()[0].decode()
    assert 'cnnvis_inference_rejected_total{reason="timeout"} 1.0' in fresh


def test_metrics_count_requests_by_route_template_and_status(tiny_settings):
    with TestClient(create_app(tiny_settings)) as c:
        c.post("/api/predict", json=PIXELS)
        c.get("/api/models/tiny")
        c.get("/api/models/nope")
        c.get("/no/such/page")
        c.post("/api/predict", content=b"x" * (3 << 20), headers={"Content-Type":
                                                                 "application/json"})
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    text = r.text
    for line in ('cnnvis_http_requests_total{method="POST",route="/api/predict",status="200"} 1.0',
                 'cnnvis_http_requests_total{method="GET",route="/api/models/{name}",status="200"}'
                 ' 1.0',
                 'cnnvis_http_requests_total{method="GET",route="/api/models/{name}",status="404"}'
                 ' 1.0',
                 'cnnvis_http_requests_total{method="GET",route="unmatched",status="404"} 1.0',
                 'cnnvis_http_requests_total{method="POST",route="/api/predict",status="413"} 1.0',
                 'cnnvis_inference_seconds_count{route="/api/predict"} 1.0',
                 'cnnvis_inference_in_flight 0.0', 'cnnvis_inference_waiting 0.0',
                 f'cnnvis_inference_capacity {float(tiny_settings.max_inflight)}'):
        assert line in text, line
    assert ('cnnvis_http_request_duration_seconds_count{method="POST",route="/api/predict"} 2.0'
            in text)
    assert "/no/such/page" not in text  # unknown paths never become label values


# ----- BLAS threads ----------------------------------------------------------------------------
def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_each_inference_uses_one_blas_thread_while_serving(tiny_settings):
    """Parallelism comes from concurrent requests; BLAS is set back when the app stops."""
    before = blas_threads()
    with TestClient(create_app(tiny_settings)):
        assert blas_threads() == {1}
    assert blas_threads() == before
    with TestClient(create_app(replace(tiny_settings, blas_threads=0))):
        assert blas_threads() == before


# ----- settings --------------------------------------------------------------------------------
def test_reliability_settings_from_the_environment():
    s = Settings.from_env({"CNNVIS_MAX_INFLIGHT": "3", "CNNVIS_MAX_QUEUE": "10",
                           "CNNVIS_MAX_WAIT_SECONDS": "0.25", "CNNVIS_MAX_JSON_ITEMS": "900",
                           "CNNVIS_MAX_FORM_FILES": "2", "CNNVIS_MAX_FORM_FIELDS": "8",
                           "CNNVIS_MAX_FORM_FIELD_BYTES": "4096",
                           "CNNVIS_MAX_RESPONSE_BYTES": "1_000_000", "CNNVIS_BLAS_THREADS": "0",
                           "CNNVIS_BODY_TIMEOUT_SECONDS": "2.5",
                           "CNNVIS_CORS_ORIGINS": "https://a.example, http://localhost:3000/"})
    assert (s.max_inflight, s.max_queue, s.max_wait_seconds, s.max_json_items) == (3, 10, 0.25, 900)
    assert (s.max_form_files, s.max_form_fields, s.max_form_field_bytes) == (2, 8, 4096)
    assert s.max_response_bytes == 1_000_000 and s.blas_threads == 0
    assert s.body_timeout_seconds == 2.5
    assert s.cors_origins == ("https://a.example", "http://localhost:3000")
    d = Settings.from_env({})
    assert d.max_inflight == available_cores() and d.cors_origins == ()
    assert (d.max_queue, d.max_wait_seconds, d.blas_threads) == (64, 1.0, 1)


@pytest.mark.parametrize("name, value, message", [
    ("CNNVIS_MAX_INFLIGHT", "0", "must be positive"),
    ("CNNVIS_MAX_QUEUE", "many", "is not an integer"),
    ("CNNVIS_MAX_WAIT_SECONDS", "0", "must be between 0.001 and 60"),
    ("CNNVIS_CORS_ORIGINS", "example.org", "'example.org' is not an origin"),
])
def test_bad_reliability_settings_are_named(name, value, message):
    with pytest.raises(SettingsError, match=f"{name}='{value}'.*{message}"):
        Settings.from_env({name: value})
