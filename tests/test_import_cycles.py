"""No two modules of neuroport's core import each other, at module level or inside a function (a lazy import that only
hides a cycle counts as an import)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# package → folder: the core (backends/ and quantization/, which setup.py maps into the package, are not checked)
PACKAGES = {"neuroport": ROOT / "neuroport"}


def module_files() -> dict[str, Path]:
    """Dotted module name → file, for every module of the three folders."""
    out = {}
    for package, folder in PACKAGES.items():
        for file in folder.rglob("*.py"):
            parts = file.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out.setdefault(".".join((package, *parts)), file)
    return out


def imported_modules(file: Path, known: dict[str, Path]) -> set[str]:
    """The known modules ``file`` imports anywhere in its body (``from a.b import c`` counts a.b.c when that is a
    module, else a.b)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known.keys()
            found.update(subs or ({node.module} & known.keys()))
    return found


def test_import_graph_is_read():
    known = module_files()
    graph = {m: imported_modules(f, known) for m, f in known.items()}
    assert "neuroport.emulator.izhikevich_rk2" in graph["neuroport.emulator.izhikevich"]
    assert "neuroport.tasks" in graph["neuroport.training.eprop"]


def test_no_two_modules_import_each_other():
    known = module_files()
    graph = {m: imported_modules(f, known) for m, f in known.items()}
    pairs = sorted({tuple(sorted((a, b))) for a, deps in graph.items() for b in deps
                    if a != b and a in graph.get(b, ()) and not _is_package_of(a, b) and not _is_package_of(b, a)})
    assert pairs == [], f"modules that import each other: {pairs}"


def _is_package_of(package: str, module: str) -> bool:
    """A package's __init__ may name its submodules (entry tables) and they may import the package's names."""
    return module.startswith(package + ".")
