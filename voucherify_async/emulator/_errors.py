"""The API's error objects and the exception that carries one out of a handler.

Every 4xx/5xx body the emulator writes is ``{code, key, message, details, request_id,
resource_id?, resource_type?}`` (the spec's ``Error`` schema), except the 413 for
oversized bulk bodies, which the spec documents with its own ``BadRequest`` shape.

Written apart from the client's error classes on purpose: this module imports nothing of
the client's protocol code (``voucherify_async._errors``), so the emulator stays an
independent check of how the client reads error fields. ``EmulatorHTTPError`` is the
emulator's internal way to answer with an error; it is not the client's ``APIError``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_BODY_BYTES",
    "EmulatorHTTPError",
    "error_body",
    "invalid_customer",
    "invalid_payload",
    "invalid_query",
    "not_found",
    "payload_too_large_body",
]

#: Bulk endpoints accept up to 10 MB (the vendor's documented limit).
MAX_BODY_BYTES = 10_485_760

_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    402: ("payment_required", "Payment required"),
    404: ("not_found", "Resource not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("duplicate_found", "Duplicated resource found"),
    413: ("payload_too_large", "Request Entity Too Large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    423: ("locked", "Resource locked"),
    429: ("too_many_requests", "Too many requests hit the API too quickly."),
    500: ("internal_server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
    504: ("gateway_timeout", "Gateway Timeout"),
}


def default_key_and_message(status: int) -> tuple[str, str]:
    """Return the usual ``(key, message)`` pair for an HTTP error status.

    Example: ``default_key_and_message(404)`` -> ``("not_found", "Resource not found")``.
    """
    return _MESSAGES.get(status, ("error", "Error"))


def error_body(
    status: int,
    *,
    key: str | None = None,
    message: str | None = None,
    details: str | None = None,
    request_id: str | None = None,
    resource_id: str | None = None,
    resource_type: str | None = None,
) -> dict[str, Any]:
    """Build an ``Error`` object; missing key and message default from the status.

    Example: ``error_body(401, request_id="v-0b4c590350857970df")`` ->
    ``{"code": 401, "key": "unauthorized", "message": "Unauthorized", ...}``.
    """
    default_key, default_message = default_key_and_message(status)
    body: dict[str, Any] = {
        "code": status,
        "key": key or default_key,
        "message": message or default_message,
    }
    if details is not None:
        body["details"] = details
    if request_id is not None:
        body["request_id"] = request_id
    if resource_id is not None:
        body["resource_id"] = resource_id
    if resource_type is not None:
        body["resource_type"] = resource_type
    return body


def payload_too_large_body() -> dict[str, Any]:
    """The spec's 413 body (``BadRequest`` schema) for bodies over 10 MB."""
    return {
        "statusCode": 413,
        "error": "Request Entity Too Large",
        "message": f"Payload content length greater than maximum allowed: {MAX_BODY_BYTES}",
    }


class EmulatorHTTPError(Exception):
    """Raised inside a handler to answer with an API error object.

    ``body`` replaces the standard ``Error`` object when given (the 413 case).

    Example: ``raise EmulatorHTTPError(404, details="Cannot find customer with id x")``.
    """

    def __init__(
        self,
        status: int,
        *,
        key: str | None = None,
        message: str | None = None,
        details: str | None = None,
        resource_id: str | None = None,
        resource_type: str | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(details or message or key or str(status))
        self.status = status
        self.key = key
        self.message = message
        self.details = details
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.body = body
        self.headers = headers or {}

    def to_body(self, request_id: str | None) -> dict[str, Any]:
        """Render the JSON body, stamping the request id on standard error objects."""
        if self.body is not None:
            return self.body
        return error_body(
            self.status,
            key=self.key,
            message=self.message,
            details=self.details,
            request_id=request_id,
            resource_id=self.resource_id,
            resource_type=self.resource_type,
        )


def not_found(resource_type: str, resource_id: str) -> EmulatorHTTPError:
    """A 404 for a missing resource, worded like the API.

    Example: ``not_found("customer", "cust_x")`` has details
    ``"Cannot find customer with id cust_x"``.
    """
    return EmulatorHTTPError(
        404,
        key="not_found",
        message="Resource not found",
        details=f"Cannot find {resource_type} with id {resource_id}",
        resource_id=resource_id,
        resource_type=resource_type,
    )


def invalid_query(details: str) -> EmulatorHTTPError:
    """A 400 ``invalid_query_params``, e.g. for ``limit=abc`` or ``page=100``."""
    return EmulatorHTTPError(
        400, key="invalid_query_params", message="Invalid query params", details=details
    )


def invalid_payload(details: str) -> EmulatorHTTPError:
    """A 400 ``invalid_payload`` for a body that is not what the endpoint takes."""
    return EmulatorHTTPError(400, key="invalid_payload", message="Invalid payload", details=details)


def invalid_customer(details: str) -> EmulatorHTTPError:
    """A 400 ``invalid_customer`` for a customer field of the wrong type or format."""
    return EmulatorHTTPError(
        400, key="invalid_customer", message="Invalid customer", details=details
    )
