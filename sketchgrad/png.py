"""Writing PNG outputs: 8- or 16-bit, atomically, with provenance text."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import OutputError, ParameterError

__all__ = ["save_png"]


def save_png(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    bit_depth: int = 8,
    text: dict[str, str] | None = None,
    compression: int = 1,
) -> Path:
    """Write a float image in [0, 1] (or uint8/uint16) as a PNG, atomically.

    The file is written under a temporary name in the same folder and renamed
    into place, so a reader never sees a partial PNG under ``path``.

    Parameters
    ----------
    path : str or path-like
        Destination ``.png`` file.
    image : ndarray
        (H, W) grey or (H, W, 3) RGB. Floats are clipped to [0, 1] and rounded.
    bit_depth : {8, 16}
        Bits per sample of the PNG.
    text : dict, optional
        PNG ``tEXt`` chunks (e.g. provenance).
    compression : int
        zlib level 0-9.

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> p = save_png(d + "/ramp.png", np.linspace(0, 1, 6, dtype=np.float32)[None], bit_depth=16)
    >>> np.asarray(Image.open(p)).tolist()
    [[0, 13107, 26214, 39321, 52428, 65535]]
    """
    from PIL import Image, PngImagePlugin

    if bit_depth not in (8, 16):
        raise ParameterError(f"bit_depth={bit_depth!r} is not supported; use 8 or 16")
    if not 0 <= int(compression) <= 9:
        raise ParameterError(f"compression={compression!r} must be a zlib level from 0 to 9")
    data = _quantize(image, bit_depth)
    if data.ndim == 2:
        im = Image.fromarray(data)  # uint8 -> "L", uint16 -> "I;16"
    elif data.ndim == 3 and data.shape[2] == 3:
        if bit_depth == 16:
            raise ParameterError("bit_depth=16 is only supported for grey images; use 8 for RGB")
        im = Image.fromarray(data)
    else:
        raise ParameterError(f"image of shape {image.shape} cannot be saved; "
                             "give (H, W) grey or (H, W, 3) RGB")
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    dest = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise OutputError(f"{dest.parent}: cannot write here ({exc.strerror}); "
                          "choose an output folder you can write to") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            im.save(fh, format="PNG", pnginfo=info, compress_level=int(compression))
        os.replace(tmp, dest)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{dest}: cannot be written ({exc.strerror or exc}); "
                              "check free space and permissions") from None
        raise
    return dest


def _quantize(image: np.ndarray, bit_depth: int) -> np.ndarray:
    image = np.asarray(image)
    target = np.uint16 if bit_depth == 16 else np.uint8
    if image.dtype == target:
        return image
    if image.dtype.kind in "ui":
        raise ParameterError(f"image of dtype {image.dtype} cannot be saved at bit_depth="
                             f"{bit_depth}; give floats in [0, 1] or {np.dtype(target).name}")
    scale = np.float32(65535.0 if bit_depth == 16 else 255.0)
    out = np.clip(image, 0.0, 1.0) * scale
    out += np.float32(0.5)
    return out.astype(target)
