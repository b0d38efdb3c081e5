"""Milestones in note text (issue 10): "the deal was signed today" -> a milestone note.

Pure: the text and the keyword families in, the milestones it states out. A family (signed,
won, paid, renewed, cancelled, onboarded, or the user's own) is stated by a sentence holding
one of its phrases (whole words, any case) that is neither negated ("not signed yet", "didn't
pay") nor still ahead ("will sign next week", "hoping to renew"). One milestone per family per
note: the first sentence that states it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_MILESTONES", "Milestone", "find_milestones"]

DEFAULT_MILESTONES: Mapping[str, tuple[str, ...]] = {
    "signed": ("signed", "signed the contract", "signed the deal", "contract signed"),
    "won": ("won the deal", "deal won", "closed the deal", "closed won", "we won"),
    "paid": ("paid", "payment received", "paid in full", "invoice paid"),
    "renewed": ("renewed", "renewal signed", "renewed the contract"),
    "cancelled": ("cancelled", "canceled", "cancelled the contract", "terminated"),
    "onboarded": ("onboarded", "onboarding done", "onboarding complete", "went live"),
}
_NOT = re.compile(
    r"\b(?:not|never|no|didn't|did not|hasn't|has not|haven't|have not|isn't|wasn't|won't|"
    r"yet to|still to)\b",
    re.IGNORECASE,
)
_AHEAD = re.compile(
    r"\b(?:will|going to|plans? to|planning to|hope|hoping|hopes|expects? to|might|may|"
    r"should|wants? to|about to|if|once|when|before|needs? to)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")


@dataclass(frozen=True)
class Milestone:
    """A milestone a note states: its family and the sentence that states it."""

    family: str
    sentence: str


def _pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    words = [re.escape(p.strip()) for p in phrases if p.strip()]
    if not words:
        return None
    return re.compile(r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b", re.I)


def find_milestones(text: str, families: Mapping[str, Sequence[str]]) -> list[Milestone]:
    """The milestones `text` states, one per family (an empty family is turned off)."""
    patterns = {name: _pattern(phrases) for name, phrases in families.items()}
    out: list[Milestone] = []
    seen: set[str] = set()
    for sentence in (s.strip() for s in _SENTENCES.split(text or "")):
        if not sentence or _NOT.search(sentence) or _AHEAD.search(sentence):
            continue
        for name, pattern in patterns.items():
            if name not in seen and pattern is not None and pattern.search(sentence):
                seen.add(name)
                out.append(Milestone(name, sentence))
    return out
