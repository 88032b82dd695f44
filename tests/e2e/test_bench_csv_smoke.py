"""The CSV import benchmark runs: a small file, split into parts, streamed to a subprocess.

The 500 MB figure lives in ``benchmarks/bench_csv_import.py``; here it runs at 4 MB with
1 MB parts, so that the file generation, the emulator in ``mode="process"``, the split and
the RSS sampling keep working. No memory target is checked at this size.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_csv_import import main, run_benchmark  # noqa: E402


def test_the_csv_benchmark_runs_at_a_small_size(tmp_path: Path) -> None:
    figures = run_benchmark(4, part_mb=1, workdir=tmp_path)
    assert figures["file_mb"] >= 4
    assert figures["parts"] >= 4  # split into parts under the (lowered) limit
    assert figures["rows_sent"] == figures["rows"]
    assert figures["peak_rss_mb"] >= figures["baseline_rss_mb"] > 0
    assert figures["samples"] > 0
    assert not list(tmp_path.iterdir())  # the generated file is cleaned up


def test_the_benchmark_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--size-mb", "1", "--part-mb", "0.25"]) == 0  # 0: under the memory target
    out = capsys.readouterr().out
    parts = re.search(r"in (\d+) parts,", out)
    assert parts is not None and int(parts.group(1)) >= 4, out
    assert re.search(r"growth -?\d+\.\d MB \(target < 50 MB\)", out), out
