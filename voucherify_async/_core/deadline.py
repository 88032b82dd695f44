"""One bound on a whole call: where its time goes, and what is left of it.

A call with a ``deadline`` keeps a `CallTimer`: the transport asks it how much is left
before each wait (a slot under ``max_concurrency``, the rate limit, a backoff) and each
attempt (whose timeout it shortens to what is left), and records what each took. No wait
starts that cannot end in time; the message of the error says where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CallTimer", "check_deadline"]


def check_deadline(value: object) -> float | None:
    """``value`` as seconds (> 0, finite) or ``None``; a ``ValueError`` naming ``deadline``."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value < float("inf")
    ):
        raise ValueError(f"deadline must be a number of seconds > 0 or None, got {value!r}")
    return float(value)


class CallTimer:
    """The time of one call against its deadline (``clock``: monotonic seconds)."""

    __slots__ = ("at", "attempts", "backoff", "clock", "last_failure", "paced", "queued", "seconds")

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds
        self.queued = 0.0
        self.paced = 0.0
        self.backoff = 0.0
        self.attempts: list[float] = []
        self.last_failure: str | None = None

    def left(self) -> float:
        """Seconds left before the deadline (negative once past it)."""
        return self.at - self.clock()

    def attempt_timeout(self, timeout: float | None) -> float:
        """The timeout of the next attempt: the client's, or what is left if that is less."""
        left = max(self.left(), 0.0)
        return left if timeout is None else min(timeout, left)

    def describe(self, stage: str) -> str:
        """The message of the error: the deadline, the stage it passed in, and the times."""
        attempts = ", ".join(f"{seconds:.2f} s" for seconds in self.attempts)
        parts = [
            f"{self.queued:.2f} s waiting for a slot under max_concurrency",
            f"{self.paced:.2f} s waiting for the rate limit",
            f"{len(self.attempts)} attempt{'' if len(self.attempts) == 1 else 's'}"
            + (f" ({attempts})" if attempts else ""),
            f"{self.backoff:.2f} s backing off",
        ]
        last = f"; the last attempt got {self.last_failure}" if self.last_failure else ""
        return f"the call's deadline of {self.seconds:g} s passed {stage}: {', '.join(parts)}{last}"
