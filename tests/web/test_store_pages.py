"""The pages on the real service: sample calls ingested into a SQLite store,
analysed by the job worker, served by ``antiphon.server.create_app``."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("sqlalchemy")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from fastapi.testclient import TestClient

    from antiphon.config import load_settings
    from antiphon.ingest import ingest_file
    from antiphon.jobs import Worker
    from antiphon.samples import sample_calls
    from antiphon.server.app import create_app
    from antiphon.store import open_store

    data = tmp_path_factory.mktemp("data")
    settings = load_settings(data_dir=data, auth=False)
    store = open_store(settings)
    calls = list(sample_calls())
    for call in calls:
        ingest_file(store, call.audio, conversation=call.conversation)
    Worker(store, name="test").run(until_idle=True)
    app = create_app(settings, store)
    with TestClient(app) as client:
        yield client, store, calls
    store.close()


def test_list_lists_the_ingested_calls(service):
    client, store, calls = service
    body = client.get("/conversations.json").json()
    assert body["total"] == len(calls)
    for row in body["rows"]:
        assert row["status"] == "analyzed", row
        assert row["talk_time"] > 0 and row["agents"]
        assert row["customer_share"] + row["agent_share"] == pytest.approx(100, abs=0.2)
    agent = body["rows"][0]["agents"][0]
    only = client.get("/conversations.json", params={"agent": agent}).json()
    assert only["total"] >= 1 and all(agent in r["agents"] for r in only["rows"])
    by_ct = client.get("/conversations.json?sort=-crosstalk_pct").json()["rows"]
    vals = [r["crosstalk_pct"] for r in by_ct]
    assert vals == sorted(vals, reverse=True)
    html = client.get("/conversations")
    assert html.status_code == 200 and body["rows"][0]["id"] in html.text


def test_conversation_page_has_player_media_and_peaks(service):
    client, store, calls = service
    cid = client.get("/conversations.json").json()["rows"][0]["id"]
    c = client.get(f"/conversations/{cid}.json").json()
    assert c["segments"] and c["segments"][0]["worker"]
    assert c["metrics"] and c["metrics"][0]["name"] == "talk_time"
    url = c["recording"]["media_url"]
    assert url.startswith("/2010-04-01/Accounts/") and url.endswith(".wav")
    media = client.get(url, headers={"Range": "bytes=0-1023"})
    assert media.status_code == 206 and len(media.content) == 1024
    peaks = client.get(c["recording"]["peaks_url"]).json()
    assert peaks["channels"] == 2 and peaks["duration"] == pytest.approx(c["duration"], abs=0.01)
    cached = list((store.data_dir / "peaks").glob("*.peaks.json"))
    assert len(cached) == 1  # computed once, kept in the data directory
    assert client.get(c["recording"]["peaks_url"]).json() == peaks
    other = client.get(f"/conversations/{cid}/peaks.json?recording=RE{'f' * 32}")
    assert other.status_code == 404 and other.json()["errors"][0]["path"] == "recording"
    page = client.get(f"/conversations/{cid}")
    assert page.status_code == 200 and 'id="waveform"' in page.text and url in page.text


def test_reports_from_the_store(service):
    client, store, calls = service
    r = client.get("/reports.json?group_by=agent").json()
    assert r["rows"] and sum(x["calls"] for x in r["rows"]) >= len(calls)
    for x in r["rows"]:
        assert x["customer_share"] + x["agent_share"] == pytest.approx(100, abs=0.2)
    day = client.get("/reports.csv?group_by=day")
    rows = list(csv.DictReader(io.StringIO(day.text)))
    assert rows and sum(int(x["calls"]) for x in rows) == len(calls)
    assert client.get("/reports?group_by=queue").status_code == 200


@pytest.mark.browser
def test_player_on_the_service_behind_basic_auth(browser, tmp_path_factory):
    """API-key Basic auth on: the page, peaks and audio all load through the browser's session."""
    from antiphon.config import load_settings
    from antiphon.ingest import ingest_file
    from antiphon.jobs import Worker
    from antiphon.samples import sample_calls
    from antiphon.server.app import create_app
    from antiphon.store import open_store

    from .conftest import LiveServer, shot

    data = tmp_path_factory.mktemp("authdata")
    settings = load_settings(data_dir=data, auth=True)
    store = open_store(settings)
    call = list(sample_calls())[0]
    ingest_file(store, call.audio, conversation=call.conversation)
    Worker(store, name="test").run(until_idle=True)
    key = store.create_key("reviewer")
    with LiveServer(create_app(settings, store)) as srv:
        anon = browser.new_context()
        resp = anon.request.get(srv.url + "/conversations")
        assert resp.status == 401 and resp.headers["www-authenticate"].lower().startswith("basic")
        anon.close()
        ctx = browser.new_context(http_credentials={"username": key["id"], "password": key["secret"]},
                                  viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        seen = []
        page.on("request", lambda r: seen.append(r.url))
        page.goto(srv.url + "/conversations")
        page.locator("#conversations tbody tr a").first.click()
        page.wait_for_selector("#player[data-ready='1']", timeout=20000)
        page.click("#play")
        page.wait_for_function("antiphon.audio.currentTime > 0.5", timeout=10000)
        page.click("label[for=solo-agent]")
        assert page.evaluate("antiphon.gains()") == [0, 0, 1, 1]
        assert any("/Recordings/" in u for u in seen)
        assert not any(key["secret"] in u or "@" in u.split("//", 1)[1] for u in seen)
        shot(page, "service-conversation")
        ctx.close()
    store.close()
