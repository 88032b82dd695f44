"""Wrong credentials, missing rights and malformed URLs are configuration errors, not outages."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis as sync_redis

from voucherify_async import ConfigurationError
from voucherify_async.contrib.redis import RedisCheckpointStore, RedisRateLimiter

from .redis_server import free_port

PASSWORD = "hunter2-default"
READER_PASSWORD = "hunter2-reader"
WRONG_PASSWORD = "hunter2-wrong"
SECRETS = (PASSWORD, READER_PASSWORD, WRONG_PASSWORD)


@pytest.fixture(scope="module")
def secured() -> Iterator[int]:
    """A redis-server with a password, and a user ``reader`` allowed PING only."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run scripts/ensure-redis.sh")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="vf-redis-auth-")
    process = subprocess.Popen(
        [
            *(binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "no", "--dir", directory, "--requirepass", PASSWORD),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                admin = sync_redis.Redis(port=port, password=PASSWORD, socket_timeout=2)
                admin.ping()
                break
            except sync_redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        admin.acl_setuser(
            "reader",
            enabled=True,
            passwords=[f"+{READER_PASSWORD}"],
            keys=["*"],
            commands=["+ping", "+hello", "+auth"],
        )
        admin.acl_setuser(
            "scripter",
            enabled=True,
            passwords=[f"+{READER_PASSWORD}"],
            keys=["*"],
            commands=["+evalsha", "+script|load"],
        )
        # The rights the docs list for the limiter and the checkpoint store.
        admin.acl_setuser(
            "pacer",
            enabled=True,
            passwords=[f"+{READER_PASSWORD}"],
            keys=["voucherify-async:*"],
            commands=[
                *("+evalsha", "+script|load", "+@hash", "+@sortedset", "+expire"),
                "+get",
                "+set",
            ],
        )
        admin.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def chain(error: BaseException) -> str:
    """str and repr of the error and of everything chained to it."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        item = todo.pop()
        if item is None or any(item is known for known in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return " ".join(f"{item} {item!r} {getattr(item, 'args', '')}" for item in seen)


def assert_no_secret(error: BaseException) -> None:
    text = chain(error)
    assert not any(secret in text for secret in SECRETS), text


@pytest.mark.parametrize(
    ("userinfo", "what"),
    [
        (f":{WRONG_PASSWORD}@", "wrong password"),
        (f"nobody:{WRONG_PASSWORD}@", "wrong user"),
        ("", "no password (NOAUTH)"),
        (f"reader:{READER_PASSWORD}@", "a user without the rights (NOPERM)"),
        (f"scripter:{READER_PASSWORD}@", "a script's command not allowed"),
    ],
)
async def test_refused_credentials_are_a_configuration_error_not_an_outage(
    secured: int, userinfo: str, what: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://{userinfo}127.0.0.1:{secured}/0"
    limiter = RedisRateLimiter(url, app_id="auth", on_unavailable="local")
    store = RedisCheckpointStore(url)
    with caplog.at_level(logging.WARNING, logger="voucherify_async"):
        for _ in range(2):  # and again: never a fallback to local pacing
            with pytest.raises(ConfigurationError) as caught:
                await limiter.reserve()
            assert f"127.0.0.1:{secured}" in str(caught.value), what
            assert "refused" in str(caught.value)
            assert_no_secret(caught.value)
            assert not limiter.falling_back
        with pytest.raises(ConfigurationError) as caught:
            await limiter.hold(time.time() + 1)
        assert_no_secret(caught.value)
        for call in (store.save("k", b"v"), store.load("k")):
            with pytest.raises(ConfigurationError) as caught:
                await call
            assert f"127.0.0.1:{secured}" in str(caught.value)
            assert_no_secret(caught.value)
    assert not [r for r in caplog.records if "cannot reach" in r.getMessage()]
    await limiter.aclose()
    await store.aclose()


async def test_the_right_password_works(secured: int) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{secured}/0"
    limiter = RedisRateLimiter(url, app_id="auth-ok", on_unavailable="error")
    store = RedisCheckpointStore(url)
    assert await limiter.reserve() == 0.0
    await limiter.settle(None, None)
    await store.save("k", b"v")
    assert await store.load("k") == b"v"
    assert PASSWORD not in repr(limiter) + repr(store)
    await limiter.aclose()
    await store.aclose()


async def test_a_user_with_the_documented_rights_works(secured: int) -> None:
    url = f"redis://pacer:{READER_PASSWORD}@127.0.0.1:{secured}/0"
    limiter = RedisRateLimiter(url, app_id="acl", on_unavailable="error")
    store = RedisCheckpointStore(url)
    assert await limiter.reserve() == 0.0
    await limiter.settle(None, None)
    await store.save("k", b"v")
    assert await store.load("k") == b"v"
    await limiter.aclose()
    await store.aclose()


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
        f"redis://user:{PASSWORD}@127.0.0.1:99999/0",
        f"redis://:{PASSWORD}@[::1/0",
        f"http://:{PASSWORD}@127.0.0.1:6379/0",
        f"redis//:{PASSWORD}@127.0.0.1:6379/0",
        f"127.0.0.1:6379?password={PASSWORD}",
        f"redis://:{PASSWORD}@127.0.0.1:6379/0?socket_timeout=soon",
    ],
)
def test_malformed_urls_and_unknown_schemes_are_refused_at_construction(url: str) -> None:
    for make in (
        lambda: RedisRateLimiter(url, app_id="a"),
        lambda: RedisCheckpointStore(url),
    ):
        with pytest.raises(ConfigurationError, match="malformed") as caught:
            make()
        assert "127.0.0.1" in str(caught.value) or "::1" in str(caught.value)
        assert_no_secret(caught.value)
