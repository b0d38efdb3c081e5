"""Helpers for the convergence tests: delivery plans, a concurrent signed sender, the simulator's
state read through its admin API, and the comparison with the hand-written expectation.

Nothing here computes an expectation with tnhl's code: the signer is a few lines of HMAC, the
state is read over HTTP, and the comparison is against the literals of convergence_stream.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from convergence_stream import (
    DELETED,
    EXPECTED,
    Event,
    ExpectedContact,
    ExpectedNote,
    ExpectedTask,
    instant,
)

from tnhl.store._models import FINISHED_STATES

__all__ = [
    "Delivery",
    "SeenContact",
    "SendReport",
    "deliveries",
    "finished",
    "highlevel_state",
    "is_settled",
    "make_secret",
    "orders",
    "send_concurrently",
    "sign",
    "simulate_process",
    "state_problems",
    "wait_for",
]


def make_secret() -> str:
    """A fresh `whsec_` secret (32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers: v1,<base64 HMAC-SHA256(key, f"{id}.{ts}.{body}")>."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
        "content-type": "application/json",
    }


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


# -- orders and deliveries -------------------------------------------------------------------


def orders(events: Sequence[Event], shuffle_seeds: Iterable[int]) -> dict[str, list[Event]]:
    """The named delivery orders: by timestamp, as written, reversed, and seeded shuffles."""
    out = {
        "by_timestamp": sorted(events, key=lambda e: instant(e.timestamp)),
        "as_written": list(events),
        "reversed": list(reversed(events)),
    }
    for seed in shuffle_seeds:
        out[f"shuffle_{seed}"] = random.Random(seed).sample(list(events), len(events))
    return out


@dataclass(frozen=True)
class Delivery:
    webhook_id: str
    body: bytes
    redelivery: bool


def deliveries(events: Sequence[Event], *, seed: int, every: int = 4) -> list[Delivery]:
    """`events` in their order, with every `every`-th one delivered a second time (same
    webhook-id, same body) at a seeded later position."""
    rng = random.Random(seed)
    keyed: list[tuple[float, Delivery]] = []
    for i, e in enumerate(events):
        keyed.append((float(i), Delivery(e.webhook_id, e.body(), False)))
        if i % every == every - 1:
            keyed.append(
                (rng.uniform(i + 0.5, len(events)), Delivery(e.webhook_id, e.body(), True))
            )
    keyed.sort(key=lambda kd: kd[0])
    return [d for _, d in keyed]


# -- the sender ------------------------------------------------------------------------------


@dataclass
class SendReport:
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    refused: list[str] = field(default_factory=list)
    last_answer_at: float = 0.0  # time.monotonic() of the last answer
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def send_concurrently(
    url: str,
    items: Sequence[Delivery],
    secret: str,
    *,
    senders: int = 8,
    give_up_after: float = 30.0,
) -> SendReport:
    """POST `items` from `senders` threads taking them in order, like a sender with a pool.

    Each delivery is signed afresh on every try. 5xx, 429 and connection errors are retried
    with the same webhook-id until `give_up_after` seconds (as the contract asks of senders);
    any other answer than 202 is recorded in `refused`.
    """
    report = SendReport()
    position = iter(range(len(items)))
    take = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=5.0) as http:
            while True:
                with take:
                    i = next(position, None)
                if i is None:
                    return
                _deliver(http, url, items[i], secret, report, give_up_after)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(give_up_after + 30)
    return report


def _deliver(
    http: httpx.Client,
    url: str,
    item: Delivery,
    secret: str,
    report: SendReport,
    give_up_after: float,
) -> None:
    deadline = time.monotonic() + give_up_after
    while True:
        headers = sign(secret, item.webhook_id, int(time.time()), item.body)
        try:
            r = http.post(url, content=item.body, headers=headers)
        except httpx.HTTPError as exc:
            status, text = 0, repr(exc)
        else:
            status, text = r.status_code, r.text
        with report._lock:
            report.last_answer_at = time.monotonic()
            if status == 202:
                if json.loads(text).get("status") == "duplicate":
                    report.duplicates += 1
                else:
                    report.accepted += 1
                return
            if status not in (0, 429) and status < 500:
                report.refused.append(f"{item.webhook_id}: {status} {text[:300]}")
                return
            if time.monotonic() > deadline:
                report.refused.append(f"{item.webhook_id}: gave up, last {status} {text[:300]}")
                return
            report.retries += 1
        time.sleep(0.02)  # the sender's own retry pause, not a test synchronisation


# -- the store's progress --------------------------------------------------------------------


def finished(counts: Mapping[str, int]) -> int:
    return sum(counts.get(s, 0) for s in FINISHED_STATES)


def is_settled(counts: Mapping[str, int], n: int) -> bool:
    """All `n` distinct events stored and finished, none left received/pending/waiting."""
    return finished(counts) >= n and finished(counts) == sum(counts.values())


# -- the simulator's state -------------------------------------------------------------------


@dataclass(frozen=True)
class SeenContact:
    id: str
    first: str | None
    last: str | None
    email: str | None
    phone: str | None
    tasks: tuple[ExpectedTask, ...]
    notes: tuple[ExpectedNote, ...]

    def label(self) -> str:
        return f"{self.id} ({self.first} {self.last}, {self.email})"


def _utc(value: Any) -> str:
    if not isinstance(value, str):
        return repr(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def highlevel_state(sim_base_url: str, location_id: str) -> list[SeenContact]:
    """Every contact of the location with its tasks and notes, from `GET /_admin/state`."""
    r = httpx.get(f"{sim_base_url}/_admin/state", timeout=10)
    r.raise_for_status()
    records = r.json()["locations"].get(location_id, {}).get("records", {})
    tasks: dict[str, list[ExpectedTask]] = {}
    for t in records.get("task", []):
        seen = ExpectedTask(t.get("title"), _utc(t.get("dueDate")), bool(t.get("completed")))
        tasks.setdefault(t.get("contactId"), []).append(seen)
    notes: dict[str, list[ExpectedNote]] = {}
    for n in records.get("note", []):
        notes.setdefault(n.get("contactId"), []).append(
            ExpectedNote(n.get("title") or None, n.get("body"))
        )
    return [
        SeenContact(
            c["id"],
            c.get("firstName"),
            c.get("lastName"),
            c.get("email"),
            c.get("phone"),
            tuple(sorted(tasks.get(c["id"], []), key=repr)),
            tuple(sorted(notes.get(c["id"], []), key=repr)),
        )
        for c in records.get("contact", [])
    ]


def _candidates(seen: list[SeenContact], want: ExpectedContact) -> list[SeenContact]:
    # Match by email, else phone, else name, so a wrong field reads as a wrong field rather
    # than as a missing contact plus an extra one.
    for same in (
        lambda c: c.email == want.email,
        lambda c: want.phone is not None and c.phone == want.phone,
        lambda c: (c.first, c.last) == (want.first, want.last),
    ):
        found = [c for c in seen if same(c)]
        if found:
            return found
    return []


def _diff_children(who: str, kind: str, got: Sequence[Any], want: Sequence[Any]) -> list[str]:
    missing = Counter(want) - Counter(got)
    extra = Counter(got) - Counter(want)
    out = [f"{who}: {kind} missing: {item}" for item in sorted(missing.elements(), key=repr)]
    out += [f"{who}: unexpected {kind}: {item}" for item in sorted(extra.elements(), key=repr)]
    return out


def state_problems(
    seen: list[SeenContact],
    expected: Mapping[str, ExpectedContact] = EXPECTED,
    deleted: Mapping[str, tuple[str, ...]] = DELETED,
) -> list[str]:
    """Every difference between HighLevel's state and the expectation, one line each."""
    problems: list[str] = []
    left = list(seen)
    for tn_id, want in expected.items():
        found = _candidates(left, want)
        if not found:
            problems.append(
                f"{tn_id}: no HighLevel contact ({want.first} {want.last}, {want.email})"
            )
            continue
        if len(found) > 1:
            labels = ", ".join(c.label() for c in found)
            problems.append(f"{tn_id}: {len(found)} HighLevel contacts: {labels}")
        for c in found:
            left.remove(c)
        got = found[0]
        for name in ("first", "last", "email", "phone"):
            if getattr(got, name) != getattr(want, name):
                problems.append(
                    f"{tn_id}: {name} is {getattr(got, name)!r}, expected {getattr(want, name)!r}"
                )
        problems += _diff_children(tn_id, "task", got.tasks, want.tasks)
        problems += _diff_children(tn_id, "note", got.notes, want.notes)
    gone = {email: tn for tn, emails in deleted.items() for email in emails}
    for c in left:
        if c.email in gone:
            problems.append(f"{gone[c.email]} was deleted, but HighLevel still has {c.label()}")
        else:
            problems.append(
                f"unexpected HighLevel contact {c.label()} "
                f"with {len(c.tasks)} tasks, {len(c.notes)} notes"
            )
    return problems


# -- `tnhl run` as a process that can be killed -------------------------------------------------


def tnhl_env(**settings: str) -> dict[str, str]:
    """The environment for a killable `tnhl run`: no TNHL_* of the caller's, short leases
    and timeouts, a tight limit in tnhl (so work is in flight to kill into), then `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TNHL_")}
    env.update(
        TNHL_WORKERS="3",
        TNHL_POLL_INTERVAL="0.02",
        TNHL_SWEEP_INTERVAL="0.2",
        TNHL_LEASE_SECONDS="4",
        TNHL_RETRY_SCALE="0.0001",
        TNHL_RATE_LIMIT_BURST="10",
        TNHL_RATE_LIMIT_INTERVAL="1.0",
        TNHL_HTTP_TIMEOUT="0.5",
        TNHL_LOG_LEVEL="warning",
    )
    env.update(settings)
    return env


class TnhlProcess:
    """`tnhl run --port PORT` in a subprocess with `env`: started, SIGKILLed and restarted."""

    def __init__(self, env: Mapping[str, str]) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._env = dict(env)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-c", "from tnhl.cli import main; main()", "run"]
        self._proc = subprocess.Popen(
            [*cmd, "--port", str(self.port)],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def ready() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=0.5).is_success
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "tnhl run to answer")

    def kill_twice_mid_work(self, counts: Callable[[], Mapping[str, int]], n: int) -> list[Any]:
        """SIGKILL and restart twice, each time once work was settled since the last start
        and before all `n` events were; the counts at each kill."""
        killed_at: list[Any] = []
        done_before = 0
        for k in (1, 2):
            wait_for(lambda b=done_before: finished(counts()) > b, 30, f"progress before kill {k}")
            at = dict(counts())
            assert not is_settled(at, n), f"kill {k} came too late: all settled {at}"
            assert self._proc is not None
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(10)
            killed_at.append(at)
            done_before = finished(at)
            self.start()
        return killed_at

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(15)


@contextmanager
def simulate_process(config: Mapping[str, Any], data_dir: Path) -> Iterator[str]:
    """`tnhl simulate --port 0 --config FILE` as a user runs it, with `config` written as YAML;
    yields the base URL its banner names; stopped with Ctrl-C afterwards."""
    path = data_dir / "simulator.yaml"
    path.write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
    cmd = [sys.executable, "-c", "from tnhl.cli import main; main()", "simulate"]
    proc = subprocess.Popen(
        [*cmd, "--port", "0", "--config", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on http://" in first, f"tnhl simulate did not start: {first!r}"
        yield first.rsplit(" ", 1)[-1].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
