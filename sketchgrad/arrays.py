"""Small array checks several stages share: the grey-image check of the comparison sheets.

(The package-wide input rule for images is :func:`sketchgrad.io.as_image`.)
"""

from __future__ import annotations

import numpy as np

from .errors import ParameterError

__all__ = ["check_grey"]


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
