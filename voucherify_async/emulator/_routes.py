"""The /v1 endpoints: the 13 Customers routes and the two async-action routes.

Routing is done here on the still-encoded request path rather than by aiohttp's router,
so it behaves the same on every aiohttp version: the path is split on ``/`` and each
segment is percent-decoded exactly once. A source id such as ``a/b?c#d`` arrives as
``a%2Fb%3Fc%23d`` and stays one segment; ``%252F`` decodes to the literal ``%2F``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._activity import ActivityFilter
from ._csv import CsvUploadHeaderError, parse_csv
from ._errors import (
    MAX_BODY_BYTES,
    ApiError,
    invalid_customer,
    invalid_payload,
    invalid_query,
    not_found,
)
from ._http import json_response, read_json, too_large
from ._jobs import BulkUpdateWork, CsvImportWork, MetadataUpdateWork, Work
from ._listing import ORDERS, CustomerQuery, list_customers
from ._models import Customer, Event, render_customer
from ._params import get_choice, get_datetime, get_int, get_text, parse_deep_object
from ._redeemables import FilterError, RedeemableFilter
from ._state import EmulatorState
from ._store import DuplicateSourceId
from ._time import format_ms, now_ms
from ._validation import FieldError, validate_customer_fields

__all__ = ["Context", "dispatch", "resolve"]

CAMPAIGN_TYPES = (
    "PROMOTION",
    "GIFT_VOUCHERS",
    "REFERRAL_PROGRAM",
    "DISCOUNT_COUPONS",
    "LOYALTY_PROGRAM",
)
CATEGORIES = ("ACTION", "EFFECT")
EVENT_TYPES = (
    "customer.confirmed", "customer.created", "customer.updated", "customer.deleted",
    "customer.referred", "customer.custom_event", "customer.segment.entered",
    "customer.segment.left", "customer.sms.sent", "customer.sms.recovered",
    "customer.sms.failed", "customer.email.sent", "customer.email.recovered",
    "customer.email.failed", "customer.activecampaign.sent",
    "customer.activecampaign.recovered", "customer.activecampaign.failed",
    "customer.braze.sent", "customer.braze.recovered", "customer.braze.failed",
    "customer.mailchimp.sent", "customer.mailchimp.recovered", "customer.mailchimp.failed",
    "customer.intercom.sent", "customer.intercom.recovered", "customer.intercom.failed",
    "customer.shopify.sent", "customer.shopify.recovered", "customer.shopify.failed",
    "customer.klaviyo.sent", "customer.klaviyo.recovered", "customer.klaviyo.failed",
    "customer.batch.sent", "customer.batch.recovered", "customer.batch.failed",
    "customer.rewarded", "customer.rewarded.loyalty_points",
    "customer.voucher.gift.balance_added", "customer.voucher.loyalty_card.points_added",
    "customer.voucher.loyalty_card.points_transferred",
    "customer.voucher.loyalty_card.points_expired", "customer.voucher.deleted",
    "customer.publication.succeeded", "customer.publication.failed",
    "customer.validation.succeeded", "customer.validation.failed",
    "customer.redemption.failed", "customer.redemption.succeeded",
    "customer.redemption.rollback.failed", "customer.redemption.rollback.succeeded",
    "customer.order.canceled", "customer.order.created", "customer.order.fulfilled",
    "customer.order.paid", "customer.order.processing", "customer.order.updated",
    "customer.reward_redemptions.created", "customer.reward_redemptions.pending",
    "customer.reward_redemptions.completed", "customer.reward_redemptions.rolledback",
    "customer.loyalty.updated", "customer.loyalty.tier.upgraded",
    "customer.loyalty.tier.downgraded", "customer.loyalty.tier.prolonged",
    "customer.loyalty.tier.expiration.changed", "customer.loyalty.tier.joined",
    "customer.loyalty.tier.left",
)  # fmt: skip
ACTIVITIES_ORDERS = (
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
)


@dataclass
class Context:
    """What a /v1 handler gets: the request, the emulator's state and the request id."""

    request: web.Request
    state: EmulatorState
    request_id: str

    @property
    def query(self) -> Any:
        """The decoded query parameters (a multidict)."""
        return self.request.rel_url.query


Handler = Callable[[Context, tuple[str, ...]], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One method + path pattern; ``None`` segments capture a path parameter."""

    method: str
    pattern: tuple[str | None, ...]
    handler: Handler

    def match(self, segments: list[str]) -> tuple[str, ...] | None:
        """The captured (decoded) parameters if ``segments`` fit the pattern."""
        if len(segments) != len(self.pattern):
            return None
        captured: list[str] = []
        for expected, actual in zip(self.pattern, segments, strict=True):
            if expected is None:
                if not actual:
                    return None
                captured.append(unquote(actual))
            elif expected != actual:
                return None
        return tuple(captured)


def resolve(method: str, raw_path: str) -> tuple[Handler, tuple[str, ...]]:
    """Find the handler for a request; raises a 404 or 405 ``ApiError``.

    Example: ``resolve("GET", "/v1/customers/a%2Fb")`` -> ``(get_customer, ("a/b",))``.
    """
    segments = raw_path.split("/")[1:]
    allowed: set[str] = set()
    for route in ROUTES:
        params = route.match(segments)
        if params is None:
            continue
        if route.method == method:
            return route.handler, params
        allowed.add(route.method)
    if allowed:
        allow = ", ".join(sorted(allowed))
        raise ApiError(
            405,
            details=f"Method {method} is not allowed for {raw_path}; use {allow}",
            headers={"Allow": allow},
        )
    raise ApiError(404, details=f"Cannot {method} {raw_path}", message="Resource not found")


async def dispatch(context: Context) -> web.StreamResponse:
    """Route and run one /v1 request (authentication is checked by the caller)."""
    request = context.request
    handler, params = resolve(request.method, request.rel_url.raw_path)
    return await handler(context, params)


# -- customers ------------------------------------------------------------------------


def _customer_or_404(context: Context, ref: str) -> Customer:
    customer = context.state.store.find(ref)
    if customer is None:
        raise not_found("customer", ref)
    return customer


def _duplicate(source_id: str) -> ApiError:
    return ApiError(
        409,
        key="duplicate_found",
        message="Duplicated resource found",
        details=f"A customer with source_id {source_id} already exists",
        resource_id=source_id,
        resource_type="customer",
    )


async def _json_object(context: Context) -> dict[str, Any]:
    body = await read_json(context.request)
    if not isinstance(body, dict):
        raise invalid_payload("The request body must be a JSON object")
    return body


async def create_customer(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``POST /v1/customers``: upsert by ``id`` (must exist) or ``source_id``, else create."""
    body = await _json_object(context)
    store = context.state.store
    try:
        fields = validate_customer_fields(body, with_source_id=True)
    except FieldError as exc:
        raise invalid_customer(str(exc)) from None
    customer_id = body.get("id")
    source_id = fields.get("source_id")
    try:
        if customer_id is not None:
            if not isinstance(customer_id, str) or not customer_id:
                raise invalid_customer("id: must be a non-empty string")
            customer = store.by_id.get(customer_id)
            if customer is None:
                raise not_found("customer", customer_id)
            store.update(customer, fields, group_id=context.request_id)
        elif source_id is not None and source_id in store.by_source:
            customer = store.by_source[source_id]
            store.update(customer, fields, group_id=context.request_id)
        else:
            customer = store.create(fields, source_id=source_id, group_id=context.request_id)
    except DuplicateSourceId as exc:
        raise _duplicate(str(exc)) from None
    return json_response(render_customer(customer))


async def get_customer(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers/{customerId}`` by id or source_id."""
    return json_response(render_customer(_customer_or_404(context, params[0])))


async def update_customer(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``PUT /v1/customers/{customerId}``: change only the fields present in the body."""
    customer = _customer_or_404(context, params[0])
    body = await _json_object(context)
    try:
        fields = validate_customer_fields(body)
    except FieldError as exc:
        raise invalid_customer(str(exc)) from None
    context.state.store.update(customer, fields, group_id=context.request_id)
    return json_response(render_customer(customer))


async def delete_customer(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``DELETE /v1/customers/{customerId}``: 204 with an empty body."""
    customer = _customer_or_404(context, params[0])
    context.state.store.delete(customer, group_id=context.request_id)
    return web.Response(status=204)


async def purge_customer(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``POST /v1/customers/{customerId}/permanent-deletion``: remove customer + activity."""
    store = context.state.store
    purged = store.purge(params[0])
    if purged is None:
        raise not_found("customer", params[0])
    return json_response(
        {
            "id": store.ids.alnum("del_"),
            "created_at": format_ms(now_ms()),
            "related_object_id": purged.customer.id,
            "related_object": "customer",
            "status": "DONE",
            "data_json": {
                "events": 0,
                "customer_events": purged.customer_events,
                "daily_events": 0,
                "segments": purged.segments,
                "orders": 0,
                "order_events": 0,
                "customer": 1,
            },
            "object": "pernament_deletion",  # sic: the API's spelling
        }
    )


async def list_customers_route(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers`` with filters, order, page and the starting_after cursor."""
    query = context.query
    order = get_choice(query, "order", ORDERS, default="-created_at")
    assert order is not None
    request = CustomerQuery(
        limit=get_int(query, "limit", default=10, low=1, high=100),
        page=get_int(query, "page", default=1, low=1, high=99),
        order=order,
        email=get_text(query, "email"),
        name=get_text(query, "name"),
        city=get_text(query, "city"),
        segment_id=get_text(query, "segment_id"),
        created_before=get_datetime(query, "created_at[before]"),
        created_after=get_datetime(query, "created_at[after]"),
        updated_before=get_datetime(query, "updated_at[before]"),
        updated_after=get_datetime(query, "updated_at[after]"),
        starting_after=get_datetime(query, "starting_after"),
        inclusive_cursor=context.state.settings.starting_after_mode == "inclusive",
    )
    page = list_customers(context.state.store, request)
    return json_response(
        {
            "object": "list",
            "data_ref": "customers",
            "customers": [render_customer(c) for c in page.customers],
            "total": page.total,
            "has_more": page.has_more,
        }
    )


# -- activity -------------------------------------------------------------------------


def _activity_filter(query: Any) -> ActivityFilter:
    return ActivityFilter(
        start_ms=get_datetime(query, "start_date"),
        end_ms=get_datetime(query, "end_date"),
        campaign_id=get_text(query, "campaign_id"),
        campaign_type=get_choice(query, "campaign_type", CAMPAIGN_TYPES, default=None),
    )


async def list_activity(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers/{customerId}/activity``, paged by ``starting_after_id``."""
    customer = _customer_or_404(context, params[0])
    query = context.query
    limit = get_int(query, "limit", default=10, low=1, high=100)
    order = get_choice(query, "order", ("created_at", "-created_at"), default="-created_at")
    keep = _activity_filter(query)
    keep.category = get_choice(query, "category", CATEGORIES, default=None)
    keep.type = get_choice(query, "type", EVENT_TYPES, default=None)
    events: list[Event] = []
    for event in context.state.store.activity.iterate(
        customer.id,
        descending=order == "-created_at",
        after_id=get_text(query, "starting_after_id"),
        keep=keep.matches,
    ):
        events.append(event)
        if len(events) > limit:
            break
    has_more = len(events) > limit
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [event.to_json() for event in events[:limit]],
        "has_more": has_more,
    }
    if has_more:
        body["more_starting_after"] = events[limit - 1].id
    return json_response(body)


async def list_activities(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers/{customerId}/activities`` (deprecated): cursors and ``total``.

    ``order`` accepts the documented values; ``type``/``category`` sort by that field and
    the others by time (events carry no code or campaign).
    """
    customer = _customer_or_404(context, params[0])
    query = context.query
    limit = get_int(query, "limit", default=10, low=1, high=100)
    order = get_choice(query, "order", ACTIVITIES_ORDERS, default="-created_at")
    assert order is not None
    descending = order.startswith("-")
    keep = _activity_filter(query)
    keep.product_id = get_text(query, "product_id")
    matched = list(
        context.state.store.activity.iterate(
            customer.id,
            descending=descending,
            after_id=get_text(query, "starting_after_id"),
            after_ms=get_datetime(query, "starting_after"),
            keep=keep.matches,
        )
    )
    field = order.lstrip("-")
    if field in ("type", "category"):
        matched.sort(key=lambda e: (getattr(e, field), e.id), reverse=descending)
    return json_response(
        {
            "object": "list",
            "data_ref": "data",
            "data": [event.to_json() for event in matched[:limit]],
            "total": len(matched),
        }
    )


# -- segments and redeemables -----------------------------------------------------------


async def list_segments(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers/{customerId}/segments`` (unknown customer: empty list)."""
    customer = context.state.store.find(params[0])
    segments = [] if customer is None else context.state.store.segments.of_customer(customer.id)
    return json_response(
        {
            "object": "list",
            "data_ref": "data",
            "data": [segment.to_json() for segment in segments],
            "total": len(segments),
        }
    )


async def list_redeemables(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/customers/{customerId}/redeemables`` with ``filters`` and a cursor."""
    customer = _customer_or_404(context, params[0])
    query = context.query
    limit = get_int(query, "limit", default=10, low=1, high=100)
    order = get_choice(query, "order", ("id", "-id"), default="-id")
    try:
        keep = RedeemableFilter.parse(parse_deep_object(list(query.items()), "filters"))
    except FilterError as exc:
        raise invalid_query(str(exc)) from None
    matched = list(
        context.state.store.redeemables.iterate(
            customer.id,
            descending=order == "-id",
            after_id=get_text(query, "starting_after_id"),
            keep=keep,
        )
    )
    page = matched[:limit]
    has_more = len(matched) > limit
    body: dict[str, Any] = {
        "object": "list",
        "data_ref": "data",
        "data": [redeemable.data for redeemable in page],
        "total": len(matched),
        "has_more": has_more,
    }
    if has_more:
        body["more_starting_after"] = page[-1].id
    return json_response(body)


# -- bulk jobs ------------------------------------------------------------------------


def _accepted(context: Context, work: Work) -> web.StreamResponse:
    action = context.state.jobs.submit(work, request_id=context.request_id)
    return json_response({"async_action_id": action.id}, status=202)


async def bulk_update(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``POST /v1/customers/bulk/async``: 202, then upsert each item by source_id."""
    body = await read_json(context.request)
    if not isinstance(body, list):
        raise invalid_payload("The request body must be a JSON array of customer objects")
    return _accepted(context, BulkUpdateWork(body))


async def metadata_update(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``POST /v1/customers/metadata/async``: 202, then merge metadata per source_id."""
    body = await _json_object(context)
    source_ids = body.get("source_ids")
    metadata = body.get("metadata")
    if not isinstance(source_ids, list):
        raise invalid_payload("source_ids: must be an array of customer source ids")
    if not isinstance(metadata, dict):
        raise invalid_payload("metadata: must be an object")
    return _accepted(context, MetadataUpdateWork(source_ids, metadata))


async def import_csv(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``POST /v1/customers/importCSV`` (multipart, field ``file``): 202, then import."""
    request = context.request
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise too_large()
    data = await _read_file_part(request)
    try:
        document = parse_csv(data)
    except CsvUploadHeaderError as exc:
        raise invalid_payload(f"Invalid CSV file: {exc}") from None
    return _accepted(context, CsvImportWork(document))


async def _read_file_part(request: web.Request) -> bytes:
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError, HttpProcessingError):
        raise invalid_payload(
            "The request must be multipart/form-data with the CSV in a field named 'file'"
        ) from None
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, BodyPartReader) and part.name == "file":
                chunks: list[bytes] = []
                size = 0
                # One read may take the whole allowed body: aiohttp pushes the excess of a
                # read larger than the size asked back with its deprecated unread_data(),
                # whose DeprecationWarning is an error (a 500) under `-W error`.
                while chunk := await part.read_chunk(MAX_BODY_BYTES + 1):
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise too_large()
                    chunks.append(chunk)
                await _finish(reader)
                return b"".join(chunks)
            await part.release()
    except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
        # A part header that is not a header (aiohttp's InvalidHeader), a bad boundary...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise invalid_payload(f"The multipart body is malformed: {reason}") from None
    raise invalid_payload("The multipart body has no field named 'file'")


async def _finish(reader: Any) -> None:
    """Read the parts after the file, so a body cut short (no closing boundary) is a 400."""
    while True:
        part = await reader.next()
        if part is None:
            break
        await part.release()
    if not reader.at_eof():
        raise invalid_payload("The multipart body ends before its closing boundary")


# -- async actions --------------------------------------------------------------------


async def list_async_actions(context: Context, _params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/async-actions``: newest first, ``limit`` and ``end_date``."""
    query = context.query
    limit = get_int(query, "limit", default=10, low=1, high=100)
    actions, has_more = context.state.jobs.newest(
        limit=limit, before_ms=get_datetime(query, "end_date")
    )
    return json_response(
        {
            "object": "list",
            "data_ref": "async_actions",
            "async_actions": [action.to_json(with_result=False) for action in actions],
            "has_more": has_more,
        }
    )


async def get_async_action(context: Context, params: tuple[str, ...]) -> web.StreamResponse:
    """``GET /v1/async-actions/{asyncActionId}`` with its ``result`` once done."""
    action = context.state.jobs.actions.get(params[0])
    if action is None:
        raise not_found("async_action", params[0])
    return json_response(action.to_json(with_result=True))


_C = "customers"
ROUTES: tuple[Route, ...] = (
    Route("GET", ("v1", _C), list_customers_route),
    Route("POST", ("v1", _C), create_customer),
    Route("POST", ("v1", _C, "bulk", "async"), bulk_update),
    Route("POST", ("v1", _C, "metadata", "async"), metadata_update),
    Route("POST", ("v1", _C, "importCSV"), import_csv),
    Route("GET", ("v1", _C, None), get_customer),
    Route("PUT", ("v1", _C, None), update_customer),
    Route("DELETE", ("v1", _C, None), delete_customer),
    Route("POST", ("v1", _C, None, "permanent-deletion"), purge_customer),
    Route("GET", ("v1", _C, None, "activity"), list_activity),
    Route("GET", ("v1", _C, None, "activities"), list_activities),
    Route("GET", ("v1", _C, None, "segments"), list_segments),
    Route("GET", ("v1", _C, None, "redeemables"), list_redeemables),
    Route("GET", ("v1", "async-actions"), list_async_actions),
    Route("GET", ("v1", "async-actions", None), get_async_action),
)
