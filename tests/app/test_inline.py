"""Where /api/predict runs: a fast model's prediction from pixels on the event loop (no thread
round trip), images and slow models in the thread pool; the answers are the same either way."""

import asyncio
from dataclasses import replace

import pytest
from drawings import data_url, drawing, pixels
from fastapi.testclient import TestClient

from app import service
from app.main import create_app


def on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def where(monkeypatch):
    """Records, per prediction, whether it ran on the event loop's thread."""
    seen: list[bool] = []
    predict = service.predict

    def recording(*args, **kwargs):
        seen.append(on_event_loop())
        return predict(*args, **kwargs)

    monkeypatch.setattr(service, "predict", recording)
    return seen


def test_every_loaded_model_has_its_single_image_time_measured(real_client):
    models = real_client.app.state.registry.models.values()
    assert all(0 < m.forward_ms < 1000 for m in models)


@pytest.mark.parametrize("inline_ms", [0.0, 10.0])
def test_pixels_run_on_the_loop_only_under_the_budget(tiny_settings, where, inline_ms):
    settings = replace(tiny_settings, inline_ms=inline_ms)
    with TestClient(create_app(settings)) as client:
        fast = client.post("/api/predict", json={"pixels": pixels()})
        image = client.post("/api/predict", json={"image": data_url(drawing())})
    assert fast.status_code == image.status_code == 200
    assert where == [inline_ms > 0, False]  # an image to decode always goes to the pool


def test_answers_are_the_same_on_the_loop_and_in_the_pool(tiny_settings):
    answers = []
    for inline_ms in (0.0, 10.0):
        with TestClient(create_app(replace(tiny_settings, inline_ms=inline_ms))) as client:
            answer = client.post("/api/predict", json={"pixels": pixels()}).json()
        answer.pop("timing_ms")
        answers.append(answer)
    assert answers[0] == answers[1]
