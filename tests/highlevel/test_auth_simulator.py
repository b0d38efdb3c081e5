"""OAuth end to end against the project's HighLevel simulator (an independent implementation).

The whole path a user takes: authorize page -> code -> tokens in an encrypted store ->
HighLevelClient calls with OAuthAuth; then the simulator's clock passes the token's expiry, the
next call is refused with 401, the client refreshes once and the call succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tnhl.highlevel import HighLevelClient
from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._oauth import OAuthApp
from tnhl.highlevel._oauth_auth import LocationTokenAuth, OAuthAuth
from tnhl.highlevel._tokens import EncryptedFileTokenStore, MemoryTokenStore, generate_secret_key
from tnhl.simulator import OAuthClientConfig, RunningSimulator, SimulatorConfig, running_simulator

CLIENT_ID = "6578278e879ad2646715ba9c-sim"
CLIENT_SECRET = "sim-client-secret-0123456789"
COMPANY = "companySim0000000001"
LOCATION = "locationSim000000001"
REDIRECT = "https://example.com/callback"


class SimTime:
    """The simulator's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sim() -> Iterator[tuple[RunningSimulator, SimTime]]:
    """A simulator with one OAuth app installed in one company at one location."""
    clock = SimTime()
    config = SimulatorConfig(
        oauth_clients=[
            OAuthClientConfig(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                company_id=COMPANY,
                locations=[LOCATION],
                scopes=["contacts.readonly", "contacts.write", "oauth.write"],
            )
        ]
    )
    with running_simulator(config, location_id=LOCATION, now=clock) as running:
        yield running, clock


def authorize(sim: RunningSimulator, app: OAuthApp, *, agency: bool = False) -> str:
    """Follow the authorize URL on the simulator's page, as the installing user would."""
    query = urlsplit(
        app.authorize_url(["contacts.readonly", "contacts.write", "oauth.write"])
    ).query
    pick = "&agency=1" if agency else f"&location_id={LOCATION}"
    response = httpx.get(f"{sim.base_url}/v2/oauth/chooselocation?{query}{pick}")
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def test_oauth_client_refreshes_after_the_simulator_expires_the_token(
    sim: tuple[RunningSimulator, SimTime], tmp_path: Path
) -> None:
    """Code -> stored tokens -> calls; after expiry one refresh and the call goes through."""
    running, sim_clock = sim
    clock = FakeClock(sim_clock.now.timestamp())
    app = OAuthApp(
        CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT, base_url=running.base_url, clock=clock
    )
    tokens = app.exchange_code(authorize(running, app))
    assert tokens.location_id == LOCATION
    store = EncryptedFileTokenStore(tmp_path / "tokens.bin", generate_secret_key())
    store.save(LOCATION, tokens)
    auth = OAuthAuth(app, store, LOCATION, clock=clock)
    with HighLevelClient(auth, base_url=running.base_url, clock=clock) as client:
        created = client.call(
            "create-contact", json={"locationId": LOCATION, "email": "ada@example.com"}
        )
        contact_id = created["contact"]["id"]
        # The simulator's day passes; our fake clock does not, so only the 401 can tell us.
        sim_clock.now += timedelta(days=1, minutes=5)
        fetched = client.call("get-contact", params={"contactId": contact_id})
        assert fetched["contact"]["id"] == contact_id
    refreshes = [e for e in running.log.entries() if e.path == "/oauth/token"]
    assert len(refreshes) == 2  # the code exchange and exactly one refresh
    stored = store.load(LOCATION)
    assert stored is not None
    assert stored.access_token != tokens.access_token
    assert stored.refresh_token != tokens.refresh_token


def test_location_tokens_minted_from_an_agency_install(
    sim: tuple[RunningSimulator, SimTime],
) -> None:
    """An agency install mints a location token that the contacts API accepts."""
    running, sim_clock = sim
    clock = FakeClock(sim_clock.now.timestamp())
    app = OAuthApp(
        CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT, base_url=running.base_url, clock=clock
    )
    agency_tokens = app.exchange_code(authorize(running, app, agency=True), user_type="Company")
    assert agency_tokens.user_type == "Company"
    agency = OAuthAuth(app, MemoryTokenStore({"agency": agency_tokens}), "agency")
    auth = LocationTokenAuth(app, agency, COMPANY, LOCATION)
    with HighLevelClient(auth, base_url=running.base_url, clock=clock) as client:
        created = client.call(
            "create-contact", json={"locationId": LOCATION, "email": "grace@example.com"}
        )
        assert created["contact"]["id"]
    minted = [e for e in running.log.entries() if e.path == "/oauth/locationToken"]
    assert len(minted) == 1
