"""Colour through the whole pipeline: process, tiles, streaming, batch statistics, the command.

Tolerances: tiled against whole float results ``TILED_ATOL`` = 1e-5 (OpenCV's
vector and scalar paths may round the last bit differently); PNG outputs of a
stream against ``save_png`` of :func:`process` within one level.
"""

from __future__ import annotations

import colorsys
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image
from test_cli import error_lines, pixels, provenance, sketchgrad_cmd

from sketchgrad import fit_normalizer, process, process_to_files
from sketchgrad.channels import luma
from sketchgrad.color import gradient_map
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import gradient_field
from sketchgrad.io import LUMA_BT601, NativeImage, Scan, load_scan
from sketchgrad.normalize import Normalizer
from sketchgrad.pipeline import PipelineConfig, image_for_channels
from sketchgrad.sketch import colour_relief

TILED_ATOL = 1e-5
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def _hue(rgb) -> float:
    return colorsys.rgb_to_hsv(*(float(v) for v in rgb))[0] * 360.0


def _hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


def colour_drawing(height: int = 90, width: int = 110, seed: int = 3) -> np.ndarray:
    """Pink, teal and purple marker strokes and a black ink line on warm paper, float32 RGB."""
    rng = np.random.default_rng(seed)
    page = np.empty((height, width, 3), np.uint8)
    page[:] = (242, 238, 228)
    for colour, width_px in (((230, 90, 150), 6), ((40, 160, 150), 5), ((120, 60, 170), 4),
                             ((20, 20, 25), 2)):
        p = tuple(int(v) for v in rng.integers(0, [width, height]))
        q = tuple(int(v) for v in rng.integers(0, [width, height]))
        cv2.line(page, p, q, colour, width_px, cv2.LINE_AA)
    cv2.circle(page, (width // 2, height // 2), min(height, width) // 4, (230, 90, 150), 3,
               cv2.LINE_AA)
    noisy = page.astype(np.float32) + rng.normal(0, 2.0, page.shape).astype(np.float32)
    return np.clip(noisy / 255, 0, 1).astype(np.float32)


def grey_drawing(height: int = 80, width: int = 100, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 232, np.uint8)
    for _ in range(5):
        p = tuple(int(v) for v in rng.integers(0, [width, height]))
        q = tuple(int(v) for v in rng.integers(0, [width, height]))
        cv2.line(page, p, q, int(rng.integers(20, 120)), int(rng.integers(1, 4)), cv2.LINE_AA)
    noisy = page.astype(np.float32) + rng.normal(0, 2.0, page.shape).astype(np.float32)
    return np.clip(noisy / 255, 0, 1).astype(np.float32)


def equal_grey_red_green(height: int = 24, width: int = 32) -> np.ndarray:
    """Red on the left, green on the right, of the same BT.601 luma (0.4908)."""
    red = np.float32([0.9, 0.3, 0.4])
    y = float(red.astype(np.float64) @ np.array(LUMA_BT601))
    green_g = (y - 0.299 * 0.2 - 0.114 * 0.3) / 0.587
    green = np.float32([0.2, green_g, 0.3])
    image = np.empty((height, width, 3), np.float32)
    image[:, :width // 2] = red
    image[:, width // 2:] = green
    return image


# --------------------------------------------------------------------------- settings


def test_channels_setting_is_checked_and_recorded():
    assert PipelineConfig().channels == "auto"
    assert PipelineConfig(channels="rgb").to_dict()["channels"] == "rgb"
    assert PipelineConfig.from_dict({"channels": "gray", "keep_hue": True}).keep_hue is True
    with pytest.raises(ParameterError, match=r"channels='colour' is not known; choose one "
                       r"of: 'auto', 'gray', 'rgb'"):
        PipelineConfig(channels="colour")
    with pytest.raises(ParameterError, match=r"keep_hue=1: use True or False"):
        PipelineConfig(keep_hue=1)


# --------------------------------------------------------------------------- the edge


def test_equal_grey_red_green_edge_is_found_in_colour_and_not_in_grey():
    image = equal_grey_red_green()
    # two flat fields of different channel means read as uneven light to "auto": the edge
    # itself is tested here, so nothing is flattened
    config = dict(denoise="none", normalize="minmax", flatten_background=False,
                  outputs=("magnitude",))
    colour = process(image, PipelineConfig(channels="rgb", **config))
    grey = process(image, PipelineConfig(channels="gray", **config))
    assert colour.channels == "rgb" and grey.channels == "gray"
    assert colour.image.shape == image.shape and grey.image.shape == image.shape[:2]
    edge = (slice(2, -2), slice(15, 17))
    # the colour edge: Di Zenzo's magnitude of the stage function, through the pipeline
    expected = gradient_field(image).magnitude
    assert_allclose(colour.field.magnitude, expected, atol=1e-6)
    assert colour.field.magnitude[edge].min() > 0.15
    assert_allclose(colour.normalized[edge], 1.0, atol=1e-6)
    # in grey the two sides are one tone: nothing beyond float rounding of the luma
    assert grey.field.magnitude.max() < 1e-3
    assert grey.normalized.max() == 0.0


# --------------------------------------------------------------------------- auto


def test_auto_picks_colour_for_colour_drawings_and_grey_for_grey_ones():
    colour = process(colour_drawing(), PipelineConfig(outputs=("magnitude",)))
    assert colour.channels == "rgb" and colour.image.ndim == 3 and colour.denoised.ndim == 3
    grey_rgb = np.repeat(grey_drawing()[..., None], 3, axis=2)
    # a grey drawing stored as RGB JPEG (chroma noise from the codec) stays grey
    ok, jpeg = cv2.imencode(".jpg", (grey_rgb * 255).round().astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, 75])
    jpeg_rgb = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1]
    for scan in (grey_rgb, jpeg_rgb):
        res = process(scan, PipelineConfig(outputs=("magnitude",)))
        assert res.channels == "gray" and res.image.ndim == 2


@pytest.mark.skipif(not SHARED.is_dir(), reason="the real drawings (../shared/images beside "
                    "the checkout) are absent")
@pytest.mark.parametrize("name, expected", [
    ("child_crayon_pig_rgba.png", "rgb"),
    ("notebook_ruled_marker_tree_diagram.jpg", "rgb"),
    ("pencil_pottery_bowl_shading_gray.jpg", "gray"),
    ("ink_brushpen_chess_castle.jpg", "gray"),
])
def test_auto_on_the_real_drawings(name, expected):
    scan = load_scan(SHARED / name, mode="auto")          # as the command loads it
    image, used = image_for_channels(scan, "auto")
    assert used == expected
    assert image.ndim == (3 if expected == "rgb" else 2)
    if expected == "gray":  # exactly the grey image the grey load gives
        assert_array_equal(image, load_scan(SHARED / name, mode="gray").image)
    # the measure is of the drawing, not of how it was loaded
    assert image_for_channels(load_scan(SHARED / name, mode="rgb"), "auto")[1] == expected
    # nor of whether its samples were kept as stored (the command's way): the same
    # answer, and a grey answer reads, tile by tile, exactly the grey load
    native = load_scan(SHARED / name, mode="auto", dtype="native")
    kept, used_native = image_for_channels(native, "auto", native=True)
    assert used_native == expected
    # a grey file stays in its samples; an RGB one read as grey (8 MP, under
    # LAZY_LUMA_PIXELS) is converted once; either reads as exactly the same image
    stored_grey = native.image.ndim == 2
    assert isinstance(kept, NativeImage if stored_grey else np.ndarray)
    assert_array_equal(np.asarray(kept), image)


def test_auto_on_a_grey_input_gives_the_arrays_of_gray():
    grey = grey_drawing()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    config = PipelineConfig(outputs=("magnitude", "hsv", "sketch"))
    auto = process(rgb, config)
    forced = process(rgb, PipelineConfig(channels="gray", outputs=config.outputs))
    # a grey drawing stored as RGB is taken as exactly the grey drawing: its luma is the
    # grey itself, bit for bit, so every stage is the grey run's
    plain = process(grey, config)
    for res in (auto, forced):
        assert res.channels == "gray"
        for name in ("image", "denoised", "normalized", "hsv", "sketch"):
            assert_array_equal(getattr(res, name), getattr(plain, name), err_msg=name)
    # a grey (H, W) image under auto is taken as it is, without measuring
    assert_array_equal(process(grey, config).sketch, process(
        grey, PipelineConfig(channels="gray", outputs=config.outputs)).sketch)


def test_grey_conversion_is_the_grey_load_of_every_file_layout(tmp_path):
    # what the command does: load_scan(mode="auto") (a grey file as grey, a colour one
    # in colour), then the grey image of image_for_channels: exactly load_scan(mode="gray")
    from corpus import build_corpus

    corpus = build_corpus(tmp_path / "corpus")
    colour = (colour_drawing(40, 50) * 255).round().astype(np.uint8)
    extra = [tmp_path / "c.png", tmp_path / "c.jpg", tmp_path / "ca.png"]
    Image.fromarray(colour).save(extra[0])
    Image.fromarray(colour).save(extra[1], quality=80)
    Image.fromarray(np.dstack([colour, np.full(colour.shape[:2], 200, np.uint8)])).save(extra[2])
    layouts = set()
    for path in [*corpus["unusual"], *extra]:
        scan = load_scan(path, mode="auto")
        layouts.add(scan.image.ndim)
        if scan.image.ndim == 3:   # a colour file: exactly its RGB load
            assert_array_equal(scan.image, load_scan(path, mode="rgb").image)
        image, used = image_for_channels(scan, "gray")
        assert used == "gray"
        assert_array_equal(image, load_scan(path, mode="gray").image, err_msg=str(path))
        for channels in ("auto", "gray"):   # grey files under auto: the grey load itself
            if scan.image.ndim == 2:
                assert image_for_channels(scan, channels)[0] is scan.image
    assert layouts == {2, 3}


# --------------------------------------------------------------------------- tiles


@pytest.mark.parametrize("settings", [
    dict(),
    dict(color="stroke"),
    dict(color="sepia", color_target="tone", keep_hue=True),
    dict(denoise="bilateral", normalize="robust"),
])
def test_tiled_equals_whole_in_colour(settings):
    image = colour_drawing()
    base = dict(channels="rgb", outputs=("magnitude", "hsv", "sketch"), **settings)
    whole = process(image, PipelineConfig(tile_size=0, **base))
    tiled = process(image, PipelineConfig(tile_size=32, **base))
    assert whole.channels == tiled.channels == "rgb"
    assert whole.sketch.shape == whole.hsv.shape == image.shape
    for name in ("denoised", "normalized", "hsv", "sketch"):
        a, b = getattr(whole, name), getattr(tiled, name)
        if a is None:
            assert b is None, name
            continue
        assert_allclose(b, a, atol=TILED_ATOL, err_msg=name)
    if whole.field is not None:
        assert_allclose(tiled.field.gx, whole.field.gx, atol=TILED_ATOL)
        assert_allclose(tiled.field.gy, whole.field.gy, atol=TILED_ATOL)


def test_streamed_colour_outputs_equal_process(tmp_path):
    from sketchgrad.png import save_png

    image = colour_drawing()
    config = PipelineConfig(channels="auto", tile_size=32,
                            outputs=("magnitude", "hsv", "sketch"))
    res = process(image, config)
    assert res.channels == "rgb"
    paths = {kind: tmp_path / f"s.{kind}.png" for kind in config.outputs}
    written = process_to_files(image, config, paths)
    for kind, array in (("magnitude", res.normalized), ("hsv", res.hsv),
                        ("sketch", res.sketch)):
        depth = 16 if kind == "magnitude" else 8
        ref = pixels(save_png(tmp_path / f"ref.{kind}.png", array, bit_depth=depth))
        got = pixels(written[kind])
        assert got.shape == ref.shape, kind
        assert np.abs(got.astype(np.int64) - ref.astype(np.int64)).max() <= 1, kind
    with Image.open(written["sketch"]) as im:
        assert im.mode == "RGB"          # the relief in the drawing's colours
    with Image.open(written["magnitude"]) as im:
        assert im.mode.startswith("I")   # one 16-bit magnitude for the colour edge


def test_fit_normalizer_in_colour_is_the_statistics_of_the_colour_magnitude():
    image = colour_drawing()
    config = PipelineConfig(channels="rgb", normalize="minmax", tile_size=32,
                            outputs=("magnitude",))
    fitted = fit_normalizer(image, config)
    magnitude = process(image, PipelineConfig(channels="rgb", tile_size=0,
                                              outputs=("magnitude",))).field.magnitude
    reference = Normalizer("minmax").fit(np.where(magnitude <= 1e-6, 0, magnitude))
    assert fitted.count == image.shape[0] * image.shape[1]
    assert_allclose([fitted.statistics["min"], fitted.statistics["max"]],
                    [reference.statistics["min"], reference.statistics["max"]], atol=1e-6)
    # under "gray" the statistics are the luma's
    grey = fit_normalizer(image, PipelineConfig(channels="gray", normalize="minmax"))
    luma_max = process(image @ np.asarray(LUMA_BT601, np.float32),
                       PipelineConfig(tile_size=0, outputs=("magnitude",))).field.magnitude.max()
    assert_allclose(grey.statistics["max"], luma_max, rtol=1e-6)
    assert abs(grey.statistics["max"] - fitted.statistics["max"]) > 1e-3


# --------------------------------------------------------------------------- outputs


def test_stroke_colouring_gives_the_strokes_hue():
    page = np.ones((60, 80, 3), np.float32)
    stroke = np.float32([0.92, 0.35, 0.6])            # a pink crayon line, 6 px wide
    page[20:26, 10:70] = stroke
    page[40:44, 10:70] = (0.2, 0.55, 0.55)            # and a teal one, 4 px
    for tile in (0, 16):
        res = process(page, PipelineConfig(channels="auto", denoise="none", color="stroke",
                                           tile_size=tile, outputs=("hsv",)))
        assert res.channels == "rgb"
        strong = res.normalized > 0.5
        for rows, colour in ((slice(15, 31), stroke), (slice(36, 48), (0.2, 0.55, 0.55))):
            mask = np.zeros(strong.shape, bool)
            mask[rows] = strong[rows]
            assert mask.sum() > 100
            hues = [_hue(rgb) for rgb in res.hsv[mask]]
            assert max(_hue_gap(h, _hue(colour)) for h in hues) < 15
        # value = normalized strength
        assert_allclose(res.hsv.max(axis=2), res.normalized, atol=1e-6)


def test_colour_relief_through_process_is_the_grey_relief_on_grey_paper():
    grey = grey_drawing()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    config = dict(outputs=("sketch",), denoise="gaussian", strength=1.0)
    colour = process(rgb, PipelineConfig(channels="rgb", **config))
    plain = process(grey, PipelineConfig(channels="gray", **config))
    assert colour.sketch.shape == rgb.shape
    for c in range(3):
        assert_allclose(colour.sketch[..., c], plain.sketch, atol=1e-6)
    # a coloured drawing: the relief is colour_relief of the denoised scan
    image = colour_drawing()
    res = process(image, PipelineConfig(channels="rgb", **config))
    assert_allclose(res.sketch, colour_relief(res.denoised), atol=1e-6)
    # where the paper is grey, the colour relief equals the grey relief of the luma
    grey_of = process(luma(image), PipelineConfig(channels="gray", denoise="none",
                                                  outputs=("sketch",)))
    flat = process(image, PipelineConfig(channels="rgb", denoise="none", outputs=("sketch",)))
    paper = np.ptp(image, axis=2) < 1e-6
    paper[:, [0, -1]] = paper[[0, -1], :] = False
    if paper.any():
        assert_allclose(flat.sketch[paper], np.repeat(grey_of.sketch[paper][:, None], 3, 1),
                        atol=1e-6)


def test_gradient_map_keeping_the_hue_through_process():
    image = colour_drawing()
    res = process(image, PipelineConfig(channels="rgb", color="sepia", color_target="tone",
                                        keep_hue=True, outputs=("hsv",)))
    assert_allclose(res.hsv, gradient_map(res.denoised, "sepia", keep_hue=True), atol=1e-6)
    plain = process(image, PipelineConfig(channels="rgb", color="sepia", color_target="tone",
                                          outputs=("hsv",)))
    assert np.abs(res.hsv - plain.hsv).max() > 0.1   # the teal and pink are kept


def test_colour_scan_objects_and_the_result_carries_the_colour(tmp_path):
    path = tmp_path / "c.png"
    Image.fromarray((colour_drawing() * 255).round().astype(np.uint8)).save(path)
    scan = load_scan(path, mode="rgb")
    res = process(scan, PipelineConfig(outputs=("hsv",)))
    assert isinstance(scan, Scan) and res.meta is scan.meta
    assert res.channels == "rgb"
    assert res.image.shape == scan.image.shape and res.denoised.shape == scan.image.shape


# --------------------------------------------------------------------------- the command


def _write_colour(path: Path, seed: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((colour_drawing(seed=seed) * 255).round().astype(np.uint8)).save(path)
    return path


def _write_grey_rgb_jpeg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = (grey_drawing() * 255).round().astype(np.uint8)
    Image.fromarray(np.dstack([grey] * 3)).save(path, quality=85)
    return path


def test_a_large_rgb_scan_read_as_grey_is_read_tile_by_tile_with_the_same_outputs(
        tmp_path, monkeypatch):
    """Above LAZY_LUMA_PIXELS the samples stay as stored: the luma is read per tile."""
    import sketchgrad.pipeline as pipeline
    from sketchgrad.cli import main

    colour = (colour_drawing(300, 420) * 255).round().astype(np.uint8)
    Image.fromarray(colour).save(tmp_path / "c.png")
    scan = load_scan(tmp_path / "c.png", mode="auto", dtype="native")
    whole, _ = image_for_channels(scan, "gray", native=True)
    assert isinstance(whole, np.ndarray)
    monkeypatch.setattr(pipeline, "LAZY_LUMA_PIXELS", 300 * 420 - 1)
    lazy, used = image_for_channels(scan, "gray", native=True)
    assert used == "gray" and isinstance(lazy, NativeImage)
    assert lazy.samples is scan.image.samples   # the stored samples, not a copy
    assert_array_equal(lazy[37:251, 99:400], whole[37:251, 99:400])
    assert_array_equal(whole, load_scan(tmp_path / "c.png", mode="gray").image)
    # a colour file loaded grey is taken grey under auto, as loaded (not measured again)
    loaded_grey = load_scan(tmp_path / "c.png", mode="gray", dtype="native")
    kept, used = image_for_channels(loaded_grey, "auto", native=True)
    assert used == "gray" and kept is loaded_grey.image
    assert image_for_channels(scan, "auto", native=True)[1] == "rgb"   # loaded as it is
    # The command's outputs, whichever way the luma is read (64-px tiles): the same bytes.
    # A grey drawing with a little noise in each channel (a scanner's), found grey by the
    # measure (the command loads it as RGB), whose luma is not any one channel.
    rng = np.random.default_rng(4)
    page = (grey_drawing(300, 420) * 255)[..., None] + rng.normal(0, 2, (300, 420, 3))
    Image.fromarray(np.clip(page, 0, 255).round().astype(np.uint8)).save(tmp_path / "g.png")
    for name, limit in (("lazy", 0), ("whole", 10 ** 9)):
        monkeypatch.setattr(pipeline, "LAZY_LUMA_PIXELS", limit)
        assert main(["run", str(tmp_path / "g.png"), "-o", str(tmp_path / name),
                     "--tile-size", "64", "--outputs", "magnitude,hsv,sketch", "--quiet"]) == 0
    assert provenance(tmp_path / "lazy" / "g.hsv.png")["channels_used"] == "gray"
    for kind in ("magnitude", "hsv", "sketch"):
        assert_array_equal(pixels(tmp_path / "lazy" / f"g.{kind}.png"),
                           pixels(tmp_path / "whole" / f"g.{kind}.png"), err_msg=kind)


def test_a_grey_drawing_saved_as_rgb_gives_the_grey_files_outputs(tmp_path):
    """What a scanner set to colour saves for an ink drawing: the same pixels as grey.

    The command keeps the RGB samples as stored (the colour measure shrinks them; the
    tiles read their luma), and the luma of R = G = B is exactly R.
    """
    rng = np.random.default_rng(11)
    page = np.full((700, 900), 235, np.uint8)   # larger than a tile: seams and halos too
    for _ in range(30):
        p = rng.integers(0, [900, 700], size=(2, 2))
        cv2.line(page, tuple(map(int, p[0])), tuple(map(int, p[1])),
                 int(rng.integers(10, 120)), int(rng.integers(1, 5)), cv2.LINE_AA)
    page = np.clip(page + rng.normal(0, 3, page.shape), 0, 255).astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(page).save(tmp_path / "in" / "grey.png")
    Image.fromarray(np.dstack([page] * 3)).save(tmp_path / "in" / "rgb.png")
    for name in ("grey", "rgb"):
        done = sketchgrad_cmd("run", tmp_path / "in" / f"{name}.png", "-o", tmp_path / name,
                              "--outputs", "magnitude,hsv,sketch")
        assert done.returncode == 0, done.stderr
    assert provenance(tmp_path / "rgb" / "rgb.hsv.png")["channels_used"] == "gray"
    for kind in ("magnitude", "hsv", "sketch"):
        assert_array_equal(pixels(tmp_path / "rgb" / f"rgb.{kind}.png"),
                           pixels(tmp_path / "grey" / f"grey.{kind}.png"), err_msg=kind)


@pytest.mark.slow
def test_channels_on_the_command(tmp_path):
    _write_colour(tmp_path / "in" / "colour.png")
    _write_grey_rgb_jpeg(tmp_path / "in" / "grey.jpg")
    auto = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "auto", "--outputs",
                          "magnitude,hsv,sketch", "--workers", 1)
    assert auto.returncode == 0, auto.stderr
    record = provenance(tmp_path / "auto" / "colour.sketch.png")
    assert record["config"]["channels"] == "auto" and record["channels_used"] == "rgb"
    assert pixels(tmp_path / "auto" / "colour.sketch.png").ndim == 3
    grey_record = provenance(tmp_path / "auto" / "grey.hsv.png")
    assert grey_record["channels_used"] == "gray"
    assert pixels(tmp_path / "auto" / "grey.sketch.png").ndim == 2
    # under auto a grey scan gives what --channels gray gives, pixel for pixel
    forced = sketchgrad_cmd("run", tmp_path / "in" / "grey.jpg", "-o", tmp_path / "gray",
                            "--channels", "gray", "--outputs", "magnitude,hsv,sketch")
    assert forced.returncode == 0, forced.stderr
    for kind in ("magnitude", "hsv", "sketch"):
        assert_array_equal(pixels(tmp_path / "gray" / f"grey.{kind}.png"),
                           pixels(tmp_path / "auto" / f"grey.{kind}.png"))
    assert provenance(tmp_path / "gray" / "grey.hsv.png")["config"]["channels"] == "gray"
    # forced colour on the grey scan, from a TOML key; --keep-hue and --color stroke reach it
    (tmp_path / "c.toml").write_text('channels = "rgb"\nkeep_hue = true\n')
    rgb = sketchgrad_cmd("run", tmp_path / "in" / "colour.png", "-o", tmp_path / "rgb",
                         "--config", tmp_path / "c.toml", "--color", "stroke",
                         "--outputs", "hsv", "--json")
    assert rgb.returncode == 0, rgb.stderr
    record = provenance(tmp_path / "rgb" / "colour.hsv.png")
    assert record["config"]["channels"] == "rgb" and record["channels_used"] == "rgb"
    assert record["config"]["color"] == "stroke" and record["config"]["keep_hue"] is True
    keep = sketchgrad_cmd("run", tmp_path / "in" / "colour.png", "-o", tmp_path / "keep",
                          "--color", "sepia", "--color-target", "tone", "--keep-hue",
                          "--outputs", "hsv")
    assert keep.returncode == 0, keep.stderr
    assert provenance(tmp_path / "keep" / "colour.hsv.png")["config"]["keep_hue"] is True
    # a re-run is skipped by provenance (channels_used does not break the rule)
    again = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "auto", "--outputs",
                           "magnitude,hsv,sketch", "--json")
    assert [o["status"] for o in json.loads(again.stdout)] == ["skipped", "skipped"]
    bad = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "bad", "--channels", "cmyk")
    assert bad.returncode == 2
    (line,) = error_lines(bad.stderr)
    assert "channels" in line and "'cmyk'" in line and "'auto', 'gray', 'rgb'" in line


@pytest.mark.slow
def test_batch_scope_in_colour(tmp_path):
    for i in range(2):
        _write_colour(tmp_path / "in" / f"c{i}.png", seed=10 + i)
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "out", "--outputs",
                         "magnitude", "--normalize-scope", "batch", "--normalize", "minmax",
                         "--workers", 1)
    assert res.returncode == 0, res.stderr
    # one scale from both colour pages: the merged statistics of their colour magnitudes
    config = PipelineConfig(normalize="minmax", outputs=("magnitude",))
    book = Normalizer("minmax")
    for i in range(2):
        scan = load_scan(tmp_path / "in" / f"c{i}.png", mode="rgb")
        book = fit_normalizer(scan, config, normalizer=book)
    record = provenance(tmp_path / "out" / "c0.magnitude.png")
    assert record["channels_used"] == "rgb"
    assert_allclose(record["normalizer"]["statistics"]["max"], book.statistics["max"],
                    rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["image", "batch"])
def test_dask_cluster_equals_a_local_run_in_colour(tmp_path, scope):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    src = tmp_path / "in"
    _write_colour(src / "c0.png", seed=20)
    _write_colour(src / "sub" / "c1.png", seed=21)
    _write_grey_rgb_jpeg(src / "grey.jpg")
    common = ("run", src, "--outputs", "magnitude,hsv,sketch", "--normalize-scope", scope,
              "--tile-size", "32", "--json")
    local = sketchgrad_cmd(*common, "-o", tmp_path / "local", "--workers", 1)
    assert local.returncode == 0, local.stderr
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=":0") as cluster:  # 8787 may be taken
        remote = sketchgrad_cmd(*common, "-o", tmp_path / "remote", "--scheduler",
                                cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr
    names = sorted(str(p.relative_to(tmp_path / "local"))
                   for p in (tmp_path / "local").rglob("*.png"))
    assert names == sorted(str(p.relative_to(tmp_path / "remote"))
                           for p in (tmp_path / "remote").rglob("*.png"))
    assert len(names) == 9
    for name in names:
        assert_array_equal(pixels(tmp_path / "remote" / name), pixels(tmp_path / "local" / name))
        assert provenance(tmp_path / "remote" / name) == provenance(tmp_path / "local" / name)
    used = {name: provenance(tmp_path / "local" / name)["channels_used"] for name in names}
    assert used == {name: "gray" if name.startswith("grey") else "rgb" for name in names}
    assert pixels(tmp_path / "local" / "sub" / "c1.sketch.png").shape == (90, 110, 3)
