"""Gradient operators against analytic images, hand-worked values, OpenCV and scikit-image."""

import math

import cv2
import numpy as np
import pytest
import skimage.filters
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose
from scipy import ndimage as ndi
from skimage.color import rgb2gray

from sketchgrad.errors import ParameterError
from sketchgrad.gradients import (
    BORDER_MODES,
    FARID_GAIN,
    OPERATORS,
    GradientField,
    central,
    farid,
    gradient_field,
    prewitt,
    scharr,
    sobel,
)

#: One tolerance for float32 kernels compared with float64 references.
TOL = dict(rtol=1e-5, atol=1e-6)

SKIMAGE = {"sobel": (skimage.filters.sobel, 2.0), "scharr": (skimage.filters.scharr, 2.0),
           "prewitt": (skimage.filters.prewitt, 2.0), "farid": (skimage.filters.farid, FARID_GAIN)}


def skimage_edge(reference, image, axis, mode, cval):
    """scikit-image's edge filter, with ``mode="constant"`` built by padding with ``cval``.

    scikit-image < 0.26 does not pass ``cval`` on (its issue 7825), so for the constant
    border the image is padded with ``cval`` by hand, filtered, and the padding cut off.
    """
    if mode != "constant":
        return reference(image, axis=axis, mode=mode)
    padded = np.pad(image, 3, constant_values=cval)
    return reference(padded, axis=axis, mode="constant")[3:-3, 3:-3]


def test_registry_holds_the_public_functions():
    # each entry is a record carrying the function and its reach (half the window side)
    assert {k: e.func for k, e in OPERATORS.items()} == {
        "sobel": sobel, "scharr": scharr, "prewitt": prewitt, "farid": farid, "central": central}
    assert {k: e.reach for k, e in OPERATORS.items()} == {
        "sobel": 1, "scharr": 1, "prewitt": 1, "farid": 2, "central": 1}


@pytest.mark.parametrize("operator", list(OPERATORS))
@pytest.mark.parametrize("mode", BORDER_MODES)
def test_ramp_gives_its_slope_away_from_the_border(ramp, operator, mode):
    image, a, b = ramp
    f = gradient_field(image, operator, mode=mode)
    assert f.gx.dtype == f.gy.dtype == np.float32
    assert_allclose(f.gx[2:-2, 2:-2], a, atol=2e-7)
    assert_allclose(f.gy[2:-2, 2:-2], b, atol=2e-7)
    assert_allclose(f.magnitude[2:-2, 2:-2], np.hypot(a, b), rtol=1e-5)
    assert_allclose(f.orientation[2:-2, 2:-2], np.arctan2(b, a), atol=1e-5)


# Hand-worked: a bright 3x3 corner in the lower right of a 5x5 black square.
# Row derivative D = (I[x+1] - I[x-1]) / 2 is [0, .5, .5, 0, 0] on rows 2-4, with
# 'reflect' borders (I[-1] = I[0], I[5] = I[4]); gx smooths D down the column
# with the operator's taps; gy is gx transposed by symmetry.
CORNER = np.zeros((5, 5), np.float32)
CORNER[2:, 2:] = 1.0
HAND_GX = {
    # row y: s[-1] * D[y-1] + s[0] * D[y] + s[1] * D[y+1]
    "sobel": [0, 0.125, 0.375, 0.5, 0.5],      # taps 1/4, 1/2, 1/4
    "prewitt": [0, 1 / 6, 1 / 3, 0.5, 0.5],    # taps 1/3, 1/3, 1/3
    "scharr": [0, 0.09375, 0.40625, 0.5, 0.5],  # taps 3/16, 10/16, 3/16
    "central": [0, 0, 0.5, 0.5, 0.5],          # no smoothing
}


@pytest.mark.parametrize("operator", list(HAND_GX))
def test_hand_worked_corner(operator):
    column = np.array(HAND_GX[operator], np.float32)[:, None]
    expected_gx = column * np.array([0, 1, 1, 0, 0], np.float32)
    f = gradient_field(CORNER, operator)
    assert_allclose(f.gx, expected_gx, atol=1e-7)
    assert_allclose(f.gy, expected_gx.T, atol=1e-7)
    # Down-right diagonal at the corner pixel itself.
    assert_allclose(f.orientation[2, 2], np.pi / 4, atol=1e-6)
    assert_allclose(f.magnitude[2, 2], np.sqrt(2) * HAND_GX[operator][2], rtol=1e-6)


def test_hand_worked_sobel_typed_out():
    expected_gx = np.array([[0, 0, 0, 0, 0],
                            [0, 0.125, 0.125, 0, 0],
                            [0, 0.375, 0.375, 0, 0],
                            [0, 0.5, 0.5, 0, 0],
                            [0, 0.5, 0.5, 0, 0]], np.float32)
    gx, gy = sobel(CORNER)
    assert_allclose(gx, expected_gx, atol=1e-7)
    assert_allclose(gy, expected_gx.T, atol=1e-7)


@pytest.mark.parametrize("operator", list(OPERATORS))
def test_step_edges_and_orientation_convention(operator):
    rises_right = np.zeros((9, 12), np.float32)
    rises_right[:, 6:] = 0.8
    f = gradient_field(rises_right, operator)
    # Every derivative kernel has sum(i * d_i) = 1, so a step of h gives h in total
    # across the columns next to it, split evenly between the two for 3-tap kernels.
    assert_allclose(f.gx[4].sum(), 0.8, rtol=1e-6)
    assert_allclose(f.gy, 0, atol=1e-7)
    if operator != "farid":
        assert_allclose(f.gx[4, 5:7], [0.4, 0.4], rtol=1e-6)
    edge = f.magnitude > 0.01
    assert edge[:, 5:7].all()
    assert_allclose(f.orientation[edge], 0.0, atol=1e-7)        # right
    falls_right = gradient_field(rises_right[:, ::-1], operator)
    edge = falls_right.magnitude > 0.01
    assert (falls_right.orientation[edge] == np.float32(np.pi)).all()   # left is +pi, never -pi
    rises_down = gradient_field(rises_right.T.copy(), operator)
    edge = rises_down.magnitude > 0.01
    assert_allclose(rises_down.orientation[edge], np.pi / 2, atol=1e-6)  # down
    rises_up = gradient_field(rises_right.T[::-1].copy(), operator)
    edge = rises_up.magnitude > 0.01
    assert_allclose(rises_up.orientation[edge], -np.pi / 2, atol=1e-6)  # up


def test_opencv_factors(rng):
    image = rng.random((23, 31), dtype=np.float32)
    for mode, border in [("mirror", cv2.BORDER_REFLECT_101), ("reflect", cv2.BORDER_REFLECT),
                         ("nearest", cv2.BORDER_REPLICATE), ("constant", cv2.BORDER_CONSTANT)]:
        sx = cv2.Sobel(image, cv2.CV_64F, 1, 0, ksize=3, borderType=border)
        sy = cv2.Sobel(image, cv2.CV_64F, 0, 1, ksize=3, borderType=border)
        gx, gy = sobel(image, mode=mode)
        assert_allclose(gx, sx / 8, **TOL)
        assert_allclose(gy, sy / 8, **TOL)
        cx = cv2.Scharr(image, cv2.CV_64F, 1, 0, borderType=border)
        cy = cv2.Scharr(image, cv2.CV_64F, 0, 1, borderType=border)
        gx, gy = scharr(image, mode=mode)
        assert_allclose(gx, cx / 32, **TOL)
        assert_allclose(gy, cy / 32, **TOL)


@pytest.mark.parametrize("operator", list(SKIMAGE))
@pytest.mark.parametrize("mode", BORDER_MODES)
def test_scikit_image_factors_with_every_border_mode(rng, operator, mode):
    image = rng.random((17, 20))
    reference, factor = SKIMAGE[operator]
    f = gradient_field(image, operator, mode=mode, cval=0.3)
    assert_allclose(f.gx, skimage_edge(reference, image, 1, mode, 0.3) / factor, **TOL)
    assert_allclose(f.gy, skimage_edge(reference, image, 0, mode, 0.3) / factor, **TOL)


def test_scikit_image_v_and_h_functions(rng):
    image = rng.random((12, 14))
    gx, gy = sobel(image.astype(np.float32))
    assert_allclose(gx, skimage.filters.sobel_v(image) / 2, **TOL)
    assert_allclose(gy, skimage.filters.sobel_h(image) / 2, **TOL)
    gx, gy = farid(image.astype(np.float32))
    # farid_v has no mode argument; compare away from the border it pads.
    assert_allclose(gx[2:-2, 2:-2], skimage.filters.farid_v(image)[2:-2, 2:-2] / FARID_GAIN,
                    **TOL)
    # scikit-image's edge magnitude is sqrt(2) times ours.
    f = gradient_field(image, "prewitt")
    assert_allclose(f.magnitude * np.sqrt(2), skimage.filters.prewitt(image), **TOL)


@pytest.mark.parametrize("mode", BORDER_MODES)
def test_central_against_np_gradient_and_scipy(rng, mode):
    image = rng.random((11, 13))
    gx, gy = central(image.astype(np.float32), mode=mode, cval=0.25)
    ngy, ngx = np.gradient(image)
    assert_allclose(gx[:, 1:-1], ngx[:, 1:-1], **TOL)
    assert_allclose(gy[1:-1], ngy[1:-1], **TOL)
    taps = [-0.5, 0.0, 0.5]
    assert_allclose(gx, ndi.correlate1d(image, taps, axis=1, mode=mode, cval=0.25), **TOL)
    assert_allclose(gy, ndi.correlate1d(image, taps, axis=0, mode=mode, cval=0.25), **TOL)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (2, 2), (3, 4)])
@pytest.mark.parametrize("mode", BORDER_MODES)
def test_tiny_images_match_scikit_image(rng, shape, mode):
    image = rng.random(shape)
    for operator, (reference, factor) in SKIMAGE.items():
        f = gradient_field(image, operator, mode=mode, cval=0.5)
        assert f.gx.shape == shape
        assert_allclose(f.gx, skimage_edge(reference, image, 1, mode, 0.5) / factor, **TOL)
        assert_allclose(f.gy, skimage_edge(reference, image, 0, mode, 0.5) / factor, **TOL)


def test_empty_image():
    # the input rule: an image without pixels is an error (it used to give an empty field)
    with pytest.raises(ParameterError, match=r"shape \(0, 4\) is empty \(no pixels\)"):
        gradient_field(np.zeros((0, 4), np.float32))


def test_magnitude_and_orientation_against_float64(rng):
    gx = rng.normal(size=(40, 50)).astype(np.float32)
    gy = rng.normal(size=(40, 50)).astype(np.float32)
    gx[0, :5] = [0, -1, -1, 0, 2]
    gy[0, :5] = [0, -0.0, -1e-30, -0.0, 0]
    f = GradientField(gx, gy)
    assert f.magnitude.dtype == f.orientation.dtype == np.float32
    assert_allclose(f.magnitude, np.hypot(gx.astype(float), gy.astype(float)), rtol=1e-6)
    expected = np.arctan2(gy.astype(float), gx.astype(float))
    expected[expected <= -np.pi] = np.pi
    assert_allclose(f.orientation, expected, atol=1e-6)
    assert f.orientation[0, :5].tolist() == [0.0, np.float32(np.pi), np.float32(np.pi), 0.0, 0.0]
    assert f.orientation.min() > -np.pi and f.orientation.max() <= np.float32(np.pi)


def test_red_stroke_on_green_paper_of_equal_grey():
    red = 0.8
    green = red * 0.2125 / 0.7154          # equal luminance for rgb2gray's weights
    rgb = np.zeros((12, 16, 3))
    rgb[..., 1] = green
    rgb[:, 6:10] = [red, 0, 0]
    grey = rgb2gray(rgb)
    assert_allclose(grey, grey[0, 0], atol=1e-12)
    assert gradient_field(grey).magnitude.max() < 1e-6
    f = gradient_field(rgb)
    # At the stroke's edges Sobel gives R: +-red/2, G: -+green/2 along x; Di Zenzo's
    # magnitude is the root-mean-square over the three channels.
    expected = np.sqrt(((red / 2) ** 2 + (green / 2) ** 2) / 3)
    assert_allclose(f.magnitude[:, [5, 6, 9, 10]], expected, rtol=1e-5)
    assert_allclose(f.magnitude[:, [0, 1, 2, 3, 12, 13, 14]], 0, atol=1e-7)
    # Equal grey for rgb2gray's Rec. 709 weights, but the sign follows the BT.601 luma
    # (the grey load_scan makes), higher on the red stroke: into the red on both edges.
    assert_allclose(f.orientation[:, [5, 6]], 0, atol=1e-6)
    assert (f.orientation[:, [9, 10]] == np.float32(np.pi)).all()


def test_grey_rgb_gives_the_grey_gradient(rng):
    grey = rng.random((15, 18), dtype=np.float32)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    f, g = gradient_field(rgb, "scharr"), gradient_field(grey, "scharr")
    assert_allclose(f.gx, g.gx, rtol=1e-5, atol=1e-6)
    assert_allclose(f.gy, g.gy, rtol=1e-5, atol=1e-6)


def test_colour_magnitude_is_the_structure_tensor_eigenvalue(rng):
    rgb = rng.random((10, 11, 3), dtype=np.float32)
    f = gradient_field(rgb)
    channels = [sobel(np.ascontiguousarray(rgb[..., c])) for c in range(3)]
    jac = np.stack([np.stack([gx, gy], -1) for gx, gy in channels], -2).astype(float)
    tensor = np.einsum("...ci,...cj->...ij", jac, jac) / 3
    largest = np.linalg.eigvalsh(tensor)[..., -1]
    assert_allclose(f.magnitude, np.sqrt(np.maximum(largest, 0)), rtol=1e-4, atol=1e-6)


def test_colour_gradient_over_many_blocks_is_the_tensor_eigenvector(rng, monkeypatch):
    """Di Zenzo is computed a block of rows at a time: every block as the formula says."""
    import importlib

    gradients = importlib.import_module("sketchgrad.gradients")
    smooth = cv2.GaussianBlur(rng.random((70, 90, 3), dtype=np.float32), (0, 0), 2)
    rgb = np.ascontiguousarray(smooth)
    monkeypatch.setattr(gradients, "CHUNK_ELEMENTS", 1000)  # blocks of 11 rows
    f = gradient_field(rgb)
    channels = [sobel(np.ascontiguousarray(rgb[..., c])) for c in range(3)]
    jac = np.stack([np.stack([gx, gy], -1) for gx, gy in channels], -2).astype(float)
    values, vectors = np.linalg.eigh(np.einsum("...ci,...cj->...ij", jac, jac) / 3)
    assert_allclose(f.magnitude, np.sqrt(np.maximum(values[..., -1], 0)), rtol=1e-4, atol=1e-6)
    top = vectors[..., -1]  # the unit eigenvector of the largest eigenvalue, up to sign
    # signed by the BT.601 tone's derivative along it, where that is clearly more than
    # SIGN_SHARE of the magnitude (elsewhere the chroma axes decide)
    tone = np.einsum("c,...ci->...i", [0.299, 0.587, 0.114], jac)
    along = np.einsum("...i,...i->...", tone, top)
    top *= np.sign(along)[..., None]
    distinct = (values[..., -1] > 1.01 * values[..., 0]) & (np.abs(along) > 0.05 * np.sqrt(
        np.maximum(values[..., -1], 0)))
    assert distinct.mean() > 0.8
    assert_allclose(f.gx[distinct], (top[..., 0] * f.magnitude)[distinct], rtol=1e-3, atol=1e-6)
    assert_allclose(f.gy[distinct], (top[..., 1] * f.magnitude)[distinct], rtol=1e-3, atol=1e-6)
    # and bit for bit what one block of the whole image gives
    monkeypatch.setattr(gradients, "CHUNK_ELEMENTS", 1 << 20)
    whole = gradient_field(rgb)
    assert np.array_equal(whole.gx, f.gx) and np.array_equal(whole.gy, f.gy)


def test_float32_hypot_through_float64_is_numpys_to_an_ulp(rng):
    import importlib

    from numpy.testing import assert_array_max_ulp

    hypot = importlib.import_module("sketchgrad.gradients")._hypot
    scale = np.float32(10.0) ** rng.uniform(-40, 37, 200_000).astype(np.float32)
    a = (rng.standard_normal(200_000).astype(np.float32) * scale).astype(np.float32)
    b = (rng.standard_normal(200_000).astype(np.float32) * scale[::-1]).astype(np.float32)
    got = hypot(a, b)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    assert_array_max_ulp(got, np.hypot(a, b), maxulp=1)
    exact = np.array([math.hypot(x, y) for x, y in zip(a[:2000].tolist(), b[:2000].tolist(),
                                                       strict=True)], np.float32)
    assert_array_max_ulp(got[:2000], exact, maxulp=1)


def test_uint8_is_scaled_by_its_maximum(rng):
    image = rng.integers(0, 256, (9, 9)).astype(np.uint8)
    f, g = gradient_field(image), gradient_field(image / 255.0)
    assert_allclose(f.gx, g.gx, **TOL)


def test_mask_zeroes_where_the_window_leaves_the_mask(rng):
    image = rng.random((20, 24), dtype=np.float32)
    mask = np.zeros(image.shape, bool)
    mask[3:15, 4:20] = True
    full = gradient_field(image)
    f = gradient_field(image, mask=mask)
    inner = np.zeros_like(mask)
    inner[4:14, 5:19] = True
    assert_allclose(f.gx[inner], full.gx[inner])
    assert (f.gx[~inner] == 0).all() and (f.gy[~inner] == 0).all()
    # scikit-image erodes its mask by 3x3 as well (and also zeroes the image border).
    assert_allclose(f.gx[1:-1, 1:-1],
                    skimage.filters.sobel(image, mask=mask, axis=1)[1:-1, 1:-1] / 2, **TOL)
    wide = gradient_field(image, "farid", mask=mask)
    assert (wide.gx[[4, 13], 5:19] == 0).all() and (wide.gx[5:13, 6:18] != 0).all()


def test_mask_on_a_colour_image(rng):
    rgb = rng.random((12, 14, 3), dtype=np.float32)
    mask = np.zeros((12, 14), bool)
    mask[2:10, 3:12] = True
    rgb[0, 0] = np.nan                      # outside the mask: allowed
    f = gradient_field(rgb, mask=mask)
    reference = gradient_field(np.nan_to_num(rgb))
    inner = np.zeros_like(mask)
    inner[3:9, 4:11] = True
    assert_allclose(f.magnitude[inner], reference.magnitude[inner], rtol=1e-6)
    assert (f.magnitude[~inner] == 0).all()


def test_mask_of_everything_equals_no_mask(rng):
    image = rng.random((8, 9), dtype=np.float32)
    f = gradient_field(image, mask=np.ones(image.shape, bool))
    assert_allclose(f.gx, gradient_field(image).gx)


def test_non_finite_values():
    image = np.zeros((10, 10), np.float32)
    image[2, 2] = np.nan
    image[7, 7] = np.inf
    with pytest.raises(ParameterError, match="image has 2 pixels with non-finite"):
        gradient_field(image)
    mask = np.ones(image.shape, bool)
    mask[:4, :4] = False
    with pytest.raises(ParameterError, match="1 pixels .* inside the mask"):
        gradient_field(image, mask=mask)
    mask[6:, 6:] = False
    f = gradient_field(image, mask=mask)
    assert np.isfinite(f.gx).all() and np.isfinite(f.magnitude).all()
    assert (f.magnitude == 0).all()


def test_huge_values_do_not_overflow_the_kernels():
    top = np.finfo(np.float32).max
    # Images are in [0, 1] (the input rule refuses huge ones), but the constant border
    # can still be anything: a border of -top next to paper 1 must not overflow.
    with pytest.raises(ParameterError, match="values from 3.40282e.38 to 3.40282e.38"):
        gradient_field(np.full((6, 6), top, np.float32))
    f = gradient_field(np.ones((6, 6), np.float32), "scharr", mode="constant", cval=-top)
    assert np.isfinite(f.gx).all() and np.isfinite(f.magnitude).all()
    # scharr at column 0: (3 + 10 + 3) / 32 * (1 - (-top)) = top / 2 on interior rows
    assert_allclose(f.gx[2:4, 0], top / 2, rtol=1e-6)
    assert_allclose(f.gx[:, 1:5], 0)


def test_errors_name_the_parameter():
    image = np.zeros((4, 4), np.float32)
    with pytest.raises(ParameterError, match="operator='roberts' is not known; .*'farid'"):
        gradient_field(image, "roberts")
    with pytest.raises(ParameterError, match="mode='edge' is not known; .*'wrap'"):
        gradient_field(image, mode="edge")
    with pytest.raises(ParameterError, match=r"shape \(4,\) is not an image"):
        gradient_field(np.zeros(4))
    with pytest.raises(ParameterError, match=r"mask of shape \(3, 4\) does not match"):
        gradient_field(image, mask=np.ones((3, 4), bool))
    with pytest.raises(ParameterError, match="cval=nan must be a finite"):
        gradient_field(image, mode="constant", cval=float("nan"))


@settings(max_examples=30, deadline=None)
@given(image=arrays(np.float32, st.tuples(st.integers(1, 12), st.integers(1, 12)),
                    elements=st.floats(0.25, 0.75, width=32)),  # room for the offset
       operator=st.sampled_from(list(OPERATORS)), mode=st.sampled_from(BORDER_MODES),
       offset=st.floats(-0.25, 0.25, width=32))
def test_property_symmetries(image, operator, mode, offset):
    f = gradient_field(image, operator, mode=mode)
    assert np.isfinite(f.magnitude).all() and np.isfinite(f.orientation).all()
    assert (f.orientation > -np.pi).all() and (f.orientation <= np.float32(np.pi)).all()
    # Transposing swaps the axes, so gx and gy trade places.
    t = gradient_field(image.T.copy(), operator, mode=mode)
    assert_allclose(t.gx, f.gy.T, atol=1e-6)
    assert_allclose(t.gy, f.gx.T, atol=1e-6)
    # Inverting the tone (and the constant border 0 -> 1) reverses every gradient.
    n = gradient_field(1 - image, operator, mode=mode, cval=1.0)
    assert_allclose(n.gx, -f.gx, atol=1e-6)
    # A brighter paper (tone + offset) has the same gradients, when the border moves too.
    if mode != "constant":
        b = gradient_field(image + np.float32(offset), operator, mode=mode)
        assert_allclose(b.gx, f.gx, atol=1e-6)


def test_magnitude_is_bitwise_repeatable_and_matches_hypot():
    # --workers N must equal --workers 1 pixel for pixel, so the same input must give the
    # same bits on every call (cv2.magnitude did not on small arrays).
    rng = np.random.default_rng(7)
    gx = rng.normal(0, 0.1, (120, 160)).astype(np.float32)
    gy = rng.normal(0, 0.1, (120, 160)).astype(np.float32)
    first = GradientField(gx, gy).magnitude
    for _ in range(20):
        np.testing.assert_array_equal(GradientField(gx.copy(), gy.copy()).magnitude, first)
    np.testing.assert_allclose(first, np.hypot(gx.astype(np.float64), gy), rtol=1e-6)


def test_colour_isotropic_tensor_has_a_finite_unit_direction():
    # R rises to the right, G downwards, B flat: the summed tensor is a^2 * identity, so the
    # Di Zenzo direction is not defined; the magnitude is still sqrt(a^2 / 3) (mean over the
    # three channels of the largest eigenvalue), and gx, gy must stay finite (they were
    # 1 / float32-tiny times the magnitude)
    a = 0.01
    y, x = np.mgrid[0:40, 0:40].astype(np.float32)
    rgb = np.stack([0.2 + a * x, 0.2 + a * y, np.full_like(x, 0.5)], axis=-1)
    field = gradient_field(rgb)
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(field.magnitude[inner], a / np.sqrt(3), rtol=1e-4)
    assert np.isfinite(field.gx).all() and np.isfinite(field.gy).all()
    np.testing.assert_allclose(np.hypot(field.gx, field.gy)[inner], a / np.sqrt(3), rtol=1e-4)


def test_magnitude_of_many_chunks_and_of_views_is_the_float32_formula(rng):
    # The magnitude is made a cache-sized chunk at a time: every element must still get
    # sqrt(gx*gx + gy*gy) in float32 (correctly rounded ufuncs, so exactly equal), views and
    # arrays longer than several chunks included, and the overflow fallback must still run.
    gx = rng.normal(0, 0.1, (900, 300)).astype(np.float32)   # 4 chunks and a part
    gy = rng.normal(0, 0.1, (900, 300)).astype(np.float32)
    with np.errstate(all="ignore"):
        want = np.sqrt(gx * gx + gy * gy)
    np.testing.assert_array_equal(GradientField(gx, gy).magnitude, want)
    np.testing.assert_array_equal(GradientField(gx.T, gy.T).magnitude, want.T)   # strided
    np.testing.assert_array_equal(GradientField(gx[::3, 1:], gy[::3, 1:]).magnitude,
                                  want[::3, 1:])
    huge = gx.copy()
    huge[700, 5] = 3e38   # squares overflow in the last chunk: hypot, saturated
    m = GradientField(huge, gy).magnitude
    assert np.isfinite(m).all() and m[700, 5] == np.float32(3e38)
    assert_allclose(m[:700], want[:700], rtol=1e-6)


def test_orientation_folds_minus_pi_only_where_arctan2_gives_it(rng):
    gx = rng.normal(size=(300, 400)).astype(np.float32)
    gy = rng.normal(size=(300, 400)).astype(np.float32)
    theta = GradientField(gx, gy).orientation
    np.testing.assert_array_equal(theta, np.arctan2(gy, gx))   # no -pi here: untouched
    gx[250:, 10] = -1.0
    gy[250:, 10] = -0.0
    theta = GradientField(gx, gy).orientation
    assert np.all(theta[250:, 10] == np.float32(np.pi))
    assert theta.min() > -np.pi
