"""The emulator at scale: seed 1,000,000 customers, then list pages with filters and cursors.

A thin wrapper over ``benchmarks/bench_emulator.py`` (its ``run`` and ``table``): the emulator
runs in a subprocess; for each store size (10k, 100k, 1M) it is reset and seeded, then every
listing query is timed over one keep-alive connection (median and p95 of ``repeat`` calls).

"Flat" is read as: for every query, the median at the largest size is within 1.5x of the
median at the reference size: 100,000 when the run goes beyond it, else the smallest size.
Not 10,000: there the query "city filter, page 10" (``city="City {i%100}"``, 100 a page)
answers an empty page, since each city has only 100 customers, so its latency is not that of
a full page. Both ratios are reported.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import bench_emulator
from ._common import BenchResult, Figure

KEY = "emulator"
TITLE = "emulator: seed 1,000,000 customers, then list pages with filters and cursors"
TARGET = "seeding under 60 s; page latency flat as the store grows (1M / 100k <= 1.5x)"
FLAT = 1.5
# The smallest store at which every query of bench_emulator answers a full page.
FULL_PAGES_FROM = 100_000


def run(quick: bool = False, rounds: int | None = None) -> BenchResult:
    """Run the benchmark; ``quick`` seeds 10,000 and 12,000 customers and times each query twice.

    ``rounds`` is the number of timed requests per query (``bench_emulator``'s ``repeat``).
    """
    count = 12_000 if quick else 1_000_000
    repeat = rounds or (2 if quick else 30)
    results: dict[int, dict[str, Any]] = asyncio.run(bench_emulator.run(count, repeat, "process"))
    sizes = sorted(results)
    reference = next((s for s in sizes if s >= FULL_PAGES_FROM), sizes[0])
    if reference == sizes[-1]:
        reference = sizes[0]
    largest = results[sizes[-1]]
    queries = [name for name in largest if name != "seed (s)"]

    def growth_from(size: int) -> dict[str, float]:
        return {name: largest[name][0] / results[size][name][0] for name in queries}

    growth = growth_from(reference)
    from_smallest = growth_from(sizes[0])
    worst = max(growth, key=lambda name: growth[name])
    seed_seconds = float(largest["seed (s)"])
    ours = Figure(f"seed {sizes[-1]:,}", [seed_seconds], "s")
    pages = [Figure(f"{name} @ {sizes[-1]:,}", [float(largest[name][0])], "ms") for name in queries]
    flat = len(sizes) == 1 or growth[worst] <= FLAT
    details = "\n".join(
        [
            f"Store sizes {', '.join(f'{s:,}' for s in sizes)}; {repeat} timed requests per"
            " query (median / p95 ms, HTTP round trip included); emulator in a subprocess.",
            "",
            bench_emulator.table(results),
            "",
            f"Median latency at {sizes[-1]:,} / at {reference:,}: "
            + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in growth.items())
            + ".",
            "",
            f"Median latency at {sizes[-1]:,} / at {sizes[0]:,}: "
            + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in from_smallest.items())
            + ' (at 10,000 customers "city filter, page 10" is an empty page).',
        ]
    )
    return BenchResult(
        key=KEY,
        title=TITLE,
        command="python -m benchmarks --only emulator",
        ours=ours,
        peers=pages,
        ratios=[
            f"seeding {sizes[-1]:,}: {seed_seconds:.1f} s",
            f"page latency {sizes[-1]:,} vs {reference:,}: at most {growth[worst]:.2f}x ({worst})",
        ],
        target=TARGET,
        met=seed_seconds < 60 and flat,
        details=details,
        chart={
            "kind": "lines",
            "unit": "median page latency, ms",
            "sizes": sizes,
            "series": {name: [results[s][name][0] for s in sizes] for name in queries},
            "seed": [results[s]["seed (s)"] for s in sizes],
        },
    )
