"""Deletions without a full reload: counts per created_at window, then ids where they differ."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from dlt_helpers import credentials, requests_seen, rows, run, target

from voucherify_async import AsyncVoucherify, ConfigurationError
from voucherify_async._transport.aiohttp_transport import AiohttpTransport
from voucherify_async.dlt import load, pipeline
from voucherify_async.dlt._deletions import (
    DELETED_AT,
    DeletionReport,
    sync_deletions,
    sync_deletions_async,
)
from voucherify_async.emulator import Emulator

START = "2024-03-01T00:00:00Z"
LATER = "2024-09-01T00:00:00Z"
SEGMENTS = ["customers", "customer_segments"]


def seed(emulator: Emulator, count: int, start: str = START, step_ms: int = 7) -> list[str]:
    """``count`` customers, three to a millisecond; the ids of every live customer."""
    run(emulator.seed_customers(count, start=start, step_ms=step_ms, same_created_at=3))
    return run(emulator.customer_ids())


async def _delete(emulator: Emulator, ids: list[str]) -> None:
    async with emulator.client() as vf:
        for customer_id in ids:
            await vf.customers.delete(customer_id)


def delete(emulator: Emulator, ids: list[str]) -> None:
    run(_delete(emulator, ids))


def column(tmp_path: Path, sql: str) -> set[Any]:
    return {row[0] for row in rows(tmp_path, sql)}


def loaded(emulator: Emulator, tmp_path: Path, *, segment_of: list[str]) -> Any:
    """Load customers and the segments of ``segment_of`` into a DuckDB file."""
    run(emulator.seed_segment("VIP", segment_of))
    pipeline = target(tmp_path)
    load(pipeline, resources=SEGMENTS, **credentials(emulator))
    return pipeline


def test_delete_mode_drops_deleted_customers_and_their_child_rows(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 600)
    gone = [ids[5], ids[6], ids[300], ids[301], ids[599]]
    kept_vip = [ids[0], ids[299], ids[598]]
    pipeline = loaded(voucherify_emulator, tmp_path, segment_of=gone + kept_vip)
    assert column(tmp_path, "SELECT customer_id FROM voucherify.customer_segments") == set(
        gone + kept_vip
    )
    delete(voucherify_emulator, gone)
    new = seed(voucherify_emulator, 3, start=LATER)[-3:]  # created after the load

    dry = sync_deletions(pipeline, dry_run=True, **credentials(voucherify_emulator))
    assert dry.ids == tuple(sorted(gone)) and dry.dry_run
    assert column(tmp_path, "SELECT count(*) FROM voucherify.customers") == {600}

    report = sync_deletions(pipeline, mode="delete", **credentials(voucherify_emulator))

    assert isinstance(report, DeletionReport)
    assert report.ids == tuple(sorted(gone)) and report.count == 5
    assert report.mode == "delete" and not report.dry_run
    assert report.windows_not_loaded == 0
    left = column(tmp_path, "SELECT id FROM voucherify.customers")
    assert left == set(ids) - set(gone)
    assert not left & set(new)  # never loaded, never compared
    assert column(tmp_path, "SELECT customer_id FROM voucherify.customer_segments") == set(kept_vip)
    assert report.end is not None and report.end < datetime(2024, 9, 1, tzinfo=timezone.utc)

    # Nothing left to find: only the initial windows are counted.
    before = requests_seen(voucherify_emulator)
    again = sync_deletions(pipeline, windows=16, **credentials(voucherify_emulator))
    assert again.ids == () and again.windows_rescanned == 0
    assert again.requests == 16 == requests_seen(voucherify_emulator) - before


def test_mark_mode_sets_deleted_at_and_keeps_every_other_row(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 450)
    gone = [ids[10], ids[200], ids[201]]
    pipeline = loaded(voucherify_emulator, tmp_path, segment_of=[ids[10], ids[11]])
    delete(voucherify_emulator, gone)
    started = datetime.now(timezone.utc)

    def client() -> AsyncVoucherify:
        return voucherify_emulator.client()

    report = sync_deletions(pipeline, mode="mark", client_factory=client, windows=8)

    assert report.ids == tuple(sorted(gone))
    marked = rows(tmp_path, f"SELECT id, {DELETED_AT} FROM voucherify.customers")
    assert len(marked) == 450
    stamps = {cid: stamp for cid, stamp in marked if stamp is not None}
    assert set(stamps) == set(gone)
    assert all(
        started - timedelta(seconds=1) <= s <= datetime.now(timezone.utc) for s in stamps.values()
    )
    # The per-customer rows stay in mark mode.
    assert column(tmp_path, "SELECT customer_id FROM voucherify.customer_segments") == {
        ids[10],
        ids[11],
    }
    # dlt knows the column: it is in the pipeline's schema, and later loads keep the marks.
    assert DELETED_AT in pipeline.default_schema.tables["customers"]["columns"]
    seed(voucherify_emulator, 2, start=LATER)
    load(pipeline, resources=SEGMENTS, **credentials(voucherify_emulator))
    after = dict(rows(tmp_path, f"SELECT id, {DELETED_AT} FROM voucherify.customers"))
    assert len(after) == 452
    assert {cid for cid, stamp in after.items() if stamp is not None} == set(gone)

    # Marked rows are not compared again: a second run finds nothing, at the base cost.
    again = sync_deletions(pipeline, mode="mark", client_factory=client, windows=8)
    assert again.ids == () and again.requests == 8 and again.windows_rescanned == 0


def test_requests_grow_with_the_deletions_not_with_the_customers(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    customers = 5000
    ids = seed(voucherify_emulator, customers, step_ms=3)
    pipeline = target(tmp_path)
    load(pipeline, **credentials(voucherify_emulator))
    gone = [ids[100], ids[2500], ids[4900]]
    delete(voucherify_emulator, gone)
    before = requests_seen(voucherify_emulator)

    windows, split = 4, 4
    report = sync_deletions(
        pipeline, windows=windows, split=split, **credentials(voucherify_emulator)
    )

    assert report.ids == tuple(sorted(gone))
    assert report.requests == requests_seen(voucherify_emulator) - before
    # 4 windows of 1,250 (13 pages, more than 4): each that lost one is cut in 4 parts of
    # about 312 (4 pages), read whole; plus 2 requests learning the filters' bounds.
    per_deletion = split + math.ceil(customers / windows / split / 100)
    assert report.requests <= windows + 2 + len(gone) * per_deletion == 30
    full_read = math.ceil(customers / 100)
    assert report.requests < full_read
    assert report.windows_compared == windows + len(gone) * split
    assert report.windows_rescanned == len(gone)
    assert column(tmp_path, "SELECT count(*) FROM voucherify.customers") == {customers - 3}


def test_windows_with_customers_not_loaded_yet_are_left_alone(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 300, step_ms=1000)  # 100 seconds of customers
    pipeline = target(tmp_path)
    load(pipeline, **credentials(voucherify_emulator))
    # Two customers created inside the loaded range after the load (not loaded), and a
    # deletion in the same window: that window has more customers in the API.
    run(voucherify_emulator.seed_customers(2, start="2024-03-01T00:00:10.500Z", step_ms=1))
    delete(voucherify_emulator, [ids[31], ids[250]])

    report = sync_deletions(pipeline, windows=10, **credentials(voucherify_emulator))

    assert report.ids == (ids[250],)
    assert report.windows_not_loaded == 1
    left = column(tmp_path, "SELECT id FROM voucherify.customers")
    assert left == set(ids) - {ids[250]}


def test_until_limits_the_range_compared(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    ids = seed(voucherify_emulator, 300, step_ms=1000)
    pipeline = target(tmp_path)
    load(pipeline, **credentials(voucherify_emulator))
    delete(voucherify_emulator, [ids[3], ids[290]])
    until = datetime(2024, 3, 1, 0, 1, tzinfo=timezone.utc)  # customers 0..179

    report = sync_deletions(pipeline, until=until, windows=4, **credentials(voucherify_emulator))

    assert report.ids == (ids[3],)
    assert report.end is not None and report.end <= until
    assert ids[290] in column(tmp_path, "SELECT id FROM voucherify.customers")


class _InclusiveFilters(AiohttpTransport):
    """Sends ``created_at[after]``/``[before]`` one millisecond wider: an API whose
    filters include the instant given, in front of the emulator's exclusive ones."""

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: Any, timeout: Any
    ) -> tuple[int, Mapping[str, str], bytes]:
        parts = urlsplit(url)
        query = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if key in ("created_at[after]", "created_at[before]"):
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                shift = timedelta(milliseconds=-1 if key.endswith("[after]") else 1)
                value = (moment + shift).isoformat(timespec="milliseconds")
            query.append((key, value))
        url = urlunsplit(parts._replace(query=urlencode(query)))
        return await super().send(method, url, headers, body, timeout)


def test_counts_stay_exact_when_the_api_includes_the_bounds(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 900, step_ms=2)
    pipeline = target(tmp_path)
    load(pipeline, **credentials(voucherify_emulator))
    gone = [ids[1], ids[450], ids[451]]
    delete(voucherify_emulator, gone)

    async def compare() -> DeletionReport:
        transport = _InclusiveFilters()

        def client() -> AsyncVoucherify:
            return voucherify_emulator.client(transport=transport)

        try:
            return await sync_deletions_async(pipeline, client_factory=client, windows=8)
        finally:
            await transport.aclose()

    report = run(compare())

    assert report.ids == tuple(sorted(gone))
    # The windows were counted twice (assumed exclusive, then learnt): no window looked
    # like customers not loaded, and no live customer was taken for a deleted one.
    assert report.windows_not_loaded == 0
    assert column(tmp_path, "SELECT count(*) FROM voucherify.customers") == {897}


def test_bad_input_fails_before_any_request(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    pipeline = target(tmp_path)
    creds = credentials(voucherify_emulator)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"mode": "purge"}, "mode"),
        ({"windows": 0}, "windows"),
        ({"windows": True}, "windows"),
        ({"split": 1}, "split"),
        ({"concurrency": 0}, "concurrency"),
        ({"until": datetime(2024, 1, 1)}, "until"),  # naive on purpose
        ({"dry_run": "yes"}, "dry_run"),
        ({"client_factory": "nope"}, "client_factory"),
    ]
    before = requests_seen(voucherify_emulator)
    for options, name in bad:
        with pytest.raises(ConfigurationError, match=name):
            sync_deletions(pipeline, **{**creds, **options})
    with pytest.raises(ConfigurationError, match="client_factory"):
        sync_deletions(pipeline, client_factory=voucherify_emulator.client, app_id="x")
    with pytest.raises(ConfigurationError, match="target"):
        sync_deletions("customers.duckdb", **creds)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"(?i)app_id|app_token|credential"):
        sync_deletions(pipeline)
    # A pipeline that has loaded nothing has nothing to compare.
    with pytest.raises(ConfigurationError, match="load first"):
        sync_deletions(pipeline, **creds)
    assert requests_seen(voucherify_emulator) == before


def pg_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2  # type: ignore[import-untyped,unused-ignore]

    with psycopg2.connect(dsn, connect_timeout=10) as db, db.cursor() as cursor:
        cursor.execute(sql)
        found: list[tuple[Any, ...]] = cursor.fetchall()
    return found


def test_postgres_delete_then_mark(
    voucherify_emulator: Emulator, postgres_dsn: str, tmp_path: Path
) -> None:
    ids = seed(voucherify_emulator, 400)
    run(voucherify_emulator.seed_segment("VIP", [ids[7], ids[8]]))
    into = pipeline(destination="postgres", pipelines_dir=tmp_path / "pipelines")
    load(into, resources=SEGMENTS, **credentials(voucherify_emulator))
    delete(voucherify_emulator, [ids[7], ids[250]])

    report = sync_deletions(into, windows=8, **credentials(voucherify_emulator))

    assert report.ids == tuple(sorted([ids[7], ids[250]]))
    assert {r[0] for r in pg_rows(postgres_dsn, "SELECT id FROM voucherify.customers")} == (
        set(ids) - {ids[7], ids[250]}
    )
    segments = pg_rows(postgres_dsn, "SELECT customer_id FROM voucherify.customer_segments")
    assert segments == [(ids[8],)]

    delete(voucherify_emulator, [ids[100]])
    marked = sync_deletions(into, mode="mark", windows=8, **credentials(voucherify_emulator))

    assert marked.ids == (ids[100],)
    stamped = pg_rows(
        postgres_dsn, f"SELECT id FROM voucherify.customers WHERE {DELETED_AT} IS NOT NULL"
    )
    assert stamped == [(ids[100],)]
    assert pg_rows(postgres_dsn, "SELECT count(*) FROM voucherify.customers") == [
        (398,)
    ]  # marked, kept
