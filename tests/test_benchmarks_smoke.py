"""The benchmarks under ``benchmarks/`` keep working: each runs once at a tiny size.

Timing targets are not checked here (they live in ``python -m benchmarks``); only that every
benchmark runs, measures every client it names, and that the report and chart get written.
Skipped when the ``bench`` extra is not installed (``make test`` installs only ``.[dev]``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_PACKAGES = ("voucherify", "httpx", "matplotlib", "psutil")
MISSING = [name for name in BENCH_PACKAGES if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the bench extra is not installed (missing {', '.join(MISSING)});"
    " pip install -e '.[bench]' to run the benchmark smoke tests",
)

NAMES = ("decode", "get_sequential", "get_concurrent", "stream", "emulator", "dlt", "otel")


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_runs_at_a_tiny_size(name: str, tmp_path: Path) -> None:
    from benchmarks.__main__ import run_one, write

    results = run_one(name, quick=True, rounds=1)
    assert results
    for result in results:
        assert result.key.startswith(name)
        assert result.ours.samples and all(x == x and x > 0 for x in result.ours.samples)
        assert result.peers and all(peer.samples for peer in result.peers)
        assert result.ratios and result.target
    from benchmarks import _report

    records = [_report.to_dict(result, "now", True) for result in results]
    run = {"measured_at": "now", "command": "test", "machine": {"CPU": "test"}}
    write(tmp_path, run, records)
    report = (tmp_path / "results.md").read_text(encoding="utf-8")
    for result in results:
        assert result.title in report
    assert (tmp_path / "chart.png").stat().st_size > 0


def test_stream_yields_past_the_vendor_loop_and_reports_where_it_stopped() -> None:
    from benchmarks import stream

    results = {result.key: result for result in stream.run(quick=True, rounds=1)}
    first = results["stream"]
    assert "has_more false" in first.details
    for key, turns in (("stream", "3 | 1,500"), ("stream_large", "6 | 3,000"),
                       ("stream_prefetch", "3 | 1,500")):  # fmt: skip
        details = results[key].details
        # Every client walked every customer, in turns of 500.
        assert f"| ours | {turns} |" in details
        assert f"| raw aiohttp page loop (same typed decode) | {turns} |" in details
    assert "| ours, prefetch=False | 3 | 1,500 |" in results["stream_prefetch"].details


def test_dlt_loads_every_customer_and_reports_the_memory_at_each_size(tmp_path: Path) -> None:
    from benchmarks.__main__ import main

    assert main(["--quick", "--only", "dlt", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    row = saved["rows"]["dlt"]
    assert row["quick"] is True
    # Both sizes were loaded (a count that is off fails the run) and measured.
    for size in ("| 1,000 |", "| 5,000 |"):
        assert size in row["details"]
    assert row["ratios"][-1].startswith("peak RSS of the load: ")
    assert "within 1.25x" in row["target"]
    assert "emulator serves from another process" in row["details"]
    assert "| dlt: 5,000 customers into DuckDB" in (tmp_path / "results.md").read_text("utf-8")


def test_runner_main_writes_the_report_and_keeps_other_rows(tmp_path: Path) -> None:
    from benchmarks.__main__ import main

    assert main(["--quick", "--only", "decode", "--out", str(tmp_path)]) == 0
    assert main(["--quick", "--only", "emulator", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert list(saved["rows"]) == ["decode", "emulator"]
    report = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert "| benchmark | ours | peer(s) | ratio | target | met? |" in report
    assert "quick run" in report
    assert (tmp_path / "chart.png").exists()


def test_paired_ratios_are_per_round_with_their_spread() -> None:
    from benchmarks._peers import paired, show_paired

    # Round 2 was slow for both clients: its ratio is still 0.5, like round 1's.
    ratio = paired([1.0, 0.5, 0.9], [2.0, 1.0, 1.0])
    assert ratio == (0.5, 0.5, 0.9)
    assert show_paired(ratio) == "0.50x (0.50-0.90)"
