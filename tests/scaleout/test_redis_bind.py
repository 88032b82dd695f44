"""The limiter's key follows the API host of the client it is given to."""

from __future__ import annotations

import pytest

from voucherify_async import AsyncVoucherify, ConfigurationError
from voucherify_async.contrib.redis import RedisRateLimiter

from .redis_server import RedisServer

URL = "redis://127.0.0.1:1/0"  # never connected to by these tests but the last one


def client(limiter: RedisRateLimiter, **options: str) -> AsyncVoucherify:
    return AsyncVoucherify(app_id="a", app_token="t", rate_limiter=limiter, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "host"),
    [
        ({}, "api.voucherify.io"),
        ({"cluster": "us1"}, "us1.api.voucherify.io"),
        ({"base_url": "https://AS1.api.voucherify.io/"}, "as1.api.voucherify.io"),
        ({"base_url": "https://acme.api.voucherify.io:443"}, "acme.api.voucherify.io"),
        ({"base_url": "http://127.0.0.1:8123"}, "127.0.0.1:8123"),
    ],
)
def test_the_key_is_the_clients_host_when_none_was_given(
    options: dict[str, str], host: str
) -> None:
    limiter = RedisRateLimiter(URL, app_id="a")
    vf = client(limiter, **options)
    assert limiter.host == host and vf.rate_limiter is limiter
    assert all(f"{{a@{host}}}" in key for key in limiter.keys)
    # A with_options copy shares the limiter and its host.
    assert vf.with_options(timeout=5).rate_limiter is limiter and limiter.host == host


def test_a_host_given_must_be_the_clients() -> None:
    limiter = RedisRateLimiter(URL, app_id="a", host="API.voucherify.io")
    client(limiter)  # the same host, in any case
    assert limiter.host == "api.voucherify.io"
    limiter = RedisRateLimiter(URL, app_id="a", host="api.voucherify.io")
    with pytest.raises(ConfigurationError) as caught:
        client(limiter, cluster="us1")
    assert "'api.voucherify.io'" in str(caught.value)
    assert "'us1.api.voucherify.io'" in str(caught.value)
    assert limiter.host == "api.voucherify.io"


def test_one_limiter_cannot_pace_two_hosts() -> None:
    limiter = RedisRateLimiter(URL, app_id="a")
    client(limiter, cluster="us1")
    client(limiter, base_url="https://us1.api.voucherify.io")  # the same host again: fine
    with pytest.raises(
        ConfigurationError, match=r"us1\.api\.voucherify\.io.*as1\.api\.voucherify\.io"
    ):
        client(limiter, cluster="as1")
    assert limiter.host == "us1.api.voucherify.io"


async def test_clients_of_two_hosts_do_not_share_a_budget(redis_server: RedisServer) -> None:
    eu, us = (RedisRateLimiter(redis_server.url, app_id="same-app") for _ in range(2))
    client(eu)
    client(us, cluster="us1")
    assert eu.keys != us.keys
    assert await eu.reserve() == 0.0
    assert await eu.reserve() > 0  # before any answer: one request at a time on eu's key
    assert await us.reserve() == 0.0  # us1's budget is another one
    await eu.aclose()
    await us.aclose()
