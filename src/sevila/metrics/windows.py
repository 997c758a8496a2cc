"""Rules that turn the forward chain's keyframes and frame scores into one time window (NExT-GQA grounding).

- `keyframes` (the NExT-GQA authors' rule for SeViLA, their tools/fid2seconds.py + split_qa_loc.py): from the time
  of the earliest keyframe to the time of the latest, a frame's time being `round(frame / fps, 2)`. With k = 1 it
  is a point.
- `run` (ours): the contiguous run of candidate frames around the best-scoring one whose Localizer scores reach
  the lowest keyframe's score (the k-th best), each frame standing for its share of the clip: from half-way to
  its previous candidate to half-way to its next (the first and last reach out as far). Keyframes far from the
  best one, which widen the `keyframes` window without evidence between them, are left out. Without scores
  (uniform keyframes) it falls back to `keyframes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

GroundingRule = Literal["keyframes", "run"]
GROUNDING_RULES: tuple[GroundingRule, ...] = ("keyframes", "run")


def frame_times(frame_indices: Sequence[int], fps: float) -> list[float]:
    """Seconds of video frames, `round(index / fps, 2)` as the NExT-GQA authors convert SeViLA's keyframes."""
    if not fps > 0:
        raise ValueError(f"fps must be positive to turn frames into seconds, got {fps}")
    return [round(index / fps, 2) for index in frame_indices]


def keyframe_window(times: Sequence[float], keyframes: Sequence[int]) -> tuple[float, float]:
    """[time of the first keyframe, time of the last]; keyframes are positions among the candidates, in order."""
    ordered = sorted(keyframes)
    return times[ordered[0]], times[ordered[-1]]


def run_window(times: Sequence[float], scores: Sequence[float], keyframes: Sequence[int]) -> tuple[float, float]:
    """The frames around the best one that score at least the k-th best, each covering half-way to its neighbours."""
    level = min(scores[k] for k in keyframes)
    best = max(keyframes, key=lambda k: (scores[k], -k))  # the earliest of equal best scores
    first = last = best
    while first > 0 and scores[first - 1] >= level:
        first -= 1
    while last < len(times) - 1 and scores[last + 1] >= level:
        last += 1
    return _left_edge(times, first), _right_edge(times, last)


def _left_edge(times: Sequence[float], i: int) -> float:
    if i > 0:
        return (times[i - 1] + times[i]) / 2
    half = (times[1] - times[0]) / 2 if len(times) > 1 else 0.0
    return max(0.0, times[0] - half)


def _right_edge(times: Sequence[float], i: int) -> float:
    if i < len(times) - 1:
        return (times[i] + times[i + 1]) / 2
    half = (times[-1] - times[-2]) / 2 if len(times) > 1 else 0.0
    return times[-1] + half


def chain_window(
    rule: GroundingRule, times: Sequence[float], keyframes: Sequence[int], scores: Sequence[float] | None
) -> list[float]:
    """The window `[start, end]` in seconds that `rule` makes of one question's chain output."""
    if rule not in GROUNDING_RULES:
        raise ValueError(f"grounding rule {rule!r}; expected one of {GROUNDING_RULES}")
    if rule == "run" and scores is not None:
        return [round(t, 2) for t in run_window(times, scores, keyframes)]
    return list(keyframe_window(times, keyframes))
