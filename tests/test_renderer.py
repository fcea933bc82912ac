"""The preview process (sketchgrad.renderer): same files, same errors, fallback, no leftovers.

Files drawn by the child are compared byte for byte with files drawn in this
process: the child is a fork of this process, so it runs the same matplotlib,
the same fonts and the same PNG encoder on the same numbers, and a difference
in any byte would mean it drew something else (not a CPU's rounding: same CPU).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sketchgrad
from sketchgrad import preview, renderer
from sketchgrad.errors import OutputError, ParameterError
from sketchgrad.pipeline import PipelineConfig
from sketchgrad.preview import render_preview
from sketchgrad.renderer import PreviewRenderer, renderer_wanted, start_renderer
from sketchgrad.streaming import process_to_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the preview process is forked on Linux only")


def grey_scan(shape=(150, 200), seed: int = 2) -> np.ndarray:
    """Dark strokes on light paper, uint8 (H, W)."""
    import cv2

    rng = np.random.default_rng(seed)
    paper = np.full(shape, 230, np.uint8)
    for _ in range(12):
        p, q = rng.integers(0, shape[::-1], 2), rng.integers(0, shape[::-1], 2)
        cv2.line(paper, tuple(map(int, p)), tuple(map(int, q)), int(rng.integers(20, 120)),
                 int(rng.integers(1, 4)), cv2.LINE_AA)
    return np.clip(paper + rng.normal(0, 2, shape), 0, 255).astype(np.uint8)


def colour_scan(shape=(150, 200), seed: int = 3) -> np.ndarray:
    """Red and blue strokes on cream paper, uint8 (H, W, 3)."""
    import cv2

    rng = np.random.default_rng(seed)
    paper = np.empty((*shape, 3), np.uint8)
    paper[:] = (240, 232, 215)
    for k in range(10):
        p, q = rng.integers(0, shape[::-1], 2), rng.integers(0, shape[::-1], 2)
        colour = (200, 30, 30) if k % 2 else (30, 40, 190)
        cv2.line(paper, tuple(map(int, p)), tuple(map(int, q)), colour, 3, cv2.LINE_AA)
    return paper


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def catches(pid: int, signum: int) -> bool:
    """Whether a process has a handler for a signal (Linux: SigCgt in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as fh:
        mask = next(line for line in fh if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


def wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def result():
    return sketchgrad.process(grey_scan(), PipelineConfig(strength=1.0))


@pytest.fixture
def started(quiet_fork):
    made = []

    def start() -> PreviewRenderer:
        with quiet_fork():
            made.append(PreviewRenderer())
        return made[-1]

    yield start
    for r in made:
        r.close()


# ------------------------------------------------------------------------------ same files

@pytest.mark.parametrize("make", [grey_scan, colour_scan], ids=["grey", "colour"])
def test_preview_drawn_by_the_child_is_byte_identical(tmp_path, started, make):
    scan = make()
    config = PipelineConfig(tile_size=64)
    here = process_to_files(scan, config, {"preview": tmp_path / "here.png",
                                           "hsv": tmp_path / "here.hsv.png"})
    child = started()
    there = process_to_files(scan, config, {"preview": tmp_path / "there.png",
                                            "hsv": tmp_path / "there.hsv.png"},
                             preview_renderer=child)
    assert (child.answered, child.drawn_here) == (1, 0)  # the child drew it
    assert there["preview"].read_bytes() == here["preview"].read_bytes()
    with Image.open(there["preview"]) as im:
        sheet = np.asarray(im.convert("RGB"))
    assert sheet.shape[1] > 1000 and sheet.std() > 20  # a sheet of panels, not a blank
    if scan.ndim == 3:  # the colour scan panel shows red and blue ink
        r, g, b = (sheet[..., c].astype(int) for c in range(3))
        assert ((r - b > 100) & (r - g > 100)).sum() > 50
        assert ((b - r > 100) & (b - g > 60)).sum() > 50
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "here.hsv.png", "here.png", "there.hsv.png", "there.png"]  # nothing staged left


def test_render_writes_what_render_preview_writes_and_serves_many_jobs(tmp_path, started,
                                                                       result):
    child = started()
    text = {"made-by": "test"}
    for k in range(3):
        assert child.render(result, tmp_path / f"c{k}.png", text) == tmp_path / f"c{k}.png"
    render_preview(result, tmp_path / "h.png", text=text, atomic=False)
    assert (child.answered, child.drawn_here) == (3, 0)
    for k in range(3):
        assert (tmp_path / f"c{k}.png").read_bytes() == (tmp_path / "h.png").read_bytes()


def test_a_relative_name_is_the_callers_even_after_chdir(tmp_path, started, result,
                                                         monkeypatch):
    child = started()  # forked in the test's folder; the caller moves afterwards
    (tmp_path / "later").mkdir()
    monkeypatch.chdir(tmp_path / "later")
    child.render(result, "p.png", {})
    assert (tmp_path / "later" / "p.png").is_file()
    assert child.answered == 1


# ------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("name, kind, message", [
    ("missing/p.png", OutputError, r"missing: cannot write here \(No such file or directory\)"),
    ("p.gif", ParameterError, r"p\.gif': sketchgrad does not write GIF files; name it \.png"),
])
def test_an_error_in_the_child_is_raised_here_with_its_type_and_message(
        tmp_path, started, result, name, kind, message):
    with pytest.raises(kind, match=message) as in_process:
        render_preview(result, tmp_path / name, text={}, atomic=False)
    child = started()
    with pytest.raises(kind, match=message) as through_child:
        child.render(result, tmp_path / name, {})
    assert type(through_child.value) is type(in_process.value)
    assert str(through_child.value) == str(in_process.value)
    assert (child.answered, child.drawn_here) == (1, 0)  # raised there, not redrawn here
    assert any("preview process" in note for note in through_child.value.__notes__)
    child.render(result, tmp_path / "after.png", {})  # the child goes on serving
    assert child.answered == 2 and (tmp_path / "after.png").is_file()


class _PerProcess(Exception):
    """An error whose message is made when it is shown: it differs in the child."""

    def __str__(self) -> str:
        return f"cannot draw the rose (in process {os.getpid()})"


class _Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: None  # a lambda does not pickle


@pytest.mark.parametrize("error", [_PerProcess(), _Unpicklable("no sheet today")],
                         ids=["message-changes", "unpicklable"])
def test_an_error_that_does_not_travel_intact_is_raised_by_drawing_here(
        tmp_path, started, result, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(preview, "_figure", fail)  # before the fork: the child fails too
    child = started()
    with pytest.raises(type(error)) as raised:
        child.render(result, tmp_path / "p.png", {})
    assert raised.value is error  # raised here, by drawing here: not the child's copy
    assert str(raised.value) in ("no sheet today",
                                 f"cannot draw the rose (in process {os.getpid()})")
    assert (child.answered, child.drawn_here) == (0, 1)  # the child's reply was not used


# ------------------------------------------------------------------------------ a lost child

def test_a_killed_child_leaves_the_preview_to_this_process(tmp_path, started, result):
    child = started()
    pid = child.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    path = child.render(result, tmp_path / "p.png", {"k": "v"})
    render_preview(result, tmp_path / "h.png", text={"k": "v"}, atomic=False)
    assert path.read_bytes() == (tmp_path / "h.png").read_bytes()
    assert (child.answered, child.drawn_here, child.pid) == (0, 1, None)
    child.render(result, tmp_path / "q.png", {})  # and goes on drawing here
    assert child.drawn_here == 2


def die_in_the_child(monkeypatch, half: Path) -> None:
    """Have the child write half a file at ``half``, then be killed, when it draws (then fork)."""
    parent = os.getpid()
    real = preview._figure

    def die(*args, **kwargs):
        if os.getpid() != parent:
            half.write_bytes(b"\x89PNG half")
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    monkeypatch.setattr(preview, "_figure", die)


def test_a_child_killed_while_drawing_leaves_a_complete_file(tmp_path, started, result,
                                                             monkeypatch):
    die_in_the_child(monkeypatch, tmp_path / "p.png")
    child = started()
    path = child.render(result, tmp_path / "p.png", {})
    monkeypatch.undo()
    render_preview(result, tmp_path / "h.png", text={}, atomic=False)
    assert path.read_bytes() == (tmp_path / "h.png").read_bytes()
    assert (child.answered, child.drawn_here, child.pid) == (0, 1, None)


def slow_in_the_child(monkeypatch, seconds: float) -> None:
    """Make the child's drawing take ``seconds`` longer (patched before the fork)."""
    parent = os.getpid()
    real = preview._figure

    def slow(*args, **kwargs):
        if os.getpid() != parent:
            time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(preview, "_figure", slow)


def test_ctrl_c_while_the_child_draws_stops_it_before_it_writes(tmp_path, started, result,
                                                                monkeypatch):
    slow_in_the_child(monkeypatch, 1.5)
    child = started()
    pid = child.pid

    def interrupt(*args):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            child.render(result, tmp_path / "p.png", {})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not alive(pid) and child.pid is None
    time.sleep(1.5)  # when the child would have written, had it lived
    assert list(tmp_path.iterdir()) == []


def test_the_child_ignores_ctrl_c(tmp_path, started, result):
    child = started()
    time.sleep(0.5)  # its handler is set first thing
    os.kill(child.pid, signal.SIGINT)
    child.render(result, tmp_path / "p.png", {})
    assert (child.answered, child.drawn_here) == (1, 0)


# ------------------------------------------------------------------------------ no leftovers

def test_close_ends_the_child_cleanly_even_while_it_warms_up(started, tmp_path, result):
    child = started()
    pid = child.pid
    deadline = time.monotonic() + 15
    while not catches(pid, signal.SIGTERM):  # its handler is set first thing (a few ms)
        assert time.monotonic() < deadline
        time.sleep(0.001)
    child.close()  # now: the child is still importing matplotlib
    assert not alive(pid) and child.pid is None
    assert child.exitcode == 0  # it unwound (SystemExit), it was not killed by the signal

    used = started()
    used.render(result, tmp_path / "p.png", {})
    used.close()
    assert used.exitcode == 0 and used.answered == 1


def test_the_child_leaves_when_its_parent_is_killed(tmp_path):
    script = ("import os, signal, sys\n"
              "from sketchgrad.renderer import PreviewRenderer\n"
              "r = PreviewRenderer()\n"
              "print(r.pid, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == -signal.SIGKILL
    pid = int(proc.stdout)
    assert wait_gone(pid)


# ------------------------------------------------------------------------------ when it runs

def test_wanted_only_for_the_preview_on_linux_without_threads(monkeypatch):
    monkeypatch.delenv(renderer.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.delitem(sys.modules, "cv2", raising=False)  # the command asks before it
    assert renderer_wanted(["magnitude", "preview"])
    assert not renderer_wanted(["magnitude", "hsv", "sketch", "flow"])
    for off in ("0", "no", "OFF", "false"):
        monkeypatch.setenv(renderer.ENV_VAR, off)
        assert not renderer_wanted(["preview"])
    monkeypatch.setenv(renderer.ENV_VAR, "1")
    assert renderer_wanted(["preview"])
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(sys, "platform", platform)
        assert not renderer_wanted(["preview"])
        assert start_renderer(["preview"]) is None


def test_the_commands_help_documents_the_switch(capsys):
    from sketchgrad import cli

    assert cli.main(["run", "--help"]) == 0
    shown = capsys.readouterr().out
    assert f"{renderer.ENV_VAR}=0  draw previews in this process" in shown


def test_not_wanted_once_opencv_is_imported(monkeypatch):
    import cv2

    monkeypatch.delenv(renderer.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert sys.modules["cv2"] is cv2
    assert not renderer_wanted(["preview"])
    assert start_renderer(["preview"]) is None
    monkeypatch.delitem(sys.modules, "cv2")
    assert renderer_wanted(["preview"])


def test_not_wanted_while_another_thread_runs(monkeypatch):
    monkeypatch.delenv(renderer.ENV_VAR, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delitem(sys.modules, "cv2", raising=False)  # the thread alone must be the reason
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not renderer_wanted(["preview"])
    finally:
        stop.set()
        thread.join()
    # with no other thread (threads of earlier tests, e.g. Dask's, aside) it is wanted
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert renderer_wanted(["preview"])


class _Recorder:
    """Stands in for a PreviewRenderer: records the previews handed to it, draws them here."""

    def __init__(self) -> None:
        self.calls: list[Path] = []
        self.outlines: list[preview.PreviewOutline] = []
        #: per render: whether the last outline begun was this preview's
        self.matched: list[bool] = []

    def __reduce__(self):  # like the real one, it cannot be sent to another process
        raise TypeError("a preview renderer serves the process that started it")

    def begin(self, outline):
        self.outlines.append(outline)

    def render(self, result, dest, text):
        self.calls.append(Path(dest))
        self.matched.append(bool(self.outlines)
                            and self.outlines[-1] == preview.preview_outline(result))
        return render_preview(result, dest, text=dict(text), atomic=False)


@pytest.mark.parametrize("workers, used", [(1, 2), (2, 0)])
def test_a_batch_hands_previews_to_it_only_when_scans_are_produced_here(tmp_path, workers,
                                                                       used):
    from sketchgrad.batch import run_batch

    for k in (1, 2):
        Image.fromarray(grey_scan(seed=k)).save(tmp_path / f"s{k}.png")
    recorder = _Recorder()
    outcomes = run_batch([tmp_path / "s1.png", tmp_path / "s2.png"], tmp_path / "out",
                         PipelineConfig(outputs=("hsv", "preview")), workers=workers,
                         preview_renderer=recorder)
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert len(recorder.calls) == used  # a pool's workers never get it
    # each preview's outline was handed over before its scan's tiles, and was its own
    assert recorder.matched == [True] * used and len(recorder.outlines) == used
    for k in (1, 2):
        with Image.open(tmp_path / "out" / f"s{k}.preview.png") as im:
            assert im.size[0] > 1000


def test_a_failed_preview_fails_its_scan_only_and_renames_nothing(tmp_path, started,
                                                                  monkeypatch):
    from sketchgrad.batch import run_batch

    parent = os.getpid()
    real = preview._figure

    def fail_on_s1(result, *args, **kwargs):
        if os.getpid() != parent and result.image.shape[1] == 201:
            raise ParameterError("panels: this sheet cannot be drawn (test)")
        return real(result, *args, **kwargs)

    Image.fromarray(grey_scan((150, 201), seed=1)).save(tmp_path / "s1.png")
    Image.fromarray(grey_scan((150, 200), seed=2)).save(tmp_path / "s2.png")
    monkeypatch.setattr(preview, "_figure", fail_on_s1)  # in the child only
    child = started()
    outcomes = run_batch([tmp_path / "s1.png", tmp_path / "s2.png"], tmp_path / "out",
                         PipelineConfig(outputs=("hsv", "preview")), workers=1,
                         preview_renderer=child)
    assert [(o.status, o.error) for o in outcomes] == [
        ("failed", "panels: this sheet cannot be drawn (test)"), ("ok", None)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "s2.hsv.png", "s2.preview.png"]  # s1's hsv was not renamed into place without it
    assert child.answered == 2


# ------------------------------------------------------------------------------ the command

_PROBE = """
import json, os, sys
import sketchgrad.renderer as renderer
from sketchgrad import cli

made = []
real_init = renderer.PreviewRenderer.__init__

def init(self):
    real_init(self)
    made.append((self, self.pid))

renderer.PreviewRenderer.__init__ = init
if sys.argv[1] == "--platform":  # what the renderer's platform check sees
    platform = sys.argv[2]
    renderer.forks_safely = lambda: platform.startswith("linux")
    del sys.argv[1:3]
status = cli.main(sys.argv[1:])
with open(os.environ["SKETCHGRAD_TEST_RECORD"], "w") as fh:
    json.dump({"status": status, "pids": [pid for _, pid in made],
               "open": [r.pid for r, _ in made],
               "answered": sum(r.answered for r, _ in made),
               "drawn_here": sum(r.drawn_here for r, _ in made)}, fh)
sys.exit(status)
"""


def run_command(tmp_path: Path, args: list, env_extra: dict | None = None,
                platform: str | None = None) -> tuple[dict, str]:
    """Run ``sketchgrad ARGS -o out`` in a new interpreter that records the preview processes.

    Returns the record and a marker put in the command's environment (its
    children inherit it).
    """
    marker = uuid.uuid4().hex
    record = tmp_path / f"record-{marker}.json"
    env = {**os.environ, "SKETCHGRAD_TEST_MARK": marker, "SKETCHGRAD_TEST_RECORD": str(record),
           **(env_extra or {})}
    head = ["--platform", platform] if platform else []
    proc = subprocess.run([sys.executable, "-c", _PROBE, *head, *map(str, args), "--quiet",
                           "-o", "out"],
                          capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # --quiet: no error line
    return json.loads(record.read_text()), marker


def processes_marked(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"SKETCHGRAD_TEST_MARK={marker}".encode() in (entry / "environ").read_bytes() \
                        and alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.slow
def test_the_command_draws_its_preview_in_the_child_and_leaves_no_process(tmp_path):
    Image.fromarray(grey_scan()).save(tmp_path / "scan.png")
    record, marker = run_command(tmp_path, ["run", "scan.png"])
    assert record["answered"] == 1 and record["drawn_here"] == 0
    [pid] = record["pids"]
    assert record["open"] == [None] and not alive(pid)  # closed, and gone
    assert processes_marked(marker) == []
    drawn_by_child = (tmp_path / "out" / "scan.preview.png").read_bytes()

    record, _ = run_command(tmp_path, ["run", "scan.png", "--overwrite"],
                            {renderer.ENV_VAR: "0"})
    assert record["pids"] == []
    assert (tmp_path / "out" / "scan.preview.png").read_bytes() == drawn_by_child


@pytest.mark.slow
@pytest.mark.parametrize("args, platform", [
    (["run", "scan.png", "--outputs", "magnitude,hsv"], None),
    (["run", "scans", "--workers", "2"], None),  # a folder: the pool may produce it
    (["run", "scan.png"], "darwin"),
])
def test_the_command_starts_no_child_when_it_would_not_draw_there(tmp_path, args, platform):
    Image.fromarray(grey_scan()).save(tmp_path / "scan.png")
    (tmp_path / "scans").mkdir()
    for k in (1, 2):
        Image.fromarray(grey_scan(seed=k)).save(tmp_path / "scans" / f"s{k}.png")
    record, _ = run_command(tmp_path, args, platform=platform)
    assert record["pids"] == []
    assert any(p.name.endswith(".hsv.png") for p in (tmp_path / "out").iterdir())
    if "--outputs" not in args:  # the preview was drawn all the same
        assert any(p.name.endswith(".preview.png") for p in (tmp_path / "out").iterdir())


def test_the_job_pickles_once_per_scan(tmp_path, started, result, monkeypatch):
    sent = []
    child = started()
    real = child._conn.send_bytes

    def count(data):
        sent.append(len(data))
        return real(data)

    monkeypatch.setattr(child._conn, "send_bytes", count)
    child.render(result, tmp_path / "p.png", {})
    assert len(sent) == 1
    assert sent[0] >= len(pickle.dumps(result.image, protocol=pickle.HIGHEST_PROTOCOL))


_CTRL_C_SCANS = 40


@pytest.mark.slow
def test_ctrl_c_to_the_whole_group_stops_the_run_and_its_child(tmp_path):
    # 40 scans (0.3-0.5 s each): the run is still going when the interrupt comes, also on
    # a loaded machine where finding the processes below takes a second or two
    (tmp_path / "scans").mkdir()
    for k in range(_CTRL_C_SCANS):
        scan = tmp_path / "scans" / f"s{k:02d}.png"
        if k < 6:
            Image.fromarray(grey_scan((600, 800), seed=k)).save(scan)
        else:
            scan.write_bytes((tmp_path / "scans" / f"s{k % 6:02d}.png").read_bytes())
    marker = uuid.uuid4().hex
    with subprocess.Popen(
            [sys.executable, "-m", "sketchgrad", "run", "scans", "-o", "out", "--workers", "1"],
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**os.environ, "SKETCHGRAD_TEST_MARK": marker}) as proc:
        try:
            first = proc.stderr.readline()
            running = processes_marked(marker)
            os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the child gets it too
            rest = proc.stderr.read().splitlines()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert first.startswith("done: "), first
    assert len(running) == 2  # the command and its preview process
    assert proc.returncode == 130, rest
    assert rest[-1] == "sketchgrad: interrupted; temporary files removed"
    assert not any("Traceback" in line for line in rest)
    last = f"s{_CTRL_C_SCANS - 1:02d}.preview.png"
    assert not (tmp_path / "out" / last).exists()  # really stopped mid-way
    assert [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")] == []
    deadline = time.monotonic() + 15
    while processes_marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_marked(marker) == []
    for p in (tmp_path / "out").iterdir():  # what was renamed into place is whole
        with Image.open(p) as im:
            im.load()


# ------------------------------------------------------------------------------ streamed thumbnails

def patiently(child: PreviewRenderer, monkeypatch) -> None:
    """Make each band wait until the child took the last part, so each band is a part of its own.

    (Without this a child still busy laying out the sheet takes several bands at once.)
    """
    real = child.update

    def update(thumbs):
        deadline = time.monotonic() + 60
        while child.pid is not None and not child._ready():
            assert time.monotonic() < deadline, "the child never took the last part"
            time.sleep(0.005)
        real(thumbs)

    monkeypatch.setattr(child, "update", update)


def recording(child: PreviewRenderer, monkeypatch) -> list[tuple[str, bytes, int]]:
    """Record what is sent: (phase, kind, bytes) per message group, phase "bands" or "render"."""
    sent: list[tuple[str, bytes, int]] = []
    phase = ["bands"]
    real_send, real_render = child._send, child.render

    def send(messages):
        sent.append((phase[0], bytes(messages[0][:1]), sum(len(m) for m in messages)))
        return real_send(messages)

    def render(*args, **kwargs):
        phase[0] = "render"
        try:
            return real_render(*args, **kwargs)
        finally:
            phase[0] = "bands"

    monkeypatch.setattr(child, "_send", send)
    monkeypatch.setattr(child, "render", render)
    return sent


@pytest.mark.parametrize("make, shape, bands", [
    (grey_scan, (500, 1500), 4),     # shrunk 3x: block means and 1:1 detail crops
    (colour_scan, (500, 1500), 4),
    (grey_scan, (300, 400), 3),      # not shrunk: no detail panels
    (colour_scan, (300, 400), 3),
], ids=["grey-shrunk", "colour-shrunk", "grey-whole", "colour-whole"])
def test_a_streamed_preview_is_drawn_from_the_childs_copy_and_byte_identical(
        tmp_path, started, monkeypatch, make, shape, bands):
    scan = make(shape)
    config = PipelineConfig(tile_size=128)  # 126-row bands when shrunk (whole blocks)
    here = process_to_files(scan, config, {"preview": tmp_path / "here.png"})
    child = started()
    patiently(child, monkeypatch)
    sent = recording(child, monkeypatch)
    there = process_to_files(scan, config, {"preview": tmp_path / "there.png"},
                             preview_renderer=child)
    assert there["preview"].read_bytes() == here["preview"].read_bytes()
    assert (child.answered, child.streamed, child.drawn_here) == (1, 1, 0)
    assert [(phase, kind) for phase, kind, _ in sent] == (
        [("bands", b"B")] + [("bands", b"P")] * bands + [("render", b"F")])
    # the parts carried the thumbnails (about 8 float32 planes of the shrunk scan, more
    # in colour); the job at the end carries none of it
    shrunk = (-(-shape[0] // 3) * 500) if shape[1] == 1500 else shape[0] * shape[1]
    streamed = sum(size for _, kind, size in sent if kind == b"P")
    assert streamed > 7 * 4 * shrunk
    assert sent[-1][2] < 64_000  # the settings, texts and stroke figures (a 29 kB histogram)


def shrunk_scan() -> np.ndarray:
    return grey_scan((500, 1500), seed=5)


_STREAMED = PipelineConfig(tile_size=128)  # 4 bands of 126 rows on shrunk_scan


@pytest.mark.parametrize("when", ["before begin", "between bands", "while drawing"])
def test_a_child_killed_while_streaming_leaves_a_complete_identical_preview(
        tmp_path, started, monkeypatch, when):
    scan = shrunk_scan()
    here = process_to_files(scan, _STREAMED, {"preview": tmp_path / "here.png",
                                              "hsv": tmp_path / "here.hsv.png"})
    if when == "while drawing":
        die_in_the_child(monkeypatch, tmp_path / "there.png")  # before the fork
    child = started()
    pid = child.pid
    patiently(child, monkeypatch)
    sent = recording(child, monkeypatch)
    if when == "before begin":
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid)
    elif when == "between bands":
        real_update, bands = child.update, []

        def update(thumbs):
            if len(bands) == 2:  # two parts taken, two to come: the child dies now
                # once it has answered for the second part, so that the third is sent to
                # a dead child whatever the timing (killed just after the second was sent,
                # the child's answer could come before its death or not: a race)
                deadline = time.monotonic() + 60
                while not child._ready():
                    assert time.monotonic() < deadline, "the child never took part two"
                    time.sleep(0.005)
                os.kill(pid, signal.SIGKILL)
                assert wait_gone(pid)
            real_update(thumbs)
            bands.append(thumbs.done)

        monkeypatch.setattr(child, "update", update)
    there = process_to_files(scan, _STREAMED, {"preview": tmp_path / "there.png",
                                               "hsv": tmp_path / "there.hsv.png"},
                             preview_renderer=child)
    monkeypatch.undo()
    assert there["preview"].read_bytes() == here["preview"].read_bytes()
    assert there["hsv"].read_bytes() == here["hsv"].read_bytes()
    assert (child.answered, child.streamed, child.drawn_here, child.pid) == (0, 0, 1, None)
    assert not alive(pid)
    kinds = [kind for _, kind, _ in sent]
    # between bands: the third part is sent to the dead child, which is then found gone
    assert kinds == {"before begin": [b"B"], "between bands": [b"B", b"P", b"P", b"P"],
                     "while drawing": [b"B"] + [b"P"] * 4 + [b"F"]}[when]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "here.hsv.png", "here.png", "there.hsv.png", "there.png"]


@pytest.mark.parametrize("fault", ["missed", "garbled", "unpicklable"])
def test_a_part_the_child_could_not_take_makes_it_draw_the_whole_result(
        tmp_path, started, monkeypatch, fault):
    scan = shrunk_scan()
    here = process_to_files(scan, _STREAMED, {"preview": tmp_path / "here.png"})
    child = started()
    patiently(child, monkeypatch)
    parts = []
    real_part = renderer._pickled_part

    def faulty(strips):
        parts.append(sorted(strips))
        head, buffers = real_part(strips)
        if len(parts) == 2 and fault == "garbled":  # the child fails to unpickle it
            head = b"not a pickle" + head
        if len(parts) == 2 and fault == "unpicklable":  # it cannot be sent at all
            raise pickle.PicklingError("cannot pickle this part (test)")
        return head, buffers

    monkeypatch.setattr(renderer, "_pickled_part", faulty)
    real_send = child._send

    def send(messages):
        if fault == "missed" and messages[0][:1] == b"P" and len(parts) == 2:
            # the child sees part 2 where part 1 belongs, as if it had missed one
            number, part, count = renderer._HEADER.unpack_from(messages[0], 1)
            header = b"P" + renderer._HEADER.pack(number, part + 1, count)
            messages = [header + bytes(messages[0][1 + renderer._HEADER.size:]),
                        *messages[1:]]
        return real_send(messages)

    monkeypatch.setattr(child, "_send", send)
    sent = recording(child, monkeypatch)
    there = process_to_files(scan, _STREAMED, {"preview": tmp_path / "there.png"},
                             preview_renderer=child)
    assert there["preview"].read_bytes() == here["preview"].read_bytes()
    # the child drew it all the same, from the whole result sent after all
    assert (child.answered, child.streamed, child.drawn_here) == (1, 0, 0)
    at_render = [kind for phase, kind, _ in sent if phase == "render"]
    assert at_render == ([b"D"] if fault == "unpicklable" else [b"F", b"D"])
    parts_sent = [kind for phase, kind, _ in sent if kind == b"P"]
    assert len(parts_sent) == (1 if fault == "unpicklable" else 4)  # none after a failed one
    child.render(sketchgrad.process(grey_scan(), PipelineConfig(strength=1.0)),
                 tmp_path / "next.png", {})  # the protocol stayed in step
    assert child.answered == 2


def test_two_scans_of_a_batch_through_one_child_are_each_drawn_from_their_own_parts(
        tmp_path, started, monkeypatch):
    from sketchgrad.batch import run_batch

    Image.fromarray(grey_scan((500, 1500), seed=1)).save(tmp_path / "s1.png")
    Image.fromarray(colour_scan((450, 1400), seed=2)).save(tmp_path / "s2.png")
    scans = [tmp_path / "s1.png", tmp_path / "s2.png"]
    config = PipelineConfig(outputs=("hsv", "preview"), tile_size=128)
    assert [o.status for o in run_batch(scans, tmp_path / "here", config, workers=1)] == [
        "ok", "ok"]
    child = started()
    patiently(child, monkeypatch)
    sent = recording(child, monkeypatch)
    outcomes = run_batch(scans, tmp_path / "there", config, workers=1, preview_renderer=child)
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert (child.answered, child.streamed, child.drawn_here) == (2, 2, 0)
    kinds = [kind for _, kind, _ in sent]
    assert kinds == [b"B"] + [b"P"] * 4 + [b"F"] + [b"B"] + [b"P"] * 4 + [b"F"]
    for name in ("s1.preview.png", "s2.preview.png"):
        assert (tmp_path / "there" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    first, second = ((tmp_path / "there" / n).read_bytes() for n in ("s1.preview.png",
                                                                      "s2.preview.png"))
    assert first != second


def test_meanwhile_runs_once_while_the_child_draws_and_its_error_waits_for_the_file(
        tmp_path, started, result, monkeypatch):
    parent = os.getpid()
    real = preview._figure

    def slow(*args, **kwargs):
        if os.getpid() != parent:
            time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(preview, "_figure", slow)  # before the fork: the child draws slowly
    child = started()
    seen = []

    def meanwhile():
        seen.append((tmp_path / "p.png").exists())
        raise OutputError("out/scan.hsv.png: cannot write here (test)")

    with pytest.raises(OutputError, match=r"scan\.hsv\.png: cannot write here \(test\)"):
        child.render(result, tmp_path / "p.png", {}, meanwhile=meanwhile)
    assert seen == [False]  # called once, while the child was still drawing
    monkeypatch.undo()
    render_preview(result, tmp_path / "h.png", text={}, atomic=False)
    # the error came once the child's file was complete (the caller may remove it then)
    assert (tmp_path / "p.png").read_bytes() == (tmp_path / "h.png").read_bytes()
    child.render(result, tmp_path / "q.png", {})  # the answer was read: still in step
    assert (child.answered, child.drawn_here) == (1, 0)
    assert (tmp_path / "q.png").read_bytes() == (tmp_path / "h.png").read_bytes()


def test_meanwhile_runs_once_before_drawing_here_when_the_child_is_gone(tmp_path, started,
                                                                       result):
    child = started()
    pid = child.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    seen = []
    child.render(result, tmp_path / "p.png", {},
                 meanwhile=lambda: seen.append((tmp_path / "p.png").exists()))
    assert seen == [False] and (child.answered, child.drawn_here) == (0, 1)


def test_a_file_that_fails_while_the_child_draws_leaves_nothing_and_the_child_in_step(
        tmp_path, started, monkeypatch):
    from sketchgrad import png

    scan = shrunk_scan()
    real_close = png.PngWriter.close

    def close(self):
        if ".hsv.png" in self.path.name:
            self.abort()
            raise OutputError(f"{self.path}: no space left on device (test)")
        return real_close(self)

    child = started()
    patiently(child, monkeypatch)
    monkeypatch.setattr(png.PngWriter, "close", close)
    with pytest.raises(OutputError, match=r"there\.hsv\.png: no space left on device \(test\)"):
        process_to_files(scan, _STREAMED, {"preview": tmp_path / "there.png",
                                           "hsv": tmp_path / "there.hsv.png"},
                         preview_renderer=child)
    assert list(tmp_path.iterdir()) == []  # the preview drawn meanwhile was removed too
    monkeypatch.undo()
    here = process_to_files(scan, _STREAMED, {"preview": tmp_path / "here.png"})
    again = process_to_files(scan, _STREAMED, {"preview": tmp_path / "again.png"},
                             preview_renderer=child)
    assert again["preview"].read_bytes() == here["preview"].read_bytes()
    assert (child.streamed, child.drawn_here) == (1, 0)


def test_ctrl_c_meanwhile_stops_the_child_before_it_writes(tmp_path, started, result,
                                                           monkeypatch):
    slow_in_the_child(monkeypatch, 1.0)
    child = started()
    pid = child.pid

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        child.render(result, tmp_path / "p.png", {}, meanwhile=interrupted)
    assert not alive(pid) and child.pid is None  # gone before the caller's cleanup
    time.sleep(1.0)  # when the child would have written, had it lived
    assert list(tmp_path.iterdir()) == []
