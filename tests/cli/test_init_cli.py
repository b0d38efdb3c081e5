"""`tnhl init` and `tnhl secret new`: a settings file `load_settings` reads as it is, with
fresh secrets, mode 0600, never written over by accident; questions answered by flags or at
the prompts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import typer
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from tnhl.cli import _init
from tnhl.sync import load_settings
from tnhl.talknotes import decode_secret

LOC = "InitLocation00000001"
TOKEN = "pit-init-0000-1111"
FLAGS = ["--yes", "--location-id", LOC, "--token", TOKEN]


def _app() -> typer.Typer:
    app = typer.Typer()
    _init.register(app)
    return app


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file alone decides what load_settings reads."""
    for name in (
        "TNHL_CONFIG",
        "TNHL_HIGHLEVEL_BASE_URL",
        "TNHL_HIGHLEVEL_TOKEN",
        "TNHL_LOCATION_ID",
        "TNHL_TALKNOTES_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)


def _init_in(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), ["init", "--dir", str(tmp_path), *args], input=stdin)
    return result.exit_code, result.output


def test_secret_new_prints_a_fresh_usable_secret() -> None:
    """One whsec_ line of 32 bytes, different each time."""
    first = CliRunner().invoke(_app(), ["secret", "new"])
    second = CliRunner().invoke(_app(), ["secret", "new"])
    assert first.exit_code == 0, first.output
    secret = first.output.strip()
    assert secret.startswith("whsec_")
    assert len(decode_secret(secret)) == 32
    assert second.output.strip() != secret


def test_init_writes_a_private_file_load_settings_reads(tmp_path: Path) -> None:
    """With flags only: tnhl.yaml has mode 0600 and loads as is, with the answers and the
    three generated secrets usable."""
    code, output = _init_in(tmp_path, *FLAGS)
    assert code == 0, output
    path = tmp_path / "tnhl.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings(path)
    assert settings.highlevel_base_url == "https://services.leadconnectorhq.com"
    assert settings.location_id == LOC
    assert settings.highlevel_token is not None
    assert settings.highlevel_token.get_secret_value() == TOKEN
    assert settings.talknotes_secret is not None
    assert len(decode_secret(settings.talknotes_secret.get_secret_value())) == 32
    assert settings.token_file_key is not None
    Fernet(settings.token_file_key.get_secret_value())  # a usable key
    assert settings.admin_password is not None
    assert len(settings.admin_password.get_secret_value()) == 24
    assert settings.data_dir == (tmp_path / ".tnhl").resolve()
    assert settings.talknotes_outbound_url is None
    assert [p.name for p in tmp_path.iterdir()] == ["tnhl.yaml"]  # no temporary file left


def test_the_file_is_commented(tmp_path: Path) -> None:
    """Each setting is introduced by a comment saying what it is for."""
    _init_in(tmp_path, *FLAGS)
    text = (tmp_path / "tnhl.yaml").read_text(encoding="utf-8")
    assert text.startswith("# tnhl settings, written by `tnhl init` on ")
    assert "# TalkNotes signs its webhooks to /webhooks/talknotes with this secret.\n" in text
    assert "# The password the dashboard at / asks for.\nadmin_password: " in text


def test_init_shows_what_to_paste_into_talknotes_and_what_to_run(tmp_path: Path) -> None:
    """The webhook path, the TalkNotes secret and the dashboard password (as in the file),
    then `tnhl verify` and `tnhl run` with the file; never the token."""
    code, output = _init_in(tmp_path, *FLAGS)
    assert code == 0, output
    settings = load_settings(tmp_path / "tnhl.yaml")
    assert settings.talknotes_secret is not None
    assert settings.admin_password is not None
    path = tmp_path / "tnhl.yaml"
    assert "  URL:     https://<this machine's public address>/webhooks/talknotes\n" in output
    assert f"  secret:  {settings.talknotes_secret.get_secret_value()}\n" in output
    assert f"password: {settings.admin_password.get_secret_value()}\n" in output
    assert f"  tnhl verify --config {path}" in output
    assert f"  tnhl run --config {path}" in output
    assert TOKEN not in output
    assert settings.token_file_key is not None
    assert settings.token_file_key.get_secret_value() not in output


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """An existing tnhl.yaml stays as it was (exit 2); --force replaces it, still 0600."""
    path = tmp_path / "tnhl.yaml"
    path.write_text("location_id: mine\n", encoding="utf-8")
    code, output = _init_in(tmp_path, *FLAGS)
    assert code == 2
    assert f"tnhl: {path} exists; use --force to replace it" in output
    assert path.read_text(encoding="utf-8") == "location_id: mine\n"
    code, output = _init_in(tmp_path, *FLAGS, "--force")
    assert code == 0, output
    assert load_settings(path).location_id == LOC
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_init_asks_what_the_flags_do_not_say(tmp_path: Path) -> None:
    """At the prompts: Enter keeps the default URL, the token is typed hidden (not echoed),
    Enter leaves out the outbound URL."""
    code, output = _init_in(tmp_path, stdin=f"\n{LOC}\n{TOKEN}\n\n\n")
    assert code == 0, output
    assert "HighLevel API URL [https://services.leadconnectorhq.com]:" in output
    assert "HighLevel location (sub-account) id:" in output
    assert TOKEN not in output
    settings = load_settings(tmp_path / "tnhl.yaml")
    assert settings.location_id == LOC
    assert settings.highlevel_token is not None
    assert settings.highlevel_token.get_secret_value() == TOKEN
    assert settings.talknotes_outbound_url is None
    assert settings.public_url is None


def test_a_public_url_goes_into_the_file_and_the_talknotes_url(tmp_path: Path) -> None:
    """--public-url: the file holds it (without the trailing /) and the webhook URL to paste
    into TalkNotes is built on it."""
    code, output = _init_in(tmp_path, *FLAGS, "--public-url", "https://tnhl.example.com/")
    assert code == 0, output
    text = (tmp_path / "tnhl.yaml").read_text(encoding="utf-8")
    assert (
        "# The https address TalkNotes and HighLevel reach this tnhl at (a TLS proxy in front "
        "of\n# host:port); `tnhl verify` checks that webhooks get through it.\n"
        "public_url: https://tnhl.example.com\n"
    ) in text
    assert load_settings(tmp_path / "tnhl.yaml").public_url == "https://tnhl.example.com"
    assert "  URL:     https://tnhl.example.com/webhooks/talknotes\n" in output
    assert "<this machine's public address>" not in output


def test_without_a_public_url_the_file_shows_where_it_goes(tmp_path: Path) -> None:
    """No --public-url: a commented public_url line under its sentence; the next steps say to
    set it; the file loads with none."""
    code, output = _init_in(tmp_path, *FLAGS)
    assert code == 0, output
    text = (tmp_path / "tnhl.yaml").read_text(encoding="utf-8")
    assert "webhooks get through it.\n# public_url: https://tnhl.example.com\n" in text
    assert load_settings(tmp_path / "tnhl.yaml").public_url is None
    assert "proxy or a tunnel, and set public_url to that address)\n" in output


def test_a_public_url_is_asked_at_the_prompt(tmp_path: Path) -> None:
    """Without the flag, the last question takes the public address."""
    answers = f"\n{LOC}\n{TOKEN}\n\nhttps://tnhl.example.com\n"
    code, output = _init_in(tmp_path, stdin=answers)
    assert code == 0, output
    assert "This tnhl's public https address, e.g. https://tnhl.example.com (Enter: later):" in (
        output
    )
    assert load_settings(tmp_path / "tnhl.yaml").public_url == "https://tnhl.example.com"


def test_an_http_public_url_writes_nothing(tmp_path: Path) -> None:
    """Plain http to another host: exit 2 naming public_url and the file, nothing written."""
    code, output = _init_in(tmp_path, *FLAGS, "--public-url", "http://tnhl.example.com")
    assert code == 2
    assert output.startswith(f"tnhl: not written: {tmp_path / 'tnhl.yaml'} line ")
    assert ": public_url: must use https://" in output
    assert list(tmp_path.iterdir()) == []


def test_an_outbound_url_gets_its_own_secret(tmp_path: Path) -> None:
    """--outbound-url: the file holds it and a second whsec_ secret, shown once for your app."""
    code, output = _init_in(tmp_path, *FLAGS, "--outbound-url", "https://app.example/tnhl")
    assert code == 0, output
    settings = load_settings(tmp_path / "tnhl.yaml")
    assert settings.talknotes_outbound_url == "https://app.example/tnhl"
    assert settings.talknotes_outbound_secret is not None
    outbound = settings.talknotes_outbound_secret.get_secret_value()
    assert settings.talknotes_secret is not None
    assert outbound != settings.talknotes_secret.get_secret_value()
    assert f"  secret:  {outbound}\n" in output


def test_a_bad_answer_writes_nothing(tmp_path: Path) -> None:
    """An outbound URL load_settings refuses: exit 2 naming the setting, no file at all."""
    code, output = _init_in(tmp_path, *FLAGS, "--outbound-url", "ftp://app.example/tnhl")
    assert code == 2
    assert output.startswith("tnhl: not written: ")
    assert "talknotes_outbound_url" in output
    assert ".tnhl-init-" not in output  # the file it would have been is named, not a temporary
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--yes"], "--location-id: give the sub-account's location id (no spaces)"),
        ([*FLAGS, "--base-url", "services.example"], "--base-url: must be an http(s) URL"),
        (["--yes", "--location-id", LOC, "--token", "pit a"], "--token: must not contain spaces"),
    ],
)
def test_a_missing_or_malformed_answer_is_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """Exit 2 with the flag named; nothing written."""
    code, output = _init_in(tmp_path, *args)
    assert code == 2
    assert message in output
    assert list(tmp_path.iterdir()) == []


def test_without_a_token_the_file_says_where_to_put_it(tmp_path: Path) -> None:
    """--yes without --token: a commented highlevel_token line, and the next steps say to set
    TNHL_HIGHLEVEL_TOKEN."""
    code, output = _init_in(tmp_path, "--yes", "--location-id", LOC)
    assert code == 0, output
    path = tmp_path / "tnhl.yaml"
    assert "\n# highlevel_token: pit-...\n" in path.read_text(encoding="utf-8")
    assert load_settings(path).highlevel_token is None
    assert "Set the token first: export TNHL_HIGHLEVEL_TOKEN=pit-..." in output


def test_a_location_id_of_digits_stays_a_string(tmp_path: Path) -> None:
    """A value YAML would read as a number is quoted in the file."""
    code, output = _init_in(tmp_path, "--yes", "--location-id", "0012345")
    assert code == 0, output
    assert load_settings(tmp_path / "tnhl.yaml").location_id == "0012345"


def test_dir_is_made_when_missing(tmp_path: Path) -> None:
    """--dir names a directory that does not exist yet: it is made."""
    target = tmp_path / "new" / "place"
    code, output = _init_in(target, *FLAGS)
    assert code == 0, output
    assert (target / "tnhl.yaml").is_file()
