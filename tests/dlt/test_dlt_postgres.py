"""Into Postgres: from Python and from the command line, then again incrementally.

A real server on 127.0.0.1 (``scripts/ensure-postgres.sh``), a fresh database per test
(the ``postgres_dsn`` fixture); every loaded value is compared with the API's own JSON.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2  # type: ignore[import-untyped,unused-ignore]
import pytest
from dlt_helpers import (
    CHANGED_AT,
    CUSTOMER_COLUMNS,
    JsonObject,
    api_customers,
    assert_rows_match,
    change,
    cli,
    connection,
    credentials,
    requests_seen,
    run,
)
from test_dlt_fidelity import seed_customers_of_every_shape

from voucherify_async import AsyncVoucherify, CustomerCreate
from voucherify_async.dlt import (
    DestinationUnreachableError,
    load,
    pipeline,
)
from voucherify_async.emulator import Emulator
from voucherify_async.models import AddressInput

COUNT = 40


def seed(emulator: Emulator) -> list[str]:
    """``COUNT`` customers: zeros and empties, metadata, an address, a birthdate."""
    seeded = emulator.seed_customers(
        COUNT - 4, start="2024-03-01T00:00:00Z", city="City {i%3}", metadata={"zero": 0}
    )
    run(seeded)

    async def create(vf: AsyncVoucherify) -> None:
        for i in range(4):
            await vf.customers.create(
                CustomerCreate(
                    source_id=f"made-{i}",
                    name="" if i % 2 else f"Made {i}",
                    phone="+48 600 000 00{i}",
                    birthdate=date(1990, 1, 2 + i),
                    address=AddressInput(city="Kraków", line_1="", postal_code="30-001"),
                    metadata={"nested": {"list": [1, None, "x"]}, "flag": True} if i else {},
                )
            )

    run(with_client(emulator, create))
    ids: list[str] = run(emulator.customer_ids())
    assert len(ids) == COUNT
    return ids


async def with_client(emulator: Emulator, work: Any) -> Any:
    async with emulator.client() as vf:
        return await work(vf)


def table(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dsn, connect_timeout=10) as db, db.cursor() as cursor:
        cursor.execute(sql)
        found: list[tuple[Any, ...]] = cursor.fetchall()
    db.close()
    return found


def customers_as_loaded(dsn: str) -> list[dict[str, Any]]:
    with psycopg2.connect(dsn, connect_timeout=10) as db, db.cursor() as cursor:
        cursor.execute("SELECT * FROM voucherify.customers")
        names = [column[0] for column in cursor.description or ()]
        found = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    db.close()
    return found


def assert_customers_are_the_apis(emulator: Emulator, dsn: str) -> None:
    async def listed(vf: AsyncVoucherify) -> dict[tuple[Any, ...], JsonObject]:
        return await api_customers(vf, expected=COUNT)

    api = run(with_client(emulator, listed))
    loaded = customers_as_loaded(dsn)
    assert len(loaded) == COUNT
    assert assert_rows_match(loaded, api, CUSTOMER_COLUMNS, derived=CHANGED_AT) == COUNT


def test_load_from_python_then_incrementally(
    voucherify_emulator: Emulator, postgres_dsn: str, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    ids = seed(emu)
    into = pipeline(destination="postgres", pipelines_dir=tmp_path / "pipelines")
    info = load(into, **credentials(emu))
    assert not info.has_failed_jobs
    assert table(postgres_dsn, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (COUNT, COUNT)
    ]
    # Zeros stay 0 and empties stay empty; nothing the API sent is NULL.
    assert table(
        postgres_dsn,
        "SELECT count(*) FILTER (WHERE summary__orders__total_count = 0),"
        " count(*) FILTER (WHERE loyalty__points = 0),"
        " count(*) FILTER (WHERE metadata->>'zero' = '0'),"
        " count(*) FILTER (WHERE address__city = 'Kraków' AND address__line_1 = ''),"
        " count(*) FILTER (WHERE name = '')"
        " FROM voucherify.customers",
    ) == [(COUNT, COUNT, COUNT - 4, 4, 2)]
    assert_customers_are_the_apis(emu, postgres_dsn)

    # Again, after 3 changes and 2 deletions: the changes arrive, deleted rows stay.
    run(change(emu, ids[10:13], ids[20:22]))
    again = pipeline(destination="postgres", pipelines_dir=tmp_path / "pipelines")
    load(again, **credentials(emu))
    # Incremental: the changes and the margin's last few seconds, not every customer.
    normalized = again.last_trace.last_normalize_info if again.last_trace else None
    assert normalized is not None
    assert 3 <= normalized.row_counts["customers"] < COUNT // 2
    assert table(postgres_dsn, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (COUNT, COUNT)
    ]
    renamed = table(
        postgres_dsn, "SELECT id FROM voucherify.customers WHERE name LIKE 'renamed %' ORDER BY id"
    )
    assert renamed == sorted((cid,) for cid in ids[10:13])


def test_load_from_the_cli_then_again(voucherify_emulator: Emulator, postgres_dsn: str) -> None:
    emu = voucherify_emulator
    ids = seed(emu)
    code, out, err = cli(*connection(emu), "load", "--to", "postgres")
    assert code == 0, err
    assert out == f'SELECT count(*) FROM "voucherify"."customers" -> {COUNT}\n'
    password = urlsplit(postgres_dsn).password
    assert password and password not in err + out
    assert "postgres" in err  # dlt's summary names the destination
    assert_customers_are_the_apis(emu, postgres_dsn)

    run(change(emu, ids[:2], []))
    code, out, err = cli(*connection(emu), "load", "--to", "postgres", "--margin", "0")
    assert code == 0, err
    assert out == f'SELECT count(*) FROM "voucherify"."customers" -> {COUNT}\n'
    assert table(
        postgres_dsn, "SELECT count(*) FROM voucherify.customers WHERE name LIKE 're%'"
    ) == [(2,)]
    assert_customers_are_the_apis(emu, postgres_dsn)


def test_a_wrong_password_is_one_line_without_it_and_no_request(
    voucherify_emulator: Emulator,
    postgres_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "Not-The-Pa55word"
    parts = urlsplit(postgres_dsn)
    netloc = f"{parts.username}:{wrong}@{parts.hostname}:{parts.port}"
    monkeypatch.setenv(
        "DESTINATION__POSTGRES__CREDENTIALS", urlunsplit(parts._replace(netloc=netloc))
    )

    code, out, err = cli(*connection(voucherify_emulator), "load", "--to", "postgres")
    assert code == 2
    assert out == ""
    assert err.startswith("error: destination 'postgres' cannot be reached (")
    assert "password authentication failed" in err
    assert err.count("\n") == 1
    assert wrong not in err
    assert "Traceback" not in capfd.readouterr().err

    with pytest.raises(DestinationUnreachableError) as raised:
        load(pipeline(destination="postgres", pipelines_dir=tmp_path / "p"),
             **credentials(voucherify_emulator))  # fmt: skip
    assert wrong not in str(raised.value) and wrong not in repr(raised.value)
    assert raised.value.__cause__ is None
    assert requests_seen(voucherify_emulator) == 0


def test_a_load_postgres_refuses_is_one_line_until_drop_pending(
    voucherify_emulator: Emulator, postgres_dsn: str, capfd: pytest.CaptureFixture[str]
) -> None:
    emu = voucherify_emulator
    seed(emu)
    # A table made by hand, before any load, with an email column of another type.
    table(postgres_dsn, "CREATE SCHEMA voucherify; CREATE TABLE voucherify.customers"
                        " (id varchar PRIMARY KEY, email integer); SELECT 1")  # fmt: skip
    command = [*connection(emu), "load", "--to", "postgres"]
    code, out, err = cli(*command)
    assert (code, out) == (1, "")
    assert err.startswith(
        "error: the load failed at dlt's load step: table 'customers': column \"email\" is of"
        " type integer but expression is of type "
    )
    assert err.endswith("run again with --drop-pending to discard it and refetch its range\n")
    assert err.count("\n") == 1
    assert cli(*command) == (1, "", err)  # again, the same
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""

    table(postgres_dsn, "ALTER TABLE voucherify.customers ALTER email TYPE varchar; SELECT 1")
    code, out, err = cli(*command, "--drop-pending")
    assert code == 0, err
    assert out == f'SELECT count(*) FROM "voucherify"."customers" -> {COUNT}\n'
    assert_customers_are_the_apis(emu, postgres_dsn)


def test_every_shape_of_value_is_the_apis_in_postgres(
    voucherify_emulator: Emulator, postgres_dsn: str
) -> None:
    # The fidelity check of the DuckDB file, into Postgres: zeros, empties, timestamp-shaped
    # strings, a metadata key only on the oldest of 21,000 customers, a key whose value is
    # a number, a string or an object.
    count = 21_000
    seed_customers_of_every_shape(voucherify_emulator, count)
    load(pipeline(destination="postgres"), **credentials(voucherify_emulator))

    async def listed(vf: AsyncVoucherify) -> dict[tuple[Any, ...], JsonObject]:
        return await api_customers(vf, expected=count)

    api = run(with_client(voucherify_emulator, listed))
    loaded = customers_as_loaded(postgres_dsn)
    assert len(loaded) == count
    assert assert_rows_match(loaded, api, CUSTOMER_COLUMNS, derived=CHANGED_AT) == count
    (found,) = table(
        postgres_dsn,
        "SELECT count(*) FILTER (WHERE summary__orders__total_count = 0),"
        " count(*) FILTER (WHERE metadata::jsonb ? 'only_on_the_oldest'),"
        " count(DISTINCT jsonb_typeof(metadata::jsonb -> 'kind'))"
        " FROM voucherify.customers",
    )
    assert found == (count, 1, 3)
