"""A Griffe extension for the API reference: signatures that show what a caller can pass.

mkdocstrings reads the source as written, so without this a signature shows
``timeout: float | None = DEFAULT_TIMEOUT`` (a name the reader cannot look up),
``clock: ... = time`` (for ``time.time``) and the underscore-prefixed keyword parameters the
client passes to itself. For every function of the loaded packages this:

* replaces a default that names a constant with the constant's value, following names
  through imports and other constants (``DEFAULT_MAX_RETRY_WAIT = MAX_SERVER_WAIT`` shows as
  ``60.0``) and working out arithmetic on them (``BULK_BODY_LIMIT - 64 * 1024``); a
  constant that is neither keeps its name;
* writes a dotted default out in full (``time.time``, ``anyio.sleep``), where the rendered
  cross-reference would show only its last part;
* leaves out parameters whose names start with ``_`` and that have a default: private
  arguments that no caller passes.

Attributes set from a constant (``initial_delay: float = INITIAL_BACKOFF``) show its value
too. The parameter tables of the docstrings take their defaults from the same signatures.
Loaded from ``mkdocs.yml``, after Griffe's ``dataclasses`` extension so that the
``__init__`` it writes for a dataclass is seen here.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from typing import Any

import griffe

#: How many names a default is followed through before giving up (cycles, long chains).
MAX_HOPS = 10
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.expr) -> object:
    """The value of a literal, or of arithmetic on numbers; ``ValueError`` for anything else."""
    if isinstance(node, ast.Constant) and isinstance(
        node.value, (int, float, str, bytes, bool, type(None))
    ):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_number(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_number(node.left), _number(node.right))
    raise ValueError(f"not a constant: {ast.dump(node)}")


def _number(node: ast.expr) -> int | float:
    value = _evaluate(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return value


def _source_value(source: str) -> str | None:
    """``source`` itself when it is a literal, the value it computes to, or ``None``."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
        if isinstance(tree.body, ast.Constant):
            return source.strip()  # as written: 1_000_000, "eu"
        return repr(_evaluate(tree.body))
    except (SyntaxError, ValueError, TypeError, ArithmeticError, RecursionError):
        return None


def _value(expression: object, modules: griffe.ModulesCollection, hops: int = 0) -> str | None:
    """The value ``expression`` stands for, as source text, or ``None`` if not a constant."""
    if hops > MAX_HOPS or expression is None:
        return None
    if isinstance(expression, str):
        return _source_value(expression)
    if isinstance(expression, griffe.ExprName):
        try:
            target = modules.get_member(expression.canonical_path)
            if isinstance(target, griffe.Alias):
                target = target.final_target
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        if not isinstance(target, griffe.Attribute):
            return None
        return _value(target.value, modules, hops + 1)
    if isinstance(expression, griffe.ExprAttribute):
        return None  # an enum member or a module's function: shown in full, as written
    if isinstance(expression, griffe.Expr):
        parts = []
        for part in expression.iterate(flat=True):
            value = part if isinstance(part, str) else _value(part, modules, hops + 1)
            if value is None:
                return None
            parts.append(value if isinstance(part, str) else f"({value})")
        return _source_value("".join(parts))
    return None


def _members(obj: griffe.Object) -> Iterator[griffe.Object]:
    """Every function, class attribute and module attribute defined in ``obj``."""
    for member in obj.members.values():
        if member.is_alias:
            continue  # documented where it is defined
        if isinstance(member, (griffe.Function, griffe.Attribute)):
            yield member
        elif isinstance(member, (griffe.Module, griffe.Class)):
            yield from _members(member)


class ReadableSignatures(griffe.Extension):
    """Real values for named defaults, dotted defaults in full, no private parameters."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        modules = loader.modules_collection
        for obj in _members(pkg):
            if isinstance(obj, griffe.Attribute):
                # A dataclass field (`initial_delay: float = INITIAL_BACKOFF`), a constant
                # set from another: its value, as for defaults.
                if isinstance(obj.value, griffe.ExprName):
                    obj.value = _value(obj.value, modules) or obj.value
                continue
            assert isinstance(obj, griffe.Function)
            for parameter in list(obj.parameters):
                default = parameter.default
                if parameter.name.startswith("_") and default is not None:
                    del obj.parameters[parameter.name]
                elif isinstance(default, griffe.ExprAttribute):
                    parameter.default = str(default)
                elif isinstance(default, griffe.Expr):
                    parameter.default = _value(default, modules) or default
