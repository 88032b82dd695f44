"""Every dlt test: no usage reports, no state under the home directory, no VOUCHERIFY_ env."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _quiet_dlt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests talk only to 127.0.0.1: no usage reports, no state under the home directory.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "VOUCHERIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
