"""The list's SQL (filters, sorts, pages, duplicates) against a brute-force model."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest

pytest.importorskip("sqlalchemy")

from antiphon.web.source import ListQuery, ReportQuery  # noqa: E402

N = 240
AGENTS = ["ann", "ben", "cat", "dan", "eve"]
QUEUES = ["Billing", "Cards", "Loans"]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from antiphon.config import load_settings
    from antiphon.store import open_store
    from antiphon.store.models import Analysis, Category, Conversation, Recording, Segment

    store = open_store(load_settings(data_dir=tmp_path_factory.mktemp("q"), auth=False))
    rnd = random.Random(11)
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    model = []
    with store.session(write=True) as s:
        for i in range(N):
            cid, sid = f"C{i:04d}", f"RE{i:032d}"
            start = t0 + timedelta(hours=7 * i)
            dur = rnd.uniform(30, 900)
            ct = dur * rnd.uniform(0, 0.1)
            c_t, a_t = dur * rnd.uniform(0.1, 0.4), dur * rnd.uniform(0.2, 0.5)
            ls = rnd.choice([0, 0, 1, 2])
            dup = f"RE{i - 1:032d}" if i % 37 == 36 else None
            workers = rnd.sample(AGENTS, 2 if i % 5 == 0 else 1)
            queue = rnd.choice(QUEUES)
            cat = rnd.choice([None, None, "refund", "complaint"])
            s.add(Conversation(id=cid, started_at=start, queue=queue))
            s.flush()
            s.add(Recording(sid=sid, conversation_id=cid, status="analyzed", duration=dur, duplicate_of=dup, size=1))
            s.flush()
            s.add(Analysis(recording_sid=sid, conversation_id=cid, duration=dur, talk_time=c_t + a_t - ct,
                           customer_talk_time=c_t, agent_talk_time=a_t, crosstalk_time=ct,
                           silence_time=dur - (c_t + a_t - ct), customer_interruptions=1, agent_interruptions=i % 3,
                           long_silences=ls))
            for k, w in enumerate(workers):
                s.add(Segment(key=f"{cid}:{k}", conversation_id=cid, worker=w, queue=queue, start=start,
                              recording_sid=sid, talk_time=1.0))
            if cat:
                s.add(Category(conversation_id=cid, recording_sid=sid, name=cat))
            model.append(dict(id=cid, day=start.date(), dur=dur, ct_pct=100 * ct / dur, ls=ls, dup=dup is not None,
                              workers=workers, queue=queue, cat=cat))
    yield store, model
    store.close()


def _expected(model, q: ListQuery):
    out = []
    for m in model:
        if q.hide_duplicates and m["dup"]:
            continue
        if q.date_from and m["day"] < q.date_from or q.date_to and m["day"] > q.date_to:
            continue
        if q.agent and q.agent not in m["workers"]:
            continue
        if q.queue and q.queue != m["queue"]:
            continue
        if q.category and q.category != m["cat"]:
            continue
        if q.crosstalk_above is not None and not m["ct_pct"] > q.crosstalk_above:
            continue
        if q.long_silences and not m["ls"]:
            continue
        out.append(m)
    return out


QUERIES = [
    ListQuery(),
    ListQuery(hide_duplicates=False),
    ListQuery(agent="cat"),
    ListQuery(queue="Loans", crosstalk_above=4.5),
    ListQuery(category="refund", long_silences=True),
    ListQuery(date_from=date(2026, 3, 10), date_to=date(2026, 3, 20)),
    ListQuery(date_from=date(2026, 3, 10), agent="ann", queue="Cards", hide_duplicates=False),
]


@pytest.mark.parametrize("q", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_filters_match_the_model(seeded, q):
    from antiphon.web.storesource import StoreSource

    store, model = seeded
    src = StoreSource(store)
    want = _expected(model, q)
    ids = []
    page = 1
    while True:
        p = src.list_conversations(ListQuery(**{**q.__dict__, "per_page": 25, "page": page}))
        assert p.total == len(want)
        ids += [r["id"] for r in p.rows]
        if page >= p.pages:
            break
        page += 1
    assert ids == sorted((m["id"] for m in want), reverse=True)  # newest first; ids follow start times


@pytest.mark.parametrize("key", ["duration", "crosstalk_pct", "long_silences", "agent", "queue", "interruptions"])
@pytest.mark.parametrize("desc", [True, False])
def test_sorts_are_total_orders(seeded, key, desc):
    from antiphon.web.storesource import StoreSource

    store, model = seeded
    rows = StoreSource(store).list_conversations(ListQuery(sort=key, desc=desc, per_page=500)).rows
    assert len(rows) == len(_expected(model, ListQuery()))
    if key == "agent":
        vals = [min(r["agents"]) for r in rows]
    elif key == "queue":
        vals = [r["queues"][0] for r in rows]
    else:  # rounding for display keeps a (weak) order, so the rounded values are sorted too
        vals = [r[key] for r in rows]
    assert vals == sorted(vals, reverse=desc)


def test_report_by_agent_counts_every_agent_of_a_call(seeded):
    from antiphon.web.storesource import StoreSource

    store, model = seeded
    rows = {r["group"]: r for r in StoreSource(store).report(ReportQuery(group_by="agent"))}
    for a in AGENTS:
        assert rows[a]["calls"] == sum(1 for m in model if a in m["workers"])


def test_find_by_id(seeded):
    from antiphon.web.storesource import StoreSource

    store, model = seeded
    src = StoreSource(store)
    dup = next(m for m in model if m["dup"])
    for key in (dup["id"], "RE" + dup["id"][1:].rjust(32, "0")):
        p = src.list_conversations(ListQuery(q=key))
        assert [r["id"] for r in p.rows] == [dup["id"]] and p.total == 1  # found although a duplicate
    assert src.list_conversations(ListQuery(q="nothing-like-it")).total == 0
