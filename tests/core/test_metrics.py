"""Conversation metrics on hand-built timelines, edge cases and properties."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiphon.errors import AntiphonError
from antiphon.metrics import (
    METRICS_VERSION,
    SCALAR_METRICS,
    MetricOptions,
    MetricsError,
    aggregate_metrics,
    compute_metrics,
    format_metrics,
)
from antiphon.timeline import Timeline

ROOT = Path(__file__).resolve().parents[2]


def M(customer, agent, window=(0, 20), **options):
    return compute_metrics(Timeline(customer), Timeline(agent), window, MetricOptions(**options))


# -- talk, crosstalk, silence ----------------------------------------------------


def test_talk_crosstalk_silence_and_percentages():
    #   0    2 2.5      6  7       10
    # C      |===========|
    # A |=======|          |========|
    m = M([(2, 6)], [(0, 2.5), (7, 10)], (0, 10))
    assert m["duration"] == 10 and m["window_start"] == 0 and m["window_end"] == 10
    assert m["customer_talk_time"] == 4 and m["agent_talk_time"] == 5.5
    assert m["talk_time"] == 9 and m["crosstalk_time"] == 0.5 and m["silence_time"] == 1
    assert m["talk_pct"] == 90 and m["crosstalk_pct"] == 5 and m["silence_pct"] == 10
    assert m["customer_talk_pct"] == 40 and m["agent_talk_pct"] == 55
    assert m["customer_talk_share_pct"] == 42.11 and m["agent_talk_share_pct"] == 57.89
    assert m["metrics_version"] == METRICS_VERSION


def test_window_not_starting_at_zero_clips_speech():
    c, a = [(0, 4), (10, 14)], [(4.5, 9), (15, 30)]
    m = M(c, a, (3, 20))
    assert (m["window_start"], m["window_end"], m["duration"]) == (3, 20, 17)
    assert m["customer_talk_time"] == 5 and m["agent_talk_time"] == 9.5
    assert m["talk_time"] == 14.5 and m["silence_time"] == 2.5
    assert m["leading_silence"] == 0 and m["trailing_silence"] == 0
    # the same as measuring timelines already cropped to the window
    assert m == M(Timeline(c).crop(3, 20), Timeline(a).crop(3, 20), (3, 20))


def test_speech_entirely_outside_the_window_is_ignored():
    m = M([(0, 5)], [(30, 40)], (10, 20))
    assert m["talk_time"] == 0 and m["silence_time"] == 10 and m["leading_silence"] == 10


def test_empty_timelines():
    m = M([], [], (0, 30))
    assert m["talk_time"] == m["customer_talk_time"] == m["agent_talk_time"] == m["crosstalk_time"] == 0
    assert m["silence_time"] == 30 and m["silence_pct"] == 100 and m["talk_pct"] == 0
    assert m["customer_talk_share_pct"] is None and m["agent_talk_share_pct"] is None
    # the whole window is one silence before anybody speaks: leading, not dead air
    assert m["leading_silence"] == 30 and m["trailing_silence"] == 0
    assert m["long_silence_count"] == 0 and m["silences"] == []
    assert m["longest_talk_by_customer"] == m["longest_talk_by_agent"] == 0
    assert m["longest_silence_before_agent"] == m["longest_silence_before_customer"] == 0
    assert m["turns"] == 0 and m["interruption_count"] == 0 and m["interruptions"] == []
    assert m["customer_response_latency"] is None and m["agent_response_latency"] is None
    assert m["customer_responses"] == m["agent_responses"] == 0
    assert all(v is None for v in m["longest"].values())
    with_edges = M([], [], (0, 30), edge_silences=True)
    assert with_edges["silences"] == [
        {"start": 0, "end": 30, "duration": 30, "previous_party": None, "next_party": None}
    ]
    assert with_edges["long_silence_count"] == 1 and with_edges["long_silence_time"] == 30


def test_zero_length_window():
    m = M([(0, 10)], [(2, 3)], (5, 5))
    assert m["duration"] == 0 and m["talk_time"] == 0 and m["silence_time"] == 0
    for key, unit in SCALAR_METRICS.items():
        if unit == "%":
            assert m[key] is None, key
        elif unit in ("s", "count") and key not in ("window_start", "window_end"):
            assert m[key] in (0, None), key
    assert m["silences"] == [] and m["interruptions"] == []


def test_lists_of_pairs_are_accepted():
    assert compute_metrics([(0, 1)], [[2, 3]], (0, 4))["talk_time"] == 2
    assert compute_metrics(None, Timeline([(0, 1)]), (0, 4))["customer_talk_time"] == 0


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "window",
    [(5, 3), (-1, 3), (0, float("nan")), (0, float("inf")), "ab", (1, 2, 3), None, ("x", 2)],
)
def test_bad_windows_are_clear_errors(window):
    with pytest.raises(MetricsError) as exc:
        compute_metrics(Timeline(), Timeline(), window)
    assert isinstance(exc.value, AntiphonError) and "window" in exc.value.message
    assert exc.value.to_dict()["ok"] is False


def test_bad_speech_is_a_clear_error():
    with pytest.raises(MetricsError, match="customer"):
        compute_metrics([(2, 1)], [], (0, 3))
    with pytest.raises(MetricsError, match="agent"):
        compute_metrics([], 5, (0, 3))


@pytest.mark.parametrize(
    "kwargs",
    [{"turn_gap": -1}, {"backchannel": "1"}, {"long_silence": float("nan")}, {"min_overlap": True},
     {"edge_silences": 1}],
)
def test_bad_options_are_clear_errors(kwargs):
    with pytest.raises(MetricsError) as exc:
        MetricOptions(**kwargs)
    assert [p.path for p in exc.value.problems] == list(kwargs)


def test_options_from_dict_and_back():
    o = MetricOptions.from_dict({"turn_gap": 0.5, "edge_silences": True})
    assert o.turn_gap == 0.5 and o.edge_silences and o.backchannel == 1.0
    assert MetricOptions.from_dict(o.to_dict()) == o
    assert MetricOptions.from_dict(None) == MetricOptions()
    with pytest.raises(MetricsError, match="unknown metric options: colar"):
        MetricOptions.from_dict({"colar": 1})
    with pytest.raises(MetricsError, match="MetricOptions"):
        compute_metrics([], [], (0, 1), {"turn_gap": 1})


def test_options_used_are_recorded():
    m = M([(0, 1)], [], (0, 2), long_silence=3)
    assert m["options"] == {**MetricOptions().to_dict(), "long_silence": 3}


# -- longest talk (monologues) ---------------------------------------------------


def test_own_short_pause_is_bridged():
    m = M([(10, 12)], [(0, 4), (4.6, 9)])
    assert m["longest_talk_by_agent"] == 9
    assert m["longest"]["talk_by_agent"] == {"start": 0, "end": 9, "duration": 9}
    assert m["longest_talk_by_customer"] == 2


def test_own_pause_of_a_turn_gap_breaks_and_ties_go_to_the_earliest():
    m = M([], [(0, 4), (5, 9)])
    assert m["longest_talk_by_agent"] == 4 and m["longest"]["talk_by_agent"]["start"] == 0
    assert M([], [(0, 4), (5, 9)], turn_gap=1.01)["longest_talk_by_agent"] == 9


def test_backchannel_inside_a_long_pause_does_not_break_the_monologue():
    #   0         10 10.6 11 11.6        20
    # A |==========|          |==========|     pause 1.6 s >= turn gap ...
    # C                |==|                    ... but only a 0.4 s "mm-hm" in it
    m = M([(10.6, 11.0)], [(0, 10), (11.6, 20)])
    assert m["longest_talk_by_agent"] == 20
    assert m["longest_talk_by_customer"] == 0  # a backchannel is not a monologue
    assert m["customer_talk_time"] == 0.4  # ... but it is talk
    assert m["turns"] == 1 and m["customer_turns"] == 0


def test_other_partys_real_talk_in_my_pause_cuts_the_monologue():
    #   0      4.9 5  5.8   6.5        20
    # A |=========|    |===============|
    # C         |=========|
    m = M([(4.9, 6.5)], [(0, 5), (5.8, 20)])
    assert m["longest_talk_by_agent"] == 14.2
    assert m["longest"]["talk_by_agent"] == {"start": 5.8, "end": 20, "duration": 14.2}
    assert m["longest_talk_by_customer"] == 1.6


def test_talk_over_a_speaker_who_keeps_talking_does_not_cut():
    m = M([(8, 11)], [(0, 20)])
    assert m["longest_talk_by_agent"] == 20 and m["longest_talk_by_customer"] == 3


def test_an_early_reply_does_not_shorten_the_speaker_it_overlaps():
    m = M([(5.8, 9)], [(0, 6)])
    assert m["longest_talk_by_agent"] == 6 and m["longest_talk_by_customer"] == 3.2


def test_monologue_is_clipped_to_the_window():
    m = M([], [(0, 30)], (10, 25))
    assert m["longest"]["talk_by_agent"] == {"start": 10, "end": 25, "duration": 15}


# -- silences ------------------------------------------------------------------------


SIL_C = [(3, 5), (12, 14), (20, 22)]
SIL_A = [(5.5, 11), (14.5, 19.9)]


def test_longest_silence_before_each_party():
    #   0   3  5 5.5     11 12 14 14.5   19.9 20 22        30
    # C     |===|           |===|             |===|
    # A          |=======|         |=======|
    m = M(SIL_C, SIL_A, (0, 30))
    assert m["longest_silence_before_agent"] == 0.5
    assert m["longest"]["silence_before_agent"] == {"start": 5, "end": 5.5, "duration": 0.5}
    assert m["longest_silence_before_customer"] == 1
    assert m["longest"]["silence_before_customer"] == {"start": 11, "end": 12, "duration": 1}
    assert m["leading_silence"] == 3 and m["trailing_silence"] == 8
    # edge silences are part of silence_time, but not dead air by default
    assert m["silence_time"] == 3 + 0.5 + 1 + 0.5 + 0.1 + 8
    assert m["long_silence_count"] == 0 and m["silences"] == []


def test_edge_silences_option_counts_the_leading_and_trailing_silence():
    m = M(SIL_C, SIL_A, (0, 30), edge_silences=True)
    assert m["longest_silence_before_customer"] == 3  # the leading silence ends with the customer
    assert m["silences"] == [{"start": 22, "end": 30, "duration": 8, "previous_party": "customer", "next_party": None}]
    assert m["long_silence_count"] == 1 and m["long_silence_time"] == 8 and m["long_silence_pct"] == 26.67


def test_long_silences_at_least_the_threshold_are_listed():
    #   0   4        9    12     17.5  20
    # A |===|                     |====|
    # C              |====|
    m = M([(9, 12)], [(0, 4), (17.5, 20)])
    assert m["silences"] == [
        {"start": 4, "end": 9, "duration": 5, "previous_party": "agent", "next_party": "customer"},
        {"start": 12, "end": 17.5, "duration": 5.5, "previous_party": "customer", "next_party": "agent"},
    ]
    assert m["long_silence_count"] == 2 and m["long_silence_time"] == 10.5
    assert m["longest_silence_before_customer"] == 5 and m["longest_silence_before_agent"] == 5.5
    assert M([(8.999, 12)], [(0, 4)], (0, 12))["long_silence_count"] == 0
    assert M([(9, 12)], [(0, 4), (17.5, 20)], long_silence=5.2)["long_silence_count"] == 1


def test_silence_ending_in_a_simultaneous_start_counts_for_both():
    m = M([(3, 5)], [(0, 2), (3, 4)], (0, 5))
    assert m["longest_silence_before_agent"] == 1 and m["longest_silence_before_customer"] == 1


def test_silence_says_who_spoke_before_and_after_it():
    m = M([(0, 2), (8, 9)], [(0, 2), (14, 15)], (0, 15))
    assert [(x["previous_party"], x["next_party"]) for x in m["silences"]] == [("both", "customer"), ("customer", "agent")]


def test_a_partys_own_pause_is_silence_before_it():
    m = M([], [(0, 2), (4.5, 6)], (0, 6))
    assert m["longest_silence_before_agent"] == 2.5


def test_window_edge_inside_a_silence():
    # the window starts in the middle of a silence: that part is leading silence
    m = M([(0, 2)], [(10, 12)], (5, 12))
    assert m["leading_silence"] == 5 and m["longest_silence_before_agent"] == 0
    assert m["silences"] == []
    assert M([(0, 2)], [(10, 12)], (5, 12), edge_silences=True)["longest_silence_before_agent"] == 5


# -- interruptions -----------------------------------------------------------------------


def test_agent_interrupts_customer():
    #   0          6        10   12
    # C |===================|
    # A            |=============|
    m = M([(0, 10)], [(6, 12)])
    assert m["interruptions"] == [
        {"start": 6, "end": 10, "overlap": 4, "interrupter": "agent", "interrupted": "customer"}
    ]
    assert m["interruption_count"] == 1 and m["interruptions_by_agent"] == 1
    assert m["interruptions_by_customer"] == 0
    assert m["interruption_time"] == 4 and m["interruption_time_by_agent"] == 4
    assert m["interruption_time_by_customer"] == 0


def test_backchannel_is_not_an_interruption():
    m = M([(0, 10)], [(4, 4.6)])
    assert m["crosstalk_time"] == 0.6 and m["interruption_count"] == 0


def test_overlap_shorter_than_min_overlap_is_not_an_interruption():
    assert M([(0, 10)], [(9.7, 15)])["interruption_count"] == 0
    m = M([(0, 10)], [(9.7, 15)], min_overlap=0.2)
    assert m["interruptions"] == [
        {"start": 9.7, "end": 10, "overlap": 0.3, "interrupter": "agent", "interrupted": "customer"}
    ]


def test_thresholds_are_not_defeated_by_float_rounding():
    # 16 - 15.8 == 0.1999999999999993 in floating point: still a 0.2 s overlap
    assert M([(0, 16)], [(15.8, 19)], min_overlap=0.2)["interruption_count"] == 1
    # 2.3 - 1.3 == 0.9999999999999998: still a pause of one turn gap, not bridged
    assert M([], [(0, 1.3), (2.3, 5)], (0, 5))["longest_talk_by_agent"] == 2.7
    # 8.2 - 3.2 == 4.999999999999999: still 5 s of dead air
    assert M([(0, 3.2)], [(8.2, 10)], (0, 10))["long_silence_count"] == 1
    # 1.4 - 0.9 == 0.49999999999999989: a 0.5 s utterance is not shorter than backchannel=0.5
    assert M([(0, 5)], [(0.9, 1.4)], (0, 5), backchannel=0.5, min_overlap=0.1)["interruption_count"] == 1


def test_simultaneous_start_is_nobodys_interruption():
    assert M([(0, 5)], [(0, 3)])["interruption_count"] == 0


def test_cutting_in_during_a_short_pause_is_an_interruption():
    #   0        5 5.2 5.6     8      10
    # C |========|     |==============|
    # A            |===========|
    m = M([(0, 5), (5.6, 10)], [(5.2, 8)])
    assert m["interruptions"] == [
        {"start": 5.2, "end": 8, "overlap": 2.4, "interrupter": "agent", "interrupted": "customer"}
    ]


def test_interruptions_both_ways_in_time_order():
    m = M([(0, 10), (15, 25)], [(8, 18)])
    assert [(i["start"], i["interrupter"], i["overlap"]) for i in m["interruptions"]] == [
        (8, "agent", 2),
        (15, "customer", 3),
    ]
    assert m["interruption_time"] == m["crosstalk_time"] == 5


def test_talking_over_without_taking_the_floor_is_an_interruption():
    m = M([(8, 11)], [(0, 20)])
    assert m["interruptions"] == [
        {"start": 8, "end": 11, "overlap": 3, "interrupter": "customer", "interrupted": "agent"}
    ]
    assert m["turns"] == 1 and m["customer_turns"] == 0  # the agent kept the floor


def test_interruption_belongs_to_the_window_where_it_starts():
    assert M([(0, 10)], [(6, 12)], (7, 20))["interruption_count"] == 0
    assert M([(0, 10)], [(6, 12)], (5, 20))["interruption_count"] == 1


# -- turns and response latency -------------------------------------------------------


def test_turns_and_median_response_latency():
    #   0     3 3.5     6   7     9 9.2   11.5 12    15
    # A |=====|             |=====|          |========|
    # C         |=======|            |=========|
    m = M([(3.5, 6), (9.2, 12)], [(0, 3), (7, 9), (11.5, 15)])
    assert m["turns"] == 5 and m["agent_turns"] == 3 and m["customer_turns"] == 2
    assert m["customer_response_latency"] == 0.35 and m["customer_responses"] == 2
    # the agent's last turn starts before the customer finished: not a response after a gap
    assert m["agent_response_latency"] == 1 and m["agent_responses"] == 1


def test_one_partys_consecutive_utterances_are_one_turn():
    m = M([(10, 12)], [(0, 3), (6, 8)])
    assert m["turns"] == 2 and m["agent_turns"] == 1
    assert m["customer_response_latency"] == 2 and m["agent_response_latency"] is None


def test_a_short_answer_after_a_pause_is_a_turn():
    # "Is that right?" ... "Yes." ... "Great."
    m = M([(4.5, 5)], [(0, 3), (6.5, 9)])
    assert m["turns"] == 3 and m["customer_turns"] == 1
    assert m["customer_response_latency"] == 1.5 and m["agent_response_latency"] == 1.5


def test_latency_median_of_even_and_odd_counts():
    m = M([(2, 4), (9, 11), (15, 17)], [(0, 1), (5, 8), (12, 14)])
    # customer responds after 1, 1 and 1 s; agent after 1 and 1 s
    assert m["customer_response_latency"] == 1 and m["agent_response_latency"] == 1
    m = M([(2, 4), (9.5, 11), (17, 18)], [(0, 1), (5, 8), (13, 14)])
    assert m["customer_response_latency"] == 1.5  # 1, 1.5, 3
    assert m["agent_response_latency"] == 1.5  # 1, 2


# -- result shape ---------------------------------------------------------------------------


def test_keys_are_stable_flat_and_json():
    m = M(SIL_C, SIL_A, (0, 30))
    assert list(m)[: len(SCALAR_METRICS)] == list(SCALAR_METRICS)
    assert list(m)[len(SCALAR_METRICS):] == ["silences", "interruptions", "longest", "response_latencies", "options"]
    for key in SCALAR_METRICS:
        assert m[key] is None or isinstance(m[key], (int, float)) and not isinstance(m[key], bool), key
    assert json.loads(json.dumps(m)) == m


def test_values_are_rounded_to_milliseconds():
    m = M([(0.00012, 1.23456)], [(2.0004, 3.3333333)], (0, 10))
    assert m["customer_talk_time"] == 1.234 and m["agent_talk_time"] == 1.333
    assert m["longest"]["talk_by_agent"] == {"start": 2.0, "end": 3.333, "duration": 1.333}


# -- aggregation ------------------------------------------------------------------------


def test_response_latencies_are_listed_in_time_order():
    m = M([(3.5, 6), (9.2, 12)], [(0, 3), (7, 9), (11.5, 15)])
    assert m["response_latencies"] == {"customer": [0.5, 0.2], "agent": [1.0]}


def test_aggregate_sums_times_and_recomputes_percentages():
    a = M([(0, 4)], [(5, 6)], (0, 10))
    b = M([(1, 2), (25, 26)], [(3, 20)], (0, 30))
    t = aggregate_metrics([a, None, b])
    assert t["calls"] == 2 and t["metrics_version"] == METRICS_VERSION
    assert t["duration"] == 40 and t["talk_time"] == 24 and t["silence_time"] == 16
    assert t["customer_talk_time"] == 6 and t["agent_talk_time"] == 18
    assert t["talk_pct"] == 60 and t["silence_pct"] == 40  # not the mean of 50 % and 63.33 %
    assert t["customer_talk_share_pct"] == 25 and t["agent_talk_share_pct"] == 75
    assert t["longest_talk_by_agent"] == 17 and t["longest_silence_before_customer"] == 5
    assert t["long_silence_count"] == 1 and t["long_silence_time"] == 5
    assert t["turns"] == a["turns"] + b["turns"]
    # the median of all responses pooled: customer answered after 1 s (b) and 5 s (b)
    assert a["customer_responses"] == 0 and b["response_latencies"]["customer"] == [5.0]
    assert t["agent_response_latency"] == 1.0  # responses after 1 s (a) and 1 s (b)
    assert "window_start" not in t and "silences" not in t
    assert list(t)[0] == "calls" and json.loads(json.dumps(t)) == t


def test_aggregate_of_nothing_and_of_one():
    t = aggregate_metrics([])
    assert t["calls"] == 0 and t["duration"] == 0 and t["talk_pct"] is None
    assert t["customer_response_latency"] is None
    m = M(SIL_C, SIL_A, (0, 30))
    one = aggregate_metrics([m])
    for key, value in one.items():
        if key != "calls":
            assert value == m[key], key


def test_aggregate_latency_is_unknown_without_the_lists():
    m = M([(3.5, 6)], [(0, 3)])
    stored = {k: v for k, v in m.items() if k != "response_latencies"}
    assert aggregate_metrics([stored])["customer_response_latency"] is None
    assert aggregate_metrics([m])["customer_response_latency"] == 0.5


def test_format_metrics_prints_an_aggregate():
    text = format_metrics(aggregate_metrics([M([(0, 4)], [(5, 6)], (0, 10))] * 3))
    assert text.splitlines()[0] == "3 calls"
    assert next(l for l in text.splitlines() if l.startswith("talk_time")).split() == ["talk_time", "15.00", "s", "50.0", "%"]


# -- text summary ---------------------------------------------------------------------------


def test_format_metrics_table():
    text = format_metrics(M([(0, 10), (15, 25)], [(8, 18), (32, 40)], (0, 40)))
    lines = text.splitlines()
    assert lines[0] == "window 0.00-40.00 s"
    row = next(l for l in lines if l.startswith("customer_talk_time"))
    assert row.split() == ["customer_talk_time", "20.00", "s", "50.0", "%", "(share", "52.6", "%)"]
    assert next(l for l in lines if l.startswith("interruption_count")).split() == ["interruption_count", "2"]
    assert lines[lines.index("long silences:") + 1] == "  25.00-32.00 s  (7.00 s)"
    assert "  8.00-10.00 s  agent over customer  (2.00 s overlap)" in lines
    # every row's value column is aligned
    starts = {len(l) - len(l.lstrip()) for l in lines}
    assert starts <= {0, 2}


def test_format_metrics_undefined_and_partial():
    text = format_metrics(M([], [], (0, 5)))
    assert next(l for l in text.splitlines() if l.startswith("agent_response_latency")).split() == [
        "agent_response_latency", "-"]
    assert format_metrics({"talk_time": 1.5}) == "talk_time  1.50 s"
    assert format_metrics({}) == ""


# -- the documentation's examples -----------------------------------------------------------


def test_docs_examples_run():
    doc = ROOT / "docs" / "metrics.md"
    result = doctest.testfile(str(doc), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_every_scalar_metric_is_documented():
    text = (ROOT / "docs" / "metrics.md").read_text()
    for key in SCALAR_METRICS:
        assert f"`{key}`" in text, key


# -- reference call: the synthetic support call's exact timings -----------------------------


def test_synthetic_call_truth(calls_dir):
    truth = json.loads((calls_dir / "synthetic" / "support_call.truth.json").read_text())
    c, a = Timeline(truth["intervals"]["0"]), Timeline(truth["intervals"]["1"])
    m = compute_metrics(c, a, (0, truth["duration"]))
    assert m["crosstalk_time"] == pytest.approx(sum(e - s for s, e in truth["overlaps"]), abs=0.001)
    # the 5 s hold after "please hold" is the one dead-air silence, ended by the agent
    assert m["silences"] == [
        {"start": 24.604, "end": 29.604, "duration": 5.0, "previous_party": "agent", "next_party": "agent"}
    ]
    assert m["longest"]["silence_before_agent"] == {"start": 24.604, "end": 29.604, "duration": 5.0}
    # the customer asks about the email while the agent is still talking
    assert [(i["start"], i["interrupter"]) for i in m["interruptions"]] == [(41.58, "customer")]
    assert m["leading_silence"] == 0.8 and m["trailing_silence"] == 1.5
    assert m["turns"] == 15


# -- properties ----------------------------------------------------------------------------------

# Times on a 1/8 s grid: sums and differences are exact in floating point.
_t = st.integers(min_value=0, max_value=320).map(lambda i: i / 8)
_iv = st.tuples(_t, _t).map(lambda p: (min(p), max(p)))
_tl = st.lists(_iv, max_size=12).map(Timeline)
_win = st.tuples(_t, _t).map(lambda p: (min(p), max(p)))
_opts = st.builds(
    MetricOptions,
    turn_gap=st.sampled_from([0, 0.5, 1, 2]),
    backchannel=st.sampled_from([0, 0.5, 1, 2]),
    long_silence=st.sampled_from([0.5, 2, 5]),
    min_overlap=st.sampled_from([0, 0.25, 0.5, 1]),
    edge_silences=st.booleans(),
)
SWAP = {"customer": "agent", "agent": "customer"}


def _swap_key(key: str) -> str:
    for a, b in (("customer", "\0"), ("agent", "customer"), ("\0", "agent")):
        key = key.replace(a, b)
    return key


@settings(max_examples=200, deadline=None)
@given(_tl, _tl, _win, _opts)
def test_invariants(c, a, w, o):
    m = compute_metrics(c, a, w, o)
    eps = 0.0015
    assert m["talk_time"] == pytest.approx(m["customer_talk_time"] + m["agent_talk_time"] - m["crosstalk_time"], abs=eps)
    assert m["talk_time"] + m["silence_time"] == pytest.approx(m["duration"], abs=1e-9)
    assert m["leading_silence"] + m["trailing_silence"] <= m["silence_time"] + eps
    assert m["crosstalk_time"] <= min(m["customer_talk_time"], m["agent_talk_time"])
    for key, unit in SCALAR_METRICS.items():
        if unit == "%" and m[key] is not None:
            assert 0 <= m[key] <= 100, key
    # interruptions: within the window, real overlap, never more than the crosstalk
    assert m["interruption_time"] <= m["crosstalk_time"] + eps
    assert m["interruption_count"] == len(m["interruptions"])
    for i in m["interruptions"]:
        assert w[0] <= i["start"] < i["end"] <= w[1]
        assert i["overlap"] >= o.min_overlap and i["overlap"] > 0
        assert i["overlap"] <= i["end"] - i["start"] + eps
        assert {i["interrupter"], i["interrupted"]} == {"customer", "agent"}
    # silences are long, inside the window and free of speech
    talk = (c | a).crop(*w)
    assert m["long_silence_count"] == len(m["silences"])
    for s in m["silences"]:
        assert s["duration"] >= o.long_silence and w[0] <= s["start"] < s["end"] <= w[1]
        assert (talk & Timeline([(s["start"], s["end"])])).duration() == 0
    assert m["long_silence_time"] <= m["silence_time"] + eps
    # the longest things fit in the window
    for p in ("customer", "agent"):
        assert 0 <= m[f"longest_talk_by_{p}"] <= m["duration"]
        assert m[f"longest_silence_before_{p}"] <= m["silence_time"] + eps
        inst = m["longest"][f"talk_by_{p}"]
        if inst:
            assert w[0] <= inst["start"] < inst["end"] <= w[1]
        assert m[f"{p}_responses"] <= m[f"{p}_turns"]
        lat = m[f"{p}_response_latency"]
        assert (lat is None) == (m[f"{p}_responses"] == 0) and (lat is None or lat >= 0)
    assert m["turns"] == m["customer_turns"] + m["agent_turns"]


@settings(max_examples=150, deadline=None)
@given(_tl, _tl, _win, _opts)
def test_window_equals_cropped_timelines(c, a, w, o):
    assert compute_metrics(c, a, w, o) == compute_metrics(c.crop(*w), a.crop(*w), w, o)


@settings(max_examples=150, deadline=None)
@given(_tl, _tl, _win, _opts, st.integers(min_value=1, max_value=80).map(lambda i: i / 4))
def test_shifting_everything_shifts_only_times(c, a, w, o, d):
    m = compute_metrics(c, a, w, o)
    s = compute_metrics(c.shift(d), a.shift(d), (w[0] + d, w[1] + d), o)
    for key in SCALAR_METRICS:
        if key in ("window_start", "window_end"):
            assert s[key] == m[key] + d
        else:
            assert s[key] == m[key], key
    shifted = [{**i, "start": i["start"] + d, "end": i["end"] + d} for i in m["interruptions"]]
    assert s["interruptions"] == shifted


@settings(max_examples=150, deadline=None)
@given(_tl, _tl, _win, _opts)
def test_swapping_parties_swaps_their_metrics(c, a, w, o):
    m = compute_metrics(c, a, w, o)
    s = compute_metrics(a, c, w, o)
    for key in SCALAR_METRICS:
        assert s[_swap_key(key)] == m[key], key
    assert sorted((i["start"], i["end"], i["overlap"], SWAP[i["interrupter"]]) for i in m["interruptions"]) == sorted(
        (i["start"], i["end"], i["overlap"], i["interrupter"]) for i in s["interruptions"]
    )


@settings(max_examples=100, deadline=None)
@given(_tl, _tl, _win, _t)
def test_adjacent_windows_add_up(c, a, w, cut):
    cut = min(max(cut, w[0]), w[1])
    whole = compute_metrics(c, a, w)
    left, right = compute_metrics(c, a, (w[0], cut)), compute_metrics(c, a, (cut, w[1]))
    for key in ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time"):
        assert left[key] + right[key] == pytest.approx(whole[key], abs=1e-9), key


def test_percentages_are_finite_numbers():
    m = M([(0, 1)], [(0.5, 3)], (0, 3))
    assert all(math.isfinite(m[k]) for k, u in SCALAR_METRICS.items() if u == "%")


@settings(max_examples=100, deadline=None)
@given(_tl, _tl, _win, _t)
def test_aggregate_of_adjacent_windows_is_the_whole(c, a, w, cut):
    cut = min(max(cut, w[0]), w[1])
    whole = compute_metrics(c, a, w)
    t = aggregate_metrics([compute_metrics(c, a, (w[0], cut)), compute_metrics(c, a, (cut, w[1]))])
    for key in ("duration", "talk_time", "customer_talk_time", "agent_talk_time", "crosstalk_time", "silence_time"):
        assert t[key] == pytest.approx(whole[key], abs=1e-9), key
    for key in ("talk_pct", "silence_pct", "crosstalk_pct"):
        assert (t[key] is None) == (whole[key] is None)
        if t[key] is not None:
            assert t[key] == pytest.approx(whole[key], abs=0.011), key
