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

import numpy as np

from .errors import ParameterError, choose
from .gradients import OPERATORS, gradient_field

__all__ = ["RELIEF_DARK_FLOOR", "colour_relief", "relief", "sketch_effect"]

#: Added to the colour and its luma before the colour is taken at unit tone
#: (``colour_relief``), so dark ink's noisy channel ratios do not become vivid.
RELIEF_DARK_FLOOR = 0.2


def _central(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled central differences ``2 * np.gradient`` (one-sided, doubled, at the border).

    Returns (d/drow, d/dcol) float32 without the 1/2 factor, which the caller
    folds into its depth scale so the arrays are touched once fewer.
    """
    d_row = np.zeros_like(image)
    d_col = np.zeros_like(image)
    h, w = image.shape
    if h >= 2:
        np.subtract(image[2:], image[:-2], out=d_row[1:-1])
        np.subtract(image[1], image[0], out=d_row[0])
        np.subtract(image[-1], image[-2], out=d_row[-1])
        d_row[0] *= np.float32(2.0)
        d_row[-1] *= np.float32(2.0)
    if w >= 2:
        np.subtract(image[:, 2:], image[:, :-2], out=d_col[:, 1:-1])
        np.subtract(image[:, 1], image[:, 0], out=d_col[:, 0])
        np.subtract(image[:, -1], image[:, -2], out=d_col[:, -1])
        d_col[:, 0] *= np.float32(2.0)
        d_col[:, -1] *= np.float32(2.0)
    return d_row, d_col


def _check_grey(image: np.ndarray, *, empty: bool = True) -> None:
    """Raise unless ``image`` is 2-D (grey) and finite; with ``empty=False`` also if empty."""
    if image.ndim != 2 or (not empty and image.size == 0):
        raise ParameterError(f"image of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray', or pass color='scan' for "
                             "the relief in an (H, W, 3) scan's own colours")
    # min and max each propagate NaN; their sum could overflow for finite values
    if image.size and not (np.isfinite(image.min()) and np.isfinite(image.max())):
        raise ParameterError("image contains NaN or infinite values; give finite values in [0, 1]")


def relief(image: np.ndarray, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
           azimuth: float = np.pi / 4, operator: str = "central") -> np.ndarray:
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

    Returns
    -------
    ndarray
        float32 (H, W) in [0, 1].

    Examples
    --------
    >>> out = relief(np.full((4, 4), 0.5, np.float32))
    >>> round(float(out[0, 0]), 4) == round(float(np.sin(np.pi / 2.2)), 4)
    True
    """
    import cv2

    from .io import as_image

    _check_light(operator, depth, elevation, azimuth)
    image = as_image(image)
    _check_grey(image)
    image = np.ascontiguousarray(image, dtype=np.float32)
    # Slopes on the 0-255 scale times depth/100, as the classic script.
    scale = 255.0 * float(depth) / 100.0
    if operator == "central":
        d_row, d_col = _central(image)
        scale *= 0.5
    else:
        field = gradient_field(image, operator)
        d_row, d_col = field.gy, field.gx  # new arrays of this call: scaled in place below
    k = np.float32(scale)
    d_row *= k
    d_col *= k
    lx = float(np.cos(elevation) * np.cos(azimuth))
    ly = float(np.cos(elevation) * np.sin(azimuth))
    lz = float(np.sin(elevation))
    if image.size:
        length = np.ones_like(image)
        cv2.accumulateSquare(d_row, length)      # 1 + g1^2 + g2^2, in place
        cv2.accumulateSquare(d_col, length)
        np.sqrt(length, out=length)
        lit = cv2.addWeighted(d_row, lx, d_col, ly, lz)   # l . (g1, g2, 1)
        np.divide(lit, length, out=lit)
    else:
        lit = np.zeros_like(image)
    np.clip(lit, 0.0, 1.0, out=lit)
    return lit


def _check_light(operator: str, depth: float, elevation: float, azimuth: float) -> None:
    choose(OPERATORS, operator, "operator")
    for name, v in (("depth", depth), ("elevation", elevation), ("azimuth", azimuth)):
        if not np.isfinite(v):
            raise ParameterError(f"{name}={v!r} must be a finite number")


def sketch_effect(image: np.ndarray, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
                  azimuth: float = np.pi / 4, operator: str = "central",
                  denoise: str | None = None, strength: float | None = None,
                  color=None) -> np.ndarray:
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
    lit = relief(image, depth=depth, elevation=elevation, azimuth=azimuth, operator=operator)
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


def colour_relief(image: np.ndarray, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
                  azimuth: float = np.pi / 4, operator: str = "central",
                  denoise: str | None = None, strength: float | None = None) -> np.ndarray:
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
    if image.size and not (np.isfinite(image.min()) and np.isfinite(image.max())):
        raise ParameterError("image contains NaN or infinite values; give finite values in [0, 1]")
    if denoise is not None:
        from .denoise import denoise as _denoise

        image = _denoise(image, denoise, strength=strength)
    tone = luma(image)
    shading = relief(tone, depth=depth, elevation=elevation, azimuth=azimuth,
                     operator=operator)
    floor = np.float32(RELIEF_DARK_FLOOR)
    tone += floor
    out = image + floor
    out /= tone[..., None]        # exactly 1 on grey pixels, so grey gives the grey relief
    out *= shading[..., None]
    peak = out.max(axis=2, initial=0.0) if out.size else np.zeros(out.shape[:2], np.float32)
    np.maximum(peak, np.float32(1.0), out=peak)
    out /= peak[..., None]
    return np.clip(out, 0.0, 1.0, out=out)
