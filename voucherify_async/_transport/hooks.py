"""Hooks: user code called at each step of a call, with a typed event; never breaking it.

`Hooks` is the base class a user overrides (any of its five methods, sync or async);
`emit` calls every hook the client was given with one event, logs what a hook raises and
goes on. The transport emits only when hooks were given: without them a call pays nothing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import Any

from .._core.events import PageEvent, RequestEvent, ResponseEvent, RetryEvent, WaitEvent

__all__ = ["Hooks", "check_hooks", "emit"]

log = logging.getLogger("voucherify_async")

_NAMES = ("on_request", "on_response", "on_retry", "on_wait", "on_page")


class Hooks:
    """Called at each step of every call of a client; override what you need.

    Each method gets a typed event and may be a plain function or a coroutine function. An
    exception a hook raises is logged (logger ``voucherify_async``) and the call goes on.
    Hooks run inline, in the task making the call: keep them quick (count, record, log).

    Examples:
        ```python
        from voucherify_async import AsyncVoucherify, Hooks, RetryEvent


        class CountRetries(Hooks):
            def __init__(self) -> None:
                self.causes: list[str] = []

            def on_retry(self, event: RetryEvent) -> None:
                self.causes.append(event.cause)


        counting = CountRetries()
        observed = AsyncVoucherify(hooks=counting)
        ```
    """

    def on_request(self, event: RequestEvent) -> Any:
        """An attempt is about to be sent."""

    def on_response(self, event: ResponseEvent) -> Any:
        """An attempt ended, with an answer or without one."""

    def on_retry(self, event: RetryEvent) -> Any:
        """A failed attempt will be sent again."""

    def on_wait(self, event: WaitEvent) -> Any:
        """A call waits: for the rate limit, or before a retry."""

    def on_page(self, event: PageEvent) -> Any:
        """A list iterator read a page."""


def check_hooks(hooks: object) -> tuple[Any, ...]:
    """``hooks`` (one object or a sequence of them) as a tuple; a ``TypeError`` if one has
    none of the five methods."""
    if hooks is None:
        return ()
    given = tuple(hooks) if isinstance(hooks, Sequence) else (hooks,)
    for hook in given:
        if not any(callable(getattr(hook, name, None)) for name in _NAMES):
            raise TypeError(
                f"hooks must be Hooks objects (or have on_request, on_response, on_retry,"
                f" on_wait or on_page methods), got {type(hook).__name__}"
            )
    return given


async def emit(hooks: tuple[Any, ...], name: str, event: object) -> None:
    """Call ``name`` on every hook with ``event``; log and swallow what one raises."""
    for hook in hooks:
        method = getattr(hook, name, None)
        if method is None:
            continue
        try:
            result = method(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("the %s hook of %s raised; the call goes on", name, type(hook).__name__)
