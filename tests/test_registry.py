"""Methods registered from outside the package work everywhere a built-in one does."""

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import uniform_filter

import sketchgrad
from sketchgrad.cli import main
from sketchgrad.errors import ParameterError

#: Tiled float results may differ from whole-image ones by OpenCV's last-bit rounding only.
FLOAT_TOL = 1e-5
#: Colour from the orientation of a near-zero gradient is ill-conditioned (see test_tiling).
HSV_TOL = 1e-4


def box_blur(image, strength):
    """Box blur over a (2 round(strength) + 1)-pixel square."""
    k = 2 * round(strength) + 1
    return cv2.blur(image, (k, k), borderType=cv2.BORDER_REFLECT)


def forward_differences(image):
    """Forward differences: I[x+1] - I[x] (zero in the last column and row)."""
    gx = np.zeros_like(image)
    gy = np.zeros_like(image)
    gx[:, :-1] = image[:, 1:] - image[:, :-1]
    gy[:-1] = image[1:] - image[:-1]
    return gx, gy


def root_of_peak(x, **params):
    """Square root of the value over the largest value (zeros stay zero)."""
    peak = float(x.max()) if x.size else 0.0
    return np.zeros_like(x) if peak <= 0 else np.sqrt(x / np.float32(peak))


@pytest.fixture
def registered():
    """The three methods registered for one test, and removed after it."""
    entries = (sketchgrad.register_denoiser("box_test", box_blur, reach=lambda s: round(s)),
               sketchgrad.register_operator("forward_test", forward_differences, reach=1),
               sketchgrad.register_normalization("root_test", root_of_peak))
    yield entries
    del sketchgrad.DENOISE_METHODS["box_test"]
    del sketchgrad.OPERATORS["forward_test"]
    del sketchgrad.NORMALIZE_METHODS["root_test"]


def drawing(shape=(70, 93), seed=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    img = 0.9 - 0.6 * (np.sin(x / 6) * np.cos(y / 9) > 0.55)
    img += rng.normal(0, 0.03, shape)
    return np.clip(img, 0, 1).astype(np.float32)


def test_each_stage_function_runs_the_registered_method(registered):
    img = drawing()
    np.testing.assert_allclose(sketchgrad.denoise(img, "box_test", strength=2),
                               uniform_filter(img, size=5, mode="reflect"), atol=1e-6)
    field = sketchgrad.gradient_field(img, "forward_test")
    np.testing.assert_allclose(field.gx[:, :-1], np.diff(img, axis=1), atol=1e-7)
    np.testing.assert_allclose(field.gy[:-1], np.diff(img, axis=0), atol=1e-7)
    x = np.array([0.0, 1.0, 4.0], np.float32)
    assert sketchgrad.normalize(x, "root_test").tolist() == [0.0, 0.5, 1.0]
    assert sketchgrad.to_unit(np.array([0.25, 2.0], np.float32), "root_test").tolist() == [
        0.25, 1.0]  # the default display rule: clip to [0, 1]
    # the entries carry what the package needs, and are what the registries hold
    denoiser, operator, normalization = registered
    assert sketchgrad.DENOISE_METHODS["box_test"] is denoiser
    assert denoiser.reach_for(2.4) == 2 and operator.reach == 1
    assert normalization.doc == "Square root of the value over the largest value (zeros stay zero)."
    assert not normalization.fits_in_parts


def test_automatic_strength_comes_from_the_noise_estimate(registered):
    img = drawing()
    sigma = sketchgrad.estimate_noise(img)
    assert sketchgrad.denoise(img, "box_test").tolist() == box_blur(img, sigma).tolist()
    sketchgrad.register_denoiser("box_auto_test", box_blur, reach=lambda s: round(s),
                                 strength_from_noise=lambda noise: 100 * noise)
    try:
        k = 2 * round(100 * sigma) + 1
        assert k >= 5  # a real blur, not the identity
        np.testing.assert_allclose(sketchgrad.denoise(img, "box_auto_test"),
                                   uniform_filter(img, size=k, mode="reflect"), atol=1e-6)
    finally:
        del sketchgrad.DENOISE_METHODS["box_auto_test"]


@pytest.mark.parametrize("tile", [16, 23])
def test_process_whole_and_tiled_are_equal(registered, tile):
    img = drawing()
    config = sketchgrad.PipelineConfig(denoise="box_test", strength=2.0, operator="forward_test",
                                       normalize="root_test", tile_size=0)
    whole = sketchgrad.process(img, config)
    tiled = sketchgrad.process(img, sketchgrad.PipelineConfig.from_dict(
        {**config.to_dict(), "tile_size": tile}))
    # the whole run is the stage functions composed (independent of the tile engine)
    den = uniform_filter(img, size=5, mode="reflect")
    np.testing.assert_allclose(whole.denoised, den, atol=1e-6)
    magnitude = np.hypot(*forward_differences(whole.denoised))
    np.testing.assert_allclose(whole.normalized, np.sqrt(magnitude / magnitude.max()), atol=1e-5)
    for name in ("denoised", "normalized", "sketch"):
        np.testing.assert_allclose(getattr(tiled, name), getattr(whole, name), rtol=0,
                                   atol=FLOAT_TOL, err_msg=name)
    np.testing.assert_allclose(tiled.hsv, whole.hsv, rtol=0, atol=HSV_TOL)
    np.testing.assert_allclose(tiled.field.gx, whole.field.gx, rtol=0, atol=FLOAT_TOL)


def test_streamed_files_whole_and_tiled_are_equal(registered, tmp_path):
    img = drawing()
    settings = dict(denoise="box_test", strength=1.0, operator="forward_test",
                    normalize="root_test")
    kinds = ("magnitude", "hsv", "sketch")
    pixels = {}
    for tile in (0, 16):
        folder = tmp_path / str(tile)
        folder.mkdir()
        out = sketchgrad.process_to_files(
            img, sketchgrad.PipelineConfig(**settings, tile_size=tile),
            {k: folder / f"{k}.png" for k in kinds})
        for kind, path in out.items():
            with Image.open(path) as im:
                pixels[tile, kind] = np.asarray(im).astype(int)
    for kind in kinds:
        assert np.abs(pixels[0, kind] - pixels[16, kind]).max() <= 1, kind


def test_an_understated_reach_shows_at_the_seams(registered):
    """The halo comes from the declared reach: declare too little and tiles differ."""
    sketchgrad.register_denoiser("box_short_test", box_blur, reach=0)
    try:
        img = drawing()
        cfg = dict(denoise="box_short_test", strength=3.0, outputs=("magnitude",))
        whole = sketchgrad.process(img, sketchgrad.PipelineConfig(**cfg, tile_size=0))
        tiled = sketchgrad.process(img, sketchgrad.PipelineConfig(**cfg, tile_size=16))
        assert np.abs(tiled.denoised - whole.denoised).max() > 1e-3
    finally:
        del sketchgrad.DENOISE_METHODS["box_short_test"]


def test_methods_command_lists_them(registered, capsys):
    assert main(["methods"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, doc in (("box_test", "Box blur over a (2 round(strength) + 1)-pixel square."),
                      ("forward_test", "Forward differences: I[x+1] - I[x] (zero in the last "
                                       "column and row)."),
                      ("root_test", "Square root of the value over the largest value (zeros "
                                    "stay zero).")):
        assert any(line.split()[:1] == [name] and line.endswith(doc) for line in lines), name


def test_registration_errors_name_the_problem(registered):
    with pytest.raises(ParameterError, match="register_denoiser: the name 'gaussian' is taken"):
        sketchgrad.register_denoiser("gaussian", box_blur, reach=1)
    with pytest.raises(ParameterError, match=r"reach=-1 for method 'neg_test'"):
        sketchgrad.register_denoiser("neg_test", box_blur, reach=-1)
    with pytest.raises(ParameterError, match="reach=None for operator 'none_test'"):
        sketchgrad.register_operator("none_test", forward_differences, reach=None)
    with pytest.raises(ParameterError, match="unit='percent' for method 'pct_test'"):
        sketchgrad.register_normalization("pct_test", root_of_peak, unit="percent")
    with pytest.raises(ParameterError, match="func=3 for method 'three_test' is not callable"):
        sketchgrad.register_normalization("three_test", 3)
    # a normalization without mergeable statistics cannot be fitted in parts
    with pytest.raises(ParameterError, match="'root_test' was registered without statistics"):
        sketchgrad.Normalizer("root_test")
    with pytest.raises(ParameterError, match="operator 'forward_test' takes no border mode"):
        sketchgrad.gradient_field(drawing(), "forward_test", mode="wrap")
    assert "neg_test" not in sketchgrad.DENOISE_METHODS
