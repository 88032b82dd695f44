"""One call from the API to a destination: check the destination, then run the pipeline."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.common.pipeline import LoadInfo
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from .._exceptions import ConfigurationError, DestinationUnreachableError
from ._source import voucherify_source

__all__ = [
    "DEFAULT_DATASET",
    "DestinationUnreachableError",
    "check_destination",
    "count_rows",
    "load",
    "pipeline",
]

#: The dataset (schema) the tables land in unless told otherwise.
DEFAULT_DATASET = "voucherify"


def pipeline(
    *,
    destination: Any = "duckdb",
    duckdb_path: str | os.PathLike[str] | None = None,
    dataset_name: str = DEFAULT_DATASET,
    pipeline_name: str = "voucherify",
    pipelines_dir: str | os.PathLike[str] | None = None,
    duckdb_memory_limit: str | None = "256MB",
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
            most of the machine's memory.

    Returns:
        The pipeline; pass it to `load`.

    Raises:
        ConfigurationError: a DuckDB file named like the dataset, or ``duckdb_path`` with
            another destination.
    """
    if destination == "duckdb":
        path = Path(duckdb_path if duckdb_path is not None else "customers.duckdb")
        if path.stem == dataset_name:
            raise ConfigurationError(
                f"duckdb_path {str(path)!r}: the file's name must differ from dataset_name"
                f" {dataset_name!r} (DuckDB cannot tell the file's catalog from the schema)"
            )
        settings = {} if duckdb_memory_limit is None else {"memory_limit": duckdb_memory_limit}
        destination = dlt.destinations.duckdb(
            credentials=DuckDbCredentials(str(path), global_config=settings or None)
        )
    elif duckdb_path is not None:
        raise ConfigurationError("duckdb_path goes with destination='duckdb' only")
    if pipelines_dir is None:
        return dlt.pipeline(
            pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name
        )
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=dataset_name,
        pipelines_dir=str(pipelines_dir),
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
    destination = target.destination
    if destination is not None and destination.destination_type.endswith(".duckdb"):
        # DuckDB parses dlt's default INSERT files slowly and with gigabytes of memory at
        # scale; it reads JSON lines in one pass.
        info: LoadInfo = target.run(source, loader_file_format="jsonl")
    else:
        info = target.run(source)
    return info


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
