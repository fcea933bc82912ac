"""Fuzz ``load_scan`` for longer than the test suite does.

Two engines:

``hypothesis`` (default; needs only the test dependencies)
    Runs the structure-aware mutations of ``tests/test_fuzz_load.py`` for
    ``--examples`` inputs without stopping at the first failure; every finding
    is saved to ``--findings`` and summarised at the end.

``atheris`` (coverage-guided; ``pip install atheris``)
    libFuzzer mutates the same seed files, guided by coverage of Pillow's and
    sketchgrad's Python code. Crashing inputs are written by libFuzzer
    (``crash-*``, ``timeout-*``) in the current folder.

The property is the one the tests assert: ``load_scan`` returns a finite
float32 image in [0, 1] or raises ``ScanError`` -- never another exception,
never a hang.

Examples::

    python scripts/fuzz_load.py --examples 20000
    python scripts/fuzz_load.py --engine atheris --seconds 600
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))


def run_hypothesis(examples: int, findings: Path) -> int:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from test_fuzz_load import check_load, mutated_files

    stats: collections.Counter = collections.Counter()
    found: dict[str, str] = {}

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(mutated_files(), st.sampled_from(["gray", "rgb"]), st.sampled_from([0, 0, 0, 1]))
    def one(case, mode, page):
        seed, data = case
        stats["executions"] += 1
        try:
            stats[check_load(data, mode=mode, page=page)] += 1
        except BaseException as exc:  # noqa: BLE001 - record, keep fuzzing
            if isinstance(exc, KeyboardInterrupt):
                raise
            stats["findings"] += 1
            key = f"{type(exc).__name__}: {str(exc)[:80]}"
            if key not in found:
                digest = hashlib.sha1(data).hexdigest()[:12]
                findings.mkdir(parents=True, exist_ok=True)
                path = findings / f"{seed}-{mode}-p{page}-{digest}.bin"
                path.write_bytes(data)
                found[key] = f"{path}\n{traceback.format_exc(limit=4)}"

    start = time.perf_counter()
    one()
    seconds = time.perf_counter() - start
    print(f"hypothesis campaign: {stats['executions']} executions in {seconds:.0f} s "
          f"({stats['ok']} loaded, {stats['refused']} refused with ScanError, "
          f"{stats['findings']} findings, {len(found)} distinct)")
    for key, where in found.items():
        print(f"\nFINDING {key}\n  saved as {where}")
    return 1 if found else 0


def run_atheris(seconds: int, extra: list[str]) -> int:
    import atheris

    with atheris.instrument_imports():
        import PIL.Image  # noqa: F401
        import tifffile  # noqa: F401

        from sketchgrad.errors import ScanError
        from sketchgrad.io import load_scan
    from test_fuzz_load import FUZZ_MAX_PIXELS, SEEDS

    seeds = Path(tempfile.mkdtemp(prefix="fuzz-seeds-"))
    for name, data in SEEDS.items():
        (seeds / name).write_bytes(data)

    def one_input(data: bytes) -> None:
        for mode in ("gray", "rgb"):
            try:
                image = load_scan(io.BytesIO(data), mode=mode, max_pixels=FUZZ_MAX_PIXELS).image
            except ScanError:
                return
            import numpy as np

            if not (image.dtype == np.float32 and np.isfinite(image).all()
                    and image.min() >= 0 and image.max() <= 1):
                raise AssertionError("load_scan returned a bad image")

    args = [sys.argv[0], f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=4096",
            "-print_final_stats=1", *extra, str(seeds)]
    atheris.Setup(args, one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    parser.add_argument("--examples", type=int, default=20000,
                        help="inputs to try (hypothesis engine)")
    parser.add_argument("--seconds", type=int, default=600, help="run time (atheris engine)")
    parser.add_argument("--findings", type=Path, default=Path("fuzz-findings"),
                        help="folder for failing inputs (hypothesis engine)")
    args, extra = parser.parse_known_args(argv)
    if args.engine == "atheris":
        return run_atheris(args.seconds, extra)
    return run_hypothesis(args.examples, args.findings)


if __name__ == "__main__":
    sys.exit(main())
