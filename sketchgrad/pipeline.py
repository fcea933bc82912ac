"""The pipeline's settings, its result and the in-memory run (scan to colour and relief).

- :class:`PipelineConfig` holds the settings, :class:`Result` what a run computed
  (the ``flow`` output and the stroke figures come from :mod:`sketchgrad.strokes`).
- :func:`process` returns every requested stage as full-size arrays; large
  images are computed by the tile engine (:mod:`sketchgrad.tiling`) into them.
- :func:`fit_normalizer` measures a scan's magnitude statistics tile by tile
  (the first pass of a batch's shared scale).
- :func:`~sketchgrad.streaming.process_to_files` (re-exported here) streams the
  outputs into PNG files in bounded memory.

Tiling never changes what a pixel means: each tile gets a halo as wide as the
denoiser's and the operator's declared reach (their registry entries), and a
global normalization is fitted on the whole image's magnitude before any tile
is scaled. Tiled float results equal whole-image results to within 1e-5
(OpenCV's vector and scalar code paths may round differently in the last
bit), PNG outputs to within one level.

Colour (``channels``): a scan is processed in colour (the three channels:
per-channel or joint denoising, Di Zenzo gradients with one magnitude, the
relief lit in the drawing's colours) or in grey (the BT.601 luma), decided
once per scan by :func:`image_for_channels` -- under ``"auto"`` by
:func:`sketchgrad.channels.resolve_channels`, so a grey scan gives exactly the
grey pipeline's outputs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .channels import CHANNELS, luma, resolve_channels
from .color import ColorRamp, as_color
from .denoise import (
    DENOISE_METHODS,
    denoise,
    file_noise_source,
    flatten_background,
    resolve_strength,
    should_flatten,
)
from .errors import ParameterError, choose
from .gradients import OPERATORS, GradientField, floor_zero_gradients, gradient_field
from .io import NativeImage, Scan
from .normalize import NORMALIZE_METHODS, normalize, to_unit
from .tiling import KEEP_BYTES, TileEngine, Timer, plan_tiles, stages_needed

if TYPE_CHECKING:
    from .io import ScanMeta
    from .normalize import Normalizer
    from .streaming import process_to_files
    from .strokes import StrokeDirections, StrokeStatistics

__all__ = ["PipelineConfig", "Result", "process", "process_to_files", "fit_normalizer",
           "image_of", "image_for_channels", "tile_side", "OUTPUT_KINDS", "DEFAULT_OUTPUTS",
           "TILE_THRESHOLD", "DEFAULT_TILE",
           "KEEP_BYTES"]

#: The outputs the pipeline can produce, in the order they are written.
OUTPUT_KINDS = ("magnitude", "hsv", "sketch", "flow", "preview")

#: The outputs of a run that names none. ``flow`` (the stroke-direction picture) is
#: asked for by name: it is an analysis of the hatching, not a rendering of the
#: drawing, and costs about as much as the other three pictures together. The
#: preview's rose and the stroke figures of the run's record come with ``preview``.
DEFAULT_OUTPUTS = ("magnitude", "hsv", "sketch", "preview")

#: Images with more pixels than this are tiled when ``tile_size`` is None (4096 x 4096).
TILE_THRESHOLD = 4096 * 4096

#: Pixels above which an RGB scan processed grey is kept in its 8/16-bit samples and read
#: as its luma tile by tile (3 or 6 bytes per pixel); up to this, its luma is made once
#: as float32 (4 more bytes per pixel, 200 MB at the limit): stages that read the scan
#: again (the noise estimate, the preview, two tile passes) then do not convert it again.
LAZY_LUMA_PIXELS = 50_000_000

#: Tile side used when tiling is automatic.
DEFAULT_TILE = 512

#: Longest side of the thumbnail a Result shows as in Jupyter (``_repr_png_``).
REPR_SIDE = 1024

#: Smallest tile side accepted (the halo would dominate smaller tiles).
_MIN_TILE = 16


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of one pipeline run.

    Attributes
    ----------
    denoise : str
        A key of ``DENOISE_METHODS``.
    strength : float or None
        Denoise strength (``None`` estimates it).
    operator : str
        A key of ``OPERATORS``.
    normalize : str
        A key of ``NORMALIZE_METHODS``.
    color : str or ColorRamp
        How the ``hsv`` output is coloured: ``"hsv"`` (hue = direction, value =
        strength), ``"stroke"`` (each edge in the colour of the stroke that
        makes it, value = strength), a named ramp (``"sepia"``), a colour-ramp spec
        ``"ramp:#1b1b3a,#f0a030,#fffbe6"``, a matplotlib colormap name such as
        ``"viridis"``, a :class:`~sketchgrad.ColorRamp`, or a matplotlib
        ``Colormap`` (kept as a ColorRamp of its colours). A ramp object is
        recorded (``to_dict``, TOML, provenance) by its stops and space.
    color_target : {"magnitude", "tone"}
        What a ramp colours: the normalized gradient magnitude, or the drawing's
        tone (a gradient map: ink -> first stop, paper -> last stop).
    axial : bool
        With ``color="hsv"``: hue from the orientation modulo pi, so both sides
        of a stroke share one colour (:func:`~sketchgrad.hsv_remap` ``axial``).
    keep_hue : bool
        With ``color_target="tone"`` on a colour scan: keep the drawing's hues
        and chroma, the ramp giving the lightness
        (:func:`sketchgrad.color.gradient_map`).
    channels : {"auto", "gray", "rgb"}
        Process a scan in colour (``"rgb"``), as its BT.601 luma (``"gray"``),
        or as measured once per scan (``"auto"``: colour when the drawing has
        colour, :func:`sketchgrad.channels.resolve_channels`).
    flatten_background : bool or "auto"
        Divide out a large-scale background estimate (uneven lighting) before
        denoising: always (True), never (False), or when
        :func:`~sketchgrad.denoise.background_unevenness` of the scan exceeds
        ``UNEVEN_BACKGROUND`` ("auto", the default: phone photos, not flatbed scans).
    tile_size : int or None
        Side of the square tiles the image is processed in: 0 never tiles;
        None tiles images over ``TILE_THRESHOLD`` pixels (4096 x 4096) with
        ``DEFAULT_TILE`` (512); otherwise at least 16.
        :func:`process_to_files` always streams in tiles unless this is 0.
    outputs : tuple of str
        Which of ``OUTPUT_KINDS`` to compute (default ``DEFAULT_OUTPUTS``: all
        but ``flow``); one name alone (``"hsv"``) means that output only.

    Examples
    --------
    >>> PipelineConfig(outputs="hsv").outputs
    ('hsv',)
    >>> from sketchgrad import ColorRamp
    >>> PipelineConfig.from_dict(PipelineConfig(color=ColorRamp("sepia")).to_dict()).color.space
    'oklab'
    """

    denoise: str = "gaussian"
    strength: float | None = None
    operator: str = "sobel"
    normalize: str = "exposure"
    color: str | ColorRamp = "hsv"
    color_target: str = "magnitude"
    flatten_background: bool | str = "auto"
    tile_size: int | None = None
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    axial: bool = False
    keep_hue: bool = False
    channels: str = "auto"

    def __post_init__(self) -> None:
        choose(dict.fromkeys(CHANNELS), self.channels, "channels")
        if not isinstance(self.keep_hue, bool | np.bool_):
            raise ParameterError(f"keep_hue={self.keep_hue!r}: use True or False")
        object.__setattr__(self, "keep_hue", bool(self.keep_hue))
        choose(DENOISE_METHODS, self.denoise, "denoise")
        choose(OPERATORS, self.operator, "operator")
        choose(NORMALIZE_METHODS, self.normalize, "normalize")
        if self.flatten_background not in (True, False, "auto"):
            raise ParameterError(f"flatten_background={self.flatten_background!r}: use True, "
                                 "False or 'auto' (flatten when the lighting is uneven)")
        choose(dict.fromkeys(("magnitude", "tone")), self.color_target, "color_target")
        object.__setattr__(self, "color", as_color(self.color))
        if not isinstance(self.axial, bool | np.bool_):
            raise ParameterError(f"axial={self.axial!r} must be True or False")
        object.__setattr__(self, "axial", bool(self.axial))
        # a single name is that output, not its letters (the field holds a tuple once
        # checked; a caller may give one name or any sequence)
        given = cast("str | Sequence[str]", self.outputs)
        outputs = (given,) if isinstance(given, str) else tuple(given)
        unknown = [o for o in outputs if o not in OUTPUT_KINDS]
        if unknown or not outputs:
            raise ParameterError(f"outputs={list(outputs)!r}: choose one or more of "
                                 f"{', '.join(OUTPUT_KINDS)}")
        object.__setattr__(self, "outputs", outputs)
        tile = self.tile_size
        if tile is not None:
            if isinstance(tile, bool) or not isinstance(tile, int | np.integer) \
                    or (tile != 0 and tile < _MIN_TILE):
                raise ParameterError(f"tile_size={tile!r}: use 0 (never tile), None (tile "
                                     f"images over {TILE_THRESHOLD} pixels) or a side of at "
                                     f"least {_MIN_TILE} pixels")
            object.__setattr__(self, "tile_size", int(tile))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain JSON-able values."""
        d: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        d["outputs"] = list(self.outputs)
        if isinstance(self.color, ColorRamp):
            d["color"] = self.color.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """Build a config from a dict; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown setting(s) {', '.join(unknown)}; valid settings: "
                                 f"{', '.join(sorted(known))}")
        return cls(**data)


@dataclass(repr=False)
class Result:
    """What a pipeline run computed; stages not asked for are ``None``.

    ``channels`` is what the scan was processed in: ``"gray"`` (``image`` and
    ``denoised`` are (H, W)) or ``"rgb"`` (they are (H, W, 3), and so is
    ``sketch``, the relief lit in the drawing's colours).
    ``full_shape`` is set when the arrays are a reduced copy (block means) of a
    larger scan, as :func:`process_to_files` hands to the preview: it is the
    scan's (H, W); ``details`` then holds full-resolution crops of the
    busiest strokes for the preview's 1:1 panels (see
    :func:`sketchgrad.preview.render_preview`). In Jupyter a Result shows as
    its preview.

    Attributes
    ----------
    image : ndarray
        The scan, float32 in [0, 1].
    config : PipelineConfig
        The settings that made this result.
    denoised : ndarray or None
        The scan after denoising.
    field : GradientField or None
        Gradients of the denoised scan.
    normalized : ndarray or None
        The gradient magnitude normalized by ``config.normalize``.
    hsv : ndarray or None
        The colour output, RGB (H, W, 3) float32.
    sketch : ndarray or None
        The hand-drawn relief.
    meta : ScanMeta or None
        Where the scan came from.
    full_shape : tuple of int or None
        The scan's (H, W) when the arrays are a reduced copy.
    details : dict or None
        Full-resolution crops for the preview's 1:1 panels.
    strength_used : float or None
        The denoise strength the run used: the automatic estimate resolved to
        a number when ``config.strength`` is None (``None`` for
        ``denoise="none"``, which has no strength).
    flattened : bool
        Whether the background was flattened (``flatten_background`` True, or
        "auto" on unevenly lit paper; see :func:`~sketchgrad.denoise.should_flatten`).
    flow : ndarray or None
        The flow picture, RGB (H, W, 3) float32
        (:func:`sketchgrad.strokes.flow_picture` of the denoised scan with the
        whole image's grain, length and reference).
    strokes : StrokeDirections, StrokeStatistics or None
        The stroke directions of the denoised scan (per pixel, and the whole
        drawing's figures: ``strokes.summary()``), computed for the ``flow``
        and ``preview`` outputs; a reduced copy for the preview holds the
        whole scan's :class:`~sketchgrad.strokes.StrokeStatistics` instead.
    """

    image: NDArray[np.float32]
    config: PipelineConfig
    denoised: NDArray[np.float32] | None = None
    field: GradientField | None = None
    normalized: NDArray[np.float32] | None = None
    hsv: NDArray[np.float32] | None = None
    sketch: NDArray[np.float32] | None = None
    meta: ScanMeta | None = None
    full_shape: tuple[int, int] | None = None
    details: dict[str, Any] | None = None
    strength_used: float | None = None
    channels: str = "gray"
    flattened: bool = False
    flow: np.ndarray | None = None
    strokes: StrokeDirections | StrokeStatistics | None = None

    def __repr__(self) -> str:
        """Shape, settings and what was computed; never the arrays."""
        from .color import color_label

        cfg = self.config
        shape = self.full_shape or self.image.shape
        computed = [name for name in ("denoised", "field", "normalized", "hsv", "sketch",
                                      "flow", "strokes")
                    if getattr(self, name) is not None]
        source = getattr(self.meta, "source", None)
        where = f", source={os.path.basename(str(source))!r}" if source else ""
        return (f"Result(shape={tuple(shape)}{where}, denoise={cfg.denoise!r}, "
                f"operator={cfg.operator!r}, normalize={cfg.normalize!r}, "
                f"color={color_label(cfg.color)!r}, outputs={cfg.outputs!r}, "
                f"computed={computed!r})")

    def _repr_png_(self) -> bytes:
        """A thumbnail of the preview sheet as PNG bytes (how Jupyter displays a Result).

        At most ``REPR_SIDE`` (1024) pixels on its long side, so a notebook stays small.
        """
        from .preview import preview_png_bytes

        return preview_png_bytes(self, max_side=REPR_SIDE)


def tile_side(shape: tuple[int, int], config: PipelineConfig, *, streaming: bool) -> int:
    """Tile side for an image of this shape (0 = whole image).

    ``config.tile_size`` if set; else ``DEFAULT_TILE`` when streaming or when the
    image has more than ``TILE_THRESHOLD`` pixels.
    """
    if config.tile_size is not None:
        return config.tile_size
    if streaming or shape[0] * shape[1] > TILE_THRESHOLD:
        return DEFAULT_TILE
    return 0


def fit_normalizer(scan: Scan | ArrayLike, config: PipelineConfig | None = None, *,
                   normalizer: Normalizer | None = None) -> Normalizer:
    """Add one scan's gradient-magnitude statistics to a Normalizer, tile by tile.

    The first pass of a shared scale (``--normalize-scope batch``): fit every
    page, merge, then give the result to :func:`process_to_files` as
    ``normalizer``. Memory stays at the image plus a few tiles; the statistics
    are those of the magnitude :func:`process` normalizes (values at most
    ``gradients.ZERO_GRADIENT`` counted as zero).

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey or (H, W, 3) RGB array read by
        :func:`sketchgrad.as_image`, in grey or colour as ``config.channels`` says.
    config : PipelineConfig, optional
        Denoise, operator and normalization settings.
    normalizer : Normalizer, optional
        Statistics to add to (default: a new ``Normalizer(config.normalize)``).

    Returns
    -------
    Normalizer
        ``normalizer`` (or the new one) with this scan's statistics added.

    Examples
    --------
    >>> y, x = np.mgrid[0:20, 0:30].astype(np.float32)
    >>> book = fit_normalizer(x / 29, PipelineConfig(denoise="none"))
    >>> book.count
    600
    """
    from .normalize import Normalizer

    config = config_of(config)
    meta = scan.meta if isinstance(scan, Scan) else None
    check_normalizer(normalizer, config, fitted=False)
    if normalizer is not None and not isinstance(normalizer, Normalizer):
        raise ParameterError(f"normalizer is a {type(normalizer).__name__}; fit_normalizer adds "
                             "to a sketchgrad Normalizer (give Normalizer(config.normalize), or "
                             "None for a new one)")
    image, _ = image_for_channels(scan, config.channels, native=True)
    normalizer = normalizer if normalizer is not None else Normalizer(config.normalize)
    side = tile_side(image.shape[:2], config, streaming=True)
    timer = Timer()
    engine = TileEngine(plan_tiles(image, config, {"field", "normalized"}, side, timer, meta),
                        None, timer)
    for measured in engine.measurements(normalizer):  # floored in compute_tile
        normalizer.add(measured)
    return normalizer


def config_of(config: object) -> PipelineConfig:
    """``config``, or the default settings for None; anything else is an error."""
    if config is None:
        return PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise ParameterError(f"config is a {type(config).__name__}, not a PipelineConfig; give "
                             "PipelineConfig(...) (a dict of settings: "
                             "PipelineConfig.from_dict(d))")
    return config


def check_normalizer(normalizer: object, config: PipelineConfig, *,
                     fitted: bool = True) -> None:
    """A shared normalizer must be one, of ``config.normalize``'s method, and fitted.

    Anything with the Normalizer interface (``transform``) is accepted; its
    ``method`` and ``count`` are checked when it has them.
    """
    if normalizer is None:
        return
    if not callable(getattr(normalizer, "transform", None)):
        raise ParameterError(f"normalizer is a {type(normalizer).__name__}, not a Normalizer; "
                             "give fit_normalizer(scan, config) or Normalizer(method).fit(...)")
    method = getattr(normalizer, "method", config.normalize)
    if method != config.normalize:
        raise ParameterError(
            f"normalizer was fitted with method {method!r} but config.normalize is "
            f"{config.normalize!r}; fit it with the config's method (fit_normalizer(scan, "
            f"config)) or use PipelineConfig(normalize={method!r})")
    if fitted and getattr(normalizer, "count", 1) == 0:
        raise ParameterError("normalizer has never been fitted (no statistics); fit it first "
                             "(fit_normalizer(scan, config), or its fit / partial_fit), or "
                             "leave normalizer=None to scale each image on its own")


def image_of(scan: Scan | ArrayLike, name: str = "scan", *,
             native: bool = False) -> tuple[NDArray[np.float32] | NativeImage, ScanMeta | None]:
    """The (H, W) or (H, W, 3) float32 image (the input rule, ``io.as_image``) and meta.

    With ``native``, integer grey samples stay as they are (``io.as_native``: a
    ``NativeImage`` the tile engine converts tile by tile).
    """
    from .io import as_image, as_native

    meta = scan.meta if isinstance(scan, Scan) else None
    return (as_native(scan, name=name) if native else as_image(scan, name=name)), meta


def image_for_channels(scan: Scan | ArrayLike, channels: str = "auto", *,
                       native: bool = False) -> tuple[NDArray[np.float32] | NativeImage, str]:
    """The image the pipeline processes for a scan, and the channels it is processed in.

    The decision is taken once per scan, on the whole image (never per tile).

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey or (H, W, 3) RGB array read by
        :func:`sketchgrad.as_image`.
    channels : {"auto", "gray", "rgb"}
        ``"auto"`` measures an RGB scan
        (:func:`sketchgrad.channels.resolve_channels`: colour when enough of
        the drawing has chroma relative to its paper) and takes a grey one as
        grey; ``"gray"`` and ``"rgb"`` force the choice.
    native : bool
        Keep 8/16-bit grey samples as they are (a
        :class:`~sketchgrad.io.NativeImage` the tile engine converts tile by
        tile), and RGB samples processed grey when the scan has more than
        ``LAZY_LUMA_PIXELS`` pixels (read as their luma, tile by tile; a
        smaller one is converted to its float32 luma once, a block of rows at
        a time, never through a float32 RGB copy); a scan processed in colour
        is converted whole. The colour measure shrinks the stored samples
        (:func:`sketchgrad.colourfulness`).

    Returns
    -------
    image : ndarray or NativeImage
        float32 (H, W) for ``"gray"``: an RGB scan becomes its BT.601 luma
        (:func:`sketchgrad.luma`), the very computation ``load_scan(mode="gray")``
        makes for a colour file, so the grey run of a colour file loaded in
        colour (``load_scan(mode="auto")``, as the command loads) equals that
        of the file loaded grey, bit for bit (and a grey drawing stored as RGB
        gives exactly the grey file's image). (H, W, 3) for ``"rgb"``: a grey
        image is repeated into the three channels. An image already of the
        right shape is returned as it is.
    channels : str
        ``"gray"`` or ``"rgb"``: what was used (``Result.channels``).

    Examples
    --------
    >>> page = np.ones((32, 32, 3), np.float32)
    >>> page[10:20, 4:28] = (0.9, 0.3, 0.5)              # a pink stroke
    >>> image, used = image_for_channels(page)
    >>> image.shape, used
    ((32, 32, 3), 'rgb')
    >>> image, used = image_for_channels(page, "gray")
    >>> image.shape, used, round(float(image[15, 15]), 4)
    ((32, 32), 'gray', 0.5022)
    """
    from .io import NativeImage

    image, _ = image_of(scan, native=native)
    if isinstance(image, NativeImage):
        if image.ndim == 2 and channels != "rgb":
            return image, "gray"  # a grey scan (or one loaded grey) is processed grey
        # RGB samples are measured as stored (colourfulness shrinks them), and read as
        # their luma tile by tile when grey; a colour run converts them whole
        used = resolve_channels(image, channels)
        if used == "gray":
            grey = NativeImage(image.samples, "gray")
            # Each read of an RGB scan's luma converts three channels: a scan read by
            # several stages (the noise estimate, the preview, two tile passes) is
            # converted once instead, unless its float32 luma would be large
            height, width = image.samples.shape[:2]
            return (grey if height * width > LAZY_LUMA_PIXELS else grey.to_float()), used
        return NativeImage(image.samples, "rgb").to_float(), used
    used = resolve_channels(image, channels)
    if used == "rgb" and image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    elif used == "gray" and image.ndim == 3:
        # load_scan's grey conversion of a colour file, so the two paths agree exactly
        image = luma(image)
    return image, used


# ----------------------------------------------------------------------------------------
# Public entry points


def process(scan: Scan | ArrayLike, config: PipelineConfig | None = None, *,
            normalizer: Normalizer | None = None,
            timings: dict[str, float] | None = None) -> Result:
    """Run the pipeline on a scan or a float image in [0, 1].

    Only the stages the requested outputs need are computed (``hsv`` alone
    computes no relief; ``sketch`` alone no gradients). Large images
    (``config.tile_size``) are computed in tiles in a thread pool into the
    full-size results; to write huge scans in bounded memory use
    :func:`process_to_files`.

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey or (H, W, 3) RGB array read by
        :func:`sketchgrad.as_image` (uint8 /255, uint16 /65535, bool, floats in
        [0, 1]; (H, W, 4) is composited over white), processed in grey or in
        colour as ``config.channels`` says, decided once for the whole scan
        (:func:`image_for_channels`).
    config : PipelineConfig, optional
        Settings; the defaults compute every output.
    normalizer : Normalizer, optional
        Already-fitted statistics for the magnitude (a whole batch's scale);
        by default each image is normalized on its own.
    timings : dict, optional
        Filled with seconds per stage (summed over threads).

    Returns
    -------
    Result
        The computed stages.

    Examples
    --------
    >>> y, x = np.mgrid[0:8, 0:8].astype(np.float32)
    >>> res = process(x / 7, PipelineConfig(denoise="none", outputs=("hsv",)))
    >>> res.hsv.shape, res.sketch is None
    ((8, 8, 3), True)
    """
    config = config_of(config)
    meta = scan.meta if isinstance(scan, Scan) else None
    check_normalizer(normalizer, config)
    found, channels = image_for_channels(scan, config.channels)
    image = cast("NDArray[np.float32]", found)  # not native: float32 (H, W) or (H, W, 3)
    res = Result(image=image, config=config, meta=meta, channels=channels)
    needs = stages_needed(config.outputs, config)
    timer = Timer()
    side = tile_side(image.shape[:2], config, streaming=False)
    if side == 0 or side >= max(image.shape[:2]):
        _process_whole(res, image, config, needs, normalizer, timer)
    else:
        _process_tiled(res, image, config, needs, side, normalizer, timer)
    if timings is not None:
        timings.update(timer.seconds)
    return res


def _process_whole(res: Result, image: NDArray[np.float32], config: PipelineConfig, needs: set[str],
                   normalizer: Normalizer | None, timer: Timer) -> None:
    """The stage functions composed on the whole image (the reference the tiles must match)."""
    t = time.perf_counter()
    res.flattened = should_flatten(image, config.flatten_background)
    if res.flattened:
        image = flatten_background(image)
        t = timer.add("flatten", t)
    strength = config.strength
    if strength is None and config.denoise != "none":
        # as the tiles do: the scan's file (bit depth, lossy format) sets the noise floor
        strength = resolve_strength(image, config.denoise, **file_noise_source(res.meta))
        t = timer.add("estimate_noise", t)
    res.denoised = denoise(image, config.denoise, strength=strength)
    res.strength_used = None if strength is None else float(strength)
    t = timer.add("denoise", t)
    if "field" in needs:
        res.field = gradient_field(res.denoised, config.operator)
        t = timer.add("gradients", t)
        if "normalized" in needs:
            if normalizer is not None:
                normalized = normalizer.transform(floor_zero_gradients(res.field.magnitude))
            else:
                normalized = normalize(floor_zero_gradients(res.field.magnitude),
                                       config.normalize)
            # normalize() always returns a new array (never the magnitude): scale it in place
            res.normalized = to_unit(normalized, config.normalize, copy=False)
            del normalized
            t = timer.add("normalize", t)
    if "hsv" in needs:
        from .color import apply_color

        # "hsv" needs the field (stages_needed), computed above
        res.hsv = apply_color(cast(GradientField, res.field), res.normalized, res.denoised,
                              color=config.color, axial=config.axial,
                              target=config.color_target, keep_hue=config.keep_hue,
                              dtype=np.float32)
        t = timer.add("color", t)
    if "sketch" in needs:
        from .sketch import colour_relief, relief

        # a colour scan's relief is lit in its own colours
        res.sketch = relief(res.denoised) if res.denoised.ndim == 2 \
            else colour_relief(res.denoised)
        t = timer.add("sketch", t)
    if "strokes" in needs:
        from .strokes import (
            DEFAULT_SIGMA,
            StrokeDirections,
            StrokeStatistics,
            flow_defaults,
            flow_picture,
            stroke_field,
        )

        statistics = StrokeStatistics(sigma=DEFAULT_SIGMA, operator="scharr")
        field = stroke_field(res.denoised, statistics=statistics)  # summed as it is measured
        res.strokes = StrokeDirections.from_parts(field, statistics)
        t = timer.add("strokes", t)
        if "flow" in needs:
            # the reference as the tiles get it: the same exact counts
            res.flow = flow_picture(field, reference=statistics.strength_percentile(99.0),
                                    **flow_defaults(res.denoised.shape))
            timer.add("flow", t)


def _process_tiled(res: Result, image: NDArray[np.float32], config: PipelineConfig, needs: set[str],
                   side: int, normalizer: Normalizer | None, timer: Timer) -> None:
    """The tile engine's finished tiles copied into full-size planes."""
    engine = TileEngine(plan_tiles(image, config, needs, side, timer, res.meta), normalizer,
                        timer)
    res.flattened = engine.plan.flattened
    res.strength_used = None if engine.plan.strength is None \
        else float(engine.plan.strength)
    shape = image.shape[:2]
    # the denoised scan and the relief keep the scan's channels (the relief its colours)
    planes: dict[str, NDArray[np.float32]] = {
        kind: np.empty(image.shape if kind in ("denoised", "sketch") else shape, np.float32)
        for kind in ("denoised", "gx", "gy", "normalized", "sketch")
        if kind in needs or (kind in ("gx", "gy") and "field" in needs)}
    if "hsv" in needs:
        planes["hsv"] = np.empty(shape + (3,), np.float32)
    if "flow" in needs:
        planes["flow"] = np.empty(shape + (3,), np.float32)
    if "strokes" in needs:
        for kind in ("angle", "coherence", "energy"):
            planes[kind] = np.empty(shape, np.float32)
    for band in engine.run(np.float32):
        for tile in band:
            where = tile.box.where
            if tile.field is not None:
                planes["gx"][where] = tile.field.gx
                planes["gy"][where] = tile.field.gy
            for kind in ("denoised", "normalized", "hsv", "sketch", "flow"):
                part = getattr(tile, kind)
                if part is not None and kind in planes:
                    planes[kind][where] = part
            if tile.strokes is not None:
                for kind in ("angle", "coherence", "energy"):
                    planes[kind][where] = getattr(tile.strokes, kind)
    res.denoised = planes.get("denoised")
    if "gx" in planes:
        res.field = GradientField(planes["gx"], planes["gy"])
    res.normalized = planes.get("normalized")
    res.hsv = planes.get("hsv")
    res.sketch = planes.get("sketch")
    res.flow = planes.get("flow")
    if "strokes" in needs:
        from .strokes import StrokeDirections, StrokeField

        field = StrokeField(planes["angle"], planes["coherence"], planes["energy"])
        if engine.scale.strokes is None:  # the engine's first pass sums them for "strokes"
            raise RuntimeError("the tile engine measured no stroke statistics")
        res.strokes = StrokeDirections.from_parts(field, engine.scale.strokes)


def __getattr__(name: str) -> Any:
    """``process_to_files``, re-exported from the streaming writer on first use.

    The writer builds on this module, so it cannot be imported while this one
    loads: whichever of the two is imported first, the other then loads whole.
    """
    if name == "process_to_files":
        from .streaming import process_to_files

        return process_to_files
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
