"""``make dist`` builds the sdist and the wheel: the sdist carries the whole test suite and
what it reads, the metadata has one version, and the wheel installs into a fresh venv with
the commands of the README's Install section.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from voucherify_async import __version__

ROOT = Path(__file__).resolve().parents[1]
# What the sdist must carry in full: the suite and everything it reads or runs.
TREES = ("tests", "docs", "examples", "benchmarks", "spec", "voucherify_async")
FILES = (
    "README.md", "LICENSE", "CHANGELOG.md", "CONTRIBUTING.md", "pyproject.toml",
    "mkdocs.yml", "Makefile", "MANIFEST.in",
)  # fmt: skip
JUNK_DIRS = {"__pycache__", ".hypothesis", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _ignore(directory: str, names: list[str]) -> set[str]:
    here = Path(directory)
    return {
        n for n in names
        if n in JUNK_DIRS or n.endswith((".pyc", ".egg-info"))
        or (here == ROOT and (n.startswith((".venv", ".git")) or n in {"build", "dist", "site"}))
    }  # fmt: skip


def _files(tree: Path) -> set[str]:
    return {
        p.relative_to(tree.parent).as_posix()
        for p in tree.rglob("*")
        if p.is_file() and not (JUNK_DIRS & set(p.parts)) and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``make dist`` in a copy of the source tree (with a spec/ folder in it): the copy, the
    sdist and the wheel.

    The Makefile's own recipe, run with this interpreter's packages: its venv is a directory
    whose ``bin/python`` runs this interpreter, the install stamp taken as up to date (``-o``).
    """
    base = tmp_path_factory.mktemp("dist")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_ignore)
    if not (source / "spec").is_dir():  # the pattern must take spec/ whenever it exists
        (source / "spec").mkdir()
        (source / "spec" / "openapi.yaml").write_text("openapi: 3.0.0\n")
    venv = base / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "bin" / "python").chmod(0o755)
    (source / "dist").mkdir()
    (source / "dist" / "voucherify_async-0.0.0-py3-none-any.whl").write_text("stale")
    result = subprocess.run(
        ["make", "-C", str(source), "dist", f"VENV={venv}", "-o", f"{venv}/.installed"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = sorted(p.name for p in (source / "dist").iterdir())
    wheel = f"voucherify_async-{__version__}-py3-none-any.whl"
    assert built == [wheel, f"voucherify_async-{__version__}.tar.gz"], built  # nothing stale
    return source, source / "dist" / built[1], source / "dist" / wheel


@pytest.fixture(scope="module")
def sdist(dist: tuple[Path, Path, Path]) -> tuple[Path, tarfile.TarFile]:
    """The sdist ``make dist`` built from a copy of the source tree."""
    source, archive, _ = dist
    return source, tarfile.open(archive)


def test_the_sdist_carries_the_whole_suite_and_what_it_reads(
    sdist: tuple[Path, tarfile.TarFile],
) -> None:
    source, archive = sdist
    top = f"voucherify_async-{__version__}/"
    names = {n.removeprefix(top) for n in archive.getnames() if n.startswith(top)}
    expected = set(FILES)
    for tree in TREES:
        expected |= _files(source / tree)
    missing = sorted(expected - names)
    assert not missing, f"{len(missing)} files are not in the sdist: {missing[:20]}"
    for needed in (
        "tests/conftest.py", "tests/e2e/e2e_helpers.py", "tests/emulator/conftest.py",
        "tests/emulator/emulator_helpers.py", "examples/fastapi_app.py", "spec/openapi.yaml",
    ):  # fmt: skip
        assert needed in names or not (source / needed).exists(), needed
    assert any(n.startswith("tests/e2e/test_") for n in names)
    assert any(n.startswith("tests/emulator/test_") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_metadata_has_one_version_a_license_and_urls(
    sdist: tuple[Path, tarfile.TarFile],
) -> None:
    _, archive = sdist
    member = archive.extractfile(f"voucherify_async-{__version__}/PKG-INFO")
    assert member is not None
    info = email.message_from_bytes(member.read())
    assert info["Version"] == __version__  # from voucherify_async/_version.py
    assert info["License-Expression"] == "MIT"
    assert "LICENSE" in info.get_all("License-File", [])
    urls = dict(u.split(", ", 1) for u in info.get_all("Project-URL", []))
    assert {"Homepage", "Repository", "Documentation", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and '\nversion = "' not in pyproject


CHECKOUT = "/path/to/voucherify-async"  # how the Install sections name the checkout


def install_blocks(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    start = text.index("## Install\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"^```sh\n(.*?)^```", text[start:end], re.S | re.M)


def test_the_install_sections_say_how_to_install_from_a_checkout_or_a_wheel() -> None:
    readme = install_blocks(ROOT / "README.md")
    assert install_blocks(ROOT / "docs" / "quickstart.md") == readme  # one text, two places
    checkout, wheel = readme
    commands = [line.split("#")[0].strip() for line in checkout.splitlines()]
    assert commands == [
        f"pip install {CHECKOUT}",
        f"pip install -e {CHECKOUT}",
        f"pip install '{CHECKOUT}[otel,redis]'",
    ]
    assert wheel.splitlines()[0].split("#")[0].strip() == f"make -C {CHECKOUT} dist"


def test_the_wheel_installs_into_a_fresh_venv_as_the_install_section_says(
    dist: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """The Install section's wheel commands, as written, into a fresh venv; then it imports.

    Bounded and offline: ``pip`` is a stand-in that installs with ``--no-deps --no-index``;
    the fresh venv sees the dependencies (aiohttp, msgspec, anyio) through a ``.pth`` file
    naming this interpreter's site-packages, where no ``voucherify_async`` is (an editable
    install there is a finder that only its own ``.pth`` file starts).
    """
    source, _, _ = dist
    env = tmp_path / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60
    )
    python = env / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    ours = sysconfig.get_paths()
    Path(site_packages, "dependencies.pth").write_text(f"{ours['purelib']}\n{ours['platlib']}\n")
    stand_in = tmp_path / "bin" / "pip"
    stand_in.parent.mkdir()
    stand_in.write_text(
        '#!/bin/sh\n[ "$1" = install ] || exit 2\nshift\n'
        f'exec "{sys.executable}" -m pip --python "{python}" install --no-deps --no-index'
        ' --no-cache-dir --disable-pip-version-check --quiet "$@"\n'
    )
    stand_in.chmod(0o755)
    (_, commands) = install_blocks(ROOT / "README.md")
    pip_lines = [line for line in commands.splitlines() if line.startswith("pip install")]
    assert len(pip_lines) == 2 and "[otel,redis]" in pip_lines[1], pip_lines
    script = "set -e\n" + "\n".join(line.replace(CHECKOUT, str(source)) for line in pip_lines)
    environ = {**os.environ, "PATH": f"{stand_in.parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", script], env=environ, capture_output=True, text=True, timeout=120,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    check = """
import importlib.metadata as md, json, pathlib
import voucherify_async, voucherify_async.testing
from voucherify_async import AsyncVoucherify
package = pathlib.Path(voucherify_async.__file__).parent
plugins = {e.name: e.value for e in md.entry_points(group="pytest11")}
print(json.dumps({
    "file": voucherify_async.__file__, "version": voucherify_async.__version__,
    "metadata": md.version("voucherify-async"), "typed": (package / "py.typed").is_file(),
    "plugin": plugins.get("voucherify_async"),
    "extras": md.metadata("voucherify-async").get_all("Provides-Extra"),
}))
"""
    result = subprocess.run(
        [python, "-c", check], capture_output=True, text=True, timeout=60, check=False,
        cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert Path(found["file"]).is_relative_to(env), found  # the wheel's copy, not the checkout
    assert found["version"] == found["metadata"] == __version__
    assert found["typed"] and found["plugin"] == "voucherify_async.testing"
    assert {"otel", "redis", "cli"} <= set(found["extras"])
    assert (env / "bin" / "voucherify-async").is_file()
