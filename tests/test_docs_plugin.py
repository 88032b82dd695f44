"""The pytest plugin's example from the docs, run by a real pytest in a fresh directory.

Under pytest-asyncio's default (strict) mode and its auto mode the example passes as
written; without pytest-asyncio it fails with one line that says what to install.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from voucherify_async.testing import MISSING_PYTEST_ASYNCIO

ROOT = Path(__file__).resolve().parents[1]


def plugin_example() -> str:
    text = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    section = text[text.index("## The pytest plugin") :]
    match = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert match, "no example in the pytest plugin section"
    return match.group(1)


def run_pytest(project: Path, *args: str, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VOUCHERIFY_"))}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("mode", ["", "strict", "auto"])
def test_the_example_passes_in_every_mode(tmp_path: Path, mode: str) -> None:
    setting = f"asyncio_mode = {mode}\n" if mode else ""  # none: the default, strict
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\n{setting}asyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_example.py").write_text(plugin_example())
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_without_pytest_asyncio_the_error_says_what_to_install(tmp_path: Path) -> None:
    # A pytest_asyncio that cannot be imported, as on a machine without it.
    hidden = tmp_path / "hide"
    (hidden / "pytest_asyncio").mkdir(parents=True)
    (hidden / "pytest_asyncio" / "__init__.py").write_text(
        "raise ImportError('No module named pytest_asyncio')\n"
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_example.py").write_text(plugin_example())
    result = run_pytest(project, "-p", "no:asyncio", pythonpath=str(hidden))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert MISSING_PYTEST_ASYNCIO in output
    assert "fixture 'voucherify_client' not found" not in output
