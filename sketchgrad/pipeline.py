"""The whole chain: scan -> denoise -> gradients -> normalize -> colour / relief.

Two ways to run it:

- :func:`process` returns every requested stage as full-size arrays (a
  :class:`Result`), for code that wants the numbers.
- :func:`process_to_files` writes the requested outputs as PNG files and keeps
  only small tiles in memory: each tile (with a halo of neighbouring pixels
  wide enough for the denoise and gradient footprints) is computed in a thread
  pool (OpenCV and NumPy release the GIL), and finished rows are streamed into
  :class:`sketchgrad.png.PngWriter`. Peak memory is about the input image plus
  a band of tiles, whatever the scan's size.

Tiling never changes what a pixel means. Global normalization runs in two
passes: every tile's magnitude statistics are merged with
``Normalizer.partial_fit``, then each tile is transformed with them. Tiled
float results equal whole-image results to within 1e-5 (OpenCV's vector and
scalar code paths may round differently in the last bit), PNG outputs to
within one level.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from .color import ColorRamp, as_color
from .denoise import DENOISE_METHODS, denoise
from .errors import ParameterError, choose
from .gradients import OPERATORS, GradientField, gradient_field
from .io import Scan
from .normalize import NORMALIZE_METHODS, normalize, to_unit

__all__ = ["PipelineConfig", "Result", "process", "process_to_files", "fit_normalizer",
           "OUTPUT_KINDS", "TILE_THRESHOLD", "DEFAULT_TILE", "KEEP_BYTES"]

#: The outputs the pipeline can produce, in the order they are written.
OUTPUT_KINDS = ("magnitude", "hsv", "sketch", "preview")

#: Images with more pixels than this are tiled when ``tile_size`` is None (4096 x 4096).
TILE_THRESHOLD = 4096 * 4096

#: Tile side used when tiling is automatic.
DEFAULT_TILE = 512

#: Largest first-pass result kept for the second pass instead of recomputing it (bytes).
KEEP_BYTES = 128 * 2**20

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
        strength), a named ramp (``"sepia"``), a colour-ramp spec
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
    flatten_background : bool
        Divide out a large-scale background estimate (uneven lighting) before denoising.
    tile_size : int or None
        Side of the square tiles the image is processed in: 0 never tiles;
        None tiles images over ``TILE_THRESHOLD`` pixels (4096 x 4096) with
        ``DEFAULT_TILE`` (512); otherwise at least 16.
        :func:`process_to_files` always streams in tiles unless this is 0.
    outputs : tuple of str
        Which of ``OUTPUT_KINDS`` to compute; one name alone (``"hsv"``) means
        that output only.

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
    normalize: str = "minmax"
    color: str | ColorRamp = "hsv"
    color_target: str = "magnitude"
    flatten_background: bool = False
    tile_size: int | None = None
    outputs: tuple[str, ...] = OUTPUT_KINDS
    axial: bool = False

    def __post_init__(self) -> None:
        choose(DENOISE_METHODS, self.denoise, "denoise")
        choose(OPERATORS, self.operator, "operator")
        choose(NORMALIZE_METHODS, self.normalize, "normalize")
        choose(dict.fromkeys(("magnitude", "tone")), self.color_target, "color_target")
        object.__setattr__(self, "color", as_color(self.color))
        if not isinstance(self.axial, bool | np.bool_):
            raise ParameterError(f"axial={self.axial!r} must be True or False")
        object.__setattr__(self, "axial", bool(self.axial))
        # a single name is that output, not its letters
        outputs = (self.outputs,) if isinstance(self.outputs, str) else tuple(self.outputs)
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

    def to_dict(self) -> dict:
        """Return the settings as plain JSON-able values."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["outputs"] = list(self.outputs)
        if isinstance(self.color, ColorRamp):
            d["color"] = self.color.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> PipelineConfig:
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

    ``full_shape`` is set when the arrays are a reduced copy (block means) of a
    larger scan, as :func:`process_to_files` hands to the preview: it is the
    scan's (H, W); ``details`` then holds full-resolution crops of the
    busiest strokes for the preview's 1:1 panels (see
    :func:`sketchgrad.preview.render_preview`). In Jupyter a Result shows as
    its preview. ``strength_used`` is the denoise strength the run used: the
    automatic estimate resolved to a number when ``config.strength`` is None
    (``None`` for ``denoise="none"``, which has no strength).
    """

    image: np.ndarray
    config: PipelineConfig
    denoised: np.ndarray | None = None
    field: GradientField | None = None
    normalized: np.ndarray | None = None
    hsv: np.ndarray | None = None
    sketch: np.ndarray | None = None
    meta: object = None
    full_shape: tuple[int, int] | None = None
    details: dict | None = None
    strength_used: float | None = None

    def __repr__(self) -> str:
        """Shape, settings and what was computed; never the arrays."""
        from .color import color_label

        cfg = self.config
        shape = self.full_shape or self.image.shape
        computed = [name for name in ("denoised", "field", "normalized", "hsv", "sketch")
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


# ----------------------------------------------------------------------------------------
# What each output needs


def _needs(outputs: Iterable[str], config: PipelineConfig, *, keep_denoised: bool = True
           ) -> set[str]:
    """Stages to compute for these outputs (only what they need)."""
    outputs = set(outputs)
    tone_ramp = config.color != "hsv" and config.color_target == "tone"
    colored = "hsv" in outputs
    needs = set()
    if keep_denoised or "preview" in outputs or (colored and tone_ramp):
        needs.add("denoised")
    if outputs & {"magnitude", "preview"} or (colored and not tone_ramp):
        needs |= {"field", "normalized"}  # a ramp over the tone needs no gradients
    if outputs & {"hsv", "preview"}:
        needs.add("hsv")
    if outputs & {"sketch", "preview"}:
        needs.add("sketch")
    return needs


def _tile_side(shape: tuple[int, int], config: PipelineConfig, *, streaming: bool) -> int:
    """Tile side for an image of this shape (0 = whole image)."""
    if config.tile_size is not None:
        return config.tile_size
    if streaming or shape[0] * shape[1] > TILE_THRESHOLD:
        return DEFAULT_TILE
    return 0


def _denoise_radius(method: str, strength: float | None) -> int | None:
    """How far a denoised pixel depends on its neighbours (None: not local or not known)."""
    from .denoise import BILATERAL_SPACE_SIGMA, NL_MEANS_PATCH, NL_MEANS_SEARCH

    if method == "none":
        return 0
    if strength is None:
        return None
    if method == "gaussian":
        # OpenCV's float kernel reaches round(4 sigma); one more for any 4-sigma truncation
        return int(math.ceil(4.0 * float(strength))) + 1
    if method == "median":
        return int(round(float(strength)))
    if method == "bilateral":
        # OpenCV's bilateral filter reaches round(1.5 * sigma_space)
        return int(math.ceil(1.5 * BILATERAL_SPACE_SIGMA)) + 1
    if method == "nl_means":
        return NL_MEANS_SEARCH // 2 + NL_MEANS_PATCH // 2 + 1
    return None  # global methods (tv, wavelet, ...) are run on the whole image


def _operator_radius(operator: str) -> int:
    """Reach of the gradient operator (at least 1: the relief's central differences)."""
    from .gradients import _FOOTPRINT

    return max(1, _FOOTPRINT[operator] // 2)


def _resolve_strength(image: np.ndarray, config: PipelineConfig) -> float | None:
    """The strength the denoiser would pick for the whole image, when it can be known."""
    from .denoise import resolve_strength

    if config.strength is not None or config.denoise == "none":
        return config.strength
    return resolve_strength(image, config.denoise)


# ----------------------------------------------------------------------------------------
# Display scale of a tile


def _no_flicker(magnitude: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Magnitudes at most ``color.ZERO_GRADIENT`` (1e-6) set to zero before normalizing.

    Such gradients are rounding noise (an ulp of the denoised image gives 3e-8;
    one 16-bit level is 1.5e-5) and have no direction. Without this a flat page
    would stay black when computed whole but show its rounding noise at full
    scale when computed in tiles, whose last bits can differ.
    """
    from .color import ZERO_GRADIENT

    small = magnitude <= np.float32(ZERO_GRADIENT)
    if not small.any():
        return magnitude
    if in_place:
        np.putmask(magnitude, small, np.float32(0.0))
        return magnitude
    return np.where(small, np.float32(0.0), magnitude)


def _unit(normalized: np.ndarray, method: str, peak: float | None) -> np.ndarray:
    """``to_unit`` of a tile; ``peak`` is the whole image's largest |value| (l2 divides by it)."""
    if method != "l2" or peak is None:
        # the tile's normalized values are ours alone: let to_unit work in place
        return to_unit(normalized, method, copy=False)
    # to_unit's l2 rule divides by the largest |value|: give it the whole image's.
    flat = np.append(normalized.ravel(), np.float32(peak))
    return to_unit(flat, method)[:-1].reshape(normalized.shape)


# ----------------------------------------------------------------------------------------
# Colour helpers


def _color(field: GradientField, unit, tone, config: PipelineConfig, dtype) -> np.ndarray:
    """``apply_color``; ``dtype`` uint8 gives PNG bytes without a float copy."""
    from .color import apply_color

    return apply_color(field, unit, tone, color=config.color, target=config.color_target,
                       axial=config.axial, dtype=dtype)


def _png_bytes(x: np.ndarray, bit_depth: int) -> np.ndarray:
    """Exactly what ``save_png`` stores for a float array."""
    from .png import _quantize

    return _quantize(x, bit_depth)


# ----------------------------------------------------------------------------------------
# The tile engine


class _Timer:
    """Seconds per stage, summed over threads (so they can exceed the wall time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now


class _Tiles:
    """Compute the pipeline tile by tile with a halo; the caller consumes finished tiles."""

    def __init__(self, image: np.ndarray, config: PipelineConfig, needs: set[str],
                 side: int, normalizer, timer: _Timer) -> None:
        self.config, self.needs, self.timer = config, needs, timer
        start = time.perf_counter()
        if config.flatten_background:
            from .denoise import flatten_background

            image = flatten_background(image)
            start = timer.add("flatten", start)
        self.image = image
        self.height, self.width = image.shape
        side = side or max(self.height, self.width)
        self.side = side
        strength = _resolve_strength(image, config)
        start = timer.add("estimate_noise", start) if config.strength is None else start
        radius = _denoise_radius(config.denoise, strength)
        self.strength = strength
        self.denoised_whole = None
        if radius is None:
            # Not a local filter (or its strength depends on the whole image): denoise once.
            self.denoised_whole = denoise(image, config.denoise,
                                          strength=strength)  # estimated once, above
            timer.add("denoise", start)
            radius = 0
        self.halo = radius + _operator_radius(config.operator) + 1  # +1 to spare
        self.normalizer = normalizer
        self.peak: float | None = None
        self.tiles = [[(y, min(y + side, self.height), x, min(x + side, self.width))
                       for x in range(0, self.width, side)]
                      for y in range(0, self.height, side)]
        self.threads = min(os.cpu_count() or 1, sum(len(b) for b in self.tiles))

    # -- per tile (runs in worker threads) --------------------------------------------
    def compute(self, box, needs: set[str] | None = None) -> dict:
        """Denoise, gradients and relief of one tile (cropped to the tile)."""
        needs = self.needs if needs is None else needs
        y0, y1, x0, x1 = box
        h = self.halo
        py0, py1 = max(0, y0 - h), min(self.height, y1 + h)
        px0, px1 = max(0, x0 - h), min(self.width, x1 + h)
        crop = (slice(y0 - py0, y1 - py0), slice(x0 - px0, x1 - px0))
        t = time.perf_counter()
        if self.denoised_whole is not None:
            den = self.denoised_whole[py0:py1, px0:px1]
        else:
            den = denoise(np.ascontiguousarray(self.image[py0:py1, px0:px1]),
                          self.config.denoise, strength=self.strength)
            t = self.timer.add("denoise", t)
        parts: dict = {"box": box}
        if "denoised" in needs:
            parts["denoised"] = np.ascontiguousarray(den[crop])
        if "field" in needs:
            full = gradient_field(den, self.config.operator)
            # views into the padded tile: no copy (the halo is 5% more memory per tile)
            parts["field"] = GradientField(full.gx[crop], full.gy[crop])
            del full
            if "normalized" in needs:  # computed (and cached) here, in the worker thread
                _no_flicker(parts["field"].magnitude, in_place=True)
            t = self.timer.add("gradients", t)
        if "sketch" in needs:
            from .sketch import sketch_effect

            parts["sketch"] = np.ascontiguousarray(sketch_effect(den)[crop])
            self.timer.add("sketch", t)
        return parts

    def finish(self, parts: dict, dtype) -> dict:
        """Normalize and colour a computed tile; ``dtype`` uint8 gives PNG-ready bytes."""
        t = time.perf_counter()
        field = parts.get("field")
        out = {"box": parts["box"]}
        unit = None
        if field is not None and "normalized" in self.needs:
            if self.normalizer is not None:
                normalized = self.normalizer.transform(field.magnitude)  # floored in compute
            else:
                normalized = normalize(field.magnitude, self.config.normalize)
            unit = _unit(normalized, self.config.normalize, self.peak)
            del normalized
            if dtype is np.float32:
                out["normalized"] = unit
            elif "magnitude" in self.config.outputs:
                out["normalized"] = _png_bytes(unit, 16)
            t = self.timer.add("normalize", t)
        if "hsv" in self.needs:
            out["hsv"] = _color(field, unit, parts.get("denoised"), self.config, dtype)
            t = self.timer.add("color", t)
        if "denoised" in parts:
            out["denoised"] = parts["denoised"]
        if "sketch" in parts:
            out["sketch"] = parts["sketch"] if dtype is np.float32 \
                else _png_bytes(parts["sketch"], 8)
        if field is not None:
            out["field"] = field
        if unit is not None:
            out["unit"] = unit
        return out

    def _magnitude(self, box) -> dict:
        """First pass without keeping tiles: only the magnitude is needed."""
        return self.compute(box, {"field", "normalized"})

    def _kept_bytes(self) -> int:
        """Bytes the first pass's tiles would take if kept for the second."""
        per_pixel = 12 + 4 * len(self.needs & {"denoised", "sketch"})  # gx, gy, magnitude
        return per_pixel * self.height * self.width

    # -- driving ----------------------------------------------------------------------
    def _ordered(self, pool, func: Callable, items: list) -> Iterator:
        """``pool.map`` with a bounded window, so only a few tiles are alive at once."""
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > 2 * self.threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def run(self, dtype) -> Iterator[list[dict]]:
        """Yield each band of finished tiles, top to bottom.

        With global statistics to gather, a first pass computes every tile's
        magnitude for ``Normalizer.partial_fit``. The second pass reuses the
        first pass's tiles when they fit in ``KEEP_BYTES`` (8.5 MP, outputs
        hsv: 102 MB), and computes them again otherwise, so memory stays bounded.
        """
        method = self.config.normalize
        fit = "normalized" in self.needs and (self.normalizer is None or method == "l2")
        whole = len(self.tiles) == 1 and len(self.tiles[0]) == 1
        kept: dict = {}
        with ThreadPoolExecutor(self.threads) as pool:
            if fit and not whole:
                keep = self._kept_bytes() <= KEEP_BYTES
                fitting = self.normalizer is None
                if fitting:
                    from .normalize import Normalizer

                    self.normalizer = Normalizer(method)
                top = -math.inf
                first = self.compute if keep else self._magnitude
                for parts in self._ordered(pool, first, sum(self.tiles, [])):
                    t = time.perf_counter()
                    magnitude = parts["field"].magnitude  # floored in compute
                    if fitting:
                        self.normalizer.partial_fit(magnitude)
                    top = max(top, float(magnitude.max()))
                    self.timer.add("normalize", t)
                    if keep:
                        kept[parts["box"]] = parts
                    del parts, magnitude
                if method == "l2":
                    probe = self.normalizer.transform(np.array([top], np.float32))
                    self.peak = float(np.abs(probe).max())

            def second(box):
                parts = kept.pop(box, None) or self.compute(box)
                return self.finish(parts, dtype)

            for band in self.tiles:
                yield list(self._ordered(pool, second, band))


def fit_normalizer(scan: Scan | np.ndarray, config: PipelineConfig | None = None, *,
                   normalizer=None):
    """Add one scan's gradient-magnitude statistics to a Normalizer, tile by tile.

    The first pass of a shared scale (``--normalize-scope batch``): fit every
    page, merge, then give the result to :func:`process_to_files` as
    ``normalizer``. Memory stays at the image plus a few tiles; the statistics
    are those of the magnitude :func:`process` normalizes (values at most
    ``color.ZERO_GRADIENT`` counted as zero).

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey array read by :func:`sketchgrad.as_image`.
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

    config = _config_of(config)
    image, _ = _image_of(scan)
    _check_normalizer(normalizer, config, fitted=False)
    normalizer = normalizer if normalizer is not None else Normalizer(config.normalize)
    side = _tile_side(image.shape, config, streaming=True)
    tiles = _Tiles(image, config, {"field", "normalized"}, side, None, _Timer())
    with ThreadPoolExecutor(tiles.threads) as pool:
        for parts in tiles._ordered(pool, tiles._magnitude, sum(tiles.tiles, [])):
            normalizer.partial_fit(parts["field"].magnitude)  # floored in compute
    return normalizer


def _config_of(config) -> PipelineConfig:
    if config is None:
        return PipelineConfig()
    if not isinstance(config, PipelineConfig):
        raise ParameterError(f"config is a {type(config).__name__}, not a PipelineConfig; give "
                             "PipelineConfig(...) (a dict of settings: "
                             "PipelineConfig.from_dict(d))")
    return config


def _check_destinations(paths: Mapping, kinds: list[str]) -> None:
    """Streamed outputs are PNGs: refuse a name that asks for another format."""
    from .png import output_format

    for kind in kinds:
        fmt = output_format(paths[kind], name=f"paths[{kind!r}]")
        if fmt != "PNG" and kind != "preview":  # the preview is drawn whole: any format
            raise ParameterError(
                f"paths[{kind!r}]={os.fspath(paths[kind])!r}: process_to_files streams "
                f"{kind} as PNG and cannot write {fmt}; name it .png, or write process()'s "
                "array with save_png, which writes JPEG, TIFF and WebP")


def _provenance(config: PipelineConfig, normalizer) -> dict[str, str]:
    """The command's provenance chunk for outputs written through the API."""
    from .config import normalizer_record, provenance_text

    if normalizer is None:
        return provenance_text(config)
    return provenance_text(config, normalize_scope="batch",
                           normalizer_state=normalizer_record(normalizer))


def _check_normalizer(normalizer, config: PipelineConfig, *, fitted: bool = True) -> None:
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


def _image_of(scan, name: str = "scan") -> tuple[np.ndarray, object]:
    """The input rule (``io.as_image``) for the pipeline, which is grey only for now."""
    from .io import as_image

    meta = scan.meta if isinstance(scan, Scan) else None
    image = as_image(scan, name=name)
    if image.ndim != 2:
        raise ParameterError(f"{name} of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray' (or convert the array to grey)")
    return image, meta


# ----------------------------------------------------------------------------------------
# Public entry points


def process(scan: Scan | np.ndarray, config: PipelineConfig | None = None, *,
            normalizer=None, timings: dict | None = None) -> Result:
    """Run the pipeline on a scan or a float image in [0, 1].

    Only the stages the requested outputs need are computed (``hsv`` alone
    computes no relief; ``sketch`` alone no gradients). Large images
    (``config.tile_size``) are computed in tiles in a thread pool into the
    full-size results; to write huge scans in bounded memory use
    :func:`process_to_files`.

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey array read by :func:`sketchgrad.as_image`
        (uint8 /255, uint16 /65535, bool, floats in [0, 1]); colour is an error for now.
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
    config = _config_of(config)
    image, meta = _image_of(scan)
    _check_normalizer(normalizer, config)
    res = Result(image=image, config=config, meta=meta)
    needs = _needs(config.outputs, config)
    timer = _Timer()
    side = _tile_side(image.shape, config, streaming=False)
    if side == 0 or side >= max(image.shape):
        _process_whole(res, image, config, needs, normalizer, timer)
    else:
        _process_tiled(res, image, config, needs, side, normalizer, timer)
    if timings is not None:
        timings.update(timer.seconds)
    return res


def _process_whole(res: Result, image: np.ndarray, config: PipelineConfig, needs: set[str],
                   normalizer, timer: _Timer) -> None:
    """The stage functions composed on the whole image (the reference the tiles must match)."""
    t = time.perf_counter()
    if config.flatten_background:
        from .denoise import flatten_background

        image = flatten_background(image)
        t = timer.add("flatten", t)
    res.strength_used = _resolve_strength(image, config)  # the number, recorded
    res.denoised = denoise(image, config.denoise, strength=res.strength_used)
    t = timer.add("denoise", t)
    if "field" in needs:
        res.field = gradient_field(res.denoised, config.operator)
        t = timer.add("gradients", t)
        if "normalized" in needs:
            if normalizer is not None:
                normalized = normalizer.transform(_no_flicker(res.field.magnitude))
            else:
                normalized = normalize(_no_flicker(res.field.magnitude), config.normalize)
            # normalize() always returns a new array (never the magnitude): scale it in place
            res.normalized = to_unit(normalized, config.normalize, copy=False)
            del normalized
            t = timer.add("normalize", t)
    if "hsv" in needs:
        res.hsv = _color(res.field, res.normalized, res.denoised, config, np.float32)
        t = timer.add("color", t)
    if "sketch" in needs:
        from .sketch import sketch_effect

        res.sketch = sketch_effect(res.denoised)
        timer.add("sketch", t)


def _process_tiled(res: Result, image: np.ndarray, config: PipelineConfig, needs: set[str],
                   side: int, normalizer, timer: _Timer) -> None:
    tiles = _Tiles(image, config, needs, side, normalizer, timer)
    res.strength_used = tiles.strength
    shape = image.shape
    planes = {kind: np.empty(shape, np.float32)
              for kind in ("denoised", "gx", "gy", "normalized", "sketch")
              if kind in needs or (kind in ("gx", "gy") and "field" in needs)}
    if "hsv" in needs:
        planes["hsv"] = np.empty(shape + (3,), np.float32)
    for band in tiles.run(np.float32):
        for out in band:
            y0, y1, x0, x1 = out["box"]
            where = (slice(y0, y1), slice(x0, x1))
            if "field" in out:
                planes["gx"][where] = out["field"].gx
                planes["gy"][where] = out["field"].gy
            for kind in ("denoised", "normalized", "hsv", "sketch"):
                if kind in out and kind in planes:
                    planes[kind][where] = out[kind]
    res.denoised = planes.get("denoised")
    if "gx" in planes:
        res.field = GradientField(planes["gx"], planes["gy"])
    res.normalized = planes.get("normalized")
    res.hsv = planes.get("hsv")
    res.sketch = planes.get("sketch")


def process_to_files(scan: Scan | np.ndarray, config: PipelineConfig | None,
                     paths: Mapping[str, str | os.PathLike], *, normalizer=None,
                     text: Mapping[str, str] | None = None, compression: int | None = None,
                     timings: dict | None = None) -> dict[str, Path]:
    """Run the pipeline and stream the outputs into PNG files, tile by tile.

    Memory stays at about the input image plus a band of tiles: no full-size
    intermediate or output is held (``magnitude`` is written as 16-bit grey,
    ``hsv`` as 8-bit RGB, ``sketch`` as 8-bit grey, ``preview`` from
    subsampled stages, so its cost does not grow with the scan). The pixels
    equal ``save_png`` of :func:`process`'s arrays to within one level
    (identical away from OpenCV's last-bit rounding).

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey array read by :func:`sketchgrad.as_image`.
    config : PipelineConfig or None
        Settings (``tile_size=0`` computes the whole image at once, then writes).
    paths : mapping
        Output kind (``"magnitude"``, ``"hsv"``, ``"sketch"``, ``"preview"``)
        -> destination PNG; only these kinds are computed. Each file is
        written under a temporary name and renamed into place. A name ending in
        ``.jpg``, ``.tif`` or ``.webp`` is refused for the streamed kinds (the
        preview is written in that format).
    normalizer : Normalizer, optional
        Already-fitted magnitude statistics (a batch's shared scale).
    text : mapping, optional
        PNG text chunks for every file; by default the provenance chunk the
        command writes (:func:`sketchgrad.config.provenance_text` of ``config``,
        with the normalizer's statistics when one is given). Every PNG also
        records the scan's resolution (``pHYs``) when its file had one.
    compression : int, optional
        zlib level 0-9 (default ``sketchgrad.png.DEFAULT_COMPRESSION``, 1).
    timings : dict, optional
        Filled with seconds per stage (summed over threads) and ``"png"``,
        the time spent waiting for the writers.

    Returns
    -------
    dict
        Kind -> written path.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> y, x = np.mgrid[0:40, 0:50].astype(np.float32)
    >>> out = process_to_files(x / 49, PipelineConfig(denoise="none"), {"hsv": d + "/h.png"})
    >>> with Image.open(out["hsv"]) as im:
    ...     print(im.size, im.mode)
    (50, 40) RGB
    """
    from .png import DEFAULT_COMPRESSION, PngWriter

    config = _config_of(config)
    compression = DEFAULT_COMPRESSION if compression is None else compression
    unknown = sorted(set(paths) - set(OUTPUT_KINDS))
    if unknown or not paths:
        raise ParameterError(f"paths: kinds {unknown or '(none)'} are not outputs; use some of "
                             f"{', '.join(OUTPUT_KINDS)}")
    kinds = [k for k in OUTPUT_KINDS if k in paths]
    config = replace(config, outputs=tuple(kinds))
    image, meta = _image_of(scan)
    _check_normalizer(normalizer, config)
    _check_destinations(paths, kinds)
    height, width = image.shape
    text = dict(text) if text is not None else _provenance(config, normalizer)
    dpi = getattr(meta, "dpi", None)
    timer = _Timer()
    needs = _needs(kinds, config, keep_denoised=False)
    side = _tile_side(image.shape, config, streaming=True)
    step = _preview_step(image.shape) if "preview" in kinds else 0
    if step > 1 and side:
        side = max(step, side // step * step)  # tiles on whole preview blocks
    tiles = _Tiles(image, config, needs, side, normalizer, timer)
    from .config import with_strength_used

    text = with_strength_used(text, tiles.strength)  # the estimate, now that it is known
    thumbs = _Thumbs(image, step, needs) if step else None

    layout = {"magnitude": ("normalized", 1, 16), "hsv": ("hsv", 3, 8), "sketch": ("sketch", 1, 8)}
    writers = {}
    try:
        for kind in kinds:
            if kind in layout:
                _, channels, depth = layout[kind]
                writers[kind] = PngWriter(paths[kind], width, height, channels=channels,
                                          bit_depth=depth, text=text, compression=compression,
                                          dpi=dpi)
        for band in tiles.run(np.uint8):
            if thumbs:
                thumbs.add(band)
            for kind, writer in writers.items():
                t = time.perf_counter()
                writer.write([out[layout[kind][0]] for out in band])  # joined while compressed
                timer.add("png", t)
            del band
        written = {}
        for kind, writer in writers.items():
            t = time.perf_counter()
            written[kind] = writer.close()
            timer.add("png", t)
        writers.clear()
    finally:
        for writer in writers.values():
            writer.abort()
    if thumbs:
        t = time.perf_counter()
        shown = thumbs.result(config, meta)
        shown.strength_used = tiles.strength
        written["preview"] = _write_preview(shown, Path(paths["preview"]), text)
        timer.add("preview", t)
    if timings is not None:
        timings.update(timer.seconds)
    return {k: written[k] for k in kinds}


# ----------------------------------------------------------------------------------------
# Preview from subsampled stages


def _preview_step(shape: tuple[int, int]) -> int:
    from . import preview

    return preview.shrink_step(shape, preview.PREVIEW_SIDE)  # the side as set now


def _block_mean(a: np.ndarray, step: int) -> np.ndarray:
    """Mean over ``step`` x ``step`` blocks (partial blocks at the end average what is there).

    On tiles whose corners sit on multiples of ``step`` this equals the whole
    image's block means, as OpenCV's ``INTER_AREA`` shrink by an integer factor.
    """
    a = np.asarray(a, np.float32) / (np.float32(255.0) if a.dtype == np.uint8 else 1)
    rows = np.arange(0, a.shape[0], step)
    cols = np.arange(0, a.shape[1], step)
    sums = np.add.reduceat(np.add.reduceat(a, rows, axis=0), cols, axis=1)
    count_r = np.diff(np.append(rows, a.shape[0])).astype(np.float32)
    count_c = np.diff(np.append(cols, a.shape[1])).astype(np.float32)
    counts = np.outer(count_r, count_c)
    return sums / (counts[..., None] if sums.ndim == 3 else counts)


class _Thumbs:
    """Block means (``step`` x ``step``) of each stage, gathered tile by tile for the preview."""

    KINDS = ("denoised", "normalized", "hsv", "sketch", "gx", "gy")

    #: Full-resolution crops for the preview's detail panels: crop name -> tile part.
    CROPS = {"hsv": "hsv", "relief": "sketch"}

    def __init__(self, image: np.ndarray, step: int, needs: set[str]) -> None:
        self.step = step
        self.full_shape = image.shape
        self.image = _block_mean(image, step)
        shape = self.image.shape
        have = set(needs) | ({"gx", "gy"} if "field" in needs else set())
        self.planes = {kind: np.zeros(shape + ((3,) if kind == "hsv" else ()), np.float32)
                       for kind in self.KINDS if kind in have}
        self.details = self._plan_details(image) if step > 1 else None

    def _plan_details(self, image: np.ndarray) -> dict:
        """Choose the 1:1 detail window before the tiles stream, and crop the scan.

        A cheap first look: the gradient magnitude of the block-mean scan says
        where the busiest strokes are (the full-resolution magnitude does not
        exist yet). The window's crops of each stage are then copied out of
        the tiles as they pass (``add``): a panel-sized crop each, whatever
        the scan's size.
        """
        from .gradients import gradient_field
        from .preview import detail_window

        busy = gradient_field(self.image, "sobel").magnitude
        r, c, ch, cw = window = detail_window(busy, self.full_shape)
        shape = self.image.shape
        # overview pictures that keep thin strokes visible (preview.block_peak)
        peaks = {f"{name}_peaks": np.zeros(shape + ((3,) if name == "hsv" else ()), np.float32)
                 for name, kind in (("magnitude", "normalized"), ("hsv", "hsv"))
                 if kind in self.planes}
        return {"window": window, "scan": image[r:r + ch, c:c + cw].copy(), **peaks}

    def add(self, band: list[dict]) -> None:
        s = self.step
        for out in band:
            y0, _, x0, _ = out["box"]  # multiples of the step (the tile side is)
            for kind, plane in self.planes.items():
                if kind in ("gx", "gy"):
                    part = getattr(out.get("field"), kind, None)
                else:
                    part = out.get("unit" if kind == "normalized" else kind)
                if part is None:
                    continue
                small = _block_mean(part, s)
                plane[y0 // s:y0 // s + small.shape[0], x0 // s:x0 // s + small.shape[1]] = small
            if self.details is not None:
                self._crop(out)
                self._peaks(out)

    def _peaks(self, out: dict) -> None:
        """Each block's strongest pixel of the tile's magnitude and colour."""
        from .preview import block_peak

        s = self.step
        y0, _, x0, _ = out["box"]
        for name, kind in (("magnitude", "unit"), ("hsv", "hsv")):
            plane, part = self.details.get(f"{name}_peaks"), out.get(kind)
            if plane is None or part is None:
                continue
            small = block_peak(part, s)
            plane[y0 // s:y0 // s + small.shape[0], x0 // s:x0 // s + small.shape[1]] = small

    def _crop(self, out: dict) -> None:
        """Copy the part of a finished tile that falls in the detail window."""
        r, c, ch, cw = self.details["window"]
        y0, y1, x0, x1 = out["box"]
        top, bottom, left, right = max(y0, r), min(y1, r + ch), max(x0, c), min(x1, c + cw)
        if top >= bottom or left >= right:
            return
        for name, kind in self.CROPS.items():
            part = out.get(kind)
            if part is None:
                continue
            if name not in self.details:
                self.details[name] = np.zeros((ch, cw) + part.shape[2:], part.dtype)
            self.details[name][top - r:bottom - r, left - c:right - c] = \
                part[top - y0:bottom - y0, left - x0:right - x0]

    def result(self, config: PipelineConfig, meta) -> Result:
        planes = dict(self.planes)
        field = GradientField(planes.pop("gx"), planes.pop("gy")) if "gx" in planes else None
        return Result(image=self.image, config=config, meta=meta, field=field,
                      full_shape=self.full_shape if self.step > 1 else None,
                      details=self.details, **planes)


def _write_preview(result: Result, dest: Path, text: dict) -> Path:
    from .preview import render_preview

    return render_preview(result, dest, text=text)
