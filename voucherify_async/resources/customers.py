"""``vf.customers``: every method of the Customers API, one short method per endpoint."""

from __future__ import annotations

import builtins
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

import msgspec
from msgspec.structs import replace

from .._chunking import BULK_BODY_LIMIT, ChunkTooLargeError, chunk_ranges, json_array
from .._csvimport import CsvInput, CsvSource
from .._csvimport import import_csv as upload_csv
from .._csvio import DEFAULT_PART_BYTES
from .._exceptions import NotFoundError
from .._fanout import DEFAULT_CONCURRENCY, check_concurrency, fan_out
from .._jobs import AsyncJob, submit_in_parts
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
from .._retry import create_is_retry_safe
from .._scan import CreatedAtPages, CreatedAtWalk, PaginationError, ScanPosition
from ..models import (
    AsyncAction,
    AsyncActionCreated,
    Customer,
    CustomerActivitiesList,
    CustomerActivity,
    CustomerActivityList,
    CustomerBulkUpdate,
    CustomerCreate,
    CustomerList,
    CustomerListOrder,
    CustomerMetadataBulkUpdate,
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

__all__ = ["BULK_BODY_LIMIT", "CsvInput", "CsvSource", "Customers"]

ACTIVITY_ORDERS = frozenset({"created_at", "-created_at"})
ACTIVITIES_ORDERS = frozenset(
    {
        "created_at", "-created_at", "updated_at", "-updated_at", "type", "-type",
        "code", "-code", "campaign", "-campaign", "category", "-category",
    }
)
REDEEMABLE_ORDERS = frozenset({"id", "-id"})

# What an error says when a request that is not sent twice may have been carried out.
_KEYLESS_CREATE_NOTE = (
    "the customer may have been created: a create without id or source_id is not sent"
    " again, as each arrival makes another customer; look it up with"
    " vf.customers.list(email=...) before creating it again, or give it a source_id so"
    " that a retry updates it instead"
)
_JOB_NOTE = (
    "the job may have been started: it is not sent again, as each arrival starts another"
    " one; look for it in vf.async_actions.list() before sending it again"
)
_PERMANENT_DELETION_NOTE = (
    "the permanent deletion may have been requested: it is not sent again; check with"
    " vf.customers.get(customer_id) before asking again"
)


def _create_request(body: CustomerCreate) -> Request[Customer]:
    """``POST /v1/customers``: retried after it may have arrived only if it names its customer."""
    safe = create_is_retry_safe(body.id, body.source_id)
    return Request(
        "POST", "/v1/customers", Customer, json=msgspec.json.encode(body),
        retry_safe=safe, unsure_note=None if safe else _KEYLESS_CREATE_NOTE,
    )


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
    step = timedelta(milliseconds=1 if order != CustomerListOrder.CREATED_AT else -1)
    return format_datetime(position.boundary + step, "resume_from")


class Customers(Resource):
    """The Customers API. Every ``customer_id`` is a Voucherify id (``cust_...``) or a source id.

    Examples:
        ```python
        async with AsyncVoucherify() as vf:
            bob = await vf.customers.create(source_id="bob", name="Bob Smith")
            bob = await vf.customers.update("bob", phone=None)   # sent as null
            async for customer in vf.customers.list(city="Warsaw"):
                print(customer.id)
        ```
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

        Pass a `CustomerCreate` or keyword arguments: ``id``,
        ``source_id``, ``name``, ``description``, ``email``, ``phone``, ``birthdate``,
        ``birthday``, ``address``, ``metadata``.

        With an ``id`` or ``source_id`` it is an upsert and is retried like a read. Without
        either, every arrival creates another customer, so once the request may have
        reached the API it is not sent again: the error then has ``maybe_applied`` set and
        says how to check.

        Examples:
            ```python
            await vf.customers.create(source_id="bob", email="bob@example.com")
            ```
        """
        body = build_body(CustomerCreate, customer, fields, method="create", argument="customer")
        return await self._transport.request(_create_request(body))

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

        Examples:
            ```python
            await vf.customers.update("bob", name="Robert", phone=None)
            ```
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
                unsure_note=_PERMANENT_DELETION_NOTE,
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
            email: keep only customers with this email address.
            city: keep only customers whose address is in this city.
            name: keep only customers with this name.
            segment_id: keep only customers in this segment (``seg_...``).
            created_at_before: keep customers created before this aware datetime.
            created_at_after: keep customers created after this aware datetime.
            updated_at_before: keep customers last updated before this aware datetime.
            updated_at_after: keep customers last updated after this aware datetime.
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
        raise `PaginationError` if there is more.

        Raises:
            ValueError: ``limit``, ``page`` or ``order`` out of range, a naive datetime, or a
                bad ``resume_from``, before any request is sent.
        """
        _limit(limit)
        if page is not None:
            check_int_range(page, "page", 1, 99)
        _order(order, CustomerListOrder.ALL)
        _strings(email=email, city=city, name=name, segment_id=segment_id)
        _dates(
            created_at_before=created_at_before, created_at_after=created_at_after,
            updated_at_before=updated_at_before, updated_at_after=updated_at_after,
            starting_after=starting_after,
        )
        by_created_at = order in (
            None, CustomerListOrder.CREATED_AT, CustomerListOrder.CREATED_AT_DESC
        )
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
                        descending=order != CustomerListOrder.CREATED_AT,
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

        fetch = self._page_getter("/v1/customers", CustomerList)
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

        Examples:
            ```python
            parts = await vf.customers.partition(4, city="Warsaw")
            async with anyio.create_task_group() as tg:
                for part in parts:
                    tg.start_soon(work_on, part)
            ```
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

        oldest = await first(CustomerListOrder.CREATED_AT)
        total = oldest.total or 0
        start = None if created_at_after is None else created_at_after + timedelta(milliseconds=1)
        end = created_at_before
        if parts == 1 or total <= 1 or not oldest.customers:
            return [CustomerPartition(index=0, count=total, start=start, end=end, filters=filters)]
        newest = await first(CustomerListOrder.CREATED_AT_DESC)
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
            start_date: keep events from this aware datetime on.
            end_date: keep events up to this aware datetime.
            campaign_id: keep only events of this campaign.
            campaign_type: keep only events of campaigns of this type.
            category: keep only events of this category.
            type: keep only events of this name, such as ``customer.created``.
            prefetch: fetch the next page while the caller works on this one (default).
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

        fetch = self._page_getter(path, CustomerActivityList)
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
        """Deprecated by the API: use `list_activity()`.

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

        fetch = self._page_getter(path, CustomerActivitiesList)
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

        fetch = self._page_getter(path, CustomerRedeemableList)
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

    # -- fan-out -------------------------------------------------------------------------

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer | None]: ...

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception | None]: ...

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer | None] | builtins.list[Customer | Exception | None]: ...

    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        missing_ok: bool = True,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer | None] | builtins.list[Customer | Exception | None]:
        """Look up many customers at once, ``concurrency`` at a time, in the order asked.

        Args:
            customer_ids: ids or source ids; each distinct one is looked up once.
            concurrency: the most lookups in flight at once for this call (the client's
                ``max_concurrency`` still bounds all its requests).
            missing_ok: ``True`` (the default): a customer that does not exist is ``None``.
                ``False``: it is a `NotFoundError`.
            return_exceptions: ``False`` (the default): the first error cancels the lookups
                in flight and is raised. ``True``: an id whose lookup failed gets its
                exception in its place and the others go on.

        Raises:
            TypeError, ValueError: an id is not a non-empty str (the message names its
                index), before any request is sent.

        Examples:
            ```python
            customers = await vf.customers.get_many(["bob", "alice", "nobody"])
            [c.id if c else None for c in customers]
            # ['cust_1', 'cust_2', None]
            ```
        """
        ids = _list_of_str(customer_ids, "get_many", "customer_ids")
        check_concurrency(concurrency)

        async def lookup(customer_id: str) -> Customer | None:
            try:
                return await self.get(customer_id)
            except NotFoundError:
                if missing_ok:
                    return None
                raise

        unique = builtins.list(dict.fromkeys(ids))
        found = await fan_out(
            lookup, unique, concurrency=concurrency, return_exceptions=return_exceptions
        )
        by_id = dict(zip(unique, found, strict=True))
        return [by_id[customer_id] for customer_id in ids]

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer]: ...

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception]: ...

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]: ...

    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]:
        """Create (or upsert) many customers at once, one request each, in the order given.

        Each is retried as `create` would be: an item without ``id`` or ``source_id`` is not
        sent again once it may have reached the API.

        Every item is checked before anything is sent. For thousands of customers where
        the answers are not needed at once, `update_in_bulk()` takes fewer requests.

        Args:
            customers: `CustomerCreate` models or mappings.
            concurrency: the most requests in flight at once for this call.
            return_exceptions: ``False`` (the default): the first error cancels the rest and
                is raised. ``True``: a failed item gets its exception in its place.

        Examples:
            ```python
            created = await vf.customers.create_many(
                [{"source_id": "bob"}, {"source_id": "alice", "name": "Alice"}]
            )
            ```
        """
        items = _items(customers, "create_many", "customers")
        check_concurrency(concurrency)
        requests = [
            _create_request(
                build_body(
                    CustomerCreate, item, {}, method="create_many", argument=f"customers[{i}]"
                )
            )
            for i, item in enumerate(items)
        ]
        return await fan_out(
            self._transport.request,
            requests,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer]: ...

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception]: ...

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]: ...

    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]:
        """Update many customers at once (``PUT`` each), in the order given.

        Args:
            changes: ``{customer_id: changes}`` or ``(customer_id, changes)`` pairs, each
                ``changes`` a `CustomerUpdate` or a mapping
                of the fields to change (``None`` sends null).
            concurrency: the most requests in flight at once for this call.
            return_exceptions: ``False`` (the default): the first error cancels the rest and
                is raised. ``True``: a failed item gets its exception in its place.

        Every pair is checked before anything is sent.

        Examples:
            ```python
            await vf.customers.update_many(
                {"bob": {"name": "Robert"}, "alice": {"phone": None}}
            )
            ```
        """
        pairs = _pairs(changes)
        check_concurrency(concurrency)
        requests: builtins.list[Request[Customer]] = []
        for index, (customer_id, change) in enumerate(pairs):
            segment = path_segment(customer_id, f"update_many() changes[{index}] customer id")
            body = build_body(
                CustomerUpdate, change, {}, method="update_many", argument=f"changes[{index}]"
            )
            requests.append(
                Request(
                    "PUT", f"/v1/customers/{segment}", Customer, json=msgspec.json.encode(body)
                )
            )
        return await fan_out(
            self._transport.request,
            requests,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    # -- bulk jobs -----------------------------------------------------------------------

    async def import_csv(
        self,
        file: CsvInput,
        *,
        filename: str | None = None,
        update_existing: bool = False,
        split: bool = True,
        max_part_bytes: int = DEFAULT_PART_BYTES,
    ) -> AsyncJob:
        """Import or update customers from CSV; returns the `AsyncJob`.

        ``file`` is a path, the CSV as bytes, a binary file object, an async iterable of
        bytes, or an iterable of customer records (mappings or Structs such as
        ``CustomerCreate``), which are written as CSV: the standard columns the records use
        (``Id, Name, Email, Phone, Birthdate, Source_id, Address_line_1, ...``), then one
        column per metadata key. Files are streamed, never read into memory.

        The header is checked before anything is sent. A file over the API's 10 MB limit
        is cut at row boundaries (a quoted field may hold newlines) into parts of at most
        ``max_part_bytes``, each sent with the header and starting its own async action;
        the job covers them all and numbers failed rows across the whole file. Not retried
        once a request may have reached the server.

        Args:
            filename: the file name sent with the upload (default: the file's own, or
                ``customers.csv``).
            update_existing: require a ``Source_id`` column (the API matches rows to
                existing customers by it; without one every row creates a customer).
            split: ``False`` refuses a file over one request's limit instead of splitting it.
            max_part_bytes: the largest part, header included (default: 10 MB less room
                for the multipart envelope).

        Raises:
            CsvHeaderError: the header breaks a rule (a space in a column name, an empty or
                repeated name, no ``Source_id`` with ``update_existing``); names the column.
            CsvSizeError: one row (or, with ``split=False``, the file) is over the limit;
                gives the size.
            TypeError: an unsupported input, a text-mode file, a bad record (named).
            FileNotFoundError: no such path.
            PartialSubmissionError: a part after the first failed to send; ``.job`` covers
                the parts that were started.

        Examples:
            ```python
            job = await vf.customers.import_csv("customers.csv", update_existing=True)
            result = await job.wait()
            [(f.row, f.reason) for f in result.failed]
            # [(17, 'Email: must be a valid email address ...')]
            ```
        """
        check_int_range(max_part_bytes, "max_part_bytes", 64, BULK_BODY_LIMIT)

        async def send(upload: FileUpload) -> str:
            created = await self._transport.request(
                Request(
                    "POST", "/v1/customers/importCSV", AsyncActionCreated,
                    upload=upload, retry_safe=False, unsure_note=_JOB_NOTE,
                )
            )
            return created.async_action_id

        return await upload_csv(
            send, self._get_action, file,
            filename=filename, require_source_id=update_existing,
            split=split, part_limit=max_part_bytes,
        )

    async def update_in_bulk(
        self,
        customers: Iterable[CustomerBulkUpdate | Mapping[str, Any]],
        *,
        batch_size: int | None = None,
    ) -> AsyncJob:
        """Update (or create) customers by ``source_id``, any number; returns the job.

        Each item is a `CustomerBulkUpdate` or a mapping with
        a ``source_id`` and the fields to change. Every item is checked first; then they
        go in as few requests as the API's 10 MB limit (and ``batch_size``) allow, in order,
        each starting an async action. ``await job.wait()`` for the outcome. Not retried
        once a request may have reached the server.

        Args:
            batch_size: the most customers per request (default: as many as fit in 10 MB).

        Raises:
            TypeError: an item is not a customer update; the message names its index.
            ValueError: no customers, or one customer alone over the 10 MB limit.
            PartialSubmissionError: a request after the first failed; ``.job`` covers the
                actions started and ``.first_unsent`` the first customer not sent.

        Examples:
            ```python
            job = await vf.customers.update_in_bulk(
                {"source_id": f"user-{i}", "metadata": {"score": i}} for i in range(50_000)
            )
            result = await job.wait(timeout=600)
            result.done_count
            # 50000
            ```
        """
        if isinstance(customers, (str, bytes, Mapping)) or not isinstance(customers, Iterable):
            raise TypeError("update_in_bulk() customers must be an iterable of customer updates")
        _check_batch_size(batch_size)
        encoded: builtins.list[bytes] = []
        for index, item in enumerate(customers):
            if not isinstance(item, (CustomerBulkUpdate, Mapping)):
                raise TypeError(
                    f"update_in_bulk() customers[{index}] must be a CustomerBulkUpdate or a"
                    f" mapping, got {type(item).__name__}"
                )
            body = build_body(
                CustomerBulkUpdate, item, {},
                method="update_in_bulk", argument=f"customers[{index}]",
            )
            encoded.append(msgspec.json.encode(body))
        if not encoded:
            raise ValueError("update_in_bulk() needs at least one customer")
        try:
            parts = chunk_ranges(
                [len(item) for item in encoded], budget=BULK_BODY_LIMIT - 2, max_items=batch_size
            )
        except ChunkTooLargeError as exc:
            raise ValueError(
                f"update_in_bulk() customers[{exc.index}] alone makes a body of"
                f" {exc.size + 2:,} bytes, over the API's limit of {BULK_BODY_LIMIT:,} bytes"
                " (10 MB)"
            ) from None
        return await submit_in_parts(
            self._bulk_sender("/v1/customers/bulk/async"), self._get_action, parts,
            lambda part: json_array(encoded[part.start : part.stop]),
        )

    async def update_metadata_in_bulk(
        self,
        source_ids: Iterable[str],
        metadata: Mapping[str, Any],
        *,
        batch_size: int | None = None,
    ) -> AsyncJob:
        """Set the same metadata on every customer in ``source_ids``, any number; returns the job.

        The ids go in as few requests as the API's 10 MB limit (and ``batch_size``) allow,
        each starting an async action. Unknown source ids are created. Not retried once a
        request may have reached the server.

        Raises:
            TypeError, ValueError: bad ids (the message names the index), no ids, metadata
                that is not a mapping or alone over the 10 MB limit.
            PartialSubmissionError: a request after the first failed.

        Examples:
            ```python
            job = await vf.customers.update_metadata_in_bulk(ids, {"tier": "gold"})
            (await job.wait()).done_count == len(ids)
            # True
            ```
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
        _check_batch_size(batch_size)
        values = dict(metadata)
        empty = CustomerMetadataBulkUpdate(source_ids=[], metadata=values)
        envelope = len(msgspec.json.encode(empty))
        if envelope > BULK_BODY_LIMIT:
            raise ValueError(
                f"update_metadata_in_bulk() metadata alone makes a body of {envelope:,} bytes,"
                f" over the API's limit of {BULK_BODY_LIMIT:,} bytes (10 MB)"
            )
        try:
            parts = chunk_ranges(
                [len(msgspec.json.encode(source_id)) for source_id in ids],
                budget=BULK_BODY_LIMIT - envelope, max_items=batch_size,
            )
        except ChunkTooLargeError as exc:
            raise ValueError(
                f"update_metadata_in_bulk() source_ids[{exc.index}] makes a body over the"
                f" API's limit of {BULK_BODY_LIMIT:,} bytes (10 MB)"
            ) from None
        return await submit_in_parts(
            self._bulk_sender("/v1/customers/metadata/async"), self._get_action, parts,
            lambda part: msgspec.json.encode(
                CustomerMetadataBulkUpdate(source_ids=ids[part.start : part.stop], metadata=values)
            ),
        )

    def _bulk_sender(self, path: str) -> Callable[[bytes], Awaitable[str]]:
        async def send(body: bytes) -> str:
            created = await self._transport.request(
                Request(
                    "POST", path, AsyncActionCreated, json=body,
                    retry_safe=False, unsure_note=_JOB_NOTE,
                )
            )
            return created.async_action_id

        return send

    async def _get_action(self, async_action_id: str) -> AsyncAction:
        segment = path_segment(async_action_id, "async_action_id")
        return await self._transport.request(
            Request("GET", f"/v1/async-actions/{segment}", AsyncAction)
        )


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None:
        check_int_range(batch_size, "batch_size", 1, 10_000_000)


def _list_of_str(values: Iterable[str], method: str, name: str) -> builtins.list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{method}() {name} must be an iterable of str, got {type(values).__name__}"
        )
    items = builtins.list(values)
    for index, value in enumerate(items):
        path_segment(value, f"{name}[{index}]")
    return items


def _items(values: Iterable[Any], method: str, name: str) -> builtins.list[Any]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{method}() {name} must be an iterable of models or mappings")
    return builtins.list(values)


def _pairs(changes: object) -> builtins.list[tuple[str, Any]]:
    if isinstance(changes, Mapping):
        return builtins.list(changes.items())
    if isinstance(changes, (str, bytes)) or not isinstance(changes, Iterable):
        raise TypeError(
            "update_many() changes must be a mapping {customer_id: changes} or an iterable of"
            " (customer_id, changes) pairs"
        )
    pairs = builtins.list(changes)
    for index, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(
                f"update_many() changes[{index}] must be a (customer_id, changes) pair, got"
                f" {type(pair).__name__}"
            )
    return pairs
