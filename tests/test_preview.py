"""Previews: PNGs of the expected size and content, panels, downsampling, bytes for Jupyter."""

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sketchgrad.errors import ParameterError
from sketchgrad.pipeline import PipelineConfig, process
from sketchgrad.preview import (
    PANEL_INCHES,
    PREVIEW_SIDE,
    downsample,
    preview_png_bytes,
    render_preview,
)


def canvas_widths(inches: float, dpi: int = 100) -> tuple[int, ...]:
    """The PNG width matplotlib gives a figure ``inches`` wide: rounded, or truncated.

    matplotlib 3.8 truncates the canvas size (15.6 in at 100 dpi is 1559.99... -> 1559
    pixels), later versions round it; either is right.
    """
    return tuple({round(inches * dpi), int(inches * dpi)})



def sketchy(shape, rng):
    """Paper with strokes in several directions and a soft shaded blob."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = 0.92 - 0.3 * np.exp(-((x - 0.6 * w) ** 2 + (y - 0.5 * h) ** 2) / (0.02 * h * w))
    for k in range(6):
        image[np.abs((x - 0.1 * w * (k + 1)) * np.cos(k) + (y - 0.5 * h) * np.sin(k)) < 1.5] = 0.1
    image += rng.normal(0, 0.01, shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def load_png(path_or_bytes):
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with Image.open(src) as im:
        return np.asarray(im.convert("RGB")), dict(im.text)


def varied(rgb):
    colours = np.unique(rgb.reshape(-1, 3)[::7], axis=0)
    return len(colours) > 200 and rgb.std() > 20


def test_preview_of_every_stage(tmp_path, rng):
    res = process(sketchy((120, 160), rng))
    path = render_preview(res, tmp_path / "p.png", text={"made-by": "test"})
    rgb, text = load_png(path)
    assert path == tmp_path / "p.png"
    assert rgb.shape[1] in canvas_widths(3 * (PANEL_INCHES + 0.6))   # three panels a row
    assert 900 < rgb.shape[0] < 1600                               # three rows of 4:3 panels
    assert varied(rgb)
    assert text["made-by"] == "test"
    # saturated hues of the HSV panel and the colour wheel are on the sheet
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    assert np.count_nonzero((r > 200) & (g < 60) & (b < 60)) > 100
    assert np.count_nonzero((g > 200) & (r < 60) & (b < 60)) > 100


def test_panels_subset_and_bytes_match_the_file(tmp_path, rng):
    res = process(sketchy((60, 90), rng))
    path = render_preview(res, tmp_path / "two.png", panels=["scan", "hsv"])
    from_file, _ = load_png(path)
    from_bytes, _ = load_png(preview_png_bytes(res, panels=["scan", "hsv"]))
    assert from_file.shape[1] in canvas_widths(2 * (PANEL_INCHES + 0.6))
    np.testing.assert_array_equal(from_file, from_bytes)


def test_large_scans_are_downsampled_and_get_details(tmp_path, rng):
    small = process(sketchy((300, 400), rng))
    large = process(sketchy((1050, 1400), rng))
    a, _ = load_png(render_preview(small, tmp_path / "s.png"))
    b, _ = load_png(render_preview(large, tmp_path / "l.png"))
    assert a.shape[1] == b.shape[1]
    # the large scan adds one row of 1:1 detail panels; the rows are the same size
    rows_small = 3
    assert abs(b.shape[0] / (rows_small + 1) - a.shape[0] / rows_small) < 40
    assert varied(b)


def test_panel_errors(rng, tmp_path):
    res = process(sketchy((40, 50), rng), PipelineConfig(outputs=("magnitude",)))
    with pytest.raises(ParameterError, match="panels.*choose one or more of"):
        render_preview(res, tmp_path / "x.png", panels=["scan", "wheel"])
    with pytest.raises(ParameterError, match="relief were not computed"):
        render_preview(res, tmp_path / "x.png", panels=["relief"])
    assert not (tmp_path / "x.png").exists()


def test_downsample_is_area_averaging(rng):
    image = rng.random((1000, 500), dtype=np.float32)
    small = downsample(image, 100)
    want = image.reshape(100, 10, 50, 10).mean(axis=(1, 3))
    np.testing.assert_allclose(small, want, atol=1e-5)
    as_uint8 = downsample(np.full((30, 20), 255, np.uint8), 100)
    assert as_uint8.dtype == np.float32 and np.all(as_uint8 == 1.0)
    assert max(downsample(np.zeros((4000, 10), np.float32)).shape) == PREVIEW_SIDE


def test_no_pyplot_global_state():
    code = ("import sys, numpy as np, sketchgrad, tempfile;"
            "from sketchgrad.preview import preview_png_bytes;"
            "preview_png_bytes(sketchgrad.process(np.eye(24, dtype=np.float32)));"
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _boxes_overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_legend_title_clear_of_the_histogram_above(rng):
    from sketchgrad.preview import _build_figure

    res = process(sketchy((120, 160), rng))
    fig = _build_figure(res, None)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    by_title = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    legend = next(ax for t, ax in by_title.items() if t.startswith("legend"))
    histograms = [ax for ax in fig.axes if ax.get_xlabel().startswith(("before", "after"))]
    assert len(histograms) == 2
    title = legend.title.get_window_extent(renderer)
    lower = histograms[1].get_tightbbox(renderer)  # ticks and x label included
    assert not _boxes_overlap(title, lower)
    assert title.y1 < lower.y0 - 5  # at least 5 px of air between them


def test_reduced_result_reports_the_scan_size_and_shows_given_details(rng):
    from sketchgrad.preview import _build_figure

    full = process(sketchy((1050, 1400), rng))
    small = process(downsample(full.image, 350), full.config)
    small.full_shape = full.image.shape
    # without crops a reduced result has no detail panels (it has no 1:1 pixels)
    fig = _build_figure(small, None)
    titles = [ax.get_title() for ax in fig.axes]
    assert "scan · 1400×1050 px" in titles
    assert not any(t.startswith("detail") for t in titles)
    r, c, ch, cw = 500, 600, 300, 460
    marked = full.hsv[r:r + ch, c:c + cw].copy()
    marked[:] = (0.0, 1.0, 0.0)  # pure green: visible on the sheet only through the crop
    details = {"window": (r, c, ch, cw), "scan": full.image[r:r + ch, c:c + cw],
               "hsv": (marked * 255).astype(np.uint8), "relief": full.sketch[r:r + ch, c:c + cw]}
    fig = _build_figure(small, None, details)
    titles = [ax.get_title() for ax in fig.axes]
    assert [t for t in titles if t.startswith("detail")] == [
        "detail at 1:1 · scan (box on the scan panel)", "detail at 1:1 · colour",
        "detail at 1:1 · relief"]
    assert f"x {c}–{c + cw}, y {r}–{r + ch}" in [ax.get_xlabel() for ax in fig.axes]
    rgb, _ = load_png(preview_png_bytes(small, details=details))
    green = (rgb[..., 1] > 240) & (rgb[..., 0] < 15) & (rgb[..., 2] < 15)
    # the crop is drawn at about 1:1 (the panel is a little narrower than 4.6 in)
    assert 0.8 * ch * cw < green.sum() <= ch * cw


def test_detail_window_finds_the_busy_corner():
    from sketchgrad.preview import detail_window

    busy = np.zeros((300, 400), np.float32)
    busy[250:280, 20:60] = 1.0                      # a dense knot of strokes
    busy[:, 200:] = 0.15                            # a wide, faint texture
    r, c, ch, cw = detail_window(busy, (3000, 4000))
    assert (ch, cw) == (round(PANEL_INCHES * 100 * 3000 / 4000), round(PANEL_INCHES * 100))
    assert r <= 2500 and 2800 <= r + ch and c <= 200 and 600 <= c + cw


def test_block_peak_keeps_each_blocks_strongest_pixel(rng):
    from sketchgrad.preview import block_peak, shrink_step

    grey = rng.random((23, 31), dtype=np.float32)
    rgb = rng.random((23, 31, 3), dtype=np.float32)
    step = 4
    got_grey, got_rgb = block_peak(grey, step), block_peak(rgb, step)
    assert got_grey.shape == (6, 8) and got_rgb.shape == (6, 8, 3)
    for r in range(6):  # independent: loop over blocks (partial ones at the ends)
        for c in range(8):
            block = grey[r * step:(r + 1) * step, c * step:(c + 1) * step]
            assert got_grey[r, c] == block.max()
            pixels = rgb[r * step:(r + 1) * step, c * step:(c + 1) * step].reshape(-1, 3)
            np.testing.assert_array_equal(got_rgb[r, c], pixels[pixels.max(axis=1).argmax()])
    as_bytes = block_peak((rgb * 255).astype(np.uint8), step)
    assert as_bytes.dtype == np.float32 and as_bytes.max() <= 1.0
    # a one-pixel line keeps its strength; area averaging divides it by the step
    line = np.zeros((60, 60), np.float32)
    line[:, 31] = 0.9
    assert block_peak(line, 6).max() == np.float32(0.9)
    assert downsample(line, 10).max() < 0.2
    assert shrink_step((1441, 10)) == 3 and shrink_step((720, 720)) == 1
