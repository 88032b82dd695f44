"""The demo's closing step: a SQL count from a DuckDB file, or a note when dlt is missing."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import anyio
import pytest
from dlt_helpers import run

from voucherify_async.dlt._demo import load_and_count
from voucherify_async.emulator import Emulator
from voucherify_async.tools import demo


def test_demo_step_counts_the_loaded_customers(voucherify_emulator: Emulator) -> None:
    run(voucherify_emulator.seed_customers(321))
    line = load_and_count(voucherify_emulator.env)
    assert line.startswith("dlt into DuckDB: 321 customers in ")
    assert line.endswith('SELECT count(*) FROM "voucherify"."customers" -> 321')


def test_demo_step_without_the_extra_says_so(
    voucherify_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "voucherify_async.dlt._demo", None)  # import fails
    out = io.StringIO()
    report = demo.Report(out)
    anyio.run(demo._warehouse, voucherify_emulator, report)
    assert (
        "7. loading into a warehouse: skipped (pip install 'voucherify-async[dlt]')"
        in out.getvalue()
    )
    assert run(voucherify_emulator.stats())["requests_total"] == 0
