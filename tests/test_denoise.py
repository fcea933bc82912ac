"""Denoising: registry, shapes, quality on a noisy drawing, strengths, background flattening."""

import importlib

import numpy as np
import pytest
from corpus import line_drawing
from numpy.testing import assert_allclose, assert_array_equal
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio
from skimage.restoration import estimate_sigma

from sketchgrad.denoise import (
    DENOISE_METHODS,
    UNEVEN_BACKGROUND,
    background_unevenness,
    denoise,
    denoise_bilateral,
    denoise_gaussian,
    denoise_median,
    denoise_nl_means,
    denoise_tv,
    estimate_noise,
    flatten_background,
)
from sketchgrad.errors import ParameterError

module = importlib.import_module("sketchgrad.denoise")
NOISE_SIGMA = 0.05
METHODS = ["none", "gaussian", "median", "bilateral", "tv", "nl_means", "wavelet"]
#: Smallest PSNR gain (dB) each method must reach on the noisy drawing, automatic strength.
MIN_GAIN_DB = {"gaussian": 0.5, "median": 0.5, "bilateral": 0.5,
               "tv": 3.0, "nl_means": 3.0, "wavelet": 3.0}


def psnr(reference, image):
    return peak_signal_noise_ratio(reference, image, data_range=1.0)


@pytest.fixture(scope="module")
def drawing_pair():
    clean = line_drawing(160, 192)
    rng = np.random.default_rng(20261126)
    noisy = np.clip(clean + rng.normal(0, NOISE_SIGMA, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def test_registry_names_and_public_functions():
    assert list(DENOISE_METHODS) == METHODS
    for name, entry in DENOISE_METHODS.items():
        assert entry.func is getattr(module, f"denoise_{name}")
        assert entry.func.__doc__ and "strength" in entry.func.__doc__
        assert entry.doc == entry.func.__doc__.strip().splitlines()[0].replace("``", "")
    with pytest.raises(ParameterError, match="method='blur' is not known; choose one of: 'none'"):
        denoise(np.zeros((4, 4), np.float32), "blur")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (17, 1), (2, 2), (9, 13), (1, 1, 3),
                                   (1, 9, 3), (12, 15, 3)])
def test_every_shape_float32_unit_range_new_array(method, shape):
    rng = np.random.default_rng(sum(shape))
    image = rng.random(shape, dtype=np.float32)
    before = image.copy()
    for strength in (None, 0.1):
        out = denoise(image, method, strength=strength)
        assert out.shape == image.shape and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        assert not np.shares_memory(out, image)
    assert_array_equal(image, before)


@pytest.mark.parametrize("method", METHODS)
def test_strength_zero_is_identity(method, drawing_pair):
    _, noisy = drawing_pair
    assert_array_equal(denoise(noisy, method, strength=0), noisy)


@pytest.mark.parametrize("method", list(MIN_GAIN_DB))
def test_automatic_strength_raises_psnr_on_noisy_drawing(method, drawing_pair):
    clean, noisy = drawing_pair
    gain = psnr(clean, denoise(noisy, method)) - psnr(clean, noisy)
    assert gain >= MIN_GAIN_DB[method], f"{method}: {gain:.2f} dB"


@pytest.mark.parametrize("method", list(MIN_GAIN_DB))
def test_rgb_drawing_improves(method, drawing_pair):
    clean, _ = drawing_pair
    clean = clean[:96, :96]
    ink = np.array([0.2, 0.3, 0.8], np.float32)  # blue ink on grey paper
    clean_rgb = np.clip(clean[..., None] * (1 - ink) + ink * clean[..., None] ** 2, 0, 1)
    rng = np.random.default_rng(7)
    noisy = np.clip(clean_rgb + rng.normal(0, NOISE_SIGMA, clean_rgb.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    gain = psnr(clean_rgb, denoise(noisy, method)) - psnr(clean_rgb, noisy)
    assert gain >= 0.5, f"{method}: {gain:.2f} dB"


def test_estimate_noise_matches_scikit_image(drawing_pair):
    import pywt

    _, noisy = drawing_pair
    # With no pixel clipped at 0 or 1 it is scikit-image's estimator, to float32 rounding.
    inner = (np.float32(0.05) + np.float32(0.9) * noisy).astype(np.float32)
    assert_allclose(estimate_noise(inner), estimate_sigma(inner), rtol=1e-4)
    rgb = np.dstack([inner, inner[::-1], inner[:, ::-1]])
    assert_allclose(estimate_noise(rgb), estimate_sigma(rgb, channel_axis=-1, average_sigmas=True),
                    rtol=1e-4)
    # Clipped pixels are left out: the median over the db2 diagonal coefficients whose
    # 4x4 support holds none (found with a box filter of the same length and alignment).
    detail = np.abs(pywt.dwt2(noisy.astype(np.float64), "db2", mode="symmetric")[1][2])
    clipped = ((noisy <= 0) | (noisy >= 1)).astype(np.float64)
    box = pywt.Wavelet("box", filter_bank=[[1] * 4] * 4)
    touched = pywt.dwt2(clipped, box, mode="symmetric")[1][2]
    assert touched.max() > 0                       # the noisy drawing has clipped pixels
    assert_allclose(estimate_noise(noisy), np.median(detail[touched == 0]) / 0.6744897501960817,
                    rtol=1e-4)
    assert abs(estimate_noise(noisy) - NOISE_SIGMA) < 0.1 * NOISE_SIGMA


def test_estimate_noise_thin_and_single_pixel():
    rng = np.random.default_rng(2)
    row = (0.5 + rng.normal(0, 0.03, (1, 8192))).astype(np.float32)
    assert abs(estimate_noise(row) - 0.03) < 0.003
    assert abs(estimate_noise(row.T) - 0.03) < 0.003
    assert estimate_noise(np.array([[0.3]], np.float32)) == 0.0
    # a flat image has no noise: its diagonal band is float32 round-off, as pywt's is
    import pywt

    for level in (0.123, 0.5, 0.7, 0.9):
        flat = np.full((20, 30), level, np.float32)
        rounding = np.abs(pywt.dwt2(flat, "db2", mode="symmetric")[1][2]).max()
        assert rounding < 1e-12
        assert 0.0 <= estimate_noise(flat) < 1e-12


def test_noise_of_a_native_scan_is_read_strip_by_strip(monkeypatch):
    from sketchgrad.io import NativeImage, as_image

    samples = np.round(line_drawing(300, 200) * 65535).astype(np.uint16)
    lazy = NativeImage(samples)
    # the float path told the bit depth the samples carry (their noise floor)
    expected = estimate_noise(as_image(samples), bit_depth=16)
    strength = module.resolve_strength(as_image(samples), "median", bit_depth=16)

    def whole(self):
        raise AssertionError("the native scan was converted whole")

    monkeypatch.setattr(NativeImage, "to_float", whole)
    monkeypatch.setattr(NativeImage, "__array__", whole)
    assert estimate_noise(lazy) == expected
    assert module.resolve_strength(lazy, "median") == strength


def test_gaussian_strength_is_sigma_in_pixels():
    rng = np.random.default_rng(3)
    image = rng.random((40, 50), dtype=np.float32)
    for sigma in (0.7, 1.5, 3.0):
        expected = ndimage.gaussian_filter(image.astype(np.float64), sigma, mode="mirror")
        assert_allclose(denoise_gaussian(image, strength=sigma), expected, atol=2e-5)


def test_median_strength_is_radius():
    rng = np.random.default_rng(4)
    image = rng.random((30, 40), dtype=np.float32)
    assert_array_equal(denoise_median(image, strength=1),
                       ndimage.median_filter(image, size=3, mode="nearest"))
    for radius in (2, 3):
        padded = np.pad(image, radius, mode="edge" if radius <= 2 else "symmetric")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * radius + 1,) * 2)
        assert_array_equal(denoise_median(image, strength=radius),
                           np.median(windows, axis=(2, 3)).astype(np.float32))


def test_bilateral_keeps_edges_and_smooths_flat_noise():
    rng = np.random.default_rng(5)
    step = np.zeros((32, 32), np.float32)
    step[:, 16:] = 0.9
    out = denoise_bilateral(step, strength=0.05)
    assert np.abs(out - step).max() < 1e-3
    noisy = np.clip(step + rng.normal(0, 0.02, step.shape), 0, 1).astype(np.float32)
    out = denoise_bilateral(noisy, strength=0.1)
    assert out[:, 3:13].std() < noisy[:, 3:13].std() / 2
    assert abs(out[:, 20:].mean() - 0.9) < 0.01 and abs(out[:, :12].mean() - 0.0) < 0.02


def test_tv_strength_orders_total_variation(drawing_pair):
    _, noisy = drawing_pair

    def total_variation(image):
        return np.abs(np.diff(image, axis=0)).sum() + np.abs(np.diff(image, axis=1)).sum()

    variations = [total_variation(denoise_tv(noisy, strength=w)) for w in (0.0, 0.02, 0.1)]
    assert variations[0] > variations[1] > variations[2]


def test_nl_means_keeps_16_bit_precision():
    # A gentle ramp: 0.5 -> 0.502 over 64 columns, finer than one 8-bit step (0.0039).
    ramp = np.tile(np.linspace(0.5, 0.502, 64, dtype=np.float32), (32, 1))
    out = denoise_nl_means(ramp, strength=0.01)
    assert np.abs(out - ramp).max() < 2e-4
    assert (np.diff(out[16], axis=0) >= -1e-5).all() and out[16, -1] - out[16, 0] > 0.0015


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "strong"])
def test_bad_strength(bad):
    with pytest.raises(ParameterError, match="strength=.* must be a finite number >= 0"):
        denoise(np.zeros((4, 4), np.float32), "gaussian", strength=bad)


def test_bad_images():
    with pytest.raises(ParameterError, match="1 pixels with non-finite values"):
        denoise(np.array([[0.1, np.nan]], np.float32), "median")
    with pytest.raises(ParameterError, match=r"shape \(4, 4, 2\) is not an image"):
        denoise(np.zeros((4, 4, 2), np.float32), "none")
    with pytest.raises(ParameterError, match=r"is empty \(no pixels\)"):
        denoise(np.zeros((0, 4), np.float32), "none")


def unevenly_lit(height=192, width=256):
    """The drawing on paper 0.85, lit from the right and brighter at the bottom."""
    drawing = line_drawing(height, width)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 0.55 + 0.4 * x / (width - 1) + 0.05 * y / (height - 1)
    return drawing, (drawing * light).astype(np.float32)


@pytest.mark.parametrize("size", [(192, 256), (480, 640)])  # estimated at full size / shrunk
def test_flatten_background_recovers_even_paper(size):
    drawing, lit = unevenly_lit(*size)
    flat = flatten_background(lit)
    expected = drawing / 0.85  # paper white, ink keeps its ratio to the paper
    paper = drawing > 0.849
    assert np.ptp(lit[paper]) > 0.3  # the input is really uneven
    assert flat[paper].min() > 0.95
    assert np.abs(flat - expected).mean() < 0.02
    ink = drawing < 0.2
    assert flat[ink].max() < 0.35  # strokes stay dark everywhere


def test_flatten_background_shapes_and_rgb():
    assert_array_equal(flatten_background(np.full((10, 12), 0.6, np.float32)),
                       np.ones((10, 12), np.float32))
    _, lit = unevenly_lit(64, 80)
    rgb = np.dstack([lit, lit * 0.9, lit * 0.8])
    flat = flatten_background(rgb)
    assert flat.shape == rgb.shape and flat.dtype == np.float32
    assert_allclose(flat[..., 0], flatten_background(lit), atol=1e-6)
    assert flatten_background(np.array([[0.4, 0.5]], np.float32)).shape == (1, 2)
    with pytest.raises(ParameterError, match="scale=-1.0 must be"):
        flatten_background(lit, scale=-1)


def test_resolve_strength_is_what_denoise_uses(drawing_pair):
    _, noisy = drawing_pair
    # scikit-image's estimate counts the clipped pixels too (0.2 % lower on this drawing)
    noise = estimate_sigma(noisy)
    assert_allclose(module.resolve_strength(noisy, "nl_means"), 1.2 * noise, rtol=5e-3)
    assert_allclose(module.resolve_strength(noisy, "gaussian"), 10 * noise, rtol=5e-3)
    assert module.resolve_strength(noisy, "median") == 1.0
    assert module.resolve_strength(noisy, "none") == 0.0
    assert module.resolve_strength(noisy, "tv", 0.3) == 0.3
    for method in METHODS:
        fixed = module.resolve_strength(noisy, method)
        assert_array_equal(denoise(noisy, method), denoise(noisy, method, strength=fixed))
    with pytest.raises(ParameterError, match="method='blur' is not known"):
        module.resolve_strength(noisy, "blur")


@pytest.mark.parametrize("size", [9, 10, 65_535, 65_536, 65_537, 300_000, 300_001])
@pytest.mark.parametrize("zeros", [0.0, 0.3, 0.5, 1.0])
def test_median_of_coefficient_sizes_equals_numpys(size, zeros):
    """The noise estimate's median (by the floats' top bits on large arrays) is np.median."""
    rng = np.random.default_rng(size)
    values = np.abs(rng.normal(0, 0.01, size)).astype(np.float32)
    values[:int(zeros * size)] = 0  # paper: many equal values around the middle rank
    values[-5:] = values[-6]  # ties
    rng.shuffle(values)
    expected = float(np.median(values))
    got = module._median_in_place(values.copy())
    assert got == expected
    assert isinstance(got, float)


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (33, 31), (101, 40), (102, 7)])
def test_estimate_noise_in_strips_equals_the_whole_transform(shape, monkeypatch):
    import pywt

    monkeypatch.setattr(module, "NOISE_STRIP", 16)  # many strips, and a partial last one
    rng = np.random.default_rng(sum(shape))
    image = np.clip(0.5 + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
    image[: shape[0] // 2, : shape[1] // 3] = 0.9  # flat paper: exact zeros in the band
    whole = np.abs(pywt.dwt2(image, "db2", mode="symmetric")[1][2])
    # sketchgrad computes the diagonal band with NumPy: pywt's C loop may fuse multiply
    # and add, so the two agree within float32 rounding (a few units in the last place)
    detail = module._abs_diagonal_detail(image)
    assert detail.shape == whole.ravel().shape
    assert_allclose(detail, whole.ravel(), rtol=1e-6, atol=2e-7)
    assert_allclose(estimate_noise(image), float(np.median(whole)) / 0.6744897501960817,
                    rtol=1e-6, atol=1e-9)
    # the strips give the whole image's values bit for bit
    monkeypatch.setattr(module, "NOISE_STRIP", 1 << 20)
    assert_array_equal(module._abs_diagonal_detail(image), detail)
    if shape[1] > 4:  # (scikit-image warns about narrower images: colour channels?)
        # scikit-image drops exact zeros first; with noise everywhere it is the same
        noisy = np.clip(0.5 + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
        assert_allclose(estimate_noise(noisy), estimate_sigma(noisy), rtol=1e-6)


@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (5, 9), (64, 47), (517, 130)])
def test_noise_coefficients_leave_out_clipped_support_as_pywt_box_filter(shape):
    import pywt

    rng = np.random.default_rng(shape[0] * shape[1])
    # ink and paper clipped at 0 and 1 in blobs and single pixels, noise elsewhere
    image = np.clip(0.5 + rng.normal(0, 0.35, shape), 0, 1).astype(np.float32)
    detail = np.abs(pywt.dwt2(image, "db2", mode="symmetric")[1][2])
    clipped = ((image <= 0) | (image >= 1)).astype(np.float64)
    box = pywt.Wavelet("box", filter_bank=[[1] * 4] * 4)
    free = pywt.dwt2(clipped, box, mode="symmetric")[1][2] == 0
    assert 0 < np.count_nonzero(free) < free.size or min(shape) < 8
    kept = module._abs_diagonal_detail(image)
    assert kept.shape == detail[free].shape                  # the same coefficients left out
    assert_allclose(kept, detail[free], rtol=1e-6, atol=2e-7)  # in the same order


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 101, 46_337])
def test_background_percentiles_equal_numpys(size):
    """The background check's percentiles (one partition, no np.unique) are np.percentile's."""
    rng = np.random.default_rng(size)
    values = rng.normal(0.8, 0.05, size)
    values[: size // 3] = values[0]  # ties, as on a fitted plane
    for qs in [(5.0, 95.0), (0.0, 100.0), (50.0,), (33.3, 99.9)]:
        assert module._percentiles(values.copy(), qs) == np.percentile(values, qs).tolist()


def _explicit_quadratic_fit(target, use):
    """The fit as a tall least-squares problem: one row per pixel in use, then the surface."""
    rows, cols = target.shape
    y, x = (a.ravel() for a in np.mgrid[0:rows, 0:cols])
    x, y = x / (cols - 1) - 0.5, y / (rows - 1) - 0.5
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    coef = np.linalg.lstsq(design[use.ravel()], target.ravel()[use.ravel()], rcond=None)[0]
    return (design @ coef).reshape(rows, cols)


def test_background_fit_by_separable_sums_equals_lstsq():
    """The normal equations from separable sums give the tall fit's surface (lstsq).

    To 1e-10: squaring the design's condition (about 30 here) costs a few digits of
    float64, far below the two 8-bit levels (0.008) the envelope test compares with.
    """
    rng = np.random.default_rng(3)
    y, x = (a / 99 - 0.5 for a in np.mgrid[0:100, 0:150])
    target = 0.9 - 0.2 * x + 0.1 * y * y + rng.normal(0, 0.01, x.shape)
    use = rng.random(target.shape) > 0.3  # any set of pixels, as the envelope's
    for pixels in (np.ones(target.shape, bool), use):
        assert_allclose(module._quadratic_fit(target, pixels),
                        _explicit_quadratic_fit(target, pixels), rtol=0, atol=1e-10)
    # every pixel in use on one row: y and y*y are constants, as the column of ones; the
    # minimum-norm answer of the small system gives the tall system's surface on that row
    row = np.zeros(target.shape, bool)
    row[40] = True
    assert_allclose(module._quadratic_fit(target, row)[40],
                    _explicit_quadratic_fit(target, row)[40], rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.bool_])
@pytest.mark.parametrize("shape,k", [((40, 57), 4), ((37, 50), 7), ((9, 5), 9), ((3, 1000), 4)])
def test_integer_block_means_equal_float_block_means(dtype, shape, k):
    """A native scan's block means (integer sums) are those of its float32 image.

    Compared with block_means of the samples converted as load_scan does (v / full
    scale), edge blocks included: to float32 rounding (1e-6).
    """
    from sketchgrad.arrays import block_means

    rng = np.random.default_rng(k)
    full = 1 if dtype == np.bool_ else np.iinfo(dtype).max
    samples = rng.integers(0, full, shape, endpoint=True).astype(dtype)
    expected = block_means((samples / full).astype(np.float32), k)
    got = module._integer_block_means(samples, k)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_colour_scans_background_check_reads_the_mean_of_its_channels(dtype):
    """RGB is shrunk as the block means of its channels' mean (NumPy's mean, as reference)."""
    from sketchgrad.arrays import block_means
    from sketchgrad.io import NativeImage

    rng = np.random.default_rng(7)
    full = 1.0 if dtype == np.float32 else float(np.iinfo(dtype).max)
    samples = (rng.random((301, 411, 3)) * full).astype(dtype)
    image = (samples / full).astype(np.float32)
    side = 50  # k = ceil(411 / 50) = 9: edge blocks on both sides
    want = block_means(image.mean(axis=2, dtype=np.float32), 9)
    # to float32 rounding: the order NumPy's mean adds the channels in is its own to choose
    assert_allclose(module._shrunk_grey(image, side), want, rtol=0, atol=1e-7)
    if dtype != np.float32:  # kept in its file's dtype: converted strip by strip
        native = NativeImage(samples, mode="rgb")
        assert_allclose(module._shrunk_grey(native, side), want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_rgb_scan_read_as_grey_is_shrunk_from_its_stored_channels(dtype):
    """Per-channel integer block sums, then the luma: the block means of the float luma."""
    from sketchgrad.arrays import block_means
    from sketchgrad.io import LUMA_BT601, NativeImage

    rng = np.random.default_rng(8)
    full = float(np.iinfo(dtype).max)
    samples = (rng.random((301, 411, 3)) * full).astype(dtype)
    for k in (1, 4, 9):  # channels averaged apart, edge blocks cut short
        for page in (samples, np.rot90(samples), samples[:, ::-1]):  # upright views too
            want = np.dstack([block_means((page[..., c] / full).astype(np.float32), k)
                              for c in range(3)])
            assert_allclose(module._integer_block_means(page, k), want, rtol=0, atol=2e-7)
    # the luma of the means is the mean of the lumas (the weights in float64 here)
    luma = (samples / full) @ np.array(LUMA_BT601)
    want = block_means(luma.astype(np.float32), 9)
    native = NativeImage(samples, "gray")
    assert_allclose(module._shrunk_grey(native, 50), want, rtol=0, atol=1e-6)
    # a grey page stored as RGB: exactly the grey samples' shrink
    grey = samples[..., 0]
    assert_array_equal(module._shrunk_grey(NativeImage(np.dstack([grey] * 3), "gray"), 50),
                       module._shrunk_grey(NativeImage(grey), 50))


def test_integer_block_means_of_a_wide_block_do_not_overflow():
    """8-bit columns of more than 257 rows are summed in 32 bits (255 * 300 > 65535)."""
    samples = np.full((300, 600), 255, np.uint8)
    assert_array_equal(module._integer_block_means(samples, 300), np.ones((1, 2), np.float32))


def test_background_check_of_a_native_scan_matches_its_float_image():
    """The check reads a NativeImage's integer samples; the float image gives the same value.

    To 1e-6 (the block means differ by float32 rounding), the same decision.
    """
    from sketchgrad.io import NativeImage

    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:600, 0:900]
    lit = 200 * (1 - 0.3 * x / 899) * (1 - 0.1 * (y / 599) ** 2)
    page = np.clip(lit + rng.normal(0, 3, lit.shape), 0, 255).astype(np.uint8)
    page[200:400, 300:320] = 20  # a stroke
    native = background_unevenness(NativeImage(page))
    assert abs(native - background_unevenness(page.astype(np.float32) / 255)) < 1e-6
    assert native > UNEVEN_BACKGROUND  # a lamp's fall-off of 30 %


def test_background_check_does_not_import_numpy_ma(tmp_path):
    """Deciding to flatten a scan does not load numpy.ma (np.percentile's np.unique would).

    Run in a fresh interpreter: numpy.ma is imported once per process, on first use.
    NumPy 1.x imports it itself (``import numpy``): there the check can only show that
    nothing else changed, so what counts is whether the check loaded it.
    """
    import subprocess
    import sys

    code = ("import sys, numpy as np, cv2\n"
            "before = 'numpy.ma' in sys.modules\n"
            "from sketchgrad.denoise import background_unevenness\n"
            "y, x = np.mgrid[0:300, 0:400].astype(np.float32)\n"
            "print(round(background_unevenness(0.5 + 0.4 * x / 399), 2),\n"
            "      'numpy.ma' in sys.modules and not before)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert done.stdout.split() == ["0.41", "False"]  # light from the right, as the doctest
