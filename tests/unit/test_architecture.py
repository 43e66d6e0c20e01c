"""The shape docs/DESIGN.md promises, checked on the source: no import cycles among the modules of
``ledger`` and ``api`` (type-only imports count: they tie modules just the same), a pure core that
imports nothing of ours outside itself and no I/O library, and few loose modules in ``ledger/``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "api")
MAX_LOOSE = 5
# Libraries that do I/O (network, database, files by URL): never in the frozen core.
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "func", "and_", "or_"}
IO_LIBRARIES = {"web3", "sqlalchemy", "alembic", "httpx", "fastapi", "starlette", "psycopg"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads these by path, nothing imports them
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import module`` imports that module; ``from pkg import name``, pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_depends_on_nothing_of_ours_and_does_no_io() -> None:
    modules = _modules()
    for name, path in modules.items():
        if not name.startswith("ledger.core"):
            continue
        ours = {m for m in _imports(name, path, modules) if not m.startswith("ledger.core")}
        assert ours == set(), f"{name} imports {sorted(ours)}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        libraries = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and not node.level
        }
        assert libraries.isdisjoint(IO_LIBRARIES), f"{name} imports {libraries & IO_LIBRARIES}"


def test_few_loose_modules_in_ledger() -> None:
    loose = sorted(p.name for p in (ROOT / "ledger").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= MAX_LOOSE, loose


def test_sql_lives_in_the_store() -> None:
    modules = _modules()
    outside = []
    for name, path in modules.items():
        if name.startswith("ledger.store"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
            for alias in node.names
        } & SQL_BUILDERS
        if statements:
            outside.append(f"{name} ({', '.join(sorted(statements))})")
    assert outside == [], f"SQL outside ledger/store: {outside}"
