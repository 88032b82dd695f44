"""``python -m voucherify_async.emulator``: serve the emulator until SIGINT/SIGTERM.

Prints the three settings a client needs, one per line, then serves::

    VOUCHERIFY_BASE_URL=http://127.0.0.1:8080
    VOUCHERIFY_APP_ID=emulator-app-id
    VOUCHERIFY_APP_TOKEN=emulator-app-token

``--port 0`` picks a free port; the printed URL has the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from ._app import create_app
from ._config import DEFAULT_APP_ID, DEFAULT_APP_TOKEN

__all__ = ["main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None, *, prog: str | None = None) -> argparse.Namespace:
    """Parse the command line.

    Example: ``parse_args(["--port", "0", "--seed", "10000"]).seed`` -> ``10000``.
    """
    parser = argparse.ArgumentParser(
        prog=prog or "python -m voucherify_async.emulator",
        description="A local, stateful emulator of the Voucherify Customers API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="customers to create at start")
    parser.add_argument(
        "--seed-activity", action="store_true", help="give seeded customers activity, redeemables"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="requests per period (default 1000000)"
    )
    parser.add_argument("--rate-limit-period", type=float, default=60.0, help="seconds")
    parser.add_argument(
        "--bulk-rate-limit", type=int, default=None, help="bulk requests per period (100000)"
    )
    parser.add_argument("--quota", type=int, default=None, help="billing-cycle quota of calls")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform extra latency")
    parser.add_argument("--app-id", default=DEFAULT_APP_ID)
    parser.add_argument("--app-token", default=DEFAULT_APP_TOKEN)
    parser.add_argument(
        "--starting-after",
        choices=("exclusive", "inclusive"),
        default="exclusive",
        help="how GET /v1/customers compares the starting_after cursor",
    )
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    parser.add_argument("--job-item-delay-ms", type=float, default=0.0, help="per bulk item")
    faults = parser.add_argument_group("faults (shares of /v1 requests, 0..1)")
    faults.add_argument("--error-rate", type=float, default=0.0, help="500/503 JSON answers")
    faults.add_argument("--drop-rate", type=float, default=0.0, help="dropped connections")
    faults.add_argument("--truncate-rate", type=float, default=0.0, help="bodies cut short")
    faults.add_argument("--html-rate", type=float, default=0.0, help="HTML gateway pages")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    app = create_app(
        app_id=args.app_id,
        app_token=args.app_token,
        rate_limit=args.rate_limit,
        rate_limit_period=args.rate_limit_period,
        bulk_rate_limit=args.bulk_rate_limit,
        quota=args.quota,
        seed_activity=args.seed_activity,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        starting_after_mode=args.starting_after,
        job_item_delay_ms=args.job_item_delay_ms,
        fault_seed=args.fault_seed,
        seed=args.seed,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        html_rate=args.html_rate,
    )
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Handlers first: whoever reads the URL below may stop the server at once.
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no add_signal_handler; Ctrl+C then arrives as KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        print(f"VOUCHERIFY_BASE_URL=http://{host}:{port}")
        print(f"VOUCHERIFY_APP_ID={args.app_id}")
        print(f"VOUCHERIFY_APP_TOKEN={args.app_token}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the emulator from the command line; returns the exit status."""
    args = parse_args(argv, prog=prog)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
