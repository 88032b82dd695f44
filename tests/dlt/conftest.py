"""Every dlt test: no usage reports, no state under the home directory, no VOUCHERIFY_ env.

Also ``postgres_dsn``: a fresh database on the test Postgres that
``scripts/ensure-postgres.sh`` starts, for the tests that load into Postgres.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

#: Where the Postgres tests load: a server on this machine (scripts/ensure-postgres.sh).
POSTGRES_DSN_VARIABLE = "VOUCHERIFY_TEST_POSTGRES_DSN"
POSTGRES_DSN = "postgresql://voucherify:voucherify-test@127.0.0.1:55432/voucherify"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@pytest.fixture(autouse=True)
def _quiet_dlt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Tests talk only to 127.0.0.1: no usage reports, no state under the home directory.
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt-data"))
    for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "VOUCHERIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # Nothing of the developer's own dlt configuration: only what a test sets.
    for name in list(os.environ):
        if name.startswith("DESTINATION__"):
            monkeypatch.delenv(name)


def _without_password(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def postgres_dsn(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new, empty database on the test Postgres, dropped after the test; its DSN.

    The server is ``$VOUCHERIFY_TEST_POSTGRES_DSN`` (default: the one
    ``scripts/ensure-postgres.sh`` starts); its role needs ``CREATEDB``. The DSN is also
    set as ``DESTINATION__POSTGRES__CREDENTIALS``, where dlt finds it. Without a server
    the test fails, saying how to start one.
    """
    import psycopg2  # type: ignore[import-untyped,unused-ignore]

    base = os.environ.get(POSTGRES_DSN_VARIABLE, POSTGRES_DSN)
    parts = urlsplit(base)
    if parts.hostname not in _LOOPBACK:
        pytest.fail(
            f"{POSTGRES_DSN_VARIABLE} must name a server on this machine (127.0.0.1),"
            f" got {_without_password(base)}",
            pytrace=False,
        )
    reason = ""
    try:
        admin = psycopg2.connect(base, connect_timeout=10)
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if reason:
        pytest.fail(
            f"Postgres is not reachable at {_without_password(base)} ({reason}): start it"
            f" with `sh scripts/ensure-postgres.sh`, or set {POSTGRES_DSN_VARIABLE}",
            pytrace=False,
        )
    admin.autocommit = True
    database = f"vf_test_{uuid.uuid4().hex[:16]}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{database}"')
        dsn = urlunsplit(parts._replace(path=f"/{database}"))
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dsn)
        yield dsn
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
