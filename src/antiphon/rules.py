"""Stage: keyword spotting and call categories from a rules file.

A rules file (TOML or YAML) defines *categories*; a category matches a call
when every one of its rules matches. Rule types:

``phrase``
    A phrase said (or, with ``said = false``, never said) by the customer, the
    agent or either party, matched exactly or tolerantly, optionally only
    inside a window such as ``"first 60s"`` or ``"last 20%"``.
``silence``
    A silence (nobody talking) of at least ``min_seconds``, optionally in a window.
``interruptions``
    A party interrupting the other at least ``min_count`` times or for at
    least ``min_seconds`` of overlapped talk in total.
``talk_share``
    A party's share of all talk ``above`` or ``below`` a bound (``0.7`` or ``"70%"``).

:func:`load_rules` validates the whole file and reports every problem with its
line and field; :func:`evaluate` runs a rule set on an analysis document
(``Analysis.to_dict()``, with ``transcript`` for phrase rules) and returns the
categories with the moments that made them match, and every keyword hit.

>>> rules = load_rules(example_rules_path())
>>> result = evaluate(rules, analysis.to_dict())        # doctest: +SKIP
>>> [c["name"] for c in result["categories"] if c["matched"]]   # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import AntiphonError, Problem
from .timeline import Timeline

__all__ = [
    "RuleSet",
    "Category",
    "Rule",
    "Window",
    "RulesError",
    "load_rules",
    "parse_rules",
    "evaluate",
    "example_rules_path",
    "RULE_TYPES",
]

RULE_TYPES = ("phrase", "silence", "interruptions", "talk_share")
PARTIES = ("customer", "agent", "either")


class RulesError(AntiphonError):
    """A rules file that cannot be used; ``problems`` name each line and field."""

    status = 422


# -- model ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """Part of the call a rule looks at.

    ``kind`` is ``all``, ``first``, ``last`` or ``between``; ``first``/``last``
    take ``value`` seconds or, with ``relative``, a fraction of the call;
    ``between`` takes ``value`` and ``end`` (seconds, or fractions).
    """

    kind: str = "all"
    value: float = 0.0
    end: float = 0.0
    relative: bool = False

    def bounds(self, duration: float) -> tuple[float, float]:
        scale = duration if self.relative else 1.0
        if self.kind == "first":
            return 0.0, min(duration, self.value * scale)
        if self.kind == "last":
            return max(0.0, duration - self.value * scale), duration
        if self.kind == "between":
            return min(duration, self.value * scale), min(duration, self.end * scale)
        return 0.0, duration

    def describe(self) -> str:
        def fmt(v):
            return f"{v * 100:g}%" if self.relative else f"{v:g}s"

        if self.kind == "all":
            return "the whole call"
        if self.kind == "between":
            return f"{fmt(self.value)}-{fmt(self.end)}"
        return f"the {self.kind} {fmt(self.value)}"


@dataclass(frozen=True)
class Rule:
    """One condition of a category. Fields not used by a rule's type keep their defaults."""

    type: str
    name: str = ""
    party: str = "either"
    phrases: tuple[str, ...] = ()
    said: bool = True
    match: str = "tolerant"  # exact | tolerant
    window: Window = Window()
    min_seconds: float | None = None
    min_count: int | None = None
    above: float | None = None
    below: float | None = None
    edges: bool = False  # silence: count the silence before the first / after the last word
    line: int | None = field(default=None, compare=False)  # where the rule is in its file

    def describe(self) -> str:
        if self.name:
            return self.name
        w = "" if self.window.kind == "all" else f" in {self.window.describe()}"
        who = "anyone" if self.party == "either" else f"the {self.party}"
        if self.type == "phrase":
            listed = " / ".join(repr(p) for p in self.phrases[:3]) + (" ..." if len(self.phrases) > 3 else "")
            return f"{who} {'said' if self.said else 'never said'} {listed}{w}"
        if self.type == "silence":
            return f"silence of at least {self.min_seconds:g}s{w}"
        if self.type == "interruptions":
            parts = []
            if self.min_count is not None:
                parts.append(f"{self.min_count} times")
            if self.min_seconds is not None:
                parts.append(f"{self.min_seconds:g}s in total")
            return f"{who} interrupted at least {' or '.join(parts)}{w}"
        bound = []
        if self.above is not None:
            bound.append(f"above {self.above:.0%}")
        if self.below is not None:
            bound.append(f"below {self.below:.0%}")
        return f"{who} talk share {' and '.join(bound)}{w}"


@dataclass(frozen=True)
class Category:
    name: str
    rules: tuple[Rule, ...]
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file: categories, plus keywords to spot anywhere."""

    categories: tuple[Category, ...] = ()
    keywords: tuple[str, ...] = ()
    source: str = ""

    def __len__(self) -> int:
        return len(self.categories)


def example_rules_path() -> Path:
    """The example rules file shipped with Antiphon."""
    return Path(__file__).resolve().parent / "examples" / "rules.toml"


# -- loading -----------------------------------------------------------------------------

def load_rules(path: str | os.PathLike) -> RuleSet:
    """Read and validate a TOML (``.toml``) or YAML (``.yaml``/``.yml``) rules file.

    Raises :class:`RulesError` listing every problem with its line and field.
    """
    p = Path(path)
    if not p.exists():
        raise RulesError(f"{p}: no such rules file")
    if p.is_dir():
        raise RulesError(f"{p}: is a directory, not a rules file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RulesError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    suffix = p.suffix.lower()
    if suffix in (".yaml", ".yml"):
        fmt = "yaml"
    elif suffix == ".toml":
        fmt = "toml"
    else:
        fmt = "yaml" if re.match(r"\s*(categories|category|keywords)\s*:", text) else "toml"
    return parse_rules(text, fmt=fmt, source=str(p))


def parse_rules(text: str, *, fmt: str = "toml", source: str = "<rules>") -> RuleSet:
    """Validate rules given as TOML or YAML text (see :func:`load_rules`)."""
    if fmt == "toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"{source}: not valid TOML: {exc}") from None
        locate = _TomlLocator(text)
    elif fmt == "yaml":
        data, locate = _load_yaml(text, source)
    else:
        raise RulesError(f"unknown rules format {fmt!r}; use toml or yaml")
    return _Validator(source, locate).ruleset(data)


def _load_yaml(text: str, source: str):
    try:
        import yaml
    except ImportError:
        raise RulesError(f"{source}: YAML rules files need PyYAML (pip install pyyaml); "
                         "or write the rules as TOML") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RulesError(f"{source}: not valid YAML{where}: {problem}") from None
    return data, _YamlLocator(node)


class _TomlLocator:
    """Find the line of a field path in TOML text (tomllib keeps no positions)."""

    _HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z0-9_.\s]+?)\s*\]\]\s*(#.*)?$")
    _TABLE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\s]+?)\s*\]\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.blocks: list[tuple[str, int, int]] = []  # (table name, line, ordinal among same name)
        counts: dict[str, int] = {}
        for i, line in enumerate(self.lines, 1):
            m = self._HEADER.match(line) or self._TABLE.match(line)
            if m:
                name = re.sub(r"\s+", "", m.group(1))
                counts[name] = counts.get(name, 0) + 1
                self.blocks.append((name, i, counts[name] - 1))

    def __call__(self, path: tuple) -> int | None:
        # path like ("category", 2, "rule", 0, "type")
        # find the deepest [[a.b]] header matching the path's tables
        line_from, line_to = 1, len(self.lines) + 1
        table = ""
        depth = 0
        for k, key in enumerate(path):
            if not isinstance(key, str):
                continue
            candidate = f"{table}.{key}" if table else key
            nxt = path[k + 1] if k + 1 < len(path) else None
            occurrences = [b for b in self.blocks if b[0] == candidate and line_from <= b[1] < line_to]
            if not occurrences:
                break
            if isinstance(nxt, int):
                if nxt >= len(occurrences):
                    break
                start = occurrences[nxt][1]
            else:
                start = occurrences[0][1]
            later = [b[1] for b in self.blocks if b[1] > start and not b[0].startswith(candidate + ".")]
            line_from, line_to = start, (min(later) if later else len(self.lines) + 1)
            table = candidate
            depth = k + (2 if isinstance(nxt, int) else 1)
        rest = [p for p in path[depth:] if isinstance(p, str)]
        if rest:
            for i in range(line_from, min(line_to, len(self.lines) + 1)):
                m = self._KEY.match(self.lines[i - 1])
                if m and m.group(1) == rest[0]:
                    return i
        return line_from if depth else None


class _YamlLocator:
    def __init__(self, node):
        self.node = node

    def __call__(self, path: tuple) -> int | None:
        import yaml

        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for key in path:
            if node is None:
                break
            if isinstance(node, yaml.MappingNode) and isinstance(key, str):
                found = None
                for k, v in node.value:
                    if k.value == key:
                        found = (k, v)
                        break
                if found is None:
                    break
                line = found[0].start_mark.line + 1
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line


_RULE_FIELDS = {
    "phrase": {"type", "name", "party", "phrases", "phrase", "said", "match", "window"},
    "silence": {"type", "name", "min_seconds", "window", "edges"},
    "interruptions": {"type", "name", "party", "min_count", "min_seconds", "window"},
    "talk_share": {"type", "name", "party", "above", "below", "window"},
}
_WINDOW_TEXT = re.compile(
    r"^\s*(?:(?P<kind>first|last)\s+(?P<v>\d+(?:\.\d+)?)\s*(?P<u>s|sec|secs|seconds|%|min|m)?"
    r"|(?P<a>\d+(?:\.\d+)?)\s*(?P<ua>s|%|min|m)?\s*(?:-|to)\s*(?P<b>\d+(?:\.\d+)?)\s*(?P<ub>s|%|min|m)?"
    r"|(?P<all>all|whole call|whole))\s*$",
    re.I,
)


class _Validator:
    def __init__(self, source: str, locate):
        self.source = source
        self.locate = locate
        self.problems: list[Problem] = []

    # -- helpers
    def problem(self, path: tuple, message: str) -> None:
        line = self.locate(path)
        where = f"line {line}: " if line else ""
        self.problems.append(Problem(_dotted(path), where + message))

    def unknown_keys(self, obj: Mapping, allowed: Iterable[str], path: tuple, what: str) -> None:
        allowed = sorted(allowed)
        for key in obj:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; {what} fields are: {', '.join(allowed)}"
                self.problem(path + (str(key),), f"unknown field {key!r}{hint}")

    def number(self, obj, key, path, *, minimum=0.0, integer=False, percent=False):
        if key not in obj:
            return None
        v = obj[key]
        if percent and isinstance(v, str) and v.strip().endswith("%"):
            try:
                v = float(v.strip()[:-1]) / 100.0
            except ValueError:
                self.problem(path + (key,), f"{v!r} is not a percentage like \"70%\"")
                return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            kind = "a whole number" if integer else "a number"
            self.problem(path + (key,), f"must be {kind}, got {v!r}")
            return None
        if integer and not float(v).is_integer():
            self.problem(path + (key,), f"must be a whole number, got {v!r}")
            return None
        if v < minimum:
            self.problem(path + (key,), f"must be at least {minimum:g}, got {v!r}")
            return None
        return int(v) if integer else float(v)

    # -- document
    def ruleset(self, data) -> RuleSet:
        if not isinstance(data, Mapping):
            raise RulesError(f"{self.source}: the rules file must be a table/mapping with 'category' entries")
        cats_key = "category" if "category" in data else "categories"
        self.unknown_keys(data, {"category", "categories", "keywords", "version"}, (), "top-level")
        version = data.get("version", 1)
        if version != 1:
            self.problem(("version",), f"unsupported rules version {version!r}; this Antiphon reads version 1")
        raw_cats = data.get(cats_key, [])
        categories: list[Category] = []
        if isinstance(raw_cats, Mapping):  # YAML: categories as a mapping name -> body
            raw_cats = [dict(body or {}, name=name) if isinstance(body, Mapping) else body
                        for name, body in raw_cats.items()]
        if not isinstance(raw_cats, list):
            self.problem((cats_key,), "must be a list of categories ([[category]] tables in TOML)")
            raw_cats = []
        keywords = self.keywords(data)
        if not raw_cats and not keywords:
            self.problem((), "no categories or keywords defined; add [[category]] tables (see docs/rules.md)")
        names: dict[str, int] = {}
        for i, c in enumerate(raw_cats):
            cat = self.category(c, (cats_key, i))
            if cat is None:
                continue
            if cat.name in names:
                self.problem((cats_key, i, "name"), f"category {cat.name!r} is defined twice "
                             f"(also {cats_key}[{names[cat.name]}])")
            names[cat.name] = i
            categories.append(cat)
        if self.problems:
            n = len(self.problems)
            raise RulesError(f"{self.source}: {n} problem{'s' if n > 1 else ''} in the rules file", self.problems)
        return RuleSet(tuple(categories), tuple(keywords), self.source)

    def keywords(self, data) -> list[str]:
        kw = data.get("keywords", [])
        if isinstance(kw, str):
            kw = [kw]
        if not isinstance(kw, list) or not all(isinstance(k, str) and k.strip() for k in kw):
            self.problem(("keywords",), "must be a list of non-empty phrases")
            return []
        return [k.strip() for k in kw]

    def category(self, c, path) -> Category | None:
        if not isinstance(c, Mapping):
            self.problem(path, "a category must be a table with 'name' and 'rule' entries")
            return None
        self.unknown_keys(c, {"name", "description", "rule", "rules"}, path, "category")
        name = c.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(path + ("name",), "every category needs a non-empty 'name'")
            name = f"category {path[-1]}"
        desc = c.get("description", "")
        if not isinstance(desc, str):
            self.problem(path + ("description",), "must be text")
            desc = ""
        rkey = "rule" if "rule" in c else "rules"
        raw = c.get(rkey)
        if raw is None:
            self.problem(path + (rkey,), f"category {name!r} has no rules; add [[category.rule]] tables")
            return None
        if isinstance(raw, Mapping):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            self.problem(path + (rkey,), "must be a non-empty list of rules")
            return None
        rules = [r for j, rr in enumerate(raw) if (r := self.rule(rr, path + (rkey, j))) is not None]
        return Category(name.strip(), tuple(rules), desc)

    def rule(self, r, path) -> Rule | None:
        if not isinstance(r, Mapping):
            self.problem(path, "a rule must be a table with a 'type'")
            return None
        rtype = r.get("type")
        if rtype not in RULE_TYPES:
            close = difflib.get_close_matches(str(rtype), RULE_TYPES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = "missing 'type'" if rtype is None else f"unknown rule type {rtype!r}{hint}"
            self.problem(path + ("type",), f"{msg}; expected one of: {', '.join(RULE_TYPES)}")
            return None
        before = len(self.problems)
        self.unknown_keys(r, _RULE_FIELDS[rtype], path, f"{rtype} rule")
        kw: dict[str, Any] = {"type": rtype, "line": self.locate(path)}
        name = r.get("name", "")
        if not isinstance(name, str):
            self.problem(path + ("name",), "must be text")
        else:
            kw["name"] = name
        party = r.get("party", "either")
        if party in ("any", "both", "anyone"):
            party = "either"
        if party not in PARTIES:
            self.problem(path + ("party",), f"must be one of customer, agent, either; got {party!r}")
        kw["party"] = party
        if "window" in r:
            w = self.window(r["window"], path + ("window",))
            if w is not None:
                kw["window"] = w

        if rtype == "phrase":
            phrases = r.get("phrases", r.get("phrase"))
            if isinstance(phrases, str):
                phrases = [phrases]
            if not isinstance(phrases, list) or not phrases:
                self.problem(path + ("phrases",), "a phrase rule needs 'phrases', a list of words or phrases")
            elif not all(isinstance(p, str) and _tokens(p, tolerant=False) for p in phrases):
                bad = next(p for p in phrases if not (isinstance(p, str) and _tokens(p, tolerant=False)))
                self.problem(path + ("phrases",), f"every phrase must be non-empty text with a word in it; got {bad!r}")
            else:
                kw["phrases"] = tuple(p.strip() for p in phrases)
            said = r.get("said", True)
            if not isinstance(said, bool):
                self.problem(path + ("said",), f"must be true or false, got {said!r}")
            kw["said"] = bool(said)
            match = r.get("match", "tolerant")
            if match not in ("exact", "tolerant"):
                self.problem(path + ("match",), f"must be 'exact' or 'tolerant', got {match!r}")
            kw["match"] = match
        elif rtype == "silence":
            kw["min_seconds"] = self.number(r, "min_seconds", path, minimum=0.1)
            if "min_seconds" not in r:
                self.problem(path + ("min_seconds",), "a silence rule needs 'min_seconds'")
            edges = r.get("edges", False)
            if not isinstance(edges, bool):
                self.problem(path + ("edges",), f"must be true or false, got {edges!r}")
            kw["edges"] = bool(edges)
        elif rtype == "interruptions":
            kw["min_count"] = self.number(r, "min_count", path, minimum=1, integer=True)
            kw["min_seconds"] = self.number(r, "min_seconds", path, minimum=0.0)
            if "min_count" not in r and "min_seconds" not in r:
                self.problem(path, "an interruptions rule needs 'min_count' or 'min_seconds' (or both: either suffices)")
        elif rtype == "talk_share":
            if party == "either":
                self.problem(path + ("party",), "a talk_share rule needs party = \"customer\" or \"agent\"")
            kw["above"] = self.number(r, "above", path, percent=True)
            kw["below"] = self.number(r, "below", path, percent=True)
            for key in ("above", "below"):
                v = kw[key]
                if v is not None and v > 1:
                    self.problem(path + (key,), f"a share is between 0 and 1 (or \"0%\"-\"100%\"), got {r[key]!r}")
            if "above" not in r and "below" not in r:
                self.problem(path, "a talk_share rule needs 'above' or 'below'")
        if len(self.problems) > before:
            return None
        return Rule(**kw)

    def window(self, w, path) -> Window | None:
        if isinstance(w, str):
            m = _WINDOW_TEXT.match(w)
            if not m:
                self.problem(path, f"{w!r} is not a window; write \"first 60s\", \"last 20%\", \"30s-90s\" or \"all\"")
                return None
            if m.group("all"):
                return Window()
            if m.group("kind"):
                v, rel = _amount(m.group("v"), m.group("u"))
                return self._check_window(Window(m.group("kind").lower(), v, 0.0, rel), path, w)
            a, ra = _amount(m.group("a"), m.group("ua") or m.group("ub"))
            b, rb = _amount(m.group("b"), m.group("ub") or m.group("ua"))
            if ra != rb:
                self.problem(path, f"{w!r} mixes seconds and percentages")
                return None
            return self._check_window(Window("between", a, b, ra), path, w)
        if isinstance(w, Mapping):
            self.unknown_keys(w, {"first", "last", "start", "end"}, path, "window")
            keys = [k for k in ("first", "last") if k in w]
            if keys and ("start" in w or "end" in w) or len(keys) > 1:
                self.problem(path, "give one of first, last, or start/end")
                return None
            if keys:
                v, rel = self._amount_value(w[keys[0]], path + (keys[0],))
                if v is None:
                    return None
                return self._check_window(Window(keys[0], v, 0.0, rel), path, w)
            a, ra = self._amount_value(w.get("start", 0), path + ("start",))
            b, rb = self._amount_value(w.get("end", "100%"), path + ("end",))
            if a is None or b is None:
                return None
            if ra != rb and "start" in w and "end" in w:
                self.problem(path, "start and end mix seconds and percentages")
                return None
            if ra != rb:  # one bound defaulted
                if not ra and a == 0:
                    a, ra = 0.0, rb
                elif "end" not in w:
                    return self._check_window(Window("between", a, float("inf"), False), path, w)
            return self._check_window(Window("between", a, b, ra), path, w)
        self.problem(path, f"{w!r} is not a window; write \"first 60s\", \"last 20%\", \"30s-90s\" or {{first = 60}}")
        return None

    def _amount_value(self, v, path):
        if isinstance(v, str):
            m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds|%|min|m)?\s*$", v, re.I)
            if not m:
                self.problem(path, f"{v!r} is not a time (seconds like 60 or \"60s\") or a share like \"20%\"")
                return None, False
            return _amount(m.group(1), m.group(2))
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            self.problem(path, f"must be seconds (a number) or a share like \"20%\", got {v!r}")
            return None, False
        return float(v), False

    def _check_window(self, w: Window, path, raw) -> Window | None:
        if w.relative and (w.value > 1 or w.end > 1):
            self.problem(path, f"{raw!r}: a share of the call cannot exceed 100%")
            return None
        if w.kind == "between" and w.end <= w.value:
            self.problem(path, f"{raw!r}: the window ends before it starts")
            return None
        if w.kind in ("first", "last") and w.value <= 0:
            self.problem(path, f"{raw!r}: the window is empty")
            return None
        return w


def _amount(number: str, unit: str | None) -> tuple[float, bool]:
    v = float(number)
    unit = (unit or "s").lower()
    if unit == "%":
        return v / 100.0, True
    if unit in ("min", "m"):
        return v * 60.0, False
    return v, False


def _dotted(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# -- matching ------------------------------------------------------------------------------

_CONTRACTIONS = {
    "i'm": ("i", "am"), "you're": ("you", "are"), "we're": ("we", "are"), "they're": ("they", "are"),
    "it's": ("it", "is"), "that's": ("that", "is"), "what's": ("what", "is"), "there's": ("there", "is"),
    "can't": ("can", "not"), "cannot": ("can", "not"), "won't": ("will", "not"), "don't": ("do", "not"),
    "doesn't": ("does", "not"), "didn't": ("did", "not"), "isn't": ("is", "not"), "aren't": ("are", "not"),
    "wasn't": ("was", "not"), "haven't": ("have", "not"), "hasn't": ("has", "not"), "couldn't": ("could", "not"),
    "wouldn't": ("would", "not"), "shouldn't": ("should", "not"), "i'll": ("i", "will"), "you'll": ("you", "will"),
    "we'll": ("we", "will"), "i've": ("i", "have"), "you've": ("you", "have"), "we've": ("we", "have"),
    "i'd": ("i", "would"), "you'd": ("you", "would"), "let's": ("let", "us"), "gonna": ("going", "to"),
    "wanna": ("want", "to"),
}
_FILLERS = {"uh", "um", "uhm", "umm", "er", "erm", "ah", "hmm", "mm", "mhm"}
_SPELL = {"ok": "okay", "e-mail": "email", "alright": "all right"}


def _clean(word: str) -> str:
    w = word.lower().replace("’", "'").replace("‘", "'")
    w = re.sub(r"[^\w'@.+-]", "", w)
    w = w.strip("'.-+")
    return w


def _stem(w: str) -> str:
    if w.endswith("'s"):
        w = w[:-2]
    for suf in ("ing", "ies", "ied", "es", "ed", "s", "e", "ly"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)] + ("y" if suf in ("ies", "ied") else "")
            break
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiou":
        w = w[:-1]
    return w


def _expand(word: str, tolerant: bool) -> list[str]:
    """One transcript word as comparison tokens (a contraction may give two)."""
    w = _clean(word)
    if not w:
        return []
    w = _SPELL.get(w, w) if tolerant else w
    parts = [w]
    if tolerant:
        if w in _CONTRACTIONS:
            parts = list(_CONTRACTIONS[w])
        elif w in _FILLERS:
            return []
        parts = [x for p in parts for x in re.split(r"[-\s]+", p) if x]
        parts = [_stem(p) for p in parts]
    else:
        parts = [x for x in re.split(r"-", w) if x]
    return parts


def _tokens(text: str, tolerant: bool) -> list[str]:
    return [t for word in text.split() for t in _expand(word, tolerant)]


@dataclass
class _Hit:
    phrase: str
    party: str
    start: float
    end: float
    text: str


def _find_phrase(phrase: str, turns: list[dict], party: str, tolerant: bool) -> list[_Hit]:
    target = _tokens(phrase, tolerant)
    if not target:
        return []
    hits = []
    n = len(target)
    for turn in turns:
        if party != "either" and turn.get("party") != party:
            continue
        words = turn.get("words") or []
        # (token, word index) stream for the turn
        stream: list[tuple[str, int]] = []
        if words:
            for wi, w in enumerate(words):
                for tok in _expand(str(w.get("word", "")), tolerant):
                    stream.append((tok, wi))
        else:
            for tok in _tokens(str(turn.get("text", "")), tolerant):
                stream.append((tok, -1))
        toks = [t for t, _ in stream]
        i = 0
        while i <= len(toks) - n:
            if toks[i : i + n] == target:
                a, b = stream[i][1], stream[i + n - 1][1]
                if a >= 0:
                    start, end = float(words[a]["start"]), float(words[b]["end"])
                    text = "".join(str(words[k]["word"]) for k in range(a, b + 1)).strip()
                else:
                    start, end, text = float(turn["start"]), float(turn["end"]), str(turn.get("text", ""))
                hits.append(_Hit(phrase, str(turn.get("party")), start, end, text))
                i += n
            else:
                i += 1
    return hits


# -- evaluation -----------------------------------------------------------------------------

def _speech(analysis: Mapping) -> dict[str, Timeline]:
    sp = analysis.get("speech") or {}
    return {p: Timeline(sp.get(p) or []) for p in ("customer", "agent")}


def _duration(analysis: Mapping, speech: Mapping[str, Timeline]) -> float:
    rec = analysis.get("recording") or {}
    d = rec.get("duration")
    if isinstance(d, (int, float)) and d > 0:
        return float(d)
    ends = [tl.extent()[1] for tl in speech.values() if tl]
    turns = (analysis.get("transcript") or {}).get("turns") or []
    ends += [float(t["end"]) for t in turns]
    return max(ends) if ends else 0.0


def _interruption_events(analysis: Mapping, speech: Mapping[str, Timeline], duration: float) -> list[dict]:
    metrics = analysis.get("metrics") or {}
    events = metrics.get("interruptions")
    if isinstance(events, list) and all(isinstance(e, Mapping) and "interrupter" in e for e in events):
        return list(events)
    from .metrics import compute_metrics

    return compute_metrics(speech["customer"], speech["agent"], (0.0, max(duration, 1e-3)))["interruptions"]


def evaluate(rules: RuleSet, analysis: Mapping) -> dict:
    """Run a rule set on an analysis document (``Analysis.to_dict()``).

    Returns ``{"categories": [{"name", "matched", "evidence": [{"rule", "start",
    "end", "party", "text"}]}], "keyword_hits": [{"phrase", "party", "start",
    "end", "text", "category"}]}``. Times are seconds on the recording's
    timeline. Phrase rules need ``analysis["transcript"]``; without it their
    categories do not match and ``rules_warnings`` says why.
    """
    if not isinstance(rules, RuleSet):
        raise RulesError("evaluate() needs a RuleSet from load_rules()")
    speech = _speech(analysis)
    duration = _duration(analysis, speech)
    transcript = analysis.get("transcript")
    turns = list((transcript or {}).get("turns") or [])
    warnings: list[str] = []
    keyword_hits: list[dict] = []
    seen_hits: set[tuple] = set()

    def add_hits(hits: list[_Hit], category: str | None, window=None):
        for h in hits:
            key = (h.phrase, h.party, round(h.start, 3), category)
            if key in seen_hits:
                continue
            seen_hits.add(key)
            d = {"phrase": h.phrase, "party": h.party, "start": round(h.start, 3), "end": round(h.end, 3),
                 "text": h.text, "category": category}
            keyword_hits.append(d)

    categories_out = []
    for cat in rules.categories:
        matched = True
        evidence: list[dict] = []
        for rule in cat.rules:
            ok, ev = _evaluate_rule(rule, speech, duration, turns, transcript is not None, analysis, warnings,
                                    add_hits, cat.name)
            evidence.extend(ev)
            matched = matched and ok
        categories_out.append({"name": cat.name, "matched": bool(matched),
                               "evidence": sorted(evidence, key=lambda e: (e["start"], e["end"])) if matched else []})

    if rules.keywords:
        if transcript is None:
            warnings.append("keywords need a transcript (analyse with --transcribe)")
        for phrase in rules.keywords:
            add_hits(_find_phrase(phrase, turns, "either", True), None)
    keyword_hits.sort(key=lambda h: (h["start"], h["phrase"]))
    out = {"categories": categories_out, "keyword_hits": keyword_hits}
    if warnings:
        out["rules_warnings"] = sorted(set(warnings))
    return out


def _evaluate_rule(rule: Rule, speech, duration, turns, have_transcript, analysis, warnings, add_hits, category):
    w0, w1 = rule.window.bounds(duration)
    label = rule.describe()

    def ev(start, end, party, text):
        return {"rule": label, "start": round(float(start), 3), "end": round(float(end), 3), "party": party, "text": text}

    if rule.type == "phrase":
        if not have_transcript:
            warnings.append(f"category {category!r}: phrase rules need a transcript (analyse with --transcribe)")
            return False, []
        hits = [h for p in rule.phrases for h in _find_phrase(p, turns, rule.party, rule.match == "tolerant")]
        add_hits(hits, category)
        inside = [h for h in hits if w0 <= h.start < w1 or (h.start < w0 < h.end)]
        if rule.said:
            return bool(inside), [ev(h.start, h.end, h.party, h.text) for h in inside]
        if inside:
            return False, []
        return True, [ev(w0, w1, rule.party, f"not said in {rule.window.describe()}")]

    if rule.type == "silence":
        talk = speech["customer"] | speech["agent"]
        if rule.edges or not talk:
            gaps = talk.gaps(0.0, duration)
        else:
            first, last = talk.extent()
            gaps = talk.gaps(first, last)
        found = []
        for s, e in gaps.crop(w0, w1):
            if e - s >= rule.min_seconds - 1e-9:
                found.append(ev(s, e, None, f"{e - s:.1f}s of silence"))
        return bool(found), found

    if rule.type == "interruptions":
        events = _interruption_events(analysis, speech, duration)
        mine = [e for e in events if (rule.party == "either" or e.get("interrupter") == rule.party)
                and w0 <= float(e["start"]) < w1]
        total = sum(float(e.get("overlap", float(e["end"]) - float(e["start"]))) for e in mine)
        ok = (rule.min_count is not None and len(mine) >= rule.min_count) or \
             (rule.min_seconds is not None and total >= rule.min_seconds - 1e-9 and mine)
        if not ok:
            return False, []
        return True, [ev(e["start"], e["end"], e.get("interrupter"),
                         f"{e.get('interrupter')} talked over the {e.get('interrupted')} "
                         f"for {float(e.get('overlap', 0.0)):.1f}s") for e in mine]

    # talk_share
    mine = speech[rule.party].crop(w0, w1).duration()
    other = speech["agent" if rule.party == "customer" else "customer"].crop(w0, w1).duration()
    total = mine + other
    if total <= 0:
        return False, []
    share = mine / total
    ok = (rule.above is None or share > rule.above) and (rule.below is None or share < rule.below)
    if not ok:
        return False, []
    return True, [ev(w0, w1, rule.party, f"{rule.party} talk share {share:.0%}")]
