"""Connections in the settings (issue 8): the `connections:` list, `env:` secrets, the
single-location settings as the connection "default", and every bad entry refused at load
with the connection and field named (never a secret's value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tnhl.sync import load_settings
from tnhl.sync._errors import SettingsError

TWO = """
connections:
  - name: acme
    location_id: ve9EPM428h8vShlRW1KT
    highlevel_token: env:ACME_PIT
    talknotes_secret: env:ACME_WHSEC
    time_zone: America/New_York
  - name: bolt_2
    location_id: Ab3dEf6hIj9kLm2nOp5Q
    highlevel_token: pit-bolt-literal
    talknotes_secret: whsec_Ym9sdHNlY3JldA==
    mapping_file: bolt-mapping.yaml
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOCATION_ID", "HIGHLEVEL_TOKEN", "TALKNOTES_SECRET", "MAPPING_FILE", "CONFIG"):
        monkeypatch.delenv(f"TNHL_{name}", raising=False)
    monkeypatch.setenv("ACME_PIT", "pit-acme-from-env")
    monkeypatch.setenv("ACME_WHSEC", "whsec_YWNtZXNlY3JldA==")


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tnhl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _refused(tmp_path: Path, text: str) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load_settings(_file(tmp_path, text))
    return caught.value


def test_two_connections_load_with_their_secrets_read_from_the_environment(
    tmp_path: Path,
) -> None:
    """Each entry keeps its own location, credentials, mapping and zone; `env:ACME_PIT` is
    replaced by that variable's value."""
    settings = load_settings(_file(tmp_path, TWO))
    acme, bolt = settings.connection_list()
    assert (acme.name, acme.location_id, acme.time_zone) == (
        "acme",
        "ve9EPM428h8vShlRW1KT",
        "America/New_York",
    )
    assert acme.highlevel_token is not None
    assert acme.highlevel_token.get_secret_value() == "pit-acme-from-env"
    assert acme.talknotes_secret is not None
    assert acme.talknotes_secret.get_secret_value() == "whsec_YWNtZXNlY3JldA=="
    assert (bolt.name, bolt.location_id, bolt.mapping_file) == (
        "bolt_2",
        "Ab3dEf6hIj9kLm2nOp5Q",
        Path("bolt-mapping.yaml"),
    )
    assert bolt.highlevel_token is not None
    assert bolt.highlevel_token.get_secret_value() == "pit-bolt-literal"
    assert "pit-acme-from-env" not in repr(settings)


def test_the_single_location_environment_is_the_connection_named_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TNHL_LOCATION_ID, TNHL_HIGHLEVEL_TOKEN and TNHL_TALKNOTES_SECRET, as today, are one
    connection "default"; without a location there is no connection."""
    assert load_settings().connection_list() == []
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-env-1")
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", "pit-env")
    monkeypatch.setenv("TNHL_TALKNOTES_SECRET", "whsec_ZW52")
    [default] = load_settings().connection_list()
    assert (default.name, default.location_id) == ("default", "loc-env-1")
    assert default.highlevel_token is not None
    assert default.highlevel_token.get_secret_value() == "pit-env"


def test_one_connection_entry_is_served_as_the_single_location_settings(
    tmp_path: Path,
) -> None:
    """A file with one entry sets location_id, highlevel_token and talknotes_secret from it,
    so everything that reads those works unchanged."""
    text = TWO.split("  - name: bolt_2")[0]
    settings = load_settings(_file(tmp_path, text))
    assert settings.location_id == "ve9EPM428h8vShlRW1KT"
    assert settings.highlevel_token is not None
    assert settings.highlevel_token.get_secret_value() == "pit-acme-from-env"
    assert settings.talknotes_secret is not None
    assert settings.talknotes_secret.get_secret_value() == "whsec_YWNtZXNlY3JldA=="
    assert [c.name for c in settings.connection_list()] == ["acme"]


@pytest.mark.parametrize(
    ("entry", "field", "line", "problem"),
    [
        (
            "name: ac me\n    location_id: L1",
            "connections[ac me].name",
            2,
            "must be 1-64 letters, digits, '-' or '_' (it is part of a URL)",
        ),
        (
            "name: acme\n    location_id: L1\n    highlevel_token: env:NOT_SET_ANYWHERE",
            "connections[acme].highlevel_token",
            4,
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            "name: acme\n    location_id: L1\n    talknotes_secret: env:9bad",
            "connections[acme].talknotes_secret",
            4,
            "env:9bad does not name an environment variable",
        ),
        (
            "name: acme\n    location_id: L1\n    time_zone: Mars/Olympus",
            "connections[acme].time_zone",
            4,
            "'Mars/Olympus' is not an IANA time zone (e.g. America/New_York)",
        ),
        (
            "name: acme\n    location_id: L1\n    time_zon: UTC",
            "connections[acme].time_zon",
            4,
            "unknown key (did you mean time_zone?)",
        ),
        ("name: acme", "connections[acme].location_id", 2, "Field required"),
        (
            "name: acme\n    location_id: 'has space'",
            "connections[acme].location_id",
            3,
            "must be a HighLevel location id (no spaces, at most 255 characters)",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_connection_and_the_field(
    tmp_path: Path, entry: str, field: str, line: int, problem: str
) -> None:
    """Each problem is a SettingsError whose field is connections[NAME].FIELD, its message
    led by the file and the line of the field (or of its entry)."""
    err = _refused(tmp_path, f"connections:\n  - {entry}\n")
    assert (err.field, err.problem) == (field, problem)
    assert str(err) == f"{tmp_path / 'tnhl.yaml'} line {line}: {field}: {problem}"


def test_repeated_names_or_locations_are_refused(tmp_path: Path) -> None:
    """Two entries with one name, or with one location_id, are refused naming both."""
    same_name = "connections:\n  - {name: a, location_id: L1}\n  - {name: a, location_id: L2}\n"
    err = _refused(tmp_path, same_name)
    assert (err.field, err.problem) == ("connections", "connection name 'a' is used twice")
    same_loc = "connections:\n  - {name: a, location_id: L1}\n  - {name: b, location_id: L1}\n"
    err = _refused(tmp_path, same_loc)
    assert (err.field, err.problem) == (
        "connections",
        "connections 'a' and 'b' have the same location_id: one location is one connection",
    )


def test_single_location_settings_beside_connections_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TNHL_LOCATION_ID set while the file lists connections is ambiguous: refused, naming it,
    and the secret it would have come with is not in the message."""
    monkeypatch.setenv("TNHL_LOCATION_ID", "loc-env-1")
    err = _refused(tmp_path, TWO)
    assert err.field == "location_id"
    assert "set it in each connection entry instead" in err.problem
    assert "pit-acme-from-env" not in str(err)


def test_the_service_names_a_connection_without_its_talknotes_secret(tmp_path: Path) -> None:
    """Intake needs every connection's secret: a missing one stops the service before the
    store opens, naming connections[NAME].talknotes_secret."""
    from tnhl.sync._service import Service

    text = "connections:\n  - {name: acme, location_id: L1, highlevel_token: pit-a}\n"
    settings = load_settings(_file(tmp_path, text), data_dir=tmp_path / "data")
    with pytest.raises(SettingsError) as caught:
        Service.from_settings(settings)
    assert caught.value.field == "connections[acme].talknotes_secret"
    assert not (tmp_path / "data").exists()


def test_a_connections_time_zone_places_its_date_only_due_dates(tmp_path: Path) -> None:
    """acme (America/New_York) sends dueDate 2026-03-06: due at 09:00 New York time, i.e.
    14:00Z (EST, UTC-5, before that year's DST switch on 8 March); the default mapping
    without a zone would say 09:00Z."""
    from tnhl.highlevel import RateLimiter
    from tnhl.mapping import default_mapping, map_task
    from tnhl.sync._connect import highlevel_routes
    from tnhl.sync._pacing import PacedLimiter

    settings = load_settings(_file(tmp_path, TWO), highlevel_base_url="http://127.0.0.1:9")
    routes, clients = highlevel_routes(
        settings,
        settings.connection_list(),
        limiter=PacedLimiter(RateLimiter()),
        client_call=lambda *a, **k: None,
        mapping=default_mapping(),
    )
    assert clients == []
    task = {"id": "t1", "contactId": "p1", "taskName": "Call", "dueDate": "2026-03-06"}
    acme = map_task(task, routes["ve9EPM428h8vShlRW1KT"].mapping, create=True, reference=None)
    bolt = map_task(task, routes["Ab3dEf6hIj9kLm2nOp5Q"].mapping, create=True, reference=None)
    assert acme.fields["dueDate"] == "2026-03-06T14:00:00Z"
    assert bolt.fields["dueDate"] == "2026-03-06T09:00:00Z"
