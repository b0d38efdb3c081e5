"""`python -m bench._simproc CONFIG TOKEN LOCATION`: a simulator in its own process.

Prints its base URL on the first line of stdout, then serves until stdin closes. Built on
`running_simulator` (serve_in_thread), like the tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tnhl.simulator import load_config, running_simulator


def main() -> None:
    config = load_config(Path(sys.argv[1]))
    with running_simulator(config, token=sys.argv[2], location_id=sys.argv[3]) as sim:
        print(sim.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    main()
