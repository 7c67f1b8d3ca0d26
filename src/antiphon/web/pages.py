"""Page routes: conversations list, conversation + player, reports.

Route handlers are plain functions: FastAPI runs them in its thread pool, so
database reads and template rendering never block the event loop (audio
Range requests keep streaming while a big page renders).

Every page is server-rendered HTML and also JSON: add ``.json`` to the path,
pass ``?_format=json`` or send ``Accept: application/json``. Lists and
reports are also CSV (``.csv``). Errors have one shape,
``{"ok": false, "error", "errors", "status"}``, in JSON and in HTML.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ..errors import AntiphonError, Problem
from . import charts, views
from .source import GROUPS, MAX_PER_PAGE, REPORT_COLUMNS, SORT_KEYS, ListQuery, ReportQuery, day_range

HERE = Path(__file__).resolve().parent
STATIC_PREFIX = "/-/static"

DEFAULT_COLOURS = {
    "customer": "#1a7f37",  # green, 5.1:1 on white
    "agent": "#1f5fbf",  # blue, 6.0:1 on white
    "crosstalk": "#d1242f",  # red
    "silence": "#b35900",  # orange, 4.8:1 on white
    "marker": "#6f42c1",  # keyword / category hits
    "segment": "#24292f",  # transfer boundaries
    "background": "#ffffff",
}


class NotFound(AntiphonError):
    status = 404


@dataclass
class WebConfig:
    """Settings of the pages.

    colours:
        Channel and overlay colours (CSS). Override with the
        ``ANTIPHON_COLOURS`` environment variable, e.g.
        ``customer=#0a7d32,agent=#0b5cad``.
    long_silence:
        Silences at least this long (seconds) are marked and counted as long.
    peaks_cache_dir:
        Where waveform peaks are cached. ``mount`` over a store uses
        ``<data_dir>/peaks``; ``None`` caches beside each recording (falling
        back to no cache when that is read-only).
    """

    colours: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLOURS))
    long_silence: float = 5.0
    peaks_cache_dir: str | None = None
    per_page: int = 50
    title: str = "Antiphon"

    @classmethod
    def from_env(cls, **kw) -> "WebConfig":
        cfg = cls(**kw)
        raw = os.environ.get("ANTIPHON_COLOURS") or os.environ.get("ANTIPHON_COLORS")
        if raw:
            cfg.colours.update(parse_colours(raw))
        if os.environ.get("ANTIPHON_LONG_SILENCE"):
            cfg.long_silence = float(os.environ["ANTIPHON_LONG_SILENCE"])
        return cfg


_COLOUR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]+)$")


def parse_colours(raw: str) -> dict[str, str]:
    """``"customer=#0a7d32,agent=#0b5cad"`` -> dict; raises on unknown names or bad values."""
    out, problems = {}, []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if name not in DEFAULT_COLOURS:
            problems.append(Problem(f"colours.{name}", f"unknown colour name; one of {', '.join(DEFAULT_COLOURS)}"))
        elif not _COLOUR.match(value):
            problems.append(Problem(f"colours.{name}", f"{value!r} is not a CSS colour like #1a7f37"))
        else:
            out[name] = value
    if problems:
        raise AntiphonError("invalid ANTIPHON_COLOURS", problems)
    return out


# -- content negotiation -------------------------------------------------------

def wants(request: Request, suffix: str | None) -> str:
    if suffix in ("json", "csv"):
        return suffix
    fmt = request.query_params.get("_format")
    if fmt in ("json", "csv", "html"):
        return fmt
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return "json"
    if "text/csv" in accept and "text/html" not in accept:
        return "csv"
    return "html"


def _split(name: str) -> tuple[str, str | None]:
    for ext in ("json", "csv"):
        if name.endswith("." + ext):
            return name[: -len(ext) - 1], ext
    return name, None


def _date(params, key: str, problems: list[Problem]) -> date | None:
    v = (params.get(key) or "").strip()
    if not v:
        return None
    try:
        return date.fromisoformat(v[:10])
    except ValueError:
        problems.append(Problem(key, f"{key}={v!r} is not a date (YYYY-MM-DD)"))
        return None


def parse_list_query(params, per_page_default: int) -> ListQuery:
    problems: list[Problem] = []
    d_from = _date(params, "from", problems)
    d_to = _date(params, "to", problems)
    ct = None
    if (params.get("crosstalk_above") or "").strip():
        try:
            ct = float(params["crosstalk_above"])
        except ValueError:
            problems.append(Problem("crosstalk_above", "crosstalk_above must be a number (percent of the call)"))
    sort = (params.get("sort") or "-started_at").strip()
    desc = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        problems.append(Problem("sort", f"sort must be one of {', '.join(SORT_KEYS)} (prefix - for descending)"))
        key = "started_at"
    page, per_page = 1, per_page_default
    for name in ("page", "per_page"):
        raw = (params.get(name) or "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                problems.append(Problem(name, f"{name} must be a positive whole number"))
            elif name == "page":
                page = int(raw)
            else:
                per_page = min(int(raw), MAX_PER_PAGE)
    if problems:
        raise AntiphonError("invalid list parameters", problems)
    flag = lambda k: (params.get(k) or "").lower() in ("1", "true", "yes", "on")  # noqa: E731
    return ListQuery(
        date_from=d_from, date_to=d_to,
        q=(params.get("q") or "").strip() or None,
        agent=(params.get("agent") or "").strip() or None,
        queue=(params.get("queue") or "").strip() or None,
        category=(params.get("category") or "").strip() or None,
        crosstalk_above=ct,
        long_silences=flag("long_silences"),
        hide_duplicates=(params.get("duplicates") or "hide").lower() != "show",
        sort=key, desc=desc, page=page, per_page=per_page,
    )


def parse_report_query(params) -> ReportQuery:
    problems: list[Problem] = []
    g = (params.get("group_by") or "agent").strip()
    if g not in GROUPS:
        problems.append(Problem("group_by", f"group_by must be one of {', '.join(GROUPS)}"))
    d_from = _date(params, "from", problems)
    d_to = _date(params, "to", problems)
    if d_from and d_to and d_to < d_from:
        problems.append(Problem("to", "to is before from"))
    if problems:
        raise AntiphonError("invalid report parameters", problems)
    return ReportQuery(group_by=g, date_from=d_from, date_to=d_to)


# -- the router ----------------------------------------------------------------

def create_router(source, config: WebConfig | None = None, *, media_url: Callable[[dict], str | None] | None = None) -> APIRouter:
    """Routes of the web pages over ``source`` (see :mod:`antiphon.web.source`)."""
    from fastapi.templating import Jinja2Templates

    config = config or WebConfig()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["secs"] = views.fmt_seconds
    env.filters["clock"] = views.fmt_clock
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.1f}%"
    env.filters["tojson_attr"] = lambda v: json.dumps(v, separators=(",", ":"))
    env.globals["static"] = lambda p: f"{STATIC_PREFIX}/{p}"
    env.globals["config"] = config
    env.globals["urlencode"] = urlencode
    router = APIRouter()

    def render(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
        # Rendered here, in the worker thread running the (sync) route, not on the event loop.
        ctx = {"request": request, "colours": config.colours, "title": config.title, **ctx}
        return HTMLResponse(env.get_template(name).render(ctx), status_code=status)

    def error(request: Request, fmt: str, exc: AntiphonError) -> Response:
        body = exc.to_dict()
        if fmt == "json" or fmt == "csv":
            return JSONResponse(body, status_code=exc.status)
        return render(request, "error.html", {"error": body}, status=exc.status)

    @router.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/conversations", status_code=302)

    # -- conversations list ------------------------------------------------------
    def conversations(request: Request, suffix: str | None) -> Response:
        fmt = wants(request, suffix)
        try:
            q = parse_list_query(request.query_params, config.per_page)
            page = source.list_conversations(q)
        except AntiphonError as exc:
            return error(request, fmt, exc)
        base = "/conversations"
        nav = {
            "self": base + _qs(q.params()),
            "json": base + ".json" + _qs(q.params()),
            "csv": base + ".csv" + _qs(q.params(page=1)),
            "next": base + _qs(q.params(page=q.page + 1)) if q.page < page.pages else None,
            "prev": base + _qs(q.params(page=q.page - 1)) if q.page > 1 else None,
        }
        for r in page.rows:
            r["url"] = f"/conversations/{r['id']}"
        if fmt == "json":
            return JSONResponse({
                "ok": True, "total": page.total, "page": q.page, "per_page": q.per_page,
                "pages": page.pages, "filters": q.params(page=1), "rows": page.rows,
                "links": {k: v for k, v in nav.items()},
            })
        if fmt == "csv":
            return _conversations_csv(source, q)
        sort_links = {}
        for key in SORT_KEYS:
            desc = not (q.sort == key and q.desc)  # clicking the active column flips it
            if q.sort != key:
                desc = key in ("started_at", "duration", "talk_time", "crosstalk_pct", "silence_pct",
                               "long_silences", "interruptions", "customer_share")
            sort_links[key] = base + _qs(q.params(sort=key, desc=desc, page=1))
        return render(request, "conversations.html", {
            "page": page, "q": q, "nav": nav, "facets": source.facets(), "sort_links": sort_links,
        })

    @router.get("/conversations", include_in_schema=False)
    def conversations_html(request: Request):
        return conversations(request, None)

    @router.get("/conversations.json", include_in_schema=False)
    def conversations_json(request: Request):
        return conversations(request, "json")

    @router.get("/conversations.csv", include_in_schema=False)
    def conversations_csv(request: Request):
        return conversations(request, "csv")

    # -- one conversation ----------------------------------------------------------
    @router.get("/conversations/{name}", include_in_schema=False)
    def conversation(request: Request, name: str):
        cid, suffix = _split(name)
        fmt = wants(request, suffix)
        rsid = request.query_params.get("recording") or None
        try:
            conv = source.get_conversation(cid, recording_sid=rsid) if rsid else source.get_conversation(cid)
            if conv is None:
                raise NotFound(f"no conversation {cid!r}")
            data = conversation_view(conv, config, media_url)
        except AntiphonError as exc:
            return error(request, fmt, exc)
        if fmt == "json":
            return JSONResponse({"ok": True, **data})
        # The transcript is in the page as markup; the embedded JSON leaves it out.
        embedded = {**data, "player": {k: v for k, v in data["player"].items() if k != "turns"}}
        return render(request, "conversation.html", {
            "c": data, "player_json": json.dumps(embedded, separators=(",", ":")),
            "transcript_html": views.transcript_html(data["player"]["turns"]),
        })

    @router.get("/conversations/{cid}/peaks.json", include_in_schema=False)
    def peaks(request: Request, cid: str):
        from ..peaks import peaks_for

        rsid = request.query_params.get("recording") or None
        try:
            conv = source.get_conversation(cid, recording_sid=rsid) if rsid else source.get_conversation(cid)
            if conv is None:
                raise NotFound(f"no conversation {cid!r}")
            if rsid and conv.get("recording_sid") and conv["recording_sid"] != rsid:
                raise NotFound(f"conversation {cid!r} has no recording {rsid!r}",
                               [Problem("recording", "not one of this conversation's recordings")])
            path = conv.get("recording_path") or (source.recording_path(conv["recording_sid"])
                                                   if conv.get("recording_sid") else None)
            if not path or not Path(path).exists():
                raise NotFound(f"conversation {cid!r} has no stored recording")
            p = peaks_for(path, config.peaks_cache_dir)
        except AntiphonError as exc:
            return error(request, "json", exc)
        compact = request.query_params.get("encoding", "u8-base64") != "float"
        return JSONResponse(p.to_dict(compact=compact), headers={"Cache-Control": "private, max-age=86400"})

    # -- reports -------------------------------------------------------------------
    def reports(request: Request, suffix: str | None) -> Response:
        fmt = wants(request, suffix)
        try:
            rq = parse_report_query(request.query_params)
            rows = source.report(rq)
        except AntiphonError as exc:
            return error(request, fmt, exc)
        params = {"group_by": rq.group_by}
        if rq.date_from:
            params["from"] = rq.date_from.isoformat()
        if rq.date_to:
            params["to"] = rq.date_to.isoformat()
        links = {"self": "/reports" + _qs(params), "json": "/reports.json" + _qs(params),
                 "csv": "/reports.csv" + _qs(params)}
        for r in rows:
            r["conversations_url"] = _drill(rq, r["group"])
        if fmt == "json":
            return JSONResponse({"ok": True, "group_by": rq.group_by,
                                 "from": params.get("from"), "to": params.get("to"),
                                 "columns": list(REPORT_COLUMNS), "rows": rows, "links": links})
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow([rq.group_by if c == "group" else c for c in REPORT_COLUMNS])
            for r in rows:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in REPORT_COLUMNS])
            fname = f"antiphon-report-by-{rq.group_by}{'-' + params['from'] if 'from' in params else ''}" \
                    f"{'-to-' + params['to'] if 'to' in params else ''}.csv"
            return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{fname}"'})
        return render(request, "reports.html", {
            "rows": rows, "rq": rq, "links": links, "charts": report_charts(rows, rq, config),
            "groups": GROUPS,
        })

    @router.get("/reports", include_in_schema=False)
    def reports_html(request: Request):
        return reports(request, None)

    @router.get("/reports.json", include_in_schema=False)
    def reports_json(request: Request):
        return reports(request, "json")

    @router.get("/reports.csv", include_in_schema=False)
    def reports_csv(request: Request):
        return reports(request, "csv")

    return router


def _qs(params: dict) -> str:
    return ("?" + urlencode(params)) if params else ""


def _drill(rq: ReportQuery, group: str) -> str:
    p: dict[str, str] = {}
    if rq.group_by == "day":
        p["from"] = p["to"] = group
    else:
        if group != "(none)":
            p[rq.group_by] = group
        if rq.date_from:
            p["from"] = rq.date_from.isoformat()
        if rq.date_to:
            p["to"] = rq.date_to.isoformat()
    return "/conversations" + _qs(p)


CSV_COLUMNS = ("id", "started_at", "duration", "agents", "queues", "talk_time", "customer_talk_time",
               "agent_talk_time", "customer_share", "agent_share", "crosstalk_time", "crosstalk_pct",
               "silence_time", "silence_pct", "long_silences", "interruptions_by_customer",
               "interruptions_by_agent", "categories")


def _conversations_csv(source, q: ListQuery) -> Response:
    """The whole filtered list (all pages) as CSV, streamed page by page."""
    from fastapi.responses import StreamingResponse

    def gen():
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_COLUMNS)
        page_no = 1
        while True:
            page = source.list_conversations(replace(q, page=page_no, per_page=MAX_PER_PAGE))
            for r in page.rows:
                w.writerow([";".join(r[c]) if isinstance(r.get(c), list) else ("" if r.get(c) is None else r[c])
                            for c in CSV_COLUMNS])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if page_no >= page.pages or not page.rows:
                break
            page_no += 1

    return StreamingResponse(gen(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="antiphon-conversations.csv"'})


def conversation_view(conv: dict, config: WebConfig, media_url=None) -> dict:
    """The conversation page's data (also its JSON and the player's input)."""
    a = conv.get("analysis") or {}
    rec = a.get("recording") or {}
    duration = conv.get("duration") or rec.get("duration")
    m = a.get("metrics") or {}
    url = conv.get("media_url") or (media_url(conv) if media_url else None)
    cid = str(conv["id"])
    segments = views.segment_rows(a, conv.get("segments"))
    player = views.player_data(a, long_silence=config.long_silence, duration=duration)
    player["segments"] = [
        {"start": s["window"][0] if s["window"] else s["segment_recording_offset"],
         "end": s["window"][1] if s["window"] else None, "worker": s["worker"], "queue": s["queue"]}
        for s in segments if (s["window"] or s["segment_recording_offset"] is not None)
    ]
    inter = views.interruptions_by_party(a)
    from .source import _parse_dt

    moments = sorted(
        [{"kind": "silence", "start": x["start"], "label": f"Silence {views.fmt_seconds(x['duration'])}", "party": None}
         for x in player["long_silences"]]
        + [{"kind": x["kind"], "start": x["start"], "label": x["label"], "party": x["party"]} for x in player["markers"]]
        + [{"kind": "interruption", "start": x["start"], "label": f"Interruption by {x['interrupter'] or 'unknown'}",
            "party": None} for x in player["interruptions"]],
        key=lambda x: x["start"])

    started = _parse_dt(conv.get("started_at") or rec.get("start_time"))
    return {
        "id": cid,
        "started_at": started.isoformat().replace("+00:00", "Z") if started else None,
        "duration": duration,
        "status": conv.get("status") or ("analyzed" if a else "pending"),
        "duplicate_of": conv.get("duplicate_of"),
        "recording": {
            "sid": conv.get("recording_sid"),
            "media_url": url,
            # keyed by the recording, so a browser's cached peaks never belong to another recording
            "peaks_url": f"/conversations/{cid}/peaks.json"
                         + (f"?recording={conv['recording_sid']}" if conv.get("recording_sid") else ""),
            "sample_rate": rec.get("sample_rate"),
            "channel_roles": rec.get("channel_roles") or ["customer", "agent"],
        },
        "recordings": conv.get("recordings") or [],
        "segments": segments,
        "metrics": views.flex_metrics(m),
        "percentages": views.percentages(m, duration),
        "interruptions_by_party": inter,
        "categories": views.category_names(a),
        "keyword_hits": [x for x in player["markers"] if x["kind"] == "keyword"],
        "moments": moments,
        "warnings": list(a.get("warnings") or []) + list(conv.get("warnings") or []),
        "player": player,
        "colours": config.colours,
        "links": {"html": f"/conversations/{cid}", "json": f"/conversations/{cid}.json",
                  "list": "/conversations"},
        "analysis": a if conv.get("include_analysis") else None,
    }


def report_charts(rows: list[dict], rq: ReportQuery, config: WebConfig) -> dict[str, str]:
    c = config.colours
    label = {"agent": "agent", "queue": "queue", "day": "day"}[rq.group_by]
    out = {}
    if rq.group_by == "day":
        pts = [(r["group"], r["calls"]) for r in rows]
        days = day_range(rq.date_from, rq.date_to)
        if days and len(days) <= 400:
            have = dict(pts)
            pts = [(d.isoformat(), have.get(d.isoformat(), 0)) for d in days]
        out["calls"] = charts.columns("Calls per day", pts, colour=c["agent"])
    else:
        out["calls"] = charts.hbar(f"Calls per {label}", rows, "group", [("calls", "Calls", c["agent"])])
    out["share"] = charts.hbar(f"Share of talk per {label}", rows, "group",
                               [("customer_share", "Customer", c["customer"]), ("agent_share", "Agent", c["agent"])],
                               unit="%", max_value=100.0, stacked=True)
    out["quality"] = charts.hbar(f"Crosstalk and silence per {label} (% of call time)", rows, "group",
                                 [("crosstalk_pct", "Crosstalk", c["crosstalk"]), ("silence_pct", "Silence", c["silence"])],
                                 unit="%")
    out["interruptions"] = charts.hbar(f"Interruptions per {label}, by who interrupted", rows, "group",
                                       [("interruptions_by_customer", "By customer", c["customer"]),
                                        ("interruptions_by_agent", "By agent", c["agent"])])
    return out
