"""HighLevel-shaped error responses shared by every part of the simulator."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

_ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class SimHTTPError(Exception):
    """Raised in a handler; the app answers HighLevel's `{statusCode, message, error}`."""

    def __init__(
        self,
        status: int,
        message: str | list[str],
        *,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message if isinstance(message, str) else "; ".join(message))
        self.status = status
        self.message = message
        self.meta = meta
        self.headers = headers or {}


def error_body(
    status: int, message: str | list[str], meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"statusCode": status, "message": message}
    name = _ERROR_NAMES.get(status)
    if name is not None:
        body["error"] = name
    if meta is not None:
        body["meta"] = meta
    return body


def error_response(
    status: int,
    message: str | list[str],
    *,
    meta: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, meta), status_code=status, headers=headers)


def from_exception(exc: SimHTTPError) -> JSONResponse:
    return error_response(exc.status, exc.message, meta=exc.meta, headers=exc.headers)
