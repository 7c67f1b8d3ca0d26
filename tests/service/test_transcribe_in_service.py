"""ANTIPHON_TRANSCRIBE=on: the worker transcribes, rules see the transcript, the player shows it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from antiphon.ingest import ingest_file
from antiphon.samples import sample_calls
from antiphon.server import create_app
from antiphon.store import open_store

from .conftest import run_jobs

RULES = """
keywords = ["debit card"]

[[category]]
name = "Lost card"
  [[category.rule]]
  type = "phrase"
  party = "customer"
  phrases = ["lost my debit card", "lost my card"]

[[category]]
name = "Mortgage"
  [[category.rule]]
  type = "phrase"
  phrases = ["mortgage"]
"""


def test_worker_transcribes_and_the_player_shows_words(make_settings, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    call = sample_calls()[0]  # a customer who lost a debit card
    store = open_store(make_settings(transcribe=True, rules=str(rules), auth=False))
    try:
        out = ingest_file(store, call.audio, conversation=call.conversation)
        run_jobs(store)
        assert store.get_recording(out["recording"])["status"] == "analyzed"
        assert store.list_conversations({"category": "Lost card"})["total"] == 1
        assert store.list_conversations({"category": "Mortgage"})["total"] == 0
        with TestClient(create_app(store=store)) as client:
            page = client.get(f"/conversations/{out['conversation']}.json").json()
        player = page["player"]
        parties = {t["party"] for t in player["turns"]}
        assert parties == {"customer", "agent"}
        words = [w for t in player["turns"] for w in t["words"]]
        assert len(words) > 40 and all(w["end"] >= w["start"] for w in words)
        assert page["categories"] == ["Lost card"]
        # the category's phrase is marked where the customer said it, labelled with the category
        lost = [m for m in player["markers"] if m["category"] == "Lost card"]
        assert [(m["label"], m["party"]) for m in lost] == [("lost my debit card", "customer")]
        hits = [m for m in player["markers"] if m["category"] is None]
        assert len(hits) >= 2 and {m["label"] for m in hits} == {"debit card"}
        assert {m["party"] for m in hits} >= {"customer"}
    finally:
        store.close()
