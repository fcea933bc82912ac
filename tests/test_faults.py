"""Faults: a killed run, a full disk, an output folder that cannot be written, Ctrl-C,
and the whole corpus of broken and unusual files through the real command."""

from __future__ import annotations

import errno
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from corpus import build_corpus
from test_cli import (
    ERROR_PREFIX,
    error_lines,
    pixels,
    pngs,
    provenance,
    sketchgrad_cmd,
    snapshot,
    temp_files,
    write_scan,
)

import sketchgrad.io
from sketchgrad.batch import run_batch
from sketchgrad.errors import OutputError
from sketchgrad.pipeline import PipelineConfig


def _finals(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.png") if not p.name.startswith(".")]


def _start(args: list, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sketchgrad", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


class _Lines:
    """A child's stderr, read line by line in a thread so that a test can wait for a line."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._stream = stream
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"the command ended before a {prefix!r} line: {self.lines}"
            self.lines.append(line.rstrip("\n"))
            if line.startswith(prefix):
                return line

    def rest(self, timeout: float = 60) -> list[str]:
        """Every line, once the child has closed its stderr."""
        self._reader.join(timeout)
        self._stream.close()
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line.rstrip("\n"))
        return self.lines


def _write_batch(src: Path, seed: int, small: int = 8) -> None:
    """``small`` quick scans, then one large one (``z_large.png``, processed last).

    The interrupting tests act as soon as the command reports its first input done; the
    large scan still takes a second or more then, so the run cannot end first.
    """
    for i in range(small):
        write_scan(src / f"p{i}.png", seed + i, shape=(240, 320))
    write_scan(src / "z_large.png", seed + small, shape=(1600, 2400))


def _complete(folder: Path, kinds: int) -> list[str]:
    """Stems whose ``kinds`` outputs are all in place."""
    stems: dict[str, int] = {}
    for p in _finals(folder):
        stem = p.name.split(".")[0]
        stems[stem] = stems.get(stem, 0) + 1
    return sorted(s for s, n in stems.items() if n == kinds)


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_equals_an_uninterrupted_run(tmp_path):
    src = tmp_path / "in"
    _write_batch(src, 100)
    args = ["run", src, "--workers", 2, "--json", "--outputs", "magnitude,hsv,sketch"]
    ref = tmp_path / "ref"
    assert sketchgrad_cmd(*args, "-o", ref).returncode == 0

    out = tmp_path / "out"
    proc = _start([*args, "-o", out], start_new_session=True)
    stderr = _Lines(proc.stderr)
    stderr.wait_for("done: ")  # an input is finished: its outputs are in place
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its worker processes, at once
    proc.wait(timeout=30)
    stderr.rest()
    assert proc.returncode == -signal.SIGKILL
    finished = _complete(out, kinds=3)
    assert finished
    done_before = sorted(str(p.relative_to(out)) for p in _finals(out))
    assert 0 < len(done_before) < len(pngs(ref))  # really killed mid-way
    for p in _finals(out):  # a final name never holds a partial PNG
        pixels(p)
    # what a kill during a write leaves behind
    leftover = out / ".p3.hsv.png.4242-deadbeef.tmp"
    leftover.write_bytes((ref / "p3.hsv.png").read_bytes()[:100])

    res = sketchgrad_cmd(*args, "-o", out)
    assert res.returncode == 0, res.stderr
    statuses = {Path(o["input"]).name: o["status"] for o in json.loads(res.stdout)}
    assert set(statuses.values()) <= {"ok", "skipped"}
    for stem in finished:  # inputs finished before the kill are not redone
        assert statuses[f"{stem}.png"] == "skipped"
    assert temp_files(tmp_path) == []
    assert pngs(out) == pngs(ref)
    for name in pngs(ref):
        np.testing.assert_array_equal(pixels(out / name), pixels(ref / name))
        assert provenance(out / name) == provenance(ref / name)


class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes, like a disk filling up."""

    def __init__(self, fh, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        if len(data) > self._room:
            self._fh.write(data[: self._room])
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


def test_disk_full_fails_that_file_cleanly_and_the_run_goes_on(tmp_path, monkeypatch):
    src = tmp_path / "in"
    for name, seed in (("a.png", 1), ("b.png", 2), ("c.png", 3)):
        write_scan(src / name, seed, shape=(64, 80))
    out = tmp_path / "out"
    kinds = ("magnitude", "hsv", "sketch")
    first = run_batch([src], out, PipelineConfig(operator="scharr", outputs=kinds))
    assert [o.status for o in first] == ["ok"] * 3
    old_b = {k: v for k, v in snapshot(out).items() if k.startswith("b.")}
    assert len(old_b) == 3

    real_fdopen = os.fdopen
    victims = []

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        name = os.readlink(f"/proc/self/fd/{fd}")
        if ".b.hsv.png." in Path(name).name:  # the temporary file of b's second output
            victims.append(name)
            return _FullDisk(fh, room=200)
        return fh

    monkeypatch.setattr(os, "fdopen", fdopen)
    outcomes = run_batch([src], out, PipelineConfig(operator="sobel", outputs=kinds))
    monkeypatch.undo()
    assert victims  # the fault really happened
    assert [(Path(o.input).name, o.status) for o in outcomes] == [
        ("a.png", "ok"), ("b.png", "failed"), ("c.png", "ok")]
    assert outcomes[1].error.startswith(f"{out / 'b.hsv.png'}: ")  # the output, not a temp
    assert "no space left" in outcomes[1].error.lower()
    # no partial output: b's earlier results are untouched, none of its new ones was put
    # in place, and no temporary file is left
    assert {k: v for k, v in snapshot(out).items() if k.startswith("b.")} == old_b
    assert temp_files(tmp_path) == []
    for name in ("a", "c"):
        for kind in kinds:
            assert provenance(out / f"{name}.{kind}.png")["config"]["operator"] == "sobel"
            pixels(out / f"{name}.{kind}.png")


def test_outdir_that_cannot_be_written_is_reported_before_any_work(tmp_path, monkeypatch):
    src = tmp_path / "in"
    write_scan(src / "a.png", 5)
    (src / "broken.png").write_text("not a png")  # would print an error line if loaded
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    res = sketchgrad_cmd("run", src, "-o", blocker / "out")
    assert res.returncode == 2
    assert res.stderr.splitlines() == [
        f"{ERROR_PREFIX}{blocker / 'out'}: cannot create the output folder (Not a directory); "
        "choose another (-o)"]

    # a folder that exists but refuses writes (root ignores permission bits: simulate it)
    out = tmp_path / "readonly"
    out.mkdir()
    real_open = os.open
    tried = []

    def refusing_open(path, *args, **kwargs):
        if Path(path).parent.resolve() == out.resolve():  # the probe file sketchgrad makes
            tried.append(Path(path).name)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, *args, **kwargs)

    loaded = []
    real_load = sketchgrad.io.load_scan
    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(sketchgrad.io, "load_scan", lambda *a, **k: loaded.append(a) or
                        real_load(*a, **k))
    with pytest.raises(OutputError, match=r"readonly: cannot write in the output folder "
                       r"\(Permission denied\); choose another"):
        run_batch([src], out)
    assert loaded == []
    assert list(out.iterdir()) == []
    assert len(tried) == 1 and tried[0].startswith(".sketchgrad-probe.")


def test_ctrl_c_stops_cleans_up_and_exits_130(tmp_path):
    src = tmp_path / "in"
    _write_batch(src, 200)
    out = tmp_path / "out"
    proc = _start(["run", src, "-o", out, "--workers", 2, "--outputs", "magnitude,hsv,sketch"])
    stderr = _Lines(proc.stderr)
    stderr.wait_for("done: ")  # the run is under way (and the large scan is still to come)
    proc.send_signal(signal.SIGINT)  # to the parent only: it must stop its workers itself
    proc.wait(timeout=60)
    lines = stderr.rest()
    assert proc.returncode == 130, lines
    assert not any("Traceback" in line for line in lines)
    assert lines[-1] == "sketchgrad: interrupted; temporary files removed"
    assert not (out / "z_large.sketch.png").exists()  # really interrupted mid-way
    assert temp_files(tmp_path) == []
    for p in _finals(out):
        pixels(p)


def test_the_whole_corpus_in_one_run(tmp_path):
    corpus = build_corpus(tmp_path / "corpus")
    before = snapshot(tmp_path / "corpus")
    out = tmp_path / "out"
    entries = sorted((tmp_path / "corpus").iterdir())  # as the shell expands corpus/*
    res = sketchgrad_cmd("run", *entries, "-o", out, "--outputs", "magnitude,hsv,sketch",
                         "--json")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    errors = error_lines(res.stderr)
    for path in corpus["broken"]:
        named = [line for line in errors if line.startswith(f"{ERROR_PREFIX}{path}: ")]
        assert len(named) == 1, (path, errors)
    assert len(errors) == len(corpus["broken"])
    report = {o["input"]: o for o in json.loads(res.stdout)}
    for path in corpus["unusual"]:
        outcome = report[str(path)]
        assert outcome["status"] == "ok", outcome
        assert len(outcome["outputs"]) == 3
        for p in outcome["outputs"]:
            assert pixels(Path(p)).shape[:2] == corpus["shapes"][path]
    written = {Path(p) for o in report.values() for p in o["outputs"]}
    assert set(_finals(out)) == written  # nothing for the broken files
    assert temp_files(tmp_path) == []
    assert snapshot(tmp_path / "corpus") == before
