"""Twilio webhooks: signatures, segments from reservation events, problems kept, idempotency."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from antiphon.store.models import Event, Recording, Segment

from .conftest import ACCOUNT_SID, read_form, sign

T0 = 1793631845  # 2026-11-02T15:04:05Z


def reservation_event(kind: str, ts: int, *, task: str, reservation: str, attrs: dict, worker="alice",
                      queue="Support") -> dict:
    return {
        "EventType": f"reservation.{kind}", "AccountSid": ACCOUNT_SID, "WorkspaceSid": "WS" + "0" * 32,
        "ResourceType": "reservation", "ResourceSid": reservation, "Timestamp": str(ts), "TaskSid": task,
        "TaskAttributes": json.dumps(attrs), "TaskQueueName": queue, "WorkerName": worker,
        "WorkerSid": "WK" + "1" * 32, "ReservationSid": reservation,
    }


def test_reference_event_is_accepted_when_signed_by_twilio(post_webhook, flex_dir, store):
    params = read_form(flex_dir / "event_reservation_completed.form")
    r = post_webhook("/twilio/taskrouter", params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] and body["conversation"] == "WT5d2a9e6f1c7b4a3e8f0d1c2b3a4e5f60"
    seg = store.get_conversation(body["conversation"])["segments"][0]
    assert seg["worker"] == "alice" and seg["queue"] == "Billing" and seg["state"] == "completed"
    assert seg["conversation_attributes"]["external_contact"] == "+14155550101"
    with store.session() as s:
        rec = s.get(Recording, "RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")
        assert rec.status == "pending" and rec.channel_roles == ["customer", "agent"]
    jobs = store.list_jobs()["jobs"]
    assert [j["key"] for j in jobs] == ["fetch:RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"]


@pytest.mark.parametrize("path", ["/twilio/taskrouter/", "/twilio/recording-status/"])
def test_a_trailing_slash_is_answered_not_redirected(post_webhook, flex_dir, path):
    name = "event_reservation_completed.form" if "taskrouter" in path else "recording_status_callback.form"
    r = post_webhook(path, read_form(flex_dir / name))
    assert r.status_code == 200, r.text
    assert post_webhook(path, read_form(flex_dir / name), signature="forged").status_code == 403


@pytest.mark.parametrize("signature", [None, "", "Zm9yZ2Vk", "forged"])
def test_forged_or_missing_signature_is_refused_and_nothing_stored(post_webhook, flex_dir, store, signature):
    params = read_form(flex_dir / "event_reservation_completed.form")
    r = post_webhook("/twilio/taskrouter", params, signature=signature)
    assert r.status_code == 403
    body = r.json()
    assert body["ok"] is False and body["status"] == 403 and "X-Twilio-Signature" in body["error"]
    assert "test-auth-token" not in r.text
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_signature_over_other_parameters_is_refused(post_webhook, flex_dir):
    params = read_form(flex_dir / "event_reservation_completed.form")
    good = sign("http://testserver/twilio/taskrouter", params)
    tampered = dict(params, WorkerName="mallory")
    assert post_webhook("/twilio/taskrouter", tampered, signature=good).status_code == 403


def test_signature_uses_forwarded_proto_and_host(post_webhook, flex_dir):
    params = read_form(flex_dir / "event_reservation_completed.form")
    public = "https://calls.example.com/twilio/taskrouter"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calls.example.com"}
    r = post_webhook("/twilio/taskrouter", params, signature=sign(public, params), headers=headers)
    assert r.status_code == 200, r.text
    # the same signature without the proxy headers is for another URL
    assert post_webhook("/twilio/recording-status", params, signature=sign(public, params)).status_code == 403


def test_signature_uses_configured_public_url(make_settings, flex_dir):
    from fastapi.testclient import TestClient

    from antiphon.server import create_app
    from antiphon.store import open_store

    st = open_store(make_settings(public_url="https://example.org/antiphon/"))
    try:
        c = TestClient(create_app(store=st))
        params = read_form(flex_dir / "recording_status_callback.form")
        url = "https://example.org/antiphon/twilio/recording-status"
        r = c.post("/twilio/recording-status", data=params, headers={"X-Twilio-Signature": sign(url, params)})
        assert r.status_code == 200, r.text
        assert r.json()["recording"] == "RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
    finally:
        st.close()


def test_without_auth_token_webhooks_are_refused_unless_auth_is_off(make_settings, flex_dir):
    from fastapi.testclient import TestClient

    from antiphon.server import create_app
    from antiphon.store import open_store

    params = read_form(flex_dir / "recording_status_callback.form")
    st = open_store(make_settings(twilio_auth_token=None))
    try:
        r = TestClient(create_app(store=st)).post("/twilio/recording-status", data=params)
        assert r.status_code == 403 and "ANTIPHON_TWILIO_AUTH_TOKEN" in r.json()["error"]
    finally:
        st.close()
    st = open_store(make_settings(twilio_auth_token=None, auth=False))
    try:
        assert TestClient(create_app(store=st)).post("/twilio/recording-status", data=params).status_code == 200
    finally:
        st.close()


def test_out_of_order_and_duplicated_events_make_one_segment(post_webhook, store, flex_dir):
    attrs = json.loads((flex_dir / "task_inbound_native.json").read_text())
    kw = dict(task="WT" + "a" * 32, reservation="WR" + "a" * 32, attrs=attrs)
    events = [
        reservation_event("completed", T0 + 300, **kw),
        reservation_event("wrapup", T0 + 280, **kw),
        reservation_event("created", T0 - 5, **kw),
        reservation_event("accepted", T0 + 2, **kw),
        reservation_event("completed", T0 + 300, **kw),  # Twilio retried
        reservation_event("accepted", T0 + 2, **kw),
    ]
    for e in events:
        r = post_webhook("/twilio/taskrouter", e)
        assert r.status_code == 200, r.text
    assert [post_webhook("/twilio/taskrouter", events[0]).json()["duplicate"]] == [True]
    with store.session() as s:
        segs = s.scalars(select(Segment)).all()
        assert len(segs) == 1
        seg = segs[0]
        assert seg.start == datetime.fromtimestamp(T0 + 2, tz=timezone.utc)
        assert seg.end == datetime.fromtimestamp(T0 + 280, tz=timezone.utc)  # talk ends at wrap-up
        assert seg.state == "completed"
        assert s.scalar(select(func.count()).select_from(Event)) == 4
    assert store.list_jobs()["total"] == 1  # one fetch job however many events named the recording


def test_transfer_tasks_are_grouped_by_conversation_id_with_reservation_media(post_webhook, store, flex_dir):
    a1 = json.loads((flex_dir / "task_transfer_plugin_1.json").read_text())
    a2 = json.loads((flex_dir / "task_transfer_plugin_2.json").read_text())
    r1, r2 = "WR" + "1" * 32, "WR" + "2" * 32
    for e in [
        reservation_event("accepted", T0, task="WT" + "1" * 32, reservation=r1, attrs=a1, worker="alice"),
        reservation_event("accepted", T0 + 158, task="WT" + "2" * 32, reservation=r2, attrs=a2, worker="bob",
                          queue="Escalations"),
        reservation_event("completed", T0 + 158, task="WT" + "1" * 32, reservation=r1, attrs=a1, worker="alice"),
        reservation_event("completed", T0 + 400, task="WT" + "2" * 32, reservation=r2, attrs=a2, worker="bob",
                          queue="Escalations"),
    ]:
        assert post_webhook("/twilio/taskrouter", e).status_code == 200
    conv = store.get_conversation("WTa1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert [(x["worker"], x["queue"]) for x in conv["segments"]] == [("alice", "Support"), ("bob", "Escalations")]
    assert conv["segments"][0]["media"][0]["url"].endswith("RE" + "1" * 32)
    assert conv["segments"][1]["media"][0]["url"].endswith("RE" + "2" * 32)
    assert sorted(r["sid"] for r in conv["recordings"]) == ["RE" + "1" * 32, "RE" + "2" * 32]
    assert conv["call_sid"] == "CA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
    assert store.list_conversations()["total"] == 1


@pytest.mark.parametrize("name", ["bad_channels", "bad_start_time", "liquid_not_rendered", "missing_start_time",
                                  "not_json", "wrong_type"])
def test_broken_media_metadata_is_stored_with_its_problems(post_webhook, store, flex_dir, client, name):
    attrs = json.loads((flex_dir / "invalid" / f"{name}.json").read_text())
    expected = attrs.pop("_expect_error")
    attrs["call_sid"] = "CA" + "b" * 32
    e = reservation_event("completed", T0, task="WT" + "b" * 32, reservation="WR" + "b" * 32, attrs=attrs)
    r = post_webhook("/twilio/taskrouter", e)
    assert r.status_code == 200, r.text
    assert r.json()["problems"], "the problems are reported to the caller"
    conv = client.get(f"/api/conversations/{r.json()['conversation']}").json()["conversation"]
    assert len(conv["segments"]) == 1, "the segment is kept"
    probs = conv["problems"]
    assert probs and all(p["task_sid"] == "WT" + "b" * 32 and p["reservation_sid"] == "WR" + "b" * 32 for p in probs)
    field = expected.split(" ", 1)[0]
    assert any(p["path"].endswith(field.split(".", 1)[-1]) or field in p["message"] for p in probs), probs
    listed = client.get("/api/conversations", params={"problems": "true"}).json()
    assert listed["total"] == 1
    # a later event with fixed attributes replaces the problems
    good = json.loads((flex_dir / "task_inbound_native.json").read_text())
    good["call_sid"] = "CA" + "b" * 32
    fixed = reservation_event("completed", T0 + 10, task="WT" + "b" * 32, reservation="WR" + "b" * 32, attrs=good)
    post_webhook("/twilio/taskrouter", fixed)
    conv = client.get("/api/conversations/WT5d2a9e6f1c7b4a3e8f0d1c2b3a4e5f60").json()["conversation"]
    assert conv["problems"] == []


def test_task_attributes_that_are_not_json_are_kept(post_webhook, store):
    e = reservation_event("completed", T0, task="WT" + "c" * 32, reservation="WR" + "c" * 32, attrs={})
    e["TaskAttributes"] = "{not json"
    body = post_webhook("/twilio/taskrouter", e).json()
    assert body["problems"][0]["path"] == "TaskAttributes"
    conv = store.get_conversation("WT" + "c" * 32)
    assert conv["segments"][0]["state"] == "completed"
    with store.session() as s:
        assert s.scalars(select(Segment)).one().task_attributes == {"_unparsed": "{not json"}


def test_recording_status_before_task_events_joins_the_conversation_later(post_webhook, store, flex_dir):
    r = post_webhook("/twilio/recording-status", read_form(flex_dir / "recording_status_callback.form"))
    assert r.status_code == 200
    assert r.json()["conversation"] == "CA1f0c6b2e8d4a4e9b9c3d2a1b0c9d8e7f"
    assert store.list_jobs()["jobs"][0]["key"] == "fetch:RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
    r = post_webhook("/twilio/taskrouter", read_form(flex_dir / "event_reservation_completed.form"))
    conv_id = r.json()["conversation"]
    assert conv_id == "WT5d2a9e6f1c7b4a3e8f0d1c2b3a4e5f60"
    assert store.get_conversation("CA1f0c6b2e8d4a4e9b9c3d2a1b0c9d8e7f") is None  # merged
    conv = store.get_conversation(conv_id)
    assert [x["sid"] for x in conv["recordings"]] == ["RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"]
    assert conv["recordings"][0]["duration"] == 276.0


def test_recording_status_problems_are_kept(post_webhook, store, flex_dir):
    params = read_form(flex_dir / "recording_status_callback.form")
    params.update(RecordingChannels="1", RecordingStartTime="yesterday")
    body = post_webhook("/twilio/recording-status", params).json()
    paths = sorted(p["path"] for p in body["problems"])
    assert paths == ["RecordingChannels", "RecordingStartTime"]
    assert store.list_problems()["total"] == 2


def test_failed_recording_is_marked(post_webhook, store, flex_dir):
    params = read_form(flex_dir / "recording_status_callback.form")
    params.update(RecordingStatus="failed", ErrorCode="16102")
    post_webhook("/twilio/recording-status", params)
    rec = store.get_recording("RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")
    assert rec["status"] == "failed" and "16102" in rec["error"]
    assert store.list_jobs()["total"] == 0


def test_concurrent_events_of_one_task_do_not_collide(store, flex_dir):
    """Twilio sends a task's events at the same moment: no error, one conversation, one segment."""
    import threading

    from antiphon.ingest import handle_taskrouter_event

    attrs = json.loads((flex_dir / "task_inbound_native.json").read_text())
    kinds = ["created", "accepted", "wrapup", "completed"] * 3
    events = [reservation_event(k, T0 + i, task="WT" + "f" * 32, reservation="WR" + "f" * 32, attrs=attrs)
              for i, k in enumerate(kinds)]
    errors: list[Exception] = []
    barrier = threading.Barrier(len(events))

    def send(e):
        try:
            barrier.wait()
            handle_taskrouter_event(store, e)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Segment)) == 1
        assert s.scalar(select(func.count()).select_from(Event)) == len(events)
    assert store.list_conversations()["total"] == 1
    assert store.list_jobs()["total"] == 1


def test_task_problems_are_listed_once_and_a_renamed_conversation_is_merged(post_webhook, store, flex_dir):
    bad = json.loads((flex_dir / "invalid" / "missing_start_time.json").read_text())
    bad.pop("_expect_error")
    task, res = "WT" + "9" * 32, "WR" + "9" * 32
    e1 = reservation_event("accepted", T0, task=task, reservation=res, attrs=bad)
    task_done = dict(e1, EventType="task.completed", Timestamp=str(T0 + 5))
    task_done.pop("ReservationSid")
    assert post_webhook("/twilio/taskrouter", e1).json()["conversation"] == task
    post_webhook("/twilio/taskrouter", task_done)
    assert store.list_problems()["total"] == 1
    # later the task's attributes name a conversation (e.g. set by a plugin): everything moves there
    good = json.loads((flex_dir / "task_inbound_native.json").read_text())
    good["conversations"]["conversation_id"] = "CONV-42"
    e2 = reservation_event("completed", T0 + 10, task=task, reservation=res, attrs=good)
    assert post_webhook("/twilio/taskrouter", e2).json()["conversation"] == "CONV-42"
    assert store.get_conversation(task) is None
    conv = store.get_conversation("CONV-42")
    assert len(conv["segments"]) == 1 and conv["problems"] == []
    assert store.list_conversations()["total"] == 1


def test_oversized_webhook_is_refused(post_webhook, flex_dir):
    params = read_form(flex_dir / "event_reservation_completed.form")
    params["TaskAttributes"] = "x" * (2 << 20)
    r = post_webhook("/twilio/taskrouter", params)
    assert r.status_code == 413 and r.json()["status"] == 413
