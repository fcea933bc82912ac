"""The benchmark script's own arithmetic: the steal share it prints beside each row."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("sketchgrad_benchmark_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_parse_cpu_line_reads_steal_and_the_sum_of_eight_fields(bench):
    # user nice system idle iowait irq softirq steal guest guest_nice
    fields = [454725, 426, 113044, 729751, 2913, 0, 2354, 1993, 17, 5]
    text = ("cpu  " + " ".join(map(str, fields)) + "\n"
            "cpu0 1 2 3 4 5 6 7 8 0 0\nintr 99\n")
    # guest and guest_nice are already inside user and nice: not added again
    assert bench.parse_cpu_line(text) == (1993, sum(fields[:8]))


def test_parse_cpu_line_without_a_steal_field_or_a_cpu_line(bench):
    assert bench.parse_cpu_line("cpu  1 2 3 4 5 6 7\n") is None  # before Linux 2.6.11
    assert bench.parse_cpu_line("intr 5\nctxt 9\n") is None


def test_steal_percent_pools_the_runs_ticks(bench):
    runs = [{"ticks": (3, 200)}, {"ticks": (0, 100)}, {"ticks": (9, 300)}, {"ticks": None}]
    assert bench.steal_percent(runs) == round(100 * 12 / 600, 1)
    assert bench.steal_percent([{"ticks": None}, {}]) is None


def test_row_and_table_show_the_steal(bench):
    runs = [{"wall": w, "cpu": 1.0, "rss_mb": 100.0, "ticks": (1, 400)} for w in (1, 2, 3)]
    row = bench._row("x", runs, None)
    assert row["wall_s"] == 2 and row["steal_percent"] == 0.2
    text = bench.table_markdown({"machine": "m", "rows": [row]})
    assert "| x | 2.000 |" in text and "steal 0.2 %" in text
    assert "Steal: the share of the cores' time" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_cpu_ticks_counts_up_on_linux(bench):
    before = bench.cpu_ticks()
    sum(i * i for i in range(200_000))  # some work between the two reads
    after = bench.cpu_ticks()
    assert before is not None and after is not None
    assert 0 <= before[0] <= after[0] <= after[1] and before[1] <= after[1]
