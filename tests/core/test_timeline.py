"""Timeline algebra: merging, intersection, gaps, difference, support, crop, shift."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antiphon.errors import AntiphonError
from antiphon.timeline import Timeline, TimelineError

# -- construction ------------------------------------------------------------


def test_input_is_sorted_and_overlaps_merged():
    t = Timeline([(5, 6), (0, 2), (1, 3), (10, 12)])
    assert t.intervals == ((0.0, 3.0), (5.0, 6.0), (10.0, 12.0))
    assert len(t) == 3 and t[0] == (0.0, 3.0) and list(t)[-1] == (10.0, 12.0)


def test_touching_intervals_merge_and_empty_intervals_vanish():
    assert Timeline([(0, 1), (1, 2)]).intervals == ((0.0, 2.0),)
    assert Timeline([(3, 3), (4, 5)]).intervals == ((4.0, 5.0),)
    assert not Timeline([(3, 3)])
    assert Timeline().duration() == 0 and Timeline().extent() is None


def test_contained_interval_does_not_shorten_the_outer_one():
    assert Timeline([(0, 10), (2, 3)]).intervals == ((0.0, 10.0),)


@pytest.mark.parametrize(
    "bad",
    [[(2, 1)], [(0, float("nan"))], [(0, float("inf"))], [(float("-inf"), 1)], [(1,)], [("a", 2)], [None]],
)
def test_bad_intervals_are_clear_errors(bad):
    with pytest.raises(TimelineError) as exc:
        Timeline(bad)
    # one error family for users, and still a ValueError for library callers
    assert isinstance(exc.value, AntiphonError) and isinstance(exc.value, ValueError)
    assert exc.value.to_dict()["ok"] is False


def test_end_before_start_message_names_the_interval():
    with pytest.raises(ValueError, match=r"ends before it starts: \[2.0, 1.0\]"):
        Timeline([(0, 1), (2, 1)])


def test_numpy_and_lists_are_accepted():
    np = pytest.importorskip("numpy")
    t = Timeline(np.array([[0.5, 1.5], [2.0, 3.0]], dtype=np.float32))
    assert t.intervals == ((0.5, 1.5), (2.0, 3.0))
    assert all(type(x) is float for iv in t for x in iv)
    assert Timeline([[0, 1]]) == Timeline([(0.0, 1.0)])


def test_copying_a_timeline_keeps_it_equal():
    t = Timeline([(0, 1), (2, 3)])
    assert Timeline(t) == t and hash(Timeline(t)) == hash(t)
    assert pickle.loads(pickle.dumps(t)) == t


def test_equality_hash_repr():
    a, b = Timeline([(0, 1)]), Timeline([(0.0, 1.0)])
    assert a == b and hash(a) == hash(b) and a != Timeline([(0, 2)]) and a != [(0.0, 1.0)]
    assert repr(Timeline([(0, 1.5)])) == "Timeline([0, 1.5])"
    assert repr(Timeline([(i, i + 0.5) for i in range(8)])).endswith(", ...)")


# -- measures ------------------------------------------------------------------


def test_duration_extent_durations():
    t = Timeline([(1, 2.5), (4, 5)])
    assert t.duration() == 2.5 and t.extent() == (1.0, 5.0) and t.durations() == [1.5, 1.0]


def test_to_list_rounds_to_milliseconds_and_is_json():
    t = Timeline([(0.12345, 1.98765)])
    assert t.to_list() == [[0.123, 1.988]]
    assert t.to_list(None) == [[0.12345, 1.98765]]
    assert json.loads(json.dumps(t.to_list())) == [[0.123, 1.988]]


def test_point_lookups_are_half_open():
    t = Timeline([(1, 2), (4, 5)])
    assert t.interval_at(1) == (1.0, 2.0) and t.interval_at(1.999) == (1.0, 2.0)
    assert t.interval_at(2) is None and t.interval_at(0.5) is None and t.interval_at(9) is None
    assert 4 in t and 4.5 in t and 5 not in t and 3 not in t and "4" not in t
    assert t.starts_at(4) and not t.starts_at(4.5) and not t.starts_at(2)
    assert t.ends_at(2) and t.ends_at(5) and not t.ends_at(4) and not t.ends_at(1) and not t.ends_at(9)
    assert Timeline().interval_at(0) is None and not Timeline().starts_at(0) and not Timeline().ends_at(0)


def test_overlapping_returns_whole_intervals():
    t = Timeline([(0, 2), (3, 5), (6, 8)])
    assert t.overlapping(1, 3.5) == [(0.0, 2.0), (3.0, 5.0)]
    assert t.overlapping(2, 3) == []  # touching is not overlapping
    assert t.overlapping(5, 5) == []


# -- algebra -------------------------------------------------------------------


def test_union():
    a, b = Timeline([(0, 2), (5, 6)]), Timeline([(1, 3), (6, 7)])
    assert (a | b).intervals == ((0.0, 3.0), (5.0, 7.0))
    assert a.union(Timeline()) == a


def test_intersection():
    a = Timeline([(0, 4), (6, 10)])
    b = Timeline([(2, 7), (8, 9), (12, 13)])
    assert (a & b).intervals == ((2.0, 4.0), (6.0, 7.0), (8.0, 9.0))
    assert (a & Timeline()) == Timeline()
    assert (Timeline([(0, 1)]) & Timeline([(1, 2)])) == Timeline()  # touching: no shared time


def test_intersection_with_equal_ends():
    a = Timeline([(0, 2), (3, 5)])
    b = Timeline([(1, 2), (2.5, 5), (5.5, 6)])
    assert (a & b).intervals == ((1.0, 2.0), (3.0, 5.0))


def test_gaps_inside_extent_and_window():
    t = Timeline([(1, 2), (4, 5)])
    assert t.gaps().intervals == ((2.0, 4.0),)
    assert t.gaps(0, 6).intervals == ((0.0, 1.0), (2.0, 4.0), (5.0, 6.0))
    assert t.gaps(1.5, 4.5).intervals == ((2.0, 4.0),)
    assert t.gaps(2.5, 3).intervals == ((2.5, 3.0),)
    assert Timeline().gaps(0, 3).intervals == ((0.0, 3.0),)
    assert Timeline().gaps() == Timeline()
    assert t.gaps(3, 3) == Timeline()


def test_difference():
    a = Timeline([(0, 10)])
    b = Timeline([(2, 3), (5, 6), (9, 12)])
    assert (a - b).intervals == ((0.0, 2.0), (3.0, 5.0), (6.0, 9.0))
    assert (a - Timeline()) == a and (Timeline() - a) == Timeline()
    assert (b - a).intervals == ((10.0, 12.0),)


def test_support_bridges_only_shorter_gaps():
    t = Timeline([(0, 1), (1.5, 2), (3, 4)])
    assert t.support(0.5).intervals == ((0.0, 1.0), (1.5, 2.0), (3.0, 4.0))  # 0.5 is not < 0.5
    assert t.support(0.51).intervals == ((0.0, 2.0), (3.0, 4.0))
    assert t.support(1.01).intervals == ((0.0, 4.0),)
    assert t.support(0) == t and Timeline().support(1) == Timeline()


def test_remove_shorter():
    t = Timeline([(0, 0.2), (1, 2), (3, 3.5)])
    assert t.remove_shorter(0.5).intervals == ((1.0, 2.0), (3.0, 3.5))


def test_crop_clips_to_the_window():
    t = Timeline([(0, 2), (3, 5), (6, 8)])
    assert t.crop(1, 7).intervals == ((1.0, 2.0), (3.0, 5.0), (6.0, 7.0))
    assert t.crop(2, 3) == Timeline()
    assert t.crop(4, 4) == Timeline() and t.crop(5, 4) == Timeline()
    assert t.crop(-10, 100) == t
    assert t.crop(3.5, 4).intervals == ((3.5, 4.0),)


def test_shift():
    t = Timeline([(1, 2), (4, 5)])
    assert t.shift(10).intervals == ((11.0, 12.0), (14.0, 15.0))
    assert t.shift(-1).intervals == ((0.0, 1.0), (3.0, 4.0))


# -- properties ----------------------------------------------------------------

# Times on a 1/8 s grid keep float arithmetic exact, so properties hold with ==.
_t = st.integers(min_value=0, max_value=400).map(lambda i: i / 8)
_iv = st.tuples(_t, _t).map(lambda p: (min(p), max(p)))
timelines = st.lists(_iv, max_size=15).map(Timeline)


def _reference(t: Timeline, n: int = 401) -> set[int]:
    """Which 1/16 s cells the timeline covers (a brute-force model)."""
    return {k for k in range(2 * n) if any(s <= k / 16 < e for s, e in t)}


@settings(max_examples=150, deadline=None)
@given(timelines, timelines)
def test_algebra_matches_a_brute_force_model(a, b):
    ra, rb = _reference(a), _reference(b)
    assert _reference(a | b) == ra | rb
    assert _reference(a & b) == ra & rb
    assert _reference(a - b) == ra - rb


@settings(max_examples=150, deadline=None)
@given(timelines, timelines)
def test_measure_identities(a, b):
    assert (a | b).duration() == a.duration() + b.duration() - (a & b).duration()
    assert (a - b).duration() == a.duration() - (a & b).duration()
    assert (a & b) == (b & a) and (a | b) == (b | a)


@settings(max_examples=150, deadline=None)
@given(timelines, _t, _t)
def test_crop_and_gaps_partition_a_window(t, x, y):
    start, end = min(x, y), max(x, y)
    inside, holes = t.crop(start, end), t.gaps(start, end)
    assert inside.duration() + holes.duration() == end - start
    assert (inside & holes) == Timeline()
    assert inside == t & Timeline([(start, end)])
    if end > start:
        assert (inside | holes) == Timeline([(start, end)])


@settings(max_examples=100, deadline=None)
@given(timelines, st.sampled_from([0, 0.125, 0.5, 1, 2.5]))
def test_support_only_adds_gaps_and_keeps_big_ones(t, collar):
    s = t.support(collar)
    assert (t - s) == Timeline()  # covers everything t covers
    assert all(g[1] - g[0] >= collar for g in s.gaps())
    assert len(s) <= len(t) and s.extent() == t.extent()


@settings(max_examples=100, deadline=None)
@given(timelines, st.integers(min_value=0, max_value=80).map(lambda i: i / 4))
def test_shift_preserves_shape(t, d):
    assert t.shift(d).duration() == t.duration()
    assert t.shift(d).shift(-d) == t


@settings(max_examples=100, deadline=None)
@given(timelines, _t)
def test_interval_at_agrees_with_scan(t, x):
    expected = next((iv for iv in t if iv[0] <= x < iv[1]), None)
    assert t.interval_at(x) == expected
    assert (x in t) == (expected is not None)
    assert t.starts_at(x) == any(iv[0] == x for iv in t)
    assert t.ends_at(x) == any(iv[1] == x for iv in t)
