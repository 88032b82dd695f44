"""Test controls under ``/_emulator/``: no authentication, no faults, no rate limit.

Every route is declared once, in ``CONTROL_ROUTES``, with the body fields it takes; a body
is a JSON object (an empty body counts as ``{}``; ``POST faults/script`` also takes a bare
list of faults). A key the route does not take is refused, naming it and listing the ones
it takes; so is a value of the wrong type, naming its key. Refusals are the usual JSON
error objects, status 400 (``invalid_payload``, the reason in ``details``) or 404.
docs/emulator.md has the table of routes, bodies and answers (a test holds it to this).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from ._config import SettingsError, shown
from ._errors import EmulatorHTTPError, invalid_payload, not_found
from ._faults import parse_script
from ._http import error_response, json_response, read_body
from ._redeemables import REDEEMABLE_FIELDS, build_redeemable
from ._segments import Segment
from ._state import STATE_KEY, EmulatorState
from ._store import DuplicateSourceId
from ._time import format_ms, now_ms, parse_datetime_ms

__all__ = ["CONTROL_ROUTES", "SETTINGS", "ControlRoute", "add_control_routes"]

ControlHandler = Callable[[web.Request, EmulatorState, dict[str, Any]], Awaitable[Any]]

#: ``ControlRoute.fields`` of the routes whose body is settings (``Settings``' names).
SETTINGS = ("<settings>",)


@dataclasses.dataclass(frozen=True)
class ControlRoute:
    """One ``/_emulator/`` route: its method, path and the body fields it takes.

    ``fields`` is ``()`` for a route without a body and ``SETTINGS`` for one whose body is
    settings (checked, and an unknown one named, by ``Settings.apply``); ``example`` is a
    body shown when the one sent is not a JSON object; ``list_field`` names the field a
    bare JSON list stands for (``faults``), if any.
    """

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    fields: tuple[str, ...] = ()
    example: str = ""
    list_field: str | None = None


CONTROL_ROUTES: list[ControlRoute] = []


def _route(
    method: str,
    path: str,
    *,
    fields: tuple[str, ...] = (),
    example: str = "",
    list_field: str | None = None,
) -> Callable[[ControlHandler], ControlHandler]:
    """Declare ``handler`` as the control route ``method /_emulator/path``."""

    def declare(handler: ControlHandler) -> ControlHandler:
        route: ControlRoute

        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE_KEY]
            try:
                payload = await _payload(request, route)
                result = await handler(request, state, payload)
            except EmulatorHTTPError as exc:
                return error_response(exc, None)
            except (ValueError, SettingsError, DuplicateSourceId) as exc:
                return error_response(invalid_payload(str(exc)), None)
            return json_response(result)

        route = ControlRoute(method, f"/_emulator/{path}", wrapper, fields, example, list_field)
        CONTROL_ROUTES.append(route)
        return handler

    return declare


async def _payload(request: web.Request, route: ControlRoute) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    raw = await read_body(request, limit=64 * 1024 * 1024)
    if not raw.strip():
        return {}
    try:
        payload = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_payload(f"The body is not valid JSON: {exc}") from None
    if route.list_field is not None and isinstance(payload, list):
        payload = {route.list_field: payload}
    where = f"{route.method} {route.path}"
    if not isinstance(payload, dict):
        if not route.fields:
            raise invalid_payload(f"{where} takes no body, got a JSON {_json_type(payload)}")
        raise invalid_payload(
            f"The body of {where} must be a JSON object such as {route.example},"
            f" got a JSON {_json_type(payload)}"
        )
    if route.fields != SETTINGS:
        unknown = [key for key in payload if key not in route.fields]
        if unknown and not route.fields:
            raise invalid_payload(f"{', '.join(unknown)}: {where} takes no body")
        if unknown:
            noun = "unknown field" if len(unknown) == 1 else "unknown fields"
            raise invalid_payload(
                f"{', '.join(unknown)}: {noun}; {where} takes {', '.join(route.fields)}"
            )
    return payload


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else type(value).__name__


@_route("POST", "reset", fields=SETTINGS, example='{"rate_limit": 600}')
async def reset(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/reset``: clear all state; the body may carry settings."""
    await state.reset(payload)
    return {"reset": True, "config": state.settings.to_json()}


_PATTERNS = {
    "source_id": "seed-{i}",
    "name": "Customer {i}",
    "email": "customer{i}@example.com",
    "city": None,
    "phone": None,
}


_SEED_FIELDS = (
    "count",
    "same_created_at",
    "start",
    "step_ms",
    "order",
    *_PATTERNS,
    "metadata",
    "activity",
)


@_route("POST", "seed/customers", fields=_SEED_FIELDS, example='{"count": 100}')
async def seed_customers(
    _request: web.Request, state: EmulatorState, payload: dict[str, Any]
) -> Any:
    """``POST /_emulator/seed/customers`` -> ``{created, first_created_at, last_created_at}``."""
    if "count" not in payload:
        raise ValueError('count: required, the number of customers to create ({"count": 100})')
    count = _int(payload, "count", 0, minimum=0)
    start = payload.get("start")
    if start is not None and not isinstance(start, str):
        raise ValueError(f"start: must be an ISO 8601 date-time, got {shown(start)}")
    order = payload.get("order", "ascending")
    if order not in ("ascending", "descending"):
        raise ValueError(f"order: must be 'ascending' or 'descending', got {shown(order)}")
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"metadata: must be an object, got {shown(metadata)}")
    activity = payload.get("activity", False)
    if not isinstance(activity, bool):
        raise ValueError(f"activity: must be true or false, got {shown(activity)}")
    cities = payload.get("city")
    if isinstance(cities, list):
        if not cities or not all(isinstance(c, str) and c for c in cities):
            raise ValueError("city: a list of cities must hold non-empty strings")
        payload = {**payload, "city": None}
    else:
        cities = None
    patterns: dict[str, str | None] = {}
    for key, default in _PATTERNS.items():
        value = payload.get(key, default)
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f"{key}: must be a string pattern (with {{i}}) or null, got {shown(value)}"
            )
        patterns[key] = value
    city_pattern = patterns.pop("city")
    result = state.store.seed(
        count,
        city=cities if cities is not None else city_pattern,
        activity=activity,
        same_created_at=_int(payload, "same_created_at", 1, minimum=1),
        start_ms=_datetime("start", start) if start else None,
        step_ms=_int(payload, "step_ms", 1, minimum=0),
        descending=order == "descending",
        metadata=metadata,
        **patterns,
    )
    return {
        "created": result.created,
        "first_created_at": _stamp(result.first_created_at),
        "last_created_at": _stamp(result.last_created_at),
        "total": len(state.store),
    }


@_route(
    "POST",
    "seed/segments",
    fields=("id", "name", "customer_ids"),
    example='{"name": "VIP", "customer_ids": ["seed-1"]}',
)
async def seed_segment(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/seed/segments`` {id?, name, customer_ids} -> the segment."""
    store = state.store
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: must be a non-empty string, got {shown(name)}")
    segment_id = payload.get("id") or store.ids.alnum("seg_")
    if not isinstance(segment_id, str):
        raise ValueError(f"id: must be a string, got {shown(segment_id)}")
    refs = payload.get("customer_ids", [])
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        raise ValueError(
            f"customer_ids: must be a list of customer ids or source ids, got {shown(refs)}"
        )
    segment = Segment(id=segment_id, name=name)
    for ref in refs:
        customer = store.find(ref)
        if customer is None:
            raise not_found("customer", ref)
        segment.add(customer)
    store.segments.put(segment)
    return {**segment.to_json(), "customer_ids": [c.id for c in segment.members]}


@_route(
    "POST",
    "seed/redeemables",
    fields=("customer_id", *REDEEMABLE_FIELDS),
    example='{"customer_id": "seed-1", "holder_role": "OWNER"}',
)
async def seed_redeemable(
    _request: web.Request, state: EmulatorState, payload: dict[str, Any]
) -> Any:
    """``POST /_emulator/seed/redeemables`` {customer_id, ...} -> the redeemable."""
    ref = payload.get("customer_id")
    if not isinstance(ref, str):
        raise ValueError(f"customer_id: required, a customer id or source id, got {shown(ref)}")
    customer = state.store.find(ref)
    if customer is None:
        raise not_found("customer", ref)
    spec = {key: value for key, value in payload.items() if key != "customer_id"}
    redeemable = build_redeemable(spec, customer_id=customer.id, ids=state.store.ids, now=now_ms())
    state.store.redeemables.add(customer.id, redeemable)
    return redeemable.data


@_route("GET", "config")
async def get_config(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/config``: the current settings."""
    return state.settings.to_json()


@_route("POST", "config", fields=SETTINGS, example='{"error_rate": 0.1}')
async def set_config(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/config``: change settings (all or nothing); returns them."""
    state.configure(payload)
    return state.settings.to_json()


@_route(
    "POST",
    "faults/script",
    fields=("faults", "replace"),
    example='{"faults": [{"kind": "error", "status": 503}], "replace": false}',
    list_field="faults",
)
async def add_faults(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/faults/script`` {faults: [...], replace?} (or a bare list)."""
    entries = parse_script(payload)
    replace = payload.get("replace", False)
    if not isinstance(replace, bool):
        raise ValueError(f"replace: must be true or false, got {shown(replace)}")
    if replace:
        state.faults.script.clear()
    state.faults.add_script(entries)
    return {"faults": [entry.to_json() for entry in state.faults.script]}


@_route("GET", "faults/script")
async def get_faults(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/faults/script``: the entries still queued."""
    return {"faults": [entry.to_json() for entry in state.faults.script]}


@_route("DELETE", "faults/script")
async def clear_faults(
    _request: web.Request, state: EmulatorState, _payload: dict[str, Any]
) -> Any:
    """``DELETE /_emulator/faults/script``: empty the queue."""
    state.faults.script.clear()
    return {"faults": []}


@_route("GET", "state/customers")
async def customer_state(
    _request: web.Request, state: EmulatorState, _payload: dict[str, Any]
) -> Any:
    """``GET /_emulator/state/customers`` -> ids and source_ids, oldest first (aligned)."""
    customers = state.store.created.items
    return {
        "ids": [c.id for c in customers],
        "source_ids": [c.source_id for c in customers],
    }


@_route("GET", "stats")
async def stats(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/stats``: request counters."""
    return {**state.stats.to_json(), "customers": len(state.store)}


@_route("GET", "quota")
async def quota(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/quota``: the billing-cycle quota, how much is used and left.

    Set it with ``POST /_emulator/config {"quota": N}`` (a new cycle starts at 0 used).
    """
    cycle = state.quota
    if cycle is None:
        return {"quota": None, "used": None, "remaining": None, "cycle_ends_at": None}
    return {
        "quota": cycle.limit,
        "used": cycle.used,
        "remaining": cycle.remaining,
        "cycle_ends_at": format_ms(cycle.ends_epoch * 1000),
    }


@_route("GET", "health")
async def health(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/health``: liveness."""
    return {"status": "ok", "customers": len(state.store)}


def add_control_routes(app: web.Application) -> None:
    """Register every ``/_emulator/`` route of ``CONTROL_ROUTES`` on ``app``."""
    for route in CONTROL_ROUTES:
        if route.method == "GET":
            app.router.add_get(route.path, route.handler, allow_head=False)
        else:
            app.router.add_route(route.method, route.path, route.handler)


def _int(payload: dict[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = payload.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key}: must be an integer >= {minimum}, got {shown(value)}")
    return value


def _datetime(key: str, text: str) -> int:
    try:
        return parse_datetime_ms(text)
    except ValueError:
        raise ValueError(f"{key}: must be an ISO 8601 date-time, got {shown(text)}") from None


def _stamp(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)
