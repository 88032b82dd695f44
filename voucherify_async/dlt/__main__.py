"""``python -m voucherify_async.dlt``: load customers into a DuckDB file (or any dlt
destination, ``--to``) and count them.

With ``--emulator N`` it starts a local emulator seeded with ``N`` customers and loads
those; otherwise it loads from the API that ``$VOUCHERIFY_BASE_URL``,
``$VOUCHERIFY_APP_ID`` and ``$VOUCHERIFY_APP_TOKEN`` name. The options and the load are
those of ``voucherify-async load`` (``voucherify_async.tools.cli``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from ..tools._argparse import OneLineParser, at_least
from ..tools._dlt_load import add_arguments, run

__all__ = ["main"]


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog="python -m voucherify_async.dlt",
        description="Load Voucherify customers into a DuckDB file, or another destination"
        " dlt knows, with dlt, then count them.",
    )
    add_arguments(parser)
    parser.add_argument(
        "--emulator",
        type=at_least(0),
        metavar="N",
        default=None,
        help="start a local emulator seeded with N customers and load from it",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.emulator is None:
        return run(args, sys.stdout, sys.stderr)
    from ..emulator import Emulator

    with Emulator(mode="thread") as emulator:
        asyncio.run(emulator.seed_customers(args.emulator))
        return run(
            args,
            sys.stdout,
            sys.stderr,
            lambda: {
                "app_id": emulator.app_id,
                "app_token": emulator.app_token,
                "base_url": emulator.url,
            },
        )


if __name__ == "__main__":
    raise SystemExit(main())
