"""The planner stays pure: it imports no I/O packages and nothing from tnhl but mapping."""

from __future__ import annotations

import ast
from pathlib import Path

import tnhl.sync._planner as planner

ALLOWED_TNHL = {"tnhl.mapping"}
# Modules that would let planning touch the network, the disk, a database, a clock or a queue.
FORBIDDEN = {"httpx", "sqlalchemy", "huey", "redis", "psycopg", "socket", "os", "time", "random"}


def test_planner_modules_import_nothing_that_does_io() -> None:
    """_planner.py and _plan_types.py import only mapping, each other and pure libraries."""
    here = Path(planner.__file__).resolve().parent
    for name in ("_planner.py", "_plan_types.py"):
        tree = ast.parse((here / name).read_text(encoding="utf-8"))
        # Imports under `if TYPE_CHECKING:` are annotations only and never run.
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
            for inner in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                assert mod.split(".")[0] not in FORBIDDEN, f"{name} imports {mod}"
                if mod.startswith("tnhl"):
                    assert mod in ALLOWED_TNHL, f"{name} imports {mod}"
