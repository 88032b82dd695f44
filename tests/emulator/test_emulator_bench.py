"""The emulator benchmark script keeps working (run at a tiny size)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_emulator.py"


def test_benchmark_main_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("bench_emulator", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--count", "2000", "--repeat", "2", "--mode", "thread"])
    assert list(results) == [2000]
    row = results[2000]
    assert row["seed (s)"] > 0
    assert set(row) >= {"first page", "page 99", "email filter", "created_at window (20%)"}
    printed = capsys.readouterr().out
    assert printed.startswith("| query | 2,000 customers |")
