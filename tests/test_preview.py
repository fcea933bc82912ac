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
    assert 1200 < rgb.shape[0] < 2100                   # four rows of 4:3 panels (4th: rose)
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
    rows_small = 4  # the fourth holds the rose of stroke angles
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


def test_prepare_imports_matplotlib_in_the_background_without_pyplot():
    code = ("import sys, threading, numpy as np, sketchgrad;"
            "from sketchgrad import preview;"
            "before = 'matplotlib.figure' in sys.modules;"
            "preview.prepare(); first = preview._PREPARING; preview.prepare();"
            "same = preview._PREPARING is first; first.join();"
            "after = 'matplotlib.figure' in sys.modules;"
            "png = preview.preview_png_bytes(sketchgrad.process(np.eye(24, dtype=np.float32)));"
            "print(before, same, after, 'matplotlib.pyplot' in sys.modules, png[1:4] == b'PNG')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True", "True", "False", "True"]


def sheet_boxes(sheet):
    """Every drawn thing's extent in display pixels (x0, y0, x1, y1; y up), with a label."""
    fig = sheet.fig
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for name, x, y, rgb in sheet.pictures:
        bottom = sheet.height - y - rgb.shape[0]
        boxes.append((f"picture {name}", (x, bottom, x + rgb.shape[1], bottom + rgb.shape[0])))
    for text in fig.texts:
        if text.get_text():
            b = text.get_window_extent(renderer)
            boxes.append((f"text {text.get_gid()} {text.get_text()!r}", (b.x0, b.y0, b.x1, b.y1)))
    for ax in fig.axes:  # ticks, tick labels and axis labels included
        b = ax.get_tightbbox(renderer)
        boxes.append((f"axes {ax.get_gid()}", (b.x0, b.y0, b.x1, b.y1)))
    for artist in fig.artists:  # the colorbars' end triangles
        b = artist.get_window_extent(renderer)
        boxes.append((f"patch {artist.get_gid()}", (b.x0, b.y0, b.x1, b.y1)))
    return boxes


def overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def allowed(label_a, label_b):
    """Pairs drawn over each other on purpose."""
    kinds = {label_a.split()[0], label_b.split()[0]}
    same = label_a.split()[1] == label_b.split()[1]
    # a colorbar's end triangles sit on its bar; a ramp's axis lies over its strip
    return (same and kinds in ({"patch", "picture"}, {"patch"})) or \
        {label_a, label_b} == {"picture legend", "axes legend:axis"}


def check_geometry(sheet):
    boxes = sheet_boxes(sheet)
    for label, (x0, y0, x1, y1) in boxes:
        assert 0 <= x0 and x1 <= sheet.width and 0 <= y0 and y1 <= sheet.height, label
    clashes = [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
               if overlap(ba, bb) and not allowed(a, b)]
    assert not clashes
    return boxes


def faint(shape, rng):
    """A drawing of very low contrast: gradients of about 1e-3 per pixel."""
    return (0.5 + 0.02 * (sketchy(shape, rng) - 0.5)).astype(np.float32)


@pytest.mark.parametrize("make, config", [
    (lambda rng: sketchy((120, 160), rng), PipelineConfig()),
    (lambda rng: sketchy((1050, 1400), rng), PipelineConfig()),   # with the 1:1 details
    (lambda rng: sketchy((400, 100), rng), PipelineConfig()),     # tall: aspect limited
    (lambda rng: sketchy((60, 400), rng), PipelineConfig()),      # wide: aspect limited
    (lambda rng: sketchy((120, 160), rng), PipelineConfig(color="ink")),  # a ramp legend
    (lambda rng: faint((120, 160), rng), PipelineConfig(denoise="none")),  # tiny colorbars
])
def test_layout_has_no_overlaps_and_stays_inside_the_sheet(rng, make, config):
    from sketchgrad.preview import _build_figure

    res = process(make(rng), config)
    sheet = _build_figure(res, None)
    boxes = check_geometry(sheet)
    labels = [label for label, _ in boxes]
    # every panel is there: a picture or axes, and its title
    for name in ("scan", "denoised", "relief", "gx", "gy", "magnitude", "hsv", "legend"):
        assert f"picture {name}" in labels
        assert any(label.startswith(f"text title:{name} ") for label in labels)
    for which in ("before", "after"):  # bars and ticks, tick labels, axis labels
        assert f"picture histogram:{which}" in labels
        assert sum(label.startswith(f"text histogram:{which} ") for label in labels) >= 5
    for name in ("gx", "gy", "magnitude"):
        assert f"picture colorbar:{name}" in labels


def test_title_air_and_panels_at_their_pixel_size(rng):
    from sketchgrad.preview import _build_figure

    res = process(sketchy((1050, 1400), rng))
    sheet = _build_figure(res, None)
    boxes = sheet_boxes(sheet)
    legend_title = next(b for label, b in boxes if label.startswith("text title:legend"))
    # the lower histogram with its tick labels and x label
    lower = np.array([b for label, b in boxes if "histogram:after" in label])
    lower = (lower[:, 0].min(), lower[:, 1].min(), lower[:, 2].max(), lower[:, 3].max())
    assert lower[1] > legend_title[3] + 5  # at least 5 px of air between them (y up)
    pictures = {name: rgb for name, _, _, rgb in sheet.pictures}
    # the detail crops are shown 1:1 (plus a one-pixel frame); the rest at one size
    ch, cw = round(PANEL_INCHES * 100 * 1050 / 1400), round(PANEL_INCHES * 100)
    for name in ("detail_scan", "detail_hsv", "detail_relief"):
        assert pictures[name].shape == (ch + 2, cw + 2, 3)
    assert pictures["scan"].shape == pictures["hsv"].shape == pictures["relief"].shape


def test_reduced_result_reports_the_scan_size_and_shows_given_details(rng):
    from sketchgrad.preview import _build_figure

    full = process(sketchy((1050, 1400), rng))
    small = process(downsample(full.image, 350), full.config)
    small.full_shape = full.image.shape

    def titles(sheet):
        return {t.get_gid(): t.get_text() for t in sheet.fig.texts if t.get_gid()}

    # without crops a reduced result has no detail panels (it has no 1:1 pixels)
    got = titles(_build_figure(small, None))
    assert got["title:scan"] == "scan · 1400×1050 px"
    assert not any(gid.startswith("title:detail") for gid in got)
    r, c, ch, cw = 500, 600, 300, 460
    marked = full.hsv[r:r + ch, c:c + cw].copy()
    marked[:] = (0.0, 1.0, 0.0)  # pure green: visible on the sheet only through the crop
    details = {"window": (r, c, ch, cw), "scan": full.image[r:r + ch, c:c + cw],
               "hsv": (marked * 255).astype(np.uint8), "relief": full.sketch[r:r + ch, c:c + cw]}
    sheet = _build_figure(small, None, details)
    got = titles(sheet)
    assert [got[f"title:{n}"] for n in ("detail_scan", "detail_hsv", "detail_relief")] == [
        "detail at 1:1 · scan (box on the scan panel)", "detail at 1:1 · colour",
        "detail at 1:1 · relief"]
    assert got["detail:detail_hsv"] == f"x {c}–{c + cw}, y {r}–{r + ch}"
    rgb, _ = load_png(preview_png_bytes(small, details=details))
    green = (rgb[..., 1] > 240) & (rgb[..., 0] < 15) & (rgb[..., 2] < 15)
    assert ch * cw <= green.sum() < 1.01 * ch * cw  # the crop, drawn 1:1 (and a few hsv pixels)
    _, x, y, _ = next(p for p in sheet.pictures if p[0] == "detail_hsv")
    assert green[y + 1:y + 1 + ch, x + 1:x + 1 + cw].all()  # inside its one-pixel frame


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


def test_default_run_pins_the_output_pixels_and_the_preview_shows_them(tmp_path, monkeypatch):
    """A small default run (all four outputs, tiles streamed) against the stages composed.

    Speed-ups of the tile engine or the preview must not change results
    unnoticed: the PNGs decode to ``process``'s arrays and to the stage
    functions' by the documented quantisation (16-bit magnitude, 8-bit sketch
    and colour: floor(x * (2**bits - 1) + 0.5), within one level where OpenCV's
    last bit differs between tiles and the whole image), and the preview shows
    the very pixels of the outputs in its 1:1 panels.
    """
    import sketchgrad.streaming as streaming
    from sketchgrad.color import ZERO_GRADIENT, apply_color
    from sketchgrad.denoise import denoise, resolve_strength
    from sketchgrad.gradients import gradient_field
    from sketchgrad.normalize import normalize, to_unit
    from sketchgrad.pipeline import OUTPUT_KINDS, process_to_files
    from sketchgrad.preview import _build_figure
    from sketchgrad.sketch import sketch_effect

    image = sketchy((900, 1200), np.random.default_rng(11))  # > 1.25 panels: details shown
    seen = {}
    real = streaming._write_preview  # the preview writer moved to streaming.py

    def spy(result, dest, text):
        seen["result"] = result
        return real(result, dest, text)

    monkeypatch.setattr(streaming, "_write_preview", spy)
    paths = {kind: tmp_path / f"page.{kind}.png" for kind in OUTPUT_KINDS}
    process_to_files(image, PipelineConfig(), paths)

    # the stages composed by hand, with the strength the default resolves to
    strength = resolve_strength(image, "gaussian")
    denoised = denoise(image, "gaussian", strength=strength)
    field = gradient_field(denoised, "sobel")
    magnitude = np.where(field.magnitude <= ZERO_GRADIENT, np.float32(0), field.magnitude)
    method = PipelineConfig().normalize  # the default (exposure since issue 15)
    unit = to_unit(normalize(magnitude, method), method)
    whole = process(image)
    np.testing.assert_allclose(whole.normalized, unit, atol=1e-6)
    np.testing.assert_allclose(whole.sketch, sketch_effect(denoised), atol=1e-6)
    np.testing.assert_allclose(whole.hsv, apply_color(field, unit, denoised), atol=1e-6)

    def decoded(kind):
        with Image.open(paths[kind]) as im:
            return np.asarray(im).astype(np.int64)

    for kind, array, top in (("magnitude", whole.normalized, 65535),
                             ("sketch", np.clip(whole.sketch, 0, 1), 255),
                             ("hsv", whole.hsv, 255)):
        got, want = decoded(kind), np.floor(array.astype(np.float64) * top + 0.5)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1, kind
        assert (got == want).mean() > 0.99, kind

    # the preview: the sheet's size, every picture at its place, the 1:1 panels = the files
    sheet = _build_figure(seen["result"], None)
    preview, _ = load_png(paths["preview"])
    assert preview.shape == (sheet.height, sheet.width, 3)
    for name, x, y, rgb in sheet.pictures:
        np.testing.assert_array_equal(preview[y:y + rgb.shape[0], x:x + rgb.shape[1]], rgb,
                                      err_msg=name)
    r, c, ch, cw = seen["result"].details["window"]
    where = {name: (x, y) for name, x, y, _ in sheet.pictures}
    x, y = where["detail_hsv"]
    np.testing.assert_array_equal(preview[y + 1:y + 1 + ch, x + 1:x + 1 + cw],
                                  decoded("hsv")[r:r + ch, c:c + cw])
    x, y = where["detail_relief"]
    np.testing.assert_array_equal(preview[y + 1:y + 1 + ch, x + 1:x + 1 + cw, 0],
                                  decoded("sketch")[r:r + ch, c:c + cw])


# ----------------------------------------------------------------------------------------
# Faithful panels: a panel is as bright as its file; the settings as run, strength included


def thin_strokes(shape, seed=5):
    """Paper with one-pixel pen lines in four directions and a few dots (a sparse drawing)."""
    h, w = shape
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.full(shape, 0.93, np.float32)
    for k in range(9):
        image[np.abs((x - w * (k + 1) / 10) * np.cos(0.7 * k) + (y - h / 2) * np.sin(0.7 * k))
              < 0.5] = 0.12
    image[rng.integers(0, h, 300), rng.integers(0, w, 300)] = 0.2
    image += rng.normal(0, 0.004, shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def panel_pixels(sheet_rgb, sheet, name):
    """A panel's picture on the rendered sheet, inside its one-pixel frame."""
    _, x, y, rgb = next(p for p in sheet.pictures if p[0] == name)
    return sheet_rgb[y + 1:y + rgb.shape[0] - 1, x + 1:x + rgb.shape[1] - 1]


def shrunk_like(array, panel):
    """``array`` area-averaged to the panel's size (an independent OpenCV shrink in one step)."""
    import cv2

    return cv2.resize(np.asarray(array, np.float32), (panel.shape[1], panel.shape[0]),
                      interpolation=cv2.INTER_AREA)


#: Largest difference of a panel's mean from its file's (both on [0, 1]): one 8-bit level
#: and a half (the panel is made from float stages, the file is quantised).
MEAN_TOLERANCE = 1.5 / 255


def test_colour_and_magnitude_panels_are_as_bright_as_their_files(tmp_path, monkeypatch):
    """A streamed run of a large sparse drawing: each panel's mean is its file's mean.

    The reference is the written PNG itself, shrunk in one step by OpenCV's
    area averaging to the panel's size; the magnitude panel is compared
    through the same colormap. Keeping each block's strongest pixel (the old
    panels) makes the colour panel several times brighter than the file: the
    last assertion shows the check would catch it.
    """
    from matplotlib import colormaps

    import sketchgrad.streaming as streaming
    from sketchgrad.pipeline import OUTPUT_KINDS, process_to_files
    from sketchgrad.preview import _build_figure, _resize, block_peak

    image = thin_strokes((1800, 2500))
    seen = {}
    real = streaming._write_preview

    def spy(result, dest, text):
        seen["result"] = result
        return real(result, dest, text)

    monkeypatch.setattr(streaming, "_write_preview", spy)
    paths = {kind: tmp_path / f"page.{kind}.png" for kind in OUTPUT_KINDS}
    process_to_files(image, PipelineConfig(normalize="minmax"), paths)
    sheet = _build_figure(seen["result"], None)
    shown, _ = load_png(paths["preview"])

    hsv_panel = panel_pixels(shown, sheet, "hsv").astype(np.float32) / 255
    with Image.open(paths["hsv"]) as im:
        hsv_file = np.asarray(im).astype(np.float32) / 255
    want = shrunk_like(hsv_file, hsv_panel)
    assert abs(hsv_panel.mean() - hsv_file.mean()) <= MEAN_TOLERANCE
    assert abs(hsv_panel.mean() - want.mean()) <= MEAN_TOLERANCE
    assert np.abs(hsv_panel - want).mean() <= 2 / 255  # pixel by pixel, not only on average

    magma = colormaps["magma"]
    mag_panel = panel_pixels(shown, sheet, "magnitude").astype(np.float32) / 255
    with Image.open(paths["magnitude"]) as im:
        mag_file = np.asarray(im).astype(np.float32) / 65535
    want = magma(shrunk_like(mag_file, mag_panel))[..., :3]
    assert abs(mag_panel.mean() - want.mean()) <= MEAN_TOLERANCE
    assert np.abs(mag_panel - want).mean() <= 2 / 255

    # what keeping each block's strongest pixel (the old panel) would have shown
    step = -(-max(image.shape) // PREVIEW_SIDE)
    old = _resize(block_peak(hsv_file, step), hsv_panel.shape[:2], peak=True)
    assert old.mean() > 4 * hsv_file.mean() and old.mean() - hsv_file.mean() > 3 * MEAN_TOLERANCE


def test_full_size_result_panels_are_as_bright_as_its_arrays(rng):
    from sketchgrad.preview import _build_figure

    res = process(thin_strokes((1500, 2000)), PipelineConfig(normalize="minmax"))
    sheet = _build_figure(res, None)
    shown = sheet.render()
    panel = panel_pixels(shown, sheet, "hsv").astype(np.float32) / 255
    assert abs(panel.mean() - res.hsv.mean()) <= MEAN_TOLERANCE
    assert np.abs(panel - shrunk_like(res.hsv, panel)).mean() <= 2 / 255
    # the scan panel is the scan, shrunk the same way
    scan = panel_pixels(shown, sheet, "scan")[..., 0].astype(np.float32) / 255
    assert np.abs(scan - shrunk_like(res.image, scan)).mean() <= 2 / 255


def colour_drawing(shape=(600, 800)):
    """A red disc and a blue stroke on white paper."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.ones(shape + (3,), np.float32)
    rgb[(x - 0.3 * w) ** 2 + (y - 0.5 * h) ** 2 < (0.2 * h) ** 2] = (0.85, 0.1, 0.1)
    rgb[np.abs(x - 0.7 * w - 0.2 * (y - h / 2)) < 3] = (0.1, 0.2, 0.8)
    return rgb


def colour_result(rgb):
    """A Result of a colour run built from the stage functions (as the pipeline will)."""
    from sketchgrad.color import apply_color
    from sketchgrad.gradients import gradient_field
    from sketchgrad.normalize import normalize, to_unit
    from sketchgrad.pipeline import Result
    from sketchgrad.sketch import colour_relief

    field = gradient_field(rgb, "sobel")
    unit = to_unit(normalize(field.magnitude, "robust"), "robust")
    return Result(image=rgb, config=PipelineConfig(denoise="none", normalize="robust"),
                  denoised=rgb.copy(), field=field, normalized=unit,
                  hsv=apply_color(field, unit, None), sketch=colour_relief(rgb), channels="rgb")


def reddish(rgb):
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    return (r > 180) & (g < 100) & (b < 100)


def test_a_colour_run_shows_its_scan_denoised_and_relief_in_colour():
    from sketchgrad.preview import _build_figure

    rgb = colour_drawing()
    res = colour_result(rgb)
    sheet = _build_figure(res, None)
    shown = sheet.render()
    y, x = np.mgrid[0:600, 0:800]
    disc = ((x - 240) ** 2 + (y - 300) ** 2 < 120 ** 2).mean()
    for name in ("scan", "denoised"):
        panel = panel_pixels(shown, sheet, name)
        assert abs(reddish(panel).mean() - disc) < 0.02, name  # the red disc, in red
        np.testing.assert_allclose(panel / 255, shrunk_like(rgb, panel), atol=1.5 / 255)
    relief = panel_pixels(shown, sheet, "relief").astype(int)
    assert abs(reddish(relief).mean() - disc) < 0.03  # the relief lit in the disc's red
    texts = {t.get_gid(): t.get_text() for t in sheet.fig.texts if t.get_gid()}
    assert texts["heading"].startswith("channels: rgb (auto: colour) · denoise none")
    assert texts["title:scan"].endswith(", colour")
    assert texts["title:relief"].startswith("relief in the drawing's colours")
    assert texts["title:denoised"] == "denoised · none"


def test_a_grey_run_says_so_and_keeps_grey_panels(rng):
    from sketchgrad.preview import _build_figure

    res = process(sketchy((120, 160), rng))
    sheet = _build_figure(res, None)
    shown = sheet.render()
    texts = {t.get_gid(): t.get_text() for t in sheet.fig.texts if t.get_gid()}
    assert texts["heading"].startswith("channels: gray (auto: grey) · denoise gaussian, "
                                       "strength ")
    for name in ("scan", "denoised", "relief"):
        panel = panel_pixels(shown, sheet, name).astype(int)
        assert (panel.max(axis=2) == panel.min(axis=2)).all(), name


def test_the_strength_used_is_on_the_result_in_the_titles_and_in_every_record(tmp_path):
    """The automatic strength resolved to a number: Result, preview titles, file records."""
    import json

    from sketchgrad.config import read_provenance
    from sketchgrad.denoise import resolve_strength
    from sketchgrad.pipeline import OUTPUT_KINDS, process_to_files
    from sketchgrad.preview import _build_figure

    image = thin_strokes((400, 500))
    image = np.clip(image + np.random.default_rng(3).normal(0, 0.08, image.shape), 0, 1)
    image = image.astype(np.float32)
    want = resolve_strength(image, "gaussian")  # independent: the denoiser's own rule
    assert 0.5 < want < 2.0  # inside the clip: an estimate, not a bound
    whole = process(image)
    tiled = process(image, PipelineConfig(tile_size=64))
    assert whole.strength_used == tiled.strength_used == pytest.approx(want, rel=1e-6)
    assert process(image, PipelineConfig(strength=1.25)).strength_used == 1.25
    assert process(image, PipelineConfig(denoise="none")).strength_used is None

    texts = {t.get_gid(): t.get_text() for t in _build_figure(whole, None).fig.texts
             if t.get_gid()}
    assert texts["title:denoised"] == f"denoised · gaussian, strength {want:.3g} (auto)"
    assert f"denoise gaussian, strength {want:.3g} (auto)" in texts["heading"]

    paths = {kind: tmp_path / f"p.{kind}.png" for kind in OUTPUT_KINDS}
    process_to_files(image, PipelineConfig(), paths)
    for kind, path in paths.items():
        record = read_provenance(path)
        assert record["config"]["strength"] is None, kind  # the setting stays "auto"
        assert record["strength_used"] == pytest.approx(want, rel=1e-6), kind
    # a record given by the caller (a batch's) gets it too; other chunks are left alone
    given = {"sketchgrad": json.dumps({"config": PipelineConfig().to_dict()}), "note": "x"}
    process_to_files(image, PipelineConfig(), {"hsv": tmp_path / "g.png"}, text=given)
    with Image.open(tmp_path / "g.png") as im:
        assert im.text["note"] == "x"
    assert read_provenance(tmp_path / "g.png")["strength_used"] == pytest.approx(want, rel=1e-6)
    # an explicit strength is recorded as used
    process_to_files(image, PipelineConfig(strength=0.8), {"hsv": tmp_path / "s.png"})
    assert read_provenance(tmp_path / "s.png")["strength_used"] == 0.8


def test_a_batch_rerun_still_skips_with_the_strength_recorded(tmp_path):
    from sketchgrad.batch import run_batch
    from sketchgrad.config import read_provenance
    from sketchgrad.denoise import resolve_strength
    from sketchgrad.png import save_png

    (tmp_path / "in").mkdir()
    image = thin_strokes((120, 160))
    save_png(tmp_path / "in" / "page.png", image, bit_depth=8)
    with Image.open(tmp_path / "in" / "page.png") as im:
        stored = np.asarray(im).astype(np.float32) / 255
    config = PipelineConfig(outputs=("hsv", "preview"))
    first = run_batch([tmp_path / "in"], tmp_path / "out", config)
    assert [o.status for o in first] == ["ok"]
    for output in first[0].outputs:
        assert read_provenance(output)["strength_used"] == pytest.approx(
            resolve_strength(stored, "gaussian", bit_depth=8, lossy=False), rel=1e-6)
    again = run_batch([tmp_path / "in"], tmp_path / "out", config)
    assert [o.status for o in again] == ["skipped"]


def test_the_strongest_pixel_view_is_shown_only_on_request_and_says_so():
    from sketchgrad.preview import EXTRA_PANELS, _build_figure, block_peak

    res = process(thin_strokes((1500, 2000)), PipelineConfig(normalize="minmax"))
    assert EXTRA_PANELS == ("hsv_strongest",)
    assert "picture hsv_strongest" not in [f"picture {p[0]}" for p in
                                           _build_figure(res, None).pictures]
    sheet = _build_figure(res, ["hsv", "hsv_strongest"])
    shown = sheet.render()
    texts = {t.get_gid(): t.get_text() for t in sheet.fig.texts if t.get_gid()}
    assert texts["title:hsv_strongest"] == \
        "colour · strongest pixel per block (brighter than the file)"
    assert "strongest-pixel colour panel" in texts["heading"]
    strongest = panel_pixels(shown, sheet, "hsv_strongest").astype(np.float32) / 255
    averaged = panel_pixels(shown, sheet, "hsv").astype(np.float32) / 255
    peaks = block_peak(res.hsv, 3)  # 2000 px in blocks of 3: at most 720
    assert strongest.mean() >= peaks.mean() - MEAN_TOLERANCE  # at least as strong as the peaks
    assert strongest.mean() > 3 * averaged.mean()
    # a reduced result has it only with the gathered peaks
    small = process(downsample(res.image, 500), res.config)
    small.full_shape = res.image.shape
    with pytest.raises(ParameterError, match="hsv_strongest were not computed"):
        _build_figure(small, ["hsv_strongest"])


@pytest.mark.parametrize("shape", [(1, 1), (5, 7), (16, 16), (17, 33), (40, 3), (23, 19, 3)])
@pytest.mark.parametrize("step", [1, 2, 3, 8])
def test_block_mean_is_the_mean_of_each_block_edges_included(shape, step):
    from sketchgrad.preview import block_mean

    rng = np.random.default_rng(shape[0] * 31 + step)
    for samples in (rng.random(shape).astype(np.float32),
                    rng.integers(0, 256, shape).astype(np.uint8)):
        scale = 255.0 if samples.dtype == np.uint8 else 1.0
        rows, cols = -(-shape[0] // step), -(-shape[1] // step)
        # the definition, block by block in float64 (partial blocks at the edges average
        # what is there)
        expected = np.array([[samples[i * step:(i + 1) * step, j * step:(j + 1) * step]
                              .mean(axis=(0, 1), dtype=np.float64) / scale
                              for j in range(cols)] for i in range(rows)])
        got = block_mean(samples, step)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
