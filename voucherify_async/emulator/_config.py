"""Run-time settings of one emulator, changeable through ``/_emulator/config``.

``Settings`` declares every setting once (default, check, help, flag); the constructor
keywords, the config route and the command line are all made from that declaration.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BULK_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "Option",
    "Settings",
    "SettingsError",
    "add_arguments",
    "flag_of",
    "settings_from_args",
    "shown",
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


_NO_VALUE: Any = object()


class SettingsError(ValueError):
    """A setting is unknown or its value is not allowed: one line naming it.

    The message is ``name: what is allowed, got value`` (``error_rate: must be a number
    between 0 and 1, got 5``), the same from ``Emulator(...)``, ``create_app(...)``,
    ``emu.configure(...)`` (whose refusal, ``EmulatorSettingsError``, is one too) and, with
    flags for names, the command line.

    Attributes:
        names: the settings at fault (several when only their sum is wrong).
        rule: what is allowed.
        value: the value refused (``None`` when there is none to show, see ``has_value``).
    """

    def __init__(self, names: str | tuple[str, ...], rule: str, value: Any = _NO_VALUE) -> None:
        self.names = (names,) if isinstance(names, str) else tuple(names)
        self.rule = rule
        self.has_value = value is not _NO_VALUE
        self.value = value if self.has_value else None
        text = f"{' + '.join(self.names)}: {rule}"
        super().__init__(f"{text}, got {shown(value)}" if self.has_value else text)

    def __reduce__(self) -> Any:
        value = self.value if self.has_value else _NO_VALUE
        return (SettingsError, (self.names, self.rule, value))


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a refused value is shown, not dumped)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclasses.dataclass(frozen=True)
class Option:
    """How one setting is checked and offered on the command line.

    ``check(key, value)`` returns the value to store or raises ``SettingsError``; ``kind``
    is the command-line type (``nargs="+"`` when ``many``); ``flag`` is the option's
    command-line name (``--`` and the setting's name with dashes unless given).
    """

    help: str
    check: Callable[[str, Any], Any]
    kind: type
    flag: str | None = None
    choices: tuple[str, ...] | None = None
    many: bool = False
    group: str | None = None


def _option(default: Any, help: str, check: Callable[[str, Any], Any], **more: Any) -> Any:
    """A ``Settings`` field: its default and its ``Option``; a tuple default means a list."""
    many = isinstance(default, tuple)
    kind = more.pop("kind", type(default[0] if many else default))
    option = Option(help=help, check=check, kind=kind, many=many, **more)
    if many:
        return dataclasses.field(default_factory=lambda: list(default), metadata={"option": option})
    return dataclasses.field(default=default, metadata={"option": option})


def _text(key: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise SettingsError(key, "must be a non-empty string", value)
    return value


def _limit(default: int) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value is None:
            return default
        if not _is_int(value) or value < 1:
            raise SettingsError(
                key, "must be a positive integer (leave it out for the default)", value
            )
        return value

    return check


def _quota(key: str, value: Any) -> Any:
    if value is not None and (not _is_int(value) or value < 0):
        raise SettingsError(key, "must be a non-negative integer or null (no quota)", value)
    return value


def _period(key: str, value: Any) -> Any:
    if not _is_number(value) or value <= 0:
        raise SettingsError(key, "must be a positive number of seconds", value)
    return float(value)


def _cursor_mode(key: str, value: Any) -> Any:
    if value not in ("exclusive", "inclusive"):
        raise SettingsError(key, "must be 'exclusive' or 'inclusive'", value)
    return value


def _non_negative(key: str, value: Any) -> Any:
    if not _is_number(value) or value < 0:
        raise SettingsError(key, "must be a non-negative number", value)
    return float(value)


def _rate(key: str, value: Any) -> Any:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise SettingsError(key, "must be a number between 0 and 1", value)
    return float(value)


def _statuses(key: str, value: Any) -> Any:
    if (
        not isinstance(value, list)
        or not value
        or not all(_is_int(s) and 400 <= s <= 599 for s in value)
    ):
        raise SettingsError(key, "must be a non-empty list of HTTP statuses (400-599)", value)
    return list(value)


def _seed(key: str, value: Any) -> Any:
    if value is not None and not _is_int(value):
        raise SettingsError(key, "must be an integer or null", value)
    return value


_FAULTS = "faults (shares of /v1 requests, 0..1)"


@dataclasses.dataclass
class Settings:
    """Everything about the emulator's behaviour that is not stored data.

    The one declaration of the emulator's settings: each field's default, check, help
    text and command-line flag live here, and the ``Emulator(...)`` and ``create_app(...)``
    keywords, ``POST /_emulator/config`` and the command line's options all come from it.

    Fault rates are shares of /v1 requests between 0 and 1, drawn from one seeded RNG in
    this order: drop, error, html, truncate (they must sum to at most 1).

    ``rate_limit`` and ``bulk_rate_limit`` are requests per ``rate_limit_period``
    (``null`` sets the default back); ``quota`` is the billing cycle's quota of /v1
    requests (``null``: none), spent for good once used up: every further request is a
    429 with ``X-Rate-Limit-Type: api_calls_cycle`` until a reset or a new ``quota``.

    Examples:
        ```python
        settings = Settings.from_options({"rate_limit": 20, "error_rate": 0.1})
        ```
    """

    app_id: str = _option(DEFAULT_APP_ID, "the X-App-Id accepted", _text)
    app_token: str = _option(DEFAULT_APP_TOKEN, "the X-App-Token accepted", _text)
    rate_limit: int = _option(DEFAULT_RATE_LIMIT, "requests per period", _limit(DEFAULT_RATE_LIMIT))
    rate_limit_period: float = _option(60.0, "seconds", _period)
    bulk_rate_limit: int = _option(
        DEFAULT_BULK_RATE_LIMIT, "bulk requests per period", _limit(DEFAULT_BULK_RATE_LIMIT)
    )
    quota: int | None = _option(None, "billing-cycle quota of calls", _quota, kind=int)
    starting_after_mode: str = _option(
        "exclusive",
        "how GET /v1/customers compares the starting_after cursor",
        _cursor_mode,
        flag="--starting-after",
        choices=("exclusive", "inclusive"),
    )
    latency_ms: float = _option(0.0, "added to every answer", _non_negative)
    jitter_ms: float = _option(0.0, "uniform extra latency", _non_negative)
    error_rate: float = _option(0.0, "JSON error answers", _rate, group=_FAULTS)
    # _option gives list settings a default_factory (ruff cannot see through it).
    error_statuses: list[int] = _option(  # noqa: RUF009
        (500, 503), "statuses of the error answers", _statuses, group=_FAULTS
    )
    drop_rate: float = _option(0.0, "dropped connections", _rate, group=_FAULTS)
    truncate_rate: float = _option(0.0, "bodies cut short", _rate, group=_FAULTS)
    html_rate: float = _option(0.0, "HTML gateway pages", _rate, group=_FAULTS)
    html_statuses: list[int] = _option(  # noqa: RUF009
        (502, 503, 504), "statuses of the HTML pages", _statuses, group=_FAULTS
    )
    fault_seed: int | None = _option(0, "seed of the fault RNG", _seed, kind=int)
    job_item_delay_ms: float = _option(0.0, "per bulk item", _non_negative)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Settings:
        """The defaults with ``options`` applied. Raises ``SettingsError``.

        Args:
            options: setting names and values; an unknown name is an error.

        Returns:
            A checked ``Settings``.

        Raises:
            SettingsError: a name is unknown or a value is not allowed.
        """
        settings = cls()
        settings.apply(options)
        return settings

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
        options = {f.name: f.metadata["option"] for f in dataclasses.fields(self)}
        trial = self.copy()
        for key, value in patch.items():
            if key not in options:
                allowed = ", ".join(options)
                raise SettingsError(key, f"unknown setting; the settings are {allowed}")
            setattr(trial, key, options[key].check(key, value))
        total = sum(getattr(trial, name) for name in _RATES)
        if total > 1.0 + 1e-9:
            raise SettingsError(_RATES, "must add up to at most 1", round(total, 9))
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(trial, f.name))

    def to_argv(self) -> list[str]:
        """The command-line options that start an emulator with these settings.

        A setting left at ``None`` is left out (the command line cannot say ``null``).
        """
        argv: list[str] = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            flag = flag_of(f.name)
            argv += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
        return argv


def flag_of(name: str) -> str:
    """The command-line flag of the setting ``name`` (``--rate-limit`` for ``rate_limit``)."""
    for f in dataclasses.fields(Settings):
        if f.name == name:
            return f.metadata["option"].flag or "--" + name.replace("_", "-")
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one command-line option per setting to ``parser``.

    Each option's destination is the setting's name and its default ``None`` (not given),
    so ``settings_from_args`` applies only what the command line says.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(Settings):
        option: Option = f.metadata["option"]
        target: Any = parser
        if option.group is not None:
            if option.group not in groups:
                groups[option.group] = parser.add_argument_group(option.group)
            target = groups[option.group]
        default = getattr(Settings(), f.name)
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        shown = "none" if shown is None else shown
        target.add_argument(
            flag_of(f.name),
            dest=f.name,
            type=option.kind,
            choices=option.choices,
            nargs="+" if option.many else None,
            default=None,
            help=f"{option.help} (default {shown})",
        )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The ``Settings`` a command line parsed with ``add_arguments`` asks for."""
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Settings)
        if getattr(args, f.name, None) is not None
    }
    return Settings.from_options(given)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
