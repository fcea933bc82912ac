"""Provenance of the outputs and the skip rule: what each PNG records and when a re-run can skip it.

Every PNG sketchgrad writes carries a ``sketchgrad`` text chunk holding JSON::

    {"version": "0.1.0", "config": {...PipelineConfig...}, "normalize_scope": "image",
     "channels_used": "rgb",                          # what config["channels"] chose
     "normalizer": {...the batch's merged statistics...},        # batch scope only
     "input_statistics": {...this input's own statistics...},    # batch scope, when small
     "strength_used": 0.62,      # the denoise strength the run used (automatic: resolved)
     "strokes": {"dominant": [{"angle": 30.0, "share": 0.5}, ...],  # outputs flow, preview
                 "overall_coherence": 0.41, "sigma": 3.0, "operator": "scharr"}}

The skip rule: an input is skipped when each of its outputs exists, is newer
than the input, and records the same ``config``, ``normalize_scope`` and
``normalizer`` as this run would. (``channels_used`` is not compared: it
follows from the input and ``config["channels"]``, and a changed input is
newer than its outputs; nor is ``strength_used``, a result of the run, not a
setting.) An output that exists but carries no record
was not written by sketchgrad and is never replaced without ``--overwrite``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from PIL.PngImagePlugin import PngImageFile

    from .normalize import Normalizer
    from .pipeline import PipelineConfig

__all__ = ["PROVENANCE_KEY", "KEEP_STATISTICS", "provenance_text", "with_strength_used",
           "read_provenance",
           "normalizer_record", "expected_record", "record_channels", "output_records",
           "up_to_date", "foreign_output", "kept_statistics", "output_provenance",
           "add_to_record"]

#: Name of the PNG text chunk that holds the provenance JSON.
PROVENANCE_KEY = "sketchgrad"

#: Largest JSON of one input's own statistics kept in its outputs' provenance (minmax,
#: zscore, ... take about 200 bytes; the histograms of robust / equalize are not kept).
KEEP_STATISTICS = 8192


def provenance_text(config: PipelineConfig, *, normalize_scope: str = "image",
                    normalizer_state: object = None,
                    input_statistics: dict[str, Any] | None = None,
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
        a result, not a setting: the skip rule does not compare it.

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

    record: dict[str, Any] = {"version": __version__, "config": config.to_dict(),
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


def add_to_record(text: dict[str, str], key: str, value: object) -> dict[str, str]:
    """The text chunks with ``key: value`` added to their provenance record.

    Figures known only once a run has measured the scan (the stroke
    directions) join the record here; text without a sketchgrad record (a
    caller's own chunks) is returned unchanged. The skip rule does not look
    at such figures.

    Examples
    --------
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> text = add_to_record(provenance_text(PipelineConfig()), "strokes", {"dominant": []})
    >>> json.loads(text["sketchgrad"])["strokes"]
    {'dominant': []}
    >>> add_to_record({"Author": "me"}, "strokes", {})
    {'Author': 'me'}
    """
    raw = text.get(PROVENANCE_KEY)
    try:
        record = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        return dict(text)
    record[key] = value
    return {**text, PROVENANCE_KEY: json.dumps(record, sort_keys=True)}


def record_channels(text: dict[str, str], channels_used: str) -> dict[str, str]:
    """Add what the scan was processed in (``"gray"`` or ``"rgb"``) to the provenance record.

    The record keeps the setting as asked (``config["channels"]``, e.g.
    ``"auto"``) and gains ``channels_used``, what it gave for this scan. Text
    without a sketchgrad record (a JSON object with a ``config``) is returned
    as it is: a caller's own chunks are not changed.

    Examples
    --------
    >>> from sketchgrad.pipeline import PipelineConfig
    >>> text = record_channels(provenance_text(PipelineConfig()), "rgb")
    >>> record = json.loads(text["sketchgrad"])
    >>> record["config"]["channels"], record["channels_used"]
    ('auto', 'rgb')
    """
    try:
        record = json.loads(text[PROVENANCE_KEY])
    except (KeyError, TypeError, ValueError):
        return dict(text)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return dict(text)
    record["channels_used"] = channels_used
    return {**text, PROVENANCE_KEY: json.dumps(record, sort_keys=True)}


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any] | None:
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
                # text chunks after the image data
                raw = cast("PngImageFile", im).text.get(PROVENANCE_KEY)
    except (OSError, SyntaxError, ValueError):
        return None
    try:
        record = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return None
    return record


def _jsonable(value: object) -> object:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def normalizer_record(normalizer: Normalizer | None) -> dict[str, Any] | None:
    """A small JSON record of a shared scale's fitted statistics, for provenance.

    The statistics are readable (``count``, ``min``, ``max``, ...); the
    fingerprint (SHA-256 of the full state, histograms included) tells
    whether two batches' scales are the same (the skip rule compares it).
    ``None`` for no normalizer.

    Examples
    --------
    >>> import numpy as np
    >>> from sketchgrad.normalize import Normalizer
    >>> record = normalizer_record(Normalizer("minmax").fit(np.array([0.0, 2.0])))
    >>> record["method"], record["statistics"]["max"], len(record["fingerprint"])
    ('minmax', 2.0, 64)
    """
    if normalizer is None:
        return None
    import hashlib  # (OpenSSL's start-up: only runs with a shared scale need it)

    full = json.dumps(normalizer.to_dict(), sort_keys=True, default=_jsonable)
    record = {"method": normalizer.method,
              "statistics": normalizer.statistics,
              "fingerprint": hashlib.sha256(full.encode()).hexdigest()}
    return cast("dict[str, Any]", json.loads(json.dumps(record, default=_jsonable)))


def output_provenance(config: PipelineConfig, scope: str, state: object,
                      own: Normalizer | None = None) -> dict[str, str]:
    """The text chunks of one input's outputs: the run's record plus, when small, its statistics."""
    kept = None
    if own is not None:
        kept = json.loads(json.dumps(own.to_dict(), default=_jsonable))
        if len(json.dumps(kept)) > KEEP_STATISTICS:
            kept = None
    return provenance_text(config, normalize_scope=scope, normalizer_state=state,
                           input_statistics=kept)


def expected_record(config: PipelineConfig, scope: str, state: object) -> dict[str, Any]:
    """The provenance record this run's outputs will carry (compared by the skip rule)."""
    text = provenance_text(config, normalize_scope=scope, normalizer_state=state)
    return cast("dict[str, Any]", json.loads(text[PROVENANCE_KEY]))


def _newer_than_input(source: Path, dests: list[Path]) -> bool:
    """Whether every output exists and was written after the input last changed."""
    try:
        newest_input = source.stat().st_mtime_ns
        return all(dest.stat().st_mtime_ns >= newest_input for dest in dests)
    except OSError:
        return False


def output_records(dests: list[Path]) -> list[dict[str, Any] | None]:
    """Each output's provenance record (None: missing, not a file, or not ours), read once."""
    return [read_provenance(dest) if dest.is_file() else None for dest in dests]


def up_to_date(source: Path, dests: list[Path], records: list[dict[str, Any] | None],
               expected: dict[str, Any]) -> bool:
    """The skip rule: every output newer than the input and made with the same settings."""
    if not _newer_than_input(source, dests):
        return False
    return all(record is not None
               and all(record.get(k) == expected.get(k)
                       for k in ("config", "normalize_scope", "normalizer"))
               for record in records)


def foreign_output(dests: list[Path], records: list[dict[str, Any] | None]) -> Path | None:
    """The first existing output that sketchgrad did not write, if any."""
    for dest, record in zip(dests, records, strict=True):
        if record is None and dest.exists():
            return dest
    return None


def kept_statistics(source: Path, dests: list[Path], record: dict[str, Any] | None,
                    config: PipelineConfig) -> Normalizer | None:
    """The input's statistics as its up-to-date outputs recorded them, else None.

    ``record`` is the first output's provenance; with it a batch-scope re-run
    need not measure an unchanged input again.
    """
    from .errors import SketchgradError
    from .normalize import Normalizer

    if not _newer_than_input(source, dests):
        return None
    if (record is None or record.get("normalize_scope") != "batch"
            or record.get("config") != expected_record(config, "batch", None)["config"]
            or not isinstance(record.get("input_statistics"), dict)):
        return None
    try:
        kept = Normalizer.from_dict(record["input_statistics"])
    except (SketchgradError, TypeError, ValueError):
        return None
    return kept if kept.method == config.normalize else None
