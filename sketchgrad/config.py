"""Run settings: TOML config files, their checks, merging with flags and ``--config-from``.

A run's settings are the pipeline settings (:class:`~sketchgrad.pipeline.PipelineConfig`)
plus how the batch runs (workers, scope of normalization, ...). They come, each
later layer overriding the earlier ones, from the defaults, a result PNG's
provenance (``--config-from``, read by :mod:`sketchgrad.provenance`), a TOML file
(``--config``) and the command's flags.
"""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

from .errors import ParameterError, ScanError
from .provenance import (  # re-exported: they lived here
    PROVENANCE_KEY,
    normalizer_record,
    provenance_text,
    read_provenance,
)

__all__ = [
    "PIPELINE_KEYS",
    "RUN_KEYS",
    "PROVENANCE_KEY",
    "load_config_file",
    "check_settings",
    "merge_settings",
    "read_provenance",
    "settings_from_png",
    "provenance_text",
    "normalizer_record",
]

def _pipeline_keys() -> tuple[str, ...]:
    from .pipeline import PipelineConfig

    return tuple(f.name for f in fields(PipelineConfig))


#: Settings that go into :class:`~sketchgrad.pipeline.PipelineConfig`.
PIPELINE_KEYS: tuple[str, ...] = _pipeline_keys()

#: Settings of the run itself, with the type each must have in a config file.
RUN_KEYS: dict[str, tuple[type, ...]] = {
    "outdir": (str,),
    "normalize_scope": (str,),
    "workers": (int,),
    "overwrite": (bool,),
    "json": (bool,),
    "quiet": (bool,),
    "debug": (bool,),
    "max_pixels": (int,),
    "png_compression": (int,),
    "scheduler": (str,),
}

_PIPELINE_TYPES: dict[str, tuple[type, ...]] = {
    "denoise": (str,),
    "strength": (int, float),
    "operator": (str,),
    "normalize": (str,),
    "color": (str, dict),
    "color_target": (str,),
    "flatten_background": (bool, str),
    "channels": (str,),
    "keep_hue": (bool,),
    "tile_size": (int,),
    "outputs": (list, str),
    "axial": (bool,),
}


def _type_names(types: tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list of strings", dict: "a table (a ramp: stops = [...], space = ...)"}
    return " or ".join(names[t] for t in types)


def check_settings(settings: dict, source: str) -> dict:
    """Validate setting names and value types; return them with ``-`` spelled ``_``.

    Parameters
    ----------
    settings : dict
        Setting name -> value, e.g. from a TOML file.
    source : str
        Where the settings came from, used in error messages.

    Returns
    -------
    dict
        The settings with canonical names; ``outputs`` as a tuple of str.

    Raises
    ------
    ParameterError
        For unknown names (all of them named) or values of the wrong type.

    Examples
    --------
    >>> check_settings({"normalize-scope": "batch", "outputs": "hsv, sketch"}, "x.toml")
    {'normalize_scope': 'batch', 'outputs': ('hsv', 'sketch')}
    >>> check_settings({"denoiser": "median"}, "x.toml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sketchgrad.errors.ParameterError: x.toml: unknown setting(s) 'denoiser'; valid settings: ...
    """
    types = {**_PIPELINE_TYPES, **RUN_KEYS}
    # a field added to PipelineConfig later is still accepted, without a type check
    types.update({k: () for k in PIPELINE_KEYS if k not in types})
    canonical = {str(k).replace("-", "_"): v for k, v in settings.items()}
    unknown = sorted(k for k in settings if str(k).replace("-", "_") not in types)
    if unknown:
        raise ParameterError(f"{source}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                             f"valid settings: {', '.join(sorted(types))}")
    out = {}
    for key, value in canonical.items():
        allowed = types[key]
        if value is None and key in ("strength", "tile_size", "max_pixels", "scheduler"):
            out[key] = value
            continue
        ok = not allowed or isinstance(value, allowed)
        if isinstance(value, bool) and allowed and bool not in allowed:
            ok = False  # TOML true/false is not a number
        if not ok:
            raise ParameterError(f"{source}: {key} = {value!r} must be {_type_names(allowed)}")
        if key == "outputs":
            items = value.split(",") if isinstance(value, str) else value
            if not all(isinstance(v, str) for v in items):
                raise ParameterError(f"{source}: outputs = {value!r} must be a list of strings")
            value = tuple(v.strip() for v in items if v.strip())
        out[key] = value
    return out


def load_config_file(path: str | os.PathLike) -> dict:
    r"""Read run settings from a TOML file.

    Keys are the long flag names, with ``-`` or ``_``: ``denoise = "median"``,
    ``normalize_scope = "batch"``, ``outputs = ["magnitude", "hsv"]``, ``workers = 2``.

    Parameters
    ----------
    path : str or path-like
        The TOML file.

    Returns
    -------
    dict
        Checked settings (see :func:`check_settings`).

    Raises
    ------
    ParameterError
        If the file cannot be read, is not valid TOML, or has unknown keys or
        values of the wrong type.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "run.toml"
    >>> _ = p.write_text('denoise = "median"\nworkers = 2\n')
    >>> load_config_file(p)
    {'denoise': 'median', 'workers': 2}
    """
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read the config file ({exc.strerror or exc})") \
            from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not a valid TOML file ({exc})") from None
    return check_settings(data, str(path))


def merge_settings(*layers: dict) -> dict:
    """Merge setting dicts; later layers win; ``None`` values do not override.

    Examples
    --------
    >>> merge_settings({"denoise": "median", "workers": 2}, {"workers": None, "quiet": True})
    {'denoise': 'median', 'workers': 2, 'quiet': True}
    """
    merged: dict = {}
    for layer in layers:
        merged.update({k: v for k, v in layer.items() if v is not None})
    return merged


def settings_from_png(path: str | os.PathLike) -> dict:
    """The settings a sketchgrad PNG was made with (for ``--config-from``).

    Parameters
    ----------
    path : str or path-like
        A PNG written by sketchgrad.

    Returns
    -------
    dict
        Pipeline settings plus ``normalize_scope``, checked as a config file's.

    Raises
    ------
    ScanError
        If the file is missing or carries no sketchgrad provenance.
    ParameterError
        If the recorded settings are not valid for this version.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> from sketchgrad.png import save_png
    >>> p = save_png(tempfile.mkdtemp() + "/a.png", np.zeros((2, 2), np.float32),
    ...              text=provenance_text(PipelineConfig(denoise="median")))
    >>> settings_from_png(p)["denoise"]
    'median'
    """
    if not Path(path).is_file():
        raise ScanError(f"{path}: no such file; give a PNG that sketchgrad wrote")
    record = read_provenance(path)
    if record is None:
        raise ScanError(f"{path}: has no sketchgrad provenance; give a PNG that sketchgrad "
                        "wrote (its outputs carry the settings they were made with)")
    settings = dict(record["config"])
    if "normalize_scope" in record:
        settings["normalize_scope"] = record["normalize_scope"]
    return check_settings(settings, f"{path} (recorded settings)")
