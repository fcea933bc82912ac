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
    with pytest.raises(ParameterError, match="not a grey"):
        render_comparison(np.zeros((10, 10, 3), np.float32), "ramp", tmp_path / "x.png")
    bad = drawing(rng)
    bad[3, 3] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        render_comparison(bad, "normalize", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
