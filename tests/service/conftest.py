"""Fixtures for the service tests: a throwaway PostgreSQL server, stores on SQLite
and PostgreSQL, an app with an API key, signed Twilio webhooks."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service tests need the 'server' extra")
pytest.importorskip("sqlalchemy", reason="the service tests need the 'server' extra")

ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _skip_or_fail(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


class PostgresServer:
    """A PostgreSQL server in a temporary directory on 127.0.0.1 (random port)."""

    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("initdb not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="antiphon-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root but there is no 'postgres' user to run the server")
            self.user = "postgres"
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-sync"])
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60",
                   "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                         f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                   "start"])

    def _run(self, cmd):
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr or res.stdout}\n{log[-2000:]}")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self):
        try:
            self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    try:
        import psycopg  # noqa: F401
    except ModuleNotFoundError:
        _skip_or_fail("psycopg is not installed (pip install 'antiphon[postgres]')")
    try:
        server = PostgresServer()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        _skip_or_fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path):
    if backend == "postgres":
        return request.getfixturevalue("postgres").create_database()
    return None  # SQLite in the data directory


@pytest.fixture
def make_settings(tmp_path, database_url):
    from antiphon.config import load_settings

    def make(**kw):
        base = dict(data_dir=tmp_path / "data", database_url=database_url, twilio_account_sid=ACCOUNT_SID,
                    twilio_auth_token=AUTH_TOKEN, download_backoff=0.01, download_retries=3,
                    download_timeout=5, job_retry_delay=0.01, poll_interval=0.05, media_auth_hosts="127.0.0.1")
        base.update(kw)
        return load_settings(env={}, **base)

    return make


@pytest.fixture
def store(make_settings):
    from antiphon.store import open_store

    s = open_store(make_settings())
    yield s
    s.close()


@pytest.fixture
def api_key(store):
    return store.create_key("tests")


@pytest.fixture
def client(store, api_key):
    from fastapi.testclient import TestClient

    from antiphon.server import create_app

    with TestClient(create_app(store=store), raise_server_exceptions=False) as c:
        c.auth = (api_key["id"], api_key["secret"])
        yield c


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(url, params)


@pytest.fixture
def post_webhook(client):
    """POST a form as Twilio does, signed with the official twilio package."""

    def post(path: str, params: dict, *, signature: str | None = "sign", headers: dict | None = None,
             url: str | None = None):
        body = urllib.parse.urlencode(params)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            h["X-Twilio-Signature"] = sign(url or f"http://testserver{path}", params)
        elif signature is not None:
            h["X-Twilio-Signature"] = signature
        h.update(headers or {})
        return client.post(path, content=body, headers=h, auth=None)

    return post


def read_form(path: Path) -> dict:
    return dict(urllib.parse.parse_qsl(path.read_text().strip(), keep_blank_values=True))


def run_jobs(store) -> int:
    from antiphon.jobs import Worker

    return Worker(store, name="test-worker").run(until_idle=True)


@pytest.fixture
def harper(calls_dir) -> list[Path]:
    files = sorted((calls_dir / "harper-valley").glob("hvb_*.wav"))
    assert len(files) >= 2, "the Harper Valley calls are missing"
    return files
