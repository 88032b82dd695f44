"""The ``voucherify-async`` command line: the emulator, customers, and loads into a warehouse.

Credentials come from ``--app-id``/``--app-token``/``--base-url`` (before or after the
command) or the environment (``VOUCHERIFY_APP_ID``, ``VOUCHERIFY_APP_TOKEN``,
``VOUCHERIFY_BASE_URL``). Every error prints one line: exit status 2 for a mistake on the
command line (an option, a file), 1 for an error of the API or the connection, or for a
job that ended with failed rows. Progress bars use ``rich`` when it is installed (the ``cli``
extra) and plain lines otherwise, always on stderr; both count customers or rows. Output
goes to stdout: ``list`` prints a table on a terminal and JSON Lines into a pipe, and
``export -`` streams to stdout. docs/cli.md has the table of exit statuses.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import msgspec

from .._client import CLUSTERS, AsyncVoucherify
from .._core.csvio import DEFAULT_PART_BYTES
from .._core.filters import filter_fields
from .._exceptions import APIStatusError, ConfigurationError, CsvError, VoucherifyError
from ..models import Customer, CustomerListOrder
from ..resources._listing import CREATED_AT_ORDERS
from ..resources.customers import CustomerListFilters
from ._argparse import OneLineParser, at_least
from ._dlt_load import add_arguments as add_load_arguments
from ._dlt_load import run as run_load
from ._progress import Progress, progress

__all__ = ["Progress", "main", "progress"]

#: Exit statuses (docs/cli.md has the table): done; an error of the API or the connection,
#: or a job with failed rows; a mistake on the command line or in an input file.
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
#: The exit status of a process whose output pipe was closed (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141
#: The exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: The file name that means stdout, as for curl -o and most tools.
STDOUT = "-"

#: Columns of ``--format csv`` (and of ``table``): the CSV import's standard columns where
#: they exist, then the read-only fields; metadata travels as one JSON column.
CSV_COLUMNS = (
    "Id",
    "Source_id",
    "Name",
    "Email",
    "Phone",
    "Birthdate",
    "Address_line_1",
    "Address_line_2",
    "Address_Postal_Code",
    "Address_City",
    "Address_State",
    "Address_Country",
    "Description",
    "Created_at",
    "Updated_at",
    "Metadata",
)
TABLE_COLUMNS = ("Id", "Source_id", "Name", "Email", "Address_City", "Created_at")
#: The headings of ``--format table``: words, not the CSV's column names.
TABLE_HEADINGS = {
    "Id": "ID",
    "Source_id": "SOURCE ID",
    "Name": "NAME",
    "Email": "EMAIL",
    "Address_City": "CITY",
    "Created_at": "CREATED AT",
}


class Usage(Exception):
    """A mistake on the command line; the message says what to do."""


# --- formatting --------------------------------------------------------------------------


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


def customer_row(customer: Customer) -> dict[str, str]:
    """One customer as the CSV/table columns."""
    address = customer.address
    return {
        "Id": customer.id,
        "Source_id": customer.source_id or "",
        "Name": customer.name or "",
        "Email": customer.email or "",
        "Phone": customer.phone or "",
        "Birthdate": customer.birthdate.isoformat() if customer.birthdate else "",
        "Address_line_1": (address.line_1 if address else None) or "",
        "Address_line_2": (address.line_2 if address else None) or "",
        "Address_Postal_Code": (address.postal_code if address else None) or "",
        "Address_City": (address.city if address else None) or "",
        "Address_State": (address.state if address else None) or "",
        "Address_Country": (address.country if address else None) or "",
        "Description": customer.description or "",
        "Created_at": _iso(customer.created_at),
        "Updated_at": _iso(customer.updated_at),
        "Metadata": json.dumps(customer.metadata, sort_keys=True) if customer.metadata else "",
    }


class Writer:
    """Writes customers one at a time in a format: json, jsonl, csv or table."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self.out = out
        self.fmt = fmt
        self.count = 0
        self._csv: Any = None
        self._table: list[dict[str, str]] = []
        if fmt == "csv":
            self._csv = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
            self._csv.writeheader()
        elif fmt == "json":
            out.write("[")

    def write(self, customer: Customer) -> None:
        """Write one customer."""
        if self.fmt == "jsonl":
            self.out.write(msgspec.json.encode(customer).decode() + "\n")
        elif self.fmt == "json":
            self.out.write(("," if self.count else "") + "\n  ")
            self.out.write(msgspec.json.encode(customer).decode())
        elif self.fmt == "csv":
            self._csv.writerow(customer_row(customer))
        else:
            self._table.append(customer_row(customer))
        self.count += 1

    def close(self) -> None:
        """Finish the output (the closing bracket, or the table)."""
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "]\n")
        elif self.fmt == "table":
            rows = [{key: row[key] for key in TABLE_COLUMNS} for row in self._table]
            widths = {
                key: max([len(TABLE_HEADINGS[key]), *(len(row[key]) for row in rows)])
                for key in TABLE_COLUMNS
            }
            line = "  ".join(TABLE_HEADINGS[key].ljust(widths[key]) for key in TABLE_COLUMNS)
            self.out.write(line.rstrip() + "\n")
            for row in rows:
                self.out.write(
                    "  ".join(row[key].ljust(widths[key]) for key in TABLE_COLUMNS).rstrip() + "\n"
                )


# --- commands ----------------------------------------------------------------------------


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    app_id = args.app_id or os.environ.get("VOUCHERIFY_APP_ID")
    app_token = args.app_token or os.environ.get("VOUCHERIFY_APP_TOKEN")
    if not app_id or not app_token:
        raise Usage(
            "no credentials: set VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN (and"
            " VOUCHERIFY_BASE_URL for another host), or pass --app-id and --app-token"
        )
    return app_id, app_token


def _client(args: argparse.Namespace) -> AsyncVoucherify:
    app_id, app_token = _credentials(args)
    return AsyncVoucherify(
        app_id=app_id, app_token=app_token, base_url=args.base_url, cluster=args.cluster
    )


def parse_when(value: str, name: str) -> datetime:
    """An ISO 8601 date-time with a time zone (``Z`` or ``+02:00``); names ``name`` if not."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Usage(
            f"{name} must be an ISO 8601 date-time with a time zone, e.g."
            f" 2024-01-01T00:00:00Z, got {value!r}"
        ) from None
    if moment.tzinfo is None:
        # The suggestion is the value given, in UTC, written as this parser reads it.
        example = moment.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
        raise Usage(f"{name} needs a time zone, e.g. {example} for UTC, got {value!r}")
    return moment


def _when(value: str | None, name: str) -> datetime | None:
    return None if value is None else parse_when(value, name)


def _input_file(value: str) -> Path:
    """The file a command reads, checked before anything is sent."""
    path = Path(value)
    if path.is_dir():
        raise Usage(f"{value} is a directory, not a file")
    if not path.exists():
        raise Usage(f"{value}: no such file")
    if not os.access(path, os.R_OK):
        raise Usage(f"{value}: not allowed to read it")
    return path


def _parallel(value: str) -> int | str:
    """``--parallel``: ``auto`` or a number of streams from 1 to 1000."""
    if value == "auto":
        return value
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 1_000:
        raise argparse.ArgumentTypeError(
            f"must be 'auto' or a number from 1 to 1000, not {value!r}"
        )
    return number


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    # The options come from the declaration of the list's filters; see `_add_filters`.
    filters: dict[str, Any] = {}
    for field in filter_fields(CustomerListFilters):
        value = getattr(args, field.name)
        filters[field.name] = _when(value, field.flag) if field.type is datetime else value
    filters["order"] = args.order
    return filters


async def cmd_get(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``customers get ID``."""
    async with _client(args) as vf:
        customer = await vf.customers.get(args.id)
    # One customer: ``json`` is the object, ``jsonl`` the same object on one line.
    writer = Writer(out, "jsonl" if args.format == "json" else args.format)
    writer.write(customer)
    writer.close()
    return EXIT_OK


async def cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``customers list [filters] --format ...``: up to ``--max`` customers.

    Without ``--format``: a table on a terminal, JSON Lines into a pipe or a file.
    """
    writer = Writer(out, args.format or ("table" if _is_terminal(out) else "jsonl"))
    async with _client(args) as vf, _items(vf.customers.list(**_filters(args))) as customers:
        async for customer in customers:
            writer.write(customer)
            if args.max is not None and writer.count >= args.max:
                break
    writer.close()
    return EXIT_OK


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


@asynccontextmanager
async def _items(pager: Any) -> AsyncIterator[AsyncIterator[Customer]]:
    """The pager's items, closed on leaving (a ``break`` stops a parallel scan's streams)."""
    items = aiter(pager)
    try:
        yield items
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def _output_file(value: str, force: bool) -> Path | None:
    """The file ``export`` writes, checked before anything is sent; ``None`` for stdout.

    Only an existing regular file needs ``--force``: a device or a pipe (``/dev/null``,
    ``>(gzip > all.gz)``) is written to as it is.
    """
    if value == STDOUT:
        return None
    path = Path(value)
    if path.is_dir():
        raise Usage(f"{value} is a directory, not a file")
    if path.exists() and not path.is_file():
        return path
    target = Path(os.path.realpath(path))  # through a symlink: its target is replaced
    if not target.parent.is_dir():
        raise Usage(f"{path.parent}: no such directory")
    if os.path.lexists(path) and not force:
        raise Usage(f"{value} already exists; pass --force to overwrite it")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise Usage(f"{path.parent}: not allowed to write there")
    return path


@contextmanager
def _open_output(path: Path | None, out: TextIO, force: bool) -> Iterator[TextIO]:
    """Where ``export`` writes: stdout, a device or pipe as it is, or a regular file.

    A regular file is written under a temporary name next to it and renamed at the end: a
    failed or interrupted export leaves no partial file and keeps the one it would replace.
    """
    if path is None:
        yield out
        return
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    target = Path(os.path.realpath(path))
    for _ in range(10):  # a name nobody else uses; a clash is rare and not repeated often
        part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - ten clashes of random names
        raise OSError(f"cannot create a temporary file next to {path}")
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
        if target.is_file():
            if not force:  # it appeared while the export ran
                raise Usage(f"{path} already exists; pass --force to overwrite it")
            shutil.copymode(target, part)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


async def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``customers export FILE|-``: every match (or ``--max``), streamed with a progress bar."""
    path = _output_file(args.file, args.force)
    name = "stdout" if path is None else path.name
    suffix = "" if path is None else path.suffix.lower()
    fmt = args.format or ("csv" if suffix == ".csv" else "jsonl")
    async with _client(args) as vf:
        filters = _filters(args)
        total = (await vf.customers.list(limit=1, **filters)).total
        if args.max is not None and total is not None:
            total = min(total, args.max)
        # Buffered local writes: a thread hop per customer would cost more than the write.
        parallel = None if args.parallel == 1 else args.parallel
        if filters.get("order") not in CREATED_AT_ORDERS:
            parallel = None  # other orders page by number, one stream
        pager = vf.customers.list(parallel=parallel, **filters)
        with (
            _open_output(path, out, args.force) as handle,
            progress(f"exporting to {name}", total, err, unit="customers") as bar,
        ):
            writer = Writer(handle, fmt)
            async with _items(pager) as customers:
                async for customer in customers:
                    writer.write(customer)
                    if args.max is not None and writer.count >= args.max:
                        break
                    if writer.count % 100 == 0:
                        scan = pager.progress
                        left = None if scan is None else scan.seconds_left
                        bar.update(writer.count, seconds_left=left)
            bar.update(writer.count)
            writer.close()
    err.write(f"exported {writer.count:,} customers to {'stdout' if path is None else path}\n")
    return EXIT_OK


def _read_jsonl(path: Path, numbers: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """The objects of a JSON Lines file, read lazily; a bad line names its number.

    ``numbers`` collects the line number of each object yielded.
    """
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise Usage(f"{path.name} line {number} is not JSON: {exc}") from None
            if not isinstance(item, dict):
                raise Usage(f"{path.name} line {number} is not a JSON object")
            if numbers is not None:
                numbers.append(number)
            yield item


async def _finish(job: Any, args: argparse.Namespace, err: TextIO, what: str, unit: str) -> int:
    ids = ", ".join(job.async_action_ids)
    err.write(f"{what} started: async action(s) {ids}\n")
    if not args.wait:
        err.write("not waiting (pass --wait to follow it to the end)\n")
        return EXIT_OK
    if any(part.size is None for part in job.parts):
        unit = "% points"  # the API reports how far, not how many
    with progress(what, None, err, unit=unit) as bar:
        result = await job.wait(on_progress=lambda p: bar.update(p.done, p.total))
    err.write(f"{what}: {result.done_count:,} done, {result.failed_count:,} failed\n")
    for failure in result.failed[:20]:
        err.write(f"  row {failure.row} ({failure.source_id or '-'}): {failure.reason}\n")
    for error in result.errors[:20]:
        err.write(f"  {error.source_id}: {error.key}: {error.message} {error.details or ''}\n")
    shown = len(result.failed[:20]) + len(result.errors[:20])
    if result.failed_count > shown:
        err.write(f"  ... and {result.failed_count - shown:,} more\n")
    # Some rows failed: the job ran, but not all of it went in (docs/cli.md, exit statuses).
    return EXIT_OK if result.failed_count == 0 else EXIT_ERROR


async def cmd_import(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``customers import FILE.csv [--wait] [--update]``."""
    path = _input_file(args.file)
    # A file that fits in one request is read whole, so that progress counts its rows
    # (as for a larger file, which goes in parts); a larger one is streamed.
    small = path.stat().st_size <= DEFAULT_PART_BYTES
    source: Path | bytes = path.read_bytes() if small else path
    async with _client(args) as vf:
        job = await vf.customers.import_csv(source, filename=path.name, update_existing=args.update)
        return await _finish(job, args, err, "CSV import", "rows")


async def cmd_bulk_update(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``customers bulk-update FILE.jsonl [--wait]``."""
    path = _input_file(args.file)
    numbers: list[int] = []
    async with _client(args) as vf:
        try:
            job = await vf.customers.update_in_bulk(_read_jsonl(path, numbers))
        except (TypeError, ValueError) as error:
            if isinstance(error, VoucherifyError):
                raise
            # Every line is checked before anything is sent: the file's mistake, by line.
            raise Usage(_bulk_mistake(path, numbers, error)) from None
        return await _finish(job, args, err, "bulk update", "customers")


_ITEM = re.compile(r"customers\[(\d+)\]\.?")


def _bulk_mistake(path: Path, numbers: list[int], error: Exception) -> str:
    """A customer update the client refused, said of the file's line."""
    message = _CALL_PREFIX.sub("", str(error))
    if not numbers:
        return f"{path.name} has no customer updates (one JSON object per line)"
    found = _ITEM.search(message)
    if found is None or int(found.group(1)) >= len(numbers):
        return f"{path.name}: {message}"
    rest = (message[: found.start()] + message[found.end() :]).strip()
    joint = " " if rest.startswith(("alone ", "has ", "must ")) else ": "
    return f"{path.name} line {numbers[int(found.group(1))]}{joint}{rest}"


def cmd_load(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``load [--to DESTINATION] [--path FILE] [--resources ...] ...``, with dlt."""

    def options() -> dict[str, Any]:
        # Asked for once the load's own options are checked (see _dlt_load.run).
        app_id, app_token = _credentials(args)
        found: dict[str, Any] = {"app_id": app_id, "app_token": app_token}
        found["base_url"] = args.base_url
        if args.cluster is not None:
            found["client_options"] = {"cluster": args.cluster}
        return found

    return run_load(args, out, err, options)


def cmd_emulator(argv: Sequence[str]) -> int:
    """``emulator [options]``: serve the local emulator (see ``--help``)."""
    from ..emulator.__main__ import main as emulator_main

    return emulator_main(argv, prog="voucherify-async emulator")


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO, TextIO], Any]] = {
    "get": cmd_get,
    "list": cmd_list,
    "export": cmd_export,
    "import": cmd_import,
    "bulk-update": cmd_bulk_update,
}


# --- parsing -----------------------------------------------------------------------------


def _add_filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters")
    for field in filter_fields(CustomerListFilters):
        dated = field.type is datetime
        group.add_argument(
            field.flag,
            dest=field.name,
            metavar="ISO" if dated else None,
            help=f"{field.help} (ISO 8601 with a zone)" if dated else field.help,
        )
    group.add_argument("--order", choices=sorted(CustomerListOrder.ALL))


def _add_connection(parser: argparse.ArgumentParser, default: Any) -> None:
    """The connection options, accepted before the command and after it."""
    group = parser.add_argument_group("connection")
    group.add_argument("--app-id", default=default, help="or $VOUCHERIFY_APP_ID")
    group.add_argument("--app-token", default=default, help="or $VOUCHERIFY_APP_TOKEN")
    group.add_argument(
        "--base-url", default=default, help="or $VOUCHERIFY_BASE_URL (e.g. the emulator's URL)"
    )
    group.add_argument("--cluster", default=default, choices=sorted(CLUSTERS))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``voucherify-async``."""
    from .. import __version__

    parser = OneLineParser(
        prog="voucherify-async",
        description="The Voucherify Customers API from the command line.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_connection(parser, None)
    # After the command, an option not given leaves the value given before it.
    connection = OneLineParser(add_help=False)
    _add_connection(connection, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "emulator",
        help="serve the local emulator (options: voucherify-async emulator -h)",
        add_help=False,
    )
    commands.add_parser(
        "demo",
        help="run the main job against the embedded emulator (options: demo -h)",
        add_help=False,
    )
    loading = commands.add_parser(
        "load",
        help="load customers into a warehouse with dlt (needs the dlt extra)",
        description="Load customers, and what hangs off them, into a DuckDB file or any"
        " destination dlt knows: everything on the first run, what changed since on the next"
        " ones.",
        parents=[connection],
    )
    add_load_arguments(loading)
    customers = commands.add_parser("customers", help="customer commands", parents=[connection])
    verbs = customers.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, help: str, **options: Any) -> argparse.ArgumentParser:
        return verbs.add_parser(name, help=help, parents=[connection], **options)

    get = verb("get", help="print one customer")
    get.add_argument("id", help="Voucherify id (cust_...) or source id")
    get.add_argument(
        "--format",
        choices=("json", "jsonl", "csv", "table"),
        default="json",
        help="json (the default) and jsonl print the customer as one JSON object on one line",
    )

    listing = verb(
        "list",
        help="print customers",
        description="Print customers: a table on a terminal, JSON Lines when piped.",
    )
    _add_filters(listing)
    listing.add_argument(
        "--format",
        choices=("table", "json", "jsonl", "csv"),
        default=None,
        help="default: table when stdout is a terminal, else jsonl",
    )
    listing.add_argument(
        "--max", type=at_least(1), default=None, metavar="N", help="stop after N customers"
    )

    export = verb(
        "export",
        help="stream every matching customer to a file, or stdout",
        description="Stream every matching customer to FILE (- for stdout); progress goes to"
        " stderr. An existing file is replaced only with --force, once the export is done.",
    )
    export.add_argument("file", metavar="FILE", help="the file to write, or - for stdout")
    export.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default=None,
        help="default: csv for a FILE ending in .csv, else jsonl",
    )
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    export.add_argument(
        "--max", type=at_least(1), default=None, metavar="N", help="stop after N customers"
    )
    export.add_argument(
        "--parallel",
        type=_parallel,
        default="auto",
        metavar="N|auto",
        help="streams read at once (default: auto, from the latency and the rate limit;"
        " 1: one stream, in order); customers are written in no particular order",
    )
    _add_filters(export)

    importing = verb("import", help="import or update customers from a CSV file")
    importing.add_argument("file")
    importing.add_argument("--wait", action="store_true", help="follow the job to the end")
    importing.add_argument(
        "--update", action="store_true", help="require a Source_id column (update customers)"
    )

    bulk = verb("bulk-update", help="update customers from a JSON Lines file")
    bulk.add_argument("file", help="one JSON object per line, each with a source_id")
    bulk.add_argument("--wait", action="store_true", help="follow the job to the end")

    return parser


#: Library wording that names Python arguments, and the command line's words for them.
_FLAG_WORDS = (("update_existing=True", "--update"),)
_CALL_PREFIX = re.compile(r"^[a-z_]+\(\):? ")


def _one_line(error: BaseException) -> str:
    if isinstance(error, APIStatusError):
        return f"error: {error.summary()}"
    message = _CALL_PREFIX.sub("", str(error))
    for python, flag in _FLAG_WORDS:
        message = message.replace(python, flag)
    return f"error: {message}"


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the exit flush does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests): nothing to flush at exit
        pass


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the command line; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        return cmd_emulator(arguments[1:])
    if arguments[:1] == ["demo"]:
        from .demo import main as demo_main

        return demo_main(arguments[1:], prog="voucherify-async demo")
    parser = build_parser()
    try:
        with redirect_stdout(out), redirect_stderr(err):  # argparse writes to sys.std*
            args = parser.parse_args(arguments)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        if args.command == "load":
            # dlt runs its own event loop: the load is not run on one of ours.
            return cmd_load(args, out, err)
        return int(asyncio.run(COMMANDS[args.verb](args, out, err)))
    except Usage as usage:
        err.write(f"error: {usage}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`| head -1`): not an error of ours, and nothing to say.
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (ConfigurationError, CsvError) as error:  # the file or the options, not the API
        err.write(_one_line(error) + "\n")
        return EXIT_USAGE
    except (VoucherifyError, ValueError, TypeError, OSError) as error:
        err.write(_one_line(error) + "\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
