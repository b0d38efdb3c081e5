"""A load generator in its own process, so it does not share the server's GIL.

`post_all(url, requests, concurrency)` POSTs pre-built (headers, body) pairs over keep-alive
connections and returns (elapsed seconds, status counts); `post_timed(url, requests, clients)`
sends them from a few httpx clients and returns each request's latency and status.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

Request = tuple[dict[str, str], bytes]


async def _connection(
    host: str, port: int, path: str, queue: asyncio.Queue[Request], statuses: Counter[int]
) -> None:
    # A minimal HTTP/1.1 keep-alive client on asyncio streams: httpx costs more CPU per request
    # than the servers being measured, and would make the load generator the bottleneck.
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                headers, body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            head = [
                f"POST {path} HTTP/1.1",
                f"Host: {host}:{port}",
                "Content-Type: application/json",
            ]
            head += [f"{k}: {v}" for k, v in headers.items()]
            head.append(f"Content-Length: {len(body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            statuses[int(status_line.split()[1])] += 1
    finally:
        writer.close()


async def _run(url: str, requests: list[Request], concurrency: int) -> tuple[float, dict[int, int]]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[Request] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    start = time.perf_counter()
    await asyncio.gather(
        *(_connection(host, port, parts.path, queue, statuses) for _ in range(concurrency))
    )
    return time.perf_counter() - start, dict(statuses)


def _child(url: str, requests: list[Request], concurrency: int, out: Any) -> None:
    out.put(asyncio.run(_run(url, requests, concurrency)))


def post_all(
    url: str, requests: list[Request], concurrency: int = 16
) -> tuple[float, dict[int, int]]:
    """POST every request from a separate process; (elapsed seconds, {status: count})."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_child, args=(url, requests, concurrency, out))
    proc.start()
    result: tuple[float, dict[int, int]] = out.get(timeout=600)
    proc.join(30)
    return result


def _timed_child(url: str, requests: list[Request], clients: int, warmup: int, out: Any) -> None:
    import threading

    import httpx

    lock = threading.Lock()
    todo = list(reversed(list(enumerate(requests))))
    results: list[tuple[float, int]] = []

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    index, (headers, body) = todo.pop()
                start = time.perf_counter()
                status = http.post(url, content=body, headers=headers).status_code
                elapsed = time.perf_counter() - start
                if index >= warmup:
                    with lock:
                        results.append((elapsed, status))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(results)


def post_timed(
    url: str, requests: list[Request], clients: int = 4, warmup: int = 0
) -> list[tuple[float, int]]:
    """POST every request from `clients` httpx clients (threads of a separate process, each
    one keep-alive connection); (seconds, status) of each request after the first `warmup`
    (which open the connections and warm both sides up), in completion order."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_timed_child, args=(url, requests, clients, warmup, out))
    proc.start()
    result: list[tuple[float, int]] = out.get(timeout=600)
    proc.join(30)
    return result
