"""One call from the API to a destination: check the destination, then run the pipeline."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.configuration.specs.base_configuration import is_secret_hint
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.common.exceptions import MissingDependencyException
from dlt.common.pipeline import LoadInfo
from dlt.common.typing import TRefreshMode
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed

from .._exceptions import ConfigurationError, DestinationUnreachableError, VoucherifyError
from ._source import voucherify_source

__all__ = [
    "DEFAULT_DATASET",
    "DUCKDB_FILE_BYTES",
    "REFRESH_MODES",
    "DestinationUnreachableError",
    "LoadFailedError",
    "check_destination",
    "count_rows",
    "load",
    "pipeline",
]

#: The dataset (schema) the tables land in unless told otherwise.
DEFAULT_DATASET = "voucherify"

#: The most bytes (before compression) of one file dlt hands DuckDB to load; about
#: 100,000 customers. Each file is one load job, so the work of a job stays the same
#: however many customers a run loads.
DUCKDB_FILE_BYTES = 32 * 1024 * 1024

#: What ``pipeline(refresh=...)`` takes: dlt's refresh modes.
REFRESH_MODES: tuple[TRefreshMode, ...] = ("drop_data", "drop_resources", "drop_sources")

#: What a `LoadFailedError` advises, from Python.
DROP_PENDING_ADVICE = (
    "fix the destination and run again, or run load(..., drop_pending=True) to discard"
    " it and fetch its range again"
)

# ``scheme://user:password@`` and ``password=...`` in a driver's message.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")
_KEY_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


class LoadFailedError(VoucherifyError):
    """A run's data was fetched but the destination did not take it (dlt's normalize or load step).

    dlt keeps that data as a pending load package, and every later `load` tries it again
    first: until the destination takes it, each of them fails with this same error rather
    than fetching anything. The incremental state that package carries is not committed, so
    nothing is lost by discarding it: ``load(..., drop_pending=True)`` drops it, rewinds
    the state to where the last finished run left it, and fetches that range again.

    Attributes:
        step: dlt's step that failed, ``"load"`` or ``"normalize"``.
        table: the table whose job failed, when dlt says.
        reason: the destination's own reason, on one line.
        load_id: the id of dlt's load package that is kept.
        summary: the error without the advice: what failed, where, and why.

    Examples:
        ```python
        from voucherify_async.dlt import LoadFailedError, load, pipeline

        target = pipeline(duckdb_path="customers.duckdb")
        try:
            load(target)
        except LoadFailedError as error:
            print(error.summary)  # then fix the table, and:
            load(target, drop_pending=True)
        ```
    """

    def __init__(
        self,
        *,
        step: str,
        table: str | None,
        reason: str,
        load_id: str | None,
    ) -> None:
        self.step = step
        self.table = table
        self.reason = reason
        self.load_id = load_id
        where = f"table {table!r}: " if table else ""
        self.summary = f"the load failed at dlt's {step} step: {where}{reason}"
        super().__init__(
            f"{self.summary}; the data it fetched is kept and loaded first by every later run:"
            f" {DROP_PENDING_ADVICE}"
        )


def pipeline(
    *,
    destination: Any = "duckdb",
    duckdb_path: str | os.PathLike[str] | None = None,
    dataset_name: str = DEFAULT_DATASET,
    pipeline_name: str = "voucherify",
    pipelines_dir: str | os.PathLike[str] | None = None,
    duckdb_memory_limit: str | None = "128MB",
    duckdb_threads: int | None = 1,
    duckdb_file_bytes: int | None = DUCKDB_FILE_BYTES,
    refresh: TRefreshMode | None = None,
) -> dlt.Pipeline:
    """A dlt pipeline into ``destination`` (a DuckDB file by default).

    Args:
        destination: a dlt destination name or object (``"duckdb"``, ``"postgres"``,
            ``"bigquery"``, ...); its credentials come from dlt's configuration.
        duckdb_path: the DuckDB file, when the destination is ``"duckdb"`` (default:
            ``customers.duckdb`` in the working directory).
        dataset_name: the schema the tables land in.
        pipeline_name: the name dlt keeps the incremental state under.
        pipelines_dir: where dlt keeps its working files and local state.
        duckdb_memory_limit: DuckDB's ``memory_limit`` while loading (it spills to disk
            past it), so that a large load's memory stays flat; ``None``: DuckDB's default,
            most of the machine's memory. Raise it with ``duckdb_threads``: DuckDB's need
            grows with its threads.
        duckdb_threads: the threads DuckDB loads with; ``None``: one per core.
        duckdb_file_bytes: the most bytes (uncompressed) of one file dlt hands DuckDB,
            each file one load job (default `DUCKDB_FILE_BYTES`); ``None``: one file per
            table and run, however large.
        refresh: ``"drop_data"``: every run of this pipeline first empties the tables of
            the resources it loads and forgets their incremental state, so it loads
            everything again (and customers deleted in the API leave the table);
            ``"drop_resources"`` drops those tables instead, ``"drop_sources"`` every
            table and state of the source (dlt's ``refresh``). ``None``: runs after the
            first are incremental.

    Into DuckDB, the pipeline also loads the files one at a time and lets DuckDB store
    rows in any order (``preserve_insertion_order=false``): with the limits above, the
    memory of a load does not grow with the number of customers (see docs/dlt.md,
    "Memory").

    Returns:
        The pipeline; pass it to `load`.

    Raises:
        ConfigurationError: a DuckDB file named like the dataset, ``duckdb_path`` with
            another destination, a bad ``duckdb_*`` option or an unknown ``refresh``.
    """
    if refresh is not None and refresh not in REFRESH_MODES:
        raise ConfigurationError(
            f"refresh must be None or one of {', '.join(REFRESH_MODES)}, got {refresh!r}"
        )
    if destination == "duckdb":
        path = Path(duckdb_path if duckdb_path is not None else "customers.duckdb")
        if path.stem == dataset_name:
            raise ConfigurationError(
                f"duckdb_path {str(path)!r}: the file's name must differ from dataset_name"
                f" {dataset_name!r} (DuckDB cannot tell the file's catalog from the schema)"
            )
        destination = _duckdb(path, duckdb_memory_limit, duckdb_threads, duckdb_file_bytes)
    elif duckdb_path is not None:
        raise ConfigurationError("duckdb_path goes with destination='duckdb' only")
    options: dict[str, Any] = {}
    if pipelines_dir is not None:
        options["pipelines_dir"] = str(pipelines_dir)
    if refresh is not None:
        options["refresh"] = refresh
    made: dlt.Pipeline = dlt.pipeline(
        pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name, **options
    )
    return made


def _duckdb(
    path: Path, memory_limit: str | None, threads: int | None, file_bytes: int | None
) -> Any:
    """The DuckDB destination, set up for memory that stays flat with the load's size."""
    if memory_limit is not None and (not isinstance(memory_limit, str) or not memory_limit):
        raise ConfigurationError(
            f"duckdb_memory_limit must be a size such as '128MB' or '1GB', or None,"
            f" got {memory_limit!r}"
        )
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigurationError(f"duckdb_threads must be an int >= 1 or None, got {threads!r}")
    if file_bytes is not None and (
        isinstance(file_bytes, bool) or not isinstance(file_bytes, int) or file_bytes < 1
    ):
        raise ConfigurationError(
            f"duckdb_file_bytes must be an int >= 1 or None, got {file_bytes!r}"
        )
    settings: dict[str, Any] = {"preserve_insertion_order": False}
    if memory_limit is not None:
        settings["memory_limit"] = memory_limit
    if threads is not None:
        settings["threads"] = threads
    return dlt.destinations.duckdb(
        credentials=DuckDbCredentials(str(path), global_config=settings),
        # Capabilities of this destination only: normalize starts a new file past this
        # size, and the loader runs one file's job at a time (jobs loaded side by side
        # would share, and overrun, the one memory limit).
        recommended_file_size=file_bytes,
        loader_parallelism_strategy="sequential",
    )


def duckdb_path_problem(path: str | os.PathLike[str]) -> str | None:
    """What keeps a DuckDB file from being created or written at ``path``, or ``None``.

    Its folder must exist and take a new file (tried by creating, then removing, one), and
    the path must not be a folder. dlt keeps its own files next to it by default, so a
    folder that cannot be written to would fail the load after the fetch.

    Args:
        path: the DuckDB file, as given.

    Returns:
        The problem, to follow the path in a message (``"is a folder, not a file"``), or
        ``None`` when the file can be created or opened.
    """
    where = Path(path)
    if where.is_dir():
        return "is a folder, not a DuckDB file"
    return folder_problem(where.parent if str(where.parent) else Path("."), "its folder")


def folder_problem(folder: Path, name: str | None = None) -> str | None:
    """What keeps a new file from being made in ``folder``, or ``None``.

    Args:
        folder: the folder to try.
        name: what to call it in the message (``"its folder"``: ``its folder '/x' does not
            exist``); ``None``: the message is about the folder itself (``does not exist``).
    """
    called = f"{name} {str(folder)!r} " if name else ""
    if not folder.exists():
        return f"{called}does not exist"
    if not folder.is_dir():
        return f"{called}is not a folder"
    try:
        handle, probe = tempfile.mkstemp(prefix=".voucherify-probe-", dir=folder)
    except OSError as exc:
        return f"{called}cannot be written to ({exc.strerror or exc})"
    os.close(handle)
    os.unlink(probe)
    return None


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _secrets(target: dlt.Pipeline) -> list[str]:
    """The secret values of the destination's credentials (a password), as configured."""
    destination = target.destination
    if destination is None:
        return []
    try:
        config = destination.configuration(destination.spec(), accept_partial=True)
        credentials = getattr(config, "credentials", None)
        if credentials is None or not hasattr(credentials, "get_resolvable_fields"):
            return []
        fields = credentials.get_resolvable_fields().items()
        found = [getattr(credentials, key, None) for key, hint in fields if is_secret_hint(hint)]
    except Exception:
        return []
    return [value for value in found if isinstance(value, str) and len(value) >= 3]


def without_secrets(text: str, target: dlt.Pipeline) -> str:
    """``text`` with the destination's secrets and any password in it replaced by ``***``.

    Args:
        text: a message that may quote the destination's configuration.
        target: the pipeline whose destination's credentials to look for.

    Returns:
        The message, safe to print or log.
    """
    for secret in _secrets(target):
        text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEY_PASSWORD.sub(r"\1***", text)


def check_destination(target: dlt.Pipeline) -> None:
    """Open a connection to the pipeline's destination and run ``SELECT 1``.

    A DuckDB file's folder is checked first (it must exist and take a new file).
    Destinations without SQL are left to the load to check. The error is one line and
    never holds the destination's password.

    Raises:
        DestinationUnreachableError: the destination is not configured, or cannot be
            opened or queried.
    """
    destination = target.destination
    name = destination.destination_name if destination is not None else "?"
    credentials = destination.config_params.get("credentials") if destination else None
    if isinstance(credentials, DuckDbCredentials) and isinstance(credentials.database, str):
        problem = duckdb_path_problem(credentials.database)
        if problem is not None:
            raise DestinationUnreachableError(
                f"destination {name!r} cannot be opened: {credentials.database!r} {problem}"
            )
    try:
        with target.sql_client() as client:
            client.execute_sql("SELECT 1")
    except SqlClientNotAvailable:
        return
    except ConfigFieldMissingException as exc:
        fields = ", ".join(exc.fields) or "configuration"
        key = f"DESTINATION__{name.upper()}__{(exc.fields or ['credentials'])[0].upper()}"
        raise DestinationUnreachableError(
            f"destination {name!r} cannot be reached: no {fields} configured; set {key} in"
            f" the environment or [destination.{name}] in .dlt/secrets.toml"
        ) from None
    except MissingDependencyException as exc:
        raise DestinationUnreachableError(
            f"destination {name!r} cannot be reached: it needs {', '.join(exc.dependencies)}"
            f" (pip install {' '.join(repr(d) for d in exc.dependencies)})"
        ) from None
    except Exception as exc:
        reason = without_secrets(_first_line(exc), target)
        raise DestinationUnreachableError(
            f"destination {name!r} cannot be reached ({type(exc).__name__}: {reason});"
            " check its credentials and that it is running"
        ) from None


def load(
    target: dlt.Pipeline | None = None,
    *,
    # Any, not bool: options gathered in a dict[str, object] and passed as **options still
    # type-check; the value is checked when called.
    drop_pending: Any = False,
    **source_options: Any,
) -> LoadInfo:
    """Load Voucherify into the pipeline's destination: check everything, then run.

    The source's options and the destination are both checked before the first request
    to the API, so a bad configuration costs one clear error and no fetching. Packages a
    killed or failed run left behind are loaded first, then the source is run.

    A package the destination refuses (a column of another type, a constraint) stays
    pending, and each later run fails on it again with the same `LoadFailedError`, before
    fetching anything. Fix the destination and run again to load it, or pass
    ``drop_pending=True`` to discard it: the incremental state rewinds to where the last
    finished run left it (a pending package's state is never committed), so the run fetches
    that range again and nothing is lost.

    Args:
        target: the pipeline (default: `pipeline()`, a ``customers.duckdb`` file).
        drop_pending: ``True``: discard the packages earlier runs left pending, and their
            incremental state, instead of loading them first (dlt's ``abort_packages``).
        **source_options: the arguments of `voucherify_source`.

    Returns:
        dlt's load info.

    Raises:
        ConfigurationError: bad source options or missing credentials.
        DestinationUnreachableError: the destination is not configured or cannot be
            opened.
        LoadFailedError: the destination did not take the data (this run's, or a package
            left pending by an earlier run); nothing more was fetched.

    Examples:
        ```python
        from voucherify_async.dlt import load, pipeline

        load(pipeline(duckdb_path="customers.duckdb"), resources=["customers"])
        ```
    """
    if not isinstance(drop_pending, bool):
        raise ConfigurationError(f"drop_pending must be True or False, got {drop_pending!r}")
    source = voucherify_source(**source_options)
    target = target if target is not None else pipeline()
    check_destination(target)
    try:
        if target.has_pending_data:
            if drop_pending:
                # Deletes them and restores the state and schemas they started from.
                target.abort_packages()
            else:
                # A run that was killed or failed after fetching left packages behind: load
                # them first (dlt's own run would load only those and skip the new fetch).
                target.run()
        info: LoadInfo = target.run(source, loader_file_format=file_format(target))
    except PipelineStepFailed as exc:
        if exc.step not in ("normalize", "load"):
            raise
        raise _load_failed(exc, target) from None
    return info


def _load_failed(failed: PipelineStepFailed, target: dlt.Pipeline) -> LoadFailedError:
    """The `LoadFailedError` of dlt's failed normalize or load step: the table, the reason."""
    cause: BaseException = failed.exception
    job_id = getattr(cause, "job_id", None)
    # A job is named after its table: "customers.1693b879a8.sql" (dlt's names hold no dot).
    table = None
    if isinstance(job_id, str) and job_id.split(".", 1)[0]:
        table = job_id.split(".", 1)[0]
    inner = getattr(cause, "client_exception", None)
    reason = _first_line(inner if isinstance(inner, BaseException) else cause)
    return LoadFailedError(
        step=failed.step,
        table=table,
        reason=without_secrets(reason, target),
        load_id=failed.load_id,
    )


def file_format(target: dlt.Pipeline) -> Any:
    """The loader file format for the pipeline's destination: parquet where it takes it.

    Parquet carries the column types the models give, so the destination infers nothing
    from the values (a JSON lines file read by DuckDB is typed from a sample of its rows);
    a destination without parquet gets its own preferred format, typed by the table dlt
    creates from the same column hints. Postgres takes parquet only through the ADBC
    driver, so it gets its own format (SQL inserts) too.

    Args:
        target: the pipeline whose destination decides.

    Returns:
        The ``loader_file_format`` to pass to ``pipeline.run``, ``None`` without a
        destination.

    Examples:
        ```python
        file_format(pipeline(duckdb_path="customers.duckdb"))  # 'parquet'
        ```
    """
    destination = target.destination
    if destination is None:
        return None
    capabilities = destination.capabilities()
    name = destination.destination_type.rsplit(".", 1)[-1]
    if (
        "parquet" in capabilities.supported_loader_file_formats
        and name not in _PARQUET_NEEDS_DRIVER
    ):
        return "parquet"
    return capabilities.preferred_loader_file_format


#: Destinations that list parquet but load it only with a driver dlt does not install.
_PARQUET_NEEDS_DRIVER = frozenset({"postgres"})


def count_rows(
    duckdb_path: str | os.PathLike[str],
    table: str = "customers",
    dataset_name: str = DEFAULT_DATASET,
) -> tuple[str, int]:
    """Count a loaded table's rows in a DuckDB file, read only.

    Args:
        duckdb_path: the DuckDB file.
        table: the table to count.
        dataset_name: the schema the table is in.

    Returns:
        The SQL that was run and the count.
    """
    import duckdb

    sql = f'SELECT count(*) FROM "{dataset_name}"."{table}"'
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        row = connection.execute(sql).fetchone()
    return sql, int(row[0]) if row else 0
