"""The benchmarks still run (tiny sizes); their figures are not asserted here, only produced."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.slow
def test_bench_quick_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m bench --quick` writes every benchmark's figures to the results file."""
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
    engine = figures["engine"]
    assert engine["engine_dead"] == engine["engine_only_dead"] == 0
    assert engine["engine_events_per_s"] > 0
    assert engine["baseline_events_per_s"] > 0
    assert engine["engine_only_events_per_s"] > 0
    assert engine["write_transactions_per_create"] > 0
    assert engine.get("postgres_skipped") or engine["postgres_engine_only_events_per_s"] > 0
    scale = figures["scale"]
    assert all(scale[f"claim_{n}_median_ms"] > 0 for n in scale["sizes"])
    assert scale["claim_statements_at_largest"]
    assert scale["intake_big_p99_ms"] > 0
    assert scale["intake_empty_p99_ms"] > 0
    assert scale["healthz_locked_probes"] > 0
    assert len(scale["post_locked_statuses"]) > 0
    order = figures["order"]
    assert order["in_order_dead"] == order["shuffled_dead"] == 0
    assert order["in_order_seconds"] > 0
    assert order["shuffled_seconds"] > 0
    fairness = figures["fairness"]
    assert fairness["trickle"]["dead"] == 0
    assert fairness["trickle"]["trickle_during_burst_p99_s"] > 0
    assert [a["connections"] for a in fairness["aggregate"]] == [1, 3]
    assert all(a["dead"] == 0 and a["highlevel_calls"] > 0 for a in fairness["aggregate"])
    twoway = figures["twoway"]
    assert twoway["poll_calls"] > 0
    assert twoway["profile_build_ms_median"] > 0
    assert twoway["highlevel_calls_per_profile"] == 0
    followups = figures["followups"]
    assert followups["corpus"]["sentences"] >= 200
    assert followups["held_out"]["sentences"] > 0
    assert "bench" in sys.modules
