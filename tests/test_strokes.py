"""Tests of sketchgrad.strokes: stroke angles as one sees the page, peaks, tiles, flow, rose."""

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage.feature import structure_tensor

from sketchgrad.errors import ParameterError
from sketchgrad.strokes import (
    DEFAULT_SIGMA,
    StrokeDirections,
    StrokeStatistics,
    flow_defaults,
    flow_picture,
    plot_rose,
    reach,
    stroke_directions,
    stroke_field,
)

ANGLE_TOL = 2.0  # degrees: dominant angles of analytic hatching


def circular_difference(a, b):
    """Smallest difference of two stroke angles (degrees, period 180)."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) % 180
    return np.minimum(d, 180 - d)


def hatching(shape, angle, period=6.0, phase=0.0):
    """Sinusoidal hatching whose strokes run at ``angle`` degrees as seen on the page.

    Built in page coordinates (X right, Y up from the bottom row), not the array frame:
    the strokes are the lines of constant distance along the page normal (-sin, cos).
    """
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    page_x, page_y = cols, shape[0] - 1 - rows
    a = math.radians(angle)
    distance = -page_x * math.sin(a) + page_y * math.cos(a)
    return (0.5 + 0.5 * np.cos(2 * np.pi * distance / period + phase)).astype(np.float32)


def two_hatchings(shape=(160, 240), left=30.0, right=120.0):
    image = hatching(shape, left)
    image[:, shape[1] // 2:] = hatching(shape, right)[:, shape[1] // 2:]
    return image


def scan_like(rng, shape=(220, 300)):
    """A drawing-like scan: paper grain, two hatched patches of unequal size and a ring."""
    image = np.full(shape, 0.92, np.float32)
    image += rng.normal(0, 0.015, shape).astype(np.float32)
    patch = hatching(shape, 20.0, period=5.0)
    image[20:150, 20:170] = np.minimum(image[20:150, 20:170], 0.3 + 0.7 * patch[20:150, 20:170])
    patch = hatching(shape, 75.0, period=7.0)
    image[120:200, 190:280] = np.minimum(image[120:200, 190:280],
                                         0.4 + 0.6 * patch[120:200, 190:280])
    ring = np.zeros(shape, np.uint8)
    cv2.circle(ring, (235, 60), 35, 255, 2, lineType=cv2.LINE_AA)
    image -= 0.6 * ring.astype(np.float32) / 255
    return np.clip(image, 0, 1)


# --------------------------------------------------------------------------- convention


@pytest.mark.parametrize("expected, stripes", [
    (0.0, lambda y, x: y % 6 < 2),              # rows: horizontal strokes
    (90.0, lambda y, x: x % 6 < 2),             # columns: vertical strokes
    (45.0, lambda y, x: (x + y) % 6 < 2),       # right one column, up one row: '/'
    (135.0, lambda y, x: (x - y) % 6 < 2),      # right one column, down one row: '\'
])
def test_page_convention_on_single_direction_hatching(expected, stripes):
    y, x = np.mgrid[0:96, 0:96]
    image = np.where(stripes(y, x), 0.1, 0.9).astype(np.float32)
    d = stroke_directions(image)
    inner = np.s_[16:-16, 16:-16]
    assert circular_difference(d.angle[inner], expected).max() < 0.5
    assert d.coherence[inner].min() > 0.9
    assert len(d.dominant) == 1
    assert circular_difference(d.dominant[0][0], expected) < 0.5
    assert d.dominant[0][1] == pytest.approx(1.0)


def test_angle_of_a_drawn_line_matches_hand_derivation():
    # A black antialiased line from (column 10, row 90) to (column 170, row 10): 160
    # columns right while climbing 80 rows up the page, atan(80 / 160) = 26.565 degrees.
    image = np.full((100, 180), 255, np.uint8)
    cv2.line(image, (10, 90), (170, 10), 0, 2, lineType=cv2.LINE_AA)
    d = stroke_directions(image)
    assert d.dominant[0][0] == pytest.approx(math.degrees(math.atan2(80, 160)), abs=0.5)
    assert d.angle[50, 90] == pytest.approx(26.565, abs=1.0)


def test_angles_agree_with_scikit_image_structure_tensor():
    # Independent reference: scikit-image's tensor (its own derivatives and Gaussian),
    # the stroke as the eigenvector of the smaller eigenvalue, turned into page angle.
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.random((120, 120)).astype(np.float32), (0, 0), 4)
    image = (image - image.min()) / (image.max() - image.min())
    d = stroke_directions(image, sigma=3)
    arr, arc, acc = structure_tensor(image.astype(np.float64), sigma=3, mode="reflect",
                                     order="rc")
    tensor = np.stack([np.stack([acc, arc], -1), np.stack([arc, arr], -1)], -2)  # (x, y)
    _, vectors = np.linalg.eigh(tensor)
    along = vectors[..., :, 0]  # eigenvector of the smaller eigenvalue: (vx, vy), y down
    expected = np.degrees(np.arctan2(-along[..., 1], along[..., 0])) % 180
    sure = (d.coherence > 0.5)
    sure[:12] = sure[-12:] = False
    sure[:, :12] = sure[:, -12:] = False
    assert sure.sum() > 2000
    assert np.percentile(circular_difference(d.angle[sure], expected[sure]), 95) < 3.0


# --------------------------------------------------------------------------- the checks


def test_two_hatchings_give_their_angles_and_half_the_ink_each():
    d = stroke_directions(two_hatchings())
    assert len(d.dominant) == 2
    found = sorted(d.dominant)
    assert circular_difference(found[0][0], 30.0) < ANGLE_TOL
    assert circular_difference(found[1][0], 120.0) < ANGLE_TOL
    for _, share in found:
        assert share == pytest.approx(0.5, abs=0.06)
    # Perpendicular hatchings of equal weight cancel in the summed tensor.
    assert d.overall_coherence < 0.1


def test_coherence_high_in_hatching_low_on_white_noise():
    d = stroke_directions(two_hatchings())
    patch = d.coherence[20:-20, 20:100]
    assert np.percentile(patch, 5) > 0.8
    noise = np.random.default_rng(0).random((256, 256)).astype(np.float32)
    dn = stroke_directions(noise)  # default sigma (3): about 28 sigma^2 px of window
    assert DEFAULT_SIGMA == 3.0
    assert float(np.mean(dn.coherence)) < 0.2
    assert float(np.median(dn.coherence)) < 0.2


def test_rot90_turns_dominant_angles_by_plus_90():
    # np.rot90 turns the picture a quarter counter-clockwise as displayed, so a stroke
    # at a degrees on the page ends at a + 90 (a horizontal stroke becomes vertical,
    # '/' becomes '\').
    scan = scan_like(np.random.default_rng(7))
    before = stroke_directions(scan).dominant
    after = stroke_directions(np.rot90(scan)).dominant
    assert len(before) >= 2 and len(after) == len(before)
    for (a, share_a), (b, share_b) in zip(before, after, strict=True):
        assert circular_difference(b, a + 90) < 3.0
        assert share_b == pytest.approx(share_a, abs=0.02)
    # +90 and -90 agree modulo 180, so the sense is pinned by absolute angles (the biggest
    # patch's 20 degrees become 110, where a clockwise convention would read 160 and 70)
    # and by a 30-degree turn, counter-clockwise as displayed for OpenCV's positive angle.
    assert circular_difference(before[0][0], 20.0) < 3.0
    assert circular_difference(after[0][0], 110.0) < 3.0
    h, w = scan.shape
    turn = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 30, 1.0)
    turned = cv2.warpAffine(scan, turn, (w, h), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REFLECT)
    assert circular_difference(stroke_directions(np.clip(turned, 0, 1)).dominant[0][0],
                               50.0) < 3.0


def test_flow_picture_streaks_run_along_concentric_circles():
    size = 160
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    cy = cx = (size - 1) / 2
    radius = np.hypot(x - cx, y - cy)
    rings = (0.5 + 0.5 * np.cos(2 * np.pi * radius / 6)).astype(np.float32)
    picture = flow_picture(rings, length=15, seed=1)
    grey = picture.mean(axis=2).astype(np.float64)
    arr, arc, acc = structure_tensor(grey, sigma=2, mode="reflect", order="rc")
    streak = 0.5 * np.arctan2(2 * arc, acc - arr) + np.pi / 2  # least change, array frame
    tangent = np.arctan2(x - cx, -(y - cy))  # (-(y - cy), x - cx) rotated: along circles
    off = np.abs(np.degrees(streak - tangent)) % 180
    off = np.minimum(off, 180 - off)
    annulus = (radius > 20) & (radius < 70)
    assert np.mean(off[annulus] < 20) > 0.8
    # And independently of the picture, the measured stroke angle is the tangent's.
    d = stroke_directions(rings)
    page_tangent = np.degrees(np.arctan2(-(x - cx), -(y - cy))) % 180
    assert np.percentile(circular_difference(d.angle[annulus], page_tangent[annulus]),
                         95) < 2.0


# --------------------------------------------------------------------------- inputs


def test_colour_hatching_of_equal_grey_is_found():
    from skimage.color import rgb2gray

    weights = np.array([0.2125, 0.7154, 0.0721])  # scikit-image's rgb2gray
    paper = np.array([0.2, 0.6, 0.5])
    ink_green = (paper @ weights - 0.9 * weights[0] - 0.1 * weights[2]) / weights[1]
    ink = np.array([0.9, ink_green, 0.1])
    mix = hatching((128, 128), 60.0)[..., None]
    image = (paper * mix + ink * (1 - mix)).astype(np.float32)
    grey = rgb2gray(image)
    assert np.ptp(grey) < 1e-5  # no tone to see in grey
    assert stroke_directions(grey.astype(np.float32)).dominant == []
    d = stroke_directions(image)
    assert circular_difference(d.dominant[0][0], 60.0) < ANGLE_TOL
    assert np.percentile(d.coherence[20:-20, 20:-20], 5) > 0.8


def test_three_equal_channels_give_the_grey_result():
    grey = scan_like(np.random.default_rng(1), (90, 110))
    a = stroke_directions(grey)
    b = stroke_directions(np.dstack([grey] * 3))
    np.testing.assert_allclose(b.energy, a.energy, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(b.coherence, a.coherence, atol=1e-4)
    sure = a.coherence > 0.05
    assert circular_difference(b.angle[sure], a.angle[sure]).max() < 0.01


def test_integer_inputs_and_alpha_follow_the_input_rule():
    image = scan_like(np.random.default_rng(2), (64, 80))
    as_uint8 = np.round(image * 255).astype(np.uint8)
    a = stroke_directions(as_uint8)
    b = stroke_directions(as_uint8.astype(np.float32) / 255)
    np.testing.assert_allclose(a.energy, b.energy, rtol=1e-5, atol=1e-10)
    as_uint16 = np.round(image * 65535).astype(np.uint16)
    c = stroke_directions(as_uint16)
    np.testing.assert_allclose(c.energy, stroke_directions(image).energy, rtol=1e-3,
                               atol=1e-8)
    # (H, W, 4): composited over white paper; a fully transparent image is blank paper.
    rgba = np.zeros((32, 32, 4), np.float32)
    rgba[..., :3] = np.random.default_rng(0).random((32, 32, 3))
    blank = stroke_directions(rgba)
    assert blank.energy.max() == 0 and blank.dominant == [] and blank.overall_coherence == 0


def test_mask_restricts_histogram_and_zeroes_outside():
    image = two_hatchings()
    mask = np.zeros(image.shape, bool)
    mask[:, :110] = True
    d = stroke_directions(image, mask=mask)
    assert len(d.dominant) == 1
    assert circular_difference(d.dominant[0][0], 30.0) < ANGLE_TOL
    assert d.dominant[0][1] == pytest.approx(1.0)
    assert d.energy[:, 110:].max() == 0
    assert d.coherence[:, 110:].max() == 0 and d.angle[:, 110:].max() == 0
    assert d.overall_coherence > 0.9


@pytest.mark.parametrize("image, match", [
    (np.full((8, 8), 1.5, np.float32), r"outside \[0, 1\]"),
    (np.full((8, 8), -0.1), r"outside \[0, 1\]"),
    (np.zeros((8, 8), np.int32), "dtype int32"),
    (np.array([[0.5, np.nan], [0.2, 0.1]]), "1 pixels with non-finite"),
    (np.zeros((8, 8, 2)), r"shape \(8, 8, 2\)"),
    (np.zeros((0, 8)), r"shape \(0, 8\)"),
    (np.zeros(8), r"shape \(8,\)"),
    (np.array([["a"]]), "dtype <U1"),
])
def test_bad_images_are_refused_with_the_fix(image, match):
    with pytest.raises(ParameterError, match=match):
        stroke_directions(image)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": 0}, "sigma=0 must be"),
    ({"sigma": float("nan")}, "sigma=nan must be"),
    ({"sigma": True}, "sigma=True"),
    ({"bins": 1}, "bins=1 must be"),
    ({"bins": 12.5}, "bins=12.5"),
    ({"operator": "roberts"}, "operator='roberts' is not known; choose one of: 'sobel'"),
    ({"mask": np.ones((3, 3), bool)}, r"mask of shape \(3, 3\) does not match"),
    ({"prominence": 2}, "prominence=2 must be a number from 0 to 1"),
    ({"min_share": -1}, "min_share=-1"),
    ({"smoothing": "wide"}, "smoothing='wide'"),
])
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        stroke_directions(np.zeros((16, 16), np.float32), **kwargs)


def test_blank_page_has_no_direction():
    d = stroke_directions(np.ones((40, 50), np.float32))
    assert d.dominant == [] and d.overall_coherence == 0.0
    assert d.histogram.sum() == 0 and d.coherence.max() == 0
    picture = flow_picture(d)
    assert picture.max() == 0  # nothing drawn: black


# --------------------------------------------------------------------------- tiles


def test_reach_is_gaussian_radius_plus_operator_radius():
    assert reach(3.0) == 12 + 1
    assert reach(2.0, "farid") == 8 + 2
    assert reach(1.2, "scharr") == 5 + 1
    assert reach() == reach(DEFAULT_SIGMA)
    with pytest.raises(ParameterError, match="operator='x' is not known"):
        reach(2.0, "x")


@pytest.mark.parametrize("sigma, operator", [(3.0, "scharr"), (1.5, "farid"), (2.0, "sobel")])
def test_tiled_with_halo_equals_whole(sigma, operator):
    image = scan_like(np.random.default_rng(5))
    whole = stroke_directions(image, sigma=sigma, operator=operator)
    halo = reach(sigma, operator)
    h, w = image.shape
    total = StrokeStatistics()
    parts = []
    for r0 in range(0, h, 64):
        for c0 in range(0, w, 96):
            r1, c1 = min(h, r0 + 64), min(w, c0 + 96)
            a0, b0 = max(0, r0 - halo), max(0, c0 - halo)
            a1, b1 = min(h, r1 + halo), min(w, c1 + halo)
            tile = stroke_directions(image[a0:a1, b0:b1], sigma=sigma, operator=operator)
            core = np.s_[r0 - a0:r1 - a0, c0 - b0:c1 - b0]
            # Per-pixel fields: equal to float32 rounding of the filters.
            np.testing.assert_allclose(tile.energy[core], whole.energy[r0:r1, c0:c1],
                                       rtol=1e-5, atol=1e-9)
            np.testing.assert_allclose(tile.coherence[core], whole.coherence[r0:r1, c0:c1],
                                       atol=1e-5)
            sure = whole.coherence[r0:r1, c0:c1] > 1e-3
            assert circular_difference(tile.angle[core][sure],
                                       whole.angle[r0:r1, c0:c1][sure]).max() < 1e-2
            parts.append(StrokeStatistics().add(tile, core=core))
            total.add(tile, core=core)
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    for stats in (total, merged):
        assert stats.pixels == h * w
        np.testing.assert_allclose(stats.histogram, whole.histogram, rtol=1e-6,
                                   atol=1e-9 * whole.histogram.sum())
        assert stats.overall_coherence == pytest.approx(whole.overall_coherence, abs=1e-6)
        tiled = stats.dominant()
        assert len(tiled) == len(whole.dominant)
        for (a, s), (b, t) in zip(tiled, whole.dominant, strict=True):
            assert circular_difference(a, b) < 1e-3 and s == pytest.approx(t, abs=1e-6)


def test_flow_picture_tiled_equals_whole():
    image = scan_like(np.random.default_rng(6), (150, 200))
    whole_directions = stroke_directions(image)
    settings = {"length": 12.0, "grain": 2, "seed": 4,
                "reference": float(np.percentile(np.sqrt(whole_directions.energy), 99))}
    whole = flow_picture(whole_directions, **settings)
    halo = reach()
    for r0, r1, c0, c1 in [(0, 70, 0, 90), (70, 150, 90, 200), (40, 110, 60, 140)]:
        a0, b0 = max(0, r0 - halo), max(0, c0 - halo)
        a1, b1 = min(150, r1 + halo), min(200, c1 + halo)
        tile = flow_picture(stroke_directions(image[a0:a1, b0:b1]), origin=(a0, b0),
                            **settings)
        # A streamline that passes within rounding of a pixel corner may step into the
        # neighbouring pixel in one of the two computations (seen with NumPy 1.26 and
        # OpenCV 4.8: 3 of 26,400 samples off by 0.002): all but 0.1 % of the samples
        # agree to 2e-5, and none differs by more than 0.01.
        difference = np.abs(tile[r0 - a0:r1 - a0, c0 - b0:c1 - b0] - whole[r0:r1, c0:c1])
        assert np.mean(difference > 2e-5) <= 1e-3
        assert difference.max() <= 0.01


def test_merge_refuses_other_bins():
    with pytest.raises(ParameterError, match=r"same bins \(180\)"):
        StrokeStatistics().merge(StrokeStatistics(90))


# --------------------------------------------------------------------------- flow picture


def test_flow_picture_colours_and_darkness():
    y, x = np.mgrid[0:120, 0:192]
    image = np.full((120, 192), 0.9, np.float32)
    image[:, :96] = np.where(y[:, :96] % 6 < 2, 0.1, 0.9)  # horizontal strokes: red
    image[:, 96:] = np.where(x[:, 96:] % 6 < 2, 0.1, 0.9)  # vertical strokes: cyan
    image[30:90, 124:184] = 0.9  # blank paper
    picture = flow_picture(image, seed=3)
    assert picture.dtype == np.float32 and picture.shape == (120, 192, 3)
    assert picture.min() >= 0 and picture.max() <= 1
    red = picture[20:100, 20:76].mean(axis=(0, 1))
    cyan = picture[5:20, 110:180].mean(axis=(0, 1))
    assert red[0] > 0.3 and red[1] < 0.05 * red[0] + 1e-3 and red[2] < 0.05 * red[0] + 1e-3
    assert cyan[0] < 0.05 * cyan[1] and cyan[1] == pytest.approx(cyan[2], rel=0.02)
    # Paper further from any stroke than the tensor's reach (13 px): black.
    assert picture[45:75, 139:169].max() == 0
    # Same seed, same picture (to a last-bit difference of OpenCV's threaded filters, which
    # can cross a 0.05-degree hue step: 0.002); another seed, another texture.
    np.testing.assert_allclose(flow_picture(image, seed=3), picture, atol=2e-3)
    assert np.abs(flow_picture(image, seed=4) - picture).mean() > 0.01


def test_flow_defaults_and_bad_flow_parameters():
    assert flow_defaults((2456, 3471, 3)) == {"grain": 3, "length": 24.0}
    assert flow_defaults((10, 10)) == {"grain": 1, "length": 8.0}
    image = np.zeros((8, 8), np.float32)
    for kwargs, match in [({"grain": 0}, "grain=0 must be"), ({"length": -1}, "length=-1"),
                          ({"reference": 0}, "reference=0 must be a positive"),
                          ({"origin": "top"}, "origin='top' must be"),
                          ({"seed": 1.5}, "seed=1.5 must be")]:
        with pytest.raises(ParameterError, match=match):
            flow_picture(image, **kwargs)


# --------------------------------------------------------------------------- rose, summary


def test_rose_is_mirrored_counter_clockwise_from_the_right():
    from matplotlib.figure import Figure

    d = stroke_directions(two_hatchings(), bins=90)
    ax = Figure().add_subplot(projection="polar")
    assert plot_rose(ax, d, title="two") is ax
    assert ax.get_theta_offset() == 0 and ax.get_theta_direction() == 1
    [rose] = ax.patches
    # The outline steps bin by bin: two vertices (the bin's edges) at the bin's radius.
    theta, radius = rose.get_xy()[:4 * 90].T
    heights = radius[0::2]
    np.testing.assert_allclose(radius[1::2], heights)
    np.testing.assert_allclose(heights[:90], heights[90:])
    np.testing.assert_allclose(heights[:90], d.histogram / d.histogram.max())
    angles = np.degrees(0.5 * (theta[0::2] + theta[1::2]))
    # Bins centred at 1, 3, ..., 179 degrees and again 180 degrees on.
    np.testing.assert_allclose(angles, np.arange(1, 360, 2), atol=1e-9)
    for hatch in (30, 120):
        near = circular_difference(angles[:90], hatch) < 3
        assert heights[:90][near].max() > 0.5
    assert heights[:90][circular_difference(angles[:90], 75) < 20].max() < 0.05
    assert len(ax.lines) == 3 * len(d.dominant)
    assert ax.get_title() == "two"
    labels = sorted(text.get_text() for text in ax.texts)
    assert labels == sorted(f"{round(a) % 180}\N{DEGREE SIGN} {s:.0%}" for a, s in d.dominant)
    # An angle just under 180 is labelled 0, as the page convention reads it.
    almost_flat = stroke_directions(hatching((64, 64), 179.8))
    assert plot_rose(None, almost_flat).texts[0].get_text().startswith("0\N{DEGREE SIGN}")
    with pytest.raises(ParameterError, match="not a polar Axes"):
        plot_rose(Figure().add_subplot(), d)
    with pytest.raises(ParameterError, match="directions of type ndarray"):
        plot_rose(None, d.histogram)


def test_summary_is_json_and_repr_is_short():
    d = stroke_directions(two_hatchings())
    summary = json.loads(json.dumps(d.summary()))
    assert summary["sigma"] == DEFAULT_SIGMA and summary["operator"] == "scharr"
    assert [round(a, 1) % 180 for a, _ in d.dominant] == [e["angle"] for e in
                                                          summary["dominant"]]
    assert summary["overall_coherence"] == round(d.overall_coherence, 3)
    text = repr(d)
    assert text.startswith("StrokeDirections(160x240") and "dominant=[(" in text
    assert len(text) < 200 and "array" not in text
    assert isinstance(d, StrokeDirections)
    with pytest.raises(AttributeError):
        d.sigma = 1.0  # frozen


def test_import_does_not_load_matplotlib():
    code = "import sys, sketchgrad; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 2), (3, 3, 3)])
def test_tiny_images_give_finite_results(shape):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    d = stroke_directions(image)
    picture = flow_picture(d)
    assert d.angle.shape == shape[:2] and picture.shape == shape[:2] + (3,)
    assert np.isfinite(picture).all() and np.isfinite(d.coherence).all()
    assert 0 <= d.overall_coherence <= 1


def test_a_loaded_scan_is_accepted(tmp_path):
    from sketchgrad import load_scan

    image = np.round(scan_like(np.random.default_rng(8), (60, 70)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "scan.png"), image)
    scan = load_scan(tmp_path / "scan.png")
    a, b = stroke_directions(scan), stroke_directions(image)
    np.testing.assert_allclose(a.energy, b.energy, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(np.array(a.dominant), np.array(b.dominant), atol=1e-6)
    assert len(a.dominant) >= 1


# --------------------------------------------------------------------------- field, counts


def test_stroke_field_is_the_per_pixel_part_of_stroke_directions():
    image = scan_like(np.random.default_rng(9), (90, 120))
    field, d = stroke_field(image, sigma=2.0), stroke_directions(image, sigma=2.0)
    # Equal to the last bit or two: OpenCV's threads may split a filter differently.
    np.testing.assert_allclose(field.energy, d.energy, rtol=1e-6)
    np.testing.assert_allclose(field.coherence, d.coherence, atol=1e-6)
    sure = d.coherence > 1e-3
    assert circular_difference(field.angle[sure], d.angle[sure]).max() < 1e-3
    crop = field.crop(np.s_[10:40, 20:70])
    np.testing.assert_array_equal(crop.energy, field.energy[10:40, 20:70])
    assert crop.angle.flags["C_CONTIGUOUS"]
    # A field is added as directions are, and gives the same figures.
    stats = StrokeStatistics(sigma=2.0, operator="scharr").add(field)
    assert stats.summary() == d.summary()
    np.testing.assert_allclose(flow_picture(field, seed=3), flow_picture(d, seed=3), atol=1e-5)


@pytest.mark.parametrize("q", [1.0, 50.0, 99.0, 99.9, 100.0])
def test_strength_percentile_is_numpys_within_its_bin_width(q):
    image = scan_like(np.random.default_rng(10))
    d = stroke_directions(image)
    drawn = np.sqrt(d.energy[d.energy > 0].astype(np.float64))
    exact = np.percentile(drawn, q, method="inverted_cdf")  # the rank-th smallest value
    stats = StrokeStatistics().add(d)
    assert stats.strength_percentile(q) == pytest.approx(exact, rel=2.5e-4)
    # Counts are integers: tiles add up to the whole exactly.
    left = StrokeStatistics().add(d, core=np.s_[:, :150])
    right = StrokeStatistics().add(d, core=np.s_[:, 150:])
    np.testing.assert_array_equal(left.merge(right).strength_counts, stats.strength_counts)
    assert stats.strength_counts.sum() == drawn.size


def test_strength_percentile_of_nothing_and_bad_q():
    blank = StrokeStatistics().add(stroke_directions(np.ones((20, 20), np.float32)))
    assert blank.strength_percentile() == 1.0
    with pytest.raises(ParameterError, match="q=101 must be a percentile from 0 to 100"):
        blank.strength_percentile(101)
