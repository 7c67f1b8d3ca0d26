"""Web fixtures: a live server over a fixture conversation, and headless Chromium.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``, or
``ANTIPHON_CHROMIUM``) through Playwright's Python driver; no browser is
downloaded. Without Chromium they are skipped locally and fail in CI.
Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from ._app import PASSWORD, USER
from .fixture_data import LONG_SILENCE, conversations

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--mute-audio",
]


def chromium_path() -> str | None:
    for p in (os.environ.get("ANTIPHON_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and Path(p).exists():
            return p
    return None


@pytest.fixture(scope="session")
def support_call(calls_dir) -> tuple[Path, Path]:
    calls = calls_dir
    return calls / "synthetic" / "support_call_8k.wav", calls / "synthetic" / "support_call.truth.json"


@pytest.fixture(scope="session")
def fixture_conversations(support_call):
    wav, truth = support_call
    return conversations(wav, truth)


class LiveServer:
    def __init__(self, app):
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("web test server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def web_source(fixture_conversations):
    from antiphon.web import from_analyses

    return from_analyses(fixture_conversations, long_silence=LONG_SILENCE)


@pytest.fixture(scope="session")
def live_server(web_source, support_call, tmp_path_factory):
    pytest.importorskip("fastapi")
    from ._app import basic_auth_app

    app = basic_auth_app(web_source, support_call[0].parent, peaks_cache_dir=tmp_path_factory.mktemp("peaks"))
    with LiveServer(app) as srv:
        yield srv


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium not found (/usr/bin/chromium); the test setup installs Debian's chromium")
        pytest.skip("Chromium not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install playwright)")
        pytest.skip("playwright not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server, request):
    ctx = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                              viewport={"width": 1400, "height": 1000}, base_url=live_server.url,
                              accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.js_errors = errors
    yield pg
    ctx.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(p), full_page=True)
    return p
