"""Running the pipeline over many scans, one outcome per input.

:func:`run_batch` finds the inputs (files, folders searched recursively, glob
patterns), plans one output name per input and kind, skips inputs whose
outputs are up to date, and runs the rest in this process, in a local process
pool or on a Dask distributed cluster. The same inputs and settings give the
same PNG pixels whichever way the work runs.

Nothing is lost: every output of an input is first written under a hidden
temporary name (``.<name>.<token>.tmp``) in its final folder, and only when all
of that input's outputs are written are they renamed into place. A failed
input leaves its earlier outputs as they were; a killed run leaves only
temporary files, which the next run removes before it starts.
"""

from __future__ import annotations

import glob
import json
import os
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import OutputError, ParameterError, SketchgradError, choose
from .pipeline import PipelineConfig
from .png import DEFAULT_COMPRESSION

if TYPE_CHECKING:
    from distributed import Client

    from .io import Scan
    from .normalize import Normalizer

__all__ = [
    "Outcome",
    "run_batch",
    "find_inputs",
    "looks_like_image",
    "remove_leftovers",
    "IMAGE_SUFFIXES",
    "NORMALIZE_SCOPES",
]

#: File name endings taken as images when a folder is searched (case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".bmp", ".webp",
                  ".gif")

#: Endings of drawings in formats sketchgrad cannot read. A folder search takes them too,
#: so each is named in a one-line error with a hint ("export the page as PNG or TIFF")
#: rather than left out without a word.
REPORTED_SUFFIXES = (".pdf", ".svg", ".svgz", ".heic", ".heif", ".avif", ".psd", ".jxl")

#: Where the magnitude's normalization statistics come from.
NORMALIZE_SCOPES = ("image", "batch")

# First bytes of the formats load_scan reads, for files without an image ending.
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"GIF87a",
          b"GIF89a")

_GLOB_CHARS = frozenset("*?[")


@dataclass
class Outcome:
    """What happened to one input.

    Attributes
    ----------
    input : str
        The input path as found.
    status : {"ok", "skipped", "failed"}
        ``skipped``: its outputs were up to date.
    outputs : list of str
        The output files (written, or already there when skipped).
    error : str or None
        Why it failed, one line.
    seconds : float
        Time spent on this input.
    """

    input: str
    status: str
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    traceback: str | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary fields: input, outputs, status, error, seconds."""
        return {"input": self.input, "outputs": list(self.outputs), "status": self.status,
                "error": self.error, "seconds": self.seconds}


# ----------------------------------------------------------------------------------------
# Finding inputs and naming outputs


@dataclass(frozen=True)
class _Found:
    path: Path
    base: Path | None  # the folder it was found under (outputs mirror the path below it)


def looks_like_image(path: str | os.PathLike[str]) -> bool:
    r"""Whether a file is taken as an image: by its ending, else by its first bytes.

    Drawings in formats sketchgrad cannot read (``REPORTED_SUFFIXES``: PDF, SVG,
    HEIC, ...) are taken too, so that they fail with a message naming them.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "scan_without_ending"
    >>> _ = p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    >>> looks_like_image(p), looks_like_image(p.with_name("notes.txt"))
    (True, False)
    """
    p = Path(path)
    if p.suffix.lower() in IMAGE_SUFFIXES + REPORTED_SUFFIXES:
        return True
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder)
    except ValueError:
        return False
    return True


def _search(folder: Path, exclude: Path | None) -> list[Path]:
    """Image files under ``folder``, sorted; hidden entries and ``exclude`` left out."""
    found = []
    for root, dirs, files in os.walk(folder):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and not _inside(rootp / d, exclude))
        for name in sorted(files):
            f = rootp / name
            if name.startswith(".") or _inside(f, exclude):
                continue
            if f.is_file() and looks_like_image(f):
                found.append(f)
    return found


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard."""
    parts = Path(pattern).parts
    base = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _discover(paths: Iterable[str | os.PathLike[str]], exclude: Path | None
              ) -> tuple[list[_Found], list[Outcome]]:
    found: list[_Found] = []
    problems: list[Outcome] = []
    seen: set[Path] = set()

    def add(f: Path, base: Path | None) -> None:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            found.append(_Found(f, base))

    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = _search(p, exclude)
            if not files:
                problems.append(Outcome(str(p), "failed", error="no image files found in this "
                                        "folder (files inside the output folder are not taken)"))
            for f in files:
                add(f, p)
        elif p.exists() or not (_GLOB_CHARS & set(str(arg))):
            add(p, None)  # a missing file fails later with load_scan's message
        else:
            base = _glob_base(str(arg))
            matches = sorted(glob.glob(str(arg), recursive=True))
            taken = 0
            for m in map(Path, matches):
                if m.is_dir():
                    for f in _search(m, exclude):
                        add(f, base)
                        taken += 1
                elif m.is_file() and not _inside(m, exclude) and not m.name.startswith("."):
                    add(m, base)
                    taken += 1
            if not taken:
                problems.append(Outcome(str(arg), "failed", error="no file matches this "
                                        "pattern; check the pattern and quote it for the shell"))
    return found, problems


def find_inputs(paths: Iterable[str | os.PathLike[str]], *,
                exclude: str | os.PathLike[str] | None = None) -> list[Path]:
    """Expand files, folders (searched recursively) and glob patterns into inputs.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files (taken as given), folders (image files found by ending or first
        bytes; hidden entries skipped) and glob patterns (``**`` recurses).
    exclude : str or path-like, optional
        A folder whose files are never taken from folders or patterns (the
        output folder).

    Returns
    -------
    list of Path
        Each input once, folders' files sorted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.PNG", "a.jpg", "notes.txt"):
    ...     _ = (d / name).write_bytes(b"")
    >>> [p.name for p in find_inputs([d])]
    ['a.jpg', 'b.PNG']
    """
    ex = Path(exclude).resolve() if exclude is not None else None
    return [f.path for f in _discover(paths, ex)[0]]


def _plan(found: list[_Found], outdir: Path, kinds: Sequence[str]
          ) -> tuple[list[tuple[_Found, list[Path]]], list[Outcome]]:
    """Output paths per input: ``<stem>.<kind>.png`` mirroring the folder structure.

    Stems that clash in one output folder (``page1.png`` and ``page1.jpg``) keep
    the file's ending (``page1.png.hsv.png``); names still clashing are failures.
    """
    def rel_parent(f: _Found) -> Path:
        if f.base is None:
            return Path()
        try:
            return f.path.parent.relative_to(f.base)
        except ValueError:
            return Path()

    def key(f: _Found, name: str) -> str:
        return str(rel_parent(f) / name).casefold()

    stem_count: dict[str, int] = {}
    for f in found:
        k = key(f, f.path.stem)
        stem_count[k] = stem_count.get(k, 0) + 1
    names: list[str] = []
    for f in found:
        clash = stem_count[key(f, f.path.stem)] > 1
        names.append(f.path.name if clash else f.path.stem)
    owner: dict[str, int] = {}
    planned, problems = [], []
    for i, (f, name) in enumerate(zip(found, names, strict=True)):
        k = key(f, name)
        if k in owner:
            other = found[owner[k]].path
            problems.append(Outcome(str(f.path), "failed", error=(
                f"its outputs would have the same names as those of {other}; give the folders "
                "that hold them instead of the files, or run them with different -o")))
            continue
        owner[k] = i
        folder = outdir / rel_parent(f)
        planned.append((f, [folder / f"{name}.{kind}.png" for kind in kinds]))
    return planned, problems


# ----------------------------------------------------------------------------------------
# Temporary files


def _is_leftover(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp") and ".png." in name


def remove_leftovers(outdir: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files a killed run left under ``outdir``.

    Only sketchgrad's own temporary names (``.<name>.png.<token>.tmp``) are touched.

    Returns
    -------
    list of Path
        The files removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / ".page.hsv.png.k2j4x9q1.tmp").write_bytes(b"half a png")
    >>> _ = (d / "keep.tmp").write_bytes(b"")
    >>> [p.name for p in remove_leftovers(d)], sorted(p.name for p in d.iterdir())
    (['.page.hsv.png.k2j4x9q1.tmp'], ['keep.tmp'])
    """
    removed = []
    for root, _dirs, files in os.walk(os.fspath(outdir)):
        for name in files:
            if _is_leftover(name):
                p = Path(root) / name
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
    return removed


# ----------------------------------------------------------------------------------------
# The work one input needs (runs in a worker: everything here must pickle)


@dataclass(frozen=True)
class _Job:
    index: int
    source: str
    outputs: tuple[tuple[str, str], ...]  # (kind, destination)
    config: PipelineConfig
    max_pixels: int | None
    compression: int = DEFAULT_COMPRESSION
    text: tuple[tuple[str, str], ...] = ()
    normalizer: Normalizer | None = None


@dataclass
class _Reply:
    index: int
    ok: bool
    value: object = None  # written paths, or a fitted Normalizer
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0


def _reason(exc: BaseException, source: str) -> str:
    """The one-line message without a leading ``<source>: `` (the CLI adds it)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in (f"{source}: ", f"{Path(source).resolve()}: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _guard(job: _Job, work: Callable[[_Job], object]) -> _Reply:
    start = time.perf_counter()
    try:
        reply = _Reply(job.index, True, work(job))
    except SketchgradError as exc:
        reply = _Reply(job.index, False, error=_reason(exc, job.source),
                       traceback=traceback.format_exc())
    except MemoryError:
        reply = _Reply(job.index, False, error="out of memory; use fewer workers= or a "
                       "smaller tile_size=", traceback=traceback.format_exc())
    except Exception as exc:  # a bug must not stop the other inputs
        reply = _Reply(job.index, False,
                       error=f"internal error ({type(exc).__name__}: {exc}); please report "
                       "it with the debug=True output", traceback=traceback.format_exc())
    reply.seconds = time.perf_counter() - start
    return reply


def _load(job: _Job) -> Scan:
    from .io import load_scan

    return load_scan(job.source, mode="gray", max_pixels=job.max_pixels)


def _fit(job: _Job) -> Normalizer:
    """First pass of ``normalize_scope="batch"``: this input's magnitude statistics.

    ``fit_normalizer`` goes tile by tile (memory: the image plus a few tiles)
    and measures exactly the magnitude the pipeline normalizes (floored at
    ``color.ZERO_GRADIENT``, bitwise repeatable).
    """
    from .pipeline import fit_normalizer

    return fit_normalizer(_load(job), job.config)


def _produce(job: _Job) -> list[str]:
    """Second pass: process one input and put all its outputs in place together."""
    from .pipeline import process_to_files

    scan = _load(job)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staged: dict[str, Path] = {}
    try:
        for kind, name in job.outputs:
            dest = Path(name)
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{dest.parent}: cannot create the folder "
                                  f"({exc.strerror or exc})") from None
            staged[kind] = dest.with_name(f".{dest.name}.{token}.tmp")
        process_to_files(scan, job.config, staged, normalizer=job.normalizer,
                         text=dict(job.text), compression=job.compression)
        for kind, target in job.outputs:
            os.replace(staged[kind], target)
    except BaseException as exc:
        for stage in staged.values():
            stage.unlink(missing_ok=True)
        if isinstance(exc, OutputError):  # name the output, not its temporary file
            message = str(exc)
            for kind, target in job.outputs:
                message = message.replace(str(staged.get(kind, target)), target)
            raise OutputError(message) from None
        raise
    return [dest for _kind, dest in job.outputs]


def _fit_job(job: _Job) -> _Reply:
    return _guard(job, _fit)


def _produce_job(job: _Job, normalizer: Normalizer | None = None) -> _Reply:
    if normalizer is not None:  # shared by every job: sent once, not inside each job
        job = replace(job, normalizer=normalizer)
    return _guard(job, _produce)


# ----------------------------------------------------------------------------------------
# Where the work runs


def _ignore_sigint() -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent alone handles it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Runner:
    """Runs jobs here, in a process pool, or on a Dask cluster; yields replies as done."""

    def __init__(self, workers: int, scheduler: str | Client | None = None) -> None:
        self.workers = max(1, workers)
        self.scheduler = scheduler
        self.client: Client | None = None
        self.own_client = False
        self.pool: ProcessPoolExecutor | None = None
        self._futures: list[Any] = []  # the Dask futures of the current pass (cancelled by abort)
        if scheduler is not None:
            self.client, self.own_client = _connect(scheduler)

    def run(self, func: Callable[..., _Reply], jobs: list[_Job],
            shared: object = None) -> Iterator[_Reply]:
        """``func(job)``, or ``func(job, shared)`` when an object is shared by all jobs."""
        if not jobs:
            return
        extra = () if shared is None else (shared,)
        if self.client is not None:
            yield from self._run_dask(func, jobs, shared)
        elif self.workers == 1 or len(jobs) == 1:
            for job in jobs:
                yield func(job, *extra)
        else:
            yield from self._run_pool(func, jobs, extra)

    def _run_pool(self, func: Callable[..., _Reply], jobs: list[_Job],
                  extra: tuple[object, ...]) -> Iterator[_Reply]:
        import multiprocessing
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                max_workers=min(self.workers, len(jobs)),
                mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint)
        pool = self.pool
        futures = {pool.submit(func, job, *extra): job for job in jobs}
        broken = False
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                yield fut.result()
            except BrokenProcessPool:
                broken = True
                yield _Reply(job.index, False, error="a worker process died (killed, or out "
                             "of memory); use fewer workers= or a smaller tile_size=")
        if broken:  # the next pass gets a fresh pool
            pool.shutdown(wait=True)
            self.pool = None

    def _run_dask(self, func: Callable[..., _Reply], jobs: list[_Job],
                  shared: object) -> Iterator[_Reply]:
        from distributed import as_completed

        client = cast("Client", self.client)  # run() calls this with a client
        if shared is None:
            futures = client.map(func, jobs, pure=False)
        else:  # one copy to every worker, not one per job
            [handle] = client.scatter([shared], broadcast=True, hash=False)
            futures = client.map(func, jobs, pure=False, normalizer=handle)
        index = {fut.key: job for fut, job in zip(futures, jobs, strict=True)}
        self._futures = futures
        for fut in as_completed(futures, loop=client.loop):
            job = index[fut.key]
            try:
                yield fut.result()
            except Exception as exc:  # the worker process was lost, or cannot import us
                yield _Reply(job.index, False, error=f"the Dask cluster failed this input "
                             f"({type(exc).__name__}: {exc})")

    def abort(self) -> None:
        """Stop at once (Ctrl-C): cancel queued work and end the worker processes."""
        if self.pool is not None:
            processes = list(getattr(self.pool, "_processes", {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                p.terminate()
            for p in processes:
                p.join(5)
            self.pool = None
        if self.client is not None:
            if self._futures:
                self.client.cancel(self._futures)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
        if self.client is not None and self.own_client:
            self.client.close()
        self.client = None


def _connect(scheduler: str | Client) -> tuple[Client, bool]:
    """A ``distributed.Client`` for a scheduler address (or the client given)."""
    if not isinstance(scheduler, str):
        return scheduler, False
    try:
        from distributed import Client
    except ImportError:
        raise ParameterError(
            "scheduler= needs Dask distributed, which is not installed; install it with: "
            "pip install \"sketchgrad[distributed]\"") from None
    try:
        return Client(scheduler, timeout="10s", set_as_default=False), True
    except (OSError, TimeoutError, ValueError) as exc:
        raise ParameterError(
            f"scheduler={scheduler}: cannot connect to a Dask scheduler there ({exc}); "
            "start one with `dask scheduler` and give the address it prints") from None


# ----------------------------------------------------------------------------------------
# The batch


def _check_outdir(outdir: Path) -> None:
    import tempfile

    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: the output folder is a file; choose a folder (outdir=)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create the output folder "
                          f"({exc.strerror or exc}); choose another (outdir=)") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".sketchgrad-probe.", suffix=".tmp", dir=outdir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write in the output folder "
                          f"({exc.strerror or exc}); choose another (outdir=)") from None


def _normalizer_state(normalizer: Normalizer | None) -> dict[str, Any] | None:
    """A small JSON record of fitted statistics, for provenance and skip checks.

    The statistics are readable (``count``, ``min``, ``max``, ...); the
    fingerprint (SHA-256 of the full state, histograms included) tells
    whether two batches' scales are the same.
    """
    from .config import normalizer_record

    return normalizer_record(normalizer)  # the API's process_to_files records the same


def _jsonable(value: object) -> object:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _merge(normalizers: Sequence[Normalizer]) -> Normalizer:
    """Merge per-input statistics in input order (the same result on any runner)."""
    from .normalize import Normalizer

    total = Normalizer(normalizers[0].method, **normalizers[0].params)
    for part in normalizers:
        total.merge(part)
    return total


def _expected_record(config: PipelineConfig, scope: str, state: object) -> dict[str, Any]:
    from .config import provenance_text

    text = provenance_text(config, normalize_scope=scope, normalizer_state=state)
    return cast("dict[str, Any]", json.loads(text["sketchgrad"]))


def _newer_than_input(source: Path, dests: list[Path]) -> bool:
    """Whether every output exists and was written after the input last changed."""
    try:
        newest_input = source.stat().st_mtime_ns
        return all(dest.stat().st_mtime_ns >= newest_input for dest in dests)
    except OSError:
        return False


def _records(dests: list[Path]) -> list[dict[str, Any] | None]:
    """Each output's provenance record (None: missing, not a file, or not ours), read once."""
    from .config import read_provenance

    return [read_provenance(dest) if dest.is_file() else None for dest in dests]


def _up_to_date(source: Path, dests: list[Path], records: list[dict[str, Any] | None],
                expected: dict[str, Any]) -> bool:
    if not _newer_than_input(source, dests):
        return False
    return all(record is not None
               and all(record.get(k) == expected.get(k)
                       for k in ("config", "normalize_scope", "normalizer"))
               for record in records)


def _foreign(dests: list[Path], records: list[dict[str, Any] | None]) -> Path | None:
    """The first existing output that sketchgrad did not write, if any."""
    for dest, record in zip(dests, records, strict=True):
        if record is None and dest.exists():
            return dest
    return None


def run_batch(inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
              config: PipelineConfig | None = None, *, compression: int = DEFAULT_COMPRESSION,
              workers: int | None = 1, overwrite: bool = False,
              normalize_scope: str = "image", scheduler: str | Client | None = None,
              max_pixels: int | None = None,
              on_start: Callable[[str, int], None] | None = None,
              on_measured: Callable[[str], None] | None = None,
              on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Process many scans into ``outdir``; a failed file does not stop the others.

    Parameters
    ----------
    inputs : iterable of str or path-like
        Files, folders (searched recursively) and glob patterns; see
        :func:`find_inputs`. Files inside ``outdir`` are never taken from folders.
    outdir : str or path-like
        Output folder, created if needed. Outputs are ``<stem>.<kind>.png``,
        mirroring each file's folder below the folder given.
    config : PipelineConfig, optional
        Pipeline settings; ``config.outputs`` says which PNGs to write.
    compression : int
        zlib level 0-9 of the PNGs.
    workers : int or None
        Local worker processes (``None``: one per core; 1: this process).
    overwrite : bool
        Process inputs even when their outputs are up to date.
    normalize_scope : {"image", "batch"}
        ``"batch"`` scales every magnitude with statistics merged over all
        inputs (a first pass), so faint pages stay faint.
    scheduler : str or distributed.Client, optional
        Run on a Dask distributed cluster at this address (``tcp://host:8786``)
        instead of local processes; paths must be reachable from the workers.
    max_pixels : int or None
        Refuse scans with more pixels than this, judged before decoding
        (``None``: ``load_scan``'s default limit; 0: no limit).
    on_start : callable, optional
        ``on_start(stage, total)`` when the ``"statistics"`` or ``"process"``
        pass starts.
    on_measured : callable, optional
        ``on_measured(input)`` after each input's statistics (batch scope).
    on_done : callable, optional
        ``on_done(outcome)`` as each input finishes.

    Returns
    -------
    list of Outcome
        One per input, in the order found.

    Raises
    ------
    OutputError
        If ``outdir`` is a file, cannot be created or cannot be written
        (before any work).
    ParameterError
        For an unknown ``normalize_scope`` or an unusable ``scheduler``.
    KeyboardInterrupt
        After stopping the workers and removing temporary files.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from sketchgrad.png import save_png
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "in").mkdir()
    >>> _ = save_png(d / "in" / "page.png", np.eye(8, dtype=np.float32))
    >>> out = run_batch([d / "in"], d / "out", PipelineConfig(outputs=("hsv",)))
    >>> [(o.status, pathlib.Path(o.outputs[0]).name) for o in out]
    [('ok', 'page.hsv.png')]
    >>> [o.status for o in run_batch([d / "in"], d / "out", PipelineConfig(outputs=("hsv",)))]
    ['skipped']
    """
    config = config or PipelineConfig()
    choose(dict.fromkeys(NORMALIZE_SCOPES), normalize_scope, "normalize_scope")
    if not 0 <= int(compression) <= 9:
        raise ParameterError(f"compression={compression!r} must be a zlib level from 0 to 9")
    if workers is None:
        workers = os.cpu_count() or 1
    if int(workers) < 1:
        raise ParameterError(f"workers={workers!r} must be 1 or more")
    limit = _pixel_limit(max_pixels)
    outdir = Path(outdir)
    _check_outdir(outdir)
    outdir_abs = outdir.resolve()
    remove_leftovers(outdir)

    found, problems = _discover(inputs, outdir_abs)
    planned, clashes = _plan(found, outdir, config.outputs)
    problems += clashes
    order = {str(f.path): i for i, f in enumerate(found)}
    outcomes: dict[int, Outcome] = {}

    def finish(index: int, outcome: Outcome) -> None:
        outcomes[index] = outcome
        if on_done:
            on_done(outcome)

    base = len(found)
    for k, outcome in enumerate(problems):
        finish(order.get(outcome.input, base + k), outcome)

    runner = _Runner(int(workers), scheduler)
    try:
        jobs = [_Job(order[str(f.path)], str(f.path.resolve()),
                     tuple((kind, str(d.resolve().parent / d.name))
                           for kind, d in zip(config.outputs, dests, strict=True)),
                     config, limit, int(compression))
                for f, dests in planned]
        shown = {order[str(f.path)]: (f, dests) for f, dests in planned}
        # what the outputs already there record, for the checks below (--overwrite: unused)
        records = {} if overwrite else {i: _records(dests) for i, (_, dests) in shown.items()}
        if not overwrite:
            foreign = []
            for job in jobs:
                f, dests = shown[job.index]
                clash = _foreign(dests, records[job.index])
                if clash is not None:
                    finish(job.index, Outcome(str(f.path), "failed", error=(
                        f"{clash} exists and was not written by sketchgrad; move it away "
                        "or use overwrite=True")))
                    foreign.append(job.index)
            jobs = [j for j in jobs if j.index not in foreign]

        spent: dict[int, float] = {}
        normalizer: Normalizer | None = None
        fitted: dict[int, Normalizer] = {}
        if normalize_scope == "batch" and jobs:
            if on_start:
                on_start("statistics", len(jobs))
            measure = []
            for job in jobs:  # statistics kept in up-to-date outputs need no second look
                f, dests = shown[job.index]
                kept = None if overwrite else _kept_statistics(
                    f.path, dests, records[job.index][0], config)
                if kept is None:
                    measure.append(job)
                else:
                    fitted[job.index] = kept
                    if on_measured:
                        on_measured(str(f.path))
            for reply in runner.run(_fit_job, measure):
                spent[reply.index] = reply.seconds
                if reply.ok:
                    fitted[reply.index] = cast("Normalizer", reply.value)  # what _fit returns
                    if on_measured:
                        on_measured(str(shown[reply.index][0].path))
                else:
                    finish(reply.index, _failed(shown[reply.index][0], reply))
            jobs = [j for j in jobs if j.index in fitted]
            if fitted:
                normalizer = _merge([fitted[i] for i in sorted(fitted)])
        state = _normalizer_state(normalizer)
        expected = _expected_record(config, normalize_scope, state)
        todo = []
        for job in jobs:
            f, dests = shown[job.index]
            if not overwrite and _up_to_date(f.path, dests, records[job.index], expected):
                finish(job.index, Outcome(str(f.path), "skipped", [str(d) for d in dests],
                                          seconds=round(spent.get(job.index, 0.0), 3)))
            else:
                text = _provenance(config, normalize_scope, state, fitted.get(job.index))
                todo.append(replace(job, text=tuple(text.items())))
        if on_start:
            on_start("process", len(todo))
        for reply in runner.run(_produce_job, todo, normalizer):
            f, dests = shown[reply.index]
            seconds = round(reply.seconds + spent.get(reply.index, 0.0), 3)
            if reply.ok:
                finish(reply.index, Outcome(str(f.path), "ok", [str(d) for d in dests],
                                            seconds=seconds))
            else:
                outcome = _failed(f, reply)
                outcome.seconds = seconds
                finish(reply.index, outcome)
    except BaseException:
        runner.abort()
        remove_leftovers(outdir)
        raise
    finally:
        runner.close()
    return [outcomes[i] for i in sorted(outcomes)]


def _pixel_limit(max_pixels: int | None) -> int | None:
    """``load_scan``'s max_pixels for the command's: None -> the default, 0 -> no limit."""
    from .io import DEFAULT_MAX_PIXELS

    if max_pixels is None:
        return DEFAULT_MAX_PIXELS
    if int(max_pixels) < 0:
        raise ParameterError(f"max_pixels={max_pixels!r} must be 0 (no limit) or more")
    return int(max_pixels) or None


#: Largest JSON of one input's own statistics kept in its outputs' provenance (minmax,
#: zscore, ... take about 200 bytes; the histograms of robust / equalize are not kept).
_KEEP_STATISTICS = 8192


def _provenance(config: PipelineConfig, scope: str, state: object,
                own: Normalizer | None = None) -> dict[str, str]:
    from .config import provenance_text

    kept = None
    if own is not None:
        kept = json.loads(json.dumps(own.to_dict(), default=_jsonable))
        if len(json.dumps(kept)) > _KEEP_STATISTICS:
            kept = None
    return provenance_text(config, normalize_scope=scope, normalizer_state=state,
                           input_statistics=kept)


def _kept_statistics(source: Path, dests: list[Path], record: dict[str, Any] | None,
                     config: PipelineConfig) -> Normalizer | None:
    """The input's statistics as recorded (``record``: its first output's), or None."""
    from .normalize import Normalizer

    if not _newer_than_input(source, dests):
        return None
    if (record is None or record.get("normalize_scope") != "batch"
            or record.get("config") != _expected_record(config, "batch", None)["config"]
            or not isinstance(record.get("input_statistics"), dict)):
        return None
    try:
        kept = Normalizer.from_dict(record["input_statistics"])
    except (SketchgradError, TypeError, ValueError):
        return None
    return kept if kept.method == config.normalize else None


def _failed(found: _Found, reply: _Reply) -> Outcome:
    return Outcome(str(found.path), "failed", error=reply.error,
                   seconds=round(reply.seconds, 3), traceback=reply.traceback)

