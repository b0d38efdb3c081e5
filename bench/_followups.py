"""Follow-ups from note text (issue 10): precision and recall on the labelled corpora:
tests/data/followups.txt (hand-labelled, three zones, negatives included; the extractor was
tuned while it was written) and tests/data/followups-heldout.txt (written after, never tuned
on).

    python -m bench --only followups

A predicted follow-up counts as right when its due time equals the label to the minute; one
predicted for a sentence labelled `-`, or at another time, is a false positive (a wrong time
is a false negative too). Also the time per sentence (the extractor reads each one once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tnhl.mapping._followups import find_follow_ups

__all__ = ["CORPUS", "HELD_OUT", "Case", "load", "run", "score"]

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPUS = DATA / "followups.txt"
HELD_OUT = DATA / "followups-heldout.txt"


@dataclass(frozen=True)
class Case:
    line: int
    text: str
    reference: datetime
    due: datetime | None


def load(path: Path = CORPUS) -> list[Case]:
    cases: list[Case] = []
    reference: datetime | None = None
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            day, clock, zone = line[1:].split()
            reference = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo(zone))
            continue
        label, _, text = line.partition("|")
        assert reference is not None, f"line {n}: a sentence before any @ reference"
        label = label.strip()
        due = None
        if label != "-":
            due = datetime.fromisoformat(label.replace(" ", "T")).replace(tzinfo=reference.tzinfo)
        cases.append(Case(n, text.strip(), reference, due))
    return cases


def score(cases: list[Case]) -> dict[str, Any]:
    tp = fp = fn = 0
    wrong: list[str] = []
    started = time.perf_counter()
    for case in cases:
        found = find_follow_ups(case.text, case.reference)
        got = found[0].due.replace(second=0, microsecond=0) if found else None
        if got == case.due:  # both None: rightly none
            tp += got is not None
            continue
        if got is not None:
            fp += 1
        if case.due is not None:
            fn += 1
        shown = got.strftime("%Y-%m-%d %H:%M") if got else "-"
        wrong.append(f"line {case.line}: got {shown}: {case.text}")
    elapsed = time.perf_counter() - started
    return {
        "sentences": len(cases),
        "with_follow_up": sum(1 for c in cases if c.due is not None),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "goal_precision": 0.95,
        "goal_recall": 0.90,
        "ms_per_sentence": round(elapsed / len(cases) * 1000, 2),
        "wrong": wrong,
    }


def run() -> dict[str, Any]:
    cases = load()
    find_follow_ups("Call Sam tomorrow.", cases[0].reference)  # dateparser's first load
    return {"corpus": score(cases), "held_out": score(load(HELD_OUT))}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
