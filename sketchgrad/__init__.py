"""sketchgrad: scanned hand-drawn artwork to gradient fields, colour and relief.

Examples
--------
>>> import numpy as np, sketchgrad
>>> y, x = np.mgrid[0:16, 0:16].astype(np.float32)
>>> result = sketchgrad.process(x / 15)
>>> result.hsv.shape
(16, 16, 3)
"""

from . import data
from .batch import Outcome, run_batch
from .channels import CHANNELS, ColourMeasure, colourfulness, luma, resolve_channels
from .color import (
    COLOR_SPACE_NOTES,
    COLOR_SPACES,
    RAMPS,
    ColorRamp,
    apply_color,
    color_wheel,
    gradient_map,
    hsv_color,
    hsv_remap,
    hsv_to_rgb,
    stroke_color,
)
from .compare import render_comparison
from .denoise import (
    DENOISE_METHODS,
    denoise,
    estimate_noise,
    flatten_background,
    register_denoiser,
)
from .errors import OutputError, ParameterError, ScanError, SketchgradError
from .gradients import OPERATORS, GradientField, gradient_field, register_operator
from .io import DEFAULT_MAX_PIXELS, Scan, ScanMeta, as_image, load_scan
from .normalize import (
    NORMALIZE_METHODS,
    Normalizer,
    normalize,
    register_normalization,
    to_unit,
)
from .pipeline import PipelineConfig, Result, fit_normalizer, process, process_to_files
from .png import PngWriter, save_png
from .preview import preview_png_bytes, render_preview
from .provenance import read_provenance
from .sketch import colour_relief, relief, sketch_effect
from .strokes import StrokeDirections, flow_picture, plot_rose, stroke_directions

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "data",
    "ColorRamp",
    "Outcome",
    "run_batch",
    "read_provenance",
    "apply_color",
    "as_image",
    "CHANNELS",
    "ColourMeasure",
    "colourfulness",
    "colour_relief",
    "gradient_map",
    "luma",
    "resolve_channels",
    "stroke_color",
    "COLOR_SPACES",
    "COLOR_SPACE_NOTES",
    "RAMPS",
    "color_wheel",
    "render_comparison",
    "preview_png_bytes",
    "DENOISE_METHODS",
    "DEFAULT_MAX_PIXELS",
    "flatten_background",
    "GradientField",
    "NORMALIZE_METHODS",
    "Normalizer",
    "OPERATORS",
    "OutputError",
    "ParameterError",
    "PipelineConfig",
    "Result",
    "Scan",
    "ScanError",
    "ScanMeta",
    "SketchgradError",
    "denoise",
    "estimate_noise",
    "gradient_field",
    "hsv_color",
    "hsv_remap",
    "hsv_to_rgb",
    "load_scan",
    "normalize",
    "process",
    "process_to_files",
    "fit_normalizer",
    "PngWriter",
    "render_preview",
    "save_png",
    "relief",
    "register_denoiser",
    "register_operator",
    "register_normalization",
    "sketch_effect",
    "StrokeDirections",
    "stroke_directions",
    "flow_picture",
    "plot_rose",
    "to_unit",
]
