"""The FastAPI application: webhooks, JSON API, Twilio-compatible media, web pages."""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..config import Settings, load_settings
from ..errors import AntiphonError, Problem
from ..store import Store, open_store
from ..store.core import NotFound
from . import media as _media
from .signature import public_url, valid_signature

__all__ = ["create_app"]

log = logging.getLogger("antiphon.server")

_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")
#: Paths that do not need an API key (webhooks carry a Twilio signature instead).
#: Largest webhook body accepted (Twilio's are a few kilobytes; task attributes are capped at 16 KiB).
MAX_WEBHOOK_BYTES = 1 << 20
PUBLIC_PATHS = ("/twilio/", "/healthz", "/openapi.json", "/docs", "/redoc", "/-/static/")


def _error(status: int, message: str, problems: list[Problem] | None = None, *, twilio: bool = False,
           headers: dict | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error": message, "errors": [p.to_dict() for p in problems or []],
                            "status": status}
    if twilio:  # the Twilio REST error fields, so Twilio's client libraries read the error
        body.update(code=20000 + status if status in (401, 403, 404) else status, message=message, more_info=None)
    return JSONResponse(body, status_code=status, headers=headers)


def _is_twilio_path(request: Request) -> bool:
    return request.url.path.startswith("/2010-04-01/")


class HTTPError(AntiphonError):
    """An error with an explicit HTTP status (403 bad signature, 413 too large ...)."""

    def __init__(self, status: int, message: str, problems: list[Problem] | None = None):
        super().__init__(message, problems)
        self.status = status


# ----------------------------------------------------------------- auth


class BasicAuth:
    """ASGI middleware: every path except :data:`PUBLIC_PATHS` needs an API key as HTTP Basic."""

    def __init__(self, app, store: Store):
        self.app = app
        self.store = store

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self.store.settings.auth:
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if any(path.startswith(p) or path == p.rstrip("/") for p in PUBLIC_PATHS):
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        ok = False
        if header[:6].lower() == "basic ":
            try:
                user, _, secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
                ok = bool(user and secret) and await run_in_threadpool(self.store.check_key, user, secret)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                ok = False
        if ok:
            return await self.app(scope, receive, send)
        msg = ("authentication required: HTTP Basic with an API key id and secret (create one with "
               "'antiphon keys create --name NAME')" if not header else "invalid or revoked API key")
        resp = _error(401, msg, twilio=path.startswith("/2010-04-01/"),
                      headers={"WWW-Authenticate": 'Basic realm="antiphon", charset="UTF-8"'})
        await resp(scope, receive, send)


# ----------------------------------------------------------------- app


def create_app(settings: Settings | None = None, store: Store | None = None, *, web: bool = True) -> FastAPI:
    """The whole HTTP service for ``store`` (opened from ``settings`` when not given).

    ``web=False`` leaves out the HTML pages (only webhooks, JSON API and media).
    """
    if store is None:
        store = open_store(settings or load_settings())
    settings = store.settings
    app = FastAPI(
        title="Antiphon",
        version=__version__,
        description="Dual-channel call recording analytics: Twilio webhooks, uploads, "
                    "conversations, reports and Twilio-compatible recording media.",
    )
    app.state.store = store
    app.state.settings = settings

    @app.exception_handler(AntiphonError)
    async def _antiphon_error(request: Request, exc: AntiphonError):
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        return _error(exc.status, exc.message, exc.problems, twilio=_is_twilio_path(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        msg = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and msg == "Not Found":
            msg = f"no such page: {request.url.path}"
        elif exc.status_code == 405:
            msg = f"method {request.method} is not allowed on {request.url.path}"
        return _error(exc.status_code, msg, twilio=_is_twilio_path(request),
                      headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "form", "header")]
            path = ".".join(loc) or "request"
            problems.append(Problem(path, f"{path}: {e.get('msg', 'invalid')}"))
        return _error(422, "invalid request: " + "; ".join(str(p) for p in problems), problems,
                      twilio=_is_twilio_path(request))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        log.exception("%s %s failed", request.method, request.url.path)
        return _error(500, "internal server error (the details are in the server log)")

    app.include_router(_webhooks(store))
    app.include_router(_api(store))
    app.include_router(_twilio_api(store))

    @app.get("/healthz", tags=["service"], summary="Liveness: the service and its database answer")
    def healthz():
        from sqlalchemy import text

        with store.session() as s:
            s.execute(text("SELECT 1"))
        return {"ok": True, "version": __version__}

    if web:
        try:
            from ..web import mount as _mount_web
        except ImportError:
            _mount_web = None
        if _mount_web is not None:
            try:
                _mount_web(app, store)
            except ModuleNotFoundError as exc:  # a web part not installed: serve the API alone
                log.warning("web pages not served: %s", exc)
    if not any(getattr(r, "path", None) == "/" for r in app.routes):
        @app.get("/", include_in_schema=False)
        def index():
            return {"ok": True, "service": "antiphon", "version": __version__,
                    "api": ["/api/conversations", "/api/reports", "/api/jobs", "/openapi.json"]}

    app.add_middleware(BasicAuth, store=store)
    return app


# ----------------------------------------------------------------- webhooks


def _webhooks(store: Store) -> APIRouter:
    from .. import ingest

    r = APIRouter(tags=["webhooks"])

    async def _verified_params(request: Request) -> list[tuple[str, str]]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
            raise HTTPError(413, f"webhook body larger than {MAX_WEBHOOK_BYTES} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_WEBHOOK_BYTES:
                raise HTTPError(413, f"webhook body larger than {MAX_WEBHOOK_BYTES} bytes")
        body = raw.decode("utf-8", "replace")
        params = parse_qsl(body, keep_blank_values=True)
        st = store.settings
        if not st.twilio_auth_token:
            if st.auth:
                raise HTTPError(403,
                    "webhook signatures cannot be checked: set ANTIPHON_TWILIO_AUTH_TOKEN "
                    "(or ANTIPHON_AUTH=off on a trusted network to accept unsigned webhooks)")
            return params
        url = public_url(request, st.public_url)
        if not valid_signature(url, params, request.headers.get("x-twilio-signature"), st.twilio_auth_token):
            why = "missing" if not request.headers.get("x-twilio-signature") else "does not match"
            raise HTTPError(403,
                f"X-Twilio-Signature {why}: the request was not signed with this account's Auth Token "
                f"for {url} (behind a proxy, set ANTIPHON_PUBLIC_URL to the URL configured in Twilio)")
        return params

    @r.post("/twilio/taskrouter", summary="TaskRouter event callback (form POST, signed by Twilio)")
    async def taskrouter(request: Request):
        params = await _verified_params(request)
        return await run_in_threadpool(ingest.handle_taskrouter_event, store, dict(params))

    @r.post("/twilio/recording-status", summary="Recording status callback (form POST, signed by Twilio)")
    async def recording_status(request: Request):
        params = await _verified_params(request)
        return await run_in_threadpool(ingest.handle_recording_status, store, dict(params))

    # A URL configured in Twilio with a trailing slash is answered, not redirected: Twilio
    # signs the URL it posts to, and a redirect would lose the POST.
    r.add_api_route("/twilio/taskrouter/", taskrouter, methods=["POST"], include_in_schema=False)
    r.add_api_route("/twilio/recording-status/", recording_status, methods=["POST"], include_in_schema=False)
    return r


# ----------------------------------------------------------------- JSON API


def _api(store: Store) -> APIRouter:
    r = APIRouter(prefix="/api", tags=["api"])

    @r.get("/conversations", summary="List conversations (filters, sort, pagination, total count)")
    def conversations(
        from_: str | None = Query(None, alias="from", description="Start date (YYYY-MM-DD) or ISO 8601 time, inclusive"),
        to: str | None = Query(None, description="End date (inclusive day) or ISO 8601 time (exclusive)"),
        agent: str | None = Query(None, description="Worker name of any segment"),
        queue: str | None = Query(None, description="Queue of any segment or the conversation"),
        category: str | None = Query(None, description="Category from the rules"),
        direction: str | None = Query(None, description="inbound or outbound"),
        q: str | None = Query(None, description="Conversation id, call SID, task/reservation SID or recording SID"),
        problems: str | None = Query(None, description="true: only with media metadata problems; false: only without"),
        sort: str = Query("-started_at", description="started_at, duration, talk_time, customer_talk_time, "
                                                     "agent_talk_time, crosstalk_time, silence_time; prefix - to descend"),
        limit: str | None = Query(None, description="Rows per page, 1-500 (default 50)"),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
        page: str | None = Query(None, description="Page number (1-based), instead of cursor"),
    ):
        filters = {"from": from_, "to": to, "agent": agent, "queue": queue, "category": category,
                   "direction": direction, "q": q, "problems": problems}
        out = store.list_conversations({k: v for k, v in filters.items() if v is not None}, sort,
                                       {"limit": limit, "cursor": cursor, "page": page})
        return {"ok": True, **out}

    @r.get("/conversations/{conversation_id}", summary="One conversation: segments, metrics, speech, recordings, problems")
    def conversation(conversation_id: str):
        c = store.get_conversation(conversation_id)
        if c is None:
            raise NotFound(f"no conversation {conversation_id}",
                           [Problem("conversation_id", f"no conversation with id {conversation_id}")])
        return {"ok": True, "conversation": c}

    @r.get("/reports", summary="Aggregates per agent, queue or day")
    def reports(
        group_by: str = Query(..., description="agent, queue or day"),
        from_: str | None = Query(None, alias="from", description="Start date or ISO time (inclusive)"),
        to: str | None = Query(None, description="End date (inclusive day) or ISO time (exclusive)"),
        agent: str | None = Query(None, description="Only this agent's calls"),
        queue: str | None = Query(None, description="Only this queue's calls"),
    ):
        return {"ok": True, **store.report(group_by, from_, to, agent=agent, queue=queue)}

    @r.get("/jobs", summary="Jobs (download, analyse, segments) with state, attempts and last error")
    def jobs(state: str | None = Query(None, description="queued, running, done or failed"),
             kind: str | None = Query(None, description="fetch, analyze or segments"),
             limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0)):
        return {"ok": True, **store.list_jobs(state=state, kind=kind, limit=limit, offset=offset)}

    @r.get("/jobs/{job_id}", summary="One job")
    def job(job_id: int):
        return {"ok": True, "job": store.get_job(job_id)}

    @r.post("/jobs/{job_id}/retry", summary="Queue a failed job again (attempts reset)")
    def retry(job_id: int):
        return {"ok": True, "job": store.retry_job(job_id)}

    @r.get("/problems", summary="Media metadata problems, newest first")
    def problems_(conversation_id: str | None = None, limit: int = Query(100, ge=1, le=500),
                  offset: int = Query(0, ge=0)):
        return {"ok": True, **store.list_problems(conversation_id=conversation_id, limit=limit, offset=offset)}

    @r.get("/recordings/{sid}", summary="One recording with its analysis (Antiphon's shape)")
    def recording(sid: str):
        rec = store.get_recording(sid) if _SID.match(sid) else None
        if rec is None:
            raise NotFound(f"no recording {sid}", [Problem("sid", f"no recording with SID {sid}")])
        return {"ok": True, "recording": rec}

    @r.post("/recordings", status_code=202,
            summary="Upload a dual-channel recording (multipart: file, optional task_attributes JSON)")
    async def upload(file: UploadFile = File(..., description="The recording (WAV, FLAC, MP3, OGG; 2 channels)"),
                     task_attributes: UploadFile | str | None = Form(
                         None, description="Flex task attributes JSON (a field or a file part)"),
                     conversation: UploadFile | str | None = Form(
                         None, description="Conversation JSON: recording media and segments (a field or a file part)")):
        from .. import ingest

        task_attributes = await _form_text(task_attributes, "task_attributes")
        conversation = await _form_text(conversation, "conversation")

        tmp = store.new_temp_file(suffix=Path(file.filename or "").suffix[:10])
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > store.settings.max_media_bytes:
                        raise HTTPError(413, f"the file is larger than {store.settings.max_media_bytes} bytes",
                                            [Problem("file", "file too large")])
                    out.write(chunk)
            if size == 0:
                raise HTTPError(422, "the uploaded file is empty", [Problem("file", "file is empty (0 bytes)")])
            out = await run_in_threadpool(ingest.ingest_file, store, tmp, task=task_attributes or None,
                                          conversation=conversation or None, filename=file.filename)
        finally:
            tmp.unlink(missing_ok=True)
        return out

    async def _form_text(value, name: str) -> str | None:
        """A JSON form field, sent as text (``-F name=<file``) or as a file part (``-F name=@file``)."""
        if value is None or isinstance(value, str):
            return value
        data = await value.read((1 << 20) + 1)
        if len(data) > 1 << 20:
            raise HTTPError(413, f"{name} is larger than 1 MiB", [Problem(name, "too large")])
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError(422, f"{name} is not UTF-8 text", [Problem(name, "not UTF-8 JSON text")]) from None

    @r.get("/status", summary="Counts and the settings in use (secrets hidden)")
    def status():
        return {"ok": True, "version": __version__, "counts": store.counts(), "settings": store.settings.public()}

    return r


# ----------------------------------------------------------------- Twilio-compatible recordings


def _rfc2822(dt: datetime | None) -> str | None:
    return email.utils.format_datetime(dt.astimezone(timezone.utc)) .replace("-0000", "+0000") if dt else None


def _base_url(request: Request, settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url
    return public_url(request, None)[: -len(request.url.path) - (len(request.url.query) + 1 if request.url.query else 0)]


def _twilio_recording(rec: dict, account: str, base: str) -> dict:
    sid = rec["sid"]
    uri = f"/2010-04-01/Accounts/{account}/Recordings/{sid}"
    status = rec.get("twilio_status") or ("completed" if rec["status"] in ("stored", "analyzed") else "processing")
    created = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00")) if rec.get("created_at") else None
    start = datetime.fromisoformat(rec["start_time"].replace("Z", "+00:00")) if rec.get("start_time") else None
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "call_sid": rec.get("call_sid"),
        "conference_sid": rec.get("conference_sid"),
        "date_created": _rfc2822(created),
        "date_updated": _rfc2822(created),
        "start_time": _rfc2822(start or created),
        "duration": str(int(round(rec["duration"]))) if rec.get("duration") is not None else None,
        "sid": sid,
        "price": None,
        "price_unit": "USD",
        "status": status,
        "channels": rec.get("channels") or 2,
        "source": rec.get("twilio_source") or ("Upload" if rec.get("source") == "upload" else "StartConferenceRecordingAPI"),
        "error_code": None,
        "track": rec.get("track") or "both",
        "uri": uri + ".json",
        "encryption_details": None,
        "media_url": base + uri,
        "subresource_uris": {
            "add_on_results": uri + "/AddOnResults.json",
            "transcriptions": uri + "/Transcriptions.json",
        },
    }


def _twilio_api(store: Store) -> APIRouter:
    from sqlalchemy import select

    from ..store.models import Recording

    r = APIRouter(prefix="/2010-04-01/Accounts/{account_sid}", tags=["twilio-compatible"])

    def check_account(account_sid: str) -> None:
        configured = store.settings.twilio_account_sid
        if not _SID.match(account_sid) or (configured and account_sid != configured):
            raise NotFound(f"no account {account_sid} on this server",
                           [Problem("AccountSid", "AccountSid must be the configured ANTIPHON_TWILIO_ACCOUNT_SID")])

    @r.get("/Recordings.json", summary="List recordings in Twilio's paging shape")
    def list_recordings(request: Request, account_sid: str,
                        Page: int = Query(0, ge=0), PageSize: int = Query(50, ge=1, le=1000),
                        CallSid: str | None = None, ConferenceSid: str | None = None,
                        PageToken: str | None = None):
        check_account(account_sid)
        qp = request.query_params
        extra: dict[str, Any] = {}
        problems: list[Problem] = []
        for key, arg in (("DateCreated", "created_on"), ("DateCreated>", "created_after"),
                         ("DateCreated<", "created_before")):
            v = qp.get(key)
            if v:
                try:
                    d = datetime.fromisoformat(v.replace("Z", "+00:00"))
                    if d.tzinfo is None:
                        d = d.replace(tzinfo=timezone.utc)
                    if arg == "created_on":
                        extra[arg] = d.date()
                    elif arg == "created_before" and len(v) == 10:
                        from datetime import timedelta

                        extra[arg] = d + timedelta(days=1)
                    else:
                        extra[arg] = d
                except ValueError:
                    problems.append(Problem(key, f"{key} must be a date YYYY-MM-DD"))
        if problems:
            raise HTTPError(400, "invalid filter", problems)
        page, size = Page, PageSize
        if PageToken and PageToken.startswith("PA") and PageToken[2:].isdigit():
            page = int(PageToken[2:])
        res = store.list_recordings(account_sid=account_sid, call_sid=CallSid, conference_sid=ConferenceSid,
                                    offset=page * size, limit=size, include_rows=True, **extra)
        base = _base_url(request, store.settings)
        items = [_twilio_recording({**d, "conference_sid": row.conference_sid, "twilio_source": row.twilio_source,
                                    "track": row.track}, account_sid, base)
                 for d, row in zip(res["recordings"], res["rows"])]
        path = f"/2010-04-01/Accounts/{account_sid}/Recordings.json"
        keep = {k: v for k, v in qp.items() if k not in ("Page", "PageSize", "PageToken")}

        def uri(p: int) -> str:
            return path + "?" + urlencode({**keep, "PageSize": size, "Page": p, **({"PageToken": f"PA{p}"} if p else {})})

        more = (page + 1) * size < res["total"]
        start = page * size
        return {
            "end": start + len(items) - 1 if items else start,
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "page": page,
            "page_size": size,
            "recordings": items,
            "start": start,
            "uri": path + ("?" + request.url.query if request.url.query else ""),
        }

    @r.head("/Recordings/{name}", include_in_schema=False)
    @r.get("/Recordings/{name}",
           summary="A recording: .json (Twilio's Recording resource), .wav (default) or .mp3; HTTP ranges")
    def recording(request: Request, account_sid: str, name: str):
        check_account(account_sid)
        sid, dot, ext = name.partition(".")
        ext = ext.lower() if dot else "wav"
        if not _SID.match(sid) or ext not in ("json", "wav", "mp3"):
            raise NotFound(f"no recording {name}", [Problem("Sid", "expected <RecordingSid>[.json|.wav|.mp3]")])
        with store.session() as s:
            row = s.get(Recording, sid)
            if row is None or (row.account_sid and row.account_sid != account_sid
                               and store.settings.twilio_account_sid is None):
                raise NotFound(f"The requested resource /2010-04-01/Accounts/{account_sid}/Recordings/{name} was not found",
                               [Problem("Sid", f"no recording with SID {sid}")])
            d = {"sid": row.sid, "call_sid": row.call_sid, "conference_sid": row.conference_sid,
                 "created_at": row.created_at.isoformat(), "start_time": row.start_time.isoformat() if row.start_time else None,
                 "duration": row.duration, "status": row.status, "twilio_status": row.twilio_status,
                 "channels": row.channels, "twilio_source": row.twilio_source, "source": row.source,
                 "track": row.track}
            rel, sha, fmt = row.file_path, row.sha256, (row.format or "").upper()
        if ext == "json":
            return _twilio_recording(d, account_sid, _base_url(request, store.settings))
        path = store.media_file(rel)
        if path is None:
            raise NotFound(f"recording {sid} has no media yet (status: {d['status']})",
                           [Problem("Sid", "the media has not been downloaded or uploaded yet")])
        want = "MP3" if ext == "mp3" else "WAV"
        if fmt != want:
            path = _media.transcoded(path, store.media_dir / "derived", sha, ext)
        return _media.serve_file(request, path, "audio/mpeg" if ext == "mp3" else "audio/x-wav",
                                 filename=f"{sid}.{ext}")

    return r
