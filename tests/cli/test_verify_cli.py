"""`tnhl verify` against a real simulator: a green run, each kind of wrong credential named on
its own line, configuration errors, and no test record left behind whatever fails."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from tnhl.cli import _init, _verify
from tnhl.highlevel import HighLevelClient, OutcomeUnknownError, PrivateIntegrationToken
from tnhl.simulator import (
    LocationConfig,
    PitConfig,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)
from tnhl.sync._verify import run_checks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for

LOC = "VerifyLocation000001"
OTHER_LOC = "VerifyLocation000002"
GOOD = "pit-verify-good"
READ_ONLY = "pit-verify-readonly"
WRITE_ONLY = "pit-verify-writeonly"
OTHERS = "pit-verify-other-location"
SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="  # 28 bytes, a test value

GREEN = [
    "ok   token accepted by HighLevel",
    "ok   scopes contacts.readonly and contacts.write granted",
    f"ok   location {LOC} reachable with this token",
    "ok   contact created, read and updated (tnhl-verify-t1@example.com)",
    "ok   task created, read, updated and deleted",
    "ok   note created, read, updated and deleted",
    "ok   contact deleted: no test data is left in HighLevel",
]


@pytest.fixture(scope="module")
def module_sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(
        seed=3,
        locations=[LocationConfig(id=LOC), LocationConfig(id=OTHER_LOC)],
        tokens=[
            PitConfig(token=SecretStr(GOOD), location_id=LOC),
            PitConfig(token=SecretStr(READ_ONLY), location_id=LOC, scopes=["contacts.readonly"]),
            PitConfig(token=SecretStr(WRITE_ONLY), location_id=LOC, scopes=["contacts.write"]),
            PitConfig(token=SecretStr(OTHERS), location_id=OTHER_LOC),
        ],
    )
    with running_simulator(config) as sim:
        yield sim


@pytest.fixture
def sim(module_sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> RunningSimulator:
    """The simulator emptied, and the settings of a good setup in the environment."""
    module_sim.reset()
    monkeypatch.delenv("TNHL_CONFIG", raising=False)
    monkeypatch.setenv("TNHL_HIGHLEVEL_BASE_URL", module_sim.base_url)
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", GOOD)
    monkeypatch.setenv("TNHL_LOCATION_ID", LOC)
    monkeypatch.setenv("TNHL_TALKNOTES_SECRET", SECRET)
    return module_sim


def _app() -> typer.Typer:
    app = typer.Typer()
    _verify.register(app)
    _init.register(app)
    return app


def _left(sim: RunningSimulator) -> list[dict[str, Any]]:
    return [*sim.state.all("contact"), *sim.state.all("task"), *sim.state.all("note")]


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line[:5] in ("ok   ", "FAIL ", "skip ")]


def test_a_good_setup_passes_every_check_and_leaves_nothing(
    sim: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Exit 0, one ok line per check in order, no test record left, the token never shown."""
    caplog.set_level(logging.DEBUG)
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.output)
    assert lines[:3] == GREEN[:3]
    assert lines[3].startswith("ok   contact created, read and updated (tnhl-verify-")
    assert lines[4:7] == GREEN[4:]
    assert lines[7] == "ok   talknotes_secret set (a whsec_ secret)"
    assert lines[8] == (
        "skip public URL: not checked, as public_url is not set (set it to check that "
        "TalkNotes and HighLevel webhooks reach tnhl)"
    )
    assert "all checks passed: start syncing with `tnhl run`" in result.output
    assert _left(sim) == []
    assert sim.log.counts()["delete-contact"] == 1
    assert GOOD not in result.output
    assert GOOD not in caplog.text


def test_a_wrong_token_fails_the_token_line(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token HighLevel does not know: the token line fails saying what to check, exit 1."""
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", "pit-nobody-knows-this")
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 1, result.output
    assert _lines(result.output)[:2] == [
        "FAIL token: HighLevel answered 401 (Invalid JWT) - check highlevel_token: a Private "
        "Integration Token of this sub-account (HighLevel: Settings > Private Integrations)",
        "skip scopes, location, contact, task and note: not checked until the token check passes",
    ]
    assert "pit-nobody-knows-this" not in result.output
    assert _left(sim) == []


def test_a_token_without_contacts_write_fails_the_scope_line(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only token: the scopes line names contacts.write; nothing is created."""
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", READ_ONLY)
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 1, result.output
    assert _lines(result.output)[:4] == [
        "ok   token accepted by HighLevel",
        "FAIL scopes: the token lacks contacts.write (HighLevel answered 401: The token is not "
        "authorized for this scope.) - allow contacts.write for the token in HighLevel "
        "(Settings > Private Integrations, or your app's scopes); the token itself stays the "
        "same",
        f"ok   location {LOC} reachable with this token",
        "skip contact, task and note: not tried until the checks above pass",
    ]
    assert "create-contact" not in sim.log.counts()
    assert _left(sim) == []


def test_a_token_without_contacts_readonly_fails_the_scope_line(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write-only token: the scopes line names contacts.readonly; the location is skipped."""
    monkeypatch.setenv("TNHL_HIGHLEVEL_TOKEN", WRITE_ONLY)
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 1, result.output
    lines = _lines(result.output)
    assert lines[1].startswith("FAIL scopes: the token lacks contacts.readonly (")
    assert lines[2] == "skip location: not checked without contacts.readonly"
    assert _left(sim) == []


def test_another_locations_id_fails_the_location_line(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The good token with another sub-account's id: the token and scopes pass, the location
    line fails naming location_id (HighLevel's 403)."""
    monkeypatch.setenv("TNHL_LOCATION_ID", OTHER_LOC)
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 1, result.output
    assert _lines(result.output)[:4] == [
        "ok   token accepted by HighLevel",
        "ok   scopes contacts.readonly and contacts.write granted",
        "FAIL location: HighLevel answered 403 (The token does not have access to this "
        f"location.) - check location_id ({OTHER_LOC}): it must be the sub-account the token "
        "was made in",
        "skip contact, task and note: not tried until the checks above pass",
    ]
    assert _left(sim) == []


def test_a_missing_talknotes_secret_fails_its_line(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HighLevel passes but no talknotes_secret is set: exit 1 and the line says how to make
    one."""
    monkeypatch.delenv("TNHL_TALKNOTES_SECRET")
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 1, result.output
    assert (
        "FAIL talknotes secret: talknotes_secret is not set - make one with `tnhl secret new`"
        in result.output
    )


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        ("TNHL_HIGHLEVEL_BASE_URL", "setting highlevel_base_url (TNHL_HIGHLEVEL_BASE_URL)"),
        ("TNHL_LOCATION_ID", "setting location_id (TNHL_LOCATION_ID)"),
        ("TNHL_HIGHLEVEL_TOKEN", "setting highlevel_token (TNHL_HIGHLEVEL_TOKEN)"),
    ],
)
def test_a_missing_setting_is_a_configuration_error(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch, unset: str, message: str
) -> None:
    """Exit 2 naming the setting; HighLevel is not called."""
    monkeypatch.delenv(unset)
    result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sim.log.counts() == {}


def test_an_unknown_connection_name_is_a_configuration_error(sim: RunningSimulator) -> None:
    """--connection with a name the settings do not have: exit 2 naming it."""
    result = CliRunner().invoke(_app(), ["verify", "--connection", "nope"])
    assert result.exit_code == 2, result.output
    assert "no connection named 'nope' (configured: default)" in result.output


def _two_connections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A settings file of two connections with one good token: acme at LOC, beta at
    OTHER_LOC (a location the token cannot reach); the single-connection variables unset."""
    for name in ("TNHL_HIGHLEVEL_TOKEN", "TNHL_LOCATION_ID", "TNHL_TALKNOTES_SECRET"):
        monkeypatch.delenv(name)
    config = tmp_path / "tnhl.yaml"
    config.write_text(
        "connections:\n"
        f"  - {{name: acme, location_id: {LOC}, highlevel_token: {GOOD},"
        f" talknotes_secret: '{SECRET}'}}\n"
        f"  - {{name: beta, location_id: {OTHER_LOC}, highlevel_token: {GOOD},"
        f" talknotes_secret: '{SECRET}'}}\n",
        encoding="utf-8",
    )
    return config


def test_each_connection_is_verified_with_its_own_token(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two connections: each under its own heading; one whose token is another location's
    fails its location line; --connection checks only the one named."""
    config = _two_connections(monkeypatch, tmp_path)
    result = CliRunner().invoke(_app(), ["verify", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert f"connection acme (location {LOC}):" in result.output
    assert f"connection beta (location {OTHER_LOC}):" in result.output
    assert [line for line in _lines(result.output) if line.startswith("FAIL")] == [
        "FAIL location: HighLevel answered 403 (The token does not have access to this "
        f"location.) - check location_id ({OTHER_LOC}): it must be the sub-account the token "
        "was made in",
    ]
    only = CliRunner().invoke(_app(), ["verify", "--config", str(config), "--connection", "acme"])
    assert only.exit_code == 0, only.output
    assert "connection acme" not in only.output  # one target: no headings
    assert _left(sim) == []


def test_public_url_at_a_running_tnhl_passes(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """TNHL_PUBLIC_URL at a real running tnhl: three ok lines after the connection's, exit 0."""
    settings = settings_for(sim, tmp_path, SECRET, highlevel_token=GOOD, location_id=LOC)
    with running_service(settings) as (_, base):
        monkeypatch.setenv("TNHL_PUBLIC_URL", base)
        result = CliRunner().invoke(_app(), ["verify"])
    assert result.exit_code == 0, result.output
    assert _lines(result.output)[8:] == [
        f"ok   public URL {base} reaches tnhl (GET /healthz)",
        f"ok   TalkNotes webhooks reach tnhl at {base}/webhooks/talknotes (tnhl refused a test "
        "with a bad signature: 401, nothing stored)",
        f"ok   HighLevel webhooks reach tnhl at {base}/webhooks/highlevel (tnhl refused a test "
        "with a bad signature: 401, nothing stored)",
    ]
    assert "all checks passed: start syncing with `tnhl run`" in result.output


def test_public_url_with_nothing_there_fails_once_for_all_connections(
    sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two connections and a public_url nothing listens on: the public URL lines come once,
    under their own heading, after both connections', and count as a failed check."""
    config = _two_connections(monkeypatch, tmp_path)
    with socket.socket() as held:  # bound, never listening: connections are refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        monkeypatch.setenv("TNHL_PUBLIC_URL", f"http://127.0.0.1:{port}")
        result = CliRunner().invoke(_app(), ["verify", "--config", str(config)])
    assert result.exit_code == 1, result.output
    tail = result.output.split("public URL (every connection):\n")[1].splitlines()
    assert tail[:2] == [
        f"FAIL public URL: GET http://127.0.0.1:{port}/healthz: connection refused: nothing "
        "listens there - start `tnhl run` (or the proxy in front of it), or correct public_url",
        "skip TalkNotes and HighLevel webhooks: not checked while nothing answers at public_url",
    ]
    assert [line[:20] for line in _lines(result.output) if line.startswith("FAIL")] == [
        "FAIL location: HighL",  # beta's: the token is acme's
        "FAIL public URL: GET",
    ]
    assert "2 checks failed: see FAIL above" in result.output
    assert _left(sim) == []


def test_init_then_verify_passes(sim: RunningSimulator, tmp_path: Path) -> None:
    """The file `tnhl init` writes is all `tnhl verify --config` needs."""
    args = ["init", "--dir", str(tmp_path), "--yes", "--base-url", sim.base_url]
    made = CliRunner().invoke(_app(), [*args, "--location-id", LOC, "--token", GOOD])
    assert made.exit_code == 0, made.output
    result = CliRunner(env={"TNHL_HIGHLEVEL_TOKEN": None, "TNHL_TALKNOTES_SECRET": None}).invoke(
        _app(), ["verify", "--config", str(tmp_path / "tnhl.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert _left(sim) == []


# -- failures midway, through the checks with the client injected ----------------------------


class _Breaking:
    """A real client's call that breaks one operation: `how` is 'bad-id' (the simulator
    answers 400), 'crash' (a bug of tnhl's own) or 'unknown' (sent, then no answer)."""

    def __init__(self, client: HighLevelClient, operation: str, how: str) -> None:
        self.client, self.operation, self.how = client, operation, how

    def __call__(
        self,
        operation_id: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object | None = None,
    ) -> Any:
        if operation_id == self.operation:
            if self.how == "crash":
                raise RuntimeError("a bug in tnhl")
            if self.how == "bad-id":
                params = {**(params or {}), "taskId": "NoSuchTask0000000000"}
            if self.how == "unknown":
                self.client.call(operation_id, params=params, json=json)
                raise OutcomeUnknownError(
                    operation_id=operation_id,
                    method="POST",
                    path="/contacts/",
                    params={},
                    body=None,
                    cause=None,
                )
        return self.client.call(operation_id, params=params, json=json)


@pytest.fixture
def client(sim: RunningSimulator) -> Iterator[HighLevelClient]:
    with HighLevelClient(PrivateIntegrationToken(GOOD), base_url=sim.base_url) as c:
        yield c


def test_a_step_failing_midway_still_deletes_what_was_made(
    sim: RunningSimulator, client: HighLevelClient
) -> None:
    """update-task refused (400): the task line fails with HighLevel's words, the note still
    runs, and the cleanup deletes the task and the contact."""
    checks = run_checks(_Breaking(client, "update-task", "bad-id"), LOC, stamp="t1")
    assert [c.line() for c in checks][3:] == [
        GREEN[3],
        "FAIL task: update (update-task): HighLevel answered 400 (Task not found) - HighLevel "
        "refused tnhl's request: please report this line to tnhl's maintainers",
        GREEN[5],
        "ok   cleanup: deleted the test task and contact left behind",
    ]
    assert _left(sim) == []


def test_a_crash_midway_still_deletes_what_was_made(
    sim: RunningSimulator, client: HighLevelClient
) -> None:
    """An error of tnhl's own while the note is read goes up, after the note and the contact
    were deleted."""
    with pytest.raises(RuntimeError, match="a bug in tnhl"):
        run_checks(_Breaking(client, "get-note", "crash"), LOC, stamp="t1")
    assert sim.state.all("note") == []
    assert _left(sim) == []


def test_a_contact_create_with_unknown_outcome_is_found_and_deleted(
    sim: RunningSimulator, client: HighLevelClient
) -> None:
    """create-contact reached HighLevel but its answer was lost: the contact line fails, and
    the cleanup finds the contact by its test email and deletes it."""
    checks = run_checks(_Breaking(client, "create-contact", "unknown"), LOC, stamp="t1")
    assert [c.line() for c in checks][3:] == [
        "FAIL contact: create (create-contact): no answer from HighLevel; the request may have "
        "reached it - HighLevel or the network failed: run `tnhl verify` again in a minute",
        "skip task and note: they need the test contact",
        "ok   cleanup: deleted the test contact left behind",
    ]
    assert _left(sim) == []


def test_no_answer_from_highlevel_fails_one_line() -> None:
    """HighLevel unreachable: one FAIL line naming highlevel_base_url, the rest skipped."""
    from tnhl.highlevel import TransportError

    def down(operation_id: str, **_: Any) -> Any:
        raise TransportError("connection refused", method="POST", path="/contacts/search")

    assert [c.line() for c in run_checks(down, LOC)] == [
        "FAIL HighLevel: no answer from HighLevel (POST /contacts/search: connection refused) "
        "- check highlevel_base_url",
        "skip scopes, location, contact, task and note: not checked until the token check passes",
    ]
