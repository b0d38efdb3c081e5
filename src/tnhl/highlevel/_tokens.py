"""OAuth token sets and where they are kept: `TokenStore`, in memory or in an encrypted file.

Refresh tokens are single-use and rotate (highlevel-api.md section 6), so a store must keep the
newest pair durably: `EncryptedFileTokenStore` writes a Fernet-encrypted file atomically (temp
file, fsync, `os.replace`) with mode 0600, so a crash leaves either the old or the new file, never
half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ._errors import ConfigurationError

__all__ = [
    "EncryptedFileTokenStore",
    "MemoryTokenStore",
    "TokenSet",
    "TokenStore",
    "generate_secret_key",
]

try:  # POSIX only: an advisory lock so two processes don't interleave read-modify-write.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class TokenSet(BaseModel):
    """One OAuth grant: the tokens (secret) and what they are for."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: float  # epoch seconds
    scopes: frozenset[str] = frozenset()
    user_type: str | None = None  # "Location" or "Company"
    location_id: str | None = None
    company_id: str | None = None
    user_id: str | None = None

    def expires_in(self, now: float) -> float:
        """Seconds of life left at `now` (negative once expired)."""
        return self.expires_at - now

    def to_storage(self) -> dict[str, Any]:
        """A JSON-able dict WITH the secrets in clear: only for an encrypted store."""
        data = self.model_dump(mode="json")
        data["access_token"] = self.access_token.get_secret_value()
        data["refresh_token"] = (
            self.refresh_token.get_secret_value() if self.refresh_token is not None else None
        )
        data["scopes"] = sorted(self.scopes)
        return data

    @classmethod
    def from_storage(cls, data: Mapping[str, Any]) -> TokenSet:
        return cls.model_validate(dict(data))


@runtime_checkable
class TokenStore(Protocol):
    """Keeps one TokenSet per key (a location or company id, or any name you choose)."""

    def load(self, key: str) -> TokenSet | None: ...

    def save(self, key: str, tokens: TokenSet) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryTokenStore:
    """Tokens in a dict: for tests and short scripts (lost when the process ends)."""

    def __init__(self, initial: Mapping[str, TokenSet] | None = None) -> None:
        self._tokens: dict[str, TokenSet] = dict(initial or {})
        self._lock = threading.Lock()

    def load(self, key: str) -> TokenSet | None:
        with self._lock:
            return self._tokens.get(key)

    def save(self, key: str, tokens: TokenSet) -> None:
        with self._lock:
            self._tokens[key] = tokens

    def delete(self, key: str) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def __repr__(self) -> str:
        return f"MemoryTokenStore(keys={len(self._tokens)})"


def generate_secret_key() -> str:
    """A new random key for `EncryptedFileTokenStore` (url-safe base64, 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def _fernet(secret_key: str | bytes | SecretStr) -> Fernet:
    raw = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
    try:
        return Fernet(raw.encode("ascii") if isinstance(raw, str) else raw)
    except (ValueError, TypeError, UnicodeEncodeError):
        # `from None`: the key itself must not surface in a chained traceback.
        raise ConfigurationError(
            "secret_key",
            "must be 32 url-safe base64-encoded bytes; create one with generate_secret_key()",
        ) from None


class EncryptedFileTokenStore:
    """All keys' tokens in one Fernet-encrypted JSON file (AES-128-CBC + HMAC-SHA256)."""

    def __init__(
        self,
        path: str | Path,
        secret_key: str | bytes | SecretStr,
        *,
        old_keys: Iterable[str | bytes | SecretStr] = (),
    ) -> None:
        """`old_keys` still decrypt (for key rotation); every write uses `secret_key`."""
        self._path = Path(path)
        self._fernet = MultiFernet([_fernet(secret_key), *(_fernet(k) for k in old_keys)])
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def load(self, key: str) -> TokenSet | None:
        with self._locked():
            raw = self._read_all().get(key)
        if raw is None:
            return None
        try:
            return TokenSet.from_storage(raw)
        except ValidationError:
            raise ConfigurationError(
                "token_file", f"{self._path.name}: the entry for {key!r} is malformed"
            ) from None

    def save(self, key: str, tokens: TokenSet) -> None:
        with self._locked():
            data = self._read_all()
            data[key] = tokens.to_storage()
            self._write_all(data)

    def delete(self, key: str) -> None:
        with self._locked():
            data = self._read_all()
            if data.pop(key, None) is not None:
                self._write_all(data)

    def rotate(self) -> None:
        """Re-encrypt the file with `secret_key` now (after adding an old key to `old_keys`)."""
        with self._locked():
            if self._path.exists():
                self._write_all(self._read_all())

    def keys(self) -> list[str]:
        """The keys that have tokens stored."""
        with self._locked():
            return sorted(self._read_all())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:  # pragma: no cover - Windows
                yield
                return
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock_path = self._path.with_name(self._path.name + ".lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the flock

    def _read_all(self) -> dict[str, Any]:
        try:
            blob = self._path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            plain = self._fernet.decrypt(blob)
        except InvalidToken:
            raise ConfigurationError(
                "secret_key",
                f"cannot decrypt {self._path.name}: wrong key, or the file is not a token file",
            ) from None
        try:
            data = json.loads(plain)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ConfigurationError("token_file", f"{self._path.name}: not a token map") from None
        return data

    def _write_all(self, data: dict[str, Any]) -> None:
        blob = self._fernet.encrypt(json.dumps(data, sort_keys=True).encode("utf-8"))
        directory = self._path.parent
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkstemp creates the file with mode 0600, so the secret is never world-readable.
        fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(blob)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # not every platform can fsync a directory
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def __repr__(self) -> str:
        return f"EncryptedFileTokenStore({self._path.name!r})"
