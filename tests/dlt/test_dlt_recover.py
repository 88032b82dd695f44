"""A load the destination refuses: one clear error, again on every run, until it is fixed
or discarded; discarding it loses nothing, because its incremental state is not committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt_helpers import change, cli, credentials, requests_seen, rows, run, target

from voucherify_async import ConfigurationError
from voucherify_async.dlt import load
from voucherify_async.dlt._load import LoadFailedError
from voucherify_async.emulator import Emulator

COUNT = 60


def sql(path: Path, statement: str) -> None:
    with duckdb.connect(str(path)) as db:
        db.execute(statement)


def last_value(into: Any) -> datetime:
    cursor = into.state["sources"]["voucherify"]["resources"]["customers"]["incremental"]
    value: datetime = cursor["changed_at"]["last_value"]
    return value


def every_customer_once(emulator: Emulator, tmp_path: Path) -> None:
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (COUNT, COUNT)
    ]
    loaded = {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")}
    assert loaded == set(run(emulator.customer_ids()))


def test_a_refused_incremental_run_fails_each_time_until_dropped_then_loses_nothing(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(COUNT, start="2024-03-01T00:00:00Z", step_ms=10))
    # margin 0: a run asks only from the state's last value on, so a state moved on by the
    # refused run would skip its changes for good.
    options: dict[str, Any] = {"margin": timedelta(0), **credentials(emu)}
    load(target(tmp_path), **options)
    loaded = last_value(target(tmp_path))
    ids = run(emu.customer_ids())
    run(change(emu, ids[:3], []))

    # The destination's name column becomes an INTEGER: the renamed customers cannot merge.
    warehouse = tmp_path / "warehouse.duckdb"
    sql(warehouse, "ALTER TABLE voucherify.customers RENAME COLUMN name TO saved_name")
    sql(warehouse, "ALTER TABLE voucherify.customers ADD COLUMN name INTEGER")
    with pytest.raises(LoadFailedError) as first:
        load(target(tmp_path), **options)
    error = first.value
    assert (error.step, error.table) == ("load", "customers")
    assert error.reason.startswith("Conversion Error: ")  # DuckDB's own, first line
    assert "renamed " in error.reason
    assert "\n" not in str(error)
    assert "drop_pending=True" in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert last_value(target(tmp_path)) > loaded  # the refused run's state, pending
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name IS NOT NULL") == [
        (0,)
    ]

    # Again: the same error, and nothing fetched (the pending package goes first).
    before = requests_seen(emu)
    with pytest.raises(LoadFailedError) as again:
        load(target(tmp_path), **options)
    assert str(again.value) == str(error)
    assert again.value.load_id == error.load_id
    assert requests_seen(emu) == before

    # The column fixed, the refused package dropped: the state rewinds to the last finished
    # run, and the changes are fetched again.
    sql(warehouse, "ALTER TABLE voucherify.customers DROP COLUMN name")
    sql(warehouse, "ALTER TABLE voucherify.customers RENAME COLUMN saved_name TO name")
    load(target(tmp_path), drop_pending=True, **options)
    every_customer_once(emu, tmp_path)
    renamed = rows(tmp_path, "SELECT id FROM voucherify.customers WHERE name LIKE 'renamed %'")
    assert sorted(renamed) == sorted((cid,) for cid in ids[:3])
    assert not target(tmp_path).has_pending_data
    assert last_value(target(tmp_path)) > loaded

    # Nothing pending: drop_pending changes nothing, and only takes True or False.
    load(target(tmp_path), drop_pending=True, **options)
    every_customer_once(emu, tmp_path)
    with pytest.raises(ConfigurationError, match="drop_pending must be True or False, got 1"):
        load(target(tmp_path), drop_pending=1, **options)


def test_cli_a_refused_load_is_one_line_each_run_until_drop_pending(
    voucherify_emulator: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(COUNT, start="2024-03-01T00:00:00Z", step_ms=10))
    warehouse = tmp_path / "warehouse.duckdb"
    connection = ["--app-id", emu.app_id, "--app-token", emu.app_token, "--base-url", emu.url]
    command = ["load", "--path", str(warehouse), "--margin", "0", *connection]
    assert cli(*command)[0] == 0
    ids = run(emu.customer_ids())
    run(change(emu, ids[:3], []))
    # The destination's name column becomes an INTEGER: the renamed customers cannot merge.
    sql(warehouse, "ALTER TABLE voucherify.customers RENAME COLUMN name TO saved_name")
    sql(warehouse, "ALTER TABLE voucherify.customers ADD COLUMN name INTEGER")

    code, out, err = cli(*command)
    assert code == 1
    assert out == ""
    # DuckDB's own reason, on the one line: "Conversion Error: Could not convert string
    # 'renamed 0' to INT32 ...".
    prefix = "error: the load failed at dlt's load step: table 'customers': "
    assert err.startswith(prefix + "Conversion Error: ")
    assert "renamed " in err
    assert err.endswith(
        "; the data it fetched is kept and loaded first by every later run: fix the destination"
        " and run again, or run again with --drop-pending to discard it and refetch its range\n"
    )
    assert err.count("\n") == 1
    fetched = requests_seen(emu)

    # Not silently: the next run fails the same way, without fetching again.
    assert cli(*command) == (1, "", err)
    assert requests_seen(emu) == fetched
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""  # nothing of dlt's log, no traceback

    sql(warehouse, "ALTER TABLE voucherify.customers DROP COLUMN name")
    sql(warehouse, "ALTER TABLE voucherify.customers RENAME COLUMN saved_name TO name")
    code, out, err = cli(*command, "--drop-pending")
    assert code == 0, err
    assert out == f'SELECT count(*) FROM "voucherify"."customers" -> {COUNT}\n'
    assert err.startswith(
        "discarded the data an earlier run could not load; fetched its range again\n"
    )
    every_customer_once(emu, tmp_path)
    renamed = rows(tmp_path, "SELECT id FROM voucherify.customers WHERE name LIKE 'renamed %'")
    assert sorted(renamed) == sorted((cid,) for cid in ids[:3])
