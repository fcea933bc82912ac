"""The committed sample drawings: reproducible, small, and the promised kinds of file."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL
import pytest
from PIL import Image, ImageOps

import sketchgrad

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_images"
SCRIPT = ROOT / "scripts" / "make_sample_images.py"
MAX_BYTES = 2 * 1024 * 1024
#: The drawings are computed in floating point, and another CPU's vector units or another
#: NumPy may round a pixel the other way (seen in the 16-bit TIFF, one level of 65535: 12 of
#: 786,432 pixels on an AVX-512 CPU, 0.19 % of them with NumPy 1.26). A fresh drawing may
#: differ from the committed one by at most this many levels ...
MAX_LEVELS = 1
#: ... on at most this fraction of its samples (1 %); a change to the script moves more.
MAX_DIFFERING = 1e-2
#: Pillow's polygon filling, which draws the strokes' edges, changed between 11.0 and 12.0
#: (edge pixels move by up to 48 levels); the committed drawings were made with Pillow 13.
DRAWN_WITH_PILLOW = (12, 0)


def committed():
    return sorted(p for p in SAMPLES.iterdir() if p.is_file())


def run_script(out: Path, *only: str) -> Path:
    args = [sys.executable, str(SCRIPT), str(out)] + (["--only", *only] if only else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warnings from the generator either
    return out


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    return run_script(tmp_path_factory.mktemp("samples"))


def grey(path: Path) -> np.ndarray:
    """The image as Pillow sees it, upright, alpha over white, in [0, 1]."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode == "I;16":
            return np.asarray(im, dtype=np.float64) / 65535
        if im.mode == "RGBA":
            white = Image.new("RGBA", im.size, (255, 255, 255, 255))
            im = Image.alpha_composite(white, im)
        return np.asarray(im.convert("L"), dtype=np.float64) / 255


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).astype(np.int64)


@pytest.mark.skipif(
    tuple(int(v) for v in PIL.__version__.split(".")[:2]) < DRAWN_WITH_PILLOW,
    reason="Pillow < 12 fills the strokes' polygons differently; the drawings are "
           "reproduced with the Pillow that drew them or a later one")
def test_script_reproduces_the_committed_drawings(regenerated):
    # Pixels, not bytes: a newer zlib or libjpeg may encode the same pixels differently.
    names = sorted(p.name for p in regenerated.iterdir())
    assert names == [p.name for p in committed()]
    for path in committed():
        fresh, kept = pixels(regenerated / path.name), pixels(path)
        assert fresh.shape == kept.shape, path.name
        hint = f"{path.name} differs from a fresh run; re-run scripts/make_sample_images.py"
        if path.suffix.lower() in (".jpg", ".jpeg"):
            assert np.mean(np.abs(fresh - kept)) < 0.5, hint  # decoder rounding at most
        else:
            assert np.abs(fresh - kept).max() <= MAX_LEVELS, hint
            assert np.mean(fresh != kept) <= MAX_DIFFERING, hint



def test_two_runs_give_byte_identical_files(regenerated, tmp_path):
    # One file per encoder (PNG with alpha, JPEG with EXIF, 16-bit TIFF), drawn again.
    names = ("ink_bird_rgba.png", "photo_portrait_exif6.jpg", "cube_shading_16bit.tif")
    again = run_script(tmp_path, *names)
    assert sorted(p.name for p in again.iterdir()) == sorted(names)
    for name in names:
        assert (again / name).read_bytes() == (regenerated / name).read_bytes(), name


def test_at_least_six_drawings_in_three_formats_each_under_2_mb():
    paths = committed()
    assert len(paths) >= 6
    formats = set()
    for path in paths:
        assert path.stat().st_size < MAX_BYTES, path.name
        with Image.open(path) as im:
            formats.add(im.format)
            assert 800 <= max(im.size) <= 1600, (path.name, im.size)
    assert {"PNG", "JPEG", "TIFF"} <= formats


def test_photo_carries_exif_orientation_6_and_is_stored_sideways():
    path = SAMPLES / "photo_portrait_exif6.jpg"
    with Image.open(path) as im:
        assert im.format == "JPEG"
        assert im.getexif()[0x0112] == 6
        stored = im.size
        upright = ImageOps.exif_transpose(im)
    assert stored[0] > stored[1]  # landscape in the file ...
    assert upright.size == (stored[1], stored[0])  # ... a portrait sheet once turned
    rgb = np.asarray(upright, dtype=np.float64) / 255
    h, w = rgb.shape[:2]
    paper = rgb[h // 4: 3 * h // 4, w // 8: 7 * w // 8].reshape(-1, 3)
    paper = paper[paper.sum(1) > np.percentile(paper.sum(1), 50)]  # skip the pencil marks
    r, g, b = paper.mean(0)
    assert r > g + 0.02 > b + 0.04  # warm paper
    top_left = rgb[60:260, 80:280].mean()
    bottom_right = rgb[h - 260: h - 60, w - 280: w - 80].mean()
    assert top_left - bottom_right > 0.05  # lit unevenly


def test_tiff_is_16_bit_with_shading_8_bits_cannot_hold():
    path = SAMPLES / "cube_shading_16bit.tif"
    with Image.open(path) as im:
        assert (im.format, im.mode) == ("TIFF", "I;16")
        a = np.asarray(im).astype(np.int64)
    assert len(np.unique(a)) > 4096
    as_8bit = np.round(a / 257) * 257
    assert np.mean(as_8bit != a) > 0.9
    # Smooth shading: neighbouring pixels differ by far less than an 8-bit step on average.
    assert np.median(np.abs(np.diff(a, axis=1))) < 257


def test_rgba_is_ink_on_transparent_background():
    path = SAMPLES / "ink_bird_rgba.png"
    with Image.open(path) as im:
        assert (im.format, im.mode) == ("PNG", "RGBA")
        alpha = np.asarray(im)[..., 3]
    assert np.mean(alpha == 0) > 0.6  # mostly transparent
    assert alpha.max() == 255  # solid ink
    assert np.mean((alpha > 20) & (alpha < 235)) > 0.005  # anti-aliased edges


def test_pencil_and_ink_drawings_are_grey_png():
    for name in ("pencil_still_life.png", "ink_landscape.png"):
        with Image.open(SAMPLES / name) as im:
            assert (im.format, im.mode) == ("PNG", "L")


def test_marker_drawing_is_colourful():
    with Image.open(SAMPLES / "marker_balloons.jpg") as im:
        assert im.mode == "RGB"
        rgb = np.asarray(im, dtype=np.float64) / 255
    sat = rgb.max(-1) - rgb.min(-1)
    assert np.mean(sat > 0.3) > 0.5
    # Colour gradient in the sky: the hue changes from the top rows to the rows above the hills.
    top, low = rgb[20:60].mean((0, 1)), rgb[560:600].mean((0, 1))
    assert top[2] > top[1] and low[1] > low[2]  # violet above, yellow-orange below


@pytest.mark.parametrize("path", committed(), ids=lambda p: p.name)
def test_samples_look_like_drawings_not_noise(path):
    g = grey(path)
    # Mostly paper with some marks: light median, darker marks present.
    assert np.median(g) > 0.55, path.name
    assert np.percentile(g, 1) < 0.45, path.name
    # Structure, not noise: neighbouring pixels are strongly correlated.
    a, b = g[:, :-1].ravel(), g[:, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8, path.name


@pytest.mark.parametrize("path", committed(), ids=lambda p: p.name)
def test_samples_load_as_finite_images(path):
    scan = sketchgrad.load_scan(path)
    assert scan.image.dtype == np.float32
    assert np.isfinite(scan.image).all()
    assert scan.image.shape == grey(path).shape
