"""Write the reference outputs ``tests/test_reference.py`` compares ``sketchgrad run`` with.

What it writes, under ``tests/reference/``:

- ``inputs/<sample>.png``: a fixed 256 x 256 window of each file in ``sample_images/``
  (positions in ``CROPS``, chosen by eye to hold strokes and some paper), in the
  sample's own mode and bit depth: the 16-bit TIFF stays 16-bit grey, the grey PNGs
  stay 8-bit grey, the RGBA PNG stays RGBA, and the two JPEGs are decoded by Pillow
  (the EXIF-rotated one turned upright first, as ``load_scan`` does) and saved as RGB
  PNG, so the reference does not depend on a JPEG decoder's version.
- ``<sample>.magnitude.png``, ``<sample>.hsv.png``, ``<sample>.sketch.png``: what
  ``sketchgrad run`` writes for that window with the default settings (``run_like_command``:
  ``run_batch`` with ``PipelineConfig()`` in this process, the command's own path:
  ``load_scan(mode="auto", dtype="native")``, ``image_for_channels(..., native=True)``,
  ``process_to_files``). The default run also writes the preview; it is not kept
  (matplotlib draws it, and its layout is being changed on purpose), only the
  stroke figures it makes the run measure. The references are written at zlib level 9
  to keep them small; the level never changes the pixels.
- ``figures.json``: the figures the run records in each output's provenance
  (``strength_used``, ``channels_used``, ``strokes``), the noise estimate behind the
  automatic strength (``noise_of``), each kept output's size, bit
  depth and colour type (from its PNG header), and the crop positions.

When to regenerate
------------------
Only deliberately, when an output is *meant* to change (a new default, a fixed bug),
never to make a failing ``tests/test_reference.py`` pass after a change that was meant
to keep the pixels (a speed-up, a refactor): there the failure is the finding. Regenerate
from the commit whose outputs are right, and say in the commit message which outputs
changed and why::

    PYTHONPATH=/path/to/checkout python scripts/make_reference.py

``PYTHONPATH`` decides which sketchgrad makes the references (a detached worktree of an
older commit works: ``git worktree add --detach /tmp/ref COMMIT``). The first set was
made at commit 2ab68bb, before the second round of speed-ups (issue 16); the current
one at fce102b (the luma of colour files read as grey, see ``tests/test_reference.py``).
The inputs
(the crops) are rewritten too, from ``sample_images/``; they only change when
``CROPS`` or a sample changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
REFERENCE = ROOT / "tests" / "reference"

#: Side of the square window cut from each sample.
SIDE = 256

#: Sample file -> (x, y) of the window's top-left corner, in the upright image
#: (after the EXIF orientation): each window holds strokes, hatching and paper.
CROPS: dict[str, tuple[int, int]] = {
    "cube_shading_16bit.tif": (292, 212),    # the cube's top corner, edges and shading
    "ink_bird_rgba.png": (412, 92),          # head, eye and feather strokes (alpha)
    "ink_landscape.png": (252, 172),         # hatched mountains and a group of trees
    "marker_balloons.jpg": (432, 232),       # the big balloon's coloured stripes
    "pencil_still_life.png": (632, 332),     # the vase's cross-hatching and the horizon
    "photo_portrait_exif6.jpg": (292, 392),  # hair, an eye and face shading (EXIF 6)
}

#: The outputs kept as references (the default run writes these and the preview).
KINDS = ("magnitude", "hsv", "sketch")


def cut_input(sample: Path, corner: tuple[int, int], dest: Path) -> Path:
    """Save the ``SIDE`` x ``SIDE`` window at ``corner`` of ``sample`` as a PNG, same mode."""
    with Image.open(sample) as im:
        upright = ImageOps.exif_transpose(im)  # load_scan turns EXIF-rotated files upright
        mode = upright.mode
        if mode not in ("L", "I;16", "RGB", "RGBA"):
            raise SystemExit(f"{sample}: mode {mode} has no rule here; add one")
        x, y = corner
        if x + SIDE > upright.width or y + SIDE > upright.height:
            raise SystemExit(f"{sample}: the window at {corner} leaves the "
                             f"{upright.width} x {upright.height} image")
        window = upright.crop((x, y, x + SIDE, y + SIDE))
        window.load()
    dest.parent.mkdir(parents=True, exist_ok=True)
    window.save(dest, optimize=True)
    with Image.open(dest) as back:  # the PNG holds the samples as they were
        if not np.array_equal(np.asarray(back), np.asarray(window)):
            raise SystemExit(f"{dest}: the saved window differs from the sample's pixels")
    return dest


def run_like_command(source: Path, outdir: Path, *, compression: int | None = None,
                     tile_size: int | None = None) -> dict[str, Path]:
    """What ``sketchgrad run SOURCE -o OUTDIR`` writes, with the default settings.

    ``tile_size`` is the command's ``--tile-size`` (None: its default, one tile for a
    window this small; the test also streams the windows in 64-pixel tiles, the seams
    and halos a large scan goes through). Returns kind -> path for the kinds the
    default run writes (``DEFAULT_OUTPUTS``).
    """
    from sketchgrad.batch import run_batch
    from sketchgrad.pipeline import PipelineConfig

    extra = {} if compression is None else {"compression": compression}
    config = PipelineConfig(tile_size=tile_size)
    (outcome,) = run_batch([source], outdir, config, workers=1, **extra)
    if outcome.status != "ok":
        raise RuntimeError(f"{source}: the run ended {outcome.status}: {outcome}")
    written = {Path(p).name.split(".")[-2]: Path(p) for p in outcome.outputs}
    return written


def figures_of(outputs: dict[str, Path]) -> dict[str, Any]:
    """The run's figures from its outputs' provenance, with each kept output's PNG format.

    Every output of one run carries the same record; the magnitude's is read, and the
    others are checked to agree.
    """
    from sketchgrad.provenance import read_provenance

    records = {kind: read_provenance(path) for kind, path in outputs.items()}
    record = records["magnitude"]
    if record is None:
        raise RuntimeError(f"{outputs['magnitude']}: no provenance record")
    keys = ("strength_used", "channels_used", "strokes")
    for kind, other in records.items():
        if other is None or any(other.get(k) != record.get(k) for k in keys):
            raise RuntimeError(f"{outputs[kind]}: its figures differ from the magnitude's")
    figures: dict[str, Any] = {k: record.get(k) for k in keys}
    figures["outputs"] = {kind: png_format(outputs[kind]) for kind in KINDS}
    return figures


def noise_of(source: Path) -> float:
    """The automatic denoise strength's input: ``scan_noise`` of the window loaded grey.

    Recorded because the default Gaussian strength, ``clip(10 * noise, 0.5, 2)``, sits
    at its floor on all six windows, so a changed noise estimate would not show in
    their pixels, though it would on a noisier scan.
    """
    from sketchgrad.denoise import scan_noise
    from sketchgrad.io import load_scan

    return scan_noise(load_scan(source, mode="gray", dtype="native"))


#: PNG colour types (the IHDR byte) by name.
COLOUR_TYPES = {0: "grey", 2: "RGB", 3: "palette", 4: "grey+alpha", 6: "RGBA"}


def png_format(path: Path) -> dict[str, Any]:
    """Size, bit depth and colour type as the PNG's header states them.

    Read from the bytes, not from Pillow, whose modes for 16-bit files changed
    between versions (10.0 opens a 16-bit grey PNG as "I", 13.0 as "I;16").
    """
    with open(path, "rb") as fh:
        head = fh.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise RuntimeError(f"{path}: not a PNG")
    return {"size": [int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")],
            "bit_depth": head[24], "colour": COLOUR_TYPES.get(head[25], str(head[25]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REFERENCE,
                        help="folder to write (default tests/reference)")
    args = parser.parse_args(argv)
    import sketchgrad

    out: Path = args.out
    all_figures: dict[str, Any] = {
        "made_with": {"sketchgrad_commit": _commit(Path(sketchgrad.__file__).parent),
                      "numpy": np.__version__, "opencv": _cv2_version(),
                      "python": sys.version.split()[0]},
        "crops": {name: {"x": x, "y": y, "side": SIDE} for name, (x, y) in CROPS.items()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, corner in CROPS.items():
            stem = Path(name).stem
            source = cut_input(SAMPLES / name, corner, out / "inputs" / f"{stem}.png")
            outputs = run_like_command(source, Path(tmp), compression=9)
            all_figures[stem] = figures_of(outputs)
            all_figures[stem]["noise"] = noise_of(source)
            for kind in KINDS:
                dest = out / outputs[kind].name
                dest.write_bytes(outputs[kind].read_bytes())
            print(f"{stem}: {all_figures[stem]}")
    (out / "figures.json").write_text(json.dumps(all_figures, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {total / 1e6:.2f} MB")
    return 0


def _commit(folder: Path) -> str:
    """The git commit of the checkout sketchgrad was imported from, or "unknown"."""
    import subprocess

    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def _cv2_version() -> str:
    import cv2

    return str(cv2.__version__)


if __name__ == "__main__":
    raise SystemExit(main())
