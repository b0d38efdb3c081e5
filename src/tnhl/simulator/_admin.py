"""`/_admin`: read the state and the request log, change location settings, seed, reset.

No HighLevel auth here; the routes answer loopback clients only unless the config says
`admin_remote: true`, since anyone who can reach them can read and wipe the state.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tnhl.simulator._api import EventSink
from tnhl.simulator._http import SimHTTPError, from_exception
from tnhl.simulator._reqlog import RequestLog
from tnhl.simulator._state import LocationSettings, SimState, public

__all__ = ["AdminGuard", "admin_routes", "appointment_time"]

_APPOINTMENT_FIELDS = {
    "calendarId", "status", "title", "assignedUserId", "notes", "startTime", "endTime",
    "address", "contactId", "groupId", "appointmentStatus", "users", "assignedResources",
    "source",
}  # fmt: skip
_SETTINGS_FIELDS = {"name", "allow_duplicates", "duplicate_priority"}

Endpoint = Callable[[Request], Any]


def appointment_time(value: Any) -> Any:
    """GetEventSchema's non-ISO `YYYY-MM-DD HH:mm:ss` (docs/highlevel-api.md section 3.8)."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def _webhook_appointment(event: dict[str, Any]) -> dict[str, Any]:
    # Webhooks carry ISO times with an offset ("2023-09-25T16:00:00+05:30"), unlike the GET.
    out = public(event)
    for key in ("startTime", "endTime", "dateAdded", "dateUpdated"):
        value = out.get(key)
        if isinstance(value, str) and len(value) == 19 and value[10] == " ":
            out[key] = value.replace(" ", "T") + "+00:00"
    return out


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError:
        raise SimHTTPError(400, "the body is not valid JSON") from None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class AdminGuard:
    """Refuses /_admin (every part's admin routes) to non-loopback clients unless allowed."""

    def __init__(self, app: ASGIApp, allow_remote: bool = False) -> None:
        self.app = app
        self.allow_remote = allow_remote

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/_admin")
            and not self.allow_remote
        ):
            client = scope.get("client")
            if not _is_loopback(client[0] if client else None):
                response = from_exception(
                    SimHTTPError(403, "the admin API answers loopback clients only")
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def admin_routes(
    state: SimState,
    log: RequestLog,
    *,
    events: EventSink | None,
    on_reset: Callable[[], None] = lambda: None,
) -> list[BaseRoute]:
    def guard(handler: Endpoint) -> Endpoint:
        async def wrapped(request: Request) -> Response:
            try:
                result: Response = await handler(request)
                return result
            except SimHTTPError as exc:
                return from_exception(exc)

        return wrapped

    def emit(event_type: str, location_id: str, data: dict[str, Any]) -> None:
        if events is not None:
            events.emit(event_type, location_id, data)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def get_state(request: Request) -> Response:
        return JSONResponse({"locations": state.snapshot()})

    async def get_requests(request: Request) -> Response:
        return JSONResponse(log.to_json())

    async def clear_requests(request: Request) -> Response:
        log.clear()
        return JSONResponse({"cleared": True})

    async def reset(request: Request) -> Response:
        state.reset()
        log.clear()
        on_reset()
        return JSONResponse({"reset": True})

    async def put_location(request: Request) -> Response:
        location_id = request.path_params["locationId"]
        body = await _json(request)
        if not isinstance(body, dict):
            raise SimHTTPError(422, ["the body must be an object"])
        unknown = sorted(set(body) - _SETTINGS_FIELDS)
        if unknown:
            raise SimHTTPError(422, [f"property {k} should not exist" for k in unknown])
        current = state.location(location_id) or LocationSettings(location_id)
        settings = LocationSettings(
            location_id,
            name=body.get("name", current.name),
            allow_duplicates=body.get("allow_duplicates", current.allow_duplicates),
            duplicate_priority=body.get("duplicate_priority", current.duplicate_priority),
        )
        problems = []
        if not isinstance(settings.allow_duplicates, bool):
            problems.append("allow_duplicates must be a boolean value")
        prio = settings.duplicate_priority
        if (
            not isinstance(prio, list)
            or not prio
            or len(set(prio)) != len(prio)
            or any(p not in ("email", "phone") for p in prio)
        ):
            problems.append("duplicate_priority must list email and/or phone, each once")
        if not isinstance(settings.name, str):
            problems.append("name must be a string")
        if problems:
            raise SimHTTPError(422, problems)
        state.put_location(settings)
        return JSONResponse({"location": public(vars(settings))})

    async def add_appointments(request: Request) -> Response:
        body = await _json(request)
        items = body if isinstance(body, list) else [body]
        created = []
        with state.lock:
            for i, item in enumerate(items):
                created.append(_new_appointment(state, item, f"{i}."))
        for event in created:
            emit("AppointmentCreate", event["locationId"], _webhook_appointment(event))
        return JSONResponse({"events": [public(e) for e in created]}, status_code=201)

    async def update_appointment(request: Request) -> Response:
        body = await _json(request)
        with state.lock:
            event = state.get("appointment", request.path_params["id"])
            if event is None:
                raise SimHTTPError(404, "Appointment not found")
            _check_appointment_fields(body, "")
            event = {**event, **{k: appointment_time(v) for k, v in body.items()}}
            event["dateUpdated"] = appointment_time(state.now())
            state.put("appointment", event)
        emit("AppointmentUpdate", event["locationId"], _webhook_appointment(event))
        return JSONResponse({"event": public(event)})

    async def delete_appointment(request: Request) -> Response:
        event = state.delete("appointment", request.path_params["id"])
        if event is None:
            raise SimHTTPError(404, "Appointment not found")
        emit("AppointmentDelete", event["locationId"], _webhook_appointment(event))
        return JSONResponse({"succeded": True})

    return [
        Route("/_admin/health", guard(health), methods=["GET"]),
        Route("/_admin/state", guard(get_state), methods=["GET"]),
        Route("/_admin/requests", guard(get_requests), methods=["GET"]),
        Route("/_admin/requests", guard(clear_requests), methods=["DELETE"]),
        Route("/_admin/reset", guard(reset), methods=["POST"]),
        Route("/_admin/locations/{locationId}", guard(put_location), methods=["PUT"]),
        Route("/_admin/appointments", guard(add_appointments), methods=["POST"]),
        Route("/_admin/appointments/{id}", guard(update_appointment), methods=["PUT"]),
        Route("/_admin/appointments/{id}", guard(delete_appointment), methods=["DELETE"]),
    ]


def _check_appointment_fields(item: Any, prefix: str) -> None:
    if not isinstance(item, dict):
        raise SimHTTPError(422, [f"{prefix}appointment must be an object"])
    unknown = sorted(set(item) - _APPOINTMENT_FIELDS)
    if unknown:
        raise SimHTTPError(422, [f"{prefix}property {k} should not exist" for k in unknown])


def _new_appointment(state: SimState, item: Any, prefix: str) -> dict[str, Any]:
    _check_appointment_fields(item, prefix)
    contact = state.get("contact", str(item.get("contactId")))
    if contact is None:
        raise SimHTTPError(400, f"Contact with id {item.get('contactId')} not found")
    now = appointment_time(state.now())
    event: dict[str, Any] = {
        "id": state.ids.firestore(),
        "calendarId": state.ids.firestore(),
        "status": "booked",
        "appointmentStatus": "confirmed",
        "title": "Appointment",
        "locationId": contact["locationId"],
        "users": [],
        "assignedResources": [],
        "dateAdded": now,
        "dateUpdated": now,
    }
    event.update({k: appointment_time(v) for k, v in item.items()})
    state.put("appointment", event)
    return event
