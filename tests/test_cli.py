"""The command line against the emulator: output formats, export, errors, credentials."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import anyio
import pytest

from voucherify_async.emulator import Emulator
from voucherify_async.tools.cli import main


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
    assert code == 0 and re.split(r"\s{2,}", lines[0])[:2] == ["ID", "SOURCE ID"]
    assert len(lines) == 6


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
    code, _, _ = await run(
        "customers", "export", str(as_csv), "--created-after", "2000-01-01T00:00:00Z"
    )
    assert code == 0 and len(as_csv.read_text().splitlines()) == 1_235


async def test_export_reads_windows_in_parallel_by_default(env: Emulator, tmp_path: Path) -> None:
    await env.seed_customers(2_000, same_created_at=3)
    expected = set(await env.customer_ids())
    for extra in ((), ("--parallel", "3"), ("--parallel", "1")):
        before = (await env.stats())["requests_total"]
        target = tmp_path / "out.jsonl"
        code, _, err = await run("customers", "export", str(target), *extra)
        assert code == 0, err
        ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
        assert len(ids) == len(set(ids)) and set(ids) == expected, extra
        sent = (await env.stats())["requests_total"] - before
        # A parallel export finds the range (two one-customer requests) before its windows.
        if extra == ("--parallel", "1"):
            assert sent <= 2_000 // 100 + 2
        else:
            assert sent > 2_000 // 100 + 2


@pytest.mark.parametrize("value", ["0", "-2", "many", "1001"])
async def test_a_bad_parallel_option_is_a_usage_error(
    env: Emulator, tmp_path: Path, value: str
) -> None:
    code, _, err = await run("customers", "export", str(tmp_path / "x.jsonl"), "--parallel", value)
    assert code == 2 and "--parallel" in err and "must be 'auto' or a number" in err
    assert (await env.stats())["requests_total"] == 0


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
        [
            sys.executable,
            "-c",
            "import sys; from voucherify_async.tools.cli import main; sys.exit(main())",
            "emulator",
            "--port",
            "0",
            "--seed",
            "3",
            "--error-rate",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
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
    assert code == 2 and "First Name" in err  # the file's mistake, like a bad JSON line


# --- one clear line per error ----------------------------------------------------------------


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


async def test_created_after_suggests_a_value_it_accepts(env: Emulator) -> None:
    await env.seed_customers(3)
    code, out, err = await run("customers", "list", "--created-after", "2024-01-01")
    line = one_line(err)
    assert code == 2 and out == ""
    suggested = re.search(r"e\.g\. (\S+)", line)
    assert suggested and suggested.group(1) == "2024-01-01T00:00:00Z", line
    code, _, err = await run("customers", "list", "--created-after", suggested.group(1))
    assert code == 0, err
    code, _, err = await run("customers", "list", "--created-after", "2024-01-01T10:30")
    assert code == 2 and "e.g. 2024-01-01T10:30:00Z" in one_line(err)


@pytest.mark.parametrize("value", ["0", "-1", "many"])
async def test_max_must_be_a_positive_whole_number(env: Emulator, value: str) -> None:
    await env.seed_customers(3)
    code, out, err = await run("customers", "list", "--max", value, "--format", "jsonl")
    assert code == 2 and out == ""
    assert one_line(err).startswith("error: --max: must be")


async def test_connection_options_work_after_the_command(
    env: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.seed_customers(2)
    for name in ("VOUCHERIFY_APP_ID", "VOUCHERIFY_APP_TOKEN", "VOUCHERIFY_BASE_URL"):
        monkeypatch.delenv(name)
    connection = ["--app-id", env.app_id, "--app-token", env.app_token, "--base-url", env.url]
    code, out, err = await run("customers", "get", "seed-1", *connection)
    assert code == 0 and json.loads(out)["source_id"] == "seed-1", err
    code, out, err = await run("customers", *connection, "list", "--format", "jsonl")
    assert code == 0 and len(out.splitlines()) == 2, err
    # Before the command still works, and a later option does not erase an earlier one.
    code, out, err = await run(*connection[:4], "customers", "list", *connection[4:])
    assert code == 0, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from voucherify_async import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"voucherify-async {__version__}"


async def test_a_missing_file_or_a_directory_is_the_same_usage_error(
    env: Emulator, tmp_path: Path
) -> None:
    before = (await env.stats())["requests_total"]
    for verb in ("import", "bulk-update"):
        code, _, err = await run("customers", verb, str(tmp_path / "nope.csv"))
        assert code == 2 and one_line(err) == f"error: {tmp_path / 'nope.csv'}: no such file"
        code, _, err = await run("customers", verb, str(tmp_path))
        assert code == 2 and one_line(err) == f"error: {tmp_path} is a directory, not a file"
    assert (await env.stats())["requests_total"] == before  # nothing was sent


async def test_messages_name_flags_not_python(env: Emulator, tmp_path: Path) -> None:
    data = tmp_path / "no-ids.csv"
    data.write_text("Name,Email\nAnn,ann@example.com\n")
    code, _, err = await run("customers", "import", str(data), "--update")
    line = one_line(err)
    assert code == 2 and "--update" in line, line
    assert "update_existing" not in line and "import_csv" not in line and "()" not in line


async def test_table_headings_are_words(env: Emulator) -> None:
    await env.seed_customers(2, city="Oslo")
    code, out, _ = await run("customers", "list")
    heading = re.split(r"\s{2,}", out.splitlines()[0])
    assert code == 0 and heading == ["ID", "SOURCE ID", "NAME", "EMAIL", "CITY", "CREATED AT"]


PROGRESS = re.compile(r"^(.+): (\d[\d,]*)/(\d[\d,]*) (rows|customers) \((\d+)%\), done$", re.M)


async def test_progress_counts_rows_or_customers_in_every_command(
    env: Emulator, tmp_path: Path
) -> None:
    data = tmp_path / "people.csv"
    data.write_text("Source_id,Name\n" + "".join(f"p{i},P{i}\n" for i in range(30)))
    changes = tmp_path / "changes.jsonl"
    changes.write_text("".join(f'{{"source_id": "p{i}", "name": "Q"}}\n' for i in range(30)))
    seen = []
    for argv in (
        ("customers", "import", str(data), "--wait"),
        ("customers", "bulk-update", str(changes), "--wait"),
        ("customers", "export", str(tmp_path / "out.jsonl")),
    ):
        code, _, err = await run(*argv)
        assert code == 0, err
        found = PROGRESS.search(err)
        assert found, f"{argv}: {err}"
        assert found.group(2) == found.group(3) == "30" and found.group(5) == "100", err
        seen.append(found.group(4))
    assert seen == ["rows", "customers", "customers"]


def test_a_closed_pipe_ends_quietly(voucherify_emulator: Emulator) -> None:

    request = urllib.request.Request(
        f"{voucherify_emulator.url}/_emulator/seed/customers",
        data=json.dumps({"count": 3000}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voucherify_async.tools.cli",
            "customers",
            "list",
            "--format",
            "jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **voucherify_emulator.env},
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"{")
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141, err
    assert err == ""


# --- the emulator command ----------------------------------------------------------------------


def emulator_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voucherify_async.tools.cli", "emulator", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--error-rate", "2"], "error: --error-rate: must be a number between 0 and 1, got 2.0"),
        (["--port", "70000"], "error: --port: must be from 0 to 65535"),
        (["--seed", "-1"], "error: --seed: must be 0 or more customers, got -1"),
        (
            ["--rate-limit", "0"],
            "error: --rate-limit: must be a positive integer (leave it out for the default), got 0",
        ),
        (["--latency-ms", "-5"], "error: --latency-ms: must be a non-negative number"),
        (["--error-rate", "0.6", "--drop-rate", "0.6"], "error: --error-rate + --drop-rate"),
        (["--port", "x"], "error: --port: invalid int value: 'x'"),
    ],
)
def test_emulator_bad_options_are_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from voucherify_async.emulator.__main__ import main as emulator_main

    assert emulator_main(argv, prog="voucherify-async emulator") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_line(captured.err).startswith(expected), captured.err


def test_emulator_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = emulator_cli("--port", str(port))
        background = emulator_cli("--background", "--port", str(port))
    expected = (
        f"error: --port: 127.0.0.1:{port} is already in use; pick another port, or --port 0"
        " for a free one"
    )
    assert result.returncode == 2 and result.stdout == ""
    assert one_line(result.stderr) == expected
    # In the background too: the server's one line, relayed, and its status.
    assert background.returncode == 2 and background.stdout == ""
    assert one_line(background.stderr) == expected


def test_emulator_background_prints_export_lines_for_eval(tmp_path: Path) -> None:
    result = emulator_cli("--background", "--port", "0", "--seed", "4")
    assert result.returncode == 0, result.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in result.stdout.splitlines()
        if line.startswith("export ")
    )
    pid = int(exports["VOUCHERIFY_EMULATOR_PID"])
    try:
        assert set(exports) == {
            "VOUCHERIFY_BASE_URL",
            "VOUCHERIFY_APP_ID",
            "VOUCHERIFY_APP_TOKEN",
            "VOUCHERIFY_EMULATOR_PID",
        }
        # What a shell's eval would set, used by the next command.
        env = {**os.environ, **{k: shlex.split(v)[0] for k, v in exports.items()}}
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "voucherify_async.tools.cli",
                "customers",
                "list",
                "--format",
                "jsonl",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert len(listed.stdout.splitlines()) == 4
    finally:
        os.kill(pid, signal.SIGTERM)
