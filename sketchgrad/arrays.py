"""Small array helpers several stages share: an image as float32, and the grey-image check.

(The package-wide input rule for images is :mod:`sketchgrad.io`'s; these are
the lenient conversions the gradient, preview and comparison code use.)
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["float32_image", "check_grey"]


def float32_image(image: np.ndarray) -> np.ndarray:
    """float32 copy-free view of an image; integers are scaled by their dtype's maximum.

    Examples
    --------
    >>> float32_image(np.array([[0, 255]], np.uint8)).tolist()
    [[0.0, 1.0]]
    """
    arr = np.asarray(image)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype.kind in "ui":
        return arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    if arr.dtype.kind != "f":
        raise ParameterError(f"image of dtype {arr.dtype} is not numeric; give a float image "
                             "in [0, 1] (or an integer image, scaled by its dtype's maximum)")
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_grey(image: np.ndarray, *, empty: bool = True) -> None:
    """Raise unless ``image`` is 2-D (grey) and finite; with ``empty=False`` also if empty.

    Examples
    --------
    >>> check_grey(np.zeros((2, 2)))
    >>> check_grey(np.zeros((2, 2, 3)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sketchgrad.errors.ParameterError: image of shape (2, 2, 3) is not a grey (H, W) image; ...
    """
    if image.ndim != 2 or (not empty and image.size == 0):
        raise ParameterError(f"image of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray'")
    # min and max each propagate NaN; their sum could overflow for finite values
    if image.size and not (np.isfinite(image.min()) and np.isfinite(image.max())):
        raise ParameterError("image contains NaN or infinite values; give finite values in [0, 1]")
