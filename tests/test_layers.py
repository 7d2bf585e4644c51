"""The package's layout is its pipeline: imports go one way, from the CLI down to the model.

Every module of ``recipemut`` belongs to one stage; a module may import from its own stage and
from lower ones, never from a higher one, and the import graph has no circle. These tests read
the imports from the source (``ast``), so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "recipemut"

#: stage -> layer; a module may import only from layers <= its own
LAYERS: dict[str, int] = {
    "errors": 0,
    "files": 0,
    "recipe": 1,
    "logs": 2,
    "profile": 3,
    "predict": 4,
    "mutate": 5,
    "judge": 6,
    "plan": 7,
    "apply": 8,
    "forecast": 8,
    "loggen": 8,
    "learn": 9,
    "report": 9,  # charts and the HTML page: rendering of plans, profiles and forecasts
    "usecases": 10,
    "commands": 11,
    "cli": 12,
    "_entry": 13,
    "__main__": 14,
    "__init__": 0,
}
MAX_TOP_LEVEL_MODULES = 12
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(module: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names if a.name.startswith("recipemut"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.startswith("recipemut"):
                found.append((target, [a.name for a in node.names], node.lineno))
    return found


MODULES = _modules()


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for mod, path in MODULES.items():
        g.add_node(mod)
        for target, names, _ in _imports(mod, path):
            for name in names or [None]:
                sub = f"{target}.{name}" if name else target
                dest = sub if sub in MODULES else target
                if dest in MODULES and dest != mod:
                    g.add_edge(mod, dest)
    return g


def test_every_stage_is_known() -> None:
    assert {_stage(m) for m in MODULES} <= set(LAYERS), sorted({_stage(m) for m in MODULES} - set(LAYERS))


def test_imports_never_go_up_a_stage() -> None:
    upward = []
    for mod, path in MODULES.items():
        for target, names, line in _imports(mod, path):
            for name in names or [None]:
                sub = f"{target}.{name}" if name else target
                dest = sub if sub in MODULES else target
                if dest == "recipemut":  # the package's face: its version
                    continue
                if LAYERS[_stage(dest)] > LAYERS[_stage(mod)]:
                    upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {mod} imports {dest}")
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, "\n".join(" -> ".join([*c, c[0]]) for c in cycles[:10])


def test_no_private_name_taken_from_another_module() -> None:
    private = []
    for mod, path in MODULES.items():
        for target, names, line in _imports(mod, path):
            for name in names:
                if name.startswith("_") and not name.startswith("__") and f"{target}.{name}" not in MODULES:
                    private.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} from {target}")
    assert not private, "\n".join(private)


def test_the_top_of_the_package_shows_stages_not_modules() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_source_file_is_too_long_to_read(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (at most {MAX_LINES})"


LINES_PER_COMMAND = 150  # options and rendering of one command, on average
LINES_PER_SHARED = 200  # a commands/_*.py module: options or layout several commands share instead of repeating


def test_commands_hold_options_and_rendering_only() -> None:
    """The CLI layer stays thin: flows belong to ``usecases/``, so ``commands/`` stays small per command."""
    modules = [p for p in (PACKAGE / "commands").glob("*.py") if not p.name.startswith("_")]
    shared = [p for p in (PACKAGE / "commands").glob("_*.py") if p.name != "__init__.py"]
    total = sum(p.read_text(encoding="utf-8").count("\n") for p in (PACKAGE / "commands").glob("*.py"))
    cap = LINES_PER_SHARED * len(shared) + LINES_PER_COMMAND * len(modules)
    assert total < cap, f"commands/ has {total} lines for {len(modules)} commands (under {cap} expected)"
