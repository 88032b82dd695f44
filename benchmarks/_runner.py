"""What the runner runs: the benchmark registry, one benchmark, and writing the report."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from . import _report
from ._common import BenchResult, run_in_child

__all__ = ["BENCHMARKS", "run_isolated", "run_one", "write"]

BENCHMARKS = {
    "decode": "benchmarks.decode",
    "get_sequential": "benchmarks.get_sequential",
    "get_concurrent": "benchmarks.get_concurrent",
    "stream": "benchmarks.stream",
    "emulator": "benchmarks.emulator_scale",
    "scaleout": "benchmarks.bench_scaleout",
    "dlt": "benchmarks.bench_dlt",
    "wan": "benchmarks.wan",
    "web": "benchmarks.web",
    "otel": "benchmarks.otel",
}


def run_one(name: str, *, quick: bool, rounds: int | None) -> list[BenchResult]:
    """Run benchmark ``name``; returns its rows."""
    module = importlib.import_module(BENCHMARKS[name])
    outcome = module.run(quick=quick, rounds=rounds)
    return outcome if isinstance(outcome, list) else [outcome]


def write(out: Path, run: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge ``records`` into ``out/results.json``; write results.md and chart.png there."""
    out.mkdir(parents=True, exist_ok=True)
    data = _report.merge(_report.load(out / "results.json"), run, records)
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    _report.write_markdown(data, out / "results.md")
    _report.write_chart(data, out / "chart.png")
    return data


def run_isolated(name: str, quick: bool, rounds: int | None) -> list[BenchResult]:
    """:func:`run_one` in a fresh process: no benchmark inherits another's imports or heap."""
    results: list[BenchResult] = run_in_child(_run_positional, name, quick, rounds)
    return results


def _run_positional(name: str, quick: bool, rounds: int | None) -> list[BenchResult]:
    return run_one(name, quick=quick, rounds=rounds)
