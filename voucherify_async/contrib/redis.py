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

The budget is shared fairly: the rest of each period's budget is spread over the period
(after a small burst), and requests told to wait take places in a waiting line in Redis,
the process let through least in the period first, then the oldest waiter; interactive
requests are ahead of background ones, which also leave the last ``interactive_share`` of
each period to them (see `RedisRateLimiter`).

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

from .._core.pacing import (
    BACKGROUND,
    DEFAULT_INTERACTIVE_IDLE,
    DEFAULT_INTERACTIVE_SHARE,
    EARLIER_RESET_MARGIN,
    INTERACTIVE,
    Pacer,
    Priority,
    check_interactive_idle,
    check_interactive_share,
    check_priority,
)
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
# A waiter that does not ask again within this long after the time it was told to (its
# process died, or its loop is stuck) loses its place in the line.
_WAITER_GRACE = 2.0
# A waiter behind others asks again at least this often: a poll for the client, however
# small its max_retry_wait (see the transport's _POLL_WAIT).
_LINE_POLL = 0.1
# The burst a key allows without waiting in the line: this, or a tenth of its limit.
_SMALLEST_BURST = 10

# One script for the calls. KEYS: state hash, in-flight sorted set (member: one
# reservation, score: when its lease ends), the waiting line (member: one waiting task,
# score: when it first asked less 1.7e9 s, plus 1e9 per request its process was let through
# in this period (999 at most, as of its latest ask), plus 1e13 for a background one), the
# line's deadlines
# (score: when the waiter is forgotten unless it asks again) and the requests let through
# per process in this period.
# ARGV[1]: op, ARGV[2]: now (epoch s), ARGV[3]: lease. Numbers go back as strings: Redis would
# truncate a Lua number to an integer.
# reserve: ARGV[4] the reservation, [5] the first-answer poll, [6] its longest wait, [7] the
# in-flight poll, [8] 'i' or 'b' (interactive, background), [9] the waiter ('' for none),
# [10] the interactive share, [11] the interactive idle time (-1: never idle), [12] how long a
# waiter is kept after it should have asked again, [13] the longest wait in the line, [14]
# the smallest burst, [15] the process.
# settle: ARGV[4] the reservation, ARGV[5] '1' when an answer came, then its limit, remaining
# and retry time ('' when not sent) and the pacer's EARLIER_RESET_MARGIN.
# renew: ARGV[4...] reservations of one live process, whose leases start again from now
# (XX: one settled meanwhile, or already expired, is not brought back).
# withdraw: ARGV[4] a waiter that gave up.
# The keys outlive the last call by two minutes (more while a hold lasts), whatever the lease.
_SCRIPT = """
local state, flight, line, due, served = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
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
  redis.call('EXPIRE', line, ttl)
  redis.call('EXPIRE', due, ttl)
  redis.call('EXPIRE', served, ttl)
end
redis.call('ZREMRANGEBYSCORE', flight, '-inf', now)
local blocked = num('blocked_until') or 0
if op == 'reserve' then
  local background, waiter = ARGV[8] == 'b', ARGV[9]
  -- Waiters that did not ask again in time (their process died) are forgotten.
  local gone = redis.call('ZRANGEBYSCORE', due, '-inf', now)
  for _, member in ipairs(gone) do redis.call('ZREM', line, member) end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', due, '-inf', now) end
  local inflight = redis.call('ZCARD', flight)
  -- The period's end as stored (its text names the period below) and as a number.
  local ended = redis.call('HGET', state, 'period_end') or ''
  local remaining, period_end, limit = num('remaining'), tonumber(ended), num('limit')
  local first = num('first_sent')
  -- Background requests leave the interactive share of the limit unused while
  -- interactive requests are being made.
  local held = 0
  if background then
    local seen, idle, share = num('interactive_at'), tonumber(ARGV[11]), tonumber(ARGV[10])
    if share > 0 and seen and (idle < 0 or now - seen < idle) then
      if limit then
        held = math.max(math.min(math.max(1, math.floor(share * limit + 0.5)), limit - 1), 0)
      end
    end
    -- The share shrinks as the period runs out (the longest period seen is its span).
    local span = num('span')
    if held > 0 and period_end and span and now < period_end and period_end < now + span then
      held = math.ceil(held * (period_end - now) / span)
    end
  else
    redis.call('HSET', state, 'interactive_at', ARGV[2])
  end
  -- How many may go now (the waiters ahead first), or how long to wait.
  local wait, allowed, interval, tokens, spending = 0, 0, 0, 0, false
  local spread = (num('span') or 0) >= 5
  local burst = math.max(tonumber(ARGV[14]), math.ceil((limit or remaining or 0) / 10))
  if blocked > now then
    wait = blocked - now
  elseif remaining == nil or period_end == nil then
    if redis.call('HEXISTS', state, 'informed') == 0 and inflight > 0 and first
        and now - first < tonumber(ARGV[6]) then
      wait = tonumber(ARGV[5])
    else
      allowed = math.huge
    end
  elseif now >= period_end then
    -- The period is over and the next one's first answer is not in yet: a burst goes
    -- (the line's first), the others wait for that answer and the spreading it brings.
    -- (At most for as long as a first answer is waited for: then all may go, as before.)
    allowed = (limit or 1) - held - inflight
    if allowed <= 0 then
      wait = tonumber(ARGV[7])
    elseif spread and now - period_end < tonumber(ARGV[6]) then
      if redis.call('HGET', state, 'burst_after') ~= ended then
        tokens = burst
        redis.call('HSET', state, 'burst_after', ended)
      else
        tokens = num('tokens') or 0
      end
      redis.call('HSET', state, 'tokens', tostring(tokens), 'tokens_at', ARGV[2])
      spending = true
      allowed = math.min(allowed, math.floor(tokens))
      if allowed <= 0 then wait = tonumber(ARGV[7]) end
    end
  elseif remaining - inflight > held then
    -- The rest of the period's budget is spread over most of the rest of the period (it
    -- is spent before the end, which the API rounds up to whole seconds), with a burst of
    -- a tenth of the limit: under contention every request waits its turn in the line.
    local free = remaining - inflight
    allowed = free - held
    -- Not in periods of a few seconds, where that rounding is too large a part of them.
    local horizon = 0.75 * (period_end - now) - 1.0
    if horizon > 0 and spread then
      interval = horizon / free
      spending = true
      local stored, at = num('tokens'), num('tokens_at')
      if stored == nil or at == nil then
        tokens = burst
      else
        tokens = math.min(burst, stored + math.max(now - at, 0) / interval)
      end
      redis.call('HSET', state, 'tokens', tostring(tokens), 'tokens_at', ARGV[2])
      allowed = math.min(allowed, math.floor(tokens))
    end
  elseif inflight > 0 and remaining > held then
    wait = tonumber(ARGV[7])
  else
    wait = period_end - now
  end
  -- The line: interactive waiters before background ones, then the waiters of the process
  -- let through least in this period, then the oldest.
  -- A place's score is kept up to date: each time its waiter asks (with its process's
  -- count now), and for every place when the counts start again.
  local function place(since, count, back)
    local score = since + math.min(count, 999) * 1e9
    if back then score = score + 1e13 end
    return score
  end
  -- The counts start again when a period ends; those made before the next period's first
  -- answer count for that period.
  local period = ended
  if period_end and now >= period_end then period = 'after ' .. ended end
  local counted = redis.call('HGET', state, 'served_in') or ''
  if counted ~= period then
    local after = string.sub(counted, 1, 6) == 'after '
    if not after or string.sub(period, 1, 6) == 'after ' then
      redis.call('DEL', served)
      local places = redis.call('ZRANGE', line, 0, -1, 'WITHSCORES')
      for i = 1, #places, 2 do
        local old = tonumber(places[i + 1])
        redis.call('ZADD', line, place(math.fmod(old, 1e9), 0, old >= 1e13), places[i])
      end
    end
    redis.call('HSET', state, 'served_in', period)
  end
  local process = ARGV[15]
  local served_count = tonumber(redis.call('HGET', served, process) or '0')
  local since = now - 1.7e9
  if waiter ~= '' then
    local old = redis.call('ZSCORE', line, waiter)
    if old then since = math.fmod(tonumber(old), 1e9) end
  end
  local score = place(since, served_count, background)
  local rank
  if waiter ~= '' then
    redis.call('ZADD', line, score, waiter)
    rank = redis.call('ZRANK', line, waiter)
  else
    rank = redis.call('ZCOUNT', line, '-inf', score)
  end
  if wait <= 0 and rank < allowed then
    if waiter ~= '' then
      redis.call('ZREM', line, waiter)
      redis.call('ZREM', due, waiter)
    end
    redis.call('HINCRBY', served, process, 1)
    if spending then redis.call('HSET', state, 'tokens', tostring(tokens - 1)) end
    redis.call('ZADD', flight, now + lease, ARGV[4])
    if not first then redis.call('HSET', state, 'first_sent', ARGV[2]) end
    touch(blocked - now)
    return '0'
  end
  if wait <= 0 then
    -- Budget is left, but the waiters ahead go first: until about this one's turn.
    if interval > 0 then wait = (rank + 1 - tokens) * interval else wait = 0 end
    wait = math.min(math.max(wait, 0.01), tonumber(ARGV[13]))
  end
  if waiter ~= '' then redis.call('ZADD', due, now + wait + tonumber(ARGV[12]), waiter) end
  touch(blocked - now)
  return tostring(wait)
elseif op == 'withdraw' then
  redis.call('ZREM', line, ARGV[4])
  redis.call('ZREM', due, ARGV[4])
  return '0'
elseif op == 'settle' then
  redis.call('ZREM', flight, ARGV[4])
  if ARGV[5] == '1' then
    -- The rule of Pacer.observe (voucherify_async/_core/pacing.py), step for step.
    redis.call('HSET', state, 'informed', '1')
    if ARGV[8] ~= '' then
      local span = math.min(tonumber(ARGV[8]) - now, 3600)
      if span > (num('span') or 0) then redis.call('HSET', state, 'span', tostring(span)) end
    end
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

    **Fair shares.** The rest of each period's budget is spread over most of the rest of
    the period (a burst of a tenth of the limit goes at once; periods of five seconds or
    more), and a request told to wait takes a place in a waiting line in Redis: the process
    let through least in the period first, then the oldest waiter. When a period ends, a
    burst goes in the line's order while the next period's first answer is on its way, and
    counts for that period. Every waiting request is served in turn, so processes (and
    tasks) with the same demand get the same share, whoever wakes first. A place is kept
    while its request asks again in time;
    a process that dies loses its places within two seconds.

    **Priority.** Interactive requests are ahead of background ones in the line, and
    background requests leave the last ``interactive_share`` of each period's limit to
    interactive ones while interactive requests are being made (see `LocalRateLimiter`).

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
        interactive_share: the share of each period's limit background requests leave to
            interactive ones (rounded, one request at least; ``0``: none).
        interactive_idle: seconds after the last interactive request (of any process on
            the key) after which background requests may use the whole budget (``None``:
            never).
        clock: Unix epoch seconds (injectable for tests).

    Raises:
        ConfigurationError: a missing or bad argument, a malformed Redis URL or an unknown
            scheme. (Wrong credentials or rights are found at the first call, which raises
            `ConfigurationError`.)

    Examples:
        ```python
        limiter = RedisRateLimiter("redis://localhost:6379/0", app_id="my-app-id")
        wait = await limiter.reserve()  # 0.0: go now (and settle it afterwards)
        backfill = AsyncVoucherify(rate_limiter=limiter, priority="background")
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
        interactive_share: float = DEFAULT_INTERACTIVE_SHARE,
        interactive_idle: float | None = DEFAULT_INTERACTIVE_IDLE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError("RedisRateLimiter needs exactly one of url= or client=")
        try:
            share = check_interactive_share(interactive_share)
            idle = check_interactive_idle(interactive_idle)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
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
        self.keys: tuple[str, str, str, str, str] = ("", "", "", "", "")
        self._key(DEFAULT_HOST if host is None else host.lower())
        self._lease = float(lease)
        self._policy = on_unavailable
        self._retry_after = float(retry_redis_after)
        self._clock = clock
        self._script = self._redis.client.register_script(_SCRIPT)
        # This process's reservations not yet settled: a Redis member, or None when the
        # reservation was taken from the local fallback. Settling takes any one of them.
        self._mine: deque[str | None] = deque()
        self._local = Pacer(clock, interactive_share=share, interactive_idle=idle)
        self._share = repr(share)
        self._idle = "-1" if idle is None else repr(idle)
        # Names this process's waiters in the line (with the asking task's id).
        self._process = uuid.uuid4().hex[:16]
        self._down_until = 0.0
        self._warned = False
        self._renewer: asyncio.Task[None] | None = None

    def _key(self, host: str) -> None:
        self._host = host
        base = f"{self._prefix}:{{{self._app_id}@{host}}}"  # one hash slot for all keys
        self.keys = (
            f"{base}:state",
            f"{base}:flight",
            f"{base}:line",
            f"{base}:due",
            f"{base}:served",
        )

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

    async def reserve(self, priority: Priority = INTERACTIVE) -> float:
        """Count one request in flight and return 0.0, or return seconds to wait first.

        A request told to wait keeps its place in the key's waiting line as long as the
        same task asks again in time (by the time it was told, and two seconds more).

        Args:
            priority: ``"interactive"`` or ``"background"`` (see the class).

        Returns:
            0.0 when a request may be sent now (settle it with `settle`); otherwise the
            seconds to wait before asking again (nothing was counted).

        Raises:
            ConfigurationError: Redis refuses the URL's credentials (wrong password or user,
                or a user without the ACL rights needed), whatever ``on_unavailable``; or
                ``priority`` is not one of the two.
            RedisUnavailableError: Redis is unreachable and ``on_unavailable="error"``.
        """
        if priority != INTERACTIVE:
            try:
                priority = check_priority(priority)
            except ValueError as exc:
                raise ConfigurationError(str(exc)) from None
        member = uuid.uuid4().hex
        waiter = self._waiter()
        answer = await self._call(
            "reserve",
            member,
            repr(_FIRST_ANSWER_POLL),
            repr(_FIRST_ANSWER_MAX_WAIT),
            repr(_IN_FLIGHT_POLL),
            "b" if priority == BACKGROUND else "i",
            waiter,
            self._share,
            self._idle,
            repr(_WAITER_GRACE),
            repr(_LINE_POLL),
            str(_SMALLEST_BURST),
            self._process,
        )
        if answer is None:
            wait = self._local.try_send(priority, asyncio.current_task())
            if wait <= 0:
                self._mine.append(None)
            return wait
        wait = float(answer)
        if wait <= 0:
            self._mine.append(member)
            self._keep_renewing()
            return 0.0
        return wait

    def _waiter(self) -> str:
        """The asking task's name in the line ('' outside a task: it keeps no place)."""
        task = asyncio.current_task()
        return "" if task is None else f"{self._process}:{id(task):x}"

    async def withdraw(self) -> None:
        """The asking task's request, told to wait, gives up: it leaves the waiting line.

        The client calls it when a request gives up waiting (its deadline,
        ``max_retry_wait``, a cancellation). Without it, the place would be given up two
        seconds after the request should have asked again.

        Raises:
            ConfigurationError: Redis refuses the URL's credentials or rights.
            RedisUnavailableError: Redis is unreachable and ``on_unavailable="error"``.
        """
        self._local.withdraw(asyncio.current_task())
        waiter = self._waiter()
        if waiter:
            await self._call("withdraw", waiter)

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
