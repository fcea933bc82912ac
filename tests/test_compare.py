"""Comparison sheets: one labelled PNG per stage, every method on the same scan."""

import numpy as np
import pytest
from PIL import Image

from sketchgrad.color import RAMPS
from sketchgrad.compare import COMPARE_WHAT, EXTRA_COLOURS, TILE_INCHES, _crop, render_comparison
from sketchgrad.denoise import DENOISE_METHODS
from sketchgrad.errors import ParameterError
from sketchgrad.gradients import OPERATORS
from sketchgrad.io import load_scan
from sketchgrad.normalize import NORMALIZE_METHODS
from sketchgrad.pipeline import PipelineConfig


def drawing(rng, shape=(90, 120)):
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = 0.9 - 0.25 * np.exp(-((x - w / 2) ** 2 + (y - h / 2) ** 2) / (0.05 * h * w))
    image[np.abs(x - 0.3 * w - 0.4 * y) < 2] = 0.15
    image[np.abs(y - 0.7 * h) < 1.5] = 0.2
    image += rng.normal(0, 0.03, shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def columns(n, most=4):
    rows = -(-n // most)
    return -(-n // rows)


@pytest.mark.parametrize("what, count", [
    ("normalize", len(NORMALIZE_METHODS)),
    ("denoise", len(DENOISE_METHODS)),
    ("operator", len(OPERATORS)),
    ("ramp", len(dict.fromkeys([*EXTRA_COLOURS, *RAMPS, "hsv"]))),
])
def test_sheet_has_a_tile_per_method(tmp_path, rng, what, count):
    path = render_comparison(drawing(rng), what, tmp_path / f"{what}.png")
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    assert rgb.shape[1] == round(columns(count) * TILE_INCHES * 100)
    assert rgb.shape[0] > 300
    assert len(np.unique(rgb.reshape(-1, 3)[::5], axis=0)) > 150 and rgb.std() > 20


def test_config_and_scan_inputs(tmp_path, rng):
    image = drawing(rng)
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "d.png")
    scan = load_scan(tmp_path / "d.png")
    cfg = PipelineConfig(color="dusk", color_target="tone", denoise="median")
    path = render_comparison(scan, "ramp", tmp_path / "sheet.png", config=cfg,
                             text={"source": "d.png"})
    with Image.open(path) as im:
        assert im.text["source"] == "d.png"
    render_comparison((image * 255).astype(np.uint8), "normalize", tmp_path / "u8.png")
    assert (tmp_path / "u8.png").stat().st_size > 10_000


def test_crop_finds_the_strokes(rng):
    image = np.full((600, 800), 0.9, np.float32)
    image[450:560, 600:780:6] = 0.1   # a patch of hatching, bottom right
    crop, (row, col) = _crop(image, side=200)
    assert crop.shape == (200, 200)
    assert row <= 450 and row + 200 >= 560 - 20 and col <= 620 and col + 200 >= 760
    small = np.zeros((50, 60), np.float32)
    assert _crop(small, side=200)[1] == (0, 0) and _crop(small, side=200)[0].shape == (50, 60)


def test_errors(tmp_path, rng):
    assert set(COMPARE_WHAT) == {"normalize", "denoise", "operator", "ramp"}
    with pytest.raises(ParameterError, match="what='colour' is not known; choose one of"):
        render_comparison(drawing(rng), "colour", tmp_path / "x.png")
    bad = drawing(rng)
    bad[3, 3] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        render_comparison(bad, "normalize", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------------------
# Faithful sheets: a panel is as bright as the variant's file; the settings as run

#: Largest difference of a panel's mean from its file's (both on [0, 1]): one 8-bit level
#: and a half (the panel is made from float stages, the file is quantised).
MEAN_TOLERANCE = 1.5 / 255


def thin_strokes(shape, seed=5):
    """Paper with one-pixel pen lines in several directions (a sparse drawing)."""
    h, w = shape
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.full(shape, 0.93, np.float32)
    for k in range(9):
        image[np.abs((x - w * (k + 1) / 10) * np.cos(0.7 * k) + (y - h / 2) * np.sin(0.7 * k))
              < 0.5] = 0.12
    image += rng.normal(0, 0.02, shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


def panel(fig, ax):
    """The pixels of a tile's picture on the drawn sheet, in [0, 1]."""
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(np.float32) / 255
    box = ax.get_window_extent()
    top = fig.canvas.get_width_height()[1] - round(box.y1)
    # one pixel in from each side: the axes' frame is drawn over the picture's edge
    return rgb[top + 1:top + round(box.height) - 1, round(box.x0) + 1:round(box.x1) - 1]


def area(array, like):
    import cv2

    return cv2.resize(np.asarray(array, np.float32), (like.shape[1], like.shape[0]),
                      interpolation=cv2.INTER_AREA)


def test_global_panels_are_as_bright_as_the_variants_files(tmp_path):
    """The ramp sheet's hsv panel and the normalize sheet's minmax panel vs the written files."""
    from matplotlib import colormaps

    from sketchgrad.compare import _sheet
    from sketchgrad.pipeline import process_to_files

    image = thin_strokes((1200, 1700))
    config = PipelineConfig(normalize="minmax")
    files = process_to_files(image, config, {"hsv": tmp_path / "p.hsv.png",
                                             "magnitude": tmp_path / "p.magnitude.png"})
    with Image.open(files["hsv"]) as im:
        hsv = np.asarray(im).astype(np.float32) / 255
    with Image.open(files["magnitude"]) as im:
        magnitude = np.asarray(im).astype(np.float32) / 65535

    fig, axes, _ = _sheet(image, "ramp", config)
    shown = panel(fig, axes["hsv"])
    assert shown.shape[1] > 300
    assert abs(shown.mean() - hsv.mean()) <= MEAN_TOLERANCE
    # pixel by pixel: the picture given to the axes is the file shrunk to the axes' pixels
    # (Agg may then drop a row or column of it to fit a fractional box)
    picture = axes["hsv"].images[0].get_array()
    box = axes["hsv"].get_window_extent()
    assert abs(picture.shape[0] - box.height) <= 1 and abs(picture.shape[1] - box.width) <= 1
    assert np.abs(picture - area(hsv, picture)).mean() <= 1 / 255

    fig, axes, _ = _sheet(image, "normalize", config)
    shown = panel(fig, axes["minmax"])
    want = colormaps["magma"](area(magnitude, shown))[..., :3]
    assert abs(shown.mean() - want.mean()) <= MEAN_TOLERANCE
    picture = axes["minmax"].images[0].get_array()
    assert np.abs(picture - area(magnitude, picture)).max() <= 1e-3


def test_sheets_state_the_strength_a_run_would_use(tmp_path):
    """Resolved on the whole scan (not on the crop), in the titles, heading and record."""
    from sketchgrad.compare import _sheet
    from sketchgrad.config import read_provenance
    from sketchgrad.denoise import DENOISE_METHODS, resolve_strength

    image = thin_strokes((900, 1300))
    image[:, :650] = np.clip(image[:, :650] + np.random.default_rng(1).normal(
        0, 0.06, (900, 650)), 0, 1)  # the left half noisier: the crop's estimate would differ
    fig, axes, _ = _sheet(image, "denoise", PipelineConfig())
    want = {name: resolve_strength(image, name) for name in DENOISE_METHODS if name != "none"}
    labels = set(axes)
    assert "none" in labels
    for name, strength in want.items():
        assert f"{name}, strength {strength:.3g} (auto)" in labels
    heading = fig.get_suptitle()
    assert "channels: gray" in heading and "strength estimated on the whole scan" in heading

    fig, axes, run = _sheet(image, "operator", PipelineConfig(denoise="median"))
    assert f"denoise median, strength {want['median']:.3g} (auto)" in fig.get_suptitle()
    fig, axes, run = _sheet(image, "normalize", PipelineConfig(strength=1.5))
    assert "denoise gaussian, strength 1.5 (set)" in fig.get_suptitle()
    assert run.strength_used == 1.5

    render_comparison(image, "ramp", tmp_path / "r.png")
    record = read_provenance(tmp_path / "r.png")
    assert record["config"]["strength"] is None
    assert record["strength_used"] == pytest.approx(want["gaussian"], rel=1e-6)


def test_a_colour_scan_is_compared_in_colour():
    from sketchgrad.compare import _sheet

    h, w = 500, 700
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.ones((h, w, 3), np.float32) * np.float32([0.95, 0.94, 0.9])
    disc = (x - 300) ** 2 + (y - 250) ** 2 < 120 ** 2
    rgb[disc] = (0.85, 0.1, 0.1)
    rgb[np.abs(x - 520 - 0.2 * (y - 250)) < 3] = (0.1, 0.2, 0.8)
    fig, axes, run = _sheet(rgb, "denoise", PipelineConfig())
    assert "channels: rgb (auto: colour)" in fig.get_suptitle()
    picture = axes["none"].images[0].get_array()  # the crop, undenoised, as shown
    assert picture.ndim == 3 and picture.shape[2] == 3
    red = (picture[..., 0] > 0.7) & (picture[..., 1] < 0.3) & (picture[..., 2] < 0.3)
    assert red.mean() > 0.2  # the crop is on the red disc, shown red
    fig, axes, run = _sheet(rgb, "ramp", PipelineConfig())
    assert run.channels == "rgb"
