"""The built documentation site: examples render as code, no reStructuredText left over.

One ``mkdocs build --strict`` into a temporary directory serves every check here. For each
API reference page, every fenced example in the docstrings of the objects it documents
(and of their public members) must appear, line for line, in a ``<pre>`` of the page; and
no page of the site may show Sphinx role syntax (``:meth:`...```) or doctest prompts.
"""

from __future__ import annotations

import html
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


ROLE = re.compile(r":(?:py:)?(?:meth|class|func|data|attr|exc|mod|obj):(?:`|<code)")
PRE = re.compile(r"<pre\b[^>]*>(.*?)</pre>", re.S)
TAG = re.compile(r"<[^>]+>")
FENCE = re.compile(r"^\s*```python\s*\n(.*?)^\s*```", re.S | re.M)
DIRECTIVE = re.compile(r"^::: ([\w.]+)\s*$", re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    assert mkdocs, "mkdocs is not installed (the docs extra)"
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return out


def built_page(site: Path, source: str) -> str:
    """The HTML built from ``docs/<source>`` (``reference/x.md`` -> ``reference/x/index.html``)."""
    stem = source.removesuffix(".md")
    name = stem.removesuffix("index").rstrip("/")
    path = site / name / "index.html" if name else site / "index.html"
    return path.read_text(encoding="utf-8")


def reference_pages() -> list[str]:
    return sorted(str(p.relative_to(ROOT / "docs")) for p in REFERENCE.glob("*.md"))


def documented(page: str) -> Iterator[tuple[str, object]]:
    """The objects a reference page documents and their own public members."""
    for target in DIRECTIVE.findall((ROOT / "docs" / page).read_text(encoding="utf-8")):
        module_name, _, name = target.rpartition(".")
        module = importlib.import_module(module_name)
        # A submodule (`voucherify_async.checkpoints`) is an attribute only once imported.
        obj = getattr(module, name) if hasattr(module, name) else importlib.import_module(target)
        yield target, obj
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if not member.startswith("_"):
                    yield f"{target}.{member}", getattr(value, "__func__", value)


def examples(obj: object) -> list[str]:
    doc = inspect.getdoc(obj) if isinstance(getattr(obj, "__doc__", None), str) else None
    return FENCE.findall(doc or "")


def code_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def pre_blocks(page_html: str) -> list[str]:
    return ["\n".join(code_lines(html.unescape(TAG.sub("", b)))) for b in PRE.findall(page_html)]


@pytest.mark.parametrize("page", reference_pages())
def test_reference_examples_are_code_blocks(site: Path, page: str) -> None:
    blocks = pre_blocks(built_page(site, page))
    checked = 0
    for target, obj in documented(page):
        for example in examples(obj):
            wanted = "\n".join(code_lines(example))
            assert any(wanted in block for block in blocks), (
                f"{page}: the example of {target} is not a code block:\n{wanted}"
            )
            checked += 1
    if page not in {"reference/index.md", "reference/emulator.md"}:
        assert checked, f"{page} documents no example at all"


def site_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def test_no_sphinx_roles_or_doctest_prompts_in_the_site(site: Path) -> None:
    pages = site_pages(site)
    assert len(pages) >= 15, [str(p) for p in pages]
    for path in pages:
        text = path.read_text(encoding="utf-8")
        roles = ROLE.findall(text)
        assert not roles, f"{path.relative_to(site)} shows role syntax: {roles[:3]}"
        # Markdown turns a ">>>" prompt into quote blocks nested three deep.
        assert "&gt;&gt;&gt;" not in text, f"{path.relative_to(site)} shows a >>> prompt"
        assert not re.search(r"<blockquote>\s*<blockquote>", text), (
            f"{path.relative_to(site)} has nested quote blocks"
        )


def test_model_pages_list_fields_with_types(site: Path) -> None:
    page = built_page(site, "reference/models.md")
    blocks = pre_blocks(page)
    for model, field, annotation in (
        ("Customer", "source_id", "str | None"),
        ("Customer", "created_at", "datetime | None"),
        ("Customer", "metadata", "dict[str, Any]"),
        ("CustomerList", "customers", "list[Customer]"),
        ("CustomerUpdate", "email", "str | UnsetType | None"),  # inherited from the base body
    ):
        assert f'id="voucherify_async.models.{model}.{field}"' in page, (model, field)
        assert any(block.startswith(f"{field}: {annotation}") for block in blocks), field


def test_grouped_parameters_are_split_with_types(site: Path) -> None:
    text = html.unescape(TAG.sub(" ", built_page(site, "reference/customers.md")))
    text = " ".join(text.split())
    assert "email, city" not in text
    assert "segment_id str | None" in text


SIGNATURE = re.compile(r'<div class="doc-signature\b[^"]*"[^>]*>(.*?)</div>', re.S)
#: Named defaults a signature may show: what they stand for is not a literal.
NAMED_DEFAULTS = {
    "UNSET",  # msgspec's "not given" sentinel (exported as NOT_GIVEN)
    "RETRYABLE_STATUSES",  # a frozenset of statuses, listed in RetryPolicy's docstring
}


def signatures(page_html: str) -> list[str]:
    return [" ".join(html.unescape(TAG.sub("", s)).split()) for s in SIGNATURE.findall(page_html)]


def page_text(page_html: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", page_html)).split())


@pytest.mark.parametrize("page", reference_pages())
def test_reference_signatures_show_what_a_caller_can_pass(site: Path, page: str) -> None:
    """One signature per function, with values for defaults and no private parameters."""
    shown = signatures(built_page(site, page))
    if page != "reference/index.md":
        assert shown, f"{page}: no signature found (has the markup changed?)"
    for signature in shown:
        # The @overload stubs of the fan-out methods, whose defaults all read `= ...`.
        assert "= ..." not in signature, f"{page}: an overload stub: {signature}"
        private = re.findall(r"[(,] ?\*{0,2}(_\w+) ?[:=]", signature)
        assert not private, f"{page}: private parameters {private}: {signature}"
        named = set(re.findall(r"= ([A-Z][A-Z0-9_]+)\b", signature)) - NAMED_DEFAULTS
        assert not named, f"{page}: defaults named, not shown: {sorted(named)}: {signature}"


def test_the_client_reference_shows_default_values_not_names(site: Path) -> None:
    page = built_page(site, "reference/client.md")
    (client, *_) = signatures(page)
    assert client.startswith("AsyncVoucherify(")
    for parameter in (
        "timeout: float | None = 60.0",
        "max_retries: int = 2",
        "max_retry_wait: float = 60.0",
        "max_connections: int = 100",
        "clock: Callable[[], float] = time.time",  # not `= time`
        "sleep: Callable[[float], Awaitable[None]] = anyio.sleep",
    ):
        assert parameter in client, f"{parameter!r} not in {client}"
    text = page_text(page)  # the parameter tables too
    for hidden in ("_shared", "_extra_query", "DEFAULT_TIMEOUT", "DEFAULT_MAX_RETRIES"):
        assert hidden not in text, f"the client's reference shows {hidden}"


def test_the_fan_out_reference_has_one_signature_per_method(site: Path) -> None:
    shown = signatures(built_page(site, "reference/customers.md"))
    get_many = [s for s in shown if s.startswith("get_many(")]
    assert len(get_many) == 1, get_many
    assert "concurrency: int = 10" in get_many[0]
    assert "return_exceptions: bool = False" in get_many[0]


def test_code_keeps_its_lines_and_names_stay_whole(site: Path) -> None:
    """The site's stylesheet widens the page, scrolls code and never splits a name."""
    css_link = 'href="../../css/reference.css"'
    for page in reference_pages():
        if page != "reference/index.md":
            assert css_link in built_page(site, page), f"{page} does not load reference.css"
    css = re.sub(r"/\*.*?\*/", "", (site / "css" / "reference.css").read_text(), flags=re.S)
    rules = {
        " ".join(selectors.split()): dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";") if d.strip())
        )
        for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
    }
    grid = rules[".md-grid"]["max-width"]
    assert grid.endswith("rem") and float(grid[:-3]) >= 72, grid  # Material's is 61rem
    code_blocks = rules[".md-typeset pre > code"]
    assert code_blocks["white-space"] == "pre" and code_blocks["overflow-x"] == "auto"
    names = next(v for k, v in rules.items() if ".md-typeset td code" in k)
    assert names == {"word-break": "normal", "overflow-wrap": "normal"}
