"""Drawing previews in a separate process while the scan computes: :class:`PreviewRenderer`.

Importing matplotlib costs about 0.3 s, as much as drawing a preview, and a
thread cannot hide it: the import holds the GIL that the tile threads need. A
child process does not share the GIL. The command (``sketchgrad run``) starts
one right after parsing its arguments, when the preview is among the outputs
and the scans are produced in this process; while this process loads and
plans the scan on one core, the child imports matplotlib on the other, then
draws each preview it is sent (:meth:`PreviewRenderer.render`) exactly as
:func:`sketchgrad.preview.render_preview` would here. A streamed run also
sends the preview's outline as soon as the scan is planned
(:meth:`PreviewRenderer.begin`): the child lays out the sheet and draws its
texts (:class:`sketchgrad.preview.PreviewSheet`) while the tiles are
computed, so the preview's pictures are all that is left when the last tile
is done.

Whatever happens to the child, the preview is still drawn: a child that died
(killed, out of memory), a broken pipe, or a job or reply that does not pickle
makes this process draw the preview itself. An error raised while drawing
reaches the caller as the same type with the same message. The child ignores
Ctrl-C (this process handles it) and exits when this process closes the pipe
or goes away. Only Linux forks the child (``fork`` start method); elsewhere,
and with ``SKETCHGRAD_PREVIEW_PROCESS=0``, the previews are drawn in-process.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from .pipeline import Result
    from .preview import PreviewOutline, PreviewSheet

__all__ = ["PreviewRenderer", "start_renderer", "renderer_wanted", "forks_safely", "ENV_VAR"]

#: Environment variable that turns the preview process off (``0``, ``no``, ``off``, ``false``).
ENV_VAR = "SKETCHGRAD_PREVIEW_PROCESS"
# Values of ENV_VAR that turn the preview process off.
_OFF = ("0", "no", "off", "false")
# Seconds to wait for a preview before giving up on the child and drawing here; a
# preview takes well under a second (its cost does not grow with the scan), so only a
# stuck child ever reaches this.
_REPLY_SECONDS = 120.0
# Seconds to wait for the child to leave when asked (SIGTERM), before killing it.
_EXIT_SECONDS = 5.0
# The first byte of a message to the child: the outline of the next preview (no answer),
# or a preview to draw (answered).
_BEGIN, _DRAW = b"B", b"D"


def renderer_wanted(outputs: Sequence[str]) -> bool:
    """Whether previews of a run with these outputs would be drawn in a preview process.

    Yes when ``"preview"`` is among ``outputs``, the platform is Linux (the
    child is forked), no other Python thread runs here and OpenCV is not
    imported yet (forking a process with threads that may hold locks is
    unsafe, and OpenCV keeps a thread pool that Python does not see), and the
    environment variable ``SKETCHGRAD_PREVIEW_PROCESS`` is not ``0`` (or
    ``no``, ``off``, ``false``). The command asks right after parsing its
    arguments, before it imports OpenCV.

    Examples
    --------
    >>> renderer_wanted(["magnitude", "hsv"])
    False
    """
    if "preview" not in outputs:
        return False
    if os.environ.get(ENV_VAR, "1").strip().lower() in _OFF:
        return False
    return forks_safely() and threading.active_count() == 1 and "cv2" not in sys.modules


def forks_safely() -> bool:
    """Whether this platform forks the preview process: Linux only.

    macOS's system libraries are not safe to use in a forked child (Python
    spawns there by default), and Windows cannot fork.

    Examples
    --------
    >>> forks_safely() == sys.platform.startswith("linux")
    True
    """
    return sys.platform.startswith("linux")


def start_renderer(outputs: Sequence[str]) -> PreviewRenderer | None:
    """A started :class:`PreviewRenderer` when :func:`renderer_wanted`, else None.

    None also when the child cannot be started (no process or memory to spare):
    the previews are then drawn in-process, as without it.

    Examples
    --------
    >>> start_renderer(["hsv"]) is None
    True
    """
    if not renderer_wanted(outputs):
        return None
    try:
        return PreviewRenderer()
    except OSError:
        return None


class PreviewRenderer:
    """A child process that draws previews for this one, started at once.

    Use it as a context manager (or call :meth:`close`), and hand it to
    :func:`sketchgrad.streaming.process_to_files` or
    :func:`sketchgrad.batch.run_batch` as ``preview_renderer=``. It is forked
    (Linux only): start it before any thread runs here, as the command does
    right after parsing its arguments (:func:`start_renderer` checks), and
    before OpenCV has computed anything in this process: OpenCV's own thread
    pool, which Python does not see, does not survive a fork (OpenCV issue
    5150; the command forks before it imports OpenCV). The child draws with
    matplotlib's settings as they are when it starts.

    Attributes
    ----------
    answered : int
        Previews the child drew, or failed with an error it sent back.
    drawn_here : int
        Previews drawn in this process because the child was gone (or the job
        or its reply did not pickle).
    exitcode : int or None
        The child's exit status once it is gone (0: it left cleanly; negative:
        killed by that signal).

    Examples
    --------
    >>> import sys, tempfile, numpy as np, sketchgrad
    >>> if sys.platform.startswith("linux"):
    ...     res = sketchgrad.process(np.eye(16, dtype=np.float32))
    ...     with PreviewRenderer() as renderer:
    ...         path = renderer.render(res, Path(tempfile.mkdtemp()) / "p.png", {})
    ...     print(path.stat().st_size > 1000, renderer.answered, renderer.drawn_here)
    ... else:
    ...     print(True, 1, 0)
    True 1 0
    """

    def __init__(self) -> None:
        import multiprocessing

        # fork, not spawn: the child starts with the modules already imported here,
        # and needs no new interpreter. Forking is safe because the command forks right
        # after parsing its arguments, before any scan work (checked: the process then
        # has two OS threads): no Python thread and no OpenCV thread pool exist yet (cv2
        # is not even imported); the other thread is OpenBLAS's pool, started by
        # importing numpy, which OpenBLAS shuts down before a fork (its pthread_atfork
        # handler) and starts again when next used. renderer_wanted refuses while
        # another Python thread runs.
        context = multiprocessing.get_context("fork")
        here, there = context.Pipe(duplex=True)
        process = context.Process(target=_serve, args=(there, here), daemon=True,
                                  name="sketchgrad-preview")
        process.start()
        there.close()  # the child's end: once it dies, reading here gives EOF at once
        self._conn: Connection | None = here
        self._process: BaseProcess | None = process
        self._lock = threading.Lock()
        self.answered = 0
        self.drawn_here = 0
        self.exitcode: int | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id (None once it is gone or closed)."""
        return None if self._process is None else self._process.pid

    def begin(self, outline: PreviewOutline) -> None:
        """Have the child lay out the next preview and draw its texts now.

        Returns at once (no answer is awaited). The next :meth:`render` whose
        result has this outline finishes that sheet; any other draws a sheet
        of its own, and a child that failed to begin one simply begins it
        then. The same file either way.

        Parameters
        ----------
        outline : PreviewOutline
            The preview's outline (:meth:`sketchgrad.preview.Thumbnails.outline`).
        """
        with self._lock:
            if self._conn is None:
                return
            try:
                message = _BEGIN + pickle.dumps(outline, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # the preview is then begun when it is drawn
                return
            try:
                self._conn.send_bytes(message)
            except OSError:  # the child died: render() draws here
                self._stop()

    def render(self, result: Result, dest: str | os.PathLike[str],
               text: Mapping[str, str]) -> Path:
        """Write ``result``'s preview to ``dest`` in the child, or here if it is gone.

        Writes what ``render_preview(result, dest, text=text, atomic=False)``
        writes (the caller stages and renames the file) and raises what it
        raises. Returns once the file is complete.

        Parameters
        ----------
        result : Result
            What :func:`sketchgrad.process` returned (or a streamed run's thumbnails).
        dest : str or path-like
            The file to write (not staged: the caller renames it into place).
        text : mapping
            PNG text chunks.

        Returns
        -------
        Path
            ``dest``.
        """
        from .preview import render_preview

        dest = Path(dest)
        text = dict(text)
        with self._lock:
            if self._drawn_by_child(result, dest, text):
                return dest
            self.drawn_here += 1
        return render_preview(result, dest, text=text, atomic=False)

    def _drawn_by_child(self, result: Result, dest: Path, text: dict[str, str]) -> bool:
        """Have the child draw; True once it did, False if this process must (raises its error)."""
        if self._conn is None:
            return False
        try:  # pickled here first, so a job that does not pickle leaves the pipe in step
            job = _DRAW + pickle.dumps((result, os.fspath(dest), text, os.getcwd()),
                                       protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return False
        try:
            self._conn.send_bytes(job)
            del job  # one copy of the scan's thumbnails at a time
            reply = self._reply(self._conn)
        except (OSError, EOFError):  # the child died
            self._stop()
            return False
        except TimeoutError:
            self._stop(stuck=True)
            return False
        except BaseException:  # Ctrl-C: the child must be gone before the cleanup
            self._stop()
            raise
        try:
            status, value = pickle.loads(reply)
        except Exception:  # an error that does not unpickle: drawing here raises it
            return False
        if status == "ok":
            self.answered += 1
            return True
        if status == "error":
            error, name, message = value
            # an exception whose class rebuilds its message from other arguments may come
            # back changed: then drawing here raises the real one
            if _name(type(error)) == name and str(error) == message:
                self.answered += 1
                raise error
        return False  # "unpicklable", or changed: drawing here raises the error itself

    def _reply(self, conn: Connection) -> bytes:
        deadline = time.monotonic() + _REPLY_SECONDS
        while not conn.poll(0.5):  # ready on a reply, and on EOF when the child died
            if time.monotonic() > deadline:
                raise TimeoutError("the preview process did not answer")
        return conn.recv_bytes()

    def _stop(self, *, stuck: bool = False) -> None:
        conn, self._conn = self._conn, None
        process, self._process = self._process, None
        if conn is not None:
            conn.close()
        if process is None:
            return
        # SIGTERM makes the child raise SystemExit, so it unwinds: at once, even while it
        # still imports matplotlib (whose font cache it may be writing under a lock file)
        if stuck:
            process.kill()
        else:
            process.terminate()
        process.join(_EXIT_SECONDS)
        if process.exitcode is None:  # still there: it was stuck
            process.kill()
            process.join()
        self.exitcode = process.exitcode
        process.close()

    def close(self) -> None:
        """End the child (at once, also while it warms up); previews are then drawn here."""
        with self._lock:
            self._stop()

    def __enter__(self) -> PreviewRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve(conn: Connection, parents_end: Connection) -> None:
    """The child: warm up, then draw each preview sent until the pipe closes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent acts
    signal.signal(signal.SIGTERM, _leave)
    parents_end.close()  # else the pipe stays open when the parent dies, and no EOF comes
    _quiet_stdout()
    try:
        _warm_up()
    except Exception:  # the first job meets the same failure and reports it to the parent
        pass
    sheet: PreviewSheet | None = None  # the next preview's, begun from its outline
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):  # the parent closed the pipe, or went away
            return
        if data[:1] == _BEGIN:  # no answer: a sheet that fails to begin is begun when drawn
            sheet = None
            try:
                sheet = _begin(pickle.loads(data[1:]))
            except Exception:
                pass
            continue
        try:
            job = pickle.loads(memoryview(data)[1:])
        except Exception as exc:
            reply = _error_reply(exc)
        else:
            del data  # the thumbnails are held once, not twice, while drawing
            reply = _draw(*job, sheet=sheet)
            del job
        sheet = None
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # the parent draws the preview itself, which raises the error
            data = pickle.dumps(("unpicklable", None))
        del reply
        try:
            conn.send_bytes(data)
        except OSError:
            return


def _begin(outline: PreviewOutline) -> PreviewSheet:
    from .preview import PreviewSheet

    return PreviewSheet(outline)


def _draw(result: Result, dest: str, text: dict[str, str], cwd: str, *,
          sheet: PreviewSheet | None = None) -> tuple[str, Any]:
    """One preview (finishing ``sheet`` if it is this preview's): ``("ok", None)``, or the error."""
    from .preview import render_preview

    try:
        if os.getcwd() != cwd:  # a relative name means what it means in the parent
            os.chdir(cwd)
        render_preview(result, dest, text=text, atomic=False, sheet=sheet)
    except Exception as exc:
        return _error_reply(exc)
    return "ok", None


def _error_reply(exc: Exception) -> tuple[str, Any]:
    """``("error", (exception, its type's name, its message))``, with the child's traceback."""
    exc.add_note("(raised in the preview process, sketchgrad.renderer:\n"
                 f"{traceback.format_exc().rstrip()})")
    return "error", (exc, _name(type(exc)), str(exc))


def _leave(signum: int, frame: object) -> None:
    """SIGTERM in the child (from :meth:`PreviewRenderer.close`): unwind and exit cleanly."""
    raise SystemExit(0)


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _quiet_stdout() -> None:
    """Point the child's standard output at /dev/null: ``-o -`` streams a PNG there."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _warm_up() -> None:
    """Pay what the first preview pays, while the parent loads and plans its scan."""
    _skip_set_signatures()
    import cv2  # noqa: F401  (the preview's resizing)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # the font lookup and the font file, Agg's text path, and the PNG encoder's modules
    figure = Figure(figsize=(1, 1), dpi=100)
    figure.text(0.5, 0.5, "0.5 pixels", fontsize=8)
    FigureCanvasAgg(figure).draw()


def _skip_set_signatures() -> None:
    """Spare the child matplotlib's making of every Artist class's ``set`` signature and help.

    Importing matplotlib writes, for each Artist subclass it defines, a
    signature and docstring for its ``set()`` method listing every property
    (for ``help()`` and IDEs): about a fifth of the import's CPU time, which
    the child spends while the parent plans the scan on the other core. The
    child never shows help, so the classes are only marked as done: ``set()``
    itself is unchanged (it calls ``Artist.set``). Nothing happens if
    matplotlib is imported already or has no such method; the previews'
    bytes are compared with in-process drawing by the tests.
    """
    if "matplotlib.artist" in sys.modules:
        return
    from matplotlib.artist import Artist

    if not hasattr(Artist, "_update_set_signature_and_docstring"):
        return

    def mark(cls: type) -> None:
        cls.set._autogenerated_signature = True  # type: ignore[attr-defined]

    Artist._update_set_signature_and_docstring = classmethod(mark)
