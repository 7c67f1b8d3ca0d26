"""Two recordings of one call (native dual-channel + a recording plugin) are detected; one is kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from antiphon.ingest import ingest_file

from .conftest import ACCOUNT_SID, run_jobs

CONV = "WT" + "d" * 32


def attrs(sid_n: int, start: str, conv: str = CONV) -> dict:
    return {"call_sid": "CA" + "d" * 32, "conversations": {"conversation_id": conv, "queue": "Billing", "media": [{
        "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{sid_n:032x}",
        "type": "VoiceRecording", "start_time": start, "channels": ["customer", "others"]}]}}


def plugin_copy(src, dst, *, skip: float, gain: float, seed: int = 0):
    """The same call as a second recorder would capture it: starts later, other level, a little noise, mu-law."""
    data, sr = sf.read(str(src), dtype="float32", always_2d=True)
    data = data[int(skip * sr):] * gain
    data = data + np.random.default_rng(seed).normal(0, 0.002, data.shape).astype("float32")
    sf.write(str(dst), np.clip(data, -1, 1), sr, subtype="ULAW")
    return dst


def test_second_recording_of_the_same_call_is_marked_and_not_counted(store, client, harper, tmp_path):
    ingest_file(store, harper[0], task=attrs(1, "2026-11-02T15:00:00Z"))
    # the plugin started recording 2 s later; its start_time is 0.4 s off (clocks differ)
    copy = plugin_copy(harper[0], tmp_path / "plugin.wav", skip=2.0, gain=0.6)
    ingest_file(store, copy, task=attrs(2, "2026-11-02T15:00:02.400Z"))
    run_jobs(store)
    conv = client.get(f"/api/conversations/{CONV}").json()["conversation"]
    recs = {r["sid"]: r for r in conv["recordings"]}
    dup = recs[f"RE{2:032x}"]
    assert dup["duplicate"] is True and dup["duplicate_of"] == f"RE{1:032x}" and dup["duplicate_score"] >= 0.6
    assert recs[f"RE{1:032x}"]["duplicate"] is False
    assert conv["metrics_total"]["talk_time"] == pytest.approx(conv["metrics"]["talk_time"])
    assert conv["primary_recording"] == f"RE{1:032x}"
    day = client.get("/api/reports", params={"group_by": "day"}).json()["rows"]
    assert day[0]["calls"] == 1 and day[0]["talk_time"] == pytest.approx(conv["metrics"]["talk_time"])
    listed = client.get("/api/conversations").json()["conversations"][0]
    assert listed["recordings"] == 2 and listed["duplicates"] == 1
    assert listed["metrics"]["talk_time"] == pytest.approx(conv["metrics"]["talk_time"])


def test_longer_recording_is_kept_whatever_the_arrival_order(store, client, harper, tmp_path):
    copy = plugin_copy(harper[0], tmp_path / "plugin.wav", skip=3.0, gain=1.3, seed=1)
    ingest_file(store, copy, task=attrs(2, "2026-11-02T15:00:03Z"))
    run_jobs(store)
    ingest_file(store, harper[0], task=attrs(1, "2026-11-02T15:00:00Z"))
    run_jobs(store)
    recs = {r["sid"]: r for r in client.get(f"/api/conversations/{CONV}").json()["conversation"]["recordings"]}
    assert recs[f"RE{2:032x}"]["duplicate_of"] == f"RE{1:032x}"
    assert recs[f"RE{1:032x}"]["duplicate_of"] is None


def test_different_calls_are_not_duplicates(store, client, harper):
    # a transfer recorded by the plugin: two recordings, one after the other
    ingest_file(store, harper[0], task=attrs(1, "2026-11-02T15:00:00Z"))
    ingest_file(store, harper[1], task=attrs(2, "2026-11-02T15:01:00Z"))
    # and, same conversation id, a different call at the same time
    ingest_file(store, harper[2], task=attrs(3, "2026-11-02T15:00:00Z"))
    run_jobs(store)
    recs = client.get(f"/api/conversations/{CONV}").json()["conversation"]["recordings"]
    assert [r["duplicate"] for r in recs] == [False, False, False]


def test_identical_files_under_two_sids_are_duplicates(store, harper):
    ingest_file(store, harper[0], task=attrs(1, "2026-11-02T15:00:00Z"))
    out = ingest_file(store, harper[0], task=attrs(2, "2026-11-02T15:00:00Z", conv="WT" + "e" * 32))
    assert out["duplicate_of"] == f"RE{1:032x}" and out["job"] is None
    run_jobs(store)
    assert store.counts()["analyses"] == 1


def test_similarity_scores():
    from datetime import datetime, timedelta, timezone

    from antiphon.store.duplicates import Candidate, similarity

    t = datetime(2026, 11, 2, tzinfo=timezone.utc)
    speech = {"customer": [[1, 3], [7, 9], [15, 18]], "agent": [[3.5, 6], [10, 14], [19, 25]]}
    shifted = {p: [[s - 2, e - 2] for s, e in v] for p, v in speech.items()}
    a = Candidate("A", t, 30, speech)
    assert similarity(a, Candidate("B", t + timedelta(seconds=2), 28, shifted)) == 1.0
    assert similarity(a, Candidate("B", t + timedelta(seconds=3), 28, shifted)) >= 0.9  # 1 s clock error
    other = {"customer": [[2, 6]], "agent": [[20, 22]]}
    assert similarity(a, Candidate("C", t, 30, other)) < 0.6
    assert similarity(a, Candidate("D", t + timedelta(seconds=60), 30, speech)) == 0.0  # no overlap
    assert similarity(a, Candidate("E", None, 30, speech)) == 0.0
    assert similarity(Candidate("F", None, 1, {}, "x"), Candidate("G", None, 1, {}, "x")) == 1.0


def test_conversation_page_offers_each_recording(store, client, harper, tmp_path):
    """The player opens the kept recording; the picker opens the duplicate with its own analysis."""
    import re

    ingest_file(store, harper[0], task=attrs(1, "2026-11-02T15:00:00Z"))
    copy = plugin_copy(harper[0], tmp_path / "plugin.wav", skip=2.0, gain=0.6)
    ingest_file(store, copy, task=attrs(2, "2026-11-02T15:00:02.400Z"))
    run_jobs(store)
    kept, dup = f"RE{1:032x}", f"RE{2:032x}"
    page = client.get(f"/conversations/{CONV}")
    assert page.status_code == 200
    links = re.findall(r'href="\?recording=(RE[0-9a-f]{32})"', page.text)
    assert sorted(links) == [kept, dup]
    assert client.get(f"/conversations/{CONV}.json").json()["recording"]["sid"] == kept
    other = client.get(f"/conversations/{CONV}.json", params={"recording": dup}).json()
    assert other["recording"]["sid"] == dup
    assert other["duration"] < client.get(f"/conversations/{CONV}.json").json()["duration"]
    assert dup in other["recording"]["media_url"] and dup in other["recording"]["peaks_url"]
    missing = client.get(f"/conversations/{CONV}.json", params={"recording": "RE" + "0" * 32})
    assert missing.status_code == 404 and missing.json()["ok"] is False
