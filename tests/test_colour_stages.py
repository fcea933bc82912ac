"""The stages in colour: direction, denoising, relief, stroke colouring, gradient map."""

import colorsys

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose

from sketchgrad.channels import luma
from sketchgrad.color import (
    RAMPS,
    apply_color,
    gradient_map,
    hsv_remap,
    srgb_to_oklab,
    stroke_color,
)
from sketchgrad.denoise import DENOISE_METHODS, denoise, resolve_strength
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import SIGN_SHARE, GradientField, gradient_field
from sketchgrad.sketch import colour_relief, sketch_effect

PI = np.float32(np.pi)
BT601 = np.array([0.299, 0.587, 0.114])


def _hue_deg(rgb) -> float:
    return colorsys.rgb_to_hsv(*(float(v) for v in rgb))[0] * 360.0


def _hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# --------------------------------------------------------------------------- direction


def _columns(*channels) -> np.ndarray:
    """(12, 16, 3) image whose channel c is channels[c](x)."""
    y, x = np.mgrid[0:12, 0:16].astype(np.float32)
    return np.stack([f(x) for f in channels], axis=-1).astype(np.float32)


def test_tone_rising_to_the_right_is_red_even_when_the_largest_change_falls():
    # Blue falls fastest (0.03/px) but the luma rises: 0.587 * 0.02 > 0.114 * 0.03.
    rgb = _columns(lambda x: 0.3 + 0 * x, lambda x: 0.2 + 0.02 * x, lambda x: 0.8 - 0.03 * x)
    f = gradient_field(rgb)
    inner = (slice(2, -2), slice(2, -2))
    assert_allclose(f.orientation[inner], 0, atol=1e-6)
    expected = np.sqrt((0.02 ** 2 + 0.03 ** 2) / 3)        # Di Zenzo: RMS over channels
    assert_allclose(f.magnitude[inner], expected, rtol=1e-5)
    # The reverse image: the tone rises to the left, orientation pi.
    back = gradient_field(rgb[:, ::-1])
    assert (back.orientation[inner] == PI).all()
    # The hue is the grey image's hue.
    grey = gradient_field(rgb @ BT601.astype(np.float32))
    assert_allclose(f.orientation[inner], grey.orientation[inner], atol=1e-6)


def test_tone_rising_downwards_is_a_quarter_turn():
    rgb = np.transpose(_columns(lambda x: 0.1 + 0.04 * x, lambda x: 0.6 - 0.01 * x,
                                lambda x: 0.5 + 0 * x), (1, 0, 2))
    f = gradient_field(rgb)
    assert_allclose(f.orientation[3:-3, 3:-3], np.pi / 2, atol=1e-6)


def _step(left, right) -> np.ndarray:
    rgb = np.empty((10, 12, 3), np.float32)
    rgb[:, :6] = left
    rgb[:, 6:] = right
    return rgb


def _tensor_magnitude(rgb: np.ndarray) -> np.ndarray:
    """sqrt of the largest eigenvalue of the channel-mean structure tensor, by hand."""
    jac = np.stack([np.stack([cv2.Sobel(rgb[..., c], cv2.CV_64F, 1, 0, ksize=3,
                                        borderType=cv2.BORDER_REFLECT) / 8,
                              cv2.Sobel(rgb[..., c], cv2.CV_64F, 0, 1, ksize=3,
                                        borderType=cv2.BORDER_REFLECT) / 8], -1)
                    for c in range(3)], -2)
    tensor = np.einsum("...ci,...cj->...ij", jac, jac) / 3
    return np.sqrt(np.maximum(np.linalg.eigvalsh(tensor)[..., -1], 0))


def test_equal_tone_red_green_edge_points_to_red_at_full_magnitude():
    red = 0.8
    green = red * 0.299 / 0.587                      # equal BT.601 luma
    rgb = _step((green * 0 + 0, green, 0), (red, 0, 0))   # green left, red right
    tone = luma(rgb)
    assert_allclose(tone, tone[0, 0], atol=1e-7)
    assert gradient_field(tone).magnitude.max() < 1e-6      # lost in grey
    f = gradient_field(rgb)
    edge = (slice(None), [5, 6])
    analytic = np.sqrt(((red / 2) ** 2 + (green / 2) ** 2) / 3)
    assert_allclose(f.magnitude[edge], analytic, rtol=1e-5)
    assert_allclose(f.magnitude, _tensor_magnitude(rgb.astype(np.float64)), rtol=1e-5,
                    atol=1e-7)
    # Rule 2: towards the red side, here the right: hue 0 (red).
    assert_allclose(f.orientation[edge], 0, atol=1e-6)
    mirrored = gradient_field(rgb[:, ::-1])
    assert (mirrored.orientation[:, [5, 6]] == PI).all()


def test_equal_tone_yellow_blue_edge_points_to_yellow():
    # R - G is 0 on both sides, so rule 3 decides: towards the yellower side.
    yellow = 0.114 / 0.886
    rgb = _step((0, 0, 1), (yellow, yellow, 0))
    assert_allclose(luma(rgb), luma(rgb)[0, 0], atol=1e-7)
    f = gradient_field(rgb)
    assert_allclose(f.magnitude[:, [5, 6]], np.sqrt(((yellow / 2) ** 2 * 2 + 0.25) / 3),
                    rtol=1e-5)
    assert_allclose(f.orientation[:, [5, 6]], 0, atol=1e-6)
    assert (gradient_field(rgb[:, ::-1]).orientation[:, [5, 6]] == PI).all()


def test_a_small_tone_change_decides_over_the_chroma_axis():
    # Red on the left, green on the right, green a little lighter (tone share above
    # SIGN_SHARE): the tone rises to the right, so 0, although red lies to the left.
    red = 0.8
    green = red * 0.299 / 0.587 * 1.2
    rgb = _step((red, 0, 0), (0, green, 0))
    f = gradient_field(rgb)
    along = 0.5 * (luma(rgb)[0, -1] - luma(rgb)[0, 0])
    assert abs(along) > SIGN_SHARE * f.magnitude[0, 5]
    assert_allclose(f.orientation[:, [5, 6]], 0, atol=1e-6)
    # Equal tone again: the chroma axis (towards red) flips it.
    rgb[:, 6:, 1] = red * 0.299 / 0.587
    assert (gradient_field(rgb).orientation[:, [5, 6]] == PI).all()


def test_grey_stored_as_rgb_keeps_the_grey_direction(rng):
    grey = rng.random((14, 15), dtype=np.float32)
    f = gradient_field(np.repeat(grey[..., None], 3, axis=2))
    g = gradient_field(grey)
    assert_allclose(f.gx, g.gx, rtol=1e-5, atol=1e-6)
    assert_allclose(f.gy, g.gy, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- denoising

PATCHES = [(0.9, 0.4, 0.6), (0.1, 0.6, 0.6), (0.5, 0.3, 0.7), (0.85, 0.7, 0.3)]


@pytest.fixture
def patches(rng):
    clean = np.zeros((64, 64, 3), np.float32)
    for i, colour in enumerate(PATCHES):
        clean[(i // 2) * 32:(i // 2) * 32 + 32, (i % 2) * 32:(i % 2) * 32 + 32] = colour
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def _psnr(a, b) -> float:
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


@pytest.mark.parametrize("method", [m for m in DENOISE_METHODS if m != "none"])
def test_colour_denoising_keeps_colours_and_raises_psnr(method, patches):
    clean, noisy = patches
    out = denoise(noisy, method)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert _psnr(clean, out) > _psnr(clean, noisy) + 2
    for i, colour in enumerate(PATCHES):
        inner = out[(i // 2) * 32 + 5:(i // 2) * 32 + 27, (i % 2) * 32 + 5:(i % 2) * 32 + 27]
        mean = inner.reshape(-1, 3).mean(axis=0)
        assert_allclose(mean, colour, atol=0.01)           # mean colour kept
        assert _hue_gap(_hue_deg(mean), _hue_deg(colour)) < 2.0


@pytest.mark.parametrize("method", list(DENOISE_METHODS))
def test_grey_as_three_channels_gives_the_grey_result(method, rng):
    y, x = np.mgrid[0:40, 0:48].astype(np.float32)
    grey = np.clip(0.5 + 0.3 * np.sin(x / 5) * np.cos(y / 7) + rng.normal(0, 0.05, x.shape),
                   0, 1).astype(np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert resolve_strength(rgb, method) == resolve_strength(grey, method)
    want = denoise(grey, method)
    got = denoise(rgb, method)
    for c in range(3):
        assert_allclose(got[..., c], want, atol=1e-6)


def test_nl_means_strength_on_colour_comes_from_the_luma(rng):
    from sketchgrad.denoise import estimate_noise

    noisy = np.clip(0.5 + rng.normal(0, 0.05, (64, 64, 3)), 0, 1).astype(np.float32)
    assert_allclose(resolve_strength(noisy, "nl_means"), 1.2 * estimate_noise(luma(noisy)),
                    rtol=1e-6)
    # Independent channel noise: the luma's is sqrt(sum w^2) = 0.67 of a channel's.
    assert_allclose(resolve_strength(noisy, "nl_means") / resolve_strength(noisy, "wavelet"),
                    1.2 * np.sqrt((BT601 ** 2).sum()), rtol=0.1)


# --------------------------------------------------------------------------- relief


def test_colour_relief_equals_the_grey_relief_on_grey(rng):
    grey = rng.random((20, 24), dtype=np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    for operator in ("central", "sobel"):
        want = sketch_effect(grey, operator=operator)
        got = sketch_effect(rgb, color="scan", operator=operator)
        assert got.shape == rgb.shape and got.dtype == np.float32
        for c in range(3):
            assert (got[..., c] == want).all()
    assert_allclose(colour_relief(grey), colour_relief(rgb))


@pytest.mark.parametrize("colour", PATCHES + [(0.2, 0.3, 0.8)])
def test_colour_relief_keeps_the_hue_of_a_flat_region(colour):
    image = np.ones((24, 24, 3), np.float32)
    image[6:18, 6:18] = colour
    out = colour_relief(image)
    centre = out[12, 12]
    assert _hue_gap(_hue_deg(centre), _hue_deg(colour)) < 0.5
    # The formula by hand: s (c + e) / (Y + e), then divided by the largest channel.
    s = np.sin(np.pi / 2.2)
    expect = s * (np.array(colour) + 0.2) / (BT601 @ colour + 0.2)
    expect /= max(1.0, expect.max())
    assert_allclose(centre, expect, atol=1e-5)
    # Where the relief is shaded (the region's edges) the colour follows the shading.
    assert out.min() >= 0 and out.max() <= 1


def test_colour_relief_is_its_formula_on_every_pixel(rng):
    """Random colours and shading: s (c + e) / (Y + e), divided by the largest channel above 1.

    The reference takes the largest channel with NumPy's max over the last axis; the
    saturated colours make it exceed 1 on many pixels, so the division is tested.
    """
    from sketchgrad.sketch import RELIEF_DARK_FLOOR, relief

    image = rng.random((37, 53, 3), dtype=np.float32)
    image[::3, :, 0] = 1.0  # saturated reds and blues: channels far above the luma
    image[::3, :, 1:] *= np.float32(0.1)
    e = np.float32(RELIEF_DARK_FLOOR)
    shading = relief(luma(image))
    want = (image + e) / (luma(image) + e)[..., None] * shading[..., None]
    peak = np.maximum(want.max(axis=2), np.float32(1.0))
    assert (peak > 1).mean() > 0.1
    want = np.clip(want / peak[..., None], 0, 1)
    got = colour_relief(image)
    assert got.dtype == np.float32 and got.shape == image.shape
    assert_allclose(got, want, rtol=0, atol=1e-6)


def test_colour_relief_errors():
    with pytest.raises(ParameterError, match="not a grey .* color='scan'"):
        sketch_effect(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ParameterError, match=r"shape \(4, 4, 2\) is not an image"):
        colour_relief(np.zeros((4, 4, 2), np.float32))


# --------------------------------------------------------------------------- stroke colouring


@pytest.mark.parametrize("colour", [(0.95, 0.45, 0.65), (0.1, 0.6, 0.6), (0.5, 0.3, 0.7)])
def test_stroke_colour_gives_the_stroke_hue(colour):
    page = np.ones((40, 60, 3), np.float32)
    cv2.line(page, (8, 12), (52, 28), colour, 6, cv2.LINE_AA)   # a slanted stroke
    field = gradient_field(page)
    value = np.clip(field.magnitude / field.magnitude.max(), 0, 1)
    rgb = stroke_color(field, page, value)
    edge = value > 0.3
    assert edge.sum() > 40
    hues = np.array([_hue_deg(p) for p in rgb[edge]])
    gaps = np.array([_hue_gap(h, _hue_deg(colour)) for h in hues])
    assert gaps.max() < 15.0
    # Value (the largest channel) follows the strength.
    assert_allclose(rgb.max(axis=2)[edge], value[edge], atol=1e-5)
    # And through apply_color.
    assert_allclose(apply_color(field, value, page, color="stroke"), rgb)


def test_stroke_colour_on_grey_is_grey_strokes(rng):
    grey = np.ones((30, 30), np.float32)
    cv2.circle(grey, (15, 15), 8, 0.1, 3, cv2.LINE_AA)
    field = gradient_field(grey)
    value = np.clip(field.magnitude / field.magnitude.max(), 0, 1)
    for image in (grey, np.repeat(grey[..., None], 3, axis=2)):
        rgb = stroke_color(field, image, value)
        nonzero = field.magnitude > 1e-6
        for c in range(3):
            assert_allclose(rgb[..., c][nonzero], value[nonzero], atol=1e-6)
        assert (rgb[~nonzero] == 0).all()


def test_stroke_colour_keeps_black_ink_grey():
    # Near-black ink whose channels differ by noise-sized amounts: hue would be
    # random; the chroma weight keeps it grey.
    page = np.ones((20, 20, 3), np.float32)
    page[:, :10] = (0.06, 0.04, 0.07)
    field = gradient_field(page)
    rgb = stroke_color(field, page, np.ones((20, 20), np.float32))
    spread = rgb[:, 9].max(axis=1) - rgb[:, 9].min(axis=1)
    assert spread.max() < 0.3                     # the raw ink's HSV saturation is 0.43


def test_empty_images_are_errors_and_empty_fields_colour_as_empty():
    # the input rule (io.as_image): an image without pixels is an error naming its shape
    # (these used to give empty colourings); a field built directly may still be empty
    for shape in ((0, 4), (3, 0)):
        rgb = np.zeros(shape + (3,), np.float32)
        field = GradientField(np.zeros(shape, np.float32), np.zeros(shape, np.float32))
        value = np.zeros(shape, np.float32)
        assert hsv_remap(field, strength=value).shape == shape + (3,)
        assert hsv_remap(field, strength=value, dtype=np.uint8).shape == shape + (3,)
        for func, args in ((gradient_field, ()), (stroke_color, (field, rgb, value)),
                           (gradient_map, (rgb, "sepia")), (colour_relief, ())):
            with pytest.raises(ParameterError, match=r"shape \(\d, \d, 3\) is empty"):
                func(*(args or (rgb,)))


def test_stroke_colour_errors():
    field = gradient_field(np.zeros((5, 5), np.float32))
    with pytest.raises(ParameterError, match=r"image of shape \(4, 4, 3\) does not match"):
        stroke_color(field, np.zeros((4, 4, 3), np.float32), np.zeros((5, 5), np.float32))
    with pytest.raises(ParameterError, match=r"value of shape \(4, 4\)"):
        stroke_color(field, np.zeros((5, 5, 3), np.float32), np.zeros((4, 4), np.float32))


# --------------------------------------------------------------------------- gradient map


def test_gradient_map_keeps_the_drawings_hues():
    image = np.ones((20, 40, 3), np.float32)
    image[:, :10] = (0.9, 0.4, 0.6)        # pink
    image[:, 10:20] = (0.1, 0.6, 0.6)      # teal
    image[:, 20:30] = (0.05, 0.05, 0.05)   # black ink
    ramp = RAMPS["sepia"]
    plain = gradient_map(image, ramp)
    kept = gradient_map(image, ramp, keep_hue=True)
    assert_allclose(plain, ramp(luma(image)))
    for column, colour in ((5, (0.9, 0.4, 0.6)), (15, (0.1, 0.6, 0.6))):
        lab_kept = srgb_to_oklab(kept[10, column])
        lab_ramp = srgb_to_oklab(plain[10, column])
        lab_scan = srgb_to_oklab(np.array(colour))
        # Lightness from the ramp, hue from the scan (OKLCH hue within 2 degrees).
        assert_allclose(lab_kept[0], lab_ramp[0], atol=0.01)
        hue = np.degrees(np.arctan2(lab_kept[2], lab_kept[1]))
        assert _hue_gap(hue, np.degrees(np.arctan2(lab_scan[2], lab_scan[1]))) < 2
        assert _hue_gap(_hue_deg(kept[10, column]), _hue_deg(colour)) < 10
    # Grey parts (ink, paper) keep the ramp's colour.
    assert_allclose(kept[10, 25], plain[10, 25], atol=2e-3)
    assert_allclose(kept[10, 35], plain[10, 35], atol=2e-3)
    # Through apply_color.
    assert_allclose(apply_color(None, None, image, color="sepia", target="tone",
                                keep_hue=True), kept)


def test_gradient_map_on_grey_is_the_plain_map(rng):
    grey = rng.random((12, 13), dtype=np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    want = RAMPS["dusk"](grey)
    assert_allclose(gradient_map(grey, "dusk", keep_hue=True), want)
    assert_allclose(gradient_map(rgb, "dusk", keep_hue=True), want, atol=2e-3)
