"""`make demo` keeps working: the whole job at a small size, as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_runs_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    result = subprocess.run(
        [sys.executable, "-m", "voucherify_async.demo", "--customers", "3000"],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "3,000 imported, 0 failed" in out
    assert "3,000 updated, 0 failed" in out
    assert "count check: 3,000 unique of 3,000 expected: OK" in out
    assert "429s met: 0" in out
    assert "after 3 retries" in out
    assert "peak memory of this process" in out
    for step in ("CSV import (to DONE)", "stream all (async for)", "fan-out get_many"):
        assert step in out
