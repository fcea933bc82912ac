"""Cleaning scans before gradients are measured.

``DENOISE_METHODS`` maps a name to a :class:`DenoiseMethod` entry (the public
function ``f(image, *, strength=None)``, its one-line doc, its reach in pixels
and its automatic strength); ``denoise`` validates the name and dispatches, and
:func:`register_denoiser` adds a method. Every method takes a float image
in [0, 1], grey (H, W) or RGB (H, W, 3), of any size down to 1x1, and returns a
new float32 array of the same shape in [0, 1]. ``strength=None`` means the
strength is derived from the image's noise level (:func:`estimate_noise`);
``strength=0`` returns the image unchanged, as do intensity strengths
(bilateral, tv, nl_means, wavelet) under ``NEGLIGIBLE_STRENGTH`` = 1e-6. What
``strength`` measures is method-specific and stated in each function.

Colour (H, W, 3), so that colours do not shift and a grey scan stored as RGB
(three equal channels) gives the grey result in every channel:

- gaussian, median, tv, wavelet: each channel on its own, with the same
  strength (a weighted mean or the median of a channel's own neighbours);
- bilateral: one weight per neighbour for all three channels, from the mean
  absolute channel difference, so every output colour is a weighted mean of
  input colours;
- nl_means: as OpenCV's coloured NL-means, split into luma and chroma: the
  BT.601 luma ``Y`` is denoised with h = ``strength``, the two colour
  differences ``B - Y`` and ``R - Y`` together with h =
  ``NL_MEANS_CHROMA`` x ``strength`` (chroma noise of scans and JPEGs is
  stronger than luma noise, and the eye forgives chroma smoothing more).

The automatic strength of a colour image is derived from
:func:`estimate_noise` of the image (the mean of its channels' estimates),
except nl_means, whose h is derived from the noise of the luma it denoises.

Speed on an 8-megapixel grey scan (2 cores, automatic strength, which includes
a 0.1 s noise estimate): none 0.01 s, median 0.2 s, gaussian 0.25 s, bilateral
0.5 s, wavelet 0.9 s, nl_means 3.6 s (scikit-image's ``denoise_nl_means`` with
``fast_mode`` and the same windows: 9.4 s), tv 5.4 s. ``scripts/benchmark.py``
measures them again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import block_means, rgb_luma
from .channels import luma
from .errors import ParameterError, choose

if TYPE_CHECKING:
    from .io import Scan, ScanMeta
from .registry import add_entry, check_reach, first_doc_line, registered_doc

__all__ = [
    "DENOISE_METHODS",
    "DenoiseMethod",
    "register_denoiser",
    "denoise",
    "estimate_noise",
    "noise_floor",
    "scan_noise",
    "file_noise_source",
    "should_flatten",
    "background_unevenness",
    "UNEVEN_BACKGROUND",
    "LOSSY_NOISE_FLOOR",
    "resolve_strength",
    "denoise_none",
    "denoise_gaussian",
    "denoise_median",
    "denoise_bilateral",
    "denoise_tv",
    "denoise_nl_means",
    "denoise_wavelet",
    "flatten_background",
]

# Median absolute deviation of N(0, 1): Phi^-1(3/4).
_MAD_TO_SIGMA = 0.6744897501960817


def _as_image(image: ArrayLike, name: str = "image", *,
              strips: bool = False) -> NDArray[np.float32]:  # or a NativeImage with strips
    """The input rule (:func:`sketchgrad.io.as_image`): float32 (H, W) or (H, W, 3) in [0, 1].

    With ``strips``, a grey ``io.NativeImage`` (a scan kept in its file's dtype)
    is returned as it is, for a caller that reads it a strip of rows at a time.
    """
    from .io import NativeImage, as_image

    if strips and isinstance(image, NativeImage) and image.ndim == 2:
        return cast("NDArray[np.float32]", image)  # read a strip at a time: float32 rows
    return as_image(image, name=name)


#: Intensity strengths below this (far under one 16-bit step, 1.5e-5) change nothing.
NEGLIGIBLE_STRENGTH = 1e-6


def _flush_tiny(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """Set values under 1e-30 (subnormal floats, far below any grey level) to 0.

    scikit-image's TV and wavelet code square such values into 0 and divide by them.
    """
    tiny = (image != 0) & (np.abs(image) < np.float32(1e-30))
    if tiny.any():
        image = np.where(tiny, np.float32(0), image)
    return image


def _finish(out: ArrayLike, image: NDArray[Any]) -> NDArray[np.float32]:
    """A new float32 array in [0, 1] of the input's shape, never the caller's array."""
    result = np.asarray(out, dtype=np.float32).reshape(image.shape)
    if np.shares_memory(result, image):
        result = result.copy()
    return np.clip(result, 0.0, 1.0, out=result)


#: Noise floor (sigma, [0, 1] scale) added for lossy compression (JPEG, lossy WebP): one
#: 8-bit level. Re-encoding drawings measures JPEG's own error at 0.7 levels RMS at
#: quality 95, 1.4 at 85 and 1.9-2.6 at 75, so one level is a floor most files exceed.
LOSSY_NOISE_FLOOR = 1.0 / 255.0

#: Formats whose pixels come from a lossy codec (``ScanMeta.format``).
LOSSY_FORMATS = frozenset({"JPEG", "MPO", "WEBP"})


def noise_floor(bit_depth: int | None, lossy: bool = False) -> float:
    """The least noise a stored scan has: quantisation, and a lossy codec's error.

    Rounding to ``bit_depth`` bits leaves a uniform error of one step
    ``q = 1 / (2**bit_depth - 1)``, whose standard deviation is
    ``q / sqrt(12)`` (8 bits: 0.00113; 16 bits: 4.4e-6; 1 bit: 0.289). A lossy
    file (JPEG) has at least ``LOSSY_NOISE_FLOOR`` (one 8-bit level) on top,
    added in quadrature. ``bit_depth=None`` (not known, e.g. a float image)
    counts no quantisation.

    Examples
    --------
    >>> round(noise_floor(8), 6), round(noise_floor(8, lossy=True), 6), round(noise_floor(1), 4)
    (0.001132, 0.004082, 0.2887)
    >>> noise_floor(None)
    0.0
    """
    quantisation = 0.0
    if bit_depth is not None:
        bits = int(bit_depth)
        if bits < 1:
            raise ParameterError(f"bit_depth={bit_depth!r} must be a whole number of bits >= 1")
        if bits < 32:  # float samples (32, 64 bits) are not quantised on a grid
            quantisation = 1.0 / (2.0 ** bits - 1.0) / np.sqrt(12.0)
    lossy_part = LOSSY_NOISE_FLOOR if lossy else 0.0
    return float(np.hypot(quantisation, lossy_part))


def _dtype_bits(image: ArrayLike) -> int | None:
    """Bits per sample the array's dtype implies (None for floats: not known)."""
    from .io import NativeImage

    kind = (image.samples if isinstance(image, NativeImage) else np.asarray(image)).dtype
    return {np.dtype(bool): 1, np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(kind)


def estimate_noise(image: ArrayLike, *, bit_depth: int | None = None,
                   lossy: bool | None = None) -> float:
    """Estimate the standard deviation of Gaussian noise in an image, never below its floor.

    Donoho's estimator, as scikit-image's ``estimate_sigma``: the median
    absolute deviation of the finest diagonal wavelet (db2) coefficients,
    divided by 0.6745, computed in float32 -- over the coefficients whose 4x4
    support holds no clipped pixel (exactly 0 or 1). Saturated paper and
    clipped ink carry no noise (the scanner cut it off), and on a page that is
    70 % pure white they would make the median 0. Where noise can be measured
    this equals ``estimate_sigma`` on the unclipped part of the page.

    The result is at least :func:`noise_floor` of the scan's bit depth and
    compression: quantisation ``1 / (2**bits - 1) / sqrt(12)`` and, for a lossy
    file, one 8-bit level (``LOSSY_NOISE_FLOOR``). So a real scan whose noise
    cannot be measured (a 1-bit scan, a page clipped everywhere, paper that
    quantised to one level) still gets a smoothing strength.

    An RGB image gives the mean of its channels' estimates; a 1xN or Nx1 image
    uses the 1-D transform; a single pixel, or a float image with every
    coefficient clipped and no known bit depth, measures 0 (then the floor).

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, 3) image, read by :func:`sketchgrad.as_image` (uint8,
        uint16, bool or floats in [0, 1]).
    bit_depth : int, optional
        Bits per sample of the file the image came from (``ScanMeta.bit_depth``).
        Default: from the dtype (bool 1, uint8 8, uint16 16); for a float image
        1 if every pixel is 0 or 1 (a binary image), else unknown (no floor).
    lossy : bool, optional
        Whether the file was lossily compressed (JPEG); default False.

    Returns
    -------
    float
        The noise sigma on the [0, 1] intensity scale.

    See Also
    --------
    scan_noise : the same, with the bit depth and format of a loaded scan.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.full((256, 256), 0.5, np.float32) + rng.normal(0, 0.05, (256, 256))
    >>> round(estimate_noise(noisy.astype(np.float32)), 2)
    0.05
    >>> page = np.ones((64, 64), np.float32); page[20:40, 30] = 0   # clipped paper and ink
    >>> round(estimate_noise(page, bit_depth=8), 6)
    0.001132
    """
    if bit_depth is None:
        bit_depth = _dtype_bits(image)
    image = _as_image(image, strips=True)  # a native scan is read strip by strip
    if bit_depth is None and image.size and _binary(image):
        bit_depth = 1
    floor = noise_floor(bit_depth, bool(lossy))
    if image.ndim == 3:
        first, *rest = (_noise_plane(image[..., c]) for c in range(3))
        # the mean taken from the first channel's: equal channels (a grey image as RGB)
        # give exactly the grey estimate, where (a + a + a) / 3 may round off it
        measured = first + sum(other - first for other in rest) / 3
    else:
        measured = _noise_plane(image)
    return max(measured, floor)


def _binary(image: np.ndarray) -> bool:
    """True if every pixel is exactly 0 or 1."""
    return bool(np.all((image == 0) | (image == 1)))


def scan_noise(scan: Scan) -> float:
    """:func:`estimate_noise` of a loaded :class:`~sketchgrad.io.Scan`, with its file's floor.

    The bit depth and format come from ``scan.meta`` (``ScanMeta.bit_depth``;
    lossy when ``ScanMeta.format`` is JPEG, MPO or WebP -- WebP may be lossless,
    and then the floor is a level too high, which only smooths a little).

    Examples
    --------
    >>> from sketchgrad.io import Scan, ScanMeta
    >>> meta = ScanMeta(source="page.jpg", size=(8, 8), mode="L", bit_depth=8, format="JPEG")
    >>> round(scan_noise(Scan(np.ones((8, 8), np.float32), meta)), 6)
    0.004082
    """
    return estimate_noise(scan.image, **file_noise_source(getattr(scan, "meta", None)))


def file_noise_source(meta: ScanMeta | None) -> dict[str, Any]:
    """``bit_depth`` and ``lossy`` of a scan's file, as :func:`estimate_noise` takes them.

    ``meta`` is a :class:`~sketchgrad.io.ScanMeta` (lossy when its format is
    JPEG, MPO or WebP) or None (nothing known: an empty dict), so that
    ``resolve_strength(image, method, **file_noise_source(meta))`` works for both.

    Examples
    --------
    >>> from sketchgrad.io import ScanMeta
    >>> file_noise_source(ScanMeta(source="p.jpg", size=(8, 8), mode="L", bit_depth=8,
    ...                            format="JPEG"))
    {'bit_depth': 8, 'lossy': True}
    >>> file_noise_source(None)
    {}
    """
    if meta is None:
        return {}
    return {"bit_depth": meta.bit_depth,
            "lossy": (getattr(meta, "format", None) or "").upper() in LOSSY_FORMATS}


#: Rows of the image per strip of the noise estimate's wavelet transform (even): a
#: strip's working arrays (2.6 MB for a 3500-pixel row) stay in a core's cache.
NOISE_STRIP = 64


def _noise_plane(plane: NDArray[np.float32]) -> float:
    if plane.size < 2:
        return 0.0
    if min(plane.shape) == 1:
        import pywt  # (0.08 s to import: only for a single row or column)

        line = np.asarray(plane).ravel()
        detail = np.abs(pywt.dwt(line, "db2", mode="symmetric")[1])
        clipped = pywt.dwt(_clipped(line), _box_wavelet(), mode="symmetric")[1]
        detail = detail[clipped < 0.5]
    else:
        detail = _abs_diagonal_detail(plane)
    if detail.size == 0:  # every coefficient touches a clipped pixel: nothing to measure
        return 0.0
    return _median_in_place(detail) / _MAD_TO_SIGMA


def _clipped(values: np.ndarray) -> np.ndarray:
    """1.0 where a pixel is clipped (exactly 0 or 1), else 0.0 (float32)."""
    return ((values <= 0) | (values >= 1)).astype(np.float32)


def _box_wavelet() -> Any:  # a pywt.Wavelet (PyWavelets ships no types)
    """A filter bank of four ones: its "detail" counts the pixels in each coefficient's support."""
    import pywt

    ones = [1.0, 1.0, 1.0, 1.0]
    return pywt.Wavelet("box4", filter_bank=[ones, ones, ones, ones])


#: db2's decomposition high-pass filter (pywt's ``Wavelet("db2").dec_hi``), in float32 as
#: pywt applies it to float32 data: Daubechies' scaling filter (1 + s, 3 + s, 3 - s, 1 - s)
#: / (4 sqrt 2), s = sqrt 3, turned into its quadrature mirror.
_DB2_HIGH = (np.array([-(1 + math.sqrt(3)), 3 + math.sqrt(3), -(3 - math.sqrt(3)),
                       1 - math.sqrt(3)]) / (4 * math.sqrt(2))).astype(np.float32)


class _Scratch:
    """One thread's working arrays, reused from strip to strip (flat, viewed at each size).

    Fresh memory costs a page fault per 4 kB on first touch (about 2 us each on
    a virtual machine): an 8.5 MP noise estimate that allocated its strips'
    planes anew touched 50 MB, 13,000 faults, for 30 MB of work.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> NDArray[Any]:
        size = math.prod(shape)
        flat = self._arrays.get(name)
        if flat is None or flat.size < size:
            flat = self._arrays[name] = np.empty(size, dtype)
        return flat[:size].reshape(shape)


def _db2_band(strip: NDArray[np.float32],
              scratch: _Scratch) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
    """A float32 strip's level-1 db2 diagonal band and, per coefficient, its clipped support.

    The band (HH) as pywt's ``dwt2`` gives it, and whether each coefficient's
    4x4 support holds a clipped pixel (exactly 0 or 1). pywt's
    ``dwt(..., mode="symmetric")`` gives ``(n + 3) // 2`` coefficients along
    an axis of n samples; coefficient k is ``sum_j h[j] a[2k + 1 - j]``
    (``h = _DB2_HIGH``, j = 0..3), the samples extended by mirroring with the
    edge sample repeated. Here the strip is mirrored so (2 samples before, 3
    after: OpenCV's ``BORDER_REFLECT``), filtered at every pixel with the
    reversed taps in both directions by OpenCV, and every second row and
    column kept from the fourth: coefficient k is the filter's output at
    mirrored sample ``2k + 3``. A third of the time of NumPy products of
    strided views; equal to pywt's within float32 rounding (each orders and
    fuses the multiply-adds its own way). The clipped pixels of the mirrored
    strip are dilated with a 4x4 square anchored as the filter, and sampled
    alike. Both are views of ``scratch``'s arrays, valid until its next use.
    """
    import cv2

    height, width = strip.shape
    rows, cols = (height + 3) // 2, (width + 3) // 2
    size = (height + 5, width + 5)
    padded = cv2.copyMakeBorder(strip, 2, 3, 2, 3, cv2.BORDER_REFLECT,
                                dst=scratch.get("padded", size, np.float32))
    taps = _DB2_HIGH[::-1].copy()  # OpenCV correlates: the convolution's taps reversed
    full = cv2.sepFilter2D(padded, cv2.CV_32F, taps, taps, anchor=(3, 3),
                           dst=scratch.get("filtered", size, np.float32))
    clipped = np.less_equal(padded, 0, out=scratch.get("clipped", size, np.bool_))
    clipped |= np.greater_equal(padded, 1, out=scratch.get("bright", size, np.bool_))
    touched = cv2.dilate(clipped.view(np.uint8), np.ones((4, 4), np.uint8), anchor=(3, 3),
                         dst=scratch.get("touched", size, np.uint8))
    pick = (slice(3, 3 + 2 * rows, 2), slice(3, 3 + 2 * cols, 2))
    return cast("NDArray[np.float32]", full[pick]), touched[pick].view(np.bool_)


def _abs_diagonal_detail(plane: np.ndarray) -> np.ndarray:
    """|HH| of pywt's level-1 ``dwt2(plane, "db2", mode="symmetric")`` without clipped support.

    The coefficients whose 4x4 support (the db2 filters span 4 samples) holds
    a pixel at exactly 0 or 1 are left out. The diagonal band alone is
    computed (:func:`_db2_band`; pywt makes all four bands, in three times
    the time). In strips of ``NOISE_STRIP`` rows, each with 4 rows of the
    image above and below, so only the diagonal band (a quarter of the pixels)
    is held: the same values, bit for bit, as the whole image at once. On two
    threads, each going down its own half of the strips with working arrays
    it reuses; the coefficients kept are then gathered to the front of the
    band, in place.
    """
    height, width = plane.shape
    rows, cols = (height + 3) // 2, (width + 3) // 2  # pywt's length for db2: (n + 3) // 2
    out = np.empty((rows, cols), np.float32)
    keep = np.empty((rows, cols), bool)
    halo = 4

    def strip_detail(start: int, scratch: _Scratch) -> None:
        stop = min(height, start + NOISE_STRIP)
        low = max(0, start - halo)
        # a native scan converts this strip only
        strip = np.asarray(plane[low:min(height, stop + halo)], np.float32)
        if min(strip.shape) < 4:  # mirrored more than once: pywt's own extension
            import pywt

            diagonal = pywt.dwt2(strip, "db2", mode="symmetric")[1][2]
            touched = pywt.dwt2(_clipped(strip), _box_wavelet(), mode="symmetric")[1][2] > 0.5
        else:
            diagonal, touched = _db2_band(strip, scratch)
        first, last = start // 2, rows if stop == height else stop // 2
        np.abs(diagonal[first - low // 2:last - low // 2], out=out[first:last])
        np.logical_not(touched[first - low // 2:last - low // 2], out=keep[first:last])

    def strips(starts: range) -> None:
        scratch = _Scratch()
        for start in starts:
            strip_detail(start, scratch)

    starts = range(0, height, NOISE_STRIP)
    if min(len(starts), os.cpu_count() or 1) > 1:
        # Strips write rows of their own: two threads (NumPy and OpenCV release the GIL)
        # halve the estimate that every automatic-strength run waits for.
        half = (len(starts) + 1) // 2
        with ThreadPoolExecutor(1) as pool:
            lower = pool.submit(strips, starts[half:])
            strips(starts[:half])
            lower.result()
    else:
        strips(starts)
    if keep.all():
        return out.reshape(-1)
    # gathered row band by row band to the front of `out` (never past the rows still
    # to be read): no second band-sized array
    flat, kept = out.reshape(-1), keep.reshape(-1)
    step = max(1, (1 << 18) // max(cols, 1)) * cols
    count = 0
    for top in range(0, flat.size, step):
        part = flat[top:top + step][kept[top:top + step]]
        flat[count:count + part.size] = part
        count += part.size
    return flat[:count]


def _median_in_place(values: np.ndarray) -> float:
    """``np.median(values)`` of a 1-D array that may be reordered (no sorted copy).

    Values >= 0 in float32 (the coefficients' sizes), many of them: selected
    by the top bits of the floats (:func:`_middle_non_negative`), an O(n)
    count instead of a partition of all of them.
    """
    half = values.size // 2
    if values.dtype == np.float32 and values.size >= _RADIX_MIN and values.flags.c_contiguous:
        low, high = _middle_non_negative(values)
        return float(high) if values.size % 2 else float(np.mean(np.array([low, high], np.float32)))
    if values.size % 2:
        values.partition(half)
        return float(values[half])
    values.partition([half - 1, half])
    return float(np.mean(values[half - 1:half + 1]))


#: Values from which :func:`_median_in_place` selects by the floats' top bits.
_RADIX_MIN = 1 << 16
#: float32 bits >> 15 keep the sign (0 here), the exponent and 8 mantissa bits.
_RADIX_SHIFT = 15


def _middle_non_negative(values: NDArray[np.float32]) -> tuple[float, float]:
    """The values of rank ``n // 2 - 1`` and ``n // 2`` (0-based) of float32 values >= 0.

    Non-negative floats (+0, no -0 or NaN) sort as their bit patterns read as
    integers: one count of the values per bin of their top bits finds the
    bins that hold the two ranks, and only those bins' values are partitioned
    (about 6 ms for 2 million values, against 14-29 ms for a partition of
    them all). The top bits (16) are kept as uint16 and counted a cache-sized
    run at a time: no temporary of 8 bytes a value (what ``np.bincount`` reads)
    is made for all of them. The two ranks' values are picked from one
    selection when they share a bin (nearly always).
    """
    bins = 1 << (31 - _RADIX_SHIFT)
    top = np.right_shift(values.view(np.uint32), _RADIX_SHIFT,
                         out=np.empty(values.size, np.uint16), casting="unsafe")
    counts = np.zeros(bins, np.int64)
    for start in range(0, top.size, _RADIX_RUN):
        counts += np.bincount(top[start:start + _RADIX_RUN], minlength=bins)
    cumulative = np.cumsum(counts)
    half = values.size // 2
    picked = []
    selected: dict[int, np.ndarray] = {}
    for rank in (max(half - 1, 0), half):
        chosen = int(np.searchsorted(cumulative, rank, side="right"))
        below = int(cumulative[chosen - 1]) if chosen else 0
        members = selected.get(chosen)
        if members is None:
            members = selected[chosen] = values[top == chosen]
        members.partition(rank - below)
        picked.append(float(members[rank - below]))
    return picked[0], picked[1]


#: Values counted per update of :func:`_middle_non_negative`'s bins.
_RADIX_RUN = 1 << 18


def resolve_strength(image: ArrayLike, method: str, strength: float | None = None, *,
                     bit_depth: int | None = None, lossy: bool | None = None) -> float:
    """The strength ``denoise(image, method, strength=strength)`` will use.

    ``strength=None`` gives the automatic strength derived from
    :func:`estimate_noise` of the whole image (so a caller that denoises tiles
    can fix it once); a number is validated and returned. ``bit_depth`` and
    ``lossy`` describe the file the image came from (``ScanMeta.bit_depth``,
    a JPEG) and set the noise floor (see :func:`estimate_noise`); a caller
    with the scan's meta should give them, so that the strength used on a
    clean scan is never zero.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + rng.normal(0, 0.05, (128, 128))).astype(np.float32)
    >>> round(resolve_strength(noisy, "nl_means"), 2), resolve_strength(noisy, "median", 3)
    (0.06, 3.0)
    """
    choose(DENOISE_METHODS, method, "method")
    if method == "none":
        return 0.0
    if bit_depth is None:
        bit_depth = _dtype_bits(image)  # before the conversion to float32 loses it
    return _auto(_as_image(image, strips=True), strength, method, bit_depth=bit_depth, lossy=lossy)


def _auto(image: NDArray[np.float32], strength: float | None, method: str, *,
          bit_depth: int | None = None, lossy: bool | None = None) -> float:
    if strength is None:
        entry = DENOISE_METHODS[method]
        if image.ndim == 3 and entry.noise_from_luma:
            image = luma(image)
        noise = estimate_noise(image, bit_depth=bit_depth, lossy=lossy)
        return float(entry.strength_from_noise(noise))
    return _non_negative(strength, "strength", "a finite number >= 0 (or None to estimate it "
                         "from the image)")


def _non_negative(value: Any, name: str, rule: str) -> float:
    """``value`` as a float if it is a finite number >= 0, else a ParameterError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} must be {rule}") from None
    if not (np.isfinite(number) and number >= 0):
        raise ParameterError(f"{name}={number!r} must be {rule}")
    return number


def denoise_none(image: ArrayLike, *,
                 strength: float | None = None) -> NDArray[np.float32]:
    """Return the image as a new float32 array in [0, 1]; ``strength`` is ignored.

    Examples
    --------
    >>> denoise_none(np.array([[0.2, 1.0]])).tolist()
    [[0.20000000298023224, 1.0]]
    >>> denoise_none(np.array([[51, 255]], np.uint8)).tolist()  # the input rule: /255
    [[0.20000000298023224, 1.0]]
    """
    image = _as_image(image)
    return _finish(image, image)


def denoise_gaussian(image: ArrayLike, *,
                     strength: float | None = None) -> NDArray[np.float32]:
    """Gaussian blur; ``strength`` is the kernel's sigma in pixels.

    With ``strength=None`` the sigma is ``clip(10 * noise, 0.5, 2)`` where
    ``noise`` is :func:`estimate_noise`: thin pen strokes survive at the noise
    levels of scans (sigma 0.5 px for noise 0.05). Uses OpenCV, reflected borders.

    Examples
    --------
    >>> img = np.zeros((15, 15), np.float32); img[7, 7] = 1
    >>> out = denoise_gaussian(img, strength=1.0)
    >>> round(float(out.sum()), 4), out.dtype
    (1.0, dtype('float32'))
    """
    import cv2

    image = _as_image(image)
    sigma = _auto(image, strength, "gaussian")
    if sigma == 0:
        return _finish(image, image)
    out = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma,
                           borderType=cv2.BORDER_REFLECT_101)
    return _finish(out, image)


def denoise_median(image: ArrayLike, *,
                   strength: float | None = None) -> NDArray[np.float32]:
    """Median filter; ``strength`` is the radius in pixels (window 2r+1, rounded).

    With ``strength=None`` the radius is 1 (3x3) for noise under 0.1, else 2.
    Radii 1 and 2 use OpenCV on float32 (replicated border); larger radii use
    SciPy (reflected border), also in float32.

    Examples
    --------
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
    >>> float(denoise_median(img, strength=1).max())
    0.0
    """
    image = _as_image(image)
    radius = int(round(_auto(image, strength, "median")))
    if radius <= 0:
        return _finish(image, image)
    if radius <= 2:
        import cv2

        # OpenCV needs the window inside the image; pad thin images by replication.
        pad = max(0, radius - min(image.shape[:2]) + 1)
        padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        out = cv2.medianBlur(padded, 2 * radius + 1)
        out = out[pad:pad + image.shape[0], pad:pad + image.shape[1]]
        return _finish(np.ascontiguousarray(out), image)
    from scipy.ndimage import median_filter

    size = (2 * radius + 1,) * 2 + ((1,) if image.ndim == 3 else ())
    return _finish(median_filter(image, size=size, mode="reflect"), image)


#: Spatial sigma (pixels) of the bilateral filter.
BILATERAL_SPACE_SIGMA = 3.0


def denoise_bilateral(image: ArrayLike, *,
                      strength: float | None = None) -> NDArray[np.float32]:
    """Edge-preserving bilateral filter; ``strength`` is the range (intensity) sigma.

    Neighbours within ``BILATERAL_SPACE_SIGMA`` = 3 pixels are averaged with
    weights that fall off with intensity difference as a Gaussian of sigma
    ``strength`` (on the [0, 1] scale), so strokes darker than the paper by much
    more than ``strength`` keep their edges. ``strength=None`` uses twice the
    estimated noise. OpenCV's ``bilateralFilter`` on float32. Colour: the
    intensity difference is the mean absolute difference of the three
    channels (OpenCV sums them, so its range sigma is 3 x ``strength``), one
    weight for all channels: no colour shift, and grey stored as RGB gives the
    grey result.

    Examples
    --------
    >>> img = np.zeros((9, 9), np.float32); img[:, 5:] = 1   # an edge
    >>> out = denoise_bilateral(img, strength=0.1)
    >>> float(np.abs(out - img).max()) < 1e-3                # kept sharp
    True
    """
    import cv2

    image = _as_image(image)
    sigma_range = _auto(image, strength, "bilateral")
    if sigma_range < NEGLIGIBLE_STRENGTH:
        return _finish(image, image)
    # OpenCV's colour distance is the sum of the channels' absolute differences.
    channels = image.shape[2] if image.ndim == 3 else 1
    out = cv2.bilateralFilter(image, -1, sigma_range * channels, BILATERAL_SPACE_SIGMA,
                              borderType=cv2.BORDER_REFLECT_101)
    return _finish(out, image)


#: Iterations of Chambolle's algorithm (fixed: its own stopping test can stop too early).
TV_ITERATIONS = 30


def denoise_tv(image: ArrayLike, *,
               strength: float | None = None) -> NDArray[np.float32]:
    """Total-variation denoising (Chambolle); ``strength`` is the TV weight.

    Minimises ``|u - image|^2 / 2 + weight * TV(u)`` (scikit-image's
    ``denoise_tv_chambolle`` ``weight``, in [0, 1] intensity units), with a fixed
    ``TV_ITERATIONS`` = 30 iterations; larger weights flatten more. With
    ``strength=None`` the weight is 0.75 times the estimated noise. RGB channels
    are denoised each on its own (scikit-image's ``channel_axis``) with the same
    weight. The slowest method: about 5 s at 8 MP. Local: each iteration reaches
    one pixel further, so its registry reach is ``TV_ITERATIONS + 1`` and the
    tile engine runs it tile by tile in bounded memory, with the whole image's
    result (on a 1200 x 1200 crop of a real ink drawing, tiles of 256 differ
    from the whole by 0.02 with no halo, 8e-5 with 8 pixels, 1.2e-7 with 16,
    and not at all from 24).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> flat = 0.5 + rng.normal(0, 0.05, (32, 32)).astype(np.float32)
    >>> bool(denoise_tv(flat).std() < flat.std() / 2)
    True
    """
    from skimage.restoration import denoise_tv_chambolle

    image = _as_image(image)
    weight = _auto(image, strength, "tv")
    if weight < NEGLIGIBLE_STRENGTH or image.size == 1:
        return _finish(image, image)
    out = denoise_tv_chambolle(_flush_tiny(image), weight=weight, max_num_iter=TV_ITERATIONS,
                               eps=0.0, channel_axis=-1 if image.ndim == 3 else None)
    return _finish(out, image)


#: Patch side and search-window side (pixels) of non-local means.
NL_MEANS_PATCH, NL_MEANS_SEARCH = 5, 15


def denoise_nl_means(image: ArrayLike, *,
                     strength: float | None = None) -> NDArray[np.float32]:
    """Non-local means; ``strength`` is the filter parameter h on the [0, 1] scale.

    Each pixel becomes a weighted mean of pixels in a 15x15 search window whose
    5x5 patches look alike; the weight of a patch at mean absolute difference
    ``d`` is ``exp(-d^2 / h^2)``. ``strength=None`` uses h = 1.2 times the
    estimated noise. OpenCV's ``fastNlMeansDenoising`` on 16-bit samples with
    the L1 patch distance, so 16-bit precision is kept (8-bit input would
    quantise). Several seconds at 8 MP.

    Colour, as OpenCV's coloured NL-means: the BT.601 luma ``Y`` is denoised
    with h (estimated on ``Y`` when ``strength=None``) and the colour
    differences ``(B - Y, R - Y)`` together, with their own patch weights and
    h = ``NL_MEANS_CHROMA`` (1.5) times that; then ``R = Y + (R - Y)``, ``B = Y
    + (B - Y)`` and ``G`` from the luma equation. A grey scan stored as RGB has
    zero chroma and gives the grey result in every channel.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> flat = 0.5 + rng.normal(0, 0.05, (32, 32)).astype(np.float32)
    >>> bool(denoise_nl_means(flat).std() < flat.std() / 2)
    True
    """
    image = _as_image(image)
    h = _auto(image, strength, "nl_means")
    if h < NEGLIGIBLE_STRENGTH:
        return _finish(image, image)
    if image.ndim == 2:
        return _finish(_nl_means_plane(image, h, 0.0, 65535.0), image)
    tone = luma(image)
    chroma = np.stack([image[..., 2] - tone, image[..., 0] - tone], axis=-1)
    tone = _nl_means_plane(tone, h, 0.0, 65535.0)
    # Chroma lies in (-0.89, 0.89): centred on the middle sample, so 0 stays exactly 0.
    chroma = _nl_means_plane(chroma, h * NL_MEANS_CHROMA, 32768.0, 32767.0)
    out = np.empty(image.shape, np.float32)
    np.add(tone, chroma[..., 1], out=out[..., 0])
    np.add(tone, chroma[..., 0], out=out[..., 2])
    green = chroma[..., 1] * np.float32(0.299 / 0.587)
    green += chroma[..., 0] * np.float32(0.114 / 0.587)
    np.subtract(tone, green, out=out[..., 1])
    return _finish(out, image)


#: Chroma h of colour non-local means, relative to the luma h. Measured on the crayon
#: pig with Gaussian noise 0.04 per channel (PSNR 28.0 dB): 1.0 gives 38.1 dB, 1.5
#: 40.1 dB, 2.0 39.0 dB, 3.0 38.1 dB.
NL_MEANS_CHROMA = 1.5


def _nl_means_plane(planes: NDArray[np.float32], h: float, offset: float,
                    scale: float) -> NDArray[np.float32]:
    """OpenCV non-local means of one or two planes held as 16-bit ``offset + scale * v``."""
    import cv2

    samples = planes * np.float32(scale)
    samples += np.float32(offset + 0.5)
    samples = np.clip(samples, 0, 65535).astype(np.uint16)
    shape = planes.shape[:2]
    # OpenCV needs the patch inside the image; pad thin images by reflection.
    pad = max(0, NL_MEANS_PATCH - min(shape))
    if pad:
        samples = cv2.copyMakeBorder(samples, pad, pad, pad, pad, cv2.BORDER_REFLECT_101
                                     if min(shape) > 1 else cv2.BORDER_REPLICATE)
    out = cv2.fastNlMeansDenoising(samples, [float(h * scale)], None, NL_MEANS_PATCH,
                                   NL_MEANS_SEARCH, cv2.NORM_L1)
    if pad:
        out = out[pad:pad + shape[0], pad:pad + shape[1]]
    out = out.reshape(planes.shape)
    result = np.empty(out.shape, np.float32)
    np.subtract(out, np.float32(offset), out=result, dtype=np.float32)
    result /= np.float32(scale)
    return result


#: Wavelet used by :func:`denoise_wavelet` (Symlet 4: smooth, nearly symmetric).
WAVELET = "sym4"


def denoise_wavelet(image: ArrayLike, *,
                    strength: float | None = None) -> NDArray[np.float32]:
    """Wavelet shrinkage (BayesShrink, soft thresholds); ``strength`` is the noise sigma.

    Each detail subband of a ``WAVELET`` (sym4) decomposition is soft-thresholded
    at ``strength^2 / sigma_signal`` (BayesShrink, scikit-image's
    ``denoise_wavelet``), so ``strength`` is the standard deviation of the noise
    to remove, on the [0, 1] scale; ``strength=None`` uses
    :func:`estimate_noise`. Levels: scikit-image's default (maximum - 3) but at
    least 4 where the image is large enough. RGB channels are treated separately
    (no YCbCr conversion), with the same sigma. Not local (its thresholds
    and depth come from the whole image): the tile engine runs it on the whole
    image, and refuses scans over ``tiling.WHOLE_DENOISE_MAX_PIXELS`` (50
    million pixels) rather than let memory grow with the scan. Images under
    14 pixels a side use the Haar wavelet; 1xN and Nx1 images are returned
    unchanged (too thin to transform in 2-D).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> flat = 0.5 + rng.normal(0, 0.05, (32, 32)).astype(np.float32)
    >>> bool(denoise_wavelet(flat).std() < flat.std() / 2)
    True
    """
    import pywt
    from skimage.restoration import denoise_wavelet as shrink

    image = _as_image(image)
    sigma = _auto(image, strength, "wavelet")
    if sigma < NEGLIGIBLE_STRENGTH or min(image.shape[:2]) < 2:
        return _finish(image, image)
    image = _flush_tiny(image)
    if image.min() == image.max():  # no detail to shrink (and BayesShrink would divide by 0)
        return _finish(image, image)
    wavelet = WAVELET
    if pywt.dwt_max_level(min(image.shape[:2]), wavelet) < 1:
        wavelet = "db1"  # sym4 needs 14 pixels a side; Haar works from 2
    deepest = pywt.dwt_max_level(min(image.shape[:2]), wavelet)
    # scikit-image's default (deepest - 3) leaves small scans with 1 or 2 levels,
    # too few to separate strokes from noise; use at least 4 where the size allows.
    levels = max(1, min(deepest, max(4, deepest - 3)))
    # pywt's soft threshold computes 1 - t/|c|: for coefficients near the float32 floor
    # t/|c| overflows to inf, which the threshold then clips to 0, as intended.
    with np.errstate(over="ignore"):
        out = shrink(image, sigma=sigma, wavelet=wavelet, mode="soft", method="BayesShrink",
                     wavelet_levels=levels,
                     rescale_sigma=True, channel_axis=-1 if image.ndim == 3 else None,
                     convert2ycbcr=False)
    return _finish(out, image)


def _gaussian_reach(sigma: float) -> int:
    # OpenCV's float kernel reaches round(4 sigma); one more for any 4-sigma truncation
    return int(math.ceil(4.0 * float(sigma))) + 1


def _median_reach(radius: float) -> int:
    return int(round(float(radius)))


@dataclass(frozen=True)
class DenoiseMethod:
    """One entry of ``DENOISE_METHODS``: what the package needs to know about a denoiser.

    Attributes
    ----------
    func : callable
        ``func(image, strength=s) -> image``: a float32 (H, W) or (H, W, 3) image in
        [0, 1] and a strength ``s`` (a float >= 0) to a new array of the same shape.
    doc : str
        One line for ``sketchgrad methods``.
    reach : int, callable or None
        How many pixels away a denoised pixel still depends on the input: a number,
        or ``reach(strength) -> int`` when it grows with the strength; ``None``
        when the method is not local (it is then run on the whole image, never
        on tiles).
    strength_from_noise : callable
        ``strength_from_noise(sigma) -> float``: the automatic strength for an
        image whose estimated noise is ``sigma`` (``strength=None``).
    noise_from_luma : bool
        On colour, estimate that noise on the BT.601 luma (not the channels' mean).

    Calling the entry calls ``func``, so ``DENOISE_METHODS["median"](img)`` works.
    """

    func: Callable[..., np.ndarray]
    doc: str
    reach: int | Callable[[float], int] | None
    strength_from_noise: Callable[[float], float] = float
    noise_from_luma: bool = False

    def __call__(self, image: np.ndarray, *, strength: float | None = None) -> np.ndarray:
        """Call ``func(image, strength=strength)``."""
        return self.func(image, strength=strength)

    def reach_for(self, strength: float | None) -> int | None:
        """The reach in pixels at this strength (None: not local, or the strength is unknown)."""
        if self.reach is None or isinstance(self.reach, int):
            return self.reach
        return None if strength is None else int(self.reach(strength))


#: The denoisers by name. Read it as a mapping; add to it with :func:`register_denoiser`.
DENOISE_METHODS: dict[str, DenoiseMethod] = {}


def register_denoiser(name: str, func: Callable[..., np.ndarray], *,
                      reach: int | Callable[[float], int] | None,
                      doc: str | None = None,
                      strength_from_noise: Callable[[float], float] = float) -> DenoiseMethod:
    """Add a denoiser that then works everywhere a denoise method name is taken.

    That is :func:`denoise`, the pipeline (whole and tiled, with the declared
    reach as halo), ``PipelineConfig`` and ``sketchgrad methods``.

    Parameters
    ----------
    name : str
        The method's name (``denoise=name``); must not be taken.
    func : callable
        ``func(image, strength=s) -> image``. ``image`` is float32 (H, W) or
        (H, W, 3) in [0, 1]; ``s`` a float >= 0 (``strength=None`` is resolved
        before the call, see ``strength_from_noise``). Return a new array of the
        same shape in [0, 1]; never change ``image``.
    reach : int, callable or None
        Pixels of neighbourhood a result pixel depends on (a number, or a function
        of the strength). Tiles are computed with this much halo, so tiled results
        equal whole-image ones; ``None`` runs the method once on the whole image.
    doc : str, optional
        One-line description (default: the first line of ``func``'s docstring).
    strength_from_noise : callable
        The automatic strength from the estimated noise sigma (default: the sigma).

    Returns
    -------
    DenoiseMethod
        The registered entry.

    Examples
    --------
    >>> import cv2
    >>> def box(image, strength):
    ...     k = 2 * round(strength) + 1
    ...     return cv2.blur(image, (k, k), borderType=cv2.BORDER_REFLECT)
    >>> entry = register_denoiser("box_doc", box, reach=lambda s: round(s), doc="box blur")
    >>> float(denoise(np.full((5, 5), 0.5, np.float32), "box_doc", strength=1).mean())
    0.5
    >>> del DENOISE_METHODS["box_doc"]
    """
    entry = DenoiseMethod(func, registered_doc(name, func, doc), check_reach(name, reach),
                          strength_from_noise)
    add_entry(DENOISE_METHODS, name, entry, "register_denoiser")
    return entry


DENOISE_METHODS.update({
    "none": DenoiseMethod(denoise_none, "", 0, lambda noise: 0.0),
    "gaussian": DenoiseMethod(denoise_gaussian, "", _gaussian_reach,
                              lambda noise: float(np.clip(10.0 * noise, 0.5, 2.0))),
    "median": DenoiseMethod(denoise_median, "", _median_reach,
                            lambda noise: 1.0 if noise < 0.1 else 2.0),
    # OpenCV's bilateral filter reaches round(1.5 * sigma_space)
    "bilateral": DenoiseMethod(denoise_bilateral, "",
                               int(math.ceil(1.5 * BILATERAL_SPACE_SIGMA)) + 1,
                               lambda noise: 2.0 * noise),
    # each Chambolle iteration reaches one pixel further (a forward and a backward
    # difference); with a halo this wide a tile's result is the whole image's
    "tv": DenoiseMethod(denoise_tv, "", TV_ITERATIONS + 1, lambda noise: 0.75 * noise),
    "nl_means": DenoiseMethod(denoise_nl_means, "",
                              NL_MEANS_SEARCH // 2 + NL_MEANS_PATCH // 2 + 1,
                              lambda noise: 1.2 * noise, noise_from_luma=True),
    "wavelet": DenoiseMethod(denoise_wavelet, "", None, float),
})
for _name, _entry in DENOISE_METHODS.items():
    DENOISE_METHODS[_name] = replace(_entry, doc=first_doc_line(_entry.func))
del _name, _entry
_BUILT_IN = frozenset(entry.func for entry in DENOISE_METHODS.values())


def denoise(image: ArrayLike, method: str = "gaussian", *,
            strength: float | None = None) -> NDArray[np.float32]:
    """Denoise a float32 image in [0, 1] with a method from ``DENOISE_METHODS``.

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, 3) image, read by :func:`sketchgrad.as_image` (uint8,
        uint16, bool or floats in [0, 1]; (H, W, 4) is composited over white).
    method : str
        A key of ``DENOISE_METHODS``: none, gaussian, median, bilateral, tv,
        nl_means, wavelet.
    strength : float or None
        Method-specific strength (see each ``denoise_<method>``); ``None``
        estimates it from the image, ``0`` leaves the image unchanged.

    Returns
    -------
    ndarray
        A new float32 array, same shape, values in [0, 1].

    Raises
    ------
    ParameterError
        For an unknown method (the message lists the valid ones), a negative or
        non-finite strength, or an image that is not (H, W) / (H, W, 3) or
        contains NaN or inf.

    Examples
    --------
    >>> img = np.full((8, 8), 0.5, np.float32)
    >>> out = denoise(img, "gaussian", strength=1.0)
    >>> out.shape, out.dtype, bool(np.allclose(out, 0.5))
    ((8, 8), dtype('float32'), True)
    """
    entry = choose(DENOISE_METHODS, method, "method")
    if strength is None and entry.func not in _BUILT_IN:
        # the built-in methods resolve None themselves (after checking the image once)
        strength = resolve_strength(image, method)
    return entry.func(image, strength=strength)


def flatten_background(image: ArrayLike, *,
                       scale: float | None = None) -> NDArray[np.float32]:
    """Even out uneven lighting: divide by a large-scale background estimate.

    The background is a Gaussian blur (sigma ``scale`` pixels, default 1/20 of
    the longer side) of the image with dark strokes suppressed by a grey-level
    closing (radius ``scale / 4``), computed on a copy shrunk by
    ``scale // 8`` and interpolated back (it is smooth at that scale); the
    result ``image / background`` is clipped to [0, 1], so the paper becomes
    white and the ink keeps its contrast relative to the paper.

    Parameters
    ----------
    image : ndarray
        Grey (H, W) or colour (H, W, 3) scan in [0, 1].
    scale : float, optional
        Size of the lighting changes to remove, in pixels; 0 returns the image unchanged.

    Returns
    -------
    ndarray
        float32, the shape of ``image``, in [0, 1].

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    >>> lit = 0.6 + 0.3 * x / 63          # paper lit unevenly from the right
    >>> flat = flatten_background(lit)
    >>> bool(flat.min() > 0.95)
    True
    """
    import cv2

    image = _as_image(image)
    if scale is None:
        scale = max(image.shape[:2]) / 20.0
    scale = _non_negative(scale, "scale", "a finite number of pixels >= 0")
    if scale == 0 or min(image.shape[:2]) < 2:
        return _finish(image, image)
    height, width = image.shape[:2]
    # The background is smooth at this scale: estimate it on a copy shrunk so that
    # `scale` is ~8 pixels (a large closing at full size takes tens of seconds).
    shrink = max(1, int(scale // 8))
    small: NDArray[Any] = image
    if shrink > 1:
        size = (max(2, round(width / shrink)), max(2, round(height / shrink)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    radius = max(1, int(round(scale / 4 / shrink)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REFLECT)
    background = cv2.GaussianBlur(background, (0, 0), scale / shrink,
                                  borderType=cv2.BORDER_REFLECT)
    if shrink > 1:
        background = cv2.resize(background, (width, height), interpolation=cv2.INTER_LINEAR)
    background = background.reshape(image.shape)
    np.maximum(background, np.float32(1e-3), out=background)
    np.divide(image, background, out=background)
    return _finish(background, image)


#: :func:`background_unevenness` above which ``flatten_background="auto"`` flattens: a
#: lighting that varies by 12 % of the paper's level across the page. Flatbed scans and
#: digital drawings measure under 0.05; phone photos 0.2-0.5 (vignetting and a lamp's fall-off).
UNEVEN_BACKGROUND = 0.12

#: Least-squares fits of the paper's upper envelope (each drops what lies below the last).
_ENVELOPE_FITS = 8

#: Longer side (pixels) of the copy the background is measured on.
_BACKGROUND_SIDE = 256


def should_flatten(image: Any, setting: bool | str) -> bool:
    """Whether ``flatten_background=setting`` flattens this (whole) image.

    True and False decide; ``"auto"`` flattens when
    :func:`background_unevenness` exceeds ``UNEVEN_BACKGROUND``. The pipeline
    (whole and tiled) asks this once per scan and records the answer
    (``Result.flattened``).

    Examples
    --------
    >>> y, x = np.mgrid[0:200, 0:300].astype(np.float32)
    >>> should_flatten(0.5 + 0.4 * x / 299, "auto"), should_flatten(x / 299, False)
    (True, False)
    """
    if setting == "auto":
        return background_unevenness(image) > UNEVEN_BACKGROUND
    return bool(setting)


def _shrunk_grey(image: Any, side: int) -> NDArray[Any]:
    """Means of k x k blocks (k = ceil(longest side / ``side``)) of the grey image, float32.

    RGB is the mean of its channels. Read ``k`` rows at a time (a few at once),
    so a scan kept in its file's dtype (``io.NativeImage``) is never converted
    whole; a float32 array gives the same values, block by block. A grey scan's
    integer samples are summed exactly as integers (:func:`_integer_block_means`),
    never converted to float32; so are an RGB scan's read as grey, channel by
    channel, whose block means then give their luma (the luma is linear: the
    luma of the means is the mean of the lumas, to float32 rounding).
    """
    from .io import NativeImage

    height, width = image.shape[:2]
    k = max(1, -(-max(height, width) // side))
    if isinstance(image, NativeImage) and image.ndim == 2 and image.samples.ndim == 2:
        small = _integer_block_means(image.samples, k)
    elif isinstance(image, NativeImage) and image.ndim == 2:  # RGB samples read as grey
        small = rgb_luma(_integer_block_means(image.samples, k))
    else:
        step = k * max(1, (1 << 20) // (k * width * (3 if len(image.shape) == 3 else 1)))
        parts = []
        for top in range(0, height, step):  # strips of whole blocks (step is a multiple of k)
            strip = np.asarray(image[top:top + step], dtype=np.float32)
            if strip.ndim == 3:  # the channels' mean, as strip.mean(axis=2) adds and divides
                grey = strip[..., 0] + strip[..., 1]  # (a reduction over an axis of 3 is slow)
                grey += strip[..., 2]
                grey /= np.float32(3)
                strip = grey
            parts.append(block_means(strip, k))
        small = np.concatenate(parts)
    if min(small.shape) < 2:  # the closing and the fit need two pixels a side
        small = np.repeat(np.repeat(small, 2 if small.shape[0] < 2 else 1, axis=0),
                          2 if small.shape[1] < 2 else 1, axis=1)
    return small


def _integer_block_means(samples: NDArray[Any], k: int) -> NDArray[np.float32]:
    """Means of k x k blocks of (H, W) or (H, W, C) uint8, uint16 or bool samples, in [0, 1].

    Blocks cut short by the bottom or right edge average the pixels they have,
    as :func:`~sketchgrad.arrays.block_means`; channels are averaged apart.
    The rows ``i, i + k, i + 2k, ...`` are added into one row of sums per block
    row (k additions of a sample row each, in integers: exact), then the
    columns in groups of k: the samples are read once and never converted to
    float32 (a quarter of the time of converting strips and shrinking them,
    8.5 MP grey: 2.4 ms).
    """
    height, width = samples.shape[:2]
    channels = samples.shape[2:]
    if channels and samples.strides[1:] != (samples.itemsize * channels[0], samples.itemsize):
        # a view whose rows are not packed pixels (a page turned upright): each channel on
        # its own, as a strided plane, rather than a copy of the scan
        return np.dstack([_integer_block_means(samples[..., c], k) for c in range(channels[0])])
    # the channels of a row side by side (a view, never a copy)
    flat = samples.reshape(height, -1) if channels else samples
    rows, cols = -(-height // k), -(-width // k)
    full = 1 if samples.dtype == np.bool_ else int(np.iinfo(samples.dtype).max)
    # a column's sum of k samples fits in 16 bits for 8-bit samples while k <= 257
    wide = np.uint16 if full * k <= np.iinfo(np.uint16).max else np.uint32
    column_sums = np.zeros((rows, cols * k) + channels, wide)
    sums_flat = column_sums.reshape(rows, -1)
    for i in range(min(k, height)):
        part = flat[i::k]
        sums_flat[:part.shape[0], :flat.shape[1]] += part
    sums = column_sums.reshape((rows, cols, k) + channels).sum(axis=2, dtype=np.uint64)
    per_row = np.full(rows, k, np.float64)
    per_row[-1] = height - (rows - 1) * k
    per_col = np.full(cols, k, np.float64)
    per_col[-1] = width - (cols - 1) * k
    count = np.outer(per_row, per_col) * full
    means: NDArray[np.float64] = sums / count.reshape(count.shape + (1,) * len(channels))
    return means.astype(np.float32)


def background_unevenness(image: np.ndarray) -> float:
    """How much the paper's lighting varies across the page, relative to its level.

    Measured on a copy shrunk to at most 256 pixels on the longer side (means
    of square blocks, read a strip of rows at a time; RGB as the mean of its
    channels): a grey-level closing with a disc of radius
    1/32 of that side removes the dark strokes (anything narrower than 1/16 of
    the page), leaving the paper's brightness. A quadratic surface
    ``a + bx + cy + dx^2 + exy + fy^2`` is fitted to it by least squares,
    then again on the pixels no more than two 8-bit levels below the last fit
    (up to 8 fits, until that set stops changing): the fit climbs to the
    paper's upper envelope, so large dark washes and shading that survive the
    closing count as drawing, not as light. The result is
    ``(P95 - P5) / P95`` of the fitted surface over the page: 0 for even
    paper, 0.3 for a page whose light falls by 30 % from one side to the other.
    Compare with ``UNEVEN_BACKGROUND``. A page under 2 pixels a side, or a
    black one, gives 0.

    Examples
    --------
    >>> y, x = np.mgrid[0:200, 0:300].astype(np.float32)
    >>> round(background_unevenness(0.5 + 0.4 * x / 299), 2)   # light from the right
    0.41
    >>> round(background_unevenness(np.full((200, 300), 0.9, np.float32)), 2)
    0.0
    """
    import cv2

    image = _as_image(image, strips=True)  # a native scan is shrunk strip by strip
    height, width = image.shape[:2]
    if min(height, width) < 2:
        return 0.0
    small = _shrunk_grey(image, _BACKGROUND_SIDE)
    radius = max(1, round(max(small.shape) / 32))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REFLECT)
    target = paper.astype(np.float64)
    use = np.ones(target.shape, bool)
    for _ in range(_ENVELOPE_FITS):
        fitted = _quadratic_fit(target, use)
        # keep what lies no more than two 8-bit levels below the fit: the upper envelope
        keep = target - fitted >= -2.0 / 255.0
        if keep.sum() < len(_TERMS) or np.array_equal(keep, use):
            break
        use = keep
    low, high = _percentiles(fitted.ravel(), (5.0, 95.0))
    if not high > 1e-3:
        return 0.0
    return float(max(high - low, 0.0) / high)


def _percentiles(values: NDArray[np.float64], qs: tuple[float, ...]) -> list[float]:
    """``np.percentile(values, qs)`` (linear interpolation) of a 1-D array, to an ulp.

    By one partition at the ranks needed: ``np.percentile`` interpolates
    through ``np.unique``, whose first call imports ``numpy.ma`` (20 ms of a
    run that needs nothing else from it).

    Examples
    --------
    >>> _percentiles(np.array([4.0, 1.0, 3.0, 2.0]), (0.0, 50.0, 100.0))
    [1.0, 2.5, 4.0]
    """
    last = values.size - 1
    ranks = [last * (q / 100) for q in qs]  # the rank as NumPy's "linear" method has it
    below = [min(max(math.floor(rank), 0), last) for rank in ranks]
    above = [min(b + 1, last) for b in below]
    ordered = np.partition(values, sorted(set(below + above)))
    out = []
    for rank, b, a in zip(ranks, below, above, strict=True):
        low, high, t = float(ordered[b]), float(ordered[a]), rank - b
        # NumPy's lerp: from the nearer end, so t = 0 and t = 1 give the ends exactly
        out.append(low + (high - low) * t if t < 0.5 else high - (high - low) * (1 - t))
    return out


#: The quadratic surface's terms 1, x, y, x^2, xy, y^2 as (power of x, power of y).
_TERMS = ((0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2))


def _quadratic_fit(target: NDArray[np.float64], use: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The least-squares surface ``a + bx + cy + dx^2 + exy + fy^2`` through ``target[use]``.

    Returns the surface over the whole (rows, cols) grid, x and y running from
    -0.5 to 0.5 across the columns and down the rows. Solved through the normal
    equations, whose sums of ``x^i y^j`` (and of ``target x^i y^j``) over the
    pixels in use separate into a product of small matrices (``use`` times the
    powers of x, then the powers of y), so no (pixels x 6) design is built or
    multiplied (a fifth of the time). ``einsum`` keeps the sums in NumPy's own
    loops: ``@`` would go to a multi-threaded BLAS, whose threads then spin for
    a while on a 2-core machine (0.04 s of CPU per call, measured). The 6 x 6
    system is solved by ``lstsq`` (a rank-deficient one, all pixels on one row,
    gets its minimum-norm answer, as the tall system would).

    Examples
    --------
    >>> rows, cols = np.mgrid[0:5, 0:9]
    >>> x, y = cols / 8 - 0.5, rows / 4 - 0.5
    >>> surface = 0.8 + 0.1 * x - 0.2 * x * y
    >>> bool(np.allclose(_quadratic_fit(surface, np.ones((5, 9), bool)), surface))
    True
    """
    rows, cols = target.shape
    x = np.arange(cols) / max(cols - 1, 1) - 0.5
    y = np.arange(rows) / max(rows - 1, 1) - 0.5
    x_powers = x[:, None] ** np.arange(5)  # (cols, 5): x^0 .. x^4, as the products need
    y_powers = y[:, None] ** np.arange(5)
    weight = use.astype(np.float64)
    # sums[j, i]: the sum of x^i y^j over the pixels in use; moments[j, i]: of target x^i y^j
    sums = np.einsum("rj,ri->ji", y_powers, np.einsum("rc,ci->ri", weight, x_powers))
    weight *= target
    moments = np.einsum("rj,ri->ji", y_powers[:, :3],
                        np.einsum("rc,ci->ri", weight, x_powers[:, :3]))
    gram = np.array([[sums[b + d, a + c] for c, d in _TERMS] for a, b in _TERMS])
    moment = np.array([moments[b, a] for a, b in _TERMS])
    c = np.linalg.lstsq(gram, moment, rcond=None)[0]
    fitted = (c[1] + c[4] * y)[:, None] * x + c[3] * x * x
    fitted += (c[0] + c[2] * y + c[5] * y * y)[:, None]
    return cast("NDArray[np.float64]", fitted)
