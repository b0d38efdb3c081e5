"""tnhl: keeps TalkNotes and HighLevel contacts, tasks and notes in sync."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
