"""PNG previews of a pipeline result: one labelled sheet of matplotlib panels.

matplotlib is imported only inside the functions and used through the
object-oriented API on the Agg canvas (no pyplot, no window, no global
state). Every array is first shrunk by area averaging (OpenCV ``INTER_AREA``)
to at most ``PREVIEW_SIDE`` pixels on its longest side, so the cost of a
preview does not grow with the scan.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .errors import ParameterError

__all__ = ["PREVIEW_PANELS", "PREVIEW_SIDE", "DETAIL_PANELS", "render_preview",
           "preview_png_bytes", "detail_window", "block_peak", "shrink_step"]

#: Longest side, in pixels, of what a panel shows; larger scans are downsampled.
PREVIEW_SIDE = 720
#: The panels a preview can show, in their reading order (three to a row).
PREVIEW_PANELS = ("scan", "denoised", "relief", "gx", "gy", "histogram",
                  "magnitude", "hsv", "legend", "detail_scan", "detail_hsv", "detail_relief")
#: Panels shown at full resolution (1:1 crops of the busiest region); by default
#: only when the scan had to be shrunk for display.
DETAIL_PANELS = ("detail_scan", "detail_hsv", "detail_relief")
#: Width of one panel in inches (the figure is drawn at 100 dpi).
PANEL_INCHES = 4.6
_DPI = 100
# Samples (at most) the histograms are computed from.
_HIST_SAMPLES = 1_000_000


def downsample(image: np.ndarray, side: int = PREVIEW_SIDE) -> np.ndarray:
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
    h, w = a.shape[:2]
    longest = max(h, w)
    if longest <= side or min(h, w) == 0:
        return a
    factor = side / longest
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)


def shrink_step(shape: tuple[int, ...], side: int = PREVIEW_SIDE) -> int:
    """The block side that brings an image of this shape to at most ``side`` pixels.

    Examples
    --------
    >>> shrink_step((10229, 7234)), shrink_step((500, 300))
    (15, 1)
    """
    return max(1, -(-max(shape[:2]) // side))


def block_peak(image: np.ndarray, step: int) -> np.ndarray:
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


def _strided(a: np.ndarray) -> np.ndarray:
    """A nearest-neighbour sample of ``a`` (keeps the distribution of values)."""
    step = max(1, int(np.ceil(np.sqrt(a.size / _HIST_SAMPLES))))
    return a[::step, ::step]


def _fmt(x) -> str:
    return "auto" if x is None else f"{x:g}"


def _full_shape(result) -> tuple[int, int]:
    """(H, W) of the scan itself (the arrays may be a reduced copy)."""
    return tuple(result.full_shape or result.image.shape[:2])


def _titles(result) -> dict[str, str]:
    cfg = result.config
    meta = result.meta
    h, w = _full_shape(result)
    scan = f"scan · {w}×{h} px"
    if meta is not None:
        scan += f", {meta.bit_depth}-bit"
    from .color import color_label

    label = color_label(cfg.color)
    axial = getattr(cfg, "axial", False)
    if cfg.color == "hsv":
        colour = ("colour · hsv (axial): hue = stroke direction, brightness = strength"
                  if axial else "colour · hsv: hue = direction, brightness = strength")
    else:
        colour = f"colour · {label} on {cfg.color_target}"
    return {
        "scan": scan,
        "denoised": f"denoised · {cfg.denoise}, strength {_fmt(cfg.strength)}"
                    + (" · background flattened" if cfg.flatten_background else ""),
        "relief": "relief · depth 10, light elevation 82°, azimuth 45°",
        "gx": f"gx = ∂I/∂x · {cfg.operator} (intensity / px)",
        "gy": f"gy = ∂I/∂y · {cfg.operator} (intensity / px)",
        "histogram": f"|∇I| before and after {cfg.normalize} (log counts)",
        "magnitude": f"|∇I| normalized · {cfg.normalize}",
        "hsv": colour,
        "legend": ("legend · direction the tone rises" if cfg.color == "hsv"
                   else f"legend · ramp {label}"),
        "detail_scan": "detail at 1:1 · scan (box on the scan panel)",
        "detail_hsv": "detail at 1:1 · colour",
        "detail_relief": "detail at 1:1 · relief",
    }


def _available(result, details=None) -> dict[str, bool]:
    if details is not None:
        return {**_available(result), "detail_scan": "scan" in details,
                "detail_hsv": "hsv" in details, "detail_relief": "relief" in details}
    reduced = result.full_shape is not None
    return {
        "scan": True,
        "denoised": result.denoised is not None,
        "relief": result.sketch is not None,
        "gx": result.field is not None,
        "gy": result.field is not None,
        "histogram": result.field is not None and result.normalized is not None,
        "magnitude": result.normalized is not None,
        "hsv": result.hsv is not None,
        "legend": result.hsv is not None,
        # a reduced copy has no full-resolution pixels to crop (unless given as details)
        "detail_scan": not reduced,
        "detail_hsv": result.hsv is not None and not reduced,
        "detail_relief": result.sketch is not None and not reduced,
    }


def _choose_panels(result, panels, details=None) -> list[str]:
    have = _available(result, details)
    if panels is None:
        big = max(_full_shape(result)) > 1.25 * PREVIEW_SIDE
        return [p for p in PREVIEW_PANELS if have[p] and (big or p not in DETAIL_PANELS)]
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


def _draw_legend(ax, result, fig) -> None:
    cfg = result.config
    if cfg.color != "hsv":
        from .color import ColorRamp, _ramp_from_spec

        ramp = cfg.color if isinstance(cfg.color, ColorRamp) else _ramp_from_spec(cfg.color)
        strip = ramp.strip(512, 48)
        ax.imshow(strip, extent=(0, 1, 0, 0.12), aspect="auto")
        ax.set_ylim(0, 0.12)
        ax.set_yticks([])
        label = "normalized strength" if cfg.color_target == "magnitude" else \
            "tone: ink (0) → paper (1)"
        ax.set_xlabel(label, fontsize=9)
        ax.set_box_aspect(0.25)
        return
    from .color import color_wheel

    ax.imshow(color_wheel(301, axial=getattr(cfg, "axial", False)), extent=(-1, 1, 1, -1))
    ax.set_xlim(-1.55, 1.55)
    ax.set_ylim(1.45, -1.45)
    ax.set_aspect("equal")
    ax.set_axis_off()
    kw = dict(fontsize=9, ha="center", va="center")
    ax.text(1.3, 0.0, "right", rotation=90, **kw)
    ax.text(-1.3, 0.0, "left", rotation=90, **kw)
    ax.text(0.0, 1.2, "down", **kw)
    ax.text(0.0, -1.2, "up", **kw)
    ax.text(0.0, 1.42, "centre: no gradient (black) · rim: strongest", fontsize=8,
            ha="center", va="center", color="0.3")


def _draw_histogram(spec, result, fig) -> list:
    before = _strided(result.field.magnitude)
    after = _strided(result.normalized)
    sub = spec.subgridspec(2, 1, hspace=0.1)
    axes = []
    # a reduced result holds block means: say so, their range is narrower than the pixels'
    of = " · of block means" if result.full_shape is not None else ""
    for i, (data, colour, label) in enumerate((
            (before, "0.35", f"before: |∇I| (intensity / px){of}"),
            (after, "#c2410c", f"after: {result.config.normalize}, shown on [0, 1]{of}"))):
        ax = fig.add_subplot(sub[i])
        finite = data[np.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        counts, edges = np.histogram(finite, bins=96, range=(lo, hi))
        ax.stairs(counts, edges, fill=True, color=colour)
        if counts.any():
            ax.set_yscale("log")
        ax.set_ylabel("pixels", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.set_xlabel(label, fontsize=8.5)
        axes.append(ax)
    return axes


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


def _details_of(result) -> dict:
    """The window and its full-resolution crops, from a full-size result."""
    busy = result.normalized if result.normalized is not None \
        else 1.0 - downsample(result.image)
    r, c, ch, cw = window = detail_window(busy, result.image.shape[:2])
    where = (slice(r, r + ch), slice(c, c + cw))
    crops = {"window": window, "scan": result.image[where]}
    if result.hsv is not None:
        crops["hsv"] = result.hsv[where]
    if result.sketch is not None:
        crops["relief"] = result.sketch[where]
    return crops


def _peaks(result, kind: str, details) -> np.ndarray:
    """The magnitude or colour panel's picture: strongest pixel per block (see block_peak)."""
    given = (details or {}).get(f"{kind}_peaks")
    if given is not None:  # gathered tile by tile from the full-resolution stages
        return np.asarray(given, np.float32)
    data = result.normalized if kind == "magnitude" else result.hsv
    return block_peak(data, shrink_step(data.shape))


def _image_axes(fig, spec, title):
    ax = fig.add_subplot(spec)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_color("0.8")
    return ax


def _colorbar(fig, im, ax, *, visible=True, **kw):
    bar = fig.colorbar(im, ax=ax, shrink=0.85, pad=0.02, **kw)
    bar.ax.tick_params(labelsize=8)
    if not visible:  # keeps the panel the width of its neighbours
        bar.ax.set_visible(False)
    return bar


def _figure(result, panels, details=None) -> np.ndarray:
    """The preview sheet as an (H, W, 3) uint8 array."""
    fig = _build_figure(result, panels, details)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return rgba[..., :3].copy()


def _build_figure(result, panels, details=None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if details is None:
        details = result.details
    names = _choose_panels(result, panels, details)
    titles = _titles(result)
    image = downsample(result.image)
    h, w = image.shape[:2]
    full_h, full_w = _full_shape(result)
    aspect = min(max(h / max(w, 1), 0.35), 1.6)
    ncols = min(3, len(names))
    nrows = -(-len(names) // ncols)
    cell_h = PANEL_INCHES * aspect + 0.75
    fig = Figure(figsize=(PANEL_INCHES * ncols + 0.6 * ncols, cell_h * nrows + 0.6), dpi=_DPI,
                 layout="constrained")
    # room between rows: a panel's title never touches the axis label above it
    fig.get_layout_engine().set(h_pad=0.12, hspace=0.02)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(nrows, ncols)
    window = None
    if any(n in DETAIL_PANELS for n in names):
        details = details if details is not None else _details_of(result)
        window = details["window"]
    shrunk = max(full_h, full_w) > max(h, w)
    scale = w / full_w if full_w else 1.0
    for i, name in enumerate(names):
        spec = grid[i // ncols, i % ncols]
        if name == "histogram":
            axes = _draw_histogram(spec, result, fig)
            axes[0].set_title(titles[name], fontsize=10)
            continue
        if name == "legend":
            ax = fig.add_subplot(spec)
            ax.set_title(titles[name], fontsize=10)
            _draw_legend(ax, result, fig)
            continue
        ax = _image_axes(fig, spec, titles[name])
        if name in ("gx", "gy"):
            g = downsample(result.field.gx if name == "gx" else result.field.gy)
            limit = float(np.percentile(np.abs(g), 99.5)) if g.size else 0.0
            limit = limit if limit > 0 else 1.0
            im = ax.imshow(g, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            _colorbar(fig, im, ax, extend="both")
        elif name == "magnitude":
            im = ax.imshow(_peaks(result, "magnitude", details), cmap="magma", vmin=0, vmax=1,
                           interpolation="nearest")
            _colorbar(fig, im, ax)
        elif name in DETAIL_PANELS:
            r, c, ch, cw = window
            crop = downsample(details[name.removeprefix("detail_")], side=max(ch, cw))
            im = ax.imshow(np.clip(crop, 0, 1), cmap="gray" if crop.ndim == 2 else None,
                           vmin=0, vmax=1, interpolation="nearest")
            ax.set_xlabel(f"x {c}–{c + cw}, y {r}–{r + ch}", fontsize=8)
            _colorbar(fig, im, ax, visible=False)
        else:
            if name == "hsv":
                shown = np.clip(_peaks(result, "hsv", details), 0, 1)
            else:
                data = {"scan": result.image, "denoised": result.denoised,
                        "relief": result.sketch}[name]
                shown = np.clip(downsample(data), 0, 1)
            im = ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1,
                           interpolation="nearest")
            if name == "scan" and window is not None:
                r, c, ch, cw = window
                ax.add_patch(Rectangle((c * scale - 0.5, r * scale - 0.5), cw * scale,
                                       ch * scale, fill=False, edgecolor="#e11d48", lw=1.5))
            _colorbar(fig, im, ax, visible=False)
    cfg = result.config
    from .color import color_label

    note = (f"denoise {cfg.denoise} · operator {cfg.operator} · normalize {cfg.normalize} · "
            f"colour {color_label(cfg.color)}"
            + (f" on {cfg.color_target}" if cfg.color != "hsv" else ""))
    if shrunk:
        note += (f" · panels shown at {w}×{h}: area-averaged, |∇I| and colour keep each "
                 "block's strongest pixel")
    if result.meta is not None:
        note = f"{Path(str(result.meta.source)).name}\n{note}"
    fig.suptitle(note, fontsize=11)
    return fig


def render_preview(result, path: str | os.PathLike, *, panels=None,
                   text: dict[str, str] | None = None, details: dict | None = None) -> Path:
    """Render a result's stages side by side into a PNG.

    Panels (see ``PREVIEW_PANELS``): the scan; the denoised image; the relief;
    gx and gy on a diverging colormap centred at 0 (limits at the 99.5th
    percentile of their size, with colorbars); the histogram of the gradient
    magnitude before and after normalization (log counts); the normalized
    magnitude (colorbar); the colouring and its legend (the colour wheel, or
    the ramp). Titles name the methods and parameters. Scans larger than a
    panel also get 1:1 crops of their busiest strokes (scan, colour, relief),
    with the crop's box drawn on the scan panel.

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
        crops; float in [0, 1] or uint8); optionally ``"magnitude_peaks"``
        and ``"hsv_peaks"``, the overview pictures of the magnitude and colour
        panels (:func:`block_peak` of the full-resolution stages). Default:
        ``result.details`` if present, else taken from ``result`` itself.

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
    from .config import provenance_text
    from .png import output_format, save_png

    _check_result(result)
    output_format(path)  # refuse an unwritable format before drawing
    if text is None:
        text = provenance_text(result.config)
    return save_png(path, _figure(result, panels, details), bit_depth=8, compression=6,
                    text=text)


def _check_result(result) -> None:
    from .pipeline import Result

    if not isinstance(result, Result):
        raise ParameterError(f"result is a {type(result).__name__}, not a Result; give what "
                             "process(scan) returned (render_preview(process(image), path))")


def preview_png_bytes(result, *, panels=None, details: dict | None = None,
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
        sheet = cv2.resize(sheet, size, interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
