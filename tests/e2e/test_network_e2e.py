"""The client behind a real proxy (tinyproxy) and against an emulator serving TLS (trustme).

What a user behind a corporate proxy with a private CA types: ``proxy=`` (or
``HTTPS_PROXY`` with the default ``trust_env``), ``ssl=`` a CA bundle, ``client_cert=`` for
mutual TLS. Failures before the request leaves are ``APIConnectionError(sent=False)`` and
retried as usual; no proxy password ever shows.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from e2e_helpers import serve
from proxy_server import TinyProxy

from voucherify_async import APIConnectionError, APIStatusError, AsyncVoucherify
from voucherify_async.emulator import Emulator

PASSWORD = "proxy-secret"

# Python 3.10's asyncio leaves the TLS transport of a connection the server refused mid-
# handshake for the garbage collector (fixed by the new sslproto of 3.11): not ours to close.
PY310_TLS_LEAK = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
    if sys.version_info < (3, 11)
    else "error::pytest.PytestUnraisableExceptionWarning"
)


class Sleeps:
    """The client's sleep: records the backoffs, waits for none."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)


@dataclasses.dataclass(frozen=True)
class Certs:
    ca: Path
    server: Path
    client: Path


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    where = tmp_path_factory.mktemp("client-tls")
    ca = trustme.CA()
    found = Certs(where / "ca.pem", where / "server.pem", where / "client.pem")
    ca.cert_pem.write_to_path(found.ca)
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(found.server)
    ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(found.client)
    return found


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(mode="thread") as emulator:
        await emulator.seed_customers(3)
        yield emulator


@pytest.fixture
async def tls_emu(certs: Certs) -> AsyncIterator[Emulator]:
    async with Emulator(mode="thread", certfile=certs.server) as emulator:
        await emulator.seed_customers(3)
        yield emulator


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def count(vf: AsyncVoucherify) -> int:
    return len([c async for c in vf.customers.list()])


def assert_no_password(*things: object) -> None:
    for thing in things:
        assert PASSWORD not in str(thing) and PASSWORD not in repr(thing)


# --- proxies --------------------------------------------------------------------------------


async def test_through_a_proxy_given_as_proxy(
    emu: Emulator, proxy: TinyProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    async with emu.client(proxy=proxy.url) as vf:
        assert await count(vf) == 3
        assert vf.transport.proxy == proxy.url  # type: ignore[attr-defined]
    assert proxy.requests_seen() >= 1
    assert all(emu.url in line for line in proxy.requests())


async def test_through_the_proxy_the_environment_names(
    emu: Emulator, proxy: TinyProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    async with emu.client() as vf:  # emu.client() ignores the environment ...
        assert await count(vf) == 3
    assert proxy.requests_seen() == 0
    # ... AsyncVoucherify reads it by default
    async with AsyncVoucherify(app_id=emu.app_id, app_token=emu.app_token, base_url=emu.url) as vf:
        assert await count(vf) == 3
    assert proxy.requests_seen() >= 1


async def test_no_proxy_and_trust_env_false_go_direct(
    emu: Emulator, proxy: TinyProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    async with emu.client(trust_env=False) as vf:
        assert await count(vf) == 3
    no_proxy_env.setenv("NO_PROXY", "localhost,127.0.0.0/8")
    async with emu.client(trust_env=True) as vf:
        assert await count(vf) == 3
        assert vf.transport.proxy is None  # type: ignore[attr-defined]
    assert proxy.requests_seen() == 0


async def test_a_proxy_with_basic_auth_and_no_password_anywhere(
    emu: Emulator,
    auth_proxy: TinyProxy,
    no_proxy_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="voucherify_async")
    async with emu.client(proxy=auth_proxy.url_with_auth) as vf:
        assert await count(vf) == 3
        assert_no_password(vf, vf.transport, vf.transport.proxy)  # type: ignore[attr-defined]
    # Without the credentials the proxy refuses: one clear status error, not retried.
    async with emu.client(proxy=auth_proxy.url, max_retries=2) as vf:
        with pytest.raises(APIStatusError) as info:
            await vf.customers.get("anyone")
    assert info.value.status in (401, 407)
    assert "proxy" in str(info.value)
    assert_no_password(info.value, caplog.text)


async def test_a_proxy_that_is_down_is_not_sent_and_is_retried(
    emu: Emulator, no_proxy_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="voucherify_async")
    down = TinyProxy("proxy-user", PASSWORD)  # its port is free: nothing listens
    sleeps = Sleeps()
    async with emu.client(proxy=down.url_with_auth, sleep=sleeps, max_retries=2) as vf:
        with pytest.raises(APIConnectionError) as info:
            await vf.customers.create(name="Keyless")  # unsafe, yet resent: never sent
        stats = await emu.stats()
    error = info.value
    assert error.sent is False and not error.maybe_applied
    assert len(sleeps.seen) == 2  # both retries made
    assert "through the proxy http://proxy-user:***@127.0.0.1" in str(error)
    assert stats["requests_total"] == 0
    assert_no_password(error, error.__cause__, error.__context__, caplog.text)


# --- TLS ------------------------------------------------------------------------------------


async def test_a_private_ca_given_as_ssl(
    tls_emu: Emulator, certs: Certs, no_proxy_env: pytest.MonkeyPatch
) -> None:
    assert tls_emu.url.startswith("https://")
    async with tls_emu.client(ssl=str(certs.ca)) as vf:
        assert await count(vf) == 3


async def test_an_untrusted_certificate_is_refused_not_sent_and_bounded(
    tls_emu: Emulator, no_proxy_env: pytest.MonkeyPatch
) -> None:
    sleeps = Sleeps()
    async with tls_emu.client(sleep=sleeps, max_retries=2) as vf:
        with pytest.raises(APIConnectionError) as info:
            await vf.customers.get("anyone")
        stats = await tls_emu.stats()
    assert info.value.sent is False
    assert "not trusted" in str(info.value) and "ssl=" in str(info.value)
    assert len(sleeps.seen) == 2
    assert stats["requests_total"] == 0


@PY310_TLS_LEAK
async def test_mutual_tls_with_a_client_certificate(
    certs: Certs, no_proxy_env: pytest.MonkeyPatch
) -> None:
    async with Emulator(mode="thread", certfile=certs.server, client_ca=certs.ca) as emu:
        async with emu.client(ssl=certs.ca, client_cert=str(certs.client)) as vf:
            assert (await vf.customers.list()).customers == []
        async with emu.client(ssl=certs.ca, max_retries=0) as vf:
            with pytest.raises(APIConnectionError):
                await vf.customers.list()


async def test_https_through_an_authenticating_proxy_from_the_environment(
    tls_emu: Emulator, certs: Certs, auth_proxy: TinyProxy, no_proxy_env: pytest.MonkeyPatch
) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", auth_proxy.url_with_auth)
    async with tls_emu.client(ssl=certs.ca, trust_env=True) as vf:
        assert await count(vf) == 3
    assert any(line.startswith("CONNECT") for line in auth_proxy.requests())
    # Without credentials the tunnel is refused: not sent, retried, no password shown.
    no_proxy_env.setenv("HTTPS_PROXY", auth_proxy.url)
    sleeps = Sleeps()
    async with tls_emu.client(ssl=certs.ca, sleep=sleeps, trust_env=True) as vf:
        with pytest.raises(APIConnectionError) as info:
            await vf.customers.get("anyone")
    assert info.value.sent is False
    assert "the proxy refused the connection" in str(info.value)


async def test_a_proxy_for_a_server_we_only_serve_here(no_proxy_env: pytest.MonkeyPatch) -> None:
    """The environment's proxy is read for the API's host once, not per request."""
    hits: list[str] = []

    async def handler(request: Any) -> Any:
        from aiohttp import web

        hits.append(request.path)
        return web.json_response({"object": "list", "customers": [], "total": 0})

    async with serve(handler) as url:
        no_proxy_env.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        no_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        async with AsyncVoucherify(app_id="i", app_token="t", base_url=url) as vf:
            await vf.customers.list()
            no_proxy_env.delenv("NO_PROXY")  # read once: a change now is not seen
            await vf.customers.list()
    assert hits == ["/v1/customers", "/v1/customers"]
