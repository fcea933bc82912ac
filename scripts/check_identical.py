"""Record every output's decoded pixels as SHA-256, to show a change keeps outputs identical.

Runs ``sketchgrad run`` with the default settings and a few non-default ones, and
``sketchgrad compare`` for each ``--what``, on the given image folders (default:
``sample_images/`` and ``../shared/images/``; they are read, never copied), into a work
folder, then writes a JSON manifest ``{output path: sha256 of (dtype, shape, pixels)}``.
With ``--against OLD.json`` it compares the new manifest with an old one and exits 1 on
any difference.

Usage::

    PYTHONPATH=. python scripts/check_identical.py --out /tmp/before --manifest /tmp/before.json
    PYTHONPATH=. python scripts/check_identical.py --out /tmp/after --manifest /tmp/after.json \\
        --against /tmp/before.json

The PYTHONPATH decides which code runs (``--pythonpath`` sets it for the child commands).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUTS = [ROOT / "sample_images", Path("/work/shared/images")]
IMAGE_ENDINGS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif"}

#: (name, extra flags) for each ``sketchgrad run``.
RUNS = [
    ("default", []),
    ("robust", ["--normalize", "robust"]),
    ("median", ["--denoise", "median"]),
    ("viridis_tone", ["--color", "viridis", "--color-target", "tone"]),
    ("tile64", ["--tile-size", "64"]),
]
COMPARE_WHAT = ["normalize", "denoise", "operator", "ramp"]


def pixel_digest(path: Path) -> str:
    """SHA-256 of a PNG's decoded pixels (dtype, shape and values; not its text chunks)."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise SystemExit(f"{path}: OpenCV could not decode it")
    pixels = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{pixels.dtype}{pixels.shape}".encode())
    digest.update(pixels.tobytes())
    return digest.hexdigest()


def sketchgrad(args: list[str], env: dict, cwd: Path) -> None:
    # run outside the repository: ``python -m`` puts the working folder first on the path,
    # and PYTHONPATH must decide which code runs
    cmd = [sys.executable, "-m", "sketchgrad", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="work folder for the outputs")
    parser.add_argument("--manifest", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--against", type=Path, help="an earlier manifest to compare with")
    parser.add_argument("--pythonpath", default=str(ROOT), help="PYTHONPATH for the commands")
    parser.add_argument("--keep-runs", action="store_true",
                        help="reuse the `run` outputs already in --out (only redo the sheets)")
    parser.add_argument("inputs", nargs="*", type=Path, default=DEFAULT_INPUTS)
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.inputs = [p.resolve() for p in args.inputs]

    env = dict(os.environ, PYTHONPATH=str(Path(args.pythonpath).resolve()))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, flags in RUNS:
        if args.keep_runs and (args.out / name).is_dir():
            continue
        print(f"run {name} {' '.join(flags)}", flush=True)
        sketchgrad(["run", *map(str, args.inputs), "-o", str(args.out / name), "--workers", "1",
                    "--quiet", "--overwrite", *flags], env, args.out)
    scans = sorted(p for folder in args.inputs for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_ENDINGS)
    for what in COMPARE_WHAT:
        print(f"compare {what}", flush=True)
        for scan in scans:
            sheet = args.out / "compare" / what / f"{scan.name}.png"
            sheet.parent.mkdir(parents=True, exist_ok=True)
            sketchgrad(["compare", str(scan), "--what", what, "-o", str(sheet), "--overwrite"],
                       env, args.out)

    manifest = {str(p.relative_to(args.out)): pixel_digest(p)
                for p in sorted(args.out.rglob("*.png"))}
    args.manifest.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(manifest)} PNGs recorded in {args.manifest}")
    if args.against is None:
        return 0
    old = json.loads(args.against.read_text())
    missing = sorted(set(old) - set(manifest))
    extra = sorted(set(manifest) - set(old))
    changed = sorted(k for k in set(old) & set(manifest) if old[k] != manifest[k])
    same = len(set(old) & set(manifest)) - len(changed)
    print(f"compared with {args.against}: {same} identical, {len(changed)} changed, "
          f"{len(missing)} missing, {len(extra)} new")
    for label, names in (("changed", changed), ("missing", missing), ("new", extra)):
        for name in names:
            print(f"  {label}: {name}")
    return 1 if changed or missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
