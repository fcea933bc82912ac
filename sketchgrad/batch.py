"""Running the pipeline over many scans, one outcome per input."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OutputError, SketchgradError
from .pipeline import PipelineConfig, process

__all__ = ["Outcome", "run_batch", "find_inputs", "IMAGE_SUFFIXES"]

#: File name endings taken as images when a folder is searched (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif")


@dataclass
class Outcome:
    """What happened to one input."""

    input: str
    status: str  # "ok" | "skipped" | "failed"
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def find_inputs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand files and folders (searched recursively) into a sorted list of inputs."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(f for f in p.rglob("*")
                                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(p)
    return found


def _provenance(config: PipelineConfig) -> dict[str, str]:
    from . import __version__

    return {"Software": f"sketchgrad {__version__}",
            "sketchgrad": json.dumps({"version": __version__, "config": config.to_dict()})}


def process_file(path: Path, outdir: Path, config: PipelineConfig, *,
                 compression: int = 1) -> list[str]:
    """Load one scan, run the pipeline and write the requested outputs."""
    from .io import load_scan
    from .png import save_png
    from .preview import render_preview

    result = process(load_scan(path), config)
    text = _provenance(config)
    written = []
    for kind in config.outputs:
        dest = outdir / f"{path.stem}.{kind}.png"
        if kind == "magnitude":
            save_png(dest, result.normalized, bit_depth=16, text=text, compression=compression)
        elif kind == "hsv":
            save_png(dest, result.hsv, text=text, compression=compression)
        elif kind == "sketch":
            save_png(dest, result.sketch, text=text, compression=compression)
        else:
            render_preview(result, dest)
        written.append(str(dest))
    return written


def run_batch(inputs: Iterable[str | os.PathLike], outdir: str | os.PathLike,
              config: PipelineConfig | None = None, *, compression: int = 1,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Process many scans into ``outdir``; a failed file does not stop the others.

    Returns
    -------
    list of Outcome
        One per input, in input order.
    """
    config = config or PipelineConfig()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: output folder is a file; choose a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create output folder ({exc.strerror})") from None
    outcomes = []
    for path in find_inputs(inputs):
        start = time.perf_counter()
        try:
            written = process_file(path, outdir, config, compression=compression)
            outcome = Outcome(str(path), "ok", written)
        except SketchgradError as exc:
            outcome = Outcome(str(path), "failed", error=str(exc))
        outcome.seconds = round(time.perf_counter() - start, 3)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    return outcomes
