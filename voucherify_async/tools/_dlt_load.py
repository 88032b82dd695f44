"""Loading into a warehouse from the command line: the options and the run, shared.

``voucherify-async load`` and ``python -m voucherify_async.dlt`` are two entry points of
this one implementation. Nothing of dlt is imported until a load runs, so the command line
starts, and says what to install, without the ``dlt`` extra.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from .._exceptions import ConfigurationError
from ._argparse import at_least

__all__ = ["DESTINATIONS", "EXTRA_MISSING", "LoadError", "add_arguments", "run"]

#: What ``--to`` takes. Other destinations load through the Python API (docs/dlt.md).
DESTINATIONS = ("duckdb",)
#: The line a load prints when the ``dlt`` extra is not installed.
EXTRA_MISSING = "loading needs the dlt extra: pip install 'voucherify-async[dlt]'"
EXIT_USAGE, EXIT_ERROR = 2, 1


class LoadError(Exception):
    """What went wrong, in one line, and the exit status it ends the command with."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def _parallel(value: str) -> int | str:
    """``--parallel``: ``auto`` or a number of streams, at least 1."""
    return value if value == "auto" else at_least(1)(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a load: destination, file, resources, refresh, partitions, state."""
    parser.add_argument(
        "--to",
        choices=DESTINATIONS,
        default="duckdb",
        help="the destination (default: %(default)s)",
    )
    parser.add_argument(
        "--path", default="customers.duckdb", help="the DuckDB file (default: %(default)s)"
    )
    parser.add_argument(
        "--resources",
        default="customers",
        metavar="NAMES",
        help="what to load, comma-separated: customers (the default), customer_segments,"
        " customer_activity, customer_redeemables, async_actions",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="empty the tables and forget the incremental state first, then load"
        " everything (drops the rows of customers deleted in the API)",
    )
    parser.add_argument(
        "--parallel",
        type=_parallel,
        default="auto",
        metavar="N|auto",
        help="created_at windows streamed at once on a full load (default: %(default)s,"
        " from the latency and the rate limit; 1: one stream)",
    )
    parser.add_argument(
        "--pipelines-dir",
        default=None,
        help="where dlt keeps its state (default: a .dlt folder next to the DuckDB file)",
    )


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _root_cause(error: BaseException) -> BaseException:
    """The error under dlt's wrappers (``PipelineStepFailed``, extraction errors)."""
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "exception", None) or error.__cause__
        if inner is None and not error.__suppress_context__:
            inner = error.__context__
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


def _load(
    args: argparse.Namespace, err: TextIO, options: Callable[[], Mapping[str, Any]]
) -> list[str]:
    """Check the options, load, and count: one line per resource's table."""
    try:
        import duckdb
        from dlt.pipeline.exceptions import PipelineStepFailed

        from ..dlt import RESOURCES, count_rows, load, pipeline
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("dlt", "duckdb"):
            raise
        raise LoadError(EXTRA_MISSING) from None
    names = _names(args.resources)
    unknown = [name for name in names if name not in RESOURCES]
    if unknown or not names:
        raise LoadError(
            f"--resources: unknown {', '.join(map(repr, unknown)) or 'empty selection'};"
            f" choose from {', '.join(RESOURCES)}"
        )
    source_options = dict(options())
    # dlt reports anonymous usage to its vendor unless told not to; these commands do not.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    path = Path(args.path)
    where = args.pipelines_dir or str(path.with_name(path.name + ".dlt"))
    try:
        target = pipeline(
            duckdb_path=path,
            pipelines_dir=where,
            refresh="drop_data" if args.full_refresh else None,
        )
        info = load(
            target,
            resources=names,
            parallel=args.parallel,
            **source_options,
        )
    except ConfigurationError as exc:
        raise LoadError(str(exc)) from None
    except PipelineStepFailed as exc:
        cause = _root_cause(exc)
        summary = getattr(cause, "summary", None)
        message = summary() if callable(summary) else f"{type(cause).__name__}: {cause}"
        raise LoadError(
            f"the load failed at dlt's {exc.step} step: {message}", EXIT_ERROR
        ) from None
    err.write(f"{info}\n")
    lines = []
    for name in names:
        try:
            sql, count = count_rows(path, table=name)
        except duckdb.CatalogException:
            lines.append(f"{name}: no rows loaded yet")
        else:
            lines.append(f"{sql} -> {count}")
    return lines


def run(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    options: Callable[[], Mapping[str, Any]] = dict,
) -> int:
    """Load as ``args`` say (`add_arguments`); print a SQL count per table; the exit status.

    Args:
        args: the parsed options.
        out: where the counts go, one line per resource.
        err: where dlt's summary and errors go.
        options: called once the options are checked, for more arguments of the source
            (``app_id``, ``app_token``, ``base_url``, ``client_options``); it may raise an
            error of the command that calls it.

    Returns:
        0, or 2 for a mistake of the command line or the configuration (the ``dlt`` extra
        missing, an unknown resource, missing credentials), 1 for an error of the API or
        the destination while loading. Errors are one line on ``err``.
    """
    try:
        lines = _load(args, err, options)
    except LoadError as error:
        err.write(f"error: {error}\n")
        return error.status
    for line in lines:
        out.write(line + "\n")
    return 0
