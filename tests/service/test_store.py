"""The store on SQLite and PostgreSQL: migrations, keys, jobs, media files."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from antiphon.store import open_store
from antiphon.store.core import NotFound
from antiphon.store.engine import current_revision, head_revision
from antiphon.store.models import Job, utcnow


def test_open_migrates_and_reopen_is_a_no_op(store, make_settings):
    assert current_revision(store.engine) == head_revision()
    again = open_store(make_settings())
    try:
        assert current_revision(again.engine) == head_revision()
    finally:
        again.close()


def test_default_database_is_sqlite_in_data_dir(tmp_path):
    from antiphon.config import load_settings

    s = open_store(load_settings(env={}, data_dir=tmp_path / "d"))
    try:
        assert (tmp_path / "d" / "antiphon.db").exists()
        with s.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        s.close()


def test_in_memory_sqlite(tmp_path):
    from antiphon.config import load_settings

    s = open_store(load_settings(env={}, data_dir=tmp_path, database_url="sqlite://"))
    try:
        k = s.create_key("mem")
        assert s.check_key(k["id"], k["secret"])
    finally:
        s.close()


def test_keys_hashed_checked_and_revoked(store):
    k = store.create_key("qa")
    assert k["id"].startswith("AK") and len(k["secret"]) >= 32
    from antiphon.store.models import ApiKey

    with store.session() as s:
        row = s.get(ApiKey, k["id"])
        assert k["secret"] not in row.secret_hash and row.secret_hash.startswith("scrypt$")
    assert store.check_key(k["id"], k["secret"])
    assert not store.check_key(k["id"], k["secret"] + "x")
    assert not store.check_key("AKnope", k["secret"])
    store.revoke_key(k["id"])
    assert not store.check_key(k["id"], k["secret"])
    assert [x["active"] for x in store.list_keys()] == [False]
    with pytest.raises(NotFound):
        store.revoke_key("AKmissing")


def _enqueue(store, key, kind="segments", **kw):
    with store.session(write=True) as s:
        store.enqueue(s, kind, key, conversation_id="C1", **kw)


def test_enqueue_is_idempotent_and_claim_is_exclusive(store):
    for _ in range(3):
        _enqueue(store, "segments:C1")
    assert store.list_jobs()["total"] == 1
    a = store.claim_job("w1")
    assert a is not None and a.attempts == 1
    assert store.claim_job("w2") is None  # leased
    assert store.finish_job(a.id, "w1")
    assert store.get_job(a.id)["state"] == "done"
    assert store.claim_job("w2") is None


def test_expired_lease_is_taken_over_and_the_old_worker_cannot_finish(store):
    _enqueue(store, "k1")
    a = store.claim_job("w1", lease=0.2)
    time.sleep(0.4)
    b = store.claim_job("w2")
    assert b is not None and b.id == a.id and b.attempts == 2
    assert not store.finish_job(a.id, "w1")  # lost its lease
    assert store.finish_job(b.id, "w2")
    assert store.get_job(a.id)["state"] == "done"


def test_failed_attempts_back_off_then_fail(store):
    _enqueue(store, "k2")
    with store.session(write=True) as s:
        s.execute(update(Job).values(max_attempts=2))
    j = store.claim_job("w")
    assert store.fail_job(j.id, "w", "boom") == "queued"
    job = store.get_job(j.id)
    assert job["last_error"] == "boom" and job["run_after"] > job["started_at"]
    time.sleep(0.05)
    j = store.claim_job("w")
    assert j is not None and j.attempts == 2
    assert store.fail_job(j.id, "w", "boom again") == "failed"
    assert store.claim_job("w") is None
    retried = store.retry_job(j.id)
    assert retried["state"] == "queued" and retried["attempts"] == 0
    assert store.claim_job("w").id == j.id


def test_rerun_requested_while_running_runs_again(store):
    _enqueue(store, "segments:C9")
    j = store.claim_job("w")
    _enqueue(store, "segments:C9", rerun=True)
    assert store.finish_job(j.id, "w")
    assert store.get_job(j.id)["state"] == "queued"
    j2 = store.claim_job("w")
    assert store.finish_job(j2.id, "w")
    assert store.get_job(j.id)["state"] == "done"
    _enqueue(store, "segments:C9", rerun=True)
    assert store.get_job(j.id)["state"] == "queued"


def test_concurrent_claims_never_hand_out_a_job_twice(store):
    for i in range(30):
        _enqueue(store, f"job-{i}")
    got: list[int] = []
    lock = threading.Lock()
    errors = []

    def work(name):
        try:
            while True:
                j = store.claim_job(name)
                if j is None:
                    return
                with lock:
                    got.append(j.id)
                store.finish_job(j.id, name)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == sorted(set(got)) and len(got) == 30


def test_exhausted_job_of_a_dead_worker_is_failed(store):
    _enqueue(store, "k3")
    with store.session(write=True) as s:
        s.execute(update(Job).values(max_attempts=1))
    store.claim_job("dead", lease=0.1)
    time.sleep(0.3)
    assert store.expire_exhausted() == 1
    job = store.list_jobs()["jobs"][0]
    assert job["state"] == "failed" and "lease expired" in job["last_error"]


def test_media_is_content_addressed_and_outside_paths_are_refused(store, tmp_path):
    src = tmp_path / "x.wav"
    src.write_bytes(b"RIFF....WAVEdata")
    rel, sha, size = store.import_file(src)
    assert rel == f"{sha[:2]}/{sha[2:4]}/{sha}.wav" and size == 16
    assert store.media_file(rel).read_bytes() == src.read_bytes()
    rel2, _, _ = store.import_file(src)
    assert rel2 == rel
    assert store.media_file("../antiphon.db") is None
    assert store.media_file("/etc/passwd") is None
    assert not list(store.tmp_dir.iterdir())  # no temporary files left behind
