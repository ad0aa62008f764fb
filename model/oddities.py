"""Drawings made as the page's 280×280 pad makes them: MNIST digits redrawn at random size,
place and stroke width in the pad's ink styles, and things that are not digits (letters in the
installed fonts, handwriting-like strokes, scribbles, shapes, blobs, text, textures), all seeded;
the data of the atypical-drawing benchmark and tests (issue 17). Pillow draws, as a canvas does."""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .preprocess import preprocess_array

PAD_SIDE = 280  # the drawing pad's canvas (templates/index.html)
FONT_ROOT = Path("/usr/share/fonts")
# The ink styles: the pad's white on black, a dark pen on white paper (an upload), and a blue
# ballpoint on off-white (a scan): (ink gray, paper gray).
INK_STYLES = {"pad": (1.0, 0.0), "paper": (0.0, 1.0), "ballpoint": (0.25, 0.93)}
# Letters a reader could fairly take for a digit (O for 0, l for 1, S for 5, ...) are left out:
# calling them digits is no mistake.
LOOKALIKES = set("OoDQIilLJjSsZzBbGgqTtAy")
LETTERS = "".join(c for c in string.ascii_letters if c not in LOOKALIKES)
WORDS = ("cat", "hello", "mnist", "draw", "yes", "word", "pen", "fox", "what", "nope",
         "hm", "ok", "web", "cnn", "kiwi", "maze", "ark", "hex")


def fonts(root: Path = FONT_ROOT) -> list[Path]:
    """The TrueType fonts installed under ``root``, sorted (empty when there are none)."""
    return sorted(root.rglob("*.ttf")) if root.is_dir() else []


def _font(path: Path | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(path), size) if path else ImageFont.load_default(size)


def _canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("L", (PAD_SIDE, PAD_SIDE), 0)
    return image, ImageDraw.Draw(image)


def _stroke(draw: ImageDraw.ImageDraw, points: np.ndarray, width: int) -> None:
    """A round-capped, round-joined polyline, as the pad's strokes are."""
    pts = [tuple(map(float, p)) for p in points]
    draw.line(pts, fill=255, width=width, joint="curve")
    r = width / 2
    for x, y in (pts[0], pts[-1]):
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def _smooth_path(rng: np.random.Generator, n_control: int, spread: float) -> np.ndarray:
    """A smooth curve through random control points (Catmull-Rom), like a pen's path."""
    centre = rng.uniform(90, 190, size=2)
    ctrl = centre + rng.normal(0, spread, size=(n_control, 2))
    ctrl = np.clip(ctrl, 15, PAD_SIDE - 15)
    padded = np.vstack([ctrl[:1], ctrl, ctrl[-1:]])
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1:i + 3]
        for t in np.linspace(0, 1, 12, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                              + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(padded[-2])
    return np.array(out)


# ----- things that are not digits (each: rng -> ink coverage (280, 280) in [0, 1]) -------------
def letter(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    image, draw = _canvas()
    path = font_paths[rng.integers(len(font_paths))] if font_paths else None
    font = _font(path, int(rng.integers(110, 230)))
    draw.text((PAD_SIDE / 2, PAD_SIDE / 2), LETTERS[rng.integers(len(LETTERS))], fill=255,
              font=font, anchor="mm")
    return image


def text(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    image, draw = _canvas()
    path = font_paths[rng.integers(len(font_paths))] if font_paths else None
    word = WORDS[rng.integers(len(WORDS))]
    font = _font(path, int(rng.integers(40, 90)))
    draw.text((PAD_SIDE / 2, PAD_SIDE / 2), word, fill=255, font=font, anchor="mm")
    return image


def strokes(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    """Handwriting-like: one to three smooth pen strokes of a few turns each."""
    image, draw = _canvas()
    for _ in range(int(rng.integers(1, 4))):
        _stroke(draw, _smooth_path(rng, int(rng.integers(4, 9)), 60), int(rng.integers(8, 30)))
    return image


def scribble(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    """A fast back-and-forth scrawl: many straight segments between random points."""
    image, draw = _canvas()
    centre = rng.uniform(80, 200, size=2)
    pts = np.clip(centre + rng.normal(0, 55, size=(int(rng.integers(8, 25)), 2)), 10, 270)
    _stroke(draw, pts, int(rng.integers(6, 28)))
    return image


def shape(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    """A triangle, square, star, cross or arrow, outlined or filled."""
    image, draw = _canvas()
    cx, cy = rng.uniform(100, 180, size=2)
    r = rng.uniform(50, 110)
    width = int(rng.integers(8, 26))
    kind = int(rng.integers(5))
    turn = rng.uniform(0, 2 * np.pi)
    if kind == 0:
        corners = 3
    elif kind == 1:
        corners = 4
    else:
        corners = 10 if kind == 2 else 0
    if corners:
        angle = turn + np.arange(corners) * 2 * np.pi / corners
        radius = np.where(np.arange(corners) % 2, r * 0.45, r) if corners == 10 else r
        pts = np.stack([cx + radius * np.cos(angle), cy + radius * np.sin(angle)], axis=1)
        if rng.random() < 0.4:
            draw.polygon([tuple(p) for p in pts], fill=255)
        else:
            _stroke(draw, np.vstack([pts, pts[:1]]), width)
    elif kind == 3:  # an X cross
        d = r * 0.8
        _stroke(draw, np.array([[cx - d, cy - d], [cx + d, cy + d]]), width)
        _stroke(draw, np.array([[cx - d, cy + d], [cx + d, cy - d]]), width)
    else:  # an arrow
        a = turn
        tip = np.array([cx + r * np.cos(a), cy + r * np.sin(a)])
        tail = np.array([cx - r * np.cos(a), cy - r * np.sin(a)])
        _stroke(draw, np.array([tail, tip]), width)
        for side in (-1, 1):
            b = a + np.pi + side * 0.5
            _stroke(draw, np.array([tip, tip + 0.45 * r * np.array([np.cos(b), np.sin(b)])]),
                    width)
    return image


def blob(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    """Filled irregular blots: smoothed noise above a threshold."""
    cells = int(rng.integers(4, 9))
    noise = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
    field = np.asarray(noise.resize((PAD_SIDE, PAD_SIDE), Image.Resampling.BICUBIC)
                       .filter(ImageFilter.GaussianBlur(8)), dtype=np.float32)
    level = np.quantile(field, rng.uniform(0.7, 0.9))
    return Image.fromarray(((field > level) * 255).astype(np.uint8))


def texture(rng: np.random.Generator, font_paths: list[Path]) -> Image.Image:
    """Photo-like gray images: smooth random fields, stripes and checkerboards with noise."""
    y, x = np.mgrid[0:PAD_SIDE, 0:PAD_SIDE] / PAD_SIDE
    kind = int(rng.integers(3))
    if kind == 0:
        small = rng.random((int(rng.integers(3, 12)),) * 2)
        field = np.asarray(Image.fromarray((small * 255).astype(np.uint8))
                           .resize((PAD_SIDE, PAD_SIDE), Image.Resampling.BICUBIC)) / 255.0
    elif kind == 1:
        f, a = rng.uniform(2, 9), rng.uniform(0, np.pi)
        field = 0.5 + 0.5 * np.sin(2 * np.pi * f * (x * np.cos(a) + y * np.sin(a)))
    else:
        n = int(rng.integers(2, 7))
        field = ((np.floor(x * n) + np.floor(y * n)) % 2).astype(np.float64)
    field = np.clip(field + rng.normal(0, 0.08, field.shape), 0, 1)
    return Image.fromarray((field * 255).astype(np.uint8))


NON_DIGITS: dict[str, Callable[[np.random.Generator, list[Path]], Image.Image]] = {
    "letters": letter, "text": text, "strokes": strokes, "scribbles": scribble,
    "shapes": shape, "blobs": blob, "textures": texture,
}


# ----- digits, redrawn on the pad --------------------------------------------------------------
def redraw_digit(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit (28, 28) uint8 as a person might draw it on the pad: its ink enlarged to a
    random height of 90-260 px, thickened or thinned like a wider or finer brush, at a random
    place inside the pad."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    crop = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    scale = rng.uniform(90, 260) / crop.height
    w, h = max(1, round(crop.width * scale)), max(1, round(crop.height * scale))
    if w > PAD_SIDE - 4:
        w, h = PAD_SIDE - 4, max(1, round(h * (PAD_SIDE - 4) / w))
    big = crop.resize((w, h), Image.Resampling.BICUBIC)
    # A wider or finer brush: blur the enlarged strokes, then cut the blur at a lower level
    # (thicker) or a higher one (thinner); rank filters of that size would be far slower.
    blurred = np.asarray(big.filter(ImageFilter.GaussianBlur(max(1.0, h / 40))),
                         dtype=np.float32) / 255.0
    level = rng.uniform(0.15, 0.65)
    ink = np.clip((blurred - level) / 0.3 + 0.5, 0.0, 1.0)
    big = Image.fromarray((ink * 255).astype(np.uint8))
    image, _ = _canvas()
    left = int(rng.integers(0, PAD_SIDE - w + 1))
    top = int(rng.integers(0, PAD_SIDE - h + 1))
    image.paste(big, (left, top))
    return image


def in_style(coverage: Image.Image, style: str, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (L, 0-255) → the gray image (H, W) in [0, 1] of that ink on that paper."""
    ink, paper = INK_STYLES[style]
    a = np.asarray(coverage, dtype=np.float32) / 255.0
    gray = paper + (ink - paper) * a
    return np.clip(gray, 0.0, 1.0).astype(np.float32)


def to_input(coverage: Image.Image, style: str, rng: np.random.Generator) -> np.ndarray:
    """What the server makes of such a drawing: the 28×28 input (model/preprocess.py)."""
    return preprocess_array(in_style(coverage, style, rng)).image


def redrawn_digits(images: np.ndarray, seed: int) -> np.ndarray:
    """Each digit (N, 28, 28) uint8 redrawn on the pad in a random ink style and preprocessed
    back to 28×28 float32 (N, 28, 28)."""
    rng = np.random.default_rng(seed)
    styles = list(INK_STYLES)
    return np.stack([to_input(redraw_digit(d, rng), styles[rng.integers(len(styles))], rng)
                     for d in images])


def non_digits(per_kind: int, seed: int,
               font_paths: list[Path] | None = None) -> dict[str, np.ndarray]:
    """``per_kind`` preprocessed 28×28 inputs (float32) of each kind in :data:`NON_DIGITS`."""
    rng = np.random.default_rng(seed)
    font_paths = fonts() if font_paths is None else font_paths
    styles = list(INK_STYLES)
    out = {}
    for kind, make in NON_DIGITS.items():
        out[kind] = np.stack([to_input(make(rng, font_paths), styles[rng.integers(len(styles))],
                                       rng) for _ in range(per_kind)])
    return out
