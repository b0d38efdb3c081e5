"""The `tnhl` command line: thin typer commands over the packages."""

from __future__ import annotations

from tnhl.cli._app import app, main

__all__ = ["app", "main"]
