"""The whole chain: scan -> denoise -> gradients -> normalize -> colour / relief."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from .denoise import DENOISE_METHODS, denoise
from .errors import ParameterError, choose
from .gradients import OPERATORS, GradientField, gradient_field
from .io import Scan
from .normalize import NORMALIZE_METHODS, normalize, to_unit

__all__ = ["PipelineConfig", "Result", "process", "OUTPUT_KINDS"]

#: The outputs the pipeline can produce, in the order they are written.
OUTPUT_KINDS = ("magnitude", "hsv", "sketch", "preview")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of one pipeline run.

    Attributes
    ----------
    denoise : str
        A key of ``DENOISE_METHODS``.
    strength : float or None
        Denoise strength (``None`` estimates it).
    operator : str
        A key of ``OPERATORS``.
    normalize : str
        A key of ``NORMALIZE_METHODS``.
    color : str
        How the ``hsv`` output is coloured: ``"hsv"`` (hue = direction, value =
        strength), a colour-ramp spec ``"ramp:#1b1b3a,#f0a030,#fffbe6"`` or a
        matplotlib colormap name such as ``"viridis"``.
    color_target : {"magnitude", "tone"}
        What a ramp colours: the normalized gradient magnitude, or the drawing's
        tone (a gradient map: ink -> first stop, paper -> last stop).
    flatten_background : bool
        Divide out a large-scale background estimate (uneven lighting) before denoising.
    tile_size : int or None
        Process in tiles of this side (0 = never tile; None = tile large images).
    outputs : tuple of str
        Which of ``OUTPUT_KINDS`` to compute.
    """

    denoise: str = "gaussian"
    strength: float | None = None
    operator: str = "sobel"
    normalize: str = "minmax"
    color: str = "hsv"
    color_target: str = "magnitude"
    flatten_background: bool = False
    tile_size: int | None = None
    outputs: tuple[str, ...] = OUTPUT_KINDS

    def __post_init__(self) -> None:
        choose(DENOISE_METHODS, self.denoise, "denoise")
        choose(OPERATORS, self.operator, "operator")
        choose(NORMALIZE_METHODS, self.normalize, "normalize")
        outputs = tuple(self.outputs)
        unknown = [o for o in outputs if o not in OUTPUT_KINDS]
        if unknown or not outputs:
            raise ParameterError(f"outputs={list(outputs)!r}: choose one or more of "
                                 f"{', '.join(OUTPUT_KINDS)}")
        object.__setattr__(self, "outputs", outputs)

    def to_dict(self) -> dict:
        """Return the settings as plain JSON-able values."""
        d = asdict(self)
        d["outputs"] = list(self.outputs)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> PipelineConfig:
        """Build a config from a dict; unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ParameterError(f"unknown setting(s) {', '.join(unknown)}; valid settings: "
                                 f"{', '.join(sorted(known))}")
        return cls(**data)


@dataclass
class Result:
    """What a pipeline run computed; stages not asked for are ``None``."""

    image: np.ndarray
    config: PipelineConfig
    denoised: np.ndarray | None = None
    field: GradientField | None = None
    normalized: np.ndarray | None = None
    hsv: np.ndarray | None = None
    sketch: np.ndarray | None = None
    meta: object = None


def process(scan: Scan | np.ndarray, config: PipelineConfig | None = None, *,
            normalizer=None) -> Result:
    """Run the pipeline on a scan or a float image in [0, 1].

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) float image.
    config : PipelineConfig, optional
        Settings; the defaults compute every output.
    normalizer : Normalizer, optional
        Already-fitted statistics for the magnitude (a whole batch's scale);
        by default each image is normalized on its own.

    Returns
    -------
    Result
        The computed stages.

    Examples
    --------
    >>> y, x = np.mgrid[0:8, 0:8].astype(np.float32)
    >>> res = process(x / 7, PipelineConfig(denoise="none", outputs=("hsv",)))
    >>> res.hsv.shape, res.sketch is None
    ((8, 8, 3), True)
    """
    from .color import apply_color
    from .sketch import sketch_effect

    config = config or PipelineConfig()
    meta = scan.meta if isinstance(scan, Scan) else None
    image = scan.image if isinstance(scan, Scan) else np.asarray(scan, dtype=np.float32)
    if image.ndim != 2:
        raise ParameterError(f"image of shape {image.shape} is not a grey (H, W) image; "
                             "load the scan with mode='gray'")
    res = Result(image=image, config=config, meta=meta)
    if config.flatten_background:
        from .denoise import flatten_background

        image = flatten_background(image)
    res.denoised = denoise(image, config.denoise, strength=config.strength)
    res.field = gradient_field(res.denoised, config.operator)
    wants = set(config.outputs)
    if normalizer is not None:
        normalized = normalizer.transform(res.field.magnitude)
    else:
        normalized = normalize(res.field.magnitude, config.normalize)
    res.normalized = to_unit(normalized, config.normalize)
    if wants & {"hsv", "preview"}:
        res.hsv = apply_color(res.field, res.normalized, res.denoised,
                              color=config.color, target=config.color_target)
    if wants & {"sketch", "preview"}:
        res.sketch = sketch_effect(res.denoised)
    return res
