"""One call from the API to a destination: check the destination, then run the pipeline."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.common.pipeline import LoadInfo
from dlt.common.typing import TRefreshMode
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from .._exceptions import ConfigurationError, DestinationUnreachableError
from ._source import voucherify_source

__all__ = [
    "DEFAULT_DATASET",
    "DUCKDB_FILE_BYTES",
    "REFRESH_MODES",
    "DestinationUnreachableError",
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


def check_destination(target: dlt.Pipeline) -> None:
    """Open a connection to the pipeline's destination and run ``SELECT 1``.

    Destinations without SQL (files, buckets) are left to the load to check.

    Raises:
        DestinationUnreachableError: the destination cannot be opened or queried.
    """
    try:
        with target.sql_client() as client:
            client.execute_sql("SELECT 1")
    except SqlClientNotAvailable:
        return
    except Exception as exc:
        name = target.destination.destination_name if target.destination else "?"
        raise DestinationUnreachableError(
            f"destination {name!r} cannot be reached ({type(exc).__name__}: {exc});"
            " check its credentials and that it is running"
        ) from None


def load(target: dlt.Pipeline | None = None, **source_options: Any) -> LoadInfo:
    """Load Voucherify into the pipeline's destination: check everything, then run.

    The source's options and the destination are both checked before the first request
    to the API, so a bad configuration costs one clear error and no fetching. Packages a
    killed or failed run left behind are loaded first, then the source is run.

    Args:
        target: the pipeline (default: `pipeline()`, a ``customers.duckdb`` file).
        **source_options: the arguments of `voucherify_source`.

    Returns:
        dlt's load info.

    Raises:
        ConfigurationError: bad source options or missing credentials.
        DestinationUnreachableError: the destination cannot be opened.

    Examples:
        ```python
        from voucherify_async.dlt import load, pipeline

        load(pipeline(duckdb_path="customers.duckdb"), resources=["customers"])
        ```
    """
    source = voucherify_source(**source_options)
    target = target if target is not None else pipeline()
    check_destination(target)
    if target.has_pending_data:
        # A run that was killed or failed after fetching left packages behind: load them
        # first (dlt's own run would load only those and skip the new fetch).
        target.run()
    info: LoadInfo = target.run(source, loader_file_format=file_format(target))
    return info


def file_format(target: dlt.Pipeline) -> Any:
    """The loader file format for the pipeline's destination: parquet where it takes it.

    Parquet carries the column types the models give, so the destination infers nothing
    from the values (a JSON lines file read by DuckDB is typed from a sample of its rows);
    a destination without parquet gets its own preferred format.
    """
    destination = target.destination
    if destination is None:
        return None
    capabilities = destination.capabilities()
    if "parquet" in capabilities.supported_loader_file_formats:
        return "parquet"
    return capabilities.preferred_loader_file_format


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
