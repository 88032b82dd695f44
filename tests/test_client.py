"""The client: configuration, credentials, session lifecycle, headers, with_options."""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
import warnings

import aiohttp
import anyio
import pytest
from aioresponses import aioresponses

from tests.conftest import APP_ID, APP_TOKEN, BASE, calls, session_of, url
from voucherify_async import (
    CLUSTERS,
    AsyncVoucherify,
    ClientClosedError,
    ConfigurationError,
    VoucherifyError,
    __version__,
)

CUSTOMER = {"id": "cust_1", "object": "customer"}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "VOUCHERIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_missing_credentials_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError) as info:
        AsyncVoucherify()
    message = str(info.value)
    assert "app_id" in message and "VOUCHERIFY_APP_ID" in message
    assert "app_token" in message and "VOUCHERIFY_APP_TOKEN" in message
    with pytest.raises(ConfigurationError, match="app_token") as info:
        AsyncVoucherify(app_id="x")
    assert "app_id (" not in str(info.value)


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        AsyncVoucherify(app_id="x")


def test_credentials_and_host_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOUCHERIFY_APP_ID", "env-id")
    monkeypatch.setenv("VOUCHERIFY_APP_TOKEN", "env-token")
    monkeypatch.setenv("VOUCHERIFY_BASE_URL", "https://dedicated.example.com/")
    vf = AsyncVoucherify()
    assert vf.app_id == "env-id"
    assert vf.base_url == "https://dedicated.example.com"
    # Arguments win over the environment.
    assert AsyncVoucherify(app_id="arg", base_url="http://localhost:1").app_id == "arg"
    assert AsyncVoucherify(cluster="us1").base_url == CLUSTERS["us1"]


def test_clusters() -> None:
    assert AsyncVoucherify(app_id="a", app_token="t").base_url == "https://api.voucherify.io"
    for cluster, host in (
        ("eu", "https://api.voucherify.io"),
        ("us1", "https://us1.api.voucherify.io"),
        ("as1", "https://as1.api.voucherify.io"),
    ):
        assert AsyncVoucherify(app_id="a", app_token="t", cluster=cluster).base_url == host
    with pytest.raises(ConfigurationError, match="cluster must be one of"):
        AsyncVoucherify(app_id="a", app_token="t", cluster="mars")
    with pytest.raises(ConfigurationError, match="not both"):
        AsyncVoucherify(app_id="a", app_token="t", cluster="eu", base_url="https://x")
    with pytest.raises(ConfigurationError, match="base_url"):
        AsyncVoucherify(app_id="a", app_token="t", base_url="ftp://x")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", "10"),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("max_connections", 0),
        ("max_retry_wait", -1),
        ("max_retry_wait", float("inf")),
        ("max_retry_wait", float("nan")),
        ("max_retry_wait", "60"),
        ("max_retry_wait", True),
    ],
)
def test_bad_options_name_the_option(option: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=option):
        AsyncVoucherify(app_id="a", app_token="t", **{option: value})  # type: ignore[arg-type]


def test_session_must_be_an_aiohttp_session() -> None:
    with pytest.raises(ConfigurationError, match="session"):
        AsyncVoucherify(app_id="a", app_token="t", session=object())  # type: ignore[arg-type]


def test_token_never_in_repr() -> None:
    vf = AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE)
    for text in (
        repr(vf),
        str(vf),
        repr(vf.customers),
        repr(vf.transport),
        repr(vf.rate_limiter),
        repr(vf.with_options(timeout=1)),
    ):
        assert APP_TOKEN not in text
    assert APP_ID in repr(vf)


async def test_headers(api: aioresponses, vf: AsyncVoucherify) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    api.put(url("/v1/customers/c1"), payload=CUSTOMER)
    await vf.customers.get("c1")
    await vf.customers.update("c1", name="x")
    (get_method, _, get_kwargs), (put_method, _, put_kwargs) = calls(api)
    assert (get_method, put_method) == ("GET", "PUT")
    headers = get_kwargs["headers"]
    assert headers["X-App-Id"] == APP_ID
    assert headers["X-App-Token"] == APP_TOKEN
    assert headers["Accept"] == "application/json"
    ua = headers["User-Agent"]
    assert ua.startswith(f"voucherify-async/{__version__} ")
    assert f"Python/{platform.python_version()}" in ua
    assert f"aiohttp/{aiohttp.__version__}" in ua
    assert "Content-Type" not in headers
    assert put_kwargs["headers"]["Content-Type"] == "application/json"
    assert headers["X-Voucherify-Channel"] == f"voucherify-async/{__version__}"
    assert put_kwargs["headers"]["X-Voucherify-Channel"] == f"voucherify-async/{__version__}"
    # The token is sent as itself, but no repr of the headers shows it.
    assert APP_TOKEN not in repr(headers)


async def test_default_headers_cannot_replace_credentials(api: aioresponses) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    async with AsyncVoucherify(
        app_id=APP_ID,
        app_token=APP_TOKEN,
        base_url=BASE,
        default_headers={"X-Trace": "abc", "X-App-Token": "other"},
    ) as vf:
        await vf.customers.get("c1")
    headers = calls(api)[0][2]["headers"]
    assert headers["X-Trace"] == "abc"
    assert headers["X-App-Token"] == APP_TOKEN


async def test_session_is_opened_lazily_and_closed(api: aioresponses) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    vf = AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE)
    assert session_of(vf) is None
    async with vf:
        assert session_of(vf) is None
        await vf.customers.get("c1")
        session = session_of(vf)
        assert session is not None and not session.closed
    assert session.closed
    assert vf.is_closed
    await vf.aclose()  # a second close is harmless
    with pytest.raises(ClientClosedError, match="closed") as info:
        await vf.customers.get("c1")
    assert isinstance(info.value, VoucherifyError) and isinstance(info.value, RuntimeError)
    with pytest.raises(ClientClosedError):
        await vf.with_options(timeout=5).customers.get("c1")  # derived clients share it


async def test_caller_session_is_left_open(api: aioresponses) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    async with aiohttp.ClientSession() as session:
        async with AsyncVoucherify(
            app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, session=session
        ) as vf:
            await vf.customers.get("c1")
            assert session_of(vf) is session
        assert not session.closed


async def test_with_options_shares_the_session(api: aioresponses) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER, repeat=True)
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, timeout=30, max_retries=2
    ) as vf:
        patient = vf.with_options(timeout=120, max_retries=5)
        assert (patient.timeout, patient.max_retries) == (120.0, 5)
        assert (vf.timeout, vf.max_retries) == (30.0, 2)
        assert vf.with_options(max_retries=0).timeout == 30.0
        await vf.customers.get("c1")
        await patient.customers.get("c1")
        assert patient.transport is vf.transport and patient.rate_limiter is vf.rate_limiter
        session = session_of(vf)
        await patient.aclose()  # the derived client does not own the session
        assert session is not None and not session.closed
        await vf.customers.get("c1")
        with pytest.raises(ConfigurationError, match="timeout"):
            vf.with_options(timeout=-5)
        with pytest.raises(ConfigurationError, match="max_retry_wait"):
            vf.with_options(max_retry_wait=-1)
        assert vf.max_retry_wait == 60.0
        assert vf.with_options(max_retry_wait=5).max_retry_wait == 5.0
        assert vf.with_options(timeout=1).max_retry_wait == 60.0
    assert session.closed


async def test_cancelled_request_leaves_no_open_session(api: aioresponses) -> None:
    started = asyncio.Event()

    async def slow(url: object, **kwargs: object) -> None:
        started.set()
        await asyncio.sleep(30)

    api.get(url("/v1/customers/c1"), callback=slow)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vf = AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE)
        async with anyio.create_task_group() as tg:

            async def use() -> None:
                async with vf:
                    await vf.customers.get("c1")

            tg.start_soon(use)
            await started.wait()
            session = session_of(vf)
            tg.cancel_scope.cancel()
        assert vf.is_closed
        assert session is not None and session.closed
        del session
        gc.collect()


async def test_close_from_a_cancelled_scope_still_closes(api: aioresponses) -> None:
    api.get(url("/v1/customers/c1"), payload=CUSTOMER)
    vf = AsyncVoucherify(app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE)
    await vf.customers.get("c1")
    session = session_of(vf)
    assert session is not None
    with anyio.CancelScope() as scope:
        scope.cancel()
        await vf.aclose()  # shielded inside, so the session closes anyway
    assert session.closed


def test_logger_name() -> None:
    assert logging.getLogger("voucherify_async").name == "voucherify_async"


async def test_max_concurrency_bounds_requests_in_flight(api: aioresponses) -> None:
    in_flight = 0
    peak = 0

    async def slow(url: object, **kwargs: object) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    api.get(url("/v1/customers/c1"), callback=slow, payload=CUSTOMER, repeat=True)
    async with AsyncVoucherify(
        app_id=APP_ID, app_token=APP_TOKEN, base_url=BASE, max_concurrency=3
    ) as vf:
        other = vf.with_options(timeout=5)  # shares the limit
        async with anyio.create_task_group() as tg:
            for client in (vf, other) * 10:
                tg.start_soon(client.customers.get, "c1")
    assert peak == 3
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        AsyncVoucherify(app_id="a", app_token="t", max_concurrency=0)
