"""Mapping gradients and values to colour.

``hsv_remap`` colours a gradient field (hue = direction, value = strength);
``ColorRamp`` maps values in [0, 1] to RGB through a look-up table built by
interpolating colour stops in one of ``COLOR_SPACES``; ``RAMPS`` holds a few
named ramps; ``apply_color`` is what the pipeline calls.

Hue convention (DESIGN.md): hue = (orientation mod 2 pi) / 2 pi, so a tone
rising to the right (+x) is red (0 degrees), rising downwards (+y) is a
quarter turn (chartreuse, 90 degrees), left is cyan, up is violet.

OKLab is Björn Ottosson's perceptual space (2020): linear sRGB -> LMS
(matrix M1), cube root, -> Lab (matrix M2); sRGB uses the IEC 61966-2-1
transfer curve.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .channels import CHROMA_THRESHOLD, luma
from .errors import ParameterError, choose
from .gradients import CHUNK_ELEMENTS, ZERO_GRADIENT, GradientField, fold_minus_pi
from .normalize import normalize as _normalize
from .normalize import to_unit

if TYPE_CHECKING:
    from matplotlib.colors import Colormap, ListedColormap

__all__ = [
    "COLOR_SPACES",
    "COLOR_SPACE_NOTES",
    "HUE_PATHS",
    "RAMPS",
    "ZERO_GRADIENT",
    "ColorRamp",
    "apply_color",
    "ramp_from_spec",
    "hsv_color",
    "as_color",
    "color_label",
    "color_wheel",
    "hsl_to_rgb",
    "hsv_remap",
    "hsv_to_rgb",
    "linear_srgb_to_oklab",
    "oklab_to_linear_srgb",
    "oklab_to_srgb",
    "rgb_to_hsl",
    "rgb_to_hsv",
    "srgb_to_linear",
    "linear_to_srgb",
    "srgb_to_oklab",
    "srgb_image_to_oklab",
    "oklab_image_to_srgb",
    "STROKE_SAMPLES",
    "stroke_color",
    "gradient_map",
]

#: Interpolation spaces of :class:`ColorRamp`, with what each is good for.
COLOR_SPACE_NOTES = {
    "hsv": "hue, saturation, value: vivid transitions; the hue goes round the colour wheel",
    "hsl": "hue, saturation, lightness: like hsv, white and black at the lightness ends",
    "oklab": "perceptual lightness and opponent colours: smooth, even steps, no hue swings",
    "oklch": "oklab in polar form: even lightness while the hue turns round the wheel",
    "rgb": "straight lines between sRGB values: what most editors do; midpoints can go dull",
}
COLOR_SPACES = tuple(COLOR_SPACE_NOTES)
#: Ways round the hue circle between two stops (hue spaces only).
HUE_PATHS = ("shorter", "longer", "increasing", "decreasing")

_TWO_PI = np.float32(2 * np.pi)
# Below this saturation (hsv, hsl) or OKLCh chroma a stop counts as grey (no hue).
_GREY_SATURATION = 1e-6
_GREY_CHROMA = 2e-3

# --------------------------------------------------------------------------- conversions


def hsv_to_rgb(hsv: ArrayLike) -> NDArray[np.float32]:
    """Convert HSV (..., 3) in [0, 1] to RGB float32 (..., 3).

    The same call as ``matplotlib.colors.hsv_to_rgb`` and scikit-image's
    ``skimage.color.hsv2rgb`` (one array, channels last), with the values of
    ``colorsys.hsv_to_rgb``.

    Parameters
    ----------
    hsv : array_like
        (..., 3): hue in turns (taken modulo 1), saturation and value in [0, 1].

    Returns
    -------
    ndarray
        float32, the shape of ``hsv``.

    Raises
    ------
    ParameterError
        If the last axis does not have length 3.

    Examples
    --------
    >>> hsv_to_rgb(np.array([[0.0, 1.0, 1.0], [1 / 3, 1.0, 1.0]])).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    hsv = np.asarray(hsv, dtype=np.float32)
    if hsv.ndim == 0 or hsv.shape[-1] != 3:
        raise ParameterError(f"hsv of shape {hsv.shape} is not an (..., 3) array of hue, "
                             "saturation and value; stack the planes: "
                             "np.stack([h, s, v], axis=-1)")
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    h6 = (h % np.float32(1.0)) * np.float32(6.0)
    # f(n) = v - v*s*max(0, min(k, 4 - k, 1)), k = (n + h6) mod 6, n = 5, 3, 1 for R, G, B
    out = np.empty(h.shape + (3,), np.float32)
    for channel, n in enumerate((5.0, 3.0, 1.0)):
        k = (h6 + np.float32(n)) % np.float32(6.0)
        w = np.clip(np.minimum(k, np.float32(4.0) - k), 0.0, 1.0)
        out[..., channel] = v - v * s * w
    return out


def rgb_to_hsv(rgb: ArrayLike) -> NDArray[np.float64]:
    """Convert RGB (..., 3) in [0, 1] to HSV (..., 3), as ``colorsys.rgb_to_hsv``.

    Examples
    --------
    >>> rgb_to_hsv(np.array([0.0, 0.5, 1.0])).round(4).tolist()
    [0.5833, 1.0, 1.0]
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=-1)
    chroma = v - rgb.min(axis=-1)
    safe = np.where(chroma > 0, chroma, 1.0)
    s = np.where(v > 0, chroma / np.where(v > 0, v, 1.0), 0.0)
    h = np.where(v == r, (g - b) / safe,
                 np.where(v == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = np.where(chroma > 0, (h / 6.0) % 1.0, 0.0)
    return np.stack([h, s, v], axis=-1)


def hsl_to_rgb(hsl: ArrayLike) -> NDArray[np.float64]:
    """Convert HSL (..., 3) (hue in turns) to RGB, as ``colorsys.hls_to_rgb`` (order h, s, l).

    Examples
    --------
    >>> hsl_to_rgb(np.array([2 / 3, 1.0, 0.25])).round(4).tolist()
    [0.0, 0.0, 0.5]
    """
    hsl = np.asarray(hsl, dtype=np.float64)
    h, s, lum = hsl[..., 0] % 1.0, hsl[..., 1], hsl[..., 2]
    a = s * np.minimum(lum, 1.0 - lum)
    out = []
    for n in (0.0, 8.0, 4.0):
        k = (n + h * 12.0) % 12.0
        out.append(lum - a * np.clip(np.minimum(k - 3.0, 9.0 - k), -1.0, 1.0))
    return np.stack(out, axis=-1)


def rgb_to_hsl(rgb: ArrayLike) -> NDArray[np.float64]:
    """Convert RGB (..., 3) in [0, 1] to HSL (..., 3), as ``colorsys.rgb_to_hls`` (order h, s, l).

    Examples
    --------
    >>> rgb_to_hsl(np.array([0.0, 0.0, 0.5])).round(4).tolist()
    [0.6667, 1.0, 0.25]
    """
    hsv = rgb_to_hsv(rgb)
    vmax = hsv[..., 2]
    vmin = vmax * (1.0 - hsv[..., 1])
    lum = (vmax + vmin) / 2.0
    denom = 1.0 - np.abs(2.0 * lum - 1.0)
    s = np.where(denom > 1e-12, (vmax - vmin) / np.where(denom > 1e-12, denom, 1.0), 0.0)
    return np.stack([hsv[..., 0], s, lum], axis=-1)


def srgb_to_linear(rgb: ArrayLike) -> NDArray[np.float64]:
    """Undo the sRGB transfer curve (IEC 61966-2-1); sign-symmetric outside [0, 1].

    Examples
    --------
    >>> srgb_to_linear(np.array([0.0, 0.5, 1.0])).round(4).tolist()
    [0.0, 0.214, 1.0]
    """
    c = np.asarray(rgb, dtype=np.float64)
    a = np.abs(c)
    lin = np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)
    return np.copysign(lin, c)


def linear_to_srgb(lin: ArrayLike) -> NDArray[np.float64]:
    """Apply the sRGB transfer curve (IEC 61966-2-1); sign-symmetric outside [0, 1].

    Examples
    --------
    >>> linear_to_srgb(np.array([0.0, 0.214, 1.0])).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    c = np.asarray(lin, dtype=np.float64)
    a = np.abs(c)
    enc = np.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055)
    return np.copysign(enc, c)


_OK_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                   [0.2119034982, 0.6806995451, 0.1073969566],
                   [0.0883024619, 0.2817188376, 0.6299787005]])
_OK_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                   [1.9779984951, -2.4285922050, 0.4505937099],
                   [0.0259040371, 0.7827717662, -0.8086757660]])
_OK_M2_INV = np.array([[1.0, 0.3963377774, 0.2158037573],
                       [1.0, -0.1055613458, -0.0638541728],
                       [1.0, -0.0894841775, -1.2914855480]])
_OK_M1_INV = np.array([[4.0767416621, -3.3077115913, 0.2309699292],
                       [-1.2684380046, 2.6097574011, -0.3413193965],
                       [-0.0041960863, -0.7034186147, 1.7076147010]])


def linear_srgb_to_oklab(lin: ArrayLike) -> NDArray[np.float64]:
    """Convert linear-light sRGB (..., 3) to OKLab (L, a, b).

    Examples
    --------
    >>> linear_srgb_to_oklab(np.array([1.0, 1.0, 1.0])).round(4).tolist()
    [1.0, 0.0, 0.0]
    """
    lms = np.asarray(lin, dtype=np.float64) @ _OK_M1.T
    return cast("NDArray[np.float64]", np.cbrt(lms) @ _OK_M2.T)


def oklab_to_linear_srgb(lab: ArrayLike) -> NDArray[np.float64]:
    """Convert OKLab (..., 3) to linear-light sRGB (may fall outside [0, 1]).

    Examples
    --------
    >>> oklab_to_linear_srgb(np.array([1.0, 0.0, 0.0])).round(4).tolist()
    [1.0, 1.0, 1.0]
    """
    lms = (np.asarray(lab, dtype=np.float64) @ _OK_M2_INV.T) ** 3
    return cast("NDArray[np.float64]", lms @ _OK_M1_INV.T)


def srgb_to_oklab(rgb: ArrayLike) -> NDArray[np.float64]:
    """Convert sRGB (..., 3) in [0, 1] (gamma-encoded) to OKLab.

    Examples
    --------
    >>> srgb_to_oklab(np.array([1.0, 0.0, 0.0])).round(4).tolist()
    [0.628, 0.2249, 0.1258]
    """
    return linear_srgb_to_oklab(srgb_to_linear(rgb))


def oklab_to_srgb(lab: ArrayLike) -> NDArray[np.float64]:
    """Convert OKLab (..., 3) to gamma-encoded sRGB (not clipped to the gamut).

    Examples
    --------
    >>> oklab_to_srgb(np.array([0.0, 0.0, 0.0])).round(4).tolist()
    [0.0, 0.0, 0.0]
    """
    return linear_to_srgb(oklab_to_linear_srgb(lab))


def srgb_image_to_oklab(rgb: ArrayLike) -> NDArray[np.float32]:
    """Convert an sRGB image (..., 3) in [0, 1] to OKLab in float32, fast.

    The same formulas as :func:`srgb_to_oklab` (to float32 rounding, about
    1e-6), with OpenCV's 3x3 transform instead of float64 matrix products: for
    whole images (a second per megapixel becomes a few tens of milliseconds).
    Values are clipped to [0, 1] first.

    Examples
    --------
    >>> [round(float(v), 4) for v in srgb_image_to_oklab(np.float32([[[1, 0, 0]]]))[0, 0]]
    [0.628, 0.2249, 0.1258]
    """
    import cv2

    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    shape = rgb.shape
    flat = rgb.reshape(-1, 1, 3)
    linear = np.power((flat + np.float32(0.055)) / np.float32(1.055), np.float32(2.4))
    np.copyto(linear, flat / np.float32(12.92), where=flat <= np.float32(0.04045))
    lms = cv2.transform(linear, _OK_M1.astype(np.float32)) if flat.size else linear
    np.cbrt(lms, out=lms)
    lab = cv2.transform(lms, _OK_M2.astype(np.float32)) if flat.size else lms
    return cast("NDArray[np.float32]", lab.reshape(shape))


def oklab_image_to_srgb(lab: ArrayLike) -> NDArray[np.float32]:
    """Convert an OKLab image (..., 3) to sRGB float32 clipped to [0, 1], fast.

    The inverse of :func:`srgb_image_to_oklab` (to float32 rounding); colours
    outside the sRGB gamut are clipped channel by channel.

    Examples
    --------
    >>> rgb = np.float32([[[0.2, 0.5, 0.9], [1.0, 0.0, 0.0]]])
    >>> bool(np.abs(oklab_image_to_srgb(srgb_image_to_oklab(rgb)) - rgb).max() < 1e-5)
    True
    """
    lab = np.asarray(lab, dtype=np.float32)
    linear = np.clip(_oklab_to_linear32(lab), 0.0, 1.0)
    encoded = np.power(linear, np.float32(1 / 2.4)) * np.float32(1.055) - np.float32(0.055)
    np.copyto(encoded, linear * np.float32(12.92), where=linear <= np.float32(0.0031308))
    return cast("NDArray[np.float32]", np.clip(encoded, 0.0, 1.0, out=encoded).reshape(lab.shape))


def _oklab_to_linear32(lab: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    """OKLab (..., 3) float32 -> linear sRGB (..., 3) float32, not clipped."""
    import cv2

    flat = lab.reshape(-1, 1, 3)
    if not flat.size:
        return np.zeros(lab.shape, np.float32)
    lms = cv2.transform(flat, _OK_M2_INV.astype(np.float32))
    lms = lms * lms * lms
    return cast("NDArray[np.floating[Any]]",
                cv2.transform(lms, _OK_M1_INV.astype(np.float32)).reshape(lab.shape))


#: Bisection steps that pull an out-of-gamut OKLab colour's chroma in (2^-10 of it).
_GAMUT_STEPS = 10


def _fit_gamut(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Scale (a, b) of out-of-sRGB-gamut OKLab pixels towards grey, keeping L and hue.

    ``lab`` is float32 (N, 3) and modified in place; the largest chroma scale
    in [0, 1] that stays in gamut is found by bisection.
    """
    slack = np.float32(1e-4)
    linear = _oklab_to_linear32(lab)
    outside = np.flatnonzero(((linear < -slack) | (linear > 1 + slack)).any(axis=1))
    if not outside.size:
        return lab
    colours = lab[outside]
    low = np.zeros(outside.size, np.float32)
    high = np.ones(outside.size, np.float32)
    trial = colours.copy()
    for _ in range(_GAMUT_STEPS):
        middle = (low + high) / np.float32(2)
        trial[:, 1:] = colours[:, 1:] * middle[:, None]
        lin = _oklab_to_linear32(trial)
        fits = ((lin >= -slack) & (lin <= 1 + slack)).all(axis=1)
        low = np.where(fits, middle, low)
        high = np.where(fits, high, middle)
    colours[:, 1:] *= low[:, None]
    lab[outside] = colours
    return lab


def _to_space(rgb: ArrayLike, space: str) -> NDArray[np.float64]:
    """Convert sRGB to coordinates of ``space`` (hues in turns)."""
    if space == "rgb":
        return np.asarray(rgb, dtype=np.float64)
    if space == "hsv":
        return rgb_to_hsv(rgb)
    if space == "hsl":
        return rgb_to_hsl(rgb)
    lab = srgb_to_oklab(rgb)
    if space == "oklab":
        return lab
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    hue = (np.arctan2(lab[..., 2], lab[..., 1]) / (2 * np.pi)) % 1.0
    return np.stack([lab[..., 0], chroma, hue], axis=-1)


def _from_space(coords: NDArray[np.float64], space: str) -> NDArray[np.float64]:
    """Coordinates of ``space`` -> sRGB clipped to [0, 1]."""
    if space == "rgb":
        rgb = coords
    elif space == "hsv":
        rgb = hsv_to_rgb(coords).astype(np.float64)
    elif space == "hsl":
        rgb = hsl_to_rgb(coords)
    else:
        lab = coords
        if space == "oklch":
            angle = coords[..., 2] * (2 * np.pi)
            lab = np.stack([coords[..., 0], coords[..., 1] * np.cos(angle),
                            coords[..., 1] * np.sin(angle)], axis=-1)
        rgb = oklab_to_srgb(lab)
    return np.clip(rgb, 0.0, 1.0)


# Index of the hue coordinate in each hue space.
_HUE_INDEX = {"hsv": 0, "hsl": 0, "oklch": 2}


# --------------------------------------------------------------------------- HSV remap


def _check_unit(name: str, x: object) -> float:
    try:
        number = float(cast(float, x))
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={x!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise ParameterError(f"{name}={number!r} must be in [0, 1]")
    return number


def _hue_rows(field: GradientField, axial: bool, rows: slice,
              out: NDArray[np.float32]) -> NDArray[np.float32]:
    """Hue in degrees of the rows ``rows`` of a field, into ``out``.

    The orientation (``field.orientation``'s float32 arctan2 in (-pi, pi]) of
    these rows only, so no whole-size angle plane is made, times 180/pi (360/pi
    axial), plus 360 to make it positive: OpenCV's float HSV2RGB wraps hues
    >= 360 only.
    """
    np.arctan2(field.gy[rows], field.gx[rows], out=out)
    fold_minus_pi(out)  # arctan2's -pi (gy = -0.0) is +pi, as in orientation
    out *= np.float32(360.0 / np.pi if axial else 180.0 / np.pi)
    out += np.float32(360.0)
    return out


_Plane = NDArray[Any] | np.floating[Any]


def _compose(hue: _Plane | GradientField, saturation: _Plane, value: _Plane,
             zero: NDArray[np.bool_] | None, shape: tuple[int, ...], dtype: DTypeLike, *,
             axial: bool = False, magnitude: NDArray[np.float32] | None = None) -> NDArray[Any]:
    """HSV planes -> RGB of ``dtype``, through OpenCV's float HSV2RGB.

    ``hue`` is in degrees (an array or a float), or a :class:`GradientField`
    whose orientation gives it (:func:`_hue_rows`, ``axial`` as there);
    ``saturation`` and ``value`` are arrays or floats in [0, 1]. Pixels in
    ``zero``, or whose ``magnitude`` is at most ``ZERO_GRADIENT``, are black.

    Computed a band of rows at a time: a band's float planes (hue, the
    interleaved HSV, the RGB made from it) stay in the cache from one step to
    the next and no full-size float temporary is made; every pixel gets the
    operations it would get on the whole image, so the same values. The HSV
    band is filled channel by channel (a constant channel once, before the
    first band) and converted into a separate RGB band (measured, 8.5 MP:
    a fifth less time than merging the planes and converting in place).
    """
    import cv2

    kind = np.dtype(dtype)
    if kind not in (np.float32, np.uint8, np.uint16):
        raise ParameterError(f"dtype={kind.name!r} is not supported; use np.float32, np.uint8 "
                             "or np.uint16")
    if not int(np.prod(shape)):  # OpenCV refuses empty images
        return np.zeros(tuple(shape) + (3,), kind)
    height, width = shape[0], shape[1]
    out = np.empty((height, width, 3), kind)
    band = max(1, CHUNK_ELEMENTS // width)
    pixels = min(band, height) * width
    hsv = np.empty((min(band, height), width, 3), np.float32)
    rgb = np.empty_like(hsv)
    # the channels that are one number are written once; cvtColor never overwrites them
    rows_of: list[tuple[int, NDArray[Any]]] = []
    for channel, plane in enumerate((hue, saturation, value)):
        if isinstance(plane, np.ndarray):
            rows_of.append((channel, np.asarray(plane, np.float32)))
        elif not isinstance(plane, GradientField):
            hsv[..., channel] = np.float32(plane)
    hue_band = np.empty(pixels, np.float32)
    black_band = np.empty(pixels, bool)
    blackened = False  # a constant value channel holds the last band's black pixels
    for top in range(0, height, band):
        rows = slice(top, min(height, top + band))
        n = rows.stop - top
        chunk = hsv[:n]
        if isinstance(hue, GradientField):
            chunk[..., 0] = _hue_rows(hue, axial, rows, hue_band[:n * width].reshape(n, width))
        for channel, whole in rows_of:
            chunk[..., channel] = whole[rows]
        black = None
        if zero is not None:
            black = zero[rows]
        elif magnitude is not None:
            black = np.less_equal(magnitude[rows], np.float32(ZERO_GRADIENT),
                                  out=black_band[:n * width].reshape(n, width))
        if black is not None and black.any():
            shown = chunk[..., 2]
            if not isinstance(value, np.ndarray):
                shown[...] = np.float32(value)
                blackened = True
            np.copyto(shown, np.float32(0.0), where=black)
        elif blackened:
            chunk[..., 2] = np.float32(value)
            blackened = False
        cv2.cvtColor(chunk, cv2.COLOR_HSV2RGB, dst=rgb[:n])
        _finish_into(rgb[:n], out[rows], kind)
    return out


def _finish_into(rgb: NDArray[np.float32], out: NDArray[Any], kind: np.dtype[Any]) -> None:
    """Float RGB (changed in place) -> ``out`` of dtype ``kind``, the colour outputs' rounding.

    Clipped to [0, 1]; uint8 is OpenCV's ``convertScaleAbs`` of 255 v (rounded to
    nearest), uint16 ``floor(65535 v + 1/2)``.
    """
    if kind == np.float32:
        np.clip(rgb, 0.0, 1.0, out=out)
    elif kind == np.uint8:
        import cv2

        flat = out.reshape(-1, 3)
        done = cv2.convertScaleAbs(rgb.reshape(-1, 3), dst=flat, alpha=255.0)
        if done is not flat:  # OpenCV made a new array after all
            np.copyto(flat, done.reshape(flat.shape))
    else:
        np.clip(rgb, 0.0, 1.0, out=rgb)
        rgb *= np.float32(65535.0)
        rgb += np.float32(0.5)
        np.copyto(out, rgb, casting="unsafe")


def _finish(rgb: NDArray[np.float32], dtype: DTypeLike) -> NDArray[Any]:
    """Float RGB (computed in place) -> the requested output dtype (``_finish_into``'s rule)."""
    kind = np.dtype(dtype)
    if kind not in (np.float32, np.uint8, np.uint16):
        raise ParameterError(f"dtype={kind.name!r} is not supported; use np.float32, "
                             "np.uint8 or np.uint16")
    if kind == np.float32:
        return np.clip(rgb, 0.0, 1.0, out=rgb)  # in place: no second float image
    out = np.empty(rgb.shape, kind)
    if rgb.size:
        _finish_into(rgb, out, kind)
    return out


def hsv_remap(field: GradientField, *, hue: str | float = "orientation",
              saturation: str | float = 1.0, value: str | float = "magnitude",
              normalize: str = "minmax", axial: bool = False,
              strength: ArrayLike | None = None,
              dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Normalize a field's magnitude, then colour it: a convenience over :func:`hsv_color`.

    The strength is the gradient magnitude normalized with ``normalize`` and
    brought to [0, 1] by :func:`sketchgrad.to_unit` (the normalize stage), then
    :func:`hsv_color` colours the field with it (the colour stage). On the same
    gradients this matches the OpenCV recipe (``cartToPolar`` angle as hue,
    ``NORM_MINMAX`` magnitude as value, ``COLOR_HSV2BGR``) to within 2 levels
    of 255, without that recipe's 2-degree hue steps.

    Parameters
    ----------
    field : GradientField
        The gradients.
    hue, saturation, value, axial, dtype
        As for :func:`hsv_color`.
    normalize : str
        A key of ``NORMALIZE_METHODS`` for the strength.
    strength : ndarray, optional
        An already-normalized magnitude in [0, 1] to use instead of ``normalize``.

    Returns
    -------
    ndarray
        RGB (H, W, 3): float32 in [0, 1], or uint8 / uint16.

    See Also
    --------
    hsv_color : the colour stage alone.
    color_wheel : the legend of this colouring.

    Examples
    --------
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> from sketchgrad.gradients import gradient_field
    >>> rgb = hsv_remap(gradient_field(0.1 * x))   # tone rises to the right: red
    >>> rgb[2, 2].round(3).tolist()
    [1.0, 0.0, 0.0]
    >>> hsv_remap(gradient_field(0.1 * (x + y)), dtype=np.uint8)[2, 2].tolist()  # down-right
    [255, 191, 0]
    """
    _check_field(field)
    if strength is None:
        _check_channels(hue, saturation, value)
        strength = to_unit(_normalize(field.magnitude, normalize), normalize,
                           copy=False)  # new array
    return hsv_color(field, strength, hue=hue, saturation=saturation, value=value, axial=axial,
                     dtype=dtype)


def _check_channels(hue: object, saturation: object, value: object) -> None:
    if not (hue == "orientation" or not isinstance(hue, str)):
        raise ParameterError(f"hue={hue!r}: use 'orientation' or a fixed hue in [0, 1]")
    for name, channel in (("saturation", saturation), ("value", value)):
        if isinstance(channel, str) and channel != "magnitude":
            raise ParameterError(f"{name}={channel!r}: use 'magnitude' or a number in [0, 1]")


def hsv_color(field: GradientField, strength: ArrayLike, *, hue: str | float = "orientation",
              saturation: str | float = 1.0, value: str | float = "magnitude",
              axial: bool = False, dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Colour a gradient field: by default hue from direction, value from a given strength.

    The colour stage alone: ``strength`` is already in [0, 1] (the normalize
    stage's output brought there by :func:`sketchgrad.to_unit`). Pixels whose
    magnitude is at most ``ZERO_GRADIENT`` have no direction and are black.

    Parameters
    ----------
    field : GradientField
        The gradients.
    strength : ndarray
        (H, W) normalized magnitude in [0, 1].
    hue : "orientation" or float
        Hue from the gradient direction (0 = right = red, a quarter turn =
        down), or a fixed hue in turns, [0, 1].
    saturation, value : "magnitude" or float
        Each channel takes the strength (``"magnitude"``) or a fixed value in [0, 1].
    axial : bool
        Hue from the orientation modulo pi, spread over the whole wheel, so the
        two sides of a stroke (opposite gradients) get one colour.
    dtype : {np.float32, np.uint8, np.uint16}
        Output type; uint8 is rounded directly from the float result.

    Returns
    -------
    ndarray
        RGB (H, W, 3): float32 in [0, 1], or uint8 / uint16.

    Examples
    --------
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> from sketchgrad.gradients import gradient_field
    >>> hsv_color(gradient_field(0.1 * y), np.ones((5, 5), np.float32))[2, 2].round(3).tolist()
    [0.5, 1.0, 0.0]
    """
    _check_field(field)
    _check_channels(hue, saturation, value)
    shape = field.gx.shape
    strength = np.asarray(strength, dtype=np.float32)
    if strength.shape != shape:
        raise ParameterError(f"strength of shape {strength.shape} does not match the "
                             f"field's {shape}")
    strength = _no_nan(strength, "strength")
    hue_plane = (field if hue == "orientation"  # the hue made band by band
                 else np.float32(_check_unit("hue", hue) * 360.0))
    planes = [strength if c == "magnitude" else np.float32(_check_unit(n, c))
              for n, c in (("saturation", saturation), ("value", value))]
    return _compose(hue_plane, planes[0], planes[1], None, shape, dtype, axial=axial,
                    magnitude=field.magnitude)


def orientation_hue(field: GradientField, *, axial: bool = False) -> NDArray[np.float32]:
    """The hue :func:`hsv_color` gives each pixel of ``field``, in degrees plus 360.

    The values its bands are coloured with: the orientation in (-pi, pi]
    times 180/pi (360/pi ``axial``), plus 360. For a caller that keeps the
    hue instead of the field (the tile engine's first pass, so that its
    second pass colours without ``gx`` and ``gy``): :func:`hsv_color_of_hue`
    then gives :func:`hsv_color`'s result, value for value.

    Examples
    --------
    >>> from sketchgrad.gradients import gradient_field
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> float(orientation_hue(gradient_field(0.1 * y))[2, 2])
    450.0
    """
    _check_field(field)
    out = np.empty(np.shape(field.gx), np.float32)
    return _hue_rows(field, bool(axial), slice(None), out)


def hsv_color_of_hue(hue: NDArray[np.float32], strength: ArrayLike,
                     magnitude: NDArray[np.float32], *,
                     dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """:func:`hsv_color` with its defaults, from the hue :func:`orientation_hue` made.

    ``strength`` is the value, ``magnitude`` the field's (pixels at most
    ``ZERO_GRADIENT`` are black): the same values as ``hsv_color(field,
    strength, axial=..., dtype=dtype)``.

    Examples
    --------
    >>> from sketchgrad.gradients import gradient_field
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> f = gradient_field(0.1 * y)
    >>> one = np.ones((5, 5), np.float32)
    >>> bool((hsv_color_of_hue(orientation_hue(f), one, f.magnitude)
    ...       == hsv_color(f, one)).all())
    True
    """
    shape = np.shape(hue)
    strength = np.asarray(strength, dtype=np.float32)
    if strength.shape != shape or np.shape(magnitude) != shape:
        raise ParameterError(f"strength of shape {strength.shape} and magnitude of shape "
                             f"{np.shape(magnitude)} do not match the hue's {shape}")
    strength = _no_nan(strength, "strength")
    return _compose(np.asarray(hue, np.float32), np.float32(1.0), strength, None, shape,
                    dtype, magnitude=magnitude)


def _check_field(field: object, name: str = "field") -> None:
    if not isinstance(field, GradientField):
        raise ParameterError(f"{name} is a {type(field).__name__}, not a GradientField; give "
                             "gradient_field(image) (a GradientField(gx, gy) of two (H, W) "
                             "arrays), not the image itself")


def _no_nan(x: NDArray[np.float32], name: str) -> NDArray[np.float32]:
    if x.size and np.isnan(x.min()):
        raise ParameterError(f"{name} contains NaN; give finite values in [0, 1]")
    return x


def color_wheel(size: int = 256, *, axial: bool = False,
                background: float = 1.0) -> NDArray[np.float32]:
    """The legend of :func:`hsv_remap`: hue = direction, brightness = strength.

    A disc seen as the image plane (x right, y down): the colour a pixel
    shows when the tone rises in the direction from the centre to that point,
    with the strength growing from black at the centre to full at the rim.

    Parameters
    ----------
    size : int
        Side of the square image in pixels.
    axial : bool
        The legend of ``hsv_remap(..., axial=True)``.
    background : float
        Grey level outside the disc.

    Returns
    -------
    ndarray
        RGB float32 (size, size, 3) in [0, 1].

    Examples
    --------
    >>> wheel = color_wheel(65)
    >>> (wheel[32, 60] * 10).round().tolist(), (wheel[60, 32] * 10).round().tolist()
    ([9.0, 0.0, 0.0], [4.0, 9.0, 0.0])
    """
    size = int(size)
    if size < 1:
        raise ParameterError(f"size={size!r} must be a positive number of pixels")
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = x - np.float32(c), y - np.float32(c)
    radius = np.hypot(dx, dy) / np.float32(max(c, 0.5))
    field = GradientField(gx=dx, gy=dy)
    rgb = hsv_remap(field, axial=axial, strength=np.clip(radius, 0.0, 1.0))
    rgb[radius > 1.0] = np.float32(background)
    return rgb


# --------------------------------------------------------------------------- colour ramps


# compiled on first use (re's cache), not at import
_HEX = r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})"


def _parse_colour(c: str | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(c, str):
        m = re.fullmatch(_HEX, c.strip())
        if m:
            digits = m.group(1)
            if len(digits) == 3:
                digits = "".join(d * 2 for d in digits)
            return (int(digits[0:2], 16) / 255.0, int(digits[2:4], 16) / 255.0,
                    int(digits[4:6], 16) / 255.0)
        from matplotlib.colors import to_rgb

        try:
            red, green, blue = to_rgb(c.strip())
            return (float(red), float(green), float(blue))
        except ValueError:
            raise ParameterError(f"stops: {c!r} is not a colour; use '#rrggbb' or a "
                                 "colour name such as 'navy'") from None
    try:
        rgb = tuple(float(v) for v in c)
    except (TypeError, ValueError):
        raise ParameterError(f"stops: {c!r} is not a colour; use '#rrggbb', a colour name "
                             "or an (r, g, b) tuple in [0, 1]") from None
    if len(rgb) != 3 or not all(0.0 <= v <= 1.0 for v in rgb):
        raise ParameterError(f"stops: {c!r} is not an RGB triple in [0, 1] "
                             "(divide 0-255 values by 255)")
    return (rgb[0], rgb[1], rgb[2])


def _colormap_stops(cmap: str | Colormap) -> list[tuple[float, float, float]]:
    from matplotlib import colormaps

    if isinstance(cmap, str):
        if cmap not in colormaps:
            raise ParameterError(f"stops={cmap!r} is not a matplotlib colormap name; give a "
                                 "list of colours or a name such as 'viridis'")
        cmap = colormaps[cmap]
    n = int(min(max(getattr(cmap, "N", 256), 2), 256))
    rgba = [cmap(t) for t in np.linspace(0.0, 1.0, n)]
    return [(float(c[0]), float(c[1]), float(c[2])) for c in rgba]


def _bayer(n: int = 8) -> NDArray[np.float32]:
    """Ordered-dither thresholds (n x n Bayer matrix) in (0, 1)."""
    m = np.zeros((1, 1), np.int64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / m.size).astype(np.float32)


class ColorRamp:
    """A colour ramp: values in [0, 1] mapped to RGB through a look-up table.

    Parameters
    ----------
    stops : sequence or str or Colormap
        Colours as ``'#rrggbb'`` / ``'#rgb'`` strings, colour names or RGB
        tuples in [0, 1]; or a matplotlib colormap (name or object), sampled.
    space : {"hsv", "hsl", "oklab", "oklch", "rgb"}
        Space the stops are interpolated in. "rgb" interpolates the
        gamma-encoded values; "oklab"/"oklch" are perceptual. Colours outside
        the sRGB gamut (possible in oklch) are clipped.
    positions : sequence of float, optional
        Where each stop sits, non-decreasing from 0 to 1 (a repeated position
        makes a hard edge); evenly spaced by default.
    hue_path : {"shorter", "longer", "increasing", "decreasing"}
        Way round the hue circle between two stops in hue spaces. A grey stop
        has no hue and takes its neighbour's, so grey -> blue stays blue.
    uniform : bool
        Re-space the ramp by perceptual distance (OKLab delta E along the
        path, arc length), so equal steps in value give equal visible change.
        A step that straddles a sharp turn of the path at a stop (black ->
        yellow -> white in "rgb") is shorter, as the chord of a corner.
    lut_size : int
        Entries of the look-up table (at least 4096; the default 4097 puts
        stops at 1/2, 1/4, ... exactly on an entry).

    Attributes
    ----------
    lut : ndarray
        float32 (lut_size, 3) sRGB in [0, 1].

    Examples
    --------
    >>> ramp = ColorRamp(["#000000", "#ffffff"], space="rgb")
    >>> ramp(np.array([0.0, 0.5, 1.0])).round(2).tolist()
    [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]
    >>> ColorRamp(["red", "blue"])(np.array([0.5]), dtype=np.uint8).tolist()  # via magenta
    [[255, 0, 255]]
    """

    LUT_SIZE = 4097
    MIN_LUT_SIZE = 4096

    def __init__(self, stops: str | Colormap | Sequence[str | Sequence[float]], *,
                 space: str | None = None, positions: Sequence[float] | None = None,
                 hue_path: str = "shorter",
                 uniform: bool = False, lut_size: int = LUT_SIZE,
                 name: str | None = None) -> None:
        named = RAMPS.get(stops) if isinstance(stops, str) and "RAMPS" in globals() else None
        if named is not None:  # ColorRamp("sepia"): the named ramp, in its own space
            name = name or named.name
            stops, space = list(named.stops), space or named.space
            positions = list(named.positions) if positions is None else positions
        space = space or "hsv"
        choose(dict.fromkeys(COLOR_SPACES), space, "space")
        choose(dict.fromkeys(HUE_PATHS), hue_path, "hue_path")
        if isinstance(stops, str) or (callable(stops) and hasattr(stops, "N")):
            name = name or cast("str | None", getattr(stops, "name", stops))
            stops = _colormap_stops(stops)
        colours = cast("Sequence[str | Sequence[float]]", stops)  # a colormap is sampled above
        self.stops: list[tuple[float, float, float]] = [_parse_colour(c) for c in colours]
        if len(self.stops) < 2:
            raise ParameterError("stops: a ramp needs at least two colours")
        if int(lut_size) < self.MIN_LUT_SIZE:
            raise ParameterError(f"lut_size={lut_size!r} must be at least {self.MIN_LUT_SIZE}")
        if positions is None:
            pos = np.linspace(0.0, 1.0, len(self.stops))
        else:
            pos = np.asarray(positions, dtype=np.float64)
            if (pos.shape != (len(self.stops),) or not np.all(np.isfinite(pos))
                    or np.any(np.diff(pos) < 0) or pos[0] != 0.0 or pos[-1] != 1.0):
                raise ParameterError(f"positions={list(positions)!r}: give one non-decreasing "
                                     f"position per stop ({len(self.stops)}), from 0 to 1")
        self.positions: NDArray[np.float64] = pos
        self.space: str = space
        self.hue_path: str = hue_path
        self.uniform = bool(uniform)
        self.name: str | None = name
        self._seg_start, self._seg_end = self._segments()
        self._lut_size = int(lut_size)
        self._lut: NDArray[np.float32] | None = None  # evaluated on first use (lut)
        self._lut8: NDArray[np.uint8] | None = None
        self._lut16: NDArray[np.uint16] | None = None

    @property
    def lut(self) -> NDArray[np.float32]:
        """The look-up table, float32 (lut_size, 3) sRGB in [0, 1].

        Evaluated when first read, not when the ramp is made: the named ramps
        (``RAMPS``) are made when sketchgrad is imported, and most runs use none.
        """
        if self._lut is None:
            t = np.linspace(0.0, 1.0, self._lut_size)
            if self.uniform:
                t = self._uniform_parameter(t)
            self._lut = self._evaluate(t).astype(np.float32)
        return self._lut

    def to_dict(self) -> dict[str, Any]:
        """The ramp as plain JSON-able values (what provenance records); see :meth:`from_dict`.

        Examples
        --------
        >>> d = ColorRamp(["black", "white"], space="rgb").to_dict()
        >>> d["stops"], d["space"]
        ([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], 'rgb')
        >>> ColorRamp.from_dict(d) == ColorRamp(["black", "white"], space="rgb")
        True
        """
        return {"stops": [list(c) for c in self.stops], "space": self.space,
                "positions": [float(p) for p in self.positions], "hue_path": self.hue_path,
                "uniform": self.uniform, "lut_size": self._lut_size,
                **({"name": self.name} if self.name else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColorRamp:
        """Rebuild a ramp from :meth:`to_dict`'s values (unknown keys are an error)."""
        if not isinstance(data, dict) or "stops" not in data:
            raise ParameterError(f"color={data!r}: a ramp table needs 'stops' (a list of "
                                 "colours) and may give space, positions, hue_path, uniform")
        known = {"stops", "space", "positions", "hue_path", "uniform", "lut_size", "name"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"color: unknown ramp key(s) {', '.join(unknown)}; valid "
                                 f"keys: {', '.join(sorted(known))}")
        return cls(**data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ColorRamp):
            return NotImplemented
        mine, theirs = self.to_dict(), other.to_dict()
        mine.pop("name", None)
        theirs.pop("name", None)
        return mine == theirs

    def __hash__(self) -> int:
        return hash((tuple(self.stops), self.space, tuple(self.positions.tolist()),
                     self.hue_path, self.uniform, self._lut_size))

    def __repr__(self) -> str:
        shown = self.stops if len(self.stops) <= 6 else self.stops[:: len(self.stops) // 5]
        hexes = ", ".join("#" + "".join(f"{round(v * 255):02x}" for v in c) for c in shown)
        return (f"ColorRamp([{hexes}], space={self.space!r}, hue_path={self.hue_path!r}, "
                f"uniform={self.uniform})")

    # -- building
    def _segments(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per-segment start and end coordinates, with hues unwrapped along the path."""
        coords = _to_space(np.array(self.stops), self.space)
        start, end = coords[:-1].copy(), coords[1:].copy()
        hi = _HUE_INDEX.get(self.space)
        if hi is None:
            return start, end
        if self.space == "oklch":
            grey = coords[:, 1] < _GREY_CHROMA
        else:
            grey = (coords[:, 1] < _GREY_SATURATION) | (coords[:, 2] <= 0.0) | (
                (self.space == "hsl") & (coords[:, 2] >= 1.0))
        hues = coords[:, hi].copy()
        coloured = np.flatnonzero(~grey)
        for i in np.flatnonzero(grey):  # nearest coloured stop, for runs of greys
            if coloured.size:
                hues[i] = hues[coloured[np.argmin(np.abs(coloured - i))]]
        for k in range(len(hues) - 1):
            h0 = hues[k + 1] if grey[k] and not grey[k + 1] else hues[k]
            h1 = hues[k] if grey[k + 1] and not grey[k] else hues[k + 1]
            start[k, hi] = h0
            end[k, hi] = h0 + self._hue_step(h1 - h0)
        return start, end

    def _hue_step(self, d: float) -> float:
        shorter = (d + 0.5) % 1.0 - 0.5
        if self.hue_path == "shorter":
            return shorter
        if self.hue_path == "longer":
            return shorter - np.sign(shorter) if shorter != 0 else 0.0
        if self.hue_path == "increasing":
            return d % 1.0
        return -((-d) % 1.0)

    def _evaluate(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Evaluate the ramp (sRGB float64, clipped) at parameters ``t`` in [0, 1]."""
        pos = self.positions
        seg = np.clip(np.searchsorted(pos, t, side="right") - 1, 0, len(pos) - 2)
        span = pos[seg + 1] - pos[seg]
        frac = np.where(span > 0, (t - pos[seg]) / np.where(span > 0, span, 1.0), 1.0)
        frac = np.clip(frac, 0.0, 1.0)[:, None]
        coords = self._seg_start[seg] + frac * (self._seg_end[seg] - self._seg_start[seg])
        return _from_space(coords, self.space)

    def _uniform_parameter(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Parameters at which the OKLab arc length along the ramp is evenly spaced."""
        fine = np.linspace(0.0, 1.0, 8 * t.size)
        lab = srgb_to_oklab(self._evaluate(fine))
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(lab, axis=0), axis=1))])
        if arc[-1] <= 0:
            return t
        return cast("NDArray[np.float64]", np.interp(t * arc[-1], arc, fine))

    # -- applying
    # The result's type follows ``dtype``: float32 by default, else 8 or 16 bits.
    @overload
    def __call__(self, values: ArrayLike, *, dtype: type[np.float32] = ...,
                 dither: bool = ...) -> NDArray[np.float32]: ...
    @overload
    def __call__(self, values: ArrayLike, *, dtype: type[np.uint8],
                 dither: bool = ...) -> NDArray[np.uint8]: ...
    @overload
    def __call__(self, values: ArrayLike, *, dtype: type[np.uint16],
                 dither: bool = ...) -> NDArray[np.uint16]: ...
    @overload
    def __call__(self, values: ArrayLike, *, dtype: DTypeLike,
                 dither: bool = ...) -> NDArray[Any]: ...

    def __call__(self, values: ArrayLike, *, dtype: DTypeLike = np.float32,
                 dither: bool = False) -> NDArray[Any]:
        """Map values in [0, 1] (clipped) to RGB (..., 3).

        Parameters
        ----------
        values : ndarray
            Values in [0, 1]; outside values are clipped, NaN is an error.
        dtype : {np.float32, np.uint8, np.uint16}
            float32 in [0, 1], or 8-/16-bit integers.
        dither : bool
            For uint8 output: ordered (8x8 Bayer) dithering of the rounding, so
            slow ramps show no bands. Needs a 2-D ``values``.

        Returns
        -------
        ndarray
            RGB of the requested dtype.
        """
        values = _no_nan(np.asarray(values, dtype=np.float32), "values")
        n = self.lut.shape[0]
        scaled = np.clip(values, 0.0, 1.0) * np.float32(n - 1)
        scaled += np.float32(0.5)
        idx = scaled.astype(np.intp)
        dtype = np.dtype(dtype)
        if dither:
            if dtype != np.uint8 or values.ndim != 2:
                raise ParameterError("dither=True needs dtype=np.uint8 and a 2-D values array")
            rgb = np.take(self.lut, idx, axis=0)
            rgb *= np.float32(255.0)
            h, w = values.shape
            thresholds = np.tile(_bayer(8), (h // 8 + 1, w // 8 + 1))[:h, :w]
            rgb += thresholds[..., None]
            return np.clip(rgb, 0.0, 255.0, out=rgb).astype(np.uint8)
        if dtype == np.float32:
            return np.take(self.lut, idx, axis=0)
        if dtype == np.uint8:
            if self._lut8 is None:
                self._lut8 = np.round(self.lut * 255.0).astype(np.uint8)
            return np.take(self._lut8, idx, axis=0)
        if dtype == np.uint16:
            if self._lut16 is None:
                self._lut16 = np.round(self.lut.astype(np.float64) * 65535.0).astype(np.uint16)
            return np.take(self._lut16, idx, axis=0)
        raise ParameterError(f"dtype={dtype.name!r} is not supported; use np.float32, np.uint8 "
                             "or np.uint16")

    def to_matplotlib(self, name: str | None = None) -> ListedColormap:
        """Return a matplotlib ``ListedColormap`` of this ramp (256 colours).

        Examples
        --------
        >>> cmap = ColorRamp(["#000000", "#ff0000"], space="rgb").to_matplotlib()
        >>> [round(float(v), 2) for v in cmap(1.0)]
        [1.0, 0.0, 0.0, 1.0]
        """
        from matplotlib.colors import ListedColormap

        idx = np.round(np.linspace(0, self.lut.shape[0] - 1, 256)).astype(int)
        return ListedColormap(self.lut[idx].astype(np.float64), name=name or self.name or "ramp")

    def strip(self, width: int = 256, height: int = 16) -> NDArray[np.float32]:
        """An image of the ramp from 0 (left) to 1 (right): RGB float32 (height, width, 3).

        Examples
        --------
        >>> ColorRamp(["black", "white"], space="rgb").strip(3, 1)[0, :, 0].round(3).tolist()
        [0.0, 0.5, 1.0]
        """
        row = self(np.linspace(0.0, 1.0, int(width), dtype=np.float32))
        return np.repeat(row[None], int(height), axis=0)


#: Named ramps for artwork (a key works as ``--color NAME`` and ``ramp:NAME``).
RAMPS: dict[str, ColorRamp] = {
    "ink": ColorRamp(["#0d1020", "#2f3b63", "#9aa3b5", "#f6f3ea"], space="oklab", name="ink"),
    "sepia": ColorRamp(["#24160c", "#7a4e26", "#d4b07a", "#fbf5e6"], space="oklab",
                       name="sepia"),
    "dusk": ColorRamp(["#1b1b3a", "#6b2d5c", "#f0a030", "#fffbe6"], space="oklch", name="dusk"),
    "ember": ColorRamp(["#0e0306", "#7a1420", "#e8641e", "#fde9a6"], space="oklch",
                       name="ember"),
    "sea": ColorRamp(["#03202b", "#146c78", "#8fd3c4", "#f4fbf6"], space="oklab", name="sea"),
    "graphite": ColorRamp(["#1c1c1e", "#f7f6f2"], space="oklab",
                          name="graphite"),
}


@lru_cache(maxsize=32)
def ramp_from_spec(color: str) -> ColorRamp:
    """The ColorRamp a ``color`` setting names: a named ramp, ``"ramp:#hex,..."`` or a colormap.

    Examples
    --------
    >>> ramp_from_spec("ramp:#000000,#ffffff")(np.array([0.5], np.float32)).round(2).tolist()
    [[0.5, 0.5, 0.5]]
    """
    if color in RAMPS:
        return RAMPS[color]
    if color.startswith("ramp:"):
        body = color[5:].strip()
        if body in RAMPS:
            return RAMPS[body]
        stops = [c.strip() for c in body.split(",") if c.strip()]
        if len(stops) < 2:
            raise ParameterError(f"color={color!r}: a ramp needs two or more colours, e.g. "
                                 "'ramp:#1b1b3a,#f0a030,#fffbe6'")
        return ColorRamp(stops)
    from matplotlib import colormaps

    if color not in colormaps:
        raise ParameterError(f"color={color!r} is not 'hsv', 'stroke', a named ramp "
                             f"({', '.join(RAMPS)}), a 'ramp:#hex,#hex' spec or a matplotlib "
                             "colormap name such as 'viridis'")
    return ColorRamp(color, space="rgb")


#: Distances in pixels, against the gradient, at which ``stroke_color`` samples the ink.
STROKE_SAMPLES = (1.0, 2.0, 3.0)


def _colour_image(image: ArrayLike, shape: tuple[int, ...], name: str) -> NDArray[np.float32]:
    """The input rule (``io.as_image``): float32 (H, W) or (H, W, 3) of the field's shape."""
    from .io import as_image

    image = as_image(image, name=name)
    if image.shape[:2] != tuple(shape):
        raise ParameterError(f"{name} of shape {image.shape} does not match the field's "
                             f"{tuple(shape)}; give the (H, W) or (H, W, 3) scan the field "
                             "was measured on")
    return image


def stroke_color(field: GradientField, image: ArrayLike, value: ArrayLike, *,
                 dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Draw each edge in the colour of the stroke that makes it.

    The gradient points the way the tone rises, towards the paper, so the ink
    lies against it. At each pixel the scan is sampled (bilinear, border
    replicated) at ``STROKE_SAMPLES`` = 1, 2 and 3 pixels against the
    gradient's direction, and the darkest sample (lowest BT.601 luma) is the
    ink: on a stroke thinner than 3 pixels the farther samples land on the
    paper beyond it, which is brighter, so they are never chosen. The output
    is the HSV colour with the ink's hue, the ink's saturation and value =
    ``value`` (the normalized strength), where the saturation is scaled by
    ``min(1, C / CHROMA_THRESHOLD)`` with ``C`` the ink's OKLab chroma, so
    black or dark-grey ink, whose channel ratios are mostly noise, stays grey.
    A grey scan (an (H, W) image, or R = G = B) gives grey strokes: every
    channel equals ``value``. Pixels whose magnitude is at most
    ``ZERO_GRADIENT`` are black. Reach: a pixel reads the scan up to
    ``max(STROKE_SAMPLES) + 1`` = 4 pixels away (bilinear), so a tile needs that
    halo on top of the gradient operator's.

    Parameters
    ----------
    field : GradientField
        The gradients of ``image``.
    image : ndarray
        The (denoised) scan, (H, W, 3) RGB or (H, W) grey, in [0, 1].
    value : ndarray
        The normalized strength in [0, 1], (H, W).
    dtype : {np.float32, np.uint8, np.uint16}
        Output type.

    Returns
    -------
    ndarray
        RGB (H, W, 3) of ``dtype``.

    Examples
    --------
    >>> from sketchgrad.gradients import gradient_field
    >>> page = np.ones((9, 12, 3), np.float32)
    >>> page[:, :5] = (0.9, 0.3, 0.5)                 # pink on the left, paper right
    >>> f = gradient_field(page)
    >>> rgb = stroke_color(f, page, np.ones((9, 12), np.float32))
    >>> [round(float(v), 2) for v in rgb[4, 5]]       # the edge, in the pink's hue
    [1.0, 0.33, 0.56]
    """
    import cv2

    shape = field.gx.shape
    image = _colour_image(image, shape, "image")
    value = _no_nan(np.asarray(value, dtype=np.float32), "value")
    if value.shape != shape:
        raise ParameterError(f"value of shape {value.shape} does not match the field's {shape}")
    magnitude = field.magnitude
    zero = magnitude <= np.float32(ZERO_GRADIENT)
    if image.ndim == 2 or not image.size:
        return _compose(np.float32(0.0), np.float32(0.0), value, zero, shape, dtype)
    safe = np.where(zero, np.float32(1.0), magnitude)
    ux, uy = field.gx / safe, field.gy / safe
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ink = image.copy()
    darkest = luma(image)
    for distance in STROKE_SAMPLES:
        step = np.float32(distance)
        sample = cv2.remap(image, cols - step * ux, rows - step * uy, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE).reshape(image.shape)
        tone = luma(sample)
        np.copyto(ink, sample, where=(tone < darkest)[..., None])
        np.minimum(darkest, tone, out=darkest)
    del rows, cols, ux, uy, darkest
    hsv = cv2.cvtColor(ink, cv2.COLOR_RGB2HSV).reshape(image.shape)
    lab = srgb_image_to_oklab(ink)
    weight = np.hypot(lab[..., 1], lab[..., 2])
    weight /= np.float32(CHROMA_THRESHOLD)
    np.minimum(weight, np.float32(1.0), out=weight)
    saturation = hsv[..., 1] * weight
    return _compose(np.ascontiguousarray(hsv[..., 0]), saturation, value, zero, shape, dtype)


def gradient_map(tone: ArrayLike, ramp: str | ColorRamp, *,
                 keep_hue: bool = False,
                 dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Recolour a drawing's tone through a ramp, optionally keeping its hues.

    The ramp maps the tone (the BT.601 luma of an RGB scan) from dark ink (0)
    to paper (1). With ``keep_hue`` and an RGB scan the result is built in
    OKLab: lightness from the ramp's colour; (a, b), i.e. hue and chroma,
    blended from the ramp's towards the scan's by ``w = min(1, C /
    CHROMA_THRESHOLD)``, ``C`` the scan's OKLab chroma. Coloured parts of the
    drawing keep their hue and chroma at the ramp's lightness, grey parts
    (ink, paper) take the ramp's colour, and a grey scan gives the plain
    gradient map. Colours that fall outside sRGB have their chroma reduced
    (hue and lightness kept).

    Parameters
    ----------
    tone : ndarray
        The (denoised) scan, (H, W) grey or (H, W, 3) RGB, in [0, 1].
    ramp : ColorRamp or str
        A :class:`ColorRamp` or anything ``apply_color`` takes as a ramp.
    keep_hue : bool
        Keep the scan's hue and chroma (RGB scans; a grey scan has none).
    dtype : {np.float32, np.uint8, np.uint16}
        Output type.

    Returns
    -------
    ndarray
        RGB (H, W, 3) of ``dtype``.

    Examples
    --------
    >>> teal = np.ones((2, 2, 3), np.float32) * np.float32([0.1, 0.6, 0.6])
    >>> plain = gradient_map(teal, "sepia")[0, 0]
    >>> kept = gradient_map(teal, "sepia", keep_hue=True)[0, 0]
    >>> bool(plain[0] > plain[2]), bool(kept[2] > kept[0])    # sepia is warm; teal kept
    (True, True)
    """
    if isinstance(ramp, str):
        ramp = ramp_from_spec(ramp)
    if not isinstance(ramp, ColorRamp):
        raise ParameterError(f"ramp={ramp!r} must be a ColorRamp or a ramp name such as "
                             "'sepia'")
    from .io import as_image

    tone = as_image(tone, name="tone")
    grey = luma(tone) if tone.ndim == 3 else tone
    if not (keep_hue and tone.ndim == 3):
        return ramp(grey, dtype=dtype)
    rgb = ramp(grey)
    lab = srgb_image_to_oklab(rgb).reshape(-1, 3)
    scan = srgb_image_to_oklab(tone).reshape(-1, 3)
    weight = np.hypot(scan[:, 1], scan[:, 2])
    weight /= np.float32(CHROMA_THRESHOLD)
    np.minimum(weight, np.float32(1.0), out=weight)
    lab[:, 1:] += (scan[:, 1:] - lab[:, 1:]) * weight[:, None]
    del scan
    out = oklab_image_to_srgb(_fit_gamut(lab)).reshape(rgb.shape)
    return _finish(out, dtype)


def as_color(color: str | ColorRamp | Colormap | dict[str, Any]) -> str | ColorRamp:
    """Check a colouring: ``"hsv"``, a name or spec (kept as given), or a ramp object.

    A matplotlib ``Colormap`` becomes a :class:`ColorRamp` of its colours (in
    "rgb", as a colormap name does); a dict is :meth:`ColorRamp.from_dict`'s.

    Examples
    --------
    >>> as_color("sepia"), as_color(RAMPS["ink"]) is RAMPS["ink"]
    ('sepia', True)
    """
    if isinstance(color, ColorRamp):
        return color
    if isinstance(color, dict):
        return ColorRamp.from_dict(color)
    if isinstance(color, str):
        if color not in ("hsv", "stroke"):
            ramp_from_spec(color)  # raises for an unknown name
        return color
    if callable(color) and hasattr(color, "N"):  # a matplotlib Colormap
        return ColorRamp(color, space="rgb")
    raise ParameterError(f"color of type {type(color).__name__} is not a colouring; give "
                         "'hsv', a ramp name such as 'sepia', 'ramp:#hex,#hex', a matplotlib "
                         "colormap (name or object) or a ColorRamp")


def color_label(color: str | ColorRamp) -> str:
    """A short name for a colouring, for titles and reprs."""
    if isinstance(color, ColorRamp):
        return color.name or "ramp"
    return str(color)


def apply_color(field: GradientField, value: ArrayLike | None, tone: ArrayLike | None, *,
                color: str | ColorRamp | Colormap | dict[str, Any] = "hsv",
                target: str = "magnitude", keep_hue: bool = False, axial: bool = False,
                dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Colour the pipeline's result (the ``hsv`` output).

    Parameters
    ----------
    field : GradientField
        The gradients (hue comes from their orientation).
    value : ndarray
        The normalized magnitude already brought to [0, 1].
    tone : ndarray
        The (denoised) drawing in [0, 1], (H, W) grey or (H, W, 3) RGB, for
        ``target="tone"`` and ``color="stroke"``.
    color : str or ColorRamp
        ``"hsv"`` (hue = direction, value = strength; ``target`` does not
        apply), ``"stroke"`` (each edge in its stroke's colour, value =
        strength: :func:`stroke_color`; ``target`` does not apply), a name in
        ``RAMPS``, ``"ramp:#hex,#hex,..."`` (or ``"ramp:NAME"``), a
        matplotlib colormap name, or a :class:`ColorRamp`.
    target : {"magnitude", "tone"}
        What a ramp colours: the strength, or the drawing's tone (the BT.601
        luma of an RGB drawing) as a gradient map (dark ink -> first stop,
        paper -> last stop; :func:`gradient_map`).
    keep_hue : bool
        With ``target="tone"`` and an RGB drawing: keep the drawing's hues
        (the ramp sets the lightness; see :func:`gradient_map`).
    axial : bool
        For ``"hsv"``: hue from the orientation modulo pi (see :func:`hsv_remap`).
    dtype : {np.float32, np.uint8, np.uint16}
        Output type; ``np.uint8`` gives PNG-ready bytes without a float copy.

    Returns
    -------
    ndarray
        RGB (H, W, 3): float32 in [0, 1], or uint8 / uint16.

    Examples
    --------
    >>> from sketchgrad.gradients import gradient_field
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> f = gradient_field(0.1 * x)
    >>> apply_color(f, np.ones((5, 5), np.float32), x / 4)[2, 2].round(3).tolist()
    [1.0, 0.0, 0.0]
    >>> apply_color(f, None, x / 4, color="ramp:#000000,#ffffff", target="tone",
    ...             dtype=np.uint8)[0, 4].tolist()
    [255, 255, 255]
    """
    choose(dict.fromkeys(("magnitude", "tone")), target, "color_target")
    color = as_color(color)
    # value or tone may be None where the colouring does not read it; where it does, the
    # callee's input rule refuses None with its message.
    value, tone = cast(ArrayLike, value), cast(ArrayLike, tone)
    if isinstance(color, str) and color == "hsv":
        return hsv_color(field, value, axial=bool(axial), dtype=dtype)
    if isinstance(color, str) and color == "stroke":
        return stroke_color(field, tone, value, dtype=dtype)
    ramp = color if isinstance(color, ColorRamp) else ramp_from_spec(color)
    if target == "tone":
        return gradient_map(tone, ramp, keep_hue=keep_hue, dtype=dtype)
    return ramp(value, dtype=dtype)
