"""HTTPS and mutual TLS on the emulator (``certfile``, ``keyfile``, ``client_ca``), every mode."""

from __future__ import annotations

import dataclasses
import gc
import socket
import ssl
import sys
import time
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
import trustme

from voucherify_async.emulator import Emulator
from voucherify_async.emulator.__main__ import main
from voucherify_async.emulator._tls import pinned_context

Mode = Literal["loop", "thread", "process"]

# Python 3.10's asyncio leaves the TLS transport of a connection the server refused mid-
# handshake for the garbage collector (fixed by the new sslproto of 3.11): not ours to close.
PY310_TLS_LEAK = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
    if sys.version_info < (3, 11)
    else "error::pytest.PytestUnraisableExceptionWarning"
)


@dataclasses.dataclass(frozen=True)
class Files:
    ca: Path  # the CA's certificate
    server: Path  # key and chain of a certificate for 127.0.0.1, one file
    server_cert: Path  # the same certificate alone ...
    server_key: Path  # ... and its key alone
    other_server: Path  # another certificate for 127.0.0.1 from the same CA
    client: Path  # key and chain of a client certificate from the CA
    stranger: Path  # key and chain of a client certificate from another CA


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    where = tmp_path_factory.mktemp("tls")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    found = Files(
        ca=where / "ca.pem",
        server=where / "server.pem",
        server_cert=where / "server-cert.pem",
        server_key=where / "server-key.pem",
        other_server=where / "other-server.pem",
        client=where / "client.pem",
        stranger=where / "stranger.pem",
    )
    ca.cert_pem.write_to_path(found.ca)
    server.private_key_and_cert_chain_pem.write_to_path(found.server)
    server.cert_chain_pems[0].write_to_path(found.server_cert)
    server.private_key_pem.write_to_path(found.server_key)
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(found.other_server)
    ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(found.client)
    stranger = other_ca.issue_cert("client@example.com")
    stranger.private_key_and_cert_chain_pem.write_to_path(found.stranger)
    return found


def trusting(ca: Path, client: Path | None = None) -> ssl.SSLContext:
    """A client context that trusts ``ca`` and presents ``client``'s certificate, if given."""
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(client)
    return context


async def get_customers(emu: Emulator, tls: ssl.SSLContext | bool) -> int:
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.get(emu.url + "/v1/customers", ssl=tls) as response,
    ):
        return response.status


@pytest.mark.parametrize("mode", ["thread", "process", "loop"])
async def test_serves_https_to_a_client_that_trusts_the_ca(files: Files, mode: Mode) -> None:
    async with Emulator(mode=mode, certfile=files.server, seed=2) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        assert emu.env["VOUCHERIFY_BASE_URL"] == emu.url
        assert await get_customers(emu, trusting(files.ca)) == 200
        # The control methods trust the served certificate themselves.
        await emu.seed_customers(3)
        assert len(await emu.customer_ids()) == 5
        assert (await emu.stats())["by_status"] == {"200": 1}


@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_a_separate_key_file(files: Files, mode: Mode) -> None:
    emu = Emulator(mode=mode, certfile=str(files.server_cert), keyfile=str(files.server_key))
    async with emu:
        assert await get_customers(emu, trusting(files.ca)) == 200
        assert (await emu.stats())["requests_total"] == 1


@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(
    files: Files, mode: Mode
) -> None:
    async with Emulator(mode=mode, certfile=files.server) as emu:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get_customers(emu, True)  # the system's CAs
        with pytest.raises(aiohttp.ClientConnectionError):  # plain HTTP to an HTTPS port
            await get_customers_over_http(emu)
        assert (await emu.stats())["requests_total"] == 0


async def get_customers_over_http(emu: Emulator) -> int:
    async with (
        aiohttp.ClientSession(headers=emu.headers) as session,
        session.get(emu.url.replace("https://", "http://") + "/v1/customers") as response,
    ):
        return response.status


@PY310_TLS_LEAK
@pytest.mark.parametrize("mode", ["thread", "process"])
async def test_mutual_tls_requires_a_client_certificate_from_the_ca(
    files: Files, mode: Mode
) -> None:
    control = trusting(files.ca, files.client)
    emu = Emulator(
        mode=mode,
        certfile=files.server,
        client_ca=files.ca,
        control_ssl=control,
    )
    async with emu:
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_customers(emu, trusting(files.ca))  # no client certificate
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_customers(emu, trusting(files.ca, files.stranger))  # another CA's
        assert await get_customers(emu, trusting(files.ca, files.client)) == 200
        assert (await emu.stats())["requests_total"] == 1  # through control_ssl


async def test_mutual_tls_control_calls_without_control_ssl_say_what_to_pass(
    files: Files,
) -> None:
    async with Emulator(certfile=files.server, client_ca=files.ca) as emu:
        with pytest.raises(RuntimeError, match=r"client_ca.*control_ssl"):
            await emu.stats()
        assert await get_customers(emu, trusting(files.ca, files.client)) == 200


async def test_the_control_calls_trust_only_the_served_certificate(files: Files) -> None:
    # Pinned to another certificate of the same CA: refused, though the CA is the same.
    pinned_elsewhere = pinned_context(files.other_server)
    async with Emulator(certfile=files.server, control_ssl=pinned_elsewhere) as emu:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await emu.stats()
    async with Emulator(certfile=files.server, control_ssl=pinned_context(files.server)) as emu:
        assert (await emu.stats())["requests_total"] == 0


def test_bad_tls_options_are_refused_before_starting(files: Files, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"keyfile": files.server_key}, r"^keyfile: needs certfile"),
        ({"client_ca": files.ca}, r"^client_ca: needs certfile"),
        ({"control_ssl": trusting(files.ca)}, r"^control_ssl: needs certfile"),
        ({"certfile": files.server, "control_ssl": "yes"}, r"^control_ssl: must be an"),
        ({"certfile": missing}, r"^certfile: no such file: .*missing\.pem"),
        ({"certfile": files.server_cert, "keyfile": missing}, r"^keyfile: no such file"),
        ({"certfile": files.server, "client_ca": missing}, r"^client_ca: no such file"),
        ({"certfile": tmp_path}, r"^certfile: no such file"),  # a directory
        ({"certfile": not_pem}, r"^certfile: cannot load"),
        ({"certfile": files.server_cert}, r"^certfile: cannot load"),  # no key in it
        ({"certfile": files.server_cert, "keyfile": files.client}, r"^certfile/keyfile: "),
        ({"certfile": files.server, "client_ca": not_pem}, r"^client_ca: cannot load"),
    ]
    for options, message in cases:
        modes: tuple[Mode, ...] = ("loop", "thread", "process")
        for mode in modes:
            with pytest.raises(ValueError, match=message):
                Emulator(mode=mode, **options)


def test_the_command_line_serves_https_and_checks_its_tls_flags(
    files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--help"]) == 0
    usage = capsys.readouterr().out
    assert all(flag in usage for flag in ("--certfile", "--keyfile", "--client-ca"))
    bad = [
        (["--keyfile", str(files.server_key)], "error: --keyfile: needs --certfile"),
        (["--client-ca", str(files.ca)], "error: --client-ca: needs --certfile"),
        (["--certfile", str(tmp_path / "none.pem")], "error: --certfile: no such file"),
        (["--certfile", str(files.server_cert)], "error: --certfile: cannot load"),
    ]
    for argv, message in bad:
        assert main(["--port", "0", *argv]) == 2
        assert capsys.readouterr().err.startswith(message)


def test_a_thread_emulator_stopping_mid_handshake_closes_the_connection(
    files: Files, caplog: pytest.LogCaptureFixture
) -> None:
    """A client still in its TLS handshake when the server thread stops: no task or socket
    is left for the garbage collector to warn about."""
    leaks: list[str] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: leaks.append(repr(unraisable.exc_value))
    try:
        with Emulator(mode="thread", certfile=files.server) as emu:
            host, _, port = emu.url.removeprefix("https://").partition(":")
            silent = socket.create_connection((host, int(port)))  # connects, never says hello
            time.sleep(0.3)  # the server's loop accepts it and waits for the handshake
        silent.close()
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert leaks == []
    assert "Task was destroyed" not in caplog.text
