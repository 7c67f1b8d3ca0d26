"""View models: what the pages show, built from the stored analysis JSON.

Pure functions on plain dicts, shared by the HTML pages, their JSON variants
and the player (which reads the conversation JSON embedded in the page).
All times are seconds.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..timeline import Timeline

#: Flex Insights metric names shown on the conversation page, in order.
FLEX_METRICS = (
    ("talk_time", "Talk time"),
    ("customer_talk_time", "Customer talk time"),
    ("agent_talk_time", "Agent talk time"),
    ("crosstalk_time", "Crosstalk time"),
    ("silence_time", "Silence time"),
    ("longest_silence_before_agent", "Longest silence before agent"),
    ("longest_silence_before_customer", "Longest silence before customer"),
    ("longest_talk_by_agent", "Longest talk by agent"),
    ("longest_talk_by_customer", "Longest talk by customer"),
    ("hold_time", "Hold time"),
)

PARTIES = ("customer", "agent")


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, Mapping):  # {"value": ..} or {"duration": ..}
        for k in ("value", "duration", "total"):
            if isinstance(v.get(k), (int, float)):
                return float(v[k])
    return None


def _spans(items: Iterable[Any]) -> list[list[float]]:
    out = []
    for it in items or ():
        if isinstance(it, Mapping):
            s, e = it.get("start"), it.get("end")
        elif isinstance(it, (list, tuple)) and len(it) >= 2:
            s, e = it[0], it[1]
        else:
            continue
        if isinstance(s, (int, float)) and isinstance(e, (int, float)) and e > s:
            out.append([round(float(s), 3), round(float(e), 3)])
    return out


def crosstalk_spans(analysis: Mapping) -> list[list[float]]:
    """Where both parties speak at once: from the metrics when listed, else
    the intersection of the two speech timelines."""
    m = analysis.get("metrics") or {}
    ct = m.get("crosstalk")
    if isinstance(ct, Mapping) and isinstance(ct.get("items"), list):
        return _spans(ct["items"])
    sp = analysis.get("speech") or {}
    a = Timeline(sp.get("customer") or [])
    b = Timeline(sp.get("agent") or [])
    return (a & b).to_list()


def silence_items(analysis: Mapping) -> list[dict]:
    m = analysis.get("metrics") or {}
    s = m.get("silences")
    items = s.get("items") if isinstance(s, Mapping) else s if isinstance(s, list) else None
    if items is None:
        # no silences listed: the gaps between speech (not before the first or after the last word)
        sp = analysis.get("speech") or {}
        both = Timeline(sp.get("customer") or []) | Timeline(sp.get("agent") or [])
        ext = both.extent()
        gaps = both.gaps(ext[0], ext[1]) if ext else Timeline()
        items = [{"start": s_, "end": e_} for s_, e_ in gaps]
    out = []
    for it in items:
        if isinstance(it, Mapping):
            s_, e_ = it.get("start"), it.get("end")
        else:
            s_, e_ = it[0], it[1]
        if isinstance(s_, (int, float)) and isinstance(e_, (int, float)) and e_ > s_:
            d = {"start": round(float(s_), 3), "end": round(float(e_), 3),
                 "duration": round(float(e_) - float(s_), 3)}
            if isinstance(it, Mapping):
                for k in ("before", "after", "next_party", "previous_party"):
                    if k in it:
                        d[k] = it[k]
            out.append(d)
    return out


def silence_threshold(analysis: Mapping, default: float) -> float:
    """The long-silence threshold the analysis used (its counts follow it), else ``default``."""
    opts = (analysis.get("metrics") or {}).get("options")
    v = opts.get("long_silence") if isinstance(opts, Mapping) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else default


def long_silences(analysis: Mapping, threshold: float) -> list[dict]:
    t = silence_threshold(analysis, threshold)
    return [s for s in silence_items(analysis) if s["duration"] >= t - 1e-9]


def interruption_items(analysis: Mapping) -> list[dict]:
    m = analysis.get("metrics") or {}
    it = m.get("interruptions")
    items = it.get("items") if isinstance(it, Mapping) else it if isinstance(it, list) else []
    out = []
    for x in items or []:
        if not isinstance(x, Mapping):
            continue
        s_, e_ = x.get("start"), x.get("end", x.get("start"))
        if not isinstance(s_, (int, float)):
            continue
        who = x.get("interrupter") or x.get("party") or x.get("by")
        out.append({"start": round(float(s_), 3),
                    "end": round(float(e_ if isinstance(e_, (int, float)) else s_), 3),
                    "interrupter": who})
    return out


def interruptions_by_party(analysis: Mapping) -> dict[str, int]:
    """``{"customer": n, "agent": n}``: who interrupted whom how often."""
    m = analysis.get("metrics") or {}
    it = m.get("interruptions")
    counts = {p: 0 for p in PARTIES}
    if all(isinstance(m.get(f"interruptions_by_{p}"), int) for p in PARTIES):
        return {p: int(m[f"interruptions_by_{p}"]) for p in PARTIES}
    if isinstance(it, Mapping):
        found = False
        for p in PARTIES:
            for key in (f"by_{p}", p, f"{p}_interruptions"):
                if isinstance(it.get(key), (int, float)) and not isinstance(it.get(key), bool):
                    counts[p] = int(it[key])
                    found = True
                    break
        by = it.get("by_party")
        if isinstance(by, Mapping):
            for p in PARTIES:
                if isinstance(by.get(p), (int, float)):
                    counts[p] = int(by[p])
                    found = True
        if found:
            return counts
    for x in interruption_items(analysis):
        if x["interrupter"] in counts:
            counts[x["interrupter"]] += 1
    return counts


def flex_metrics(metrics: Mapping | None) -> list[dict]:
    """Flex-named metrics present in ``metrics``, as ``{name, label, value}`` (seconds)."""
    metrics = metrics or {}
    out = []
    for name, label in FLEX_METRICS:
        v = _num(metrics.get(name))
        if v is not None:
            out.append({"name": name, "label": label, "value": round(v, 3)})
    return out


def percentages(metrics: Mapping | None, duration: float | None) -> dict[str, float | None]:
    """Talk shares (of talk time) and crosstalk/silence (of the call), in percent."""
    m = metrics or {}
    cust = _num(m.get("customer_talk_time")) or 0.0
    agent = _num(m.get("agent_talk_time")) or 0.0
    total_talk = cust + agent
    pct = m.get("percentages") if isinstance(m.get("percentages"), Mapping) else {}
    dur = duration or _num(m.get("duration")) or 0.0

    def share(x: float, of: float) -> float | None:
        return round(100.0 * x / of, 1) if of > 0 else None

    out = {
        "customer_share": share(cust, total_talk),
        "agent_share": share(agent, total_talk),
        "crosstalk_pct": share(_num(m.get("crosstalk_time")) or 0.0, dur),
        "silence_pct": share(_num(m.get("silence_time")) or 0.0, dur),
    }
    for k in ("crosstalk_pct", "silence_pct"):
        alt = pct.get(k.replace("_pct", "")) if pct else None
        if out[k] is None and isinstance(alt, (int, float)):
            out[k] = round(float(alt), 1)
    return out


def transcript_turns(analysis: Mapping) -> list[dict]:
    tr = analysis.get("transcript")
    if not isinstance(tr, Mapping):
        return []
    turns = []
    for i, t in enumerate(tr.get("turns") or []):
        if not isinstance(t, Mapping):
            continue
        words = []
        for w in t.get("words") or []:
            if isinstance(w, Mapping) and isinstance(w.get("start"), (int, float)):
                words.append({
                    "start": round(float(w["start"]), 3),
                    "end": round(float(w.get("end", w["start"])), 3),
                    "word": str(w.get("word", "")).strip(),
                    "probability": w.get("probability"),
                })
        turns.append({
            "index": i,
            "party": t.get("party"),
            "start": round(float(t.get("start", words[0]["start"] if words else 0.0)), 3),
            "end": round(float(t.get("end", words[-1]["end"] if words else 0.0)), 3),
            "text": t.get("text") or " ".join(w["word"] for w in words),
            "words": words,
        })
    return turns


def _matched(analysis: Mapping) -> list[Mapping]:
    """The categories a call matched, as :func:`antiphon.rules.evaluate` gives them."""
    return [c for c in analysis.get("categories") or []
            if isinstance(c, Mapping) and c.get("name") and c.get("matched", True)]


def _span(h: Mapping) -> tuple[float, float]:
    start = round(float(h["start"]), 3)
    return start, round(float(h.get("end", start)), 3)


def markers(analysis: Mapping) -> list[dict]:
    """Keyword hits and matched categories' evidence as timeline markers ``{kind, label, start, end, party}``."""
    out = []
    for h in analysis.get("keyword_hits") or []:
        if isinstance(h, Mapping) and isinstance(h.get("start"), (int, float)):
            start, end = _span(h)
            out.append({"kind": "keyword", "label": h.get("phrase") or "", "start": start, "end": end,
                        "party": h.get("party"), "category": h.get("category")})
    for c in _matched(analysis):
        for h in c.get("evidence") or []:
            if isinstance(h, Mapping) and isinstance(h.get("start"), (int, float)):
                start, end = _span(h)
                out.append({"kind": "category", "label": c["name"], "start": start, "end": end,
                            "party": h.get("party"), "category": c["name"]})
    out.sort(key=lambda m: m["start"])
    return out


def category_names(analysis: Mapping) -> list[str]:
    """Names of the categories the call matched (stored analyses may list them as plain names)."""
    names = [c for c in analysis.get("categories") or [] if isinstance(c, str)]
    names += [str(c["name"]) for c in _matched(analysis)]
    return list(dict.fromkeys(names))


def segment_rows(analysis: Mapping, stored: list[Mapping] | None = None) -> list[dict]:
    """The conversation's segments in order: agent, queue, offset, window, talk time."""
    segs = list(stored or analysis.get("segments") or [])
    rows = []
    for i, s in enumerate(segs):
        m = s.get("metrics") or {}
        window = s.get("window")
        offset = s.get("segment_recording_offset", s.get("offset"))
        if offset is None and window:
            offset = window[0]
        rows.append({
            "index": i + 1,
            "worker": s.get("worker") or s.get("agent"),
            "queue": s.get("queue"),
            "segment_recording_offset": offset,
            "window": list(window) if window else None,
            "talk_time": _num(m.get("talk_time")) if m else _num(s.get("talk_time")),
            "agent_talk_time": _num(m.get("agent_talk_time")) if m else _num(s.get("agent_talk_time")),
            "customer_talk_time": _num(m.get("customer_talk_time")) if m else _num(s.get("customer_talk_time")),
            "task_sid": s.get("task_sid"),
            "reservation_sid": s.get("reservation_sid"),
            "note": s.get("note"),
        })
    rows.sort(key=lambda r: (r["segment_recording_offset"] is None, r["segment_recording_offset"] or 0.0))
    for i, r in enumerate(rows):
        r["index"] = i + 1
    return rows


def player_data(analysis: Mapping, *, long_silence: float, duration: float | None = None) -> dict:
    """Everything the player draws, in seconds."""
    rec = analysis.get("recording") or {}
    dur = duration or _num(rec.get("duration")) or 0.0
    sp = analysis.get("speech") or {}
    return {
        "duration": dur,
        "channel_roles": rec.get("channel_roles") or ["customer", "agent"],
        "speech": {p: sp.get(p) or [] for p in PARTIES},
        "crosstalk": crosstalk_spans(analysis),
        "long_silences": long_silences(analysis, long_silence),
        "long_silence_threshold": silence_threshold(analysis, long_silence),
        "interruptions": interruption_items(analysis),
        "markers": markers(analysis),
        "turns": transcript_turns(analysis),
    }


def fmt_seconds(v: Any) -> str:
    """``754.2`` -> ``"12:34.2"``; ``3725`` -> ``"1:02:05"``."""
    if v is None or v == "":
        return "–"
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    sign = "-" if x < 0 else ""
    x = abs(x)
    h, rem = divmod(x, 3600)
    m, s = divmod(rem, 60)
    if h >= 1:
        return f"{sign}{int(h)}:{int(m):02d}:{int(s):02d}"
    if x < 60:
        return f"{sign}{s:.1f} s"
    return f"{sign}{int(m)}:{s:04.1f}"


def fmt_clock(v: Any) -> str:
    """``74.5`` -> ``"1:14.5"`` (player-style position)."""
    if v is None:
        return "–"
    x = max(0.0, float(v))
    h, rem = divmod(x, 3600)
    m, s = divmod(rem, 60)
    if h >= 1:
        return f"{int(h)}:{int(m):02d}:{s:04.1f}"
    return f"{int(m)}:{s:04.1f}"


def transcript_html(turns: list[dict]) -> str:
    """The transcript pane's markup: one block per turn, one span per word.

    Built with string joins rather than a template loop: an hour-long call
    has about 8,000 words and this keeps its page render in milliseconds.
    Words carry ``data-s``/``data-e`` (start/end, seconds); words below 50 %
    confidence are marked ``data-low``.
    """
    from html import escape

    out = []
    for t in turns:
        party = escape(str(t.get("party") or ""))
        start = t["start"]
        when = fmt_clock(start)
        if t["words"]:
            parts = []
            for w in t["words"]:
                p = w.get("probability")
                low = (f' data-low title="confidence {p * 100:.0f}%"'
                       if isinstance(p, (int, float)) and p < 0.5 else "")
                parts.append(f'<span data-s="{w["start"]}" data-e="{w["end"]}"{low}>{escape(w["word"])}</span>')
            body = " ".join(parts)
        else:
            body = escape(t.get("text") or "")
        out.append(
            f'<div class="turn {party}" data-start="{start}" data-end="{t["end"]}">'
            f'<button type="button" class="ts" data-seek="{start}" aria-label="Play from {when} ({party})">{when}</button>'
            f'<span class="who">{party.capitalize()}</span><p class="words">{body}</p></div>'
        )
    return "\n".join(out)
