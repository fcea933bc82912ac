"""Benchmark sketchgrad against the same work scripted with OpenCV and with scikit-image.

Each contender runs as a whole process (interpreter start, imports, loading the
scan, computing, writing the PNG); the commands alternate, every one runs
``--runs`` times, and the table shows medians, peak RSS (``wait4`` of each child)
and ratios to the OpenCV script. In-process timings per stage come from
``sketchgrad.process_to_files(..., timings=...)``.

Usage::

    python scripts/benchmark.py                     # chess-castle scan, 5 runs each
    python scripts/benchmark.py --json bench.json   # also write the figures
    python scripts/benchmark.py --huge 74           # peak RSS of a synthetic 74 MP scan
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL_SCAN = HERE.parent.parent / "shared" / "images" / "ink_brushpen_chess_castle.jpg"

# The OpenCV baseline: what a user of OpenCV would script for the same picture.
CV_BASELINE = r"""
import sys
import cv2
import numpy as np
src, dst = sys.argv[1], sys.argv[2]
tone = cv2.imread(src, cv2.IMREAD_GRAYSCALE).astype(np.float32) * np.float32(1 / 255)
tone = cv2.GaussianBlur(tone, (0, 0), sigmaX=1.0, sigmaY=1.0)
dx = cv2.Sobel(tone, cv2.CV_32F, 1, 0, ksize=3)
dy = cv2.Sobel(tone, cv2.CV_32F, 0, 1, ksize=3)
strength = cv2.magnitude(dx, dy)
direction = cv2.phase(dx, dy, angleInDegrees=True)
value = cv2.normalize(strength, None, 0, 255, cv2.NORM_MINMAX, cv2.CV_8U)
hue = cv2.convertScaleAbs(direction, alpha=0.5)
hue[hue >= 180] = 0
sat = np.full(value.shape, 255, np.uint8)
bgr = cv2.cvtColor(cv2.merge([hue, sat, value]), cv2.COLOR_HSV2BGR)
cv2.imwrite(dst, bgr)
"""

# The scikit-image baseline, float64 as the tutorials teach it.
SK_BASELINE = r"""
import sys
import numpy as np
from PIL import Image
from skimage import color, exposure, filters, io, util
src, dst = sys.argv[1], sys.argv[2]
tone = util.img_as_float(io.imread(src, as_gray=True))
tone = filters.gaussian(tone, sigma=1.0)
gx, gy = filters.sobel_v(tone), filters.sobel_h(tone)
strength = np.sqrt(gx ** 2 + gy ** 2)
hue = np.mod(np.arctan2(gy, gx), 2 * np.pi) / (2 * np.pi)
value = exposure.rescale_intensity(strength, out_range=(0.0, 1.0))
rgb = color.hsv2rgb(np.dstack([hue, np.ones_like(value), value]))
Image.fromarray(util.img_as_ubyte(rgb)).save(dst)
"""

# sketchgrad through its library call that streams the outputs (what the CLI should use).
SG_STREAM = r"""
import sys, json, time
t0 = time.perf_counter()
import sketchgrad
from sketchgrad.io import load_scan
from sketchgrad.pipeline import PipelineConfig, process_to_files
t1 = time.perf_counter()
src, outdir, kinds = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
strength = None if sys.argv[4] == "auto" else float(sys.argv[4])
import resource
scan = load_scan(src)
t2 = time.perf_counter()
load_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
config = PipelineConfig(denoise="gaussian", strength=strength, normalize="minmax",
                        outputs=tuple(kinds))
timings = {}
process_to_files(scan, config, {k: f"{outdir}/scan.{k}.png" for k in kinds}, timings=timings)
t3 = time.perf_counter()
timings.update(imports=t1 - t0, load=t2 - t1, pipeline_wall=t3 - t2,
               peak_mb_after_load=load_peak_mb)
print(json.dumps(timings))
"""


#: Children run as an installed package does: with compiled bytecode. (This workplace sets
#: PYTHONDONTWRITEBYTECODE=1, which would recompile sketchgrad's modules on every start.)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "sketchgrad-bench-pycache")


def run_child(argv: list[str], env: dict | None = None) -> dict:
    """Run one whole process; wall seconds, peak RSS (MB) and its stdout."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=CHILD_ENV if env is None else env)
    out, err = b"", b""
    # wait4 gives this child's own rusage (getrusage(RUSAGE_CHILDREN) is the max of all)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{err.decode()}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss_mb": usage.ru_maxrss / 1024, "stdout": out.decode()}


def make_scan(path: Path, source: Path | None) -> str:
    """The greyscale PNG test scan: the real ink drawing, or a synthetic one."""
    from PIL import Image

    if source is not None and source.exists():
        with Image.open(source) as im:
            grey = im.convert("L")
        grey.info.pop("icc_profile", None)
        grey.save(path, icc_profile=None)
        return f"{source.name} converted to greyscale PNG"
    synthetic_scan(path, 3508, 2480)
    return "synthetic 2480x3508 drawing (the real scan was not found)"


def synthetic_scan(path: Path, height: int, width: int, seed: int = 7) -> None:
    """A deterministic drawing-like greyscale PNG, written in strips (any size)."""
    import numpy as np

    from sketchgrad.png import PngWriter

    rng = np.random.default_rng(seed)
    x = np.arange(width, dtype=np.float32)
    with PngWriter(path, width, height, bit_depth=8) as png:
        for y0 in range(0, height, 512):
            y = np.arange(y0, min(height, y0 + 512), dtype=np.float32)[:, None]
            tone = np.full((len(y), width), 0.93, np.float32)
            tone -= 0.7 * (np.abs(np.sin(x / 53 + y / 97) * np.cos(y / 71 - x / 131)) > 0.97)
            tone -= 0.25 * (np.sin((x + 2 * y) / 17) > 0.995)
            tone += rng.normal(0, 0.02, tone.shape).astype(np.float32)
            png.write(np.clip(tone * 255 + 0.5, 0, 255).astype(np.uint8))


def picture_difference(a_path: Path, b_path: Path) -> dict:
    import numpy as np
    from PIL import Image

    with Image.open(a_path) as a, Image.open(b_path) as b:
        diff = np.abs(np.asarray(a.convert("RGB")).astype(np.int16)
                      - np.asarray(b.convert("RGB")).astype(np.int16))
    return {"median": float(np.median(diff)), "mean": round(float(diff.mean()), 3),
            "p99": float(np.percentile(diff, 99))}


def import_times(runs: int) -> dict:
    py = sys.executable
    run_child([py, "-c", "import sketchgrad"])  # warm-up: bytecode written
    times = {"numpy": [], "sketchgrad": []}
    for _ in range(runs):
        for name in times:
            times[name].append(run_child([py, "-c", f"import {name}"])["wall"])
    heavy = run_child([py, "-c", "import sys, sketchgrad; print(' '.join(m for m in "
                       "('matplotlib', 'skimage.restoration', 'dask', 'cv2', 'scipy', "
                       "'PIL.Image') if m in sys.modules))"])["stdout"].split()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"numpy_s": round(med["numpy"], 3), "sketchgrad_s": round(med["sketchgrad"], 3),
            "extra_s": round(med["sketchgrad"] - med["numpy"], 3),
            "heavy_modules_loaded": heavy}


def denoise_times(scan_path: Path) -> dict:
    """Seconds for each registered denoise method (default strength) on the scan."""
    import numpy as np

    from sketchgrad.denoise import DENOISE_METHODS, denoise
    from sketchgrad.io import load_scan

    image = load_scan(scan_path).image
    out = {}
    for name in DENOISE_METHODS:
        start = time.perf_counter()
        denoise(image, name, strength=None)
        out[name] = round(time.perf_counter() - start, 3)
    import importlib

    import cv2

    stage = importlib.import_module("sketchgrad.denoise")  # the module, not the function

    # OpenCV's own non-local means at the windows sketchgrad's nl_means uses (uint8, L2)
    patch = getattr(stage, "NL_MEANS_PATCH", 7)
    search = getattr(stage, "NL_MEANS_SEARCH", 21)
    h = max(1.0, 1.2 * stage.estimate_noise(image) * 255)
    grey8 = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    start = time.perf_counter()
    cv2.fastNlMeansDenoising(grey8, None, h=h, templateWindowSize=patch, searchWindowSize=search)
    out[f"OpenCV fastNlMeansDenoising uint8 {patch}/{search}"] = round(
        time.perf_counter() - start, 3)
    return out


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    import cv2
    import numpy
    import PIL

    return (f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, NumPy "
            f"{numpy.__version__}, OpenCV {cv2.__version__}, Pillow {PIL.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", type=Path, help="greyscale scan to use (default: make one)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (>= 5)")
    parser.add_argument("--no-skimage", action="store_true", help="skip the slow baseline")
    parser.add_argument("--huge", type=float, metavar="MP",
                        help="only measure a synthetic scan of this many megapixels "
                             "(outputs magnitude,hsv; peak RSS per pixel)")
    parser.add_argument("--strength", default="1",
                        help="denoise strength for --huge ('auto' estimates it; default 1)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sketchgrad-bench-"))
    report: dict = {"machine": machine()}
    py = sys.executable
    if args.huge:
        return huge(args, work, report)

    scan = args.scan or work / "scan.png"
    report["scan"] = str(args.scan) if args.scan else make_scan(scan, REAL_SCAN)
    from PIL import Image

    with Image.open(scan) as im:
        report["scan_size"] = f"{im.size[0]}x{im.size[1]} ({im.size[0] * im.size[1] / 1e6:.1f} MP)"
    sg_cli = str(Path(sys.executable).with_name("sketchgrad"))
    commands = {
        "opencv script": [py, "-c", CV_BASELINE, str(scan), str(work / "cv.png")],
        "sketchgrad run (CLI)": [sg_cli, "run", str(scan), "-o", str(work / "cli"), "--outputs",
                                 "hsv", "--denoise", "gaussian", "--strength", "1",
                                 "--normalize", "minmax", "--overwrite"],
        "sketchgrad process_to_files": [py, "-c", SG_STREAM, str(scan), str(work / "api"),
                                        "hsv", "1"],
    }
    if not args.no_skimage:
        commands["scikit-image script"] = [py, "-c", SK_BASELINE, str(scan),
                                           str(work / "sk.png")]
    (work / "cli").mkdir()
    (work / "api").mkdir()
    results: dict[str, list[dict]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm-up, untimed: bytecode compiled, files in the cache
        run_child(cmd)
    for _ in range(args.runs):
        for name, cmd in commands.items():  # alternate: drift hits every command alike
            results[name].append(run_child(cmd))
    table = {}
    base = None
    for name, runs in results.items():
        wall = statistics.median(r["wall"] for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        table[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                       "peak_rss_mb": round(rss, 1), "runs": len(runs)}
        if base is None:
            base = (wall, rss)
        table[name]["time_ratio"] = round(wall / base[0], 2)
        table[name]["rss_ratio"] = round(rss / base[1], 2)
    report["whole_process"] = table
    stages = [json.loads(r["stdout"]) for r in results["sketchgrad process_to_files"]]
    report["stages_hsv_s"] = {k: round(statistics.median(s[k] for s in stages), 3)
                              for k in stages[0]}
    # the default run: all four outputs, estimated strength
    (work / "default").mkdir()
    default_runs = [run_child([py, "-c", SG_STREAM, str(scan), str(work / "default"),
                               "magnitude,hsv,sketch,preview", "auto"])
                    for _ in range(3)]
    report["default_run"] = {
        "wall_s": round(statistics.median(r["wall"] for r in default_runs), 3),
        "peak_rss_mb": round(statistics.median(r["rss_mb"] for r in default_runs), 1),
        "stages_s": {k: round(statistics.median(json.loads(r["stdout"])[k]
                                                for r in default_runs), 3)
                     for k in json.loads(default_runs[0]["stdout"])}}
    report["picture_vs_opencv"] = picture_difference(work / "api" / "scan.hsv.png",
                                                     work / "cv.png")
    run_child(commands["sketchgrad run (CLI)"])
    cli_out = next((work / "cli").rglob("*hsv*.png"), None)
    if cli_out is not None:
        report["cli_picture_vs_opencv"] = picture_difference(cli_out, work / "cv.png")
    report["import"] = import_times(max(5, args.runs))
    report["denoise_s"] = denoise_times(scan)
    print_table(report)
    if args.markdown:
        args.markdown.write_text(table_markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def huge(args, work: Path, report: dict) -> int:
    import math

    pixels = args.huge * 1e6
    width = int(math.sqrt(pixels / 1.414))  # A-series portrait
    height = int(round(pixels / width))
    scan = work / "huge.png"
    start = time.perf_counter()
    synthetic_scan(scan, height, width)
    report["scan"] = f"synthetic {width}x{height} ({width * height / 1e6:.1f} MP)"
    report["make_scan_s"] = round(time.perf_counter() - start, 1)
    (work / "out").mkdir()
    r = run_child([sys.executable, "-c", SG_STREAM, str(scan), str(work / "out"),
                   "magnitude,hsv", args.strength])
    report["strength"] = args.strength
    report["huge"] = {"wall_s": round(r["wall"], 1), "peak_rss_mb": round(r["rss_mb"], 1),
                      "bytes_per_pixel": round(r["rss_mb"] * 2**20 / (width * height), 2),
                      "stages_s": {k: round(v, 2) for k, v in json.loads(r["stdout"]).items()}}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    for f in list(work.rglob("*.png")):
        f.unlink()
    return 0


def table_markdown(report: dict) -> str:
    """The figures as Markdown (what docs/benchmark.md shows)."""
    lines = [f"Machine: {report['machine']}.", "",
             f"Scan: {report['scan']}, {report['scan_size']}.", "",
             "| command | wall s | CPU s (user+sys) | peak RSS MB | time / OpenCV "
             "| RSS / OpenCV |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, row in report["whole_process"].items():
        lines.append(f"| {name} | {row['wall_s']:.3f} | {row.get('cpu_s', float('nan')):.2f} "
                     f"| {row['peak_rss_mb']:.0f} | {row['time_ratio']:.2f} "
                     f"| {row['rss_ratio']:.2f} |")
    runs = {row["runs"] for row in report["whole_process"].values()}
    lines += ["", f"Medians of {', '.join(map(str, sorted(runs)))} runs per command, "
                  "alternating; ratios are of the wall-time and RSS medians.", ""]
    stages = report["stages_hsv_s"]
    lines += ["sketchgrad in-process, outputs=hsv (seconds; stage times are summed over "
              "threads, so they can exceed the wall time):", "",
              "| " + " | ".join(stages) + " |", "|" + "---:|" * len(stages),
              "| " + " | ".join(str(v) for v in stages.values()) + " |", ""]
    d = report["default_run"]
    lines += [f"Default run (all four outputs, strength estimated from the scan): "
              f"{d['wall_s']} s wall, {d['peak_rss_mb']:.0f} MB peak RSS.", "",
              "| " + " | ".join(d["stages_s"]) + " |", "|" + "---:|" * len(d["stages_s"]),
              "| " + " | ".join(str(v) for v in d["stages_s"].values()) + " |", ""]
    p = report["picture_vs_opencv"]
    lines.append(f"Same picture: |channel difference| to the OpenCV script's PNG, in levels: "
                 f"median {p['median']:g}, mean {p['mean']:g}, 99th percentile {p['p99']:g}"
                 + (f" (CLI output: median {report['cli_picture_vs_opencv']['median']:g})"
                    if "cli_picture_vs_opencv" in report else "") + ".")
    imp = report["import"]
    heavy = ", ".join(imp["heavy_modules_loaded"]) or "none"
    lines += ["", f"`import sketchgrad`: {imp['sketchgrad_s']} s vs `import numpy` "
                  f"{imp['numpy_s']} s (+{imp['extra_s']} s, medians of whole processes); "
                  f"heavy modules loaded by it: {heavy}."]
    lines += ["", "Denoise methods on the scan (seconds, default strength, in-process):", "",
              "| " + " | ".join(report["denoise_s"]) + " |",
              "|" + "---:|" * len(report["denoise_s"]),
              "| " + " | ".join(str(v) for v in report["denoise_s"].values()) + " |"]
    return "\n".join(lines) + "\n"


def print_table(report: dict) -> None:
    print(table_markdown(report))


if __name__ == "__main__":
    sys.exit(main())
