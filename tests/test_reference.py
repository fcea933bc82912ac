"""``sketchgrad run``'s pixels pinned: today's outputs against references made by older code.

``tests/reference/inputs/`` holds a 256 x 256 window of each sample drawing (the
16-bit TIFF, grey PNGs, RGBA PNG and the two JPEGs, decoded; see
``scripts/make_reference.py``); ``tests/reference/`` holds what ``sketchgrad run`` wrote
for each with the default settings (magnitude, hsv, sketch) and ``figures.json`` the
figures its provenance recorded. The references were made at commit 2ab68bb, before the
second round of speed-ups (issue 16): a speed-up, refactor or new kernel that changes
what the command writes by more than floating-point rounding fails here. They were made
again at fce102b, whose BT.601 luma of a colour file read as grey is taken pixel by
pixel: the 16-bit magnitudes of the two colour files run grey moved by one level on
0.54 % (photo_portrait_exif6) and 0.04 % (ink_bird_rgba) of their samples, and no other
output changed a byte (the recorded noise figures moved by at most 4e-5 of their value,
as they had since 2ab68bb: medians of float32 coefficients). Each window is
run as the command runs it (one tile) and again streamed in 64-pixel tiles, so the seams
and halos of a large scan are pinned too.

The tolerances allow what differs between CPUs and library versions and nothing a real
change makes: OpenCV and NumPy round the last bit of float32 differently between CPUs
(vector widths, fused multiply-add), which moves a rounded 16-bit magnitude by one level
on a few pixels (seen: 12 of 786,432), and OpenCV 4.8 computes angles slightly
differently from 5.0, which moves the hsv hue by a level at a few pixels (measured in
the lowest-version environment: one level on at most 0.11 % of the magnitude's samples
and 0.005 % of the sketch's). A real change moves far more: the Gaussian strength or the
exposure level 5 % higher moves magnitudes by thousands of 16-bit levels, and the exposure
level 0.1 % higher moves them by up to 66 levels on 14-32 % of the samples.

Regenerating the references
---------------------------
Only deliberately, when an output is meant to change (a new default, a fixed bug), from
the code whose outputs are right, with the reason and the outputs that change in the
commit message::

    PYTHONPATH=. python scripts/make_reference.py

Never regenerate (nor widen a tolerance) to make this test pass after a change that was
meant to keep the pixels: there the failure is the finding.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sketchgrad.denoise import DENOISE_METHODS
from sketchgrad.pipeline import DEFAULT_OUTPUTS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference"
FIGURES = json.loads((REFERENCE / "figures.json").read_text())


def _script():
    """``scripts/make_reference.py``: the run and the figures are defined once, there."""
    spec = importlib.util.spec_from_file_location(
        "make_reference", ROOT / "scripts" / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _script()
SAMPLES = [Path(name).stem for name in MAKE.CROPS]

#: 8-bit outputs (hsv, sketch): no sample may differ by more than this many levels ...
MAX_LEVELS_8 = 2
#: ... and at most this share of the samples may differ at all (0.5 %).
MAX_SHARE_8 = 0.005
#: 16-bit magnitude, compared as value / 65535: no sample further apart than 4 levels ...
MAX_ABS_16 = 4 / 65535
#: ... and at most this share of the samples differing at all (0.5 %).
MAX_SHARE_16 = 0.005
#: The run's figures: relative tolerance of strength_used; degrees of a dominant stroke
#: angle (on the circle of 180); shares and coherence (absolute).
STRENGTH_RTOL = 1e-4
ANGLE_DEGREES = 0.5
SHARE_ATOL = 0.01
#: The noise estimate, relative (a median of float32 wavelet coefficients: the
#: lowest-version environment, NumPy 1.26 and Pillow 10, moves it by 3e-5 at most; a
#: changed estimator, e.g. on a subsample, by far more).
NOISE_RTOL = 1e-3


#: How the windows are streamed: as the command does (one 512-pixel tile holds a whole
#: window), and in 64-pixel tiles (16 per window: the seams, halos and merged statistics a
#: large scan goes through; at 2ab68bb both give the same bytes).
TILINGS = {"default": None, "tiles64": 64}


@pytest.fixture(scope="module", params=list(TILINGS))
def runs(request, tmp_path_factory):
    """Each committed input run once as the command runs it: sample -> kind -> path."""
    out = tmp_path_factory.mktemp(request.param)
    return {stem: MAKE.run_like_command(REFERENCE / "inputs" / f"{stem}.png", out / stem,
                                        tile_size=TILINGS[request.param])
            for stem in SAMPLES}


def read(path: Path) -> np.ndarray:
    """A PNG's samples as integers (Pillow 10 reads 16-bit grey as int32, 13 as uint16)."""
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


def difference(actual: np.ndarray, expected: np.ndarray) -> tuple[int, float]:
    """Largest difference in levels, and the share of samples that differ at all."""
    gap = np.abs(actual.astype(np.int64) - expected.astype(np.int64))  # no wrap-around
    return int(gap.max(initial=0)), float(np.count_nonzero(gap) / gap.size)


def pixel_problems(actual: np.ndarray, expected: np.ndarray, bits: int) -> list[str]:
    """What is out of tolerance, in words (empty when within it)."""
    if actual.shape != expected.shape:
        return [f"shape {actual.shape}, reference {expected.shape}"]
    most, share = difference(actual, expected)
    if bits == 16:
        limit_levels, limit_share = MAX_ABS_16 * 65535, MAX_SHARE_16
    else:
        limit_levels, limit_share = MAX_LEVELS_8, MAX_SHARE_8
    problems = []
    if most > round(limit_levels):
        problems.append(f"a sample differs by {most} levels (at most {round(limit_levels)})")
    if share > limit_share:
        problems.append(f"{share:.3%} of samples differ (at most {limit_share:.1%}), "
                        f"largest {most} levels")
    return problems


def figure_problems(actual: dict, expected: dict) -> list[str]:
    problems = []
    if actual["channels_used"] != expected["channels_used"]:
        problems.append(f"channels_used {actual['channels_used']!r}, "
                        f"reference {expected['channels_used']!r}")
    strength, ref_strength = actual["strength_used"], expected["strength_used"]
    if not np.isclose(strength, ref_strength, rtol=STRENGTH_RTOL, atol=0):
        problems.append(f"strength_used {strength}, reference {ref_strength}")
    strokes, ref_strokes = actual["strokes"], expected["strokes"]
    for key in ("operator", "sigma"):  # settings, recorded: equal
        if strokes[key] != ref_strokes[key]:
            problems.append(f"strokes {key} {strokes[key]!r}, reference {ref_strokes[key]!r}")
    if abs(strokes["overall_coherence"] - ref_strokes["overall_coherence"]) > SHARE_ATOL:
        problems.append(f"overall_coherence {strokes['overall_coherence']}, "
                        f"reference {ref_strokes['overall_coherence']}")
    dominant, ref_dominant = strokes["dominant"], ref_strokes["dominant"]
    if len(dominant) != len(ref_dominant):
        problems.append(f"dominant directions {dominant}, reference {ref_dominant}")
    else:
        for one, ref in zip(dominant, ref_dominant, strict=True):
            turn = abs(one["angle"] - ref["angle"]) % 180.0  # 179.9 and 0.1 are 0.2 apart
            if min(turn, 180.0 - turn) > ANGLE_DEGREES or \
                    abs(one["share"] - ref["share"]) > SHARE_ATOL:
                problems.append(f"dominant {one}, reference {ref}")
    return problems


@pytest.mark.parametrize("kind", MAKE.KINDS)
@pytest.mark.parametrize("stem", SAMPLES)
def test_output_pixels_match_reference(runs, stem, kind):
    # what the file is, from its header: exactly the reference's size, bit depth, colour
    written = MAKE.png_format(runs[stem][kind])
    assert written == MAKE.png_format(REFERENCE / f"{stem}.{kind}.png")
    assert written == FIGURES[stem]["outputs"][kind]
    bits = 16 if kind == "magnitude" else 8
    assert written["bit_depth"] == bits
    problems = pixel_problems(read(runs[stem][kind]), read(REFERENCE / f"{stem}.{kind}.png"),
                              bits)
    assert not problems, f"{stem}.{kind}: " + "; ".join(problems)


@pytest.mark.parametrize("stem", SAMPLES)
def test_run_figures_match_reference(runs, stem):
    # the default run writes every default output, each recording the same figures
    assert set(runs[stem]) == set(DEFAULT_OUTPUTS)
    actual = MAKE.figures_of(runs[stem])
    assert actual["outputs"] == FIGURES[stem]["outputs"]
    problems = figure_problems(actual, FIGURES[stem])
    assert not problems, f"{stem}: " + "; ".join(problems)


@pytest.mark.parametrize("stem", SAMPLES)
def test_noise_estimate_matches_reference(stem):
    # the default strength is at its floor (0.5) on these windows, so their pixels
    # cannot show a changed noise estimate: it is pinned on its own
    noise = MAKE.noise_of(REFERENCE / "inputs" / f"{stem}.png")
    assert noise == pytest.approx(FIGURES[stem]["noise"], rel=NOISE_RTOL)
    assert FIGURES[stem]["strength_used"] == 0.5  # the floor: 10 * noise < 0.5


def test_inputs_are_the_stated_windows():
    # every committed input is SIDE x SIDE in its sample's kind (16-bit stays 16-bit)
    kinds = {"cube_shading_16bit": (16, "grey"), "ink_bird_rgba": (8, "RGBA"),
             "ink_landscape": (8, "grey"), "marker_balloons": (8, "RGB"),
             "pencil_still_life": (8, "grey"), "photo_portrait_exif6": (8, "RGB")}
    assert set(kinds) == set(SAMPLES)
    assert FIGURES["crops"] == {name: {"x": x, "y": y, "side": MAKE.SIDE}
                                for name, (x, y) in MAKE.CROPS.items()}
    for stem, (bits, colour) in kinds.items():
        assert MAKE.png_format(REFERENCE / "inputs" / f"{stem}.png") == {
            "size": [MAKE.SIDE, MAKE.SIDE], "bit_depth": bits, "colour": colour}


def test_tolerance_flags_a_spread_of_one_level():
    # one level on 1 % of the samples is more than rounding: flagged; on 0.1 %, not
    expected = np.full((100, 100), 40000, np.uint16)
    rounding, spread = expected.copy(), expected.copy()
    rounding.flat[::1000] += 1
    spread.flat[::100] += 1
    assert pixel_problems(rounding, expected, 16) == []
    assert pixel_problems(spread, expected, 16) == [
        "1.000% of samples differ (at most 0.5%), largest 1 levels"]
    reference = np.full((100, 100), 200, np.uint8)
    jump = reference.copy()
    jump[5, 5] -= 3
    assert pixel_problems(jump, reference, 8) == ["a sample differs by 3 levels (at most 2)"]


def test_a_five_percent_stronger_blur_fails(monkeypatch, tmp_path):
    # the test can fail on a real change: the automatic Gaussian strength 5 % higher
    entry = DENOISE_METHODS["gaussian"]
    monkeypatch.setitem(DENOISE_METHODS, "gaussian", replace(
        entry, strength_from_noise=lambda noise: 1.05 * entry.strength_from_noise(noise)))
    stem = "ink_landscape"
    outputs = MAKE.run_like_command(REFERENCE / "inputs" / f"{stem}.png", tmp_path)
    assert figure_problems(MAKE.figures_of(outputs), FIGURES[stem]) == [
        "strength_used 0.525, reference 0.5"]
    for kind in MAKE.KINDS:
        bits = 16 if kind == "magnitude" else 8
        assert pixel_problems(read(outputs[kind]), read(REFERENCE / f"{stem}.{kind}.png"),
                              bits), kind
