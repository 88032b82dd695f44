"""A rate limiter and a checkpoint store shared through Redis (extra ``redis``).

Every process and machine that uses one Voucherify key draws from the same quota. A
`RedisRateLimiter` keeps the quota's state in Redis, keyed by app id and API host, so that
all of them pace together: it reads every worker's rate-limit headers and counts every
worker's requests in flight.

Why not `limits` or `pyrate-limiter`: both are good token-bucket / window counters with
Redis backends, but both need the rate configured up front and count only what they let
through. The API's quota is per project and may be shared with other applications, and
the plan may change; only the answers' ``X-Rate-Limit-Remaining`` / ``X-Rate-Limit-Retry``
say what is left and when it refills. Neither library reads those, nor lets an answer
lower the shared count or move the window's end, nor expires the in-flight count of a
worker that died. The state here is the same as the in-process pacer's (remaining,
period end, in flight, held until), moved into Redis and updated by one Lua script per
call so that concurrent workers cannot both take the last request.

Each request in flight is a short lease (``lease``, 3 s by default) that a small task of the
limiter renews once a second while the process has requests in flight: a process that dies
stops counting within ``lease`` seconds. The key's host is learnt from the client the
limiter is given to (`RedisRateLimiter.bind`).

A wrong password, an unknown user, a user without the rights it needs (ACL), a malformed
URL: each is a `ConfigurationError`, at construction or at the first call, never taken for
an outage.

When Redis cannot be reached (``on_unavailable``):

* ``"local"`` (the default): the call falls back to pacing in this process from the
  headers it sees, with one warning, and tries Redis again after ``retry_redis_after``
  seconds. The API stays the authority on its limit: a worker pacing alone may meet a
  429, which the client waits out and retries; a stopped worker, by contrast, would turn
  an outage of a coordination cache into an outage of every job and web request.
* ``"error"``: the call raises `RedisUnavailableError`, naming the Redis URL (without
  its password), for deployments where a 429 costs more than a stop.

Examples:
    ```python
    limiter = RedisRateLimiter("redis://redis.internal:6379/0", app_id=app_id)
    async with AsyncVoucherify(app_id=app_id, app_token=token, rate_limiter=limiter) as vf:
        ...
    await limiter.aclose()
    ```
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

from .._core.pacing import EARLIER_RESET_MARGIN, Pacer
from .._core.ratelimit import NO_RATE_LIMIT, RateLimit
from .._core.retry import is_quota_spent
from .._exceptions import ConfigurationError, RedisUnavailableError, VoucherifyError
from .._transport.loops import close_at_loop_end

try:
    import redis.asyncio as aioredis
    from redis.exceptions import (
        AuthenticationError,
        AuthenticationWrongNumberOfArgsError,
        AuthorizationError,
        NoPermissionError,
        RedisError,
        ResponseError,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "voucherify_async.contrib.redis needs the redis package: pip install"
        " 'voucherify-async[redis]'"
    ) from exc

__all__ = ["RedisCheckpointStore", "RedisRateLimiter", "RedisUnavailableError", "redact_url"]

log = logging.getLogger("voucherify_async")

DEFAULT_HOST = "api.voucherify.io"
# A request counted in flight is forgotten after this many seconds unless its process renews
# the lease (every third of it, while the process has requests in flight): a process that
# dies stops counting within this time.
DEFAULT_LEASE = 3.0
_FIRST_ANSWER_POLL = 0.01
_FIRST_ANSWER_MAX_WAIT = 2.0
_IN_FLIGHT_POLL = 0.05

# One script for the four calls. KEYS: state hash, in-flight sorted set (member: one
# reservation, score: when its lease ends). ARGV[1]: op, ARGV[2]: now (epoch s), ARGV[3]:
# lease. Numbers go back as strings: Redis would truncate a Lua number to an integer.
# settle: ARGV[4] the reservation, ARGV[5] '1' when an answer came, then its limit, remaining
# and retry time ('' when not sent) and the pacer's EARLIER_RESET_MARGIN.
# renew: ARGV[4...] reservations of one live process, whose leases start again from now
# (XX: one settled meanwhile, or already expired, is not brought back).
# The keys outlive the last call by two minutes (more while a hold lasts), whatever the lease.
_SCRIPT = """
local state, flight = KEYS[1], KEYS[2]
local op, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local function num(field)
  local v = redis.call('HGET', state, field)
  if v then return tonumber(v) end
  return nil
end
local function touch(ahead)
  local ttl = math.ceil(120 + 2 * lease + math.max(ahead or 0, 0))
  redis.call('EXPIRE', state, ttl)
  redis.call('EXPIRE', flight, ttl)
end
redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
local blocked = num('blocked_until') or 0
if op == 'reserve' then
  if blocked > now then return tostring(blocked - now) end
  local inflight = redis.call('ZCARD', flight)
  local remaining, period_end = num('remaining'), num('period_end')
  local first = num('first_sent')
  local wait = 0
  if remaining == nil or period_end == nil then
    if redis.call('HEXISTS', state, 'informed') == 0 and inflight > 0 and first
        and now - first < tonumber(ARGV[6]) then
      wait = tonumber(ARGV[5])
    end
  elseif now >= period_end then
    if inflight >= (num('limit') or 1) then wait = tonumber(ARGV[7]) end
  elseif remaining - inflight > 0 then
    wait = 0
  elseif inflight > 0 and remaining > 0 then
    wait = tonumber(ARGV[7])
  else
    wait = period_end - now
  end
  if wait > 0 then return tostring(wait) end
  redis.call('ZADD', flight, now + lease, ARGV[4])
  if not first then redis.call('HSET', state, 'first_sent', ARGV[2]) end
  touch(blocked - now)
  return '0'
elseif op == 'settle' then
  redis.call('ZREM', flight, ARGV[4])
  if ARGV[5] == '1' then
    -- The rule of Pacer.observe (voucherify_async/_core/pacing.py), step for step.
    redis.call('HSET', state, 'informed', '1')
    if ARGV[7] == '' then
      if ARGV[6] ~= '' then redis.call('HSET', state, 'limit', ARGV[6]) end
    else
      local limit, remaining, ends = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
      local known_end, known, known_limit = num('period_end'), num('remaining'), num('limit')
      local function start_period()
        if limit then redis.call('HSET', state, 'limit', ARGV[6]) end
        if ends then
          redis.call('HSET', state, 'period_end', ARGV[8], 'remaining', ARGV[7])
        else
          redis.call('HDEL', state, 'period_end')
          redis.call('HSET', state, 'remaining', ARGV[7])
        end
      end
      local function count_down()
        if remaining < known then redis.call('HSET', state, 'remaining', ARGV[7]) end
      end
      local lowered = limit and known_limit and limit < known_limit
      local raised = limit and known_limit and limit > known_limit
      if ends == nil or known_end == nil or known == nil then
        start_period()
      elseif ends < known_end and ends <= now + tonumber(ARGV[9]) then
        -- a late answer of an earlier period: ignored
      elseif lowered then
        start_period()
      elseif ends > known_end then
        if raised and now < known_end then count_down() else start_period() end
      elseif ends == known_end then
        count_down()
      else
        redis.call('HSET', state, 'period_end', ARGV[8])
        count_down()
      end
    end
  end
  touch(blocked - now)
  return '0'
elseif op == 'renew' then
  local renewed = 0
  for i = 4, #ARGV do
    renewed = renewed + redis.call('ZADD', flight, 'XX', 'CH', now + lease, ARGV[i])
  end
  touch(blocked - now)
  return tostring(renewed)
elseif op == 'hold' then
  local held = tonumber(ARGV[4])
  if held > blocked then
    redis.call('HSET', state, 'blocked_until', ARGV[4])
    blocked = held
  end
  touch(blocked - now)
  return '0'
end
return redis.error_reply('unknown op ' .. op)
"""


def redact_url(url: str) -> str:
    """A Redis URL with its password (if any) replaced by ``***``, safe for logs and errors.

    Works on malformed URLs too: whatever stands between ``user:`` and the last ``@`` is
    hidden, as is a ``password=`` query parameter.

    Args:
        url: a ``redis://``, ``rediss://`` or ``unix://`` URL.

    Returns:
        The same URL without the secret.
    """
    url = _PASSWORD_QUERY.sub(r"\1***", url)
    scheme, separator, rest = url.partition("://")
    if not separator:
        at = url.rfind("@")
        return url if at < 0 else f"***@{url[at + 1 :]}"
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo = rest[:at]
    user, colon, _ = userinfo.partition(":")
    if not colon and not any(c in userinfo for c in "/?#"):
        return url  # a user name alone: nothing secret
    if any(c in user for c in "/?#"):
        user = "***"
    return f"{scheme}://{user}:***@{rest[at + 1 :]}"


_PASSWORD_QUERY = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def _host_of(base_url: str) -> str:
    """The host (and port, if not the scheme's default) of an API base URL, lower case."""
    parts = urllib.parse.urlsplit(base_url if "://" in base_url else f"https://{base_url}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None and (parts.scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return host


def _is_misconfiguration(exc: BaseException) -> bool:
    """Whether a Redis error means wrong credentials or rights (not an unreachable Redis)."""
    if isinstance(
        exc,
        (
            AuthenticationError,
            AuthenticationWrongNumberOfArgsError,
            AuthorizationError,
            NoPermissionError,
        ),
    ):
        return True
    if isinstance(exc, ResponseError):
        message = str(exc).upper()
        # Also a script's command the ACL does not allow ("The user executing the script
        # can't run this command..."), which redis-py leaves a plain ResponseError.
        return message.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or any(
            words in message for words in ("AUTH", "CAN'T RUN THIS COMMAND", "NO PERMISSIONS")
        )
    return False


def _misconfigured(what: str, url: str, exc: BaseException) -> ConfigurationError:
    """The error for a Redis that refuses these credentials (raise it outside ``except``)."""
    kind = type(exc).__name__
    reason = str(exc).split("\n", 1)[0][:200]
    return ConfigurationError(
        f"{what} is refused by Redis at {url}: {kind}: {reason} (check the user name,"
        " the password and the user's ACL rights in the Redis URL; this is not an outage,"
        " so it is not retried)"
    )


def _format(value: float | int | None) -> str:
    return "" if value is None else repr(value)


class RedisRateLimiter:
    """A rate limiter shared by every process that uses one key, through Redis.

    It implements the client's rate-limiter interface: `reserve` (may one request go now,
    or how long to wait), `settle` (how it ended: the status and the answer's rate-limit
    headers) and `hold` (after a 429, hold everyone back). Each of them is one atomic Lua
    script. The state is the quota the latest answers reported (from any worker, any
    application on the key), the end of the current period, the time until which a 429
    holds every request, and the requests in flight. Each request in flight is a lease of
    ``lease`` seconds; while this process has requests in flight, a background task renews
    all of them in one script call every ``lease / 3`` seconds. A process that dies (or
    whose event loop ends) stops renewing, and its requests stop counting within ``lease``
    seconds.

    The key is the app id and the API host. Given to `AsyncVoucherify` as ``rate_limiter``,
    the limiter learns the host from the client's ``base_url`` (see `bind`).

    Args:
        url: the Redis URL (``redis://host:6379/0``); or pass ``client``.
        app_id: the application id: the key's state is shared by everyone using it.
        host: the API host (``api.voucherify.io``, ``us1.api.voucherify.io``, ...). Leave it
            out: the client the limiter is given to tells it (`bind`); until then it is
            ``api.voucherify.io``. Given, it must be the client's host.
        client: an existing ``redis.asyncio.Redis`` (not closed by `aclose`).
        prefix: the first part of the Redis key names.
        lease: seconds after which a request in flight stops counting when its process no
            longer renews it (the process died). Renewed every ``lease / 3`` seconds while
            the process lives; raise it if your event loop is often blocked for longer.
        on_unavailable: ``"local"`` (fall back to pacing in this process, with a warning) or
            ``"error"`` (raise `RedisUnavailableError`).
        retry_redis_after: while falling back, seconds before Redis is tried again.
        clock: Unix epoch seconds (injectable for tests).

    Raises:
        ConfigurationError: a missing or bad argument, a malformed Redis URL or an unknown
            scheme. (Wrong credentials or rights are found at the first call, which raises
            `ConfigurationError`.)

    Examples:
        ```python
        limiter = RedisRateLimiter("redis://localhost:6379/0", app_id="my-app-id")
        wait = await limiter.reserve()  # 0.0: go now (and settle it afterwards)
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        app_id: str,
        host: str | None = None,
        client: aioredis.Redis | None = None,
        prefix: str = "voucherify-async:rate",
        lease: float = DEFAULT_LEASE,
        on_unavailable: Literal["local", "error"] = "local",
        retry_redis_after: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("RedisRateLimiter needs exactly one of url= or client=")
        if not isinstance(app_id, str) or not app_id:
            raise ConfigurationError("app_id must be a non-empty string (the application id)")
        if host is not None and (not isinstance(host, str) or not host or "/" in host):
            raise ConfigurationError(
                f"host must be the API's host name, like {DEFAULT_HOST!r}, got {host!r}"
            )
        if not isinstance(lease, (int, float)) or not 0 < lease <= 3600:
            raise ConfigurationError(f"lease must be seconds in (0, 3600], got {lease!r}")
        if on_unavailable not in ("local", "error"):
            raise ConfigurationError(
                f"on_unavailable must be 'local' or 'error', got {on_unavailable!r}"
            )
        self._redis, self._url, self._owns = _connect(
            "RedisRateLimiter", url, client, socket_timeout=2.0
        )
        self._app_id = app_id
        self._prefix = prefix
        self._host_given = host is not None
        self._bound_to: str | None = None
        self.keys: tuple[str, str] = ("", "")
        self._key(DEFAULT_HOST if host is None else host.lower())
        self._lease = float(lease)
        self._policy = on_unavailable
        self._retry_after = float(retry_redis_after)
        self._clock = clock
        self._script = self._redis.client.register_script(_SCRIPT)
        # This process's reservations not yet settled: a Redis member, or None when the
        # reservation was taken from the local fallback. Settling takes any one of them.
        self._mine: deque[str | None] = deque()
        self._local = Pacer(clock)
        self._down_until = 0.0
        self._warned = False
        self._renewer: asyncio.Task[None] | None = None

    def _key(self, host: str) -> None:
        self._host = host
        base = f"{self._prefix}:{{{self._app_id}@{host}}}"  # one hash slot for both keys
        self.keys = (f"{base}:state", f"{base}:flight")

    @property
    def host(self) -> str:
        """The API host the key is for (given, learnt from the client, or the default)."""
        return self._host

    def bind(self, base_url: str) -> None:
        """Learn the API host of the client this limiter paces (called by `AsyncVoucherify`).

        The client calls it with its ``base_url`` when it is given the limiter, so the key
        is the client's host: two clients of different clusters or projects never share a
        budget by mistake. Call it yourself, before the first request, if you use the
        limiter outside `AsyncVoucherify`.

        Args:
            base_url: the client's API base URL (``https://us1.api.voucherify.io``).

        Raises:
            ConfigurationError: ``host`` was given and is not the client's, or the limiter
                was already bound to a client of another host.
        """
        host = _host_of(base_url)
        if not host:
            raise ConfigurationError(f"cannot tell the API host of base_url {base_url!r}")
        if self._host_given and host != self._host:
            raise ConfigurationError(
                f"the RedisRateLimiter was made with host={self._host!r} but is given to a"
                f" client of {host!r} ({base_url}): its budget would be counted under"
                " another key; leave host out (the client sets it) or make them match"
            )
        if self._bound_to is not None and host != self._bound_to:
            raise ConfigurationError(
                f"the RedisRateLimiter is already used by a client of {self._bound_to!r} and"
                f" cannot also pace one of {host!r}: give each API host its own limiter"
            )
        self._bound_to = host
        self._key(host)

    def __repr__(self) -> str:
        return f"RedisRateLimiter(url={self._url!r}, key={self.keys[0]!r})"

    @property
    def falling_back(self) -> bool:
        """Whether calls are currently paced locally because Redis could not be reached."""
        return self._down_until > self._clock()

    async def _call(self, *args: Any) -> str | None:
        """Run the script; ``None`` when Redis is down and the policy is to fall back."""
        now = self._clock()
        if self._down_until > now:
            return None
        failure: BaseException | None = None
        try:
            arguments = [args[0], repr(now), repr(self._lease), *args[1:]]
            redis = await self._redis.get()
            answer = await self._script(keys=list(self.keys), args=arguments, client=redis)
        except (RedisError, OSError) as exc:
            failure = exc
        # Raised outside the except block: no Redis error is chained to ours.
        if failure is not None:
            if _is_misconfiguration(failure):
                raise _misconfigured("the rate limiter", self._url, failure)
            if self._policy == "error":
                raise RedisUnavailableError(
                    f"the rate limiter cannot reach Redis at {self._url}: {type(failure).__name__}",
                    self._url,
                )
            self._down_until = self._clock() + self._retry_after
            if not self._warned:
                self._warned = True
                log.warning(
                    "the rate limiter cannot reach Redis at %s (%s): pacing in this process"
                    " only until it is back",
                    self._url,
                    type(failure).__name__,
                )
            return None
        if self._warned:
            self._warned = False
            log.warning("the rate limiter reaches Redis at %s again", self._url)
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    async def reserve(self) -> float:
        """Count one request in flight and return 0.0, or return seconds to wait first.

        Returns:
            0.0 when a request may be sent now (settle it with `settle`); otherwise the
            seconds to wait before asking again (nothing was counted).

        Raises:
            ConfigurationError: Redis refuses the URL's credentials (wrong password or user,
                or a user without the ACL rights needed), whatever ``on_unavailable``.
            RedisUnavailableError: Redis is unreachable and ``on_unavailable="error"``.
        """
        member = uuid.uuid4().hex
        answer = await self._call(
            "reserve",
            member,
            repr(_FIRST_ANSWER_POLL),
            repr(_FIRST_ANSWER_MAX_WAIT),
            repr(_IN_FLIGHT_POLL),
        )
        if answer is None:
            wait = self._local.try_send()
            if wait <= 0:
                self._mine.append(None)
            return wait
        wait = float(answer)
        if wait <= 0:
            self._mine.append(member)
            self._keep_renewing()
            return 0.0
        return wait

    def _keep_renewing(self) -> None:
        """Make sure this loop has a task renewing this process's leases."""
        task = self._renewer
        loop = asyncio.get_running_loop()
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._renewer = loop.create_task(self._renew(), name="RedisRateLimiter lease renewal")

    async def _renew(self) -> None:
        """Renew the leases of this process's requests in flight until none is left."""
        every = self._lease / 3
        while True:
            await asyncio.sleep(every)
            members = [member for member in self._mine if member is not None]
            if not members:
                return
            try:
                await self._call("renew", *members)
            except VoucherifyError as exc:
                # Raised again by the next reserve(); the leases run out meanwhile.
                log.debug("the rate limiter could not renew its leases: %s", exc)

    async def settle(self, status: int | None, rate_limit: RateLimit | None) -> None:
        """The request a `reserve` counted has ended; learn from its rate-limit headers.

        Args:
            status: the HTTP status, or ``None`` when no answer came.
            rate_limit: the answer's parsed rate-limit headers, or ``None``.

        Raises:
            ConfigurationError: Redis refuses the URL's credentials or rights.
            RedisUnavailableError: Redis is unreachable and ``on_unavailable="error"``.
        """
        member = self._mine.popleft() if self._mine else None
        if status is not None and rate_limit is not None and is_quota_spent(status, rate_limit):
            # A spent billing-cycle quota says nothing about the per-period limit.
            rate_limit = NO_RATE_LIMIT
        if rate_limit is not None:
            self._local.observe(rate_limit)
        if member is None:
            self._local.answered()
            return
        if rate_limit is None:
            await self._call("settle", member, "0")
            return
        await self._call(
            "settle",
            member,
            "1",
            _format(rate_limit.limit),
            _format(rate_limit.remaining),
            _format(rate_limit.retry_at),
            repr(EARLIER_RESET_MARGIN),
        )

    async def hold(self, until: float) -> None:
        """Hold every worker's requests back until ``until`` (Unix epoch seconds).

        Raises:
            ConfigurationError: Redis refuses the URL's credentials or rights.
            RedisUnavailableError: Redis is unreachable and ``on_unavailable="error"``.
        """
        self._local.block(max(until - self._clock(), 0.0))
        await self._call("hold", repr(float(until)))

    async def aclose(self) -> None:
        """Stop renewing leases; close the Redis connection this limiter opened (not a
        ``client`` passed in)."""
        task, self._renewer = self._renewer, None
        if task is not None and not task.done():
            task.cancel()
            if task.get_loop() is asyncio.get_running_loop():
                await asyncio.wait([task])
        if self._owns:
            await self._redis.aclose()


def _connect(
    what: str, url: str | None, client: aioredis.Redis | None, *, socket_timeout: float
) -> tuple[_PerLoop, str, bool]:
    """The Redis client to use, its URL without the password, and whether it is ours to close.

    Raises:
        ConfigurationError: a malformed URL or an unknown scheme.
    """
    if url is not None:
        if not isinstance(url, str):
            raise ConfigurationError(f"{what}: url must be a string, got {type(url).__name__}")
        safe = redact_url(url)
        problem = None
        try:
            opened = _PerLoop(url, socket_timeout)
        except (ValueError, TypeError) as exc:
            problem = str(exc).split("\n", 1)[0][:200]
        if problem is not None:
            # Raised outside the except block: redis-py's error is not chained to it.
            raise ConfigurationError(
                f"{what}: the Redis URL {safe} is malformed: {problem} (expected"
                " redis://[[user]:password@]host[:port][/db], rediss://... or unix://path)"
            )
        return opened, safe, True
    assert client is not None
    return _PerLoop(client, socket_timeout), redact_url(_client_url(client)), False


class _PerLoop:
    """The Redis client of the running event loop.

    redis-py's connections belong to the loop that opened them. Made from a URL, a new
    client is opened in each new loop (successive ``asyncio.run()`` calls, as in a Celery
    task), and each is closed as its loop shuts down. A client passed in is used as given.
    """

    def __init__(self, source: str | aioredis.Redis, socket_timeout: float) -> None:
        self._url = source if isinstance(source, str) else None
        self._timeout = socket_timeout
        # Made now, so a bad URL fails at construction; bound to the first loop that uses it.
        self._current = self._open() if isinstance(source, str) else source
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finalizer: AsyncGenerator[None, None] | None = None

    def _open(self) -> aioredis.Redis:
        assert self._url is not None
        return aioredis.Redis.from_url(
            self._url, socket_connect_timeout=2.0, socket_timeout=self._timeout
        )

    @property
    def client(self) -> aioredis.Redis:
        """The client in use (the last loop's)."""
        return self._current

    async def get(self) -> aioredis.Redis:
        """The client for the running loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop or self._url is None:
            return self._current
        if self._loop is not None:
            # The client's loop has ended (else this is a second live loop: a new client
            # for it is right too). Its connections were closed as it shut down, if it
            # did so cleanly; either way they cannot serve this loop.
            self._current = self._open()
        redis = self._current
        self._loop = loop
        self._finalizer = await close_at_loop_end(lambda: self._retire(redis))
        return redis

    async def _retire(self, redis: aioredis.Redis) -> None:
        if self._current is redis:
            self._loop = None
            self._finalizer = None
        await redis.aclose()

    async def aclose(self) -> None:
        """Close the client of the running loop, if this object opened it."""
        finalizer, self._finalizer = self._finalizer, None
        if self._url is None:
            return
        if finalizer is not None and self._loop is asyncio.get_running_loop():
            await finalizer.aclose()  # closes it
        elif self._loop is None:
            await self._current.aclose()


def _client_url(client: Any) -> str:
    try:
        kwargs = client.connection_pool.connection_kwargs
        return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    except AttributeError:
        return "redis://?"


class RedisCheckpointStore:
    """Partition checkpoints kept in Redis, one string key per partition.

    Args:
        url: the Redis URL; or pass ``client``.
        client: an existing ``redis.asyncio.Redis`` (not closed by `aclose`).
        prefix: the first part of the key names.
        ttl: seconds a checkpoint is kept after its last save (``None``: forever).

    Examples:
        ```python
        store = RedisCheckpointStore("redis://localhost:6379/0")
        await scan_partition(vf, partition, sink, store=store, key="nightly:3")
        ```
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: aioredis.Redis | None = None,
        prefix: str = "voucherify-async:checkpoint",
        ttl: float | None = 7 * 86_400,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("RedisCheckpointStore needs exactly one of url= or client=")
        self._redis, self._url, self._owns = _connect(
            "RedisCheckpointStore", url, client, socket_timeout=5.0
        )
        self._prefix = prefix
        self._ttl = None if ttl is None else max(int(ttl), 1)

    def __repr__(self) -> str:
        return f"RedisCheckpointStore(url={self._url!r})"

    async def load(self, key: str) -> bytes | None:
        """The checkpoint saved under ``key``, or ``None``.

        Raises:
            ConfigurationError: Redis refuses the URL's credentials or rights.
            RedisUnavailableError: Redis cannot be reached.
        """
        failure: BaseException | None = None
        try:
            value = await (await self._redis.get()).get(f"{self._prefix}:{key}")
        except (RedisError, OSError) as exc:
            failure = exc
        if failure is not None:
            raise self._error(failure)
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def save(self, key: str, checkpoint: bytes) -> None:
        """Save ``checkpoint`` under ``key``.

        Raises:
            ConfigurationError: Redis refuses the URL's credentials or rights.
            RedisUnavailableError: Redis cannot be reached.
        """
        failure: BaseException | None = None
        try:
            redis = await self._redis.get()
            await redis.set(f"{self._prefix}:{key}", checkpoint, ex=self._ttl)
        except (RedisError, OSError) as exc:
            failure = exc
        if failure is not None:
            raise self._error(failure)

    def _error(self, failure: BaseException) -> VoucherifyError:
        """What to raise for ``failure`` (outside the except block: nothing is chained)."""
        if _is_misconfiguration(failure):
            return _misconfigured("the checkpoint store", self._url, failure)
        return RedisUnavailableError(
            f"the checkpoint store cannot reach Redis at {self._url}: {type(failure).__name__}",
            self._url,
        )

    async def aclose(self) -> None:
        """Close the Redis connection this store opened (not a ``client`` passed in)."""
        if self._owns:
            await self._redis.aclose()
