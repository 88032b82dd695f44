"""CSV imports without a server: header rules, records as rows, splitting, and what is sent."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import url
from voucherify_async import (
    AsyncVoucherify,
    CsvHeaderError,
    CsvSizeError,
    CustomerCreate,
    PartialSubmissionError,
    models,
)
from voucherify_async._core.csvio import (
    CsvSplitter,
    check_header,
    count_rows,
    first_row_end,
    last_row_end,
    record_cells,
    records_table,
)

IMPORT = "/v1/customers/importCSV"


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def split(data: bytes, limit: int, chunk: int = 7) -> tuple[list[bytes], CsvSplitter]:
    """Feed ``data`` in ``chunk``-byte pieces; return the parts as sent and the splitter."""
    splitter = CsvSplitter(limit)
    pieces: list[tuple[int, bytes]] = []
    for start in range(0, len(data), chunk):
        pieces += splitter.feed(data[start : start + chunk])
    pieces += splitter.close()
    parts = [b""] * splitter.parts
    for index, piece in pieces:
        parts[index] += piece
    return parts, splitter


# --- rows in bytes -----------------------------------------------------------------------


def test_row_ends_skip_newlines_inside_quotes() -> None:
    data = b'a,"x\ny ""q"" \r\nz"\r\nb,c\n"open\n'
    assert first_row_end(data) == data.index(b'"\r\nb') + 2
    assert last_row_end(data) == data.index(b"b,c\n") + 3
    assert last_row_end(data, data.index(b"b,c")) == first_row_end(data)
    assert last_row_end(b'"x\ny') == -1 and first_row_end(b"no newline") == -1
    assert count_rows(b'a\n"x\ny"\n\n"q""\n"\n') == 4  # blank lines count


# --- the header --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column", "message"),
    [
        (b"Source_id,First Name\n", "First Name", "'First Name': spaces are not allowed"),
        (b"Source_id,tier\t\n", "tier\t", "spaces are not allowed"),
        (b"Source_id,,Name\n", "", "column 2 of the header has no name"),
        (b"Source_id,Email,EMAIL\n", "EMAIL", "'EMAIL' repeats column 'Email'"),
        (b"Name,Email\n", "Source_id", "no Source_id column"),
        (b"\n", None, "the CSV is empty"),
        (b"\xff\xfeName\n", None, "not valid UTF-8"),
    ],
)
def test_bad_headers_name_the_column(header: bytes, column: str | None, message: str) -> None:
    with pytest.raises(CsvHeaderError, match=message) as caught:
        check_header(header, require_source_id=True)
    assert caught.value.column == column
    assert isinstance(caught.value, ValueError)


def test_good_headers() -> None:
    assert check_header(b"\xef\xbb\xbfsource_id,Name,tier\r\n", require_source_id=True) == [
        "source_id",
        "Name",
        "tier",
    ]
    assert check_header(b'"Name","Email"\n') == ["Name", "Email"]
    assert check_header(b"Name") == ["Name"]


# --- records -----------------------------------------------------------------------------


def test_records_are_written_with_the_documented_columns() -> None:
    columns, rows = records_table(
        [
            {"source_id": "bob", "name": "Bob", "metadata": {"tier": "gold", "vip": True}},
            CustomerCreate(
                source_id="ann",
                email="ann@example.com",
                birthdate=date(1990, 5, 17),
                address={"city": "Paris", "postal_code": "75001"},  # type: ignore[arg-type]
                metadata={"score": 7, "tags": ["a", "b"]},
            ),
            models.Customer(id="cust_1", description="line\nbreak", created_at=None),
        ]
    )
    assert columns == [
        "Id",
        "Name",
        "Email",
        "Birthdate",
        "Source_id",
        "Address_Postal_Code",
        "Address_City",
        "Description",
        "tier",
        "vip",
        "score",
        "tags",
    ]
    assert rows[0] == {"Source_id": "bob", "Name": "Bob", "tier": "gold", "vip": "true"}
    assert rows[1] == {
        "Source_id": "ann",
        "Email": "ann@example.com",
        "Birthdate": "1990-05-17",
        "Address_City": "Paris",
        "Address_Postal_Code": "75001",
        "score": "7",
        "tags": '["a","b"]',
    }
    assert rows[2] == {"Id": "cust_1", "Description": "line\nbreak"}


@pytest.mark.parametrize(
    ("record", "error", "message"),
    [
        ({"source_id": "a", "nmae": "x"}, TypeError, "records[0] has an unexpected field 'nmae'"),
        ({"source_id": "a", "birthday": "1990-01-01"}, TypeError, "use birthdate"),
        ({"source_id": "a", "email": 5}, TypeError, "records[0].email must be a str"),
        ({"source_id": "a", "address": {"town": "x"}}, TypeError, "unexpected field 'town'"),
        ({"source_id": "a", "metadata": {"a b": 1}}, CsvHeaderError, "without spaces"),
        ({"source_id": "a", "metadata": {"email": 1}}, CsvHeaderError, "standard column 'Email'"),
        ({"source_id": "a", "metadata": {"x": object()}}, TypeError, "unsupported type"),
        ({"name": "no id"}, CsvHeaderError, "records[0] has no source_id"),
        ("bob", TypeError, "must be a mapping or a msgspec Struct"),
    ],
)
def test_bad_records_are_named(record: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
        record_cells(record, 0, require_source_id=True)


# --- splitting ---------------------------------------------------------------------------


def test_a_large_csv_is_cut_at_row_boundaries_with_the_header_repeated() -> None:
    header = b"\xef\xbb\xbfSource_id,Name\n"
    rows = [f'c{i},"Name {i}\nsecond ""line"""\n'.encode() for i in range(300)]
    data = header + b"".join(rows)
    parts, splitter = split(data, limit=1_000)
    assert len(parts) > 5
    assert all(len(part) <= 1_000 for part in parts)
    assert parts[0].startswith(header)
    assert all(part.startswith(b"Source_id,Name\n") for part in parts[1:])  # no BOM again
    parsed = [parse(part) for part in parts]
    assert all(p[0] == ["Source_id", "Name"] for p in parsed)
    assert [row for p in parsed for row in p[1:]] == parse(data)[1:]
    assert sum(splitter.part_rows) == 300
    assert [splitter.first_row(k) for k in range(3)] == [
        1,
        1 + splitter.part_rows[0],
        1 + sum(splitter.part_rows[:2]),
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(
        st.lists(st.text(alphabet='ab ,"\n\r\xe9', max_size=12), min_size=2, max_size=2),
        min_size=1,
        max_size=40,
    ),
    chunk=st.integers(1, 50),
    limit=st.integers(120, 400),
    newline=st.sampled_from(["\n", "\r\n"]),
    final_newline=st.booleans(),
)
def test_splitting_keeps_every_row_whole_whatever_the_chunks(
    cells: list[list[str]], chunk: int, limit: int, newline: str, final_newline: bool
) -> None:
    buffer = io.StringIO()
    # With "\n" rows, quote every field: Python's writer leaves a bare "\r" unquoted then,
    # and a bare "\r" outside quotes is not a row end for the splitter.
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_ALL if newline == "\n" else csv.QUOTE_MINIMAL
    writer = csv.writer(buffer, lineterminator=newline, quoting=quoting)
    writer.writerows([["Source_id", "Name"], *cells])
    text = buffer.getvalue()
    if not final_newline:
        text = text.removesuffix(newline)
    data = text.encode()
    parts, splitter = split(data, limit, chunk)
    assert all(len(part) <= limit for part in parts)
    parsed = [parse(part) for part in parts]
    assert all(p[0] == ["Source_id", "Name"] for p in parsed)
    assert [row for p in parsed for row in p[1:]] == parse(data)[1:]
    assert sum(splitter.part_rows) == len(parse(data)) - 1
    assert split(data, limit, 10_000)[0] == parts  # the same cuts, read in one go


def test_a_row_too_large_for_a_part_is_named_with_its_size() -> None:
    data = b"Source_id,Note\na,short\nb," + b"x" * 500 + b"\nc,ok\n"
    with pytest.raises(CsvSizeError, match=r"row 2 of the CSV is .*over the API's limit") as c:
        split(data, limit=300)
    assert c.value.row == 2 and c.value.size > 240 and c.value.limit == 300
    with pytest.raises(CsvSizeError, match="the header line"):
        split(b"A" * 400 + b"\nx\n", limit=300)
    with pytest.raises(CsvHeaderError, match="empty"):
        split(b"", limit=300)


def test_a_last_row_without_a_newline_is_sent_and_counted() -> None:
    parts, splitter = split(b"Name\nann\nbob", limit=100)
    assert parts == [b"Name\nann\nbob"] and splitter.part_rows == [2]


# --- import_csv against a mock -------------------------------------------------------------


class Uploads:
    """Answers each upload with a new action id and keeps the CSV each one carried."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.files: list[bytes] = []
        self.fail_from = fail_from

    async def answer(self, _url: Any, **kwargs: Any) -> CallbackResult:
        form: aiohttp.FormData = kwargs["data"]
        [(_, _, value)] = form._fields
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        elif isinstance(value, Path):
            data = value.read_bytes()
        elif hasattr(value, "read"):
            data = value.read()
        else:
            data = b"".join([chunk async for chunk in value])
        self.files.append(data)
        if self.fail_from is not None and len(self.files) >= self.fail_from:
            return CallbackResult(status=500, payload={"code": 500, "message": "boom"})
        return CallbackResult(status=202, payload={"async_action_id": f"aa_{len(self.files)}"})


async def test_records_are_imported_as_csv(vf: AsyncVoucherify, api: aioresponses) -> None:
    uploads = Uploads()
    api.post(url(IMPORT), callback=uploads.answer, repeat=True)
    records = [{"source_id": f"s{i}", "name": f"N {i}", "metadata": {"n": i}} for i in range(3)]
    job = await vf.customers.import_csv(records, update_existing=True)
    assert job.async_action_id == "aa_1"
    assert uploads.files == [b"Name,Source_id,n\r\nN 0,s0,0\r\nN 1,s1,1\r\nN 2,s2,2\r\n"]


async def test_a_large_input_goes_in_parts_each_under_the_limit(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    data = b"Source_id,Name\n" + b"".join(f'r{i},"N\n{i}"\n'.encode() for i in range(2_000))
    path = tmp_path / "big.csv"
    path.write_bytes(data)

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 1_000):
            yield data[start : start + 1_000]

    with path.open("rb") as handle:
        for source in (data, path, io.BytesIO(data), stream(), handle):
            uploads = Uploads()
            api.clear()
            api.post(url(IMPORT), callback=uploads.answer, repeat=True)
            job = await vf.customers.import_csv(source, max_part_bytes=4_096)
            files = uploads.files
            assert len(files) == len(job.parts) > 5, type(source)
            assert all(len(f) <= 4_096 and f.startswith(b"Source_id,Name\n") for f in files)
            assert [r for f in files for r in parse(f)[1:]] == parse(data)[1:]
            sizes = [p.size or 0 for p in job.parts]
            assert [p.first_row for p in job.parts][:2] == [1, 1 + sizes[0]]
            assert sum(sizes) == 2_000


async def test_bad_headers_are_refused_before_anything_is_sent(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    bad = b"Source id,Name\nbob,Bob\n"
    path = tmp_path / "bad.csv"
    path.write_bytes(bad)

    async def stream() -> AsyncIterator[bytes]:
        yield bad

    for source in (bad, path, io.BytesIO(bad), stream(), bad * 1_000):
        with pytest.raises(CsvHeaderError, match="'Source id': spaces") as caught:
            await vf.customers.import_csv(source, max_part_bytes=4_096)
        assert caught.value.column == "Source id"
    no_source_id = b"Name,Email\nBob,bob@example.com\n"
    with pytest.raises(CsvHeaderError, match="no Source_id column"):
        await vf.customers.import_csv(no_source_id, update_existing=True)
    with pytest.raises(CsvHeaderError, match=r"records\[1\] has no source_id"):
        await vf.customers.import_csv([{"source_id": "a"}, {"name": "b"}], update_existing=True)
    assert not api.requests


async def test_split_false_refuses_a_file_over_the_limit_naming_its_size(
    vf: AsyncVoucherify, api: aioresponses, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(b"Name\n" + b"ann\n" * 2_000)
    with pytest.raises(CsvSizeError, match="file is 8,005 bytes, over the API's limit") as c:
        await vf.customers.import_csv(path, split=False, max_part_bytes=4_096)
    assert (c.value.size, c.value.limit) == (8_005, 4_096)

    async def stream() -> AsyncIterator[bytes]:
        yield path.read_bytes()

    with pytest.raises(CsvSizeError, match="more than 4,096 bytes"):
        await vf.customers.import_csv(stream(), split=False, max_part_bytes=4_096)
    assert not api.requests
    with pytest.raises(ValueError, match="max_part_bytes must be from 64"):
        await vf.customers.import_csv(path, max_part_bytes=10)


async def test_a_failed_part_reports_the_parts_already_started(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    uploads = Uploads(fail_from=3)
    api.post(url(IMPORT), callback=uploads.answer, repeat=True)
    data = b"Source_id\n" + b"".join(f"row-{i:04d}\n".encode() for i in range(1_000))
    with pytest.raises(PartialSubmissionError, match="aa_1, aa_2") as caught:
        await vf.customers.import_csv(data, max_part_bytes=1_000)
    error = caught.value
    assert error.job.async_action_ids == ["aa_1", "aa_2"]
    first_unsent = parse(uploads.files[2])[1][0]
    assert error.first_unsent == int(first_unsent.removeprefix("row-")) + 1
    assert len(uploads.files) == 3  # nothing after the failure


async def test_records_and_rows_are_checked_before_sending(
    vf: AsyncVoucherify, api: aioresponses
) -> None:
    with pytest.raises(TypeError, match=r"records\[1\].email must be a str"):
        await vf.customers.import_csv([{"source_id": "a"}, {"source_id": "b", "email": 1}])
    with pytest.raises(ValueError, match="at least one record"):
        await vf.customers.import_csv([])
    with pytest.raises(TypeError, match="iterable of customer records"):
        await vf.customers.import_csv({"source_id": "a"})
    huge_first_row = b"Source_id,Note\na," + b"x" * 5_000 + b"\n"
    with pytest.raises(CsvSizeError, match="row 1 of the CSV"):
        await vf.customers.import_csv(huge_first_row, max_part_bytes=4_096)
    assert not api.requests
