r"""Stroke directions: the structure tensor's stroke angles, hatching peaks, flow picture and rose.

``stroke_directions`` measures, per pixel, which way the strokes of a drawing
run and how parallel they are, and for the whole drawing a histogram of stroke
angles, its dominant angles (the hatching directions, with their share of the
ink) and one global coherence. ``flow_picture`` draws the direction field as a
line-integral convolution (noise smeared along the strokes, coloured by
angle); ``plot_rose`` draws the histogram as a rose on a matplotlib polar Axes.
``StrokeStatistics`` sums the whole-drawing figures over tiles.

Stroke angles and the gradient convention
-----------------------------------------
Arrays run with x along the columns (right) and y along the rows (*down*); a
gradient's orientation ``arctan2(gy, gx)`` is measured in that frame (0 right,
90 degrees down). People read a page with y *up*, so stroke angles are given
as one sees the page: degrees in [0, 180), 0 horizontal, 45 rising to the right
(``/``), 90 vertical, 135 falling to the right (``\``).

A stroke runs perpendicular to its gradient. The structure tensor
``J = G_sigma * [[gx**2, gx*gy], [gx*gy, gy**2]]`` gives the gradient's axis
``theta = atan2(2*Jxy, Jxx - Jyy) / 2`` (array frame, y down; defined modulo
180 degrees). The stroke's axis in the array frame is ``theta + 90``, and
flipping y to the page frame negates an angle, so the stroke angle is::

    angle = (90 - theta) mod 180 = atan2(2*Jxy, Jyy - Jxx) / 2   (mod 180, degrees)

Example: the stroke ``/`` goes right and *up* the page, i.e. right and to a
smaller row, array direction (1, -1); its gradient lies along (1, 1) (or
(-1, -1), the same axis): ``Jxx = Jyy``, ``Jxy > 0``, so ``theta = 45`` and the
angle is 45. A horizontal stroke has a vertical gradient (``Jyy > Jxx``,
``Jxy = 0``): angle 0. ``np.rot90`` (a quarter turn counter-clockwise as
displayed) adds 90 degrees to every stroke angle, modulo 180.

Coherence ``(l1 - l2) / (l1 + l2)`` from the tensor's eigenvalues, i.e.
``hypot(Jxx - Jyy, 2*Jxy) / (Jxx + Jyy)``: 1 where all gradients in the window
share one axis (parallel strokes), 0 where no axis is preferred (noise,
crossing hatching, a dot) and 0 where there is no gradient at all.

Integration scale
-----------------
``sigma`` (pixels, default ``DEFAULT_SIGMA`` = 3) is the standard deviation of
the Gaussian window ``G_sigma``; the Gaussian is cut at 4 sigma and the border
continues the image by reflection (``dcba|abcd``), as ``gradient_field``'s
default. It is a fixed multiple of the derivative operator's scale (three
times the derivative's one-pixel radius), not a function of the drawing,
chosen by measurement (Scharr derivatives): seeded white noise has a median
coherence of 0.35 at sigma 1, 0.20 at sigma 2 and 0.13 at sigma 3 (0.10 at
4): the window must hold enough independent gradients for "no direction" to
read as low coherence. On the four drawings in ``shared/images`` the median
coherence of the inked pixels (the strongest tenth of ``sqrt(energy)``) is
0.80 to 0.94 at sigma 3 (0.71 to 0.95 at sigma 2, 0.76 to 0.93 at sigma 4),
and the dominant angles of the three drawings with a clear peak (ink castle,
pencil bowl, ruled notebook) move by less than 1 degree between sigma 1 and 4;
the crayon pig, an outline running every way, has four weak peaks that move
by up to 4 degrees. A larger sigma blurs where strokes bend and merges the two
directions of cross-hatching finer than about sigma; wider hatching or a
noisier scan wants a larger one. ``reach(sigma)`` is the halo a tile needs.

Derivative operator
-------------------
The default is Scharr, not the pipeline's Sobel: Sobel's 3x3 window is not
rotation invariant and pulls stroke angles towards the axes. Measured on
sinusoidal hatching at 10 to 80 degrees, Sobel is off by up to 2.8 degrees at a
4-pixel period (1.4 at 6 pixels), Scharr by at most 0.3 (Farid 0.2, with a
5x5 window); on an antialiased 2-pixel line at atan(1/2) = 26.57 degrees
Sobel reads 25.4 and Scharr 26.5. Both have a one-pixel reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import as_mask
from .color import hsv_to_rgb
from .errors import ParameterError, choose
from .gradients import OPERATORS, gradient_field
from .io import as_image

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.projections.polar import PolarAxes

_F32 = NDArray[np.float32]  # for private signatures

__all__ = [
    "DEFAULT_SIGMA",
    "StrokeDirections",
    "StrokeField",
    "StrokeStatistics",
    "stroke_directions",
    "stroke_field",
    "reach",
    "flow_picture",
    "flow_defaults",
    "plot_rose",
]

#: Default integration scale (Gaussian standard deviation of the tensor's window), pixels.
DEFAULT_SIGMA = 3.0

_TRUNCATE = 4.0  # the Gaussian window is cut at this many sigma
_ZERO_ENERGY = 1e-12  # tensor traces at or below this (gradient about 1e-6) count as no gradient
#: Pixels per step of the per-pixel chain (fields, then histogram): the dozen planes of a
#: step stay in a core's L2 cache from one operation to the next.
_CHUNK_PIXELS = 32768
#: Fine histogram bins over 180 degrees (at least): the peaks' angles are refined from the
#: fine bins' centres, within half a fine bin (0.025 degrees) of the pixels' own angles.
_FINE_BINS = 3600


# --------------------------------------------------------------------------- input


def _check_sigma(sigma: float | None) -> float:
    if sigma is None:
        return DEFAULT_SIGMA
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.number)) \
            or not math.isfinite(sigma) or not 0.3 <= sigma <= 1000:
        raise ParameterError(f"sigma={sigma!r} must be a number of pixels between 0.3 and "
                             f"1000 (the integration scale; default {DEFAULT_SIGMA})")
    return float(sigma)


# --------------------------------------------------------------------------- reach


@cache
def _operator_radius(operator: str) -> int:
    """Half-width of an operator's window, measured on an impulse through the public API."""
    choose(OPERATORS, operator, "operator")
    impulse = np.zeros((15, 15), np.float32)
    impulse[7, 7] = 1
    field = gradient_field(impulse, operator, mode="constant")
    touched = np.nonzero((field.gx != 0) | (field.gy != 0))
    return int(max(np.max(np.abs(touched[0] - 7)), np.max(np.abs(touched[1] - 7))))


def _gaussian_radius(sigma: float) -> int:
    return max(1, math.ceil(_TRUNCATE * sigma))


def reach(sigma: float | None = None, operator: str = "scharr") -> int:
    """Halo in pixels a tile needs so that its stroke directions equal the whole image's.

    The Gaussian window's radius (``ceil(4 * sigma)``) plus the derivative
    operator's (1 for Sobel's 3x3, 2 for Farid's 5x5).

    Parameters
    ----------
    sigma : float, optional
        Integration scale in pixels (default ``DEFAULT_SIGMA``).
    operator : str
        A key of ``OPERATORS`` (default ``"scharr"``, as ``stroke_directions``).

    Returns
    -------
    int
        Pixels of halo on every side.

    Examples
    --------
    >>> reach(2.0), reach(2.0, "farid"), reach(0.5)
    (9, 10, 3)
    """
    return _gaussian_radius(_check_sigma(sigma)) + _operator_radius(operator)


# --------------------------------------------------------------------------- tensor


@cache
def _gaussian_kernel(sigma: float) -> _F32:
    """GaussianBlur's own float32 kernel (bit-equal results), made once per sigma."""
    import cv2

    kernel = cast(_F32, cv2.getGaussianKernel(2 * _gaussian_radius(sigma) + 1, sigma,
                                              ktype=cv2.CV_32F))
    kernel.flags.writeable = False  # shared by every call (and thread)
    return kernel


def _smoothed_tensor(image: _F32, sigma: float, operator: str,
                     inside: NDArray[np.bool_] | None) -> tuple[_F32, _F32, _F32]:
    """Smoothed tensor terms ``(Jxx, Jyy, -2 Jxy)``, float32, the channel mean for colour.

    ``-2 Jxy`` is the doubled angle's sine, negated as :func:`_field_chunk` wants it;
    the factor rides in the Gaussian's kernel (a power of two: exact), as does the
    channel mean's ``1 / channels``, so no pass over the planes scales them.
    """
    import cv2

    colour = image.ndim == 3
    across = _gaussian_kernel(sigma)
    # the vertical kernel carries the factors
    down = across * np.float32(1 / image.shape[2]) if colour else across

    def blur(term: _F32, kernel: _F32) -> _F32:
        # In place (the products are ours; OpenCV filters row by row through a buffer):
        # a fresh output plane per blur cost more in page faults than the blur in a run.
        cv2.sepFilter2D(term, cv2.CV_32F, across, kernel, dst=term,
                        borderType=cv2.BORDER_REFLECT)
        return term

    def derivatives(channel: _F32) -> tuple[_F32, _F32]:
        if inside is None:
            # gradient_field(channel, operator) without its checks: as_image's pixels
            # are finite and within [0, 1], so it would only call the operator
            return cast(tuple[_F32, _F32], OPERATORS[operator](channel))
        field = gradient_field(channel, operator, mask=inside)
        return field.gx, field.gy

    if not colour:
        # Each product blurred as soon as it is made, while it is still in the cache
        # (the three planes together outgrow a core's L2).
        gx, gy = derivatives(image)
        sin2 = blur(gx * gy, down * np.float32(-2))
        # the gradients are ours: squared in place
        return (blur(np.multiply(gx, gx, out=gx), down),
                blur(np.multiply(gy, gy, out=gy), down), sin2)
    jxx = jyy = jxy = None
    for c in range(image.shape[2]):
        gx, gy = derivatives(np.ascontiguousarray(image[..., c]))
        if jxx is None or jyy is None or jxy is None:
            jxy = gx * gy
            jxx = np.multiply(gx, gx, out=gx)  # the gradients are ours: square in place
            jyy = np.multiply(gy, gy, out=gy)
        else:
            jxy += gx * gy
            jxx += np.multiply(gx, gx, out=gx)
            jyy += np.multiply(gy, gy, out=gy)
    if jxx is None or jyy is None or jxy is None:  # an image has at least one channel
        raise RuntimeError("the image has no channels")
    return blur(jxx, down), blur(jyy, down), blur(jxy, down * np.float32(-2))


_HALF_DEGREES = np.float32(90 / math.pi)  # stroke degrees per radian of the doubled angle
_BELOW_180 = float(np.nextafter(np.float32(180), np.float32(0)))  # the largest angle kept


def _field_chunk(jxx: _F32, jyy: _F32, sin2: _F32, cos2: _F32, angle: _F32,
                 coherence: _F32 | None, energy: _F32, inside: NDArray[np.bool_] | None) -> None:
    """One chunk of the per-pixel fields from the smoothed tensor, written into the outputs.

    ``sin2`` is ``-2 Jxy`` and ``cos2`` a buffer that receives ``Jxx - Jyy``: the doubled
    stroke angle's components, both negated, so that ``arctan2`` of them lies half a
    turn from the doubled angle and the angle is ``arctan2 * 90 / pi + 90`` in [0, 180]
    without a wrap-around (180 is then set to 0). Where there is no gradient (or
    outside the mask) ``jxx``, ``jyy`` and ``sin2`` are set to 0 too, for the tensor's
    sums. ``coherence`` None: the angle and the energy only, for the figures: the angle
    is then left in [-1e-5, 180] (a hair below 0, a few millionths of a degree, and 180
    are both 0), which :meth:`StrokeStatistics._histogram` bins as 0.
    """
    import cv2

    cv2.add(jxx, jyy, dst=energy)  # OpenCV's add and subtract: a third faster than NumPy's
    cv2.subtract(jxx, jyy, dst=cos2)
    # NumPy's float32 arctan2 is vectorised and exact to an ulp or two (OpenCV's phase
    # is off by up to 0.01 degree, which the summed tensor would feel).
    np.arctan2(sin2, cos2, out=angle)
    # angle * 90 / pi + 90 in one pass (in double: arctan2's -pi gives a hair below 0)
    cv2.addWeighted(angle, float(_HALF_DEGREES), angle, 0.0, 90.0, dst=angle)
    if coherence is not None:  # the figures alone bin both as 0 (see _histogram)
        cv2.threshold(angle, 0, 0, cv2.THRESH_TOZERO, dst=angle)  # below 0 is 0
        cv2.threshold(angle, _BELOW_180, 0, cv2.THRESH_TOZERO_INV, dst=angle)  # and 180 is 0
    # The usual case (a scan's paper has grain): every pixel has a gradient and an axis.
    if coherence is not None:
        cv2.magnitude(cos2, sin2, magnitude=coherence)  # hypot(Jyy - Jxx, 2 Jxy)
        # The trace is at least the magnitude (the tensor is positive semi-definite;
        # twice the threshold covers rounding), so one minimum tells both.
        usual = inside is None and float(coherence.min()) > 2 * _ZERO_ENERGY
    else:
        # A pixel without an axis has sin2 == 0 (and cos2 == 0).
        usual = inside is None and float(energy.min()) > _ZERO_ENERGY \
            and cv2.countNonZero(sin2) == sin2.size
    if not usual:
        none = energy <= _ZERO_ENERGY
        if inside is not None:
            none |= ~inside
        # No preferred axis (an isotropic tensor, or none at all): angle 0, as arctan2's
        # signed zeros would otherwise make it 0 or 90 by chance.
        axisless = none | ((cos2 == 0) & (sin2 == 0))
        if coherence is not None:
            np.divide(coherence, energy, out=coherence, where=~none)
            np.putmask(coherence, none, np.float32(0))
        for plane in (energy, jxx, jyy, sin2):
            np.putmask(plane, none, np.float32(0))
        np.putmask(angle, axisless, np.float32(0))
    elif coherence is not None:
        np.divide(coherence, energy, out=coherence)
    if coherence is not None:
        cv2.threshold(coherence, 1, 1, cv2.THRESH_TRUNC, dst=coherence)  # rounding can pass 1


def _window(window: Any, shape: tuple[int, ...], name: str) -> tuple[slice, slice]:
    """``window`` (two slices of step 1, or None for all) as bounded slices of ``shape``."""
    if window is None:
        return slice(0, shape[0]), slice(0, shape[1])
    if not isinstance(window, tuple) or len(window) != 2 or \
            not all(isinstance(s, slice) and s.step in (None, 1) for s in window):
        raise ParameterError(f"{name}={window!r} must be two slices of rows and columns "
                             "with step 1, e.g. np.s_[10:50, 0:80]")
    (r0, r1, _), (c0, c1, _) = (s.indices(n) for s, n in zip(window, shape[:2], strict=True))
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def _fields(jxx: _F32, jyy: _F32, sin2: _F32, inside: NDArray[np.bool_] | None,
            window: tuple[slice, slice], statistics: StrokeStatistics | None,
            core: tuple[slice, slice], *, keep: bool = True) -> StrokeField | None:
    """The fields on ``window`` of the smoothed tensor; the ``core`` of them added to statistics.

    Chunks of rows small enough for the L2 cache go through the whole per-pixel
    chain (fields, then the histogram), so each plane is read from memory once.
    ``keep=False``: the figures only, of the whole window (no coherence is computed,
    and the angle and energy live in buffers of one chunk).
    """
    import cv2

    rows, cols = window
    height, width = rows.stop - rows.start, cols.stop - cols.start
    step = max(1, _CHUNK_PIXELS // max(1, width))
    planes = (height if keep else min(step, height), width)
    angle, energy = np.empty(planes, np.float32), np.empty(planes, np.float32)
    coherence = np.empty(planes, np.float32) if keep else None
    cos2 = np.empty((min(step, height), width), np.float32)
    scratch = None
    if not keep:
        core = (slice(0, height), slice(0, width))
        if statistics is not None:
            scratch = (np.empty(planes, np.float32), np.empty(planes, np.intp))
    for top in range(0, height, step):
        bottom = min(height, top + step)
        source = (slice(rows.start + top, rows.start + bottom), cols)
        out = slice(top, bottom) if keep else slice(0, bottom - top)
        _field_chunk(jxx[source], jyy[source], sin2[source], cos2[:bottom - top], angle[out],
                     None if coherence is None else coherence[out], energy[out],
                     None if inside is None else inside[source])
        if statistics is not None:
            first, last = max(top, core[0].start), min(bottom, core[0].stop)
            if first < last:
                part = (slice(first, last) if keep else slice(first - top, last - top), core[1])
                statistics._histogram(angle[part], energy[part], scratch)
                if not keep:
                    statistics._count(energy[part])
    if statistics is not None:
        # The summed tensor from the smoothed tensor itself (zero where there is no
        # gradient), once per tile: (Jxx + Jyy, Jyy - Jxx, 2 Jxy).
        where = (slice(rows.start + core[0].start, rows.start + core[0].stop),
                 slice(cols.start + core[1].start, cols.start + core[1].stop))
        xx, yy = cv2.sumElems(jxx[where])[0], cv2.sumElems(jyy[where])[0]
        statistics._add_tensor(xx + yy, yy - xx, -cv2.sumElems(sin2[where])[0])
        if keep:
            statistics._count(energy[core])
    if coherence is None:
        return None
    return StrokeField(angle, coherence, energy)


# --------------------------------------------------------------------------- statistics


class StrokeStatistics:
    """Whole-drawing stroke figures summed over pixels, tile by tile.

    Holds the histogram of stroke angles (weighted by gradient strength) and
    the summed structure tensor, both plain sums: adding tiles' cores one by
    one (or merging statistics of disjoint parts) gives the whole drawing's
    figures up to float64 summation order.

    Parameters
    ----------
    bins : int
        Histogram bins over [0, 180) degrees.
    sigma : float, optional
        The integration scale the added directions were measured with (for
        :meth:`summary`).
    operator : str, optional
        Their derivative operator (for :meth:`summary`).
    counts : bool
        Keep ``strength_counts`` (for :meth:`strength_percentile`, the flow
        picture's reference). Counting adds about a seventh to the time of
        measuring a tile; a run without the flow picture leaves it out.

    Attributes
    ----------
    histogram : ndarray
        float64 (bins,): per bin the sum of ``sqrt(energy)`` (the RMS gradient
        in the window, intensity per pixel) of its pixels.
    bin_edges : ndarray
        float64 (bins + 1,), degrees from 0 to 180.
    vectors : ndarray
        float64 (2, bins): per bin the same weights times ``(cos, sin)`` of
        twice the pixels' angles, for refining peak angles below a bin. Each
        pixel's angle is read at the centre of a fine bin (at most 0.05
        degrees wide: ``bins * ceil(3600 / bins)`` over 180 degrees), so a
        vector's direction is within 0.025 degrees (of the stroke angle) of
        the pixels' own, and so is a refined peak angle.
    tensor : tuple of float
        Summed ``(Jxx + Jyy, Jyy - Jxx, 2 Jxy)`` (the trace and the doubled
        stroke-angle components).
    pixels : int
        Pixels added.
    strength_counts : ndarray or None
        int64: how many pixels have their ``energy`` in each of a fixed set of
        narrow bins (the float32 bit pattern's exponent and top 10 mantissa
        bits: relative width 2**-10), for :meth:`strength_percentile`. Counts
        are exact, so tiles and merges give the whole image's. ``None`` when
        made with ``counts=False``.

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    >>> d = stroke_directions(0.5 + 0.5 * np.sin(x))   # vertical stripes
    >>> left, right = StrokeStatistics(), StrokeStatistics()
    >>> left.add(d, core=np.s_[:, :32]).add(d, core=np.s_[:, 32:]) is left
    True
    >>> round(left.dominant()[0][0]), round(left.overall_coherence, 3)
    (90, 1.0)
    """

    def __init__(self, bins: int = 180, *, sigma: float | None = None,
                 operator: str | None = None, counts: bool = True) -> None:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) \
                or not 4 <= bins <= 3600:
            raise ParameterError(f"bins={bins!r} must be a whole number from 4 to 3600 "
                                 "(histogram bins over 180 degrees; default 180)")
        if not isinstance(counts, (bool, np.bool_)):
            raise ParameterError(f"counts={counts!r} must be True or False (keep the "
                                 "strength counts for strength_percentile)")
        self.bins = int(bins)
        self.sigma = None if sigma is None else _check_sigma(sigma)
        self.operator = operator
        # Sums per fine bin (a whole number of them per bin): the histogram and the
        # doubled-angle vectors are read from them, one weighted count per pixel.
        self._split = -(-_FINE_BINS // self.bins)
        self._fine = np.zeros(self.bins * self._split, np.float64)
        self.tensor: tuple[float, ...] = (0.0, 0.0, 0.0)
        self.pixels = 0
        self.strength_counts: np.ndarray | None = \
            np.zeros(_COUNT_BINS, np.int64) if counts else None

    def __repr__(self) -> str:
        return (f"StrokeStatistics(bins={self.bins}, pixels={self.pixels}, "
                f"dominant={_format_dominant(self.dominant())}, "
                f"overall_coherence={self.overall_coherence:.3f})")

    @property
    def bin_edges(self) -> NDArray[np.float64]:
        """Bin edges in degrees, float64 (bins + 1,) from 0 to 180."""
        return np.linspace(0.0, 180.0, self.bins + 1)

    @property
    def histogram(self) -> NDArray[np.float64]:
        """Per bin the sum of ``sqrt(energy)`` of its pixels, float64 (bins,)."""
        return cast(NDArray[np.float64], self._fine.reshape(self.bins, self._split).sum(axis=1))

    @property
    def vectors(self) -> NDArray[np.float64]:
        """Per bin the weights times ``(cos, sin)`` of twice the angles, float64 (2, bins)."""
        cos, sin = _fine_directions(self._fine.size)
        return np.stack([(self._fine * cos).reshape(self.bins, self._split).sum(axis=1),
                         (self._fine * sin).reshape(self.bins, self._split).sum(axis=1)])

    def add(self, directions: StrokeDirections | StrokeField,
            core: Any = None) -> StrokeStatistics:
        """Add a tile's pixels (or the ``core`` part of them) and return ``self``.

        Parameters
        ----------
        directions : StrokeDirections or StrokeField
            Stroke directions of a tile computed with at least ``reach(sigma)``
            pixels of halo (or of a whole image).
        core : tuple of slice, optional
            The tile's own pixels inside ``directions`` (its halo excluded);
            ``None`` adds every pixel.

        Returns
        -------
        StrokeStatistics
            ``self``, updated.

        See Also
        --------
        stroke_field : with ``statistics=``, adds the figures while it measures
            the field (cheaper: the tensor's sums come from the tensor itself).
        """
        import cv2

        angle, coherence, energy = directions.angle, directions.coherence, directions.energy
        if core is not None:
            angle, coherence, energy = angle[core], coherence[core], energy[core]
        step = max(1, _CHUNK_PIXELS // max(1, angle.shape[1]))
        for start in range(0, angle.shape[0], step):
            rows = slice(start, start + step)
            part_angle, part_energy = angle[rows], energy[rows]
            # The summed tensor in doubled-angle form: trace * coherence * (cos, sin) of
            # twice the angle (NumPy's float32 cos and sin: exact to an ulp or two).
            oriented = part_energy * coherence[rows]
            doubled = np.multiply(part_angle, np.float32(math.pi / 90))
            cos2 = cv2.sumElems(oriented * np.cos(doubled))[0]
            sin2 = cv2.sumElems(np.multiply(oriented, np.sin(doubled, out=doubled),
                                            out=oriented))[0]
            self._histogram(part_angle, part_energy)
            self._add_tensor(cv2.sumElems(part_energy)[0], cos2, sin2)
        self._count(energy)
        return self

    def measure(self, image: Any, *, core: Any = None,
                mask: ArrayLike | None = None) -> StrokeStatistics:
        """Measure an image's stroke directions and add its pixels' figures; return ``self``.

        As ``stroke_field(image, sigma=self.sigma, operator=self.operator,
        mask=mask, window=core, statistics=self)`` (to float rounding: the same
        steps), but without keeping the per-pixel field, which saves about a
        tenth of the time and three planes of memory: the figures of a tile
        whose directions are not drawn.

        Parameters
        ----------
        image : ndarray or Scan
            A tile with at least ``reach(sigma, operator)`` pixels of halo
            around ``core`` (or a whole image), as :func:`stroke_directions`
            takes it.
        core : tuple of slice, optional
            ``(rows, columns)`` of the pixels to add, slices of step 1 (a
            tile's own pixels); default all.
        mask : ndarray of bool, optional
            As :func:`stroke_directions`.

        Returns
        -------
        StrokeStatistics
            ``self``, updated. The integration scale and operator are the
            recorded ones (``DEFAULT_SIGMA`` and ``"scharr"`` where none is).

        Examples
        --------
        >>> y, x = np.mgrid[0:40, 0:64].astype(np.float32)
        >>> s = StrokeStatistics().measure(0.5 + 0.5 * np.sin(y), core=np.s_[13:27, :])
        >>> s.pixels, round(s.dominant()[0][0])
        (896, 0)
        """
        sigma = DEFAULT_SIGMA if self.sigma is None else self.sigma
        operator = "scharr" if self.operator is None else self.operator
        choose(OPERATORS, operator, "operator")
        _measure(image, sigma, operator, mask, core, self, None, keep=False, name="core")
        return self

    def _add_tensor(self, total: float, cos2: float, sin2: float) -> None:
        """Add summed ``(Jxx + Jyy, Jyy - Jxx, 2 Jxy)``."""
        old = self.tensor
        self.tensor = (old[0] + total, old[1] + cos2, old[2] + sin2)

    def _histogram(self, angle: _F32, energy: _F32,
                   scratch: tuple[_F32, NDArray[np.intp]] | None = None) -> None:
        """Add pixels (2-D planes of their angles and energies) to the histogram.

        ``scratch``: buffers (float32 and intp planes of at least the pixels' rows, their
        width) for the weights and bin indices, given for a chunk of figures alone,
        whose angles are :func:`_field_chunk`'s unclamped ones (and are overwritten): a
        hair below 0 counts as 0 (the bin index is truncated toward zero), and exactly
        180 as 0 too.
        """
        if angle.size == 0:
            return
        fine = self._fine.size
        scale = np.float32(fine / 180)
        # an angle just under 180 would round up to the last fine bin's far edge
        edge = np.float32(_BELOW_180) * scale >= fine
        # float32 square roots (bincount converts them; a float64 sqrt is 4 times slower)
        if scratch is None:
            weight = np.sqrt(energy)
            position = np.multiply(angle, scale)
        else:
            import cv2

            if edge:  # 180 would go to the last bin below: 0 first
                cv2.threshold(angle, _BELOW_180, 0, cv2.THRESH_TOZERO_INV, dst=angle)
            weight = np.sqrt(energy, out=scratch[0][:angle.shape[0]])
            position = np.multiply(angle, scale, out=angle)
        if edge:
            np.minimum(position, np.float32(fine - 1), out=position)
        if scratch is None:
            index = position.astype(np.intp)
        else:
            index = scratch[1][:angle.shape[0]]
            np.copyto(index, position, casting="unsafe")  # truncates toward zero, as astype
        sums = np.bincount(index.ravel(), weights=weight.ravel(), minlength=fine)
        if sums.size > fine:
            # An angle of exactly 180 (figures alone, no more than 180 * scale < fine + 1;
            # rare): it is 0, and the bins are summed again in the same pixel order.
            np.putmask(index, index >= fine, 0)
            sums = np.bincount(index.ravel(), weights=weight.ravel(), minlength=fine)
        self._fine += sums
        self.pixels += int(angle.size)

    def _count(self, energy: _F32) -> None:
        """Add pixels' energies to the strength counts, if kept.

        Once per tile, not per chunk: each count allocates its 43,000 bins.
        """
        if self.strength_counts is not None and energy.size:
            self.strength_counts += _strength_counts(energy)

    def merge(self, other: StrokeStatistics) -> StrokeStatistics:
        """Statistics of both parts together (a new object; neither input changes).

        Strength counts are kept if both have them.

        Examples
        --------
        >>> a, b = StrokeStatistics(), StrokeStatistics()
        >>> a.merge(b).pixels
        0
        """
        if not isinstance(other, StrokeStatistics) or other.bins != self.bins:
            raise ParameterError(f"other={other!r} cannot be merged: give StrokeStatistics "
                                 f"with the same bins ({self.bins})")
        both = self.strength_counts is not None and other.strength_counts is not None
        out = StrokeStatistics(self.bins, sigma=self.sigma, operator=self.operator,
                               counts=False)
        out._fine = self._fine + other._fine
        if both:
            out.strength_counts = cast(np.ndarray, self.strength_counts) + \
                cast(np.ndarray, other.strength_counts)
        out.tensor = tuple(a + b for a, b in zip(self.tensor, other.tensor, strict=True))
        out.pixels = self.pixels + other.pixels
        return out

    @property
    def overall_coherence(self) -> float:
        """Coherence of the summed tensor: 1 if all strokes are parallel, 0 if none or balanced."""
        total, cos2, sin2 = self.tensor
        return float(min(1.0, math.hypot(cos2, sin2) / total)) if total > 0 else 0.0

    def dominant(self, *, smoothing: float = 3.0, prominence: float = 0.1,
                 min_share: float = 0.02) -> list[tuple[float, float]]:
        """Peaks of the angle histogram, strongest first, as ``(angle_degrees, share)``.

        See :func:`stroke_directions` for the peak rule and the parameters.
        """
        return _dominant(self.histogram, self.vectors, smoothing, prominence, min_share)

    def strength_percentile(self, q: float = 99.0) -> float:
        """The ``q``-th percentile of ``sqrt(energy)`` over the pixels with a gradient.

        Read from ``strength_counts``: the middle of the narrow bin that holds
        that rank, within 0.025 % of the exact percentile (the bins are 2**-10
        wide relative to the energy, and the square root halves that). The
        flow picture's default ``reference`` is ``strength_percentile(99)``;
        1.0 when no pixel has a gradient.

        Raises
        ------
        ParameterError
            ``q`` outside [0, 100], or statistics made with ``counts=False``.

        Examples
        --------
        >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
        >>> s = StrokeStatistics().add(stroke_directions(x / 63))   # a ramp: gradient 1/63
        >>> round(s.strength_percentile(99) * 63, 3)
        1.0
        """
        if isinstance(q, bool) or not isinstance(q, (int, float, np.number)) \
                or not 0 <= q <= 100:
            raise ParameterError(f"q={q!r} must be a percentile from 0 to 100")
        if self.strength_counts is None:
            raise ParameterError("these statistics hold no strength counts (made with "
                                 "counts=False, or merged with such): make them with "
                                 "StrokeStatistics(counts=True) to read a percentile")
        return _strength_percentile(self.strength_counts, float(q))

    def summary(self) -> dict[str, Any]:
        """JSON-able figures, as :meth:`StrokeDirections.summary` (the same keys).

        Examples
        --------
        >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
        >>> StrokeStatistics(sigma=3, operator="scharr").add(
        ...     stroke_directions(0.5 + 0.5 * np.sin(y))).summary()["dominant"]
        [{'angle': 0.0, 'share': 1.0}]
        """
        return _summary(self.dominant(), self.overall_coherence, self.sigma, self.operator)


def _summary(dominant: list[tuple[float, float]], overall: float, sigma: float | None,
             operator: str | None) -> dict[str, Any]:
    return {
        "dominant": [{"angle": round(angle, 1) % 180, "share": round(share, 3)}
                     for angle, share in dominant],
        "overall_coherence": round(overall, 3),
        "sigma": sigma,
        "operator": operator,
    }


# Strength counts: bins of the float32 bit pattern of the energy (positive floats sort as
# their bits), keeping the exponent and 10 mantissa bits; energies from _ZERO_ENERGY up to
# 4 (a gradient of 2 per pixel, beyond any operator on [0, 1] images) get their own bins.
_COUNT_SHIFT = 13
_COUNT_LOW = int(np.float32(_ZERO_ENERGY).view(np.int32)) >> _COUNT_SHIFT
_COUNT_BINS = (int(np.float32(4.0).view(np.int32)) >> _COUNT_SHIFT) - _COUNT_LOW + 1


def _strength_counts(energy: np.ndarray) -> np.ndarray:
    """Pixels with energy > 0 per strength bin (int64, ``_COUNT_BINS``)."""
    bits = energy.view(np.int32) >> _COUNT_SHIFT
    bits -= _COUNT_LOW - 1  # bin 0 takes energy 0 (no gradient), dropped below
    np.clip(bits, 0, _COUNT_BINS, out=bits)
    return np.bincount(bits.ravel(), minlength=_COUNT_BINS + 1)[1:]


@cache
def _fine_directions(size: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(cos, sin)`` of twice the centre angle of each of ``size`` fine bins over 180 degrees."""
    doubled = (np.arange(size) + 0.5) * (2 * math.pi / size)
    return np.cos(doubled), np.sin(doubled)


def _strength_percentile(counts: np.ndarray, q: float) -> float:
    total = int(counts.sum())
    if total == 0:
        return 1.0
    rank = max(1, math.ceil(q / 100 * total))  # the rank-th smallest value, 1-based
    index = int(np.searchsorted(np.cumsum(counts), rank))
    edges = (np.array([index, index + 1], np.int64) + _COUNT_LOW) << _COUNT_SHIFT
    low, high = edges.astype(np.int32).view(np.float32).astype(np.float64)
    return math.sqrt(0.5 * (low + high))


def _format_dominant(dominant: list[tuple[float, float]]) -> str:
    return "[" + ", ".join(f"({a:.1f}, {s:.2f})" for a, s in dominant) + "]"


def _smooth_circular(histogram: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Gaussian smoothing of a periodic histogram (by FFT: exact wrap-around)."""
    n = histogram.size
    if sigma_bins <= 0:
        return histogram.copy()
    freq = np.fft.rfftfreq(n)
    kernel = np.exp(-2 * (np.pi * freq * sigma_bins) ** 2)
    return np.fft.irfft(np.fft.rfft(histogram) * kernel, n)


def _dominant(histogram: np.ndarray, vectors: np.ndarray, smoothing: float,
              prominence: float, min_share: float) -> list[tuple[float, float]]:
    n = histogram.size
    total = float(histogram.sum())
    if total <= 0:
        return []
    smooth = _smooth_circular(histogram, smoothing * n / 180)
    smooth[smooth < total * 1e-12] = 0  # FFT round-off around empty bins
    left, right = np.roll(smooth, 1), np.roll(smooth, -1)
    # Plateau maxima: strictly above the left neighbour, at least the right one.
    peaks = [int(i) for i in np.flatnonzero((smooth > left) & (smooth >= right))]
    if not peaks:
        return []  # a flat histogram has no preferred angle

    def valleys(peaks: list[int]) -> list[int]:
        """Index of the lowest bin on the arc after each peak up to the next peak."""
        out = []
        for k, start in enumerate(peaks):
            stop = peaks[(k + 1) % len(peaks)]
            arc = (np.arange(start, start + ((stop - start) % n or n)) % n)
            out.append(int(arc[np.argmin(smooth[arc])]))
        return out

    # Merge peaks that rise less than `prominence` of the highest above their higher saddle.
    floor = prominence * float(smooth.max())
    while len(peaks) > 1:
        cuts = valleys(peaks)
        rises = [smooth[p] - max(smooth[cuts[k - 1]], smooth[cuts[k]])
                 for k, p in enumerate(peaks)]
        weakest = int(np.argmin(rises))
        if rises[weakest] >= floor:
            break
        peaks.pop(weakest)
    cuts = valleys(peaks)
    found = []
    for k, peak in enumerate(peaks):
        # Basin: from the valley before the peak to the valley after it.
        start = cuts[k - 1] if len(peaks) > 1 else peak - n // 2
        stop = cuts[k] if len(peaks) > 1 else peak + (n - n // 2)
        basin = np.arange(start, start + ((stop - start) % n or n)) % n
        share = float(histogram[basin].sum()) / total
        if share < min_share:
            continue
        # Refine on the contiguous run above half the peak, weighting by height above the
        # basin's floor: the weighted circular mean of doubled angles.
        half = 0.5 * (smooth[peak] + smooth[basin].min())
        run = [peak]
        for step in (-1, 1):
            i = peak
            while len(run) < n:
                i = (i + step) % n
                if smooth[i] < half or i not in basin:
                    break
                run.append(i)
        bins = np.array(sorted(set(run)))
        # Each bin's doubled-angle vector, less the basin floor's share of its weight.
        keep = np.clip(1 - smooth[basin].min() / np.maximum(histogram[bins], 1e-300), 0, 1)
        if not keep.any():
            keep = np.ones(bins.size)
        angle = math.degrees(math.atan2(float(np.dot(keep, vectors[1, bins])),
                                        float(np.dot(keep, vectors[0, bins])))) / 2 % 180
        found.append((float(angle), share, float(smooth[peak])))
    found.sort(key=lambda item: (-item[1], -item[2]))
    return [(angle, share) for angle, share, _ in found]


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, repr=False)
class StrokeDirections:
    r"""Stroke directions of a drawing: per pixel and for the whole (or the mask).

    Attributes
    ----------
    angle : ndarray
        float32 (H, W), stroke angle in degrees in [0, 180) as one sees the
        page: 0 horizontal, 45 ``/``, 90 vertical, 135 ``\``; 0 where there
        is no gradient or outside the mask.
    coherence : ndarray
        float32 (H, W) in [0, 1]: ``(l1 - l2) / (l1 + l2)`` of the smoothed
        structure tensor; 0 where there is no gradient or outside the mask.
    energy : ndarray
        float32 (H, W): the tensor's trace ``G_sigma * (gx**2 + gy**2)``, the
        mean squared gradient in the window; 0 outside the mask.
    histogram : ndarray
        float64 (bins,): stroke angles weighted by ``sqrt(energy)``.
    bin_edges : ndarray
        float64 (bins + 1,) degrees, 0 to 180.
    dominant : list of (float, float)
        ``(angle_degrees, share)`` peaks of the histogram, strongest first.
    overall_coherence : float
        Coherence of the tensor summed over the drawing (or the mask).
    sigma : float
        The integration scale used, pixels.
    operator : str
        The derivative operator used.
    """

    angle: NDArray[np.float32]
    coherence: NDArray[np.float32]
    energy: NDArray[np.float32]
    histogram: NDArray[np.float64]
    bin_edges: NDArray[np.float64]
    dominant: list[tuple[float, float]]
    overall_coherence: float
    sigma: float
    operator: str

    def __repr__(self) -> str:
        h, w = self.angle.shape
        return (f"StrokeDirections({h}x{w}, sigma={self.sigma:g}, operator={self.operator!r}, "
                f"dominant={_format_dominant(self.dominant)}, "
                f"overall_coherence={self.overall_coherence:.3f})")

    @classmethod
    def from_parts(cls, field: StrokeField, statistics: StrokeStatistics) -> StrokeDirections:
        """Put a whole image's per-pixel field and its (tile-summed) statistics together.

        ``statistics`` must carry ``sigma`` and ``operator`` (as the pipeline's do).

        Examples
        --------
        >>> y, x = np.mgrid[0:32, 0:32].astype(np.float32)
        >>> f = stroke_field(0.5 + 0.5 * np.sin(x))
        >>> s = StrokeStatistics(sigma=3.0, operator="scharr").add(f)
        >>> StrokeDirections.from_parts(f, s).dominant[0][0].__round__(1)
        90.0
        """
        if statistics.sigma is None or statistics.operator is None:
            raise ParameterError("statistics must record sigma and operator: make them with "
                                 "StrokeStatistics(sigma=..., operator=...)")
        return cls(angle=field.angle, coherence=field.coherence, energy=field.energy,
                   histogram=statistics.histogram, bin_edges=statistics.bin_edges,
                   dominant=statistics.dominant(),
                   overall_coherence=statistics.overall_coherence, sigma=statistics.sigma,
                   operator=statistics.operator)

    def summary(self) -> dict[str, Any]:
        """JSON-able figures for a run's record and a PNG's provenance text.

        Returns
        -------
        dict
            ``{"dominant": [{"angle": degrees (0.1), "share": (0.001)}, ...],
            "overall_coherence": (0.001), "sigma": pixels, "operator": name}``.

        Examples
        --------
        >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
        >>> stroke_directions(0.5 + 0.5 * np.sin(y)).summary()
        {'dominant': [{'angle': 0.0, 'share': 1.0}], 'overall_coherence': 1.0, 'sigma': 3.0, 'operator': 'scharr'}
        """  # noqa: E501
        return _summary(self.dominant, self.overall_coherence, self.sigma, self.operator)


def stroke_directions(image: ArrayLike, *, sigma: float | None = None,
                      mask: ArrayLike | None = None, bins: int = 180,
                      operator: str = "scharr", smoothing: float = 3.0,
                      prominence: float = 0.1, min_share: float = 0.02) -> StrokeDirections:
    """Measure which way the strokes of a drawing run.

    Parameters
    ----------
    image : ndarray or Scan
        (H, W) grey or (H, W, 3) colour image: uint8, uint16, bool or floats in
        [0, 1] ((H, W, 1) is grey, (H, W, 4) is composited over white).
    sigma : float, optional
        Integration scale in pixels: the standard deviation of the Gaussian
        window that sums the gradients' tensor (default ``DEFAULT_SIGMA`` = 3;
        see the module docstring for why).
    mask : ndarray of bool, optional
        (H, W) pixels to measure; gradients are taken inside it only (as
        ``gradient_field(mask=)``), and the histogram and the summed tensor
        count its pixels only.
    bins : int
        Histogram bins over [0, 180) degrees (default 180: one degree each).
    operator : str
        Derivative operator, a key of ``OPERATORS`` (default ``"scharr"``:
        see the module docstring).
    smoothing : float
        Standard deviation in degrees of the circular Gaussian that smooths the
        histogram before its peaks are found.
    prominence : float
        A peak that rises less than this fraction of the highest smoothed bin
        above its higher valley is merged into its neighbour.
    min_share : float
        Peaks with less of the total weight than this are not listed.

    Returns
    -------
    StrokeDirections
        Per pixel ``angle``, ``coherence``, ``energy``; for the drawing
        ``histogram``, ``bin_edges``, ``dominant``, ``overall_coherence``.

    Raises
    ------
    ParameterError
        An image outside the input rule, a mask of another shape, an unknown
        operator, or a parameter out of range.

    Notes
    -----
    Colour: the per-channel structure tensors are averaged (Di Zenzo), so a
    stroke that changes only the hue (red on green of the same grey) has a
    direction, and an image of three equal channels gives the grey result.

    Per pixel: ``angle = atan2(2*Jxy, Jyy - Jxx) / 2`` in degrees modulo 180
    (y down in the array, y up on the page: see the module docstring);
    coherence ``hypot(Jyy - Jxx, 2*Jxy) / (Jxx + Jyy)``. Where the trace is at
    most 1e-12 (a gradient of about 1e-6) there is no gradient: angle and
    coherence are 0.

    The histogram weights each pixel's angle by ``sqrt(energy)``, the RMS
    gradient in its window (so a stroke counts in proportion to its contrast,
    and paper counts nearly nothing). ``dominant``: the histogram is smoothed
    circularly (period 180), its local maxima are the peaks, peaks rising
    less than ``prominence`` above their higher valley are merged, each
    peak's basin runs from valley to valley and its share is the basin's
    fraction of the total weight; the angle is refined below a bin by the
    weighted circular mean of doubled angles over the part of the basin above
    half the peak's height. ``overall_coherence`` is the coherence of the sum
    of the smoothed tensors.

    Tiles: ``reach(sigma, operator)`` pixels of halo make a tile's per-pixel
    fields equal the whole image's; add each tile's core to a
    :class:`StrokeStatistics` for the whole-drawing figures.

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    >>> rising = 0.5 + 0.5 * np.sin(0.8 * (x + y))   # stripes along x + y = c, i.e. '/'
    >>> d = stroke_directions(rising)
    >>> d.dominant[0][0].__round__(1), d.overall_coherence.__round__(2)
    (45.0, 0.99)
    >>> float(d.angle[32, 32]).__round__(1), float(d.coherence[32, 32]).__round__(3)
    (45.0, 1.0)
    """
    sigma = _check_sigma(sigma)
    choose(OPERATORS, operator, "operator")
    StrokeStatistics(bins)  # checks bins before the work
    for name, value, low, high in (("smoothing", smoothing, 0, 90),
                                   ("prominence", prominence, 0, 1),
                                   ("min_share", min_share, 0, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not low <= value <= high:
            raise ParameterError(f"{name}={value!r} must be a number from {low} to {high}")
    statistics = StrokeStatistics(bins, sigma=sigma, operator=operator)
    field = stroke_field(image, sigma=sigma, operator=operator, mask=mask,
                         statistics=statistics)
    return StrokeDirections(
        angle=field.angle, coherence=field.coherence, energy=field.energy,
        histogram=statistics.histogram, bin_edges=statistics.bin_edges,
        dominant=statistics.dominant(smoothing=smoothing, prominence=prominence,
                                     min_share=min_share),
        overall_coherence=statistics.overall_coherence, sigma=sigma, operator=operator)


@dataclass(frozen=True)
class StrokeField:
    """The per-pixel part of :class:`StrokeDirections` (what a tile computes).

    Attributes
    ----------
    angle, coherence, energy : ndarray
        float32 (H, W), as in :class:`StrokeDirections`.
    """

    angle: np.ndarray
    coherence: np.ndarray
    energy: np.ndarray

    def crop(self, where: Any) -> StrokeField:
        """The field on ``where`` (a tuple of slices), as contiguous copies.

        Examples
        --------
        >>> f = stroke_field(np.eye(8, dtype=np.float32))
        >>> f.crop(np.s_[2:5, 1:4]).angle.shape
        (3, 3)
        """
        return StrokeField(*(np.ascontiguousarray(getattr(self, name)[where])
                             for name in ("angle", "coherence", "energy")))


def stroke_field(image: Any, *, sigma: float | None = None, operator: str = "scharr",
                 mask: ArrayLike | None = None, window: Any = None,
                 statistics: StrokeStatistics | None = None, core: Any = None) -> StrokeField:
    """Per-pixel stroke angle, coherence and energy, without the whole-drawing figures.

    What :func:`stroke_directions` computes per pixel (same parameters and
    rules), for code that sums the figures itself, tile by tile, with
    :class:`StrokeStatistics`.

    Parameters
    ----------
    image, sigma, operator, mask
        As :func:`stroke_directions`.
    window : tuple of slice, optional
        ``(rows, columns)``, slices of step 1: the part of the image whose
        field is returned, as ``stroke_field(image).crop(window)`` but
        measured there only (the image around it is read as far as
        ``reach(sigma, operator)``). Default: the whole image.
    statistics : StrokeStatistics, optional
        Also add the returned field's pixels (or its ``core``) to these, as
        ``statistics.add(field, core=core)`` would (to float rounding), but
        while the planes are in the cache and with the summed tensor taken
        from the tensor itself (no sines and cosines of the angles).
    core : tuple of slice, optional
        With ``statistics``: the pixels of the returned field to add (a
        tile's own pixels, its halo excluded). Default: all.

    Returns
    -------
    StrokeField
        float32 planes of the window's shape.

    Examples
    --------
    >>> y, x = np.mgrid[0:32, 0:32].astype(np.float32)
    >>> f = stroke_field(0.5 + 0.5 * np.sin(x))     # vertical stripes
    >>> round(float(f.angle[16, 16])), f.energy.dtype
    (90, dtype('float32'))
    >>> s = StrokeStatistics()
    >>> stroke_field(0.5 + 0.5 * np.sin(x), window=np.s_[8:24, :], statistics=s).angle.shape
    (16, 32)
    >>> s.pixels, round(s.dominant()[0][0])
    (512, 90)
    """
    sigma = _check_sigma(sigma)
    choose(OPERATORS, operator, "operator")
    if statistics is not None and not isinstance(statistics, StrokeStatistics):
        raise ParameterError(f"statistics of type {type(statistics).__name__} cannot be "
                             "added to; give a StrokeStatistics (or None)")
    if statistics is not None and statistics.sigma not in (None, sigma):
        raise ParameterError(f"statistics record sigma={statistics.sigma} but the field is "
                             f"measured with sigma={sigma}; give statistics of the same sigma")
    if statistics is not None and statistics.operator not in (None, operator):
        raise ParameterError(f"statistics record operator={statistics.operator!r} but the "
                             f"field is measured with operator={operator!r}; give "
                             "statistics of the same operator")
    if core is not None and statistics is None:
        raise ParameterError("core= says which pixels to add to statistics=: give both "
                             "(or neither)")
    return cast(StrokeField, _measure(image, sigma, operator, mask, window, statistics, core,
                                      keep=True))


def _measure(image: Any, sigma: float, operator: str, mask: ArrayLike | None, window: Any,
             statistics: StrokeStatistics | None, core: Any, *, keep: bool,
             name: str = "window") -> StrokeField | None:
    """``stroke_field``'s work once its parameters are checked (``keep=False``: figures only).

    ``name`` is the window's parameter name, for messages.
    """
    image = as_image(image)
    inside = as_mask(mask, image.shape[:2])
    rows, cols = _window(window, image.shape, name)
    height, width = rows.stop - rows.start, cols.stop - cols.start
    own = _window(core, (height, width), "core")
    # Only the window and what it reaches are measured (a window of the whole image
    # gives the whole image's field: the tensor there reads no farther).
    margin = _gaussian_radius(sigma) + _operator_radius(operator)
    top, left = max(0, rows.start - margin), max(0, cols.start - margin)
    region = (slice(top, min(image.shape[0], rows.stop + margin)),
              slice(left, min(image.shape[1], cols.stop + margin)))
    if height == 0 or width == 0:
        empty = np.zeros((height, width), np.float32)
        return StrokeField(empty, empty.copy(), empty.copy()) if keep else None
    if inside is not None:
        inside = inside[region]
    jxx, jyy, sin2 = _smoothed_tensor(image[region], sigma, operator, inside)
    return _fields(jxx, jyy, sin2, inside,
                   (slice(rows.start - top, rows.stop - top),
                    slice(cols.start - left, cols.stop - left)), statistics, own, keep=keep)


# --------------------------------------------------------------------------- flow picture


def flow_defaults(shape: tuple[int, ...]) -> dict[str, Any]:
    """The flow picture's automatic ``grain`` and ``length`` for a whole image's shape.

    The noise grain grows with the image so that the streaks stay visible
    when the picture is viewed scaled to a screen (about 1200 pixels across
    per grain), and the streaks are 8 grains long. A tiled run passes these,
    computed from the whole image's shape, to every tile.

    Parameters
    ----------
    shape : tuple of int
        The whole image's shape, (H, W) or (H, W, C).

    Returns
    -------
    dict
        ``{"grain": int, "length": float}``.

    Examples
    --------
    >>> flow_defaults((600, 450)), flow_defaults((2456, 3471, 3))
    ({'grain': 1, 'length': 8.0}, {'grain': 3, 'length': 24.0})
    """
    grain = max(1, round(max(shape[:2]) / 1200))
    return {"grain": grain, "length": 8.0 * grain}


def _lattice_noise(rows: np.ndarray, cols: np.ndarray, seed: int) -> np.ndarray:
    """White noise in [0, 1) at integer lattice points: a hash of (row, col, seed)."""
    # A position hash (not a random stream) so that any tile draws the same noise as
    # the whole image at the same place. Arithmetic wraps in uint32 on purpose.
    r = (rows.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    c = (cols.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)
    h = r * np.uint32(0x9E3779B1) ^ c * np.uint32(0x85EBCA77)
    h ^= np.uint32((seed * 0xC2B2AE3D) & 0xFFFFFFFF)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x7FEB352D)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x846CA68B)
    h ^= h >> np.uint32(16)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)


def flow_picture(directions: StrokeDirections | StrokeField | Any, *, length: float | None = None,
                 grain: int | None = None, seed: int = 0, origin: tuple[int, int] = (0, 0),
                 reference: float | None = None, sigma: float | None = None,
                 operator: str = "scharr") -> NDArray[np.float32]:
    """Draw the stroke direction field: noise smeared along the strokes, coloured by angle.

    A line-integral convolution: each pixel averages a white-noise texture
    along a straight streak through it in its stroke direction, so the
    texture shows streaks that run with the strokes.

    Parameters
    ----------
    directions : StrokeDirections, StrokeField or image
        Stroke directions, or an image (any accepted input) to measure with
        ``stroke_field(image, sigma=sigma, operator=operator)``.
    length : float, optional
        Streak length in pixels (default ``flow_defaults(shape)["length"]``).
    grain : int, optional
        Size in pixels of the noise's cells (default
        ``flow_defaults(shape)["grain"]``: 1 up to 1800 pixels across).
    seed : int
        Noise seed; the same seed gives the same picture.
    origin : tuple of int
        (row, column) of this picture's top-left pixel in the whole image, for
        tiles: the noise is a function of the whole image's position.
    reference : float, optional
        RMS gradient (``sqrt(energy)``) drawn at full brightness; default the
        99th percentile of ``sqrt(energy)`` over the pixels with a gradient, as
        :meth:`StrokeStatistics.strength_percentile` reads it (within 0.025 %).
        A tiled run passes the whole image's value (``strength_percentile(99)``
        of the tiles' statistics: the same number).
    sigma, operator
        Passed to :func:`stroke_directions` when ``directions`` is an image.

    Returns
    -------
    ndarray
        float32 (H, W, 3) RGB in [0, 1].

    Notes
    -----
    Colour (HSV): hue = angle / 180 turns, cyclic over the 180 degrees of a
    stroke: 0 (horizontal) red, 30 yellow, 60 green, 90 (vertical) cyan, 120
    blue, 150 magenta (looked up in steps of 0.05 degrees, so a last-bit
    difference of an angle changes a colour by at most 0.002). Saturation =
    coherence, so crossing hatching and texture without a direction look
    white. Value = ``b * (0.25 + 0.75 * t)``, ``b = min(1, sqrt(energy) /
    reference)``, ``t`` the streak texture in [0, 1]: paper (no gradient) is
    black, and the paper's own grain stays dim.

    Streaks: the noise is sampled at ``2n + 1`` points ``p + k * step * u``,
    ``k = -n .. n``, on the straight line through ``p`` along its unit stroke
    direction ``u`` (``step = grain``, ``n = round(length / 2 / step)``),
    weighted by a triangle, bilinearly interpolated (``cv2.remap``). With a
    grain over 1 the texture is computed at one pixel per grain cell (pixels
    ``(i * grain + grain // 2, j * grain + grain // 2)`` of the whole image)
    and interpolated bilinearly between them: the texture is smooth at the
    grain anyway, and this is ``grain**2`` times less work. The noise is a
    hash of the whole image's lattice position and ``seed``, so it extends
    past the picture's border and needs no halo: a tile's flow picture
    equals the whole image's given the whole image's ``grain``, ``length``
    and ``reference`` and stroke directions that reach ``grain`` pixels past
    the tile (the tile engine computes them with a halo of at least
    ``max(reach(sigma, operator), grain + 1)`` and crops the picture).

    Examples
    --------
    >>> y, x = np.mgrid[0:48, 0:48].astype(np.float32)
    >>> picture = flow_picture(0.5 + 0.5 * np.sin(x))     # vertical stripes
    >>> picture.shape, picture.dtype
    ((48, 48, 3), dtype('float32'))
    >>> hue_is_cyan = picture[24, 24, 0] < picture[24, 24, 1]   # 90 degrees: cyan
    >>> bool(hue_is_cyan)
    True
    """
    import cv2

    if not isinstance(directions, (StrokeDirections, StrokeField)):
        directions = stroke_field(directions, sigma=sigma, operator=operator)
    height, width = directions.angle.shape
    defaults = flow_defaults((height, width))
    if grain is None:
        grain = defaults["grain"]
    if isinstance(grain, bool) or not isinstance(grain, (int, np.integer)) \
            or not 1 <= grain <= 1000:
        raise ParameterError(f"grain={grain!r} must be a whole number of pixels from 1 to "
                             "1000 (the noise cell size)")
    if length is None:
        length = 8.0 * grain
    if isinstance(length, bool) or not isinstance(length, (int, float, np.number)) \
            or not math.isfinite(length) or not 0 <= length <= 10000:
        raise ParameterError(f"length={length!r} must be a number of pixels from 0 to 10000 "
                             "(the streak length)")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ParameterError(f"seed={seed!r} must be a whole number")
    try:
        row0, col0 = (int(v) for v in origin)
    except (TypeError, ValueError):
        raise ParameterError(f"origin={origin!r} must be (row, column) of the picture's "
                             "top-left pixel in the whole image") from None
    strength = np.sqrt(directions.energy)
    if reference is None:
        reference = _strength_percentile(_strength_counts(directions.energy), 99.0)
    if isinstance(reference, bool) or not isinstance(reference, (int, float, np.number)) \
            or not math.isfinite(reference) or reference <= 0:
        raise ParameterError(f"reference={reference!r} must be a positive RMS gradient "
                             "(intensity per pixel) drawn at full brightness")

    step = float(grain)  # one noise cell per sample: finer steps cost time, show nothing
    n = round(length / 2 / step)
    # The streak texture is smooth at the noise's grain, and the stroke directions (a
    # tensor smoothed over sigma) hardly change within a grain: it is computed at one
    # pixel per grain cell, (i * grain + grain // 2, j * grain + grain // 2) of the whole
    # image, and interpolated bilinearly between them (a grain of 3 does a ninth of the
    # work). The cells are fixed in the whole image, so a tile gets the whole image's
    # texture wherever its stroke directions reach a cell beyond each of its pixels.
    off = grain // 2
    ci0, ci1 = math.ceil((row0 - off) / grain), (row0 + height - 1 - off) // grain
    cj0, cj1 = math.ceil((col0 - off) / grain), (col0 + width - 1 - off) // grain
    coarse = grain > 1 and ci1 >= ci0 and cj1 >= cj0
    if coarse:
        rows = np.arange(ci0, ci1 + 1) * grain + off  # whole-image pixel rows of the cells
        cols = np.arange(cj0, cj1 + 1) * grain + off
        angle = np.ascontiguousarray(directions.angle[np.ix_(rows - row0, cols - col0)])
    else:
        rows = np.arange(row0, row0 + height)
        cols = np.arange(col0, col0 + width)
        angle = directions.angle
    # Noise lattice covering every sample: lattice point (i, j) sits at pixel
    # ((i + 0.5) * grain - 0.5, (j + 0.5) * grain - 0.5) of the whole image.
    margin = n * step + 2 * grain
    i0 = math.floor((rows[0] - margin) / grain)
    j0 = math.floor((cols[0] - margin) / grain)
    i1 = math.ceil((rows[-1] + 1 + margin) / grain)
    j1 = math.ceil((cols[-1] + 1 + margin) / grain)
    lattice = _lattice_noise(np.arange(i0, i1 + 1)[:, None], np.arange(j0, j1 + 1)[None, :],
                             int(seed))
    base = np.empty(angle.shape + (2,), np.float32)
    base[..., 0] = ((cols + 0.5) / grain - 0.5 - j0).astype(np.float32)[None, :]
    base[..., 1] = ((rows + 0.5) / grain - 0.5 - i0).astype(np.float32)[:, None]
    # The unit stroke direction in lattice cells per step (step = grain: one cell), y down
    # in the array: (cos, -sin) of the angle, i.e. (cos, sin) of its negative.
    # OpenCV takes magnitude=None for unit vectors; its stubs say otherwise.
    along = cv2.merge(cv2.polarToCart(None, np.float32(360) - angle,  # type: ignore[call-overload]
                                      angleInDegrees=True))
    texture = np.zeros(angle.shape, np.float32)
    # Buffers reused by every step (OpenCV writes into them): memory stays at a few
    # planes whatever the streak length.
    where = np.empty_like(base)
    sample = np.empty(angle.shape, np.float32)
    weights = [1.0 - abs(k) / (n + 1) for k in range(-n, n + 1)]
    for k, weight in zip(range(-n, n + 1), weights, strict=True):
        cv2.scaleAdd(along, float(k), base, dst=where)
        # OpenCV takes map2=None for a two-channel map1; its stubs say otherwise.
        cv2.remap(lattice, where, None, cv2.INTER_LINEAR, dst=sample,  # type: ignore[call-overload]
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.scaleAdd(sample, weight, texture, dst=texture)
    del base, along, where, sample
    total = sum(weights)
    # Stretch the average around 0.5 by its expected spread (uniform noise, sd 0.29,
    # two thirds of it left after bilinear interpolation), so t fills [0, 1].
    spread = 0.2887 * (2 / 3) * math.sqrt(sum(w * w for w in weights)) / total
    gain = np.float32(1 / (total * 4 * spread))
    texture -= np.float32(0.5 * total)
    texture *= gain
    texture += np.float32(0.5)
    np.clip(texture, 0, 1, out=texture)
    if coarse:
        # Each pixel between its cells (the whole image's cell grid; replicated past the
        # picture's outer cells).
        at = np.empty((height, width, 2), np.float32)
        at[..., 0] = ((np.arange(width) + col0 - off) / grain - cj0).astype(np.float32)[None, :]
        at[..., 1] = ((np.arange(height) + row0 - off) / grain - ci0).astype(np.float32)[:, None]
        # map2=None for a two-channel map1, as above.
        texture = cv2.remap(texture, at, None, cv2.INTER_LINEAR,  # type: ignore[call-overload]
                            borderMode=cv2.BORDER_REPLICATE).reshape(height, width)
        del at
    value = np.minimum(strength / np.float32(reference), np.float32(1))
    texture *= np.float32(0.75)
    texture += np.float32(0.25)
    value *= texture
    del texture, strength
    # Hue by table look-up: a full-size HSV conversion costs several times the whole
    # convolution. rgb = value * (1 - s + s * hue colour).
    index = (directions.angle * np.float32(_HUE_STEPS / 180)).astype(np.uint16)
    np.minimum(index, _HUE_STEPS - 1, out=index)  # angle < 180, but float32 can round up
    picture = np.take(_HUES, index, axis=0)
    del index
    # value * (1 - s) + value * s * hue: two passes over the colour planes, not four
    tinted = value * directions.coherence
    value -= tinted
    picture *= tinted[..., None]
    picture += value[..., None]
    return picture


#: Fully saturated colours of the stroke angles in steps of 0.05 degrees (hue = angle / 180).
_HUE_STEPS = 3600
_HUES = hsv_to_rgb(np.stack([(np.arange(_HUE_STEPS, dtype=np.float32) + 0.5) / _HUE_STEPS,
                             np.ones(_HUE_STEPS, np.float32),
                             np.ones(_HUE_STEPS, np.float32)], axis=-1))


# --------------------------------------------------------------------------- rose


def plot_rose(ax: Axes | None, directions: StrokeDirections | StrokeStatistics, *,
              color: str = "#3a6ea5", mark_dominant: bool = True,
              title: str | None = None) -> PolarAxes:
    """Draw a rose of stroke angles (a polar histogram) on a matplotlib polar Axes.

    Each bin is drawn at its angle and at the angle + 180 degrees, so the rose
    shows both ends of every stroke. 0 degrees points right and angles grow
    counter-clockwise, as one reads the page (45 is ``/``). The rose is one
    filled outline (a polygon in ``ax.patches``) whose radius over each bin is
    the bin's weight over the largest bin's.

    Parameters
    ----------
    ax : matplotlib Axes or None
        A polar Axes (``fig.add_subplot(projection="polar")``); ``None``
        makes a new 4 x 4 inch figure (not attached to pyplot).
    directions : StrokeDirections or StrokeStatistics
        Whose ``histogram``, ``bin_edges`` and dominant angles to draw.
    color : str
        Bar colour (any matplotlib colour).
    mark_dominant : bool
        Draw each dominant angle as a dark line across the rose, labelled
        with its angle and share of the ink.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
        The polar Axes drawn on (its figure is ``ax.figure``).

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    >>> ax = plot_rose(None, stroke_directions(0.5 + 0.5 * np.sin(0.8 * (x + y))))
    >>> ax.name, int(ax.get_theta_direction())
    ('polar', 1)
    """
    if not isinstance(directions, (StrokeDirections, StrokeStatistics)):
        raise ParameterError(f"directions of type {type(directions).__name__} cannot be "
                             "drawn; give the result of stroke_directions (or "
                             "StrokeStatistics)")
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(4, 4)).add_subplot(projection="polar")
    elif getattr(ax, "name", None) != "polar":
        raise ParameterError("ax is not a polar Axes; make one with "
                             "fig.add_subplot(projection='polar') or pass ax=None")
    ax = cast("PolarAxes", ax)  # checked above by its projection name
    histogram = np.asarray(directions.histogram, np.float64)
    edges = np.radians(directions.bin_edges)
    dominant = (directions.dominant if isinstance(directions, StrokeDirections)
                else directions.dominant())
    peak = histogram.max()
    radii = histogram / peak if peak > 0 else histogram
    # One filled outline, stepping from bin to bin around the full turn (the bins, then
    # the same 180 degrees on): a bar per bin drew six times slower.
    turn = np.concatenate([edges[:-1], edges[:-1] + np.pi, [2 * np.pi]])
    theta = np.repeat(turn, 2)[1:-1]
    radius = np.repeat(np.concatenate([radii, radii]), 2)
    ax.fill(theta, radius, color=color, linewidth=0)
    ax.set_theta_zero_location("E")
    ax.set_theta_direction(1)
    ax.set_xticks(np.radians(np.arange(0, 360, 45)))
    ax.set_ylim(0, 1.15)
    ax.set_yticks([])
    if mark_dominant:
        for rank, (angle, share) in enumerate(dominant):
            spoke = math.radians(angle)
            ax.plot([spoke + math.pi, spoke], [1.05, 1.05], color="#222222",
                    linewidth=1.5 if rank == 0 else 1.0, linestyle="-" if rank == 0 else "--")
            ax.plot([spoke, spoke], [0, 1.05], color="#222222",
                    linewidth=1.5 if rank == 0 else 1.0, linestyle="-" if rank == 0 else "--")
            ax.plot([spoke + math.pi, spoke + math.pi], [0, 1.05], color="#222222",
                    linewidth=1.5 if rank == 0 else 1.0, linestyle="-" if rank == 0 else "--")
            ax.annotate(f"{round(angle) % 180}\N{DEGREE SIGN} {share:.0%}", (spoke, 0.8),
                        ha="center", va="center", fontsize=8,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                              "edgecolor": "none", "alpha": 0.8})
    if title is not None:
        ax.set_title(title)
    return ax
