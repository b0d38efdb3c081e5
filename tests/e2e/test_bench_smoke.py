"""The benchmarks still run (tiny sizes); their figures are not asserted here, only produced."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_bench_quick_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m bench --quick` writes intake, e2e and backlog figures to the results file."""
    monkeypatch.syspath_prepend(str(ROOT))
    from bench.run import main

    out = tmp_path / "latest.json"
    assert main(["--quick", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["intake"]["tnhl_events_per_s"] > 0
    assert figures["intake"]["bare_events_per_s"] > 0
    assert figures["e2e"]["dead"] == 0
    assert figures["e2e"]["calls_per_event_known_contacts"] > 0
    assert figures["backlog"]["dead"] == 0
    assert figures["backlog"]["highlevel_calls"] > 0
    assert "bench" in sys.modules
