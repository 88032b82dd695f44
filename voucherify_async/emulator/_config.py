"""Run-time settings of one emulator, changeable through ``/_emulator/config``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BULK_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "Settings",
    "SettingsError",
]

#: Credentials the emulator accepts unless told otherwise.
DEFAULT_APP_ID = "emulator-app-id"
DEFAULT_APP_TOKEN = "emulator-app-token"

#: Requests per ``rate_limit_period`` (a minute) unless told otherwise. Real, so every
#: answer carries the API's rate-limit headers, and generous: 16,700 requests a second is
#: more than one emulator serves, so no test, demo or benchmark meets it by accident.
DEFAULT_RATE_LIMIT = 1_000_000
#: Bulk-endpoint requests (bulk/async, metadata/async, importCSV) per period, counted on
#: top of ``rate_limit``; a 429 over it says ``X-Rate-Limit-Type: bulk_api_calls``.
DEFAULT_BULK_RATE_LIMIT = 100_000

_RATES = ("error_rate", "drop_rate", "truncate_rate", "html_rate")
_NON_NEGATIVE = ("latency_ms", "jitter_ms", "job_item_delay_ms")


class SettingsError(ValueError):
    """A settings value is invalid; the message names the key."""


@dataclasses.dataclass
class Settings:
    """Everything about the emulator's behaviour that is not stored data.

    Fault rates are shares of /v1 requests between 0 and 1, drawn from one seeded RNG in
    this order: drop, error, html, truncate (they must sum to at most 1).

    ``rate_limit`` and ``bulk_rate_limit`` are requests per ``rate_limit_period``
    (``null`` sets the default back); ``quota`` is the billing cycle's quota of /v1
    requests (``null``: none), spent for good once used up: every further request is a
    429 with ``X-Rate-Limit-Type: api_calls_cycle`` until a reset or a new ``quota``.

    Example: ``Settings(rate_limit=20, rate_limit_period=1.0, error_rate=0.1)``.
    """

    app_id: str = DEFAULT_APP_ID
    app_token: str = DEFAULT_APP_TOKEN
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_limit_period: float = 60.0
    bulk_rate_limit: int = DEFAULT_BULK_RATE_LIMIT
    quota: int | None = None
    starting_after_mode: str = "exclusive"
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: list[int] = dataclasses.field(default_factory=lambda: [500, 503])
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    html_rate: float = 0.0
    html_statuses: list[int] = dataclasses.field(default_factory=lambda: [502, 503, 504])
    fault_seed: int | None = 0
    job_item_delay_ms: float = 0.0

    def copy(self) -> Settings:
        """An independent copy (lists included)."""
        return dataclasses.replace(
            self, error_statuses=list(self.error_statuses), html_statuses=list(self.html_statuses)
        )

    def to_json(self) -> dict[str, Any]:
        """The settings as the config endpoint shows them (credentials left out)."""
        data = dataclasses.asdict(self)
        del data["app_id"], data["app_token"]
        return data

    def apply(self, patch: Mapping[str, Any]) -> None:
        """Validate ``patch`` as a whole, then apply it. Raises ``SettingsError``.

        Example: ``settings.apply({"drop_rate": 0.2, "fault_seed": 7})``.
        """
        known = {f.name for f in dataclasses.fields(self)}
        trial = self.copy()
        for key, value in patch.items():
            if key not in known:
                raise SettingsError(f"{key}: unknown setting")
            setattr(trial, key, _check(key, value))
        if sum(getattr(trial, name) for name in _RATES) > 1.0 + 1e-9:
            raise SettingsError("error_rate + drop_rate + truncate_rate + html_rate: must be <= 1")
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(trial, f.name))


def _check(key: str, value: Any) -> Any:
    if key in ("app_id", "app_token"):
        if not isinstance(value, str) or not value:
            raise SettingsError(f"{key}: must be a non-empty string")
        return value
    if key in ("rate_limit", "bulk_rate_limit"):
        if value is None:
            return DEFAULT_RATE_LIMIT if key == "rate_limit" else DEFAULT_BULK_RATE_LIMIT
        if not _is_int(value) or value < 1:
            raise SettingsError(f"{key}: must be a positive integer (leave it out for the default)")
        return value
    if key == "quota":
        if value is not None and (not _is_int(value) or value < 0):
            raise SettingsError("quota: must be a non-negative integer or null (no quota)")
        return value
    if key == "rate_limit_period":
        if not _is_number(value) or value <= 0:
            raise SettingsError("rate_limit_period: must be a positive number of seconds")
        return float(value)
    if key == "starting_after_mode":
        if value not in ("exclusive", "inclusive"):
            raise SettingsError("starting_after_mode: must be 'exclusive' or 'inclusive'")
        return value
    if key in _NON_NEGATIVE:
        if not _is_number(value) or value < 0:
            raise SettingsError(f"{key}: must be a non-negative number")
        return float(value)
    if key in _RATES:
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise SettingsError(f"{key}: must be a number between 0 and 1")
        return float(value)
    if key in ("error_statuses", "html_statuses"):
        if (
            not isinstance(value, list)
            or not value
            or not all(_is_int(s) and 400 <= s <= 599 for s in value)
        ):
            raise SettingsError(f"{key}: must be a non-empty list of HTTP statuses (400-599)")
        return list(value)
    if key == "fault_seed":
        if value is not None and not _is_int(value):
            raise SettingsError("fault_seed: must be an integer or null")
        return value
    raise SettingsError(f"{key}: unknown setting")  # pragma: no cover - guarded by apply()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
