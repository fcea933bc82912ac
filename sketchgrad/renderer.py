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
computed. It then keeps a copy of the run's thumbnails
(:class:`sketchgrad.preview.Thumbnails`), sent band by band as the tiles are
finished (:meth:`PreviewRenderer.update`), so that when the last tile is done
the preview's result travels without its arrays (a few kilobytes instead of
about 15 MB at 8.5 MP) and the pictures are all that is left to draw.

The messages, each one ``send_bytes`` (the first byte says which):

- ``B`` + the pickled outline: begin a sheet (and drop any thumbnails held).
  Acknowledged by ``R``.
- ``P`` + (stream number, part number, count of buffers) + pickled strips of
  the thumbnails (:meth:`sketchgrad.preview.Thumbnails.strips`), followed by
  that many messages, the strips' arrays sent as they lie in memory
  (pickle's out-of-band buffers: no copy here). Part 0 starts a new copy;
  a part out of sequence, or one that fails to unpickle or to fit, spoils
  the copy. Acknowledged by ``R``.
- ``F`` + (stream number, parts sent) + the pickled job ``(result, dest,
  text, cwd)`` whose arrays are the thumbnails' (pickle's persistent ids:
  names, not pixels). The child draws when its copy is whole and of this
  stream (answer ``ok`` or the error), else answers ``resend``; either way
  it drops its copy.
- ``D`` + the pickled job with the arrays: draw (answered as ``F``). Sent
  when the result was not streamed, or after ``resend``.

Between sending ``F`` (or ``D``) and reading the answer this process does
its own last work, if the caller gives it (``render(..., meanwhile=)``: a
streamed run writes its last band and closes its files while the child
draws).

This process sends a part only when the child has acknowledged every
message before it (``R``), that is when it waits for input: a child still
warming up or laying out the sheet never makes the tile loop wait. The rows
it could not take are sent with the next part, at the latest just before
``F``. Acknowledgements are read before each part and while waiting for an
answer, so none is left in the pipe once :meth:`~PreviewRenderer.render`
returns.

Whatever happens to the child, the preview is still drawn: a child that died
(killed, out of memory), a broken pipe, a job or reply that does not pickle,
or a copy of the thumbnails that went wrong makes this process send the
whole result (``D``) or draw the preview itself, from its own thumbnails,
which it keeps. An error raised while drawing reaches the caller as the same
type with the same message. The child ignores Ctrl-C (this process handles
it) and exits when this process closes the pipe or goes away. Only Linux
forks the child (``fork`` start method); elsewhere, and with
``SKETCHGRAD_PREVIEW_PROCESS=0``, the previews are drawn in-process.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from .pipeline import Result
    from .preview import PreviewOutline, PreviewSheet, Thumbnails

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
# The first byte of a message to the child (see the module's docstring): the outline of
# the next preview, a part of its thumbnails (both acknowledged by _READY), the preview to
# draw from those thumbnails, or one to draw from the arrays sent with it (both answered).
_BEGIN, _PART, _FINISH, _DRAW = b"B", b"P", b"F", b"D"
# The child's acknowledgement: it handled a _BEGIN or a _PART and reads the next message.
_READY = b"R"
# After _PART and _FINISH: the stream's number, the part's number (for _FINISH: the parts
# sent), the count of out-of-band buffers that follow (_PART).
_HEADER = struct.Struct("<QII")


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
    the previews are then drawn in-process, as without it. When the outputs
    hold the preview, a scan being decoded ahead (:mod:`sketchgrad.ahead`) is
    waited for first, so that its thread has ended before the fork (a run
    without the preview goes on while it decodes).

    Examples
    --------
    >>> start_renderer(["hsv"]) is None
    True
    """
    from . import ahead

    if "preview" in outputs:  # only a fork needs the decode's thread ended
        ahead.settle()
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

    A streamed run calls :meth:`begin` once the scan is planned,
    :meth:`update` after each band of tiles, and :meth:`render` at the end:
    the child then holds the thumbnails already, and only the result's
    small rest is sent. The messages are described in :mod:`sketchgrad.renderer`.

    Attributes
    ----------
    answered : int
        Previews the child drew, or failed with an error it sent back.
    drawn_here : int
        Previews drawn in this process because the child was gone (or the job
        or its reply did not pickle).
    streamed : int
        Of the previews answered, those the child drew from the thumbnails it
        was sent band by band (the rest were sent whole).
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
        # messages sent that the child acknowledges (_READY) and has not yet
        self._unacked = 0
        self._stream: _Stream | None = None  # the thumbnails the child is copying
        self._streams = 0  # streams begun, to number them
        self.answered = 0
        self.drawn_here = 0
        self.streamed = 0
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
        then. The same file either way. Thumbnails sent before (:meth:`update`)
        are dropped.

        Parameters
        ----------
        outline : PreviewOutline
            The preview's outline (:meth:`sketchgrad.preview.Thumbnails.outline`).
        """
        with self._lock:
            self._stream = None
            if self._conn is None:
                return
            try:
                message = _BEGIN + pickle.dumps(outline, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # the preview is then begun when it is drawn
                return
            if self._send([message]):
                self._unacked += 1

    def update(self, thumbnails: Thumbnails) -> None:
        """Send the child the thumbnails' rows made since the last call, if it is free to take them.

        Called after each band of tiles is added to ``thumbnails``; the first
        call with these thumbnails starts the child's copy of them. Returns at
        once when the child is still busy with an earlier message (warming
        up, laying out the sheet): those rows go with a later call, or with
        :meth:`render`. A copy that cannot be made (a part that does not
        pickle) only means that :meth:`render` sends the whole result.

        Parameters
        ----------
        thumbnails : Thumbnails
            The run's thumbnails (:class:`sketchgrad.preview.Thumbnails`),
            whose :meth:`~sketchgrad.preview.Thumbnails.result` will be drawn.
        """
        with self._lock:
            if self._conn is None:
                return
            stream = self._stream
            if stream is None or stream.thumbs() is not thumbnails:
                self._streams += 1
                stream = self._stream = _Stream(self._streams, thumbnails)
            if stream.intact and self._ready():
                self._send_part(stream, thumbnails.done)

    def render(self, result: Result, dest: str | os.PathLike[str],
               text: Mapping[str, str], *,
               meanwhile: Callable[[], object] | None = None) -> Path:
        """Write ``result``'s preview to ``dest`` in the child, or here if it is gone.

        Writes what ``render_preview(result, dest, text=text, atomic=False)``
        writes (the caller stages and renames the file) and raises what it
        raises. Returns once the file is complete. When ``result`` is the
        :meth:`~sketchgrad.preview.Thumbnails.result` of the thumbnails last
        given to :meth:`update`, the child draws it from its copy of them.

        Parameters
        ----------
        result : Result
            What :func:`sketchgrad.process` returned (or a streamed run's thumbnails).
        dest : str or path-like
            The file to write (not staged: the caller renames it into place).
        text : mapping
            PNG text chunks.
        meanwhile : callable, optional
            This process's own work to do while the child draws (a streamed
            run writes its last band and closes its files): called once, after
            the job is sent and before the answer is awaited (before drawing,
            when the preview is drawn here). If it raises, the child's answer
            is still awaited, so its file is complete before the caller
            removes it, and that exception is raised instead of the answer.
            It must not use this renderer.

        Returns
        -------
        Path
            ``dest``.
        """
        from .preview import render_preview

        dest = Path(dest)
        text = dict(text)
        once = _Once(meanwhile)
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None and self._drawn_from_copy(stream, result, dest, text, once):
                return dest
            if self._drawn_by_child(result, dest, text, once):
                return dest
            self.drawn_here += 1
        once()
        return render_preview(result, dest, text=text, atomic=False)

    def _ready(self) -> bool:
        """Whether the child has handled every message it acknowledges (it waits for input)."""
        conn = self._conn
        try:
            while self._unacked and conn is not None and conn.poll(0):
                if conn.recv_bytes() != _READY:  # nothing else comes unasked: out of step
                    raise OSError("the preview process sent an unexpected message")
                self._unacked -= 1
        except (OSError, EOFError):  # the child died: render() draws here
            self._stop()
            return False
        except BaseException:  # Ctrl-C: the child must be gone before the cleanup
            self._stop()
            raise
        return self._conn is not None and self._unacked == 0

    def _send(self, messages: Sequence[bytes | memoryview]) -> bool:
        """Send messages that belong together; False (and the child stopped) if it is gone."""
        conn = self._conn
        if conn is None:
            return False
        try:
            for message in messages:
                conn.send_bytes(message)
        except OSError:  # the child died: render() draws here
            self._stop()
            return False
        except BaseException:  # Ctrl-C mid-message: the child must be gone before the cleanup
            self._stop()
            raise
        return True

    def _send_part(self, stream: _Stream, bottom: int) -> bool:
        """Send the rows of the stream's thumbnails made down to the scan's row ``bottom``.

        False when the child's copy can no longer be used (a part that does
        not pickle, a child gone).
        """
        thumbs = stream.thumbs()
        if thumbs is None:  # the run was abandoned
            return False
        strips = thumbs.strips(stream.top, bottom, stream.names)
        if not strips:
            return True
        try:
            head, buffers = _pickled_part(strips)
        except Exception:  # no copy then: render() sends the whole result
            stream.intact = False
            return False
        header = _PART + _HEADER.pack(stream.number, stream.parts, len(buffers))
        if not self._send([header + head, *buffers]):
            return False
        stream.parts += 1
        stream.top = bottom
        stream.names.update(strips)
        self._unacked += 1
        return True

    def _drawn_from_copy(self, stream: _Stream, result: Result, dest: Path,
                         text: dict[str, str], meanwhile: _Once) -> bool:
        """Have the child draw from its copy of the thumbnails; as :meth:`_drawn_by_child`."""
        thumbs = stream.thumbs()
        if self._conn is None or not stream.intact or thumbs is None \
                or result.image is not thumbs.image:
            return False  # not the stream's result: it is sent whole
        if not self._send_part(stream, thumbs.full_shape[0]):  # the rows not taken yet
            return False
        named = {id(array): (name, array) for name, array in thumbs.arrays().items()
                 if name in stream.names}
        try:
            buffer = io.BytesIO()
            buffer.write(_FINISH + _HEADER.pack(stream.number, stream.parts, 0))
            _Referring(buffer, named).dump((result, os.fspath(dest), text, os.getcwd()))
        except Exception:
            return False
        drawn = self._answered(buffer.getbuffer(), meanwhile)
        if drawn:
            self.streamed += 1
        return drawn

    def _drawn_by_child(self, result: Result, dest: Path, text: dict[str, str],
                        meanwhile: _Once) -> bool:
        """Have the child draw; True once it did, False if this process must (raises its error)."""
        if self._conn is None:
            return False
        try:  # pickled here first, so a job that does not pickle leaves the pipe in step
            job = _DRAW + pickle.dumps((result, os.fspath(dest), text, os.getcwd()),
                                       protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return False
        return self._answered(job, meanwhile)

    def _answered(self, job: bytes | memoryview, meanwhile: _Once) -> bool:
        """Send a job and read the answer: True once the child drew (raises its error)."""
        if not self._send([job]):
            return False
        del job  # one copy of the scan's thumbnails at a time
        conn = cast("Connection", self._conn)
        try:
            meanwhile()
        except Exception:  # raised once the child is done with the file (in step)
            self._discard_reply(conn)
            raise
        except BaseException:  # Ctrl-C: the child must be gone before the cleanup
            self._stop()
            raise
        try:
            reply = self._reply(conn)
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
        return False  # "resend", "unpicklable", or changed: sent whole, or drawn here

    def _discard_reply(self, conn: Connection) -> None:
        """Wait for the answer to the job just sent, and drop it (the caller raises its own)."""
        try:
            self._reply(conn)
        except (OSError, EOFError):
            self._stop()
        except TimeoutError:
            self._stop(stuck=True)
        except BaseException:
            self._stop()
            raise

    def _reply(self, conn: Connection) -> bytes:
        """The answer to the job just sent (the acknowledgements before it are taken on the way)."""
        deadline = time.monotonic() + _REPLY_SECONDS
        while True:
            while not conn.poll(0.5):  # ready on a reply, and on EOF when the child died
                if time.monotonic() > deadline:
                    raise TimeoutError("the preview process did not answer")
            data = conn.recv_bytes()
            if data != _READY:
                return data
            self._unacked -= 1

    def _stop(self, *, stuck: bool = False) -> None:
        conn, self._conn = self._conn, None
        process, self._process = self._process, None
        self._stream = None
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


class _Stream:
    """The parent's side of the child's copy of one run's thumbnails."""

    def __init__(self, number: int, thumbs: Thumbnails) -> None:
        self.number = number  # tags the parts, so no other run's can be mixed in
        # not kept alive by this: a run that fails mid-way lets its thumbnails go at once
        self.thumbs = weakref.ref(thumbs)
        self.top = 0  # the scan's rows whose thumbnails were sent
        self.names: set[str] = set()  # the arrays the child holds (some of their rows)
        self.parts = 0  # parts sent
        self.intact = True  # False once a part could not be sent: the result goes whole


class _Once:
    """Calls a function (or nothing) the first time it is called, and never again."""

    def __init__(self, function: Callable[[], object] | None) -> None:
        self._function = function

    def __call__(self) -> None:
        function, self._function = self._function, None
        if function is not None:
            function()


def _pickled_part(strips: Mapping[str, Any]) -> tuple[bytes, list[memoryview]]:
    """Strips pickled, with their contiguous arrays as out-of-band buffers (not copied)."""
    buffers: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        try:
            buffers.append(buffer.raw())
        except BufferError:  # not contiguous: pickled with the rest
            return True
        return False

    head = pickle.dumps(strips, protocol=5, buffer_callback=out_of_band)
    return head, buffers


class _Referring(pickle.Pickler):
    """Pickles the arrays the child holds by their names (persistent ids), not their pixels."""

    def __init__(self, file: io.BytesIO, named: dict[int, tuple[str, Any]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._named = named

    def persistent_id(self, obj: Any) -> str | None:
        found = self._named.get(id(obj))
        return found[0] if found is not None and found[1] is obj else None


class _Copy:
    """The child's copy of one run's thumbnails: its arrays by name."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.arrays: dict[str, Any] = {}
        self.parts = 0  # parts taken
        self.intact = True

    def take(self, data: bytes, buffers: list[bytes]) -> None:
        """Place one part's strips (spoils the copy if they do not unpickle or fit)."""
        import numpy as np

        try:
            strips = pickle.loads(memoryview(data)[1 + _HEADER.size:], buffers=buffers)
            for name, (row, shape, rows) in strips.items():
                array = self.arrays.get(name)
                if array is None:
                    array = self.arrays[name] = np.zeros(shape, rows.dtype)
                array[row:row + len(rows)] = rows
        except Exception:
            self.intact = False
        else:
            self.parts += 1


class _Resolving(pickle.Unpickler):
    """Unpickles a job whose arrays are named (:class:`_Referring`) with the copy's arrays."""

    def __init__(self, file: io.BytesIO, copy: _Copy) -> None:
        super().__init__(file)
        self._copy = copy

    def persistent_load(self, pid: Any) -> Any:
        return self._copy.arrays[pid]


def _serve(conn: Connection, parents_end: Connection) -> None:
    """The child: warm up, then handle each message sent until the pipe closes."""
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
    copy: _Copy | None = None  # the thumbnails of the preview being streamed
    while True:
        try:
            data = conn.recv_bytes()
            kind = data[:1]
            if kind == _BEGIN:  # a sheet that fails to begin is begun when drawn
                sheet, copy = None, None
                try:
                    sheet = _begin(pickle.loads(data[1:]))
                except Exception:
                    pass
                conn.send_bytes(_READY)
                continue
            if kind == _PART:
                number, part, count = _HEADER.unpack_from(data, 1)
                buffers = [conn.recv_bytes() for _ in range(count)]
                if part == 0:
                    copy = _Copy(number)
                if copy is not None:
                    if (copy.number, copy.parts) == (number, part) and copy.intact:
                        copy.take(data, buffers)
                    else:  # a part missed, or another run's
                        copy.intact = False
                del data, buffers
                conn.send_bytes(_READY)
                continue
        except (EOFError, OSError):  # the parent closed the pipe, or went away
            return
        reply: tuple[str, Any]
        if kind == _FINISH:
            number, parts, _ = _HEADER.unpack_from(data, 1)
            held, copy = copy, None  # dropped once drawn: one run's thumbnails at a time
            if held is None or not held.intact or (held.number, held.parts) != (number, parts):
                reply = ("resend", None)
            else:
                try:
                    stream = io.BytesIO(memoryview(data)[1 + _HEADER.size:])
                    job = _Resolving(stream, held).load()
                except Exception:  # a name it does not hold, or a job that does not unpickle
                    reply = ("resend", None)
                else:
                    del data, held
                    reply = _draw(*job, sheet=sheet)
                    del job
        else:
            copy = None
            try:
                job = pickle.loads(memoryview(data)[1:])
            except Exception as exc:
                reply = _error_reply(exc)
            else:
                del data  # the thumbnails are held once, not twice, while drawing
                reply = _draw(*job, sheet=sheet)
                del job
        if reply[0] != "resend":  # else the sheet is finished by the whole result, next
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
