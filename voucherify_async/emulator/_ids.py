"""Identifiers shaped like the real API's.

Two families exist on the wire: random alphanumeric ids (``cust_`` + 24, ``del_`` + 24,
``seg_`` + 24, voucher ``v_`` + 32) and 18-digit hex ids whose leading digits encode
the time (``evcus_``, ``aa_``, ``rh_`` and request ids ``v-``). The hex ids generated here
are strictly increasing, so sorting by id is sorting by creation, which is what the
``starting_after_id`` cursors rely on.
"""

from __future__ import annotations

import os
import random

from ._time import now_ms

__all__ = ["IdFactory", "alnum_ids"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Maps every byte value onto the 62 alphanumerics; the slight bias towards the first
# eight characters does not matter for ids that only need to be unique and look real.
_TO_ALNUM = bytes(ord(_ALNUM[value % len(_ALNUM)]) for value in range(256))


def alnum_ids(prefix: str, count: int, length: int = 24) -> list[str]:
    """Return ``count`` random ids made of ``prefix`` and ``length`` alphanumerics.

    Built from one block of random bytes, so a million ids take a fraction of a second.

    Example: ``alnum_ids("cust_", 1)`` -> ``["cust_CSnYd37MXmrbS19XCrghjBsv"]``.
    """
    raw = os.urandom(count * length).translate(_TO_ALNUM).decode("ascii")
    return [prefix + raw[start : start + length] for start in range(0, count * length, length)]


class IdFactory:
    """Produces every kind of id one emulator instance hands out.

    Example::

        ids = IdFactory()
        ids.customer()      # 'cust_X0hU04x7FeisPnD5lctZcQkI'
        ids.hex("evcus_")   # 'evcus_0b4c590350857970df'
        ids.request()       # 'v-0b4c590350857970e0'
    """

    __slots__ = ("_counter", "_last_ms")

    def __init__(self) -> None:
        self._last_ms = 0
        self._counter = random.randrange(1 << 24)

    def hex(self, prefix: str) -> str:
        """Return ``prefix`` + 18 hex digits: 11 of milliseconds, 7 of a counter."""
        # Never step back in time, so ids stay sorted even if the wall clock does.
        self._last_ms = max(self._last_ms, now_ms())
        self._counter = (self._counter + 1) & 0xFFFFFFF
        return f"{prefix}{self._last_ms & 0xFFFFFFFFFFF:011x}{self._counter:07x}"

    def request(self) -> str:
        """Return a request id such as ``v-0b4c590350857970df``."""
        return self.hex("v-")

    def customer(self) -> str:
        """Return a customer id such as ``cust_CSnYd37MXmrbS19XCrghjBsv``."""
        return alnum_ids("cust_", 1)[0]

    def alnum(self, prefix: str, length: int = 24) -> str:
        """Return ``prefix`` + ``length`` random alphanumerics."""
        return alnum_ids(prefix, 1, length)[0]
