"""The ``proxy`` and ``auth_proxy`` fixtures: a real tinyproxy between aiohttp and the emulator.

Plain HTTP goes through as absolute-URI requests, HTTPS through a CONNECT tunnel; the
authenticating proxy answers 407 until it gets its Basic credentials.
"""

from __future__ import annotations

import base64
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from proxy_server import TinyProxy

from voucherify_async.emulator import Emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(mode="thread", seed=3) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ca.pem`` and ``server.pem`` (key and chain for 127.0.0.1) in a folder."""
    where = tmp_path_factory.mktemp("proxy-tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(where / "ca.pem")
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(where / "server.pem")
    return where


def proxy_authorization(user: str, password: str) -> dict[str, str]:
    """The ``Proxy-Authorization`` header, as aiohttp 3.14 suggests instead of proxy_auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


async def total_through(
    emu: Emulator,
    proxy: str,
    *,
    auth: aiohttp.BasicAuth | None = None,
    proxy_headers: dict[str, str] | None = None,
    tls: bool | ssl.SSLContext = True,
) -> tuple[int, int | None]:
    """The status of ``GET /v1/customers`` through ``proxy`` and the page's ``total``."""
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.get(
            emu.url + "/v1/customers",
            proxy=proxy,
            proxy_auth=auth,
            proxy_headers=proxy_headers,
            ssl=tls,
        ) as response,
    ):
        total = (await response.json())["total"] if response.status == 200 else None
        return response.status, total


async def test_a_get_through_the_proxy_reaches_the_emulator(
    proxy: TinyProxy, emu: Emulator
) -> None:
    assert proxy.url == f"http://127.0.0.1:{proxy.port}" == proxy.url_with_auth
    before = proxy.requests_seen()
    for _ in range(3):  # one session: tinyproxy closes each client connection, aiohttp copes
        assert await total_through(emu, proxy.url) == (200, 3)
    assert proxy.requests_seen() == before + 3
    assert proxy.requests()[-1] == f"GET {emu.url}/v1/customers"
    assert (await emu.stats())["requests_total"] == 3  # the emulator saw them all


async def test_the_auth_proxy_wants_its_credentials(auth_proxy: TinyProxy, emu: Emulator) -> None:
    assert auth_proxy.user is not None and auth_proxy.password is not None
    assert auth_proxy.url_with_auth == (
        f"http://{auth_proxy.user}:{auth_proxy.password}@127.0.0.1:{auth_proxy.port}"
    )
    assert await total_through(emu, auth_proxy.url) == (407, None)
    wrong = auth_proxy.url_with_auth.replace(auth_proxy.password, "wrong")
    status, _ = await total_through(emu, wrong)
    assert status in (401, 407)  # tinyproxy 1.11 answers wrong credentials with a 401
    assert (await emu.stats())["requests_total"] == 0  # refused at the proxy
    assert auth_proxy.requests_seen() == 2  # 407s count: tinyproxy read the requests

    with warnings.catch_warnings():  # aiohttp 3.14 deprecates BasicAuth and proxy_auth
        warnings.simplefilter("ignore", DeprecationWarning)
        right = aiohttp.BasicAuth(auth_proxy.user, auth_proxy.password)
        assert await total_through(emu, auth_proxy.url, auth=right) == (200, 3)
    assert await total_through(emu, auth_proxy.url_with_auth) == (200, 3)
    # Not proxy_headers: aiohttp (3.14.5) sends those on CONNECT only, not on a plain request.
    assert auth_proxy.requests_seen() == 4
    assert (await emu.stats())["requests_total"] == 2


async def test_https_goes_through_a_connect_tunnel(proxy: TinyProxy, certs: Path) -> None:
    trust_ca = ssl.create_default_context(cafile=certs / "ca.pem")
    async with Emulator(mode="thread", seed=2, certfile=certs / "server.pem") as emu:
        assert emu.url.startswith("https://")
        assert await total_through(emu, proxy.url, tls=trust_ca) == (200, 2)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await total_through(emu, proxy.url)  # the tunnel does not make the CA trusted
        port = emu.url.rpartition(":")[2]
        assert proxy.requests() == [f"CONNECT 127.0.0.1:{port}"] * 2


async def test_https_through_the_auth_proxy(auth_proxy: TinyProxy, certs: Path) -> None:
    trust_ca = ssl.create_default_context(cafile=certs / "ca.pem")
    async with Emulator(mode="thread", certfile=certs / "server.pem") as emu:
        with pytest.raises(aiohttp.ClientHttpProxyError) as refused:
            await total_through(emu, auth_proxy.url, tls=trust_ca)
        assert refused.value.status == 407
        assert await total_through(emu, auth_proxy.url_with_auth, tls=trust_ca) == (200, 0)
        assert auth_proxy.user is not None and auth_proxy.password is not None
        header = proxy_authorization(auth_proxy.user, auth_proxy.password)  # on the CONNECT
        assert await total_through(emu, auth_proxy.url, proxy_headers=header, tls=trust_ca) == (
            200,
            0,
        )
        assert (await emu.stats())["requests_total"] == 2
