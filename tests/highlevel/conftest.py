"""Fixtures of the highlevel tests."""

from __future__ import annotations

import pytest
from hl_support import Runner


@pytest.fixture(params=["sync", "async"])
def runner(request: pytest.FixtureRequest) -> Runner:
    """The same scenario through HighLevelClient and AsyncHighLevelClient."""
    return Runner(request.param)
