"""`make demo` keeps working, stays on the embedded emulator unless told, and reads clearly."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from voucherify_async.emulator import Emulator
from voucherify_async.tools.demo import pacing_summary


def demo(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voucherify_async.tools.demo", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_runs_end_to_end_on_the_emulator_whatever_the_environment_says() -> None:
    # Credentials of some other server in the environment (here one that is not even
    # there): the demo says it does not use them and runs on the embedded emulator.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    env |= {
        "VOUCHERIFY_APP_ID": "production-id",
        "VOUCHERIFY_APP_TOKEN": "production-token",
        "VOUCHERIFY_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    result = demo("--customers", "3000", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    first = out.splitlines()[0]
    assert first.startswith(
        "VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN set in the environment:"
        " not used. The demo runs on the embedded emulator"
    ), first
    assert "Starting the embedded Voucherify emulator" in out
    assert "production-token" not in out + result.stderr
    assert "3,000 imported, 0 failed" in out
    assert "3,000 updated, 0 failed" in out
    assert "count check: 3,000 unique of 3,000 expected: OK" in out
    paced = re.search(
        r"(\d[\d,]*) requests in [\d.]+ s, (\d+) rate-limit windows? of 8 s: ([\d,]+) allowed"
        r" \(300 per window\), (\d+)% of it used; 429s met: 0",
        out,
    )
    assert paced, out
    requests, windows, allowed, share = (int(g.replace(",", "")) for g in paced.groups())
    assert allowed == windows * 300 and requests <= allowed and share == requests * 100 // allowed
    assert "after 3 retries" in out
    # Every step is numbered and announced; the stream's figures agree with its table row.
    numbered = [line.split(".")[0] for line in out.splitlines() if re.match(r"^\d\. ", line)]
    assert numbered == ["1", "2", "3", "4", "5", "6", "7"]
    streamed = re.search(r"3,000 customers in ([\d,]+) requests: 30 pages of 100", out)
    assert streamed, out
    row = re.search(r"stream all \(async for\)\s+3,000\s+[\d.]+\s+([\d,]+)", out)
    assert row and row.group(1) == streamed.group(1)
    assert "paced requests" in result.stderr  # the pacing step shows its progress
    assert "peak memory of this process" in out
    for step in ("CSV import (to DONE)", "stream all (async for)", "fan-out get_many"):
        assert step in out


def test_another_server_only_when_asked_and_said_first(voucherify_emulator: Emulator) -> None:
    url = voucherify_emulator.url
    urllib.request.urlopen(
        urllib.request.Request(
            f"{url}/_emulator/seed/customers",
            data=b'{"count": 150}',
            headers={"Content-Type": "application/json"},
            method="POST",
        ),
        timeout=60,
    ).read()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    env |= {
        "VOUCHERIFY_APP_ID": voucherify_emulator.app_id,
        "VOUCHERIFY_APP_TOKEN": voucherify_emulator.app_token,
    }
    result = demo("--base-url", url, "--remote-cap", "120", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"Running against {url}, not the embedded emulator (--base-url {url})")
    assert "120 customers in 2 pages" in result.stdout
    assert "Starting the embedded" not in result.stdout

    env["VOUCHERIFY_BASE_URL"] = url
    result = demo("--against-env", "--remote-cap", "50", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(
        f"Running against {url}, not the embedded emulator (--against-env)"
    )

    del env["VOUCHERIFY_APP_TOKEN"]
    result = demo("--against-env", env=env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().startswith("error: --against-env/--base-url use the credentials")


def test_pacing_is_measured_against_the_same_windows() -> None:
    assert pacing_summary(848, 19.3, 300, 8.0, 0) == (
        "848 requests in 19.3 s, 3 rate-limit windows of 8 s: 900 allowed (300 per window),"
        " 94% of it used; 429s met: 0"
    )
    assert pacing_summary(120, 3.0, 300, 8.0, 2).startswith(
        "120 requests in 3.0 s, 1 rate-limit window of 8 s: 300 allowed"
    )


@pytest.mark.parametrize(
    ("customers", "requests", "says"),
    [
        (3000, 30, "3,000 customers in 30 requests: 30 pages of 100"),
        (3000, 45, "30 pages of 100 and 15 re-reads where customers imported together share"),
        (20_000, 398, "past the API's page 99"),
    ],
)
def test_the_stream_summary_explains_every_request(
    customers: int, requests: int, says: str
) -> None:
    from voucherify_async.tools.demo import stream_summary

    assert says in stream_summary(customers, requests)


def test_make_demo_installs_the_demo_extra_only() -> None:
    root = Path(__file__).resolve().parents[1]
    block = re.search(r"^demo = \[\n(.*?)^\]", (root / "pyproject.toml").read_text(), re.M | re.S)
    assert block, "no demo extra in pyproject.toml"
    specs = re.findall(r'^\s*"([^"]+)",', block.group(1), re.M)
    names = {re.split(r"[\[<>=;]", spec)[0].strip() for spec in specs}
    assert names == {"rich", "dlt"}  # no test toolchain
    makefile = (root / "Makefile").read_text()
    assert re.search(r"^demo: \$\(DEMO_STAMP\)$", makefile, re.M)
    assert "pip install --quiet -e '.[demo]'" in makefile
