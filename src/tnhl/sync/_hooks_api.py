"""REST hooks (issue 10): tnhl's triggers and actions as a Zapier, Make or n8n app, under
`/api`, authenticated by a connection's API key (`Authorization: Bearer <key>`, `tnhl keys
create`). It follows Zapier's REST Hooks convention:

- `GET /api/me`: the key works (the connection and its location): Zapier's auth test;
- `GET /api/catalog`: every trigger and action with its schemas;
- `POST /api/hooks` `{"event": <trigger id>, "target_url": ...}`: subscribe (201, the hook);
  `GET /api/hooks`: list; `DELETE /api/hooks/{id}`: unsubscribe (204). Each firing of the
  trigger is POSTed to the target as the recipe context (event, contact, connection, ...),
  once per cause, retried on the engine's schedule; a target answering 410 is unsubscribed;
- `GET /api/triggers/{id}/sample`: sample payloads (the newest real ones when there are,
  else one made from the trigger's documented shape): Zapier's `performList`;
- `POST /api/actions/{id}` (the action's parameters as the body, `Idempotency-Key` honoured):
  perform: run once, answered 200 with the result when done within `wait` seconds, else 202.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tnhl.highlevel import WEBHOOK_EVENTS
from tnhl.mapping import catalog, check_action, get_entry
from tnhl.store import SqlStore
from tnhl.sync._recipe_engine import RecipeEngine
from tnhl.sync._recipe_plan import event_context, trigger_of
from tnhl.talknotes import EXAMPLE_EVENTS, iso_z

__all__ = ["hooks_routes"]

Handler = Callable[[Request, str], Awaitable[Response]]
_MAX_BODY = 1 << 20


def _problem(status: int, error: str, field: str | None, problem: str) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "problem": problem}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def _hook_json(hook: Any) -> dict[str, Any]:
    return {
        "id": str(hook.id),
        "event": hook.event,
        "target_url": hook.target_url,
        "created_at": iso_z(hook.created_at),
    }


def _synthetic(
    trigger: str, location: str, connection: str, zone: ZoneInfo, now: float
) -> dict[str, Any]:
    """A sample context of `trigger` from its documented shape (no real event of it yet)."""
    group, _, name = trigger.partition(".")
    ctx: dict[str, Any]
    if group == "highlevel":
        body = WEBHOOK_EVENTS[name].sample(location, type=name, timestamp=iso_z(now))
        ctx = event_context(
            "highlevel",
            "sample",
            body,
            location_id=location,
            connection=connection,
            zone=zone,
            now=now,
        )
    elif group == "talknotes" and name in EXAMPLE_EVENTS:
        ctx = event_context(
            "talknotes",
            "sample",
            EXAMPLE_EVENTS[name],
            location_id=location,
            connection=connection,
            zone=zone,
            now=now,
        )
    else:
        note = EXAMPLE_EVENTS["note.created"]
        ctx = event_context(
            "talknotes",
            "sample",
            note,
            location_id=location,
            connection=connection,
            zone=zone,
            now=now,
        )
        ctx["event"]["type"] = trigger
        extras = {
            "talknotes.note.followup": {
                "followup": {
                    "title": "Call Sam back",
                    "due": iso_z(now + 86400),
                    "sentence": "Call Sam back tomorrow.",
                }
            },
            "talknotes.note.milestone": {
                "milestone": {"family": "signed", "sentence": "The contract was signed."}
            },
        }
        ctx.update(extras.get(trigger, {"slot": iso_z(now)} if group == "schedule" else {}))
    return ctx


def hooks_routes(
    store: SqlStore,
    engine: RecipeEngine,
    *,
    wait: float = 20.0,
    clock: Callable[[], float] = time.time,
) -> list[Route]:
    """The `/api` routes of the connections `engine` serves."""
    connections = {loc: c.name for loc, c in engine.connections.items()}
    zones = {loc: c.mapping.tasks.due.zone for loc, c in engine.connections.items()}

    def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            if not key:
                return _problem(
                    401,
                    "missing_api_key",
                    "Authorization",
                    "send Authorization: Bearer <API key> (tnhl keys create)",
                )
            location = await run_in_threadpool(store.key_location, key)
            if location is None or location not in connections:
                return _problem(
                    401,
                    "invalid_api_key",
                    "Authorization",
                    "the API key is unknown, revoked or of no connection served here",
                )
            return await handler(request, location)

        return endpoint

    async def _json_body(request: Request) -> tuple[Any, JSONResponse | None]:
        raw = await request.body()
        if len(raw) > _MAX_BODY:
            return None, _problem(413, "too_large", None, "the body is over 1 MiB")
        try:
            return (json.loads(raw) if raw.strip() else {}), None
        except ValueError:
            return None, _problem(400, "invalid_json", "body", "is not JSON")

    async def me(request: Request, location: str) -> Response:
        return JSONResponse({"connection": connections[location], "location_id": location})

    async def list_catalog(request: Request, location: str) -> Response:
        return JSONResponse([e.as_json() for e in catalog().values()])

    async def subscribe(request: Request, location: str) -> Response:
        body, bad = await _json_body(request)
        if bad is not None:
            return bad
        if not isinstance(body, dict):
            return _problem(422, "invalid_hook", "body", "must be a JSON object")
        event, target = body.get("event"), body.get("target_url")
        try:
            get_entry(str(event), "trigger")
        except KeyError as exc:
            return _problem(422, "invalid_hook", "event", str(exc.args[0]))
        if not isinstance(target, str) or not target.startswith(("https://", "http://")):
            return _problem(422, "invalid_hook", "target_url", "must be an http(s) URL")
        hook = await run_in_threadpool(store.add_hook, location, str(event), target)
        return JSONResponse(_hook_json(hook), status_code=201)

    async def list_hooks(request: Request, location: str) -> Response:
        hooks = await run_in_threadpool(store.list_hooks, location)
        return JSONResponse([_hook_json(h) for h in hooks])

    async def unsubscribe(request: Request, location: str) -> Response:
        raw = request.path_params["hook_id"]
        if not raw.isdigit():
            return _problem(404, "not_found", "id", f"no hook {raw!r}")
        gone = await run_in_threadpool(store.delete_hook, location, int(raw))
        if not gone:
            return _problem(404, "not_found", "id", f"no hook {raw!r}")
        return Response(status_code=204)

    def _recent(location: str, trigger: str) -> list[dict[str, Any]]:
        now = clock()
        out = []
        for row in reversed(store.list_events(location_id=location, limit=500)):
            if trigger_of(row.source, row.event_type) != trigger:
                continue
            try:
                body = json.loads(row.body)
            except ValueError:
                continue
            out.append(
                event_context(
                    row.source,
                    row.event_id,
                    body,
                    location_id=location,
                    connection=connections[location],
                    zone=zones[location],
                    now=now,
                )
            )
            if len(out) == 3:
                break
        return out or [_synthetic(trigger, location, connections[location], zones[location], now)]

    async def sample(request: Request, location: str) -> Response:
        trigger = request.path_params["trigger"]
        try:
            get_entry(trigger, "trigger")
        except KeyError as exc:
            return _problem(404, "not_found", "trigger", str(exc.args[0]))
        return JSONResponse(await run_in_threadpool(_recent, location, trigger))

    async def perform(request: Request, location: str) -> Response:
        action = request.path_params["action"]
        body, bad = await _json_body(request)
        if bad is not None:
            return bad
        try:
            get_entry(action, "action")
            check_action(action, body)
        except KeyError as exc:
            return _problem(404, "not_found", "action", str(exc.args[0]))
        except ValueError as exc:
            return _problem(422, "invalid_action", "body", str(exc))
        if get_entry(action).on_notes:
            return _problem(422, "invalid_action", "action", f"{action} runs in recipes only")
        given = request.headers.get("idempotency-key", "").strip()
        key = given[:200] or hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        event_id = await run_in_threadpool(engine.perform, location, action, body, key)
        deadline = time.monotonic() + wait
        while True:
            rows = await run_in_threadpool(
                store.list_events, location_id=location, source="recipe", event_id=event_id, limit=1
            )
            row = rows[0]
            if row.state in ("done", "skipped", "dead") or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        ops = await run_in_threadpool(store.get_op, f"{location}:recipe:{event_id}:0")
        answer = {
            "id": event_id,
            "state": row.state,
            "result": row.result or row.last_error,
            "highlevel_id": ops.highlevel_id if ops is not None else None,
        }
        status = {"done": 200, "skipped": 200, "dead": 422}.get(row.state, 202)
        return JSONResponse(answer, status_code=status)

    return [
        Route("/api/me", authed(me), methods=["GET"]),
        Route("/api/catalog", authed(list_catalog), methods=["GET"]),
        Route("/api/hooks", authed(subscribe), methods=["POST"]),
        Route("/api/hooks", authed(list_hooks), methods=["GET"]),
        Route("/api/hooks/{hook_id}", authed(unsubscribe), methods=["DELETE"]),
        Route("/api/triggers/{trigger}/sample", authed(sample), methods=["GET"]),
        Route("/api/actions/{action}", authed(perform), methods=["POST"]),
    ]
