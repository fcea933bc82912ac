"""Writing PNG outputs fast: 8- or 16-bit, atomically, with provenance text.

The encoder is written here rather than borrowed from Pillow or OpenCV
because PNG compression is most of a run's time and a single zlib stream uses
one core. :class:`PngWriter` takes the image as horizontal strips of rows (so
a huge output never needs to exist whole), filters and compresses each strip
with raw deflate in a thread pool (``zlib`` releases the GIL), ends every strip
but the last with a sync flush, and concatenates them into one zlib stream,
the way ``pigz`` does. The Adler-32 of the whole filtered data is combined from
the strips' checksums. Any PNG decoder reads the result.

Defaults, measured on our outputs (an HSV-coloured gradient field and 16-bit
magnitudes of an 8.5 MP ink scan): level 1 with PNG filter "none" is the
fastest and, because the outputs are mostly black, as small as "sub" or "up"
(6.6 MB vs 6.6 / 6.9 MB for RGB with zlib); level 6 makes the RGB file 20%
smaller at 4.5x the time. ``compression`` (``--png-compression``) lets users
choose. Levels 1-3 use ISA-L's deflate (the ``isal`` package, the optional
extra ``sketchgrad[fast]``) when it is installed: on that image 33 ms instead of
zlib's 177 ms per core, and smaller (6.15 MB); level 0 (stored) and 4-9 always use zlib.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import struct
import zlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import OutputError, ParameterError, choose

__all__ = ["save_png", "PngWriter", "quantize", "DEFAULT_COMPRESSION", "PNG_FILTERS",
           "deflate_engines", "output_format", "WRITE_FORMATS"]

#: zlib level used when the caller does not choose one (fast; see the module notes).
DEFAULT_COMPRESSION = 1

#: PNG filter types this writer can apply to every row (filter method 0).
PNG_FILTERS = {"none": 0, "sub": 1, "up": 2}

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Formats :func:`save_png` writes, by file-name ending; any other image ending is refused,
#: a name that is not an image's (``.tmp``, none) gets PNG.
WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF",
                 ".tiff": "TIFF", ".webp": "WEBP"}
# Endings of image formats sketchgrad does not write.
_UNWRITTEN = (".gif", ".bmp", ".jp2", ".j2k", ".heic", ".heif", ".avif", ".svg", ".pdf",
              ".ico", ".ppm", ".pgm", ".pbm", ".eps", ".psd", ".exr", ".jxl", ".qoi")

#: Uncompressed bytes per strip handed to one deflate job (about 1 MB).
_STRIP_BYTES = 1 << 20
_ADLER_BASE = 65521


@functools.cache
def _isal() -> ModuleType | None:
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    engine: ModuleType = isal_zlib  # Any when the optional isal is not installed
    return engine


def deflate_engines() -> tuple[str, ...]:
    """The deflate engines available here: ``"zlib"``, and ``"isal"`` when installed.

    Examples
    --------
    >>> "zlib" in deflate_engines()
    True
    """
    return ("zlib", "isal") if _isal() is not None else ("zlib",)


def _engine(name: str | None, level: int) -> ModuleType:
    """The compressor module for a level: ISA-L for 1-3 when available, else zlib."""
    if name not in (None, "zlib", "isal"):
        raise ParameterError(f"engine={name!r} is not known; choose one of: "
                             + ", ".join(repr(e) for e in deflate_engines()))
    if name == "isal" and _isal() is None:
        raise ParameterError("engine='isal' needs the isal package; install it with "
                             "`pip install \"sketchgrad[fast]\"` (or `pip install isal`), "
                             "or use engine='zlib'")
    isal = _isal()
    if name != "zlib" and 1 <= level <= 3 and isal is not None:
        return isal
    return zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _adler32_combine(adler1: int, adler2: int, len2: int) -> int:
    """Adler-32 of A+B from adler32(A), adler32(B) and len(B) (zlib's adler32_combine)."""
    rem = len2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (adler2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += (adler1 >> 16) + (adler2 >> 16) + _ADLER_BASE - rem
    return (sum1 % _ADLER_BASE) | ((sum2 % _ADLER_BASE) << 16)


def _zlib_header(level: int) -> bytes:
    # FLEVEL (bits 6-7) only informs decoders; FCHECK makes the 16-bit value a multiple of 31.
    flevel = 0 if level < 2 else 1 if level < 6 else 2 if level == 6 else 3
    cmf, flg = 0x78, flevel << 6
    flg |= 31 - ((cmf << 8) | flg) % 31
    return bytes((cmf, flg))


def _text_chunk(key: str, value: str) -> bytes:
    if not 1 <= len(key) <= 79 or "\0" in key:
        raise ParameterError(f"text key {key!r} must be 1 to 79 characters without NUL")
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        # iTXt: keyword, NUL, compression flag 0, method 0, empty language, NUL, empty key, NUL.
        data = key.encode("utf-8") + b"\0\0\0\0\0" + value.encode("utf-8")
        return _chunk(b"iTXt", data)


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def _write_all(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)


def _output_error(dest: Path, exc: OSError) -> OutputError:
    if exc.errno == errno.ENOSPC:
        return OutputError(f"{dest}: cannot be written: no space left on the device; "
                           "free some space or choose another output folder")
    return OutputError(f"{dest}: cannot be written ({exc.strerror or exc}); "
                       "check free space and permissions")


def output_format(path: str | os.PathLike[str], *, name: str = "path") -> str:
    """The format an output name asks for: "PNG", "JPEG", "TIFF" or "WEBP".

    Decided by the ending (case does not matter); a name without an image
    ending (``out``, ``.x.png.tmp``) is a PNG. Never PNG bytes under a ``.jpg`` name.

    Raises
    ------
    ParameterError
        For the ending of an image format sketchgrad does not write (GIF, BMP, ...).

    Examples
    --------
    >>> output_format("a.PNG"), output_format("b.jpeg"), output_format("c.tiff")
    ('PNG', 'JPEG', 'TIFF')
    """
    suffix = Path(path).suffix.lower()
    if suffix in WRITE_FORMATS:
        return WRITE_FORMATS[suffix]
    if suffix in _UNWRITTEN:
        raise ParameterError(f"{name}={os.fspath(path)!r}: sketchgrad does not write "
                             f"{suffix[1:].upper()} files; name it .png (or .jpg, .tif, .webp)")
    return "PNG"


def _phys_chunk(dpi: tuple[float, float]) -> bytes:
    """pHYs: pixels per metre in x and y (unit 1 = metre), from dots per inch."""
    x, y = (int(round(float(d) / 0.0254)) for d in dpi)
    return _chunk(b"pHYs", struct.pack(">IIB", x, y, 1))


def _check_dpi(dpi: tuple[float, float] | None) -> tuple[float, float] | None:
    if dpi is None:
        return None
    try:
        x, y = (float(d) for d in dpi)
    except (TypeError, ValueError):
        raise ParameterError(f"dpi={dpi!r} must be a pair of numbers (x, y) in dots per "
                             "inch, or None") from None
    if not (np.isfinite(x) and np.isfinite(y) and x > 0 and y > 0):
        raise ParameterError(f"dpi={dpi!r} must be two positive numbers")
    return (x, y)


def quantize(image: ArrayLike, bit_depth: int) -> NDArray[Any]:
    """Floats in [0, 1] -> uint8/uint16 by clip, scale and round half up."""
    image = np.asarray(image)
    target = np.uint16 if bit_depth == 16 else np.uint8
    if image.dtype == target:
        return image
    if image.dtype.kind in "ui" or image.dtype.kind not in "f":
        raise ParameterError(f"image of dtype {image.dtype} cannot be saved at bit_depth="
                             f"{bit_depth}; give floats in [0, 1] or {np.dtype(target).name}")
    if not image.size:
        return np.zeros(image.shape, target)
    # the extremes find NaN (it propagates) and inf, and whether clipping changes anything
    low, high = float(np.min(image)), float(np.max(image))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ParameterError("image has non-finite values (NaN or inf) and cannot be saved; "
                             "replace them (e.g. np.nan_to_num) first")
    scale = np.float32(65535.0 if bit_depth == 16 else 255.0)
    # one new float array: a clip of values already in [0, 1] is skipped (it changes none)
    out = np.multiply(image if 0.0 <= low and high <= 1.0 else np.clip(image, 0.0, 1.0), scale)
    out += np.float32(0.5)
    quantized: NDArray[Any] = out.astype(target)
    return quantized


#: What one strip's deflate job returns: compressed bytes, Adler-32, raw size, last strip?
_Encoded = tuple[bytes, int, int, bool]


class PngWriter:
    """Stream an image into a PNG file, strip by strip, compressing in threads.

    Rows arrive in order through :meth:`write` (any number per call); the
    file appears under ``path`` (atomically, by rename) only when
    :meth:`close` has seen every row. Used as a context manager, an exception
    discards the temporary file and leaves ``path`` untouched.

    Parameters
    ----------
    path : str or path-like
        Destination ``.png`` file.
    width, height : int
        Image size in pixels.
    channels : {1, 3}
        Grey or RGB.
    bit_depth : {8, 16}
        Bits per sample.
    text : dict, optional
        Text chunks (``tEXt``, or ``iTXt`` when a value is not Latin-1).
    compression : int
        zlib level 0-9.
    dpi : (float, float), optional
        Resolution in dots per inch, stored in a ``pHYs`` chunk (the scan's, so
        an output prints at the drawing's size).
    filter_type : {"none", "sub", "up"}
        PNG filter applied to every row.
    threads : int, optional
        Compression threads (default: the number of CPUs).
    engine : {None, "zlib", "isal"}
        Deflate implementation; None picks ISA-L for levels 1-3 when installed.
    atomic : bool
        Write under a temporary name and rename into place on :meth:`close`
        (default). ``False`` writes ``path`` itself, for a caller that stages
        several files under its own temporary names and renames them together
        (:func:`sketchgrad.streaming.process_to_files`); :meth:`abort` removes it.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> path = tempfile.mkdtemp() + "/strips.png"
    >>> with PngWriter(path, 3, 4, bit_depth=8) as png:
    ...     png.write(np.zeros((1, 3), np.uint8))
    ...     png.write(np.full((3, 3), 255, np.uint8))
    >>> np.asarray(Image.open(path))[:, 0].tolist()
    [0, 255, 255, 255]
    """

    #: Strips per thread that may wait for compression before ``write`` blocks.
    _LOOKAHEAD = 4

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, *,
                 channels: int = 1, bit_depth: int = 8, text: dict[str, str] | None = None,
                 compression: int = DEFAULT_COMPRESSION, filter_type: str = "none",
                 threads: int | None = None, engine: str | None = None,
                 dpi: tuple[float, float] | None = None, atomic: bool = True) -> None:
        if bit_depth not in (8, 16):
            raise ParameterError(f"bit_depth={bit_depth!r} is not supported; use 8 or 16")
        if channels not in (1, 3):
            raise ParameterError(f"channels={channels!r}: give 1 (grey) or 3 (RGB)")
        if isinstance(compression, bool) or not isinstance(compression, int | np.integer) \
                or not 0 <= compression <= 9:
            raise ParameterError(f"compression={compression!r} must be a zlib level from 0 to 9")
        self._filter = choose(PNG_FILTERS, filter_type, "filter_type")
        self.dpi = _check_dpi(dpi)
        if output_format(path) != "PNG":
            raise ParameterError(f"path={os.fspath(path)!r}: PngWriter writes PNG only; name "
                                 "the file .png (save_png writes JPEG, TIFF and WebP)")
        if int(width) < 1 or int(height) < 1:
            raise ParameterError(f"image size {width}x{height}: a PNG needs at least 1x1 pixel")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.channels, self.bit_depth = channels, bit_depth
        self.compression = int(compression)
        self._zlib = _engine(engine, self.compression)
        self._bpp = channels * bit_depth // 8
        self._row_bytes = self.width * self._bpp
        self._strip_rows = max(1, _STRIP_BYTES // (self._row_bytes + 1))
        self._rows_done = 0
        self._pending: list[list[NDArray[Any]]] = []
        self._pending_rows = 0
        self._prev_row: NDArray[np.uint8] | None = None
        self._adler = 1
        self._futures: deque[Future[_Encoded]] = deque()
        self._threads = max(1, threads or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self._threads) if self._threads > 1 else None
        self._closed = False
        self._fh: IO[bytes] | None = None
        self._tmp: str | None = None
        self.atomic = bool(atomic)
        self._open(text or {})

    # -- file handling -------------------------------------------------------------------
    def _open(self, text: dict[str, str]) -> None:
        dest = self.path
        header = bytearray(_SIGNATURE)
        header += _chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height,
                                              self.bit_depth, 0 if self.channels == 1 else 2,
                                              0, 0, 0))
        if self.dpi is not None:
            header += _phys_chunk(self.dpi)
        for key, value in text.items():
            header += _text_chunk(str(key), str(value))
        if dest.is_dir():
            raise OutputError(f"{dest}: is a folder; give a file name ending in .png")
        try:
            if self.atomic:
                import tempfile  # (its import pulls random and shutil: only atomic writes)

                fd, self._tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp",
                                                 dir=dest.parent)
            else:  # the caller stages the file under its own temporary name
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                self._tmp = str(dest)
        except OSError as exc:
            self._shutdown()
            raise OutputError(f"{dest.parent}: cannot write here ({exc.strerror}); "
                              "choose an output folder you can write to") from None
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a PNG is an ordinary file
        except OSError:
            pass
        self._fh = os.fdopen(fd, "wb")
        self._write(bytes(header))

    def _write(self, data: bytes) -> None:
        try:
            _write_all(cast("IO[bytes]", self._fh), data)  # open until close or abort
        except OSError as exc:
            self.abort()
            raise _output_error(self.path, exc) from None

    def abort(self) -> None:
        """Discard the temporary file; ``path`` is left as it was."""
        self._closed = True
        for fut in self._futures:
            fut.cancel()
        self._futures.clear()
        self._shutdown()
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
        if self._tmp is not None:
            Path(self._tmp).unlink(missing_ok=True)
            self._tmp = None

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> PngWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # -- rows --------------------------------------------------------------------------
    def write(self, rows: ArrayLike | list[ArrayLike] | tuple[ArrayLike, ...]) -> None:
        """Append rows: (h, W) grey or (h, W, 3) RGB, floats in [0, 1] or uint8/uint16.

        ``rows`` may also be a list of blocks side by side (each (h, w_i[, 3]),
        widths adding up to W), such as a band of tiles: they are joined while
        being compressed, without an extra copy of the band.
        Floats are clipped to [0, 1], scaled and rounded (``x * (2**bits - 1) + 0.5``).
        """
        if self._closed:
            raise OutputError(f"{self.path}: the PNG writer is already closed")
        blocks = [np.asarray(b) for b in rows] if isinstance(rows, list | tuple) \
            else [np.asarray(rows)]
        pixel = () if self.channels == 1 else (3,)
        height = blocks[0].shape[0] if blocks and blocks[0].ndim else -1
        if not blocks or any(b.ndim != 2 + len(pixel) or b.shape[0] != height
                             or b.shape[2:] != pixel for b in blocks) \
                or sum(b.shape[1] for b in blocks) != self.width:
            self.abort()
            want = "(h, W)" if self.channels == 1 else "(h, W, 3)"
            raise ParameterError(f"rows of shape {[b.shape for b in blocks]} do not fit a "
                                 f"{self.width}-pixel wide "
                                 f"{'grey' if self.channels == 1 else 'RGB'} PNG; "
                                 f"give {want} arrays")
        if self._rows_done + self._pending_rows + height > self.height:
            self.abort()
            raise ParameterError(f"{self.path}: more rows than the declared height "
                                 f"{self.height}")
        start = 0
        while start < height:
            take = min(height - start, self._strip_rows - self._pending_rows)
            self._pending.append([b[start:start + take] for b in blocks])
            self._pending_rows += take
            start += take
            if self._pending_rows == self._strip_rows:
                self._flush_pending()
        if self._rows_done + self._pending_rows == self.height:
            self._flush_pending()

    def _flush_pending(self) -> None:
        if not self._pending_rows:
            return
        parts = self._pending
        self._pending, self._pending_rows = [], 0
        first = self._rows_done == 0
        self._rows_done += sum(len(p[0]) for p in parts)
        last = self._rows_done == self.height
        prev = self._prev_row
        if self._filter == 2:  # "up" needs the previous strip's last row, quantized
            self._prev_row = np.concatenate([self._raw(b[-1:]) for b in parts[-1]], axis=1)
        args = (parts, prev, first, last)
        if self._pool is None:
            fut: Future[_Encoded] = Future()
            fut.set_result(self._encode(*args))
        else:
            fut = self._pool.submit(self._encode, *args)
        self._futures.append(fut)
        # Bounded look-ahead keeps memory at a few strips per thread.
        while len(self._futures) > self._LOOKAHEAD * self._threads or (last and self._futures):
            self._drain_one()

    def _raw(self, rows: NDArray[Any]) -> NDArray[np.uint8]:
        """Rows of one block as big-endian sample bytes, (h, w * bytes per pixel)."""
        data = quantize(rows, self.bit_depth)
        if self.bit_depth == 16:
            data = data.astype(">u2", copy=False)
        return np.ascontiguousarray(data).view(np.uint8).reshape(len(data), -1)

    def _encode(self, parts: list[list[NDArray[Any]]], prev: NDArray[np.uint8] | None,
                first: bool, last: bool) -> _Encoded:
        height = sum(len(p[0]) for p in parts)
        buf = np.empty((height, self._row_bytes + 1), np.uint8)
        buf[:, 0] = self._filter
        row = 0
        for blocks in parts:
            col = 1
            for block in blocks:
                raw = self._raw(block)
                buf[row:row + len(raw), col:col + raw.shape[1]] = raw
                col += raw.shape[1]
            row += len(blocks[0])
        body = buf[:, 1:]
        if self._filter == 1:  # sub: byte minus the byte one pixel to the left (mod 256)
            if self._row_bytes > self._bpp:  # NumPy reads overlapping operands as copies
                body[:, self._bpp:] -= body[:, :-self._bpp]
        elif self._filter == 2:  # up: byte minus the byte above (mod 256)
            above = np.empty_like(body)
            above[0] = prev[0] if prev is not None else 0
            above[1:] = body[:-1]
            body -= above
        z = self._zlib
        comp: Any  # zlib's or ISA-L's compressor object
        if z is zlib:
            comp = zlib.compressobj(self.compression, zlib.DEFLATED, -15, 9)
        else:
            comp = z.compressobj(self.compression, z.DEFLATED, -15)
        data = comp.compress(buf) + comp.flush(z.Z_FINISH if last else z.Z_SYNC_FLUSH)
        if first:
            data = _zlib_header(self.compression) + data
        return data, z.adler32(buf), buf.size, last

    def _drain_one(self) -> None:
        fut = self._futures.popleft()
        try:
            data, adler, size, last = fut.result()
        except BaseException:
            self.abort()
            raise
        self._adler = _adler32_combine(self._adler, adler, size)
        if last:
            data += struct.pack(">I", self._adler)
        self._write(_chunk(b"IDAT", data))

    def close(self) -> Path:
        """Finish the file and rename it into place; returns the path."""
        if self._closed:
            raise OutputError(f"{self.path}: the PNG writer is already closed")
        if self._rows_done + self._pending_rows != self.height:
            got = self._rows_done + self._pending_rows
            self.abort()
            raise ParameterError(f"{self.path}: got {got} of {self.height} rows; "
                                 "write every row before closing")
        self._flush_pending()
        while self._futures:
            self._drain_one()
        self._write(_chunk(b"IEND", b""))
        self._closed = True
        self._shutdown()
        try:
            cast("IO[bytes]", self._fh).close()
            self._fh = None
            if self.atomic:
                os.replace(cast(str, self._tmp), self.path)
            self._tmp = None
        except OSError as exc:
            self.abort()
            raise _output_error(self.path, exc) from None
        return self.path


def save_png(
    path: str | os.PathLike[str],
    image: ArrayLike | Iterable[ArrayLike],
    *,
    bit_depth: int = 8,
    text: dict[str, str] | None = None,
    compression: int = DEFAULT_COMPRESSION,
    shape: tuple[int, ...] | None = None,
    dpi: tuple[float, float] | None = None,
    atomic: bool = True,
) -> Path:
    """Write a float image in [0, 1] (or uint8/uint16) as a PNG, atomically.

    The file is written under a temporary name (``.<name>.*.tmp``) in the same
    folder and renamed into place, so a reader never sees a partial PNG under
    ``path``; the file's permissions follow the umask like any new file.

    A name ending in ``.jpg``/``.jpeg``, ``.tif``/``.tiff`` or ``.webp`` is
    written in that format instead, by Pillow (JPEG quality 95, WebP
    lossless; 8 bits, and 16-bit grey in TIFF), with the same atomic rename;
    ``text`` goes only into PNGs. Another image ending (``.gif``, ``.bmp``,
    ...) is refused; see :func:`output_format`.

    Parameters
    ----------
    path : str or path-like
        Destination file, normally ``.png``.
    image : ndarray or iterable of ndarray
        (H, W) grey or (H, W, 3) RGB. Floats are clipped to [0, 1] and rounded
        (``x * (2**bit_depth - 1) + 0.5``, truncated). An iterable of row
        strips is streamed (then ``shape`` is required), so the whole image
        never needs to be in memory.
    bit_depth : {8, 16}
        Bits per sample of the PNG.
    text : dict, optional
        PNG text chunks (e.g. provenance).
    compression : int
        zlib level 0-9 (default 1: fast, see :mod:`sketchgrad.png`).
    shape : tuple, optional
        ``(H, W)`` or ``(H, W, 3)`` when ``image`` is an iterable of strips.
    dpi : (float, float), optional
        Resolution in dots per inch recorded in the file (PNG ``pHYs``).
    atomic : bool
        ``False`` writes ``path`` itself (the caller stages it; see :class:`PngWriter`).

    Returns
    -------
    Path
        The written path.

    Raises
    ------
    OutputError
        If the folder cannot be written or the disk is full; ``path`` is left as it was.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> p = save_png(d + "/ramp.png", np.linspace(0, 1, 6, dtype=np.float32)[None], bit_depth=16)
    >>> np.asarray(Image.open(p)).tolist()
    [[0, 13107, 26214, 39321, 52428, 65535]]
    """
    if isinstance(image, np.ndarray) or shape is None:
        image = np.asarray(image)
        shape = image.shape
        strips: Iterable[ArrayLike] = (image,)
    else:
        strips = cast("Iterable[ArrayLike]", image)  # strips, given with their shape
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        channels = 1
    elif len(shape) == 3 and shape[2] == 3:
        channels = 3
    else:
        raise ParameterError(f"image of shape {shape} cannot be saved; "
                             "give (H, W) grey or (H, W, 3) RGB")
    if channels == 3 and bit_depth == 16:
        raise ParameterError("bit_depth=16 is only supported for grey images; use 8 for RGB")
    fmt = output_format(path)
    if fmt != "PNG":
        whole = np.concatenate([np.asarray(s) for s in strips]) if not isinstance(
            image, np.ndarray) else image
        return _save_other(Path(path), whole, fmt, bit_depth, _check_dpi(dpi))
    with PngWriter(path, shape[1], shape[0], channels=channels, bit_depth=bit_depth, text=text,
                   compression=compression, dpi=dpi, atomic=atomic) as png:
        for strip in strips:
            png.write(strip)
    return png.path


def _save_other(dest: Path, image: ArrayLike, fmt: str, bit_depth: int,
                dpi: tuple[float, float] | None) -> Path:
    """JPEG, TIFF or WebP through Pillow, under a temporary name renamed into place."""
    from PIL import Image

    if bit_depth == 16 and fmt != "TIFF":
        raise ParameterError(f"{dest}: {fmt} holds 8 bits per sample; use bit_depth=8, or a "
                             ".png or .tif name for 16 bits")
    pixels = quantize(image, bit_depth)
    picture = Image.fromarray(pixels)  # uint16 grey becomes Pillow's "I;16"
    per_format: dict[str, dict[str, Any]] = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True},
                                             "TIFF": {}}
    options = per_format[fmt]
    if dpi is not None and fmt != "WEBP":
        options["dpi"] = dpi
    if dest.is_dir():
        raise OutputError(f"{dest}: is a folder; give a file name")
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise OutputError(f"{dest.parent}: cannot write here ({exc.strerror}); "
                          "choose an output folder you can write to") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            picture.save(fh, format=fmt, **options)
        os.replace(tmp, dest)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _output_error(dest, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest
