import colorsys
import io
import json

import numpy as np
import pytest
from PIL import Image

import sketchgrad.pipeline as pipeline
import sketchgrad.streaming as streaming
import sketchgrad.tiling as tiling
from sketchgrad.color import apply_color
from sketchgrad.denoise import denoise
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import ZERO_GRADIENT, gradient_field
from sketchgrad.normalize import normalize, to_unit
from sketchgrad.pipeline import OUTPUT_KINDS, PipelineConfig, process, process_to_files
from sketchgrad.sketch import sketch_effect


def canvas_widths(inches: float, dpi: int = 100) -> tuple[int, ...]:
    """The PNG width matplotlib gives a figure ``inches`` wide: rounded, or truncated.

    matplotlib 3.8 truncates the canvas size (15.6 in at 100 dpi is 1559.99... -> 1559
    pixels), later versions round it; either is right.
    """
    return tuple({round(inches * dpi), int(inches * dpi)})



def drawing(shape=(48, 64), seed=3):
    """Synthetic ink drawing: paper, two strokes, a filled disc, scanner noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    img = np.full(shape, 0.92, np.float32)
    img -= 0.7 * np.exp(-((x - 0.6 * y - 10) ** 2) / 4).astype(np.float32)
    img -= 0.5 * np.exp(-((y - shape[0] / 2) ** 2) / 2).astype(np.float32)
    r = np.hypot(x - shape[1] * 0.7, y - shape[0] * 0.3)
    img[r < min(shape) / 6] = 0.2
    img += rng.normal(0, 0.02, shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


def read(path):
    with Image.open(path) as im:
        return np.asarray(im)


def floored(magnitude):
    """The pipeline's documented rule: magnitudes <= ZERO_GRADIENT are zero."""
    return np.where(magnitude <= ZERO_GRADIENT, np.float32(0), magnitude)


def test_process_equals_the_stage_functions_composed():
    img = drawing()
    cfg = PipelineConfig(denoise="gaussian", strength=1.0)
    assert cfg.normalize == "exposure"  # the default (minmax before issue 15)
    res = process(img, cfg)
    den = denoise(img, "gaussian", strength=1.0)
    field = gradient_field(den, "sobel")
    unit = to_unit(normalize(floored(field.magnitude), "exposure"), "exposure")
    np.testing.assert_array_equal(res.denoised, den)
    np.testing.assert_array_equal(res.field.gx, field.gx)
    np.testing.assert_array_equal(res.field.gy, field.gy)
    np.testing.assert_array_equal(res.normalized, unit)
    np.testing.assert_array_equal(res.hsv, apply_color(field, unit, den))
    np.testing.assert_array_equal(res.sketch, sketch_effect(den))


def test_hsv_output_pixels_against_colorsys_and_numpy():
    """Independent recomputation: NumPy Sobel, colorsys HSV, round to 8 bits."""
    img = drawing((24, 30), seed=5)
    res = process(img, PipelineConfig(denoise="none", normalize="minmax", outputs=("hsv",)))
    a = np.pad(img.astype(np.float64), 1, mode="symmetric")  # the operators' mode="reflect"
    smooth = np.array([1, 2, 1]) / 4
    gx = sum(smooth[i] * (a[i:i + 24, 2:] - a[i:i + 24, :-2]) / 2 for i in range(3))
    gy = sum(smooth[j] * (a[2:, j:j + 30] - a[:-2, j:j + 30]) / 2 for j in range(3))
    mag = np.hypot(gx, gy)
    value = (mag - mag.min()) / (mag.max() - mag.min())
    hue = (np.arctan2(gy, gx) % (2 * np.pi)) / (2 * np.pi)
    expected = np.array([[colorsys.hsv_to_rgb(h, 1.0, v) for h, v in zip(hr, vr, strict=True)]
                         for hr, vr in zip(hue, value, strict=True)])
    got = res.hsv.astype(np.float64)
    assert np.abs(got - expected).max() < 1.5 / 255


def test_only_requested_stages_are_computed(monkeypatch):
    img = drawing()

    def boom(*args, **kwargs):
        raise AssertionError("not needed for these outputs")

    monkeypatch.setattr("sketchgrad.sketch.relief", boom)
    res = process(img, PipelineConfig(outputs=("hsv",), strength=1.0))
    assert res.sketch is None and res.hsv is not None
    res = process(img, PipelineConfig(outputs=("magnitude",), strength=1.0))
    assert res.hsv is None and res.sketch is None and res.normalized is not None
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "gradient_field", boom)  # the whole image
    monkeypatch.setattr(tiling, "gradient_field", boom)  # the tiles
    res = process(img, PipelineConfig(outputs=("sketch",), strength=1.0))
    assert res.field is None and res.normalized is None and res.sketch is not None


def test_files_hold_exactly_the_stage_results(tmp_path):
    img = drawing((40, 52))
    cfg = PipelineConfig(denoise="gaussian", strength=1.5)
    paths = {k: tmp_path / f"d.{k}.png" for k in OUTPUT_KINDS}
    written = process_to_files(img, cfg, paths, text={"sketchgrad": '{"x": 1}'})
    assert set(written) == set(OUTPUT_KINDS)
    den = denoise(img, "gaussian", strength=1.5)
    field = gradient_field(den)
    unit = to_unit(normalize(floored(field.magnitude), cfg.normalize), cfg.normalize)
    np.testing.assert_array_equal(read(paths["magnitude"]), np.floor(unit * 65535.0 + 0.5))
    np.testing.assert_array_equal(read(paths["sketch"]),
                                  np.floor(np.clip(sketch_effect(den), 0, 1) * 255.0 + 0.5))
    hsv = read(paths["hsv"]).astype(int)
    # exactly the colour stage's own 8-bit output ...
    np.testing.assert_array_equal(hsv, apply_color(field, unit, den, dtype=np.uint8))
    # ... which rounds the float colours (save_png of process().hsv) to within one level
    reference = np.floor(apply_color(field, unit, den) * 255.0 + 0.5)
    assert np.abs(hsv - reference).max() <= 1
    assert (hsv == reference).mean() > 0.99
    with Image.open(paths["hsv"]) as im:
        record = json.loads(im.text["sketchgrad"])
    # the caller's record, and the stroke figures the flow and preview outputs measured
    strokes = process(img, PipelineConfig(strength=1.5, outputs=("flow",))).strokes
    assert record.pop("strokes") == strokes.summary()
    assert record == {"x": 1, "strength_used": 1.5}  # and the strength used
    with Image.open(paths["preview"]) as im:
        assert im.mode in ("RGB", "RGBA") and im.size[0] > 100


def test_files_only_for_requested_kinds(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("relief is not needed for hsv")

    monkeypatch.setattr("sketchgrad.sketch.relief", boom)
    out = process_to_files(drawing(), PipelineConfig(strength=1.0), {"hsv": tmp_path / "h.png"})
    assert list(out) == ["hsv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.png"]


def test_preview_cost_does_not_grow_with_the_scan(tmp_path, monkeypatch):
    seen = []
    real = streaming._write_preview

    def spy(result, dest, text):
        seen.append(result.image.shape)
        return real(result, dest, text)

    monkeypatch.setattr(streaming, "_write_preview", spy)
    big = np.tile(drawing((100, 100)), (20, 18))  # 2000 x 1800
    process_to_files(big, PipelineConfig(strength=1.0, tile_size=512),
                     {"preview": tmp_path / "p.png"})
    assert max(seen[0]) <= 800


def test_normalizer_argument_sets_the_scale():
    img = drawing()
    faint = 0.9 + 0.1 * (img - 0.9)
    cfg = PipelineConfig(strength=1.0, outputs=("magnitude",))
    strong = process(img, cfg)

    class Fixed:  # the Normalizer interface: transform with fitted statistics
        def transform(self, x):
            return normalize(np.append(x.ravel(), strong.field.magnitude.max()),
                             "minmax")[:-1].reshape(x.shape)

    res = process(faint, cfg, normalizer=Fixed())
    alone = process(faint, cfg)
    assert res.normalized.max() < 0.2 < alone.normalized.max()


def test_config_round_trip_and_errors(tmp_path):
    cfg = PipelineConfig(tile_size=256, outputs=("hsv", "magnitude"))
    assert PipelineConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    for bad in (-1, 5, 2.5, True):
        with pytest.raises(ParameterError, match="tile_size"):
            PipelineConfig(tile_size=bad)
    with pytest.raises(ParameterError, match="unknown setting"):
        PipelineConfig.from_dict({"tile": 3})
    # colour is processed now (issue 14); other channel counts are refused by the input rule
    assert process(np.zeros((4, 4, 3), np.float32)).channels == "gray"
    with pytest.raises(ParameterError, match=r"scan of shape \(4, 4, 2\) is not an image"):
        process(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ParameterError, match="empty"):
        process(np.zeros((0, 4), np.float32))
    with pytest.raises(ParameterError, match="not outputs"):
        process_to_files(drawing(), None, {"colour": tmp_path / "x.png"})


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (2, 2)])
def test_tiny_images(tmp_path, shape):
    img = np.linspace(0, 1, shape[0] * shape[1], dtype=np.float32).reshape(shape)
    res = process(img, PipelineConfig(denoise="none"))
    assert res.hsv.shape == shape + (3,) and np.isfinite(res.hsv).all()
    out = process_to_files(img, PipelineConfig(denoise="none"),
                           {"hsv": tmp_path / "h.png", "magnitude": tmp_path / "m.png"})
    assert read(out["hsv"]).shape == shape + (3,)
    np.testing.assert_array_equal(read(out["magnitude"]),
                                  np.floor(res.normalized * 65535.0 + 0.5))


def test_timings_are_reported():
    timings = {}
    process(drawing(), PipelineConfig(strength=1.0), timings=timings)
    assert {"denoise", "gradients", "normalize", "color", "sketch"} <= set(timings)
    assert all(v >= 0 for v in timings.values())


def test_tone_ramp_needs_no_gradients(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a ramp over the tone needs no gradients")

    monkeypatch.setattr(pipeline, "gradient_field", boom)  # the whole image
    monkeypatch.setattr(tiling, "gradient_field", boom)  # the tiles
    img = drawing()
    cfg = PipelineConfig(strength=1.0, color="ramp:#000000,#ffffff", color_target="tone",
                         outputs=("hsv",))
    res = process(img, cfg)
    np.testing.assert_allclose(res.hsv[..., 0], denoise(img, "gaussian", strength=1.0),
                               atol=1 / 255)
    out = process_to_files(img, cfg, {"hsv": tmp_path / "t.png"})
    assert np.abs(read(out["hsv"]).astype(int) - np.round(res.hsv * 255)).max() <= 1


def test_constant_page_gives_black_outputs(tmp_path):
    img = np.full((30, 40), 0.8, np.float32)
    out = process_to_files(img, PipelineConfig(strength=1.0, tile_size=16),
                           {"hsv": tmp_path / "h.png", "magnitude": tmp_path / "m.png"})
    assert not read(out["hsv"]).any() and not read(out["magnitude"]).any()


def test_failure_leaves_no_files(tmp_path):
    img = drawing()
    img[5, 5] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        process_to_files(img, PipelineConfig(denoise="none", tile_size=16),
                         {"hsv": tmp_path / "h.png", "magnitude": tmp_path / "m.png"})
    assert list(tmp_path.iterdir()) == []


def test_streamed_preview_names_the_scan_size_and_zooms_on_the_strokes(tmp_path, monkeypatch):
    seen = {}
    real = streaming._write_preview

    def spy(result, dest, text):
        seen["result"] = result
        return real(result, dest, text)

    monkeypatch.setattr(streaming, "_write_preview", spy)
    page = np.full((1500, 2000), 0.93, np.float32)  # blank paper ...
    page[1000:1300, 1400:1900] = np.tile(drawing((100, 100)), (3, 5))  # ... with one drawing
    process_to_files(page, PipelineConfig(strength=1.0), {"preview": tmp_path / "p.png"})
    got = seen["result"]
    assert got.full_shape == (1500, 2000) and max(got.image.shape) <= 720
    r, c, ch, cw = got.details["window"]
    # the 1:1 window lies on the drawing, not on the blank paper
    assert r < 1300 and r + ch > 1000 and c < 1900 and c + cw > 1400
    overlap = (min(r + ch, 1300) - max(r, 1000)) * (min(c + cw, 1900) - max(c, 1400))
    assert overlap > 0.5 * 300 * 460
    with Image.open(tmp_path / "p.png") as im:
        assert im.width in canvas_widths(3 * (4.6 + 0.6))
        assert im.height > 1400  # four rows: the detail panels are there
    from sketchgrad.preview import _build_figure

    titles = [t.get_text() for t in _build_figure(got, None).fig.texts]
    assert "scan · 2000×1500 px" in titles


def test_result_shows_as_its_preview_in_jupyter():
    res = process(drawing(), PipelineConfig(strength=1.0))
    png = res._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        # a thumbnail of the sheet (3 panels of 5.2 in at 100 dpi = 1560 px wide; four rows,
        # the last the rose of stroke angles, make it taller than wide): 1024 on its long side
        sheet = round(3 * (4.6 + 0.6) * 100)
        height = render_height(res)
        assert im.format == "PNG" and max(im.size) == 1024
        assert abs(im.width / im.height - sheet / height) < 0.01
        rgb = np.asarray(im.convert("RGB"))
    assert len(np.unique(rgb.reshape(-1, 3)[::5], axis=0)) > 100  # a picture, not a blank
    assert len(png) < 400_000  # a few hundred kB at most, not a 2.6 MB sheet


def render_height(res):
    from sketchgrad.preview import preview_png_bytes

    with Image.open(io.BytesIO(preview_png_bytes(res))) as full:
        return full.height
