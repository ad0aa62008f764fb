"""The request and answer fast paths give exactly what the value-by-value code gives: the bulk
pixel check and the echoed input rows (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import service
from app.config import Settings
from app.encoding import float32_list
from app.schemas import PIXELS, _pixel_error, check_pixels
from model.dataset_registry import MNIST
from model.preprocess import MNIST_SIDE as SIDE

PIXEL_VALUES = st.one_of(st.floats(0, 1), st.integers(0, 1), st.floats(allow_nan=True),
                         st.integers(-3, 3), st.just(10**400), st.booleans(), st.text(max_size=3),
                         st.none())


def reference_check(flat: list) -> list[float]:
    """The value-by-value rule: the first bad value (in order) names the error."""
    for i, v in enumerate(flat):
        problem = _pixel_error(f"[{i}]", v)
        if problem:
            raise ValueError(problem)
    return [float(v) for v in flat]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bulk_pixel_check_agrees_with_the_value_by_value_rule(data):
    # A random image (drawing 784 floats one by one through hypothesis took a minute per run),
    # then hypothesis's values, edge cases included, planted anywhere.
    flat = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).random(PIXELS).tolist()
    for _ in range(data.draw(st.integers(0, 3))):
        flat[data.draw(st.integers(0, PIXELS - 1))] = data.draw(PIXEL_VALUES)
    try:
        expected = reference_check(flat)
    except ValueError as exc:
        with pytest.raises(ValueError) as got:
            check_pixels(flat)
        assert str(got.value) == str(exc)
        return
    result = check_pixels(flat)
    assert result.dtype == np.float64 and not result.flags.writeable
    assert result.tolist() == expected
    nested = [flat[r * SIDE:(r + 1) * SIDE] for r in range(SIDE)]
    assert check_pixels(nested).tolist() == expected


def test_the_first_bad_nested_value_is_named_by_row_and_column():
    rows = [[0.5] * SIDE for _ in range(SIDE)]
    rows[3][7] = math.nan
    rows[20][1] = 2.0
    with pytest.raises(ValueError, match=r"pixels\[3\]\[7\] is nan"):
        check_pixels(rows)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_echoed_rows_are_the_shortest_json_of_the_float32_image(seed):
    rng = np.random.default_rng(seed)
    image = rng.random((SIDE, SIDE)) ** rng.uniform(0.2, 5)  # dense near 0 or near 1 too
    image[rng.random((SIDE, SIDE)) < 0.3] = 0.0
    prepared = service.prepare(None, image.ravel().tolist(), Settings(), MNIST)
    assert prepared.rows == float32_list(prepared.image)
    assert np.array_equal(np.asarray(prepared.rows, dtype=np.float32), prepared.image)
