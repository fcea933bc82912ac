"""Cleaning scans before gradients are measured.

``DENOISE_METHODS`` maps a name to a function ``f(image, *, strength)``;
``denoise`` validates the name and dispatches. ``strength=None`` means the
strength is estimated from the image's noise level (``estimate_noise``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ParameterError, choose

__all__ = [
    "DENOISE_METHODS",
    "denoise",
    "estimate_noise",
    "denoise_none",
    "denoise_gaussian",
    "denoise_median",
    "flatten_background",
]


def estimate_noise(image: np.ndarray) -> float:
    """Estimate the standard deviation of Gaussian noise in an image.

    Uses the median absolute deviation of the finest diagonal wavelet
    coefficients (Donoho's estimator, as scikit-image's ``estimate_sigma``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.full((256, 256), 0.5, np.float32) + rng.normal(0, 0.05, (256, 256))
    >>> round(estimate_noise(noisy.astype(np.float32)), 2)
    0.05
    """
    from skimage.restoration import estimate_sigma

    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        return float(np.mean(estimate_sigma(image, channel_axis=-1)))
    if min(image.shape) < 2:
        return 0.0
    return float(estimate_sigma(image))


def denoise_none(image: np.ndarray, *, strength: float | None = None) -> np.ndarray:
    """Return the image unchanged (as float32). ``strength`` is ignored."""
    return np.asarray(image, dtype=np.float32)


def denoise_gaussian(image: np.ndarray, *, strength: float | None = None) -> np.ndarray:
    """Gaussian blur; ``strength`` is the kernel's sigma in pixels.

    With ``strength=None`` the sigma is ``clip(20 * noise, 0.5, 3)`` where
    ``noise`` is :func:`estimate_noise`.

    Examples
    --------
    >>> img = np.zeros((15, 15), np.float32); img[7, 7] = 1
    >>> out = denoise_gaussian(img, strength=1.0)
    >>> round(float(out.sum()), 4), out.dtype
    (1.0, dtype('float32'))
    """
    import cv2

    image = np.asarray(image, dtype=np.float32)
    sigma = _auto(image, strength, lambda n: float(np.clip(20.0 * n, 0.5, 3.0)))
    if sigma == 0:
        return image.copy()
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT_101)


def denoise_median(image: np.ndarray, *, strength: float | None = None) -> np.ndarray:
    """Median filter; ``strength`` is the radius in pixels (window 2r+1).

    With ``strength=None`` the radius is 1 (3x3) for noise under 0.05, else 2.

    Examples
    --------
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
    >>> float(denoise_median(img, strength=1).max())
    0.0
    """
    from scipy.ndimage import median_filter

    image = np.asarray(image, dtype=np.float32)
    radius = int(round(_auto(image, strength, lambda n: 1.0 if n < 0.05 else 2.0)))
    if radius <= 0:
        return image.copy()
    size = (2 * radius + 1,) * 2 + ((1,) if image.ndim == 3 else ())
    return median_filter(image, size=size, mode="reflect")


def _auto(image: np.ndarray, strength: float | None, rule: Callable[[float], float]) -> float:
    if strength is None:
        return rule(estimate_noise(image))
    strength = float(strength)
    if not np.isfinite(strength) or strength < 0:
        raise ParameterError(f"strength={strength!r} must be a finite number >= 0 "
                             "(or None to estimate it from the image)")
    return strength


DENOISE_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "none": denoise_none,
    "gaussian": denoise_gaussian,
    "median": denoise_median,
}


def denoise(image: np.ndarray, method: str = "gaussian", *,
            strength: float | None = None) -> np.ndarray:
    """Denoise a float32 image in [0, 1] with a method from ``DENOISE_METHODS``.

    Parameters
    ----------
    image : ndarray
        (H, W) or (H, W, 3) float image in [0, 1].
    method : str
        A key of ``DENOISE_METHODS``.
    strength : float or None
        Method-specific strength; ``None`` estimates it from the image.

    Returns
    -------
    ndarray
        float32, same shape, values in [0, 1].

    Examples
    --------
    >>> img = np.full((8, 8), 0.5, np.float32)
    >>> out = denoise(img, "gaussian", strength=1.0)
    >>> out.shape, out.dtype, bool(np.allclose(out, 0.5))
    ((8, 8), dtype('float32'), True)
    """
    func = choose(DENOISE_METHODS, method, "method")
    image = np.asarray(image, dtype=np.float32)
    out = func(image, strength=strength)
    if np.shares_memory(out, image):
        out = out.copy()  # never hand back (or clip) the caller's array
    return np.clip(out, 0.0, 1.0, out=out)


def flatten_background(image: np.ndarray, *, scale: float | None = None) -> np.ndarray:
    """Even out uneven lighting: divide by a large-scale background estimate.

    The background is a Gaussian blur (sigma ``scale``, default 1/20 of the
    longer side) of the image with dark strokes suppressed by a grey-level
    closing; the result ``image / background`` is clipped to [0, 1], so the
    paper becomes white and the ink keeps its contrast.

    Examples
    --------
    >>> y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    >>> lit = 0.6 + 0.3 * x / 63          # paper lit unevenly from the right
    >>> flat = flatten_background(lit)
    >>> bool(flat.min() > 0.95)
    True
    """
    import cv2

    image = np.asarray(image, dtype=np.float32)
    if scale is None:
        scale = max(image.shape[:2]) / 20.0
    if scale <= 0 or min(image.shape[:2]) < 2:
        return image.copy()
    radius = max(1, int(round(scale / 4)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    background = cv2.morphologyEx(image, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REFLECT)
    background = cv2.GaussianBlur(background, (0, 0), float(scale))
    np.maximum(background, np.float32(1e-3), out=background)
    return np.clip(image / background, 0.0, 1.0)
