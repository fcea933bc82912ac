import errno
import os
import stat
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

import sketchgrad.png as png_mod
from sketchgrad.errors import OutputError, ParameterError
from sketchgrad.png import PNG_FILTERS, PngWriter, _adler32_combine, deflate_engines, save_png

#: Every deflate engine installed here (zlib always; ISA-L when the isal package is present).
ENGINES = deflate_engines()


def _pillow(path):
    with Image.open(path) as im:
        im.load()
        return np.asarray(im), dict(im.text), im.mode


def _opencv(path):
    out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return out[..., ::-1] if out.ndim == 3 else out


SHAPES = [(1, 1), (1, 7), (7, 1), (37, 53), (300, 301)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("filter_type", list(PNG_FILTERS))
@pytest.mark.parametrize("kind", ["grey8", "grey16", "rgb"])
def test_round_trip_exact_with_pillow_and_opencv(tmp_path, rng, shape, filter_type, kind,
                                                 engine):
    if kind == "grey8":
        data, depth = rng.integers(0, 256, shape, dtype=np.uint8), 8
    elif kind == "grey16":
        data, depth = rng.integers(0, 65536, shape, dtype=np.uint16), 16
    else:
        data, depth = rng.integers(0, 256, shape + (3,), dtype=np.uint8), 8
    path = tmp_path / "x.png"
    with PngWriter(path, shape[1], shape[0], channels=3 if data.ndim == 3 else 1,
                   bit_depth=depth, filter_type=filter_type, engine=engine) as w:
        # uneven strips exercise the strip joins and the "up" filter's carried row
        for start in range(0, shape[0], 13):
            w.write(data[start:start + 13])
    pil, _, _ = _pillow(path)
    np.testing.assert_array_equal(pil, data)
    np.testing.assert_array_equal(_opencv(path), data)


@pytest.mark.parametrize("engine", ENGINES)
def test_many_strips_across_threads_decode_exactly(tmp_path, rng, monkeypatch, engine):
    monkeypatch.setattr(png_mod, "_STRIP_BYTES", 500)  # ~40 deflate strips joined
    data = rng.integers(0, 256, (200, 97, 3), dtype=np.uint8)
    data[50:120] = 0  # flat region: long matches inside strips
    for level in (0, 1, 2, 3, 6, 9):
        path = tmp_path / f"l{level}.png"
        with PngWriter(path, 97, 200, channels=3, compression=level, engine=engine) as w:
            w.write(data)
        np.testing.assert_array_equal(_pillow(path)[0], data)
        np.testing.assert_array_equal(_opencv(path), data)


@pytest.mark.parametrize("engine", ENGINES)
def test_zlib_stream_is_one_valid_stream_with_checksum(tmp_path, rng, monkeypatch, engine):
    monkeypatch.setattr(png_mod, "_STRIP_BYTES", 300)
    data = rng.integers(0, 256, (64, 40), dtype=np.uint8)
    path = tmp_path / "z.png"
    with PngWriter(path, 40, 64, engine=engine) as w:
        w.write(data)
    raw = path.read_bytes()
    idat, pos, kinds = b"", 8, []
    while pos < len(raw):
        length = int.from_bytes(raw[pos:pos + 4], "big")
        kind, body = raw[pos + 4:pos + 8], raw[pos + 8:pos + 8 + length]
        # every chunk's CRC-32 (of its type and data), as libpng checks it
        assert int.from_bytes(raw[pos + 8 + length:pos + 12 + length], "big") == \
            zlib.crc32(kind + body), kind
        kinds.append(kind)
        if kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert pos == len(raw) and kinds[-1] == b"IEND" and kinds.count(b"IDAT") > 5
    # zlib.decompress checks the header and the Adler-32 of the whole data
    filtered = zlib.decompress(idat)
    expected = np.concatenate([np.zeros((64, 1), np.uint8), data], axis=1).tobytes()
    assert filtered == expected


def test_adler32_combine_matches_zlib(rng):
    a = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    b = rng.integers(0, 256, 70_001, dtype=np.uint8).tobytes()
    assert _adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b)) == zlib.adler32(a + b)
    assert _adler32_combine(zlib.adler32(a), zlib.adler32(b""), 0) == zlib.adler32(a)


def test_float_quantization_matches_formula(tmp_path):
    values = np.array([[-0.5, 0.0, 0.2, 0.5, 0.999, 1.0, 3.0]], np.float32)
    p8 = save_png(tmp_path / "a.png", values)
    p16 = save_png(tmp_path / "b.png", values, bit_depth=16)
    clipped = np.clip(values.astype(np.float64), 0, 1)
    np.testing.assert_array_equal(_pillow(p8)[0], np.floor(clipped * 255 + 0.5))
    np.testing.assert_array_equal(_opencv(p16), np.floor(clipped * 65535 + 0.5))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("bits", [8, 16])
def test_quantize_equals_clip_scale_round_half_up(rng, dtype, bits):
    """quantize is clip(v, 0, 1) * (2**bits - 1) + 1/2 truncated, in v's float type.

    Bit for bit, whether the values lie in [0, 1] (the clip is then skipped) or not.
    """
    target, scale = (np.uint16, np.float32(65535)) if bits == 16 else (np.uint8, np.float32(255))
    inside = rng.random((64, 70)).astype(dtype)
    inside[0, :4] = [0.0, 1.0, 0.5, np.nextafter(dtype(1), dtype(0))]
    outside = (rng.random((64, 70)) * 1.4 - 0.2).astype(dtype)
    for values in (inside, outside, inside.reshape(64, 14, 5)[..., :3]):
        expected = ((np.clip(values, 0.0, 1.0) * scale) + np.float32(0.5)).astype(target)
        got = png_mod.quantize(values, bits)
        assert got.dtype == target
        np.testing.assert_array_equal(got, expected)
    assert png_mod.quantize(np.zeros((0, 3), dtype), bits).shape == (0, 3)
    with pytest.raises(ParameterError, match="non-finite"):
        png_mod.quantize(np.array([0.5, np.inf], dtype), bits)


def test_text_chunks_read_by_pillow(tmp_path):
    text = {"Software": "sketchgrad test", "sketchgrad": '{"a": 1}', "Title": "Ünïcode ✓ page"}
    path = save_png(tmp_path / "t.png", np.zeros((3, 4), np.uint8), text=text)
    _, got, mode = _pillow(path)
    assert got == text
    assert mode == "L"


def test_streamed_strips_equal_whole_save(tmp_path, rng):
    data = rng.random((50, 33, 3), dtype=np.float32)
    whole = save_png(tmp_path / "w.png", data)
    strips = save_png(tmp_path / "s.png", (data[i:i + 7] for i in range(0, 50, 7)),
                      shape=data.shape)
    np.testing.assert_array_equal(_pillow(whole)[0], _pillow(strips)[0])


def test_atomic_temp_name_and_umask_mode(tmp_path, monkeypatch):
    seen = []
    real = png_mod._write_all

    def spy(fh, data):
        seen.extend(os.listdir(tmp_path))
        real(fh, data)

    monkeypatch.setattr(png_mod, "_write_all", spy)
    old = os.umask(0o027)
    try:
        path = save_png(tmp_path / "out.png", np.zeros((2, 2), np.uint8))
    finally:
        os.umask(old)
    assert any(n.startswith(".out.png.") and n.endswith(".tmp") for n in seen)
    assert os.listdir(tmp_path) == ["out.png"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_disk_full_raises_output_error_and_keeps_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "keep.png"
    dest.write_bytes(b"old")
    calls = []

    def full(fh, data):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        fh.write(data)

    monkeypatch.setattr(png_mod, "_write_all", full)
    with pytest.raises(OutputError, match="no space left"):
        save_png(dest, np.zeros((10, 10), np.uint8))
    assert dest.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.png"]


def test_unwritable_folder_is_output_error(tmp_path):
    with pytest.raises(OutputError, match="cannot write here"):
        save_png(tmp_path / "missing" / "x.png", np.zeros((2, 2), np.uint8))


def test_parameter_errors(tmp_path):
    img = np.zeros((2, 2), np.float32)
    with pytest.raises(ParameterError, match="bit_depth=12"):
        save_png(tmp_path / "a.png", img, bit_depth=12)
    with pytest.raises(ParameterError, match="compression=10"):
        save_png(tmp_path / "a.png", img, compression=10)
    with pytest.raises(ParameterError, match="only supported for grey"):
        save_png(tmp_path / "a.png", np.zeros((2, 2, 3)), bit_depth=16)
    with pytest.raises(ParameterError, match=r"shape \(2, 2, 4\)"):
        save_png(tmp_path / "a.png", np.zeros((2, 2, 4)))
    with pytest.raises(ParameterError, match="non-finite"):
        save_png(tmp_path / "a.png", np.array([[np.nan, 0.5]], np.float32))
    with pytest.raises(ParameterError, match="engine='brotli' is not known; choose one of"):
        PngWriter(tmp_path / "a.png", 2, 2, engine="brotli")
    with pytest.raises(ParameterError, match="dtype int32"):
        save_png(tmp_path / "a.png", np.zeros((2, 2), np.int32))
    assert os.listdir(tmp_path) == []


def test_writer_needs_every_row(tmp_path):
    w = PngWriter(tmp_path / "short.png", 4, 3)
    w.write(np.zeros((2, 4), np.uint8))
    with pytest.raises(ParameterError, match="got 2 of 3 rows"):
        w.close()
    assert os.listdir(tmp_path) == []


def test_without_isal_everything_uses_zlib(tmp_path, monkeypatch):
    monkeypatch.setattr(png_mod, "_isal", lambda: None)
    assert deflate_engines() == ("zlib",)
    with pytest.raises(ParameterError, match="pip install isal"):
        PngWriter(tmp_path / "a.png", 2, 2, engine="isal")
    data = np.arange(60, dtype=np.uint8).reshape(6, 10)
    path = save_png(tmp_path / "z.png", data)
    np.testing.assert_array_equal(_pillow(path)[0], data)


@pytest.mark.parametrize("filter_type", list(PNG_FILTERS))
def test_bands_of_side_by_side_blocks(tmp_path, rng, monkeypatch, filter_type):
    monkeypatch.setattr(png_mod, "_STRIP_BYTES", 700)  # strips cut across the bands
    data = rng.random((45, 31, 3), dtype=np.float32)
    path = tmp_path / "b.png"
    with PngWriter(path, 31, 45, channels=3, filter_type=filter_type) as w:
        for y in range(0, 45, 16):
            band = data[y:y + 16]
            w.write([band[:, :7], band[:, 7:20], band[:, 20:]])
    expected = np.floor(np.clip(data, 0, 1) * 255 + 0.5)
    np.testing.assert_array_equal(_pillow(path)[0], expected)
    with pytest.raises(ParameterError, match="do not fit a 31-pixel wide RGB PNG"):
        PngWriter(tmp_path / "c.png", 31, 2, channels=3).write([data[:2, :7], data[:2, :7]])
