"""Kill a worker (and the whole server) with SIGKILL mid-job; after a restart the job
finishes exactly once: one analyses row, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf

from antiphon.ingest import ingest_file

from .conftest import free_port

pytestmark = pytest.mark.slow

ANTIPHON = [sys.executable, "-m", "antiphon"]


@pytest.fixture
def long_call(harper, tmp_path) -> Path:
    """A ~20 minute call (one Harper Valley call repeated), so that its analysis takes a few seconds."""
    data, sr = sf.read(str(harper[0]), dtype="int16", always_2d=True)
    path = tmp_path / "long.wav"
    sf.write(str(path), np.tile(data, (24, 1)), sr, subtype="PCM_16")
    return path


def env_for(store) -> dict:
    env = dict(os.environ)
    env.update(ANTIPHON_DATA_DIR=str(store.settings.data_dir), ANTIPHON_JOB_LEASE="2",
               ANTIPHON_POLL_INTERVAL="0.1", ANTIPHON_AUTH="off", PYTHONUNBUFFERED="1")
    if store.settings.database_url:
        env["ANTIPHON_DATABASE_URL"] = store.settings.database_url
    else:
        env.pop("ANTIPHON_DATABASE_URL", None)
    env.pop("ANTIPHON_CONFIG", None)
    return env


def wait_for(pred, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"process exited ({proc.returncode}) while waiting for {what}:\n{out[-3000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def job(store, key_prefix="analyze:"):
    jobs = [j for j in store.list_jobs()["jobs"] if j["key"].startswith(key_prefix)]
    return jobs[0] if jobs else None


def start(cmd, store, log: Path):
    f = open(log, "w")
    return subprocess.Popen(ANTIPHON + cmd, env=env_for(store), stdout=f, stderr=subprocess.STDOUT,
                            start_new_session=True, text=True)


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def stop_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        kill_group(proc)


def test_worker_killed_mid_job_finishes_once_after_restart(store, long_call, tmp_path):
    ingest_file(store, long_call)
    w1 = start(["worker"], store, tmp_path / "w1.log")
    try:
        wait_for(lambda: (j := job(store)) and j["state"] == "running", 60, "the worker to take the job", w1)
        time.sleep(0.5)
        os.kill(w1.pid, signal.SIGKILL)  # mid-analysis
        w1.wait(timeout=10)
    finally:
        if w1.poll() is None:
            kill_group(w1)
    j = job(store)
    assert j["state"] == "running" and store.counts()["analyses"] == 0, "the kill must land mid-job"
    w2 = start(["worker"], store, tmp_path / "w2.log")
    try:
        wait_for(lambda: job(store)["state"] == "done", 120, "the job to finish after the restart", w2)
    finally:
        stop_group(w2)
    j = job(store)
    assert j["attempts"] == 2 and j["last_error"] is None
    assert store.counts()["analyses"] == 1
    conv = store.list_conversations()["conversations"][0]
    assert conv["status"] == "analyzed" and conv["metrics"]["duration"] > 1000


def test_server_killed_mid_job_finishes_once_after_restart(store, long_call, tmp_path):
    ingest_file(store, long_call)
    port = free_port()
    cmd = ["serve", "--port", str(port), "--workers", "1"]
    s1 = start(cmd, store, tmp_path / "s1.log")
    try:
        wait_for(lambda: (j := job(store)) and j["state"] == "running", 90, "the server's worker to take the job", s1)
        time.sleep(0.5)
    finally:
        kill_group(s1)  # the server and its workers, all at once, no clean-up
    assert job(store)["state"] == "running" and store.counts()["analyses"] == 0
    s2 = start(cmd, store, tmp_path / "s2.log")
    try:
        def up():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, "the restarted server", s2)
        wait_for(lambda: job(store)["state"] == "done", 120, "the job to finish after the restart", s2)
        r = httpx.get(f"http://127.0.0.1:{port}/api/conversations", timeout=10).json()
        assert r["total"] == 1 and r["conversations"][0]["status"] == "analyzed"
    finally:
        stop_group(s2)
    assert store.counts()["analyses"] == 1
    assert job(store)["attempts"] == 2
