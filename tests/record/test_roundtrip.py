"""Round trip: legs -> recorder -> analysis; metrics match the constructed truth."""

from __future__ import annotations

import json

import pytest

from antiphon.analysis import analyze
from antiphon.metrics import compute_metrics
from antiphon.record import record_conference
from recordkit import hold_music, write

START = "2026-11-02T15:04:05Z"


def close(got: float, want: float) -> bool:
    # truth is utterance-level (it includes short pauses); voice activity is not
    return abs(got - want) <= 0.2 * want + 0.5


@pytest.mark.parametrize("mode", ["native", "per-transfer"])
def test_transfer_metrics_per_segment_match_truth(tmp_path, legs, mode):
    desc = {
        "start_time": START,
        "hold_music": "music.wav",
        "participants": [
            {"id": "caller", "role": "customer", "audio": "customer.wav", "join": 0, "leave": 80,
             "holds": [{"start": 30, "end": 36}], "speech": legs["customer"][1]},
            {"id": "alice", "role": "agent", "audio": "alice.wav", "join": 0.5, "leave": 33,
             "queue": "Support", "speech": legs["alice"][1]},
            {"id": "bob", "role": "agent", "audio": "bob.wav", "join": 36, "leave": 80,
             "queue": "Escalations", "speech": legs["bob"][1]},
        ],
        "transfers": [{"from": "alice", "to": "bob", "at": 30}],
    }
    (tmp_path / "call.json").write_text(json.dumps(desc))
    outs = record_conference(tmp_path / "call.json", tmp_path / "out", mode=mode)
    checked = 0
    for out in outs:
        result = analyze(out.path, conversation=out.files["conversation"]).to_dict()
        assert len(result["segments"]) == len(out.truth["segments"])
        for seg, truth_seg in zip(result["segments"], out.truth["segments"]):
            assert seg["reservation_sid"] == truth_seg["reservation_sid"]
            assert seg["window"] == pytest.approx(truth_seg["window"], abs=0.001)
            want = compute_metrics(out.truth["channels"]["1"], out.truth["channels"]["2"], tuple(truth_seg["window"]))
            got = seg["metrics"]
            for key in ("agent_talk_time", "customer_talk_time", "silence_time"):
                assert close(got[key], want[key]), (out.path.name, seg["worker"], key, got[key], want[key])
            checked += 1
    assert checked == 2
    if mode == "native":
        offsets = [s["segment_recording_offset"] for s in result["segments"]]
        assert offsets == [0.5, 36.0]


def test_warm_transfer_three_voices(tmp_path, legs):
    """alice brings bob in at 25 s and leaves at 35 s: both agents on channel 2 for 10 s."""
    desc = {"start_time": START, "participants": [
        {"id": "caller", "role": "customer", "audio": "customer.wav", "join": 0, "leave": 60,
         "speech": legs["customer"][1]},
        {"id": "alice", "role": "agent", "audio": "alice.wav", "join": 0, "leave": 35, "speech": legs["alice"][1]},
        {"id": "bob", "role": "agent", "audio": "bob.wav", "join": 25, "leave": 60, "audio_start": 10,
         "speech": legs["bob"][1]},
    ], "transfers": [{"from": "alice", "to": "bob", "at": 24, "type": "warm", "via": "agent"}]}
    (tmp_path / "warm.json").write_text(json.dumps(desc))
    (out,) = record_conference(tmp_path / "warm.json", tmp_path / "out")
    both = out.truth["parties"]["alice"]["speech"] | out.truth["parties"]["bob"]["speech"]
    assert out.truth["channels"]["2"] == both
    assert (out.truth["parties"]["bob"]["speech"].crop(25, 35)).duration() > 0  # three voices at once
    result = analyze(out.path, conversation=out.files["conversation"]).to_dict()
    windows = [tuple(s["window"]) for s in result["segments"]]
    assert windows == [(0.0, 35.0), (25.0, 60.0)]  # the segments overlap, as reservations do
    for seg, window in zip(result["segments"], windows):
        want = compute_metrics(out.truth["channels"]["1"], both, window)
        for key in ("agent_talk_time", "customer_talk_time"):
            assert close(seg["metrics"][key], want[key]), (seg["worker"], key, seg["metrics"][key], want[key])


def test_hold_music_is_not_agent_talk(tmp_path, hv):
    """The customer is held twice while the agent is silent; music fills channel 2."""
    data, sr, speech = hv[0]
    write(tmp_path / "c.wav", data[:, 0], sr)
    write(tmp_path / "a.wav", data[:, 1], sr)
    write(tmp_path / "music.wav", hold_music(25, sr, level_db=-18), sr)
    desc = {"start_time": START, "hold_music": "music.wav", "participants": [
        {"id": "caller", "role": "customer", "audio": "c.wav", "join": 0, "leave": 51,
         "holds": [{"start": 8, "end": 21}, {"start": 39, "end": 43.5}], "speech": speech[0]},
        {"id": "alice", "role": "agent", "audio": "a.wav", "join": 0, "leave": 51, "speech": speech[1]},
    ]}
    (tmp_path / "held.json").write_text(json.dumps(desc))
    (out,) = record_conference(tmp_path / "held.json", tmp_path / "out")
    music = out.truth["music"]
    assert music.duration() == pytest.approx(17.5)
    assert (out.truth["channels"]["2"] & music).duration() == 0  # the agent is silent during holds
    analysis = analyze(out.path, conversation=out.files["conversation"])
    agent = analysis.speech["agent"]
    assert (agent & music).duration() < 0.5
    talk = analysis.segments[0]["metrics"]["agent_talk_time"]
    want = out.truth["channels"]["2"].duration()
    assert close(talk, want) and talk < want + music.duration() / 2
