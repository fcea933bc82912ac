"""Comparison sheets: every method of one stage side by side on the same scan.

``render_comparison(image, what, path)`` draws one labelled PNG so a user can
choose a denoise method, gradient operator, normalization or colouring by
looking. Each variant is asked of the pipeline (:func:`sketchgrad.process`
with the config's one stage changed), so a sheet shows what a run would make.
Global stages (normalize, ramp) are shown on the whole scan shrunk by area
averaging; local ones (denoise, operator) on a full-resolution crop of
the busiest strokes, because shrinking would average away the very noise and
edge detail they differ in. Only the shrunk image or the crop is processed,
so a sheet costs about the same for any scan size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ParameterError, choose
from .preview import format_number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

    from .gradients import GradientField
    from .io import Scan
    from .pipeline import PipelineConfig, Result

#: A sheet's tiles: one dict of pictures and labels per method.
_Tiles = list[dict[str, Any]]

__all__ = ["COMPARE_WHAT", "render_comparison"]

#: Longest side of the shrunk scan the global comparisons run on.
SHEET_SIDE = 900
#: Side of the full-resolution crop the local comparisons run on.
CROP_SIDE = 420
#: Width of one tile in inches (drawn at 100 dpi).
TILE_INCHES = 4.2
_COLUMNS = 4
#: Colourings shown by ``what="ramp"`` besides the named ramps.
EXTRA_COLOURS = ("hsv", "viridis")


def _crop(image: NDArray[np.float32],
          side: int = CROP_SIDE) -> tuple[NDArray[np.float32], tuple[int, int]]:
    """Full-resolution window with the most strong strokes, and its (row, col)."""
    from .gradients import gradient_field
    from .preview import detail_window, downsample

    h, w = image.shape
    if h <= side and w <= side:
        return image, (0, 0)
    busy = gradient_field(downsample(image, 400), "sobel").magnitude
    row, col, ch, cw = detail_window(busy, (h, w), size=(side, side))
    return np.ascontiguousarray(image[row:row + ch, col:col + cw]), (row, col)


def _variant(image: NDArray[np.float32], config: PipelineConfig, outputs: tuple[str, ...],
             **stage: Any) -> Result:
    """The pipeline's result for one variant: ``config`` with one stage changed.

    Computed whole (never in tiles), without flattening (the sheet shows the
    stage's methods on the tone the user sees) and only for ``outputs``.
    """
    from .pipeline import process

    return process(image, replace(config, outputs=outputs, tile_size=0,
                                  flatten_background=False, **stage))


def _tiles_normalize(image: NDArray[np.float32], config: PipelineConfig) -> _Tiles:
    from .normalize import NORMALIZE_METHODS

    tiles = []
    for name in NORMALIZE_METHODS:
        shown = _variant(image, config, ("magnitude",), normalize=name).normalized
        tiles.append(dict(label=name, data=shown, cmap="magma", vmin=0, vmax=1,
                          hist=shown))
    return tiles


def _tiles_denoise(image: NDArray[np.float32], config: PipelineConfig) -> tuple[_Tiles, str]:
    from .denoise import DENOISE_METHODS, estimate_noise

    sigma = estimate_noise(image)
    tiles = []
    for name in DENOISE_METHODS:
        res = _variant(image, config, ("magnitude",), denoise=name)
        tiles.append(dict(label=f"{name}", data=res.denoised, cmap="gray", vmin=0, vmax=1,
                          below=cast("GradientField", res.field).magnitude))
    _shared_scale(tiles)
    return tiles, f"noise estimate σ = {sigma:.4f}; strength {format_number(config.strength)}"


def _tiles_operator(image: NDArray[np.float32], config: PipelineConfig) -> tuple[_Tiles, str]:
    from .gradients import OPERATORS

    tiles = []
    for name in OPERATORS:
        res = _variant(image, config, ("hsv", "magnitude"), operator=name, color="hsv")
        magnitude = cast("GradientField", res.field).magnitude  # asked for above
        tiles.append(dict(label=name, data=res.hsv, below=magnitude))
    _shared_scale(tiles)
    return tiles, f"colour: hue = direction, brightness = {config.normalize}-normalized strength"


def _tiles_ramp(image: NDArray[np.float32], config: PipelineConfig) -> _Tiles:
    from .color import RAMPS, ColorRamp, color_label, hsv_to_rgb, ramp_from_spec

    names = list(dict.fromkeys([*EXTRA_COLOURS, *RAMPS, config.color]))
    tiles = []
    for name in names:
        rgb = _variant(image, config, ("hsv",), color=name).hsv
        if name == "hsv":  # its "ramp" is the hue circle: the direction the tone rises
            hues = np.linspace(0.0, 1.0, 512)
            strip = hsv_to_rgb(np.stack([hues, np.ones(512), np.ones(512)], axis=-1))[None]
            ticks = ["right", "down", "left", "up", "right"]
        else:
            ramp = name if isinstance(name, ColorRamp) else ramp_from_spec(name)
            strip = ramp.strip(512, 1)
            ticks = (["ink", "paper"] if config.color_target == "tone" else ["0", "1"])
        tiles.append(dict(label=color_label(name), data=rgb, strip=strip, ticks=ticks))
    return tiles


def _shared_scale(tiles: _Tiles) -> None:
    """One colour scale for every tile's gradient magnitude (the first method's 99.5 %)."""
    ref = tiles[0]["below"]
    vmax = float(np.percentile(ref, 99.5)) if ref.size else 0.0
    if vmax <= 0:
        vmax = max(float(max(t["below"].max() for t in tiles)), 1e-6)
    for t in tiles:
        t["below_vmax"] = vmax


def _colorbar(fig: Figure, im: AxesImage, ax: Axes, *, visible: bool) -> None:
    bar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    bar.ax.tick_params(labelsize=7)
    if not visible:  # keeps every tile the same width
        bar.ax.set_visible(False)


#: What a sheet can compare -> the stage's tile builder.
COMPARE_WHAT: dict[str, Callable[[NDArray[np.float32], PipelineConfig],
                                  _Tiles | tuple[_Tiles, str]]] = {
    "normalize": _tiles_normalize,
    "denoise": _tiles_denoise,
    "operator": _tiles_operator,
    "ramp": _tiles_ramp,
}


def _as_image(image: ArrayLike | Scan) -> tuple[NDArray[np.float32], str | None]:
    from .arrays import check_grey
    from .io import Scan, as_image

    source = None
    if isinstance(image, Scan):
        source = Path(str(image.meta.source)).name if image.meta is not None else None
        image = image.image
    image = as_image(image)
    check_grey(image, empty=False)
    return image, source


def render_comparison(image: ArrayLike | Scan, what: str, path: str | os.PathLike[str], *,
                      config: PipelineConfig | None = None,
                      text: dict[str, str] | None = None) -> Path:
    """Draw every method of one stage side by side on the same scan, into a PNG.

    Parameters
    ----------
    image : ndarray or Scan
        The scan: an (H, W) grey array read by :func:`sketchgrad.as_image`
        (uint8, uint16, bool or floats in [0, 1]), or a loaded :class:`Scan`.
    what : {"normalize", "denoise", "operator", "ramp"}
        The stage to compare (a key of ``COMPARE_WHAT``). ``normalize`` shows
        each method's normalized magnitude with its histogram (log counts);
        ``denoise`` the cleaned tone of a full-resolution crop and, below it,
        its gradient magnitude on one shared scale (noise shows as speckle);
        ``operator`` the direction colouring of each operator on that crop and
        its magnitude; ``ramp`` the colourings (hsv, a colormap and every
        named ramp) with their ramps.
    path : str or path-like
        Destination PNG (written atomically).
    config : PipelineConfig, optional
        The other stages' settings (defaults: ``PipelineConfig()``).
    text : dict, optional
        PNG text chunks written with the sheet.

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> y, x = np.mgrid[0:40, 0:60].astype(np.float32)
    >>> img = 0.5 + 0.4 * np.sin(x / 5) * np.cos(y / 7)
    >>> render_comparison(img, "operator", tempfile.mkdtemp() + "/s.png").stat().st_size > 1000
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .pipeline import PipelineConfig
    from .png import output_format, save_png
    from .preview import downsample

    build = choose(COMPARE_WHAT, what, "what")
    config = config or PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise ParameterError(f"config is a {type(config).__name__}, not a PipelineConfig; "
                             "give PipelineConfig(...)")
    output_format(path)  # refuse an unwritable format before drawing
    image, source = _as_image(image)
    full_h, full_w = image.shape
    if what in ("denoise", "operator"):
        work, (row, col) = _crop(image)
        where = (f"1:1 crop x {col}–{col + work.shape[1]}, y {row}–{row + work.shape[0]} "
                 f"of {full_w}×{full_h}")
    else:
        work = downsample(image, SHEET_SIDE)
        where = f"whole scan {full_w}×{full_h}" + (
            f", shown at {work.shape[1]}×{work.shape[0]}" if work.shape != image.shape else "")
    built = build(work, config)
    tiles, extra = built if isinstance(built, tuple) else (built, None)

    n = len(tiles)
    nrows = -(-n // _COLUMNS)
    ncols = -(-n // nrows)
    h, w = work.shape
    aspect = min(max(h / max(w, 1), 0.3), 1.6)
    image_h = (TILE_INCHES - (0.75 if any("below" in t for t in tiles) else 0.3)) * aspect
    rows_per = [image_h]
    if any("hist" in t for t in tiles):
        rows_per.append(1.0)
    if any("below" in t for t in tiles):
        rows_per.append(image_h)
    if any(t.get("strip") is not None for t in tiles):
        rows_per.append(0.3)
    tile_h = sum(rows_per) + 0.45 + 0.35 * (len(rows_per) - 1)
    fig = Figure(figsize=(TILE_INCHES * ncols, tile_h * nrows + 0.9), dpi=100,
                 layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(nrows, ncols)
    for i, tile in enumerate(tiles):
        sub = grid[i // ncols, i % ncols].subgridspec(len(rows_per), 1, height_ratios=rows_per)
        ax = fig.add_subplot(sub[0])
        im = ax.imshow(np.clip(tile["data"], 0, 1), cmap=tile.get("cmap"), vmin=tile.get("vmin"),
                       vmax=tile.get("vmax"), interpolation="nearest")
        if "below" in tile:  # a hidden bar keeps the tile as wide as the magnitude below it
            _colorbar(fig, im, ax, visible=False)
        ax.set_title(tile["label"], fontsize=12 if len(tile["label"]) <= 24 else 8.5,
                     fontweight="bold")
        ax.set_xticks([])
        ax.set_yticks([])
        k = 1
        if "hist" in tile:
            hax = fig.add_subplot(sub[k])
            counts, edges = np.histogram(tile["hist"], bins=64, range=(0.0, 1.0))
            hax.stairs(counts, edges, fill=True, color="#7c3aed")
            if counts.any():
                hax.set_yscale("log")
            hax.tick_params(labelsize=7)
            hax.set_xlim(0, 1)
            hax.set_xlabel("shown value (log counts)", fontsize=7)
            k += 1
        if "below" in tile:
            bax = fig.add_subplot(sub[k])
            im = bax.imshow(tile["below"], cmap="magma", vmin=0, vmax=tile["below_vmax"],
                            interpolation="nearest")
            bax.set_xticks([])
            bax.set_yticks([])
            bax.set_xlabel("|∇I|, same scale in every column", fontsize=8)
            _colorbar(fig, im, bax, visible=i % ncols == ncols - 1 or i == n - 1)
            k += 1
        if tile.get("strip") is not None:
            sax = fig.add_subplot(sub[k])
            sax.imshow(tile["strip"], aspect="auto", extent=(0, 1, 0, 1))
            sax.set_yticks([])
            sax.tick_params(labelsize=7)
            ticks = tile["ticks"]
            sax.set_xticks(np.linspace(0, 1, len(ticks)), ticks)
    fixed = {"normalize": f"denoise {config.denoise}, operator {config.operator}",
             "denoise": f"operator {config.operator}",
             "operator": f"denoise {config.denoise}",
             "ramp": f"denoise {config.denoise}, operator {config.operator}, normalize "
                     f"{config.normalize}, colouring the {config.color_target}"}[what]
    title = f"compare {what}: {where} · {fixed}"
    if extra:
        title += f"\n{extra}"
    if source:
        title = f"{source}\n{title}"
    fig.suptitle(title, fontsize=12)
    fig.canvas.draw()
    rgb = np.asarray(cast(FigureCanvasAgg, fig.canvas).buffer_rgba())[..., :3].copy()
    if text is None:  # the command's provenance chunk
        from .provenance import provenance_text

        text = provenance_text(config)
    return save_png(path, rgb, bit_depth=8, compression=6, text=text)
