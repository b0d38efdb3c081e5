"""The 32 contacts operations: paths, scopes, DTOs and handlers.

Status codes and envelopes follow docs/highlevel-api.md sections 2 and 12 (201 for creates,
200 for upsert, PUT and DELETE; `succeded` (sic); `{new, contact, traceId}` for upsert).
Contact, task and note handlers live here; list, search and the rest in `_handlers_more`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tnhl.simulator import _dtos as dto
from tnhl.simulator._api import Call, Op
from tnhl.simulator._contacts import (
    apply_fields,
    contact_view,
    create_contact,
    create_view,
    require_contact,
    upsert_contact,
    webhook_contact,
)
from tnhl.simulator._http import SimHTTPError
from tnhl.simulator._state import iso, public

__all__ = ["CORE_OPS", "READ", "WRITE"]

READ = "contacts.readonly"
WRITE = "contacts.write"
Result = tuple[int, dict[str, Any]]


def _contact(call: Call, *, status: int = 400) -> dict[str, Any]:
    return require_contact(call.state, call.params["contactId"], status=status)


def _normalize_date(raw: str) -> str:
    try:
        return iso(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        return raw


# -- contacts ------------------------------------------------------------------------------


def get_contact(call: Call) -> Result:
    return 200, {"contact": contact_view(_contact(call))}


def create(call: Call) -> Result:
    record = create_contact(call.state, call.body)
    call.emit("ContactCreate", record["locationId"], webhook_contact(record))
    return 201, {"contact": create_view(record)}


def _emit_changes(call: Call, record: dict[str, Any], changed: set[str]) -> None:
    loc = record["locationId"]
    if not changed:
        return
    call.emit("ContactUpdate", loc, webhook_contact(record))
    if "tags" in changed:
        call.emit("ContactTagUpdate", loc, webhook_contact(record))
    if changed & {"dnd", "dndSettings"}:
        call.emit("ContactDndUpdate", loc, {**webhook_contact(record), **_dnd(record)})


def _dnd(record: dict[str, Any]) -> dict[str, Any]:
    return {"dndSettings": record.get("dndSettings") or {}}


def update(call: Call) -> Result:
    with call.state.lock:
        record = dict(_contact(call))
        changed = apply_fields(record, call.body)
        if changed:
            record["dateUpdated"] = call.state.now()
        call.state.put("contact", record)
    _emit_changes(call, record, changed)
    return 200, {"succeded": True, "contact": contact_view(record)}


def upsert(call: Call) -> Result:
    new, record, changed = upsert_contact(call.state, call.body)
    if new:
        call.emit("ContactCreate", record["locationId"], webhook_contact(record))
    else:
        _emit_changes(call, record, changed)
    return 200, {"new": new, "contact": contact_view(record), "traceId": call.state.ids.trace_id()}


def delete(call: Call) -> Result:
    state = call.state
    with state.lock:
        record = _contact(call)
        for kind in ("task", "note", "appointment"):
            for child in state.children(kind, record["id"]):
                state.delete(kind, child["id"])
        state.delete("contact", record["id"])
    call.emit("ContactDelete", record["locationId"], webhook_contact(record))
    return 200, {"succeded": True}


# -- tasks ---------------------------------------------------------------------------------


def _task_view(task: dict[str, Any]) -> dict[str, Any]:
    return public(task)


def _task(call: Call) -> dict[str, Any]:
    task = call.state.get("task", call.params["taskId"])
    if task is None or task["contactId"] != call.params["contactId"]:
        raise SimHTTPError(400, "Task not found")
    return task


def _task_event(task: dict[str, Any]) -> dict[str, Any]:
    return public(task)


def list_tasks(call: Call) -> Result:
    contact = _contact(call)
    return 200, {"tasks": [_task_view(t) for t in call.state.children("task", contact["id"])]}


def get_task(call: Call) -> Result:
    _contact(call)
    return 200, {"task": _task_view(_task(call))}


def create_task(call: Call) -> Result:
    state = call.state
    with state.lock:
        contact = _contact(call)
        body = call.body
        task = {
            "id": state.ids.firestore(),
            "title": body["title"],
            "body": body.get("body"),
            "assignedTo": body.get("assignedTo"),
            "dueDate": _normalize_date(body["dueDate"]),
            "completed": body["completed"],
            "contactId": contact["id"],
            "dateAdded": state.now(),
            "_locationId": contact["locationId"],
        }
        state.put("task", task)
    call.emit("TaskCreate", contact["locationId"], _task_event(task))
    if task["completed"]:
        call.emit("TaskComplete", contact["locationId"], _task_event(task))
    return 201, {"task": _task_view(task)}


def _change_task(call: Call, fields: dict[str, Any]) -> Result:
    state = call.state
    with state.lock:
        contact = _contact(call)
        task = dict(_task(call))
        was_done = bool(task.get("completed"))
        for name, value in fields.items():
            task[name] = _normalize_date(value) if name == "dueDate" and value else value
        state.put("task", task)
    # HighLevel has no TaskUpdate event; completing a task emits TaskComplete.
    if task.get("completed") and not was_done:
        call.emit("TaskComplete", contact["locationId"], _task_event(task))
    return 200, {"task": _task_view(task)}


def update_task(call: Call) -> Result:
    return _change_task(call, call.body)


def complete_task(call: Call) -> Result:
    return _change_task(call, {"completed": call.body["completed"]})


def delete_task(call: Call) -> Result:
    with call.state.lock:
        contact = _contact(call)
        task = _task(call)
        call.state.delete("task", task["id"])
    call.emit("TaskDelete", contact["locationId"], _task_event(task))
    return 200, {"succeded": True}


# -- notes ---------------------------------------------------------------------------------


def _note(call: Call) -> dict[str, Any]:
    note = call.state.get("note", call.params["id"])
    if note is None or note["contactId"] != call.params["contactId"]:
        raise SimHTTPError(400, "Note not found")
    return note


def list_notes(call: Call) -> Result:
    contact = _contact(call)
    return 200, {"notes": [public(n) for n in call.state.children("note", contact["id"])]}


def get_note(call: Call) -> Result:
    _contact(call)
    return 200, {"note": public(_note(call))}


def create_note(call: Call) -> Result:
    state = call.state
    with state.lock:
        contact = _contact(call)
        note = {
            "id": state.ids.firestore(),
            "contactId": contact["id"],
            "dateAdded": state.now(),
            "_locationId": contact["locationId"],
            **call.body,
        }
        state.put("note", note)
    call.emit("NoteCreate", contact["locationId"], public(note))
    return 201, {"note": public(note)}


def update_note(call: Call) -> Result:
    with call.state.lock:
        contact = _contact(call)
        note = {**_note(call), **call.body}
        call.state.put("note", note)
    call.emit("NoteUpdate", contact["locationId"], public(note))
    return 200, {"note": public(note)}


def delete_note(call: Call) -> Result:
    with call.state.lock:
        contact = _contact(call)
        note = _note(call)
        call.state.delete("note", note["id"])
    call.emit("NoteDelete", contact["locationId"], public(note))
    return 200, {"succeded": True}


C = "/contacts/{contactId}"
CORE_OPS: list[Op] = [
    Op("create-contact", "POST", "/contacts/", WRITE, create, dto.CREATE_CONTACT),
    Op("upsert-contact", "POST", "/contacts/upsert", WRITE, upsert, dto.UPSERT_CONTACT),
    Op("get-contact", "GET", C, READ, get_contact),
    Op("update-contact", "PUT", C, WRITE, update, dto.UPDATE_CONTACT),
    Op("delete-contact", "DELETE", C, WRITE, delete),
    Op("get-all-tasks", "GET", f"{C}/tasks", READ, list_tasks),
    Op("create-task", "POST", f"{C}/tasks", WRITE, create_task, dto.CREATE_TASK),
    Op("get-task", "GET", f"{C}/tasks/{{taskId}}", READ, get_task),
    Op("update-task", "PUT", f"{C}/tasks/{{taskId}}", WRITE, update_task, dto.UPDATE_TASK),
    Op(
        "update-task-completed",
        "PUT",
        f"{C}/tasks/{{taskId}}/completed",
        WRITE,
        complete_task,
        dto.UPDATE_TASK_STATUS,
    ),
    Op("delete-task", "DELETE", f"{C}/tasks/{{taskId}}", WRITE, delete_task),
    Op("get-all-notes", "GET", f"{C}/notes", READ, list_notes),
    Op("create-note", "POST", f"{C}/notes", WRITE, create_note, dto.CREATE_NOTE),
    Op("get-note", "GET", f"{C}/notes/{{id}}", READ, get_note),
    Op("update-note", "PUT", f"{C}/notes/{{id}}", WRITE, update_note, dto.UPDATE_NOTE),
    Op("delete-note", "DELETE", f"{C}/notes/{{id}}", WRITE, delete_note),
]
