"""When a scan is colour: the measured rule behind ``channels="auto"``.

``CHANNELS`` names the choices a caller has: ``"gray"`` (process the BT.601
luma), ``"rgb"`` (process the three channels) and ``"auto"`` (measure the scan
with :func:`colourfulness` and pick one with :func:`resolve_channels`).

The measure, on a copy shrunk (area average) to at most ``MEASURE_SIDE`` =
1024 pixels on the long side (8- and 16-bit samples are shrunk as the file
stores them, rounded to their own step, so a scan is never converted whole
to be measured):

1. Every pixel is converted to OKLab (L, a, b) (:func:`sketchgrad.color.srgb_to_oklab`).
2. The *paper* is the median (L, a, b) of the brightest quarter of the pixels
   (L at or above its 75th percentile).
3. A pixel's *chroma relative to the paper* is the distance of its (a, b)
   from the paper's (a, b) scaled by ``L / L_paper``. The scaling makes a tint
   that multiplies every channel (yellowed or cream paper, a scanner's colour
   cast, ink seen through tinted paper) cost nothing: under such a tint OKLab's
   a and b grow in proportion to L.
4. A pixel is *coloured* when that chroma exceeds ``CHROMA_THRESHOLD`` = 0.06,
   and *marked* (part of the drawing) when it is coloured or darker than the
   paper by more than ``INK_STEP`` = 0.05 in L.
5. The scan is colour when the coloured pixels are at least
   ``COLOUR_SHARE`` = 10 % of the marked pixels and at least ``MIN_PAGE_SHARE``
   = 0.05 % of the page.

Measured (``colourfulness(...)``: coloured share of the marked pixels, and the
99.9th percentile of the relative chroma): real colour drawings -- the crayon
pig 29 % (0.110), the marker tree diagram 27 % (0.142), marker_balloons 92 %
(0.202) -- are colour. Real grey ones have no coloured pixel: the brush-pen
castle (0.014), the pencil bowl (0.000), the navy-ink bird (0.025), the
photographed pencil portrait whose brown table edge is the most colourful
thing (0.047), and the other sample drawings (0.000). Generated cases: grey
ink with per-channel noise JPEG-saved as RGB at quality 75 (0.007) or 50,
yellowed paper (0.041), yellowed paper with a stain (0.038) and a warm
colour cast (0.033) stay grey; three pink, teal and purple strokes on white
are colour (98 %); a small red signature on a grey drawing (2 % of the
marked pixels) stays grey: the drawing is grey and the signature is not what
it is about. The threshold 0.06 sits between the greys' 0.047 and the
colours' chroma (marker and crayon fills are 0.08 and above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .arrays import rgb_luma
from .errors import ParameterError, choose

__all__ = [
    "CHANNELS",
    "CHROMA_THRESHOLD",
    "COLOUR_SHARE",
    "INK_STEP",
    "MEASURE_SIDE",
    "MIN_PAGE_SHARE",
    "ColourMeasure",
    "colourfulness",
    "luma",
    "resolve_channels",
]

#: The ``channels`` settings: measure, force grey, force colour.
CHANNELS = ("auto", "gray", "rgb")
#: OKLab chroma (relative to the paper) above which a pixel is coloured.
CHROMA_THRESHOLD = 0.06
#: OKLab lightness below the paper's by which a pixel counts as ink.
INK_STEP = 0.05
#: Share of the marked pixels that must be coloured for the scan to be colour.
COLOUR_SHARE = 0.10
#: Share of the whole page that must be coloured (a speck of colour is not a drawing).
MIN_PAGE_SHARE = 0.0005
#: Long side (pixels) of the shrunk copy the measure is taken on.
MEASURE_SIDE = 1024


@dataclass(frozen=True)
class ColourMeasure:
    """How much colour a scan has, relative to its paper.

    Attributes
    ----------
    paper : tuple of float
        The paper's OKLab (L, a, b): the median of the brightest quarter.
    coloured : float
        Share of the page's pixels whose chroma relative to the paper exceeds
        ``CHROMA_THRESHOLD``.
    marked : float
        Share of the page's pixels that are coloured or darker than the paper
        by more than ``INK_STEP``: the drawing.
    colour_share : float
        ``coloured / marked`` (0 on a blank page).
    peak_chroma : float
        The 99.9th percentile of the relative chroma (how strong the colour
        is where there is most of it).
    """

    paper: tuple[float, float, float]
    coloured: float
    marked: float
    colour_share: float
    peak_chroma: float

    @property
    def is_colour(self) -> bool:
        """Whether the rule of the module docstring calls the scan colour."""
        return self.colour_share >= COLOUR_SHARE and self.coloured >= MIN_PAGE_SHARE


def luma(image: ArrayLike) -> NDArray[np.float32]:
    """The BT.601 luma of an RGB image, the grey image ``load_scan(mode="gray")`` gives.

    Computed pixel by pixel as ``R + 0.587 (G - R) + 0.114 (B - R)``, which
    equals ``0.299 R + 0.587 G + 0.114 B`` to float32 rounding and is bit-exact
    on grey pixels (R = G = B gives R), so a grey drawing stored as RGB gives
    exactly the grey file's image, and every colour stage that works on the
    luma gives exactly the grey stage's result on it. The same code converts
    colour files read as grey (:func:`sketchgrad.load_scan`), whole or a tile
    at a time: a pixel's value never depends on how many are converted at once.

    Parameters
    ----------
    image : ndarray
        float32 (..., 3) RGB.

    Returns
    -------
    ndarray
        float32 (...), a new array.

    Examples
    --------
    >>> [round(float(v), 4) for v in luma(np.float32([[1, 0, 0], [0.3, 0.3, 0.3]]))]
    [0.299, 0.3]
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim < 1 or image.shape[-1] != 3:
        raise ParameterError(f"image of shape {image.shape} is not an (..., 3) RGB image")
    return rgb_luma(image)


def _shrunk(image: Any) -> NDArray[np.float32]:
    """The image area-averaged to at most ``MEASURE_SIDE`` pixels a side, float32 in [0, 1].

    8- and 16-bit samples (an integer array, or a scan kept in its file's
    dtype, ``io.NativeImage``) are shrunk as they are stored, by OpenCV's
    area average, which rounds to the samples' own step: within half an 8-bit
    level of shrinking the float image, and the whole scan is never converted
    (RGB samples read as grey give the luma of their shrunk copy: grey, as the
    image reads). Anything else goes through the input rule
    (:func:`sketchgrad.as_image`).
    """
    import cv2

    from .io import NativeImage

    samples = image.samples if isinstance(image, NativeImage) else image
    stored = isinstance(samples, np.ndarray) and samples.dtype in (np.uint8, np.uint16) \
        and samples.size and (samples.ndim == 2 or samples.shape[2:] == (3,))
    picture = np.ascontiguousarray(samples) if stored else _as_float(image)
    height, width = picture.shape[:2]
    factor = MEASURE_SIDE / max(height, width, 1)
    if factor < 1:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        picture = cv2.resize(picture, size, interpolation=cv2.INTER_AREA).reshape(
            size[::-1] + picture.shape[2:])
    if stored:
        full = np.float32(np.iinfo(picture.dtype).max)
        picture = np.divide(picture, full, dtype=np.float32)
        if isinstance(image, NativeImage) and image.ndim == 2 and picture.ndim == 3:
            picture = rgb_luma(picture)  # RGB samples read as grey: the grey it reads as
    return cast("NDArray[np.float32]", picture)


def _as_float(image: ArrayLike) -> NDArray[np.float32]:
    """The input rule (:func:`sketchgrad.io.as_image`): float32 (H, W) or (H, W, 3) in [0, 1]."""
    from .io import as_image

    return as_image(image)


def colourfulness(image: ArrayLike) -> ColourMeasure:
    """Measure how much colour a scan has, relative to its paper.

    Parameters
    ----------
    image : ndarray or NativeImage
        (H, W, 3) RGB (sRGB-encoded) float in [0, 1], or 8-/16-bit integers
        (shrunk as they are stored, see the module notes); an (H, W) grey
        image measures as no colour.

    Returns
    -------
    ColourMeasure
        The numbers of the rule in the module docstring.

    Raises
    ------
    ParameterError
        An image of another shape or dtype, or one with NaN or infinite values.

    Examples
    --------
    >>> page = np.ones((64, 64, 3), np.float32)
    >>> page[20:30, 10:50] = (0.9, 0.3, 0.5)            # a pink stroke
    >>> m = colourfulness(page)
    >>> m.is_colour, round(m.colour_share, 2)
    (True, 1.0)
    >>> colourfulness(np.full((8, 8, 3), 0.7, np.float32)).is_colour
    False
    """
    from .color import srgb_image_to_oklab

    rgb = _shrunk(image)
    if rgb.size == 0:
        return ColourMeasure((1.0, 0.0, 0.0), 0.0, 0.0, 0.0, 0.0)
    if rgb.ndim == 2:  # grey: measured as R = G = B (no colour, but the ink share is real)
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    lab = srgb_image_to_oklab(rgb).reshape(-1, 3).astype(np.float64)  # <= 1 MP
    lightness = lab[:, 0]
    bright = lightness >= np.percentile(lightness, 75)
    paper = np.median(lab[bright], axis=0)
    scale = lightness / max(paper[0], 1e-6)
    chroma = np.hypot(lab[:, 1] - paper[1] * scale, lab[:, 2] - paper[2] * scale)
    coloured = chroma > CHROMA_THRESHOLD
    marked = coloured | (paper[0] - lightness > INK_STEP)
    n_coloured, n_marked = int(np.count_nonzero(coloured)), int(np.count_nonzero(marked))
    # A whole-scan measure: take it once per scan, never per tile.
    return ColourMeasure(
        paper=(float(paper[0]), float(paper[1]), float(paper[2])),
        coloured=n_coloured / chroma.size,
        marked=n_marked / chroma.size,
        colour_share=n_coloured / n_marked if n_marked else 0.0,
        peak_chroma=float(np.percentile(chroma, 99.9)),
    )


def resolve_channels(image: ArrayLike, channels: str = "auto") -> str:
    """Decide whether a scan is processed in grey or in colour.

    Parameters
    ----------
    image : ndarray or NativeImage
        The scan: (H, W) grey or (H, W, 3) RGB (a ``NativeImage`` as it
        reads, measured on its stored samples).
    channels : {"auto", "gray", "rgb"}
        ``"gray"`` and ``"rgb"`` are returned as they are (the caller's
        choice); ``"auto"`` gives ``"gray"`` for a grey (H, W) image, and for
        an RGB one whose measured copy has three equal channels (no chroma
        anywhere), and otherwise measures it (:func:`colourfulness`; the rule
        is in the module docstring).

    Returns
    -------
    str
        ``"gray"`` or ``"rgb"``.

    Raises
    ------
    ParameterError
        An unknown ``channels`` (the message lists the valid ones) or an
        image :func:`colourfulness` refuses.

    Examples
    --------
    >>> grey_rgb = np.repeat(np.linspace(0, 1, 16, dtype=np.float32)[None, :, None], 3, 2)
    >>> resolve_channels(grey_rgb), resolve_channels(grey_rgb, "rgb")
    ('gray', 'rgb')
    """
    from .io import NativeImage

    choose(dict.fromkeys(CHANNELS), channels, "channels")
    if channels != "auto":
        return channels
    # a scan kept in its file's dtype is judged by the image it reads as, measured on its
    # stored samples, never converted whole
    if not isinstance(image, NativeImage):
        image = np.asarray(image)
    shape = image.shape
    if len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        return "gray"
    small = _shrunk(image)
    if small.size and (small[..., 0] == small[..., 1]).all() \
            and (small[..., 1] == small[..., 2]).all():
        # R = G = B everywhere (a grey drawing saved as RGB, losslessly): no pixel has
        # any chroma, which is the rule's answer without converting to OKLab
        return "gray"
    return "rgb" if colourfulness(small).is_colour else "gray"
