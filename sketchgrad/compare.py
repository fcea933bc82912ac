"""Comparison sheets: every method of one stage side by side on the same scan.

``render_comparison(image, what, path)`` draws one labelled PNG so a user can
choose a denoise method, gradient operator, normalization or colouring by
looking. Each variant is asked of the pipeline (:func:`sketchgrad.process`
with the config's one stage changed), and every panel is shown as its file
would look shrunk to the panel (area averaging), so choosing by looking
chooses what a run makes: a panel is as bright as its file.

Global stages (normalize, ramp) are run on the whole scan at full
resolution: the scan is denoised once as the run would (background flattened
if the run flattens, the automatic strength resolved), and each variant runs
the later stages on it. Local ones (denoise, operator) are shown on a
full-resolution crop of the busiest strokes, because shrinking would average
away the very noise and edge detail they differ in; the crop is taken from
the scan as the run sees it, denoised with the strength the run would
resolve on the whole scan, and the operator sheet's brightness uses the whole
scan's normalization (fitted tile by tile). Colour scans are compared in
colour, with the channels named in the heading.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ParameterError, choose

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

    from .gradients import GradientField
    from .io import Scan
    from .normalize import Normalizer
    from .pipeline import PipelineConfig, Result

#: A sheet's tiles: one dict of pictures and labels per method.
_Tiles = list[dict[str, Any]]
#: A stage's tile builder: (scan, config, the file's noise source) -> tiles, the
#: first variant's result (strength, channels), the fixed settings, an extra heading line.
_TileBuilder: TypeAlias = ("Callable[[NDArray[np.float32], PipelineConfig, dict[str, Any]], "
                           "tuple[_Tiles, Result, str, str | None]]")

__all__ = ["COMPARE_WHAT", "render_comparison"]

#: Side of the full-resolution crop the local comparisons run on.
CROP_SIDE = 420
#: Width of one tile in inches (drawn at 100 dpi).
TILE_INCHES = 4.2
_COLUMNS = 4
#: Colourings shown by ``what="ramp"`` besides the named ramps.
EXTRA_COLOURS = ("hsv", "viridis")
# Samples (at most) a tile's histogram is computed from.
_HIST_SAMPLES = 1_000_000


def _crop(image: NDArray[np.float32],
          side: int = CROP_SIDE) -> tuple[NDArray[np.float32], tuple[int, int]]:
    """Full-resolution window with the most strong strokes, and its (row, col)."""
    from .gradients import gradient_field
    from .preview import detail_window, downsample

    h, w = image.shape[:2]
    if h <= side and w <= side:
        return image, (0, 0)
    busy = gradient_field(downsample(image, 400), "sobel").magnitude
    row, col, ch, cw = detail_window(busy, (h, w), size=(side, side))
    return np.ascontiguousarray(image[row:row + ch, col:col + cw]), (row, col)


def _in_channels(image: NDArray[np.float32],
                 config: PipelineConfig) -> tuple[NDArray[np.float32], PipelineConfig]:
    """The scan in the channels the run would use, and ``config`` fixed to them.

    The pipeline decides ``channels="auto"`` once per scan; deciding it here
    on the whole scan keeps every variant (and a crop of it) in the same
    channels, and the strengths resolved on the image the run denoises.
    (Without the pipeline's colour support the scan is given as it is.)
    """
    from . import pipeline

    decide = getattr(pipeline, "image_for_channels", None)
    if decide is None or not hasattr(config, "channels"):
        return image, config
    image, used = decide(image, config.channels)
    return image, replace(config, channels=used)


def _as_run_sees(image: NDArray[np.float32], config: PipelineConfig) -> NDArray[np.float32]:
    """The scan the run's denoiser gets: background flattened when the run flattens."""
    from .denoise import flatten_background, should_flatten

    if not should_flatten(image, config.flatten_background):
        return image

    return flatten_background(image)


def _strength(seen: NDArray[np.float32], method: str, config: PipelineConfig,
              noise: dict[str, Any]) -> float | None:
    """The strength a run would denoise the whole scan with (``None`` for "none").

    ``noise``: the scan file's bit depth and lossiness
    (:func:`sketchgrad.denoise.file_noise_source`), which floor the estimate as in a run.
    """
    from .denoise import resolve_strength

    if method == "none" and config.strength is None:
        return None
    return resolve_strength(seen, method, config.strength, **noise)


def _variant(image: NDArray[np.float32], config: PipelineConfig, outputs: tuple[str, ...], *,
             normalizer: Normalizer | None = None, **stage: Any) -> Result:
    """The pipeline's result for one variant: ``config`` with one stage changed.

    ``image`` is already as the run sees it (flattened if it flattens), so
    the variant does not flatten again.
    """
    from .pipeline import process

    return process(image, replace(config, outputs=outputs, flatten_background=False, **stage),
                   normalizer=normalizer)


def _denoised_once(image: NDArray[np.float32], config: PipelineConfig,
                   noise: dict[str, Any]) -> tuple[NDArray[np.float32], Result]:
    """The whole scan denoised as the run would, and the run's result (strength, channels)."""
    seen = _as_run_sees(image, config)
    base = _variant(seen, config, ("magnitude",),
                    strength=_strength(seen, config.denoise, config, noise))
    denoised = cast("NDArray[np.float32]", base.denoised)  # process always denoises
    base.denoised = base.field = base.normalized = None  # keep only the record
    return denoised, base


def _after_denoising(denoised: NDArray[np.float32], config: PipelineConfig,
                     outputs: tuple[str, ...], **stage: Any) -> Result:
    """A global variant: the later stages run on the once-denoised scan."""
    return _variant(denoised, config, outputs, denoise="none", strength=None, **stage)


def _strided(a: NDArray[np.float32]) -> NDArray[np.float32]:
    """A nearest-neighbour sample of ``a`` (keeps the distribution of values)."""
    step = max(1, int(np.ceil(np.sqrt(a.size / _HIST_SAMPLES))))
    return a[::step, ::step]


def _tiles_normalize(image: NDArray[np.float32], config: PipelineConfig,
                     noise: dict[str, Any]) -> tuple[_Tiles, Result, str, str | None]:
    from .normalize import NORMALIZE_METHODS
    from .preview import strength_label

    denoised, base = _denoised_once(image, config, noise)
    tiles = []
    for name in NORMALIZE_METHODS:
        # the magnitude output is the normalized magnitude: computed whenever it is asked for
        shown = cast("NDArray[np.float32]", _after_denoising(
            denoised, config, ("magnitude",), normalize=name).normalized)
        tiles.append(dict(label=name, data=shown, cmap="magma", vmin=0, vmax=1,
                          hist=_strided(shown)))
    fixed = (f"denoise {strength_label(config, base.strength_used)}, "
             f"operator {config.operator}")
    return tiles, base, fixed, None


def _tiles_denoise(image: NDArray[np.float32], config: PipelineConfig,
                   noise: dict[str, Any]) -> tuple[_Tiles, Result, str, str | None]:
    from .denoise import DENOISE_METHODS, estimate_noise
    from .preview import strength_label

    seen = _as_run_sees(image, config)
    work, _ = _crop(seen)
    sigma = estimate_noise(seen, **noise)
    tiles = []
    first = None
    for name in DENOISE_METHODS:
        # the strength a run would use: resolved on the whole scan, not on the crop
        strength = None if name == "none" else _strength(seen, name, config, noise)
        res = _variant(work, config, ("magnitude",), denoise=name, strength=strength,
                       tile_size=0)
        first = res if first is None else first
        tiles.append(dict(label=strength_label(replace(config, denoise=name), strength),
                          data=res.denoised,
                          cmap="gray", vmin=0, vmax=1,
                          # the magnitude output needs the field: computed
                          below=cast("GradientField", res.field).magnitude))
    _shared_scale(tiles)
    how = "estimated on the whole scan" if config.strength is None else "as set"
    extra = f"noise estimate σ = {sigma:.4f}; each method's strength {how}"
    # DENOISE_METHODS is never empty: set by the first method
    return tiles, cast("Result", first), f"operator {config.operator}", extra


def _tiles_operator(image: NDArray[np.float32], config: PipelineConfig,
                    noise: dict[str, Any]) -> tuple[_Tiles, Result, str, str | None]:
    from .gradients import OPERATORS
    from .pipeline import fit_normalizer
    from .preview import strength_label

    seen = _as_run_sees(image, config)
    work, _ = _crop(seen)
    strength = _strength(seen, config.denoise, config, noise)
    tiles = []
    first = None
    for name in OPERATORS:
        variant = replace(config, operator=name, color="hsv", flatten_background=False,
                          strength=strength)
        # the whole scan's scale, so a tile is as bright as the run's file there
        scale = fit_normalizer(seen, variant)
        res = _variant(work, variant, ("hsv", "magnitude"), normalizer=scale, tile_size=0)
        first = res if first is None else first
        # the magnitude output needs the field: computed
        tiles.append(dict(label=name, data=res.hsv,
                          below=cast("GradientField", res.field).magnitude))
    _shared_scale(tiles)
    extra = (f"colour: hue = direction, brightness = {config.normalize}-normalized strength "
             "(scale of the whole scan)")
    # OPERATORS is never empty: set by the first operator
    return tiles, cast("Result", first), f"denoise {strength_label(config, strength)}", extra


def _tiles_ramp(image: NDArray[np.float32], config: PipelineConfig,
                noise: dict[str, Any]) -> tuple[_Tiles, Result, str, str | None]:
    from .color import RAMPS, ColorRamp, color_label, hsv_to_rgb, ramp_from_spec
    from .preview import strength_label

    denoised, base = _denoised_once(image, config, noise)
    names = list(dict.fromkeys([*EXTRA_COLOURS, *RAMPS, config.color]))
    tiles = []
    for name in names:
        rgb = _after_denoising(denoised, config, ("hsv",), color=name).hsv
        if name == "hsv":  # its "ramp" is the hue circle: the direction the tone rises
            hues = np.linspace(0.0, 1.0, 512)
            strip = hsv_to_rgb(np.stack([hues, np.ones(512), np.ones(512)], axis=-1))[None]
            ticks = ["right", "down", "left", "up", "right"]
        else:
            ramp = name if isinstance(name, ColorRamp) else ramp_from_spec(name)
            strip = ramp.strip(512, 1)
            ticks = (["ink", "paper"] if config.color_target == "tone" else ["0", "1"])
        tiles.append(dict(label=color_label(name), data=rgb, strip=strip, ticks=ticks))
    fixed = (f"denoise {strength_label(config, base.strength_used)}, operator "
             f"{config.operator}, normalize {config.normalize}, colouring the "
             f"{config.color_target}")
    return tiles, base, fixed, None


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
COMPARE_WHAT: dict[str, _TileBuilder] = {
    "normalize": _tiles_normalize,
    "denoise": _tiles_denoise,
    "operator": _tiles_operator,
    "ramp": _tiles_ramp,
}


def _as_image(image: ArrayLike | Scan) -> tuple[NDArray[np.float32], str | None, dict[str, Any]]:
    """The scan as an array, its file's name, and its file's noise source (bit depth, lossy)."""
    from .denoise import file_noise_source
    from .io import Scan, as_image

    source, meta = None, None
    if isinstance(image, Scan):
        meta = image.meta
        source = Path(str(meta.source)).name if meta is not None else None
        image = image.image
    image = as_image(image)  # (H, W) grey or (H, W, 3) colour; refuses NaN
    if image.size == 0:
        raise ParameterError(f"image of shape {image.shape} is empty; give a scan with pixels")
    return image, source, file_noise_source(meta)


def _area(data: NDArray[np.float32], size: tuple[int, int]) -> NDArray[np.float32]:
    """``data`` shrunk to ``size`` (h, w) by area averaging, as its file would look there."""
    import cv2

    a = np.ascontiguousarray(data, np.float32)
    h, w = a.shape[:2]
    if (h, w) == tuple(size):
        return a
    # enlarging (a small crop): repeat pixels; shrinking: average each pixel's footprint
    how = cv2.INTER_NEAREST if size[0] >= h and size[1] >= w else cv2.INTER_AREA
    # OpenCV keeps the dtype: float32 in, float32 out
    return cast("NDArray[np.float32]", cv2.resize(a, (size[1], size[0]), interpolation=how))


def _sheet(image: ArrayLike | Scan, what: str,
           config: PipelineConfig) -> tuple[Figure, dict[str, Axes], Result]:
    """The comparison sheet as a drawn Figure, and each tile's picture axes by label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .preview import channels_label

    build = choose(COMPARE_WHAT, what, "what")
    image, source, noise = _as_image(image)
    full_h, full_w = image.shape[:2]
    if what in ("denoise", "operator"):
        work, (row, col) = _crop(image)
        h, w = work.shape[:2]
        where = f"1:1 crop x {col}–{col + w}, y {row}–{row + h} of {full_w}×{full_h}"
    else:
        h, w = full_h, full_w
        where = f"whole scan {full_w}×{full_h} at full resolution, panels area-averaged"
    tiles, run, fixed, extra = build(*_in_channels(image, config), noise)

    n = len(tiles)
    nrows = -(-n // _COLUMNS)
    ncols = -(-n // nrows)
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
    shown = []  # (image artist, full data, in [0, 1]): shrunk to its pixels once laid out
    panels = {}
    for i, tile in enumerate(tiles):
        sub = grid[i // ncols, i % ncols].subgridspec(len(rows_per), 1, height_ratios=rows_per)
        ax = fig.add_subplot(sub[0])
        data = tile["data"]
        # a placeholder of the data's shape; the extent stays when the shrunk data replaces it
        im = ax.imshow(np.zeros((2, 2) + data.shape[2:], np.float32), cmap=tile.get("cmap"),
                       vmin=tile.get("vmin"), vmax=tile.get("vmax"), interpolation="nearest",
                       extent=(-0.5, data.shape[1] - 0.5, data.shape[0] - 0.5, -0.5))
        shown.append((im, data, True))
        panels[tile["label"]] = ax
        if "below" in tile:  # a hidden bar keeps the tile as wide as the magnitude below it
            _colorbar(fig, im, ax, visible=False)
        chars = len(tile["label"])
        ax.set_title(tile["label"], fontsize=12 if chars <= 24 else 10 if chars <= 34 else 8.5,
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
            below = tile["below"]
            im = bax.imshow(np.zeros((2, 2), np.float32), cmap="magma", vmin=0,
                            vmax=tile["below_vmax"], interpolation="nearest",
                            extent=(-0.5, below.shape[1] - 0.5, below.shape[0] - 0.5, -0.5))
            shown.append((im, below, False))
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
    channels = channels_label(run, getattr(config, "channels", None))
    title = f"compare {what}: {where} · {channels} · {fixed}"
    if extra:
        title += f"\n{extra}"
    if source:
        title = f"{source}\n{title}"
    fig.suptitle(title, fontsize=12)
    fig.draw_without_rendering()  # the layout: each picture's size in pixels
    for im, data, unit in shown:
        box = im.axes.get_window_extent()
        picture = _area(data, (max(1, round(box.height)), max(1, round(box.width))))
        im.set_data(np.clip(picture, 0, 1) if unit else picture)
    fig.canvas.draw()
    return fig, panels, run


def render_comparison(image: ArrayLike | Scan, what: str, path: str | os.PathLike[str], *,
                      config: PipelineConfig | None = None,
                      text: dict[str, str] | None = None) -> Path:
    """Draw every method of one stage side by side on the same scan, into a PNG.

    Parameters
    ----------
    image : ndarray or Scan
        The scan: an (H, W) grey or (H, W, 3) colour array read by
        :func:`sketchgrad.as_image` (uint8, uint16, bool or floats in [0, 1]),
        or a loaded :class:`Scan`. A colour scan is compared in colour when the
        pipeline processes it in colour (``config.channels``).
    what : {"normalize", "denoise", "operator", "ramp"}
        The stage to compare (a key of ``COMPARE_WHAT``). ``normalize`` shows
        each method's normalized magnitude with its histogram (log counts);
        ``denoise`` the cleaned tone of a full-resolution crop and, below it,
        its gradient magnitude on one shared scale (noise shows as speckle);
        ``operator`` the direction colouring of each operator on that crop and
        its magnitude; ``ramp`` the colourings (hsv, a colormap and every
        named ramp) with their ramps. Every panel is its output shrunk by area
        averaging, as bright as the file a run with that setting writes; the
        heading and titles give the settings as run, the denoise strength the
        run would use included (the automatic estimate, resolved on the whole scan).
    path : str or path-like
        Destination PNG (written atomically).
    config : PipelineConfig, optional
        The other stages' settings (defaults: ``PipelineConfig()``).
    text : dict, optional
        PNG text chunks written with the sheet; by default the provenance
        chunk of ``config`` (with ``strength_used`` when the sheet has one strength).

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
    from .pipeline import PipelineConfig
    from .png import output_format, save_png

    choose(COMPARE_WHAT, what, "what")
    config = config or PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise ParameterError(f"config is a {type(config).__name__}, not a PipelineConfig; "
                             "give PipelineConfig(...)")
    output_format(path)  # refuse an unwritable format before drawing
    fig, _, run = _sheet(image, what, config)
    canvas = cast("FigureCanvasAgg", fig.canvas)  # attached by _sheet
    rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    if text is None:  # the command's provenance chunk
        from .provenance import provenance_text

        used = None if what == "denoise" else run.strength_used
        text = provenance_text(config, strength_used=used)
    return save_png(path, rgb, bit_depth=8, compression=6, text=text)
