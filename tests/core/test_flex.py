"""Flex task attributes, channel roles, time formats and segment offsets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from antiphon.cli import main
from antiphon.errors import MetadataError
from antiphon.flex import (
    Media,
    Segment,
    TaskAttributes,
    channel_roles,
    load_conversation,
    load_task_attributes,
    parse_channels,
    parse_conversation,
    parse_task_attributes,
    parse_time,
    parse_recording,
    segment_windows,
    validate_file,
    validate_task_attributes,
)

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 15, 4, 5, tzinfo=UTC)
URL = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE1"


def media(**over):
    entry = {"url": URL, "type": "VoiceRecording", "start_time": "2026-11-02T15:04:05Z",
             "channels": ["customer", "others"]}
    entry.update(over)
    return {k: v for k, v in entry.items() if v is not None}


def attrs_with(*entries, **top):
    return {"conversations": {"media": list(entries)}, **top}


def problems_of(data, **kw):
    with pytest.raises(MetadataError) as info:
        parse_task_attributes(data, **kw)
    return info.value, [str(p) for p in info.value.problems]


# ------------------------------------------------------------ reference files


def test_inbound_native(flex_dir):
    ta = load_task_attributes(flex_dir / "task_inbound_native.json")
    assert isinstance(ta, TaskAttributes)
    assert ta.conversation_id == "WT5d2a9e6f1c7b4a3e8f0d1c2b3a4e5f60"
    assert ta.call_sid == "CA1f0c6b2e8d4a4e9b9c3d2a1b0c9d8e7f"
    assert ta.queue == "Billing" and ta.direction == "inbound"
    assert ta.conversations["communication_channel"] == "voice"
    rec = ta.recording
    assert rec is not None and rec.type == "VoiceRecording"
    assert rec.url.endswith("/Recordings/RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")
    assert rec.start_time == T0 and rec.start_time.tzinfo is not None
    assert rec.channels == ("customer", "others")
    assert rec.roles() == ("customer", "agent")
    assert ta.notes == []


@pytest.mark.parametrize(
    "name, sid, start",
    [
        ("task_transfer_plugin_1.json", "WR11111111111111111111111111111111", T0),
        ("task_transfer_plugin_2.json", "WR22222222222222222222222222222222", T0 + timedelta(seconds=158)),
    ],
)
def test_transfer_plugin_reservation_media_epoch_ms(flex_dir, name, sid, start):
    raw = json.loads((flex_dir / name).read_text())
    for kw in ({}, {"reservation_sid": sid}):
        ta = parse_task_attributes(raw, **kw)
        assert ta.reservation_sid == sid
        assert ta.conversation_id == "WTa1b2c3d4e5f60718293a4b5c6d7e8f90"
        assert ta.recording.start_time == start
        assert ta.recording.path == f"reservation_attributes.{sid}.media[0]"
        assert ta.recording.url.endswith(sid.replace("WR", "RE"))


def test_both_plugin_segments_share_conversation_and_are_158s_apart(flex_dir):
    a = load_task_attributes(flex_dir / "task_transfer_plugin_1.json")
    b = load_task_attributes(flex_dir / "task_transfer_plugin_2.json")
    assert a.conversation_id == b.conversation_id
    assert (b.recording.start_time - a.recording.start_time).total_seconds() == 158


def test_conversation_transfer_native_offsets(flex_dir):
    path = flex_dir / "conversation_transfer_native.json"
    expected = json.loads(path.read_text())["expected_segment_recording_offset_s"]
    conv = load_conversation(path)
    assert [s.worker for s in conv.segments] == ["alice", "bob"]
    windows = conv.windows()
    assert [w.segment_recording_offset for w in windows] == expected == [0, 158]
    assert windows[0].window == (0.0, 158.0)
    assert windows[1].window == (158.0, 435.0)
    assert all(w.note is None for w in windows)
    # With the recording's duration known, bob's window is clipped and says so.
    clipped = conv.windows(recording_duration=276)
    assert clipped[1].window == (158.0, 276.0)
    assert "after the recording ended" in clipped[1].note
    d = clipped[1].to_dict()
    assert d["start"] == "2026-11-02T15:06:43Z" and d["window"] == [158.0, 276.0]
    json.dumps([w.to_dict() for w in clipped])


def test_task_attributes_field_of_reservation_event(flex_dir):
    form = dict(urllib.parse.parse_qsl((flex_dir / "event_reservation_completed.form").read_text().strip()))
    ta = parse_task_attributes(form["TaskAttributes"], reservation_sid=form["ReservationSid"])
    assert ta.recording.start_time == T0
    assert ta.reservation_sid == "WR55555555555555555555555555555555"
    # the saved event body is accepted as a file too, ReservationSid included
    from_file = load_task_attributes(flex_dir / "event_reservation_completed.form")
    assert from_file.reservation_sid == ta.reservation_sid
    assert from_file.recording == ta.recording


def test_rfc2822_from_recording_resource_and_callback(flex_dir):
    resource = json.loads((flex_dir / "recording_resource.json").read_text())
    assert parse_time(resource["start_time"]) == T0
    form = dict(urllib.parse.parse_qsl((flex_dir / "recording_status_callback.form").read_text().strip()))
    assert parse_time(form["RecordingStartTime"]) == T0


@pytest.mark.parametrize("name", ["recording_resource.json", "recording_status_callback.form"])
def test_parse_recording_resource_and_callback(flex_dir, name):
    rec = parse_recording((flex_dir / name).read_text())
    assert rec.sid == "RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
    assert rec.call_sid == "CA1f0c6b2e8d4a4e9b9c3d2a1b0c9d8e7f"
    assert rec.start_time == T0 and rec.duration == 276.0 and rec.channels == 2
    assert rec.url.endswith("/Recordings/RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")
    assert rec.media.is_recording and rec.media.start_time == T0
    # the task's media and the recording agree on where the call starts
    ta = load_task_attributes(flex_dir / "task_inbound_native.json")
    assert ta.recording.url == rec.url and ta.recording.start_time == rec.start_time


def test_parse_recording_problems():
    with pytest.raises(MetadataError) as info:
        parse_recording({"RecordingSid": "RE1", "RecordingChannels": "1", "RecordingStatus": "absent",
                         "RecordingStartTime": "x", "RecordingDuration": "-3"})
    assert [p.path for p in info.value.problems] == [
        "RecordingUrl", "RecordingStartTime", "RecordingDuration", "RecordingChannels", "RecordingStatus"]
    assert "dual-channel" in info.value.message and "only completed recordings" in info.value.message
    with pytest.raises(MetadataError, match=r"media_url \(or uri\) is required"):
        parse_recording({"sid": "RE1", "start_time": "Mon, 02 Nov 2026 15:04:05 +0000"})
    rest = parse_recording({"uri": "/2010-04-01/Accounts/AC1/Recordings/RE1.json",
                            "start_time": "Mon, 02 Nov 2026 15:04:05 +0000", "duration": "12"})
    assert rest.url == "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"


def _invalid_cases():
    # Collected before fixtures run, so the location mirrors conftest's.
    root = Path(__file__).resolve().parents[2]
    flex = Path(os.environ.get("ANTIPHON_SHARED", root.parent / "shared")) / "flex"
    return sorted((flex / "invalid").glob("*.json")) or [pytest.param(None, marks=pytest.mark.skip)]


@pytest.mark.parametrize("path", _invalid_cases(), ids=lambda p: getattr(p, "name", "missing"))
def test_every_invalid_case_names_its_problem(flex_dir, path):
    expected = json.loads(path.read_text())["_expect_error"]
    with pytest.raises(MetadataError) as info:
        load_task_attributes(path)
    err = info.value
    assert expected in err.message
    assert any(expected in str(p) for p in err.problems)
    assert str(path) in err.message  # the file is named
    assert err.to_dict()["ok"] is False and err.to_dict()["status"] == 422
    assert any(expected in str(p) for p in validate_task_attributes(path.read_text()))


def test_invalid_dir_is_not_empty(flex_dir):
    assert len(list((flex_dir / "invalid").glob("*.json"))) >= 6


# -------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-02T15:04:05Z", T0),
        ("2026-11-02T15:04:05.000Z", T0),
        ("2026-11-02T15:04:05.250Z", T0 + timedelta(milliseconds=250)),
        ("2026-11-02T17:04:05+02:00", T0),
        ("2026-11-02T10:04:05-05:00", T0),
        ("2026-11-02T15:04:05", T0),  # no offset: UTC
        ("2026-11-02 15:04:05Z", T0),
        ("2026-11-02t15:04:05z", T0),
        ("2026-11-02T15:04:05.000+0000", T0),
        (1793631845000, T0),
        (1793631845250, T0 + timedelta(milliseconds=250)),
        (1793631845000.0, T0),
        ("1793631845000", T0),
        (" 1793631845000 ", T0),
        ("Mon, 02 Nov 2026 15:04:05 +0000", T0),
        ("Mon, 02 Nov 2026 10:04:05 -0500", T0),
        (datetime(2026, 11, 2, 16, 4, 5, tzinfo=timezone(timedelta(hours=1))), T0),
    ],
)
def test_parse_time_formats(value, expected):
    got = parse_time(value)
    assert got == expected
    assert got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("02/11/2026 3:04pm", "neither ISO 8601 nor epoch milliseconds"),
        ("", "is empty"),
        (None, "is empty"),
        (True, "must be a time"),
        ("2026-11-02", "date without a time of day"),
        ("20261102", "date without a time of day"),
        ("2026-13-02T15:04:05Z", "(month must be in 1..12)"),
        (1793631845, "looks like epoch seconds"),
        ("{{widgets.rec.StartTime}}", "unrendered template ({{widgets.rec.StartTime}})"),
        ([2026], "neither ISO 8601 nor epoch milliseconds"),
    ],
)
def test_parse_time_errors(value, fragment):
    with pytest.raises(MetadataError) as info:
        parse_time(value, field="start")
    assert fragment in info.value.message
    assert info.value.problems[0].path == "start"


def test_start_time_timezones_agree():
    iso_z = parse_task_attributes(attrs_with(media(start_time="2026-11-02T15:04:05Z")))
    offset = parse_task_attributes(attrs_with(media(start_time="2026-11-02T16:04:05+01:00")))
    epoch = parse_task_attributes(attrs_with(media(start_time=1793631845000)))
    assert iso_z.recording.start_time == offset.recording.start_time == epoch.recording.start_time == T0


# ----------------------------------------------------------------- channels


@pytest.mark.parametrize(
    "spec, names, roles",
    [
        ("customer,others", ("customer", "others"), ("customer", "agent")),
        ("agent,customer", ("agent", "customer"), ("agent", "customer")),
        (" Worker , Customer ", ("worker", "customer"), ("agent", "customer")),
        (["others", "customer"], ("others", "customer"), ("agent", "customer")),
        (("customer", "agent"), ("customer", "agent"), ("customer", "agent")),
    ],
)
def test_parse_channels(spec, names, roles):
    assert parse_channels(spec) == names
    assert channel_roles(names) == roles


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("customer", "must name two distinct channels"),
        ("customer,others,agent", "must name two distinct channels"),
        ("customer,customer", "both name the customer"),
        ("agent,others", "both name the agent side"),
        ("customer,bot", '"bot" is not a channel name'),
        ("", "is not a channel name"),
        (42, "must be a list of two channel names"),
    ],
)
def test_parse_channels_errors(spec, fragment):
    with pytest.raises(MetadataError) as info:
        parse_channels(spec)
    assert fragment in info.value.message


def test_channel_order_in_media_is_honoured():
    ta = parse_task_attributes(attrs_with(media(channels=["others", "customer"])))
    assert ta.recording.channels == ("others", "customer")
    assert ta.recording.roles() == ("agent", "customer")


def test_channels_default_to_customer_first():
    ta = parse_task_attributes(attrs_with(media(channels=None)))
    assert ta.recording.roles() == ("customer", "agent")


def test_media_roles_default_when_built_directly():
    m = Media(url=URL, type="VoiceRecording", start_time=T0, channels=("agent", "customer"), raw={})
    assert m.roles() == ("agent", "customer")
    assert Media(url=URL, type="VoiceRecording", start_time=T0).roles() == ("customer", "agent")


# --------------------------------------------------------------- validation


def test_every_problem_reported_at_once():
    data = attrs_with(
        media(type="Recording", start_time=None, channels=["customer", "bot"], url="ftp://x/y"),
        "not an object",
        reservation_attributes={"WR1": {"media": "x"}},
    )
    err, msgs = problems_of(data)
    paths = [p.path for p in err.problems]
    assert paths == [
        "media[0].type", "media[0].url", "media[0].start_time", "media[0].channels[1]",
        "media[1]", "reservation_attributes.WR1.media",
    ]
    assert "(6 problems)" in err.message
    assert all(m in err.message for m in msgs)
    assert validate_task_attributes(data) == err.problems


@pytest.mark.parametrize(
    "data, fragment",
    [
        ("{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not UTF-8"),
        ("[]", "must be a JSON object, not a list"),
        ("", "is not valid JSON"),
        ({"conversations": []}, "conversations must be an object"),
        ({"reservation_attributes": []}, "reservation_attributes must be an object keyed by reservation SID"),
        ({"reservation_attributes": {"WR1": 3}}, "reservation_attributes.WR1 must be an object"),
        (attrs_with(media(type=None)), 'media[0].type is required: set it to "VoiceRecording"'),
        (attrs_with(media(type="voicerecording")), "case-sensitive"),
        (attrs_with(media(url=None)), "media[0].url is required"),
        (attrs_with(media(url="")), "media[0].url is empty"),
        (attrs_with(media(url="s3://bucket/rec.wav")), "must be an http(s) URL or a local file path"),
        (attrs_with(media(url="https://")), "has no host"),
        (attrs_with(media(channels="customer")), "must name two distinct channels"),
        (attrs_with(media(channels={"1": "customer"})), "must be a list of two channel names"),
        (attrs_with(media(channels=["customer", 2])), "media[0].channels[1] must be a channel name string"),
        (attrs_with(media(channels=["customer", "customer"])), "both name the customer"),
        (attrs_with(media(start_time=1793631845)), "looks like epoch seconds"),
        (attrs_with(media(start_time="{{trigger.call.Timestamp}}")),
         "check the expression in the Send to Flex widget's Attributes"),
        ({"conversations": {"conversation_id": ["x"]}}, "conversations.conversation_id must be a string"),
    ],
)
def test_validation_messages(data, fragment):
    err, msgs = problems_of(data)
    assert any(fragment in m for m in msgs), msgs


def test_liquid_reports_each_expression_once():
    url = "https://api.twilio.com/{{widgets.rec.AccountSid}}/{{widgets.rec.Sid}}/{{widgets.rec.Sid}}"
    err, msgs = problems_of(attrs_with(media(url=url)))
    assert msgs == [
        "media[0].url still holds an unrendered template ({{widgets.rec.AccountSid}}): "
        "check the widget name in Send to Flex",
        "media[0].url still holds an unrendered template ({{widgets.rec.Sid}}): "
        "check the widget name in Send to Flex",
    ]


@pytest.mark.parametrize("url", ["https://example.com/r/RE1", "http://10.0.0.5/rec.wav", "/var/calls/a.wav",
                                 "calls/a.wav", "file:///var/calls/a.wav", "C:\\calls\\a.wav"])
def test_accepted_urls(url):
    assert parse_task_attributes(attrs_with(media(url=url))).recording.url == url


def test_url_provider_accepted_instead_of_url():
    entry = media(url=None)
    entry["url_provider"] = "https://recordings.example.com/provide"
    assert parse_task_attributes(attrs_with(entry)).recording.url == "https://recordings.example.com/provide"


def test_other_flex_media_types_are_kept_but_not_used():
    ta = parse_task_attributes(attrs_with(
        {"type": "Referenced", "url": "https://crm.example.com/case/1", "title": "Case"},
        media(),
    ))
    assert [m.type for m in ta.media] == ["Referenced", "VoiceRecording"]
    assert ta.media[0].channels == () and "roles" not in ta.media[0].to_dict()
    assert ta.recording.path == "media[1]"


def test_more_than_one_recording_notes_which_is_used():
    ta = parse_task_attributes(attrs_with(media(), media(url="https://example.com/second")))
    assert ta.recording.url == URL
    assert ta.notes == ["2 VoiceRecording entries: media[0] is used, media[1] ignored"]


def test_no_media_is_fine_unless_a_recording_is_required():
    ta = parse_task_attributes({"type": "inbound", "call_sid": "CA1"})
    assert ta.recording is None and ta.media == []
    err, msgs = problems_of({"type": "inbound"}, require_recording=True)
    assert "conversations.media has no VoiceRecording entry" in msgs[0]


def test_extra_fields_tolerated_and_kept():
    data = attrs_with(media(title="Call", extra={"a": 1}), custom_field=1)
    data["conversations"]["segment_link"] = "https://crm.example.com/seg/1"
    data["conversations"]["virtual"] = "Yes"
    ta = parse_task_attributes(json.dumps(data).encode())
    assert ta.raw["custom_field"] == 1
    assert ta.recording.raw["title"] == "Call"
    assert ta.segment_link == "https://crm.example.com/seg/1"
    assert ta.conversations["virtual"] == "Yes"


# ------------------------------------------------------- reservation override


def _two_level():
    return {
        "conversations": {"media": [media(url="https://example.com/task")]},
        "reservation_attributes": {
            "WR1": {"media": [media(url="https://example.com/wr1", start_time=1793631845000)]},
            "WR2": {"media": [media(url="https://example.com/wr2", channels=["agent", "customer"])]},
        },
    }


def test_reservation_media_overrides_task_media():
    data = _two_level()
    assert parse_task_attributes(data, reservation_sid="WR1").recording.url == "https://example.com/wr1"
    wr2 = parse_task_attributes(data, reservation_sid="WR2")
    assert wr2.recording.url == "https://example.com/wr2" and wr2.recording.roles() == ("agent", "customer")
    assert set(wr2.reservation_media) == {"WR1", "WR2"}


def test_reservation_without_media_falls_back_to_task_media():
    ta = parse_task_attributes(_two_level(), reservation_sid="WR9")
    assert ta.recording.url == "https://example.com/task"
    assert ta.reservation_sid == "WR9"
    assert "WR9 has no media" in ta.notes[0]


def test_no_reservation_given_uses_task_media_and_notes_it():
    ta = parse_task_attributes(_two_level())
    assert ta.recording.url == "https://example.com/task"
    assert "WR1, WR2" in ta.notes[0]


def test_several_reservations_without_task_media_need_a_choice():
    data = _two_level()
    del data["conversations"]
    ta = parse_task_attributes(data)
    assert ta.recording is None and "pass a reservation SID" in ta.notes[0]


def test_broken_reservation_media_is_reported_even_when_unused():
    data = _two_level()
    data["reservation_attributes"]["WR2"]["media"][0]["type"] = "Recording"
    err, msgs = problems_of(data, reservation_sid="WR1")
    assert msgs == ['reservation_attributes.WR2.media[0].type must be "VoiceRecording" for a call recording: '
                    'got "Recording"']


# ------------------------------------------------------------------ segments


def seg(start, end, **kw):
    return Segment(task_sid=kw.get("task_sid"), reservation_sid=None, worker=kw.get("worker"), queue=None,
                   start=start, end=end)


def at(s):
    return T0 + timedelta(seconds=s)


def test_windows_inside_the_recording():
    ws = segment_windows(T0, 300.0, [seg(at(0), at(100)), seg(at(100), at(300))])
    assert [(w.segment_recording_offset, w.window, w.note) for w in ws] == [
        (0.0, (0.0, 100.0), None), (100.0, (100.0, 300.0), None)]


def test_windows_across_timezones():
    start = datetime(2026, 11, 2, 16, 4, 5, tzinfo=timezone(timedelta(hours=1)))  # == T0
    ws = segment_windows(start, None, [seg(at(42.5), at(60))])
    assert ws[0].segment_recording_offset == 42.5 and ws[0].window == (42.5, 60.0)


def test_segment_before_the_recording():
    w = segment_windows(T0, 300.0, [seg(at(-100), at(-10))])[0]
    assert w.window is None and w.segment_recording_offset is None
    assert "10 s before the recording started" in w.note


def test_segment_after_the_recording():
    w = segment_windows(T0, 300.0, [seg(at(400), at(500))])[0]
    assert w.window is None and w.segment_recording_offset is None
    assert "100 s after the recording ended" in w.note


def test_segment_ending_before_it_starts():
    w = segment_windows(T0, 300.0, [seg(at(50), at(40))])[0]
    assert w.window is None and "ends before it starts" in w.note


def test_segment_partly_before_is_clipped_with_note():
    w = segment_windows(T0, 300.0, [seg(at(-5), at(20))])[0]
    assert w.segment_recording_offset == 0.0 and w.window == (0.0, 20.0)
    assert "started 5 s before the recording" in w.note


def test_segment_end_clipped_to_duration():
    far = segment_windows(T0, 100.0, [seg(at(50), at(130))])[0]
    assert far.window == (50.0, 100.0) and "30 s after the recording ended" in far.note
    near = segment_windows(T0, 100.0, [seg(at(50), at(100.6))])[0]  # rounding of whole seconds
    assert near.window == (50.0, 100.0) and near.note is None


def test_segment_windows_accepts_any_time_format_and_rejects_bad_input():
    ws = segment_windows("2026-11-02T15:04:05Z", "90", [seg("1793631875000", "Mon, 02 Nov 2026 15:05:05 +0000")])
    assert ws[0].window == (30.0, 60.0)
    with pytest.raises(MetadataError, match=r"segments\[0\]\.start is neither ISO 8601"):
        segment_windows(T0, None, [seg("yesterday", None)])
    with pytest.raises(MetadataError, match="recording_duration must be a number of seconds"):
        segment_windows(T0, -1, [])
    with pytest.raises(MetadataError, match="recording_duration must be a number of seconds"):
        segment_windows(T0, "long", [])


def test_open_segment():
    assert segment_windows(T0, 90.0, [seg(at(30), None)])[0].window == (30.0, 90.0)
    w = segment_windows(T0, None, [seg(at(30), None)])[0]
    assert w.segment_recording_offset == 30.0 and w.window is None and "duration is unknown" in w.note


def test_parse_conversation_epoch_and_iso_and_errors():
    conv = parse_conversation({
        "recording": media(start_time="Mon, 02 Nov 2026 15:04:05 +0000"),
        "segments": [{"task_sid": "WT1", "worker": "alice", "start": 1793631845000, "end": "2026-11-02T15:05:05Z",
                      "team": "East"}],
    })
    assert conv.segments[0].attributes == {"team": "East"}
    assert conv.windows()[0].window == (0.0, 60.0)

    with pytest.raises(MetadataError) as info:
        parse_conversation({"recording": media(start_time=None),
                            "segments": [{"end": "x"}, 3]})
    paths = [p.path for p in info.value.problems]
    assert paths == ["recording.start_time", "segments[0].start", "segments[0].end", "segments[1]"]
    with pytest.raises(MetadataError, match="segments must be a list"):
        parse_conversation({"recording": media()})


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(MetadataError, match="no such file") as info:
        load_task_attributes(tmp_path / "missing.json")
    assert "missing.json" in info.value.message
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(MetadataError, match=r"bad\.json: invalid Flex task attributes: task attributes is not valid"):
        load_task_attributes(bad)
    with pytest.raises(MetadataError, match="bad.json"):
        load_conversation(bad)


# ----------------------------------------------------------------------- CLI


def test_cli_ok_human(flex_dir):
    res = CliRunner().invoke(main, ["validate", str(flex_dir / "task_inbound_native.json")])
    assert res.exit_code == 0, res.output
    assert "ok: VoiceRecording from 2026-11-02T15:04:05Z, channel 1 customer, channel 2 agent" in res.output


def test_cli_ok_json(flex_dir):
    res = CliRunner().invoke(main, ["validate", "--json", str(flex_dir / "task_transfer_plugin_2.json"),
                                    "--reservation", "WR22222222222222222222222222222222"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["ok"] is True and out["recording"]["start_time"] == "2026-11-02T15:06:43Z"
    assert out["media"][0]["roles"] == ["customer", "agent"]


def test_cli_every_invalid_case(flex_dir):
    paths = sorted((flex_dir / "invalid").glob("*.json"))
    res = CliRunner().invoke(main, ["validate", *map(str, paths)])
    assert res.exit_code == 1
    for path in paths:
        expected = json.loads(path.read_text())["_expect_error"]
        assert f"{path}: {expected}" in res.output
    assert f"{len(paths)} of {len(paths)} files have problems" in res.output


def test_cli_json_error_shape(flex_dir):
    res = CliRunner().invoke(main, ["validate", "--json", str(flex_dir / "invalid" / "wrong_type.json")])
    assert res.exit_code == 1
    out = json.loads(res.output)
    assert out["ok"] is False and out["status"] == 422
    assert out["errors"] == [{"path": "media[0].type",
                              "message": 'media[0].type must be "VoiceRecording" for a call recording: got "Recording"'}]
    assert 'media[0].type must be "VoiceRecording"' in out["error"]


def test_cli_several_files_json(flex_dir, tmp_path):
    good = flex_dir / "task_inbound_native.json"
    res = CliRunner().invoke(main, ["validate", "--json", str(good), str(tmp_path / "nope.json")])
    assert res.exit_code == 1
    out = json.loads(res.output)
    assert out["ok"] is False and out["error"] == "1 of 2 files have problems"
    assert out["errors"] == [{"file": str(tmp_path / "nope.json"), "path": "", "message": "no such file"}]
    assert [f["ok"] for f in out["files"]] == [True, False]
    res = CliRunner().invoke(main, ["validate", "--json", str(good), str(good)])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True


def test_cli_reservation_choice_and_stdin(flex_dir):
    text = (flex_dir / "task_transfer_plugin_1.json").read_text()
    res = CliRunner().invoke(main, ["validate", "-", "--reservation", "WR9", "--reservation",
                                    "WR11111111111111111111111111111111"], input=text)
    assert res.exit_code == 0, res.output
    assert "<stdin>: ok" in res.output and "reservation WR11111111111111111111111111111111" in res.output


def test_validate_file_missing_recording(tmp_path):
    p = tmp_path / "chat.json"
    p.write_text(json.dumps({"conversations": {"media": [{"type": "Referenced", "url": "https://x.example"}]}}))
    result = validate_file(p)
    assert not result.ok and "no VoiceRecording entry" in str(result.problems[0])


def test_cli_real_subprocess(flex_dir):
    exe = Path(sys.executable).with_name("antiphon")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from antiphon.cli import main; main()"]
    ok = subprocess.run([*cmd, "validate", str(flex_dir / "task_inbound_native.json")],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "channel 1 customer" in ok.stdout
    bad = subprocess.run([*cmd, "validate", "--json", str(flex_dir / "invalid" / "missing_start_time.json")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["errors"][0]["path"] == "media[0].start_time"


# ---------------------------------------------------------------------- docs


def test_docs_python_examples_run_and_print_what_they_say(capsys):
    doc = Path(__file__).resolve().parents[2] / "docs" / "flex.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        expected = [line[2:] for line in block.splitlines() if line.startswith("# ")]
        exec(compile(block, str(doc), "exec"), {})
        assert capsys.readouterr().out.splitlines() == expected
