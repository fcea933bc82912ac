"""Streaming the pipeline into PNG files tile by tile: :func:`process_to_files`.

Each tile (with a halo as wide as the denoiser's and operator's declared
reach) is computed in a thread pool by :mod:`sketchgrad.tiling`, and finished
rows are streamed into :class:`sketchgrad.png.PngWriter`; the preview is
drawn from thumbnails gathered as the tiles pass
(:class:`sketchgrad.preview.Thumbnails`). Peak memory is about the scan's
samples (kept in the file's dtype: 1 byte per pixel for 8-bit grey, each tile
converted to float32 as it is cut) plus a band of tiles, whatever the scan's size.

Nothing half-written is ever seen: every output of a call is written under a
hidden temporary name (``.<name>.<token>.tmp``) in its folder, and all of them
are renamed into place once, together, when the last one is complete.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from .errors import OutputError, ParameterError
from .io import NativeImage, Scan
from .pipeline import (
    OUTPUT_KINDS,
    PipelineConfig,
    Result,
    check_normalizer,
    config_of,
    image_for_channels,
    tile_side,
)
from .provenance import add_to_record, record_channels
from .tiling import TileEngine, Timer, plan_tiles, stages_needed

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from .io import ScanMeta
    from .normalize import Normalizer
    from .png import PngWriter
    from .renderer import PreviewRenderer
    from .strokes import StrokeStatistics

__all__ = ["process_to_files", "staged_name", "staging_token"]

#: Per output kind: the finished tile's stage written, channels and bit depth.
_LAYOUT = {"magnitude": ("normalized", 1, 16), "hsv": ("hsv", 3, 8), "sketch": ("sketch", 1, 8),
           "flow": ("flow", 3, 8)}


def staging_token() -> str:
    """A token no other writer uses at the same time: this process's id and 32 random bits.

    Examples
    --------
    >>> token = staging_token()
    >>> token.split("-")[0] == str(os.getpid()), len(token.split("-")[1])
    (True, 8)
    """
    return f"{os.getpid()}-{os.urandom(4).hex()}"


def staged_name(dest: Path, token: str) -> Path:
    """The hidden temporary name an output is written under before it is renamed into place.

    A PNG's is ``.<name>.<token>.tmp`` (what ``batch.remove_leftovers`` clears);
    another format's keeps its ending, which decides the format written.

    Examples
    --------
    >>> staged_name(Path("out/page.hsv.png"), "123-ab").as_posix()
    'out/.page.hsv.png.123-ab.tmp'
    >>> staged_name(Path("out/page.preview.jpg"), "123-ab").as_posix()
    'out/.page.preview.jpg.123-ab.tmp.jpg'
    """
    from .png import output_format

    ending = "" if output_format(dest) == "PNG" else dest.suffix
    return dest.with_name(f".{dest.name}.{token}.tmp{ending}")


def _check_destinations(paths: Mapping[str, str | os.PathLike[str]],
                        kinds: list[str]) -> None:
    """Streamed outputs are PNGs: refuse a name that asks for another format."""
    from .png import output_format

    for kind in kinds:
        fmt = output_format(paths[kind], name=f"paths[{kind!r}]")
        if fmt != "PNG" and kind != "preview":  # the preview is drawn whole: any format
            raise ParameterError(
                f"paths[{kind!r}]={os.fspath(paths[kind])!r}: process_to_files streams "
                f"{kind} as PNG and cannot write {fmt}; name it .png, or write process()'s "
                "array with save_png, which writes JPEG, TIFF and WebP")


def _provenance(config: PipelineConfig, normalizer: Normalizer | None) -> dict[str, str]:
    """The command's provenance chunk for outputs written through the API."""
    from .provenance import normalizer_record, provenance_text

    if normalizer is None:
        return provenance_text(config)
    return provenance_text(config, normalize_scope="batch",
                           normalizer_state=normalizer_record(normalizer))


def process_to_files(scan: Scan | ArrayLike, config: PipelineConfig | None,
                     paths: Mapping[str, str | os.PathLike[str]], *,
                     normalizer: Normalizer | None = None,
                     text: Mapping[str, str] | None = None, compression: int | None = None,
                     timings: dict[str, float] | None = None,
                     figures: dict[str, Any] | None = None,
                     preview_renderer: PreviewRenderer | None = None
                     ) -> dict[str, Path]:
    """Run the pipeline and stream the outputs into PNG files, tile by tile.

    Memory stays at about the input image plus a band of tiles: no full-size
    intermediate or output is held (``magnitude`` is written as 16-bit grey,
    ``hsv`` and ``flow`` as 8-bit RGB, ``sketch`` as 8-bit grey, ``preview``
    from subsampled stages, so its cost does not grow with the scan). An 8- or
    16-bit grey scan (``load_scan(path, dtype="native")``, or a uint8 / uint16
    array) is held in its own dtype and each tile converted to float32 as it
    is cut, to the same values :func:`sketchgrad.as_image` gives. The pixels
    equal ``save_png`` of :func:`~sketchgrad.pipeline.process`'s arrays to
    within one level (identical away from OpenCV's last-bit rounding).

    Parameters
    ----------
    scan : Scan or ndarray
        A loaded scan, or an (H, W) grey array read by :func:`sketchgrad.as_image`.
    config : PipelineConfig or None
        Settings (``tile_size=0`` computes the whole image at once, then writes).
    paths : mapping
        Output kind (``"magnitude"``, ``"hsv"``, ``"sketch"``, ``"preview"``)
        -> destination PNG; only these kinds are computed. All of them are
        written under temporary names and renamed into place together at the
        end; on failure none is changed. A name ending in ``.jpg``, ``.tif`` or
        ``.webp`` is refused for the streamed kinds (the preview is written in
        that format).
    normalizer : Normalizer, optional
        Already-fitted magnitude statistics (a batch's shared scale).
    text : mapping, optional
        PNG text chunks for every file; by default the provenance chunk the
        command writes (:func:`sketchgrad.provenance.provenance_text` of
        ``config``, with the normalizer's statistics when one is given). Every
        PNG also records the scan's resolution (``pHYs``) when its file had one.
        When the run measures stroke directions (outputs ``flow`` or
        ``preview``), the whole scan's figures (``StrokeStatistics.summary()``,
        summed over the tiles in the first pass, before any file is written)
        are added to the ``sketchgrad`` provenance record of every file as
        ``"strokes"``.
    compression : int, optional
        zlib level 0-9 (default ``sketchgrad.png.DEFAULT_COMPRESSION``, 1).
    timings : dict, optional
        Filled with seconds per stage (summed over threads) and ``"png"``,
        the time spent waiting for the writers (with a preview process,
        ``"preview"`` includes writing the last band and closing the files,
        done while the child draws).
    figures : dict, optional
        Filled with ``{"strokes": summary}`` when stroke directions were measured.
    preview_renderer : PreviewRenderer, optional
        Draw the preview in this child process
        (:class:`sketchgrad.renderer.PreviewRenderer`, started before the scan
        was loaded, so its import of matplotlib overlapped the work) instead of
        here; the same file either way. It is sent the thumbnails band by band
        (:meth:`~sketchgrad.renderer.PreviewRenderer.update`) and draws while
        the last band is written. By default it is drawn here.

    Returns
    -------
    dict
        Kind -> written path.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> d = tempfile.mkdtemp()
    >>> y, x = np.mgrid[0:40, 0:50].astype(np.float32)
    >>> out = process_to_files(x / 49, PipelineConfig(denoise="none"), {"hsv": d + "/h.png"})
    >>> with Image.open(out["hsv"]) as im:
    ...     print(im.size, im.mode)
    (50, 40) RGB
    """
    config = config_of(config)
    unknown = sorted(set(paths) - set(OUTPUT_KINDS))
    if unknown or not paths:
        raise ParameterError(f"paths: kinds {unknown or '(none)'} are not outputs; use some of "
                             f"{', '.join(OUTPUT_KINDS)}")
    kinds = [k for k in OUTPUT_KINDS if k in paths]
    config = replace(config, outputs=tuple(kinds))
    meta = scan.meta if isinstance(scan, Scan) else None  # no conversion for it
    check_normalizer(normalizer, config)
    _check_destinations(paths, kinds)
    # once, for the whole scan; 8/16-bit grey samples stay in their dtype (tiles read as float32)
    image, channels = image_for_channels(scan, config.channels, native=True)
    text = dict(text) if text is not None else _provenance(config, normalizer)
    text = record_channels(text, channels)
    dests = {kind: Path(paths[kind]) for kind in kinds}
    token = staging_token()
    staged = {kind: staged_name(dest, token) for kind, dest in dests.items()}
    timer = Timer()
    try:
        strokes = _write_staged(image, meta, config, kinds, staged, normalizer, text,
                                compression, timer, preview_renderer)
        for kind in kinds:
            os.replace(staged[kind], dests[kind])
    except BaseException as exc:
        for path in staged.values():
            path.unlink(missing_ok=True)
        if isinstance(exc, OutputError):  # name the output, not its temporary file
            message = str(exc)
            for kind in kinds:
                message = message.replace(str(staged[kind]), str(dests[kind]))
            raise OutputError(message) from None
        raise
    if timings is not None:
        timings.update(timer.seconds)
    if figures is not None and strokes is not None:
        figures["strokes"] = strokes.summary()
    return dests


def _write_staged(image: NDArray[np.float32] | NativeImage, meta: ScanMeta | None,
                  config: PipelineConfig, kinds: list[str], staged: dict[str, Path],
                  normalizer: Normalizer | None, text: dict[str, str], compression: int | None,
                  timer: Timer, renderer: PreviewRenderer | None = None
                  ) -> StrokeStatistics | None:
    """Compute the tiles and write every kind to its staged (temporary) path.

    Returns the whole scan's stroke statistics (None when not measured).
    """
    from .png import DEFAULT_COMPRESSION, PngWriter
    from .provenance import with_strength_used

    compression = DEFAULT_COMPRESSION if compression is None else compression
    height, width = image.shape[:2]
    dpi = getattr(meta, "dpi", None)
    needs = stages_needed(kinds, config, keep_denoised=False)
    side = tile_side((height, width), config, streaming=True)
    step = 0
    if "preview" in kinds:  # the preview module is imported for a preview only
        from .preview import PREVIEW_SIDE, Thumbnails, shrink_step
        from .renderer import PreviewRenderer

        step = shrink_step((height, width), PREVIEW_SIDE)
    if step > 1 and side:
        side = max(step, side // step * step)  # tiles on whole preview blocks
    engine = TileEngine(plan_tiles(image, config, needs, side, timer, meta), normalizer, timer)
    strength = engine.plan.strength
    strength = None if strength is None else float(strength)
    text = with_strength_used(text, strength)  # the automatic estimate, now that it is known
    thumbs = Thumbnails(image, step, needs) if step else None
    channels = "rgb" if image.ndim == 3 else "gray"
    # A preview process keeps a copy of the thumbnails, sent band by band, so that the
    # finished preview needs only the result's small rest; another renderer (any object
    # with begin and render) is handed the whole result.
    mirrored = thumbs is not None and isinstance(renderer, PreviewRenderer)
    if thumbs and renderer is not None:
        # the preview's layout and texts are drawn by the preview process while the tiles
        # are computed (the panel set, titles and settings are known from here on)
        renderer.begin(thumbs.outline(config, meta, strokes="strokes" in engine.plan.needs,
                                      strength_used=strength, channels=channels,
                                      flattened=engine.plan.flattened))
    writers: dict[str, PngWriter] = {}
    opened = False
    drawn = False

    def write(band: list[Any]) -> None:
        for kind, writer in writers.items():
            t = time.perf_counter()
            stage = _LAYOUT[kind][0]
            writer.write([getattr(tile, stage) for tile in band])  # joined while compressed
            timer.add("png", t)

    def close() -> None:
        for kind, writer in list(writers.items()):
            t = time.perf_counter()
            writer.close()
            del writers[kind]
            timer.add("png", t)

    def finish(band: list[Any]) -> None:
        write(band)
        close()

    def preview_result() -> Result:
        result = cast("Thumbnails", thumbs).result(config, meta, strength_used=strength)
        result.strokes = engine.scale.strokes
        result.channels = channels
        result.flattened = engine.plan.flattened
        return result

    try:
        # the stages written; the preview's thumbnails (block means of every stage) are
        # taken in the tile threads, before the other stages are dropped
        keep = {_LAYOUT[kind][0] for kind in kinds if kind in _LAYOUT}
        for band in engine.run(np.uint8, keep, thumbs.measure if thumbs else None):
            if not opened:
                opened = True
                # Opened once the first pass is done: the stroke figures are known.
                if engine.scale.strokes is not None:
                    text = add_to_record(text, "strokes", engine.scale.strokes.summary())
                for kind in kinds:
                    if kind in _LAYOUT:
                        _, planes, depth = _LAYOUT[kind]
                        if kind == "sketch" and image.ndim == 3:
                            planes = 3  # the relief lit in the drawing's colours
                        writers[kind] = PngWriter(staged[kind], width, height,
                                                  channels=planes, bit_depth=depth,
                                                  text=text, compression=compression,
                                                  dpi=dpi, atomic=False)
            if thumbs:
                thumbs.add(band)
                if mirrored:  # between bands, on this thread (sent without copying)
                    preview_process = cast("PreviewRenderer", renderer)
                    preview_process.update(thumbs)
                    if thumbs.done == height:
                        # The last band: the preview process draws while this process
                        # writes the band and closes the files (the preview's file is
                        # complete, or its error raised, before anything is renamed).
                        t = time.perf_counter()
                        preview_process.render(preview_result(), staged["preview"], text,
                                               meanwhile=functools.partial(finish, band))
                        timer.add("preview", t)
                        drawn = True
                        continue
            write(band)
            del band
        close()
    finally:
        for writer in writers.values():
            writer.abort()
    if thumbs and not drawn:
        t = time.perf_counter()
        # drawn by the preview process when there is one; either way the file is complete
        # (or the error raised) before the outputs are renamed into place together
        draw = _write_preview if renderer is None else renderer.render
        draw(preview_result(), staged["preview"], text)
        timer.add("preview", t)
    return engine.scale.strokes


def _write_preview(result: Result, dest: Path, text: dict[str, str]) -> Path:
    from .preview import render_preview

    return render_preview(result, dest, text=text, atomic=False)
