"""The mapping package's dependency rule: nothing from tnhl except (possibly) tnhl.highlevel."""

from __future__ import annotations

import ast
from pathlib import Path

import tnhl.mapping

PACKAGE = Path(tnhl.mapping.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_mapping_imports_no_other_tnhl_package() -> None:
    """tnhl.mapping depends on no tnhl package but highlevel and talknotes (the contract's
    types, for the catalog), which import no mapping: any layer may use it."""
    files = sorted(PACKAGE.glob("*.py"))
    assert files
    for path in files:
        bad = {
            m
            for m in _imports(path)
            if m.startswith("tnhl") and not m.startswith(("tnhl.highlevel", "tnhl.talknotes"))
        }
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_mapping_ships_its_default_file() -> None:
    """default.yaml sits inside the package, so installed copies can load it."""
    assert (PACKAGE / "default.yaml").is_file()
