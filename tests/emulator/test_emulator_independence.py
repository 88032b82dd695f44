"""The emulator speaks the wire protocol on its own: it imports none of the client's code.

Were it to share the client's reading of rate-limit headers, error fields or queries, a
misreading would be made on both sides at once and no test could see it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import voucherify_async.emulator

EMULATOR = Path(voucherify_async.emulator.__file__).parent
# The only names of the parent package the emulator may use at import time.
ALLOWED = {"voucherify_async.tools._argparse"}


def _imports(path: Path) -> set[str]:
    """The absolute names of modules of ``voucherify_async`` imported at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "voucherify_async.emulator"
    found: set[str] = set()
    for node in tree.body:  # module level only: a lazy import inside a function is allowed
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0]
            found.add(f"{base}.{node.module}" if node.module else base)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("voucherify_async"))
    return found


def test_no_emulator_module_imports_the_clients_protocol_code() -> None:
    modules = sorted(EMULATOR.glob("*.py"))
    assert len(modules) > 10
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imports(path)
        if name.startswith("voucherify_async")
        and not name.startswith("voucherify_async.emulator")
        and name not in ALLOWED
    }
    assert not outside
