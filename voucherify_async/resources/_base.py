"""What every resource shares: the transport, and turning keyword arguments into a body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

import msgspec

from .._core.events import PageEvent, operation_name, path_template
from .._core.query import Query
from .._core.request import Request
from .._transport.hooks import emit
from .._transport.transport import RawAnswer, Transport

__all__ = ["Resource", "build_body"]

ModelT = TypeVar("ModelT", bound=msgspec.Struct)
PageT = TypeVar("PageT")


class Resource:
    """Base of the API resources (``vf.customers``, ``vf.async_actions``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _page_getter(
        self, path: str, page_type: type[PageT]
    ) -> Callable[[Query], Awaitable[PageT]]:
        """The function a pager calls to fetch one page of ``path`` with a query."""

        async def fetch(query: Query) -> PageT:
            return await self._transport.request(Request("GET", path, page_type, query=query))

        return fetch

    def _raw_page_getter(
        self, path: str, page_type: type[PageT]
    ) -> Callable[[Query], Awaitable[RawAnswer[PageT]]]:
        """Like `_page_getter`, but the page comes undecoded (its ``decode()`` decodes it)."""

        async def fetch(query: Query) -> RawAnswer[PageT]:
            return await self._transport.request_raw(Request("GET", path, page_type, query=query))

        return fetch

    def _page_hook(self, path: str) -> Callable[[int], Awaitable[None]] | None:
        """What a pager calls with each page's item count: the hooks' ``on_page``.

        ``None`` (nothing to call) when the client has no hooks.
        """
        hooks = self._transport.shared.hooks
        if not hooks:
            return None
        template = path_template(path)
        pages = 0

        async def tell(items: int) -> None:
            nonlocal pages
            pages += 1
            await emit(hooks, "on_page", PageEvent(template, items, pages))

        return tell

    def _list_trace(self, path: str) -> Callable[[], Any] | None:
        """What a pager calls to open its iteration's span; ``None`` without telemetry."""
        telemetry = self._transport.shared.telemetry
        if telemetry is None:
            return None
        name = operation_name("GET", path_template(path))
        return lambda: telemetry.list_operation(name)

    def _operation(self, name: str) -> AbstractContextManager[Any]:
        """The OpenTelemetry span of a compound operation (partition, a job's wait, a CSV
        import); a no-op without telemetry."""
        telemetry = self._transport.shared.telemetry
        if telemetry is None:
            return nullcontext()
        operation: AbstractContextManager[Any] = telemetry.operation(name)
        return operation

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._transport.base_url}>"


def _where(exc: msgspec.ValidationError) -> tuple[str, str]:
    # msgspec says "... - at `$.address.city`"; callers know the field as `address.city`.
    text = str(exc)
    head, sep, path = text.rpartition(" - at `$")
    if not sep:
        return "", text
    return path.rstrip("`").lstrip("."), head


def build_body(
    cls: type[ModelT],
    given: object,
    fields: Mapping[str, Any],
    *,
    method: str,
    argument: str,
) -> ModelT:
    """Return the request model from either a model instance or keyword arguments.

    Unknown keywords and values of the wrong type raise a ``TypeError`` that names the
    argument (and, for a mapping passed as ``argument``, the mapping too), before anything is
    sent.
    """
    owner = ""  # how messages name the mapping the fields came from, if any
    if given is not None:
        if fields:
            raise TypeError(f"{method}() takes a {cls.__name__} or keyword arguments, not both")
        if isinstance(given, cls):
            return given
        if isinstance(given, Mapping):
            fields = given
            owner = argument
        else:
            raise TypeError(
                f"{method}() {argument} must be a {cls.__name__} or a mapping,"
                f" got {type(given).__name__}"
            )
    allowed = cls.__struct_fields__
    for key in fields:
        if key not in allowed:
            what = f"{owner} has an unexpected field" if owner else "got an unexpected argument"
            raise TypeError(f"{method}() {what} {key!r}; allowed: {', '.join(allowed)}")
    try:
        # from_attributes: an Address read from a customer can be sent back as an address.
        return msgspec.convert(dict(fields), cls, from_attributes=True)
    except msgspec.ValidationError as exc:
        field, problem = _where(exc)
        where = ".".join(part for part in (owner, field) if part)
        raise TypeError(
            f"{method}(): invalid {where}: {problem}" if where else f"{method}(): {problem}"
        ) from None
