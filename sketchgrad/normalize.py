"""Normalization methods for gradient magnitudes (and any NumPy array).

``NORMALIZE_METHODS`` maps a name to ``f(x, *, mask=None, **params)``;
``normalize`` validates the name and dispatches; ``to_unit`` brings each
method's output to [0, 1] for display.

Degenerate rule: where a method has no scale (a constant array for minmax
or zscore) the result is zeros; an all-zero array gives zeros for every
method; no NaN, no warning. Non-finite inputs raise ``ParameterError``
(a ``ValueError``) unless ``mask`` excludes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ParameterError, choose

__all__ = ["NORMALIZE_METHODS", "normalize", "to_unit", "minmax", "zscore", "l2"]

#: Relative tolerance under which a spread counts as zero (no scale).
RTOL = 1e-6


def _values(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The values the statistics come from, checked for non-finite entries."""
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape:
            raise ParameterError(f"mask of shape {mask.shape} does not match x of shape "
                                 f"{x.shape}; give a boolean mask of the same shape")
        vals = x[mask]
    else:
        vals = x.ravel()
    bad = vals.size - int(np.count_nonzero(np.isfinite(vals)))
    if bad:
        raise ParameterError(f"x has {bad} non-finite values (NaN or inf); remove them or "
                             "exclude them with mask=")
    return vals


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype != np.float64 else x


def minmax(x: np.ndarray, *, mask: np.ndarray | None = None,
           out_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Min-max scaling ``(x - min) / (max - min)`` mapped onto ``out_range``.

    A constant array gives ``out_range[0]`` everywhere.

    Examples
    --------
    >>> minmax(np.array([2.0, 4.0, 6.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    x = _as_float(x)
    vals = _values(x, mask)
    lo, hi = out_range
    if vals.size == 0:
        return np.full_like(x, lo)
    vmin, vmax = vals.min(), vals.max()
    span = vmax - vmin
    if span <= RTOL * max(abs(vmin), abs(vmax)) or span == 0:
        return np.full_like(x, lo)
    out = (x - vmin) * (x.dtype.type(hi - lo) / span)
    out += x.dtype.type(lo)
    return out


def zscore(x: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
    """Standard score ``(x - mean) / std`` (population std); constant gives zeros.

    Examples
    --------
    >>> zscore(np.array([1.0, 3.0])).tolist()
    [-1.0, 1.0]
    """
    x = _as_float(x)
    vals = _values(x, mask).astype(np.float64)
    if vals.size == 0:
        return np.zeros_like(x)
    mean, std = vals.mean(), vals.std()
    if std <= RTOL * abs(mean) or std == 0:
        return np.zeros_like(x)
    return (x - x.dtype.type(mean)) / x.dtype.type(std)


def l2(x: np.ndarray, *, mask: np.ndarray | None = None, axis: int | None = None) -> np.ndarray:
    """Divide by the Euclidean norm, over the array or per vector along ``axis``.

    Zero vectors stay zero.

    Examples
    --------
    >>> l2(np.array([3.0, 4.0])).tolist()
    [0.6, 0.8]
    >>> l2(np.array([[3.0, 4.0], [0.0, 0.0]]), axis=-1).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    x = _as_float(x)
    if axis is None:
        vals = _values(x, mask).astype(np.float64)
        norm = float(np.sqrt(np.dot(vals, vals)))
        return np.zeros_like(x) if norm == 0 else x / x.dtype.type(norm)
    _values(x, None)
    norm = np.sqrt(np.sum(np.square(x, dtype=np.float64), axis=axis, keepdims=True))
    safe = np.where(norm == 0, 1.0, norm)
    return (x / safe).astype(x.dtype, copy=False)


NORMALIZE_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "minmax": minmax,
    "zscore": zscore,
    "l2": l2,
}


def normalize(x: np.ndarray, method: str = "minmax", *, mask: np.ndarray | None = None,
              **params) -> np.ndarray:
    """Normalize an array with a method from ``NORMALIZE_METHODS``.

    Parameters
    ----------
    x : ndarray
        Any numeric array (image, gradient magnitude, stacked gradients...).
    method : str
        A key of ``NORMALIZE_METHODS``.
    mask : ndarray of bool, optional
        Statistics come from ``x[mask]`` only; the result covers all of ``x``.
    **params
        Method options (``out_range`` for minmax, ``axis`` for l2, ...).

    Returns
    -------
    ndarray
        float32 for float32 (or integer) input, float64 for float64.

    Examples
    --------
    >>> normalize(np.array([1.0, 2.0, 3.0]), "minmax", out_range=(-1, 1)).tolist()
    [-1.0, 0.0, 1.0]
    """
    func = choose(NORMALIZE_METHODS, method, "method")
    try:
        return func(x, mask=mask, **params)
    except TypeError as exc:
        raise ParameterError(f"normalize(method={method!r}): {exc}") from None


def to_unit(x: np.ndarray, method: str) -> np.ndarray:
    """Bring a method's output to [0, 1] for display.

    minmax: clipped to [0, 1]; zscore: ``[-3, 3]`` mapped to [0, 1] (clipped at
    3 sigma); l2: divided by its largest absolute value.

    Examples
    --------
    >>> to_unit(np.array([-3.0, 0.0, 6.0]), "zscore").tolist()
    [0.0, 0.5, 1.0]
    """
    choose(NORMALIZE_METHODS, method, "method")
    x = _as_float(x)
    if method == "zscore":
        return np.clip((x + 3) / 6, 0, 1)
    if method == "l2":
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        return np.zeros_like(x) if peak == 0 else np.clip(np.abs(x) / peak, 0, 1)
    return np.clip(x, 0, 1)
