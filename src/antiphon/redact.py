"""Stage: redaction of spoken personal data, in the transcript and the audio.

:func:`redact_transcript` finds card numbers (also spoken digit by digit:
"four five seven two ..."), card security codes and expiry dates, US social
security numbers, phone numbers, e-mail addresses, account numbers and PINs,
and replaces the words with ``[PII:TYPE]``. Digits are read through
Whisper's formatting ("4572-91", "4, 5, 7") and across words, pauses and turns
of the same party; what they are is decided by what was asked just before
("can I have the card number?", "and the security code?") and, for card
numbers, the Luhn checksum.

:func:`redact_audio` writes a copy of the recording in which the time spans of
those words are silenced (or covered with a tone) on the channel that spoke
them. The other channel is copied sample for sample, the recording is
streamed in blocks, and the original is never overwritten.

>>> red, found = redact_transcript(transcript)                    # doctest: +SKIP
>>> redact_audio("call.wav", found, "call.redacted.wav",          # doctest: +SKIP
...              channels={"customer": 0, "agent": 1})
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .errors import AntiphonError
from .transcribe import Transcript, Turn, Word

__all__ = [
    "Redaction",
    "RedactOptions",
    "RedactionResult",
    "PII_TYPES",
    "redact_transcript",
    "redact_audio",
    "redact_recording",
    "luhn_valid",
]

#: Types of personal data found, as they appear in ``[PII:TYPE]``.
PII_TYPES = ("CARD_NUMBER", "CVV", "EXPIRY", "SSN", "PHONE", "EMAIL", "ACCOUNT_NUMBER", "PIN", "NUMBER")


@dataclass(frozen=True)
class Redaction:
    """One redacted span: what it was, who said it and when (seconds)."""

    type: str
    party: str
    start: float
    end: float
    original_len: int  # characters of the redacted text (the text itself is never kept)

    def to_dict(self) -> dict:
        return {"type": self.type, "party": self.party, "start": round(self.start, 3),
                "end": round(self.end, 3), "original_len": self.original_len}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Redaction":
        return cls(str(d["type"]), str(d["party"]), float(d["start"]), float(d["end"]),
                   int(d.get("original_len", 0)))


@dataclass
class RedactOptions:
    """What counts as personal data, and how the audio is covered.

    Attributes:
        context_seconds: how far back (seconds, both parties) a cue such as
            "card number" or "security code" is looked for before a number.
        max_digit_gap: digits said with pauses up to this long (seconds) are
            one number, even across turns ("4572 ... 9183 ...").
        min_digits: runs of fewer digits are never redacted (except with a
            security-code, expiry or PIN cue, which allow 3).
        bare_min_digits: a run of at least this many digits with no cue is
            redacted as ``NUMBER``.
        padding: seconds added on each side of a redacted word in the audio
            (word times are approximate).
        mode: ``silence`` or ``tone``.
        tone_hz, tone_dbfs: the tone that covers redacted audio in ``tone`` mode.
        types: the types to redact (default: all of :data:`PII_TYPES`).
    """

    context_seconds: float = 15.0
    max_digit_gap: float = 2.5
    min_digits: int = 4
    bare_min_digits: int = 7
    padding: float = 0.2
    mode: str = "silence"
    tone_hz: float = 1000.0
    tone_dbfs: float = -20.0
    types: tuple[str, ...] = PII_TYPES


@dataclass
class RedactionResult:
    """What :func:`redact_recording` produced."""

    audio_path: Path | None
    transcript: Transcript
    redactions: list[Redaction] = field(default_factory=list)
    channels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "audio": None if self.audio_path is None else str(self.audio_path),
            "redactions": [r.to_dict() for r in self.redactions],
            "transcript": self.transcript.to_dict(),
        }


# -- digits in words -------------------------------------------------------------------

_UNIT = {"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
         "seven": "7", "eight": "8", "nine": "9"}
_TEEN = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
         "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
         "eighty": "8", "ninety": "9"}
_SOUNDALIKE = {"oh": "0", "o": "0", "for": "4", "to": "2", "too": "2", "won": "1", "ate": "8", "tree": "3"}
_CONNECTORS = {"dash", "hyphen", "and", "uh", "um", "space", "slash", "then"}
_MULT = {"double": 2, "triple": 3}
_MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({"jan": "01", "feb": "02", "mar": "03", "apr": "04", "jun": "06", "jul": "07", "aug": "08",
                "sep": "09", "sept": "09", "oct": "10", "nov": "11", "dec": "12"})
_MONEY_AFTER = {"dollar", "dollars", "cents", "cent", "bucks", "percent", "pounds", "euros", "euro"}


def _clean(word: str) -> str:
    return re.sub(r"[^\w@.'$%:/+-]", "", word.lower().replace("’", "'")).strip(".'-,")


@dataclass(eq=False)  # identity: a word is itself, wherever it sits
class _Tok:
    """A transcript word with where it sits and what digits it carries."""

    party: str
    turn: int
    index: int
    word: Word
    text: str  # cleaned, lower case
    digits: str = ""  # digits this word contributes
    kind: str = ""  # digit | soundalike | connector | month | mult | ""
    money: bool = False
    formatted: str = ""  # digit word with separators as written ("123-45-6789")


def _classify(tok: _Tok) -> None:
    t = tok.text
    if not t:
        return
    if re.fullmatch(r"\$?[\d][\d,.\-/()]*\d?%?", t) or re.fullmatch(r"\(?\d[\d\-.()/ ]*", t):
        if t.startswith("$") or t.endswith("%"):
            tok.money = True
            return
        if ":" in t:  # a time of day
            return
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", t):  # 1,250 is an amount
            tok.money = True
            return
        tok.digits = re.sub(r"\D", "", t)
        tok.kind = "digit"
        tok.formatted = t
        return
    if re.fullmatch(r"\d+(st|nd|rd|th)", t):
        return
    parts = re.split(r"-", t)
    if all(p in _UNIT or p in _TEEN or p in _TENS for p in parts if p) and any(parts):
        digits = ""
        prev = None
        for p in parts:
            if p in _UNIT and prev in _TENS:  # "twenty-six"
                digits = digits[:-1] + _UNIT[p]
            elif p in _UNIT:
                digits += _UNIT[p]
            elif p in _TEEN:
                digits += _TEEN[p]
            elif p in _TENS:
                digits += _TENS[p] + "0"
            prev = p
        tok.digits = digits
        tok.kind = "digit"
        return
    if t in ("hundred",):
        tok.kind = "hundred"
        return
    if t in _SOUNDALIKE:
        tok.kind = "soundalike"
        tok.digits = _SOUNDALIKE[t]
        return
    if t in _CONNECTORS:
        tok.kind = "connector"
        return
    if t in _MULT:
        tok.kind = "mult"
        return
    if t in _MONTHS:
        tok.kind = "month"
        tok.digits = _MONTHS[t]
        return


@dataclass
class _Run:
    toks: list[_Tok]
    digits: str

    @property
    def start(self) -> float:
        return self.toks[0].word.start

    @property
    def end(self) -> float:
        return max(t.word.end for t in self.toks)

    @property
    def party(self) -> str:
        return self.toks[0].party


def _digit_runs(toks: list[_Tok], max_gap: float) -> list[_Run]:
    """Group one party's words into runs of spoken or written digits."""
    runs: list[_Run] = []
    n = len(toks)
    i = 0

    def is_digit(k):
        return 0 <= k < n and toks[k].kind == "digit"

    while i < n:
        if toks[i].kind not in ("digit", "mult", "month") or toks[i].kind == "month" and not _next_is_digit(toks, i):
            i += 1
            continue
        if toks[i].kind == "mult" and not is_digit(i + 1):
            i += 1
            continue
        members: list[_Tok] = []
        digits = ""
        j = i
        last_end = toks[i].word.start
        pending: list[_Tok] = []  # connectors/soundalikes waiting for a following digit
        repeat = 1
        while j < n:
            t = toks[j]
            if t.word.start - last_end > max_gap:
                break
            if t.kind == "digit" or t.kind == "month" and not members:
                # "twenty" + "six" -> 26: a tens word followed by a unit fills its zero
                if members and re.fullmatch(r"[2-9]0", members[-1].digits or "") and not pending \
                        and members[-1].kind == "digit" and len(t.digits) == 1 and t.digits != "0" \
                        and members[-1].text in _TENS:
                    digits = digits[:-1] + t.digits
                else:
                    for p in pending:
                        digits += p.digits
                    digits += t.digits * repeat
                members.extend(pending)
                pending = []
                repeat = 1
                members.append(t)
                last_end = t.word.end
            elif t.kind == "hundred" and members and members[-1].kind == "digit":
                digits += "00"
                members.append(t)
                last_end = t.word.end
            elif t.kind == "mult" and is_digit(j + 1):
                members.extend(pending)
                pending = []
                repeat = _MULT[t.text]
                members.append(t)
            elif t.kind in ("connector", "soundalike") and members:
                pending.append(t)
            else:
                break
            j += 1
        if members:
            runs.append(_Run(members, digits))
            i = toks.index(members[-1]) + 1
        else:
            i += 1
    return runs


def _next_is_digit(toks: list[_Tok], i: int) -> bool:
    return i + 1 < len(toks) and toks[i + 1].kind == "digit"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# -- context cues --------------------------------------------------------------------

_CUES: list[tuple[str, str]] = [
    # longer, more specific cues first: "back of the card" is a security code, not a card number
    (r"\b(security|verification|cvv|cvc|csc|cv2|cid)\s*(code|number|value|digits)?\b|\bthree[- ]digit|\b3[- ]digit|back of (the|your) card", "CVV"),
    (r"\bexpir\w*|\bvalid (thru|through|until)|\bexp\.? date|\bgood (thru|through)", "EXPIRY"),
    (r"\bsocial( security)?\b|\bssn\b|\btax ?payer\b|\btax id\b", "SSN"),
    (r"\bpin\b|\bpasscode\b|\bpass code\b|\bpassword\b", "PIN"),
    (r"\b(card|visa|mastercard|master card|amex|american express|discover)\b", "CARD_NUMBER"),
    (r"\b(phone|telephone|cell|mobile|cellphone|callback|call back|fax)\b|\breach you\b|\bcall you\b|\bcontact number\b|\bhome number\b|\bwork number\b", "PHONE"),
    (r"\b(account|acct|member|membership|routing|policy|customer (number|id)|iban|sort code|reference number|confirmation number)\b", "ACCOUNT_NUMBER"),
    (r"\be-?mail\b", "EMAIL"),
]


def _cue_before(all_toks: list[_Tok], run: _Run, seconds: float) -> str | None:
    """The cue mentioned last before the run (either party), within ``seconds``."""
    t0 = run.start - seconds
    words = [t for t in all_toks if t0 <= t.word.start < run.start and t not in run.toks]
    # Also the rest of the run's own turn ("4572 is my account number"), a few words on.
    after = [t for t in all_toks if t.party == run.party and run.end <= t.word.start <= run.end + 3.0
             and t not in run.toks][:6]
    best: tuple[float, str] | None = None
    text_before = " ".join(t.text for t in words)
    if text_before:
        # position of each cue's last occurrence in the text, mapped back to a time by word count
        offsets = []
        pos = 0
        for t in words:
            offsets.append(pos)
            pos += len(t.text) + 1
        for pattern, kind in _CUES:
            for m in re.finditer(pattern, text_before):
                k = max(i for i, o in enumerate(offsets) if o <= m.start())
                when = words[k].word.start
                if best is None or when > best[0]:
                    best = (when, kind)
    if best is not None:
        return best[1]
    text_after = " ".join(t.text for t in after)
    for pattern, kind in _CUES:
        if re.search(pattern, text_after):
            return kind
    return None


def _money(run: _Run, party_toks: list[_Tok]) -> bool:
    last = run.toks[-1]
    idx = party_toks.index(last)
    nxt = party_toks[idx + 1].text if idx + 1 < len(party_toks) else ""
    first = party_toks.index(run.toks[0])
    prev = party_toks[first - 1].text if first > 0 else ""
    return nxt in _MONEY_AFTER or prev in ("$",) or any(t.money for t in run.toks)


def _decide(run: _Run, cue: str | None, options: RedactOptions) -> str | None:
    d = run.digits
    n = len(d)
    if n >= 13 and n <= 19 and luhn_valid(d):
        return "CARD_NUMBER"
    formatted = " ".join(t.formatted for t in run.toks if t.formatted)
    if re.search(r"\b\d{3}-\d{2}-\d{4}\b", formatted):
        return "SSN"
    if cue == "CVV" and 3 <= n <= 4 or cue == "CARD_NUMBER" and n == 3:
        return "CVV"  # three digits asked about a card are its security code
    if cue == "EXPIRY" and 3 <= n <= 6:
        return "EXPIRY"
    if cue == "PIN" and 3 <= n <= 8:
        return "PIN"
    if cue is not None and cue != "EMAIL" and n >= 3 and (n >= options.min_digits or cue in ("CARD_NUMBER", "SSN", "PHONE", "ACCOUNT_NUMBER") and n >= 3):
        if cue in ("CVV", "EXPIRY", "PIN"):
            return "CARD_NUMBER" if n >= 12 else "NUMBER" if n >= options.bare_min_digits else cue
        return cue
    if n == 10 and d[0] in "23456789" and d[3] in "23456789" or n == 11 and d[0] == "1" and d[1] in "23456789":
        return "PHONE"
    if n >= options.bare_min_digits:
        return "NUMBER"
    return None


# -- e-mail addresses ------------------------------------------------------------------------

_TLDS = {"com", "net", "org", "edu", "gov", "io", "co", "us", "uk", "ca", "info", "biz", "me", "mil", "ai"}
_EMAIL_STOP = {"is", "it's", "its", "email", "e-mail", "address", "my", "the", "to", "that's", "yes", "sure", "it",
               "and", "send", "at", "mail", "use", "was", "be", "okay", "ok", "so", "yeah", "um", "uh", "your", "please"}


def _email_spans(toks: list[_Tok]) -> list[tuple[int, int]]:
    """Index ranges [a, b] of one turn's words that spell out an e-mail address."""
    spans = []
    n = len(toks)
    for i, t in enumerate(toks):
        if "@" in t.text and re.search(r"\w@[\w-]+(\.\w+)+|\w@|@[\w-]+\.\w+", t.text):
            spans.append((i, i))
            continue
        if t.text == "at" and i > 0:
            # domain: "gmail dot com" or "gmail.com"
            j = i + 1
            end = None
            if j < n and re.fullmatch(r"[\w-]+(\.[\w-]+)*\.(" + "|".join(_TLDS) + ")", toks[j].text):
                end = j
            else:
                k = j
                while k + 2 < n + 1 and k < n:
                    if k + 2 <= n - 1 and toks[k + 1].text == "dot" and toks[k + 2].text in _TLDS:
                        end = k + 2
                        # longer domains: "mail dot example dot co dot uk"
                        while end + 2 <= n - 1 and toks[end + 1].text == "dot" and toks[end + 2].text in _TLDS | {"uk", "au"}:
                            end += 2
                        break
                    if k + 1 < n and toks[k + 1].text == "dot":
                        k += 2
                        continue
                    break
            if end is None:
                continue
            a = i
            while a - 1 >= 0 and i - (a - 1) <= 5 and toks[a - 1].text not in _EMAIL_STOP \
                    and not toks[a - 1].word.word.strip().endswith((".", "?", "!", ":")):
                a -= 1
            if a == i:
                continue
            spans.append((a, end))
    return spans


# -- transcript redaction --------------------------------------------------------------------

def _tokens_of(transcript: Transcript) -> list[_Tok]:
    toks: list[_Tok] = []
    for ti, turn in enumerate(transcript.turns):
        words = turn.words or _pseudo_words(turn)
        for wi, w in enumerate(words):
            tok = _Tok(turn.party, ti, wi, w, _clean(w.word))
            _classify(tok)
            toks.append(tok)
    # soundalikes ("oh", "for") only count between digit words
    for k, t in enumerate(toks):
        if t.kind == "soundalike":
            prev_d = k > 0 and toks[k - 1].kind == "digit" and toks[k - 1].party == t.party
            next_d = k + 1 < len(toks) and toks[k + 1].kind == "digit" and toks[k + 1].party == t.party
            if t.text in ("oh", "o") and not (prev_d or next_d) or t.text not in ("oh", "o") and not (prev_d and next_d):
                t.kind, t.digits = "", ""
            elif t.text in ("oh", "o") or (prev_d and next_d):
                t.kind = "digit"
    return toks


def _pseudo_words(turn: Turn) -> list[Word]:
    parts = turn.text.split()
    if not parts:
        return []
    step = (turn.end - turn.start) / len(parts)
    return [Word(turn.start + k * step, turn.start + (k + 1) * step, " " + p) for k, p in enumerate(parts)]


def redact_transcript(transcript: Transcript, options: RedactOptions | None = None
                      ) -> tuple[Transcript, list[Redaction]]:
    """Replace spoken personal data with ``[PII:TYPE]``.

    Returns a redacted copy of the transcript (the input is not changed) and
    the redactions, each with its type, party, time span and the length of
    the original text. Words, turn texts and times stay aligned, so the
    redactions can be applied to the audio with :func:`redact_audio`.
    """
    options = options or RedactOptions()
    out = copy.deepcopy(transcript)
    for t in out.turns:
        if not t.words:
            t.words = _pseudo_words(t)
    toks = _tokens_of(out)
    toks.sort(key=lambda t: (t.word.start, t.turn, t.index))
    # (turn, word index) -> type
    marks: dict[tuple[int, int], str] = {}

    for party in sorted({t.party for t in toks}):
        mine = [t for t in toks if t.party == party]
        for run in _digit_runs(mine, options.max_digit_gap):
            if _money(run, mine):
                continue
            kind = _decide(run, _cue_before(toks, run, options.context_seconds), options)
            if kind and kind in options.types:
                for t in run.toks:
                    marks[(t.turn, t.index)] = kind
    if "EMAIL" in options.types:
        by_turn: dict[int, list[_Tok]] = {}
        for t in toks:
            by_turn.setdefault(t.turn, []).append(t)
        for ti, turn_toks in by_turn.items():
            turn_toks.sort(key=lambda t: t.index)
            for a, b in _email_spans(turn_toks):
                for t in turn_toks[a : b + 1]:
                    marks[(ti, t.index)] = "EMAIL"

    redactions: list[Redaction] = []
    for ti, turn in enumerate(out.turns):
        if not any((ti, wi) in marks for wi in range(len(turn.words))):
            continue
        new_words: list[Word] = []
        wi = 0
        words = turn.words
        while wi < len(words):
            kind = marks.get((ti, wi))
            if kind is None:
                new_words.append(words[wi])
                wi += 1
                continue
            group = [words[wi]]
            wj = wi + 1
            # a connector between two marked words of the same type joins the group
            while wj < len(words):
                k2 = marks.get((ti, wj))
                if k2 == kind:
                    group.append(words[wj])
                    wj += 1
                else:
                    break
            original = "".join(w.word for w in group).strip()
            trail = re.search(r"[.,?!;:]+$", original)
            lead = " " if group[0].word.startswith(" ") or new_words else ""
            token = f"{lead}[PII:{kind}]{trail.group(0) if trail else ''}"
            start, end = group[0].start, max(w.end for w in group)
            new_words.append(Word(start, end, token, min(w.probability for w in group)))
            redactions.append(Redaction(kind, turn.party, start, end,
                                        len(original.rstrip(".,?!;:")) if trail else len(original)))
            wi = wj
        turn.words = new_words
        turn.text = re.sub(r"\s+", " ", "".join(w.word for w in new_words)).strip()
    redactions.sort(key=lambda r: (r.start, r.party))
    return out, redactions


# -- audio redaction --------------------------------------------------------------------------

_INT_SUBTYPES = {"PCM_S8": "int16", "PCM_U8": "int16", "PCM_16": "int16", "ULAW": "int16", "ALAW": "int16",
                 "PCM_24": "int32", "PCM_32": "int32", "FLOAT": "float32", "DOUBLE": "float64"}


def _spans(redactions: Iterable, channels: Mapping[str, int], rate: int, frames: int,
           padding: float) -> list[tuple[int, int, int]]:
    out = []
    for r in redactions:
        if isinstance(r, Mapping):
            r = Redaction.from_dict(r)
        if r.party not in channels:
            raise AntiphonError(f"redaction of {r.type} at {r.start:.2f}s: party {r.party!r} has no channel "
                                f"(channels given: {', '.join(channels) or 'none'})")
        a = max(0, int(np.floor((r.start - padding) * rate)))
        b = min(frames, int(np.ceil((r.end + padding) * rate)))
        if b > a:
            out.append((int(channels[r.party]), a, b))
    return sorted(out, key=lambda s: s[1])


def redact_audio(path: str | os.PathLike, redactions: Sequence[Redaction | Mapping], out_path: str | os.PathLike,
                 channels: Mapping[str, int], mode: str = "silence", *, padding: float | None = None,
                 options: RedactOptions | None = None, block_seconds: float = 30.0) -> Path:
    """Write a copy of the recording with each redaction silenced (or toned) on its party's channel.

    The copy keeps the original's sample rate, channel count and, for WAV and
    FLAC, its encoding; every sample outside the redacted spans, and the whole
    other channel, is copied unchanged (lossless formats only: MP3/OGG input
    is re-encoded). The recording is streamed in blocks of ``block_seconds``.
    ``out_path`` must differ from ``path``: the original is never overwritten.
    """
    import soundfile as sf

    from .audio import probe

    options = options or RedactOptions()
    if mode not in ("silence", "tone"):
        raise AntiphonError(f"redaction mode must be 'silence' or 'tone', got {mode!r}")
    padding = options.padding if padding is None else float(padding)
    src, dst = Path(path), Path(out_path)
    info = probe(src)
    _check_output(src, dst)
    spans = _spans(redactions, channels, info.sample_rate, info.frames, padding)

    out_format = _format_for(dst, info.format)
    subtype = info.subtype if out_format == info.format and sf.check_format(out_format, info.subtype) \
        else sf.default_subtype(out_format)
    dtype = _INT_SUBTYPES.get(subtype, "float32") if out_format == info.format else "float32"
    if dtype != "float32" and _INT_SUBTYPES.get(info.subtype) is None:
        dtype = "float32"
    full = {"int16": 32767, "int32": 2147483647}.get(dtype, 1.0)
    amp = 10 ** (options.tone_dbfs / 20.0) * full
    block = max(1, int(block_seconds * info.sample_rate))

    fd, tmp = tempfile.mkstemp(prefix=".redacting-", suffix=dst.suffix or ".wav", dir=str(dst.parent))
    os.close(fd)
    try:
        with sf.SoundFile(str(src)) as fin, sf.SoundFile(tmp, "w", samplerate=info.sample_rate,
                                                         channels=info.channels, subtype=subtype,
                                                         format=out_format) as fout:
            pos = 0
            while True:
                data = fin.read(block, dtype=dtype, always_2d=True)
                if not len(data):
                    break
                end = pos + len(data)
                for ch, a, b in spans:
                    if b <= pos or a >= end:
                        continue
                    s, e = max(a, pos) - pos, min(b, end) - pos
                    if mode == "silence":
                        data[s:e, ch] = 0
                    else:
                        n = np.arange(pos + s, pos + e)
                        tone = amp * np.sin(2 * np.pi * options.tone_hz * n / info.sample_rate)
                        data[s:e, ch] = tone.astype(data.dtype) if dtype != "float32" else tone
                fout.write(data)
                pos = end
        os.replace(tmp, dst)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return dst


def _check_output(src: Path, dst: Path) -> None:
    if dst.resolve() == src.resolve() or dst.exists() and src.exists() and os.path.samefile(dst, src):
        raise AntiphonError(f"{dst}: refusing to overwrite the original recording; choose another output file")
    if dst.is_dir():
        raise AntiphonError(f"{dst}: is a directory; give the output file name (e.g. call.redacted.wav)")
    if not dst.parent.exists():
        raise AntiphonError(f"{dst.parent}: output directory does not exist")
    _format_for(dst, "WAV")


def _format_for(dst: Path, fallback: str) -> str:
    ext = dst.suffix.lower().lstrip(".")
    table = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG", "opus": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}
    if ext and ext not in table:
        raise AntiphonError(f"{dst}: cannot write .{ext} files; use .wav, .flac, .ogg or .mp3")
    return table.get(ext, fallback)


# -- the whole job -----------------------------------------------------------------------------

def redact_recording(path: str | os.PathLike, out_path: str | os.PathLike | None = None, *,
                     transcript: Transcript | Mapping | None = None, channels=None, task=None,
                     transcribe_options=None, options: RedactOptions | None = None) -> RedactionResult:
    """Transcribe (unless a transcript is given), redact the transcript, and write the redacted audio.

    ``channels`` is the party per channel (``"agent,customer"``) as for
    ``antiphon analyze``; ``task`` Flex task attributes giving the same.
    With ``out_path`` None only the transcript is redacted.
    """
    from .analysis import analyze

    options = options or RedactOptions()
    if out_path is not None:
        _check_output(Path(path), Path(out_path))
    if transcript is None:
        analysis = analyze(path, channels=channels, task=task, transcribe=transcribe_options or True)
        transcript = analysis.transcript
        chan = {p: analysis.channel_of(p) for p in analysis.roles}
    else:
        if isinstance(transcript, Mapping):
            transcript = Transcript.from_dict(transcript)
        chan = _channel_map(channels, task)
    redacted, found = redact_transcript(transcript, options)
    audio = None
    if out_path is not None:
        audio = redact_audio(path, found, out_path, chan, options.mode, options=options)
    return RedactionResult(audio, redacted, found, chan)


def _channel_map(channels, task) -> dict[str, int]:
    from . import flex

    if channels is not None:
        roles = flex.channel_roles(flex.parse_channels(channels, field="--channels"))
    elif task is not None:
        attrs = flex.load_task_attributes(task) if isinstance(task, (str, os.PathLike)) else flex.parse_task_attributes(task)
        roles = attrs.recording.roles() if attrs.recording is not None else ("customer", "agent")
    else:
        roles = ("customer", "agent")
    return {p: i for i, p in enumerate(roles)}
