"""``voucherify-async load``: the emulator over HTTP into a real DuckDB file, and its errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dlt_helpers import change, requests_seen, run

from voucherify_async.dlt import RESOURCES
from voucherify_async.emulator import Emulator
from voucherify_async.tools.cli import main


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def connection(emulator: Emulator) -> list[str]:
    return ["--app-id", emulator.app_id, "--app-token", emulator.app_token,
            "--base-url", emulator.url]  # fmt: skip


def count(path: Path, table: str = "customers") -> int:
    with duckdb.connect(str(path), read_only=True) as db:
        row = db.execute(f"SELECT count(*) FROM voucherify.{table}").fetchone()
    assert row is not None
    return int(row[0])


def test_load_then_again_then_full_refresh(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(250))
    ids = run(emu.customer_ids())
    run(emu.seed_segment("vip", ids[:10]))
    path = tmp_path / "warehouse.duckdb"

    # The connection options before the command, as for the other commands.
    code, out, err = cli(*connection(emu), "load", "--to", "duckdb", "--path", str(path),
                         "--resources", "customers,customer_segments")  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [
        'SELECT count(*) FROM "voucherify"."customers" -> 250',
        'SELECT count(*) FROM "voucherify"."customer_segments" -> 10',
    ]
    assert count(path) == 250 and count(path, "customer_segments") == 10
    assert (tmp_path / "warehouse.duckdb.dlt").is_dir()  # dlt's state, next to the file

    # An incremental run: the changes arrive, the deleted customers' rows stay ...
    run(change(emu, ids[20:23], ids[30:35]))
    code, out, err = cli("load", "--path", str(path), *connection(emu))
    assert code == 0, err
    assert out == 'SELECT count(*) FROM "voucherify"."customers" -> 250\n'
    with duckdb.connect(str(path), read_only=True) as db:
        renamed = db.execute(
            "SELECT count(*) FROM voucherify.customers WHERE name LIKE 'renamed %'"
        )
        assert renamed.fetchone() == (3,)

    # ... until a full refresh loads everything again, into emptied tables.
    code, out, err = cli("load", "--path", str(path), "--full-refresh", *connection(emu))
    assert code == 0, err
    assert out == 'SELECT count(*) FROM "voucherify"."customers" -> 245\n'
    with duckdb.connect(str(path), read_only=True) as db:
        left = {cid for (cid,) in db.execute("SELECT id FROM voucherify.customers").fetchall()}
    assert left == set(ids) - set(ids[30:35])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--resources", "customers,bogus"],
         "error: --resources: unknown 'bogus'; choose from " + ", ".join(RESOURCES)),
        (["--resources", ","], "error: --resources: unknown empty selection; choose from "
         + ", ".join(RESOURCES)),
        (["--to", "postgres"],
         "error: --to: invalid choice: 'postgres' (choose from 'duckdb')"
         " (see voucherify-async load --help)"),
        (["--parallel", "0"],
         "error: --parallel: must be at least 1, got 0 (see voucherify-async load --help)"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line_and_no_request(
    voucherify_emulator: Emulator, tmp_path: Path, options: list[str], message: str
) -> None:
    path = tmp_path / "never.duckdb"
    code, out, err = cli("load", "--path", str(path), *options, *connection(voucherify_emulator))
    assert code == 2
    # Python 3.12 quotes argparse's choices differently; the words are the same.
    assert err.replace("(choose from duckdb)", "(choose from 'duckdb')") == message + "\n"
    assert out == ""
    assert requests_seen(voucherify_emulator) == 0
    assert not path.exists()


def test_missing_credentials_are_those_of_every_command(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "never.duckdb"
    code, _, err = cli("load", "--path", str(path), "--base-url", voucherify_emulator.url)
    assert code == 2
    assert err == (
        "error: no credentials: set VOUCHERIFY_APP_ID and VOUCHERIFY_APP_TOKEN (and"
        " VOUCHERIFY_BASE_URL for another host), or pass --app-id and --app-token\n"
    )
    assert requests_seen(voucherify_emulator) == 0
    assert not path.exists()


def test_an_api_error_while_loading_is_one_line_with_status_1(
    voucherify_emulator: Emulator, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run(voucherify_emulator.seed_customers(5))
    code, out, err = cli("load", "--path", str(tmp_path / "w.duckdb"), "--app-id",
                         voucherify_emulator.app_id, "--app-token", "not-the-token",
                         "--base-url", voucherify_emulator.url)  # fmt: skip
    assert code == 1
    assert out == ""
    assert err.startswith("error: the load failed at dlt's extract step: 401 unauthorized")
    assert err.count("\n") == 1
    assert "not-the-token" not in err
    assert "Traceback" not in capfd.readouterr().err


def test_without_the_dlt_extra_it_says_what_to_install(tmp_path: Path) -> None:
    # dlt cannot be imported (as without the extra); nothing else is different.
    code = (
        "import sys; sys.modules['dlt'] = None\n"
        "from voucherify_async.tools.cli import main\n"
        "sys.exit(main(['load', '--to', 'duckdb', '--path', 'w.duckdb', '--app-id', 'a',"
        " '--app-token', 'b']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert (
        result.stderr == "error: loading needs the dlt extra: pip install 'voucherify-async[dlt]'\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "w.duckdb").exists()
