"""Ground truth and frame scoring for the reference calls (benchmarks and tests).

Truth comes from the ``*.truth.json`` files beside each recording in the
reference data: Harper Valley ``segments`` (``nonspeech_only`` segments are
noise tokens, not speech) and the synthetic call's ``intervals``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from antiphon.timeline import Timeline

FRAME = 0.01  # scoring resolution, seconds


@dataclass
class Case:
    name: str  # call id
    condition: str  # clean, line, bleed, noisy, music, synth-8k, ...
    path: Path
    truth: tuple[Timeline, Timeline]
    duration: float


def load_truth(truth_path: Path) -> tuple[Timeline, Timeline]:
    data = json.loads(Path(truth_path).read_text())
    if "segments" in data:
        chans: list[list[tuple[float, float]]] = [[], []]
        for seg in data["segments"]:
            if seg.get("nonspeech_only"):
                continue
            chans[int(seg["channel"])].append((float(seg["start_s"]), float(seg["end_s"])))
        return Timeline(chans[0]), Timeline(chans[1])
    iv = data["intervals"]
    return Timeline(iv["0"]), Timeline(iv["1"])


def find_cases(calls_dir: Path) -> list[Case]:
    """Every reference recording with its truth, in a stable order."""
    import soundfile as sf

    calls_dir = Path(calls_dir)
    cases: list[Case] = []

    def add(name, condition, wav, truth):
        cases.append(Case(name, condition, wav, load_truth(truth), sf.info(str(wav)).duration))

    for wav in sorted((calls_dir / "harper-valley").glob("hvb_*.wav")):
        add(wav.stem, "clean", wav, wav.with_suffix(".truth.json"))
    for cond in ("line", "bleed", "noisy", "music"):
        for wav in sorted((calls_dir / "harper-valley-degraded").glob(f"hvb_*.{cond}.wav")):
            stem = wav.name[: -len(f".{cond}.wav")]
            add(stem, cond, wav, wav.parent / f"{stem}.{cond}.truth.json")
    synth = calls_dir / "synthetic"
    truth = synth / "support_call.truth.json"
    for wav in sorted(synth.glob("support_call_*.wav")):
        add("support_call", "synth-" + wav.stem[len("support_call_"):], wav, truth)
    return cases


def frames(tl: Timeline, duration: float) -> np.ndarray:
    """Boolean 10 ms frame mask: a frame is speech when its centre is inside ``tl``."""
    n = int(round(duration / FRAME))
    mask = np.zeros(n, dtype=bool)
    centres = (np.arange(n) + 0.5) * FRAME
    for s, e in tl:
        a = np.searchsorted(centres, s)
        b = np.searchsorted(centres, e)
        mask[a:b] = True
    return mask


def f1(ref: Timeline, hyp: Timeline, duration: float) -> float:
    r, h = frames(ref, duration), frames(hyp, duration)
    tp = float(np.sum(r & h))
    denom = float(np.sum(r) + np.sum(h))
    return 1.0 if denom == 0 else 2 * tp / denom


@dataclass
class Score:
    f1: tuple[float, float]
    talk_err: tuple[float, float]  # hyp - ref, seconds
    talk_ref: tuple[float, float]
    crosstalk_err: float
    silence_err: float


def score(truth: tuple[Timeline, Timeline], hyp: tuple[Timeline, Timeline], duration: float) -> Score:
    f = tuple(f1(truth[i], hyp[i], duration) for i in (0, 1))
    ref_t = tuple(truth[i].duration() for i in (0, 1))
    err = tuple(hyp[i].duration() - ref_t[i] for i in (0, 1))
    xr = (truth[0] & truth[1]).duration()
    xh = (hyp[0] & hyp[1]).duration()
    sr = duration - (truth[0] | truth[1]).duration()
    sh = duration - (hyp[0] | hyp[1]).duration()
    return Score(f, err, ref_t, xh - xr, sh - sr)
