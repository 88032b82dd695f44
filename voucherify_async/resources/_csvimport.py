"""What ``customers.import_csv`` does: check the input, send it in parts, return the job.

An input of known size that fits in one request (a path, bytes, a seekable binary file) is
sent as it is, after its header is checked: a path is reopened for each attempt and nothing
is read into memory. Anything else, and anything larger, goes through
`CsvParts`: read once, a chunk at a time, cut at row
boundaries into parts under the limit, each streamed with the header, one async action each.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Literal

import anyio

from .._core.csvio import (
    CsvParts,
    CsvSizeError,
    bytes_chunks,
    check_header,
    count_rows,
    file_chunks,
    first_row_end,
    path_chunks,
    records_table,
    table_chunks,
)
from .._core.request import FileUpload
from ._jobs import AsyncJob, GetAction, JobPart, PartialSubmissionError

__all__ = ["CsvInput", "CsvSource", "import_csv"]

#: What ``import_csv`` reads a CSV file from.
CsvSource = str | os.PathLike[str] | bytes | BinaryIO | AsyncIterable[bytes]
#: ``CsvSource``, or customer records (mappings or Structs) to write as CSV.
CsvInput = CsvSource | Iterable[Any]

SendFile = Callable[[FileUpload], Awaitable[str]]
Kind = Literal["path", "bytes", "file", "stream", "records"]

_DEFAULT_NAME = "customers.csv"


def _classify(file: object) -> tuple[Kind, Any, str, int | None]:
    """``(kind, source, default file name, size in bytes if known)``."""
    if isinstance(file, str) and ("\n" in file or "\r" in file):
        raise TypeError(
            "import_csv(): a str is a path; pass CSV text as bytes (text.encode('utf-8'))"
        )
    if isinstance(file, (str, os.PathLike)):
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"import_csv(): file {str(path)!r} does not exist")
        return "path", path, path.name, path.stat().st_size
    if isinstance(file, (bytes, bytearray, memoryview)):
        data = bytes(file)
        return "bytes", data, _DEFAULT_NAME, len(data)
    if isinstance(file, io.TextIOBase):
        raise TypeError("import_csv(): open the file in binary mode ('rb'), not text mode")
    if hasattr(file, "read"):
        name = Path(str(getattr(file, "name", _DEFAULT_NAME))).name
        return "file", file, name, _remaining(file)
    if isinstance(file, AsyncIterable):
        return "stream", file, _DEFAULT_NAME, None
    if isinstance(file, Iterable) and not isinstance(file, Mapping):
        return "records", file, _DEFAULT_NAME, None
    raise TypeError(
        "import_csv(): file must be a path, bytes, a binary file object, an async iterable of"
        f" bytes or an iterable of customer records, got {type(file).__name__}"
    )


def _remaining(handle: Any) -> int | None:
    """Bytes left from a file object's position to its end, if it can seek."""
    try:
        if not handle.seekable():
            return None
        position = handle.tell()
        end = handle.seek(0, io.SEEK_END)
        handle.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return int(end) - int(position)


def _chunks(kind: Kind, source: Any, require_source_id: bool) -> AsyncIterator[bytes]:
    """The input as bytes chunks; every kind but "stream" is an async generator of ours."""
    if kind == "path":
        return path_chunks(source)
    if kind == "bytes":
        return bytes_chunks(source)
    if kind == "file":
        return file_chunks(source)
    if kind == "records":
        columns, rows = records_table(source, require_source_id=require_source_id)
        return table_chunks(columns, rows)
    return aiter(source)


async def _header_of(kind: Kind, source: Any, limit: int) -> bytes:
    """The header line of a sized input, read without consuming a file object."""
    if kind == "bytes":
        data: bytes = source
        end = first_row_end(data)
        return data if end < 0 else data[: end + 1]
    position = source.tell() if kind == "file" else 0
    chunks = path_chunks(source) if kind == "path" else file_chunks(source)
    head = b""
    try:
        async for chunk in chunks:
            head += chunk
            end = first_row_end(head)
            if end >= 0:
                return head[: end + 1]
            if len(head) > limit:
                break
    finally:
        with anyio.CancelScope(shield=True):  # the file is closed even if we are cancelled
            await chunks.aclose()
        if kind == "file":
            source.seek(position)
    return head


async def _read_at_most(chunks: AsyncIterator[bytes], size: int) -> bytes:
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if len(data) >= size:
            break
    return bytes(data)


async def import_csv(
    send: SendFile,
    get: GetAction,
    file: object,
    *,
    filename: str | None,
    require_source_id: bool,
    split: bool,
    part_limit: int,
) -> AsyncJob:
    """Check ``file``'s header, send it in as many parts as it needs, return the job."""
    kind, source, default_name, size = _classify(file)
    name = filename or default_name
    if size is not None and size <= part_limit:
        check_header(
            await _header_of(kind, source, part_limit), require_source_id=require_source_id
        )
        # Bytes are in memory anyway: count their rows, so progress can count them too.
        rows = count_rows(source) - 1 + (not source.endswith(b"\n")) if kind == "bytes" else None
        async_action_id = await send(FileUpload("file", name, source))
        return AsyncJob(get, [JobPart(async_action_id, size=rows, first_row=1)])
    if not split and size is not None:
        raise CsvSizeError(
            f"import_csv() file is {size:,} bytes, over the API's limit for one request"
            f" ({part_limit:,} bytes with room for the upload's envelope); pass split=True to"
            " send it in parts",
            size=size,
            limit=part_limit,
        )
    chunks = _chunks(kind, source, require_source_id)
    try:
        if not split:
            data = await _read_at_most(chunks, part_limit + 1)
            if len(data) > part_limit:
                raise CsvSizeError(
                    f"import_csv() file is more than {part_limit:,} bytes, over the API's"
                    " limit for one request; pass split=True to send it in parts",
                    size=len(data),
                    limit=part_limit,
                )
            end = first_row_end(data)
            check_header(data if end < 0 else data[: end + 1], require_source_id=require_source_id)
            async_action_id = await send(FileUpload("file", name, data))
            return AsyncJob(get, [JobPart(async_action_id, first_row=1)])
        parts = CsvParts(chunks, part_limit)
        check_header(await parts.header(), require_source_id=require_source_id)
        return await _send_parts(send, get, parts, name)
    finally:
        closer = getattr(chunks, "aclose", None)
        if kind != "stream" and closer is not None:  # ours; a caller's iterator is theirs
            with anyio.CancelScope(shield=True):  # the file is closed even if cancelled
                await closer()


async def _send_parts(send: SendFile, get: GetAction, parts: CsvParts, name: str) -> AsyncJob:
    started: list[JobPart] = []
    while (next_part := await parts.next_part()) is not None:
        index, body = next_part
        try:
            async_action_id = await send(FileUpload("file", name, body))
        except Exception as exc:
            # An error of the source or the splitter reaches us wrapped as a broken upload.
            error = parts.source_error if isinstance(parts.source_error, Exception) else exc
            if not started:
                if error is exc:
                    raise
                raise error from exc
            job = AsyncJob(get, started)
            raise PartialSubmissionError(job, parts.splitter.first_row(index), error) from error
        started.append(
            JobPart(
                async_action_id,
                size=parts.rows(index),
                first_row=parts.splitter.first_row(index),
            )
        )
    return AsyncJob(get, started)
