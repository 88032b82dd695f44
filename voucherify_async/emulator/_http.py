"""Small aiohttp helpers: JSON responses, error responses and size-limited bodies
(JSON, and the ``file`` part of a multipart upload)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._errors import MAX_BODY_BYTES, EmulatorHTTPError, invalid_payload, payload_too_large_body

__all__ = [
    "error_response",
    "json_response",
    "read_body",
    "read_file_part",
    "read_json",
    "too_large",
]

_decoder = msgspec.json.Decoder()


def json_response(data: Any, status: int = 200) -> web.Response:
    """Encode ``data`` with msgspec into an ``application/json`` response."""
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def error_response(error: EmulatorHTTPError, request_id: str | None) -> web.Response:
    """The JSON response for an ``EmulatorHTTPError``."""
    response = json_response(error.to_body(request_id), status=error.status)
    response.headers.update(error.headers)
    return response


def too_large() -> EmulatorHTTPError:
    """The 413 the bulk endpoints document, with the spec's ``BadRequest`` body."""
    return EmulatorHTTPError(413, body=payload_too_large_body())


async def read_body(request: web.Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read the whole body, answering 413 once it exceeds ``limit`` bytes.

    The declared ``Content-Length`` is checked first, so an oversized upload is refused
    without being read; a chunked one is counted as it arrives.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: web.Request) -> Any:
    """Read and decode a JSON body; 400 ``invalid_payload`` when it is not JSON."""
    raw = await read_body(request)
    if not raw.strip():
        raise invalid_payload("The request body is empty; a JSON document is required")
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise invalid_payload(f"The request body is not valid JSON: {exc}") from None


async def read_file_part(request: web.Request) -> bytes:
    """The bytes of the multipart field ``file`` (at most ``MAX_BODY_BYTES``).

    Raises:
        EmulatorHTTPError: a 400 for a body that is not multipart, is malformed or has no
            ``file`` field; a 413 for a file over the limit.
    """
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError, HttpProcessingError):
        raise invalid_payload(
            "The request must be multipart/form-data with the CSV in a field named 'file'"
        ) from None
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, BodyPartReader) and part.name == "file":
                chunks: list[bytes] = []
                size = 0
                # One read may take the whole allowed body: aiohttp pushes the excess of a
                # read larger than the size asked back with its deprecated unread_data(),
                # whose DeprecationWarning is an error (a 500) under `-W error`.
                while chunk := await part.read_chunk(MAX_BODY_BYTES + 1):
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise too_large()
                    chunks.append(chunk)
                await _finish(reader)
                return b"".join(chunks)
            await part.release()
    except (ValueError, AssertionError, KeyError, HttpProcessingError) as exc:
        # A part header that is not a header (aiohttp's InvalidHeader), a bad boundary...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise invalid_payload(f"The multipart body is malformed: {reason}") from None
    raise invalid_payload("The multipart body has no field named 'file'")


async def _finish(reader: Any) -> None:
    """Read the parts after the file, so a body cut short (no closing boundary) is a 400."""
    while True:
        part = await reader.next()
        if part is None:
            break
        await part.release()
    if not reader.at_eof():
        raise invalid_payload("The multipart body ends before its closing boundary")
