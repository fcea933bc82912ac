"""A preview drawn in two steps: the outline's texts while the scan computes, then the pixels.

The two-step sheet must be pixel for pixel what matplotlib draws in one go,
and a streamed run must know its preview's outline before its tiles: the
outline handed over early equals the one of the finished result.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sketchgrad
from sketchgrad import preview
from sketchgrad.color import ramp_from_spec
from sketchgrad.pipeline import PipelineConfig
from sketchgrad.preview import (
    PreviewSheet,
    Thumbnails,
    preview_outline,
    render_preview,
)
from sketchgrad.streaming import process_to_files


def drawing(shape=(1000, 1300), colour=False, seed=5) -> np.ndarray:
    """Strokes of several directions on slightly noisy paper, uint8 (grey or RGB)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = shape
    paper = np.full((h, w, 3), (236, 230, 214), np.uint8)
    for k in range(40):
        p = tuple(int(v) for v in rng.integers(0, (w, h)))
        q = tuple(int(v) for v in rng.integers(0, (w, h)))
        ink = (180, 40, 30) if colour and k % 2 else (40, 40, 60)
        cv2.line(paper, p, q, ink, int(rng.integers(1, 6)), cv2.LINE_AA)
    noisy = np.clip(paper + rng.normal(0, 3, paper.shape), 0, 255).astype(np.uint8)
    return noisy if colour else noisy.mean(axis=2).astype(np.uint8)


def one_draw(sheet) -> np.ndarray:
    """The sheet as matplotlib draws all its artists in one go, pictures pasted after."""
    sheet.fig.canvas.draw()
    rgb = np.asarray(sheet.fig.canvas.buffer_rgba())[..., :3].copy()
    for _, x, y, picture in sheet.pictures:
        rgb[y:y + picture.shape[0], x:x + picture.shape[1]] = picture
    return rgb


class Recorder:
    """Stands in for a PreviewRenderer: keeps each outline and result, draws here."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def begin(self, outline):
        self.events.append(("begin", outline))

    def render(self, result, dest, text):
        self.events.append(("render", result))
        return render_preview(result, dest, text=dict(text), atomic=False)


@pytest.mark.parametrize("config", [
    PipelineConfig(strength=1.0),
    PipelineConfig(strength=1.0, color=ramp_from_spec("ink")),  # the ramp legend is an axes
], ids=["hsv", "ramp"])
def test_a_sheet_drawn_in_two_steps_is_what_matplotlib_draws_in_one(config):
    res = sketchgrad.process(drawing((300, 420)), config)
    outline = preview_outline(res)
    begun = PreviewSheet(outline)
    early = [t.get_gid() or "" for t in begun.sheet.fig.texts]
    sheet = begun.finish(res)
    late = [t.get_gid() or "" for t in sheet.fig.texts][len(early):]
    two_steps = sheet.render()
    assert np.array_equal(two_steps, one_draw(sheet))
    # the first step drew the settings' texts, the second the data's
    assert "heading" in early and sum(g.startswith("title:") for g in early) == len(outline.panels)
    assert {"rose:0", "rose:90", "histogram:after"} <= set(early)
    assert {"rose:dominant", "colorbar:gx"} <= set(late) and "heading" not in late
    assert len(late) >= 10
    assert two_steps.std() > 20  # a sheet of panels, not a blank


def test_a_sheet_is_finished_once_and_only_with_its_own_outline(tmp_path):
    res = sketchgrad.process(drawing((200, 260)), PipelineConfig(strength=1.0))
    other = sketchgrad.process(drawing((200, 260), seed=6), PipelineConfig(strength=2.0))
    plain = render_preview(res, tmp_path / "plain.png").read_bytes()
    begun = PreviewSheet(preview_outline(res))
    assert render_preview(res, tmp_path / "begun.png", sheet=begun).read_bytes() == plain
    assert begun.finished
    with pytest.raises(RuntimeError, match="finished already; begin another"):
        begun.finish(res)
    # a finished sheet, or another result's (its titles name strength 2), is not reused
    assert render_preview(res, tmp_path / "again.png", sheet=begun).read_bytes() == plain
    wrong = PreviewSheet(preview_outline(other))
    assert preview_outline(other) != preview_outline(res)
    assert render_preview(res, tmp_path / "wrong.png", sheet=wrong).read_bytes() == plain
    assert not wrong.finished


@pytest.mark.parametrize("make, outputs", [
    (lambda: drawing(), ("magnitude", "hsv", "sketch", "preview")),
    (lambda: drawing(colour=True), ("magnitude", "hsv", "sketch", "preview")),
    (lambda: drawing(), ("preview",)),
    (lambda: drawing(), ("flow", "preview")),
    (lambda: drawing((300, 400)), ("hsv", "preview")),  # small: not reduced, no details
], ids=["grey-default", "colour-default", "preview-only", "flow", "small"])
def test_a_streamed_run_hands_over_its_previews_outline_before_the_tiles(tmp_path, make,
                                                                         outputs):
    scan = make()
    recorder = Recorder()
    paths = {kind: tmp_path / f"out.{kind}.png" for kind in outputs}
    process_to_files(scan, PipelineConfig(tile_size=256), paths, preview_renderer=recorder)
    assert [kind for kind, _ in recorder.events] == ["begin", "render"]
    outline, result = recorder.events[0][1], recorder.events[1][1]
    assert outline == preview_outline(result)
    big = max(scan.shape[:2]) > 1.25 * preview.PREVIEW_SIDE
    assert outline.reduced == big and (outline.window is not None) == big
    assert outline.full_shape == scan.shape[:2]
    assert outline.relief_colour == (scan.ndim == 3 and "sketch" in outputs)
    assert ("rose" in outline.panels) and ("detail_scan" in outline.panels) == big
    with Image.open(paths["preview"]) as im:
        assert im.size[0] > 1000


def test_thumbnails_outline_names_the_strength_the_channels_and_the_flattening():
    from sketchgrad.tiling import stages_needed

    scan = drawing((950, 1200), colour=True)
    config = PipelineConfig(channels="rgb")
    needs = stages_needed(("hsv", "sketch", "preview"), config, keep_denoised=False)
    thumbs = Thumbnails(scan, preview.shrink_step(scan.shape), needs)
    outline = thumbs.outline(config, None, strokes=True, strength_used=0.75, channels="rgb",
                             flattened=True)
    assert (outline.strength_used, outline.channels, outline.flattened) == (0.75, "rgb", True)
    assert outline.shape == thumbs.image.shape and outline.shape[2] == 3
    assert outline.relief_colour and outline.reduced and outline.source is None
    titles = {t.get_gid(): t.get_text() for t in PreviewSheet(outline).sheet.fig.texts}
    assert "strength 0.75 (auto)" in titles["title:denoised"]
    assert "background flattened" in titles["title:denoised"]
    assert "channels: rgb" in titles["heading"] and "colour" in titles["title:scan"]


# ------------------------------------------------------------------------ the preview process

linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="the preview process is forked on Linux only")


@linux
def test_the_child_finishes_the_sheet_it_began_and_writes_the_same_bytes(tmp_path,
                                                                         monkeypatch,
                                                                         quiet_fork):
    from sketchgrad.renderer import PreviewRenderer

    log = tmp_path / "begun.log"
    real = PreviewSheet.__init__

    def counted(self, outline):
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        real(self, outline)

    monkeypatch.setattr(PreviewSheet, "__init__", counted)  # before the fork: the child too
    res = sketchgrad.process(drawing((300, 420)), PipelineConfig(strength=1.0))
    other = sketchgrad.process(drawing((300, 420), seed=9), PipelineConfig(strength=2.0))
    with quiet_fork():
        child = PreviewRenderer()
    with child:
        child.begin(preview_outline(res))
        first = child.render(res, tmp_path / "child.png", {"k": "v"})
        child.begin(preview_outline(other))  # not this preview's outline: begun again
        second = child.render(res, tmp_path / "child2.png", {"k": "v"})
        pid = child.pid
        assert (child.answered, child.drawn_here) == (2, 0)
    begun = [int(line) for line in log.read_text().split()]
    assert begun == [pid, pid, pid]  # one sheet for the first preview, two for the second
    here = render_preview(res, tmp_path / "here.png", text={"k": "v"}, atomic=False)
    assert first.read_bytes() == here.read_bytes() == second.read_bytes()


@linux
def test_an_outline_the_child_cannot_use_or_a_dead_child_still_gives_the_preview(tmp_path,
                                                                                 quiet_fork):
    import signal

    from sketchgrad.renderer import PreviewRenderer

    res = sketchgrad.process(drawing((200, 260)), PipelineConfig(strength=1.0))
    here = render_preview(res, tmp_path / "here.png", text={}, atomic=False).read_bytes()
    with quiet_fork():
        child = PreviewRenderer()
    with child:
        child.begin("not an outline")  # the child fails to begin a sheet from it: no answer
        assert child.render(res, tmp_path / "a.png", {}).read_bytes() == here
        assert (child.answered, child.drawn_here) == (1, 0)
        pid = child.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not die"
            time.sleep(0.02)
        child.begin(preview_outline(res))  # to a dead child: nothing happens here
        assert child.render(res, tmp_path / "b.png", {}).read_bytes() == here
        assert child.drawn_here == 1 and child.pid is None
    assert Path(tmp_path / "b.png").exists()


_SET_PROBE = """
import inspect, sys
from sketchgrad import renderer
if sys.argv[1] == "skip":
    renderer._skip_set_signatures()
from matplotlib.text import Text
from matplotlib.patches import Polygon
t = Text()
t.set(text="ink", fontsize=9, color="0.3")
p = Polygon([(0, 0), (1, 0), (0, 1)])
p.set(facecolor="red", linewidth=2)
print(t.get_text(), t.get_fontsize(), t.get_color(), p.get_linewidth(),
      "fontsize" in str(inspect.signature(Text.set)))
"""


@pytest.mark.parametrize("mode, built", [("skip", "False"), ("build", "True")])
def test_the_child_skips_matplotlib_set_signatures_and_set_still_works(mode, built):
    import subprocess

    out = subprocess.run([sys.executable, "-c", _SET_PROBE, mode], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["ink", "9.0", "0.3", "2.0", built]


def test_the_thumbnails_are_taken_in_the_tile_threads_and_the_bands_keep_only_the_files(
        tmp_path, monkeypatch):
    import threading

    from sketchgrad import tiling

    measured, seen_bands = [], []
    real_measure, real_run = Thumbnails.measure, tiling.TileEngine.run

    def measure(self, tile):
        measured.append((tile.box, threading.current_thread() is threading.main_thread()))
        return real_measure(self, tile)

    def run(self, *args, **kwargs):
        for band in real_run(self, *args, **kwargs):
            seen_bands.append([(t.box, t.hsv is not None, t.unit, t.denoised, t.field)
                               for t in band])
            yield band

    monkeypatch.setattr(Thumbnails, "measure", measure)
    monkeypatch.setattr(tiling.TileEngine, "run", run)
    scan = drawing((1000, 1300))
    recorder = Recorder()
    process_to_files(scan, PipelineConfig(tile_size=400), {
        "hsv": tmp_path / "h.png", "preview": tmp_path / "p.png"}, preview_renderer=recorder)
    tiles = [entry[0] for band in seen_bands for entry in band]
    assert len(tiles) >= 6
    assert sorted(tiles, key=repr) == sorted((box for box, _ in measured), key=repr)
    assert not any(in_main for _, in_main in measured)  # all in the tile threads
    # what reaches the writers: the hsv samples, no float stage
    assert all(hsv and unit is None and denoised is None and field is None
               for band in seen_bands for _, hsv, unit, denoised, field in band)
    # and the preview still has every stage's thumbnail and the detail crops
    result = recorder.events[1][1]
    assert result.denoised.shape == result.normalized.shape == result.image.shape
    assert result.hsv.shape == result.image.shape + (3,)
    window = result.details["window"]
    assert result.details["hsv"].shape == (window[2], window[3], 3)
    assert result.details["hsv"].any()
