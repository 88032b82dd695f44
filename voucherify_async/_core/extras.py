"""What the typed surface does not have yet: extra headers, query parameters and body fields.

Pure checks and merges behind ``extra_headers``, ``extra_query`` and ``extra_body`` (on the
single-request methods and ``with_options``) and behind ``vf.request`` (any endpoint).
Each bad value is a ``TypeError`` or ``ValueError`` naming the parameter, before any request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import msgspec

from .query import Query, _scalar
from .request import Request

__all__ = [
    "check_extra_headers",
    "check_extra_query",
    "generic_request",
    "with_extras",
]

#: The headers the client sets itself: credentials are the client's, not a call's.
_RESERVED_HEADERS = frozenset({"x-app-id", "x-app-token", "content-type", "content-length"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Characters a path keeps as they are; anything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_GENERIC_NOTE = (
    "the API may have carried this request out; it was not sent again, as the call was not"
    " marked retry_safe (pass retry_safe=True when doing it twice is harmless)"
)


def check_extra_headers(headers: object, name: str = "extra_headers") -> dict[str, str]:
    """``headers`` as a dict of str to str, or an error naming ``name``."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"{name} must be a mapping of header names to str values")
    checked: dict[str, str] = {}
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"{name} must map str to str, got {type(key).__name__} -> {type(value).__name__}"
                f" for {key!r}"
            )
        if key.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"{name} cannot set {key}: the client sets it (the credentials are"
                " app_id and app_token)"
            )
        if "\r" in value or "\n" in value or "\r" in key or "\n" in key:
            raise ValueError(f"{name}[{key!r}] has a line break")
        checked[key] = value
    return checked


def check_extra_query(query: object, name: str = "extra_query") -> Query:
    """``query`` as query pairs; a list or tuple value repeats its name (``a=1&a=2``)."""
    if query is None:
        return []
    if not isinstance(query, Mapping):
        raise TypeError(f"{name} must be a mapping of parameter names to values")
    pairs: Query = []
    for key, value in query.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be str, got {key!r}")
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend(
            (key, _scalar(item, f"{name}[{key!r}]")) for item in values if item is not None
        )
    return pairs


def _merge_body(json: bytes | None, extra_body: object) -> bytes | None:
    if extra_body is None:
        return json
    if not isinstance(extra_body, Mapping) or not all(isinstance(k, str) for k in extra_body):
        raise TypeError("extra_body must be a mapping with str keys")
    body = {} if json is None else msgspec.json.decode(json)
    if not isinstance(body, dict):
        raise TypeError("extra_body needs a request whose body is a JSON object")
    body.update(extra_body)
    try:
        return msgspec.json.encode(body)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"extra_body cannot be sent as JSON: {exc}") from None


def with_extras(
    request: Request[Any],
    *,
    extra_headers: object = None,
    extra_query: object = None,
    extra_body: object = None,
) -> Request[Any]:
    """``request`` with extra headers, query parameters (added after its own) and body fields
    (overriding its own); the same request when none is given."""
    if extra_headers is None and extra_query is None and extra_body is None:
        return request
    headers = check_extra_headers(extra_headers)
    query = check_extra_query(extra_query)
    if extra_body is not None and request.upload is not None:
        raise TypeError("extra_body cannot be added to a file upload")
    return msgspec.structs.replace(
        request,
        headers={**(request.headers or {}), **headers} or None,
        query=[*(request.query or []), *query] or None,
        json=_merge_body(request.json, extra_body),
    )


def generic_request(
    method: object,
    path: object,
    *,
    query: object = None,
    json: object = None,
    headers: object = None,
    cast_to: Any = None,
    retry_safe: object = None,
) -> Request[Any]:
    """The `Request` of ``vf.request``: every argument checked, naming the bad one."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    method = method.upper()
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(
            f"path must be the API path starting with one '/', such as '/v1/vouchers',"
            f" got {path!r} (the host is the client's base_url)"
        )
    if "?" in path or "#" in path:
        raise ValueError(f"path must not carry a query or fragment; pass query=, got {path!r}")
    if retry_safe is None:
        retry_safe = method == "GET"
    elif not isinstance(retry_safe, bool):
        raise TypeError(f"retry_safe must be True, False or None, got {retry_safe!r}")
    if cast_to is None:
        cast_to = Any
    elif not isinstance(cast_to, type) and getattr(cast_to, "__origin__", None) is None:
        raise TypeError(
            f"cast_to must be a type (a msgspec Struct, dict, list ...), got {cast_to!r}"
        )
    body = None
    if json is not None:
        try:
            body = msgspec.json.encode(json)
        except (TypeError, msgspec.EncodeError) as exc:
            raise TypeError(f"json cannot be sent as JSON: {exc}") from None
    return Request(
        method,
        quote(path, safe=_PATH_SAFE),
        cast_to,
        query=check_extra_query(query, "query") or None,
        json=body,
        retry_safe=retry_safe,
        unsure_note=None if retry_safe else _GENERIC_NOTE,
        headers=check_extra_headers(headers, "headers") or None,
    )
