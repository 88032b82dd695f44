"""``python -m benchmarks --pin``: servers on the last core, clients on the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._peers import pin_clients, pin_server, placement  # noqa: E402

CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
pytestmark = pytest.mark.skipif(
    len(CORES) < 2, reason="pinning needs Linux's sched_setaffinity and two cores or more"
)


def test_pinning_puts_the_server_on_the_last_core_and_a_client_off_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOUCHERIFY_BENCH_PIN", "1")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as server:
        try:
            pin_server(server.pid)
            assert os.sched_getaffinity(server.pid) == {CORES[-1]}
        finally:
            server.kill()
    code = (
        "import os, sys; sys.path.insert(0, sys.argv[1]);"
        " from benchmarks._peers import pin_clients; pin_clients();"
        " print(sorted(os.sched_getaffinity(0)))"
    )
    client = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    )
    assert client.stdout.strip() == str(CORES[:-1])
    assert placement() == (
        f"server pinned to core {CORES[-1]}, clients to {', '.join(map(str, CORES[:-1]))}"
    )


def test_without_the_flag_nothing_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOUCHERIFY_BENCH_PIN", "0")
    before = os.sched_getaffinity(0)
    pin_clients()
    pin_server()
    assert os.sched_getaffinity(0) == before
    assert placement() == "client and server processes placed by the kernel"
