"""What the client tells about its requests: typed events for hooks, and counters.

The transport builds an event at each step of a call (an attempt leaving, its answer, a
retry decided, a wait, a page read) and hands it to the hooks the client was given; it
counts every step in `ClientStats` whether or not anyone listens. Plain data, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ClientStats",
    "PageEvent",
    "RequestEvent",
    "ResponseEvent",
    "RetryEvent",
    "WaitEvent",
    "operation_name",
    "path_template",
]


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """An attempt is about to be sent.

    Attributes:
        method: the HTTP method.
        url: the full URL (never a credential).
        template: the path with its ids as placeholders (``/v1/customers/{customerId}``).
        attempt: 1 for the first attempt, 2 for the first retry ...
    """

    method: str
    url: str
    template: str
    attempt: int


@dataclass(frozen=True, slots=True)
class ResponseEvent:
    """An attempt ended: with an answer (``status``), or without one (``error``).

    Attributes:
        method: the HTTP method.
        url: the full URL.
        template: the path template.
        attempt: which attempt (1 for the first).
        status: the HTTP status, or ``None`` when no answer came.
        error: the failure's type when no answer came (``"ServerDisconnectedError"``).
        elapsed: seconds the attempt took.
        request_id: the API's request id, when the answer carried one.
        rate_limit_remaining: ``X-Rate-Limit-Remaining`` of the answer, if any.
    """

    method: str
    url: str
    template: str
    attempt: int
    status: int | None
    error: str | None
    elapsed: float
    request_id: str | None = None
    rate_limit_remaining: int | None = None


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """A failed attempt will be sent again.

    Attributes:
        method: the HTTP method.
        template: the path template.
        attempt: the attempt that failed (1 for the first).
        delay: seconds before the next attempt (a 429's wait is a `WaitEvent` as well).
        cause: what failed: ``"HTTP 503"``, ``"ServerDisconnectedError"``.
    """

    method: str
    template: str
    attempt: int
    delay: float
    cause: str


@dataclass(frozen=True, slots=True)
class WaitEvent:
    """A call waits before its next attempt.

    Attributes:
        reason: ``"rate_limit"`` (the pacer, or the wait a 429 asked for) or ``"backoff"``
            (between a failure and its retry).
        seconds: how long.
        method: the HTTP method.
        template: the path template.
    """

    reason: Literal["rate_limit", "backoff"]
    seconds: float
    method: str
    template: str


@dataclass(frozen=True, slots=True)
class PageEvent:
    """A list iterator read a page.

    Attributes:
        template: the list's path template (``/v1/customers``).
        items: how many items the page held.
        number: the pages read so far by this iterator (1 for the first).
    """

    template: str
    items: int
    number: int


@dataclass
class ClientStats:
    """Counters of one client and the clients ``with_options`` made from it; always on.

    Attributes:
        calls: calls made (each may take several attempts).
        requests: attempts sent.
        retries: attempts that were retries.
        rate_limited: answers with status 429.
        errors: the calls that raised, by exception type (``{"NotFoundError": 3}``).
        rate_limit_wait: seconds calls waited for the rate limit (pacing and 429s).
        backoff_wait: seconds calls waited between a failure and its retry.
    """

    calls: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rate_limit_wait: float = 0.0
    backoff_wait: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """A plain copy, for a log line or a metrics exporter."""
        return {
            "calls": self.calls,
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "errors": dict(self.errors),
            "rate_limit_wait": round(self.rate_limit_wait, 6),
            "backoff_wait": round(self.backoff_wait, 6),
        }


# Literal paths under /v1/customers that are not a customer id.
_CUSTOMER_LITERALS = frozenset({"bulk", "metadata", "importCSV"})
# The name of the id segment after each collection (the OpenAPI files' names).
_ID_NAMES = {"customers": "{customerId}", "async-actions": "{asyncActionId}"}


def path_template(path: str) -> str:
    """``path`` with its ids as placeholders, for span names and metric attributes.

    ``/v1/customers/cust_1/segments`` gives ``/v1/customers/{customerId}/segments``. A path
    of another collection (through ``vf.request``) keeps its first two segments and shows
    every later one as ``{id}``, so no id reaches a metric.

    Examples:
        ```python
        path_template("/v1/customers/bob%40x.io/activity")
        # '/v1/customers/{customerId}/activity'
        ```
    """
    parts = path.split("?", 1)[0].split("/")
    # ["", "v1", collection, id, sub...]
    if len(parts) <= 3:
        return "/".join(parts)
    collection = parts[2]
    if collection == "customers" and parts[3] in _CUSTOMER_LITERALS:
        return "/".join(parts)
    name = _ID_NAMES.get(collection)
    if name is not None:
        return "/".join([*parts[:3], name, *parts[4:]])
    return "/".join([*parts[:3], *("{id}" for _ in parts[3:])])


_OPERATIONS = {
    ("GET", "/v1/customers/{customerId}"): "customers.get",
    ("POST", "/v1/customers"): "customers.create",
    ("PUT", "/v1/customers/{customerId}"): "customers.update",
    ("DELETE", "/v1/customers/{customerId}"): "customers.delete",
    ("POST", "/v1/customers/{customerId}/permanent-deletion"): "customers.delete_permanently",
    ("GET", "/v1/customers"): "customers.list",
    ("GET", "/v1/customers/{customerId}/activity"): "customers.list_activity",
    ("GET", "/v1/customers/{customerId}/activities"): "customers.list_activities",
    ("GET", "/v1/customers/{customerId}/redeemables"): "customers.list_redeemables",
    ("GET", "/v1/customers/{customerId}/segments"): "customers.list_segments",
    ("POST", "/v1/customers/importCSV"): "customers.import_csv",
    ("POST", "/v1/customers/bulk/async"): "customers.update_in_bulk",
    ("POST", "/v1/customers/metadata/async"): "customers.update_metadata_in_bulk",
    ("GET", "/v1/async-actions/{asyncActionId}"): "async_actions.get",
    ("GET", "/v1/async-actions"): "async_actions.list",
}


def operation_name(method: str, template: str) -> str:
    """The operation a request belongs to: ``customers.get``, or ``GET /v1/vouchers/{id}``."""
    return _OPERATIONS.get((method, template)) or f"{method} {template}"
