"""TokenRegistry: PITs, OAuth grants, refresh rotation and HighLevel's 401/403 answers."""

from __future__ import annotations

import pytest

from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._tokens import REFRESH_REUSE_WINDOW, TokenRegistry, app_id_of

LOC = "loc1"
OTHER = "loc2"
CLIENT = "app123-suffix"
SECRET = "s3cret-value"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(clock: Clock) -> TokenRegistry:
    reg = TokenRegistry(clock=clock)
    reg.add_pit("pit-abc", location_id=LOC)
    reg.add_pit("pit-ro", location_id=LOC, scopes=["contacts.readonly"])
    reg.add_client(
        CLIENT,
        SECRET,
        company_id="comp1",
        locations=[LOC, OTHER],
        scopes=["contacts.readonly", "contacts.write", "oauth.write"],
    )
    return reg


def _status(exc: pytest.ExceptionInfo[SimHTTPError]) -> tuple[int, object]:
    return exc.value.status, exc.value.message


def test_pit_is_accepted_for_its_location_and_scope(registry: TokenRegistry) -> None:
    """A PIT authorizes calls at its location with its scopes and never expires."""
    p = registry.authorize("Bearer pit-abc", scope="contacts.write", location_id=LOC)
    assert (p.kind, p.location_id, p.app_id, p.expires_at) == ("pit", LOC, "pit", None)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic pit-abc", "Bearer nope"])
def test_missing_or_garbage_bearer_is_invalid_jwt(
    registry: TokenRegistry, header: str | None
) -> None:
    """No header, a wrong scheme or an unknown token gives 401 Invalid JWT."""
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize(header, scope=None, location_id=None)
    assert _status(exc) == (401, "Invalid JWT")


def test_missing_scope_is_401(registry: TokenRegistry) -> None:
    """A token without the scope gets HighLevel's 401 scope message."""
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize("Bearer pit-ro", scope="contacts.write", location_id=LOC)
    assert _status(exc) == (401, "The token is not authorized for this scope.")


def test_wrong_location_is_403(registry: TokenRegistry) -> None:
    """A token used at another location gets 403 with HighLevel's message."""
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize("Bearer pit-abc", scope="contacts.readonly", location_id=OTHER)
    assert _status(exc) == (403, "The token does not have access to this location.")


def test_access_token_expires(registry: TokenRegistry, clock: Clock) -> None:
    """An OAuth access token works until its TTL and then gives 401 invalid token."""
    code = registry.issue_code(CLIENT, LOC)
    grant = registry.exchange_code(CLIENT, SECRET, code, access_ttl=100)
    header = f"Bearer {grant.access_token}"
    p = registry.authorize(header, scope="contacts.readonly", location_id=LOC)
    assert (p.kind, p.app_id, p.company_id) == ("location", app_id_of(CLIENT), "comp1")
    clock.now += 100
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize(header, scope="contacts.readonly", location_id=LOC)
    assert _status(exc) == (401, "Invalid token: access token is invalid")


def test_code_is_single_use(registry: TokenRegistry) -> None:
    """An authorization code exchanged once is refused the second time."""
    code = registry.issue_code(CLIENT, LOC)
    registry.exchange_code(CLIENT, SECRET, code)
    with pytest.raises(SimHTTPError) as exc:
        registry.exchange_code(CLIENT, SECRET, code)
    assert exc.value.status == 400


def test_wrong_secret_is_401_without_echoing_it(registry: TokenRegistry) -> None:
    """A bad client secret gives 401 and the message does not contain the secret."""
    code = registry.issue_code(CLIENT, LOC)
    with pytest.raises(SimHTTPError) as exc:
        registry.exchange_code(CLIENT, "wrong-secret-xyz", code)
    assert exc.value.status == 401
    assert "wrong-secret-xyz" not in str(exc.value.message)
    assert SECRET not in repr(registry)


def test_refresh_rotates_and_old_token_is_refused(registry: TokenRegistry, clock: Clock) -> None:
    """Refreshing gives a new pair; the used refresh token is refused after the 30 s window."""
    first = registry.exchange_code(CLIENT, SECRET, registry.issue_code(CLIENT, LOC))
    assert first.refresh_token is not None
    second = registry.refresh(CLIENT, SECRET, first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    assert second.access_token != first.access_token
    assert second.principal.location_id == LOC
    clock.now += REFRESH_REUSE_WINDOW + 1
    with pytest.raises(SimHTTPError) as exc:
        registry.refresh(CLIENT, SECRET, first.refresh_token)
    assert exc.value.status == 400
    assert second.refresh_token is not None
    third = registry.refresh(CLIENT, SECRET, second.refresh_token)
    assert third.refresh_token != second.refresh_token


def test_repeat_refresh_within_window_returns_same_pair(
    registry: TokenRegistry, clock: Clock
) -> None:
    """Two refreshes with one token within 30 s get the same new pair, as HighLevel documents."""
    first = registry.exchange_code(CLIENT, SECRET, registry.issue_code(CLIENT, LOC))
    assert first.refresh_token is not None
    a = registry.refresh(CLIENT, SECRET, first.refresh_token)
    clock.now += REFRESH_REUSE_WINDOW - 1
    b = registry.refresh(CLIENT, SECRET, first.refresh_token)
    assert (a.access_token, a.refresh_token) == (b.access_token, b.refresh_token)


def test_agency_token_mints_location_token(registry: TokenRegistry) -> None:
    """client_credentials gives a company token that mints a location token without refresh."""
    agency = registry.client_credentials(CLIENT, SECRET)
    assert agency.principal.kind == "company"
    p = registry.authorize(f"Bearer {agency.access_token}", scope="oauth.write", location_id=None)
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize(f"Bearer {agency.access_token}", scope=None, location_id=LOC)
    assert exc.value.status == 401
    loc = registry.location_token(p, "comp1", OTHER)
    assert loc.refresh_token is None
    q = registry.authorize(f"Bearer {loc.access_token}", scope="contacts.write", location_id=OTHER)
    assert q.kind == "location"
    with pytest.raises(SimHTTPError) as exc:
        registry.location_token(q, "comp1", LOC)
    assert exc.value.status == 401


def test_bad_configuration_names_the_field() -> None:
    """Registering a PIT without a location is refused with the field's name."""
    with pytest.raises(ValueError, match="location_id"):
        TokenRegistry().add_pit("pit-x", location_id="")


def test_long_expired_tokens_are_swept(
    registry: TokenRegistry, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the sweep threshold, tokens expired over a day ago are forgotten, recent ones kept."""
    monkeypatch.setattr("tnhl.simulator._tokens._PRUNE_AT", 2)
    old = registry.client_credentials(CLIENT, SECRET, access_ttl=10)
    clock.now += 10 + 86399 + 1
    recent = registry.client_credentials(CLIENT, SECRET, access_ttl=10)
    clock.now += 11
    registry.client_credentials(CLIENT, SECRET)  # the third mint sweeps
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize(f"Bearer {old.access_token}", scope=None, location_id=None)
    assert exc.value.message == "Invalid JWT"
    with pytest.raises(SimHTTPError) as exc:
        registry.authorize(f"Bearer {recent.access_token}", scope=None, location_id=None)
    assert exc.value.message == "Invalid token: access token is invalid"
