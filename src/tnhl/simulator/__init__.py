"""A local HighLevel (contacts API v2) for demos, tests and benchmarks: `tnhl simulate`."""

from __future__ import annotations

from tnhl.simulator._app import OPERATIONS, SimulatorParts, build_simulator, create_app
from tnhl.simulator._config import (
    DEFAULT_LOCATION_ID,
    LocationConfig,
    OAuthClientConfig,
    PitConfig,
    SimulatorConfig,
    load_config,
)
from tnhl.simulator._errors import ConfigError, SimulatorError
from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._serve import ServeError, bind_listening_socket, serve_in_thread
from tnhl.simulator._state import LocationSettings, SimState
from tnhl.simulator._testing import RunningSimulator, running_simulator

__all__ = [
    "DEFAULT_LOCATION_ID",
    "OPERATIONS",
    "ConfigError",
    "LocationConfig",
    "LocationSettings",
    "OAuthClientConfig",
    "PitConfig",
    "RunningSimulator",
    "ServeError",
    "SimHTTPError",
    "SimState",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorParts",
    "bind_listening_socket",
    "build_simulator",
    "create_app",
    "load_config",
    "running_simulator",
    "serve_in_thread",
]
