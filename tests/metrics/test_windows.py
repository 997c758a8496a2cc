"""The grounding rules that turn the chain's keyframes and frame scores into one window in seconds."""

from __future__ import annotations

import pytest

from sevila.metrics.windows import chain_window, frame_times, keyframe_window, run_window

TIMES = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]  # 8 candidates, one per second


def test_frame_times_round_to_centiseconds_as_the_nextgqa_authors():
    assert frame_times([14, 42, 904], 29.97002997002997) == [0.47, 1.4, 30.16]
    with pytest.raises(ValueError, match="fps must be positive"):
        frame_times([1], 0.0)


def test_keyframe_rule_spans_the_first_to_the_last_keyframe():
    assert keyframe_window(TIMES, [1, 3, 6]) == (1.5, 6.5)
    assert keyframe_window(TIMES, [6, 1]) == (1.5, 6.5)  # in any order
    assert keyframe_window(TIMES, [4]) == (4.5, 4.5)  # k = 1: a point


def test_run_rule_keeps_the_run_around_the_best_keyframe():
    scores = [0.0, 5.0, 0.0, 3.0, 4.0, 3.5, 0.0, 2.0]
    # keyframes (k=4): 1, 3, 4, 5; the 4th best is 3.0; best is 1 but alone, so its run is frame 1 only
    assert run_window(TIMES, scores, [1, 3, 4, 5]) == (1.0, 2.0)
    scores[1] = 1.0  # now the best is frame 4 (4.0); its neighbours 3 (3.0) and 5 (3.5) reach the level 1.0 ...
    # ... and so does 7 (2.0) but not across frame 6 (0.0): the run is 3..5, covering half-way to 2 and to 6
    assert run_window(TIMES, scores, [3, 4, 5, 7]) == (3.0, 6.0)


def test_run_rule_at_the_ends_reaches_out_half_a_step_and_never_below_zero():
    times = [0.2, 1.2, 2.2]
    assert run_window(times, [9.0, 1.0, 0.0], [0]) == (0.0, 0.7)  # 0.2 - 0.5 clamps to 0
    assert run_window(times, [0.0, 1.0, 9.0], [2]) == pytest.approx((1.7, 2.7))
    assert run_window([3.0], [1.0], [0]) == (3.0, 3.0)  # one candidate: a point


def test_run_rule_breaks_ties_towards_the_earliest_best_frame():
    assert run_window(TIMES, [1, 9, 0, 0, 0, 0, 9, 1], [1, 6]) == (1.0, 2.0)


def test_chain_window_picks_the_rule_and_falls_back_without_scores():
    scores = [0.0, 5.0, 0.0, 3.0, 4.0, 3.5, 0.0, 2.0]
    assert chain_window("keyframes", TIMES, [1, 3, 4, 5], scores) == [1.5, 5.5]
    assert chain_window("run", TIMES, [1, 3, 4, 5], scores) == [1.0, 2.0]
    assert chain_window("run", TIMES, [1, 5], None) == [1.5, 5.5]  # uniform keyframes have no scores
    with pytest.raises(ValueError, match="grounding rule 'widest'"):
        chain_window("widest", TIMES, [1], scores)
