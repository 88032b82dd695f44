"""A bad day over loopback: every fault class against every kind of call.

For each fault and each of a read, a keyless create, a keyed create, an update and a bulk
job, the client either retries (and the call succeeds on the second arrival) or raises the
named error after the number of arrivals the retry policy allows; no raised error carries
the app token anywhere.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import APP_ID, APP_TOKEN, Sleeps, session_of
from tests.e2e.reliability_helpers import FakeResolver, FaultServer, assert_token_free
from voucherify_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncVoucherify,
    ClientClosedError,
    InternalServerError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    VoucherifyError,
)

CALLS: dict[str, Callable[[AsyncVoucherify], Awaitable[Any]]] = {
    "get": lambda vf: vf.customers.get("c1"),
    "keyless create": lambda vf: vf.customers.create(email="ann@example.com"),
    "keyed create": lambda vf: vf.customers.create(source_id="ann", email="ann@example.com"),
    "update": lambda vf: vf.customers.update("c1", name="Ann"),
    "bulk job": lambda vf: vf.customers.update_in_bulk([{"source_id": "ann"}]),
}
RETRY_SAFE = {"get", "keyed create", "update"}
# Long enough that a loopback connect on a loaded machine never times out (a connect that
# timed out sent nothing and is rightly retried, which the tests below do not expect), short
# enough that the hanging server's read timeouts stay quick.
TIMEOUT = 0.5


def client(base_url: str, sleeps: Sleeps, **options: Any) -> AsyncVoucherify:
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("sleep", sleeps)
    return AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=base_url,
        clock=sleeps.clock,
        jitter=lambda: 0.0,
        **options,
    )


async def outcome(call: str, vf: AsyncVoucherify) -> BaseException | None:
    """Run one call; return what it raised (None if it succeeded)."""
    try:
        await CALLS[call](vf)
    except VoucherifyError as exc:
        return exc
    return None


# --- faults the server makes, after the request reached it ---------------------------------

# fault -> (error a call that is not retry-safe raises, whether retry-safe calls are retried)
AFTER_ARRIVAL: dict[str, type[APIError]] = {
    "reset": APIConnectionError,  # connection reset after the body was read
    "hang": APITimeoutError,  # read timeout: no answer at all
    "garbage": APIConnectionError,  # a status line that is not HTTP
    "truncated": APIConnectionError,  # a 200 whose body is cut short
    "html502": InternalServerError,  # a gateway's HTML 502
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("fault", list(AFTER_ARRIVAL))
async def test_fault_after_arrival(fault: str, call: str, sleeps: Sleeps) -> None:
    async with FaultServer(fault) as server, client(server.url, sleeps) as vf:
        error = await outcome(call, vf)
    if call in RETRY_SAFE:
        assert error is None, f"{call} should have been retried after {fault}: {error}"
        assert len(server.received) == 2
        # aiohttp itself resends a GET or PUT once, at once, when the connection drops
        # (RFC 9112 §9.3.1) while it writes or waits for the status line; a reset that
        # lands later (the timing of a busy machine decides) is ours to retry, after the
        # backoff. Every other second attempt is ours.
        by_aiohttp = fault == "reset" and call in {"get", "update"}
        assert sleeps in ([[], [0.5]] if by_aiohttp else [[0.5]])
    else:
        # Never sent twice: it may have been carried out.
        assert isinstance(error, AFTER_ARRIVAL[fault]), repr(error)
        assert len(server.received) == 1
        assert sleeps == []
        assert error.maybe_applied
        if call == "keyless create":
            assert "email" in str(error) and "source_id" in str(error)
            assert "may have been created" in str(error)
        else:
            assert "async_actions.list()" in str(error)
        assert_token_free(error)


@pytest.mark.parametrize("call", list(CALLS))
async def test_garbage_and_reset_keep_the_cause_by_name(call: str, sleeps: Sleeps) -> None:
    for fault, cause in (("garbage", "ClientResponseError"), ("reset", "")):
        server = FaultServer(fault, faulty=99)
        async with server, client(server.url, sleeps, max_retries=0) as vf:
            error = await outcome(call, vf)
        assert isinstance(error, APIConnectionError)
        assert_token_free(error)
        assert error.__cause__ is None and error.__context__ is None
        assert error.cause_type.endswith(cause) and error.cause_type in str(error)


# --- faults before anything was sent ----------------------------------------------------


@asynccontextmanager
async def resolving_client(
    mode: str, sleeps: Sleeps, **options: Any
) -> AsyncIterator[tuple[AsyncVoucherify, FakeResolver]]:
    resolver = FakeResolver(mode)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    session = aiohttp.ClientSession(connector=connector)
    vf = client("http://api.voucherify.test", sleeps, session=session, **options)
    async with session, vf:
        yield vf, resolver


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("fault", ["refused", "dns", "connect timeout"])
async def test_fault_before_sending_is_retried_for_every_call(
    fault: str, call: str, sleeps: Sleeps, unused_tcp_port: int
) -> None:
    if fault == "refused":
        async with client(f"http://127.0.0.1:{unused_tcp_port}", sleeps) as vf:
            error = await outcome(call, vf)
        attempts = len(sleeps) + 1
    elif fault == "dns":
        async with resolving_client("dns", sleeps) as (vf, resolver):
            error = await outcome(call, vf)
        attempts = resolver.calls
    else:
        # The only connection of the pool is taken by a call the server never answers: the
        # call under test times out waiting for a connection, before anything is sent.
        async with FaultServer("hang", faulty=1) as server:
            async with client(server.url, sleeps, max_connections=1, timeout=0.05) as vf:
                blocker = asyncio.create_task(vf.with_options(timeout=10).customers.get("x"))
                await asyncio.wait_for(server.arrived.wait(), timeout=5)
                error = await outcome(call, vf)
                blocker.cancel()
                await asyncio.gather(blocker, return_exceptions=True)
            # Until a first answer comes back the pacer lets one request out at a time,
            # polling every 10 ms: those waits are not retries.
            sleeps[:] = [pause for pause in sleeps if pause >= 0.5]
            attempts = len(sleeps) + 1
            assert len(server.received) == 1  # only the blocker's request
    expected = APITimeoutError if fault == "connect timeout" else APIConnectionError
    assert isinstance(error, expected), repr(error)
    if fault != "connect timeout":
        assert not isinstance(error, APITimeoutError)
    assert attempts == 3  # 1 + max_retries: nothing was sent, so even a keyless create
    assert sleeps == [0.5, 1.0]
    assert not error.sent and not error.maybe_applied
    assert_token_free(error)


# --- answers that are not errors of the request ---------------------------------------------


@pytest.mark.parametrize("call", list(CALLS))
async def test_429_over_the_rate_limit_is_retried_for_every_call(call: str, sleeps: Sleeps) -> None:
    """A 429 is answered before any work is done: resending cannot do anything twice."""
    async with FaultServer("429") as server, client(server.url, sleeps) as vf:
        error = await outcome(call, vf)
    assert error is None
    assert len(server.received) == 2
    assert sleeps == [pytest.approx(1.0)]


@pytest.mark.parametrize("call", list(CALLS))
async def test_huge_retry_after_raises_at_once(call: str, sleeps: Sleeps) -> None:
    async with FaultServer("429-huge") as server, client(server.url, sleeps) as vf:
        error = await outcome(call, vf)
        assert isinstance(error, RateLimitError) and not isinstance(error, QuotaExceededError)
        assert error.retry_after == 3600
        assert len(server.received) == 1 and sleeps == []
        # The other calls fail at once too, without a request, instead of blocking.
        again = await outcome("get", vf)
        assert isinstance(again, RateLimitError) and again.retry_after is not None
        assert 3500 < again.retry_after <= 3600
        assert len(server.received) == 1 and sleeps == []
        # A client allowed to wait that long does wait (the fake clock moves on).
        assert await outcome("get", vf.with_options(max_retry_wait=7200)) is None
        assert sleeps == [pytest.approx(3600, abs=1)]
        assert len(server.received) == 2
    assert_token_free(error)


@pytest.mark.parametrize("call", list(CALLS))
async def test_quota_spent_is_never_retried_and_holds_nothing_back(
    call: str, sleeps: Sleeps
) -> None:
    async with FaultServer("429-quota") as server, client(server.url, sleeps) as vf:
        error = await outcome(call, vf)
        assert isinstance(error, QuotaExceededError), repr(error)
        assert isinstance(error, RateLimitError)
        assert len(server.received) == 1
        assert not error.maybe_applied
        assert await outcome("get", vf) is None  # sent at once, not held back
    assert sleeps == []
    assert len(server.received) == 2


@pytest.mark.parametrize("call", list(CALLS))
async def test_redirect_is_raised_and_not_followed(call: str, sleeps: Sleeps) -> None:
    async with FaultServer("hang", faulty=0) as elsewhere, FaultServer("redirect") as server:
        server.location = f"{elsewhere.url}/steal"
        async with client(server.url, sleeps) as vf:
            error = await outcome(call, vf)
    assert isinstance(error, RedirectError), repr(error)
    assert error.status == 302 and error.location == f"{elsewhere.url}/steal"
    assert "302" in str(error) and elsewhere.url in str(error)
    assert len(server.received) == 1 and elsewhere.received == []
    assert_token_free(error)


async def test_redirect_loop_is_one_request(sleeps: Sleeps) -> None:
    async with FaultServer("redirect", faulty=99) as server:
        server.location = f"{server.url}/v1/customers/c1"
        async with client(server.url, sleeps) as vf:
            error = await outcome("get", vf)
    assert isinstance(error, RedirectError)
    assert len(server.received) == 1
    assert_token_free(error)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_aiohttp_server_redirect_sends_nothing_to_the_other_server(
    status: int, sleeps: Sleeps
) -> None:
    """Two aiohttp.web servers on loopback: the API's redirect target receives nothing."""
    other_hits: list[str] = []

    async def other(request: web.Request) -> web.Response:
        other_hits.append(request.headers.get("X-App-Token", ""))
        return web.json_response({"id": "cust_evil"})

    other_app = web.Application()
    other_app.router.add_route("*", "/{tail:.*}", other)
    other_runner = web.AppRunner(other_app)
    await other_runner.setup()
    other_site = web.TCPSite(other_runner, "127.0.0.1", 0)
    await other_site.start()
    other_port = other_runner.addresses[0][1]

    async def api(request: web.Request) -> web.Response:
        return web.Response(
            status=status, headers={"Location": f"http://127.0.0.1:{other_port}{request.path}"}
        )

    api_app = web.Application()
    api_app.router.add_route("*", "/{tail:.*}", api)
    api_runner = web.AppRunner(api_app)
    await api_runner.setup()
    await web.TCPSite(api_runner, "127.0.0.1", 0).start()
    api_port = api_runner.addresses[0][1]
    try:
        async with client(f"http://127.0.0.1:{api_port}", sleeps) as vf:
            error = await outcome("keyed create", vf)
    finally:
        await api_runner.cleanup()
        await other_runner.cleanup()
    assert isinstance(error, RedirectError)
    assert error.status == status
    assert error.location == f"http://127.0.0.1:{other_port}/v1/customers"
    assert other_hits == []
    assert_token_free(error)


# --- closing the client under a running call --------------------------------------------


@pytest.mark.parametrize("call", list(CALLS))
async def test_close_during_a_call(call: str, sleeps: Sleeps) -> None:
    async with FaultServer("hang") as server:
        vf = client(server.url, sleeps, timeout=30)
        task = asyncio.create_task(outcome(call, vf))
        await asyncio.wait_for(server.arrived.wait(), timeout=5)
        session = session_of(vf)
        await asyncio.wait_for(vf.aclose(), timeout=5)
        error = await asyncio.wait_for(task, timeout=5)
        assert isinstance(error, ClientClosedError), repr(error)
        assert isinstance(error, RuntimeError)
        assert "closed" in str(error)
        assert session is not None and session.closed
        assert vf.in_flight == 0
        later = await outcome(call, vf)
        assert isinstance(later, ClientClosedError)
        others = [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and t not in server._handlers and not t.done()
        ]
        assert others == []
        assert_token_free(error)
    assert len(server.received) == 1  # not resent by the close
    del session
    gc.collect()  # an unclosed session or connector would warn (an error under -W error)


async def test_close_during_a_retry_wait_ends_the_call(sleeps: Sleeps) -> None:
    """A call sleeping before its next attempt ends at once when the client closes."""
    waiting = asyncio.Event()

    async def long_sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(30)

    async with FaultServer("html502", faulty=99) as server:
        vf = client(server.url, sleeps, sleep=long_sleep)
        task = asyncio.create_task(outcome("get", vf))
        await asyncio.wait_for(waiting.wait(), timeout=5)
        await vf.aclose()
        error = await asyncio.wait_for(task, timeout=5)
    assert isinstance(error, ClientClosedError)
    assert len(server.received) == 1


async def test_channel_header_is_sent(sleeps: Sleeps) -> None:
    from voucherify_async import __version__

    async with FaultServer("html502", faulty=0) as server, client(server.url, sleeps) as vf:
        await vf.customers.get("c1")
    headers = server.received[0].headers
    assert headers["x-voucherify-channel"] == f"voucherify-async/{__version__}"
    assert headers["x-app-token"] == APP_TOKEN  # sent to the API, as it must be
