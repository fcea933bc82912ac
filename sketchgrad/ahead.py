"""Decoding the command's one scan ahead, while the rest of sketchgrad is imported.

``sketchgrad run scan.png -o out`` spends its first tenth of a second
importing NumPy, OpenCV and sketchgrad: Python work, which holds the
interpreter's lock (the GIL). Decoding an 8 MP PNG takes about as long and is
C work that does not hold it. :func:`start` (called by the command once its
arguments are read, before it imports anything heavy) opens the file with
Pillow in a thread and decodes it there while the main thread imports;
:func:`sketchgrad.io.load_scan` then takes the decoded image (:func:`take`)
instead of decoding the file again, when it is the same file: same device,
inode, size and modification time as the thread saw.

Only what ``load_scan`` would decode the same way is decoded ahead: PNG and
JPEG files (known by their first bytes) of at most :data:`MAX_PIXELS`, and not
16-bit colour PNGs (``load_scan`` decodes those itself, at full depth). Grey
8- and 16-bit images are decoded straight into a buffer that becomes the
NumPy array, as ``load_scan`` does (:func:`in_place_dtype`). Anything else,
and any error (a corrupt or vanished file), leaves the decode to
``load_scan``, which reports it as it always does: decoding ahead never
changes a result or a message, only when the work is done.

The command forks its preview process only with no other thread running:
:func:`settle` waits for the thread (``renderer.start_renderer`` calls it), and
:func:`discard` drops a decode nobody took (a skipped or failed run).

This module imports only the standard library (Pillow in the thread), so
that starting costs nothing before the decode begins.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from PIL import Image, ImageFile

__all__ = ["Early", "MAX_PIXELS", "SWITCH_INTERVAL", "PNG_WIDE", "PLUGIN_MAGIC", "start", "take",
           "settle", "discard", "rawmode", "in_place_dtype", "decode_into"]

#: Larger scans are not decoded ahead: the time saved is the same and small next to
#: their run, and a huge scan is decoded by ``load_scan`` under its memory rules.
MAX_PIXELS = 50_000_000

#: The interpreter's switch interval (seconds) while the thread decodes. Pillow
#: decodes a PNG one chunk of compressed data per call (often 8 or 64 kB) and takes
#: the GIL between calls; at Python's default of 5 ms the thread would wait that long
#: for it after most chunks while the main thread imports. Restored when it is done.
SWITCH_INTERVAL = 1e-4

#: Raw modes of 16-bit colour PNGs, which Pillow reads at 8 bits: ``load_scan``
#: decodes them itself.
PNG_WIDE = ("RGB;16B", "RGBA;16B", "LA;16B")

#: First bytes that only one of Pillow's plugins for our formats accepts (PNG, JPEG), with
#: that plugin's module and image class (``load_scan`` opens a file with the class).
PLUGIN_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PngImagePlugin", "PngImageFile"),
                (b"\xff\xd8\xff", "JpegImagePlugin", "JpegImageFile"))


class Early(NamedTuple):
    """A scan decoded ahead (a named tuple: cheaper to define than a dataclass).

    Attributes
    ----------
    image : PIL.ImageFile.ImageFile
        Opened with the format's plugin as ``load_scan`` opens it (PNG or
        JPEG), and loaded. Its file is closed.
    rawmode : str
        The raw mode of its data (:func:`rawmode`), read before loading.
    buffer : bytearray or None
        The samples, when Pillow decoded into it (:func:`decode_into`); the
        image's core image is then ``core``.
    dtype : {"uint8", "uint16"} or None
        The type of the samples in ``buffer`` (:func:`in_place_dtype`).
    core : object
    identity : tuple of int
        Device, inode, size and modification time (ns) of the file decoded.
    """

    image: Any
    rawmode: str
    buffer: bytearray | None
    dtype: str | None
    core: object
    identity: tuple[int, int, int, int]


class _Job:
    def __init__(self, path: str) -> None:
        self.path = path
        self.opened = threading.Event()  # set once the thread has read the header (or gave up)
        self.result: Early | None = None
        self.switch = sys.getswitchinterval()
        self.thread = threading.Thread(target=self._run, name="sketchgrad-decode-ahead",
                                       daemon=True)

    def _run(self) -> None:
        try:
            self.result = _decode(self.path, self.opened)
        except Exception:  # noqa: BLE001 - load_scan decodes again and reports it
            self.result = None
        finally:
            self.opened.set()
            sys.setswitchinterval(self.switch)


_lock = threading.Lock()
_job: _Job | None = None


def start(path: str | os.PathLike[str]) -> None:
    """Decode the file ``path`` in a thread; return once the thread has read its header.

    Any decode started before and not taken is dropped first. Returning after
    the header (Pillow imported, the file opened and identified) keeps the
    thread's imports from running beside the caller's, where each would wait
    for the other's GIL; the decode that follows holds the GIL only between
    chunks.
    """
    global _job
    discard()
    if not os.path.isfile(path):  # opening a pipe would wait for its writer
        return
    job = _Job(os.fspath(path))
    if job.switch > SWITCH_INTERVAL:
        sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        job.thread.start()
    except RuntimeError:  # no thread to spare: load_scan decodes it when it is needed
        sys.setswitchinterval(job.switch)
        return
    with _lock:
        _job = job
    job.opened.wait()


def take(fp: Any) -> Early | None:
    """The scan decoded ahead, if ``fp`` (an open file) is the file decoded; waits for it.

    One chance: the decode is dropped whether or not it was that file.
    """
    job = _pop()
    if job is None:
        return None
    if job.thread.is_alive():
        _import_opencv()  # this thread's next need, paid while the decode runs
    job.thread.join()
    if job.result is None:
        return None
    try:
        identity = _identity(os.fstat(fp.fileno()))
    except (AttributeError, OSError, ValueError):  # not a file with a descriptor
        return None
    return job.result if job.result.identity == identity else None


def _import_opencv() -> None:
    """Import OpenCV, which converting and measuring the scan use next.

    A scan that decodes for longer than the command's imports take (a colour
    PNG, a large JPEG) leaves this thread waiting; importing OpenCV then (about
    20 ms, holding the GIL, which the decoding thread rarely needs) takes it
    off the run's critical path. The preview process was forked before.
    """
    try:
        import cv2  # noqa: F401
    except ImportError:  # reported where OpenCV is used, with its message
        pass


def settle() -> None:
    """Wait until no decode runs (the decoded scan, if any, is kept for :func:`take`)."""
    with _lock:
        job = _job
    if job is not None:
        job.thread.join()


def discard() -> None:
    """Drop a decode that was not taken, waiting for its thread to end."""
    job = _pop()
    if job is not None:
        job.thread.join()


def _pop() -> _Job | None:
    global _job
    with _lock:
        job, _job = _job, None
    return job


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _decode(path: str, opened: threading.Event) -> Early | None:
    with open(path, "rb") as fp:  # start() saw a regular file
        info = os.fstat(fp.fileno())
        head = fp.read(16)
        found = next((names for magic, *names in PLUGIN_MAGIC if head.startswith(magic)), None)
        if found is None:
            return None
        import importlib

        from PIL import Image

        # the plugin's class, as load_scan opens it (no size warning; an MPO's first image);
        # only that plugin is imported (the JPEG one imports subprocess)
        factory: Any = getattr(importlib.import_module(f"PIL.{found[0]}"), found[1])
        fmt = factory.format
        fp.seek(0)
        im = factory(fp, "")
        width, height = im.size
        limit = Image.MAX_IMAGE_PIXELS
        raw = rawmode(im)
        if width * height > MAX_PIXELS or (limit is not None and width * height > limit) \
                or raw in PNG_WIDE:
            return None
        kind = in_place_dtype(im, fmt)
        buffer = core = None
        if kind is not None:
            buffer = bytearray(width * height * (1 if kind == "uint8" else 2))
            core = decode_into(im, buffer)
        opened.set()  # the caller goes on importing; the rest is mostly C without the GIL
        im.load()
    return Early(image=im, rawmode=raw, buffer=buffer, dtype=kind, core=core,
                 identity=_identity(info))


# ----------------------------------------------------------------------------------------
# Pillow helpers shared with sketchgrad.io (which decodes the same way without a thread)


def rawmode(im: ImageFile.ImageFile) -> str:
    """The raw mode of an opened (not yet loaded) image's data, or ''."""
    try:
        tile: Any = im.tile[0] if getattr(im, "tile", None) else None
        # Pillow >= 11 names the fields of a tile; before, it is a plain 4-tuple
        args = tile.args if hasattr(tile, "args") else tile[3] if tile else None
    except Exception:  # noqa: BLE001
        return ""
    if isinstance(args, tuple):
        args = args[0] if args else None
    return args if isinstance(args, str) else ""


def in_place_dtype(im: Image.Image, fmt: str) -> str | None:
    """"uint8" or "uint16" when Pillow can decode this grey image into a buffer of ours.

    Pillow decodes into its own image memory, which ``np.asarray`` then
    copies: a large scan would be held twice. For 8- and 16-bit grey images of
    these formats, not yet loaded, its image memory can be made a view of a
    buffer before decoding (:func:`decode_into`); None otherwise.
    """
    if im.mode not in ("L", "I;16") or fmt not in ("PNG", "TIFF", "JPEG", "BMP") \
            or not getattr(im, "tile", None) or getattr(im, "_im", True) is not None:
        return None
    if fmt == "TIFF" and getattr(im, "tag_v2", {}).get(0x0112, 1) != 1:
        return None  # Pillow turns such a TIFF upright as it loads it: other memory
    return "uint8" if im.mode == "L" else "uint16"


def decode_into(im: Image.Image, buffer: Any) -> object:
    """Make ``buffer`` (rows of ``in_place_dtype`` samples) the memory ``im`` loads into.

    Returns Pillow's core image: the buffer holds the samples only if it is
    still the image's after ``load()``.
    """
    from PIL import Image

    core = Image.frombuffer(im.mode, im.size, buffer, "raw", im.mode, 0, 1).im
    im.im = core
    return core
