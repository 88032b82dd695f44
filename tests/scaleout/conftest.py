"""Fixtures for the scale-out tests: a real redis-server started on a free port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server_session() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def redis_server(redis_server_session: RedisServer) -> RedisServer:
    """The session's redis-server, emptied before the test (and running again if stopped)."""
    if redis_server_session.process is None:
        redis_server_session.start()
    redis_server_session.flush()
    return redis_server_session
