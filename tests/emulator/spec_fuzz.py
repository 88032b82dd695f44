"""Spec-driven property testing of a running emulator, with schemathesis.

schemathesis generates requests for every operation of the two reduced vendor OpenAPI
files in ``spec/``: valid ones (``positive``) and ones that break the schema
(``negative``). Each is sent over loopback to a running emulator, and the answer is held
to these properties:

- ``server_error``: never a 5xx;
- ``schema``: the body conforms to the response schema the spec documents for that
  status (the ``Error`` schema for an undocumented error status; see ``spec_helpers``);
- ``error_shape``: every 4xx is the API's error object, ``{code, key, message, ...}``
  with ``code`` equal to the status (a 413 is the spec's ``BadRequest`` with the
  documented message);
- ``logged_error``: the emulator logs no error (no traceback) while serving.

Two more kinds are tallied as findings, not failures, because the emulator's answer is a
deliberate choice there: ``accepted_invalid`` (a request that breaks the schema got a
2xx: unknown query parameters and empty values are ignored, as the API does, and a bulk
body's items are checked one by one inside the job) and ``rejected_valid`` (a request the
schema allows got a 400: the emulator checks what the API checks beyond the schema, such
as email addresses, non-empty ids, UTF-8 CSV files and the ``filters`` operators).

Operations with a ``{customerId}`` run twice: with generated ids (mostly unknown: 404s)
and with a seeded customer that has activity, segments and redeemables, so the 200
answers are walked too. Deleting operations run last.

Run it long from a shell (the ``make fuzz`` target)::

    python tests/emulator/spec_fuzz.py --examples 300 --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from emulator_helpers import Reply
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from spec_helpers import SPEC_DIR, SPEC_FILES, SpecValidator

from voucherify_async.emulator import Emulator

# emulator_helpers and spec_helpers sit beside this file: on sys.path when it runs as a
# script, and under pytest through the emulator tests' conftest.

# GenerationMode subclasses enum.StrEnum, missing from the Python 3.10 stubs mypy checks
# against, so its members type as str there.
MODES: tuple[GenerationMode, ...] = (  # type: ignore[assignment,unused-ignore]
    GenerationMode.POSITIVE,
    GenerationMode.NEGATIVE,
)
#: The violations that fail the suite.
HARD = ("server_error", "schema", "error_shape", "logged_error")
SEEDED_CUSTOMER = "seed-12"  # a multiple of every seeded campaign's step: the most data
PAYLOAD_TOO_LARGE = "Payload content length greater than maximum allowed: 10485760"


@dataclass
class RouteTally:
    """What one operation saw: requests per mode, statuses, violations by kind."""

    tried: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    violations: collections.Counter[str] = field(default_factory=collections.Counter)
    samples: list[str] = field(default_factory=list)

    def violate(self, kind: str, detail: str) -> None:
        """Count one violation and keep the first few for the report."""
        self.violations[kind] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{kind}: {detail[:400]}")


@dataclass
class Report:
    """Every route's tally."""

    routes: dict[str, RouteTally] = field(default_factory=dict)

    @property
    def tried(self) -> int:
        """Requests sent in all."""
        return sum(sum(t.tried.values()) for t in self.routes.values())

    @property
    def violations(self) -> int:
        """Violations that fail (``HARD``) found in all."""
        return sum(t.violations[kind] for t in self.routes.values() for kind in HARD)

    @property
    def findings(self) -> int:
        """Deliberate differences from the bare schema (see the module docstring)."""
        return sum(sum(t.violations.values()) for t in self.routes.values()) - self.violations

    def hard_samples(self) -> list[str]:
        """The kept samples of failing violations, labelled by route."""
        return [
            f"{label}: {sample}"
            for label, tally in self.routes.items()
            for sample in tally.samples
            if sample.split(":", 1)[0] in HARD
        ]

    def table(self) -> str:
        """One line per route: requests per mode, statuses seen, violations."""
        lines = []
        for label, tally in self.routes.items():
            statuses = ",".join(f"{s}x{n}" for s, n in sorted(tally.statuses.items()))
            hard = (
                ",".join(
                    f"{kind}={tally.violations[kind]}" for kind in HARD if tally.violations[kind]
                )
                or "0"
            )
            soft = ",".join(
                f"{kind}={n}" for kind, n in sorted(tally.violations.items()) if kind not in HARD
            )
            lines.append(
                f"{label:52} positive={tally.tried['positive']:5} "
                f"negative={tally.tried['negative']:5} violations={hard} findings[{soft}]"
                f" statuses[{statuses}]"
            )
            lines.extend(f"    {sample}" for sample in tally.samples)
        lines.append(
            f"total: {self.tried} requests, {self.violations} violations, {self.findings} findings"
        )
        return "\n".join(lines)


def _check(
    validator: SpecValidator,
    tally: RouteTally,
    method: str,
    route: str,
    mode: GenerationMode,
    status: int,
    headers: Any,
    text: str,
    sent: str,
) -> None:
    tally.statuses[status] += 1
    if status >= 500:
        tally.violate("server_error", f"{status} {sent} -> {text[:200]}")
        return
    if mode is GenerationMode.NEGATIVE and status < 400:
        tally.violate("accepted_invalid", f"{status} {sent}")
    if mode is GenerationMode.POSITIVE and status == 400:
        tally.violate("rejected_valid", f"{sent} -> {text[:200]}")
    if status == 204:
        if text:
            tally.violate("schema", f"204 with a body {text[:100]!r}")
        return
    try:
        body = json.loads(text)
    except ValueError:
        tally.violate("schema", f"{status} not JSON: {text[:100]!r} for {sent}")
        return
    if status >= 400:
        if status == 413:
            if not isinstance(body, dict) or body.get("message") != PAYLOAD_TOO_LARGE:
                tally.violate("error_shape", f"413 {body!r}"[:300])
        elif not (
            isinstance(body, dict)
            and body.get("code") == status
            and isinstance(body.get("key"), str)
            and isinstance(body.get("message"), str)
        ):
            tally.violate("error_shape", f"{status} {body!r} for {sent}")
    try:
        validator.check(method, route, Reply(status, headers, text))
    except AssertionError as exc:
        tally.violate("schema", f"{exc} for {sent}")


def _operations() -> Iterator[tuple[str, Any]]:
    ops = []
    for name in SPEC_FILES.values():
        schema = schemathesis.openapi.from_path(str(SPEC_DIR / name))
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            operation = result.ok()
            ops.append((operation.label, operation))
    # Deleting last, so the seeded customer is there for every reading operation.
    destructive = ("DELETE ", "permanent-deletion")
    ops.sort(key=lambda item: any(word in item[0] for word in destructive))
    yield from ops


def fuzz(emu: Emulator, *, examples: int, seed: int = 0, action_id: str | None = None) -> Report:
    """Send ``examples`` generated requests per operation, mode and id choice; tally them."""
    validator = SpecValidator()
    report = Report()
    errors = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        _fuzz(emu, report, validator, errors, examples=examples, seed=seed, action_id=action_id)
    finally:
        root.removeHandler(errors)
    return report


class _ErrorLog(logging.Handler):
    """Collects the error records logged while a request is served."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}"[:300])


def _fuzz(
    emu: Emulator,
    report: Report,
    validator: SpecValidator,
    errors: _ErrorLog,
    *,
    examples: int,
    seed: int,
    action_id: str | None,
) -> None:
    for label, operation in _operations():
        method, route = label.split(" ", 1)
        tally = report.routes.setdefault(label, RouteTally())
        fixed: list[dict[str, Any] | None] = [None]
        if "{customerId}" in route:
            # Each deleting operation gets a customer of its own, the others share one.
            victim = {"DELETE": "seed-10", "POST": "seed-11"}.get(method, SEEDED_CUSTOMER)
            fixed.append({"customerId": victim})
        if "{asyncActionId}" in route and action_id is not None:
            fixed.append({"asyncActionId": action_id})
        for mode in _modes(operation):
            for path_parameters in fixed:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                _run(strategy, examples, seed, emu, validator, tally, method, route, mode)
        for record in errors.records:
            tally.violate("logged_error", record)
        errors.records.clear()


def _modes(operation: Any) -> tuple[GenerationMode, ...]:
    # Negative cases need something to break besides the path id (a string takes any
    # value) and the credentials (always sent right): a query parameter or a body.
    breakable = len(list(operation.body)) > 0 or any(
        parameter.location.value == "query" for parameter in operation.iter_parameters()
    )
    return MODES if breakable else MODES[:1]


def _run(
    strategy: Any,
    examples: int,
    seed: int,
    emu: Emulator,
    validator: SpecValidator,
    tally: RouteTally,
    method: str,
    route: str,
    mode: GenerationMode,
) -> None:
    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def one(case: Any) -> None:
        tally.tried[mode.value] += 1
        response = case.call(base_url=emu.url, headers=emu.headers, timeout=30)
        sent = f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
        _check(validator, tally, method, route, mode, response.status_code,
               response.headers, response.text, sent[:300])  # fmt: skip

    # Unsatisfiable: no invalid value exists for what this operation takes.
    with contextlib.suppress(Unsatisfiable):
        one()


@contextlib.contextmanager
def seeded_emulator() -> Iterator[tuple[Emulator, str]]:
    """A thread-mode emulator with customers, activity, redeemables, a segment and a job.

    Yields the emulator and the id of a finished async action.
    """
    with Emulator(mode="thread", seed=60, seed_activity=True) as emu:
        asyncio.run(emu.seed_segment("Fuzzed", [SEEDED_CUSTOMER]))
        request = urllib.request.Request(
            emu.url + "/v1/customers/bulk/async",
            data=json.dumps([{"source_id": "fuzz-job"}]).encode(),
            headers={**emu.headers, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # loopback only
            action_id = json.loads(reply.read())["async_action_id"]
        yield emu, action_id


def main(argv: list[str] | None = None) -> int:
    """Fuzz a fresh emulator and print the per-route tally; 1 if anything was violated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="per operation, mode, id")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with seeded_emulator() as (emu, action_id):
        report = fuzz(emu, examples=args.examples, seed=args.seed, action_id=action_id)
    print(report.table())
    print(f"{time.monotonic() - started:.1f} s")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
