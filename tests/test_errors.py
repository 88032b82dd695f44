"""Every non-2xx answer and every malformed body maps to one clear exception."""

from __future__ import annotations

import traceback

import pytest
from aioresponses import aioresponses

from tests.conftest import APP_TOKEN, url
from voucherify_async import (
    APIError,
    APIStatusError,
    AsyncVoucherify,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    InternalServerError,
    LockedError,
    MalformedResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PaymentRequiredError,
    QuotaExceededError,
    RateLimitError,
    RedirectError,
    VoucherifyError,
)
from voucherify_async._exceptions import redact, status_error_class

PATH = "/v1/customers/c1"
NOT_FOUND = {
    "code": 404,
    "key": "not_found",
    "message": "Resource not found",
    "details": "Cannot find customer with id c1",
    "request_id": "v-0b4c590350857970df",
    "resource_id": "c1",
    "resource_type": "customer",
}
GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    "</h1></center><hr><center>nginx</center></body></html>"
)


@pytest.fixture
def no_retry(vf: AsyncVoucherify) -> AsyncVoucherify:
    return vf.with_options(max_retries=0)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, PaymentRequiredError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, PayloadTooLargeError),
        (423, LockedError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
        (405, APIStatusError),
        (415, APIStatusError),
    ],
)
async def test_status_maps_to_its_exception(
    api: aioresponses, no_retry: AsyncVoucherify, status: int, cls: type[APIStatusError]
) -> None:
    body = {**NOT_FOUND, "code": status, "key": f"key_{status}"}
    api.get(
        url(PATH),
        status=status,
        payload=body,
        headers={"X-Rate-Limit-Limit": "100", "X-Rate-Limit-Remaining": "7", "Retry-After": "100"},
    )
    with pytest.raises(cls) as info:
        await no_retry.customers.get("c1")
    error = info.value
    assert type(error) is cls
    assert isinstance(error, APIStatusError) and isinstance(error, VoucherifyError)
    assert error.status == status and error.code == status
    assert error.key == f"key_{status}"
    assert error.message == "Resource not found"
    assert error.details == "Cannot find customer with id c1"
    assert error.request_id == "v-0b4c590350857970df"
    assert error.resource_id == "c1" and error.resource_type == "customer"
    assert error.rate_limit.limit == 100 and error.rate_limit.remaining == 7
    assert error.method == "GET" and error.url.endswith(PATH)
    text = str(error)
    assert str(status) in text and f"key_{status}" in text and "v-0b4c590350857970df" in text


async def test_error_with_nested_error_object(api: aioresponses, no_retry: AsyncVoucherify) -> None:
    api.get(
        url(PATH),
        status=400,
        payload={
            "code": 400,
            "key": "invalid_payload",
            "message": "Invalid payload",
            "error": {"message": "the rule says no"},
        },
    )
    with pytest.raises(BadRequestError) as info:
        await no_retry.customers.get("c1")
    assert info.value.error == {"message": "the rule says no"}


async def test_gateway_shape_413(api: aioresponses, no_retry: AsyncVoucherify) -> None:
    api.post(
        url("/v1/customers/bulk/async"),
        status=413,
        payload={
            "statusCode": 413,
            "error": "Request Entity Too Large",
            "message": "Payload content length greater than maximum allowed: 10485760",
        },
    )
    with pytest.raises(PayloadTooLargeError) as info:
        await no_retry.customers.update_in_bulk([{"source_id": "s"}])
    assert info.value.code == 413
    assert info.value.key == "Request Entity Too Large"
    assert "10485760" in info.value.message


@pytest.mark.parametrize(
    ("status", "body", "content_type", "says"),
    [
        (502, GATEWAY_PAGE, "text/html", "not a JSON error object"),
        (503, "", "text/plain", "empty body"),
        (500, '{"code": 500, "mess', "application/json", "not a JSON error object"),
        (404, '["not", "an", "object"]', "application/json", "not a JSON error object"),
    ],
)
async def test_error_with_a_body_that_is_not_json(
    api: aioresponses,
    no_retry: AsyncVoucherify,
    status: int,
    body: str,
    content_type: str,
    says: str,
) -> None:
    api.get(url(PATH), status=status, body=body, content_type=content_type)
    with pytest.raises(APIStatusError) as info:
        await no_retry.customers.get("c1")
    error = info.value
    assert error.status == status
    assert says in str(error)
    if body:
        assert body[:20] in str(error)  # a short excerpt of what came back
    assert error.key is None and error.body is None


async def test_long_html_body_is_cut_to_an_excerpt(
    api: aioresponses, no_retry: AsyncVoucherify
) -> None:
    api.get(
        url(PATH), status=503, body="<html>" + "x" * 100_000 + "</html>", content_type="text/html"
    )
    with pytest.raises(InternalServerError) as info:
        await no_retry.customers.get("c1")
    assert len(str(info.value)) < 500
    assert "…" in str(info.value)


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (GATEWAY_PAGE, "text/html", "not valid JSON"),
        ("", "application/json", "empty body"),
        ('{"id": "cust_1", "name": "Bo', "application/json", "not valid JSON"),
        ('{"id": 12}', "application/json", "does not match Customer"),
        ("[1, 2]", "application/json", "does not match Customer"),
        ('{"id": "c", "created_at": "yesterday"}', "application/json", "created_at"),
    ],
)
async def test_2xx_with_a_malformed_body(
    api: aioresponses, vf: AsyncVoucherify, body: str, content_type: str, says: str
) -> None:
    api.get(url(PATH), status=200, body=body, content_type=content_type)
    with pytest.raises(MalformedResponseError) as info:
        await vf.customers.get("c1")
    error = info.value
    assert isinstance(error, APIError)
    assert error.status == 200
    assert says in str(error)
    assert error.__cause__ is None  # no decode traceback chained underneath
    assert error.body_excerpt


async def test_no_error_carries_the_token(api: aioresponses, no_retry: AsyncVoucherify) -> None:
    api.get(
        url(PATH),
        status=401,
        payload={"code": 401, "key": "unauthorized", "message": "Unauthorized"},
    )
    with pytest.raises(AuthenticationError) as info:
        await no_retry.customers.get("c1")
    error = info.value
    for text in (str(error), repr(error), repr(error.__dict__)):
        assert APP_TOKEN not in text


async def test_no_log_line_carries_the_token(
    api: aioresponses, vf: AsyncVoucherify, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(url(PATH), status=503, body="", repeat=True)
    with caplog.at_level("DEBUG"), pytest.raises(InternalServerError):
        await vf.customers.get("c1")
    assert any("retry" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        assert APP_TOKEN not in record.getMessage()


def test_new_errors_sit_in_the_tree() -> None:
    assert issubclass(QuotaExceededError, RateLimitError)
    assert issubclass(RedirectError, APIStatusError)
    assert issubclass(ClientClosedError, VoucherifyError)
    assert issubclass(ClientClosedError, RuntimeError)
    assert not issubclass(ClientClosedError, APIError)  # not retried by job polling
    assert status_error_class(302) is RedirectError
    assert status_error_class(429, "api_calls_cycle") is QuotaExceededError
    assert status_error_class(429, "api_calls") is RateLimitError


async def test_a_server_echoing_the_token_does_not_put_it_in_the_error(
    api: aioresponses, no_retry: AsyncVoucherify
) -> None:
    api.get(
        url(PATH),
        status=400,
        payload={
            "code": 400,
            "key": "invalid",
            "message": f"bad header {APP_TOKEN}",
            "details": APP_TOKEN,
        },
        headers={"X-Echo": APP_TOKEN},
    )
    with pytest.raises(BadRequestError) as info:
        await no_retry.customers.get("c1")
    error = info.value
    texts = [str(error), repr(error), repr(vars(error)), repr(error.args)]
    texts += traceback.format_exception(type(error), error, error.__traceback__)
    texts += traceback.TracebackException.from_exception(error, capture_locals=True).format()
    assert [text for text in texts if APP_TOKEN in text] == []
    assert "***" in str(error)


def test_redact_walks_containers() -> None:
    value = {"a": [APP_TOKEN, (b"x" + APP_TOKEN.encode(),)], APP_TOKEN: 1}
    assert redact(value, APP_TOKEN) == {"a": ["***", (b"x***",)], "***": 1}
    assert redact("nothing", "") == "nothing"


def test_every_exception_of_the_package_is_defined_in_one_module() -> None:
    import inspect

    import voucherify_async

    exported = [
        value
        for name in voucherify_async.__all__
        if inspect.isclass(value := getattr(voucherify_async, name))
        and issubclass(value, BaseException)
    ]
    assert len(exported) >= 28
    defined = vars(voucherify_async._exceptions)
    assert all(defined.get(cls.__name__) is cls for cls in exported)
    # Shown where users import them from, not as a private module's.
    assert {cls.__module__ for cls in exported} == {"voucherify_async"}
    documented = voucherify_async._exceptions.__doc__ or ""
    assert all(cls.__name__ in documented for cls in exported)


def test_an_exception_prints_under_the_package_name() -> None:
    from voucherify_async import NotFoundError

    error = NotFoundError("Resource not found", status=404)
    line = traceback.format_exception_only(type(error), error)[-1]
    assert line.startswith("voucherify_async.NotFoundError: ")
