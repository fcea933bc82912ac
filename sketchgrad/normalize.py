"""Normalization methods for gradient magnitudes (and any NumPy array).

``NORMALIZE_METHODS`` maps a name to a :class:`NormalizeMethod` entry (the
public function ``f(x, *, mask=None, **params)``, its one-line doc, its
parameters, how it scales with fitted statistics and its display rule);
:func:`normalize` validates the name and the parameters and dispatches;
:func:`register_normalization` adds a method; :func:`to_unit` brings each
method's output to [0, 1] for display;
:class:`Normalizer` keeps mergeable statistics so that many arrays (the pages
of a sketchbook, the tiles of a huge scan, files in worker processes) share
one scale.

=========  ==============================================================  ==========
method     result                                                          statistics
=========  ==============================================================  ==========
minmax     ``(x - min) / (max - min)``, onto ``out_range``                  min, max
zscore     ``(x - mean) / std`` (population std)                            count, mean, M2
l2         ``x / sqrt(sum(x**2))``; with ``axis``: each vector by its norm  sum of squares
robust     ``(x - P_lower) / (P_upper - P_lower)`` clipped, onto out_range  histogram
maxabs     ``x / max(|x|)``, in [-1, 1]                                     min, max
log        ``sign(x) * log1p(|x| / scale)``, then minmax                    min, max
gamma      minmax, then ``t ** gamma`` (sign kept below 0), onto out_range  min, max
equalize   the value's (mid-)rank among all values, onto out_range           histogram
exposure   ``level * (x - b) / (P_upper - b)``, b = black * P_lower, clipped  histogram
=========  ==============================================================  ==========

Rules every method keeps:

- Degenerate input. An array has *no scale* when ``max - min <= RTOL *
  max(|min|, |max|)`` (constant or constant to float rounding). Then minmax,
  zscore, robust, log, gamma, equalize and exposure give zeros (``out_range[0]`` when an
  output range was asked for); an all-zero array gives zeros for every method;
  l2 keeps zero vectors at zero. No NaN, no RuntimeWarning.
- Non-finite values (NaN, inf) raise :class:`~sketchgrad.errors.ParameterError`
  (a ``ValueError``) saying how many, unless ``mask`` excludes them; excluded
  non-finite values come out as zeros (``out_range[0]``).
- ``mask``: the statistics come from ``x[mask]`` only; the result covers all
  of ``x``. Values outside the statistics' range (possible with a mask or a
  :class:`Normalizer` fitted on other arrays) are scaled by the same formula and
  may leave ``out_range`` (robust clips by definition); ``to_unit`` clips.
- dtype: float64 input gives float64; anything else (float32, float16,
  integers, bool) gives float32. No full-size float64 temporaries are made for
  float32 input: reductions accumulate in float64 over small chunks.
- An unknown parameter for a method raises ``ParameterError`` naming it.

Percentiles (robust, exposure) and ranks (equalize) come from a fixed histogram over
the float32 number line: 2**20 bins, each spanning at most 2**-11 of its
values' magnitude (values below 1.2e-38 count as zero), holding the count and
the sum of its values. A percentile takes the mean of the bin where its rank
falls, so it is within 0.05 % of ``np.percentile``'s, and exact when the
values in that bin are equal (quantized scans). Counts merge exactly across
parts, so ``normalize(x)`` and a :class:`Normalizer` fitted on any split of
``x`` give the same numbers (bin sums to float64 rounding).
"""

from __future__ import annotations

import base64
import contextlib
import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import as_mask
from .errors import ParameterError, choose
from .registry import add_entry, first_doc_line, registered_doc

__all__ = [
    "NORMALIZE_METHODS",
    "NormalizeMethod",
    "UNIT_RULES",
    "register_normalization",
    "RTOL",
    "Normalizer",
    "Measurement",
    "normalize",
    "to_unit",
    "minmax",
    "zscore",
    "l2",
    "robust",
    "maxabs",
    "log",
    "gamma",
    "equalize",
    "exposure",
]

#: Relative tolerance under which an array's spread counts as zero (no scale):
#: ``max - min <= RTOL * max(|min|, |max|)``; about 8 float32 rounding steps.
RTOL = 1e-6

_CHUNK = 1 << 18  # elements per chunk of the float64 reductions
_HIST_CHUNK = 1 << 21  # per histogram update: each one also adds the 2**20 bins
_SHIFT = 12  # float32 key bits dropped per histogram bin: 2**20 bins
_NBINS = 1 << (32 - _SHIFT)
_SAFE = 2.0 ** 400  # beyond 2**+-400, moments are taken of values scaled by a power of 2


# ----------------------------------------------------------------------------------------
# input handling


def _as_float(x: ArrayLike, name: str = "x") -> NDArray[np.floating[Any]]:
    arr = np.asarray(x)
    if arr.dtype == np.float64 or arr.dtype == np.float32:
        return arr
    if arr.dtype.kind in "fuib":
        return arr.astype(np.float32)
    raise ParameterError(f"{name} of dtype {arr.dtype} is not numeric; give a numeric array")


def _count_non_finite(values: np.ndarray) -> int:
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def _raise_non_finite(count: int, name: str, masked: bool) -> None:
    where = " inside the mask" if masked else ""
    raise ParameterError(f"{name} has {count} non-finite values (NaN or inf){where}; "
                         "remove them (e.g. np.nan_to_num) or exclude them with mask=")


def _chunks(values: np.ndarray, size: int = _CHUNK) -> Iterator[np.ndarray]:
    for start in range(0, values.size, size):
        yield values[start:start + size]


def _no_scale(lo: float, hi: float) -> bool:
    return not hi - lo > RTOL * max(abs(lo), abs(hi))


# ----------------------------------------------------------------------------------------
# the float32 histogram


def _bins(values: np.ndarray) -> np.ndarray:
    """Histogram bin of each value: the top bits of its order-preserving float32 key.

    -0, +0 and the subnormal numbers fall into the bins ``_ZERO_BINS``, which
    :func:`_fold_zero` merges into one.
    """
    if values.dtype != np.float32 or not values.flags.c_contiguous:
        with np.errstate(over="ignore"):  # float64 beyond float32's range: the end bins
            values = np.ascontiguousarray(values, dtype=np.float32)
    bits = values.view(np.uint32)
    flip = (bits >> np.uint32(31)) * np.uint32(0x7FFFFFFF)
    flip |= np.uint32(0x80000000)
    flip ^= bits
    flip >>= np.uint32(_SHIFT)
    return flip


# Bins of the keys from the largest negative subnormal to the largest positive one.
_ZERO_BINS = slice(0x7F800000 >> _SHIFT, 0x80800000 >> _SHIFT)
_ZERO_BIN = 0x80000000 >> _SHIFT


def _fold_zero(per_bin: np.ndarray) -> None:
    """Move the subnormal and -0 bins into the bin of +0, in place."""
    total = per_bin[_ZERO_BINS].sum()
    per_bin[_ZERO_BINS] = 0
    per_bin[_ZERO_BIN] = total


#: Bin of the smallest normal float32 (2**-126) counted from +0's: below it lie +-0
#: and the subnormal numbers, which share +0's bin (_fold_zero).
_NORMAL_BIN = 0x00800000 >> _SHIFT
_SMALLEST_NORMAL = float(np.finfo(np.float32).tiny)


#: A run of histogram bins counted from one array: ``(first bin, counts, sums)``.
_Segment = tuple[int, np.ndarray, np.ndarray]


def _count_non_negative(values: np.ndarray, lo: float, hi: float) -> list[_Segment]:
    """The histogram segments of float32 ``values`` >= 0 (-0.0 allowed) from ``lo`` to ``hi``.

    What the general path of :meth:`_Stats.measure` does, for the common case
    of magnitudes, in fewer passes over memory: a value's bin counted from
    +0's is its bits shifted (the key's sign flip is a constant offset); and
    the bins counted run from the smallest normal value present, with +-0 and
    the subnormal numbers in one slot before it, so a tile with zeros next to
    strokes does not count the 200,000 empty bins in between.
    """
    unsigned = np.uint32((1 << (31 - _SHIFT)) - 1)  # drops -0.0's sign bit: +0's bin
    top = int(np.float32(hi).view(np.uint32) >> np.uint32(_SHIFT) & unsigned)
    if top < _NORMAL_BIN:  # nothing but +-0 and subnormal numbers
        # exact: a sum of tiny values
        return [(_ZERO_BIN, np.array([values.size], np.int64),
                 np.array([np.sum(values, dtype=np.float64)]))]
    bins = values.view(np.uint32) >> np.uint32(_SHIFT)
    bins &= unsigned
    # counted from the smallest normal bin: the zero and subnormal bins wrap round to
    # the largest unsigned numbers, so the minimum is the smallest normal bin present
    # (hi is one), and as signed numbers they are the negative ones
    bins -= np.uint32(_NORMAL_BIN)
    relative = bins.view(np.int32)
    if lo >= _SMALLEST_NORMAL:  # no zero nor subnormal: lo's bin is the first
        first = (int(np.float32(lo).view(np.uint32)) >> _SHIFT) - _NORMAL_BIN
    else:
        first = int(bins.min())
        np.maximum(relative, first - 1, out=relative)  # zeros, subnormals: the slot before
    relative -= first - 1
    index = relative.astype(np.intp)  # what np.bincount reads (it would convert anyway)
    del bins, relative
    width = top - _NORMAL_BIN - first + 2
    counts = np.bincount(index, minlength=width)
    totals = np.bincount(index, weights=values, minlength=width)
    # slot 0: +0's bin (a sum of subnormal numbers, exact in float64 in any order)
    segments = [(_ZERO_BIN + _NORMAL_BIN + first, counts[1:], totals[1:])]
    if counts[0]:
        segments.insert(0, (_ZERO_BIN, counts[:1], totals[:1]))
    return segments


def _general_runs(values: np.ndarray, first: int, last: int) -> Iterator[_Segment]:
    """Histogram runs of any values whose bins lie from ``first`` to ``last``, per chunk."""
    width = last - first + 1
    for chunk in _chunks(values, _HIST_CHUNK):
        bins = _bins(chunk)
        bins -= np.uint32(first)
        yield (first, np.bincount(bins, minlength=width),
               np.bincount(bins, weights=chunk, minlength=width))


@dataclass
class Measurement:
    """The statistics of one array, measured for a :class:`Normalizer` but not yet added.

    Made by :meth:`Normalizer.measure` (in any thread: it changes nothing) and
    added with :meth:`Normalizer.add`; ``partial_fit(x)`` is ``add(measure(x))``.
    Opaque: its fields belong to the Normalizer that made it.
    """

    summary: _Stats  # count, extremes and moments (no histogram)
    segments: list[_Segment] = field(default_factory=list, repr=False)  # histogram runs
    fold: bool = False  # the segments reach the -0/subnormal bins: fold them into +0's
    method: str = ""  # of the Normalizer that measured
    options: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def count(self) -> int:
        """Number of values measured."""
        return self.summary.count


# ----------------------------------------------------------------------------------------
# statistics


@dataclass(eq=False, repr=False)  # records of arrays: no == (ambiguous) or repr
class _Stats:
    """Mergeable statistics of a set of finite values."""

    moments: bool = False
    histogram: bool = False
    count: int = 0
    min: float = math.inf
    max: float = -math.inf
    mean: float = 0.0  # mean and M2 are kept divided by 2**shift and 4**shift, so that
    m2: float = 0.0    # float64 extremes cannot overflow them; shift is 0 for real data
    shift: int = 0
    hist: np.ndarray | None = field(default=None, repr=False)   # counts per bin
    sums: np.ndarray | None = field(default=None, repr=False)   # sum of the values per bin

    def add(self, values: np.ndarray, name: str, masked: bool) -> None:
        """Add a 1-D array of values (of x's dtype)."""
        summary, segments, fold = self._parts(values, name, masked)
        self._add_parts(summary, segments, fold)

    def measure(self, values: np.ndarray, name: str, masked: bool) -> Measurement:
        """What :meth:`add` would add for these values, leaving this Stats unchanged.

        A histogram of up to ``_HIST_CHUNK`` values is kept as the runs of bins
        it counted (a tile's few thousand); a larger one is gathered into one
        run from its lowest to its highest bin.
        """
        summary, segments, fold = self._parts(values, name, masked)
        if values.size <= _HIST_CHUNK or not self.histogram:
            return Measurement(summary, list(segments), fold)
        gathered = _Stats(False, True)
        gathered._add_histogram(segments, fold)
        hist, sums = cast(np.ndarray, gathered.hist), cast(np.ndarray, gathered.sums)
        used = np.flatnonzero(hist)  # values were counted: at least one bin
        start, stop = int(used[0]), int(used[-1]) + 1
        return Measurement(summary, [(start, hist[start:stop].copy(), sums[start:stop].copy())])

    def add_measured(self, measured: Measurement) -> None:
        """Add what :meth:`measure` measured (in place)."""
        self._add_parts(measured.summary, iter(measured.segments), measured.fold)

    def _parts(self, values: np.ndarray, name: str,
               masked: bool) -> tuple[_Stats, Iterator[_Segment], bool]:
        """Count, extremes and moments of 1-D values; their histogram runs (lazily); fold.

        Raises ``ParameterError`` for non-finite values (``name``, ``masked``
        say where). ``fold`` tells whether the runs reach the -0 and subnormal
        bins, which :func:`_fold_zero` merges into +0's once they are added.
        """
        if values.size == 0:
            return _Stats(self.moments), iter(()), False
        lo, hi = float(np.min(values)), float(np.max(values))
        if not (math.isfinite(lo) and math.isfinite(hi)):  # NaN propagates into min/max
            _raise_non_finite(_count_non_finite(values), name, masked)
        part = _Stats(self.moments, False, 0, lo, hi)
        if self.moments:
            peak = max(abs(lo), abs(hi))
            shift = math.frexp(peak)[1] if peak > _SAFE or 0 < peak < 1 / _SAFE else 0
            for chunk in _chunks(values):
                wide = chunk.astype(np.float64)
                if shift:
                    wide = np.ldexp(wide, -shift)
                mean = float(wide.mean())
                wide -= mean
                wide *= wide  # not np.dot: BLAS threads stall on a busy machine
                part.merge(_Stats(True, False, wide.size, lo, hi, mean, float(wide.sum()),
                                  shift))
        part.count = values.size
        if not self.histogram:
            return part, iter(()), False
        if lo >= 0 and values.dtype == np.float32 and values.flags.c_contiguous:
            if values.size <= _HIST_CHUNK:
                return part, iter(_count_non_negative(values, lo, hi)), False
            # each chunk's own extremes: a chunk of zeros (blank paper) has no normal
            # value to count its bins from
            return part, (run for chunk in _chunks(values, _HIST_CHUNK)
                          for run in _count_non_negative(chunk, float(chunk.min()),
                                                         float(chunk.max()))), False
        first, last = (int(b) for b in _bins(np.array([lo, hi], np.float64)))
        if lo <= 0 <= hi:  # -0 and +0 compare equal but have keys apart: take all zero bins
            first, last = min(first, _ZERO_BINS.start), max(last, _ZERO_BINS.stop - 1)
        return part, _general_runs(values, first, last), \
            first < _ZERO_BINS.stop and last >= _ZERO_BINS.start

    def _add_parts(self, summary: _Stats, segments: Iterator[_Segment], fold: bool) -> None:
        """Add a count with its extremes and moments, and histogram runs (in place)."""
        if summary.count == 0:
            return
        if self.histogram:
            self._add_histogram(segments, fold)
        self._merge_summary(summary)

    def _add_histogram(self, segments: Iterator[_Segment], fold: bool) -> None:
        """Add histogram runs to the counts and sums per bin (made on first use)."""
        if self.hist is None:
            self.hist = np.zeros(_NBINS, np.int64)
            self.sums = np.zeros(_NBINS, np.float64)
        sums = cast(np.ndarray, self.sums)  # set with hist
        for first, counts, totals in segments:
            self.hist[first:first + counts.size] += counts
            sums[first:first + totals.size] += totals
        if fold:
            _fold_zero(self.hist)
            _fold_zero(sums)

    def merge(self, other: _Stats) -> None:
        if other.count == 0:
            return
        if self.histogram:
            if self.hist is None:
                # a histogram Stats with a count has both arrays
                self.hist = cast(np.ndarray, other.hist).copy()
                self.sums = cast(np.ndarray, other.sums).copy()
            else:  # in place: this Stats owns its arrays (made by add, copied or unpacked)
                sums = cast(np.ndarray, self.sums)
                self.hist += cast(np.ndarray, other.hist)
                sums += cast(np.ndarray, other.sums)
        self._merge_summary(other)

    def _merge_summary(self, other: _Stats) -> None:
        """Merge the count, extremes and moments of ``other`` (not its histogram)."""
        if other.count == 0:
            return
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        if self.moments:
            # Chan, Golub & LeVeque's pairwise update of count, mean and M2.
            if self.count == 0:
                self.mean, self.m2, self.shift = other.mean, other.m2, other.shift
            else:
                if other.shift != self.shift:
                    other = other._rescaled(max(self.shift, other.shift))
                    self.__dict__.update(self._rescaled(other.shift).__dict__)
                total = self.count + other.count
                delta = other.mean - self.mean
                self.m2 += other.m2 + delta * delta * self.count * other.count / total
                self.mean += delta * other.count / total
        self.count += other.count

    def _rescaled(self, shift: int) -> _Stats:
        new = _Stats(self.moments, False, self.count, self.min, self.max,
                     math.ldexp(self.mean, self.shift - shift),
                     math.ldexp(self.m2, 2 * (self.shift - shift)), shift)
        new.histogram, new.hist, new.sums = self.histogram, self.hist, self.sums
        return new

    # -- derived values

    @property
    def true_mean(self) -> float:
        return math.ldexp(self.mean, self.shift)

    @property
    def std(self) -> float:
        return math.ldexp(math.sqrt(max(self.m2, 0.0) / self.count), self.shift) \
            if self.count else 0.0

    def norm(self) -> tuple[float, int]:
        """The L2 norm as (mantissa, power of two): it may exceed the float64 range."""
        return math.sqrt(max(self.m2 + self.count * self.mean * self.mean, 0.0)), self.shift

    def percentile(self, q: float) -> float:
        """The q-th percentile ('linear' as ``np.percentile``) from the histogram."""
        rank = (self.count - 1) * q / 100.0
        below = math.floor(rank)
        value = self._order(below)
        if rank > below:
            value += (rank - below) * (self._order(below + 1) - value)
        return min(max(value, self.min), self.max)

    def _order(self, r: int) -> float:
        """The r-th smallest value (0-based), estimated by the mean of its bin."""
        if r <= 0:
            return self.min
        if r >= self.count - 1:
            return self.max
        b = int(np.searchsorted(self._cumulative(), r, side="right"))
        sums, hist = cast(np.ndarray, self.sums), cast(np.ndarray, self.hist)
        return min(max(float(sums[b] / hist[b]), self.min), self.max)

    def _cumulative(self) -> np.ndarray:
        cache = self.__dict__.get("_cum")
        if cache is None or cache[0] != self.count:
            cache = (self.count, np.cumsum(cast(np.ndarray, self.hist)))
            self.__dict__["_cum"] = cache
        return cast(np.ndarray, cache[1])

    def _mid_table(self) -> np.ndarray:
        """Per bin, the values below it plus half of those in it (kept while count holds)."""
        cache = self.__dict__.get("_mid")
        if cache is None or cache[0] != self.count:
            mid = self._cumulative() - cast(np.ndarray, self.hist) / 2.0
            mid[_ZERO_BINS] = mid[_ZERO_BIN]
            cache = (self.count, mid)
            self.__dict__["_mid"] = cache
        return cache[1]

    def mid_ranks(self, x: np.ndarray, out: np.ndarray) -> None:
        """Into ``out``: values below x's bin plus half of x's bin, per element of x."""
        mid = self._mid_table()
        flat_in, flat_out = x.reshape(-1), out.reshape(-1)
        for start in range(0, flat_in.size, _HIST_CHUNK):
            flat_out[start:start + _HIST_CHUNK] = mid[_bins(flat_in[start:start + _HIST_CHUNK])]

    # -- serialization

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"count": self.count, "min": self.min, "max": self.max}
        if self.moments:
            d.update(mean=self.mean, m2=self.m2, shift=self.shift)
        if self.histogram:
            d["histogram"] = None if self.hist is None else _pack(self.hist,
                                                                    cast(np.ndarray, self.sums))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], moments: bool, histogram: bool) -> _Stats:
        s = cls(moments, histogram, int(d["count"]), float(d["min"]), float(d["max"]))
        if moments:
            s.mean, s.m2, s.shift = float(d["mean"]), float(d["m2"]), int(d.get("shift", 0))
        if histogram and d.get("histogram") is not None:
            s.hist, s.sums = _unpack(d["histogram"])
        return s


def _pack(hist: np.ndarray, sums: np.ndarray) -> str:
    """Sparse histogram (bins, counts, sums) as a compact base64 string (JSON-able)."""
    nonzero = np.flatnonzero(hist)
    parts = [nonzero.astype("<u4"), hist[nonzero].astype("<i8"), sums[nonzero].astype("<f8")]
    data = b"".join(p.tobytes() for p in parts)
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def _unpack(text: str) -> tuple[np.ndarray, np.ndarray]:
    data = zlib.decompress(base64.b64decode(text))
    n = len(data) // 20
    bins = np.frombuffer(data, "<u4", n)
    hist, sums = np.zeros(_NBINS, np.int64), np.zeros(_NBINS, np.float64)
    hist[bins] = np.frombuffer(data, "<i8", n, 4 * n)
    sums[bins] = np.frombuffer(data, "<f8", n, 12 * n)
    return hist, sums


# ----------------------------------------------------------------------------------------
# the methods: parameters, the statistics they need, how they scale


def _check_out_range(value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"out_range={value!r} must be two numbers (low, high)") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo == hi:
        raise ParameterError(f"out_range={value!r} must be two different finite numbers")
    return lo, hi


def _as_number(value: Any) -> float:
    """``float(value)``, or NaN (which every range check rejects) for a non-number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _check_positive(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        v = _as_number(value)
        if not (math.isfinite(v) and v > 0):
            raise ParameterError(f"{name}={value!r} must be a finite number > 0")
        return v
    return check


def _check_percent(name: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        v = _as_number(value)
        if not 0.0 <= v <= 100.0:
            raise ParameterError(f"{name}={value!r} must be a percentage in [0, 100]")
        return v
    return check


def _check_axis(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"axis={value!r} must be an integer axis or None")
    return int(value)


def _check_black(value: Any) -> float:
    v = _as_number(value)
    if not (math.isfinite(v) and v >= 0):
        raise ParameterError(f"black={value!r} must be a finite number >= 0")
    return v


def _check_level(value: Any) -> float:
    v = _as_number(value)
    if not 0.0 < v <= 1.0:
        raise ParameterError(f"level={value!r} must be a number in (0, 1]")
    return v


#: How :func:`to_unit` brings a method's output to [0, 1]: ``"range"`` maps
#: ``out_range`` (default (0, 1)) onto [0, 1] and clips; ``"sigma"`` takes +-3 as the
#: ends (``(x + 3) / 6``, clipped); ``"abs"`` is ``|x|`` clipped; ``"peak"`` is
#: ``|x| / max(|x|)`` of the array given.
UNIT_RULES = ("range", "sigma", "abs", "peak")


@dataclass(frozen=True)
class NormalizeMethod:
    """One entry of ``NORMALIZE_METHODS``: what the package needs to know about a method.

    Attributes
    ----------
    func : callable
        The public function ``func(x, *, mask=None, **params) -> array``.
    doc : str
        One line for ``sketchgrad methods``.
    unit : str
        How :func:`to_unit` brings the output to [0, 1] (one of ``UNIT_RULES``).
    params : dict or None
        Parameter name -> (default, checker); ``None`` (a registered method):
        any keyword is handed to ``func``.
    scale : callable or None
        ``scale(x, stats, opts, inside, own) -> array``: the method applied with
        fitted statistics (what :class:`Normalizer` and the tiles use). ``None``:
        the method keeps no mergeable statistics; the pipeline then fits it on the
        whole image's magnitude (see :func:`register_normalization`).
    moments, histogram : bool
        Which statistics ``scale`` needs besides count, min and max.

    Calling the entry calls ``func``, so ``NORMALIZE_METHODS["minmax"](x)`` works.
    """

    func: Callable[..., np.ndarray]
    doc: str
    unit: str = "range"
    params: dict[str, tuple[Any, Callable[[Any], Any]]] | None = None  # name -> (default, checker)
    scale: Callable[..., np.ndarray] | None = None
    moments: bool = False
    histogram: bool = False

    def __call__(self, x: ArrayLike, **kwargs: Any) -> np.ndarray:
        """Call ``func``."""
        return self.func(x, **kwargs)

    @property
    def fits_in_parts(self) -> bool:
        """Whether statistics of parts (tiles, pages) merge into those of the whole."""
        return self.scale is not None

    def options(self, method: str, given: dict[str, Any]) -> dict[str, Any]:
        """The method's parameters: ``given`` checked, defaults filled in."""
        params = self.params or {}
        unknown = [k for k in given if k not in params]
        if unknown:
            known = ", ".join(params) or "none"
            raise ParameterError(f"method {method!r} takes no parameter {unknown[0]!r}; its "
                                 f"parameters are: {known}")
        opts = {k: check(given[k]) if k in given else default
                for k, (default, check) in params.items()}
        if "lower" in opts and not opts["lower"] < opts["upper"]:
            raise ParameterError(f"lower={opts['lower']!r} must be below upper={opts['upper']!r}")
        return opts


_OUT_RANGE = {"out_range": ((0.0, 1.0), _check_out_range)}


def _signed_log(values: np.ndarray, scale: float) -> np.ndarray:
    """``sign(v) * log1p(|v| / scale)`` of an array, as a new array."""
    out = np.abs(values)
    if scale != 1.0:
        with np.errstate(over="ignore"):
            out /= out.dtype.type(scale)
    np.log1p(out, out=out)
    if scale < 1.0 and np.isinf(out).any():
        # |v| / scale overflowed: far above scale, log1p(|v| / scale) = log|v| - log(scale)
        huge = np.isinf(out)
        out[huge] = np.log(np.abs(values[huge])) - out.dtype.type(math.log(scale))
    np.copysign(out, values, out=out)
    return cast(np.ndarray, out)


def _onto(t: np.ndarray, out_range: tuple[float, float], clip: bool) -> np.ndarray:
    """Map t (0..1 over the statistics' range) onto out_range, in place.

    ``clip`` when every value lies within the statistics' range, so that only
    float rounding could take a result past the ends.
    """
    lo, hi = out_range
    kind = t.dtype.type
    if (lo, hi) != (0.0, 1.0):
        t *= kind(hi - lo)
        t += kind(lo)
    elif not clip:
        return t
    if clip:
        np.clip(t, kind(min(lo, hi)), kind(max(lo, hi)), out=t)
    return t


def _affine(x: np.ndarray, offset: float, ends: tuple[float, float],
            own: tuple[float, float], *, in_place: bool = False) -> np.ndarray:
    """``(x - offset) / (ends[1] - ends[0])`` as a new array of x's dtype, without overflow.

    ``offset`` and ``own`` (x's range) lie within x's float range; the divisor
    > 0 may not (a span across the whole float line, an L2 norm, a spread of
    subnormal numbers), so it is given by its two ends. ``in_place``: write
    into ``x`` (a temporary of the caller's) instead of a new array.
    """
    kind = x.dtype.type
    info = np.finfo(x.dtype)
    reach = max(abs(own[0] - offset), abs(own[1] - offset))
    div = ends[1] - ends[0]
    if reach <= float(info.max) and float(info.tiny) <= div <= float(info.max):
        out: np.ndarray = np.subtract(x, kind(offset), out=x if in_place else None)
        out /= kind(div)
        return out
    out = x if in_place else np.empty_like(x)  # chunk by chunk: each read before written
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    if x.dtype == np.float32:
        # float64 holds every intermediate; work in chunks (no full-size copy)
        for start in range(0, flat_in.size, _CHUNK):
            part = flat_in[start:start + _CHUNK].astype(np.float64)
            part -= offset
            part /= div
            flat_out[start:start + _CHUNK] = part
        return out
    # float64: halve x - offset when it (or the divisor) overflows; a power of two
    # brings the divisor near 1 and the quotient into range before dividing
    halve = reach > float(info.max) or not math.isfinite(div)
    if halve:
        div = ends[1] / 2 - ends[0] / 2
    if not div > 0:  # a spread below float64's resolution: no scale
        out[...] = 0
        return out
    exponent = math.frexp(div)[1]
    scaled = math.ldexp(div, -exponent)
    for start in range(0, flat_in.size, _CHUNK):
        chunk = flat_in[start:start + _CHUNK]
        part = chunk * 0.5 if halve else chunk.copy()
        part -= offset / 2 if halve else offset
        part = np.ldexp(part, -exponent)
        part /= scaled
        flat_out[start:start + _CHUNK] = part
    return out


# _FALSE_OVERFLOW: NumPy 1.26's vector division sets the overflow flag when it divides
# subnormal numbers, even when the quotient is at most 1 (5e-324 / 5e-324 warns there,
# not in NumPy 2). Where the quotient cannot exceed 1 in size, that flag is ignored.


def _constant(x: np.ndarray, s: _Stats, opts: dict[str, Any]) -> np.ndarray | None:
    """The result when the statistics have no scale (a constant array), else None."""
    if s.count == 0 or _no_scale(s.min, s.max):
        zero = opts["out_range"][0] if "out_range" in opts else 0.0
        return np.full(x.shape, zero, x.dtype)
    return None


# Each method applied with statistics ``s`` to float array ``x`` (a new array); ``inside``:
# every value lies within the statistics' range; ``own``: x's (min, max).

def _scale_l2(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
              own: tuple[float, float]) -> np.ndarray:
    if opts["axis"] is not None:
        raise AssertionError("per-vector l2 is handled by _l2_vectors")
    norm, shift = s.norm() if s.count else (0.0, 0)
    if norm == 0:
        return np.zeros_like(x)
    if shift:  # float64 beyond 2**400: divide the scaled values (exact powers of two)
        return cast(np.ndarray, np.ldexp(x, -shift) / norm)
    return _affine(x, 0.0, (0.0, norm), own)


def _scale_maxabs(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                  own: tuple[float, float]) -> np.ndarray:
    peak = max(abs(s.min), abs(s.max)) if s.count else 0.0
    if peak == 0:
        return np.zeros_like(x)
    with np.errstate(over="ignore"):  # |x| <= peak: see _FALSE_OVERFLOW
        return cast(np.ndarray, np.divide(x, x.dtype.type(peak)))


def _scale_zscore(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                  own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    if not s.m2 > 0:  # a spread lost below float64's resolution
        return np.zeros_like(x)
    if s.shift:  # float64 beyond 2**+-400: work on the scaled values, chunk by chunk
        out = np.empty_like(x)
        std = math.sqrt(s.m2 / s.count)
        for start in range(0, x.size, _CHUNK):
            part = np.ldexp(x.reshape(-1)[start:start + _CHUNK], -s.shift)
            part -= s.mean
            part /= std
            out.reshape(-1)[start:start + _CHUNK] = part
        return out
    return _affine(x, s.true_mean, (0.0, s.std), own)


def _minmax_ratio(x: np.ndarray, s: _Stats, own: tuple[float, float]) -> np.ndarray:
    """``(x - min) / (max - min)`` as a new array."""
    kind = x.dtype.type
    low, high = kind(s.min), kind(s.max)
    with np.errstate(over="ignore"):
        span = high - low   # rounded as x's own max - min: max -> exactly 1
    if np.isfinite(span) and max(abs(own[0] - s.min), abs(own[1] - s.min)) <= span:
        out: np.ndarray = np.subtract(x, low)
        with np.errstate(over="ignore"):  # |x - low| <= span: see _FALSE_OVERFLOW
            out /= span
        return out
    return _affine(x, s.min, (s.min, s.max), own)


def _scale_minmax(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                  own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    out = _minmax_ratio(x, s, own)
    # Inside [min, max] the ratio stays in [0, 1] exactly; only the mapping rounds.
    return _onto(out, opts["out_range"], inside and opts["out_range"] != (0.0, 1.0))


def _scale_gamma(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                 own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    out = _minmax_ratio(x, s, own)
    sign = np.sign(out) if not inside else None
    np.abs(out, out=out)
    np.power(out, x.dtype.type(opts["gamma"]), out=out)
    if sign is not None:
        out *= sign
    return _onto(out, opts["out_range"], inside and opts["out_range"] != (0.0, 1.0))


def _scale_log(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
               own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    ends = _signed_log(np.array([s.min, s.max], x.dtype), opts["scale"])
    lo, hi = float(ends[0]), float(ends[1])
    if _no_scale(lo, hi):
        return np.full(x.shape, opts["out_range"][0], x.dtype)
    out = _signed_log(x, opts["scale"])
    out -= ends[0]
    with np.errstate(over="ignore"):  # |out| <= the span: see _FALSE_OVERFLOW
        out /= ends[1] - ends[0]
    return _onto(out, opts["out_range"], inside)


def _scale_robust(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                  own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    kind = x.dtype.type
    p_lo, p_hi = s.percentile(opts["lower"]), s.percentile(opts["upper"])
    if _no_scale(p_lo, p_hi):
        # Empty window (most values equal, e.g. a blank page with a few strokes):
        # the limit of the clipped ramp is a step at the window.
        out = np.greater(x, kind(p_hi)).astype(x.dtype)
    else:
        out = _clipped_ramp(x, p_lo, p_hi)
    # in [0, 1] already (a step or a clipped ramp): only a mapping onto another range rounds
    return _onto(out, opts["out_range"], opts["out_range"] != (0.0, 1.0))


def _scale_equalize(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                    own: tuple[float, float]) -> np.ndarray:
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    kind = x.dtype.type
    ends = np.empty(2, np.float64)
    s.mid_ranks(np.array([s.min, s.max]), ends)
    if ends[1] <= ends[0]:  # every value in one histogram bin
        return np.full(x.shape, opts["out_range"][0], x.dtype)
    out = np.empty(x.shape, x.dtype)
    s.mid_ranks(x, out)
    out -= kind(ends[0])
    out /= kind(ends[1] - ends[0])
    return _onto(out, opts["out_range"], True)


def _scale_exposure(x: np.ndarray, s: _Stats, opts: dict[str, Any], inside: bool,
                    own: tuple[float, float]) -> np.ndarray:
    """``clip(level * (x - b) / (P_upper - b), 0, 1)``, ``b = black * P_lower`` (see exposure)."""
    flat = _constant(x, s, opts)
    if flat is not None:
        return flat
    black = opts["black"] * s.percentile(opts["lower"])
    reference = s.percentile(opts["upper"])
    if not reference > black or _no_scale(black, reference):
        # The reference is not above the black point (e.g. a blank page with a few
        # strokes, or a texture with almost nothing drawn): the strongest value takes its place.
        reference = s.max
        if not reference > black or _no_scale(black, reference):  # nothing above black
            return np.full(x.shape, opts["out_range"][0], x.dtype)
    # The value that reaches 1.
    top = min(black + (reference - black) / opts["level"], float(np.finfo(x.dtype).max))
    # the ramp is clipped to [0, 1]: only a mapping onto another range rounds
    return _onto(_clipped_ramp(x, black, top), opts["out_range"], opts["out_range"] != (0.0, 1.0))


def _clipped_ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    """``(clip(x, low, high) - low) / (high - low)``: 0 at ``low``, exactly 1 at ``high``.

    Clipping first keeps far outliers from overflowing when divided by a small
    window; the clipped copy is the result's memory (no second temporary).
    """
    kind = x.dtype.type
    window = np.clip(x, kind(low), kind(high))
    out = _affine(window, low, (low, high), (low, high), in_place=True)
    np.clip(out, kind(0), kind(1), out=out)
    return out


def _l2_vectors(x: np.ndarray, mask: np.ndarray | None, axis: int) -> np.ndarray:
    if not -x.ndim <= axis < x.ndim:
        raise ParameterError(f"axis={axis} is out of range for an array of {x.ndim} "
                             "dimensions")
    # Divide each vector by its largest |entry| first, so that squares can neither
    # overflow nor vanish: x / |x| = (x / m) / |x / m|.
    scaled: np.ndarray = np.abs(x)
    if mask is not None:
        scaled[~mask] = 0
    peak = np.max(scaled, axis=axis, keepdims=True)
    peak[peak == 0] = 1  # zero vectors stay zero
    np.divide(x, peak, out=scaled)
    if mask is not None:
        squares = np.where(mask, scaled, 0)
        squares *= squares
    else:
        squares = np.square(scaled)
    norm = np.sqrt(np.add.reduce(squares, axis=axis, keepdims=True))
    del squares
    norm[norm == 0] = 1
    scaled /= norm
    return scaled


def _new_stats(method: str, opts: dict[str, Any]) -> _Stats:
    entry = NORMALIZE_METHODS[method]
    return _Stats(entry.moments and opts.get("axis") is None, entry.histogram)


def _run(method: str, x: ArrayLike, mask: ArrayLike | None, stats: _Stats | None,
         opts: dict[str, Any],
         name: str = "x") -> tuple[np.ndarray, _Stats | None]:
    """Normalize x: fit statistics (unless given), then scale. Returns (out, stats)."""
    x = _as_float(x, name)
    mask = as_mask(mask, x.shape, name)
    if x.size == 0:
        return np.zeros(x.shape, x.dtype), stats
    flat = x.reshape(-1)
    values = flat if mask is None else x[mask]
    own = None
    if stats is None:
        stats = _new_stats(method, opts)
        stats.add(values, name, mask is not None)
        if mask is None:
            own = (stats.min, stats.max)
    # Non-finite values are only allowed where the mask excludes them.
    bad = None
    if own is None:
        lo, hi = float(np.min(x)), float(np.max(x))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = ~np.isfinite(x)
            if mask is None or (bad & mask).any():
                count = int(np.count_nonzero(bad if mask is None else bad & mask))
                _raise_non_finite(count, name, mask is not None)
        own = (lo, hi)
    inside = bad is None and stats.count > 0 and stats.min <= own[0] and own[1] <= stats.max
    # Outside the statistics' range a value can scale past the float range: saturate.
    with np.errstate(invalid="ignore", over="ignore", divide="ignore") if not inside \
            else contextlib.nullcontext():
        if method == "l2" and opts["axis"] is not None:
            out = _l2_vectors(x, mask, opts["axis"])
        else:
            # _run serves the methods with statistics (a scale); the others: _run_registered
            scale = cast("Callable[..., np.ndarray]", NORMALIZE_METHODS[method].scale)
            out = scale(x, stats, opts, inside, own)
    if bad is not None:
        out[bad] = opts["out_range"][0] if "out_range" in opts else 0.0
    if not inside and out.size and not np.isfinite(np.max(np.abs(out))):
        top = np.finfo(out.dtype).max
        np.nan_to_num(out, copy=False, nan=0.0, posinf=top, neginf=-top)
    return out, stats


# ----------------------------------------------------------------------------------------
# public methods


def minmax(x: ArrayLike, *, mask: ArrayLike | None = None,
           out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Min-max scaling ``(x - min) / (max - min)`` mapped onto ``out_range``.

    The minimum goes to ``out_range[0]``, the maximum to ``out_range[1]``
    exactly; order is preserved. No scale (constant) gives ``out_range[0]``.
    Same as scikit-learn's ``MinMaxScaler(feature_range=out_range)`` on the
    flattened array.

    Parameters
    ----------
    x : ndarray
        Any numeric array.
    mask : ndarray of bool, optional
        Statistics from ``x[mask]`` only.
    out_range : (float, float)
        Output range; ``(1, 0)`` inverts.

    Returns
    -------
    ndarray
        float32 (float64 for float64 input), same shape as ``x``.

    Examples
    --------
    >>> minmax(np.array([2.0, 4.0, 6.0])).tolist()
    [0.0, 0.5, 1.0]
    >>> minmax(np.array([5.0, 5.0])).tolist()
    [0.0, 0.0]
    """
    return _run("minmax", x, mask, None, NORMALIZE_METHODS["minmax"].options(
        "minmax", {"out_range": out_range}))[0]


def zscore(x: ArrayLike, *, mask: ArrayLike | None = None) -> NDArray[np.floating[Any]]:
    """Standard score ``(x - mean) / std`` with the population std (``ddof=0``).

    Same as scikit-learn's ``StandardScaler`` on the flattened array. No scale
    (constant) gives zeros.

    Examples
    --------
    >>> zscore(np.array([1.0, 3.0])).tolist()
    [-1.0, 1.0]
    """
    return _run("zscore", x, mask, None, {})[0]


def l2(x: ArrayLike, *, mask: ArrayLike | None = None,
       axis: int | None = None) -> NDArray[np.floating[Any]]:
    """Divide by the Euclidean norm, over the array or per vector along ``axis``.

    With ``axis=None`` the norm is ``sqrt(sum(x[mask] ** 2))`` over the whole
    array; with an ``axis`` each vector along it is divided by its own norm (of
    its masked entries), so ``axis=-1`` on stacked ``(gx, gy)`` gives unit
    gradient vectors. Zero vectors stay zero. Same as scikit-learn's
    ``Normalizer(norm="l2")``.

    Examples
    --------
    >>> l2(np.array([3.0, 4.0])).tolist()
    [0.6, 0.8]
    >>> l2(np.array([[3.0, 4.0], [0.0, 0.0]]), axis=-1).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    return _run("l2", x, mask, None, NORMALIZE_METHODS["l2"].options("l2", {"axis": axis}))[0]


def robust(x: ArrayLike, *, mask: ArrayLike | None = None, lower: float = 1.0,
           upper: float = 99.0,
           out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Min-max between two percentiles, clipped: one bright speck cannot dim the drawing.

    ``clip((x - P_lower) / (P_upper - P_lower), 0, 1)`` onto ``out_range``,
    with percentiles as ``np.percentile`` (linear), estimated from the
    histogram to within 0.05 % (see the module notes). No scale (constant array) gives
    ``out_range[0]``. If the window is empty (``P_lower == P_upper`` although
    the array varies: more than ``upper - lower`` % of the values are equal,
    e.g. a blank page with a few strokes) the result is the limiting step:
    ``out_range[1]`` above the window, ``out_range[0]`` elsewhere. Order is
    preserved (not strictly); the result always lies in ``out_range``.

    Examples
    --------
    >>> x = np.arange(101.0)
    >>> x[-1] = 1e6                     # a speck
    >>> robust(x, lower=0, upper=99)[[0, 50, 99, 100]].round(6).tolist()
    [0.0, 0.505051, 1.0, 1.0]
    """
    opts = NORMALIZE_METHODS["robust"].options("robust", {"lower": lower, "upper": upper,
                                               "out_range": out_range})
    return _run("robust", x, mask, None, opts)[0]


def maxabs(x: ArrayLike, *, mask: ArrayLike | None = None) -> NDArray[np.floating[Any]]:
    """Divide by the largest absolute value: ``x / max(|x|)``, in [-1, 1], zero stays zero.

    Same as scikit-learn's ``MaxAbsScaler`` on the flattened array.

    Examples
    --------
    >>> maxabs(np.array([-2.0, 1.0, 4.0])).tolist()
    [-0.5, 0.25, 1.0]
    """
    return _run("maxabs", x, mask, None, {})[0]


def log(x: ArrayLike, *, mask: ArrayLike | None = None, scale: float = 1.0,
        out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Logarithmic compression then min-max: ``sign(x) * log1p(|x| / scale)``.

    Negative values keep their sign (the curve is odd and increasing), so order
    is preserved. ``scale`` sets where compression starts: values well below it
    stay nearly linear; gradient magnitudes (intensity per pixel, mostly below
    0.1) compress visibly with ``scale=0.01``.

    Examples
    --------
    >>> log(np.array([0.0, np.e - 1, np.e ** 2 - 1])).round(6).tolist()
    [0.0, 0.5, 1.0]
    """
    opts = NORMALIZE_METHODS["log"].options("log", {"scale": scale, "out_range": out_range})
    return _run("log", x, mask, None, opts)[0]


def gamma(x: ArrayLike, *, mask: ArrayLike | None = None, gamma: float = 0.5,
          out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Min-max to [0, 1], then the power ``t ** gamma``, onto ``out_range``.

    ``gamma < 1`` brightens faint strokes, ``gamma > 1`` darkens them. Values
    below the statistics' minimum (with a mask or a fitted :class:`Normalizer`)
    keep their sign: ``-(|t| ** gamma)``.

    Examples
    --------
    >>> gamma(np.array([0.0, 1.0, 4.0]), gamma=0.5).tolist()
    [0.0, 0.5, 1.0]
    """
    opts = NORMALIZE_METHODS["gamma"].options("gamma", {"gamma": gamma, "out_range": out_range})
    return _run("gamma", x, mask, None, opts)[0]


def exposure(x: ArrayLike, *, mask: ArrayLike | None = None, lower: float = 50.0,
             upper: float = 97.5, black: float = 2.0, level: float = 0.8,
             out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Expose a drawing's strokes: paper and its texture black, the strokes bright.

    ``clip(level * (x - b) / (P_upper - b), 0, 1)`` onto ``out_range``, with the
    black point ``b = black * P_lower`` and percentiles as :func:`robust` (from
    the histogram). Made for gradient magnitudes (values >= 0), where the
    defaults read:

    - the median gradient is the paper's (most of a drawing's pixels are paper
      or the inside of a flat wash), and twice it is black: a texture of
      Gaussian grain or noise has Rayleigh-distributed gradient magnitudes, of
      which only 1/16 exceed twice their median, so paper grain and scanner
      noise stay dark (and the weakest half of the pixels is black);
    - the median of the strongest 5 % (``P97.5``: the strokes) shows at
      brightness ``level`` = 0.8, and only gradients stronger than
      ``b + (P_upper - b) / level`` saturate (about 1 % of a drawing's pixels).

    Neither end depends on a single pixel, so a speck, a page edge or a
    shadow cannot dim the drawing (as with :func:`minmax`), and the result does
    not depend on how much of the page is drawn on (as :func:`robust`'s
    ``P99`` does).

    Degenerate cases: no scale (constant array) gives ``out_range[0]``. If
    ``P_upper`` is not above the black point (a blank page with a few strokes:
    ``P_lower == P_upper == 0``) the maximum takes its place; if nothing
    exceeds the black point the result is ``out_range[0]``. Order is preserved
    (not strictly); the result always lies in ``out_range``.

    Parameters
    ----------
    x : ndarray
        Any numeric array.
    mask : ndarray of bool, optional
        Statistics from ``x[mask]`` only.
    lower, upper : float
        Percentages (``lower < upper``): the paper's level and the strokes'.
    black : float
        The black point as a multiple of ``P_lower`` (>= 0; 1 cuts at the
        percentile itself).
    level : float
        Output of the reference ``P_upper``, in (0, 1].
    out_range : (float, float)
        Output range.

    Examples
    --------
    >>> x = np.r_[np.full(60, 0.01), np.linspace(0.03, 0.1, 39), 5.0]  # paper, strokes, speck
    >>> out = exposure(x)
    >>> float(out[:60].max()), round(float(np.percentile(out, 97.5)), 3), float(out[-1])
    (0.0, 0.8, 1.0)
    """
    opts = NORMALIZE_METHODS["exposure"].options(
        "exposure", {"lower": lower, "upper": upper, "black": black, "level": level,
                     "out_range": out_range})
    return _run("exposure", x, mask, None, opts)[0]


def equalize(x: ArrayLike, *, mask: ArrayLike | None = None,
             out_range: tuple[float, float] = (0.0, 1.0)) -> NDArray[np.floating[Any]]:
    """Histogram equalization: each value becomes its rank, spread evenly over out_range.

    The rank is the mid-rank of the value's histogram bin (the values below
    the bin plus half of those in it), rescaled so that the minimum maps to
    ``out_range[0]`` and the maximum to ``out_range[1]``; for distinct values
    that is ``rank / (n - 1)``, and equal values share one output. Order is
    preserved (not strictly). If every value falls into one histogram bin
    (a spread below about 0.05 %) the result is ``out_range[0]``.

    Examples
    --------
    >>> equalize(np.array([1.0, 10.0, 100.0, 1000.0, 10.0])).tolist()
    [0.0, 0.375, 0.75, 1.0, 0.375]
    """
    return _run("equalize", x, mask, None, NORMALIZE_METHODS["equalize"].options(
        "equalize", {"out_range": out_range}))[0]


def _entry(func: Callable[..., np.ndarray], scale: Callable[..., np.ndarray],
           params: dict[str, tuple[Any, Callable[[Any], Any]]],
           unit: str = "range", **statistics: bool) -> NormalizeMethod:
    return NormalizeMethod(func, first_doc_line(func), unit, params, scale, **statistics)


#: The normalizations by name. Read it as a mapping; add to it with
#: :func:`register_normalization`.
NORMALIZE_METHODS: dict[str, NormalizeMethod] = {
    "minmax": _entry(minmax, _scale_minmax, dict(_OUT_RANGE)),
    "zscore": _entry(zscore, _scale_zscore, {}, "sigma", moments=True),
    "l2": _entry(l2, _scale_l2, {"axis": (None, _check_axis)}, "peak", moments=True),
    "robust": _entry(robust, _scale_robust, {"lower": (1.0, _check_percent("lower")),
                                             "upper": (99.0, _check_percent("upper")),
                                             **_OUT_RANGE}, histogram=True),
    "maxabs": _entry(maxabs, _scale_maxabs, {}, "abs"),
    "log": _entry(log, _scale_log, {"scale": (1.0, _check_positive("scale")), **_OUT_RANGE}),
    "gamma": _entry(gamma, _scale_gamma, {"gamma": (0.5, _check_positive("gamma")),
                                          **_OUT_RANGE}),
    "equalize": _entry(equalize, _scale_equalize, dict(_OUT_RANGE), histogram=True),
    "exposure": _entry(exposure, _scale_exposure,
                       {"lower": (50.0, _check_percent("lower")),
                        "upper": (97.5, _check_percent("upper")),
                        "black": (2.0, _check_black), "level": (0.8, _check_level),
                        **_OUT_RANGE}, histogram=True),
}


def register_normalization(name: str, func: Callable[..., np.ndarray], *,
                           doc: str | None = None, unit: str = "range") -> NormalizeMethod:
    """Add a normalization that then works everywhere a normalization name is taken.

    That is :func:`normalize`, :func:`to_unit`, the pipeline (whole and tiled),
    ``PipelineConfig`` and ``sketchgrad methods``.

    Parameters
    ----------
    name : str
        The method's name (``normalize=name``); must not be taken.
    func : callable
        ``func(x, **params) -> array``: ``x`` is a float array (float32 for
        float32 input), ``params`` are the keywords given to :func:`normalize`
        (``mask=`` only when a mask is given). Return an array of ``x``'s shape;
        non-finite results are an error.
    doc : str, optional
        One-line description (default: the first line of ``func``'s docstring).
    unit : str
        How :func:`to_unit` brings the result to [0, 1] for display, one of
        ``UNIT_RULES``: ``"range"`` (results in [0, 1], clipped), ``"sigma"``
        (+-3 as the ends), ``"abs"`` (``|x|`` clipped) or ``"peak"``
        (``|x| / max(|x|)``).

    Returns
    -------
    NormalizeMethod
        The registered entry.

    Notes
    -----
    A method registered so keeps no mergeable statistics. The pipeline therefore
    applies it to the **whole** image's gradient magnitude, also when it computes
    in tiles: the tiles' magnitudes are gathered into one full-size float32 plane,
    ``func`` runs once on it, and each tile takes its part (tiled equals whole;
    the cost is that plane, 4 bytes per pixel, also in ``process_to_files``).
    :class:`Normalizer` refuses such a method, so ``normalize_scope="batch"``
    cannot use it.

    Examples
    --------
    >>> def halve(x, **params):
    ...     "Half the value, clipped to [0, 1]."
    ...     return np.clip(x / 2, 0, 1)
    >>> _ = register_normalization("halve_doc", halve)
    >>> normalize(np.array([0.5, 1.0], np.float32), "halve_doc").tolist()
    [0.25, 0.5]
    >>> del NORMALIZE_METHODS["halve_doc"]
    """
    line = registered_doc(name, func, doc)
    if unit not in UNIT_RULES:
        raise ParameterError(f"unit={unit!r} for method {name!r}: choose one of "
                             f"{', '.join(UNIT_RULES)}")
    entry = NormalizeMethod(func, line, unit)
    add_entry(NORMALIZE_METHODS, name, entry, "register_normalization")
    return entry


def _run_registered(method: str, entry: NormalizeMethod, x: ArrayLike, mask: ArrayLike | None,
                    given: dict[str, Any]) -> NDArray[np.floating[Any]]:
    """A registered method (no statistics of its own): checked input, checked result."""
    x = _as_float(x)
    if mask is not None:
        given["mask"] = as_mask(mask, x.shape, "x")
    elif x.size and not np.isfinite(x).all():
        _raise_non_finite(_count_non_finite(x), "x", False)
    out = np.asarray(entry.func(x, **given))
    if out.shape != x.shape:
        raise ParameterError(f"normalization {method!r} returned shape {out.shape} for x of "
                             f"shape {x.shape}; a normalization must keep the shape")
    out = out.astype(x.dtype, copy=False)
    if out.size and not np.isfinite(out).all():
        raise ParameterError(f"normalization {method!r} returned {_count_non_finite(out)} "
                             "non-finite values; fix the method for this input")
    return out


def _given(out_range: tuple[float, float] | None, axis: int | None,
           params: dict[str, Any]) -> dict[str, Any]:
    given = dict(params)
    if out_range is not None:
        given["out_range"] = out_range
    if axis is not None:
        given["axis"] = axis
    return given


def normalize(x: ArrayLike, method: str = "minmax", *, mask: ArrayLike | None = None,
              out_range: tuple[float, float] | None = None, axis: int | None = None,
              **params: Any) -> NDArray[np.floating[Any]]:
    """Normalize an array with a method from ``NORMALIZE_METHODS``.

    Parameters
    ----------
    x : ndarray
        Any numeric array (image, gradient magnitude, stacked gradients...).
    method : str
        A key of ``NORMALIZE_METHODS``: minmax, zscore, l2, robust, maxabs,
        log, gamma, equalize, exposure.
    mask : ndarray of bool, optional
        Statistics come from ``x[mask]`` only (the ink, not the paper); the
        result covers all of ``x``.
    out_range : (float, float), optional
        Output range of minmax, robust, log, gamma, equalize and exposure
        (default ``(0, 1)``); an error for the others.
    axis : int, optional
        l2 only: normalize each vector along this axis.
    **params
        Method options: ``lower``, ``upper`` (robust, exposure: percentages),
        ``black``, ``level`` (exposure), ``scale`` (log), ``gamma`` (gamma). Unknown names
        raise ``ParameterError``.

    Returns
    -------
    ndarray
        float32 for float32 (or integer) input, float64 for float64.

    Raises
    ------
    ParameterError
        Unknown method or parameter, a bad parameter value, a mask of another
        shape, or non-finite values the mask does not exclude (counted).

    Examples
    --------
    >>> normalize(np.array([1.0, 2.0, 3.0]), "minmax", out_range=(-1, 1)).tolist()
    [-1.0, 0.0, 1.0]
    >>> normalize(np.array([1.0, 3.0]), "zscore").tolist()
    [-1.0, 1.0]
    """
    entry = choose(NORMALIZE_METHODS, method, "method")
    if entry.scale is None:
        return _run_registered(method, entry, x, mask, _given(out_range, axis, params))
    opts = entry.options(method, _given(out_range, axis, params))
    return _run(method, x, mask, None, opts)[0]


def to_unit(x: ArrayLike, method: str, *, out_range: tuple[float, float] | None = None,
            copy: bool = True) -> NDArray[np.floating[Any]]:
    """Bring a method's output to [0, 1] for display.

    =====================================  ======================================
    method                                 rule
    =====================================  ======================================
    minmax, robust, log, gamma, equalize,  ``out_range`` mapped to [0, 1], clipped
    exposure
    zscore                                 ``(x + 3) / 6`` clipped: +-3 sigma
    maxabs                                 ``|x|`` clipped: strength, either sign
    l2                                     ``|x| / max(|x|)`` (this array's peak)
    =====================================  ======================================

    Clipping only matters for values outside the statistics' range (a mask or
    a :class:`Normalizer` fitted on other arrays).

    Parameters
    ----------
    x : ndarray
        Output of ``normalize(..., method)`` or ``Normalizer(method).transform``.
    method : str
        The method that produced ``x``.
    out_range : (float, float), optional
        The ``out_range`` that was given to the method (default (0, 1)).
    copy : bool
        If False, a float32/float64 ``x`` may be changed in place and returned.

    Returns
    -------
    ndarray
        Same dtype as ``x`` (float32 for others), values in [0, 1].

    Examples
    --------
    >>> to_unit(np.array([-3.0, 0.0, 6.0]), "zscore").tolist()
    [0.0, 0.5, 1.0]
    >>> to_unit(np.array([-1.0, 0.5, 1.0]), "minmax", out_range=(-1, 1)).tolist()
    [0.0, 0.75, 1.0]
    """
    rule = choose(NORMALIZE_METHODS, method, "method").unit
    given = np.asarray(x)
    out = _as_float(given)
    if copy and out is given:
        out = out.copy()
    if out.size == 0:
        return out
    lo, hi = float(np.min(out)), float(np.max(out))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        _raise_non_finite(_count_non_finite(out), "x", False)
    kind = out.dtype.type
    if rule == "sigma":
        out += kind(3)
        out /= kind(6)
    elif rule in ("abs", "peak"):
        np.abs(out, out=out)
        if rule == "peak":
            peak = max(abs(lo), abs(hi))
            if peak == 0:
                return out
            out /= kind(peak)
    else:
        a, b = sorted((0.0, 1.0) if out_range is None else _check_out_range(out_range))
        if (a, b) != (0.0, 1.0):
            out -= kind(a)
            out /= kind(b - a)
        elif 0.0 <= lo and hi <= 1.0:
            return out
    np.clip(out, kind(0), kind(1), out=out)
    return out


# ----------------------------------------------------------------------------------------
# Normalizer


class Normalizer:
    """Statistics fitted on many arrays, merged exactly, applied to each.

    One scale for a whole sketchbook, for the tiles of a scan too large for
    memory, or for files spread over worker processes or a Dask cluster.
    ``Normalizer(m, **p).fit(x).transform(x)`` equals ``normalize(x, m, **p)``
    exactly, and statistics fitted on any split of the data and merged equal
    those of the whole (exactly for min/max and histograms, to about 1e-15
    relative for mean and M2).

    Parameters
    ----------
    method : str
        A key of ``NORMALIZE_METHODS``.
    **params
        The method's parameters, as for :func:`normalize` (``out_range``,
        ``axis``, ``lower``, ``upper``, ``scale``, ``gamma``); unknown names
        raise ``ParameterError`` here, not later.

    Notes
    -----
    Statistics kept per method: minmax, maxabs, log, gamma: count, min, max;
    zscore and l2: also the mean and M2 (sum of squared deviations) merged by
    Chan's formula (l2's sum of squares is ``M2 + count * mean**2``); robust
    and equalize: also a 2**20-bin histogram over the float32 number line.
    ``l2`` with an ``axis`` divides each vector by its own norm and needs no
    statistics (fitting only checks the values).

    Across processes: a Normalizer pickles (compactly: the histogram is stored
    sparse and compressed), and :meth:`to_dict` / :meth:`from_dict` give a
    JSON-able form. The pattern for a batch::

        # in each worker, per file
        part = Normalizer("robust").partial_fit(magnitude_of(file))
        # in the parent, in a fixed order (the result does not depend on it
        # beyond float rounding of mean/M2)
        total = Normalizer("robust")
        for part in parts:
            total.merge(part)
        # back in the workers
        unit = to_unit(total.transform(magnitude_of(file)), "robust")

    Examples
    --------
    >>> pages = [np.array([0.0, 2.0]), np.array([4.0, 8.0])]
    >>> book = Normalizer("minmax").fit(*pages)
    >>> book.transform(pages[0]).tolist()
    [0.0, 0.25]
    >>> a = Normalizer("zscore").partial_fit(pages[0])
    >>> b = Normalizer("zscore").partial_fit(pages[1])
    >>> round(a.merge(b).statistics["std"], 6) == round(float(np.std(np.r_[0, 2, 4, 8])), 6)
    True
    """

    def __init__(self, method: str = "minmax",
                 **params: Any) -> None:
        entry = choose(NORMALIZE_METHODS, method, "method")
        if entry.scale is None:
            raise ParameterError(f"method {method!r} was registered without statistics, so it "
                                 "cannot be fitted in parts or shared by several arrays; "
                                 "normalize each array on its own (normalize(), "
                                 "normalize_scope='image')")
        self.method = method
        self.params = dict(params)
        self._opts = entry.options(method, self.params)
        self._stats = self._empty()
        self._fitted = False

    def _empty(self) -> _Stats:
        return _new_stats(self.method, self._opts)

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Normalizer({self.method!r}{params}; count={self._stats.count})"

    def partial_fit(self, array: ArrayLike, mask: ArrayLike | None = None) -> Normalizer:
        """Add the values of one array (``array[mask]`` when a mask is given).

        Raises ``ParameterError`` for non-finite values inside the mask.
        Returns the Normalizer itself.
        """
        x = _as_float(array, "array")
        mask = as_mask(mask, x.shape, "array")
        values = x.reshape(-1) if mask is None else x[mask]
        self._stats.add(values, "array", mask is not None)
        self._fitted = True
        return self

    def measure(self, array: ArrayLike, mask: ArrayLike | None = None) -> Measurement:
        """The statistics :meth:`partial_fit` would add for ``array``, without adding them.

        Changes nothing, so it may run in several threads at once (the
        histogram's counting releases the GIL); :meth:`add` then adds each
        result. Added in the order the arrays would be given to
        ``partial_fit``, they give its statistics bit for bit (for arrays of
        more than two million values, the histogram's per-bin sums to float64
        rounding). Raises as ``partial_fit`` does.

        Examples
        --------
        >>> tiles = [np.array([1.0, 2.0]), np.array([3.0, 9.0])]
        >>> book = Normalizer("robust")
        >>> for measured in [book.measure(t) for t in tiles]:   # e.g. in worker threads
        ...     _ = book.add(measured)
        >>> book.statistics == Normalizer("robust").fit(*tiles).statistics
        True
        """
        x = _as_float(array, "array")
        mask = as_mask(mask, x.shape, "array")
        values = x.reshape(-1) if mask is None else x[mask]
        measured = self._stats.measure(values, "array", mask is not None)
        measured.method, measured.options = self.method, dict(self._opts)
        return measured

    def add(self, measured: Measurement) -> Normalizer:
        """Add statistics that :meth:`measure` made; returns the Normalizer itself.

        They must come from a Normalizer of the same method and parameters.
        """
        if not isinstance(measured, Measurement):
            raise ParameterError(f"add: {type(measured).__name__} is not a Measurement; "
                                 "give what Normalizer.measure returned")
        if measured.method != self.method or measured.options != self._opts:
            raise ParameterError(f"add: statistics measured for Normalizer({measured.method!r}"
                                 f") with other parameters cannot be added to {self!r}; "
                                 "measure with a Normalizer of the same method and parameters")
        self._stats.add_measured(measured)
        self._fitted = True
        return self

    def fit(self, *arrays: ArrayLike,
            masks: Sequence[ArrayLike | None] | None = None) -> Normalizer:
        """Forget earlier statistics and fit on all ``arrays`` (each with its mask)."""
        if masks is not None and len(masks) != len(arrays):
            raise ParameterError(f"masks: got {len(masks)} masks for {len(arrays)} arrays; "
                                 "give one per array (None for no mask)")
        self._stats = self._empty()
        for i, array in enumerate(arrays):
            self.partial_fit(array, None if masks is None else masks[i])
        self._fitted = True
        return self

    def merge(self, other: Normalizer) -> Normalizer:
        """Add another Normalizer's statistics (same method and parameters) to these.

        Returns the Normalizer itself (changed in place); ``other`` is unchanged.
        """
        if not isinstance(other, Normalizer):
            raise ParameterError(f"merge: {type(other).__name__} is not a Normalizer")
        if other.method != self.method or other._opts != self._opts:
            raise ParameterError(f"merge: cannot merge {other!r} into {self!r}; the method "
                                 "and parameters must match")
        self._stats.merge(other._stats)
        self._fitted = self._fitted or other._fitted
        return self

    def transform(self, array: ArrayLike, *,
                  mask: ArrayLike | None = None) -> NDArray[np.floating[Any]]:
        """Normalize ``array`` with the fitted statistics.

        ``mask`` does not change the statistics here; it only marks where
        non-finite values are allowed (they come out as zeros, or
        ``out_range[0]``).
        """
        if not self._fitted:
            raise ParameterError("this Normalizer has no statistics yet; call fit() or "
                                 "partial_fit() first")
        return _run(self.method, array, mask, self._stats, self._opts, "array")[0]

    @property
    def count(self) -> int:
        """Number of values the statistics were fitted on."""
        return self._stats.count

    @property
    def statistics(self) -> dict[str, float]:
        """The fitted statistics as plain floats (small; good for logs and provenance).

        Always ``count``, ``min``, ``max``; plus ``mean``, ``std`` (zscore, l2),
        ``norm`` (l2), ``lower_value``, ``upper_value`` (robust, exposure: the percentiles).
        """
        s = self._stats
        d: dict[str, float] = {"count": s.count, "min": s.min, "max": s.max}
        if s.moments:
            d["mean"] = s.true_mean
            d["std"] = s.std
            if self.method == "l2":
                norm, shift = s.norm()
                try:
                    d["norm"] = math.ldexp(norm, shift)
                except OverflowError:
                    d["norm"] = math.inf
        if self.method in ("robust", "exposure") and s.count:
            d["lower_value"] = s.percentile(self._opts["lower"])
            d["upper_value"] = s.percentile(self._opts["upper"])
        return d

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (method, params, statistics) for :meth:`from_dict`."""
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in self._opts.items()}
        return {"method": self.method, "params": params, "fitted": self._fitted,
                "stats": self._stats.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalizer:
        """Rebuild a Normalizer from :meth:`to_dict`'s output."""
        try:
            params = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in data["params"].items()}
            new = cls(data["method"], **params)
            empty = new._empty()
            new._stats = _Stats.from_dict(data["stats"], empty.moments, empty.histogram)
            new._fitted = bool(data.get("fitted", True))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"from_dict: not a Normalizer description ({exc!r})") from None
        return new

    def __getstate__(self) -> dict[str, Any]:
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(Normalizer.from_dict(state).__dict__)
