"""A small app like the service for the web tests: every request needs HTTP Basic auth."""

from __future__ import annotations

import base64
from pathlib import Path

USER, PASSWORD = "reviewer", "s3cret-pass"
from .fixture_data import LONG_SILENCE

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import FileResponse, JSONResponse
except ModuleNotFoundError:  # the server extra is not installed: tests using this skip
    FastAPI = None


def basic_auth_app(source, media_dir: Path, *, peaks_cache_dir: Path):
    """A small app like the service: every request needs HTTP Basic auth."""
    from antiphon.web import WebConfig, mount

    app = FastAPI()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    app.state.media_requests = []

    @app.middleware("http")
    async def auth(request: Request, call_next):
        if request.headers.get("authorization") != expected:
            return JSONResponse({"ok": False, "error": "authentication required", "errors": [], "status": 401},
                                status_code=401, headers={"WWW-Authenticate": 'Basic realm="antiphon"'})
        return await call_next(request)

    @app.get("/media/{name}")
    async def media(name: str, request: Request):
        app.state.media_requests.append({"range": request.headers.get("range"), "url": str(request.url)})
        return FileResponse(media_dir / name, media_type="audio/wav")

    mount(app, source, WebConfig(long_silence=LONG_SILENCE, peaks_cache_dir=str(peaks_cache_dir)))
    return app
