"""Run settings: TOML config files, merging with flags, provenance read back.

A run's settings are the pipeline settings (:class:`~sketchgrad.pipeline.PipelineConfig`)
plus how the batch runs (workers, scope of normalization, ...). They come, each
later layer overriding the earlier ones, from the defaults, a result PNG's
provenance (``--config-from``), a TOML file (``--config``) and the command's flags.

Every PNG sketchgrad writes carries a ``sketchgrad`` text chunk holding JSON::

    {"version": "0.1.0", "config": {...PipelineConfig...}, "normalize_scope": "image"}
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path

from .errors import ParameterError, ScanError

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
    "with_strength_used",
    "normalizer_record",
]

#: Name of the PNG text chunk that holds the provenance JSON.
PROVENANCE_KEY = "sketchgrad"


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
    "flatten_background": (bool,),
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


def provenance_text(config, *, normalize_scope: str = "image",
                    normalizer_state: object = None,
                    input_statistics: dict | None = None,
                    strength_used: float | None = None) -> dict[str, str]:
    """The PNG text chunks recording how an output was made.

    Parameters
    ----------
    config : PipelineConfig
        The pipeline settings.
    normalize_scope : {"image", "batch"}
        Whether the magnitude scale came from the image or the whole batch.
    normalizer_state : JSON-able, optional
        The batch's merged statistics (``normalize_scope="batch"``).
    input_statistics : dict, optional
        This input's own statistics (``Normalizer.to_dict()``), so that a
        re-run need not measure an unchanged input again.
    strength_used : float, optional
        The denoise strength the run used (the automatic estimate resolved),
        recorded as ``strength_used`` beside the config's ``strength``. It is
        a result, not a setting: the skip rule of batch runs does not compare it.

    Returns
    -------
    dict
        ``{"Software": "sketchgrad X", "sketchgrad": "<json>"}``.

    Examples
    --------
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> text = provenance_text(PipelineConfig(denoise="none"))
    >>> json.loads(text["sketchgrad"])["config"]["denoise"]
    'none'
    """
    from . import __version__

    record = {"version": __version__, "config": config.to_dict(),
              "normalize_scope": normalize_scope}
    if normalizer_state is not None:
        record["normalizer"] = normalizer_state
    if input_statistics is not None:
        record["input_statistics"] = input_statistics
    if strength_used is not None:
        record["strength_used"] = float(strength_used)
    return {"Software": f"sketchgrad {__version__}",
            PROVENANCE_KEY: json.dumps(record, sort_keys=True)}


def with_strength_used(text: dict[str, str], strength_used: float | None) -> dict[str, str]:
    """``text`` with the denoise strength a run used added to its provenance record.

    The strength is known only once the scan is read (the automatic estimate),
    after the record was made; chunks without a sketchgrad record are
    returned unchanged, as is everything when ``strength_used`` is None.

    Examples
    --------
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> text = with_strength_used(provenance_text(PipelineConfig()), 0.5)
    >>> record = json.loads(text["sketchgrad"])
    >>> record["config"]["strength"], record["strength_used"]
    (None, 0.5)
    """
    text = dict(text)
    raw = text.get(PROVENANCE_KEY)
    if strength_used is None or raw is None:
        return text
    try:
        record = json.loads(raw)
    except ValueError:
        return text
    if not isinstance(record, dict):
        return text
    record["strength_used"] = float(strength_used)
    text[PROVENANCE_KEY] = json.dumps(record, sort_keys=True)
    return text


def normalizer_record(normalizer) -> dict | None:
    """A small JSON record of a shared scale's fitted statistics, for provenance.

    The statistics are readable (``count``, ``min``, ``max``, ...); the
    fingerprint (SHA-256 of the full state, histograms included) tells
    whether two batches' scales are the same.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchgrad.normalize import Normalizer
    >>> record = normalizer_record(Normalizer("minmax").fit(np.array([0.0, 2.0])))
    >>> record["method"], record["statistics"]["max"], len(record["fingerprint"])
    ('minmax', 2.0, 64)
    """
    import hashlib

    if normalizer is None:
        return None
    full = json.dumps(normalizer.to_dict(), sort_keys=True, default=_jsonable)
    record = {"method": normalizer.method,
              "statistics": normalizer.statistics,
              "fingerprint": hashlib.sha256(full.encode()).hexdigest()}
    return json.loads(json.dumps(record, default=_jsonable))


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def read_provenance(path: str | os.PathLike) -> dict | None:
    """Read the provenance record of a PNG sketchgrad wrote.

    Parameters
    ----------
    path : str or path-like
        A PNG.

    Returns
    -------
    dict or None
        The decoded record, or ``None`` when the file is not a PNG or has no
        (valid) sketchgrad text chunk.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> from sketchgrad.png import save_png
    >>> p = save_png(tempfile.mkdtemp() + "/a.png", np.zeros((2, 2), np.float32),
    ...              text=provenance_text(PipelineConfig(operator="scharr")))
    >>> read_provenance(p)["config"]["operator"]
    'scharr'
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return None
            raw = im.info.get(PROVENANCE_KEY)
            if raw is None:
                raw = im.text.get(PROVENANCE_KEY)  # text chunks after the image data
    except (OSError, SyntaxError, ValueError):
        return None
    try:
        record = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return None
    return record


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
