"""``python -m voucherify_async.dlt``: load customers into a DuckDB file and count them.

With ``--emulator N`` it starts a local emulator seeded with ``N`` customers and loads
those; otherwise it loads from the API that ``$VOUCHERIFY_BASE_URL``,
``$VOUCHERIFY_APP_ID`` and ``$VOUCHERIFY_APP_TOKEN`` name.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ConfigurationError
from ._load import count_rows, load, pipeline
from ._source import RESOURCES

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m voucherify_async.dlt",
        description="Load Voucherify customers into a DuckDB file with dlt, then count them.",
    )
    parser.add_argument(
        "--path", default="customers.duckdb", help="the DuckDB file (default: %(default)s)"
    )
    parser.add_argument(
        "--emulator",
        type=int,
        metavar="N",
        default=None,
        help="start a local emulator seeded with N customers and load from it",
    )
    parser.add_argument(
        "--resources",
        nargs="+",
        default=["customers"],
        choices=RESOURCES,
        help="what to load (default: customers)",
    )
    parser.add_argument(
        "--parallel", type=int, default=1, help="partitions streamed at once on a full load"
    )
    parser.add_argument(
        "--pipelines-dir",
        default=None,
        help="where dlt keeps its state (default: a .dlt folder next to the DuckDB file)",
    )
    return parser


def _run(args: argparse.Namespace, options: dict[str, Any]) -> int:
    path = Path(args.path)
    where = args.pipelines_dir or str(path.with_name(path.name + ".dlt"))
    info = load(
        pipeline(duckdb_path=path, pipelines_dir=where),
        resources=args.resources,
        parallel=args.parallel,
        **options,
    )
    print(info)
    sql, count = count_rows(path)
    print(f"{sql} -> {count}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    # dlt reports anonymous usage to its vendor unless told not to; this command does not.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    try:
        if args.emulator is None:
            return _run(args, {})
        from ..emulator import Emulator

        with Emulator(mode="thread") as emulator:
            asyncio.run(emulator.seed_customers(args.emulator))
            return _run(
                args,
                {
                    "app_id": emulator.app_id,
                    "app_token": emulator.app_token,
                    "base_url": emulator.url,
                },
            )
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
