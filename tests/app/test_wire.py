"""Bytes on the wire (issue 18): gzip for clients that accept it, transparent to the JSON, and
/api/activations answering only the layers asked for, each exactly as in the full answer."""

import json
from dataclasses import replace

import pytest
from drawings import data_url, drawing, pixels
from fastapi.testclient import TestClient

from app.main import create_app

PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


def test_answers_are_gzipped_only_for_clients_that_accept_it(client):
    body = {"pixels": pixels(3), "model": "tiny_alexnet"}
    plain = client.post("/api/activations", json=body, headers=PLAIN)
    packed = client.post("/api/activations", json=body, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    # httpx undoes the gzip as any HTTP client does: the same JSON, value for value.
    assert packed.json() | {"timing_ms": None} == plain.json() | {"timing_ms": None}
    small = client.get("/healthz", headers=GZIP)  # below the threshold: not worth a gzip header
    assert "content-encoding" not in small.headers


def test_cached_weight_answers_survive_both_encodings(client):
    url = "/api/models/tiny/params/fc1.weight"
    answers = [client.get(url, headers=h) for h in (GZIP, PLAIN, GZIP, PLAIN)]
    assert all(a.status_code == 200 for a in answers)
    assert [a.headers.get("content-encoding") for a in answers] == ["gzip", None, "gzip", None]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1


def test_gzip_level_zero_turns_compression_off(tiny_settings):
    settings = replace(tiny_settings, gzip_level=0)
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/activations", json={"pixels": pixels(3)}, headers=GZIP)
    assert r.status_code == 200 and "content-encoding" not in r.headers


@pytest.mark.parametrize("name", ["tiny", "tiny_alexnet"])
def test_asked_layers_are_those_of_the_full_answer(client, name):
    full = client.post("/api/activations", json={"image": data_url(drawing(4)), "model": name})
    layers = {layer["name"]: layer for layer in full.json()["layers"]}
    names = list(layers)
    wanted = [names[-1], names[2], "input"]  # any order asked, network order answered
    part = client.post("/api/activations",
                       json={"image": data_url(drawing(4)), "model": name, "layers": wanted})
    assert part.status_code == 200
    got = part.json()
    assert [layer["name"] for layer in got["layers"]] == ["input", names[2], names[-1]]
    for layer in got["layers"]:
        assert layer == layers[layer["name"]]
    for key in ("label", "probabilities", "input"):
        assert got[key] == full.json()[key]


def test_unknown_layers_are_refused_before_the_image_is_read(client):
    r = client.post("/api/activations",
                    json={"image": "data:image/png;base64,bm90IGFuIGltYWdl", "layers": ["conv9"]})
    assert r.status_code == 404
    assert "conv9" in r.json()["detail"] and "conv1" in r.json()["detail"]
    r = client.post("/api/activations", json={"pixels": pixels(3), "layers": ["x"] * 65})
    assert r.status_code == 422
    r = client.post("/api/activations", json={"pixels": pixels(3), "layers": [""]})
    assert r.status_code == 422


def test_the_wire_format_of_a_live_answer_is_small(client):
    """What the page asks while drawing on the tiny AlexNet-like model: gzip and the shown
    layers together take the answer to under a fifth of the full plain one."""
    body = {"image": data_url(drawing(4)), "model": "tiny_alexnet"}
    full = client.post("/api/activations", json=body, headers=PLAIN)
    names = [layer["name"] for layer in full.json()["layers"]]
    shown = [n for n in names if not n.startswith("conv") and not n.startswith("fc")]
    live = client.post("/api/activations", json=body | {"layers": shown}, headers=GZIP)
    assert live.status_code == 200
    assert int(live.headers["content-length"]) < len(full.content) / 5
