"""A corpus of broken and unusual scan files, built by the tests (nothing downloaded).

Use it from any test (``tests/`` is on ``sys.path`` through the rootdir conftest)::

    from corpus import build_corpus

    def test_something(tmp_path):
        corpus = build_corpus(tmp_path / "corpus")
        for path in corpus["broken"]:      # load_scan must raise ScanError naming the file
            ...
        for path in corpus["unusual"]:     # load_scan must return a correct image
            ...

``build_corpus(folder)`` returns a dict:

- ``"broken"``: list of Paths that ``load_scan`` must refuse with a ``ScanError``
  (one of them, ``folder.png``, is a directory);
- ``"unusual"``: list of Paths that load into a whole, finite image;
- ``"files"``: dict short key -> Path for every entry (keys as in ``BROKEN`` and ``UNUSUAL``);
- ``"shapes"``: dict Path -> (H, W) of the grey image ``load_scan`` returns for each
  unusual file (after EXIF orientation).

Also useful on their own: :func:`line_drawing` (an analytic drawing: strokes and
circles on paper) and :func:`png_bytes` (a PNG written chunk by chunk, for files
no encoder would write).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["build_corpus", "line_drawing", "png_bytes", "png_chunks", "BROKEN", "UNUSUAL"]

#: Keys of the broken entries (file names in the corpus folder).
BROKEN = {
    "empty": "empty.png",
    "text": "notes.png",
    "truncated_png": "truncated.png",
    "truncated_jpeg": "truncated.jpg",
    "corrupt_idat": "corrupt_idat.png",
    "random": "random.jpg",
    "bomb": "bomb.png",
    "svg": "drawing.svg",
    "pdf": "page.pdf",
    "folder": "folder.png",
}

#: Keys of the unusual (but valid) entries.
UNUSUAL = {
    "tiny": "tiny_1x1.png",
    "small": "small_2x3.png",
    "strip": "strip_3x4000.png",
    "blank": "blank_page.png",
    "gray16_png": "gray16.png",
    "gray16_tiff": "gray16.tif",
    "rgb16_tiff": "rgb16.tif",
    "rgba_transparent": "rgba_transparent.png",
    "palette": "palette.png",
    "palette_transparent": "palette_transparent.png",
    "cmyk_jpeg": "cmyk.jpg",
    "exif_rotated": "exif_rotated.jpg",
    "animated_gif": "animated.gif",
    "float_nan": "float_nan.tif",
    "bilevel_multipage": "bilevel_pages.tif",
    "unicode": "skizze ü 日本.png",
    "spaced": "my scan 01.png",
    "upper_png": "UPPER.PNG",
    "upper_jpeg": "PHOTO.JPG",
    "jpeg_named_png": "jpeg_inside.png",
    "webp": "drawing.webp",
    "bmp": "drawing.bmp",
    "la": "gray_alpha.png",
}


def line_drawing(height: int = 96, width: int = 128, *, paper: float = 0.85,
                 ink: float = 0.15) -> np.ndarray:
    """An analytic line drawing: anti-aliased strokes and circles on paper, float32.

    Every pixel's darkness is the coverage of the nearest stroke, computed from
    exact distances (no randomness), so the same call always gives the same image.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    h, w = float(height), float(width)
    distances = []
    for cy, cx, r in ((0.45, 0.35, 0.25), (0.6, 0.7, 0.18)):
        distances.append(np.abs(np.hypot(y - cy * h, x - cx * w) - r * min(h, w)))
    for (y0, x0), (y1, x1) in (((0.1, 0.05), (0.9, 0.95)), ((0.85, 0.1), (0.15, 0.6)),
                               ((0.2, 0.9), (0.8, 0.55))):
        p0, p1 = np.array([y0 * h, x0 * w]), np.array([y1 * h, x1 * w])
        d = p1 - p0
        t = np.clip(((y - p0[0]) * d[0] + (x - p0[1]) * d[1]) / (d @ d), 0, 1)
        distances.append(np.hypot(y - (p0[0] + t * d[0]), x - (p0[1] + t * d[1])))
    nearest = np.min(distances, axis=0)
    coverage = np.clip(1.6 - nearest, 0.0, 1.0)  # strokes ~3 px wide, 1 px soft edge
    return (paper + (ink - paper) * coverage).astype(np.float32)


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split PNG bytes into (type, data) chunks (no CRC check)."""
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunks.append((kind, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Join (type, data) chunks into PNG bytes with correct lengths and CRCs."""
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, payload in chunks:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        out.append(struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc))
    return b"".join(out)


def _ihdr(width: int, height: int, bit_depth: int = 8, colour_type: int = 0) -> bytes:
    return struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)


def _u8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _u16(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 65535).astype(np.uint16)


def _save(image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **options)
    return buf.getvalue()


def build_corpus(folder) -> dict:
    """Write the corpus into ``folder`` (created if needed) and describe it.

    Returns
    -------
    dict
        ``{"broken": [Path, ...], "unusual": [Path, ...], "files": {key: Path},
        "shapes": {Path: (H, W)}}``; see the module docstring.
    """
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(9)
    drawing = line_drawing(40, 56)
    gray8 = Image.fromarray(_u8(drawing))
    noisy = _u8(np.clip(drawing + rng.normal(0, 0.1, drawing.shape), 0, 1))
    noisy_png = _save(Image.fromarray(np.tile(noisy, (4, 4))), "PNG")
    noisy_jpeg = _save(Image.fromarray(np.tile(noisy, (4, 4))), "JPEG", quality=90)
    content: dict[str, bytes | None] = {}
    shapes: dict[str, tuple[int, int]] = {}

    # --- broken
    content["empty"] = b""
    content["text"] = b"Shopping list:\n- paper\n- ink\nThis is not a PNG.\n"
    content["truncated_png"] = noisy_png[: len(noisy_png) // 2]
    content["truncated_jpeg"] = noisy_jpeg[: len(noisy_jpeg) // 2]
    chunks = png_chunks(noisy_png)
    broken_chunks = []
    for kind, payload in chunks:
        if kind == b"IDAT":
            middle = len(payload) // 2
            payload = payload[:middle] + b"\xff" * 64 + payload[middle + 64:]
        broken_chunks.append((kind, payload))
    content["corrupt_idat"] = png_bytes(broken_chunks)  # CRCs valid, zlib stream broken
    content["random"] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    rows = zlib.compress(b"\x00" * (60000 + 1) * 4)
    content["bomb"] = png_bytes([(b"IHDR", _ihdr(60000, 60000)), (b"IDAT", rows),
                                 (b"IEND", b"")])
    content["svg"] = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                      b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">'
                      b'<path d="M2 2 L38 28" stroke="black"/></svg>\n')
    content["pdf"] = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>"
                      b"\n%%EOF\n")
    content["folder"] = None

    # --- unusual
    content["tiny"] = _save(Image.fromarray(np.array([[77]], np.uint8)), "PNG")
    shapes["tiny"] = (1, 1)
    content["small"] = _save(Image.fromarray(_u8(drawing[:2, :3])), "PNG")
    shapes["small"] = (2, 3)
    strip = _u8(np.tile(line_drawing(3, 200), (1, 20)))
    content["strip"] = _save(Image.fromarray(strip), "PNG")
    shapes["strip"] = (3, 4000)
    content["blank"] = _save(Image.new("L", (56, 40), 255), "PNG")
    shapes["blank"] = (40, 56)
    ramp16 = (np.arange(40 * 56, dtype=np.uint32) * 29 % 65536).astype(np.uint16).reshape(40, 56)
    content["gray16_png"] = _save(Image.fromarray(ramp16), "PNG")
    content["gray16_tiff"] = _save(Image.fromarray(ramp16), "TIFF")
    shapes["gray16_png"] = shapes["gray16_tiff"] = (40, 56)
    import tifffile

    rgb16 = np.dstack([ramp16, ramp16[::-1], 65535 - ramp16])
    buf = io.BytesIO()
    tifffile.imwrite(buf, rgb16, photometric="rgb")
    content["rgb16_tiff"] = buf.getvalue()
    shapes["rgb16_tiff"] = (40, 56)
    rgba = np.zeros((40, 56, 4), np.uint8)
    rgba[..., 3] = np.where(drawing < 0.5, 255, 0)  # only the strokes are opaque
    content["rgba_transparent"] = _save(Image.fromarray(rgba, "RGBA"), "PNG")
    shapes["rgba_transparent"] = (40, 56)
    palette = gray8.convert("RGB").quantize(colors=8)
    content["palette"] = _save(palette, "PNG")
    content["palette_transparent"] = _save(palette, "PNG", transparency=0)
    shapes["palette"] = shapes["palette_transparent"] = (40, 56)
    cmyk = np.dstack([_u8(1 - drawing)] * 2 + [np.zeros((40, 56), np.uint8),
                                               _u8((1 - drawing) / 2)])
    content["cmyk_jpeg"] = _save(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95)
    shapes["cmyk_jpeg"] = (40, 56)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a person sees it rotated 90 degrees clockwise
    content["exif_rotated"] = _save(gray8.convert("RGB"), "JPEG", quality=95, exif=exif)
    shapes["exif_rotated"] = (56, 40)
    frames = [gray8.convert("P"), Image.fromarray(_u8(drawing[::-1])).convert("P")]
    content["animated_gif"] = _save(frames[0], "GIF", save_all=True, append_images=frames[1:],
                                    duration=100, loop=0)
    shapes["animated_gif"] = (40, 56)
    float_image = drawing.copy()
    float_image[3:6, 4:9] = np.nan
    float_image[10, 10] = np.inf
    content["float_nan"] = _save(Image.fromarray(float_image, "F"), "TIFF")
    shapes["float_nan"] = (40, 56)
    page1 = Image.fromarray(drawing > 0.5).convert("1")
    page2 = Image.fromarray(drawing[::-1] > 0.5).convert("1")
    content["bilevel_multipage"] = _save(page1, "TIFF", save_all=True, append_images=[page2],
                                         compression="group4")
    shapes["bilevel_multipage"] = (40, 56)
    plain_png = _save(gray8, "PNG")
    for key in ("unicode", "spaced", "upper_png"):
        content[key] = plain_png
        shapes[key] = (40, 56)
    content["upper_jpeg"] = _save(gray8, "JPEG", quality=95)
    content["jpeg_named_png"] = content["upper_jpeg"]
    content["webp"] = _save(gray8.convert("RGB"), "WEBP", lossless=True)
    content["bmp"] = _save(gray8.convert("RGB"), "BMP")
    la = np.dstack([_u8(drawing), np.full((40, 56), 200, np.uint8)])
    content["la"] = _save(Image.fromarray(la, "LA"), "PNG")
    for key in ("upper_jpeg", "jpeg_named_png", "webp", "bmp", "la"):
        shapes[key] = (40, 56)

    files: dict[str, Path] = {}
    for key, name in {**BROKEN, **UNUSUAL}.items():
        path = folder / name
        if content[key] is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(content[key])
        files[key] = path
    return {
        "broken": [files[k] for k in BROKEN],
        "unusual": [files[k] for k in UNUSUAL],
        "files": files,
        "shapes": {files[k]: shape for k, shape in shapes.items()},
    }
