"""Decode one 100-customer list page into objects: ours against the vendor's pydantic models.

The page is built from the customer objects of the spec's examples (``GET /v1/customers``
(two customers), get, create and update), cycled to 100 customers with unique ids. It is
timed in two forms: compact (the API's wire format, about 125 KB) and pretty-printed with
``indent=2`` (about 200 KB; whitespace costs msgspec more than it costs pydantic, whose time
goes into building models). Each decoder starts from the bytes a socket gives:

- ours: ``msgspec.json.Decoder(voucherify_async.models.CustomerList).decode(body)``;
- the vendor SDK: ``CustomersListResponseBody.from_json(body.decode())``, which is what its
  ``ApiClient.deserialize`` does (``json.loads`` then ``from_dict`` with pydantic);
- ``json.loads(body)`` and ``msgspec.json.decode(body)``: untyped dicts and lists.

Each round times every decoder over the same number of calls, in turn, with the garbage
collector on (it is part of the cost of building many objects) and collected before each.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from voucherify_async.models import CustomerList

from ._common import BenchResult, Figure, median, spec_customers

KEY = "decode"
TITLE = "decode a 100-customer list page into typed objects"
TARGET = "at least 8x faster than the vendor SDK; no slower than untyped msgspec"


def build_page(count: int = 100, *, indent: int | None = 2) -> bytes:
    """A ``GET /v1/customers`` page of ``count`` customers cycled from the spec's examples."""
    examples = spec_customers()
    customers = []
    for i in range(count):
        customer = dict(examples[i % len(examples)])
        customer["id"] = f"cust_bench{i:019d}"
        if customer.get("source_id"):
            customer["source_id"] = f"{customer['source_id']}-{i}"
        customers.append(customer)
    page = {
        "object": "list",
        "data_ref": "customers",
        "customers": customers,
        "total": count,
        "has_more": False,
    }
    if indent is None:
        return json.dumps(page, separators=(",", ":")).encode()
    return json.dumps(page, indent=indent).encode()


def decoders(body: bytes) -> dict[str, Callable[[], Any]]:
    """Name -> a call that decodes ``body`` once."""
    from voucherify.models.customers_list_response_body import CustomersListResponseBody

    ours = msgspec.json.Decoder(CustomerList)
    untyped = msgspec.json.Decoder()
    return {
        "ours (msgspec typed)": lambda: ours.decode(body),
        "vendor SDK (pydantic)": lambda: CustomersListResponseBody.from_json(body.decode()),
        "json.loads (untyped)": lambda: json.loads(body),
        "msgspec.json.decode (untyped)": lambda: untyped.decode(body),
    }


def check(body: bytes) -> None:
    """Every decoder reads the page completely (the same customers, in the same order)."""
    from voucherify.models.customers_list_response_body import CustomersListResponseBody

    ours = msgspec.json.Decoder(CustomerList).decode(body)
    theirs = CustomersListResponseBody.from_json(body.decode())
    assert theirs is not None and theirs.customers is not None
    assert [c.id for c in ours.customers] == [c.id for c in theirs.customers]
    assert len(ours.customers) == len(json.loads(body)["customers"])


def time_decoders(body: bytes, rounds: int, calls: int) -> dict[str, list[float]]:
    """Microseconds per decode, one sample per round, decoders interleaved within a round."""
    runs = decoders(body)
    for decode in runs.values():  # warm up: caches, lazy imports, the decoder's type info
        decode()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, decode in runs.items():
            gc.collect()
            started = time.perf_counter()
            for _ in range(calls):
                decode()
            samples[name].append((time.perf_counter() - started) / calls * 1e6)
    return samples


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """Run the benchmark; ``quick`` decodes a 10-customer page a few times.

    The headline figures are for the compact page (the API's wire format); the target must
    hold for the pretty-printed page too.
    """
    count = 10 if quick else 100
    rounds = rounds or (2 if quick else 9)
    calls = 2 if quick else 40
    pages = {"compact": build_page(count, indent=None), "indent=2": build_page(count)}
    check(pages["compact"])
    samples = {form: time_decoders(body, rounds, calls) for form, body in pages.items()}
    names = list(samples["compact"])

    def paired(form: str, name: str) -> float:
        """Median over the rounds of (``name``'s time / ours) in the same round."""
        ours = samples[form][names[0]]
        return median([b / a for a, b in zip(ours, samples[form][name], strict=True)])

    def ratios(form: str) -> tuple[float, float, float]:
        return paired(form, names[1]), paired(form, names[2]), paired(form, names[3])

    verdicts = {form: ratios(form) for form in pages}
    met = all(vendor >= 8.0 and untyped >= 1.0 for vendor, _, untyped in verdicts.values())
    sizes = {form: f"{len(body) / 1000:.0f} KB" for form, body in pages.items()}
    ours, vendor, loads, untyped = (
        Figure(name, samples["compact"][name], "µs",
               note=f"indent=2 page: {median(samples['indent=2'][name]):,.0f} µs")
        for name in names
    )  # fmt: skip
    ours.name = f"ours (msgspec typed), compact {sizes['compact']} page"
    table = [
        f"| {name} | {median(samples['compact'][name]):,.0f} |"
        f" {median(samples['indent=2'][name]):,.0f} |"
        f" {paired('compact', name):.2f}x | {paired('indent=2', name):.2f}x |"
        for name in names
    ]
    details = "\n".join(
        [
            f"Page: {count} customers; compact {len(pages['compact']):,} bytes, indent=2"
            f" {len(pages['indent=2']):,} bytes. {rounds} rounds of {calls} decodes each,"
            " decoders interleaved; median µs per decode, and the median over the rounds of"
            " each decoder's time / ours in the same round:",
            "",
            "| decoder | compact page | indent=2 page | / ours (compact) | / ours (indent=2) |",
            "|---|---|---|---|---|",
            *table,
        ]
    )
    compact, pretty = verdicts["compact"], verdicts["indent=2"]
    return BenchResult(
        key=KEY,
        title=TITLE,
        command="python -m benchmarks --only decode",
        ours=ours,
        peers=[vendor, loads, untyped],
        ratios=[
            f"compact: {compact[0]:.1f}x faster than the vendor SDK, {compact[1]:.1f}x"
            f" faster than json.loads, {compact[2]:.2f}x the speed of untyped msgspec",
            f"indent=2 ({sizes['indent=2']}): {pretty[0]:.1f}x the vendor SDK, {pretty[1]:.1f}x"
            f" json.loads, {pretty[2]:.2f}x untyped msgspec",
        ],
        target=TARGET + " (on both pages)",
        met=met,
        details=details,
        chart={
            "kind": "bar",
            "unit": "µs per page (lower is better)",
            "values": {
                f"{name.split(' (')[0]}, {form}": median(samples[form][name])
                for name in names
                for form in pages
            },
        },
    )
