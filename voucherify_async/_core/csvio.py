"""CSV for customer imports: header checks, records written as rows, and large files in parts.

The API's rules (the vendor's documentation): the first line is the header; the standard
columns are `STANDARD_COLUMNS`; every other column becomes a metadata key; column names
may not contain spaces; a ``Source_id`` column is what makes rows update existing customers.
A request may carry at most 10 MB, so a larger file is cut into parts at row boundaries
(a quoted field may hold newlines), each part sent with the header, one async action each.

About 700 lines on purpose: reading rows at byte level (quotes, newlines inside fields, a
part's size) is one piece of pure logic whose parts only make sense together.

The decisions are pure and synchronous (`check_header()`, `record_cells()`,
`CsvSplitter`); `CsvParts` and the ``*_chunks`` sources add the I/O, reading
each input once, a chunk at a time, so a file of any size is streamed in constant memory.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import msgspec

from .._exceptions import CsvError, CsvHeaderError, CsvSizeError
from .chunking import BULK_BODY_LIMIT

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_PART_BYTES",
    "STANDARD_COLUMNS",
    "CsvError",
    "CsvHeaderError",
    "CsvParts",
    "CsvSizeError",
    "CsvSplitter",
    "bytes_chunks",
    "check_header",
    "count_rows",
    "file_chunks",
    "first_row_end",
    "last_row_end",
    "path_chunks",
    "record_cells",
    "records_table",
    "table_chunks",
]

#: The standard columns of a customer CSV, in the documented order.
STANDARD_COLUMNS = (
    "Id",
    "Name",
    "Email",
    "Phone",
    "Birthdate",
    "Source_id",
    "Address_line_1",
    "Address_line_2",
    "Address_Postal_Code",
    "Address_City",
    "Address_State",
    "Address_Country",
    "Description",
)
_STANDARD_FOLDED = {name.lower(): name for name in STANDARD_COLUMNS}

#: The largest part sent by default: the API's 10 MB less room for the multipart envelope.
DEFAULT_PART_BYTES = BULK_BODY_LIMIT - 64 * 1024

#: How much is read from a file or generated from records at a time.
CHUNK_SIZE = 256 * 1024

_BOM = b"\xef\xbb\xbf"
# A quoted stretch: from one quote to the next. Removing these leaves only what is outside
# quotes, so the newlines left are exactly the row ends.
_QUOTED = re.compile(rb'"[^"]*"')

# Record fields -> columns. Address keys are nested under "address".
_FIELD_COLUMNS = {
    "id": "Id",
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "birthdate": "Birthdate",
    "source_id": "Source_id",
    "description": "Description",
}
_ADDRESS_COLUMNS = {
    "line_1": "Address_line_1",
    "line_2": "Address_line_2",
    "postal_code": "Address_Postal_Code",
    "city": "Address_City",
    "state": "Address_State",
    "country": "Address_Country",
}
_RECORD_KEYS = (*_FIELD_COLUMNS, "address", "metadata")


def first_row_end(buf: bytes, start: int = 0) -> int:
    """The index of the newline that ends the row starting at ``start``, or -1 if none does.

    A newline inside a quoted field does not end a row. Rows end with ``\\n`` or
    ``\\r\\n``; a bare ``\\r`` outside quotes is not taken for a row end.

    Examples:
        ```python
        first_row_end(b'a,"x\\ny"\\nb\\n')
        # 7
        ```
    """
    quotes = 0
    position = start
    while True:
        newline = buf.find(b"\n", position)
        if newline < 0:
            return -1
        quotes += buf.count(b'"', position, newline)
        if quotes % 2 == 0:
            return newline
        position = newline + 1


def last_row_end(buf: bytes, end: int | None = None) -> int:
    """The index of the last newline before ``end`` that ends a row, or -1.

    ``buf`` must start at the beginning of a row. Each step back costs one C-speed count of
    the stretch it crosses, so the whole search is linear.

    Examples:
        ```python
        last_row_end(b'a\\n"x\\ny"\\n"open\\n')
        # 7
        ```
    """
    stop = len(buf) if end is None else end
    newline = buf.rfind(b"\n", 0, stop)
    if newline < 0:
        return -1
    quotes = buf.count(b'"', 0, newline)
    while quotes % 2:
        previous = buf.rfind(b"\n", 0, newline)
        if previous < 0:
            return -1
        quotes -= buf.count(b'"', previous, newline)
        newline = previous
    return newline


def count_rows(piece: bytes) -> int:
    """How many rows end in ``piece`` (which starts at the beginning of a row).

    Blank lines count, as they do in the API's row numbers.
    """
    if b'"' not in piece:
        return piece.count(b"\n")
    return _QUOTED.sub(b"", piece).count(b"\n")


# -- the header ---------------------------------------------------------------------------


def check_header(line: bytes, *, require_source_id: bool = False) -> list[str]:
    """Check a header line against the API's rules and return its column names.

    Raises:
        CsvHeaderError: the file is empty or not UTF-8, a column has no name, a name
            contains a space, two columns share a name (the API ignores case), or
            ``require_source_id`` is set and there is no ``Source_id`` column. The message
            names the column.

    Examples:
        ```python
        check_header(b"Source_id,Name,tier\\n", require_source_id=True)
        # ['Source_id', 'Name', 'tier']
        ```
    """
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvHeaderError("the header line is not valid UTF-8") from None
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), None)
    except csv.Error as exc:
        raise CsvHeaderError(f"the header line is not valid CSV: {exc}") from None
    if header is None or not any(name.strip() for name in header):
        raise CsvHeaderError("the CSV is empty: its first line must name the columns")
    seen: dict[str, str] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise CsvHeaderError(f"column {position} of the header has no name", column=name)
        if any(char.isspace() for char in name):
            raise CsvHeaderError(
                f"column {name!r}: spaces are not allowed in column names"
                f" (e.g. {'_'.join(name.split())!r})",
                column=name,
            )
        folded = name.lower()
        if folded in seen:
            raise CsvHeaderError(
                f"column {name!r} repeats column {seen[folded]!r} (names ignore case)",
                column=name,
            )
        seen[folded] = name
    if require_source_id and "source_id" not in seen:
        raise CsvHeaderError(
            "the header has no Source_id column, which update_existing=True needs to match"
            f" rows to existing customers (columns: {', '.join(header)})",
            column="Source_id",
        )
    return header


# -- records -> rows ------------------------------------------------------------------------


def _text(value: object, where: str, *, dates: bool = False) -> str | None:
    if value is None or value is msgspec.UNSET:
        return None
    if isinstance(value, str):
        return value
    if dates and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    allowed = "a str or a date" if dates else "a str"
    raise TypeError(f"{where} must be {allowed}, got {type(value).__name__}")


def _metadata_cell(value: object, where: str) -> str | None:
    if value is None or value is msgspec.UNSET:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return msgspec.json.encode(value).decode()
    raise TypeError(f"{where} has a value of unsupported type {type(value).__name__}")


def _as_fields(record: object, where: str) -> tuple[Mapping[str, Any], bool]:
    """The record as a mapping, and whether unknown keys are errors (mappings) or not."""
    if isinstance(record, msgspec.Struct):
        # A Struct is read for the CSV's fields only: a Customer's summary, timestamps or
        # birthday are not part of the format.
        fields = {
            name: getattr(record, name) for name in record.__struct_fields__ if name in _RECORD_KEYS
        }
        return fields, False
    if isinstance(record, Mapping):
        return record, True
    raise TypeError(
        f"{where} must be a mapping or a msgspec Struct (e.g. CustomerCreate),"
        f" got {type(record).__name__}"
    )


def _address(value: object, where: str) -> Mapping[str, Any]:
    if value is None or value is msgspec.UNSET:
        return {}
    if isinstance(value, msgspec.Struct):
        return {name: getattr(value, name) for name in value.__struct_fields__}
    if isinstance(value, Mapping):
        for key in value:
            if key not in _ADDRESS_COLUMNS:
                raise TypeError(
                    f"{where} has an unexpected field {key!r}; allowed:"
                    f" {', '.join(_ADDRESS_COLUMNS)}"
                )
        return value
    raise TypeError(f"{where} must be a mapping or an Address, got {type(value).__name__}")


def record_cells(record: object, index: int, *, require_source_id: bool = False) -> dict[str, str]:
    """One customer record as ``{column: cell}``, leaving out the fields it does not set.

    ``record`` is a mapping or a msgspec Struct with the fields ``id``, ``source_id``,
    ``name``, ``email``, ``phone``, ``birthdate``, ``description``, ``address`` (a mapping or
    an ``Address``) and ``metadata``. Metadata keys become columns after the standard ones;
    ``True``/``False`` are written ``true``/``false``, dates in ISO 8601, nested values as
    JSON. ``None`` leaves a cell empty, which the API reads as "leave unchanged".

    Raises:
        TypeError: an unknown field or a value of the wrong type; the message names
            ``records[index]`` and the field.
        CsvHeaderError: a metadata key that cannot be a column (empty, with a space, or the
            name of a standard column).

    Examples:
        ```python
        record_cells({"source_id": "bob", "address": {"city": "Paris"},
                      "metadata": {"vip": True}}, 0)
        # {'Source_id': 'bob', 'Address_City': 'Paris', 'vip': 'true'}
        ```
    """
    where = f"records[{index}]"
    fields, strict = _as_fields(record, where)
    cells: dict[str, str] = {}
    for key, value in fields.items():
        column = _FIELD_COLUMNS.get(key)
        if column is not None:
            text = _text(value, f"{where}.{key}", dates=key == "birthdate")
            if text is not None:
                cells[column] = text
        elif key == "address":
            for part, cell in _address(value, f"{where}.address").items():
                text = _text(cell, f"{where}.address.{part}")
                if text is not None and part in _ADDRESS_COLUMNS:
                    cells[_ADDRESS_COLUMNS[part]] = text
        elif key != "metadata" and strict:
            hint = "; birthday cannot be imported, use birthdate" if key == "birthday" else ""
            raise TypeError(
                f"{where} has an unexpected field {key!r}; allowed: {', '.join(_RECORD_KEYS)}{hint}"
            )
    metadata = fields.get("metadata")
    if metadata is not None and metadata is not msgspec.UNSET:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"{where}.metadata must be a mapping, got {type(metadata).__name__}")
        for key, value in metadata.items():
            name = f"{where}.metadata[{key!r}]"
            if not isinstance(key, str) or not key or any(c.isspace() for c in key):
                raise CsvHeaderError(
                    f"{name}: a metadata key becomes a column name, so it must be a"
                    " non-empty str without spaces",
                    column=str(key),
                )
            if key.lower() in _STANDARD_FOLDED:
                raise CsvHeaderError(
                    f"{name}: the key is the name of the standard column"
                    f" {_STANDARD_FOLDED[key.lower()]!r}, so the API would not read it as"
                    " metadata",
                    column=key,
                )
            text = _metadata_cell(value, name)
            if text is not None:
                cells[key] = text
    if require_source_id and "Source_id" not in cells:
        raise CsvHeaderError(
            f"{where} has no source_id, which update_existing=True needs to match the row"
            " to an existing customer",
            column="Source_id",
        )
    return cells


def records_table(
    records: Iterable[object], *, require_source_id: bool = False
) -> tuple[list[str], list[dict[str, str]]]:
    """Turn customer records into ``(columns, rows)``.

    The columns are the standard columns some record uses, in the documented order, then
    the metadata keys in the order they first appear.

    Raises:
        ValueError: no records. Errors of `record_cells()`.

    Examples:
        ```python
        records_table([{"source_id": "bob", "metadata": {"tier": "gold"}}])
        # (['Source_id', 'tier'], [{'Source_id': 'bob', 'tier': 'gold'}])
        ```
    """
    rows = [
        record_cells(record, index, require_source_id=require_source_id)
        for index, record in enumerate(records)
    ]
    if not rows:
        raise ValueError("import_csv() needs at least one record")
    used: dict[str, None] = {}
    for row in rows:
        used.update(dict.fromkeys(row))
    columns = [name for name in STANDARD_COLUMNS if name in used]
    columns += [name for name in used if name not in _STANDARD_FOLDED.values()]
    return columns, rows


async def table_chunks(
    columns: Sequence[str], rows: Iterable[Mapping[str, str]], chunk_size: int = CHUNK_SIZE
) -> AsyncGenerator[bytes, None]:
    """The CSV text of ``rows`` under ``columns``, in chunks of about ``chunk_size`` bytes."""
    buffer = io.StringIO()
    # "\r\n" (RFC 4180): the writer then quotes any cell holding "\r" or "\n", so every
    # row end in the output is a real one.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


# -- splitting ----------------------------------------------------------------------------


class CsvSplitter:
    """Cut a CSV byte stream into parts of at most ``limit`` bytes, at row boundaries.

    Sans I/O: `feed()` takes bytes as they come and returns ``(part, piece)`` pairs to
    send, in order; every part starts with the header, and a part's pieces are whole rows.
    Only the unfinished last row of what was fed is held back, so memory stays at one chunk
    plus one row. ``part_rows[k]`` counts the data rows of part ``k`` (blank lines
    included, as the API numbers rows).

    Raises (from `feed()` or `close()`):
        CsvSizeError: the header, or one row with the header, is larger than ``limit``.
        CsvHeaderError: the stream is empty.

    Examples:
        ```python
        splitter = CsvSplitter(limit=13)
        splitter.feed(b"id\\n1111\\n2222\\n3333\\n") + splitter.close()
        # [(0, b'id\\n'), (0, b'1111\\n2222\\n'), (1, b'id\\n'), (1, b'3333\\n')]
        ```
    """

    def __init__(self, limit: int = DEFAULT_PART_BYTES) -> None:
        self.limit = limit
        self.header: bytes | None = None
        self.part_rows: list[int] = []
        self._carry = b""
        self._part = -1
        self._part_size = 0
        self._part_has_rows = False
        self._rows = 0
        self._closed = False

    @property
    def parts(self) -> int:
        """How many parts have been started."""
        return self._part + 1

    def first_row(self, part: int) -> int:
        """The number (from 1, across the whole file) of part ``part``'s first data row."""
        return sum(self.part_rows[:part]) + 1

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Take the next bytes of the stream; return the pieces now ready to send."""
        if self._closed:
            raise RuntimeError("the splitter is closed")
        carry = self._carry + data if self._carry else data
        out: list[tuple[int, bytes]] = []
        if self.header is None:
            end = first_row_end(carry)
            if end < 0:
                self._carry = carry
                if len(carry) >= self.limit:
                    raise CsvSizeError(
                        f"the header line is more than {len(carry):,} bytes long, over the"
                        f" API's limit for one request (parts of at most {self.limit:,} bytes)",
                        size=len(carry),
                        limit=self.limit,
                    )
                return out
            self.header, carry = carry[: end + 1], carry[end + 1 :]
            if len(self.header) >= self.limit:
                raise CsvSizeError(
                    f"the header line is {len(self.header):,} bytes long, over the API's"
                    f" limit for one request (parts of at most {self.limit:,} bytes)",
                    size=len(self.header),
                    limit=self.limit,
                )
            self._start_part(out, self.header)
        end = last_row_end(carry)
        if end >= 0:
            self._carry = carry[end + 1 :]
            self._place(carry[: end + 1], out)
        else:
            self._carry = carry
        self._check_carry()
        return out

    def close(self) -> list[tuple[int, bytes]]:
        """End the stream; return the last pieces (a last row without a newline too)."""
        self._closed = True
        out: list[tuple[int, bytes]] = []
        tail, self._carry = self._carry, b""
        if self.header is None:
            if not tail.strip():
                raise CsvHeaderError("the CSV is empty: its first line must name the columns")
            # A header without a newline and no rows: send it, the API imports nothing.
            self.header = tail
            self._start_part(out, tail)
            return out
        if tail:
            if len(tail) > self.limit - self._part_size:
                self._start_part(out, self._next_header)
            self._emit(out, tail, rows=1)
        return out

    @property
    def _next_header(self) -> bytes:
        assert self.header is not None
        return self.header.removeprefix(_BOM)

    def _start_part(self, out: list[tuple[int, bytes]], header: bytes) -> None:
        self._part += 1
        self.part_rows.append(0)
        self._part_size = len(header)
        self._part_has_rows = False
        out.append((self._part, header))

    def _emit(self, out: list[tuple[int, bytes]], piece: bytes, rows: int | None = None) -> None:
        out.append((self._part, piece))
        self._part_size += len(piece)
        counted = count_rows(piece) if rows is None else rows
        self.part_rows[self._part] += counted
        self._rows += counted
        self._part_has_rows = True

    def _place(self, complete: bytes, out: list[tuple[int, bytes]]) -> None:
        while complete:
            room = self.limit - self._part_size
            if len(complete) <= room:
                self._emit(out, complete)
                return
            cut = last_row_end(complete, room)
            if cut < 0:
                if not self._part_has_rows:
                    size = first_row_end(complete) + 1
                    raise self._row_too_large(self._rows + 1, size)
                self._start_part(out, self._next_header)
                continue
            self._emit(out, complete[: cut + 1])
            complete = complete[cut + 1 :]
            self._start_part(out, self._next_header)

    def _check_carry(self) -> None:
        if self.header is not None and len(self._carry) > self.limit - len(self._next_header):
            raise self._row_too_large(self._rows + 1, len(self._carry), at_least=True)

    def _row_too_large(self, row: int, size: int, *, at_least: bool = False) -> CsvSizeError:
        header = len(self._next_header)
        return CsvSizeError(
            f"row {row} of the CSV is {'more than ' if at_least else ''}{size:,} bytes long:"
            f" with the {header:,}-byte header it is over the API's limit for one request"
            f" (parts of at most {self.limit:,} bytes); is a quote left open?",
            size=size,
            limit=self.limit,
            row=row,
        )


class CsvParts:
    """Read a CSV byte stream once and hand out its parts one after another, each streamed.

    Example::

        parts = CsvParts(path_chunks(path), limit=DEFAULT_PART_BYTES)
        columns = check_header(await parts.header())
        while (part := await parts.next_part()) is not None:
            index, body = part
            await upload(body)        # an async iterator of the part's bytes
    """

    def __init__(self, chunks: AsyncIterable[bytes], limit: int = DEFAULT_PART_BYTES) -> None:
        self._source = chunks.__aiter__()
        self.splitter = CsvSplitter(limit)
        self._pending: deque[tuple[int, bytes]] = deque()
        self._eof = False
        self._current = -1
        #: The exception the source raised while a part was being sent, if any.
        self.source_error: BaseException | None = None

    async def header(self) -> bytes:
        """Read until the header line is known and return it (nothing is sent yet)."""
        while self.splitter.header is None and not self._eof:
            await self._pull()
        assert self.splitter.header is not None
        return self.splitter.header

    async def next_part(self) -> tuple[int, AsyncIterator[bytes]] | None:
        """The number (from 0) and body of the next part, or ``None`` when the stream is done.

        Call it again once the previous body has been read (what is left unread of it is
        skipped).
        """
        # Skip what a previous body left unread (a request that failed half way).
        while True:
            while self._pending and self._pending[0][0] <= self._current:
                self._pending.popleft()
            if self._pending or self._eof:
                break
            await self._pull()
        if not self._pending:
            return None
        self._current = part = self._pending[0][0]
        # Read on until the part's first row is in hand, so a first row that is too large
        # (or a broken source) is reported before the request starts, not half way in.
        while (
            not self._eof
            and all(index == part for index, _ in self._pending)
            and sum(index == part for index, _ in self._pending) < 2
        ):
            await self._pull()
        return part, self._body(part)

    def rows(self, part: int) -> int:
        """Data rows in part ``part`` (final once its body has been read)."""
        return self.splitter.part_rows[part]

    async def aclose(self) -> None:
        """Close the source, if it can be closed (our own file readers can)."""
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            await closer()

    async def _body(self, part: int) -> AsyncIterator[bytes]:
        while True:
            if not self._pending:
                if self._eof:
                    return
                await self._pull()
                continue
            if self._pending[0][0] != part:
                return
            yield self._pending.popleft()[1]

    async def _pull(self) -> None:
        try:
            chunk = await self._source.__anext__()
        except StopAsyncIteration:
            self._eof = True
            self._pending.extend(self.splitter.close())
            return
        except Exception as exc:
            self.source_error = exc
            raise
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            error = TypeError(
                f"the CSV source yielded {type(chunk).__name__}, not bytes (open files in"
                " binary mode, encode text as UTF-8)"
            )
            self.source_error = error
            raise error
        try:
            self._pending.extend(self.splitter.feed(bytes(chunk)))
        except CsvError as exc:
            self.source_error = exc
            raise


# -- sources --------------------------------------------------------------------------------


async def path_chunks(path: Path, chunk_size: int = CHUNK_SIZE) -> AsyncGenerator[bytes, None]:
    """The bytes of a file, a chunk at a time, read off the event loop."""
    async with await anyio.open_file(path, "rb") as handle:
        while chunk := await handle.read(chunk_size):
            yield chunk


async def file_chunks(
    handle: BinaryIO, chunk_size: int = CHUNK_SIZE
) -> AsyncGenerator[bytes, None]:
    """The rest of a binary file object, a chunk at a time (read in a worker thread)."""
    in_memory = isinstance(handle, io.BytesIO)
    while True:
        if in_memory:
            chunk = handle.read(chunk_size)
        else:
            chunk = await anyio.to_thread.run_sync(handle.read, chunk_size)
        if not chunk:
            return
        yield chunk


async def bytes_chunks(data: bytes, chunk_size: int = CHUNK_SIZE) -> AsyncGenerator[bytes, None]:
    """``data`` in chunks, so a large buffer is split like a file."""
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])
