"""HighLevel's OAuth endpoints, locally: token, locationToken and the chooselocation page.

Shapes follow the official spec (`apps/oauth.json`, docs/highlevel-api.md §6): form-encoded
bodies, `GetAccessCodeSuccessfulResponseDto` answers, 400/401/422 errors in HighLevel's
`{statusCode, message, error}` shape (422 with a list of messages, as class-validator does).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from tnhl.simulator._http import SimHTTPError, from_exception
from tnhl.simulator._tokens import ACCESS_TTL, TokenRegistry

__all__ = ["oauth_routes"]

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
USER_TYPES = ("Company", "Location")

Handler = Callable[[Request], Awaitable[Response]]


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise SimHTTPError(
            422, ["content-type must be application/x-www-form-urlencoded"], meta=None
        )
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _require(form: dict[str, str], *names: str) -> None:
    missing = [f"{name} should not be empty" for name in names if not form.get(name)]
    if missing:
        raise SimHTTPError(422, missing)


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except SimHTTPError as exc:
            return from_exception(exc)

    return wrapped


def _safe_redirect(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def oauth_routes(registry: TokenRegistry, *, access_ttl: float = ACCESS_TTL) -> list[BaseRoute]:
    """Routes for POST /oauth/token, POST /oauth/locationToken and the chooselocation pages."""

    async def token(request: Request) -> Response:
        form = await _form(request)
        _require(form, "client_id", "client_secret", "grant_type")
        grant_type = form["grant_type"]
        if grant_type not in GRANT_TYPES:
            raise SimHTTPError(
                422, [f"grant_type must be one of the following values: {', '.join(GRANT_TYPES)}"]
            )
        user_type = form.get("user_type") or None
        if user_type is not None and user_type not in USER_TYPES:
            raise SimHTTPError(
                422, [f"user_type must be one of the following values: {', '.join(USER_TYPES)}"]
            )
        client_id, secret = form["client_id"], form["client_secret"]
        if grant_type == "authorization_code":
            _require(form, "code")
            grant = registry.exchange_code(
                client_id,
                secret,
                form["code"],
                redirect_uri=form.get("redirect_uri") or None,
                user_type=user_type,
                access_ttl=access_ttl,
            )
        elif grant_type == "refresh_token":
            _require(form, "refresh_token")
            grant = registry.refresh(
                client_id, secret, form["refresh_token"], access_ttl=access_ttl
            )
        else:
            grant = registry.client_credentials(client_id, secret, access_ttl=access_ttl)
        return JSONResponse(grant.to_json())

    async def location_token(request: Request) -> Response:
        agency = registry.authorize(
            request.headers.get("authorization"), scope="oauth.write", location_id=None
        )
        form = await _form(request)
        _require(form, "companyId", "locationId")
        grant = registry.location_token(
            agency, form["companyId"], form["locationId"], access_ttl=access_ttl
        )
        return JSONResponse(grant.to_json(location_token=True))

    async def choose_location(request: Request) -> Response:
        params = request.query_params
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        problems = []
        if params.get("response_type", "code") != "code":
            problems.append("response_type must be code")
        if not client_id:
            problems.append("client_id should not be empty")
        if not _safe_redirect(redirect_uri):
            problems.append("redirect_uri must be an http(s) URL")
        if problems:
            raise SimHTTPError(422, problems)
        locations = registry.client_locations(client_id)
        if locations is None:
            raise SimHTTPError(400, "client_id: unknown client")
        scopes = params.get("scope", "").split() or None
        chosen = params.get("location_id") or params.get("locationId")
        if chosen is not None or params.get("agency") == "1":
            # The picked location (or agency install) comes back here from the page's links.
            code = registry.issue_code(client_id, chosen, scopes=scopes, redirect_uri=redirect_uri)
            back = {"code": code}
            if params.get("state"):
                # HighLevel's docs do not mention `state`; OAuth clients expect it echoed back.
                back["state"] = params["state"]
            separator = "&" if urlsplit(redirect_uri).query else "?"
            return RedirectResponse(f"{redirect_uri}{separator}{urlencode(back)}", 302)
        base = dict(params)
        links = []
        for location in [*locations, None]:
            query = (
                {**base, "agency": "1"} if location is None else {**base, "location_id": location}
            )
            label = "Agency (Company) install" if location is None else location
            href = html.escape(f"{request.url.path}?{urlencode(query)}")
            links.append(f'<li><a href="{href}">{html.escape(label)}</a></li>')
        page = (
            "<!doctype html><title>Choose a location</title>"
            "<h1>tnhl simulator: choose an account</h1>"
            f"<p>App <code>{html.escape(client_id)}</code> asks for: "
            f"{html.escape(params.get('scope', '') or '(all granted scopes)')}</p>"
            f"<ul>{''.join(links)}</ul>"
        )
        return HTMLResponse(page)

    return [
        Route("/oauth/token", _guard(token), methods=["POST"]),
        Route("/oauth/locationToken", _guard(location_token), methods=["POST"]),
        Route("/oauth/chooselocation", _guard(choose_location), methods=["GET"]),
        Route("/v2/oauth/chooselocation", _guard(choose_location), methods=["GET"]),
    ]
