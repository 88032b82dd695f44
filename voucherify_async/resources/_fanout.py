"""The customers' fan-out methods: many single requests at once, in the order given."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload

import msgspec

from .._core.query import path_segment
from .._core.request import Request
from .._core.retry import create_is_retry_safe
from .._exceptions import NotFoundError
from ..models import Customer, CustomerCreate, CustomerUpdate
from ._base import Resource, build_body
from ._concurrency import DEFAULT_CONCURRENCY, check_concurrency, fan_out

__all__ = ["CustomerFanOut", "create_request"]

# What an error says when a request that is not sent twice may have been carried out.
_KEYLESS_CREATE_NOTE = (
    "the customer may have been created: a create without id or source_id is not sent"
    " again, as each arrival makes another customer; look it up with"
    " vf.customers.list(email=...) before creating it again, or give it a source_id so"
    " that a retry updates it instead"
)


def create_request(body: CustomerCreate) -> Request[Customer]:
    """``POST /v1/customers``: retried after it may have arrived only if it names its customer."""
    safe = create_is_retry_safe(body.id, body.source_id)
    return Request(
        "POST",
        "/v1/customers",
        Customer,
        json=msgspec.json.encode(body),
        retry_safe=safe,
        unsure_note=None if safe else _KEYLESS_CREATE_NOTE,
    )


class CustomerFanOut(Resource):
    """``get_many``, ``create_many`` and ``update_many`` of `Customers`."""

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer | None]: ...

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception | None]: ...

    @overload
    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = ...,
        missing_ok: bool = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer | None] | builtins.list[Customer | Exception | None]: ...

    async def get_many(
        self,
        customer_ids: Iterable[str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        missing_ok: bool = True,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer | None] | builtins.list[Customer | Exception | None]:
        """Look up many customers at once, ``concurrency`` at a time, in the order asked.

        Args:
            customer_ids: ids or source ids; each distinct one is looked up once.
            concurrency: the most lookups in flight at once for this call (the client's
                ``max_concurrency`` still bounds all its requests).
            missing_ok: ``True`` (the default): a customer that does not exist is ``None``.
                ``False``: it is a `NotFoundError`.
            return_exceptions: ``False`` (the default): the first error cancels the lookups
                in flight and is raised. ``True``: an id whose lookup failed gets its
                exception in its place and the others go on.

        Raises:
            TypeError, ValueError: an id is not a non-empty str (the message names its
                index), before any request is sent.

        Examples:
            ```python
            customers = await vf.customers.get_many(["bob", "alice", "nobody"])
            [c.id if c else None for c in customers]
            # ['cust_1', 'cust_2', None]
            ```
        """
        ids = _list_of_str(customer_ids, "get_many", "customer_ids")
        check_concurrency(concurrency)

        async def lookup(customer_id: str) -> Customer | None:
            try:
                segment = path_segment(customer_id, "customer_id")
                return await self._transport.request(
                    Request("GET", f"/v1/customers/{segment}", Customer)
                )
            except NotFoundError:
                if missing_ok:
                    return None
                raise

        unique = builtins.list(dict.fromkeys(ids))
        found = await fan_out(
            lookup, unique, concurrency=concurrency, return_exceptions=return_exceptions
        )
        by_id = dict(zip(unique, found, strict=True))
        return [by_id[customer_id] for customer_id in ids]

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer]: ...

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception]: ...

    @overload
    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]: ...

    async def create_many(
        self,
        customers: Iterable[CustomerCreate | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]:
        """Create (or upsert) many customers at once, one request each, in the order given.

        Each is retried as `create` would be: an item without ``id`` or ``source_id`` is not
        sent again once it may have reached the API.

        Every item is checked before anything is sent. For thousands of customers where
        the answers are not needed at once, `update_in_bulk()` takes fewer requests.

        Args:
            customers: `CustomerCreate` models or mappings.
            concurrency: the most requests in flight at once for this call.
            return_exceptions: ``False`` (the default): the first error cancels the rest and
                is raised. ``True``: a failed item gets its exception in its place.

        Examples:
            ```python
            created = await vf.customers.create_many(
                [{"source_id": "bob"}, {"source_id": "alice", "name": "Alice"}]
            )
            ```
        """
        items = _items(customers, "create_many", "customers")
        check_concurrency(concurrency)
        requests = [
            create_request(
                build_body(
                    CustomerCreate, item, {}, method="create_many", argument=f"customers[{i}]"
                )
            )
            for i, item in enumerate(items)
        ]
        return await fan_out(
            self._transport.request,
            requests,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Customer]: ...

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
    ) -> builtins.list[Customer | Exception]: ...

    @overload
    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = ...,
        return_exceptions: bool,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]: ...

    async def update_many(
        self,
        changes: Mapping[str, CustomerUpdate | Mapping[str, Any]]
        | Iterable[tuple[str, CustomerUpdate | Mapping[str, Any]]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
    ) -> builtins.list[Customer] | builtins.list[Customer | Exception]:
        """Update many customers at once (``PUT`` each), in the order given.

        Args:
            changes: ``{customer_id: changes}`` or ``(customer_id, changes)`` pairs, each
                ``changes`` a `CustomerUpdate` or a mapping
                of the fields to change (``None`` sends null).
            concurrency: the most requests in flight at once for this call.
            return_exceptions: ``False`` (the default): the first error cancels the rest and
                is raised. ``True``: a failed item gets its exception in its place.

        Every pair is checked before anything is sent.

        Examples:
            ```python
            await vf.customers.update_many(
                {"bob": {"name": "Robert"}, "alice": {"phone": None}}
            )
            ```
        """
        pairs = _pairs(changes)
        check_concurrency(concurrency)
        requests: builtins.list[Request[Customer]] = []
        for index, (customer_id, change) in enumerate(pairs):
            segment = path_segment(customer_id, f"update_many() changes[{index}] customer id")
            body = build_body(
                CustomerUpdate, change, {}, method="update_many", argument=f"changes[{index}]"
            )
            requests.append(
                Request("PUT", f"/v1/customers/{segment}", Customer, json=msgspec.json.encode(body))
            )
        return await fan_out(
            self._transport.request,
            requests,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
        )


def _list_of_str(values: Iterable[str], method: str, name: str) -> builtins.list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{method}() {name} must be an iterable of str, got {type(values).__name__}"
        )
    items = builtins.list(values)
    for index, value in enumerate(items):
        path_segment(value, f"{name}[{index}]")
    return items


def _items(values: Iterable[Any], method: str, name: str) -> builtins.list[Any]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{method}() {name} must be an iterable of models or mappings")
    return builtins.list(values)


def _pairs(changes: object) -> builtins.list[tuple[str, Any]]:
    if isinstance(changes, Mapping):
        return builtins.list(changes.items())
    if isinstance(changes, (str, bytes)) or not isinstance(changes, Iterable):
        raise TypeError(
            "update_many() changes must be a mapping {customer_id: changes} or an iterable of"
            " (customer_id, changes) pairs"
        )
    pairs = builtins.list(changes)
    for index, pair in enumerate(pairs):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise TypeError(
                f"update_many() changes[{index}] must be a (customer_id, changes) pair, got"
                f" {type(pair).__name__}"
            )
    return pairs
