"""load_scan: formats, precision, orientation, transparency, guards and messages."""

import io
import json
import re
import struct
import subprocess
import sys
import textwrap

import numpy as np
import PIL
import pytest
import tifffile
from corpus import BROKEN, UNUSUAL, build_corpus, line_drawing, png_bytes, png_chunks
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image, ImageFile, ImageOps

from sketchgrad.errors import ParameterError, ScanError
from sketchgrad.io import DEFAULT_MAX_PIXELS, LUMA_BT601, NativeImage, load_scan

#: float32 rounding of formulas evaluated in another order (values are in [0, 1]).
FLOAT_TOL = 2e-7


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def save(path, image, fmt=None, **options):
    image.save(path, format=fmt, **options)
    return path


def asymmetric(height=5, width=7):
    """Every pixel different, so any flip or rotation is visible."""
    return (np.arange(height * width, dtype=np.uint8) * 7 + 3).reshape(height, width)


# --------------------------------------------------------------------------- corpus

@pytest.mark.parametrize("key", list(BROKEN))
def test_broken_file_raises_scan_error_naming_it(corpus, key):
    path = corpus["files"][key]
    with pytest.raises(ScanError, match=re.escape(str(path))):
        load_scan(path)


@pytest.mark.parametrize("key", list(UNUSUAL))
def test_unusual_file_loads_whole_and_finite(corpus, key):
    path = corpus["files"][key]
    for mode in ("gray", "rgb"):
        image = load_scan(path, mode=mode).image
        shape = corpus["shapes"][path]
        assert image.shape == (shape if mode == "gray" else shape + (3,))
        assert image.dtype == np.float32 and image.flags.c_contiguous
        assert np.isfinite(image).all()
        assert image.min() >= 0 and image.max() <= 1


def test_corpus_lists_are_disjoint_and_complete(corpus):
    assert len(corpus["broken"]) == len(BROKEN) and len(corpus["unusual"]) == len(UNUSUAL)
    assert not set(corpus["broken"]) & set(corpus["unusual"])
    assert corpus["files"]["folder"].is_dir()


@pytest.mark.parametrize("key, pattern", [
    ("empty", "empty \\(0 bytes\\)"),
    ("text", "is a text file, not an image"),
    ("truncated_png", "PNG data is truncated"),
    ("truncated_jpeg", "JPEG data is truncated"),
    ("corrupt_idat", "PNG data is corrupt"),
    ("random", "not an image sketchgrad can read.*PNG, JPEG, TIFF"),
    ("bomb", "60000x60000 = 3,600,000,000 pixels is more than max_pixels=300,000,000.*"
             "raise max_pixels"),
    ("svg", "SVG is not supported: export .* as PNG"),
    ("pdf", "PDF is not supported: export the page as PNG or TIFF"),
    ("folder", "is a folder, not an image file"),
])
def test_broken_file_message_says_what_is_wrong(corpus, key, pattern):
    with pytest.raises(ScanError, match=pattern):
        load_scan(corpus["files"][key])


def test_missing_file(tmp_path):
    with pytest.raises(ScanError, match="nothere.png: no such file"):
        load_scan(tmp_path / "nothere.png")


def test_other_known_non_images_get_a_hint(tmp_path):
    heic = tmp_path / "IMG_0001.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(ScanError, match="HEIC/AVIF is not supported: export .* JPEG"):
        load_scan(heic)
    psd = tmp_path / "art.psd"
    psd.write_bytes(b"8BPS\x00\x01" + b"\x00" * 64)
    with pytest.raises(ScanError, match="Photoshop"):
        load_scan(psd)


def test_loading_truncated_files_leaves_pillow_strict(corpus):
    for key in ("truncated_png", "truncated_jpeg"):
        with pytest.raises(ScanError):
            load_scan(corpus["files"][key])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --------------------------------------------------------------------------- bombs

def tiff_header_only(width, height):
    """A little-endian TIFF whose IFD claims width x height 8-bit grey, with no data."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, width * height)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (
            struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00"


def jpeg_claiming(width, height):
    """A valid small JPEG whose SOF header is patched to claim width x height."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 128).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("kind", ["png", "jpeg", "tiff"])
def test_bomb_refused_from_header_quickly_and_in_little_memory(corpus, tmp_path, kind):
    if kind == "png":
        path = corpus["files"]["bomb"]
    else:
        path = tmp_path / f"bomb.{kind}"
        path.write_bytes(jpeg_claiming(60000, 60000) if kind == "jpeg"
                         else tiff_header_only(60000, 60000))
    # A fresh interpreter, so the peak resident memory belongs to this load alone.
    script = textwrap.dedent(f"""
        import json, resource, time
        from sketchgrad.io import load_scan
        from sketchgrad.errors import ScanError
        load_scan  # imported before measuring
        import PIL.Image, cv2
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            load_scan({str(path)!r})
            message = None
        except ScanError as exc:
            message = str(exc)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"message": message, "seconds": seconds,
                          "grown_kib": after - before}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60)
    result = json.loads(out.stdout)
    assert result["message"] is not None and "max_pixels" in result["message"]
    assert str(path) in result["message"]
    assert result["seconds"] < 1.0
    assert result["grown_kib"] < 100 * 1024


def test_max_pixels_boundary_and_none(tmp_path):
    path = save(tmp_path / "a.png", Image.fromarray(asymmetric(5, 7)))
    assert load_scan(path, max_pixels=35).image.shape == (5, 7)
    with pytest.raises(ScanError, match="7x5 = 35 pixels is more than max_pixels=34"):
        load_scan(path, max_pixels=34)
    assert load_scan(path, max_pixels=None).image.shape == (5, 7)
    assert DEFAULT_MAX_PIXELS >= 14032 * 19843  # 1200-dpi A3


@pytest.mark.parametrize("fmt, options", [
    ("PNG", {}), ("TIFF", {}), ("JPEG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {}),
    ("TIFF", {"compression": "tiff_lzw"}),
])
def test_pillow_process_limit_does_not_apply_or_change(tmp_path, monkeypatch, fmt, options):
    # Pillow would warn (an error under pytest) or refuse images over its own limit;
    # load_scan's max_pixels is the only guard, and Pillow's setting is left as it was.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    image = Image.fromarray(asymmetric(40, 56))
    path = save(tmp_path / f"big.{fmt.lower()}", image, fmt, **options)
    scan = load_scan(path)
    assert scan.image.shape == (40, 56)
    assert Image.MAX_IMAGE_PIXELS == 100


# --------------------------------------------------------------------------- precision

def every_uint16():
    return np.arange(65536, dtype=np.uint16).reshape(256, 256)


def test_16bit_png_and_tiff_keep_every_value(tmp_path):
    values = every_uint16()
    expected = (values / 65535).astype(np.float32)
    png = save(tmp_path / "g16.png", Image.fromarray(values))
    tif = tmp_path / "g16.tif"
    tifffile.imwrite(tif, values)
    for path in (png, tif):
        scan = load_scan(path)
        assert_array_equal(scan.image, expected)
        assert scan.meta.bit_depth == 16
        rgb = load_scan(path, mode="rgb").image
        for channel in range(3):
            assert_array_equal(rgb[..., channel], expected)


def test_16bit_rgb_tiff_and_png_keep_every_value(tmp_path):
    import cv2

    values = every_uint16()
    rgb16 = np.dstack([values, values.T, 65535 - values])
    tif = tmp_path / "rgb16.tif"
    tifffile.imwrite(tif, rgb16, photometric="rgb")
    png = tmp_path / "rgb16.png"
    cv2.imwrite(str(png), rgb16[..., ::-1])  # OpenCV writes BGR
    expected = (rgb16 / 65535).astype(np.float32)
    luma = (rgb16 / 65535) @ np.array(LUMA_BT601)
    for path in (tif, png):
        scan = load_scan(path, mode="rgb")
        assert_array_equal(scan.image, expected)
        assert scan.meta.bit_depth == 16
        assert_allclose(load_scan(path).image, luma, rtol=0, atol=FLOAT_TOL)
    # kept as stored (the command's load): the 16-bit samples themselves, read as either
    native = load_scan(png, mode="auto", dtype="native").image
    assert isinstance(native, NativeImage) and native.samples.dtype == np.uint16
    assert_array_equal(native.samples, rgb16)
    assert_array_equal(native[3:40, 5:70], expected[3:40, 5:70])
    assert_array_equal(NativeImage(native.samples, "gray").to_float(), load_scan(png).image)


def test_16bit_rgba_png_composited_in_16_bit(tmp_path):
    import cv2

    values = every_uint16()
    alpha = values.T.copy()
    rgba16 = np.dstack([values, 65535 - values, values, alpha])
    path = tmp_path / "rgba16.png"
    cv2.imwrite(str(path), rgba16[..., [2, 1, 0, 3]])
    a = alpha / 65535
    expected = (rgba16[..., :3] / 65535) * a[..., None] + (1 - a[..., None])
    assert_allclose(load_scan(path, mode="rgb").image, expected, rtol=0, atol=FLOAT_TOL)


def test_float_tiff_kept_clipped_and_nonfinite_rule(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.random((20, 30), dtype=np.float32)
    values[0, :3] = [np.nan, np.inf, -np.inf]
    values[1, :2] = [1.5, -0.25]
    path = save(tmp_path / "f.tif", Image.fromarray(values, "F"))
    scan = load_scan(path)
    expected = values.copy()
    expected[0, :3] = [1.0, 1.0, 0.0]  # NaN, +inf -> paper; -inf -> ink
    expected[1, :2] = [1.0, 0.0]
    assert_array_equal(scan.image, expected)
    assert scan.meta.nonfinite == 3 and scan.meta.bit_depth == 32


def test_float64_and_float_rgb_tiff_via_tifffile(tmp_path):
    rng = np.random.default_rng(4)
    grey = rng.random((12, 9))
    tifffile.imwrite(tmp_path / "f64.tif", grey)
    assert_array_equal(load_scan(tmp_path / "f64.tif").image, grey.astype(np.float32))
    colour = rng.random((12, 9, 3), dtype=np.float32)
    colour[2, 2, 1] = np.nan
    tifffile.imwrite(tmp_path / "frgb.tif", colour, photometric="rgb")
    scan = load_scan(tmp_path / "frgb.tif", mode="rgb")
    expected = colour.copy()
    expected[2, 2, 1] = 1.0
    assert_array_equal(scan.image, expected)
    assert scan.meta.nonfinite == 1


def test_32bit_integer_tiff_scaled_by_its_type(tmp_path):
    values = np.array([[0, 2**31, 2**32 - 1]], np.uint32)
    tifffile.imwrite(tmp_path / "u32.tif", values)
    assert_allclose(load_scan(tmp_path / "u32.tif").image, values / (2**32 - 1), atol=1e-7)


# --------------------------------------------------------------------------- colour

def test_grey_is_bt601_in_float(tmp_path):
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = save(tmp_path / "rgb.png", Image.fromarray(rgb))
    grey = load_scan(path).image
    formula = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255
    assert_allclose(grey, formula, rtol=0, atol=FLOAT_TOL)
    # Pillow's convert("L") uses the same weights but rounds to 8 bits.
    pillow = np.asarray(Image.fromarray(rgb).convert("L")) / 255
    assert np.abs(grey - pillow).max() <= 0.5 / 255 + 1e-6
    assert_array_equal(load_scan(path, mode="rgb").image, (rgb / 255).astype(np.float32))


def test_alpha_composited_over_white(tmp_path):
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], np.uint8)
    alpha = np.array([[0, 255, 128, 64]], np.uint8)
    path = save(tmp_path / "rgba.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    a = alpha[..., None] / 255
    expected = rgb / 255 * a + (1 - a)
    assert_allclose(load_scan(path, mode="rgb").image, expected, atol=FLOAT_TOL)
    assert_allclose(load_scan(path).image, expected @ np.array(LUMA_BT601), atol=FLOAT_TOL)
    la = np.dstack([np.array([[0, 100, 200]], np.uint8), np.array([[0, 128, 255]], np.uint8)])
    path = save(tmp_path / "la.png", Image.fromarray(la, "LA"))
    a = la[..., 1] / 255
    assert_allclose(load_scan(path).image, la[..., 0] / 255 * a + 1 - a, atol=FLOAT_TOL)


def test_palette_with_and_without_transparency(tmp_path):
    index = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    palette = [250, 240, 230, 20, 30, 40, 128, 0, 255]
    image = Image.fromarray(index, "P")
    image.putpalette(palette)
    colours = np.array(palette, np.float64).reshape(3, 3)[index] / 255
    plain = save(tmp_path / "p.png", image)
    assert_allclose(load_scan(plain, mode="rgb").image, colours, atol=FLOAT_TOL)
    keyed = save(tmp_path / "pt.png", image, transparency=1)
    expected = colours.copy()
    expected[index == 1] = 1.0  # index 1 is transparent: paper
    assert_allclose(load_scan(keyed, mode="rgb").image, expected, atol=FLOAT_TOL)
    gif = save(tmp_path / "p.gif", image, transparency=1)
    assert_allclose(load_scan(gif, mode="rgb").image, expected, atol=FLOAT_TOL)


def test_grey_png_with_colour_key(tmp_path):
    data = png_bytes([(b"IHDR", struct.pack(">IIBBBBB", 3, 1, 8, 0, 0, 0, 0)),
                      (b"tRNS", struct.pack(">H", 40)),
                      (b"IDAT", __import__("zlib").compress(bytes([0, 40, 41, 0]))),
                      (b"IEND", b"")])
    path = tmp_path / "key.png"
    path.write_bytes(data)
    assert_allclose(load_scan(path).image, [[1.0, 41 / 255, 0.0]], atol=FLOAT_TOL)


def test_16bit_rgb_png_with_colour_key(tmp_path):
    """A tRNS colour key in a 16-bit RGB PNG: the keyed colour is paper, as in 8 bits."""
    key, other = (1000, 20000, 65535), (1000, 20000, 65534)
    row = struct.pack(">9H", *key, *other, 0, 0, 0)
    data = png_bytes([(b"IHDR", struct.pack(">IIBBBBB", 3, 1, 16, 2, 0, 0, 0)),
                      (b"tRNS", struct.pack(">3H", *key)),
                      (b"IDAT", __import__("zlib").compress(b"\x00" + row)),
                      (b"IEND", b"")])
    path = tmp_path / "key16.png"
    path.write_bytes(data)
    want = np.array([[[1.0, 1.0, 1.0], np.array(other) / 65535, [0.0, 0.0, 0.0]]])
    assert_allclose(load_scan(path, mode="rgb").image, want, atol=FLOAT_TOL)
    assert load_scan(path).meta.bit_depth == 16


def test_cmyk_by_formula(tmp_path):
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 128, 0, 64], [30, 60, 90, 255]]],
                    np.uint8)
    path = save(tmp_path / "c.tif", Image.fromarray(cmyk, "CMYK"))
    c = cmyk / 255
    expected = (1 - c[..., :3]) * (1 - c[..., 3:])
    assert_allclose(load_scan(path, mode="rgb").image, expected, atol=FLOAT_TOL)
    pillow = np.asarray(Image.open(path).convert("RGB")) / 255
    assert np.abs(load_scan(path, mode="rgb").image - pillow).max() <= 1 / 255


def test_cmyk_jpeg_matches_pillow_conversion(corpus):
    path = corpus["files"]["cmyk_jpeg"]
    pillow = np.asarray(Image.open(path).convert("RGB")) / 255
    assert np.abs(load_scan(path, mode="rgb").image - pillow).max() <= 1 / 255


def test_one_bit_and_pages(tmp_path):
    first = asymmetric(5, 7) > 100
    second = ~first
    path = save(tmp_path / "pages.tif", Image.fromarray(first).convert("1"), save_all=True,
                append_images=[Image.fromarray(second).convert("1")], compression="group4")
    assert_array_equal(load_scan(path).image, first.astype(np.float32))
    scan = load_scan(path, page=1)
    assert_array_equal(scan.image, second.astype(np.float32))
    assert scan.meta.page == 1 and scan.meta.bit_depth == 1
    with pytest.raises(ScanError, match="pages.tif: has no page 2; it has 2 pages"):
        load_scan(path, page=2)
    single = save(tmp_path / "one.png", Image.fromarray(first))
    with pytest.raises(ScanError, match="has no page 1; it has 1 page "):
        load_scan(single, page=1)


def test_gif_first_frame_by_default(corpus):
    path = corpus["files"]["animated_gif"]
    expected = np.round(np.clip(line_drawing(40, 56), 0, 1) * 255) / 255
    assert_allclose(load_scan(path).image, expected, atol=FLOAT_TOL)
    assert_allclose(load_scan(path, page=1).image, expected[::-1], atol=FLOAT_TOL)


@pytest.mark.parametrize("fmt, options", [("WEBP", {"lossless": True}), ("BMP", {}),
                                          ("TIFF", {"compression": "tiff_deflate"})])
def test_lossless_formats_exact(tmp_path, fmt, options):
    rgb = np.dstack([asymmetric(6, 9), asymmetric(6, 9)[::-1], asymmetric(6, 9)[:, ::-1]])
    path = save(tmp_path / f"x.{fmt.lower()}", Image.fromarray(rgb), fmt, **options)
    assert_array_equal(load_scan(path, mode="rgb").image, (rgb / 255).astype(np.float32))


# --------------------------------------------------------------------------- orientation

#: How the EXIF spec stores a picture V for each tag (where row 0 / column 0 belong).
STORED_FROM_VISUAL = {
    1: lambda v: v,                    # top-left
    2: lambda v: v[:, ::-1],           # top-right: mirrored
    3: lambda v: v[::-1, ::-1],        # bottom-right: upside down
    4: lambda v: v[::-1],              # bottom-left: flipped vertically
    5: lambda v: v.T,                  # left-top: transposed
    6: lambda v: np.rot90(v, 1),       # right-top: camera turned clockwise
    7: lambda v: v[::-1, ::-1].T,      # right-bottom: transverse
    8: lambda v: np.rot90(v, -1),      # left-bottom: camera turned anticlockwise
}


@pytest.mark.parametrize("tag", range(1, 9))
def test_exif_orientation_png(tmp_path, tag):
    visual = asymmetric(5, 7)
    stored = np.ascontiguousarray(STORED_FROM_VISUAL[tag](visual))
    exif = Image.Exif()
    exif[0x0112] = tag
    path = save(tmp_path / "o.png", Image.fromarray(stored), exif=exif)
    scan = load_scan(path)
    assert_array_equal(scan.image, (visual / 255).astype(np.float32))
    assert scan.meta.orientation == tag
    assert scan.meta.size == (stored.shape[1], stored.shape[0])
    # Pillow's exif_transpose agrees.
    assert_array_equal(np.asarray(ImageOps.exif_transpose(Image.open(path))), visual)


@pytest.mark.parametrize("tag", [3, 6, 8])
def test_exif_orientation_jpeg_and_tiff(tmp_path, tag):
    visual = np.kron(asymmetric(3, 4), np.ones((8, 8), np.uint8))  # 8x8 blocks: JPEG-safe
    stored = np.ascontiguousarray(STORED_FROM_VISUAL[tag](visual))
    exif = Image.Exif()
    exif[0x0112] = tag
    jpeg = save(tmp_path / "o.jpg", Image.fromarray(stored), quality=100, exif=exif)
    assert np.abs(load_scan(jpeg).image - visual / 255).max() < 3 / 255
    tif = save(tmp_path / "o.tif", Image.fromarray(stored), tiffinfo={274: tag})
    assert_array_equal(load_scan(tif).image, (visual / 255).astype(np.float32))


# --------------------------------------------------------------------------- sources

def test_file_objects_and_content_detection(corpus, tmp_path):
    path = corpus["files"]["jpeg_named_png"]
    from_path = load_scan(path)
    assert from_path.meta.format == "JPEG"
    with open(path, "rb") as fh:
        fh.read(10)  # the position does not matter: read from the start
        scan = load_scan(fh)
        assert not fh.closed
    assert_array_equal(scan.image, from_path.image)
    assert scan.meta.source == str(path)
    assert_array_equal(load_scan(io.BytesIO(path.read_bytes())).image, from_path.image)

    class Pipe:  # read() only, like a pipe or socket
        def __init__(self, data):
            self.buffer = io.BytesIO(data)

        def read(self, size=-1):
            return self.buffer.read(size)

    assert_array_equal(load_scan(Pipe(path.read_bytes())).image, from_path.image)
    with pytest.raises(ScanError, match="<stream>: the file is empty"):
        load_scan(io.BytesIO(b""))
    with open(path, encoding="latin-1") as text, pytest.raises(ParameterError, match="'rb'"):
        load_scan(text)


def test_metadata(tmp_path):
    path = save(tmp_path / "m.png", Image.fromarray(asymmetric(5, 7)), dpi=(300, 300))
    meta = load_scan(path).meta
    assert meta.source == str(path) and meta.size == (7, 5) and meta.mode == "L"
    assert meta.bit_depth == 8 and meta.page == 0 and meta.orientation == 1
    assert meta.format == "PNG" and meta.nonfinite == 0
    assert_allclose(meta.dpi, (300, 300), atol=0.01)
    assert load_scan(save(tmp_path / "n.png", Image.fromarray(asymmetric()))).meta.dpi is None


def test_parameter_errors(tmp_path):
    path = save(tmp_path / "a.png", Image.fromarray(asymmetric()))
    with pytest.raises(ParameterError, match="mode='grey' is not known; choose one of: 'gray'"):
        load_scan(path, mode="grey")
    with pytest.raises(ParameterError, match="max_pixels=0 must be a positive integer"):
        load_scan(path, max_pixels=0)
    with pytest.raises(ParameterError, match="page=-1 must be an integer >= 0"):
        load_scan(path, page=-1)
    with pytest.raises(ParameterError, match="not a file name or a binary file object"):
        load_scan(42)


def test_corrupt_crc_and_wrong_idat_length(tmp_path):
    good = io.BytesIO()
    Image.fromarray(asymmetric(20, 20)).save(good, "PNG")
    data = bytearray(good.getvalue())
    data[-20] ^= 0xFF  # inside IDAT, CRC left stale
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ScanError, match="crc.png: the PNG data is corrupt"):
        load_scan(tmp_path / "crc.png")
    # IDAT cut in half, with a valid CRC: the zlib stream ends before the last rows.
    chunks = [(k, d[:len(d) // 2] if k == b"IDAT" else d) for k, d in png_chunks(good.getvalue())]
    (tmp_path / "short.png").write_bytes(png_bytes(chunks))
    with pytest.raises(ScanError, match="short.png: the PNG data is (corrupt|truncated)"):
        load_scan(tmp_path / "short.png")


@pytest.mark.parametrize("options", [{"lossless": True}, {"quality": 80},
                                     {"lossless": True, "exif": b"Exif\x00\x00II*\x00"}])
def test_webp_size_read_from_header_before_decoding(tmp_path, options):
    path = save(tmp_path / "w.webp", Image.fromarray(asymmetric(40, 56)).convert("RGB"),
                **options)
    with pytest.raises(ScanError, match="56x40 = 2,240 pixels is more than max_pixels=2,239"):
        load_scan(path, max_pixels=2239)
    assert load_scan(path, max_pixels=2240).image.shape == (40, 56)


def test_16bit_grey_png_opened_as_mode_i_by_older_pillow(tmp_path, monkeypatch):
    # Pillow 10.0-10.2 opens 16-bit grey PNGs as 32-bit mode "I" (later ones as "I;16");
    # make this Pillow do the same, then load every value and sketchgrad's own output.
    from PIL import PngImagePlugin

    from sketchgrad.png import save_png

    values = every_uint16()
    png = tmp_path / "g16.png"
    Image.fromarray(values).save(png)
    magnitude = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    ours = save_png(tmp_path / "ours.magnitude.png", magnitude, bit_depth=16)
    monkeypatch.setitem(PngImagePlugin._MODES, (16, 0), ("I", "I;16B"))
    with Image.open(png) as im:
        assert im.mode == "I"  # the old behaviour, really reproduced
    scan = load_scan(png)
    assert (scan.meta.mode, scan.meta.bit_depth) == ("I;16", 16)
    assert_array_equal(np.round(scan.image * 65535).astype(np.int64), values)
    back = load_scan(ours).image
    assert np.abs(back - magnitude).max() <= 0.5 / 65535 + FLOAT_TOL


# --------------------------------------------------------------------------- native dtype

@pytest.mark.parametrize("key", list(UNUSUAL))
def test_native_scan_reads_as_the_float32_scan_bit_for_bit(corpus, key):
    """dtype="native" defers only exact conversions: every region equals load_scan's floats."""
    from sketchgrad.io import NativeImage

    path = corpus["files"][key]
    for mode in ("gray", "rgb"):
        whole = load_scan(path, mode=mode).image
        native = load_scan(path, mode=mode, dtype="native")
        lazy = native.image
        if isinstance(lazy, NativeImage):
            assert lazy.samples.dtype in (np.uint8, np.uint16, bool)
            assert lazy.shape == whole.shape
            assert_array_equal(np.asarray(lazy), whole)
            h, w = whole.shape[:2]
            assert_array_equal(lazy[h // 3:, 1:w - 1], whole[h // 3:, 1:w - 1])
            assert_array_equal(lazy[-1], whole[-1])
        else:  # converted whole, as dtype="float32" does
            assert lazy.dtype == np.float32
            assert_array_equal(lazy, whole)


@pytest.mark.parametrize("tag", [1, 3, 6, 8])
@pytest.mark.parametrize("bits", [8, 16])
def test_native_scan_keeps_the_files_samples_turned_upright(tmp_path, tag, bits):
    from sketchgrad.io import NativeImage

    stored = asymmetric(6, 9).astype(np.uint16) * (257 if bits == 16 else 1)
    stored = stored.astype(np.uint8 if bits == 8 else np.uint16)
    exif = Image.Exif()
    exif[0x0112] = tag
    path = save(tmp_path / "o.png", Image.fromarray(stored), exif=exif)
    scan = load_scan(path, dtype="native")
    assert isinstance(scan.image, NativeImage)
    assert scan.image.samples.dtype == stored.dtype
    assert scan.image.nbytes == stored.nbytes  # the samples, not a float copy
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert_array_equal(scan.image.samples, upright)
    # an independent scale: the value over the type's largest, rounded once to float32
    assert_array_equal(scan.image[2:5, 1:4],
                       (upright[2:5, 1:4] / float(2 ** bits - 1)).astype(np.float32))


def test_colour_read_as_grey_stays_native_and_exact_region_by_region(tmp_path):
    """The BT.601 luma is taken pixel by pixel: a region read alone is that of the whole."""
    rgb = np.dstack([asymmetric(), asymmetric()[::-1], asymmetric()[:, ::-1]])
    path = save(tmp_path / "c.png", Image.fromarray(rgb))
    whole = load_scan(path).image
    lazy = load_scan(path, dtype="native").image
    assert isinstance(lazy, NativeImage)
    assert lazy.samples.dtype == np.uint8 and lazy.nbytes == rgb.nbytes
    assert lazy.shape == rgb.shape[:2] and lazy.ndim == 2
    for region in (np.s_[1:3, 2:6], np.s_[:, :1], np.s_[5:, 7:], np.s_[3, :]):
        assert_array_equal(lazy[region], whole[region])
    assert_array_equal(np.asarray(lazy), whole)
    # the luma itself, independently: the weights in float64, within float32 rounding
    assert_allclose(whole, (rgb / 255.0) @ np.array(LUMA_BT601), rtol=0, atol=2.5e-7)
    # a grey drawing saved as RGB loads as exactly the grey file
    grey = asymmetric()
    as_rgb = save(tmp_path / "g3.png", Image.fromarray(np.dstack([grey] * 3)))
    assert_array_equal(load_scan(as_rgb).image,
                       load_scan(save(tmp_path / "g.png", Image.fromarray(grey))).image)
    colour = load_scan(path, mode="rgb", dtype="native").image
    assert colour.samples.dtype == np.uint8 and colour.shape == rgb.shape
    assert_array_equal(colour[1:3, 2:6, 1], rgb[1:3, 2:6, 1] / np.float32(255))


def test_native_dtype_is_checked():
    from sketchgrad.io import NativeImage

    with pytest.raises(ParameterError,
                       match=r"dtype='uint8' is not known; choose one of: 'float32', 'native'"):
        load_scan(io.BytesIO(b"x"), dtype="uint8")
    with pytest.raises(ParameterError, match=r"samples of dtype float32 are not kept native"):
        NativeImage(np.zeros((2, 2), np.float32))
    with pytest.raises(ParameterError, match=r"samples of shape \(2, 2, 4\) and dtype uint8: "
                       r"give \(H, W\) grey samples, or \(H, W, 3\) 8- or 16-bit RGB"):
        NativeImage(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(ParameterError, match=r"shape \(2, 2, 3\) and dtype bool: give"):
        NativeImage(np.zeros((2, 2, 3), bool))


@pytest.mark.skipif(int(PIL.__version__.split(".")[0]) < 13,
                    reason="Pillow < 13 decodes into its own memory: the scan is copied once "
                           "(the fallback), which loads the same pixels")
@pytest.mark.parametrize(("fmt", "bits"), [("PNG", 8), ("PNG", 16), ("TIFF", 8), ("TIFF", 16),
                                           ("JPEG", 8)])  # (JPEG has no 16-bit grey)
def test_grey_scan_is_decoded_once_not_copied(tmp_path, monkeypatch, fmt, bits):
    """8/16-bit grey is decoded straight into the array (a scan is held once, not twice)."""
    stored = (asymmetric(40, 53).astype(np.uint16) * (257 if bits == 16 else 1))
    stored = stored.astype(np.uint8 if bits == 8 else np.uint16)
    path = save(tmp_path / f"g.{fmt.lower()}", Image.fromarray(stored), fmt)
    expected = np.asarray(Image.open(path))

    def copied(self, *args, **kwargs):
        raise AssertionError("the decoded image was copied")

    monkeypatch.setattr(Image.Image, "tobytes", copied)
    monkeypatch.setattr(Image.Image, "crop", copied)
    scan = load_scan(path, dtype="native")
    assert_array_equal(scan.image.samples, expected)
    assert_array_equal(load_scan(path).image, (expected / float(2 ** bits - 1)).astype(np.float32))


@pytest.mark.parametrize("mode", ["gray", "rgb"])
def test_a_whole_conversion_in_threads_is_the_one_in_a_single_thread(mode):
    """``NativeImage.to_float`` converts blocks of rows on every core: the same values."""
    from sketchgrad.io import _BLOCK_SAMPLES, _to_float

    rng = np.random.default_rng(3)
    rows = 3 * _BLOCK_SAMPLES // (1000 * 3) + 7   # three blocks and a part
    samples = rng.integers(0, 256, (rows, 1000, 3), dtype=np.uint8)
    one, _ = _to_float(samples, "RGB", mode, threads=1)
    assert_array_equal(NativeImage(samples, mode).to_float(), one)
    assert_array_equal(_to_float(samples, "RGB", mode, threads=3)[0], one)
    want = samples / 255.0 if mode == "rgb" else (samples / 255.0) @ np.array(LUMA_BT601)
    assert_allclose(one, want, rtol=0, atol=2.5e-7)
