"""The hand-drawn relief against the classic formula, the classic script and analytic images."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from sketchgrad.color import RAMPS
from sketchgrad.denoise import denoise
from sketchgrad.errors import ParameterError
from sketchgrad.io import load_scan
from sketchgrad.sketch import relief, sketch_effect

EL, AZ = np.pi / 2.2, np.pi / 4
CLASSIC = Path(__file__).resolve().parents[2] / "shared" / "bench" / "classic_sketch.py"


def classic_formula(a_uint8, depth=10.0, el=EL, az=AZ):
    """The classic effect written out from its description, in float64 on 0-255."""
    a = a_uint8.astype(np.float64)
    d_row, d_col = np.gradient(a)
    g1, g2 = d_row * depth / 100, d_col * depth / 100
    norm = np.sqrt(g1 ** 2 + g2 ** 2 + 1)
    light = np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)
    shade = 255 * (light[0] * g1 / norm + light[1] * g2 / norm + light[2] / norm)
    return shade.clip(0, 255).astype(np.uint8)


def drawing(rng, shape=(60, 80)):
    """Paper with grain, soft shading and a few hard ink strokes, as uint8."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    tone = 225 - 60 * np.exp(-((x - 50) ** 2 + (y - 30) ** 2) / 300.0)
    tone = tone + rng.normal(0, 6, shape)
    tone[10:13, 5:70] = 20
    tone[:, 30] = 40
    tone[45:50, 60:65] = 0
    return np.clip(np.round(tone), 0, 255).astype(np.uint8)


def test_reproduces_classic_formula_within_one_level(rng):
    a = drawing(rng)
    out = sketch_effect(a.astype(np.float32) / 255)
    assert out.dtype == np.float32 and out.shape == a.shape
    diff = np.abs(np.round(out * 255).astype(int) - classic_formula(a).astype(int))
    assert diff.max() <= 1
    assert (diff == 0).mean() > 0.4


def run_classic(src: Path, dst: Path) -> None:
    if CLASSIC.exists():  # the classic script itself, as shipped next to the project
        subprocess.run([sys.executable, str(CLASSIC), str(src), str(dst)], check=True)
        return
    # A clone without ../shared: the formula above, run the same way in a subprocess
    code = ("import sys, numpy as np; from PIL import Image; sys.path.insert(0, sys.argv[3]);"
            "from test_sketch import classic_formula;"
            "a = np.asarray(Image.open(sys.argv[1]).convert('L'));"
            "Image.fromarray(classic_formula(a)).save(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(src), str(dst),
                    str(Path(__file__).parent)], check=True)


def test_matches_the_classic_script_on_a_png(tmp_path, rng):
    a = drawing(rng, (70, 90))
    src, dst = tmp_path / "drawing.png", tmp_path / "classic.png"
    Image.fromarray(a).save(src)
    run_classic(src, dst)
    want = np.asarray(Image.open(dst)).astype(int)
    out = sketch_effect(load_scan(src).image)
    assert np.abs(np.round(out * 255).astype(int) - want).max() <= 1


def test_flat_and_ramp_images():
    flat = sketch_effect(np.full((5, 7), 0.3, np.float32))
    np.testing.assert_allclose(flat, np.sin(EL), atol=1e-6)
    y, x = np.mgrid[0:9, 0:12].astype(np.float32)
    for a, b in [(0.02, 0.0), (0.0, -0.03), (0.01, 0.015)]:
        out = sketch_effect(a * x + b * y + 0.5)  # inside [0, 1] (the input rule)
        g_col, g_row = 255 * a * 0.1, 255 * b * 0.1
        # the classic pairing: cos(el)cos(az) with d/drow, cos(el)sin(az) with d/dcol
        want = (np.cos(EL) * np.cos(AZ) * g_row + np.cos(EL) * np.sin(AZ) * g_col
                + np.sin(EL)) / np.sqrt(g_row ** 2 + g_col ** 2 + 1)
        np.testing.assert_allclose(out, np.clip(want, 0, 1), atol=1e-5)


@pytest.mark.parametrize("operator, scale", [("sobel", 1 / 8), ("scharr", 1 / 32)])
def test_other_operators_keep_the_pairing(rng, operator, scale):
    image = drawing(rng).astype(np.float32) / 255
    depth, el, az = 7.0, 1.1, 0.6
    ksize = -1 if operator == "scharr" else 3
    gx = cv2.Sobel(image, cv2.CV_64F, 1, 0, ksize=ksize, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(image, cv2.CV_64F, 0, 1, ksize=ksize, borderType=cv2.BORDER_REFLECT_101)
    g_row, g_col = gy * scale * 255 * depth / 100, gx * scale * 255 * depth / 100
    want = (np.cos(el) * np.cos(az) * g_row + np.cos(el) * np.sin(az) * g_col
            + np.sin(el)) / np.sqrt(g_row ** 2 + g_col ** 2 + 1)
    out = sketch_effect(image, operator=operator, depth=depth, elevation=el, azimuth=az)
    inner = np.s_[1:-1, 1:-1]  # the border rule is sketchgrad.gradients' business
    np.testing.assert_allclose(out[inner], np.clip(want, 0, 1)[inner], atol=1e-5)


def test_depth_does_not_depend_on_bit_depth(tmp_path, rng):
    a8 = drawing(rng)
    Image.fromarray(a8).save(tmp_path / "d8.png")
    Image.fromarray(a8.astype(np.uint16) * 257).save(tmp_path / "d16.png")
    s8, s16 = load_scan(tmp_path / "d8.png"), load_scan(tmp_path / "d16.png")
    assert s16.meta.bit_depth == 16
    np.testing.assert_allclose(sketch_effect(s16.image), sketch_effect(s8.image), atol=1e-5)


def test_denoise_first(rng):
    noisy = np.clip(0.8 + rng.normal(0, 0.04, (64, 64)), 0, 1).astype(np.float32)
    plain = sketch_effect(noisy)
    cleaned = sketch_effect(noisy, denoise="gaussian", strength=1.5)
    np.testing.assert_allclose(cleaned, sketch_effect(denoise(noisy, "gaussian", strength=1.5)),
                               atol=1e-6)
    assert cleaned.std() < 0.3 * plain.std()


def test_colour_mode_is_relief_times_ramp(rng):
    image = drawing(rng).astype(np.float32) / 255
    rgb = sketch_effect(image, color="sepia")
    want = RAMPS["sepia"](image) * sketch_effect(image)[..., None]
    assert rgb.shape == image.shape + (3,) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb, want, atol=1e-6)
    np.testing.assert_allclose(sketch_effect(image, color=RAMPS["sepia"]), want, atol=1e-6)
    with pytest.raises(ParameterError, match="color='hsv' has no meaning"):
        sketch_effect(image, color="hsv")


def test_small_images_and_errors():
    assert sketch_effect(np.zeros((1, 1), np.float32)).shape == (1, 1)
    row = sketch_effect(np.linspace(0, 1, 9, dtype=np.float32)[None])
    assert row.shape == (1, 9) and np.all((row >= 0) & (row <= 1))
    with pytest.raises(ParameterError, match="operator='roberts' is not known"):
        sketch_effect(np.zeros((4, 4), np.float32), operator="roberts")
    with pytest.raises(ParameterError, match="not a grey"):
        sketch_effect(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        sketch_effect(np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ParameterError, match="depth=inf"):
        sketch_effect(np.zeros((4, 4), np.float32), depth=np.inf)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_relief_refuses_non_finite_pixels_and_counts_them(bad):
    """The input rule's check (as_image), once: the relief adds no second one."""
    from sketchgrad.sketch import colour_relief

    image = np.full((3, 4), 0.5, np.float32)
    image[1, 2] = image[2, 3] = bad
    with pytest.raises(ParameterError, match=r"image has 2 pixels with non-finite values"):
        relief(image)
    rgb = np.repeat(image[..., None], 3, axis=2)
    with pytest.raises(ParameterError, match=r"image has 2 pixels with non-finite values"):
        colour_relief(rgb)


def test_relief_of_a_tall_drawing_band_by_band_is_the_classic_formula(rng):
    # relief works a band of rows at a time: a drawing taller than several bands must
    # still match the classic formula everywhere, the rows at band boundaries included,
    # and the first and last rows and columns (one-sided differences).
    a = drawing(rng, (900, 150))
    a[430:470] = 10                      # ink across a band boundary
    out = relief(a.astype(np.float32) / 255)
    diff = np.abs(np.round(out * 255).astype(int) - classic_formula(a).astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.4
    # against the formula in float64 directly, without the 8-bit rounding
    d_row, d_col = np.gradient(a.astype(np.float64))
    g1, g2 = d_row / 10, d_col / 10
    want = (np.cos(EL) * np.cos(AZ) * g1 + np.cos(EL) * np.sin(AZ) * g2 + np.sin(EL)) / \
        np.sqrt(g1 ** 2 + g2 ** 2 + 1)
    np.testing.assert_allclose(out, want.clip(0, 1), atol=2e-6)


def test_relief_as_8_bit_samples_is_the_float_relief_quantized(rng):
    # dtype=np.uint8 makes the samples a PNG of the float relief holds, band by band, without
    # the float image: floor(255 v + 1/2) of each float32 value, on a drawing of many bands.
    a = drawing(rng, (700, 260))
    image = a.astype(np.float32) / 255
    for operator in ("central", "sobel"):
        lit = relief(image, operator=operator, depth=25)
        samples = relief(image, operator=operator, depth=25, dtype=np.uint8)
        assert samples.dtype == np.uint8 and samples.shape == a.shape
        np.testing.assert_array_equal(samples, np.floor(lit * np.float32(255) + np.float32(0.5)))
    with pytest.raises(ParameterError, match="dtype='uint16' is not supported"):
        relief(image, dtype=np.uint16)
