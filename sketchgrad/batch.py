"""Running the pipeline over many scans, one outcome per input: :func:`run_batch`.

``run_batch`` reads as its phases: find the inputs and plan their outputs
(:mod:`sketchgrad.inputs`), refuse outputs sketchgrad did not write, measure a
shared scale (``normalize_scope="batch"``), skip inputs whose outputs are up
to date (:mod:`sketchgrad.provenance`), and produce the rest on a runner (this
process, a local pool or a Dask cluster, :mod:`sketchgrad.runners`). The same
inputs and settings give the same PNG pixels whichever way the work runs.

Nothing is lost: all outputs of an input are written under hidden temporary
names (``.<name>.<token>.tmp``) in their final folder and renamed into place
together, once, by :func:`sketchgrad.streaming.process_to_files`. A failed
input leaves its earlier outputs as they were; a killed run leaves only
temporary files, which the next run removes before it starts.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import OutputError, ParameterError, choose
from .inputs import PlannedInput, discover, find_inputs, plan_outputs
from .io import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, REPORTED_SUFFIXES, looks_like_image
from .pipeline import PipelineConfig
from .png import DEFAULT_COMPRESSION
from .provenance import (
    expected_record,
    foreign_output,
    kept_statistics,
    normalizer_record,
    output_provenance,
    output_records,
    up_to_date,
)
from .runners import Job, Reply, Runner, guard

if TYPE_CHECKING:
    from distributed import Client

    from .io import Scan
    from .normalize import Normalizer
    from .renderer import PreviewRenderer

__all__ = [
    "Outcome",
    "run_batch",
    "find_inputs",
    "looks_like_image",
    "remove_leftovers",
    "pixel_limit",
    "merge_normalizers",
    "IMAGE_SUFFIXES",
    "REPORTED_SUFFIXES",
    "NORMALIZE_SCOPES",
]

#: Where the magnitude's normalization statistics come from.
NORMALIZE_SCOPES = ("image", "batch")


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
    strokes : dict or None
        The scan's stroke figures (``StrokeStatistics.summary()``: dominant
        angles with their share of the ink, overall coherence) when the outputs
        measured them (``flow``, ``preview``); for a skipped input, as its
        outputs recorded them.
    """

    input: str
    status: str
    outputs: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    traceback: str | None = field(default=None, repr=False, compare=False)
    strokes: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary fields (input, outputs, status, error, seconds; strokes if any)."""
        record: dict[str, Any] = {"input": self.input, "outputs": list(self.outputs),
                                  "status": self.status, "error": self.error,
                                  "seconds": self.seconds}
        if self.strokes is not None:
            record["strokes"] = self.strokes
        return record


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
    for root, _dirs, files in os.walk(outdir):
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
# The work of one input (runs in a worker: module-level functions, so they pickle)


def _load(job: Job) -> Scan:
    from .io import load_scan

    # what the file holds (a grey file exactly as with mode="gray"), unless grey is asked
    mode = "gray" if job.config.channels == "gray" else "auto"
    # 8/16-bit samples stay in their dtype: the tile engine converts tile by tile
    return load_scan(job.source, mode=mode, max_pixels=job.max_pixels, dtype="native")


def _fit(job: Job) -> Normalizer:
    """First pass of ``normalize_scope="batch"``: this input's magnitude statistics.

    ``fit_normalizer`` goes tile by tile (memory: the image plus a few tiles)
    and measures exactly the magnitude the pipeline normalizes (floored at
    ``gradients.ZERO_GRADIENT``, bitwise repeatable).
    """
    from .pipeline import fit_normalizer

    return fit_normalizer(_load(job), job.config)


def _produce(job: Job, preview_renderer: PreviewRenderer | None = None) -> dict[str, Any]:
    """Second pass: process one input; its outputs are put in place together, once.

    ``preview_renderer`` (only in the process that started it) draws the
    preview. Returns the figures measured on the way (``{"strokes": ...}`` or empty).
    """
    from .io import Scan
    from .pipeline import image_for_channels
    from .streaming import process_to_files

    scan = _load(job)
    # grey or colour is decided once for this scan (process_to_files records it); a grey
    # scan stays in its file's dtype, converted tile by tile
    image, used = image_for_channels(scan, job.config.channels, native=True)
    scan = Scan(image, scan.meta)
    for _kind, dest in job.outputs:
        folder = Path(dest).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the folder "
                              f"({exc.strerror or exc})") from None
    figures: dict[str, Any] = {}
    process_to_files(scan, replace(job.config, channels=used), dict(job.outputs),
                     normalizer=job.normalizer, text=dict(job.text),
                     compression=job.compression, figures=figures,
                     preview_renderer=preview_renderer)
    return figures


def _fit_job(job: Job) -> Reply:
    return guard(job, _fit)


def _produce_job(job: Job, normalizer: Normalizer | None = None, *,
                 preview_renderer: PreviewRenderer | None = None) -> Reply:
    if normalizer is not None:  # shared by every job: sent once, not inside each job
        job = replace(job, normalizer=normalizer)
    work = _produce
    if preview_renderer is not None:
        work = functools.partial(_produce, preview_renderer=preview_renderer)
    try:
        return guard(job, work)
    finally:
        _release_freed_memory()


def _release_freed_memory() -> bool:
    """Give the memory freed by a finished scan back to the system (glibc's ``malloc_trim``).

    A worker runs scan after scan with several threads; glibc keeps what the
    tiles freed in per-thread arenas, so without this a worker's resident
    memory grows from scan to scan (measured: ``sketchgrad run`` on four 8.5 MP
    scans in one process peaked at 510 MB untrimmed and 437 MB trimmed after each
    scan; one scan alone, 325 MB; matplotlib, loaded once, is part of the rest).
    Returns whether memory was trimmed (False where the C library has no
    ``malloc_trim``: macOS, Windows, musl).

    Examples
    --------
    >>> _release_freed_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim() -> Any:  # a ctypes function, or None
    """The C library's ``malloc_trim`` (glibc), from this process's own symbols, looked up once.

    None where the C library has none.
    """
    import ctypes

    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # no C library by that route (Windows)
        return None


# ----------------------------------------------------------------------------------------
# Checks before any work


def _check_outdir(outdir: Path) -> None:
    from .streaming import staging_token

    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: the output folder is a file; choose a folder (outdir=)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create the output folder "
                          f"({exc.strerror or exc}); choose another (outdir=)") from None
    try:
        # a name no one else uses (not tempfile: its import costs a one-scan run 2 ms)
        probe = outdir / f".sketchgrad-probe.{staging_token()}.tmp"
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write in the output folder "
                          f"({exc.strerror or exc}); choose another (outdir=)") from None


def pixel_limit(max_pixels: int | None) -> int | None:
    """``load_scan``'s max_pixels for the command's: None -> the default, 0 -> no limit.

    Examples
    --------
    >>> pixel_limit(None) == DEFAULT_MAX_PIXELS, pixel_limit(0), pixel_limit(10)
    (True, None, 10)
    """
    if max_pixels is None:
        return DEFAULT_MAX_PIXELS
    if int(max_pixels) < 0:
        raise ParameterError(f"max_pixels={max_pixels!r} must be 0 (no limit) or more")
    return int(max_pixels) or None


def merge_normalizers(normalizers: Sequence[Normalizer]) -> Normalizer:
    """Merge per-input statistics in input order (the same result on any runner)."""
    from .normalize import Normalizer

    total = Normalizer(normalizers[0].method, **normalizers[0].params)
    for part in normalizers:
        total.merge(part)
    return total


# ----------------------------------------------------------------------------------------
# The batch


@dataclass
class _Batch:
    """The state a batch's phases share: the planned inputs by index, and the outcomes."""

    config: PipelineConfig
    overwrite: bool
    planned: dict[int, PlannedInput]
    on_done: Callable[[Outcome], None] | None
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    # provenance of the outputs there
    records: dict[int, list[dict[str, Any] | None]] = field(default_factory=dict)
    spent: dict[int, float] = field(default_factory=dict)  # seconds of the first pass

    def finish(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome
        if self.on_done:
            self.on_done(outcome)

    def failed(self, reply: Reply, seconds: float | None = None) -> None:
        source = str(self.planned[reply.index].found.path)
        self.finish(reply.index, Outcome(
            source, "failed", error=reply.error, traceback=reply.traceback,
            seconds=round(reply.seconds if seconds is None else seconds, 3)))

    def outputs(self, index: int) -> list[Path]:
        return list(self.planned[index].outputs)


def _refuse_foreign(batch: _Batch, jobs: list[Job]) -> list[Job]:
    """Phase: fail inputs one of whose outputs exists but was not written by sketchgrad."""
    if batch.overwrite:
        return jobs
    kept = []
    for job in jobs:
        clash = foreign_output(batch.outputs(job.index), batch.records[job.index])
        if clash is None:
            kept.append(job)
        else:
            batch.finish(job.index, Outcome(
                str(batch.planned[job.index].found.path), "failed",
                error=f"{clash} exists and was not written by sketchgrad; move it away or "
                "use overwrite=True"))
    return kept


def _measure(batch: _Batch, jobs: list[Job], runner: Runner,
             on_start: Callable[[str, int], None] | None,
             on_measured: Callable[[str], None] | None,
             ) -> tuple[list[Job], dict[int, Normalizer], Normalizer | None]:
    """Phase (batch scope): every input's statistics, merged into one scale.

    Statistics recorded in up-to-date outputs need no second look. Returns the
    jobs still to do, each input's own statistics and the merged normalizer.
    """
    if on_start:
        on_start("statistics", len(jobs))
    fitted: dict[int, Normalizer] = {}
    measure = []
    for job in jobs:
        source = batch.planned[job.index].found.path
        kept = None if batch.overwrite else kept_statistics(
            source, batch.outputs(job.index), batch.records[job.index][0], batch.config)
        if kept is None:
            measure.append(job)
        else:
            fitted[job.index] = kept
            if on_measured:
                on_measured(str(source))
    for reply in runner.run(_fit_job, measure):
        batch.spent[reply.index] = reply.seconds
        if reply.ok:
            fitted[reply.index] = cast("Normalizer", reply.value)  # what _fit returns
            if on_measured:
                on_measured(str(batch.planned[reply.index].found.path))
        else:
            batch.failed(reply)
    jobs = [j for j in jobs if j.index in fitted]
    normalizer = merge_normalizers([fitted[i] for i in sorted(fitted)]) if fitted else None
    return jobs, fitted, normalizer


def _skip_up_to_date(batch: _Batch, jobs: list[Job], scope: str,
                     normalizer: Normalizer | None,
                     fitted: dict[int, Normalizer]) -> list[Job]:
    """Phase: skip inputs whose outputs are up to date; give the rest their provenance."""
    state = normalizer_record(normalizer)
    expected = expected_record(batch.config, scope, state)
    todo = []
    for job in jobs:
        planned = batch.planned[job.index]
        source, dests = planned.found.path, batch.outputs(job.index)
        if not batch.overwrite and up_to_date(source, dests, batch.records[job.index],
                                              expected):
            first = batch.records[job.index][0]
            batch.finish(job.index, Outcome(
                str(source), "skipped", [str(d) for d in dests],
                seconds=round(batch.spent.get(job.index, 0.0), 3),
                strokes=first.get("strokes") if first else None))
        else:
            text = output_provenance(batch.config, scope, state, fitted.get(job.index))
            todo.append(replace(job, text=tuple(text.items())))
    return todo


def _produce_all(batch: _Batch, todo: list[Job], runner: Runner,
                 normalizer: Normalizer | None,
                 preview_renderer: PreviewRenderer | None = None) -> None:
    """Phase: process the remaining inputs on the runner.

    The preview process draws the previews of inputs produced here, never in
    a pool's or a cluster's workers (it is this process's child).
    """
    produce: Callable[..., Reply] = _produce_job
    if preview_renderer is not None and runner.runs_here(len(todo)):
        produce = functools.partial(_produce_job, preview_renderer=preview_renderer)
    for reply in runner.run(produce, todo, normalizer):
        seconds = reply.seconds + batch.spent.get(reply.index, 0.0)
        if reply.ok:
            planned = batch.planned[reply.index]
            figures = cast("dict[str, Any] | None", reply.value)  # what _produce returned
            batch.finish(reply.index, Outcome(
                str(planned.found.path), "ok", [str(d) for d in planned.outputs],
                seconds=round(seconds, 3), strokes=(figures or {}).get("strokes")))
        else:
            batch.failed(reply, seconds)


def run_batch(inputs: Iterable[str | os.PathLike[str]], outdir: str | os.PathLike[str],
              config: PipelineConfig | None = None, *, compression: int = DEFAULT_COMPRESSION,
              workers: int | None = 1, overwrite: bool = False,
              normalize_scope: str = "image", scheduler: str | Client | None = None,
              max_pixels: int | None = None,
              on_start: Callable[[str, int], None] | None = None,
              on_measured: Callable[[str], None] | None = None,
              on_done: Callable[[Outcome], None] | None = None,
              preview_renderer: PreviewRenderer | None = None) -> list[Outcome]:
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
    preview_renderer : PreviewRenderer, optional
        Draws the previews of the scans produced in this process (one worker,
        or one input, and no ``scheduler``), as the command does
        (:func:`sketchgrad.renderer.start_renderer`); ignored when the pool or
        the cluster produces them. The caller closes it.

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
    limit = pixel_limit(max_pixels)
    outdir = Path(outdir)
    _check_outdir(outdir)
    remove_leftovers(outdir)

    # Find the inputs and name their outputs; what yields nothing is a failed outcome.
    found, problems = discover(inputs, outdir.resolve())
    planned, clashes = plan_outputs(found, outdir, config.outputs)
    order = {str(f.path): i for i, f in enumerate(found)}
    batch = _Batch(config, overwrite, {order[str(p.found.path)]: p for p in planned}, on_done)
    for k, problem in enumerate(problems + clashes):
        batch.finish(order.get(problem.input, len(found) + k),
                     Outcome(problem.input, "failed", error=problem.error))

    runner = Runner(int(workers), scheduler)
    try:
        jobs = [Job(index, str(p.found.path.resolve()),
                    tuple((kind, str(d.resolve().parent / d.name))
                          for kind, d in zip(config.outputs, p.outputs, strict=True)),
                    config, limit, int(compression))
                for index, p in batch.planned.items()]
        if not overwrite:  # what the outputs already there record, read once
            batch.records = {job.index: output_records(batch.outputs(job.index))
                             for job in jobs}
        jobs = _refuse_foreign(batch, jobs)
        normalizer: Normalizer | None = None
        fitted: dict[int, Normalizer] = {}
        if normalize_scope == "batch" and jobs:
            jobs, fitted, normalizer = _measure(batch, jobs, runner, on_start, on_measured)
        todo = _skip_up_to_date(batch, jobs, normalize_scope, normalizer, fitted)
        if on_start:
            on_start("process", len(todo))
        _produce_all(batch, todo, runner, normalizer, preview_renderer)
    except BaseException:
        runner.abort()
        remove_leftovers(outdir)
        raise
    finally:
        runner.close()
    return [batch.outcomes[i] for i in sorted(batch.outcomes)]
