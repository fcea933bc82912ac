"""Gradient fields of a drawing's tone: the operators, their registry and the zero-gradient floor.

Unit: intensity per pixel on the [0, 1] scale. On a ramp ``I = a*x + b*y``
every operator gives ``gx = a`` and ``gy = b`` away from the border; x runs
along columns (right), y along rows (down). Factors to other libraries, for
the same image (``mode="mirror"`` is OpenCV's default border)::

    operator  OpenCV                          scikit-image
    sobel     cv2.Sobel(ksize=3) / 8          sobel_v, sobel(axis=1) / 2
    scharr    cv2.Scharr / 32                 scharr_v, scharr(axis=1) / 2
    prewitt   (none)                          prewitt_v, prewitt(axis=1) / 2
    farid     (none)                          farid_v, farid(axis=1) / FARID_GAIN
    central   (none)                          np.gradient in the interior

(``*_h`` / ``axis=0`` give ``gy`` with the same factors.) scikit-image's
edge *magnitude* ``sobel(image)`` is ``sqrt((gx2**2 + gy2**2) / 2)`` of those
doubled derivatives, i.e. ``sqrt(2)`` times our ``magnitude``.

The kernels run through OpenCV's separable filter in float32: this is the
hot path of the pipeline (about 15 ms per derivative on an 8.5 MP scan).

``OPERATORS`` maps a name to an :class:`Operator` entry (the function, its
one-line doc and its reach in pixels); :func:`register_operator` adds one.
``ZERO_GRADIENT`` is the magnitude at or below which a pixel has no direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import as_mask
from .errors import ParameterError, choose
from .io import LUMA_BT601
from .registry import add_entry, check_reach, first_doc_line, registered_doc

_F32 = NDArray[np.float32]  # for private signatures

__all__ = [
    "OPERATORS",
    "Operator",
    "register_operator",
    "ZERO_GRADIENT",
    "floor_zero_gradients",
    "BORDER_MODES",
    "TONE_WEIGHTS",
    "CHROMA_AXES",
    "SIGN_SHARE",
    "FARID_GAIN",
    "GradientField",
    "gradient_field",
    "sobel",
    "scharr",
    "prewitt",
    "farid",
    "central",
]

#: Border modes, with scikit-image / ``scipy.ndimage`` meaning (``abcd`` is the row):
#: reflect ``dcba|abcd|dcba``, mirror ``dcb|abcd|cba``, nearest ``aaaa|abcd|dddd``,
#: constant ``kkkk|abcd|kkkk`` (k = ``cval``), wrap ``abcd|abcd|abcd``.
BORDER_MODES = ("reflect", "mirror", "nearest", "constant", "wrap")

#: Gradient magnitude (intensity per pixel) at or below which a pixel has no direction:
#: rounding noise (an ulp of the denoised image gives 3e-8; one 16-bit level is 1.5e-5).
#: The colour shows it black, never a random hue; the pipeline normalizes it as zero.
ZERO_GRADIENT = 1e-6

_PI = np.float32(np.pi)
_SAFE = 2.0 ** 100  # images beyond this magnitude are filtered scaled down

# Derivative taps of Farid & Simoncelli (2004), 5-tap, as in scikit-image.
_FARID_SMOOTH = np.array([0.0376593171958126, 0.249153396177344, 0.426374573253687,
                          0.249153396177344, 0.0376593171958126])
_FARID_EDGE = np.array([-0.109603762960254, -0.276690988455557, 0.0,
                        0.276690988455557, 0.109603762960254])
#: scikit-image's ``farid_v`` responds ``FARID_GAIN * a`` to a ramp of slope ``a``.
FARID_GAIN = float(np.dot(_FARID_EDGE, np.arange(-2, 3)))


def _kernels(derivative: ArrayLike, smooth: ArrayLike) -> tuple[_F32, _F32]:
    return np.asarray(derivative, np.float32), np.asarray(smooth, np.float32)


# (derivative taps, smoothing taps) for correlation; derivative taps sum to 0 and
# sum(i * d_i) = 1, smoothing taps sum to 1, so a ramp of slope a gives exactly a.
_SOBEL = _kernels([-0.5, 0.0, 0.5], [0.25, 0.5, 0.25])
_SCHARR = _kernels([-0.5, 0.0, 0.5], np.array([3.0, 10.0, 3.0]) / 16)
_PREWITT = _kernels([-0.5, 0.0, 0.5], np.full(3, 1 / 3))
_FARID = _kernels(_FARID_EDGE / FARID_GAIN, _FARID_SMOOTH)
_CENTRAL = _kernels([-0.5, 0.0, 0.5], [1.0])

_CV_BORDERS = {"reflect": "BORDER_REFLECT", "mirror": "BORDER_REFLECT_101",
               "nearest": "BORDER_REPLICATE", "constant": "BORDER_CONSTANT"}


@dataclass(frozen=True)
class GradientField:
    """A gradient field: per-pixel derivatives along x (columns) and y (rows).

    Attributes
    ----------
    gx, gy : ndarray
        float32 (H, W), intensity per pixel; ``gx`` > 0 where the tone rises to
        the right, ``gy`` > 0 where it rises downwards.

    Examples
    --------
    >>> f = GradientField(np.array([[3.0, -1.0]], np.float32), np.array([[4.0, -0.0]], np.float32))
    >>> f.magnitude.tolist()
    [[5.0, 1.0]]
    >>> bool(f.orientation[0, 1] == np.float32(np.pi))   # arctan2 gives -pi here
    True
    """

    gx: NDArray[np.float32]
    gy: NDArray[np.float32]

    @cached_property
    def magnitude(self) -> NDArray[np.float32]:
        """Gradient strength ``hypot(gx, gy)``, float32 (relative error below 1e-6).

        Saturates at the largest float32 instead of overflowing to inf.
        """
        gx = np.ascontiguousarray(self.gx, dtype=np.float32)
        gy = np.ascontiguousarray(self.gy, dtype=np.float32)
        if gx.size == 0:
            return np.zeros(gx.shape, np.float32)
        # sqrt(gx*gx + gy*gy) with correctly rounded NumPy ufuncs: the same bits for the
        # same input on every call (cv2.magnitude is not: its SIMD and scalar paths differ
        # in the last bit, which made --workers N differ from --workers 1). Squaring in
        # float32 over- or underflows outside roughly [1e-19, 1e19]; hypot handles those.
        magnitude = np.empty(gx.shape, np.float32)
        peak = _sum_of_squares_root(gx.reshape(-1), gy.reshape(-1), magnitude.reshape(-1))
        if not math.isfinite(peak) or peak < 1e-18:
            with np.errstate(over="ignore"):
                magnitude = np.hypot(gx, gy, dtype=np.float32)
            np.minimum(magnitude, np.finfo(np.float32).max, out=magnitude)  # saturate
        return magnitude

    @cached_property
    def orientation(self) -> NDArray[np.float32]:
        """Direction ``arctan2(gy, gx)`` in radians, float32, in (-pi, pi].

        0 points right (+x), pi/2 down (+y); a zero gradient has orientation 0.
        The one value arctan2 can return outside the interval, -pi (for ``gy``
        = -0.0 or a negative ``gy`` too small to show next to ``gx`` < 0), is
        returned as +pi.
        """
        theta = np.arctan2(self.gy, self.gx, dtype=np.float32)
        fold_minus_pi(theta)
        return theta


#: Elements per chunk of the per-pixel kernels: a chunk's few float32 planes stay in a
#: core's L2 cache between the passes over them, instead of making each pass go to memory.
CHUNK_ELEMENTS = 1 << 16


def _sum_of_squares_root(gx: _F32, gy: _F32, out: _F32) -> float:
    """``sqrt(gx*gx + gy*gy)`` of 1-D float32 arrays into ``out``; returns its max (NaN if any).

    Chunk by chunk, so the squares never leave the cache; the same ufuncs (each
    correctly rounded) as one pass over the whole, so the same bits.
    """
    square = np.empty(min(CHUNK_ELEMENTS, out.size), np.float32)
    peak = -math.inf
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for start in range(0, out.size, CHUNK_ELEMENTS):
            stop = start + CHUNK_ELEMENTS
            part, x, y = out[start:stop], gx[start:stop], gy[start:stop]
            np.multiply(x, x, out=part)
            spare = square[:part.size]
            np.multiply(y, y, out=spare)
            part += spare
            np.sqrt(part, out=part)
            top = float(part.max())
            if not top <= peak:  # a larger value, or NaN (which then stays)
                peak = top
            if math.isnan(peak):
                break
    return peak


def fold_minus_pi(theta: _F32) -> None:
    """Turn arctan2's -pi into +pi, in place, so angles lie in (-pi, pi].

    Only ``gy`` = -0.0 (or a negative ``gy`` too small to show next to ``gx`` < 0)
    gives -pi: one reduction finds whether any does before a mask is made. The
    orientation's rule, for code that takes arctan2 of a part of a field itself
    (the hsv colour, band by band).

    Examples
    --------
    >>> theta = np.arctan2(np.float32([-0.0, 1.0]), np.float32([-1.0, 0.0]))
    >>> fold_minus_pi(theta); [round(float(t), 4) for t in theta]
    [3.1416, 1.5708]
    """
    if theta.size and float(theta.min()) <= -_PI:
        np.putmask(theta, theta <= -_PI, _PI)


def _as_image(image: ArrayLike, finite: bool = True) -> NDArray[np.float32]:
    """The input rule (:func:`sketchgrad.io.as_image`), C-contiguous for OpenCV."""
    from .io import as_image

    return np.ascontiguousarray(as_image(image, finite=finite))


def _check_mode(mode: str, cval: float) -> None:
    choose(dict.fromkeys(BORDER_MODES), mode, "mode")
    if not np.isfinite(cval):
        raise ParameterError(f"cval={cval!r} must be a finite number")


def _filter(image: NDArray[Any], kernels: tuple[_F32, _F32], mode: str,
            cval: float) -> tuple[_F32, _F32]:
    """Correlate with (derivative x smoothing) along x and y, in float32."""
    import cv2

    derivative, smooth = kernels
    radius = len(derivative) // 2
    h, w = image.shape
    if h == 0 or w == 0:
        return np.zeros_like(image), np.zeros_like(image)
    crop = None
    if mode == "wrap" or (mode == "mirror" and min(h, w) <= radius) or \
            (mode == "reflect" and min(h, w) < radius):
        # OpenCV has no wrap border for filters and needs more pixels than the kernel
        # radius for its reflections; NumPy pads any size with scipy's meaning.
        pad_modes: dict[str, Literal["wrap", "reflect", "symmetric"]] = {
            "wrap": "wrap", "mirror": "reflect", "reflect": "symmetric"}
        pad_mode = pad_modes[mode]
        image = np.pad(image, radius, mode=pad_mode)
        crop = (slice(radius, radius + h), slice(radius, radius + w))
        border = cv2.BORDER_REPLICATE
    else:
        border = getattr(cv2, _CV_BORDERS[mode])
        if mode == "constant" and cval != 0:
            # The combined kernels sum to 0, so a constant border k on I equals a
            # zero border on I - k; cv2.sepFilter2D only pads with zeros.
            image = image - np.float32(cval)
    gx = cv2.sepFilter2D(image, cv2.CV_32F, derivative, smooth, borderType=border)
    gy = cv2.sepFilter2D(image, cv2.CV_32F, smooth, derivative, borderType=border)
    gx, gy = gx.reshape(image.shape), gy.reshape(image.shape)
    if crop is not None:
        gx, gy = np.ascontiguousarray(gx[crop]), np.ascontiguousarray(gy[crop])
    return cast("NDArray[np.float32]", gx), cast("NDArray[np.float32]", gy)  # CV_32F


def sobel(image: NDArray[Any], *, mode: str = "reflect",
          cval: float = 0.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Sobel derivatives ``(gx, gy)`` in intensity per pixel.

    ``gx`` is OpenCV's ``cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3)`` / 8 and
    scikit-image's ``sobel_v`` (``sobel(image, axis=1)``) / 2.

    Parameters
    ----------
    image : ndarray
        (H, W) float32 image.
    mode : str
        Border mode, one of ``BORDER_MODES``.
    cval : float
        Value outside the image for ``mode="constant"``.

    Returns
    -------
    gx, gy : ndarray
        float32 (H, W).

    Examples
    --------
    >>> gx, gy = sobel(np.tile(np.float32([0, 0, 1, 1]), (3, 1)))
    >>> gx[1].tolist(), float(abs(gy).max())
    ([0.0, 0.5, 0.5, 0.0], 0.0)
    """
    return _filter(image, _SOBEL, mode, cval)


def scharr(image: NDArray[Any], *, mode: str = "reflect",
           cval: float = 0.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Scharr derivatives ``(gx, gy)``: ``cv2.Scharr`` / 32, scikit-image's ``scharr_v`` / 2.

    Smoothing taps (3, 10, 3) / 16 across the derivative; more isotropic than
    Sobel. Parameters as :func:`sobel`.

    Examples
    --------
    >>> gx, gy = scharr(np.tile(np.float32([0, 0, 1, 1]), (3, 1)))
    >>> gx[1].tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    return _filter(image, _SCHARR, mode, cval)


def prewitt(image: NDArray[Any], *, mode: str = "reflect",
            cval: float = 0.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Prewitt derivatives ``(gx, gy)``: scikit-image's ``prewitt_v`` / 2.

    Box smoothing (1, 1, 1) / 3 across the derivative. Parameters as :func:`sobel`.

    Examples
    --------
    >>> gx, gy = prewitt(np.tile(np.float32([0, 0, 1, 1]), (3, 1)))
    >>> gx[1].tolist()
    [0.0, 0.5, 0.5, 0.0]
    """
    return _filter(image, _PREWITT, mode, cval)


def farid(image: NDArray[Any], *, mode: str = "reflect",
          cval: float = 0.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Farid & Simoncelli 5-tap derivatives ``(gx, gy)``: scikit-image's ``farid_v`` / FARID_GAIN.

    The 5x5 kernels are the most rotation-invariant here (scikit-image's taps,
    rescaled by ``FARID_GAIN`` = 0.99180 so a ramp gives its slope exactly).
    Parameters as :func:`sobel`.

    Examples
    --------
    >>> y, x = np.mgrid[0:7, 0:7].astype(np.float32)
    >>> gx, gy = farid(0.1 * x)
    >>> round(float(gx[3, 3]), 6), round(float(gy[3, 3]), 6)
    (0.1, 0.0)
    """
    return _filter(image, _FARID, mode, cval)


def central(image: NDArray[Any], *, mode: str = "reflect",
            cval: float = 0.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Central differences ``(I[x+1] - I[x-1]) / 2``, as ``np.gradient`` in the interior.

    No smoothing across the derivative. On the first and last row/column the
    neighbour outside the image comes from ``mode`` (``np.gradient`` instead
    takes a one-sided difference there). Parameters as :func:`sobel`.

    Examples
    --------
    >>> gx, gy = central(np.float32([[0, 1, 4, 9]]))
    >>> gx.tolist()
    [[0.5, 2.0, 4.0, 2.5]]
    """
    return _filter(image, _CENTRAL, mode, cval)


@dataclass(frozen=True)
class Operator:
    """One entry of ``OPERATORS``: what the package needs to know about a gradient operator.

    Attributes
    ----------
    func : callable
        ``func(image) -> (gx, gy)``: a float32 (H, W) image in [0, 1] to two float32
        (H, W) arrays in intensity per pixel (on ``I = a*x + b*y``, ``gx = a`` and
        ``gy = b``); x runs along columns, y down the rows.
    doc : str
        One line for ``sketchgrad methods``.
    reach : int
        How many pixels away from a pixel its gradient still looks (1 for a 3x3
        window, 2 for 5x5). Tiles get this much halo; ``mask=`` erodes by it.
    border_modes : bool
        Whether ``func`` takes ``mode=`` and ``cval=`` keywords (``BORDER_MODES``);
        otherwise it decides its own border and only ``mode="reflect"`` is accepted.

    Calling the entry calls ``func``, so ``OPERATORS["sobel"](img)`` works.
    """

    func: Callable[..., tuple[np.ndarray, np.ndarray]]
    doc: str
    reach: int
    border_modes: bool = False

    def __call__(self, image: NDArray[Any], **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
        """Call ``func``."""
        return self.func(image, **kwargs)


#: The gradient operators by name. Read it as a mapping; add to it with
#: :func:`register_operator`.
OPERATORS: dict[str, Operator] = {
    name: Operator(func, first_doc_line(func), max(len(d), len(s)) // 2, border_modes=True)
    for name, func, (d, s) in (
        ("sobel", sobel, _SOBEL), ("scharr", scharr, _SCHARR), ("prewitt", prewitt, _PREWITT),
        ("farid", farid, _FARID), ("central", central, _CENTRAL))}


def register_operator(name: str, func: Callable[..., tuple[np.ndarray, np.ndarray]], *,
                      reach: int, doc: str | None = None) -> Operator:
    """Add a gradient operator that then works everywhere an operator name is taken.

    That is :func:`gradient_field`, the pipeline (whole and tiled, with ``reach``
    pixels of halo), ``PipelineConfig`` and ``sketchgrad methods``.

    Parameters
    ----------
    name : str
        The operator's name (``operator=name``); must not be taken.
    func : callable
        ``func(image) -> (gx, gy)``: ``image`` is float32 (H, W) in [0, 1]; return
        two float32 (H, W) arrays in intensity per pixel (``gx = a``, ``gy = b`` on
        ``I = a*x + b*y``). Colour images are handled by :func:`gradient_field`
        (Di Zenzo over the channels), so ``func`` only sees grey planes.
    reach : int
        Pixels each side a gradient depends on (1 for a 3x3 kernel); the tiles'
        halo and ``mask=``'s erosion use it, so it must not be understated.
    doc : str, optional
        One-line description (default: the first line of ``func``'s docstring).

    Returns
    -------
    Operator
        The registered entry.

    Examples
    --------
    >>> def forward(image):
    ...     "Forward differences (a 2-pixel window)."
    ...     gx, gy = np.zeros_like(image), np.zeros_like(image)
    ...     gx[:, :-1] = image[:, 1:] - image[:, :-1]
    ...     gy[:-1] = image[1:] - image[:-1]
    ...     return gx, gy
    >>> _ = register_operator("forward_doc", forward, reach=1)
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> round(float(gradient_field(0.1 * x, "forward_doc").gx[2, 2]), 6)
    0.1
    >>> del OPERATORS["forward_doc"]
    """
    checked = check_reach(name, reach)
    if checked is None or callable(checked):
        raise ParameterError(f"reach={reach!r} for operator {name!r}: give the window's "
                             "half side in pixels (an int >= 0)")
    entry = Operator(func, registered_doc(name, func, doc), checked)
    add_entry(OPERATORS, name, entry, "register_operator")
    return entry


def _check_finite(image: _F32, inside: NDArray[np.bool_] | None) -> tuple[bool, float]:
    """Raise on non-finite values inside the mask.

    Returns whether any lie outside it, and the largest finite absolute value.
    """
    # min and max are fast passes; NaN and inf show in them, so the full check runs
    # only when there is something to find.
    if image.size == 0:
        return False, 0.0
    low, high = float(np.min(image)), float(np.max(image))
    if np.isfinite(low) and np.isfinite(high):
        return False, max(-low, high)
    bad = ~np.isfinite(image)
    if image.ndim == 3:
        bad = np.any(bad, axis=2)
    inner = bad if inside is None else bad & inside
    count = int(np.count_nonzero(inner))
    if count:
        where = " inside the mask" if inside is not None else ""
        raise ParameterError(f"image has {count} pixels with non-finite values (NaN or inf)"
                             f"{where}; replace them (e.g. np.nan_to_num) or exclude them "
                             "with mask=")
    finite = np.abs(np.where(np.isfinite(image), image, np.float32(0)))
    return bool(bad.any()), float(finite.max())


#: Luma weights that sign a colour gradient: ITU-R BT.601, the weights ``load_scan``
#: uses to make the grey image, so a colour edge's hue is its grey image's hue.
TONE_WEIGHTS = LUMA_BT601
#: The tie-break axes for RGB edges of equal tone, in order: red minus green, then
#: yellow (mean of red and green) minus blue.
CHROMA_AXES = ((1.0, -1.0, 0.0), (0.5, 0.5, -1.0))
#: A projection signs the direction only when it is at least this share of the
#: Di Zenzo magnitude; in grey the tone's projection is the whole magnitude (1).
SIGN_SHARE = 0.02


def _sign_axes(n_channels: int) -> list[NDArray[np.float32]]:
    """Channel weights tried in order to sign a Di Zenzo direction."""
    if n_channels == 3:
        return [np.asarray(a, np.float32) for a in (TONE_WEIGHTS,) + CHROMA_AXES]
    # Other channel counts: the channel mean as tone, then each channel in turn.
    return [np.full(n_channels, 1 / n_channels, np.float32)] + list(
        np.eye(n_channels, dtype=np.float32))


def _di_zenzo(channels: list[tuple[_F32, _F32]]) -> tuple[_F32, _F32]:
    """Combine per-channel gradients by Di Zenzo's structure tensor (channel mean).

    The sign rule is stated in :func:`gradient_field`'s Notes. Written for
    speed, as a colour run's gradients cost many times the grey ones: a block
    of rows (about ``CHUNK_ELEMENTS`` pixels) at a time, so that the twenty or
    so passes over a block's planes stay in the cache (every pixel's result
    depends on that pixel alone: the same values as the whole at once); the
    tensor is accumulated channel by channel in place, the eigenvector comes
    from the tensor's entries without trigonometry, and the chroma axes are
    evaluated only on the few pixels the tone leaves undecided.
    """
    first = channels[0][0]
    if not first.size:
        return np.zeros_like(first), np.zeros_like(channels[0][1])
    ux, uy = np.empty(first.shape, np.float32), np.empty(first.shape, np.float32)
    rows = max(1, CHUNK_ELEMENTS // max(1, first.size // first.shape[0]))
    for top in range(0, first.shape[0], rows):
        block = slice(top, top + rows)
        ux[block], uy[block] = _di_zenzo_block([(gx[block], gy[block])
                                                for gx, gy in channels])
    return ux, uy


def _hypot(a: _F32, b: _F32) -> _F32:
    """``np.hypot`` of float32 arrays, through float64: ``float32(sqrt(a*a + b*b))``.

    That is how glibc computes ``hypotf`` for finite values (so the same bits
    as ``np.hypot`` there), without overflow or underflow for any finite
    float32 input; NumPy's float32 ``hypot`` calls it per element, this runs
    as vector loops. Di Zenzo's inputs are finite (``gradient_field`` refuses
    others).
    """
    wide = np.multiply(a, a, dtype=np.float64)
    wide += np.multiply(b, b, dtype=np.float64)
    np.sqrt(wide, out=wide)
    return wide.astype(np.float32)


def _di_zenzo_block(channels: list[tuple[_F32, _F32]]) -> tuple[_F32, _F32]:
    """:func:`_di_zenzo` of one block of pixels."""
    # The tensor summed over channels; the mean's 1/n is applied to the magnitude at
    # the end (the eigenvector does not depend on it). NumPy, not OpenCV's accumulate /
    # addWeighted / magnitude: their vector and scalar paths round differently, so a
    # pixel's last bit depended on the array's alignment (tiles, Dask and local runs
    # then disagreed in the statistics' last bits).
    gxx, gyy, gxy = (np.zeros_like(channels[0][0]) for _ in range(3))
    scratch = np.empty_like(gxx)
    for gx, gy in channels:
        gxx += np.multiply(gx, gx, out=scratch)
        gyy += np.multiply(gy, gy, out=scratch)
        gxy += np.multiply(gx, gy, out=scratch)
    del scratch
    # Largest eigenvalue of [[gxx, gxy], [gxy, gyy]]: (gxx + gyy) / 2 + r, with
    # r = |(d, gxy)| and d = (gxx - gyy) / 2.
    half = np.float32(0.5)
    half_diff = np.subtract(gxx, gyy)
    half_diff *= half
    strength = np.add(gxx, gyy, out=gxx)
    strength *= half
    del gxx, gyy
    radius = _hypot(half_diff, gxy)
    strength += radius
    strength *= np.float32(1 / len(channels))
    np.sqrt(strength, out=strength)
    # The eigenvector is along (r + d, gxy) and along (gxy, r - d); the first is
    # well conditioned where d >= 0, the second elsewhere (signed so that ux >= 0,
    # the convention of atan2(gxy, d) / 2). A zero tensor gives (1, 0).
    lean = half_diff < 0
    ux = np.add(radius, half_diff)
    np.subtract(radius, half_diff, out=radius)           # r - d, in r's place
    np.copysign(radius, gxy, out=radius)
    uy = gxy
    np.copyto(ux, np.abs(gxy), where=lean)
    np.copyto(uy, radius, where=lean)
    del half_diff, radius, lean
    length = _hypot(ux, uy)
    # An isotropic tensor (d = gxy = 0: the eigenvector is not defined, e.g. where
    # equal x and y changes meet) gives (1, 0) of length 1, not 1 / (a clamped 0).
    isotropic = length == 0
    np.copyto(ux, np.float32(1.0), where=isotropic)
    np.copyto(length, np.float32(1.0), where=isotropic)
    del isotropic
    ux /= length
    uy /= length
    del length
    # The tensor fixes the direction up to sign. Project the weighted channel
    # gradients (the tone's, then the chroma axes') on it; the first projection
    # that is not negligible next to the magnitude says which way is "up".
    floor = strength * np.float32(SIGN_SHARE)
    axes = _sign_axes(len(channels))
    along = _projection(channels, axes[0], ux, uy)
    undecided = np.abs(along) <= floor
    np.copysign(strength, along, out=strength)
    del along
    if undecided.any():
        where = np.nonzero(undecided)
        picked = [(gx[where], gy[where]) for gx, gy in channels]
        part_ux, part_uy, part_floor = ux[where], uy[where], floor[where]
        part_sign = np.zeros_like(part_ux)
        for weights in axes[1:]:
            along = _projection(picked, weights, part_ux, part_uy)
            decide = (part_sign == 0) & (np.abs(along) > part_floor)
            np.copyto(part_sign, np.sign(along), where=decide)
        # undecided everywhere (a zero gradient): keep u as it is
        part_sign[part_sign == 0] = 1
        strength[where] = np.abs(strength[where]) * part_sign
    del floor, undecided
    ux *= strength
    uy *= strength
    return ux, uy


def _projection(channels: list[tuple[_F32, _F32]], weights: _F32, ux: _F32,
                uy: _F32) -> _F32:
    """``sum_c w_c (gx_c ux + gy_c uy)``: the weighted channels' derivative along ``u``."""
    terms = [(float(w), gx, gy) for w, (gx, gy) in zip(weights, channels, strict=True) if w]
    first, gx, gy = terms[0]
    wx = gx * np.float32(first)
    wy = gy * np.float32(first)
    scratch = np.empty_like(wx)
    for w, gx, gy in terms[1:]:  # NumPy: the same last bit whatever the alignment
        wx += np.multiply(gx, np.float32(w), out=scratch)
        wy += np.multiply(gy, np.float32(w), out=scratch)
    wx *= ux
    wy *= uy
    wx += wy
    return wx


def gradient_field(image: ArrayLike, operator: str = "sobel", *, mode: str = "reflect",
                   cval: float = 0.0, mask: ArrayLike | None = None) -> GradientField:
    """Measure the gradient field of a grey or colour image.

    Parameters
    ----------
    image : ndarray
        (H, W) grey or (H, W, 3) RGB image, read by the input rule
        (:func:`sketchgrad.as_image`: uint8 /255, uint16 /65535, bool, floats
        in [0, 1]; (H, W, 4) is composited over white paper).
    operator : str
        A key of ``OPERATORS``: ``"sobel"`` (default), ``"scharr"``,
        ``"prewitt"``, ``"farid"`` or ``"central"``.
    mode : str
        How the image continues past its border, with scikit-image's meaning
        (see ``BORDER_MODES``): ``"reflect"`` (default, ``dcba|abcd``),
        ``"mirror"`` (``dcb|abcd``, OpenCV's default), ``"nearest"``,
        ``"constant"`` (``cval`` outside) or ``"wrap"``.
    cval : float
        The value outside the image for ``mode="constant"``.
    mask : ndarray of bool, optional
        (H, W) pixels to measure. A gradient is computed only where the
        operator's whole window (3x3, 5x5 for farid) lies inside the mask, so
        pixels outside it never leak in; elsewhere ``gx = gy = 0``, as
        scikit-image's ``mask=``. Unlike scikit-image, the image's own border
        is not masked out: there ``mode`` decides. Non-finite values outside
        the mask are allowed.

    Returns
    -------
    GradientField
        ``gx``, ``gy`` (float32, intensity per pixel), ``magnitude`` and
        ``orientation``.

    Raises
    ------
    ParameterError
        Unknown operator or mode, an image that is not 2-D or 3-D, a mask of
        another shape, or non-finite values (their count is given).

    Notes
    -----
    Scale: on ``I = a*x + b*y`` every operator gives ``gx = a``, ``gy = b``.
    Sobel is OpenCV's ``cv2.Sobel(ksize=3)`` / 8 and scikit-image's
    ``sobel_v`` / 2 (``sobel_h`` / 2 for ``gy``); Scharr is ``cv2.Scharr`` / 32
    and ``scharr_v`` / 2; Prewitt ``prewitt_v`` / 2; Farid ``farid_v`` /
    ``FARID_GAIN``; central is ``np.gradient`` away from the border. OpenCV's
    default border is ``mode="mirror"`` here.

    Colour: the derivatives of each channel are combined with Di Zenzo's
    structure tensor ``T = mean_c [[gx_c**2, gx_c*gy_c], [gx_c*gy_c, gy_c**2]]``:
    the magnitude is ``sqrt`` of its largest eigenvalue (the root-mean-square
    of the channel gradients along the direction they change most) and the
    direction its eigenvector ``u``, which is defined only up to sign (180
    degrees). The sign, for RGB, so that hue means what it means in grey:

    1. where the tone changes along ``u`` -- the derivative of the BT.601 luma
       ``0.299 R + 0.587 G + 0.114 B`` (``TONE_WEIGHTS``, the grey image
       ``load_scan`` makes) along ``u`` is more than ``SIGN_SHARE`` = 2 % of the
       magnitude -- ``u`` points the way the tone rises;
    2. at an edge between colours of equal tone, ``u`` points the way red minus
       green (``R - G``) rises, so a red/green edge points to the red side;
    3. if that too is below 2 % (e.g. yellow against blue of equal tone), the
       way yellow minus blue (``(R + G) / 2 - B``) rises.

    The three axes are independent (the smallest singular value of their matrix
    is 0.55, so on any colour change one projection is at least 55 % of the
    magnitude): every edge is signed by one of them, the same edge always gets
    the same hue, and the magnitude is never reduced. A zero gradient stays 0.
    Other channel counts use the channel mean as tone, then each channel in
    turn. Grey pixels (R = G = B) give the grey image's gradient (to float32
    rounding), and a red stroke on green paper of the same grey has an edge.

    Examples
    --------
    >>> y, x = np.mgrid[0:6, 0:6].astype(np.float32)
    >>> f = gradient_field(0.02 * x + 0.05 * y)
    >>> round(float(f.gx[3, 3]), 6), round(float(f.gy[3, 3]), 6)
    (0.02, 0.05)
    >>> float(np.degrees(f.orientation[3, 3])).__round__(2)
    68.2
    """
    entry = choose(OPERATORS, operator, "operator")
    _check_mode(mode, cval)
    if not entry.border_modes and (mode, cval) != ("reflect", 0.0):
        raise ParameterError(f"operator {operator!r} takes no border mode (it was registered "
                             "without one); leave mode='reflect' and cval=0")
    image = _as_image(image, finite=mask is None)  # a mask may hide non-finite values
    inside = as_mask(mask, image.shape[:2])
    # without a mask the input rule has made every value finite and in [0, 1]
    outside, peak = _check_finite(image, inside) if inside is not None else (False, 1.0)
    if outside:
        # Non-finite values outside the mask must not reach the filters.
        image = np.where(np.isfinite(image), image, np.float32(0))
    # Far beyond [0, 1] the kernels' sums could overflow float32: filter a copy scaled
    # by a power of two and scale back (saturating), so the result stays finite.
    shift = math.frexp(max(peak, abs(cval)))[1] if max(peak, abs(cval)) > _SAFE else 0
    if shift:
        image = np.ldexp(image, -shift).astype(np.float32)
        cval = math.ldexp(cval, -shift)
    # the border value as scaled above
    func = entry.func if not entry.border_modes else partial(entry.func, mode=mode, cval=cval)
    if image.ndim == 2:
        gx, gy = func(image)
    else:
        channels = [func(np.ascontiguousarray(image[..., c])) for c in range(image.shape[2])]
        gx, gy = channels[0] if len(channels) == 1 else _di_zenzo(channels)
    if shift:
        top = np.finfo(np.float32).max
        with np.errstate(over="ignore"):
            gx, gy = (np.clip(np.ldexp(g, shift), -top, top).astype(np.float32)
                      for g in (gx, gy))
    if inside is not None:
        keep = _erode(inside, 2 * entry.reach + 1)
        gx[~keep] = 0
        gy[~keep] = 0
    return GradientField(gx=gx, gy=gy)


def _erode(inside: NDArray[np.bool_], size: int) -> NDArray[np.bool_]:
    """Pixels whose size x size window lies in ``inside`` (outside the image counts as inside)."""
    import cv2

    if inside.size == 0:
        return inside
    kernel = np.ones((size, size), np.uint8)
    eroded = cv2.erode(inside.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                       borderValue=1)
    return eroded.reshape(inside.shape).astype(bool)


def floor_zero_gradients(magnitude: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Magnitudes at most ``ZERO_GRADIENT`` (1e-6) set to zero (before normalizing).

    Such gradients are rounding noise and have no direction. Without this a flat
    page would stay black when computed whole but show its rounding noise at full
    scale when computed in tiles, whose last bits can differ.

    Examples
    --------
    >>> floor_zero_gradients(np.array([1e-7, 0.5], np.float32)).tolist()
    [0.0, 0.5]
    """
    if magnitude.size and magnitude.min() > np.float32(ZERO_GRADIENT):
        return magnitude  # nothing at the floor (the common case): one reduction, no mask
    small = magnitude <= np.float32(ZERO_GRADIENT)
    if not small.any():
        return magnitude
    if in_place:
        np.putmask(magnitude, small, np.float32(0.0))
        return magnitude
    return np.where(small, np.float32(0.0), magnitude)
