#!/usr/bin/env python
"""Benchmark per-channel voice activity against human timings.

    .venv/bin/python benchmarks/bench_vad.py [CALLS_DIR] [--methods antiphon,energy,...]

CALLS_DIR defaults to ../shared/calls relative to the repository. For every
reference call and condition (Harper Valley clean/line/bleed/noisy/music and
the synthetic call's variants) and every method it prints per-channel speech
frame F1 (10 ms frames), talk-time error per party (s and %), crosstalk and
silence error (s), and speed as x-real-time on one core (CPU time of this
process for decode + VAD, both channels). Methods, all run in the same
process on the same files:

  antiphon   antiphon.vad.detect_speech with default VadOptions
  energy     plain energy VAD: 20 ms frames above the channel's 10th-percentile
             level + 10 dB, pauses < 0.3 s bridged, runs < 0.1 s dropped
  webrtc     WebRTC VAD mode 3 on 20 ms frames at 8 kHz, pauses < 0.3 s bridged
  silero     Silero VAD v6 with faster-whisper's get_speech_timestamps defaults
             (threshold 0.5, min silence 2 s, padding 0.4 s), 16 kHz
             (needs faster-whisper: the transcribe extra)
  caim       the call-ai-metrics package (pip install call-ai-metrics):
             analyze(path, speakers=[customer, agent]).segments
  reader     decoding only (iter_blocks at 8 kHz): the speed floor

Exits non-zero only if something crashes, never for missed targets.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _truth import Case, find_cases, score  # noqa: E402

from antiphon.audio import iter_blocks, probe  # noqa: E402
from antiphon.timeline import Timeline  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_F1 = 0.93
TARGET_TALK_PCT = 8.0
TARGET_XRT = 1000.0


# -- methods: path -> (customer Timeline, agent Timeline) -----------------------

def run_antiphon(path):
    from antiphon.vad import detect_speech

    return detect_speech(path).speech


def _read_all(path, rate=None):
    return np.concatenate(list(iter_blocks(path, sample_rate=rate)))


def _frames_to_timeline(mask, hop, bridge, min_run=0.0):
    ivs = []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        ivs.append((a * hop, b * hop))
    return Timeline(ivs).support(bridge).remove_shorter(min_run)


def run_energy(path):
    info = probe(path)
    x = _read_all(path)
    hop = int(0.02 * info.sample_rate)
    n = len(x) // hop
    e = (x[: n * hop].reshape(n, hop, 2).astype(np.float64) ** 2).mean(axis=1)
    db = 10 * np.log10(e + 1e-12)
    out = []
    for c in range(2):
        thr = np.percentile(db[:, c], 10) + 10.0
        out.append(_frames_to_timeline(db[:, c] > thr, 0.02, 0.3, 0.1))
    return tuple(out)


def run_webrtc(path):
    import webrtcvad

    x = _read_all(path, 8000)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    hop = 160
    n = len(pcm) // hop
    out = []
    for c in range(2):
        vad = webrtcvad.Vad(3)
        data = np.ascontiguousarray(pcm[: n * hop, c]).tobytes()
        mask = np.array([vad.is_speech(data[i * 2 * hop:(i + 1) * 2 * hop], 8000) for i in range(n)])
        out.append(_frames_to_timeline(mask, 0.02, 0.3))
    return tuple(out)


def run_silero(path):
    from faster_whisper.vad import get_speech_timestamps

    x = _read_all(path, 16000)
    out = []
    for c in range(2):
        ts = get_speech_timestamps(np.ascontiguousarray(x[:, c]), sampling_rate=16000)
        out.append(Timeline((t["start"] / 16000, t["end"] / 16000) for t in ts))
    return tuple(out)


def run_caim(path):
    from call_ai_metrics import analyze

    report = analyze(str(path), speakers=["customer", "agent"])
    chans = {"customer": [], "agent": []}
    for seg in report.segments:
        chans[seg.speaker].append((seg.start_s, seg.end_s))
    return Timeline(chans["customer"]), Timeline(chans["agent"])


def run_reader(path):
    for _ in iter_blocks(path, sample_rate=8000):
        pass
    return None


METHODS = {
    "antiphon": run_antiphon,
    "energy": run_energy,
    "webrtc": run_webrtc,
    "silero": run_silero,
    "caim": run_caim,
    "reader": run_reader,
}


def available(name: str) -> str | None:
    """None when the method can run, else why not."""
    try:
        if name == "silero":
            import faster_whisper.vad  # noqa: F401
        elif name == "caim":
            import call_ai_metrics  # noqa: F401
        elif name == "webrtc":
            import webrtcvad  # noqa: F401
    except ImportError as exc:
        return f"not installed ({exc.name})"
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("calls", nargs="?", default=str(ROOT.parent / "shared" / "calls"))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--quiet", action="store_true", help="summaries only, no per-call rows")
    args = ap.parse_args(argv)

    cases = find_cases(Path(args.calls))
    if not cases:
        print(f"no reference calls found under {args.calls}", file=sys.stderr)
        return 2
    methods = []
    for m in args.methods.split(","):
        m = m.strip()
        if m not in METHODS:
            print(f"unknown method {m!r}; choose from {', '.join(METHODS)}", file=sys.stderr)
            return 2
        why = available(m)
        if why:
            print(f"# skipping {m}: {why}")
        else:
            methods.append(m)

    # Warm up every method once (imports, model sessions), outside the timing.
    if "antiphon" in methods:
        from antiphon import _silero

        t0 = time.process_time()
        _silero._session()
        print(f"# antiphon: loading the neural check (Silero ONNX session) once per process: "
              f"{1000 * (time.process_time() - t0):.0f} ms CPU, not counted below")
    for m in methods:
        METHODS[m](cases[0].path)

    results: dict[str, list] = {m: [] for m in methods}
    cpu: dict[str, float] = {m: 0.0 for m in methods}
    hdr = (f"{'call':18s} {'condition':13s} {'method':9s} {'F1 cust':>7s} {'F1 agt':>7s} "
           f"{'talk cust s/%':>15s} {'talk agt s/%':>15s} {'xtalk s':>8s} {'sil s':>7s} {'xRT':>7s}")
    if not args.quiet:
        print(hdr)
        print("-" * len(hdr))
    for case in cases:
        for m in methods:
            t0 = time.process_time()
            hyp = METHODS[m](case.path)
            dt = time.process_time() - t0
            cpu[m] += dt
            xrt = case.duration / dt if dt > 0 else float("inf")
            if hyp is None:
                results[m].append((case, None, dt))
                if not args.quiet:
                    print(f"{case.name[:18]:18s} {case.condition:13s} {m:9s} {'':>7s} {'':>7s} {'':>15s} {'':>15s} "
                          f"{'':>8s} {'':>7s} {xrt:7.0f}")
                continue
            s = score(case.truth, hyp, case.duration)
            results[m].append((case, s, dt))
            if not args.quiet:
                tp = [100 * s.talk_err[i] / s.talk_ref[i] if s.talk_ref[i] else 0.0 for i in (0, 1)]
                print(f"{case.name[:18]:18s} {case.condition:13s} {m:9s} {s.f1[0]:7.3f} {s.f1[1]:7.3f} "
                      f"{s.talk_err[0]:+6.2f}/{tp[0]:+6.1f}% {s.talk_err[1]:+6.2f}/{tp[1]:+6.1f}% "
                      f"{s.crosstalk_err:+8.2f} {s.silence_err:+7.2f} {xrt:7.0f}")

    conds = list(dict.fromkeys(c.condition for c in cases))
    print()
    print("Per condition: mean per-channel F1 (worst call) | worst |talk-time error| % | mean |crosstalk|, |silence| error s")
    print(f"{'condition':13s} " + " ".join(f"{m:>30s}" for m in methods if m != "reader"))
    for cond in conds:
        cells = []
        for m in methods:
            if m == "reader":
                continue
            rows = [s for (c, s, _) in results[m] if c.condition == cond]
            f1s = [np.mean(s.f1) for s in rows]
            worst = max(abs(100 * s.talk_err[i] / s.talk_ref[i]) for s in rows for i in (0, 1) if s.talk_ref[i])
            xe = np.mean([abs(s.crosstalk_err) for s in rows])
            se = np.mean([abs(s.silence_err) for s in rows])
            cells.append(f"{np.mean(f1s):.3f} ({min(f1s):.3f}) {worst:5.1f}% {xe:4.2f} {se:5.2f}")
        print(f"{cond:13s} " + " ".join(f"{c:>30s}" for c in cells))

    print()
    total = sum(c.duration for c in cases)
    hv = [c.condition for c in cases if c.name.startswith("hvb_")]
    hv_conds = [c for c in conds if c in set(hv)]
    print(f"Summary over {len(cases)} recordings ({total:.0f} s of stereo audio); targets on the Harper Valley "
          f"conditions: every condition mean F1 >= {TARGET_F1}, every party within {TARGET_TALK_PCT:.0f}% "
          f"talk time, >= {TARGET_XRT:.0f}x real time")
    for m in methods:
        xrt = total / cpu[m] if cpu[m] > 0 else float("inf")
        ms_per_min = 60.0 * cpu[m] / total * 1000
        if m == "reader":
            print(f"SUMMARY {m:9s} decode only: {xrt:7.0f}x real time ({ms_per_min:.1f} ms CPU per minute of call)")
            continue
        rows = [(c, s) for (c, s, _) in results[m] if c.name.startswith("hvb_")]
        by_cond = {k: np.mean([np.mean(s.f1) for c, s in rows if c.condition == k]) for k in hv_conds}
        worst_cond = min(by_cond, key=by_cond.get) if by_cond else "-"
        worst_talk = max((abs(100 * s.talk_err[i] / s.talk_ref[i]) for c, s in rows for i in (0, 1)
                          if s.talk_ref[i]), default=0.0)
        allf = np.mean([np.mean(s.f1) for c, s in rows]) if rows else float("nan")
        ok = (all(v >= TARGET_F1 for v in by_cond.values()) and worst_talk <= TARGET_TALK_PCT
              and xrt >= TARGET_XRT)
        print(f"SUMMARY {m:9s} HV mean F1 {allf:.3f}, worst condition {worst_cond} {by_cond.get(worst_cond, 0):.3f}, "
              f"worst talk-time error {worst_talk:5.1f}%, {xrt:7.0f}x real time "
              f"({ms_per_min:.1f} ms CPU per minute)  targets {'MET' if ok else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
