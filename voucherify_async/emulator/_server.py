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

import json
import os
import ssl
import subprocess
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web
from yarl import URL

from ._app import create_app, get_state
from ._config import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, Settings, SettingsError
from ._runners import HOST, AttachedRunner, LoopRunner, ProcessRunner, Runner, ThreadRunner
from ._store import Store
from ._tls import check_tls_files, pinned_context, server_context

if TYPE_CHECKING:  # the emulator does not import the client at run time
    from .. import AsyncVoucherify

__all__ = ["Emulator", "EmulatorControlError", "EmulatorSettingsError"]

Mode = Literal["loop", "thread", "process"]
#: ``"connected"``: made by ``Emulator.connect``, attached to an emulator running elsewhere.
EmulatorMode = Literal["loop", "thread", "process", "connected"]


class EmulatorControlError(RuntimeError):
    """A ``/_emulator/`` control call was refused: one line saying why.

    The message is the emulator's reason and the call, e.g. ``count: must be an integer
    >= 0, got -1 (POST /_emulator/seed/customers answered 400)``.

    Attributes:
        status: the HTTP status of the answer.
        body: the answer's JSON (an error object: ``details`` holds the reason), or its
            text when it is not JSON.
        reason: the emulator's reason, one line.
        method, path: the call (``"POST"``, ``"/_emulator/seed/customers"``).
    """

    def __init__(
        self,
        status: int,
        body: Any,
        *,
        method: str = "",
        path: str = "",
        reason: str | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.method = method
        self.path = path
        self.reason = _reason(body) if reason is None else reason
        call = f"{method} {path} answered {status}" if path else f"answered {status}"
        super().__init__(f"{self.reason} ({call})")

    def __reduce__(self) -> Any:
        return (
            _rebuild,
            (type(self), self.status, self.body, self.method, self.path, self.reason),
        )


class EmulatorSettingsError(EmulatorControlError, SettingsError):
    """``configure(...)`` or ``reset(...)`` was refused a setting.

    Both an ``EmulatorControlError`` and a ``SettingsError``, so ``except SettingsError``
    catches a bad setting wherever it was given; its message is the one
    ``Emulator(...)`` gives for the same value (``error_rate: must be a number between 0
    and 1, got 5``).
    """

    def __init__(
        self,
        status: int,
        body: Any,
        *,
        method: str = "",
        path: str = "",
        reason: str | None = None,
    ) -> None:
        EmulatorControlError.__init__(self, status, body, method=method, path=path, reason=reason)
        names, _, rule = self.reason.partition(": ")
        self.names = tuple(name.strip() for name in names.split(" + "))
        self.rule = rule.rpartition(", got ")[0] or rule
        self.has_value = False
        self.value = None
        self.args = (self.reason,)


def _rebuild(
    cls: type[EmulatorControlError], status: int, body: Any, method: str, path: str, reason: str
) -> EmulatorControlError:
    return cls(status, body, method=method, path=path, reason=reason)


def _reason(body: Any) -> str:
    """The one-line reason in an error answer's body."""
    if isinstance(body, dict):
        text = body.get("details") or body.get("message") or body.get("key") or body
    else:
        text = body
    line = " ".join(str(text).split())
    return line if len(line) <= 500 else line[:497] + "..."


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

    ``Emulator.connect(url)`` attaches to an emulator started elsewhere (the command line,
    another process) instead: the same control methods, no start or stop.

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
        self.mode: EmulatorMode = mode
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

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        app_id: str | None = None,
        app_token: str | None = None,
        control_ssl: ssl.SSLContext | None = None,
    ) -> Emulator:
        """Attach to an emulator that is already running, started elsewhere.

        The result has every control method (``configure``, ``script_faults``,
        ``seed_customers``, ``stats``, ``reset`` ...) and ``url``, ``env``, ``headers`` and
        ``client()``, but does not own the emulator: ``start``/``stop`` (and ``with``)
        raise ``RuntimeError``, and ``store`` is not available. Nothing is sent until the
        first call (``await emu.health()`` checks that it answers).

        Args:
            url: the emulator's base URL (``http://127.0.0.1:8080``), by default
                ``$VOUCHERIFY_BASE_URL``, which ``voucherify-async emulator`` prints.
            app_id: the credentials the emulator accepts, for ``headers``, ``env`` and
                ``client()`` (the control routes need none); by default
                ``$VOUCHERIFY_APP_ID``, else the emulator's default.
            app_token: likewise, ``$VOUCHERIFY_APP_TOKEN``, else the default.
            control_ssl: the TLS context of the control calls to an ``https://``
                emulator (one trusting its certificate; holding a client certificate
                under mutual TLS). Left out, the system's trusted CAs.

        Raises:
            ValueError: no URL given nor in ``$VOUCHERIFY_BASE_URL``, or not an
                ``http://`` or ``https://`` URL; ``control_ssl`` not an ``ssl.SSLContext``.

        Examples:
            ```python
            remote = Emulator.connect("http://127.0.0.1:8080")
            await remote.script_faults([{"kind": "drop", "method": "POST"}])
            ```
        """
        url = url if url is not None else os.environ.get("VOUCHERIFY_BASE_URL")
        if not url:
            raise ValueError(
                "url: give the running emulator's URL (http://127.0.0.1:PORT) or set"
                " VOUCHERIFY_BASE_URL, as `voucherify-async emulator` prints"
            )
        url = url.strip().rstrip("/")
        try:
            parsed = URL(url)
        except ValueError:
            parsed = URL()
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(
                f"url: must be an http:// or https:// URL (http://127.0.0.1:8080), got {url!r}"
            )
        if control_ssl is not None and not isinstance(control_ssl, ssl.SSLContext):
            raise ValueError(f"control_ssl: must be an ssl.SSLContext, got {control_ssl!r}")
        credentials = {
            "app_id": app_id or os.environ.get("VOUCHERIFY_APP_ID") or DEFAULT_APP_ID,
            "app_token": app_token or os.environ.get("VOUCHERIFY_APP_TOKEN") or DEFAULT_APP_TOKEN,
        }
        emulator = cls.__new__(cls)
        emulator.mode = "connected"
        # Only the credentials are known; the emulator's settings are what config() says.
        emulator.settings = Settings.from_options(credentials)
        emulator.app_id = emulator.settings.app_id
        emulator.app_token = emulator.settings.app_token
        emulator._tls = check_tls_files(None, None, None)
        emulator._control_ssl = control_ssl
        emulator._control_cert = control_ssl is not None
        emulator._seed = 0
        emulator._seed_activity = False
        emulator._runner = AttachedRunner(url)
        return emulator

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
        if self.mode == "connected":
            self._runner.start_sync()  # refused, saying why
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
        """Start serving (loop mode on the running loop; other modes off it).

        Refused (``RuntimeError``) by an emulator made by ``connect``.
        """
        if self.mode != "connected":
            self._refuse_if_running()
        await self._runner.start()

    async def stop(self) -> None:
        """Stop serving and release every socket, task, thread or process.

        Refused (``RuntimeError``) by an emulator made by ``connect``.
        """
        await self._runner.stop()

    def start_sync(self) -> None:
        """Start a ``thread`` or ``process`` mode emulator and wait until it serves."""
        if self.mode != "connected":
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

    async def _call(
        self, method: str, path: str, payload: Any = None, *, settings: bool = False
    ) -> Any:
        """Call ``method /_emulator/path``; a refusal raises ``EmulatorControlError``.

        With ``settings`` (the body is settings) a 400 raises ``EmulatorSettingsError``.
        """
        if self._tls.client_ca is not None and not self._control_cert:
            raise RuntimeError(
                "this emulator requires a client certificate (client_ca): pass"
                " Emulator(control_ssl=...) an ssl.SSLContext holding one to use its control"
                " methods"
            )
        # No total timeout: seeding a million customers legitimately takes seconds.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        route = f"/_emulator/{path}"
        # ssl=True is aiohttp's default verification, for plain HTTP never used.
        tls: ssl.SSLContext | bool = True if self._control_ssl is None else self._control_ssl
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.url + route, json=payload, ssl=tls) as response,
        ):
            text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                raise EmulatorControlError(
                    response.status,
                    text,
                    method=method,
                    path=route,
                    reason=f"the answer is not JSON: is {self.url} an emulator?",
                ) from None
            if response.status >= 400:
                error = EmulatorControlError
                if settings and response.status == 400:
                    error = EmulatorSettingsError
                refused = error(response.status, body, method=method, path=route)
                if isinstance(refused, EmulatorSettingsError) and ", got " in refused.reason:
                    # The value refused, as sent (the message shows its repr).
                    name = refused.names[0]
                    if len(refused.names) == 1 and isinstance(payload, dict) and name in payload:
                        refused.has_value, refused.value = True, payload[name]
                raise refused
            return body

    async def reset(self, **config: Any) -> dict[str, Any]:
        """Clear all data, jobs, faults and counters; ``config`` keys are applied after.

        Credentials and the rate limit are kept unless ``config`` changes them. A bad
        setting raises ``EmulatorSettingsError`` (a ``SettingsError``) and resets nothing.
        """
        result: dict[str, Any] = await self._call("POST", "reset", config, settings=True)
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

        All or nothing: an unknown setting or a value not allowed raises
        ``EmulatorSettingsError`` (a ``SettingsError`` and an ``EmulatorControlError``)
        worded as ``Emulator(...)`` words it: ``error_rate: must be a number between 0 and
        1, got 5``.

        Example: ``await emu.configure(drop_rate=0.1, fault_seed=42)``.
        """
        result: dict[str, Any] = await self._call("POST", "config", settings, settings=True)
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

    async def scripted_faults(self) -> list[dict[str, Any]]:
        """The scripted faults still queued (``GET /_emulator/faults/script``)."""
        queued: list[dict[str, Any]] = (await self._call("GET", "faults/script"))["faults"]
        return queued

    async def clear_faults(self) -> None:
        """Drop every scripted fault still queued (``DELETE /_emulator/faults/script``)."""
        await self._call("DELETE", "faults/script")

    async def quota(self) -> dict[str, Any]:
        """The billing-cycle quota: ``{quota, used, remaining, cycle_ends_at}``."""
        result: dict[str, Any] = await self._call("GET", "quota")
        return result

    async def health(self) -> dict[str, Any]:
        """``{"status": "ok", "customers": N}``: whether the emulator answers."""
        result: dict[str, Any] = await self._call("GET", "health")
        return result
