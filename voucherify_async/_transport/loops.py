"""Resources that belong to one event loop: closed as that loop shuts down.

A connection pool (aiohttp's, redis-py's) can only be used, and only be closed, in the
event loop that opened it. `close_at_loop_end` arranges for ``close`` to run while the loop
is still alive: ``asyncio.run``, ``asyncio.Runner`` and ``anyio.run`` finalize every async
generator of their loop before closing it, and this one is started in it. So a client used
in one ``asyncio.run()`` and then in another leaves nothing open behind.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable

__all__ = ["close_at_loop_end"]


async def _closing(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await close()


async def close_at_loop_end(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    """Run ``close`` when the running loop shuts down its async generators.

    Returns the started generator: keep a reference to it (the loop holds it weakly), or
    ``await`` its ``aclose()`` to run ``close`` sooner.
    """
    finalizer = _closing(close)
    await finalizer.__anext__()
    return finalizer
