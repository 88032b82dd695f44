"""The command line against the emulator: output formats, export, errors, credentials."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from voucherify_async.cli import main
from voucherify_async.emulator import Emulator


@pytest.fixture
def env(voucherify_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name, value in voucherify_emulator.env.items():
        monkeypatch.setenv(name, value)
    return voucherify_emulator


async def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await anyio.to_thread.run_sync(lambda: main(list(argv), out=out, err=err))
    return code, out.getvalue(), err.getvalue()


async def test_get_and_list_formats(env: Emulator) -> None:
    await env.seed_customers(25, city="Warsaw")
    await env.seed_customers(5, city="Oslo")
    code, out, err = await run("customers", "get", "seed-3")
    assert code == 0, err
    assert json.loads(out)["source_id"] == "seed-3"

    code, out, _ = await run("customers", "list", "--city", "Warsaw", "--format", "jsonl")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 25 and {r["address"]["city"] for r in rows} == {"Warsaw"}

    code, out, _ = await run("customers", "list", "--format", "json", "--max", "7")
    assert code == 0 and len(json.loads(out)) == 7

    code, out, _ = await run("customers", "list", "--city", "Oslo", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(parsed) == 5 and parsed[0]["Address_City"] == "Oslo"

    code, out, _ = await run("customers", "list", "--city", "Oslo")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["Id", "Source_id"] and len(lines) == 6


async def test_export_streams_every_match(env: Emulator, tmp_path: Path) -> None:
    await env.seed_customers(1_234, same_created_at=40)
    target = tmp_path / "all.jsonl"
    code, _, err = await run("customers", "export", str(target))
    assert code == 0, err
    ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 1_234
    assert set(ids) == set(await env.customer_ids())
    assert "exported 1234 customers" in err
    as_csv = tmp_path / "all.csv"
    code, _, _ = await run("customers", "export", str(as_csv), "--created-after",
                           "2000-01-01T00:00:00Z")
    assert code == 0 and len(as_csv.read_text().splitlines()) == 1_235


async def test_errors_are_one_line(env: Emulator) -> None:
    code, out, err = await run("customers", "get", "nobody")
    assert code == 1 and out == ""
    assert err.startswith("error: 404 not_found: ") and "[request_id=v-" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = await run("customers", "list", "--created-after", "yesterday")
    assert code == 2 and "--created-after must be an ISO 8601" in err


async def test_missing_credentials_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "VOUCHERIFY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = await run("customers", "get", "x")
    assert code == 2
    assert "VOUCHERIFY_APP_ID" in err and "VOUCHERIFY_APP_TOKEN" in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "list", "--order", "sideways"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_serves_the_emulator(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from voucherify_async.cli import main;"
         " sys.exit(main())", "emulator", "--port", "0", "--seed", "3", "--error-rate", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("VOUCHERIFY_BASE_URL=http://127.0.0.1:")
        assert process.stdout.readline().startswith("VOUCHERIFY_APP_ID=")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0


async def test_import_and_bulk_update_wait_and_report_failures(
    env: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "people.csv"
    data.write_text(
        "Source_id,Name,Email,Birthdate,Tier\n"
        "ann,Ann,ann@example.com,1990-01-01,gold\n"
        "bob,Bob,bob@example.com,not-a-date,silver\n"
        "cy,Cy,cy@example.com,,bronze\n"
    )
    code, _, err = await run("customers", "import", str(data), "--wait", "--update")
    assert code == 1, err  # one row failed
    assert "CSV import: 2 done, 1 failed" in err
    assert "row 2 (bob)" in err
    changes = tmp_path / "changes.jsonl"
    changes.write_text(
        '{"source_id": "ann", "name": "Anna"}\n\n{"source_id": "new", "name": "N"}\n'
    )
    code, _, err = await run("customers", "bulk-update", str(changes), "--wait")
    assert code == 0, err
    assert "bulk update: 2 done, 0 failed" in err
    code, out, _ = await run("customers", "get", "ann")
    assert json.loads(out)["name"] == "Anna"
    code, _, err = await run("customers", "import", str(data))
    assert code == 0 and "not waiting" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source_id": "x"}\n[1]\n')
    code, _, err = await run("customers", "bulk-update", str(bad))
    assert code == 2 and "line 2 is not a JSON object" in err
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("Source_id,First Name\nx,y\n")
    code, _, err = await run("customers", "import", str(spaced))
    assert code == 1 and "First Name" in err
