"""Customers deleted in the API, found and dropped (or marked) without a full reload.

The API lists no deleted customers and has no feed of deletions, so an incremental run never
sees them. This module finds them by counting instead of reading everything:

1. the warehouse's ``customers`` rows are cut into ``created_at`` windows of similar size
   (half-open, whole milliseconds), and counted per window in one ``GROUP BY`` query;
2. the API counts the same windows: one ``GET /v1/customers`` per window, whose ``total``
   is the number of live customers in it (``created_at[after]``/``[before]``);
3. a window where the warehouse holds more rows than the API has lost customers: it is cut
   again (by the warehouse's own quantiles) and the parts are counted, until a part is small
   enough that reading it costs no more than cutting it again; that part is then read whole
   (its ids only) and compared with the warehouse's ids of the same window;
4. the rows the API no longer has are deleted (with their rows in the per-customer tables)
   or marked with a ``deleted_at`` timestamp.

The cost in requests is the initial windows, plus ``split`` per cut of a window that lost
customers, plus the pages of the windows read whole: a few hundred requests for a million
customers and ten deletions, where a full read takes ten thousand.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import dlt
from dlt.common.schema.utils import new_table

from .._client import AsyncVoucherify
from .._exceptions import ConfigurationError
from ..resources._concurrency import fan_out
from ._source import ClientFactory

__all__ = [
    "CHILD_TABLES",
    "DEFAULT_SPLIT",
    "DEFAULT_WINDOWS",
    "DELETED_AT",
    "DELETION_MODES",
    "DeletionReport",
    "sync_deletions",
    "sync_deletions_async",
]

#: What `sync_deletions` does with a row the API no longer has.
DELETION_MODES = ("delete", "mark")
#: How many ``created_at`` windows the first count cuts the warehouse into.
DEFAULT_WINDOWS = 64
#: How many parts a window that lost customers is cut into.
DEFAULT_SPLIT = 8
#: The column ``mode="mark"`` sets (a nullable timestamp, added through dlt's schema).
DELETED_AT = "deleted_at"
#: The per-customer tables whose rows of a deleted customer go with it (``customer_id``).
CHILD_TABLES = ("customer_segments", "customer_activity", "customer_redeemables")

_TABLE = "customers"
_PAGE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
# Rows of an IN list / windows of a CASE in one statement.
_CHUNK = 500
# Each level cuts every window it keeps to under half its span, so 64 levels cover any range.
_MAX_LEVELS = 64

Mode = Literal["delete", "mark"]


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def _from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


@dataclass(frozen=True)
class DeletionReport:
    """What one `sync_deletions` run compared, found and changed.

    Attributes:
        mode: ``"delete"`` or ``"mark"``.
        dry_run: whether the run only looked (nothing was changed).
        start: the oldest ``created_at`` compared (``None``: the warehouse had no rows).
        end: the end (excluded) of the ``created_at`` range compared.
        requests: API requests sent (attempts, retries included).
        windows_compared: windows whose count was asked of the API.
        windows_rescanned: windows whose ids were compared one by one.
        windows_not_loaded: windows where the API has more customers than the warehouse:
            customers not loaded yet, left alone (deletions there stay unseen).
        not_loaded: ids seen in the windows read whole that the warehouse lacks.
        ids: the customers the API no longer has, deleted or marked (sorted).

    Examples:
        ```python
        report = sync_deletions(target, dry_run=True)
        print(report.count, "deleted in the API;", report.requests, "requests")
        ```
    """

    mode: str
    dry_run: bool
    start: datetime | None
    end: datetime | None
    requests: int
    windows_compared: int
    windows_rescanned: int
    windows_not_loaded: int
    not_loaded: int
    ids: tuple[str, ...] = field(default=())

    @property
    def count(self) -> int:
        """How many customers were deleted or marked (``len(ids)``)."""
        return len(self.ids)


@dataclass
class _Window:
    """``[lo, hi)`` in milliseconds, with the warehouse's and the API's counts."""

    lo: int
    hi: int
    warehouse: int = 0
    api: int = 0
    # The ids of the window, when the count's page already held all of it.
    api_ids: set[str] | None = None

    def contains(self, ms: int) -> bool:
        return self.lo <= ms < self.hi


@dataclass
class _Tally:
    compared: int = 0
    rescanned: int = 0
    not_loaded_windows: int = 0
    not_loaded: int = 0
    found: set[str] = field(default_factory=set)


class _Warehouse:
    """The SQL side: counts, quantiles and ids of ``customers`` per ``created_at`` window.

    Only portable SQL: ``CASE``, ``COUNT``, ``ROW_NUMBER() OVER``, ``IN`` lists, with the
    destination's own quoting and ``%s`` parameters (timestamps as aware datetimes).
    """

    def __init__(self, sql: Any, *, live_only: bool, naming: Callable[[str], str]) -> None:
        self.sql = sql
        self.table = sql.make_qualified_table_name(naming(_TABLE))
        self.created = sql.escape_column_name(naming("created_at"))
        self.id = sql.escape_column_name(naming("id"))
        self.deleted_at = sql.escape_column_name(naming(DELETED_AT))
        self.live = f" AND {self.deleted_at} IS NULL" if live_only else ""

    def span(self, end: int | None) -> tuple[int, int, int] | None:
        """The first and last ``created_at`` millisecond and the row count (before ``end``)."""
        where = f"{self.created} IS NOT NULL{self.live}"
        args: list[Any] = []
        if end is not None:
            where += f" AND {self.created} < %s"
            args.append(_from_ms(end))
        rows = self.sql.execute_sql(
            f"SELECT MIN({self.created}), MAX({self.created}), COUNT(*)"
            f" FROM {self.table} WHERE {where}",
            *args,
        )
        low, high, count = rows[0]
        if not count:
            return None
        return _to_ms(low), _to_ms(high), int(count)

    def cut(self, window: _Window, parts: int) -> list[_Window]:
        """``window`` cut into up to ``parts`` windows of similar row counts.

        The cuts are the ``created_at`` of every ``count/parts``-th row, so each part starts
        on a row; when the rows leave no cut inside the window (one millisecond holds most
        of them), the span is cut in equal times instead.
        """
        count = max(window.warehouse, 1)
        positions = sorted({1 + count * index // parts for index in range(1, parts)})
        cuts: set[int] = set()
        if count > 1 and positions:
            marks = ", ".join(["%s"] * len(positions))
            rows = self.sql.execute_sql(
                f"SELECT c FROM (SELECT {self.created} AS c, ROW_NUMBER() OVER"
                f" (ORDER BY {self.created}) AS rn FROM {self.table}"
                f" WHERE {self.created} >= %s AND {self.created} < %s{self.live}) q"
                f" WHERE rn IN ({marks})",
                _from_ms(window.lo),
                _from_ms(window.hi),
                *positions,
            )
            cuts = {ms for ms in (_to_ms(row[0]) for row in rows) if window.lo < ms < window.hi}
        if not cuts:
            span = window.hi - window.lo
            pieces = min(parts, span)
            cuts = {window.lo + span * index // pieces for index in range(1, pieces)}
        edges = [window.lo, *sorted(cuts), window.hi]
        return [_Window(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]

    def count(self, windows: Sequence[_Window]) -> None:
        """Set each window's ``warehouse`` count: one ``GROUP BY`` per 500 windows."""
        for start in range(0, len(windows), _CHUNK):
            chunk = windows[start : start + _CHUNK]
            cases = " ".join(
                f"WHEN {self.created} >= %s AND {self.created} < %s THEN {index}"
                for index in range(len(chunk))
            )
            args: list[Any] = []
            for window in chunk:
                args += [_from_ms(window.lo), _from_ms(window.hi)]
            low = min(window.lo for window in chunk)
            high = max(window.hi for window in chunk)
            rows = self.sql.execute_sql(
                f"SELECT w, COUNT(*) FROM (SELECT CASE {cases} END AS w FROM {self.table}"
                f" WHERE {self.created} >= %s AND {self.created} < %s{self.live}) q"
                " GROUP BY w",
                *args,
                _from_ms(low),
                _from_ms(high),
            )
            for window in chunk:
                window.warehouse = 0
            for index, counted in rows or ():
                if index is not None:
                    chunk[int(index)].warehouse = int(counted)

    def ids(self, windows: Sequence[_Window]) -> list[set[str]]:
        """The ids of each window's rows."""
        found: list[set[str]] = [set() for _ in windows]
        ordered = sorted(range(len(windows)), key=lambda index: windows[index].lo)
        starts = [windows[index].lo for index in ordered]
        for start in range(0, len(ordered), _CHUNK):
            chunk = [windows[index] for index in ordered[start : start + _CHUNK]]
            ranges = " OR ".join(f"({self.created} >= %s AND {self.created} < %s)" for _ in chunk)
            args: list[Any] = []
            for window in chunk:
                args += [_from_ms(window.lo), _from_ms(window.hi)]
            rows = self.sql.execute_sql(
                f"SELECT {self.id}, {self.created} FROM {self.table} WHERE ({ranges}){self.live}",
                *args,
            )
            for customer_id, created in rows or ():
                ms = _to_ms(created)
                position = bisect.bisect_right(starts, ms) - 1
                if position >= 0 and windows[ordered[position]].contains(ms):
                    found[ordered[position]].add(customer_id)
        return found


class _Api:
    """The API side: a window's ``total`` (and its ids, when they fit in the page), or its ids.

    Whether ``created_at[after]``/``[before]`` exclude the instant given is documented
    nowhere. Counts first assume they do (the vendor's own code does); once a count differs,
    `learn` asks the API about a customer it returned, and the caller counts again if the
    assumption was wrong, so counts are exact either way. Ids are only ever taken from a
    read that covers the window whatever the answer (one millisecond wider on each side),
    filtered to the window on the client.
    """

    def __init__(self, client: AsyncVoucherify) -> None:
        self.client = client
        self.after_inclusive = False
        self.before_inclusive = False
        self.learnt = False
        # The created_at of a customer some answer held: what `learn` asks about.
        self.sample: datetime | None = None

    async def learn(self) -> bool:
        """Find how the API compares ``created_at`` filters; whether it is not as assumed."""
        self.learnt = True
        moment = self.sample
        if moment is None:
            return False  # no customer in any window: every count is 0 either way
        customers = self.client.customers
        after, before = await asyncio.gather(
            customers.list(limit=1, order="created_at", created_at_after=moment),
            customers.list(limit=1, order="-created_at", created_at_before=moment),
        )
        self.after_inclusive = _first_at(after.customers, moment)
        self.before_inclusive = _first_at(before.customers, moment)
        return self.after_inclusive or self.before_inclusive

    def _bounds(self, window: _Window) -> tuple[datetime, datetime]:
        after = window.lo if self.after_inclusive else window.lo - 1
        before = window.hi - 1 if self.before_inclusive else window.hi
        return _from_ms(after), _from_ms(before)

    async def count(self, window: _Window) -> None:
        """Set ``window.api``; a small window's page brings its ids along."""
        small = window.warehouse <= _PAGE
        window.api_ids = None
        after, before = self._bounds(window)
        page = await self.client.customers.list(
            limit=_PAGE if small else 1,
            order="created_at",
            created_at_after=after,
            created_at_before=before,
        )
        window.api = page.total or 0
        if self.sample is None and page.customers:
            self.sample = page.customers[0].created_at
        # Exclusive bounds are one millisecond wider than the window on each side: the page
        # then covers the window whatever the API's comparison, and is filtered here.
        covers = not (self.after_inclusive or self.before_inclusive)
        if small and covers and not page.has_more and len(page.customers) >= window.api:
            window.api_ids = _inside(window, page.customers)

    async def rescan(self, window: _Window) -> set[str]:
        """The ids of every customer the API has in ``window``."""
        ids: set[str] = set()
        pager = self.client.customers.list(
            order="created_at",
            limit=_PAGE,
            prefetch=False,
            created_at_after=_from_ms(window.lo - 1),
            created_at_before=_from_ms(window.hi),
        )
        async for page in pager.pages():
            ids |= _inside(window, page.customers)
        return ids


def _first_at(customers: Sequence[Any], moment: datetime) -> bool:
    return bool(customers) and customers[0].created_at == moment


def _inside(window: _Window, customers: Iterable[Any]) -> set[str]:
    return {
        customer.id
        for customer in customers
        if customer.created_at is not None and window.contains(_to_ms(customer.created_at))
    }


def _pages(total: int) -> int:
    return max(1, math.ceil(total / _PAGE))


async def _compare(
    warehouse: _Warehouse,
    api: _Api,
    first: list[_Window],
    *,
    split: int,
    concurrency: int,
) -> _Tally:
    """Count, cut and read windows until every window that lost customers was read whole."""
    tally = _Tally()
    pending = first
    for _ in range(_MAX_LEVELS):
        # Windows without rows in the warehouse have nothing to lose.
        pending = [window for window in pending if window.warehouse > 0]
        if not pending:
            break
        await fan_out(api.count, pending, concurrency=concurrency)
        tally.compared += len(pending)
        differ = any(window.api != window.warehouse for window in pending)
        if differ and not api.learnt and await api.learn():
            # The filters include the instant given: these counts were one millisecond
            # wide on a side; count again, exactly.
            await fan_out(api.count, pending, concurrency=concurrency)
        read: list[_Window] = []
        cut: list[_Window] = []
        for window in pending:
            if window.api == window.warehouse:
                continue
            if window.api > window.warehouse:
                tally.not_loaded_windows += 1
                continue
            if _pages(window.api) <= split or window.hi - window.lo <= 1:
                read.append(window)
            else:
                cut.extend(warehouse.cut(window, split))
        if read:
            to_read = [window for window in read if window.api_ids is None]
            for window, ids in zip(
                to_read, await fan_out(api.rescan, to_read, concurrency=concurrency), strict=True
            ):
                window.api_ids = ids
            tally.rescanned += len(read)
            for window, stored in zip(read, warehouse.ids(read), strict=True):
                api_ids = window.api_ids or set()
                tally.found |= stored - api_ids
                tally.not_loaded += len(api_ids - stored)
        if cut:
            warehouse.count(cut)
        pending = cut
    return tally


def _storage_columns(target: dlt.Pipeline, tables: Sequence[str]) -> dict[str, set[str]]:
    """The columns (lower case) of each of ``tables`` that exists in the destination."""
    with target.destination_client() as client:
        found = client.get_storage_tables(tables)  # type: ignore[attr-defined]
        return {name: {col.lower() for col in columns} for name, columns in found if columns}


def _ensure_deleted_at(target: dlt.Pipeline, table: str, column: str) -> None:
    """Declare ``deleted_at`` on ``customers`` in dlt's schema and let dlt add the column.

    dlt then knows the column as its own: later loads keep it (a row merged again, being
    alive, gets ``NULL``), and dlt never tries to add it a second time.
    """
    schema = target.default_schema
    if column in schema.tables[table]["columns"]:
        return
    schema.update_table(
        new_table(table, columns=[{"name": column, "data_type": "timestamp", "nullable": True}])
    )
    target.schemas.save_schema(schema)
    target.sync_schema()


def _apply(
    target: dlt.Pipeline, sql: Any, mode: Mode, ids: Sequence[str], naming: Callable[[str], str]
) -> None:
    """Delete the rows of ``ids`` (and their per-customer rows), or mark them, in one go."""
    if not ids:
        return
    table = naming(_TABLE)
    children = [naming(name) for name in CHILD_TABLES]
    schema = target.default_schema
    nested = [
        name
        for name, spec in schema.tables.items()
        if spec.get("parent") and _root(schema.tables, name) in (table, *children)
    ]
    storage = _storage_columns(target, [table, *children, *nested])
    customer_id = naming("customer_id")
    root_id, dlt_id = naming("_dlt_root_id"), naming("_dlt_id")
    customers = sql.make_qualified_table_name(table)
    id_column = sql.escape_column_name(naming("id"))
    now = datetime.now(timezone.utc)
    with sql.begin_transaction():
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            marks = ", ".join(["%s"] * len(chunk))
            if mode == "mark":
                deleted_at = sql.escape_column_name(naming(DELETED_AT))
                sql.execute_sql(
                    f"UPDATE {customers} SET {deleted_at} = %s"
                    f" WHERE {id_column} IN ({marks}) AND {deleted_at} IS NULL",
                    now,
                    *chunk,
                )
                continue
            for name in nested:
                root = _root(schema.tables, name)
                if root_id.lower() not in storage.get(name, ()) or root not in storage:
                    continue
                key = id_column if root == table else sql.escape_column_name(customer_id)
                sql.execute_sql(
                    f"DELETE FROM {sql.make_qualified_table_name(name)}"
                    f" WHERE {sql.escape_column_name(root_id)} IN"
                    f" (SELECT {sql.escape_column_name(dlt_id)}"
                    f" FROM {sql.make_qualified_table_name(root)} WHERE {key} IN ({marks}))",
                    *chunk,
                )
            for name in children:
                if customer_id.lower() in storage.get(name, ()):
                    sql.execute_sql(
                        f"DELETE FROM {sql.make_qualified_table_name(name)}"
                        f" WHERE {sql.escape_column_name(customer_id)} IN ({marks})",
                        *chunk,
                    )
            sql.execute_sql(f"DELETE FROM {customers} WHERE {id_column} IN ({marks})", *chunk)


def _root(tables: dict[str, Any], name: str) -> str:
    seen = 0
    while tables.get(name, {}).get("parent") and seen < 100:
        name = tables[name]["parent"]
        seen += 1
    return name


def _check_int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be an int in {low}..{high}, got {value!r}")
    return value


def _client_factory(
    app_id: str | None,
    app_token: str | None,
    base_url: str | None,
    client_options: dict[str, Any] | None,
    client_factory: ClientFactory | None,
    concurrency: int,
) -> ClientFactory:
    if client_factory is not None:
        if not callable(client_factory):
            raise ConfigurationError("client_factory must be a callable returning AsyncVoucherify")
        if app_id or app_token or base_url or client_options:
            raise ConfigurationError(
                "pass client_factory or app_id/app_token/base_url/client_options, not both"
            )
        return client_factory
    if client_options is not None and not isinstance(client_options, dict):
        raise ConfigurationError(f"client_options must be a dict, got {client_options!r}")
    options = {"max_concurrency": concurrency, **(client_options or {})}
    # Made here (no session opens until a request) so that bad credentials fail now.
    AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)

    def made() -> AsyncVoucherify:
        return AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)

    return made


@dataclass(frozen=True)
class _Options:
    mode: Mode
    windows: int
    split: int
    concurrency: int
    until: datetime | None
    dry_run: bool
    factory: ClientFactory


def _check(
    target: object,
    *,
    mode: object,
    windows: object,
    split: object,
    concurrency: object,
    until: object,
    dry_run: object,
    app_id: str | None,
    app_token: str | None,
    base_url: str | None,
    client_options: dict[str, Any] | None,
    client_factory: ClientFactory | None,
) -> _Options:
    if not isinstance(target, dlt.Pipeline):
        raise ConfigurationError(
            f"target must be a dlt.Pipeline (from pipeline()), got {type(target).__name__}"
        )
    if mode not in DELETION_MODES:
        raise ConfigurationError(f"mode must be 'delete' or 'mark', got {mode!r}")
    checked_windows = _check_int(windows, "windows", 1, 10_000)
    checked_split = _check_int(split, "split", 2, 100)
    checked_concurrency = _check_int(concurrency, "concurrency", 1, 1000)
    if until is not None and (not isinstance(until, datetime) or until.utcoffset() is None):
        raise ConfigurationError(f"until must be an aware datetime or None, got {until!r}")
    if not isinstance(dry_run, bool):
        raise ConfigurationError(f"dry_run must be True or False, got {dry_run!r}")
    factory = _client_factory(
        app_id, app_token, base_url, client_options, client_factory, checked_concurrency
    )
    return _Options(
        mode="mark" if mode == "mark" else "delete",
        windows=checked_windows,
        split=checked_split,
        concurrency=checked_concurrency,
        until=until,
        dry_run=dry_run,
        factory=factory,
    )


async def _run(target: dlt.Pipeline, options: _Options) -> DeletionReport:
    if target.default_schema_name is None:
        # A pipeline without local state (another machine, a new folder): dlt's own state
        # and schema come back from the destination.
        target.sync_destination()
    if target.default_schema_name is None:
        raise ConfigurationError(
            f"target: pipeline {target.pipeline_name!r} has loaded nothing yet; load first"
        )
    schema = target.default_schema
    naming = schema.naming.normalize_identifier
    table = naming(_TABLE)
    if table not in schema.tables:
        raise ConfigurationError(
            f"target: pipeline {target.pipeline_name!r} has no {_TABLE!r} table yet; load first"
        )
    if options.mode == "mark" and not options.dry_run:
        _ensure_deleted_at(target, table, naming(DELETED_AT))
    live_only = options.mode == "mark" and naming(DELETED_AT) in schema.tables[table]["columns"]
    end = None if options.until is None else _to_ms(options.until)
    empty = DeletionReport(options.mode, options.dry_run, None, None, 0, 0, 0, 0, 0)
    with target.sql_client() as sql:
        warehouse = _Warehouse(sql, live_only=live_only, naming=naming)
        span = warehouse.span(end)
        if span is None:
            return empty
        low, high, total = span
        whole = _Window(low, high + 1 if end is None else min(high + 1, end), warehouse=total)
        first = warehouse.cut(whole, options.windows)
        warehouse.count(first)
        async with options.factory() as client:
            before = client.stats.requests
            api = _Api(client)
            tally = await _compare(
                warehouse, api, first, split=options.split, concurrency=options.concurrency
            )
            requests = client.stats.requests - before
        ids = tuple(sorted(tally.found))
        if not options.dry_run:
            _apply(target, sql, options.mode, ids, naming)
    return DeletionReport(
        mode=options.mode,
        dry_run=options.dry_run,
        start=_from_ms(whole.lo),
        end=_from_ms(whole.hi),
        requests=requests,
        windows_compared=tally.compared,
        windows_rescanned=tally.rescanned,
        windows_not_loaded=tally.not_loaded_windows,
        not_loaded=tally.not_loaded,
        ids=ids,
    )


async def sync_deletions_async(
    target: dlt.Pipeline,
    *,
    mode: Mode = "delete",
    app_id: str | None = None,
    app_token: str | None = None,
    base_url: str | None = None,
    client_options: dict[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
    concurrency: int = 8,
    windows: int = DEFAULT_WINDOWS,
    split: int = DEFAULT_SPLIT,
    until: datetime | None = None,
    dry_run: bool = False,
) -> DeletionReport:
    """`sync_deletions` for a caller already on an event loop (same arguments).

    The warehouse's queries run on the loop's thread, between the rounds of requests.

    Examples:
        ```python
        from voucherify_async.dlt import pipeline, sync_deletions_async

        report = await sync_deletions_async(pipeline(duckdb_path="customers.duckdb"))
        print(report.count, report.requests)
        ```
    """
    options = _check(
        target,
        mode=mode,
        windows=windows,
        split=split,
        concurrency=concurrency,
        until=until,
        dry_run=dry_run,
        app_id=app_id,
        app_token=app_token,
        base_url=base_url,
        client_options=client_options,
        client_factory=client_factory,
    )
    return await _run(target, options)


def sync_deletions(
    target: dlt.Pipeline,
    *,
    mode: Mode = "delete",
    app_id: str | None = None,
    app_token: str | None = None,
    base_url: str | None = None,
    client_options: dict[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
    concurrency: int = 8,
    windows: int = DEFAULT_WINDOWS,
    split: int = DEFAULT_SPLIT,
    until: datetime | None = None,
    dry_run: bool = False,
) -> DeletionReport:
    """Find the loaded customers the API no longer has; delete or mark them.

    Compares ``created_at`` windows: the warehouse's row count (one ``GROUP BY``) against
    the API's ``total`` (one request a window). A window where the warehouse holds more is
    cut into ``split`` parts by the warehouse's quantiles and counted again, until a part
    reads in ``split`` pages or fewer; that part is read whole (ids only; a part of 100 rows
    or fewer came whole with its count) and its ids are compared. A run that finds nothing
    costs ``windows`` requests (twice that, plus 2, against an API whose filters include the
    instant given: the counts are then asked again, exactly). Otherwise add 2 requests (to
    learn whether the API's ``created_at`` filters include the instant given) and, per
    window that lost customers, ``split`` requests per cut and the pages of the final read:
    for 1,000,000 customers and 10 deletions, with the defaults, at most
    64 + 2 + 10 * (8 + 8 + 3) = 256 requests, against 10,000 for a full read.

    Only customers created in the range the warehouse covers (its oldest to its newest
    ``created_at``, and before ``until``) are compared. A window where the API has *more*
    customers than the warehouse holds customers not loaded yet: it is reported in
    ``windows_not_loaded`` and nothing there is deleted or marked. Nothing is changed before
    every window has been compared, and only rows whose ids a complete read of their window
    did not return are changed, in one transaction.

    Limits: counts cannot see a window where as many customers were deleted as were created
    (not loaded yet) since the last load: the counts match, and the deletion is found by a
    later run, once those customers are loaded. Rows without ``created_at`` are never
    compared. Customers deleted while the run reads are found by the next run.

    Args:
        target: the pipeline the customers were loaded with (`pipeline()`); its dataset's
            ``customers`` table and, in ``"delete"`` mode, the per-customer tables
            (``customer_segments``, ``customer_activity``, ``customer_redeemables``: the
            rows of their ``customer_id``) are changed.
        mode: ``"delete"`` removes the rows; ``"mark"`` sets ``deleted_at`` (a nullable
            timestamp that dlt adds to ``customers`` through the pipeline's schema on the
            first such run) to the run's time and keeps the rows, and the per-customer ones.
            Marked rows are not compared again.
        app_id: the application id; defaults to ``$VOUCHERIFY_APP_ID``.
        app_token: the secret key; defaults to ``$VOUCHERIFY_APP_TOKEN``.
        base_url: the API host; defaults to ``$VOUCHERIFY_BASE_URL``, then the EU cluster.
        client_options: more keyword arguments of `AsyncVoucherify`.
        client_factory: makes the client instead (a callable returning a new, unopened
            `AsyncVoucherify`); it is closed when the run ends.
        concurrency: the most requests in flight at once (the client's
            ``max_concurrency``, and how many windows are counted or read at once).
        windows: how many windows the first count cuts the warehouse into (1..10000).
        split: how many parts a window that lost customers is cut into (2..100).
        until: compare only customers created before this aware datetime (default: up
            to the newest one loaded).
        dry_run: find and report, change nothing.

    Returns:
        A `DeletionReport`: the ids found, the requests sent, the windows compared.

    Raises:
        ConfigurationError: a bad argument (named in the message), missing credentials, or
            a pipeline that has loaded no customers yet.
        VoucherifyError: the API failed (nothing was changed).

    Examples:
        ```python
        from voucherify_async.dlt import load, pipeline, sync_deletions

        target = pipeline(duckdb_path="customers.duckdb")
        load(target, resources=["customers", "customer_segments"])
        report = sync_deletions(target, mode="delete")
        print(f"{report.count} deleted customers removed in {report.requests} requests")
        ```
    """
    options = _check(
        target,
        mode=mode,
        windows=windows,
        split=split,
        concurrency=concurrency,
        until=until,
        dry_run=dry_run,
        app_id=app_id,
        app_token=app_token,
        base_url=base_url,
        client_options=client_options,
        client_factory=client_factory,
    )
    return asyncio.run(_run(target, options))
