"""``python -m voucherify_async.emulator``: serve the emulator until SIGINT/SIGTERM.

Prints the three settings a client needs as shell ``export`` lines on stdout (pasted
into a shell, they reach the programs it starts), then a line on stderr, and serves::

    export VOUCHERIFY_BASE_URL=http://127.0.0.1:8080
    export VOUCHERIFY_APP_ID=emulator-app-id
    export VOUCHERIFY_APP_TOKEN=emulator-app-token
    serving on http://127.0.0.1:8080 (Ctrl-C to stop)

``--port 0`` picks a free port; the printed URL has the real one. Only the ``export``
lines are on stdout, so ``> emulator.env`` then ``. emulator.env`` works too.

``--background`` starts the server in its own process, waits until it answers, prints
``export`` lines for a shell (the three settings and ``VOUCHERIFY_EMULATOR_PID``) and
returns, so ``eval "$(voucherify-async emulator --background --port 0)"`` sets up a shell;
``kill $VOUCHERIFY_EMULATOR_PID`` stops the server.

``--certfile cert.pem [--keyfile key.pem]`` serves HTTPS (the printed URL says
``https://``); ``--client-ca ca.pem`` also requires a client certificate signed by that CA
(mutual TLS).

A bad option or a port in use prints one line naming the option, and exits 2.

The settings' options (``--rate-limit``, ``--error-rate`` ...) are made from ``Settings``;
only the start-up options (``--host``, ``--port``, ``--seed`` ...) are declared here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from aiohttp import web

from ..tools._argparse import OneLineParser
from ._app import create_app
from ._config import SettingsError, add_arguments, flag_of, settings_from_args
from ._tls import check_tls_files, server_context

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None, *, prog: str | None = None) -> argparse.Namespace:
    """Parse the command line.

    Example: ``parse_args(["--port", "0", "--seed", "10000"]).seed`` -> ``10000``.
    """
    parser = OneLineParser(
        prog=prog or "python -m voucherify_async.emulator",
        description="A local, stateful emulator of the Voucherify Customers API.",
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help="serve from a process of its own; print `export` lines for eval and return",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="customers to create at start")
    parser.add_argument(
        "--seed-activity", action="store_true", help="give seeded customers activity, redeemables"
    )
    tls = parser.add_argument_group("HTTPS (all PEM files)")
    tls.add_argument(
        "--certfile",
        metavar="PATH",
        help="serve HTTPS with this certificate (and its chain; the key too, or --keyfile)",
    )
    tls.add_argument(
        "--keyfile", metavar="PATH", help="the certificate's private key, if not in --certfile"
    )
    tls.add_argument(
        "--client-ca",
        metavar="PATH",
        help="require a client certificate signed by this CA (mutual TLS); needs --certfile",
    )
    add_arguments(parser)
    return parser.parse_args(argv)


_TLS_FLAGS = ("--certfile", "--keyfile", "--client-ca")


async def _serve(args: argparse.Namespace) -> None:
    settings = settings_from_args(args)
    ssl_context = _ssl_context(args)
    app = create_app(settings, seed=args.seed, seed_activity=args.seed_activity)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as error:
            raise _bind_error(args, error) from None
        port = runner.addresses[0][1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Handlers first: whoever reads the URL below may stop the server at once.
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no add_signal_handler; Ctrl+C then arrives as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        scheme = "http" if ssl_context is None else "https"
        url = f"{scheme}://{host}:{port}"
        for name, value in (
            ("VOUCHERIFY_BASE_URL", url),
            ("VOUCHERIFY_APP_ID", settings.app_id),
            ("VOUCHERIFY_APP_TOKEN", settings.app_token),
        ):
            print(f"export {name}={shlex.quote(value)}")
        sys.stdout.flush()
        print(f"serving on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


class OptionError(Exception):
    """An option's value cannot be used; the message names the option and what is allowed."""


def _settings_message(error: SettingsError) -> str:
    """The message of a settings error, worded as ``Emulator(...)`` words it, with each
    setting's name as its command-line flag: ``--error-rate: must be ..., got 2.0``."""
    flags = " + ".join(flag_of(name) for name in error.names)
    rule = error.rule.removesuffix(" or null")  # the command line cannot say null
    if not error.has_value:
        return f"{flags}: {rule}"
    value = error.value
    shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return f"{flags}: {rule}, got {shown}"


def _check(args: argparse.Namespace) -> None:
    """The checks argparse cannot make, before anything is started."""
    if not 0 <= args.port <= 65535:
        raise OptionError(f"--port: must be from 0 to 65535 (0 picks a free port), got {args.port}")
    if args.seed < 0:
        raise OptionError(f"--seed: must be 0 or more customers, got {args.seed}")
    settings_from_args(args)  # raises SettingsError
    _ssl_context(args)


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The server's TLS context from ``--certfile`` ..., ``None`` for plain HTTP."""
    try:
        files = check_tls_files(args.certfile, args.keyfile, args.client_ca, names=_TLS_FLAGS)
        return server_context(files, names=_TLS_FLAGS) if files.enabled else None
    except ValueError as error:
        raise OptionError(str(error)) from None


def _bind_error(args: argparse.Namespace, error: OSError) -> OptionError:
    where = f"{args.host}:{args.port}"
    if error.errno == errno.EADDRINUSE:
        return OptionError(
            f"--port: {where} is already in use; pick another port, or --port 0 for a free one"
        )
    if error.errno == errno.EACCES:
        return OptionError(f"--port: not allowed to listen on {where}; use a port above 1023")
    return OptionError(f"--host/--port: cannot listen on {where}: {error.strerror or error}")


def _background(argv: Sequence[str]) -> int:
    """Start the server in a process of its own, print ``export`` lines, return."""
    child_argv = [arg for arg in argv if arg != "--background"]
    # Its stderr goes to a file: a pipe would break once this process is gone.
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (handed to the child, closed below)
        "w+", prefix="voucherify-emulator-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "voucherify_async.emulator", *child_argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    with log:
        while len(lines) < 3 and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:  # it exited: it said why on stderr
                process.wait(timeout=10)
                log.seek(0)
                sys.stderr.write(log.read())
                os.unlink(log.name)
                return process.returncode or 1
            lines.append(line.strip())
    process.stdout.close()  # it prints nothing more
    if len(lines) < 3:
        process.terminate()
        print("error: the emulator did not start within 60 s", file=sys.stderr)
        return 1
    for line in lines:  # export NAME=value, quoted for the shell already
        print(line)
    print(f"export VOUCHERIFY_EMULATOR_PID={process.pid}")
    print(f"# stop it with: kill {process.pid}; its log: {log.name}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the emulator from the command line; returns the exit status.

    Errors print one line on stderr (``error: --port: ...``) and return 2.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(arguments, prog=prog)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        _check(args)
        if args.background:
            return _background(arguments)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    except OptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SettingsError as error:
        print(f"error: {_settings_message(error)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
