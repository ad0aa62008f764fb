"""32 threads calling predict and activations at once get exactly the answers of serial calls:
inference keeps no state on the shared, read-only networks."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from drawings import data_url, drawing, pixels
from fastapi.testclient import TestClient

from app import service
from app.config import Settings
from app.main import create_app
from model.data import REPO_ROOT

THREADS = 32


def requests():
    """(path, body) pairs mixing endpoints, models, pixels and drawings."""
    out = []
    for i in range(THREADS * 2):
        path = "/api/activations" if i % 2 else "/api/predict"
        model = ("simple_convnet", None)[i % 2]
        body = ({"image": data_url(drawing(i, scale=4 + i % 5))} if i % 3 == 0
                else {"pixels": pixels(i)})
        if model:
            body["model"] = model
        out.append((path, body))
    return out


def without_timing(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "timing_ms"}


@pytest.fixture(scope="module")
def patient_client():
    """The shipped models behind a slot wait long enough for 32 callers on a loaded CI machine:
    this test is about equal answers, not admission (test_reliability.py)."""
    with TestClient(create_app(Settings(weights_dir=REPO_ROOT / "weights",
                                        max_wait_seconds=60.0))) as client:
        yield client


def test_concurrent_answers_equal_serial_answers(patient_client, monkeypatch):
    real_client = patient_client
    calls = requests()
    serial = [without_timing(real_client.post(path, json=body).json()) for path, body in calls]

    # Count inferences in flight, to be sure the requests really overlapped.
    lock, active, peak = threading.Lock(), [0], [0]
    infer = service._infer

    def counting_infer(*args, **kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.002)
            return infer(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(service, "_infer", counting_infer)

    def call(index: int) -> dict:
        path, body = calls[index]
        response = real_client.post(path, json=body)
        assert response.status_code == 200, response.text
        return without_timing(response.json())

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        concurrent = list(pool.map(call, range(len(calls))))
    for index, (expected, got) in enumerate(zip(serial, concurrent, strict=True)):
        assert got == expected, calls[index][0]
    assert peak[0] > 1
