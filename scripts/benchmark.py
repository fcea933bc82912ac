"""Benchmark sketchgrad against the same work scripted with OpenCV (and scikit-image).

Every row of issue 16's table, each measured as whole processes (interpreter
start, imports, loading the scan, computing, writing the PNGs); compared
commands alternate, each runs ``--runs`` times, and the table shows medians,
peak RSS and ratios to the OpenCV script. One table is printed; ``--json``
and ``--markdown`` write the figures.

Rows (choose any; with none: ``--default --denoisers --import``):

- ``--default``: the default run (``sketchgrad run scan -o out``: all four
  outputs) and the single-output run (``--outputs hsv``: the OpenCV script's
  work) against the OpenCV script: wall and peak RSS ratios, and the picture
  check (median / 99th percentile channel difference to OpenCV's PNG).
- ``--huge MP [--bits 8 16] [--format png tiff]``: a synthetic scan of MP
  megapixels written at each bit depth and format, through ``sketchgrad run
  --outputs magnitude,hsv`` (default settings, ``--strength`` as given); peak
  RSS in bytes per pixel (interpreter included).
- ``--denoisers``: seconds of each denoise method on the 8 MP scan, in-process.
- ``--batch N [--batch-mp MP] [--workers 2]``: N copies of a scan through
  ``sketchgrad run FOLDER --workers 2`` (all four outputs): pages per minute,
  and peak RSS of the largest process and of the whole process tree (sampled).
- ``--import``: ``import sketchgrad`` against ``import numpy``.

Colour rows: ``--default --channels rgb`` runs the ``CONTENDERS`` of channels
"rgb" on a colour scan (default: the marker tree diagram on ruled paper, 8 MP
JPEG): ``sketchgrad run --channels gray --outputs hsv`` (the reference: the
same scan in grey), ``--channels rgb --outputs hsv`` and ``--channels rgb`` with
all four outputs; the ratios are to the grey run. ``--default`` also times
``--outputs flow`` (the stroke-direction picture) against ``--outputs
magnitude,hsv,sketch`` (the default run's pictures).

Usage::

    python scripts/benchmark.py --default --runs 7 --json bench.json
    python scripts/benchmark.py --default --channels rgb --runs 3
    python scripts/benchmark.py --huge 278 --bits 8 16
    python scripts/benchmark.py --batch 20 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# the shared drawings sit beside the checkout (or a few folders up, from a worktree)
REAL_SCAN = next((p / "shared" / "images" / "ink_brushpen_chess_castle.jpg"
                  for p in HERE.parents
                  if (p / "shared" / "images" / "ink_brushpen_chess_castle.jpg").exists()),
                 None)
COLOUR_SCAN = next((p / "shared" / "images" / "notebook_ruled_marker_tree_diagram.jpg"
                    for p in HERE.parents
                    if (p / "shared" / "images" / "notebook_ruled_marker_tree_diagram.jpg"
                        ).exists()), None)

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

# sketchgrad through the library call the command streams its outputs with, default
# settings (for the stage seconds of the default run).
SG_STREAM = r"""
import sys, json, time
t0 = time.perf_counter()
import sketchgrad
from sketchgrad.io import load_scan
from sketchgrad.pipeline import PipelineConfig, process_to_files
t1 = time.perf_counter()
src, outdir, kinds = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
strength = None if sys.argv[4] == "auto" else float(sys.argv[4])
channels = sys.argv[5] if len(sys.argv) > 5 else "auto"
import resource
scan = load_scan(src, mode="gray" if channels == "gray" else "auto",
                 dtype="native")  # as `sketchgrad run` loads: the file's dtype
t2 = time.perf_counter()
load_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
config = PipelineConfig(strength=strength, outputs=tuple(kinds), channels=channels)
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
PY = sys.executable
SG_CLI = str(Path(sys.executable).with_name("sketchgrad"))


@dataclasses.dataclass
class Contender:
    """One command compared with the OpenCV script (a row of the table).

    ``argv(scan, out)`` builds the command for a scan path and an output folder;
    ``picture(out)`` finds the PNG compared with the OpenCV script's picture.
    """

    name: str
    argv: object
    channels: str = "gray"
    picture: object = None
    baseline: bool = False
    slow: bool = False


def _first(pattern: str):
    return lambda out: next(iter(sorted(out.rglob(pattern))), None)


#: The whole-process contenders of ``--default``, compared in alternation; ``--channels``
#: picks the rows of one kind. The colour rows (``channels="rgb"``, run on a colour scan)
#: compare ``sketchgrad run --channels rgb`` with the grey run of the same scan, the
#: budget of issue 14 (at most 2.5x the time and 2x the memory).
CONTENDERS = [
    Contender("opencv script (hsv)", lambda scan, out: [PY, "-c", CV_BASELINE, str(scan),
                                                        str(out / "cv.png")],
              picture=_first("cv.png"), baseline=True),
    Contender("sketchgrad run --outputs hsv", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--outputs", "hsv", "--denoise", "gaussian",
        "--strength", "1", "--normalize", "minmax", "--overwrite", "--quiet"],
        picture=_first("*.hsv.png")),
    # the same run decoding its scan when it needs it: what decoding ahead saves
    Contender("SKETCHGRAD_DECODE_AHEAD=0 sketchgrad run --outputs hsv", lambda scan, out: [
        "env", "SKETCHGRAD_DECODE_AHEAD=0", SG_CLI, "run", str(scan), "-o", str(out),
        "--outputs", "hsv", "--denoise", "gaussian", "--strength", "1", "--normalize",
        "minmax", "--overwrite", "--quiet"]),
    Contender("sketchgrad run (default: 4 outputs)", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--overwrite", "--quiet"]),
    # the same run drawing its preview in-process: what the preview process saves
    Contender("SKETCHGRAD_PREVIEW_PROCESS=0 sketchgrad run (4 outputs)", lambda scan, out: [
        "env", "SKETCHGRAD_PREVIEW_PROCESS=0", SG_CLI, "run", str(scan), "-o", str(out),
        "--overwrite", "--quiet"]),
    # the stroke-direction picture against the pictures of the default run (its preview
    # aside): issue 19 aims at flow costing no more than these
    Contender("sketchgrad run --outputs flow", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--outputs", "flow", "--overwrite",
        "--quiet"]),
    Contender("sketchgrad run --outputs magnitude,hsv,sketch", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--outputs", "magnitude,hsv,sketch",
        "--overwrite", "--quiet"]),
    Contender("scikit-image script (hsv)", lambda scan, out: [PY, "-c", SK_BASELINE, str(scan),
                                                              str(out / "sk.png")],
              picture=_first("sk.png"), slow=True),
    Contender("sketchgrad run --channels gray --outputs hsv (colour scan)", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--channels", "gray", "--outputs", "hsv",
        "--overwrite", "--quiet"], channels="rgb", baseline=True),
    Contender("sketchgrad run --channels rgb --outputs hsv", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--channels", "rgb", "--outputs", "hsv",
        "--overwrite", "--quiet"], channels="rgb"),
    Contender("sketchgrad run --channels rgb (default: 4 outputs)", lambda scan, out: [
        SG_CLI, "run", str(scan), "-o", str(out), "--channels", "rgb", "--overwrite",
        "--quiet"], channels="rgb"),
]

#: Rows still to come, shown under the table until they are measured.
FUTURE_ROWS: dict[str, str] = {}


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(kids)
        frontier.extend(kids)
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in tree:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
    return total


def parse_cpu_line(text: str) -> tuple[int, int] | None:
    """``(steal, total)`` clock ticks of all cores from the text of ``/proc/stat``.

    The first line reads ``cpu user nice system idle iowait irq softirq steal
    ...`` (guest time is counted inside user and nice, so the total is the sum
    of the first eight fields). None when there is no such line, or no steal
    field (kernels before 2.6.11).
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(f) for f in fields[1:9]]
            return (ticks[7], sum(ticks)) if len(ticks) == 8 else None
    return None


def cpu_ticks() -> tuple[int, int] | None:
    """This machine's ``(steal, total)`` clock ticks so far (Linux), else None."""
    try:
        return parse_cpu_line(Path("/proc/stat").read_text())
    except OSError:
        return None


def steal_percent(runs: list[dict]) -> float | None:
    """The share of the cores' time the hypervisor took while these runs ran, in percent.

    Steal is time a virtual machine's cores were ready to run but the host ran
    something else. A command that keeps every core busy has no idle core to
    move to, so steal moves the ratios. None off Linux.
    """
    ticks = [r["ticks"] for r in runs if r.get("ticks")]
    total = sum(t[1] for t in ticks)
    return round(100 * sum(t[0] for t in ticks) / total, 1) if total else None


def run_child(argv: list[str], env: dict | None = None, *, tree: bool = False) -> dict:
    """Run one whole process: wall seconds, CPU, peak RSS (MB), stdout.

    ``rss_mb`` is the largest single process (``wait4``: the child or any of its
    descendants); with ``tree`` the summed RSS of the process tree is also
    sampled every 50 ms (``tree_rss_mb``, a lower bound of the true peak).
    ``ticks``: the machine's steal and total clock ticks while it ran (see
    :func:`steal_percent`), None off Linux.
    """
    before = cpu_ticks()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=CHILD_ENV if env is None else env)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True) if tree else None
    if sampler:
        sampler.start()
    streams: dict[str, bytes] = {}
    # read both pipes while the child runs (a full pipe would stall it); wait4 then
    # gives this child's own rusage (RUSAGE_CHILDREN would be the max over all so far)
    readers = [threading.Thread(target=lambda n=n, f=f: streams.__setitem__(n, f.read()))
               for n, f in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    after = cpu_ticks()
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    out, err = streams["out"], streams["err"]
    if sampler:
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{err.decode()}")
    row = {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
           "rss_mb": usage.ru_maxrss / 1024, "stdout": out.decode(),
           "ticks": (after[0] - before[0], after[1] - before[1]) if before and after else None}
    if tree:
        row["tree_rss_mb"] = peak[0] / 2**20
    return row


def make_scan(path: Path, source: Path | None, stored: str = "grey") -> str:
    """The greyscale PNG test scan: the real ink drawing, or a synthetic one.

    ``stored`` "rgb" saves the grey drawing as three equal channels, as a scanner
    set to colour saves an ink drawing.
    """
    from PIL import Image

    as_rgb = " saved as RGB (three equal channels)" if stored == "rgb" else ""
    if source is not None and source.exists():
        with Image.open(source) as im:
            grey = im.convert("L")
        grey.info.pop("icc_profile", None)
        (grey.convert("RGB") if stored == "rgb" else grey).save(path, icc_profile=None)
        return f"{source.name} converted to greyscale PNG{as_rgb}"
    synthetic_scan(path, 3508, 2480, stored=stored)
    return f"synthetic 2480x3508 drawing{as_rgb} (the real scan was not found)"


def synthetic_scan(path: Path, height: int, width: int, *, bits: int = 8,
                   seed: int = 7, stored: str = "grey") -> None:
    """A deterministic drawing-like greyscale PNG or TIFF (by suffix), written in strips.

    Any size: no whole-image array is made. ``bits`` 8 or 16; ``stored`` "rgb"
    writes the grey drawing as three equal channels.
    """
    import numpy as np

    from sketchgrad.png import PngWriter

    rng = np.random.default_rng(seed)
    x = np.arange(width, dtype=np.float32)
    top = (1 << bits) - 1
    dtype = np.uint8 if bits == 8 else np.uint16

    def strips():
        for y0 in range(0, height, 512):
            y = np.arange(y0, min(height, y0 + 512), dtype=np.float32)[:, None]
            tone = np.full((len(y), width), 0.93, np.float32)
            tone -= 0.7 * (np.abs(np.sin(x / 53 + y / 97) * np.cos(y / 71 - x / 131)) > 0.97)
            tone -= 0.25 * (np.sin((x + 2 * y) / 17) > 0.995)
            tone += rng.normal(0, 0.02, tone.shape).astype(np.float32)
            grey = np.clip(tone * top + 0.5, 0, top).astype(dtype)
            yield np.repeat(grey[..., None], 3, axis=2) if stored == "rgb" else grey

    planes = 3 if stored == "rgb" else 1
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, strips(), shape=(height, width) + ((3,) if planes == 3 else ()),
                         dtype=dtype, rowsperstrip=512,
                         photometric="rgb" if planes == 3 else "minisblack")
        return
    with PngWriter(path, width, height, channels=planes, bit_depth=bits) as png:
        for strip in strips():
            png.write(strip)


def picture_difference(a_path: Path, b_path: Path) -> dict:
    """|channel difference| between two PNGs, in 8-bit levels."""
    import numpy as np
    from PIL import Image

    with Image.open(a_path) as a, Image.open(b_path) as b:
        diff = np.abs(np.asarray(a.convert("RGB")).astype(np.int16)
                      - np.asarray(b.convert("RGB")).astype(np.int16))
    return {"median": float(np.median(diff)), "mean": round(float(diff.mean()), 3),
            "p99": float(np.percentile(diff, 99))}


def import_times(runs: int) -> dict:
    run_child([PY, "-c", "import sketchgrad"])  # warm-up: bytecode written
    times = {"numpy": [], "sketchgrad": []}
    for _ in range(runs):
        for name in times:
            times[name].append(run_child([PY, "-c", f"import {name}"])["wall"])
    heavy = run_child([PY, "-c", "import sys, sketchgrad; print(' '.join(m for m in "
                       "('matplotlib', 'skimage.restoration', 'dask', 'cv2', 'scipy', "
                       "'PIL.Image') if m in sys.modules))"])["stdout"].split()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"numpy_s": round(med["numpy"], 3), "sketchgrad_s": round(med["sketchgrad"], 3),
            "extra_s": round(med["sketchgrad"] - med["numpy"], 3),
            "heavy_modules_loaded": heavy}


def denoise_times(scan_path: Path) -> dict:
    """Seconds for each registered denoise method (default strength) on the scan."""
    import importlib

    import cv2
    import numpy as np

    from sketchgrad.denoise import DENOISE_METHODS, denoise
    from sketchgrad.io import load_scan

    image = load_scan(scan_path).image
    out = {}
    for name in DENOISE_METHODS:
        start = time.perf_counter()
        denoise(image, name, strength=None)
        out[name] = round(time.perf_counter() - start, 3)
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

    try:
        load = f" · load average at start {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    return (f"{model}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, NumPy "
            f"{numpy.__version__}, OpenCV {cv2.__version__}, Pillow {PIL.__version__}{load}")


# ------------------------------------------------------------------------------- the rows


def _row(name: str, runs: list[dict], base: dict | None, **extra) -> dict:
    wall = statistics.median(r["wall"] for r in runs)
    rss = statistics.median(r["rss_mb"] for r in runs)
    row = {"row": name, "wall_s": round(wall, 3),
           "cpu_s": round(statistics.median(r["cpu"] for r in runs), 3),
           "peak_rss_mb": round(rss, 1), "runs": len(runs)}
    steal = steal_percent(runs)
    if steal is not None:
        row["steal_percent"] = steal
    if base is not None:
        row["time_ratio"] = round(wall / base["wall_s"], 2)
        row["rss_ratio"] = round(rss / base["peak_rss_mb"], 2)
    row.update(extra)
    return row


def default_rows(args, work: Path, scan: Path) -> list[dict]:
    """The OpenCV script, the single-output run and the default run, alternating."""
    chosen = [c for c in CONTENDERS if c.channels == args.channels
              and (args.skimage or not c.slow)]
    if not chosen:
        return [{"row": f"--channels {args.channels}", "note": "no contenders yet"}]
    outs = {c.name: work / f"out-{i}" for i, c in enumerate(chosen)}
    for out in outs.values():
        out.mkdir()
    runs: dict[str, list[dict]] = {c.name: [] for c in chosen}
    for c in chosen:  # warm-up, untimed: bytecode compiled, files in the page cache
        run_child(c.argv(scan, outs[c.name]))
    for _ in range(args.runs):
        for c in chosen:  # alternate: drift hits every command alike
            runs[c.name].append(run_child(c.argv(scan, outs[c.name])))
    base_c = next((c for c in chosen if c.baseline), None)
    base = _row(base_c.name, runs[base_c.name], None) if base_c else None
    base_picture = base_c.picture(outs[base_c.name]) if base_c and base_c.picture else None
    rows = []
    for c in chosen:
        extra = {}
        if c.picture is not None and base_picture is not None and not c.baseline:
            mine = c.picture(outs[c.name])
            if mine is not None:
                extra["picture_vs_opencv"] = picture_difference(mine, base_picture)
        if args.channels == "rgb" and not c.baseline:
            extra["note"] = "ratios to the grey run of the same scan"
        rows.append(_row(c.name, runs[c.name], base, **extra))
    # where the default run's time goes: one in-process run with stage timings
    (work / "stages").mkdir()
    stages = run_child([PY, "-c", SG_STREAM, str(scan), str(work / "stages"),
                        "magnitude,hsv,sketch,preview", "auto", args.channels])
    default_row = next((row for row in rows if row["row"].startswith(
        ("sketchgrad run (default", "sketchgrad run --channels rgb (default"))), rows[-1])
    default_row["stages_s"] = {k: round(v, 3) for k, v in json.loads(stages["stdout"]).items()}
    return rows


def huge_rows(args, work: Path) -> list[dict]:
    """Peak RSS per pixel of synthetic scans, outputs magnitude and hsv."""
    import math

    pixels = args.huge * 1e6
    width = int(math.sqrt(pixels / 1.414))  # A-series portrait
    height = int(round(pixels / width))
    rows = []
    for fmt in args.format:
        for bits in args.bits:
            scan = work / f"huge{bits}.{fmt}"
            start = time.perf_counter()
            synthetic_scan(scan, height, width, bits=bits, stored=args.stored)
            made = time.perf_counter() - start
            out = work / f"huge-out-{bits}-{fmt}"
            out.mkdir()
            # the command a user runs (it loads the scan in its file's dtype, as the
            # library's load_scan(dtype="native")), default settings but the strength
            strength = [] if args.strength == "auto" else ["--strength", args.strength]
            r = run_child([SG_CLI, "run", str(scan), "-o", str(out), "--outputs",
                           "magnitude,hsv", *strength, "--overwrite", "--quiet"])
            stored = " (grey drawing saved as RGB)" if args.stored == "rgb" else ""
            rows.append(_row(
                f"huge {width}x{height} ({width * height / 1e6:.1f} MP) {bits}-bit {fmt}"
                f"{stored}",
                [r], None, bytes_per_pixel=round(r["rss_mb"] * 2**20 / (width * height), 2),
                strength=args.strength, make_scan_s=round(made, 1)))
            scan.unlink()
            for f in out.glob("*.png"):
                f.unlink()
    return rows


def batch_rows(args, work: Path, scan: Path | None) -> list[dict]:
    """N copies of one scan through ``sketchgrad run FOLDER --workers W``."""
    import math

    folder = work / "batch-in"
    folder.mkdir()
    source = work / "batch-source.png"
    if scan is not None and args.batch_mp is None:
        shutil.copyfile(scan, source)
    else:
        pixels = (args.batch_mp or 8) * 1e6
        width = int(math.sqrt(pixels / 1.414))
        synthetic_scan(source, int(round(pixels / width)), width)
    for i in range(args.batch):
        shutil.copyfile(source, folder / f"page{i:03d}.png")  # copies: separate files
    from PIL import Image

    with Image.open(source) as im:
        size = f"{im.size[0]}x{im.size[1]} ({im.size[0] * im.size[1] / 1e6:.1f} MP)"
    out = work / "batch-out"
    r = run_child([SG_CLI, "run", str(folder), "-o", str(out), "--workers", str(args.workers),
                   "--overwrite", "--quiet"], tree=True)
    return [_row(f"batch {args.batch} x {size}, --workers {args.workers} (4 outputs)", [r],
                 None, pages_per_minute=round(args.batch / r["wall"] * 60, 1),
                 tree_peak_rss_mb=round(r["tree_rss_mb"], 1))]


# ------------------------------------------------------------------------------- output


def _cell(value, fmt="{:.3f}") -> str:
    return "" if value is None else fmt.format(value)


def _other(row: dict) -> str:
    parts = []
    if "picture_vs_opencv" in row:
        p = row["picture_vs_opencv"]
        parts.append(f"picture vs OpenCV: median {p['median']:g}, p99 {p['p99']:g} levels")
    if "bytes_per_pixel" in row:
        parts.append(f"{row['bytes_per_pixel']} bytes/px (strength {row['strength']})")
    if "pages_per_minute" in row:
        parts.append(f"{row['pages_per_minute']} pages/min; process tree peak "
                     f"{row['tree_peak_rss_mb']:.0f} MB (sampled)")
    if "note" in row:
        parts.append(row["note"])
    if "steal_percent" in row:
        parts.append(f"steal {row['steal_percent']:g} %")
    return "; ".join(parts)


def table_markdown(report: dict) -> str:
    """The one table (and its notes) as Markdown: what docs/benchmark.md shows."""
    lines = [f"Machine: {report['machine']}.", ""]
    if "scan" in report:
        lines += [f"Scan: {report['scan']}, {report['scan_size']}.", ""]
    lines += ["| row | wall s | time / OpenCV | CPU s | peak RSS MB | RSS / OpenCV | other |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for row in report["rows"]:
        # a command's flags in code type (Markdown renderers turn a bare "--" into a dash)
        name = f"`{row['row']}`" if "--" in row["row"] else row["row"]
        lines.append(f"| {name} | {_cell(row.get('wall_s'))} "
                     f"| {_cell(row.get('time_ratio'), '{:.2f}')} "
                     f"| {_cell(row.get('cpu_s'), '{:.2f}')} "
                     f"| {_cell(row.get('peak_rss_mb'), '{:.0f}')} "
                     f"| {_cell(row.get('rss_ratio'), '{:.2f}')} | {_other(row)} |")
    runs = sorted({row["runs"] for row in report["rows"] if "runs" in row})
    lines += ["", f"Medians of {', '.join(map(str, runs))} run(s) per command; compared "
                  "commands alternate; peak RSS is the largest single process (wait4)."]
    if any("steal_percent" in row for row in report["rows"]):
        lines += ["Steal: the share of the cores' time the hypervisor gave to other machines "
                  "while the row's runs ran (all cores, from /proc/stat). A command that keeps "
                  "every core busy has no idle core to move to and loses more of its wall "
                  "time to steal than one that mostly uses one core: compare ratios measured "
                  "at similar steal."]
    for row in report["rows"]:
        if "stages_s" in row:
            stages = row["stages_s"]
            lines += ["", f"{row['row']}, in-process stage seconds (summed over threads):", "",
                      "| " + " | ".join(stages) + " |", "|" + "---:|" * len(stages),
                      "| " + " | ".join(str(v) for v in stages.values()) + " |"]
    if "denoise_s" in report:
        d = report["denoise_s"]
        lines += ["", "Denoise methods on the scan (seconds, default strength, in-process):",
                  "", "| " + " | ".join(d) + " |", "|" + "---:|" * len(d),
                  "| " + " | ".join(str(v) for v in d.values()) + " |"]
    if "import" in report:
        imp = report["import"]
        heavy = ", ".join(imp["heavy_modules_loaded"]) or "none"
        lines += ["", f"`import sketchgrad`: {imp['sketchgrad_s']} s vs `import numpy` "
                      f"{imp['numpy_s']} s (+{imp['extra_s']} s); heavy modules loaded: {heavy}."]
    if FUTURE_ROWS:
        lines += ["", "Not yet measured: "
                  + "; ".join(f"{k}: {v}" for k, v in FUTURE_ROWS.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", type=Path, help="greyscale scan to use (default: the "
                        "chess-castle ink drawing as a grey PNG, or a synthetic one)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each compared command")
    parser.add_argument("--default", action="store_true",
                        help="default run (4 outputs) and --outputs hsv vs the OpenCV script")
    parser.add_argument("--channels", default="gray", choices=("gray", "rgb"),
                        help="which contenders --default compares (rgb: the colour rows)")
    parser.add_argument("--skimage", action="store_true",
                        help="also the scikit-image script in --default (slow)")
    parser.add_argument("--huge", type=float, metavar="MP",
                        help="a synthetic scan of this many megapixels: bytes per pixel")
    parser.add_argument("--stored", default="grey", choices=("grey", "rgb"),
                        help="how the grey test scans (--default, --huge) are stored: one "
                        "channel, or three equal ones as a scanner set to colour saves them")
    parser.add_argument("--bits", type=int, nargs="+", default=[8], choices=(8, 16),
                        help="bit depths of the --huge scan (default 8)")
    parser.add_argument("--format", nargs="+", default=["png"], choices=("png", "tiff"),
                        help="file formats of the --huge scan (default png)")
    parser.add_argument("--strength", default="1",
                        help="denoise strength for --huge ('auto' estimates it; default 1)")
    parser.add_argument("--denoisers", action="store_true",
                        help="each denoise method's time on the scan")
    parser.add_argument("--batch", type=int, metavar="N", help="N copies of a scan, one run")
    parser.add_argument("--batch-mp", type=float, metavar="MP",
                        help="--batch pages: synthetic of this size (default: the scan)")
    parser.add_argument("--workers", type=int, default=2, help="--batch workers (default 2)")
    parser.add_argument("--import", dest="imports", action="store_true",
                        help="import time of sketchgrad")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    args = parser.parse_args(argv)
    if not (args.default or args.huge or args.denoisers or args.batch or args.imports):
        args.default = args.denoisers = args.imports = True
    # the scans, copies and outputs (up to a few GB with --huge): removed at the end
    work = Path(tempfile.mkdtemp(prefix="sketchgrad-bench-"))
    try:
        report: dict = {"machine": machine(), "rows": []}
        scan = None
        if args.default and args.channels == "rgb" and not args.scan:
            if COLOUR_SCAN is None:
                parser.error("--channels rgb needs a colour scan: give --scan (the marker tree "
                             "diagram of ../shared/images was not found)")
            args.scan = COLOUR_SCAN  # a colour drawing, as it is (JPEG, RGB)
        if args.default or args.denoisers or (args.batch and args.batch_mp is None):
            scan = args.scan or work / "scan.png"
            report["scan"] = str(args.scan) if args.scan else make_scan(scan, REAL_SCAN,
                                                                         args.stored)
            from PIL import Image

            with Image.open(scan) as im:
                report["scan_size"] = (f"{im.size[0]}x{im.size[1]} "
                                       f"({im.size[0] * im.size[1] / 1e6:.1f} MP)")
        if args.default:
            report["rows"] += default_rows(args, work, scan)
        if args.huge:
            report["rows"] += huge_rows(args, work)
        if args.batch:
            report["rows"] += batch_rows(args, work, scan)
        if args.denoisers:
            report["denoise_s"] = denoise_times(scan)
        if args.imports:
            report["import"] = import_times(max(5, args.runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table_markdown(report))
    if args.markdown:
        args.markdown.write_text(table_markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
