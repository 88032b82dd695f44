"""A load that dies in the middle, run again: every customer once, none missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt_helpers import change, credentials, requests_seen, rows, run, target

from voucherify_async.dlt import load
from voucherify_async.emulator import Emulator

COUNT = 1500


def every_customer_once(emulator: Emulator, tmp_path: Path) -> None:
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (COUNT, COUNT)
    ]
    loaded = {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")}
    assert loaded == set(run(emulator.customer_ids()))


def environment(emulator: Emulator, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        **emulator.env,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(tmp_path / "dlt-data"),
    }


def test_sigkill_mid_fetch_then_run_again(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    run(voucherify_emulator.seed_customers(COUNT, start="2024-03-01T00:00:00Z"))
    run(voucherify_emulator.configure(latency_ms=150))  # 15 pages: a few seconds of load
    env = environment(voucherify_emulator, tmp_path)
    loader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voucherify_async.dlt",
            "--path",
            str(tmp_path / "warehouse.duckdb"),
            "--pipelines-dir",
            str(tmp_path / "pipelines"),
            # Two streams: a few pages in flight at the kill, not the dozen "auto" may open
            # at once, so the count below tells a load stopped midway from a finished one.
            "--parallel",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while requests_seen(voucherify_emulator) < 5:
            assert loader.poll() is None, "the load ended before it could be killed"
            assert time.monotonic() < deadline, "the load never started fetching"
            time.sleep(0.05)
        loader.send_signal(signal.SIGKILL)
    finally:
        loader.kill()
        loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL
    assert requests_seen(voucherify_emulator) < COUNT // 100 + 1  # it really stopped midway

    run(voucherify_emulator.configure(latency_ms=0))
    load(target(tmp_path), **credentials(voucherify_emulator))
    every_customer_once(voucherify_emulator, tmp_path)


KILLED_BEFORE_LOAD = """
import os, signal, sys
from voucherify_async.dlt import pipeline, voucherify_source
target = pipeline(duckdb_path=sys.argv[1], pipelines_dir=sys.argv[2])
target.extract(voucherify_source())
target.normalize()
os.kill(os.getpid(), signal.SIGKILL)  # extracted, state moved on, nothing loaded yet
"""


def test_sigkill_between_fetch_and_load_then_run_again(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    # 75 s of customers: a later run's margin asks again for the newest few only.
    run(voucherify_emulator.seed_customers(COUNT, start="2024-03-01T00:00:00Z", step_ms=50))
    load(target(tmp_path), **credentials(voucherify_emulator))
    ids = run(voucherify_emulator.customer_ids())
    run(change(voucherify_emulator, ids[:50], []))
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_BEFORE_LOAD,
            str(tmp_path / "warehouse.duckdb"),
            str(tmp_path / "pipelines"),
        ],
        env=environment(voucherify_emulator, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name LIKE 're%'") == [
        (0,)
    ]
    # The next run loads the package the killed one left, then fetches what changed since.
    load(target(tmp_path), **credentials(voucherify_emulator))
    every_customer_once(voucherify_emulator, tmp_path)
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name LIKE 're%'") == [
        (50,)
    ]


def test_error_mid_stream_then_run_again(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    run(voucherify_emulator.seed_customers(COUNT, start="2024-03-01T00:00:00Z"))
    # The first full load fails on its sixth page, after 500 customers were extracted.
    run(
        voucherify_emulator.script_faults(
            [
                {"kind": "latency", "latency_ms": 0, "path": "/v1/customers", "count": 5},
                {"kind": "error", "status": 500, "path": "/v1/customers", "count": 1},
            ]
        )
    )
    # One stream, so the pages come in order and the sixth request is the sixth page.
    strict = {
        "client_options": {"max_retries": 0},
        "parallel": 1,
        **credentials(voucherify_emulator),
    }
    with pytest.raises(PipelineStepFailed, match="500"):
        load(target(tmp_path), **strict)
    assert requests_seen(voucherify_emulator) == 6

    load(target(tmp_path), **strict)
    every_customer_once(voucherify_emulator, tmp_path)
