"""Drawing preprocessing: a digit drawn at any size, position, colour, polarity or transparency
becomes the same MNIST-like 28×28 input; a garment fills the frame as Fashion-MNIST's do; bad
images are refused before decoding."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from model import load
from model.data import REPO_ROOT, load_sample
from model.preprocess import (
    BLANK_MESSAGE,
    MODES,
    BlankImageError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedImageError,
    centre_of_mass,
    decode_image,
    fit_box,
    is_blank,
    preprocess_array,
    preprocess_image,
    read_gray,
    resize,
    sniff_format,
    to_gray,
)

SAMPLE = load_sample()
FASHION = load_sample(dataset="fashion-mnist")
# Two digits of each class (the sample is sorted by label, ten per class).
PICKS = [c * 10 + k for c in range(10) for k in (0, 5)]


def render(digit: np.ndarray, scale: int = 1, canvas: tuple[int, int] = (120, 100),
           pos: tuple[int, int] = (10, 10), ink=(0, 0, 0), bg=(255, 255, 255),
           transparent: bool = False, fmt: str = "PNG",
           resample=Image.Resampling.NEAREST) -> bytes:
    """A sample digit (uint8, ink = 255) enlarged ``scale`` times and drawn at ``pos`` (x, y) on a
    ``canvas`` (width, height): ``ink`` colour over ``bg``, or over transparency."""
    big = Image.fromarray(digit).resize((28 * scale, 28 * scale), resample)
    coverage = np.asarray(big, dtype=np.float32) / 255.0
    width, height = canvas
    full = np.zeros((height, width), dtype=np.float32)
    x, y = pos
    full[y:y + 28 * scale, x:x + 28 * scale] = coverage[:height - y, :width - x]
    if transparent:
        rgba = np.zeros((height, width, 4), dtype=np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = np.rint(full * 255)
        img = Image.fromarray(rgba, "RGBA")
    else:
        mixed = (np.asarray(bg, np.float32) * (1 - full[..., None])
                 + np.asarray(ink, np.float32) * full[..., None])
        img = Image.fromarray(np.rint(mixed).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    img.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width×height but whose pixel data is a few bytes only."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8))
            + chunk(b"IEND", b""))


def reference(i: int) -> np.ndarray:
    return preprocess_array(SAMPLE["images"][i] / 255.0).image


def shift_tolerant_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, minimised over translations of up to one pixel."""
    return min(float(np.abs(np.roll(a, (dy, dx), (0, 1)) - b).mean())
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


@pytest.fixture(scope="module")
def net():
    return load("simple_convnet", REPO_ROOT / "weights")


# ----- the MNIST format itself -----------------------------------------------------------------
def test_mnist_digits_come_back_almost_unchanged():
    errors = [float(np.abs(reference(i) - SAMPLE["images"][i] / 255.0).mean()) for i in range(100)]
    assert sum(e < 0.01 for e in errors) >= 95
    assert max(errors) < 0.08  # the rest differ by a one-pixel centring decision at .5


def test_result_fits_the_mnist_geometry():
    p = preprocess_image(render(SAMPLE["images"][12], scale=7, canvas=(400, 300), pos=(150, 60)))
    assert p.image.shape == (28, 28) and p.image.dtype == np.float32
    assert max(p.fitted.shape) == 20
    assert p.image.min() == 0.0 and p.image.max() == pytest.approx(1.0)
    cy, cx = centre_of_mass(p.image)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    top, left, bottom, right = p.crop_box
    assert 150 <= left < right <= 150 + 28 * 7 and 60 <= top < bottom <= 60 + 28 * 7
    np.testing.assert_array_equal(p.image[p.offset[0]:p.offset[0] + p.fitted.shape[0],
                                          p.offset[1]:p.offset[1] + p.fitted.shape[1]], p.fitted)


# ----- Fashion-MNIST's format: the item fills the frame -----------------------------------------
def test_fashion_images_come_back_almost_unchanged_when_filling_the_frame():
    errors = [shift_tolerant_error(preprocess_array(im / 255.0, mode="fill").image, im / 255.0)
              for im in FASHION["images"]]
    assert sum(e < 0.025 for e in errors) >= 90  # the rest lose a faint edge row to the floor
    assert max(errors) < 0.12
    squeezed = [shift_tolerant_error(preprocess_array(im / 255.0).image, im / 255.0)
                for im in FASHION["images"]]
    assert np.median(squeezed) > 5 * np.median(errors)  # MNIST's 20×20 box is not their format


def test_fill_fits_the_longer_side_to_28_and_centres_the_box():
    garment = FASHION["images"][35]  # a pullover, wider than tall or not: the long side is 28
    p = preprocess_image(render(garment, scale=6, canvas=(400, 300), pos=(90, 40)), mode="fill")
    assert p.mode == "fill" and max(p.fitted.shape) == 28
    h, w = p.fitted.shape
    assert p.offset == ((28 - h) // 2, (28 - w) // 2)
    assert shift_tolerant_error(p.image, preprocess_array(garment / 255.0, mode="fill").image) \
        < 0.01
    digit = preprocess_image(render(garment, scale=6, canvas=(400, 300), pos=(90, 40)))
    assert digit.mode == "digit" and max(digit.fitted.shape) == 20
    with pytest.raises(ValueError, match="unknown preprocessing mode 'crop'; modes: digit, fill"):
        preprocess_array(garment / 255.0, mode="crop")
    assert MODES == ("digit", "fill")


def test_aspect_ratio_is_preserved():
    bar = np.zeros((200, 300), dtype=np.float32)
    bar[50:150, 100:150] = 1.0  # 100 tall, 50 wide
    p = preprocess_array(bar)
    assert p.crop_box == (50, 100, 150, 150)
    assert p.fitted.shape == (20, 10)
    assert p.polarity == "light-on-dark"
    assert p.image.sum() == pytest.approx(200.0)


# ----- invariance --------------------------------------------------------------------------------
EXACT_VARIANTS = {
    "enlarged 10x": dict(scale=10, canvas=(400, 320), pos=(10, 40)),
    "small in a corner": dict(scale=3, canvas=(400, 300), pos=(316, 216)),
    "blue on yellow": dict(scale=8, canvas=(300, 300), pos=(40, 30), ink=(20, 40, 200),
                           bg=(250, 240, 120)),
    "light red on white": dict(scale=5, canvas=(200, 200), pos=(30, 20), ink=(250, 120, 120)),
    "white on black": dict(scale=6, canvas=(300, 300), ink=(255, 255, 255), bg=(0, 0, 0)),
    "dark strokes on transparency": dict(scale=9, canvas=(300, 300), pos=(0, 0),
                                         transparent=True),
    "white strokes on transparency": dict(scale=9, canvas=(300, 300), pos=(20, 20),
                                          ink=(255, 255, 255), transparent=True),
    "green strokes on transparency": dict(scale=4, canvas=(200, 150), ink=(0, 180, 0),
                                          transparent=True),
    "same size, off-centre": dict(scale=1, canvas=(60, 50), pos=(30, 20)),
}


@pytest.mark.parametrize("variant", list(EXACT_VARIANTS))
def test_blocky_drawings_reproduce_the_clean_digit(variant):
    # Enlarging by pixel replication and shrinking by area-averaging is exact, so any size,
    # place, colour, polarity or transparency must give back the same 28×28 image.
    for i in PICKS:
        out = preprocess_image(render(SAMPLE["images"][i], **EXACT_VARIANTS[variant])).image
        assert np.abs(out - reference(i)).mean() < 0.005, (variant, i)


def test_jpeg_drawing_is_close_to_the_clean_digit():
    for i in PICKS:
        out = preprocess_image(render(SAMPLE["images"][i], scale=12, canvas=(500, 400),
                                      pos=(60, 30), fmt="JPEG")).image
        assert shift_tolerant_error(out, reference(i)) < 0.01, i


SMOOTH_VARIANTS = {
    "large": dict(scale=12, canvas=(500, 400), pos=(60, 30)),
    "small": dict(scale=2, canvas=(100, 100), pos=(30, 20)),
    "white on black": dict(scale=6, canvas=(300, 300), ink=(255, 255, 255), bg=(0, 0, 0)),
    "transparent": dict(scale=9, canvas=(300, 300), pos=(0, 0), transparent=True),
    "purple jpeg": dict(scale=8, canvas=(320, 320), pos=(50, 40), ink=(120, 0, 160),
                        fmt="JPEG"),
}


def test_smoothly_drawn_digits_agree_with_each_other_and_keep_their_label(net):
    images = SAMPLE["images"][PICKS]
    clean = net.predict(images[:, None].astype(np.float32) / 255.0).argmax(axis=1)
    drawn = {name: np.stack([preprocess_image(render(img, resample=Image.Resampling.BICUBIC,
                                                     **variant)).image for img in images])
             for name, variant in SMOOTH_VARIANTS.items()}
    for name, outs in drawn.items():
        for out, ref in zip(outs, drawn["large"], strict=True):
            assert shift_tolerant_error(out, ref) < 0.05, name
        labels = net.predict(outs[:, None]).argmax(axis=1)
        np.testing.assert_array_equal(labels, clean, err_msg=name)


# Each digit as pen strokes: polylines through (x, y) points of a unit square.
STROKES = {
    0: [(.5, .1), (.25, .25), (.2, .5), (.25, .75), (.5, .9), (.75, .75), (.8, .5), (.75, .25),
        (.5, .1)],
    1: [(.45, .25), (.55, .1), (.55, .9)],
    2: [(.25, .3), (.4, .12), (.65, .12), (.75, .3), (.7, .5), (.25, .9), (.8, .9)],
    3: [(.25, .15), (.7, .15), (.45, .45), (.7, .6), (.7, .8), (.5, .9), (.25, .85)],
    4: [(.6, .9), (.6, .1), (.2, .65), (.8, .65)],
    5: [(.75, .12), (.3, .12), (.28, .45), (.6, .42), (.75, .6), (.7, .85), (.45, .92),
        (.25, .85)],
    6: [(.7, .12), (.4, .3), (.28, .6), (.35, .85), (.6, .9), (.72, .7), (.6, .52), (.32, .6)],
    7: [(.2, .12), (.8, .12), (.45, .9)],
    8: [(.5, .5), (.3, .32), (.5, .1), (.7, .32), (.5, .5), (.28, .7), (.5, .9), (.72, .7),
        (.5, .5)],
    9: [(.7, .4), (.5, .5), (.3, .35), (.45, .12), (.7, .2), (.7, .4), (.65, .9)],
}


def pen(digit: int, width: int, size: int = 280, scale: float = 1.0,
        shift: tuple[int, int] = (0, 0)) -> bytes:
    """``digit`` drawn with a round pen of ``width`` pixels on a white ``size`` canvas."""
    img = Image.new("RGB", (size, size), "white")
    points = [(shift[0] + size * (0.5 + (x - 0.5) * scale),
               shift[1] + size * (0.5 + (y - 0.5) * scale)) for x, y in STROKES[digit]]
    ImageDraw.Draw(img).line(points, fill="black", width=width, joint="curve")
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("pen_kwargs", [
    dict(width=2), dict(width=8), dict(width=20), dict(width=45),
    dict(width=3, scale=0.3, shift=(-80, 60)), dict(width=40, scale=0.6, shift=(50, -40)),
    dict(width=10, size=1200),
], ids=["hairline", "thin", "medium", "very thick", "small off-centre", "thick off-centre",
        "large canvas"])
def test_pen_drawn_digits_are_recognised_thick_or_thin(net, pen_kwargs):
    images = np.stack([preprocess_image(pen(d, **pen_kwargs)).image for d in range(10)])
    np.testing.assert_array_equal(net.predict(images[:, None]).argmax(axis=1), np.arange(10))


def test_white_paper_card_on_transparent_background():
    # An opaque white card with rounded-off corners (transparent) and a dark digit on it.
    digit = SAMPLE["images"][44]
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[8:-8, 8:-8] = (255, 255, 255, 255)
    ink = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.NEAREST))
    rgba[..., :3] = np.where(ink[..., None] > 127, 0, rgba[..., :3])
    out = preprocess_image(png(rgba, "RGBA"))
    assert out.polarity == "dark-on-light"
    binary = np.where(digit > 127, 255, 0).astype(np.uint8)
    assert np.abs(out.image - preprocess_array(binary / 255.0).image).mean() < 0.005


def test_palette_and_16_bit_images_decode_like_8_bit_rgb():
    digit = 255 - SAMPLE["images"][71]  # dark on white
    base = preprocess_image(png(np.dstack([digit] * 3))).image
    palette = Image.fromarray(digit).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, "PNG")
    assert np.abs(preprocess_image(buffer.getvalue()).image - base).max() < 1e-6
    sixteen = png((digit.astype(np.uint16) * 257))
    assert Image.open(io.BytesIO(sixteen)).mode.startswith("I")
    assert np.abs(preprocess_image(sixteen).image - base).max() < 1e-4


@pytest.mark.parametrize("shape", [(280, 280), (1, 1), (100, 1), (1, 100), (333, 517),
                                   (1024, 7), (1100, 40)])
def test_gray_pictures_take_a_shortcut_to_the_same_floats(shape):
    # The page's pad picture is an 8-bit gray PNG: read_gray skips the RGBA round trip with a
    # table of levels, which must hold exactly what the RGBA path computes (any shape, and
    # beyond WORK_SIDE, where both take the reducing path); JPEG gray the same.
    levels = np.random.default_rng(shape[0] * 7 + shape[1]).integers(0, 256, shape, np.uint8)
    for data in (png(levels), render(SAMPLE["images"][5], fmt="JPEG")):
        assert Image.open(io.BytesIO(data)).mode in ("L", "RGB")
        gray, polarity = read_gray(data)
        ref_gray, ref_polarity = to_gray(decode_image(data))
        assert gray.dtype == ref_gray.dtype == np.float32
        assert np.array_equal(gray, ref_gray) and polarity == ref_polarity
    gray_jpeg = io.BytesIO()
    Image.fromarray(levels).save(gray_jpeg, "JPEG")
    gray, _ = read_gray(gray_jpeg.getvalue())
    assert np.array_equal(gray, to_gray(decode_image(gray_jpeg.getvalue()))[0])


def test_gray_pictures_with_a_transparent_level_take_the_rgba_path():
    # A gray PNG may name one level transparent (tRNS): the table must not be used for it.
    levels = np.full((40, 40), 200, np.uint8)
    levels[10:30, 18:22] = 0
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, "PNG", transparency=200)
    gray, polarity = read_gray(buffer.getvalue())
    ref_gray, ref_polarity = to_gray(decode_image(buffer.getvalue()))
    assert polarity == ref_polarity == "alpha" and np.array_equal(gray, ref_gray)


def test_huge_images_are_reduced_before_float_work_and_still_match():
    digit = SAMPLE["images"][3]
    small = preprocess_image(render(digit, scale=10, canvas=(1000, 300), pos=(100, 10))).image
    large = preprocess_image(render(digit, scale=40, canvas=(4000, 1000), pos=(400, 40))).image
    assert decode_image(render(digit, scale=40, canvas=(4000, 1000))).shape == (250, 1000, 4)
    assert np.abs(small - large).mean() < 0.01


# ----- blank and bad input ---------------------------------------------------------------------
def _faint() -> np.ndarray:
    img = np.full((50, 50, 3), 250, np.uint8)
    img[20:30, 20:30] = 240  # contrast 10/255, below the 0.1 threshold
    return img


@pytest.mark.parametrize("image", [
    np.full((50, 50, 3), 255, np.uint8),
    np.zeros((50, 50, 3), np.uint8),
    np.full((50, 50, 3), 128, np.uint8),
    np.zeros((50, 50, 4), np.uint8),
    _faint(),
], ids=["white", "black", "gray", "transparent", "faint"])
def test_blank_drawings_raise_draw_a_digit_first(image):
    with pytest.raises(BlankImageError, match=BLANK_MESSAGE):
        preprocess_image(png(image))


def test_blank_pixels_are_detected():
    assert is_blank(np.zeros((28, 28)))
    assert is_blank(np.full((28, 28), 0.05))
    assert not is_blank(SAMPLE["images"][0] / 255.0)


def test_header_size_is_refused_before_decoding():
    # These PNGs have no pixel data at all: only the header check can reject them as too large.
    with pytest.raises(ImageTooLargeError, match="5000×5000 = 25000000 pixels"):
        decode_image(png_header_only(5000, 5000))
    with pytest.raises(ImageTooLargeError, match="longest side accepted is 4096"):
        decode_image(png_header_only(5000, 10))
    with pytest.raises(ImageTooLargeError, match="at most 100 are accepted"):
        decode_image(png(np.zeros((20, 20), np.uint8)), max_pixels=100)
    with pytest.raises(InvalidImageError, match="corrupt or truncated"):
        decode_image(png_header_only(100, 100))


def test_unsupported_and_broken_images():
    gif = io.BytesIO()
    Image.new("L", (10, 10)).save(gif, "GIF")
    bmp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, "BMP")
    webp = b"RIFF\x00\x00\x00\x00WEBPVP8 "
    for data, kind in ((gif.getvalue(), "GIF"), (bmp.getvalue(), "BMP"), (webp, "WEBP")):
        assert sniff_format(data) == kind
        with pytest.raises(UnsupportedImageError, match=f"{kind} images are not accepted"):
            decode_image(data)
    good = render(SAMPLE["images"][0], scale=4)
    with pytest.raises(InvalidImageError, match="corrupt or truncated"):
        decode_image(good[: len(good) // 2])
    with pytest.raises(InvalidImageError, match="not an image"):
        decode_image(b"hello, world")
    with pytest.raises(InvalidImageError, match="empty"):
        decode_image(b"")
    jpeg = render(SAMPLE["images"][0], scale=4, fmt="JPEG")
    with pytest.raises(InvalidImageError):
        decode_image(jpeg[:200])


def test_to_gray_rejects_wrong_shapes_and_preprocess_array_rejects_nan():
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        to_gray(np.zeros((5, 5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        preprocess_array(np.full((5, 5), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        preprocess_array(np.zeros((2, 5, 5)))


# ----- resampling --------------------------------------------------------------------------------
def test_area_resize_preserves_mean_ink_and_identity():
    rng = np.random.default_rng(0)
    img = rng.random((97, 61)).astype(np.float32)
    np.testing.assert_array_equal(resize(img, 97, 61), img)
    small = resize(img, 20, 13)
    assert small.shape == (20, 13)
    assert small.mean() == pytest.approx(img.mean(), rel=1e-5)
    blocks = np.kron(img[:20, :13], np.ones((5, 5), np.float32))
    np.testing.assert_allclose(resize(blocks, 20, 13), img[:20, :13], atol=1e-6)
    big = resize(img[:5, :5], 20, 20)
    assert big.min() >= img[:5, :5].min() - 1e-6 and big.max() <= img[:5, :5].max() + 1e-6


def test_fit_box_keeps_the_long_side_at_20():
    assert fit_box(np.ones((300, 30), np.float32)).shape == (20, 2)
    assert fit_box(np.ones((3, 1), np.float32)).shape == (20, 7)
    assert fit_box(np.ones((1, 1000), np.float32)).shape == (1, 20)


# ----- the page's cropped pad picture (issue 18) -----------------------------------------------
def pad_picture(digit: int, width: int, scale: float = 1.0, shift: tuple[int, int] = (0, 0),
                base: np.ndarray | None = None) -> np.ndarray:
    """The page's pad (static/js/drawpad.js): 280×280 black paper, ``digit`` drawn in white with
    a round pen of ``width`` pixels, anti-aliased (drawn 4× larger, then box-averaged), over an
    optional ``base`` 28×28 digit enlarged smoothly as a loaded sample is. uint8 (280, 280)."""
    img = Image.new("L", (1120, 1120), 0)
    if base is not None:
        img.paste(Image.fromarray(base).resize((1120, 1120), Image.Resampling.BICUBIC))
    points = [(4 * (shift[0] + 280 * (0.5 + (x - 0.5) * scale)),
               4 * (shift[1] + 280 * (0.5 + (y - 0.5) * scale))) for x, y in STROKES[digit]]
    ImageDraw.Draw(img).line(points, fill=255, width=4 * width, joint="curve")
    return np.asarray(img.resize((280, 280), Image.Resampling.BOX))


def ink_crop(pixels: np.ndarray) -> np.ndarray:
    """What static/js/inkcrop.js sends: the box of every pixel unlike the (uniform) border, with
    one pixel of paper around it."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    assert (border == border[0]).all(), "the page sends the whole pad when the border is not paper"
    rows = np.flatnonzero((pixels != border[0]).any(axis=1))
    cols = np.flatnonzero((pixels != border[0]).any(axis=0))
    return pixels[rows[0] - 1:rows[-1] + 2, cols[0] - 1:cols[-1] + 2]


PADS = {
    "thin": dict(digit=7, width=4), "thick": dict(digit=0, width=40),
    "hairline small off-centre": dict(digit=1, width=1, scale=0.3, shift=(-90, 70)),
    "medium near the edge": dict(digit=4, width=12, scale=0.9, shift=(12, -8)),
    "stroke over a loaded sample": dict(digit=3, width=22, base=SAMPLE["images"][80]),
}


@pytest.mark.parametrize("mode", MODES)
def test_a_pad_picture_cropped_to_its_ink_gives_the_same_input(mode):
    for name, kwargs in PADS.items():
        whole = pad_picture(**kwargs)
        crop = ink_crop(whole)
        assert crop.shape[0] < 280 and crop.shape[1] < 280, name
        a = preprocess_image(png(whole, "L"), mode=mode)
        b = preprocess_image(png(crop, "L"), mode=mode)
        np.testing.assert_array_equal(a.image, b.image, err_msg=name)
        np.testing.assert_array_equal(a.cropped, b.cropped, err_msg=name)
