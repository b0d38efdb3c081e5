"""What a client tells an observer of each HTTP exchange (`on_exchange`).

A caller that wants to show what HighLevel answered (tnhl's per-event story, a debugging
script) needs every request, retries and token refreshes included, with HighLevel's status and
body; the client's return value is only the final parsed body. Headers are never passed on:
they hold the token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

__all__ = ["EXCHANGE_BODY_LIMIT", "Exchange", "ExchangeObserver", "exchange_of"]

# Enough of an answer to read what HighLevel said; a search page can be megabytes.
EXCHANGE_BODY_LIMIT = 2000


@dataclass(frozen=True)
class Exchange:
    """One request to HighLevel and its answer. `path` is below the base URL, with its query;
    `status` is None when no answer came (then `error` names the transport failure); `body`
    is the answer's first 2,000 characters."""

    method: str
    path: str
    status: int | None
    seconds: float
    body: str = ""
    error: str | None = None


ExchangeObserver = Callable[[Exchange], None]


def exchange_of(
    method: str,
    url: str,
    query: Mapping[str, str],
    base_url: str,
    seconds: float,
    response: httpx.Response | None,
    error: BaseException | None = None,
) -> Exchange:
    path = url[len(base_url) :] if url.startswith(base_url) else url
    if query:
        path = f"{path}?{urlencode(query)}"
    if response is None:
        name = type(error).__name__ if error is not None else "no answer"
        return Exchange(method, path, None, seconds, error=name)
    # Only the head is decoded: the whole of a large answer is parsed once, by the client.
    head = response.content[: 4 * EXCHANGE_BODY_LIMIT].decode(
        response.encoding or "utf-8", "replace"
    )
    return Exchange(method, path, response.status_code, seconds, head[:EXCHANGE_BODY_LIMIT])
