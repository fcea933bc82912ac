"""Reading scans (PNG, JPEG, TIFF, BMP, WebP, GIF) as float32 in [0, 1], and sniffing image files.

``load_scan`` turns a scan file into a float32 image in [0, 1] and says where
it came from (:class:`ScanMeta`). Writing PNG outputs lives in
:mod:`sketchgrad.png`.

Decoding is done by Pillow; two kinds of files Pillow would quantise or cannot
open are decoded elsewhere so that no precision is lost: 16-bit RGB(A) and
grey+alpha PNGs (OpenCV, after Pillow has checked the file whole) and TIFFs with
more than 8 bits per sample in several channels, float RGB or 32-bit integer
samples (tifffile).
"""

from __future__ import annotations

import io
import logging
import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import ahead
from .arrays import rgb_luma
from .errors import ParameterError, ScanError, choose

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = ["Scan", "ScanMeta", "NativeImage", "load_scan", "as_image", "as_native",
           "DEFAULT_MAX_PIXELS", "LUMA_BT601",
           "SUPPORTED_FORMATS", "RANGE_SLACK", "IMAGE_SUFFIXES", "REPORTED_SUFFIXES",
           "looks_like_image"]

#: Largest image accepted by default (300 million pixels). A 1200-dpi A3 scan
#: (14032 x 19843 = 278 MP) fits; a header claiming more is refused before decoding.
DEFAULT_MAX_PIXELS = 300_000_000

#: ITU-R BT.601 luma weights (R, G, B), the ones Pillow's ``convert("L")`` uses,
#: applied here in float32 to samples scaled to [0, 1] (never via 8 bits), as
#: ``R + 0.587 (G - R) + 0.114 (B - R)`` (see :func:`sketchgrad.luma`).
LUMA_BT601 = (0.299, 0.587, 0.114)

#: The file formats ``load_scan`` reads (detected from the content).
SUPPORTED_FORMATS = ("PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF")

_SUPPORTED_TEXT = "PNG, JPEG, TIFF, BMP, WebP or GIF"
_HEAD_BYTES = 4096
_BLOCK_SAMPLES = 1 << 22  # samples converted per block: bounds temporaries to ~16 MB
_LUT8 = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32).reshape(1, 256)


@dataclass(frozen=True)
class ScanMeta:
    """What is known about where a scan came from.

    Attributes
    ----------
    source : str
        The path as given (or the file object's name, or ``"<stream>"``).
    size : tuple of int
        Original ``(width, height)`` of the page in the file, before orientation.
    mode : str
        The file's pixel layout as Pillow names it (``"L"``, ``"RGB"``,
        ``"I;16"``, ``"F"``, ...); ``"RGB;16"``-style names for layouts only
        tifffile or OpenCV decode.
    bit_depth : int
        Bits per sample in the file (1, 8, 16, 32, 64).
    dpi : tuple of float or None
        Resolution in dots per inch, when the file records it.
    orientation : int
        EXIF/TIFF orientation tag (1-8) that was applied; 1 = none.
    page : int
        Page (frame) index that was read.
    format : str or None
        The format detected from the content (``"PNG"``, ``"JPEG"``, ...).
    nonfinite : int
        Number of pixels that were NaN or infinite in a float file and were
        replaced (see :func:`load_scan`).
    """

    source: str
    size: tuple[int, int]
    mode: str
    bit_depth: int
    dpi: tuple[float, float] | None = None
    orientation: int = 1
    page: int = 0
    format: str | None = None
    nonfinite: int = 0


class NativeImage:
    """A scan's samples as its file stores them, read as float32 in [0, 1] a region at a time.

    Holding a 278-megapixel 8-bit scan as float32 takes 1.1 GB; its samples take
    278 MB. The streaming pipeline keeps a ``NativeImage`` and converts each
    tile (with its halo) as it is cut, by the code :func:`load_scan` uses for
    the whole image, so every float value is the one ``load_scan`` would have
    given (uint8 ``v`` -> ``float32(v / 255)``, uint16 -> ``float32(v / 65535)``,
    bool -> 0 and 1).

    Parameters
    ----------
    samples : ndarray
        (H, W) grey samples (uint8, uint16 or bool), or (H, W, 3) RGB samples
        (uint8 or uint16); a view (a rotated page) is read where it is.
    mode : {"gray", "rgb"}
        What a region reads as: (h, w) grey (RGB samples as their BT.601 luma,
        :func:`sketchgrad.luma`) or (h, w, 3) RGB (grey samples repeated).

    Attributes
    ----------
    samples : ndarray
        The stored samples.
    shape : tuple of int
        The float image's shape, (H, W) or (H, W, 3).

    Notes
    -----
    Only conversions that are exact per pixel are deferred: integer grey, and
    integer RGB read as RGB or as its luma (computed pixel by pixel, so a
    region's values do not depend on the region). A transparent file
    (composited over paper), CMYK and float or 32-bit samples are converted
    whole by :func:`load_scan`.

    Examples
    --------
    >>> lazy = NativeImage(np.array([[0, 51], [255, 102]], np.uint8))
    >>> lazy.shape, lazy[1:, :].tolist()
    ((2, 2), [[1.0, 0.4000000059604645]])
    >>> np.asarray(lazy).dtype
    dtype('float32')
    """

    def __init__(self, samples: np.ndarray, mode: str = "gray") -> None:
        choose(dict.fromkeys(("gray", "rgb")), mode, "mode")
        if samples.dtype not in _NATIVE_DTYPES:
            raise ParameterError(f"samples of dtype {samples.dtype} are not kept native; give "
                                 "uint8, uint16 or bool samples (or use as_image for floats)")
        colour = samples.ndim == 3 and samples.shape[2] == 3 and samples.dtype != bool
        if not (samples.ndim == 2 or colour):
            raise ParameterError(f"samples of shape {samples.shape} and dtype {samples.dtype}: "
                                 "give (H, W) grey samples, or (H, W, 3) 8- or 16-bit RGB "
                                 "samples")
        self.samples = samples
        self.layout = "RGB" if colour else "L"
        self.mode = mode
        self.shape = samples.shape[:2] + ((3,) if mode == "rgb" else ())

    @property
    def ndim(self) -> int:
        """Dimensions of the float image (2 grey, 3 RGB)."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Values in the float image."""
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        """Bytes the stored samples take."""
        return int(self.samples.nbytes)

    def __repr__(self) -> str:
        """Shape and stored dtype; never the samples."""
        return f"NativeImage(shape={self.shape}, samples={self.samples.dtype})"

    def __getitem__(self, key: Any) -> NDArray[np.float32]:
        """float32 of the region ``key`` (slices or integers of rows, columns, channel)."""
        key = key if isinstance(key, tuple) else (key,)
        spatial, rest = list(key[:2]), key[2:]
        drop = []
        for axis, index in enumerate(spatial):
            if isinstance(index, int | np.integer):  # keep the axis, drop it after converting
                index = int(index) + (self.shape[axis] if index < 0 else 0)
                spatial[axis] = slice(index, index + 1)
                drop.append(axis)
        samples = self.samples[tuple(spatial)]
        if samples.size == 0:  # OpenCV's look-up table refuses an empty array
            region = np.empty(samples.shape[:2] + self.shape[2:], np.float32)
        else:
            region, _ = _to_float(samples, self.layout, self.mode)
        if drop:
            region = region[tuple(0 if axis in drop else slice(None)
                                  for axis in range(len(spatial)))]
        return region[(slice(None),) * (2 - len(drop)) + rest] if rest else region

    def to_float(self) -> np.ndarray:
        """The whole image as float32 in [0, 1] (a new array; colour on every core)."""
        return _to_float(self.samples, self.layout, self.mode, threads=os.cpu_count() or 1)[0]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        """The whole image, so NumPy functions read it as float32 in [0, 1]."""
        image = self.to_float()
        return image if dtype is None else image.astype(dtype, copy=False)


_NATIVE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(bool))


@dataclass
class Scan:
    """A loaded scan: a float32 image in [0, 1] and its metadata.

    Attributes
    ----------
    image : ndarray or NativeImage
        float32, shape (H, W) for ``mode="gray"`` or (H, W, 3) for ``mode="rgb"``;
        with ``load_scan(dtype="native")`` possibly a :class:`NativeImage` (the
        file's samples, read as that float32 a region at a time).
    meta : ScanMeta
        Where the image came from.
    """

    image: NDArray[np.float32] | NativeImage
    meta: ScanMeta = field(repr=False)


@dataclass(eq=False, repr=False)  # records of arrays: no == (ambiguous) or repr
class _Decoded:
    """Samples as stored in the file (native dtype), before conversion to float."""

    samples: NDArray[Any]  # (H, W) or (H, W, C)
    layout: str  # "L", "LA", "RGB", "RGBA" or "CMYK"
    mode: str
    bit_depth: int
    size: tuple[int, int]
    format: str
    dpi: tuple[float, float] | None = None
    orientation: int = 1


def load_scan(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    mode: str = "gray",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    page: int = 0,
    dtype: str = "float32",
) -> Scan:
    """Load a scanned drawing as a float32 image in [0, 1].

    Parameters
    ----------
    path : str, path-like or binary file object
        The scan. The format is read from the content, not the name, so JPEG
        data behind a ``.png`` name loads. A file object must be opened in
        binary mode; it is read from its start (as Pillow does) and not closed.
    mode : {"gray", "rgb", "auto"}
        ``"gray"`` gives (H, W) as ITU-R BT.601 luma, ``0.299 R + 0.587 G +
        0.114 B`` (Pillow's ``convert("L")`` weights, :data:`LUMA_BT601`)
        computed in float32 from the samples scaled to [0, 1], pixel by pixel
        (:func:`sketchgrad.luma`: a grey drawing stored as RGB gives exactly
        the grey file's values); the samples themselves for a grey file.
        ``"rgb"`` gives (H, W, 3) (grey files are repeated into the three
        channels); ``"auto"`` gives what the file holds:
        (H, W) for a grey file (with or without alpha), exactly as ``"gray"``,
        and (H, W, 3) for a colour one (RGB, palette, CMYK), exactly as
        ``"rgb"`` -- what ``sketchgrad run`` loads, so a grey file costs no
        more memory than before and a colour one keeps its colour.
    max_pixels : int or None
        Refuse an image with more pixels than this, judged from the file's
        header before any pixel is decoded. The default,
        :data:`DEFAULT_MAX_PIXELS` (300 million), admits a 1200-dpi A3 scan.
        ``None`` disables the guard. Pillow's own ``MAX_IMAGE_PIXELS`` check is
        replaced by this one.
    page : int
        Page (frame) of a multi-page TIFF or an animated GIF/WebP, from 0.
    dtype : {"float32", "native"}
        ``"native"`` keeps 8-bit, 16-bit and 1-bit grey samples (and 8- or
        16-bit RGB samples, read as RGB or as their luma) as the file stores
        them, in a :class:`NativeImage` that the streaming pipeline converts
        tile by tile to exactly the float32 values ``"float32"`` gives (1 to 6
        bytes per pixel held instead of 4 or 12). Other files (transparency,
        CMYK, float or 32-bit samples) are converted whole, as with
        ``"float32"``.

    Returns
    -------
    Scan
        ``image`` (float32, C-contiguous, values in [0, 1]) and ``meta``.

    Raises
    ------
    ScanError
        If the file is missing, a folder, empty, not an image (PDF, SVG, text,
        ...), truncated, corrupt, has no such page or is larger than
        ``max_pixels``. The message names the file and says what to do.
    ParameterError
        If ``mode``, ``max_pixels`` or ``page`` is invalid.

    Notes
    -----
    How samples become [0, 1]: integers are divided by the largest value of
    their type (255 for 8-bit, 65535 for 16-bit, so 16-bit precision is kept:
    a 16-bit sample ``v`` gives exactly ``float32(v / 65535)``); 1-bit gives 0
    and 1; float samples are taken as they are, then clipped to [0, 1].
    Non-finite float samples never reach the image: NaN and +inf become 1.0
    (paper), -inf becomes 0.0 (ink); ``meta.nonfinite`` counts such pixels.

    The EXIF (or TIFF) orientation tag is applied, so the image is the right
    way up. Transparent pixels are composited over white paper
    (``value * alpha + (1 - alpha)``, in float). Palette images are expanded
    through their palette (with its transparency); CMYK becomes RGB as
    ``(1 - C) (1 - K)`` etc., the formula of Pillow's ``convert("RGB")``
    without its 8-bit rounding (ICC profiles are not applied).

    Examples
    --------
    >>> import io as _io
    >>> from PIL import Image
    >>> buf = _io.BytesIO()
    >>> Image.new("L", (4, 2), 255).save(buf, format="PNG")
    >>> scan = load_scan(buf)
    >>> scan.image.shape, scan.image.dtype, float(scan.image.max())
    ((2, 4), dtype('float32'), 1.0)
    >>> scan.meta.format, scan.meta.bit_depth
    ('PNG', 8)
    """
    choose(dict.fromkeys(("gray", "rgb", "auto")), mode, "mode")
    choose(dict.fromkeys(("float32", "native")), dtype, "dtype")
    if max_pixels is not None and (isinstance(max_pixels, bool)
                                   or not isinstance(max_pixels, int | np.integer)
                                   or max_pixels < 1):
        raise ParameterError(f"max_pixels={max_pixels!r} must be a positive integer "
                             "(or None to accept any size)")
    if isinstance(page, bool) or not isinstance(page, int | np.integer) or page < 0:
        raise ParameterError(f"page={page!r} must be an integer >= 0 (the first page is 0)")
    page = int(page)
    with _open_source(path) as (fp, name):
        # the command may have decoded this file already, in a thread (sketchgrad.ahead)
        early = ahead.take(fp) if isinstance(path, str | os.PathLike) and not page else None
        decoded = _decode(fp, name, max_pixels, page, early)
    samples = _ORIENT[decoded.orientation](decoded.samples)
    if mode == "auto":
        mode = "gray" if decoded.layout in ("L", "LA") else "rgb"
    nonfinite = 0
    if dtype == "native" and samples.dtype in _NATIVE_DTYPES and decoded.layout in ("L", "RGB"):
        image: NDArray[np.float32] | NativeImage = NativeImage(samples, mode)
    else:
        image, nonfinite = _to_float(samples, decoded.layout, mode)
    meta = ScanMeta(source=name, size=decoded.size, mode=decoded.mode,
                    bit_depth=decoded.bit_depth, dpi=decoded.dpi,
                    orientation=decoded.orientation, page=page, format=decoded.format,
                    nonfinite=nonfinite)
    return Scan(image=image, meta=meta)


# --------------------------------------------------------------------------- arrays

#: How far outside [0, 1] a float image may stray and still count as in range
#: (float rounding of computed values); such values are brought back to the
#: ends. Ten times below half an 8-bit level (0.002), so real out-of-range data is never
#: mistaken for rounding.
RANGE_SLACK = 1e-4

_INTEGER_HINT = ("convert it first: image.astype(np.uint8) if its values are 0-255, "
                 "image.astype(np.uint16) if 0-65535, or floats in [0, 1] "
                 "(image / 255 for 8-bit values)")


def as_image(image: ArrayLike | Scan, *, name: str = "image",
             finite: bool = True) -> NDArray[np.float32]:
    """The one input rule: any array a user has -> float32 in [0, 1], or a clear error.

    Every public function of sketchgrad that takes an image calls this at its
    entry, so the same picture gives the same result whatever its dtype.

    Parameters
    ----------
    image : array_like or Scan
        (H, W) grey, (H, W, 1) grey, (H, W, 3) RGB or (H, W, 4) RGBA. A
        :class:`Scan` gives its ``image``.
    name : str
        The parameter's name, used in error messages.
    finite : bool
        With ``False``, NaN and infinite values are let through (for a caller
        that masks them out); the range is then judged on the finite values.

    Returns
    -------
    ndarray
        float32, (H, W) or (H, W, 3), values in [0, 1]. A float32 input in
        range is returned as it is (no copy); only then may the result be the
        caller's array, so a caller that writes must copy first.

    Raises
    ------
    ParameterError
        Another dtype (int64, complex, object, ...: named, with the fix), float
        values outside [0, 1] by more than :data:`RANGE_SLACK` (the range found
        and the fix, e.g. "divide by 255"), a shape other than the four above
        (named), no pixels, or non-finite values (how many).

    Notes
    -----
    uint8 is divided by 255, uint16 by 65535 (exactly as :func:`load_scan`
    scales 8- and 16-bit files), bool gives 0 and 1, float16/32/64 in [0, 1]
    become float32. Values are never clipped silently: floats a little outside
    [0, 1] (at most ``RANGE_SLACK``, rounding) are set to the ends, anything
    further is an error. (H, W, 1) is grey; (H, W, 4) is composited over
    white paper, ``rgb * alpha + (1 - alpha)``, by the code :func:`load_scan`
    uses for transparent files. The range check reads the minimum and maximum
    in place: no full-size float64 copy is made.

    Examples
    --------
    >>> u8 = np.array([[0, 51, 255]], np.uint8)
    >>> as_image(u8).tolist()
    [[0.0, 0.20000000298023224, 1.0]]
    >>> f = np.zeros((2, 2), np.float32)
    >>> as_image(f) is f
    True
    >>> as_image(np.array([[0.0, 200.0]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sketchgrad.errors.ParameterError: image has float values from 0 to 200, ...; divide by 255 ...
    """
    if isinstance(image, Scan):
        image = image.image
    if isinstance(image, NativeImage):
        return image.to_float()
    if isinstance(image, str | bytes | os.PathLike):
        raise ParameterError(f"{name}={image!r} is a path, not an image array; load it "
                             "first: load_scan(path)")
    try:
        arr = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} of type {type(image).__name__} is not an image array "
                             f"({exc}); give a NumPy array or a Scan") from None
    kind = arr.dtype.kind
    if kind == "O" or kind not in "biuf":
        raise ParameterError(f"{name} of type {type(image).__name__} with dtype {arr.dtype} "
                             "is not an image; give a NumPy array of uint8, uint16, bool or "
                             "floats in [0, 1] (or a Scan from load_scan)")
    if kind in "iu" and arr.dtype not in (np.uint8, np.uint16):
        raise ParameterError(f"{name} of dtype {arr.dtype} is not read as an image (only "
                             f"uint8, uint16, bool and floats have a fixed scale); "
                             f"{_INTEGER_HINT}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise ParameterError(f"{name} of shape {arr.shape} is not an image; give (H, W) grey, "
                             "(H, W, 1) grey, (H, W, 3) RGB or (H, W, 4) RGBA with channels "
                             "last")
    if arr.size == 0:
        raise ParameterError(f"{name} of shape {arr.shape} is empty (no pixels); give an image of "
                             "at least 1x1")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    clip = False
    if kind == "f":
        clip = _check_range(arr, name, finite)
    if arr.ndim == 3 and arr.shape[2] == 4:
        image, _ = _to_float(arr, "RGBA", "rgb")  # load_scan's compositing, block by block
        return image
    if kind == "f":
        out = arr if arr.dtype == np.float32 else arr.astype(np.float32)
        if clip:
            out = np.clip(out, 0.0, 1.0, out=None if out is arr else out)
        return out
    return _scale(arr)


def as_native(image: ArrayLike | Scan | NativeImage, *,
              name: str = "image") -> NDArray[np.float32] | NativeImage:
    """The input rule, with grey integer samples kept as they are for tile-by-tile reading.

    A :class:`NativeImage` (or a Scan holding one) is returned as it is; a uint8,
    uint16 or bool (H, W) or (H, W, 1) array becomes a :class:`NativeImage` of it
    (no copy); anything else is :func:`as_image`'s float32 result. A region of
    the result reads as the same float32 values :func:`as_image` gives.

    Examples
    --------
    >>> as_native(np.zeros((2, 3), np.uint16))
    NativeImage(shape=(2, 3), samples=uint16)
    >>> as_native(np.zeros((2, 3), np.float32)).dtype
    dtype('float32')
    """
    if isinstance(image, Scan):
        image = image.image
    if isinstance(image, NativeImage):
        return image
    if isinstance(image, np.ndarray) and image.dtype in _NATIVE_DTYPES and image.size and (
            image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1)):
        return NativeImage(image[..., 0] if image.ndim == 3 else image)
    return as_image(image, name=name)


def _check_range(arr: NDArray[Any], name: str, finite: bool) -> bool:
    """Raise unless the float ``arr`` lies in [0, 1] (give or take RANGE_SLACK).

    Returns whether values sit in the slack outside [0, 1] (to be set to the ends).
    """
    low, high = float(np.min(arr)), float(np.max(arr))  # no copy; NaN propagates
    if not (np.isfinite(low) and np.isfinite(high)):
        bad = ~np.isfinite(arr)
        if finite:
            count = int(np.count_nonzero(bad.any(axis=2) if bad.ndim == 3 else bad))
            raise ParameterError(f"{name} has {count} pixels with non-finite values (NaN or "
                                 "inf); replace them first (e.g. np.nan_to_num) or load the "
                                 "file with load_scan, which does")
        if bad.all():
            return False
        low = float(np.min(arr, where=~bad, initial=np.inf))
        high = float(np.max(arr, where=~bad, initial=-np.inf))
    if low >= -RANGE_SLACK and high <= 1.0 + RANGE_SLACK:
        return low < 0.0 or high > 1.0
    if low >= -RANGE_SLACK and high <= 255.0 + RANGE_SLACK and high > 1.5:
        fix = "divide by 255 (they look like 8-bit values)"
    elif low >= -RANGE_SLACK and high <= 65535.0 + RANGE_SLACK and high > 255.0:
        fix = "divide by 65535 (they look like 16-bit values)"
    else:
        fix = ("rescale them into [0, 1], e.g. (image - image.min()) / (image.max() - "
               "image.min()), or np.clip(image, 0, 1) if the excess is an artefact")
    raise ParameterError(f"{name} has float values from {low:.6g} to {high:.6g}, outside "
                         f"[0, 1]; {fix}")


# --------------------------------------------------------------------------- sources

@contextmanager
def _open_source(path: str | os.PathLike[str] | BinaryIO) -> Iterator[tuple[BinaryIO, str]]:
    """Yield a seekable binary file object and the name to use in messages."""
    if isinstance(path, str | os.PathLike):
        name = os.fsdecode(path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise ScanError(f"{name}: no such file; check the path") from None
        except OSError as exc:
            raise ScanError(f"{name}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISDIR(info.st_mode):
            raise ScanError(f"{name}: is a folder, not an image file; give the image "
                            "files inside it (the command line searches folders)")
        if not stat.S_ISREG(info.st_mode):
            raise ScanError(f"{name}: is not a regular file (a device, pipe or socket); "
                            "give an image file")
        try:
            fp = open(path, "rb")  # noqa: SIM115 - closed below
        except PermissionError:
            raise ScanError(f"{name}: permission denied; check the file's read "
                            "permission") from None
        except OSError as exc:
            raise ScanError(f"{name}: cannot be opened ({exc.strerror or exc})") from None
        with fp:
            yield fp, name
        return
    if not callable(getattr(path, "read", None)):
        raise ParameterError(f"path={path!r} is not a file name or a binary file object; "
                             "give a str, a pathlib.Path or a file opened with 'rb'")
    stream_name = getattr(path, "name", None)
    name = stream_name if isinstance(stream_name, str) else "<stream>"
    # BinaryIO is the contract, but a caller may pass a text file: say how to fix it.
    if isinstance(cast(object, path), io.TextIOBase):
        raise ParameterError(f"{name}: is a text-mode file object; open it with "
                             "open(..., 'rb')")
    try:
        if hasattr(path, "seekable") and path.seekable():
            path.seek(0)  # read from the start, as Pillow does
            data = None
        else:
            data = path.read()
    except (OSError, ValueError) as exc:
        raise ScanError(f"{name}: cannot be read ({exc})") from None
    if data is None:
        yield path, name
        return
    if not isinstance(data, bytes | bytearray):
        raise ParameterError(f"{name}: read() returned {type(data).__name__}, not "
                             "bytes; open the file in binary mode ('rb')")
    yield io.BytesIO(data), name


# --------------------------------------------------------------------------- decoding

def _decode(fp: BinaryIO, name: str, max_pixels: int | None, page: int,
            early: ahead.Early | None = None) -> _Decoded:
    head = fp.read(_HEAD_BYTES)
    if not isinstance(head, bytes | bytearray):
        raise ParameterError(f"{name}: read() returned {type(head).__name__}, not bytes; "
                             "open the file in binary mode ('rb')")
    fp.seek(0)
    if not head:
        raise ScanError(f"{name}: the file is empty (0 bytes); re-export or re-scan it")
    _refuse_known_non_images(head, name)
    from PIL import Image

    im, why = (early.image, "") if early is not None else \
        _pillow_open(fp, head, name, max_pixels)
    if im is None:
        if _is_tiff(head):
            return _decode_tifffile(fp, name, max_pixels, page, why)
        raise ScanError(_unidentified_message(name, head, why))
    with im:  # leaves fp open: it is ours (closed by _open_source) or the caller's
        fmt = im.format or "?"
        _check_pixels(im.size, name, max_pixels)
        try:
            if page:
                n_pages = _n_frames(im)
                if page >= n_pages:
                    raise ScanError(f"{name}: has no page {page}; it has {n_pages} page"
                                    f"{'s' if n_pages != 1 else ''} (pages count from 0)")
                im.seek(page)
                _check_pixels(im.size, name, max_pixels)
            rawmode = early.rawmode if early is not None else ahead.rawmode(im)
            if fmt == "TIFF" and _tiff_needs_tifffile(im, rawmode):
                return _decode_tifffile(fp, name, max_pixels, page, "")
            direct = _early_samples(early) if early is not None else \
                _decode_into_numpy(im, fmt) if not page else None
            with _allow_pillow_pixels(im.size[0] * im.size[1]):
                im.load()  # decodes; a truncated or corrupt file fails here
            decoded = _from_pillow(im, fmt, rawmode, name, direct)
            transparency = im.info.get("transparency")
        except ScanError:
            raise
        except Image.DecompressionBombError:
            raise ScanError(f"{name}: a frame of this {fmt} is larger than the image "
                            "it belongs to; the file is malformed") from None
        except Exception as exc:  # decoders raise many types on corrupt data
            raise ScanError(_corrupt_message(name, fmt, exc)) from None
    if rawmode in ahead.PNG_WIDE:
        shape = decoded.samples.shape[:2]
        decoded.samples = np.empty((0, 0), np.uint8)  # Pillow's 8 bits: freed before decoding
        samples = _decode_png16_colour(fp, name, shape)
        decoded.samples, decoded.layout = samples, "RGBA" if samples.shape[2] == 4 else "RGB"
        if decoded.layout == "RGB" and transparency is not None:
            decoded.samples, decoded.layout = _colour_key(samples, "RGB", transparency)
    return decoded


def _pillow_open(fp: BinaryIO, head: bytes, name: str, max_pixels: int | None,
                 ) -> tuple[ImageFile.ImageFile | None, str]:
    """Identify and open with Pillow's plugins for our formats, without its size check.

    ``Image.open`` warns or raises on sizes over ``PIL.Image.MAX_IMAGE_PIXELS``
    (a process-wide setting); ``load_scan`` applies its own ``max_pixels``
    instead, so the plugin classes are called directly, as ``Image.open`` does.
    """
    from PIL import Image

    _register_plugins(head)
    reasons = []
    for fmt in SUPPORTED_FORMATS:
        if fmt not in Image.OPEN:
            continue
        factory, accept = Image.OPEN[fmt]
        if fmt == "JPEG":
            from PIL import JpegImagePlugin

            factory = JpegImagePlugin.JpegImageFile  # first image of an MPO too, no warning
        try:
            accepted = accept is None or accept(head[:16])
        except Exception:  # noqa: BLE001 - a plugin's sniffing failed: not this format
            continue
        if accepted is True or (accepted and not isinstance(accepted, str)):
            pixels = 0
            if fmt == "WEBP":  # its decoder allocates the canvas on opening
                size = _webp_size(head)
                _check_pixels(size or (1, 1), name, max_pixels)
                pixels = size[0] * size[1] if size else 0
            fp.seek(0)
            try:
                with _allow_pillow_pixels(pixels):
                    return factory(fp, ""), ""
            except Exception as exc:  # noqa: BLE001 - reported by the caller
                reasons.append(f"not a valid {fmt} ({_short(exc)})")
        elif isinstance(accepted, str):
            reasons.append(accepted)
    return None, "; ".join(reasons)


def _register_plugins(head: bytes) -> None:
    """Import (so register) the Pillow plugins that may read a file starting with ``head``.

    A PNG or JPEG file needs its own plugin only: no other plugin accepts its
    first bytes, so trying the others would end as it ends without them, and
    importing them costs milliseconds per process (the JPEG plugin imports
    subprocess). Any other file gets every plugin of ``SUPPORTED_FORMATS``.
    """
    import importlib

    for magic, plugin, _ in ahead.PLUGIN_MAGIC:
        if head.startswith(magic):
            importlib.import_module(f"PIL.{plugin}")
            return
    from PIL import (
        BmpImagePlugin,  # noqa: F401 - registers the plugin
        GifImagePlugin,  # noqa: F401
        JpegImagePlugin,  # noqa: F401
        PngImagePlugin,  # noqa: F401
        TiffImagePlugin,  # noqa: F401
    )

    try:
        from PIL import WebPImagePlugin  # noqa: F401
    except ImportError:  # Pillow built without WebP
        pass


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from a WebP header (simple VP8/VP8L or extended VP8X)."""
    chunk = head[12:16]
    try:
        if chunk == b"VP8X":
            return (int.from_bytes(head[24:27], "little") + 1,
                    int.from_bytes(head[27:30], "little") + 1)
        if chunk == b"VP8L" and head[20:21] == b"\x2f":
            bits = int.from_bytes(head[21:25], "little")
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            return (int.from_bytes(head[26:28], "little") & 0x3FFF,
                    int.from_bytes(head[28:30], "little") & 0x3FFF)
    except (IndexError, ValueError):
        return None
    return None


def _n_frames(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except Exception:  # noqa: BLE001 - counting frames of a corrupt file
        return 1


def _tiff_needs_tifffile(im: Image.Image, rawmode: str) -> bool:
    """Pillow would lose precision: several channels over 8 bits, or 32-bit integers."""
    if im.mode == "I":
        return True
    bits: Any = im.tag_v2.get(258) if hasattr(im, "tag_v2") else None
    if isinstance(bits, tuple | list) and len(bits) > 1:
        return any(int(b) > 8 for b in bits)
    return im.mode not in ("1", "L", "P", "F") and not im.mode.startswith("I;16") and (
        bits is not None and int(bits) > 8)


def _decode_into_numpy(im: Image.Image, fmt: str) -> tuple[NDArray[Any], object] | None:
    """Let Pillow decode an 8- or 16-bit grey image straight into a new NumPy array.

    Returns (array, Pillow's core image), or None to decode as usual
    (:func:`sketchgrad.ahead.in_place_dtype` says which images can). The array
    holds the samples only if the core image is still the image's after
    ``load()`` (:func:`_pillow_samples` checks).
    """
    kind = ahead.in_place_dtype(im, fmt)
    if kind is None:
        return None
    width, height = im.size
    target = np.empty((height, width), kind)
    return target, ahead.decode_into(im, target)


def _early_samples(early: ahead.Early) -> tuple[NDArray[Any], object] | None:
    """The array over the buffer a scan decoded ahead went into (as _decode_into_numpy's)."""
    if early.buffer is None or early.dtype is None:
        return None
    width, height = early.image.size
    return np.frombuffer(early.buffer, early.dtype).reshape(height, width), early.core


def _from_pillow(im: Image.Image, fmt: str, rawmode: str, name: str,
                 direct: tuple[NDArray[Any], object] | None = None) -> _Decoded:
    mode = im.mode
    transparency = im.info.get("transparency")
    # Pillow < 10.3 opens 16-bit grey PNGs as 32-bit "I" (rawmode "I;16B"); the samples
    # are still 16-bit, so they are kept as uint16 and described as later Pillows do.
    wide_grey = mode == "I" and rawmode.startswith("I;16")
    if wide_grey:
        mode = "I;16"
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or transparency is not None
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif mode in ("La", "RGBa", "RGBX", "YCbCr"):
        im = im.convert({"La": "LA", "RGBa": "RGBA"}.get(mode, "RGB"))
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "CMYK", "F") and not mode.startswith("I;16"):
        raise ScanError(f"{name}: colour mode {mode!r} is not supported; export the image "
                        "as 8- or 16-bit RGB or greyscale")
    samples = _pillow_samples(im, direct)
    if wide_grey:
        samples = samples.astype(np.uint16)
    layout = {"1": "L", "L": "L", "F": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA",
              "CMYK": "CMYK"}.get(im.mode, "L")
    if transparency is not None and mode in ("L", "RGB") or (
            mode.startswith("I;16") and isinstance(transparency, int)):
        samples, layout = _colour_key(samples, layout, transparency)
    return _Decoded(samples=samples, layout=layout, mode=mode,
                    bit_depth=_bit_depth(mode, rawmode, samples.dtype),
                    size=im.size, format=fmt, dpi=_dpi(im.info.get("dpi")),
                    # Pillow turns a TIFF upright as it loads it (some versions still
                    # report the tag afterwards): applying it again would turn it twice
                    orientation=1 if fmt == "TIFF" else _orientation(im))


def _pillow_samples(im: Image.Image,
                    direct: tuple[NDArray[Any], object] | None = None) -> NDArray[Any]:
    """``np.asarray(im)``: the array Pillow decoded into, or a copy a strip of rows at a time.

    ``np.asarray`` goes through one ``tobytes()`` of the whole image (joined
    from chunks), so a large scan would be held two or three times over while
    it is copied; strips keep the extra to ``_BLOCK_SAMPLES`` samples.
    """
    if direct is not None and getattr(im, "_im", None) is direct[1]:
        return direct[0]  # decoded in place (_decode_into_numpy)
    width, height = im.size
    rows = max(1, _BLOCK_SAMPLES // max(1, width * len(im.getbands())))
    if rows >= height:
        return np.asarray(im)
    first = np.asarray(im.crop((0, 0, width, rows)))
    samples = np.empty((height,) + first.shape[1:], first.dtype)
    samples[:rows] = first
    for top in range(rows, height, rows):
        samples[top:top + rows] = np.asarray(im.crop((0, top, width, min(height, top + rows))))
    return samples


def _colour_key(samples: NDArray[Any], layout: str,
                key: object) -> tuple[NDArray[Any], str]:
    """A tRNS colour key: pixels equal to ``key`` are transparent (paper)."""
    if isinstance(key, int):
        key = (key,)
    if not (isinstance(key, tuple) and all(isinstance(k, int) for k in key)):
        return samples, layout
    key = np.asarray(key, dtype=np.int64)
    if samples.ndim == 2 and key.size == 1:
        alpha = samples != key[0]
    elif samples.ndim == 3 and key.size == samples.shape[2]:
        alpha = (samples != key).any(axis=2)
    else:
        return samples, layout
    top = np.iinfo(samples.dtype).max if samples.dtype.kind in "ui" else 1
    alpha = (alpha * top).astype(samples.dtype)
    if samples.ndim == 2:
        return np.dstack([samples, alpha]), "LA"
    return np.dstack([samples, alpha]), "RGBA"


def _decode_png16_colour(fp: BinaryIO, name: str,
                         shape: tuple[int, int]) -> NDArray[Any]:
    """16-bit colour/grey+alpha PNG samples (Pillow keeps only 8 bits of these).

    RGB, or RGBA for a file with alpha (grey+alpha comes as RGBA too), put in
    that order in place: the file's bytes and the decoded samples are the only
    copies held.
    """
    import cv2

    fp.seek(0)
    data = np.frombuffer(fp.read(), dtype=np.uint8)
    try:
        bgr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ScanError(_corrupt_message(name, "PNG", exc)) from None
    del data
    if bgr is None or bgr.dtype != np.uint16 or bgr.shape[:2] != shape or bgr.ndim != 3 \
            or bgr.shape[2] not in (3, 4):
        raise ScanError(f"{name}: the 16-bit PNG data cannot be decoded; the file may be "
                        "corrupt; re-export it")
    order = cv2.COLOR_BGR2RGB if bgr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    return cast("NDArray[Any]", cv2.cvtColor(bgr, order, dst=bgr))


_MAX_SAMPLES = 8  # grey/RGB/CMYK plus a few extra channels; more means a corrupt header
_QUIET = logging.NullHandler()  # added once: logging ignores a handler already present
_PHOTOMETRIC = {0: "MINISWHITE", 1: "MINISBLACK", 2: "RGB", 3: "PALETTE", 5: "SEPARATED"}


def _decode_tifffile(fp: BinaryIO, name: str, max_pixels: int | None, page: int,
                     why: str) -> _Decoded:
    """TIFF layouts Pillow cannot open, or would quantise, read with tifffile."""
    try:
        import tifffile

        # tifffile logs each oddity it meets; the ScanError below is the report.
        logging.getLogger("tifffile").addHandler(_QUIET)
    except ImportError:
        raise ScanError(f"{name}: this TIFF ({why or 'over 8 bits in several channels'}) "
                        "needs the tifffile package: pip install tifffile") from None
    fp.seek(0)
    try:
        with tifffile.TiffFile(fp) as tif:
            pages = tif.pages
            if page >= len(pages):
                raise ScanError(f"{name}: has no page {page}; it has {len(pages)} page"
                                f"{'s' if len(pages) != 1 else ''} (pages count from 0)")
            # a TiffFrame lacks most tags; the hasattr test below refuses it
            tiff_page: Any = pages[page]
            if not hasattr(tiff_page, "imagewidth"):
                raise ScanError(f"{name}: page {page} of this TIFF holds no image")
            width, height = int(tiff_page.imagewidth), int(tiff_page.imagelength)
            _check_pixels((width, height), name, max_pixels)
            per_pixel = int(tiff_page.samplesperpixel)
            depth = int(getattr(tiff_page, "imagedepth", 1) or 1)
            if per_pixel > _MAX_SAMPLES or depth != 1:
                raise ScanError(f"{name}: this TIFF page has {per_pixel} samples per pixel "
                                f"and depth {depth}; a scan has 1 to {_MAX_SAMPLES} samples "
                                "and depth 1 (the file may be corrupt)")
            photometric = int(tiff_page.photometric)
            samples = tiff_page.asarray()
            extra = tuple(int(e) for e in (tiff_page.extrasamples or ()))
            colormap = tiff_page.colormap
            bits = int(tiff_page.bitspersample)
            orientation = int(tiff_page.tags.valueof(274, 1) or 1)
            dpi = _tiff_dpi(tiff_page)
    except ScanError:
        raise
    except Exception as exc:  # tifffile raises many types on corrupt data
        message = _corrupt_message(name, "TIFF", exc)
        if "imagecodecs" in str(exc):
            message = (f"{name}: this TIFF's compression needs the imagecodecs package "
                       "(pip install imagecodecs), or re-save it with LZW or no compression")
        raise ScanError(message) from None
    samples, layout, mode = _arrange_tiff(samples, photometric, extra, colormap, bits,
                                          (height, width), name)
    return _Decoded(samples=samples, layout=layout, mode=mode, bit_depth=bits,
                    size=(width, height), format="TIFF", dpi=dpi,
                    orientation=orientation if orientation in _ORIENT else 1)


def _arrange_tiff(samples: NDArray[Any], photometric: int, extra: tuple[int, ...],
                  colormap: NDArray[Any] | None, bits: int, shape: tuple[int, int],
                  name: str) -> tuple[NDArray[Any], str, str]:
    kind = _PHOTOMETRIC.get(photometric)
    if kind is None:
        raise ScanError(f"{name}: TIFF photometric interpretation {photometric} is not "
                        "supported; save the image as RGB or greyscale")
    if samples.ndim == 3 and samples.shape[:2] != shape and samples.shape[1:] == shape:
        samples = np.moveaxis(samples, 0, -1)  # planar (S, H, W) -> (H, W, S)
    if samples.shape[:2] != shape or samples.ndim not in (2, 3):
        raise ScanError(f"{name}: TIFF page of shape {samples.shape} does not match its "
                        f"{shape[1]}x{shape[0]} size; the file may be corrupt")
    kind_bits = f";{bits}{'F' if samples.dtype.kind == 'f' else ''}"
    if kind == "PALETTE":
        if colormap is None or samples.ndim != 2 or samples.dtype.kind != "u":
            raise ScanError(f"{name}: palette TIFF without a usable colour map; the file "
                            "may be corrupt")
        colormap = np.asarray(colormap)
        index = np.minimum(samples, colormap.shape[1] - 1)
        return np.moveaxis(colormap, 0, -1)[index], "RGB", "P" + kind_bits
    if samples.ndim == 2:
        samples = samples[..., None]
    if samples.dtype.kind not in "buif":
        raise ScanError(f"{name}: TIFF samples of type {samples.dtype} are not supported; "
                        "save the image as 8- or 16-bit integers or 32-bit float")
    if kind == "MINISWHITE" and samples.dtype.kind in "ub":
        samples = samples.copy()
        if samples.dtype == bool:
            samples[..., 0] = ~samples[..., 0]
        else:
            samples[..., 0] = np.iinfo(samples.dtype).max - samples[..., 0]
    channels = samples.shape[2]
    colour = 3 if kind == "RGB" else 4 if kind == "SEPARATED" else 1
    if channels < colour:
        raise ScanError(f"{name}: TIFF with {channels} samples per pixel cannot be "
                        f"{kind}; the file may be corrupt")
    has_alpha = bool(extra) and extra[0] in (1, 2) and channels > colour
    base = {1: "L", 3: "RGB", 4: "CMYK"}[colour]
    if has_alpha and base != "CMYK":
        alpha = samples[..., colour:colour + 1]
        if extra[0] == 1 and samples.dtype.kind == "f":  # premultiplied float
            with np.errstate(divide="ignore", invalid="ignore"):
                colour_part = np.where(alpha > 0, samples[..., :colour] / alpha, 0)
        elif extra[0] == 1:  # premultiplied integer: undo
            top = np.iinfo(samples.dtype).max
            colour_part = np.where(alpha > 0, (samples[..., :colour].astype(np.float64) * top
                                               / np.maximum(alpha, 1)).clip(0, top), 0)
            colour_part = colour_part.astype(samples.dtype)
        else:
            colour_part = samples[..., :colour]
        samples = np.concatenate([colour_part, alpha], axis=2)
        layout = base + "A"
    else:
        samples = samples[..., :colour]
        layout = base
    if samples.shape[2] == 1:
        samples = samples[..., 0]
    return samples, layout, layout + kind_bits


def _tiff_dpi(tiff_page: Any) -> tuple[float, float] | None:
    try:
        unit = int(tiff_page.tags.valueof(296, 2) or 2)
        xres, yres = tiff_page.tags.valueof(282), tiff_page.tags.valueof(283)
        if xres is None or yres is None or unit not in (2, 3):
            return None
        factor = 2.54 if unit == 3 else 1.0
        return _dpi((xres[0] / xres[1] * factor, yres[0] / yres[1] * factor))
    except Exception:  # noqa: BLE001 - resolution is optional metadata
        return None


# --------------------------------------------------------------------------- guards

def _check_pixels(size: tuple[int, int], name: str, max_pixels: int | None) -> None:
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ScanError(f"{name}: the header gives an empty image ({width}x{height}); "
                        "the file is corrupt")
    if max_pixels is not None and width * height > max_pixels:
        raise ScanError(
            f"{name}: {width}x{height} = {width * height:,} pixels is more than max_pixels="
            f"{max_pixels:,} (refused before decoding; it may be a decompression bomb); "
            "if you trust this file, raise max_pixels=")


_PILLOW_LIMIT_LOCK = threading.Lock()


@contextmanager
def _allow_pillow_pixels(pixels: int) -> Iterator[None]:
    """Let Pillow decode an image our own guard has already accepted.

    A few Pillow plugins (TIFF, MPO, GIF) repeat Pillow's process-wide size
    check while decoding. Only when the image is over that limit is it raised,
    to exactly this image's size, under a lock, and restored afterwards.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit is None or pixels <= limit:
        yield
        return
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None if saved is None else max(saved, pixels)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


_NON_IMAGES = (
    (b"%PDF", "PDF is not supported: export the page as PNG or TIFF"),
    (b"8BPS", "Photoshop (PSD) files are not supported: export the image as PNG or TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000 is not supported: export the image as PNG or TIFF"),
    (b"PK\x03\x04", "this is a ZIP archive, not an image: unpack it and give the images"),
)


def _refuse_known_non_images(head: bytes, name: str) -> None:
    for magic, message in _NON_IMAGES:
        if head.startswith(magic):
            raise ScanError(f"{name}: {message}")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in head.lower():
        raise ScanError(f"{name}: SVG is not supported: export (rasterise) the drawing as "
                        "PNG, e.g. with Inkscape's Export PNG Image")
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif",
                                               b"hevc", b"heim", b"heis"):
        raise ScanError(f"{name}: HEIC/AVIF is not supported: export the photo as JPEG "
                        "or PNG (on a phone, choose the 'most compatible' format)")


def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _unidentified_message(name: str, head: bytes, why: str) -> str:
    sample = head[:512]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    if printable == len(sample):
        return (f"{name}: is a text file, not an image; give a {_SUPPORTED_TEXT} file")
    detail = f" ({why})" if why else ""
    return (f"{name}: is not an image sketchgrad can read{detail}; give a "
            f"{_SUPPORTED_TEXT} file, re-exported if it is damaged")


def _corrupt_message(name: str, fmt: str, exc: BaseException) -> str:
    text = _short(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        what = "is truncated (the file ends too early)"
    else:
        what = "is corrupt"
    return (f"{name}: the {fmt} data {what}: {text}; re-export, re-scan or re-download "
            "the file")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ") or type(exc).__name__
    return text[:200]


# --------------------------------------------------------------------------- metadata

def _bit_depth(mode: str, rawmode: str, dtype: np.dtype[Any]) -> int:
    if mode == "1":
        return 1
    if mode == "F":
        return 32
    match = re.search(r";(\d+)", rawmode)
    if match and int(match.group(1)) in (1, 2, 4, 8, 16, 32):
        return int(match.group(1))
    return 8 * np.dtype(dtype).itemsize if np.dtype(dtype) != bool else 1


def _dpi(value: Any) -> tuple[float, float] | None:
    try:
        x, y = (float(v) for v in value)
    except Exception:  # noqa: BLE001 - absent or malformed resolution
        return None
    if not (np.isfinite(x) and np.isfinite(y) and x > 1 and y > 1):
        return None  # absent, malformed, or the placeholder 1 of files with no unit
    return (x, y)


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 - unreadable EXIF: the pixels are as stored
        return 1
    return value if value in _ORIENT else 1


# Stored samples -> as a person sees them, for each EXIF orientation value
# (1 top-left, 2 top-right, 3 bottom-right, 4 bottom-left, 5 left-top,
# 6 right-top, 7 right-bottom, 8 left-bottom: where row 0 / column 0 belong).
_ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
    8: lambda a: np.rot90(a, 1),
}


# --------------------------------------------------------------------------- to float

def _to_float(samples: NDArray[Any], layout: str, mode: str, *,
              threads: int = 1) -> tuple[NDArray[np.float32], int]:
    """Native samples -> float32 image in [0, 1]; returns it and the non-finite count.

    Colour is converted in blocks of rows, ``threads`` at a time (NumPy and
    OpenCV let go of the GIL; each pixel's value is the same either way).
    """
    height, width = samples.shape[:2]
    if layout == "L" and mode == "gray":
        image = _scale(samples)
    else:
        image = np.empty((height, width) + ((3,) if mode == "rgb" else ()), np.float32)
        per_row = width * (samples.shape[2] if samples.ndim == 3 else 1)
        step = max(1, _BLOCK_SAMPLES // max(1, per_row))
        tops = range(0, height, step)

        def block(top: int) -> None:
            image[top:top + step] = _colour_block(_scale(samples[top:top + step]),
                                                  layout, mode)

        if threads > 1 and len(tops) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(threads, len(tops))) as pool:
                for _ in pool.map(block, tops):
                    pass
        else:
            for top in tops:
                block(top)
    nonfinite = 0
    if samples.dtype.kind == "f":
        finite = np.isfinite(image)
        if image.ndim == 3:
            finite = np.all(finite, axis=2)
        nonfinite = int(finite.size - np.count_nonzero(finite))
        if nonfinite:
            np.nan_to_num(image, copy=False, nan=1.0, posinf=1.0, neginf=0.0)
    if samples.dtype.kind == "f" or layout != "L":  # integer grey is exact already
        np.clip(image, 0.0, 1.0, out=image)
    return image, nonfinite


def _scale(samples: NDArray[Any]) -> NDArray[np.float32]:
    """Samples of any dtype -> float32 on [0, 1] (floats kept as they are)."""
    kind = samples.dtype.kind
    if samples.dtype == np.uint8:
        import cv2

        if samples.ndim == 2 or samples.shape[2] <= 4:
            return cast("NDArray[np.float32]",
                        cv2.LUT(np.ascontiguousarray(samples), _LUT8).reshape(samples.shape))
    if kind == "b":
        return samples.astype(np.float32)
    if kind == "f":
        return samples.astype(np.float32)
    if kind == "u":
        top = np.float32(np.iinfo(samples.dtype).max)
        return cast("NDArray[np.float32]", np.divide(samples, top, dtype=np.float32))
    if kind == "i":
        top = np.float32(np.iinfo(samples.dtype).max)
        return cast("NDArray[np.float32]",
                    np.divide(np.maximum(samples, 0), top, dtype=np.float32))
    raise ScanError(f"samples of type {samples.dtype} are not supported; export the image "
                    "as 8- or 16-bit")


def _colour_block(block: NDArray[np.float32], layout: str,
                  mode: str) -> NDArray[np.float32]:
    """Composite over white, undo CMYK and reduce to grey (or expand to RGB), in float."""
    if block.ndim == 2:
        block = block[..., None]
    if layout == "CMYK":
        ink = np.float32(1.0) - block[..., 3:4]
        colour = (np.float32(1.0) - block[..., :3]) * ink
    elif layout in ("LA", "RGBA"):
        alpha = block[..., -1:]
        colour = block[..., :-1] * alpha
        colour += np.float32(1.0) - alpha
    else:
        colour = block
    if mode == "gray":
        if colour.shape[2] == 1:
            return colour[..., 0]
        return rgb_luma(colour)
    if colour.shape[2] == 1:
        return np.repeat(colour, 3, axis=2)
    return colour


# ----------------------------------------------------------------------------------------
# Telling image files from others without decoding them

#: File name endings taken as images when a folder is searched (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".webp",
                  ".gif")

#: Endings of drawings in formats sketchgrad cannot read. A folder search takes them too,
#: so each is named in a one-line error with a hint ("export the page as PNG or TIFF")
#: rather than left out without a word.
REPORTED_SUFFIXES = (".pdf", ".svg", ".svgz", ".heic", ".heif", ".avif", ".psd", ".jxl")

# First bytes of the formats load_scan reads, for files without an image ending.
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF87a",
          b"GIF89a")


def looks_like_image(path: str | os.PathLike[str]) -> bool:
    r"""Whether a file is taken as an image: by its ending, else by its first bytes.

    Drawings in formats sketchgrad cannot read (``REPORTED_SUFFIXES``: PDF, SVG,
    HEIC, ...) are taken too, so that they fail with a message naming them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scan_without_ending"
    >>> _ = p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    >>> looks_like_image(p), looks_like_image(p.with_name("notes.txt"))
    (True, False)
    """
    p = Path(path)
    if p.suffix.lower() in IMAGE_SUFFIXES + REPORTED_SUFFIXES:
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
