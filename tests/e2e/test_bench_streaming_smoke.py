"""The streaming benchmark still runs: its main at a tiny size, both parts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_streaming.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_streaming_smoke", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def test_the_streaming_benchmark_runs_at_a_tiny_size(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark()
    try:
        code = bench.main(
            ["--count", "2500", "--pacing-limit", "12", "--pacing-period", "1",
             "--windows", "2", "--lookups", "2"]
        )  # fmt: skip
    finally:
        sys.modules.pop("bench_streaming_smoke", None)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "| benchmark | figure | result | target |"
    assert "| stream 2,500 customers | yielded, checked against the emulator | 2,500 ok |" in out
    growth = "| stream 2,500 customers | client peak RSS growth |"
    assert any(line.startswith(growth) for line in lines)
    assert "| pacing 12 per 1 s | 429 answers | 0 | 0 (met) |" in out
    assert "| pacing 12 per 1 s | whole periods measured | 2 (" in out
