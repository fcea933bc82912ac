"""Decoding the command's scan ahead (sketchgrad.ahead): the same scan, or no decode at all."""

import json
import os
import sys
import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from PIL import Image, ImageOps, PngImagePlugin

from sketchgrad import ahead
from sketchgrad import io as sio
from sketchgrad.cli import main
from sketchgrad.errors import ScanError
from sketchgrad.io import load_scan
from sketchgrad.renderer import start_renderer


@pytest.fixture(autouse=True)
def nothing_left():
    """No decode is pending before a test, and none is left after it (nor its switch interval)."""
    ahead.discard()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default, whatever an earlier test left
    try:
        yield
        ahead.discard()
        assert sys.getswitchinterval() == 0.005
    finally:
        sys.setswitchinterval(interval)


@pytest.fixture
def opened(monkeypatch):
    """Counts the files load_scan opens with Pillow itself (not taken from a decode ahead)."""
    calls = []
    real = sio._pillow_open

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(sio, "_pillow_open", counting)
    return calls


def _drawing(rng, shape):
    """Dark strokes on light paper, uint8."""
    paper = rng.integers(200, 256, shape, dtype=np.uint8)
    paper[shape[0] // 3:shape[0] // 3 + 4] //= 5
    return paper


def _values(scan):
    """The scan's samples as held: a native image's integers, else the float32 image."""
    return getattr(scan.image, "samples", scan.image)


def _files(tmp_path, rng):
    """One file of each kind a command may decode ahead, by name."""
    grey = _drawing(rng, (61, 47))
    rgb = np.dstack([grey, grey[::-1], np.roll(grey, 5, axis=1)])
    files = {}

    def png(name, image, **kw):
        path = tmp_path / name
        image.save(path, **kw)
        files[name] = path

    png("grey.png", Image.fromarray(grey))
    png("grey16.png", Image.fromarray(grey.astype(np.uint16) * 256 + 3))
    png("rgb.png", Image.fromarray(rgb))
    png("rgba.png", Image.fromarray(np.dstack([rgb, grey[::-1]])))
    palette = Image.fromarray(rgb).quantize(16)
    png("palette.png", palette, transparency=3)
    png("grey.jpg", Image.fromarray(grey), quality=95)
    png("rgb.jpg", Image.fromarray(rgb), quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned: load_scan turns it upright
    png("turned.jpg", Image.fromarray(rgb), quality=95, exif=exif)
    png("turned.png", Image.fromarray(grey), exif=exif)
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "after the pixels?")
    png("text.png", Image.fromarray(grey), pnginfo=info, dpi=(300, 300))
    return files


@pytest.mark.parametrize("mode", ["auto", "gray", "rgb"])
@pytest.mark.parametrize("dtype", ["native", "float32"])
def test_a_scan_decoded_ahead_loads_as_it_does_otherwise(tmp_path, rng, opened, mode, dtype):
    for name, path in _files(tmp_path, rng).items():
        expected = load_scan(path, mode=mode, dtype=dtype)
        assert opened == [str(path)]
        opened.clear()
        ahead.start(path)
        got = load_scan(path, mode=mode, dtype=dtype)
        assert opened == [], f"{name} was decoded again"
        assert type(got.image) is type(expected.image)
        assert _values(got).dtype == _values(expected).dtype
        assert_array_equal(_values(got), _values(expected), err_msg=name)
        assert got.meta == expected.meta, name


def test_a_scan_decoded_ahead_matches_pillow(tmp_path, rng):
    files = _files(tmp_path, rng)
    ahead.start(files["grey.png"])
    grey = load_scan(files["grey.png"], dtype="native")
    assert_array_equal(_values(grey), np.asarray(Image.open(files["grey.png"])))
    ahead.start(files["turned.jpg"])
    turned = load_scan(files["turned.jpg"], mode="rgb").image
    upright = np.asarray(ImageOps.exif_transpose(Image.open(files["turned.jpg"])))
    assert turned.shape == (47, 61, 3)
    assert_array_equal(np.round(turned * 255).astype(np.uint8), upright)
    ahead.start(files["turned.png"])
    turned = load_scan(files["turned.png"], dtype="native")
    assert turned.meta.orientation == 6
    upright = np.asarray(ImageOps.exif_transpose(Image.open(files["turned.png"])))
    assert_array_equal(_values(turned), upright)
    ahead.start(files["grey16.png"])
    wide = load_scan(files["grey16.png"], dtype="native")
    assert wide.meta.bit_depth == 16
    assert_array_equal(_values(wide), np.asarray(Image.open(files["grey16.png"])))


def test_a_16_bit_colour_png_is_left_to_load_scan(tmp_path, rng, opened):
    rgb16 = rng.integers(0, 65536, (9, 7, 3), dtype=np.uint16)
    path = tmp_path / "rgb16.png"
    import cv2  # Pillow cannot write 16-bit RGB

    assert cv2.imwrite(str(path), rgb16[..., ::-1])
    ahead.start(path)
    ahead.settle()
    with open(path, "rb") as fp:
        assert ahead.take(fp) is None
    ahead.start(path)
    scan = load_scan(path, mode="rgb")
    assert opened == [str(path)]
    assert_array_equal(scan.image, (rgb16 / 65535).astype(np.float32))


def test_a_file_changed_after_the_decode_is_read_again(tmp_path, rng, opened):
    path = tmp_path / "scan.png"
    Image.fromarray(_drawing(rng, (20, 30))).save(path)
    ahead.start(path)
    ahead.settle()
    newer = _drawing(rng, (20, 30))
    Image.fromarray(newer).save(path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    scan = load_scan(path, dtype="native")
    assert opened == [str(path)]
    assert_array_equal(scan.image.samples, newer)


def test_another_file_is_not_given_the_decode(tmp_path, rng, opened):
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    images = _drawing(rng, (12, 9)), _drawing(rng, (12, 9))
    for path, image in zip((first, second), images, strict=True):
        Image.fromarray(image).save(path)
    ahead.start(first)
    assert_array_equal(load_scan(second, dtype="native").image.samples, images[1])
    # one chance: the decode of the first is dropped, so it is opened again
    assert_array_equal(load_scan(first, dtype="native").image.samples, images[0])
    assert opened == [str(second), str(first)]


def test_a_file_object_or_another_page_never_takes_it(tmp_path, rng, opened):
    path = tmp_path / "a.png"
    Image.fromarray(_drawing(rng, (12, 9))).save(path)
    ahead.start(path)
    with open(path, "rb") as fp:
        load_scan(fp)
    assert opened == [str(path)]
    ahead.start(path)
    with pytest.raises(ScanError, match="has no page 1; it has 1 page"):
        load_scan(path, page=1)
    assert len(opened) == 2


def test_a_corrupt_scan_fails_with_the_message_it_has_without(tmp_path, rng):
    path = tmp_path / "cut.png"
    Image.fromarray(_drawing(rng, (300, 200))).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ScanError) as without:
        load_scan(path)
    ahead.start(path)
    with pytest.raises(ScanError) as with_ahead:
        load_scan(path)
    assert str(with_ahead.value) == str(without.value)
    assert str(path) in str(without.value) and "truncated" in str(without.value)


def test_max_pixels_still_refuses_a_scan_decoded_ahead(tmp_path, rng):
    path = tmp_path / "big.png"
    Image.fromarray(_drawing(rng, (80, 70))).save(path)
    ahead.start(path)
    with pytest.raises(ScanError, match=r"70x80 = 5,600 pixels is more than max_pixels=5,000"):
        load_scan(path, max_pixels=5000)


def test_what_is_not_decoded_ahead(tmp_path, rng, monkeypatch):
    big = tmp_path / "big.png"
    Image.fromarray(_drawing(rng, (30, 20))).save(big)
    tiff = tmp_path / "scan.tif"
    Image.fromarray(_drawing(rng, (30, 20))).save(tiff)
    monkeypatch.setattr(ahead, "MAX_PIXELS", 599)
    for path in (big, tiff):
        ahead.start(path)
        ahead.settle()
        with open(path, "rb") as fp:
            assert ahead.take(fp) is None, path.name
    monkeypatch.setattr(ahead, "MAX_PIXELS", 600)
    ahead.start(big)
    with open(big, "rb") as fp:
        early = ahead.take(fp)
    assert early is not None and early.image.format == "PNG"
    with Image.open(big) as fresh:  # decoded in place with Pillow >= 11, as load_scan does
        assert early.dtype == ahead.in_place_dtype(fresh, "PNG")
    samples = np.asarray(early.image) if early.buffer is None else \
        np.frombuffer(early.buffer, np.uint8).reshape(30, 20)
    assert_array_equal(samples, np.asarray(Image.open(big)))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_never_opened(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    done = threading.Event()
    starter = threading.Thread(target=lambda: (ahead.start(fifo), done.set()), daemon=True)
    starter.start()
    assert done.wait(10), "start() opened the pipe and waits for a writer"


def test_no_thread_to_spare_means_no_decode_ahead(tmp_path, rng, opened):
    path = tmp_path / "a.png"
    Image.fromarray(_drawing(rng, (20, 30))).save(path)

    def refuse(self):
        raise RuntimeError("can't start new thread")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", refuse)
        ahead.start(path)
    assert sys.getswitchinterval() == 0.005
    assert load_scan(path, dtype="native").image.shape == (20, 30)
    assert opened == [str(path)]


def test_the_thread_ends_and_the_switch_interval_comes_back(tmp_path, rng):
    path = tmp_path / "a.png"
    Image.fromarray(_drawing(rng, (40, 30))).save(path)
    ahead.start(path)
    ahead.settle()
    assert not [t for t in threading.enumerate() if t.name == "sketchgrad-decode-ahead"]
    assert sys.getswitchinterval() == 0.005
    with open(path, "rb") as fp:  # settled, not dropped
        assert ahead.take(fp) is not None
    ahead.start(path)
    ahead.discard()
    with open(path, "rb") as fp:
        assert ahead.take(fp) is None


def test_starting_the_preview_process_waits_for_the_decode(tmp_path, rng, monkeypatch):
    path = tmp_path / "a.png"
    Image.fromarray(_drawing(rng, (400, 300))).save(path)
    seen = []

    def wanted(outputs):
        seen.append([t.name for t in threading.enumerate() if t.is_alive()])
        return False

    monkeypatch.setattr("sketchgrad.renderer.renderer_wanted", wanted)
    real_load = PngImagePlugin.PngImageFile.load

    def slow_load(self):  # the decode still runs when the preview process is asked for
        time.sleep(0.3)
        return real_load(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", slow_load)
    ahead.start(path)
    assert start_renderer(["preview"]) is None
    assert len(seen) == 1 and "sketchgrad-decode-ahead" not in seen[0]  # asked after it ended


def test_a_run_without_the_preview_does_not_wait_for_the_decode(tmp_path, rng, monkeypatch):
    # no fork, so no reason to wait: the command goes on while its scan decodes
    path = tmp_path / "a.png"
    Image.fromarray(_drawing(rng, (400, 300))).save(path)
    release = threading.Event()
    real_load = PngImagePlugin.PngImageFile.load

    def held_load(self):  # the decode holds until the test lets it go (10 s at most)
        release.wait(10)
        return real_load(self)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", held_load)
    ahead.start(path)
    try:
        assert start_renderer(["hsv", "magnitude"]) is None
        assert [t.name for t in threading.enumerate()
                if t.is_alive() and t.name == "sketchgrad-decode-ahead"] == \
            ["sketchgrad-decode-ahead"]  # still decoding: not waited for
    finally:
        release.set()
        ahead.discard()


def _pixels(path):
    return np.asarray(Image.open(path))


def test_the_command_decodes_its_one_scan_ahead(tmp_path, rng, opened, monkeypatch):
    scan = tmp_path / "page.png"
    Image.fromarray(_drawing(rng, (90, 70))).save(scan)
    args = ["run", str(scan), "--outputs", "hsv,magnitude", "--quiet"]
    assert main(args + ["-o", str(tmp_path / "ahead")]) == 0
    assert opened == []
    monkeypatch.setenv("SKETCHGRAD_DECODE_AHEAD", "0")
    assert main(args + ["-o", str(tmp_path / "plain")]) == 0
    assert opened == [str(scan)]
    for kind in ("hsv", "magnitude"):
        assert_array_equal(_pixels(tmp_path / "ahead" / f"page.{kind}.png"),
                           _pixels(tmp_path / "plain" / f"page.{kind}.png"))


def test_compare_decodes_its_scan_ahead(tmp_path, rng, opened):
    scan = tmp_path / "page.png"
    Image.fromarray(_drawing(rng, (60, 50))).save(scan)
    sheet = tmp_path / "sheet.png"
    assert main(["compare", str(scan), "--what", "operator", "-o", str(sheet)]) == 0
    assert opened == [] and sheet.stat().st_size > 0


def test_the_command_leaves_no_decode_behind(tmp_path, rng, opened):
    scan = tmp_path / "page.png"
    Image.fromarray(_drawing(rng, (50, 40))).save(scan)
    out = str(tmp_path / "out")
    assert main(["run", str(scan), "-o", out, "--outputs", "hsv", "--quiet"]) == 0
    # up to date: skipped without loading; the decode started for it is dropped
    assert main(["run", str(scan), "-o", out, "--outputs", "hsv", "--quiet"]) == 0
    assert main(["run", str(scan), "-o", out, "--dry-run"]) == 0
    assert main(["run", str(scan), "-o", out, "--outputs", "nothing"]) == 2
    assert not [t for t in threading.enumerate() if t.name == "sketchgrad-decode-ahead"]
    with open(scan, "rb") as fp:
        assert ahead.take(fp) is None
    assert opened == []


@pytest.mark.parametrize("argv", [
    ["run", "a.png", "-o", "out"],
    ["run", "a.png", "b.png", "-o", "out", "--outputs", "hsv,magnitude", "--workers", "3",
     "--strength", "0.5", "--no-flatten-background", "--axial", "-q"],
    ["run", "scans/", "--config", "s.toml", "-o", "-", "--max-pixels", "0", "--json"],
    ["compare", "a.png", "--what", "ramp", "-o", "sheet.png", "--denoise", "median"],
    ["methods"],
])
def test_the_early_parse_reads_what_the_full_parser_reads(argv):
    from sketchgrad import cli

    assert vars(cli._early_args(argv)) == vars(cli._build_parser().parse_args(argv))


def test_a_run_reads_its_arguments_once(tmp_path, rng, monkeypatch, capsys):
    from sketchgrad import cli

    built = []
    full = cli._build_parser

    def counting(names=None):
        built.append("library" if names is None else "early")
        return full(names)

    monkeypatch.setattr(cli, "_build_parser", counting)
    scan = tmp_path / "page.png"
    Image.fromarray(_drawing(rng, (20, 30))).save(scan)
    out = tmp_path / "out"
    assert main(["run", str(scan), "-o", str(out), "--outputs", "hsv", "--strength", "0.5",
                 "-q"]) == 0
    assert built == ["early"]  # no second parser, with the library's names, for a run
    assert [p.name for p in out.iterdir()] == ["page.hsv.png"]
    # the options were read: the run's record says so
    record = json.loads(Image.open(out / "page.hsv.png").text["sketchgrad"])
    assert (record["config"]["strength"], record["config"]["outputs"]) == (0.5, ["hsv"])
    built.clear()
    assert main(["methods"]) == 0  # another command: read again by the full parser
    assert built == ["early", "library"]
    assert "denoise methods (--denoise):" in capsys.readouterr().out


def test_the_early_parse_gives_way_on_help_and_errors(capsys):
    from sketchgrad import cli

    for argv in (["run", "--help"], ["--version"], ["run", "-o", "out"], ["compare", "a.png"]):
        assert cli._early_args(argv) is None, argv
    assert capsys.readouterr() == ("", "")


def test_the_early_look_at_the_arguments_prints_nothing(capsys):
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.count("usage: sketchgrad run") == 1
    # the library's names, from the parse that counts
    assert "one of none, gaussian, median," in " ".join(out.split())
    assert main(["run", "--bogus", "x.png", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("unrecognized arguments: --bogus") == 1


@pytest.mark.parametrize("where", ["sketchgrad.ahead.start", "sketchgrad.cli._build_parser"])
def test_ctrl_c_while_the_command_starts_is_an_interrupted_run(tmp_path, rng, monkeypatch,
                                                              capsys, where):
    scan = tmp_path / "page.png"
    Image.fromarray(_drawing(rng, (20, 30))).save(scan)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupt)
    assert main(["run", str(scan), "-o", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "sketchgrad: interrupted; temporary files removed\n"
    assert not (tmp_path / "out").exists()


def test_take_imports_opencv_while_the_decode_still_runs(tmp_path, monkeypatch):
    """The wait for a slow decode (a colour PNG) is spent importing what comes next."""
    path = tmp_path / "any.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    seen = []

    def pending(alive: bool) -> ahead._Job:
        job = ahead._Job(str(path))
        release = threading.Event()
        job.thread = threading.Thread(target=release.wait, daemon=True)
        job.thread.start()
        if not alive:
            release.set()
            job.thread.join()
        monkeypatch.setattr(ahead, "_import_opencv",
                            lambda: (seen.append(job.thread.is_alive()), release.set()))
        monkeypatch.setattr(ahead, "_job", job)
        return job

    for alive in (True, False):
        seen.clear()
        job = pending(alive)
        with open(path, "rb") as fp:
            assert ahead.take(fp) is None  # the fake decode gave nothing: load_scan decodes
        assert not job.thread.is_alive()
        # imported only while the decode ran, and before waiting for it
        assert seen == ([True] if alive else [])
