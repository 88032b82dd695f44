"""A dlt source for Voucherify customers, built on the client's exactly-once streams.

Needs the ``dlt`` extra (``pip install 'voucherify-async[dlt]'``). The first run loads
every customer; later runs load only the customers changed since, merged on ``id``. See
``docs/dlt.md``.

Examples:
    ```python
    from voucherify_async.dlt import load, pipeline

    load(pipeline(duckdb_path="customers.duckdb"))
    ```
"""

from __future__ import annotations

from ._columns import columns_from_struct
from ._deletions import (
    CHILD_TABLES,
    DEFAULT_SPLIT,
    DEFAULT_WINDOWS,
    DELETED_AT,
    DELETION_MODES,
    DeletionReport,
    sync_deletions,
    sync_deletions_async,
)
from ._load import (
    DEFAULT_DATASET,
    DUCKDB_FILE_BYTES,
    REFRESH_MODES,
    DestinationUnreachableError,
    LoadFailedError,
    check_destination,
    count_rows,
    file_format,
    load,
    pipeline,
)
from ._source import (
    DEFAULT_MARGIN,
    DELETED_COLUMN,
    RESOURCES,
    SCHEMA_CONTRACT_MODES,
    WRITE_DISPOSITIONS,
    ClientFactory,
    customer_row,
    voucherify_source,
)

__all__ = [
    "CHILD_TABLES",
    "DEFAULT_DATASET",
    "DEFAULT_MARGIN",
    "DEFAULT_SPLIT",
    "DEFAULT_WINDOWS",
    "DELETED_AT",
    "DELETED_COLUMN",
    "DELETION_MODES",
    "DUCKDB_FILE_BYTES",
    "REFRESH_MODES",
    "RESOURCES",
    "SCHEMA_CONTRACT_MODES",
    "WRITE_DISPOSITIONS",
    "ClientFactory",
    "DeletionReport",
    "DestinationUnreachableError",
    "LoadFailedError",
    "check_destination",
    "columns_from_struct",
    "count_rows",
    "customer_row",
    "file_format",
    "load",
    "pipeline",
    "sync_deletions",
    "sync_deletions_async",
    "voucherify_source",
]
