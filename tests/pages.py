"""Generated drawing pages of the kinds the default settings must serve (nothing downloaded).

Used by ``tests/test_defaults.py`` and by ``scripts/measure_defaults.py`` (which puts
``tests/`` on ``sys.path``). Every page is a float32 (H, W) grey image in [0, 1], made
from a seeded generator, and quantised to 8 bits as a scanner or camera stores it:

- :func:`faint_pencil`: light graphite hatching and contours on a flatbed scan whose
  paper clips to white (most pixels exactly 1.0);
- :func:`dense_ink`: black cross-hatching over about 40 % of a clipped white page;
- :func:`phone_photo`: marker strokes on grey paper lit unevenly (a lighting gradient
  and vignetting, the paper from 0.45 to 0.80), with sensor noise; JPEG-compressed;
- :func:`watercolour`: cold-press paper grain (band-pass noise), washes with darker
  wet edges, and a few pencil lines;
- :func:`one_bit`: a 1-bit scan (only 0 and 1) of ink strokes.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["faint_pencil", "dense_ink", "phone_photo", "watercolour", "one_bit",
           "strokes", "grain", "quantise", "jpeg_roundtrip", "PAGES"]


def strokes(shape: tuple[int, int], count: int, rng: np.random.Generator, *,
            width: int = 2, length: float = 0.3) -> np.ndarray:
    """Coverage in [0, 1] of ``count`` smooth anti-aliased curves (1 on a stroke)."""
    import cv2

    height, width_px = shape
    canvas = np.zeros(shape, np.uint8)
    reach = length * max(shape)
    for _ in range(count):
        start = rng.uniform((0, 0), (width_px, height))
        heading = rng.uniform(0, 2 * np.pi)
        turn = rng.normal(0, 0.6)
        steps = np.linspace(0, 1, 24)
        angles = heading + turn * steps
        seg = reach / len(steps)
        points = start + np.cumsum(np.c_[np.cos(angles), np.sin(angles)] * seg, axis=0)
        cv2.polylines(canvas, [np.round(points * 16).astype(np.int32)], False, 255,
                      thickness=width, lineType=cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / np.float32(255)


def grain(shape: tuple[int, int], rng: np.random.Generator, *, fine: float = 1.5,
          coarse: float = 5.0) -> np.ndarray:
    """Band-pass noise of unit standard deviation: blur(sigma fine) - blur(sigma coarse)."""
    import cv2

    white = rng.normal(0, 1, shape).astype(np.float32)
    band = cv2.GaussianBlur(white, (0, 0), fine) - cv2.GaussianBlur(white, (0, 0), coarse)
    return band / np.float32(band.std())


def quantise(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Round to ``bits`` per sample and back to float32, as a file stores it."""
    top = np.float32(2 ** bits - 1)
    return np.round(np.clip(image, 0, 1) * top).astype(np.float32) / top


def jpeg_roundtrip(image: np.ndarray, quality: int = 85) -> np.ndarray:
    """Encode as a grey JPEG with Pillow and decode again (float32 in [0, 1])."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(
        buffer, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as im:
        return np.asarray(im, np.float32) / np.float32(255)


def faint_pencil(shape=(900, 1200), seed: int = 1) -> np.ndarray:
    """Light pencil on a flatbed scan: paper clipped to 1.0, strokes 0.15-0.3 darker."""
    rng = np.random.default_rng(seed)
    paper = 1.02 + rng.normal(0, 0.008, shape).astype(np.float32)  # clips: ~99% white
    lines = strokes(shape, 60, rng, width=2) * np.float32(0.25)
    hatching = strokes(shape, 120, rng, width=1, length=0.05) * np.float32(0.15)
    return quantise(paper - np.maximum(lines, hatching))


def dense_ink(shape=(900, 1200), seed: int = 2) -> np.ndarray:
    """Black ink cross-hatching over much of a clipped white page."""
    rng = np.random.default_rng(seed)
    ink = np.maximum(strokes(shape, 500, rng, width=3, length=0.15),
                     strokes(shape, 60, rng, width=6, length=0.4))
    paper = 1.03 + rng.normal(0, 0.01, shape).astype(np.float32)
    return quantise(paper * (1 - np.float32(0.93) * ink))


def phone_photo(shape=(900, 1200), seed: int = 3, *, quality: int = 85) -> np.ndarray:
    """Marker drawing photographed by a phone: grey paper, uneven light, noise, JPEG.

    The light falls from 0.80 at the top left to about 0.45 at the far corner
    (a linear gradient times a vignette), so the paper's level varies by ~40 %.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    y /= shape[0]
    x /= shape[1]
    light = (0.80 - 0.18 * (0.6 * x + 0.4 * y)) * (1 - 0.35 * ((x - 0.4) ** 2 + (y - 0.4) ** 2))
    ink = strokes(shape, 40, rng, width=5)
    page = light * (1 - np.float32(0.75) * ink)
    page += rng.normal(0, 0.012, shape).astype(np.float32)
    return jpeg_roundtrip(page, quality)


def watercolour(shape=(900, 1200), seed: int = 4, *, amplitude: float = 0.03) -> np.ndarray:
    """Cold-press watercolour paper: grain of std ``amplitude``, washes, pencil lines."""
    import cv2

    rng = np.random.default_rng(seed)
    height, width = shape
    washes = np.zeros(shape, np.float32)
    for _ in range(6):
        blob = np.zeros(shape, np.uint8)
        centre = (int(rng.uniform(0.15, 0.85) * width), int(rng.uniform(0.15, 0.85) * height))
        axes = (int(rng.uniform(0.08, 0.2) * width), int(rng.uniform(0.08, 0.2) * height))
        cv2.ellipse(blob, centre, axes, rng.uniform(0, 180), 0, 360, 255, -1)
        soft = cv2.GaussianBlur(blob.astype(np.float32) / 255, (0, 0), 6)
        edge = cv2.GaussianBlur(soft * (1 - soft) * 4, (0, 0), 2)  # pigment gathers at the rim
        washes += np.float32(rng.uniform(0.15, 0.35)) * soft + np.float32(0.08) * edge
    paper = np.float32(0.92) + np.float32(amplitude) * grain(shape, rng)
    lines = strokes(shape, 25, rng, width=2) * np.float32(0.35)
    # grain shows through the washes (pigment settles in the hollows): multiply
    return quantise(paper * (1 - np.minimum(washes, 0.8)) - lines)


def one_bit(shape=(900, 1200), seed: int = 5) -> np.ndarray:
    """A 1-bit scan: ink strokes thresholded to 0, paper 1."""
    rng = np.random.default_rng(seed)
    ink = strokes(shape, 80, rng, width=3)
    return np.where(ink > 0.5, np.float32(0), np.float32(1))


#: Name -> builder of each generated page kind (default size 900 x 1200).
PAGES = {
    "synthetic faint pencil": faint_pencil,
    "synthetic dense ink": dense_ink,
    "synthetic phone photo": phone_photo,
    "synthetic cold-press watercolour": watercolour,
    "synthetic 1-bit scan": one_bit,
}
