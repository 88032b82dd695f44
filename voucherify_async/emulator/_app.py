"""The aiohttp application: the /v1 gateway, the control routes, JSON error pages.

Every /v1 request goes through the gateway, in this order:

1. counted in the stats;
2. the rate limits, always on (a generous default): over ``rate_limit`` per period ->
   429 ``api_calls``; then the billing-cycle ``quota`` when one is set -> 429
   ``api_calls_cycle``; then, on the bulk endpoints, ``bulk_rate_limit`` -> 429
   ``bulk_api_calls``;
3. the fault injector: latency is slept; ``drop``/``error``/``html``/``rate_limit``
   answer here, before any handler could change state;
4. authentication (``X-App-Id`` / ``X-App-Token``) -> 401;
5. routing and the handler (404/405 for unknown routes or methods);
6. rate-limit headers (of the per-period limit) on whatever the answer is, 429s
   included; a ``truncate`` fault cuts a successful answer that has a body (an error or
   a 204 is sent whole).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ._config import Settings
from ._control import add_control_routes
from ._errors import EmulatorHTTPError, error_body
from ._faults import FaultDecision, html_page
from ._http import error_response, json_response
from ._ratelimit import RateDecision
from ._routes import Context, dispatch
from ._state import STATE_KEY, EmulatorState
from ._store import SEED_CITIES

__all__ = ["create_app", "get_state"]

_log = logging.getLogger("voucherify_async.emulator")
# Above the 10 MB API limit, so the emulator's own 413 answers, not aiohttp's.
_CLIENT_MAX_SIZE = 64 * 1024 * 1024
# aiohttp refuses a request line or header over 8 KB before any handler runs, with a
# text page and a traceback in the log; long ids and filters get JSON answers instead.
_MAX_LINE = 1024 * 1024
_BULK_PATHS = frozenset(
    {"/v1/customers/bulk/async", "/v1/customers/metadata/async", "/v1/customers/importCSV"}
)


def create_app(
    settings: Settings | None = None,
    *,
    seed: int = 0,
    seed_activity: bool = False,
    **options: Any,
) -> web.Application:
    """Build the emulator as an ``aiohttp.web.Application``, for embedding.

    Args:
        settings: the start-up settings (the defaults when left out); copied.
        seed: customers created at once (see ``/_emulator/seed/customers`` for their
            shape), living in turn in the ``SEED_CITIES`` (Warsaw first).
        seed_activity: give the seeded customers activity and redeemables too.
        **options: settings by name (any field of ``Settings``: ``rate_limit``,
            ``error_rate`` ...), applied over ``settings``.

    Returns:
        The application; its job worker starts and stops with it.

    Raises:
        SettingsError: an option is unknown or its value is not allowed.

    Examples:
        ```python
        app = create_app(rate_limit=100, seed=1000)
        web.run_app(app, host="127.0.0.1", port=8080)
        ```
    """
    settings = Settings() if settings is None else settings.copy()
    settings.apply(options)
    state = EmulatorState(settings)
    if seed:
        state.store.seed(seed, city=SEED_CITIES, activity=seed_activity)
    app = web.Application(
        middlewares=[_json_errors],
        client_max_size=_CLIENT_MAX_SIZE,
        handler_args={"max_line_size": _MAX_LINE, "max_field_size": _MAX_LINE},
    )
    app[STATE_KEY] = state
    app.router.add_route("*", "/v1", _gateway)
    app.router.add_route("*", "/v1/{tail:.*}", _gateway)
    add_control_routes(app)
    app.on_startup.append(_start_jobs)
    app.on_cleanup.append(_stop_jobs)
    return app


def get_state(app: web.Application) -> EmulatorState:
    """The ``EmulatorState`` behind an app made by ``create_app``."""
    return app[STATE_KEY]


async def _start_jobs(app: web.Application) -> None:
    await app[STATE_KEY].jobs.start()


async def _stop_jobs(app: web.Application) -> None:
    await app[STATE_KEY].jobs.stop()


def _authorized(request: web.Request, state: EmulatorState) -> bool:
    app_id = request.headers.get("X-App-Id", "")
    token = request.headers.get("X-App-Token", "")
    # compare_digest on both, so a wrong id takes as long as a wrong token.
    id_ok = hmac.compare_digest(app_id.encode(), state.settings.app_id.encode())
    token_ok = hmac.compare_digest(token.encode(), state.settings.app_token.encode())
    return id_ok and token_ok


async def _gateway(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    stats = state.stats
    stats.requests_total += 1
    request_id = state.store.ids.request()
    rate = state.limiter.hit()
    refused = _refusal(request, state, rate)
    truncate = False
    response: web.StreamResponse | None
    if refused is not None:
        stats.rate_limited += 1
        response = error_response(EmulatorHTTPError(429), request_id)
        response.headers.update(refused.rejection_headers())
    else:
        decision = state.faults.decide(request.method, request.rel_url.raw_path)
        if decision.delay_s > 0:
            stats.faults["latency"] += 1
            await asyncio.sleep(decision.delay_s)
        if decision.kind == "drop":
            stats.faults["drop"] += 1
            return _drop(request)
        response = _injected(decision, request_id)
        if response is not None:
            stats.faults[str(decision.kind)] += 1
        else:
            truncate = decision.kind == "truncate"
            response = await _answer(request, state, request_id)
    response.headers.update(rate.headers())
    stats.by_status[str(response.status)] += 1
    if (
        truncate
        and 200 <= response.status < 300
        and isinstance(response, web.Response)
        and len(_body_bytes(response)) >= 2
    ):
        stats.faults["truncate"] += 1
        return await _truncated(request, response)
    return response


def _refusal(request: web.Request, state: EmulatorState, rate: RateDecision) -> RateDecision | None:
    """The limit a request is over, if any (the per-period one, the quota, the bulk one)."""
    if not rate.allowed:
        return rate
    if state.quota is not None:
        spent = state.quota.take()
        if spent is not None:
            return spent
    if request.method == "POST" and request.rel_url.raw_path in _BULK_PATHS:
        bulk = state.bulk_limiter.hit()
        if not bulk.allowed:
            return bulk
    return None


def _injected(decision: FaultDecision, request_id: str) -> web.Response | None:
    """The answer an error, html or rate_limit fault gives instead of the handler's."""
    if decision.kind == "error":
        return error_response(EmulatorHTTPError(decision.status), request_id)
    if decision.kind == "html":
        return web.Response(
            text=html_page(decision.status), status=decision.status, content_type="text/html"
        )
    if decision.kind == "rate_limit":
        response = error_response(EmulatorHTTPError(decision.status), request_id)
        response.headers["Retry-After"] = str(decision.retry_after)
        response.headers["X-Rate-Limit-Type"] = "api_calls"
        return response
    return None


async def _answer(
    request: web.Request, state: EmulatorState, request_id: str
) -> web.StreamResponse:
    try:
        if not _authorized(request, state):
            raise EmulatorHTTPError(
                401,
                details="Missing or invalid X-App-Id / X-App-Token headers",
            )
        return await dispatch(Context(request, state, request_id))
    except EmulatorHTTPError as exc:
        return error_response(exc, request_id)
    except (ConnectionResetError, web.HTTPException, asyncio.CancelledError):
        # The client went away mid-request (an aborted upload): nothing to answer, no bug.
        raise
    except Exception:  # an emulator bug must look like an API 500, not a text page
        _log.exception("emulator handler failed for %s %s", request.method, request.path)
        return error_response(EmulatorHTTPError(500, details="The emulator failed"), request_id)


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.close()
    # aiohttp finds the transport closed when it tries to send this, and gives up quietly.
    return web.Response(status=500)


def _body_bytes(response: web.Response) -> bytes:
    body = response.body
    return bytes(body) if isinstance(body, (bytes, bytearray)) else b""


async def _truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    body = _body_bytes(response)
    partial = web.StreamResponse(status=response.status, headers=response.headers)
    partial.content_length = len(body)
    await partial.prepare(request)
    await partial.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()  # flushes what was written, then closes: the rest never comes
    return partial


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's text error pages (404, 405 ...) into the API's JSON error objects."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_response(
            error_body(exc.status, details=f"{request.method} {request.path}: {exc.reason}"),
            status=exc.status,
        )
        allow = exc.headers.get("Allow")
        if allow is not None:
            response.headers["Allow"] = allow
        return response
