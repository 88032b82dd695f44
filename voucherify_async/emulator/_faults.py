"""Fault injection for /v1 requests: random faults from a seeded RNG, and a script.

Kinds:

- ``latency``: wait before answering (``latency_ms`` + uniform ``jitter_ms`` always; a
  scripted entry adds its own ``latency_ms``), then answer normally;
- ``error``: a JSON error object with a 5xx (or any scripted) status;
- ``html``: a 502/503/504 ``text/html`` page like a proxy or load balancer sends;
- ``drop``: close the connection without any response;
- ``truncate``: status 200 with the full ``Content-Length``, only part of the body, then
  the connection closes;
- ``rate_limit`` (scripted only): a 429 with ``Retry-After``.

``drop``, ``error``, ``html`` and ``rate_limit`` are decided BEFORE the handler runs, so
the request changes no state (a dropped POST created nothing); ``truncate`` cuts the
response of a handler that did run. The script is a queue: each /v1 request takes the
first entry whose method and path prefix match, and an entry is used ``count`` times.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config import Settings, shown

__all__ = [
    "FAULT_FIELDS",
    "FAULT_KINDS",
    "FaultDecision",
    "FaultInjector",
    "ScriptedFault",
    "html_page",
    "parse_script",
]

#: The kinds a scripted fault may name.
FAULT_KINDS = ("error", "drop", "truncate", "html", "rate_limit", "latency")
#: The fields of a scripted fault (only ``kind`` is required).
FAULT_FIELDS = ("kind", "status", "method", "path", "count", "latency_ms", "retry_after")

_DEFAULT_STATUS = {"error": 500, "html": 502, "rate_limit": 429}

_HTML_PAGES = {
    502: (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ),
    503: (
        "<html><body><h1>503 Service Temporarily Unavailable</h1>\n"
        "No server is available to handle this request.\n</body></html>\n"
    ),
    504: (
        "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
        "<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ),
}


def html_page(status: int) -> str:
    """The HTML a gateway sends for ``status`` (nginx / load-balancer style)."""
    return _HTML_PAGES.get(
        status,
        f"<html><head><title>{status} Error</title></head>"
        f"<body><center><h1>{status} Error</h1></center><hr><center>nginx</center></body></html>\n",
    )


@dataclass
class ScriptedFault:
    """One scripted fault entry.

    Example: ``ScriptedFault.from_json({"kind": "drop", "method": "POST",
    "path": "/v1/customers", "count": 2})``.
    """

    kind: str
    status: int | None = None
    method: str | None = None
    path: str | None = None
    count: int = 1
    latency_ms: float = 1000.0
    retry_after: int = 1

    @classmethod
    def from_json(cls, data: Any) -> ScriptedFault:
        """Validate one entry of ``POST /_emulator/faults/script``.

        Raises ``ValueError`` naming the field at fault (``kind: must be one of ...``), or
        saying ``must be an object ...`` when the entry is not one.
        """
        if not isinstance(data, dict):
            raise ValueError(
                f'must be an object such as {{"kind": "error", "status": 503}}, got {shown(data)}'
            )
        unknown = [key for key in data if key not in FAULT_FIELDS]
        if unknown:
            raise ValueError(
                f"{unknown[0]}: unknown fault field; the fields are {', '.join(FAULT_FIELDS)}"
            )
        kind = data.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind: must be one of {', '.join(FAULT_KINDS)}, got {shown(kind)}")
        status = data.get("status")
        if status is not None and (not _is_int(status) or not 100 <= status <= 599):
            raise ValueError(f"status: must be an HTTP status code, got {shown(status)}")
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError(f"method: must be a string, got {shown(method)}")
        path = data.get("path")
        if path is not None and not isinstance(path, str):
            raise ValueError(
                f"path: must be a string (a path prefix such as /v1/customers), got {shown(path)}"
            )
        count = data.get("count", 1)
        if not _is_int(count) or count < 1:
            raise ValueError(f"count: must be a positive integer, got {shown(count)}")
        latency = data.get("latency_ms", 1000.0)
        if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
            raise ValueError(f"latency_ms: must be a non-negative number, got {shown(latency)}")
        retry_after = data.get("retry_after", 1)
        if not _is_int(retry_after) or retry_after < 0:
            raise ValueError(
                f"retry_after: must be a non-negative integer, got {shown(retry_after)}"
            )
        return cls(
            kind=kind,
            status=status,
            method=method.upper() if method else None,
            path=path,
            count=count,
            latency_ms=float(latency),
            retry_after=retry_after,
        )

    def matches(self, method: str, path: str) -> bool:
        """Whether this entry applies to a request."""
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or path.startswith(self.path)

    def to_json(self) -> dict[str, Any]:
        """The entry as ``GET /_emulator/faults/script`` shows it."""
        return {
            "kind": self.kind,
            "status": self.status,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
        }


@dataclass
class FaultDecision:
    """What to do to one request: wait ``delay_s``, then maybe fault with ``kind``."""

    delay_s: float = 0.0
    kind: str | None = None
    status: int = 200
    retry_after: int = 1


class FaultInjector:
    """Decides, request by request, which fault (if any) to inject.

    Example::

        injector = FaultInjector(Settings(drop_rate=0.5, fault_seed=1))
        injector.decide("GET", "/v1/customers").kind   # 'drop' or None
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.script: list[ScriptedFault] = []
        self._rng = random.Random(settings.fault_seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the random sequence (``None`` seeds from the OS)."""
        self._rng = random.Random(seed)

    def add_script(self, entries: list[ScriptedFault]) -> None:
        """Append entries to the script queue."""
        self.script.extend(entries)

    def decide(self, method: str, path: str) -> FaultDecision:
        """Pick the fault for one /v1 request (consuming a script entry if one matches)."""
        settings = self.settings
        decision = FaultDecision(delay_s=settings.latency_ms / 1000.0)
        if settings.jitter_ms > 0:
            decision.delay_s += self._rng.uniform(0.0, settings.jitter_ms) / 1000.0
        entry = self._take(method, path)
        if entry is not None:
            if entry.kind == "latency":
                decision.delay_s += entry.latency_ms / 1000.0
            else:
                decision.kind = entry.kind
                decision.status = entry.status or _DEFAULT_STATUS.get(entry.kind, 200)
                decision.retry_after = entry.retry_after
            return decision
        rates = (
            settings.drop_rate,
            settings.error_rate,
            settings.html_rate,
            settings.truncate_rate,
        )
        if not any(rates):
            return decision
        draw = self._rng.random()
        threshold = 0.0
        for kind, rate in zip(("drop", "error", "html", "truncate"), rates, strict=True):
            threshold += rate
            if draw < threshold:
                decision.kind = kind
                if kind == "error":
                    decision.status = self._rng.choice(settings.error_statuses)
                elif kind == "html":
                    decision.status = self._rng.choice(settings.html_statuses)
                break
        return decision

    def _take(self, method: str, path: str) -> ScriptedFault | None:
        for position, entry in enumerate(self.script):
            if entry.matches(method, path):
                entry.count -= 1
                if entry.count <= 0:
                    del self.script[position]
                return entry
        return None


def parse_script(payload: Mapping[str, Any]) -> list[ScriptedFault]:
    """Validate the body of ``POST /_emulator/faults/script`` (``{"faults": [...]}``).

    Raises ``ValueError`` naming the entry and field at fault (``faults[1].kind: ...``).
    """
    if "faults" not in payload:
        raise ValueError(
            'faults: required, a list of fault objects such as [{"kind": "error", "status": 503}]'
        )
    faults = payload["faults"]
    if not isinstance(faults, list):
        raise ValueError(f"faults: must be a list of fault objects, got {shown(faults)}")
    entries = []
    for position, item in enumerate(faults):
        try:
            entries.append(ScriptedFault.from_json(item))
        except ValueError as exc:
            where = f"faults[{position}]" + (": " if str(exc).startswith("must ") else ".")
            raise ValueError(f"{where}{exc}") from None
    return entries


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
