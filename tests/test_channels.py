"""The colour-or-grey rule of channels='auto', on generated cases and real drawings."""

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.testing import assert_allclose
from PIL import Image
from skimage.color import rgb2lab

from sketchgrad import load_scan
from sketchgrad.channels import (
    CHANNELS,
    CHROMA_THRESHOLD,
    COLOUR_SHARE,
    colourfulness,
    luma,
    resolve_channels,
)
from sketchgrad.color import srgb_image_to_oklab, srgb_to_oklab
from sketchgrad.errors import ParameterError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"  # real drawings beside the checkout, if any
H, W = 300, 400


def _jpeg(rgb: np.ndarray, quality: int = 75) -> np.ndarray:
    """Save as an RGB JPEG (4:2:0, Pillow's default) and read back, float32."""
    buffer = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(
        buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer), np.float32) / 255


def _ink(rng) -> np.ndarray:
    """Anti-aliased lines 1-3 px wide: 1 on the ink, 0 on the paper."""
    ink = np.zeros((H, W), np.float32)
    for _ in range(25):
        p = rng.integers(0, [W, H], size=(2, 2))
        cv2.line(ink, tuple(map(int, p[0])), tuple(map(int, p[1])), 1.0,
                 int(rng.integers(1, 4)), cv2.LINE_AA)
    return ink


@pytest.fixture
def ink(rng):
    return _ink(rng)


def test_grey_ink_saved_as_rgb_jpeg_stays_grey(ink, rng):
    grey = 0.96 - 0.9 * ink
    noisy = grey[..., None] + rng.normal(0, 0.02, (H, W, 3))   # per-channel scanner noise
    for quality in (75, 50):
        scan = _jpeg(noisy, quality)
        m = colourfulness(scan)
        assert m.coloured == 0 and m.peak_chroma < CHROMA_THRESHOLD / 3
        assert resolve_channels(scan) == "gray"


def test_yellowed_paper_and_a_colour_cast_stay_grey(ink, rng):
    x = np.arange(W, dtype=np.float32)[None, :, None]
    yellowed = np.float32([0.95, 0.90, 0.72]) * (1 - 0.05 * x / W)   # unevenly yellowed
    scan = _jpeg((1 - 0.9 * ink)[..., None] * yellowed + rng.normal(0, 0.01, (H, W, 3)))
    m = colourfulness(scan)
    # The paper itself is clearly yellow (OKLab chroma ~0.06) but the measure is relative.
    assert np.hypot(*m.paper[1:]) > 0.05
    assert m.coloured == 0 and resolve_channels(scan) == "gray"
    cast = _jpeg((0.96 - 0.9 * ink)[..., None] * np.float32([1.0, 0.96, 0.88]))
    assert resolve_channels(cast) == "gray"


def test_a_few_coloured_strokes_on_white_are_colour():
    page = np.ones((H, W, 3), np.float32)
    for colour, y in (((0.95, 0.45, 0.65), 60), ((0.1, 0.6, 0.6), 150), ((0.5, 0.3, 0.7), 240)):
        cv2.line(page, (40, y), (360, y + 20), colour, 4, cv2.LINE_AA)
    scan = _jpeg(page)
    m = colourfulness(scan)
    assert m.colour_share > 0.8 and 0.01 < m.coloured < 0.05
    assert resolve_channels(scan) == "rgb"


def test_a_small_coloured_signature_on_a_grey_drawing_stays_grey(ink):
    page = np.repeat((0.96 - 0.9 * ink)[..., None], 3, axis=2)
    for k in range(5):   # a red scrawl in the corner
        cv2.ellipse(page, (300 + 14 * k, 275), (7, 10), 20, 0, 300, (0.8, 0.1, 0.1), 2,
                    cv2.LINE_AA)
    m = colourfulness(page)
    # 0.5 % of the page, 5 % of the ink
    assert 0.002 < m.coloured and m.colour_share < COLOUR_SHARE
    assert resolve_channels(page) == "gray"


def _large_page(rng, coloured: bool) -> np.ndarray:
    """A 1200 x 1600 RGB page (larger than MEASURE_SIDE): grey ink, and colour strokes."""
    page = np.full((1200, 1600, 3), 0.95, np.float32)
    for _ in range(40):
        p = rng.integers(0, [1600, 1200], size=(2, 2))
        cv2.line(page, tuple(map(int, p[0])), tuple(map(int, p[1])), (0.1, 0.1, 0.1),
                 int(rng.integers(1, 6)), cv2.LINE_AA)
    if coloured:
        for colour, y in (((0.95, 0.45, 0.65), 200), ((0.1, 0.6, 0.6), 600)):
            cv2.line(page, (100, y), (1500, y + 90), colour, 14, cv2.LINE_AA)
    return np.clip(page + rng.normal(0, 0.01, page.shape).astype(np.float32), 0, 1)


@pytest.mark.parametrize("bits", [8, 16])
def test_stored_samples_are_shrunk_as_stored_and_measure_alike(rng, bits):
    """8/16-bit samples (an array, or a scan kept as stored) are measured without a float copy."""
    from sketchgrad.channels import MEASURE_SIDE, _shrunk
    from sketchgrad.io import NativeImage

    top = 2 ** bits - 1
    for coloured in (False, True):
        page = _large_page(rng, coloured)
        stored = np.round(page * top).astype(np.uint8 if bits == 8 else np.uint16)
        as_float = stored / np.float32(top)            # the float image of the same samples
        size = (MEASURE_SIDE, round(1200 * MEASURE_SIDE / 1600))
        # the shrunk copy: within half a step of shrinking the float image (OpenCV's area
        # average of the stored samples, rounded to their own step)
        want = cv2.resize(as_float, size, interpolation=cv2.INTER_AREA)
        assert np.abs(_shrunk(stored) - want).max() <= 0.5 / top + 1e-6
        reference = colourfulness(as_float)
        assert reference.is_colour == coloured
        # loaded grey, it is grey: measured as the luma it reads as, whatever its samples
        read_grey = NativeImage(stored, "gray")
        assert not colourfulness(read_grey).is_colour and resolve_channels(read_grey) == "gray"
        for given in (stored, NativeImage(stored, "rgb")):
            m = colourfulness(given)
            assert m.is_colour == coloured
            assert resolve_channels(given) == ("rgb" if coloured else "gray")
            assert_allclose(m.paper, reference.paper, atol=2e-3)
            assert_allclose([m.coloured, m.marked, m.colour_share],
                            [reference.coloured, reference.marked, reference.colour_share],
                            atol=5e-3)
            assert abs(m.peak_chroma - reference.peak_chroma) < 3e-3


def test_equal_channels_are_grey_without_the_oklab_measure(ink, monkeypatch):
    """R = G = B everywhere: no chroma, so the rule says grey; the measure is not taken."""
    import sketchgrad.channels as channels
    from sketchgrad.io import NativeImage

    grey = 0.96 - 0.9 * ink
    pages = [np.repeat(grey[..., None], 3, axis=2),
             np.repeat((grey * 255).round().astype(np.uint8)[..., None], 3, axis=2)]
    for page in pages:   # the full measure agrees: not a coloured pixel
        m = colourfulness(page)
        assert m.coloured == 0 and not m.is_colour
    measured = []
    real = channels.colourfulness
    monkeypatch.setattr(channels, "colourfulness", lambda image: measured.append(1) or
                        real(image))
    for page in [*pages, NativeImage(pages[1], "rgb")]:
        assert resolve_channels(page) == "gray"
    assert measured == []
    one_off = pages[1].copy()
    one_off[5, 7, 2] += 1   # one sample off grey: measured (and still grey)
    assert resolve_channels(one_off) == "gray" and measured == [1]


def test_measure_against_scikit_image_lab_on_a_flat_colour():
    # Independent check of the numbers: a page half white, half a flat teal; the
    # teal's chroma relative to white paper is its own OKLab chroma; scikit-image's
    # CIELAB (a different space) agrees the teal is strongly chromatic.
    page = np.ones((40, 40, 3), np.float32)
    page[:, :20] = (0.1, 0.6, 0.6)
    m = colourfulness(page)
    teal = srgb_to_oklab(np.array([0.1, 0.6, 0.6]))
    assert_allclose(m.paper, (1.0, 0.0, 0.0), atol=1e-4)
    assert_allclose(m.coloured, 0.5) and assert_allclose(m.marked, 0.5)
    assert m.colour_share == 1.0
    assert_allclose(m.peak_chroma, np.hypot(teal[1], teal[2]), rtol=1e-4)
    assert np.hypot(*rgb2lab(np.array([[[0.1, 0.6, 0.6]]]))[0, 0, 1:]) > 20


def test_fast_oklab_matches_the_float64_formula(rng):
    rgb = rng.random((17, 23, 3), dtype=np.float32)
    assert_allclose(srgb_image_to_oklab(rgb), srgb_to_oklab(rgb), atol=2e-6)


def test_tint_scaling_keeps_dark_ink_on_tinted_paper_grey():
    # Ink seen through cream paper is the paper's tint times its darkness: relative
    # chroma 0 by construction of the L-scaled reference.
    page = np.ones((30, 30, 3), np.float32) * np.float32([0.98, 0.94, 0.80])
    page[10:20] *= np.float32(0.25)
    assert colourfulness(page).coloured == 0


def test_grey_inputs_and_forced_settings():
    grey = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    assert resolve_channels(grey) == "gray"
    assert resolve_channels(grey, "rgb") == "rgb"
    colour = np.zeros((8, 8, 3), np.float32)
    colour[..., 0] = 1
    assert resolve_channels(colour, "gray") == "gray"
    assert colourfulness(grey).coloured == 0
    assert colourfulness((grey * 255).astype(np.uint8)).coloured == 0
    blank = colourfulness(np.ones((5, 5, 3), np.float32))
    assert blank.colour_share == 0 and not blank.is_colour
    assert CHANNELS == ("auto", "gray", "rgb")


def test_errors_name_the_parameter():
    with pytest.raises(ParameterError, match="channels='colour' is not known"):
        resolve_channels(np.zeros((4, 4, 3), np.float32), "colour")
    with pytest.raises(ParameterError, match=r"shape \(4, 4, 2\)"):
        colourfulness(np.zeros((4, 4, 2), np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        colourfulness(np.full((4, 4, 3), np.nan, np.float32))


def test_luma_is_bt601_and_exact_on_grey(rng):
    rgb = rng.random((9, 7, 3), dtype=np.float32)
    assert_allclose(luma(rgb), rgb @ np.float32([0.299, 0.587, 0.114]), atol=1e-6)
    grey = rng.random((9, 7), dtype=np.float32)
    assert (luma(np.repeat(grey[..., None], 3, axis=2)) == grey).all()
    # load_scan's grey mode uses the same weights.
    pil = np.asarray(Image.fromarray((rgb * 255).astype(np.uint8)).convert("L"), np.float32)
    assert np.abs(luma(np.floor(rgb * 255)) - pil).max() <= 1


def test_sample_drawings():
    # The generated samples in the repository: the marker drawing is colour, the rest grey.
    samples = ROOT / "sample_images"
    picks = {p.name: resolve_channels(load_scan(p, mode="rgb").image)
             for p in sorted(samples.iterdir()) if p.suffix in (".jpg", ".png", ".tif")}
    assert picks.pop("marker_balloons.jpg") == "rgb"
    assert picks and set(picks.values()) == {"gray"}


@pytest.mark.skipif(not SHARED.is_dir(), reason="the real drawings in ../shared are absent")
@pytest.mark.parametrize("name, expected", [
    ("child_crayon_pig_rgba.png", "rgb"),
    ("notebook_ruled_marker_tree_diagram.jpg", "rgb"),
    ("pencil_pottery_bowl_shading_gray.jpg", "gray"),
    ("ink_brushpen_chess_castle.jpg", "gray"),
])
def test_real_drawings(name, expected):
    assert resolve_channels(load_scan(SHARED / name, mode="rgb").image) == expected
