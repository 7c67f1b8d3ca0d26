"""Pages and their JSON/CSV variants, without a browser."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("fastapi")

from antiphon.web import DEFAULT_COLOURS, contrast_ratio  # noqa: E402

from ._app import PASSWORD, USER, basic_auth_app  # noqa: E402


@pytest.fixture(scope="module")
def client(web_source, support_call, tmp_path_factory):
    from fastapi.testclient import TestClient

    app = basic_auth_app(web_source, support_call[0].parent, peaks_cache_dir=tmp_path_factory.mktemp("peaks"))
    with TestClient(app) as c:
        c.auth = (USER, PASSWORD)
        yield c


def test_list_json_filters_sort_and_pages(client):
    r = client.get("/conversations.json")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True
    assert body["total"] == 24  # 25 conversations, one duplicate hidden
    assert [row["started_at"] for row in body["rows"]] == sorted((row["started_at"] for row in body["rows"]), reverse=True)
    shown = client.get("/conversations.json?duplicates=show").json()
    assert shown["total"] == 25
    carol = client.get("/conversations.json?agent=carol").json()
    assert carol["total"] > 0 and all(row["agents"] == ["carol"] for row in carol["rows"])
    ct = client.get("/conversations.json?crosstalk_above=10&sort=-crosstalk_pct").json()
    assert ct["total"] > 0 and all(row["crosstalk_pct"] > 10 for row in ct["rows"])
    pcts = [row["crosstalk_pct"] for row in ct["rows"]]
    assert pcts == sorted(pcts, reverse=True)
    paged = client.get("/conversations.json?per_page=10&page=3").json()
    assert paged["pages"] == 3 and len(paged["rows"]) == 4 and paged["links"]["next"] is None
    day = client.get("/conversations.json?from=2026-11-02&to=2026-11-02").json()
    assert day["total"] > 0 and all(row["started_at"].startswith("2026-11-02") for row in day["rows"])
    ls = client.get("/conversations.json?long_silences=1").json()
    assert ls["total"] > 0 and all(row["long_silences"] > 0 for row in ls["rows"])
    found = client.get("/conversations.json?q=CONV-023").json()  # the duplicate, found by id
    assert [row["id"] for row in found["rows"]] == ["CONV-023"]
    cat = client.get("/conversations.json?category=billing-dispute").json()
    assert [row["id"] for row in cat["rows"]] == ["CONV-SUPPORT"]
    assert cat["rows"][0]["categories"] == ["billing-dispute"]  # not the unmatched "escalation"
    assert client.get("/conversations.json?category=escalation").json()["total"] == 0


def test_json_by_accept_header_and_format_param(client):
    a = client.get("/conversations", headers={"Accept": "application/json"})
    b = client.get("/conversations?_format=json")
    assert a.headers["content-type"].startswith("application/json")
    assert a.json()["total"] == b.json()["total"]
    html = client.get("/conversations")
    assert html.headers["content-type"].startswith("text/html")
    assert "CONV-SUPPORT" in html.text


def test_bad_parameters_use_the_error_shape(client):
    r = client.get("/conversations.json?from=yesterday&sort=nope&page=0")
    assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and body["status"] == 400
    assert {e["path"] for e in body["errors"]} == {"from", "sort", "page"}
    html = client.get("/conversations?from=yesterday")
    assert html.status_code == 400 and "not a date" in html.text
    missing = client.get("/conversations/NOPE.json")
    assert missing.status_code == 404 and missing.json()["ok"] is False


def test_conversation_json_has_segments_metrics_and_player_data(client):
    c = client.get("/conversations/CONV-SUPPORT.json").json()
    assert [s["worker"] for s in c["segments"]] == ["alice", "bob"]
    assert c["segments"][1]["segment_recording_offset"] == pytest.approx(29.604)
    names = [m["name"] for m in c["metrics"]]
    assert names[:5] == ["talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time"]
    p = c["player"]
    assert p["crosstalk"] and all(e > s for s, e in p["crosstalk"])
    # The analysis found the scripted overlap (truth: 41.58-43.08 s).
    assert any(s < 43.08 and e > 41.58 for s, e in p["crosstalk"])
    assert any(ls["duration"] >= 4.0 for ls in p["long_silences"])
    assert [m["label"] for m in p["markers"]] == ["billing-dispute", "refund"]
    assert len(p["turns"]) == 16 and p["turns"][0]["party"] == "agent"
    assert c["recording"]["peaks_url"] == "/conversations/CONV-SUPPORT/peaks.json?recording=RE00000000000000000000000000000001"
    same = client.get("/conversations/CONV-SUPPORT", headers={"Accept": "application/json"}).json()
    assert same["segments"] == c["segments"]


def test_peaks_endpoint_serves_both_channels(client):
    r = client.get("/conversations/CONV-SUPPORT/peaks.json")
    assert r.status_code == 200
    body = r.json()
    assert body["channels"] == 2 and body["encoding"] == "u8-base64"
    assert body["duration"] == pytest.approx(80.585, abs=0.01)
    f = client.get("/conversations/CONV-SUPPORT/peaks.json?encoding=float").json()
    cust, agent = f["peaks"]
    pps = f["peaks_per_second"]
    # Agent speaks first (0.8-6.2 s); customer is silent then.
    first = slice(int(1.0 * pps), int(6.0 * pps))
    assert max(agent[first]) > 0.05 and max(cust[first]) < max(agent[first]) / 4


def test_report_json_csv_and_groups(client):
    r = client.get("/reports.json?group_by=agent").json()
    groups = {row["group"]: row for row in r["rows"]}
    assert {"alice", "bob", "carol", "dave", "erin"} <= set(groups)
    assert groups["alice"]["calls"] == 1
    assert groups["alice"]["customer_share"] + groups["alice"]["agent_share"] == pytest.approx(100, abs=0.2)
    day = client.get("/reports.json?group_by=day&from=2026-11-02&to=2026-11-04").json()
    assert [row["group"] for row in day["rows"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    c = client.get("/reports.csv?group_by=queue")
    assert c.headers["content-type"].startswith("text/csv")
    assert "attachment" in c.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert {row["queue"] for row in rows} == {"Billing", "Cards", "Refunds"}
    assert sum(int(row["calls"]) for row in rows) == 25  # 24 shown + the transfer counts twice, minus the duplicate
    bad = client.get("/reports.json?group_by=weekday")
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "group_by"


def test_conversations_csv_has_every_page(client):
    c = client.get("/conversations.csv?per_page=5")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert len(rows) == 24


def test_requests_without_credentials_are_refused(client):
    from fastapi.testclient import TestClient

    anon = TestClient(client.app)
    assert anon.get("/conversations").status_code == 401


def test_default_channel_colours_have_contrast_on_the_background():
    bg = DEFAULT_COLOURS["background"]
    # WCAG 2.1 SC 1.4.11 (non-text contrast) asks 3:1; the party colours also serve as text: 4.5:1.
    for name in ("customer", "agent", "segment"):
        assert contrast_ratio(DEFAULT_COLOURS[name], bg) >= 4.5, name
    for name in ("crosstalk", "silence", "marker"):
        assert contrast_ratio(DEFAULT_COLOURS[name], bg) >= 3.0, name
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_docs_example_runs():
    """The Python example in docs/web.md runs as written."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "web.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)
    assert code, "docs/web.md has a Python example"
    exec(compile(code[0], "docs/web.md", "exec"), {})


def test_colour_overrides_are_validated(monkeypatch):
    from antiphon.errors import AntiphonError
    from antiphon.web import WebConfig

    monkeypatch.setenv("ANTIPHON_COLOURS", "customer=#0a6b2d, agent=#6f1fbf")
    cfg = WebConfig.from_env()
    assert cfg.colours["customer"] == "#0a6b2d" and cfg.colours["agent"] == "#6f1fbf"
    monkeypatch.setenv("ANTIPHON_COLOURS", "customr=#000000,agent=blue;")
    with pytest.raises(AntiphonError) as e:
        WebConfig.from_env()
    assert [p.path for p in e.value.problems] == ["colours.customr", "colours.agent"]
