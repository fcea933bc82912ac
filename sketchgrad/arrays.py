"""Small array checks several stages share: the grey-image check, the (H, W) mask check.

(The package-wide input rule for images is :func:`sketchgrad.io.as_image`.)
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["check_grey", "as_mask"]


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


def as_mask(mask: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """``mask`` as a boolean (H, W) array of ``shape`` (None stays None); else an error."""
    if mask is None:
        return None
    inside = np.asarray(mask)
    if inside.shape != shape:
        raise ParameterError(f"mask of shape {inside.shape} does not match the image's "
                             f"{shape}; give a boolean (H, W) mask")
    return inside.astype(bool, copy=False)
