"""A rules file set in the service: categories are stored and filterable."""

from __future__ import annotations

from antiphon.ingest import ingest_file
from antiphon.store import open_store

from .conftest import run_jobs

RULES = """
[[category]]
name = "Some silence"
  [[category.rule]]
  type = "silence"
  min_seconds = 1

[[category]]
name = "Endless silence"
  [[category.rule]]
  type = "silence"
  min_seconds = 3600
"""


def test_matched_categories_are_stored_and_filterable(make_settings, harper, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    store = open_store(make_settings(rules=str(rules)))
    try:
        out = ingest_file(store, harper[0])
        run_jobs(store)
        conv = store.get_conversation(out["conversation"])
        assert conv["categories"] == ["Some silence"]
        assert conv["recordings"][0]["analysis"]["categories"] == ["Some silence"]
        assert store.list_conversations({"category": "Some silence"})["total"] == 1
        assert store.list_conversations({"category": "Endless silence"})["total"] == 0
    finally:
        store.close()
