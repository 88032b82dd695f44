"""The docs name what the code has: parameters, importable names, the client's options.

And the testing page steers away from aioresponses for the reason it gives, which still holds
for the aiohttp and aioresponses installed here.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest

import voucherify_async
from voucherify_async import AsyncVoucherify
from voucherify_async.resources import Customers

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]


def text(page: str) -> str:
    return (ROOT / page).read_text(encoding="utf-8")


def test_partition_is_described_with_the_parameter_name_of_the_code() -> None:
    (name, *_) = [p for p in inspect.signature(Customers.partition).parameters if p != "self"]
    assert name == "parts"
    found = 0
    for page in PAGES:
        for match in re.finditer(r"(?<!\w)partition\(([A-Za-z_]\w*)", page.read_text("utf-8")):
            found += 1
            assert match.group(1) == name, f"{page.relative_to(ROOT)}: {match.group(0)}"
    assert found >= 3
    assert "into `n` disjoint" not in text("docs/pagination.md") + text("docs/scale-out.md")


def test_customer_list_filters_is_importable_where_the_docs_say() -> None:
    """The docstrings of ``customers.list`` and ``partition`` name ``CustomerListFilters``."""
    from voucherify_async import CustomerListFilters
    from voucherify_async.resources.customers import CustomerListFilters as defined

    assert CustomerListFilters is defined
    assert "CustomerListFilters" in voucherify_async.__all__
    assert "`CustomerListFilters`" in (Customers.list.__doc__ or "")


#: Options of the client described on other pages than the quickstart's table.
ELSEWHERE = {
    "clock": "docs/testing.md",
    "sleep": "docs/testing.md",
    "jitter": "docs/testing.md",
    "hooks": "docs/observability.md",
    "telemetry": "docs/observability.md",
}


def test_the_quickstart_table_has_every_option_of_the_client() -> None:
    rows = re.findall(r"^\| (`[^|]+`) \| ([^|]+) \|", text("docs/quickstart.md"), re.M)
    table = {
        name.strip("` "): default.strip() for cell, default in rows for name in cell.split(",")
    }
    options = [
        p for p in inspect.signature(AsyncVoucherify).parameters.values()
        if not p.name.startswith("_")
    ]  # fmt: skip
    for option in options:
        if option.name in ELSEWHERE:
            assert f"{option.name}=" in text(ELSEWHERE[option.name]), option.name
        else:
            assert option.name in table, f"the quickstart's table leaves out {option.name}"
    for name in ("max_concurrency", "rate_limiter", "transport"):
        assert table[name] == "`None`", name


def aioresponses_note() -> str:
    page = text("docs/testing.md")
    return " ".join(page[page.index('!!! note "Not aioresponses"') :].split("\n\n")[0].split())


def test_the_testing_page_steers_from_aioresponses_to_mock_transport() -> None:
    note = aioresponses_note()
    assert "aioresponses" in note and "'stream_writer'`" in note
    assert "`MockTransport` (`from voucherify_async import MockTransport`)" in note
    assert "MockTransport" in voucherify_async.__all__


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", importlib.metadata.version(name))[:3])


def test_aioresponses_fails_with_this_aiohttp_as_the_testing_page_says() -> None:
    """What the note says, with the versions it names: aiohttp 3.14+, aioresponses 0.7.9-."""
    if _version("aiohttp") < (3, 14) or _version("aioresponses") > (0, 7, 9):
        pytest.skip("the note is about aiohttp 3.14+ with aioresponses 0.7.9 or earlier")
    from aioresponses import aioresponses

    async def lookup() -> None:
        async with AsyncVoucherify(
            app_id="id", app_token="token", base_url="https://api.test.local", max_retries=0
        ) as vf:
            await vf.customers.get("bob")

    with aioresponses() as api:
        api.get("https://api.test.local/v1/customers/bob", payload={"id": "cust_1"})
        with pytest.raises(Exception) as raised:
            asyncio.run(lookup())
    chain = [raised.value, raised.value.__cause__, raised.value.__context__]
    (error,) = [e for e in chain if isinstance(e, TypeError) and "stream_writer" in str(e)]
    assert f"`TypeError: {error}`" in aioresponses_note()  # the message, as the page quotes it
