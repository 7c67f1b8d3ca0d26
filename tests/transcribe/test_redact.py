"""Redaction: personal data in transcripts (written and spoken digits) and in the audio."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from antiphon.errors import AntiphonError
from antiphon.redact import (
    Redaction,
    RedactOptions,
    luhn_valid,
    redact_audio,
    redact_recording,
    redact_transcript,
)
from antiphon.transcribe import Transcript, Turn, Word, transcribe

from .conftest import build_call

PARTIES = {"customer": 0, "agent": 1}


def script(*turns) -> Transcript:
    """Turns of ``(party, start, text)``, one word every 0.4 s."""
    out = []
    for party, start, text in turns:
        ws = [Word(start + 0.4 * i, start + 0.4 * i + 0.3, " " + w) for i, w in enumerate(text.split())]
        out.append(Turn(party, ws[0].start, ws[-1].end, text, ws))
    return Transcript("test", out)


def redacted_text(tr: Transcript) -> str:
    red, _ = redact_transcript(tr)
    return " | ".join(f"{t.party}: {t.text}" for t in red.turns)


# -- transcript ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "turns, expected",
    [
        ([("agent", 0, "Can I have your account number please?"), ("customer", 3, "Sure, it is four five seven two nine one.")],
         "agent: Can I have your account number please? | customer: Sure, it is [PII:ACCOUNT_NUMBER]."),
        ([("agent", 0, "What is the new phone number?"), ("customer", 3, "It is five five five, two one eight, three three four zero.")],
         "agent: What is the new phone number? | customer: It is [PII:PHONE]."),
        ([("agent", 0, "Can I get the card number?"), ("customer", 3, "Yes it's 4111 1111 1111 1111.")],
         "agent: Can I get the card number? | customer: Yes it's [PII:CARD_NUMBER]."),
        # Whisper's formatting: digits glued with dashes, no cue at all, but a valid Luhn checksum
        ([("customer", 0, "my number is 4539-14 88 0343 6467 and that's it")],
         "customer: my number is [PII:CARD_NUMBER] and that's it"),
        ([("agent", 0, "and the security code on the back?"), ("customer", 3, "It's 7 3 9.")],
         "agent: and the security code on the back? | customer: It's [PII:CVV]."),
        ([("agent", 0, "And the expiration date?"), ("customer", 3, "oh nine twenty seven")],
         "agent: And the expiration date? | customer: [PII:EXPIRY]"),
        ([("agent", 0, "When does the card expire?"), ("customer", 3, "September twenty twenty seven.")],
         "agent: When does the card expire? | customer: [PII:EXPIRY]."),
        ([("agent", 0, "Can you confirm the last four of your social?"), ("customer", 3, "Sure, six six two one.")],
         "agent: Can you confirm the last four of your social? | customer: Sure, [PII:SSN]."),
        ([("customer", 0, "it's 123-45-6789")], "customer: it's [PII:SSN]"),
        ([("customer", 0, "email me at john dot smith at gmail dot com thanks")],
         "customer: email me at [PII:EMAIL] thanks"),
        ([("customer", 0, "my email is jane.doe@example.org.")], "customer: my email is [PII:EMAIL]."),
        ([("customer", 0, "call me on 415 555 0132 tomorrow")], "customer: call me on [PII:PHONE] tomorrow"),
        ([("agent", 0, "and your PIN?"), ("customer", 2, "one nine eight four")],
         "agent: and your PIN? | customer: [PII:PIN]"),
        ([("agent", 0, "card number please"), ("customer", 2, "four five seven two double seven oh one")],
         "agent: card number please | customer: [PII:CARD_NUMBER]"),
    ],
)
def test_personal_data_is_replaced(turns, expected):
    assert redacted_text(script(*turns)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "your balance is one hundred and thirty four dollars",
        "your balance is $1,250.00 and the appointment is at 11 a.m. on the 5th",
        "I called 3 times about 2 accounts over 10 days",
        "which one would you like, the first one or the second one",
        "it was 2019 or 2020 I think",
        "we had 50 percent off for two to three months",
    ],
)
def test_ordinary_numbers_are_left_alone(text):
    assert redacted_text(script(("agent", 0, text))) == f"agent: {text}"


def test_digits_spread_over_pauses_and_turns_are_one_number():
    tr = script(("agent", 0, "card number please"), ("customer", 3, "four five seven two"),
                ("customer", 5.5, "nine one eight three"), ("customer", 8, "four four one zero, zero zero zero seven"))
    red, found = redact_transcript(tr)
    assert [t.text for t in red.turns[1:]] == ["[PII:CARD_NUMBER]"] * 3
    assert {r.type for r in found} == {"CARD_NUMBER"} and len(found) == 3


def test_redactions_carry_times_party_and_length_but_not_the_text():
    tr = script(("agent", 0, "account number?"), ("customer", 2, "It's 88 31 90 22."))
    red, found = redact_transcript(tr)
    assert found == [Redaction("ACCOUNT_NUMBER", "customer", 2.4, 3.9, len("88 31 90 22"))]
    assert found[0].to_dict() == {"type": "ACCOUNT_NUMBER", "party": "customer", "start": 2.4, "end": 3.9,
                                  "original_len": 11}
    assert "88" not in json.dumps(red.to_dict())
    # the input transcript is not changed
    assert tr.turns[1].text == "It's 88 31 90 22."
    assert [w.word for w in red.turns[1].words] == [" It's", " [PII:ACCOUNT_NUMBER]."]


def test_types_can_be_limited():
    tr = script(("customer", 0, "my email is jane@example.org and my phone is 415 555 0132"))
    red, found = redact_transcript(tr, RedactOptions(types=("EMAIL",)))
    assert red.turns[0].text == "my email is [PII:EMAIL] and my phone is 415 555 0132"


def test_luhn():
    assert luhn_valid("4111111111111111") and luhn_valid("4539148803436467")
    assert not luhn_valid("4111111111111112") and not luhn_valid("1234") and not luhn_valid("abc")


# -- audio ----------------------------------------------------------------------------------------

def stereo(seconds=6.0, rate=8000, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, (int(seconds * rate), 2))).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "ULAW", "ALAW"])
def test_audio_redaction_silences_the_span_and_keeps_the_other_channel(tmp_path, subtype):
    src = tmp_path / "in.wav"
    sf.write(str(src), stereo(), 8000, subtype=subtype)
    dst = tmp_path / "out.wav"
    reds = [Redaction("CARD_NUMBER", "customer", 1.0, 2.0, 10), Redaction("CVV", "agent", 4.0, 4.5, 3)]
    redact_audio(src, reds, dst, PARTIES, padding=0.1, block_seconds=0.7)
    info = sf.info(str(dst))
    assert (info.samplerate, info.channels, info.subtype) == (8000, 2, subtype)
    dtype = "int16" if subtype in ("PCM_16", "ULAW", "ALAW") else "int32" if subtype.startswith("PCM") else "float32"
    a, _ = sf.read(str(src), dtype=dtype)
    b, _ = sf.read(str(dst), dtype=dtype)
    cust = np.zeros(len(a), bool)
    cust[int(0.9 * 8000):int(np.ceil(2.1 * 8000))] = True
    agent = np.zeros(len(a), bool)
    agent[int(3.9 * 8000):int(np.ceil(4.6 * 8000))] = True
    quiet = 8 if subtype == "ALAW" else 0  # A-law has no zero: its quietest code decodes to +-8
    assert np.all(np.abs(b[cust, 0]) <= quiet) and np.all(np.abs(b[agent, 1]) <= quiet)
    # every other sample is bit-identical
    assert np.array_equal(b[~cust, 0], a[~cust, 0])
    assert np.array_equal(b[~agent, 1], a[~agent, 1])


def test_tone_mode_covers_the_span_with_a_tone(tmp_path):
    src = tmp_path / "in.flac"
    sf.write(str(src), stereo(), 8000, subtype="PCM_16")
    dst = tmp_path / "out.flac"
    redact_audio(src, [{"type": "SSN", "party": "customer", "start": 2.0, "end": 3.0, "original_len": 11}],
                 dst, PARTIES, mode="tone", padding=0.0)
    b, _ = sf.read(str(dst))
    seg = b[int(2.0 * 8000) + 10:int(3.0 * 8000) - 10, 0]
    spectrum = np.abs(np.fft.rfft(seg))
    freq = np.fft.rfftfreq(len(seg), 1 / 8000)[np.argmax(spectrum)]
    assert abs(freq - 1000) < 5
    assert 20 * np.log10(np.sqrt(2) * np.sqrt(np.mean(seg ** 2))) == pytest.approx(-20, abs=0.5)


def test_the_original_is_never_overwritten(tmp_path):
    src = tmp_path / "call.wav"
    sf.write(str(src), stereo(), 8000)
    before = src.read_bytes()
    with pytest.raises(AntiphonError, match="refusing to overwrite the original"):
        redact_audio(src, [], src, PARTIES)
    with pytest.raises(AntiphonError, match="refusing to overwrite the original"):
        redact_audio(src, [], tmp_path / "." / "call.wav", PARTIES)
    assert src.read_bytes() == before
    with pytest.raises(AntiphonError, match="is a directory"):
        redact_audio(src, [], tmp_path, PARTIES)
    with pytest.raises(AntiphonError, match="cannot write .xyz"):
        redact_audio(src, [], tmp_path / "out.xyz", PARTIES)
    with pytest.raises(AntiphonError, match="party 'caller' has no channel"):
        redact_audio(src, [Redaction("SSN", "caller", 1, 2, 3)], tmp_path / "o.wav", PARTIES)
    with pytest.raises(AntiphonError, match="mode must be"):
        redact_audio(src, [], tmp_path / "o.wav", PARTIES, mode="beep")
    assert not list(tmp_path.glob(".redacting-*"))


# -- spoken digits, end to end ------------------------------------------------------------------------

CARD = "4539148803436467"  # passes the Luhn check
SPOKEN_CARD = "four five three nine, one four eight eight, zero three four three, six four six seven."


@pytest.fixture(scope="module")
def digits_call(tmp_path_factory, espeak, whisper):
    path, speech = build_call(tmp_path_factory.mktemp("pii") / "digits.wav", espeak, [
        ("agent", 0.5, "Thank you. Can I have the card number, please?"),
        ("customer", 4.0, f"Sure. It is {SPOKEN_CARD}"),
        ("agent", 13.0, "And the security code on the back of the card?"),
        ("customer", 16.5, "Seven three nine."),
        ("agent", 19.0, "What is your social security number?"),
        ("customer", 22.0, "It is one two three, four five, six seven eight nine."),
        ("agent", 28.0, "Thank you, that is all I need."),
    ])
    tr = transcribe(path, speech, PARTIES, whisper)
    return path, speech, tr


def digits_in(text: str) -> str:
    words = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
             "six": "6", "seven": "7", "eight": "8", "nine": "9"}
    out = ""
    for w in re.findall(r"[a-z]+|\d", text.lower()):
        out += words.get(w, w if w.isdigit() else "")
    return out


def test_spoken_card_security_code_and_ssn_are_redacted(digits_call):
    _, _, tr = digits_call
    assert len(digits_in(tr.text_of("customer"))) >= 20  # the model heard the digits
    red, found = redact_transcript(tr)
    types = [r.type for r in found]
    assert "CARD_NUMBER" in types and "SSN" in types and "CVV" in types
    assert all(r.party == "customer" for r in found)
    assert digits_in(red.text_of("customer")) == ""
    assert red.text_of("agent") == tr.text_of("agent")


def test_redacted_audio_is_silent_there_and_keeps_the_agent_bit_identical(digits_call, tmp_path, whisper):
    path, speech, tr = digits_call
    red, found = redact_transcript(tr)
    out = redact_audio(path, found, tmp_path / "digits.redacted.wav", PARTIES)
    a, rate = sf.read(str(path), dtype="int16")
    b, _ = sf.read(str(out), dtype="int16")
    assert np.array_equal(a[:, 1], b[:, 1])
    for r in found:
        s, e = int((r.start - 0.2) * rate), int((r.end + 0.2) * rate)
        assert not np.any(b[max(0, s):e, 0])
    # what is left of the customer's speech no longer says the numbers
    again = transcribe(out, speech, PARTIES, whisper)
    left = digits_in(again.text_of("customer"))
    assert CARD[:8] not in left and CARD[8:] not in left and "6789" not in left and len(left) <= 3, again.text_of("customer")


# -- library entry point and CLI --------------------------------------------------------------------------

def saved_transcript(tmp_path) -> tuple:
    src = tmp_path / "call.wav"
    sf.write(str(src), stereo(8.0), 8000)
    tr = script(("agent", 0.5, "What is the card number?"), ("customer", 3.0, "4111 1111 1111 1111 thanks"))
    tpath = tmp_path / "call.json"
    tpath.write_text(json.dumps(tr.to_dict()))
    return src, tpath


def test_redact_recording_with_a_saved_transcript_and_swapped_channels(tmp_path):
    src, tpath = saved_transcript(tmp_path)
    res = redact_recording(src, tmp_path / "out.wav", transcript=json.loads(tpath.read_text()),
                           channels="agent,customer")
    assert res.channels == {"agent": 0, "customer": 1}
    assert [r.type for r in res.redactions] == ["CARD_NUMBER"]
    b, _ = sf.read(str(res.audio_path), dtype="int16")
    a, _ = sf.read(str(src), dtype="int16")
    assert np.array_equal(a[:, 0], b[:, 0])  # the agent's channel (0) untouched
    assert not np.any(b[int(3.2 * 8000):int(4.2 * 8000), 1])


def test_cli_redact_writes_audio_and_redacted_transcript(tmp_path):
    from antiphon.cli import main

    src, tpath = saved_transcript(tmp_path)
    out, tout = tmp_path / "call.redacted.wav", tmp_path / "redacted.json"
    res = CliRunner().invoke(main, ["redact", str(src), "-o", str(out), "--transcript", str(tpath),
                                    "--transcript-out", str(tout)])
    assert res.exit_code == 0, res.output
    assert "1 redaction" in res.output and "CARD_NUMBER" in res.output
    doc = json.loads(tout.read_text())
    assert doc["redactions"][0]["type"] == "CARD_NUMBER"
    assert "4111" not in tout.read_text()
    assert doc["transcript"]["turns"][1]["text"] == "[PII:CARD_NUMBER] thanks"
    vtt = tmp_path / "redacted.vtt"
    res = CliRunner().invoke(main, ["redact", str(src), "-o", str(out), "--transcript", str(tpath),
                                    "--transcript-out", str(vtt), "--mode", "tone"])
    assert res.exit_code == 0 and "<v Customer>[PII:CARD_NUMBER] thanks" in vtt.read_text()


def test_cli_redact_refuses_to_overwrite_and_bad_transcripts(tmp_path):
    from antiphon.cli import main

    src, tpath = saved_transcript(tmp_path)
    before = src.read_bytes()
    res = CliRunner().invoke(main, ["redact", str(src), "-o", str(src), "--transcript", str(tpath)])
    assert res.exit_code == 2 and "refusing to overwrite the original" in res.output
    assert src.read_bytes() == before
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": [{"start": 1}]}')
    res = CliRunner().invoke(main, ["redact", str(src), "--transcript", str(bad), "--json"])
    assert res.exit_code == 2
    err = json.loads(res.output)
    assert err["ok"] is False and "transcript.turns[0]" in err["error"]
