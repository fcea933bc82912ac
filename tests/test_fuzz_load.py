"""Fuzzing load_scan: mutated PNG, JPEG and TIFF bytes give an image or a ScanError.

Never another exception, never a hang: every example runs under an alarm. The
mutations are plain (flip, overwrite, insert, cut bytes) and structure-aware
(PNG chunks with their CRCs fixed, so the damage reaches the decoders; TIFF
header and IFD numbers set to edge values). ``scripts/fuzz_load.py`` runs the
same mutations (or atheris) for much longer.
"""

import io
import signal
import struct
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
import tifffile
from corpus import _save, line_drawing, png_bytes, png_chunks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sketchgrad.errors import ScanError
from sketchgrad.io import load_scan

#: Pixels a fuzzed header may claim; keeps each example small and fast.
FUZZ_MAX_PIXELS = 1 << 18
#: Seconds one load may take before it counts as a hang.
HANG_SECONDS = 20


def seed_files() -> dict[str, bytes]:
    """Small valid files of many layouts, the starting points of every mutation."""
    drawing = line_drawing(24, 32)
    grey = Image.fromarray(np.round(drawing * 255).astype(np.uint8))
    rgb = Image.merge("RGB", [grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grey])
    rgba = rgb.copy()
    rgba.putalpha(grey)
    grey16 = Image.fromarray(np.round(drawing * 65535).astype(np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6
    seeds = {
        "png_grey": _save(grey, "PNG"),
        "png_rgba": _save(rgba, "PNG"),
        "png_grey16": _save(grey16, "PNG"),
        "png_palette": _save(rgb.quantize(16), "PNG", transparency=3),
        "png_interlaced": _save(rgb, "PNG", interlace=1),
        "png_exif": _save(grey, "PNG", exif=exif),
        "jpeg_grey": _save(grey, "JPEG", quality=80),
        "jpeg_progressive": _save(rgb, "JPEG", quality=80, progressive=True, exif=exif),
        "jpeg_cmyk": _save(rgb.convert("CMYK"), "JPEG"),
        "tiff_raw": _save(rgb, "TIFF"),
        "tiff_lzw_pages": _save(grey, "TIFF", compression="tiff_lzw", save_all=True,
                                append_images=[rgb]),
        "tiff_g4": _save(grey.convert("1"), "TIFF", compression="group4"),
        "tiff_float": _save(Image.fromarray(drawing, "F"), "TIFF"),
    }
    buf = io.BytesIO()
    rgb16 = np.dstack([np.asarray(grey16)] * 3)
    tifffile.imwrite(buf, rgb16, photometric="rgb", compression="zlib")
    seeds["tiff_rgb16"] = buf.getvalue()
    return seeds


SEEDS = seed_files()
SEED_NAMES = sorted(SEEDS)


# --------------------------------------------------------------------------- mutations

def flip(data: bytearray, draw) -> bytearray:
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    return data


def overwrite(data: bytearray, draw) -> bytearray:
    start = draw(st.integers(0, len(data) - 1))
    chunk = draw(st.binary(min_size=1, max_size=64))
    data[start:start + len(chunk)] = chunk
    return data


def cut(data: bytearray, draw) -> bytearray:
    return data[:draw(st.integers(0, len(data) - 1))]


def insert(data: bytearray, draw) -> bytearray:
    pos = draw(st.integers(0, len(data)))
    return data[:pos] + draw(st.binary(min_size=1, max_size=64)) + data[pos:]


def duplicate(data: bytearray, draw) -> bytearray:
    start = draw(st.integers(0, len(data) - 1))
    end = draw(st.integers(start, min(len(data), start + 256)))
    return data[:end] + data[start:end] + data[end:]


EDGE_NUMBERS = [0, 1, 2, 3, 7, 8, 16, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF,
                0xFFFFFFFF]


def png_chunk_mutation(data: bytearray, draw) -> bytearray:
    """Change one chunk's payload (or the pixels inside IDAT) and fix the CRCs."""
    chunks = png_chunks(bytes(data))
    if not chunks:
        return data
    index = draw(st.integers(0, len(chunks) - 1))
    kind, payload = chunks[index]
    how = draw(st.sampled_from(["field", "bytes", "pixels", "drop", "repeat"]))
    if how == "field" and len(payload) >= 4:
        pos = draw(st.integers(0, len(payload) - 4))
        value = draw(st.sampled_from(EDGE_NUMBERS))
        payload = payload[:pos] + struct.pack(">I", value) + payload[pos + 4:]
    elif how == "field" and payload:
        payload = bytes([draw(st.integers(0, 255))]) + payload[1:]
    elif how == "bytes" and payload:
        payload = bytes(flip(bytearray(payload), draw))
    elif how == "pixels" and kind == b"IDAT":
        try:
            raw = bytearray(zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT")))
        except zlib.error:
            raw = bytearray()
        if raw:
            raw = flip(raw, draw)  # filter bytes and samples, valid zlib around them
            chunks = [(k, p) for k, p in chunks if k != b"IDAT"]
            chunks.insert(min(index, len(chunks)), (b"IDAT", zlib.compress(bytes(raw))))
            return bytearray(png_bytes(chunks))
    elif how == "drop":
        del chunks[index]
        return bytearray(png_bytes(chunks))
    elif how == "repeat":
        chunks.insert(index, (kind, payload))
        return bytearray(png_bytes(chunks))
    chunks[index] = (kind, payload)
    return bytearray(png_bytes(chunks))


def tiff_number_mutation(data: bytearray, draw) -> bytearray:
    """Set a 16- or 32-bit number in the first bytes (header and IFDs) to an edge value."""
    little = data[:2] == b"II"
    width = draw(st.sampled_from([2, 4]))
    limit = min(len(data), 512) - width
    if limit <= 0:
        return data
    pos = draw(st.integers(0, limit))
    value = draw(st.sampled_from(EDGE_NUMBERS)) & (0xFFFF if width == 2 else 0xFFFFFFFF)
    fmt = ("<" if little else ">") + ("H" if width == 2 else "I")
    data[pos:pos + width] = struct.pack(fmt, value)
    return data


def jpeg_segment_mutation(data: bytearray, draw) -> bytearray:
    """Set a 16-bit field of one JPEG marker segment (lengths, SOF sizes) to an edge value."""
    segments, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xD9, 0xDA):
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        segments.append((pos + 2, length))
        pos += 2 + length
    if not segments:
        return data
    start, length = draw(st.sampled_from(segments))
    pos = start + draw(st.integers(0, max(0, length - 2)))
    value = draw(st.sampled_from(EDGE_NUMBERS)) & 0xFFFF
    data[pos:pos + 2] = struct.pack(">H", value)
    return data


PLAIN = [flip, overwrite, cut, insert, duplicate]


@st.composite
def mutated_files(draw):
    name = draw(st.sampled_from(SEED_NAMES))
    data = bytearray(SEEDS[name])
    choices = list(PLAIN)
    if name.startswith("png"):
        choices += [png_chunk_mutation] * 3
    if name.startswith("tiff"):
        choices += [tiff_number_mutation] * 3
    if name.startswith("jpeg"):
        choices += [jpeg_segment_mutation] * 3
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        data = draw(st.sampled_from(choices))(data, draw)
    return name, bytes(data)


# --------------------------------------------------------------------------- checks

@contextmanager
def no_hang(seconds: int = HANG_SECONDS):
    def alarm(signum, frame):
        raise TimeoutError(f"load_scan did not finish within {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check_load(data: bytes, mode: str = "gray", page: int = 0) -> str:
    """Load ``data``; return "ok" or "refused". Anything else fails the test."""
    with no_hang():
        try:
            scan = load_scan(io.BytesIO(data), mode=mode, max_pixels=FUZZ_MAX_PIXELS, page=page)
        except ScanError as exc:
            assert str(exc).startswith("<stream>: ")
            return "refused"
    image = scan.image
    assert image.dtype == np.float32
    assert image.ndim == (2 if mode == "gray" else 3)
    assert image.size > 0 and image.shape[0] * image.shape[1] <= FUZZ_MAX_PIXELS
    assert np.isfinite(image).all()
    assert image.min() >= 0.0 and image.max() <= 1.0
    return "ok"


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seeds_load(name):
    assert check_load(SEEDS[name]) == "ok"
    assert check_load(SEEDS[name], mode="rgb") == "ok"


@settings(max_examples=600, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_files(), st.sampled_from(["gray", "rgb"]), st.sampled_from([0, 0, 0, 1]))
def test_mutated_files_give_image_or_scan_error(case, mode, page):
    _, data = case
    check_load(data, mode=mode, page=page)


def test_mutations_reach_both_outcomes():
    # The fuzz test means something only if mutated files both load and fail.
    outcomes = set()

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(mutated_files())
    def run(case):
        outcomes.add(check_load(case[1]))

    run()
    assert outcomes == {"ok", "refused"}


def test_finding_tiff_with_thousands_of_samples_per_pixel_is_refused_quickly():
    # Found by the atheris campaign: a header claiming 32771 samples per pixel made
    # tifffile allocate and decode gigabytes (a hang). Now refused from the header.
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.zeros((24, 32), np.uint8))
    data = bytearray(buf.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        tag = tif.pages[0].tags[277]  # SamplesPerPixel
        offset = tag.valueoffset
    data[offset:offset + 2] = struct.pack("<H", 32771)
    with no_hang(5), pytest.raises(ScanError, match="32771 samples per pixel"):
        load_scan(io.BytesIO(bytes(data)))
