"""The classic Python "hand-drawn" relief effect, with sketchgrad's operators.

The classic script reads the drawing as a height field on the 0-255 grey
scale, scales its ``np.gradient`` derivatives by ``depth / 100``, turns them
into unit surface normals ``n = (g1, g2, 1) / sqrt(g1^2 + g2^2 + 1)`` and
lights them from ``(cos el cos az, cos el sin az, sin el)``.

Axis pairing: that script names ``np.gradient``'s first output (the row
derivative, d/dy) ``grad_x`` and pairs it with the light's first component.
``relief`` keeps that pairing for every operator, so the light does
not move when the operator changes: ``cos(el) cos(az)`` multiplies d/dy
(rows, downwards) and ``cos(el) sin(az)`` multiplies d/dx (columns, right).
The azimuth is therefore measured from the downward axis towards the right;
the default pi/4 lights every stroke from the same side as the classic script.

Colour (``color="scan"`` on an (H, W, 3) scan): the relief is lit from the
scan's BT.601 luma (:func:`sketchgrad.channels.luma`, the grey image
``load_scan`` makes), and its shading ``s`` is applied to the scan's colour
``c`` taken at unit tone: ``out = s (c + e) / (Y + e)`` with ``Y`` the luma and
``e`` = ``RELIEF_DARK_FLOOR`` = 0.2; a pixel whose largest channel then
exceeds 1 is divided by it. Adding ``e`` to every channel and scaling keep a
pixel's hue, so a flat coloured region keeps its hue; ``e`` keeps the
near-black of ink (whose channel ratios are mostly noise) near grey; a grey
pixel (R = G = B) has ``(c + e) / (Y + e)`` = 1 exactly, so on a grey scan the
colour relief is the grey relief in every channel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .errors import ParameterError, choose
from .gradients import CHUNK_ELEMENTS, OPERATORS, gradient_field

if TYPE_CHECKING:
    from .color import ColorRamp

__all__ = ["RELIEF_DARK_FLOOR", "colour_relief", "relief", "sketch_effect"]

#: Added to the colour and its luma before the colour is taken at unit tone
#: (``colour_relief``), so dark ink's noisy channel ratios do not become vivid.
RELIEF_DARK_FLOOR = 0.2


def _central_rows(image: NDArray[np.float32], rows: slice, d_row: NDArray[np.float32],
                  d_col: NDArray[np.float32]) -> None:
    """Unscaled central differences ``2 * np.gradient`` of the rows ``rows``, into d_row, d_col.

    d/drow and d/dcol, float32, one-sided and doubled at the image's border,
    without the 1/2 factor, which the caller folds into its depth scale so the
    arrays are touched once fewer.
    """
    h, w = image.shape
    top, stop = rows.start, rows.stop
    if h < 2:
        d_row.fill(0)
    else:
        # interior rows i: image[i + 1] - image[i - 1]; rows 0 and h - 1 one-sided
        first, last = max(top, 1), min(stop, h - 1)
        if first < last:
            np.subtract(image[first + 1:last + 1], image[first - 1:last - 1],
                        out=d_row[first - top:last - top])
        for edge, (a, b) in ((0, (1, 0)), (h - 1, (h - 1, h - 2))):
            if top <= edge < stop:
                np.subtract(image[a], image[b], out=d_row[edge - top])
                d_row[edge - top] *= np.float32(2.0)
    band = image[rows]
    if w < 2:
        d_col.fill(0)
    else:
        # along the rows as one line (contiguous, so NumPy's vector loop): right for
        # every column but the first and last, which are set one-sided below
        flat = band.reshape(-1)
        np.subtract(flat[2:], flat[:-2], out=d_col.reshape(-1)[1:-1])
        np.subtract(band[:, 1], band[:, 0], out=d_col[:, 0])
        np.subtract(band[:, -1], band[:, -2], out=d_col[:, -1])
        d_col[:, 0] *= np.float32(2.0)
        d_col[:, -1] *= np.float32(2.0)


def _check_grey(image: NDArray[np.floating]) -> None:
    """Raise unless ``image`` (read by ``as_image``: finite, in [0, 1]) is 2-D (grey)."""
    if image.ndim != 2:
        raise ParameterError(f"image of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray', or pass color='scan' for "
                             "the relief in an (H, W, 3) scan's own colours")


def relief(image: ArrayLike, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
           azimuth: float = np.pi / 4, operator: str = "central",
           dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Light a grey drawing as a relief: gradients become unit surface normals.

    The relief stage alone (no denoising, no colour; :func:`sketch_effect` adds
    both). With the defaults this reproduces the classic script (``np.gradient``,
    depth 10, light at elevation pi/2.2, azimuth pi/4) to within one grey level
    on every pixel (the script truncates to uint8, this returns floats). See the
    module docstring for the axis pairing.

    Parameters
    ----------
    image : ndarray
        (H, W) grey image, read by :func:`sketchgrad.as_image` (uint8, uint16,
        bool or floats in [0, 1]).
    depth : float
        Relief depth (the classic script's 10). The image is always read on
        the 0-255 scale from its [0, 1] values, so a 16-bit scan of a drawing
        gives the same relief as an 8-bit one.
    elevation, azimuth : float
        Light direction in radians: elevation above the paper (pi/2 = straight
        down onto it), azimuth from the downward axis towards the right.
    operator : str
        A key of ``OPERATORS``; "central" is ``np.gradient`` as in the classic
        script, "sobel"/"scharr" smooth across the stroke and show less grain.
    dtype : {np.float32, np.uint8}
        float32 in [0, 1], or the 8-bit samples a PNG of it holds
        (``floor(255 * v + 1/2)`` of the float32 value ``v``, as
        :func:`sketchgrad.png.save_png` rounds), made without the float image.

    Returns
    -------
    ndarray
        (H, W) of ``dtype``: float32 in [0, 1], or uint8.

    Examples
    --------
    >>> out = relief(np.full((4, 4), 0.5, np.float32))
    >>> round(float(out[0, 0]), 4) == round(float(np.sin(np.pi / 2.2)), 4)
    True
    >>> int(relief(np.full((4, 4), 0.5, np.float32), dtype=np.uint8)[0, 0])  # 252.4 rounded
    252
    """
    import cv2

    from .io import as_image

    _check_light(operator, depth, elevation, azimuth)
    kind = np.dtype(dtype)
    if kind not in (np.float32, np.uint8):
        raise ParameterError(f"dtype={kind.name!r} is not supported; use np.float32 or np.uint8")
    image = as_image(image)
    _check_grey(image)
    image = np.ascontiguousarray(image, dtype=np.float32)
    # Slopes on the 0-255 scale times depth/100, as the classic script.
    scale = 255.0 * float(depth) / 100.0
    field = None
    if operator == "central":
        scale *= 0.5
    else:
        field = gradient_field(image, operator)
    k = np.float32(scale)
    lx = float(np.cos(elevation) * np.cos(azimuth))
    ly = float(np.cos(elevation) * np.sin(azimuth))
    lz = float(np.sin(elevation))
    lit = np.empty(image.shape, kind)
    if not image.size:
        return lit
    # A band of rows at a time: the slopes and the normals' lengths of a band stay in
    # the cache through the steps below, and only the result is full size.
    height, width = image.shape
    band = max(1, CHUNK_ELEMENTS // width)
    pixels = min(band, height) * width
    scratch = np.empty((4 if kind == np.uint8 else 3, pixels), np.float32)
    for top in range(0, height, band):
        rows = slice(top, min(height, top + band))
        n = rows.stop - top
        d_row, d_col, length, *shade = (plane[:n * width].reshape(n, width)
                                        for plane in scratch)
        if field is None:
            _central_rows(image, rows, d_row, d_col)
        else:
            np.copyto(d_row, field.gy[rows])
            np.copyto(d_col, field.gx[rows])
        d_row *= k
        d_col *= k
        length.fill(1.0)
        cv2.accumulateSquare(d_row, length)      # 1 + g1^2 + g2^2, in place
        cv2.accumulateSquare(d_col, length)
        np.sqrt(length, out=length)
        part = shade[0] if shade else lit[rows]
        cv2.addWeighted(d_row, lx, d_col, ly, lz, dst=part)  # l . (g1, g2, 1)
        np.divide(part, length, out=part)
        np.clip(part, 0.0, 1.0, out=part)
        if shade:  # png.quantize's rounding: floor(255 v + 1/2), in float32
            part *= np.float32(255.0)
            part += np.float32(0.5)
            np.copyto(lit[rows], part, casting="unsafe")
    return lit


def _check_light(operator: str, depth: float, elevation: float, azimuth: float) -> None:
    choose(OPERATORS, operator, "operator")
    for name, v in (("depth", depth), ("elevation", elevation), ("azimuth", azimuth)):
        if not np.isfinite(v):
            raise ParameterError(f"{name}={v!r} must be a finite number")


def sketch_effect(image: ArrayLike, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
                  azimuth: float = np.pi / 4, operator: str = "central",
                  denoise: str | None = None, strength: float | None = None,
                  color: str | ColorRamp | None = None) -> NDArray[np.float32]:
    """The relief with optional denoising first and colour after: a convenience over stages.

    ``denoise`` (:func:`sketchgrad.denoise`), then :func:`relief`, then, with
    ``color``, the (denoised) tone coloured by a ramp and multiplied by the
    relief shading, or (``color="scan"``) :func:`colour_relief`. Each step is
    its stage's own function; this only chains them.

    Parameters
    ----------
    image : ndarray
        (H, W) float image in [0, 1] ((H, W, 3) with ``color="scan"``).
    depth, elevation, azimuth, operator
        As for :func:`relief`.
    denoise : str, optional
        A key of ``DENOISE_METHODS`` applied first (paper grain otherwise
        shows as relief noise); ``None`` applies nothing.
    strength : float, optional
        Denoise strength (``None`` estimates it).
    color : str or ColorRamp, optional
        Colour mode: the (denoised) tone coloured by this ramp (anything
        ``apply_color`` accepts except "hsv", or a :class:`ColorRamp`) and
        multiplied by the relief shading; or ``"scan"`` for an (H, W, 3)
        scan: the relief lit in the scan's own colours (:func:`colour_relief`).

    Returns
    -------
    ndarray
        float32 (H, W) in [0, 1], or RGB (H, W, 3) in colour mode.

    Examples
    --------
    >>> out = sketch_effect(np.full((4, 4), 0.5, np.float32))
    >>> round(float(out[0, 0]), 4) == round(float(np.sin(np.pi / 2.2)), 4)
    True
    >>> sketch_effect(np.eye(4, dtype=np.float32), color="sepia").shape
    (4, 4, 3)
    """
    from .io import as_image

    _check_light(operator, depth, elevation, azimuth)
    image = as_image(image)
    if isinstance(color, str) and color == "scan":
        return colour_relief(image, depth=depth, elevation=elevation, azimuth=azimuth,
                             operator=operator, denoise=denoise, strength=strength)
    _check_grey(image)
    if denoise is not None:
        from .denoise import denoise as denoise_stage

        image = denoise_stage(image, denoise, strength=strength)
    image = np.ascontiguousarray(image, dtype=np.float32)
    lit: NDArray[np.float32] = relief(image, depth=depth, elevation=elevation, azimuth=azimuth,
                                      operator=operator)
    if color is None:
        return lit
    from .color import ColorRamp, ramp_from_spec

    if isinstance(color, str) and color == "hsv":
        raise ParameterError("color='hsv' has no meaning for the relief; use a ramp such as "
                             "'sepia', 'ramp:#hex,#hex' or a colormap name")
    ramp = color if isinstance(color, ColorRamp) else ramp_from_spec(color)
    rgb = ramp(image)
    rgb *= lit[..., None]
    return rgb


def colour_relief(image: ArrayLike, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
                  azimuth: float = np.pi / 4, operator: str = "central",
                  denoise: str | None = None, strength: float | None = None) -> NDArray[np.float32]:
    """The relief lit in the scan's own colours.

    The grey relief (:func:`relief`, same parameters) of the scan's
    BT.601 luma ``Y`` gives the shading ``s``; each pixel's colour ``c`` is
    taken at unit tone and shaded: ``out = s (c + e) / (Y + e)``, ``e`` =
    ``RELIEF_DARK_FLOOR``, divided by its largest channel where that exceeds 1.
    Hue is kept (adding a constant to the channels and scaling them do not
    move it); a grey pixel gives exactly the grey relief's value.

    Parameters
    ----------
    image : ndarray
        (H, W, 3) RGB float in [0, 1], or (H, W) grey (then the result is the
        grey relief repeated in three channels).
    depth, elevation, azimuth, operator, denoise, strength
        As :func:`sketch_effect`; ``denoise`` is applied to the colour scan.
        (A convenience: denoise, :func:`relief` of the luma, then the colour.)

    Returns
    -------
    ndarray
        float32 (H, W, 3) in [0, 1].

    Examples
    --------
    >>> pink = np.ones((6, 6, 3), np.float32) * np.float32([0.9, 0.4, 0.6])
    >>> out = colour_relief(pink)
    >>> [round(float(v), 3) for v in out[3, 3]]
    [1.0, 0.545, 0.727]
    """
    from .channels import luma
    from .io import as_image

    image = as_image(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ParameterError(f"image of shape {image.shape} is not an (H, W, 3) RGB image; "
                             "load the scan with mode='rgb'")
    if denoise is not None:
        from .denoise import denoise as _denoise

        image = _denoise(image, denoise, strength=strength)
    tone = luma(image)
    shading: NDArray[np.float32] = relief(tone, depth=depth, elevation=elevation,
                                          azimuth=azimuth, operator=operator)
    floor = np.float32(RELIEF_DARK_FLOOR)
    tone += floor
    out = image + floor
    out /= tone[..., None]        # exactly 1 on grey pixels, so grey gives the grey relief
    out *= shading[..., None]
    # the largest channel, at least 1: channel by channel (NumPy's max over a last axis of
    # three runs a 3-long loop per pixel, 30 times slower; the same values)
    peak: NDArray[np.float32] = np.maximum(out[..., 0], out[..., 1])
    np.maximum(peak, out[..., 2], out=peak)
    np.maximum(peak, np.float32(1.0), out=peak)
    out /= peak[..., None]
    return np.clip(out, 0.0, 1.0, out=out)
