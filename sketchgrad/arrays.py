"""Array helpers several stages share: the mask check, block means and the luma.

(The package-wide input rule for images is :func:`sketchgrad.io.as_image`.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import ParameterError

__all__ = ["as_mask", "block_means", "rgb_luma"]


def as_mask(mask: object, shape: tuple[int, ...],
            name: str = "the image") -> NDArray[np.bool_] | None:
    """``mask`` as a boolean array of ``shape`` (None stays None); else an error naming ``name``.

    Examples
    --------
    >>> as_mask([[1, 0]], (1, 2)).tolist()
    [[True, False]]
    >>> as_mask(np.ones(3), (2, 2), "x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sketchgrad.errors.ParameterError: mask of shape (3,) does not match x of shape (2, 2); ...
    """
    if mask is None:
        return None
    given = np.asarray(mask)
    if given.shape != shape:
        raise ParameterError(f"mask of shape {given.shape} does not match {name} of shape "
                             f"{shape}; give a boolean mask of the same shape")
    return given.astype(bool, copy=False)


def block_means(a: NDArray[np.float32], step: int) -> NDArray[np.float32]:
    """Means of ``step`` x ``step`` blocks of a float32 (H, W) or (H, W, C) array.

    Blocks cut short by the bottom or right edge average the pixels they have.
    Whole blocks go through OpenCV's area shrink by an integer factor (the
    block mean, to float32 rounding: about ten times faster than NumPy's
    ``add.reduceat``); the edges through ``add.reduceat``.

    Examples
    --------
    >>> block_means(np.arange(6, dtype=np.float32).reshape(2, 3), 2).tolist()
    [[2.0, 3.5]]
    """
    height, width = a.shape[:2]
    full_h, full_w = height // step, width // step
    out = np.empty((-(-height // step), -(-width // step)) + a.shape[2:], np.float32)
    if full_h and full_w:
        import cv2

        whole = cv2.resize(a[:full_h * step, :full_w * step], (full_w, full_h),
                           interpolation=cv2.INTER_AREA)
        out[:full_h, :full_w] = whole.reshape(out[:full_h, :full_w].shape)
    if height > full_h * step:  # the last row of partial blocks
        out[full_h:] = _edge_block_means(a[full_h * step:], step)
    if width > full_w * step and full_h:  # the last column of partial blocks
        out[:full_h, full_w:] = _edge_block_means(a[:full_h * step, full_w * step:], step)
    return out


def _edge_block_means(a: NDArray[np.float32], step: int) -> NDArray[np.float32]:
    """Block means where blocks may be cut short by the edge (they average what is there)."""
    rows = np.arange(0, a.shape[0], step)
    cols = np.arange(0, a.shape[1], step)
    sums = np.add.reduceat(np.add.reduceat(a, rows, axis=0), cols, axis=1)
    count_r = np.diff(np.append(rows, a.shape[0])).astype(np.float32)
    count_c = np.diff(np.append(cols, a.shape[1])).astype(np.float32)
    counts = np.outer(count_r, count_c)
    means: NDArray[np.float32] = (sums / (counts[..., None] if sums.ndim == 3 else counts)
                                  ).astype(np.float32, copy=False)  # float32 / float32
    return means


def rgb_luma(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """The BT.601 luma of float32 (..., 3) RGB, pixel by pixel: float32 (...), a new array.

    ``R + 0.587 (G - R) + 0.114 (B - R)``, which is ``0.299 R + 0.587 G +
    0.114 B`` (``io.LUMA_BT601``) to float32 rounding, with two properties a
    matrix product lacks: a grey pixel (R = G = B) gives exactly R, so a grey
    drawing stored as RGB loads as exactly the grey file; and each pixel's
    value depends on that pixel alone, never on how many are converted at
    once, so a region converted on its own (a tile, ``io.NativeImage``)
    equals the same region of the whole image, bit for bit.

    Examples
    --------
    >>> grey = np.float32(0.3)
    >>> luma = rgb_luma(np.float32([[1, 0, 0], [grey, grey, grey]]))
    >>> round(float(luma[0]), 6), bool(luma[1] == grey)
    (0.299, True)
    """
    red = rgb[..., 0]
    grey: NDArray[np.float32] = rgb[..., 1] - red
    grey *= np.float32(0.587)
    blue = rgb[..., 2] - red
    blue *= np.float32(0.114)
    grey += blue
    grey += red
    return grey
