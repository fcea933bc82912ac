"""Gradient fields of a drawing's tone.

Unit: intensity per pixel on the [0, 1] scale. On a ramp ``I = a*x + b*y``
every operator gives ``gx = a`` and ``gy = b`` away from the border, so
``sobel`` is OpenCV's 3x3 ``Sobel`` / 8 and scikit-image's ``sobel_v`` / 2;
``scharr`` is OpenCV's ``Scharr`` / 32. x runs along columns (right), y along
rows (down).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import ParameterError, choose

__all__ = ["OPERATORS", "GradientField", "gradient_field",
           "sobel", "scharr", "prewitt", "central"]


@dataclass(frozen=True)
class GradientField:
    """A gradient field: per-pixel derivatives along x (columns) and y (rows).

    Attributes
    ----------
    gx, gy : ndarray
        float32 (H, W), intensity per pixel.
    """

    gx: np.ndarray
    gy: np.ndarray

    @cached_property
    def magnitude(self) -> np.ndarray:
        """``hypot(gx, gy)`` as float32."""
        return np.hypot(self.gx, self.gy, dtype=np.float32)

    @cached_property
    def orientation(self) -> np.ndarray:
        """``arctan2(gy, gx)`` in radians, (-pi, pi]; 0 = right, pi/2 = down."""
        return np.arctan2(self.gy, self.gx, dtype=np.float32)


def _cv_kernel(image: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Separable correlation with OpenCV, reflect-101 border (as scikit-image's reflect)."""
    import cv2

    border = cv2.BORDER_REFLECT_101
    gx = cv2.sepFilter2D(image, cv2.CV_32F, kx, ky, borderType=border)
    gy = cv2.sepFilter2D(image, cv2.CV_32F, ky, kx, borderType=border)
    return gx, gy


_DERIV = np.array([-0.5, 0.0, 0.5], np.float32)


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel derivatives in intensity per pixel (OpenCV ``Sobel`` / 8)."""
    return _cv_kernel(image, _DERIV, np.array([0.25, 0.5, 0.25], np.float32))


def scharr(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scharr derivatives in intensity per pixel (OpenCV ``Scharr`` / 32)."""
    return _cv_kernel(image, _DERIV, np.array([3, 10, 3], np.float32) / 16)


def prewitt(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prewitt derivatives in intensity per pixel (scikit-image ``prewitt_v`` / 2)."""
    return _cv_kernel(image, _DERIV, np.full(3, 1 / 3, np.float32))


def central(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences, as ``np.gradient`` (one-sided at the border)."""
    if min(image.shape) < 2:
        return np.zeros_like(image), np.zeros_like(image)
    gy, gx = np.gradient(image)
    return gx.astype(np.float32, copy=False), gy.astype(np.float32, copy=False)


OPERATORS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "sobel": sobel,
    "scharr": scharr,
    "prewitt": prewitt,
    "central": central,
}


def gradient_field(image: np.ndarray, operator: str = "sobel") -> GradientField:
    """Measure the gradient field of a grey image.

    Parameters
    ----------
    image : ndarray
        (H, W) float image.
    operator : str
        A key of ``OPERATORS``.

    Returns
    -------
    GradientField
        ``gx``, ``gy`` (float32, intensity per pixel), ``magnitude`` and ``orientation``.

    Examples
    --------
    >>> y, x = np.mgrid[0:6, 0:6].astype(np.float32)
    >>> f = gradient_field(0.02 * x + 0.05 * y)
    >>> round(float(f.gx[3, 3]), 6), round(float(f.gy[3, 3]), 6)
    (0.02, 0.05)
    """
    func = choose(OPERATORS, operator, "operator")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise ParameterError(f"image of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray'")
    gx, gy = func(np.ascontiguousarray(image))
    return GradientField(gx=gx, gy=gy)
