"""``Emulator``: start the emulator on a loopback port and drive it from tests.

Where it runs (``mode``) is one of the runners of ``_runners``: ``loop`` (on the caller's
running event loop, ``async with`` only), ``thread`` (its own loop in a daemon thread;
start and stop are synchronous, which suits a session-scoped fixture) or ``process``
(a subprocess, so a benchmark's client and the server do not share a core).

The control methods talk HTTP to ``/_emulator/`` and so work the same in every mode and
from any event loop (each call opens and closes its own short session).

Given ``certfile`` it serves HTTPS in every mode; the control calls then trust exactly
the certificate it serves (see ``_tls``), or use the ``control_ssl`` context given.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web

from ._app import create_app, get_state
from ._config import Settings
from ._runners import HOST, LoopRunner, ProcessRunner, Runner, ThreadRunner
from ._store import Store
from ._tls import check_tls_files, pinned_context, server_context

if TYPE_CHECKING:  # the emulator does not import the client at run time
    from .. import AsyncVoucherify

__all__ = ["Emulator", "EmulatorControlError"]

Mode = Literal["loop", "thread", "process"]


class EmulatorControlError(RuntimeError):
    """A ``/_emulator/`` control call was refused; ``status`` and ``body`` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"emulator control call failed with {status}: {body}")
        self.status = status
        self.body = body


class Emulator:
    """A running Voucherify Customers API emulator on ``127.0.0.1``.

    Args:
        mode: where it runs: ``"loop"`` (the running event loop, ``async with``),
            ``"thread"`` or ``"process"`` (``with`` or ``async with``).
        port: the port to listen on; 0 picks a free one.
        startup_timeout: seconds to wait for a thread or process to serve.
        seed: customers to create at start-up.
        seed_activity: give the seeded customers activity and redeemables.
        settings: the start-up settings (the defaults when left out); copied.
        certfile: serve HTTPS with this PEM certificate (and its chain; its private key
            too unless ``keyfile`` is given); ``url`` then starts ``https://``. Left out,
            plain HTTP.
        keyfile: the PEM private key of ``certfile``, when it is not inside it.
        client_ca: require a client certificate signed by this PEM CA (mutual TLS): a
            client without one is refused in the TLS handshake. Needs ``certfile``.
        control_ssl: the TLS context of the control methods (``seed_customers``,
            ``configure``, ``stats`` ...). Left out, they trust exactly the certificate
            in ``certfile`` (the first one: no CA and no host name are needed, and only
            a server holding its private key passes) and present no client certificate,
            so with ``client_ca`` pass a context holding a client certificate that CA
            signed. Needs ``certfile``.
        **options: settings by name, over ``settings``: any field of ``Settings``
            (``rate_limit``, ``quota``, ``error_rate``, ``fault_seed`` ...).

    Raises:
        ValueError: ``mode`` is not one of the three; ``keyfile``, ``client_ca`` or
            ``control_ssl`` without ``certfile``; a TLS file that does not exist or
            does not load (the message starts with the parameter's name).
        SettingsError: an option is unknown or its value is not allowed.

    Examples:
        ```python
        async with Emulator(rate_limit=600) as emu:
            await emu.seed_customers(1000)
            async with aiohttp.ClientSession(headers=emu.headers) as http:
                await http.get(emu.url + "/v1/customers")

        with Emulator(mode="thread") as emu:   # or mode="process"
            print(emu.env)
        ```
    """

    def __init__(
        self,
        *,
        mode: Mode = "loop",
        port: int = 0,
        startup_timeout: float = 120.0,
        seed: int = 0,
        seed_activity: bool = False,
        settings: Settings | None = None,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        client_ca: str | os.PathLike[str] | None = None,
        control_ssl: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        if mode not in ("loop", "thread", "process"):
            raise ValueError(f"mode must be 'loop', 'thread' or 'process', not {mode!r}")
        self.mode: Mode = mode
        # Checked here, before anything starts: a bad option fails at the call that gave it.
        self.settings = Settings() if settings is None else settings.copy()
        self.settings.apply(options)
        self._tls = check_tls_files(certfile, keyfile, client_ca)
        if control_ssl is not None and not isinstance(control_ssl, ssl.SSLContext):
            raise ValueError(f"control_ssl: must be an ssl.SSLContext, got {control_ssl!r}")
        if control_ssl is not None and not self._tls.enabled:
            raise ValueError("control_ssl: needs certfile (the emulator serves plain HTTP)")
        # Loaded now, in every mode, so a bad file fails here and not in a thread or child.
        ssl_context = server_context(self._tls) if self._tls.enabled else None
        self._control_ssl: ssl.SSLContext | None = control_ssl
        self._control_cert = control_ssl is not None  # the caller's, maybe with a client cert
        if control_ssl is None and self._tls.certfile is not None:
            self._control_ssl = pinned_context(self._tls.certfile)
        self.app_id = self.settings.app_id
        self.app_token = self.settings.app_token
        self._seed = seed
        self._seed_activity = seed_activity
        self._runner: Runner
        if mode == "loop":
            self._runner = LoopRunner(self._make_app, port, ssl_context)
        elif mode == "thread":
            self._runner = ThreadRunner(self._make_app, port, startup_timeout, ssl_context)
        else:
            self._runner = ProcessRunner(lambda: self._command(port), startup_timeout)

    def __repr__(self) -> str:
        where = self._runner.url or "not running"
        return f"Emulator(mode={self.mode!r}, url={where!r}, app_id={self.app_id!r})"

    # -- what tests use --------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:50123`` (the API lives under ``/v1``).

        ``https://127.0.0.1:50123`` when serving HTTPS (``certfile``).
        """
        if self._runner.url is None:
            raise RuntimeError("the emulator is not running")
        return self._runner.url

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
        app = self._runner.app
        if app is None:
            raise RuntimeError(
                "no in-process store: the emulator is not running, or runs in another process"
            )
        return get_state(app).store

    def client(self, **options: Any) -> AsyncVoucherify:
        """An ``AsyncVoucherify`` pointed at this emulator with its credentials.

        ``options`` go to the constructor (``timeout``, ``max_retries`` ...). The client
        ignores the environment's proxy settings (``trust_env=False``) unless ``options``
        say otherwise: a proxy named in ``HTTP_PROXY`` cannot reach this loopback server.

        Example: ``async with emu.client(max_retries=0) as client: ...``.
        """
        # Looked up at call time: the SDK imports this package (its pytest plugin does),
        # and the emulator must stay usable, and type-check, on its own.
        from .. import AsyncVoucherify

        options.setdefault("trust_env", False)
        return AsyncVoucherify(
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
        self._refuse_if_running()
        await self._runner.start()

    async def stop(self) -> None:
        """Stop serving and release every socket, task, thread or process."""
        await self._runner.stop()

    def start_sync(self) -> None:
        """Start a ``thread`` or ``process`` mode emulator and wait until it serves."""
        self._refuse_if_running()
        self._runner.start_sync()

    def stop_sync(self) -> None:
        """Stop a ``thread`` or ``process`` mode emulator and wait until it is gone."""
        self._runner.stop_sync()

    @property
    def _process(self) -> subprocess.Popen[str] | None:
        """The subprocess of a ``process`` mode emulator (``None`` in other modes)."""
        return self._runner.process if isinstance(self._runner, ProcessRunner) else None

    def _refuse_if_running(self) -> None:
        if self._runner.url is not None:
            raise RuntimeError("the emulator is already running")

    def _make_app(self) -> web.Application:
        return create_app(self.settings, seed=self._seed, seed_activity=self._seed_activity)

    def _command(self, port: int) -> list[str]:
        command = [
            sys.executable, "-m", "voucherify_async.emulator",
            "--host", HOST, "--port", str(port), "--seed", str(self._seed),
        ]  # fmt: skip
        if self._seed_activity:
            command.append("--seed-activity")
        tls = self._tls
        for flag, path in (
            ("--certfile", tls.certfile),
            ("--keyfile", tls.keyfile),
            ("--client-ca", tls.client_ca),
        ):
            if path is not None:
                command += [flag, os.fspath(path)]
        return command + self.settings.to_argv()

    # -- control calls ---------------------------------------------------------------

    async def _call(self, method: str, path: str, payload: Any = None) -> Any:
        if self._tls.client_ca is not None and not self._control_cert:
            raise RuntimeError(
                "this emulator requires a client certificate (client_ca): pass"
                " Emulator(control_ssl=...) an ssl.SSLContext holding one to use its control"
                " methods"
            )
        # No total timeout: seeding a million customers legitimately takes seconds.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        url = f"{self.url}/_emulator/{path}"
        # ssl=True is aiohttp's default verification, for plain HTTP never used.
        tls: ssl.SSLContext | bool = True if self._control_ssl is None else self._control_ssl
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, json=payload, ssl=tls) as response,
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
        # A restart serves the credentials in use, as the server had them.
        self.settings.app_id, self.settings.app_token = self.app_id, self.app_token

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
