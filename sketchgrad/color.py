"""Mapping gradients and values to colour.

``hsv_remap`` colours a gradient field (hue = direction, value = strength);
``ColorRamp`` maps values in [0, 1] to RGB through a look-up table.
Hue convention: hue = (orientation mod 2 pi) / 2 pi, so right (+x) is red,
down (+y) is a quarter turn (chartreuse, 90 degrees).
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError
from .gradients import GradientField
from .normalize import normalize as _normalize
from .normalize import to_unit

__all__ = ["hsv_to_rgb", "hsv_remap", "ColorRamp", "apply_color"]

_TWO_PI = np.float32(2 * np.pi)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """Convert HSV (each in [0, 1]) to RGB float32 (..., 3), as ``colorsys.hsv_to_rgb``.

    Examples
    --------
    >>> hsv_to_rgb(np.array([0.0, 1 / 3]), 1.0, 1.0).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    h = np.asarray(h, dtype=np.float32)
    s = np.broadcast_to(np.asarray(s, dtype=np.float32), h.shape)
    v = np.broadcast_to(np.asarray(v, dtype=np.float32), h.shape)
    h6 = (h % np.float32(1.0)) * np.float32(6.0)
    # f(n) = v - v*s*max(0, min(k, 4 - k, 1)), k = (n + h6) mod 6, n = 5, 3, 1 for R, G, B
    out = np.empty(h.shape + (3,), np.float32)
    for channel, n in enumerate((5.0, 3.0, 1.0)):
        k = (h6 + np.float32(n)) % np.float32(6.0)
        w = np.clip(np.minimum(k, np.float32(4.0) - k), 0.0, 1.0)
        out[..., channel] = v - v * s * w
    return out


def hsv_remap(field: GradientField, *, normalize: str = "minmax",
              saturation: float = 1.0) -> np.ndarray:
    """Colour a gradient field: hue from orientation, value from magnitude.

    Parameters
    ----------
    field : GradientField
        The gradients.
    normalize : str
        Normalization method for the magnitude (then brought to [0, 1] by ``to_unit``).
    saturation : float
        Saturation in [0, 1].

    Returns
    -------
    ndarray
        RGB float32 (H, W, 3) in [0, 1].

    Examples
    --------
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> from sketchgrad.gradients import gradient_field
    >>> rgb = hsv_remap(gradient_field(0.1 * x))   # tone rises to the right: red
    >>> rgb[2, 2].round(3).tolist()
    [1.0, 0.0, 0.0]
    """
    if not 0.0 <= saturation <= 1.0:
        raise ParameterError(f"saturation={saturation!r} must be in [0, 1]")
    hue = (field.orientation / _TWO_PI) % np.float32(1.0)
    value = to_unit(_normalize(field.magnitude, normalize), normalize)
    return hsv_to_rgb(hue, saturation, value)


class ColorRamp:
    """A colour ramp: values in [0, 1] mapped to RGB by interpolating stops.

    Parameters
    ----------
    stops : sequence
        Colours as hex strings or RGB tuples in [0, 1].
    space : {"hsv", "rgb"}
        Space the interpolation runs in; hue takes the shorter way round.

    Examples
    --------
    >>> ramp = ColorRamp(["#000000", "#ffffff"], space="rgb")
    >>> ramp(np.array([0.0, 0.5, 1.0])).round(2).tolist()
    [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]
    """

    LUT_SIZE = 4096

    def __init__(self, stops, *, space: str = "hsv") -> None:
        if space not in ("hsv", "rgb"):
            raise ParameterError(f"space={space!r} is not known; choose one of: 'hsv', 'rgb'")
        self.stops = [_parse_colour(c) for c in stops]
        if len(self.stops) < 2:
            raise ParameterError("stops: a ramp needs at least two colours")
        self.space = space
        self.lut = self._build_lut()

    def _build_lut(self) -> np.ndarray:
        import colorsys

        t = np.linspace(0.0, 1.0, self.LUT_SIZE)
        pos = np.linspace(0.0, 1.0, len(self.stops))
        if self.space == "rgb":
            rgb = np.stack([np.interp(t, pos, [c[i] for c in self.stops]) for i in range(3)], -1)
            return rgb.astype(np.float32)
        hsv = np.array([colorsys.rgb_to_hsv(*c) for c in self.stops])
        hue = np.unwrap(hsv[:, 0] * 2 * np.pi) / (2 * np.pi)
        h = np.interp(t, pos, hue) % 1.0
        s = np.interp(t, pos, hsv[:, 1])
        v = np.interp(t, pos, hsv[:, 2])
        return hsv_to_rgb(h, s, v)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Map values in [0, 1] to RGB float32 (..., 3)."""
        values = np.asarray(values, dtype=np.float32)
        idx = np.clip(values, 0.0, 1.0) * np.float32(self.LUT_SIZE - 1) + np.float32(0.5)
        return self.lut[idx.astype(np.intp)]


def _parse_colour(c) -> tuple[float, float, float]:
    if isinstance(c, str):
        from matplotlib.colors import to_rgb

        try:
            return tuple(float(v) for v in to_rgb(c))
        except ValueError:
            raise ParameterError(f"stops: {c!r} is not a colour; use '#rrggbb' or a "
                                 "colour name") from None
    rgb = tuple(float(v) for v in c)
    if len(rgb) != 3 or not all(0.0 <= v <= 1.0 for v in rgb):
        raise ParameterError(f"stops: {c!r} is not an RGB triple in [0, 1]")
    return rgb


def apply_color(field: GradientField, value: np.ndarray, tone: np.ndarray, *,
                color: str = "hsv", target: str = "magnitude") -> np.ndarray:
    """Colour the pipeline's result (the ``hsv`` output).

    Parameters
    ----------
    field : GradientField
        The gradients (hue comes from their orientation).
    value : ndarray
        The normalized magnitude already brought to [0, 1].
    tone : ndarray
        The (denoised) drawing in [0, 1], for ``target="tone"``.
    color : str
        ``"hsv"``, ``"ramp:#hex,#hex,..."`` or a matplotlib colormap name.
    target : {"magnitude", "tone"}
        What a ramp colours.

    Returns
    -------
    ndarray
        RGB float32 (H, W, 3) in [0, 1].

    Examples
    --------
    >>> from sketchgrad.gradients import gradient_field
    >>> y, x = np.mgrid[0:5, 0:5].astype(np.float32)
    >>> f = gradient_field(0.1 * x)
    >>> apply_color(f, np.ones((5, 5), np.float32), x / 4)[2, 2].round(3).tolist()
    [1.0, 0.0, 0.0]
    """
    if target not in ("magnitude", "tone"):
        raise ParameterError(f"color_target={target!r} is not known; choose one of: "
                             "'magnitude', 'tone'")
    if color == "hsv":
        hue = (field.orientation / _TWO_PI) % np.float32(1.0)
        return hsv_to_rgb(hue, 1.0, value)
    if color.startswith("ramp:"):
        ramp = ColorRamp([c.strip() for c in color[5:].split(",") if c.strip()])
    else:
        from matplotlib import colormaps

        if color not in colormaps:
            raise ParameterError(f"color={color!r} is not 'hsv', a 'ramp:#hex,#hex' spec or "
                                 "a matplotlib colormap name such as 'viridis'")
        cmap = colormaps[color]
        ramp = ColorRamp([cmap(t)[:3] for t in np.linspace(0, 1, 32)], space="rgb")
    return ramp(value if target == "magnitude" else tone)
