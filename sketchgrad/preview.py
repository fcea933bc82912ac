"""PNG previews of a pipeline result (one sheet of panels), and a streamed run's thumbnails.

matplotlib is imported only inside the functions (or in the background by
:func:`prepare`) and used through the object-oriented API on the Agg canvas
(no pyplot, no window, no global state), for the texts only: the sheet is
laid out in pixels by a fixed rule (no layout engine), and every picture
(panels, colorbars, histograms) is made at its final pixel size with NumPy
and pasted into the drawn canvas. Every array is first shrunk by area
averaging (OpenCV ``INTER_AREA``) to at most ``PREVIEW_SIDE`` pixels on its
longest side, so the cost of a preview does not grow with the scan.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Container, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from .arrays import block_means
from .errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Colormap
    from matplotlib.text import Text

    from .gradients import GradientField
    from .io import NativeImage, ScanMeta
    from .pipeline import PipelineConfig, Result
    from .strokes import StrokeDirections, StrokeStatistics
    from .tiling import FinishedTile

#: A panel's rectangle in sheet pixels: (x, y, width, height).
_Box = tuple[int, int, int, int]
#: A panel's colorbar: colormap, limits, options of _colorbar.
_Colorbar = tuple["Colormap", float, float, dict[str, Any]]

__all__ = ["PREVIEW_PANELS", "PREVIEW_SIDE", "DETAIL_PANELS", "EXTRA_PANELS", "render_preview",
           "prepare", "preview_png_bytes", "detail_window", "block_peak", "block_mean",
           "shrink_step", "Thumbnails", "strength_label", "channels_label", "PreviewOutline",
           "preview_outline", "PreviewSheet"]

#: Longest side, in pixels, of what a panel shows; larger scans are downsampled.
PREVIEW_SIDE = 720
#: The panels a preview can show, in their reading order (three to a row).
PREVIEW_PANELS = ("scan", "denoised", "relief", "gx", "gy", "histogram",
                  "magnitude", "hsv", "legend", "rose", "detail_scan", "detail_hsv",
                  "detail_relief", "hsv_strongest")
#: Panels shown only when asked for: the colour panel with each block's strongest
#: pixel (every other panel is area-averaged, as bright as its file looks).
EXTRA_PANELS = ("hsv_strongest",)
#: Panels shown at full resolution (1:1 crops of the busiest region); by default
#: only when the scan had to be shrunk for display.
DETAIL_PANELS = ("detail_scan", "detail_hsv", "detail_relief")
#: Width of one panel in inches (the figure is drawn at 100 dpi).
PANEL_INCHES = 4.6
_DPI = 100
# Samples (at most) the histograms are computed from.
_HIST_SAMPLES = 1_000_000
# The background import of matplotlib started by prepare(), if any.
_PREPARING: threading.Thread | None = None
_PREPARING_LOCK = threading.Lock()


def _import_matplotlib() -> None:
    import matplotlib.backends.backend_agg  # noqa: F401  (loads matplotlib.figure too)
    import matplotlib.figure  # noqa: F401


def prepare() -> None:
    """Start importing matplotlib in a background thread (call before a long computation).

    Importing matplotlib takes about 0.3 s, more than drawing a preview. A
    caller with other work to do before it renders (a GUI, a notebook) can
    call this first: the import overlaps that work, and rendering waits for it
    to finish. Calling it again, or after matplotlib is loaded, does nothing.
    The import holds the GIL for much of that time, so it helps only when the
    other work leaves a core idle: streamed runs, whose tiles keep both cores
    of a 2-core machine busy, measured no gain and do not call it.

    Examples
    --------
    >>> prepare()
    """
    global _PREPARING
    with _PREPARING_LOCK:
        if _PREPARING is None:
            _PREPARING = threading.Thread(target=_import_matplotlib, daemon=True,
                                          name="sketchgrad-preview-import")
            _PREPARING.start()


def _wait_for_matplotlib() -> None:
    """Let a background import finish before this thread imports matplotlib itself."""
    with _PREPARING_LOCK:
        thread = _PREPARING
    if thread is not None:
        thread.join()


def downsample(image: np.ndarray, side: int = PREVIEW_SIDE) -> NDArray[np.float32]:
    """Shrink an image by area averaging so its longest side is at most ``side``.

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, 3); uint8 or float.
    side : int
        Longest side of the result.

    Returns
    -------
    ndarray
        float32 (values of uint8/uint16 images brought to [0, 1]); the input
        itself (as float32) when it is already small enough.

    Examples
    --------
    >>> downsample(np.ones((1000, 500), np.float32), 100).shape
    (100, 50)
    """
    import cv2

    a = np.asarray(image)
    # any stage, signed gradients included: integers by their dtype's maximum, floats as given
    if a.dtype == np.bool_ or a.dtype.kind in "ui":
        top = 1 if a.dtype == np.bool_ else np.iinfo(a.dtype).max
        a = np.divide(a, np.float32(top), dtype=np.float32)
    a = np.ascontiguousarray(a, dtype=np.float32)
    h, w = _downsampled_shape(a.shape[:2], side)
    if (h, w) == a.shape[:2]:
        return a
    # OpenCV keeps the dtype: float32 in, float32 out
    return cast("NDArray[np.float32]", cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA))


def _downsampled_shape(shape: tuple[int, ...], side: int = PREVIEW_SIDE) -> tuple[int, int]:
    """(h, w) that :func:`downsample` gives an image of this shape (without making it)."""
    h, w = int(shape[0]), int(shape[1])
    longest = max(h, w)
    if longest <= side or min(h, w) == 0:
        return h, w
    factor = side / longest
    return max(1, round(h * factor)), max(1, round(w * factor))


def shrink_step(shape: tuple[int, ...], side: int = PREVIEW_SIDE) -> int:
    """The block side that brings an image of this shape to at most ``side`` pixels.

    Examples
    --------
    >>> shrink_step((10229, 7234)), shrink_step((500, 300))
    (15, 1)
    """
    return max(1, -(-max(shape[:2]) // side))


def block_peak(image: np.ndarray, step: int) -> NDArray[np.float32]:
    """Each ``step`` x ``step`` block's strongest pixel (partial blocks at the ends too).

    Area averaging turns a one-pixel pen line in a 15 x 15 block into a
    fifteenth of its strength: a shrunk magnitude map goes dark. Keeping the
    strongest pixel keeps every stroke visible at its own strength. Grey
    images keep the block maximum; RGB images keep the whole pixel whose
    largest channel is largest (its colour unmixed: HSV value is that channel).

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, 3) with values >= 0; uint8 becomes float32 in [0, 1].
    step : int
        Block side.

    Returns
    -------
    ndarray
        float32, (ceil(H / step), ceil(W / step)[, 3]); worked out one row of
        blocks at a time (no full-size copy).

    Examples
    --------
    >>> a = np.zeros((4, 6), np.float32); a[1, 4] = 0.8
    >>> block_peak(a, 3).tolist()
    [[0.0, 0.800000011920929], [0.0, 0.0]]
    """
    a = np.asarray(image)
    scale = np.float32(np.iinfo(a.dtype).max) if a.dtype.kind in "ui" else None
    h, w = a.shape[:2]
    rows, cols = -(-h // step), -(-w // step)
    out = np.empty((rows, cols) + a.shape[2:], np.float32)
    pad = cols * step - w
    for r in range(rows):
        band = a[r * step:(r + 1) * step].astype(np.float32)
        if scale is not None:
            band /= scale
        if pad:
            band = np.concatenate([band, np.zeros((band.shape[0], pad) + a.shape[2:],
                                                  np.float32)], axis=1)
        # (rows of the band, cols, step, ...) -> (cols, pixels of a block, ...)
        blocks = band.reshape(band.shape[0], cols, step, *a.shape[2:]).swapaxes(0, 1)
        blocks = blocks.reshape(cols, band.shape[0] * step, *a.shape[2:])
        if a.ndim == 2:
            out[r] = blocks.max(axis=1)
        else:
            strongest = blocks.max(axis=2).argmax(axis=1)
            out[r] = np.take_along_axis(blocks, strongest[:, None, None], axis=1)[:, 0]
    return out


def _strided(a: NDArray[np.float32]) -> NDArray[np.float32]:
    """A nearest-neighbour sample of ``a`` (keeps the distribution of values)."""
    step = max(1, int(np.ceil(np.sqrt(a.size / _HIST_SAMPLES))))
    return a[::step, ::step]


def format_number(x: float | None) -> str:
    """A setting's number for a title: ``"auto"`` for None, else ``%g``."""
    return "auto" if x is None else f"{x:g}"


def strength_label(config: PipelineConfig, used: float | None) -> str:
    """The denoise setting as run: method and the strength actually used.

    ``used`` is the number the run denoised with (``Result.strength_used``):
    the automatic estimate resolved, or the strength that was set. ``None``
    (not known) shows the setting itself.

    Examples
    --------
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> strength_label(PipelineConfig(denoise="gaussian"), 0.61803)
    'gaussian, strength 0.618 (auto)'
    >>> strength_label(PipelineConfig(denoise="median", strength=3), 3.0)
    'median, strength 3 (set)'
    >>> strength_label(PipelineConfig(denoise="none"), None)
    'none'
    """
    if config.denoise == "none":
        return "none"
    if used is None:
        return f"{config.denoise}, strength {format_number(config.strength)}"
    how = "auto" if config.strength is None else "set"
    return f"{config.denoise}, strength {float(used):.3g} ({how})"


def channels_label(result: Result, setting: str | None = None) -> str:
    """Which channels a result was computed on, and why (``"channels: rgb (auto: colour)"``).

    Read from ``result.channels`` when the pipeline records it, else from the
    scan's shape; ``(auto: ...)`` when the setting (``setting``, by default
    ``result.config.channels``) was ``"auto"``.

    Examples
    --------
    >>> import numpy as np, sketchgrad
    >>> channels_label(sketchgrad.process(np.eye(8, dtype=np.float32)))
    'channels: gray (auto: grey)'
    """
    return _channels_text(getattr(result, "channels", None), result.image.ndim,
                          setting or getattr(result.config, "channels", None))


def _channels_text(used: str | None, ndim: int, setting: str | None) -> str:
    used = used or ("rgb" if ndim == 3 else "gray")
    if setting == "auto":
        return f"channels: {used} (auto: {'colour' if used == 'rgb' else 'grey'})"
    return f"channels: {used}"


def _flattened(done: bool | None, config: PipelineConfig) -> str:
    """The background flattening as run (with "auto", what it decided: ``Result.flattened``)."""
    if done is None:  # a result that does not record it: the setting
        setting = config.flatten_background
        return " · background: auto" if setting == "auto" else \
            (" · background flattened" if setting else "")
    return " · background flattened" if done else ""


def _full_shape(result: Result) -> tuple[int, int]:
    """(H, W) of the scan itself (the arrays may be a reduced copy)."""
    shape = result.full_shape or result.image.shape[:2]
    return shape[0], shape[1]


@dataclass(frozen=True)
class PreviewOutline:
    """What a preview sheet shows, known before its pixels: layout, panels and settings.

    A streamed run knows it once the scan is planned (:meth:`Thumbnails.outline`),
    long before its last tile: a preview process can then lay out the sheet
    and draw the texts that do not depend on the pixels (:class:`PreviewSheet`),
    leaving only the pictures and the labels of the data (colorbar and
    histogram ticks, the rose's figures, the detail coordinates) for the end.
    :func:`preview_outline` gives a result's outline; a sheet begun from an
    outline is finished only with a result whose outline is equal.

    Attributes
    ----------
    config : PipelineConfig
        The run's settings.
    source : str or None
        The scan file's name (the sheet's first line), None without ``ScanMeta``.
    bit_depth : int or None
        The scan file's bits per sample (the scan panel's title).
    shape : tuple of int
        Shape of the scan array the panels are made from (``Result.image``).
    full_shape : (int, int)
        (H, W) of the scan itself.
    reduced : bool
        Whether the arrays are a reduced copy of the scan (``Result.full_shape`` set).
    strength_used : float or None
        The denoise strength used (``Result.strength_used``).
    flattened : bool or None
        Whether the background was flattened (None: not recorded).
    channels : str or None
        ``"gray"`` or ``"rgb"`` (``Result.channels``; None: from ``shape``).
    relief_colour : bool
        Whether the relief is lit in the drawing's colours (an RGB relief).
    panels : tuple of str
        The panels shown, in order.
    window : (int, int, int, int) or None
        The 1:1 detail panels' window (row, col, height, width), when shown.

    Examples
    --------
    >>> import numpy as np, sketchgrad
    >>> outline = preview_outline(sketchgrad.process(np.eye(32, dtype=np.float32)))
    >>> outline.panels[:3], outline.full_shape
    (('scan', 'denoised', 'relief'), (32, 32))
    """

    config: PipelineConfig
    source: str | None
    bit_depth: int | None
    shape: tuple[int, ...]
    full_shape: tuple[int, int]
    reduced: bool
    strength_used: float | None
    flattened: bool | None
    channels: str | None
    relief_colour: bool
    panels: tuple[str, ...]
    window: tuple[int, int, int, int] | None


def preview_outline(result: Result, panels: str | Sequence[str] | None = None,
                    details: Mapping[str, Any] | None = None) -> PreviewOutline:
    """The :class:`PreviewOutline` of ``render_preview(result, ..., panels=, details=)``.

    Parameters
    ----------
    result : Result
        What :func:`sketchgrad.process` returned (or a streamed run's thumbnails).
    panels, details
        As for :func:`render_preview`.

    Returns
    -------
    PreviewOutline

    Examples
    --------
    >>> import numpy as np, sketchgrad
    >>> res = sketchgrad.process(np.eye(32, dtype=np.float32))
    >>> preview_outline(res, ["scan", "hsv"]).panels
    ('scan', 'hsv')
    """
    _check_result(result)
    return _outline_and_details(result, panels, details)[0]


def _outline_and_details(result: Result, panels: str | Sequence[str] | None,
                         details: Mapping[str, Any] | None
                         ) -> tuple[PreviewOutline, Mapping[str, Any] | None]:
    """The outline, and the details the sheet's detail panels crop (made if not given)."""
    if details is None:
        details = result.details
    names = _choose_panels(_available(result, details), _full_shape(result), panels)
    window = None
    if any(n in DETAIL_PANELS for n in names):
        details = details if details is not None else _details_of(result)
        window = details["window"]
    outline = _make_outline(
        result.config, result.meta, result.image.shape, _full_shape(result),
        reduced=result.full_shape is not None,
        strength_used=getattr(result, "strength_used", None),
        flattened=getattr(result, "flattened", None),
        channels=getattr(result, "channels", None),
        relief_colour=result.sketch is not None and result.sketch.ndim == 3,
        panels=names, window=window)
    return outline, details


def _make_outline(config: PipelineConfig, meta: ScanMeta | None, shape: tuple[int, ...],
                  full_shape: tuple[int, ...], *, reduced: bool, strength_used: float | None,
                  flattened: bool | None, channels: str | None, relief_colour: bool,
                  panels: Sequence[str], window: Sequence[int] | None) -> PreviewOutline:
    """A :class:`PreviewOutline` in plain Python values (ints, floats, tuples).

    The one place that turns what a result or a streamed run knows into an
    outline, so that the two compare equal when they describe the same sheet
    (NumPy integers and floats become Python's).
    """
    return PreviewOutline(
        config=config, source=None if meta is None else Path(str(meta.source)).name,
        bit_depth=None if meta is None else meta.bit_depth,
        shape=tuple(int(n) for n in shape),
        full_shape=(int(full_shape[0]), int(full_shape[1])), reduced=reduced,
        strength_used=None if strength_used is None else float(strength_used),
        flattened=flattened, channels=channels, relief_colour=relief_colour,
        panels=tuple(panels),
        window=None if window is None else (int(window[0]), int(window[1]), int(window[2]),
                                            int(window[3])))


def _titles(outline: PreviewOutline) -> dict[str, str]:
    cfg = outline.config
    h, w = outline.full_shape
    scan = f"scan · {w}×{h} px"
    if outline.source is not None:
        scan += f", {outline.bit_depth}-bit"
    if len(outline.shape) == 3:
        scan += ", colour"
    used = outline.strength_used
    relief = "relief · depth 10, light elevation 82°, azimuth 45°"
    if outline.relief_colour:
        relief = "relief in the drawing's colours · depth 10, light 82°, 45°"
    from .color import color_label

    label = color_label(cfg.color)
    axial = getattr(cfg, "axial", False)
    if cfg.color == "hsv":
        colour = ("colour · hsv (axial): hue = stroke direction, brightness = strength"
                  if axial else "colour · hsv: hue = direction, brightness = strength")
    elif cfg.color == "stroke":
        colour = "colour · stroke: each edge in its stroke's colour, brightness = strength"
    else:
        colour = f"colour · {label} on {cfg.color_target}"
    return {
        "scan": scan,
        "denoised": f"denoised · {strength_label(cfg, used)}" + _flattened(outline.flattened, cfg),
        "relief": relief,
        "gx": f"gx = ∂I/∂x · {cfg.operator} (intensity / px)",
        "gy": f"gy = ∂I/∂y · {cfg.operator} (intensity / px)",
        "histogram": f"|∇I| before and after {cfg.normalize} (log counts)",
        "magnitude": f"|∇I| normalized · {cfg.normalize}",
        "hsv": colour,
        "hsv_strongest": "colour · strongest pixel per block (brighter than the file)",
        "legend": ("legend · direction the tone rises" if cfg.color == "hsv"
                   else "legend · stroke colouring" if cfg.color == "stroke"
                   else f"legend · ramp {label}"),
        "rose": "stroke angles · page degrees, weighted by ink",
        "detail_scan": "detail at 1:1 · scan (box on the scan panel)",
        "detail_hsv": "detail at 1:1 · colour",
        "detail_relief": "detail at 1:1 · relief",
    }


def _available(result: Result,
               details: Mapping[str, Any] | None = None) -> dict[str, bool]:
    """Panel -> whether ``result`` (with ``details``) has what it shows."""
    stages = {name for name in ("denoised", "sketch", "field", "normalized", "hsv")
              if getattr(result, name) is not None}
    if getattr(result, "strokes", None) is not None:
        stages.add("strokes")
    return _possible_panels(stages, result.full_shape is not None,
                            None if details is None else set(details))


def _possible_panels(stages: set[str], reduced: bool,
                     crops: set[str] | None) -> dict[str, bool]:
    """Panel -> shown or not, from the stages a result has (``"field"``, ..., ``"strokes"``).

    ``reduced``: the arrays are a reduced copy of the scan; ``crops``: the keys
    of the details given for one (None: none given).
    """
    have = {
        "scan": True,
        "denoised": "denoised" in stages,
        "relief": "sketch" in stages,
        "gx": "field" in stages,
        "gy": "field" in stages,
        "histogram": "field" in stages and "normalized" in stages,
        "magnitude": "normalized" in stages,
        "hsv": "hsv" in stages,
        "hsv_strongest": "hsv" in stages and not reduced,
        "legend": "hsv" in stages,
        "rose": "strokes" in stages,
        # a reduced copy has no full-resolution pixels to crop (unless given as details)
        "detail_scan": not reduced,
        "detail_hsv": "hsv" in stages and not reduced,
        "detail_relief": "sketch" in stages and not reduced,
    }
    if crops is not None:
        have.update({"detail_scan": "scan" in crops, "detail_hsv": "hsv" in crops,
                     "detail_relief": "relief" in crops,
                     "hsv_strongest": have["hsv_strongest"] or "hsv_peaks" in crops})
    return have


def _choose_panels(have: Mapping[str, bool], full_shape: tuple[int, int],
                   panels: str | Sequence[str] | None) -> list[str]:
    """The panels shown: ``panels`` checked against ``have`` (``_available``), or all there are."""
    if panels is None:
        big = max(full_shape) > 1.25 * PREVIEW_SIDE
        return [p for p in PREVIEW_PANELS if have[p] and (big or p not in DETAIL_PANELS)
                and p not in EXTRA_PANELS]
    panels = [panels] if isinstance(panels, str) else list(panels)
    unknown = [p for p in panels if p not in PREVIEW_PANELS]
    if unknown or not panels:
        raise ParameterError(f"panels={panels!r}: choose one or more of "
                             f"{', '.join(PREVIEW_PANELS)}")
    missing = [p for p in panels if not have[p]]
    if missing:
        raise ParameterError(f"panels {', '.join(missing)} were not computed for this result; "
                             "run process() with outputs including 'preview' (detail panels "
                             "of a reduced result need details=)")
    return panels


def detail_window(busy: np.ndarray, full_shape: tuple[int, int], *,
                  size: tuple[int, int] | None = None) -> tuple[int, int, int, int]:
    """Where the 1:1 detail panels look: the busiest panel-sized window of a scan.

    Parameters
    ----------
    busy : ndarray
        A map of how busy each part of the scan is (e.g. the normalized
        gradient magnitude), at full size or any reduced size covering the
        whole scan; it is shrunk to at most ``PREVIEW_SIDE`` pixels first, so
        the cost does not grow with the scan.
    full_shape : (int, int)
        The scan's (H, W).
    size : (int, int), optional
        The window's (height, width) in scan pixels (at most the scan's); by
        default as wide as a panel (``PANEL_INCHES`` at 100 dpi) and of the
        scan's aspect.

    Returns
    -------
    tuple of int
        (row, col, height, width) of the window in full-resolution pixels,
        centred on the highest mean of ``busy**2`` (crisp strokes win over a
        wide, faint texture).

    Examples
    --------
    >>> busy = np.zeros((100, 150), np.float32); busy[80:90, 120:130] = 1  # rows 1600-1800
    >>> row, col, height, width = detail_window(busy, (2000, 3000))
    >>> (height, width), row <= 1600 < 1800 <= row + height, col <= 2400 < 2600 <= col + width
    ((307, 460), True, True)
    """
    import cv2

    h, w = int(full_shape[0]), int(full_shape[1])
    if size is None:
        size = (round(PANEL_INCHES * _DPI * h / max(w, 1)), round(PANEL_INCHES * _DPI))
    ch, cw = min(h, int(size[0])), min(w, int(size[1]))
    small = downsample(busy)
    small = small * small  # favour crisp strokes over a wide, faint texture
    fy, fx = small.shape[0] / h, small.shape[1] / w
    kh, kw = max(1, round(ch * fy)), max(1, round(cw * fx))
    energy = cv2.boxFilter(np.ascontiguousarray(small, np.float32), -1, (kw, kh),
                           normalize=True, borderType=cv2.BORDER_CONSTANT)
    r, c = np.unravel_index(int(np.argmax(energy)), energy.shape)
    row = int(np.clip(round((r + 0.5) / fy) - ch // 2, 0, h - ch))
    col = int(np.clip(round((c + 0.5) / fx) - cw // 2, 0, w - cw))
    return row, col, ch, cw


def _details_of(result: Result) -> dict[str, Any]:
    """The window and its full-resolution crops, from a full-size result."""
    busy: NDArray[np.floating[Any]]
    if result.normalized is not None:
        busy = result.normalized
    else:  # no gradients: the ink (of a colour scan, its channels' mean)
        shown = downsample(result.image)
        busy = 1.0 - (shown.mean(axis=2) if shown.ndim == 3 else shown)
    r, c, ch, cw = window = detail_window(busy, result.image.shape[:2])
    where = (slice(r, r + ch), slice(c, c + cw))
    crops: dict[str, Any] = {"window": window, "scan": result.image[where]}
    if result.hsv is not None:
        crops["hsv"] = result.hsv[where]
    if result.sketch is not None:
        crops["relief"] = result.sketch[where]
    return crops


def _strongest(result: Result, details: Mapping[str, Any] | None) -> NDArray[np.float32]:
    """The labelled extra colour panel: each block's strongest pixel (see block_peak)."""
    given = (details or {}).get("hsv_peaks")
    if given is not None:  # gathered tile by tile from the full-resolution stages
        return np.asarray(given, np.float32)
    hsv = cast("NDArray[np.float32]", result.hsv)  # the panel needs it (see _available)
    return block_peak(hsv, shrink_step(hsv.shape))


# ----------------------------------------------------------------------------------------
# The sheet: a fixed layout computed in pixels (no layout engine), every picture drawn at
# its final pixel size and pasted into the drawn canvas (Agg never resamples a picture),
# frames, colorbars and the detail box drawn as pixels, titles as figure texts. Only the
# histograms and a ramp legend are axes.

#: Side of a panel's picture, in sheet pixels (the 1:1 detail crops are this wide).
_PANEL_PX = round(PANEL_INCHES * _DPI)
# One column of the sheet: margin, framed picture, colorbar and its tick labels.
_COLUMN_PX = round((PANEL_INCHES + 0.6) * _DPI)
_MARGIN = 4           # left of a panel's frame, in its column
_TITLE_BAND = 26      # above a frame: the panel's title
_FOOT_BAND = 22       # below a frame: the detail panels' coordinates
_ROW_GAP = 10
_HEADER_LINE = 19     # one line of the sheet's heading (11 pt)
_FRAME = (204, 204, 204)
_BOX = (225, 29, 72)  # the detail window's box on the scan panel (#e11d48)


def _superscript(exponent: int) -> str:
    digits = str(abs(exponent)).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return ("⁻" if exponent < 0 else "") + digits


def _short_label(value: float, _pos: object = None) -> str:
    """Colorbar tick labels at most five characters wide (they share the column's margin)."""
    text = f"{value:.2g}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def _layout(names: list[str], box_h: int, header_lines: int) -> dict[str, Any]:
    """Where everything goes, in sheet pixels (x right, y down from the top-left corner).

    Returns ``{"size": (width, height), "panels": {name: (x, y, w, h)}}``, each
    rectangle being a panel's box: the framed picture's largest extent (a
    picture of another aspect is centred in it); its title sits in the band
    above, coordinates and axis labels in the band below.
    """
    ncols = min(3, len(names))
    # On a sheet of several rows the 1:1 details start a row of their own (side by side).
    plain = sum(n not in DETAIL_PANELS for n in names)
    first_detail = -(-plain // ncols) * ncols if len(names) > ncols else plain
    cells, placed = {}, {False: 0, True: first_detail}
    for name in names:
        cells[name] = placed[name in DETAIL_PANELS]
        placed[name in DETAIL_PANELS] += 1
    nrows = max(cells.values()) // ncols + 1
    header = 8 + _HEADER_LINE * header_lines + 8
    row_h = _TITLE_BAND + box_h + 2 + _FOOT_BAND + _ROW_GAP
    panels = {}
    for name in names:
        r, c = divmod(cells[name], ncols)
        panels[name] = (c * _COLUMN_PX + _MARGIN, header + r * row_h + _TITLE_BAND,
                        _PANEL_PX + 2, box_h + 2)
    return {"size": (ncols * _COLUMN_PX, header + nrows * row_h), "panels": panels}


def _fit(shape: tuple[int, ...], box: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of a picture of this shape scaled to fit ``box`` (h, w), aspect kept."""
    h, w = shape[:2]
    scale = min(box[0] / max(h, 1), box[1] / max(w, 1))
    return max(1, min(box[0], round(h * scale))), max(1, min(box[1], round(w * scale)))


def _resize(a: np.ndarray, size: tuple[int, int], *, peak: bool = False) -> np.ndarray:
    """``a`` brought to ``size`` (h, w) for display.

    Shrinking averages each footprint's area (OpenCV ``INTER_AREA``), so a
    panel is as bright as the file it shows; with ``peak`` it picks each
    footprint's strongest pixel instead (largest absolute value, or largest
    channel; as :func:`block_peak`), for the signed gx and gy panels, whose
    two sides of a stroke would cancel in a mean. Enlarging repeats pixels.
    """
    import cv2

    h, w = a.shape[:2]
    if (h, w) == tuple(size):
        return a
    if size[0] >= h and size[1] >= w:
        return cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    if not peak:
        return cv2.resize(a, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    # each output pixel covers source rows [r0, r0 + ky) and columns [c0, c0 + kx)
    rows = np.arange(size[0]) * h // size[0]
    cols = np.arange(size[1]) * w // size[1]
    ky, kx = -(-h // size[0]), -(-w // size[1])
    strength = np.abs(a) if a.ndim == 2 else a.max(axis=2)
    best = out = None
    for dy in range(ky):
        rr = np.minimum(rows + dy, h - 1)
        for dx in range(kx):
            cc = np.minimum(cols + dx, w - 1)
            s = strength.take(rr, axis=0).take(cc, axis=1)
            pick = a.take(rr, axis=0).take(cc, axis=1)
            if best is None:
                best, out = s, pick
            else:
                better = s > best
                best = np.where(better, s, best)
                out = np.where(better[..., None] if a.ndim == 3 else better, pick, out)
    return cast(np.ndarray, out)  # ky, kx >= 1: set in the first step


def _rgb8(picture: np.ndarray, cmap: Colormap | None = None, vmin: float = 0.0,
          vmax: float = 1.0) -> NDArray[np.uint8]:
    """uint8 RGB of a picture: grey or RGB in [0, 1], or a colormap of ``[vmin, vmax]``."""
    if cmap is not None:
        unit = np.clip((picture - np.float32(vmin)) / np.float32(vmax - vmin), 0, 1)
        rgba: NDArray[np.uint8] = cmap(unit, bytes=True)
        return rgba[..., :3]
    grey = np.clip(picture, 0, 1) * np.float32(255) + np.float32(0.5)
    grey = grey.astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2) if grey.ndim == 2 else grey


def _framed(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    out = np.empty((rgb.shape[0] + 2, rgb.shape[1] + 2, 3), np.uint8)
    out[:] = _FRAME
    out[1:-1, 1:-1] = rgb
    return out


def _draw_box(rgb: NDArray[np.uint8], top: float, left: float, height: float, width: float) -> None:
    """A 2-pixel outline, in place (clipped to the picture)."""
    h, w = rgb.shape[:2]
    y0, x0 = int(np.clip(round(top), 0, h - 1)), int(np.clip(round(left), 0, w - 1))
    y1 = int(np.clip(round(top + height), y0 + 1, h))
    x1 = int(np.clip(round(left + width), x0 + 1, w))
    for rows, cols in (((y0, y0 + 2), (x0, x1)), ((y1 - 2, y1), (x0, x1)),
                       ((y0, y1), (x0, x0 + 2)), ((y0, y1), (x1 - 2, x1))):
        rgb[max(rows[0], 0):rows[1], max(cols[0], 0):cols[1]] = _BOX


class _Sheet:
    """A Figure laid out by sheet pixels (x right, y down from the top-left corner).

    Texts and axes are matplotlib artists; pictures are kept aside and pasted
    into the drawn canvas at their place, pixel for pixel (nothing is drawn
    over them, so Agg need not resample or composite them).
    """

    def __init__(self, size: tuple[int, int]) -> None:
        _wait_for_matplotlib()  # one importer at a time (see prepare)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.width, self.height = size
        self.fig = Figure(figsize=(self.width / _DPI, self.height / _DPI), dpi=_DPI)
        FigureCanvasAgg(self.fig)
        #: (name, x, y, uint8 RGB picture), pasted by ``render``.
        self.pictures: list[tuple[str, int, int, NDArray[np.uint8]]] = []
        # every artist added, in order, and how many of them ``draw`` has drawn (None: the
        # canvas was never drawn)
        self._artists: list[Artist] = []
        self._drawn: int | None = None

    def picture(self, rgb: NDArray[np.uint8], x: int, y: int, name: str) -> None:
        self.pictures.append((name, int(x), int(y), rgb))

    def text(self, x: float, y: float, s: str, gid: str | None = None, **kw: Any) -> Text:
        t = self.fig.text(x / self.width, 1 - y / self.height, s, **kw)
        if gid:
            t.set_gid(gid)
        self._artists.append(t)
        return t

    def axes(self, x: float, y: float, w: float, h: float) -> Axes:
        ax = self.fig.add_axes((x / self.width, 1 - (y + h) / self.height,
                                w / self.width, h / self.height))
        self._artists.append(ax)
        return ax

    def artist(self, artist: Artist) -> Artist:
        """Add another artist (in display coordinates) to the figure."""
        self.fig.add_artist(artist)
        self._artists.append(artist)
        return artist

    def draw(self) -> None:
        """Draw onto the canvas what was added since the last draw.

        The first draw draws the whole figure (its white background included);
        later ones only the new artists, over it. Texts, axes and pictures never
        overlap, so the canvas is the same as drawing everything at once; a
        sheet drawn in two steps (:class:`PreviewSheet`) and one drawn in one
        step by the same calls are identical.
        """
        if self._drawn is None:
            self.fig.canvas.draw()
        else:
            for artist in self._artists[self._drawn:]:
                self.fig.draw_artist(artist)
        self._drawn = len(self._artists)

    def render(self) -> NDArray[np.uint8]:
        """The sheet as an (H, W, 3) uint8 array."""
        import cv2

        self.draw()
        canvas = cast("FigureCanvasAgg", self.fig.canvas)  # attached in __init__
        # RGBA to RGB with OpenCV: a quarter of the time of copying NumPy's strided view
        sheet = cast("NDArray[np.uint8]", cv2.cvtColor(np.asarray(canvas.buffer_rgba()),
                                                       cv2.COLOR_RGBA2RGB))
        for _, x, y, rgb in self.pictures:
            sheet[y:y + rgb.shape[0], x:x + rgb.shape[1]] = rgb
        return sheet


def _colorbar(sheet: _Sheet, box: _Box, cmap: Colormap, vmin: float, vmax: float, name: str, *,
              extend: bool = False) -> None:
    """A colorbar right of a picture: the bar and tick marks as pixels, labels as texts."""
    from matplotlib.patches import Polygon
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import IdentityTransform

    x, y, w, h = box
    bar_h = round(0.85 * h)
    left, top = x + w + 4, y + round(0.075 * h)
    values = np.linspace(vmax, vmin, bar_h, dtype=np.float32)[:, None]  # top: vmax
    picture = np.full((bar_h, 14, 3), 255, np.uint8)
    picture[:, :10] = _rgb8(np.repeat(values, 10, axis=1), cmap, vmin, vmax)
    picture[[0, -1], :10] = 0  # the outline
    picture[:, [0, 9]] = 0
    # labels (11 px high) at least 24 px apart, at most five intervals
    bins = int(np.clip(bar_h // 24, 1, 5))
    ticks = MaxNLocator(bins, symmetric=vmin < 0 < vmax).tick_values(vmin, vmax)
    span = vmax - vmin
    # very small or large limits: labels of a common power of ten, named above the bar
    largest = max(abs(vmin), abs(vmax))
    exponent = int(np.floor(np.log10(largest))) if not 0.01 <= largest < 1000 else 0
    for value in ticks:
        if not vmin - 1e-9 * span <= value <= vmax + 1e-9 * span:
            continue
        row = round((vmax - value) / span * (bar_h - 1))
        picture[row, 10:13] = 0
        sheet.text(left + 16, top + row, _short_label(value / 10.0 ** exponent),
                   gid=f"colorbar:{name}", fontsize=8, ha="left", va="center")
    sheet.picture(picture, left, top, f"colorbar:{name}")
    tip = max(4, round(0.05 * bar_h)) if extend else 0
    if exponent:
        sheet.text(left, top - tip - 3, "×10" + _superscript(exponent),
                   gid=f"colorbar:{name}", fontsize=8, ha="left", va="bottom")
    if extend:  # triangles for values beyond the limits, as matplotlib's extend="both"
        for value, base, sign in ((vmax, top, -1), (vmin, top + bar_h, 1)):
            # display coordinates: pixels from the bottom-left corner
            yb = sheet.height - base
            corners = [(left, yb), (left + 10, yb), (left + 5, yb - sign * tip)]
            colour = cmap(1.0 if value == vmax else 0.0)
            triangle = sheet.artist(Polygon(corners, closed=True, facecolor=colour,
                                            edgecolor="black", linewidth=0.8,
                                            transform=IdentityTransform()))
            triangle.set_gid(f"colorbar:{name}")


def _decimals(values: Sequence[float]) -> int:
    """Fewest decimals that write every tick value exactly (0.025 needs 3)."""
    for decimals in range(7):
        if all(abs(round(v, decimals) - v) < 1e-9 * max(1.0, abs(v)) for v in values):
            return decimals
    return 6


def _histogram_plots(box: _Box) -> list[tuple[int, int, int, int]]:
    """The two histograms' plots in a panel's box: (left, top, width, height) each."""
    x, y, w, h = box
    block = (h + _FOOT_BAND) / 2
    # room for y tick labels and "pixels" on the left, x tick labels and the label below
    return [(x + 56, round(y + i * block + 8), w - 56 + 30, round(block - 8 - 40))
            for i in range(2)]


def _histogram_labels(sheet: _Sheet, box: _Box, outline: PreviewOutline) -> None:
    """The histograms' axis labels (known before the data)."""
    # a reduced result holds block means: say so, their range is narrower than the pixels'
    of = " · of block means" if outline.reduced else ""
    labels = (f"before: |∇I| (intensity / px){of}",
              f"after: {outline.config.normalize}, shown on [0, 1]{of}")
    plots = _histogram_plots(box)
    for i, ((left, top, width, height), label) in enumerate(zip(plots, labels, strict=True)):
        gid = f"histogram:{'before' if i == 0 else 'after'}"
        sheet.text(left - 40, top + height / 2, "pixels", gid=gid, fontsize=8, rotation=90,
                   ha="center", va="center")
        sheet.text(left + _HIST_TICK + width / 2, top + height + _HIST_TICK + 17, label, gid=gid,
                   fontsize=8.5, ha="center", va="top")


#: Length of the histograms' tick marks, in pixels.
_HIST_TICK = 4


def _draw_histogram(sheet: _Sheet, box: _Box, result: Result) -> None:
    """Two histograms (before and after normalization, log counts) drawn as pixels.

    Bars, frame and tick marks are pixels of one picture each; the tick
    labels are texts (the axis labels come first, with the outline: see
    :func:`_histogram_labels`). (Two matplotlib axes cost half the sheet's time.)
    """
    from matplotlib.ticker import MaxNLocator

    # offered only for a result with both stages (see _available)
    before = _strided(cast("GradientField", result.field).magnitude)
    after = _strided(cast("NDArray[np.float32]", result.normalized))
    for i, (data, colour, (left, top, width, height)) in enumerate(zip(
            (before, after), ((89, 89, 89), (194, 65, 12)), _histogram_plots(box), strict=True)):
        gid = f"histogram:{'before' if i == 0 else 'after'}"
        finite = data[np.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        counts, edges = np.histogram(finite, bins=96, range=(lo, hi))
        x_lo, x_hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)  # matplotlib's margins
        log = bool(counts.any())
        if log:
            y_lo, y_hi = np.log10(0.5), np.log10(counts.max()) + 0.3
            bar = np.where(counts > 0, (np.log10(np.maximum(counts, 1)) - y_lo)
                           / (y_hi - y_lo), 0.0)
        else:
            y_lo, y_hi, bar = 0.0, 1.0, np.zeros(counts.shape)
        # the picture: the plot plus 4 px left and below for the tick marks
        tick = _HIST_TICK
        picture = np.full((height + tick, width + tick, 3), 255, np.uint8)
        plot = picture[:height, tick:]
        columns = (x_lo + (np.arange(width) + 0.5) / width * (x_hi - x_lo))
        which = np.searchsorted(edges, columns, side="right") - 1
        inside = (which >= 0) & (which < len(counts)) & (columns <= hi)
        tall = np.where(inside, bar[np.clip(which, 0, len(counts) - 1)], 0.0)
        rows = np.arange(height)[:, None]
        plot[rows >= np.round((1 - tall) * height)[None, :]] = colour
        plot[[0, -1], :] = 0  # the frame
        plot[:, [0, -1]] = 0

        ticks = [v for v in MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                 if x_lo <= v <= x_hi]
        decimals = _decimals(ticks)
        for v in ticks:
            col = tick + round((v - x_lo) / (x_hi - x_lo) * (width - 1))
            picture[height:height + tick, col] = 0
            text = f"{v:.{decimals}f}".replace("-", "−")
            sheet.text(left + col, top + height + tick + 2, text, gid=gid, fontsize=8,
                       ha="center", va="top")
        if log:
            decades = list(range(0, int(np.floor(y_hi)) + 1))
            stride = max(1, -(-len(decades) // 3))
            for d in decades:
                for sub in (1, 2, 5):
                    value = np.log10(sub) + d
                    if not y_lo <= value <= y_hi:
                        continue
                    row = round((1 - (value - y_lo) / (y_hi - y_lo)) * (height - 1))
                    length = tick if sub == 1 else 2
                    picture[row, tick - length:tick] = 0
                    if sub == 1 and d % stride == 0:
                        sheet.text(left - tick - 2, top + row, "10" + _superscript(d), gid=gid,
                                   fontsize=8, ha="right", va="center")
        sheet.picture(picture, left - tick, top, gid)


def _draw_legend(sheet: _Sheet, box: _Box, cfg: PipelineConfig) -> None:
    """The colouring's legend: the colour wheel, the ramp, or a note (settings only)."""
    x, y, w, h = box
    if cfg.color == "stroke":  # no scale: the colours are the drawing's own
        sheet.text(x + w / 2, y + h / 2, "each edge in the colour of the stroke\n"
                   "that makes it; brightness = strength", fontsize=9, ha="center",
                   va="center")
        return
    if cfg.color != "hsv":
        from .color import ColorRamp, ramp_from_spec

        strip_w = w - 60
        strip_h = int(min(0.25 * strip_w, h - 60))
        top = y + (h - 30 - strip_h) // 2
        ramp = cfg.color if isinstance(cfg.color, ColorRamp) else ramp_from_spec(cfg.color)
        strip = ramp.strip(strip_w, strip_h)
        sheet.picture(_rgb8(strip), x + 30, top, "legend")
        ax = sheet.axes(x + 30, top, strip_w, strip_h)
        ax.set_gid("legend:axis")
        ax.patch.set_visible(False)  # the strip shows through
        ax.set_xlim(0, 1)
        ax.set_yticks([])
        ax.tick_params(labelsize=8)
        label = "normalized strength" if cfg.color_target == "magnitude" else \
            "tone: ink (0) → paper (1)"
        ax.set_xlabel(label, fontsize=9)
        return
    from .color import color_wheel

    side = int(max(16, min(h - 76, w - 90)))
    cx, cy = x + w / 2, y + (h - 6) / 2
    import cv2

    # drawn at twice the size and area-averaged: a smooth rim (the picture is not resampled)
    wheel = cv2.resize(color_wheel(2 * side, axial=getattr(cfg, "axial", False)), (side, side),
                       interpolation=cv2.INTER_AREA)
    sheet.picture(_rgb8(wheel), round(cx - side / 2), round(cy - side / 2), "legend")
    kw: dict[str, Any] = dict(fontsize=9, ha="center", va="center")
    sheet.text(cx + side / 2 + 16, cy, "right", rotation=90, **kw)
    sheet.text(cx - side / 2 - 16, cy, "left", rotation=90, **kw)
    sheet.text(cx, cy + side / 2 + 12, "down", **kw)
    sheet.text(cx, cy - side / 2 - 12, "up", **kw)
    sheet.text(cx, cy + side / 2 + 30, "centre: no gradient (black) · rim: strongest",
               fontsize=8, ha="center", va="center", color="0.3")


#: The rose's bars, guides and dominant-angle lines (RGB).
_ROSE_BAR, _ROSE_GUIDE, _ROSE_MARK = (58, 110, 165), (205, 205, 205), (34, 34, 34)


def _rose_picture(strokes: StrokeDirections | StrokeStatistics, side: int) -> NDArray[np.uint8]:
    """The rose of stroke angles as a ``side`` x ``side`` uint8 RGB picture.

    The pixel form of :func:`sketchgrad.strokes.plot_rose` (a matplotlib polar
    axes costs more than the rest of a preview): a pixel at page angle ``a``
    (0 right, counter-clockwise, y up; both ends of a stroke, so ``a`` and ``a
    + 180`` share a bin) is bar-coloured when its distance from the centre is
    within its bin's weight over the largest bin's, times the radius (0.46 of
    the side). Light guides mark the rim and 0, 45, 90 and 135 degrees; dark
    ticks across the rim the dominant angles. Drawn at twice the size and
    area-averaged.

    Parameters
    ----------
    strokes : StrokeDirections or StrokeStatistics
        Whose ``histogram`` and dominant angles to draw.
    side : int
        Pixels.

    Examples
    --------
    >>> from sketchgrad.strokes import StrokeStatistics
    >>> _rose_picture(StrokeStatistics(), 40).shape      # nothing drawn: guides only
    (40, 40, 3)
    """
    import cv2

    big = 2 * int(side)
    histogram = np.asarray(strokes.histogram, np.float64)
    peak = histogram.max()
    radii = histogram / peak if peak > 0 else histogram
    centre = (big - 1) / 2
    radius = 0.46 * big
    rgb = np.full((big, big, 3), 255, np.uint8)
    point = (round(centre), round(centre))
    cv2.circle(rgb, point, round(radius), _ROSE_GUIDE, 2, cv2.LINE_AA)

    def across(degrees: float, colour: tuple[int, int, int], width: int,
               inner: float = 0.0) -> None:
        """A line through the centre at ``degrees``, from ``inner`` to the rim (both ends)."""
        ux, uy = np.cos(np.radians(degrees)), -np.sin(np.radians(degrees))
        outer = radius if inner == 0 else big / 2 - 1
        for sign in (1, -1):
            cv2.line(rgb, (round(centre + sign * inner * ux), round(centre + sign * inner * uy)),
                     (round(centre + sign * outer * ux), round(centre + sign * outer * uy)),
                     colour, width, cv2.LINE_AA)

    for degrees in (0, 45, 90, 135):
        across(degrees, _ROSE_GUIDE, 2)
    y, x = np.mgrid[0:big, 0:big].astype(np.float32)
    x -= np.float32(centre)
    y = np.float32(centre) - y  # page frame: y up
    angle = np.degrees(np.arctan2(y, x)) % 180
    index = np.minimum((angle * (histogram.size / 180)).astype(np.intp), histogram.size - 1)
    rgb[np.hypot(x, y) <= (radii * radius).astype(np.float32)[index]] = _ROSE_BAR
    dominant = strokes.dominant() if callable(strokes.dominant) else strokes.dominant
    for rank, (mark, _share) in enumerate(dominant):
        across(mark, _ROSE_MARK, 6 if rank == 0 else 4, inner=0.9 * radius)  # rim ticks
    return cast("NDArray[np.uint8]",
                cv2.resize(rgb, (int(side), int(side)), interpolation=cv2.INTER_AREA))


def _rose_place(box: _Box) -> tuple[int, float, float]:
    """The rose's picture side and centre (x, y) in its panel's box."""
    x, y, w, h = box
    return int(max(16, min(h - 76, w - 90))), x + w / 2, y + (h - 6) / 2


def _rose_labels(sheet: _Sheet, box: _Box) -> None:
    """The rose's angle labels, outside its square picture (known before the data)."""
    side, cx, cy = _rose_place(box)
    half = side / 2
    kw = dict(fontsize=8, ha="center", va="center", color="0.3")
    for degrees, (dx, dy) in {0: (half + 14, 0), 45: (half + 8, -half - 6),
                              90: (0, -half - 8), 135: (-half - 8, -half - 6)}.items():
        sheet.text(cx + dx, cy + dy, f"{degrees}°", gid=f"rose:{degrees}", **kw)


def _draw_rose(sheet: _Sheet, box: _Box, strokes: StrokeDirections | StrokeStatistics) -> None:
    """The rose panel's picture and the figures below it (its labels: :func:`_rose_labels`)."""
    side, cx, cy = _rose_place(box)
    sheet.picture(_rose_picture(strokes, side), round(cx - side / 2), round(cy - side / 2),
                  "rose")
    dominant = strokes.dominant() if callable(strokes.dominant) else strokes.dominant
    peaks = ", ".join(f"{round(a) % 180}° ({s:.0%})" for a, s in dominant[:3]) or "none"
    sheet.text(cx, cy + side / 2 + 16, f"dominant {peaks}", gid="rose:dominant",
               fontsize=8.5, ha="center", va="center")
    sheet.text(cx, cy + side / 2 + 32, f"overall coherence {strokes.overall_coherence:.2f} "
               "(0: every way, 1: parallel)", gid="rose:coherence", fontsize=8,
               ha="center", va="center", color="0.3")


def _area(stage: NDArray[np.float32],
          fit: Callable[[tuple[int, ...]], tuple[int, int]]) -> NDArray[np.float32]:
    """A stage shrunk to its panel's size by area averaging, in one step (as OpenCV would)."""
    a = downsample(stage, side=max(stage.shape[:2]))  # float32 by the input rule, no resize
    return _resize(a, fit(a.shape))


def _panel_picture(name: str, result: Result, details: Mapping[str, Any] | None,
                   fit: Callable[[tuple[int, ...]], tuple[int, int]], window: _Box | None,
                   full_w: int) -> tuple[NDArray[np.uint8], _Colorbar | None]:
    """(uint8 RGB picture at its display size, colorbar (cmap, vmin, vmax, kw) or None)."""
    from matplotlib import colormaps

    # a panel is offered only for a result that has its stage (see _available)
    if name in ("gx", "gy"):
        field = cast("GradientField", result.field)
        g = downsample(field.gx if name == "gx" else field.gy)
        limit = float(np.percentile(np.abs(g), 99.5)) if g.size else 0.0
        limit = limit if limit > 0 else 1.0
        cmap = colormaps["RdBu_r"]
        return (_rgb8(_resize(g, fit(g.shape), peak=True), cmap, -limit, limit),
                (cmap, -limit, limit, {"extend": True}))
    if name == "magnitude":
        # the colormap of the area-averaged values: as bright as the file looks shrunk
        cmap = colormaps["magma"]
        normalized = cast("NDArray[np.float32]", result.normalized)
        return _rgb8(_area(normalized, fit), cmap), (cmap, 0.0, 1.0, {})
    if name in DETAIL_PANELS:
        # details and window are set whenever a detail panel is shown (_build_figure)
        crop = downsample(cast("Mapping[str, Any]", details)[name.removeprefix("detail_")],
                          side=max(cast(_Box, window)[2:]))
        return _rgb8(_resize(crop, fit(crop.shape))), None
    if name == "hsv_strongest":
        peaks = _strongest(result, details)
        return _rgb8(_resize(peaks, fit(peaks.shape), peak=True)), None
    stage = cast("NDArray[np.float32]", {"scan": result.image, "denoised": result.denoised,
                                         "hsv": result.hsv, "relief": result.sketch}[name])
    rgb = _rgb8(_area(stage, fit))
    if name == "scan" and window is not None:
        r, c, ch, cw = window
        scale = rgb.shape[1] / full_w
        _draw_box(rgb, r * scale, c * scale, ch * scale, cw * scale)
    return rgb, None


def _fit_width(text: Text, width: float, renderer: RendererBase) -> None:
    """Shrink a text's font until it is at most ``width`` pixels wide (long names)."""
    size = float(text.get_fontsize())
    while size > 6 and text.get_window_extent(renderer).width > width:
        size -= 0.5
        text.set_fontsize(size)


def _figure(result: Result, panels: str | Sequence[str] | None,
            details: Mapping[str, Any] | None = None,
            sheet: PreviewSheet | None = None) -> NDArray[np.uint8]:
    """The preview sheet as an (H, W, 3) uint8 array (finishing ``sheet`` if it is this one's)."""
    return _build_figure(result, panels, details, sheet).render()


def _build_figure(result: Result, panels: str | Sequence[str] | None,
                  details: Mapping[str, Any] | None = None,
                  sheet: PreviewSheet | None = None) -> _Sheet:
    """The preview as a :class:`_Sheet`, drawn (pictures pasted by its ``render``).

    ``sheet`` is finished if it was begun from this preview's outline and not
    finished yet; otherwise a sheet is begun here. Pictures are named after
    their panel (``colorbar:name`` for a colorbar); texts and axes carry gids:
    ``heading``, ``title:name``, ``colorbar:name`` (tick labels),
    ``detail:name`` (a detail panel's coordinates), ``histogram:before`` /
    ``histogram:after``, ``legend:axis`` (a ramp's axis).
    """
    outline, details = _outline_and_details(result, panels, details)
    if sheet is None or sheet.finished or sheet.outline != outline:
        sheet = PreviewSheet(outline)
    return sheet.finish(result, details)


class PreviewSheet:
    """A preview sheet drawn in two steps: its outline's texts first, the pixels at the end.

    Made from a :class:`PreviewOutline`, it lays out the sheet and draws what
    the outline decides: the heading, the titles, the legend, the axis labels
    of the histograms and the rose (about three quarters of the sheet's
    text). :meth:`finish` then adds the pictures and the labels that depend on
    the data (colorbar and histogram ticks, the rose's figures, the detail
    coordinates). A preview process begins the sheet while the scan is still
    being computed (:meth:`sketchgrad.renderer.PreviewRenderer.begin`), so
    only the second step waits for the last tile. Every preview is drawn
    this way, so a sheet begun early and one begun at the end are the same
    pixels.

    Parameters
    ----------
    outline : PreviewOutline
        The sheet's outline (:func:`preview_outline`, :meth:`Thumbnails.outline`).

    Examples
    --------
    >>> import numpy as np, sketchgrad
    >>> res = sketchgrad.process(np.eye(32, dtype=np.float32))
    >>> sheet = PreviewSheet(preview_outline(res))
    >>> sheet.finish(res).render().shape[2]
    3
    """

    def __init__(self, outline: PreviewOutline) -> None:
        self.outline = outline
        #: Whether :meth:`finish` was called (a sheet is finished once).
        self.finished = False
        names = list(outline.panels)
        h, w = _downsampled_shape(outline.shape)
        full_h, full_w = outline.full_shape
        aspect = min(max(h / max(w, 1), 0.35), 1.6)
        box_h = round(_PANEL_PX * aspect)
        window = outline.window
        if window is not None and window[2] <= 1.6 * _PANEL_PX and window[3] <= _PANEL_PX:
            box_h = max(box_h, int(window[2]))  # room for the crop at 1:1
        self._box_h = box_h
        cfg = outline.config
        from .color import color_label

        note = (f"{_channels_text(outline.channels, len(outline.shape), cfg.channels)} · "
                f"denoise {strength_label(cfg, outline.strength_used)}"
                f"{_flattened(outline.flattened, cfg)} · operator {cfg.operator} · "
                f"normalize {cfg.normalize} · colour {color_label(cfg.color)}"
                + (f" on {cfg.color_target}" if cfg.color != "hsv" else ""))
        if max(full_h, full_w) > max(h, w):
            shown_h, shown_w = _fit((h, w), (box_h, _PANEL_PX))
            strongest = " (and the strongest-pixel colour panel)" if "hsv_strongest" in names \
                else ""
            note += (f"\npanels shown at {shown_w}×{shown_h}, area-averaged: as bright as the "
                     f"files look shrunk; gx and gy{strongest} keep each block's strongest value")
        if outline.source is not None:
            note = f"{outline.source}\n{note}"

        self._layout = _layout(names, box_h, note.count("\n") + 1)
        width, height = self._layout["size"]
        sheet = self.sheet = _Sheet((width, height))
        renderer = cast("FigureCanvasAgg", sheet.fig.canvas).get_renderer()
        heading = sheet.text(width / 2, 8, note, gid="heading", fontsize=11, ha="center",
                             va="top", linespacing=1.2)
        _fit_width(heading, width - 8, renderer)
        titles = _titles(outline)
        for name in names:
            box = self._layout["panels"][name]
            x, y, bw, bh = box
            title = sheet.text(x + bw / 2, y - 6, titles[name], gid=f"title:{name}",
                               fontsize=10, ha="center", va="baseline")
            _fit_width(title, _COLUMN_PX - 8, renderer)
            if name == "histogram":
                _histogram_labels(sheet, box, outline)
            elif name == "legend":
                _draw_legend(sheet, box, cfg)
            elif name == "rose":
                _rose_labels(sheet, box)
        sheet.draw()

    def _fit(self, shape: tuple[int, ...]) -> tuple[int, int]:
        return _fit(shape, (self._box_h, _PANEL_PX))

    def finish(self, result: Result, details: Mapping[str, Any] | None = None) -> _Sheet:
        """Add the pictures and the data's labels of ``result`` (whose outline this is).

        Parameters
        ----------
        result : Result
            The result the outline was taken from (or one with an equal outline).
        details : mapping, optional
            As for :func:`render_preview` (default: ``result.details``, else
            taken from ``result`` when detail panels are shown).

        Returns
        -------
        _Sheet
            The sheet, its texts drawn; its ``render()`` pastes the pictures and
            gives the (H, W, 3) uint8 pixels.
        """
        if self.finished:
            raise RuntimeError("this preview sheet was finished already; begin another")
        self.finished = True
        outline, sheet = self.outline, self.sheet
        if details is None:
            details = result.details
        if outline.window is not None and details is None:
            details = _details_of(result)
        window = outline.window
        full_w = outline.full_shape[1]

        def framed_picture(name: str) -> tuple[NDArray[np.uint8], _Colorbar | None]:
            rgb, bar = _panel_picture(name, result, details, self._fit, window, full_w)
            return _framed(rgb), bar

        # The panels' pictures are made in threads (NumPy and OpenCV let go of the GIL)
        # while this thread adds and draws the texts of those already made: the same
        # pictures and texts, drawn in the same order.
        with ThreadPoolExecutor(min(2, os.cpu_count() or 1)) as pool:
            made = {name: pool.submit(framed_picture, name) for name in outline.panels
                    if name not in ("histogram", "legend", "rose")}
            for name in outline.panels:
                box = self._layout["panels"][name]
                x, y, bw, bh = box
                if name == "histogram":
                    _draw_histogram(sheet, box, result)
                elif name == "rose":
                    # the rose is offered only for a result with stroke figures (_available)
                    _draw_rose(sheet, box, cast("StrokeDirections | StrokeStatistics",
                                                result.strokes))
                elif name != "legend":
                    framed, bar = made[name].result()
                    # centred in the panel's box (a picture of another aspect than the row's)
                    px = x + (bw - framed.shape[1]) // 2
                    py = y + (bh - framed.shape[0]) // 2
                    sheet.picture(framed, px, py, name)
                    if bar is not None:
                        cmap, vmin, vmax, kw = bar
                        _colorbar(sheet, (px, py, framed.shape[1], framed.shape[0]), cmap,
                                  vmin, vmax, name, **kw)
                    if name in DETAIL_PANELS:
                        r, c, ch, cw = cast(_Box, window)  # set when a detail panel is shown
                        sheet.text(x + bw / 2, py + framed.shape[0] + 4,
                                   f"x {c}–{c + cw}, y {r}–{r + ch}", gid=f"detail:{name}",
                                   fontsize=8, ha="center", va="top")
                sheet.draw()
        return sheet


def render_preview(result: Result, path: str | os.PathLike[str], *,
                   panels: str | Sequence[str] | None = None,
                   text: dict[str, str] | None = None,
                   details: Mapping[str, Any] | None = None, atomic: bool = True,
                   sheet: PreviewSheet | None = None) -> Path:
    """Render a result's stages side by side into a PNG.

    Panels (see ``PREVIEW_PANELS``): the scan; the denoised image; the relief;
    gx and gy on a diverging colormap centred at 0 (limits at the 99.5th
    percentile of their size, with colorbars); the histogram of the gradient
    magnitude before and after normalization (log counts); the normalized
    magnitude (colorbar); the colouring and its legend (the colour wheel, or
    the ramp); the rose of stroke angles (``result.strokes``: bars per angle
    weighted by ink, the dominant angles, the overall coherence). Titles and
    the heading name the methods and parameters as run: the channels (a
    colour run shows its scan, denoised scan and colour relief in colour), the
    denoise strength actually used (``result.strength_used``,
    the automatic estimate resolved). Scans larger than a panel are shown
    area-averaged, so the magnitude and colour panels are as bright as their
    files look shrunk (the ``"hsv_strongest"`` panel, on request, keeps each
    block's strongest pixel instead, and says so); they also get 1:1 crops of
    their busiest strokes (scan, colour, relief), with the crop's box drawn on
    the scan panel.

    Parameters
    ----------
    result : Result
        What :func:`sketchgrad.process` returned.
    path : str or path-like
        Destination PNG (written atomically).
    panels : sequence of str, optional
        A subset of ``PREVIEW_PANELS`` in the order to show; by default all
        the result has.
    text : dict, optional
        PNG text chunks written with the image; by default the provenance
        chunk the command writes (``provenance_text(result.config)``).
    details : dict, optional
        The 1:1 detail panels' window and crops, for a ``result`` whose arrays
        are a reduced copy of a larger scan (``result.full_shape`` set): keys
        ``"window"`` (row, col, height, width in scan pixels, see
        :func:`detail_window`), ``"scan"``, ``"hsv"``, ``"relief"`` (the
        crops; float in [0, 1] or uint8); optionally ``"hsv_peaks"``, the
        picture of the ``"hsv_strongest"`` panel (:func:`block_peak` of the
        full-resolution colour). Default: ``result.details`` if present, else
        taken from ``result`` itself.
    atomic : bool
        ``False`` writes ``path`` itself, for a caller that stages it
        (see :func:`sketchgrad.png.save_png`).
    sheet : PreviewSheet, optional
        A sheet begun from this preview's outline (``PreviewSheet(outline)``,
        e.g. while the scan was computed), to finish instead of beginning one;
        used only if its outline equals :func:`preview_outline` of ``result``
        (with ``panels`` and ``details``) and it was not finished already.
        The same pixels either way.

    Returns
    -------
    Path
        The written path. A name ending in ``.jpg``, ``.tif`` or ``.webp`` is
        written in that format (see :func:`sketchgrad.save_png`).

    Examples
    --------
    >>> import tempfile, numpy as np, sketchgrad
    >>> res = sketchgrad.process(np.eye(16, dtype=np.float32))
    >>> render_preview(res, tempfile.mkdtemp() + "/p.png").stat().st_size > 1000
    True
    """
    from .png import output_format, save_png
    from .provenance import provenance_text

    _check_result(result)
    output_format(path)  # refuse an unwritable format before drawing
    if text is None:
        text = provenance_text(result.config,
                               strength_used=getattr(result, "strength_used", None))
    pixels = _figure(result, panels, details, sheet)
    # level 3: ISA-L's fastest good level when installed (level 6 took ten times as long
    # for a file a fifth smaller)
    return save_png(path, pixels, bit_depth=8, compression=3, text=text, atomic=atomic)


def _check_result(result: object) -> None:
    from .pipeline import Result

    if not isinstance(result, Result):
        raise ParameterError(f"result is a {type(result).__name__}, not a Result; give what "
                             "process(scan) returned (render_preview(process(image), path))")


def preview_png_bytes(result: Result, *, panels: str | Sequence[str] | None = None,
                      details: Mapping[str, Any] | None = None,
                      max_side: int | None = None) -> bytes:
    """The preview of a result as PNG bytes (what ``Result._repr_png_`` returns).

    Parameters
    ----------
    result : Result
        What :func:`~sketchgrad.process` returned.
    panels, details
        As for :func:`render_preview`.
    max_side : int, optional
        Shrink the sheet (area averaging) to at most this many pixels on its long side.

    Returns
    -------
    bytes
        The preview sheet, a PNG file's content.

    Examples
    --------
    >>> import numpy as np, sketchgrad
    >>> res = sketchgrad.process(np.eye(16, dtype=np.float32))
    >>> preview_png_bytes(res, panels=["scan", "hsv"])[1:4]
    b'PNG'
    """
    from PIL import Image

    _check_result(result)
    sheet = _figure(result, panels, details)
    if max_side is not None and max(sheet.shape[:2]) > int(max_side):
        import cv2

        factor = int(max_side) / max(sheet.shape[:2])
        size = (max(1, int(sheet.shape[1] * factor)), max(1, int(sheet.shape[0] * factor)))
        sheet = cast("NDArray[np.uint8]", cv2.resize(sheet, size, interpolation=cv2.INTER_AREA))
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------
# Thumbnails of a streamed run


def block_mean(a: np.ndarray | NativeImage, step: int) -> np.ndarray:
    """Mean over ``step`` x ``step`` blocks (partial blocks at the end average what is there).

    On tiles whose corners sit on multiples of ``step`` this equals the whole
    image's block means, as OpenCV's ``INTER_AREA`` shrink by an integer factor.
    uint8 samples are read as ``value / 255``.

    Examples
    --------
    >>> block_mean(np.arange(6, dtype=np.float32).reshape(2, 3), 2).tolist()
    [[2.0, 3.5]]
    """
    if not isinstance(a, np.ndarray):  # a scan kept in its dtype: read in strips of blocks
        rows = max(1, (1 << 22) // max(1, step * a.shape[1])) * step
        return np.concatenate([block_mean(a[top:top + rows], step)
                               for top in range(0, a.shape[0], rows)])
    if a.dtype == np.uint8:
        a = np.asarray(a, np.float32) / np.float32(255.0)
    return block_means(np.asarray(a, np.float32), step)  # (float32 tiles: not copied)


class Thumbnails:
    """Block means (``step`` x ``step``) of each stage, gathered tile by tile for the preview.

    :func:`sketchgrad.streaming.process_to_files` hands every band of finished
    tiles (``sketchgrad.tiling.FinishedTile``) to :meth:`add`; :meth:`result`
    then gives a small :class:`~sketchgrad.pipeline.Result` with ``full_shape``
    and the 1:1 detail crops, whatever the scan's size.
    """

    KINDS = ("denoised", "normalized", "hsv", "sketch", "gx", "gy")

    #: Full-resolution crops for the preview's detail panels: crop name -> tile stage.
    CROPS = {"hsv": "hsv", "relief": "sketch"}

    def __init__(self, image: np.ndarray | NativeImage, step: int, needs: set[str]) -> None:
        self.step = step
        self.full_shape = image.shape[:2]
        self.image = block_mean(image, step)
        have = set(needs) | ({"gx", "gy"} if "field" in needs else set())
        # made at the first tile, with its channels (a colour run's denoised scan and relief)
        self.planes: dict[str, np.ndarray | None] = {kind: None for kind in self.KINDS
                                                     if kind in have}
        self.details = self._plan_details(image) if step > 1 else None
        #: Scan rows whose thumbnails are complete: the whole rows of tiles added so far,
        #: from the top (bands are added top to bottom, as ``TileEngine.run`` yields them).
        self.done = 0

    def _plan_details(self, image: np.ndarray | NativeImage) -> dict[str, Any]:
        """Choose the 1:1 detail window before the tiles stream, and crop the scan.

        A cheap first look: the gradient magnitude of the block-mean scan says
        where the busiest strokes are (the full-resolution magnitude does not
        exist yet). The window's crops of each stage are then copied out of
        the tiles as they pass (``add``): a panel-sized crop each, whatever
        the scan's size.
        """
        from .gradients import gradient_field

        busy = gradient_field(self.image, "sobel").magnitude
        r, c, ch, cw = window = detail_window(busy, self.full_shape)
        return {"window": window, "scan": image[r:r + ch, c:c + cw].copy()}

    @staticmethod
    def _stage(tile: FinishedTile, kind: str) -> np.ndarray | None:
        part = (getattr(tile.field, kind, None) if kind in ("gx", "gy")
                else tile.unit if kind == "normalized" else getattr(tile, kind))
        return cast("np.ndarray | None", part)

    def measure(self, tile: FinishedTile) -> dict[str, Any]:
        """One finished tile's part of the thumbnails: its block means and detail crops.

        Reads the tile only, so the tile threads can call it (``TileEngine.run``'s
        ``per_tile``); :meth:`add` then places the parts. Returns ``{"means":
        {kind: block means}, "crops": {name: (rows, cols, part)}}``, rows and
        cols being the part's slices of the detail window.
        """
        s = self.step
        # block means, as the file looks shrunk (the preview's panels are faithful)
        means = {kind: block_mean(part, s) for kind in self.planes
                 if (part := self._stage(tile, kind)) is not None}
        crops = {}
        if self.details is not None:
            r, c, ch, cw = self.details["window"]
            box = tile.box
            top, bottom = max(box.y0, r), min(box.y1, r + ch)
            left, right = max(box.x0, c), min(box.x1, c + cw)
            if top < bottom and left < right:
                for name, kind in self.CROPS.items():
                    part = getattr(tile, kind)
                    if part is not None:
                        crops[name] = (slice(top - r, bottom - r), slice(left - c, right - c),
                                       part[top - box.y0:bottom - box.y0,
                                            left - box.x0:right - box.x0].copy())
        return {"means": means, "crops": crops}

    def add(self, band: list[FinishedTile]) -> None:
        """Take the block means (and detail crops) of one band of finished tiles.

        A tile whose ``extra`` holds its :meth:`measure` (made in a tile thread)
        is placed as it is; any other is measured here.
        """
        s = self.step
        for tile in band:
            parts = tile.extra if isinstance(tile.extra, dict) and "means" in tile.extra \
                else self.measure(tile)
            y0, x0 = tile.box.y0, tile.box.x0  # multiples of the step (the tile side is)
            for kind, small in parts["means"].items():
                plane = self.planes[kind]
                if plane is None:
                    plane = self.planes[kind] = np.zeros(self.image.shape[:2] + small.shape[2:],
                                                         np.float32)
                plane[y0 // s:y0 // s + small.shape[0], x0 // s:x0 // s + small.shape[1]] = small
            details = self.details
            for name, (rows, cols, part) in parts["crops"].items():
                details = cast("dict[str, Any]", details)  # crops exist only with details
                if name not in details:
                    ch, cw = details["window"][2:]
                    details[name] = np.zeros((ch, cw) + part.shape[2:], part.dtype)
                details[name][rows, cols] = part
        if band and band[0].box.y0 == self.done \
                and sum(tile.box.x1 - tile.box.x0 for tile in band) == self.full_shape[1]:
            self.done = band[0].box.y1  # a whole row of tiles, next below those added

    def arrays(self) -> dict[str, np.ndarray]:
        """The thumbnails' arrays made so far, by name.

        ``"image"`` (the scan's block means), each stage's plane under its
        kind (``"hsv"``, ``"gx"``, ...) once a tile brought it, and
        ``"detail:<crop>"`` for the detail crops (``"detail:scan"`` from the
        start). :meth:`result` holds these very arrays.

        Examples
        --------
        >>> thumbs = Thumbnails(np.zeros((40, 1500), np.float32), 3, {"hsv"})
        >>> sorted(thumbs.arrays()), thumbs.arrays()["image"].shape
        (['detail:scan', 'image'], (14, 500))
        """
        named = {"image": self.image}
        named.update((kind, plane) for kind, plane in self.planes.items() if plane is not None)
        if self.details is not None:
            named.update((f"detail:{name}", crop) for name, crop in self.details.items()
                         if name != "window")
        return named

    def strips(self, top: int, bottom: int, have: Container[str] = ()
               ) -> dict[str, tuple[int, tuple[int, ...], np.ndarray]]:
        """What the scan's rows ``top:bottom`` made of the thumbnails, to copy them elsewhere.

        For a copy (a preview process's) that holds the arrays named in
        ``have`` as they were up to the scan's row ``top``: name -> (first
        row, the whole array's shape, its rows), views of :meth:`arrays`. An
        array not in ``have`` is given from its first row; the image and the
        scan's crop, made before the tiles, are given whole, once.

        Examples
        --------
        >>> thumbs = Thumbnails(np.zeros((40, 1500), np.float32), 3, {"hsv"})
        >>> {name: (row, shape, rows.shape) for name, (row, shape, rows)
        ...  in thumbs.strips(0, 6).items() if name == "image"}
        {'image': (0, (14, 500), (14, 500))}
        >>> thumbs.strips(6, 12, have={"image", "detail:scan"})
        {}
        """
        s = self.step
        out = {}
        for name, array in self.arrays().items():
            if name in ("image", "detail:scan"):  # whole from the start
                start, stop = 0, (0 if name in have else len(array))
            elif name.startswith("detail:"):  # the window's rows among the scan's
                r, ch = cast("dict[str, Any]", self.details)["window"][0:3:2]
                start, stop = min(max(top - r, 0), ch), min(max(bottom - r, 0), ch)
            else:  # the blocks that start in those rows (bands start on multiples of the step)
                start, stop = -(-top // s), -(-bottom // s)
            if name not in have:
                start = 0
            if stop > start:
                out[name] = (start, array.shape, array[start:stop])
        return out

    def outline(self, config: PipelineConfig, meta: ScanMeta | None, *, strokes: bool,
                strength_used: float | None = None, channels: str | None = None,
                flattened: bool | None = None) -> PreviewOutline:
        """The outline of the preview of :meth:`result`, known before the first tile.

        Parameters
        ----------
        config, meta
            As for :meth:`result`.
        strokes : bool
            Whether the result will carry the scan's stroke figures (``Result.strokes``).
        strength_used, channels, flattened
            What the result will record (``Result.strength_used``, ...).

        Returns
        -------
        PreviewOutline
            Equal to ``preview_outline(result)`` of the finished result when every
            stage the tiles were asked for arrives.
        """
        stages = {"field" if kind in ("gx", "gy") else kind for kind in self.planes}
        if strokes:
            stages.add("strokes")
        crops = None
        if self.details is not None:  # the window, the scan's crop, the crops of the stages
            crops = set(self.details) | {name for name, kind in self.CROPS.items()
                                         if kind in self.planes}
        names = _choose_panels(_possible_panels(stages, self.step > 1, crops),
                               self.full_shape, None)
        window = None
        if self.details is not None and any(n in DETAIL_PANELS for n in names):
            window = self.details["window"]
        return _make_outline(
            config, meta, self.image.shape, self.full_shape, reduced=self.step > 1,
            strength_used=strength_used, flattened=flattened, channels=channels,
            relief_colour="sketch" in self.planes and self.image.ndim == 3,
            panels=names, window=window)

    def result(self, config: PipelineConfig, meta: ScanMeta | None, **recorded: Any) -> Result:
        """The thumbnails as a small Result (``full_shape`` set when shrunk).

        ``recorded``: what the run decided, kept on the Result for the
        preview's titles (``strength_used=``, the denoise strength used).
        """
        from .gradients import GradientField
        from .pipeline import Result

        planes: dict[str, Any] = dict(self.planes)  # its keys are fields of Result
        field = GradientField(planes.pop("gx"), planes.pop("gy")) \
            if planes.get("gx") is not None else None
        planes.pop("gx", None)
        planes.pop("gy", None)
        return Result(image=self.image, config=config, meta=meta, field=field,
                      full_shape=self.full_shape if self.step > 1 else None,
                      details=self.details, **planes, **recorded)
