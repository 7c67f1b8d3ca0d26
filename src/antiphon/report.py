"""Human-readable rendering of an analysis (the CLI's default output)."""

from __future__ import annotations

__all__ = ["format_analysis"]


def _fmt_s(value) -> str:
    return "-" if value is None else f"{value:.1f} s"


def format_analysis(result: dict) -> str:
    """Render ``Analysis.to_dict()`` as a compact text report."""
    from .metrics import format_metrics

    rec = result["recording"]
    roles = rec["channel_roles"]
    lines = [
        f"{rec['path']}",
        f"  {rec['duration']:.1f} s, {rec['sample_rate']} Hz {rec['subtype']}; "
        f"channel 1 = {roles[0]}, channel 2 = {roles[1]}"
        + (f"; started {rec['start_time']}" if rec.get("start_time") else ""),
        "",
        format_metrics(result["metrics"]),
    ]
    segs = result.get("segments") or []
    if segs:
        lines += ["", "Segments:"]
        header = f"  {'#':>2}  {'worker':<14} {'queue':<14} {'offset':>9} {'window':>17} {'customer':>9} {'agent':>9} {'crosstalk':>9}"
        lines.append(header)
        for i, s in enumerate(segs, 1):
            m = s.get("metrics") or {}
            win = s.get("window")
            win_s = f"{win[0]:.1f}-{win[1]:.1f} s" if win else "-"
            lines.append(
                f"  {i:>2}  {str(s.get('worker') or '-'):<14} {str(s.get('queue') or '-'):<14} "
                f"{_fmt_s(s.get('segment_recording_offset')):>9} {win_s:>17} "
                f"{_fmt_s(m.get('customer_talk_time')):>9} {_fmt_s(m.get('agent_talk_time')):>9} "
                f"{_fmt_s(m.get('crosstalk_time')):>9}"
            )
            if s.get("note"):
                lines.append(f"      note: {s['note']}")
    transcript = result.get("transcript")
    if transcript:
        lines += ["", "Transcript:"]
        for t in transcript.get("turns", []):
            lines.append(f"  [{t['start']:7.2f}] {t['party']:<8} {t['text']}")
    cats = result.get("categories")
    if cats:
        matched = [c["name"] for c in cats if c.get("matched")]
        lines += ["", "Categories: " + (", ".join(matched) if matched else "none matched")]
    for w in result.get("warnings") or []:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
