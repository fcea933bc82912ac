"""Tiled processing equals whole-image processing (issue 8, huge scans)."""

import numpy as np
import pytest
from PIL import Image

import sketchgrad.pipeline as pipeline
import sketchgrad.streaming as streaming
import sketchgrad.tiling as tiling
from sketchgrad.denoise import DENOISE_METHODS
from sketchgrad.gradients import OPERATORS
from sketchgrad.normalize import NORMALIZE_METHODS
from sketchgrad.pipeline import PipelineConfig, process, process_to_files

#: Tiled float results may differ from whole-image ones by OpenCV's last-bit rounding only.
FLOAT_TOL = 1e-5
#: Colour from the orientation of a near-zero gradient is ill-conditioned: one ulp of the
#: denoised image (1.2e-7) turns the hue of a 3e-4 gradient by 3e-5 rad, about 1.2e-5 in RGB.
HSV_TOL = 1e-4
#: Histogram equalization is a step function of its input: an ulp moves a value across one
#: of its 2**20 bins, and with it the rank of every pixel there (measured up to 9e-5).
EQUALIZE_TOL = 1e-3


def scan(shape=(90, 121), seed=11):
    """Strokes of several widths, a faint region in one corner and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    img = 0.9 - 0.6 * (np.sin(x / 7) * np.cos(y / 11) > 0.6)
    img -= 0.3 * np.exp(-((x + y - 100) ** 2) / 30)
    img[: shape[0] // 3, : shape[1] // 3] = 0.88 + 0.02 * (x[: shape[0] // 3, : shape[1] // 3]
                                                           % 9 > 4)
    img += rng.normal(0, 0.03, shape)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture
def previewed(monkeypatch):
    """What process_to_files hands to the preview (``["result"]``); nothing is rendered."""
    seen = {}

    def capture(result, dest, text):
        seen["result"] = result
        dest.touch()  # the staged file process_to_files renames into place
        return dest

    monkeypatch.setattr(streaming, "_write_preview", capture)
    return seen


def compare(a, b, tol=FLOAT_TOL):
    for name in ("denoised", "normalized", "hsv", "sketch"):
        wa, wb = getattr(a, name), getattr(b, name)
        assert (wa is None) == (wb is None), name
        if wa is not None:
            np.testing.assert_allclose(wa, wb, rtol=0, atol=max(tol, HSV_TOL * (name == "hsv")),
                                       err_msg=name)
    if a.field is not None:
        np.testing.assert_allclose(a.field.gx, b.field.gx, rtol=0, atol=FLOAT_TOL)
        np.testing.assert_allclose(a.field.gy, b.field.gy, rtol=0, atol=FLOAT_TOL)


DENOISERS = [("none", None), ("gaussian", 1.0), ("gaussian", 2.6), ("median", 2)] + [
    (name, 0.05) for name in sorted(DENOISE_METHODS) if name not in ("none", "gaussian", "median")]


@pytest.mark.parametrize("denoise,strength", DENOISERS)
@pytest.mark.parametrize("tile", [16, 37])
def test_tiled_equals_whole_for_denoisers(denoise, strength, tile):
    img = scan()
    base = PipelineConfig(denoise=denoise, strength=strength, tile_size=0)
    compare(process(img, PipelineConfig(**{**base.to_dict(), "tile_size": tile})),
            process(img, base))


@pytest.mark.parametrize("operator", sorted(OPERATORS))
@pytest.mark.parametrize("method", sorted(NORMALIZE_METHODS))
def test_tiled_equals_whole_for_operators_and_normalizations(operator, method):
    img = scan((70, 83), seed=2)
    base = dict(strength=1.0, operator=operator, normalize=method)
    compare(process(img, PipelineConfig(**base, tile_size=24)),
            process(img, PipelineConfig(**base, tile_size=0)),
            EQUALIZE_TOL if method == "equalize" else FLOAT_TOL)


def test_estimated_strength_and_flattening_still_match():
    img = scan(seed=4)
    for extra in ({}, {"flatten_background": True}):
        compare(process(img, PipelineConfig(tile_size=32, **extra)),
                process(img, PipelineConfig(tile_size=0, **extra)))


def test_plan_estimates_strength_on_the_image_it_denoises():
    """The background check and the noise estimate run side by side: the estimate on the
    scan stands only when the scan is not flattened; a flattened scan is estimated again."""
    from sketchgrad.denoise import flatten_background, resolve_strength

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:300, 0:400].astype(np.float32)
    noise = rng.normal(0, 0.02, x.shape).astype(np.float32)
    even = np.clip(0.9 + noise, 0, 1)
    lit = np.clip((0.45 + 0.5 * x / 399) * (1 + noise), 0, 1)  # light falls across the page
    for image, flattens in ((even, False), (lit, True)):
        plan = tiling.plan_tiles(image, PipelineConfig(denoise="nl_means"), {"field"}, 64,
                                 tiling.Timer())
        assert plan.flattened is flattens
        source = flatten_background(image) if flattens else image
        assert plan.strength == resolve_strength(source, "nl_means")
    # the two estimates differ here (the noise scales with the light), so taking the
    # wrong one would fail
    assert resolve_strength(flatten_background(lit), "nl_means") \
        > 1.1 * resolve_strength(lit, "nl_means")


def test_global_scale_survives_tiling():
    """Two passes: a faint tile is not stretched to full range on its own."""
    img = scan()
    res = process(img, PipelineConfig(strength=1.0, tile_size=30, normalize="minmax",
                                      outputs=("magnitude",)))
    faint = res.normalized[5:25, 5:35]
    assert res.normalized.max() == pytest.approx(1.0)
    assert faint.max() < 0.5


def test_normalizer_from_outside_with_tiles():
    img = scan()
    whole = process(img, PipelineConfig(strength=1.0, tile_size=0))

    class Fixed:
        def transform(self, x):
            return x / np.float32(2 * whole.field.magnitude.max())

    tiled = process(img, PipelineConfig(strength=1.0, tile_size=20), normalizer=Fixed())
    expected = whole.field.magnitude / (2 * whole.field.magnitude.max())
    np.testing.assert_allclose(tiled.normalized, expected, rtol=0, atol=FLOAT_TOL)


def test_automatic_tiling_threshold(monkeypatch):
    calls = []
    real = tiling.plan_tiles

    def spy(image, config, needs, side, timer, meta=None):
        calls.append(side)
        return real(image, config, needs, side, timer, meta)

    monkeypatch.setattr(pipeline, "plan_tiles", spy)
    monkeypatch.setattr(pipeline, "TILE_THRESHOLD", 50 * 50)
    monkeypatch.setattr(pipeline, "DEFAULT_TILE", 16)
    process(scan((40, 50)), PipelineConfig(strength=1.0))
    assert calls == []  # at the threshold: whole image
    process(scan((40, 70)), PipelineConfig(strength=1.0))
    assert calls == [16]


@pytest.mark.parametrize("tile", [16, 40])
def test_streamed_files_equal_whole_within_one_level(tmp_path, tile):
    img = scan((75, 130), seed=8)
    kinds = ("magnitude", "hsv", "sketch")
    whole, tiled = tmp_path / "whole", tmp_path / "tiled"
    whole.mkdir()
    tiled.mkdir()
    process_to_files(img, PipelineConfig(strength=1.3, tile_size=0),
                     {k: whole / f"{k}.png" for k in kinds})
    process_to_files(img, PipelineConfig(strength=1.3, tile_size=tile),
                     {k: tiled / f"{k}.png" for k in kinds})
    for k in kinds:
        with Image.open(whole / f"{k}.png") as a, Image.open(tiled / f"{k}.png") as b:
            pa, pb = np.asarray(a).astype(int), np.asarray(b).astype(int)
        assert pa.shape == pb.shape
        assert np.abs(pa - pb).max() <= 1, k
        assert (pa == pb).mean() > 0.999, k


def test_streaming_holds_no_full_size_output(tmp_path, monkeypatch):
    """The writers receive bands of rows, never the whole image at once."""
    from sketchgrad.png import PngWriter

    heights = []
    real = PngWriter.write

    def spy(self, rows):
        blocks = rows if isinstance(rows, list) else [rows]
        heights.append(blocks[0].shape[0])
        assert all(b.shape[1] <= 32 for b in blocks)  # tiles, never a full-width copy
        return real(self, rows)

    monkeypatch.setattr(PngWriter, "write", spy)
    img = scan((100, 70))
    process_to_files(img, PipelineConfig(strength=1.0, tile_size=32),
                     {"hsv": tmp_path / "h.png", "magnitude": tmp_path / "m.png"})
    assert max(heights) <= 32 and sum(heights) == 2 * 100


def test_preview_gets_block_means_of_the_whole_image_stages(tmp_path, monkeypatch, previewed):
    monkeypatch.setattr("sketchgrad.preview.PREVIEW_SIDE", 40)
    img = scan((120, 161), seed=5)  # step ceil(161 / 40) = 5; partial blocks at the edges
    cfg = PipelineConfig(strength=1.0, tile_size=32)  # not a multiple of 5: realigned
    process_to_files(img, cfg, {"preview": tmp_path / "p.png"})
    got = previewed["result"]
    whole = process(img, PipelineConfig(strength=1.0, tile_size=0))

    def blocks(a, s=5):  # independent: pad with NaN, reshape, nanmean
        h, w = a.shape[:2]
        pad = [(0, -h % s), (0, -w % s)] + [(0, 0)] * (a.ndim - 2)
        p = np.pad(a.astype(np.float64), pad, constant_values=np.nan)
        p = p.reshape(p.shape[0] // s, s, p.shape[1] // s, s, *a.shape[2:])
        return np.nanmean(p, axis=(1, 3))

    assert got.full_shape == img.shape and got.image.shape == (24, 33)
    np.testing.assert_allclose(got.image, blocks(img), atol=1e-6)
    np.testing.assert_allclose(got.denoised, blocks(whole.denoised), atol=1e-5)
    np.testing.assert_allclose(got.normalized, blocks(whole.normalized), atol=1e-5)
    np.testing.assert_allclose(got.field.gx, blocks(whole.field.gx), atol=1e-5)
    np.testing.assert_allclose(got.sketch, blocks(whole.sketch), atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(got.hsv, blocks(whole.hsv), atol=1 / 255)


def test_kept_first_pass_equals_recomputed(tmp_path, monkeypatch):
    img = scan((64, 90), seed=9)
    cfg = PipelineConfig(strength=1.0, tile_size=16)
    kept = process(img, cfg)
    monkeypatch.setattr(tiling, "KEEP_BYTES", 0)
    again = process(img, cfg)
    compare(kept, again)  # NumPy's hypot may round an ulp differently run to run


@pytest.mark.parametrize(("channels", "axial", "color"), [
    ("gray", False, "hsv"), ("rgb", False, "hsv"), ("gray", True, "hsv"),
    ("gray", False, "stroke")])
def test_streamed_files_equal_whether_first_pass_tiles_are_kept_or_made_again(
        tmp_path, monkeypatch, channels, axial, color):
    # A streamed run keeps its first-pass tiles slimmed (the relief as 8-bit samples; for
    # the hsv colouring the hue and the magnitude instead of gx and gy, else the field with
    # its magnitude let go and made again): the files must equal those of a run that
    # computes every tile again, pixel for pixel.
    img = scan((70, 90), seed=5)
    if channels == "rgb":
        img = np.dstack([img, img ** 1.5, 1 - 0.5 * (1 - img)]).astype(np.float32)
    cfg = PipelineConfig(tile_size=32, channels=channels, axial=axial, color=color)
    kinds = ("magnitude", "hsv", "sketch")
    finished = []
    real = tiling.finish_tile

    def spied(plan, scale, tile, dtype, timer):
        finished.append((tile.hue is not None, tile.field is not None))
        return real(plan, scale, tile, dtype, timer)

    monkeypatch.setattr(tiling, "finish_tile", spied)

    def run(folder):
        finished.clear()
        paths = {kind: tmp_path / folder / f"{kind}.png" for kind in kinds}
        (tmp_path / folder).mkdir()
        process_to_files(img, cfg, paths)
        return {kind: np.asarray(Image.open(path)) for kind, path in paths.items()}

    kept = run("kept")
    # 3 x 3 tiles; with the hsv colouring each kept as its hue, without gx and gy
    hue = color == "hsv"
    assert finished == [(hue, not hue)] * 9
    monkeypatch.setattr(tiling, "KEEP_BYTES", 0)
    again = run("again")
    assert finished == [(False, True)] * 9  # made again: the field
    for kind in kinds:
        assert kept[kind].dtype == again[kind].dtype
        np.testing.assert_array_equal(kept[kind], again[kind], err_msg=kind)


@pytest.mark.parametrize("denoise", ["gaussian", "bilateral"])
def test_tiles_kept_without_their_denoised_scan_give_the_same_files(tmp_path, monkeypatch,
                                                                    denoise):
    """A colour run's tiles kept without the denoised scan: the second pass denoises again.

    With room for gx, gy (8 bytes a pixel) and the colour relief's samples (3), but
    not the denoised colour scan (12 more), the files -- the preview's denoised panel
    included -- equal those of the run that keeps everything and of the one that
    keeps nothing; the second pass denoised each tile again and made nothing else.
    """
    img = scan((70, 90), seed=5)
    img = np.dstack([img, img ** 1.5, 1 - 0.5 * (1 - img)]).astype(np.float32)
    cfg = PipelineConfig(tile_size=32, channels="rgb", denoise=denoise)
    kinds = ("magnitude", "hsv", "sketch", "preview")
    asked = []
    every = set()  # the plan's stages
    real = tiling.compute_tile

    def recorded(plan, box, timer, needs=None, dtype=np.float32):
        every.update(plan.needs)
        asked.append(frozenset(plan.needs if needs is None else needs))
        return real(plan, box, timer, needs, dtype)

    monkeypatch.setattr(tiling, "compute_tile", recorded)

    def run(folder, keep_bytes):
        monkeypatch.setattr(tiling, "KEEP_BYTES", keep_bytes)
        asked.clear()
        paths = {kind: tmp_path / folder / f"{kind}.png" for kind in kinds}
        (tmp_path / folder).mkdir()
        process_to_files(img, cfg, paths)
        return {kind: path.read_bytes() for kind, path in paths.items()}, list(asked)

    pixels = img.shape[0] * img.shape[1]
    everything, calls = run("all", 23 * pixels)
    assert "denoised" in every and "field" in every
    assert calls == [frozenset(every)] * 9  # 3 x 3 tiles, each computed once with every stage
    slim, calls = run("slim", 11 * pixels)
    # every stage but the denoised scan (not even copied out), then the denoised scan again
    assert calls == [frozenset(every - {"denoised"})] * 9 + [frozenset({"denoised"})] * 9
    nothing, calls = run("none", 11 * pixels - 1)
    assert len(calls) == 18 and frozenset({"denoised"}) not in calls
    for kind in kinds:
        assert slim[kind] == everything[kind] == nothing[kind], kind


@pytest.mark.parametrize("method", sorted(DENOISE_METHODS))
@pytest.mark.parametrize("strength", [None, 0.05])
def test_local_denoisers_run_on_tiles_global_ones_on_the_whole(method, strength):
    img = scan((60, 70))
    cfg = PipelineConfig(denoise=method, strength=strength, tile_size=16)
    plan = tiling.plan_tiles(img, cfg, {"field"}, 16, tiling.Timer())
    local = method in ("none", "gaussian", "median", "bilateral", "nl_means", "tv")
    assert (plan.denoised_whole is None) == local


def test_fit_normalizer_tile_by_tile_equals_the_whole_magnitude():
    from sketchgrad.gradients import ZERO_GRADIENT
    from sketchgrad.normalize import Normalizer

    img = scan((80, 100), seed=12)
    cfg = PipelineConfig(strength=1.0, tile_size=24, normalize="zscore")
    fitted = pipeline.fit_normalizer(img, cfg)
    magnitude = process(img, PipelineConfig(strength=1.0, tile_size=0)).field.magnitude
    magnitude = np.where(magnitude <= ZERO_GRADIENT, 0, magnitude)
    whole = Normalizer("zscore").fit(magnitude)
    assert fitted.count == img.size
    for key in ("min", "max", "mean", "std"):
        assert fitted.statistics[key] == pytest.approx(whole.statistics[key], rel=1e-5)
    # a page fitted alone and streamed with that normalizer equals the page on its own
    alone = process(img, cfg)
    given = process(img, cfg, normalizer=fitted)
    np.testing.assert_allclose(given.normalized, alone.normalized, rtol=0, atol=FLOAT_TOL)


def test_streamed_preview_crops_equal_the_whole_image_across_tile_seams(
        tmp_path, monkeypatch, previewed):
    monkeypatch.setattr("sketchgrad.preview.PREVIEW_SIDE", 100)
    img = np.tile(scan((90, 121), seed=4), (7, 8))  # 630 x 968: step 10, window 460 x 299
    cfg = PipelineConfig(strength=1.0, tile_size=64)
    process_to_files(img, cfg, {"preview": tmp_path / "p.png"})
    details = previewed["result"].details
    r, c, ch, cw = details["window"]
    assert (ch, cw) == (round(460 * 630 / 968), 460)
    assert 0 <= r <= 630 - ch and 0 <= c <= 968 - cw
    assert r % 64 + ch > 64 and c % 64 + cw > 64  # the window crosses tile seams
    whole = process(img, PipelineConfig(strength=1.0, tile_size=0))
    where = (slice(r, r + ch), slice(c, c + cw))
    np.testing.assert_array_equal(details["scan"], img[where])
    for name, full in (("hsv", whole.hsv), ("relief", whole.sketch)):
        want = np.floor(np.clip(full[where], 0, 1) * 255 + 0.5)
        got = details[name].astype(np.float64)
        assert got.shape == want.shape, name
        assert np.abs(got - want).max() <= 1, name
        assert (got == want).mean() > 0.99, name


def test_streamed_preview_overviews_are_block_means_of_the_whole_image(
        tmp_path, monkeypatch, previewed):
    """The magnitude and colour panels show the files' block means (as bright as the files)."""
    monkeypatch.setattr("sketchgrad.preview.PREVIEW_SIDE", 40)
    img = scan((120, 161), seed=6)  # step 5, partial blocks at the right
    process_to_files(img, PipelineConfig(strength=1.0, tile_size=32),
                     {"preview": tmp_path / "p.png"})
    shown = previewed["result"]
    whole = process(img, PipelineConfig(strength=1.0, tile_size=0))

    def means(a, step=5):  # independent: a loop over the blocks (partial ones at the ends)
        rows, cols = -(-a.shape[0] // step), -(-a.shape[1] // step)
        return np.array([[a[r * step:(r + 1) * step, c * step:(c + 1) * step].mean(axis=(0, 1))
                          for c in range(cols)] for r in range(rows)], np.float32)

    np.testing.assert_allclose(shown.normalized, means(whole.normalized), atol=1e-5)
    assert shown.hsv.shape == (24, 33, 3)
    # the colour tiles are 8-bit samples: their means are within half a level of the floats'
    np.testing.assert_allclose(shown.hsv, means(whole.hsv), atol=0.5 / 255 + 1e-5)
    assert "hsv_peaks" not in shown.details and "magnitude_peaks" not in shown.details


# ----------------------------------------------------------------------------------------
# Bounded denoisers and scans kept in their file's dtype (issue 16)


#: Outputs whose halo is the denoiser's and the operator's reach only (no stroke directions).
HSV_ONLY = {"outputs": ("hsv",), "flatten_background": False}


def test_tiled_tv_equals_whole_with_its_declared_reach():
    """Each Chambolle iteration reaches one pixel further: a halo of 31 makes tiles exact."""
    from sketchgrad.denoise import TV_ITERATIONS

    assert DENOISE_METHODS["tv"].reach == TV_ITERATIONS + 1
    img = scan((110, 96), seed=4)
    whole = process(img, PipelineConfig(denoise="tv", strength=0.05, tile_size=0, **HSV_ONLY))
    tiled = process(img, PipelineConfig(denoise="tv", strength=0.05, tile_size=16, **HSV_ONLY))
    compare(whole, tiled)


def test_tiled_tv_with_too_small_a_halo_differs(monkeypatch):
    """The reach is what makes the tiles right: a 2-pixel one leaves visible seams."""
    from dataclasses import replace

    img = scan((110, 96), seed=4)
    whole = process(img, PipelineConfig(denoise="tv", strength=0.05, tile_size=0, **HSV_ONLY))
    monkeypatch.setitem(DENOISE_METHODS, "tv", replace(DENOISE_METHODS["tv"], reach=2))
    tiled = process(img, PipelineConfig(denoise="tv", strength=0.05, tile_size=16, **HSV_ONLY))
    assert np.abs(tiled.denoised - whole.denoised).max() > 1e-3


def test_non_local_denoiser_refused_above_the_size_limit(tmp_path, monkeypatch):
    img = scan((40, 50))
    monkeypatch.setattr(tiling, "WHOLE_DENOISE_MAX_PIXELS", 40 * 50)
    done = process_to_files(img, PipelineConfig(denoise="wavelet"), {"hsv": tmp_path / "a.png"})
    assert done["hsv"].exists()  # at the limit: run whole
    monkeypatch.setattr(tiling, "WHOLE_DENOISE_MAX_PIXELS", 40 * 50 - 1)
    with pytest.raises(pipeline.ParameterError,
                       match=r"denoise='wavelet' is not a local filter: .*0 million pixels "
                             r".*choose a denoiser that works tile by tile \(.*bilateral, tv"):
        process_to_files(img, PipelineConfig(denoise="wavelet"), {"hsv": tmp_path / "b.png"})
    assert not (tmp_path / "b.png").exists()


def _quantized(img, bits, seed=3):
    rng = np.random.default_rng(seed)
    top = 2 ** bits - 1
    noisy = np.clip(img * top + rng.uniform(-0.5, 0.5, img.shape), 0, top)
    return np.round(noisy).astype(np.uint8 if bits == 8 else np.uint16)


def _pixels(path):
    with Image.open(path) as im:
        return np.asarray(im)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("strength", [None, 1.2])
def test_native_streaming_is_pixel_identical_to_the_float32_path(tmp_path, bits, strength):
    """A uint8/uint16 scan streamed in its dtype writes exactly what its float32 image does."""
    from sketchgrad.io import NativeImage, as_image, as_native, load_scan
    from sketchgrad.png import save_png

    samples = _quantized(scan((150, 170), seed=6), bits)
    assert isinstance(as_native(samples), NativeImage)
    source = tmp_path / "scan.png"
    Image.fromarray(samples).save(source)
    native = load_scan(source, dtype="native")
    assert isinstance(native.image, NativeImage)
    kinds = ("magnitude", "hsv", "sketch")
    cfg = PipelineConfig(strength=strength, tile_size=48)
    runs = {"array": samples, "native": native, "float": as_image(samples),
            "float_scan": load_scan(source)}
    for name, src in runs.items():
        (tmp_path / name).mkdir()
        process_to_files(src, cfg, {k: tmp_path / name / f"{k}.png" for k in kinds})
    whole = process(as_image(samples), PipelineConfig(strength=strength, tile_size=0))
    for k in kinds:
        reference = _pixels(tmp_path / "float" / f"{k}.png")
        for name in ("array", "native", "float_scan"):
            np.testing.assert_array_equal(_pixels(tmp_path / name / f"{k}.png"), reference,
                                          err_msg=f"{name} {k}")
        # and the in-memory run, written whole: within one level (OpenCV's last bit)
        stage = {"magnitude": whole.normalized, "hsv": whole.hsv, "sketch": whole.sketch}[k]
        depth = 16 if k == "magnitude" else 8
        save_png(tmp_path / f"whole.{k}.png", stage, bit_depth=depth)
        diff = np.abs(_pixels(tmp_path / f"whole.{k}.png").astype(int) - reference.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.999, k


def test_fit_normalizer_reads_native_samples_as_their_floats():
    from sketchgrad.io import as_image
    from sketchgrad.pipeline import fit_normalizer

    samples = _quantized(scan((90, 80)), 16)
    cfg = PipelineConfig(strength=None, normalize="robust", tile_size=32)
    a, b = fit_normalizer(samples, cfg), fit_normalizer(as_image(samples), cfg)
    probe = np.linspace(0, 0.5, 11, dtype=np.float32)
    assert a.count == b.count == samples.size
    np.testing.assert_array_equal(a.transform(probe), b.transform(probe))


def _traced_peak(samples, tmp_path, monkeypatch, *, float_path=False) -> float:
    """Peak bytes per pixel NumPy allocated (tracemalloc) streaming magnitude and hsv.

    One thread (tiles in a fixed order, PNG strips compressed in this thread),
    first-pass tiles recomputed rather than kept (the huge-scan regime), tiles
    of 128: the allocations are the same on every run.
    """
    import tracemalloc

    from sketchgrad.io import as_image

    monkeypatch.setattr(tiling, "KEEP_BYTES", 0)
    monkeypatch.setattr(tiling.os, "cpu_count", lambda: 1)
    paths = {"magnitude": tmp_path / "m.png", "hsv": tmp_path / "h.png"}
    tracemalloc.start()
    try:
        image = as_image(samples) if float_path else samples
        # minmax, as the benchmark: its statistics merge tile by tile (see test_normalizer)
        process_to_files(image, PipelineConfig(strength=1.0, tile_size=128, normalize="minmax"),
                         paths)
        return tracemalloc.get_traced_memory()[1] / samples.size
    finally:
        tracemalloc.stop()


#: Peak bytes per pixel of NumPy allocations streaming a 2000 x 3000 8-bit scan (measured
#: 2.5: a band of tiles, the PNG writers' strips, the colouring's work). Converting the
#: scan to float32 whole adds 4.
STREAMED_PEAK_BOUND = 3.5


def test_streamed_8bit_scan_is_never_float32_whole(tmp_path, monkeypatch):
    """Not timed: allocations only, at a size where a float32 copy would dominate."""
    samples = _quantized(scan((2000, 3000), seed=2), 8)
    assert _traced_peak(samples, tmp_path, monkeypatch) < STREAMED_PEAK_BOUND
    # the measure sees a whole float32 image: the same run converting first exceeds it
    assert _traced_peak(samples, tmp_path, monkeypatch, float_path=True) > \
        STREAMED_PEAK_BOUND + 2.0
