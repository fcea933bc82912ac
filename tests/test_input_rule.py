"""The one input rule (``io.as_image``), checked on every public function that takes an image.

The same drawing in each accepted dtype must give the same numbers from every function
(uint8 ``a`` and float32 ``a / 255``: equal within 1e-6); what is not an image must be a
ParameterError that names what was wrong and the fix.
"""

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import sketchgrad as sg
from sketchgrad.errors import ParameterError
from sketchgrad.io import RANGE_SLACK, as_image

TOL = 1e-6  # float32 results of the same float32 input, whatever dtype it came in


def drawing_u8(shape=(40, 56), seed=5):
    """Paper ~235 with grain, three dark strokes: a uint8 'scan' as Pillow would give."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    ink = np.zeros(shape, np.float32)
    for a, b, c in ((1.0, -1.3, 4.0), (0.4, 1.0, -30.0), (1.0, 0.2, -35.0)):
        ink = np.maximum(ink, np.exp(-((a * x + b * y + c) / 1.6) ** 2))
    tone = 235 - 190 * ink + rng.normal(0, 4, shape)
    return np.clip(np.round(tone), 0, 255).astype(np.uint8)


def png_pixels(path):
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


def _measure(image):
    m = sg.colourfulness(image)
    return np.array([*m.paper, m.coloured, m.marked, m.colour_share, m.peak_chroma])


def _stroke(image):
    field = sg.gradient_field(image)
    return sg.stroke_color(field, image, np.ones(field.gx.shape, np.float32))


def _strokes(image):
    d = sg.stroke_directions(image)
    return np.stack([d.angle, d.coherence], axis=-1)


def _process(image):
    res = sg.process(image, sg.PipelineConfig())
    return [res.denoised, res.normalized, res.hsv, res.sketch, res.field.gx, res.field.gy]


def _process_tiled(image):
    res = sg.process(image, sg.PipelineConfig(tile_size=16, outputs=("hsv", "sketch")))
    return [res.hsv, res.sketch]


def _process_to_files(image, tmp_path):
    paths = {k: tmp_path / f"out.{k}.png" for k in ("magnitude", "hsv", "sketch")}
    written = sg.process_to_files(image, sg.PipelineConfig(tile_size=16), paths)
    return [png_pixels(written[k]) for k in paths]


def _fit_normalizer(image):
    stats = sg.fit_normalizer(image, sg.PipelineConfig(normalize="zscore")).statistics
    return [np.array([stats[k] for k in ("count", "min", "max", "mean", "std")])]


def _render_comparison(image, tmp_path):
    return [png_pixels(sg.render_comparison(image, "normalize", tmp_path / "sheet.png"))]


#: Every public function that takes an image -> the arrays it gives, as a list.
FUNCTIONS = {
    "denoise gaussian (estimated strength)": lambda im, _: [sg.denoise(im, "gaussian")],
    "denoise none": lambda im, _: [sg.denoise(im, "none")],
    "denoise median": lambda im, _: [sg.denoise(im, "median", strength=1)],
    "denoise tv": lambda im, _: [sg.denoise(im, "tv", strength=0.05)],
    "estimate_noise": lambda im, _: [np.array([sg.estimate_noise(im)])],
    "flatten_background": lambda im, _: [sg.flatten_background(im, scale=8)],
    "gradient_field": lambda im, _: [sg.gradient_field(im).gx, sg.gradient_field(im).gy],
    "sketch_effect": lambda im, _: [sg.sketch_effect(im)],
    "sketch_effect denoised, ramp": lambda im, _: [sg.sketch_effect(im, denoise="gaussian",
                                                                    color="sepia")],
    "colour_relief": lambda im, _: [sg.colour_relief(im)],
    "colourfulness": lambda im, _: [_measure(im)],
    "gradient_map": lambda im, _: [sg.gradient_map(im, "sepia", keep_hue=True)],
    "stroke_color": lambda im, _: [_stroke(im)],
    "stroke_directions": lambda im, _: [_strokes(im)],
    "process": lambda im, _: _process(im),
    "process tiled": lambda im, _: _process_tiled(im),
    "process_to_files": _process_to_files,
    "fit_normalizer": lambda im, _: _fit_normalizer(im),
    "render_comparison": _render_comparison,
}


def _variants(a):
    """The same drawing as users hold it; each value gives exactly float32(a / 255)."""
    return {
        "uint8": a,
        "uint16 (x 257)": a.astype(np.uint16) * np.uint16(257),
        "float64 a / 255": a / 255,
        "(H, W, 1) uint8": a[..., None],
        "non-contiguous float32": np.asfortranarray((a / 255).astype(np.float32)),
        "Scan": sg.Scan(image=(a / 255).astype(np.float32), meta=None),
    }


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_dtype_gives_the_same_result(function, tmp_path):
    a = drawing_u8()
    reference = FUNCTIONS[function]((a / 255).astype(np.float32), tmp_path)
    for variant, image in _variants(a).items():
        got = FUNCTIONS[function](image, tmp_path)
        for want, have in zip(reference, got, strict=True):
            assert have.shape == want.shape, variant
            np.testing.assert_allclose(have, want, atol=TOL, rtol=0, err_msg=variant)


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_bool_and_float16_are_read_as_their_values(function, tmp_path):
    a = drawing_u8()
    for image in (a < 128, (a / 255).astype(np.float16)):
        want = FUNCTIONS[function](image.astype(np.float32), tmp_path)
        got = FUNCTIONS[function](image, tmp_path)
        for w, g in zip(want, got, strict=True):
            np.testing.assert_allclose(g, w, atol=TOL, rtol=0, err_msg=str(image.dtype))


def test_uint8_is_scaled_not_clipped():
    # the trial that found the issue: denoise(u8, "gaussian") gave all 1.0 and
    # estimate_noise(u8) 1.53 instead of about 4/255
    a = drawing_u8()
    assert 0.3 < float(sg.denoise(a, "gaussian").mean()) < 0.95
    assert sg.estimate_noise(a) == pytest.approx(sg.estimate_noise(a / 255), abs=1e-7)
    assert 2 / 255 < sg.estimate_noise(a) < 6 / 255
    np.testing.assert_array_equal(sg.denoise(a, "none"), (a / 255).astype(np.float32))


def test_int64_is_refused_not_divided_by_its_maximum():
    # gradient_field(int64) used to divide by 2**63 - 1: gradients of 1e-17
    a = drawing_u8().astype(np.int64)
    with pytest.raises(ParameterError, match=r"image of dtype int64 .*astype\(np.uint8\)"):
        sg.gradient_field(a)


def test_rgba_is_composited_over_paper_as_load_scan_does(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (12, 15, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    loaded = sg.load_scan(tmp_path / "a.png", mode="rgb").image
    np.testing.assert_array_equal(as_image(rgba), loaded)
    alpha = rgba[..., 3:] / 255
    np.testing.assert_allclose(as_image(rgba), rgba[..., :3] / 255 * alpha + 1 - alpha, atol=1e-6)
    # float RGBA the same, and every function sees the composite
    np.testing.assert_allclose(as_image(rgba / 255), loaded, atol=1e-6)
    for func in (sg.gradient_field, lambda im: sg.denoise(im, "gaussian", strength=1)):
        want = func(loaded)
        got = func(rgba)
        want = want.gx if hasattr(want, "gx") else want
        got = got.gx if hasattr(got, "gx") else got
        np.testing.assert_allclose(got, want, atol=TOL)


@pytest.mark.parametrize("function", list(FUNCTIONS))
@pytest.mark.parametrize("bad, message", [
    (np.full((8, 9), 200.0), r"values from 200 to 200, outside \[0, 1\]; divide by 255"),
    (np.linspace(0, 60000, 72).reshape(8, 9), r"from 0 to 60000.*divide by 65535"),
    (np.linspace(-0.5, 0.5, 72).reshape(8, 9).astype(np.float32),
     r"from -0.5 to 0.5.*rescale them into \[0, 1\]"),
    (np.zeros((8, 9), np.int32), r"dtype int32 is not read as an image.*astype\(np.uint8\)"),
    (np.zeros((8, 9), np.uint32), r"dtype uint32"),
    (np.zeros((8, 9, 2), np.uint8), r"shape \(8, 9, 2\) is not an image"),
    (np.zeros((8, 9, 3, 1), np.uint8), r"shape \(8, 9, 3, 1\) is not an image"),
    (np.zeros(9, np.float32), r"shape \(9,\) is not an image"),
    (np.zeros((0, 9), np.float32), r"shape \(0, 9\) is empty"),
    (np.where(np.eye(8, 9) > 0, np.nan, 0.5), r"has 8 pixels with non-finite values"),
    (np.zeros((8, 9), complex), r"dtype complex128 is not an image"),
    ("scan.png", r"is a path, not an image array; load it first: load_scan"),
])
def test_what_is_not_an_image_is_a_clear_error(function, bad, message, tmp_path):
    with pytest.raises(ParameterError, match=message):
        FUNCTIONS[function](bad, tmp_path)


def test_float32_in_range_is_not_copied_and_slack_is_rounding_only():
    f = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    assert as_image(f) is f
    assert as_image(f[..., None]).base is f or np.shares_memory(as_image(f[..., None]), f)
    near = f.copy()
    near[0, 0] = 1 + RANGE_SLACK / 2      # float rounding: brought to 1, never an error
    near[0, 1] = -RANGE_SLACK / 2
    got = as_image(near)
    assert got is not near and got[0, 0] == 1.0 and got[0, 1] == 0.0
    assert near[0, 0] > 1  # the caller's array is left alone
    near[0, 0] = 1 + 2 * RANGE_SLACK    # more is data, not rounding: never clipped silently
    with pytest.raises(ParameterError, match="outside"):
        as_image(near)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.uint8])
def test_no_full_size_float64_temporaries(dtype):
    shape = (1000, 1000)
    image = (np.random.default_rng(0).random(shape) * (255 if dtype == np.uint8 else
                                                        65535 if dtype == np.uint16 else 1))
    image = image.astype(dtype)
    tracemalloc.start()
    try:
        out = as_image(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result_bytes = 0 if out is image else out.nbytes
    # the float32 result and small blocks, never an 8 MB float64 copy
    assert peak < result_bytes + 1_000_000, peak


def test_finite_false_judges_the_range_on_finite_values():
    image = np.full((4, 5), 0.5, np.float32)
    image[0, 0] = np.nan
    out = as_image(image, finite=False)
    assert out is image
    image[0, 1] = 7.0
    with pytest.raises(ParameterError, match="from 0.5 to 7"):
        as_image(image, finite=False)
    # gradient_field's mask may hide non-finite pixels (its documented rule)
    masked = np.full((6, 6), 0.5, np.float32)
    masked[0, 0] = np.inf
    keep = np.ones((6, 6), bool)
    keep[0, 0] = False
    assert np.isfinite(sg.gradient_field(masked, mask=keep).magnitude).all()


def test_as_image_is_public_and_the_readme_states_it():
    assert sg.as_image is as_image and "as_image" in sg.__all__
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "uint8 /255, uint16 /65535" in readme


def test_io_bytes_round_trip_uses_the_same_scale(tmp_path):
    # 16-bit PNG loaded by load_scan and the same samples given as an array agree exactly
    rng = np.random.default_rng(2)
    samples = rng.integers(0, 65536, (9, 7), dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(samples).save(buffer, format="PNG")
    np.testing.assert_array_equal(sg.load_scan(buffer).image, as_image(samples))
    assert as_image(samples).max() == np.float32(samples.max() / 65535)


@pytest.mark.parametrize("function", ["denoise", "estimate_noise", "flatten_background",
                                      "gradient_field", "colour_relief", "colourfulness",
                                      "gradient_map", "stroke_color", "stroke_directions"])
def test_colour_arrays_follow_the_same_rule(function):
    grey = drawing_u8()
    rgb = np.dstack([grey, np.roll(grey, 3, axis=1), 255 - grey // 2])
    call = {
        "denoise": lambda im: [sg.denoise(im, "bilateral", strength=0.1)],
        "estimate_noise": lambda im: [np.array([sg.estimate_noise(im)])],
        "flatten_background": lambda im: [sg.flatten_background(im, scale=8)],
        "gradient_field": lambda im: [sg.gradient_field(im).gx, sg.gradient_field(im).gy],
        "colour_relief": lambda im: [sg.colour_relief(im)],
        "colourfulness": lambda im: [_measure(im)],
        "gradient_map": lambda im: [sg.gradient_map(im, "sepia", keep_hue=True)],
        "stroke_color": lambda im: [_stroke(im)],
        "stroke_directions": lambda im: [_strokes(im)],
    }[function]
    reference = call((rgb / 255).astype(np.float32))
    if function not in ("estimate_noise", "colourfulness"):
        assert reference[0].shape[:2] == grey.shape
    opaque = np.dstack([rgb, np.full(grey.shape, 255, np.uint8)])  # alpha 1: the RGB itself
    for image in (rgb, rgb.astype(np.uint16) * np.uint16(257), rgb / 255, opaque):
        for want, got in zip(reference, call(image), strict=True):
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=str(image.dtype))
