"""The demo's last step: the emulator's customers into a DuckDB file, counted with SQL."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ._load import count_rows, load, pipeline

__all__ = ["load_and_count"]


def load_and_count(env: Mapping[str, str], parallel: int = 2) -> str:
    """Load every customer of the API in ``env`` into a fresh DuckDB file; describe it.

    Args:
        env: ``VOUCHERIFY_BASE_URL``, ``VOUCHERIFY_APP_ID`` and ``VOUCHERIFY_APP_TOKEN``.
        parallel: partitions streamed at once.

    Returns:
        One line: how many customers, how long, and the SQL count from the file.
    """
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    with tempfile.TemporaryDirectory(prefix="voucherify-dlt-") as folder:
        path = Path(folder) / "customers.duckdb"
        started = time.perf_counter()
        load(
            pipeline(duckdb_path=path, pipelines_dir=Path(folder) / "pipelines"),
            app_id=env["VOUCHERIFY_APP_ID"],
            app_token=env["VOUCHERIFY_APP_TOKEN"],
            base_url=env["VOUCHERIFY_BASE_URL"],
            parallel=parallel,
        )
        seconds = time.perf_counter() - started
        sql, count = count_rows(path)
    return f"dlt into DuckDB: {count:,} customers in {seconds:.1f} s; {sql} -> {count}"
