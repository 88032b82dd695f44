"""docs/dlt.md's examples run as written, in a fresh folder, against the emulator.

They are ``py`` blocks (the docs runner executes ``python`` blocks on its own event loop,
where a synchronous dlt run would block the emulator it serves); this test runs them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from dlt_helpers import run

from voucherify_async.emulator import Emulator

PAGE = Path(__file__).resolve().parents[2] / "docs" / "dlt.md"
BLOCK = re.compile(r"^```py\n(.*?)^```", re.S | re.M)


def test_the_page_examples_load_into_duckdb(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    run(voucherify_emulator.seed_customers(120))
    examples = BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(examples) == 3
    env = {
        **os.environ,
        **voucherify_emulator.env,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(tmp_path / "dlt-data"),
    }
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(examples)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'SELECT count(*) FROM "voucherify"."customers" -> 120' in result.stdout
    assert (tmp_path / "customers.duckdb").is_file()
    # The deletions example: nothing deleted in the API, so nothing found, one request a
    # window of the 120 customers loaded.
    assert re.search(r"^0 deleted in [1-9]\d* requests$", result.stdout, re.M), result.stdout
