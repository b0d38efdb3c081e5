"""The intake app: signed webhooks in, durable inbox rows out, an answer in well under a second.

Each route does the least that makes the event safe: verify the signature and the replay window,
validate just enough to reject what the engine could never apply, write the *raw* body to the
inbox (deduplicated on (source, event id) by the inbox; see `_inbox`), and only then answer.
Planning and HighLevel calls happen later in workers, never on this path.

What can never apply is refused at the door with 422 naming the field, never accepted and
dead-lettered later (the sender would not hear of it) nor answered 5xx (the sender would retry a
permanently bad event for a day). A `check` given by the engine adds the rules that depend on
the user's mapping; a bug in it must not stop deliveries, so its failures are logged and ignored.

Why the error codes differ per sender: TalkNotes (Standard Webhooks senders) retries on 5xx, so
"cannot persist" is 503 + Retry-After; HighLevel retries *only* on 429 (help.gohighlevel.com
article 155000007071), so the same condition is 429 there.
"""

from __future__ import annotations

__all__ = [
    "SOURCE_HIGHLEVEL",
    "SOURCE_TALKNOTES",
    "TalkNotesRoute",
    "create_intake_app",
]

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tnhl.talknotes import (
    InvalidEvent,
    MalformedEvent,
    Problem,
    SignatureError,
    TalkNotesEvent,
    WebhookVerifier,
    entity_key,
    parse_event,
    talknotes_openapi,
)
from tnhl.webhooks._errors import HighLevelPayloadError, HighLevelSignatureError
from tnhl.webhooks._highlevel import HighLevelKeys, HighLevelVerifier
from tnhl.webhooks._inbox import InboxStep, InboxWriter, StoredInfo

SOURCE_TALKNOTES = "talknotes"
SOURCE_HIGHLEVEL = "highlevel"
NO_VALUE = "-"  # the location or entity of a HighLevel event that names none
MAX_BODY_BYTES = 1_048_576

_log = logging.getLogger("tnhl.webhooks.intake")
# Unicode category Cc. A webhook-id with one is no sender's real id and the store cannot keep
# a NUL, so such a delivery could never be stored: refused, not retried.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

EventCheck = Callable[[TalkNotesEvent], Sequence[Problem]]
_JSON = "application/json"


def _json(status: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(content, separators=(",", ":")), status, headers, _JSON)


def _accepted(status: int, stored: bool, event_id: str) -> Response:
    # Built by hand: this is the hot path and the shape is fixed.
    word = b'{"status":"accepted","id":' if stored else b'{"status":"duplicate","id":'
    return Response(word + json.dumps(event_id).encode() + b"}", status, media_type=_JSON)


def _too_large(limit: int) -> Response:
    return _json(413, {"error": "too_large", "message": f"body exceeds {limit} bytes"})


@dataclass(frozen=True)
class TalkNotesRoute:
    """One connection's TalkNotes intake: its secret (or several while rotating), the
    HighLevel location its events belong to, its door check (e.g. its mapping's rules), and
    `key_opens`, which says whether an API key opens its unsigned entry (None: no such entry)."""

    secret: str | Sequence[str]
    location_id: str
    check: EventCheck | None = None
    key_opens: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class _Route:
    verifier: WebhookVerifier
    location_id: str
    check: EventCheck | None
    key_opens: Callable[[str], bool] | None = None


class _Intake:
    def __init__(
        self,
        *,
        inbox: InboxStep,
        routes: Mapping[str | None, _Route],
        highlevel: HighLevelVerifier,
        retry_after: int,
        max_body_bytes: int,
    ) -> None:
        self.inbox = inbox
        self.routes = routes
        self.highlevel = highlevel
        self.retry_after = str(retry_after)
        self.max_body_bytes = max_body_bytes
        self.openapi = json.dumps(talknotes_openapi()).encode()

    async def _body(self, request: Request) -> bytes | None:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        if declared is not None:
            body = await request.body()
            return None if len(body) > self.max_body_bytes else body
        # No Content-Length (chunked): read with a running limit rather than buffer it all.
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def talknotes_webhook(self, request: Request) -> Response:
        name = request.path_params.get("name")
        route = self.routes.get(name)
        if route is None:
            # Nothing is read or stored for a connection this service does not have.
            message = (
                f"no connection named {name!r} here"
                if name is not None
                else "this service has several connections: post to /webhooks/talknotes/{name}"
            )
            return _json(404, {"error": "unknown_connection", "message": message})
        body = await self._body(request)
        if body is None:
            return _too_large(self.max_body_bytes)
        keyed = _bearer(request.headers)
        if keyed is not None:
            refused = _key_refusal(route, keyed)
            if refused is not None:
                _log.info("talknotes delivery refused (401): %s", refused)
                return _json(401, {"error": "invalid_api_key", "message": refused})
            event_id = _idempotency_id(request.headers, body)
        else:
            try:
                event_id = route.verifier.verify(request.headers, body)
            except SignatureError as exc:
                _log.info("talknotes delivery refused (401): %s", exc)
                return _json(401, {"error": "invalid_signature", "message": str(exc)})
        # Every problem at once, header and body, so the sender fixes them in one round.
        header: list[Problem] = []
        if _CONTROL.search(event_id):
            header.append({"field": "webhook-id", "problem": _NO_CONTROL})
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            return self._refused(event_id, 400, "malformed_json", header + exc.problems)
        except InvalidEvent as exc:
            return self._refused(event_id, 422, "invalid_event", header + exc.problems)
        problems = header + self._checked(route.check, event_id, event)
        if problems:
            return self._refused(event_id, 422, "invalid_event", problems)
        stored = await self.inbox.store(
            SOURCE_TALKNOTES, event_id, event.type, route.location_id, entity_key(event), body
        )
        if isinstance(stored, ValueError):
            return self._refused(event_id, 422, "invalid_event", _inbox_problems(stored))
        if stored is None:
            return _json(
                503,
                {"error": "unavailable", "message": "cannot store events now; retry later"},
                {"retry-after": self.retry_after},
            )
        return _accepted(202, stored, event_id)

    async def highlevel_webhook(self, request: Request) -> Response:
        body = await self._body(request)
        if body is None:
            return _too_large(self.max_body_bytes)
        try:
            self.highlevel.verify_signature(request.headers, body)
            event = self.highlevel.read(body)
        except HighLevelSignatureError as exc:
            _log.info("highlevel delivery refused (401): %s", exc)
            return _json(401, {"error": "invalid_signature", "message": str(exc)})
        except HighLevelPayloadError as exc:
            _log.info("highlevel delivery refused (400): %s", exc)
            return _json(400, {"error": "invalid_event", "message": str(exc)})
        # An authentic event tnhl can never apply (no locationId, an app event with no entity)
        # is still stored, to be recorded and skipped: refused, HighLevel would not send it
        # again, and nothing would show it ever came.
        stored = await self.inbox.store(
            SOURCE_HIGHLEVEL,
            event.webhook_id,
            event.type[:64],
            event.location_id or NO_VALUE,
            event.entity_key or NO_VALUE,
            body,
        )
        if isinstance(stored, ValueError):
            return _json(400, {"error": "invalid_event", "message": f"cannot be stored: {stored}"})
        if stored is None:
            return _json(
                429,
                {"error": "unavailable", "message": "cannot store events now; retry later"},
                {"retry-after": self.retry_after},
            )
        return _accepted(200, stored, event.webhook_id)

    def _checked(
        self, check: EventCheck | None, event_id: str, event: TalkNotesEvent
    ) -> list[Problem]:
        if check is None:
            return []
        try:
            # Copied field by field so a malformed result fails here, inside the guard, and
            # not later while the answer is serialised.
            return [{"field": str(p["field"]), "problem": str(p["problem"])} for p in check(event)]
        except Exception:
            _log.exception("the intake check failed on talknotes event %s; accepting it", event_id)
            return []

    def _refused(self, event_id: str, status: int, error: str, problems: list[Problem]) -> Response:
        exc = InvalidEvent(problems)
        _log.info("talknotes event %s refused (%d): %s", event_id, status, exc)
        return _invalid(status, error, exc)

    async def openapi_json(self, request: Request) -> Response:
        return Response(self.openapi, media_type=_JSON)

    async def healthz(self, request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)


_NO_CONTROL = "must not contain control characters (NUL, tab, newline, ...)"


def _bearer(headers: Mapping[str, str]) -> str | None:
    """The API key of a request made with one and no signature (the unsigned entry)."""
    auth = headers.get("authorization", "")
    if "webhook-signature" in headers or not auth.lower().startswith("bearer "):
        return None
    return auth[7:].strip()


def _key_refusal(route: _Route, key: str) -> str | None:
    if route.key_opens is None:
        return "this connection takes signed deliveries only (create a key: tnhl keys create)"
    if not key or not route.key_opens(key):
        return "the API key is not one of this connection's"
    return None


def _idempotency_id(headers: Mapping[str, str], body: bytes) -> str:
    """The event id of an unsigned delivery: the caller's Idempotency-Key (a retry with the
    same key is the same event), else the body's digest (the same body twice, once)."""
    given = headers.get("idempotency-key", "").strip()
    if given:
        return f"key:{given}"[:255]
    return "key:sha256:" + hashlib.sha256(body).hexdigest()


def _invalid(status: int, error: str, exc: InvalidEvent) -> Response:
    return _json(status, {"error": error, "message": exc.summary(), "problems": exc.problems})


def _inbox_problems(exc: ValueError) -> list[Problem]:
    # The store names its own columns; of those only event_id is the sender's (the header).
    field = "webhook-id" if getattr(exc, "field", None) == "event_id" else "(body)"
    return [{"field": field, "problem": f"cannot be stored: {exc}"}]


def create_intake_app(
    *,
    inbox: InboxWriter,
    talknotes_secret: str | Sequence[str] | None = None,
    location_id: str | None = None,
    connections: Mapping[str, TalkNotesRoute] | None = None,
    highlevel_keys: HighLevelKeys | None = None,
    clock: Callable[[], float] = time.time,
    on_stored: Callable[[StoredInfo], None] | None = None,
    check: Callable[[TalkNotesEvent], Sequence[Problem]] | None = None,
    key_opens: Callable[[str], bool] | None = None,
    offload: bool = False,
    retry_after: int = 30,
    max_body_bytes: int = MAX_BODY_BYTES,
    unavailable: tuple[type[Exception], ...] = (),
) -> Starlette:
    """The ASGI app serving `POST /webhooks/talknotes`, `POST /webhooks/highlevel`,
    `GET /openapi.json` (the TalkNotes contract) and `GET /healthz`.

    `talknotes_secret` is the `whsec_` secret, or several while rotating (checked now: a bad
    one raises `SecretFormatError`). `location_id` is the HighLevel location TalkNotes events
    belong to. Both serve `POST /webhooks/talknotes` (one connection). `connections` adds
    `POST /webhooks/talknotes/{name}` for each, verified with that connection's secret and
    stored under its location; an unknown name answers 404 and stores nothing (as does the
    plain path when only named connections are given).
    `highlevel_keys=None` uses HighLevel's published keys. The inbox is called on the event
    loop by default: an embedded SQLite insert takes less time than a hop to a worker thread
    (and that is what a bare Starlette + SQLite app does); an inbox with `add_async`
    (`AsyncInboxWriter`) is awaited instead, so it can group-commit. Pass `offload=True` for
    an inbox on a network database, so slow writes do not serialise requests. `retry_after` is the
    seconds sent in Retry-After when the inbox is unavailable: when it raises `InboxUnavailable`
    or one of the `unavailable` exception types (its own "cannot persist now").

    `check` runs on each TalkNotes event that parsed (e.g. rules from the user's field
    mapping); a non-empty list of problems (`field` a dotted path such as `data.phone`) answers
    422 like a contract violation and stores nothing. A check that raises is logged at error
    level and the event is accepted as if it had found no problem.

    `key_opens` (and each connection's own) opens the unsigned entry: a request with
    `Authorization: Bearer <key>` and no signature is taken when it says the key is one of the
    connection's, deduplicated by its `Idempotency-Key` (else its body); otherwise 401.
    """
    routes: dict[str | None, _Route] = {}
    if talknotes_secret is not None:
        if location_id is None:
            raise ValueError("location_id: required with talknotes_secret")
        verifier = WebhookVerifier(talknotes_secret, clock=clock)
        routes[None] = _Route(verifier, location_id, check, key_opens)
    for name, r in (connections or {}).items():
        verifier = WebhookVerifier(r.secret, clock=clock)
        routes[name] = _Route(verifier, r.location_id, r.check, r.key_opens)
    intake = _Intake(
        inbox=InboxStep(
            inbox, clock=clock, on_stored=on_stored, offload=offload, unavailable=unavailable
        ),
        routes=routes,
        highlevel=HighLevelVerifier(highlevel_keys, clock=clock),
        retry_after=retry_after,
        max_body_bytes=max_body_bytes,
    )
    return Starlette(
        routes=[
            Route("/webhooks/talknotes", intake.talknotes_webhook, methods=["POST"]),
            Route("/webhooks/talknotes/{name}", intake.talknotes_webhook, methods=["POST"]),
            Route("/webhooks/highlevel", intake.highlevel_webhook, methods=["POST"]),
            Route("/openapi.json", intake.openapi_json, methods=["GET"]),
            Route("/healthz", intake.healthz, methods=["GET"]),
        ]
    )
