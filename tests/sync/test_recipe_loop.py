"""A recipe that feeds itself (issue 10's open end): its action changes a contact's tags in
HighLevel, HighLevel's ContactTagUpdate webhook triggers it again, and so on. Through the
whole service and the simulator, which really sends the webhooks, signed, over loopback."""

from __future__ import annotations

import sys
from pathlib import Path

from tnhl.simulator import running_simulator
from tnhl.store import InboxRow, SqlStore
from tnhl.talknotes import generate_secret

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_harness import running_service, settings_for, talknotes_sender, wait_for

LOOPING = """\
recipes:
  tag-every-tag-change:
    trigger: highlevel.ContactTagUpdate
    actions:
      - highlevel.add-tags:
          params: {contactId: "{{ contact.highlevel_id }}"}
          body: {tags: ["seen-{{ event.id }}"]}
"""
LIMIT = 5
CONTACT = {
    "type": "contact.created",
    "timestamp": "2026-12-07T10:00:00Z",
    "data": {"id": "c1", "email": "loop@example.com", "full_name": "Lu Pe"},
}


def _firings(store: SqlStore) -> list[InboxRow]:
    rows = store.list_events(source="recipe", limit=1000)
    return [r for r in rows if r.event_id.startswith("recipe:tag-every-tag-change:")]


def test_a_recipe_feeding_itself_stops_at_the_loop_limit(tmp_path: Path) -> None:
    """One tag added in HighLevel starts the loop: the recipe fires exactly `recipe_loop_limit`
    (5) times for the contact, then the next ContactTagUpdate (the 5th action's) is read and
    fires nothing: HighLevel holds the user's tag and 5 recipe tags."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(LOOPING)
    secret = generate_secret()
    with running_simulator() as sim:
        settings = settings_for(
            sim, tmp_path, secret, mapping_file=mapping, outbound_delay=0.1,
            highlevel_webhook_key=sim.parts.webhooks.public_key_pem(),
            recipe_loop_limit=LIMIT, reconcile_interval=0, profile_interval=0,
        )  # fmt: skip
        with running_service(settings) as (service, base), sim.client() as hl:
            store, loc = service.store, sim.location_id
            talknotes_sender(base, secret)([CONTACT])
            wait_for(lambda: store.get_highlevel_id(loc, "contact", "c1") is not None, 20, "c1")
            contact = store.get_highlevel_id(loc, "contact", "c1")
            hook = hl.post("/_admin/webhooks", json={"url": f"{base}/webhooks/highlevel"})
            assert hook.status_code == 201, hook.text
            added = hl.post(f"/contacts/{contact}/tags", json={"tags": ["vip"]})
            assert added.status_code == 201, added.text

            def tag_updates() -> list[int]:
                rows = store.list_events(source="highlevel", limit=1000)
                return [r.id for r in rows if r.event_type == "ContactTagUpdate"]

            def quiet() -> bool:
                """The user's change and the 5 recipe tags' webhooks are in, and the recipe
                engine has read past the last of them."""
                ids = tag_updates()
                cursor = store.get_cursor(f"recipes:{loc}")
                return len(ids) == 1 + LIMIT and cursor is not None and int(cursor) >= max(ids)

            wait_for(quiet, 60, "the loop to be cut")
            assert len(_firings(store)) == LIMIT
            wait_for(lambda: {r.state for r in _firings(store)} == {"done"}, 20, "all ran")
            tags = (hl.get(f"/contacts/{contact}").json())["contact"]["tags"]
    assert tags[0] == "vip"
    assert len(tags) == 1 + LIMIT
    assert all(t.startswith("seen-") for t in tags[1:])
