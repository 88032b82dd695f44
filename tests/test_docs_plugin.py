"""The pytest plugin's example from the docs, run by a real pytest in fresh directories.

Under pytest-asyncio's default (strict) mode, named or not, and its auto mode the example
passes as written; without pytest-asyncio it fails with one line that says what to install.
The four runs go in parallel, each a pytest of its own in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from voucherify_async.testing import MISSING_PYTEST_ASYNCIO, async_fixture_message

ROOT = Path(__file__).resolve().parents[1]


def plugin_example() -> str:
    text = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    section = text[text.index("## The pytest plugin") :]
    match = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert match, "no example in the pytest plugin section"
    return match.group(1)


def start_pytest(project: Path, *args: str, pythonpath: str = "") -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VOUCHERIFY_"))}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def project(root: Path, name: str, ini: str) -> Path:
    path = root / name
    path.mkdir()
    (path / "pytest.ini").write_text(f"[pytest]\n{ini}")
    (path / "test_example.py").write_text(plugin_example())
    return path


def test_the_example_runs_in_every_mode_and_says_what_is_missing(tmp_path: Path) -> None:
    loop_scope = "asyncio_default_fixture_loop_scope = function\n"
    runs = {
        mode: start_pytest(project(tmp_path, mode or "default", setting + loop_scope))
        for mode, setting in (
            ("", ""),  # nothing set: pytest-asyncio's default, strict
            ("strict", "asyncio_mode = strict\n"),
            ("auto", "asyncio_mode = auto\n"),
        )
    }
    # A pytest_asyncio that cannot be imported, as on a machine without it.
    hidden = tmp_path / "hide" / "pytest_asyncio"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('No module named pytest_asyncio')\n")
    missing = start_pytest(
        project(tmp_path, "missing", ""), "-p", "no:asyncio", pythonpath=str(hidden.parent)
    )
    outputs = {}
    for mode, process in [*runs.items(), ("missing", missing)]:
        out, _ = process.communicate(timeout=120)
        outputs[mode] = (process.returncode, out)
    for mode in runs:
        code, out = outputs[mode]
        assert code == 0 and "1 passed" in out, f"mode {mode or 'default'}:\n{out}"
    code, out = outputs["missing"]
    assert code != 0, out
    assert MISSING_PYTEST_ASYNCIO in out
    assert "fixture 'voucherify_client' not found" not in out


def own_fixtures_example() -> str:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own fixtures, with the pytest plugin") :]
    match = re.search(r"^```py\n(.*?)^```", section, re.S | re.M)
    assert match, "no example in the own fixtures section of testing.md"
    return match.group(1)


def test_tests_that_reach_the_client_through_own_fixtures_run_in_every_mode(
    tmp_path: Path,
) -> None:
    """The client reached only through the user's own fixture: strict mode marks the test
    too; a plain ``@pytest.fixture`` there fails saying what to write instead.
    """
    example = own_fixtures_example()
    assert "@pytest_asyncio.fixture" in example
    loop_scope = "asyncio_default_fixture_loop_scope = function\n"
    settings = {
        "default": "",
        "strict": "asyncio_mode = strict\n",
        "auto": "asyncio_mode = auto\n",
        "plain-fixture": "asyncio_mode = strict\n",
    }
    runs = {}
    for name, setting in settings.items():
        path = tmp_path / name
        path.mkdir()
        (path / "pytest.ini").write_text(f"[pytest]\n{setting}{loop_scope}")
        source = example
        if name == "plain-fixture":  # what strict mode does not run
            source = "import pytest\n" + example.replace(
                "@pytest_asyncio.fixture", "@pytest.fixture"
            )
        (path / "test_own_fixtures.py").write_text(source)
        runs[name] = start_pytest(path)  # the plugin comes from its pytest11 entry point
    outputs = {}
    for name, process in runs.items():
        out, _ = process.communicate(timeout=120)
        outputs[name] = (process.returncode, out)
    for name in ("default", "strict", "auto"):
        code, out = outputs[name]
        assert code == 0 and "2 passed" in out, f"mode {name}:\n{out}"
    code, out = outputs["plain-fixture"]
    assert code != 0 and "2 errors" in out, out
    assert async_fixture_message("test_a_fixture_is_enough", "ann") in out, out
    assert "not natively supported" not in out and "pip install" not in out, out
