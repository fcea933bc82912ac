"""The ``flow`` output and the stroke figures through the pipeline, the streaming writer,
the command's ``--json`` record, the PNGs' provenance and the preview's rose panel."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image
from skimage.feature import structure_tensor
from test_cli import provenance, sketchgrad_cmd

from sketchgrad.pipeline import PipelineConfig, process, process_to_files
from sketchgrad.png import save_png
from sketchgrad.strokes import (
    StrokeDirections,
    flow_defaults,
    flow_picture,
    stroke_directions,
)

#: Tiled flow equals whole: float32 rounding of the filters, and a last-bit angle
#: difference that crosses a step of the 0.05-degree hue table (at most 0.002).
FLOW_TOL = 2e-3
ANGLE_TOL = 2.0  # degrees: dominant angles of analytic hatching


def circular_difference(a, b):
    """Smallest difference of two stroke angles (degrees, period 180)."""
    d = (np.asarray(a, np.float64) - np.asarray(b, np.float64)) % 180
    return np.minimum(d, 180 - d)


def hatching(shape, angle, period=6.0):
    """Sinusoidal hatching whose strokes run at ``angle`` degrees as seen on the page.

    Built in page coordinates (X right, Y up from the bottom row): the strokes are
    the lines of constant distance along the page normal (-sin, cos).
    """
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    page_x, page_y = cols, shape[0] - 1 - rows
    a = math.radians(angle)
    distance = -page_x * math.sin(a) + page_y * math.cos(a)
    return (0.5 + 0.5 * np.cos(2 * np.pi * distance / period)).astype(np.float32)


def hatching_scan(shape=(180, 260)):
    """Ink hatching at 30 degrees on the left half and 120 on the right, on paper with grain."""
    rng = np.random.default_rng(19)
    image = hatching(shape, 30.0)
    image[:, shape[1] // 2:] = hatching(shape, 120.0)[:, shape[1] // 2:]
    image = 0.15 + 0.75 * image + rng.normal(0, 0.01, shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def rings(size=160, period=6.0):
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2
    radius = np.hypot(x - c, y - c)
    return (0.5 + 0.5 * np.cos(2 * np.pi * radius / period)).astype(np.float32), radius, x, y


def check_hatching_figures(strokes: dict) -> None:
    """30 and 120 degrees, about half of the ink each, from a summary record."""
    dominant = strokes["dominant"]
    assert len(dominant) == 2
    angles = sorted(entry["angle"] for entry in dominant)
    assert circular_difference(angles[0], 30.0) < ANGLE_TOL
    assert circular_difference(angles[1], 120.0) < ANGLE_TOL
    for entry in dominant:
        assert entry["share"] == pytest.approx(0.5, abs=0.1)
    assert 0 <= strokes["overall_coherence"] < 0.3  # two crossing directions cancel
    assert strokes["sigma"] == 3.0 and strokes["operator"] == "scharr"


# --------------------------------------------------------------------------- process


def test_flow_is_not_a_default_output_and_costs_nothing_unasked():
    config = PipelineConfig()
    assert "flow" not in config.outputs
    res = process(hatching_scan((40, 50)), PipelineConfig(outputs=("hsv",)))
    assert res.flow is None and res.strokes is None


def test_process_flow_is_the_flow_picture_of_the_denoised_scan():
    image = hatching_scan()
    res = process(image, PipelineConfig(outputs=("flow",)))
    assert res.flow.shape == image.shape + (3,) and res.flow.dtype == np.float32
    # Independently composed from the stage functions: strokes of the denoised image,
    # the picture with the whole image's defaults.
    directions = stroke_directions(res.denoised)
    expected = flow_picture(directions, **flow_defaults(image.shape))
    np.testing.assert_allclose(res.flow, expected, atol=FLOW_TOL)
    assert isinstance(res.strokes, StrokeDirections)
    assert res.strokes.summary() == directions.summary()
    check_hatching_figures(res.strokes.summary())


def assert_flow_close(a, b):
    """Tiled and whole flow pictures agree: within FLOW_TOL on all but 0.1 % of samples.

    A last-bit difference of an angle can cross a step of the hue table; with OpenCV 4.8 and
    NumPy 1.26 (the lowest versions) that moved 0.03 % of samples by up to 0.011.
    """
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))
    assert np.mean(diff > FLOW_TOL) < 1e-3, np.mean(diff > FLOW_TOL)
    assert diff.max() <= 0.02, diff.max()


def assert_png_close(written, quantised):
    """A written 8-bit picture: within one level but for 0.1 % of samples.

    Those few are held to what :func:`assert_flow_close` allows the float picture (0.02,
    5 levels, plus one for the rounding): with OpenCV 4.8's remap and NumPy 1.26 (the
    lowest versions) 10 of 1.14 million samples moved by 3-4 levels (0.0139), none with
    OpenCV 5.0 and NumPy 2.4 (at most 1).
    """
    diff = np.abs(written - quantised)
    assert np.mean(diff > 1) < 1e-3 and diff.max() <= 6, (np.mean(diff > 1), diff.max())


@pytest.mark.parametrize("tile", [48, 100])
def test_process_flow_tiled_equals_whole(tile):
    image = hatching_scan()
    image[60:120, 80:200] = np.clip(image[60:120, 80:200] * 0.5 + 0.4, 0, 1)  # uneven ink
    whole = process(image, PipelineConfig(outputs=("flow",), tile_size=0))
    tiled = process(image, PipelineConfig(outputs=("flow",), tile_size=tile))
    assert_flow_close(tiled.flow, whole.flow)
    assert np.mean(np.abs(tiled.flow - whole.flow) > 1e-5) < 1e-3  # almost all bit-equal
    np.testing.assert_allclose(tiled.strokes.energy, whole.strokes.energy, rtol=1e-5,
                               atol=1e-10)
    np.testing.assert_allclose(tiled.strokes.histogram, whole.strokes.histogram, rtol=1e-6,
                               atol=1e-9 * whole.strokes.histogram.sum())
    assert tiled.strokes.summary() == whole.strokes.summary()


def test_flow_at_a_coarse_grain_tiled_equals_whole_and_streams(tmp_path):
    # 1900 px across: a noise grain of 2 px, the texture computed once per 2 x 2 cell
    image = np.tile(hatching_scan((100, 190)), (2, 10))
    assert flow_defaults(image.shape)["grain"] == 2
    whole = process(image, PipelineConfig(outputs=("flow",), tile_size=0))
    tiled = process(image, PipelineConfig(outputs=("flow",), tile_size=75))
    assert_flow_close(tiled.flow, whole.flow)
    # (the cells' texture is interpolated by OpenCV's fixed-point remap: last-bit
    # differences of the cells move a pixel by up to about 1e-5; 0.19 % of samples beyond
    # 1e-4 with OpenCV 4.8, 0 with 5.0)
    assert np.mean(np.abs(tiled.flow - whole.flow) > 1e-4) < 5e-3
    out = process_to_files(image, PipelineConfig(tile_size=75), {"flow": tmp_path / "f.png"})
    with Image.open(out["flow"]) as im:
        written = np.asarray(im).astype(np.int16)
    assert_png_close(written, np.round(whole.flow * 255).astype(np.int16))


def test_concentric_circles_flow_streaks_run_along_the_circles():
    image, radius, x, y = rings()
    res = process(image, PipelineConfig(outputs=("flow",), denoise="none", tile_size=40))
    grey = res.flow.mean(axis=2).astype(np.float64)
    # The streak direction of the output, measured by scikit-image's structure tensor.
    arr, arc, acc = structure_tensor(grey, sigma=2, mode="reflect", order="rc")
    streak = 0.5 * np.arctan2(2 * arc, acc - arr) + np.pi / 2  # least change, array frame
    c = (image.shape[0] - 1) / 2
    tangent = np.arctan2(x - c, -(y - c))  # along the circles, array frame
    off = np.abs(np.degrees(streak - tangent)) % 180
    off = np.minimum(off, 180 - off)
    annulus = (radius > 20) & (radius < 70)
    assert np.mean(off[annulus] < 20) > 0.8
    # No direction at all (a flat page) is black.
    blank = process(np.full((30, 30), 0.9, np.float32), PipelineConfig(outputs=("flow",)))
    assert blank.flow.max() == 0


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("tile", [0, 64])
def test_streamed_flow_png_equals_process_within_one_level(tmp_path, tile):
    image = hatching_scan()
    expected = process(image, PipelineConfig(outputs=("flow",), tile_size=0))
    config = PipelineConfig(tile_size=tile)
    out = process_to_files(image, config, {"flow": tmp_path / "p.flow.png",
                                           "hsv": tmp_path / "p.hsv.png"})
    with Image.open(out["flow"]) as im:
        assert im.mode == "RGB" and im.size == (260, 180)
        written = np.asarray(im).astype(np.int16)
    quantised = np.round(np.clip(expected.flow, 0, 1) * 255).astype(np.int16)
    assert_png_close(written, quantised)
    # Every PNG of the run records the whole scan's stroke figures (known before writing).
    for kind in ("flow", "hsv"):
        check_hatching_figures(provenance(out[kind])["strokes"])


def test_streamed_figures_equal_process_figures(tmp_path):
    image = hatching_scan((150, 300))
    whole = process(image, PipelineConfig(outputs=("flow",), tile_size=0)).strokes.summary()
    out = process_to_files(image, PipelineConfig(tile_size=40),
                           {"magnitude": tmp_path / "m.png", "flow": tmp_path / "f.png"})
    assert provenance(out["magnitude"])["strokes"] == whole


# --------------------------------------------------------------------------- the command


def test_command_json_and_provenance_carry_the_hatching_angles(tmp_path):
    src = tmp_path / "in" / "hatching.png"
    src.parent.mkdir()
    save_png(src, hatching_scan())
    out = tmp_path / "out"
    res = sketchgrad_cmd("run", src, "-o", out, "--outputs", "flow,hsv", "--json",
                         "--workers", 1)
    assert res.returncode == 0, res.stderr
    [record] = json.loads(res.stdout)
    check_hatching_figures(record["strokes"])
    flow = out / "hatching.flow.png"
    assert sorted(record["outputs"]) == sorted([str(flow), str(out / "hatching.hsv.png")])
    with Image.open(flow) as im:
        assert im.mode == "RGB" and im.size == (260, 180)
    for name in ("hatching.flow.png", "hatching.hsv.png"):
        assert provenance(out / name)["strokes"] == record["strokes"]
    # A re-run skips the input, and still reports the figures its outputs recorded.
    again = sketchgrad_cmd("run", src, "-o", out, "--outputs", "flow,hsv", "--json",
                           "--workers", 1)
    [skipped] = json.loads(again.stdout)
    assert skipped["status"] == "skipped" and skipped["strokes"] == record["strokes"]


# --------------------------------------------------------------------------- preview


def test_preview_of_a_hatching_scan_has_the_rose_panel(tmp_path, monkeypatch):
    import sketchgrad.streaming as streaming
    from sketchgrad.preview import _build_figure

    handed = []
    writer = streaming._write_preview

    def spy(result, dest, text):
        handed.append(result)
        return writer(result, dest, text)

    monkeypatch.setattr(streaming, "_write_preview", spy)
    image = hatching_scan()
    out = process_to_files(image, PipelineConfig(tile_size=64),
                           {"preview": tmp_path / "p.preview.png"})
    with Image.open(out["preview"]) as im:
        assert im.size[0] > 400
    [result] = handed
    # The rose shows the whole scan's histogram, summed over the tiles.
    whole = process(image, PipelineConfig(outputs=("flow",), tile_size=0)).strokes
    np.testing.assert_allclose(result.strokes.histogram, whole.histogram, rtol=1e-5,
                               atol=1e-9 * whole.histogram.sum())
    sheet = _build_figure(result, None)
    texts = {t.get_gid(): t.get_text() for t in sheet.fig.texts if t.get_gid()}
    assert texts["title:rose"].startswith("stroke angles")
    assert "30°" in texts["rose:dominant"] and "120°" in texts["rose:dominant"]
    assert texts["rose:coherence"].startswith(f"overall coherence "
                                              f"{whole.overall_coherence:.2f}")
    [rose] = [rgb for name, _, _, rgb in sheet.pictures if name == "rose"]
    side = rose.shape[0]
    bar = np.array([58, 110, 165])

    def reach_along(degrees):
        """How far out (a fraction of the rose's radius) the bars reach at a page angle."""
        radius = 0.46 * side
        found = 0.0
        for r in np.linspace(0.05, 0.95, 40):
            x = side / 2 + r * radius * math.cos(math.radians(degrees))
            y = side / 2 - r * radius * math.sin(math.radians(degrees))  # page y up
            if np.abs(rose[int(y), int(x)].astype(int) - bar).max() < 40:
                found = r
        return found

    assert reach_along(30) > 0.8 and reach_along(210) > 0.8   # both ends of a stroke
    assert reach_along(120) > 0.8
    assert reach_along(75) < 0.2 and reach_along(165) < 0.2
