"""The README's "Ten lines" run as written, with the two shell commands it gives, in bash."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def test_ten_lines_run_against_the_emulator_in_two_commands(tmp_path: Path) -> None:
    ten_lines = section("Ten lines")
    (code,) = fenced(ten_lines, "python")
    (commands,) = fenced(ten_lines, "sh")
    assert len([c for c in commands.splitlines() if c.strip()]) == 2, commands
    assert "save them as `ten_lines.py`" in ten_lines
    (tmp_path / "ten_lines.py").write_text(code, encoding="utf-8")
    script = (
        "trap 'test -n \"$VOUCHERIFY_EMULATOR_PID\" && kill $VOUCHERIFY_EMULATOR_PID' EXIT\n"
        "set -e\n" + commands
    )
    # The commands as a user of the installed package types them: on PATH, no settings yet.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERIFY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(re.fullmatch(r"cust_\w+ bob Bob Smith", line) for line in lines), result.stdout
