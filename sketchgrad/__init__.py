"""sketchgrad: scanned hand-drawn artwork to gradient fields, colour and relief.

The public names below are imported from their modules when first used
(PEP 562), so ``import sketchgrad`` (and the command, until it runs) loads
neither NumPy nor OpenCV.

Examples
--------
>>> import numpy as np, sketchgrad
>>> y, x = np.mgrid[0:16, 0:16].astype(np.float32)
>>> result = sketchgrad.process(x / 15)
>>> result.hsv.shape
(16, 16, 3)
"""

import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

if _TYPE_CHECKING:  # what the names are, for type checkers and readers
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

#: Where each public name is defined: module -> names (imported on first use).
_SOURCES = {
    "batch": ("Outcome", "run_batch"),
    "channels": ("CHANNELS", "ColourMeasure", "colourfulness", "luma", "resolve_channels"),
    "color": ("COLOR_SPACE_NOTES", "COLOR_SPACES", "RAMPS", "ColorRamp", "apply_color",
              "color_wheel", "gradient_map", "hsv_color", "hsv_remap", "hsv_to_rgb",
              "stroke_color"),
    "compare": ("render_comparison",),
    "denoise": ("DENOISE_METHODS", "denoise", "estimate_noise", "flatten_background",
                "register_denoiser"),
    "errors": ("OutputError", "ParameterError", "ScanError", "SketchgradError"),
    "gradients": ("OPERATORS", "GradientField", "gradient_field", "register_operator"),
    "io": ("DEFAULT_MAX_PIXELS", "Scan", "ScanMeta", "as_image", "load_scan"),
    "normalize": ("NORMALIZE_METHODS", "Normalizer", "normalize", "register_normalization",
                  "to_unit"),
    "pipeline": ("PipelineConfig", "Result", "fit_normalizer", "process", "process_to_files"),
    "png": ("PngWriter", "save_png"),
    "preview": ("preview_png_bytes", "render_preview"),
    "provenance": ("read_provenance",),
    "sketch": ("colour_relief", "relief", "sketch_effect"),
    "strokes": ("StrokeDirections", "flow_picture", "plot_rose", "stroke_directions"),
}
_HOME = {name: module for module, names in _SOURCES.items() for name in names}

#: The submodules whose names are also functions here: the function is the attribute.
_SHADOWED = frozenset(name for name in _HOME if name in _SOURCES)

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


def __getattr__(name: str) -> _Any:
    """A public name, imported from its module on first use; or a submodule (``sketchgrad.io``)."""
    home = _HOME.get(name)
    if home is not None:
        value = getattr(_importlib.import_module(f".{home}", __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    try:
        return _importlib.import_module(f".{name}", __name__)  # binds it here as it loads
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise  # a module it imports is missing: that is the error to see
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """The package's module, whose ``denoise`` and ``normalize`` are always the functions.

    Importing a submodule binds it as an attribute of its package; for the two
    submodules named as functions here that binding is declined (they stay in
    ``sys.modules``), and ``__getattr__`` gives the function, whatever is
    imported when.
    """

    def __setattr__(self, name: str, value: _Any) -> None:
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
