"""Normalizer: fitted statistics that merge exactly across parts, files and processes."""

import json
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sketchgrad.errors import ParameterError
from sketchgrad.normalize import NORMALIZE_METHODS, Normalizer, l2, normalize

#: Statistics merged from parts equal the whole array's to this relative tolerance.
MERGE_RTOL = 1e-6

CASES = [(method, {}) for method in NORMALIZE_METHODS] + [
    ("minmax", {"out_range": (-1, 1)}),
    ("robust", {"lower": 5, "upper": 90}),
    ("robust", {"out_range": (2, 3)}),
    ("log", {"scale": 0.01}),
    ("gamma", {"gamma": 2.0}),
    ("equalize", {"out_range": (1, 0)}),
]


def ids(case):
    method, params = case
    return method + "".join(f"-{k}={v}" for k, v in params.items())


@pytest.fixture
def magnitude(rng):
    """A gradient-magnitude-like array: mostly faint, some strong, a few exact zeros."""
    x = rng.lognormal(-4, 1.2, (48, 64)).astype(np.float32)
    x[:3] = 0
    return x


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_fit_transform_equals_normalize(magnitude, case):
    method, params = case
    fitted = Normalizer(method, **params).fit(magnitude)
    assert_array_equal(fitted.transform(magnitude), normalize(magnitude, method, **params))
    mask = magnitude > 0.01
    masked = Normalizer(method, **params).fit(magnitude, masks=[mask])
    assert_array_equal(masked.transform(magnitude),
                       normalize(magnitude, method, mask=mask, **params))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_merged_parts_equal_the_whole(magnitude, case, rng):
    method, params = case
    whole = Normalizer(method, **params).fit(magnitude)
    flat = magnitude.ravel()
    cuts = np.sort(rng.choice(flat.size, 4, replace=False))
    parts = [Normalizer(method, **params).partial_fit(p) for p in np.split(flat, cuts)]
    merged = Normalizer(method, **params)
    for part in parts:
        merged.merge(part)
    assert merged.count == whole.count == flat.size
    for key, value in whole.statistics.items():
        assert_allclose(merged.statistics[key], value, rtol=MERGE_RTOL, err_msg=key)
    assert_allclose(merged.transform(magnitude), whole.transform(magnitude), rtol=MERGE_RTOL,
                    atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=6),
       method=st.sampled_from(["minmax", "zscore", "l2", "robust", "equalize"]),
       seed=st.integers(0, 2**32 - 1))
def test_property_any_split_merges_to_the_whole(sizes, method, seed):
    rng = np.random.default_rng(seed)
    offset = rng.uniform(-1e3, 1e3)
    parts = [(offset + rng.normal(0, 10, n)).astype(np.float32) for n in sizes]
    whole = np.concatenate(parts)
    if whole.size == 0:
        return
    merged = Normalizer(method)
    for p in parts:
        merged.merge(Normalizer(method).partial_fit(p))
    reference = Normalizer(method).fit(whole)
    for key, value in reference.statistics.items():
        assert_allclose(merged.statistics[key], value, rtol=MERGE_RTOL, atol=1e-9, err_msg=key)


def test_statistics_against_numpy(magnitude):
    x = magnitude.astype(np.float64)
    z = Normalizer("zscore").fit(magnitude).statistics
    assert z["count"] == x.size
    assert_allclose([z["min"], z["max"], z["mean"], z["std"]],
                    [x.min(), x.max(), x.mean(), x.std()], rtol=1e-12)
    assert_allclose(Normalizer("l2").fit(magnitude).statistics["norm"], np.sqrt(np.sum(x * x)),
                    rtol=1e-12)
    r = Normalizer("robust", lower=10, upper=95).fit(magnitude).statistics
    assert_allclose([r["lower_value"], r["upper_value"]], np.percentile(x, [10, 95]),
                    rtol=1e-3)


def test_chan_merge_is_accurate_far_from_zero(rng):
    # A large offset and a small spread defeat the naive sum-of-squares formula.
    parts = [(1e6 + rng.normal(0, 1e-2, n)) for n in (1000, 1, 5000, 17)]
    merged = Normalizer("zscore")
    for p in parts:
        merged.merge(Normalizer("zscore").partial_fit(p))
    whole = np.concatenate(parts)
    assert_allclose(merged.statistics["std"], whole.std(), rtol=1e-9)
    assert_allclose(merged.statistics["mean"], whole.mean(), rtol=1e-15)


def test_one_scale_for_a_sketchbook(rng):
    faint = rng.random((8, 8)).astype(np.float32) * 0.1
    strong = rng.random((8, 8)).astype(np.float32)
    book = Normalizer("minmax").fit(faint, strong)
    lo, hi = min(faint.min(), strong.min()), max(faint.max(), strong.max())
    assert_allclose(book.transform(faint), (faint - lo) / (hi - lo), rtol=1e-6, atol=1e-7)
    assert book.transform(faint).max() < 0.11      # a faint page stays faint
    assert normalize(faint).max() == 1.0           # normalized alone it would not


def test_fit_forgets_and_partial_fit_accumulates(rng):
    a, b = rng.random(10), rng.random(10) + 5
    n = Normalizer("minmax").partial_fit(a).partial_fit(b)
    assert n.count == 20 and n.statistics["max"] == b.max()
    n.fit(a)
    assert n.count == 10 and n.statistics["max"] == a.max()


def test_json_and_pickle_round_trips(magnitude):
    for method, params in CASES:
        fitted = Normalizer(method, **params).fit(magnitude)
        text = json.dumps(fitted.to_dict())
        again = Normalizer.from_dict(json.loads(text))
        assert again.method == method and again.statistics == fitted.statistics
        assert_array_equal(again.transform(magnitude), fitted.transform(magnitude))
        unpickled = pickle.loads(pickle.dumps(fitted))
        assert_array_equal(unpickled.transform(magnitude), fitted.transform(magnitude))
    # the histogram is stored sparse: a few kB, not the 16 MB of its dense bins
    assert len(pickle.dumps(Normalizer("robust").fit(magnitude))) < 100_000


def _fit_in_worker(args):
    method, part = args
    return Normalizer(method).partial_fit(part)


def test_fit_in_worker_processes_merge_in_parent(magnitude):
    parts = np.array_split(magnitude, 3)
    with ProcessPoolExecutor(2) as pool:
        fitted = list(pool.map(_fit_in_worker, [("robust", p) for p in parts]))
    merged = Normalizer("robust")
    for part in fitted:
        merged.merge(part)
    whole = Normalizer("robust").fit(magnitude)
    assert merged.statistics == pytest.approx(whole.statistics, rel=MERGE_RTOL)
    assert_array_equal(merged.transform(magnitude), whole.transform(magnitude))


def test_dask_can_ship_a_fitted_normalizer(magnitude):
    from distributed.protocol import deserialize, serialize

    fitted = Normalizer("equalize").fit(magnitude)
    header, frames = serialize(fitted)
    shipped = deserialize(header, frames)
    assert_array_equal(shipped.transform(magnitude), fitted.transform(magnitude))


def test_l2_per_vector_needs_no_statistics(rng):
    vectors = rng.normal(size=(5, 6, 2)).astype(np.float32)
    fitted = Normalizer("l2", axis=-1).fit(rng.normal(size=(3, 2)))
    assert_array_equal(fitted.transform(vectors), l2(vectors, axis=-1))


def test_transform_allows_non_finite_only_where_masked():
    fitted = Normalizer("minmax").fit(np.array([0.0, 4.0]))
    x = np.array([1.0, np.nan, 8.0])
    with pytest.raises(ParameterError, match="array has 1 non-finite values"):
        fitted.transform(x)
    out = fitted.transform(x, mask=np.isfinite(x))
    assert out.tolist() == [0.25, 0.0, 2.0]        # outside the fitted range: beyond 1


def test_errors():
    with pytest.raises(ParameterError, match="method='mean' is not known"):
        Normalizer("mean")
    with pytest.raises(ParameterError, match="method 'maxabs' takes no parameter 'out_range'"):
        Normalizer("maxabs", out_range=(0, 1))
    with pytest.raises(ParameterError, match="no statistics yet; call fit"):
        Normalizer("minmax").transform(np.ones(3))
    with pytest.raises(ParameterError, match="the method and parameters must match"):
        Normalizer("minmax").merge(Normalizer("zscore"))
    with pytest.raises(ParameterError, match="the method and parameters must match"):
        Normalizer("robust").merge(Normalizer("robust", upper=95))
    with pytest.raises(ParameterError, match="array has 2 non-finite values"):
        Normalizer("zscore").partial_fit(np.array([np.nan, 1.0, np.inf]))
    with pytest.raises(ParameterError, match="got 1 masks for 2 arrays"):
        Normalizer().fit(np.ones(2), np.ones(2), masks=[None])
    with pytest.raises(ParameterError, match="from_dict: not a Normalizer description"):
        Normalizer.from_dict({"method": "minmax"})


def test_fitted_on_nothing_gives_zeros():
    empty = Normalizer("zscore").fit(np.zeros((0, 3)))
    assert_array_equal(empty.transform(np.arange(3.0)), 0)


def test_float32_histograms_count_as_the_general_path(rng):
    # Non-negative float32 arrays (magnitudes) are counted by a shorter path; the same
    # values given as float64 take the general one. Both must give the same statistics,
    # bit for bit, across zeros of both signs, subnormal numbers, thirty octaves and more
    # values than one histogram update takes, and percentiles within a bin of NumPy's.
    x = (rng.lognormal(-6, 3.0, 2_300_000)).astype(np.float32)
    x[::7] = 0.0
    x[3::7] = -0.0
    x[5::11] = np.float32(3e-39)      # subnormal
    parts = [x[:1000], x[1000:], x[x > 1e-30][:70_000],   # with zeros; without
             np.array([0.0, -0.0, 1e-40], np.float32)]      # nothing but zeros, subnormals
    for method in ("equalize", "exposure"):
        fast, general = Normalizer(method), Normalizer(method)
        for part in parts:
            fast.partial_fit(part)
            general.partial_fit(part.astype(np.float64))
        assert fast.to_dict() == general.to_dict()   # counts and per-bin sums included
    wide = np.concatenate(parts).astype(np.float64)
    robust = Normalizer("robust", lower=20, upper=99).fit(*parts).statistics
    # (the 20th percentile is a zero, whose bin holds the subnormal numbers too: its mean
    # is a little above 0)
    assert_allclose([robust["lower_value"], robust["upper_value"]],
                    np.percentile(wide, [20, 99]), rtol=2 ** -11, atol=1e-37)


def test_float32_histograms_of_a_page_blank_over_a_whole_update(rng):
    # A scan's top rows of clean paper: more zero magnitudes in a row than one histogram
    # update takes, then strokes. Each update of the shorter path counts from its own
    # smallest normal value; the general path (float64) is the reference.
    from sketchgrad.normalize import normalize

    page = np.zeros((1800, 1600), np.float32)  # 2.88 M values, the first 2.1 M all zero
    page[1400:] = rng.lognormal(-4, 1.5, (400, 1600)).astype(np.float32)
    page[1500:1510] = 1e-40  # subnormal values among them
    for method in ("equalize", "exposure"):
        fast = Normalizer(method).partial_fit(page)
        general = Normalizer(method).partial_fit(page.astype(np.float64))
        assert fast.to_dict() == general.to_dict()
    assert_allclose(normalize(page, "exposure"), normalize(page.astype(np.float64), "exposure"),
                    rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_measured_in_threads_and_added_in_order_equals_partial_fit(magnitude, case, rng):
    # The tiled pipeline measures each tile's statistics in its worker thread and adds
    # them in tile order: the same numbers, bit for bit, as partial_fit tile by tile.
    from concurrent.futures import ThreadPoolExecutor

    method, params = case
    flat = magnitude.ravel()
    tiles = np.split(flat, np.sort(rng.choice(flat.size, 5, replace=False)))
    sequential = Normalizer(method, **params)
    for tile in tiles:
        sequential.partial_fit(tile)
    threaded = Normalizer(method, **params)
    with ThreadPoolExecutor(3) as pool:
        measured = list(pool.map(threaded.measure, tiles))
    assert threaded.count == 0  # measuring changed nothing
    for part in measured:
        assert threaded.add(part) is threaded
    assert threaded.to_dict() == sequential.to_dict()
    assert_array_equal(threaded.transform(magnitude), sequential.transform(magnitude))
    assert sum(part.count for part in measured) == flat.size


def test_measuring_leaves_the_normalizer_unfitted(magnitude):
    book = Normalizer("exposure")
    measured = book.measure(magnitude)
    assert measured.count == magnitude.size
    with pytest.raises(ParameterError, match="no statistics yet"):
        book.transform(magnitude)
    # the percentiles added from a measurement are NumPy's, within a histogram bin
    stats = book.add(measured).statistics
    assert_allclose([stats["lower_value"], stats["upper_value"]],
                    np.percentile(magnitude.astype(np.float64), [50, 97.5]), rtol=2 ** -11)


def test_a_large_measurement_is_gathered_into_one_run(rng, monkeypatch):
    # Above one histogram update the runs of each update are gathered into one (so a
    # measurement of a huge array holds one histogram's worth, not one per update): the
    # statistics stay those of partial_fit, on the shorter float32 path and the general
    # path, across zeros of both signs and subnormal numbers.
    import importlib

    module = importlib.import_module("sketchgrad.normalize")
    monkeypatch.setattr(module, "_HIST_CHUNK", 1000)
    x = rng.lognormal(-5, 2.0, 7_321).astype(np.float32)
    x[:1500] = 0.0                      # a whole update of zeros
    x[2000::13] = -0.0
    x[2001::17] = np.float32(2e-39)     # subnormal
    for values in (x, x.astype(np.float64), x - np.float32(0.01)):   # the last: negatives
        for method in ("exposure", "equalize", "robust", "zscore", "minmax"):
            measured = Normalizer(method).measure(values)
            assert len(measured.segments) <= 1
            added = Normalizer(method).add(measured)
            assert added.to_dict() == Normalizer(method).partial_fit(values).to_dict()


def test_add_refuses_what_another_normalizer_measured(magnitude):
    measured = Normalizer("robust", upper=90).measure(magnitude)
    with pytest.raises(ParameterError, match=r"add: statistics measured for "
                       r"Normalizer\('robust'\) with other parameters cannot be added"):
        Normalizer("robust").add(measured)
    with pytest.raises(ParameterError, match="add: statistics measured for "
                       r"Normalizer\('robust'\)"):
        Normalizer("exposure").add(measured)
    with pytest.raises(ParameterError, match="add: ndarray is not a Measurement; give what "
                       "Normalizer.measure returned"):
        Normalizer("robust").add(magnitude)
    with pytest.raises(ParameterError, match="non-finite"):
        Normalizer("robust").measure(np.array([1.0, np.nan]))
