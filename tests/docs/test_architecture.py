"""The import rules of docs/architecture.md hold: the page's table is the rule, read here, and
every module of the package is in one row and imports only what its row names (the standard
library is always allowed). tests/test_layers.py checks the same from outside, by importing."""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.docs.pages import DOCS, ROOT

PACKAGE = ROOT / "serverless_pipeline"


@dataclass(frozen=True)
class Layer:
    name: str
    paths: tuple[str, ...]
    """Files (`layout.py`) and folders (`handlers/`) of the package."""
    may_import: frozenset[str]
    """The layers whose modules it may import."""
    third_party: frozenset[str]
    """The top-level packages outside the standard library it may import."""

    def holds(self, path: Path) -> bool:
        relative = path.relative_to(PACKAGE).as_posix()
        return any(
            relative.startswith(p) if p.endswith("/") else relative == p for p in self.paths
        )


def _names(cell: str) -> frozenset[str]:
    return frozenset(n.strip().strip("`") for n in cell.split(",") if n.strip())


def layers() -> list[Layer]:
    """The rows of the table between the import-rules markers of the architecture page."""
    text = (DOCS / "architecture.md").read_text()
    match = re.search(r"<!-- import-rules:start -->\n(.*?)<!-- import-rules:end -->", text, re.S)
    assert match, "docs/architecture.md has no import-rules table"
    rows = [line.strip().strip("|").split("|") for line in match.group(1).splitlines()[2:]]
    return [
        Layer(
            name.strip(),
            tuple(sorted(_names(paths))),
            _names(package) | {name.strip()},
            _names(outside),
        )
        for name, paths, package, outside in rows
    ]


def imports(path: Path) -> tuple[set[Path], set[str]]:
    """The package's modules (as files) and the outside top-level packages that path imports."""
    own: set[Path] = set()
    outside: set[str] = set()
    here = path.parent
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here
            for _ in range(node.level - 1):
                base = base.parent
            parts = node.module.split(".") if node.module else []
            module = base.joinpath(*parts)
            # `from . import x` names modules; `from .pkg import x` may name attributes of pkg.
            named = [_module_file(module / a.name) for a in node.names]
            found: list[Path | None] = [f for f in named if f is not None]
            found = found or [_module_file(module)]
            assert None not in found, f"{path}: line {node.lineno}"
            own |= {f for f in found if f is not None}
        else:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top, *rest = name.split(".")
                if top == "serverless_pipeline":
                    target = _module_file(PACKAGE.joinpath(*rest))
                    assert target is not None, f"{path}: {name}"
                    own.add(target)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    outside.add(top)
    return own, outside


def _module_file(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".py"), path / "__init__.py", path):
        if candidate.is_file() and candidate.suffix == ".py":
            return candidate
    return None


def test_the_table_names_every_layer_it_allows() -> None:
    names = {layer.name for layer in layers()}
    assert {n for layer in layers() for n in layer.may_import} <= names


def test_every_module_is_in_exactly_one_layer() -> None:
    table = layers()
    modules = sorted(PACKAGE.rglob("*.py"))
    placed = {m: [layer.name for layer in table if layer.holds(m)] for m in modules}
    assert {str(m.relative_to(ROOT)): n for m, n in placed.items() if len(n) != 1} == {}


def test_every_module_imports_only_what_its_layer_may() -> None:
    table = layers()
    layer_of = {m: next(x for x in table if x.holds(m)) for m in PACKAGE.rglob("*.py")}
    offenders = []
    for module, layer in sorted(layer_of.items()):
        own, outside = imports(module)
        where = module.relative_to(ROOT)
        offenders += [
            f"{where} ({layer.name}) imports {target.relative_to(ROOT)} ({layer_of[target].name})"
            for target in sorted(own)
            if layer_of[target].name not in layer.may_import
        ]
        offenders += [
            f"{where} ({layer.name}) imports {name}"
            for name in sorted(outside - layer.third_party)
        ]
    assert offenders == []
