"""The dlt source: customers (incremental, merged on ``id``) and what hangs off them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import dlt
import msgspec
from dlt.extract.source import DltSource

from .._client import AsyncVoucherify
from .._exceptions import ConfigurationError
from ..models import AsyncAction, Customer, CustomerActivity, CustomerRedeemable, Segment
from ..resources._concurrency import fan_out
from ..resources._partition import CustomerPartition
from ._columns import columns_from_struct

__all__ = [
    "DEFAULT_MARGIN",
    "RESOURCES",
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

_MS = timedelta(milliseconds=1)
_BATCH = 500
_BUILTIN = (datetime, date)

_CUSTOMER_COLUMNS: dict[str, Any] = {
    **columns_from_struct(Customer, not_null=("id",)),
    # updated_at, or created_at for a customer never updated: the incremental cursor.
    "changed_at": {"data_type": "timestamp", "nullable": False},
}


def _with_customer_id(columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"customer_id": {"data_type": "text", "nullable": False}, **columns}


_SEGMENT_COLUMNS = _with_customer_id(columns_from_struct(Segment, not_null=("id",)))
_ACTIVITY_COLUMNS = _with_customer_id(columns_from_struct(CustomerActivity, not_null=("id",)))
_REDEEMABLE_COLUMNS = _with_customer_id(columns_from_struct(CustomerRedeemable, not_null=("id",)))
_ACTION_COLUMNS: dict[str, Any] = columns_from_struct(AsyncAction, not_null=("id",))


def customer_row(customer: Customer) -> dict[str, Any]:
    """The row a customer is loaded as: its fields, dates kept, plus ``changed_at``.

    Args:
        customer: a customer from the client.

    Returns:
        A dict that dlt flattens into the typed ``customers`` columns.
    """
    row: dict[str, Any] = msgspec.to_builtins(customer, builtin_types=_BUILTIN)
    row["changed_at"] = customer.updated_at or customer.created_at
    return row


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


async def _batches(customers: AsyncIterator[Customer]) -> AsyncIterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    async for customer in customers:
        batch.append(customer_row(customer))
        if len(batch) >= _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


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


def _customers_resource(
    clients: _Clients,
    *,
    margin: timedelta,
    parallel: int | str,
    partition: CustomerPartition | None,
    initial_value: datetime | None,
    end_value: datetime | None,
) -> Any:
    hints: dict[str, Any] = {
        "name": "customers",
        "primary_key": "id",
        "write_disposition": "merge",
        "columns": _CUSTOMER_COLUMNS,
    }
    if partition is not None:

        @dlt.resource(**hints)
        async def customers_window() -> AsyncIterator[list[dict[str, Any]]]:
            async with clients.use() as client:
                async for batch in _batches(partition.stream(client)):
                    yield batch

        return customers_window

    cursor = dlt.sources.incremental(
        "changed_at",
        initial_value=initial_value,
        end_value=end_value,
        lag=margin.total_seconds(),
        range_start="closed",
        range_end="open",
    )

    @dlt.resource(**hints)
    async def customers(
        changed_at: dlt.sources.incremental[datetime] = cursor,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        start: datetime | None = changed_at.start_value
        end: datetime | None = changed_at.end_value
        async with clients.use() as client:
            if start is None and end is None:
                # Disjoint created_at windows read at once (one stream: in order).
                stream = aiter(client.customers.list(parallel=None if parallel == 1 else parallel))
            else:
                low = start or datetime(1970, 1, 1, tzinfo=timezone.utc)
                stream = _changed(client, low, end)
            async for batch in _batches(stream):
                yield batch

    return customers


def _per_customer(
    clients: _Clients,
    parent: Any,
    name: str,
    primary_key: str | tuple[str, ...],
    columns: dict[str, Any],
    fetch: Callable[[AsyncVoucherify, str], Any],
    concurrency: int,
) -> Any:
    @dlt.transformer(
        data_from=parent,
        name=name,
        primary_key=primary_key,
        write_disposition="merge",
        columns=columns,
    )
    async def per_customer(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with clients.use() as client:

            async def one(customer_id: str) -> list[dict[str, Any]]:
                rows: list[dict[str, Any]] = []
                for item in await fetch(client, customer_id):
                    row = msgspec.to_builtins(item, builtin_types=_BUILTIN)
                    row["customer_id"] = customer_id
                    rows.append(row)
                return rows

            ids = [customer["id"] for customer in customers]
            found = await fan_out(one, ids, concurrency=concurrency)
        return [row for rows in found for row in rows]

    return per_customer


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
                batch.append(msgspec.to_builtins(action, builtin_types=_BUILTIN))
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


def voucherify_source(
    *,
    app_id: str | None = None,
    app_token: str | None = None,
    base_url: str | None = None,
    resources: Iterable[str] | str = ("customers",),
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

    Args:
        app_id: the application id; defaults to ``$VOUCHERIFY_APP_ID``.
        app_token: the secret key; defaults to ``$VOUCHERIFY_APP_TOKEN``.
        base_url: the API host; defaults to ``$VOUCHERIFY_BASE_URL``, then the EU cluster.
        resources: which of ``customers``, ``customer_segments``, ``customer_activity``,
            ``customer_redeemables``, ``async_actions`` to load (default: ``customers``).
            The per-customer resources follow the customers the run loads.
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
            ``max_retries``, ...).
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
    if not isinstance(margin, timedelta) or margin < timedelta(0):
        raise ConfigurationError(f"margin must be a timedelta >= 0, got {margin!r}")
    if client_factory is not None and not callable(client_factory):
        raise ConfigurationError("client_factory must be a callable returning AsyncVoucherify")
    if client_factory is not None and (app_id or app_token or base_url or client_options):
        raise ConfigurationError(
            "pass client_factory or app_id/app_token/base_url/client_options, not both"
        )
    if client_factory is None:
        options = {"max_concurrency": concurrency, **(client_options or {})}
        # Made here (no session opens until a request) so bad credentials fail now.
        AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)

        def client_factory() -> AsyncVoucherify:
            return AsyncVoucherify(app_id=app_id, app_token=app_token, base_url=base_url, **options)

    clients = _Clients(client_factory)

    @dlt.source(name="voucherify")
    def voucherify() -> list[Any]:
        customers = _customers_resource(
            clients,
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
                concurrency,
            ),
            _per_customer(
                clients,
                customers,
                "customer_activity",
                "id",
                _ACTIVITY_COLUMNS,
                _activity,
                concurrency,
            ),
            _per_customer(
                clients,
                customers,
                "customer_redeemables",
                ("customer_id", "id"),
                _REDEEMABLE_COLUMNS,
                _redeemables,
                concurrency,
            ),
            _async_actions_resource(clients),
        ]

    source: DltSource = voucherify().with_resources(*names)
    return source
