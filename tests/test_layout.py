"""The dependency direction of DESIGN.md, checked by parsing the imports of every module.

cli -> sync -> (mapping, store, talknotes, highlevel, webhooks); highlevel imports nothing else
from tnhl; simulator may use highlevel only. A package without a rule here fails the test, so a
new package gets a deliberate place in the picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tnhl"

# Which other tnhl packages each package may import (its own is always allowed).
ALLOWED: dict[str, frozenset[str] | None] = {
    "highlevel": frozenset(),
    "store": frozenset(),
    # mapping reads the TalkNotes contract's types (the catalog's triggers); talknotes
    # imports no mapping, so the direction stays one way.
    "mapping": frozenset({"highlevel", "talknotes"}),
    "talknotes": frozenset({"highlevel"}),
    "webhooks": frozenset({"talknotes", "highlevel"}),
    "simulator": frozenset({"highlevel"}),
    "sync": frozenset({"mapping", "store", "talknotes", "highlevel", "webhooks"}),
    "cli": None,  # anything
}


def _module_name(root: Path, path: Path) -> list[str]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def tnhl_imports(root: Path, path: Path) -> list[tuple[int, str]]:
    """(line, module) of every tnhl import in `path`, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _module_name(root, path)
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from tnhl import sync` names a package in the alias, not the module.
            if module == "tnhl":
                found += [(node.lineno, f"tnhl.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if name == "tnhl" or name.startswith("tnhl.")]


def violations(root: Path) -> list[str]:
    """Every import that breaks ALLOWED, as 'file:line: a -> b' lines."""
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if len(rel.parts) < 2:
            continue  # tnhl/__init__.py and top-level modules: no rule in DESIGN.md
        package = rel.parts[0]
        if package not in ALLOWED:
            problems.append(f"{rel}: package {package!r} has no dependency rule in test_layout")
            continue
        allowed = ALLOWED[package]
        for line, name in tnhl_imports(root, path):
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else ""
            if target == package or allowed is None:
                continue
            if target not in allowed:
                problems.append(f"{rel}:{line}: {package} imports {name}")
    return problems


def test_source_follows_the_dependency_direction() -> None:
    """No module under src/tnhl imports a tnhl package its own package may not depend on."""
    assert SRC.is_dir()
    assert violations(SRC) == []


def test_highlevel_exists_and_is_checked() -> None:
    """The check really reads the highlevel package (it is not vacuously empty)."""
    imports = tnhl_imports(SRC, SRC / "highlevel" / "_client.py")
    assert any(name == "tnhl.highlevel._core" for _, name in imports)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("highlevel/_x.py", "from tnhl.store import open_store\n", "highlevel imports tnhl.store"),
        ("highlevel/_x.py", "from ..sync import plan\n", "highlevel imports tnhl.sync"),
        ("store/_x.py", "import tnhl.mapping\n", "store imports tnhl.mapping"),
        ("simulator/_x.py", "from tnhl import sync\n", "simulator imports tnhl.sync"),
        ("webhooks/_x.py", "import importlib\nimportlib.import_module('tnhl.store')\n",
         "webhooks imports tnhl.store"),
        ("newpkg/_x.py", "x = 1\n", "no dependency rule"),
    ],
)  # fmt: skip
def test_checker_catches_violations(tmp_path: Path, path: str, source: str, expected: str) -> None:
    """The checker reports forbidden absolute, relative, package and importlib imports."""
    root = tmp_path / "tnhl"
    target = root / path
    target.parent.mkdir(parents=True)
    (target.parent / "__init__.py").write_text("")
    target.write_text(source)
    found = violations(root)
    assert any(expected in problem for problem in found), found


def test_checker_allows_permitted_imports(tmp_path: Path) -> None:
    """sync may import store and highlevel; cli anything; a package itself always."""
    root = tmp_path / "tnhl"
    for path, source in {
        "sync/_x.py": "from tnhl.store import a\nfrom tnhl.highlevel import b\n",
        "cli/_x.py": "from tnhl.sync import a\nfrom tnhl.simulator import b\n",
        "highlevel/_x.py": "from . import _y\nfrom tnhl.highlevel._errors import E\n",
    }.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
    assert violations(root) == []


# Private modules of another package that are still imported, each with its reason. Anything
# new here is a design decision to write down, not a shortcut.
KNOWN_PRIVATE: set[tuple[str, str]] = set()


def private_imports(root: Path) -> list[str]:
    """Imports of another package's private module (`tnhl.pkg._mod`), as 'file:line: name'."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        package = rel.parts[0] if len(rel.parts) > 1 else ""
        for line, name in tnhl_imports(root, path):
            parts = name.split(".")
            private = len(parts) > 2 and parts[2].startswith("_")
            if (
                private
                and parts[1] != package
                and (package, ".".join(parts[:3])) not in (KNOWN_PRIVATE)
            ):
                found.append(f"{rel}:{line}: {name}")
    return found


def test_no_package_imports_another_packages_private_modules() -> None:
    """Packages use each other's public names (`__all__`), never `tnhl.other._module`."""
    assert private_imports(SRC) == []


def test_private_import_checker_catches_one(tmp_path: Path) -> None:
    """The private-import check reports `from tnhl.sync._service import Service` in cli."""
    root = tmp_path / "tnhl"
    (root / "cli").mkdir(parents=True)
    (root / "cli" / "_x.py").write_text("from tnhl.sync._service import Service\n")
    assert private_imports(root) == ["cli/_x.py:1: tnhl.sync._service"]
