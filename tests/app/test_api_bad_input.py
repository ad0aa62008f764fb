"""The bad-input catalogue: each case gets the right 4xx status and a message saying what is
wrong, always as JSON ``{"detail": ...}``; never a 500."""

import io
import json

import numpy as np
import pytest
from drawings import data_url, drawing, encode, pixels, png_declaring
from fastapi.testclient import TestClient
from PIL import Image

from app.config import Settings
from app.main import create_app

P = pixels(0)
FLAT = sum(P, [])
GOOD_PNG = drawing(0)
JSON = {"content-type": "application/json"}


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (20, 20), 255).save(buffer, "GIF")
    return buffer.getvalue()


def bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "BMP")
    return buffer.getvalue()


def with_pixel(value):
    rows = [list(r) for r in P]
    rows[3][4] = value
    return rows


def streamed(total: int, chunk: int = 256 * 1024):
    for _ in range(total // chunk):
        yield b" " * chunk


def raw(text: str) -> dict:
    return {"content": text.encode(), "headers": JSON}


# (id, method, path, request kwargs, status, message substring)
CASES = [
    # --- the body itself -----------------------------------------------------------------------
    ("invalid JSON", "post", "/api/predict", raw('{"pixels": [0,'), 400, "not valid JSON"),
    ("empty body", "post", "/api/predict", raw(""), 422, "request body is missing"),
    ("body is a list", "post", "/api/predict", {"json": [1, 2]}, 422, "must be a JSON object"),
    ("body is a string", "post", "/api/predict", {"json": "hi"}, 422, "must be a JSON object"),
    ("declared body too large", "post", "/api/predict",
     {"content": b" " * (2 * 1024 * 1024 + 1), "headers": JSON}, 413, "larger than the limit"),
    ("streamed body too large", "post", "/api/predict",
     {"content": streamed(3 * 1024 * 1024), "headers": JSON}, 413, "larger than the limit"),
    ("form instead of JSON", "post", "/api/predict", {"data": {"pixels": "1"}}, 415,
     "Content-Type: application/json"),
    ("text/plain body", "post", "/api/predict",
     {"content": json.dumps({"pixels": P}).encode(), "headers": {"content-type": "text/plain"}},
     415, "got text/plain"),
    ("no content type", "post", "/api/activations", {"content": b"{}"}, 415,
     "got no content type"),
    # --- fields --------------------------------------------------------------------------------
    ("neither image nor pixels", "post", "/api/predict", {"json": {}}, 422,
     "exactly one of 'image'"),
    ("both image and pixels", "post", "/api/predict",
     {"json": {"pixels": P, "image": data_url(GOOD_PNG)}}, 422, "got image and pixels"),
    ("unknown field", "post", "/api/predict", {"json": {"pixels": P, "colour": "red"}}, 422,
     "unexpected field 'colour'"),
    ("model is a number", "post", "/api/predict", {"json": {"pixels": P, "model": 3}}, 422,
     "model: Input should be a valid string"),
    ("unknown model", "post", "/api/predict", {"json": {"pixels": P, "model": "resnet"}}, 404,
     "unknown model 'resnet'; loaded models: tiny, tiny_alexnet, tiny_lenet"),
    ("empty model name", "post", "/api/predict", {"json": {"pixels": P, "model": ""}}, 422,
     "at least 1 character"),
    ("image is null", "post", "/api/predict", {"json": {"image": None}}, 422,
     "image: Input should be a valid string"),
    # --- pixels --------------------------------------------------------------------------------
    ("27 rows", "post", "/api/predict", {"json": {"pixels": P[:27]}}, 422, "got 27 rows"),
    ("ragged row", "post", "/api/predict",
     {"json": {"pixels": P[:3] + [P[3][:27]] + P[4:]}}, 422, "row 3 has 27 values"),
    ("783 flat values", "post", "/api/predict", {"json": {"pixels": FLAT[:783]}}, 422,
     "flat list of 783 values"),
    ("785 flat values", "post", "/api/compare", {"json": {"pixels": FLAT + [0.0]}}, 422,
     "flat list of 785 values"),
    ("value above 1", "post", "/api/predict", {"json": {"pixels": with_pixel(1.5)}}, 422,
     "pixels[3][4] = 1.5 is outside [0, 1]"),
    ("negative value", "post", "/api/predict", {"json": {"pixels": FLAT[:-1] + [-0.1]}}, 422,
     "pixels[783] = -0.1 is outside [0, 1]"),
    ("NaN", "post", "/api/predict", raw('{"pixels": [' + "NaN," * 783 + "0]}"), 422,
     "pixels[0] is nan; NaN and infinity are not allowed"),
    ("Infinity", "post", "/api/activations",
     raw('{"pixels": [' + "0," * 783 + "Infinity]}"), 422, "pixels[783] is inf"),
    ("string value", "post", "/api/predict", {"json": {"pixels": with_pixel("0.5")}}, 422,
     "pixels[3][4] is str '0.5', not a number"),
    ("boolean value", "post", "/api/predict", {"json": {"pixels": with_pixel(True)}}, 422,
     "pixels[3][4] is bool True, not a number"),
    ("null value", "post", "/api/predict", {"json": {"pixels": with_pixel(None)}}, 422,
     "pixels[3][4] is NoneType None, not a number"),
    ("pixels is a string", "post", "/api/predict", {"json": {"pixels": "abc"}}, 422,
     "28 rows of 28 numbers or a flat list of 784"),
    ("mixed rows and numbers", "post", "/api/predict", {"json": {"pixels": [P[0]] + FLAT[:27]}},
     422, "a mix of lists and numbers"),
    ("blank pixels", "post", "/api/predict", {"json": {"pixels": [0.0] * 784}}, 422,
     "draw something first"),
    ("blank pixels, compare", "post", "/api/compare", {"json": {"pixels": [[0] * 28] * 28}}, 422,
     "draw something first"),
    # --- images --------------------------------------------------------------------------------
    ("not a data URL", "post", "/api/predict", {"json": {"image": "iVBORw0KGgo="}}, 422,
     "image must be a data URL"),
    ("data URL without comma", "post", "/api/predict", {"json": {"image": "data:image/png"}},
     400, "no ','"),
    ("GIF data URL", "post", "/api/predict",
     {"json": {"image": data_url(gif(), "image/gif")}}, 415, "media type 'image/gif'"),
    ("not base64-encoded", "post", "/api/predict",
     {"json": {"image": "data:image/png,%89PNG"}}, 400, "must be base64-encoded"),
    ("invalid base64", "post", "/api/predict", {"json": {"image": "data:image/png;base64,@@@"}},
     400, "not valid base64"),
    ("bad base64 padding", "post", "/api/activations",
     {"json": {"image": "data:image/png;base64,AAA"}}, 400, "not valid base64"),
    ("base64 of text", "post", "/api/predict",
     {"json": {"image": data_url(b"hello there, not an image")}}, 400,
     "not an image: PNG or JPEG expected"),
    ("empty image", "post", "/api/predict", {"json": {"image": "data:image/png;base64,"}}, 400,
     "empty (0 bytes)"),
    ("truncated PNG", "post", "/api/predict",
     {"json": {"image": data_url(GOOD_PNG[: len(GOOD_PNG) // 2])}}, 400, "corrupt or truncated"),
    ("GIF bytes labelled PNG", "post", "/api/predict", {"json": {"image": data_url(gif())}}, 415,
     "GIF images are not accepted"),
    ("too many pixels", "post", "/api/predict",
     {"json": {"image": data_url(png_declaring(2500, 2000))}}, 413,
     "2500×2000 = 5000000 pixels; at most 4000000"),
    ("side too long", "post", "/api/predict",
     {"json": {"image": data_url(png_declaring(5000, 20))}}, 413, "longest side accepted is 4096"),
    ("decompression bomb", "post", "/api/compare",
     {"json": {"image": data_url(png_declaring(30000, 30000))}}, 413, "pixels"),
    ("blank white drawing", "post", "/api/predict",
     {"json": {"image": data_url(encode(np.full((200, 200, 3), 255, np.uint8)))}}, 422,
     "draw something first"),
    ("empty transparent canvas", "post", "/api/activations",
     {"json": {"image": data_url(encode(np.zeros((200, 200, 4), np.uint8), mode="RGBA"))}}, 422,
     "draw something first"),
    # --- file upload ---------------------------------------------------------------------------
    ("upload sent as JSON", "post", "/api/predict/file", {"json": {"pixels": P}}, 415,
     "multipart/form-data"),
    ("upload without file", "post", "/api/predict/file",
     {"files": {"other": ("a.png", GOOD_PNG)}}, 422, "body parameter 'file' is required"),
    ("upload of garbage", "post", "/api/predict/file",
     {"files": {"file": ("a.png", b"\x00" * 100)}}, 400, "not an image"),
    ("upload of BMP", "post", "/api/predict/file", {"files": {"file": ("a.bmp", bmp())}}, 415,
     "BMP images are not accepted"),
    ("upload for unknown model", "post", "/api/predict/file",
     {"files": {"file": ("a.png", GOOD_PNG)}, "data": {"model": "vgg"}}, 404,
     "unknown model 'vgg'"),
    ("upload too large", "post", "/api/predict/file",
     {"files": {"file": ("a.png", b"\x89PNG" + b"0" * (2 * 1024 * 1024))}}, 413,
     "larger than the limit"),
    # --- routes, methods, names ----------------------------------------------------------------
    ("DELETE predict", "delete", "/api/predict", {}, 405,
     "method DELETE is not allowed on /api/predict; allowed: POST"),
    ("GET predict", "get", "/api/activations", {}, 405, "allowed: POST"),
    ("POST models", "post", "/api/models", {"json": {}}, 405, "allowed: GET"),
    ("unknown path", "get", "/api/nothing", {}, 404, "no such page or endpoint: /api/nothing"),
    ("unknown model detail", "get", "/api/models/resnet", {}, 404,
     "loaded models: tiny, tiny_alexnet, tiny_lenet"),
    ("unknown filter layer", "get", "/api/models/tiny/filters?layer=conv9", {}, 404,
     "convolution layers: conv1"),
    ("filters of a non-conv layer", "get", "/api/models/tiny_lenet/filters?layer=tanh1", {}, 404,
     "convolution layers: conv1, conv2"),
    ("bad filter state", "get", "/api/models/tiny/filters?state=final", {}, 422,
     "state: Input should be 'trained' or 'initial'"),
    ("no initial weights", "get", "/api/models/tiny_lenet/filters?state=initial", {}, 404,
     "stores no initial (untrained) weights for 'conv1'"),
    ("initial weights of a later layer", "get",
     "/api/models/tiny_alexnet/filters?layer=conv2&state=initial", {}, 404,
     "initial weights exist for: conv1"),
    ("filters PNG of unknown layer", "get", "/api/models/tiny/filters.png?layer=fc1", {}, 404,
     "no convolution layer 'fc1'"),
    ("filters of unknown model", "get", "/api/models/vgg/filters", {}, 404, "unknown model 'vgg'"),
    ("unknown parameter", "get", "/api/models/tiny/params/conv1.gamma", {}, 404,
     "parameters: conv1.weight, conv1.bias, fc1.weight"),
]


@pytest.mark.parametrize("method, path, kwargs, status, message",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_a_clear_4xx(client, method, path, kwargs, status, message):
    response = client.request(method.upper(), path, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"} and isinstance(body["detail"], str)
    assert message in body["detail"]


def test_catalogue_is_large_enough():
    assert len(CASES) >= 30


def test_405_names_the_allowed_methods_in_the_allow_header(client):
    assert client.put("/api/compare", json={}).headers["allow"] == "POST"


def test_limits_come_from_the_settings(tiny_dir):
    settings = Settings(weights_dir=tiny_dir, min_self_test_accuracy=0.0, max_body_bytes=5000,
                        max_image_pixels=10_000, max_image_side=150)
    with TestClient(create_app(settings)) as c:
        r = c.post("/api/predict", json={"pixels": P})
        assert r.status_code == 413 and "limit of 5000 bytes" in r.json()["detail"]
        small = encode(np.zeros((120, 100, 3), np.uint8))
        r = c.post("/api/predict/file", files={"file": ("a.png", small)})
        assert r.status_code == 413 and "at most 10000 are accepted" in r.json()["detail"]
        thin = encode(np.zeros((10, 200, 3), np.uint8))
        r = c.post("/api/predict/file", files={"file": ("a.png", thin)})
        assert r.status_code == 413 and "longest side accepted is 150" in r.json()["detail"]
