"""The official twilio package as a REST client of a live server on 127.0.0.1."""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import ACCOUNT_SID, free_port, run_jobs

twilio = pytest.importorskip("twilio", reason="the twilio package is a test dependency")


@pytest.fixture
def live_server(store, harper):
    import uvicorn

    from antiphon.ingest import ingest_file
    from antiphon.server import create_app

    for i, f in enumerate(harper[:3], start=1):
        attrs = {"call_sid": f"CA{i:032x}", "conversations": {"media": [{
            "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{i:032x}",
            "type": "VoiceRecording", "start_time": f"2026-11-02T1{i}:00:00Z", "channels": ["customer", "others"]}]}}
        ingest_file(store, f, task=attrs)
    run_jobs(store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store=store), host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert t.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(timeout=10)


@pytest.fixture
def twilio_client(live_server, api_key):
    from twilio.rest import Client

    c = Client(api_key["id"], api_key["secret"], ACCOUNT_SID)
    c.api.base_url = live_server  # point the 2010-04-01 API at this server
    return c


def test_fetch_a_recording_resource(twilio_client):
    rec = twilio_client.recordings(f"RE{1:032x}").fetch()
    assert rec.sid == f"RE{1:032x}" and rec.call_sid == f"CA{1:032x}"
    assert rec.channels == 2 and rec.status == "completed" and int(rec.duration) > 40
    assert rec.start_time.year == 2026 and rec.start_time.hour == 11


def test_list_recordings_across_pages(twilio_client):
    got = twilio_client.recordings.list(page_size=2)
    assert sorted(r.sid for r in got) == sorted(f"RE{i:032x}" for i in (1, 2, 3))
    page = twilio_client.recordings.page(page_size=2)
    assert len(list(page)) == 2 and page.next_page() is not None
    only = twilio_client.recordings.list(call_sid=f"CA{2:032x}")
    assert [r.sid for r in only] == [f"RE{2:032x}"]


def test_download_media_with_the_clients_credentials(twilio_client, live_server, api_key, harper):
    rec = twilio_client.recordings(f"RE{1:032x}").fetch()
    url = f"{live_server}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{rec.sid}.wav"
    res = twilio_client.http_client.request("GET", url, auth=(api_key["id"], api_key["secret"]))
    assert res.status_code == 200
    import httpx

    r = httpx.get(url, auth=(api_key["id"], api_key["secret"]))
    assert r.content == harper[0].read_bytes()
    r = httpx.get(url, auth=(api_key["id"], api_key["secret"]), headers={"Range": "bytes=0-43"})
    assert r.status_code == 206 and r.content == harper[0].read_bytes()[:44]


def test_bad_credentials_and_missing_recordings_raise_twilio_errors(live_server, twilio_client):
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    bad = Client("AKnobody", "wrong", ACCOUNT_SID)
    bad.api.base_url = live_server
    with pytest.raises(TwilioRestException) as e:
        bad.recordings(f"RE{1:032x}").fetch()
    assert e.value.status == 401
    with pytest.raises(TwilioRestException) as e:
        twilio_client.recordings(f"RE{9:032x}").fetch()
    assert e.value.status == 404 and "not found" in e.value.msg
