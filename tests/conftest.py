"""Shared fixtures: the official specs in ../shared and the external-tool rule."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SPECS = SHARED / "ghl-openapi"


def require_external() -> bool:
    return os.environ.get("TNHL_REQUIRE_EXTERNAL") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when an outside tool is missing; fail instead under CI's rule."""
    if condition:
        return
    if require_external():
        pytest.fail(f"TNHL_REQUIRE_EXTERNAL=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    """The official HighLevel specs beside the project (../shared/ghl-openapi)."""
    need(SPECS.is_dir(), f"the official specs are not at {SPECS.name} beside the project")
    return SPECS


@pytest.fixture(scope="session")
def prism_bin() -> Path:
    """Prism installed locally by `./dev test` (npm, ./node_modules)."""
    local = ROOT / "node_modules" / ".bin" / "prism"
    need(
        local.exists() and shutil.which("node") is not None, "Prism is not installed (npm install)"
    )
    return local


@pytest.fixture(autouse=True)
def _isolate_logging() -> Iterator[None]:
    """Commands run in-process (`tnhl run`, `tnhl demo`) configure logging for the process;
    undo it after each test so no test inherits another's levels, handlers or structlog chain."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
