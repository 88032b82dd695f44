"""The dlt source: customers (incremental, merged on ``id``) and what hangs off them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import pyarrow as pa  # type: ignore[import-untyped]  # no type information
from dlt.common import logger as dlt_logger
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.extract.source import DltSource

from .._client import AsyncVoucherify
from .._exceptions import ConfigurationError
from ..models import AsyncAction, Customer, CustomerActivity, CustomerRedeemable, Segment
from ..resources._concurrency import fan_out
from ..resources._partition import CustomerPartition
from ._arrow import arrow_type, columns_builder
from ._columns import columns_from_struct
from ._rows import row_builder

__all__ = [
    "DEFAULT_MARGIN",
    "DELETED_COLUMN",
    "RESOURCES",
    "SCHEMA_CONTRACT_MODES",
    "WRITE_DISPOSITIONS",
    "ClientFactory",
    "customer_row",
    "voucherify_source",
]

#: Every resource of the source, in load order.
RESOURCES = (
    "customers",
    "customer_segments",
    "customer_activity",
    "customer_redeemables",
    "async_actions",
)

#: How far before the last run's newest change a later run asks again (see docs/dlt.md).
DEFAULT_MARGIN = timedelta(seconds=5)

ClientFactory = Callable[[], AsyncVoucherify]
"""A callable returning a new, unopened `AsyncVoucherify`; called on dlt's extract loop."""

#: What ``voucherify_source(write_disposition=...)`` takes, for the ``customers`` table.
WRITE_DISPOSITIONS = ("merge", "append", "replace", "scd2")

#: The modes of dlt's schema contract (``schema_contract=``), for any of its three parts.
SCHEMA_CONTRACT_MODES = ("evolve", "discard_value", "discard_row", "freeze")
_CONTRACT_PARTS = ("tables", "columns", "data_type")

#: The column of the per-customer tables that marks a customer's tombstone row: a
#: customer with no segments (activity, redeemables) left is loaded as one row with
#: ``customer_id`` and this column ``true``, which deletes the customer's earlier rows and is
#: not stored itself (dlt's ``hard_delete`` hint). Loaded rows hold ``NULL`` in it.
DELETED_COLUMN = "_deleted"

_MS = timedelta(milliseconds=1)
_BATCH = 500
#: Batches fetched ahead of the one dlt is handling.
_AHEAD = 2

_CUSTOMER_COLUMNS: dict[str, Any] = {
    **columns_from_struct(Customer, not_null=("id",)),
    # updated_at, or created_at for a customer never updated: the incremental cursor.
    "changed_at": {"data_type": "timestamp", "nullable": False},
}


def _with_customer_id(columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # A redeemable has a customer_id of its own: the column is the customer asked for.
    merged = {"customer_id": {}, **columns}
    merged["customer_id"] = {"data_type": "text", "nullable": False}
    merged[DELETED_COLUMN] = {"data_type": "bool", "nullable": True, "hard_delete": True}
    return merged


_SEGMENT_COLUMNS = _with_customer_id(columns_from_struct(Segment, not_null=("id",)))
_ACTIVITY_COLUMNS = _with_customer_id(columns_from_struct(CustomerActivity, not_null=("id",)))
_REDEEMABLE_COLUMNS = _with_customer_id(columns_from_struct(CustomerRedeemable, not_null=("id",)))
_ACTION_COLUMNS: dict[str, Any] = columns_from_struct(AsyncAction, not_null=("id",))

_customer_fields = row_builder(Customer)
# What is loaded leaves the None values out: a missing column is NULL all the same, and
# dlt's normalizer is faster without them.
_customer_load = row_builder(Customer, keep_none=False)
_segment_row = row_builder(Segment, keep_none=False)
_activity_row = row_builder(CustomerActivity, keep_none=False)
_redeemable_row = row_builder(CustomerRedeemable, keep_none=False)
_action_row = row_builder(AsyncAction, keep_none=False)


def customer_row(customer: Customer) -> dict[str, Any]:
    """The row a customer is loaded as: every field as the API gave it, plus ``changed_at``.

    Every field of `Customer` is a column, defaults included: a ``0`` stays ``0``, an
    empty ``{}`` or ``[]`` stays empty, a string stays the same string; nested objects are
    flattened into ``parent__child`` columns (``None`` in each when the object is absent),
    and open objects (``metadata``, ``system_metadata``, ``loyalty__campaigns``,
    ``referrals__campaigns``) are kept whole, as received. The keys are the columns of
    ``columns_from_struct(Customer)`` and ``changed_at`` (``updated_at``, or ``created_at``
    for a customer never updated: the incremental cursor). The source hands dlt these
    values as one arrow table per batch, typed by the same columns (an open object as its
    JSON text, which the destination stores in its JSON type); with
    ``write_disposition="scd2"``, as this row without its ``None`` values (``NULL`` all the
    same).

    Args:
        customer: a customer from the client.

    Returns:
        A new dict of column name to value, the typed ``customers`` columns.

    Examples:
        ```python
        row = customer_row(await vf.customers.get("source_123"))
        row["summary__orders__total_count"], row["metadata"]  # (0, {})
        ```
    """
    row = _customer_fields(customer)
    row["changed_at"] = customer.updated_at or customer.created_at
    return row


def _loaded_row(customer: Customer) -> dict[str, Any]:
    """`customer_row` without its ``None`` values: the same row to the destination."""
    row = _customer_load(customer)
    row["changed_at"] = customer.updated_at or customer.created_at
    return row


_customer_columns = columns_builder(Customer)
#: The arrow schema of a batch of customers: the declared columns, in order, then dlt's
#: own two, which its normalizer adds to dict rows (and not to arrow tables): a table has
#: the same columns, in the same order, whichever way its rows were loaded.
_CUSTOMER_SCHEMA = pa.schema(
    [
        pa.field(name, arrow_type(hints["data_type"]), nullable=hints["nullable"])
        for name, hints in _CUSTOMER_COLUMNS.items()
    ]
    + [
        pa.field("_dlt_load_id", pa.string(), nullable=False),
        pa.field("_dlt_id", pa.string(), nullable=False),
    ]
)
_CUSTOMER_FIELDS = list(_CUSTOMER_SCHEMA)[: len(_CUSTOMER_COLUMNS)]


class _QuietJsonHints(logging.Filter):
    """Drops dlt's notice that a ``json`` column of ``customers`` arrived as arrow text.

    The ``json`` columns are arrow strings by design (their JSON text); dlt keeps the
    declared type and leaves the text to the destination, which parses it into its JSON
    type, and says so once per batch, at the warning level. Installed on dlt's logger only
    while a ``customers`` resource of this source runs.
    """

    _NOTICE = "In resource: customers, when merging arrow schema"

    def __init__(self) -> None:
        super().__init__()
        self.users = 0

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self._NOTICE))


_quiet_json_hints = _QuietJsonHints()


@contextlib.contextmanager
def _arrow_notices_quiet() -> Any:
    """While it lasts, dlt does not log `_QuietJsonHints`'s notice."""
    logger = dlt_logger.LOGGER or logging.getLogger("dlt")
    _quiet_json_hints.users += 1
    logger.addFilter(_quiet_json_hints)
    try:
        yield
    finally:
        _quiet_json_hints.users -= 1
        if _quiet_json_hints.users == 0:
            logger.removeFilter(_quiet_json_hints)


def _customer_table(customers: list[Customer], load_id: str) -> pa.Table:
    """The rows of ``customers`` as one arrow table: `customer_row`'s values, typed.

    ``json`` columns hold the value's JSON text, which the destination parses into its
    JSON type; ``_dlt_load_id`` and ``_dlt_id`` (random, as dlt makes them for dict rows)
    are filled here, as dlt's normalizer does not touch arrow tables.
    """
    values = _customer_columns(customers)
    values.append([customer.updated_at or customer.created_at for customer in customers])
    arrays: list[pa.Array] = []
    for field, column in zip(_CUSTOMER_FIELDS, values, strict=True):
        try:
            arrays.append(pa.array(column, type=field.type))
        except (OverflowError, pa.ArrowException) as exc:
            raise ValueError(
                f"customers column {field.name!r} cannot hold a value the API sent as"
                f" {field.type}: {exc}"
            ) from None
    count = len(customers)
    arrays.append(pa.array([load_id] * count, type=pa.string()))
    arrays.append(pa.array(generate_dlt_ids(count), type=pa.string()))
    return pa.Table.from_arrays(arrays, schema=_CUSTOMER_SCHEMA)


class _Clients:
    """One client shared by every resource while any of them runs; closed after the last.

    dlt runs async resources on an event loop of its own, so the client is made there, on
    first use, and closed on that loop when no resource is using it any more.
    """

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: AsyncVoucherify | None = None
        self._users = 0

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncVoucherify]:
        if self._client is None:
            self._client = self._factory()
        client = self._client
        self._users += 1
        try:
            yield client
        finally:
            self._users -= 1
            if self._users == 0 and self._client is client:
                self._client = None
                await client.aclose()


class _Failed:
    """What the fetching task hands on when the stream raised."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


_END = object()


def _dict_batch(customers: list[Customer]) -> list[dict[str, Any]]:
    return [_loaded_row(customer) for customer in customers]


async def _batches(
    customers: AsyncIterator[Customer], build: Callable[[list[Customer]], Any] = _dict_batch
) -> AsyncIterator[Any]:
    """The rows of ``customers`` in batches, fetched ahead of the batch dlt is handling.

    dlt asks an async resource for its next item only once it has handled the last one (on
    another thread), so fetching and handling would take turns. A task fetches up to
    `_AHEAD` batches ahead instead: the requests and their decoding overlap dlt's work.
    ``build`` makes each batch's item (a list of dict rows, or an arrow table).
    """
    queue: asyncio.Queue[object] = asyncio.Queue(_AHEAD)

    async def fetch() -> None:
        batch: list[Customer] = []
        try:
            async for customer in customers:
                batch.append(customer)
                if len(batch) >= _BATCH:
                    await queue.put(build(batch))
                    batch = []
            if batch:
                await queue.put(build(batch))
        except Exception as exc:
            await queue.put(_Failed(exc))
            return
        await queue.put(_END)

    task = asyncio.ensure_future(fetch())
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        # dlt closes the generator early when its cursor's end is reached, or on an error.
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _changed(
    client: AsyncVoucherify, start: datetime, end: datetime | None
) -> AsyncIterator[Customer]:
    """Customers created or updated in ``[start, end)``, each once, with a millisecond spare.

    The API's ``[after]``/``[before]`` filters may be strict or not: asking one millisecond
    wider on each side covers both; dlt drops what falls outside the range.
    """
    after = start - _MS
    before = None if end is None else end + _MS
    seen: set[str] = set()
    async for customer in client.customers.list(created_at_after=after, created_at_before=before):
        seen.add(customer.id)
        yield customer
    async for customer in client.customers.list(updated_at_after=after, updated_at_before=before):
        if customer.id not in seen:
            yield customer


def _customer_hints(write_disposition: str) -> dict[str, Any]:
    """The table hints of ``customers`` for one of `WRITE_DISPOSITIONS`."""
    hints: dict[str, Any] = {"name": "customers", "columns": _CUSTOMER_COLUMNS}
    if write_disposition == "merge":
        hints.update(primary_key="id", write_disposition="merge")
    elif write_disposition == "replace":
        hints.update(primary_key="id", write_disposition="replace")
    elif write_disposition == "append":
        # One row per load of a customer: ``id`` is no key of the table.
        hints.update(write_disposition="append")
    else:
        # A version per change of a customer, told apart by the row's hash. ``id`` is no
        # key of the table, but the merge key: only the versions of the customers a run
        # loads are compared (and retired), so an incremental run retires nothing else.
        hints.update(merge_key="id", write_disposition={"disposition": "merge", "strategy": "scd2"})
    return hints


def _builder(write_disposition: str) -> Callable[[list[Customer]], Any]:
    """What a batch of customers is handed to dlt as, for one of `WRITE_DISPOSITIONS`.

    An arrow table (`_customer_table`): dlt writes it to its files whole, with no Python
    work per row. Dict rows for ``scd2``, where a version is told apart by the hash of its
    row, which dlt's normalizer computes into ``_dlt_id`` of dict rows only; and outside a
    pipeline. Called on dlt's extract loop, where the run's load package is known.
    """
    if write_disposition == "scd2":
        return _dict_batch
    try:
        load_id = dlt.current.load_package_state()["load_id"]
    except CurrentLoadPackageStateNotAvailable:
        # Iterated outside a pipeline: no load to stamp the rows with, dict rows as ever.
        return _dict_batch

    def table(customers: list[Customer]) -> pa.Table:
        return _customer_table(customers, load_id)

    return table


def _customers_resource(
    clients: _Clients,
    *,
    write_disposition: str,
    margin: timedelta,
    parallel: int | str,
    partition: CustomerPartition | None,
    initial_value: datetime | None,
    end_value: datetime | None,
) -> Any:
    hints = _customer_hints(write_disposition)
    if partition is not None:

        @dlt.resource(**hints)
        async def customers_window() -> AsyncIterator[Any]:
            build = _builder(write_disposition)
            with _arrow_notices_quiet():
                async with clients.use() as client:
                    async for batch in _batches(partition.stream(client), build):
                        yield batch

        return customers_window

    if write_disposition == "replace":
        # The table is replaced by every run: each run reads every customer.
        @dlt.resource(**hints)
        async def customers_all() -> AsyncIterator[Any]:
            build = _builder(write_disposition)
            with _arrow_notices_quiet():
                async with clients.use() as client:
                    width = None if parallel == 1 else parallel
                    stream = aiter(client.customers.list(parallel=width))
                    async for batch in _batches(stream, build):
                        yield batch

        return customers_all

    cursor = dlt.sources.incremental(
        "changed_at",
        initial_value=initial_value,
        end_value=end_value,
        lag=margin.total_seconds(),
        range_start="closed",
        range_end="open",
        # The boundary's rows are told apart by id whatever the table's keys.
        primary_key="id",
    )

    @dlt.resource(**hints)
    async def customers(
        changed_at: dlt.sources.incremental[datetime] = cursor,
    ) -> AsyncIterator[Any]:
        start: datetime | None = changed_at.start_value
        end: datetime | None = changed_at.end_value
        build = _builder(write_disposition)
        with _arrow_notices_quiet():
            async with clients.use() as client:
                if start is None and end is None:
                    # Disjoint created_at windows read at once (one stream: in order).
                    width = None if parallel == 1 else parallel
                    stream = aiter(client.customers.list(parallel=width))
                else:
                    low = start or datetime(1970, 1, 1, tzinfo=timezone.utc)
                    stream = _changed(client, low, end)
                async for batch in _batches(stream, build):
                    yield batch

    return customers


def _per_customer(
    clients: _Clients,
    parent: Any,
    name: str,
    primary_key: str | tuple[str, ...],
    columns: dict[str, Any],
    fetch: Callable[[AsyncVoucherify, str], Any],
    build: Callable[[Any], dict[str, Any]],
    concurrency: int,
) -> Any:
    """A table of what each loaded customer has, replacing that customer's earlier rows.

    Merged with dlt's ``delete-insert`` on the merge key ``customer_id``: the rows of a run
    first delete every row of the customers they belong to, so a segment a customer left
    is gone. A customer with nothing left is one tombstone row (`DELETED_COLUMN` true),
    which deletes its rows and is not stored.
    """

    hints: dict[str, Any] = {
        "name": name,
        "primary_key": primary_key,
        "merge_key": "customer_id",
        "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
        "columns": columns,
    }

    @dlt.transformer(data_from=parent, **hints)
    async def per_customer(customers: pa.Table | list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with clients.use() as client:

            async def one(customer_id: str) -> list[dict[str, Any]]:
                rows: list[dict[str, Any]] = []
                for item in await fetch(client, customer_id):
                    row = build(item)
                    row["customer_id"] = customer_id
                    rows.append(row)
                if not rows:
                    rows.append({"customer_id": customer_id, "id": "", DELETED_COLUMN: True})
                return rows

            ids = _customer_ids(customers)
            found = await fan_out(one, ids, concurrency=concurrency)
        return [row for rows in found for row in rows]

    return per_customer


def _customer_ids(customers: pa.Table | list[dict[str, Any]]) -> list[str]:
    """The ``id`` of each customer of a batch ``customers`` yielded: a table or dict rows."""
    if isinstance(customers, pa.Table):
        ids: list[str] = customers.column("id").to_pylist()
        return ids
    return [customer["id"] for customer in customers]


async def _segments(client: AsyncVoucherify, customer_id: str) -> list[Segment]:
    return (await client.customers.list_segments(customer_id)).data


async def _activity(client: AsyncVoucherify, customer_id: str) -> list[CustomerActivity]:
    return [event async for event in client.customers.list_activity(customer_id)]


async def _redeemables(client: AsyncVoucherify, customer_id: str) -> list[CustomerRedeemable]:
    return [item async for item in client.customers.list_redeemables(customer_id)]


def _async_actions_resource(clients: _Clients) -> Any:
    @dlt.resource(
        name="async_actions", primary_key="id", write_disposition="merge", columns=_ACTION_COLUMNS
    )
    async def async_actions() -> AsyncIterator[list[dict[str, Any]]]:
        async with clients.use() as client:
            batch: list[dict[str, Any]] = []
            async for action in client.async_actions.list(limit=100):
                batch.append(_action_row(action))
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

    return async_actions


def _check_resources(resources: Iterable[str] | str) -> tuple[str, ...]:
    names = (resources,) if isinstance(resources, str) else tuple(resources)
    unknown = [name for name in names if name not in RESOURCES]
    if unknown or not names:
        raise ConfigurationError(
            f"resources: unknown {', '.join(map(repr, unknown)) or 'empty selection'};"
            f" choose from {', '.join(RESOURCES)}"
        )
    return names


def _check_aware(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ConfigurationError(f"{name} must be an aware datetime or None, got {value!r}")
    return value


def _check_int(value: object, name: str, low: int, high: int, *, also: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        allowed = f"an int in {low}..{high}" + (f" or {also}" if also else "")
        raise ConfigurationError(f"{name} must be {allowed}, got {value!r}")
    return value


def _check_choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _check_contract(value: object) -> str | dict[str, str] | None:
    """dlt's ``schema_contract``: a mode, or a mapping of tables/columns/data_type to modes."""
    allowed = (
        f"None, one of {', '.join(SCHEMA_CONTRACT_MODES)}, or a dict of"
        f" {'/'.join(_CONTRACT_PARTS)} to one of them"
    )
    if value is None:
        return None
    if isinstance(value, str) and value in SCHEMA_CONTRACT_MODES:
        return value
    if (
        isinstance(value, dict)
        and value
        and all(key in _CONTRACT_PARTS for key in value)
        and all(isinstance(mode, str) and mode in SCHEMA_CONTRACT_MODES for mode in value.values())
    ):
        return dict(value)
    raise ConfigurationError(f"schema_contract must be {allowed}, got {value!r}")


def _from_dlt(key: str, *, secret: bool) -> str | None:
    """``sources.voucherify.<key>`` from dlt's secrets (and, unless secret, its config).

    dlt reads its environment variables (``SOURCES__VOUCHERIFY__APP_TOKEN``) and the
    ``.dlt/secrets.toml`` and ``.dlt/config.toml`` files.
    """
    accessor: Any = dlt.secrets if secret else dlt.config
    value = accessor.get(f"sources.voucherify.{key}")
    if value is None:
        return None
    if not isinstance(value, str):
        # A type name only: the value may be a secret.
        raise ConfigurationError(
            f"sources.voucherify.{key} in dlt's configuration must be a string,"
            f" got {type(value).__name__}"
        )
    return value


def voucherify_source(
    *,
    app_id: str | None = None,
    app_token: str | None = None,
    base_url: str | None = None,
    resources: Iterable[str] | str = ("customers",),
    write_disposition: str = "merge",
    schema_contract: str | dict[str, str] | None = None,
    concurrency: int = 8,
    parallel: int | str = "auto",
    partition: CustomerPartition | None = None,
    initial_value: datetime | None = None,
    end_value: datetime | None = None,
    margin: timedelta = DEFAULT_MARGIN,
    client_options: dict[str, Any] | None = None,
    client_factory: ClientFactory | None = None,
) -> DltSource:
    """The Voucherify dlt source, checked before anything is fetched.

    Every argument is checked here, and the credentials with them, so a bad configuration
    fails at once with one `ConfigurationError` instead of deep inside a pipeline run.

    The credentials not passed come from dlt's configuration, then from the environment:
    ``app_id``, ``app_token`` and ``base_url`` under ``[sources.voucherify]`` in
    ``.dlt/secrets.toml`` (or ``.dlt/config.toml``, except the token), or dlt's variables
    ``SOURCES__VOUCHERIFY__APP_ID``, ``SOURCES__VOUCHERIFY__APP_TOKEN`` and
    ``SOURCES__VOUCHERIFY__BASE_URL``; then ``$VOUCHERIFY_APP_ID``,
    ``$VOUCHERIFY_APP_TOKEN`` and ``$VOUCHERIFY_BASE_URL``. An argument passed wins.

    Args:
        app_id: the application id; defaults to ``sources.voucherify.app_id`` in dlt's
            configuration, then ``$VOUCHERIFY_APP_ID``.
        app_token: the secret key; defaults to ``sources.voucherify.app_token`` in dlt's
            secrets, then ``$VOUCHERIFY_APP_TOKEN``.
        base_url: the API host; defaults to ``sources.voucherify.base_url`` in dlt's
            configuration, then ``$VOUCHERIFY_BASE_URL``, then the EU cluster.
        resources: which of ``customers``, ``customer_segments``, ``customer_activity``,
            ``customer_redeemables``, ``async_actions`` to load (default: ``customers``).
            The per-customer resources follow the customers the run loads, and replace
            each such customer's earlier rows.
        write_disposition: how ``customers`` is written (one of `WRITE_DISPOSITIONS`):
            ``"merge"`` (the default) keeps one row per customer, merged on ``id``;
            ``"append"`` adds a row each time a run loads a customer; ``"replace"`` reads
            every customer on every run and replaces the table (no incremental state;
            deleted customers leave it); ``"scd2"`` keeps every version of a customer
            (dlt's ``scd2`` merge strategy): a changed customer gets a new row, and its
            previous one is closed (``_dlt_valid_to`` set).
        schema_contract: dlt's schema contract for the source's tables (``"evolve"``,
            ``"freeze"``, ... or ``{"columns": "freeze", ...}``); ``None``: dlt's default.
        concurrency: the most requests in flight at once (the client's
            ``max_concurrency``, and the per-customer fan-out's width).
        parallel: on a full load, stream the customers as this many ``created_at``
            windows at once, or ``"auto"`` (the default) to follow the latency and the rate
            limit (``vf.customers.list(parallel=...)``); 1 reads them in one stream.
        partition: load only this `CustomerPartition` (no incremental state): for a
            backfill split across processes or machines.
        initial_value: load only customers changed at or after this instant.
        end_value: load only customers changed before this instant; with ``end_value``
            the run keeps no incremental state, so several ranges can be loaded side by
            side.
        margin: how far before the last run's newest change a later run asks again.
        client_options: more keyword arguments of `AsyncVoucherify` (``timeout``,
            ``max_retries``, ``rate_limiter``, ...). The client's ``priority`` is
            ``"background"`` unless given here: interactive calls on the same key (and
            the same limiter) go first.
        client_factory: makes the client instead (for instance with a shared rate limiter);
            it is called with no arguments on the loop dlt extracts on, and the client it
            returns is closed when the run ends.

    Returns:
        A dlt source to pass to ``pipeline.run``.

    Raises:
        ConfigurationError: missing credentials, an unknown resource or a bad option.

    Examples:
        ```python
        import dlt
        from voucherify_async.dlt import voucherify_source

        pipeline = dlt.pipeline("voucherify", destination="duckdb", dataset_name="voucherify")
        pipeline.run(voucherify_source(resources=["customers", "customer_segments"]))
        ```
    """
    names = _check_resources(resources)
    write_disposition = _check_choice(write_disposition, "write_disposition", WRITE_DISPOSITIONS)
    contract = _check_contract(schema_contract)
    concurrency = _check_int(concurrency, "concurrency", 1, 1000)
    if parallel != "auto":
        parallel = _check_int(parallel, "parallel", 1, 1000, also="'auto'")
    initial_value = _check_aware(initial_value, "initial_value")
    end_value = _check_aware(end_value, "end_value")
    if initial_value is not None and end_value is not None and end_value <= initial_value:
        raise ConfigurationError("end_value must be later than initial_value")
    if partition is not None and not isinstance(partition, CustomerPartition):
        raise ConfigurationError(
            f"partition must be a CustomerPartition, got {type(partition).__name__}"
        )
    if partition is not None and (initial_value or end_value):
        raise ConfigurationError("pass partition or initial_value/end_value, not both")
    if write_disposition == "replace" and (partition or initial_value or end_value):
        raise ConfigurationError(
            "write_disposition='replace' loads every customer on every run: pass no"
            " partition, initial_value or end_value with it"
        )
    if not isinstance(margin, timedelta) or margin < timedelta(0):
        raise ConfigurationError(f"margin must be a timedelta >= 0, got {margin!r}")
    if client_factory is not None and not callable(client_factory):
        raise ConfigurationError("client_factory must be a callable returning AsyncVoucherify")
    if client_factory is not None and (app_id or app_token or base_url or client_options):
        raise ConfigurationError(
            "pass client_factory or app_id/app_token/base_url/client_options, not both"
        )
    if client_factory is None:
        if app_id is None:
            app_id = _from_dlt("app_id", secret=False)
        if app_token is None:
            app_token = _from_dlt("app_token", secret=True)
        if base_url is None:
            base_url = _from_dlt("base_url", secret=False)
        # A load is background work: a web process on the same key goes first.
        options = {
            "max_concurrency": concurrency,
            "priority": "background",
            **(client_options or {}),
        }
        # Made here (no session opens until a request) so bad credentials fail now.
        try:
            AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)
        except ConfigurationError as exc:
            if not str(exc).startswith("missing credentials"):
                raise
            raise ConfigurationError(
                f"{exc}; or set sources.voucherify.app_id and sources.voucherify.app_token"
                " in dlt's secrets (SOURCES__VOUCHERIFY__APP_ID, SOURCES__VOUCHERIFY__APP_TOKEN)"
            ) from None

        def client_factory() -> AsyncVoucherify:
            return AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)

    clients = _Clients(client_factory)

    source_hints: dict[str, Any] = {} if contract is None else {"schema_contract": contract}

    @dlt.source(name="voucherify", **source_hints)
    def voucherify() -> list[Any]:
        customers = _customers_resource(
            clients,
            write_disposition=write_disposition,
            margin=margin,
            parallel=parallel,
            partition=partition,
            initial_value=initial_value,
            end_value=end_value,
        )
        return [
            customers,
            _per_customer(
                clients,
                customers,
                "customer_segments",
                ("customer_id", "id"),
                _SEGMENT_COLUMNS,
                _segments,
                _segment_row,
                concurrency,
            ),
            _per_customer(
                clients,
                customers,
                "customer_activity",
                "id",
                _ACTIVITY_COLUMNS,
                _activity,
                _activity_row,
                concurrency,
            ),
            _per_customer(
                clients,
                customers,
                "customer_redeemables",
                ("customer_id", "id"),
                _REDEEMABLE_COLUMNS,
                _redeemables,
                _redeemable_row,
                concurrency,
            ),
            _async_actions_resource(clients),
        ]

    source: DltSource = voucherify().with_resources(*names)
    return source
