"""The three ways to run an emulator server, one small class each, behind one interface.

- ``LoopRunner``: on the caller's running event loop (``await start()`` only);
- ``ThreadRunner``: on its own event loop in a daemon thread; start and stop are
  synchronous and the server outlives the loops of the tests that call it;
- ``ProcessRunner``: ``python -m voucherify_async.emulator --port 0`` in a subprocess,
  so a benchmark's client and the server do not share a core;
- ``AttachedRunner``: an emulator already running elsewhere (``Emulator.connect``); it
  only knows the URL, and refuses to start or stop what it did not start.

The in-process runners take an optional ``ssl.SSLContext`` and then serve HTTPS (``url``
starts ``https://``); the process runner's command line carries the TLS files itself.

Each has ``url`` (``None`` until it serves), ``app`` (the in-process application, ``None``
in a subprocess), ``start``/``stop`` (coroutines) and ``start_sync``/``stop_sync``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shlex
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

__all__ = ["HOST", "AttachedRunner", "LoopRunner", "ProcessRunner", "Runner", "ThreadRunner"]

HOST = "127.0.0.1"
# In-flight requests (say, ones sleeping on injected latency) get this long on shutdown.
_SHUTDOWN_GRACE_S = 2.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class Runner:
    """Serves one emulator; subclasses say where (this loop, a thread, a process)."""

    url: str | None = None
    app: web.Application | None = None

    async def start(self) -> None:
        """Start serving and wait until the server answers."""
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        """Stop serving and release every socket, task, thread or process."""
        await asyncio.to_thread(self.stop_sync)

    def start_sync(self) -> None:
        """Start serving from synchronous code."""
        raise NotImplementedError

    def stop_sync(self) -> None:
        """Stop serving from synchronous code."""
        raise NotImplementedError


def _url(port: int, ssl_context: ssl.SSLContext | None) -> str:
    scheme = "http" if ssl_context is None else "https"
    return f"{scheme}://{HOST}:{port}"


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the server left on its loop, let the transports close, close the loop.

    The server's cleanup closes its connections, but not one still in its TLS handshake:
    the loop's accept task owns that one until the handshake ends or the task is cancelled.
    """
    left = asyncio.all_tasks(loop)
    for task in left:
        task.cancel()
    if left:
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
    loop.run_until_complete(asyncio.sleep(0))  # the cancelled transports' close callbacks
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


class _Served:
    """An aiohttp app listening on loopback, on the running loop (HTTPS with a context)."""

    def __init__(self, app: web.Application, ssl_context: ssl.SSLContext | None) -> None:
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE_S)
        self.ssl_context = ssl_context

    async def start(self, port: int) -> int:
        await self.runner.setup()
        try:
            site = web.TCPSite(self.runner, HOST, port, ssl_context=self.ssl_context)
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            raise
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        await self.runner.cleanup()


class LoopRunner(Runner):
    """Serves on the caller's running event loop."""

    def __init__(
        self,
        make_app: Callable[[], web.Application],
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._make_app = make_app
        self._port = port
        self._ssl_context = ssl_context
        self._served: _Served | None = None

    async def start(self) -> None:
        """Start serving on the running loop."""
        self.app = self._make_app()
        self._served = _Served(self.app, self._ssl_context)
        port = await self._served.start(self._port)
        self.url = _url(port, self._ssl_context)

    async def stop(self) -> None:
        """Stop serving."""
        served, self._served = self._served, None
        if served is not None:
            await served.close()
        self.url = None
        self.app = None

    def start_sync(self) -> None:
        """Not available: a loop server starts on a running loop."""
        raise RuntimeError("mode='loop' starts with 'await emulator.start()'")

    def stop_sync(self) -> None:
        """Not available: a loop server stops on its loop."""
        raise RuntimeError("mode='loop' stops with 'await emulator.stop()'")


class ThreadRunner(Runner):
    """Serves on an event loop of its own in a daemon thread."""

    def __init__(
        self,
        make_app: Callable[[], web.Application],
        port: int,
        startup_timeout: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._make_app = make_app
        self._port = port
        self._timeout = startup_timeout
        self._ssl_context = ssl_context
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future[None] | None = None

    def start_sync(self) -> None:
        """Start the thread and wait until it serves."""
        app = self._make_app()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(app, started))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
            finally:
                started.set()
                _close_loop(loop)

        self._thread = threading.Thread(target=main, name="voucherify-emulator", daemon=True)
        self._thread.start()
        if not started.wait(self._timeout):
            raise TimeoutError("the emulator thread did not start in time")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError("the emulator thread failed to start") from failure[0]
        self.app = app

    async def _serve(self, app: web.Application, started: threading.Event) -> None:
        served = _Served(app, self._ssl_context)
        port = await served.start(self._port)
        self._stop = asyncio.get_running_loop().create_future()
        self.url = _url(port, self._ssl_context)
        started.set()
        try:
            await self._stop
        finally:
            await served.close()

    def stop_sync(self) -> None:
        """Stop the server and wait for the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        self._thread = self._loop = self._stop = None
        self.app = None
        self.url = None
        if thread is None or loop is None:
            return
        if stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(_resolve, stop)
        thread.join(self._timeout)


class ProcessRunner(Runner):
    """Serves from a subprocess started with ``command()``; reads its URL from its stdout.

    The child prints ``export VOUCHERIFY_BASE_URL=...`` (and the credentials) first.
    """

    def __init__(self, command: Callable[[], list[str]], startup_timeout: float) -> None:
        self._command = command
        self._timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start_sync(self) -> None:
        """Start the process and wait until it prints its URL."""
        env = dict(os.environ)
        # The child must import this very package, installed or not.
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if part
        )
        env["PYTHONUNBUFFERED"] = "1"
        process = subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
        self.process = process
        lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            # Keeps reading until the child exits, so its stdout pipe never fills up.
            for line in stdout:
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=pump, name="voucherify-emulator-stdout", daemon=True)
        self._reader.start()
        found: dict[str, str] = {}
        end = time.monotonic() + self._timeout
        while len(found) < 3:
            try:
                line = lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                self.stop_sync()
                raise TimeoutError("the emulator process did not print its URL in time") from None
            if line is None:
                code = process.wait()
                self.stop_sync()
                raise RuntimeError(f"the emulator process exited with code {code} before serving")
            key, _, value = line.strip().removeprefix("export ").partition("=")
            if key in ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"):
                found[key] = _unquote(value)
        self.url = found["VOUCHERIFY_BASE_URL"]

    def stop_sync(self) -> None:
        """Terminate the process (kill it after 15 s) and wait until it is gone."""
        process, reader = self.process, self._reader
        self.process = self._reader = None
        self.url = None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if reader is not None:
            reader.join(timeout=15)
        if process.stdout is not None:
            process.stdout.close()


class AttachedRunner(Runner):
    """An emulator someone else started and stops: only its URL is known here."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _refuse(self) -> RuntimeError:
        return RuntimeError(
            f"this Emulator is connected to the emulator at {self.url}, which it did not"
            " start: it cannot start or stop it; stop it where it runs (Ctrl-C in its"
            " terminal, or kill $VOUCHERIFY_EMULATOR_PID after --background)"
        )

    async def start(self) -> None:
        """Refused: the emulator runs already, started elsewhere."""
        raise self._refuse()

    async def stop(self) -> None:
        """Refused: the emulator belongs to whoever started it."""
        raise self._refuse()

    def start_sync(self) -> None:
        """Refused: the emulator runs already, started elsewhere."""
        raise self._refuse()

    def stop_sync(self) -> None:
        """Refused: the emulator belongs to whoever started it."""
        raise self._refuse()


def _unquote(value: str) -> str:
    """A value as the shell reads it from an ``export NAME=value`` line."""
    words = shlex.split(value) if value else [""]
    return words[0] if words else ""


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
