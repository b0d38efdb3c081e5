"""The dashboard's sign-in parts: the password check, signed expiring tokens (the session
cookie and CSRF tokens), the failed-login limit, and reading a POSTed form within a size limit.
See `_dashboard`'s docstring for the security rules they serve."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import deque
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.requests import Request

__all__ = ["FORM_MAX", "LoginTries", "Signer", "read_form", "safe_next", "same"]

FORM_MAX = 512 * 1024  # the preview's pasted event is the largest form


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


class Signer:
    """The password check, and tokens `base64url(JSON).base64url(HMAC)` that expire."""

    def __init__(self, password: str) -> None:
        # A fixed salt: every replica of the service derives the same key from the setting.
        self._key = hashlib.pbkdf2_hmac("sha256", password.encode(), b"tnhl dashboard v1", 100_000)
        self._digest = hashlib.sha256(password.encode()).digest()

    def password_ok(self, given: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._digest)

    def _mac(self, data: str) -> str:
        return _b64(hmac.new(self._key, data.encode(), hashlib.sha256).digest())

    def dumps(self, kind: str, sid: str, expires: float) -> str:
        payload = _b64(json.dumps({"k": kind, "s": sid, "e": expires}).encode())
        return f"{payload}.{self._mac(payload)}"

    def loads(self, token: str, kind: str, now: float) -> str | None:
        """The id in a valid, unexpired token of `kind`, else None."""
        payload, _, mac = token.partition(".")
        if not same(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            return None
        sid, expires = data.get("s"), data.get("e")
        if (
            data.get("k") != kind
            or not isinstance(sid, str)
            or not isinstance(expires, int | float)
        ):
            return None
        return sid if expires > now else None

    def csrf(self, kind: str, sid: str) -> str:
        return self._mac(f"csrf:{kind}:{sid}")


class LoginTries:
    """Failed logins per client address in the last `window` seconds (memory, one process)."""

    def __init__(self, clock: Callable[[], float], limit: int, window: float) -> None:
        self._clock, self._limit, self._window = clock, limit, window
        self._failed: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds until `client` may try again (0: now)."""
        now = self._clock()
        with self._lock:
            tries = self._failed.get(client)
            while tries and tries[0] <= now - self._window:
                tries.popleft()
            if not tries:
                self._failed.pop(client, None)
                return 0.0
            return tries[0] + self._window - now if len(tries) >= self._limit else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            if len(self._failed) > 10_000:  # a flood of addresses: forget the stalest
                del self._failed[next(iter(self._failed))]
            self._failed.setdefault(client, deque()).append(self._clock())


def safe_next(target: str | None) -> str:
    """A path on this site to go to after logging in (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form's fields (the first of each name); None when too large or malformed."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > FORM_MAX:
            return None
        chunks.append(chunk)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    try:
        parsed = parse_qs(
            b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20
        )
    except ValueError:
        return None
    return {k: v[0] for k, v in parsed.items()}
