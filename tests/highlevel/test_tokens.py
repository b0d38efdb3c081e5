"""Token stores: one shared suite for every TokenStore, then the encrypted file's own promises."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from pydantic import SecretStr

from tnhl.highlevel._errors import ConfigurationError
from tnhl.highlevel._tokens import (
    EncryptedFileTokenStore,
    MemoryTokenStore,
    TokenSet,
    TokenStore,
    generate_secret_key,
)

ACCESS = "access-SECRET-1234567890"
REFRESH = "refresh-SECRET-0987654321"


def tokens(n: int = 1, *, refresh: bool = True) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(f"{ACCESS}-{n}"),
        refresh_token=SecretStr(f"{REFRESH}-{n}") if refresh else None,
        expires_at=1_700_086_399.0 + n,
        scopes=frozenset({"contacts.readonly", "contacts.write"}),
        user_type="Location",
        location_id="loc123",
        company_id="comp456",
        user_id="user789",
    )


@pytest.fixture(params=["memory", "encrypted-file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TokenStore:
    """Every TokenStore implementation, empty."""
    if request.param == "memory":
        return MemoryTokenStore()
    return EncryptedFileTokenStore(tmp_path / "tokens.bin", generate_secret_key())


def test_unknown_key_loads_none(store: TokenStore) -> None:
    """A key never saved loads as None."""
    assert store.load("nobody") is None


def test_save_then_load_round_trips_every_field(store: TokenStore) -> None:
    """What is saved comes back equal, secrets included."""
    store.save("loc123", tokens(1))
    loaded = store.load("loc123")
    assert loaded == tokens(1)
    assert loaded is not None
    assert loaded.access_token.get_secret_value() == f"{ACCESS}-1"


def test_save_replaces_and_keys_are_independent(store: TokenStore) -> None:
    """Saving again replaces that key only (refresh-token rotation)."""
    store.save("a", tokens(1))
    store.save("b", tokens(2, refresh=False))
    store.save("a", tokens(3))
    assert store.load("a") == tokens(3)
    assert store.load("b") == tokens(2, refresh=False)


def test_delete_removes_only_that_key_and_is_idempotent(store: TokenStore) -> None:
    """delete() forgets one key; deleting a missing key is not an error."""
    store.save("a", tokens(1))
    store.save("b", tokens(2))
    store.delete("a")
    store.delete("a")
    store.delete("never")
    assert store.load("a") is None
    assert store.load("b") == tokens(2)


def test_concurrent_saves_lose_nothing(store: TokenStore) -> None:
    """Twenty threads saving twenty keys at once: every key is there afterwards."""
    barrier = threading.Barrier(20)

    def save(i: int) -> None:
        barrier.wait()
        store.save(f"k{i}", tokens(i))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.load(f"k{i}") == tokens(i) for i in range(20))


def test_store_repr_shows_no_secret(store: TokenStore) -> None:
    """The store's repr never shows a token."""
    store.save("a", tokens(1))
    assert ACCESS not in repr(store)
    assert REFRESH not in repr(store)


def test_token_set_hides_secrets_in_repr_and_str() -> None:
    """TokenSet's repr/str mask both tokens."""
    text = repr(tokens(1)) + str(tokens(1))
    assert ACCESS not in text
    assert REFRESH not in text
    assert "loc123" in text


def test_file_is_encrypted_private_and_written_atomically(tmp_path: Path) -> None:
    """The file holds no clear secret, has mode 0600, and no temp file is left behind."""
    path = tmp_path / "sub" / "tokens.bin"
    store = EncryptedFileTokenStore(path, generate_secret_key())
    store.save("loc123", tokens(1))
    store.save("loc123", tokens(2))
    blob = path.read_bytes()
    assert ACCESS.encode() not in blob
    assert REFRESH.encode() not in blob
    assert b"loc123" not in blob
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["tokens.bin", "tokens.bin.lock"]


def test_file_survives_a_new_store_object(tmp_path: Path) -> None:
    """A second store on the same file and key (a restarted process) reads the tokens."""
    key = generate_secret_key()
    EncryptedFileTokenStore(tmp_path / "t.bin", key).save("a", tokens(5))
    assert EncryptedFileTokenStore(tmp_path / "t.bin", SecretStr(key)).load("a") == tokens(5)


def test_wrong_key_gives_a_clear_configuration_error(tmp_path: Path) -> None:
    """Reading with another key raises ConfigurationError naming secret_key, with no data."""
    EncryptedFileTokenStore(tmp_path / "t.bin", generate_secret_key()).save("a", tokens(1))
    other = EncryptedFileTokenStore(tmp_path / "t.bin", generate_secret_key())
    with pytest.raises(ConfigurationError) as info:
        other.load("a")
    assert info.value.field == "secret_key"
    assert "wrong key" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_malformed_key_is_rejected_up_front(tmp_path: Path) -> None:
    """A secret_key that is not a Fernet key fails at construction, without echoing it."""
    with pytest.raises(ConfigurationError) as info:
        EncryptedFileTokenStore(tmp_path / "t.bin", "hunter2-not-a-key")
    assert info.value.field == "secret_key"
    assert "hunter2" not in str(info.value)


def test_garbage_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A file that is not ours (or was truncated) gives a ConfigurationError, not a crash."""
    path = tmp_path / "t.bin"
    path.write_bytes(b"definitely not fernet")
    with pytest.raises(ConfigurationError):
        EncryptedFileTokenStore(path, generate_secret_key()).load("a")


def test_failed_write_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the atomic replace fails, the old tokens stay readable and no temp file remains."""
    path = tmp_path / "t.bin"
    store = EncryptedFileTokenStore(path, generate_secret_key())
    store.save("a", tokens(1))

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store.save("a", tokens(2))
    monkeypatch.undo()
    assert store.load("a") == tokens(1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.bin", "t.bin.lock"]


def test_key_rotation_reads_with_old_keys_and_writes_with_the_new_one(tmp_path: Path) -> None:
    """With the old key in old_keys the file still opens; rotate() re-encrypts with the new key."""
    old, new = generate_secret_key(), generate_secret_key()
    EncryptedFileTokenStore(tmp_path / "t.bin", old).save("a", tokens(1))
    rotating = EncryptedFileTokenStore(tmp_path / "t.bin", new, old_keys=[old])
    assert rotating.load("a") == tokens(1)
    rotating.rotate()
    assert EncryptedFileTokenStore(tmp_path / "t.bin", new).load("a") == tokens(1)
    with pytest.raises(ConfigurationError, match="wrong key"):
        EncryptedFileTokenStore(tmp_path / "t.bin", old).load("a")
