"""What the foreground emulator prints: ``export`` lines on stdout, a serving line on stderr.

Pasted into a shell, the ``export`` lines reach the programs it starts (plain ``NAME=value``
lines would set shell variables only); the ``serving on ... (Ctrl-C to stop)`` line says it
runs and how to stop it. Both commands, ``python -m voucherify_async.emulator`` and
``voucherify-async emulator``, print the same.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from emulator_helpers import read_lines

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = {
    "python -m voucherify_async.emulator": ["-m", "voucherify_async.emulator"],
    "voucherify-async emulator": ["-m", "voucherify_async.tools.cli", "emulator"],
}


@pytest.mark.parametrize("command", COMMANDS.values(), ids=list(COMMANDS))
def test_the_foreground_emulator_prints_export_lines_and_how_to_stop_it(
    command: list[str],
) -> None:
    process = subprocess.Popen(
        [sys.executable, *command, "--port", "0", "--app-id", "my id", "--app-token", "tok"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        exports = read_lines(process.stdout, 3)
        assert exports[0].startswith("export VOUCHERIFY_BASE_URL=http://127.0.0.1:")
        url = exports[0].partition("=")[2]
        assert not url.endswith(":0")
        assert exports[1:] == [
            "export VOUCHERIFY_APP_ID='my id'",  # quoted for the shell
            "export VOUCHERIFY_APP_TOKEN=tok",
        ]
        assert read_lines(process.stderr, 1) == [f"serving on {url} (Ctrl-C to stop)"]
        if sys.platform != "win32" and shutil.which("sh"):
            _assert_a_shell_child_sees(exports, url)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        process.stdout.close()
        process.stderr.close()
    assert process.returncode == 0


def _assert_a_shell_child_sees(exports: list[str], url: str) -> None:
    """Pasted into ``sh``, the lines reach a program the shell starts."""
    show = "import os; print(os.environ['VOUCHERIFY_BASE_URL'], os.environ['VOUCHERIFY_APP_ID'])"
    script = "\n".join([*exports, f"exec {shlex.quote(sys.executable)} -c {shlex.quote(show)}"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    child = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == f"{url} my id"
