"""`tnhl demo`: the whole sync on this machine, no accounts needed.

It starts the built-in HighLevel simulator, the tnhl service (intake + workers, SQLite in a
temporary directory) and a generator of realistic signed TalkNotes events (people, to-dos with
due dates and priorities, notes), shows progress, and ends with a table of what arrived in
HighLevel, read from the simulator's admin state.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["demo_events", "register", "run_demo"]


VOICE_NOTE = "Call {name} back Friday at 3pm about the quote. The contract was signed today."


def demo_events(n: int, seed: int) -> list[dict[str, Any]]:
    """The generator's stream for a demo (distinct people, no external_id: its default), then
    a voice note about its first person that states a follow-up and a milestone (issue 10):
    a task and a milestone note are born from its text."""
    from datetime import UTC, datetime

    from tnhl.talknotes import generate

    stream = generate(n, seed=seed, n_people=max(3, n // 8))
    first = next(e["data"] for e in stream if e["type"] == "contact.created")
    name = str(first.get("full_name") or "them").split()[0]
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    voice = {
        "id": "voice-note-1",
        "contactId": first["id"],
        "noteContent": VOICE_NOTE.format(name=name),
    }
    return [*stream, {"type": "note.created", "timestamp": now, "data": voice}]


def _summary_table(state: dict[str, Any], location_id: str) -> Any:
    from rich.markup import escape
    from rich.table import Table

    records = state["locations"].get(location_id, {}).get("records", {})
    tasks: dict[str, list[dict[str, Any]]] = {}
    notes: dict[str, list[dict[str, Any]]] = {}
    for t in records.get("task", []):
        tasks.setdefault(t.get("contactId", ""), []).append(t)
    for n in records.get("note", []):
        notes.setdefault(n.get("contactId", ""), []).append(n)
    table = Table(title="What arrived in HighLevel", show_lines=True)
    table.add_column("contact")
    table.add_column("email / phone")
    table.add_column("tasks (due, UTC)")
    table.add_column("notes")
    for c in sorted(records.get("contact", []), key=lambda c: c.get("dateAdded", "")):
        name = " ".join(p for p in (c.get("firstName"), c.get("lastName")) if p) or "?"
        reach = "\n".join(p for p in (c.get("email"), c.get("phone")) if p)
        task_lines = [
            f"{'[x]' if t.get('completed') else '[ ]'} {t.get('title', '')} "
            f"({str(t.get('dueDate', ''))[:16].replace('T', ' ')})"
            for t in tasks.get(c["id"], [])
        ]
        note_lines = [
            (f"{n['title']}: " if n.get("title") else "") + str(n.get("body", ""))[:60]
            for n in notes.get(c["id"], [])
        ]
        cells = (name, reach, "\n".join(task_lines), "\n".join(note_lines))
        table.add_row(*(escape(cell) for cell in cells))
    return table


def run_demo(events: int, seed: int, rate: float, data_dir: Path | None, timeout: float) -> int:
    """Run the demo; returns the process exit code (0 when every event was applied)."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tnhl.cli._run import service_or_exit, settings_or_exit
    from tnhl.simulator import running_simulator, serve_in_thread
    from tnhl.sync import configure_logging
    from tnhl.talknotes import generate_secret, signed_requests

    console = Console()
    configure_logging(level="warning")
    stream = demo_events(events, seed)
    secret = generate_secret()
    with tempfile.TemporaryDirectory(prefix="tnhl-demo-") as tmp:
        folder = data_dir or Path(tmp)
        with running_simulator() as sim:
            console.print(f"[bold]HighLevel simulator[/bold] at {sim.base_url}")
            settings = settings_or_exit(
                None,
                highlevel_base_url=sim.base_url,
                highlevel_token=sim.token,
                location_id=sim.location_id,
                talknotes_secret=secret,
                data_dir=folder,
                database_url=f"sqlite:///{(folder / 'tnhl.db').as_posix()}",
                workers=3,
                poll_interval=0.05,
                sweep_interval=1.0,
            )
            service = service_or_exit(settings)
            service.start()
            try:
                with serve_in_thread(service.app) as base, httpx.Client(base_url=base) as http:
                    console.print(f"[bold]tnhl[/bold] intake at {base}/webhooks/talknotes")
                    requests = signed_requests(stream, secret, timestamp=int(time.time()))
                    with Progress(
                        TextColumn("{task.description:<28}"),
                        BarColumn(),
                        MofNCompleteColumn(),
                        console=console,
                    ) as progress:
                        sent = progress.add_task("TalkNotes events sent", total=len(requests))
                        applied = progress.add_task("applied in HighLevel", total=len(requests))

                        def refresh() -> int:
                            """Events settled (those born from notes too), once none is left."""
                            c = service.store.stats().counts
                            n = c.get("done", 0) + c.get("skipped", 0) + c.get("dead", 0)
                            progress.update(applied, completed=min(n, len(requests)))
                            busy = c.get("received", 0) + c.get("pending", 0)
                            return n if busy == 0 else min(n, len(requests) - 1)

                        for headers, body in requests:
                            r = http.post("/webhooks/talknotes", content=body, headers=headers)
                            if r.status_code != 202:
                                console.print(f"[red]intake answered {r.status_code}: {r.text}")
                                return 1
                            progress.advance(sent)
                            refresh()
                            time.sleep(1.0 / rate)  # a realistic trickle, not a synchronisation
                        deadline = time.monotonic() + timeout
                        while refresh() < len(requests) and time.monotonic() < deadline:
                            time.sleep(0.1)
                    state = http.get(f"{sim.base_url}/_admin/state").json()
                    calls = sim.log.total()
            finally:
                service.stop()
            console.print(_summary_table(state, sim.location_id))
            counts = state["locations"].get(sim.location_id, {}).get("counts", {})
            console.print(
                f"{len(stream)} TalkNotes events -> {counts.get('contact', 0)} contacts, "
                f"{counts.get('task', 0)} tasks, {counts.get('note', 0)} notes in HighLevel, "
                f"with {calls} HighLevel API calls."
            )
            born = _born_from_notes(state, sim.location_id)
            if born:
                console.print("From the voice note's text: " + "; ".join(born))
            store_counts = _store_counts(folder)
            dead = store_counts.get("dead", 0)
            if dead:
                console.print(f"[yellow]{dead} events are in the dead-letter queue.[/yellow]")
            return 0 if dead == 0 else 1


def _born_from_notes(state: dict[str, Any], location_id: str) -> list[str]:
    """The follow-up tasks and milestone notes tnhl made from note text (their descriptions and
    titles say so)."""
    records = state["locations"].get(location_id, {}).get("records", {})
    out = [
        f'task "{t.get("title")}" due {str(t.get("dueDate", ""))[:16].replace("T", " ")} UTC'
        for t in records.get("task", [])
        if str(t.get("body") or "").startswith("From a note:")
    ]
    out += [
        f'note "{n.get("title")}"'
        for n in records.get("note", [])
        if str(n.get("title") or "").startswith("Milestone:")
    ]
    return out


def _store_counts(folder: Path) -> dict[str, int]:
    from tnhl.store import open_store

    store = open_store(f"sqlite:///{(folder / 'tnhl.db').as_posix()}")
    try:
        return dict(store.stats().counts)
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        events: Annotated[int, typer.Option("--events", min=1, help="How many events.")] = 60,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the event generator.")] = 7,
        rate: Annotated[
            float, typer.Option("--rate", min=0.1, help="Events sent per second.")
        ] = 8.0,
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="Keep the store here (default: temp).")
        ] = None,
        timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 60.0,
    ) -> None:
        """Try tnhl with no accounts: simulator + service + generated TalkNotes events."""
        raise typer.Exit(run_demo(events, seed, rate, data_dir, timeout))
