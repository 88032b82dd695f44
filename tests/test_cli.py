"""The command line against the emulator: output formats, export, errors, credentials.

It behaves as users of curl, gh and aws expect: ``-`` is stdout, an existing file is not
overwritten without ``--force``, output into a pipe is machine-readable, every exit status
is the one docs/cli.md gives, and counts have thousands separators.
"""

from __future__ import annotations

import argparse
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
from voucherify_async.tools.cli import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, build_parser, main


@pytest.fixture
def env(voucherify_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for name, value in voucherify_emulator.env.items():
        monkeypatch.setenv(name, value)
    return voucherify_emulator


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as an interactive shell's stdout/stderr is."""

    def isatty(self) -> bool:
        return True


async def run(
    *argv: str, out: io.StringIO | None = None, err: io.StringIO | None = None
) -> tuple[int, str, str]:
    """Run the command line in a thread (it runs its own event loop); stdout is a pipe."""
    out = io.StringIO() if out is None else out
    err = io.StringIO() if err is None else err
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

    code, out, _ = await run("customers", "list", "--city", "Oslo", "--format", "table")
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
    assert "exported 1,234 customers" in err
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
        code, _, err = await run("customers", "export", str(target), "--force", *extra)
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
        # `NAME=value` lines, or (the emulator's newer output) `export NAME=value` lines.
        first = process.stdout.readline().removeprefix("export ")
        assert first.startswith("VOUCHERIFY_BASE_URL=http://127.0.0.1:")
        assert process.stdout.readline().removeprefix("export ").startswith("VOUCHERIFY_APP_ID=")
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


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def json_lines(text: str) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(row, dict) for row in rows)
    return rows


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
    code, out, _ = await run("customers", "list", "--format", "table")
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


# --- `export -` writes to stdout --------------------------------------------------------


async def test_export_dash_writes_to_stdout_and_progress_to_stderr(
    env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await env.seed_customers(30)
    monkeypatch.chdir(tmp_path)
    code, out, err = await run("customers", "export", "-")
    assert code == 0, err
    assert len({row["id"] for row in json_lines(out)}) == 30
    assert "exported 30 customers to stdout" in err
    assert files_in(tmp_path) == []  # no file named "-"
    code, out, err = await run("customers", "export", "-", "--format", "csv", "--parallel", "1")
    assert code == 0, err
    assert out.splitlines()[0].startswith("Id,Source_id,") and len(out.splitlines()) == 31


async def test_export_dash_keeps_a_terminal_progress_bar_off_stdout(
    env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("rich")
    monkeypatch.chdir(tmp_path)
    await env.seed_customers(250)
    err = Terminal()  # stderr is a terminal (rich's bar), stdout is piped (the real one)
    code = await anyio.to_thread.run_sync(lambda: main(["customers", "export", "-"], err=err))
    captured = capsys.readouterr()
    assert code == 0, err.getvalue()
    assert len(json_lines(captured.out)) == 250  # nothing but the customers
    assert "exporting" in err.getvalue()


def test_export_dash_in_a_real_pipe(voucherify_emulator: Emulator, tmp_path: Path) -> None:
    # Seeded through the control API: the emulator serves from its own thread.
    anyio.run(voucherify_emulator.seed_customers, 12)
    result = subprocess.run(
        [sys.executable, "-m", "voucherify_async.tools.cli", "customers", "export", "-"],
        env={**os.environ, **voucherify_emulator.env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(json_lines(result.stdout)) == 12
    assert "exported 12 customers to stdout" in result.stderr
    assert files_in(tmp_path) == []  # no file named "-"


def test_export_dash_into_a_closed_pipe_ends_quietly(
    voucherify_emulator: Emulator, tmp_path: Path
) -> None:
    anyio.run(voucherify_emulator.seed_customers, 3_000)
    process = subprocess.Popen(
        [sys.executable, "-m", "voucherify_async.tools.cli", "customers", "export", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **voucherify_emulator.env},
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith(b"{")
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=60) == 141, err
    # Progress lines at most: no error, and no "done" for an export cut short.
    assert "error" not in err and "Traceback" not in err and "done" not in err, err
    assert files_in(tmp_path) == []


# --- no silent overwrite -----------------------------------------------------------------


async def test_export_refuses_to_overwrite_without_force(env: Emulator, tmp_path: Path) -> None:
    await env.seed_customers(5)
    target = tmp_path / "all.jsonl"
    target.write_text("precious\n")
    before = (await env.stats())["requests_total"]
    code, out, err = await run("customers", "export", str(target))
    line = one_line(err)
    assert code == 2 and out == ""
    assert str(target) in line and "--force" in line, line
    assert target.read_text() == "precious\n"
    assert (await env.stats())["requests_total"] == before  # refused before any request
    code, _, err = await run("customers", "export", str(target), "--force")
    assert code == 0, err
    assert len(json_lines(target.read_text())) == 5


async def test_a_failed_export_leaves_the_old_file_and_no_partial_one(
    env: Emulator, tmp_path: Path
) -> None:
    await env.seed_customers(500)
    target = tmp_path / "all.jsonl"
    target.write_text("precious\n")
    # The count and two pages go through; the third page is refused (not retried).
    await env.script_faults(
        [
            {"kind": "latency", "latency_ms": 0, "method": "GET", "count": 3},
            {"kind": "error", "status": 400, "method": "GET"},
        ]
    )
    code, _, err = await run("customers", "export", str(target), "--force", "--parallel", "1")
    assert code == 1, err
    assert target.read_text() == "precious\n"
    assert files_in(tmp_path) == ["all.jsonl"]  # no partial file left behind
    new = tmp_path / "new.jsonl"
    await env.script_faults(
        [
            {"kind": "latency", "latency_ms": 0, "method": "GET", "count": 3},
            {"kind": "error", "status": 400, "method": "GET"},
        ],
        replace=True,
    )
    code, _, err = await run("customers", "export", str(new), "--parallel", "1")
    assert code == 1, err
    assert not new.exists()  # the next run needs no --force


async def test_export_checks_the_target_before_any_request(env: Emulator, tmp_path: Path) -> None:
    code, _, err = await run("customers", "export", str(tmp_path))
    assert code == 2 and one_line(err) == f"error: {tmp_path} is a directory, not a file"
    missing = tmp_path / "nope" / "all.jsonl"
    code, _, err = await run("customers", "export", str(missing))
    assert code == 2 and one_line(err) == f"error: {missing.parent}: no such directory"
    assert (await env.stats())["requests_total"] == 0


# --- `list` output when piped ------------------------------------------------------------


async def test_list_is_jsonl_when_piped_and_a_table_on_a_terminal(env: Emulator) -> None:
    await env.seed_customers(3, city="Oslo")
    code, out, err = await run("customers", "list")
    assert code == 0, err
    assert [row["source_id"] for row in json_lines(out)] == ["seed-3", "seed-2", "seed-1"]
    code, out, _ = await run("customers", "list", out=Terminal())
    assert code == 0 and re.split(r"\s{2,}", out.splitlines()[0])[:2] == ["ID", "SOURCE ID"]
    assert len(out.splitlines()) == 4
    # An explicit --format wins either way.
    code, out, _ = await run("customers", "list", "--format", "table")
    assert code == 0 and out.startswith("ID ")
    code, out, _ = await run("customers", "list", "--format", "jsonl", out=Terminal())
    assert code == 0 and len(json_lines(out)) == 3


# --- `get --format jsonl` -----------------------------------------------------------------


async def test_get_has_jsonl_like_list_and_export(env: Emulator, tmp_path: Path) -> None:
    await env.seed_customers(2)
    code, out, err = await run("customers", "get", "seed-2", "--format", "jsonl")
    assert code == 0, err
    assert out.endswith("\n") and len(out.splitlines()) == 1
    got = json_lines(out)[0]
    code, listed, _ = await run(
        "customers", "list", "--format", "jsonl", "--email", str(got["email"])
    )
    assert json_lines(listed) == [got]


# --- `export --max` -----------------------------------------------------------------------


@pytest.mark.parametrize("parallel", ["auto", "1"])
async def test_export_stops_after_max(env: Emulator, tmp_path: Path, parallel: str) -> None:
    await env.seed_customers(999, same_created_at=3)
    target = tmp_path / "some.jsonl"
    code, _, err = await run(
        "customers", "export", str(target), "--max", "249", "--parallel", parallel
    )
    assert code == 0, err
    ids = [row["id"] for row in json_lines(target.read_text())]
    assert len(ids) == len(set(ids)) == 249
    assert "exported 249 customers" in err and "249/249 customers (100%)" in err
    if parallel == "1":  # in the list's order: the newest 249
        assert set(ids) == set((await env.customer_ids())[-249:])


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
async def test_export_max_must_be_a_positive_whole_number(
    env: Emulator, tmp_path: Path, value: str
) -> None:
    code, out, err = await run("customers", "export", str(tmp_path / "x.jsonl"), "--max", value)
    assert code == 2 and out == ""
    assert one_line(err).startswith("error: --max: must be"), err
    assert (await env.stats())["requests_total"] == 0


# --- exit codes, as docs/cli.md's table gives them ---------------------------------------


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def test_docs_give_every_exit_status_of_every_command() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    section = text.split("\n## Exit statuses\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}
    commands = set()
    for name, command in subcommands(build_parser()).items():
        verbs = subcommands(command)
        commands |= {f"{name} {verb}" for verb in verbs} if verbs else {name}
    assert commands <= documented, commands - documented
    assert "\n| Command | 0 | 1 | 2 | Other |\n" in section
    for status in (EXIT_INTERRUPTED, EXIT_BROKEN_PIPE):
        assert f"{status} on" in section or f"{status} when" in section, status


async def test_bulk_update_with_failed_rows_exits_1(env: Emulator, tmp_path: Path) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text(
        '{"source_id": "ann", "name": "Ann"}\n{"source_id": "bob", "email": "not-an-email"}\n'
    )
    # The job's status is read through injected faults: retried, they change nothing.
    await env.script_faults(
        [{"kind": "error", "status": 503, "method": "GET", "path": "/v1/async-actions", "count": 2}]
    )
    code, _, err = await run("customers", "bulk-update", str(changes), "--wait")
    assert code == 1, err
    assert "bulk update: 1 done, 1 failed" in err and "bob" in err
    assert (await env.stats())["faults"]  # the faults were met
    # Without --wait the job only starts: 0, whatever its rows hold.
    code, _, err = await run("customers", "bulk-update", str(changes))
    assert code == 0 and "not waiting" in err


async def test_a_bad_line_in_a_bulk_file_exits_2_naming_it(env: Emulator, tmp_path: Path) -> None:
    changes = tmp_path / "changes.jsonl"
    changes.write_text('{"source_id": "ann"}\n\n{"source_id": "bob", "birthdate": "someday"}\n')
    code, _, err = await run("customers", "bulk-update", str(changes))
    line = one_line(err)
    assert code == 2, line
    assert line.startswith("error: changes.jsonl line 3: invalid birthdate: "), line
    changes.write_text('{"source_id": "ann", "colour": "red"}\n')
    code, _, err = await run("customers", "bulk-update", str(changes))
    line = one_line(err)
    assert code == 2 and line.startswith("error: changes.jsonl line 1 has an unexpected field"), (
        line
    )
    changes.write_text("\n")
    code, _, err = await run("customers", "bulk-update", str(changes))
    assert code == 2 and one_line(err) == (
        "error: changes.jsonl has no customer updates (one JSON object per line)"
    )
    assert (await env.stats())["requests_total"] == 0


async def test_a_refused_submission_exits_1(env: Emulator, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    data.write_text("Source_id,Name\nann,Ann\n")
    await env.script_faults([{"kind": "error", "status": 400, "method": "POST"}])
    code, _, err = await run("customers", "import", str(data), "--wait")
    assert code == 1 and one_line(err).startswith("error: 400 "), err


# --- counts with separators ------------------------------------------------------------


async def test_final_counts_have_thousands_separators(env: Emulator, tmp_path: Path) -> None:
    await env.seed_customers(1_234, same_created_at=10)
    code, _, err = await run("customers", "export", str(tmp_path / "all.jsonl"))
    assert code == 0 and "exported 1,234 customers to " in err, err
    changes = tmp_path / "changes.jsonl"
    changes.write_text(
        "".join(f'{{"source_id": "seed-{i}", "name": "Q"}}\n' for i in range(1, 1_201))
    )
    code, _, err = await run("customers", "bulk-update", str(changes), "--wait")
    assert code == 0 and "bulk update: 1,200 done, 0 failed" in err, err


# --- `demo --help` ------------------------------------------------------------------------


def test_demo_help_names_the_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: voucherify-async demo "), out
    assert "python -m" not in out.split("\n\n")[0]
    assert main(["demo", "--customers", "0"]) == 2
    assert capsys.readouterr().err.endswith("(see voucherify-async demo --help)\n")
