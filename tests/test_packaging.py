"""The sdist carries the whole test suite and what it reads; the metadata has one version."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
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
def sdist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tarfile.TarFile]:
    """The sdist built from a copy of the source tree (with a spec/ folder in it)."""
    base = tmp_path_factory.mktemp("sdist")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_ignore)
    if not (source / "spec").is_dir():  # the pattern must take spec/ whenever it exists
        (source / "spec").mkdir()
        (source / "spec" / "openapi.yaml").write_text("openapi: 3.0.0\n")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(base / "out"),
         str(source)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (archive,) = (base / "out").glob("*.tar.gz")
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
