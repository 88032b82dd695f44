"""``vf.customers``: every method of the Customers API, one short method per endpoint.

About 700 lines, most of them docstrings: each of the 13 endpoints (and the streaming,
bulk and CSV forms of some) is one short method here with its documentation, since this
page of the reference is what users read; the logic they use lives in `_core`, in
`_listing.py`, `_bulk.py`, `_fanout.py` and `_partition.py`.
"""

from __future__ import annotations

import builtins
import copy
import operator
import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, TypedDict, cast

import msgspec
from msgspec.structs import replace

from .._core.chunking import BULK_BODY_LIMIT
from .._core.csvio import DEFAULT_PART_BYTES
from .._core.extras import with_extras
from .._core.filters import Filter, filter_query
from .._core.query import (
    Query,
    check_choice,
    check_int_range,
    check_str,
    deep_object,
    format_datetime,
    params,
    path_segment,
)
from .._core.request import FileUpload, Request
from .._core.windows import check_parallel, is_parallel_token, loads_windows
from .._transport.transport import APIResponse
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
    CustomerPermanentDeletion,
    CustomerRedeemable,
    CustomerRedeemableList,
    CustomerSegmentList,
    CustomerUpdate,
)
from ._base import build_body
from ._bulk import bulk_update_parts, metadata_update_parts
from ._csvimport import CsvInput, CsvSource
from ._csvimport import import_csv as upload_csv
from ._fanout import CustomerFanOut, create_request
from ._jobs import AsyncJob, submit_in_parts
from ._listing import CREATED_AT_ORDERS, ListShape, created_at_listing, peek_created_at
from ._pagination import CursorPaging, LastItemPaging, Pager, PagingWalk
from ._parallel import ParallelPager, ParallelScan
from ._partition import CustomerPartition, split_into_partitions

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..models import CustomerFields, CustomerIdentityFields

__all__ = [
    "BULK_BODY_LIMIT",
    "CsvInput",
    "CsvSource",
    "CustomerListFilters",
    "Customers",
    "CustomersWithRawResponse",
]


class CustomerListFilters(TypedDict, total=False):
    """The filters of ``vf.customers.list`` and ``vf.customers.partition``, declared once.

    Each is left out of the query when ``None``. The CLI's ``customers list`` and
    ``customers export`` take the same filters as options (``--email``, ``--created-after``).
    """

    email: Annotated[str | None, Filter("keep only customers with this email address")]
    city: Annotated[str | None, Filter("keep only customers whose address is in this city")]
    name: Annotated[str | None, Filter("keep only customers with this name")]
    segment_id: Annotated[str | None, Filter("keep only customers in this segment (seg_...)")]
    created_at_before: Annotated[
        datetime | None,
        Filter("created before this time", wire="created_at[before]", flag="--created-before"),
    ]
    created_at_after: Annotated[
        datetime | None,
        Filter("created after this time", wire="created_at[after]", flag="--created-after"),
    ]
    updated_at_before: Annotated[
        datetime | None,
        Filter("last updated before this time", wire="updated_at[before]", flag="--updated-before"),
    ]
    updated_at_after: Annotated[
        datetime | None,
        Filter("last updated after this time", wire="updated_at[after]", flag="--updated-after"),
    ]


ACTIVITY_ORDERS = frozenset({"created_at", "-created_at"})
ACTIVITIES_ORDERS = frozenset(
    {
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
        "type",
        "-type",
        "code",
        "-code",
        "campaign",
        "-campaign",
        "category",
        "-category",
    }
)
REDEEMABLE_ORDERS = frozenset({"id", "-id"})

_JOB_NOTE = (
    "the job may have been started: it is not sent again, as each arrival starts another"
    " one; look for it in vf.async_actions.list() before sending it again"
)
_PERMANENT_DELETION_NOTE = (
    "the permanent deletion may have been requested: it is not sent again; check with"
    " vf.customers.get(customer_id) before asking again"
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


# A customer's (created_at, id), read in C: the scan takes it of every customer.
_customer_key: Callable[[Customer], tuple[datetime | None, str]] = operator.attrgetter(
    "created_at", "id"
)


def _id(item: CustomerActivity | CustomerRedeemable) -> str:
    return item.id


def _with_data(page: Any, kept: builtins.list[Any]) -> Any:
    return replace(page, data=kept)


_CUSTOMER_PAGE: ListShape[CustomerList, Customer] = ListShape(
    items=lambda page: page.customers,
    has_more=lambda page: page.has_more,
    rebuild=lambda page, kept: replace(page, customers=kept),
    key=_customer_key,
    peek=peek_created_at,
)


class Customers(CustomerFanOut):
    """The Customers API. Every ``customer_id`` is a Voucherify id (``cust_...``) or a source id.

    Examples:
        ```python
        async with AsyncVoucherify() as vf:
            bob = await vf.customers.create(source_id="bob", name="Bob Smith")
            bob = await vf.customers.update("bob", phone=None)   # sent as null
            async for customer in vf.customers.list(city="Warsaw"):
                print(customer.id)
        ```

    What the typed signatures do not have yet (a parameter or field the API added after
    this release): the single-request methods (`create`, `get`, `update`, `delete`,
    `delete_permanently`, `list_segments`) take ``extra_headers`` and ``extra_query``, and
    `create` and `update` also ``extra_body`` (fields merged into the JSON body, over the
    typed ones). For the iterators and the fan-out, bulk and CSV calls, put them on a copy
    of the client: ``vf.with_options(extra_query={...}).customers.list()``.
    """

    @property
    def with_raw_response(self) -> CustomersWithRawResponse:
        """The single-request methods, each returning the `APIResponse` (status, headers,
        ``request_id``, elapsed, attempts; ``.parse()`` gives the model).

        Examples:
            ```python
            response = await vf.customers.with_raw_response.get("bob")
            print(response.status, response.attempts, response.parse().id)
            ```
        """
        return CustomersWithRawResponse(Customers(self._transport.with_raw_responses()))

    def _path(self, customer_id: object, suffix: str = "") -> str:
        return f"/v1/customers/{path_segment(customer_id, 'customer_id')}{suffix}"

    async def create(
        self,
        customer: CustomerCreate | Mapping[str, Any] | None = None,
        /,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
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
        request = create_request(body)
        return await self._transport.request(
            with_extras(
                request, extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body
            )
        )

    async def get(
        self,
        customer_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Return the customer with this id or source id.

        Raises:
            NotFoundError: no such customer.
        """
        request = Request("GET", self._path(customer_id), Customer)
        return await self._transport.request(
            with_extras(request, extra_headers=extra_headers, extra_query=extra_query)
        )

    async def update(
        self,
        customer_id: str,
        changes: CustomerUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
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
        request = Request("PUT", path, Customer, json=msgspec.json.encode(body))
        return await self._transport.request(
            with_extras(
                request, extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body
            )
        )

    async def delete(
        self,
        customer_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete a customer.

        Raises:
            NotFoundError: no such customer.
        """
        request = Request("DELETE", self._path(customer_id), type(None))
        return await self._transport.request(
            with_extras(request, extra_headers=extra_headers, extra_query=extra_query)
        )

    async def delete_permanently(
        self,
        customer_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> CustomerPermanentDeletion:
        """Delete a customer and every record connected to it, for good.

        Not retried once it may have reached the server: it cannot be repeated safely.
        """
        request = Request(
            "POST",
            self._path(customer_id, "/permanent-deletion"),
            CustomerPermanentDeletion,
            retry_safe=False,
            unsure_note=_PERMANENT_DELETION_NOTE,
        )
        return await self._transport.request(
            with_extras(request, extra_headers=extra_headers, extra_query=extra_query)
        )

    def list(
        self,
        *,
        limit: int | None = None,
        page: int | None = None,
        order: str | None = None,
        starting_after: datetime | None = None,
        resume_from: str | None = None,
        prefetch: bool = True,
        parallel: int | str | None = None,
        **filters: Unpack[CustomerListFilters],
    ) -> Pager[CustomerList, Customer]:
        """List customers: await it for one page, ``async for`` it for every customer.

        Args:
            limit: customers per page, 1..100 (the API's default is 10).
            page: the page to start at, 1..99.
            order: one of ``created_at``, ``-created_at`` (the default), ``updated_at``,
                ``-updated_at``, ``source_id``, ``-source_id``.
            starting_after: a ``created_at`` cursor: customers created before it (descending
                orders) or after it (ascending orders).
            resume_from: a ``pager.position`` token from an earlier scan with the same
                filters: the scan goes on after the last customer that one yielded.
            prefetch: fetch the next page while the caller works on this one (default).
            parallel: stream this many disjoint ``created_at`` windows at once, or
                ``"auto"`` to choose (and adapt) the number from the latency seen and the
                budget the rate-limit headers announce. Items then come in **no global
                order**; see "Parallel streams" below.
            **filters: the filters declared by `CustomerListFilters`, each left out when
                ``None`` (below).

        Other Parameters:
            email (str | None): keep only customers with this email address.
            city (str | None): keep only customers whose address is in this city.
            name (str | None): keep only customers with this name.
            segment_id (str | None): keep only customers in this segment (``seg_...``).
            created_at_before (datetime | None): keep customers created before this aware
                datetime.
            created_at_after (datetime | None): keep customers created after this aware
                datetime.
            updated_at_before (datetime | None): keep customers last updated before this
                aware datetime.
            updated_at_after (datetime | None): keep customers last updated after this aware
                datetime.

        Iterating yields every matching customer exactly once, past the API's page 99: with
        the ``created_at`` orders (and the default) the pager moves on with the
        ``starting_after`` cursor and copes with customers sharing a millisecond, whether the
        server treats the cursor as exclusive or inclusive. Iteration asks for 100 customers
        a page unless ``limit`` says otherwise. Other orders can only page up to page 99 and
        raise `PaginationError` if there is more.

        Parallel streams: with ``parallel``, iterating finds the oldest and newest matching
        customer (two requests sent together), cuts that range into ``created_at`` windows
        and reads them at once, each exactly once as above; a stream that finishes takes the
        far half of the largest unread window, so all stay busy to the end. Every customer
        still comes exactly once, but in no global order. Memory stays bounded by two pages a
        stream. ``pager.position`` encodes every window (resume with the same ``parallel``
        argument and filters), and ``pager.progress`` says how far the scan is.

        Examples:
            ```python
            pager = vf.customers.list(parallel="auto")
            async for customer in pager:
                ...
            print(pager.progress)
            ```

        Raises:
            ValueError: ``limit``, ``page``, ``order`` or ``parallel`` out of range, a naive
                datetime, or a bad ``resume_from``, before any request is sent.
            ListOrderError: the API answered a page out of the order asked for.
        """
        _limit(limit)
        if page is not None:
            check_int_range(page, "page", 1, 99)
        _order(order, CustomerListOrder.ALL)
        _dates(starting_after=starting_after)
        check_parallel(parallel, order, CREATED_AT_ORDERS)
        query = filter_query(CustomerListFilters, filters, "list")
        if parallel is not None:
            return self._parallel_list(
                query, limit=limit, page=page, order=order, starting_after=starting_after,
                resume_from=resume_from, parallel=parallel,
            )  # fmt: skip
        one_page, walk = created_at_listing(
            _CUSTOMER_PAGE,
            query + params([("order", "order", order)]),
            order=order,
            limit=limit,
            page=page,
            resume_from=resume_from,
            starting_after=None
            if starting_after is None
            else format_datetime(starting_after, "starting_after"),
        )
        fetch = self._page_getter("/v1/customers", CustomerList)
        fetch_raw = self._raw_page_getter("/v1/customers", CustomerList)
        return Pager(
            fetch,
            one_page,
            walk,
            prefetch=prefetch,
            fetch_raw=fetch_raw,
            on_page=self._page_hook("/v1/customers"),
            traced=self._list_trace("/v1/customers"),
        )

    def _parallel_list(
        self,
        query: Query,
        *,
        limit: int | None,
        page: int | None,
        order: str | None,
        starting_after: datetime | None,
        resume_from: str | None,
        parallel: int | str,
    ) -> Pager[CustomerList, Customer]:
        """``list(parallel=...)``: a pager whose iteration is a `ParallelScan`."""
        if page is not None or starting_after is not None:
            raise ValueError(
                "parallel cannot be combined with page or starting_after: the windows are"
                " cut from the oldest to the newest match (narrow them with created_at_after"
                " and created_at_before)"
            )
        windows = None
        if resume_from is not None:
            if not isinstance(resume_from, str) or not is_parallel_token(resume_from):
                raise ValueError(
                    "resume_from must be a position taken from a scan with parallel; a"
                    " sequential scan's position resumes without parallel"
                )
            windows = loads_windows(resume_from)
        one_page = [("limit", str(limit or 10)), *query, *params([("order", "order", order)])]
        fetch = self._page_getter("/v1/customers", CustomerList)
        shared = self._transport.shared

        def scan() -> ParallelScan[CustomerList, Customer]:
            return ParallelScan(
                fetch,
                _CUSTOMER_PAGE,
                filters=query,
                limit=limit or 100,
                parallel=parallel,
                resume=None if windows is None else copy.deepcopy(windows),
                rate_limit=lambda: shared.rate_limit,
                max_streams=shared.max_concurrency,
            )

        return ParallelPager(fetch, one_page, scan)

    async def partition(
        self,
        parts: int,
        **filters: Unpack[CustomerListFilters],
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
        filter_query(CustomerListFilters, filters, "partition")

        async def first_page(**arguments: Any) -> CustomerList:
            return await self.list(limit=1, **arguments)

        with self._operation("customers.partition"):
            return await split_into_partitions(first_page, parts, dict(filters))

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
            starting_after_id=starting_after_id,
            campaign_id=campaign_id,
            campaign_type=campaign_type,
            category=category,
            type=type,
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
            fetch,
            query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
            on_page=self._page_hook(path),
            traced=self._list_trace(path),
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
            starting_after_id=starting_after_id,
            campaign_type=campaign_type,
            campaign_id=campaign_id,
            product_id=product_id,
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
            fetch,
            query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
            on_page=self._page_hook(path),
            traced=self._list_trace(path),
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
            fetch,
            query,
            lambda q: PagingWalk(q, paging, item_id=_id, rebuild=_with_data),
            prefetch=prefetch,
            on_page=self._page_hook(path),
            traced=self._list_trace(path),
        )

    async def list_segments(
        self,
        customer_id: str,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> CustomerSegmentList:
        """Return the segments the customer belongs to."""
        request = Request("GET", self._path(customer_id, "/segments"), CustomerSegmentList)
        return await self._transport.request(
            with_extras(request, extra_headers=extra_headers, extra_query=extra_query)
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
                    "POST",
                    "/v1/customers/importCSV",
                    AsyncActionCreated,
                    upload=upload,
                    retry_safe=False,
                    unsure_note=_JOB_NOTE,
                )
            )
            return created.async_action_id

        with self._operation("customers.import_csv"):
            return await upload_csv(
                send,
                self._get_action,
                file,
                filename=filename,
                require_source_id=update_existing,
                split=split,
                part_limit=max_part_bytes,
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
        parts, body = bulk_update_parts(customers, batch_size)
        return await submit_in_parts(
            self._bulk_sender("/v1/customers/bulk/async"), self._get_action, parts, body
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
        parts, body = metadata_update_parts(source_ids, metadata, batch_size)
        return await submit_in_parts(
            self._bulk_sender("/v1/customers/metadata/async"), self._get_action, parts, body
        )

    def _bulk_sender(self, path: str) -> Callable[[bytes], Awaitable[str]]:
        async def send(body: bytes) -> str:
            created = await self._transport.request(
                Request(
                    "POST",
                    path,
                    AsyncActionCreated,
                    json=body,
                    retry_safe=False,
                    unsure_note=_JOB_NOTE,
                )
            )
            return created.async_action_id

        return send

    async def _get_action(self, async_action_id: str) -> AsyncAction:
        segment = path_segment(async_action_id, "async_action_id")
        return await self._transport.request(
            Request("GET", f"/v1/async-actions/{segment}", AsyncAction)
        )


class CustomersWithRawResponse:
    """``vf.customers.with_raw_response``: each method as on `Customers`, answering with the
    `APIResponse` instead of the model."""

    def __init__(self, raw: Customers) -> None:
        self._raw = raw

    async def create(self, *args: Any, **kwargs: Any) -> APIResponse[Customer]:
        """`Customers.create`, answering with the `APIResponse`."""
        return cast("APIResponse[Customer]", await self._raw.create(*args, **kwargs))

    async def get(self, customer_id: str, **kwargs: Any) -> APIResponse[Customer]:
        """`Customers.get`, answering with the `APIResponse`."""
        return cast("APIResponse[Customer]", await self._raw.get(customer_id, **kwargs))

    async def update(self, *args: Any, **kwargs: Any) -> APIResponse[Customer]:
        """`Customers.update`, answering with the `APIResponse`."""
        return cast("APIResponse[Customer]", await self._raw.update(*args, **kwargs))

    async def delete(self, customer_id: str, **kwargs: Any) -> APIResponse[None]:
        """`Customers.delete`, answering with the `APIResponse` (``parse()`` gives ``None``)."""
        answer: Any = await self._raw.delete(customer_id, **kwargs)  # type: ignore[func-returns-value]
        return cast("APIResponse[None]", answer)

    async def delete_permanently(
        self, customer_id: str, **kwargs: Any
    ) -> APIResponse[CustomerPermanentDeletion]:
        """`Customers.delete_permanently`, answering with the `APIResponse`."""
        answer = await self._raw.delete_permanently(customer_id, **kwargs)
        return cast("APIResponse[CustomerPermanentDeletion]", answer)

    async def list_segments(
        self, customer_id: str, **kwargs: Any
    ) -> APIResponse[CustomerSegmentList]:
        """`Customers.list_segments`, answering with the `APIResponse`."""
        answer = await self._raw.list_segments(customer_id, **kwargs)
        return cast("APIResponse[CustomerSegmentList]", answer)
