"""The answer a web app gives for each failure of the API (the pure mapping)."""

from __future__ import annotations

import pytest

from voucherify_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    DeadlineExceededError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PaymentRequiredError,
    QuotaExceededError,
    RateLimitError,
)
from voucherify_async.contrib._web import HANDLED, answer_for


def rate_limited(retry_after: float | None) -> RateLimitError:
    error = RateLimitError("slow down", status=429)
    error.retry_after = retry_after
    return error


@pytest.mark.parametrize(
    ("error", "status", "headers"),
    [
        (rate_limited(12.2), 503, {"Retry-After": "13"}),
        (rate_limited(0.01), 503, {"Retry-After": "1"}),
        (rate_limited(None), 503, {}),
        (QuotaExceededError("spent", status=429), 503, {}),
        (DeadlineExceededError("late", deadline=2.0), 504, {}),
        (APITimeoutError("late"), 504, {}),
        (APIConnectionError("refused", sent=False), 502, {}),
        (InternalServerError("boom", status=500), 502, {}),
        (MalformedResponseError("html", status=200, body=b"<html>"), 502, {}),
        (AuthenticationError("key", status=401), 502, {}),
        (PaymentRequiredError("plan", status=402), 502, {}),
        (ClientClosedError("closing"), 503, {"Retry-After": "1"}),
    ],
)
def test_each_failure_of_the_api_gets_its_answer(
    error: Exception, status: int, headers: dict[str, str]
) -> None:
    answer = answer_for(error)
    assert answer is not None
    assert (answer.status, answer.headers) == (status, headers)
    assert set(answer.body) == {"detail"} and str(error) not in answer.body["detail"]
    assert isinstance(error, HANDLED)  # the integrations register a handler for it


@pytest.mark.parametrize(
    "error",
    [
        NotFoundError("missing", status=404),
        BadRequestError("bad", status=400),
        ConfigurationError("no key"),
        ValueError("the app's own"),
    ],
)
def test_answers_about_the_request_itself_are_left_to_the_app(error: Exception) -> None:
    assert answer_for(error) is None
