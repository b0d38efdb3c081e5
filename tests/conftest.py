"""Shared fixtures: the official specs in ../shared and the external-tool rule."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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
