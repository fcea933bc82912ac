"""The classic Python "hand-drawn" relief effect."""

from __future__ import annotations

import numpy as np

__all__ = ["sketch_effect"]


def sketch_effect(image: np.ndarray, *, depth: float = 10.0, elevation: float = np.pi / 2.2,
                  azimuth: float = np.pi / 4) -> np.ndarray:
    """Light the drawing as a relief: gradients become unit surface normals.

    With the image on the 0-255 grey scale, the central-difference gradients
    scaled by ``depth / 100`` give the normal ``n = (gx, gy, 1) / sqrt(gx^2 + gy^2 + 1)``,
    lit by a light at (``elevation``, ``azimuth``); the output is
    ``clip(l . n, 0, 1)``. As in the classic script, the first light component
    pairs with the row derivative.

    Parameters
    ----------
    image : ndarray
        (H, W) float image in [0, 1].
    depth : float
        Relief depth (the classic script's 10).
    elevation, azimuth : float
        Light direction in radians.

    Returns
    -------
    ndarray
        float32 (H, W) in [0, 1].

    Examples
    --------
    >>> out = sketch_effect(np.full((4, 4), 0.5, np.float32))
    >>> round(float(out[0, 0]), 4) == round(float(np.sin(np.pi / 2.2)), 4)
    True
    """
    a = np.asarray(image, dtype=np.float32) * np.float32(255.0)
    if min(a.shape) < 2:
        d_row = d_col = np.zeros_like(a)
    else:
        d_row, d_col = np.gradient(a)
    scale = np.float32(depth / 100.0)
    d_row = d_row * scale
    d_col = d_col * scale
    inv_len = np.float32(1.0) / np.sqrt(d_row * d_row + d_col * d_col + np.float32(1.0))
    lx = np.cos(elevation) * np.cos(azimuth)
    ly = np.cos(elevation) * np.sin(azimuth)
    lz = np.sin(elevation)
    shade = (np.float32(lx) * d_row + np.float32(ly) * d_col + np.float32(lz)) * inv_len
    return np.clip(shade, 0.0, 1.0).astype(np.float32, copy=False)
