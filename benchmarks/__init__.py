"""Benchmarks of ``voucherify_async`` against the vendor's SDK, raw aiohttp and httpx.

Run them all with ``make bench`` or ``python -m benchmarks`` (``--quick`` for tiny sizes,
``--only NAME`` for one); the runner writes ``docs/benchmarks/results.md`` and
``docs/benchmarks/chart.png``. Each module holds one benchmark and exposes
``run(quick: bool, rounds: int | None) -> BenchResult``.
"""
