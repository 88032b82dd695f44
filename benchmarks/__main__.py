"""Run the benchmarks and write ``docs/benchmarks/results.md`` and ``chart.png``.

Usage::

    python -m benchmarks                      # everything, full size (several minutes)
    python -m benchmarks --only decode        # one benchmark (repeatable)
    python -m benchmarks --quick              # tiny sizes, written under build/ by default
    python -m benchmarks --rounds 3 --out /tmp/bench
    python -m benchmarks --report-only        # rewrite results.md and chart.png from the JSON
    python -m benchmarks --loop uvloop        # one event loop only (default: both, each round)

``--only`` keeps the other rows of an earlier run in the report (each row says when it was
measured). The vendor SDK, httpx, matplotlib and psutil come from the ``bench`` extra:
``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _report
from ._common import ROOT, bench_extra_missing, busy_processes, machine
from ._peers import placement
from ._runner import BENCHMARKS, run_isolated, run_one, write

__all__ = ["main", "run_one", "write"]

DOCS = ROOT / "docs" / "benchmarks"
QUICK_OUT = ROOT / "build" / "benchmarks-quick"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmarks, write the report; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check it works")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per benchmark")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every benchmark in this process (default: a fresh one each)",
    )
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop", "both"),
        default="both",
        help="event loop(s) of the HTTP benchmarks; both: each in every round",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run the servers on the last core and the clients on the others, as a remote"
        " API would be (Linux; by default the kernel places them)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite results.md and chart.png from results.json; run nothing",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 if a target is missed"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"report directory (default {DOCS.relative_to(ROOT)}, or"
        f" {QUICK_OUT.relative_to(ROOT)} with --quick)",
    )
    args = parser.parse_args(argv)  # fmt: skip

    out = args.out or (QUICK_OUT if args.quick else DOCS)
    if args.report_only:
        data = _report.load(out / "results.json")
        _report.write_markdown(data, out / "results.md")
        _report.write_chart(data, out / "chart.png")
        print(f"[bench] rewrote {out / 'results.md'} and {out / 'chart.png'}", flush=True)
        return 0
    missing = bench_extra_missing()
    if missing:
        print(f"missing packages of the bench extra: {', '.join(missing)};"
              " run: pip install -e '.[bench]'", file=sys.stderr)  # fmt: skip
        return 2
    # Read by the benchmarks (and so by their child processes) through _peers.loop_names().
    os.environ["VOUCHERIFY_BENCH_LOOP"] = args.loop
    os.environ["VOUCHERIFY_BENCH_PIN"] = "1" if args.pin else "0"
    names = args.only or list(BENCHMARKS)
    measured_at = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    facts = machine()
    facts["other processes busy at start (>10% of a core)"] = busy_processes()
    facts["placement"] = placement()
    records: list[dict[str, Any]] = []
    for name in names:
        print(f"[bench] {name} ...", flush=True)
        started = time.perf_counter()
        run = run_one if args.in_process else run_isolated
        for result in run(name, quick=args.quick, rounds=args.rounds):
            records.append(_report.to_dict(result, measured_at, args.quick))
            verdict = "met" if result.met else "MISSED"
            print(f"[bench]   {result.key}: ours {result.ours.show()};"
                  f" {'; '.join(result.ratios)} -> target {verdict}", flush=True)  # fmt: skip
        print(f"[bench]   ({time.perf_counter() - started:.1f} s)", flush=True)
    if hasattr(os, "getloadavg"):
        facts["load average at end (1, 5, 15 min)"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    facts["other processes busy at end (>10% of a core)"] = busy_processes()
    command = "python -m benchmarks" + (" " + " ".join(argv) if argv else "")
    if argv is None and sys.argv[1:]:
        command = "python -m benchmarks " + " ".join(sys.argv[1:])
    write(out, {"measured_at": measured_at, "command": command, "machine": facts}, records)
    print(f"[bench] wrote {out / 'results.md'} and {out / 'chart.png'}", flush=True)
    missed = [record["key"] for record in records if not record["met"]]
    if missed:
        print(f"[bench] targets missed: {', '.join(missed)}", flush=True)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
