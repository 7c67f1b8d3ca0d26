"""The service commands as an operator runs them: serve, worker, ingest, as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

from antiphon.samples import sample_calls

from .conftest import free_port


def _cli(*args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "antiphon", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTIPHON_")}
    env.update(ANTIPHON_DATA_DIR=str(tmp_path / "data"), PYTHONWARNINGS="ignore", **extra)
    return env


def test_ingest_no_wait_then_worker_once(tmp_path):
    env = _env(tmp_path)
    call = sample_calls()[0]
    out = _cli("ingest", str(call.audio), "--conversation", str(call.conversation), "--no-wait", "--json",
               env=env)
    assert out.returncode == 0, out.stderr
    queued = json.loads(out.stdout)
    assert queued["ok"] and "metrics" not in queued
    jobs = json.loads(_cli("jobs", "list", "--json", env=env).stdout)
    assert [j["state"] for j in jobs["jobs"]] == ["queued"]

    done = _cli("worker", "--once", env=env)
    assert done.returncode == 0, done.stderr
    assert "job(s) run" in done.stderr
    # the same file again is the same recording, and now analysed
    again = json.loads(_cli("ingest", str(call.audio), "--conversation", str(call.conversation), "--json",
                            env=env).stdout)
    assert again["recording"] == queued["recording"] and again["status"] == "analyzed"
    assert 5 < again["metrics"]["customer_talk_time"] < again["metrics"]["duration"]


def test_serve_runs_workers_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = _env(tmp_path, ANTIPHON_AUTH="off", ANTIPHON_POLL_INTERVAL="0.2")
    call = sample_calls()[1]
    proc = subprocess.Popen([sys.executable, "-m", "antiphon", "serve", "--port", str(port), "--workers", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/conversations.json", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        with open(call.audio, "rb") as f:
            # the metadata as a file part, as `curl -F conversation=@conv.json` sends it
            r = httpx.post(base + "/api/recordings", timeout=30, files={
                "file": (call.audio.name, f, "audio/wav"),
                "conversation": (call.conversation.name, call.conversation.read_bytes(), "application/json")})
        assert r.status_code in (200, 201, 202), r.text
        sid = r.json()["recording"]
        while True:  # analysed by the worker process serve started
            rec = httpx.get(f"{base}/api/recordings/{sid}", timeout=5).json()["recording"]
            if rec.get("status") == "analyzed":
                break
            assert rec.get("status") not in ("failed", "invalid"), rec
            assert time.monotonic() < deadline + 60, rec
            time.sleep(0.3)
        page = httpx.get(base + "/conversations.json", timeout=5).json()
        assert page["total"] == 1 and page["rows"][0]["agents"] == ["bob"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, err
    assert f"{base}/twilio/taskrouter" in err and f"{base}/twilio/recording-status" in err


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(x) for x in f.read().split()]
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_worker_processes_exit_when_serve_is_killed(tmp_path):
    """SIGKILL gives serve no chance to stop its pool: the workers notice and exit by themselves."""
    env = _env(tmp_path, ANTIPHON_AUTH="off")
    proc = subprocess.Popen([sys.executable, "-m", "antiphon", "serve", "--port", str(free_port()),
                             "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline:
            # the pool's processes run `multiprocessing.spawn`; its resource tracker does not
            workers = [c for c in _children(proc.pid) if b"spawn_main" in open(f"/proc/{c}/cmdline", "rb").read()]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the worker pool did not start"
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 20
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, "worker processes outlived the killed server"
