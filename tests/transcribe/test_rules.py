"""Rules files: loading with errors that name the line and field; evaluation on analysis dicts."""

from __future__ import annotations

import pytest

from antiphon.rules import (
    RulesError,
    RuleSet,
    evaluate,
    example_rules_path,
    load_rules,
    parse_rules,
)


def problems_of(text: str, fmt: str = "toml") -> list[str]:
    with pytest.raises(RulesError) as err:
        parse_rules(text, fmt=fmt, source=f"rules.{fmt}")
    return [str(p) for p in err.value.problems] or [err.value.message]


# -- loading --------------------------------------------------------------------------------

def test_example_rules_file_is_packaged_and_valid():
    path = example_rules_path()
    assert path.is_file()
    rules = load_rules(path)
    names = [c.name for c in rules.categories]
    for wanted in ("Greeting said", "Supervisor requested", "Dead air", "Agent talked over the customer"):
        assert wanted in names
    greeting = rules.categories[names.index("Greeting said")].rules[0]
    assert greeting.party == "agent" and greeting.window.bounds(300.0) == (0.0, 60.0)
    assert rules.keywords


def test_yaml_and_toml_give_the_same_rules(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text("""
[[category]]
name = "Escalation"
  [[category.rule]]
  type = "phrase"
  party = "customer"
  phrases = ["supervisor"]
  window = "last 20%"
  [[category.rule]]
  type = "talk_share"
  party = "agent"
  below = "40%"
""")
    yaml_file = tmp_path / "r.yaml"
    yaml_file.write_text("""
categories:
  - name: Escalation
    rules:
      - type: phrase
        party: customer
        phrases: [supervisor]
        window: last 20%
      - type: talk_share
        party: agent
        below: 40%
""")
    a, b = load_rules(toml), load_rules(yaml_file)
    assert a.categories == b.categories
    rule = a.categories[0].rules[0]
    assert rule.window.bounds(100.0) == (80.0, 100.0)
    assert a.categories[0].rules[1].below == pytest.approx(0.4)


def test_toml_syntax_error_names_the_line():
    msg = problems_of('[[category]]\nname = "x"\n[[category.rule]\n')[0]
    assert "not valid TOML" in msg and "line 3" in msg


def test_yaml_syntax_error_names_the_line():
    msg = problems_of("categories:\n  - name: x\n    rules: [\n", fmt="yaml")[0]
    assert "not valid YAML" in msg and "line" in msg


def test_every_problem_is_reported_with_line_and_field():
    text = """version = 1
[[category]]
name = "A"
  [[category.rule]]
  type = "phrase"
  phrases = ["x"]
  window = "sometime"
[[category]]
name = "B"
  [[category.rule]]
  type = "silense"
  [[category.rule]]
  type = "silence"
  min_secs = 3
  [[category.rule]]
  type = "talk_share"
  party = "agent"
  above = "170%"
"""
    probs = problems_of(text)
    assert len(probs) == 5
    joined = "\n".join(probs)
    assert "category[0].rule[0].window: line 7: 'sometime' is not a window" in joined
    assert "category[1].rule[0].type: line 11: unknown rule type 'silense' (did you mean 'silence'?)" in joined
    assert "category[1].rule[1].min_secs: line 14: unknown field 'min_secs'; did you mean 'min_seconds'?" in joined
    assert "category[1].rule[1].min_seconds: line 12: a silence rule needs 'min_seconds'" in joined
    assert "category[1].rule[2].above: line 18:" in joined


def test_yaml_problems_name_line_and_field():
    text = """categories:
  - name: Greeting
    rules:
      - type: phrase
        party: agnt
        phrases: [hello]
      - type: silence
        min_seconds: -1
"""
    probs = problems_of(text, fmt="yaml")
    assert "categories[0].rules[0].party: line 5: must be one of customer, agent, either; got 'agnt'" in probs
    assert "categories[0].rules[1].min_seconds: line 8: must be at least 0.1, got -1" in probs


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[[category]]\nname = "x"\n', "has no rules"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "phrase"\n', "needs 'phrases'"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "phrase"\nphrases = ["", "a"]\n', "non-empty text"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "phrase"\nphrases = ["a"]\nmatch = "fuzzy"\n', "'exact' or 'tolerant'"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "interruptions"\nparty = "agent"\n', "min_count' or 'min_seconds'"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "interruptions"\nmin_count = 1.5\n', "whole number"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "talk_share"\nabove = 0.5\n', "party = \"customer\" or \"agent\""),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = 5\nwindow = "90s-30s"\n', "ends before it starts"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = 5\nwindow = "last 120%"\n', "cannot exceed 100%"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = "long"\n', "must be a number"),
        ('[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = 5\n'
         '[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = 9\n', "defined twice"),
        ('version = 2\n[[category]]\nname = "x"\n[[category.rule]]\ntype = "silence"\nmin_seconds = 5\n', "unsupported rules version"),
        ('title = "mine"\n', "unknown field 'title'"),
        ('', "no categories or keywords"),
    ],
)
def test_bad_rules_say_what_is_wrong(body, expected):
    assert any(expected in p for p in problems_of(body)), problems_of(body)


def test_missing_and_non_text_files(tmp_path):
    with pytest.raises(RulesError, match="no such rules file"):
        load_rules(tmp_path / "nope.toml")
    binary = tmp_path / "r.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RulesError, match="not a UTF-8 text file"):
        load_rules(binary)


def test_window_forms():
    rules = parse_rules("""
[[category]]
name = "w"
  [[category.rule]]
  type = "silence"
  min_seconds = 1
  window = "30s-90s"
  [[category.rule]]
  type = "silence"
  min_seconds = 1
  window = {first = "10%"}
  [[category.rule]]
  type = "silence"
  min_seconds = 1
  window = {start = 10, end = 20}
  [[category.rule]]
  type = "silence"
  min_seconds = 1
  window = "first 2 min"
""")
    bounds = [r.window.bounds(200.0) for r in rules.categories[0].rules]
    assert bounds == [(30.0, 90.0), (0.0, 20.0), (10.0, 20.0), (0.0, 120.0)]


# -- evaluation ----------------------------------------------------------------------------------

def words(start: float, text: str, step: float = 0.4):
    return [{"start": round(start + i * step, 3), "end": round(start + i * step + 0.3, 3), "word": " " + w,
             "probability": 0.9} for i, w in enumerate(text.split())]


def turn(party: str, start: float, text: str) -> dict:
    ws = words(start, text)
    return {"party": party, "start": ws[0]["start"], "end": ws[-1]["end"], "text": text, "words": ws}


def analysis(turns=None, customer=(), agent=(), duration=200.0, interruptions=None) -> dict:
    d = {
        "recording": {"duration": duration, "channel_roles": ["customer", "agent"]},
        "speech": {"customer": [list(x) for x in customer], "agent": [list(x) for x in agent]},
        "metrics": {},
    }
    if interruptions is not None:
        d["metrics"]["interruptions"] = interruptions
    if turns is not None:
        d["transcript"] = {"model": "m", "turns": turns, "talk_speed": {}}
    return d


def rules_of(text: str) -> RuleSet:
    return parse_rules(text, source="test.toml")


GREETING = rules_of("""
[[category]]
name = "Greeting"
  [[category.rule]]
  type = "phrase"
  party = "agent"
  phrases = ["thank you for calling"]
  window = "first 60s"
""")


def test_phrase_said_in_window_by_party_with_evidence():
    a = analysis([turn("agent", 2.0, "Thank you for calling Acme."), turn("customer", 5.0, "Hi.")])
    out = evaluate(GREETING, a)
    cat = out["categories"][0]
    assert cat["matched"] is True
    assert cat["evidence"] == [{"rule": "the agent said 'thank you for calling' in the first 60s",
                                "start": 2.0, "end": 3.5, "party": "agent", "text": "Thank you for calling"}]
    assert out["keyword_hits"] == [{"phrase": "thank you for calling", "party": "agent", "start": 2.0,
                                    "end": 3.5, "text": "Thank you for calling", "category": "Greeting"}]


def test_phrase_outside_window_or_by_other_party_does_not_match_but_is_a_hit():
    late = evaluate(GREETING, analysis([turn("agent", 75.0, "thank you for calling")]))
    assert late["categories"][0] == {"name": "Greeting", "matched": False, "evidence": []}
    assert late["keyword_hits"][0]["start"] == 75.0
    wrong = evaluate(GREETING, analysis([turn("customer", 2.0, "thank you for calling")]))
    assert wrong["categories"][0]["matched"] is False and wrong["keyword_hits"] == []


def test_tolerant_matching_handles_case_punctuation_inflections_and_contractions():
    rules = rules_of("""
[[category]]
name = "Cancel"
  [[category.rule]]
  type = "phrase"
  phrases = ["I want to cancel my account"]
[[category]]
name = "Cancel exact"
  [[category.rule]]
  type = "phrase"
  match = "exact"
  phrases = ["I want to cancel my account"]
""")
    said = analysis([turn("customer", 1.0, "Uh, I wanted to, um, CANCEL my accounts!")])
    cats = {c["name"]: c["matched"] for c in evaluate(rules, said)["categories"]}
    assert cats == {"Cancel": True, "Cancel exact": False}
    exact = analysis([turn("customer", 1.0, "so I want to cancel my account, please")])
    cats = {c["name"]: c["matched"] for c in evaluate(rules, exact)["categories"]}
    assert cats == {"Cancel": True, "Cancel exact": True}
    contraction = rules_of("""
[[category]]
name = "c"
  [[category.rule]]
  type = "phrase"
  phrases = ["I am calling about"]
""")
    assert evaluate(contraction, analysis([turn("customer", 1.0, "I'm calling about my bill")]))["categories"][0]["matched"]


def test_phrase_not_said_in_the_last_part_of_the_call():
    rules = rules_of("""
[[category]]
name = "No closing"
  [[category.rule]]
  type = "phrase"
  party = "agent"
  phrases = ["anything else"]
  said = false
  window = "last 20%"
""")
    early = evaluate(rules, analysis([turn("agent", 10.0, "is there anything else")], duration=100.0))
    assert early["categories"][0]["matched"] is True
    assert early["categories"][0]["evidence"][0]["start"] == 80.0
    assert early["keyword_hits"][0]["start"] == 10.8  # still reported as a hit
    late = evaluate(rules, analysis([turn("agent", 90.0, "is there anything else")], duration=100.0))
    assert late["categories"][0]["matched"] is False


def test_phrase_rules_without_transcript_do_not_match_and_say_why():
    out = evaluate(GREETING, analysis(None))
    assert out["categories"][0]["matched"] is False
    assert "transcript" in out["rules_warnings"][0]


def test_silence_rule_interior_edges_and_window():
    rules = rules_of("""
[[category]]
name = "Dead air"
  [[category.rule]]
  type = "silence"
  min_seconds = 20
[[category]]
name = "Dead air at the start"
  [[category.rule]]
  type = "silence"
  min_seconds = 10
  window = "first 60s"
[[category]]
name = "Long wait before anyone speaks"
  [[category.rule]]
  type = "silence"
  min_seconds = 10
  edges = true
  window = "first 30s"
""")
    a = analysis(customer=[(15, 20), (50, 60)], agent=[(20, 25), (95, 100)], duration=120.0)
    out = {c["name"]: c for c in evaluate(rules, a)["categories"]}
    assert out["Dead air"]["matched"] is True
    assert [(e["start"], e["end"]) for e in out["Dead air"]["evidence"]] == [(25.0, 50.0), (60.0, 95.0)]
    # inside the first 60 s: 25-50 (25 s) qualifies; the lead-in 0-15 is an edge, not counted
    assert [(e["start"], e["end"]) for e in out["Dead air at the start"]["evidence"]] == [(25.0, 50.0)]
    assert [(e["start"], e["end"]) for e in out["Long wait before anyone speaks"]["evidence"]] == [(0.0, 15.0)]
    quiet = analysis(customer=[(0, 10)], agent=[(12, 30)], duration=30.0)
    assert not any(c["matched"] for c in evaluate(rules, quiet)["categories"])


def test_interruption_rules_use_the_analysis_events():
    rules = rules_of("""
[[category]]
name = "Agent talked over"
  [[category.rule]]
  type = "interruptions"
  party = "agent"
  min_count = 2
[[category]]
name = "Long overlaps"
  [[category.rule]]
  type = "interruptions"
  party = "agent"
  min_seconds = 4
""")
    events = [
        {"start": 10.0, "end": 12.0, "overlap": 2.0, "interrupter": "agent", "interrupted": "customer"},
        {"start": 30.0, "end": 31.0, "overlap": 1.0, "interrupter": "customer", "interrupted": "agent"},
        {"start": 50.0, "end": 51.5, "overlap": 1.5, "interrupter": "agent", "interrupted": "customer"},
    ]
    out = {c["name"]: c for c in evaluate(rules, analysis(interruptions=events))["categories"]}
    assert out["Agent talked over"]["matched"] is True
    assert [e["start"] for e in out["Agent talked over"]["evidence"]] == [10.0, 50.0]
    assert out["Agent talked over"]["evidence"][0]["party"] == "agent"
    assert out["Long overlaps"]["matched"] is False  # 3.5 s < 4 s


def test_interruptions_computed_from_speech_when_metrics_lack_them():
    rules = rules_of("""
[[category]]
name = "Agent talked over"
  [[category.rule]]
  type = "interruptions"
  party = "agent"
  min_count = 1
""")
    # the agent starts at 5 s while the customer talks until 9 s
    a = analysis(customer=[(1.0, 9.0)], agent=[(5.0, 12.0)], duration=20.0)
    out = evaluate(rules, a)["categories"][0]
    assert out["matched"] is True and out["evidence"][0]["start"] == 5.0
    calm = analysis(customer=[(1.0, 4.0)], agent=[(5.0, 12.0)], duration=20.0)
    assert evaluate(rules, calm)["categories"][0]["matched"] is False


def test_talk_share_bounds():
    rules = rules_of("""
[[category]]
name = "Agent dominated"
  [[category.rule]]
  type = "talk_share"
  party = "agent"
  above = "70%"
[[category]]
name = "Customer quiet"
  [[category.rule]]
  type = "talk_share"
  party = "customer"
  below = 0.2
""")
    a = analysis(customer=[(0, 10)], agent=[(10, 100)], duration=100.0)
    out = {c["name"]: c for c in evaluate(rules, a)["categories"]}
    assert out["Agent dominated"]["matched"] and out["Customer quiet"]["matched"]
    assert out["Agent dominated"]["evidence"][0]["text"] == "agent talk share 90%"
    even = analysis(customer=[(0, 50)], agent=[(50, 100)], duration=100.0)
    assert not any(c["matched"] for c in evaluate(rules, even)["categories"])


def test_all_rules_of_a_category_must_match():
    rules = rules_of("""
[[category]]
name = "Escalated and long silence"
  [[category.rule]]
  type = "phrase"
  party = "customer"
  phrases = ["supervisor"]
  [[category.rule]]
  type = "silence"
  min_seconds = 30
""")
    t = [turn("customer", 40.0, "I want a supervisor now")]
    only_phrase = analysis(t, customer=[(0, 10), (40, 45)], agent=[(10, 30)], duration=60.0)
    assert evaluate(rules, only_phrase)["categories"][0]["matched"] is False
    both = analysis(t, customer=[(0, 5), (40, 45)], agent=[(5, 8)], duration=60.0)
    cat = evaluate(rules, both)["categories"][0]
    assert cat["matched"] is True
    assert [e["start"] for e in cat["evidence"]] == [8.0, 41.2]


def test_top_level_keywords_are_spotted():
    rules = rules_of('keywords = ["lawyer", "cancel"]\n')
    out = evaluate(rules, analysis([turn("customer", 3.0, "I will call my lawyer and cancel everything"),
                                    turn("agent", 9.0, "please don't cancel")]))
    hits = [(h["phrase"], h["party"], h["category"]) for h in out["keyword_hits"]]
    assert hits == [("lawyer", "customer", None), ("cancel", "customer", None), ("cancel", "agent", None)]


@pytest.mark.slow
def test_example_rules_on_a_transcribed_call(calls_dir, whisper):
    """End to end: analysis with transcript and the shipped rules."""
    from antiphon.analysis import analyze

    a = analyze(calls_dir / "synthetic" / "support_call_8k.wav", transcribe=whisper, rules=example_rules_path())
    d = a.to_dict()
    cats = {c["name"]: c for c in d["categories"]}
    assert cats["Greeting said"]["matched"] is True
    assert cats["Greeting said"]["evidence"][0]["start"] < 3.0
    assert cats["Supervisor requested"]["matched"] is False
    assert cats["Dead air"]["matched"] is False
    assert any(h["phrase"] == "anything else" and h["party"] == "agent" for h in d["keyword_hits"])
