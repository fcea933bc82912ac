"""Colour: HSV remap conventions, OpenCV recipe, conversions, colour ramps, apply_color."""

import colorsys

import cv2
import numpy as np
import pytest

from sketchgrad.color import (
    COLOR_SPACES,
    RAMPS,
    ColorRamp,
    apply_color,
    color_wheel,
    hsl_to_rgb,
    hsv_color,
    hsv_color_of_hue,
    hsv_remap,
    hsv_to_rgb,
    linear_srgb_to_oklab,
    oklab_to_srgb,
    orientation_hue,
    rgb_to_hsl,
    rgb_to_hsv,
    srgb_to_oklab,
)
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import GradientField, gradient_field

#: One tolerance for comparisons against 8-bit references: levels of 255.
LEVELS = 2 / 255
#: OKLab reference values are published to about 4 decimals (CSS) or 3 (Ottosson).
OKLAB_TOL = 2e-3


def hue_of(rgb):
    return colorsys.rgb_to_hsv(*(float(v) for v in rgb))[0]


def hue_distance(a, b):
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


# --------------------------------------------------------------------------- conversions


def test_hsv_to_rgb_matches_colorsys_and_matplotlib(rng):
    from matplotlib.colors import hsv_to_rgb as mpl_hsv_to_rgb

    # one (..., 3) array, as matplotlib's and scikit-image's hsv2rgb take
    hsv = rng.random((20, 25, 3))
    got = hsv_to_rgb(hsv)
    want = np.array([colorsys.hsv_to_rgb(*row) for row in hsv.reshape(-1, 3)]).reshape(hsv.shape)
    assert got.dtype == np.float32 and got.shape == hsv.shape
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got, mpl_hsv_to_rgb(hsv), atol=1e-6)
    np.testing.assert_allclose(hsv_to_rgb([1 / 3, 1.0, 1.0]), [0.0, 1.0, 0.0], atol=1e-6)
    with pytest.raises(ParameterError, match=r"hsv of shape \(500,\) is not an \(\.\.\., 3\)"):
        hsv_to_rgb(hsv.reshape(-1)[:500])


def test_rgb_to_hsv_and_hsl_match_colorsys(rng):
    rgb = rng.random((500, 3))
    rgb[:20] = rgb[:20, :1]  # greys
    hsv = rgb_to_hsv(rgb)
    np.testing.assert_allclose(hsv, [colorsys.rgb_to_hsv(*c) for c in rgb], atol=1e-12)
    hls = np.array([colorsys.rgb_to_hls(*c) for c in rgb])
    np.testing.assert_allclose(rgb_to_hsl(rgb), hls[:, [0, 2, 1]], atol=1e-12)
    np.testing.assert_allclose(hsl_to_rgb(hls[:, [0, 2, 1]]), rgb, atol=1e-12)


@pytest.mark.parametrize("rgb, lab", [
    # CSS Color 4 published OKLab values of the sRGB primaries and white
    ((1, 0, 0), (0.62796, 0.22486, 0.12585)),
    ((0, 1, 0), (0.86644, -0.23389, 0.17950)),
    ((0, 0, 1), (0.45201, -0.03246, -0.31153)),
    ((1, 1, 1), (1.0, 0.0, 0.0)),
])
def test_oklab_of_srgb_primaries(rgb, lab):
    np.testing.assert_allclose(srgb_to_oklab(np.array(rgb, float)), lab, atol=1e-4)


@pytest.mark.parametrize("xyz, lab", [
    # Björn Ottosson's table of XYZ (D65) test values
    ((0.950, 1.000, 1.089), (1.000, 0.000, 0.000)),
    ((1.000, 0.000, 0.000), (0.450, 1.236, -0.019)),
    ((0.000, 1.000, 0.000), (0.922, -0.671, 0.263)),
    ((0.000, 0.000, 1.000), (0.153, -1.415, -0.449)),
])
def test_oklab_against_ottosson_xyz_table(xyz, lab):
    xyz_to_linear_srgb = np.array([[3.2404542, -1.5371385, -0.4985314],
                                   [-0.9692660, 1.8760108, 0.0415560],
                                   [0.0556434, -0.2040259, 1.0572252]])
    lin = xyz_to_linear_srgb @ np.array(xyz)
    np.testing.assert_allclose(linear_srgb_to_oklab(lin), lab, atol=OKLAB_TOL)


def test_oklab_round_trip(rng):
    rgb = rng.random((200, 3))
    np.testing.assert_allclose(oklab_to_srgb(srgb_to_oklab(rgb)), rgb, atol=2e-6)  # 10 digits


# --------------------------------------------------------------------------- hsv_remap


def cone(size=33):
    """A cone: tone grows with the distance from the centre (gradients point outwards)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    return np.hypot(x - c, y - c) / size, int(c)


@pytest.mark.parametrize("dy, dx, hue", [
    (0, 8, 0.0),          # right: red
    (8, 0, 0.25),         # down: 90 degrees
    (0, -8, 0.5),         # left: cyan
    (-8, 0, 0.75),        # up: 270 degrees
    (6, 6, 0.125),        # down-right: 45 degrees
])
def test_hue_convention_on_a_cone(dy, dx, hue):
    image, c = cone()
    rgb = hsv_remap(gradient_field(image))
    pixel = rgb[c + dy, c + dx]
    assert hue_distance(hue_of(pixel), hue) < 1e-3
    assert pixel.max() > 0.9  # a cone has the same slope everywhere: full value


def test_hue_convention_on_a_ramp(ramp):
    image, a, b = ramp
    rgb = hsv_remap(gradient_field(image))
    want = (np.arctan2(b, a) / (2 * np.pi)) % 1.0
    inner = rgb[2:-2, 2:-2].reshape(-1, 3)
    assert all(hue_distance(hue_of(p), want) < 1e-3 for p in inner[::37])
    np.testing.assert_allclose(rgb[5, 5], colorsys.hsv_to_rgb(want, 1.0, 1.0), atol=1e-5)


def smooth_image(rng, shape=(48, 64)):
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def test_matches_opencv_recipe_without_its_hue_steps(rng):
    field = gradient_field(smooth_image(rng))
    mag, ang = cv2.cartToPolar(field.gx, field.gy, angleInDegrees=True)
    v = cv2.normalize(mag, None, 0, 1, cv2.NORM_MINMAX)
    want = cv2.cvtColor(cv2.merge([ang, np.ones_like(v), v]), cv2.COLOR_HSV2RGB)
    got = hsv_remap(field)
    assert np.abs(got - want).max() <= LEVELS


def test_matches_opencv_8bit_recipe_within_its_2_degree_hue_steps(rng):
    field = gradient_field(smooth_image(rng))
    mag, ang = cv2.cartToPolar(field.gx, field.gy, angleInDegrees=True)
    v = cv2.normalize(mag, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    hsv = np.dstack([(ang / 2).astype(np.uint8), np.full_like(v, 255), v])
    want = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(int)
    got = hsv_remap(field, dtype=np.uint8).astype(int)
    # 2 levels, 1 for the recipe's truncation of v, and up to 2 degrees of hue
    # (255 * v * 2/60 levels on the channel that ramps with hue)
    bound = 3 + np.ceil(v.astype(float) * 2 / 60)[..., None]
    assert np.all(np.abs(got - want) <= bound)
    assert np.mean(np.abs(got - want)) < 2.0


def test_near_zero_gradients_are_black():
    image = np.full((20, 30), 0.4, np.float32)
    y, x = np.mgrid[0:20, 0:30].astype(np.float32)
    image[:, 15:] += 0.02 * x[:, 15:]
    field = gradient_field(image)
    for method in ("minmax", "zscore"):
        rgb = hsv_remap(field, normalize=method)
        flat = field.magnitude <= 1e-6
        assert flat.sum() > 100
        assert np.all(rgb[flat] == 0)
        assert rgb[~flat].max() > 0.5
    with np.errstate(all="raise"):
        rgb = hsv_remap(gradient_field(np.full((8, 8), 0.3, np.float32)), normalize="zscore")
    assert np.all(rgb == 0)


def test_axial_hue_gives_both_sides_of_a_stroke_one_colour():
    x = np.arange(41, dtype=np.float32)
    image = np.tile(np.abs(x - 20) / 40, (9, 1))  # a valley: left side falls, right rises
    field = gradient_field(image)
    plain = hsv_remap(field)
    axial = hsv_remap(field, axial=True)
    assert hue_distance(hue_of(plain[4, 10]), 0.5) < 1e-3   # falling to the right: cyan
    assert hue_distance(hue_of(plain[4, 30]), 0.0) < 1e-3   # rising to the right: red
    np.testing.assert_allclose(axial[4, 10], axial[4, 30], atol=1e-6)
    assert hue_distance(hue_of(axial[4, 30]), 0.0) < 1e-3
    down = GradientField(gx=np.zeros((1, 1), np.float32), gy=np.ones((1, 1), np.float32))
    assert hue_distance(hue_of(hsv_remap(down, axial=True, value=1.0)[0, 0]), 0.5) < 1e-3


def test_fixed_hue_and_magnitude_as_saturation(ramp):
    image, _, _ = ramp
    image = image.copy()
    image[:, :10] = 0.5
    field = gradient_field(image)
    rgb = hsv_remap(field, hue=1 / 3, saturation="magnitude", value=1.0)
    strength = field.magnitude / field.magnitude.max()   # minmax: the minimum is 0 here
    for r, c in [(10, 25), (3, 10), (20, 9), (31, 39)]:
        want = colorsys.hsv_to_rgb(1 / 3, float(strength[r, c]), 1.0)
        np.testing.assert_allclose(rgb[r, c], want, atol=1e-5)
    assert np.all(rgb[10, 2] == 0)                                  # no gradient: black


def test_hsv_remap_rejects_bad_options(ramp):
    field = gradient_field(ramp[0])
    with pytest.raises(ParameterError, match="saturation=1.5 must be in"):
        hsv_remap(field, saturation=1.5)
    with pytest.raises(ParameterError, match="hue='direction'"):
        hsv_remap(field, hue="direction")
    with pytest.raises(ParameterError, match="value='strength'"):
        hsv_remap(field, value="strength")
    with pytest.raises(ParameterError, match="dtype='int8' is not supported"):
        hsv_remap(field, dtype=np.int8)


def test_hsv_remap_one_pixel_and_one_row():
    assert hsv_remap(gradient_field(np.zeros((1, 1), np.float32))).shape == (1, 1, 3)
    row = hsv_remap(gradient_field(np.linspace(0, 1, 7, dtype=np.float32)[None]))
    assert row.shape == (1, 7, 3) and np.isfinite(row).all()


def test_color_wheel_legend_follows_colorsys():
    size = 101
    wheel = color_wheel(size)
    assert wheel.shape == (size, size, 3) and wheel.dtype == np.float32
    c = (size - 1) / 2
    for r, col in [(50, 90), (90, 50), (20, 30), (70, 20), (60, 62)]:
        hue = (np.arctan2(r - c, col - c) / (2 * np.pi)) % 1.0
        value = np.hypot(r - c, col - c) / c
        np.testing.assert_allclose(wheel[r, col], colorsys.hsv_to_rgb(hue, 1, value), atol=1e-4)
    assert np.all(wheel[0, 0] == 1.0)          # outside the disc: background
    assert np.all(wheel[50, 50] == 0.0)        # centre: no gradient


# --------------------------------------------------------------------------- colour ramps


def test_named_ramps_and_spaces():
    from matplotlib import colormaps

    assert COLOR_SPACES == ("hsv", "hsl", "oklab", "oklch", "rgb")
    assert len(RAMPS) >= 3 and all(isinstance(r, ColorRamp) for r in RAMPS.values())
    assert not set(RAMPS) & set(colormaps)   # a name means one thing on the CLI
    for ramp in RAMPS.values():
        assert ramp.lut.shape[0] >= 4096
        # ink -> paper: the last stop is clearly lighter than the first
        assert srgb_to_oklab(ramp.lut[-1])[0] > srgb_to_oklab(ramp.lut[0])[0] + 0.5


@pytest.mark.parametrize("space", ["hsv", "hsl", "oklch"])
@pytest.mark.parametrize("path, mid_hue", [
    ("shorter", 5 / 6), ("longer", 1 / 3), ("increasing", 1 / 3), ("decreasing", 5 / 6)])
def test_hue_paths_red_to_blue(space, path, mid_hue):
    ramp = ColorRamp(["#ff0000", "#0000ff"], space=space, hue_path=path)
    mid = ramp(np.array([0.5]))[0]
    if space == "oklch":  # OKLCh hues differ from HSV ones; check the side of the circle
        magenta_side = mid[1] < 0.2 and min(mid[0], mid[2]) > 0.3
        assert magenta_side == (mid_hue == 5 / 6)
    else:
        assert hue_distance(hue_of(mid), mid_hue) < 0.01


def test_shorter_path_takes_the_short_way_around_zero():
    ramp = ColorRamp([colorsys.hsv_to_rgb(0.9, 1, 1), colorsys.hsv_to_rgb(0.1, 1, 1)])
    hues = [hue_of(c) for c in ramp(np.linspace(0, 1, 11))]
    assert all(hue_distance(h, 0.0) <= 0.1 + 1e-6 for h in hues)
    assert hue_distance(hues[5], 0.0) < 0.01


@pytest.mark.parametrize("space", ["hsv", "hsl", "oklch"])
def test_grey_stop_takes_its_neighbours_hue(space):
    ramp = ColorRamp(["#808080", "#0000ff"], space=space)
    rgb = ramp(np.linspace(0, 1, 65))
    assert np.all(rgb[:, 0] <= rgb[:, 2] + 1e-6)          # never towards red
    if space != "oklch":
        np.testing.assert_allclose(rgb[:, 0], rgb[:, 1], atol=2e-3)   # on the blue hue line
    between = ColorRamp(["#ff0000", "#ffffff", "#00ff00"], space="hsv")(np.linspace(0, 1, 65))
    assert np.all(between[:32, 1] <= between[:32, 0] + 1e-6)   # red half stays red
    assert np.all(between[33:, 0] <= between[33:, 1] + 1e-6)   # green half stays green


def delta_e_steps(ramp, n=33):
    lab = srgb_to_oklab(ramp(np.linspace(0, 1, n)).astype(np.float64))
    return np.linalg.norm(np.diff(lab, axis=0), axis=1)


@pytest.mark.parametrize("stops, space", [
    (["#000000", "#3060c0", "#ffffff"], "rgb"),
    (["#1b1b3a", "#6b2d5c", "#f0a030", "#fffbe6"], "oklch"),
    (["#1b1b3a", "#f0a030", "#fffbe6"], "hsv"),
    (["#000000", "#ff0000"], "hsl"),
])
def test_uniform_ramp_has_equal_delta_e_steps(stops, space):
    plain = delta_e_steps(ColorRamp(stops, space=space))
    assert np.max(np.abs(plain / plain.mean() - 1)) > 0.1     # the plain ramp is not uniform
    steps = delta_e_steps(ColorRamp(stops, space=space, uniform=True))
    assert np.max(np.abs(steps / steps.mean() - 1)) <= 0.10


def test_positions_make_hard_edges():
    ramp = ColorRamp(["red", "red", "blue", "blue"], space="rgb", positions=[0, 0.5, 0.5, 1])
    np.testing.assert_allclose(ramp(np.array([0.0, 0.49, 0.51, 1.0])),
                               [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]], atol=1e-6)


def test_stops_parse_hex_names_and_tuples():
    ramp = ColorRamp(["#f00", "navy", (0.0, 1.0, 0.0)], space="rgb")
    assert ramp.stops == [(1.0, 0.0, 0.0), (0.0, 0.0, 128 / 255), (0.0, 1.0, 0.0)]
    np.testing.assert_allclose(ramp(np.array([0.0, 0.5, 1.0])), ramp.stops, atol=1e-6)


def test_matplotlib_colormap_stops_and_to_matplotlib():
    from matplotlib import colormaps
    from matplotlib.colors import Colormap

    values = np.linspace(0, 1, 101)
    want = colormaps["viridis"](values)[:, :3]
    for stops in ("viridis", colormaps["viridis"]):
        got = ColorRamp(stops, space="rgb")(values)
        np.testing.assert_allclose(got, want, atol=0.01)
    cmap = ColorRamp(["#102030", "#f0e0d0"], space="oklab").to_matplotlib()
    assert isinstance(cmap, Colormap)
    np.testing.assert_allclose(cmap(0.0)[:3], [0x10 / 255, 0x20 / 255, 0x30 / 255], atol=1e-6)
    np.testing.assert_allclose(cmap(1.0)[:3], [0xf0 / 255, 0xe0 / 255, 0xd0 / 255], atol=1e-6)


def test_integer_outputs_and_lut():
    ramp = ColorRamp(["#000000", "#ffffff"], space="rgb")
    values = np.linspace(0, 1, 1001, dtype=np.float32)
    exact = ramp(values).astype(np.float64)
    np.testing.assert_allclose(exact[:, 0], values, atol=1 / 4095)   # LUT resolution
    u8 = ramp(values, dtype=np.uint8)
    u16 = ramp(values, dtype=np.uint16)
    assert u8.dtype == np.uint8 and u16.dtype == np.uint16
    assert np.abs(u8.astype(int) - np.round(exact * 255)).max() <= 1
    assert np.abs(u16.astype(int) - np.round(exact * 65535)).max() <= 1
    assert u16[-1, 0] == 65535 and u16[0, 0] == 0


def test_ordered_dithering_removes_banding():
    ramp = ColorRamp(["#000000", "#ffffff"], space="rgb")
    values = np.tile(np.linspace(0.30, 0.32, 256, dtype=np.float32), (64, 1))
    exact = ramp(values)[..., 0].astype(np.float64) * 255
    plain = ramp(values, dtype=np.uint8)[..., 0].astype(np.float64)
    dithered = ramp(values, dtype=np.uint8, dither=True)[..., 0].astype(np.float64)

    def block_error(q):
        blocks = (q - exact).reshape(8, 8, 32, 8).mean(axis=(1, 3))
        return np.abs(blocks).max()

    assert block_error(plain) > 0.3
    assert block_error(dithered) < 0.05
    assert np.abs(dithered - exact).max() < 1.0


def test_ramp_errors():
    with pytest.raises(ParameterError, match="space='lab' is not known; choose one of"):
        ColorRamp(["red", "blue"], space="lab")
    with pytest.raises(ParameterError, match="hue_path='short'"):
        ColorRamp(["red", "blue"], hue_path="short")
    with pytest.raises(ParameterError, match="at least two colours"):
        ColorRamp(["red"])
    with pytest.raises(ParameterError, match="'notacolour' is not a colour"):
        ColorRamp(["red", "notacolour"])
    with pytest.raises(ParameterError, match=r"divide 0-255 values by 255"):
        ColorRamp([(255, 0, 0), (0, 0, 0)])
    with pytest.raises(ParameterError, match="positions"):
        ColorRamp(["red", "blue"], positions=[0.2, 1.0])
    with pytest.raises(ParameterError, match="not a matplotlib colormap name"):
        ColorRamp("no_such_map")
    with pytest.raises(ParameterError, match="values contains NaN"):
        ColorRamp(["red", "blue"])(np.array([0.5, np.nan]))


# --------------------------------------------------------------------------- apply_color


def test_apply_color_hsv_is_hsv_remap_and_uint8(rng):
    field = gradient_field(smooth_image(rng))
    value = (field.magnitude / field.magnitude.max()).astype(np.float32)
    tone = rng.random(value.shape, dtype=np.float32)
    rgb = apply_color(field, value, tone)
    hue = (np.arctan2(field.gy, field.gx) / (2 * np.pi)) % 1.0
    want = hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], axis=-1))
    np.testing.assert_allclose(rgb, want, atol=1e-5)
    u8 = apply_color(field, value, tone, dtype=np.uint8)
    assert u8.dtype == np.uint8
    assert np.abs(u8.astype(int) - np.round(want * 255)).max() <= 1


def test_apply_color_ramps_and_targets(rng):
    from matplotlib import colormaps

    field = gradient_field(smooth_image(rng))
    value = np.clip(field.magnitude / field.magnitude.max(), 0, 1).astype(np.float32)
    tone = np.linspace(0, 1, value.size, dtype=np.float32).reshape(value.shape)
    spec = "ramp:#000000,#ffffff"
    mag = apply_color(field, value, tone, color=spec)
    np.testing.assert_allclose(mag[..., 0], value, atol=2e-3)   # hsv black->white = grey
    gmap = apply_color(field, value, tone, color="ramp:#1b1b3a,#fffbe6", target="tone")
    np.testing.assert_allclose(gmap[0, 0], [0x1b / 255, 0x1b / 255, 0x3a / 255], atol=1e-6)
    np.testing.assert_allclose(gmap[-1, -1], [1.0, 0xfb / 255, 0xe6 / 255], atol=1e-6)
    viridis = apply_color(field, value, tone, color="viridis")
    np.testing.assert_allclose(viridis, colormaps["viridis"](value)[..., :3], atol=0.01)
    named = apply_color(field, value, tone, color="sepia", target="tone", dtype=np.uint8)
    np.testing.assert_array_equal(named, RAMPS["sepia"](tone, dtype=np.uint8))
    np.testing.assert_array_equal(apply_color(field, value, tone, color="ramp:sepia"),
                                  RAMPS["sepia"](value))


def test_apply_color_errors(ramp):
    field = gradient_field(ramp[0])
    v = np.zeros_like(ramp[0])
    with pytest.raises(ParameterError, match="color_target='paper' is not known"):
        apply_color(field, v, v, target="paper")
    with pytest.raises(ParameterError, match="color='rainbowish' is not 'hsv'"):
        apply_color(field, v, v, color="rainbowish")
    with pytest.raises(ParameterError, match="two or more colours"):
        apply_color(field, v, v, color="ramp:#ffffff")


@pytest.mark.parametrize("axial", [False, True])
def test_hsv_colour_of_a_tall_image_band_by_band_matches_matplotlib(rng, axial):
    # hsv_color works a band of rows at a time (a few tens of thousands of pixels): a tall
    # image crosses several bands; every pixel must still be matplotlib's HSV of
    # (direction, 1, strength), zero gradients black across band boundaries, and the 8- and
    # 16-bit outputs the float result rounded as documented.
    from matplotlib.colors import hsv_to_rgb as mpl_hsv_to_rgb

    image = smooth_image(rng, (700, 230))
    image[300:420, 40:200] = 0.5          # flat: no direction, across a band boundary
    field = gradient_field(image)
    strength = rng.random(image.shape, dtype=np.float32)
    turns = np.arctan2(field.gy.astype(float), field.gx) / (2 * np.pi)
    hue = (2 * turns if axial else turns) % 1.0
    want = mpl_hsv_to_rgb(np.stack([hue, np.ones_like(hue), strength], axis=-1))
    want[field.magnitude <= 1e-6] = 0
    assert (field.magnitude <= 1e-6).sum() > 15000
    rgb = apply_color(field, strength, None, axial=axial)
    assert rgb.dtype == np.float32 and rgb.shape == image.shape + (3,)
    np.testing.assert_allclose(rgb, want, atol=1e-5)
    u8 = apply_color(field, strength, None, axial=axial, dtype=np.uint8)
    # the float32 product rounded half to even (OpenCV's convertScaleAbs), and for 16 bits
    # the float32 product plus one half, truncated (png.quantize's rule)
    np.testing.assert_array_equal(u8, np.round(rgb * np.float32(255)))
    u16 = apply_color(field, strength, None, axial=axial, dtype=np.uint16)
    np.testing.assert_array_equal(u16, np.floor(rgb * np.float32(65535) + np.float32(0.5)))


def _whole_image_hsv2rgb(hue, saturation, value, black):
    """The colouring done on the whole image at once: the planes stacked, black pixels' value
    0, one OpenCV HSV2RGB conversion (what the band-by-band colouring must equal bit for bit)."""
    planes = [np.broadcast_to(np.float32(p), black.shape) for p in (hue, saturation, value)]
    hsv = np.ascontiguousarray(np.stack(planes, axis=-1))
    hsv[..., 2][black] = 0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.uint16])
def test_band_by_band_colouring_equals_one_whole_image_conversion(rng, dtype):
    """hsv_color, a band of rows at a time, gives the whole image's OpenCV conversion exactly.

    A tall image crosses several bands, with bands of black (zero-gradient) pixels and
    bands without: a constant value channel must come back after a black band. The
    float result is clipped to [0, 1]; uint8 is convertScaleAbs of 255 v, uint16
    floor(65535 v + 1/2).
    """
    image = smooth_image(rng, (900, 150))  # bands of 436 rows
    image[:40] = 0.5  # flat: black, at the top of the first band
    image[880:890, 30:60] = 0.5  # and in the last band, the middle one has none
    field = gradient_field(image)
    black = field.magnitude <= np.float32(1e-6)
    assert black[:38].all() and not black[436:872].any() and black[881:889].any()
    strength = rng.random(image.shape, dtype=np.float32)
    theta = np.arctan2(field.gy, field.gx)
    theta[theta <= np.float32(-np.pi)] = np.float32(np.pi)
    degrees = theta * np.float32(180.0 / np.pi) + np.float32(360.0)
    cases = [
        (dict(), (degrees, 1.0, strength)),
        (dict(hue=0.3, saturation="magnitude", value=0.8),
         (np.float32(0.3 * 360.0), strength, 0.8)),
    ]
    for options, planes in cases:
        rgb = _whole_image_hsv2rgb(*planes, black)
        if dtype == np.float32:
            want = np.clip(rgb, 0, 1)
        elif dtype == np.uint8:
            want = cv2.convertScaleAbs(rgb, alpha=255.0)
        else:
            want = (np.clip(rgb, 0, 1) * np.float32(65535) + np.float32(0.5)).astype(np.uint16)
        got = hsv_color(field, strength, dtype=dtype, **options)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("axial", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.uint16])
def test_a_kept_hue_colours_exactly_as_the_field(axial, dtype):
    """orientation_hue then hsv_color_of_hue (the tile engine's kept tiles) = hsv_color."""
    rng = np.random.default_rng(11)
    shape = (150, 97)  # several of hsv_color's bands of rows
    gx = rng.normal(size=shape).astype(np.float32)
    gy = rng.normal(size=shape).astype(np.float32)
    gx[:5], gy[:5] = 0.0, 0.0  # no gradient: black
    gx[5, :10], gy[5, :10] = -1.0, -0.0  # arctan2 gives -pi: the hue of +pi
    field = GradientField(gx, gy)
    strength = rng.uniform(size=shape).astype(np.float32)
    hue = orientation_hue(field, axial=axial)
    # the hue: the orientation in (-pi, pi] in degrees (doubled when axial), plus 360
    theta = np.arctan2(gy.astype(np.float64), gx.astype(np.float64))
    theta[theta <= -np.pi] = np.pi
    want = np.degrees(theta) * (2 if axial else 1) + 360
    np.testing.assert_allclose(hue, want, rtol=0, atol=1e-4)
    assert hue.dtype == np.float32 and float(hue[5, 0]) == pytest.approx(540 if not axial else 720)
    got = hsv_color_of_hue(hue, strength, field.magnitude, dtype=dtype)
    expected = hsv_color(field, strength, axial=axial, dtype=dtype)
    assert got.dtype == expected.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, expected)
    assert not got[:5].any()  # black where there is no gradient


def test_a_kept_hue_of_another_shape_is_refused():
    field = GradientField(np.ones((4, 5), np.float32), np.zeros((4, 5), np.float32))
    with pytest.raises(ParameterError, match=r"strength of shape \(4, 4\) and magnitude of "
                       r"shape \(4, 5\) do not match the hue's \(4, 5\)"):
        hsv_color_of_hue(orientation_hue(field), np.ones((4, 4)), field.magnitude)
