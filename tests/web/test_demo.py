"""The demo command stores the bundled sample calls and shows them in the web pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from antiphon.config import load_settings
from antiphon.demo import DemoOptions, run_demo
from antiphon.samples import sample_calls
from antiphon.server import create_app
from antiphon.store import open_store


def test_demo_stores_the_sample_calls_and_serves_their_pages(tmp_path, monkeypatch):
    for var in ("ANTIPHON_DATABASE_URL", "ANTIPHON_CONFIG", "ANTIPHON_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    lines = []
    opts = DemoOptions(data_dir=tmp_path / "demo")
    results = run_demo(echo=lines.append, options=opts)
    assert len(results) == len(sample_calls()) == 2
    run_demo(echo=lines.append, options=opts)  # again: nothing is stored twice
    text = "\n".join(lines)
    assert "customer_talk_time" in text and f"Stored 2 calls in {opts.data_dir}" in text

    settings = load_settings(data_dir=str(opts.data_dir), auth=False)
    with open_store(settings) as store, TestClient(create_app(store=store)) as client:
        listing = client.get("/conversations.json").json()
        assert listing["total"] == 2
        workers = sorted(a for row in listing["rows"] for a in row["agents"])
        assert workers == ["alice", "bob"]
        for row in listing["rows"]:
            assert row["status"] == "analyzed"
            page = client.get(row["url"])
            assert page.status_code == 200 and "Customer" in page.text
            data = client.get(row["url"] + ".json").json()
            # the stored analysis is the one the demo printed
            printed = next(r for r in results if r["recording"]["duration"] == data["duration"])
            shown = {m["name"]: m["value"] for m in data["metrics"]}
            assert abs(shown["customer_talk_time"] - printed["metrics"]["customer_talk_time"]) < 0.01


def test_demo_without_store_only_prints(tmp_path):
    lines = []
    run_demo(echo=lines.append, options=DemoOptions(data_dir=tmp_path / "d", store=False))
    assert not (tmp_path / "d").exists()
    assert "talk_time" in "\n".join(lines)
