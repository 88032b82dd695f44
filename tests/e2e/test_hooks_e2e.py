"""Hooks and ``vf.stats`` against the emulator: the events of a call, in order, and counters.

A get retried after a 503 and then a 429, a two-page list, a failed call, a raising hook
and an async hook; the rate-limit waits are taken on an injected clock.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from e2e_helpers import FakeTime

from voucherify_async import (
    Hooks,
    NotFoundError,
    PageEvent,
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    WaitEvent,
)
from voucherify_async.emulator import Emulator


class Recorder(Hooks):
    def __init__(self) -> None:
        self.events: list[Any] = []

    def on_request(self, event: RequestEvent) -> None:
        self.events.append(event)

    def on_response(self, event: ResponseEvent) -> None:
        self.events.append(event)

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(event)

    async def on_wait(self, event: WaitEvent) -> None:  # an async hook is awaited
        self.events.append(event)

    def on_page(self, event: PageEvent) -> None:
        self.events.append(event)


def kinds(events: list[Any]) -> list[str]:
    out = []
    for event in events:
        if isinstance(event, RequestEvent):
            out.append(f"request {event.attempt}")
        elif isinstance(event, ResponseEvent):
            out.append(f"response {event.attempt} {event.status or event.error}")
        elif isinstance(event, RetryEvent):
            out.append(f"retry {event.attempt} {event.cause}")
        elif isinstance(event, WaitEvent):
            out.append(f"wait {event.reason}")
        else:
            out.append(f"page {event.number} {event.items}")
    return out


async def test_a_get_retried_after_a_503_and_a_429_tells_every_step_in_order() -> None:
    hooks, fake = Recorder(), FakeTime()
    async with (
        Emulator() as emu,
        emu.client(hooks=hooks, clock=fake.clock, sleep=fake.sleep) as vf,
    ):
        await vf.customers.create(source_id="bob")
        await emu.script_faults(
            [
                {"kind": "error", "status": 503, "method": "GET"},
                {"kind": "rate_limit", "method": "GET"},
            ]
        )
        hooks.events.clear()
        before = vf.stats.as_dict()
        await vf.customers.get("bob")
        after = vf.stats.as_dict()
    assert kinds(hooks.events) == [
        "request 1",
        "response 1 503",
        "retry 1 HTTP 503",
        "wait backoff",
        "request 2",
        "response 2 429",
        "retry 2 HTTP 429",
        "wait rate_limit",
        "request 3",
        "response 3 200",
    ]
    first = hooks.events[0]
    assert first.template == "/v1/customers/{customerId}" and first.url.endswith("/bob")
    assert all(getattr(e, "template", "").startswith("/v1/customers") for e in hooks.events)
    assert after["requests"] == before["requests"] + 3  # type: ignore[operator]
    assert after["retries"] == before["retries"] + 2  # type: ignore[operator]
    assert after["rate_limited"] == before["rate_limited"] + 1  # type: ignore[operator]
    assert after["rate_limit_wait"] > 0 and after["backoff_wait"] > 0  # type: ignore[operator]


async def test_a_two_page_list_tells_each_page() -> None:
    hooks = Recorder()
    async with Emulator() as emu, emu.client(hooks=hooks) as vf:
        await emu.seed_customers(15)
        seen = [c.id async for c in vf.customers.list(limit=10)]
    pages = [e for e in hooks.events if isinstance(e, PageEvent)]
    assert len(seen) == 15
    assert [(p.number, p.items, p.template) for p in pages] == [
        (1, 10, "/v1/customers"),
        (2, 5, "/v1/customers"),
    ]


async def test_a_failed_call_is_counted_by_its_error_type() -> None:
    hooks = Recorder()
    async with Emulator() as emu, emu.client(hooks=hooks) as vf:
        copy = vf.with_options(timeout=5)
        for _ in range(2):
            with pytest.raises(NotFoundError):
                await copy.customers.get("nobody")
        assert vf.stats.errors == {"NotFoundError": 2}  # shared with with_options copies
        assert vf.stats.calls == 2 and vf.stats.retries == 0
    assert kinds(hooks.events) == ["request 1", "response 1 404"] * 2


async def test_a_raising_hook_is_logged_and_never_breaks_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Hooks):
        def on_request(self, event: RequestEvent) -> None:
            raise RuntimeError("hook bug")

        async def on_response(self, event: ResponseEvent) -> None:
            raise ValueError("async hook bug")

    recorder = Recorder()
    async with Emulator() as emu, emu.client(hooks=[Broken(), recorder]) as vf:
        created = await vf.customers.create(source_id="bob")
        assert (await vf.customers.get("bob")).id == created.id
    raised = [r for r in caplog.records if "hook of Broken raised" in r.getMessage()]
    assert len(raised) == 4 and all(r.levelno == logging.ERROR for r in raised)
    assert kinds(recorder.events) == ["request 1", "response 1 200"] * 2  # the next hook ran


def test_something_that_is_not_a_hook_is_refused() -> None:
    from voucherify_async import AsyncVoucherify, ConfigurationError

    with pytest.raises(ConfigurationError, match="hooks must be Hooks objects"):
        AsyncVoucherify(app_id="i", app_token="t", hooks=[print])  # type: ignore[list-item]


async def test_raw_responses_say_status_headers_elapsed_and_attempts() -> None:
    fake = FakeTime()
    async with Emulator() as emu, emu.client(clock=fake.clock, sleep=fake.sleep) as vf:
        await vf.customers.create(source_id="bob", name="Bob")
        await emu.script_faults([{"kind": "error", "status": 503, "method": "GET"}])
        response = await vf.customers.with_raw_response.get("bob")
        assert (response.status, response.attempts) == (200, 2)
        assert response.parse().name == "Bob"
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.rate_limit.limit is not None and response.elapsed > 0
        assert "X-App-Token" not in response.headers and "***" not in repr(response)
        deleted = await vf.customers.with_raw_response.delete("bob")
        assert deleted.status == 204 and deleted.parse() is None
        await emu.seed_customers(3)
        pager = vf.customers.list(limit=2)
        assert pager.last_response is None
        assert len([c async for c in pager]) == 3
        assert pager.last_response is not None and pager.last_response.status == 200
        assert "starting_after=" in pager.last_response.url  # the last page, not the first
        assert pager.last_response.parse().has_more is False


def _run_with_log(emu: Emulator, level: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import asyncio\n"
        "from voucherify_async import AsyncVoucherify\n"
        "async def main():\n"
        "    async with AsyncVoucherify() as vf:\n"
        "        await vf.customers.create(source_id='bob')\n"
        "        await vf.customers.get('bob')\n"
        "asyncio.run(main())\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **emu.env, "VOUCHERIFY_LOG": level},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_log_switch_gives_one_line_per_request_and_never_the_token() -> None:
    with Emulator(mode="thread") as emu:
        debug = _run_with_log(emu, "debug")
        info = _run_with_log(emu, "info")
        wrong = _run_with_log(emu, "loud")
    assert debug.returncode == 0, debug.stderr
    lines = [line for line in debug.stderr.splitlines() if "voucherify_async:" in line]
    assert len(lines) == 2
    assert "POST /v1/customers -> 200 in" in lines[0] and "(attempt 1)" in lines[0]
    assert "GET /v1/customers/{customerId} -> 200" in lines[1]  # the template, not the id
    assert emu.app_token not in debug.stderr
    assert info.returncode == 0 and info.stderr == ""  # nothing went wrong: nothing to say
    assert wrong.returncode == 1 and "VOUCHERIFY_LOG must be 'debug' or 'info'" in wrong.stderr


async def test_an_async_action_as_a_raw_response() -> None:
    async with Emulator() as emu, emu.client() as vf:
        await vf.customers.create(source_id="bob")
        job = await vf.customers.update_metadata_in_bulk(["bob"], {"tier": "gold"})
        response = await vf.async_actions.with_raw_response.get(job.async_action_id)
    assert response.status == 200 and response.attempts == 1
    assert response.parse().id == job.async_action_id
