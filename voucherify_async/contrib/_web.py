"""What a web app answers when a call to the API fails: one decision for every framework.

`answer_for` maps the client's exceptions to the HTTP answer a browser should get, and
`log_failure` writes the one line a server log gets instead of a traceback. The framework
modules (`starlette`, `aiohttp_web`) only turn that answer into their response type.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ClientClosedError,
    InternalServerError,
    MalformedResponseError,
    PaymentRequiredError,
    QuotaExceededError,
    RateLimitError,
)

__all__ = ["HANDLED", "ErrorAnswer", "answer_for", "log_failure"]

log = logging.getLogger("voucherify_async.web")

#: The exceptions the integrations answer for. Others (`NotFoundError`, `BadRequestError`
#: and the rest of the 4xx about the request itself) are the app's to answer.
HANDLED: tuple[type[Exception], ...] = (
    RateLimitError,
    APIConnectionError,
    InternalServerError,
    MalformedResponseError,
    AuthenticationError,
    PaymentRequiredError,
    ClientClosedError,
)


@dataclass(frozen=True)
class ErrorAnswer:
    """The answer to send: a status, headers (``Retry-After``) and a JSON body."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def body(self) -> dict[str, str]:
        """The JSON body, in FastAPI's shape: ``{"detail": ...}``."""
        return {"detail": self.detail}


def _retry_after(seconds: float | None) -> dict[str, str]:
    if seconds is None or not math.isfinite(seconds):
        return {}
    return {"Retry-After": str(max(math.ceil(seconds), 1))}


def answer_for(error: BaseException) -> ErrorAnswer | None:
    """The answer for ``error``, or ``None`` when the app should answer it itself.

    - the API's rate limit (`RateLimitError`, also when it would outlast the call's
      deadline): ``503`` with ``Retry-After``; a spent billing-cycle quota: ``503``;
    - no answer in time (`APITimeoutError`, `DeadlineExceededError`): ``504``;
    - no answer, a 5xx after the retries, an unreadable answer, credentials refused:
      ``502``;
    - the client closed (the app shutting down): ``503``.

    The browser did nothing wrong in any of these, so none is a 4xx; the details stay in
    the server's log, not in the body.
    """
    if isinstance(error, QuotaExceededError):
        return ErrorAnswer(503, "the upstream API's quota is spent")
    if isinstance(error, RateLimitError):
        return ErrorAnswer(
            503, "the upstream API is rate limited; retry later", _retry_after(error.retry_after)
        )
    if isinstance(error, APITimeoutError):
        return ErrorAnswer(504, "the upstream API did not answer in time")
    if isinstance(error, (APIConnectionError, InternalServerError, MalformedResponseError)):
        return ErrorAnswer(502, "the upstream API failed")
    if isinstance(error, (AuthenticationError, PaymentRequiredError)):
        return ErrorAnswer(502, "the upstream API refused this service's credentials")
    if isinstance(error, ClientClosedError):
        return ErrorAnswer(503, "shutting down; retry later", {"Retry-After": "1"})
    return None


def log_failure(method: str, path: str, error: BaseException, answer: ErrorAnswer) -> None:
    """One warning line for a failed request: no traceback (the error's message says it)."""
    log.warning("%s %s -> %d: %s: %s", method, path, answer.status, type(error).__name__, error)
