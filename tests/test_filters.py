"""A list's filters are declared once; the method, the partition and the CLI all read it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, TypedDict

import pytest

from voucherify_async import AsyncVoucherify
from voucherify_async._core.filters import Filter, filter_fields, filter_query
from voucherify_async.emulator import Emulator
from voucherify_async.resources.customers import CustomerListFilters
from voucherify_async.tools.cli import _filters, build_parser

WHEN = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


class Sample(TypedDict, total=False):
    kind: Annotated[str | None, Filter("the kind")]
    seen_before: Annotated[datetime | None, Filter("seen before", wire="seen[before]")]


def test_a_declaration_gives_names_types_wire_names_and_flags() -> None:
    fields = filter_fields(Sample)
    assert [(f.name, f.type, f.wire, f.flag) for f in fields] == [
        ("kind", str, "kind", "--kind"),
        ("seen_before", datetime, "seen[before]", "--seen-before"),
    ]
    assert filter_query(Sample, {"seen_before": WHEN, "kind": None}, "m") == [
        ("seen[before]", "2024-01-02T03:04:05.678Z")
    ]


def test_a_declaration_checks_what_it_is_given() -> None:
    with pytest.raises(TypeError, match=r"m\(\) got an unexpected argument 'knd'; allowed: kind"):
        filter_query(Sample, {"knd": "x"}, "m")
    with pytest.raises(TypeError, match="kind must be a str"):
        filter_query(Sample, {"kind": 5}, "m")
    with pytest.raises(ValueError, match="seen_before must be a timezone-aware"):
        filter_query(Sample, {"seen_before": datetime(2024, 1, 1)}, "m")


def test_the_customer_filters_keep_their_wire_names() -> None:
    wires = {f.name: f.wire for f in filter_fields(CustomerListFilters)}
    assert wires == {
        "email": "email",
        "city": "city",
        "name": "name",
        "segment_id": "segment_id",
        "created_at_before": "created_at[before]",
        "created_at_after": "created_at[after]",
        "updated_at_before": "updated_at[before]",
        "updated_at_after": "updated_at[after]",
    }


async def test_list_and_partition_refuse_an_unknown_filter_before_sending() -> None:
    # Port 9 (discard) on loopback: nothing listens, so a request would fail differently.
    async with AsyncVoucherify(app_id="a", app_token="t", base_url="http://127.0.0.1:9") as vf:
        with pytest.raises(TypeError, match=r"list\(\) got an unexpected argument 'cty'"):
            vf.customers.list(cty="Warsaw")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match=r"partition\(\) got an unexpected argument 'cty'"):
            await vf.customers.partition(2, cty="Warsaw")  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="segment_id must be a str"):
            await vf.customers.partition(2, segment_id=5)  # type: ignore[arg-type]


def test_the_cli_has_an_option_for_every_declared_filter() -> None:
    argv = ["customers", "list"]
    for field in filter_fields(CustomerListFilters):
        argv += [field.flag, "2024-01-02T03:04:05.678Z" if field.type is datetime else "x"]
    filters = _filters(build_parser().parse_args(argv))
    assert filters.pop("order") is None
    assert filters == {
        f.name: WHEN if f.type is datetime else "x" for f in filter_fields(CustomerListFilters)
    }


async def test_every_declared_filter_reaches_the_api(voucherify_emulator: Emulator) -> None:
    await voucherify_emulator.seed_customers(3, city="Warsaw")
    await voucherify_emulator.seed_customers(2, city="Oslo")
    async with voucherify_emulator.client() as vf:
        everyone = [c async for c in vf.customers.list()]
        oslo = [c async for c in vf.customers.list(city="Oslo")]
        later = max(c.created_at for c in everyone if c.created_at)
        assert len(everyone) == 5 and len(oslo) == 2
        assert [c async for c in vf.customers.list(created_at_after=later)] == []
        parts = await vf.customers.partition(2, city="Warsaw")
    assert sum(part.count for part in parts) == 3
    assert all(part.filters == {"city": "Warsaw"} for part in parts)
