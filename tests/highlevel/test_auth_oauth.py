"""OAuthAuth and LocationTokenAuth: single-flight renewal, rotation saved first, 401 handling.

Everything runs against the fake HighLevel OAuth server on loopback (real HTTP), which refuses a
refresh token used twice, so a second refresh request would also show up as a failure.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from hl_oauth_loopback import CLIENT_ID, CLIENT_SECRET, OAuthServer, serve
from pydantic import SecretStr

from tnhl.highlevel._auth import Auth, PrivateIntegrationToken
from tnhl.highlevel._clock import FakeClock
from tnhl.highlevel._errors import AuthError
from tnhl.highlevel._oauth import OAuthApp
from tnhl.highlevel._oauth_auth import LocationTokenAuth, OAuthAuth
from tnhl.highlevel._tokens import MemoryTokenStore, TokenSet

NOW = 1_700_000_000.0
KEY = "loc1"


@pytest.fixture
def server() -> Iterator[tuple[OAuthServer, str]]:
    """The fake OAuth server; refreshes take 0.2 s so concurrent callers really overlap."""
    state = OAuthServer(refresh_delay=0.2)
    with serve(state.app()) as url:
        yield state, url


def seeded(server: OAuthServer, *, expires_in: float, user_type: str = "Location") -> TokenSet:
    """A TokenSet the server really issued (its refresh token is valid), expiring as asked."""
    body = server.issue(user_type)
    return TokenSet(
        access_token=SecretStr(str(body["access_token"])),
        refresh_token=SecretStr(str(body["refresh_token"])),
        expires_at=NOW + expires_in,
        scopes=frozenset(str(body["scope"]).split()),
        user_type=user_type,
        location_id=str(body["locationId"]) if "locationId" in body else None,
        company_id="comp1",
        user_id="user1",
    )


def make_auth(
    server: tuple[OAuthServer, str], *, expires_in: float = -1.0
) -> tuple[OAuthAuth, MemoryTokenStore, FakeClock]:
    state, url = server
    clock = FakeClock(NOW)
    store = MemoryTokenStore({KEY: seeded(state, expires_in=expires_in)})
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=clock)
    return OAuthAuth(app, store, KEY), store, clock


def test_oauth_auth_is_an_auth_with_the_grants_location_and_scopes(
    server: tuple[OAuthServer, str],
) -> None:
    """OAuthAuth satisfies Auth; location_id and scopes come from the stored grant."""
    auth, _, _ = make_auth(server, expires_in=3600)
    assert isinstance(auth, Auth)
    assert auth.location_id == "loc1"
    assert auth.scopes == frozenset({"contacts.readonly", "contacts.write"})
    assert auth.get_token() == "access-1"
    assert server[0].requests == {}


def test_fifty_threads_cause_exactly_one_refresh(server: tuple[OAuthServer, str]) -> None:
    """50 threads finding the token expired send ONE refresh and all get the new token."""
    auth, store, _ = make_auth(server)
    barrier = threading.Barrier(50)
    got: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            got.append(auth.get_token())
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert server[0].requests["token:refresh_token"] == 1
    assert got == ["access-2"] * 50
    stored = store.load(KEY)
    assert stored is not None
    assert stored.refresh_token is not None
    assert stored.refresh_token.get_secret_value() == "refresh-2"


async def test_fifty_tasks_cause_exactly_one_refresh(server: tuple[OAuthServer, str]) -> None:
    """50 asyncio tasks finding the token expired send ONE refresh and all get the new token."""
    auth, _, _ = make_auth(server)
    got = await asyncio.gather(*(auth.aget_token() for _ in range(50)))
    assert server[0].requests["token:refresh_token"] == 1
    assert got == ["access-2"] * 50


def test_threads_and_tasks_together_cause_exactly_one_refresh(
    server: tuple[OAuthServer, str],
) -> None:
    """25 threads and 25 tasks (in another thread's event loop) share one refresh."""
    auth, _, _ = make_auth(server)
    barrier = threading.Barrier(26)
    got: list[str] = []

    def threaded() -> None:
        barrier.wait()
        got.append(auth.get_token())

    def looped() -> None:
        async def main() -> list[str]:
            barrier.wait()
            return list(await asyncio.gather(*(auth.aget_token() for _ in range(25))))

        got.extend(asyncio.run(main()))

    threads = [threading.Thread(target=threaded) for _ in range(25)]
    threads.append(threading.Thread(target=looped))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert server[0].requests["token:refresh_token"] == 1
    assert got == ["access-2"] * 50


class FailingSaveStore(MemoryTokenStore):
    """A store whose save fails, as a full disk would."""

    def save(self, key: str, tokens: TokenSet) -> None:
        raise OSError("disk full")


def test_new_token_is_never_handed_out_unless_saved(server: tuple[OAuthServer, str]) -> None:
    """If saving the rotated pair fails, no caller gets the new token and nobody refreshes again."""
    state, url = server
    clock = FakeClock(NOW)
    store = FailingSaveStore({KEY: seeded(state, expires_in=-1)})
    auth = OAuthAuth(OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=clock), store, KEY)
    outcomes: list[str] = []
    barrier = threading.Barrier(10)

    def call() -> None:
        barrier.wait()
        try:
            outcomes.append(auth.get_token())
        except (OSError, AuthError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "access-2" not in outcomes
    assert sorted(set(outcomes)) <= ["AuthError", "OSError"]
    assert outcomes.count("OSError") == 1  # the leader; the followers get AuthError
    assert state.requests["token:refresh_token"] == 1


class GatedStore(MemoryTokenStore):
    """A store whose save() waits until the test opens the gate, and reports that it started."""

    def __init__(self, initial: dict[str, TokenSet]) -> None:
        super().__init__(initial)
        self.saving = threading.Event()
        self.gate = threading.Event()

    def save(self, key: str, tokens: TokenSet) -> None:
        self.saving.set()
        assert self.gate.wait(10), "the test never opened the gate"
        super().save(key, tokens)


def test_rotated_tokens_are_saved_before_anyone_gets_them(
    server: tuple[OAuthServer, str],
) -> None:
    """While the new pair is being saved, no caller (leader or follower) has the new token."""
    state, url = server
    store = GatedStore({KEY: seeded(state, expires_in=-1)})
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=FakeClock(NOW))
    auth = OAuthAuth(app, store, KEY)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(auth.get_token())) for _ in range(5)]
    for t in threads:
        t.start()
    assert store.saving.wait(10), "no refresh was saved"
    assert got == []  # the refresh answered, but nobody may use it until it is stored
    store.gate.set()
    for t in threads:
        t.join()
    assert got == ["access-2"] * 5
    assert state.requests["token:refresh_token"] == 1


def test_proactive_refresh_when_fewer_than_30_seconds_remain(
    server: tuple[OAuthServer, str],
) -> None:
    """No request while 31 s remain; one refresh once fewer than 30 s remain."""
    auth, _, clock = make_auth(server, expires_in=100)
    assert auth.get_token() == "access-1"
    clock.advance(69)
    assert auth.get_token() == "access-1"
    assert server[0].requests["token:refresh_token"] == 0
    clock.advance(2)
    assert auth.get_token() == "access-2"
    assert auth.get_token() == "access-2"
    assert server[0].requests["token:refresh_token"] == 1


def test_refresh_after_401_happens_once_per_rejected_token(
    server: tuple[OAuthServer, str],
) -> None:
    """A 401 on token A refreshes once; other callers rejected with A get B without a request."""
    auth, _, _ = make_auth(server, expires_in=3600)
    assert auth.refresh_after_unauthorized("access-1") == "access-2"
    assert auth.refresh_after_unauthorized("access-1") == "access-2"
    assert server[0].requests["token:refresh_token"] == 1
    assert auth.refresh_after_unauthorized("access-2") == "access-3"
    assert server[0].requests["token:refresh_token"] == 2


async def test_async_refresh_after_401_many_tasks_one_request(
    server: tuple[OAuthServer, str],
) -> None:
    """Twenty tasks all rejected with the same token share one refresh."""
    auth, _, _ = make_auth(server, expires_in=3600)
    got = await asyncio.gather(*(auth.arefresh_after_unauthorized("access-1") for _ in range(20)))
    assert got == ["access-2"] * 20
    assert server[0].requests["token:refresh_token"] == 1


def test_a_refresh_by_another_process_is_picked_up_from_the_store(
    server: tuple[OAuthServer, str],
) -> None:
    """If the store already holds a newer token than the rejected one, it is used, no request."""
    auth, store, _ = make_auth(server, expires_in=3600)
    assert auth.get_token() == "access-1"
    store.save(KEY, seeded(server[0], expires_in=3600))  # "another process" refreshed: access-2
    assert auth.refresh_after_unauthorized("access-1") == "access-2"
    assert server[0].requests == {}


def test_missing_or_unrefreshable_tokens(server: tuple[OAuthServer, str]) -> None:
    """No grant stored, or no refresh token: get_token raises AuthError, 401-refresh gives None."""
    state, url = server
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=FakeClock(NOW))
    empty = OAuthAuth(app, MemoryTokenStore(), "nobody")
    with pytest.raises(AuthError, match="no OAuth tokens stored under 'nobody'"):
        empty.get_token()
    assert empty.refresh_after_unauthorized("x") is None
    assert empty.location_id is None
    assert empty.scopes is None
    bare = seeded(state, expires_in=-1).model_copy(update={"refresh_token": None})
    stuck = OAuthAuth(app, MemoryTokenStore({KEY: bare}), KEY)
    with pytest.raises(AuthError, match="no refresh token"):
        stuck.get_token()
    assert stuck.refresh_after_unauthorized("access-1") is None
    assert state.requests == {}


async def test_refused_refresh_fails_every_caller_after_one_request(
    server: tuple[OAuthServer, str],
) -> None:
    """A spent refresh token: one request, and every waiting caller gets HighLevel's AuthError."""
    auth, _, _ = make_auth(server)
    server[0].refresh_tokens.clear()  # as if another app instance had spent it
    results = await asyncio.gather(*(auth.aget_token() for _ in range(10)), return_exceptions=True)
    assert all(isinstance(r, AuthError) for r in results)
    assert all("Invalid grant" in str(r) for r in results)
    assert server[0].requests["token:refresh_token"] == 1


def test_secrets_never_appear_in_reprs_or_errors(server: tuple[OAuthServer, str]) -> None:
    """repr/str of the auth objects and refresh errors show neither tokens nor the client secret."""
    auth, store, _ = make_auth(server)
    server[0].refresh_tokens.clear()
    with pytest.raises(AuthError) as info:
        auth.get_token()
    loc = LocationTokenAuth(auth.app, auth, "comp1", "locA")
    text = " ".join([repr(auth), str(auth), repr(loc), str(loc), str(info.value), repr(store)])
    stored = store.load(KEY)
    assert stored is not None
    assert stored.refresh_token is not None
    for secret in (
        CLIENT_SECRET,
        stored.access_token.get_secret_value(),
        stored.refresh_token.get_secret_value(),
    ):
        assert secret not in text


def agency_auth(server: tuple[OAuthServer, str], clock: FakeClock) -> OAuthAuth:
    state, url = server
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=clock)
    store = MemoryTokenStore({"agency": seeded(state, expires_in=3600, user_type="Company")})
    return OAuthAuth(app, store, "agency")


def test_location_token_auth_mints_once_and_again_when_expired(
    server: tuple[OAuthServer, str],
) -> None:
    """Twenty threads share one mint; near expiry a new token is minted (no refresh token)."""
    clock = FakeClock(NOW)
    agency = agency_auth(server, clock)
    auth = LocationTokenAuth(agency.app, agency, "comp1", "locA")
    assert isinstance(auth, Auth)
    assert auth.location_id == "locA"
    barrier = threading.Barrier(20)
    got: list[str] = []

    def call() -> None:
        barrier.wait()
        got.append(auth.get_token())

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1
    assert got[0].startswith("location-access-")
    assert server[0].requests["locationToken"] == 1
    assert auth.scopes == frozenset({"contacts.readonly"})
    clock.advance(86399 - 29)
    second = auth.get_token()
    assert second != got[0]
    assert server[0].requests["locationToken"] == 2
    assert auth.refresh_after_unauthorized(second) != second
    assert server[0].requests["locationToken"] == 3


async def test_location_token_auth_refreshes_a_refused_agency_token_once(
    server: tuple[OAuthServer, str],
) -> None:
    """A revoked agency token: one agency refresh, then the mint succeeds (async path)."""
    clock = FakeClock(NOW)
    agency = agency_auth(server, clock)
    server[0].agency_tokens.clear()  # HighLevel no longer accepts the stored agency token
    auth = LocationTokenAuth(agency.app, agency, "comp1", "locA")
    token = await auth.aget_token()
    assert token.startswith("location-access-")
    assert server[0].requests == {"locationToken": 2, "token:refresh_token": 1}


def test_location_token_auth_reports_highlevels_refusal_when_agency_cannot_refresh(
    server: tuple[OAuthServer, str],
) -> None:
    """An agency PIT that HighLevel refuses: AuthError with HighLevel's message, one request."""
    _, url = server
    app = OAuthApp(CLIENT_ID, CLIENT_SECRET, base_url=url, clock=FakeClock(NOW))
    agency_pit = PrivateIntegrationToken("pit-agency-SECRET-0001")
    auth = LocationTokenAuth(app, agency_pit, "comp1", "locA")
    with pytest.raises(AuthError) as info:
        auth.get_token()
    assert "401: Invalid JWT" in str(info.value)
    assert "cannot be refreshed" in str(info.value)
    assert "pit-agency-SECRET-0001" not in str(info.value)
    assert server[0].requests == {"locationToken": 1}


async def test_a_cancelled_refresh_is_taken_over_by_a_waiting_task() -> None:
    """The leading task is cancelled mid-refresh: a waiting task refreshes and succeeds."""
    state = OAuthServer(refresh_delay=0.3, grace=30.0)
    with serve(state.app()) as url:
        auth, _, _ = make_auth((state, url))
        leader = asyncio.create_task(auth.aget_token())
        deadline = asyncio.get_running_loop().time() + 5.0
        while state.requests["token:refresh_token"] == 0:  # the leader's request has arrived
            assert asyncio.get_running_loop().time() < deadline, "refresh never reached server"
            await asyncio.sleep(0.005)
        follower = asyncio.create_task(auth.aget_token())
        await asyncio.sleep(0)  # let the follower join the flight
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert await asyncio.wait_for(follower, 10.0) == "access-2"
        # The follower re-sent the same refresh token; HighLevel's grace gives the same pair.
        assert state.requests["token:refresh_token"] == 2
