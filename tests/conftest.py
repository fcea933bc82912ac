"""Shared fixtures: analytic images, a deterministic random generator, a quiet fork."""

import contextlib
import os
import threading
import time

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.fixture
def ramp():
    """I = a*x + b*y on a 32x40 grid, with (a, b) = (0.01, -0.007)."""
    y, x = np.mgrid[0:32, 0:40].astype(np.float32)
    return (0.3 + 0.01 * x - 0.007 * y).astype(np.float32), 0.01, -0.007


def _other_threads_at_work() -> list[int]:
    """Ids of this process's other OS threads that are running (state R or D, Linux)."""
    me = threading.get_native_id()
    busy = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:  # gone meanwhile
            continue
        if int(tid) != me and state in ("R", "D"):
            busy.append(int(tid))
    return busy


@contextlib.contextmanager
def _quiet_process():
    """Fork a preview process from the test process as the command forks its own: quietly.

    The command forks before OpenCV is imported, with no other thread at work.
    The test process has run OpenCV (its thread pool) and thread pools of its
    own, and a thread can still be leaving, inside OpenCV's thread-local
    clean-up, after Python has joined it. A fork while any of them holds a lock
    leaves the lock held in the child for good (seen under load: the child
    stuck in ``pthread_mutex_lock`` inside ``cv2.resize``, the parent drawing
    the preview itself after the 120 s timeout). So: OpenCV's pool is stopped
    (``setNumThreads(1)`` joins its workers) and the fork waits, up to 10 s,
    until no other thread is running; the pool is restored afterwards.
    """
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        deadline = time.monotonic() + 10
        while _other_threads_at_work() and time.monotonic() < deadline:
            time.sleep(0.002)
        yield
    finally:
        cv2.setNumThreads(threads)


@pytest.fixture
def quiet_fork():
    """A context manager for forking a preview process from the tests (:func:`_quiet_process`)."""
    return _quiet_process
