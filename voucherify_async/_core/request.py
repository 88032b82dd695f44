"""What a resource method hands to the transport: a plain description of one request."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

import msgspec

from .query import Query

__all__ = ["FileUpload", "Request"]

T = TypeVar("T")


@dataclass(frozen=True)
class FileUpload:
    """A file sent as one field of a ``multipart/form-data`` body.

    ``source`` is read when the request is sent, so a path is opened (and closed) per attempt
    and a file object or async iterable is streamed, not read into memory first.
    """

    field: str
    filename: str
    source: bytes | Path | BinaryIO | AsyncIterable[bytes]
    content_type: str = "text/csv"


class Request(msgspec.Struct, Generic[T], frozen=True):
    """One API call, described without any HTTP library (immutable).

    Attributes:
        method: the HTTP method.
        path: the path, its segments already percent-encoded.
        response_type: the type the JSON body decodes to; ``type(None)`` when no body is
            expected (``204 No Content``).
        query: query parameters, not yet escaped.
        json: the JSON body, already encoded.
        upload: a file to send as ``multipart/form-data``.
        retry_safe: whether the request may be repeated once it may have reached the server
            (doing it twice leaves the same state as doing it once; the API has no
            idempotency keys). ``False`` for a create without ``id`` or ``source_id``, the
            bulk and CSV jobs and permanent deletion: those are sent again only when the
            failed attempt surely did nothing (see ``voucherify_async._core.retry.may_resend``).
        unsure_note: for a request that is not ``retry_safe``, what the error says when the
            API may have carried it out: how to check, and how to avoid the doubt.
        raw: give the 2xx answer's body undecoded, as a ``RawAnswer`` whose ``decode()``
            gives the ``response_type`` (a pager reads its next cursor from the bytes and
            asks for the next page before decoding this one).
        headers: headers of this call alone, sent over the client's (``extra_headers``).
    """

    method: str
    path: str
    response_type: type[T]
    query: Query | None = None
    json: bytes | None = None
    upload: FileUpload | None = None
    retry_safe: bool = True
    unsure_note: str | None = None
    raw: bool = False
    headers: Mapping[str, str] | None = None
