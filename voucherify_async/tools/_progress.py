"""A progress display for the command line and the demo: rich's bar, or plain lines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Progress", "progress"]


class Progress:
    """A progress display: rich's bar when available and the stream is a terminal, else lines.

    Both go to ``stream`` only (stderr in the command line), so stdout carries nothing but
    the output.

    Every display counts the same way: ``done`` of ``total`` items (customers or rows, named
    by ``unit``) and the share of the total, e.g. ``exporting: 4,200/10,000 customers (42%)``.
    """

    def __init__(
        self, description: str, total: int | None, *, stream: TextIO, unit: str = "customers"
    ) -> None:
        self.description = description
        self.total = total
        self.stream = stream
        self.unit = unit
        self.done = 0
        self.seconds_left: float | None = None
        self._last = 0.0
        self._rich: Any = None
        self._task: Any = None
        if stream.isatty():
            try:
                from rich.console import Console
                from rich.progress import Progress as RichProgress
            except ImportError:
                pass
            else:
                # On this stream (stderr), never rich's default stdout: the output's own.
                self._rich = RichProgress(console=Console(file=stream), transient=False)
                self._task = self._rich.add_task(description, total=total)
                self._rich.start()

    def line(self) -> str:
        """The current state as one line of text."""
        left = "" if self.seconds_left is None else f", about {self.seconds_left:,.0f} s left"
        if self.total:
            share = min(100, self.done * 100 // self.total)
            return f"{self.description}: {self.done:,}/{self.total:,} {self.unit} ({share}%){left}"
        return f"{self.description}: {self.done:,} {self.unit}{left}"

    def update(
        self, done: int, total: int | None = None, *, seconds_left: float | None = None
    ) -> None:
        """Show ``done`` of ``total`` (at most one plain line a second), and the time left."""
        self.done = done
        self.seconds_left = seconds_left
        if total is not None:
            self.total = total
        if self._rich is not None:
            self._rich.update(self._task, completed=done, total=self.total)
            return
        now = time.monotonic()
        if now - self._last >= 1.0:
            self._last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self, *, finished: bool = True) -> None:
        """Finish the display; after a failure (``finished=False``) no closing ``done`` line."""
        if self._rich is not None:
            self._rich.stop()
        elif finished:
            self.stream.write(self.line() + ", done\n")
            self.stream.flush()


@contextmanager
def progress(
    description: str, total: int | None, stream: TextIO, *, unit: str = "customers"
) -> Iterator[Progress]:
    """A `Progress` that is closed however the block ends: ``done`` only if it ends well."""
    bar = Progress(description, total, stream=stream, unit=unit)
    try:
        yield bar
    except BaseException:
        bar.close(finished=False)
        raise
    bar.close()
