"""Rate limits, injected faults, the fault script, stats and reset."""

from __future__ import annotations

import asyncio
import math
import time

import aiohttp
import pytest
from emulator_helpers import Http, create

from voucherify_async.emulator import DEFAULT_RATE_LIMIT, Emulator, EmulatorControlError
from voucherify_async.emulator._ratelimit import FixedWindowLimiter

C = "/v1/customers"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_fixed_window_starts_with_its_first_request() -> None:
    clock = FakeClock()
    limiter = FixedWindowLimiter(2, 10.0, clock=clock, wall=lambda: 1_700_000_000.5 + clock.now)
    first = limiter.hit()
    assert (first.allowed, first.remaining) == (True, 1)
    assert first.reset_epoch == math.ceil(1_700_000_000.5 + 1000 + 10)
    clock.now += 4
    assert limiter.hit().remaining == 0
    clock.now += 2.5
    third = limiter.hit()
    assert not third.allowed
    assert third.retry_after == 4  # 3.5 s left, rounded up
    clock.now += 3.5
    fresh = limiter.hit()
    assert (fresh.allowed, fresh.remaining) == (True, 1)
    assert fresh.reset_epoch == math.ceil(1_700_000_000.5 + 1010 + 10)


async def test_rate_limit_headers_and_429(http: Http, emu: Emulator) -> None:
    await emu.configure(rate_limit=3, rate_limit_period=0.5)
    before = time.time()
    remaining = []
    for path in (C, "/v1/nothing", C):
        reply = await http.get(path)
        assert reply.headers["X-Rate-Limit-Limit"] == "3"
        remaining.append(reply.headers["X-Rate-Limit-Remaining"])
        retry_epoch = int(reply.headers["X-Rate-Limit-Retry"])
        assert before <= retry_epoch <= before + 2
    assert remaining == ["2", "1", "0"]
    limited = await http.get(C)
    assert limited.status == 429
    assert limited.json["code"] == 429
    assert limited.json["key"] == "too_many_requests"
    assert limited.json["message"] == "Too many requests hit the API too quickly."
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["X-Rate-Limit-Type"] == "api_calls"
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    unauthenticated = await http.get(C, auth=False)
    assert unauthenticated.status == 429
    # Control routes are never limited and carry no rate-limit headers.
    control = await http.get("/_emulator/stats")
    assert control.status == 200
    assert "X-Rate-Limit-Limit" not in control.headers
    assert control.json["rate_limited"] == 2
    await asyncio.sleep(0.55)
    again = await http.get(C)
    assert again.status == 200
    assert again.headers["X-Rate-Limit-Remaining"] == "2"


async def test_the_default_rate_limit_is_real_and_on_every_answer(http: Http) -> None:
    answers = [
        await http.get(C),
        await http.get(C, auth=False),
        await http.get("/v1/nothing"),
        await http.request("PATCH", C),
        await http.post(C, data=b"{not json", headers={"Content-Type": "application/json"}),
    ]
    assert [a.status for a in answers] == [200, 401, 404, 405, 400]
    for count, reply in enumerate(answers, start=1):
        assert reply.headers["X-Rate-Limit-Limit"] == str(DEFAULT_RATE_LIMIT)
        assert reply.headers["X-Rate-Limit-Remaining"] == str(DEFAULT_RATE_LIMIT - count)
        assert int(reply.headers["X-Rate-Limit-Retry"]) >= time.time()
        assert "X-Rate-Limit-Type" not in reply.headers


async def test_drop_closes_the_connection_before_any_state_change(
    http: Http, emu: Emulator
) -> None:
    await emu.configure(drop_rate=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(C, json={"source_id": "dropped"})
    await emu.configure(drop_rate=0.0)
    assert (await http.get(f"{C}/dropped")).status == 404
    assert (await emu.stats())["faults"] == {"drop": 1}


async def test_truncate_sends_full_length_then_part_of_the_body(http: Http, emu: Emulator) -> None:
    await emu.configure(truncate_rate=1.0)
    url = emu.url + C
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.post(url, json={"source_id": "cut", "name": "x" * 50}) as response,
    ):
        assert response.status == 200
        declared = int(response.headers["Content-Length"])
        assert declared > 100
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    await emu.configure(truncate_rate=0.0)
    # Truncation happens after the handler: the customer exists.
    assert (await http.get(f"{C}/cut")).status == 200


async def test_html_gateway_pages(http: Http, emu: Emulator) -> None:
    await emu.configure(html_rate=1.0, html_statuses=[502, 503, 504], fault_seed=3)
    statuses = set()
    for _ in range(12):
        reply = await http.get(C)
        assert reply.headers["Content-Type"].startswith("text/html")
        assert reply.text.lstrip().startswith("<html>")
        statuses.add(reply.status)
    assert statuses <= {502, 503, 504}
    assert len(statuses) > 1


async def test_error_rate_is_reproducible_with_a_seed(http: Http, emu: Emulator) -> None:
    async def run() -> list[int]:
        await emu.configure(error_rate=0.4, error_statuses=[500, 503], fault_seed=1234)
        return [(await http.get(C)).status for _ in range(30)]

    first = await run()
    second = await run()
    assert first == second
    assert set(first) == {200, 500, 503}
    errors = [s for s in first if s != 200]
    assert 4 <= len(errors) <= 20
    reply = await http.get(C)
    if reply.status != 200:
        assert reply.json["code"] == reply.status


async def test_latency_and_jitter(http: Http, emu: Emulator) -> None:
    await emu.configure(latency_ms=120, jitter_ms=30)
    started = time.perf_counter()
    await http.get(C)
    elapsed = time.perf_counter() - started
    assert 0.12 <= elapsed < 1.0
    await emu.configure(latency_ms=0, jitter_ms=0)
    started = time.perf_counter()
    await http.get(C)
    assert time.perf_counter() - started < 0.1


async def test_the_script_applies_in_order_to_matching_requests(http: Http, emu: Emulator) -> None:
    queued = await emu.script_faults(
        [
            {"kind": "error", "status": 503, "method": "POST", "path": C, "count": 2},
            {"kind": "rate_limit", "path": "/v1/async-actions", "retry_after": 7},
            {"kind": "html", "status": 504, "method": "get"},
            {"kind": "latency", "latency_ms": 150, "method": "DELETE"},
        ]
    )
    assert [entry["kind"] for entry in queued] == ["error", "rate_limit", "html", "latency"]
    html = await http.get(C)  # the first two entries do not match a GET on /v1/customers
    assert html.status == 504
    assert html.headers["Content-Type"].startswith("text/html")
    for _ in range(2):
        failed = await http.post(C, json={"source_id": "s"})
        assert failed.status == 503
        assert failed.json["key"] == "service_unavailable"
    assert (await http.get(f"{C}/s")).status == 404  # the errors came before the handler
    limited = await http.get("/v1/async-actions")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "7"
    assert limited.headers["X-Rate-Limit-Type"] == "api_calls"
    assert limited.json["key"] == "too_many_requests"
    await create(http, source_id="slow")
    started = time.perf_counter()
    assert (await http.delete(f"{C}/slow")).status == 204
    assert time.perf_counter() - started >= 0.15
    assert (await emu.script_faults([])) == []
    stats = await emu.stats()
    assert stats["faults"] == {"error": 2, "html": 1, "latency": 1, "rate_limit": 1}
    assert stats["by_status"]["503"] == 2
    assert stats["too_many_requests"] == 1


async def test_script_drop_and_truncate(http: Http, emu: Emulator) -> None:
    await emu.script_faults([{"kind": "drop", "path": "/v1/customers"}, {"kind": "truncate"}])
    # A POST: aiohttp itself retries an idempotent request once after a dropped connection,
    # so a single scripted drop of a GET would be invisible (and eat the next entry).
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.post(C, json={"source_id": "never"})
    with pytest.raises(aiohttp.ClientPayloadError):
        await http.get(C)
    assert (await http.get(C)).json["total"] == 0


async def test_a_dropped_get_is_retried_once_by_aiohttp(http: Http, emu: Emulator) -> None:
    await emu.script_faults([{"kind": "drop", "method": "GET"}])
    assert (await http.get(C)).status == 200
    await emu.script_faults([{"kind": "drop", "method": "GET", "count": 2}])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await http.get(C)
    assert (await emu.stats())["faults"] == {"drop": 3}


async def test_bad_config_and_scripts_are_rejected(emu: Emulator) -> None:
    bad_configs = [
        {"error_rate": 2},
        {"drop_rate": 0.6, "error_rate": 0.6},
        {"rate_limit": 0},
        {"starting_after_mode": "sometimes"},
        {"error_statuses": [200]},
        {"colour": "blue"},
    ]
    for config in bad_configs:
        with pytest.raises(EmulatorControlError) as caught:
            await emu.configure(**config)
        assert caught.value.status == 400
        assert caught.value.body["key"] == "invalid_payload"
    for script in ([{"kind": "explode"}], [{"kind": "drop", "count": 0}], ["drop"]):
        with pytest.raises(EmulatorControlError):
            await emu.script_faults(script)  # type: ignore[arg-type]
    assert (await emu.config())["error_rate"] == 0.0


async def test_reset_clears_state_but_keeps_credentials_and_rate_limit() -> None:
    emulator = Emulator(app_id="id-1", app_token="token-1", latency_ms=5)
    async with emulator as emu, aiohttp.ClientSession() as session:
        client = Http(session, emu.url, emu.headers)
        await emu.configure(rate_limit=100, drop_rate=0.5, latency_ms=50)
        await emu.script_faults([{"kind": "error"}])
        await emu.seed_customers(5)
        await emu.seed_segment("S", ["seed-1"])
        result = await emu.reset()
        assert result["config"]["rate_limit"] == 100
        assert result["config"]["drop_rate"] == 0.0
        assert result["config"]["latency_ms"] == 5.0  # back to the start-up value
        assert (await emu.customer_ids()) == []
        assert (await emu.stats())["requests_total"] == 0
        reply = await client.get(C)
        assert reply.status == 200  # credentials kept, script cleared
        assert reply.headers["X-Rate-Limit-Limit"] == "100"
        await emu.reset(rate_limit=None, starting_after_mode="inclusive")
        assert (await emu.config())["starting_after_mode"] == "inclusive"
        # null sets the default back: still limited, never unlimited.
        assert (await client.get(C)).headers["X-Rate-Limit-Limit"] == str(DEFAULT_RATE_LIMIT)
        seeded = await emu.seed_customers(3)
        assert seeded["first_created_at"] == "2020-01-01T00:00:00.000Z"
        assert (await emu.customer_state())["source_ids"] == ["seed-1", "seed-2", "seed-3"]


async def test_stats_count_v1_requests_by_status(http: Http, emu: Emulator) -> None:
    await http.get(C)
    await http.get(C, auth=False)
    await http.get("/v1/nothing")
    await http.get("/_emulator/config")
    stats = await emu.stats()
    assert stats["requests_total"] == 3
    assert stats["by_status"] == {"200": 1, "401": 1, "404": 1}
    assert stats["faults"] == {}
