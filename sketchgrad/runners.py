"""Where a batch's work runs: one runner over this process, a local process pool or a Dask cluster.

A job (:class:`Job`) is everything one input needs, and pickles; a worker
function turns it into a :class:`Reply` and never raises (:func:`guard`
turns any failure into a one-line reason). :class:`Runner` runs a list of
jobs and yields replies as they finish. The pool and the cluster are the same
path: both are a :class:`concurrent.futures.Executor` (for Dask,
``Client.get_executor()``), so only how the executor is made, how an object
shared by every job is sent, and how a lost worker is reported differ.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ParameterError, SketchgradError
from .pipeline import PipelineConfig
from .png import DEFAULT_COMPRESSION

if TYPE_CHECKING:
    from distributed import Client

    from .normalize import Normalizer

__all__ = ["Job", "Reply", "Runner", "guard", "one_line_reason"]


@dataclass(frozen=True)
class Job:
    """The work one input needs (sent to a worker: everything here pickles).

    Attributes
    ----------
    index : int
        The input's place in the batch.
    source : str
        The input file (absolute).
    outputs : tuple of (kind, destination)
        The outputs to write.
    config : PipelineConfig
        Pipeline settings.
    max_pixels : int or None
        ``load_scan``'s limit.
    compression : int
        zlib level of the PNGs.
    text : tuple of (key, value)
        PNG text chunks (provenance).
    normalizer : Normalizer or None
        The batch's shared scale (sent once per worker by :meth:`Runner.run`).
    """

    index: int
    source: str
    outputs: tuple[tuple[str, str], ...]
    config: PipelineConfig
    max_pixels: int | None
    compression: int = DEFAULT_COMPRESSION
    text: tuple[tuple[str, str], ...] = ()
    normalizer: Normalizer | None = None


@dataclass
class Reply:
    """What a worker sends back for one job: a value, or why it failed (one line)."""

    index: int
    ok: bool
    value: object = None  # written paths, or a fitted Normalizer
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0


def one_line_reason(exc: BaseException, source: str) -> str:
    """An error's message on one line, without a leading ``<source>: `` (the caller adds it).

    Examples
    --------
    >>> one_line_reason(ValueError("page.png: not a PNG   (truncated)"), "page.png")
    'not a PNG (truncated)'
    """
    msg = " ".join(str(exc).split()) or type(exc).__name__
    for prefix in (f"{source}: ", f"{Path(source).resolve()}: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def guard(job: Job, work: Callable[[Job], object]) -> Reply:
    """``work(job)`` as a Reply: any failure becomes a one-line reason, never an exception."""
    start = time.perf_counter()
    try:
        reply = Reply(job.index, True, work(job))
    except SketchgradError as exc:
        reply = Reply(job.index, False, error=one_line_reason(exc, job.source),
                      traceback=traceback.format_exc())
    except MemoryError:
        reply = Reply(job.index, False, error="out of memory; use fewer workers= or a "
                      "smaller tile_size=", traceback=traceback.format_exc())
    except Exception as exc:  # a bug must not stop the other inputs
        reply = Reply(job.index, False,
                      error=f"internal error ({type(exc).__name__}: {exc}); please report "
                      "it with the debug=True output", traceback=traceback.format_exc())
    reply.seconds = time.perf_counter() - start
    return reply


def _ignore_sigint() -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent alone handles it
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _connect(scheduler: str | Client) -> tuple[Client, bool]:
    """A ``distributed.Client`` for a scheduler address (or the client given), and ownership."""
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


class Runner:
    """Runs jobs here (one worker), in a local process pool, or on a Dask cluster.

    Parameters
    ----------
    workers : int
        Local worker processes; 1 runs the jobs in this process.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (or client): the jobs run on its workers.
    """

    def __init__(self, workers: int, scheduler: str | Client | None = None) -> None:
        self.workers = max(1, workers)
        self.client: Client | None = None
        self.own_client = False
        self.executor: Executor | None = None
        if scheduler is not None:
            self.client, self.own_client = _connect(scheduler)

    def _executor(self, jobs: int) -> Executor:
        """The cluster's executor or the local pool, made on first use."""
        if self.executor is None:
            if self.client is not None:
                self.executor = self.client.get_executor(pure=False)
            else:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self.executor = ProcessPoolExecutor(
                    max_workers=min(self.workers, jobs),
                    mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint)
        return self.executor

    def _failure(self, exc: Exception) -> str | None:
        """The reason a job's future failed for want of a worker (None: not such a failure)."""
        from concurrent.futures.process import BrokenProcessPool

        if self.client is not None:  # the worker process was lost, or cannot import us
            return f"the Dask cluster failed this input ({type(exc).__name__}: {exc})"
        if isinstance(exc, BrokenProcessPool):
            return ("a worker process died (killed, or out of memory); use fewer workers= "
                    "or a smaller tile_size=")
        return None

    def runs_here(self, jobs: int) -> bool:
        """Whether :meth:`run` runs this many jobs in this process (no pool, no cluster)."""
        return self.client is None and (self.workers == 1 or jobs == 1)

    def run(self, func: Callable[..., Reply], jobs: list[Job],
            shared: object = None) -> Iterator[Reply]:
        """``func(job)``, or ``func(job, shared)`` when an object is shared by all jobs.

        Replies are yielded as jobs finish (in any order).
        """
        from concurrent.futures import as_completed

        if not jobs:
            return
        extra = () if shared is None else (shared,)
        if self.runs_here(len(jobs)):
            for job in jobs:
                yield func(job, *extra)
            return
        executor = self._executor(len(jobs))
        if self.client is not None and shared is not None:
            # one copy to every worker, not one per job
            [handle] = self.client.scatter([shared], broadcast=True, hash=False)
            extra = (handle,)
        futures = {executor.submit(func, job, *extra): job for job in jobs}
        broken = False
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:
                reason = self._failure(exc)
                if reason is None:
                    raise
                broken = self.client is None
                yield Reply(job.index, False, error=reason)
        if broken:  # the next pass gets a fresh pool
            executor.shutdown(wait=True)
            self.executor = None

    def abort(self) -> None:
        """Stop at once (Ctrl-C): cancel queued work and end the worker processes."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        if self.client is not None:
            executor.shutdown(wait=False)  # cancels the cluster's futures
            return
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(5)

    def close(self) -> None:
        """Wait for the workers and release them (and the client this runner connected)."""
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        if self.client is not None and self.own_client:
            self.client.close()
        self.client = None
