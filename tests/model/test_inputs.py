"""The input side: a digit placed in a larger input and found again, the rounding every echoed
input gets, and data URLs and pixels prepared into the network's 28×28 input."""

import base64

import numpy as np
import pytest

from model.inputs import DECIMALS, decode_data_url, drawing_window, fit_input, prepare, round_input
from model.preprocess import MNIST_SIDE, BlankImageError, InvalidImageError, UnsupportedImageError


@pytest.mark.parametrize("side", [28, 32, 33])
def test_drawing_window_undoes_fit_input(side):
    digits = np.random.default_rng(side).random((3, MNIST_SIDE, MNIST_SIDE)).astype(np.float32)
    x = fit_input(digits, (1, side, side))
    assert x.shape == (3, 1, side, side) and x.dtype == np.float32
    assert x.sum() == pytest.approx(digits.sum(), rel=1e-6)  # nothing but zeros around
    for digit, placed in zip(digits, x, strict=True):
        assert np.array_equal(drawing_window(placed[0]), digit)


def test_rounded_inputs_are_their_own_short_decimals():
    values = np.random.default_rng(0).random((MNIST_SIDE, MNIST_SIDE))
    rounded = round_input(values)
    assert rounded.dtype == np.float32
    assert np.array_equal(round_input(rounded), rounded)
    shortest = [np.format_float_positional(v, unique=True) for v in rounded.ravel()]
    assert max(len(text.split(".")[1]) for text in shortest) <= DECIMALS


def test_pixels_are_prepared_rounded_with_their_json_rows():
    pixels = np.linspace(0, 1, MNIST_SIDE * MNIST_SIDE) ** 3
    prepared = prepare(None, pixels, 100, 100)
    assert prepared.image.shape == (MNIST_SIDE, MNIST_SIDE)
    assert np.array_equal(np.float32(prepared.rows), prepared.image)
    assert np.array_equal(prepared.image, round_input(pixels.reshape(MNIST_SIDE, MNIST_SIDE)))
    assert prepared.preprocess_ms >= 0
    with pytest.raises(BlankImageError):
        prepare(None, np.zeros(MNIST_SIDE * MNIST_SIDE), 100, 100)


@pytest.mark.parametrize("url, error, message", [
    ("data:image/png;base64", InvalidImageError, "no ','"),
    ("data:image/gif;base64,R0lG", UnsupportedImageError, "media type 'image/gif'"),
    ("data:,abc", UnsupportedImageError, "media type 'text/plain'"),
    ("data:image/png,abc", InvalidImageError, "must be base64-encoded"),
    ("data:image/png;base64,ab$c", InvalidImageError, "not valid base64"),
])
def test_bad_data_urls_say_what_is_wrong(url, error, message):
    with pytest.raises(error, match=message):
        decode_data_url(url)


def test_data_url_media_type_and_parameters_are_case_blind():
    data = b"\x89PNG\r\n\x1a\n"
    url = "data:IMAGE/PNG; Base64," + base64.b64encode(data).decode()
    assert decode_data_url(url) == data
