"""Loading into a warehouse from the command line: the options and the run, shared.

``voucherify-async load`` and ``python -m voucherify_async.dlt`` are two entry points of
this one implementation. Nothing of dlt is imported until a load runs, so the command line
starts, and says what to install, without the ``dlt`` extra.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from .._exceptions import ConfigurationError
from ._argparse import at_least

__all__ = ["DROP_PENDING_ADVICE", "EXTRA_MISSING", "LoadError", "add_arguments", "run"]

#: The line a load prints when the ``dlt`` extra is not installed.
EXTRA_MISSING = "loading needs the dlt extra: pip install 'voucherify-async[dlt]'"
#: What a load the destination refused advises, after its reason.
DROP_PENDING_ADVICE = (
    "the data it fetched is kept and loaded first by every later run: fix the destination"
    " and run again, or run again with --drop-pending to discard it and refetch its range"
)
#: The DuckDB file when ``--to duckdb`` has no ``--path``.
DEFAULT_PATH = "customers.duckdb"
EXIT_USAGE, EXIT_ERROR = 2, 1


class LoadError(Exception):
    """What went wrong, in one line, and the exit status it ends the command with."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def _parallel(value: str) -> int | str:
    """``--parallel``: ``auto`` or a number of streams, at least 1."""
    return value if value == "auto" else at_least(1)(value)


def _seconds(value: str) -> float:
    """``--margin``: a number of seconds, 0 or more."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds, 0 or more, got {value!r}"
        ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, got {value!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a load: destination, file, resources, refresh, margin, state."""
    parser.add_argument(
        "--to",
        default="duckdb",
        metavar="DESTINATION",
        help="any destination dlt knows: duckdb (the default), postgres, bigquery,"
        " snowflake, filesystem, ...; its credentials come from dlt's configuration"
        " (.dlt/secrets.toml or DESTINATION__<NAME>__CREDENTIALS)",
    )
    parser.add_argument(
        "--path",
        default=None,
        help=f"the DuckDB file, with --to duckdb (default: {DEFAULT_PATH})",
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
        "--margin",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="how far before the last run's newest change a later run asks again"
        " (default: 5; 0: dlt's deduplication alone)",
    )
    parser.add_argument(
        "--drop-pending",
        action="store_true",
        help="discard the data an earlier run fetched but could not load, instead of"
        " loading it first; its range is fetched again",
    )
    parser.add_argument(
        "--deletions",
        choices=("delete", "mark"),
        default=None,
        help="after the load, find the loaded customers the API no longer has (created_at"
        " window counts, see sync_deletions) and delete their rows, or mark them"
        " (deleted_at); default: leave them",
    )
    parser.add_argument(
        "--pipelines-dir",
        default=None,
        help="where dlt keeps its state (default: a .dlt folder next to the DuckDB file;"
        " for other destinations, dlt's own: ~/.dlt/pipelines)",
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


def _check_destination_name(name: str) -> None:
    """``--to``: a destination dlt can make, by name (built in, or named in its config)."""
    from dlt.common.destination import Destination
    from dlt.common.destination.exceptions import UnknownDestinationModule

    if not name or name != name.strip():
        raise LoadError(f"--to: a destination's name, got {name!r}")
    try:
        Destination.from_reference(name)
    except UnknownDestinationModule:
        import dlt.destinations

        known = ", ".join(sorted(set(dlt.destinations.__all__) - {"destination"}))
        raise LoadError(
            f"--to: dlt knows no destination {name!r}; choose from {known}, or a destination"
            f" named in dlt's configuration (destination.{name}.destination_type)"
        ) from None
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise LoadError(f"--to {name}: {first or type(exc).__name__}") from None


def _pipelines_dir_problem(folder: Path) -> str | None:
    """What keeps dlt from making or writing ``folder`` (it makes the missing parents)."""
    from ..dlt._load import folder_problem

    if folder.exists():
        return folder_problem(folder)
    existing = folder.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return folder_problem(existing, "its folder")


@contextmanager
def _quiet_dlt() -> Iterator[None]:
    """dlt without usage reports and without its log on stderr: errors are one line here.

    ``RUNTIME__LOG_LEVEL`` set in the environment (``WARNING``, ``INFO``) brings dlt's log
    back.
    """
    from dlt.common import logger

    # dlt reports anonymous usage to its vendor unless told not to; these commands do not.
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    if "RUNTIME__LOG_LEVEL" in os.environ:
        yield
        return
    # dlt sets its logger up once a process, maybe already: quiet it now, and any logger
    # it sets up while loading.
    before = logger.LOGGER
    level = before.level if isinstance(before, logging.Logger) else logging.WARNING
    os.environ["RUNTIME__LOG_LEVEL"] = "CRITICAL"
    if isinstance(before, logging.Logger):
        before.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        os.environ.pop("RUNTIME__LOG_LEVEL", None)
        for quieted in {before, logger.LOGGER}:
            if isinstance(quieted, logging.Logger):
                quieted.setLevel(level)


def _load(
    args: argparse.Namespace, err: TextIO, options: Callable[[], Mapping[str, Any]]
) -> list[str]:
    """Check the options, load, and count: one line per resource's table."""
    try:
        import dlt  # noqa: F401
        import duckdb  # noqa: F401
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("dlt", "duckdb"):
            raise
        raise LoadError(EXTRA_MISSING) from None
    from dlt.pipeline.exceptions import PipelineStepFailed

    from ..dlt import RESOURCES
    from ..dlt._load import (
        LoadFailedError,
        duckdb_path_problem,
        load,
        pipeline,
        without_secrets,
    )

    names = _names(args.resources)
    unknown = [name for name in names if name not in RESOURCES]
    if unknown or not names:
        raise LoadError(
            f"--resources: unknown {', '.join(map(repr, unknown)) or 'empty selection'};"
            f" choose from {', '.join(RESOURCES)}"
        )
    into_duckdb = args.to == "duckdb"
    if not into_duckdb:
        if args.path is not None:
            raise LoadError(
                f"--path goes with --to duckdb only; --to {args.to} takes its location"
                " from dlt's configuration"
            )
        _check_destination_name(args.to)
    path = Path(args.path if args.path is not None else DEFAULT_PATH)
    if into_duckdb:
        problem = duckdb_path_problem(path)
        if problem is not None:
            raise LoadError(f"--path {str(path)!r}: {problem}")
    if args.pipelines_dir is not None:
        problem = _pipelines_dir_problem(Path(args.pipelines_dir))
        if problem is not None:
            raise LoadError(f"--pipelines-dir {args.pipelines_dir!r}: {problem}")
    source_options = dict(options())
    if args.margin is not None:
        source_options["margin"] = timedelta(seconds=args.margin)
    where = args.pipelines_dir
    if where is None and into_duckdb:
        where = str(path.with_name(path.name + ".dlt"))
    with _quiet_dlt():
        try:
            target = pipeline(
                destination=args.to,
                duckdb_path=path if into_duckdb else None,
                pipelines_dir=where,
                refresh="drop_data" if args.full_refresh else None,
            )
            dropping = bool(args.drop_pending and target.has_pending_data)
            info = load(
                target,
                drop_pending=args.drop_pending,
                resources=names,
                parallel=args.parallel,
                **source_options,
            )
        except ConfigurationError as exc:
            raise LoadError(str(exc)) from None
        except LoadFailedError as exc:
            raise LoadError(f"{exc.summary}; {DROP_PENDING_ADVICE}", EXIT_ERROR) from None
        except PipelineStepFailed as exc:
            cause = _root_cause(exc)
            summary = getattr(cause, "summary", None)
            message = summary() if callable(summary) else f"{type(cause).__name__}: {cause}"
            first = next((line for line in message.splitlines() if line.strip()), message)
            raise LoadError(
                f"the load failed at dlt's {exc.step} step: {first}", EXIT_ERROR
            ) from None
        if dropping:
            err.write("discarded the data an earlier run could not load; fetched its range again\n")
        err.write(f"{without_secrets(str(info), target)}\n")
        if args.deletions is not None:
            err.write(_deletions(target, args.deletions, source_options) + "\n")
        return _counts(target, names, path if into_duckdb else None)


def _deletions(target: Any, mode: str, source_options: Mapping[str, Any]) -> str:
    """Run `sync_deletions` after the load; its outcome in one line."""
    from ..dlt import sync_deletions

    credentials = {
        key: source_options[key]
        for key in ("app_id", "app_token", "base_url", "client_options")
        if key in source_options
    }
    try:
        report = sync_deletions(target, mode="mark" if mode == "mark" else "delete", **credentials)
    except ConfigurationError as exc:
        raise LoadError(f"--deletions: {exc}") from None
    except Exception as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise LoadError(
            f"the load succeeded; finding deletions failed: {type(exc).__name__}: {first}",
            EXIT_ERROR,
        ) from None
    done = "marked deleted" if mode == "mark" else "deleted"
    return (
        f"deletions: {report.count} {done} in {report.requests} requests"
        f" ({report.windows_compared} windows compared, {report.windows_not_loaded}"
        " not loaded yet)"
    )


def _counts(target: Any, names: list[str], path: Path | None) -> list[str]:
    """``SELECT count(*) FROM <table> -> N`` per table, from the file or the destination."""
    import duckdb
    from dlt.common.destination.exceptions import SqlClientNotAvailable
    from dlt.destinations.exceptions import DatabaseUndefinedRelation

    from ..dlt import count_rows

    lines = []
    if path is not None:
        for name in names:
            try:
                sql, count = count_rows(path, table=name)
            except duckdb.CatalogException:
                lines.append(f"{name}: no rows loaded yet")
            else:
                lines.append(f"{sql} -> {count}")
        return lines
    try:
        with target.sql_client() as client:
            for name in names:
                sql = f"SELECT count(*) FROM {client.make_qualified_table_name(name)}"
                try:
                    rows = client.execute_sql(sql)
                except DatabaseUndefinedRelation:
                    lines.append(f"{name}: no rows loaded yet")
                else:
                    lines.append(f"{sql} -> {int(rows[0][0]) if rows else 0}")
    except SqlClientNotAvailable:
        return [f"{name}: loaded (the destination cannot be counted with SQL)" for name in names]
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
        missing, an unknown resource or destination, a ``--path`` that cannot be written,
        missing credentials, a destination that cannot be reached), 1 for an error of the
        API or the destination while loading. Errors are one line on ``err``.
    """
    try:
        lines = _load(args, err, options)
    except LoadError as error:
        err.write(f"error: {error}\n")
        return error.status
    for line in lines:
        out.write(line + "\n")
    return 0
