"""``fan_out``: run one coroutine function over many inputs, a bounded number at a time.

Built on an anyio task group: at most ``concurrency`` workers pull inputs from one shared
iterator, so 10,000 inputs never mean 10,000 tasks. Results come back in input order. The
first failure cancels the other workers (and the requests they have in flight) and is raised
as itself, not wrapped in an exception group; ``return_exceptions=True`` keeps going and puts
each failure in its input's place instead.

A client's ``max_concurrency`` still bounds its requests across every fan-out running at
once: ``concurrency`` only bounds this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal, TypeVar, overload

import anyio

__all__ = ["DEFAULT_CONCURRENCY", "check_concurrency", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")

#: How many inputs a fan-out works on at once unless told otherwise.
DEFAULT_CONCURRENCY = 10

_END = object()


def check_concurrency(concurrency: object, name: str = "concurrency") -> int:
    """Return ``concurrency`` if it is an int >= 1; otherwise raise naming ``name``."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        raise TypeError(f"{name} must be an int >= 1, got {concurrency!r}")
    if concurrency < 1:
        raise ValueError(f"{name} must be an int >= 1, got {concurrency}")
    return concurrency


@overload
async def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = ...,
    return_exceptions: Literal[False] = ...,
) -> list[R]: ...


@overload
async def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = ...,
    return_exceptions: Literal[True],
) -> list[R | Exception]: ...


@overload
async def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = ...,
    return_exceptions: bool,
) -> list[R] | list[R | Exception]: ...


async def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    return_exceptions: bool = False,
) -> list[R] | list[R | Exception]:
    """Await ``func(item)`` for every item, at most ``concurrency`` at a time, in input order.

    Args:
        func: a coroutine function of one argument, e.g. ``vf.customers.get`` (use a
            ``lambda`` or ``functools.partial`` to pass more).
        items: any iterable; it is read lazily, as workers free up.
        concurrency: the most calls in flight at once (>= 1).
        return_exceptions: ``False`` (the default): the first exception cancels the calls in
            flight, starts no new ones, and is raised. ``True``: every item gets a result;
            an item whose call raised gets its exception (an ``Exception``; cancellation
            still propagates) in its place.

    Returns:
        One result per item, in the order of ``items``.

    Cancelling the caller (a timeout around it, a cancelled task group) cancels every call
    in flight and starts no new one; when ``fan_out`` returns or raises, none of its tasks
    is left running.

    Examples:
        ```python
        from voucherify_async import fan_out
        customers = await fan_out(vf.customers.get, ["bob", "alice"], concurrency=50)
        results = await fan_out(vf.customers.get, ids, return_exceptions=True)
        failed = [i for i, r in zip(ids, results) if isinstance(r, Exception)]
        ```
    """
    check_concurrency(concurrency)
    if isinstance(items, (str, bytes, bytearray)):
        raise TypeError(
            f"items must be an iterable of inputs, not {type(items).__name__} (wrap one input"
            " in a list)"
        )
    if not callable(func):
        raise TypeError(f"func must be a coroutine function, got {type(func).__name__}")
    iterator: Iterator[tuple[int, T]] = enumerate(items)
    results: dict[int, Any] = {}
    failure: list[BaseException] = []
    workers = concurrency
    if hasattr(items, "__len__"):
        workers = max(1, min(concurrency, len(items)))  # type: ignore[arg-type]

    def fail(exc: BaseException, note: str, scope: anyio.CancelScope) -> None:
        if not failure:
            add_note = getattr(exc, "add_note", None)
            if add_note is not None:
                add_note(note)
            failure.append(exc)
        scope.cancel()

    async def worker(scope: anyio.CancelScope) -> None:
        while not failure:
            try:
                entry: Any = next(iterator, _END)
            except Exception as exc:  # the caller's iterable broke: nothing more to run
                fail(exc, "fan_out(): raised while reading items", scope)
                return
            if entry is _END:
                return
            index, item = entry
            try:
                results[index] = await func(item)
            except Exception as exc:
                if return_exceptions:
                    results[index] = exc
                else:
                    fail(exc, f"fan_out(): raised by item {index} ({item!r:.80})", scope)
                    return

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker, tg.cancel_scope)
    if failure:
        raise failure[0]
    return [results[index] for index in range(len(results))]
