"""`tnhl verify`: the checks to run before go-live, against the configured (test) location.

Each check is one line, `ok`, `FAIL` or `skip`; a failing line names the problem and what to do.
The checks read what HighLevel answers, since that is all it tells: a refused token is 401
"Invalid JWT", a token without a scope 401 "The token is not authorized for this scope.", a
token of another sub-account 403 "The token does not have access to this location."
(docs/highlevel-api.md). HighLevel checks the scope before the location, so a 403 also says the
read scope was granted.

The contact, task and note round trip deletes whatever it created in a `finally`: a failing
step, a bug of tnhl's own or Ctrl-C leaves no test data in HighLevel (a contact whose create
failed is looked up by its unique email, in case it was made all the same, and deleted too).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tnhl.highlevel import (
    APIError,
    ConfigurationError,
    ForbiddenError,
    HighLevelClient,
    HighLevelError,
    MissingScopeError,
    OutcomeUnknownError,
    RateLimiter,
    TransportError,
    UnauthorizedError,
)
from tnhl.sync._connect import _auth, _credentials, limiter_state
from tnhl.sync._connections import ConnectionSettings
from tnhl.sync._errors import SettingsError
from tnhl.sync._readback import CallFn
from tnhl.sync._settings import Settings
from tnhl.talknotes import SecretFormatError, decode_secret

__all__ = ["CheckList", "VerifyCheck", "run_checks", "verify_connection"]

Status = Literal["ok", "fail", "skip"]
Report = Callable[["VerifyCheck"], None]

READ_SCOPE = "contacts.readonly"
WRITE_SCOPE = "contacts.write"
# An id no contact has: an empty update of it shows whether the token may write (HighLevel
# checks the scope before it looks the contact up) and changes nothing either way.
PROBE_CONTACT_ID = "tnhlVerifyNoContact0"
_SCOPE_MESSAGE = "not authorized for this scope"
_CHECK_PIT = (
    "check highlevel_token: a Private Integration Token of this sub-account "
    "(HighLevel: Settings > Private Integrations)"
)
_REST = "scopes, location, contact, task and note"
_AGAIN = "HighLevel or the network failed: run `tnhl verify` again in a minute"


@dataclass(frozen=True)
class VerifyCheck:
    """One line of `tnhl verify`: what was checked (`name`), how it went, and the words."""

    name: str
    status: Status
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def line(self) -> str:
        if self.status == "ok":
            return f"ok   {self.message}"
        return f"{'FAIL' if self.failed else 'skip'} {self.name}: {self.message}"


class _Failed(Exception):
    """A step of the round trip failed; `message` is its FAIL line after the name."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CheckList:
    """The lines of a verify so far, each reported as it is made."""

    def __init__(self, report: Report | None) -> None:
        self.report = report
        self.checks: list[VerifyCheck] = []

    def add(self, name: str, status: Status, message: str) -> None:
        check = VerifyCheck(name, status, message)
        self.checks.append(check)
        if self.report is not None:
            self.report(check)


class _Run(CheckList):
    def __init__(
        self, call: CallFn, location_id: str, report: Report | None, token_advice: str
    ) -> None:
        super().__init__(report)
        self.call = call
        self.location_id = location_id
        self.token_advice = token_advice

    def attempt(self, operation: str, **kwargs: Any) -> tuple[Any, HighLevelError | None]:
        try:
            return self.call(operation, **kwargs), None
        except HighLevelError as exc:
            return None, exc


def _answer(exc: HighLevelError) -> str:
    """What HighLevel said, in words (tnhl's errors never carry a token)."""
    if isinstance(exc, APIError):
        return f"HighLevel answered {exc.status} ({exc.message or exc.error or 'no message'})"
    if isinstance(exc, TransportError):
        return f"no answer from HighLevel ({exc})"
    if isinstance(exc, OutcomeUnknownError):
        return "no answer from HighLevel; the request may have reached it"
    return str(exc)


def _is_scope_refusal(exc: HighLevelError | None) -> bool:
    if isinstance(exc, MissingScopeError):
        return True
    return isinstance(exc, UnauthorizedError) and _SCOPE_MESSAGE in exc.message.lower()


def _remedy(exc: HighLevelError, token_advice: str) -> str:
    if _is_scope_refusal(exc):
        return f"give the token the scopes {READ_SCOPE} and {WRITE_SCOPE}"
    if isinstance(exc, UnauthorizedError):
        return token_advice
    if isinstance(exc, ForbiddenError):
        return "check location_id"
    if exc.retryable:
        return _AGAIN
    return "HighLevel refused tnhl's request: please report this line to tnhl's maintainers"


def _access(run: _Run) -> bool:
    """The token, scopes and location lines; True when the round trip may run."""
    loc = run.location_id
    _, read = run.attempt("search-contacts-advanced", json={"locationId": loc, "pageLimit": 1})
    if read is not None and not _is_scope_refusal(read) and not isinstance(read, ForbiddenError):
        if isinstance(read, TransportError):
            run.add("HighLevel", "fail", f"{_answer(read)} - check highlevel_base_url")
        elif read.retryable:
            run.add("HighLevel", "fail", f"{_answer(read)} - {_AGAIN}")
        elif isinstance(read, APIError) and not isinstance(read, UnauthorizedError):
            # The token passed (HighLevel checks it first); the location id did not.
            run.add("token", "ok", "token accepted by HighLevel")
            run.add("location", "fail", f"{_answer(read)} - check location_id ({loc})")
            return False
        else:  # 401, or OAuth tokens that could not be had (AuthError)
            run.add("token", "fail", f"{_answer(read)} - {run.token_advice}")
        run.add(_REST, "skip", "not checked until the token check passes")
        return False
    run.add("token", "ok", "token accepted by HighLevel")
    missing = [READ_SCOPE] if _is_scope_refusal(read) else []
    write = _write_scope(run)
    if write is False:
        missing.append(WRITE_SCOPE)
    if missing:
        lacks = " and ".join(missing)
        run.add(
            "scopes",
            "fail",
            f"the token lacks {lacks} (HighLevel answered 401: The token is not authorized "
            f"for this scope.) - allow {lacks} for the token in HighLevel (Settings > Private "
            "Integrations, or your app's scopes); the token itself stays the same",
        )
    elif write is True:
        run.add("scopes", "ok", f"scopes {READ_SCOPE} and {WRITE_SCOPE} granted")
    if isinstance(read, ForbiddenError):
        run.add(
            "location",
            "fail",
            f"{_answer(read)} - check location_id ({loc}): it must be the sub-account the "
            "token was made in",
        )
        return False
    if read is not None:
        run.add("location", "skip", f"not checked without {READ_SCOPE}")
        return False
    run.add("location", "ok", f"location {loc} reachable with this token")
    return write is True and not missing


def _write_scope(run: _Run) -> bool | None:
    """True: the token may write; False: it lacks contacts.write; None: unknown (a FAIL line
    says why)."""
    _, error = run.attempt("update-contact", params={"contactId": PROBE_CONTACT_ID}, json={})
    if _is_scope_refusal(error):
        return False
    if error is not None and (error.retryable or isinstance(error, UnauthorizedError)):
        run.add("scopes", "fail", f"could not check {WRITE_SCOPE}: {_answer(error)}")
        return None
    return True  # any other answer (400 "not found") came after the scope check


def _step(run: _Run, what: str, operation: str, key: str | None, **kwargs: Any) -> dict[str, Any]:
    """One call of the round trip: its answer's `key` object, or _Failed."""
    body, error = run.attempt(operation, **kwargs)
    if error is not None:
        raise _Failed(
            f"{what} ({operation}): {_answer(error)} - {_remedy(error, run.token_advice)}"
        )
    if key is None:
        return {}
    inner = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(inner, dict) or not isinstance(inner.get("id"), str):
        raise _Failed(f"{what} ({operation}): the answer has no {key} with an id")
    return inner


def _expect(what: str, record: Mapping[str, Any], field: str, value: object) -> None:
    if record.get(field) != value:
        raise _Failed(f"{what}: {field} is {record.get(field)!r}, expected {value!r}")


@dataclass
class _Left:
    """What the round trip created and has not deleted yet, oldest first."""

    email: str
    items: list[tuple[str, str, dict[str, str]]]  # (what, delete operation, its params)
    contact_unknown: bool = False  # a create that failed may still have made it

    def done(self, what: str) -> None:
        self.items = [item for item in self.items if item[0] != what]


def _contact(run: _Run, left: _Left) -> str:
    new = {"locationId": run.location_id, "firstName": "tnhl", "lastName": "Verify"}
    try:
        made = _step(run, "create", "create-contact", "contact", json={**new, "email": left.email})
    except _Failed:
        left.contact_unknown = True
        raise
    params = {"contactId": made["id"]}
    left.items.append(("contact", "delete-contact", params))
    read = _step(run, "read", "get-contact", "contact", params=params)
    _expect("read", read, "email", left.email)
    _step(run, "update", "update-contact", "contact", params=params, json={"lastName": "Ok"})
    read = _step(run, "read back", "get-contact", "contact", params=params)
    _expect("read back", read, "lastName", "Ok")
    return str(made["id"])


def _child(run: _Run, kind: Literal["task", "note"], contact_id: str, left: _Left) -> None:
    """Create, read, update and delete a task or a note of the test contact."""
    field, id_param = ("title", "taskId") if kind == "task" else ("body", "id")
    first = "tnhl verify" if kind == "task" else "tnhl verify: a test note, deleted at once"
    new: dict[str, object] = {field: first}
    if kind == "task":
        due = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        new.update(body="a test task, deleted at once", dueDate=due, completed=False)
    of_contact = {"contactId": contact_id}
    made = _step(run, "create", f"create-{kind}", kind, params=of_contact, json=new)
    params = {**of_contact, id_param: made["id"]}
    left.items.append((kind, f"delete-{kind}", params))
    _expect("read", _step(run, "read", f"get-{kind}", kind, params=params), field, first)
    changed = f"{first} (updated)"
    _step(run, "update", f"update-{kind}", kind, params=params, json={field: changed})
    read = _step(run, "read back", f"get-{kind}", kind, params=params)
    _expect("read back", read, field, changed)
    _step(run, "delete", f"delete-{kind}", None, params=params)
    left.done(kind)


def _round_trip(run: _Run, stamp: str) -> None:
    left = _Left(f"tnhl-verify-{stamp}@example.com", [])
    try:
        try:
            contact_id = _contact(run, left)
        except _Failed as exc:
            run.add("contact", "fail", exc.message)
            run.add("task and note", "skip", "they need the test contact")
            return
        run.add("contact", "ok", f"contact created, read and updated ({left.email})")
        for kind in ("task", "note"):
            try:
                _child(run, kind, contact_id, left)
            except _Failed as exc:
                run.add(kind, "fail", exc.message)
            else:
                run.add(kind, "ok", f"{kind} created, read, updated and deleted")
        if [what for what, _, _ in left.items] == ["contact"]:
            try:
                _step(run, "delete", "delete-contact", None, params={"contactId": contact_id})
            except _Failed as exc:
                run.add("contact", "fail", exc.message)
            else:
                left.done("contact")
                run.add("contact", "ok", "contact deleted: no test data is left in HighLevel")
    finally:
        _clean_up(run, left)


def _clean_up(run: _Run, left: _Left) -> None:
    """Delete what a failure left behind, newest first; one line says what went, or what to
    delete by hand."""
    if left.contact_unknown:
        body, _ = run.attempt(
            "get-duplicate-contact", params={"locationId": run.location_id, "email": left.email}
        )
        found = body.get("contact") if isinstance(body, Mapping) else None
        if isinstance(found, Mapping) and isinstance(found.get("id"), str):
            left.items.append(("contact", "delete-contact", {"contactId": found["id"]}))
    deleted: list[str] = []
    stuck: list[str] = []
    for what, operation, params in reversed(left.items):
        _, error = run.attempt(operation, params=params)
        if error is None:
            deleted.append(what)
        else:
            ids = ", ".join(f"{k} {v}" for k, v in params.items())
            stuck.append(f"the test {what} ({ids}): {_answer(error)}")
    if "contact" in deleted:
        stuck = []  # the tasks and notes that would not go went with their contact
    if stuck:
        run.add(
            "cleanup",
            "fail",
            f"could not delete {'; '.join(stuck)} - delete it by hand ({left.email})",
        )
    elif deleted:
        run.add("cleanup", "ok", f"cleanup: deleted the test {' and '.join(deleted)} left behind")


def oauth_advice(location_id: str) -> str:
    """What to do when an OAuth connection's token is refused or missing."""
    return f"run `tnhl auth login` to store tokens for location {location_id}, or check location_id"


def run_checks(
    call: CallFn,
    location_id: str,
    *,
    report: Report | None = None,
    stamp: str | None = None,
    token_advice: str = _CHECK_PIT,
) -> list[VerifyCheck]:
    """Check a HighLevel client's token, scopes and location, then create, read, update and
    delete a test contact, task and note (`stamp` makes its email unique). Each check goes
    to `report` as soon as it is known; `token_advice` is what to do when the token fails
    (a PIT's or an OAuth login's)."""
    run = _Run(call, location_id, report, token_advice)
    if _access(run):
        _round_trip(run, stamp or secrets.token_hex(4))
    elif not any(c.name == _REST for c in run.checks):
        run.add("contact, task and note", "skip", "not tried until the checks above pass")
    return run.checks


def _secret_check(conn: ConnectionSettings) -> VerifyCheck:
    secret = conn.talknotes_secret
    if secret is None or not secret.get_secret_value():
        return VerifyCheck(
            "talknotes secret",
            "fail",
            "talknotes_secret is not set - make one with `tnhl secret new`, set it as "
            "talknotes_secret and paste it into TalkNotes",
        )
    try:
        decode_secret(secret.get_secret_value())
    except SecretFormatError as exc:  # its message never holds the secret
        return VerifyCheck("talknotes secret", "fail", f"{exc} - make one with `tnhl secret new`")
    return VerifyCheck("talknotes secret", "ok", "talknotes_secret set (a whsec_ secret)")


def verify_connection(
    settings: Settings, conn: ConnectionSettings, *, report: Report | None = None
) -> list[VerifyCheck]:
    """Every check of one connection with its own credentials; a SettingsError when the
    settings cannot make a HighLevel client at all."""
    base_url, token = _credentials(settings, conn)
    try:
        auth = _auth(settings, base_url, token, conn.location_id)
    except ConfigurationError as exc:
        raise SettingsError(
            "highlevel_token" if exc.field == "token" else exc.field, exc.problem
        ) from None
    # Paced by the settings' limiter state: shared with a running `tnhl run` when that is
    # SQLite or Redis, so a check never pushes a busy location over HighLevel's limit.
    limiter = RateLimiter(
        state=limiter_state(settings),
        burst=settings.rate_limit_burst,
        interval=settings.rate_limit_interval,
    )
    with HighLevelClient(
        auth,
        base_url=base_url,
        rate_limiter=limiter,
        rate_limit_key=conn.location_id,
        timeout=settings.http_timeout,
    ) as client:
        advice = _CHECK_PIT if token is not None else oauth_advice(conn.location_id)
        checks = run_checks(client.call, conn.location_id, report=report, token_advice=advice)
    checks.append(secret := _secret_check(conn))
    if report is not None:
        report(secret)
    return checks  # the public URL's checks are once per verify: _verify_public
