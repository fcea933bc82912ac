"""sketchgrad.data: the sample drawings loaded by name."""

from pathlib import Path

import numpy as np
import pytest

import sketchgrad as sg
from sketchgrad import data

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


def test_names_are_the_files_in_sample_images():
    stems = sorted(p.stem for p in SAMPLES.iterdir() if p.is_file())
    assert list(data.names()) == stems
    assert len(stems) == 6


@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.iterdir() if p.is_file()))
@pytest.mark.parametrize("mode", ["gray", "rgb"])
def test_each_loader_gives_the_pixels_of_load_scan(name, mode):
    file = next(SAMPLES.glob(name + ".*"))
    expected = sg.load_scan(file, mode=mode)
    got = getattr(data, name)(mode=mode)
    assert got.image.dtype == np.float32
    # the same decoder on the same bytes: exact equality is the right test here
    np.testing.assert_array_equal(got.image, expected.image)
    assert got.meta.size == expected.meta.size and got.meta.format == expected.meta.format
    np.testing.assert_array_equal(data.load(name, mode=mode).image, expected.image)
    assert data.path(name).read_bytes() == file.read_bytes()


def test_rgb_sample_has_colour_and_exif_sample_is_upright():
    rgb = data.marker_balloons(mode="rgb").image
    assert rgb.shape[-1] == 3
    # a colour drawing: channels differ somewhere by more than JPEG noise
    assert float(np.abs(rgb[..., 0] - rgb[..., 2]).max()) > 0.3
    photo = data.photo_portrait_exif6()
    assert photo.meta.orientation == 6
    w, h = photo.meta.size  # stored sideways: the loaded image swaps the file's axes
    assert photo.image.shape == (w, h)


@pytest.mark.parametrize("bad", ["ink_landscap", "ink_landscape.png", "", 3])
def test_unknown_name_lists_the_names(bad):
    with pytest.raises(sg.ParameterError, match=r"name=.* is not a sample drawing; "
                       r"choose one of: 'cube_shading_16bit', .*'photo_portrait_exif6'"):
        data.path(bad)
    with pytest.raises(sg.ParameterError, match="choose one of: .*'ink_landscape'"):
        data.load(bad)


def test_bad_mode_is_load_scans_error():
    with pytest.raises(sg.ParameterError, match="mode"):
        data.ink_landscape(mode="cmyk")


def test_missing_files_say_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_FOLDERS", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(sg.ScanError, match="'ink_landscape.png' is not installed.*reinstall"):
        data.ink_landscape()
