"""The simulator's error tree.

    SimulatorError
    └── ConfigError      a config file or option is wrong (names the field)

`SimHTTPError` (in `_http`) is not part of it: it is an HTTP answer, not a failure.
`ServeError` (in `_serve`) is raised when uvicorn does not start or stop in time.
"""

from __future__ import annotations

__all__ = ["ConfigError", "SimulatorError"]


class SimulatorError(Exception):
    """Base of the simulator's own errors."""


class ConfigError(SimulatorError):
    """The simulator's configuration is invalid; the message names the field."""
