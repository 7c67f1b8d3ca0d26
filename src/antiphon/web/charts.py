"""Small inline SVG charts, rendered on the server (no JavaScript needed).

Each function returns an SVG string with a ``<title>`` and ``<desc>`` and an
``aria-labelledby`` so a screen reader announces what the chart shows; every
bar carries a ``<title>`` with its exact value for hover.
"""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

_FONT = 'font-family="system-ui, sans-serif" font-size="13"'
_uid = 0


def _id(prefix: str) -> str:
    global _uid
    _uid += 1
    return f"{prefix}-{_uid}"


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "%":
        return f"{v:.1f}%"
    if unit == "s":
        return f"{v:.0f} s" if v < 120 else f"{v / 60:.1f} min"
    return f"{v:g}"


def hbar(title: str, rows: Sequence[Mapping], label_key: str, series: Sequence[tuple[str, str, str]],
         *, unit: str = "", max_value: float | None = None, stacked: bool = False,
         width: int = 620, bar_height: int = 20, max_rows: int = 25) -> str:
    """Horizontal bars, one row per group.

    ``series``: ``(key, label, css colour)``. ``stacked=True`` stacks the series
    (talk shares); else they are drawn side by side within a row.
    """
    rows = list(rows)[:max_rows]
    label_w = 130
    value_w = 80
    plot_w = width - label_w - value_w - 10
    per_row = bar_height if stacked else bar_height * len(series) // max(1, len(series)) * len(series)
    row_h = per_row + 10
    legend_h = 22
    height = legend_h + row_h * max(1, len(rows)) + 6
    if max_value is None:
        vals = [
            (sum((r.get(k) or 0) for k, _, _ in series) if stacked else max((r.get(k) or 0) for k, _, _ in series))
            for r in rows
        ]
        max_value = max(vals + [0]) or 1.0
    tid, did = _id("t"), _id("d")
    desc = "; ".join(
        f"{r.get(label_key)}: " + ", ".join(f"{lab} {_fmt(r.get(k), unit)}" for k, lab, _ in series) for r in rows
    )
    out = [f'<svg class="chart" role="img" aria-labelledby="{tid} {did}" viewBox="0 0 {width} {height}" '
           f'width="100%" preserveAspectRatio="xMinYMin meet" {_FONT}>',
           f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>']
    x = label_w
    for _key, lab, colour in series:  # legend
        out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{x + 16}" y="14" fill="currentColor">{escape(lab)}</text>')
        x += 30 + 8 * len(lab)
    if not rows:
        out.append(f'<text x="{label_w}" y="{legend_h + 14}" fill="currentColor">No data in this range</text>')
    for i, r in enumerate(rows):
        y0 = legend_h + i * row_h
        label = str(r.get(label_key) or "")
        short = label if len(label) <= 22 else label[:21] + "…"
        out.append(f'<text x="{label_w - 8}" y="{y0 + per_row / 2 + 4:.1f}" text-anchor="end" fill="currentColor">'
                   f'<title>{escape(label)}</title>{escape(short)}</text>')
        if stacked:
            xx = float(label_w)
            for k, lab, colour in series:
                v = float(r.get(k) or 0)
                w = plot_w * v / max_value if max_value else 0
                out.append(f'<rect x="{xx:.1f}" y="{y0}" width="{max(0.0, w):.1f}" height="{bar_height}" fill="{colour}">'
                           f'<title>{escape(label)} · {escape(lab)}: {_fmt(v, unit)}</title></rect>')
                xx += w
            vals = " / ".join("–" if r.get(k) is None else f"{float(r.get(k)):.0f}" for k, _, _ in series)
            out.append(f'<text x="{label_w + plot_w + 6}" y="{y0 + bar_height / 2 + 4:.1f}" fill="currentColor">'
                       f'{vals}{unit if unit == "%" else ""}</text>')
        else:
            bh = bar_height // len(series) if len(series) > 1 else bar_height
            for j, (k, lab, colour) in enumerate(series):
                v = r.get(k)
                w = plot_w * float(v or 0) / max_value if max_value else 0
                yy = y0 + j * bh
                out.append(f'<rect x="{label_w}" y="{yy}" width="{max(0.0, w):.1f}" height="{bh - 1}" fill="{colour}">'
                           f'<title>{escape(label)} · {escape(lab)}: {_fmt(v, unit)}</title></rect>')
                out.append(f'<text x="{label_w + w + 4:.1f}" y="{yy + bh - 4}" font-size="11" fill="currentColor">'
                           f'{_fmt(v, unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def columns(title: str, points: Sequence[tuple[str, float]], *, colour: str = "#1f5fbf", unit: str = "",
            width: int = 620, height: int = 200) -> str:
    """Vertical columns over an ordered axis (calls per day)."""
    tid, did = _id("t"), _id("d")
    n = max(1, len(points))
    top, bottom, left = 14, 30, 36
    plot_h = height - top - bottom
    plot_w = width - left - 8
    vmax = max([v for _, v in points] + [0]) or 1
    desc = "; ".join(f"{k}: {_fmt(v, unit)}" for k, v in points)
    out = [f'<svg class="chart" role="img" aria-labelledby="{tid} {did}" viewBox="0 0 {width} {height}" '
           f'width="100%" preserveAspectRatio="xMinYMin meet" {_FONT}>',
           f'<title id="{tid}">{escape(title)}</title><desc id="{did}">{escape(desc)}</desc>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="currentColor" stroke-opacity=".4"/>',
           f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11" fill="currentColor">{_fmt(vmax, unit)}</text>',
           f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11" fill="currentColor">0</text>']
    bw = plot_w / n
    step = max(1, n // 8)
    for i, (k, v) in enumerate(points):
        h = plot_h * float(v or 0) / vmax
        x = left + i * bw
        out.append(f'<rect x="{x + bw * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{max(1.0, bw * 0.8):.1f}" '
                   f'height="{h:.1f}" fill="{colour}"><title>{escape(k)}: {_fmt(v, unit)}</title></rect>')
        if i % step == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
                       f'fill="currentColor">{escape(k[5:] if len(k) == 10 else k)}</text>')
    if not points:
        out.append(f'<text x="{left + 10}" y="{top + plot_h / 2}" fill="currentColor">No data in this range</text>')
    out.append("</svg>")
    return "".join(out)
