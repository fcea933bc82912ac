"""The tile engine: the pipeline computed tile by tile, each with a halo from the methods' reach.

Three pieces, each its own function over typed records:

- **planning** (:func:`plan_tiles`): the tile grid, the halo (the denoiser's
  and the operator's declared reach, from their registry entries) and what is
  done once for the whole image (background flattening, the automatic denoise
  strength, a denoiser that is not local);
- **per-tile compute** (:func:`compute_tile`, in worker threads): denoise,
  gradients and relief of the padded tile, cropped back to the tile;
- **finishing** (:func:`finish_tile`): normalize with the whole image's scale
  and colour, draw the flow picture; ``uint8`` output gives PNG-ready samples.

:class:`TileEngine` drives them in a thread pool, band by band, and keeps the
two-pass memory policy: a global normalization first merges every tile's
magnitude statistics (``Normalizer.partial_fit``), keeping the first pass's
tiles for the second when they fit in ``KEEP_BYTES`` (without their denoised
scan when only that way they fit: the second pass then denoises again) and
recomputing them otherwise. A normalization registered without mergeable statistics is fitted
on the whole image's magnitude, gathered from the tiles into one plane. Stroke
directions (the ``flow`` output, the preview's rose) have their whole-image
figures summed in the same first pass (:class:`~sketchgrad.strokes.StrokeStatistics`,
exact counts for the flow picture's brightness reference), so every tile's flow
picture uses the whole image's reference and the figures are known before any
output is written.
Tiled float results equal whole-image results to within 1e-5 (OpenCV's vector
and scalar code paths may round differently in the last bit).

A colour scan is tiled as it is, (H, W, 3): each tile is denoised in colour,
its gradients are Di Zenzo's (one magnitude), its relief is lit in the
drawing's colours; the stroke colouring reads the scan up to
``STROKE_REACH`` pixels around each pixel, which the halo adds.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import numpy as np

from .color import apply_color, hsv_color_of_hue, orientation_hue, stroke_color
from .denoise import (
    DENOISE_METHODS,
    denoise,
    file_noise_source,
    flatten_background,
    resolve_strength,
    should_flatten,
)
from .errors import ParameterError
from .gradients import OPERATORS, GradientField, floor_zero_gradients, gradient_field
from .io import NativeImage
from .normalize import NORMALIZE_METHODS, Measurement, Normalizer, normalize, to_unit
from .png import quantize

if TYPE_CHECKING:
    from .io import ScanMeta
    from .pipeline import PipelineConfig
    from .strokes import StrokeField, StrokeStatistics

_In = TypeVar("_In")
_Out = TypeVar("_Out")
#: What the engine makes: float32 planes (process) or PNG-ready samples (streaming).
_TileDtype = type[np.float32] | type[np.uint8]

__all__ = ["KEEP_BYTES", "WHOLE_DENOISE_MAX_PIXELS", "Timer", "TileBox", "TilePlan",
           "ComputedTile", "FinishedTile",
           "Scale", "TileEngine", "stages_needed", "plan_tiles", "compute_tile", "finish_tile"]

#: Largest first-pass result kept for the second pass instead of recomputing it (bytes).
KEEP_BYTES = 128 * 2**20

#: Reach of the relief's central differences, which every tile may compute.
RELIEF_REACH = 1

#: Largest image (pixels) a denoiser that is not local (reach None: wavelet) is run on
#: whole by the tile engine: it holds the image and its result as float32 plus the
#: method's own full-size work (about 20 bytes per pixel for wavelet), so memory
#: would grow with the scan. Larger scans are refused with the fix.
WHOLE_DENOISE_MAX_PIXELS = 50_000_000

#: Reach of the stroke colouring (``color="stroke"``): it samples the scan up to
#: ``max(color.STROKE_SAMPLES)`` pixels against the gradient, bilinearly (one more).
STROKE_REACH = 4


class Timer:
    """Seconds per stage, summed over threads (so they can exceed the wall time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, since: float) -> float:
        """Add the time since ``since`` to ``stage``; return now (the next stage's start)."""
        now = time.perf_counter()
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now


def stages_needed(outputs: Iterable[str], config: PipelineConfig, *,
                  keep_denoised: bool = True) -> set[str]:
    """The stages these outputs need (denoised, field, normalized, hsv, sketch, strokes, flow)."""
    outputs = set(outputs)
    # a ramp over the tone needs no gradients; the stroke colouring needs both
    tone_ramp = config.color not in ("hsv", "stroke") and config.color_target == "tone"
    reads_scan = tone_ramp or config.color == "stroke"
    colored = "hsv" in outputs
    needs = set()
    if keep_denoised or "preview" in outputs or (colored and reads_scan):
        needs.add("denoised")
    if outputs & {"magnitude", "preview"} or (colored and not tone_ramp):
        needs |= {"field", "normalized"}  # a ramp over the tone needs no gradients
    if outputs & {"hsv", "preview"}:
        needs.add("hsv")
    if outputs & {"sketch", "preview"}:
        needs.add("sketch")
    if outputs & {"flow", "preview"}:
        needs.add("strokes")  # the preview's rose; the figures of the run's record
    if "flow" in outputs:
        needs.add("flow")
    return needs


# ----------------------------------------------------------------------------------------
# Records


class TileBox(NamedTuple):
    """A tile's rows ``y0:y1`` and columns ``x0:x1`` in the image (a dict key)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def where(self) -> tuple[slice, slice]:
        """The tile's slices of a full-size plane."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


@dataclass(eq=False, repr=False)  # records of arrays: no == (ambiguous) or repr
class TilePlan:
    """What every tile shares: the (flattened) image, the grid, the halo, whole-image work.

    Attributes
    ----------
    image : ndarray or NativeImage
        The (H, W) or (H, W, 3) float32 image the tiles are cut from (after
        background flattening), or a grey scan's samples in their file's dtype
        (:class:`sketchgrad.io.NativeImage`), each tile converted as it is cut.
    config : PipelineConfig
        The run's settings.
    needs : set of str
        The stages to compute.
    bands : list of list of TileBox
        The tiles, row band by row band, top to bottom.
    halo : int
        Pixels of neighbourhood each tile is computed with.
    strength : float or None
        The denoise strength, fixed once for the whole image.
    denoised_whole : ndarray or None
        The whole image denoised once, when the denoiser is not local.
    threads : int
        Worker threads.
    flattened : bool
        Whether the background was flattened (``config.flatten_background``,
        decided by :func:`~sketchgrad.denoise.should_flatten`).
    flow : dict
        The flow picture's ``grain`` and ``length`` for the whole image
        (:func:`~sketchgrad.strokes.flow_defaults`), the same for every tile.
    """

    image: np.ndarray | NativeImage
    config: PipelineConfig
    needs: set[str]
    bands: list[list[TileBox]]
    halo: int
    strength: float | None
    denoised_whole: np.ndarray | None
    threads: int
    flattened: bool = False
    flow: dict[str, Any] | None = None

    @property
    def boxes(self) -> list[TileBox]:
        """Every tile, band after band."""
        return [box for band in self.bands for box in band]

    @property
    def single(self) -> bool:
        """Whether the whole image is one tile."""
        return len(self.bands) == 1 and len(self.bands[0]) == 1


@dataclass(eq=False, repr=False)
class ComputedTile:
    """Denoise, gradients and relief of one tile, cropped to it (stages not needed: None)."""

    box: TileBox
    denoised: np.ndarray | None = None
    field: GradientField | None = None
    sketch: np.ndarray | None = None
    #: Stroke directions of the tile and, for the flow picture, ``grain + 1`` pixels around
    #: it: ``strokes_core`` are the tile's own pixels in it, ``strokes_origin`` its top-left
    #: pixel in the image.
    strokes: StrokeField | None = None
    strokes_core: tuple[slice, slice] | None = None
    strokes_origin: tuple[int, int] = (0, 0)
    #: The stroke figures of the tile's own pixels, summed as its directions were measured.
    stroke_statistics: StrokeStatistics | None = None
    #: For the stroke colouring, which reads the scan around each pixel: the
    #: padded denoised tile, its gradients and the tile's slices of them.
    padded: tuple[np.ndarray, GradientField, tuple[slice, slice]] | None = None
    #: The first pass's statistics of the tile's magnitude, measured in the worker thread
    #: for the normalizer being fitted (added in tile order by the main thread).
    measurement: Measurement | None = None
    #: Kept by the first pass instead of ``field`` when the second pass only colours by
    #: direction (``TileEngine.run``): the hsv colouring's hue (``color.orientation_hue``)
    #: and the floored magnitude, as many bytes as gx and gy, and nothing made again.
    hue: np.ndarray | None = None
    magnitude: np.ndarray | None = None


@dataclass(eq=False, repr=False)
class FinishedTile:
    """One tile's outputs, float32 or PNG-ready samples (stages not needed: None).

    ``normalized`` is the displayed magnitude (``to_unit`` of the normalization):
    float32 in [0, 1], or 16-bit samples for PNG output; ``unit`` is always the
    float32 form (for the preview's thumbnails). ``flow`` is the flow picture
    (RGB), ``strokes`` the tile's stroke directions.
    """

    box: TileBox
    denoised: np.ndarray | None = None
    field: GradientField | None = None
    normalized: np.ndarray | None = None
    unit: np.ndarray | None = None
    hsv: np.ndarray | None = None
    sketch: np.ndarray | None = None
    flow: np.ndarray | None = None
    strokes: StrokeField | None = None
    #: What ``TileEngine.run``'s ``per_tile`` made of the tile in its worker thread.
    extra: Any = None


@dataclass(eq=False, repr=False)
class Scale:
    """The whole image's normalization, as the tiles apply it.

    ``normalizer`` (fitted statistics) or ``unit_whole`` (a registered method
    fitted on the whole magnitude, already brought to [0, 1]); ``peak`` is the
    whole image's largest |normalized value| (l2's display rule divides by it).
    ``strokes`` are the whole image's stroke figures and ``flow_reference`` the
    RMS gradient every tile's flow picture draws at full brightness
    (``strokes.strength_percentile(99)``).
    """

    normalizer: Normalizer | None = None
    peak: float | None = None
    unit_whole: np.ndarray | None = None
    strokes: StrokeStatistics | None = None
    flow_reference: float | None = None


# ----------------------------------------------------------------------------------------
# Planning


def plan_tiles(image: np.ndarray | NativeImage, config: PipelineConfig, needs: set[str],
               side: int, timer: Timer, meta: ScanMeta | None = None) -> TilePlan:
    """Plan the tiles of ``image``: grid, halo from the methods' reach, whole-image work.

    ``side`` 0 makes the whole image one tile. ``meta`` (the scan's
    ``ScanMeta``, if known) gives the automatic denoise strength its file's
    noise floor (bit depth, lossy format). A :class:`~sketchgrad.io.NativeImage`
    stays in its dtype (the noise estimate reads it strip by strip) unless the
    background is flattened, which makes a float32 image.
    """
    start = time.perf_counter()
    strength = config.strength
    estimate = strength is None and config.denoise != "none"
    guess = None
    if estimate and config.flatten_background == "auto":
        # The background check and the noise estimate both read the whole scan: run them
        # side by side; the estimate stands unless the scan is flattened (then it is
        # made again on the flattened image).
        with ThreadPoolExecutor(1) as pool:
            check = pool.submit(should_flatten, image, "auto")
            guess = resolve_strength(image, config.denoise, **file_noise_source(meta))
            flattened = check.result()
        start = timer.add("estimate_noise", start)
    else:
        flattened = should_flatten(image, config.flatten_background)
    if flattened:
        image = flatten_background(image)
        start = timer.add("flatten", start)
    height, width = image.shape[:2]
    side = side or max(height, width)
    if estimate:
        # the strength the denoiser would pick for the whole image, fixed for every tile
        strength = guess if guess is not None and not flattened else \
            resolve_strength(image, config.denoise, **file_noise_source(meta))
        start = timer.add("estimate_noise", start)
    reach = DENOISE_METHODS[config.denoise].reach_for(strength)
    denoised_whole = None
    pixels = height * width
    if reach is None and pixels > WHOLE_DENOISE_MAX_PIXELS:
        local = [name for name, entry in DENOISE_METHODS.items()
                 if entry.reach is not None and name != "none"]
        raise ParameterError(
            f"denoise={config.denoise!r} is not a local filter: it runs on the whole image, "
            f"and this one has {pixels / 1e6:.0f} million pixels (more than "
            f"{WHOLE_DENOISE_MAX_PIXELS // 1_000_000} million, where its memory would grow "
            f"with the scan); choose a denoiser that works tile by tile ({', '.join(local)})")
    if reach is None:
        # Not a local filter: denoise once, with the strength estimated above.
        denoised_whole = denoise(image, config.denoise, strength=strength)
        timer.add("denoise", start)
        reach = 0
    operator_reach = max(RELIEF_REACH, OPERATORS[config.operator].reach)
    if config.color == "stroke" and "hsv" in needs:
        operator_reach += STROKE_REACH
    flow = None
    if "strokes" in needs:
        from .strokes import flow_defaults
        from .strokes import reach as stroke_reach

        flow = flow_defaults((height, width))
        # the structure tensor's window (Scharr derivatives and a Gaussian of 3 px), and
        # for the flow picture's texture cells the directions one grain past the tile
        extra = flow["grain"] + 1 if "flow" in needs else 0
        operator_reach = max(operator_reach, stroke_reach() + extra)
    bands = [[TileBox(y, min(y + side, height), x, min(x + side, width))
              for x in range(0, width, side)]
             for y in range(0, height, side)]
    threads = min(os.cpu_count() or 1, sum(len(b) for b in bands))
    return TilePlan(image, config, needs, bands, reach + operator_reach + 1,  # +1 to spare
                    strength, denoised_whole, threads, flattened, flow=flow)


# ----------------------------------------------------------------------------------------
# Per tile (runs in worker threads)


def compute_tile(plan: TilePlan, box: TileBox, timer: Timer,
                 needs: set[str] | None = None,
                 dtype: _TileDtype = np.float32) -> ComputedTile:
    """Denoise, gradients and relief of one tile, computed with its halo and cropped to it.

    The magnitude is floored at ``ZERO_GRADIENT`` here, in the worker thread,
    when it will be normalized. With ``dtype`` uint8 (a run writing PNGs) the
    relief is kept as its 8-bit samples, as :func:`finish_tile` would write it.
    """
    needs = plan.needs if needs is None else needs
    height, width = plan.image.shape[:2]
    h = plan.halo
    py0, py1 = max(0, box.y0 - h), min(height, box.y1 + h)
    px0, px1 = max(0, box.x0 - h), min(width, box.x1 + h)
    crop = (slice(box.y0 - py0, box.y1 - py0), slice(box.x0 - px0, box.x1 - px0))
    t = time.perf_counter()
    if plan.denoised_whole is not None:
        den = plan.denoised_whole[py0:py1, px0:px1]
    else:
        den = denoise(np.ascontiguousarray(plan.image[py0:py1, px0:px1]),
                      plan.config.denoise, strength=plan.strength)
        t = timer.add("denoise", t)
    tile = ComputedTile(box)
    if "denoised" in needs:
        tile.denoised = np.ascontiguousarray(den[crop])
    if "field" in needs:
        full = gradient_field(den, plan.config.operator)
        # contiguous copies of the tile's part: NumPy's vector loops need them (a view's
        # arctan2 takes 60% longer), and a kept tile holds no halo
        tile.field = GradientField(np.ascontiguousarray(full.gx[crop]),
                                   np.ascontiguousarray(full.gy[crop]))
        if plan.config.color == "stroke" and "hsv" in needs:
            tile.padded = (den, full, crop)
        del full
        if "normalized" in needs:  # computed (and cached) here, in the worker thread
            floor_zero_gradients(tile.field.magnitude, in_place=True)
        t = timer.add("gradients", t)
    if "sketch" in needs:
        from .sketch import colour_relief, relief

        # grey: PNG-ready 8-bit samples straight from the relief's float bands
        lit = relief(den, dtype=dtype) if den.ndim == 2 else colour_relief(den)
        # a quarter of the memory when the tile waits for the second pass
        tile.sketch = np.ascontiguousarray(lit[crop]) if lit.dtype == dtype \
            else quantize(lit[crop], 8)
        t = timer.add("sketch", t)
    if "strokes" in needs:
        from .strokes import StrokeStatistics, stroke_field

        m = _flow_parameters(plan)["grain"] + 1 if "flow" in plan.needs else 0
        sy0, sy1 = max(py0, box.y0 - m), min(py1, box.y1 + m)
        sx0, sx1 = max(px0, box.x0 - m), min(px1, box.x1 + m)
        tile.strokes_core = (slice(box.y0 - sy0, box.y1 - sy0), slice(box.x0 - sx0, box.x1 - sx0))
        # the figures summed while the planes are in the cache; strength counts serve only
        # the flow picture's reference
        tile.stroke_statistics = StrokeStatistics(counts="flow" in plan.needs)
        if "flow" in plan.needs or dtype is np.float32:  # directions drawn or returned
            tile.strokes = stroke_field(den, window=(slice(sy0 - py0, sy1 - py0),
                                                     slice(sx0 - px0, sx1 - px0)),
                                        statistics=tile.stroke_statistics, core=tile.strokes_core)
        else:  # a streamed run without the flow picture needs the figures only
            tile.stroke_statistics.measure(den, core=crop)
        tile.strokes_origin = (sy0, sx0)
        timer.add("strokes", t)
    return tile


def _flow_parameters(plan: TilePlan) -> dict[str, Any]:
    """The plan's flow ``grain`` and ``length``: planned whenever "flow" is needed."""
    if plan.flow is None:
        raise RuntimeError("the tile plan needs the flow picture but holds no flow parameters")
    return plan.flow


def _unit(normalized: np.ndarray, method: str, peak: float | None) -> np.ndarray:
    """``to_unit`` of a tile; ``peak`` is the whole image's largest |value| (l2 divides by it)."""
    if NORMALIZE_METHODS[method].unit != "peak" or peak is None:
        # the tile's normalized values are ours alone: let to_unit work in place
        return to_unit(normalized, method, copy=False)
    # to_unit's peak rule divides by the largest |value|: give it the whole image's.
    flat = np.append(normalized.ravel(), np.float32(peak))
    return to_unit(flat, method)[:-1].reshape(normalized.shape)


def finish_tile(plan: TilePlan, scale: Scale, tile: ComputedTile, dtype: _TileDtype,
                timer: Timer) -> FinishedTile:
    """Normalize and colour a computed tile; ``dtype`` uint8 gives PNG-ready samples."""
    config = plan.config
    t = time.perf_counter()
    field = tile.field
    out = FinishedTile(tile.box, denoised=tile.denoised, field=field)
    unit = None
    if (field is not None or tile.magnitude is not None) and "normalized" in plan.needs:
        if scale.unit_whole is not None:
            unit = scale.unit_whole[tile.box.where]
        else:
            # floored in compute_tile; again if a kept tile let it go (the same bits)
            magnitude = tile.magnitude if tile.magnitude is not None else \
                floor_zero_gradients(cast(GradientField, field).magnitude, in_place=True)
            if scale.normalizer is not None:
                normalized = scale.normalizer.transform(magnitude)
            else:
                normalized = normalize(magnitude, config.normalize)
            del magnitude
            unit = _unit(normalized, config.normalize, scale.peak)
            del normalized
        if dtype is np.float32:
            out.normalized = unit
        elif "magnitude" in config.outputs:
            out.normalized = quantize(unit, 16)
        t = timer.add("normalize", t)
    if "hsv" in plan.needs and tile.padded is not None:
        # the stroke colouring reads the scan around each pixel: colour the padded tile
        # (its halo's strength is never shown) and crop
        den, padded_field, crop = tile.padded
        value = np.zeros(padded_field.gx.shape, np.float32)
        value[crop] = unit
        out.hsv = np.ascontiguousarray(stroke_color(padded_field, den, value,
                                                    dtype=dtype)[crop])
        t = timer.add("color", t)
    elif "hsv" in plan.needs and tile.hue is not None:  # kept as hue and magnitude
        out.hsv = hsv_color_of_hue(tile.hue, cast(np.ndarray, unit),
                                   cast(np.ndarray, tile.magnitude), dtype=dtype)
        t = timer.add("color", t)
    elif "hsv" in plan.needs:
        # "hsv" needs the field (stages_needed)
        out.hsv = apply_color(cast(GradientField, field), unit, tile.denoised,
                              color=config.color, target=config.color_target,
                              axial=config.axial, keep_hue=config.keep_hue, dtype=dtype)
        t = timer.add("color", t)
    if tile.sketch is not None:
        out.sketch = tile.sketch if dtype is np.float32 or tile.sketch.dtype == np.uint8 \
            else quantize(tile.sketch, 8)
    out.unit = unit
    if "flow" in plan.needs:
        from .strokes import flow_picture

        picture = flow_picture(tile.strokes, origin=tile.strokes_origin,
                               reference=scale.flow_reference,
                               **_flow_parameters(plan))[tile.strokes_core]
        out.flow = picture if dtype is np.float32 else quantize(picture, 8)
        del picture
        timer.add("flow", t)
    if dtype is np.float32 and tile.strokes is not None:
        # whole-image planes for process(); streaming needs none
        out.strokes = tile.strokes.crop(tile.strokes_core)
    return out


# ----------------------------------------------------------------------------------------
# Driving


#: FinishedTile stages a caller of ``TileEngine.run`` may decline (``keep``).
_DROPPABLE = frozenset(("denoised", "field", "normalized", "unit", "hsv", "sketch"))


class TileEngine:
    """Runs a :class:`TilePlan` in a thread pool; yields finished tiles band by band."""

    def __init__(self, plan: TilePlan, normalizer: Normalizer | None, timer: Timer) -> None:
        self.plan = plan
        self.scale = Scale(normalizer)
        self.timer = timer
        self.later = set(plan.needs)  # the stages the second pass computes (set by run)
        # whether the first pass keeps its tiles without their denoised scan (set by _fit)
        self._denoise_again = False

    def magnitude(self, box: TileBox) -> ComputedTile:
        """One tile's floored gradient magnitude only (a first pass that keeps nothing)."""
        return compute_tile(self.plan, box, self.timer, {"field", "normalized"})

    def ordered(self, pool: ThreadPoolExecutor, func: Callable[[_In], _Out],
                items: Iterable[_In]) -> Iterator[_Out]:
        """``pool.map`` with a bounded window, so only a few tiles are alive at once."""
        pending: deque[Future[_Out]] = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > 2 * self.plan.threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def _kept_bytes(self, dtype: _TileDtype, denoised: bool = True) -> int:
        """Bytes the first pass's tiles would take if kept for the second.

        ``denoised=False``: kept without their denoised scan (made again when needed).
        """
        image = self.plan.image
        height, width = image.shape[:2]
        planes = image.shape[2] if image.ndim == 3 else 1
        # gx and gy (the magnitude is let go once measured, and made again), or the hsv
        # colouring's hue and the magnitude (as many bytes: ``_fit``'s hue_only); the denoised
        # scan; the relief (8-bit samples in a run that writes PNGs); for the stroke
        # colouring, the padded denoised tile; the stroke directions (angle, coherence,
        # energy) when the second pass needs them
        kept = int(denoised and "denoised" in self.plan.needs)
        if self.plan.config.color == "stroke" and "hsv" in self.plan.needs:
            kept += 1
        per_pixel = 8 * ("field" in self.plan.needs) + 4 * planes * kept
        if "sketch" in self.plan.needs:
            per_pixel += planes * (4 if dtype is np.float32 else 1)
        per_pixel += 12 * ("strokes" in self.later)
        return int(per_pixel * height * width)

    def _fits_scale(self) -> bool:
        """Whether the normalization needs the whole image's magnitude first."""
        entry = NORMALIZE_METHODS[self.plan.config.normalize]
        return ("normalized" in self.plan.needs and not self.plan.single
                and (self.scale.normalizer is None or entry.unit == "peak"))

    def _fit(self, pool: ThreadPoolExecutor, dtype: _TileDtype,
             hue_only: bool = False) -> dict[TileBox, ComputedTile]:
        """First pass: the whole image's scale and stroke figures from every tile; kept tiles.

        ``hue_only``: a kept tile holds the hsv colouring's hue and the magnitude
        instead of its field (the second pass reads nothing else of it).
        """
        method = self.plan.config.normalize
        entry = NORMALIZE_METHODS[method]
        scaling = self._fits_scale()
        strokes = "strokes" in self.plan.needs
        # a single tile is kept whatever its size: it is the second pass's only tile
        keep = self.plan.single or self._kept_bytes(dtype) <= KEEP_BYTES
        # Else, when only that way they fit (a colour scan's denoised tile is 12 bytes a
        # pixel), without the denoised scan: the second pass denoises again, and makes
        # none of the other stages again (the stroke colouring's padded tile holds the
        # denoised scan: then nothing is kept).
        self._denoise_again = not keep and "denoised" in self.plan.needs and not (
            self.plan.config.color == "stroke" and "hsv" in self.plan.needs) and \
            self._kept_bytes(dtype, denoised=False) <= KEEP_BYTES
        keep = keep or self._denoise_again
        kept: dict[TileBox, ComputedTile] = {}
        whole = None
        fitting = scaling and self.scale.normalizer is None and entry.fits_in_parts
        normalizer = self.scale.normalizer
        if fitting:
            normalizer = self.scale.normalizer = Normalizer(method)
        elif scaling and self.scale.normalizer is None:  # a registered method: on the whole
            whole = np.empty(self.plan.image.shape, np.float32)
        if strokes:
            from .strokes import DEFAULT_SIGMA, StrokeStatistics

            statistics = self.scale.strokes = StrokeStatistics(
                sigma=DEFAULT_SIGMA, operator="scharr", counts="flow" in self.plan.needs)
        top = -math.inf
        measured = ({"field", "normalized"} if scaling else set()) | \
            ({"strokes"} if strokes else set())
        if keep:  # every stage, but the denoised scan when it is made again
            measured = self.plan.needs - {"denoised"} if self._denoise_again else self.plan.needs

        def first(box: TileBox) -> ComputedTile:
            tile = compute_tile(self.plan, box, self.timer, measured, dtype)
            if fitting and normalizer is not None and tile.field is not None:
                # the histogram counted here, in the worker thread; added in order below
                t = time.perf_counter()
                tile.measurement = normalizer.measure(tile.field.magnitude)
                self.timer.add("normalize", t)
            if hue_only and keep and tile.field is not None and "normalized" in measured:
                # the hue made here rather than band by band in the second pass (the same
                # values), so that the magnitude (floored in compute_tile) is kept, not
                # made again, in the memory gx and gy took
                t = time.perf_counter()
                tile.hue = orientation_hue(tile.field, axial=self.plan.config.axial)
                tile.magnitude = tile.field.magnitude
                tile.field = None
                self.timer.add("color", t)
            return tile

        for tile in self.ordered(pool, first, self.plan.boxes):
            t = time.perf_counter()
            if scaling:
                if tile.field is None and tile.magnitude is None:  # "field" is measured
                    raise RuntimeError("the first pass computed no gradient field")
                # floored in compute
                magnitude = tile.magnitude if tile.magnitude is not None else \
                    cast(GradientField, tile.field).magnitude
                if fitting and normalizer is not None:
                    normalizer.add(cast(Measurement, tile.measurement))
                    tile.measurement = None
                elif whole is not None:
                    whole[tile.box.where] = magnitude
                if entry.unit == "peak":  # only l2's display rule reads the largest value
                    top = max(top, float(magnitude.max()))
                del magnitude
                if keep and tile.field is not None:  # a third of the field's memory; the
                    # second pass makes it again
                    tile.field = GradientField(tile.field.gx, tile.field.gy)
                t = self.timer.add("normalize", t)
            if strokes:
                if tile.stroke_statistics is None:  # "strokes" is among the stages measured
                    raise RuntimeError("the first pass computed no stroke directions")
                statistics = self.scale.strokes = statistics.merge(tile.stroke_statistics)
                tile.stroke_statistics = None
                self.timer.add("strokes", t)
                if not keep or "strokes" not in self.later:
                    tile.strokes = None
            if keep:
                kept[tile.box] = tile
            del tile
        t = time.perf_counter()
        if strokes and "flow" in self.plan.needs:
            self.scale.flow_reference = statistics.strength_percentile(99.0)
        if whole is not None:
            normalized = normalize(whole, method)
            del whole
            self.scale.unit_whole = to_unit(normalized, method, copy=False)
        elif scaling and entry.unit == "peak" and normalizer is not None:
            # peak units come with a normalizer: given, or fitted (fits_in_parts) above
            probe = normalizer.transform(np.array([top], np.float32))
            self.scale.peak = float(np.abs(probe).max())
        self.timer.add("normalize", t)
        return kept

    def run(self, dtype: _TileDtype, keep: set[str] | None = None,
            per_tile: Callable[[FinishedTile], Any] | None = None
            ) -> Iterator[list[FinishedTile]]:
        """Yield each band of finished tiles, top to bottom.

        With a global scale to fit, or stroke figures to sum, a first pass
        computes every tile's magnitude and stroke directions; the second pass
        reuses the first pass's tiles when they fit in ``KEEP_BYTES`` (8.5 MP,
        outputs hsv: 102 MB), or when they fit without their denoised scan
        (then only the denoise is done again), and computes them again
        otherwise, so memory stays bounded. ``scale.strokes`` holds the whole image's stroke figures
        once the first band is out. ``keep`` names the :class:`FinishedTile`
        stages the caller reads (``"field"``, ``"normalized"``, ``"unit"``,
        ...); the others are dropped as each tile is finished, so a band holds
        only what is written (None keeps all). ``per_tile``, if given, is called
        with each finished tile in the worker thread that made it, before the
        other stages are dropped (the preview's block means), and what it returns
        is kept as the tile's ``extra``.
        """
        plan = self.plan
        kept: dict[TileBox, ComputedTile] = {}
        # Per-pixel stroke directions are needed after the first pass only to draw the
        # flow picture or to fill process()'s planes; the figures are summed before.
        self.later = set(plan.needs)
        if "flow" not in plan.needs and dtype is not np.float32:
            self.later.discard("strokes")
        with ThreadPoolExecutor(plan.threads) as pool:
            if self._fits_scale() or "strokes" in plan.needs:
                # A streamed run that writes the hsv colouring and not the field keeps the
                # hue and the magnitude (``_fit``'s hue_only): no magnitude made twice.
                hue_only = (dtype is not np.float32 and per_tile is None and keep is not None
                            and "field" not in keep and "hsv" in plan.needs
                            and plan.config.color == "hsv")
                kept = self._fit(pool, dtype, hue_only)

            def second(box: TileBox) -> FinishedTile:
                tile = kept.pop(box, None)
                if tile is None:
                    tile = compute_tile(plan, box, self.timer, self.later, dtype)
                elif self._denoise_again:  # kept without it: the same bits, made again
                    tile.denoised = compute_tile(plan, box, self.timer, {"denoised"},
                                                 dtype).denoised
                done = finish_tile(plan, self.scale, tile, dtype, self.timer)
                if per_tile is not None:
                    done.extra = per_tile(done)
                for stage in _DROPPABLE - (_DROPPABLE if keep is None else keep):
                    setattr(done, stage, None)  # a padded gx/gy or a float plane: let it go
                return done

            for band in plan.bands:
                yield list(self.ordered(pool, second, band))

    def measurements(self, normalizer: Normalizer) -> Iterator[Measurement]:
        """Every tile's floored gradient magnitude measured for ``normalizer``, in tile order.

        Each tile is computed and measured in a worker thread, a few at a time;
        adding the results in the order given makes ``partial_fit``'s statistics.
        """
        def measure(box: TileBox) -> Measurement:
            return normalizer.measure(cast(GradientField, self.magnitude(box).field).magnitude)

        with ThreadPoolExecutor(self.plan.threads) as pool:
            yield from self.ordered(pool, measure, self.plan.boxes)
