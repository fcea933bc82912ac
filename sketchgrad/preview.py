"""PNG previews made of matplotlib imshow panels (Agg backend, no window)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["render_preview"]

#: Longest side, in pixels, of what a panel shows; larger scans are downsampled.
PREVIEW_SIDE = 800


def _thumb(a: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil(max(a.shape[:2]) / PREVIEW_SIDE)))
    return a[::step, ::step]


def render_preview(result, path: str | os.PathLike) -> Path:
    """Render a result's stages side by side into a PNG.

    Parameters
    ----------
    result : Result
        What :func:`sketchgrad.process` returned.
    path : str or path-like
        Destination PNG (written atomically).

    Returns
    -------
    Path
        The written path.

    Examples
    --------
    >>> import tempfile, numpy as np, sketchgrad
    >>> res = sketchgrad.process(np.eye(16, dtype=np.float32))
    >>> render_preview(res, tempfile.mkdtemp() + "/p.png").stat().st_size > 1000
    True
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .png import save_png

    panels = [("scan", result.image, "gray", (0, 1))]
    if result.denoised is not None:
        panels.append((f"denoised ({result.config.denoise})", result.denoised, "gray", (0, 1)))
    if result.normalized is not None:
        panels.append((f"magnitude ({result.config.normalize})", result.normalized,
                       "magma", (None, None)))
    if result.hsv is not None:
        panels.append(("HSV: hue = direction, value = strength", result.hsv, None, (0, 1)))
    if result.sketch is not None:
        panels.append(("relief", result.sketch, "gray", (0, 1)))
    fig = Figure(figsize=(4 * len(panels), 4.4), dpi=100)
    FigureCanvasAgg(fig)
    for i, (title, data, cmap, (vmin, vmax)) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        im = ax.imshow(_thumb(data), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="antialiased")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
        if cmap == "magma":
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.tight_layout()
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return save_png(path, rgba[..., :3].copy(), bit_depth=8, compression=6)
