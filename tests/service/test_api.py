"""JSON API, uploads, errors, auth, media ranges and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import ACCOUNT_SID, run_jobs

REC = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings"


def upload(client, path: Path, attrs: dict | None = None, **extra):
    data = {"task_attributes": json.dumps(attrs)} if attrs is not None else {}
    data.update(extra)
    with open(path, "rb") as f:
        return client.post("/api/recordings", files={"file": (path.name, f, "audio/wav")}, data=data)


def attrs_for(i: int, queue: str, worker: str, day: int = 2) -> dict:
    return {"call_sid": f"CA{i:032x}", "worker": worker, "conversations": {
        "conversation_id": f"WT{i:032x}", "queue": queue, "direction": "inbound",
        "media": [{"url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{i:032x}",
                   "type": "VoiceRecording", "start_time": f"2026-11-{day:02d}T1{i}:00:00Z",
                   "channels": ["customer", "others"]}]}}


@pytest.fixture
def loaded(client, store, harper):
    """Three analysed calls: two in Billing (alice, bob) on Nov 2, one in Support (alice) on Nov 3."""
    plan = [(1, "Billing", "alice", 2), (2, "Billing", "bob", 2), (3, "Support", "alice", 3)]
    for (i, q, w, d), f in zip(plan, harper):
        r = upload(client, f, attrs_for(i, q, w, d))
        assert r.status_code == 202, r.text
    run_jobs(store)
    return plan


def test_upload_is_analysed_and_shown(client, store, harper):
    r = upload(client, harper[0], attrs_for(1, "Billing", "alice"))
    body = r.json()
    assert r.status_code == 202 and body["recording"] == f"RE{1:032x}" and body["problems"] == []
    assert body["job"] is not None
    run_jobs(store)
    conv = client.get(f"/api/conversations/{body['conversation']}").json()["conversation"]
    assert conv["status"] == "analyzed"
    assert set(conv["speech"]) == {"customer", "agent"} and conv["speech"]["agent"]
    for k in ("talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time",
              "longest_silence_before_agent", "longest_silence_before_customer", "longest_talk_by_agent",
              "longest_talk_by_customer"):
        assert isinstance(conv["metrics"][k], (int, float)), k
    seg = conv["segments"][0]
    assert seg["worker"] == "alice" and seg["segment_recording_offset"] == 0.0 and seg["metrics"]["talk_time"] > 0
    assert conv["recordings"][0]["analysis"]["metrics"]["talk_time"] == conv["metrics"]["talk_time"]
    # uploading the same file again is a no-op
    again = upload(client, harper[0], attrs_for(1, "Billing", "alice")).json()
    assert again["recording"] == body["recording"]
    run_jobs(store)
    assert store.counts()["analyses"] == 1


def test_upload_without_metadata(client, store, harper):
    body = upload(client, harper[1]).json()
    sha = body["sha256"]
    assert body["recording"] == "RE" + sha[:32]
    run_jobs(store)
    conv = client.get(f"/api/conversations/{body['conversation']}").json()["conversation"]
    assert conv["status"] == "analyzed" and conv["segments"][0]["metrics"]["duration"] == pytest.approx(
        conv["metrics"]["duration"], abs=0.01)


def test_upload_with_broken_attributes_keeps_recording_and_problems(client, store, harper, flex_dir):
    attrs = json.loads((flex_dir / "invalid" / "wrong_type.json").read_text())
    r = upload(client, harper[0], attrs)
    assert r.status_code == 202
    assert r.json()["problems"][0]["path"] == "media[0].type"
    conv = client.get(f"/api/conversations/{r.json()['conversation']}").json()["conversation"]
    assert conv["problems"][0]["path"] == "media[0].type"


def test_upload_errors_have_one_shape(client, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("hello")
    r = upload(client, bad)
    assert r.status_code == 422 and r.json()["ok"] is False and r.json()["status"] == 422
    assert str(tmp_path) not in r.text and "/data/tmp" not in r.text
    r = client.post("/api/recordings", data={"task_attributes": "{}"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "file"
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    assert upload(client, empty).status_code == 422


def test_mono_upload_is_refused_clearly(client, tmp_path, wav_writer):
    import numpy as np

    path = wav_writer("mono.wav", np.zeros(8000))
    r = upload(client, path)
    assert r.status_code == 422 and "mono" in r.json()["error"]


def test_list_filters_pagination_and_total(client, loaded):
    all_ = client.get("/api/conversations").json()
    assert all_["total"] == 3 and len(all_["conversations"]) == 3
    starts = [c["started_at"] for c in all_["conversations"]]
    assert starts == sorted(starts, reverse=True)
    assert client.get("/api/conversations", params={"agent": "alice"}).json()["total"] == 2
    assert client.get("/api/conversations", params={"queue": "Billing"}).json()["total"] == 2
    assert client.get("/api/conversations", params={"from": "2026-11-03"}).json()["total"] == 1
    assert client.get("/api/conversations", params={"to": "2026-11-02"}).json()["total"] == 2
    assert client.get("/api/conversations", params={"agent": "alice", "queue": "Billing"}).json()["total"] == 1
    # cursor pagination walks every row once
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/conversations", params=params).json()
        assert page["total"] == 3
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c["id"] for c in all_["conversations"]]
    p2 = client.get("/api/conversations", params={"limit": 2, "page": 2}).json()
    assert [c["id"] for c in p2["conversations"]] == seen[2:]
    by_talk = client.get("/api/conversations", params={"sort": "-talk_time"}).json()["conversations"]
    talks = [c["metrics"]["talk_time"] for c in by_talk]
    assert talks == sorted(talks, reverse=True)


def test_category_filter(client, store, loaded):
    from antiphon.store.models import Category

    with store.session(write=True) as s:
        s.add(Category(conversation_id=f"WT{1:032x}", recording_sid=f"RE{1:032x}", name="escalation"))
    got = client.get("/api/conversations", params={"category": "escalation"}).json()
    assert [c["id"] for c in got["conversations"]] == [f"WT{1:032x}"]
    assert got["conversations"][0]["categories"] == ["escalation"]


def test_bad_query_parameters_name_the_field(client):
    r = client.get("/api/conversations", params={"from": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "from"
    r = client.get("/api/conversations", params={"limit": "0"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "limit"
    r = client.get("/api/conversations", params={"cursor": "garbage!"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "cursor"
    r = client.get("/api/conversations", params={"sort": "colour"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "sort"
    r = client.get("/api/conversations", params={"from": "soon", "limit": "-1", "sort": "x"})
    assert sorted(e["path"] for e in r.json()["errors"]) == ["from", "limit", "sort"]
    r = client.get("/api/jobs", params={"limit": "many"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "limit"


def test_not_found_and_method_not_allowed_use_the_error_shape(client):
    for r, status in [(client.get("/api/conversations/nope"), 404), (client.get("/api/no-such-thing"), 404),
                      (client.put("/api/conversations"), 405), (client.get("/api/jobs/999"), 404),
                      (client.get(f"{REC}/RE{'0' * 32}.json"), 404)]:
        body = r.json()
        assert r.status_code == status and body["ok"] is False and body["status"] == status
        assert isinstance(body["error"], str) and isinstance(body["errors"], list)


def test_internal_errors_use_the_error_shape_without_details(client, store, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret detail /etc/shadow")

    monkeypatch.setattr(store, "list_jobs", boom)
    r = client.get("/api/jobs")
    assert r.status_code == 500 and r.json() == {"ok": False, "error": r.json()["error"], "errors": [], "status": 500}
    assert "secret detail" not in r.text


def test_auth_is_required_by_default_and_revocation_works(client, store, api_key, loaded):
    for path in ("/api/conversations", "/api/reports?group_by=agent", f"{REC}.json", f"{REC}/RE{1:032x}.wav"):
        r = client.get(path, auth=None)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), path
        assert r.json()["ok"] is False
        assert client.get(path, auth=(api_key["id"], "wrong")).status_code == 401
        assert client.get(path).status_code == 200, path
    assert client.get("/healthz", auth=None).status_code == 200
    assert client.get("/openapi.json", auth=None).status_code == 200
    store.revoke_key(api_key["id"])
    assert client.get("/api/conversations").status_code == 401


def test_web_pages_are_mounted_and_protected(client, loaded):
    pytest.importorskip("antiphon.web.storesource", reason="the web pages are not installed")
    for path in ("/", "/conversations", f"/conversations/WT{1:032x}", "/reports?group_by=agent"):
        assert client.get(path, auth=None).status_code == 401, path
        assert client.get(path).status_code == 200, path
    rows = client.get("/conversations.json").json()
    assert rows["total"] == 3


def test_auth_off(make_settings, harper):
    from fastapi.testclient import TestClient

    from antiphon.server import create_app
    from antiphon.store import open_store

    st = open_store(make_settings(auth=False))
    try:
        c = TestClient(create_app(store=st))
        assert c.get("/api/conversations").status_code == 200
    finally:
        st.close()


def test_openapi_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/twilio/taskrouter", "/twilio/recording-status", "/api/recordings", "/api/conversations",
              "/api/conversations/{conversation_id}", "/api/reports", "/api/jobs",
              "/2010-04-01/Accounts/{account_sid}/Recordings.json",
              "/2010-04-01/Accounts/{account_sid}/Recordings/{name}"):
        assert p in paths, p


def test_reports_per_agent_queue_and_day(client, loaded):
    agents = {r["key"]: r for r in client.get("/api/reports", params={"group_by": "agent"}).json()["rows"]}
    assert set(agents) == {"alice", "bob"} and agents["alice"]["calls"] == 2 and agents["bob"]["calls"] == 1
    a = agents["alice"]
    assert a["customer_share_pct"] + a["agent_share_pct"] == pytest.approx(100, abs=0.02)
    assert 0 <= a["crosstalk_pct"] < 100 and 0 < a["silence_pct"] < 100
    assert a["avg_talk_time"] == pytest.approx(a["talk_time"] / 2, abs=0.01)
    for k in ("interruptions_by_customer", "interruptions_by_agent", "long_silences"):
        assert isinstance(a[k], int)
    queues = {r["key"]: r["calls"] for r in client.get("/api/reports", params={"group_by": "queue"}).json()["rows"]}
    assert queues == {"Billing": 2, "Support": 1}
    days = client.get("/api/reports", params={"group_by": "day"}).json()["rows"]
    assert [(d["key"], d["calls"]) for d in days] == [("2026-11-02", 2), ("2026-11-03", 1)]
    only = client.get("/api/reports", params={"group_by": "day", "from": "2026-11-03", "to": "2026-11-03"}).json()
    assert [d["key"] for d in only["rows"]] == ["2026-11-03"]
    total = sum(d["talk_time"] for d in days)
    assert total == pytest.approx(sum(r["talk_time"] for r in agents.values()), abs=0.01)


def test_media_ranges_and_formats(client, loaded, harper):
    url = f"{REC}/RE{1:032x}"
    full = client.get(url)
    assert full.status_code == 200 and full.content == harper[0].read_bytes()
    assert full.headers["accept-ranges"] == "bytes"
    part = client.get(url + ".wav", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == harper[0].read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == full.content[-10:]
    bad = client.get(url, headers={"Range": f"bytes={len(full.content)}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{len(full.content)}"
    assert bad.json()["ok"] is False
    head = client.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(full.content)
    mp3 = client.get(url + ".mp3")
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg" and len(mp3.content) > 1000
    assert mp3.content[:3] == b"ID3" or mp3.content[0] == 0xFF
    assert client.get(url + ".ogg").status_code == 404


def test_no_path_traversal_and_no_other_accounts(client, loaded):
    for path in ["..%2F..%2Fantiphon.db", "..", "%2e%2e", "RE1%2F..%2F..%2Fetc%2Fpasswd", "....%2F%2F",
                 "..%2F..%2F..%2F..%2Fetc%2Fpasswd.wav", f"RE{1:032x}%00.wav"]:
        r = client.get(f"{REC}/{path}")
        assert r.status_code in (404, 422), path
        assert b"SQLite" not in r.content and b"root:" not in r.content
    r = client.get(f"/2010-04-01/Accounts/..%2F..%2F/Recordings/RE{1:032x}.wav")
    assert r.status_code == 404
    assert client.get(f"/2010-04-01/Accounts/AC{'f' * 32}/Recordings/RE{1:032x}.json").status_code == 404


def test_recording_json_has_twilios_shape(client, loaded, flex_dir):
    ref = json.loads((flex_dir / "recording_resource.json").read_text())
    got = client.get(f"{REC}/RE{1:032x}.json").json()
    assert set(got) == set(ref)
    assert got["sid"] == f"RE{1:032x}" and got["channels"] == 2 and got["status"] == "completed"
    assert got["media_url"].endswith(f"{REC}/RE{1:032x}") and got["uri"] == f"{REC}/RE{1:032x}.json"
    assert got["start_time"].endswith("+0000") and int(got["duration"]) > 40


def test_recordings_list_paging(client, loaded):
    p0 = client.get(f"{REC}.json", params={"PageSize": 2}).json()
    assert set(p0) == {"end", "first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size",
                       "recordings", "start", "uri"}
    assert len(p0["recordings"]) == 2 and p0["start"] == 0 and p0["end"] == 1 and p0["previous_page_uri"] is None
    p1 = client.get(p0["next_page_uri"]).json()
    assert len(p1["recordings"]) == 1 and p1["next_page_uri"] is None and p1["page"] == 1
    sids = [r["sid"] for r in p0["recordings"] + p1["recordings"]]
    assert sorted(sids) == sorted(f"RE{i:032x}" for i in (1, 2, 3))
    one = client.get(f"{REC}.json", params={"CallSid": f"CA{2:032x}"}).json()
    assert [r["sid"] for r in one["recordings"]] == [f"RE{2:032x}"]


def test_jobs_endpoint_and_retry(client, store, loaded):
    jobs = client.get("/api/jobs").json()
    assert jobs["total"] >= 3 and jobs["counts"].get("done", 0) >= 3
    jid = jobs["jobs"][-1]["id"]
    r = client.post(f"/api/jobs/{jid}/retry")
    assert r.status_code == 200 and r.json()["job"]["state"] == "queued"
    run_jobs(store)
    assert store.counts()["analyses"] == 3


def test_status_hides_secrets(client):
    body = client.get("/api/status").json()
    assert body["settings"]["twilio_auth_token"] == "(set)"
    assert "test-auth-token" not in json.dumps(body)


def test_recordings_list_date_filters(client, loaded):
    from datetime import datetime, timezone

    today = datetime.now(timezone.utc).date().isoformat()
    assert len(client.get(f"{REC}.json", params={"DateCreated": today}).json()["recordings"]) == 3
    assert client.get(f"{REC}.json", params={"DateCreated<": "2000-01-01"}).json()["recordings"] == []
    assert len(client.get(f"{REC}.json", params={"DateCreated>": "2000-01-01"}).json()["recordings"]) == 3
    r = client.get(f"{REC}.json", params={"DateCreated": "last week"})
    assert r.status_code == 400 and r.json()["errors"][0]["path"] == "DateCreated"
