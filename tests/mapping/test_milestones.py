"""Milestones in note text (issue 10): which families a note states, from the default phrases
or the user's; negated and still-ahead sentences state none."""

from __future__ import annotations

import pytest

from tnhl.mapping import default_mapping, find_milestones, load_mapping_text

FAMILIES = default_mapping().milestones.families


@pytest.mark.parametrize(
    ("text", "families"),
    [
        ("Great news: the contract was signed today.", ["signed"]),
        ("Payment received, and we won the deal!", ["won", "paid"]),
        ("They renewed for two more years. Onboarding complete.", ["renewed", "onboarded"]),
        ("Not signed yet.", []),
        ("They will sign next week.", []),
        ("Hoping to renew in March.", []),
        ("He didn't pay the invoice.", []),
        ("Met Sam at the expo.", []),
        ("Signed. Signed again later.", ["signed"]),
    ],
)
def test_the_families_a_note_states(text: str, families: list[str]) -> None:
    """One milestone per family per note, in the order of the families' first sentences."""
    assert sorted(m.family for m in find_milestones(text, FAMILIES)) == sorted(families)


def test_a_family_turned_off_or_of_ones_own() -> None:
    """`cancelled: []` turns that family off; a family of one's own is found."""
    cfg = load_mapping_text("milestones: {families: {cancelled: [], demo: [demo done]}}")
    text = "They cancelled. Demo done with the whole team."
    assert [m.family for m in find_milestones(text, cfg.milestones.families)] == ["demo"]
