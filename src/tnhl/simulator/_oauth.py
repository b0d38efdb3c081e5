"""HighLevel's OAuth endpoints, locally: token, locationToken and the chooselocation page.

Shapes follow the official spec (`apps/oauth.json`, docs/highlevel-api.md §6): form-encoded
bodies, `GetAccessCodeSuccessfulResponseDto` answers, 400/401/422 errors in HighLevel's
`{statusCode, message, error}` shape (422 with a list of messages, as class-validator does).

The chooselocation page is served at the simulator's own base URL (`/v2/oauth/chooselocation`,
and the older `/oauth/chooselocation`); its links stay on that page. A script picks a location
without a browser by adding `location_id=<id>` (or `agency=1`) to the authorize URL: the answer
is the 302 to `redirect_uri?code=...&state=...` the page's link gives. `deny=1` is the page's
Cancel: `redirect_uri?error=access_denied&state=...` (RFC 6749 4.1.2.1; HighLevel documents
no cancel). Beyond HighLevel's docs: `state` is echoed back, and a `code_challenge` (PKCE, RFC
7636: S256 or plain) binds the code to a `code_verifier` the exchange must then present.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from tnhl.simulator._http import SimHTTPError, from_exception
from tnhl.simulator._tokens import ACCESS_TTL, CODE_TTL, MSG_GRANT, TokenRegistry

__all__ = ["oauth_routes"]

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
USER_TYPES = ("Company", "Location")

PKCE_METHODS = ("S256", "plain")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1, also the challenge's form

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


def _back(redirect_uri: str, answer: dict[str, str], state: str | None) -> RedirectResponse:
    if state:
        # HighLevel's docs do not mention `state`; OAuth clients expect it echoed back.
        answer["state"] = state
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", 302)


def _pkce_problems(challenge: str | None, method: str) -> list[str]:
    if challenge is None:
        return []
    problems = []
    if method not in PKCE_METHODS:
        problems.append(
            f"code_challenge_method must be one of the following values: {', '.join(PKCE_METHODS)}"
        )
    if not _VERIFIER.fullmatch(challenge):
        problems.append("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
    return problems


def _pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if not _VERIFIER.fullmatch(verifier):
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(verifier.encode("ascii"), challenge.encode("ascii"))


def oauth_routes(registry: TokenRegistry, *, access_ttl: float = ACCESS_TTL) -> list[BaseRoute]:
    """Routes for POST /oauth/token, POST /oauth/locationToken and the chooselocation pages."""
    # code -> (code_challenge, method, monotonic deadline) of codes issued with PKCE.
    challenges: dict[str, tuple[str, str, float]] = {}

    def remember_challenge(code: str, challenge: str, method: str) -> None:
        now = time.monotonic()
        for stale in [c for c, (_, _, until) in challenges.items() if until <= now]:
            del challenges[stale]  # codes live CODE_TTL: their challenges need not outlive them
        challenges[code] = (challenge, method, now + CODE_TTL)

    def check_verifier(code: str, verifier: str | None) -> None:
        bound = challenges.get(code)
        if bound is None:
            return  # issued without a challenge: a code_verifier is ignored
        if verifier is None or not _pkce_matches(verifier, bound[0], bound[1]):
            raise SimHTTPError(400, MSG_GRANT.format(what="code_verifier"))

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
            check_verifier(form["code"], form.get("code_verifier") or None)
            grant = registry.exchange_code(
                client_id,
                secret,
                form["code"],
                redirect_uri=form.get("redirect_uri") or None,
                user_type=user_type,
                access_ttl=access_ttl,
            )
            challenges.pop(form["code"], None)
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
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method", "plain")  # RFC 7636's default
        problems += _pkce_problems(challenge, method)
        if problems:
            raise SimHTTPError(422, problems)
        locations = registry.client_locations(client_id)
        if locations is None:
            raise SimHTTPError(400, "client_id: unknown client")
        state = params.get("state")
        if params.get("deny") == "1":  # the page's Cancel
            refused = {"error": "access_denied", "error_description": "The user denied access"}
            return _back(redirect_uri, refused, state)
        scopes = params.get("scope", "").split() or None
        chosen = params.get("location_id") or params.get("locationId")
        if chosen is not None or params.get("agency") == "1":
            # The picked location (or agency install) comes back here from the page's links.
            code = registry.issue_code(client_id, chosen, scopes=scopes, redirect_uri=redirect_uri)
            if challenge is not None:
                remember_challenge(code, challenge, method)
            return _back(redirect_uri, {"code": code}, state)
        base = dict(params)
        links = []
        for location in [*locations, None]:
            query = (
                {**base, "agency": "1"} if location is None else {**base, "location_id": location}
            )
            label = "Agency (Company) install" if location is None else location
            href = html.escape(f"{request.url.path}?{urlencode(query)}")
            links.append(f'<li><a href="{href}">{html.escape(label)}</a></li>')
        cancel = html.escape(f"{request.url.path}?{urlencode({**base, 'deny': '1'})}")
        links.append(f'<li><a href="{cancel}">Cancel</a></li>')
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
