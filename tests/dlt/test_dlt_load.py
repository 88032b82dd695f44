"""The dlt source end to end: the emulator over HTTP into a real DuckDB file in tmp_path."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt_helpers import change, credentials, requests_seen, rows, run, target

from voucherify_async import ConfigurationError, CustomerPartition
from voucherify_async.dlt import (
    DEFAULT_MARGIN,
    DUCKDB_FILE_BYTES,
    DestinationUnreachableError,
    columns_from_struct,
    load,
    pipeline,
    voucherify_source,
)
from voucherify_async.emulator import Emulator
from voucherify_async.models import Customer

START = "2024-03-01T00:00:00Z"
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "bigint": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "json": "JSON",
    "bool": "BOOLEAN",
    "double": "DOUBLE",
}
CONTENT = "id, name, email, address__city, metadata, created_at, updated_at, changed_at"


def seed(emulator: Emulator, count: int, step_ms: int = 7) -> list[str]:
    run(
        emulator.seed_customers(
            count,
            start=START,
            step_ms=step_ms,
            same_created_at=3,
            city="City {i%5}",
            metadata={"tier": "gold", "score": 3},
        )
    )
    return run(emulator.customer_ids())


def loaded_rows(info: Any, table: str = "customers") -> int:
    counts: dict[str, int] = info.pipeline.last_trace.last_normalize_info.row_counts
    return counts.get(table, 0)


def snapshot(tmp_path: Path) -> dict[str, tuple[Any, ...]]:
    return {row[0]: row for row in rows(tmp_path, f"SELECT {CONTENT} FROM voucherify.customers")}


def test_dlt_is_the_installed_package() -> None:
    # tests/dlt must not shadow the library it tests.
    assert "site-packages" in (dlt.__file__ or "")


def test_full_load_every_customer_once_with_typed_columns(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 1200)
    load(target(tmp_path), **credentials(voucherify_emulator))

    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (1200, 1200)
    ]
    assert {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")} == set(ids)
    described = {
        name: (kind, null)
        for name, kind, null, *_ in rows(tmp_path, "DESCRIBE voucherify.customers")
    }
    declared = columns_from_struct(Customer, not_null=("id",))
    for name, hint in declared.items():
        assert described[name][0] == DUCKDB_TYPES[hint["data_type"]], name
    assert described["id"] == ("VARCHAR", "NO")
    assert described["changed_at"][0] == "TIMESTAMP WITH TIME ZONE"
    # Nested objects are flattened, metadata stays one JSON value that SQL can open.
    city, tier, created = rows(
        tmp_path,
        "SELECT address__city, metadata->>'tier', created_at FROM voucherify.customers"
        " ORDER BY created_at, id LIMIT 1",
    )[0]
    assert city.startswith("City ")
    assert tier == "gold"
    assert created == datetime(2024, 3, 1, tzinfo=timezone.utc)


def test_second_run_loads_exactly_the_changed_customers(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 1200, step_ms=50)  # 20 s of customers
    first = load(target(tmp_path), **credentials(voucherify_emulator))
    assert loaded_rows(first) == 1200
    before = snapshot(tmp_path)
    newest = max(row[7] for row in before.values())
    in_margin = sum(row[7] >= newest - DEFAULT_MARGIN for row in before.values())
    assert 0 < in_margin < 400

    changed, deleted = ids[100:200], ids[600:605]
    run(change(voucherify_emulator, changed, deleted))
    second = load(target(tmp_path), **credentials(voucherify_emulator))

    # The 100 changed customers were fetched, and those the margin asks for again ...
    assert loaded_rows(second) == 100 + in_margin
    after = snapshot(tmp_path)
    assert len(after) == 1200
    differ = {cid for cid in after if after[cid] != before[cid]}
    assert differ == set(changed)
    for cid in changed:
        assert after[cid][1] == f"renamed {cid}"
        assert after[cid][6] is not None  # updated_at
    # ... and the deleted ones stay as they were: the API lists no deleted customers.
    for cid in deleted:
        assert after[cid] == before[cid]

    # A run right after re-asks the safety margin only: the same rows, merged, no copy.
    third = load(target(tmp_path), **credentials(voucherify_emulator))
    assert loaded_rows(third) == 100
    assert snapshot(tmp_path) == after
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (1200, 1200)
    ]


def test_without_margin_the_boundary_is_deduplicated(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 300)  # the newest three share the boundary millisecond
    exact = {"margin": timedelta(0), **credentials(voucherify_emulator)}
    assert loaded_rows(load(target(tmp_path), **exact)) == 300
    run(change(voucherify_emulator, ids[:10], []))
    assert loaded_rows(load(target(tmp_path), **exact)) == 10
    assert loaded_rows(load(target(tmp_path), **exact)) == 0
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name LIKE 'renamed%'")[
        0
    ] == (10,)


def test_bad_configuration_fails_before_any_request(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    seed(voucherify_emulator, 10)
    run(voucherify_emulator.reset())  # zero the counters; nothing to fetch anyway
    good = credentials(voucherify_emulator)

    with pytest.raises(ConfigurationError, match=r"missing credentials.*app_token"):
        load(target(tmp_path), app_id=good["app_id"], base_url=good["base_url"])

    with pytest.raises(ConfigurationError, match=r"unknown 'customer'.*customers, customer_"):
        load(target(tmp_path), resources=["customers", "customer"], **good)

    with pytest.raises(ConfigurationError, match=r"parallel must be an int in 1\.\.1000"):
        voucherify_source(parallel=0, **good)

    with pytest.raises(ConfigurationError, match=r"file's name must differ from dataset_name"):
        pipeline(duckdb_path=tmp_path / "voucherify.duckdb")

    somewhere = tmp_path / "w.duckdb"
    with pytest.raises(ConfigurationError, match=r"refresh must be None or one of drop_data"):
        pipeline(duckdb_path=somewhere, refresh="everything")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"duckdb_memory_limit must be a size such as"):
        pipeline(duckdb_path=somewhere, duckdb_memory_limit=128)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"duckdb_threads must be an int >= 1 or None"):
        pipeline(duckdb_path=somewhere, duckdb_threads=0)
    with pytest.raises(ConfigurationError, match=r"duckdb_file_bytes must be an int >= 1 or"):
        pipeline(duckdb_path=somewhere, duckdb_file_bytes=0)

    nowhere = pipeline(
        duckdb_path=tmp_path / "no-such-dir" / "w.duckdb", pipelines_dir=tmp_path / "pl"
    )
    with pytest.raises(DestinationUnreachableError, match=r"destination 'duckdb' cannot be") as e:
        load(nowhere, **good)
    assert good["app_token"] not in str(e.value)
    assert e.value.__cause__ is None

    assert requests_seen(voucherify_emulator) == 0


def test_duckdb_is_set_up_for_memory_flat_with_the_load(tmp_path: Path) -> None:
    into = target(tmp_path)
    capabilities = into.destination.capabilities()
    assert capabilities.recommended_file_size == DUCKDB_FILE_BYTES
    assert capabilities.loader_parallelism_strategy == "sequential"
    with into.sql_client() as client:
        settings = client.execute_sql(
            "SELECT current_setting('memory_limit'), current_setting('threads'),"
            " current_setting('preserve_insertion_order')"
        )
    assert settings == [("122.0 MiB", 1, False)]  # 128 MB, in DuckDB's units

    unbounded = pipeline(
        duckdb_path=tmp_path / "other.duckdb",
        pipelines_dir=tmp_path / "other",
        duckdb_memory_limit=None,
        duckdb_threads=None,
        duckdb_file_bytes=None,
    )
    assert unbounded.destination.capabilities().recommended_file_size is None
    with unbounded.sql_client() as client:
        found = client.execute_sql(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        )
    assert found is not None
    (limit, threads), *_ = found
    assert limit != "122.0 MiB" and threads >= 1


def test_files_are_bounded_each_one_load_job(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    # dlt writes its buffer of 5,000 rows at a time, and starts a new file once one is
    # past the size: 12,000 customers make three files of 5,000 rows at most.
    ids = seed(voucherify_emulator, 12_000, step_ms=1)
    small_files = pipeline(
        duckdb_path=tmp_path / "warehouse.duckdb",
        pipelines_dir=tmp_path / "pipelines",
        duckdb_file_bytes=64 * 1024,
    )
    info = load(small_files, **credentials(voucherify_emulator))
    jobs = [
        job
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.table_name == "customers" and job.file_path.endswith(".parquet")
    ]
    assert len(jobs) == 3
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (12_000, 12_000)
    ]
    assert {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")} == set(ids)


def test_backfill_in_parallel_partitions(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    ids = seed(voucherify_emulator, 1500)
    info = load(target(tmp_path), parallel=4, **credentials(voucherify_emulator))
    assert loaded_rows(info) == 1500
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (1500, 1500)
    ]
    assert {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")} == set(ids)


def test_backfill_by_date_ranges_keeps_no_state(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 900)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    cut = start + timedelta(milliseconds=7 * 150)  # a millisecond three customers share
    end = start + timedelta(days=1)
    for low, high in ((start, cut), (cut, end)):
        load(
            target(tmp_path, "range"),
            initial_value=low,
            end_value=high,
            **credentials(voucherify_emulator),
        )
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (900, 900)
    ]
    assert rows(
        tmp_path, f"SELECT count(*) FROM voucherify.customers WHERE changed_at < '{cut}'"
    ) == [(450,)]
    state = json.dumps(target(tmp_path, "range").state.get("sources", {}), default=str)
    assert "last_value" not in state or '"last_value": null' in state
    assert set(ids) == {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")}


def test_backfill_by_partitions_from_other_processes(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 600)

    async def split() -> list[CustomerPartition]:
        async with voucherify_emulator.client() as vf:
            parts: list[CustomerPartition] = await vf.customers.partition(3)
            return parts

    parts = run(split())
    for part in parts:
        moved = CustomerPartition.loads(part.dumps())  # as another machine would get it
        load(
            target(tmp_path, f"part{part.index}"),
            partition=moved,
            **credentials(voucherify_emulator),
        )
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (600, 600)
    ]
    assert {r[0] for r in rows(tmp_path, "SELECT id FROM voucherify.customers")} == set(ids)
    assert "changed_at" not in json.dumps(target(tmp_path, "part0").state, default=str)


@pytest.mark.parametrize(
    ("options", "expected"),
    [({}, {"background"}), ({"priority": "interactive"}, {"interactive"})],
)
def test_a_load_is_background_work_unless_told(
    voucherify_emulator: Emulator,
    tmp_path: Path,
    recording_limiter: Any,
    options: dict[str, Any],
    expected: set[str],
) -> None:
    seed(voucherify_emulator, 30)
    limiter = recording_limiter
    load(
        target(tmp_path),
        client_options={"rate_limiter": limiter, **options},
        **credentials(voucherify_emulator),
    )
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers") == [(30,)]
    assert set(limiter.priorities) == expected
