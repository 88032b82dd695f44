"""Everything one running emulator owns, in one object the handlers share."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._config import Settings
from ._faults import FaultInjector
from ._jobs import JobRunner
from ._ratelimit import CycleQuota, FixedWindowLimiter
from ._store import Store

__all__ = ["STATE_KEY", "EmulatorState", "Stats"]

# What a reset keeps from the current settings (the rest returns to start-up values).
_KEPT_ON_RESET = (
    "app_id", "app_token", "rate_limit", "rate_limit_period", "bulk_rate_limit", "quota"
)  # fmt: skip


@dataclasses.dataclass
class Stats:
    """Counters over /v1 requests (control routes are not counted)."""

    requests_total: int = 0
    by_status: Counter[str] = dataclasses.field(default_factory=Counter)
    rate_limited: int = 0
    faults: Counter[str] = dataclasses.field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        """The counters as ``GET /_emulator/stats`` shows them."""
        return {
            "requests_total": self.requests_total,
            "by_status": dict(sorted(self.by_status.items())),
            "too_many_requests": self.by_status.get("429", 0),
            "rate_limited": self.rate_limited,
            "faults": dict(sorted(self.faults.items())),
        }


class EmulatorState:
    """Settings, store, fault injector, rate limiters, quota, job runner and counters.

    Example: ``state = EmulatorState(Settings(rate_limit=20)); state.store.seed(100)``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.initial = settings.copy()
        self.store = Store()
        self.faults = FaultInjector(settings)
        self.jobs = JobRunner(self.store, settings)
        self.stats = Stats()
        self.limiter = FixedWindowLimiter(settings.rate_limit, settings.rate_limit_period)
        self.bulk_limiter = FixedWindowLimiter(
            settings.bulk_rate_limit, settings.rate_limit_period, kind="bulk_api_calls"
        )
        self.quota: CycleQuota | None = None
        self._rebuild_limiter()
        self._rebuild_quota()

    def configure(self, patch: Mapping[str, Any]) -> None:
        """Apply a settings patch (all or nothing). Raises ``SettingsError``."""
        self.settings.apply(patch)
        if {"rate_limit", "rate_limit_period", "bulk_rate_limit"} & set(patch):
            self._rebuild_limiter()
        if "quota" in patch:
            self._rebuild_quota()
        if "fault_seed" in patch:
            self.faults.reseed(self.settings.fault_seed)

    async def reset(self, patch: Mapping[str, Any]) -> None:
        """Clear all data, jobs, faults, the script and counters, then apply ``patch``.

        Credentials, the current rate limits and quota survive (the quota's count starts
        again: a reset begins a new billing cycle); other settings (latency,
        ``starting_after_mode``, job delay) return to their start-up values and fault
        rates to theirs (zero unless the emulator was started with faults).
        """
        fresh = self.initial.copy()
        for name in _KEPT_ON_RESET:
            setattr(fresh, name, getattr(self.settings, name))
        fresh.apply(patch)  # validates before anything is cleared
        for field in dataclasses.fields(Settings):
            setattr(self.settings, field.name, getattr(fresh, field.name))
        self.store.clear()
        await self.jobs.reset()
        self.faults.script.clear()
        self.faults.reseed(self.settings.fault_seed)
        self.stats = Stats()
        self._rebuild_limiter()
        self._rebuild_quota()

    def _rebuild_limiter(self) -> None:
        period = self.settings.rate_limit_period
        self.limiter = FixedWindowLimiter(self.settings.rate_limit, period)
        self.bulk_limiter = FixedWindowLimiter(
            self.settings.bulk_rate_limit, period, kind="bulk_api_calls"
        )

    def _rebuild_quota(self) -> None:
        quota = self.settings.quota
        self.quota = None if quota is None else CycleQuota(quota)


#: Where an emulator app keeps its ``EmulatorState``.
STATE_KEY = web.AppKey("voucherify_emulator_state", EmulatorState)
