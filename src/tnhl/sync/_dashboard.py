"""The dashboard at `/` (issue 11; docs/dashboard.md): connections' health, the event log, an
event's story, dead letters (Replay), recipes and a mapping preview. No route at all unless
`admin_password` is set. Pages come from `_dashboard_views` and templates/ (Jinja2); every form
is a plain POST that works without JavaScript. htmx makes it live (static/htmx.min.js: htmx.org
2.0.11 from npm, unchanged, sha256 d6fdc75f...b4000f717; licence 0BSD, static/htmx.LICENSE),
served from the package: no CDN, no network at run time, no build step.

Security: one password, compared in constant time, at most `_LOGIN_TRIES` failures per client
per minute; a session cookie signed (HMAC-SHA256, key derived from the password by PBKDF2, so a
new password ends every session), HttpOnly, SameSite=Strict, Secure over https; a CSRF token
bound to the session on every POST (the login's: to a pre-login cookie), a wrong one a 403
that changes nothing; pages no-store, unframeable, under a strict Content-Security-Policy.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from tnhl.mapping import MappingConfig, load_mapping
from tnhl.store import RecordNotFoundError, SqlStore
from tnhl.sync import _dashboard_views as views
from tnhl.sync._connect import _zoned
from tnhl.sync._dashboard_auth import LoginTries, Signer, read_form, safe_next, same
from tnhl.sync._errors import SettingsError
from tnhl.sync._replay import replay_dead_letter
from tnhl.sync._settings import Settings
from tnhl.sync._switches import switch_recipes

__all__ = ["dashboard_routes"]

_SESSION = "tnhl_session"
_PRELOGIN = "tnhl_login"
_SESSION_SECONDS = 12 * 3600
_PRELOGIN_SECONDS = 3600
_LOGIN_TRIES = 5
_LOGIN_WINDOW = 60.0
_STATIC = {"htmx.min.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css"}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

Page = tuple[str, dict[str, Any]]  # a template and its context
Handler = Callable[[Request, dict[str, str]], "Response | Page"]


class _Dashboard:
    def __init__(
        self,
        store: SqlStore,
        settings: Settings,
        password: str,
        mappings: Mapping[str, MappingConfig],
        clock: Callable[[], float],
        paused: Callable[[float], Mapping[str, str]] | None,
        wake: Callable[[], None] | None,
    ) -> None:
        self.store, self.settings, self.mappings = store, settings, mappings
        self.clock, self.paused, self.wake = clock, paused, wake
        self.signer = Signer(password)
        self.tries = LoginTries(clock, _LOGIN_TRIES, _LOGIN_WINDOW)
        self.ended: dict[str, float] = {}  # sessions logged out: id -> when they expire anyway
        self.env = Environment(
            loader=PackageLoader("tnhl.sync", "templates"),
            autoescape=select_autoescape(("html",)),
            undefined=StrictUndefined,
        )

    # rendering -------------------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        sid: str | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(
            path=request.url.path,
            section=context.pop("section", ""),
            csrf=self.signer.csrf("session", sid) if sid else "",
            signed_in=sid is not None,
            **context,
        )
        headers = dict(_HEADERS)
        if request.headers.get("hx-boosted") == "true":
            headers["HX-Push-Url"] = request.url.path + (
                f"?{request.url.query}" if request.url.query else ""
            )
        return HTMLResponse(html, status_code=status, headers=headers)

    def problem(self, request: Request, sid: str | None, status: int, message: str) -> Response:
        return self.render(
            request, "problem.html", sid, status, status_code=status, message=message
        )

    # sessions --------------------------------------------------------------------------------
    def session(self, request: Request) -> str | None:
        sid = self.signer.loads(request.cookies.get(_SESSION, ""), "session", self.clock())
        return None if sid is None or sid in self.ended else sid

    def page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A signed-in page; a POST to it needs the session's CSRF token."""

        async def endpoint(request: Request) -> Response:
            sid = self.session(request)
            if sid is None:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                login = f"/login?next={quote(wanted, safe='')}"
                if request.headers.get("hx-request") == "true":
                    return Response(status_code=401, headers={"HX-Redirect": login})
                return RedirectResponse(login, status_code=303)
            form: dict[str, str] = {}
            if request.method == "POST":
                got = await read_form(request)
                if got is None:
                    return self.problem(request, sid, 413, "That form was too large.")
                form = got
                token = form.get("csrf") or request.headers.get("x-csrf-token", "")
                if not same(token, self.signer.csrf("session", sid)):
                    return self.problem(
                        request,
                        sid,
                        403,
                        "This form did not come from this dashboard session (its CSRF token "
                        "is missing or wrong), so nothing was done. Reload the page and try "
                        "again.",
                    )
            try:
                out = await run_in_threadpool(handler, request, form)
            except RecordNotFoundError as exc:
                return self.problem(request, sid, 404, str(exc))
            if isinstance(out, Response):
                return out
            template, context = out
            return self.render(request, template, sid, section=template[:-5], **context)

        return endpoint

    def set_cookie(
        self, request: Request, response: Response, name: str, value: str, max_age: int
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    async def login(self, request: Request) -> Response:
        now = self.clock()
        pre = self.signer.loads(request.cookies.get(_PRELOGIN, ""), "login", now)
        target = safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return self.login_form(request, target, None, 200)
        client = request.client.host if request.client else "unknown"
        wait = self.tries.wait(client)
        if wait > 0:
            response = self.problem(
                request,
                None,
                429,
                f"Too many wrong passwords from your address: try again in {wait:.0f} s.",
            )
            response.headers["Retry-After"] = str(max(1, round(wait)))
            return response
        form = await read_form(request) or {}
        target = safe_next(form.get("next") or target)
        if pre is None or not same(form.get("csrf", ""), self.signer.csrf("login", pre)):
            return self.login_form(
                request,
                target,
                "This login form has expired: please enter the password again.",
                403,
            )
        if not self.signer.password_ok(form.get("password", "")):
            self.tries.failed(client)
            return self.login_form(request, target, "Wrong password.", 401)
        response = RedirectResponse(target, status_code=303)
        sid = secrets.token_urlsafe(24)
        token = self.signer.dumps("session", sid, now + _SESSION_SECONDS)
        self.set_cookie(request, response, _SESSION, token, _SESSION_SECONDS)
        response.delete_cookie(_PRELOGIN, path="/")
        return response

    def login_form(
        self, request: Request, target: str, message: str | None, status: int
    ) -> Response:
        pre = secrets.token_urlsafe(16)
        response = self.render(
            request,
            "login.html",
            None,
            status,
            login_csrf=self.signer.csrf("login", pre),
            next=target,
            message=message,
        )
        token = self.signer.dumps("login", pre, self.clock() + _PRELOGIN_SECONDS)
        self.set_cookie(request, response, _PRELOGIN, token, _PRELOGIN_SECONDS)
        return response

    def logout(self, request: Request, _form: dict[str, str]) -> Response:
        now = self.clock()
        self.ended = {s: t for s, t in self.ended.items() if t > now}
        self.ended[self.session(request) or ""] = now + _SESSION_SECONDS
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(_SESSION, path="/")
        return response

    # pages: each returns its template and context (rendered by `page`), or a response ------
    def connections(self, _request: Request, _form: dict[str, str]) -> Page:
        now = self.clock()
        paused = self.paused(now) if self.paused is not None else None
        return "connections.html", views.connections_page(self.store, self.settings, now, paused)

    def events(self, request: Request, _form: dict[str, str]) -> Page:
        flt = views.EventFilter.from_query(request.query_params)
        return "events.html", views.events_page(self.store, self.settings, flt, self.clock())

    def story(self, request: Request, _form: dict[str, str]) -> Page:
        inbox_id = int(request.path_params["inbox_id"])
        page = views.story_page(self.store, self.settings, inbox_id, self.clock())
        replayed = request.query_params.get("replayed", "")
        return "event.html", {**page, "replayed": replayed if replayed.isdigit() else ""}

    def dead(self, request: Request, _form: dict[str, str]) -> Page:
        q = request.query_params
        return "dead.html", views.dead_page(
            self.store,
            self.settings,
            self.clock(),
            connection=q.get("connection", ""),
            everything=q.get("all") == "1",
        )

    def replay(self, request: Request, _form: dict[str, str]) -> Response:
        dead_id = int(request.path_params["dead_id"])
        try:
            done = replay_dead_letter(self.store, self.settings, dead_id, now=self.clock())
        except SettingsError as exc:
            return self.problem(request, self.session(request), 409, f"Not replayed: {exc}")
        if self.wake is not None:
            self.wake()
        return RedirectResponse(f"/events/{done.event.id}?replayed={dead_id}", status_code=303)

    def recipes(self, request: Request, _form: dict[str, str]) -> Page:
        conns = self.settings.connection_list()
        switched = {c.location_id: self.store.recipe_switches(c.location_id) for c in conns}
        page = views.recipes_page(conns, self.mappings, switched)
        return "recipes.html", {**page, "flash": request.query_params.get("switched", "")}

    def switch(self, request: Request, form: dict[str, str]) -> Response:
        """Turn one connection's recipe on or off (kept in the store; applies at once)."""
        name, recipe = request.path_params["connection"], request.path_params["recipe"]
        conn = next((c for c in self.settings.connection_list() if c.name == name), None)
        mapping = self.mappings.get(conn.location_id) if conn is not None else None
        if conn is None or mapping is None:
            raise RecordNotFoundError(f"no connection named {name!r}")
        if recipe not in mapping.recipes:
            raise RecordNotFoundError(f"{name} has no recipe named {recipe!r}")
        on = form.get("on") == "1"
        self.store.switch_recipe(conn.location_id, recipe, on)
        switch_recipes(mapping, {recipe: on})
        what = quote(f"{recipe} of {name} is now {'on' if on else 'off'}", safe="")
        return RedirectResponse(f"/recipes?switched={what}", status_code=303)

    def preview(self, request: Request, form: dict[str, str]) -> Page:
        conns = self.settings.connection_list()
        if not conns:
            raise RecordNotFoundError("no connection is configured")
        chosen = next((c for c in conns if c.name == form.get("connection")), conns[0])
        result: dict[str, Any] = {"text": None, "error": "", "runs": None, "plan": None}
        if request.method == "POST":
            mapping = self.mappings[chosen.location_id]
            result = views.preview_page(form.get("event", ""), chosen, mapping, self.clock())
        names = [c.name for c in conns]
        return "preview.html", {**result, "connections": names, "connection": chosen.name}

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response("not found", status_code=404, media_type="text/plain")
        data = (resources.files("tnhl.sync") / "static" / name).read_bytes()
        cache = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=_STATIC[name], headers=cache)


def dashboard_routes(
    store: SqlStore,
    settings: Settings,
    mappings: Mapping[str, MappingConfig] | None = None,
    *,
    clock: Callable[[], float] = time.time,
    paused: Callable[[float], Mapping[str, str]] | None = None,
    wake: Callable[[], None] | None = None,
) -> list[BaseRoute]:
    """The dashboard's routes, to go before anything mounted at `/`; none (so `/` is a 404)
    unless `settings.admin_password` is set. `mappings`: location id -> the mapping the
    workers use (default: each connection's mapping file); `paused(now)`: location -> why,
    the connections the running executor has paused; `wake()`: after a replay, so the
    workers pick the event up at once."""
    secret = settings.admin_password
    password = secret.get_secret_value() if secret is not None else ""
    if not password:
        return []
    if mappings is None:
        mappings = {
            c.location_id: _zoned(load_mapping(c.mapping_file), c.time_zone)
            for c in settings.connection_list()
        }
    d = _Dashboard(store, settings, password, mappings, clock, paused, wake)
    return [
        Route("/", d.page(d.connections), methods=["GET"]),
        Route("/events", d.page(d.events), methods=["GET"]),
        Route("/events/{inbox_id:int}", d.page(d.story), methods=["GET"]),
        Route("/dead", d.page(d.dead), methods=["GET"]),
        Route("/dead/{dead_id:int}/replay", d.page(d.replay), methods=["POST"]),
        Route("/recipes", d.page(d.recipes), methods=["GET"]),
        Route("/recipes/{connection}/{recipe}", d.page(d.switch), methods=["POST"]),
        Route("/preview", d.page(d.preview), methods=["GET", "POST"]),
        Route("/login", d.login, methods=["GET", "POST"]),
        Route("/logout", d.page(d.logout), methods=["POST"]),
        Route("/static/{name}", d.static, methods=["GET"]),
    ]
