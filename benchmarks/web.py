"""A web app awaiting the client in its request handlers: ours against raw aiohttp.

Usage::

    python benchmarks/web.py [--quick] [--rounds 3]

Our users' first use of the client. Two FastAPI apps with the same two endpoints,
``GET /customers/{id}`` and ``GET /customers?ids=a,b,c`` (20 lookups in flight), each
served by uvicorn in a subprocess of its own (one worker, ``--no-access-log``, uvloop when
installed, on a free loopback port):

- ours, ``examples.fastapi_app``: one ``AsyncVoucherify`` opened by
  ``contrib.starlette.lifespan(deadline=2.0, retry=RetryPolicy.request_path())``,
  ``get`` and ``get_many(ids, concurrency=20)``, and ``add_error_handlers`` (503 with
  ``Retry-After`` on the API's rate limit, 504 on a timeout, 502 on an upstream failure);
- raw, ``benchmarks._web_raw_app``: one ``aiohttp.ClientSession`` opened by the lifespan,
  ``msgspec.json.decode(body, type=Customer)`` (the same typed work), ``asyncio.gather``
  with a ``Semaphore(20)``; 404 for a missing customer, 500 for any other failure.

Both talk to one emulator in its own process (``Emulator(mode="process")``), seeded with
1,000 customers, answering after 20 ms plus a uniform 0-10 ms. The load is Debian's
``wrk`` (C; ``scripts/ensure-wrk.sh`` installs it) with a Lua script drawing random ids,
64 connections, one thread; its ``done()`` hook reports the requests, the non-2xx answers
and the latency percentiles, its ``response()`` hook (rate-limit row only) counts the
answers by status and ``Retry-After``. Rows:

1. ``/customers/{id}``: requests per second, ours over raw (target >= 0.95x), and p99;
2. ``/customers?ids=`` with 20 random ids: the same (target >= 0.95x);
3. 5% of the API's answers a 503 (``error_rate=0.05, error_statuses=[503]``): p95 and
   p99 of each app, and the share of web requests answered non-2xx (ours retries once,
   quickly; raw passes the failure on);
4. the API's rate limit (200 requests per 60 s, a fixed window opened by the turn's first
   request, made fresh for each app): the share of web requests answered 200, 503 with
   ``Retry-After`` and otherwise, and the longest web request (ours must stay within its
   2 s deadline plus a little).

Rows 1-3 run in rounds; every round times each app once (ours first, then raw; the
other way round every other round) for the same seconds, so a pair sees the same state
of a busy machine; ratios are medians of the per-round ratios with their min and max. In
rows 1-3 the rate limit is out of reach (10^9 per minute). Each turn also reads the app
process's CPU time (psutil) and the emulator's request counters, and divides both by the
web requests the app served: wrk's completed ones plus the 64 it leaves in flight at its
end (the app finishes them; the next turn starts once the emulator's counters are still).
On 2 cores the app, the emulator and wrk share the machine, so the app's CPU per request
is what bounds its requests per second. Quick (``--quick``): one round of 2 s turns.
Every subprocess has a timeout; every app is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: python benchmarks/web.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import ROOT, BenchResult, Figure, median
from benchmarks._peers import (
    available_loops,
    loop_names,
    paired,
    pin_clients,
    pin_server,
    show_paired,
)
from voucherify_async.emulator import Emulator

KEY = "web"
OURS, RAW = "ours (examples.fastapi_app)", "raw aiohttp app (same endpoints, same decode)"
APPS = {OURS: "examples.fastapi_app:app", RAW: "benchmarks._web_raw_app:app"}
CONNECTIONS = 64
CUSTOMERS = 1_000
MANY = 20  # ids per /customers?ids= request
LATENCY_MS, JITTER_MS = 20.0, 10.0
UNLIMITED = 1_000_000_000  # requests per minute: out of reach in rows 1-3
ERROR_RATE = 0.05
LIMIT, PERIOD = 200, 60.0
DEADLINE = 2.0  # examples.fastapi_app's
SLACK = 0.5  # what the longest request may take beyond the deadline
GOAL = 0.95
T = TypeVar("T")

# The wrk script: random ids, counters by status (when `count` is on) and one JSON line.
LUA = """
local ids = {%(ids)s}
local n = #ids
local per = %(per)d
local count = %(count)s
local threads = {}
local created = 0

function setup(thread)
  created = created + 1
  thread:set("tid", created)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  ok, limited, limited_retry_after, other = 0, 0, 0, 0
end

function request()
  if per == 0 then
    return wrk.format("GET", "/customers/" .. ids[math.random(n)])
  end
  local parts = {}
  for i = 1, per do
    parts[i] = ids[math.random(n)]
  end
  return wrk.format("GET", "/customers?ids=" .. table.concat(parts, ","))
end

if count then
  function response(status, headers, body)
    if status == 200 then
      ok = ok + 1
    elseif status == 503 then
      limited = limited + 1
      if headers["retry-after"] or headers["Retry-After"] then
        limited_retry_after = limited_retry_after + 1
      end
    else
      other = other + 1
    end
  end
end

function done(summary, latency, requests)
  local sums = {ok = 0, limited = 0, limited_retry_after = 0, other = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(sums) do
      sums[name] = sums[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WEB_RESULT {"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "connect": %%d,'
    .. ' "read": %%d, "write": %%d, "timeout": %%d, "p50_us": %%d, "p95_us": %%d,'
    .. ' "p99_us": %%d, "max_us": %%d, "ok": %%d, "limited": %%d,'
    .. ' "limited_retry_after": %%d, "other": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    sums.ok, sums.limited, sums.limited_retry_after, sums.other))
end
"""


def _sync(work: Awaitable[T], timeout: float = 120) -> T:
    """Run one emulator control call to completion, bounded."""

    async def bounded() -> T:
        return await asyncio.wait_for(work, timeout)

    return asyncio.run(bounded())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_loop() -> str:
    """The event loop uvicorn runs the apps on: uvloop (uvicorn's choice) when installed."""
    loops = [name for name in loop_names() if name in available_loops()]
    return "uvloop" if "uvloop" in loops else "asyncio"


def http_parser() -> str:
    """The HTTP parser uvicorn picks: httptools when installed, else h11."""
    try:
        import httptools  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


@dataclass(frozen=True)
class App:
    """A running app: its base URL and its process id."""

    url: str
    pid: int

    def cpu(self) -> float:
        """The CPU seconds (user + system) its process has used so far."""
        import psutil  # type: ignore[import-untyped,unused-ignore]

        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)


@contextlib.contextmanager
def serve(target: str, env: dict[str, str], logs: Path, probe: str) -> Iterator[App]:
    """Run ``uvicorn target`` in a subprocess; yields it once ``probe`` answers 200."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--log-level",
        "warning",
        "--loop",
        server_loop(),
        "--app-dir",
        str(ROOT),
    ]
    with logs.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}: {_tail(logs)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{target} did not answer within 60 s: {_tail(logs)}")
            try:
                with urllib.request.urlopen(url + probe, timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        yield App(url, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


def wrk(url: str, script: Path, seconds: float, timeout_s: float) -> dict[str, Any]:
    """One wrk run against ``url``: the figures its script's ``done()`` printed."""
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(CONNECTIONS),
        "-d",
        f"{seconds:g}s",
        "--latency",
        "--timeout",
        f"{timeout_s:g}s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WEB_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("WEB_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stderr[-500:]}")
    result["seconds"] = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / result["seconds"]
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return result


def _script(directory: Path, name: str, ids: list[str], per: int, count: bool) -> Path:
    path = directory / f"{name}.lua"
    quoted = ",".join(f'"{i}"' for i in ids)
    path.write_text(LUA % {"ids": quoted, "per": per, "count": str(count).lower()}, "utf-8")
    return path


def _counts(emu: Emulator) -> tuple[int, int, int]:
    """The emulator's counters: /v1 requests, 429s, injected errors."""
    stats = _sync(emu.stats())
    faults = sum(int(v) for k, v in stats["faults"].items() if k != "latency")
    return int(stats["requests_total"]), int(stats["by_status"].get("429", 0)), faults


def _quiet(emu: Emulator, limit: float = 10.0) -> tuple[int, int, int]:
    """The counters once the API calls of the web requests wrk left in flight are done.

    wrk stops with up to 64 requests in flight (1,280 API calls with 20 ids each); they
    would count, and spend CPU, in the next turn. Polled until still for 0.25 s (at most
    ``limit`` seconds).
    """
    counts = _counts(emu)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = _counts(emu)
        if now == counts:
            break
        counts = now
    return counts


def _turn(
    emu: Emulator, app: App, script: Path, seconds: float, timeout_s: float = 10.0
) -> dict[str, Any]:
    """One app's turn: a wrk run, the API calls the app made and the CPU it used."""
    before = _quiet(emu)
    cpu = app.cpu()
    result = wrk(app.url, script, seconds, timeout_s)
    after = _quiet(emu)
    # The app also serves the requests wrk leaves in flight at its end (one a connection).
    result["served"] = result["requests"] + CONNECTIONS
    result["cpu_us"] = (app.cpu() - cpu) * 1e6 / result["served"]
    result["upstream"], result["upstream_429"], result["upstream_faults"] = (
        a - b for a, b in zip(after, before, strict=True)
    )
    return result


def measure(
    *, seconds: float, rounds: int, limited_seconds: float, warm: float
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every row's turns: ``{row: {app: [wrk result per round]}}``."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: sh scripts/ensure-wrk.sh (Debian: apt-get install wrk)")
    pin_clients()  # with --pin: this process, the apps and wrk off the emulator's core
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-web-") as tmp,
        Emulator(
            mode="process",
            latency_ms=LATENCY_MS,
            jitter_ms=JITTER_MS,
            rate_limit=UNLIMITED,
            rate_limit_period=PERIOD,
        ) as emu,
    ):
        process = getattr(emu, "_process", None)
        if process is not None:
            pin_server(process.pid)
        _sync(emu.seed_customers(CUSTOMERS))
        ids = _sync(emu.customer_ids())
        directory = Path(tmp)
        one = _script(directory, "one", ids, 0, count=False)
        many = _script(directory, "many", ids, MANY, count=False)
        counted = _script(directory, "counted", ids, 0, count=True)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(emu.env, PYTHONPATH=str(ROOT))
        probe = f"/customers/{ids[0]}"
        with (
            serve(APPS[OURS], env, directory / "ours.log", probe) as ours,
            serve(APPS[RAW], env, directory / "raw.log", probe) as raw,
        ):
            apps = {OURS: ours, RAW: raw}
            for served in apps.values():
                for script in (one, many):
                    wrk(served.url, script, warm, 10)
                    _quiet(emu)
            for row, script in (("one", one), ("many", many), ("faults", one)):
                if row == "faults":
                    _sync(emu.configure(error_rate=ERROR_RATE, error_statuses=[503], fault_seed=1))
                rows[row] = {app: [] for app in apps}
                for i in range(rounds):
                    order = list(apps) if i % 2 == 0 else list(reversed(apps))
                    for app in order:
                        rows[row][app].append(_turn(emu, apps[app], script, seconds))
                        print(
                            f"[web] {row} {app}: {_brief(rows[row][app][-1])}",
                            file=sys.stderr,
                            flush=True,
                        )
            _sync(emu.configure(error_rate=0.0))
            rows["limited"] = {}
            for app, served in apps.items():
                # A fresh window for each app: the first LIMIT requests pass, then 429s.
                _sync(emu.configure(rate_limit=LIMIT, rate_limit_period=PERIOD))
                rows["limited"][app] = [_turn(emu, served, counted, limited_seconds, 30.0)]
                print(
                    f"[web] limited {app}: {_brief(rows['limited'][app][-1])}",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def _brief(r: dict[str, Any]) -> str:
    return (
        f"{r['rps']:,.0f} req/s, p99 {r['p99_us'] / 1000:.1f} ms, max {r['max_us'] / 1e6:.2f} s,"
        f" non-2xx {r['non_2xx']}/{r['requests']}, socket errors {r['errors']},"
        f" app CPU {r['cpu_us']:.0f} us a request,"
        f" API calls {r['upstream']} (429s {r['upstream_429']}, faults {r['upstream_faults']})"
    )


def _ms(turns: list[dict[str, Any]], key: str) -> list[float]:
    return [t[key] / 1000 for t in turns]


def _share(t: dict[str, Any], key: str = "non_2xx") -> float:
    return float(t[key]) / max(int(t["requests"]), 1)


def _calls(turns: list[dict[str, Any]]) -> float:
    return median([t["upstream"] / t["served"] for t in turns])


def _cpu(turns: list[dict[str, Any]]) -> float:
    """The app's CPU time per web request, µs (median over the turns)."""
    return median([t["cpu_us"] for t in turns])


def _table(turns: dict[str, list[dict[str, Any]]]) -> str:
    rps = {app: [t["rps"] for t in ts] for app, ts in turns.items()}
    lines = [
        "| app | req/s per round | median | / raw's (paired: median, min-max) | p50 ms | p95 ms"
        " | p99 ms | max ms | non-2xx | socket errors | API calls per web request"
        " | app CPU per web request, µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for app, ts in turns.items():
        lines.append(
            f"| {app} | {', '.join(f'{x:,.0f}' for x in rps[app])} | {median(rps[app]):,.0f}"
            f" | {show_paired(paired(rps[app], rps[RAW]))} | {median(_ms(ts, 'p50_us')):.1f}"
            f" | {median(_ms(ts, 'p95_us')):.1f} | {median(_ms(ts, 'p99_us')):.1f}"
            f" | {max(_ms(ts, 'max_us')):.0f}"
            f" | {median([_share(t) for t in ts]):.2%} | {sum(t['errors'] for t in ts)}"
            f" | {_calls(ts):.2f} | {_cpu(ts):.0f} |"
        )
    return "\n".join(lines)


def _setup(seconds: float, rounds: int) -> str:
    return (
        f"Emulator in its own process: {CUSTOMERS:,} customers, {LATENCY_MS:.0f} ms + 0-"
        f"{JITTER_MS:.0f} ms a request. Apps: uvicorn, one worker, `--no-access-log`, loop"
        f" {server_loop()}, HTTP parser {http_parser()}. Load: wrk, {CONNECTIONS} connections,"
        f" one thread, random ids. {rounds} round(s) of {seconds:g} s per app, the apps taking"
        " turns (the other way round every other round); ratios pair the turns."
    )


def _throughput_row(
    key: str,
    what: str,
    turns: dict[str, list[dict[str, Any]]],
    seconds: float,
    rounds: int,
    first: bool,
    extra: str = "",
) -> BenchResult:
    rps = {app: [t["rps"] for t in ts] for app, ts in turns.items()}
    ratio = paired(rps[OURS], rps[RAW])
    p99 = {app: median(_ms(ts, "p99_us")) for app, ts in turns.items()}
    bad = {app: sum(t["non_2xx"] + t["errors"] for t in ts) for app, ts in turns.items()}
    pairs = zip(turns[OURS], turns[RAW], strict=True)
    cpu_ratio = median([ours["cpu_us"] / raw["cpu_us"] for ours, raw in pairs])
    details = [_setup(seconds, rounds)] if first else []
    details += [f"`{what}`{extra}:", _table(turns)]
    return BenchResult(
        key=key,
        title=f"A FastAPI app awaiting the client: `{what}`{extra}, 64 connections, API 20-30 ms",
        command=f"python -m benchmarks --only {KEY}",
        ours=Figure(OURS, rps[OURS], "req/s", note=f"p99 {p99[OURS]:.1f} ms"),
        peers=[Figure(RAW, rps[RAW], "req/s", note=f"p99 {p99[RAW]:.1f} ms")],
        ratios=[
            f"{show_paired(ratio)} raw's requests per second",
            f"p99 {p99[OURS]:.1f} ms, raw {p99[RAW]:.1f} ms ({p99[OURS] / p99[RAW]:.2f}x)",
            f"app CPU per web request: ours {_cpu(turns[OURS]):.0f} µs, raw"
            f" {_cpu(turns[RAW]):.0f} µs ({cpu_ratio:.2f}x)",
            f"API calls per web request: ours {_calls(turns[OURS]):.2f}, raw"
            f" {_calls(turns[RAW]):.2f}",
        ],
        target=f"at least {GOAL:.2f}x the requests per second of the raw aiohttp app;"
        " every answer a 200",
        met=ratio[0] >= GOAL and not any(bad.values()),
        details="\n\n".join(details),
        chart={
            "kind": "bar",
            "unit": f"web requests per second, {what}{extra} (higher is better)",
            "values": {app: median(values) for app, values in rps.items()},
            "labels": {app: f"p99 {p99[app]:.0f} ms" for app in rps},
        }
        if first
        else {},
    )


def _faults_row(turns: dict[str, list[dict[str, Any]]]) -> BenchResult:
    p95 = {app: _ms(ts, "p95_us") for app, ts in turns.items()}
    p99 = {app: _ms(ts, "p99_us") for app, ts in turns.items()}
    share = {app: median([_share(t) for t in ts]) for app, ts in turns.items()}
    longest = {app: max(_ms(ts, "max_us")) for app, ts in turns.items()}
    rps = {app: [t["rps"] for t in ts] for app, ts in turns.items()}
    return BenchResult(
        key=f"{KEY}_faults",
        title="A FastAPI app awaiting the client: `/customers/{id}`, 5% of the API's answers a 503",
        command=f"python -m benchmarks --only {KEY}",
        ours=Figure(
            f"{OURS}, p99",
            p99[OURS],
            "ms",
            note=f"p95 {median(p95[OURS]):.1f} ms, non-2xx {share[OURS]:.2%}",
        ),
        peers=[
            Figure(
                f"{RAW}, p99",
                p99[RAW],
                "ms",
                note=f"p95 {median(p95[RAW]):.1f} ms, non-2xx {share[RAW]:.2%}",
            )
        ],
        ratios=[
            f"web requests answered non-2xx: ours {share[OURS]:.2%}, raw {share[RAW]:.2%}",
            f"p95 ours / raw: {show_paired(paired(p95[OURS], p95[RAW]))}",
            f"p99 ours / raw: {show_paired(paired(p99[OURS], p99[RAW]))}",
            f"longest: ours {longest[OURS]:.0f} ms, raw {longest[RAW]:.0f} ms",
            f"requests per second ours / raw: {show_paired(paired(rps[OURS], rps[RAW]))}",
            f"API calls per web request: ours {_calls(turns[OURS]):.3f}, raw"
            f" {_calls(turns[RAW]):.3f}",
        ],
        target="at most a quarter of raw's share of web requests answered non-2xx (one quick"
        " retry, `RetryPolicy.request_path()`); the longest within the 2 s deadline",
        met=share[OURS] <= share[RAW] / 4 and longest[OURS] <= (DEADLINE + SLACK) * 1000,
        details="\n\n".join(
            [
                f"`error_rate={ERROR_RATE}, error_statuses=[503]`: each API request answered 503"
                " with that chance (a JSON error, no `Retry-After`). Ours retries once after"
                " 25-50 ms (no more than one call in ten); raw answers 500.",
                _table(turns),
            ]
        ),
    )


def _limited_row(turns: dict[str, list[dict[str, Any]]], seconds: float) -> BenchResult:
    ours, raw = turns[OURS][0], turns[RAW][0]

    def shares(t: dict[str, Any]) -> dict[str, float]:
        counted = max(t["ok"] + t["limited"] + t["other"], 1)
        return {
            "200": t["ok"] / counted,
            "503 with Retry-After": t["limited_retry_after"] / counted,
            "503 without": (t["limited"] - t["limited_retry_after"]) / counted,
            "other": t["other"] / counted,
        }

    def show(t: dict[str, Any]) -> str:
        parts = ", ".join(f"{k} {v:.1%}" for k, v in shares(t).items())
        return (
            f"{parts} of {t['requests']:,} web requests; longest {t['max_us'] / 1e6:.2f} s;"
            f" {t['upstream']:,} API calls ({t['upstream_429']:,} answered 429)"
        )

    s_ours, s_raw = shares(ours), shares(raw)
    clean = s_ours["200"] + s_ours["503 with Retry-After"]
    rows = [
        "| app | web requests | req/s | 200 | 503 with Retry-After | 503 without | other"
        " | p50 ms | p99 ms | longest s | wrk timeouts and socket errors | API calls | API 429s"
        " | app CPU per web request, µs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for app, t in ((OURS, ours), (RAW, raw)):
        s = shares(t)
        rows.append(
            f"| {app} | {t['requests']:,} | {t['rps']:,.0f} | {s['200']:.1%}"
            f" | {s['503 with Retry-After']:.1%} | {s['503 without']:.1%} | {s['other']:.1%}"
            f" | {t['p50_us'] / 1000:.1f} | {t['p99_us'] / 1000:.1f} | {t['max_us'] / 1e6:.2f}"
            f" | {t['errors']} | {t['upstream']:,} | {t['upstream_429']:,} | {t['cpu_us']:.0f} |"
        )
    return BenchResult(
        key=f"{KEY}_rate_limit",
        title=f"A FastAPI app awaiting the client: `/customers/{{id}}` under the API's rate"
        f" limit ({LIMIT} per {PERIOD:.0f} s)",
        command=f"python -m benchmarks --only {KEY}",
        ours=Figure(
            f"{OURS}, answered 503 with Retry-After",
            [s_ours["503 with Retry-After"] * 100],
            "%",
            note=f"200: {s_ours['200']:.1%}; longest {ours['max_us'] / 1e6:.2f} s",
        ),
        peers=[
            Figure(
                f"{RAW}, answered 500",
                [s_raw["other"] * 100],
                "%",
                note=f"200: {s_raw['200']:.1%}; longest {raw['max_us'] / 1e6:.2f} s",
            ),
            Figure(f"{OURS}, longest web request", [ours["max_us"] / 1e6], "s"),
            Figure(f"{RAW}, longest web request", [raw["max_us"] / 1e6], "s"),
        ],
        ratios=[f"ours: {show(ours)}", f"raw: {show(raw)}"],
        target="every web request of ours answered 200 or 503 with Retry-After; the longest"
        f" within the {DEADLINE:g} s deadline + {SLACK:g} s",
        met=clean >= 0.999 and ours["errors"] == 0 and ours["max_us"] / 1e6 <= DEADLINE + SLACK,
        details="\n\n".join(
            [
                f"Rate limit {LIMIT} requests per {PERIOD:.0f} s (a fixed window; the emulator's"
                " limiter made fresh before each app's turn, so each spends the same budget),"
                f" {CONNECTIONS} connections for {seconds:g} s per app, wrk counting each answer"
                " by status and `Retry-After` (its `--timeout` 30 s, so a slow answer is timed,"
                " not dropped).",
                "\n".join(rows),
            ]
        ),
    )


def run(quick: bool = False, rounds: int | None = None) -> list[BenchResult]:
    """The benchmark runner's entry (``python -m benchmarks --only web``); four rows."""
    seconds, limited_seconds, warm = (2.0, 3.0, 1.0) if quick else (7.0, 10.0, 2.0)
    rounds = rounds or (1 if quick else 3)
    turns = measure(seconds=seconds, rounds=rounds, limited_seconds=limited_seconds, warm=warm)
    return [
        _throughput_row(KEY, "/customers/{id}", turns["one"], seconds, rounds, first=True),
        _throughput_row(
            f"{KEY}_many",
            "/customers?ids=",
            turns["many"],
            seconds,
            rounds,
            first=False,
            extra=f" with {MANY} ids",
        ),
        _faults_row(turns["faults"]),
        _limited_row(turns["limited"], limited_seconds),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rows and print them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    for result in run(quick=args.quick, rounds=args.rounds):
        print(f"## {result.title}\n")
        print("\n".join(result.ratios), end="\n\n")
        print(result.details, end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
