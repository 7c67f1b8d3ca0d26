"""Service benchmarks on loopback: webhook ingestion rate and callback-to-metrics latency.

Runs a real ``antiphon serve`` (uvicorn) in a subprocess on 127.0.0.1 and

1. POSTs signed TaskRouter reservation events with a bounded asyncio/httpx
   load generator (``--events`` requests, ``--concurrency`` in flight,
   stopped after ``--max-seconds``): requests per second and latency
   percentiles of the webhook endpoint (store + enqueue, no analysis);
2. POSTs recording status callbacks whose media is served by a local HTTP
   server (Basic auth) and measures the time until the analysis is stored
   (download + analysis by the server's worker), per recording.

Both on SQLite (default) and, with ``--postgres``, on a throwaway PostgreSQL
server (``/usr/lib/postgresql/*/bin``) or ``--database-url``.

    python benchmarks/bench_ingest.py                 # SQLite
    python benchmarks/bench_ingest.py --postgres      # SQLite and PostgreSQL
    python benchmarks/bench_ingest.py --json          # machine-readable
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ANTIPHON_SHARED", ROOT.parent / "shared"))
ACCOUNT = "AC" + "0" * 32
TOKEN = "bench-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sign(url: str, params: dict) -> str:
    from antiphon.server.signature import compute_signature

    return compute_signature(url, list(params.items()), TOKEN)


class Server:
    def __init__(self, data_dir: Path, database_url: str | None, workers: int):
        self.port = free_port()
        env = dict(os.environ, ANTIPHON_DATA_DIR=str(data_dir), ANTIPHON_TWILIO_ACCOUNT_SID=ACCOUNT,
                   ANTIPHON_TWILIO_AUTH_TOKEN=TOKEN, ANTIPHON_AUTH="off", ANTIPHON_POLL_INTERVAL="0.05",
                   ANTIPHON_MEDIA_AUTH_HOSTS="127.0.0.1")
        env.pop("ANTIPHON_CONFIG", None)
        if database_url:
            env["ANTIPHON_DATABASE_URL"] = database_url
        else:
            env.pop("ANTIPHON_DATABASE_URL", None)
        self.log = open(Path(tempfile.gettempdir()) / f"antiphon-bench-server-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "antiphon", "serve", "--port", str(self.port),
                                      "--workers", str(workers)], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"server did not start; see {self.log.name}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def events(n: int) -> list[dict]:
    attrs = json.loads((SHARED / "flex" / "task_inbound_native.json").read_text())
    out = []
    t0 = 1793631845
    for i in range(n):
        c = i // 3  # three events (accepted, wrapup, completed) per reservation, one call each
        a = dict(attrs, call_sid=f"CA{c:032x}")
        a["conversations"] = dict(attrs["conversations"], conversation_id=f"WT{c:032x}", media=[dict(
            attrs["conversations"]["media"][0],
            url=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{c:032x}")])
        kind = ("accepted", "wrapup", "completed")[i % 3]
        out.append({"EventType": f"reservation.{kind}", "AccountSid": ACCOUNT, "ResourceType": "reservation",
                    "Timestamp": str(t0 + i), "TaskSid": f"WT{i // 3:032x}", "ReservationSid": f"WR{i // 3:032x}",
                    "WorkerName": f"agent{i % 7}", "TaskQueueName": "Billing", "TaskAttributes": json.dumps(a)})
    return out


async def _load(base: str, bodies: list[tuple[str, str]], concurrency: int, max_seconds: float) -> dict:
    lat: list[float] = []
    status: dict[int, int] = {}
    queue = list(reversed(bodies))
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def worker():
            while queue and time.perf_counter() < deadline:
                body, sig = queue.pop()
                t = time.perf_counter()
                try:
                    r = await client.post("/twilio/taskrouter", content=body, headers={
                        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
                    code = r.status_code
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                lat.append(time.perf_counter() - t)
                status[code] = status.get(code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat.sort()
    q = lambda p: round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1)  # noqa: E731
    return {"requests": len(lat), "seconds": round(elapsed, 2), "rate_per_s": round(len(lat) / elapsed, 1),
            "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": round(1000 * lat[-1], 1),
            "status": status, "concurrency": concurrency}


def bench_webhooks(tmp: Path, database_url: str | None, n: int, concurrency: int, max_seconds: float) -> dict:
    srv = Server(tmp / "data", database_url, workers=0)
    try:
        url = srv.base + "/twilio/taskrouter"
        bodies = [(urllib.parse.urlencode(p), sign(url, p)) for p in events(n)]
        asyncio.run(_load(srv.base, bodies[:50], min(concurrency, 8), 30))  # warm-up (first events, kept)
        res = asyncio.run(_load(srv.base, bodies[50:], concurrency, max_seconds))
        return res
    finally:
        srv.stop()


class Media:
    def __init__(self, wav: bytes):
        good = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.headers.get("Authorization") != good:
                    self.send_response(401)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "audio/x-wav")
                self.send_header("Content-Length", str(len(wav)))
                self.end_headers()
                self.wfile.write(wav)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def bench_callback_to_metrics(tmp: Path, database_url: str | None, calls: list[Path], repeats: int) -> dict:
    srv = Server(tmp / "data2", database_url, workers=1)
    results = []
    try:
        form = dict(urllib.parse.parse_qsl((SHARED / "flex" / "recording_status_callback.form").read_text().strip()))
        url = srv.base + "/twilio/recording-status"
        for i in range(repeats):
            call = calls[i % len(calls)]
            media = Media(call.read_bytes())
            sid = f"RE{i + 1:032x}"
            p = dict(form, RecordingSid=sid, RecordingUrl=f"{media.base}/{sid}", CallSid=f"CA{i + 1:032x}")
            t = time.perf_counter()
            r = httpx.post(url, content=urllib.parse.urlencode(p), headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sign(url, p)})
            ack = time.perf_counter() - t
            assert r.status_code == 200, r.text
            while True:
                rec = httpx.get(f"{srv.base}/api/recordings/{sid}").json()["recording"]
                if rec["status"] == "analyzed":
                    break
                if rec["status"] == "failed" or time.perf_counter() - t > 120:
                    raise RuntimeError(f"recording {sid} not analysed: {rec}")
                time.sleep(0.02)
            results.append({"recording_seconds": rec["duration"], "ack_ms": round(1000 * ack, 1),
                            "to_metrics_s": round(time.perf_counter() - t, 3)})
            media.close()
    finally:
        srv.stop()
    lat = [r["to_metrics_s"] for r in results]
    return {"recordings": len(results), "median_s": round(statistics.median(lat), 3), "max_s": max(lat),
            "mean_recording_s": round(statistics.mean(r["recording_seconds"] for r in results), 1),
            "median_ack_ms": statistics.median(r["ack_ms"] for r in results), "runs": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000, help="webhook requests (bounded)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop the load after this long")
    ap.add_argument("--recordings", type=int, default=8, help="recording callbacks to time")
    ap.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL server")
    ap.add_argument("--database-url", help="benchmark this database instead of starting one")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    calls = sorted((SHARED / "calls" / "harper-valley").glob("hvb_*.wav"))
    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    pg = None
    if args.database_url:
        backends = [(args.database_url.split(":")[0], args.database_url)]
    elif args.postgres:
        sys.path.insert(0, str(ROOT / "tests"))
        from service.conftest import PostgresServer

        pg = PostgresServer()
        backends.append(("postgresql", None))
    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "results": {}}
    try:
        for name, url in backends:
            with tempfile.TemporaryDirectory(prefix="antiphon-bench-") as d:
                if name == "postgresql" and pg is not None:
                    url = pg.create_database()
                tmp = Path(d)
                web = bench_webhooks(tmp, url, args.events, args.concurrency, args.max_seconds)
                if name == "postgresql" and pg is not None:
                    url = pg.create_database()
                cb = bench_callback_to_metrics(tmp, url, calls, args.recordings)
                report["results"][name] = {"webhooks": web, "callback_to_metrics": cb}
    finally:
        if pg is not None:
            pg.stop()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"machine: {report['machine']['cpus']} CPUs, Python {report['machine']['python']}")
    for name, r in report["results"].items():
        w, c = r["webhooks"], r["callback_to_metrics"]
        print(f"[{name}] TaskRouter webhooks: {w['rate_per_s']} req/s over {w['requests']} requests "
              f"(concurrency {w['concurrency']}; p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms, p99 {w['p99_ms']} ms; "
              f"status {w['status']})")
        print(f"[{name}] recording callback -> stored metrics: median {c['median_s']} s, max {c['max_s']} s "
              f"over {c['recordings']} recordings of ~{c['mean_recording_s']} s (callback answered in "
              f"{c['median_ack_ms']} ms)")


if __name__ == "__main__":
    main()
