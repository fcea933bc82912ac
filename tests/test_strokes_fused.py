"""The fused stroke measurement (``stroke_field(statistics=...)``) against plain formulas.

The reference here is the module docstring's definition computed independently in
float64 with SciPy (Scharr taps by ``correlate1d``, the Gaussian by ``gaussian_filter``
cut at 4 sigma, both reflecting ``dcba|abcd``), and the figures summed per pixel with
NumPy from the field's own angles and energies.
"""

import math

import numpy as np
import pytest
from scipy import ndimage as ndi

import sketchgrad.strokes as strokes
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import OPERATORS
from sketchgrad.strokes import StrokeStatistics, reach, stroke_directions, stroke_field

#: float32 against float64: relative energy, absolute coherence, and degrees of angle
#: where the coherence is over 0.05 (measured: 1.4e-6, 1.1e-6 and 0.0004; OpenCV's
#: phase, used before, was off by 0.005 here).
ENERGY_RTOL = 1e-5
COHERENCE_ATOL = 1e-5
ANGLE_DEGREES = 0.002


def circular_difference(a, b):
    """Smallest difference of two stroke angles (degrees, period 180)."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) % 180
    return np.minimum(d, 180 - d)


def hatching(shape, angle, period=6.0):
    """Sinusoidal hatching whose strokes run at ``angle`` degrees on the page (y up)."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    a = math.radians(angle)
    distance = -cols * math.sin(a) + (shape[0] - 1 - rows) * math.cos(a)
    return (0.5 + 0.5 * np.cos(2 * np.pi * distance / period)).astype(np.float32)


def drawing(seed, shape=(200, 260)):
    """Paper grain, two hatched patches at 20 and 110 degrees and a dark blot."""
    rng = np.random.default_rng(seed)
    image = np.full(shape, 0.9, np.float32) + rng.normal(0, 0.02, shape).astype(np.float32)
    image[20:140, 10:150] = np.minimum(image[20:140, 10:150],
                                       hatching(shape, 20.0, 5.0)[20:140, 10:150])
    image[90:190, 140:250] = np.minimum(image[90:190, 140:250],
                                        0.2 + 0.8 * hatching(shape, 110.0, 7.0)[90:190, 140:250])
    image[150:180, 30:60] = 0.1
    return np.clip(image, 0, 1)


def reference(image, sigma=3.0):
    """(angle, coherence, energy, Jxx, Jxy, Jyy) in float64 by the definition."""
    image = image.astype(np.float64)
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    derivative, smooth = np.array([-0.5, 0.0, 0.5]), np.array([3.0, 10.0, 3.0]) / 16
    jxx = jxy = jyy = 0.0
    for channel in channels:
        gx = ndi.correlate1d(ndi.correlate1d(channel, derivative, axis=1, mode="reflect"),
                             smooth, axis=0, mode="reflect")
        gy = ndi.correlate1d(ndi.correlate1d(channel, smooth, axis=1, mode="reflect"),
                             derivative, axis=0, mode="reflect")
        jxx, jxy, jyy = jxx + gx * gx, jxy + gx * gy, jyy + gy * gy
    jxx, jxy, jyy = (ndi.gaussian_filter(term / len(channels), sigma, truncate=4.0,
                                         mode="reflect") for term in (jxx, jxy, jyy))
    energy = jxx + jyy
    none = energy <= 1e-12  # no gradient: angle, coherence and energy 0
    jxx, jxy, jyy, energy = (np.where(none, 0.0, term) for term in (jxx, jxy, jyy, energy))
    angle = np.degrees(np.arctan2(2 * jxy, jyy - jxx)) / 2 % 180
    coherence = np.hypot(jyy - jxx, 2 * jxy) / np.where(none, 1.0, energy)
    return angle, coherence, energy, jxx, jxy, jyy


def assert_field_matches_reference(field, ref):
    angle, coherence, energy = ref[:3]
    np.testing.assert_allclose(field.energy, energy, rtol=ENERGY_RTOL)
    np.testing.assert_allclose(field.coherence, coherence, atol=COHERENCE_ATOL)
    sure = coherence > 0.05
    assert sure.mean() > 0.5  # the comparison covers most of the picture
    assert circular_difference(field.angle[sure], angle[sure]).max() < ANGLE_DEGREES


def per_pixel_figures(field, bins=180):
    """Histogram, doubled-angle vectors and trace summed pixel by pixel in float64.

    A pixel's bin is its fine bin's (``ceil(3600 / bins)`` of them per bin), the fine
    position ``angle * fine / 180`` rounded to float32 as the module computes it: an
    angle within an ulp of an edge may fall on either side, and must fall on the same.
    """
    split = -(-3600 // bins)
    position = field.angle * np.float32(bins * split / 180)
    index = np.minimum(position.astype(np.intp).ravel() // split, bins - 1)
    angle = field.angle.astype(np.float64).ravel()
    weight = np.sqrt(field.energy.astype(np.float64)).ravel()
    doubled = np.radians(2 * angle)
    return (np.bincount(index, weight, bins),
            np.stack([np.bincount(index, weight * np.cos(doubled), bins),
                      np.bincount(index, weight * np.sin(doubled), bins)]),
            float(field.energy.astype(np.float64).sum()))


# --------------------------------------------------------------------------- the field


@pytest.mark.parametrize("seed", [1, 2])
def test_fused_field_and_figures_match_the_definition(seed):
    image = drawing(seed)
    ref = reference(image)
    stats = StrokeStatistics()
    field = stroke_field(image, statistics=stats)
    assert_field_matches_reference(field, ref)
    histogram, vectors, total = per_pixel_figures(field)
    np.testing.assert_allclose(stats.histogram, histogram, rtol=1e-6, atol=1e-12)
    assert stats.pixels == image.size
    # The summed tensor comes from the tensor itself: the float64 definition's sums.
    _, _, energy, jxx, jxy, jyy = ref
    scale = float(energy.sum())
    np.testing.assert_allclose(stats.tensor, [scale, float((jyy - jxx).sum()),
                                              float(2 * jxy.sum())], rtol=0, atol=1e-5 * scale)
    assert stats.tensor[0] == pytest.approx(total, rel=1e-6)
    # Doubled-angle vectors from fine-bin centres: each within its weight times the
    # chord of half a fine bin (pi / 3600 radians of doubled angle) of the pixels' own ...
    error = np.hypot(*(stats.vectors - vectors))
    assert np.all(error <= histogram * math.pi / 3600 * (1 + 1e-6) + 1e-12)
    # ... where the centres of whole 1-degree bins would be up to 20 times further off.
    centres = np.radians(2 * (np.arange(180) + 0.5))
    coarse = histogram * np.stack([np.cos(centres), np.sin(centres)])
    assert np.hypot(*(coarse - vectors)).max() > 5 * error.max()


def test_colour_field_is_the_channel_mean_tensor():
    grey = drawing(3)
    rgb = np.stack([grey, np.roll(grey, 5, axis=1), np.clip(1.2 - grey[::-1], 0, 1)], axis=-1)
    stats = StrokeStatistics()
    field = stroke_field(rgb, statistics=stats)
    ref = reference(rgb)
    assert_field_matches_reference(field, ref)
    np.testing.assert_allclose(stats.histogram, per_pixel_figures(field)[0], rtol=1e-6,
                               atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 145.0])
def test_analytic_hatching_reads_its_angle(angle):
    image = hatching((96, 120), angle, period=8.0)
    stats = StrokeStatistics()
    field = stroke_field(image, statistics=stats)
    inner = np.s_[16:-16, 16:-16]
    # Scharr's own anisotropy at an 8-pixel period (module docstring: at most 0.3)
    assert circular_difference(field.angle[inner], angle).max() < 0.3
    assert field.angle.min() >= 0 and field.angle.max() < 180
    [(found, share)] = stats.dominant()
    assert circular_difference(found, angle) < 0.3 and share == pytest.approx(1.0)


def test_refined_peaks_are_within_a_quarter_of_a_fine_bin(monkeypatch):
    image = drawing(4)
    stats = StrokeStatistics()
    stroke_field(image, statistics=stats)
    # The same pixels read at a thousandth of a degree: as good as the pixels' own angles.
    monkeypatch.setattr(strokes, "_FINE_BINS", 180_000)
    fine = StrokeStatistics()
    stroke_field(image, statistics=fine)
    assert fine._fine.size == 180_000
    found, exact = stats.dominant(), fine.dominant()
    assert len(found) == len(exact) == 2
    for (a, s), (b, t) in zip(found, exact, strict=True):
        assert circular_difference(a, b) <= 0.025
        assert s == pytest.approx(t, abs=1e-6)


def test_other_bin_counts_nest_fine_bins():
    image = drawing(5)
    for bins in (7, 90, 3600):
        stats = StrokeStatistics(bins)
        field = stroke_field(image, statistics=stats)
        assert stats._fine.size % bins == 0 and stats._fine.size >= 3600
        histogram, vectors, _ = per_pixel_figures(field, bins)
        np.testing.assert_allclose(stats.histogram, histogram, rtol=1e-6, atol=1e-12)
        # the bound of the fine bins' centres, as above
        bound = histogram * math.pi / stats._fine.size * (1 + 1e-6) + 1e-12
        assert np.all(np.hypot(*(stats.vectors - vectors)) <= bound)


def test_fused_and_two_step_figures_agree():
    image = drawing(6)
    stats = StrokeStatistics(sigma=3.0, operator="scharr")
    field = stroke_field(image, statistics=stats)
    apart = StrokeStatistics(sigma=3.0, operator="scharr").add(field)
    np.testing.assert_allclose(stats.histogram, apart.histogram, rtol=1e-9)
    # the tensor from the tensor, and from trace * coherence * (cos, sin)(2 angle)
    np.testing.assert_allclose(stats.tensor, apart.tensor, rtol=0,
                               atol=2e-6 * stats.tensor[0])
    assert stats.summary() == apart.summary()
    np.testing.assert_array_equal(stats.strength_counts, apart.strength_counts)


def test_mask_zeroes_outside_and_counts_inside_only():
    image = drawing(7)
    mask = np.zeros(image.shape, bool)
    mask[:, :130] = True
    stats = StrokeStatistics()
    field = stroke_field(image, mask=mask, statistics=stats)
    assert field.energy[:, 130:].max() == 0 and field.angle[:, 130:].max() == 0
    assert field.coherence[:, 130:].max() == 0
    histogram, _, total = per_pixel_figures(field)
    np.testing.assert_allclose(stats.histogram, histogram, rtol=1e-6, atol=1e-12)
    assert stats.tensor[0] == pytest.approx(total, rel=1e-6)
    # the 110-degree hatching lies outside
    assert [round(a) for a, _ in stats.dominant()] == [20]


# --------------------------------------------------------------------------- windows, tiles


@pytest.mark.parametrize("window", [np.s_[0:60, 0:80], np.s_[70:130, 100:260],
                                    np.s_[150:, 200:], np.s_[:, 40:41]])
def test_window_is_the_crop_of_the_whole_field(window):
    image = drawing(8)
    whole = stroke_field(image)
    part = stroke_field(image, window=window)
    crop = whole.crop(window)
    assert part.angle.shape == crop.angle.shape
    np.testing.assert_allclose(part.energy, crop.energy, rtol=1e-6)
    np.testing.assert_allclose(part.coherence, crop.coherence, atol=1e-6)
    assert circular_difference(part.angle, crop.angle)[crop.coherence > 1e-3].max() < 1e-3


@pytest.mark.parametrize("margin", [0, 3])
def test_tiles_as_the_engine_measures_them_sum_to_the_whole(margin):
    # Each tile: its padded part of the image, the field on the tile and `margin` pixels
    # around it (the flow picture's), and the tile's own pixels added to its statistics.
    image = drawing(9)
    whole_stats = StrokeStatistics()
    whole = stroke_field(image, statistics=whole_stats)
    halo = reach() + margin + 1
    h, w = image.shape
    merged = StrokeStatistics()
    for y0 in range(0, h, 64):
        for x0 in range(0, w, 96):
            y1, x1 = min(h, y0 + 64), min(w, x0 + 96)
            py0, px0 = max(0, y0 - halo), max(0, x0 - halo)
            padded = image[py0:min(h, y1 + halo), px0:min(w, x1 + halo)]
            sy0, sx0 = max(py0, y0 - margin), max(px0, x0 - margin)
            sy1, sx1 = min(h, y1 + margin), min(w, x1 + margin)
            window = np.s_[sy0 - py0:sy1 - py0, sx0 - px0:sx1 - px0]
            core = np.s_[y0 - sy0:y1 - sy0, x0 - sx0:x1 - sx0]
            tile_stats = StrokeStatistics()
            field = stroke_field(padded, window=window, statistics=tile_stats, core=core)
            np.testing.assert_allclose(field.energy, whole.energy[sy0:sy1, sx0:sx1],
                                       rtol=1e-5, atol=1e-10)
            assert tile_stats.pixels == (y1 - y0) * (x1 - x0)
            merged = merged.merge(tile_stats)
    assert merged.pixels == image.size
    np.testing.assert_allclose(merged.histogram, whole_stats.histogram, rtol=1e-6,
                               atol=1e-9 * whole_stats.histogram.sum())
    np.testing.assert_allclose(merged.tensor, whole_stats.tensor, rtol=0,
                               atol=1e-6 * whole_stats.tensor[0])
    # A tile's energies can differ from the whole's in the last bit, which moves a pixel
    # now and then to the neighbouring narrow bin: the percentiles stay within a bin.
    assert merged.strength_counts.sum() == whole_stats.strength_counts.sum()
    assert np.abs(merged.strength_counts - whole_stats.strength_counts).sum() <= 10
    for q in (50, 99):
        assert merged.strength_percentile(q) == pytest.approx(
            whole_stats.strength_percentile(q), rel=2 ** -10)
    for (a, s), (b, t) in zip(merged.dominant(), whole_stats.dominant(), strict=True):
        assert circular_difference(a, b) < 1e-3 and s == pytest.approx(t, abs=1e-6)


def test_stroke_directions_equals_field_and_statistics():
    image = drawing(10)
    d = stroke_directions(image, bins=90)
    stats = StrokeStatistics(90, sigma=3.0, operator="scharr")
    field = stroke_field(image, statistics=stats)
    np.testing.assert_array_equal(d.angle, field.angle)
    np.testing.assert_array_equal(d.histogram, stats.histogram)
    assert d.summary() == stats.summary()


# --------------------------------------------------------------------------- counts, errors


def test_statistics_without_counts_say_so():
    image = drawing(11)
    counted, uncounted = StrokeStatistics(), StrokeStatistics(counts=False)
    stroke_field(image, statistics=counted)
    stroke_field(image, statistics=uncounted)
    assert uncounted.strength_counts is None
    np.testing.assert_array_equal(uncounted.histogram, counted.histogram)
    assert uncounted.tensor == counted.tensor
    assert counted.strength_counts.sum() == np.count_nonzero(stroke_field(image).energy)
    with pytest.raises(ParameterError, match=r"no strength counts \(made with counts=False"):
        uncounted.strength_percentile(99)
    # merged with statistics that have none, counts would be partial: none are kept
    assert counted.merge(uncounted).strength_counts is None
    assert uncounted.merge(counted).strength_counts is None
    both = counted.merge(counted)
    np.testing.assert_array_equal(both.strength_counts, 2 * counted.strength_counts)
    assert both.strength_percentile(50) == counted.strength_percentile(50)
    with pytest.raises(ParameterError, match="counts='no' must be True or False"):
        StrokeStatistics(counts="no")


@pytest.mark.parametrize("kwargs, match", [
    ({"window": np.s_[0:10:2, :]}, r"window=.* must be two slices of rows and columns"),
    ({"window": (slice(0, 5),)}, r"window=.* must be two slices"),
    ({"window": "top"}, r"window='top' must be two slices"),
    ({"core": np.s_[0:4, 0:4]}, r"core= says which pixels to add to statistics=: give both"),
    ({"statistics": {}}, r"statistics of type dict cannot be added to"),
    ({"statistics": StrokeStatistics(sigma=2.0)}, r"statistics record sigma=2.0 but the field "
                                                   r"is measured with sigma=3.0"),
    ({"statistics": StrokeStatistics(operator="sobel")},
     r"statistics record operator='sobel' but the field is measured with operator='scharr'"),
    ({"statistics": StrokeStatistics(), "core": np.s_[::3, :]}, r"core=.* must be two slices"),
])
def test_bad_window_core_or_statistics(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        stroke_field(np.zeros((16, 16), np.float32), **kwargs)


def test_empty_window_gives_empty_planes():
    stats = StrokeStatistics()
    field = stroke_field(np.ones((20, 20), np.float32), window=np.s_[5:5, :],
                         statistics=stats)
    assert field.angle.shape == (0, 20) and field.energy.dtype == np.float32
    assert stats.pixels == 0 and stats.histogram.sum() == 0


# --------------------------------------------------------------------------- figures only


@pytest.mark.parametrize("masked", [False, True])
def test_measure_adds_what_the_field_would(masked):
    image = drawing(12)  # with a flat blot: pixels without a gradient
    mask = None
    if masked:
        mask = np.ones(image.shape, bool)
        mask[:, 200:] = False
    core = np.s_[20:180, 15:240]
    fused = StrokeStatistics(sigma=3.0, operator="scharr")
    field = stroke_field(image, mask=mask, window=core, statistics=fused)
    measured = StrokeStatistics(sigma=3.0, operator="scharr").measure(image, core=core,
                                                                      mask=mask)
    assert measured.pixels == fused.pixels == field.angle.size
    np.testing.assert_allclose(measured.histogram, fused.histogram, rtol=1e-12)
    np.testing.assert_allclose(measured.tensor, fused.tensor, rtol=1e-12)
    np.testing.assert_array_equal(measured.strength_counts, fused.strength_counts)
    np.testing.assert_allclose(measured.histogram, per_pixel_figures(field)[0], rtol=1e-6,
                               atol=1e-12)
    assert measured.summary() == fused.summary()


def test_measure_uses_the_recorded_scale_and_names_core_in_errors():
    image = drawing(13)
    wide = StrokeStatistics(sigma=5.0, operator="farid").measure(image)
    expected = StrokeStatistics(sigma=5.0, operator="farid")
    stroke_field(image, sigma=5.0, operator="farid", statistics=expected)
    np.testing.assert_allclose(wide.histogram, expected.histogram, rtol=1e-12)
    default = StrokeStatistics().measure(image)
    assert not np.allclose(default.histogram, wide.histogram, rtol=1e-3)
    with pytest.raises(ParameterError, match=r"core=.* must be two slices of rows and columns"):
        StrokeStatistics().measure(image, core=np.s_[::2, :])


def test_pixels_without_an_axis_read_0_degrees_on_both_paths():
    # Hand-made smoothed tensors: exactly isotropic pixels (Jxx == Jyy, Jxy == 0, a trace
    # above zero) have no stroke axis; arctan2 of their signed zeros would say 0 or 90.
    rng = np.random.default_rng(14)
    jxx = rng.random((40, 50), dtype=np.float32)
    jyy = rng.random((40, 50), dtype=np.float32)
    sin2 = rng.normal(size=(40, 50)).astype(np.float32)  # -2 Jxy
    jyy[5:15, 5:15] = jxx[5:15, 5:15]
    sin2[5:15, 5:15] = -0.0
    sin2[20:30, 5:15] = 0.0
    jyy[20:30, 5:15] = jxx[20:30, 5:15]
    everything = (slice(0, 40), slice(0, 50))
    kept = StrokeStatistics()
    field = strokes._fields(jxx.copy(), jyy.copy(), sin2.copy(), None, everything, kept,
                            everything)
    assert field.angle[5:15, 5:15].max() == 0 and field.angle[20:30, 5:15].max() == 0
    assert field.coherence[5:15, 5:15].max() == 0
    figures = StrokeStatistics()
    assert strokes._fields(jxx.copy(), jyy.copy(), sin2.copy(), None, everything, figures,
                           everything, keep=False) is None
    np.testing.assert_allclose(figures.histogram, kept.histogram, rtol=1e-12)
    np.testing.assert_allclose(figures.histogram, per_pixel_figures(field)[0], rtol=1e-6)
    # their weight is in the first bin
    weight = np.sqrt(jxx[5:15, 5:15].astype(np.float64) * 2).sum() + \
        np.sqrt(jxx[20:30, 5:15].astype(np.float64) * 2).sum()
    assert figures.histogram[0] >= weight * (1 - 1e-6)


@pytest.mark.parametrize("bins", [180, 7, 685])  # 685: 180 degrees less an ulp rounds to
def test_figures_alone_bin_a_hair_below_0_and_180_as_the_field(bins):  # the far edge
    # Hand-made smoothed tensors in the usual case (a gradient and an axis everywhere):
    # where Jyy > Jxx (a horizontal stroke) and -2 Jxy is a tiny negative (or -0.0),
    # arctan2 is -pi (rounded to float32) and the figures-only path, which leaves out the
    # clamp at 0, has an angle a hair below 0; where it is +0.0 the angle is 180. Both
    # are 0 in the field, and the figures alone must bin them there too: the same fine
    # sums, bit for bit.
    rng = np.random.default_rng(15)
    jxx = rng.random((48, 60), dtype=np.float32) * np.float32(0.4)
    jyy = rng.random((48, 60), dtype=np.float32) + np.float32(0.5)
    sin2 = rng.normal(size=(48, 60)).astype(np.float32)
    sin2[4:20, 3:30] = np.float32(-1e-30)
    sin2[22:30, 3:30] = -0.0
    sin2[32:40, 3:30] = 0.0
    everything = (slice(0, 48), slice(0, 60))
    cos2 = jxx - jyy
    doubled = np.arctan2(sin2, cos2)
    for part in (np.s_[4:20, 3:30], np.s_[22:30, 3:30]):
        assert doubled[part].max() == -np.float32(math.pi)  # the hair below 0
    assert doubled[32:40, 3:30].min() == np.float32(math.pi)  # 180
    kept = StrokeStatistics(bins)
    field = strokes._fields(jxx.copy(), jyy.copy(), sin2.copy(), None, everything, kept,
                            everything)
    for part in (np.s_[4:20, 3:30], np.s_[22:30, 3:30], np.s_[32:40, 3:30]):
        assert field.angle[part].max() == 0
    assert field.angle.min() >= 0
    figures = StrokeStatistics(bins)
    assert strokes._fields(jxx.copy(), jyy.copy(), sin2.copy(), None, everything, figures,
                           everything, keep=False) is None
    np.testing.assert_array_equal(figures._fine, kept._fine)
    assert figures.tensor == kept.tensor and figures.pixels == kept.pixels == jxx.size
    # and against the formula, in float64: all their weight is in the first bin
    np.testing.assert_allclose(figures.histogram, per_pixel_figures(field, bins)[0],
                               rtol=1e-6)
    weight = sum(np.sqrt((jxx + jyy)[part].astype(np.float64)).sum()
                 for part in (np.s_[4:20, 3:30], np.s_[22:30, 3:30], np.s_[32:40, 3:30]))
    assert figures.histogram[0] >= weight * (1 - 1e-6)


@pytest.mark.parametrize("sigma", [1.0, 3.0, 4.5])
def test_grey_tensor_is_each_product_blurred_by_opencv(sigma):
    # The smoothed tensor of a grey image, bit for bit: Scharr's products, each blurred
    # by OpenCV's Gaussian (cut at 4 sigma, reflecting), -2 Jxy by twice the negated blur
    # (a power of two: exact).
    import cv2

    image = drawing(16)
    gx, gy = OPERATORS["scharr"](image)
    gx, gy = gx.astype(np.float32), gy.astype(np.float32)
    size = 2 * math.ceil(4 * sigma) + 1

    def gaussian(term):
        return cv2.GaussianBlur(term, (size, size), sigma, sigmaY=sigma,
                                borderType=cv2.BORDER_REFLECT)

    jxx, jyy, sin2 = strokes._smoothed_tensor(image, sigma, "scharr", None)
    np.testing.assert_array_equal(jxx, gaussian(gx * gx))
    np.testing.assert_array_equal(jyy, gaussian(gy * gy))
    np.testing.assert_array_equal(sin2, gaussian(gx * gy) * np.float32(-2))
    # the colour path (channel sums, then blurs) agrees with it to float32 rounding
    rgb = np.repeat(image[..., None], 3, axis=-1)
    for grey, colour in zip((jxx, jyy, sin2), strokes._smoothed_tensor(rgb, sigma, "scharr",
                                                                     None), strict=True):
        np.testing.assert_allclose(colour, grey, rtol=1e-5,
                                   atol=1e-6 * float(np.abs(grey).max()))
