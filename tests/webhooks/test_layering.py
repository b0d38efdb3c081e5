"""The dependency rule for tnhl.talknotes and tnhl.webhooks, checked on their source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "tnhl"

ALLOWED = {
    "talknotes": {"talknotes", "highlevel"},
    "webhooks": {"webhooks", "talknotes", "highlevel"},
}


def tnhl_imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (SRC / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "tnhl":
                    found.add((path.name, parts[1] if len(parts) > 1 else ""))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_dependency_rule(package: str) -> None:
    """talknotes imports only highlevel; webhooks only talknotes and highlevel (no store, sync,
    mapping)."""
    imports = tnhl_imports(package)
    assert imports, "the scan found no tnhl imports at all, so it checks nothing"
    bad = {(f, target) for f, target in imports if target not in ALLOWED[package]}
    assert bad == set()


def test_no_machine_paths_or_spec_files_at_run_time() -> None:
    """Neither package names the shared spec folder or an absolute machine path."""
    # The folder the checkout sits in, e.g. a user's home: it must not leak into the code.
    machine = str(Path(__file__).resolve().parents[3]).rstrip("/") + "/"
    for package in ALLOWED:
        for path in (SRC / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert len(machine) < 2 or machine not in text, path
            assert "ghl-openapi" not in text, path
