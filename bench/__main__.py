"""`python -m bench`: run every benchmark and write bench/results/latest.json."""

from __future__ import annotations

from bench.run import main

raise SystemExit(main())
