"""QVHighlights moment retrieval (Moment-DETR protocol, sevila-method.md §9) and frame scores -> moments.

The protocol, restated from the definitions of Moment-DETR's `standalone_eval` ("full" length range):
- temporal IoU = overlap / union; a zero union (two zero-length windows) counts as IoU 0, so a
  zero-length window never matches anything;
- a query's predictions are ranked by descending score, ties keeping their listed order (a stable
  sort, like the official one), and only the best `max_pred_windows` (10) count;
- R1@t: the top-ranked window hits when its best IoU over all ground-truth windows is >= t;
- AP@t per query: walk the ranked windows; each takes the unmatched ground-truth window of highest
  IoU if that IoU is >= t (a true positive), else it is a false positive; AP is the area under the
  precision/recall curve with all-point (VOC / ActivityNet) interpolation: each true positive adds
  1/#GT of recall at the best precision reached at that rank or any deeper rank;
- mAP@t = mean AP@t over queries; `MR-full-mAP` = mean of mAP@t over t in 0.5:0.05:0.95;
- a query without predictions scores AP 0 and an R1 miss (the official script skips such a query
  in mAP and fails on it in R1); all numbers in percent, rounded to 2 decimals at the end.

Frame scores -> moments (the paper's "span threshold", §9): frames scoring above `threshold` are
`yes`; a moment is a run of yes frames that may bridge at most `max_gap` (6) consecutive `no` frames.
Scored frame i at time t_i covers [t_i, t_i + 1/fps), so a moment spans from its first yes frame's
start to its last yes frame's end. Ranking rule (ours): a moment's score is the mean score of all
frames it covers, bridged `no` frames included, so gaps lower confidence; ties go to the earlier start.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

Window = tuple[float, float]
ScoredWindow = tuple[float, float, float]

IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))  # 0.5:0.05:0.95
MAX_PRED_WINDOWS = 10  # the official evaluation's `max_pred_windows`


def temporal_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two `[start, end]` windows; 0 when the union is empty."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def rank_windows(windows: Sequence[Sequence[float]], max_windows: int = MAX_PRED_WINDOWS) -> list[Sequence[float]]:
    """`[start, end, score]` windows by descending score (ties keep listed order), the best `max_windows`."""
    return sorted(windows, key=lambda window: -window[2])[:max_windows]


def _best_free_match(window: Sequence[float], gts: Sequence[Window], taken: set[int], threshold: float) -> int | None:
    """Index of the not-yet-matched ground-truth window of highest IoU >= threshold (first on ties)."""
    best, best_iou = None, -1.0
    for j, gt in enumerate(gts):
        iou = temporal_iou(window, gt)
        if j not in taken and iou >= threshold and iou > best_iou:
            best, best_iou = j, iou
    return best


def average_precision(ranked: Sequence[Sequence[float]], gts: Sequence[Window], threshold: float) -> float:
    """AP (0-1) of already-ranked windows against ground-truth windows; each GT is matched at most once."""
    if not gts:
        raise ValueError("average precision needs at least one ground-truth window")
    taken: set[int] = set()
    hits: list[bool] = []
    for window in ranked:
        match = _best_free_match(window, gts, taken, threshold)
        if match is not None:
            taken.add(match)
        hits.append(match is not None)
    precisions = [tp / rank for rank, tp in enumerate(itertools.accumulate(hits), start=1)]
    best_from_here = list(itertools.accumulate(reversed(precisions), max))[::-1]
    return sum(p for p, hit in zip(best_from_here, hits) if hit) / len(gts)


def top1_hit(ranked: Sequence[Sequence[float]], gts: Sequence[Window], threshold: float) -> bool:
    """Whether the top-ranked window reaches IoU >= threshold with any ground-truth window."""
    return bool(ranked) and max(temporal_iou(ranked[0], gt) for gt in gts) >= threshold


def moment_retrieval_metrics(
    predictions: Mapping[str, Sequence[Sequence[float]]],
    ground_truth: Mapping[str, Sequence[Window]],
    max_pred_windows: int = MAX_PRED_WINDOWS,
) -> dict[str, float]:
    """Moment-DETR's `MR-full-*` metrics in percent over the queries of `ground_truth` (absent = no windows)."""
    if not ground_truth:
        raise ValueError("no queries to evaluate")
    ap_sums = dict.fromkeys(IOU_THRESHOLDS, 0.0)
    r1_hits = dict.fromkeys((0.5, 0.7), 0)
    for qid, gts in ground_truth.items():
        ranked = rank_windows(predictions.get(qid, ()), max_pred_windows)
        for threshold in IOU_THRESHOLDS:
            ap_sums[threshold] += average_precision(ranked, gts, threshold)
        for threshold in r1_hits:
            r1_hits[threshold] += top1_hit(ranked, gts, threshold)
    count = len(ground_truth)
    mean_ap = {threshold: total / count for threshold, total in ap_sums.items()}
    return {
        "MR-full-R1@0.5": round(100.0 * r1_hits[0.5] / count, 2),
        "MR-full-R1@0.7": round(100.0 * r1_hits[0.7] / count, 2),
        "MR-full-mAP": round(100.0 * sum(mean_ap.values()) / len(mean_ap), 2),
        "MR-full-mAP@0.5": round(100.0 * mean_ap[0.5], 2),
        "MR-full-mAP@0.75": round(100.0 * mean_ap[0.75], 2),
    }


def _frame_starts(count: int, fps: float, timestamps: Sequence[float] | None) -> list[float]:
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    if timestamps is None:
        return [i / fps for i in range(count)]
    if len(timestamps) != count:
        raise ValueError(f"got {len(timestamps)} timestamps for {count} frame scores; expected one per frame")
    if any(later <= earlier for earlier, later in itertools.pairwise(timestamps)):
        raise ValueError("timestamps must be strictly increasing")
    return [float(t) for t in timestamps]


def _yes_runs(yes: Sequence[bool], max_gap: int) -> list[tuple[int, int]]:
    """(first, last) indices of yes frames joined across at most `max_gap` consecutive no frames."""
    runs: list[list[int]] = []
    for i, is_yes in enumerate(yes):
        if is_yes and runs and i - runs[-1][1] - 1 <= max_gap:
            runs[-1][1] = i
        elif is_yes:
            runs.append([i, i])
    return [(first, last) for first, last in runs]


def frame_scores_to_moments(
    scores: Sequence[float],
    fps: float,
    *,
    timestamps: Sequence[float] | None = None,
    threshold: float = 0.5,
    max_gap: int = 6,
) -> list[list[float]]:
    """Moments `[start, end, score]` (seconds) from per-frame yes-scores, best first (module docstring)."""
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    values = [float(score) for score in scores]
    starts = _frame_starts(len(values), fps, timestamps)
    moments = []
    for first, last in _yes_runs([value > threshold for value in values], max_gap):
        covered = values[first : last + 1]
        moments.append([starts[first], starts[last] + 1.0 / fps, sum(covered) / len(covered)])
    moments.sort(key=lambda moment: (-moment[2], moment[0]))
    return moments
