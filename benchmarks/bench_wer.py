"""Word error rate and speed of per-channel transcription on the reference calls.

For the four Harper Valley calls (human transcripts) in every condition
(clean, line, bleed, noisy, music) this scores, side by side in one run:

* ``gated``   - Antiphon: only the speech the voice-activity detector found on
  each channel (after bleed suppression) is sent to the model
  (:func:`antiphon.transcribe.transcribe` on :func:`antiphon.vad.detect_speech`);
* ``truth``   - the same, gated by the human speech timelines (an upper bound for
  the gating; skip with ``--modes``);
* ``whole``   - each whole channel sent to faster-whisper with its own VAD filter
  on (what one would do without the analysis);
* ``machine`` - the corpus' own ``machine_transcript`` (a commercial recogniser).

WER is pooled over the calls per channel (total edits / total reference words)
after normalisation: case, punctuation, bracketed noise tokens ([noise],
<unk>), fillers (uh, um), common contractions, and numbers (spelled-out or
digits, both become digit strings). Speed is the real-time factor on CPU time of
this process (not wall time), with ``--cpu-threads 1`` for the one-core figure.

The synthetic ``support_call_8k_bleed.wav`` is checked for agent words in the
customer transcript.

Run:  .venv/bin/python benchmarks/bench_wer.py [--calls-dir ../shared/calls] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from antiphon.timeline import Timeline  # noqa: E402

CONDITIONS = ("clean", "line", "bleed", "noisy", "music")
PARTIES = {"customer": 0, "agent": 1}

# -- normalisation ------------------------------------------------------------------

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_FILLERS = {"uh", "um", "uhm", "umm", "er", "erm", "ah", "hmm", "mm", "mhm", "hm", "mmm"}
_CONTRACTIONS = [
    (r"\bcan't\b", "can not"), (r"\bwon't\b", "will not"), (r"\bcannot\b", "can not"),
    (r"\bain't\b", "is not"), (r"n't\b", " not"), (r"\bi'm\b", "i am"), (r"'re\b", " are"),
    (r"'ll\b", " will"), (r"'ve\b", " have"), (r"'d\b", " would"),
    (r"\b(it|that|what|there|here|he|she|who|where|how)'s\b", r"\1 is"), (r"\blet's\b", "let us"),
]
_SPELLING = {"ok": "okay", "alright": "all right", "mr": "mister", "mrs": "missus", "goodbye": "good bye",
             "bye-bye": "bye bye", "e-mail": "email", "everyday": "every day"}


def _words_to_digits(tokens: list[str]) -> list[str]:
    """Spelled-out numbers become digit strings ("a hundred and thirty four" -> "134")."""
    out: list[str] = []
    i = 0
    n = len(tokens)

    def is_num(t):
        return t in _UNITS or t in _TENS or t in _SCALES

    while i < n:
        t = tokens[i]
        starts = is_num(t) and t not in _SCALES or (t == "a" and i + 1 < n and tokens[i + 1] in _SCALES)
        if not starts:
            out.append(t)
            i += 1
            continue
        total = current = 0
        last = None  # kind of the last token: unit, teen, ten, scale
        while i < n:
            t = tokens[i]
            if t == "a" and last is None and i + 1 < n and tokens[i + 1] in _SCALES:
                current, last = 1, "unit"
            elif t in _UNITS:
                v = _UNITS[t]
                kind = "unit" if v < 10 else "teen"
                if last in ("unit", "teen") or (last == "ten" and kind == "teen"):
                    break  # "four five": a new number
                if last == "ten" and v == 0:
                    break
                current += v
                last = kind
            elif t in _TENS:
                if last in ("unit", "teen", "ten"):
                    break
                current += _TENS[t]
                last = "ten"
            elif t in _SCALES:
                if last is None:
                    break
                scale = _SCALES[t]
                if scale == 100:
                    current = max(current, 1) * 100
                else:
                    total += max(current, 1) * scale
                    current = 0
                last = "scale"
            elif t == "and" and last == "scale" and i + 1 < n and (tokens[i + 1] in _UNITS or tokens[i + 1] in _TENS):
                pass
            else:
                break
            i += 1
        out.append(str(total + current))
    return out


def normalise(text: str) -> list[str]:
    text = text.lower()
    text = re.sub(r"\[[^\]]*\]|<[^>]*>", " ", text)  # [noise], <unk>
    text = re.sub(r"\$\s?([\d,]+(?:\.\d+)?)", r"\1 dollars", text)
    text = re.sub(r"(\d),(\d{3})", r"\1\2", text)
    text = re.sub(r"(\d+)%", r"\1 percent", text)
    text = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1 m", text)
    text = re.sub(r"(\d)\s?([ap])m\b", r"\1 \2 m", text)
    text = text.replace("’", "'")
    for pat, rep in _CONTRACTIONS:
        text = re.sub(pat, rep, text)
    text = re.sub(r"[^a-z0-9' -]+", " ", text)
    text = text.replace("-", " ")
    tokens = []
    for t in text.split():
        t = t.strip("'")
        if not t or t in _FILLERS:
            continue
        tokens.extend(_SPELLING.get(t, t).split())
    tokens = _words_to_digits(tokens)
    out = []
    for t in tokens:
        if t.isdigit():
            out.extend(t)  # every number as its digits: "4572" and "four five seven two" agree
        else:
            out.append(t)
    return out


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


# -- cases -----------------------------------------------------------------------------

@dataclass
class Case:
    call: str
    condition: str
    wav: Path
    truth: dict


def find_cases(calls_dir: Path, conditions) -> list[Case]:
    cases = []
    for wav in sorted((calls_dir / "harper-valley").glob("hvb_*.wav")):
        truth = json.loads(wav.with_suffix(".truth.json").read_text())
        for cond in conditions:
            path = wav if cond == "clean" else calls_dir / "harper-valley-degraded" / f"{wav.stem}.{cond}.wav"
            if path.exists():
                cases.append(Case(wav.stem, cond, path, truth))
    return cases


def truth_speech(truth: dict) -> dict[str, Timeline]:
    chans: dict[int, list] = {0: [], 1: []}
    for seg in truth["segments"]:
        if not seg.get("nonspeech_only"):
            chans[int(seg["channel"])].append((seg["start_s"], seg["end_s"]))
    return {p: Timeline(chans[c]) for p, c in PARTIES.items()}


def reference(truth: dict, channel: int, key: str = "text") -> str:
    segs = sorted((s for s in truth["segments"] if int(s["channel"]) == channel), key=lambda s: s["start_s"])
    if key == "text":
        segs = [s for s in segs if not s.get("nonspeech_only")]
    return " ".join(s[key] for s in segs)


# -- runners -----------------------------------------------------------------------------

def run_gated(case: Case, speech: dict[str, Timeline], options, per_channel: bool = True
              ) -> tuple[dict[str, str], dict[str, float]]:
    """Transcribe the call (both channels at once, as the product does).

    CPU seconds: ``call`` for the whole call; per party from separate
    one-channel runs when ``per_channel``.
    """
    from antiphon.transcribe import transcribe

    t0 = time.process_time()
    tr = transcribe(case.wav, speech, PARTIES, options)
    cpu = {"call": time.process_time() - t0}
    texts = {party: tr.text_of(party) for party in PARTIES}
    if per_channel:
        for party, ch in PARTIES.items():
            t0 = time.process_time()
            transcribe(case.wav, {party: speech[party]}, {party: ch}, options)
            cpu[party] = time.process_time() - t0
    return texts, cpu


def run_whole(case: Case, options) -> tuple[dict[str, str], dict[str, float]]:
    from antiphon.audio import read
    from antiphon.transcribe import load_model

    model = load_model(options)
    audio = read(case.wav, sample_rate=16000)
    texts, cpu = {}, {}
    for party, ch in PARTIES.items():
        t0 = time.process_time()
        segs, _ = model.transcribe(audio[:, ch].copy(), language="en", beam_size=options.beam_size,
                                   vad_filter=True, condition_on_previous_text=False, word_timestamps=True)
        texts[party] = " ".join(s.text.strip() for s in segs)
        cpu[party] = time.process_time() - t0
    cpu["call"] = cpu["customer"] + cpu["agent"]
    return texts, cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls-dir", type=Path, default=Path(os.environ.get("ANTIPHON_SHARED", ROOT.parent / "shared")) / "calls")
    ap.add_argument("--modes", default="gated,truth,whole,machine", help="comma list of gated,truth,whole,machine")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--model", default=None, help="model directory or name (default: bundled tiny.en)")
    ap.add_argument("--beam-size", type=int, default=None)
    ap.add_argument("--cpu-threads", type=int, default=1, help="model threads (1 = the one-core figure)")
    ap.add_argument("--show", action="store_true", help="print reference and hypotheses per channel")
    ap.add_argument("--json", type=Path, help="write all figures to this file")
    args = ap.parse_args(argv)

    from antiphon.transcribe import TranscribeOptions

    options = TranscribeOptions(model=args.model, cpu_threads=args.cpu_threads)
    if args.beam_size:
        options.beam_size = args.beam_size
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    if "gated" in modes:
        try:
            from antiphon.vad import detect_speech
        except ImportError as exc:
            print(f"note: antiphon.vad unavailable ({exc}); 'gated' mode skipped", file=sys.stderr)
            modes.remove("gated")
    cases = find_cases(args.calls_dir, conditions)
    if not cases:
        print(f"no reference calls under {args.calls_dir}", file=sys.stderr)
        return 2

    # (mode, condition, party) -> [edits, ref words]; (mode, condition, party) -> [cpu, audio seconds]
    errs: dict[tuple, list] = {}
    speed: dict[tuple, list] = {}
    vad_cpu = [0.0, 0.0]
    for case in cases:
        import soundfile as sf

        duration = sf.info(str(case.wav)).duration
        results: dict[str, tuple[dict, dict | None]] = {}
        for mode in modes:
            if mode == "machine":
                results[mode] = ({p: reference(case.truth, c, "machine_transcript") for p, c in PARTIES.items()}, None)
            elif mode == "truth":
                results[mode] = run_gated(case, truth_speech(case.truth), options, per_channel=False)
            elif mode == "gated":
                t0 = time.process_time()
                va = detect_speech(case.wav)
                vad_cpu[0] += time.process_time() - t0
                vad_cpu[1] += duration
                speech = {p: va.speech[c] for p, c in PARTIES.items()}
                results[mode] = run_gated(case, speech, options)
            elif mode == "whole":
                results[mode] = run_whole(case, options)
        for mode, (texts, cpu) in results.items():
            for party, ch in PARTIES.items():
                ref = normalise(reference(case.truth, ch))
                hyp = normalise(texts[party])
                e = errs.setdefault((mode, case.condition, party), [0, 0])
                e[0] += edit_distance(ref, hyp)
                e[1] += len(ref)
                if cpu is not None and party in cpu:
                    s = speed.setdefault((mode, case.condition, party), [0.0, 0.0])
                    s[0] += cpu[party]
                    s[1] += duration
            if cpu is not None:
                s = speed.setdefault((mode, case.condition, "call"), [0.0, 0.0])
                s[0] += cpu["call"]
                s[1] += duration
            if args.show:
                for party, ch in PARTIES.items():
                    ref, hyp = normalise(reference(case.truth, ch)), normalise(texts[party])
                    print(f"--- {case.call} {case.condition} {party} [{mode}]\n REF: {' '.join(ref)}\n HYP: {' '.join(hyp)}")
        print(f"{case.call} {case.condition}: done", file=sys.stderr)

    # -- report
    print("\nWER pooled over the Harper Valley calls (customer / agent); lower is better")
    header = f"{'condition':<10}" + "".join(f"{m:>18}" for m in modes)
    print(header)
    table = {}
    for cond in conditions + ["all"]:
        row = f"{cond:<10}"
        for mode in modes:
            vals = []
            for party in PARTIES:
                if cond == "all":
                    pairs = [errs[k] for k in errs if k[0] == mode and k[2] == party]
                    e = [sum(p[0] for p in pairs), sum(p[1] for p in pairs)]
                else:
                    e = errs.get((mode, cond, party), [0, 0])
                w = e[0] / e[1] if e[1] else float("nan")
                vals.append(w)
                table.setdefault(mode, {}).setdefault(cond, {})[party] = round(w, 3)
            row += f"{vals[0]:>10.3f} / {vals[1]:.3f}"
        print(row)

    print("\nSpeed: real-time factor on CPU time (audio seconds per CPU second; higher is faster), "
          f"cpu_threads={args.cpu_threads}")
    speeds = {}
    for mode in modes:
        if mode == "machine":
            continue
        row = {}
        for who in ("customer", "agent", "call"):
            parts = [speed[k] for k in speed if k[0] == mode and k[2] == who]
            if parts and sum(p[0] for p in parts) > 0:
                row[who] = round(sum(p[1] for p in parts) / sum(p[0] for p in parts), 1)
        if not row:
            continue
        speeds[mode] = row
        per = "   ".join(f"{who} {row[who]:6.1f}x" for who in ("customer", "agent") if who in row)
        print(f"  {mode:<8} {per + '   ' if per else ''}whole call (both channels) {row['call']:6.1f}x")
    if vad_cpu[0]:
        print(f"  voice activity detection: {vad_cpu[1] / vad_cpu[0]:.0f}x")

    bleed = bleed_check(args.calls_dir, options) if ("gated" in modes or "truth" in modes) else None
    if bleed:
        print(f"\nsupport_call_8k_bleed.wav ({bleed['gating']} gating): customer words that are agent speech: "
              f"{bleed['agent_words_in_customer']} of {bleed['customer_words']} {bleed['examples']}")
    if args.json:
        args.json.write_text(json.dumps({"wer": table, "speed": speeds, "bleed_check": bleed,
                                         "options": {"model": args.model, "beam_size": options.beam_size,
                                                     "cpu_threads": args.cpu_threads}}, indent=2))
    return 0


def bleed_check(calls_dir: Path, options) -> dict | None:
    """Customer words that are really the agent's echo, in the bleed variant of the synthetic call.

    A customer word is an agent word when its midpoint lies where only the agent
    speaks (truth intervals); the agent's phrases that the customer never says
    are also looked for in the customer text.
    """
    wav = calls_dir / "synthetic" / "support_call_8k_bleed.wav"
    truth_path = calls_dir / "synthetic" / "support_call.truth.json"
    if not wav.exists():
        return None
    from antiphon.transcribe import transcribe

    truth = json.loads(truth_path.read_text())
    customer_tl = Timeline(truth["intervals"]["0"])
    agent_only = Timeline(truth["intervals"]["1"]) - customer_tl
    try:
        from antiphon.vad import detect_speech

        va = detect_speech(wav)
        speech = {"customer": va.speech[0], "agent": va.speech[1]}
        gating = "vad"
    except ImportError:
        speech = {"customer": customer_tl, "agent": Timeline(truth["intervals"]["1"])}
        gating = "truth"
    tr = transcribe(wav, speech, PARTIES, options)
    leaked = []
    for turn in tr.turns:
        if turn.party != "customer":
            continue
        for w in turn.words:
            mid = 0.5 * (w.start + w.end)
            if agent_only.crop(mid - 0.05, mid + 0.05):
                leaked.append(f"{w.word.strip()}@{mid:.1f}s")
    return {"gating": gating, "agent_words_in_customer": len(leaked), "examples": leaked[:10],
            "customer_words": sum(len(t.words) for t in tr.turns if t.party == "customer"),
            "customer_text": tr.text_of("customer")}


if __name__ == "__main__":
    sys.exit(main())
