"""CSV imports against the emulator: every input kind, parts under 10 MB, bad headers and rows."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import pytest

from voucherify_async import (
    AsyncJob,
    AsyncVoucherify,
    CsvHeaderError,
    CsvSizeError,
    CustomerCreate,
    PartialSubmissionError,
)
from voucherify_async.emulator import Emulator

FAST: dict[str, Any] = {"poll_interval": 0.02, "max_poll_interval": 0.1}
CSV = (
    b"Source_id,Name,Email,Address_City,tier\n"
    b'a1,"Ann, the first",ann@example.com,Paris,gold\n'
    b'a2,"Bo\nwith a newline",bo@example.com,Rome,7\n'
    b'a3,"Cy ""quoted""",cy@example.com,,true\n'
)
EXPECTED = {
    "a1": ("Ann, the first", "ann@example.com", {"city": "Paris"}, {"tier": "gold"}),
    "a2": ("Bo\nwith a newline", "bo@example.com", {"city": "Rome"}, {"tier": 7}),
    "a3": ('Cy "quoted"', "cy@example.com", None, {"tier": True}),
}


def check_store(emu: Emulator, expected: dict[str, tuple[Any, ...]]) -> None:
    store = emu.store
    assert len(store.by_source) == len(expected)
    for source_id, (name, email, address, metadata) in expected.items():
        stored = store.by_source[source_id]
        assert (stored.name, stored.email) == (name, email), source_id
        assert stored.address == address and stored.metadata == metadata, source_id


async def chunks_of(data: bytes, size: int = 5) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def sources(tmp_path: Path) -> dict[str, Callable[[], Any]]:
    path = tmp_path / "customers.csv"
    path.write_bytes(CSV)
    return {
        "path": lambda: path,
        "str path": lambda: str(path),
        "bytes": lambda: CSV,
        "binary file": lambda: path.open("rb"),
        "BytesIO": lambda: io.BytesIO(CSV),
        "async iterable": lambda: chunks_of(CSV),
    }


@pytest.mark.parametrize(
    "kind", ["path", "str path", "bytes", "binary file", "BytesIO", "async iterable"]
)
async def test_every_input_kind_imports(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, tmp_path: Path, kind: str
) -> None:
    source = sources(tmp_path)[kind]()
    try:
        job = await voucherify_client.customers.import_csv(source, update_existing=True)
    finally:
        if hasattr(source, "close"):
            source.close()
    result = await job.wait(timeout=30, **FAST)
    assert result.succeeded and result.done_count == 3
    assert result.actions[0].type == "CUSTOMERS.IMPORT_CSV"
    check_store(voucherify_emulator, EXPECTED)


async def test_records_import_as_csv(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    records = [
        {
            "source_id": "a1",
            "name": "Ann, the first",
            "email": "ann@example.com",
            "address": {"city": "Paris"},
            "metadata": {"tier": "gold"},
        },
        CustomerCreate(
            source_id="a2",
            name="Bo\nwith a newline",
            email="bo@example.com",
            address={"city": "Rome"},  # type: ignore[arg-type]
            metadata={"tier": 7},
        ),
        {
            "source_id": "a3",
            "name": 'Cy "quoted"',
            "email": "cy@example.com",
            "metadata": {"tier": True},
        },
    ]
    job = await voucherify_client.customers.import_csv(records, update_existing=True)
    assert (await job.wait(timeout=30, **FAST)).done_count == 3
    check_store(voucherify_emulator, EXPECTED)
    more = [{"source_id": "b1", "name": "carriage\rreturn", "birthdate": date(1990, 5, 17)}]
    await (await voucherify_client.customers.import_csv(more)).wait(**FAST)
    stored = voucherify_emulator.store.by_source["b1"]
    assert (stored.name, stored.birthdate) == ("carriage\rreturn", "1990-05-17")


async def test_a_large_import_goes_in_parts_and_failed_rows_keep_their_numbers(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, tmp_path: Path
) -> None:
    lines = [b"Source_id,Name,Email,Birthdate,score\n"]
    bad_rows: dict[int, str] = {}
    for row in range(1, 3_001):
        email = f"p{row}@example.com"
        if row % 450 == 0:
            email, bad_rows[row] = "broken-email", "email"
        birthdate = "2001-02-30" if row % 700 == 0 else "2001-02-03"
        if row % 700 == 0:
            bad_rows[row] = "Birthdate"
        lines.append(f'p{row},"Person {row}\nline two",{email},{birthdate},{row}\n'.encode())
    data = b"".join(lines)
    path = tmp_path / "people.csv"
    path.write_bytes(data)
    job = await voucherify_client.customers.import_csv(path, max_part_bytes=16_384)
    assert len(job.async_action_ids) >= 8
    assert job.parts[0].first_row == 1
    result = await job.wait(timeout=60, **FAST)
    assert result.done_count == 3_000 - len(bad_rows)
    assert {failure.row: failure.source_id for failure in result.failed} == {
        row: f"p{row}" for row in bad_rows
    }
    assert all(bad_rows[f.row or 0].lower() in (f.reason or "").lower() for f in result.failed)
    store = voucherify_emulator.store
    for row in range(1, 3_001):
        if row not in bad_rows:
            stored = store.by_source[f"p{row}"]
            assert stored.name == f"Person {row}\nline two" and stored.metadata == {"score": row}


async def test_a_file_over_10_mb_is_sent_in_parts_the_api_accepts(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, tmp_path: Path
) -> None:
    note = "n" * 1_000
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.write(b"Source_id,Description\n")
        for row in range(12_000):
            handle.write(f'big-{row},"{note}\n{row}"\n'.encode())
    assert path.stat().st_size > 11 * 1024 * 1024  # over the 10 MB limit
    job = await voucherify_client.customers.import_csv(path)
    assert len(job.async_action_ids) == 2  # the emulator answers 413 to a part over 10 MB
    result = await job.wait(timeout=60, **FAST)
    assert result.done_count == 12_000 and result.failed_count == 0
    assert voucherify_emulator.store.by_source["big-11999"].description == f"{note}\n11999"


async def test_bad_headers_are_refused_before_upload(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify, tmp_path: Path
) -> None:
    for kind, make in sources(tmp_path).items():
        spaced = CSV.replace(b"Address_City", b"Address City")
        source = make()
        if kind in ("path", "str path"):
            await anyio.Path(source).write_bytes(spaced)
        elif kind == "bytes":
            source = spaced
        elif kind == "BytesIO":
            source = io.BytesIO(spaced)
        elif kind == "async iterable":
            source = chunks_of(spaced)
        elif kind == "binary file":
            source.close()
            source = io.BufferedReader(io.BytesIO(spaced))
        with pytest.raises(CsvHeaderError, match="'Address City': spaces") as caught:
            await voucherify_client.customers.import_csv(source)
        assert caught.value.column == "Address City", kind
    with pytest.raises(CsvHeaderError, match="no Source_id column"):
        await voucherify_client.customers.import_csv(b"Name\nBob\n", update_existing=True)
    path = tmp_path / "huge.csv"
    path.write_bytes(b"Name\n" + b"x\n" * 6_000_000)
    with pytest.raises(CsvSizeError, match="12,000,005 bytes"):
        await voucherify_client.customers.import_csv(path, split=False)
    assert (await voucherify_emulator.stats())["requests_total"] == 0


async def test_bad_rows_are_reported_as_failed_rows(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    data = (
        b"Source_id,Email,Birthdate\n"
        b"ok1,ok1@example.com,1990-01-01\n"
        b"bad-email,nope,\n"
        b"too,many,cells,here\n"
        b"bad-date,,1990-13-01\n"
        b"ok2,,\n"
    )
    result = await (await voucherify_client.customers.import_csv(data)).wait(**FAST)
    assert result.done_count == 2 and result.failed_count == 3 and not result.succeeded
    assert [(f.row, f.source_id) for f in result.failed] == [
        (2, "bad-email"),
        (3, "too"),
        (4, "bad-date"),
    ]
    assert "cell" in (result.failed[1].reason or "")
    assert set(voucherify_emulator.store.by_source) == {"ok1", "ok2"}


async def test_a_source_that_breaks_mid_way(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    first = b"Source_id\n" + b"".join(f"s{i:05d}\n".encode() for i in range(3_000))

    async def breaking() -> AsyncIterator[bytes]:
        for start in range(0, len(first), 4_000):
            yield first[start : start + 4_000]
        raise OSError("the disk went away")

    with pytest.raises(PartialSubmissionError) as caught:
        await voucherify_client.customers.import_csv(breaking(), max_part_bytes=8_192)
    error = caught.value
    assert isinstance(error.cause, OSError) and "disk went away" in str(error)
    done = await error.job.wait(**FAST)
    assert done.done_count == error.first_unsent - 1
    # What the failed part carried never became an action: the upload was cut short.
    assert len(voucherify_emulator.store.by_source) == error.first_unsent - 1


async def test_a_part_refused_by_an_injected_fault(
    voucherify_emulator: Emulator, voucherify_client: AsyncVoucherify
) -> None:
    emu = voucherify_emulator
    data = b"Source_id,Name\n" + b"".join(f"f{i},F {i}\n".encode() for i in range(1, 2_001))
    await emu.script_faults(
        [
            {
                "kind": "latency",
                "latency_ms": 0,
                "method": "POST",
                "path": "/v1/customers/importCSV",
            },
            {"kind": "error", "status": 503, "method": "POST", "path": "/v1/customers/importCSV"},
        ]
    )
    with pytest.raises(PartialSubmissionError, match="503") as caught:
        await voucherify_client.customers.import_csv(data, max_part_bytes=8_192)
    error = caught.value
    assert isinstance(error.job, AsyncJob)
    [sent] = error.job.parts
    assert error.first_unsent == (sent.size or 0) + 1 > 1
    assert (await error.job.wait(**FAST)).done_count == sent.size
    # Resume with the rows that were not sent, under the same header.
    rest = b"Source_id,Name\n" + b"".join(
        f"f{i},F {i}\n".encode() for i in range(error.first_unsent, 2_001)
    )
    await (await voucherify_client.customers.import_csv(rest)).wait(**FAST)
    assert sorted(emu.store.by_source) == sorted(f"f{i}" for i in range(1, 2_001))
    assert (await emu.stats())["by_status"].get("503") == 1  # the refused part was not retried
