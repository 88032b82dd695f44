"""An ``argparse`` parser whose errors are one line: what is wrong and where to look."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

__all__ = ["OneLineParser", "at_least"]


class OneLineParser(argparse.ArgumentParser):
    """Prints ``error: <what> (see <prog> --help)`` and exits 2, instead of usage and error."""

    def error(self, message: str) -> NoReturn:
        """Print the one-line error and exit with status 2."""
        message = message.removeprefix("argument ")
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number no smaller than ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse
