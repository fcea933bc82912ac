"""Measure how well each normalization exposes real drawings: the table behind the default.

For every drawing in a folder of real scans (default ``../shared/images`` next to the
repository; read only), in ``sample_images/`` and for generated pages of the kinds not
there (``tests/pages.py``: faint pencil, dense ink, phone photo, cold-press watercolour,
1-bit), run the pipeline as the command does (grey, the default denoising and
background rule) and colour the gradients with each candidate normalization. For each
it prints, as a markdown table, two numbers of the hsv output's brightness (HSV value,
``max(R, G, B)``):

- ``strokes``: the median over the strongest 5 % of gradient pixels (target >= 0.55);
- ``paper``: the median over the weakest 50 % (target <= 0.10).

A cell reads ``strokes / paper``; a ``!`` marks a miss. Also printed per drawing: the
automatic denoise strength, the noise estimate and the background unevenness.

Usage::

    PYTHONPATH=. python scripts/measure_defaults.py [IMAGES_FOLDER ...]
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sketchgrad import PipelineConfig, load_scan, process  # noqa: E402
from sketchgrad.color import ZERO_GRADIENT, hsv_remap  # noqa: E402
from sketchgrad.denoise import background_unevenness, estimate_noise  # noqa: E402
from sketchgrad.normalize import normalize, to_unit  # noqa: E402

#: Candidate normalizations: label -> (method, parameters).
CANDIDATES: dict[str, tuple[str, dict]] = {
    "minmax": ("minmax", {}),
    "robust 1-99": ("robust", {}),
    "robust 0-99.9": ("robust", {"lower": 0, "upper": 99.9}),
    "robust 50-99": ("robust", {"lower": 50, "upper": 99}),
    "gamma 0.5": ("gamma", {}),
    "log 0.01": ("log", {"scale": 0.01}),
    "equalize": ("equalize", {}),
    "zscore": ("zscore", {}),
    "exposure black=1": ("exposure", {"black": 1.0}),
    "exposure": ("exposure", {}),
}

STROKES_TARGET, PAPER_TARGET = 0.55, 0.10
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".gif"}


def brightness_stats(magnitude: np.ndarray, value: np.ndarray) -> tuple[float, float]:
    """(median value over the strongest 5 % of magnitudes, over the weakest 50 %)."""
    m = magnitude.reshape(-1)
    v = value.reshape(-1)
    n = m.size
    top = max(1, math.ceil(0.05 * n))
    strong = np.argpartition(m, n - top)[n - top:]
    weak = np.argpartition(m, n // 2)[:max(1, n // 2)]
    return float(np.median(v[strong])), float(np.median(v[weak]))


def measure(image: np.ndarray, meta=None) -> dict:
    """Run the default pipeline once, then colour with every candidate; returns the row."""
    from sketchgrad.io import Scan

    scan = Scan(image, meta) if meta is not None else image
    config = PipelineConfig(outputs=("hsv",))
    result = process(scan, config)
    magnitude = result.field.magnitude
    floored = np.where(magnitude <= np.float32(ZERO_GRADIENT), np.float32(0), magnitude)
    row = {}
    for label, (method, params) in CANDIDATES.items():
        unit = to_unit(normalize(floored, method, **params), method, copy=False)
        hsv = hsv_remap(result.field, strength=unit)
        if label == config.normalize:  # the default: the pipeline's own hsv output
            if not np.allclose(hsv, result.hsv, atol=1e-6):
                raise RuntimeError("the default's hsv differs from the pipeline's")
        row[label] = brightness_stats(magnitude, hsv.max(axis=2))
    row["_uneven"] = background_unevenness(image)
    row["_noise"] = estimate_noise(image) if meta is None else \
        estimate_noise(image, bit_depth=meta.bit_depth, lossy=meta.format == "JPEG")
    return row


def drawings(folders: list[Path]):
    """(name, image, meta) for each scan in the folders, then each generated page."""
    import pages

    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                scan = load_scan(path)
                yield path.name, scan.image, scan.meta
    for name, build in pages.PAGES.items():
        yield name, build(), None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folders = [Path(a) for a in argv] or [ROOT.parent / "shared" / "images"]
    for folder in folders:
        if not folder.is_dir():
            print(f"{folder} is not a folder of drawings: give the folder as an argument",
                  file=sys.stderr)
            return 2
    folders.append(ROOT / "sample_images")
    labels = list(CANDIDATES)
    print("| drawing | uneven | noise | " + " | ".join(labels) + " |")
    print("|---|---|---|" + "---|" * len(labels))
    misses = dict.fromkeys(labels, 0)
    for name, image, meta in drawings(folders):
        start = time.perf_counter()
        row = measure(image, meta)
        cells = []
        for label in labels:
            strokes, paper = row[label]
            bad = strokes < STROKES_TARGET or paper > PAPER_TARGET
            misses[label] += bad
            cells.append(f"{strokes:.2f} / {paper:.2f}{' !' if bad else ''}")
        print(f"| {name} | {row['_uneven']:.3f} | {row['_noise']:.4f} | " + " | ".join(cells)
              + " |", flush=True)
        print(f"  ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    print("| **drawings missing a target** | | | "
          + " | ".join(str(misses[label]) for label in labels) + " |")
    print()
    grain_table()
    return 0


def grain_table() -> None:
    """Cold-press grain of growing amplitude: does the grain stay dark, the washes bright?

    ``grain`` is the 90th percentile of the brightness over the paper pixels
    (where the same page without grain has no gradient above 0.002),
    ``washes and strokes`` the median over the strongest 5 % of the grain-free
    page's gradients (the drawing itself).
    """
    import pages

    print("| grain std | method | strokes / paper | grain (P90) | washes and strokes |")
    print("|---|---|---|---|---|")
    content = process(pages.watercolour(amplitude=0.0), PipelineConfig(outputs=("hsv",)))
    drawn = content.field.magnitude
    paper = drawn < 0.002
    edges = drawn >= np.percentile(drawn, 95)
    for amplitude in (0.01, 0.02, 0.03, 0.05):
        result = process(pages.watercolour(amplitude=amplitude), PipelineConfig(outputs=("hsv",)))
        magnitude = result.field.magnitude
        for label in ("robust 1-99", "exposure black=1", "exposure"):
            method, params = CANDIDATES[label]
            unit = to_unit(normalize(magnitude, method, **params), method, copy=False)
            value = hsv_remap(result.field, strength=unit).max(axis=2)
            strokes, weak = brightness_stats(magnitude, value)
            print(f"| {amplitude} | {label} | {strokes:.2f} / {weak:.2f} | "
                  f"{np.percentile(value[paper], 90):.2f} | {np.median(value[edges]):.2f} |",
                  flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
