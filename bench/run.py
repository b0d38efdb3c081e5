"""Run tnhl's benchmarks and write the figures to bench/results/latest.json.

    python -m bench                         # full sizes (several minutes on 2 cores)
    python -m bench --quick                 # tiny sizes, to check the benchmarks still run
    python -m bench --only engine --only scale --only order   # the engine's figures (issue 7)

Each figure is measured against its baseline in the same run (machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
ALL = ["intake", "e2e", "backlog", "engine", "scale", "order", "fairness", "twoway", "followups"]


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def _source() -> dict[str, Any]:
    """The commit measured and whether src/ had uncommitted changes: engineers share this
    working tree, so a figure is only comparable with the code it was measured on."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:  # no git: the figures stand without it
        return {}
    return {"commit": commit, "src_uncommitted_changes": bool(dirty)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", choices=ALL, action="append")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    only = set(args.only or ALL)
    from tnhl.sync._logging import configure_logging

    configure_logging(level="warning")
    figures: dict[str, Any] = {"machine": _machine(), "source": _source(), "quick": args.quick}
    started = time.time()
    if "intake" in only:
        from bench import _intake

        sizes: dict[str, Any] = (
            {"events": 200, "rounds": 1} if args.quick else {"events": 2000, "rounds": 3}
        )
        figures["intake"] = _intake.run(**sizes)
        _print("intake", figures["intake"])
    if "e2e" in only:
        from bench import _e2e

        sizes = {"events": 60} if args.quick else {"events": 1000}
        figures["e2e"] = _e2e.run(**sizes)
        _print("e2e", figures["e2e"])
    if "backlog" in only:
        from bench import _backlog

        sizes = (
            {"events": 150, "time_scale": 0.1}
            if args.quick
            else {"events": 2000, "time_scale": 0.2}
        )
        figures["backlog"] = _backlog.run(**sizes)
        _print("backlog", figures["backlog"])
    if "engine" in only:
        from bench import _engine

        # 4 events per person: 2,000 events full, 200 quick.
        figures["engine"] = _engine.run(people=25 if args.quick else 250)
        _print("engine", figures["engine"])
    if "scale" in only:
        from bench import _scale

        figures["scale"] = (
            _scale.run(
                sizes=(1_000, 5_000, 10_000),
                rounds=20,
                intake_events=200,
                intake_rounds=1,
                hold=2.5,
            )
            if args.quick
            else _scale.run()  # 1k / 100k / 300k pending, 1,000 POSTs x 3, a 5 s lock
        )
        _print("scale", figures["scale"])
    if "fairness" in only:
        from bench import _fairness

        figures["fairness"] = _fairness.run(quick=args.quick)
        _print("fairness", figures["fairness"])
    if "twoway" in only:
        from bench import _twoway

        sizes = (
            {"contacts": 30, "changed": 10, "rounds": 20}
            if args.quick
            else {"contacts": 300, "changed": 100, "rounds": 200}
        )
        figures["twoway"] = _twoway.run(**sizes)
        _print("twoway", figures["twoway"])
    if "followups" in only:
        from bench import _followups

        figures["followups"] = _followups.run()
        _print("followups", figures["followups"])
    if "order" in only:
        from bench import _order

        figures["order"] = (
            _order.run(events=150, people=15, rounds=1) if args.quick else _order.run()
        )
        _print("order", figures["order"])
    figures["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _print(name: str, figures: dict[str, Any]) -> None:
    print(f"[{name}]", file=sys.stdout)
    for key, value in figures.items():
        if not isinstance(value, list | dict):
            print(f"  {key}: {value}")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
