"""A SQLite sink that commits each page and its checkpoint together: exactly-once scans.

Standard library only. Customers are upserted by id into one table; the scan's checkpoints
live in another table of the same database and are written in the same transaction as the
page they follow, so after a crash the database holds either the page and its checkpoint
or neither: a resumed partition writes every customer exactly once. Each row also counts
how many times it was written (``writes``), which makes a repeated delivery visible.

Examples:
    ```python
    sink = SQLiteSink("customers.db")
    await scan_partition(vf, partition, sink)  # the sink is the checkpoint store too
    print(sink.count(), sink.rewritten())
    ```
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

if TYPE_CHECKING:
    from ..models import Customer

__all__ = ["SQLiteSink"]

T = TypeVar("T")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class SQLiteSink:
    """Upserts customers by id into SQLite, with the scan's checkpoints in the same database.

    Args:
        path: the database file (created if missing); many processes may share it.
        table: the customers table's name (``[A-Za-z_][A-Za-z0-9_]*``).
        timeout: seconds to wait for another process's write lock.

    Raises:
        ValueError: a bad table name.
    """

    def __init__(self, path: str | Path, *, table: str = "customers", timeout: float = 30.0):
        if not isinstance(table, str) or not _NAME.fullmatch(table):
            raise ValueError(f"table must be a plain SQL name like 'customers', got {table!r}")
        self.path = Path(path)
        self.table = table
        self._timeout = timeout
        self._run(self._create)

    def _create(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table} (id TEXT PRIMARY KEY, source_id TEXT,"
            " created_at TEXT, data BLOB NOT NULL, writes INTEGER NOT NULL DEFAULT 1)"
        )
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {self.table}_checkpoints"
            " (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )

    def __repr__(self) -> str:
        return f"SQLiteSink({str(self.path)!r}, table={self.table!r})"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        return db

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on a fresh connection, closed after; again while the file is locked.

        SQLite's busy timeout covers most waits, but not all of them: a connection that
        finds the WAL of a process killed mid-write answers "database is locked" at once
        while another one recovers it. ``work`` is one transaction (or a read), so running
        it again is safe; it is tried until ``timeout`` seconds have passed.
        """
        deadline = time.monotonic() + self._timeout
        while True:
            db = self._connect()
            try:
                return work(db)
            except BaseException as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                locked = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
                if not locked or time.monotonic() >= deadline:
                    raise
            finally:
                db.close()
            time.sleep(0.05)

    async def write(self, key: str, customers: Sequence[Customer], checkpoint: bytes) -> None:
        """Upsert one page of customers and save ``checkpoint`` under ``key``, atomically."""
        rows = [
            (
                customer.id,
                customer.source_id,
                None if customer.created_at is None else customer.created_at.isoformat(),
                msgspec.json.encode(customer),
            )
            for customer in customers
        ]

        def upsert(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                f"INSERT INTO {self.table} (id, source_id, created_at, data) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET source_id = excluded.source_id,"
                " created_at = excluded.created_at, data = excluded.data,"
                f" writes = {self.table}.writes + 1",
                rows,
            )
            self._put(db, key, checkpoint)
            db.execute("COMMIT")

        self._run(upsert)

    def _put(self, db: sqlite3.Connection, key: str, checkpoint: bytes) -> None:
        db.execute(
            f"INSERT INTO {self.table}_checkpoints (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, checkpoint),
        )

    async def load(self, key: str) -> bytes | None:
        """The checkpoint saved under ``key``, or ``None``."""
        query = f"SELECT value FROM {self.table}_checkpoints WHERE key = ?"
        row = self._run(lambda db: db.execute(query, (key,)).fetchone())
        return None if row is None else bytes(row[0])

    async def save(self, key: str, checkpoint: bytes) -> None:
        """Save ``checkpoint`` under ``key`` (used for the final, ``done`` checkpoint)."""
        self._run(lambda db: self._put(db, key, checkpoint))

    def count(self) -> int:
        """How many distinct customers the table holds."""
        query = f"SELECT COUNT(*) FROM {self.table}"
        return self._run(lambda db: int(db.execute(query).fetchone()[0]))

    def rewritten(self) -> int:
        """How many writes repeated a customer already written (0 for an exactly-once scan)."""
        query = f"SELECT COALESCE(SUM(writes - 1), 0) FROM {self.table}"
        return self._run(lambda db: int(db.execute(query).fetchone()[0]))

    def ids(self) -> set[str]:
        """The ids of every customer in the table."""
        query = f"SELECT id FROM {self.table}"
        return self._run(lambda db: {row[0] for row in db.execute(query)})
