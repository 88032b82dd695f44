"""``vf.customers``: every method of the Customers API, one short method per endpoint."""

from __future__ import annotations

import builtins
import io
import os
import warnings
from collections.abc import AsyncIterable, Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
from msgspec.structs import replace

from .._pagination import CursorPaging, LastItemPaging, PageNumberPaging, Pager, PagingWalk
from .._partition import CustomerPartition, find_cuts
from .._query import (
    Query,
    check_choice,
    check_int_range,
    check_str,
    deep_object,
    format_datetime,
    params,
    path_segment,
)
from .._request import FileUpload, Request
from .._scan import CreatedAtPages, CreatedAtWalk, PaginationError, ScanPosition
from ..models import (
    AsyncActionCreated,
    Customer,
    CustomerActivitiesList,
    CustomerActivity,
    CustomerActivityList,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerList,
    CustomerMetadataBulkUpdate,
    CustomerOrder,
    CustomerPermanentDeletion,
    CustomerRedeemable,
    CustomerRedeemableList,
    CustomerSegmentList,
    CustomerUpdate,
)
from ._base import Resource, build_body

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..models import CustomerFields, CustomerIdentityFields

__all__ = ["BULK_BODY_LIMIT", "Customers"]

#: The API's limit on the body of the bulk and CSV endpoints, in bytes (10 MB).
BULK_BODY_LIMIT = 10 * 1024 * 1024

ACTIVITY_ORDERS = frozenset({"created_at", "-created_at"})
ACTIVITIES_ORDERS = frozenset(
    {
        "created_at", "-created_at", "updated_at", "-updated_at", "type", "-type",
        "code", "-code", "campaign", "-campaign", "category", "-category",
    }
)
REDEEMABLE_ORDERS = frozenset({"id", "-id"})

CsvSource = str | os.PathLike[str] | bytes | BinaryIO | AsyncIterable[bytes]


def _limit(limit: int | None) -> int | None:
    return None if limit is None else check_int_range(limit, "limit", 1, 100)


def _order(order: str | None, allowed: frozenset[str]) -> str | None:
    return None if order is None else check_choice(order, "order", sorted(allowed))


def _dates(**values: datetime | None) -> None:
    for name, value in values.items():
        if value is not None:
            format_datetime(value, name)


def _strings(**values: str | None) -> None:
    for name, value in values.items():
        if value is not None:
            check_str(value, name)


def _check_size(body: bytes, method: str) -> bytes:
    if len(body) > BULK_BODY_LIMIT:
        raise ValueError(
            f"{method}() body is {len(body):,} bytes, over the API's limit of"
            f" {BULK_BODY_LIMIT:,} bytes (10 MB); send the customers in smaller batches"
        )
    return body


def _next_cursor(page: CustomerActivityList | CustomerRedeemableList) -> str | None:
    # The spec makes `more_starting_after` optional; it is the last item's id, so fall back to
    # that rather than stop while the page says there is more.
    if not page.has_more:
        return None
    if page.more_starting_after:
        return page.more_starting_after
    return page.data[-1].id if page.data else None


def _customer_key(customer: Customer) -> tuple[datetime | None, str]:
    return customer.created_at, customer.id


def _id(item: CustomerActivity | CustomerRedeemable) -> str:
    return item.id


def _with_data(page: Any, kept: builtins.list[Any]) -> Any:
    return replace(page, data=kept)


def _resume_cursor(position: ScanPosition, order: str | None) -> str:
    # One millisecond back from the boundary in scan order, as the walk itself would ask.
    assert position.boundary is not None
    step = timedelta(milliseconds=1 if order != CustomerOrder.CREATED_AT else -1)
    return format_datetime(position.boundary + step, "resume_from")


class Customers(Resource):
    """The Customers API. Every ``customer_id`` is a Voucherify id (``cust_...``) or a source id.

    Example:
        >>> async with AsyncVoucherify() as vf:
        ...     bob = await vf.customers.create(source_id="bob", name="Bob Smith")
        ...     bob = await vf.customers.update("bob", phone=None)   # sent as null
        ...     async for customer in vf.customers.list(city="Warsaw"):
        ...         print(customer.id)
    """

    def _path(self, customer_id: object, suffix: str = "") -> str:
        return f"/v1/customers/{path_segment(customer_id, 'customer_id')}{suffix}"

    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any] | None = None,
        /,
        **fields: Unpack[CustomerIdentityFields],
    ) -> Customer:
        """Create a customer, or update the one with the same ``id`` or ``source_id`` (upsert).

        Pass a :class:`~voucherify_async.models.CustomerCreate` or keyword arguments: ``id``,
        ``source_id``, ``name``, ``description``, ``email``, ``phone``, ``birthdate``,
        ``birthday``, ``address``, ``metadata``. Safe to retry: it is an upsert.

        Example:
            >>> await vf.customers.create(source_id="bob", email="bob@example.com")
        """
        body = build_body(CustomerCreate, customer, fields, method="create", argument="customer")
        return await self._transport.request(
            Request("POST", "/v1/customers", Customer, json=msgspec.json.encode(body))
        )

    async def get(self, customer_id: str) -> Customer:
        """Return the customer with this id or source id.

        Raises:
            NotFoundError: no such customer.
        """
        return await self._transport.request(Request("GET", self._path(customer_id), Customer))

    async def update(
        self,
        customer_id: str,
        changes: CustomerUpdate | Mapping[str, Any] | None = None,
        /,
        **fields: Unpack[CustomerFields],
    ) -> Customer:
        """Change the fields given, and only those; a field given as ``None`` is set to null.

        Example:
            >>> await vf.customers.update("bob", name="Robert", phone=None)
        """
        path = self._path(customer_id)
        body = build_body(CustomerUpdate, changes, fields, method="update", argument="changes")
        return await self._transport.request(
            Request("PUT", path, Customer, json=msgspec.json.encode(body))
        )

    async def delete(self, customer_id: str) -> None:
        """Delete a customer.

        Raises:
            NotFoundError: no such customer.
        """
        await self._transport.request(Request("DELETE", self._path(customer_id), type(None)))

    async def delete_permanently(self, customer_id: str) -> CustomerPermanentDeletion:
        """Delete a customer and every record connected to it, for good.

        Not retried once it may have reached the server: it cannot be repeated safely.
        """
        return await self._transport.request(
            Request(
                "POST",
                self._path(customer_id, "/permanent-deletion"),
                CustomerPermanentDeletion,
                retry_safe=False,
            )
        )

    def list(
        self,
        *,
        limit: int | None = None,
        page: int | None = None,
        email: str | None = None,
        city: str | None = None,
        name: str | None = None,
        segment_id: str | None = None,
        created_at_before: datetime | None = None,
        created_at_after: datetime | None = None,
        updated_at_before: datetime | None = None,
        updated_at_after: datetime | None = None,
        order: str | None = None,
        starting_after: datetime | None = None,
        resume_from: str | None = None,
        prefetch: bool = True,
    ) -> Pager[CustomerList, Customer]:
        """List customers: await it for one page, ``async for`` it for every customer.

        Args:
            limit: customers per page, 1..100 (the API's default is 10).
            page: the page to start at, 1..99.
            email, city, name, segment_id: keep only customers that match.
            created_at_before, created_at_after, updated_at_before, updated_at_after:
                aware datetimes bounding the creation or update time.
            order: one of ``created_at``, ``-created_at`` (the default), ``updated_at``,
                ``-updated_at``, ``source_id``, ``-source_id``.
            starting_after: a ``created_at`` cursor: customers created before it (descending
                orders) or after it (ascending orders).
            resume_from: a ``pager.position`` token from an earlier scan with the same
                filters: the scan goes on after the last customer that one yielded.
            prefetch: fetch the next page while the caller works on this one (default).

        Iterating yields every matching customer exactly once, past the API's page 99: with
        the ``created_at`` orders (and the default) the pager moves on with the
        ``starting_after`` cursor and copes with customers sharing a millisecond, whether the
        server treats the cursor as exclusive or inclusive. Iteration asks for 100 customers
        a page unless ``limit`` says otherwise. Other orders can only page up to page 99 and
        raise :class:`~voucherify_async.PaginationError` if there is more.

        Raises:
            ValueError: ``limit``, ``page`` or ``order`` out of range, a naive datetime, or a
                bad ``resume_from``, before any request is sent.
        """
        _limit(limit)
        if page is not None:
            check_int_range(page, "page", 1, 99)
        _order(order, CustomerOrder.ALL)
        _strings(email=email, city=city, name=name, segment_id=segment_id)
        _dates(
            created_at_before=created_at_before, created_at_after=created_at_after,
            updated_at_before=updated_at_before, updated_at_after=updated_at_after,
            starting_after=starting_after,
        )
        by_created_at = order in (None, CustomerOrder.CREATED_AT, CustomerOrder.CREATED_AT_DESC)
        position = None
        if resume_from is not None:
            position = ScanPosition.loads(resume_from)
            if not by_created_at:
                raise ValueError("resume_from works with the created_at orders only")
            if page is not None or starting_after is not None:
                raise ValueError("resume_from cannot be combined with page or starting_after")
        filters = params(
            [
                ("email", "email", email),
                ("city", "city", city),
                ("name", "name", name),
                ("segment_id", "segment_id", segment_id),
                ("created_at[before]", "created_at_before", created_at_before),
                ("created_at[after]", "created_at_after", created_at_after),
                ("updated_at[before]", "updated_at_before", updated_at_before),
                ("updated_at[after]", "updated_at_after", updated_at_after),
                ("order", "order", order),
            ]
        )
        cursor = params([("starting_after", "starting_after", starting_after)])
        one_page = params([("limit", "limit", limit), ("page", "page", page)]) + filters + cursor
        if position is not None and position.boundary is not None:
            one_page = [("limit", str(limit or 10)), *filters]
            one_page.append(("starting_after", _resume_cursor(position, order)))
        page_size = limit or 100

        def walk(_: Query) -> CreatedAtPages[CustomerList, Customer] | PagingWalk[
            CustomerList, Customer
        ]:
            base = [("limit", str(page_size)), *filters]
            if by_created_at:
                return CreatedAtPages(
                    CreatedAtWalk(
                        base,
                        descending=order != CustomerOrder.CREATED_AT,
                        limit=page_size,
                        key=_customer_key,
                        start=position,
                        starting_after=cursor[0][1] if cursor else None,
                        first_page=page or 1,
                    ),
                    items=lambda p: p.customers,
                    has_more=lambda p: p.has_more,
                    rebuild=lambda p, kept: replace(p, customers=kept),
                    key=_customer_key,
                )
            first = base + ([("page", str(page))] if page else []) + cursor
            paging: PageNumberPaging[CustomerList, Customer] = PageNumberPaging(
                lambda p: p.customers,
                lambda p: p.has_more,
                past_last_page=lambda n: PaginationError(
                    f"order={order!r} cannot be listed past page {n}: the API's only cursor"
                    " is on created_at; order by created_at or narrow the filters"
                ),
            )
            return PagingWalk(first, paging)

        async def fetch(q: Query) -> CustomerList:
            return await self._transport.request(
                Request("GET", "/v1/customers", CustomerList, query=q)
            )

        return Pager(fetch, one_page, walk, prefetch=prefetch)

    async def partition(
        self,
        parts: int,
        *,
        email: str | None = None,
        city: str | None = None,
        name: str | None = None,
        segment_id: str | None = None,
        created_at_after: datetime | None = None,
        created_at_before: datetime | None = None,
        updated_at_after: datetime | None = None,
        updated_at_before: datetime | None = None,
    ) -> builtins.list[CustomerPartition]:
        """Split the matching customers into ``parts`` disjoint ``created_at`` windows.

        Windows hold roughly equal numbers of customers (customers sharing a millisecond stay
        together), found from the list's ``total`` in a few requests per cut. Stream each with
        ``partition.stream(vf)`` (or ``vf.customers.list(**partition.list_arguments())``) in
        any task, process or machine: together they yield every customer exactly once.

        Example:
            >>> parts = await vf.customers.partition(4, city="Warsaw")
            >>> async with anyio.create_task_group() as tg:
            ...     for part in parts:
            ...         tg.start_soon(work_on, part)
        """
        check_int_range(parts, "parts", 1, 10_000)
        _strings(email=email, city=city, name=name, segment_id=segment_id)
        _dates(
            created_at_after=created_at_after, created_at_before=created_at_before,
            updated_at_after=updated_at_after, updated_at_before=updated_at_before,
        )
        filters: dict[str, Any] = {
            key: value
            for key, value in (
                ("email", email), ("city", city), ("name", name), ("segment_id", segment_id),
                ("updated_at_after", updated_at_after), ("updated_at_before", updated_at_before),
            )
            if value is not None
        }
        bounds: dict[str, Any] = {
            "created_at_after": created_at_after, "created_at_before": created_at_before
        }

        async def first(order: str) -> CustomerList:
            return await self.list(limit=1, order=order, **filters, **bounds)

        async def count_before(moment: datetime) -> int:
            before = moment if created_at_before is None else min(moment, created_at_before)
            page = await self.list(
                limit=1, **filters, created_at_after=created_at_after, created_at_before=before
            )
            return page.total or 0

        oldest = await first(CustomerOrder.CREATED_AT)
        total = oldest.total or 0
        start = None if created_at_after is None else created_at_after + timedelta(milliseconds=1)
        end = created_at_before
        if parts == 1 or total <= 1 or not oldest.customers:
            return [CustomerPartition(index=0, count=total, start=start, end=end, filters=filters)]
        newest = await first(CustomerOrder.CREATED_AT_DESC)
        low, high = oldest.customers[0].created_at, newest.customers[0].created_at
        if low is None or high is None:
            raise PaginationError("customers without created_at cannot be partitioned")
        cuts = await find_cuts(parts, total, low, high, count_before)
        edges = [(start, 0), *cuts, (end, total)]
        return [
            CustomerPartition(
                index=index, count=edges[index + 1][1] - edges[index][1],
                start=edges[index][0], end=edges[index + 1][0], filters=filters,
            )
            for index in range(len(edges) - 1)
        ]

    def list_activity(
        self,
        customer_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        starting_after_id: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        campaign_id: str | None = None,
        campaign_type: str | None = None,
        category: str | None = None,
        type: str | None = None,
        prefetch: bool = True,
    ) -> Pager[CustomerActivityList, CustomerActivity]:
        """List a customer's activity (events), following the ``starting_after_id`` cursor.

        Args:
            limit: events per page, 1..100.
            order: ``created_at`` or ``-created_at``.
            starting_after_id: start after the event with this id.
            start_date, end_date: aware datetimes bounding the events.
            campaign_id, campaign_type, category, type: keep only matching events
                (``type`` is an event name such as ``customer.created``).
        """
        path = self._path(customer_id, "/activity")
        _limit(limit)
        _order(order, ACTIVITY_ORDERS)
        _dates(start_date=start_date, end_date=end_date)
        _strings(
            starting_after_id=starting_after_id, campaign_id=campaign_id,
            campaign_type=campaign_type, category=category, type=type,
        )
        query = params(
            [
                ("limit", "limit", limit),
                ("order", "order", order),
                ("starting_after_id", "starting_after_id", starting_after_id),
                ("start_date", "start_date", start_date),
                ("end_date", "end_date", end_date),
                ("campaign_id", "campaign_id", campaign_id),
                ("campaign_type", "campaign_type", campaign_type),
                ("category", "category", category),
                ("type", "type", type),
            ]
        )

        async def fetch(q: Query) -> CustomerActivityList:
            return await self._transport.request(
                Request("GET", path, CustomerActivityList, query=q)
            )

        paging: CursorPaging[CustomerActivityList, CustomerActivity] = CursorPaging(
            lambda page: page.data, _next_cursor
        )
        return Pager(
            fetch, query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
        )

    def list_activities(
        self,
        customer_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        starting_after: datetime | None = None,
        starting_after_id: str | None = None,
        campaign_type: str | None = None,
        campaign_id: str | None = None,
        product_id: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        prefetch: bool = True,
    ) -> Pager[CustomerActivitiesList, CustomerActivity]:
        """Deprecated by the API: use :meth:`list_activity`.

        Lists a customer's activities through ``GET /v1/customers/{id}/activities``, following
        the last event's id as the ``starting_after_id`` cursor. Warns ``DeprecationWarning``.
        """
        warnings.warn(
            "customers.list_activities() uses an endpoint the API has deprecated;"
            " use customers.list_activity()",
            DeprecationWarning,
            stacklevel=2,
        )
        path = self._path(customer_id, "/activities")
        _limit(limit)
        _order(order, ACTIVITIES_ORDERS)
        _dates(starting_after=starting_after, start_date=start_date, end_date=end_date)
        _strings(
            starting_after_id=starting_after_id, campaign_type=campaign_type,
            campaign_id=campaign_id, product_id=product_id,
        )
        query = params(
            [
                ("limit", "limit", limit),
                ("order", "order", order),
                ("starting_after", "starting_after", starting_after),
                ("starting_after_id", "starting_after_id", starting_after_id),
                ("campaign_type", "campaign_type", campaign_type),
                ("campaign_id", "campaign_id", campaign_id),
                ("product_id", "product_id", product_id),
                ("start_date", "start_date", start_date),
                ("end_date", "end_date", end_date),
            ]
        )

        async def fetch(q: Query) -> CustomerActivitiesList:
            return await self._transport.request(
                Request("GET", path, CustomerActivitiesList, query=q)
            )

        paging: LastItemPaging[CustomerActivitiesList, CustomerActivity] = LastItemPaging(
            lambda page: page.data, lambda item: item.id, param="starting_after_id"
        )
        return Pager(
            fetch, query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
        )

    def list_redeemables(
        self,
        customer_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        starting_after_id: str | None = None,
        filters: Mapping[str, Any] | None = None,
        prefetch: bool = True,
    ) -> Pager[CustomerRedeemableList, CustomerRedeemable]:
        """List the redeemables (vouchers) a customer holds, following the cursor.

        Args:
            limit: redeemables per page, 1..100.
            order: ``id`` or ``-id``.
            starting_after_id: start after the redeemable with this id.
            filters: the API's filter object, sent as a deep object, e.g.
                ``{"holder_role": {"conditions": {"$in": ["OWNER"]}}}``.
        """
        path = self._path(customer_id, "/redeemables")
        _limit(limit)
        _order(order, REDEEMABLE_ORDERS)
        _strings(starting_after_id=starting_after_id)
        query = params(
            [
                ("limit", "limit", limit),
                ("order", "order", order),
                ("starting_after_id", "starting_after_id", starting_after_id),
            ]
        )
        if filters is not None:
            query += deep_object("filters", filters)

        async def fetch(q: Query) -> CustomerRedeemableList:
            return await self._transport.request(
                Request("GET", path, CustomerRedeemableList, query=q)
            )

        paging: CursorPaging[CustomerRedeemableList, CustomerRedeemable] = CursorPaging(
            lambda page: page.data, _next_cursor
        )
        return Pager(
            fetch, query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
        )

    async def list_segments(self, customer_id: str) -> CustomerSegmentList:
        """Return the segments the customer belongs to."""
        return await self._transport.request(
            Request("GET", self._path(customer_id, "/segments"), CustomerSegmentList)
        )

    async def import_csv(
        self, file: CsvSource, *, filename: str | None = None
    ) -> AsyncActionCreated:
        """Import or update customers from a CSV file; returns the async action doing it.

        ``file`` is a path, the CSV as bytes, a binary file object or an async iterable of
        bytes; files are streamed, not read into memory. The first line is the header
        (``Id, Name, Email, Phone, Birthdate, Source_id, Address_line_1, ...``; other columns
        become metadata). Not retried once it may have reached the server.
        """
        source: bytes | Path | BinaryIO | AsyncIterable[bytes]
        if isinstance(file, (str, os.PathLike)):
            path = Path(file)
            if not path.is_file():  # noqa: ASYNC240 (one stat, before any I/O is awaited)
                raise FileNotFoundError(f"import_csv(): file {str(path)!r} does not exist")
            source, default_name = path, path.name
        elif isinstance(file, (bytes, bytearray, memoryview)):
            source, default_name = bytes(file), "customers.csv"
        elif isinstance(file, io.TextIOBase):
            raise TypeError("import_csv(): open the file in binary mode ('rb'), not text mode")
        elif hasattr(file, "read"):
            source = file
            default_name = Path(str(getattr(file, "name", "customers.csv"))).name
        elif isinstance(file, AsyncIterable):
            source, default_name = file, "customers.csv"
        else:
            raise TypeError(
                "import_csv(): file must be a path, bytes, a binary file object or an async"
                f" iterable of bytes, got {type(file).__name__}"
            )
        size = len(source) if isinstance(source, bytes) else None
        if isinstance(source, Path):
            size = source.stat().st_size
        if size is not None and size > BULK_BODY_LIMIT:
            raise ValueError(
                f"import_csv() file is {size:,} bytes, over the API's limit of"
                f" {BULK_BODY_LIMIT:,} bytes (10 MB); split it into smaller files"
            )
        upload = FileUpload("file", filename or default_name, source)
        return await self._transport.request(
            Request(
                "POST", "/v1/customers/importCSV", AsyncActionCreated,
                upload=upload, retry_safe=False,
            )
        )

    async def update_in_bulk(
        self, customers: Iterable[CustomerBulkUpdate | Mapping[str, Any]]
    ) -> AsyncActionCreated:
        """Update (or create) many customers by ``source_id`` in one async action.

        Each item is a :class:`~voucherify_async.models.CustomerBulkUpdate` or a mapping with
        a ``source_id`` and the fields to change. Not retried once it may have reached the
        server.

        Raises:
            TypeError: an item is not a customer update; the message names its index.
            ValueError: no customers, or a body over the API's 10 MB limit.
        """
        if isinstance(customers, (str, bytes, Mapping)) or not isinstance(customers, Iterable):
            raise TypeError("update_in_bulk() customers must be an iterable of customer updates")
        items: builtins.list[CustomerBulkUpdate] = []
        for index, item in enumerate(customers):
            if not isinstance(item, (CustomerBulkUpdate, Mapping)):
                raise TypeError(
                    f"update_in_bulk() customers[{index}] must be a CustomerBulkUpdate or a"
                    f" mapping, got {type(item).__name__}"
                )
            items.append(
                build_body(
                    CustomerBulkUpdate, item, {},
                    method="update_in_bulk", argument=f"customers[{index}]",
                )
            )
        if not items:
            raise ValueError("update_in_bulk() needs at least one customer")
        body = _check_size(msgspec.json.encode(items), "update_in_bulk")
        return await self._transport.request(
            Request(
                "POST", "/v1/customers/bulk/async", AsyncActionCreated,
                json=body, retry_safe=False,
            )
        )

    async def update_metadata_in_bulk(
        self, source_ids: Iterable[str], metadata: Mapping[str, Any]
    ) -> AsyncActionCreated:
        """Set the same metadata on every customer in ``source_ids``, in one async action.

        Not retried once it may have reached the server.
        """
        if isinstance(source_ids, (str, bytes)) or not isinstance(source_ids, Iterable):
            raise TypeError("update_metadata_in_bulk() source_ids must be an iterable of str")
        ids = builtins.list(source_ids)
        for index, source_id in enumerate(ids):
            check_str(source_id, f"source_ids[{index}]")
        if not ids:
            raise ValueError("update_metadata_in_bulk() needs at least one source id")
        if not isinstance(metadata, Mapping):
            raise TypeError(
                f"update_metadata_in_bulk() metadata must be a mapping, got"
                f" {type(metadata).__name__}"
            )
        request = CustomerMetadataBulkUpdate(source_ids=ids, metadata=dict(metadata))
        body = msgspec.json.encode(request)
        return await self._transport.request(
            Request(
                "POST", "/v1/customers/metadata/async", AsyncActionCreated,
                json=_check_size(body, "update_metadata_in_bulk"), retry_safe=False,
            )
        )
