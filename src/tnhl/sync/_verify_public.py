"""`tnhl verify`'s public URL checks: do TalkNotes' and HighLevel's webhooks reach this tnhl?

Every other check can pass while no webhook ever arrives: the proxy in front of `tnhl run` is
down, forwards to the wrong port, strips the path, or shows a certificate the senders do not
trust. In production that is silent (the senders retry, then give up), so it is checked from
the outside, at `public_url`, the way TalkNotes and HighLevel call:

- `GET /healthz` must be tnhl's own answer, `{"status":"ok"}`: not a proxy's 502, not a page;
- `POST` to the connection's TalkNotes route and to `/webhooks/highlevel`, signed with bytes
  that cannot be a signature: tnhl itself must refuse it, 401 with its JSON error
  `invalid_signature`. Only tnhl answers so, and it checks the signature before it stores
  anything, so the refusal proves the path reaches tnhl and the check leaves nothing behind.

Redirects are not followed: a webhook sender that is redirected may drop the POST's body.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from tnhl.sync._connections import ConnectionSettings
from tnhl.sync._settings import Settings
from tnhl.sync._verify import CheckList, Report, VerifyCheck

__all__ = ["TIMEOUT", "talknotes_path", "verify_public"]

TIMEOUT = 10.0  # seconds per request: a reachable tnhl answers these in milliseconds
# 28 bytes: never an HMAC-SHA256 (32) nor an Ed25519 signature (64), so it cannot match.
_NOT_A_SIGNATURE = base64.b64encode(b"tnhl verify: not a signature").decode()
_PROBE = b'{"type":"tnhl.verify","data":{}}'
_NAME = "public URL"
_WEBHOOKS = "TalkNotes and HighLevel webhooks"
_NOT_SET = VerifyCheck(
    _NAME,
    "skip",
    "not checked, as public_url is not set (set it to check that TalkNotes and HighLevel "
    "webhooks reach tnhl)",
)


def talknotes_path(settings: Settings, conn: ConnectionSettings) -> str:
    """Where TalkNotes posts `conn`'s events: `/webhooks/talknotes` for the single connection,
    `/webhooks/talknotes/NAME` for each one under `connections:`."""
    return f"/webhooks/talknotes/{conn.name}" if settings.connections else "/webhooks/talknotes"


def _shown(url: str) -> str:
    """The URL without a user or password in it (a line never shows credentials)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _why(exc: httpx.HTTPError, timeout: float) -> str:
    """Why a request got no HTTP answer, and what to do."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if isinstance(exc, httpx.TimeoutException):
        return (
            f"no answer within {timeout:g} s - check that the firewall lets it through and the "
            "proxy forwards to `tnhl run`"
        )
    if "ssl" in low or "certificate" in low or "tls" in low:
        return (
            f"TLS failed ({text}) - public_url must be the https address of a proxy with a "
            "certificate for this host from a public CA (TalkNotes and HighLevel refuse others)"
        )
    if "refused" in low:
        return (
            "connection refused: nothing listens there - start `tnhl run` (or the proxy in front "
            "of it), or correct public_url"
        )
    if "name" in low and ("resol" in low or "known" in low or "getaddrinfo" in low):
        return f"the host name does not resolve ({text}) - check public_url and its DNS record"
    return f"no answer ({text}) - check public_url and that the proxy forwards to `tnhl run`"


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _wrong(response: httpx.Response, path: str, settings: Settings) -> str:
    """What an answer that is not tnhl's says, and what to do about it."""
    status = response.status_code
    kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
    said = f"answered {status} ({kind})"
    body = _json(response)
    tnhl = f"`tnhl run` ({settings.host}:{settings.port})"
    if 300 <= status < 400:
        return (
            f"{said}, a redirect to {response.headers.get('location', 'nowhere')} - set "
            "public_url to where it leads: webhook senders do not follow redirects"
        )
    if status in (502, 503, 504):
        return (
            f"{said}: the proxy gets no answer from tnhl - is {tnhl} running, and what the "
            "proxy forwards to?"
        )
    if status == 404 and isinstance(body, dict) and body.get("error") == "unknown_connection":
        return (
            f"{said}: tnhl there says {body.get('message')!r} - restart `tnhl run` with these "
            "settings, or check public_url"
        )
    if status == 404:
        return (
            f"{said}: {path} does not reach tnhl - make the proxy pass every path unchanged "
            f"to {tnhl}"
        )
    if status == 401:
        return (
            f"{said}, not tnhl's refusal: something in front of it asks for a login - let "
            f"{path} through to {tnhl}"
        )
    if 200 <= status < 300 and path != "/healthz":
        return (
            f"{said}: something other than tnhl took a badly signed request - point the proxy "
            f"at {tnhl}"
        )
    return f"{said}, not tnhl's answer: something else serves {path} - point the proxy at {tnhl}"


def _is_tnhl(response: httpx.Response, path: str) -> bool:
    """Whether tnhl itself answered: /healthz's `{"status":"ok"}`, or a webhook route's
    refusal of the bad signature."""
    body = _json(response)
    if path == "/healthz":
        return response.status_code == 200 and body == {"status": "ok"}
    refused = isinstance(body, dict) and body.get("error") == "invalid_signature"
    return response.status_code == 401 and refused


class _Run(CheckList):
    def __init__(
        self, settings: Settings, client: httpx.Client, timeout: float, report: Report | None
    ) -> None:
        super().__init__(report)
        self.settings, self.client, self.timeout = settings, client, timeout
        self.base = settings.public_url or ""

    def check(self, name: str, path: str, headers: dict[str, str], ok: str) -> bool:
        """One line: `ok` when tnhl itself answered at `path` (GET /healthz, POST a webhook
        route); False when nothing answered at all."""
        method = "GET" if path == "/healthz" else "POST"
        url = _shown(self.base + path)
        content = None if method == "GET" else _PROBE
        try:
            response = self.client.request(
                method, self.base + path, content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            self.add(name, "fail", f"{method} {url}: {_why(exc, self.timeout)}")
            return False
        if _is_tnhl(response, path):
            self.add(name, "ok", ok)
        else:
            self.add(name, "fail", f"{method} {url} {_wrong(response, path, self.settings)}")
        return True


def verify_public(
    settings: Settings,
    connections: Sequence[ConnectionSettings],
    *,
    report: Report | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: float = TIMEOUT,
) -> list[VerifyCheck]:
    """The public URL lines, once per `tnhl verify`: /healthz, each connection's TalkNotes
    route, then /webhooks/highlevel; one skip line when public_url is not set."""
    if settings.public_url is None:
        if report is not None:
            report(_NOT_SET)
        return [_NOT_SET]
    base = _shown(settings.public_url)
    refused = "tnhl refused a test with a bad signature: 401, nothing stored"
    with httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=False,
        headers={"user-agent": "tnhl-verify", "content-type": "application/json"},
    ) as client:
        run = _Run(settings, client, timeout, report)
        if not run.check(_NAME, "/healthz", {}, f"public URL {base} reaches tnhl (GET /healthz)"):
            run.add(_WEBHOOKS, "skip", "not checked while nothing answers at public_url")
            return run.checks
        for conn in connections:
            path = talknotes_path(settings, conn)
            signed = {
                "webhook-id": f"tnhl-verify-{secrets.token_hex(6)}",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": f"v1,{_NOT_A_SIGNATURE}",
            }
            ok = f"TalkNotes webhooks reach tnhl at {base}{path} ({refused})"
            run.check("TalkNotes webhooks", path, signed, ok)
        path = "/webhooks/highlevel"
        ok = f"HighLevel webhooks reach tnhl at {base}{path} ({refused})"
        run.check("HighLevel webhooks", path, {"x-ghl-signature": _NOT_A_SIGNATURE}, ok)
    return run.checks
