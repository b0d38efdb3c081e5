"""Signed webhook deliveries, as HighLevel sends them.

docs/highlevel-api.md §11: compact JSON bodies signed over the exact bytes with Ed25519
(base64, `X-GHL-Signature`) and, legacy, RSA-SHA256 PKCS#1 v1.5 (base64, `X-WH-Signature`);
a delivery is retried only when the receiver answers 429, up to 6 times about 10 minutes apart
with jitter; any other status (5xx included) or a network error is final.

We cannot hold HighLevel's private keys, so the simulator signs with its own key pair
(configured, or generated at start) and publishes the public halves on /_admin/webhooks.

`emit` never blocks a request handler: it queues, and one worker thread delivers in order of due
time. Retries wait in a heap rather than in a sleeping thread, so one slow receiver's retries do
not hold other deliveries back.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tnhl.simulator._http import error_response
from tnhl.simulator._webhooks_events import build_payload

__all__ = ["Delivery", "WebhookConfig", "WebhookDispatcher"]

_LOG_SIZE = 10_000
LOST = "lost (loss_rate)"  # a delivery's error when the simulator chose not to make it


class WebhookConfig(BaseModel):
    """Where and how to deliver; keys are PEM (PKCS#8); None generates a key at start."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list)
    sign_rsa: bool = False
    ed25519_private_key_pem: str | None = Field(default=None, repr=False)
    rsa_private_key_pem: str | None = Field(default=None, repr=False)
    rsa_key_bits: int = Field(4096, ge=2048)  # HighLevel's published key is RSA-4096
    max_retries: int = Field(6, ge=0)
    retry_interval: float = Field(600.0, ge=0)  # seconds, multiplied by time_scale
    retry_jitter: float = Field(0.1, ge=0, le=1)  # +- this fraction of the interval
    timeout: float = Field(10.0, gt=0)
    # The share of deliveries HighLevel never makes (lost before their first try): drills of
    # reconciliation need webhooks that do not arrive. A lost delivery is in the log, marked.
    loss_rate: float = Field(0.0, ge=0, le=1)


@dataclass(frozen=True)
class Delivery:
    """One webhook to one URL: its outcome after the last attempt so far."""

    webhook_id: str
    event_type: str
    location_id: str
    url: str
    status: int | None = None
    attempts: int = 0
    error: str | None = None
    done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "webhookId": self.webhook_id,
            "type": self.event_type,
            "locationId": self.location_id,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "done": self.done,
        }


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    key: int = field(compare=False)  # the delivery's place in the log
    delivery: Delivery = field(compare=False)
    body: bytes = field(compare=False, repr=False)
    headers: dict[str, str] = field(compare=False, repr=False)


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class WebhookDispatcher:
    """Queues, signs and delivers webhook events on a worker thread."""

    def __init__(
        self,
        config: WebhookConfig,
        *,
        time_scale: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        for url in config.urls:
            if not _valid_url(url):
                raise ValueError(f"urls: {url!r} is not an http(s) URL")
        self.config = config
        self._scale = time_scale
        self._clock = clock
        self._rng = rng or random.Random()
        self._ed_key = self._load_ed25519(config.ed25519_private_key_pem)
        self._rsa_key = self._load_rsa(config) if config.sign_rsa else None
        self._urls = list(dict.fromkeys(config.urls))
        self._loss_rate = config.loss_rate
        self._http = httpx.Client(transport=transport, timeout=config.timeout)
        self._cond = threading.Condition()
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._closed = False
        self._log: OrderedDict[int, Delivery] = OrderedDict()
        self._worker = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
        self._worker.start()

    @staticmethod
    def _load_ed25519(pem: str | None) -> ed25519.Ed25519PrivateKey:
        if pem is None:
            return ed25519.Ed25519PrivateKey.generate()
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError("ed25519_private_key_pem: not an Ed25519 private key")
        return key

    @staticmethod
    def _load_rsa(config: WebhookConfig) -> rsa.RSAPrivateKey:
        if config.rsa_private_key_pem is None:
            return rsa.generate_private_key(public_exponent=65537, key_size=config.rsa_key_bits)
        key = serialization.load_pem_private_key(config.rsa_private_key_pem.encode(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("rsa_private_key_pem: not an RSA private key")
        return key

    def __repr__(self) -> str:
        return f"<WebhookDispatcher urls={len(self._urls)} rsa={self._rsa_key is not None}>"

    # -- keys ---------------------------------------------------------------------------------

    def public_key_pem(self) -> str:
        """The Ed25519 public key (SPKI PEM) that verifies X-GHL-Signature."""
        return (
            self._ed_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def rsa_public_key_pem(self) -> str | None:
        """The RSA public key (SPKI PEM) that verifies X-WH-Signature, when RSA signing is on."""
        if self._rsa_key is None:
            return None
        return (
            self._rsa_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> dict[str, str]:
        """The signature headers for exactly these body bytes."""
        headers = {"X-GHL-Signature": base64.b64encode(self._ed_key.sign(body)).decode()}
        if self._rsa_key is not None:
            signature = self._rsa_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
            headers["X-WH-Signature"] = base64.b64encode(signature).decode()
        return headers

    # -- URLs ---------------------------------------------------------------------------------

    def urls(self) -> list[str]:
        with self._cond:
            return list(self._urls)

    def add_url(self, url: str) -> bool:
        """Register a receiver; False when it was already registered."""
        if not _valid_url(url):
            raise ValueError(f"url: {url!r} is not an http(s) URL")
        with self._cond:
            if url in self._urls:
                return False
            self._urls.append(url)
            return True

    def remove_url(self, url: str) -> bool:
        with self._cond:
            if url not in self._urls:
                return False
            self._urls.remove(url)
            return True

    # -- delivering ---------------------------------------------------------------------------

    def emit(self, event_type: str, location_id: str, data: dict[str, Any]) -> None:
        """Queue `event_type` for every registered URL; returns at once."""
        payload = build_payload(
            event_type,
            location_id,
            data,
            webhook_id=str(uuid.uuid4()),
            timestamp=_iso(self._clock()),
        )
        # Compact, as HighLevel sends it; receivers must verify these exact bytes.
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", **self.sign(body)}
        now = time.monotonic()
        with self._cond:
            if self._closed:
                raise RuntimeError("the webhook dispatcher is closed")
            for url in self._urls:
                delivery = Delivery(payload["webhookId"], event_type, location_id, url)
                key = next(self._seq)
                lost = self._loss_rate > 0 and self._rng.random() < self._loss_rate
                if lost:
                    delivery = replace(delivery, error=LOST, done=True)
                self._log[key] = delivery
                if len(self._log) > _LOG_SIZE:
                    self._log.popitem(last=False)
                if not lost:
                    heapq.heappush(self._heap, _Job(now, key, key, delivery, body, headers))
            self._cond.notify_all()

    def _retry_delay(self) -> float:
        jitter = 1 + self._rng.uniform(-self.config.retry_jitter, self.config.retry_jitter)
        return self.config.retry_interval * self._scale * jitter

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = None if not self._heap else self._heap[0].due - time.monotonic()
                    self._cond.wait(wait)
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
                self._in_flight += 1
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        delivery = job.delivery
        status: int | None = None
        error: str | None = None
        try:
            response = self._http.post(delivery.url, content=job.body, headers=job.headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempts = delivery.attempts + 1
        retry = status == 429 and attempts <= self.config.max_retries
        updated = replace(delivery, status=status, attempts=attempts, error=error, done=not retry)
        with self._cond:
            if job.key in self._log:  # else evicted from the bounded log meanwhile
                self._log[job.key] = updated
            if retry and not self._closed:
                due = time.monotonic() + self._retry_delay()
                heapq.heappush(
                    self._heap, _Job(due, next(self._seq), job.key, updated, job.body, job.headers)
                )

    def set_loss_rate(self, rate: float) -> None:
        if not 0 <= rate <= 1:
            raise ValueError(f"loss_rate: must be between 0 and 1, got {rate!r}")
        with self._cond:
            self._loss_rate = rate

    def deliveries(self) -> list[Delivery]:
        """The delivery log, oldest first (bounded to the newest 10,000)."""
        with self._cond:
            return list(self._log.values())

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued, waiting for a retry or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        """Stop the worker (dropping what is still queued) and close the HTTP client."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=self.config.timeout + 1)
        self._http.close()

    # -- admin --------------------------------------------------------------------------------

    def admin_routes(self) -> list[BaseRoute]:
        """GET/POST/DELETE /_admin/webhooks: receivers, the delivery log and public keys."""

        async def show(request: Request) -> Response:
            return JSONResponse(
                {
                    "urls": self.urls(),
                    "lossRate": self._loss_rate,
                    "deliveries": [d.to_json() for d in self.deliveries()],
                    "publicKeys": {
                        "ed25519": self.public_key_pem(),
                        "rsa": self.rsa_public_key_pem(),
                    },
                }
            )

        async def url_of(request: Request) -> str | Response:
            url = request.query_params.get("url")
            if url is None:
                try:
                    body = json.loads(await request.body() or b"{}")
                except ValueError:
                    return error_response(422, ['body must be JSON like {"url": "http..."}'])
                url = body.get("url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not _valid_url(url):
                return error_response(422, ["url must be an http(s) URL"])
            return url

        async def register(request: Request) -> Response:
            url = await url_of(request)
            if isinstance(url, Response):
                return url
            added = self.add_url(url)
            return JSONResponse({"urls": self.urls()}, status_code=201 if added else 200)

        async def unregister(request: Request) -> Response:
            url = await url_of(request)
            if isinstance(url, Response):
                return url
            if not self.remove_url(url):
                return error_response(404, "url is not registered")
            return JSONResponse({"urls": self.urls()})

        async def loss(request: Request) -> Response:
            try:
                body = json.loads(await request.body() or b"{}")
                rate = float(body["rate"])
                self.set_loss_rate(rate)
            except (ValueError, TypeError, KeyError):
                return error_response(422, ['body must be {"rate": <0 to 1>}'])
            return JSONResponse({"lossRate": rate})

        async def public_key(request: Request) -> Response:
            # Plain PEM, so `export TNHL_HIGHLEVEL_WEBHOOK_KEY="$(curl -s URL)"` just works.
            return PlainTextResponse(self.public_key_pem())

        return [
            Route("/_admin/webhooks/public-key", public_key, methods=["GET"]),
            Route("/_admin/webhooks/loss", loss, methods=["PUT"]),
            Route("/_admin/webhooks", show, methods=["GET"]),
            Route("/_admin/webhooks", register, methods=["POST"]),
            Route("/_admin/webhooks", unregister, methods=["DELETE"]),
        ]
