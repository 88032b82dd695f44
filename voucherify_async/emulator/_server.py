"""``Emulator``: start the emulator on a loopback port and drive it from tests.

Three ways to run the server:

- ``loop``: on the caller's running event loop (``async with`` only);
- ``thread``: on its own event loop in a daemon thread. Start and stop are synchronous
  and the server outlives the loops of the tests that call it, which suits a
  session-scoped fixture;
- ``process``: ``python -m voucherify_async.emulator --port 0`` in a subprocess, so a
  benchmark's client and the server do not share a core.

The control methods talk HTTP to ``/_emulator/`` and so work the same in every mode and
from any event loop (each call opens and closes its own short session).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import aiohttp
from aiohttp import web

from ._app import create_app, get_state
from ._config import DEFAULT_APP_ID, DEFAULT_APP_TOKEN
from ._store import Store

__all__ = ["Emulator", "EmulatorControlError"]

Mode = Literal["loop", "thread", "process"]

_HOST = "127.0.0.1"
# In-flight requests (say, ones sleeping on injected latency) get this long on shutdown.
_SHUTDOWN_GRACE_S = 2.0
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class EmulatorControlError(RuntimeError):
    """A ``/_emulator/`` control call was refused; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"emulator control call failed with {status}: {body}")
        self.status = status
        self.body = body


class _Served:
    """An aiohttp app listening on loopback, on the running loop."""

    def __init__(self, app: web.Application) -> None:
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_GRACE_S)

    async def start(self, port: int) -> int:
        await self.runner.setup()
        try:
            site = web.TCPSite(self.runner, _HOST, port)
            await site.start()
        except BaseException:
            await self.runner.cleanup()
            raise
        return int(self.runner.addresses[0][1])

    async def close(self) -> None:
        await self.runner.cleanup()


class Emulator:
    """A running Voucherify Customers API emulator on ``127.0.0.1``.

    ``seed`` is how many customers to create at start-up (``seed_activity`` gives them
    activity and redeemables); ``fault_seed`` seeds the fault RNG. ``rate_limit`` (default
    ``DEFAULT_RATE_LIMIT`` per minute) is always on; ``quota`` sets a billing-cycle quota.
    The other options are the emulator's settings (see ``/_emulator/config``).

    Example::

        async with Emulator(rate_limit=600) as emu:
            await emu.seed_customers(1000)
            async with aiohttp.ClientSession(headers=emu.headers) as http:
                await http.get(emu.url + "/v1/customers")

        with Emulator(mode="thread") as emu:   # or mode="process"
            print(emu.env)
    """

    def __init__(
        self,
        *,
        app_id: str = DEFAULT_APP_ID,
        app_token: str = DEFAULT_APP_TOKEN,
        rate_limit: int | None = None,
        rate_limit_period: float = 60.0,
        bulk_rate_limit: int | None = None,
        quota: int | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int = 0,
        seed_activity: bool = False,
        fault_seed: int | None = 0,
        starting_after_mode: str = "exclusive",
        job_item_delay_ms: float = 0.0,
        mode: Mode = "loop",
        port: int = 0,
        startup_timeout: float = 120.0,
    ) -> None:
        if mode not in ("loop", "thread", "process"):
            raise ValueError(f"mode must be 'loop', 'thread' or 'process', not {mode!r}")
        self.mode: Mode = mode
        self.app_id = app_id
        self.app_token = app_token
        self._options: dict[str, Any] = {
            "rate_limit": rate_limit,
            "rate_limit_period": rate_limit_period,
            "bulk_rate_limit": bulk_rate_limit,
            "quota": quota,
            "latency_ms": latency_ms,
            "jitter_ms": jitter_ms,
            "seed": seed,
            "seed_activity": seed_activity,
            "fault_seed": fault_seed,
            "starting_after_mode": starting_after_mode,
            "job_item_delay_ms": job_item_delay_ms,
        }
        self._port = port
        self._startup_timeout = startup_timeout
        self._url: str | None = None
        self._app: web.Application | None = None
        self._served: _Served | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._thread_stop: asyncio.Future[None] | None = None
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self._url or "not running"
        return f"Emulator(mode={self.mode!r}, url={where!r}, app_id={self.app_id!r})"

    # -- what tests use --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:50123`` (the API lives under ``/v1``)."""
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    @property
    def env(self) -> dict[str, str]:
        """``VOUCHERIFY_BASE_URL``, ``VOUCHERIFY_APP_ID`` and ``VOUCHERIFY_APP_TOKEN``."""
        return {
            "VOUCHERIFY_BASE_URL": self.url,
            "VOUCHERIFY_APP_ID": self.app_id,
            "VOUCHERIFY_APP_TOKEN": self.app_token,
        }

    @property
    def headers(self) -> dict[str, str]:
        """The authentication headers every /v1 request needs."""
        return {"X-App-Id": self.app_id, "X-App-Token": self.app_token}

    @property
    def store(self) -> Store:
        """The in-process store, for direct assertions (loop and thread modes only).

        In thread mode the server thread owns it: read it while no request or job runs.
        """
        if self._app is None:
            raise RuntimeError(
                "no in-process store: the emulator is not running, or runs in another process"
            )
        return get_state(self._app).store

    def client(self, **options: Any) -> Any:
        """An ``AsyncVoucherify`` pointed at this emulator with its credentials.

        ``options`` go to the constructor (``timeout``, ``max_retries`` ...).

        Example: ``async with emu.client(max_retries=0) as client: ...``.
        """
        # Looked up at call time: the SDK imports this package (its pytest plugin does),
        # and the emulator must stay usable, and type-check, on its own.
        sdk = importlib.import_module("voucherify_async")
        return sdk.AsyncVoucherify(
            app_id=self.app_id, app_token=self.app_token, base_url=self.url, **options
        )

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __enter__(self) -> Emulator:
        if self.mode == "loop":
            raise RuntimeError("mode='loop' needs 'async with'; use mode='thread' or 'process'")
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_sync()

    async def start(self) -> None:
        """Start serving (loop mode on the running loop; other modes off it)."""
        if self._url is not None:
            raise RuntimeError("the emulator is already running")
        if self.mode == "loop":
            self._app = self._make_app()
            self._served = _Served(self._app)
            port = await self._served.start(self._port)
            self._url = f"http://{_HOST}:{port}"
        else:
            await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        """Stop serving and release every socket, task, thread or process."""
        if self.mode == "loop":
            served, self._served = self._served, None
            if served is not None:
                await served.close()
            self._url = None
            self._app = None
        else:
            await asyncio.to_thread(self.stop_sync)

    def start_sync(self) -> None:
        """Start a ``thread`` or ``process`` mode emulator and wait until it serves."""
        if self._url is not None:
            raise RuntimeError("the emulator is already running")
        if self.mode == "thread":
            self._start_thread()
        elif self.mode == "process":
            self._start_process()
        else:
            raise RuntimeError("mode='loop' starts with 'await emulator.start()'")

    def stop_sync(self) -> None:
        """Stop a ``thread`` or ``process`` mode emulator and wait until it is gone."""
        if self.mode == "thread":
            self._stop_thread()
        elif self.mode == "process":
            self._stop_process()
        else:
            raise RuntimeError("mode='loop' stops with 'await emulator.stop()'")
        self._url = None

    def _make_app(self) -> web.Application:
        return create_app(app_id=self.app_id, app_token=self.app_token, **self._options)

    # -- thread mode -----------------------------------------------------------------

    def _start_thread(self) -> None:
        app = self._make_app()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self._serve_in_thread(app, started))
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
            finally:
                started.set()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=main, name="voucherify-emulator", daemon=True)
        self._thread.start()
        if not started.wait(self._startup_timeout):
            raise TimeoutError("the emulator thread did not start in time")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError("the emulator thread failed to start") from failure[0]
        self._app = app

    async def _serve_in_thread(self, app: web.Application, started: threading.Event) -> None:
        served = _Served(app)
        port = await served.start(self._port)
        self._thread_stop = asyncio.get_running_loop().create_future()
        self._url = f"http://{_HOST}:{port}"
        started.set()
        try:
            await self._thread_stop
        finally:
            await served.close()

    def _stop_thread(self) -> None:
        thread, loop, stop = self._thread, self._thread_loop, self._thread_stop
        self._thread = self._thread_loop = self._thread_stop = None
        self._app = None
        if thread is None or loop is None:
            return
        if stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(_resolve, stop)
        thread.join(self._startup_timeout)

    # -- process mode ----------------------------------------------------------------

    def _command(self) -> list[str]:
        options = self._options
        command = [
            sys.executable, "-m", "voucherify_async.emulator",
            "--host", _HOST,
            "--port", str(self._port),
            "--app-id", self.app_id,
            "--app-token", self.app_token,
            "--seed", str(options["seed"]),
            "--rate-limit-period", str(options["rate_limit_period"]),
            "--latency-ms", str(options["latency_ms"]),
            "--jitter-ms", str(options["jitter_ms"]),
            "--starting-after", options["starting_after_mode"],
            "--job-item-delay-ms", str(options["job_item_delay_ms"]),
        ]  # fmt: skip
        for option in ("rate_limit", "bulk_rate_limit", "quota"):
            if options[option] is not None:
                command += ["--" + option.replace("_", "-"), str(options[option])]
        if options["seed_activity"]:
            command.append("--seed-activity")
        if options["fault_seed"] is not None:
            command += ["--fault-seed", str(options["fault_seed"])]
        return command

    def _start_process(self) -> None:
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
        self._process = process
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
        deadline = _Deadline(self._startup_timeout)
        while len(found) < 3:
            try:
                line = lines.get(timeout=deadline.left())
            except queue.Empty:
                self._stop_process()
                raise TimeoutError("the emulator process did not print its URL in time") from None
            if line is None:
                code = process.wait()
                self._stop_process()
                raise RuntimeError(f"the emulator process exited with code {code} before serving")
            key, _, value = line.strip().partition("=")
            if key in ("VOUCHERIFY_BASE_URL", "VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN"):
                found[key] = value
        self._url = found["VOUCHERIFY_BASE_URL"]

    def _stop_process(self) -> None:
        process, reader = self._process, self._reader
        self._process = self._reader = None
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

    # -- control calls ---------------------------------------------------------------

    async def _call(self, method: str, path: str, payload: Any = None) -> Any:
        # No total timeout: seeding a million customers legitimately takes seconds.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{self.url}/_emulator/{path}", json=payload) as response,
        ):
            body = await response.json(content_type=None)
            if response.status >= 400:
                raise EmulatorControlError(response.status, body)
            return body

    async def reset(self, **config: Any) -> dict[str, Any]:
        """Clear all data, jobs, faults and counters; ``config`` keys are applied after.

        Credentials and the rate limit are kept unless ``config`` changes them.
        """
        result: dict[str, Any] = await self._call("POST", "reset", config)
        self._remember_credentials(config)
        return result

    async def seed_customers(
        self,
        count: int,
        *,
        same_created_at: int = 1,
        start: str | None = None,
        step_ms: int = 1,
        order: str = "ascending",
        source_id: str | None = "seed-{i}",
        name: str | None = "Customer {i}",
        email: str | None = "customer{i}@example.com",
        city: str | list[str] | None = None,
        phone: str | None = None,
        metadata: dict[str, Any] | None = None,
        activity: bool = False,
    ) -> dict[str, Any]:
        """Create ``count`` customers fast; returns ``{created, first_created_at, ...}``.

        Patterns take ``{i}`` (1-based, continuing across calls until a reset) and
        ``{i%N}``; ``None`` leaves the field unset. ``same_created_at`` consecutive
        customers share one ``created_at`` millisecond; groups are ``step_ms`` apart.
        ``city`` may be a list, taken in turn. ``activity`` gives every customer a
        ``customer.created`` event and redeemables of the seeded campaigns, each with a
        ``customer.publication.succeeded`` event naming its campaign.

        Example: ``await emu.seed_customers(500, same_created_at=5, city="City {i%4}")``.
        """
        payload = {
            "count": count,
            "same_created_at": same_created_at,
            "start": start,
            "step_ms": step_ms,
            "order": order,
            "source_id": source_id,
            "name": name,
            "email": email,
            "city": city,
            "phone": phone,
            "metadata": metadata,
            "activity": activity,
        }
        result: dict[str, Any] = await self._call("POST", "seed/customers", payload)
        return result

    async def seed_segment(
        self, name: str, customer_ids: list[str], *, segment_id: str | None = None
    ) -> dict[str, Any]:
        """Create a segment of the given customers (ids or source ids); returns it."""
        payload = {"id": segment_id, "name": name, "customer_ids": customer_ids}
        result: dict[str, Any] = await self._call("POST", "seed/segments", payload)
        return result

    async def seed_redeemable(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        """Give a customer a redeemable (``holder_role``, ``campaign_type`` ... optional)."""
        result: dict[str, Any] = await self._call(
            "POST", "seed/redeemables", {"customer_id": customer_id, **fields}
        )
        return result

    async def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings at run time (rate limit, faults ...); returns all settings.

        Example: ``await emu.configure(drop_rate=0.1, fault_seed=42)``.
        """
        result: dict[str, Any] = await self._call("POST", "config", settings)
        self._remember_credentials(settings)
        return result

    def _remember_credentials(self, changed: dict[str, Any]) -> None:
        self.app_id = changed.get("app_id", self.app_id)
        self.app_token = changed.get("app_token", self.app_token)

    async def config(self) -> dict[str, Any]:
        """The current settings."""
        result: dict[str, Any] = await self._call("GET", "config")
        return result

    async def script_faults(
        self, faults: list[dict[str, Any]], *, replace: bool = False
    ) -> list[dict[str, Any]]:
        """Queue scripted faults for the next matching /v1 requests; returns the queue.

        Example: ``await emu.script_faults([{"kind": "drop", "method": "POST"}])``.
        """
        result = await self._call("POST", "faults/script", {"faults": faults, "replace": replace})
        queued: list[dict[str, Any]] = result["faults"]
        return queued

    async def customer_state(self) -> dict[str, list[Any]]:
        """``{"ids": [...], "source_ids": [...]}`` of every live customer, oldest first."""
        result: dict[str, list[Any]] = await self._call("GET", "state/customers")
        return result

    async def customer_ids(self) -> list[str]:
        """The ids of every live customer, oldest first."""
        ids: list[str] = (await self.customer_state())["ids"]
        return ids

    async def stats(self) -> dict[str, Any]:
        """Request counters: total, by status, 429s, faults by kind."""
        result: dict[str, Any] = await self._call("GET", "stats")
        return result


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())
