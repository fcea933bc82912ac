"""End-to-end tests of the ``sketchgrad`` command, run for real in a subprocess.

The helpers at the top (``drawing``, ``write_scan``, ``sketchgrad``, ``pixels``,
``snapshot``) are shared with test_batch, test_faults and test_distributed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import sketchgrad
from sketchgrad.color import COLOR_SPACES
from sketchgrad.denoise import DENOISE_METHODS
from sketchgrad.gradients import OPERATORS
from sketchgrad.normalize import NORMALIZE_METHODS

ERROR_PREFIX = "sketchgrad: error: "


def drawing(seed: int, shape=(48, 64), contrast: float = 1.0) -> np.ndarray:
    """A pencil-like drawing: dark strokes on light paper, uint8, deterministic."""
    rng = np.random.default_rng(seed)
    h, w = shape
    paper = np.full(shape, 235, np.uint8)
    for _ in range(6):
        p, q = rng.integers(0, [w, h], 2), rng.integers(0, [w, h], 2)
        cv2.line(paper, tuple(int(v) for v in p), tuple(int(v) for v in q),
                 int(rng.integers(20, 120)), int(rng.integers(1, 4)), cv2.LINE_AA)
    img = 235 - (235 - paper.astype(np.float32)) * contrast
    return np.clip(img + rng.normal(0, 2, shape), 0, 255).astype(np.uint8)


def write_scan(path: Path, seed: int, shape=(48, 64), contrast: float = 1.0,
               fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(drawing(seed, shape, contrast)).save(path, format=fmt)
    return path


def sketchgrad_cmd(*args, cwd=None, timeout=120, **kw) -> subprocess.CompletedProcess:
    """Run the real command: ``python -m sketchgrad ARGS``."""
    return subprocess.run([sys.executable, "-m", "sketchgrad", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, **kw)


def sketchgrad_bytes(*args, cwd=None, timeout=120, **kw) -> subprocess.CompletedProcess:
    """Run the real command with bytes in and out (stdin, stdout and stderr as bytes)."""
    if "stdout" not in kw and "stderr" not in kw:
        kw["capture_output"] = True
    if "input" not in kw and "stdin" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run([sys.executable, "-m", "sketchgrad", *map(str, args)], cwd=cwd,
                          timeout=timeout, **kw)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()  # decodes the whole file: a truncated PNG raises here
        return np.asarray(im).copy()


def provenance(path: Path) -> dict:
    with Image.open(path) as im:
        im.load()
        return json.loads(im.text["sketchgrad"])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder``: relative path -> SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pngs(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(ERROR_PREFIX)]


def make_folder(root: Path) -> Path:
    """A folder of good and broken files, as a user's sketchbook might hold."""
    src = root / "scans"
    write_scan(src / "page1.png", 1)
    write_scan(src / "Page2.PNG", 2)
    write_scan(src / "chapter" / "page3.jpg", 3, fmt="JPEG")
    write_scan(src / "no_ending", 4, fmt="PNG")  # found by its first bytes
    (src / "notes.txt").write_text("shopping list")  # not an image: not taken
    (src / "text.png").write_text("this is not a PNG")
    good = (src / "page1.png").read_bytes()
    (src / "chapter" / "truncated.png").write_bytes(good[: len(good) // 2])
    return src


# ----------------------------------------------------------------------------------------


def test_folder_of_good_and_broken_files(tmp_path):
    src = make_folder(tmp_path)
    before = snapshot(src)
    out = tmp_path / "out"
    res = sketchgrad_cmd("run", src, "-o", out, "--outputs", "magnitude,hsv", "--workers", 2,
                         "--json")
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    report = json.loads(res.stdout)
    status = {Path(o["input"]).relative_to(src).as_posix(): o["status"] for o in report}
    assert status == {"page1.png": "ok", "Page2.PNG": "ok", "chapter/page3.jpg": "ok",
                      "no_ending": "ok", "text.png": "failed",
                      "chapter/truncated.png": "failed"}
    for o in report:
        assert set(o) == {"input", "outputs", "status", "error", "seconds"}
        assert (o["error"] is None) == (o["status"] == "ok")
        assert o["seconds"] >= 0
    # one line per broken file, naming it, in the documented form
    errors = error_lines(res.stderr)
    assert len(errors) == 2
    assert any(line.startswith(f"{ERROR_PREFIX}{src / 'text.png'}: ") for line in errors)
    assert any(line.startswith(f"{ERROR_PREFIX}{src / 'chapter' / 'truncated.png'}: ")
               for line in errors)
    # outputs mirror the folders; nothing for broken files; no temporary files
    assert pngs(out) == sorted([
        "page1.magnitude.png", "page1.hsv.png", "Page2.magnitude.png", "Page2.hsv.png",
        "chapter/page3.magnitude.png", "chapter/page3.hsv.png",
        "no_ending.magnitude.png", "no_ending.hsv.png"])
    for o in report:
        for p in o["outputs"]:
            assert Path(p).is_file()
    assert snapshot(src) == before  # inputs byte-identical
    # a one-line progress report per finished file (stderr is not a terminal), then a summary
    assert sum(line.startswith("done: ") for line in res.stderr.splitlines()) == 4
    assert res.stderr.splitlines()[-1].startswith("sketchgrad: 4 done, 0 skipped, 2 failed in")
    # the outputs are what the library computes for the same settings
    config = sketchgrad.PipelineConfig(outputs=("magnitude", "hsv"))
    result = sketchgrad.process(sketchgrad.load_scan(src / "page1.png"), config)
    expected = np.round(np.clip(result.normalized, 0, 1) * 65535).astype(np.int64)
    assert np.abs(pixels(out / "page1.magnitude.png").astype(np.int64) - expected).max() <= 1


def test_magnitude_matches_opencv(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 7, shape=(40, 50))
    out = tmp_path / "out"
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", out, "--denoise", "none",
                         "--operator", "sobel", "--normalize", "minmax",
                         "--outputs", "magnitude", "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # --quiet: nothing but errors
    img = np.asarray(Image.open(tmp_path / "in" / "a.png"), dtype=np.float32) / 255
    # our Sobel is OpenCV's 3x3 Sobel / 8; the default border is scikit-image's "reflect"
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
    mag = np.hypot(gx, gy)
    mag = (mag - mag.min()) / (mag.max() - mag.min())
    got = pixels(out / "a.magnitude.png").astype(np.float64) / 65535
    np.testing.assert_allclose(got, mag, atol=1.5 / 65535)


def test_rerun_skips_overwrite_redoes_and_changes_are_noticed(tmp_path):
    src = tmp_path / "in"
    for i in range(3):
        write_scan(src / f"p{i}.png", 10 + i)
    out = tmp_path / "out"
    args = ("run", src, "-o", out, "--outputs", "magnitude,hsv", "--workers", 1, "--json")
    first = sketchgrad_cmd(*args)
    assert first.returncode == 0, first.stderr
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir()}

    again = sketchgrad_cmd(*args)
    assert again.returncode == 0
    assert [o["status"] for o in json.loads(again.stdout)] == ["skipped"] * 3
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
    assert "0 done, 3 skipped, 0 failed" in again.stderr

    forced = sketchgrad_cmd(*args, "--overwrite")
    assert [o["status"] for o in json.loads(forced.stdout)] == ["ok"] * 3
    assert all(p.stat().st_mtime_ns > stamps[p] for p in out.iterdir())

    # an input that changed after its outputs is done again, the others are skipped
    newest = max(p.stat().st_mtime_ns for p in out.iterdir())
    os.utime(src / "p1.png", ns=(newest + 10**9,) * 2)
    touched = sketchgrad_cmd(*args)
    assert {Path(o["input"]).name: o["status"] for o in json.loads(touched.stdout)} == {
        "p0.png": "skipped", "p1.png": "ok", "p2.png": "skipped"}

    # other settings: everything is done again, and the provenance says so
    scharr = sketchgrad_cmd(*args, "--operator", "scharr")
    assert [o["status"] for o in json.loads(scharr.stdout)] == ["ok"] * 3
    assert provenance(out / "p0.hsv.png")["config"]["operator"] == "scharr"


def test_toml_config_flags_override_and_unknown_keys(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 21)
    cfg = tmp_path / "run.toml"
    cfg.write_text('denoise = "median"\nstrength = 1.0\noperator = "scharr"\n'
                   'outputs = ["magnitude", "sketch"]\nnormalize-scope = "image"\n'
                   'png_compression = 6\nquiet = true\n')
    out = tmp_path / "out"
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", out, "--config", cfg,
                         "--operator", "prewitt")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # quiet = true from the file
    assert pngs(out) == ["a.magnitude.png", "a.sketch.png"]
    recorded = provenance(out / "a.magnitude.png")
    assert recorded["version"] == sketchgrad.__version__
    assert recorded["config"] == sketchgrad.PipelineConfig(
        denoise="median", strength=1.0, operator="prewitt",
        outputs=("magnitude", "sketch")).to_dict() | {"outputs": ["magnitude", "sketch"]}

    bad = tmp_path / "bad.toml"
    bad.write_text('denoise = "median"\ndenoiser = "gaussian"\n[extra]\nx = 1\n')
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "out2", "--config", bad)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    (line,) = error_lines(res.stderr)
    assert f"{bad}: unknown setting(s) 'denoiser', 'extra'" in line
    assert not (tmp_path / "out2").exists()  # reported before any work

    wrong_type = tmp_path / "type.toml"
    wrong_type.write_text("workers = \"two\"\n")
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "out2", "--config",
                         wrong_type)
    assert res.returncode == 2
    assert "workers = 'two' must be an integer" in res.stderr


def test_config_from_result_png_reuses_the_settings(tmp_path):
    write_scan(tmp_path / "a" / "x.png", 31)
    write_scan(tmp_path / "b" / "y.png", 32)
    first = sketchgrad_cmd("run", tmp_path / "a", "-o", tmp_path / "out_a", "--denoise",
                           "median", "--strength", "2", "--operator", "central",
                           "--normalize", "zscore", "--color", "viridis",
                           "--outputs", "magnitude,hsv")
    assert first.returncode == 0, first.stderr
    reused = sketchgrad_cmd("run", tmp_path / "b", "-o", tmp_path / "out_b", "--config-from",
                            tmp_path / "out_a" / "x.hsv.png")
    explicit = sketchgrad_cmd("run", tmp_path / "b", "-o", tmp_path / "out_c", "--denoise",
                              "median", "--strength", "2", "--operator", "central",
                              "--normalize", "zscore", "--color", "viridis",
                              "--outputs", "magnitude,hsv")
    assert reused.returncode == explicit.returncode == 0, reused.stderr
    assert pngs(tmp_path / "out_b") == ["y.hsv.png", "y.magnitude.png"]
    for name in ("y.hsv.png", "y.magnitude.png"):
        np.testing.assert_array_equal(pixels(tmp_path / "out_b" / name),
                                      pixels(tmp_path / "out_c" / name))
    assert provenance(tmp_path / "out_b" / "y.hsv.png")["config"] == \
        provenance(tmp_path / "out_a" / "x.hsv.png")["config"]
    # the default run differs, so the settings really came from the PNG
    default = sketchgrad_cmd("run", tmp_path / "b", "-o", tmp_path / "out_d", "--outputs",
                             "magnitude,hsv")
    assert default.returncode == 0
    assert not np.array_equal(pixels(tmp_path / "out_d" / "y.hsv.png"),
                              pixels(tmp_path / "out_b" / "y.hsv.png"))
    # a PNG without provenance is a usage error
    res = sketchgrad_cmd("run", tmp_path / "b", "-o", tmp_path / "out_e", "--config-from",
                         tmp_path / "b" / "y.png")
    assert res.returncode == 2
    assert "has no sketchgrad provenance" in res.stderr


def test_same_stems_never_overwrite(tmp_path):
    src = tmp_path / "in"
    write_scan(src / "a" / "page1.png", 41)
    write_scan(src / "b" / "page1.png", 42)
    write_scan(src / "page1.png", 43)
    write_scan(src / "page1.jpg", 44, fmt="JPEG")
    out = tmp_path / "out"
    res = sketchgrad_cmd("run", src, "-o", out, "--outputs", "magnitude", "--json")
    assert res.returncode == 0, res.stderr
    mapping = {Path(o["input"]).relative_to(src).as_posix():
               Path(o["outputs"][0]).relative_to(out).as_posix()
               for o in json.loads(res.stdout)}
    assert mapping == {"a/page1.png": "a/page1.magnitude.png",
                       "b/page1.png": "b/page1.magnitude.png",
                       "page1.png": "page1.png.magnitude.png",
                       "page1.jpg": "page1.jpg.magnitude.png"}
    # each output was made from its own input
    for rel, dest in mapping.items():
        result = sketchgrad.process(sketchgrad.load_scan(src / rel),
                                    sketchgrad.PipelineConfig(outputs=("magnitude",)))
        expected = np.round(np.clip(result.normalized, 0, 1) * 65535)
        assert np.abs(pixels(out / dest) - expected).max() <= 1

    # two files given directly with the same name: the second is refused, not overwritten
    res = sketchgrad_cmd("run", src / "a" / "page1.png", src / "b" / "page1.png", "-o",
                         tmp_path / "flat", "--outputs", "magnitude")
    assert res.returncode == 1
    (line,) = error_lines(res.stderr)
    assert line.startswith(f"{ERROR_PREFIX}{src / 'b' / 'page1.png'}: its outputs would have "
                           f"the same names as those of {src / 'a' / 'page1.png'}")
    assert pngs(tmp_path / "flat") == ["page1.png.magnitude.png"]


def test_glob_patterns_and_outdir_inside_the_input_folder(tmp_path):
    src = tmp_path / "in"
    write_scan(src / "x" / "one.png", 51)
    write_scan(src / "x" / "two.jpg", 52, fmt="JPEG")
    write_scan(src / "y" / "three.png", 53)
    out = src / "results"  # inside the searched folder
    res = sketchgrad_cmd("run", f"{src}/**/*.png", "-o", out, "--outputs", "hsv")
    assert res.returncode == 0, res.stderr
    assert pngs(out) == ["x/one.hsv.png", "y/three.hsv.png"]
    # the folder itself, twice: outputs are never taken as inputs
    for _ in range(2):
        res = sketchgrad_cmd("run", src, "-o", out, "--outputs", "hsv", "--json")
        assert res.returncode == 0, res.stderr
        assert sorted(Path(o["input"]).name for o in json.loads(res.stdout)) == [
            "one.png", "three.png", "two.jpg"]
    assert pngs(out) == ["x/one.hsv.png", "x/two.hsv.png", "y/three.hsv.png"]
    res = sketchgrad_cmd("run", f"{src}/*.tif", "-o", out)
    assert res.returncode == 1
    assert "no file matches this pattern" in res.stderr


def test_outdir_that_is_a_file_and_usage_errors(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 61)
    not_a_folder = tmp_path / "out.png"
    not_a_folder.write_bytes(b"precious")
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", not_a_folder)
    assert res.returncode == 2
    assert res.stderr.strip() == (f"{ERROR_PREFIX}{not_a_folder}: the output folder is a "
                                  "file; choose a folder (-o)")
    assert not_a_folder.read_bytes() == b"precious"

    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "o", "--denoise", "sharpen")
    assert res.returncode == 2
    for name in DENOISE_METHODS:
        assert repr(name) in res.stderr
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "o", "--normalize-scope",
                         "page")
    assert res.returncode == 2
    assert "--normalize-scope 'page' is not known; choose one of: 'image', 'batch'" in res.stderr
    res = sketchgrad_cmd("run", tmp_path / "in")  # no -o
    assert res.returncode == 2
    assert "-o OUTDIR is required" in res.stderr
    assert sketchgrad_cmd("frobnicate").returncode == 2
    assert not (tmp_path / "o").exists()


def test_methods_and_version():
    from importlib.metadata import version

    res = sketchgrad_cmd("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"sketchgrad {version('sketchgrad')}"
    res = sketchgrad_cmd("methods")
    assert res.returncode == 0
    lines = res.stdout.splitlines()
    for registry in (DENOISE_METHODS, OPERATORS, NORMALIZE_METHODS):
        for name, entry in registry.items():
            # each entry's doc is its function's first docstring line (without ``)
            first = entry.func.__doc__.strip().splitlines()[0].replace("``", "")
            assert f"  {name} " in res.stdout
            assert any(line.split() and line.split()[0] == name and line.endswith(first)
                       for line in lines), name
    assert "``" not in res.stdout
    for space in COLOR_SPACES:
        assert any(line.split() and line.split()[0] == space and len(line.split()) > 3
                   for line in lines), space
    assert "  sepia     #24160c -> #7a4e26 -> #d4b07a -> #fbf5e6 (in oklab)" in lines


def test_progress_bar_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    for i in range(3):
        write_scan(tmp_path / "in" / f"p{i}.png", 70 + i)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.run([sys.executable, "-m", "sketchgrad", "run", str(tmp_path / "in"),
                               "-o", str(tmp_path / "out"), "--outputs", "hsv", "--workers",
                               "1"], stdout=subprocess.PIPE, stderr=follower, timeout=120)
        os.close(follower)
        follower = None
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: nothing left
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    shown = b"".join(chunks).decode()
    assert proc.returncode == 0
    assert "3/3" in shown and "\r" in shown  # a tqdm bar redrawn in place
    assert "done: " not in shown  # no per-file lines under the bar
    assert "3 done, 0 skipped, 0 failed" in shown


@pytest.mark.slow
def test_workers_give_identical_results(tmp_path):
    for i in range(2):
        write_scan(tmp_path / "in" / f"p{i}.png", 80 + i, shape=(60, 70))
    runs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        res = sketchgrad_cmd("run", tmp_path / "in", "-o", out, "--workers", workers)
        assert res.returncode == 0, res.stderr
        runs[workers] = out
    assert pngs(runs[1]) == pngs(runs[2])
    assert len(pngs(runs[1])) == 8  # four kinds each, the preview included
    for name in pngs(runs[1]):
        np.testing.assert_array_equal(pixels(runs[1] / name), pixels(runs[2] / name))
        assert provenance(runs[1] / name) == provenance(runs[2] / name)


def test_tile_size_flatten_background_and_compression_reach_the_pipeline(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 90, shape=(70, 90))
    runs = {}
    for name, extra in (("whole", ("--tile-size", 0)), ("tiled", ("--tile-size", 16)),
                        ("flat", ("--flatten-background",)),
                        ("stored", ("--png-compression", 0))):
        out = tmp_path / name
        res = sketchgrad_cmd("run", tmp_path / "in", "-o", out, "--outputs", "magnitude,hsv",
                             *extra)
        assert res.returncode == 0, res.stderr
        runs[name] = out
    config = {n: provenance(runs[n] / "a.hsv.png")["config"] for n in runs}
    assert config["whole"]["tile_size"] == 0 and config["tiled"]["tile_size"] == 16
    assert config["flat"]["flatten_background"] is True
    assert config["whole"]["flatten_background"] == "auto"   # the default (False before issue 15)
    for kind in ("magnitude", "hsv"):
        whole = pixels(runs["whole"] / f"a.{kind}.png").astype(np.int64)
        # 5 x 6 tiles with a halo give the whole-image result, to one level
        assert np.abs(pixels(runs["tiled"] / f"a.{kind}.png") - whole).max() <= 1
        # the zlib level changes the bytes, never the pixels; level 0 stores them unpacked
        np.testing.assert_array_equal(pixels(runs["stored"] / f"a.{kind}.png"), whole)
        channels = 1 if kind == "magnitude" else 3
        raw = 70 * (90 * channels * (2 if kind == "magnitude" else 1) + 1)  # rows + filter
        assert (runs["stored"] / f"a.{kind}.png").stat().st_size > raw > \
            (runs["whole"] / f"a.{kind}.png").stat().st_size
    assert not np.array_equal(pixels(runs["flat"] / "a.magnitude.png"),
                              pixels(runs["whole"] / "a.magnitude.png"))


def test_compare_sheet(tmp_path):
    write_scan(tmp_path / "a.png", 91)
    sheet = tmp_path / "sheet.png"
    res = sketchgrad_cmd("compare", tmp_path / "a.png", "--what", "operator", "-o", sheet,
                         "--denoise", "median")
    assert res.returncode == 0, res.stderr
    assert pixels(sheet).ndim == 3
    assert provenance(sheet)["config"]["denoise"] == "median"
    before = sheet.read_bytes()
    res = sketchgrad_cmd("compare", tmp_path / "a.png", "--what", "normalize", "-o", sheet)
    assert res.returncode == 2
    assert f"{sheet}: exists; choose another -o or use --overwrite" in res.stderr
    assert sheet.read_bytes() == before
    (tmp_path / "bad.png").write_bytes(b"")
    res = sketchgrad_cmd("compare", tmp_path / "bad.png", "--what", "ramp", "-o",
                         tmp_path / "s2.png")
    assert res.returncode == 1
    (line,) = error_lines(res.stderr)
    assert line.startswith(f"{ERROR_PREFIX}{tmp_path / 'bad.png'}: ")
    assert not (tmp_path / "s2.png").exists()
    res = sketchgrad_cmd("compare", tmp_path / "a.png", "--what", "colour", "-o", sheet)
    assert res.returncode == 2 and "invalid choice: 'colour'" in res.stderr


def test_unicode_name_preview_prints_only_the_progress_lines(tmp_path):
    # The preview's title holds the file name; a CJK name has no glyph in matplotlib's
    # default font, and that note must not reach the one-line-per-file report.
    scan = write_scan(tmp_path / "skizze ü 日本.png", 3)
    res = sketchgrad_cmd("run", scan, "-o", tmp_path / "out", "--outputs", "preview")
    assert res.returncode == 0, res.stderr
    assert "Glyph" not in res.stderr and "Warning" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 2, res.stderr  # one file line, one summary
    assert pixels(tmp_path / "out" / "skizze ü 日本.preview.png").ndim == 3


# ---------------------------------------------------------------------------------- stdio


def png_from(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()  # the whole PNG decodes: stdout held nothing else
    return im


def test_dash_reads_stdin_and_writes_stdout(tmp_path):
    scan = write_scan(tmp_path / "page.png", 95)
    data = scan.read_bytes()
    # run: stdin -> stdout, file -> stdout, and the same scan into a folder
    piped = sketchgrad_bytes("run", "-", "-o", "-", "--outputs", "magnitude", input=data,
                             cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.decode().splitlines()[0].startswith("done: - (")
    from_file = sketchgrad_bytes("run", scan, "-o", "-", "--outputs", "magnitude", "--quiet",
                                 cwd=tmp_path)
    assert from_file.returncode == 0 and from_file.stderr == b""
    res = sketchgrad_cmd("run", scan, "-o", tmp_path / "out", "--outputs", "magnitude")
    assert res.returncode == 0, res.stderr
    kept = tmp_path / "out" / "page.magnitude.png"
    for stream in (piped.stdout, from_file.stdout):
        im = png_from(stream)
        assert im.mode in ("I;16", "I")  # 16-bit grey (Pillow < 10.3 says "I")
        np.testing.assert_array_equal(np.asarray(im), pixels(kept))
        assert json.loads(im.text["sketchgrad"]) == provenance(kept)
    # compare: stdin -> stdout gives the sheet it writes into a file (the title names "-")
    sheet = sketchgrad_bytes("compare", "-", "--what", "operator", "-o", "-", input=data,
                             cwd=tmp_path)
    assert sheet.returncode == 0, sheet.stderr
    assert sheet.stderr.decode().splitlines() == ["sketchgrad: wrote standard output"]
    res = sketchgrad_bytes("compare", "-", "--what", "operator", "-o", tmp_path / "sheet.png",
                           input=data)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(np.asarray(png_from(sheet.stdout)),
                                  pixels(tmp_path / "sheet.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "page.png", "sheet.png"]


def test_dash_input_that_is_not_a_scan_fails_with_its_name(tmp_path):
    for args in (("run", "-", "-o", "-", "--outputs", "hsv"),
                 ("compare", "-", "--what", "ramp", "-o", "-")):
        res = sketchgrad_bytes(*args, input=b"", cwd=tmp_path)
        assert res.returncode == 1
        assert res.stdout == b""
        (line,) = error_lines(res.stderr.decode())
        assert line == f"{ERROR_PREFIX}-: the file is empty (0 bytes); re-export or re-scan it"
    assert list(tmp_path.iterdir()) == []


def test_every_other_dash_is_a_usage_error(tmp_path):
    scan = write_scan(tmp_path / "a.png", 96)
    write_scan(tmp_path / "b.png", 97)
    (tmp_path / "folder").mkdir()
    write_scan(tmp_path / "folder" / "c.png", 98)
    before = snapshot(tmp_path)
    cases = {
        ("run", "-", "-o", "out"): "- (standard input) has no file name to name outputs "
        "after; write the PNG to standard output with -o - and one --outputs kind",
        ("run", "-", scan, "-o", "-", "--outputs", "hsv"): "- (standard input) must be the "
        "only INPUT; give the other scans in another run",
        ("run", scan, "-o", "-"): "-o - (standard output) holds one PNG; choose one kind "
        "with --outputs (e.g. --outputs hsv)",
        ("run", scan, tmp_path / "b.png", "-o", "-", "--outputs", "hsv"): "-o - (standard "
        "output) takes one INPUT, not 2; give an output folder for several",
        ("run", tmp_path / "folder", "-o", "-", "--outputs", "hsv"): f"{tmp_path / 'folder'}: "
        "is a folder, and -o - (standard output) holds one PNG; give one scan file, or an "
        "output folder",
        ("run", scan, "-o", "-", "--outputs", "hsv", "--json"): "--json cannot be used with "
        "-o - (standard output holds the PNG and the scan is processed here); drop one of them",
        ("run", scan, "-o", "-", "--outputs", "hsv", "--dry-run"): "--dry-run lists files to "
        "be written; -o - writes none, drop one of them",
        ("run", scan, "-o", "out", "--config", "-"): "--config -: settings are not read from "
        "standard input; give a file",
        ("compare", scan, "--what", "ramp", "-o", "s.png", "--config-from", "-"):
        "--config-from -: settings are not read from standard input; give a file",
    }
    for args, message in cases.items():
        res = sketchgrad_bytes(*args, input=scan.read_bytes(), cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stdout == b""
        assert res.stderr.decode().splitlines() == [ERROR_PREFIX + message], args
    assert snapshot(tmp_path) == before  # no file named "-", no output folder


def test_dash_refuses_a_terminal(tmp_path):
    import pty

    scan = write_scan(tmp_path / "a.png", 99)
    leader, follower = pty.openpty()
    try:
        to_tty = sketchgrad_bytes("compare", scan, "--what", "ramp", "-o", "-",
                                  stdout=follower, stderr=subprocess.PIPE, cwd=tmp_path)
        from_tty = sketchgrad_bytes("run", "-", "-o", "-", "--outputs", "hsv", stdin=follower,
                                    cwd=tmp_path)
    finally:
        os.close(follower)
        os.close(leader)
    assert to_tty.returncode == from_tty.returncode == 2
    assert to_tty.stderr.decode() == (f"{ERROR_PREFIX}-o - writes a PNG to standard output, "
                                      "which is a terminal; redirect it to a file or a pipe "
                                      "(... -o - > out.png)\n")
    assert from_tty.stderr.decode() == (f"{ERROR_PREFIX}- reads a scan from standard input, "
                                        "which is a terminal; pipe or redirect the scan into "
                                        "it (... - < page.png)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


# ------------------------------------------------------------------- exit codes and help


def test_internal_error_exits_3_and_usage_2(tmp_path):
    # a bug planted in the command: the one-line report, and status 3 (not 1: inputs failed)
    bug = ("import sys, sketchgrad.cli as cli\n"
           "def boom():\n    raise ZeroDivisionError('planted')\n"
           "cli._methods = boom\n"
           "sys.exit(cli.main(sys.argv[1:]))\n")
    res = subprocess.run([sys.executable, "-c", bug, "methods"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 3
    assert res.stderr.splitlines() == [
        f"{ERROR_PREFIX}internal error (ZeroDivisionError: planted); run again with --debug "
        "and report the traceback"]
    res = subprocess.run([sys.executable, "-c", bug, "methods", "--frobnicate"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "unrecognized arguments: --frobnicate" in res.stderr


def test_help_documents_exit_codes_and_examples_that_run(tmp_path):
    from sketchgrad import cli

    main_help = sketchgrad_cmd("--help")
    assert main_help.returncode == 0
    codes = {"0": "done", "1": "some inputs failed", "2": "usage error",
             "3": "internal error", "130": "interrupted"}
    for command in ("run", "methods", "compare"):
        shown = sketchgrad_cmd(command, "--help")
        assert shown.returncode == 0
        for text in (main_help.stdout, shown.stdout):
            status = text[text.index("exit status:"):].splitlines()[1:]
            assert {line.split()[0]: line.split(None, 1)[1] for line in status}.keys() == \
                codes.keys()
            for code, meaning in codes.items():
                assert any(line.split()[0] == code and meaning in line for line in status)
            block = text[text.index("examples:"):text.index("exit status:")].splitlines()
            examples = [line for line in block if f"sketchgrad {command} " in line + " "]
            assert len(examples) == 2, (command, examples)
    assert str(os.cpu_count()) not in sketchgrad_cmd("run", "--help").stdout.split(
        "--workers N")[1].split("--")[0]
    # every example, run as written (with this Python) on a page, a JPEG and a folder
    write_scan(tmp_path / "page.png", 100)
    write_scan(tmp_path / "page.jpg", 101, fmt="JPEG")
    write_scan(tmp_path / "scans" / "p1.png", 102)
    command = f"{sys.executable} -m sketchgrad"
    for examples in cli._EXAMPLES.values():
        for example in examples:
            res = subprocess.run(example.replace("sketchgrad ", command + " "), shell=True,
                                 cwd=tmp_path, capture_output=True, timeout=300)
            assert res.returncode == 0, (example, res.stderr)
    for name in ("page.hsv.png", "sheet.png", "ramps.png"):
        png_from((tmp_path / name).read_bytes())
    assert len(pngs(tmp_path / "results")) == 4


# ------------------------------------------------------------------------------- dry run


def test_dry_run_lists_what_a_run_would_do_and_writes_nothing(tmp_path):
    src = tmp_path / "in"
    for name, seed in (("a.png", 1), ("b.png", 2), ("c.png", 3), ("d.png", 4)):
        write_scan(src / name, seed)
    out = tmp_path / "out"
    args = ("run", src, "-o", out, "--outputs", "magnitude,hsv")
    assert sketchgrad_cmd(*args).returncode == 0
    newest = max(p.stat().st_mtime_ns for p in out.iterdir())
    os.utime(src / "b.png", ns=(newest + 10**9,) * 2)  # b changed after its outputs
    (out / "c.hsv.png").unlink()
    (out / "d.hsv.png").write_bytes(b"someone else's file")
    write_scan(src / "e.png", 5)  # new
    before = snapshot(tmp_path)
    res = sketchgrad_cmd(*args, "--dry-run")
    assert res.returncode == 1  # d would fail
    assert res.stdout.splitlines() == [
        f"skip  {src / 'a.png'}  (up to date: newer than the input, same settings)",
        f"write {src / 'b.png'} -> {out / 'b.magnitude.png'}, {out / 'b.hsv.png'}  "
        "(the input changed after its outputs were written)",
        f"write {src / 'c.png'} -> {out / 'c.magnitude.png'}, {out / 'c.hsv.png'}  "
        "(missing c.hsv.png)",
        f"fail  {src / 'd.png'}  ({out / 'd.hsv.png'} exists and was not written by "
        "sketchgrad; move it away or use --overwrite)",
        f"write {src / 'e.png'} -> {out / 'e.magnitude.png'}, {out / 'e.hsv.png'}  "
        "(no outputs yet)"]
    assert res.stderr.splitlines() == [
        "sketchgrad: dry run: 3 to process, 1 to skip, 1 would fail; nothing was written"]
    other = sketchgrad_cmd(*args, "--dry-run", "--operator", "scharr", "--json")
    assert json.loads(other.stdout)[0] == {
        "input": str(src / "a.png"), "action": "write",
        "outputs": [str(out / "a.magnitude.png"), str(out / "a.hsv.png")],
        "reason": "made with other settings (operator: 'sobel' -> 'scharr')"}
    missing = sketchgrad_cmd("run", src, "-o", tmp_path / "new", "--dry-run", "--quiet")
    assert missing.returncode == 0 and missing.stderr == ""
    assert len(missing.stdout.splitlines()) == 5
    assert snapshot(tmp_path) == before  # nothing written, no folder created
    # the real run does what the dry run listed
    real = sketchgrad_cmd(*args, "--json")
    statuses = {Path(o["input"]).name: o["status"] for o in json.loads(real.stdout)}
    assert statuses == {"a.png": "skipped", "b.png": "ok", "c.png": "ok", "d.png": "failed",
                        "e.png": "ok"}


def test_the_command_runs_blas_on_one_thread(tmp_path):
    """OPENBLAS_NUM_THREADS=1 unless set, before NumPy and OpenCV load: their OpenBLAS
    libraries (NumPy's, and the copy OpenCV's wheels bundle) get one thread, and the
    processes the command starts inherit the setting; a value the user set is kept.
    (OpenBLAS threads spin for CPU the pipeline never uses.)
    """
    pytest.importorskip("threadpoolctl")
    scan = write_scan(tmp_path / "in" / "page.png", 11)
    code = ("import os, sys\n"
            "from sketchgrad.cli import main\n"
            "status = main(sys.argv[1:])\n"
            "from threadpoolctl import threadpool_info\n"
            "import cv2\n"
            "blas = [i for i in threadpool_info() if i['internal_api'] == 'openblas']\n"
            "print(status, os.environ['OPENBLAS_NUM_THREADS'], "
            "*sorted({i['num_threads'] for i in blas}) or ['no-openblas'])\n")
    args = [sys.executable, "-c", code, "run", str(scan), "-o", str(tmp_path / "out"), "-q"]
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    words = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120,
                           check=True).stdout.split()
    assert words[:2] == ["0", "1"]
    assert words[2:] in (["1"], ["no-openblas"])  # NumPy and OpenCV built on another BLAS
    words = subprocess.run(args + ["--overwrite"], env=dict(env, OPENBLAS_NUM_THREADS="2"),
                           capture_output=True, text=True, timeout=120, check=True
                           ).stdout.split()
    assert words[:2] == ["0", "2"]


# ------------------------------------------------------------------- leaving the program

# A program that runs the command as the installed `sketchgrad` script does (console()),
# after setting up what a normal exit must still honour.
_CONSOLE = """\
import atexit, sys, threading, time
from pathlib import Path
from sketchgrad import cli
marker = Path(sys.argv[1])
atexit.register(lambda: (print("atexit ran", file=sys.stderr), marker.write_text("atexit")))
if sys.argv[2] == "thread":  # a non-daemon thread that finishes after the command
    def late():
        time.sleep(0.5)
        marker.with_suffix(".thread").write_text("done")
    threading.Thread(target=late).start()
if sys.argv[2] == "no-runner":  # an interpreter without CPython's runner of exit functions
    del atexit._run_exitfuncs
sys.argv = ["sketchgrad", *sys.argv[3:]]
cli.console()
print("not reached", file=sys.stderr)
"""


def test_console_flushes_runs_atexit_and_keeps_the_status(tmp_path):
    scan = write_scan(tmp_path / "page.png", 3)
    marker = tmp_path / "marker.txt"
    # a large stdout (the JSON of a run) arrives whole through a pipe
    res = subprocess.run([sys.executable, "-c", _CONSOLE, marker, "-", "run", scan, "-o",
                          tmp_path / "out", "--json", "--quiet"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0
    rows = json.loads(res.stdout)
    assert [(Path(r["input"]).name, r["status"]) for r in rows] == [("page.png", "ok")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        f"page.{k}.png" for k in ("hsv", "magnitude", "preview", "sketch")]
    assert res.stderr == "atexit ran\n" and marker.read_text() == "atexit"
    # the status of a failed input and of a usage error come through unchanged
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    res = subprocess.run([sys.executable, "-c", _CONSOLE, marker, "-", "run", bad, "-o",
                          tmp_path / "out2", "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1
    assert res.stderr.startswith(f"{ERROR_PREFIX}{bad}: ") and res.stderr.endswith(
        "atexit ran\n")
    res = subprocess.run([sys.executable, "-c", _CONSOLE, marker, "-", "run", scan],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert f"{ERROR_PREFIX}-o OUTDIR is required" in res.stderr


def test_console_waits_for_a_running_thread(tmp_path):
    # os._exit would kill the thread: the normal exit waits for it, as Python does
    marker = tmp_path / "marker.txt"
    res = subprocess.run([sys.executable, "-c", _CONSOLE, marker, "thread", "methods"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "denoise methods (--denoise):" in res.stdout
    assert marker.with_suffix(".thread").read_text() == "done"
    assert marker.read_text() == "atexit" and "not reached" not in res.stderr


def test_console_script_and_module_use_console():
    # the installed program and `python -m sketchgrad` both leave through console()
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "sketchgrad"]
    assert script.value == "sketchgrad.cli:console"
    main_py = Path(sketchgrad.__file__).with_name("__main__.py").read_text()
    assert "console()" in main_py


def test_console_without_cpythons_exit_runner_exits_normally(tmp_path):
    marker = tmp_path / "marker.txt"
    res = subprocess.run([sys.executable, "-c", _CONSOLE, marker, "no-runner", "methods"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "denoise methods (--denoise):" in res.stdout
    assert res.stderr == "atexit ran\n" and marker.read_text() == "atexit"
