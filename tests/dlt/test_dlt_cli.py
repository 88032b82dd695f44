"""``voucherify-async load``: the emulator over HTTP into a real DuckDB file, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt_helpers import change, cli, connection, requests_seen, run

from voucherify_async import ConfigurationError
from voucherify_async.dlt import RESOURCES
from voucherify_async.dlt import _load as load_module
from voucherify_async.emulator import Emulator


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
        (["--parallel", "0"],
         "error: --parallel: must be at least 1, got 0 (see voucherify-async load --help)"),
        (["--margin", "-1"], "error: --margin: must be a number of seconds, 0 or more,"
         " got '-1' (see voucherify-async load --help)"),
        (["--margin", "nan"], "error: --margin: must be a number of seconds, 0 or more,"
         " got 'nan' (see voucherify-async load --help)"),
        (["--margin", "5s"], "error: --margin: must be a number of seconds, 0 or more,"
         " got '5s' (see voucherify-async load --help)"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line_and_no_request(
    voucherify_emulator: Emulator, tmp_path: Path, options: list[str], message: str
) -> None:
    path = tmp_path / "never.duckdb"
    code, out, err = cli("load", "--path", str(path), *options, *connection(voucherify_emulator))
    assert code == 2
    assert err == message + "\n"
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


def test_an_unknown_destination_is_one_line_and_no_request(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("load", "--to", "warehouse9", *connection(voucherify_emulator))
    assert code == 2
    assert out == ""
    assert err.startswith("error: --to: dlt knows no destination 'warehouse9'; choose from ")
    assert "duckdb, " in err and "postgres, " in err and "filesystem, " in err
    assert err.endswith(
        ", or a destination named in dlt's configuration (destination.warehouse9"
        ".destination_type)\n"
    )
    assert err.count("\n") == 1
    assert requests_seen(voucherify_emulator) == 0
    assert list(tmp_path.iterdir()) == []


def test_path_goes_with_duckdb_only(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    code, out, err = cli("load", "--to", "postgres", "--path", str(path),
                         *connection(voucherify_emulator))  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "error: --path goes with --to duckdb only; --to postgres takes its location from"
        " dlt's configuration\n"
    )
    assert requests_seen(voucherify_emulator) == 0
    assert not path.exists()


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be made in: read-only by mode, or (as root, whom modes do not
    stop) one of the kernel's."""
    if os.geteuid() == 0:
        return Path("/sys")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("case", ["folder", "no parent", "file parent", "unwritable"])
def test_a_path_that_cannot_be_written_is_one_line_naming_it(
    voucherify_emulator: Emulator, tmp_path: Path, case: str
) -> None:
    (tmp_path / "a-file").write_text("")
    given, problem = {
        "folder": (str(tmp_path), "is a folder, not a DuckDB file"),
        "no parent": (f"{tmp_path}/missing/w.duckdb", f"its folder '{tmp_path}/missing' does"
                      " not exist"),
        "file parent": (f"{tmp_path}/a-file/w.duckdb", f"its folder '{tmp_path}/a-file' is"
                        " not a folder"),
        "unwritable": (f"{unwritable_folder(tmp_path)}/w.duckdb", ""),
    }[case]  # fmt: skip
    code, out, err = cli("load", "--path", given, *connection(voucherify_emulator))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: --path {given!r}: ")
    if problem:
        assert err == f"error: --path {given!r}: {problem}\n"
    else:
        folder = str(Path(given).parent)
        assert err.startswith(f"error: --path {given!r}: its folder {folder!r} cannot be written")
    assert err.count("\n") == 1
    assert requests_seen(voucherify_emulator) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) in (["a-file"], ["a-file", "read-only"])


def test_a_pipelines_dir_that_cannot_be_written_is_one_line(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    given = f"{unwritable_folder(tmp_path)}/state/here"
    code, out, err = cli("load", "--path", str(tmp_path / "w.duckdb"), "--pipelines-dir", given,
                         *connection(voucherify_emulator))  # fmt: skip
    assert (code, out) == (2, "")
    folder = str(Path(given).parent.parent)
    assert err.startswith(
        f"error: --pipelines-dir {given!r}: its folder {folder!r} cannot be written to ("
    )
    assert err.count("\n") == 1
    assert requests_seen(voucherify_emulator) == 0
    assert not (tmp_path / "w.duckdb").exists()


def test_missing_destination_credentials_are_one_line_before_any_request(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .dlt/secrets.toml of the working directory
    code, out, err = cli("load", "--to", "postgres", *connection(voucherify_emulator))
    assert (code, out) == (2, "")
    assert err == (
        "error: destination 'postgres' cannot be reached: no credentials configured; set"
        " DESTINATION__POSTGRES__CREDENTIALS in the environment or [destination.postgres] in"
        " .dlt/secrets.toml\n"
    )
    assert requests_seen(voucherify_emulator) == 0


def test_any_destination_dlt_knows_filesystem(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(voucherify_emulator.seed_customers(30))
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "bucket").as_uri())
    code, out, err = cli("load", "--to", "filesystem", *connection(voucherify_emulator))
    assert code == 0, err
    assert out == 'SELECT count(*) FROM "voucherify"."customers" -> 30\n'
    assert list((tmp_path / "bucket" / "voucherify" / "customers").glob("*.parquet"))


def test_margin_is_the_sources_margin(
    voucherify_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def source(**options: Any) -> Any:
        seen.append(options.get("margin", "default"))
        raise ConfigurationError("stopped here")

    monkeypatch.setattr(load_module, "voucherify_source", source)
    for margin in (["--margin", "2.5"], ["--margin", "0"], []):
        code, _, err = cli("load", "--path", str(tmp_path / "w.duckdb"), *margin,
                           *connection(voucherify_emulator))  # fmt: skip
        assert (code, err) == (2, "error: stopped here\n")
    assert seen == [timedelta(seconds=2.5), timedelta(0), "default"]


def test_deletions_after_the_load_delete_or_mark(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    emu = voucherify_emulator
    run(emu.seed_customers(300, step_ms=3))
    ids = run(emu.customer_ids())
    path = tmp_path / "warehouse.duckdb"
    code, out, err = cli(*connection(emu), "load", "--path", str(path))
    assert code == 0, err
    gone = [ids[10], ids[150], ids[290]]
    run(_delete(emu, gone[:2]))

    code, out, err = cli(*connection(emu), "load", "--path", str(path), "--deletions", "mark")
    assert code == 0, err
    assert out == 'SELECT count(*) FROM "voucherify"."customers" -> 300\n'
    (line,) = [line for line in err.splitlines() if line.startswith("deletions:")]
    assert line.startswith("deletions: 2 marked deleted in ")
    with duckdb.connect(str(path), read_only=True) as db:
        marked = db.execute("SELECT id FROM voucherify.customers WHERE deleted_at IS NOT NULL")
        assert {row[0] for row in marked.fetchall()} == set(gone[:2])

    run(_delete(emu, gone[2:]))
    code, out, err = cli(*connection(emu), "load", "--path", str(path), "--deletions", "delete")
    assert code == 0, err
    assert out == 'SELECT count(*) FROM "voucherify"."customers" -> 297\n'
    assert "deletions: 3 deleted in " in err
    with duckdb.connect(str(path), read_only=True) as db:
        left = {row[0] for row in db.execute("SELECT id FROM voucherify.customers").fetchall()}
    assert left == set(ids) - set(gone)

    code, _, err = cli(*connection(emu), "load", "--path", str(path), "--deletions", "drop")
    assert code == 2
    assert "--deletions: invalid choice: 'drop' (choose from 'delete', 'mark')" in err


async def _delete(emulator: Emulator, ids: list[str]) -> None:
    async with emulator.client() as vf:
        for customer_id in ids:
            await vf.customers.delete(customer_id)
