"""A scripted TalkNotes receiver for the outbound pump's tests (fakes only for pure logic:
the store under the pump is real)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tnhl.talknotes import Delivered, DeliveryFailed


class FakeTalkNotes:
    """Answers from a script (a Delivered, or a DeliveryFailed to raise); logs what it got."""

    def __init__(self, *answers: Delivered | DeliveryFailed) -> None:
        self.answers = list(answers)
        self.got: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, message_id: str, body: Mapping[str, Any]) -> Delivered:
        self.got.append((message_id, dict(body)))
        answer = self.answers.pop(0) if self.answers else Delivered(200, None)
        if isinstance(answer, DeliveryFailed):
            raise answer
        return answer

    def close(self) -> None:
        pass
