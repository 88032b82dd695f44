"""Test controls under ``/_emulator/``: no authentication, no faults, no rate limit.

All bodies are JSON objects (an empty body counts as ``{}``); errors are the usual JSON
error objects with status 400 (``invalid_payload``) or 404.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from ._config import SettingsError
from ._errors import ApiError, invalid_payload, not_found
from ._faults import parse_script
from ._http import error_response, json_response, read_body
from ._redeemables import build_redeemable
from ._segments import Segment
from ._state import STATE_KEY, EmulatorState
from ._store import DuplicateSourceId
from ._time import format_ms, now_ms, parse_datetime_ms

__all__ = ["add_control_routes"]

ControlHandler = Callable[[web.Request, EmulatorState, dict[str, Any]], Awaitable[Any]]


def _control(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE_KEY]
        try:
            payload = await _payload(request)
            result = await handler(request, state, payload)
        except ApiError as exc:
            return error_response(exc, None)
        except (ValueError, SettingsError, DuplicateSourceId) as exc:
            return error_response(invalid_payload(str(exc)), None)
        return json_response(result)

    return wrapper


async def _payload(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    raw = await read_body(request, limit=64 * 1024 * 1024)
    if not raw.strip():
        return {}
    try:
        payload = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_payload(f"The body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise invalid_payload("The body must be a JSON object")
    return payload


@_control
async def reset(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/reset``: clear all state; the body may carry config keys."""
    await state.reset(payload)
    return {"reset": True, "config": state.settings.to_json()}


@_control
async def seed_customers(
    _request: web.Request, state: EmulatorState, payload: dict[str, Any]
) -> Any:
    """``POST /_emulator/seed/customers`` -> ``{created, first_created_at, last_created_at}``."""
    count = _int(payload, "count", 0, minimum=0)
    start = payload.get("start")
    if start is not None and not isinstance(start, str):
        raise ValueError("start: must be an ISO 8601 date-time")
    order = payload.get("order", "ascending")
    if order not in ("ascending", "descending"):
        raise ValueError("order: must be 'ascending' or 'descending'")
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("metadata: must be an object")
    activity = payload.get("activity", False)
    if not isinstance(activity, bool):
        raise ValueError("activity: must be true or false")
    cities = payload.get("city")
    if isinstance(cities, list):
        if not cities or not all(isinstance(c, str) and c for c in cities):
            raise ValueError("city: a list of cities must hold non-empty strings")
        payload = {**payload, "city": None}
    else:
        cities = None
    patterns: dict[str, str | None] = {}
    defaults = {
        "source_id": "seed-{i}",
        "name": "Customer {i}",
        "email": "customer{i}@example.com",
        "city": None,
        "phone": None,
    }
    for key, default in defaults.items():
        value = payload.get(key, default)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key}: must be a string pattern (with {{i}}) or null")
        patterns[key] = value
    city_pattern = patterns.pop("city")
    result = state.store.seed(
        count,
        city=cities if cities is not None else city_pattern,
        activity=activity,
        same_created_at=_int(payload, "same_created_at", 1, minimum=1),
        start_ms=parse_datetime_ms(start) if start else None,
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


@_control
async def seed_segment(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/seed/segments`` {id?, name, customer_ids} -> the segment."""
    store = state.store
    name = payload.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name: must be a non-empty string")
    segment_id = payload.get("id") or store.ids.alnum("seg_")
    if not isinstance(segment_id, str):
        raise ValueError("id: must be a string")
    refs = payload.get("customer_ids", [])
    if not isinstance(refs, list) or not all(isinstance(ref, str) for ref in refs):
        raise ValueError("customer_ids: must be a list of customer ids or source ids")
    segment = Segment(id=segment_id, name=name)
    for ref in refs:
        customer = store.find(ref)
        if customer is None:
            raise not_found("customer", ref)
        segment.add(customer)
    store.segments.put(segment)
    return {**segment.to_json(), "customer_ids": [c.id for c in segment.members]}


@_control
async def seed_redeemable(
    _request: web.Request, state: EmulatorState, payload: dict[str, Any]
) -> Any:
    """``POST /_emulator/seed/redeemables`` {customer_id, ...} -> the redeemable."""
    ref = payload.get("customer_id")
    if not isinstance(ref, str):
        raise ValueError("customer_id: must be a customer id or source id")
    customer = state.store.find(ref)
    if customer is None:
        raise not_found("customer", ref)
    redeemable = build_redeemable(
        payload, customer_id=customer.id, ids=state.store.ids, now=now_ms()
    )
    state.store.redeemables.add(customer.id, redeemable)
    return redeemable.data


@_control
async def get_config(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/config``: the current settings."""
    return state.settings.to_json()


@_control
async def set_config(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/config``: change settings (all or nothing); returns them."""
    state.configure(payload)
    return state.settings.to_json()


@_control
async def add_faults(_request: web.Request, state: EmulatorState, payload: dict[str, Any]) -> Any:
    """``POST /_emulator/faults/script`` {faults: [...], replace?}: queue scripted faults."""
    entries = parse_script(payload)
    if payload.get("replace"):
        state.faults.script.clear()
    state.faults.add_script(entries)
    return {"faults": [entry.to_json() for entry in state.faults.script]}


@_control
async def get_faults(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/faults/script``: the entries still queued."""
    return {"faults": [entry.to_json() for entry in state.faults.script]}


@_control
async def clear_faults(
    _request: web.Request, state: EmulatorState, _payload: dict[str, Any]
) -> Any:
    """``DELETE /_emulator/faults/script``: empty the queue."""
    state.faults.script.clear()
    return {"faults": []}


@_control
async def customer_state(
    _request: web.Request, state: EmulatorState, _payload: dict[str, Any]
) -> Any:
    """``GET /_emulator/state/customers`` -> ids and source_ids, oldest first (aligned)."""
    customers = state.store.created.items
    return {
        "ids": [c.id for c in customers],
        "source_ids": [c.source_id for c in customers],
    }


@_control
async def stats(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/stats``: request counters."""
    return {**state.stats.to_json(), "customers": len(state.store)}


@_control
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


@_control
async def health(_request: web.Request, state: EmulatorState, _payload: dict[str, Any]) -> Any:
    """``GET /_emulator/health``: liveness."""
    return {"status": "ok", "customers": len(state.store)}


def add_control_routes(app: web.Application) -> None:
    """Register every ``/_emulator/`` route on ``app``."""
    router = app.router
    router.add_post("/_emulator/reset", reset)
    router.add_post("/_emulator/seed/customers", seed_customers)
    router.add_post("/_emulator/seed/segments", seed_segment)
    router.add_post("/_emulator/seed/redeemables", seed_redeemable)
    router.add_get("/_emulator/config", get_config, allow_head=False)
    router.add_post("/_emulator/config", set_config)
    router.add_post("/_emulator/faults/script", add_faults)
    router.add_get("/_emulator/faults/script", get_faults, allow_head=False)
    router.add_delete("/_emulator/faults/script", clear_faults)
    router.add_get("/_emulator/state/customers", customer_state, allow_head=False)
    router.add_get("/_emulator/stats", stats, allow_head=False)
    router.add_get("/_emulator/quota", quota, allow_head=False)
    router.add_get("/_emulator/health", health, allow_head=False)


def _int(payload: dict[str, Any], key: str, default: int, *, minimum: int) -> int:
    value = payload.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key}: must be an integer >= {minimum}")
    return value


def _stamp(ms: int | None) -> str | None:
    return None if ms is None else format_ms(ms)
