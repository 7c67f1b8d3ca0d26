"""Conferences: native and per-transfer recordings, their channels and metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest

from antiphon import flex
from antiphon.errors import AntiphonError, MetadataError
from antiphon.record import MixOptions, load_conference, record_conference
from antiphon.timeline import Timeline
from recordkit import fdelay, hold_music, ncc, read, write

START = "2026-11-02T15:04:05Z"


@pytest.fixture
def conference(tmp_path, legs):
    """Customer for 80 s, alice 0.5-33 s, customer held 30-36 s, cold transfer to bob 36-80 s."""
    desc = {
        "start_time": START,
        "hold_music": "music.wav",
        "participants": [
            {"id": "caller", "role": "customer", "audio": "customer.wav", "join": 0, "leave": 50,
             "name": "+14155550123", "holds": [{"start": 30, "end": 36}], "speech": legs["customer"][1]},
            {"id": "alice", "role": "agent", "audio": "alice.wav", "join": 0.5, "leave": 33,
             "queue": "Support", "speech": legs["alice"][1]},
            {"id": "bob", "role": "agent", "audio": "bob.wav", "join": 36, "leave": 50, "audio_start": 20,
             "queue": "Escalations", "speech": legs["bob"][1]},
        ],
        "transfers": [{"from": "alice", "to": "bob", "at": 30, "type": "cold"}],
    }
    path = tmp_path / "call.json"
    path.write_text(json.dumps(desc))
    return path


def placed(leg_path, start, spans, total, sr):
    """What a leg should contribute to a channel: delayed by start, gated to spans."""
    x, _ = read(leg_path)
    y = fdelay(x[:, 0], start, sr, total)
    mask = np.zeros(total)
    for a, b in spans:
        mask[int(round(a * sr)) : int(round(b * sr))] = 1
    return y * mask


def test_native_recording_channels_and_metadata(tmp_path, legs, conference):
    sr = legs["sr"]
    (out,) = record_conference(conference, tmp_path / "native")
    assert out.channels == ("customer", "others")
    assert out.channel_parties == (("caller",), ("alice", "bob"))
    audio, osr = read(out.path)
    assert osr == sr and len(audio) == 50 * sr
    n = len(audio)
    customer = placed(legs["customer"][0], 0, [(0, 30), (36, 50)], n, sr)
    alice = placed(legs["alice"][0], 0.5, [(0.5, 33)], n, sr)
    bob = placed(legs["bob"][0], 20, [(36, 50)], n, sr)
    music = np.zeros(n)
    m, _ = read(legs["music"][0])
    music[30 * sr : 36 * sr] = m[: 6 * sr, 0]
    assert ncc(audio[:, 0], customer) > 0.999
    assert ncc(audio[:, 1], alice + bob + music) > 0.999
    for other in (alice, bob, music):
        assert abs(ncc(audio[:, 0], other)) < 0.05
    assert abs(ncc(audio[:, 1], customer)) < 0.05
    # the customer is silent while held; the music plays exactly then
    assert np.abs(audio[30 * sr + 10 : 36 * sr - 10, 0]).max() == 0
    assert ncc(audio[33 * sr : 36 * sr, 1], m[3 * sr : 6 * sr, 0]) > 0.999  # alice has left at 33 s

    media = out.media
    assert media == {"url": str(out.path.resolve()), "type": "VoiceRecording",
                     "start_time": "2026-11-02T15:04:05Z", "channels": ["customer", "others"]}
    # task attributes parse with the Flex parser and point at the recording
    attrs = flex.parse_task_attributes(out.task_attributes, require_recording=True)
    assert attrs.recording.url == media["url"]
    assert out.task_attributes["conversations"]["followed_by"] == "Transfer to Queue"
    assert len(out.tasks) == 2 and out.tasks[1]["conversations"]["preceded_by"] == "Transfer to Queue"
    assert out.tasks[0]["conversations"]["conversation_id"] == out.tasks[1]["conversations"]["conversation_id"]
    # the conversation file: two segments with their offsets into the one recording
    conv = flex.load_conversation(out.files["conversation"])
    windows = conv.windows(out.duration)
    assert [w.window for w in windows] == [(0.5, 33.0), (36.0, 50.0)]
    assert [s.worker for s in conv.segments] == ["alice", "bob"]
    assert json.loads(out.files["task-2"].read_text()) == out.tasks[1]
    # truth: per party, in recording seconds, cut at holds and presence
    truth = json.loads(out.files["truth"].read_text())
    assert truth["music"] == [[30.0, 36.0]]
    for s, e in truth["parties"]["caller"]["speech"]:
        assert not (30 < s < 36 or 30 < e < 36) and e <= 50
    bob_truth = truth["parties"]["bob"]["speech"]
    assert all(36 <= s and e <= 50 for s, e in bob_truth)
    assert bob_truth == Timeline(legs["bob"][1]).shift(20).crop(36, 50).to_list(6)
    assert out.truth["channels"]["2"] == out.truth["parties"]["alice"]["speech"] | out.truth["parties"]["bob"]["speech"]


def test_per_transfer_customer_and_worker_perspectives(tmp_path, legs, conference, flex_dir):
    sr = legs["sr"]
    outs = record_conference(conference, tmp_path / "pt", mode="per-transfer")
    assert [o.path.name for o in outs] == ["call.1-alice.wav", "call.2-bob.wav"]
    alice_rec, bob_rec = outs
    assert (alice_rec.start, alice_rec.end) == (0.5, 33.0)
    assert (bob_rec.start, bob_rec.end) == (36.0, 50.0)
    for o in outs:
        assert o.channels == ("customer", "others")
        sid = o.reservation_sid
        media = o.task_attributes["reservation_attributes"][sid]["media"][0]
        assert media == o.media and media["channels"] == ["customer", "others"]
        assert "media" not in o.task_attributes["conversations"]
        attrs = flex.parse_task_attributes(o.task_attributes, reservation_sid=sid, require_recording=True)
        assert attrs.recording.start_time == flex.parse_time(START) + __import__("datetime").timedelta(seconds=o.start)
        conv = json.loads(o.files["conversation"].read_text())
        assert [s["reservation_sid"] for s in conv["segments"]] == [sid]
        assert flex.parse_conversation(conv).windows(o.duration)[0].window == (0.0, round(o.duration, 3))
    audio, _ = read(alice_rec.path)
    n = len(audio)
    # alice's recording: window 0.5-33; customer held 30-33 -> music on channel 2 there
    customer = placed(legs["customer"][0], -0.5, [(0, 29.5)], n, sr)
    alice = placed(legs["alice"][0], 0, [(0, 32.5)], n, sr)
    assert ncc(audio[:, 0], customer) > 0.999
    assert abs(ncc(audio[:, 0], alice)) < 0.05
    m, _ = read(legs["music"][0])
    assert ncc(audio[int(29.5 * sr) :, 1], m[: n - int(29.5 * sr), 0]) > 0.99

    # bob's recording starts 36 s into the call: the customer leg is read from there on
    bob_audio, _ = read(bob_rec.path)
    n = len(bob_audio)
    assert n == 14 * sr
    assert ncc(bob_audio[:, 0], placed(legs["customer"][0], -36, [(0, 14)], n, sr)) > 0.999
    assert ncc(bob_audio[:, 1], placed(legs["bob"][0], 20 - 36, [(0, 14)], n, sr)) > 0.999
    # the same shape as the Flex plugin's task attributes
    plugin = json.loads((flex_dir / "task_transfer_plugin_2.json").read_text())
    assert set(plugin) <= set(bob_rec.task_attributes)
    assert bob_rec.task_attributes["name"] == plugin["name"]
    assert set(plugin["conversations"]) <= set(bob_rec.task_attributes["conversations"]) | {"queue"}
    assert bob_rec.task_attributes["conversations"]["preceded_by"] == plugin["conversations"]["preceded_by"]

    wouts = record_conference(conference, tmp_path / "wk", mode="per-transfer", perspective="worker")
    for o in wouts:
        assert o.channels == ("others", "customer")
        assert o.media["channels"] == ["others", "customer"]
        assert flex.parse_task_attributes(o.task_attributes, reservation_sid=o.reservation_sid).recording.roles() == (
            "agent", "customer")
    walice, _ = read(wouts[0].path)
    assert ncc(walice[:, 0], alice) > 0.999  # the worker on channel 1
    assert ncc(walice[: int(29.5 * sr), 1], customer[: int(29.5 * sr)]) > 0.999
    # the worker does not hear the customer's hold music
    assert np.abs(walice[int(29.5 * sr) + 10 :, 1]).max() == 0
    assert wouts[0].channel_parties[0] == ("alice",)


def test_outbound_agent_first_puts_the_agent_on_channel_1(tmp_path, legs):
    desc = {"start_time": START, "direction": "outbound", "participants": [
        {"id": "alice", "role": "agent", "audio": str(legs["alice"][0]), "join": 0, "leave": 20},
        {"id": "caller", "role": "customer", "audio": str(legs["customer"][0]), "join": 3, "leave": 20},
    ]}
    (out,) = record_conference(desc, tmp_path)
    assert out.channels == ("others", "customer")
    assert out.channel_parties == (("alice",), ("caller",))
    assert out.task_attributes["direction"] == "outbound"
    assert out.truth is None and "truth" not in out.files


def test_warm_transfer_three_voices_and_no_clipping(tmp_path, legs):
    """Both agents talk at once, loud: channel 2 must never wrap or exceed the ceiling."""
    sr = legs["sr"]
    loud = {}
    for name in ("alice", "bob"):
        x, _ = read(legs[name][0])
        y = x[:, 0] / np.abs(x[:, 0]).max() * 0.98  # peaks at -0.2 dBFS
        loud[name] = write(tmp_path / f"{name}-loud.wav", y, sr)
    desc = {"start_time": START, "participants": [
        {"id": "caller", "role": "customer", "audio": str(legs["customer"][0]), "join": 0, "leave": 45},
        {"id": "alice", "role": "agent", "audio": str(loud["alice"]), "join": 0, "leave": 45, "gain_db": 3},
        {"id": "bob", "role": "agent", "audio": str(loud["bob"]), "join": 0, "leave": 45, "gain_db": 3},
    ], "transfers": [{"from": "alice", "to": "bob", "at": 0, "type": "warm", "via": "agent"}]}
    (out,) = record_conference(desc, tmp_path / "limit")
    audio, _ = read(out.path)
    ceiling = 10 ** (-1 / 20)
    assert np.abs(audio[:, 1]).max() <= ceiling + 1 / 32768
    assert out.levels["limited_seconds"][1] > 0 and out.levels["peak_dbfs"][1] > 0  # the sum did exceed full scale
    # the limiter only touched the loud moments: the mix still follows the plain sum closely
    n = len(audio)
    total = (placed(loud["alice"], 0, [(0, 45)], n, sr) + placed(loud["bob"], 0, [(0, 45)], n, sr)) * 10 ** (3 / 20)
    assert ncc(audio[:, 1], total) > 0.99
    # no sign flips (wrap-around) anywhere the sum is large
    big = np.abs(total) > 1.0
    assert np.all(np.sign(audio[big, 1]) == np.sign(total[big]))
    (scaled,) = record_conference(desc, tmp_path / "scale", options=MixOptions(headroom="scale"))
    s, _ = read(scaled.path)
    assert scaled.levels["gain_db"][1] == pytest.approx(-6.02, abs=0.01)
    assert ncc(s[:, 1], total) > 0.9999
    assert out.tasks[0]["conversations"]["followed_by"] == "Transfer to Agent"


def test_bad_descriptions_list_every_problem(tmp_path, legs):
    c = str(legs["customer"][0])
    desc = {
        "start_time": START,
        "participants": [
            {"id": "caller", "role": "customer", "audio": c, "join": 0, "leave": 30,
             "holds": [{"start": 25, "end": 40}, {"start": 5, "end": 4}]},
            {"id": "alice", "role": "agent", "audio": "nowhere/alice.wav", "join": 10, "leave": 5},
            {"id": "caller2", "role": "customer", "audio": c, "join": 0, "leave": 30},
            {"id": "x", "role": "robot", "audio": c, "join": 0, "leave": 30, "colour": "red"},
            {"id": "bob", "role": "agent", "audio": c, "join": 12, "leave": 12, "task_sid": "WTnope"},
        ],
        "transfers": [{"from": "alice", "to": "carol", "at": 3}],
        "extra": 1,
    }
    with pytest.raises(MetadataError) as err:
        load_conference(desc)
    paths = {p.path for p in err.value.problems}
    assert {
        "participants[0].holds[0]", "participants[0].holds[1].end", "participants[1].audio",
        "participants[1].leave", "participants[2].role", "participants[3].role", "participants[3].colour",
        "participants[4].leave", "participants[4].task_sid", "transfers[0].to", "extra",
    } <= paths
    text = " ".join(str(p) for p in err.value.problems)
    assert "outside the participant's presence" in text and "negative presence" in text
    assert "second customer" in text and "robot" in text and "nowhere/alice.wav: no such file" in text

    with pytest.raises(MetadataError, match="start_time is required"):
        load_conference({"participants": [{"role": "customer", "audio": c, "join": 0, "leave": 3}]})
    with pytest.raises(MetadataError, match="no participant has role customer"):
        load_conference({"start_time": START, "participants": [{"role": "agent", "audio": c, "join": 0, "leave": 3}]})
    with pytest.raises(MetadataError, match="does not overlap the participant's presence"):
        load_conference({"start_time": START, "participants": [
            {"role": "customer", "audio": c, "join": 0, "leave": 30, "audio_start": 400}]})
    # relative paths of a dict description are read from base_dir
    conf = load_conference({"start_time": START, "participants": [
        {"role": "customer", "audio": legs["customer"][0].name, "join": 0, "leave": 30}]},
        base_dir=legs["customer"][0].parent)
    assert conf.customer.audio == legs["customer"][0]
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(MetadataError, match="bad.json: not valid JSON"):
        load_conference(bad)
    # cold transfer whose agents overlap is contradictory
    with pytest.raises(MetadataError, match="that is a warm transfer"):
        load_conference({"start_time": START, "participants": [
            {"role": "customer", "audio": c, "join": 0, "leave": 30},
            {"id": "a", "role": "agent", "audio": c, "join": 0, "leave": 20},
            {"id": "b", "role": "agent", "audio": c, "join": 15, "leave": 30}],
            "transfers": [{"from": "a", "to": "b", "at": 14, "type": "cold"}]})


def test_iso_times_and_stereo_legs(tmp_path, legs, hv):
    data, sr, _ = hv[0]
    stereo = write(tmp_path / "agent-stereo.wav", data, sr)
    desc = {"participants": [
        {"role": "customer", "audio": str(legs["customer"][0]), "join": "2026-11-02T15:04:05Z", "leave": "2026-11-02T15:04:25Z"},
        {"id": "alice", "role": "agent", "audio": str(stereo), "channel": "right",
         "join": "2026-11-02T15:04:05.5Z", "leave": "2026-11-02T15:04:25Z"},
    ]}
    conf = load_conference(desc)
    assert conf.start_time == flex.parse_time("2026-11-02T15:04:05Z")
    assert conf.participant("alice").join == 0.5
    (out,) = record_conference(conf, tmp_path)
    audio, _ = read(out.path)
    assert ncc(audio[:, 1], placed(legs["alice"][0], 0.5, [(0.5, 20)], len(audio), sr)) > 0.999
    assert not out.warnings


def test_native_transfer_reproduces_the_flex_reference_conversation(tmp_path, legs, flex_dir):
    """The shared Flex example: one recording, alice then bob, bob 158 s in."""
    ref = json.loads((flex_dir / "conversation_transfer_native.json").read_text())
    a, b = ref["segments"]
    desc = {"participants": [
        {"role": "customer", "audio": str(legs["customer"][0]), "join": a["start"], "leave": b["end"]},
        {"role": "agent", "audio": str(legs["alice"][0]), "join": a["start"], "leave": a["end"],
         **{k: a[k] for k in ("task_sid", "reservation_sid", "worker", "queue")}},
        {"role": "agent", "audio": str(legs["bob"][0]), "join": b["start"], "leave": b["end"],
         **{k: b[k] for k in ("task_sid", "reservation_sid", "worker", "queue")}},
    ], "transfers": [{"from": "alice", "to": "bob", "at": a["end"]}]}
    (out,) = record_conference(desc, tmp_path, options=MixOptions(url_base=ref["recording"]["url"].rsplit("/", 1)[0]))
    conv = out.conversation
    assert set(conv) == {k for k in ref if not k.startswith("_") and not k.startswith("expected")}
    assert set(conv["recording"]) == set(ref["recording"])
    assert {k: v for k, v in conv["recording"].items() if k != "url"} == {
        k: v for k, v in ref["recording"].items() if k != "url"}
    assert conv["segments"] == ref["segments"]
    windows = flex.parse_conversation(conv).windows(out.duration)
    assert [w.segment_recording_offset for w in windows] == ref["expected_segment_recording_offset_s"]
    assert out.duration == 435.0
    assert any("ends" in w and "silent" in w for w in out.warnings)  # 51 s legs in a 7-minute call


def test_legs_of_different_rates_and_formats(tmp_path, hv):
    import soxr
    import soundfile as sf

    data, sr, _ = hv[0]
    a16 = soxr.resample(data[:, 1], sr, 16000)
    sf.write(str(tmp_path / "agent.flac"), a16, 16000)
    write(tmp_path / "caller.wav", data[:, 0], sr, "ULAW")
    desc = {"start_time": START, "participants": [
        {"role": "customer", "audio": "caller.wav", "join": 0, "leave": 40},
        {"id": "alice", "role": "agent", "audio": "agent.flac", "join": 0.0000625, "leave": 40},
    ]}
    (tmp_path / "mixed.json").write_text(json.dumps(desc))
    (out,) = record_conference(tmp_path / "mixed.json", tmp_path / "out")
    assert out.sample_rate == 16000
    audio, osr = read(out.path)
    assert osr == 16000 and len(audio) == 40 * 16000
    c16 = soxr.resample(read(tmp_path / "caller.wav")[0][:, 0], sr, 16000)
    assert ncc(audio[:, 0], c16[: len(audio)]) > 0.999
    assert ncc(audio[:, 1], fdelay(a16, 0.0000625, 16000, len(audio))) > 0.999  # one sample at 16 kHz
    # an output that would overwrite a leg is refused before anything is written
    with pytest.raises(AntiphonError, match="overwrite the leg"):
        record_conference(load_conference({**desc, "name": "caller"}, base_dir=tmp_path), tmp_path)
    assert ncc(read(tmp_path / "caller.wav")[0][:, 0], data[:, 0]) > 0.99
