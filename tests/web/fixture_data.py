"""A realistic conversation for the web tests, built from a real shared call.

The synthetic support call (customer left, agent right, 80.6 s) is analysed
with :func:`antiphon.analysis.analyze`; its human transcript (truth file)
becomes a transcript with word times spread over each utterance; a transfer
from alice (Billing) to bob (Refunds) at 29.6 s splits it into two segments
with their own metrics; a keyword and a category hit are added.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

TRANSFER_AT = 29.604
LONG_SILENCE = 4.0  # the call's hold is 4.9 s: marked as a long silence


def transcript_from_truth(truth: dict) -> dict:
    turns = []
    for u in truth["utterances"]:
        toks = u["text"].split()
        span = (u["end"] - u["start"]) / len(toks)
        words = [{"start": round(u["start"] + i * span, 3), "end": round(u["start"] + (i + 1) * span - 0.02, 3),
                  "word": w, "probability": 0.42 if w.lower().startswith("four") else 0.95}
                 for i, w in enumerate(toks)]
        turns.append({"party": u["speaker"], "start": u["start"], "end": u["end"], "text": u["text"], "words": words})
    return {"turns": turns}


def build_analysis(wav: Path, truth_path: Path) -> dict:
    from antiphon.analysis import AnalysisOptions, analyze
    from antiphon.metrics import MetricOptions, compute_metrics

    opts = AnalysisOptions(metrics=MetricOptions(long_silence=LONG_SILENCE))
    a = analyze(wav, options=opts).to_dict()
    truth = json.loads(truth_path.read_text())
    a["transcript"] = transcript_from_truth(truth)
    dur = a["recording"]["duration"]
    segs = []
    for worker, queue, w in (("alice", "Billing", (0.0, TRANSFER_AT)), ("bob", "Refunds", (TRANSFER_AT, dur))):
        m = compute_metrics(a["speech"]["customer"], a["speech"]["agent"], w, MetricOptions(long_silence=LONG_SILENCE))
        segs.append({"worker": worker, "queue": queue, "segment_recording_offset": w[0], "window": list(w), "metrics": m})
    a["segments"] = segs
    # the shape antiphon.rules.evaluate gives; an unmatched category is listed but not shown
    a["keyword_hits"] = [{"phrase": "refund", "party": "customer", "start": 35.6, "end": 36.1,
                          "text": "I want a refund", "category": None}]
    a["categories"] = [
        {"name": "billing-dispute", "matched": True,
         "evidence": [{"rule": "phrase", "start": 8.0, "end": 9.2, "party": "customer", "text": "charged twice"}]},
        {"name": "escalation", "matched": False, "evidence": []},
    ]
    return a


def conversations(wav: Path, truth_path: Path, n_extra: int = 24) -> list[dict]:
    """The fixture call plus variants (dates, agents, crosstalk, duplicates) for list tests."""
    base = build_analysis(wav, truth_path)
    start = datetime(2026, 11, 2, 15, 4, 5, tzinfo=timezone.utc)
    out = [{
        "id": "CONV-SUPPORT", "started_at": start.isoformat(), "analysis": base,
        "recording_sid": "RE00000000000000000000000000000001", "recording_path": str(wav),
        "media_url": "/media/support_call_8k.wav",
    }]
    agents = [("carol", "Cards"), ("dave", "Billing"), ("erin", "Cards")]
    for i in range(n_extra):
        a = copy.deepcopy(base)
        worker, queue = agents[i % len(agents)]
        a["segments"] = [{"worker": worker, "queue": queue, "segment_recording_offset": 0.0,
                          "window": [0.0, a["recording"]["duration"]], "metrics": a["metrics"]}]
        a.pop("categories", None)
        a.pop("keyword_hits", None)
        m = a["metrics"]
        m["crosstalk_time"] = round(0.5 * i, 3)  # 0 .. 11.5 s: crosstalk % rises with i
        if i % 4 != 0:
            m["silences"] = []
            m["long_silence_count"] = 0
        out.append({
            "id": f"CONV-{i:03d}", "started_at": (start + timedelta(days=i % 6, hours=i)).isoformat(),
            "analysis": a, "recording_sid": f"RE{i:032d}", "recording_path": str(wav),
            "media_url": "/media/support_call_8k.wav",
            "duplicate_of": "CONV-000" if i == n_extra - 1 else None,
        })
    return out
