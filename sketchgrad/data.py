"""Sample drawings installed with sketchgrad, loaded by name.

Like :mod:`skimage.data`, each sample has a function that returns it, so examples and notebooks
work from an installed wheel without the repository::

    import sketchgrad as sg
    scan = sg.data.ink_landscape()             # a Scan, as load_scan gives it
    colour = sg.data.marker_balloons(mode="rgb")

The drawings were made by ``scripts/make_sample_images.py`` (seeded, so they are the same
on every machine). In the repository they live in ``sample_images/``; the wheel carries that
folder inside the package, and :func:`path` finds it in either place.

Examples
--------
>>> import sketchgrad as sg
>>> sg.data.names()[:2]
('cube_shading_16bit', 'ink_bird_rgba')
>>> scan = sg.data.ink_bird_rgba()
>>> scan.image.dtype, scan.image.ndim
(dtype('float32'), 2)
"""

from __future__ import annotations

from pathlib import Path

from .errors import ParameterError, ScanError
from .io import Scan, load_scan

__all__ = [
    "names",
    "path",
    "load",
    "cube_shading_16bit",
    "ink_bird_rgba",
    "ink_landscape",
    "marker_balloons",
    "pencil_still_life",
    "photo_portrait_exif6",
]

# name -> file; the name is the file's stem, so the two never drift apart.
_FILES = {
    "cube_shading_16bit": "cube_shading_16bit.tif",
    "ink_bird_rgba": "ink_bird_rgba.png",
    "ink_landscape": "ink_landscape.png",
    "marker_balloons": "marker_balloons.jpg",
    "pencil_still_life": "pencil_still_life.png",
    "photo_portrait_exif6": "photo_portrait_exif6.jpg",
}

_PACKAGE = Path(__file__).resolve().parent
# Where the files are: inside the package in an installed wheel (pyproject's force-include),
# the repository's own folder in a source checkout or an editable install.
_FOLDERS = (_PACKAGE / "sample_images", _PACKAGE.parent / "sample_images")


def names() -> tuple[str, ...]:
    """Names of the sample drawings, sorted.

    Returns
    -------
    tuple of str
        Each name is also a function of this module and a valid argument of :func:`load`
        and :func:`path`.

    Examples
    --------
    >>> from sketchgrad import data
    >>> "ink_landscape" in data.names()
    True
    """
    return tuple(sorted(_FILES))


def path(name: str) -> Path:
    """Path of a sample drawing's file.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    pathlib.Path
        The file, inside the installed package or the repository's ``sample_images/``.

    Raises
    ------
    ParameterError
        If ``name`` is not a sample; the message lists the names.
    ScanError
        If the package was installed without its sample images.

    Examples
    --------
    >>> from sketchgrad import data
    >>> data.path("marker_balloons").name
    'marker_balloons.jpg'
    """
    if not isinstance(name, str) or name not in _FILES:
        raise ParameterError(
            f"name={name!r} is not a sample drawing; choose one of: "
            + ", ".join(repr(n) for n in names())
        )
    for folder in _FOLDERS:
        candidate = folder / _FILES[name]
        if candidate.is_file():
            return candidate
    raise ScanError(
        f"sample drawing {_FILES[name]!r} is not installed (looked in "
        + " and ".join(str(f) for f in _FOLDERS)
        + "); reinstall sketchgrad from its wheel or repository"
    )


def load(name: str, *, mode: str = "gray") -> Scan:
    """Load a sample drawing by name, as :func:`~sketchgrad.load_scan` loads its file.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    mode : {"gray", "rgb"}
        ``"gray"`` gives (H, W), ``"rgb"`` gives (H, W, 3); see
        :func:`~sketchgrad.load_scan`.

    Returns
    -------
    Scan
        The image (float32 in [0, 1]) and its metadata.

    Raises
    ------
    ParameterError
        If ``name`` is not a sample (the message lists the names) or ``mode`` is invalid.

    Examples
    --------
    >>> from sketchgrad import data
    >>> data.load("marker_balloons", mode="rgb").image.shape[-1]
    3
    """
    return load_scan(path(name), mode=mode)


def cube_shading_16bit(*, mode: str = "gray") -> Scan:
    """A shaded cube and sphere, a 16-bit greyscale TIFF with smooth tone.

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing; 16-bit precision is kept in the float32 image.
    """
    return load("cube_shading_16bit", mode=mode)


def ink_bird_rgba(*, mode: str = "gray") -> Scan:
    """An ink bird on a transparent background (RGBA PNG), composited over white paper.

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing over white paper.
    """
    return load("ink_bird_rgba", mode=mode)


def ink_landscape(*, mode: str = "gray") -> Scan:
    """Ink line art of a landscape: crisp black strokes and hatching on white.

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing.
    """
    return load("ink_landscape", mode=mode)


def marker_balloons(*, mode: str = "gray") -> Scan:
    """A colour marker drawing of hot-air balloons (JPEG); ask ``mode="rgb"`` for its colours.

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing.
    """
    return load("marker_balloons", mode=mode)


def pencil_still_life(*, mode: str = "gray") -> Scan:
    """A pencil still life with paper grain: soft strokes and noise, a case for denoising.

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing.
    """
    return load("pencil_still_life", mode=mode)


def photo_portrait_exif6(*, mode: str = "gray") -> Scan:
    """A phone photo of a drawing stored sideways with EXIF orientation 6 (applied on load).

    Parameters
    ----------
    mode : {"gray", "rgb"}
        As in :func:`load`.

    Returns
    -------
    Scan
        The drawing, upright.
    """
    return load("photo_portrait_exif6", mode=mode)
