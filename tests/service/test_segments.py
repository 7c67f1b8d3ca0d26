"""Segments of transferred calls: offsets into one recording, and segments that arrive after the analysis."""

from __future__ import annotations

import json

import pytest

from antiphon.ingest import ingest_file

from .conftest import ACCOUNT_SID, run_jobs
from .test_webhooks import reservation_event

REC_SID = "RE" + "3" * 32


def test_native_transfer_conversation_file_gives_offsets(store, harper, flex_dir):
    out = ingest_file(store, harper[0], conversation=flex_dir / "conversation_transfer_native.json")
    run_jobs(store)
    conv = store.get_conversation(out["conversation"])
    offs = [s["segment_recording_offset"] for s in conv["segments"]]
    assert offs == [0.0, 158.0]  # expected_segment_recording_offset_s
    first, second = conv["segments"]
    assert first["worker"] == "alice" and first["metrics"]["duration"] == pytest.approx(conv["metrics"]["duration"], abs=0.01)
    # the 51 s recording does not reach the second segment (which starts 158 s in): kept, explained
    assert second["window"] is None and "after the recording ended" in second["note"]


def test_segments_arriving_after_the_analysis_are_measured_from_stored_speech(store, harper, post_webhook):
    # the recording (51 s) is uploaded and analysed first
    task = {"call_sid": "CA" + "3" * 32, "conversations": {"conversation_id": "WT" + "3" * 32, "media": [{
        "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{REC_SID}",
        "type": "VoiceRecording", "start_time": "2026-11-02T15:04:05Z", "channels": ["customer", "others"]}]}}
    ingest_file(store, harper[0], task=task)
    run_jobs(store)
    whole = store.get_conversation("WT" + "3" * 32)["metrics"]
    # then two reservations complete: alice 0-20 s, bob 20-51 s into the recording
    t0 = 1793631845
    for kind, ts, rsid, worker in [("accepted", t0, "WR" + "4" * 32, "alice"), ("completed", t0 + 20, "WR" + "4" * 32, "alice"),
                                   ("accepted", t0 + 20, "WR" + "5" * 32, "bob"), ("completed", t0 + 60, "WR" + "5" * 32, "bob")]:
        e = reservation_event(kind, ts, task="WT" + rsid[2:], reservation=rsid, attrs=task, worker=worker)
        assert post_webhook("/twilio/taskrouter", e).status_code == 200
    assert [j["kind"] for j in store.list_jobs(state="queued")["jobs"]] == ["segments"]
    run_jobs(store)
    conv = store.get_conversation("WT" + "3" * 32)
    segs = {s["worker"]: s for s in conv["segments"] if s["worker"]}
    assert segs["alice"]["window"] == [0.0, 20.0] and segs["bob"]["segment_recording_offset"] == 20.0
    assert segs["bob"]["window"][1] == pytest.approx(whole["duration"], abs=0.01)
    assert "clipped" in segs["bob"]["note"]
    total = segs["alice"]["metrics"]["talk_time"] + segs["bob"]["metrics"]["talk_time"]
    assert total == pytest.approx(whole["talk_time"], abs=0.05)
    assert store.counts()["analyses"] == 1  # no re-analysis
    agents = {r["key"]: r for r in store.report("agent")["rows"]}
    assert {"alice", "bob"} <= set(agents)
