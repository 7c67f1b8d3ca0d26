"""The player and pages in headless Chromium (Playwright, Debian's chromium)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from antiphon.web import contrast_ratio

from .conftest import shot

pytestmark = pytest.mark.browser

CONV = "/conversations/CONV-SUPPORT"


def open_player(page, url=CONV):
    page.goto(url)
    page.wait_for_selector("#player[data-ready='1']", timeout=20000)
    return page


def media_time(page) -> float:
    return page.evaluate("antiphon.audio.currentTime")


def wait_time_past(page, t: float, timeout=10000):
    page.wait_for_function(f"antiphon.audio.currentTime > {t}", timeout=timeout)


def test_play_pause_and_time_advances(page):
    open_player(page)
    assert page.get_attribute("#play", "aria-label") == "Play"
    page.click("#play")
    page.wait_for_selector("#player[data-state='playing']")
    wait_time_past(page, 0.5)
    assert page.get_attribute("#play", "aria-label") == "Pause"
    shot(page, "player-playing")
    page.click("#play")
    page.wait_for_selector("#player[data-state='paused']")
    t = media_time(page)
    page.wait_for_timeout(400)
    assert media_time(page) == pytest.approx(t, abs=1e-6)  # paused: the playhead stays
    assert page.js_errors == []


def test_waveform_draws_both_channels_from_server_peaks(page, live_server):
    open_player(page)
    peaks_calls = []
    # The page fetched peaks once and never the whole file for decoding.
    state = page.evaluate("""() => ({
        duration: antiphon.ws.getDuration(),
        channels: antiphon.ws.getDecodedData() ? antiphon.ws.getDecodedData().numberOfChannels : 0,
        regions: antiphon.ws.getActivePlugins()[0].getRegions().map(r => r.id),
    })""")
    assert state["duration"] == pytest.approx(80.585, abs=0.05)
    assert state["channels"] == 2
    assert any(r.startswith("crosstalk-") for r in state["regions"])
    assert any(r.startswith("silence-") for r in state["regions"])
    assert {"segment-0", "segment-1", "marker-0", "marker-1"} <= set(state["regions"])
    reqs = live_server.app.state.media_requests
    assert reqs and all(r["range"] for r in reqs), "audio must stream with Range requests"
    assert all("@" not in r["url"] and "s3cret" not in r["url"] for r in reqs), "no credentials in URLs"
    del peaks_calls


@pytest.mark.parametrize("mode,gains", [("customer", [1, 1, 0, 0]), ("agent", [0, 0, 1, 1]), ("both", [1, 0, 0, 1])])
def test_solo_routes_one_channel_to_both_ears(page, mode, gains):
    open_player(page)
    page.click("#play")
    wait_time_past(page, 0.2)
    page.click(f"label[for=solo-{mode}]")
    page.wait_for_selector(f"#player[data-solo='{mode}']")
    # Actual GainNode values of the graph splitter -> gains -> merger:
    # [left->left ear, left->right ear, right->left ear, right->right ear]; customer is the left channel.
    page.wait_for_function(f"JSON.stringify(antiphon.gains()) === '{gains}'.replace(/ /g, '')".replace("'{gains}'", repr(str(gains))))
    assert page.evaluate("antiphon.gains()") == gains
    assert page.get_attribute("#player", "data-gains") == ",".join(map(str, gains))
    assert page.evaluate("antiphon.graph.ctx.state") in ("running", "suspended")
    wait_time_past(page, media_time(page) + 0.2)  # still playing after rerouting
    if mode == "customer":
        shot(page, "player-solo-customer")


def test_clicking_a_transcript_word_seeks_there(page):
    open_player(page)
    word = page.locator("#transcript .turn").nth(6).locator(".words > span").nth(3)  # "refund" in turn 7
    start = float(word.get_attribute("data-s"))
    word.click()
    page.wait_for_function(f"Math.abs(antiphon.audio.currentTime - {start}) < 0.05")
    assert float(page.get_attribute("#player", "data-time")) == pytest.approx(start, abs=0.05)
    assert "current" in word.get_attribute("class")
    assert page.text_content("#position") == f"0:{start:04.1f}"
    page.click("#play")
    wait_time_past(page, start + 0.3)
    shot(page, "player-transcript-seek")


@pytest.mark.parametrize("link", ["?t=42.5", "#t=42.5"])
def test_shared_link_opens_at_the_time(page, link):
    open_player(page, CONV + link)
    assert media_time(page) == pytest.approx(42.5, abs=0.05)
    assert page.text_content("#position") == "0:42.5"


def test_link_at_playhead_round_trips(page):
    open_player(page)
    page.evaluate("antiphon.seek(61.25)")
    page.click("#share")
    url = page.input_value("#share-url")
    assert re.search(r"[?&]t=61\.[23]$", url), url
    open_player(page, url)
    assert media_time(page) == pytest.approx(61.25, abs=0.1)


def test_keyboard_operates_the_player(page):
    open_player(page)
    page.locator("h1").click()  # focus the page, not a control
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert media_time(page) == pytest.approx(10.0, abs=0.05)
    page.keyboard.press("Shift+ArrowLeft")
    assert media_time(page) == pytest.approx(9.0, abs=0.05)
    page.keyboard.press("Space")
    page.wait_for_selector("#player[data-state='playing']")
    wait_time_past(page, 9.3)
    page.keyboard.press("c")
    assert page.evaluate("antiphon.gains()") == [1, 1, 0, 0]
    page.keyboard.press("]")
    assert page.evaluate("antiphon.audio.playbackRate") == 1.25
    page.keyboard.press("Space")
    page.wait_for_selector("#player[data-state='paused']")
    # N / P: next and previous moment (here: the category hit at 8.0 s, the long silence, the transfer)
    moments = page.evaluate("antiphon.moments")
    t = media_time(page)
    page.keyboard.press("n")
    nxt = min(m for m in moments if m > t + 0.05)
    assert media_time(page) == pytest.approx(nxt, abs=0.01)
    page.keyboard.press("n")
    page.keyboard.press("p")
    assert media_time(page) == pytest.approx(nxt, abs=0.01)
    # Tab reaches the play button and Enter activates it.
    page.focus("#play")
    page.keyboard.press("Enter")
    page.wait_for_selector("#player[data-state='playing']")


def test_playback_speed_from_half_to_double(page):
    open_player(page)
    for rate in ("0.5", "2"):
        page.select_option("#rate", rate)
        assert page.evaluate("antiphon.audio.playbackRate") == float(rate)
        assert page.get_attribute("#player", "data-rate") == rate


def test_controls_are_labelled_and_colours_contrast(page):
    open_player(page)
    unlabeled = page.evaluate("""() => Array.from(document.querySelectorAll('button, input, select, [role=slider]'))
        .filter(el => el.type !== 'hidden' && !el.hidden)
        .filter(el => {
            const name = (el.getAttribute('aria-label') || '').trim() || (el.labels && el.labels.length && el.labels[0].textContent.trim())
                || (el.tagName === 'BUTTON' && el.textContent.trim()) || el.getAttribute('title');
            return !name;
        }).map(el => el.outerHTML.slice(0, 80))""")
    assert unlabeled == []
    colours = page.evaluate("""() => { const s = getComputedStyle(document.documentElement);
        return Object.fromEntries(['customer', 'agent', 'crosstalk', 'silence', 'bg'].map(k => [k, s.getPropertyValue('--' + k).trim()])) }""")
    for name in ("customer", "agent"):
        assert contrast_ratio(colours[name], colours["bg"]) >= 4.5, (name, colours[name])
    for name in ("crosstalk", "silence"):
        assert contrast_ratio(colours[name], colours["bg"]) >= 3.0, (name, colours[name])
    shot(page, "conversation")


def test_filter_the_list_and_sort(page):
    page.goto("/conversations")
    assert page.text_content("#total").strip() == "24"
    page.select_option("#f-agent", "carol")
    page.fill("#f-ct", "5")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"agent=carol"))
    rows = page.locator("#conversations tbody tr")
    n = rows.count()
    assert 0 < n < 24
    for i in range(n):
        cells = rows.nth(i).locator("td")
        assert cells.nth(2).text_content().strip() == "carol"
        assert float(cells.nth(6).text_content().strip().rstrip("%")) > 5
    page.click("#conversations thead >> text=Crosstalk")
    page.wait_for_url(re.compile(r"sort="))
    vals = [float(v.strip().rstrip("%")) for v in page.locator("#conversations tbody tr td:nth-child(7)").all_text_contents()]
    assert vals == sorted(vals, reverse=True) and len(vals) == n
    shot(page, "conversations-filtered")
    page.locator("#conversations tbody tr a").first.click()
    page.wait_for_selector("#player[data-ready='1']", timeout=20000)


def test_report_page_and_csv_download(page):
    page.goto("/reports?group_by=agent")
    assert page.locator(".charts svg[role=img]").count() == 4
    assert page.locator("#report tbody tr").count() == 5
    shot(page, "reports-agent")
    with page.expect_download() as dl:
        page.click("#csv-button")
    d = dl.value
    assert d.suggested_filename.startswith("antiphon-report-by-agent")
    rows = list(csv.DictReader(io.StringIO(open(d.path()).read())))
    assert [r["agent"] for r in rows] == ["alice", "bob", "carol", "dave", "erin"]
    page.goto("/reports?group_by=day&from=2026-11-01&to=2026-11-09")
    assert page.locator("#report tbody tr").count() == 7  # 2026-11-02 .. 2026-11-08
    shot(page, "reports-day")


def test_find_in_transcript_and_play_from_a_match(page):
    open_player(page)
    page.fill("#find", "refund")
    assert page.text_content("#find-count") == "2 matches"
    assert page.locator("#transcript .words > span.match").count() == 2
    page.press("#find", "Enter")
    first = float(page.locator("#transcript .words > span.match").first.get_attribute("data-s"))
    assert media_time(page) == pytest.approx(first, abs=0.01)
    page.click("#find-next")
    second = float(page.locator("#transcript .words > span.match").nth(1).get_attribute("data-s"))
    assert second > first and media_time(page) == pytest.approx(second, abs=0.01)
    page.fill("#find", "extra charge")
    assert page.text_content("#find-count") == "1 match"
    assert page.locator("#transcript .words > span.match").count() == 2  # both words of the phrase
    page.fill("#find", "")
    assert page.locator("#transcript .words > span.match").count() == 0


def test_playback_speed_carries_over_to_the_next_call(page):
    open_player(page)
    page.select_option("#rate", "1.5")
    open_player(page, CONV + "?t=10")
    assert page.evaluate("antiphon.audio.playbackRate") == 1.5
    assert page.input_value("#rate") == "1.5"
