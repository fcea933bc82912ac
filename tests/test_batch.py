"""The batch runner as a library: finding inputs, naming, skipping, shared normalization."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from test_cli import pixels, pngs, provenance, temp_files, write_scan

import sketchgrad.io
from sketchgrad.batch import Outcome, find_inputs, looks_like_image, remove_leftovers, run_batch
from sketchgrad.errors import OutputError, ParameterError
from sketchgrad.pipeline import PipelineConfig

# minmax, not the default exposure: the scale checks below (a faint page at a quarter of
# the strong one's strength) need a normalization through zero with no black point
MAGNITUDE = PipelineConfig(denoise="none", normalize="minmax", outputs=("magnitude",))


def test_find_inputs_by_ending_or_content(tmp_path):
    write_scan(tmp_path / "b.PNG", 1)
    write_scan(tmp_path / "a.JpEg", 2, fmt="JPEG")
    write_scan(tmp_path / "scan_0001", 3, fmt="TIFF")  # no ending: TIFF by its first bytes
    write_scan(tmp_path / "deep" / "er" / "c.tif", 4)
    write_scan(tmp_path / ".hidden.png", 5)
    write_scan(tmp_path / ".cache" / "d.png", 6)
    write_scan(tmp_path / "out" / "old.hsv.png", 7)
    (tmp_path / "folder.png").mkdir()  # a folder named like an image: searched, not taken
    write_scan(tmp_path / "folder.png" / "e.bmp", 8, fmt="BMP")
    (tmp_path / "readme.md").write_text("# not an image")
    found = find_inputs([tmp_path], exclude=tmp_path / "out")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.JpEg", "b.PNG", "scan_0001", "deep/er/c.tif", "folder.png/e.bmp"]
    # each file once, even when named twice
    assert find_inputs([tmp_path / "b.PNG", tmp_path / "b.PNG"]) == [tmp_path / "b.PNG"]
    # glob patterns, recursive with **
    assert [p.name for p in find_inputs([f"{tmp_path}/**/*.tif"])] == ["c.tif"]
    assert looks_like_image(tmp_path / "scan_0001")
    assert not looks_like_image(tmp_path / "readme.md")


def test_a_pdf_or_svg_in_a_folder_is_named_not_dropped(tmp_path):
    write_scan(tmp_path / "scans" / "page1.png", 1)
    (tmp_path / "scans" / "page2.PDF").write_bytes(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n")
    (tmp_path / "scans" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    outcomes = run_batch([tmp_path / "scans"], tmp_path / "out", MAGNITUDE)
    status = {Path(o.input).name: (o.status, o.error) for o in outcomes}
    assert status["page1.png"][0] == "ok"
    assert status["page2.PDF"][0] == "failed"
    assert "PDF is not supported" in status["page2.PDF"][1]
    assert status["logo.svg"][0] == "failed"
    assert "SVG" in status["logo.svg"][1]


def test_remove_leftovers_touches_only_temporary_outputs(tmp_path):
    ours = [tmp_path / ".page.hsv.png.1234-ab12cd34.tmp", tmp_path / "sub" / ".x.png.q1w2.tmp"]
    theirs = [tmp_path / "page.tmp", tmp_path / ".bashrc", tmp_path / "page.hsv.png",
              tmp_path / ".notes.tmp"]
    for p in ours + theirs:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    assert sorted(remove_leftovers(tmp_path)) == sorted(ours)
    assert all(p.exists() for p in theirs)


def test_outcomes_in_order_and_outputs_named(tmp_path):
    src = tmp_path / "in"
    write_scan(src / "b.png", 11)
    write_scan(src / "a.png", 12)
    (src / "c.png").write_bytes(b"")
    seen: list[Outcome] = []
    outcomes = run_batch([src], tmp_path / "out", PipelineConfig(outputs=("hsv", "sketch")),
                         on_done=seen.append)
    assert [(Path(o.input).name, o.status) for o in outcomes] == [
        ("a.png", "ok"), ("b.png", "ok"), ("c.png", "failed")]
    assert sorted(o.input for o in seen) == sorted(o.input for o in outcomes)
    assert [Path(p).name for p in outcomes[0].outputs] == ["a.hsv.png", "a.sketch.png"]
    assert outcomes[2].error.startswith("not an image file") or "empty" in outcomes[2].error
    assert outcomes[2].to_dict() == {"input": str(src / "c.png"), "outputs": [],
                                     "status": "failed", "error": outcomes[2].error,
                                     "seconds": outcomes[2].seconds}
    assert temp_files(tmp_path) == []


def test_a_file_sketchgrad_did_not_write_is_kept(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 13)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "a.magnitude.png"
    Image.new("L", (3, 3), 7).save(mine)  # the user's own file, under our output name
    before = mine.read_bytes()
    (outcome,) = run_batch([tmp_path / "in"], out, MAGNITUDE)
    assert outcome.status == "failed"
    assert "was not written by sketchgrad; move it away or use overwrite=True" in outcome.error
    assert mine.read_bytes() == before
    (outcome,) = run_batch([tmp_path / "in"], out, MAGNITUDE, overwrite=True)
    assert outcome.status == "ok"
    assert pixels(mine).shape == (48, 64)


def test_parameters_checked_before_any_work(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 14)
    with pytest.raises(ParameterError, match="normalize_scope='pages' is not known"):
        run_batch([tmp_path / "in"], tmp_path / "out", normalize_scope="pages")
    with pytest.raises(ParameterError, match="compression=12 must be a zlib level"):
        run_batch([tmp_path / "in"], tmp_path / "out", compression=12)
    with pytest.raises(ParameterError, match="workers=0 must be 1 or more"):
        run_batch([tmp_path / "in"], tmp_path / "out", workers=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        run_batch([tmp_path / "in"], blocker / "out")
    assert not (tmp_path / "out").exists()


def test_max_pixels_refuses_large_scans(tmp_path):
    write_scan(tmp_path / "in" / "small.png", 15, shape=(10, 10))
    write_scan(tmp_path / "in" / "large.png", 16, shape=(40, 40))
    outcomes = run_batch([tmp_path / "in"], tmp_path / "out", MAGNITUDE, max_pixels=500)
    assert {Path(o.input).name: o.status for o in outcomes} == {"large.png": "failed",
                                                               "small.png": "ok"}
    assert "40x40" in outcomes[0].error and "max_pixels=500" in outcomes[0].error


def _pages(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """A drawing and the same drawing at a quarter of the contrast, as 16-bit PNGs."""
    y, x = np.mgrid[0:40, 0:56].astype(np.float64)
    ink = np.clip(1.2 - np.hypot(x - 20, y - 18) / 9, 0, 1) + 0.5 * (np.abs(x - 44) < 3)
    strong = 0.9 - 0.6 * np.clip(ink, 0, 1)
    faint = 0.9 - 0.15 * np.clip(ink, 0, 1)
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in (("strong.png", strong), ("faint.png", faint)):
        cv2.imwrite(str(folder / name), np.round(img * 65535).astype(np.uint16))
    return strong, faint


def test_batch_scope_keeps_a_faint_page_faint(tmp_path, monkeypatch):
    _pages(tmp_path / "in")
    own = tmp_path / "own"
    shared = tmp_path / "shared"
    assert all(o.status == "ok" for o in run_batch([tmp_path / "in"], own, MAGNITUDE))
    assert all(o.status == "ok" for o in run_batch([tmp_path / "in"], shared, MAGNITUDE,
                                                   normalize_scope="batch", workers=2))
    level = 65535.0
    strong = pixels(own / "strong.magnitude.png") / level
    faint_own = pixels(own / "faint.magnitude.png") / level
    faint_shared = pixels(shared / "faint.magnitude.png") / level
    # Gradients are linear in tone, so the faint page's magnitude is a quarter of the strong
    # one's, up to the inputs' 16-bit rounding (half a level per pixel); Sobel / 8 sums
    # |weights| to 1 per component, so a magnitude moves by at most sqrt(2) half levels,
    # amplified by 1 / (the faint page's peak magnitude) when that page is scaled on its own.
    tone = cv2.imread(str(tmp_path / "in" / "faint.png"), cv2.IMREAD_UNCHANGED) / level
    peak = np.hypot(cv2.Sobel(tone, cv2.CV_64F, 1, 0, borderType=cv2.BORDER_REFLECT) / 8,
                    cv2.Sobel(tone, cv2.CV_64F, 0, 1, borderType=cv2.BORDER_REFLECT) / 8).max()
    atol = 2 * np.sqrt(2) * (0.5 / level) / peak + 1 / level
    # each page on its own scale: both reach full strength
    assert faint_own.max() == strong.max() == 1.0
    np.testing.assert_allclose(faint_own, strong, atol=atol)
    # one scale for the batch: the faint page keeps a quarter of the strong one's strength
    np.testing.assert_allclose(pixels(shared / "strong.magnitude.png") / level, strong,
                               atol=1 / level)
    np.testing.assert_allclose(faint_shared, 0.25 * strong, atol=atol / 4 + 1 / level)
    assert abs(faint_shared.max() - 0.25) < 0.01
    recorded = provenance(shared / "faint.magnitude.png")
    assert recorded["normalize_scope"] == "batch" and recorded.get("normalizer")

    # A re-run skips, without loading a scan: each output keeps its input's own statistics.
    loaded = []
    real_load = sketchgrad.io.load_scan
    monkeypatch.setattr(sketchgrad.io, "load_scan",
                        lambda path, **kw: loaded.append(Path(path).name) or real_load(path, **kw))
    again = run_batch([tmp_path / "in"], shared, MAGNITUDE, normalize_scope="batch")
    assert [o.status for o in again] == ["skipped", "skipped"]
    assert loaded == []
    # A new, stronger page changes the shared scale, so every page is redone; only the new
    # page is measured in the first pass.
    y, x = np.mgrid[0:40, 0:56]
    cv2.imwrite(str(tmp_path / "in" / "bold.png"), np.where(x < 28, 0, 65535).astype(np.uint16))
    third = run_batch([tmp_path / "in"], shared, MAGNITUDE, normalize_scope="batch")
    assert [(Path(o.input).name, o.status) for o in third] == [
        ("bold.png", "ok"), ("faint.png", "ok"), ("strong.png", "ok")]
    assert sorted(loaded) == ["bold.png", "bold.png", "faint.png", "strong.png"]
    # the kept statistics are the page's own: the same as measured afresh
    fresh = tmp_path / "fresh"
    run_batch([tmp_path / "in"], fresh, MAGNITUDE, normalize_scope="batch")
    for name in ("bold", "faint", "strong"):
        assert provenance(shared / f"{name}.magnitude.png") == \
            provenance(fresh / f"{name}.magnitude.png")
        np.testing.assert_array_equal(pixels(shared / f"{name}.magnitude.png"),
                                      pixels(fresh / f"{name}.magnitude.png"))
    assert pixels(shared / "strong.magnitude.png").max() < 65535
    assert pngs(shared) == ["bold.magnitude.png", "faint.magnitude.png",
                            "strong.magnitude.png"]


def test_batch_scope_rerun_skips_with_histogram_statistics(tmp_path):
    # robust keeps a histogram of every magnitude: the re-run skips only if the statistics
    # measured again (here in this process, first in two worker processes) are identical
    for i in range(6):
        write_scan(tmp_path / "in" / f"p{i}.png", 100 + i, shape=(120, 160))
    config = PipelineConfig(normalize="robust", outputs=("magnitude",))
    first = run_batch([tmp_path / "in"], tmp_path / "out", config, normalize_scope="batch",
                      workers=2)
    assert [o.status for o in first] == ["ok"] * 6
    for _ in range(3):
        again = run_batch([tmp_path / "in"], tmp_path / "out", config,
                          normalize_scope="batch")
        assert [o.status for o in again] == ["skipped"] * 6


@pytest.mark.parametrize("method", ["minmax", "zscore", "robust"])
def test_one_page_in_batch_scope_equals_image_scope(tmp_path, method):
    # the batch's first pass measures exactly the magnitude each page's own pass would
    # (tile by tile, floored): one page scaled "with the batch" is scaled on its own
    write_scan(tmp_path / "in" / "page.png", 9, shape=(150, 700))
    config = PipelineConfig(strength=1.0, normalize=method, tile_size=64,
                            outputs=("magnitude", "hsv"))
    own = run_batch([tmp_path / "in"], tmp_path / "own", config)
    shared = run_batch([tmp_path / "in"], tmp_path / "shared", config, normalize_scope="batch")
    assert [o.status for o in own + shared] == ["ok", "ok"]
    for kind in ("magnitude", "hsv"):
        a = pixels(tmp_path / "own" / f"page.{kind}.png")
        b = pixels(tmp_path / "shared" / f"page.{kind}.png")
        assert a.std() > 0
        np.testing.assert_array_equal(a, b, err_msg=kind)


@pytest.mark.parametrize("depth", [8, 16])
def test_a_grey_scan_reaches_the_tiles_in_its_files_dtype(tmp_path, monkeypatch, depth):
    # The command's path (run_batch, one worker) hands the tile engine the file's own
    # samples, converted tile by tile: a whole float32 copy would be 4 bytes per pixel.
    import sketchgrad.streaming

    seen = []
    original = sketchgrad.streaming.process_to_files

    def spy(scan, *args, **kwargs):
        seen.append(scan.image)
        return original(scan, *args, **kwargs)

    monkeypatch.setattr(sketchgrad.streaming, "process_to_files", spy)
    rng = np.random.default_rng(depth)
    top = 255 if depth == 8 else 65535
    samples = rng.integers(0, top + 1, (40, 50)).astype(np.uint8 if depth == 8 else np.uint16)
    Image.fromarray(samples).save(tmp_path / "page.png")
    outcomes = run_batch([tmp_path / "page.png"], tmp_path / "out",
                         PipelineConfig(outputs=("hsv",)))
    assert [o.status for o in outcomes] == ["ok"]
    assert len(seen) == 1 and isinstance(seen[0], sketchgrad.io.NativeImage)
    assert seen[0].samples.dtype == samples.dtype
    np.testing.assert_array_equal(seen[0].samples, samples)


def test_each_scan_gives_freed_memory_back_even_when_it_fails(tmp_path, monkeypatch):
    import platform

    import sketchgrad.batch as batch

    # glibc has malloc_trim (the machines the command runs batches on); others do not
    assert batch._release_freed_memory() == (platform.libc_ver()[0] == "glibc")
    calls = []
    monkeypatch.setattr(batch, "_release_freed_memory", lambda: calls.append(1) or True)
    for i in range(2):
        Image.fromarray(np.full((30, 40), 200 + i, np.uint8)).save(tmp_path / f"p{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    outcomes = run_batch([tmp_path], tmp_path / "out", PipelineConfig(outputs=("hsv",)))
    assert sorted(o.status for o in outcomes) == ["failed", "ok", "ok"]
    assert len(calls) == 3  # after every scan, the failed one included
