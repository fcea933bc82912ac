"""Batches on a real Dask distributed cluster (scheduler and workers on 127.0.0.1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from test_cli import error_lines, pixels, pngs, provenance, sketchgrad_cmd, write_scan


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    cluster = LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                           host="127.0.0.1", dashboard_address=":0")  # 8787 may be taken
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["image", "batch"])
def test_cluster_gives_the_same_pixels_as_a_local_run(tmp_path, scheduler, scope):
    src = tmp_path / "in"
    for i, contrast in enumerate((1.0, 0.3, 0.6)):
        write_scan(src / ("sub" if i == 2 else "") / f"p{i}.png", 300 + i, shape=(50, 60),
                   contrast=contrast)
    (src / "broken.png").write_text("not a png")
    outputs = "magnitude,hsv,sketch" if scope == "image" else "magnitude,hsv"
    common = ("run", src, "--outputs", outputs, "--normalize-scope", scope, "--json")
    local = sketchgrad_cmd(*common, "-o", tmp_path / "local", "--workers", 1)
    remote = sketchgrad_cmd(*common, "-o", tmp_path / "remote", "--scheduler", scheduler)
    assert local.returncode == remote.returncode == 1, remote.stderr
    assert error_lines(remote.stderr) == error_lines(local.stderr) != []
    statuses = [(Path(o["input"]).name, o["status"]) for o in json.loads(remote.stdout)]
    assert statuses == [("broken.png", "failed"), ("p0.png", "ok"), ("p1.png", "ok"),
                        ("p2.png", "ok")]
    assert pngs(tmp_path / "remote") == pngs(tmp_path / "local")
    assert len(pngs(tmp_path / "local")) == 3 * len(outputs.split(","))
    for name in pngs(tmp_path / "local"):
        np.testing.assert_array_equal(pixels(tmp_path / "remote" / name),
                                      pixels(tmp_path / "local" / name))
        assert provenance(tmp_path / "remote" / name) == provenance(tmp_path / "local" / name)
    if scope == "batch":
        assert "sketchgrad: measuring 4 input(s) for one shared scale" in remote.stderr
        # one scale for the batch: only the strongest page reaches full strength
        peaks = sorted(pixels(p).max() for p in (tmp_path / "remote").rglob("*.magnitude.png"))
        assert peaks[-1] == 65535 and peaks[0] < 0.5 * 65535
    # a re-run on the cluster skips everything
    again = sketchgrad_cmd(*common, "-o", tmp_path / "remote", "--scheduler", scheduler)
    assert [o["status"] for o in json.loads(again.stdout)] == [
        "failed", "skipped", "skipped", "skipped"]


def test_scheduler_without_dask_says_how_to_install(tmp_path):
    write_scan(tmp_path / "in" / "a.png", 1)
    blocked = tmp_path / "no_dask" / "distributed"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('distributed is not installed')\n")
    env = dict(os.environ, PYTHONPATH=str(blocked.parent))
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "out", "--scheduler",
                         "tcp://127.0.0.1:8786", env=env)
    assert res.returncode == 2
    assert error_lines(res.stderr) == [
        "sketchgrad: error: --scheduler needs Dask distributed, which is not installed; "
        "install it with: pip install \"sketchgrad[distributed]\""]
    # a run without --scheduler does not need it
    res = sketchgrad_cmd("run", tmp_path / "in", "-o", tmp_path / "out", "--workers", 1,
                         "--outputs", "hsv", env=env)
    assert res.returncode == 0, res.stderr
