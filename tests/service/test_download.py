"""Media download against a local HTTP server: Basic auth, redirects, transient
failures, truncated files; then the whole recording callback -> metrics path."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from antiphon.fetch import DownloadError, DownloadOptions, download

from .conftest import ACCOUNT_SID, AUTH_TOKEN, read_form, run_jobs

GOOD_AUTH = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


class MediaServer:
    """127.0.0.1 server: /media/* needs Basic auth; /redirect/* -> /media/*; /flaky/* fails once with 503;
    /cut/* closes the connection half way; /short/* serves a WAV cut short (consistent Content-Length)."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.hits: Counter = Counter()
        self.auth_seen: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                outer.hits[path] += 1
                kind, _, name = path.strip("/").partition("/")
                name = name.removesuffix(".wav") if name.removesuffix(".wav") in outer.files else name
                data = outer.files.get(name)
                if kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"/media/{name}")
                    self.end_headers()
                    return
                outer.auth_seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != GOOD_AUTH:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="media"')
                    self.end_headers()
                    return
                if data is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if kind == "flaky" and outer.hits[path] == 1:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "cut":
                    self.send_response(200)
                    self.send_header("Content-Type", "audio/x-wav")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if kind == "short":
                    data = data[: len(data) // 2]
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def media_server(harper, tmp_path):
    import soundfile as sf

    mono = tmp_path / "mono-source.wav"
    sf.write(mono, np.zeros(8000, dtype="float32"), 8000)
    srv = MediaServer({"call": harper[0].read_bytes(), "mono": mono.read_bytes()})
    yield srv
    srv.close()


@pytest.fixture
def dest(tmp_path):
    d = tmp_path / "downloads"
    d.mkdir()
    return d


OPTS = DownloadOptions(timeout=5, retries=3, backoff=0.01, auth=(ACCOUNT_SID, AUTH_TOKEN))


def test_download_with_auth_follows_redirect(media_server, dest, harper):
    got = download(f"{media_server.base}/redirect/call", dest, OPTS)
    assert got.path.read_bytes() == harper[0].read_bytes()
    assert got.size == harper[0].stat().st_size
    assert got.url.endswith("/media/call")


def test_transient_503_is_retried(media_server, dest):
    got = download(f"{media_server.base}/flaky/call", dest, OPTS)
    assert media_server.hits["/flaky/call"] == 2 and got.size > 0


def test_wrong_credentials_are_not_retried_and_not_leaked(media_server, dest):
    with pytest.raises(DownloadError) as e:
        download(f"{media_server.base}/media/call", dest, DownloadOptions(retries=3, backoff=0.01,
                                                                              auth=(ACCOUNT_SID, "wrong-secret")))
    assert not e.value.retryable and "401" in e.value.message
    assert "wrong-secret" not in e.value.message
    assert media_server.hits["/media/call"] == 1
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize("kind", ["cut", "short"])
def test_truncated_download_is_an_error_and_retried(media_server, dest, kind):
    with pytest.raises(DownloadError) as e:
        download(f"{media_server.base}/{kind}/call", dest, OPTS)
    assert e.value.retryable and "truncated" in e.value.message
    assert media_server.hits[f"/{kind}/call"] == 3
    assert list(dest.iterdir()) == [], "no partial file is left"


def _completed(flex_dir, url: str, sid: str = "RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d") -> dict:
    params = read_form(flex_dir / "recording_status_callback.form")
    params.update(RecordingUrl=url, RecordingSid=sid)
    return params


def test_recording_callback_to_stored_metrics(post_webhook, store, client, media_server, flex_dir, harper):
    assert post_webhook("/twilio/taskrouter", read_form(flex_dir / "event_reservation_completed.form")).status_code == 200
    r = post_webhook("/twilio/recording-status", _completed(flex_dir, f"{media_server.base}/redirect/call"))
    assert r.status_code == 200
    run_jobs(store)
    jobs = client.get("/api/jobs").json()["jobs"]
    assert {j["kind"]: j["state"] for j in jobs} == {"fetch": "done", "analyze": "done", "segments": "done"} or \
        {j["kind"]: j["state"] for j in jobs if j["kind"] != "segments"} == {"fetch": "done", "analyze": "done"}
    conv = client.get("/api/conversations/WT5d2a9e6f1c7b4a3e8f0d1c2b3a4e5f60").json()["conversation"]
    assert conv["status"] == "analyzed"
    m = conv["metrics"]
    assert m["talk_time"] > 10 and m["customer_talk_time"] > 0 and m["agent_talk_time"] > 0
    rec = conv["recordings"][0]
    assert rec["size"] == harper[0].stat().st_size and rec["duplicate"] is False
    seg = conv["segments"][0]
    assert seg["worker"] == "alice" and seg["recording_sid"] == rec["sid"]
    assert seg["metrics"] is not None and seg["segment_recording_offset"] == 0.0
    # the same callback again changes nothing
    post_webhook("/twilio/recording-status", _completed(flex_dir, f"{media_server.base}/redirect/call"))
    run_jobs(store)
    assert store.counts()["analyses"] == 1
    assert media_server.hits["/media/call"] == 1


def test_truncated_media_fails_the_job_with_the_reason_and_is_not_analysed(post_webhook, store, media_server,
                                                                           flex_dir, make_settings):
    post_webhook("/twilio/recording-status", _completed(flex_dir, f"{media_server.base}/cut/call"))
    run_jobs(store)  # first attempt fails and is queued again with backoff
    job = store.list_jobs(kind="fetch")["jobs"][0]
    assert job["attempts"] >= 1 and "truncated" in job["last_error"]
    assert store.counts()["analyses"] == 0
    assert store.get_recording("RE7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d")["sha256"] is None


def test_credentials_only_go_to_twilio_and_listed_hosts(post_webhook, store, media_server, flex_dir, make_settings):
    s = make_settings(media_auth_hosts=None)
    assert s.credentials_for("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1") == (ACCOUNT_SID, AUTH_TOKEN)
    assert s.credentials_for("https://api.dublin.ie1.twilio.com/x") == (ACCOUNT_SID, AUTH_TOKEN)
    assert s.credentials_for("http://api.twilio.com/x") is None  # never in clear text
    assert s.credentials_for("https://twilio.com.evil.example/x") is None
    assert s.credentials_for(f"{media_server.base}/media/call") is None
    assert make_settings(media_auth_hosts="media.internal, 127.0.0.1").credentials_for(
        f"{media_server.base}/media/call") == (ACCOUNT_SID, AUTH_TOKEN)


def test_unlisted_host_gets_no_credentials(media_server, flex_dir, make_settings):
    from antiphon.store import open_store

    st = open_store(make_settings(media_auth_hosts="media.internal"))
    try:
        from antiphon.ingest import handle_recording_status

        handle_recording_status(st, _completed(flex_dir, f"{media_server.base}/media/call"))
        run_jobs(st)
        job = st.list_jobs(kind="fetch")["jobs"][0]
        assert job["state"] == "failed" and "ANTIPHON_MEDIA_AUTH_HOSTS" in job["last_error"]
        assert media_server.auth_seen == [None]
    finally:
        st.close()


def test_mono_media_fails_permanently_with_a_clear_reason(post_webhook, store, media_server, flex_dir):
    post_webhook("/twilio/recording-status", _completed(flex_dir, f"{media_server.base}/media/mono"))
    run_jobs(store)
    job = store.list_jobs(kind="fetch")["jobs"][0]
    assert job["state"] == "failed" and "mono" in job["last_error"] and str(store.tmp_dir) not in job["last_error"]
