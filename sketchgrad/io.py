"""Reading scans and writing PNG outputs.

``load_scan`` turns a scan file into a float32 image in [0, 1]. Writing
PNG outputs lives in :mod:`sketchgrad.png`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import ParameterError, ScanError

__all__ = ["Scan", "ScanMeta", "load_scan", "DEFAULT_MAX_PIXELS"]

#: Largest image accepted by default: a 1200-dpi A3 scan (14032 x 19842) fits.
DEFAULT_MAX_PIXELS = 300_000_000

# ITU-R BT.601 luma, the weights Pillow's ``convert("L")`` uses, applied in float.
LUMA_BT601 = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ScanMeta:
    """What is known about where a scan came from.

    Attributes
    ----------
    source : str
        The path (or ``"<stream>"`` for a file object).
    size : tuple of int
        Original ``(width, height)`` in the file, before orientation.
    mode : str
        The Pillow mode of the file (``"L"``, ``"RGB"``, ``"I;16"``, ...).
    bit_depth : int
        Bits per sample in the file.
    dpi : tuple of float or None
        Resolution in dots per inch, when the file records it.
    orientation : int
        EXIF orientation tag that was applied (1 = none).
    page : int
        Page (frame) index that was read.
    format : str or None
        The format Pillow detected from the content.
    """

    source: str
    size: tuple[int, int]
    mode: str
    bit_depth: int
    dpi: tuple[float, float] | None = None
    orientation: int = 1
    page: int = 0
    format: str | None = None


@dataclass
class Scan:
    """A loaded scan: a float32 image in [0, 1] and its metadata.

    Attributes
    ----------
    image : ndarray
        float32, shape (H, W) for ``mode="gray"`` or (H, W, 3) for ``mode="rgb"``.
    meta : ScanMeta
        Where the image came from.
    """

    image: np.ndarray
    meta: ScanMeta = field(repr=False)


_BITS = {"1": 1, "L": 8, "P": 8, "LA": 8, "RGB": 8, "RGBA": 8, "CMYK": 8, "YCbCr": 8,
         "I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32, "PA": 8, "La": 8, "RGBa": 8}


def load_scan(
    path: str | os.PathLike | BinaryIO,
    *,
    mode: str = "gray",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    page: int = 0,
) -> Scan:
    """Load a scanned drawing as a float32 image in [0, 1].

    Parameters
    ----------
    path : str, path-like or binary file object
        The scan. The format is read from the content, not the name.
    mode : {"gray", "rgb"}
        ``"gray"`` gives (H, W) using ITU-R BT.601 luma (0.299 R + 0.587 G +
        0.114 B, as Pillow's ``convert("L")``) computed in float; ``"rgb"`` gives (H, W, 3).
    max_pixels : int or None
        Refuse images with more pixels than this, judged from the header
        before decoding. ``None`` disables the guard.
    page : int
        Page (frame) of a multi-page file.

    Returns
    -------
    Scan
        ``image`` and ``meta``. EXIF orientation is applied; transparent
        pixels are composited over white paper.

    Raises
    ------
    ScanError
        If the file is missing, a folder, not an image, corrupt or too large.

    Examples
    --------
    >>> import io as _io
    >>> from PIL import Image
    >>> buf = _io.BytesIO()
    >>> Image.new("L", (4, 2), 255).save(buf, format="PNG")
    >>> scan = load_scan(buf)
    >>> scan.image.shape, scan.image.dtype, float(scan.image.max())
    ((2, 4), dtype('float32'), 1.0)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if mode not in ("gray", "rgb"):
        raise ParameterError(f"mode={mode!r} is not known; choose one of: 'gray', 'rgb'")
    name = str(path) if isinstance(path, str | os.PathLike) else "<stream>"
    if isinstance(path, str | os.PathLike):
        p = Path(path)
        if p.is_dir():
            raise ScanError(f"{name}: is a folder, not an image file; give the files inside it")
        if not p.exists():
            raise ScanError(f"{name}: no such file; check the path")
    try:
        with Image.open(path) as im:
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise ScanError(
                    f"{name}: {width}x{height} = {width * height} pixels is over max_pixels="
                    f"{max_pixels}; raise max_pixels (--max-pixels) if you trust this file")
            try:
                im.seek(page)
            except EOFError:
                raise ScanError(f"{name}: has no page {page}; pages start at 0") from None
            src_mode, fmt = im.mode, im.format
            orientation = int(im.getexif().get(0x0112, 1) or 1)
            dpi = im.info.get("dpi")
            im.load()
            im = ImageOps.exif_transpose(im)
            image = _to_float(im, mode)
    except ScanError:
        raise
    except UnidentifiedImageError:
        raise ScanError(f"{name}: not an image file sketchgrad can read "
                        "(PNG, JPEG, TIFF, BMP, WebP, GIF)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ScanError(f"{name}: cannot be decoded ({exc}); the file may be truncated "
                        "or corrupt") from None
    if not np.isfinite(image).all():
        image = np.nan_to_num(image, nan=1.0, posinf=1.0, neginf=0.0)
    np.clip(image, 0.0, 1.0, out=image)
    meta = ScanMeta(source=name, size=(width, height), mode=src_mode,
                    bit_depth=_BITS.get(src_mode, 8),
                    dpi=tuple(float(d) for d in dpi) if dpi else None,
                    orientation=orientation, page=page, format=fmt)
    return Scan(image=image, meta=meta)


def _to_float(im, mode: str) -> np.ndarray:
    """Convert a Pillow image to float32 in [0, 1], compositing alpha over white."""
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("1", "L"):
        arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    elif im.mode.startswith("I;16"):
        arr = np.asarray(im, dtype=np.float32) / 65535.0
    elif im.mode == "I":
        arr = np.asarray(im, dtype=np.float32) / 65535.0
    elif im.mode == "F":
        arr = np.asarray(im, dtype=np.float32)
    else:
        if im.mode in ("LA", "RGBA", "PA", "La", "RGBa"):
            rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
            alpha = rgba[..., 3:4]
            arr = rgba[..., :3] * alpha + (1.0 - alpha)
        else:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    if mode == "gray" and arr.ndim == 3:
        r, g, b = LUMA_BT601
        arr = (arr[..., 0] * np.float32(r) + arr[..., 1] * np.float32(g)
               + arr[..., 2] * np.float32(b))
    elif mode == "rgb" and arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr, dtype=np.float32)
