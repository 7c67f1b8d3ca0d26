"""The pipeline end to end: real calls in, Flex-named metrics and segments out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from antiphon.analysis import SCHEMA, analyze
from antiphon.cli import main
from antiphon.errors import AudioError, MetadataError
from antiphon.samples import sample_calls

HV = "hvb_0002f70f7386445b"


def truth_talk(truth_path: Path) -> dict[str, float]:
    from antiphon.timeline import Timeline

    d = json.loads(truth_path.read_text())
    per = {"customer": [], "agent": []}
    for s in d["segments"]:
        if s.get("nonspeech_only"):
            continue
        per["customer" if s["channel"] == 0 else "agent"].append((s["start_s"], s["end_s"]))
    return {k: Timeline(v).duration() for k, v in per.items()}


@pytest.fixture(scope="module")
def hv_result(calls_dir):
    return analyze(calls_dir / "harper-valley" / f"{HV}.wav")


def test_json_shape(hv_result):
    d = hv_result.to_dict()
    assert d["schema"] == SCHEMA
    rec = d["recording"]
    assert rec["channel_roles"] == ["customer", "agent"]
    assert rec["sample_rate"] == 8000 and rec["duration"] == pytest.approx(51.11, abs=0.01)
    assert set(d["speech"]) == {"customer", "agent"}
    for ivs in d["speech"].values():
        assert ivs and all(0 <= s < e <= rec["duration"] + 1e-6 for s, e in ivs)
    m = d["metrics"]
    for key in (
        "customer_talk_time", "agent_talk_time", "talk_time", "crosstalk_time", "silence_time",
        "longest_talk_by_customer", "longest_talk_by_agent",
        "longest_silence_before_agent", "longest_silence_before_customer",
        "silences", "interruptions",
    ):
        assert key in m, key
    assert d["segments"] == [] and isinstance(d["warnings"], list)
    json.dumps(d)  # JSON-able throughout


def test_talk_times_close_to_human_truth(hv_result, calls_dir):
    truth = truth_talk(calls_dir / "harper-valley" / f"{HV}.truth.json")
    m = hv_result.metrics
    for party in ("customer", "agent"):
        assert m[f"{party}_talk_time"] == pytest.approx(truth[party], rel=0.10), party
    # interval algebra holds on the real result
    assert m["talk_time"] == pytest.approx(
        m["customer_talk_time"] + m["agent_talk_time"] - m["crosstalk_time"], abs=0.01)
    assert m["silence_time"] == pytest.approx(51.11 - m["talk_time"], abs=0.01)


def test_channel_order_swaps_parties(calls_dir, hv_result):
    swapped = analyze(calls_dir / "harper-valley" / f"{HV}.wav", channels="agent,customer")
    assert swapped.roles == ("agent", "customer")
    assert swapped.metrics["customer_talk_time"] == hv_result.metrics["agent_talk_time"]
    assert swapped.metrics["agent_talk_time"] == hv_result.metrics["customer_talk_time"]


def test_task_attributes_set_channel_order_and_start(tmp_path, calls_dir, hv_result):
    attrs = {"conversations": {"media": [{
        "url": "https://example.com/r/RE1", "type": "VoiceRecording",
        "start_time": 1793631845000, "channels": ["others", "customer"]}]}}
    p = tmp_path / "attrs.json"
    p.write_text(json.dumps(attrs))
    r = analyze(calls_dir / "harper-valley" / f"{HV}.wav", task=p)
    assert r.roles == ("agent", "customer")
    assert r.to_dict()["recording"]["start_time"].startswith("2026-11-02T15:04:05")
    assert r.metrics["agent_talk_time"] == hv_result.metrics["customer_talk_time"]


def test_segments_get_offsets_and_their_own_metrics(tmp_path, calls_dir, hv_result):
    conv = {
        "recording": {"url": "https://example.com/r/RE1", "type": "VoiceRecording",
                      "start_time": "2026-11-02T15:04:05Z", "channels": ["customer", "others"]},
        "segments": [
            {"task_sid": "WT1", "reservation_sid": "WR1", "worker": "alice", "queue": "Support",
             "start": "2026-11-02T15:04:05Z", "end": "2026-11-02T15:04:30Z"},
            {"task_sid": "WT2", "reservation_sid": "WR2", "worker": "bob", "queue": "Escalations",
             "start": "2026-11-02T15:04:30Z", "end": "2026-11-02T15:05:30Z"},
            {"task_sid": "WT3", "reservation_sid": "WR3", "worker": "carol", "queue": "Late",
             "start": "2026-11-02T16:00:00Z", "end": "2026-11-02T16:01:00Z"},
        ],
    }
    p = tmp_path / "conv.json"
    p.write_text(json.dumps(conv))
    r = analyze(calls_dir / "harper-valley" / f"{HV}.wav", conversation=p).to_dict()
    s1, s2, s3 = r["segments"]
    assert s1["segment_recording_offset"] == 0 and s2["segment_recording_offset"] == 25
    assert s2["window"][1] == pytest.approx(51.11, abs=0.01)  # clipped to the recording
    # The two windows partition the call: their talk times add up to the whole.
    for key in ("customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time"):
        assert s1["metrics"][key] + s2["metrics"][key] == pytest.approx(r["metrics"][key], abs=0.01), key
    # A segment outside the recording is a note, not a crash.
    assert s3["window"] is None and s3["metrics"] is None and s3["note"]
    assert any("WR3" in w for w in r["warnings"])


def test_duplicated_mono_is_reported(wav_writer, calls_dir):
    import soundfile as sf

    data, sr = sf.read(str(calls_dir / "harper-valley" / f"{HV}.wav"))
    mono = data[:, 0] + data[:, 1]
    path = wav_writer("dup.wav", np.stack([mono, mono], axis=1) * 0.5, sample_rate=sr)
    r = analyze(path)
    assert any("same signal" in w and "meaningless" in w for w in r.warnings)


def test_bad_file_is_a_clear_error(tmp_path):
    p = tmp_path / "x.wav"
    p.write_text("hello")
    with pytest.raises(AudioError, match="x.wav: not a recognised audio file"):
        analyze(p)


def test_bad_task_attributes_are_a_clear_error(tmp_path, flex_dir, calls_dir):
    with pytest.raises(MetadataError) as exc:
        analyze(calls_dir / "harper-valley" / f"{HV}.wav", task=flex_dir / "invalid" / "wrong_type.json")
    assert 'media[0].type must be "VoiceRecording"' in str(exc.value.problems[0])


# -- the command line ---------------------------------------------------------

def test_cli_json_lines_for_several_files(calls_dir):
    files = [str(calls_dir / "harper-valley" / f"{HV}.wav"), str(sample_calls()[1].audio)]
    res = CliRunner().invoke(main, ["analyze", *files, "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.output.splitlines()]
    assert [Path(d["recording"]["path"]).name for d in lines] == [Path(f).name for f in files]


def test_cli_human_summary(calls_dir):
    res = CliRunner().invoke(main, ["analyze", str(calls_dir / "harper-valley" / f"{HV}.wav")])
    assert res.exit_code == 0, res.output
    assert "customer_talk_time" in res.output and "channel 1 = customer" in res.output


def test_cli_one_bad_file_does_not_stop_the_others(tmp_path, calls_dir):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"\0" * 100)
    good = calls_dir / "harper-valley" / f"{HV}.wav"
    res = CliRunner().invoke(main, ["analyze", str(bad), str(good), "--json"])
    assert res.exit_code == 2
    first, second = (json.loads(x) for x in res.output.splitlines())
    assert first["ok"] is False and "bad.wav" in first["error"] and first["path"] == str(bad)
    assert second["schema"] == SCHEMA


def test_cli_errors_have_no_traceback(tmp_path):
    mono = tmp_path / "mono.wav"
    import soundfile as sf

    sf.write(str(mono), np.zeros(8000), 8000)
    proc = subprocess.run(
        [sys.executable, "-m", "antiphon", "analyze", str(mono)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "mono recording" in proc.stderr and "Traceback" not in proc.stderr
