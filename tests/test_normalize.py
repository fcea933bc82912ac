"""Normalization methods against their formulas, scikit-learn, SciPy and their stated rules."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import rankdata
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.preprocessing import Normalizer as SkNormalizer

from sketchgrad.errors import ParameterError
from sketchgrad.normalize import (
    NORMALIZE_METHODS,
    RTOL,
    equalize,
    exposure,
    gamma,
    l2,
    log,
    maxabs,
    minmax,
    normalize,
    robust,
    to_unit,
    zscore,
)

#: One tolerance for float32 results compared with float64 references.
TOL = dict(rtol=1e-5, atol=1e-6)
#: Histogram percentiles are promised within 0.1 % (bins are 2**-11 wide).
PERCENTILE_RTOL = 1e-3
RANGED = ("minmax", "robust", "log", "gamma", "equalize")


def column(x):
    return np.asarray(x, np.float64).reshape(-1, 1)


def test_registry_holds_the_public_functions():
    # each entry is a record carrying the public function
    assert {k: e.func for k, e in NORMALIZE_METHODS.items()} == {
        "minmax": minmax, "zscore": zscore, "l2": l2, "robust": robust, "maxabs": maxabs,
        "log": log, "gamma": gamma, "equalize": equalize, "exposure": exposure}


# --- each method against its formula and scikit-learn -------------------------------------


def test_minmax_formula_and_sklearn(rng):
    x = rng.normal(3, 2, (30, 40)).astype(np.float32)
    out = normalize(x, "minmax")
    assert out.dtype == np.float32 and out.shape == x.shape
    x64 = x.astype(float)
    assert_allclose(out, (x64 - x64.min()) / (x64.max() - x64.min()), **TOL)
    assert out.min() == 0.0 and out.max() == 1.0
    sk = MinMaxScaler(feature_range=(-2, 5)).fit_transform(column(x)).reshape(x.shape)
    assert_allclose(normalize(x, "minmax", out_range=(-2, 5)), sk, rtol=1e-5, atol=1e-5)
    assert_allclose(normalize(x, out_range=(1, 0)), 1 - out, **TOL)


def test_zscore_formula_and_sklearn(rng):
    x = rng.normal(-4, 3, (25, 20)).astype(np.float32)
    out = zscore(x)
    assert out.dtype == np.float32
    x64 = x.astype(float)
    assert_allclose(out, (x64 - x64.mean()) / x64.std(), **TOL)
    sk = StandardScaler().fit_transform(column(x)).reshape(x.shape)
    assert_allclose(out, sk, **TOL)


def test_l2_whole_array_and_per_vector_against_sklearn(rng):
    x = rng.normal(size=(12, 9)).astype(np.float32)
    sk = SkNormalizer(norm="l2").fit_transform(x.reshape(1, -1).astype(float))
    assert_allclose(l2(x), sk.reshape(x.shape), **TOL)
    vectors = rng.normal(size=(50, 2)).astype(np.float32)
    vectors[7] = 0
    out = normalize(vectors, "l2", axis=-1)
    assert_allclose(out, SkNormalizer().fit_transform(vectors.astype(float)), **TOL)
    assert_array_equal(out[7], [0, 0])                      # zero vectors stay zero
    assert_allclose(np.hypot(out[:, 0], out[:, 1])[np.arange(50) != 7], 1, rtol=1e-6)
    stacked = np.stack([x, -x], axis=0)                      # (2, H, W): vectors along axis 0
    per_pixel = normalize(stacked, "l2", axis=0)
    assert_allclose(per_pixel[0], np.sign(x) / np.sqrt(2), **TOL)


def test_maxabs_against_sklearn(rng):
    x = rng.normal(1, 4, (10, 11)).astype(np.float32)
    sk = MaxAbsScaler().fit_transform(column(x)).reshape(x.shape)
    assert_allclose(maxabs(x), sk, **TOL)
    assert np.abs(maxabs(x)).max() == 1.0


@pytest.mark.parametrize("dist", ["uniform", "lognormal", "integers"])
def test_robust_against_np_percentile(rng, dist):
    if dist == "uniform":
        x = rng.random((60, 70))
    elif dist == "lognormal":
        x = rng.lognormal(-3, 1.5, (60, 70))
    else:
        x = rng.integers(0, 1000, (60, 70)).astype(float)
    x = x.astype(np.float32)
    lo, hi = np.percentile(x.astype(float), [2, 97])
    expected = np.clip((x - lo) / (hi - lo), 0, 1)
    out = robust(x, lower=2, upper=97)
    assert out.min() == 0 and out.max() == 1
    # The percentiles are within 0.1 %; the scaled values move by at most that much of
    # their distance from the window's ends.
    assert_allclose(out, expected, atol=PERCENTILE_RTOL * hi / (hi - lo) * 2)
    if dist == "integers":
        assert_allclose(out, expected, **TOL)  # equal values share a bin: exact


def test_robust_ignores_a_bright_speck():
    drawing = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (10, 1))
    speck = drawing.copy()
    speck[5, 5] = 1000.0
    # The speck moves the 99th percentile by one rank (one step of the linspace, 1/199).
    assert_allclose(robust(speck)[speck < 1000], robust(drawing)[speck < 1000], atol=0.0052)
    assert minmax(speck).max() == 1.0 and minmax(speck)[speck < 1000].max() < 0.002


def test_robust_empty_window_is_a_step():
    page = np.zeros((50, 50), np.float32)
    page[10, 10:15] = [0.1, 0.2, 0.3, 0.4, 0.5]   # 0.2 % ink: P1 = P99 = 0
    out = robust(page)
    assert_array_equal(out, (page > 0).astype(np.float32))


def test_log_formula_with_negatives(rng):
    x = rng.normal(0, 20, (20, 20)).astype(np.float32)
    y = np.sign(x.astype(float)) * np.log1p(np.abs(x.astype(float)) / 0.5)
    assert_allclose(log(x, scale=0.5), (y - y.min()) / (y.max() - y.min()), **TOL)
    xs = np.sort(x.ravel())
    assert np.all(np.diff(log(xs)) >= 0)


def test_gamma_formula(rng):
    x = rng.random((20, 30)).astype(np.float32) * 7 - 2
    t = (x.astype(float) - x.min()) / (x.max() - x.min())
    assert_allclose(gamma(x, gamma=2.2), t ** 2.2, **TOL)
    assert_allclose(normalize(x, "gamma"), np.sqrt(t), **TOL)   # default gamma 0.5
    assert_allclose(normalize(x, "gamma", gamma=0.4, out_range=(10, 20)), 10 + 10 * t ** 0.4,
                    rtol=1e-5)


def test_equalize_is_the_average_rank(rng):
    x = rng.integers(0, 40, (30, 30)).astype(np.float32)   # many ties
    ranks = rankdata(x.ravel(), method="average").reshape(x.shape)
    expected = (ranks - ranks.min()) / (ranks.max() - ranks.min())
    assert_allclose(equalize(x), expected, **TOL)
    distinct = rng.permutation(500).astype(np.float32) ** 2
    assert_allclose(equalize(distinct), distinct.argsort().argsort() / 499, **TOL)


def test_equalize_spreads_a_skewed_histogram(rng):
    x = rng.exponential(0.01, 10_000).astype(np.float32)
    hist = np.histogram(equalize(x), bins=10, range=(0, 1))[0]
    assert_allclose(hist, 1000, atol=2)


# --- dtype, mask, degenerate input, non-finite values -------------------------------------


@pytest.mark.parametrize("method", list(NORMALIZE_METHODS))
def test_dtypes(method, rng):
    x = rng.random((6, 7))
    assert normalize(x, method).dtype == np.float64
    assert normalize(x.astype(np.float32), method).dtype == np.float32
    ints = (x * 255).astype(np.uint8)
    assert_allclose(normalize(ints, method), normalize(ints.astype(np.float32), method))


def peak_bytes(*call):
    tracemalloc.start()
    normalize(*call)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_no_full_size_float64_temporaries(rng):
    # Large enough that the fixed-size parts (the 2**20-bin histogram) cancel out.
    small = rng.random(3_000_000, dtype=np.float32)
    large = rng.random(9_000_000, dtype=np.float32)
    for method in NORMALIZE_METHODS:
        normalize(small[:1000], method)          # warm any caches first
        growth = (peak_bytes(large, method) - peak_bytes(small, method)) / (large.size
                                                                            - small.size)
        # Per element: the float32 result (4 bytes); a float64 copy would add 8.
        assert growth < 6, (method, growth)


def test_mask_takes_statistics_from_the_masked_values(rng):
    x = rng.random((20, 20)).astype(np.float32)
    mask = x > 0.3
    ink = x[mask].astype(float)
    assert_allclose(minmax(x, mask=mask), (x - ink.min()) / (ink.max() - ink.min()), **TOL)
    assert minmax(x, mask=mask).min() < 0        # the paper lies below the ink's range
    assert_allclose(zscore(x, mask=mask), (x - ink.mean()) / ink.std(), **TOL)
    assert_allclose(l2(x, mask=mask), x / np.sqrt(np.sum(ink ** 2)), **TOL)
    with pytest.raises(ParameterError, match=r"mask of shape \(3,\) does not match x"):
        minmax(x, mask=np.ones(3, bool))


@pytest.mark.parametrize("method", list(NORMALIZE_METHODS))
def test_degenerate_input_gives_zeros(method):
    for constant in (np.full((4, 5), 0.7, np.float32), np.zeros((4, 5), np.float32),
                     np.full((1, 1), -3.0, np.float32), np.full((1, 8), 2e9)):
        out = normalize(constant, method)
        expected = np.zeros_like(constant)
        if method in ("l2", "maxabs") and constant.flat[0] != 0:
            expected = constant / np.abs(constant).max() / (
                np.sqrt(constant.size) if method == "l2" else 1)
        assert_allclose(out, expected, rtol=1e-6, err_msg=f"{method} {constant.flat[0]}")
    near = np.float32(1000) + np.float32(1e-4) * np.arange(8, dtype=np.float32)
    assert (near.max() - near.min()) <= RTOL * 1000  # spread below the tolerance
    if method not in ("l2", "maxabs"):
        assert_array_equal(normalize(near, method), 0)


@pytest.mark.parametrize("method", RANGED)
def test_degenerate_with_out_range_gives_its_low_end(method):
    assert_array_equal(normalize(np.ones(5), method, out_range=(-1, 1)), -1)


@pytest.mark.parametrize("method", list(NORMALIZE_METHODS))
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (0, 3), ()])
def test_small_shapes(method, shape, rng):
    x = rng.random(shape).astype(np.float32)
    out = normalize(x, method)
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()


def test_one_by_n_row_keeps_values():
    row = np.array([[1.0, 3.0, 2.0]], np.float32)
    assert_allclose(minmax(row), [[0, 1, 0.5]])
    assert_allclose(equalize(row), [[0, 1, 0.5]])


@pytest.mark.parametrize("method", list(NORMALIZE_METHODS))
def test_non_finite_values_are_counted(method):
    x = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(ParameterError, match="x has 3 non-finite values"):
        normalize(x, method)
    mask = np.isfinite(x)
    out = normalize(x, method, mask=mask)
    assert np.isfinite(out).all()
    assert_array_equal(out[~mask], 0)
    assert_allclose(out[mask], normalize(x[mask], method) if method != "l2" else
                    x[mask] / np.sqrt(np.sum(x[mask].astype(float) ** 2)), **TOL)
    mask[0, 0] = True
    with pytest.raises(ParameterError, match="1 non-finite values .*inside the mask"):
        normalize(x, method, mask=mask)


def test_non_finite_excluded_by_mask_take_the_low_end():
    x = np.array([np.nan, 1.0, 2.0, 3.0])
    out = normalize(x, "minmax", mask=np.isfinite(x), out_range=(-1, 1))
    assert out.tolist() == [-1.0, -1.0, 0.0, 1.0]


# --- parameters ---------------------------------------------------------------------------


def test_unknown_or_bad_parameters_name_themselves():
    x = np.arange(5.0)
    with pytest.raises(ParameterError, match="method='median' is not known; .*'equalize'"):
        normalize(x, "median")
    with pytest.raises(ParameterError, match="method 'zscore' takes no parameter 'out_range'"):
        normalize(x, "zscore", out_range=(0, 1))
    with pytest.raises(ParameterError, match="method 'robust' takes no parameter 'lowr'; its "
                                             "parameters are: lower, upper, out_range"):
        normalize(x, "robust", lowr=5)
    with pytest.raises(ParameterError, match="method 'minmax' takes no parameter 'axis'"):
        normalize(x, "minmax", axis=0)
    with pytest.raises(ParameterError, match="gamma=-1 must be a finite number > 0"):
        normalize(x, "gamma", gamma=-1)
    with pytest.raises(ParameterError, match="scale=0 must be"):
        normalize(x, "log", scale=0)
    with pytest.raises(ParameterError, match="lower=60.0 must be below upper=40.0"):
        normalize(x, "robust", lower=60, upper=40)
    with pytest.raises(ParameterError, match="upper=101 must be a percentage"):
        normalize(x, "robust", upper=101)
    with pytest.raises(ParameterError, match=r"out_range=\(1, 1\) must be two different"):
        normalize(x, out_range=(1, 1))
    with pytest.raises(ParameterError, match="out_range=3 must be two numbers"):
        normalize(x, out_range=3)
    with pytest.raises(ParameterError, match="axis=2 is out of range for an array of 1"):
        normalize(x, "l2", axis=2)
    with pytest.raises(ParameterError, match="axis=0.5 must be an integer"):
        normalize(x, "l2", axis=0.5)
    with pytest.raises(ParameterError, match="x of dtype <U1 is not numeric"):
        normalize(np.array(["a"]))
    assert issubclass(ParameterError, ValueError)


# --- to_unit ------------------------------------------------------------------------------


def test_to_unit_rules(rng):
    x = rng.normal(size=(10, 10)).astype(np.float32)
    z = zscore(x)
    assert_allclose(to_unit(z, "zscore"), np.clip((z + 3) / 6, 0, 1))
    m = maxabs(x)
    assert_allclose(to_unit(m, "maxabs"), np.abs(m))
    v = l2(x)
    assert_allclose(to_unit(v, "l2"), np.abs(v) / np.abs(v).max(), rtol=1e-6)
    r = normalize(x, "minmax", out_range=(-1, 1))
    assert_allclose(to_unit(r, "minmax", out_range=(-1, 1)), minmax(x), **TOL)
    inverted = normalize(x, "minmax", out_range=(1, 0))
    assert_allclose(to_unit(inverted, "minmax", out_range=(1, 0)), 1 - minmax(x), **TOL)
    outside = np.array([-0.5, 0.5, 1.5], np.float32)
    assert to_unit(outside, "robust").tolist() == [0.0, 0.5, 1.0]
    assert to_unit(np.zeros(3), "l2").tolist() == [0, 0, 0]


def test_to_unit_copies_unless_told_not_to():
    x = np.array([-1.0, 2.0], np.float32)
    y = to_unit(x, "minmax")
    assert x.tolist() == [-1.0, 2.0] and y.tolist() == [0.0, 1.0]
    z = to_unit(x, "minmax", copy=False)
    assert z is x and x.tolist() == [0.0, 1.0]


def test_to_unit_rejects_non_finite():
    with pytest.raises(ParameterError, match="x has 1 non-finite values"):
        to_unit(np.array([0.5, np.nan]), "minmax")


# --- properties ---------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)
samples = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 8)), elements=finite)
ORDERED = ("minmax", "zscore", "robust", "log", "gamma", "equalize")


def assert_order_preserved(x, out):
    order = np.argsort(x.ravel(), kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)


@settings(max_examples=60, deadline=None)
@given(x=samples, method=st.sampled_from(list(NORMALIZE_METHODS)))
def test_property_finite_in_range_and_ordered(x, method):
    out = normalize(x, method)
    assert out.shape == x.shape and out.dtype == np.float32 and np.isfinite(out).all()
    if method in RANGED:
        assert out.min() >= 0 and out.max() <= 1
    if method == "maxabs":
        assert np.abs(out).max() <= 1
    if method in ORDERED:
        assert_order_preserved(x, out)
    if method in ("l2", "maxabs"):  # positive scaling keeps order and sign
        assert_order_preserved(x, out)
        assert np.all(out * x >= 0)  # (a tiny value may underflow to 0)
    unit = to_unit(out, method)
    assert unit.min() >= 0 and unit.max() <= 1


@settings(max_examples=40, deadline=None)
@given(x=samples, method=st.sampled_from(["minmax", "zscore", "l2", "maxabs", "equalize"]))
def test_property_idempotent(x, method):
    once = normalize(x, method)
    assert_allclose(normalize(once, method), once, atol=2e-5)


@settings(max_examples=40, deadline=None)
@given(x=samples, low=st.floats(-10, 10), width=st.floats(0.5, 10))
def test_property_out_range_is_respected(x, low, width):
    out = normalize(x, "minmax", out_range=(low, low + width))
    assert out.min() >= np.float32(low) and out.max() <= np.float32(low + width)


# --- the ends of the float line -------------------------------------------------------------

F32_MAX = float(np.finfo(np.float32).max)


@pytest.mark.parametrize("method", list(NORMALIZE_METHODS))
@pytest.mark.parametrize("x", [
    np.array([-F32_MAX, 0.0, F32_MAX], np.float32),           # the whole float32 line
    np.array([F32_MAX, F32_MAX, -F32_MAX, 1.0], np.float32),  # x - mean overflows float32
    np.array([0.0, 1e-45, 3e-45], np.float32),                # a spread of subnormals
    np.array([1e308, -1.7e308, 0.0]),                          # near float64's limit
    np.array([0.0, 5e-324, 1e-323]),
], ids=["f32-line", "f32-mean", "f32-subnormal", "f64-line", "f64-subnormal"])
def test_extreme_values_stay_finite_and_ordered(method, x):
    out = normalize(x, method)
    assert np.isfinite(out).all() and out.dtype == x.dtype
    if method != "l2":   # l2 may underflow small entries to 0, but keeps their order
        assert np.all(np.diff(out[np.argsort(x, kind="stable")]) >= 0)
    assert np.isfinite(to_unit(out, method)).all()
    if method == "minmax" or (method == "equalize" and np.abs(x).max() > 1e-30):
        # (the histogram counts subnormal numbers as zero)
        assert out[np.argmin(x)] == 0 and out[np.argmax(x)] == 1
    if method == "zscore":
        wide = x.astype(float) / np.abs(x).max()      # the formula, computed in range
        assert_allclose(out, (wide - wide.mean()) / wide.std(), rtol=1e-4, atol=1e-6)


def test_l2_unit_vectors_at_any_magnitude():
    vectors = np.array([[1e-30, 0], [3e30, 4e30], [0, 0], [F32_MAX, F32_MAX], [-3e-40, 4e-40]],
                       np.float32)
    out = normalize(vectors, "l2", axis=-1)
    expected = [[1, 0], [0.6, 0.8], [0, 0], [np.sqrt(0.5), np.sqrt(0.5)], [-0.6, 0.8]]
    assert_allclose(out, expected, rtol=2e-3)   # (the last pair is subnormal: 3 digits)
