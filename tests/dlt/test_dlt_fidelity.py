"""Every loaded value is the API's: field by field, row by row, against its raw JSON.

Also: the per-customer tables are replaced per customer, the ``customers`` table's write
dispositions (``scd2`` among them), dlt's schema contract, and credentials from dlt's
configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import pytest
from dlt_helpers import (
    CHANGED_AT,
    CUSTOMER_COLUMNS,
    JsonObject,
    api_children,
    api_customers,
    assert_rows_match,
    compare_rows,
    credentials,
    duckdb_rows,
    json_equal,
    requests_seen,
    rows,
    run,
    target,
)

from voucherify_async import AsyncVoucherify, ConfigurationError, CustomerCreate
from voucherify_async.dlt import (
    DELETED_COLUMN,
    RESOURCES,
    SCHEMA_CONTRACT_MODES,
    WRITE_DISPOSITIONS,
    _source,
    columns_from_struct,
    customer_row,
    load,
    voucherify_source,
)
from voucherify_async.dlt._arrow import arrow_type, columns_builder
from voucherify_async.dlt._rows import row_builder
from voucherify_async.emulator import Emulator
from voucherify_async.models import (
    AddressInput,
    AsyncAction,
    Customer,
    CustomerActivity,
    CustomerRedeemable,
    Segment,
)

STAMP = "2024-02-03T04:05:06.789+02:00"
WAREHOUSE = "warehouse.duckdb"


def loaded_counts(info: Any) -> dict[str, int]:
    counts: dict[str, int] = info.pipeline.last_trace.last_normalize_info.row_counts
    return counts


def child_columns(model: type[msgspec.Struct]) -> dict[str, dict[str, Any]]:
    return {
        **columns_from_struct(model),
        "customer_id": {"data_type": "text"},
        DELETED_COLUMN: {"data_type": "bool"},
    }


async def with_client(emulator: Emulator, work: Any) -> Any:
    async with emulator.client() as vf:
        return await work(vf)


def assert_customers_are_the_apis(emulator: Emulator, tmp_path: Path, count: int) -> None:
    async def listed(vf: AsyncVoucherify) -> dict[tuple[Any, ...], JsonObject]:
        return await api_customers(vf, expected=count)

    api = run(with_client(emulator, listed))
    compared = assert_rows_match(
        duckdb_rows(tmp_path / WAREHOUSE, "customers"), api, CUSTOMER_COLUMNS, derived=CHANGED_AT
    )
    assert compared == count


# --- Rows ---------------------------------------------------------------------------------


class Inner(msgspec.Struct, omit_defaults=True):
    when: date | None = None
    tags: list[str] = msgspec.field(default_factory=list)


class Entry(msgspec.Struct, omit_defaults=True):
    points: int | None = None
    at: datetime | None = None


class Outer(msgspec.Struct, omit_defaults=True):
    id: str
    count: int = 0
    flag: bool = False
    inner: Inner | None = None
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    entries: dict[str, Entry] = msgspec.field(default_factory=dict)
    mixed: int | str | None = None
    renamed: str = msgspec.field(default="", name="wireName")


def test_rows_have_every_field_defaults_included() -> None:
    build = row_builder(Outer)
    bare = build(Outer(id="a"))
    assert bare == {
        "id": "a",
        "count": 0,
        "flag": False,
        "inner__when": None,
        "inner__tags": None,
        "extra": {},
        "entries": {},
        "mixed": None,
        "wireName": "",
    }
    assert list(bare) == list(columns_from_struct(Outer))
    # The rows handed to dlt leave the None values out (NULL to dlt all the same).
    lean = row_builder(Outer, keep_none=False)
    assert lean(Outer(id="a")) == {k: v for k, v in bare.items() if v is not None}
    assert lean(Outer(id="a", inner=Inner())) == {
        **lean(Outer(id="a")),
        "inner__tags": [],
    }
    at = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    full = build(
        Outer(
            id="b",
            inner=Inner(),
            extra={"n": 0, "empty": {}, "stamp": STAMP},
            entries={"x": Entry(), "y": Entry(points=0, at=at)},
            mixed="7",
        )
    )
    assert full["inner__when"] is None and full["inner__tags"] == []
    assert full["extra"] == {"n": 0, "empty": {}, "stamp": STAMP}
    # A Struct inside an open value as the API writes it: no key for a None that is the
    # default, a 0 kept, UTC times with milliseconds and Z.
    assert full["entries"] == {"x": {}, "y": {"points": 0, "at": "2024-01-02T03:04:05.678Z"}}
    assert full["mixed"] == "7"
    with pytest.raises(TypeError, match="msgspec Struct"):
        row_builder(dict)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "model", [Customer, Segment, CustomerActivity, CustomerRedeemable, AsyncAction]
)
def test_rows_have_exactly_the_declared_columns(model: type[msgspec.Struct]) -> None:
    bare = model(id="x")
    assert list(row_builder(model)(bare)) == list(columns_from_struct(model))


def test_customer_row_keeps_zeros_and_empties() -> None:
    raw = {
        "id": "cust_1",
        "name": STAMP,
        "metadata": {},
        "system_metadata": {},
        "summary": {"orders": {"total_count": 0}, "redemptions": {"total_redeemed": 0}},
        "loyalty": {"points": 0, "referred_customers": 0, "campaigns": {}},
        "referrals": {"total": 0, "campaigns": []},
        "created_at": "2024-01-01T00:00:00.000Z",
    }
    row = customer_row(msgspec.convert(raw, Customer))
    assert set(row) == set(CUSTOMER_COLUMNS)
    assert row["name"] == STAMP
    assert row["metadata"] == {} and row["system_metadata"] == {}
    assert row["summary__orders__total_count"] == 0
    assert row["summary__redemptions__gift__redeemed_amount"] is None  # gift: absent
    assert row["loyalty__points"] == 0 and row["loyalty__campaigns"] == {}
    assert row["referrals__total"] == 0 and row["referrals__campaigns"] == []
    assert row["address__city"] is None
    assert row["changed_at"] == datetime(2024, 1, 1, tzinfo=timezone.utc)


# --- Customers, field by field ------------------------------------------------------------

ODD_METADATA: dict[str, Any] = {
    "stamp": STAMP,
    "day": "2024-02-03",
    "zero": 0,
    "float": 1.5,
    "whole_float": 2.0,
    "false": False,
    "null": None,
    "empty_object": {},
    "empty_list": [],
    "nested": {"a": {"b": [0, "", {}, [], None]}},
    "big": 2**53 + 1,
    "kind": {"an": "object"},
}


def seed_customers_of_every_shape(emulator: Emulator, count: int) -> list[str]:
    """``count`` customers: the oldest with a metadata key no other has, a ``kind`` that is
    an int, a string or an object, zeros, empties and timestamp-shaped strings."""
    run(
        emulator.seed_customers(
            1,
            start="2023-01-01T00:00:00Z",
            source_id="oldest-{i}",
            metadata={"only_on_the_oldest": {"deep": [1, {"x": None}]}, "kind": 7},
        )
    )
    created = 10
    rest = count - 1 - created
    half = rest // 2
    run(
        emulator.seed_customers(
            half,
            start="2023-06-01T00:00:00Z",
            source_id="text-{i}",
            city="City {i%5}",
            metadata={"kind": "text", "zero": 0, "stamp": STAMP},
        )
    )
    run(
        emulator.seed_customers(
            rest - half,
            start="2023-09-01T00:00:00Z",
            source_id="bare-{i}",
            name=STAMP,
            email=None,
        )
    )

    async def create(vf: AsyncVoucherify) -> None:
        for i in range(created):
            await vf.customers.create(
                CustomerCreate(
                    source_id=f"odd-{i}",
                    name=STAMP if i % 2 else "",
                    description="",
                    phone="2024-02-03T04:05:06Z",
                    birthdate=date(1990, 1, 2 + i),
                    address=AddressInput(city="2024-02-03", line_1="", postal_code="00000"),
                    metadata=ODD_METADATA if i < 5 else {},
                )
            )

    run(with_client(emulator, create))
    ids: list[str] = run(emulator.customer_ids())
    assert len(ids) == count
    return ids


def test_every_field_of_every_customer_is_the_apis(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    count = 21_000
    seed_customers_of_every_shape(voucherify_emulator, count)
    load(target(tmp_path), **credentials(voucherify_emulator))

    assert_customers_are_the_apis(voucherify_emulator, tmp_path, count)
    # What the comparison covers, spelled out for the cases that went wrong before:
    found = rows(
        tmp_path,
        "SELECT count(*) FILTER (WHERE summary__orders__total_count = 0),"
        " count(*) FILTER (WHERE loyalty__points = 0 AND referrals__total = 0),"
        " count(*) FILTER (WHERE loyalty__campaigns::VARCHAR = '{}'),"
        " count(*) FILTER (WHERE referrals__campaigns::VARCHAR = '[]'),"
        " count(*) FILTER (WHERE system_metadata::VARCHAR = '{}'),"
        " count(*) FILTER (WHERE json_exists(metadata, '$.only_on_the_oldest')),"
        f" count(*) FILTER (WHERE name = '{STAMP}')"
        " FROM voucherify.customers",
    )
    half = (count - 11) // 2
    assert found == [(count, count, count, count, count, 1, count - 11 - half + 5)]
    kinds = rows(
        tmp_path,
        "SELECT DISTINCT json_type(json_extract(metadata, '$.kind')) FROM"
        " voucherify.customers WHERE json_exists(metadata, '$.kind') ORDER BY 1",
    )
    # One JSON column whatever the type of a key: a number, an object and a string.
    assert {kind.replace("UBIGINT", "BIGINT") for (kind,) in kinds} == {
        "BIGINT",
        "OBJECT",
        "VARCHAR",
    }


def test_updating_the_oldest_never_updated_customers_loads_them_exactly(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    count = 21_000
    ids = seed_customers_of_every_shape(voucherify_emulator, count)
    load(target(tmp_path), **credentials(voucherify_emulator))
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE updated_at IS NULL")[
        0
    ] == (count,)

    async def update_oldest(vf: AsyncVoucherify) -> None:
        for i, cid in enumerate(ids[:10]):
            metadata = {"kind": [i], "only_on_the_oldest": None} if i == 0 else {"zero": 0}
            await vf.customers.update(cid, name=STAMP, metadata=metadata)

    run(with_client(voucherify_emulator, update_oldest))
    info = load(target(tmp_path), **credentials(voucherify_emulator))
    assert loaded_counts(info)["customers"] >= 10
    assert rows(
        tmp_path, "SELECT count(*) FROM voucherify.customers WHERE updated_at IS NOT NULL"
    ) == [(10,)]
    assert_customers_are_the_apis(voucherify_emulator, tmp_path, count)


def test_comparison_finds_a_changed_value() -> None:
    api = {("c",): {"id": "c", "metadata": {"a": 1}, "loyalty": {"points": 0}}}
    columns = {**columns_from_struct(Customer)}
    good: dict[str, Any] = {name: None for name in columns}
    good |= {"id": "c", "metadata": '{"a": 1}'}
    good["loyalty__points"] = 0
    assert compare_rows([good], api, columns) == []
    for change in (
        {"loyalty__points": None},
        {"metadata": '{"a": 1, "b": null}'},
        {"metadata": '{"a": true}'},
    ):
        assert compare_rows([good | change], api, columns), change
    assert compare_rows([], api, columns) == ["('c',): in the API, not loaded"]
    unknown = {("c",): {**api[("c",)], "surprise": 1}}
    assert compare_rows([good], unknown, columns) == [
        "('c',) surprise: a field of the API with no column"
    ]


# --- Customers as arrow tables -------------------------------------------------------------


def odd_raws() -> list[dict[str, Any]]:
    """Customers of every shape the arrow columns must carry exactly, as the API sends them."""
    return [
        {"id": "bare", "created_at": "2024-01-01T00:00:00.000Z"},
        {
            "id": "odd",
            "name": STAMP,
            "phone": "",
            "birthdate": "1990-01-02",
            "address": {"city": "2024-02-03", "line_1": ""},
            "metadata": ODD_METADATA,
            "system_metadata": {},
            "summary": {"orders": {"total_count": 0}, "redemptions": {"total_redeemed": 0}},
            "loyalty": {
                "points": 0,
                "referred_customers": 2**53 + 1,
                "campaigns": {
                    "camp_1": {"points": 0},
                    "camp_2": {},
                    "Christmas Campaign": {"points": 1000, "referred_customers": 0},
                    "tiers": {"points": 5, "loyalty_tier": "ltr_1", "referred_customers": 2},
                },
            },
            "referrals": {
                "total": 2,
                "campaigns": [
                    {
                        "campaign_id": "camp_r",
                        "referrer_id": "cust_r",
                        "related_object_id": "r_1",
                        "related_object_type": "redemption",
                        "date": "2022-08-30T10:17:41.089Z",
                    },
                    {"campaign_id": "camp_s", "date": "2022-08-30T11:00:00.000Z"},
                ],
            },
            "created_at": "2024-01-01T00:00:00.001Z",
            "updated_at": STAMP,
        },
        {"id": "empty", "metadata": {}, "created_at": "2024-01-01T00:00:00.002+05:30"},
    ]


def odd_customers() -> list[Customer]:
    return [msgspec.convert(raw, Customer) for raw in odd_raws()]


def test_columns_builder_holds_the_rows_values() -> None:
    build = columns_builder(Outer)
    at = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    objects = [
        Outer(id="a"),
        Outer(
            id="b",
            inner=Inner(),
            extra={"n": 0, "empty": {}, "stamp": STAMP, "big": 2**70},
            entries={"x": Entry(), "y": Entry(points=0, at=at)},
            mixed="7",
        ),
        Outer(id="c", mixed=7),
    ]
    columns = build(objects)
    names = list(columns_from_struct(Outer))
    assert len(columns) == len(names)
    rows_ = row_builder(Outer)
    hints = columns_from_struct(Outer)
    for index, instance in enumerate(objects):
        expected = rows_(instance)
        for name, values in zip(names, columns, strict=True):
            value = values[index]
            if hints[name]["data_type"] == "json" and value is not None:
                assert isinstance(value, bytes)
                value = json.loads(value)
            assert json_same(value, expected[name]), (instance.id, name, value)
    # A string stays a string, a number a number, in a mixed column's JSON text.
    assert columns[names.index("mixed")] == [None, b'"7"', b"7"]
    with pytest.raises(TypeError, match="msgspec Struct"):
        columns_builder(dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'time'"):
        arrow_type("time")


def json_same(left: Any, right: Any) -> bool:
    return json_equal(left, right) if not isinstance(left, (date, datetime)) else left == right


def test_customer_table_is_the_loaded_rows_typed() -> None:
    customers = odd_customers()
    table = _source._customer_table(customers, "1234.5")
    declared = {**CUSTOMER_COLUMNS}
    assert table.column_names == [*declared, "_dlt_load_id", "_dlt_id"]
    for field in table.schema:
        if field.name.startswith("_dlt_"):
            assert str(field.type) == "string" and not field.nullable
            continue
        assert field.type == arrow_type(declared[field.name]["data_type"]), field.name
        assert field.nullable == (field.name not in ("id", "changed_at")), field.name
    assert str(table.schema.field("changed_at").type) == "timestamp[us, tz=UTC]"
    assert table.column("_dlt_load_id").to_pylist() == ["1234.5"] * 3
    row_ids = table.column("_dlt_id").to_pylist()
    assert len(set(row_ids)) == 3 and all(isinstance(value, str) and value for value in row_ids)
    for customer, loaded in zip(customers, table.to_pylist(), strict=True):
        expected = customer_row(customer)
        for name, hints in declared.items():
            value = loaded[name]
            if hints["data_type"] == "json" and value is not None:
                value = json.loads(value)
            if isinstance(value, datetime):
                assert value == expected[name] and value.utcoffset() is not None, name
                continue
            assert json_same(value, expected[name]), (customer.id, name, value, expected[name])
    odd = table.to_pylist()[1]
    assert odd["loyalty__referred_customers"] == 2**53 + 1
    # Typed Structs inside a json column: the keys and strings the API sent, no more.
    sent = odd_raws()[1]
    campaigns = json.loads(odd["loyalty__campaigns"])
    assert campaigns == customer_row(customers[1])["loyalty__campaigns"]
    assert json.dumps(campaigns) == json.dumps(sent["loyalty"]["campaigns"])
    referrals = json.loads(odd["referrals__campaigns"])
    assert json.dumps(referrals) == json.dumps(sent["referrals"]["campaigns"])
    assert json.loads(odd["metadata"]) == ODD_METADATA
    assert odd["name"] == STAMP and odd["phone"] == "" and odd["address__line_1"] == ""
    assert odd["changed_at"] == datetime(2024, 2, 3, 2, 5, 6, 789000, tzinfo=timezone.utc)
    # A customer with no updated_at: created_at, whatever its zone, as the instant.
    assert table.to_pylist()[2]["changed_at"] == datetime(
        2023, 12, 31, 18, 30, 0, 2000, tzinfo=timezone.utc
    )


def test_an_integer_past_64_bits_in_a_typed_column_is_refused_by_name() -> None:
    # Neither a parquet file nor the destination's bigint holds it: dlt's own dict rows fail
    # too (at its normalize step); the arrow table says which column, before any file.
    raw = {"id": "c", "loyalty": {"points": 2**63}, "created_at": "2024-01-01T00:00:00Z"}
    with pytest.raises(ValueError, match=r"^customers column 'loyalty__points' cannot hold"):
        _source._customer_table([msgspec.convert(raw, Customer)], "1")
    # In a json column it is JSON text like any number.
    big = {"id": "c", "metadata": {"n": 2**70}, "created_at": "2024-01-01T00:00:00Z"}
    table = _source._customer_table([msgspec.convert(big, Customer)], "1")
    assert json.loads(table.column("metadata")[0].as_py()) == {"n": 2**70}


def test_a_table_first_loaded_as_dict_rows_loads_on_incrementally_as_arrow(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A table an earlier version loaded (dict rows: dlt's normalizer added _dlt_load_id and
    # _dlt_id, NOT NULL), then runs of this one: the same columns, the state carried on.
    emu = voucherify_emulator
    count = 3_000
    ids = seed_customers_of_every_shape(emu, count)
    with monkeypatch.context() as old:
        old.setattr(_source, "_builder", lambda write_disposition: _source._dict_batch)
        load(target(tmp_path), **credentials(emu))
    (first_load,) = rows(tmp_path, "SELECT DISTINCT _dlt_load_id FROM voucherify.customers")
    before = target(tmp_path).default_schema.get_table_columns("customers")

    async def update(vf: AsyncVoucherify) -> None:
        for cid in ids[-5:]:
            await vf.customers.update(cid, name="after the upgrade", metadata={"zero": 0})

    run(with_client(emu, update))
    info = load(target(tmp_path), **credentials(emu))
    # The changed customers and those the margin asks for again, not every customer.
    assert 5 <= loaded_counts(info)["customers"] < count
    assert rows(
        tmp_path,
        "SELECT count(*), count(DISTINCT id), count(DISTINCT _dlt_id), count(_dlt_load_id),"
        " count(*) FILTER (WHERE name = 'after the upgrade'),"
        " count(*) FILTER (WHERE _dlt_load_id <> ?) FROM voucherify.customers".replace(
            "?", f"'{first_load[0]}'"
        ),
    ) == [(count, count, count, count, 5, loaded_counts(info)["customers"])]
    assert target(tmp_path).default_schema.get_table_columns("customers") == before
    assert_customers_are_the_apis(emu, tmp_path, count)


def test_a_table_loaded_as_arrow_has_the_dict_rows_columns(
    voucherify_emulator: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emu = voucherify_emulator
    seed_plain(emu, 1_200)
    info = load(target(tmp_path), **credentials(emu))
    # dlt wrote the batches to its files as they were (parquet, not its typed-jsonl of rows).
    ran: Any = info.pipeline
    extract = ran.last_trace.last_extract_info
    extracted = [
        job
        for metrics in extract.metrics.values()
        for step in metrics
        for job in step["job_metrics"]
        if job.startswith("customers.")
    ]
    assert extracted and all(job.endswith(".parquet") for job in extracted), extracted
    # The json columns arrive as JSON text by design: dlt is not made to say so per batch.
    assert "when merging arrow schema" not in capfd.readouterr().err
    assert rows(
        tmp_path,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'voucherify' AND table_name = 'customers'"
        " AND (column_name LIKE '\\_dlt%' ESCAPE '\\' OR data_type = 'JSON'"
        " OR column_name = 'changed_at') ORDER BY ordinal_position",
    ) == [
        ("metadata", "JSON", "YES"),
        ("loyalty__campaigns", "JSON", "YES"),
        ("referrals__campaigns", "JSON", "YES"),
        ("system_metadata", "JSON", "YES"),
        ("changed_at", "TIMESTAMP WITH TIME ZONE", "NO"),
        ("_dlt_load_id", "VARCHAR", "NO"),
        ("_dlt_id", "VARCHAR", "NO"),
    ]
    assert rows(
        tmp_path,
        "SELECT count(DISTINCT _dlt_id), count(DISTINCT _dlt_load_id) FROM voucherify.customers",
    ) == [(1_200, 1)]


def test_quiet_json_hints_drops_only_dlts_notice_of_customers() -> None:
    import logging

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("dlt", logging.WARNING, __file__, 1, message, None, None)

    quiet = _source._QuietJsonHints()
    assert not quiet.filter(
        record("In resource: customers, when merging arrow schema with dlt schema, several")
    )
    assert quiet.filter(record("In resource: orders, when merging arrow schema with dlt"))
    assert quiet.filter(record("Large number of records sharing the same value"))
    logger = logging.getLogger("dlt")
    with _source._arrow_notices_quiet(), _source._arrow_notices_quiet():
        assert _source._quiet_json_hints in logger.filters
    assert _source._quiet_json_hints not in logger.filters


# --- The per-customer tables --------------------------------------------------------------

CHILDREN: dict[str, tuple[str, type[msgspec.Struct]]] = {
    "customer_segments": ("segments", Segment),
    "customer_redeemables": ("redeemables", CustomerRedeemable),
    "customer_activity": ("activity", CustomerActivity),
}


def assert_children_are_the_apis(emulator: Emulator, tmp_path: Path, ids: list[str]) -> None:
    for table, (what, model) in CHILDREN.items():

        async def listed(vf: AsyncVoucherify, what: str = what) -> dict[tuple[Any, ...], Any]:
            return await api_children(vf, ids, what)

        api = run(with_client(emulator, listed))
        assert_rows_match(
            duckdb_rows(tmp_path / WAREHOUSE, table),
            api,
            child_columns(model),
            key=("customer_id", "id"),
            ignored=(DELETED_COLUMN,),
        )


def test_per_customer_tables_are_replaced_per_customer(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(6, activity=True))
    ids: list[str] = run(emu.customer_ids())
    run(emu.seed_segment("vip", ids[:3], segment_id="seg_vip"))
    run(emu.seed_segment("gold", [ids[0], ids[3]], segment_id="seg_gold"))
    run(emu.seed_redeemable(ids[5], id="rh_keep", status="ACTIVE"))
    run(emu.seed_redeemable(ids[5], id="rh_change", status="ACTIVE"))
    everything = ["customers", *CHILDREN]
    options = {"resources": everything, **credentials(emu)}
    load(target(tmp_path), **options)

    def segments_of(cid: str) -> set[str]:
        found = rows(
            tmp_path, f"SELECT id FROM voucherify.customer_segments WHERE customer_id = '{cid}'"
        )
        return {segment for (segment,) in found}

    def redeemables_of(cid: str) -> dict[str, tuple[Any, ...]]:
        found = rows(
            tmp_path,
            "SELECT id, redeemable__status, redeemable__voucher__code FROM"
            f" voucherify.customer_redeemables WHERE customer_id = '{cid}'",
        )
        return {rid: tuple(rest) for rid, *rest in found}

    assert segments_of(ids[0]) == {"seg_vip", "seg_gold"}
    assert segments_of(ids[3]) == {"seg_gold"}
    before = redeemables_of(ids[5])
    assert {"rh_keep", "rh_change"} <= set(before)

    # ids[0] leaves vip, ids[3] leaves its only segment, ids[5]'s redeemables change.
    run(emu.seed_segment("vip", ids[1:3], segment_id="seg_vip"))
    run(emu.seed_segment("gold", [ids[0]], segment_id="seg_gold"))
    run(emu.seed_redeemable(ids[5], id="rh_change", status="INACTIVE", code="NEW-CODE"))
    run(emu.seed_redeemable(ids[5], id="rh_new", status="ACTIVE"))

    async def touch(vf: AsyncVoucherify) -> None:
        for cid in (ids[0], ids[3], ids[5]):
            await vf.customers.update(cid, description="changed")

    run(with_client(emu, touch))
    load(target(tmp_path), **options)

    assert segments_of(ids[0]) == {"seg_gold"}
    assert segments_of(ids[3]) == set()
    assert segments_of(ids[1]) == {"seg_vip"}
    after = redeemables_of(ids[5])
    assert set(after) == {*before, "rh_new"}
    assert after["rh_change"] == ("INACTIVE", "NEW-CODE")
    assert after["rh_keep"] == before["rh_keep"] and after["rh_new"][0] == "ACTIVE"
    # No tombstone is stored: every row is a customer's item.
    for table in CHILDREN:
        assert rows(
            tmp_path,
            f"SELECT count(*) FROM voucherify.{table} WHERE id = '' OR {DELETED_COLUMN}"
            " IS NOT NULL",
        ) == [(0,)]
    assert_children_are_the_apis(emu, tmp_path, ids)


# --- The customers table's write disposition ----------------------------------------------


def seed_plain(emulator: Emulator, count: int) -> list[str]:
    run(emulator.seed_customers(count, start="2024-03-01T00:00:00Z", step_ms=50))
    ids: list[str] = run(emulator.customer_ids())
    return ids


def rename(emulator: Emulator, ids: list[str], name: str) -> None:
    async def work(vf: AsyncVoucherify) -> None:
        for cid in ids:
            await vf.customers.update(cid, name=name)

    run(with_client(emulator, work))


def test_scd2_keeps_every_version_of_a_customer(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    ids = seed_plain(emu, 50)
    options = {"write_disposition": "scd2", **credentials(emu)}
    load(target(tmp_path), **options)
    assert rows(tmp_path, "SELECT count(*), count(_dlt_valid_to) FROM voucherify.customers") == [
        (50, 0)
    ]

    rename(emu, ids[:3], "second name")
    load(target(tmp_path), **options)
    versions = rows(
        tmp_path,
        "SELECT id, name, _dlt_valid_from, _dlt_valid_to FROM voucherify.customers"
        " ORDER BY id, _dlt_valid_from",
    )
    assert len(versions) == 53
    by_id: dict[str, list[tuple[Any, ...]]] = {}
    for version in versions:
        by_id.setdefault(version[0], []).append(version)
    for cid in ids[:3]:
        (old, new) = by_id[cid]
        assert old[1] == "Customer " + str(ids.index(cid) + 1) and new[1] == "second name"
        assert old[3] is not None and old[3] == new[2]  # closed when the new one starts
        assert new[3] is None
    for cid in ids[3:]:
        assert [version[3] for version in by_id[cid]] == [None]  # one version, still open

    # A run with nothing new (the margin asks for the last changes again) adds nothing.
    load(target(tmp_path), **options)
    assert rows(tmp_path, "SELECT count(*), count(_dlt_valid_to) FROM voucherify.customers") == [
        (53, 3)
    ]

    # The open versions are the API's customers.
    async def listed(vf: AsyncVoucherify) -> dict[tuple[Any, ...], JsonObject]:
        return await api_customers(vf, expected=50)

    current = [
        row
        for row in duckdb_rows(tmp_path / WAREHOUSE, "customers")
        if row["_dlt_valid_to"] is None
    ]
    assert_rows_match(current, run(with_client(emu, listed)), CUSTOMER_COLUMNS, derived=CHANGED_AT)


def test_append_and_replace(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    emu = voucherify_emulator
    ids = seed_plain(emu, 30)
    appended = {"write_disposition": "append", **credentials(emu)}
    load(target(tmp_path, "appended"), **appended)
    rename(emu, ids[:2], "again")
    load(target(tmp_path, "appended"), **appended)
    (total, distinct), *_ = rows(
        tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers"
    )
    assert distinct == 30 and total >= 32  # every load of a customer is a row
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name = 'again'") == [
        (2,)
    ]

    replaced = {"write_disposition": "replace", **credentials(emu)}
    load(target(tmp_path, "replaced"), **replaced)
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (30, 30)
    ]

    async def delete(vf: AsyncVoucherify) -> None:
        await vf.customers.delete(ids[0])

    run(with_client(emu, delete))
    info = load(target(tmp_path, "replaced"), **replaced)
    # Every customer read again; the deleted one is gone.
    assert loaded_counts(info)["customers"] == 29
    assert rows(tmp_path, "SELECT count(*), count(DISTINCT id) FROM voucherify.customers") == [
        (29, 29)
    ]


def test_bad_write_disposition_or_contract_fails_before_any_request(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    good = credentials(voucherify_emulator)
    run(voucherify_emulator.reset())
    with pytest.raises(ConfigurationError) as bad:
        load(target(tmp_path), write_disposition="upsert", **good)
    assert str(bad.value) == (
        "write_disposition must be one of merge, append, replace, scd2, got 'upsert'"
    )
    assert WRITE_DISPOSITIONS == ("merge", "append", "replace", "scd2")
    with pytest.raises(ConfigurationError, match=r"^write_disposition='replace' loads every"):
        voucherify_source(
            write_disposition="replace",
            initial_value=datetime(2024, 1, 1, tzinfo=timezone.utc),
            **good,
        )
    for contract in ("strict", {"columns": "strict"}, {"rows": "freeze"}, {}, 3):
        with pytest.raises(ConfigurationError, match=r"^schema_contract must be None, one of"):
            load(target(tmp_path), schema_contract=contract, **good)
    assert requests_seen(voucherify_emulator) == 0


@pytest.mark.parametrize("contract", [*SCHEMA_CONTRACT_MODES, {"columns": "freeze"}])
def test_schema_contract_is_passed_to_dlt(contract: Any) -> None:
    source = voucherify_source(
        app_id="a", app_token="t", base_url="http://127.0.0.1:9", schema_contract=contract
    )
    assert source.schema_contract == contract
    assert voucherify_source(app_id="a", app_token="t").schema_contract is None


def test_every_column_is_declared_so_frozen_columns_load(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(8, activity=True, metadata={"a": {"b": [1]}}))
    ids: list[str] = run(emu.customer_ids())
    run(emu.seed_segment("vip", ids[:2]))

    async def bulk(vf: AsyncVoucherify) -> None:
        job = await vf.customers.update_metadata_in_bulk(["seed-1"], {"batch": 1})
        await job.wait()

    run(with_client(emu, bulk))
    frozen = {"schema_contract": {"columns": "freeze"}, **credentials(emu)}
    load(target(tmp_path), resources=RESOURCES, **frozen)
    rename(emu, ids[:2], "later")
    load(target(tmp_path), resources=RESOURCES, **frozen)
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers WHERE name = 'later'") == [
        (2,)
    ]

    async def actions(vf: AsyncVoucherify) -> dict[tuple[Any, ...], JsonObject]:
        page = await vf.request("GET", "/v1/async-actions", query={"limit": 100})
        assert not page["has_more"]
        return {(action["id"],): action for action in page["async_actions"]}

    assert_rows_match(
        duckdb_rows(tmp_path / WAREHOUSE, "async_actions"),
        run(with_client(emu, actions)),
        columns_from_struct(AsyncAction),
    )
    # Each table has the declared columns, with the declared types, and no other: dlt
    # inferred nothing (under "freeze" a column it did not know would stop the load).
    declared: dict[str, dict[str, dict[str, Any]]] = {
        "customers": CUSTOMER_COLUMNS,
        "async_actions": columns_from_struct(AsyncAction),
        **{table: child_columns(model) for table, (_, model) in CHILDREN.items()},
    }
    schema = target(tmp_path).default_schema
    for table, columns in declared.items():
        assert rows(tmp_path, f"SELECT count(*) > 0 FROM voucherify.{table}") == [(True,)], table
        found = {
            name: column["data_type"]
            for name, column in schema.get_table_columns(table).items()
            if not name.startswith("_dlt_")
        }
        assert found == {name: hint["data_type"] for name, hint in columns.items()}, table


# --- Credentials from dlt's configuration -------------------------------------------------


def test_credentials_come_from_dlts_config_and_secrets(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not [name for name in os.environ if name.startswith("VOUCHERIFY_")]
    emu = voucherify_emulator
    seed_plain(emu, 12)
    monkeypatch.chdir(tmp_path)  # a .dlt folder of its own
    monkeypatch.setenv("SOURCES__VOUCHERIFY__APP_ID", emu.app_id)
    monkeypatch.setenv("SOURCES__VOUCHERIFY__APP_TOKEN", emu.app_token)
    monkeypatch.setenv("SOURCES__VOUCHERIFY__BASE_URL", emu.url)
    load(target(tmp_path))
    assert rows(tmp_path, "SELECT count(*) FROM voucherify.customers") == [(12,)]

    # An argument wins over dlt's configuration: a wrong token fails the run.
    with pytest.raises(Exception, match=r"401|nauthori"):
        load(target(tmp_path, "explicit"), app_token="wrong-token")

    # The files of dlt's project folder (read when dlt starts: in a process of its own).
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "secrets.toml").write_text(
        f'[sources.voucherify]\napp_id = "{emu.app_id}"\napp_token = "{emu.app_token}"\n'
    )
    (project / ".dlt" / "config.toml").write_text(f'[sources.voucherify]\nbase_url = "{emu.url}"\n')
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VOUCHERIFY_", "SOURCES__"))
    }
    code = (
        "from voucherify_async.dlt import count_rows, load, pipeline\n"
        "load(pipeline(duckdb_path='c.duckdb'))\n"
        "print(count_rows('c.duckdb')[1])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["12"]


def test_missing_credentials_name_dlts_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCES__VOUCHERIFY__APP_TOKEN", "secret-token-value")
    with pytest.raises(ConfigurationError) as missing:
        voucherify_source(base_url="http://127.0.0.1:9")
    message = str(missing.value)
    assert message.startswith("missing credentials: pass app_id")
    assert "sources.voucherify.app_id" in message
    assert "secret-token-value" not in message and "secret-token-value" not in repr(missing.value)
    json.dumps(message)  # one plain line
