"""Every Python example in the docs and the README runs, against the emulator.

Blocks of one page run in order in one namespace, where ``vf`` is an open client and ``emu``
the emulator (seeded with a few customers, among them ``bob``, ``source_123`` and
``source-or-cust-id``). The emulator accepts the placeholder credentials ``"..."``, which
are also in the environment, so ``AsyncVoucherify(app_id="...", app_token="...")`` and
``AsyncVoucherify()`` both reach it. A block that calls ``asyncio.run`` (or ``uvloop.run``)
runs in a thread with its own loop; a block that includes a file (``--8<-- "examples/x.py"``)
runs that file as a script; ``async def test_...`` functions a block defines are called with
the plugin's fixture names bound.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from voucherify_async import AsyncVoucherify
from voucherify_async.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
SNIPPET = re.compile(r'^--8<-- "([^"]+)"\s*$', re.M)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


PAGES_WITH_CODE = [page for page in PAGES if blocks(page)]


@pytest.fixture
async def emu(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Emulator]:
    async with Emulator(app_id="...", app_token="...") as emulator:
        for name, value in emulator.env.items():
            monkeypatch.setenv(name, value)
        yield emulator


async def seed(emu: Emulator, vf: AsyncVoucherify) -> None:
    await emu.seed_customers(120, city="Warsaw")
    await emu.seed_customers(30, city="Paris", source_id="paris-{i}")
    await vf.customers.create(source_id="bob", name="Bob Smith", email="bob@example.com")
    await vf.customers.create(source_id="source_123", name="Ann")
    await vf.customers.create(source_id="source-or-cust-id", name="Cy")


def run_script(path: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, str(path)],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{path} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: str(p.relative_to(ROOT)))
async def test_examples_run(page: Path, emu: Emulator) -> None:
    async with AsyncVoucherify() as vf:
        await seed(emu, vf)
        namespace: dict[str, Any] = {"vf": vf, "emu": emu, "__name__": "docs_example"}
        fixtures = {"voucherify_client": vf, "voucherify_emulator": emu}
        for number, source in enumerate(blocks(page), start=1):
            where = f"{page.relative_to(ROOT)} block {number}"
            included = SNIPPET.findall(source)
            if included:
                for name in included:
                    await anyio.to_thread.run_sync(run_script, ROOT / name, emu.env)
                continue
            code = compile(source, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            before = set(namespace)
            if "asyncio.run(" in source or "uvloop.run(" in source:
                await anyio.to_thread.run_sync(exec, code, namespace)
            else:
                result = eval(code, namespace)
                if inspect.iscoroutine(result):
                    await result
            if getattr(namespace.get("vf"), "is_closed", False):
                namespace["vf"] = vf  # a block's own `async with ... as vf` closed its client
            for name in set(namespace) - before:
                function = namespace[name]
                if name.startswith("test_") and inspect.iscoroutinefunction(function):
                    # As under the plugin: the test starts from an empty emulator.
                    await emu.reset()
                    wanted = inspect.signature(function).parameters
                    await function(**{key: fixtures[key] for key in wanted})
                    await emu.reset()
                    await seed(emu, vf)
        await asyncio.sleep(0)
